// MainWindow: see main_window.h.
#include "main_window.h"

#include "affinity_view.h"
#include "cluster_commands.h"
#include "cluster_model.h"
#include "cluster_panel.h"
#include "conversion_panel.h"
#include "csv_export.h"
#include "dendrogram_view.h"
#include "expert_load_view.h"
#include "core/run_context.h"
#include "evaluation_panel.h"
#include "export_dialog.h"
#include "heatmap_view.h"
#include "project_panel.h"
#include "results_adapters.h"
#include "results_view.h"
#include "routing_view.h"
#include "runs_panel.h"
#include "task_panel.h"
#include "training_panel.h"
#include "view_adapters.h"

#include "core/error.h"
#include "mining/mining.h"
#include "pipeline/conversion.h"
#include "pipeline/mining.h"
#include "train/train_settings.h"

#include <QAction>
#include <QApplication>
#include <QCloseEvent>
#include <QCoreApplication>
#include <QDir>
#include <QDockWidget>
#include <QFileDialog>
#include <QFileInfo>
#include <QLocale>
#include <QMenuBar>
#include <QMessageBox>
#include <QPointer>
#include <QStatusBar>
#include <QTabWidget>
#include <QToolBar>
#include <QUndoStack>

#include <cmath>
#include <optional>

namespace den2moe::ui {

namespace {

/// True when the result's provenance matches the project's settings (a result without provenance,
/// e.g. built by hand, is taken as matching).
bool settingsMatch(const den2moe::MiningResult& r, const den2moe::Project& p) {
    if (r.calib_samples == 0) {
        return true;
    }
    return r.calib_samples == p.calib.n_samples && r.calib_seq == p.calib.seq_len &&
           r.eval_windows == p.eval.n_windows && r.eval_seq == p.eval.seq_len && r.dtype == p.dtype &&
           std::abs(r.ratio - p.prune.ratio) < 1e-9 && r.structure == p.prune.structure && r.metric == p.prune.metric;
}

/// The error's text with each line after the first indented, for the log.
QString indented(QString text) {
    return text.replace(QLatin1Char('\n'), QStringLiteral("\n  "));
}

}  // namespace

MainWindow::MainWindow(QWidget* parent) : QMainWindow(parent) {
    setObjectName(QStringLiteral("den2moeStudio"));
    m_projects = new ProjectController(this);
    m_runner = new JobRunner(this);
    m_jobs = new JobController(m_runner, this);
    m_undo = new QUndoStack(this);
    m_clusterModel = new ClusterModel(this);
    m_affinity = new AffinityView(this);
    m_conversionPanel = new ConversionPanel(this);
    m_routing = new RoutingView(this);
    m_expertLoad = new ExpertLoadView(this);
    m_results = new ResultsView(this);
    m_trainingPanel = new TrainingPanel(this);
    m_evaluationPanel = new EvaluationPanel(this);
    m_tabs = new QTabWidget(this);
    m_tabs->setObjectName(QStringLiteral("mainTabs"));
    m_tabs->addTab(m_affinity, tr("Affinity"));
    m_tabs->addTab(m_conversionPanel, tr("Experts"));
    m_tabs->addTab(m_routing, tr("Routing"));
    m_tabs->addTab(m_expertLoad, tr("Expert load"));
    m_tabs->addTab(m_trainingPanel, tr("Training"));
    m_tabs->addTab(m_evaluationPanel, tr("Evaluation"));
    m_tabs->addTab(m_results, tr("Results"));
    m_runsPanel = new RunsPanel(this);
    m_tabs->addTab(m_runsPanel, tr("Runs"));
    setCentralWidget(m_tabs);
    buildActions();
    buildDocks();
    buildMenus();
    m_tasks->attach(m_runner);
    connectJobs();

    connect(m_projects, &ProjectController::projectReset, this, &MainWindow::onProjectReset);
    connect(m_projects, &ProjectController::modifiedChanged, this, [this](bool modified) {
        setWindowModified(modified);
        updateTitle();
    });
    connect(m_projects, &ProjectController::recentFilesChanged, this, &MainWindow::rebuildRecentMenu);
    connect(m_projects, &ProjectController::logged, this, &MainWindow::log);
    connect(m_projects, &ProjectController::autosaveFound, this, &MainWindow::onAutosaveFound);
    connect(m_conversionPanel, &ConversionPanel::runRequested, this, [this] {
        QString error;
        if (!startConversionFromPanel(&error)) {
            showError(tr("Conversion"), error);
        }
    });
    connect(m_conversionPanel, &ConversionPanel::settingsEdited, this, [this](const den2moe::ConvertSettings& s) {
        m_projects->update([&s](den2moe::Project& p) { p.convert = s; });
        if (m_pipeline->state(PipelineStep::Experts) == StepState::Done) {
            m_pipeline->setState(PipelineStep::Experts, StepState::Stale, tr("Settings changed since the last conversion"));
        }
        m_rerunConversion->setEnabled(!m_runner->isBusy() && m_conversionPanel->plan().ok());
    });

    connect(m_clusterModel, &ClusterModel::stateChanged, this, &MainWindow::onClusterStateChanged);
    connect(m_affinity, &AffinityView::cutChanged, this, &MainWindow::onCutChanged);
    connect(m_affinity, &AffinityView::selectionChanged, m_clusterPanel, &ClusterPanel::setSelectedLeaves);
    connect(m_clusterPanel, &ClusterPanel::selectionChanged, m_affinity, &AffinityView::setSelectedLeaves);
    connect(m_clusterPanel, &ClusterPanel::moveRequested, this, &MainWindow::moveDomains);
    connect(m_clusterPanel, &ClusterPanel::newClusterRequested, this, &MainWindow::newCluster);
    connect(m_clusterPanel, &ClusterPanel::mergeRequested, this, &MainWindow::mergeClusters);
    connect(m_clusterPanel, &ClusterPanel::renameRequested, this, &MainWindow::renameCluster);
    connect(m_projectPanel, &ProjectPanel::edited, this, &MainWindow::onProjectEdited);
    connect(m_undo, &QUndoStack::cleanChanged, this, [this](bool) { updateTitle(); });
    connect(m_pipeline, &PipelinePanel::stepActivated, this, [this](PipelineStep step) {
        if (step == PipelineStep::Mining) {
            actionRunMining();
        } else if (step == PipelineStep::Experts) {
            m_tabs->setCurrentWidget(m_conversionPanel);
        } else if (step == PipelineStep::Training) {
            m_tabs->setCurrentWidget(m_trainingPanel);
        } else if (step == PipelineStep::Evaluation) {
            m_tabs->setCurrentWidget(m_evaluationPanel);
        }
    });
    connect(m_trainingPanel, &TrainingPanel::startRequested, this, [this](bool resume) {
        QString error;
        if (!startTraining(resume, &error)) m_trainingPanel->setStopped(false, error);
    });
    connect(m_trainingPanel, &TrainingPanel::pauseRequested, this, &MainWindow::pauseTraining);
    connect(m_trainingPanel, &TrainingPanel::settingEdited, this, [this](const QString& key) {
        // the typed value (the schema's JSON) into the project's training section, saved with the project
        const nlohmann::json all = den2moe::train_schema().to_json(m_trainingPanel->settings());
        const std::string k = key.toStdString();
        if (!all.contains(k)) return;
        m_projects->update([&](den2moe::Project& p) { p.training[k] = all[k]; });
    });
    // the runs of the project: refreshed after every step that writes a folder; "Compare" puts the
    // selected runs' evaluations side by side in the Results tab
    for (auto sig : {&MainWindow::conversionFinished, &MainWindow::exportFinished, &MainWindow::trainingFinished,
                     &MainWindow::evaluationFinished})
        connect(this, sig, m_runsPanel, &RunsPanel::refresh);
    connect(m_runsPanel, &RunsPanel::compareRequested, this, [this](const QStringList& dirs) {
        QString error;
        ResultsData data;
        if (!loadResultsFolders(dirs, &data, &error)) {
            showError(tr("Compare runs"), error);
            return;
        }
        m_results->setResults(data);
        m_tabs->setCurrentWidget(m_results);
    });
    connect(m_runsPanel, &RunsPanel::routingCompareRequested, this, [this](const QString& a, const QString& b) {
        QString error;
        if (!loadConvertedModel(a, &error) || !m_routing->loadCompareModel(b, &error)) {
            showError(tr("Compare routing"), error);
            return;
        }
        m_tabs->setCurrentWidget(m_routing);
    });
    connect(m_runsPanel, &RunsPanel::expertLoadCompareRequested, this, [this](const QString& a, const QString& b) {
        QString error;
        if (!startExpertLoadComparison(a, b, &error)) showError(tr("Compare expert load"), error);
    });
    connect(m_evaluationPanel, &EvaluationPanel::runRequested, this, [this] {
        QString error;
        if (!startEvaluation(&error)) m_evaluationPanel->setStopped(error);
    });
    connect(m_evaluationPanel, &EvaluationPanel::cancelRequested, m_runner, &JobRunner::cancel);
    connect(m_runner, &JobRunner::progress, this,
            [this](const QString& stage, qint64 step, qint64 total, double, const QString& message, const ProgressMetrics&) {
                if (m_runner->jobName() == QLatin1String("evaluation")) m_evaluationPanel->setProgress(stage, step, total, message);
            });
    connect(m_evaluationPanel, &EvaluationPanel::settingsEdited, this, [this](const den2moe::TaskEvalSettings& s) {
        m_projects->update([&s](den2moe::Project& p) { p.task_eval = s; });
        if (m_pipeline->state(PipelineStep::Evaluation) == StepState::Done) {
            m_pipeline->setState(PipelineStep::Evaluation, StepState::Stale, tr("Settings changed since the last evaluation"));
        }
    });
    resize(1500, 950);
    statusBar()->showMessage(tr("Ready"));
    newProject();
}

MainWindow::~MainWindow() = default;

void MainWindow::connectJobs() {
    connect(m_runner, &JobRunner::started, this, [this] {
        m_runMining->setEnabled(false);
        m_loadMining->setEnabled(false);
        m_cancelJob->setEnabled(true);
        m_rerunConversion->setEnabled(false);
        m_conversionPanel->setRunning(true);
    });
    connect(m_runner, &JobRunner::idle, this, [this] {
        m_runMining->setEnabled(true);
        m_loadMining->setEnabled(true);
        m_cancelJob->setEnabled(false);
        m_conversionPanel->setRunning(false);
        m_trainingPanel->setRunning(false);  // the buttons follow the checkpoint a paused run left
        m_evaluationPanel->setRunning(false);
        updateConversionInputs();
    });
    // Each job's own handlers have run by now (JobController); what every job shares:
    connect(m_jobs, &JobController::jobCancelled, this, [this] {
        log(tr("Cancelled: the project is unchanged"));
        statusBar()->showMessage(tr("Cancelled"), 5000);
        Q_EMIT jobCancelled();
    });
    connect(m_jobs, &JobController::jobFailed, this,
            [this](const QString& name, const QString& message, const QString& hint) {
                showError(tr("%1 failed").arg(name), message, hint);
                Q_EMIT jobFailed(message, hint);
            });
}

// ---- building -------------------------------------------------------------------------------------

void MainWindow::buildActions() {
    m_newAction = new QAction(tr("&New project"), this);
    m_newAction->setShortcut(QKeySequence::New);
    connect(m_newAction, &QAction::triggered, this, &MainWindow::actionNew);
    m_openAction = new QAction(tr("&Open project…"), this);
    m_openAction->setShortcut(QKeySequence::Open);
    connect(m_openAction, &QAction::triggered, this, &MainWindow::actionOpen);
    m_saveAction = new QAction(tr("&Save"), this);
    m_saveAction->setShortcut(QKeySequence::Save);
    connect(m_saveAction, &QAction::triggered, this, &MainWindow::actionSave);
    m_saveAsAction = new QAction(tr("Save &as…"), this);
    m_saveAsAction->setShortcut(QKeySequence::SaveAs);
    connect(m_saveAsAction, &QAction::triggered, this, &MainWindow::actionSaveAs);
    m_quitAction = new QAction(tr("&Quit"), this);
    m_quitAction->setShortcut(QKeySequence::Quit);
    connect(m_quitAction, &QAction::triggered, this, &QWidget::close);

    m_undoAction = m_undo->createUndoAction(this, tr("&Undo"));
    m_undoAction->setShortcut(QKeySequence::Undo);
    m_redoAction = m_undo->createRedoAction(this, tr("&Redo"));
    m_redoAction->setShortcut(QKeySequence::Redo);

    m_runMining = new QAction(tr("Run &mining"), this);
    m_runMining->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_R));
    m_runMining->setToolTip(tr("Domain-affinity mining: prune with each domain, evaluate on all, cluster"));
    connect(m_runMining, &QAction::triggered, this, &MainWindow::actionRunMining);
    m_loadMining = new QAction(tr("&Load mining results…"), this);
    m_loadMining->setToolTip(tr("Open a finished mining folder (mining.json)"));
    connect(m_loadMining, &QAction::triggered, this, &MainWindow::actionLoadMining);
    m_cancelJob = new QAction(tr("&Cancel job"), this);
    m_cancelJob->setShortcut(QKeySequence(Qt::Key_Escape));
    m_cancelJob->setEnabled(false);
    connect(m_cancelJob, &QAction::triggered, m_runner, &JobRunner::cancel);

    m_rerunConversion = new QAction(tr("Rerun conversion"), this);
    m_rerunConversion->setObjectName(QStringLiteral("rerunConversion"));
    m_rerunConversion->setEnabled(false);
    m_rerunConversion->setToolTip(tr("Convert the dense model into experts with the current clusters"));
    connect(m_rerunConversion, &QAction::triggered, this, [this] {
        QString error;
        if (!startConversionFromPanel(&error)) {
            showError(tr("Conversion"), error);
        } else {
            m_tabs->setCurrentWidget(m_conversionPanel);
        }
    });
    m_rerunConversion->setStatusTip(m_rerunConversion->toolTip());
}

