// ConversionPanel: the Experts step. Recipe, E, top-k, ratio, router init; the plan table computed
// before running (per expert its domains and width, then total vs active parameters and FLOPs per
// token, dense vs converted); Run; after a run, per-domain perplexity dense vs converted. The run
// itself goes through the window's JobRunner (runRequested).
#pragma once

#include "engine_bridge.h"
#include "moe_adapters.h"

#include <QWidget>

class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QPushButton;
class QSpinBox;
class QTableWidget;

namespace den2moe::ui {

class ConversionPanel : public QWidget {
    Q_OBJECT
public:
    explicit ConversionPanel(QWidget* parent = nullptr);

    /// The dense model's config (null: unknown, no parameter counts) and prune settings.
    void setModelConfig(const LlamaConfig* cfg, bool biasCompensation = true);
    void setClusters(const ProjectClusters& clusters);
    ConvertSettings settings() const;
    void setSettings(const ConvertSettings& s);
    const ConversionPlan& plan() const { return m_plan; }
    QTableWidget* planTable() const { return m_planTable; }
    QTableWidget* resultTable() const { return m_resultTable; }
    QPushButton* runButton() const { return m_run; }
    void setResult(const bridge::ConversionOutput& out);
    void setRunning(bool running);

Q_SIGNALS:
    void runRequested();

private:
    void updatePlan();
    QComboBox* m_recipe = nullptr;
    QSpinBox* m_experts = nullptr;
    QSpinBox* m_topK = nullptr;
    QDoubleSpinBox* m_ratio = nullptr;
    QComboBox* m_router = nullptr;
    QDoubleSpinBox* m_sharedRatio = nullptr;  ///< den2moee
    QSpinBox* m_nullExperts = nullptr;        ///< den2moee
    QTableWidget* m_planTable = nullptr;
    QTableWidget* m_resultTable = nullptr;
    QLabel* m_summary = nullptr;
    QLabel* m_resultLabel = nullptr;
    QPushButton* m_run = nullptr;
    bool m_hasConfig = false;
    bool m_bias = true;
    bool m_running = false;
    LlamaConfig m_cfg;
    ProjectClusters m_clusters;
    ConversionPlan m_plan;
};

/// "12.3 M" style count.
QString formatCount(int64_t n);

}  // namespace den2moe::ui
