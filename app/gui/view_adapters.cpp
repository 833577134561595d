#include "view_adapters.h"

#include "dendrogram_layout.h"

#include <cmath>

namespace den2moe::ui {

namespace {

QVector<double> toVector(const std::vector<double>& v, int expected) {
    if (static_cast<int>(v.size()) != expected) {
        return {};
    }
    return QVector<double>(v.begin(), v.end());
}

}  // namespace

QStringList domainLabels(const den2moe::MiningResult& r) {
    QStringList labels;
    labels.reserve(static_cast<int>(r.domains.size()));
    for (const std::string& d : r.domains) {
        labels << QString::fromStdString(d);
    }
    return labels;
}

MatrixViewData matrixViewData(const den2moe::MiningResult& r) {
    MatrixViewData m;
    m.n = static_cast<int>(r.n);
    m.labels = domainLabels(r);
    if (m.labels.size() != m.n) {
        return MatrixViewData{};
    }
    m.rowTitle = QStringLiteral("Pruned with (calibration domain)");
    m.columnTitle = QStringLiteral("Evaluated on");
    const int nn = m.n * m.n;
    m.raw = toVector(r.ppl, nn);
    m.normalized = toVector(r.normalized, nn);
    m.correlation = toVector(r.correlation, nn);
    return m;
}

DendrogramData dendrogramData(const den2moe::MiningResult& r) {
    DendrogramData d;
    d.n = static_cast<int>(r.n);
    d.labels = domainLabels(r);
    const int64_t rows = r.linkage.rows();
    if (rows != r.n - 1) {
        d.rows.clear();
        return d;  // isValid() is false
    }
    d.rows.reserve(static_cast<int>(rows));
    for (int64_t i = 0; i < rows; ++i) {
        const double* z = &r.linkage.z[static_cast<size_t>(i * 4)];
        d.rows << LinkRow{static_cast<int>(std::lround(z[0])), static_cast<int>(std::lround(z[1])), z[2],
                          static_cast<int>(std::lround(z[3]))};
    }
    return d;
}

QVector<int> leafOrder(const den2moe::MiningResult& r) {
    QVector<int> order;
    for (int64_t i : r.leaf_order) {
        order << static_cast<int>(i);
    }
    return order;
}

double cutHeightForK(const den2moe::MiningResult& r, int k, int* actualK) {
    const DendrogramData d = dendrogramData(r);
    if (!d.isValid()) {
        if (actualK) {
            *actualK = 0;
        }
        return 0.0;
    }
    return ui::cutHeightForK(d, k, actualK);
}

int kForCutHeight(const den2moe::MiningResult& r, double height) {
    const DendrogramData d = dendrogramData(r);
    return d.isValid() ? clusterCountAt(d, height) : 0;
}

ClusterAssignment assignmentAtCut(const den2moe::MiningResult& r, double height) {
    const DendrogramData d = dendrogramData(r);
    if (!d.isValid()) {
        return {};
    }
    return assignmentAtHeight(d, height, computeDendrogramLayout(d).leaves);
}

ClusterAssignment assignmentForK(const den2moe::MiningResult& r, int k) {
    const DendrogramData d = dendrogramData(r);
    if (!d.isValid()) {
        return {};
    }
    return assignmentAtHeight(d, ui::cutHeightForK(d, k), computeDendrogramLayout(d).leaves);
}

ClusterAssignment assignmentFromProject(const den2moe::ProjectClusters& clusters,
                                        const QStringList& labels) {
    ClusterAssignment a;
    a.labelOfLeaf = QVector<int>(labels.size(), -1);
    for (size_t c = 0; c < clusters.members.size(); ++c) {
        const QString name = c < clusters.names.size() ? QString::fromStdString(clusters.names[c])
                                                       : QStringLiteral("C%1").arg(c + 1);
        a.clusterNames << name;
        a.manual << clusters.manual;
        for (const std::string& m : clusters.members[c]) {
            const int leaf = labels.indexOf(QString::fromStdString(m));
            if (leaf >= 0) {
                a.labelOfLeaf[leaf] = static_cast<int>(c);
            }
        }
    }
    return a;
}

den2moe::ProjectClusters projectClusters(const ClusterAssignment& a, const QStringList& labels,
                                         bool manual) {
    den2moe::ProjectClusters pc;
    pc.manual = manual;
    for (int c = 0; c < a.clusterCount(); ++c) {
        std::vector<std::string> members;
        for (int leaf = 0; leaf < a.labelOfLeaf.size() && leaf < labels.size(); ++leaf) {
            if (a.labelOfLeaf[leaf] == c) {
                members.push_back(labels[leaf].toStdString());
            }
        }
        if (members.empty()) {
            continue;
        }
        pc.names.push_back(a.clusterNames[c].toStdString());
        pc.members.push_back(std::move(members));
    }
    return pc;
}

}  // namespace den2moe::ui