void MainWindow::buildDocks() {
    setDockNestingEnabled(true);
    m_pipeline = new PipelinePanel(this);
    auto* pipelineDock = new QDockWidget(tr("Pipeline"), this);
    pipelineDock->setObjectName(QStringLiteral("pipelineDock"));
    pipelineDock->setWidget(m_pipeline);
    addDockWidget(Qt::LeftDockWidgetArea, pipelineDock);

    m_projectPanel = new ProjectPanel(this);
    auto* projectDock = new QDockWidget(tr("Model and domains"), this);
    projectDock->setObjectName(QStringLiteral("projectDock"));
    projectDock->setWidget(m_projectPanel);
    addDockWidget(Qt::LeftDockWidgetArea, projectDock);

    m_clusterPanel = new ClusterPanel(m_clusterModel, this);
    m_clusterPanel->addExtraAction(m_rerunConversion);
    auto* clusterDock = new QDockWidget(tr("Clusters"), this);
    clusterDock->setObjectName(QStringLiteral("clusterDock"));
    clusterDock->setWidget(m_clusterPanel);
    addDockWidget(Qt::RightDockWidgetArea, clusterDock);

    m_tasks = new TaskPanel(this);
    auto* taskDock = new QDockWidget(tr("Tasks and log"), this);
    taskDock->setObjectName(QStringLiteral("taskDock"));
    taskDock->setWidget(m_tasks);
    addDockWidget(Qt::BottomDockWidgetArea, taskDock);
    resizeDocks({pipelineDock, clusterDock}, {300, 260}, Qt::Horizontal);
    resizeDocks({taskDock}, {170}, Qt::Vertical);
}

