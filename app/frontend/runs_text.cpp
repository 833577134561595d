#include "runs_text.h"

#include <cmath>
#include <cstdio>
#include <filesystem>

#include "core/error.h"
#include "eval/results.h"

namespace den2moe::frontend {

namespace fs = std::filesystem;

namespace {

std::string fixed(double v, int digits) {
    if (!std::isfinite(v)) return "\xe2\x80\x94";  // an em dash
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", digits, v);
    return buf;
}

}  // namespace

RunText run_text(const ProjectRun& run, const std::vector<ProjectRun>& all) {
    RunText t;
    t.label = run.label;
    t.kind = run.kind;
    if (run.parent.empty()) {
        if (!run.source_model.empty()) t.made_from = "dense " + fs::path(run.source_model).filename().string();
    } else if (const ProjectRun* p = find_run(all, run.parent)) {
        t.made_from = p->label;
    } else {
        t.made_from = fs::path(run.parent).filename().string() + " (not a run)";
    }
    t.lineage = run.lineage();
    if (std::isfinite(run.ppl_before) || std::isfinite(run.ppl_after))
        t.results.push_back("held-out ppl " + fixed(run.ppl_before, 1) + " \xe2\x86\x92 " + fixed(run.ppl_after, 1));
    // the newest evaluation of a model (evaluations are listed oldest first), or the evaluation itself
    const std::string evalDir = run.kind == "evaluation" ? run.path : (run.evaluations.empty() ? "" : run.evaluations.back());
    if (!evalDir.empty()) {
        try {
            const EvalSummary s = read_summary(evalDir);
            if (std::isfinite(s.mean_task))
                t.results.push_back("Mean(Task) " + fixed(100.0 * s.mean_task, 2) + ", Mean(TaskType) " +
                                    fixed(100.0 * s.mean_task_type, 2));
            if (std::isfinite(s.mean_zeroshot)) t.results.push_back("zero-shot " + fixed(100.0 * s.mean_zeroshot, 2));
            if (run.evaluations.size() > 1) t.results.push_back(std::to_string(run.evaluations.size()) + " evaluations");
        } catch (const Error& e) {
            t.results.push_back(std::string("evaluation unreadable: ") + e.what());
        }
    }
    t.created = run.created;
    t.client = run.client;
    return t;
}

}  // namespace den2moe::frontend
