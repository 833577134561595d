// EvaluationPanel: see evaluation_panel.h.
#include "evaluation_panel.h"

#include "job_runner.h"
#include "settings_form.h"

#include <QDir>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QScrollArea>
#include <QSplitter>
#include <QTableWidget>
#include <QVBoxLayout>

#include <cmath>

namespace den2moe::ui {

namespace {

QString pct(double v) { return std::isfinite(v) ? QString::number(100.0 * v, 'f', 2) : QStringLiteral("—"); }

QTableWidgetItem* rightItem(const QString& text) {
    auto* item = new QTableWidgetItem(text);
    item->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
    return item;
}

}  // namespace

EvaluationPanel::EvaluationPanel(QWidget* parent) : QWidget(parent) {
    setObjectName(QStringLiteral("evaluationPanel"));
    m_model = new QLineEdit(this);
    m_model->setObjectName(QStringLiteral("evalModel"));
    m_model->setPlaceholderText(tr("a model folder (dense, converted or trained)"));
    m_out = new QLineEdit(this);
    m_out->setObjectName(QStringLiteral("evalOutDir"));
    m_out->setPlaceholderText(tr("default: <project cache>/eval/<model>-<embedding>-<prompt>"));
    auto* top = new QFormLayout;
    top->addRow(tr("Model"), folderRow(this, m_model, tr("Model folder")));
    top->addRow(tr("Result folder"), folderRow(this, m_out, tr("Result folder")));

    m_form = new SettingsForm(this);
    m_form->addFields(den2moe::task_eval_schema(), {{QStringLiteral("rw_values"), tr("RW values")},
                                                    {QStringLiteral("k_shot"), tr("MMLU k-shot")},
                                                    {QStringLiteral("bos"), tr("BOS before contexts")},
                                                    {QStringLiteral("cache"), tr("Use the result cache")}});
    auto* scroll = new QScrollArea(this);
    scroll->setWidget(m_form);
    scroll->setWidgetResizable(true);
    scroll->setFrameShape(QFrame::NoFrame);
    m_run = new QPushButton(tr("Evaluate"), this);
    m_run->setObjectName(QStringLiteral("evalRun"));
    m_cancel = new QPushButton(tr("Cancel"), this);
    m_cancel->setObjectName(QStringLiteral("evalCancel"));
    m_cancel->setEnabled(false);
    auto* buttons = new QHBoxLayout;
    buttons->addWidget(m_run);
    buttons->addWidget(m_cancel);
    buttons->addStretch();
    auto* left = new QWidget(this);
    auto* leftLayout = new QVBoxLayout(left);
    leftLayout->setContentsMargins(0, 0, 0, 0);
    leftLayout->addLayout(top);
    leftLayout->addWidget(scroll, 1);
    leftLayout->addLayout(buttons);

    m_status = new QLabel(tr("Pick a model and the tasks, then Evaluate. Finished tasks come from the result cache."), this);
    m_status->setObjectName(QStringLiteral("evalStatus"));
    m_status->setWordWrap(true);
    m_table = new QTableWidget(0, 8, this);
    m_table->setObjectName(QStringLiteral("evalRunTable"));
    m_table->setHorizontalHeaderLabels(
        {tr("Task"), tr("Type"), tr("Main score"), tr("×100"), tr("Chance ×100"), tr("Items"), tr("Seconds"), tr("Cached")});
    m_table->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    m_table->horizontalHeader()->setStretchLastSection(true);
    m_table->verticalHeader()->hide();
    m_table->setEditTriggers(QAbstractItemView::NoEditTriggers);
    auto* right = new QWidget(this);
    auto* rightLayout = new QVBoxLayout(right);
    rightLayout->setContentsMargins(0, 0, 0, 0);
    rightLayout->addWidget(m_status);
    rightLayout->addWidget(m_table, 1);

    auto* split = new QSplitter(Qt::Horizontal, this);
    split->addWidget(left);
    split->addWidget(right);
    split->setSizes({380, 900});
    auto* layout = new QVBoxLayout(this);
    layout->addWidget(split);

    connect(m_form, &SettingsForm::edited, this, [this](const QString& key, const QString& text) {
        QString error;
        if (!setSetting(key, text, &error)) {
            m_status->setText(error);
            m_form->showValues(den2moe::task_eval_schema(), m_settings);
        }
    });
    connect(m_run, &QPushButton::clicked, this, &EvaluationPanel::runRequested);
    connect(m_cancel, &QPushButton::clicked, this, &EvaluationPanel::cancelRequested);
    m_form->showValues(den2moe::task_eval_schema(), m_settings);
}

void EvaluationPanel::setProject(const den2moe::Project& project) { m_project = project; }

void EvaluationPanel::setSettings(const den2moe::TaskEvalSettings& s) {
    m_settings = s;
    m_form->showValues(den2moe::task_eval_schema(), m_settings);
}

bool EvaluationPanel::setSetting(const QString& key, const QString& text, QString* error) {
    den2moe::TaskEvalSettings s = m_settings;
    try {
        den2moe::task_eval_schema().set_text(s, key.toStdString(), text.toStdString());
    } catch (const std::exception& e) {
        if (error) *error = errorText(e);
        return false;
    }
    m_settings = s;
    m_form->setValue(key, text);
    Q_EMIT settingsEdited(m_settings);
    return true;
}

void EvaluationPanel::setModelPath(const QString& path) { m_model->setText(path); }

QString EvaluationPanel::modelPath() const { return m_model->text().trimmed(); }

void EvaluationPanel::setOutDir(const QString& dir) { m_out->setText(dir); }

QString EvaluationPanel::outDir() const {
    const QString typed = m_out->text().trimmed();
    if (!typed.isEmpty()) return typed;
    try {
        const std::string cache = den2moe::project_cache_dir(m_project);
        if (cache.empty() || modelPath().isEmpty()) return {};
        // the folder names the embedding that runs: --embedding auto resolved with the model's record
        den2moe::TaskEvalSettings resolved = m_settings;
        den2moe::resolve_auto_embedding(resolved, den2moe::read_recorded_embedding(modelPath().toStdString()));
        const QString name = QStringLiteral("%1-%2-%3")
                                 .arg(QFileInfo(modelPath()).fileName(), QString::fromStdString(resolved.embedding),
                                      QString::fromStdString(resolved.prompt));
        return QDir(QString::fromStdString(cache)).filePath(QStringLiteral("eval/") + name);
    } catch (const std::exception&) {
        return {};
    }
}

void EvaluationPanel::setRunning(bool running) {
    m_running = running;
    m_run->setEnabled(!running);
    m_cancel->setEnabled(running);
    m_form->setEnabled(!running);
    m_model->setEnabled(!running);
    m_out->setEnabled(!running);
    if (running) m_status->setText(tr("Loading %1…").arg(modelPath()));
}

void EvaluationPanel::setProgress(const QString& stage, qint64 step, qint64 total, const QString& message) {
    m_status->setText(total > 0 ? tr("%1 %2/%3 %4").arg(stage).arg(step).arg(total).arg(message)
                                : tr("%1 %2").arg(stage, message));
}

void EvaluationPanel::setResult(const den2moe::EvalSummary& s, const QString& outDir, qint64 cacheHits) {
    setRunning(false);
    m_table->setRowCount(int(s.tasks.size()));
    for (int r = 0; r < int(s.tasks.size()); ++r) {
        const den2moe::TaskScores& t = s.tasks[size_t(r)];
        m_table->setItem(r, 0, new QTableWidgetItem(QString::fromStdString(t.task)));
        m_table->setItem(r, 1, new QTableWidgetItem(QString::fromStdString(t.type)));
        m_table->setItem(r, 2, new QTableWidgetItem(QString::fromStdString(t.main_score_name)));
        m_table->setItem(r, 3, rightItem(pct(t.main_score)));
        m_table->setItem(r, 4, rightItem(pct(t.chance)));
        m_table->setItem(r, 5, rightItem(QString::number(t.n_items)));
        m_table->setItem(r, 6, rightItem(QString::number(t.seconds, 'f', 1)));
        m_table->setItem(r, 7, new QTableWidgetItem(t.cached ? tr("yes") : QString()));
    }
    QStringList means;
    if (std::isfinite(s.mean_task)) means << tr("Mean(Task) %1").arg(pct(s.mean_task));
    if (std::isfinite(s.mean_task_type)) means << tr("Mean(TaskType) %1").arg(pct(s.mean_task_type));
    if (std::isfinite(s.mean_zeroshot)) means << tr("zero-shot mean acc %1").arg(pct(s.mean_zeroshot));
    m_status->setText(tr("%1: %2 tasks (%3 from the cache) → %4. %5")
                          .arg(QString::fromStdString(s.model))
                          .arg(s.tasks.size())
                          .arg(cacheHits)
                          .arg(outDir.isEmpty() ? tr("no files written") : outDir)
                          .arg(means.join(QStringLiteral(", "))));
}

void EvaluationPanel::setStopped(const QString& message) {
    setRunning(false);
    m_status->setText(message);
}

}  // namespace den2moe::ui