void MainWindow::buildMenus() {
    QMenu* file = menuBar()->addMenu(tr("&File"));
    file->addAction(m_newAction);
    file->addAction(m_openAction);
    m_recentMenu = file->addMenu(tr("Open &recent"));
    file->addAction(m_saveAction);
    file->addAction(m_saveAsAction);
    file->addSeparator();
    file->addAction(tr("Add evaluation results…"), this, [this] {
        m_tabs->setCurrentWidget(m_results);
        m_results->addFoldersDialog();
    });
    QMenu* exportMenu = file->addMenu(tr("&Export"));
    exportMenu->addAction(tr("Heatmap (PNG/SVG/PDF)…"), this, [this] { actionExportView(QStringLiteral("heatmap")); });
    exportMenu->addAction(tr("Dendrogram (PNG/SVG/PDF)…"), this,
                          [this] { actionExportView(QStringLiteral("dendrogram")); });
    exportMenu->addAction(tr("Dendrogram + heatmap (PNG)…"), this, [this] { actionExportView(QStringLiteral("all")); });
    exportMenu->addAction(tr("Routing view (PNG/SVG/PDF/CSV)…"), this, [this] { actionExportView(QStringLiteral("routing")); });
    exportMenu->addAction(tr("Expert load (PNG/SVG/PDF/CSV)…"), this, [this] { actionExportView(QStringLiteral("experts")); });
    exportMenu->addSeparator();
    QAction* hfAct = exportMenu->addAction(tr("Converted model to Hugging Face (Mixtral / Qwen2-MoE)…"), this, [this] {
        ExportDialog* d = exportDialog();
        d->show();
        d->raise();
    });
    hfAct->setObjectName(QStringLiteral("exportHuggingFace"));
    exportMenu->addSeparator();
    exportMenu->addAction(tr("Result table (Markdown/LaTeX/CSV/PNG)…"), this, [this] {
        m_tabs->setCurrentWidget(m_results);
        m_results->exportDialog();
    });
    exportMenu->addAction(tr("Matrices as CSV…"), this, &MainWindow::actionExportCsv);
    exportMenu->addAction(tr("Clusters as CSV…"), this, &MainWindow::actionExportClusters);
    file->addSeparator();
    file->addAction(m_quitAction);

    QMenu* edit = menuBar()->addMenu(tr("&Edit"));
    edit->addAction(m_undoAction);
    edit->addAction(m_redoAction);

    QMenu* run = menuBar()->addMenu(tr("&Run"));
    run->addAction(m_runMining);
    run->addAction(m_loadMining);
    run->addAction(m_cancelJob);
    run->addSeparator();
    run->addAction(m_rerunConversion);
    QAction* compareAct = run->addAction(tr("Compare routing with another converted model…"), this, [this] {
        m_tabs->setCurrentWidget(m_routing);
        m_routing->chooseCompareModel();
    });
    compareAct->setObjectName(QStringLiteral("compareRoutingAction"));
    QAction* clearCompareAct = run->addAction(tr("Close the routing comparison"), this, [this] { m_routing->clearCompareModel(); });
    clearCompareAct->setObjectName(QStringLiteral("clearRoutingCompareAction"));

    QToolBar* tb = addToolBar(tr("Main"));
    tb->setObjectName(QStringLiteral("mainToolBar"));
    tb->addAction(m_openAction);
    tb->addAction(m_saveAction);
    tb->addSeparator();
    tb->addAction(m_undoAction);
    tb->addAction(m_redoAction);
    tb->addSeparator();
    tb->addAction(m_runMining);
    tb->addAction(m_cancelJob);
    tb->addAction(m_rerunConversion);
    rebuildRecentMenu();
}

// ---- project --------------------------------------------------------------------------------------

void MainWindow::newProject() {
    den2moe::Project p;
    p.name = "untitled";
    setProject(p, false);
}

bool MainWindow::openProject(const QString& path, QString* error) {
    if (!m_projects->open(path, error)) {
        return false;
    }
    // A finished mining of this project from an earlier session (written after each run).
    const QString cached = miningCacheDir(project());
    if (!cached.isEmpty() && QFileInfo::exists(cached + QStringLiteral("/mining.json"))) {
        try {
            auto r = std::make_shared<const den2moe::MiningResult>(den2moe::load_mining_result(cached.toStdString()));
            if (miningResultFits(*r, project())) {
                setMiningResult(r);
                log(tr("Loaded the last mining result from %1").arg(cached));
            }
        } catch (const std::exception& e) {
            log(tr("Ignored the cached mining result: %1").arg(errorText(e)));
        }
    }
    return true;
}

void MainWindow::setInteractive(bool interactive) {
    m_interactive = interactive;
    m_runsPanel->setInteractive(interactive);
}

void MainWindow::recordRun(const char* kind, const std::string& dir) {
    const std::string why = den2moe::record_run(project(), kind, dir, "den2moe-studio");
    if (!why.empty()) log(tr("Note: %1").arg(QString::fromStdString(why)));
}

void MainWindow::setProject(const den2moe::Project& project, bool modified) {
    m_projects->reset(project, modified);
}

void MainWindow::onProjectReset() {
    m_loading = true;
    m_mining.reset();
    m_undo->clear();
    m_affinity->clear();
    m_clusterModel->setLabels({});
    m_clusterModel->setState(ClusterState{});
    m_projectPanel->setProject(project());
    m_conversion.reset();
    m_conversionPanel->setSettings(project().convert);
    m_training.reset();
    m_evaluation.reset();
    m_trainingPanel->setProject(project());
    m_evaluationPanel->setProject(project());
    m_runsPanel->setProject(project());
    m_evaluationPanel->setSettings(project().task_eval);
    try {
        m_evaluationPanel->setModelPath(
            project().model.empty() ? QString()
                                    : QString::fromStdString(den2moe::resolve_project_path(project(), project().model)));
    } catch (const std::exception&) {
        m_evaluationPanel->setModelPath({});
    }
    if (m_exportDialog) m_exportDialog->setSettings(project().hf_export);
    m_routing->setModel(nullptr);
    m_expertLoad->setLoad(den2moe::ExpertLoad{});
    for (PipelineStep s : {PipelineStep::Mining, PipelineStep::Clusters, PipelineStep::Experts, PipelineStep::Training,
                           PipelineStep::Evaluation}) {
        m_pipeline->setState(s, StepState::NotRun);
    }
    updateSetupSteps();
    updateConversionInputs();
    updateTitle();
    m_loading = false;
}

