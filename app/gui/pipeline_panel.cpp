#include "pipeline_panel.h"

#include <QListWidget>
#include <QPainter>
#include <QPixmap>
#include <QVBoxLayout>

namespace den2moe::ui {

namespace {

QColor stateColor(StepState s, bool available) {
    if (!available) {
        return QColor(0xbd, 0xbd, 0xbd);
    }
    switch (s) {
        case StepState::NotRun: return QColor(0x9e, 0x9e, 0x9e);
        case StepState::Running: return QColor(0x1e, 0x88, 0xe5);
        case StepState::Done: return QColor(0x2e, 0x7d, 0x32);
        case StepState::Stale: return QColor(0xf9, 0xa8, 0x25);
        case StepState::Invalid: return QColor(0xc6, 0x28, 0x28);
    }
    return Qt::gray;
}

QIcon dotIcon(const QColor& c) {
    QPixmap pm(14, 14);
    pm.fill(Qt::transparent);
    QPainter p(&pm);
    p.setRenderHint(QPainter::Antialiasing);
    p.setPen(c.darker(130));
    p.setBrush(c);
    p.drawEllipse(QRectF(2, 2, 10, 10));
    return QIcon(pm);
}

}  // namespace

QString pipelineStepName(PipelineStep step) {
    switch (step) {
        case PipelineStep::Model: return QStringLiteral("Model");
        case PipelineStep::Domains: return QStringLiteral("Domains");
        case PipelineStep::Mining: return QStringLiteral("Mining");
        case PipelineStep::Clusters: return QStringLiteral("Clusters");
        case PipelineStep::Experts: return QStringLiteral("Experts");
        case PipelineStep::Training: return QStringLiteral("Training");
        case PipelineStep::Evaluation: return QStringLiteral("Evaluation");
    }
    return {};
}

QString stepStateName(StepState state) {
    switch (state) {
        case StepState::NotRun: return QStringLiteral("not run");
        case StepState::Running: return QStringLiteral("running");
        case StepState::Done: return QStringLiteral("done");
        case StepState::Stale: return QStringLiteral("stale");
        case StepState::Invalid: return QStringLiteral("needs attention");
    }
    return {};
}

PipelinePanel::PipelinePanel(QWidget* parent)
    : QWidget(parent),
      m_states(kPipelineStepCount, StepState::NotRun),
      m_details(kPipelineStepCount),
      m_available(kPipelineStepCount, true) {
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    m_list = new QListWidget(this);
    m_list->setObjectName(QStringLiteral("pipelineList"));
    m_list->setSelectionMode(QAbstractItemView::SingleSelection);
    layout->addWidget(m_list);
    for (int i = 0; i < kPipelineStepCount; ++i) {
        auto* item = new QListWidgetItem(m_list);
        item->setData(Qt::UserRole, i);
        refresh(PipelineStep(i));
    }
    connect(m_list, &QListWidget::itemActivated, this, [this](QListWidgetItem* item) {
        Q_EMIT stepActivated(PipelineStep(item->data(Qt::UserRole).toInt()));
    });
}

void PipelinePanel::setState(PipelineStep step, StepState state, const QString& detail) {
    m_states[int(step)] = state;
    m_details[int(step)] = detail;
    refresh(step);
}

void PipelinePanel::setAvailable(PipelineStep step, bool available) {
    m_available[int(step)] = available;
    refresh(step);
}

void PipelinePanel::markDownstreamStale(PipelineStep step) {
    for (int i = int(step) + 1; i < kPipelineStepCount; ++i) {
        if (m_states[i] == StepState::Done) {
            m_states[i] = StepState::Stale;
            refresh(PipelineStep(i));
        }
    }
}

QString PipelinePanel::itemText(PipelineStep step) const {
    const int i = int(step);
    QString text = QStringLiteral("%1. %2 — ").arg(i + 1).arg(pipelineStepName(step));
    text += m_available[i] ? stepStateName(m_states[i]) : QStringLiteral("not available yet");
    return text;
}

void PipelinePanel::refresh(PipelineStep step) {
    QListWidgetItem* item = m_list->item(int(step));
    if (!item) {
        return;
    }
    const int i = int(step);
    item->setText(itemText(step));
    item->setIcon(dotIcon(stateColor(m_states[i], m_available[i])));
    QString tip = m_available[i] ? m_details[i] : QStringLiteral("Not available yet: this step's engine is not built.");
    item->setToolTip(tip.isEmpty() ? itemText(step) : tip);
    item->setFlags(m_available[i] ? (Qt::ItemIsEnabled | Qt::ItemIsSelectable) : Qt::NoItemFlags);
}

}  // namespace den2moe::ui
