// The MTEB result tables: grid (means, deltas, missing), exports and the Qt model (see results_table.h).
#include "results_table.h"

#include "csv_export.h"

#include <QBrush>
#include <QFont>
#include <QLocale>
#include <QSet>

#include <algorithm>
#include <cmath>

namespace den2moe::ui {

namespace {

bool present(double v) { return std::isfinite(v); }

double scoreOf(const ResultRunData& run, const QString& task) {
    const auto it = run.scores.constFind(task);
    return it == run.scores.constEnd() ? kResultMissing : it.value();
}

QString shortest(double v) { return present(v) ? QString::number(v, 'g', QLocale::FloatingPointShortest) : QString(); }

QString points(double v) { return QString::asprintf("%.2f", v * 100.0); }

QString signedPoints(double d) { return QString::asprintf("%+.2f", d); }

QVector<int> rowsIn(const ResultGrid& g, const QVector<int>& order) {
    if (!order.isEmpty()) return order;
    QVector<int> all(g.runs.size());
    for (int i = 0; i < all.size(); ++i) all[i] = i;
    return all;
}

/// The score text of an export cell: × 100, `missingText`, "(+d.dd)" against the baseline.
QString exportCell(const ResultGrid& g, int r, int c, const QString& missingText) {
    const double v = g.values[r][c];
    if (!present(v)) return missingText;
    QString s = points(v);
    const double d = g.delta(r, c);
    if (present(d)) s += QStringLiteral(" (%1)").arg(signedPoints(d));
    return s;
}

QString runTitle(const ResultGrid& g, int r) {
    return r == g.baseline ? g.runs[r] + QStringLiteral(" (baseline)") : g.runs[r];
}

QString markdownText(QString s) { return s.replace(QLatin1Char('|'), QStringLiteral("\\|")); }

QString latexText(const QString& s) {
    QString o;
    for (const QChar ch : s) {
        switch (ch.unicode()) {
            case '\\': o += QStringLiteral("\\textbackslash{}"); break;
            case '~': o += QStringLiteral("\\textasciitilde{}"); break;
            case '^': o += QStringLiteral("\\textasciicircum{}"); break;
            case '&': case '%': case '$': case '#': case '_': case '{': case '}':
                o += QLatin1Char('\\');
                o += ch;
                break;
            default: o += ch;
        }
    }
    return o;
}

/// The header group of a column: "" for Run, "Mean" for the two overall means, else its type.
QString groupOf(const ResultColumn& c) {
    switch (c.kind) {
        case ResultColumnKind::Run: return {};
        case ResultColumnKind::MeanTask:
        case ResultColumnKind::MeanTaskType: return QStringLiteral("Mean");
        default: return c.type;
    }
}

/// The header's task name: without its type's name at the end ("Banking77Classification" under
/// "Classification" → "Banking77"); exports keep the full name.
QString shortTaskName(const ResultColumn& c) {
    if (c.task.size() > c.type.size() && c.task.endsWith(c.type)) return c.task.left(c.task.size() - c.type.size());
    return c.task;
}

/// The second header line: "Task" / "TaskType" under Mean, "Mean" under a type, the task name.
QString subtitleOf(const ResultColumn& c) {
    switch (c.kind) {
        case ResultColumnKind::Run: return QStringLiteral("Run");
        case ResultColumnKind::MeanTask: return QStringLiteral("Task");
        case ResultColumnKind::MeanTaskType: return QStringLiteral("TaskType");
        case ResultColumnKind::TypeMean: return QStringLiteral("Mean");
        default: return c.task;
    }
}

}  // namespace

QString ResultColumn::key() const {
    switch (kind) {
        case ResultColumnKind::Run: return QStringLiteral("run");
        case ResultColumnKind::MeanTask: return QStringLiteral("Mean(Task)");
        case ResultColumnKind::MeanTaskType: return QStringLiteral("Mean(TaskType)");
        case ResultColumnKind::TypeMean: return QStringLiteral("Mean(%1)").arg(type);
        default: return task;
    }
}

double ResultGrid::delta(int run, int column) const {
    if (baseline < 0 || run == baseline || columns[column].kind == ResultColumnKind::Run) return kResultMissing;
    const double v = values[run][column];
    const double b = values[baseline][column];
    return present(v) && present(b) ? (v - b) * 100.0 : kResultMissing;
}

QStringList resultTypes(const ResultsData& data) {
    QStringList inMeans, others;
    for (const ResultTaskInfo& t : data.tasks) {
        QStringList& into = t.inMeans ? inMeans : others;
        if (!into.contains(t.type)) into << t.type;
    }
    inMeans.sort();
    others.sort();
    for (const QString& t : others) {
        if (!inMeans.contains(t)) inMeans << t;
    }
    return inMeans;
}

ResultGrid resultGrid(const ResultsData& data, const QStringList& typesIn, int baseline) {
    ResultGrid g;
    QStringList types;
    for (const QString& t : resultTypes(data)) {
        if (typesIn.isEmpty() || typesIn.contains(t)) types << t;
    }
    // the visible tasks per type, in the data's order
    QHash<QString, QVector<const ResultTaskInfo*>> byType;
    bool anyInMeans = false;
    for (const ResultTaskInfo& t : data.tasks) {
        if (!types.contains(t.type)) continue;
        byType[t.type].push_back(&t);
        anyInMeans = anyInMeans || t.inMeans;
    }
    g.columns.push_back({ResultColumnKind::Run, {}, {}, {}});
    if (anyInMeans) {
        g.columns.push_back({ResultColumnKind::MeanTask, {}, {}, QStringLiteral("main_score")});
        g.columns.push_back({ResultColumnKind::MeanTaskType, {}, {}, QStringLiteral("main_score")});
    }
    for (const QString& type : types) {
        const auto& tasks = byType[type];
        if (tasks.size() > 1) g.columns.push_back({ResultColumnKind::TypeMean, type, {}, QStringLiteral("main_score")});
        for (const ResultTaskInfo* t : tasks) g.columns.push_back({ResultColumnKind::Task, type, t->task, t->metric});
    }
    const int nc = g.columns.size();
    for (int r = 0; r < data.runs.size(); ++r) {
        const ResultRunData& run = data.runs[r];
        g.runs << run.label;
        g.sources << run.source;
        QVector<double> row(nc, kResultMissing);
        QVector<int> miss(nc, 0);
        // per type: mean of its tasks, missing when one is missing
        QHash<QString, double> typeMean;
        QHash<QString, int> typeMissing;
        double sumAll = 0;
        int nAll = 0, missAll = 0;
        for (const QString& type : types) {
            double s = 0;
            int n = 0, m = 0;
            for (const ResultTaskInfo* t : byType[type]) {
                const double v = scoreOf(run, t->task);
                if (present(v)) {
                    s += v;
                    ++n;
                } else {
                    ++m;
                }
                if (t->inMeans) {
                    if (present(v)) {
                        sumAll += v;
                        ++nAll;
                    } else {
                        ++missAll;
                    }
                }
            }
            typeMean[type] = (m == 0 && n > 0) ? s / n : kResultMissing;
            typeMissing[type] = m;
        }
        double sumTypes = 0;
        int nTypes = 0, missTypes = 0;
        for (const QString& type : types) {
            if (byType[type].isEmpty() || !byType[type].front()->inMeans) continue;
            if (present(typeMean[type])) {
                sumTypes += typeMean[type];
                ++nTypes;
            } else {
                missTypes += typeMissing[type];
            }
        }
        for (int c = 0; c < nc; ++c) {
            const ResultColumn& col = g.columns[c];
            switch (col.kind) {
                case ResultColumnKind::Run: break;
                case ResultColumnKind::MeanTask:
                    row[c] = (missAll == 0 && nAll > 0) ? sumAll / nAll : kResultMissing;
                    miss[c] = missAll;
                    break;
                case ResultColumnKind::MeanTaskType:
                    row[c] = (missTypes == 0 && nTypes > 0) ? sumTypes / nTypes : kResultMissing;
                    miss[c] = missTypes;
                    break;
                case ResultColumnKind::TypeMean:
                    row[c] = typeMean[col.type];
                    miss[c] = typeMissing[col.type];
                    break;
                case ResultColumnKind::Task: row[c] = scoreOf(run, col.task); break;
            }
        }
        g.values.push_back(row);
        g.missing.push_back(miss);
    }
    g.baseline = (baseline >= 0 && baseline < g.runs.size()) ? baseline : -1;
    return g;
}

QString resultCellText(double value) { return present(value) ? points(value) : QStringLiteral("—"); }

QColor resultDeltaColor(double delta) {
    if (!present(delta) || delta == 0.0) return QColor(Qt::white);
    const double t = std::min(std::abs(delta) / 5.0, 1.0) * 0.75;
    const QColor to = delta > 0 ? QColor(26, 152, 80) : QColor(215, 48, 39);
    auto mix = [t](int a, int b) { return int(std::lround(a + (b - a) * t)); };
    return QColor(mix(255, to.red()), mix(255, to.green()), mix(255, to.blue()));
}

QString resultsCsv(const ResultGrid& g, const QVector<int>& order) {
    QStringList head;
    for (const ResultColumn& c : g.columns) head << csvField(c.key());
    if (g.baseline >= 0) head << QStringLiteral("baseline");
    QString out = head.join(QLatin1Char(',')) + QLatin1Char('\n');
    for (int r : rowsIn(g, order)) {
        QStringList f;
        for (int c = 0; c < g.columns.size(); ++c)
            f << (g.columns[c].kind == ResultColumnKind::Run ? csvField(g.runs[r]) : shortest(g.values[r][c]));
        if (g.baseline >= 0) f << (r == g.baseline ? QStringLiteral("true") : QStringLiteral("false"));
        out += f.join(QLatin1Char(',')) + QLatin1Char('\n');
    }
    return out;
}

QString resultsMarkdown(const ResultGrid& g, const QVector<int>& order) {
    QStringList head, types, rule;
    for (const ResultColumn& c : g.columns) {
        head << markdownText(c.kind == ResultColumnKind::Run ? QStringLiteral("run") : c.key());
        types << markdownText(groupOf(c));
        rule << (c.kind == ResultColumnKind::Run ? QStringLiteral("---") : QStringLiteral("---:"));
    }
    auto line = [](const QStringList& cells) { return QStringLiteral("| ") + cells.join(QStringLiteral(" | ")) + QStringLiteral(" |\n"); };
    QString out = line(head) + line(rule);
    types[0] = QStringLiteral("*type*");
    out += line(types);
    for (int r : rowsIn(g, order)) {
        QStringList cells;
        for (int c = 0; c < g.columns.size(); ++c)
            cells << (c == 0 ? markdownText(runTitle(g, r)) : exportCell(g, r, c, QStringLiteral("-")));
        out += line(cells);
    }
    return out;
}

QString resultsLatex(const ResultGrid& g, const QVector<int>& order) {
    const int nc = g.columns.size();
    QString out = QStringLiteral("\\begin{tabular}{l") + QString(nc - 1, QLatin1Char('r')) + QStringLiteral("}\n\\toprule\n");
    // group header: runs of equal groups become one \multicolumn, each with a \cmidrule
    QStringList groups;
    QString rules;
    for (int c = 1; c < nc;) {
        const QString grp = groupOf(g.columns[c]);
        int e = c;
        while (e + 1 < nc && groupOf(g.columns[e + 1]) == grp) ++e;
        groups << QStringLiteral("\\multicolumn{%1}{c}{%2}").arg(e - c + 1).arg(latexText(grp));
        rules += QStringLiteral("\\cmidrule(lr){%1-%2}").arg(c + 1).arg(e + 1);
        c = e + 1;
    }
    out += QStringLiteral(" & ") + groups.join(QStringLiteral(" & ")) + QStringLiteral(" \\\\\n") + rules + QLatin1Char('\n');
    QStringList sub;
    for (const ResultColumn& c : g.columns) sub << latexText(subtitleOf(c));
    out += sub.join(QStringLiteral(" & ")) + QStringLiteral(" \\\\\n\\midrule\n");
    for (int r : rowsIn(g, order)) {
        QStringList cells;
        for (int c = 0; c < nc; ++c)
            cells << (c == 0 ? latexText(runTitle(g, r)) : exportCell(g, r, c, QStringLiteral("--")));
        out += cells.join(QStringLiteral(" & ")) + QStringLiteral(" \\\\\n");
    }
    out += QStringLiteral("\\bottomrule\n\\end{tabular}\n");
    return out;
}

// ---- the Qt model ----------------------------------------------------------------------------------

ResultsTableModel::ResultsTableModel(QObject* parent) : QAbstractTableModel(parent) {}

void ResultsTableModel::setData(const ResultsData& data) {
    m_data = data;
    if (m_baselineWanted >= m_data.runs.size()) m_baselineWanted = -1;
    rebuild();
}

void ResultsTableModel::setVisibleTypes(const QStringList& types) {
    m_types = types;
    rebuild();
}

void ResultsTableModel::setBaseline(int run) {
    m_baselineWanted = run;
    rebuild();
}

void ResultsTableModel::setShowDeltas(bool on) {
    if (on == m_showDeltas) return;
    m_showDeltas = on;
    if (rowCount() > 0 && columnCount() > 0) Q_EMIT dataChanged(index(0, 0), index(rowCount() - 1, columnCount() - 1));
}

void ResultsTableModel::rebuild() {
    beginResetModel();
    m_grid = resultGrid(m_data, m_types, m_baselineWanted);
    endResetModel();
}

int ResultsTableModel::rowCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : m_grid.runs.size(); }