bool MainWindow::saveProject(const QString& path, QString* error) {
    if (!m_projects->save(path, error)) {
        return false;
    }
    m_undo->setClean();
    return true;
}

void MainWindow::onAutosaveFound(const QString& path, const QDateTime& when) {
    if (!m_interactive) {
        return;  // logged by the controller; the copy stays for an interactive session
    }
    const auto answer = QMessageBox::question(
        this, tr("Unsaved changes found"),
        tr("This project has changes from %1 that were never saved (%2). Restore them?")
            .arg(QLocale().toString(when, QLocale::ShortFormat), path),
        QMessageBox::Yes | QMessageBox::Discard, QMessageBox::Yes);
    QString error;
    if (answer == QMessageBox::Yes) {
        if (!m_projects->restoreAutosave(&error)) showError(tr("Restore unsaved changes"), error);
    } else {
        m_projects->discardAutosave();
    }
}

void MainWindow::updateTitle() {
    const den2moe::Project& p = project();
    const QString file = p.file.empty() ? tr("untitled") : QFileInfo(QString::fromStdString(p.file)).fileName();
    setWindowTitle(QStringLiteral("%1[*] — %2 — Den2MoE Studio").arg(file, QString::fromStdString(p.name)));
}

void MainWindow::onProjectEdited() {
    m_projects->update([this](den2moe::Project& p) { m_projectPanel->applyTo(p); });
    updateSetupSteps();
    updateConversionInputs();
    if (m_mining) {
        const bool fits = miningResultFits(*m_mining, project());
        m_pipeline->setState(PipelineStep::Mining, StepState::Stale,
                             fits ? tr("Settings changed since the last run") : tr("Domains changed since the last run"));
        if (m_pipeline->state(PipelineStep::Clusters) == StepState::Done) {
            m_pipeline->setState(PipelineStep::Clusters, StepState::Stale, tr("Mining is stale"));
        }
        m_pipeline->markDownstreamStale(PipelineStep::Clusters);
    }
}

void MainWindow::updateSetupSteps() {
    const QStringList messages = m_projectPanel->validationMessages();
    bool modelOk = false;
    try {
        modelOk = !project().model.empty() &&
                  QFileInfo::exists(QString::fromStdString(den2moe::resolve_project_path(project(), project().model)));
    } catch (const std::exception&) {
    }
    m_pipeline->setState(PipelineStep::Model, modelOk ? StepState::Done : StepState::Invalid,
                         modelOk ? QString::fromStdString(project().model) : tr("Pick a model folder"));
    const bool domainsOk = messages.isEmpty() || (!modelOk && messages.size() == 1);
    m_pipeline->setState(PipelineStep::Domains, domainsOk && !project().domain_names().empty() ? StepState::Done
                                                                                               : StepState::Invalid,
                         messages.isEmpty() ? tr("%1 domains").arg(project().domain_names().size())
                                            : messages.join(QLatin1Char('\n')));
}

// ---- mining ---------------------------------------------------------------------------------------

bool MainWindow::startMining(const den2moe::MiningOptions& options, QString* error) {
    if (m_jobs->isBusy()) {
        if (error) {
            *error = tr("Another job is running");
        }
        return false;
    }
    try {
        den2moe::validate_mining(project(), options);
    } catch (const std::exception& e) {
        if (error) {
            *error = errorText(e);
        }
        log(tr("Mining not started, the project needs fixing:\n  %1").arg(indented(errorText(e))));
        return false;
    }
    // The job also writes the result into the project's cache (off the GUI thread), from where the
    // next session reloads it.
    const den2moe::Project p = project();
    const std::string cacheDir = miningCacheDir(p).toStdString();
    const StepState before = m_pipeline->state(PipelineStep::Mining);
    const bool started = m_jobs->start(
        QStringLiteral("mining"),
        [p, options, cacheDir](den2moe::RunContext& ctx) { return runMiningStep(p, options, cacheDir, ctx); },
        [this](const MiningResultPtr& r) { onMiningFinished(r); },
        [this, before](const JobStop&) { m_pipeline->setState(PipelineStep::Mining, before); });
    if (!started) {
        if (error) {
            *error = tr("The job runner is busy");
        }
        return false;
    }
    m_pipeline->setState(PipelineStep::Mining, StepState::Running);
    return true;
}

void MainWindow::onMiningFinished(const MiningResultPtr& r) {
    if (!r) {
        return;
    }
    log(tr("Mining done: %1 domains in %2 s (statistics cache: %3 hits, %4 computed)")
            .arg(r->n)
            .arg(r->timings.total_s, 0, 'f', 1)
            .arg(r->stats_cache_hits)
            .arg(r->stats_cache_misses));
    setMiningResult(r);
    const QString dir = miningCacheDir(project());
    if (QFileInfo::exists(dir + QStringLiteral("/mining.json"))) {
        log(tr("Mining results saved in %1").arg(dir));
    }
    Q_EMIT miningFinished();
}

void MainWindow::setMiningResult(const MiningResultPtr& result) {
    if (!result) {
        return;
    }
    m_loading = true;
    m_mining = result;
    m_undo->clear();
    const QStringList labels = domainLabels(*result);
    const int k = int(std::max<int64_t>(1, std::min<int64_t>(project().cluster.k, result->n)));
    m_clusterModel->setLabels(labels);
    m_clusterModel->setDisplayOrder(leafOrder(*result));
    m_affinity->setData(matrixViewData(*result), dendrogramData(*result), k);

    ClusterState state;
    const ClusterAssignment saved = assignmentFromProject(project().clusters, labels);
    const bool savedFits = project().clusters.manual && !saved.labelOfLeaf.contains(-1) && !saved.isEmpty();
    if (savedFits) {
        state.assignment = saved;
    } else {
        state.cutHeight = project().cluster.cut_height ? *project().cluster.cut_height : cutHeightForK(*result, k);
        state.assignment = assignmentAtCut(*result, state.cutHeight);
    }
    const bool current = miningResultFits(*result, project()) && settingsMatch(*result, project());
    m_pipeline->setState(PipelineStep::Mining, current ? StepState::Done : StepState::Stale,
                         current ? tr("%1 domains, %2 linkage").arg(result->n).arg(QString::fromStdString(result->linkage_method))
                                 : tr("Computed with other domains or settings than the project's: rerun"));
    m_clusterModel->setState(state);
    m_loading = false;
}

bool MainWindow::loadMiningDir(const QString& dir, QString* error) {
    try {
        auto r = std::make_shared<const den2moe::MiningResult>(den2moe::load_mining_result(dir.toStdString()));
        setMiningResult(r);
        log(tr("Loaded mining results from %1").arg(dir));
        return true;
    } catch (const std::exception& e) {
        const QString msg = tr("Cannot load mining results from %1: %2").arg(dir, errorText(e));
        log(msg);
        if (error) {
            *error = msg;
        }
        return false;
    }
}

