#include "routing_view.h"

#include "csv_export.h"
#include "job_runner.h"  // errorText
#include "moe_adapters.h"

#include <QComboBox>
#include <QDir>
#include <QFile>
#include <QFileDialog>
#include <QJsonDocument>
#include <QJsonObject>
#include <QMessageBox>
#include <QPushButton>
#include <QStringList>
#include <QEvent>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QHelpEvent>
#include <QImage>
#include <QLabel>
#include <QLineEdit>
#include <QPainter>
#include <QPainterPath>
#include <QPointer>
#include <QPdfWriter>
#include <QScrollArea>
#include <QThread>
#include <QSvgGenerator>
#include <QThreadPool>
#include <QTimer>
#include <QToolTip>
#include <QVBoxLayout>
#include <QtConcurrent/QtConcurrentRun>

namespace den2moe::ui {

namespace {
constexpr int kMargin = 8;
constexpr int kChipH = 24;
constexpr int kGap = 4;
constexpr int kCellW = 14;
constexpr int kCellH = 14;
constexpr int kLabelW = 34;
constexpr int kStripeH = 7;     // a multi-token chip's per-token stripes
constexpr int kMinStripeW = 9;  // narrowest stripe

QColor textOn(const QColor& bg) { return bg.lightnessF() > 0.6 ? Qt::black : Qt::white; }
}  // namespace

bool exportPainted(const QString& path, int width, const std::function<int(QPainter&, int, bool)>& paint,
                   QString* error) {
    const QString suffix = QFileInfo(path).suffix().toLower();
    // measure first
    QImage probe(1, 1, QImage::Format_ARGB32);
    int height = 0;
    {
        QPainter p(&probe);
        height = paint(p, width, false);
    }
    height = std::max(height, 10);
    if (suffix == QLatin1String("svg")) {
        QSvgGenerator gen;
        gen.setFileName(path);
        gen.setSize(QSize(width, height));
        gen.setViewBox(QRect(0, 0, width, height));
        QPainter p;
        if (!p.begin(&gen)) {
            if (error) *error = QStringLiteral("cannot write %1").arg(path);
            return false;
        }
        p.fillRect(QRect(0, 0, width, height), Qt::white);
        paint(p, width, false);
        return p.end();
    }
    if (suffix == QLatin1String("pdf")) {
        QPdfWriter pdf(path);
        pdf.setResolution(96);
        pdf.setPageSize(QPageSize(QSizeF(width, height), QPageSize::Point));
        pdf.setPageMargins(QMarginsF(0, 0, 0, 0));
        QPainter p;
        if (!p.begin(&pdf)) {
            if (error) *error = QStringLiteral("cannot write %1").arg(path);
            return false;
        }
        const double s = pdf.width() / double(width);
        p.scale(s, s);
        paint(p, width, false);
        return p.end();
    }
    QImage img(width * 2, height * 2, QImage::Format_ARGB32);
    img.setDevicePixelRatio(2);
    img.fill(Qt::white);
    {
        QPainter p(&img);
        p.setRenderHint(QPainter::Antialiasing);
        paint(p, width, false);
    }
    if (!img.save(path)) {
        if (error) *error = QStringLiteral("cannot write %1").arg(path);
        return false;
    }
    return true;
}

// ---- RoutingCanvas ----

RoutingCanvas::RoutingCanvas(QWidget* parent) : QWidget(parent) {
    setMouseTracking(true);
    setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Preferred);
}

void RoutingCanvas::setTitle(const QString& title) {
    if (title == m_title) return;
    m_title = title;
    updateGeometry();
    update();
}

void RoutingCanvas::setTrace(std::shared_ptr<const RoutingTrace> trace, const bridge::MoeModelInfo* info, int layer) {
    m_trace = std::move(trace);
    m_info = info;
    m_layer = layer;
    updateGeometry();
    update();
}

