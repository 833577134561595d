// The "Results" tab: MTEB result tables of evaluation runs (`den2moe eval --out DIR` folders) side by
// side: rows = runs, columns = tasks grouped by type with Mean(Task) / Mean(TaskType) (the widgets'
// ResultsTableModel); a baseline run colours every other run's deltas; sortable by any column (missing
// last); a task-type filter (the means follow it); export CSV / Markdown / LaTeX (booktabs) and PNG;
// under the table, the bar chart of each type's mean and Mean(TaskType) per run (widgets'
// TypeMeansChart, from the same grid as the table), exportable as PNG / SVG / PDF.
// Reading the folders is the adapter's (results_adapters.h); the view holds only plain data.
#pragma once

#include "results_table.h"

#include <QWidget>

class QCheckBox;
class QComboBox;
class QLabel;
class QMenu;
class QTableView;
class QToolButton;

namespace den2moe::ui {

class ResultsView : public QWidget {
    Q_OBJECT
public:
    explicit ResultsView(QWidget* parent = nullptr);

    /// Replaces the runs (the baseline and filter are reset).
    void setResults(const ResultsData& data);
    /// Reads the summaries of `dirs` and adds them as runs. False (with the reason) on a bad folder;
    /// nothing is added then.
    bool addFolders(const QStringList& dirs, QString* error = nullptr);
    void clear();

    /// -1 = none.
    void setBaseline(int run);
    /// A run by its label; false when there is none.
    bool setBaselineLabel(const QString& label);
    /// Visible task types (empty = all).
    void setVisibleTypes(const QStringList& types);
    void setShowDeltas(bool on);
    /// Sorts by the column whose key() is `key` ("Mean(Task)", a task, "run"); false when absent.
    bool sortByKey(const QString& key, Qt::SortOrder order = Qt::DescendingOrder);

    ResultsTableModel* model() const { return m_model; }
    class TypeMeansChart* chart() const { return m_chart; }
    /// The bar chart as .png / .svg / .pdf (by suffix); width/height 0 = its size on screen.
    bool exportChart(const QString& path, int width = 0, int height = 0, QString* error = nullptr);
    void exportChartDialog();
    ResultsSortProxy* proxy() const { return m_proxy; }
    QTableView* table() const { return m_table; }
    QComboBox* baselineCombo() const { return m_baseline; }

    /// The table as shown (visible columns, current row order): .csv, .md or .tex by suffix.
    QString exportText(const QString& format) const;
    /// Writes CSV / Markdown (.md) / LaTeX (.tex) by the suffix, or a PNG/JPEG picture of the view.
    bool exportTo(const QString& path, QString* error = nullptr);

    /// The dialogs behind "Add results…" and "Export…" (also in the window's File menu).
    void addFoldersDialog();
    void exportDialog();

Q_SIGNALS:
    void resultsChanged();

private:
    void rebuildControls();
    void onTypeToggled();

    ResultsTableModel* m_model = nullptr;
    ResultsSortProxy* m_proxy = nullptr;
    QTableView* m_table = nullptr;
    QComboBox* m_baseline = nullptr;
    QToolButton* m_types = nullptr;
    QMenu* m_typesMenu = nullptr;
    QCheckBox* m_deltas = nullptr;
    QLabel* m_summary = nullptr;
    class TypeMeansChart* m_chart = nullptr;
    bool m_updating = false;
};

}  // namespace den2moe::ui