int ResultsTableModel::columnCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : m_grid.columns.size();
}

QVariant ResultsTableModel::data(const QModelIndex& index, int role) const {
    if (!index.isValid() || index.row() >= m_grid.runs.size() || index.column() >= m_grid.columns.size()) return {};
    const int r = index.row();
    const int c = index.column();
    const ResultColumn& col = m_grid.columns[c];
    const bool isRun = col.kind == ResultColumnKind::Run;
    const double v = m_grid.values[r][c];
    const double d = m_grid.delta(r, c);
    switch (role) {
        case Qt::DisplayRole:
            if (isRun) return r == m_grid.baseline ? m_grid.runs[r] + tr(" (baseline)") : m_grid.runs[r];
            if (m_showDeltas && present(d)) return signedPoints(d);
            return resultCellText(v);
        case kValueRole: return isRun ? QVariant(m_grid.runs[r]) : QVariant(v);
        case kDeltaRole: return d;
        case Qt::TextAlignmentRole:
            return isRun ? QVariant(Qt::AlignLeft | Qt::AlignVCenter) : QVariant(Qt::AlignRight | Qt::AlignVCenter);
        case Qt::BackgroundRole:
            if (present(d)) return QBrush(resultDeltaColor(d));
            return {};
        case Qt::ForegroundRole:
            if (!isRun && !present(v)) return QBrush(QColor(150, 150, 150));
            return {};
        case Qt::FontRole:
            if (r == m_grid.baseline || (col.kind != ResultColumnKind::Task && !isRun)) {
                QFont f;
                f.setBold(true);
                return f;
            }
            return {};
        case Qt::ToolTipRole: {
            if (isRun) return m_grid.sources.value(r);
            QString tip = QStringLiteral("%1 — %2: ").arg(m_grid.runs[r], col.key());
            if (present(v)) {
                tip += QStringLiteral("%1 (%2)").arg(points(v), col.metric);
            } else if (col.kind == ResultColumnKind::Task) {
                tip += tr("not evaluated");
            } else {
                tip += tr("missing: %n task(s) of this mean not evaluated", nullptr, m_grid.missing[r][c]);
            }
            if (present(d)) tip += tr("\nΔ vs %1: %2 points").arg(m_grid.runs[m_grid.baseline], signedPoints(d));
            return tip;
        }
        default: return {};
    }
}