int RoutingCanvas::paintAll(QPainter& p, int width, bool record) {
    QFont f = font();
    p.setFont(f);
    const QFontMetrics fm(f);
    if (record) {
        m_chipRects.clear();
        m_cellRects.clear();
    }
    int y = kMargin;
    if (!m_title.isEmpty()) {
        QFont bold = f;
        bold.setBold(true);
        bold.setPointSizeF(f.pointSizeF() * 1.1);
        p.setFont(bold);
        const QFontMetrics bfm(bold);
        p.setPen(Qt::black);
        const QString elided = bfm.elidedText(m_title, Qt::ElideMiddle, width - 2 * kMargin);
        p.drawText(QRect(kMargin, y, width - 2 * kMargin, bfm.height()), Qt::AlignLeft | Qt::AlignVCenter, elided);
        y += bfm.height() + kGap;
        p.setFont(f);
    }
    if (!m_trace) {
        p.setPen(Qt::gray);
        p.drawText(QRect(kMargin, y, width - 2 * kMargin, kChipH), Qt::AlignLeft | Qt::AlignVCenter,
                   tr("Type a text above to see its routing."));
        return y + kChipH + kMargin;
    }
    const RoutingTrace& t = *m_trace;
    const int layerShown = (m_layer >= 0 && m_layer < int(t.moe_layers.size())) ? t.moe_layers[size_t(m_layer)] : -1;
    p.setPen(Qt::black);
    p.drawText(QRect(kMargin, y, width - 2 * kMargin, fm.height()), Qt::AlignLeft,
               tr("Tokens by top-1 expert at layer %1").arg(layerShown));
    y += fm.height() + kGap;
    // chips, flowing: one per span (the tokens of one grapheme cluster or more), a stripe per token
    const auto chips = routingChips(t, m_layer);
    if (record) m_chipRects = QVector<QRect>(int(t.pieces.size()));
    int x = kMargin;
    for (const RoutingChip& chip : chips) {
        QString text = chip.text;
        if (text.trimmed().isEmpty()) text = QString(text).replace(QLatin1Char(' '), QChar(0x2423));
        const int k = std::max(1, chip.tokenCount());
        const int w = std::max(fm.horizontalAdvance(text) + 10, k * kMinStripeW);
        if (x + w > width - kMargin && x > kMargin) {
            x = kMargin;
            y += kChipH + kGap;
        }
        const QRect r(x, y, w, kChipH);
        if (k == 1) {
            p.setPen(Qt::NoPen);
            p.setBrush(chip.color);
            p.drawRoundedRect(r, 5, 5);
            p.setPen(textOn(chip.color));
            p.drawText(r, Qt::AlignCenter, text);
        } else {
            // the span's text on a light chip; along its bottom one stripe per token, in logical order
            QPainterPath shape;
            shape.addRoundedRect(QRectF(r), 5, 5);
            p.setPen(Qt::NoPen);
            p.setBrush(QColor(0xf2, 0xf2, 0xf2));
            p.drawPath(shape);
            p.save();
            p.setClipPath(shape);
            for (int i = 0; i < k; ++i) {
                const int x0 = r.left() + r.width() * i / k, x1 = r.left() + r.width() * (i + 1) / k;
                p.fillRect(QRect(x0 + (i > 0 ? 1 : 0), r.bottom() - kStripeH + 1, x1 - x0 - (i > 0 ? 1 : 0), kStripeH),
                           chip.colors[size_t(i)]);
            }
            p.restore();
            p.setPen(QPen(QColor(0x9a, 0x9a, 0x9a), 1));
            p.setBrush(Qt::NoBrush);
            p.drawPath(shape);
            p.setPen(Qt::black);
            p.drawText(QRect(r.left(), r.top(), r.width(), r.height() - kStripeH), Qt::AlignCenter, text);
        }
        if (record) {
            for (int i = 0; i < k; ++i) {  // a token's hit box: its column of the chip
                const int x0 = r.left() + r.width() * i / k, x1 = r.left() + r.width() * (i + 1) / k;
                const int token = chip.firstToken + i;
                if (token >= 0 && token < m_chipRects.size()) m_chipRects[token] = QRect(x0, r.top(), x1 - x0, r.height());
            }
        }
        x += w + kGap;
    }
    y += kChipH + 2 * kGap + kGap;
    // heat strip: one row per MoE layer, one cell per token
    p.setPen(Qt::black);
    p.drawText(QRect(kMargin, y, width - 2 * kMargin, fm.height()), Qt::AlignLeft,
               tr("Layer × token (colour = top-1 expert)"));
    y += fm.height() + kGap;
    const auto cells = routingHeatCells(t);
    const int nTok = int(t.pieces.size());
    const int cellW = std::max(4, std::min(kCellW, nTok > 0 ? (width - 2 * kMargin - kLabelW) / nTok : kCellW));
    for (size_t l = 0; l < cells.size(); ++l) {
        p.setPen(Qt::black);
        p.drawText(QRect(kMargin, y, kLabelW - 4, kCellH), Qt::AlignRight | Qt::AlignVCenter,
                   QStringLiteral("L%1").arg(l < t.moe_layers.size() ? t.moe_layers[l] : int(l)));
        QVector<QRect> row;
        for (size_t i = 0; i < cells[l].size(); ++i) {
            const QRect r(kMargin + kLabelW + int(i) * cellW, y, cellW - 1, kCellH - 1);
            p.fillRect(r, expertColor(cells[l][i], t.n_experts));
            if (int(l) == m_layer) {
                p.setPen(Qt::black);
                p.setBrush(Qt::NoBrush);
            }
            row.push_back(r);
        }
        if (int(l) == m_layer && !cells[l].empty()) {
            p.setPen(QPen(Qt::black, 1.5));
            p.setBrush(Qt::NoBrush);
            p.drawRect(QRect(kMargin + kLabelW - 1, y - 1, int(cells[l].size()) * cellW + 1, kCellH + 1));
        }
        if (record) m_cellRects.push_back(row);
        y += kCellH;
    }
    y += 2 * kGap + kGap;
    // legend
    p.setPen(Qt::black);
    p.drawText(QRect(kMargin, y, width - 2 * kMargin, fm.height()), Qt::AlignLeft, tr("Experts"));
    y += fm.height() + kGap;
    x = kMargin;
    for (int e = 0; e < t.n_experts; ++e) {
        const QString label = m_info ? expertLabel(*m_info, e) : QStringLiteral("e%1").arg(e);
        const int w = 16 + fm.horizontalAdvance(label) + 14;
        if (x + w > width - kMargin && x > kMargin) {
            x = kMargin;
            y += fm.height() + kGap;
        }
        p.fillRect(QRect(x, y + (fm.height() - 12) / 2, 12, 12), expertColor(e, t.n_experts));
        p.setPen(Qt::black);
        p.drawText(QRect(x + 16, y, w - 16, fm.height()), Qt::AlignLeft | Qt::AlignVCenter, label);
        x += w;
    }
    y += fm.height() + kMargin;
    return y;
}

