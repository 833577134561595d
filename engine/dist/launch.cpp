// The launch environment and the local spawner: see dist/launch.h.
#include "dist/launch.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <thread>

#include "core/error.h"
#include "core/interrupts.h"

namespace den2moe::dist {

namespace {

int parse_int(const char* name, const char* v, int lo) {
    char* end = nullptr;
    errno = 0;
    const long x = std::strtol(v, &end, 10);
    D2M_CHECK(*v && end && *end == '\0' && errno == 0 && x >= lo && x <= (1 << 30), InvalidInput,
              "environment variable ", name, "='", v, "' is not an integer >= ", lo,
              Hint{"torchrun and srun set it; unset it to run one process"});
    return static_cast<int>(x);
}

}  // namespace

std::string LaunchEnv::describe() const {
    if (!distributed()) return "single process";
    return str("rank ", rank, "/", world_size, " (", launcher, ", store ", master_addr, ":", master_port,
               agent_store ? ", torchrun's agent store" : "", ")");
}

std::string first_slurm_host(const std::string& list) {
    // the first item up to a top-level comma; a bracket range takes its first number (width kept)
    std::string host;
    size_t i = 0;
    for (; i < list.size(); ++i) {
        const char c = list[i];
        if (c == ',') break;
        if (c == '[') {
            size_t j = i + 1;
            while (j < list.size() && list[j] != '-' && list[j] != ',' && list[j] != ']') host += list[j++];
            const size_t close = list.find(']', i);
            if (close == std::string::npos) break;
            i = close;
            continue;
        }
        host += c;
    }
    return host;
}

LaunchEnv parse_launch_env(const std::function<const char*(const char*)>& get) {
    LaunchEnv e;
    auto has = [&](const char* n) { return get(n) && *get(n); };
    if (has("RANK") || has("WORLD_SIZE")) {  // torchrun (also under srun: torchrun's variables win)
        D2M_CHECK(has("RANK") && has("WORLD_SIZE"), InvalidInput, "environment: ", has("RANK") ? "RANK" : "WORLD_SIZE",
                  " is set but ", has("RANK") ? "WORLD_SIZE" : "RANK", " is not",
                  Hint{"set both (torchrun does), or neither to run one process"});
        e.rank = parse_int("RANK", get("RANK"), 0);
        e.world_size = parse_int("WORLD_SIZE", get("WORLD_SIZE"), 1);
        e.local_rank = has("LOCAL_RANK") ? parse_int("LOCAL_RANK", get("LOCAL_RANK"), 0) : e.rank;
        e.local_world_size =
            has("LOCAL_WORLD_SIZE") ? parse_int("LOCAL_WORLD_SIZE", get("LOCAL_WORLD_SIZE"), 1) : e.world_size;
        e.launcher = has("TORCHELASTIC_RUN_ID") ? "torchrun" : has("D2M_NPROC_LAUNCH") ? "nproc" : "env";
        e.agent_store = has("TORCHELASTIC_USE_AGENT_STORE") && std::string(get("TORCHELASTIC_USE_AGENT_STORE")) == "True";
        if (e.agent_store) {
            e.store_prefix = str("/worker/attempt_",
                                 has("TORCHELASTIC_RESTART_COUNT") ? get("TORCHELASTIC_RESTART_COUNT") : "0");
        }
    } else if (has("SLURM_PROCID") && has("SLURM_NTASKS")) {
        e.rank = parse_int("SLURM_PROCID", get("SLURM_PROCID"), 0);
        e.world_size = parse_int("SLURM_NTASKS", get("SLURM_NTASKS"), 1);
        e.local_rank = has("SLURM_LOCALID") ? parse_int("SLURM_LOCALID", get("SLURM_LOCALID"), 0) : 0;
        e.local_world_size = 1;
        if (has("SLURM_NTASKS_PER_NODE")) {  // "4" or "4(x2)" or "4,2": this node's count is not known; take the first
            e.local_world_size = std::max(1, std::atoi(get("SLURM_NTASKS_PER_NODE")));
        }
        e.launcher = "slurm";
    } else {
        return e;
    }
    D2M_CHECK(e.rank < e.world_size, InvalidInput, "environment: rank ", e.rank, " is outside a world of ",
              e.world_size, " processes");
    D2M_CHECK(e.local_rank < std::max(e.local_world_size, e.local_rank + 1), Internal, "local rank");
    if (!e.distributed()) return e;
    if (has("MASTER_ADDR")) {
        e.master_addr = get("MASTER_ADDR");
    } else if (e.launcher == "slurm") {
        const char* nl = has("SLURM_JOB_NODELIST") ? get("SLURM_JOB_NODELIST") : get("SLURM_NODELIST");
        D2M_CHECK(nl && *nl, InvalidInput, "environment: Slurm sets no SLURM_JOB_NODELIST and MASTER_ADDR is unset",
                  Hint{"export MASTER_ADDR=<the first node's address>"});
        e.master_addr = first_slurm_host(nl);
    }
    D2M_CHECK(!e.master_addr.empty(), InvalidInput, "environment: WORLD_SIZE is ", e.world_size,
              " but MASTER_ADDR is not set (the host of rank 0's rendezvous store)",
              Hint{"launch with torchrun, srun or --nproc N, or export MASTER_ADDR and MASTER_PORT"});
    if (has("MASTER_PORT")) {
        e.master_port = parse_int("MASTER_PORT", get("MASTER_PORT"), 1);
    } else if (e.launcher == "slurm" && has("SLURM_JOB_ID")) {
        e.master_port = 29500 + std::atoi(get("SLURM_JOB_ID")) % 1000;  // one job, one port; MASTER_PORT overrides
    }
    D2M_CHECK(e.master_port > 0 && e.master_port < 65536, InvalidInput, "environment: MASTER_PORT ",
              e.master_port == 0 ? std::string("is not set") : std::to_string(e.master_port) + " is not a TCP port",
              Hint{"export MASTER_PORT=29500 (any free port on rank 0's host)"});
    return e;
}

LaunchEnv read_launch_env() {
    return parse_launch_env([](const char* n) -> const char* { return std::getenv(n); });
}

int free_loopback_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    D2M_CHECK(fd >= 0, Io, "cannot open a socket: ", std::strerror(errno));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    socklen_t len = sizeof(a);
    const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 &&
                    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0;
    ::close(fd);
    D2M_CHECK(ok, Io, "cannot find a free TCP port on 127.0.0.1: ", std::strerror(errno));
    return ntohs(a.sin_port);
}

