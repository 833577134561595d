// Interrupts: where SIGINT and SIGTERM go. A front end calls route_interrupts_to_thread() first thing
// in main(); then the two signals are blocked in every thread and one thread of their own takes them
// with sigwait(), so no signal handler ever runs on a thread that is computing.
//
// Why not a plain handler: a handler runs on whichever thread the kernel picks, on top of what that
// thread was doing, and the kernel pushes the handler's frame below that thread's stack pointer.
// oneDNN's generated float32 GEMM kernels (dnnl_sgemm, our default float32 GEMM; Debian's libdnnl2
// 2.6.3) point rsp at a heap workspace while they run: a signal delivered then writes its frame
// into the heap, and glibc aborts later ("corrupted size vs. prev_size while consolidating"). Seen as
// `den2moe mine` dying with SIGABRT instead of exiting 130 on one SIGTERM in eight; oneDNN issue
// #4845, fixed upstream by pull request #4855 (2026), which no Debian package carries yet.
#pragma once

#include <atomic>

namespace den2moe {

/// Block SIGINT and SIGTERM in the calling thread — every thread it starts later inherits the block —
/// and start one thread that waits for them and acts as described below. Call it in main() before
/// anything starts a thread (torch's and OpenMP's pools start lazily, on the first parallel op).
/// Idempotent. Returns false, leaving signal handlers as the fallback, if the thread cannot start.
bool route_interrupts_to_thread();

/// Whether route_interrupts_to_thread() has routed the signals.
bool interrupts_routed();

/// While `flag` is set, SIGINT and SIGTERM store true into it (a job's CancelToken::raw_flag(): the
/// job stops at its next check). nullptr: the next one terminates the process as if unhandled.
/// Where the signals are not routed, this installs a handler doing the same (the old behaviour).
void set_interrupt_flag(std::atomic<bool>* flag);

/// For a process that forwards the signals to child processes (the local launcher): while one lives,
/// SIGINT and SIGTERM are recorded for take() instead of cancelling or terminating.
class InterruptForwarding {
public:
    InterruptForwarding();
    ~InterruptForwarding();
    InterruptForwarding(const InterruptForwarding&) = delete;
    InterruptForwarding& operator=(const InterruptForwarding&) = delete;
    /// The last signal received since the previous call, or 0.
    int take();
    /// In a forked child, before exec: the signal mask and handlers the process had before routing.
    static void restore_for_exec();
};

/// How many signals the routing thread has taken (tests).
long interrupts_taken();

}  // namespace den2moe
