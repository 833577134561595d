// MainWindow: one open project (new / open / save / save as, recent files, unsaved-changes prompt),
// the pipeline panel, the model and domain pickers, the affinity views (dendrogram + heatmap), the
// cluster editor with undo/redo, export, and the task panel driven by the one JobRunner.
// Engine results are immutable (MiningResultPtr); cluster edits are undo commands; a cancelled or
// failed job leaves the project as it was.
#pragma once

#include "engine_bridge.h"
#include "job_runner.h"
#include "pipeline_panel.h"
#include "project/project.h"
#include "view_data.h"

#include <QMainWindow>
#include <QStringList>

class QAction;
class QMenu;
class QTabWidget;
class QUndoStack;

namespace den2moe::ui {

class AffinityView;
class ConversionPanel;
class ExpertLoadView;
class RoutingView;

/// An immutable conversion result (the Experts step), shared by the views.
using ConversionOutputPtr = std::shared_ptr<const bridge::ConversionOutput>;
using HfExportOutputPtr = std::shared_ptr<const bridge::HfExportOutput>;
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
    void setInteractive(bool interactive) { m_interactive = interactive; }

    /// Opens without asking about unsaved changes (the menu actions ask first).
    bool openProject(const QString& path, QString* error = nullptr);
    void newProject();
    /// Shows `project` as the open project (no file is read; used after overriding settings).
    void setProject(const den2moe::Project& project, bool modified);
    bool saveProject(const QString& path, QString* error = nullptr);
    const den2moe::Project& project() const { return m_project; }
    bool isModified() const { return isWindowModified(); }
    QStringList recentFiles() const;

    /// Validates the project, then runs the mining on the JobRunner. False (with the validation
    /// messages in `error`) when it cannot start.
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
    AffinityView* affinityView() const { return m_affinity; }
    ClusterModel* clusterModel() const { return m_clusterModel; }
    ClusterPanel* clusterPanel() const { return m_clusterPanel; }
    PipelinePanel* pipeline() const { return m_pipeline; }
    ProjectPanel* projectPanel() const { return m_projectPanel; }
    TaskPanel* taskPanel() const { return m_tasks; }
    QUndoStack* undoStack() const { return m_undo; }
    QAction* conversionAction() const { return m_rerunConversion; }

    /// The Experts step: converts with the project's current (possibly manual) clusters on the
    /// JobRunner, saves natively into `outDir` ("" = <project cache>/experts/<recipe>), evaluates
    /// (perplexity dense vs converted, expert load) and shows the result in the Experts, Routing and
    /// Expert load tabs. False (with the reason) when it cannot start.
    bool startConversion(const den2moe::ConvertSettings& settings, QString* error = nullptr,
                         const QString& outDir = {});
    /// startConversion with the Experts panel's settings (the "Rerun conversion" action).
    bool startConversionFromPanel(QString* error = nullptr);
    ConversionOutputPtr conversionResult() const { return m_conversion; }
    /// Opens a converted folder for the routing view (no evaluation).
    bool loadConvertedModel(const QString& dir, QString* error = nullptr);
    ConversionPanel* conversionPanel() const { return m_conversionPanel; }
    /// The "Export to Hugging Face…" dialog (created on first use; the source defaults to the model
    /// shown in the routing view).
    ExportDialog* exportDialog();
    /// Runs an export (or a lint-only check) on the JobRunner; the result goes to the dialog and
    /// exportFinished(). False (with the reason) when it cannot start.
    bool startExport(const ExportRequest& request, QString* error = nullptr);
    HfExportOutputPtr exportResult() const { return m_export; }
    RoutingView* routingView() const { return m_routing; }
    ExpertLoadView* expertLoadView() const { return m_expertLoad; }
    QTabWidget* tabs() const { return m_tabs; }

    /// The demo project beside the executable (build tree or installed share dir), "" if none.
    static QString findDemoProject();

Q_SIGNALS:
    void miningFinished();
    void conversionFinished();
    void exportFinished();
    void jobFailed(const QString& message, const QString& hint);
    void jobCancelled();

protected:
    void closeEvent(QCloseEvent* event) override;

private:
    void buildActions();
    void buildMenus();
    void buildDocks();
    void setModified(bool modified);
    void updateTitle();
    void updateSetupSteps();
    void onProjectEdited();
    void onClusterStateChanged();
    void onCutChanged(double height, const ClusterAssignment& assignment);
    void onJobFinished(const QVariant& result);
    void onConversionFinished(const ConversionOutputPtr& result);
    void updateConversionInputs();
    void restoreRunningStep();
    void onJobCancelled();
    void onJobFailed(const QString& message, const QString& hint);
    void pushCommand(class ClusterStateCommand* command);
    bool maybeSave();
    void addRecentFile(const QString& path);
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

    den2moe::Project m_project;
    MiningResultPtr m_mining;
    ConversionOutputPtr m_conversion;
    HfExportOutputPtr m_export;
    ExportDialog* m_exportDialog = nullptr;
    bool m_exportRunning = false;
    PipelineStep m_runningStep = PipelineStep::Mining;
    StepState m_stateBeforeRun = StepState::NotRun;
    QTabWidget* m_tabs = nullptr;
    ConversionPanel* m_conversionPanel = nullptr;
    RoutingView* m_routing = nullptr;
    ExpertLoadView* m_expertLoad = nullptr;
    StepState m_miningStateBeforeRun = StepState::NotRun;
    bool m_interactive = true;
    bool m_loading = false;  // programmatic state changes do not mark the project modified

    JobRunner* m_runner = nullptr;
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

Q_DECLARE_METATYPE(den2moe::ui::ConversionOutputPtr)
Q_DECLARE_METATYPE(den2moe::ui::HfExportOutputPtr)
