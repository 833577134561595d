// ProjectController: the open project and its life cycle, without widgets — new / open / save, the
// modified flag, the recent-files list (QSettings), and autosave: while a saved project has unsaved
// changes, a recovery copy `<file>.autosave` is written every autosaveIntervalMs() (atomically); a
// save or an explicit discard removes it (never a reset: a crash must not lose it), and opening a project
// whose recovery copy is newer than the file offers it (autosaveFound). Every step's settings live in the project
// (den2moe::Project: calibration … conversion, export), so the window's settings widgets edit them
// through update() and they are saved with it.
#pragma once

#include "job_runner.h"  // errorText
#include "project/project.h"

#include <QDateTime>
#include <QObject>
#include <QString>
#include <QStringList>

#include <functional>

class QTimer;

namespace den2moe::ui {

class ProjectController : public QObject {
    Q_OBJECT
public:
    explicit ProjectController(QObject* parent = nullptr);

    const den2moe::Project& project() const { return m_project; }
    bool isModified() const { return m_modified; }

    /// Replaces the project (nothing is read; used for a new project and after overriding settings).
    void reset(const den2moe::Project& project, bool modified);
    /// load_project(path) and reset(); the file goes to the recent files. False with the message.
    bool open(const QString& path, QString* error = nullptr);
    /// save_project to `path` (atomic); clears the modified flag and the autosave copy.
    bool save(const QString& path, QString* error = nullptr);
    /// Applies `edit` to the project; `modifies` marks it modified (and schedules an autosave).
    void update(const std::function<void(den2moe::Project&)>& edit, bool modifies = true);
    void setModified(bool modified);

    QStringList recentFiles() const;
    void addRecentFile(const QString& path);

    /// `<project file>.autosave` ("" for a project never saved).
    QString autosavePath() const;
    void setAutosaveIntervalMs(int ms);
    int autosaveIntervalMs() const { return m_autosaveMs; }
    /// Writes the recovery copy now (false when there is nothing to write or it failed).
    bool autosaveNow();
    /// Reads the recovery copy of the open project as the project (modified, same file name).
    bool restoreAutosave(QString* error = nullptr);
    /// Deletes the recovery copy of the open project, if any.
    void discardAutosave();

Q_SIGNALS:
    /// A different project is shown (reset / open): widgets refill from project().
    void projectReset();
    void modifiedChanged(bool modified);
    void recentFilesChanged();
    /// After open(): the project has a recovery copy newer than its file, from `when`.
    void autosaveFound(const QString& path, const QDateTime& when);
    /// One line for the session log.
    void logged(const QString& line);

private:
    void scheduleAutosave();

    den2moe::Project m_project;
    bool m_modified = false;
    int m_autosaveMs = 120000;
    QTimer* m_autosave = nullptr;
};

}  // namespace den2moe::ui
