// ConversionPanel: see conversion_panel.h.
#include "conversion_panel.h"

#include "settings_form.h"

#include "core/error.h"

#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLocale>
#include <QPushButton>
#include <QTableWidget>
#include <QVBoxLayout>

#include <cmath>

namespace den2moe::ui {

namespace {

const QString kRecipeKey = QStringLiteral("recipe");  // convert_schema()'s key of the recipe

/// What the form calls the conversion settings (display strings; the rest say their flag).
QMap<QString, QString> settingLabels() {
    return {{kRecipeKey, ConversionPanel::tr("Recipe")},
            {QStringLiteral("n_experts"), ConversionPanel::tr("Experts")},
            {QStringLiteral("top_k"), ConversionPanel::tr("Top-k")},
            {QStringLiteral("ratio"), ConversionPanel::tr("Pruning ratio")},
            {QStringLiteral("router_init"), ConversionPanel::tr("Router init")},
            {QStringLiteral("shared_ratio"), ConversionPanel::tr("Shared ratio")},
            {QStringLiteral("null_experts"), ConversionPanel::tr("Null experts")},
            {QStringLiteral("prior_scale"), ConversionPanel::tr("Prior scale")},
            {QStringLiteral("router_dense"), ConversionPanel::tr("Dense router")},
            {QStringLiteral("evaluate"), ConversionPanel::tr("Evaluate after converting")}};
}

}  // namespace

QString formatCount(int64_t n) {
    const double v = double(n);
    if (std::abs(v) >= 1e9) return QStringLiteral("%1 G").arg(v / 1e9, 0, 'f', 2);
    if (std::abs(v) >= 1e6) return QStringLiteral("%1 M").arg(v / 1e6, 0, 'f', 2);
    if (std::abs(v) >= 1e3) return QStringLiteral("%1 k").arg(v / 1e3, 0, 'f', 1);
    return QString::number(n);
}

ConversionPanel::ConversionPanel(QWidget* parent) : QWidget(parent) {
    setObjectName(QStringLiteral("conversionPanel"));
    m_form = new SettingsForm(this);
    const den2moe::Schema<den2moe::ConvertSettings>& schema = den2moe::convert_schema();
    QMap<QString, QString> recipeTitles;
    for (const den2moe::RecipeTraits& t : den2moe::recipes()) {
        recipeTitles.insert(QString::fromLatin1(t.name), QString::fromUtf8(t.title));
    }
    const QMap<QString, QString> labels = settingLabels();
    m_form->addField(*schema.find(kRecipeKey.toStdString()), labels.value(kRecipeKey), recipeTitles);
    m_form->addFields(schema, labels, {kRecipeKey});
    m_recipeSummary = new QLabel(this);
    m_recipeSummary->setObjectName(QStringLiteral("recipeSummary"));
    m_recipeSummary->setWordWrap(true);
    m_recipeSummary->setStyleSheet(QStringLiteral("color: gray"));

    m_planTable = new QTableWidget(0, 3, this);
    m_planTable->setObjectName(QStringLiteral("planTable"));
    m_planTable->setHorizontalHeaderLabels({tr("Expert"), tr("Domains"), tr("Width")});
    m_planTable->horizontalHeader()->setSectionResizeMode(1, QHeaderView::Stretch);
    m_planTable->verticalHeader()->hide();
    m_planTable->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_summary = new QLabel(this);
    m_summary->setObjectName(QStringLiteral("planSummary"));
    m_summary->setTextFormat(Qt::RichText);
    m_summary->setWordWrap(true);
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
    left->addWidget(m_form);
    left->addWidget(m_recipeSummary);
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

    connect(m_form, &SettingsForm::edited, this, &ConversionPanel::onEdited);
    connect(m_run, &QPushButton::clicked, this, &ConversionPanel::runRequested);
    showSettings();
    updatePlan();
}

void ConversionPanel::setProject(const den2moe::Project& project, const den2moe::LlamaConfig* cfg) {
    m_project = project;
    m_hasConfig = cfg != nullptr;
    m_cfg = cfg ? *cfg : den2moe::LlamaConfig{};
    updatePlan();
}

void ConversionPanel::setSettings(const den2moe::ConvertSettings& s) {
    m_settings = s;
    showSettings();
    updatePlan();
}

void ConversionPanel::onEdited(const QString& key, const QString& text) {
    den2moe::ConvertSettings s = m_settings;
    try {
        if (key == kRecipeKey) {
            den2moe::set_recipe(s, den2moe::parse_recipe(text.toStdString()));  // with the recipe's own defaults
        } else {
            den2moe::convert_schema().set_text(s, key.toStdString(), text.toStdString());
        }
    } catch (const den2moe::Error& e) {
        m_summary->setText(QStringLiteral("<span style='color:#b00'>%1</span>")
                               .arg(QString::fromStdString(e.message()).toHtmlEscaped()));
        showSettings();  // back to what the settings are
        return;
    }
    m_settings = s;
    showSettings();
    updatePlan();
    Q_EMIT settingsEdited(m_settings);
}

void ConversionPanel::showSettings() {
    m_form->showValues(den2moe::convert_schema(), m_settings);
    for (const den2moe::FieldInfo& f : den2moe::convert_schema().fields()) {
        const QString key = QString::fromStdString(f.key);
        if (key != kRecipeKey) m_form->setFieldEnabled(key, den2moe::recipe_uses(m_settings.recipe, f.key));
    }
    m_recipeSummary->setText(QString::fromUtf8(den2moe::recipe_traits(m_settings.recipe).summary));
}

void ConversionPanel::updatePlan() {
    const den2moe::RecipeTraits& traits = den2moe::recipe_traits(m_settings.recipe);
    m_plan = den2moe::plan_conversion(m_cfg, m_project, m_project.clusters, m_settings);
    m_planTable->setRowCount(int(m_plan.experts.size()));
    for (int r = 0; r < int(m_plan.experts.size()); ++r) {
        const den2moe::ExpertPlan& e = m_plan.experts[size_t(r)];
        const QString name = !traits.makes_moe ? tr("dense") : e.expert < 0 ? tr("shared") : QStringLiteral("e%1").arg(e.expert);
        QStringList domains;
        for (const std::string& d : e.domains) domains << QString::fromStdString(d);
        m_planTable->setItem(r, 0, new QTableWidgetItem(name));
        m_planTable->setItem(r, 1, new QTableWidgetItem(domains.isEmpty() ? tr("(all)") : domains.join(QStringLiteral(", "))));
        m_planTable->setItem(r, 2, new QTableWidgetItem(m_hasConfig ? QString::number(e.width) : QStringLiteral("?")));
    }
    QString text;
    QString exact;
    if (!m_plan.ok()) {
        text = QStringLiteral("<span style='color:#b00'>%1</span>").arg(QString::fromStdString(m_plan.errors.front()).toHtmlEscaped());
        if (!m_plan.hints.front().empty()) {
            text += QStringLiteral("<br><i>%1</i>").arg(QString::fromStdString(m_plan.hints.front()).toHtmlEscaped());
        }
    } else if (m_hasConfig) {
        text = tr("<table><tr><td></td><td><b>dense</b></td><td><b>converted</b></td></tr>"
                  "<tr><td>total parameters</td><td>%1</td><td>%2</td></tr>"
                  "<tr><td>active parameters</td><td>%1</td><td>%3</td></tr>"
                  "<tr><td>FLOPs / token</td><td>%4</td><td>%5</td></tr></table>")
                   .arg(formatCount(m_plan.dense_params), formatCount(m_plan.total_params),
                        formatCount(m_plan.active_params), formatCount(m_plan.dense_flops),
                        formatCount(m_plan.active_flops));
        exact = tr("parameters: dense %1, total %2, active %3; FLOPs per token: dense %4, active %5")
                    .arg(m_plan.dense_params)
                    .arg(m_plan.total_params)
                    .arg(m_plan.active_params)
                    .arg(m_plan.dense_flops)
                    .arg(m_plan.active_flops);
    } else {
        text = tr("The model's config is unknown: no parameter counts.");
    }
    m_summary->setText(text);
    m_summary->setToolTip(exact);
    m_run->setEnabled(!m_running && m_plan.ok());
}

void ConversionPanel::setRunning(bool running) {
    m_running = running;
    m_run->setEnabled(!m_running && m_plan.ok());
}

void ConversionPanel::setResult(const ConversionOutput& out) {
    const QString recipe = QString::fromUtf8(den2moe::recipe_traits(out.settings.recipe).title);
    m_resultLabel->setText(tr("Perplexity per domain: dense vs %1 (saved in %2; %3 s)")
                               .arg(recipe, QString::fromStdString(out.dir))
                               .arg(out.seconds, 0, 'f', 1));
    m_resultLabel->setWordWrap(true);
    m_resultTable->setHorizontalHeaderLabels({tr("Domain"), tr("Dense"), recipe});
    m_resultTable->setRowCount(int(out.ppl.size()));
    for (int r = 0; r < int(out.ppl.size()); ++r) {
        const auto& p = out.ppl[size_t(r)];
        m_resultTable->setItem(r, 0, new QTableWidgetItem(QString::fromStdString(p.domain)));
        m_resultTable->setItem(r, 1, new QTableWidgetItem(QString::number(p.dense, 'f', 2)));
        m_resultTable->setItem(r, 2, new QTableWidgetItem(QString::number(p.converted, 'f', 2)));
    }
}

}  // namespace den2moe::ui