int RoutingCanvas::heightForWidth(int width) const {
    QImage probe(1, 1, QImage::Format_ARGB32);
    QPainter p(&probe);
    return const_cast<RoutingCanvas*>(this)->paintAll(p, width, false);
}

QSize RoutingCanvas::sizeHint() const { return QSize(600, heightForWidth(600)); }

void RoutingCanvas::paintEvent(QPaintEvent*) {
    QPainter p(this);
    p.fillRect(rect(), Qt::white);
    p.setRenderHint(QPainter::Antialiasing);
    const int h = paintAll(p, width(), true);
    if (h != minimumHeight()) setMinimumHeight(h);
}

int RoutingCanvas::tokenAt(const QPoint& pos) const {
    for (int i = 0; i < m_chipRects.size(); ++i) {
        if (m_chipRects[i].isValid() && m_chipRects[i].contains(pos)) return i;
    }
    for (const auto& row : m_cellRects) {
        for (int i = 0; i < row.size(); ++i) {
            if (row[i].adjusted(0, 0, 1, 1).contains(pos)) return i;
        }
    }
    return -1;
}

QRect RoutingCanvas::chipRect(int token) const {
    return token >= 0 && token < m_chipRects.size() ? m_chipRects[token] : QRect();
}

QString RoutingCanvas::toolTipFor(int token) const {
    return m_trace ? routingTooltip(*m_trace, token, m_info) : QString();
}

