// ConversionPanel: the Experts step. Its settings widgets are generated from the engine's conversion
// schema (convert_schema(): ranges, choices, help) with the recipes of the registry (recipes(): display
// titles); a setting that does not apply to the chosen recipe (recipe_uses) is disabled, and picking a
// recipe applies the recipe's own defaults (set_recipe). The plan table is the engine's conversion plan
// (plan_conversion on the project's model config: per expert its domains and width, total vs active
// parameters and FLOPs per token, dense vs converted, and the plan's first problem). Edits are reported
// (settingsEdited) so the window keeps them in the project; Run goes through the window's JobRunner
// (runRequested); after a run, per-domain perplexity dense vs converted.
#pragma once

#include "step_jobs.h"

#include "convert/plan.h"
#include "io/hf_config.h"

#include <QWidget>

class QLabel;
class QPushButton;
class QTableWidget;

namespace den2moe::ui {

class SettingsForm;

class ConversionPanel : public QWidget {
    Q_OBJECT
public:
    explicit ConversionPanel(QWidget* parent = nullptr);

    /// The project (its domains, clusters and pruning settings enter the plan) and its dense model's
    /// config (null: unknown, no parameter counts). Does not change the shown settings.
    void setProject(const den2moe::Project& project, const den2moe::LlamaConfig* cfg);
    /// The shown settings (no settingsEdited()).
    void setSettings(const den2moe::ConvertSettings& s);
    const den2moe::ConvertSettings& settings() const { return m_settings; }
    /// The engine's plan for the shown settings.
    const den2moe::ConversionPlan& plan() const { return m_plan; }
    SettingsForm* form() const { return m_form; }
    QTableWidget* planTable() const { return m_planTable; }
    QLabel* planSummary() const { return m_summary; }
    QTableWidget* resultTable() const { return m_resultTable; }
    QPushButton* runButton() const { return m_run; }
    void setResult(const ConversionOutput& out);
    void setRunning(bool running);

Q_SIGNALS:
    void runRequested();
    /// The user changed a setting (the recipe or a field); `settings` are the panel's new settings.
    void settingsEdited(const den2moe::ConvertSettings& settings);

private:
    void onEdited(const QString& key, const QString& text);
    void showSettings();
    void updatePlan();

    SettingsForm* m_form = nullptr;
    QTableWidget* m_planTable = nullptr;
    QTableWidget* m_resultTable = nullptr;
    QLabel* m_summary = nullptr;
    QLabel* m_recipeSummary = nullptr;
    QLabel* m_resultLabel = nullptr;
    QPushButton* m_run = nullptr;
    bool m_hasConfig = false;
    bool m_running = false;
    den2moe::LlamaConfig m_cfg;
    den2moe::Project m_project;
    den2moe::ConvertSettings m_settings;
    den2moe::ConversionPlan m_plan;
};

/// "12.3 M" style count.
QString formatCount(int64_t n);

}  // namespace den2moe::ui
