// Dendrogram layout and cuts against scipy (tests/reference/dendrogram_oracle.py, run as the CTest
// fixture "dendrogram_oracle"; its JSON path comes in D2M_DENDROGRAM_ORACLE). Coordinates, leaf
// order and fcluster labels are compared exactly; then K <-> cut height round trips.
#include "dendrogram_layout.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QtTest>

#include <cmath>
#include <limits>

using namespace den2moe::ui;

namespace {

DendrogramData fromJson(const QJsonObject& c) {
    DendrogramData d;
    d.n = c.value(QStringLiteral("n")).toInt();
    for (const QJsonValue& v : c.value(QStringLiteral("Z")).toArray()) {
        const QJsonArray r = v.toArray();
        d.rows << LinkRow{r[0].toInt(), r[1].toInt(), r[2].toDouble(), r[3].toInt()};
    }
    return d;
}

QVector<int> ints(const QJsonValue& v) {
    QVector<int> out;
    for (const QJsonValue& x : v.toArray()) {
        out << x.toInt();
    }
    return out;
}

DendrogramData handmade() {
    // leaves 0..4; ((0,1)@1, (2,(3,4)@0.5)@2)@3
    DendrogramData d;
    d.n = 5;
    d.rows = {{3, 4, 0.5, 2}, {0, 1, 1.0, 2}, {2, 5, 2.0, 3}, {6, 7, 3.0, 5}};
    d.labels = {QStringLiteral("a"), QStringLiteral("b"), QStringLiteral("c"), QStringLiteral("d"),
                QStringLiteral("e")};
    return d;
}

}  // namespace

class TestDendrogramLayout : public QObject {
    Q_OBJECT

private:
    QJsonArray m_cases;

private Q_SLOTS:
    void initTestCase() {
        const QString path = qEnvironmentVariable("D2M_DENDROGRAM_ORACLE");
        QVERIFY2(!path.isEmpty(),
                 "D2M_DENDROGRAM_ORACLE is not set: run through ctest (fixture dendrogram_oracle)");
        QFile f(path);
        QVERIFY2(
            f.open(QIODevice::ReadOnly),
            qPrintable(QStringLiteral(
                           "oracle file %1 is missing: run tests/reference/dendrogram_oracle.py")
                           .arg(path)));
        QJsonParseError err;
        const QJsonDocument doc = QJsonDocument::fromJson(f.readAll(), &err);
        QVERIFY2(err.error == QJsonParseError::NoError, qPrintable(err.errorString()));
        m_cases = doc.object().value(QStringLiteral("cases")).toArray();
        QVERIFY(m_cases.size() >= 8);
    }

    void matchesScipy_data() {
        QTest::addColumn<int>("index");
        for (int i = 0; i < m_cases.size(); ++i) {
            QTest::newRow(
                qPrintable(m_cases[i].toObject().value(QStringLiteral("name")).toString()))
                << i;
        }
    }

    void matchesScipy() {
        QFETCH(int, index);
        const QJsonObject c = m_cases[index].toObject();
        const DendrogramData data = fromJson(c);
        QVERIFY(data.isValid());
        const DendrogramLayout layout = computeDendrogramLayout(data);

        QCOMPARE(layout.leaves, ints(c.value(QStringLiteral("leaves"))));
        for (int p = 0; p < layout.leaves.size(); ++p) {
            QCOMPARE(layout.positionOfLeaf[layout.leaves[p]], p);
        }
        const QJsonArray ic = c.value(QStringLiteral("icoord")).toArray();
        const QJsonArray dc = c.value(QStringLiteral("dcoord")).toArray();
        QCOMPARE(layout.segments.size(), ic.size());
        QCOMPARE(layout.segments.size(), dc.size());
        for (int s = 0; s < ic.size(); ++s) {
            for (int k = 0; k < 4; ++k) {
                // exact: the same additions and halvings as scipy, and repr-exact JSON
                QCOMPARE(layout.segments[s].icoord[k], ic[s].toArray()[k].toDouble());
                QCOMPARE(layout.segments[s].dcoord[k], dc[s].toArray()[k].toDouble());
            }
            // The crossbar sits at the node's own merge height.
            QCOMPARE(layout.segments[s].dcoord[1],
                     data.rows[layout.segments[s].node - data.n].height);
        }

        for (const QJsonValue& v : c.value(QStringLiteral("cuts")).toArray()) {
            const QJsonObject cut = v.toObject();
            const double t = cut.value(QStringLiteral("t")).toDouble();
            const QVector<int> expected = ints(cut.value(QStringLiteral("labels")));
            QCOMPARE(fclusterDistance(data, t), expected);
            const int k = *std::max_element(expected.begin(), expected.end());
            QCOMPARE(clusterCountAt(data, t), k);
        }

        // maxclust(k) is what setK does when ties make k unreachable: same partition, same labels.
        for (const QJsonValue& v : c.value(QStringLiteral("maxclust")).toArray()) {
            const QJsonObject mc = v.toObject();
            const int k = mc.value(QStringLiteral("k")).toInt();
            const QVector<int> expected = ints(mc.value(QStringLiteral("labels")));
            int actual = -1;
            const double t = cutHeightForK(data, k, &actual);
            QCOMPARE(fclusterDistance(data, t), expected);
            QCOMPARE(actual, *std::max_element(expected.begin(), expected.end()));
        }
    }

    void cutHeightRoundTrip_data() { matchesScipy_data(); }

