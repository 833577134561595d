// How a process learns its place in a multi-process job, read in one place: the environment that
// torchrun (RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT and
// TORCHELASTIC_USE_AGENT_STORE) and Slurm (SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID,
// SLURM_NTASKS_PER_NODE, SLURM_JOB_NODELIST, SLURM_JOB_ID) set, torchrun's variables first; and
// `--nproc N`, which starts N local workers itself (fork + exec of this program with that
// environment, a free loopback port) and waits for them. Torch-free, Qt-free, POSIX (Linux).
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace den2moe::dist {

/// Where this process stands in the job (world_size 1: a plain single-process run).
struct LaunchEnv {
    int rank = 0, world_size = 1;
    int local_rank = 0, local_world_size = 1;
    std::string master_addr;  ///< host of the rendezvous store (rank 0's machine)
    int master_port = 0;
    /// torchrun's static rendezvous: its agent already hosts the store; workers connect as clients
    /// under the key prefix "/worker/attempt_<TORCHELASTIC_RESTART_COUNT>" (as torch.distributed's
    /// env:// rendezvous does, torch/distributed/rendezvous.py).
    bool agent_store = false;
    std::string store_prefix;  ///< that prefix ("" without the agent's store)
    std::string launcher = "single";  ///< single | torchrun | slurm | nproc (the engine's own --nproc)
    bool distributed() const { return world_size > 1; }
    /// "rank 1/4 (torchrun, store 127.0.0.1:29500)".
    std::string describe() const;
};

/// The environment of this process (getenv). Throws Error(InvalidInput) naming the variable when it
/// is inconsistent (a rank outside the world, WORLD_SIZE > 1 without MASTER_ADDR/MASTER_PORT, ...).
LaunchEnv read_launch_env();
/// The same from any lookup (`get` returns nullptr for an unset variable): the testable core.
LaunchEnv parse_launch_env(const std::function<const char*(const char*)>& get);

/// The first host of a Slurm node list: "node[03-05,9],gpu1" -> "node03"; "a,b" -> "a".
std::string first_slurm_host(const std::string& nodelist);

/// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0 by the kernel, then closed).
int free_loopback_port();

/// This process's command line (argv, from /proc/self/cmdline).
std::vector<std::string> own_command_line();

struct SpawnOptions {
    int nproc = 2;
    std::vector<std::string> argv;  ///< the workers' command line; argv[0] is replaced by this program
    int threads_per_rank = 0;       ///< > 0: D2M_THREADS for each worker (unless the environment sets it)
    /// After the first worker fails, how long the others get to stop by themselves (they name the
    /// lost rank) before they are killed.
    int grace_seconds = 60;
    std::function<void(const std::string&)> log;  ///< one line per event (a worker's failure)
};

/// Start `nproc` workers of this program on this machine (RANK = LOCAL_RANK = 0..nproc-1,
/// WORLD_SIZE = LOCAL_WORLD_SIZE = nproc, MASTER_ADDR = 127.0.0.1, MASTER_PORT free) and wait for
/// them. SIGINT / SIGTERM are forwarded. Returns 0 when every worker exited 0, else the first
/// failure's exit status (a worker killed by signal S counts as 128 + S).
int spawn_local_workers(const SpawnOptions& opt);

}  // namespace den2moe::dist
