// ProjectController: see project_controller.h.
#include "project_controller.h"

#include <QDateTime>
#include <QFile>
#include <QFileInfo>
#include <QSaveFile>
#include <QSettings>
#include <QTimer>

namespace den2moe::ui {

namespace {
constexpr int kMaxRecent = 8;
const char* const kRecentKey = "recentFiles";
}  // namespace

ProjectController::ProjectController(QObject* parent) : QObject(parent) {
    m_autosave = new QTimer(this);
    m_autosave->setSingleShot(true);
    connect(m_autosave, &QTimer::timeout, this, [this] { autosaveNow(); });
}

void ProjectController::reset(const den2moe::Project& project, bool modified) {
    m_autosave->stop();
    m_project = project;
    m_modified = modified;
    Q_EMIT projectReset();
    Q_EMIT modifiedChanged(modified);
    if (modified) scheduleAutosave();
}

bool ProjectController::open(const QString& path, QString* error) {
    den2moe::Project p;
    try {
        p = den2moe::load_project(QFileInfo(path).absoluteFilePath().toStdString());
    } catch (const std::exception& e) {
        const QString msg = tr("Cannot open %1: %2").arg(path, errorText(e));
        Q_EMIT logged(msg);
        if (error) *error = msg;
        return false;
    }
    reset(p, false);
    addRecentFile(QString::fromStdString(m_project.file));
    Q_EMIT logged(tr("Opened %1").arg(QString::fromStdString(m_project.file)));
    const QFileInfo recovery(autosavePath());
    const QFileInfo file(QString::fromStdString(m_project.file));
    if (recovery.exists() && recovery.lastModified() > file.lastModified()) {
        Q_EMIT logged(tr("Found unsaved changes from %1 in %2")
                          .arg(recovery.lastModified().toString(Qt::ISODate), recovery.filePath()));
        Q_EMIT autosaveFound(recovery.filePath(), recovery.lastModified());
    }
    return true;
}

bool ProjectController::save(const QString& path, QString* error) {
    const QString before = autosavePath();
    try {
        den2moe::save_project(m_project, QFileInfo(path).absoluteFilePath().toStdString());
    } catch (const std::exception& e) {
        const QString msg = tr("Cannot save %1: %2").arg(path, errorText(e));
        Q_EMIT logged(msg);
        if (error) *error = msg;
        return false;
    }
    if (!before.isEmpty()) QFile::remove(before);
    discardAutosave();
    setModified(false);
    addRecentFile(QString::fromStdString(m_project.file));
    Q_EMIT logged(tr("Saved %1").arg(QString::fromStdString(m_project.file)));
    return true;
}

void ProjectController::update(const std::function<void(den2moe::Project&)>& edit, bool modifies) {
    edit(m_project);
    if (modifies) {
        setModified(true);
        scheduleAutosave();
    }
}

void ProjectController::setModified(bool modified) {
    if (!modified) m_autosave->stop();
    if (modified == m_modified) return;
    m_modified = modified;
    Q_EMIT modifiedChanged(modified);
}

// ---- recent files ----------------------------------------------------------------------------------

QStringList ProjectController::recentFiles() const {
    return QSettings().value(QString::fromLatin1(kRecentKey)).toStringList();
}

void ProjectController::addRecentFile(const QString& path) {
    if (path.isEmpty()) return;
    QStringList files = recentFiles();
    files.removeAll(path);
    files.prepend(path);
    while (files.size() > kMaxRecent) files.removeLast();
    QSettings().setValue(QString::fromLatin1(kRecentKey), files);
    Q_EMIT recentFilesChanged();
}

// ---- autosave --------------------------------------------------------------------------------------

QString ProjectController::autosavePath() const {
    return m_project.file.empty() ? QString() : QString::fromStdString(m_project.file) + QStringLiteral(".autosave");
}

void ProjectController::setAutosaveIntervalMs(int ms) {
    m_autosaveMs = ms;
    if (m_autosave->isActive()) m_autosave->start(m_autosaveMs);
}

void ProjectController::scheduleAutosave() {
    if (m_autosaveMs > 0 && !m_project.file.empty() && !m_autosave->isActive()) m_autosave->start(m_autosaveMs);
}

bool ProjectController::autosaveNow() {
    const QString path = autosavePath();
    if (path.isEmpty() || !m_modified) return false;
    QSaveFile f(path);  // temporary file + rename: never a half-written copy
    if (!f.open(QIODevice::WriteOnly)) {
        Q_EMIT logged(tr("Autosave: cannot write %1").arg(path));
        return false;
    }
    f.write(QByteArray::fromStdString(den2moe::project_to_json(m_project)));
    if (!f.commit()) {
        Q_EMIT logged(tr("Autosave: cannot write %1").arg(path));
        return false;
    }
    return true;
}

bool ProjectController::restoreAutosave(QString* error) {
    const QString path = autosavePath();
    QFile f(path);
    if (path.isEmpty() || !f.open(QIODevice::ReadOnly)) {
        if (error) *error = tr("No autosaved copy of this project");
        return false;
    }
    try {
        // paths inside stay relative to the project's own file
        den2moe::Project p = den2moe::parse_project(f.readAll().toStdString(), m_project.file);
        p.file = m_project.file;
        reset(p, true);
    } catch (const std::exception& e) {
        if (error) *error = tr("Cannot read %1: %2").arg(path, errorText(e));
        return false;
    }
    Q_EMIT logged(tr("Restored the unsaved changes from %1").arg(path));
    return true;
}

void ProjectController::discardAutosave() {
    const QString path = autosavePath();
    if (!path.isEmpty()) QFile::remove(path);
}

}  // namespace den2moe::ui
