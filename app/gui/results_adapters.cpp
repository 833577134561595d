// EvalSummary → ResultsData (see results_adapters.h).
#include "results_adapters.h"

#include "core/error.h"
#include "eval/task_registry.h"

#include <QDir>
#include <QDirIterator>
#include <QFileInfo>
#include <QMap>
#include <QSet>

#include <cmath>
#include <fstream>

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
                                 t.is_mteb()});
            run.scores.insert(task, t.main_score);
        }
        one.runs.push_back(run);
        appendResults(out, one);
    }
    return out;
}

namespace {

/// The main score of an mteb task file's `scores` (see importMtebFolder); NaN when there is none.
double mtebMainScore(const nlohmann::json& scores) {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    if (!scores.is_object() || scores.empty()) return nan;
    const nlohmann::json& split = scores.contains("test") ? scores["test"] : scores.begin().value();
    if (!split.is_array() || split.empty()) return nan;
    auto score = [&](const nlohmann::json& e) {
        return e.is_object() && e.contains("main_score") && e["main_score"].is_number() ? e["main_score"].get<double>()
                                                                                       : nan;
    };
    for (const char* subset : {"default", "en", "en-en"}) {
        for (const auto& e : split) {
            if (e.is_object() && e.value("hf_subset", std::string()) == subset) return score(e);
        }
    }
    double sum = 0;
    for (const auto& e : split) sum += score(e);
    return sum / double(split.size());
}

}  // namespace

bool importMtebFolder(const QString& dir, ResultsData* out, QString* error) {
    // revision folder → (task → score); its model folder's name
    QMap<QString, QHash<QString, double>> byFolder;
    ResultsData data;
    QSet<QString> seenTasks;
    QDirIterator it(dir, {QStringLiteral("*.json")}, QDir::Files, QDirIterator::Subdirectories);
    while (it.hasNext()) {
        const QString path = it.next();
        if (it.fileName() == QLatin1String("model_meta.json")) continue;
        nlohmann::json j;
        try {
            std::ifstream in(path.toStdString());
            j = nlohmann::json::parse(in);
        } catch (const std::exception& e) {
            if (error) *error = QStringLiteral("%1 is not valid JSON: %2").arg(path, QString::fromUtf8(e.what()));
            return false;
        }
        if (!j.is_object() || !j.contains("task_name") || !j["task_name"].is_string() || !j.contains("scores")) continue;
        const std::string name = j["task_name"].get<std::string>();
        const QString task = QString::fromStdString(name);
        byFolder[QFileInfo(path).absolutePath()].insert(task, mtebMainScore(j["scores"]));
        if (!seenTasks.contains(task)) {
            seenTasks.insert(task);
            const den2moe::TaskInfo* info = den2moe::find_task(name);
            ResultTaskInfo t;
            t.task = task;
            if (info) {
                t.type = QString::fromLatin1(den2moe::task_type_name(info->type));
                t.metric = QString::fromStdString(info->main_score);
                t.chance = info->chance;
                t.inMeans = info->is_embedding();
            } else {
                t.type = QStringLiteral("Other");
                t.metric = QStringLiteral("main_score");
                t.inMeans = false;
            }
            data.tasks.push_back(t);
        }
    }
    if (byFolder.isEmpty()) {
        if (error) {
            *error = QStringLiteral("%1 holds neither summary.json (den2moe eval) nor mteb result files "
                                    "(<model>/<revision>/<Task>.json)").arg(dir);
        }
        return false;
    }
    QHash<QString, int> revisionsOfModel;
    for (auto f = byFolder.cbegin(); f != byFolder.cend(); ++f) {
        revisionsOfModel[QFileInfo(f.key()).absolutePath()] += 1;
    }
    for (auto f = byFolder.cbegin(); f != byFolder.cend(); ++f) {
        const QFileInfo rev(f.key());
        const QString modelDir = rev.absolutePath();
        ResultRunData run;
        run.source = f.key();
        run.label = QDir(modelDir).dirName().replace(QStringLiteral("__"), QStringLiteral("/"));
        if (revisionsOfModel[modelDir] > 1) run.label += QLatin1Char('@') + rev.fileName();
        run.scores = f.value();
        ResultsData one;
        one.runs.push_back(run);
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