bool RoutingCanvas::event(QEvent* e) {
    if (e->type() == QEvent::ToolTip) {
        auto* he = static_cast<QHelpEvent*>(e);
        const int t = tokenAt(he->pos());
        if (t >= 0) {
            QToolTip::showText(he->globalPos(), toolTipFor(t), this);
        } else {
            QToolTip::hideText();
        }
        return true;
    }
    return QWidget::event(e);
}

// ---- RoutingView ----

QString routingModelTitle(const bridge::MoeModelInfo& info) {
    const QString dir = QString::fromStdString(info.dir);
    QString name = QFileInfo(QDir::cleanPath(dir)).fileName();
    if (name.isEmpty()) name = dir;
    QStringList parts{name};
    auto readJson = [&](const QString& file) {
        QFile f(QDir(dir).filePath(file));
        if (!f.open(QIODevice::ReadOnly)) return QJsonObject();
        return QJsonDocument::fromJson(f.readAll()).object();
    };
    const QJsonObject cfg = readJson(QStringLiteral("moe_config.json"));
    const QJsonObject prov = readJson(QStringLiteral("provenance.json"));
    QString recipe = QString::fromStdString(info.recipe);
    if (recipe.isEmpty()) recipe = cfg.value(QStringLiteral("recipe")).toString();
    if (!recipe.isEmpty()) parts << recipe;
    // provenance names the router initialisation (its router_init); moe_config describes it in words
    const QString init = prov.value(QStringLiteral("router_init")).toString();
    const QString described = cfg.value(QStringLiteral("router")).toObject().value(QStringLiteral("init")).toString();
    if (!init.isEmpty()) {
        parts << QObject::tr("%1 routers").arg(init);
    } else if (!described.isEmpty()) {
        parts << QObject::tr("routers: %1").arg(described);
    }
    if (prov.contains(QStringLiteral("seed"))) {
        parts << QObject::tr("seed %1").arg(prov.value(QStringLiteral("seed")).toVariant().toLongLong());
    }
    if (info.n_experts > 0) parts << QObject::tr("%1 experts, top-%2").arg(info.n_experts).arg(info.top_k);
    return parts.join(QStringLiteral(" · "));
}

struct TraceOutcome {
    std::shared_ptr<const RoutingTrace> trace;
    QString error;
};

RoutingView::RoutingView(QWidget* parent) : QWidget(parent), m_alive(std::make_shared<bool>(true)) {
    setObjectName(QStringLiteral("routingView"));
    auto* top = new QHBoxLayout;
    m_edit = new QLineEdit(this);
    m_edit->setObjectName(QStringLiteral("routingText"));
    m_edit->setPlaceholderText(tr("Type a sentence to see which expert each token goes to"));
    m_layer = new QComboBox(this);
    m_layer->setObjectName(QStringLiteral("routingLayer"));
    m_status = new QLabel(this);
    m_compareButton = new QPushButton(tr("Compare with…"), this);
    m_compareButton->setObjectName(QStringLiteral("routingCompare"));
    m_compareButton->setToolTip(tr("Load a second converted model and show its routing of the same text under the first"));
    m_clearCompareButton = new QPushButton(tr("Close comparison"), this);
    m_clearCompareButton->setObjectName(QStringLiteral("routingCompareClear"));
    m_sides[0].layerCombo = m_layer;
    m_sides[1].layerCombo = new QComboBox(this);
    m_sides[1].layerCombo->setObjectName(QStringLiteral("routingCompareLayer"));
    m_sides[1].layerCombo->setToolTip(tr("The MoE layer shown for the comparison model (its own layers)"));
    m_compareLayerLabel = new QLabel(tr("Compared layer"), this);
    top->addWidget(m_edit, 1);
    top->addWidget(new QLabel(tr("Layer"), this));
    top->addWidget(m_layer);
    top->addWidget(m_compareButton);
    top->addWidget(m_compareLayerLabel);
    top->addWidget(m_sides[1].layerCombo);
    top->addWidget(m_clearCompareButton);
    m_note = new QLabel(this);
    m_note->setObjectName(QStringLiteral("routingCompareNote"));
    m_note->setWordWrap(true);
    m_note->setStyleSheet(QStringLiteral("color: #8a5a00"));
    m_note->hide();
    auto* content = new QWidget(this);
    auto* contentLay = new QVBoxLayout(content);
    contentLay->setContentsMargins(0, 0, 0, 0);
    contentLay->setSpacing(0);
    for (int s = 0; s < 2; ++s) {
        m_sides[s].canvas = new RoutingCanvas(content);
        m_sides[s].canvas->setObjectName(s == 0 ? QStringLiteral("routingCanvas") : QStringLiteral("routingCompareCanvas"));
        contentLay->addWidget(m_sides[s].canvas);
    }
    contentLay->addStretch(1);
    m_canvas = m_sides[0].canvas;
    m_sides[1].canvas->hide();
    auto* scroll = new QScrollArea(this);
    scroll->setWidget(content);
    scroll->setWidgetResizable(true);
    auto* lay = new QVBoxLayout(this);
    lay->addLayout(top);
    lay->addWidget(m_status);
    lay->addWidget(m_note);
    lay->addWidget(scroll, 1);

    m_debounce = new QTimer(this);
    m_debounce->setSingleShot(true);
    m_debounce->setInterval(250);
    connect(m_debounce, &QTimer::timeout, this, &RoutingView::startTraces);
    connect(m_edit, &QLineEdit::textChanged, this, &RoutingView::onTextEdited);
    connect(m_layer, &QComboBox::currentIndexChanged, this, [this] { refreshCanvas(); });
    connect(m_sides[1].layerCombo, &QComboBox::currentIndexChanged, this, [this] { refreshCanvas(); });
    connect(m_compareButton, &QPushButton::clicked, this, &RoutingView::chooseCompareModel);
    connect(m_clearCompareButton, &QPushButton::clicked, this, &RoutingView::clearCompareModel);
    m_pool = new QThreadPool(this);
    m_pool->setMaxThreadCount(1);
    setModel(nullptr);
}

