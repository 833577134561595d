// The MTEB result tables (issue 18) over plain data (no engine headers; the app converts EvalSummary):
// rows = runs, columns = Run, Mean(Task), Mean(TaskType), then per task type its mean and its tasks.
// Means follow the MTEB leaderboard: over the *visible* types only, and only for a run that has every
// visible task of the mean (a missing task makes the mean missing, never a mean over fewer tasks).
// A missing score is NaN here, shown as "—", sorted last in either order, never as zero. Deltas are
// against one baseline run (score − baseline, both × 100). Exports (CSV raw, Markdown / LaTeX ×100,
// two decimals, booktabs) are pure functions of a ResultGrid and a row order.
#pragma once

#include <QAbstractTableModel>
#include <QColor>
#include <QHash>
#include <QSortFilterProxyModel>
#include <QString>
#include <QStringList>
#include <QVector>

#include <limits>

namespace den2moe::ui {

constexpr double kResultMissing = std::numeric_limits<double>::quiet_NaN();

struct ResultTaskInfo {
    QString task;
    QString type;            ///< "STS", "Classification", ..., "MultipleChoice"
    QString metric;          ///< main score name ("cosine_spearman", "acc", ...)
    double chance = kResultMissing;
    bool inMeans = true;     ///< counted in Mean(Task) / Mean(TaskType) (the embedding tasks)
};

struct ResultRunData {
    QString label;                  ///< row title (unique)
    QString source;                 ///< where it was read from (tooltip)
    QHash<QString, double> scores;  ///< task → main score in [0, 1]; absent or NaN = missing
};

struct ResultsData {
    QVector<ResultTaskInfo> tasks;  ///< every task of any run, once
    QVector<ResultRunData> runs;
};

/// Task types of `data`: the ones counted in the means first, then the others, each group sorted.
QStringList resultTypes(const ResultsData& data);

enum class ResultColumnKind { Run, MeanTask, MeanTaskType, TypeMean, Task };

struct ResultColumn {
    ResultColumnKind kind = ResultColumnKind::Task;
    QString type;  ///< TypeMean / Task
    QString task;  ///< Task
    QString metric;
    /// "Mean(Task)", "Mean(TaskType)", "Mean(STS)", or the task name.
    QString key() const;
};

/// The table as shown: values[run][column] (NaN = missing; the Run column holds NaN).
struct ResultGrid {
    QVector<ResultColumn> columns;
    QStringList runs;
    QStringList sources;
    QVector<QVector<double>> values;
    QVector<QVector<int>> missing;  ///< [run][column]: visible tasks the cell's mean lacks (0 for tasks)
    int baseline = -1;              ///< row of the baseline run, -1 = none

    /// (value − baseline value) × 100; NaN without a baseline, on the baseline row or when either is missing.
    double delta(int run, int column) const;
};

/// Builds the grid: `types` the visible task types (empty = all), `baseline` a run index or -1.
ResultGrid resultGrid(const ResultsData& data, const QStringList& types = {}, int baseline = -1);

/// Score × 100 with two decimals; "—" when missing.
QString resultCellText(double value);
/// The colour of a delta in points: white at 0, green above, red below, saturating at ±5 points.
QColor resultDeltaColor(double delta);

/// CSV: "run,Mean(Task),...,<task>..." then one line per run in `order` (empty = grid order); raw scores
/// (shortest round-trip text), missing = empty field; "baseline" column when a baseline is set.
QString resultsCsv(const ResultGrid& grid, const QVector<int>& order = {});
/// Markdown: a type row under the header, × 100 two decimals, "-" missing, "(+d.dd)" deltas when a baseline
/// is set, the baseline's label followed by " (baseline)".
QString resultsMarkdown(const ResultGrid& grid, const QVector<int>& order = {});
/// LaTeX booktabs tabular: type groups as \multicolumn with \cmidrule, × 100, "--" missing, deltas as above.
QString resultsLatex(const ResultGrid& grid, const QVector<int>& order = {});

/// Qt model over a ResultGrid (header: "type\ntask", the task without its type's name at the end). Roles: Display (text, deltas when showDeltas), kValueRole (raw double,
/// NaN missing; the label for the Run column), ToolTip, Background (delta colour), Font (bold baseline
/// and means).
class ResultsTableModel : public QAbstractTableModel {
    Q_OBJECT
public:
    static constexpr int kValueRole = Qt::UserRole + 1;
    static constexpr int kDeltaRole = Qt::UserRole + 2;

    explicit ResultsTableModel(QObject* parent = nullptr);

    void setData(const ResultsData& data);
    const ResultsData& resultsData() const { return m_data; }
    /// Visible task types (empty = all).
    void setVisibleTypes(const QStringList& types);
    QStringList visibleTypes() const { return m_types; }
    /// -1 = none.
    void setBaseline(int run);
    int baseline() const { return m_grid.baseline; }
    /// Cells of the other runs show "+1.23" instead of the score.
    void setShowDeltas(bool on);
    bool showDeltas() const { return m_showDeltas; }
    const ResultGrid& grid() const { return m_grid; }

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

private:
    void rebuild();
    ResultsData m_data;
    QStringList m_types;
    int m_baselineWanted = -1;
    bool m_showDeltas = false;
    ResultGrid m_grid;
};

/// Sorts by kValueRole: numbers numerically, the Run column by label (case-insensitive, not locale-aware: the same order everywhere), missing last in either order.
class ResultsSortProxy : public QSortFilterProxyModel {
    Q_OBJECT
public:
    using QSortFilterProxyModel::QSortFilterProxyModel;
    /// Source rows in the proxy's current order.
    QVector<int> sourceOrder() const;

protected:
    bool lessThan(const QModelIndex& left, const QModelIndex& right) const override;
};

}  // namespace den2moe::ui
