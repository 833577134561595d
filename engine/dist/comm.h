// The collectives the engine needs, behind one small interface so that training, mining and
// evaluation call them the same way in a single process (Local: every call is a no-op or a copy)
// and across processes (libtorch's c10d: TCPStore rendezvous + ProcessGroupGloo on CPU tensors).
// Every rank must make the same calls in the same order. A failed collective (a lost peer, or no
// answer within the timeout) throws Error(Io) naming the lost rank(s): each rank publishes a
// heartbeat in the store, and the error says which ones stopped beating (or the error message a
// failing rank left there); never a hang past the timeout.
#pragma once

#include <ATen/core/Tensor.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "dist/launch.h"

namespace den2moe::dist {

/// A collective in flight (Communicator::start_all_reduce_sum): wait() returns once its tensor holds
/// the result, or throws as the blocking collectives do (naming a lost rank).
class PendingCollective {
public:
    virtual ~PendingCollective() = default;
    virtual void wait() = 0;
};

class Communicator {
public:
    virtual ~Communicator() = default;
    virtual int rank() const = 0;
    virtual int world_size() const = 0;
    bool is_root() const { return rank() == 0; }
    /// Element-wise sum over ranks, in place, of CPU float / double tensors of any shapes: flattened
    /// into buckets of at most kBucketBytes per dtype, all buckets in flight at once, then copied
    /// back. Every rank ends with the same bytes.
    virtual void all_reduce_sum(std::vector<at::Tensor>& tensors) = 0;
    /// Starts the element-wise sum over ranks of one contiguous CPU float / double tensor, in place,
    /// and returns at once (c10d allreduce returns a Work): the caller keeps `flat` alive and calls
    /// wait() before reading it. Every rank must start the same collectives in the same order.
    virtual std::unique_ptr<PendingCollective> start_all_reduce_sum(const at::Tensor& flat) = 0;
    /// `root`'s values into every rank's tensors (same shapes and dtypes on every rank).
    virtual void broadcast(std::vector<at::Tensor>& tensors, int root) = 0;
    virtual void barrier() = 0;
    /// Every rank's `bytes`, in rank order, on every rank (small payloads: results, fingerprints).
    virtual std::vector<std::string> all_gather_bytes(const std::string& bytes) = 0;
    /// Every rank's `t` [rows[r], ...] in rank order, on every rank, detached (no autograd history):
    /// `t` a CPU tensor of the same dtype and trailing shape on every rank, `rows` every rank's leading
    /// size (known to all callers; a rank may send 0 rows). c10d allgather of blocks padded to the longest.
    virtual std::vector<at::Tensor> all_gather_rows(const at::Tensor& t, const std::vector<int64_t>& rows) = 0;
    /// Tell the other ranks why this one is stopping (best effort), so their errors can say it.
    virtual void report_failure(const std::string& message) { (void)message; }
    /// "" for a single process, else "[rank R] " to prefix log lines.
    std::string log_prefix() const;

    static constexpr int64_t kBucketBytes = 25 << 20;  // DistributedDataParallel's default bucket_cap_mb
};

/// The process-wide communicator: a single-process one until init_world() makes another.
Communicator& world();

struct WorldOptions {
    std::chrono::seconds timeout{300};  ///< rendezvous, each collective, and the store
};
/// Join the job described by `env` (world_size 1: nothing happens). Rank 0 hosts the TCPStore on
/// MASTER_ADDR:MASTER_PORT unless torchrun's agent does. The Gloo device binds to
/// $GLOO_SOCKET_IFNAME when set, to 127.0.0.1 when MASTER_ADDR is a loopback address, else to this
/// host's name. Throws Error(Io) when the others do not join within the timeout.
void init_world(const LaunchEnv& env, const WorldOptions& opt = {});
/// Leave the job (joins the heartbeat, closes the process group and the store).
void shutdown_world();

/// Whether this build has the c10d Gloo backend (libtorch built with USE_C10D_GLOO and Gloo's headers found).
bool have_gloo();

}  // namespace den2moe::dist
