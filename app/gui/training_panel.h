// TrainingPanel: the Training step (a tab). The source model (a converted folder) and the output
// folder; the stage (router / experts / extra, the schema's choices) whose reference values
// (apply_stage_defaults, then the project's "training" section) fill the settings form generated from
// train_schema(); the user's edits stay on top of a stage change. Start / Pause / Resume: the window
// runs `den2moe train`'s engine call on the JobRunner; Pause is the engine's cancel (a checkpoint is
// written), Resume continues from it. Live curves (train loss, held-out loss and perplexity, learning
// rate) from the engine's progress metrics, replaced by the run's train_log.jsonl when it ends, and
// held-out perplexity per domain before/after. No engine rule is written here.
#pragma once

#include "engine_bridge.h"
#include "training_curves.h"

#include "project/project.h"
#include "train/train_log.h"
#include "train/train_settings.h"

#include <QMap>
#include <QString>
#include <QWidget>

#include <string>
#include <vector>

class QComboBox;
class QLabel;
class QLineEdit;
class QPushButton;
class QTableWidget;

namespace den2moe::ui {

class SettingsForm;

/// A training log's curves as the view draws them (every logged step and every evaluation).
TrainingCurveData curveDataFrom(const den2moe::TrainLog& log);

class TrainingPanel : public QWidget {
    Q_OBJECT
public:
    explicit TrainingPanel(QWidget* parent = nullptr);

    /// The project whose domains give the data and whose "training" section refines the defaults.
    void setProject(const den2moe::Project& project);
    /// The source model (its top-k picks the router temperature); recomputes the defaults.
    void setModelDir(const QString& dir);
    QString modelDir() const;
    void setOutDir(const QString& dir);
    QString outDir() const;
    /// The stage's defaults with the user's edits on top. False (with the reason) for an unknown stage.
    bool setStage(const QString& stage, QString* error = nullptr);
    QString stage() const;
    /// Sets one field through the schema (as the form does); kept across stage changes. False with
    /// the schema's message when the value is refused.
    bool setSetting(const QString& key, const QString& text, QString* error = nullptr);
    const den2moe::TrainSettings& settings() const { return m_settings; }
    /// "<project cache>/training/<stage>" ("" without a cache folder).
    QString defaultOutDir() const;

    SettingsForm* form() const { return m_form; }
    QComboBox* stageCombo() const { return m_stage; }
    QPushButton* startButton() const { return m_start; }
    QPushButton* pauseButton() const { return m_pause; }
    QPushButton* resumeButton() const { return m_resume; }
    TrainingCurvesView* curves() const { return m_curves; }
    QTableWidget* heldOutTable() const { return m_heldOut; }
    QLabel* statusLabel() const { return m_status; }

    /// The window tells the panel whether its job runs (buttons follow).
    void setRunning(bool running, bool resuming = false);
    /// One progress report of the running job, un-coalesced: "train" reports with metric "loss" add a
    /// step point, with "held_out_loss" an evaluation point.
    void addProgress(const QString& stage, qint64 step, qint64 total, double eta, const QMap<QString, double>& metrics);
    /// A finished run: the held-out table and the curves read back from its log.
    void setResult(const bridge::TrainOutput& out);
    /// The job stopped: paused (cancelled, a checkpoint to resume from) or failed.
    void setStopped(bool paused, const QString& message = {});
    /// Curves of a finished or interrupted run folder (train_log.jsonl). False with the reason.
    bool loadRun(const QString& dir, QString* error = nullptr);

Q_SIGNALS:
    /// Start (resume = false) or Resume (true) pressed; the window validates and runs.
    void startRequested(bool resume);
    void pauseRequested();
    /// The user changed field `key` in the form (accepted by the schema): the window writes
    /// settings()'s value into the project's "training" section, so it is saved with the project.
    void settingEdited(const QString& key);

private:
    void recomputeDefaults();
    void updateButtons();
    /// Per-domain held-out perplexity (exp of the losses); `before` empty when unknown.
    void showHeldOut(const std::vector<std::string>& domains, const std::vector<double>& before,
                     const std::vector<double>& after, double beforeMean, double afterMean);

    den2moe::Project m_project;
    den2moe::TrainSettings m_settings;
    QMap<QString, QString> m_edits;  // the user's fields, re-applied over a stage's defaults
    QLineEdit* m_model = nullptr;
    QLineEdit* m_out = nullptr;
    QComboBox* m_stage = nullptr;
    SettingsForm* m_form = nullptr;
    QPushButton* m_start = nullptr;
    QPushButton* m_pause = nullptr;
    QPushButton* m_resume = nullptr;
    QLabel* m_status = nullptr;
    QLabel* m_notes = nullptr;
    TrainingCurvesView* m_curves = nullptr;
    QTableWidget* m_heldOut = nullptr;
    bool m_running = false;
    bool m_outEdited = false;
};

}  // namespace den2moe::ui