RoutingView::~RoutingView() {
    *m_alive = false;
    m_pool->waitForDone();
}

void RoutingView::setModel(bridge::MoeModelPtr model) {
    Side& s = m_sides[0];
    s.model = std::move(model);
    s.trace.reset();
    s.traceText.clear();
    ++s.seq;  // results of the previous model are stale
    std::vector<int> layers;
    if (s.model) {
        const auto& info = bridge::moeModelInfo(*s.model);
        for (int l = 0; l < info.n_layers; ++l) layers.push_back(l);
    }
    fillLayers(0, layers);
    if (s.model) {
        const auto& info = bridge::moeModelInfo(*s.model);
        m_status->setText(tr("%1: %2 experts, top-%3 (%4)")
                              .arg(QString::fromStdString(info.dir))
                              .arg(info.n_experts)
                              .arg(info.top_k)
                              .arg(QString::fromStdString(info.recipe)));
    } else {
        m_status->setText(tr("No converted model: run the Experts step or open a converted folder."));
    }
    m_edit->setEnabled(s.model != nullptr);
    m_compareButton->setEnabled(s.model != nullptr);
    updateTitles();
    refreshCanvas();
    if (s.model && !m_edit->text().isEmpty()) startTrace(0);
}

void RoutingView::setCompareModel(bridge::MoeModelPtr model) {
    Side& s = m_sides[1];
    s.model = std::move(model);
    s.trace.reset();
    s.traceText.clear();
    ++s.seq;  // results of the previous comparison are stale
    std::vector<int> layers;
    if (s.model) {
        for (int l = 0; l < bridge::moeModelInfo(*s.model).n_layers; ++l) layers.push_back(l);
    }
    fillLayers(1, layers);
    s.canvas->setVisible(s.model != nullptr);
    updateTitles();
    refreshCanvas();
    if (s.model && m_sides[0].model && !m_edit->text().isEmpty()) {
        startTrace(1);
    } else {
        Q_EMIT compareTraceUpdated();
    }
}

bool RoutingView::loadCompareModel(const QString& dir, QString* error) {
    try {
        setCompareModel(bridge::loadMoeModel(dir.toStdString()));
        return true;
    } catch (const std::exception& e) {
        if (error) *error = errorText(e);
    }
    return false;
}

