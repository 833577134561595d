// TrainingCurvesView: see training_curves.h.
#include "training_curves.h"

#include "plot_style.h"

#include <QVBoxLayout>

#include <algorithm>
#include <cmath>
#include <limits>

namespace den2moe::ui {

namespace {

const QColor kTrainColor(0x1e, 0x88, 0xe5);
const QColor kHeldOutColor(0xd8, 0x1b, 0x60);
const QColor kLrColor(0x2e, 0x7d, 0x32);
const QColor kTpsColor(0x6a, 0x4c, 0x93);

/// Drops the tail of (x, y...) whose x is >= `from` (a resumed run rewrites it).
void truncateFrom(QVector<double>& x, QVector<double>& y, double from) {
    while (!x.isEmpty() && x.last() >= from) {
        x.removeLast();
        y.removeLast();
    }
}

QCPGraph* addGraph(QCustomPlot* plot, QCPAxisRect* rect, const QColor& color, const QString& name, bool dots) {
    QCPGraph* g = plot->addGraph(rect->axis(QCPAxis::atBottom), rect->axis(QCPAxis::atLeft));
    g->setName(name);
    QPen pen(color);
    pen.setWidthF(dots ? 1.6 : 1.2);
    g->setPen(pen);
    if (dots) g->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, color, Qt::white, 6));
    return g;
}

void fitY(QCPAxis* axis, const QVector<double>& a, const QVector<double>& b = {}) {
    double lo = INFINITY, hi = -INFINITY;
    for (const QVector<double>* v : {&a, &b}) {
        for (double x : *v) {
            if (!std::isfinite(x)) continue;
            lo = std::min(lo, x);
            hi = std::max(hi, x);
        }
    }
    if (!std::isfinite(lo)) {
        axis->setRange(0, 1);
        return;
    }
    const double pad = hi > lo ? 0.06 * (hi - lo) : std::max(1e-12, 0.05 * std::abs(hi));
    axis->setRange(lo - pad, hi + pad);
}

}  // namespace

TrainingCurvesView::TrainingCurvesView(QWidget* parent) : QWidget(parent) {
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    m_plot = new QCustomPlot(this);
    m_plot->setObjectName(QStringLiteral("trainingCurvesPlot"));
    layout->addWidget(m_plot);
    m_plot->plotLayout()->clear();
    m_title = new QCPTextElement(m_plot, QString(), plotstyle::titleFont());
    m_title->setTextColor(plotstyle::textColor());
    m_plot->plotLayout()->addElement(0, 0, m_title);
    m_lossRect = new QCPAxisRect(m_plot);
    m_pplRect = new QCPAxisRect(m_plot);
    m_lrRect = new QCPAxisRect(m_plot);
    m_tpsRect = new QCPAxisRect(m_plot);
    m_plot->plotLayout()->addElement(1, 0, m_lossRect);
    m_plot->plotLayout()->addElement(2, 0, m_pplRect);
    m_plot->plotLayout()->addElement(3, 0, m_lrRect);
    m_plot->plotLayout()->addElement(4, 0, m_tpsRect);
    m_plot->plotLayout()->setRowStretchFactor(0, 0.01);
    auto* group = new QCPMarginGroup(m_plot);
    for (QCPAxisRect* r : {m_lossRect, m_pplRect, m_lrRect, m_tpsRect}) {
        r->setMarginGroup(QCP::msLeft | QCP::msRight, group);
        for (QCPAxis* a : r->axes()) plotstyle::styleAxis(a);
        r->axis(QCPAxis::atLeft)->grid()->setVisible(true);
        r->axis(QCPAxis::atLeft)->grid()->setPen(QPen(QColor(0xe0, 0xe0, 0xe0), 0, Qt::DotLine));
        r->axis(QCPAxis::atBottom)->setLabel(QStringLiteral("optimizer step"));
        connect(r->axis(QCPAxis::atBottom), qOverload<const QCPRange&>(&QCPAxis::rangeChanged), this,
                [this](const QCPRange& range) {
                    for (QCPAxisRect* o : {m_lossRect, m_pplRect, m_lrRect, m_tpsRect}) {
                        if (o->axis(QCPAxis::atBottom)->range() != range) o->axis(QCPAxis::atBottom)->setRange(range);
                    }
                });
    }
    m_lossRect->axis(QCPAxis::atLeft)->setLabel(QStringLiteral("loss (nats)"));
    m_pplRect->axis(QCPAxis::atLeft)->setLabel(QStringLiteral("held-out ppl"));
    m_lrRect->axis(QCPAxis::atLeft)->setLabel(QStringLiteral("learning rate"));
    m_lrRect->axis(QCPAxis::atLeft)->setNumberFormat(QStringLiteral("gb"));
    m_lrRect->axis(QCPAxis::atLeft)->setNumberPrecision(2);
    m_loss = addGraph(m_plot, m_lossRect, kTrainColor, QStringLiteral("train loss"), false);
    m_heldOut = addGraph(m_plot, m_lossRect, kHeldOutColor, QStringLiteral("held-out loss"), true);
    m_ppl = addGraph(m_plot, m_pplRect, kHeldOutColor, QStringLiteral("held-out perplexity"), true);
    m_lr = addGraph(m_plot, m_lrRect, kLrColor, QStringLiteral("learning rate"), false);
    m_tps = addGraph(m_plot, m_tpsRect, kTpsColor, QStringLiteral("tokens/s"), false);
    m_tpsRect->axis(QCPAxis::atLeft)->setLabel(QStringLiteral("tokens/s"));
    auto* legend = new QCPLegend;
    m_lossRect->insetLayout()->addElement(legend, Qt::AlignTop | Qt::AlignRight);
    legend->setLayer(QStringLiteral("legend"));
    legend->setFont(plotstyle::baseFont());
    legend->setBorderPen(QPen(plotstyle::frameColor()));
    legend->addItem(new QCPPlottableLegendItem(legend, m_loss));
    legend->addItem(new QCPPlottableLegendItem(legend, m_heldOut));
    m_plot->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
    for (QCPAxisRect* r : {m_lossRect, m_pplRect, m_lrRect, m_tpsRect}) r->setRangeZoom(Qt::Horizontal), r->setRangeDrag(Qt::Horizontal);
    setMinimumSize(360, 300);
    refresh();
}

