#include "plot_style.h"

#include <QFileInfo>
#include <QSvgGenerator>

namespace den2moe::ui::plotstyle {

namespace {

QCPColorGradient fromStops(const QVector<QRgb>& stops) {
    QCPColorGradient g;
    g.clearColorStops();
    const int last = stops.size() - 1;
    for (int i = 0; i <= last; ++i) {
        g.setColorStopAt(double(i) / last, QColor(stops[i]));
    }
    g.setColorInterpolation(QCPColorGradient::ciRGB);
    g.setLevelCount(256);
    g.setNanHandling(QCPColorGradient::nhNanColor);
    g.setNanColor(QColor(0xd9d9d9));
    return g;
}

}  // namespace

QCPColorGradient viridis() {
    return fromStops({0x440154, 0x482475, 0x414487, 0x355f8d, 0x2a788e, 0x21918c, 0x22a884,
                      0x44bf70, 0x7ad151, 0xbddf26, 0xfde725});
}

QCPColorGradient diverging() {
    return fromStops({0x053061, 0x2166ac, 0x4393c3, 0x92c5de, 0xd1e5f0, 0xf7f7f7, 0xfddbc7,
                      0xf4a582, 0xd6604d, 0xb2182b, 0x67001f});
}

QFont baseFont() {
    QFont f(QStringLiteral("DejaVu Sans"));
    f.setPointSizeF(9.0);
    return f;
}

QFont titleFont() {
    QFont f = baseFont();
    f.setPointSizeF(9.5);
    f.setBold(true);
    return f;
}

QColor textColor() {
    return QColor(0x26, 0x2b, 0x33);
}

QColor frameColor() {
    return QColor(0x9a, 0xa0, 0xa8);
}

void styleAxis(QCPAxis* axis) {
    const QPen pen(frameColor(), 1.0);
    axis->setBasePen(pen);
    axis->setTickPen(pen);
    axis->setSubTickPen(pen);
    axis->setTickLabelFont(baseFont());
    axis->setTickLabelColor(textColor());
    axis->setLabelFont(titleFont());
    axis->setLabelColor(textColor());
    axis->setSelectedParts(QCPAxis::spNone);
    axis->setSelectableParts(QCPAxis::spNone);
    axis->setTickLengthIn(0);
    axis->setTickLengthOut(3);
    axis->setSubTickLength(0, 0);
    axis->grid()->setVisible(false);
    axis->grid()->setSubGridVisible(false);
}

bool exportPlot(QCustomPlot* plot, const QString& path, int width, int height, QString* error) {
    auto fail = [error](const QString& why) {
        if (error) {
            *error = why;
        }
        return false;
    };
    if (width <= 0 || height <= 0) {
        width = plot->width() > 50 ? plot->width() : 900;
        height = plot->height() > 50 ? plot->height() : 700;
    }
    const QString suffix = QFileInfo(path).suffix().toLower();
    bool ok = false;
    if (suffix == QLatin1String("png")) {
        ok = plot->savePng(path, width, height, 2.0);
    } else if (suffix == QLatin1String("pdf")) {
        ok =
            plot->savePdf(path, width, height, QCP::epNoCosmetic, QStringLiteral("Den2MoE Studio"));
    } else if (suffix == QLatin1String("svg")) {
        QSvgGenerator generator;
        generator.setFileName(path);
        generator.setSize(QSize(width, height));
        generator.setViewBox(QRect(0, 0, width, height));
        generator.setTitle(QFileInfo(path).completeBaseName());
        generator.setDescription(QStringLiteral("Exported by Den2MoE Studio"));
        QCPPainter painter;
        if (painter.begin(&generator)) {
            plot->toPainter(&painter, width, height);
            ok = painter.end();
        }
    } else {
        return fail(
            QStringLiteral(
                "Cannot export to \"%1\": unsupported format \".%2\" (use .png, .svg or .pdf).")
                .arg(path, suffix));
    }
    const QFileInfo written(path);
    if (!ok || !written.exists() || written.size() == 0) {
        return fail(QStringLiteral("Could not write \"%1\". Is the folder writable?").arg(path));
    }
    return true;
}

}  // namespace den2moe::ui::plotstyle
