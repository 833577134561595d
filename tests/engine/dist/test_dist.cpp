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
#include "dist/reducer.h"

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

// The overlapped reducer's fixture: leaves A [6, 4] (two row slices, as q/k of a fused weight),
// B [4], C [4, 3] (used only in micro-batch 0: no hook in the last backward, finish() takes .grad),
// D [5] (used by rank 1 only), E [2] (used by nobody: no gradient anywhere), F [300000] (1.2 MB: a
// bucket of its own, started by its hook), G [6, 4] with only rows [1, 3) trainable. Each rank runs
// 2 micro-batches (gradient accumulation), arms the reducer before the second.
struct ReducerFixture {
    std::vector<at::Tensor> leaves;
    std::vector<dist::GradSlice> slices;
    ReducerFixture() {
        at::manual_seed(7);
        for (auto shape : std::vector<std::vector<int64_t>>{{6, 4}, {4}, {4, 3}, {5}, {2}, {300000}, {6, 4}})
            leaves.push_back(at::randn(shape).requires_grad_(true));
        slices = {{0, 0, 2, false}, {0, 2, 4, false}, {1, 0, 0, true}, {2, 0, 0, true}, {3, 0, 0, true},
                  {4, 0, 0, true},  {5, 0, 0, true},  {6, 1, 2, false}};
    }
    // micro-batch m of rank r: sum over the leaves it uses of sin(leaf * X), X seeded by (r, m, leaf), x 0.5
    at::Tensor loss(int r, int m) const {
        at::Tensor l = at::zeros({});
        for (size_t k = 0; k < leaves.size(); ++k) {
            if (k == 2 && m == 1) continue;  // C: micro-batch 0 only
            if (k == 3 && r != 1) continue;  // D: rank 1 only
            if (k == 4) continue;            // E: nobody
            at::manual_seed(static_cast<uint64_t>(1000 + 100 * r + 10 * m + static_cast<int>(k)));
            l = l + (leaves[k] * at::randn(leaves[k].sizes())).sin().sum();
        }
        return l * 0.5;
    }
};

int reducer_worker() {
    const dist::LaunchEnv env = dist::read_launch_env();
    try {
        dist::init_world(env, {std::chrono::seconds(20)});
        dist::Communicator& c = dist::world();
        const int R = c.rank();
        ReducerFixture fx;
        // the backward order: F first, then the small ones; 64 KiB buckets -> {F}, {the rest}
        const std::vector<size_t> order{6, 0, 1, 2, 7, 4, 3, 5};
        int bad = 0;
        double total = 0;
        {
            dist::Reducer red(c, fx.leaves, fx.slices, order, 64 << 10);
            bad += red.buckets().size() != 2;
            for (int step = 0; step < 2; ++step) {  // the second step reuses the buckets
                for (auto& t : fx.leaves) t.mutable_grad().reset();
                for (int m = 0; m < 2; ++m) {
                    if (m == 1) red.arm();
                    at::Tensor l = fx.loss(R, m);
                    total += l.item<double>();
                    l.backward();
                }
                dist::Reducer::Result res = red.finish({1.0 + R, 10.0});
                // expected: each rank's accumulated gradient computed here, summed rank 0 + rank 1
                std::vector<at::Tensor> want(fx.slices.size());
                std::vector<bool> any(fx.slices.size(), false);
                for (int q = 0; q < 2; ++q) {
                    ReducerFixture ref;
                    for (int m = 0; m < 2; ++m) ref.loss(q, m).backward();
                    for (size_t i = 0; i < fx.slices.size(); ++i) {
                        const dist::GradSlice& g = fx.slices[i];
                        const at::Tensor& lg = ref.leaves[g.leaf].grad();
                        at::Tensor v = !lg.defined() ? at::zeros(g.whole ? ref.leaves[g.leaf].sizes().vec()
                                                                         : std::vector<int64_t>{g.rows, 4})
                                                     : g.whole ? lg : lg.narrow(0, g.row0, g.rows);
                        any[i] = any[i] || lg.defined();
                        want[i] = q == 0 ? v.clone() : want[i] + v;
                    }
                }
                for (size_t i = 0; i < fx.slices.size(); ++i) {
                    if (!at::equal(res.grads[i], want[i])) {
                        std::printf("rank %d step %d slice %zu: max |diff| %g\n", R, step, i,
                                    (res.grads[i] - want[i]).abs().max().item<double>());
                        ++bad;
                    }
                    bad += res.has_grad[i] != any[i];
                }
                bad += res.has_grad[5] || !res.has_grad[4] || !res.has_grad[3];  // E none; D and C from somewhere
                bad += res.extras.size() != 2 || res.extras[0] != 3.0 || res.extras[1] != 20.0;
            }
            const dist::ReducerStats& st = red.stats();
            std::printf("worker rank %d: reducer buckets %lld, started in backward %lld, after %lld\n", R,
                        static_cast<long long>(st.buckets), static_cast<long long>(st.started_in_backward),
                        static_cast<long long>(st.started_after));
            bad += st.steps != 2 || st.started_in_backward != 2 || st.started_after != 2;
        }
        c.barrier();
        std::printf("worker rank %d: %s\n", R, bad ? "MISMATCH" : "ok");
        dist::shutdown_world();
        return bad ? 1 : 0;
    } catch (const Error& e) {
        std::printf("worker rank %d error: %s\n", env.rank, e.what());
        return 1;
    }
}

std::string self_path;

}  // namespace

TEST(buckets_by_size_in_the_given_order) {
    // float32 bytes: 40, 1.2 MB, 20, 280 KB; order 3, 2, 1, 0
    const std::vector<int64_t> n{10, 300000, 5, 70000};
    const std::vector<size_t> order{3, 2, 1, 0};
    using B = std::vector<std::vector<size_t>>;
    // 25 MiB (DDP's default): the first bucket closes at 1 MiB, then 25 MiB
    CHECK(dist::assign_buckets(n, order, 25 << 20) == B({{3, 2}, {1, 0}}));
    // 512 KiB: the 1.2 MB tensor alone (larger than a bucket), the last tensor after it
    CHECK(dist::assign_buckets(n, order, 512 << 10) == B({{3, 2}, {1}, {0}}));
    // 16 bytes: every tensor alone
    CHECK(dist::assign_buckets(n, order, 16) == B({{3}, {2}, {1}, {0}}));
    CHECK_THROWS_WITH(dist::assign_buckets(n, {0, 9}, 16), "slice 9 of 4");
}

TEST(overlapped_reducer_equals_the_summed_gradients_bitwise) {
    dist::SpawnOptions o;
    o.nproc = 2;
    o.argv = {self_path, "reducer"};
    CHECK_EQ(dist::spawn_local_workers(o), 0);
}

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
    if (argc > 1 && std::string(argv[1]) == "reducer") return reducer_worker();
    self_path = argv[0];
    return d2m_test::run_all(argc, argv);
}