std::vector<std::string> own_command_line() {
    std::ifstream in("/proc/self/cmdline", std::ios::binary);
    std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::vector<std::string> out;
    size_t s = 0;
    for (size_t i = 0; i < all.size(); ++i) {
        if (all[i] == '\0') {
            out.push_back(all.substr(s, i - s));
            s = i + 1;
        }
    }
    return out;
}

namespace {

std::string status_text(int status) {
    if (WIFEXITED(status)) return str("exited with status ", WEXITSTATUS(status));
    if (WIFSIGNALED(status)) {
        const int s = WTERMSIG(status);
        return str("was killed by signal ", s, " (", strsignal(s), ")");
    }
    return "stopped";
}
int status_code(int status) {
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return 2;
}

}  // namespace

int spawn_local_workers(const SpawnOptions& opt) {
    D2M_CHECK(opt.nproc >= 1, InvalidInput, "--nproc must be >= 1, got ", opt.nproc);
    D2M_CHECK(!opt.argv.empty(), Internal, "spawn: empty command line");
    const int port = free_loopback_port();
    std::vector<char*> args;
    std::vector<std::string> argv = opt.argv;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    InterruptForwarding forwarding;  // SIGINT / SIGTERM go to the workers while they run
    std::vector<pid_t> pids(static_cast<size_t>(opt.nproc), -1);
    std::fflush(nullptr);
    for (int r = 0; r < opt.nproc; ++r) {
        const pid_t pid = ::fork();
        D2M_CHECK(pid >= 0, Io, "cannot start worker ", r, ": fork failed: ", std::strerror(errno));
        if (pid == 0) {
            InterruptForwarding::restore_for_exec();
            const std::string rs = std::to_string(r), ws = std::to_string(opt.nproc), ps = std::to_string(port);
            setenv("RANK", rs.c_str(), 1);
            setenv("LOCAL_RANK", rs.c_str(), 1);
            setenv("WORLD_SIZE", ws.c_str(), 1);
            setenv("LOCAL_WORLD_SIZE", ws.c_str(), 1);
            setenv("MASTER_ADDR", "127.0.0.1", 1);
            setenv("MASTER_PORT", ps.c_str(), 1);
            setenv("D2M_NPROC_LAUNCH", "1", 1);
            unsetenv("TORCHELASTIC_USE_AGENT_STORE");
            unsetenv("TORCHELASTIC_RUN_ID");
            if (opt.threads_per_rank > 0) setenv("D2M_THREADS", std::to_string(opt.threads_per_rank).c_str(), 0);
            ::execv("/proc/self/exe", args.data());
            std::fprintf(stderr, "[rank %d] error: cannot execute /proc/self/exe: %s\n", r, std::strerror(errno));
            std::_Exit(127);
        }
        pids[static_cast<size_t>(r)] = pid;
    }
    auto log = [&](const std::string& m) {
        if (opt.log) opt.log(m);
    };
    int first_code = 0, running = opt.nproc, forwarded = 0;
    std::chrono::steady_clock::time_point deadline{};
    bool failing = false, recorded = false;
    while (running > 0) {
        const int sig = forwarding.take();
        if (sig) {
            for (pid_t p : pids)
                if (p > 0) ::kill(p, sig);
            forwarded = sig;
        }
        int status = 0;
        const pid_t p = ::waitpid(-1, &status, WNOHANG);
        if (p > 0) {
            int r = 0;
            while (r < opt.nproc && pids[static_cast<size_t>(r)] != p) ++r;
            if (r == opt.nproc) continue;
            pids[static_cast<size_t>(r)] = -1;
            --running;
            const int code = status_code(status);
            if (code != 0 && !recorded) {
                recorded = failing = true;
                first_code = code;
                deadline = std::chrono::steady_clock::now() + std::chrono::seconds(opt.grace_seconds);
                log(str("rank ", r, " (pid ", p, ") ", status_text(status), "; waiting up to ", opt.grace_seconds,
                        " s for the other ranks to stop"));
            } else if (code != 0) {
                log(str("rank ", r, " (pid ", p, ") ", status_text(status)));
            }
            continue;
        }
        if (p < 0 && errno == ECHILD) break;
        if (failing && std::chrono::steady_clock::now() > deadline) {
            for (int r = 0; r < opt.nproc; ++r) {
                if (pids[static_cast<size_t>(r)] > 0) {
                    log(str("rank ", r, " did not stop within ", opt.grace_seconds, " s; killing it"));
                    ::kill(pids[static_cast<size_t>(r)], SIGKILL);
                }
            }
            failing = false;  // the kills are reaped above; first_code stays
            deadline = {};
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (first_code == 0 && forwarded == SIGINT) return 130;
    return first_code;
}

}  // namespace den2moe::dist
