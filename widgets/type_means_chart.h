// TypeMeansChart: the Results tab's bar chart of Mean(TaskType) per run (issue 18): one group of bars
// per task type counted in the MTEB means (each type's mean over its tasks, as the table's Mean(<type>)
// column, or the task itself for a type with one task), then Mean(TaskType); one bar per run in each
// group, scores × 100. The values are read from the same ResultGrid the table shows (visible types,
// the leaderboard's missing rule), so chart and table cannot disagree; a missing mean draws no bar.
// Export PNG / SVG / PDF. Plain data in, no engine headers; QCustomPlot stays private.
#pragma once

#include "results_table.h"

#include <QString>
#include <QStringList>
#include <QVector>
#include <QWidget>

class QCustomPlot;
class QCPBarsGroup;

namespace den2moe::ui {

/// The chart's numbers: values[run][group] × 100 (NaN = missing), groups = the types in means, then
/// "Mean(TaskType)" (absent when no type is in the means).
struct TypeMeansData {
    QStringList groups;
    QStringList runs;
    QVector<QVector<double>> values;
};

/// From the table's grid and its data (which types count in the means). Pure.
TypeMeansData typeMeansData(const ResultsData& data, const ResultGrid& grid);

class TypeMeansChart : public QWidget {
    Q_OBJECT
public:
    explicit TypeMeansChart(QWidget* parent = nullptr);

    void setData(const TypeMeansData& data);
    const TypeMeansData& data() const { return m_data; }
    /// Bars drawn for run `run` (tests): its non-missing groups.
    int barCount(int run) const;
    /// PNG (2x), SVG or PDF by the suffix; width/height 0 = the current size.
    bool exportImage(const QString& path, int width = 0, int height = 0, QString* error = nullptr);
    QCustomPlot* plot() const { return m_plot; }

private:
    void refresh();

    TypeMeansData m_data;
    QCustomPlot* m_plot = nullptr;
    QCPBarsGroup* m_group = nullptr;
};

}  // namespace den2moe::ui
