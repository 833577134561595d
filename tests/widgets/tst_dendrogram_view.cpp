// DendrogramView: K spin box / setK move the cut and emit cutChanged with the right K, a drag of
// the line recolours live, a click on a merge selects its subtree, leaves line up with heatmap
// rows, and it renders and exports offscreen. With D2M_SCREENSHOT_DIR set it saves
// widget-dendrogram.png there.
#include "demo_domains.h"
#include "dendrogram_view.h"
#include "heatmap_view.h"
#include "plot_style.h"

#include <QHBoxLayout>
#include <QSignalSpy>
#include <QSpinBox>
#include <QTemporaryDir>
#include <QtTest>

using namespace den2moe::ui;

namespace {

void sendMouse(QWidget* w, QEvent::Type type, const QPoint& pos, Qt::MouseButton button,
               Qt::MouseButtons buttons) {
    QMouseEvent e(type, QPointF(pos), QPointF(w->mapToGlobal(pos)), button, buttons,
                  Qt::NoModifier);
    QCoreApplication::sendEvent(w, &e);
}

void click(QWidget* w, const QPoint& pos) {
    sendMouse(w, QEvent::MouseButtonPress, pos, Qt::LeftButton, Qt::LeftButton);
    sendMouse(w, QEvent::MouseButtonRelease, pos, Qt::LeftButton, Qt::NoButton);
}

QCustomPlot* plotOf(DendrogramView& view) {
    return qobject_cast<QCustomPlot*>(view.plotWidget());
}

QSet<QRgb> segmentColours(DendrogramView& view) {
    QSet<QRgb> out;
    QCustomPlot* plot = plotOf(view);
    for (int i = 0; i < plot->plottableCount(); ++i) {
        if (auto* curve = qobject_cast<QCPCurve*>(plot->plottable(i))) {
            out.insert(curve->pen().color().rgb());
        }
    }
    return out;
}

struct Demo {
    MatrixViewData matrix = demo::matrix();
    DendrogramData tree = demo::dendrogram(matrix);
};

}  // namespace

class TestDendrogramView : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void setKMovesTheCut() {
        Demo d;
        DendrogramView view;
        view.resize(700, 600);
        view.setDendrogram(d.tree);
        QCOMPARE(view.k(), 2);  // a new tree starts cut in two
        QCOMPARE(view.leafOrder(), computeDendrogramLayout(d.tree).leaves);

        QSignalSpy spy(&view, &DendrogramView::cutChanged);
        const int before = view.cutLinePixel();
        view.setK(5);
        QCOMPARE(spy.count(), 1);
        QCOMPARE(spy.at(0).at(1).toInt(), 5);
        const double t = spy.at(0).at(0).toDouble();
        QCOMPARE(t, view.cutHeight());
        QCOMPARE(t, cutIntervalForK(d.tree, 5).height);
        QCOMPARE(clusterCountAt(d.tree, t), 5);
        QCOMPARE(view.k(), 5);
        QCOMPARE(view.clusterAssignment().clusterCount(), 5);
        QCOMPARE(view.clusterAssignment().labelOfLeaf,
                 assignmentAtHeight(d.tree, t, view.leafOrder()).labelOfLeaf);
        QVERIFY(view.cutLinePixel() != before);
        // setK with the K the line already gives keeps the user's line where it is.
        view.setK(5);
        QCOMPARE(spy.count(), 1);

        // The K spin box drives the same path and shows K.
        auto* spin = view.findChild<QSpinBox*>();
        QVERIFY(spin);
        QCOMPARE(spin->value(), 5);
        QCOMPARE(spin->maximum(), d.tree.n);
        spin->setValue(3);
        QCOMPARE(spy.count(), 2);
        QCOMPARE(spy.at(1).at(1).toInt(), 3);
        QCOMPARE(view.k(), 3);

        // The in-plot tag shows K too (it goes into exports).
        QCustomPlot* plot = plotOf(view);
        bool tagged = false;
        for (int i = 0; i < plot->itemCount(); ++i) {
            if (auto* text = qobject_cast<QCPItemText*>(plot->item(i))) {
                tagged = tagged || text->text() == QStringLiteral("K = 3");
            }
        }
        QVERIFY(tagged);