void RoutingView::chooseCompareModel() {
    QString start;
    if (m_sides[1].model) {
        start = QString::fromStdString(bridge::moeModelInfo(*m_sides[1].model).dir);
    } else if (m_sides[0].model) {
        start = QFileInfo(QString::fromStdString(bridge::moeModelInfo(*m_sides[0].model).dir)).absolutePath();
    }
    const QString dir = QFileDialog::getExistingDirectory(this, tr("Compare with a converted model"), start);
    if (dir.isEmpty()) return;
    QString error;
    if (!loadCompareModel(dir, &error)) {
        QMessageBox::warning(this, tr("Compare with…"), tr("Cannot open %1:\n%2").arg(dir, error));
    }
}

void RoutingView::updateTitles() {
    const bool comparing = m_sides[1].model != nullptr;
    for (Side& s : m_sides) {
        s.canvas->setTitle(comparing && s.model ? routingModelTitle(bridge::moeModelInfo(*s.model)) : QString());
    }
    m_clearCompareButton->setVisible(comparing);
    m_compareLayerLabel->setVisible(comparing);
    m_sides[1].layerCombo->setVisible(comparing);
    const QString note = comparisonNote();
    m_note->setText(note);
    m_note->setVisible(!note.isEmpty());
    m_compareButton->setText(comparing ? tr("Compare with another…") : tr("Compare with…"));
}

void RoutingView::setDebounceMs(int ms) { m_debounce->setInterval(ms); }

void RoutingView::setText(const QString& text) {
    m_edit->blockSignals(true);
    m_edit->setText(text);
    m_edit->blockSignals(false);
    traceNow();
}

void RoutingView::traceNow() {
    m_debounce->stop();
    startTraces();
}

void RoutingView::onTextEdited() { m_debounce->start(); }

void RoutingView::startTraces() {
    if (!m_sides[0].model) return;
    startTrace(0);
    if (m_sides[1].model) startTrace(1);
}

void RoutingView::startTrace(int side) {
    Side& s = m_sides[side];
    if (!s.model) return;
    const quint64 seq = ++s.seq;
    if (s.running) {
        s.pending = true;  // traced when the running one returns
        return;
    }
    s.running = true;
    s.pending = false;
    ++s.started;
    const QString text = m_edit->text();
    bridge::MoeModelPtr model = s.model;
    QPointer<RoutingView> self(this);
    const int latency = m_latencyMs;
    (void)QtConcurrent::run(m_pool, [self, model, text, seq, latency, side]() {
        if (latency > 0) QThread::msleep(static_cast<unsigned long>(latency));
        TraceOutcome out;
        try {
            out.trace = std::make_shared<const RoutingTrace>(bridge::traceRouting(*model, text.toStdString()));
        } catch (const std::exception& e) {
            out.error = errorText(e);
        }
        // the destructor waits for this pool, so `self` is alive here; the queued call is dropped
        // with the object if it is deleted before delivery
        QMetaObject::invokeMethod(
            self.data(), [self, side, seq, text, out]() {
                if (self) self->onTraceDone(side, seq, text, out.trace, out.error);
            },
            Qt::QueuedConnection);
    });
}

void RoutingView::onTraceDone(int side, quint64 seq, const QString& text, std::shared_ptr<const RoutingTrace> trace,
                              const QString& error) {
    Side& s = m_sides[side];
    s.running = false;
    if (seq != s.seq) {
        ++s.dropped;  // a newer request (or another model) exists: drop, then trace the latest text
        if (s.pending) startTrace(side);
        return;
    }
    s.pending = false;
    if (!error.isEmpty()) {
        const QString msg = side == 0 ? error : tr("comparison model: %1").arg(error);
        m_status->setText(tr("Routing failed: %1").arg(msg));
        Q_EMIT traceFailed(msg);
        return;
    }
    showSideTrace(side, std::move(trace), text);
}

void RoutingView::showTrace(std::shared_ptr<const RoutingTrace> trace, const QString& text) {
    showSideTrace(0, std::move(trace), text);
}

