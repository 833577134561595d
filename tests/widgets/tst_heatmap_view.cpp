// HeatmapView: the pure adapter (cellsFor), what lands in the QCPColorMap, labels, tooltip, zoom,
// linked selection, an offscreen render and PNG/SVG/PDF export. With D2M_SCREENSHOT_DIR set it also
// saves widget-heatmap.png there (the docs screenshot).
#include "demo_domains.h"
#include "dendrogram_layout.h"
#include "heatmap_view.h"
#include "plot_style.h"

#include <QPushButton>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QtTest>

#include <cmath>

using namespace den2moe::ui;

namespace {

MatrixViewData small3() {
    MatrixViewData m;
    m.n = 3;
    m.labels = {QStringLiteral("a"), QStringLiteral("b"), QStringLiteral("c")};
    m.raw = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    m.normalized = {1, 0.5, 0.25, 2, 1, 0.5, 4, 2, 1};
    return m;
}

QCustomPlot* plotOf(HeatmapView& view) {
    return qobject_cast<QCustomPlot*>(view.plotWidget());
}

QCPColorMap* mapOf(HeatmapView& view) {
    return qobject_cast<QCPColorMap*>(plotOf(view)->plottable(0));
}

void sendMouse(QWidget* w, QEvent::Type type, const QPoint& pos, Qt::MouseButton button,
               Qt::MouseButtons buttons, Qt::KeyboardModifiers mods = Qt::NoModifier) {
    QMouseEvent e(type, QPointF(pos), QPointF(w->mapToGlobal(pos)), button, buttons, mods);
    QCoreApplication::sendEvent(w, &e);
}

void click(QWidget* w, const QPoint& pos, Qt::KeyboardModifiers mods = Qt::NoModifier) {
    sendMouse(w, QEvent::MouseButtonPress, pos, Qt::LeftButton, Qt::LeftButton, mods);
    sendMouse(w, QEvent::MouseButtonRelease, pos, Qt::LeftButton, Qt::NoButton, mods);
}

int distinctColours(const QImage& img) {
    QSet<QRgb> colours;
    for (int y = 0; y < img.height(); y += 2) {
        for (int x = 0; x < img.width(); x += 2) {
            colours.insert(img.pixel(x, y));
        }
    }
    return colours.size();
}

struct Demo {
    MatrixViewData matrix = demo::matrix();
    DendrogramData tree = demo::dendrogram(matrix);
    DendrogramLayout layout = computeDendrogramLayout(tree);
    ClusterAssignment clusters = assignmentAtHeight(tree, cutHeightForK(tree, 5), layout.leaves);
};

}  // namespace

