// ExportDialog: see export_dialog.h.
#include "export_dialog.h"

#include "settings_form.h"

#include "core/error.h"

#include <QDialogButtonBox>
#include <QDir>
#include <QFileDialog>
#include <QFontDatabase>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QVBoxLayout>

namespace den2moe::ui {

namespace {

const QString kFormatKey = QStringLiteral("format");  // export_schema()'s key of the target format

/// What the dialog calls the export settings and the formats (display strings).
QMap<QString, QString> settingLabels() {
    return {{kFormatKey, ExportDialog::tr("Format")},
            {QStringLiteral("dtype"), ExportDialog::tr("Tensor dtype")},
            {QStringLiteral("pad_experts"), ExportDialog::tr("Zero-pad unequal experts")},
            {QStringLiteral("strict"), ExportDialog::tr("Warnings are errors")},
            {QStringLiteral("refuse_biases"), ExportDialog::tr("Refuse expert biases")},
            {QStringLiteral("shard_size"), ExportDialog::tr("Shard size (bytes)")},
            {QStringLiteral("tensor_parallel"), ExportDialog::tr("Tensor-parallel size to check")},
            {QStringLiteral("zero_shared_width"), ExportDialog::tr("Zero shared expert width")}};
}

QMap<QString, QString> formatTitles() {
    return {{QStringLiteral("mixtral"), ExportDialog::tr("Mixtral (MixtralForCausalLM)")},
            {QStringLiteral("qwen2moe"), ExportDialog::tr("Qwen2-MoE (Qwen2MoeForCausalLM, shared expert)")},
            {QStringLiteral("qwen3moe"), ExportDialog::tr("Qwen3-MoE (Qwen3MoeForCausalLM, q/k norms)")}};
}

}  // namespace

ExportDialog::ExportDialog(QWidget* parent) : QDialog(parent) {
    setObjectName(QStringLiteral("exportDialog"));
    setWindowTitle(tr("Export to Hugging Face"));
    m_source = new QLineEdit(this);
    m_source->setObjectName(QStringLiteral("exportSource"));
    auto* browseSource = new QPushButton(tr("Browse…"), this);
    m_form = new SettingsForm(this);
    const den2moe::Schema<den2moe::ExportSettings>& schema = den2moe::export_schema();
    m_form->addField(*schema.find(kFormatKey.toStdString()), settingLabels().value(kFormatKey), formatTitles());
    // the hand-off bundle needs a project's domains: the CLI writes it (`export --handoff --project`)
    m_form->addFields(schema, settingLabels(),
                      {kFormatKey, QStringLiteral("handoff"), QStringLiteral("handoff_stage"),
                       QStringLiteral("handoff_nproc")});
    m_out = new QLineEdit(this);
    m_out->setObjectName(QStringLiteral("exportOut"));
    auto* browseOut = new QPushButton(tr("Browse…"), this);

    auto* srcRow = new QHBoxLayout;
    srcRow->addWidget(m_source, 1);
    srcRow->addWidget(browseSource);
    auto* outRow = new QHBoxLayout;
    outRow->addWidget(m_out, 1);
    outRow->addWidget(browseOut);
    auto* form = new QFormLayout;
    form->addRow(tr("Converted model"), srcRow);
    form->addRow(tr("Output folder"), outRow);

    m_summary = new QLabel(tr("Check lists what the format cannot carry before anything is written."), this);
    m_summary->setObjectName(QStringLiteral("exportSummary"));
    m_summary->setWordWrap(true);
    m_report = new QPlainTextEdit(this);
    m_report->setObjectName(QStringLiteral("exportReport"));
    m_report->setReadOnly(true);
    m_report->setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
    m_report->setMinimumSize(640, 220);

    auto* buttons = new QDialogButtonBox(this);
    m_check = buttons->addButton(tr("Check"), QDialogButtonBox::ActionRole);
    m_check->setObjectName(QStringLiteral("exportCheck"));
    m_export = buttons->addButton(tr("Export"), QDialogButtonBox::AcceptRole);
    m_export->setObjectName(QStringLiteral("exportRun"));
    buttons->addButton(QDialogButtonBox::Close);

    auto* top = new QHBoxLayout;
    top->addLayout(form, 3);
    top->addWidget(m_form, 2);
    auto* layout = new QVBoxLayout(this);
    layout->addLayout(top);
    layout->addWidget(m_summary);
    layout->addWidget(m_report, 1);
    layout->addWidget(buttons);

    connect(browseSource, &QPushButton::clicked, this, [this] {
        const QString d = QFileDialog::getExistingDirectory(this, tr("Converted model folder"), source());
        if (!d.isEmpty()) setSource(d);
    });
    connect(browseOut, &QPushButton::clicked, this, [this] {
        const QString d = QFileDialog::getSaveFileName(this, tr("Output folder (created)"), m_out->text());
        if (!d.isEmpty()) {
            m_out->setText(d);
            m_outEdited = true;
        }
    });
    connect(m_out, &QLineEdit::textEdited, this, [this] { m_outEdited = true; });
    connect(m_form, &SettingsForm::edited, this, &ExportDialog::onEdited);
    connect(m_source, &QLineEdit::textEdited, this, [this] { updateDefaultOut(); });
    connect(m_check, &QPushButton::clicked, this, [this] { Q_EMIT requested(request(true)); });
    connect(m_export, &QPushButton::clicked, this, [this] { Q_EMIT requested(request(false)); });
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    m_form->showValues(schema, m_settings);
}

void ExportDialog::setSource(const QString& dir) {
    m_source->setText(QDir::cleanPath(dir));
    updateDefaultOut();
}

QString ExportDialog::source() const { return m_source->text(); }

void ExportDialog::setSettings(const den2moe::ExportSettings& settings) {
    m_settings = settings;
    m_form->showValues(den2moe::export_schema(), m_settings);
    updateDefaultOut();
}

void ExportDialog::setFormat(const QString& format) {
    den2moe::ExportSettings s = m_settings;
    try {
        den2moe::export_schema().set_text(s, kFormatKey.toStdString(), format.toStdString());
    } catch (const den2moe::Error&) {
        return;
    }
    if (s.format == m_settings.format) return;
    m_settings = s;
    m_form->showValues(den2moe::export_schema(), m_settings);
    updateDefaultOut();
    Q_EMIT settingsEdited(m_settings);
}

void ExportDialog::onEdited(const QString& key, const QString& text) {
    den2moe::ExportSettings s = m_settings;
    try {
        den2moe::export_schema().set_text(s, key.toStdString(), text.toStdString());
    } catch (const den2moe::Error& e) {
        showError(QString::fromStdString(e.message()));
        m_form->showValues(den2moe::export_schema(), m_settings);
        return;
    }
    m_settings = s;
    if (key == kFormatKey) updateDefaultOut();
    Q_EMIT settingsEdited(m_settings);
}

void ExportDialog::setOut(const QString& dir) {
    m_out->setText(dir);
    m_outEdited = true;
}

QString ExportDialog::out() const { return m_out->text(); }

void ExportDialog::updateDefaultOut() {
    if (m_outEdited || source().isEmpty()) return;
    m_out->setText(source() + QLatin1Char('-') + QString::fromStdString(m_settings.format));
}

ExportRequest ExportDialog::request(bool lintOnly) const {
    ExportRequest r;
    r.source = source();
    r.out = m_out->text();
    r.settings = m_settings;
    r.lintOnly = lintOnly;
    return r;
}

void ExportDialog::setBusy(bool busy) {
    m_check->setEnabled(!busy);
    m_export->setEnabled(!busy);
    if (busy) m_summary->setText(tr("Working…"));
}

void ExportDialog::showResult(const bridge::HfExportOutput& r) {
    setBusy(false);
    m_report->setPlainText(QString::fromStdString(r.report));
    const QString counts = tr("%1 error(s), %2 warning(s), %3 note(s)").arg(r.errors).arg(r.warnings).arg(r.infos);
    if (r.errors > 0) {
        m_summary->setText(tr("<b>The %1 format cannot carry this model</b> (%2): nothing was written.")
                               .arg(QString::fromStdString(r.format), counts));
    } else if (r.out_dir.empty()) {
        m_summary->setText(tr("Ready to export as %1 (%2).").arg(QString::fromStdString(r.format), counts));
    } else {
        m_summary->setText(tr("<b>Exported</b> to %1: %2 tensors, %3 MB in %4 shard(s), %5, %6 s (%7).")
                               .arg(QString::fromStdString(r.out_dir))
                               .arg(r.tensors)
                               .arg(double(r.bytes) / 1e6, 0, 'f', 1)
                               .arg(r.shards)
                               .arg(QString::fromStdString(r.dtype))
                               .arg(r.seconds, 0, 'f', 2)
                               .arg(counts));
    }
}

void ExportDialog::showError(const QString& message) {
    setBusy(false);
    m_summary->setText(tr("<b>Failed:</b> %1").arg(message.toHtmlEscaped()));
}

QString ExportDialog::reportText() const { return m_report->toPlainText(); }
QString ExportDialog::summaryText() const { return m_summary->text(); }

}  // namespace den2moe::ui