        // Clusters are recoloured: k cluster colours below the cut plus the grey above it.
        QCOMPARE(segmentColours(view).size(), 3 + 1 - 0);
    }

    void setCutHeightReportsK() {
        Demo d;
        DendrogramView view;
        view.setDendrogram(d.tree);
        QSignalSpy spy(&view, &DendrogramView::cutChanged);
        const CutInterval c = cutIntervalForK(d.tree, 7);
        view.setCutHeight(c.lo);  // merged iff height <= t: exactly on a merge height still gives 7
        QCOMPARE(spy.count(), 1);
        QCOMPARE(spy.at(0).at(1).toInt(), 7);
        view.setCutHeight(c.lo);  // unchanged: no signal
        QCOMPARE(spy.count(), 1);
    }

    void unreachableKFollowsMaxclust() {
        DendrogramData tied;
        tied.n = 4;
        tied.rows = {{0, 1, 1.0, 2}, {2, 3, 1.0, 2}, {4, 5, 2.0, 4}};  // K = 3 cannot be cut
        DendrogramView view;
        view.setDendrogram(tied);
        QCOMPARE(view.k(), 2);
        QSignalSpy spy(&view, &DendrogramView::cutChanged);
        view.setK(4);
        QCOMPARE(view.k(), 4);
        view.setK(3);
        QCOMPARE(view.k(), 2);  // at most 3: the largest reachable count below is 2
        QCOMPARE(spy.last().at(1).toInt(), 2);
    }

    void draggingTheLineRecolours() {
        Demo d;
        DendrogramView view;
        view.resize(700, 600);
        view.setDendrogram(d.tree);
        view.show();
        QVERIFY(QTest::qWaitForWindowExposed(&view));
        QWidget* plot = view.plotWidget();
        const QRect area = plotOf(view)->axisRect()->rect();
        const QPoint start(view.cutLinePixel(), area.center().y());
        QSignalSpy spy(&view, &DendrogramView::cutChanged);
        sendMouse(plot, QEvent::MouseButtonPress, start, Qt::LeftButton, Qt::LeftButton);
        // Towards the leaves (x axis is reversed: leaves on the right) = lower cut = more clusters.
        const QPoint end(area.right() - area.width() / 10, start.y());
        sendMouse(plot, QEvent::MouseMove, (start + end) / 2, Qt::NoButton, Qt::LeftButton);
        sendMouse(plot, QEvent::MouseMove, end, Qt::NoButton, Qt::LeftButton);
        sendMouse(plot, QEvent::MouseButtonRelease, end, Qt::LeftButton, Qt::NoButton);
        QVERIFY(spy.count() >= 2);  // live, on every move
        QVERIFY(view.k() > 2);
        QCOMPARE(spy.last().at(1).toInt(), view.k());
        QCOMPARE(view.k(), clusterCountAt(d.tree, view.cutHeight()));
        QVERIFY(std::abs(view.cutLinePixel() - end.x()) <= 1);
    }

    void clickSelectsSubtree() {
        Demo d;
        DendrogramView view;
        view.resize(700, 600);
        view.setDendrogram(d.tree);
        view.show();
        QVERIFY(QTest::qWaitForWindowExposed(&view));
        QWidget* plot = view.plotWidget();
        QSignalSpy spy(&view, &DendrogramView::leavesSelected);
        const int node = d.tree.n + d.tree.n - 4;  // a merge a few levels below the root
        const QPoint pos = view.nodePosition(node);
        QCOMPARE(view.nodeAt(pos), node);
        click(plot, pos);
        QCOMPARE(spy.count(), 1);
        const QVector<int> expected = subtreeLeaves(d.tree, node);
        QVERIFY(expected.size() >= 2);
        QCOMPARE(spy.at(0).at(0).value<QVector<int>>(), expected);
        QCOMPARE(view.selectedLeaves(), expected);

        // A small merge as well.
        const int first = d.tree.n;  // row 0: two leaves
        click(plot, view.nodePosition(first));
        QCOMPARE(spy.count(), 2);
        QCOMPARE(spy.at(1).at(0).value<QVector<int>>(), subtreeLeaves(d.tree, first));

        // Programmatic selection does not echo back.
        view.setSelectedLeaves({0, 1});
        QCOMPARE(spy.count(), 2);
        QCOMPARE(view.selectedLeaves(), (QVector<int>{0, 1}));
    }

    void leavesLineUpWithHeatmapRows() {
        Demo d;
        QWidget host;
        auto* row = new QHBoxLayout(&host);
        row->setContentsMargins(0, 0, 0, 0);
        auto* dendrogram = new DendrogramView(&host);
        auto* heatmap = new HeatmapView(&host);
        row->addWidget(dendrogram, 1);
        row->addWidget(heatmap, 2);
        dendrogram->setToolBarVisible(false);
        heatmap->setToolBarVisible(false);
        dendrogram->setLeafLabelsVisible(false);
        dendrogram->setDendrogram(d.tree);
        heatmap->setData(d.matrix);
        heatmap->setLeafOrder(dendrogram->leafOrder());
        host.resize(1200, 700);
        host.show();
        QVERIFY(QTest::qWaitForWindowExposed(&host));
        const QMargins m = heatmap->plotMargins();
        dendrogram->setRowAxisMargins(m.top(), m.bottom());
        const QVector<int> leaves = dendrogram->leafOrder();
        for (int p = 0; p < leaves.size(); ++p) {
            const int yd =
                dendrogram->plotWidget()->mapTo(&host, dendrogram->nodePosition(leaves[p])).y();
            const int yh =
                heatmap->plotWidget()->mapTo(&host, heatmap->cellCentre(leaves[p], leaves[p])).y();
            QVERIFY2(std::abs(yd - yh) <= 1,
                     qPrintable(QStringLiteral("leaf %1: %2 vs %3").arg(p).arg(yd).arg(yh)));
        }
        // Zooming the heatmap rows keeps them aligned.
        QObject::connect(heatmap, &HeatmapView::rowRangeChanged, dendrogram,
                         &DendrogramView::setLeafRange);
        const QString shots = qEnvironmentVariable("D2M_SCREENSHOT_DIR");
        if (!shots.isEmpty()) {
            dendrogram->setK(5);
            heatmap->setClusterAssignment(dendrogram->clusterAssignment());
            heatmap->setMatrixKind(MatrixKind::Normalized);
            QVERIFY(host.grab().save(shots + QStringLiteral("/widget-clustermap.png")));
        }
        heatmap->setRowRange(4.5, 10.5);
        QCOMPARE(plotOf(*dendrogram)->yAxis->range().lower, 4.5);
        QCOMPARE(plotOf(*dendrogram)->yAxis->range().upper, 10.5);
    }

    void rendersAndExports() {
        Demo d;
        DendrogramView view;
        view.resize(760, 640);
        view.setDendrogram(d.tree);
        view.setK(5);
        view.show();
        QVERIFY(QTest::qWaitForWindowExposed(&view));
        const QImage img = view.grab().toImage();
        QVERIFY(!img.isNull());
        QSet<QRgb> colours;
        for (int y = 0; y < img.height(); y += 2) {
            for (int x = 0; x < img.width(); x += 2) {
                colours.insert(img.pixel(x, y));
            }
        }
        QVERIFY(colours.size() > 10);

        QTemporaryDir dir;
        QString error;
        for (const char* name : {"t.png", "t.svg", "t.pdf"}) {
            const QString path = dir.filePath(QLatin1String(name));
            QVERIFY2(view.exportTo(path, 700, 600, &error), qPrintable(error));
            QVERIFY(QFileInfo(path).size() > 500);
        }
        QFile svg(dir.filePath(QStringLiteral("t.svg")));
        QVERIFY(svg.open(QIODevice::ReadOnly));
        const QByteArray text = svg.readAll();
        QVERIFY(text.contains("<svg"));
        QVERIFY(text.contains("K = 5"));
        QVERIFY(text.contains("shakespeare"));
        QFile pdf(dir.filePath(QStringLiteral("t.pdf")));
        QVERIFY(pdf.open(QIODevice::ReadOnly));
        QVERIFY(pdf.read(4) == "%PDF");

        const QString shots = qEnvironmentVariable("D2M_SCREENSHOT_DIR");
        if (!shots.isEmpty()) {
            view.setSelectedLeaves(subtreeLeaves(d.tree, 2 * d.tree.n - 4));
            QVERIFY(view.grab().save(shots + QStringLiteral("/widget-dendrogram.png")));
            QVERIFY(view.exportTo(shots + QStringLiteral("/widget-dendrogram-export.svg")));
            QVERIFY(view.exportTo(shots + QStringLiteral("/widget-dendrogram-export.pdf")));
        }
    }
};

QTEST_MAIN(TestDendrogramView)
#include "tst_dendrogram_view.moc"