// ---- clusters -------------------------------------------------------------------------------------

void MainWindow::onClusterStateChanged() {
    const ClusterState& state = m_clusterModel->state();
    m_affinity->setClusterState(state);
    if (!m_mining) {
        return;
    }
    const QStringList& labels = m_clusterModel->labels();
    const bool manual = state.isManual();
    const MiningResultPtr mining = m_mining;
    m_projects->update(
        [&](den2moe::Project& p) {
            p.clusters = projectClusters(state.assignment, labels, manual);
            if (!manual && !std::isnan(state.cutHeight)) {
                // K, plus the height when the line was dragged away from the middle of K's interval.
                const int k = state.assignment.clusterCount();
                p.cluster.k = k;
                const double mid = cutHeightForK(*mining, k);
                if (std::abs(mid - state.cutHeight) > 1e-12) {
                    p.cluster.cut_height = state.cutHeight;
                } else {
                    p.cluster.cut_height.reset();
                }
            }
        },
        !m_loading);
    const QString detail = manual ? tr("%1 clusters, edited by hand").arg(state.assignment.clusterCount())
                                  : tr("K = %1 from the dendrogram cut").arg(state.assignment.clusterCount());
    const StepState clusters = m_pipeline->state(PipelineStep::Mining) == StepState::Stale ? StepState::Stale
                                                                                            : StepState::Done;
    m_pipeline->setState(PipelineStep::Clusters, clusters, detail);
    updateConversionInputs();
    if (!m_loading) {
        m_pipeline->markDownstreamStale(PipelineStep::Clusters);
    }
}

void MainWindow::pushCommand(ClusterStateCommand* command) {
    if (!command->changesSomething()) {
        delete command;
        return;
    }
    m_undo->push(command);
}

void MainWindow::moveDomains(const QVector<int>& leaves, int cluster) {
    pushCommand(new MoveDomainsCommand(m_clusterModel, leaves, cluster));
}

void MainWindow::newCluster(const QVector<int>& leaves) {
    if (!leaves.isEmpty()) {
        pushCommand(new NewClusterCommand(m_clusterModel, leaves));
    }
}

void MainWindow::mergeClusters(const QVector<int>& clusters) {
    pushCommand(new MergeClustersCommand(m_clusterModel, clusters));
}

void MainWindow::renameCluster(int cluster, const QString& name) {
    pushCommand(new RenameClusterCommand(m_clusterModel, cluster, name));
}

void MainWindow::onCutChanged(double height, const ClusterAssignment& assignment) {
    if (m_mining) {
        pushCommand(new CutClustersCommand(m_clusterModel, assignment, height));
    }
}

void MainWindow::cutAtK(int k) {
    if (!m_mining) {
        return;
    }
    const double h = cutHeightForK(*m_mining, k);
    pushCommand(new CutClustersCommand(m_clusterModel, assignmentAtCut(*m_mining, h), h));
}

// ---- export ---------------------------------------------------------------------------------------

bool MainWindow::exportView(const QString& view, const QString& path, QString* error, int width, int height) {
    if (view == QLatin1String("routing")) {
        if (!m_routing->trace()) {
            if (error) *error = tr("Nothing to export: no routing trace (type a text in the Routing tab)");
            return false;
        }
        return path.endsWith(QLatin1String(".csv"), Qt::CaseInsensitive) ? m_routing->exportCsv(path, error)
                                                                         : m_routing->exportImage(path, width, error);
    }
    if (view == QLatin1String("experts")) {
        if (m_expertLoad->load().domains.empty()) {
            if (error) *error = tr("Nothing to export: no expert load (run the Experts step)");
            return false;
        }
        return path.endsWith(QLatin1String(".csv"), Qt::CaseInsensitive) ? m_expertLoad->exportCsv(path, error)
                                                                         : m_expertLoad->exportImage(path, width, error);
    }
    if (!m_mining) {
        if (error) {
            *error = tr("Nothing to export: no mining result");
        }
        return false;
    }
    if (view == QLatin1String("heatmap")) {
        return m_affinity->heatmap()->exportTo(path, width, height, error);
    }
    if (view == QLatin1String("dendrogram")) {
        return m_affinity->exportDendrogram(path, width, height, error);
    }
    const QImage img = m_affinity->renderPlots();
    if (img.isNull() || !img.save(path)) {
        if (error) {
            *error = tr("Cannot write %1").arg(path);
        }
        return false;
    }
    return true;
}

bool MainWindow::exportMatrixCsv(MatrixKind kind, const QString& path, QString* error) {
    const MatrixViewData& data = m_affinity->heatmap()->data();
    const QString csv = matrixCsv(data, kind, m_affinity->heatmap()->displayOrder());
    if (csv.isEmpty()) {
        if (error) {
            *error = tr("No %1 matrix to export").arg(matrixKindName(kind));
        }
        return false;
    }
    return writeTextFile(path, csv, error);
}

bool MainWindow::exportClustersCsv(const QString& path, QString* error) {
    if (m_clusterModel->assignment().isEmpty()) {
        if (error) {
            *error = tr("No clusters to export");
        }
        return false;
    }
    return writeTextFile(path, clustersCsv(m_clusterModel->labels(), m_clusterModel->assignment()), error);
}

// ---- dialogs --------------------------------------------------------------------------------------

void MainWindow::showError(const QString& title, const QString& message, const QString& details) {
    log(QStringLiteral("%1: %2").arg(title, message));
    statusBar()->showMessage(title, 8000);
    if (!m_interactive) {
        return;
    }
    QMessageBox box(QMessageBox::Critical, title, message, QMessageBox::Ok, this);
    if (!details.isEmpty()) {
        box.setInformativeText(details);
        box.setDetailedText(details);
    }
    box.exec();
}

void MainWindow::log(const QString& line) {
    m_tasks->appendLog(line);
}

bool MainWindow::maybeSave() {
    if (!isModified() || !m_interactive) {
        return true;
    }
    const auto answer = QMessageBox::warning(
        this, tr("Unsaved changes"), tr("The project has unsaved changes. Save them?"),
        QMessageBox::Save | QMessageBox::Discard | QMessageBox::Cancel, QMessageBox::Save);
    if (answer == QMessageBox::Save) {
        return actionSave();
    }
    if (answer == QMessageBox::Discard) {
        m_projects->discardAutosave();
        return true;
    }
    return false;
}

void MainWindow::closeEvent(QCloseEvent* event) {
    if (!maybeSave()) {
        event->ignore();
        return;
    }
    if (m_runner->isBusy()) {
        m_runner->cancel();
    }
    event->accept();
}

void MainWindow::actionNew() {
    if (maybeSave()) {
        newProject();
    }
}

void MainWindow::actionOpen() {
    if (!maybeSave()) {
        return;
    }
    const QString path = QFileDialog::getOpenFileName(this, tr("Open project"), QString(),
                                                      tr("Den2MoE projects (*.den2moe.json *.json)"));
    QString error;
    if (!path.isEmpty() && !openProject(path, &error)) {
        showError(tr("Open project"), error);
    }
}