    void cutHeightRoundTrip() {
        QFETCH(int, index);
        const DendrogramData data = fromJson(m_cases[index].toObject());
        int reachable = 0;
        for (int k = 1; k <= data.n; ++k) {
            const CutInterval c = cutIntervalForK(data, k);
            if (!c.valid) {
                continue;
            }
            ++reachable;
            QVERIFY(c.lo < c.hi);
            QVERIFY(c.height >= c.lo && c.height < c.hi);
            QCOMPARE(clusterCountAt(data, c.height), k);
            if (std::isfinite(c.lo)) {
                QCOMPARE(clusterCountAt(data, c.lo), k);  // merged iff height <= t: lo is inside
            }
            if (std::isfinite(c.hi)) {
                QVERIFY(clusterCountAt(data, c.hi) < k);  // hi is not
                // strictly inside the open interval when it is finite on both sides
                if (std::isfinite(c.lo)) {
                    QCOMPARE(c.height, (c.lo + c.hi) / 2);
                }
            }
            int actual = 0;
            QCOMPARE(cutHeightForK(data, k, &actual), c.height);
            QCOMPARE(actual, k);
            const ClusterAssignment a =
                assignmentAtHeight(data, c.height, computeDendrogramLayout(data).leaves);
            QCOMPARE(a.clusterCount(), k);
        }
        QVERIFY(cutIntervalForK(data, 1).valid);  // always reachable
        QVERIFY(reachable >= 2);
    }

    void tiesMakeSomeKUnreachable() {
        // Three leaves merged at one height: K = 2 cannot be cut.
        DendrogramData d;
        d.n = 3;
        d.rows = {{0, 1, 1.0, 2}, {2, 3, 1.0, 3}};
        QVERIFY(!cutIntervalForK(d, 2).valid);
        int actual = 0;
        const double t = cutHeightForK(d, 2, &actual);
        QCOMPARE(actual, 1);
        QCOMPARE(clusterCountAt(d, t), 1);
        QVERIFY(cutIntervalForK(d, 3).valid);
        QVERIFY(cutIntervalForK(d, 3).height < 1.0);
    }

    void handmadeLayout() {
        const DendrogramData d = handmade();
        const DendrogramLayout l = computeDendrogramLayout(d);
        QCOMPARE(l.leaves, (QVector<int>{0, 1, 2, 3, 4}));
        QCOMPARE(l.segments.size(), 4);
        QCOMPARE(l.maxHeight, 3.0);
        // Post-order: (0,1), (3,4), (2,(3,4)), root.
        QCOMPARE(l.segments[0].node, 6);
        QCOMPARE(l.segments[1].node, 5);
        QCOMPARE(l.segments[2].node, 7);
        QCOMPARE(l.segments[3].node, 8);
        QCOMPARE(l.segments[3].icoord[0], 10.0);  // middle of leaves 0 and 1
        QCOMPARE(l.segments[3].icoord[2], 32.5);  // (25 + (35 + 45) / 2) / 2
        QCOMPARE(DendrogramLayout::positionForCoord(5.0), 0.0);
        QCOMPARE(DendrogramLayout::positionForCoord(45.0), 4.0);
    }

    void subtreeMembership() {
        const DendrogramData d = handmade();
        QCOMPARE(subtreeLeaves(d, 5), (QVector<int>{3, 4}));
        QCOMPARE(subtreeLeaves(d, 7), (QVector<int>{2, 3, 4}));
        QCOMPARE(subtreeLeaves(d, 8), (QVector<int>{0, 1, 2, 3, 4}));
        QCOMPARE(subtreeLeaves(d, 2), (QVector<int>{2}));
        QVERIFY(subtreeLeaves(d, 9).isEmpty());
        QVERIFY(subtreeLeaves(d, -1).isEmpty());
    }

    void assignmentNumbersClustersTopToBottom() {
        const DendrogramData d = handmade();
        const DendrogramLayout l = computeDendrogramLayout(d);
        const ClusterAssignment a = assignmentAtHeight(d, 1.5, l.leaves);  // {0,1} {2} {3,4}
        QCOMPARE(a.labelOfLeaf, (QVector<int>{0, 0, 1, 2, 2}));
        QCOMPARE(a.clusterNames,
                 (QStringList{QStringLiteral("C1"), QStringLiteral("C2"), QStringLiteral("C3")}));
        QCOMPARE(a.manual, (QVector<bool>{false, false, false}));
        // scipy numbers merge children first: {3,4} before the singleton {2}.
        QCOMPARE(fclusterDistance(d, 1.5), (QVector<int>{1, 1, 3, 2, 2}));
    }

    void paletteIsDistinct() {
        QSet<QRgb> seen;
        for (int c = 0; c < 10; ++c) {
            seen.insert(clusterColor(c).rgb());
        }
        QCOMPARE(seen.size(), 10);
        QCOMPARE(clusterColor(10), clusterColor(0));
    }

    void invalidInputIsEmpty() {
        DendrogramData d;
        d.n = 3;
        d.rows = {{0, 1, 1.0, 2}};  // one row short
        QVERIFY(!d.isValid());
        QVERIFY(computeDendrogramLayout(d).leaves.isEmpty());
        QVERIFY(!cutIntervalForK(d, 1).valid);
        DendrogramData single;
        single.n = 1;
        QCOMPARE(computeDendrogramLayout(single).leaves, (QVector<int>{0}));
        QCOMPARE(fclusterDistance(single, 0.0), (QVector<int>{1}));
        QCOMPARE(clusterCountAt(single, 0.0), 1);
    }
};

QTEST_GUILESS_MAIN(TestDendrogramLayout)
#include "tst_dendrogram_layout.moc"
