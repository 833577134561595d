// The app's step jobs: see step_jobs.h.
#include "step_jobs.h"

#include "core/run_context.h"

#include <QDir>

namespace den2moe::ui {

QString miningCacheDir(const den2moe::Project& p) {
    try {
        return QDir(QString::fromStdString(den2moe::project_cache_dir(p))).filePath(QStringLiteral("mining"));
    } catch (const std::exception&) {
        return {};
    }
}

bool miningResultFits(const den2moe::MiningResult& r, const den2moe::Project& p) {
    return r.domains == p.domain_names();
}

MiningResultPtr runMiningStep(const den2moe::Project& project, const den2moe::MiningOptions& options,
                              const std::string& cacheDir, den2moe::RunContext& ctx) {
    auto r = std::make_shared<const den2moe::MiningResult>(den2moe::run_mining(project, options, ctx));
    if (!cacheDir.empty() && miningResultFits(*r, project)) {
        try {
            den2moe::write_mining_outputs(*r, cacheDir, project.cluster.k);
        } catch (const std::exception&) {
            // the cache is a convenience: a read-only project folder must not fail the run
        }
    }
    return r;
}

ConversionOutputPtr runConversionStep(const den2moe::Project& project, const den2moe::ProjectClusters& clusters,
                                      const den2moe::ConvertSettings& settings, const std::string& outDir,
                                      den2moe::RunContext& ctx) {
    den2moe::ConversionRun run = den2moe::run_conversion(project, clusters, settings, outDir, ctx);
    auto out = std::make_shared<ConversionOutput>();
    out->dir = run.out_dir;
    out->settings = settings;
    out->params_dense = run.eval.value("params_dense", int64_t(0));
    out->params_total = run.eval.value("params_total", int64_t(0));
    out->params_active = run.eval.value("params_active", int64_t(0));
    out->cache_hits = run.result.stats_cache_hits;
    out->cache_misses = run.result.stats_cache_misses;
    out->seconds = run.result.seconds;
    out->ppl = run.ppl;
    out->load = run.load;
    run = {};  // the dense and converted models are not kept: the views read the saved folder
    if (den2moe::recipe_traits(settings.recipe).makes_moe) {
        ctx.check_cancelled();
        out->model = bridge::loadMoeModel(outDir);
    }
    return out;
}

}  // namespace den2moe::ui
