// ProjectPanel: see project_panel.h.
#include "project_panel.h"

#include "settings_form.h"

#include <QComboBox>
#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QPushButton>
#include <QSpinBox>
#include <QVBoxLayout>

namespace den2moe::ui {

namespace {
/// A spin box for an integer field of a settings schema: its range and help are the schema's.
QSpinBox* spin(QWidget* parent, const den2moe::FieldInfo* field, int step) {
    auto* s = new QSpinBox(parent);
    applyIntRange(s, *field);
    s->setToolTip(QString::fromStdString(field->help));
    s->setSingleStep(step);
    return s;
}
}  // namespace

ProjectPanel::ProjectPanel(QWidget* parent) : QWidget(parent) {
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(4, 4, 4, 4);
    auto* form = new QFormLayout;

    // The model path gets the panel's full width (paths are long).
    layout->addWidget(new QLabel(tr("Model folder:"), this));
    auto* modelRow = new QHBoxLayout;
    m_model = new QLineEdit(this);
    m_model->setObjectName(QStringLiteral("modelPath"));
    m_model->setToolTip(tr("Model folder (config.json + safetensors); relative to the project, absolute, "
                           "or $SHARED/..."));
    auto* browse = new QPushButton(tr("Browse…"), this);
    modelRow->addWidget(m_model, 1);
    modelRow->addWidget(browse);
    layout->addLayout(modelRow);
    m_modelResolved = new QLabel(this);
    m_modelResolved->setWordWrap(true);
    m_modelResolved->setStyleSheet(QStringLiteral("color: gray"));
    m_modelResolved->setTextInteractionFlags(Qt::TextSelectableByMouse);
    layout->addWidget(m_modelResolved);
    m_dtype = new QComboBox(this);
    m_dtype->addItems({QStringLiteral("bf16"), QStringLiteral("fp32")});
    form->addRow(tr("Compute dtype:"), m_dtype);
    m_calibSamples = spin(this, den2moe::calib_schema().find("samples"), 16);
    m_calibSeq = spin(this, den2moe::calib_schema().find("seq_len"), 64);
    m_evalWindows = spin(this, den2moe::eval_schema().find("windows"), 8);
    m_evalSeq = spin(this, den2moe::eval_schema().find("seq_len"), 64);
    form->addRow(tr("Calibration windows / domain:"), m_calibSamples);
    form->addRow(tr("Calibration tokens / window:"), m_calibSeq);
    form->addRow(tr("Evaluation windows / domain:"), m_evalWindows);
    form->addRow(tr("Evaluation tokens / window:"), m_evalSeq);
    layout->addLayout(form);

    layout->addWidget(new QLabel(tr("Domains (checked = used):"), this));
    m_domains = new QListWidget(this);
    m_domains->setObjectName(QStringLiteral("domains"));
    m_domains->setSelectionMode(QAbstractItemView::ExtendedSelection);
    layout->addWidget(m_domains, 1);
    auto* domainButtons = new QHBoxLayout;
    auto* add = new QPushButton(tr("Add domain folder…"), this);
    auto* remove = new QPushButton(tr("Remove"), this);
    domainButtons->addWidget(add);
    domainButtons->addWidget(remove);
    domainButtons->addStretch(1);
    layout->addLayout(domainButtons);

    m_validation = new QLabel(this);
    m_validation->setObjectName(QStringLiteral("validation"));
    m_validation->setWordWrap(true);
    m_validation->setTextFormat(Qt::RichText);
    layout->addWidget(m_validation);

    connect(browse, &QPushButton::clicked, this, &ProjectPanel::browseModel);
    connect(add, &QPushButton::clicked, this, &ProjectPanel::addDomain);
    connect(remove, &QPushButton::clicked, this, &ProjectPanel::removeDomain);
    connect(m_model, &QLineEdit::editingFinished, this, &ProjectPanel::readBack);
    connect(m_dtype, &QComboBox::currentIndexChanged, this, &ProjectPanel::readBack);
    for (QSpinBox* s : {m_calibSamples, m_calibSeq, m_evalWindows, m_evalSeq}) {
        connect(s, &QSpinBox::valueChanged, this, &ProjectPanel::readBack);
    }
    connect(m_domains, &QListWidget::itemChanged, this, &ProjectPanel::readBack);
}

void ProjectPanel::setProject(const den2moe::Project& project) {
    m_filling = true;
    m_project = project;
    m_model->setText(QString::fromStdString(project.model));
    m_model->setCursorPosition(0);
    m_dtype->setCurrentText(QString::fromStdString(project.dtype));
    m_calibSamples->setValue(int(project.calib.n_samples));
    m_calibSeq->setValue(int(project.calib.seq_len));
    m_evalWindows->setValue(int(project.eval.n_windows));
    m_evalSeq->setValue(int(project.eval.seq_len));
    fillDomains();
    m_filling = false;
    validate();
}

void ProjectPanel::fillDomains() {
    const bool filling = m_filling;
    m_filling = true;
    m_domains->clear();
    for (const den2moe::ProjectDomain& d : m_project.domains) {
        auto* item = new QListWidgetItem(QString::fromStdString(d.name), m_domains);
        item->setFlags(item->flags() | Qt::ItemIsUserCheckable);
        item->setCheckState(d.enabled ? Qt::Checked : Qt::Unchecked);
        item->setToolTip(QString::fromStdString(d.dir.empty() ? std::string("(explicit file lists)") : d.dir));
    }
    m_filling = filling;
}

void ProjectPanel::readBack() {
    if (m_filling) {
        return;
    }
    m_project.model = m_model->text().trimmed().toStdString();
    m_project.dtype = m_dtype->currentText().toStdString();
    m_project.calib.n_samples = m_calibSamples->value();
    m_project.calib.seq_len = m_calibSeq->value();
    m_project.eval.n_windows = m_evalWindows->value();
    m_project.eval.seq_len = m_evalSeq->value();
    for (int i = 0; i < m_domains->count() && i < int(m_project.domains.size()); ++i) {
        m_project.domains[size_t(i)].enabled = m_domains->item(i)->checkState() == Qt::Checked;
    }
    validate();
    Q_EMIT edited();
}

void ProjectPanel::applyTo(den2moe::Project& target) const {
    target.model = m_project.model;
    target.dtype = m_project.dtype;
    target.domains = m_project.domains;
    target.calib = m_project.calib;
    target.eval = m_project.eval;
}

void ProjectPanel::validate() {
    m_messages.clear();
    try {
        for (const std::string& m : den2moe::validate_project(m_project)) {
            m_messages << QString::fromStdString(m);
        }
    } catch (const std::exception& e) {
        m_messages << QString::fromLocal8Bit(e.what());
    }
    QString resolved;
    try {
        resolved = QString::fromStdString(den2moe::resolve_project_path(m_project, m_project.model));
    } catch (const std::exception&) {
    }
    m_modelResolved->setText(resolved);
    if (m_messages.isEmpty()) {
        m_validation->setText(tr("<span style='color:#2e7d32'>✔ ready to run (%1 domains)</span>")
                                  .arg(m_project.domain_names().size()));
    } else {
        QString html = QStringLiteral("<span style='color:#c62828'><b>%1</b><ul>").arg(tr("Fix before running:"));
        for (const QString& m : m_messages) {
            html += QStringLiteral("<li>%1</li>").arg(m.toHtmlEscaped());
        }
        m_validation->setText(html + QStringLiteral("</ul></span>"));
    }
}

void ProjectPanel::browseModel() {
    const QString start = m_modelResolved->text();
    const QString dir = QFileDialog::getExistingDirectory(this, tr("Model folder"), start);
    if (!dir.isEmpty()) {
        m_model->setText(dir);
        readBack();
    }
}

void ProjectPanel::addDomain() {
    const QString dir = QFileDialog::getExistingDirectory(this, tr("Domain folder (with train/test files)"));
    if (dir.isEmpty()) {
        return;
    }
    den2moe::ProjectDomain d;
    d.name = QFileInfo(dir).fileName().toStdString();
    d.dir = QDir(dir).absolutePath().toStdString();
    m_project.domains.push_back(d);
    fillDomains();
    readBack();
}

void ProjectPanel::removeDomain() {
    QList<int> rows;
    for (QListWidgetItem* item : m_domains->selectedItems()) {
        rows << m_domains->row(item);
    }
    std::sort(rows.begin(), rows.end(), std::greater<int>());
    for (int r : rows) {
        m_project.domains.erase(m_project.domains.begin() + r);
    }
    if (!rows.isEmpty()) {
        fillDomains();
        readBack();
    }
}

}  // namespace den2moe::ui
