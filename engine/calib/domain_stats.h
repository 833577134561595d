// Per-domain FLAP statistics through the disk cache: what mining, conversion and every rerun share,
// and the merge of several domains' statistics into one calibration set (a DIVE cluster).
#pragma once

#include <string>
#include <vector>

#include "calib/ffn_stats.h"
#include "project/project.h"

namespace den2moe {

class LlamaModel;
class RunContext;
class Tokenizer;
struct TokenScoreSettings;

struct DomainStatsRun {
    std::vector<FfnStats> stats;  ///< one per requested domain, in order
    int64_t hits = 0, misses = 0; ///< cache entries reused / computed
    int64_t tokens = 0;           ///< calibration tokens forwarded (0 when all cached)
    int64_t re_encodings = 0;     ///< TokenScore: masked re-encodings run (0 when all cached)
    double seconds = 0;           ///< wall time of the computed (not cached) entries
};

/// Statistics of each domain's calibration split (project sampling settings), from the cache when
/// present, else computed and stored atomically. Progress stage "statistics"; cancellable.
/// `need_abs`: the entries must hold the per-channel mean |activation| (Den2MoEE); an older entry
/// without it is recomputed and overwritten (same key: the other moments are unchanged).
/// `token_score` (non-null): each domain's statistics are TokenScore-weighted profiles of up to
/// n_samples whole records truncated to seq_len (calib/token_score.h), cached under a key that names
/// the weighting and its settings; `re_encodings` then counts the masked forwards.
DomainStatsRun domain_statistics(const Project& project, const std::vector<const ProjectDomain*>& domains,
                                 const LlamaModel& model, const Tokenizer& tok, const std::string& model_hash,
                                 bool use_cache, RunContext& ctx, bool need_abs = false,
                                 const TokenScoreSettings* token_score = nullptr);

/// The statistics of the union of the parts' calibration tokens (Chan's merge, per layer).
FfnStats merge_stats(const std::vector<const FfnStats*>& parts);

}  // namespace den2moe
