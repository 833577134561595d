// The GUI's one door to engine calls that need a RunContext (which includes ATen): a Qt-free,
// torch-free API. Only engine_bridge.cpp sees RunContext, so no Qt translation unit pays for ATen
// or meets its macros. Cancellation is a shared atomic flag; the engine's den2moe::Cancelled becomes
// bridge::JobCancelled and den2moe::Error becomes bridge::JobFailed carrying what / hint / kind.
#pragma once

#include "mining/mining.h"
#include "project/project.h"

#include <atomic>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <string>

namespace den2moe::bridge {

/// One progress report of a running job (a copy of the engine's Progress).
struct ProgressInfo {
    std::string stage;
    int64_t step = 0;
    int64_t total = 0;  ///< 0 = unknown
    std::string message;
    double elapsed_s = 0;
    double eta_s = -1;  ///< -1 = unknown
};

/// What an engine failure tells the user.
struct JobError {
    std::string what;  ///< the message, without the hint
    std::string hint;
    std::string kind;  ///< "invalid input", "io", ... (error_kind_name), "internal" for non-engine errors
};

/// Thrown by a bridge call when the cancel flag stopped the job.
class JobCancelled : public std::exception {
public:
    const char* what() const noexcept override { return "cancelled"; }
};

/// Thrown by a bridge call when the engine failed.
class JobFailed : public std::exception {
public:
    explicit JobFailed(JobError error) : error_(std::move(error)) {}
    const JobError& error() const { return error_; }
    const char* what() const noexcept override { return error_.what.c_str(); }

private:
    JobError error_;
};

using ProgressFn = std::function<void(const ProgressInfo&)>;
using CancelFlag = std::shared_ptr<std::atomic<bool>>;

/// run_mining() with a progress callback (called on the calling thread) and a cancel flag that is
/// checked by the engine between batches (forwarded to the RunContext within ~10 ms).
/// Throws JobCancelled or JobFailed.
MiningResult runMining(const Project& project, const MiningOptions& options, ProgressFn progress,
                       CancelFlag cancel);

/// Calls `fn` and turns den2moe::Error / den2moe::Cancelled / std::exception into JobFailed /
/// JobCancelled, for the torch-free engine calls the GUI makes directly.
void translateErrors(const std::function<void()>& fn);

}  // namespace den2moe::bridge
