// The settings of the mining side of the pipeline — calibration sampling, perplexity windows, pruning,
// clustering — each a plain struct with its defaults and one schema (core/settings.h) that the project
// file, the CLI flags and the app's widgets share. The conversion and export steps have theirs in
// convert/convert_settings.h and export/export_settings.h. Torch-free and Qt-free.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/settings.h"

namespace den2moe {

struct CalibSettings {
    int64_t n_samples = 128;  ///< calibration windows per domain
    int64_t seq_len = 256;    ///< tokens per window
    uint64_t seed = 42;
};

struct EvalSettings {
    int64_t seq_len = 256;   ///< non-overlapping windows (DIVE protocol)
    int64_t n_windows = 32;  ///< evaluation windows per domain (tokens = n_windows * seq_len)
    int64_t batch = 8;
};

struct PruneSettings {
    double ratio = 0.5;                 ///< fraction of FFN channels removed
    std::string structure = "uniform";  ///< "uniform" (DIVE, UL-UM) | "adaptive" (FLAP AL-AM, MLP only)
    std::string metric = "wifv";        ///< "wifv" | "ifv" | "wifn"
    bool bias_compensation = true;
};

struct ClusterSettings {
    std::string linkage = "average";  ///< single | complete | average | ward
    std::string correlate = "rows";   ///< Pearson between rows (calibration profiles) or "columns"
    int64_t k = 8;                    ///< clusters for the cut
    std::optional<double> cut_height; ///< a height cut instead of K (set by dragging the line)
};

inline const Schema<CalibSettings>& calib_schema() {
    static const Schema<CalibSettings> s =
        Schema<CalibSettings>("calibration")
            .integer("samples", &CalibSettings::n_samples, "calibration windows per domain", 1, 1 << 20)
            .integer("seq_len", &CalibSettings::seq_len, "tokens per calibration window", 2, 1 << 20, "seq")
            .integer("seed", &CalibSettings::seed, "seed of the calibration window sampling", 0);
    return s;
}

inline const Schema<EvalSettings>& eval_schema() {
    static const Schema<EvalSettings> s =
        Schema<EvalSettings>("evaluation")
            .integer("seq_len", &EvalSettings::seq_len, "tokens per perplexity window", 2, 1 << 20, "eval-seq")
            .integer("windows", &EvalSettings::n_windows, "perplexity windows per domain", 1, 1 << 20, "eval-windows")
            .integer("batch", &EvalSettings::batch, "windows per forward pass", 1, 4096);
    return s;
}

inline const Schema<PruneSettings>& prune_schema() {
    static const Schema<PruneSettings> s =
        Schema<PruneSettings>("pruning")
            .real("ratio", &PruneSettings::ratio, "share of FFN channels pruned per domain model (mining)", 0.0, 1.0,
                  true, true)
            .choice("structure", &PruneSettings::structure, {"uniform", "adaptive"},
                    "uniform per layer (DIVE) or FLAP's adaptive allocation")
            .choice("metric", &PruneSettings::metric, {"wifv", "ifv", "wifn"}, "FLAP channel score")
            .flag("bias_compensation", &PruneSettings::bias_compensation,
                  "replace pruned channels by their mean contribution (FLAP's bias)");
    return s;
}

inline const Schema<ClusterSettings>& cluster_schema() {
    static const Schema<ClusterSettings> s =
        Schema<ClusterSettings>("clustering")
            .choice("linkage", &ClusterSettings::linkage, {"single", "complete", "average", "ward"},
                    "hierarchical clustering method")
            .choice("correlate", &ClusterSettings::correlate, {"rows", "columns"},
                    "Pearson correlation of the normalised matrix's rows or columns")
            .integer("k", &ClusterSettings::k, "clusters of the dendrogram cut", 1, 4096, "clusters");
    return s;
}

}  // namespace den2moe
