// The communicators: see dist/comm.h. Local is the single process; Gloo is libtorch 1.13's c10d
// (TCPStore + ProcessGroupGloo, exported by libtorch_cpu.so; Gloo's headers from libgloo-dev).
#include "dist/comm.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <map>
#include <mutex>
#include <thread>

#include "core/error.h"

#if defined(USE_C10D_GLOO) && defined(D2M_HAVE_GLOO_HEADERS)
#define D2M_GLOO 1
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#else
#define D2M_GLOO 0
#endif

namespace den2moe::dist {

std::string Communicator::log_prefix() const {
    return world_size() > 1 ? str("[rank ", rank(), "] ") : std::string();
}

namespace {

struct DoneCollective final : PendingCollective {
    void wait() override {}
};

class LocalCommunicator final : public Communicator {
public:
    int rank() const override { return 0; }
    int world_size() const override { return 1; }
    void all_reduce_sum(std::vector<at::Tensor>&) override {}
    std::unique_ptr<PendingCollective> start_all_reduce_sum(const at::Tensor&) override {
        return std::make_unique<DoneCollective>();
    }
    void broadcast(std::vector<at::Tensor>&, int root) override {
        D2M_CHECK(root == 0, Internal, "broadcast from rank ", root, " in a single process");
    }
    void barrier() override {}
    std::vector<std::string> all_gather_bytes(const std::string& bytes) override { return {bytes}; }
    std::vector<at::Tensor> all_gather_rows(const at::Tensor& t, const std::vector<int64_t>& rows) override {
        D2M_CHECK(rows.size() == 1 && t.dim() >= 1 && t.size(0) == rows[0], Internal, "all_gather_rows: ", rows.size(),
                  " row counts for 1 rank");
        return {t.detach()};
    }
};

std::unique_ptr<Communicator>& slot() {
    static std::unique_ptr<Communicator> c = std::make_unique<LocalCommunicator>();
    return c;
}

#if D2M_GLOO

std::vector<uint8_t> bytes_of(const std::string& s) { return std::vector<uint8_t>(s.begin(), s.end()); }
std::string string_of(const std::vector<uint8_t>& v) { return std::string(v.begin(), v.end()); }

bool is_loopback(const std::string& host) {
    return host == "localhost" || host.rfind("127.", 0) == 0 || host == "::1";
}

class GlooCommunicator final : public Communicator {
public:
    GlooCommunicator(const LaunchEnv& env, const WorldOptions& opt) : env_(env), timeout_(opt.timeout) {
        const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(timeout_);
        try {
            store_ = make_store(/*primary=*/true, ms);
            auto o = c10d::ProcessGroupGloo::Options::create(ms);
            const char* ifname = std::getenv("GLOO_SOCKET_IFNAME");
            if (ifname && *ifname) {
                o->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
            } else if (is_loopback(env.master_addr)) {
                o->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
            } else {
                o->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
            }
            o->threads = 2;
            pg_ = c10::make_intrusive<c10d::ProcessGroupGloo>(store_, env.rank, env.world_size, o);
            hb_store_ = make_store(/*primary=*/false, ms);
        } catch (const Error&) {
            throw;
        } catch (const std::exception& e) {
            D2M_FAIL(Io, "rank ", env.rank, " could not join the ", env.world_size, "-process job at ", env.master_addr,
                     ":", env.master_port, " within ", timeout_.count(), " s: ", first_line(e.what()),
                     Hint{"every rank must be started with the same MASTER_ADDR / MASTER_PORT / WORLD_SIZE, and rank "
                          "0's host must be reachable; --dist-timeout raises the wait"});
        }
        heartbeat_ = std::thread([this] { beat(); });
    }

    ~GlooCommunicator() override {
        {
            std::lock_guard<std::mutex> l(mu_);
            stop_ = true;
        }
        cv_.notify_all();
        if (heartbeat_.joinable()) heartbeat_.join();
        pg_.reset();
        hb_store_.reset();
        store_.reset();
    }

    int rank() const override { return env_.rank; }
    int world_size() const override { return env_.world_size; }

