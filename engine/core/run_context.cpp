// RunContext implementation: observer registry, cancel check, progress with ETA.
#include "core/run_context.h"

#include <algorithm>

#include "core/error.h"

namespace den2moe {

int ObserverSet::add(std::string site, Fn fn, int layer) {
    int id = next_id_++;
    entries_.push_back(Entry{id, std::move(site), layer, std::move(fn)});
    return id;
}

void ObserverSet::remove(int id) {
    entries_.erase(std::remove_if(entries_.begin(), entries_.end(),
                                  [id](const Entry& e) { return e.id == id; }),
                   entries_.end());
}

void ObserverSet::clear() { entries_.clear(); }

bool ObserverSet::wants(const char* site, int layer) const {
    for (const auto& e : entries_) {
        if (e.site == site && (e.layer < 0 || e.layer == layer)) return true;
    }
    return false;
}

void ObserverSet::emit(const char* site, int layer, const at::Tensor& t,
                       const at::Tensor& token_mask) const {
    HookEvent ev{site, layer, t, token_mask};
    for (const auto& e : entries_) {
        if (e.site == site && (e.layer < 0 || e.layer == layer)) e.fn(ev);
    }
}

void RunContext::check_cancelled() const {
    if (cancel.cancelled()) throw Cancelled();
}

void RunContext::report(const std::string& stage, int64_t step, int64_t total,
                        const std::string& message) {
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
