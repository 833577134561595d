// The Results tab (see results_view.h).
#include "results_view.h"

#include "csv_export.h"
#include "results_adapters.h"
#include "type_means_chart.h"

#include <QAction>
#include <QCheckBox>
#include <QComboBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QImage>
#include <QLabel>
#include <QMenu>
#include <QMessageBox>
#include <QPushButton>
#include <QSplitter>
#include <QTableView>
#include <QToolButton>
#include <QVBoxLayout>

namespace den2moe::ui {

namespace {
constexpr int kMaxColumnWidth = 120;
}

ResultsView::ResultsView(QWidget* parent) : QWidget(parent) {
    setObjectName(QStringLiteral("resultsView"));
    m_model = new ResultsTableModel(this);
    m_proxy = new ResultsSortProxy(this);
    m_proxy->setSourceModel(m_model);

    auto* add = new QPushButton(tr("Add results…"), this);
    add->setToolTip(tr("Add the folders written by `den2moe eval --out DIR` (each holds summary.json)"));
    auto* clearButton = new QPushButton(tr("Clear"), this);
    m_baseline = new QComboBox(this);
    m_baseline->setObjectName(QStringLiteral("baselineCombo"));
    m_baseline->setToolTip(tr("Deltas of every other run against this one (points), green better, red worse"));
    m_typesMenu = new QMenu(this);
    m_types = new QToolButton(this);
    m_types->setText(tr("Task types"));
    m_types->setMenu(m_typesMenu);
    m_types->setPopupMode(QToolButton::InstantPopup);
    m_types->setToolTip(tr("The task types shown; Mean(Task) and Mean(TaskType) are over the shown types"));
    m_deltas = new QCheckBox(tr("Show deltas"), this);
    auto* exportButton = new QPushButton(tr("Export…"), this);
    exportButton->setToolTip(tr("CSV, Markdown (.md), LaTeX booktabs (.tex) or PNG of the table as shown"));
    auto* chartButton = new QPushButton(tr("Export chart…"), this);
    chartButton->setToolTip(tr("The bar chart of Mean(TaskType) per run as PNG, SVG or PDF"));

    auto* bar = new QHBoxLayout;
    bar->addWidget(add);
    bar->addWidget(clearButton);
    bar->addSpacing(12);
    bar->addWidget(new QLabel(tr("Baseline:"), this));
    bar->addWidget(m_baseline);
    bar->addWidget(m_types);
    bar->addWidget(m_deltas);
    bar->addStretch(1);
    bar->addWidget(exportButton);
    bar->addWidget(chartButton);

    m_table = new QTableView(this);
    m_table->setObjectName(QStringLiteral("resultsTable"));
    m_table->setModel(m_proxy);
    m_table->setSortingEnabled(true);
    m_table->sortByColumn(-1, Qt::AscendingOrder);  // the runs' order until a header is clicked
    m_table->setAlternatingRowColors(false);
    m_table->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_table->horizontalHeader()->setDefaultAlignment(Qt::AlignCenter);
    m_table->horizontalHeader()->setTextElideMode(Qt::ElideMiddle);
    m_table->verticalHeader()->setVisible(false);

    m_summary = new QLabel(this);
    m_summary->setWordWrap(true);
    m_summary->setText(tr("Scores × 100 (main score of each task). “—” = not evaluated; a mean is shown only for a "
                          "run with every task it covers (MTEB leaderboard rule)."));

    m_chart = new TypeMeansChart(this);
    auto* split = new QSplitter(Qt::Vertical, this);
    split->addWidget(m_table);
    split->addWidget(m_chart);
    split->setStretchFactor(0, 3);
    split->setStretchFactor(1, 2);
    split->setSizes({300, 200});  // the chart gets two fifths from the start
    auto* lay = new QVBoxLayout(this);
    lay->addLayout(bar);
    lay->addWidget(split, 1);
    lay->addWidget(m_summary);

    connect(add, &QPushButton::clicked, this, &ResultsView::addFoldersDialog);
    connect(clearButton, &QPushButton::clicked, this, &ResultsView::clear);
    connect(exportButton, &QPushButton::clicked, this, &ResultsView::exportDialog);
    connect(chartButton, &QPushButton::clicked, this, &ResultsView::exportChartDialog);
    connect(m_deltas, &QCheckBox::toggled, m_model, &ResultsTableModel::setShowDeltas);
    connect(m_baseline, &QComboBox::currentIndexChanged, this, [this](int i) {
        if (!m_updating) m_model->setBaseline(i - 1);
    });
    connect(m_model, &QAbstractItemModel::modelReset, this, [this] {
        m_table->resizeColumnsToContents();
        // long task names are elided in the header (the tooltip has the full name)
        for (int c = 1; c < m_model->columnCount(); ++c) {
            if (m_table->columnWidth(c) > kMaxColumnWidth) m_table->setColumnWidth(c, kMaxColumnWidth);
        }
        m_table->resizeRowsToContents();
        m_chart->setData(typeMeansData(m_model->resultsData(), m_model->grid()));
    });
    rebuildControls();
}

void ResultsView::rebuildControls() {
    m_updating = true;
    m_baseline->clear();
    m_baseline->addItem(tr("(none)"));
    for (const ResultRunData& r : m_model->resultsData().runs) m_baseline->addItem(r.label);
    m_baseline->setCurrentIndex(m_model->baseline() + 1);
    m_typesMenu->clear();
    const QStringList visible = m_model->visibleTypes();
    for (const QString& t : resultTypes(m_model->resultsData())) {
        QAction* a = m_typesMenu->addAction(t);
        a->setCheckable(true);
        a->setChecked(visible.isEmpty() || visible.contains(t));
        connect(a, &QAction::toggled, this, &ResultsView::onTypeToggled);
    }
    m_updating = false;
}

void ResultsView::onTypeToggled() {
    if (m_updating) return;
    QStringList on;
    for (QAction* a : m_typesMenu->actions()) {
        if (a->isChecked()) on << a->text();
    }
    // all checked = no filter (new types of added runs show too); none checked shows only the runs
    const bool all = on.size() == m_typesMenu->actions().size();
    m_model->setVisibleTypes(all ? QStringList() : (on.isEmpty() ? QStringList{QStringLiteral("\x01none")} : on));
}

void ResultsView::setResults(const ResultsData& data) {
    m_model->setVisibleTypes({});
    m_model->setBaseline(-1);
    m_model->setData(data);
    rebuildControls();
    Q_EMIT resultsChanged();
}

bool ResultsView::addFolders(const QStringList& dirs, QString* error) {
    ResultsData more;
    if (!loadResultsFolders(dirs, &more, error)) return false;
    ResultsData all = m_model->resultsData();
    appendResults(all, more);
    const int baseline = m_model->baseline();
    const QStringList types = m_model->visibleTypes();
    m_model->setData(all);
    m_model->setBaseline(baseline);
    m_model->setVisibleTypes(types);
    rebuildControls();
    Q_EMIT resultsChanged();
    return true;
}

void ResultsView::clear() { setResults({}); }

void ResultsView::setBaseline(int run) {
    m_model->setBaseline(run);
    m_updating = true;
    m_baseline->setCurrentIndex(m_model->baseline() + 1);
    m_updating = false;
}

bool ResultsView::setBaselineLabel(const QString& label) {
    const auto& runs = m_model->resultsData().runs;
    for (int i = 0; i < runs.size(); ++i) {
        if (runs[i].label == label) {
            setBaseline(i);
            return true;
        }
    }
    return false;
}

void ResultsView::setVisibleTypes(const QStringList& types) {
    m_model->setVisibleTypes(types);
    rebuildControls();
}

void ResultsView::setShowDeltas(bool on) { m_deltas->setChecked(on); }

bool ResultsView::sortByKey(const QString& key, Qt::SortOrder order) {
    const ResultGrid& g = m_model->grid();
    for (int c = 0; c < g.columns.size(); ++c) {
        if (g.columns[c].key() == key) {
            m_table->sortByColumn(c, order);
            return true;
        }
    }
    return false;
}

QString ResultsView::exportText(const QString& format) const {
    const QVector<int> order = m_proxy->sourceOrder();
    if (format == QLatin1String("md")) return resultsMarkdown(m_model->grid(), order);
    if (format == QLatin1String("tex")) return resultsLatex(m_model->grid(), order);
    return resultsCsv(m_model->grid(), order);
}

bool ResultsView::exportTo(const QString& path, QString* error) {
    const QString suffix = QFileInfo(path).suffix().toLower();
    if (suffix == QLatin1String("csv") || suffix == QLatin1String("md") || suffix == QLatin1String("tex")) {
        return writeTextFile(path, exportText(suffix), error);
    }
    if (suffix != QLatin1String("png") && suffix != QLatin1String("jpg") && suffix != QLatin1String("jpeg")) {
        if (error) *error = tr("%1: export as .csv, .md, .tex or .png").arg(path);
        return false;
    }
    const QImage img = grab().toImage();
    if (img.isNull() || !img.save(path)) {
        if (error) *error = tr("Cannot write %1").arg(path);
        return false;
    }
    return true;
}

bool ResultsView::exportChart(const QString& path, int width, int height, QString* error) {
    m_chart->setData(typeMeansData(m_model->resultsData(), m_model->grid()));
    return m_chart->exportImage(path, width, height, error);
}

void ResultsView::exportChartDialog() {
    const QString path = QFileDialog::getSaveFileName(this, tr("Export the Mean(TaskType) chart"),
                                                      QStringLiteral("type-means.svg"),
                                                      tr("SVG (*.svg);;PDF (*.pdf);;PNG image (*.png)"));
    QString error;
    if (!path.isEmpty() && !exportChart(path, 0, 0, &error)) QMessageBox::warning(this, tr("Export chart"), error);
}

void ResultsView::addFoldersDialog() {
    const QString dir = QFileDialog::getExistingDirectory(this, tr("Evaluation results folder (with summary.json)"));
    QString error;
    if (!dir.isEmpty() && !addFolders({dir}, &error)) {
        QMessageBox::warning(this, tr("Add results"), error);
    }
}

void ResultsView::exportDialog() {
    const QString path = QFileDialog::getSaveFileName(
        this, tr("Export the result table"), QStringLiteral("results.md"),
        tr("Markdown (*.md);;LaTeX booktabs (*.tex);;CSV (*.csv);;PNG image (*.png)"));
    QString error;
    if (!path.isEmpty() && !exportTo(path, &error)) {
        QMessageBox::warning(this, tr("Export"), error);
    }
}

}  // namespace den2moe::ui
