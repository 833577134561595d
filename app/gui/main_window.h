// MainWindow: the window of one open project — the pipeline panel, the model and domain pickers, the
// affinity views (dendrogram + heatmap), the cluster editor with undo/redo, the Experts / Routing /
// Expert load tabs, export, and the task panel. The project's life cycle (open / save / recent /
// autosave, the settings it carries) is the ProjectController's; the jobs (mining, conversion, export)
// run through the JobController, each with its own completion handlers. Engine results are immutable
// (MiningResultPtr, ConversionOutputPtr); cluster edits are undo commands; a cancelled or failed job
// leaves the project as it was.
#pragma once

#include "job_controller.h"
#include "job_runner.h"
#include "pipeline_panel.h"
#include "project_controller.h"
#include "step_jobs.h"
#include "view_data.h"

#include "project/project.h"

#include <QMainWindow>
#include <QStringList>

class QAction;
class QMenu;
class QTabWidget;
class QUndoStack;

namespace den2moe::ui {

class AffinityView;
class ConversionPanel;
class EvaluationPanel;
class TrainingPanel;
class ExpertLoadView;
class RoutingView;
class ExportDialog;
struct ExportRequest;
class ClusterModel;
class ClusterPanel;
class ProjectPanel;
class TaskPanel;

/// @brief The Den2MoE Studio window.
class MainWindow : public QMainWindow {
    Q_OBJECT

public:
    explicit MainWindow(QWidget* parent = nullptr);
    ~MainWindow() override;

    /// Headless/test mode: errors go to the log and the error signal only, never to a dialog.
    void setInteractive(bool interactive);

    /// Opens without asking about unsaved changes (the menu actions ask first).
    bool openProject(const QString& path, QString* error = nullptr);
    void newProject();
    /// Shows `project` as the open project (no file is read; used after overriding settings).
    void setProject(const den2moe::Project& project, bool modified);
    bool saveProject(const QString& path, QString* error = nullptr);
    const den2moe::Project& project() const { return m_projects->project(); }
    bool isModified() const { return m_projects->isModified(); }
    QStringList recentFiles() const { return m_projects->recentFiles(); }
    ProjectController* projectController() const { return m_projects; }

    /// Validates the project (validate_mining), then runs the mining on the JobRunner. False (with the
    /// validation messages in `error`) when it cannot start.
    bool startMining(const den2moe::MiningOptions& options = {}, QString* error = nullptr);
    /// Shows a mining result: views, cluster list (the project's manual assignment when it fits,
    /// else the cut at the project's K or cut height). Clears the undo stack.
    void setMiningResult(const MiningResultPtr& result);
    MiningResultPtr miningResult() const { return m_mining; }
    /// load_mining_result(dir) then setMiningResult.
    bool loadMiningDir(const QString& dir, QString* error = nullptr);

    /// Cluster edits, as the cluster list requests them (each one undo command).
    void moveDomains(const QVector<int>& leaves, int cluster);
    void newCluster(const QVector<int>& leaves);
    void mergeClusters(const QVector<int>& clusters);
    void renameCluster(int cluster, const QString& name);
    /// Cuts at K (undoable), like the K spin box.
    void cutAtK(int k);

    /// "heatmap" | "dendrogram" (PNG/SVG/PDF by suffix) or "all" (PNG of both plots); "routing" |
    /// "experts" (PNG/SVG/PDF, or the data as CSV for a .csv path).
    bool exportView(const QString& view, const QString& path, QString* error = nullptr, int width = 0,
                    int height = 0);
    bool exportMatrixCsv(MatrixKind kind, const QString& path, QString* error = nullptr);
    bool exportClustersCsv(const QString& path, QString* error = nullptr);

    JobRunner* jobRunner() const { return m_runner; }
    JobController* jobController() const { return m_jobs; }
    AffinityView* affinityView() const { return m_affinity; }
    ClusterModel* clusterModel() const { return m_clusterModel; }
    ClusterPanel* clusterPanel() const { return m_clusterPanel; }
    PipelinePanel* pipeline() const { return m_pipeline; }
    ProjectPanel* projectPanel() const { return m_projectPanel; }
    TaskPanel* taskPanel() const { return m_tasks; }
    QUndoStack* undoStack() const { return m_undo; }
    QAction* conversionAction() const { return m_rerunConversion; }

