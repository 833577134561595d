// TypeMeansChart (see type_means_chart.h): QCPBars per run in a QCPBarsGroup, text ticks per type.
#include "type_means_chart.h"

#include "dendrogram_layout.h"  // clusterColor: the Tableau 10 palette shared by the views
#include "plot_style.h"

#include <QVBoxLayout>

#include <algorithm>
#include <cmath>

namespace den2moe::ui {

TypeMeansData typeMeansData(const ResultsData& data, const ResultGrid& grid) {
    TypeMeansData out;
    out.runs = grid.runs;
    // per type in means, in the grid's column order: its Mean(<type>) column, else its one task column
    QVector<int> cols;
    auto inMeans = [&](const QString& type) {
        for (const ResultTaskInfo& t : data.tasks)
            if (t.type == type) return t.inMeans;
        return false;
    };
    int meanTypeCol = -1;
    for (int c = 0; c < grid.columns.size(); ++c) {
        const ResultColumn& col = grid.columns[c];
        if (col.kind == ResultColumnKind::MeanTaskType) meanTypeCol = c;
        if (col.kind != ResultColumnKind::TypeMean && col.kind != ResultColumnKind::Task) continue;
        if (!inMeans(col.type) || out.groups.contains(col.type)) continue;
        out.groups << col.type;
        cols << c;  // a TypeMean column precedes its tasks, so it wins over them
    }
    if (meanTypeCol >= 0 && !cols.isEmpty()) {
        out.groups << QStringLiteral("Mean(TaskType)");
        cols << meanTypeCol;
    }
    for (int r = 0; r < grid.values.size(); ++r) {
        QVector<double> row;
        for (int c : cols) {
            const double v = grid.values[r][c];
            row << (std::isfinite(v) ? 100.0 * v : kResultMissing);
        }
        out.values << row;
    }
    return out;
}

TypeMeansChart::TypeMeansChart(QWidget* parent) : QWidget(parent) {
    setObjectName(QStringLiteral("typeMeansChart"));
    m_plot = new QCustomPlot(this);
    auto* lay = new QVBoxLayout(this);
    lay->setContentsMargins(0, 0, 0, 0);
    lay->addWidget(m_plot);
    for (QCPAxis* a : m_plot->axisRect()->axes()) plotstyle::styleAxis(a);
    m_plot->yAxis->setLabel(QStringLiteral("score × 100"));
    m_plot->yAxis->grid()->setVisible(true);
    m_plot->yAxis->grid()->setPen(QPen(QColor(0xe0, 0xe0, 0xe0), 0, Qt::DotLine));
    m_plot->xAxis->grid()->setVisible(false);
    // the legend in a row of its own above the bars, so it never covers one
    m_plot->legend->setVisible(true);
    m_plot->legend->setFont(plotstyle::baseFont());
    m_plot->legend->setBorderPen(Qt::NoPen);
    m_plot->legend->setFillOrder(QCPLegend::foColumnsFirst);
    m_plot->plotLayout()->insertRow(0);
    m_plot->plotLayout()->addElement(0, 0, m_plot->legend);
    m_plot->plotLayout()->setRowStretchFactor(0, 0.001);
    m_group = new QCPBarsGroup(m_plot);
    m_group->setSpacingType(QCPBarsGroup::stAbsolute);
    m_group->setSpacing(1);
    refresh();
}

void TypeMeansChart::setData(const TypeMeansData& data) {
    m_data = data;
    refresh();
}

int TypeMeansChart::barCount(int run) const {
    if (run < 0 || run >= m_plot->plottableCount()) return 0;
    auto* bars = qobject_cast<QCPBars*>(m_plot->plottable(run));
    return bars ? bars->data()->size() : 0;
}

void TypeMeansChart::refresh() {
    m_group->clear();
    m_plot->clearPlottables();
    const int nRuns = m_data.runs.size(), nGroups = m_data.groups.size();
    const double width = 0.8 / std::max(1, nRuns);
    double top = 0;
    for (int r = 0; r < nRuns; ++r) {
        auto* bars = new QCPBars(m_plot->xAxis, m_plot->yAxis);
        bars->setName(m_data.runs[r]);
        const QColor c = clusterColor(r);
        bars->setPen(QPen(c.darker(120)));
        bars->setBrush(c);
        bars->setWidth(width);
        bars->setBarsGroup(m_group);
        QVector<double> keys, values;
        for (int g = 0; g < nGroups && g < m_data.values.value(r).size(); ++g) {
            const double v = m_data.values[r][g];
            if (!std::isfinite(v)) continue;  // missing: no bar, never a zero bar
            keys << g + 1;
            values << v;
            top = std::max(top, v);
        }
        bars->setData(keys, values, true);
    }
    QSharedPointer<QCPAxisTickerText> ticker(new QCPAxisTickerText);
    for (int g = 0; g < nGroups; ++g) ticker->addTick(g + 1, m_data.groups[g]);
    m_plot->xAxis->setTicker(ticker);
    m_plot->xAxis->setRange(0.4, nGroups + 0.6);
    m_plot->yAxis->setRange(0, top > 0 ? top * 1.15 : 100);
    m_plot->legend->setVisible(nRuns > 0);
    m_plot->replot();
}

bool TypeMeansChart::exportImage(const QString& path, int width, int height, QString* error) {
    return plotstyle::exportPlot(m_plot, path, width, height, error);
}

}  // namespace den2moe::ui
