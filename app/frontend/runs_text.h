// The words both front ends show for a project's runs (engine/project/runs.h): the Runs tab's cells and
// `den2moe runs`' table are the same strings. Torch-free and Qt-free.
#pragma once

#include <string>
#include <vector>

#include "project/runs.h"

namespace den2moe::frontend {

/// One run as a row of text.
struct RunText {
    std::string label, kind;
    /// "dense demo-llama-7m" (a conversion), the parent run's label, or "<folder> (not a run)".
    std::string made_from;
    std::string lineage;  ///< ProjectRun::lineage()
    /// "held-out ppl 31.2 → 28.4", "Mean(Task) 41.20, Mean(TaskType) 40.11", "zero-shot 45.00",
    /// "2 evaluations", or "evaluation unreadable: ..." (the newest evaluation of a model run).
    std::vector<std::string> results;
    std::string created, client;
};
RunText run_text(const ProjectRun& run, const std::vector<ProjectRun>& all);

}  // namespace den2moe::frontend