bool MainWindow::actionSave() {
    if (project().file.empty()) {
        return actionSaveAs();
    }
    QString error;
    if (!saveProject(QString::fromStdString(project().file), &error)) {
        showError(tr("Save project"), error);
        return false;
    }
    return true;
}

bool MainWindow::actionSaveAs() {
    QString path = QFileDialog::getSaveFileName(this, tr("Save project as"), QString::fromStdString(project().file),
                                                tr("Den2MoE projects (*.den2moe.json)"));
    if (path.isEmpty()) {
        return false;
    }
    if (!path.endsWith(QLatin1String(".json"))) {
        path += QStringLiteral(".den2moe.json");
    }
    QString error;
    if (!saveProject(path, &error)) {
        showError(tr("Save project"), error);
        return false;
    }
    return true;
}

void MainWindow::actionRunMining() {
    QString error;
    if (!startMining({}, &error)) {
        showError(tr("Cannot run the mining"), tr("Fix the project first:"), error);
    }
}

void MainWindow::actionLoadMining() {
    const QString dir = QFileDialog::getExistingDirectory(this, tr("Mining results folder (with mining.json)"));
    QString error;
    if (!dir.isEmpty() && !loadMiningDir(dir, &error)) {
        showError(tr("Load mining results"), error);
    }
}

void MainWindow::actionExportView(const QString& view) {
    const bool moe = view == QLatin1String("routing") || view == QLatin1String("experts");
    const QString filter = view == QLatin1String("all") ? tr("PNG image (*.png)")
                           : moe ? tr("PNG image (*.png);;SVG drawing (*.svg);;PDF (*.pdf);;CSV data (*.csv)")
                                 : tr("PNG image (*.png);;SVG drawing (*.svg);;PDF (*.pdf)");
    const QString path = QFileDialog::getSaveFileName(this, tr("Export %1").arg(view), view + QStringLiteral(".png"),
                                                      filter);
    QString error;
    if (!path.isEmpty() && !exportView(view, path, &error)) {
        showError(tr("Export"), error);
    } else if (!path.isEmpty()) {
        log(tr("Exported %1").arg(path));
    }
}

void MainWindow::actionExportCsv() {
    const QString dir = QFileDialog::getExistingDirectory(this, tr("Folder for ppl.csv, normalized.csv, correlation.csv"));
    if (dir.isEmpty()) {
        return;
    }
    const QList<QPair<MatrixKind, QString>> files = {{MatrixKind::Raw, QStringLiteral("ppl.csv")},
                                                     {MatrixKind::Normalized, QStringLiteral("normalized.csv")},
                                                     {MatrixKind::Correlation, QStringLiteral("correlation.csv")}};
    for (const auto& f : files) {
        QString error;
        const QString path = QDir(dir).filePath(f.second);
        if (!exportMatrixCsv(f.first, path, &error)) {
            showError(tr("Export CSV"), error);
            return;
        }
        log(tr("Exported %1").arg(path));
    }
}

void MainWindow::actionExportClusters() {
    const QString path = QFileDialog::getSaveFileName(this, tr("Export clusters"), QStringLiteral("clusters.csv"),
                                                      tr("CSV (*.csv)"));
    QString error;
    if (!path.isEmpty() && !exportClustersCsv(path, &error)) {
        showError(tr("Export clusters"), error);
    }
}

// ---- recent files ---------------------------------------------------------------------------------

void MainWindow::rebuildRecentMenu() {
    if (!m_recentMenu) {
        return;
    }
    m_recentMenu->clear();
    const QStringList files = recentFiles();
    for (const QString& f : files) {
        QAction* act = m_recentMenu->addAction(QFileInfo(f).fileName());
        act->setToolTip(f);
        connect(act, &QAction::triggered, this, [this, f] {
            QString error;
            if (maybeSave() && !openProject(f, &error)) {
                showError(tr("Open project"), error);
            }
        });
    }
    m_recentMenu->setEnabled(!files.isEmpty());
}

QString MainWindow::findDemoProject() {
    const QDir exe(QCoreApplication::applicationDirPath());
    const QStringList candidates = {
        exe.filePath(QStringLiteral("../../projects/demo.den2moe.json")),         // build tree: <build>/bin
        exe.filePath(QStringLiteral("../share/den2moe/projects/demo.den2moe.json")),  // installed
        exe.filePath(QStringLiteral("../../../projects/demo.den2moe.json")),
    };
    for (const QString& c : candidates) {
        if (QFileInfo::exists(c)) {
            return QFileInfo(c).canonicalFilePath();
        }
    }
    return {};
}

// ---- experts (conversion), routing, expert load -----------------------------------------------------

void MainWindow::updateConversionInputs() {
    const den2moe::Project& p = project();
    std::optional<den2moe::LlamaConfig> cfg;
    try {
        if (!p.model.empty()) {
            // only the cheap case on the GUI thread: a Hugging Face folder's config.json (a llama2.c
            // checkpoint would be read whole)
            const QString path = QString::fromStdString(den2moe::resolve_project_path(p, p.model));
            if (QFileInfo(path).isDir() || path.endsWith(QLatin1String("config.json"))) {
                cfg = den2moe::project_model_config(p);
            }
        }
    } catch (const std::exception&) {
        cfg.reset();
    }
    m_conversionPanel->setProject(p, cfg ? &*cfg : nullptr);
    m_rerunConversion->setEnabled(!m_runner->isBusy() && m_conversionPanel->plan().ok());
}

bool MainWindow::startConversionFromPanel(QString* error) {
    return startConversion(m_conversionPanel->settings(), error);
}

bool MainWindow::startConversion(const den2moe::ConvertSettings& settings, QString* error, const QString& outDir) {
    std::string dir;
    try {
        dir = outDir.isEmpty() ? den2moe::default_conversion_dir(project(), settings.recipe) : outDir.toStdString();
    } catch (const std::exception& e) {
        if (error) *error = errorText(e);
        return false;
    }
    return startConversion(project(), project().clusters, settings, dir, error);
}

bool MainWindow::startConversion(const den2moe::Project& project, const den2moe::ProjectClusters& clusters,
                                 const den2moe::ConvertSettings& settings, const std::string& outDir, QString* error) {
    QString problem;
    if (m_jobs->isBusy()) {
        problem = tr("Another job is running (%1)").arg(m_runner->jobName());
    } else {
        try {
            den2moe::validate_conversion_job(project, clusters, settings, outDir);
        } catch (const std::exception& e) {
            problem = errorText(e);
        }
    }
    if (!problem.isEmpty()) {
        if (error) {
            *error = problem;
        }
        log(tr("Conversion not started:\n  %1").arg(indented(problem)));
        return false;
    }
    const StepState before = m_pipeline->state(PipelineStep::Experts);
    const bool started = m_jobs->start(
        QStringLiteral("conversion"),
        [project, clusters, settings, outDir](den2moe::RunContext& ctx) {
            return runConversionStep(project, clusters, settings, outDir, ctx);
        },
        [this](const ConversionOutputPtr& r) { onConversionFinished(r); },
        [this, before](const JobStop&) { m_pipeline->setState(PipelineStep::Experts, before); });
    if (!started) {
        if (error) *error = tr("The job runner is busy");
        return false;
    }
    m_pipeline->setState(PipelineStep::Experts, StepState::Running);
    log(tr("Conversion (%1) started into %2")
            .arg(QString::fromLatin1(den2moe::recipe_name(settings.recipe)), QString::fromStdString(outDir)));
    return true;
}

