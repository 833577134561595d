// RunContext implementation: cancel check, progress with ETA and metrics.
#include "core/run_context.h"

#include <algorithm>

#include "core/error.h"

namespace den2moe {

void RunContext::check_cancelled() const {
    if (cancel.cancelled()) throw Cancelled();
}

double Progress::metric(const std::string& name, double def) const {
    for (const auto& m : metrics) {
        if (m.name == name) return m.value;
    }
    return def;
}

RunContext RunContext::quiet() const {
    RunContext q;
    q.cancel = cancel;
    q.client = client;
    return q;
}

void RunContext::report(const std::string& stage, int64_t step, int64_t total, const std::string& message,
                        std::vector<Metric> metrics) {
    auto now = std::chrono::steady_clock::now();
    if (stage != stage_ || step < stage_first_step_) {
        stage_ = stage;
        stage_start_ = now;
        stage_first_step_ = step;
    }
    if (!on_progress) return;
    Progress p;
    p.stage = stage;
    p.step = step;
    p.total = total;
    p.message = message;
    p.metrics = std::move(metrics);
    p.elapsed_s = std::chrono::duration<double>(now - stage_start_).count();
    int64_t done = step - stage_first_step_;
    if (total > 0 && done > 0) p.eta_s = p.elapsed_s / double(done) * double(total - step);
    on_progress(p);
}

RunContext& null_context() {
    thread_local RunContext ctx;
    return ctx;
}

}  // namespace den2moe
