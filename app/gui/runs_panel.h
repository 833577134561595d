// The "Runs" tab: every run of the open project (engine list_project_runs, project/runs.h) — each
// conversion, training stage, export and evaluation, made by the app or by the CLI — one row each with
// its lineage (made from which run, recipe, clusters, stages), its results (held-out perplexity before →
// after the last stage, Mean(Task) / Mean(TaskType) of its newest evaluation) and, below, the selected
// run's provenance (clusters, each stage's settings). Open folder, Rename (a display name kept in the
// project's run index), Delete (after a confirmation; the engine refuses a folder that is no run).
// Selecting runs drives the comparisons: selectionChanged() carries their folders, and "Compare"
// puts their evaluations side by side in the Results tab (compareRequested()); with two model runs
// selected, "Compare routing" traces the typed text through both in the Routing tab
// (routingCompareRequested()); "Compare expert load" measures both on the project's domains in the Expert
// load tab, each at its own layer, with the change b − a (expertLoadCompareRequested()).
#pragma once

#include "project/runs.h"

#include <QStringList>
#include <QWidget>

#include <vector>

class QLabel;
class QPlainTextEdit;
class QPushButton;
class QTableWidget;

namespace den2moe::ui {

/// The table's cells of one run (pure; tested): label, kind, made from, lineage, results, created, client.
QStringList runCells(const den2moe::ProjectRun& run, const std::vector<den2moe::ProjectRun>& all);
/// The selected run's details: folder, lineage, clusters and settings (pure; tested).
QString runDetails(const den2moe::ProjectRun& run);

class RunsPanel : public QWidget {
    Q_OBJECT
public:
    explicit RunsPanel(QWidget* parent = nullptr);

    /// Dialogs (rename, delete confirmation, errors) only when interactive.
    void setInteractive(bool on) { m_interactive = on; }
    /// Lists the runs of `project` (refresh() re-reads them).
    void setProject(const den2moe::Project& project);
    void refresh();

    const std::vector<den2moe::ProjectRun>& runs() const { return m_runs; }
    /// The selected runs' folders, in table order.
    QStringList selectedPaths() const;
    /// Selects the rows of `paths` (others are deselected).
    void selectPaths(const QStringList& paths);
    /// The evaluation folders of the selected runs (an evaluation run itself, a model's evaluations).
    QStringList selectedEvaluations() const;
    /// The selected model runs (conversion, training, export), in table order.
    QStringList selectedModels() const;

    /// Rename / delete without dialogs (false and the engine's message on refusal).
    bool renameRun(const QString& path, const QString& label, QString* error = nullptr);
    bool deleteRun(const QString& path, QString* error = nullptr);
    /// The buttons' dialogs: a name for the selected run; a confirmation before deleting it.
    void renameSelectedDialog();
    void deleteSelectedDialog();
    void openSelectedFolder();

    QTableWidget* table() const { return m_table; }
    QPlainTextEdit* details() const { return m_details; }

Q_SIGNALS:
    void selectionChanged(const QStringList& paths);
    /// "Compare": the selected runs' evaluation folders, for the Results tab.
    void compareRequested(const QStringList& evaluationDirs);
    /// "Compare routing": the first and second selected model runs (table order).
    void routingCompareRequested(const QString& first, const QString& second);
    /// "Compare expert load": the same two model runs, measured on the project's domains in the Expert load tab.
    void expertLoadCompareRequested(const QString& first, const QString& second);
    void runsChanged();

private:
    void rebuild();
    void onSelection();
    void showError(const QString& what, const QString& message);

    den2moe::Project m_project;
    std::vector<den2moe::ProjectRun> m_runs;
    QTableWidget* m_table = nullptr;
    QPlainTextEdit* m_details = nullptr;
    QLabel* m_status = nullptr;
    QPushButton* m_open = nullptr;
    QPushButton* m_rename = nullptr;
    QPushButton* m_delete = nullptr;
    QPushButton* m_compare = nullptr;
    QPushButton* m_compareRouting = nullptr;
    QPushButton* m_compareLoad = nullptr;
    bool m_interactive = true;
};

}  // namespace den2moe::ui