    /// The Experts step: run_conversion of `project` with `clusters` and `settings` into `outDir` on the
    /// JobRunner, then the result in the Experts, Routing and Expert load tabs. validate_conversion_job
    /// first: false (with the reason) when it cannot start.
    bool startConversion(const den2moe::Project& project, const den2moe::ProjectClusters& clusters,
                         const den2moe::ConvertSettings& settings, const std::string& outDir,
                         QString* error = nullptr);
    /// The same with the open project and its current (possibly manual) clusters; `outDir` "" =
    /// <project cache>/experts/<recipe>.
    bool startConversion(const den2moe::ConvertSettings& settings, QString* error = nullptr,
                         const QString& outDir = {});
    /// startConversion with the Experts panel's settings (the "Rerun conversion" action).
    bool startConversionFromPanel(QString* error = nullptr);
    ConversionOutputPtr conversionResult() const { return m_conversion; }
    /// Opens a converted folder for the routing view (no evaluation).
    bool loadConvertedModel(const QString& dir, QString* error = nullptr);
    ConversionPanel* conversionPanel() const { return m_conversionPanel; }
    /// The "Export to Hugging Face…" dialog (created on first use with the project's export settings;
    /// the source defaults to the model shown in the routing view).
    ExportDialog* exportDialog();
    /// Runs an export (or a lint-only check) on the JobRunner; the result goes to the dialog and
    /// exportFinished(). False (with the reason) when it cannot start.
    bool startExport(const ExportRequest& request, QString* error = nullptr);
    HfExportOutputPtr exportResult() const { return m_export; }
    RoutingView* routingView() const { return m_routing; }
    ExpertLoadView* expertLoadView() const { return m_expertLoad; }
    /// Two runs' expert load on the project's domains (the engine's project_expert_load of each model,
    /// loaded in fp32) on the JobRunner, then both in the Expert load tab with their change;
    /// expertLoadCompared() when shown. False (with the reason) when it cannot start.
    bool startExpertLoadComparison(const QString& first, const QString& second, QString* error = nullptr);
    /// The Training step: `den2moe train`'s engine call (bridge::train) with the Training tab's model,
    /// output folder and settings, on the JobRunner; live curves from every progress report; the
    /// result in the tab (held-out ppl before/after, the curves from the run's log). `resume`
    /// continues from the output folder's checkpoint. False (with the reason) when it cannot start.
    bool startTraining(bool resume = false, QString* error = nullptr);
    /// Pause: cancels the training job; the engine writes a checkpoint that startTraining(true) resumes.
    void pauseTraining();
    TrainOutputPtr trainingResult() const { return m_training; }
    TrainingPanel* trainingPanel() const { return m_trainingPanel; }
    /// The Evaluation step: `den2moe eval`'s engine calls (bridge::evaluate) with the Evaluation tab's
    /// model, result folder and settings (validate_task_eval first), on the JobRunner; the run's
    /// summary in the tab's table and as a run in the Results tab. False (with the reason) when it
    /// cannot start.
    bool startEvaluation(QString* error = nullptr);
    EvalRunPtr evaluationResult() const { return m_evaluation; }
    EvaluationPanel* evaluationPanel() const { return m_evaluationPanel; }
    /// The Results tab (MTEB result tables of evaluation runs).
    class ResultsView* resultsView() const { return m_results; }
    /// The Runs tab (every run of the project, project/runs.h).
    class RunsPanel* runsPanel() const { return m_runsPanel; }
    QTabWidget* tabs() const { return m_tabs; }

    /// The demo project beside the executable (build tree or installed share dir), "" if none.
    static QString findDemoProject();

Q_SIGNALS:
    void miningFinished();
    void conversionFinished();
    void exportFinished();
    void trainingFinished();
    void evaluationFinished();
    void expertLoadCompared();
    void jobFailed(const QString& message, const QString& hint);
    void jobCancelled();

protected:
    void closeEvent(QCloseEvent* event) override;

private:
    void buildActions();
    void buildMenus();
    void buildDocks();
    void connectJobs();
    void onProjectReset();
    /// Records a folder the app wrote in the project's run index (a failure is logged, never fatal).
    void recordRun(const char* kind, const std::string& dir);
    void updateTitle();
    void updateSetupSteps();
    void onProjectEdited();
    void onClusterStateChanged();
    void onCutChanged(double height, const ClusterAssignment& assignment);
    void onMiningFinished(const MiningResultPtr& result);
    void onConversionFinished(const ConversionOutputPtr& result);
    void onExportFinished(const HfExportOutputPtr& result);
    void onAutosaveFound(const QString& path, const QDateTime& when);
    void updateConversionInputs();
    void pushCommand(class ClusterStateCommand* command);
    bool maybeSave();
    void rebuildRecentMenu();
    void showError(const QString& title, const QString& message, const QString& details = {});
    void log(const QString& line);
    // menu actions (with dialogs)
    void actionNew();
    void actionOpen();
    bool actionSave();
    bool actionSaveAs();
    void actionRunMining();
    void actionLoadMining();
    void actionExportView(const QString& view);
    void actionExportCsv();
    void actionExportClusters();

    ProjectController* m_projects = nullptr;
    MiningResultPtr m_mining;
    ConversionOutputPtr m_conversion;
    HfExportOutputPtr m_export;
    TrainOutputPtr m_training;
    EvalRunPtr m_evaluation;
    TrainingPanel* m_trainingPanel = nullptr;
    EvaluationPanel* m_evaluationPanel = nullptr;
    ExportDialog* m_exportDialog = nullptr;
    QTabWidget* m_tabs = nullptr;
    ConversionPanel* m_conversionPanel = nullptr;
    RoutingView* m_routing = nullptr;
    ExpertLoadView* m_expertLoad = nullptr;
    class ResultsView* m_results = nullptr;
    class RunsPanel* m_runsPanel = nullptr;
    bool m_interactive = true;
    bool m_loading = false;  // programmatic state changes do not mark the project modified

    JobRunner* m_runner = nullptr;
    JobController* m_jobs = nullptr;
    QUndoStack* m_undo = nullptr;
    ClusterModel* m_clusterModel = nullptr;
    AffinityView* m_affinity = nullptr;
    ClusterPanel* m_clusterPanel = nullptr;
    PipelinePanel* m_pipeline = nullptr;
    ProjectPanel* m_projectPanel = nullptr;
    TaskPanel* m_tasks = nullptr;
    QMenu* m_recentMenu = nullptr;
    QAction* m_newAction = nullptr;
    QAction* m_openAction = nullptr;
    QAction* m_saveAction = nullptr;
    QAction* m_saveAsAction = nullptr;
    QAction* m_quitAction = nullptr;
    QAction* m_undoAction = nullptr;
    QAction* m_redoAction = nullptr;
    QAction* m_runMining = nullptr;
    QAction* m_loadMining = nullptr;
    QAction* m_cancelJob = nullptr;
    QAction* m_rerunConversion = nullptr;
};

}  // namespace den2moe::ui
