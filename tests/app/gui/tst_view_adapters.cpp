// Engine -> view adapters on a hand-made MiningResult: matrix values and their display ordering
// (down to the colour-map cells), linkage rows, leaf order, cut height <-> K (agreeing with the
// engine's own mining_clusters_k), and project clusters <-> ClusterAssignment.
#include "app_test_support.h"
#include "dendrogram_layout.h"
#include "heatmap_view.h"
#include "qcp.h"
#include "view_adapters.h"

#include <QtTest>

#include <set>

using namespace den2moe::ui;

namespace {
/// Partition as a set of sets (cluster numbering independent).
std::set<std::set<int>> partition(const QVector<int>& labels) {
    std::map<int, std::set<int>> groups;
    for (int i = 0; i < labels.size(); ++i) {
        groups[labels[i]].insert(i);
    }
    std::set<std::set<int>> out;
    for (auto& g : groups) {
        out.insert(g.second);
    }
    return out;
}
}  // namespace

class TestViewAdapters : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void matrixValuesAndLabels() {
        const den2moe::MiningResult r = d2mtest::handMadeResult();
        const MatrixViewData m = matrixViewData(r);
        QCOMPARE(m.n, 4);
        QCOMPARE(m.labels, (QStringList{"a", "b", "c", "d"}));
        QVERIFY(m.has(MatrixKind::Raw) && m.has(MatrixKind::Normalized) && m.has(MatrixKind::Correlation));
        QCOMPARE(m.at(MatrixKind::Raw, 2, 3), 50.0);  // pruned with c, evaluated on d
        QCOMPARE(m.at(MatrixKind::Raw, 1, 0), 11.0);
        QCOMPARE(m.at(MatrixKind::Normalized, 2, 2), 1.0);          // c is the best on c
        QCOMPARE(m.at(MatrixKind::Normalized, 0, 2), 12.0 / 30.0);  // min over column c / P[a][c]
        QCOMPARE(m.at(MatrixKind::Correlation, 1, 3), 0.9);
        QVERIFY(!m.rowTitle.isEmpty() && !m.columnTitle.isEmpty());
    }

    void wrongSizedMatrixIsLeftEmpty() {
        den2moe::MiningResult r = d2mtest::handMadeResult();
        r.correlation.pop_back();
        const MatrixViewData m = matrixViewData(r);
        QVERIFY(m.has(MatrixKind::Raw));
        QVERIFY(!m.has(MatrixKind::Correlation));
    }

    void cellsFollowTheLeafOrder() {
        const den2moe::MiningResult r = d2mtest::handMadeResult();
        const MatrixViewData m = matrixViewData(r);
        const QVector<int> order = leafOrder(r);
        QCOMPARE(order, (QVector<int>{2, 0, 1, 3}));
        const auto cells = cellsFor(m, MatrixKind::Raw, order);
        QCOMPARE(cells[0], (QVector<double>{12, 15, 25, 50}));  // row c: (c,c) (c,a) (c,b) (c,d)
        QCOMPARE(cells[3], (QVector<double>{31, 12, 21, 35}));  // row d
        // What the heatmap puts into its colour map: key = display column, value = display row.
        HeatmapView view;
        view.resize(500, 400);
        view.setData(m);
        view.setMatrixKind(MatrixKind::Raw);
        view.setLeafOrder(order);
        auto* plot = qobject_cast<QCustomPlot*>(view.plotWidget());
        auto* map = qobject_cast<QCPColorMap*>(plot->plottable(0));
        QVERIFY(map);
        for (int row = 0; row < 4; ++row) {
            for (int col = 0; col < 4; ++col) {
                QCOMPARE(map->data()->cell(col, row), r.ppl[size_t(order[row] * 4 + order[col])]);
            }
        }
        view.setOrderMode(HeatmapView::Order::Project);
        map = qobject_cast<QCPColorMap*>(plot->plottable(0));
        QCOMPARE(map->data()->cell(3, 2), 50.0);
        QCOMPARE(map->data()->cell(0, 1), 11.0);
        // The tooltip names the pair, the values and the clusters.
        view.setClusterAssignment(assignmentForK(r, 2));
        const QString tip = view.cellToolTip(2, 3);
        QVERIFY2(tip.contains(QLatin1String("c")) && tip.contains(QLatin1String("d")) &&
                     tip.contains(QLatin1String("50")) && tip.contains(QLatin1String("C1")) &&
                     tip.contains(QLatin1String("C2")),
                 qPrintable(tip));
    }

    void linkageRowsAndLayout() {
        const den2moe::MiningResult r = d2mtest::handMadeResult();
        const DendrogramData d = dendrogramData(r);
        QVERIFY(d.isValid());
        QCOMPARE(d.rows.size(), 3);
        QCOMPARE(d.rows[0].a, 1);
        QCOMPARE(d.rows[0].b, 3);
        QCOMPARE(d.rows[1].a, 0);
        QCOMPARE(d.rows[1].b, 4);
        QCOMPARE(d.rows[2].height, 0.9);
        QCOMPARE(d.rows[2].size, 4);
        // The widget layout's leaves equal the engine's leaf order (both scipy's).
        QCOMPARE(computeDendrogramLayout(d).leaves, leafOrder(r));
        // A broken linkage gives an invalid tree, not a crash.
        den2moe::MiningResult bad = r;
        bad.linkage.z.resize(4);
        QVERIFY(!dendrogramData(bad).isValid());
        QCOMPARE(kForCutHeight(bad, 0.5), 0);
    }

    void cutHeightAndK() {
        const den2moe::MiningResult r = d2mtest::handMadeResult();
        QCOMPARE(kForCutHeight(r, 0.05), 4);
        QCOMPARE(kForCutHeight(r, 0.2), 3);
        QCOMPARE(kForCutHeight(r, 0.5), 2);
        QCOMPARE(kForCutHeight(r, 1.0), 1);
        QCOMPARE(kForCutHeight(r, 0.4), 2);  // merged iff height <= t
        for (int k = 1; k <= 4; ++k) {
            int actual = 0;
            const double h = cutHeightForK(r, k, &actual);
            QCOMPARE(actual, k);
            QCOMPARE(kForCutHeight(r, h), k);
        }
        const double h2 = cutHeightForK(r, 2);
        QVERIFY(h2 >= 0.4 && h2 < 0.9);
        const ClusterAssignment a2 = assignmentForK(r, 2);
        QCOMPARE(a2.clusterCount(), 2);
        // Numbered top to bottom along the leaves: c (first leaf) is C1.
        QCOMPARE(a2.labelOfLeaf, (QVector<int>{1, 1, 0, 1}));
        QCOMPARE(a2.clusterNames, (QStringList{"C1", "C2"}));
        const ClusterAssignment a3 = assignmentForK(r, 3);
        QCOMPARE(a3.labelOfLeaf, (QVector<int>{1, 2, 0, 2}));
    }

    void cutsAgreeWithTheEngine() {
        const den2moe::MiningResult r = d2mtest::handMadeResult();
        for (int k = 1; k <= 4; ++k) {
            const std::vector<int> engine = den2moe::mining_clusters_k(r, k);
            QCOMPARE(partition(QVector<int>(engine.begin(), engine.end())),
                     partition(assignmentForK(r, k).labelOfLeaf));
        }
        const std::vector<int> eh = den2moe::mining_clusters_height(r, 0.2);
        QCOMPARE(partition(QVector<int>(eh.begin(), eh.end())), partition(assignmentAtCut(r, 0.2).labelOfLeaf));
    }

    void projectClustersRoundTrip() {
        const QStringList labels{"a", "b", "c", "d"};
        ClusterAssignment a;
        a.labelOfLeaf = {1, 0, 1, 0};
        a.clusterNames = {"math", "prose"};
        a.manual = {true, false};
        const den2moe::ProjectClusters pc = projectClusters(a, labels, true);
        QVERIFY(pc.manual);
        QCOMPARE(pc.names, (std::vector<std::string>{"math", "prose"}));
        QCOMPARE(pc.members, (std::vector<std::vector<std::string>>{{"b", "d"}, {"a", "c"}}));
        const ClusterAssignment back = assignmentFromProject(pc, labels);
        QCOMPARE(back.labelOfLeaf, a.labelOfLeaf);
        QCOMPARE(back.clusterNames, a.clusterNames);
        QCOMPARE(back.manual, (QVector<bool>{true, true}));
        // A domain the project does not know stays unassigned.
        const ClusterAssignment more = assignmentFromProject(pc, QStringList{"a", "b", "c", "d", "e"});
        QCOMPARE(more.labelOfLeaf.last(), -1);
    }
};

QTEST_MAIN(TestViewAdapters)
#include "tst_view_adapters.moc"
