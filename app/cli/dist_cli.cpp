// Multi-process runs of a CLI command (train, mine): `--nproc N` starts N local workers of the same
// command line (engine/dist/launch.h) and returns their exit status; a worker, or a process started
// by torchrun / srun, joins the job (dist::init_world), prefixes every stderr line with its rank,
// takes cores / local ranks threads unless --threads or D2M_THREADS says otherwise, runs the
// command, tells the others when it fails, and leaves through a barrier (so a rank that fails after
// the last collective still stops the others with an error).
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>

#include "cli.h"
#include "core/error.h"
#include "core/runtime.h"
#include "dist/comm.h"
#include "dist/launch.h"

namespace den2moe::cli {

std::vector<frontend::OptionInfo> dist_options() {
    return {{"nproc", "N",
             "start N local worker processes that share the work (c10d Gloo over loopback); torchrun and srun "
             "set RANK/WORLD_SIZE (or SLURM_PROCID/SLURM_NTASKS) instead",
             false},
            {"dist-timeout", "S",
             "seconds a rank waits for the others (rendezvous, each collective) before it stops with an error "
             "naming the silent rank (default 300)",
             false}};
}

namespace {

/// Copies everything written to fd 2 onto the original stderr with "[rank R] " before each line.
class StderrPrefixer {
public:
    explicit StderrPrefixer(std::string prefix) : prefix_(std::move(prefix)) {
        int fds[2];
        if (::pipe(fds) != 0) return;
        std::fflush(stderr);
        orig_ = ::dup(2);
        ::dup2(fds[1], 2);
        ::close(fds[1]);
        read_ = fds[0];
        thread_ = std::thread([this] { pump(); });
    }
    ~StderrPrefixer() {
        if (!thread_.joinable()) return;
        std::fflush(stderr);
        ::dup2(orig_, 2);  // closes the pipe's last write end: the pump sees EOF
        thread_.join();
        ::close(read_);
        ::close(orig_);
    }

private:
    std::string prefix_;
    int orig_ = -1, read_ = -1;
    std::thread thread_;
    void pump() {
        std::string line;
        char buf[4096];
        bool at_start = true;
        for (;;) {
            const ssize_t n = ::read(read_, buf, sizeof buf);
            if (n <= 0) break;
            std::string out;
            for (ssize_t i = 0; i < n; ++i) {
                if (at_start) out += prefix_;
                out += buf[i];
                at_start = buf[i] == '\n';  // a carriage-return progress line keeps its prefix once
                if (buf[i] == '\r') {
                    out += prefix_;
                }
            }
            const char* p = out.data();
            size_t left = out.size();
            while (left > 0) {
                const ssize_t w = ::write(orig_, p, left);
                if (w <= 0) break;
                p += w;
                left -= static_cast<size_t>(w);
            }
        }
    }
};

}  // namespace

int planned_world_size(const Args& a) {
    const dist::LaunchEnv env = dist::read_launch_env();
    return env.distributed() ? env.world_size : static_cast<int>(a.get_int("nproc", 1));
}

int run_distributed(const Args& a, const std::function<int()>& body) {
    dist::LaunchEnv env = dist::read_launch_env();
    const long long nproc = a.get_int("nproc", 1);
    D2M_CHECK(nproc >= 1 && nproc <= 1024, InvalidInput, "--nproc must be between 1 and 1024, got ", nproc);
    const long long timeout = a.get_int("dist-timeout", 300);
    D2M_CHECK(timeout >= 1, InvalidInput, "--dist-timeout must be >= 1 second, got ", timeout);
    const bool threads_given = a.has("threads") || (std::getenv("D2M_THREADS") && *std::getenv("D2M_THREADS"));
    if (nproc > 1 && !env.distributed()) {  // the launcher: start the workers, wait, pass on the first failure
        dist::SpawnOptions o;
        o.nproc = static_cast<int>(nproc);
        o.argv = dist::own_command_line();
        const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
        if (!threads_given) o.threads_per_rank = static_cast<int>(std::max(1u, cores / static_cast<unsigned>(nproc)));
        o.grace_seconds = static_cast<int>(timeout) + 30;
        o.log = [](const std::string& m) { std::fprintf(stderr, "den2moe --nproc: %s\n", m.c_str()); };
        return dist::spawn_local_workers(o);
    }
    D2M_CHECK(nproc == 1 || nproc == env.world_size, InvalidInput, "--nproc ", nproc, " given inside a ",
              env.world_size, "-process job started by ", env.launcher, Hint{"leave --nproc out under torchrun / srun"});
    if (!env.distributed()) return body();
    // until the process ends, so that the error line run_guarded prints carries the prefix too
    static std::unique_ptr<StderrPrefixer> prefix;
    if (!prefix) prefix = std::make_unique<StderrPrefixer>("[rank " + std::to_string(env.rank) + "] ");
    if (!threads_given) {  // torchrun and srun start local_world_size processes per machine
        const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
        init_runtime(static_cast<int>(std::max(1u, cores / static_cast<unsigned>(env.local_world_size))));
    }
    dist::WorldOptions wo;
    wo.timeout = std::chrono::seconds(timeout);
    dist::init_world(env, wo);
    try {
        const int rc = body();
        dist::world().barrier();
        dist::shutdown_world();
        return rc;
    } catch (const Error& e) {
        dist::world().report_failure(e.message());
        throw;
    } catch (const Cancelled&) {
        dist::world().report_failure("cancelled");
        throw;
    } catch (const std::exception& e) {
        dist::world().report_failure(e.what());
        throw;
    }
}

}  // namespace den2moe::cli