void TrainingCurvesView::setData(const TrainingCurveData& data) {
    m_data = data;
    refresh();
}

void TrainingCurvesView::clear() { setData({}); }

void TrainingCurvesView::appendStep(double step, double loss, double lr, double tokensPerS) {
    QVector<double> lrSteps = m_data.step, tpsSteps = m_data.step;
    m_data.tokensPerS.resize(m_data.step.size(), std::numeric_limits<double>::quiet_NaN());
    truncateFrom(m_data.step, m_data.loss, step);
    truncateFrom(lrSteps, m_data.lr, step);
    truncateFrom(tpsSteps, m_data.tokensPerS, step);
    m_data.step.push_back(step);
    m_data.loss.push_back(loss);
    m_data.lr.push_back(lr);
    m_data.tokensPerS.push_back(tokensPerS);
    refresh();
}

void TrainingCurvesView::appendEval(double step, double loss) {
    truncateFrom(m_data.evalStep, m_data.evalLoss, step);
    m_data.evalStep.push_back(step);
    m_data.evalLoss.push_back(loss);
    refresh();
}

void TrainingCurvesView::setTotalSteps(int total) {
    m_data.totalSteps = total;
    refresh();
}

void TrainingCurvesView::setTitle(const QString& title) {
    m_data.title = title;
    refresh();
}

int TrainingCurvesView::pointCount(const QString& graph) const {
    const QCPGraph* g = graph == QLatin1String("loss")       ? m_loss
                        : graph == QLatin1String("held_out") ? m_heldOut
                        : graph == QLatin1String("ppl")      ? m_ppl
                        : graph == QLatin1String("lr")       ? m_lr
                        : graph == QLatin1String("tokens_per_s") ? m_tps
                                                             : nullptr;
    return g ? g->dataCount() : -1;
}

void TrainingCurvesView::refresh() {
    QVector<double> ppl;
    ppl.reserve(m_data.evalLoss.size());
    for (double l : m_data.evalLoss) ppl.push_back(std::exp(l));
    m_loss->setData(m_data.step, m_data.loss, true);
    m_heldOut->setData(m_data.evalStep, m_data.evalLoss, true);
    m_ppl->setData(m_data.evalStep, ppl, true);
    m_lr->setData(m_data.step, m_data.lr, true);
    // throughput: the reported steps only (a live run's first report may have none)
    QVector<double> tpsStep, tps;
    for (int i = 0; i < m_data.step.size() && i < m_data.tokensPerS.size(); ++i) {
        if (!std::isfinite(m_data.tokensPerS[i])) continue;
        tpsStep.push_back(m_data.step[i]);
        tps.push_back(m_data.tokensPerS[i]);
    }
    m_tps->setData(tpsStep, tps, true);
    QVector<double> tpsAxis = tps;
    tpsAxis.push_back(0);  // from 0, so a slowdown reads as a share of the peak
    fitY(m_tpsRect->axis(QCPAxis::atLeft), tpsAxis);
    double last = m_data.totalSteps;
    if (!m_data.step.isEmpty()) last = std::max(last, m_data.step.last());
    if (!m_data.evalStep.isEmpty()) last = std::max(last, m_data.evalStep.last());
    const double pad = std::max(0.5, 0.02 * last);
    m_lossRect->axis(QCPAxis::atBottom)->setRange(-pad, std::max(1.0, last) + pad);
    fitY(m_lossRect->axis(QCPAxis::atLeft), m_data.loss, m_data.evalLoss);
    fitY(m_pplRect->axis(QCPAxis::atLeft), ppl);
    QVector<double> lr = m_data.lr;
    lr.push_back(0);  // the LR axis starts at 0, so warm-up and decay read as shares of the peak
    fitY(m_lrRect->axis(QCPAxis::atLeft), lr);
    m_title->setText(m_data.title);
    m_title->setVisible(!m_data.title.isEmpty());
    m_plot->replot(QCustomPlot::rpQueuedReplot);
}

bool TrainingCurvesView::exportImage(const QString& path, int width, int height, QString* error) {
    m_plot->replot();
    return plotstyle::exportPlot(m_plot, path, width, height, error);
}

}  // namespace den2moe::ui