    void all_reduce_sum(std::vector<at::Tensor>& ts) override {
        struct Bucket {
            at::ScalarType dtype;
            std::vector<size_t> members;
            int64_t bytes = 0;
            at::Tensor flat;
            c10::intrusive_ptr<c10d::Work> work;
        };
        std::vector<Bucket> buckets;
        std::map<at::ScalarType, size_t> open;  // dtype -> its open bucket
        for (size_t i = 0; i < ts.size(); ++i) {
            const at::Tensor& t = ts[i];
            D2M_CHECK(t.defined() && t.device().is_cpu() && (t.scalar_type() == at::kFloat || t.scalar_type() == at::kDouble),
                      Internal, "all_reduce_sum: tensor ", i, " is not a defined CPU float/double tensor");
            auto it = open.find(t.scalar_type());
            if (it == open.end() || buckets[it->second].bytes + static_cast<int64_t>(t.nbytes()) > kBucketBytes) {
                buckets.push_back(Bucket{t.scalar_type(), {}, 0, {}, {}});
                open[t.scalar_type()] = buckets.size() - 1;
                it = open.find(t.scalar_type());
            }
            Bucket& b = buckets[it->second];
            b.members.push_back(i);
            b.bytes += static_cast<int64_t>(t.nbytes());
        }
        for (auto& b : buckets) {  // every bucket in flight before the first wait
            std::vector<at::Tensor> parts;
            for (size_t i : b.members) parts.push_back(ts[i].reshape({-1}));
            b.flat = parts.size() == 1 ? parts[0].clone() : at::cat(parts);
            std::vector<at::Tensor> one{b.flat};
            b.work = guarded("all_reduce", [&] { return pg_->allreduce(one); });
        }
        for (auto& b : buckets) {
            wait(b.work, "all_reduce");
            int64_t off = 0;
            for (size_t i : b.members) {
                at::Tensor& t = ts[i];
                t.copy_(b.flat.narrow(0, off, t.numel()).view(t.sizes()));
                off += t.numel();
            }
        }
    }

    std::unique_ptr<PendingCollective> start_all_reduce_sum(const at::Tensor& flat) override {
        D2M_CHECK(flat.defined() && flat.device().is_cpu() && flat.is_contiguous() &&
                      (flat.scalar_type() == at::kFloat || flat.scalar_type() == at::kDouble),
                  Internal, "start_all_reduce_sum: not a contiguous CPU float/double tensor");
        std::vector<at::Tensor> one{flat};
        struct Pending final : PendingCollective {
            GlooCommunicator* c;
            c10::intrusive_ptr<c10d::Work> work;
            bool done = false;
            void wait() override {
                if (done) return;
                done = true;
                c->wait(work, "all_reduce");
            }
        };
        auto p = std::make_unique<Pending>();
        p->c = this;
        p->work = guarded("all_reduce", [&] { return pg_->allreduce(one); });
        return p;
    }

    void broadcast(std::vector<at::Tensor>& ts, int root) override {
        c10d::BroadcastOptions o;
        o.rootRank = root;
        for (auto& t : ts) {
            at::Tensor c = t.contiguous();
            std::vector<at::Tensor> one{c};
            wait(guarded("broadcast", [&] { return pg_->broadcast(one, o); }), "broadcast");
            if (!c.is_same(t))
                t.copy_(c);
            else  // gloo wrote t's bytes behind ATen: a new version, so pre-packed copies (gemm.h) are renewed
                t.unsafeGetTensorImpl()->bump_version();
        }
    }

    void barrier() override { wait(guarded("barrier", [&] { return pg_->barrier(); }), "barrier"); }

