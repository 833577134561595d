// engine/dist: the launch environment as torchrun and Slurm set it (and its errors), and real
// 2-process runs over c10d Gloo on loopback started by spawn_local_workers (this binary re-executed
// as "worker"): bucketed all-reduce (two dtypes, more than one bucket) equals the sum computed here,
// broadcast, all-gather of bytes; and a worker that dies before a collective makes the other fail
// within the timeout with an error naming the lost rank, while the spawner returns the first failure.
#include <ATen/ATen.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>

#include "support/check.h"

#include "core/error.h"
#include "dist/comm.h"
#include "dist/launch.h"

using namespace den2moe;

namespace {

dist::LaunchEnv env_of(const std::map<std::string, std::string>& m) {
    return dist::parse_launch_env([&](const char* n) -> const char* {
        auto it = m.find(n);
        return it == m.end() ? nullptr : it->second.c_str();
    });
}

// the tensors every rank contributes: deterministic in (rank, index)
std::vector<at::Tensor> contribution(int rank) {
    at::manual_seed(100 + rank);
    return {at::randn({3, 5}), at::randn({7 << 20}),  // 28 MiB: a bucket of its own
            at::randn({4}, at::kDouble), at::randn({2, 2, 2})};
}

int worker(const std::string& mode) {
    const dist::LaunchEnv env = dist::read_launch_env();
    dist::WorldOptions o;
    o.timeout = std::chrono::seconds(20);
    try {
        dist::init_world(env, o);
        dist::Communicator& c = dist::world();
        if (mode == "die" && c.rank() == 1) std::_Exit(3);  // gone without a word, as a SIGKILL
        std::vector<at::Tensor> mine = contribution(c.rank());
        c.all_reduce_sum(mine);
        int bad = 0;
        std::vector<at::Tensor> want = contribution(0);
        for (int r = 1; r < c.world_size(); ++r) {
            auto o2 = contribution(r);
            for (size_t i = 0; i < want.size(); ++i) want[i] = want[i] + o2[i];
        }
        for (size_t i = 0; i < want.size(); ++i) bad += !at::allclose(mine[i], want[i], 1e-6, 1e-6);
        std::vector<at::Tensor> b{at::full({3}, double(c.rank() + 1), at::kDouble)};
        c.broadcast(b, 1);
        bad += b[0][0].item<double>() != 2.0;
        auto g = c.all_gather_bytes(std::string(static_cast<size_t>(c.rank() * 3 + 1), char('a' + c.rank())));
        bad += g.size() != 2 || g[0] != "a" || g[1] != "bbbb";
        c.barrier();
        std::printf("worker rank %d: %s\n", c.rank(), bad ? "MISMATCH" : "ok");
        dist::shutdown_world();
        return bad ? 1 : 0;
    } catch (const Error& e) {
        std::printf("worker rank %d error: %s\n", env.rank, e.what());
        std::fflush(stdout);
        // the "die" case: rank 0 must name rank 1
        return mode == "die" && std::string(e.what()).find("lost rank 1") != std::string::npos ? 0 : 1;
    }
}

std::string self_path;

}  // namespace

TEST(torchrun_environment) {
    dist::LaunchEnv e = env_of({{"RANK", "1"}, {"WORLD_SIZE", "4"}, {"LOCAL_RANK", "1"}, {"LOCAL_WORLD_SIZE", "2"},
                                {"MASTER_ADDR", "10.0.0.1"}, {"MASTER_PORT", "29511"}, {"TORCHELASTIC_RUN_ID", "x"},
                                {"TORCHELASTIC_USE_AGENT_STORE", "True"}});
    CHECK_EQ(e.rank, 1);
    CHECK_EQ(e.world_size, 4);
    CHECK_EQ(e.local_world_size, 2);
    CHECK_EQ(e.master_addr, std::string("10.0.0.1"));
    CHECK_EQ(e.master_port, 29511);
    CHECK(e.agent_store);
    CHECK_EQ(e.store_prefix, std::string("/worker/attempt_0"));
    CHECK_EQ(e.launcher, std::string("torchrun"));
    CHECK(!env_of({}).distributed());
    CHECK_THROWS_WITH(env_of({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_PORT", "1"}}), "MASTER_ADDR is not set");
    CHECK_THROWS_WITH(env_of({{"RANK", "2"}, {"WORLD_SIZE", "2"}}), "rank 2 is outside a world of 2");
    CHECK_THROWS_WITH(env_of({{"RANK", "x"}, {"WORLD_SIZE", "2"}}), "RANK='x' is not an integer");
    CHECK_THROWS_WITH(env_of({{"RANK", "0"}}), "RANK is set but WORLD_SIZE is not");
}

TEST(slurm_environment) {
    CHECK_EQ(dist::first_slurm_host("node[03-05,9],gpu1"), std::string("node03"));
    CHECK_EQ(dist::first_slurm_host("a,b"), std::string("a"));
    CHECK_EQ(dist::first_slurm_host("gpu-[12]"), std::string("gpu-12"));
    dist::LaunchEnv e = env_of({{"SLURM_PROCID", "3"}, {"SLURM_NTASKS", "8"}, {"SLURM_LOCALID", "1"},
                                {"SLURM_JOB_NODELIST", "n[01-02]"}, {"SLURM_JOB_ID", "123456"}});
    CHECK_EQ(e.rank, 3);
    CHECK_EQ(e.world_size, 8);
    CHECK_EQ(e.local_rank, 1);
    CHECK_EQ(e.master_addr, std::string("n01"));
    CHECK_EQ(e.master_port, 29500 + 456);
    CHECK_EQ(e.launcher, std::string("slurm"));
    // torchrun under srun: torchrun's variables win
    dist::LaunchEnv t = env_of({{"SLURM_PROCID", "3"}, {"SLURM_NTASKS", "8"}, {"RANK", "0"}, {"WORLD_SIZE", "1"}});
    CHECK_EQ(t.rank, 0);
    CHECK(!t.distributed());
}

TEST(two_gloo_processes_on_loopback) {
    CHECK(dist::have_gloo());
    dist::SpawnOptions o;
    o.nproc = 2;
    o.argv = {self_path, "worker"};
    CHECK_EQ(dist::spawn_local_workers(o), 0);
}

TEST(lost_rank_is_named_within_the_timeout) {
    dist::SpawnOptions o;
    o.nproc = 2;
    o.argv = {self_path, "die"};
    o.grace_seconds = 40;
    std::string events;
    o.log = [&](const std::string& m) { events += m + "\n"; };
    const auto t0 = std::chrono::steady_clock::now();
    const int rc = dist::spawn_local_workers(o);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("%s", events.c_str());
    CHECK_EQ(rc, 3);  // rank 1's own status, the first failure; rank 0 exits 0 only if it named rank 1
    CHECK(events.find("rank 1") != std::string::npos);
    CHECK(events.find("rank 0") == std::string::npos);  // rank 0 passed its check
    CHECK(s < 40);
}

int main(int argc, char** argv) {
    if (argc > 1 && (std::string(argv[1]) == "worker" || std::string(argv[1]) == "die")) return worker(argv[1]);
    self_path = argv[0];
    return d2m_test::run_all(argc, argv);
}
