// Fixtures for the app tests: a small hand-made MiningResult (4 domains, known linkage) and the
// demo project shrunk to a few domains and tiny settings so a real mining run takes seconds.
#pragma once

#include "mining/mining.h"
#include "project/project.h"

#include <QDir>
#include <QFile>
#include <QProcess>
#include <QString>
#include <QStringList>

#include <string>
#include <vector>

namespace d2mtest {

/// 4 domains a, b, c, d. Linkage: (b, d) at 0.1 -> 4; (a, 4) at 0.4 -> 5; (c, 5) at 0.9 -> 6.
/// scipy leaves: [c, a, b, d] = [2, 0, 1, 3]. fcluster distance: t=0.05 -> 4, 0.2 -> 3, 0.5 -> 2, 1 -> 1.
inline den2moe::MiningResult handMadeResult() {
    den2moe::MiningResult r;
    r.domains = {"a", "b", "c", "d"};
    r.n = 4;
    r.ppl = {10, 20, 30, 40,   //
             11, 19, 33, 38,   //
             15, 25, 12, 50,   //
             12, 21, 31, 35};
    r.dense_ppl = {8, 15, 10, 30};
    r.normalized.resize(16);
    for (int i = 0; i < 4; ++i) {
        for (int j = 0; j < 4; ++j) {
            double mn = 1e300;
            for (int k = 0; k < 4; ++k) {
                mn = std::min(mn, r.ppl[size_t(k * 4 + j)]);
            }
            r.normalized[size_t(i * 4 + j)] = mn / r.ppl[size_t(i * 4 + j)];
        }
    }
    r.correlation = {1, 0.5, -0.2, 0.6,  //
                     0.5, 1, -0.1, 0.9,  //
                     -0.2, -0.1, 1, 0.0, //
                     0.6, 0.9, 0.0, 1};
    r.distance.resize(16);
    for (size_t i = 0; i < 16; ++i) {
        r.distance[i] = 1 - r.correlation[i];
    }
    r.linkage.z = {1, 3, 0.1, 2,  //
                   0, 4, 0.4, 3,  //
                   2, 5, 0.9, 4};
    r.leaf_order = {2, 0, 1, 3};
    r.linkage_method = "average";
    r.correlate = "rows";
    return r;
}

inline QString demoProjectPath() {
    return QStringLiteral(D2M_SOURCE_DIR "/projects/demo.den2moe.json");
}

/// The demo project on `domains` with tiny settings; its cache in `cacheDir`.
inline den2moe::Project smallDemoProject(const std::vector<std::string>& domains, const QString& cacheDir,
                                         int64_t calibSamples = 4, int64_t seq = 64, int64_t evalWindows = 2) {
    den2moe::Project p = den2moe::load_project(demoProjectPath().toStdString());
    for (auto& d : p.domains) {
        d.enabled = std::find(domains.begin(), domains.end(), d.name) != domains.end();
    }
    p.calib.n_samples = calibSamples;
    p.calib.seq_len = seq;
    p.eval.n_windows = evalWindows;
    p.eval.seq_len = seq;
    p.dtype = "fp32";
    p.cache_dir = cacheDir.toStdString();
    return p;
}

/// `den2moe convert` of the demo project with the random recipe (`experts` x top-`topK`, fp32, no
/// evaluation) into `out`: "" when it worked, else why not (the CLI's stderr).
inline QString convertRandomWithCli(const QString& out, int experts = 4, int topK = 2) {
    const QString cli = QStringLiteral(D2M_BUILD_DIR "/bin/den2moe");
    if (!QFile::exists(cli)) return QStringLiteral("the den2moe CLI is not built beside the app");
    QProcess proc;
    proc.start(cli, {QStringLiteral("convert"), demoProjectPath(), QStringLiteral("--recipe"), QStringLiteral("random"),
                     QStringLiteral("--experts"), QString::number(experts), QStringLiteral("--top-k"),
                     QString::number(topK), QStringLiteral("--dtype"), QStringLiteral("fp32"), QStringLiteral("--no-eval"),
                     QStringLiteral("--quiet"), QStringLiteral("--out"), out});
    if (!proc.waitForFinished(300000)) return QStringLiteral("den2moe convert timed out");
    return proc.exitCode() == 0 ? QString() : QString::fromUtf8(proc.readAllStandardError());
}

/// The folder tests write images into for a look (<build>/test-output).
inline QString testOutputDir() {
    const QString dir = QStringLiteral(D2M_BUILD_DIR "/test-output");
    QDir().mkpath(dir);
    return dir;
}

/// Runs the built `den2moe` with `args`: "" when it exits 0, else its stderr (or why it did not finish).
inline QString runCli(const QStringList& args, int timeoutMs = 600000) {
    QProcess proc;
    proc.start(QStringLiteral(D2M_BUILD_DIR "/bin/den2moe"), args);
    if (!proc.waitForFinished(timeoutMs)) return QStringLiteral("den2moe %1 timed out").arg(args.front());
    return proc.exitCode() == 0 ? QString() : QString::fromUtf8(proc.readAllStandardError());
}

}  // namespace d2mtest
