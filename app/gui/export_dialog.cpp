#include "export_dialog.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDialogButtonBox>
#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QFontDatabase>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QVBoxLayout>

namespace den2moe::ui {

ExportDialog::ExportDialog(QWidget* parent) : QDialog(parent) {
    setObjectName(QStringLiteral("exportDialog"));
    setWindowTitle(tr("Export to Hugging Face"));
    m_source = new QLineEdit(this);
    m_source->setObjectName(QStringLiteral("exportSource"));
    auto* browseSource = new QPushButton(tr("Browse…"), this);
    m_format = new QComboBox(this);
    m_format->setObjectName(QStringLiteral("exportFormat"));
    m_format->addItem(tr("Mixtral (MixtralForCausalLM)"), QStringLiteral("mixtral"));
    m_format->addItem(tr("Qwen2-MoE (Qwen2MoeForCausalLM, shared expert)"), QStringLiteral("qwen2moe"));
    m_pad = new QCheckBox(tr("Zero-pad unequal experts to the widest (exact)"), this);
    m_pad->setObjectName(QStringLiteral("exportPad"));
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
    form->addRow(tr("Format"), m_format);
    form->addRow(QString(), m_pad);
    form->addRow(tr("Output folder"), outRow);

    m_summary = new QLabel(tr("Check lists what the format cannot carry before anything is written."), this);
    m_summary->setObjectName(QStringLiteral("exportSummary"));
    m_summary->setWordWrap(true);
    m_report = new QPlainTextEdit(this);
    m_report->setObjectName(QStringLiteral("exportReport"));
    m_report->setReadOnly(true);
    m_report->setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
    m_report->setMinimumSize(640, 260);

    auto* buttons = new QDialogButtonBox(this);
    m_check = buttons->addButton(tr("Check"), QDialogButtonBox::ActionRole);
    m_check->setObjectName(QStringLiteral("exportCheck"));
    m_export = buttons->addButton(tr("Export"), QDialogButtonBox::AcceptRole);
    m_export->setObjectName(QStringLiteral("exportRun"));
    buttons->addButton(QDialogButtonBox::Close);

    auto* layout = new QVBoxLayout(this);
    layout->addLayout(form);
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
    connect(m_format, qOverload<int>(&QComboBox::currentIndexChanged), this, [this] { updateDefaultOut(); });
    connect(m_source, &QLineEdit::textEdited, this, [this] { updateDefaultOut(); });
    connect(m_check, &QPushButton::clicked, this, [this] { Q_EMIT requested(request(true)); });
    connect(m_export, &QPushButton::clicked, this, [this] { Q_EMIT requested(request(false)); });
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
}

void ExportDialog::setSource(const QString& dir) {
    m_source->setText(QDir::cleanPath(dir));
    updateDefaultOut();
}

QString ExportDialog::source() const { return m_source->text(); }

void ExportDialog::setFormat(const QString& format) {
    const int i = m_format->findData(format);
    if (i >= 0) m_format->setCurrentIndex(i);
}

void ExportDialog::setOut(const QString& dir) {
    m_out->setText(dir);
    m_outEdited = true;
}

QString ExportDialog::out() const { return m_out->text(); }

void ExportDialog::updateDefaultOut() {
    if (m_outEdited || source().isEmpty()) return;
    m_out->setText(source() + QLatin1Char('-') + m_format->currentData().toString());
}

ExportRequest ExportDialog::request(bool lintOnly) const {
    ExportRequest r;
    r.source = source();
    r.format = m_format->currentData().toString();
    r.out = m_out->text();
    r.padExperts = m_pad->isChecked();
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
