// Process-wide runtime setup for engine work: torch's intra-op threads and the allocator.
// Call once at start-up from every front end (CLI, GUI, benchmarks).
#pragma once

namespace den2moe {

/// Threads for torch's intra-op pool: `threads` > 0, else $D2M_THREADS, else the machine's cores.
/// Returns the number set.
int init_runtime(int threads = 0);

/// Keep large tensor buffers in the malloc heap instead of mmap'ing and unmapping them on every
/// forward pass: glibc maps blocks above its mmap threshold (at most 32 MiB) freshly each time, and
/// every first touch of a fresh page faults. On the demo model a [8, 256, 4096] logits buffer is
/// 32 MiB: without this, ~20% of evaluation time went to page faults (perf, docs/benchmarks.md).
void tune_allocator();

}  // namespace den2moe