    std::vector<std::string> all_gather_bytes(const std::string& bytes) override {
        const int W = env_.world_size;
        // sizes first, then the payloads padded to the longest
        at::Tensor n = at::full({1}, static_cast<int64_t>(bytes.size()), at::kLong);
        std::vector<std::vector<at::Tensor>> outs(1);
        for (int r = 0; r < W; ++r) outs[0].push_back(at::empty({1}, at::kLong));
        std::vector<at::Tensor> in{n};
        wait(guarded("all_gather", [&] { return pg_->allgather(outs, in); }), "all_gather");
        int64_t mx = 1;
        std::vector<int64_t> sizes;
        for (const auto& t : outs[0]) {
            sizes.push_back(t.item<int64_t>());
            mx = std::max(mx, sizes.back());
        }
        at::Tensor mine = at::zeros({mx}, at::kByte);
        std::copy(bytes.begin(), bytes.end(), mine.data_ptr<uint8_t>());
        std::vector<std::vector<at::Tensor>> outs2(1);
        for (int r = 0; r < W; ++r) outs2[0].push_back(at::empty({mx}, at::kByte));
        std::vector<at::Tensor> in2{mine};
        wait(guarded("all_gather", [&] { return pg_->allgather(outs2, in2); }), "all_gather");
        std::vector<std::string> res;
        for (int r = 0; r < W; ++r) {
            const uint8_t* p = outs2[0][static_cast<size_t>(r)].data_ptr<uint8_t>();
            res.emplace_back(reinterpret_cast<const char*>(p), static_cast<size_t>(sizes[static_cast<size_t>(r)]));
        }
        return res;
    }

    std::vector<at::Tensor> all_gather_rows(const at::Tensor& t, const std::vector<int64_t>& rows) override {
        const int W = env_.world_size;
        D2M_CHECK(static_cast<int>(rows.size()) == W && t.defined() && t.device().is_cpu() && t.dim() >= 1 &&
                      t.size(0) == rows[static_cast<size_t>(env_.rank)],
                  Internal, "all_gather_rows: ", rows.size(), " row counts for ", W, " ranks, or this rank's tensor is",
                  " not a CPU tensor of ", rows.empty() ? 0 : rows[static_cast<size_t>(env_.rank) % rows.size()], " rows");
        int64_t mx = 1;
        for (int64_t n : rows) mx = std::max(mx, n);
        std::vector<int64_t> shape = t.sizes().vec();  // [mx, ...]
        shape[0] = mx;
        at::Tensor mine = at::zeros(shape, t.options());
        mine.narrow(0, 0, t.size(0)).copy_(t.detach());
        std::vector<std::vector<at::Tensor>> outs(1);
        for (int r = 0; r < W; ++r) outs[0].push_back(at::empty(shape, t.options()));
        std::vector<at::Tensor> in{mine};
        wait(guarded("all_gather", [&] { return pg_->allgather(outs, in); }), "all_gather");
        std::vector<at::Tensor> res;
        for (int r = 0; r < W; ++r) res.push_back(outs[0][static_cast<size_t>(r)].narrow(0, 0, rows[static_cast<size_t>(r)]));
        return res;
    }

    void report_failure(const std::string& message) override {
        try {
            store_->set(str("d2m/error/", env_.rank), bytes_of(message));
        } catch (const std::exception&) {  // the store's host is gone: nothing to tell
        }
    }

private:
    LaunchEnv env_;
    std::chrono::seconds timeout_;
    c10::intrusive_ptr<c10d::Store> store_, hb_store_;
    c10::intrusive_ptr<c10d::ProcessGroupGloo> pg_;
    std::thread heartbeat_;
    std::mutex mu_;
    std::condition_variable cv_;
    bool stop_ = false;

    static std::string first_line(const std::string& s) {
        const std::string t = s.substr(0, s.find('\n'));
        return t.size() > 300 ? t.substr(0, 300) + "..." : t;
    }

    c10::intrusive_ptr<c10d::Store> make_store(bool primary, std::chrono::milliseconds ms) {
        c10d::TCPStoreOptions so;
        so.port = static_cast<uint16_t>(env_.master_port);
        so.isServer = primary && env_.rank == 0 && !env_.agent_store;
        so.numWorkers = primary && !env_.agent_store ? c10::optional<std::size_t>(env_.world_size) : c10::nullopt;
        so.waitWorkers = primary && !env_.agent_store;
        so.timeout = ms;
        so.multiTenant = true;
        c10::intrusive_ptr<c10d::Store> s = c10::make_intrusive<c10d::TCPStore>(env_.master_addr, so);
        if (env_.agent_store) s = c10::make_intrusive<c10d::PrefixStore>(env_.store_prefix, s);
        return s;
    }