class TestHeatmapView : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void cellsForAppliesOrder() {
        const MatrixViewData m = small3();
        const auto id = cellsFor(m, MatrixKind::Raw, {});
        QCOMPARE(id.size(), 3);
        QCOMPARE(id[0], (QVector<double>{1, 2, 3}));
        QCOMPARE(id[2], (QVector<double>{7, 8, 9}));
        const auto ord = cellsFor(m, MatrixKind::Raw, {2, 0, 1});
        QCOMPARE(ord[0], (QVector<double>{9, 7, 8}));  // row c: (c,c) (c,a) (c,b)
        QCOMPARE(ord[1], (QVector<double>{3, 1, 2}));
        QCOMPARE(ord[2], (QVector<double>{6, 4, 5}));
        const auto norm = cellsFor(m, MatrixKind::Normalized, {1, 2, 0});
        QCOMPARE(norm[0], (QVector<double>{1, 0.5, 2}));
        QVERIFY(cellsFor(m, MatrixKind::Correlation, {}).isEmpty());  // not computed
        QVERIFY(cellsFor(m, MatrixKind::Raw, {0, 0, 1}).isEmpty());   // not a permutation
        QVERIFY(cellsFor(m, MatrixKind::Raw, {0, 1}).isEmpty());
    }

    void colorMapHoldsTheOrderedMatrix() {
        Demo d;
        HeatmapView view;
        view.setData(d.matrix);
        view.setLeafOrder(d.layout.leaves);
        const int n = d.matrix.n;
        QCPColorMap* map = mapOf(view);
        QVERIFY(map);
        QCOMPARE(map->data()->keySize(), n);
        QCOMPARE(map->data()->valueSize(), n);
        QVERIFY(!map->interpolate());
        QCOMPARE(view.displayOrder(), d.layout.leaves);
        const auto cells = cellsFor(d.matrix, MatrixKind::Raw, d.layout.leaves);
        for (int r = 0; r < n; r += 5) {
            for (int c = 0; c < n; c += 3) {
                QCOMPARE(map->data()->cell(c, r), cells[r][c]);
            }
        }
        QCustomPlot* plot = plotOf(view);
        QCOMPARE(plot->xAxis->range().lower, -0.5);
        QCOMPARE(plot->xAxis->range().upper, n - 0.5);
        QCOMPARE(plot->yAxis->range().lower, -0.5);
        QCOMPARE(plot->yAxis->range().upper, n - 0.5);
        QVERIFY(plot->yAxis->rangeReversed());  // row 0 on top, like the dendrogram's first leaf

        // Domain names on both axes, in display order; x labels rotated.
        for (QCPAxis* axis : {plot->xAxis, plot->yAxis}) {
            auto ticker = axis->ticker().dynamicCast<QCPAxisTickerText>();
            QVERIFY(ticker);
            QCOMPARE(ticker->ticks().size(), n);
            QCOMPARE(ticker->ticks().value(0), d.matrix.labels[d.layout.leaves[0]]);
            QCOMPARE(ticker->ticks().value(n - 1), d.matrix.labels[d.layout.leaves[n - 1]]);
        }
        QVERIFY(plot->xAxis->tickLabelRotation() != 0);

        // The colour scale is attached and titled.
        auto* scale = qobject_cast<QCPColorScale*>(plot->plotLayout()->element(0, 1));
        QVERIFY(scale);
        QCOMPARE(map->colorScale(), scale);
        QVERIFY(scale->axis()->label().contains(QStringLiteral("Perplexity")));

        // Toggle to project order.
        view.setOrderMode(HeatmapView::Order::Project);
        QCOMPARE(view.displayOrder()[0], 0);
        QCOMPARE(mapOf(view)->data()->cell(3, 1), d.matrix.raw[1 * n + 3]);
        view.setOrderMode(HeatmapView::Order::Dendrogram);
        QCOMPARE(view.displayOrder(), d.layout.leaves);
    }

    void matrixKindSwitches() {
        Demo d;
        HeatmapView view;
        view.setData(d.matrix);
        QSignalSpy spy(&view, &HeatmapView::matrixKindChanged);
        view.setMatrixKind(MatrixKind::Correlation);
        QCOMPARE(spy.count(), 1);
        QCOMPARE(view.matrixKind(), MatrixKind::Correlation);
        QCustomPlot* plot = plotOf(view);
        auto* scale = qobject_cast<QCPColorScale*>(plot->plotLayout()->element(0, 1));
        QCOMPARE(scale->dataRange().lower, -1.0);
        QCOMPARE(scale->dataRange().upper, 1.0);
        QCOMPARE(mapOf(view)->data()->cell(2, 5), d.matrix.correlation[5 * d.matrix.n + 2]);
        view.setMatrixKind(MatrixKind::Normalized);
        QCOMPARE(mapOf(view)->data()->cell(0, 0), 1.0);
        // A kind the data lacks is refused.
        view.setData(small3());
        view.setMatrixKind(MatrixKind::Correlation);
        QCOMPARE(view.matrixKind(), MatrixKind::Normalized);
    }

    void tooltipNamesPairValuesAndClusters() {
        Demo d;
        HeatmapView view;
        view.setData(d.matrix);
        const QString before = view.cellToolTip(0, 2);
        QVERIFY(!before.contains(QStringLiteral("clusters")));
        view.setClusterAssignment(d.clusters);
        const int n = d.matrix.n;
        const QString tip = view.cellToolTip(0, 2);  // wiki -> gsm8k
        QVERIFY2(tip.startsWith(QStringLiteral("wiki → gsm8k")), qPrintable(tip));
        QVERIFY2(tip.contains(QStringLiteral("raw PPL: %1").arg(d.matrix.raw[2], 0, 'f', 2)),
                 qPrintable(tip));
        QVERIFY(
            tip.contains(QStringLiteral("normalised: %1").arg(d.matrix.normalized[2], 0, 'f', 3)));
        QVERIFY(tip.contains(
            QStringLiteral("correlation: %1").arg(d.matrix.correlation[2], 0, 'f', 3)));
        const QString clusters = QStringLiteral("clusters: %1 / %2")
                                     .arg(d.clusters.clusterNames[d.clusters.labelOfLeaf[0]],
                                          d.clusters.clusterNames[d.clusters.labelOfLeaf[2]]);
        QVERIFY2(tip.contains(clusters), qPrintable(tip));
        QVERIFY(view.cellToolTip(n, 0).isEmpty());
    }

    void hoverAndClickFindTheCell() {
        Demo d;
        HeatmapView view;
        view.resize(900, 800);
        view.setData(d.matrix);
        view.setLeafOrder(d.layout.leaves);
        view.show();
        QVERIFY(QTest::qWaitForWindowExposed(&view));
        QWidget* plot = view.plotWidget();
        const int row = d.layout.leaves[3];
        const int col = d.layout.leaves[7];
        const QPoint centre = view.cellCentre(row, col);
        int r = -1;
        int c = -1;
        QVERIFY(view.cellAt(centre, &r, &c));
        QCOMPARE(r, row);
        QCOMPARE(c, col);

        QSignalSpy hovered(&view, &HeatmapView::cellHovered);
        sendMouse(plot, QEvent::MouseMove, centre, Qt::NoButton, Qt::NoButton);
        QCOMPARE(hovered.count(), 1);
        QCOMPARE(hovered.at(0).at(0).toInt(), row);
        QCOMPARE(hovered.at(0).at(1).toInt(), col);

        QSignalSpy selection(&view, &HeatmapView::selectionChanged);
        QSignalSpy clicked(&view, &HeatmapView::cellClicked);
        click(plot, centre);
        QCOMPARE(clicked.count(), 1);
        QCOMPARE(selection.count(), 1);
        QVector<int> expected{row, col};
        std::sort(expected.begin(), expected.end());
        QCOMPARE(selection.at(0).at(0).value<QVector<int>>(), expected);
        QCOMPARE(view.selectedLeaves(), expected);
        // Ctrl-click on the same cell toggles both off again.
        click(plot, centre, Qt::ControlModifier);
        QCOMPARE(selection.count(), 2);
        QVERIFY(view.selectedLeaves().isEmpty());
    }

    void selectionSignalIsLoopSafe() {
        Demo d;
        HeatmapView view;
        view.setData(d.matrix);
        QSignalSpy spy(&view, &HeatmapView::selectionChanged);
        view.setSelectedLeaves({5, 1, 5, 99});
        QCOMPARE(spy.count(), 1);
        QCOMPARE(spy.at(0).at(0).value<QVector<int>>(), (QVector<int>{1, 5}));
        view.setSelectedLeaves({1, 5});  // unchanged: no second emission
        QCOMPARE(spy.count(), 1);
        view.setSelectedLeaves({});
        QCOMPARE(spy.count(), 2);
    }

    void zoomHasAnObviousReset() {
        Demo d;
        HeatmapView view;
        view.setData(d.matrix);
        QPushButton* reset = nullptr;
        for (QPushButton* b : view.findChildren<QPushButton*>()) {
            if (b->text() == QStringLiteral("Reset zoom")) {
                reset = b;
            }
        }
        QVERIFY(reset);
        QVERIFY(!view.isZoomed());
        QVERIFY(!reset->isEnabled());
        QSignalSpy rows(&view, &HeatmapView::rowRangeChanged);
        view.setRowRange(2.5, 8.5);
        QVERIFY(view.isZoomed());
        QVERIFY(reset->isEnabled());
        QVERIFY(rows.count() >= 1);
        QCOMPARE(rows.last().at(0).toDouble(), 2.5);
        // Zoom never leaves the matrix.
        view.setRowRange(-10, 100);
        QCOMPARE(plotOf(view)->yAxis->range().lower, -0.5);
        QCOMPARE(plotOf(view)->yAxis->range().upper, d.matrix.n - 0.5);
        view.setRowRange(2.5, 8.5);
        reset->click();
        QVERIFY(!view.isZoomed());
    }

    void rendersOffscreen() {
        Demo d;
        HeatmapView view;
        view.resize(900, 800);
        view.setData(d.matrix);
        view.setLeafOrder(d.layout.leaves);
        view.setClusterAssignment(d.clusters);
        view.show();
        QVERIFY(QTest::qWaitForWindowExposed(&view));
        const QImage img = view.grab().toImage();
        QVERIFY(!img.isNull());
        QVERIFY2(distinctColours(img) > 10, qPrintable(QString::number(distinctColours(img))));
        const QString dir = qEnvironmentVariable("D2M_SCREENSHOT_DIR");
        if (!dir.isEmpty()) {
            view.setMatrixKind(MatrixKind::Normalized);
            QVERIFY(view.grab().save(dir + QStringLiteral("/widget-heatmap.png")));
            view.setMatrixKind(MatrixKind::Raw);
            QVERIFY(view.grab().save(dir + QStringLiteral("/widget-heatmap-raw.png")));
            QVERIFY(view.exportTo(dir + QStringLiteral("/widget-heatmap-export.png")));
            QVERIFY(view.exportTo(dir + QStringLiteral("/widget-heatmap-export.svg")));
            QVERIFY(view.exportTo(dir + QStringLiteral("/widget-heatmap-export.pdf")));
            view.setMatrixKind(MatrixKind::Correlation);
            view.setSelectedLeaves(subtreeLeaves(d.tree, 2 * d.tree.n - 4));
            plotOf(view)->xAxis->setRange(5.2, 12.7);
            view.setRowRange(3.3, 9.9);
            QVERIFY(view.exportTo(dir + QStringLiteral("/widget-heatmap-zoomed.svg")));
            QVERIFY(view.grab().save(dir + QStringLiteral("/widget-heatmap-zoomed.png")));
            view.resetZoom();
            QVERIFY(view.grab().save(dir + QStringLiteral("/widget-heatmap-correlation.png")));
        }
    }

    void manyDomainsThinTheLabels() {
        const int n = 150;
        MatrixViewData m;
        m.n = n;
        for (int i = 0; i < n; ++i) {
            m.labels << QStringLiteral("domain_%1").arg(i);
        }
        m.raw.resize(n * n);
        for (int k = 0; k < n * n; ++k) {
            m.raw[k] = 5.0 + (k * 7919) % 97;
        }
        HeatmapView view;
        view.resize(700, 600);
        view.setData(m);
        view.show();
        QVERIFY(QTest::qWaitForWindowExposed(&view));
        QTRY_VERIFY(plotOf(view)->yAxis->ticker().dynamicCast<QCPAxisTickerText>()->ticks().size() <
                    n / 2);
        QCOMPARE(mapOf(view)->data()->keySize(), n);
        // Zoomed in far enough, every row is labelled again.
        view.setRowRange(9.5, 19.5);
        plotOf(view)->xAxis->setRange(9.5, 19.5);
        plotOf(view)->replot();
        QTRY_COMPARE(plotOf(view)->yAxis->ticker().dynamicCast<QCPAxisTickerText>()->ticks().size(),
                     n);
    }

    void exportsPngSvgPdf() {
        Demo d;
        HeatmapView view;
        view.resize(800, 700);
        view.setData(d.matrix);
        view.setClusterAssignment(d.clusters);
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const QString png = dir.filePath(QStringLiteral("m.png"));
        const QString svg = dir.filePath(QStringLiteral("m.svg"));
        const QString pdf = dir.filePath(QStringLiteral("m.pdf"));
        QString error;
        QVERIFY2(view.exportTo(png, 800, 700, &error), qPrintable(error));
        QVERIFY2(view.exportTo(svg, 800, 700, &error), qPrintable(error));
        QVERIFY2(view.exportTo(pdf, 800, 700, &error), qPrintable(error));
        const QImage image(png);
        QVERIFY(!image.isNull());
        QCOMPARE(image.size(), QSize(1600, 1400));  // 2x pixel ratio
        QVERIFY(distinctColours(image) > 10);
        QFile s(svg);
        QVERIFY(s.open(QIODevice::ReadOnly));
        const QByteArray svgText = s.readAll();
        QVERIFY(svgText.contains("<svg"));
        QVERIFY(svgText.contains("<image"));           // the colour map
        QVERIFY(svgText.contains("mmlu_humanities"));  // labels are text
        QVERIFY(svgText.contains("Perplexity"));       // and so is the scale title
        QFile p(pdf);
        QVERIFY(p.open(QIODevice::ReadOnly));
        QVERIFY(p.size() > 1000);
        QVERIFY(p.read(4) == "%PDF");

        // Zoomed SVG: the colour map is cropped to the visible cells (QSvgGenerator ignores
        // clipping), and the view is the same afterwards.
        view.setRowRange(3.5, 9.5);
        QVERIFY(view.exportTo(dir.filePath(QStringLiteral("z.svg")), 800, 700, &error));
        QCOMPARE(mapOf(view)->data()->keySize(), d.matrix.n);
        QCOMPARE(plotOf(view)->yAxis->range().lower, 3.5);

        QVERIFY(!view.exportTo(dir.filePath(QStringLiteral("m.bmpx")), 0, 0, &error));
        QVERIFY(error.contains(QStringLiteral("unsupported")));
    }
};

QTEST_MAIN(TestHeatmapView)
#include "tst_heatmap_view.moc"
