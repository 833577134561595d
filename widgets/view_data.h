// Plain view data for the widgets: what the engine→view adapters in app/gui/ fill in and what the
// views draw. Qt value types only, no engine headers, no QCustomPlot. Leaves (domains) are always
// addressed by their project index 0..n-1; display orders are permutations of those indices.
#pragma once

#include <algorithm>

#include <QColor>
#include <QMetaType>
#include <QString>
#include <QStringList>
#include <QVector>

namespace den2moe::ui {

/// @brief Which of the three square matrices a heatmap shows.
enum class MatrixKind { Raw, Normalized, Correlation };

/// @brief Square per-domain matrices, row-major n*n; a matrix that was not computed stays empty.
/// Row i = calibration domain i, column j = evaluation domain j (project order).
struct MatrixViewData {
    QStringList labels;  ///< n domain names
    int n = 0;
    QString rowTitle;  ///< axis titles, e.g. "Calibration domain"; empty = none
    QString columnTitle;
    QVector<double> raw;          ///< perplexity; NaN = not evaluated
    QVector<double> normalized;   ///< e.g. raw / in-domain PPL
    QVector<double> correlation;  ///< Pearson correlation between rows, in [-1, 1]

    const QVector<double>& values(MatrixKind kind) const {
        switch (kind) {
            case MatrixKind::Raw: return raw;
            case MatrixKind::Normalized: return normalized;
            case MatrixKind::Correlation: return correlation;
        }
        return raw;
    }
    bool has(MatrixKind kind) const { return n > 0 && values(kind).size() == n * n; }
    double at(MatrixKind kind, int row, int col) const { return values(kind)[row * n + col]; }
};

/// @brief One merge of a scipy linkage matrix: ids < n are leaves, id n + r is the merge of row r.
struct LinkRow {
    int a = 0;
    int b = 0;
    double height = 0.0;
    int size = 0;  ///< leaves under this merge
};

/// @brief A hierarchical clustering in scipy linkage form (n - 1 rows, merges in row order).
struct DendrogramData {
    int n = 0;
    QVector<LinkRow> rows;
    QStringList labels;  ///< n leaf names, project order

    bool isValid() const {
        return n >= 1 && rows.size() == n - 1 && (labels.isEmpty() || labels.size() == n);
    }
};

/// @brief Flat clusters over the leaves. Cluster ids are 0-based and dense; -1 = unassigned.
struct ClusterAssignment {
    QVector<int> labelOfLeaf;  ///< per leaf (project order): cluster id
    QStringList clusterNames;  ///< per cluster: display name ("C1", or a name the user gave)
    QVector<bool> manual;      ///< per cluster: edited by hand rather than taken from the cut
    QVector<QColor> colors;    ///< per cluster; empty = the default palette

    int clusterCount() const { return clusterNames.size(); }
    bool isEmpty() const { return labelOfLeaf.isEmpty(); }
    QString nameOf(int cluster) const {
        if (cluster < 0 || cluster >= clusterNames.size()) {
            return QString();
        }
        return clusterNames[cluster];
    }
};


/// Selected leaves cleaned for a view of n leaves: out-of-range ids dropped, sorted, unique.
inline QVector<int> sanitizeLeaves(const QVector<int>& leaves, int n) {
    QVector<int> sel;
    for (int leaf : leaves) {
        if (leaf >= 0 && leaf < n) {
            sel << leaf;
        }
    }
    std::sort(sel.begin(), sel.end());
    sel.erase(std::unique(sel.begin(), sel.end()), sel.end());
    return sel;
}

}  // namespace den2moe::ui

Q_DECLARE_METATYPE(den2moe::ui::MatrixKind)
Q_DECLARE_METATYPE(den2moe::ui::ClusterAssignment)
