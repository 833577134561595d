// EvalSummary → ResultsData (see results_adapters.h).
#include "results_adapters.h"

#include "core/error.h"

#include <QDir>
#include <QFileInfo>
#include <QMap>
#include <QSet>

#include <cmath>

namespace den2moe::ui {

namespace {

QString folderName(const QString& source) {
    const QFileInfo fi(source);
    return fi.isDir() ? QDir(fi.absoluteFilePath()).dirName() : fi.absoluteDir().dirName();
}

/// `label`, or "label [folder]", or "label [folder] #n": the first not in `taken`.
QString uniqueLabel(const QString& label, const QString& source, const QSet<QString>& taken) {
    if (!taken.contains(label)) return label;
    const QString withFolder = QStringLiteral("%1 [%2]").arg(label, folderName(source));
    if (!taken.contains(withFolder)) return withFolder;
    for (int n = 2;; ++n) {
        const QString s = QStringLiteral("%1 #%2").arg(withFolder).arg(n);
        if (!taken.contains(s)) return s;
    }
}

}  // namespace

void appendResults(ResultsData& base, const ResultsData& more) {
    QSet<QString> tasks, labels;
    for (const ResultTaskInfo& t : base.tasks) tasks.insert(t.task);
    for (const ResultRunData& r : base.runs) labels.insert(r.label);
    for (const ResultTaskInfo& t : more.tasks) {
        if (!tasks.contains(t.task)) {
            base.tasks.push_back(t);
            tasks.insert(t.task);
        }
    }
    for (ResultRunData r : more.runs) {
        r.label = uniqueLabel(r.label, r.source, labels);
        labels.insert(r.label);
        base.runs.push_back(r);
    }
}

ResultsData resultsDataFrom(const std::vector<std::pair<std::string, den2moe::EvalSummary>>& runs) {
    ResultsData out;
    for (const auto& [source, s] : runs) {
        ResultsData one;
        ResultRunData run;
        run.source = QString::fromStdString(source);
        QString label = QString::fromStdString(s.model);
        if (label.startsWith(QLatin1String("den2moe/"))) label = label.mid(8);
        run.label = label.isEmpty() ? folderName(run.source) : label;
        for (const den2moe::TaskScores& t : s.tasks) {
            const QString task = QString::fromStdString(t.task);
            one.tasks.push_back({task, QString::fromStdString(t.type), QString::fromStdString(t.main_score_name), t.chance,
                                 t.is_mteb() && t.type != den2moe::kOtherTaskType});
            run.scores.insert(task, t.main_score);
        }
        one.runs.push_back(run);
        appendResults(out, one);
    }
    return out;
}

bool importMtebFolder(const QString& dir, ResultsData* out, QString* error) {
    std::vector<std::pair<std::string, den2moe::EvalSummary>> runs;
    try {
        runs = den2moe::import_mteb_results(dir.toStdString());
    } catch (const std::exception& e) {  // den2moe::Error names the file or the folder
        if (error) *error = QString::fromStdString(e.what());
        return false;
    }
    ResultsData data;
    for (const auto& [label, s] : runs) {
        ResultsData one = resultsDataFrom({{s.model_path, s}});
        one.runs.front().label = QString::fromStdString(label);  // as the mteb folder names it (no prefix dropped)
        appendResults(data, one);
    }
    *out = data;
    return true;
}

bool loadResultsFolders(const QStringList& dirs, ResultsData* out, QString* error) {
    std::vector<std::pair<std::string, den2moe::EvalSummary>> runs;
    ResultsData all;
    auto flush = [&] {
        appendResults(all, resultsDataFrom(runs));
        runs.clear();
    };
    for (const QString& d : dirs) {
        const QFileInfo fi(d);
        if (fi.isDir() && !QFileInfo::exists(d + QStringLiteral("/summary.json"))) {
            ResultsData imported;
            if (!importMtebFolder(d, &imported, error)) return false;
            flush();
            appendResults(all, imported);
            continue;
        }
        try {
            runs.emplace_back(d.toStdString(), den2moe::read_summary(d.toStdString()));
        } catch (const std::exception& e) {  // den2moe::Error names the file; anything else is bad input too
            if (error) *error = QString::fromStdString(e.what());
            return false;
        }
    }
    flush();
    *out = all;
    return true;
}

}  // namespace den2moe::ui
