// TrainingPanel: see training_panel.h.
#include "training_panel.h"

#include "job_runner.h"
#include "settings_form.h"

#include "core/error.h"

#include <QComboBox>
#include <QDir>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QScrollArea>
#include <QSignalBlocker>
#include <QSplitter>
#include <QTableWidget>
#include <QVBoxLayout>

#include <cmath>
#include <limits>

namespace den2moe::ui {

namespace {

const QString kStageKey = QStringLiteral("stage");  // train_schema()'s key of the stage

QString etaText(double s) {
    if (!(s >= 0)) return QStringLiteral("—");
    const int t = int(std::lround(s));
    return t >= 3600 ? QStringLiteral("%1 h %2 min").arg(t / 3600).arg((t % 3600) / 60)
           : t >= 60 ? QStringLiteral("%1 min %2 s").arg(t / 60).arg(t % 60)
                     : QStringLiteral("%1 s").arg(t);
}

QTableWidgetItem* numberItem(double v) {
    auto* item = new QTableWidgetItem(std::isfinite(v) ? QString::number(v, 'f', 3) : QStringLiteral("—"));
    item->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
    return item;
}

}  // namespace

TrainingCurveData curveDataFrom(const den2moe::TrainLog& log) {
    TrainingCurveData d;
    for (const den2moe::TrainLogStep& s : log.steps) {
        d.step.push_back(double(s.step));
        d.loss.push_back(s.loss);
        d.lr.push_back(s.lr);
        d.tokensPerS.push_back(s.tokens_per_s);
    }
    for (const den2moe::TrainLogEval& e : log.evals) {
        d.evalStep.push_back(double(e.step));
        d.evalLoss.push_back(e.mean);
    }
    d.totalSteps = int(std::max<int64_t>(0, log.total_steps));
    return d;
}

TrainingPanel::TrainingPanel(QWidget* parent) : QWidget(parent) {
    setObjectName(QStringLiteral("trainingPanel"));
    const den2moe::Schema<den2moe::TrainSettings>& schema = den2moe::train_schema();

    m_model = new QLineEdit(this);
    m_model->setObjectName(QStringLiteral("trainModelDir"));
    m_model->setPlaceholderText(tr("a converted model folder (the Experts step's output)"));
    m_out = new QLineEdit(this);
    m_out->setObjectName(QStringLiteral("trainOutDir"));
    m_stage = new QComboBox(this);
    m_stage->setObjectName(QStringLiteral("trainStage"));
    const den2moe::FieldInfo* stageField = schema.find(kStageKey.toStdString());
    for (const std::string& c : stageField->choices) m_stage->addItem(QString::fromStdString(c));
    m_stage->setToolTip(QString::fromStdString(stageField->help));

    auto* top = new QFormLayout;
    top->addRow(tr("Source model"), folderRow(this, m_model, tr("Source model folder")));
    top->addRow(tr("Output folder"), folderRow(this, m_out, tr("Output folder")));
    top->addRow(tr("Stage"), m_stage);

    m_form = new SettingsForm(this);
    m_form->addFields(schema, {{QStringLiteral("lr"), tr("Learning rate")},
                               {QStringLiteral("seq_len"), tr("Sequence length")},
                               {QStringLiteral("lora_rank"), tr("LoRA rank")},
                               {QStringLiteral("lora_alpha"), tr("LoRA alpha")},
                               {QStringLiteral("lora_dropout"), tr("LoRA dropout")},
                               {QStringLiteral("lora_targets"), tr("LoRA targets")},
                               {QStringLiteral("lora_attention"), tr("LoRA on attention")}},
                      {kStageKey});
    auto* formScroll = new QScrollArea(this);
    formScroll->setWidget(m_form);
    formScroll->setWidgetResizable(true);
    formScroll->setFrameShape(QFrame::NoFrame);

    m_start = new QPushButton(tr("Start"), this);
    m_start->setObjectName(QStringLiteral("trainStart"));
    m_pause = new QPushButton(tr("Pause"), this);
    m_pause->setObjectName(QStringLiteral("trainPause"));
    m_pause->setToolTip(tr("Stop after the current step with a checkpoint; Resume continues bit for bit"));
    m_resume = new QPushButton(tr("Resume"), this);
    m_resume->setObjectName(QStringLiteral("trainResume"));
    m_resume->setToolTip(tr("Continue the run in the output folder from its last checkpoint"));
    auto* buttons = new QHBoxLayout;
    buttons->addWidget(m_start);
    buttons->addWidget(m_pause);
    buttons->addWidget(m_resume);
    buttons->addStretch();

    auto* left = new QWidget(this);
    auto* leftLayout = new QVBoxLayout(left);
    leftLayout->setContentsMargins(0, 0, 0, 0);
    leftLayout->addLayout(top);
    leftLayout->addWidget(formScroll, 1);
    leftLayout->addLayout(buttons);

    m_status = new QLabel(tr("Not started."), this);
    m_status->setObjectName(QStringLiteral("trainStatus"));
    m_status->setWordWrap(true);
    m_notes = new QLabel(this);
    m_notes->setWordWrap(true);
    m_notes->setStyleSheet(QStringLiteral("color: gray"));
    m_curves = new TrainingCurvesView(this);
    m_heldOut = new QTableWidget(0, 3, this);
    m_heldOut->setObjectName(QStringLiteral("heldOutTable"));
    m_heldOut->setHorizontalHeaderLabels({tr("Domain"), tr("Held-out ppl before"), tr("after")});
    m_heldOut->horizontalHeader()->setSectionResizeMode(QHeaderView::Stretch);
    m_heldOut->verticalHeader()->hide();
    m_heldOut->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_heldOut->setMaximumHeight(170);

    auto* right = new QWidget(this);
    auto* rightLayout = new QVBoxLayout(right);
    rightLayout->setContentsMargins(0, 0, 0, 0);
    rightLayout->addWidget(m_status);
    rightLayout->addWidget(m_curves, 1);
    rightLayout->addWidget(m_heldOut);
    rightLayout->addWidget(m_notes);

    auto* split = new QSplitter(Qt::Horizontal, this);
    split->addWidget(left);
    split->addWidget(right);
    split->setStretchFactor(0, 0);
    split->setStretchFactor(1, 1);
    split->setSizes({380, 900});
    auto* layout = new QVBoxLayout(this);
    layout->addWidget(split);

    connect(m_stage, &QComboBox::currentTextChanged, this, [this](const QString& s) { setStage(s); });
    connect(m_model, &QLineEdit::editingFinished, this, [this] { setModelDir(m_model->text()); });
    connect(m_out, &QLineEdit::textEdited, this, [this] { m_outEdited = true; });
    connect(m_form, &SettingsForm::edited, this, [this](const QString& key, const QString& text) {
        QString error;
        if (!setSetting(key, text, &error)) {
            m_status->setText(error);
            m_form->showValues(den2moe::train_schema(), m_settings);
        } else {
            Q_EMIT settingEdited(key);  // the window keeps it in the project's training section
        }
    });
    connect(m_start, &QPushButton::clicked, this, [this] { Q_EMIT startRequested(false); });
    connect(m_resume, &QPushButton::clicked, this, [this] { Q_EMIT startRequested(true); });
    connect(m_pause, &QPushButton::clicked, this, [this] { Q_EMIT pauseRequested(); });
    recomputeDefaults();
    updateButtons();
}

void TrainingPanel::setProject(const den2moe::Project& project) {
    m_project = project;
    recomputeDefaults();
}

void TrainingPanel::setModelDir(const QString& dir) {
    if (m_model->text() != dir) m_model->setText(dir);
    recomputeDefaults();
}

QString TrainingPanel::modelDir() const { return m_model->text().trimmed(); }

void TrainingPanel::setOutDir(const QString& dir) {
    m_out->setText(dir);
    m_outEdited = !dir.isEmpty();
    updateButtons();
}

QString TrainingPanel::outDir() const { return m_out->text().trimmed(); }

QString TrainingPanel::stage() const { return QString::fromStdString(m_settings.stage); }

bool TrainingPanel::setStage(const QString& stage, QString* error) {
    if (m_stage->findText(stage) < 0) {
        if (error) *error = tr("unknown stage '%1'").arg(stage);
        return false;
    }
    if (m_stage->currentText() != stage) {
        m_stage->setCurrentText(stage);  // re-enters through currentTextChanged
        return true;
    }
    recomputeDefaults();
    return true;
}

bool TrainingPanel::setSetting(const QString& key, const QString& text, QString* error) {
    den2moe::TrainSettings s = m_settings;
    try {
        den2moe::train_schema().set_text(s, key.toStdString(), text.toStdString());
    } catch (const std::exception& e) {
        if (error) *error = errorText(e);
        return false;
    }
    m_settings = s;
    m_edits.insert(key, text);
    m_form->setValue(key, text);
    return true;
}

QString TrainingPanel::defaultOutDir() const {
    try {
        const std::string cache = den2moe::project_cache_dir(m_project);
        if (cache.empty()) return {};
        return QDir(QString::fromStdString(cache)).filePath(QStringLiteral("training/") + m_stage->currentText());
    } catch (const std::exception&) {
        return {};
    }
}

void TrainingPanel::recomputeDefaults() {
    const std::string stage = m_stage->currentText().toStdString();
    den2moe::TrainSettings s;
    QString problem;
    try {
        s = bridge::trainDefaults(m_project, modelDir().toStdString(), stage);
    } catch (const std::exception& e) {  // a bad "training" section: the stage's values alone
        problem = errorText(e);
        s = {};
        den2moe::train_schema().set_text(s, kStageKey.toStdString(), stage);
        den2moe::apply_stage_defaults(s, 0);
    }
    for (auto it = m_edits.cbegin(); it != m_edits.cend(); ++it) {
        try {
            den2moe::train_schema().set_text(s, it.key().toStdString(), it.value().toStdString());
        } catch (const std::exception&) {
            // an edit the new stage refuses is dropped with the old stage
        }
    }
    m_settings = s;
    m_form->showValues(den2moe::train_schema(), m_settings);
    if (!m_outEdited) m_out->setText(defaultOutDir());
    if (!problem.isEmpty() && !m_running) m_status->setText(problem);
    updateButtons();
}

void TrainingPanel::updateButtons() {
    const bool hasCheckpoint = QFileInfo::exists(QDir(outDir()).filePath(QStringLiteral("checkpoint.safetensors")));
    m_start->setEnabled(!m_running);
    m_pause->setEnabled(m_running);
    m_resume->setEnabled(!m_running && hasCheckpoint);
    m_form->setEnabled(!m_running);
    m_stage->setEnabled(!m_running);
    m_model->setEnabled(!m_running);
    m_out->setEnabled(!m_running);
}

void TrainingPanel::setRunning(bool running, bool resuming) {
    m_running = running;
    if (running) {
        if (!resuming) {
            m_curves->clear();
            m_heldOut->setRowCount(0);
        }
        m_curves->setTitle(tr("%1 stage — %2").arg(stage(), QFileInfo(outDir()).fileName()));
        m_status->setText(resuming ? tr("Resuming…") : tr("Loading the model and the data…"));
        m_notes->clear();
    }
    updateButtons();
}

void TrainingPanel::addProgress(const QString& stage, qint64 step, qint64 total, double eta,
                                const QMap<QString, double>& metrics) {
    if (stage != QLatin1String("train")) {
        m_status->setText(tr("%1 %2/%3").arg(stage).arg(step).arg(total));
        return;
    }
    if (total > 0 && m_curves->data().totalSteps != int(total)) m_curves->setTotalSteps(int(total));
    if (metrics.contains(QStringLiteral("held_out_loss"))) {
        m_curves->appendEval(double(step), metrics.value(QStringLiteral("held_out_loss")));
    }
    if (metrics.contains(QStringLiteral("loss"))) {
        const double loss = metrics.value(QStringLiteral("loss"));
        m_curves->appendStep(double(step), loss, metrics.value(QStringLiteral("lr")),
                             metrics.value(QStringLiteral("tokens_per_s"), std::numeric_limits<double>::quiet_NaN()));
        m_status->setText(tr("step %1/%2   loss %3   lr %4   %5 tokens/s   ETA %6")
                              .arg(step)
                              .arg(total)
                              .arg(loss, 0, 'f', 4)
                              .arg(metrics.value(QStringLiteral("lr")), 0, 'g', 3)
                              .arg(metrics.value(QStringLiteral("tokens_per_s")), 0, 'f', 0)
                              .arg(etaText(eta)));
    }
}

void TrainingPanel::showHeldOut(const std::vector<std::string>& domains, const std::vector<double>& before,
                                const std::vector<double>& after, double beforeMean, double afterMean) {
    const bool haveBefore = before.size() == after.size() && std::isfinite(beforeMean);
    const double nan = std::nan("");
    m_heldOut->setRowCount(int(domains.size()) + 1);
    auto row = [&](int r, const QString& name, double b, double a) {
        m_heldOut->setItem(r, 0, new QTableWidgetItem(name));
        m_heldOut->setItem(r, 1, numberItem(haveBefore ? std::exp(b) : nan));
        m_heldOut->setItem(r, 2, numberItem(std::exp(a)));
    };
    for (size_t i = 0; i < domains.size() && i < after.size(); ++i) {
        row(int(i), QString::fromStdString(domains[i]), haveBefore ? before[i] : nan, after[i]);
    }
    row(int(domains.size()), tr("all (token-weighted)"), beforeMean, afterMean);
}

void TrainingPanel::setResult(const bridge::TrainOutput& out) {
    m_running = false;
    const bridge::HeldOutLoss& a = out.after;
    const bool haveBefore = out.before.domains == a.domains;
    showHeldOut(a.domains, haveBefore ? out.before.loss : std::vector<double>{}, a.loss,
                haveBefore ? out.before.mean : std::nan(""), a.mean);
    QString error;
    loadRun(QString::fromStdString(out.out_dir), &error);  // the log is the record: the live points give way to it
    m_status->setText(tr("%1 stage: %2 steps, %3 tokens in %4 s%5 → %6")
                          .arg(QString::fromStdString(out.stage))
                          .arg(out.steps)
                          .arg(out.tokens)
                          .arg(out.seconds, 0, 'f', 1)
                          .arg(out.resumed_from >= 0 ? tr(" (resumed at step %1)").arg(out.resumed_from) : QString())
                          .arg(QString::fromStdString(out.out_dir)));
    QStringList notes;
    for (const std::string& n : out.notes) notes << QString::fromStdString(n);
    m_notes->setText(notes.join(QLatin1Char('\n')));
    updateButtons();
}

void TrainingPanel::setStopped(bool paused, const QString& message) {
    m_running = false;
    if (paused) {
        const int last = m_curves->data().step.isEmpty() ? 0 : int(m_curves->data().step.last());
        m_status->setText(tr("Paused after step %1: the checkpoint is in %2; Resume continues.").arg(last).arg(outDir()));
    } else {
        m_status->setText(message);
    }
    updateButtons();
}

bool TrainingPanel::loadRun(const QString& dir, QString* error) {
    den2moe::TrainLog log;
    try {
        log = den2moe::read_train_log(dir.toStdString());
    } catch (const std::exception& e) {
        if (error) *error = errorText(e);
        return false;
    }
    TrainingCurveData d = curveDataFrom(log);
    const QString name = QFileInfo(dir).fileName();
    d.title = log.stage.empty() ? name : tr("%1 stage — %2").arg(QString::fromStdString(log.stage), name);
    m_curves->setData(d);
    if (!log.finished() || m_running) return true;
    // a finished run: its settings, folders and held-out table as they were
    den2moe::TrainSettings s;
    try {
        den2moe::train_schema().read_json(s, log.settings, "train.json: settings.");
    } catch (const std::exception&) {
        s = m_settings;  // a summary from another version: keep the shown settings
    }
    m_settings = s;
    m_edits.clear();
    {
        const QSignalBlocker block(m_stage);
        m_stage->setCurrentText(QString::fromStdString(s.stage));
    }
    m_form->showValues(den2moe::train_schema(), m_settings);
    if (!log.source_model.empty()) m_model->setText(QString::fromStdString(log.source_model));
    m_out->setText(dir);
    m_outEdited = true;
    if (log.after.step >= 0) {
        showHeldOut(log.after.domains, log.before.domains == log.after.domains ? log.before.loss : std::vector<double>{},
                    log.after.loss, log.before.step >= 0 ? log.before.mean : std::nan(""), log.after.mean);
    }
    if (m_status->text() == tr("Not started.")) {
        m_status->setText(tr("%1 stage: %2 steps (%3 logged), read from %4")
                              .arg(QString::fromStdString(log.stage))
                              .arg(log.total_steps)
                              .arg(log.steps.size())
                              .arg(dir));
    }
    updateButtons();
    return true;
}

}  // namespace den2moe::ui
