// The only app/gui translation unit that includes RunContext (and so ATen). No Qt here.
#include "engine_bridge.h"

#include "core/error.h"
#include "core/run_context.h"

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace den2moe::bridge {

namespace {

JobError toJobError(const Error& e) {
    return JobError{e.message(), e.hint(), error_kind_name(e.kind())};
}

/// Forwards an external cancel flag to a CancelToken until stopped (the token owns its own flag).
class CancelForwarder {
public:
    CancelForwarder(CancelFlag flag, const CancelToken& token) : flag_(std::move(flag)), token_(token) {
        if (flag_) {
            thread_ = std::thread([this] { loop(); });
        }
    }
    ~CancelForwarder() {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            stop_ = true;
        }
        cv_.notify_all();
        if (thread_.joinable()) {
            thread_.join();
        }
    }
    CancelForwarder(const CancelForwarder&) = delete;
    CancelForwarder& operator=(const CancelForwarder&) = delete;

private:
    void loop() {
        std::unique_lock<std::mutex> lock(mutex_);
        while (!stop_) {
            if (flag_->load()) {
                token_.cancel();
                return;
            }
            cv_.wait_for(lock, std::chrono::milliseconds(10));
        }
    }

    CancelFlag flag_;
    CancelToken token_;
    std::mutex mutex_;
    std::condition_variable cv_;
    bool stop_ = false;
    std::thread thread_;
};

}  // namespace

void translateErrors(const std::function<void()>& fn) {
    try {
        fn();
    } catch (const JobCancelled&) {
        throw;
    } catch (const JobFailed&) {
        throw;
    } catch (const Cancelled&) {
        throw JobCancelled();
    } catch (const Error& e) {
        throw JobFailed(toJobError(e));
    } catch (const std::bad_alloc&) {
        throw JobFailed(JobError{"out of memory", "close other programs or reduce the settings", "out of memory"});
    } catch (const std::exception& e) {
        throw JobFailed(JobError{e.what(), {}, "internal"});
    }
}

MiningResult runMining(const Project& project, const MiningOptions& options, ProgressFn progress,
                       CancelFlag cancel) {
    MiningResult result;
    translateErrors([&] {
        RunContext ctx;
        if (cancel && cancel->load()) {
            throw Cancelled();
        }
        ctx.on_progress = [&](const Progress& p) {
            if (cancel && cancel->load()) {
                ctx.cancel.cancel();
            }
            if (progress) {
                progress(ProgressInfo{p.stage, p.step, p.total, p.message, p.elapsed_s, p.eta_s});
            }
        };
        CancelForwarder forwarder(cancel, ctx.cancel);
        result = run_mining(project, options, ctx);
        if (cancel && cancel->load()) {
            throw Cancelled();  // cancelled after the last check: the result is not wanted
        }
    });
    return result;
}

}  // namespace den2moe::bridge
