// RunContext: what every long engine job takes — a cancel token and a progress sink whose reports
// carry named metrics (loss, lr, tokens_per_s, ...). Torch-free and Qt-free, so the GUI shares the
// cancel token directly with the job it runs. Observers on named tensors are not part of it: they
// travel with the forward pass (core/observers.h, ForwardOptions::observers).
// Cancel is cooperative: loops call check_cancelled() at safe points (between batches/layers/steps);
// it throws den2moe::Cancelled, which is not an Error.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace den2moe {

class CancelToken {
public:
    CancelToken() : flag_(std::make_shared<std::atomic<bool>>(false)) {}
    void cancel() const { flag_->store(true); }
    void reset() const { flag_->store(false); }
    bool cancelled() const { return flag_->load(std::memory_order_relaxed); }
    /// The shared flag itself, for a signal handler (a lock-free atomic store is signal-safe).
    std::atomic<bool>* raw_flag() const { return flag_.get(); }

private:
    std::shared_ptr<std::atomic<bool>> flag_;
};

/// A named number reported with progress ("loss", "lr", "tokens_per_s", "held_out_loss", ...).
struct Metric {
    std::string name;
    double value = 0;
};

struct Progress {
    std::string stage;      ///< e.g. "statistics", "evaluation", "train"
    int64_t step = 0;       ///< units done in this stage
    int64_t total = 0;      ///< units in this stage (0 = unknown)
    std::string message;    ///< free text, e.g. the domain name
    double elapsed_s = 0;   ///< since the stage began
    double eta_s = -1;      ///< estimated seconds left in the stage, -1 = unknown
    std::vector<Metric> metrics;  ///< this report's numbers, in the order the step gives them
    /// The value of metric `name`, or `def` when absent.
    double metric(const std::string& name, double def = 0) const;
};

class RunContext {
public:
    using ProgressFn = std::function<void(const Progress&)>;

    CancelToken cancel;
    ProgressFn on_progress;
    /// Who runs the job ("den2moe", "den2moe-studio"), recorded in provenance files.
    std::string client = "den2moe";

    /// Throws Cancelled if the token was tripped.
    void check_cancelled() const;
    /// Report progress; ETA is derived from the time since this stage's first report.
    void report(const std::string& stage, int64_t step, int64_t total, const std::string& message = {},
                std::vector<Metric> metrics = {});
    /// A context sharing this one's cancel token and no progress sink (for inner jobs whose
    /// per-batch reports would drown the outer ones).
    RunContext quiet() const;

private:
    std::string stage_;
    std::chrono::steady_clock::time_point stage_start_{};
    int64_t stage_first_step_ = 0;
};

/// A context for callers that need none of it.
RunContext& null_context();

}  // namespace den2moe