void RoutingView::showSideTrace(int side, std::shared_ptr<const RoutingTrace> trace, const QString& text) {
    Side& s = m_sides[side];
    s.trace = std::move(trace);
    s.traceText = text;
    if (s.trace) {
        bool same = s.layerCombo->count() == int(s.trace->moe_layers.size());
        for (int i = 0; same && i < s.layerCombo->count(); ++i) same = s.layerCombo->itemData(i).toInt() == s.trace->moe_layers[size_t(i)];
        if (!same) fillLayers(side, s.trace->moe_layers);
    }
    updateTitles();  // the note names MoE layer counts once both traces are in
    refreshCanvas();
    if (side == 0) {
        Q_EMIT traceUpdated();
    } else {
        Q_EMIT compareTraceUpdated();
    }
}

int RoutingView::selectedLayer() const { return std::max(0, m_layer->currentIndex()); }

void RoutingView::setSelectedLayer(int index) {
    if (index >= 0 && index < m_layer->count()) m_layer->setCurrentIndex(index);  // a layer the model lacks: ignored
}

int RoutingView::selectedCompareLayer() const { return std::max(0, m_sides[1].layerCombo->currentIndex()); }

void RoutingView::setSelectedCompareLayer(int index) {
    if (index >= 0 && index < m_sides[1].layerCombo->count()) m_sides[1].layerCombo->setCurrentIndex(index);
}

void RoutingView::showCompareTrace(std::shared_ptr<const RoutingTrace> trace, const QString& text) {
    if (m_sides[1].model) showSideTrace(1, std::move(trace), text);
}

void RoutingView::fillLayers(int side, const std::vector<int>& layers) {
    QComboBox* c = m_sides[side].layerCombo;
    const int keep = c->currentIndex();
    c->blockSignals(true);
    c->clear();
    for (int l : layers) c->addItem(QString::number(l), l);
    if (c->count() > 0) c->setCurrentIndex(std::max(0, std::min(keep, c->count() - 1)));
    c->blockSignals(false);
}

QString RoutingView::comparisonNote() const {
    if (!m_sides[0].model || !m_sides[1].model) return {};
    return routingComparisonNote(bridge::moeModelInfo(*m_sides[0].model), bridge::moeModelInfo(*m_sides[1].model),
                                 m_sides[0].trace.get(), m_sides[1].trace.get());
}

void RoutingView::refreshCanvas() {
    for (int i = 0; i < 2; ++i) {
        Side& s = m_sides[i];
        // each side at its own selector's MoE layer index; a canvas never reads past its trace's layers
        const int layer = std::max(0, s.layerCombo->currentIndex());
        s.canvas->setTrace(s.trace, s.model ? &bridge::moeModelInfo(*s.model) : nullptr, layer);
    }
}

bool RoutingView::exportImage(const QString& path, int width, QString* error) {
    if (width <= 0) width = std::max(m_canvas->width(), 900);
    return exportPainted(path, width,
                         [this](QPainter& p, int w, bool rec) {
                             int h = 0;
                             const QString note = comparisonNote();
                             if (!note.isEmpty()) {  // what differs between the two models, above both
                                 const QFontMetrics fm(p.font());
                                 const QRect r = fm.boundingRect(QRect(kMargin, kMargin, w - 2 * kMargin, 1000),
                                                                 Qt::TextWordWrap, note);
                                 p.setPen(QColor(0x8a, 0x5a, 0x00));
                                 p.drawText(QRect(kMargin, kMargin, w - 2 * kMargin, r.height()), Qt::TextWordWrap, note);
                                 h = r.height() + kMargin;
                             }
                             p.save();
                             p.translate(0, h);
                             h += m_sides[0].canvas->paintAll(p, w, rec);
                             p.restore();
                             if (m_sides[1].model) {
                                 p.save();
                                 p.setPen(QPen(Qt::gray, 1));
                                 p.drawLine(kMargin, h, w - kMargin, h);
                                 p.translate(0, h + kGap);
                                 h += kGap + m_sides[1].canvas->paintAll(p, w, rec);
                                 p.restore();
                             }
                             return h;
                         },
                         error);
}

bool RoutingView::exportCsv(const QString& path, QString* error) {
    if (!m_sides[0].trace) {
        if (error) *error = tr("no routing trace to export");
        return false;
    }
    return writeTextFile(path, routingCsv(*m_sides[0].trace), error);
}

}  // namespace den2moe::ui