void MainWindow::onConversionFinished(const ConversionOutputPtr& r) {
    if (!r) {
        return;
    }
    m_conversion = r;
    const QString recipe = QString::fromLatin1(den2moe::recipe_name(r->settings.recipe));
    log(tr("Conversion done (%1) in %2 s, saved in %3 (statistics cache: %4 hits, %5 computed)")
            .arg(recipe)
            .arg(r->seconds, 0, 'f', 1)
            .arg(QString::fromStdString(r->dir))
            .arg(r->cache_hits)
            .arg(r->cache_misses));
    m_conversionPanel->setResult(*r);
    if (r->model) {  // the next steps start from the converted model
        m_trainingPanel->setModelDir(QString::fromStdString(r->dir));
        m_evaluationPanel->setModelPath(QString::fromStdString(r->dir));
    }
    m_routing->setModel(r->model);
    m_expertLoad->setLoad(r->load, r->model ? &bridge::moeModelInfo(*r->model) : nullptr);
    m_pipeline->setState(PipelineStep::Experts, StepState::Done,
                         tr("%1, %2 experts").arg(recipe).arg(r->model ? bridge::moeModelInfo(*r->model).n_experts : 0));
    Q_EMIT conversionFinished();
}

bool MainWindow::loadConvertedModel(const QString& dir, QString* error) {
    try {
        bridge::MoeModelPtr m = bridge::loadMoeModel(dir.toStdString());
        m_routing->setModel(m);
        log(tr("Opened the converted model %1").arg(dir));
        return true;
    } catch (const std::exception& e) {
        if (error) *error = errorText(e);
    }
    return false;
}

namespace {
/// Both sides of an expert-load comparison, measured on the worker.
struct LoadPair {
    bridge::MoeModelPtr a, b;
    den2moe::ExpertLoad loadA, loadB;
};
}  // namespace

bool MainWindow::startExpertLoadComparison(const QString& first, const QString& second, QString* error) {
    if (m_jobs->isBusy()) {
        if (error) *error = tr("Another job is running (%1)").arg(m_runner->jobName());
        return false;
    }
    const den2moe::Project p = project();
    const std::string a = first.toStdString(), b = second.toStdString();
    const bool started = m_jobs->start(
        QStringLiteral("expert load"),
        [p, a, b](den2moe::RunContext& ctx) {
            auto out = std::make_shared<LoadPair>();
            ctx.report("expert load", 0, 2, a);
            out->a = bridge::loadMoeModel(a);
            out->loadA = bridge::expertLoad(p, *out->a);
            ctx.check_cancelled();
            ctx.report("expert load", 1, 2, b);
            out->b = bridge::loadMoeModel(b);
            out->loadB = bridge::expertLoad(p, *out->b);
            ctx.report("expert load", 2, 2, b);
            return std::shared_ptr<const LoadPair>(out);
        },
        [this](const std::shared_ptr<const LoadPair>& r) {
            m_expertLoad->setLoad(r->loadA, &bridge::moeModelInfo(*r->a));
            m_expertLoad->setCompareLoad(r->loadB, &bridge::moeModelInfo(*r->b));
            m_tabs->setCurrentWidget(m_expertLoad);
            log(tr("Expert load compared: %1 and %2").arg(QString::fromStdString(bridge::moeModelInfo(*r->a).dir),
                                                          QString::fromStdString(bridge::moeModelInfo(*r->b).dir)));
            Q_EMIT expertLoadCompared();
        });
    if (!started) {
        if (error) *error = tr("The job runner is busy");
        return false;
    }
    log(tr("Measuring the expert load of %1 and %2").arg(first, second));
    return true;
}

ExportDialog* MainWindow::exportDialog() {
    if (!m_exportDialog) {
        m_exportDialog = new ExportDialog(this);
        m_exportDialog->setSettings(project().hf_export);
        connect(m_exportDialog, &ExportDialog::requested, this, [this](const ExportRequest& r) {
            QString error;
            if (!startExport(r, &error)) m_exportDialog->showError(error);
        });
        connect(m_exportDialog, &ExportDialog::settingsEdited, this, [this](const den2moe::ExportSettings& s) {
            m_projects->update([&s](den2moe::Project& p) { p.hf_export = s; });
        });
    }
    if (m_exportDialog->source().isEmpty() && m_routing->model()) {
        m_exportDialog->setSource(QString::fromStdString(bridge::moeModelInfo(*m_routing->model()).dir));
    }
    return m_exportDialog;
}

bool MainWindow::startExport(const ExportRequest& r, QString* error) {
    if (r.source.isEmpty()) {
        if (error) *error = tr("choose a converted model folder (den2moe convert or the Experts step writes one)");
        return false;
    }
    if (!r.lintOnly && r.out.isEmpty()) {
        if (error) *error = tr("choose an output folder");
        return false;
    }
    if (m_jobs->isBusy()) {
        if (error) *error = tr("Another job is running (%1)").arg(m_runner->jobName());
        return false;
    }
    const std::string src = r.source.toStdString(), out = r.out.toStdString(), tok = r.tokenizer.toStdString();
    const den2moe::ExportSettings settings = r.settings;
    const bool lintOnly = r.lintOnly;
    const bool started = m_jobs->start(
        QStringLiteral("export"),
        [src, settings, out, lintOnly, tok](den2moe::RunContext& ctx) {
            return HfExportOutputPtr(
                std::make_shared<const bridge::HfExportOutput>(bridge::exportHf(src, settings, out, lintOnly, tok, ctx)));
        },
        [this](const HfExportOutputPtr& x) { onExportFinished(x); },
        [this](const JobStop& stop) {
            QString text = stop.message;
            if (stop.cancelled) {
                text = tr("cancelled; nothing was written");
            } else if (!stop.hint.isEmpty()) {
                text += QStringLiteral(" (") + stop.hint + QLatin1Char(')');
            }
            exportDialog()->showError(text);
        });
    if (!started) {
        if (error) *error = tr("The job runner is busy");
        return false;
    }
    exportDialog()->setBusy(true);
    const QString format = QString::fromStdString(settings.format);
    log(lintOnly ? tr("Checking the %1 export of %2").arg(format, r.source)
                 : tr("Exporting %1 as %2 into %3").arg(r.source, format, r.out));
    return true;
}

void MainWindow::onExportFinished(const HfExportOutputPtr& x) {
    m_export = x;
    if (m_export) {
        exportDialog()->showResult(*m_export);
        if (!m_export->out_dir.empty()) {
            recordRun("export", m_export->out_dir);
            log(tr("Exported %1 as %2 into %3 (%4 warnings)")
                    .arg(QString::fromStdString(m_export->source), QString::fromStdString(m_export->format),
                         QString::fromStdString(m_export->out_dir))
                    .arg(m_export->warnings));
        } else {
            log(tr("Export check (%1): %2 errors, %3 warnings")
                    .arg(QString::fromStdString(m_export->format))
                    .arg(m_export->errors)
                    .arg(m_export->warnings));
        }
    }
    Q_EMIT exportFinished();
}