    // every second: d2m/hb/<rank> = a counter (the others read it to tell who is gone)
    void beat() {
        int64_t n = 0;
        std::unique_lock<std::mutex> l(mu_);
        while (!stop_) {
            l.unlock();
            try {
                hb_store_->set(str("d2m/hb/", env_.rank), bytes_of(std::to_string(++n)));
            } catch (const std::exception&) {  // the store's host went away; the next collective says so
            }
            l.lock();
            cv_.wait_for(l, std::chrono::seconds(1), [this] { return stop_; });
        }
    }

    /// Which ranks are gone, in words: the error messages failing ranks left, and the ranks whose
    /// heartbeat stopped over a 3-second look.
    std::string diagnose() {
        const int W = env_.world_size;
        std::vector<std::string> errors(static_cast<size_t>(W)), before(static_cast<size_t>(W));
        auto read = [&](const std::string& key) -> std::string {
            if (!store_->check({key})) return "";
            return string_of(store_->get(key));
        };
        try {
            store_->setTimeout(std::chrono::milliseconds(5000));
            for (int r = 0; r < W; ++r) before[static_cast<size_t>(r)] = read(str("d2m/hb/", r));
            std::this_thread::sleep_for(std::chrono::milliseconds(3000));
            std::string lost, failed;
            for (int r = 0; r < W; ++r) {
                if (r == env_.rank) continue;
                const std::string err = read(str("d2m/error/", r));
                if (!err.empty()) {
                    failed += str(failed.empty() ? "" : "; ", "rank ", r, " stopped with: ", first_line(err));
                    continue;
                }
                if (read(str("d2m/hb/", r)) == before[static_cast<size_t>(r)]) lost += str(lost.empty() ? "" : ", ", r);
            }
            if (!failed.empty()) return failed;
            if (!lost.empty()) return str("lost rank ", lost, " (its heartbeat stopped: the process died or hangs)");
            return "every other rank is still alive (a collective timed out: are all ranks running the same command?)";
        } catch (const std::exception&) {
            return env_.agent_store ? "lost torchrun's agent store (the launcher stopped)"
                                    : "lost rank 0 (it hosts the rendezvous store, which no longer answers)";
        }
    }

    [[noreturn]] void fail(const char* what, const std::string& detail) {
        const std::string who = diagnose();
        D2M_FAIL(Io, "distributed ", what, " failed on rank ", env_.rank, " of ", env_.world_size, ": ", who, " [",
                 first_line(detail), "]",
                 Hint{"see the other ranks' logs for the cause; --dist-timeout bounds the wait for a silent rank"});
    }

    template <class F>
    c10::intrusive_ptr<c10d::Work> guarded(const char* what, F&& f) {
        try {
            return f();
        } catch (const std::exception& e) {
            fail(what, e.what());
        }
    }

    void wait(const c10::intrusive_ptr<c10d::Work>& w, const char* what) {
        try {
            w->wait(std::chrono::duration_cast<std::chrono::milliseconds>(timeout_));
        } catch (const std::exception& e) {
            fail(what, e.what());
        }
    }
};

#endif  // D2M_GLOO

}  // namespace

bool have_gloo() { return D2M_GLOO != 0; }

Communicator& world() { return *slot(); }

void init_world(const LaunchEnv& env, const WorldOptions& opt) {
    if (!env.distributed()) return;
#if D2M_GLOO
    slot() = std::make_unique<GlooCommunicator>(env, opt);
#else
    (void)opt;
    D2M_FAIL(Incompatible, "this build cannot run ", env.world_size,
             " processes: libtorch's c10d Gloo backend or Gloo's headers were missing at build time",
             Hint{"install libgloo-dev and rebuild (scripts/install_deps.sh), or run one process"});
#endif
}

void shutdown_world() { slot() = std::make_unique<LocalCommunicator>(); }

}  // namespace den2moe::dist
