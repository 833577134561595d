#include "conversion_panel.h"

#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QPushButton>
#include <QSpinBox>
#include <QTableWidget>
#include <QVBoxLayout>

namespace den2moe::ui {

QString formatCount(int64_t n) {
    const double v = double(n);
    if (std::abs(v) >= 1e9) return QStringLiteral("%1 G").arg(v / 1e9, 0, 'f', 2);
    if (std::abs(v) >= 1e6) return QStringLiteral("%1 M").arg(v / 1e6, 0, 'f', 2);
    if (std::abs(v) >= 1e3) return QStringLiteral("%1 k").arg(v / 1e3, 0, 'f', 1);
    return QString::number(n);
}

ConversionPanel::ConversionPanel(QWidget* parent) : QWidget(parent) {
    setObjectName(QStringLiteral("conversionPanel"));
    m_recipe = new QComboBox(this);
    m_recipe->setObjectName(QStringLiteral("recipe"));
    m_recipe->addItems({QStringLiteral("dive"), QStringLiteral("dive-random"), QStringLiteral("random"),
                        QStringLiteral("upcycle"), QStringLiteral("flap"), QStringLiteral("den2moee")});
    m_experts = new QSpinBox(this);
    m_experts->setObjectName(QStringLiteral("experts"));
    m_experts->setRange(1, 256);
    m_experts->setValue(8);
    m_topK = new QSpinBox(this);
    m_topK->setObjectName(QStringLiteral("topK"));
    m_topK->setRange(1, 256);
    m_topK->setValue(1);
    m_ratio = new QDoubleSpinBox(this);
    m_ratio->setObjectName(QStringLiteral("ratio"));
    m_ratio->setRange(0.0, 0.95);
    m_ratio->setSingleStep(0.05);
    m_ratio->setDecimals(2);
    m_ratio->setValue(0.5);
    m_router = new QComboBox(this);
    m_router->setObjectName(QStringLiteral("routerInit"));
    m_router->addItems({QStringLiteral("centroid"), QStringLiteral("random")});
    m_sharedRatio = new QDoubleSpinBox(this);
    m_sharedRatio->setObjectName(QStringLiteral("sharedRatio"));
    m_sharedRatio->setRange(0.0, 0.875);
    m_sharedRatio->setSingleStep(0.125);
    m_sharedRatio->setDecimals(3);
    m_sharedRatio->setValue(0.25);
    m_sharedRatio->setToolTip(tr("Den2MoEE: the share of the K neuron clusters (the broadest) merged into the always-on shared expert"));
    m_nullExperts = new QSpinBox(this);
    m_nullExperts->setObjectName(QStringLiteral("nullExperts"));
    m_nullExperts->setRange(0, 8);
    m_nullExperts->setValue(1);
    m_nullExperts->setToolTip(tr("Den2MoEE: zero-output experts in the routing pool (adaptive compute)"));
    auto* form = new QFormLayout;
    form->addRow(tr("Recipe"), m_recipe);
    form->addRow(tr("Experts (random, upcycle; clusters for den2moee)"), m_experts);
    form->addRow(tr("Top-k"), m_topK);
    form->addRow(tr("Pruning ratio (dive, flap)"), m_ratio);
    form->addRow(tr("Router init (dive)"), m_router);
    form->addRow(tr("Shared ratio (den2moee)"), m_sharedRatio);
    form->addRow(tr("Null experts (den2moee)"), m_nullExperts);

    m_planTable = new QTableWidget(0, 3, this);
    m_planTable->setObjectName(QStringLiteral("planTable"));
    m_planTable->setHorizontalHeaderLabels({tr("Expert"), tr("Domains"), tr("Width")});
    m_planTable->horizontalHeader()->setSectionResizeMode(1, QHeaderView::Stretch);
    m_planTable->verticalHeader()->hide();
    m_planTable->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_summary = new QLabel(this);
    m_summary->setObjectName(QStringLiteral("planSummary"));
    m_summary->setTextFormat(Qt::RichText);
    m_run = new QPushButton(tr("Convert"), this);
    m_run->setObjectName(QStringLiteral("runConversion"));

    m_resultLabel = new QLabel(tr("Perplexity per domain (after a run)"), this);
    m_resultTable = new QTableWidget(0, 3, this);
    m_resultTable->setObjectName(QStringLiteral("pplTable"));
    m_resultTable->setHorizontalHeaderLabels({tr("Domain"), tr("Dense"), tr("Converted")});
    m_resultTable->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    m_resultTable->horizontalHeader()->setStretchLastSection(true);
    m_resultTable->verticalHeader()->hide();
    m_resultTable->setEditTriggers(QAbstractItemView::NoEditTriggers);

    auto* left = new QVBoxLayout;
    left->addLayout(form);
    left->addWidget(m_run);
    left->addStretch(1);
    auto* mid = new QVBoxLayout;
    mid->addWidget(new QLabel(tr("Plan"), this));
    mid->addWidget(m_planTable, 1);
    mid->addWidget(m_summary);
    auto* right = new QVBoxLayout;
    right->addWidget(m_resultLabel);
    right->addWidget(m_resultTable, 1);
    auto* lay = new QHBoxLayout(this);
    lay->addLayout(left);
    lay->addLayout(mid, 3);
    lay->addLayout(right, 2);

    for (QComboBox* c : {m_recipe, m_router}) connect(c, &QComboBox::currentIndexChanged, this, [this] { updatePlan(); });
    for (QSpinBox* s : {m_experts, m_topK, m_nullExperts}) connect(s, &QSpinBox::valueChanged, this, [this] { updatePlan(); });
    for (QDoubleSpinBox* d : {m_ratio, m_sharedRatio}) connect(d, &QDoubleSpinBox::valueChanged, this, [this] { updatePlan(); });
    connect(m_run, &QPushButton::clicked, this, &ConversionPanel::runRequested);
    updatePlan();
}

void ConversionPanel::setModelConfig(const LlamaConfig* cfg, bool biasCompensation) {
    m_hasConfig = cfg != nullptr;
    if (cfg) m_cfg = *cfg;
    m_bias = biasCompensation;
    updatePlan();
}

void ConversionPanel::setClusters(const ProjectClusters& clusters) {
    m_clusters = clusters;
    updatePlan();
}

ConvertSettings ConversionPanel::settings() const {
    ConvertSettings s;
    s.recipe = m_recipe->currentText().toStdString();
    s.n_experts = m_experts->value();
    s.top_k = m_topK->value();
    s.ratio = m_ratio->value();
    s.router_init = m_router->currentText().toStdString();
    s.shared_ratio = m_sharedRatio->value();
    s.null_experts = m_nullExperts->value();
    return s;
}

void ConversionPanel::setSettings(const ConvertSettings& s) {
    m_recipe->setCurrentText(QString::fromStdString(s.recipe));
    m_experts->setValue(int(s.n_experts));
    m_topK->setValue(int(s.top_k));
    m_ratio->setValue(s.ratio);
    m_router->setCurrentText(QString::fromStdString(s.router_init));
    m_sharedRatio->setValue(s.shared_ratio);
    m_nullExperts->setValue(int(s.null_experts));
    updatePlan();
}

void ConversionPanel::updatePlan() {
    const ConvertSettings s = settings();
    const bool dive = s.recipe == "dive" || s.recipe == "dive-random";
    m_experts->setEnabled(s.recipe == "random" || s.recipe == "upcycle" || s.recipe == "den2moee");
    m_ratio->setEnabled(dive || s.recipe == "flap");
    m_router->setEnabled(dive);
    m_sharedRatio->setEnabled(s.recipe == "den2moee");
    m_nullExperts->setEnabled(s.recipe == "den2moee");
    m_topK->setEnabled(s.recipe != "flap");
    if (!m_hasConfig) {
        LlamaConfig none;
        m_plan = planConversion(none, m_clusters, s, m_bias);
    } else {
        m_plan = planConversion(m_cfg, m_clusters, s, m_bias);
    }
    m_planTable->setRowCount(int(m_plan.experts.size()));
    for (int r = 0; r < int(m_plan.experts.size()); ++r) {
        const auto& e = m_plan.experts[size_t(r)];
        const QString name = s.recipe == "flap" ? tr("dense")
                             : e.expert < 0     ? tr("shared")
                                                : QStringLiteral("e%1").arg(e.expert);
        const QString domains = e.domains.isEmpty() ? tr("(all)") : e.domains.join(QStringLiteral(", "));
        m_planTable->setItem(r, 0, new QTableWidgetItem(name));
        m_planTable->setItem(r, 1, new QTableWidgetItem(domains));
        m_planTable->setItem(r, 2, new QTableWidgetItem(m_hasConfig ? QString::number(e.width) : QStringLiteral("?")));
    }
    QString text;
    if (!m_plan.error.isEmpty()) {
        text = QStringLiteral("<span style='color:#b00'>%1</span>").arg(m_plan.error.toHtmlEscaped());
    } else if (m_hasConfig) {
        text = tr("<table><tr><td></td><td><b>dense</b></td><td><b>converted</b></td></tr>"
                  "<tr><td>total parameters</td><td>%1</td><td>%2</td></tr>"
                  "<tr><td>active parameters</td><td>%1</td><td>%3</td></tr>"
                  "<tr><td>FLOPs / token</td><td>%4</td><td>%5</td></tr></table>")
                   .arg(formatCount(m_plan.dense_params), formatCount(m_plan.total_params),
                        formatCount(m_plan.active_params), formatCount(m_plan.dense_flops),
                        formatCount(m_plan.active_flops));
    } else {
        text = tr("The model's config is unknown: no parameter counts.");
    }
    m_summary->setText(text);
    m_run->setEnabled(!m_running && m_plan.error.isEmpty());
}

void ConversionPanel::setRunning(bool running) {
    m_running = running;
    m_run->setEnabled(!m_running && m_plan.error.isEmpty());
}

void ConversionPanel::setResult(const bridge::ConversionOutput& out) {
    m_resultLabel->setText(tr("Perplexity per domain: dense vs %1 (saved in %2; %3 s)")
                               .arg(QString::fromStdString(out.settings.recipe), QString::fromStdString(out.dir))
                               .arg(out.seconds, 0, 'f', 1));
    m_resultLabel->setWordWrap(true);
    m_resultTable->setHorizontalHeaderLabels({tr("Domain"), tr("Dense"), QString::fromStdString(out.settings.recipe)});
    m_resultTable->setRowCount(int(out.ppl.size()));
    for (int r = 0; r < int(out.ppl.size()); ++r) {
        const auto& p = out.ppl[size_t(r)];
        m_resultTable->setItem(r, 0, new QTableWidgetItem(QString::fromStdString(p.domain)));
        m_resultTable->setItem(r, 1, new QTableWidgetItem(QString::number(p.dense, 'f', 2)));
        m_resultTable->setItem(r, 2, new QTableWidgetItem(QString::number(p.converted, 'f', 2)));
    }
}

}  // namespace den2moe::ui
