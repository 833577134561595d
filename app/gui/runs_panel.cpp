// The "Runs" tab (runs_panel.h): a table over list_project_runs, the selected run's provenance, and the
// folder actions. The engine says what a run is and refuses bad renames/deletes; this file only shows.
#include "runs_panel.h"

#include "core/error.h"
#include "core/json_text.h"
#include "runs_text.h"

#include <QDesktopServices>
#include <QDir>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QInputDialog>
#include <QLabel>
#include <QMessageBox>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSplitter>
#include <QTableWidget>
#include <QUrl>
#include <QVBoxLayout>

#include <cmath>

namespace den2moe::ui {

namespace {

QString q(const std::string& s) { return QString::fromStdString(s); }

const den2moe::ProjectRun* findRun(const std::vector<den2moe::ProjectRun>& all, const std::string& path) {
    return den2moe::find_run(all, path);
}

}  // namespace

QStringList runCells(const den2moe::ProjectRun& run, const std::vector<den2moe::ProjectRun>& all) {
    const den2moe::frontend::RunText t = den2moe::frontend::run_text(run, all);
    QStringList results;
    for (const auto& r : t.results) results << q(r);
    return {q(t.label), q(t.kind), q(t.made_from), q(t.lineage), results.join(QStringLiteral("; ")), q(t.created),
            q(t.client)};
}

QString runDetails(const den2moe::ProjectRun& run) {
    QStringList out;
    out << QObject::tr("%1 (%2): %3").arg(q(run.label), q(run.kind), q(run.path));
    if (!run.source_model.empty()) out << QObject::tr("dense model: %1").arg(q(run.source_model));
    if (!run.parent.empty()) out << QObject::tr("made from: %1").arg(q(run.parent));
    if (!run.lineage().empty()) out << QObject::tr("lineage: %1").arg(q(run.lineage()));
    for (size_t c = 0; c < run.clusters.members.size(); ++c) {
        QStringList doms;
        for (const auto& d : run.clusters.members[c]) doms << q(d);
        const QString name = c < run.clusters.names.size() && !run.clusters.names[c].empty()
                                 ? q(run.clusters.names[c])
                                 : QStringLiteral("C%1").arg(c + 1);
        out << QObject::tr("expert %1 (%2): %3").arg(c).arg(name, doms.join(QStringLiteral(", ")));
    }
    for (const auto& e : run.evaluations) out << QObject::tr("evaluation: %1").arg(q(e));
    if (!run.settings.is_null() && !run.settings.empty())
        out << QObject::tr("settings:") << q(den2moe::dump_json(run.settings, 2));
    return out.join(QLatin1Char('\n'));
}

RunsPanel::RunsPanel(QWidget* parent) : QWidget(parent) {
    m_table = new QTableWidget(0, 7, this);
    m_table->setObjectName(QStringLiteral("runsTable"));
    m_table->setHorizontalHeaderLabels({tr("Run"), tr("Kind"), tr("Made from"), tr("Lineage"), tr("Results"),
                                        tr("Created (UTC)"), tr("Made by")});
    m_table->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_table->setSelectionMode(QAbstractItemView::ExtendedSelection);
    m_table->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_table->verticalHeader()->hide();
    m_table->horizontalHeader()->setStretchLastSection(false);
    m_table->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    m_details = new QPlainTextEdit(this);
    m_details->setObjectName(QStringLiteral("runDetails"));
    m_details->setReadOnly(true);
    m_details->setPlaceholderText(tr("Select a run to see its provenance."));

    auto* refresh = new QPushButton(tr("Refresh"), this);
    m_open = new QPushButton(tr("Open folder"), this);
    m_rename = new QPushButton(tr("Rename…"), this);
    m_delete = new QPushButton(tr("Delete…"), this);
    m_compare = new QPushButton(tr("Compare in Results"), this);
    m_compare->setToolTip(tr("the selected runs' evaluations side by side in the Results tab"));
    m_compareRouting = new QPushButton(tr("Compare routing"), this);
    m_compareRouting->setToolTip(tr("two selected models: the typed text routed through both in the Routing tab"));
    m_compareLoad = new QPushButton(tr("Compare expert load"), this);
    m_compareLoad->setToolTip(tr("two selected models: each one's expert load on the project's domains, and the change, "
                                 "in the Expert load tab"));
    m_status = new QLabel(this);
    auto* bar = new QHBoxLayout;
    for (QWidget* w : {static_cast<QWidget*>(refresh), static_cast<QWidget*>(m_open), static_cast<QWidget*>(m_rename),
                       static_cast<QWidget*>(m_delete), static_cast<QWidget*>(m_compare),
                       static_cast<QWidget*>(m_compareRouting), static_cast<QWidget*>(m_compareLoad)})
        bar->addWidget(w);
    bar->addWidget(m_status, 1);
    auto* split = new QSplitter(Qt::Vertical, this);
    split->addWidget(m_table);
    split->addWidget(m_details);
    split->setStretchFactor(0, 3);
    split->setStretchFactor(1, 1);
    auto* lay = new QVBoxLayout(this);
    lay->addLayout(bar);
    lay->addWidget(split, 1);

    connect(refresh, &QPushButton::clicked, this, &RunsPanel::refresh);
    connect(m_open, &QPushButton::clicked, this, &RunsPanel::openSelectedFolder);
    connect(m_rename, &QPushButton::clicked, this, &RunsPanel::renameSelectedDialog);
    connect(m_delete, &QPushButton::clicked, this, &RunsPanel::deleteSelectedDialog);
    connect(m_compare, &QPushButton::clicked, this, [this] { Q_EMIT compareRequested(selectedEvaluations()); });
    connect(m_compareRouting, &QPushButton::clicked, this, [this] {
        const QStringList models = selectedModels();
        if (models.size() == 2) Q_EMIT routingCompareRequested(models[0], models[1]);
    });
    connect(m_compareLoad, &QPushButton::clicked, this, [this] {
        const QStringList models = selectedModels();
        if (models.size() == 2) Q_EMIT expertLoadCompareRequested(models[0], models[1]);
    });
    connect(m_table, &QTableWidget::itemSelectionChanged, this, &RunsPanel::onSelection);
    onSelection();
}

void RunsPanel::setProject(const den2moe::Project& project) {
    m_project = project;
    refresh();
}

void RunsPanel::refresh() {
    const QStringList keep = selectedPaths();
    try {
        m_runs = den2moe::list_project_runs(m_project);
    } catch (const den2moe::Error& e) {
        m_runs.clear();
        showError(tr("Runs"), q(e.what()));
    }
    rebuild();
    selectPaths(keep);
    Q_EMIT runsChanged();
}

void RunsPanel::rebuild() {
    const QSignalBlocker block(m_table);
    m_table->clearContents();
    m_table->setRowCount(static_cast<int>(m_runs.size()));
    for (int r = 0; r < static_cast<int>(m_runs.size()); ++r) {
        const QStringList cells = runCells(m_runs[static_cast<size_t>(r)], m_runs);
        for (int c = 0; c < cells.size(); ++c) {
            auto* item = new QTableWidgetItem(cells[c]);
            item->setToolTip(c == 0 ? q(m_runs[static_cast<size_t>(r)].path) : cells[c]);
            item->setData(Qt::UserRole, q(m_runs[static_cast<size_t>(r)].path));
            m_table->setItem(r, c, item);
        }
    }
    m_status->setText(m_project.file.empty()
                          ? tr("%n run(s); save the project to record the runs made from it", nullptr,
                               static_cast<int>(m_runs.size()))
                          : tr("%n run(s) of %1", nullptr, static_cast<int>(m_runs.size()))
                                .arg(QFileInfo(q(m_project.file)).fileName()));
    onSelection();
}

QStringList RunsPanel::selectedPaths() const {
    QStringList out;
    for (int r = 0; r < m_table->rowCount(); ++r)
        if (m_table->item(r, 0) && m_table->item(r, 0)->isSelected()) out << m_table->item(r, 0)->data(Qt::UserRole).toString();
    return out;
}

void RunsPanel::selectPaths(const QStringList& paths) {
    {
        const QSignalBlocker block(m_table);
        m_table->clearSelection();
        for (int r = 0; r < m_table->rowCount(); ++r)
            if (paths.contains(m_table->item(r, 0)->data(Qt::UserRole).toString()))
                for (int c = 0; c < m_table->columnCount(); ++c) m_table->item(r, c)->setSelected(true);
    }
    onSelection();
}

QStringList RunsPanel::selectedEvaluations() const {
    QStringList out;
    for (const QString& p : selectedPaths()) {
        const auto* r = findRun(m_runs, p.toStdString());
        if (!r) continue;
        if (r->kind == "evaluation") {
            if (!out.contains(p)) out << p;
        } else if (!r->evaluations.empty()) {
            const QString e = q(r->evaluations.back());
            if (!out.contains(e)) out << e;
        }
    }
    return out;
}

QStringList RunsPanel::selectedModels() const {
    QStringList out;
    for (const QString& p : selectedPaths()) {
        const auto* r = findRun(m_runs, p.toStdString());
        if (r && r->is_model()) out << p;
    }
    return out;
}

void RunsPanel::onSelection() {
    const QStringList sel = selectedPaths();
    m_open->setEnabled(sel.size() == 1);
    m_rename->setEnabled(sel.size() == 1);
    m_delete->setEnabled(sel.size() == 1);
    m_compare->setEnabled(!selectedEvaluations().isEmpty());
    m_compareRouting->setEnabled(selectedModels().size() == 2);
    m_compareLoad->setEnabled(selectedModels().size() == 2);
    const auto* r = sel.size() == 1 ? findRun(m_runs, sel.front().toStdString()) : nullptr;
    m_details->setPlainText(r ? runDetails(*r) : QString());
    Q_EMIT selectionChanged(sel);
}

bool RunsPanel::renameRun(const QString& path, const QString& label, QString* error) {
    try {
        den2moe::rename_run(m_project, path.toStdString(), label.trimmed().toStdString());
    } catch (const den2moe::Error& e) {
        if (error) *error = q(e.what());
        return false;
    }
    refresh();
    return true;
}

bool RunsPanel::deleteRun(const QString& path, QString* error) {
    try {
        den2moe::delete_run(m_project, path.toStdString());
    } catch (const den2moe::Error& e) {
        if (error) *error = q(e.what());
        return false;
    }
    refresh();
    return true;
}

void RunsPanel::renameSelectedDialog() {
    const QStringList sel = selectedPaths();
    if (sel.size() != 1) return;
    const auto* r = findRun(m_runs, sel.front().toStdString());
    bool ok = false;
    const QString label = QInputDialog::getText(this, tr("Rename run"), tr("Name shown for %1:").arg(sel.front()),
                                                QLineEdit::Normal, r ? q(r->label) : QString(), &ok);
    if (!ok) return;
    QString err;
    if (!renameRun(sel.front(), label, &err)) showError(tr("Rename run"), err);
}

void RunsPanel::deleteSelectedDialog() {
    const QStringList sel = selectedPaths();
    if (sel.size() != 1) return;
    const auto* r = findRun(m_runs, sel.front().toStdString());
    QString children;
    for (const auto* o : den2moe::runs_made_from(m_runs, sel.front().toStdString()))
        children += QStringLiteral("\n  ") + q(o->label);
    const QString text = tr("Delete the folder %1 and everything in it?").arg(sel.front()) +
                         (children.isEmpty() ? QString() : tr("\nThese runs were made from it and lose their source:%1").arg(children));
    if (m_interactive &&
        QMessageBox::question(this, tr("Delete run %1").arg(r ? q(r->label) : QString()), text,
                              QMessageBox::Yes | QMessageBox::Cancel, QMessageBox::Cancel) != QMessageBox::Yes)
        return;
    if (!m_interactive) return;  // never without the user's yes
    QString err;
    if (!deleteRun(sel.front(), &err)) showError(tr("Delete run"), err);
}

void RunsPanel::openSelectedFolder() {
    const QStringList sel = selectedPaths();
    if (sel.size() == 1) QDesktopServices::openUrl(QUrl::fromLocalFile(sel.front()));
}

void RunsPanel::showError(const QString& what, const QString& message) {
    m_status->setText(message);
    if (m_interactive) QMessageBox::warning(this, what, message);
}

}  // namespace den2moe::ui