QVariant ResultsTableModel::headerData(int section, Qt::Orientation orientation, int role) const {
    if (orientation == Qt::Vertical) {
        return role == Qt::DisplayRole ? QVariant(section + 1) : QVariant();
    }
    if (section < 0 || section >= m_grid.columns.size()) return {};
    const ResultColumn& col = m_grid.columns[section];
    if (role == Qt::DisplayRole) {
        const QString grp = groupOf(col);
        const QString sub = col.kind == ResultColumnKind::Task ? shortTaskName(col) : subtitleOf(col);
        return grp.isEmpty() ? sub : grp + QLatin1Char('\n') + sub;
    }
    if (role == Qt::ToolTipRole) {
        return col.kind == ResultColumnKind::Task ? QStringLiteral("%1 (%2), main score %3").arg(col.task, col.type, col.metric)
                                                  : col.key();
    }
    return {};
}

QVector<int> ResultsSortProxy::sourceOrder() const {
    QVector<int> order;
    for (int r = 0; r < rowCount(); ++r) order << mapToSource(index(r, 0)).row();
    return order;
}

bool ResultsSortProxy::lessThan(const QModelIndex& left, const QModelIndex& right) const {
    const QVariant a = left.data(ResultsTableModel::kValueRole);
    const QVariant b = right.data(ResultsTableModel::kValueRole);
    if (a.typeId() == QMetaType::QString) return QString::compare(a.toString(), b.toString(), Qt::CaseInsensitive) < 0;
    const double x = a.toDouble();
    const double y = b.toDouble();
    // missing last in either order: it is "largest" ascending and "smallest" descending
    const bool asc = sortOrder() == Qt::AscendingOrder;
    if (!present(x) || !present(y)) {
        if (present(x) == present(y)) return false;
        return asc ? present(x) : !present(x);
    }
    return x < y;
}

}  // namespace den2moe::ui
