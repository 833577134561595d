// The mining job: FLAP statistics per domain (cached), one pruned model per calibration domain, the
// N×N perplexity matrix (cells cached by what they depend on), then the affinity math of
// mining/mining.h. Settings: the project's calibration, evaluation, pruning and clustering sections;
// validate_mining() checks them and the domains before any work starts. Torch-free header.
#pragma once

#include <string>
#include <vector>

#include "mining/mining.h"
#include "project/project.h"

namespace den2moe {

class RunContext;

struct MiningOptions {
    std::vector<std::string> only_domains;  ///< subset by name (empty = all enabled domains)
    bool use_cache = true;                  ///< statistics and perplexity cells from/to the project's cache
    int threads = 0;                        ///< 0 = leave torch's setting alone
};

/// Every problem that stops a mining run of `project` with `opt` (the selected domains only), as the
/// house error: the project's settings and files, unknown --domains names, fewer than 2 domains.
void validate_mining(const Project& project, const MiningOptions& opt);

/// Run the whole mining. Progress stages: "load", "statistics", "pruning", "evaluation",
/// "clustering". Cancellation throws Cancelled between batches; the statistics cache stays valid
/// (entries are written atomically, one per domain, as soon as they are complete).
MiningResult run_mining(const Project& project, const MiningOptions& opt, RunContext& ctx);

}  // namespace den2moe