bool MainWindow::startTraining(bool resume, QString* error) {
    TrainingPanel* panel = m_trainingPanel;
    const std::string model = panel->modelDir().toStdString(), out = panel->outDir().toStdString();
    const den2moe::TrainSettings settings = panel->settings();
    QString problem;
    if (m_jobs->isBusy()) {
        problem = tr("Another job is running (%1)").arg(m_runner->jobName());
    } else if (model.empty()) {
        problem = tr("choose the source model: a converted folder (the Experts step or `den2moe convert` writes one)");
    } else if (out.empty()) {
        problem = tr("choose an output folder");
    } else {
        try {
            den2moe::validate_train_settings(settings);  // the rest (model, data, folder) before any work, on the worker
        } catch (const std::exception& e) {
            problem = errorText(e);
        }
    }
    if (!problem.isEmpty()) {
        if (error) *error = problem;
        log(tr("Training not started:\n  %1").arg(indented(problem)));
        return false;
    }
    const den2moe::Project project = this->project();
    QPointer<TrainingPanel> live(panel);
    const StepState before = m_pipeline->state(PipelineStep::Training);
    const bool started = m_jobs->start(
        QStringLiteral("training"),
        [project, model, settings, out, resume, live](den2moe::RunContext& ctx) {
            // every report reaches the curves (the runner's progress() coalesces: it would drop points)
            den2moe::RunContext::ProgressFn forward = ctx.on_progress;
            ctx.on_progress = [forward, live](const den2moe::Progress& p) {
                if (forward) forward(p);
                if (p.stage != "train") return;
                QMap<QString, double> metrics;
                for (const den2moe::Metric& m : p.metrics) metrics.insert(QString::fromStdString(m.name), m.value);
                const qint64 step = p.step, total = p.total;
                const double eta = p.eta_s;
                TrainingPanel* target = live.data();
                if (!target) return;
                QMetaObject::invokeMethod(
                    target, [live, step, total, eta, metrics] {
                        if (live) live->addProgress(QStringLiteral("train"), step, total, eta, metrics);
                    },
                    Qt::QueuedConnection);
            };
            return TrainOutputPtr(std::make_shared<const bridge::TrainOutput>(
                bridge::train(project, model, settings, out, resume, ctx)));
        },
        [this](const TrainOutputPtr& r) {
            m_training = r;
            m_trainingPanel->setResult(*r);
            m_evaluationPanel->setModelPath(QString::fromStdString(r->out_dir));
            const double ppl = std::exp(r->after.mean);
            m_pipeline->setState(PipelineStep::Training, StepState::Done,
                                 tr("%1 stage, held-out ppl %2").arg(QString::fromStdString(r->stage)).arg(ppl, 0, 'f', 2));
            log(tr("Training (%1 stage) done: %2 steps in %3 s, held-out ppl %4, saved in %5")
                    .arg(QString::fromStdString(r->stage))
                    .arg(r->steps)
                    .arg(r->seconds, 0, 'f', 1)
                    .arg(ppl, 0, 'f', 3)
                    .arg(QString::fromStdString(r->out_dir)));
            Q_EMIT trainingFinished();
        },
        [this, before](const JobStop& stop) {
            m_pipeline->setState(PipelineStep::Training, before);
            m_trainingPanel->setStopped(stop.cancelled, stop.hint.isEmpty() ? stop.message
                                                                           : stop.message + QStringLiteral("\nhint: ") + stop.hint);
        });
    if (!started) {
        if (error) *error = tr("The job runner is busy");
        return false;
    }
    panel->setRunning(true, resume);
    m_pipeline->setState(PipelineStep::Training, StepState::Running);
    m_tabs->setCurrentWidget(panel);
    log(tr("Training (%1 stage) %2 %3 into %4")
            .arg(QString::fromStdString(settings.stage), resume ? tr("resumed from the checkpoint of") : tr("of"),
                 QString::fromStdString(model), QString::fromStdString(out)));
    return true;
}

void MainWindow::pauseTraining() {
    if (m_runner->isBusy() && m_runner->jobName() == QLatin1String("training")) m_runner->cancel();
}

bool MainWindow::startEvaluation(QString* error) {
    EvaluationPanel* panel = m_evaluationPanel;
    const std::string model = panel->modelPath().toStdString();
    den2moe::TaskEvalOutput out;
    out.shared_dir = den2moe::find_shared_dir(project().file);
    out.out_dir = panel->outDir().toStdString();
    out.cache_dir = den2moe::default_eval_cache_dir();
    const den2moe::TaskEvalSettings settings = panel->settings();
    QString problem;
    if (m_jobs->isBusy()) {
        problem = tr("Another job is running (%1)").arg(m_runner->jobName());
    } else if (model.empty()) {
        problem = tr("choose the model to evaluate");
    } else {
        try {
            den2moe::validate_task_eval(settings, den2moe::EvalModelCaps{}, out.shared_dir);  // tasks and data first
        } catch (const std::exception& e) {
            problem = errorText(e);
        }
    }
    if (!problem.isEmpty()) {
        if (error) *error = problem;
        log(tr("Evaluation not started:\n  %1").arg(indented(problem)));
        return false;
    }
    const StepState before = m_pipeline->state(PipelineStep::Evaluation);
    const bool started = m_jobs->start(
        QStringLiteral("evaluation"),
        [model, settings, out](den2moe::RunContext& ctx) {
            auto r = std::make_shared<EvalRunOutput>();
            r->run = bridge::evaluate(model, settings, out, ctx);
            r->out_dir = out.out_dir;
            return EvalRunPtr(r);
        },
        [this](const EvalRunPtr& r) {
            m_evaluation = r;
            const QString dir = QString::fromStdString(r->out_dir);
            if (!r->out_dir.empty()) recordRun("evaluation", r->out_dir);
            m_evaluationPanel->setResult(r->run.summary, dir, r->run.cache_hits);
            ResultsData data = m_results->model()->resultsData();
            appendResults(data, resultsDataFrom({{r->out_dir.empty() ? r->run.summary.model_path : r->out_dir,
                                                  r->run.summary}}));
            m_results->setResults(data);
            m_pipeline->setState(PipelineStep::Evaluation, StepState::Done,
                                 tr("%1 tasks of %2").arg(r->run.summary.tasks.size()).arg(QString::fromStdString(r->run.summary.model)));
            log(tr("Evaluation done: %1 tasks (%2 from the cache) → %3")
                    .arg(r->run.summary.tasks.size())
                    .arg(r->run.cache_hits)
                    .arg(dir));
            Q_EMIT evaluationFinished();
        },
        [this, before](const JobStop& stop) {
            m_pipeline->setState(PipelineStep::Evaluation, before);
            m_evaluationPanel->setStopped(stop.cancelled ? tr("Cancelled: the finished tasks kept their files.")
                                                         : stop.message);
        });
    if (!started) {
        if (error) *error = tr("The job runner is busy");
        return false;
    }
    panel->setRunning(true);
    m_pipeline->setState(PipelineStep::Evaluation, StepState::Running);
    log(tr("Evaluation of %1 (%2) started").arg(panel->modelPath(), QString::fromStdString(settings.tasks)));
    return true;
}

}  // namespace den2moe::ui
