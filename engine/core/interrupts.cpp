// Interrupts: SIGINT / SIGTERM taken by one thread of their own (see interrupts.h for why).
#include "core/interrupts.h"

#include <pthread.h>
#include <signal.h>

#include <mutex>
#include <system_error>
#include <thread>

namespace den2moe {

namespace {

std::atomic<bool> g_routed{false};
std::atomic<bool> g_handlers{false};
std::atomic<std::atomic<bool>*> g_flag{nullptr};
std::atomic<int> g_forward_depth{0};
std::atomic<int> g_forwarded{0};
std::atomic<long> g_taken{0};
sigset_t g_mask_before;  // written once, before g_routed is set

sigset_t interrupt_set() {
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGINT);
    sigaddset(&s, SIGTERM);
    return s;
}

// What a signal does; async-signal-safe (lock-free atomics, sigaction, pthread_sigmask, raise), as it
// also runs as a handler where the signals are not routed.
void dispatch(int sig) {
    g_taken.fetch_add(1);
    if (g_forward_depth.load() > 0) {
        g_forwarded.store(sig);
        return;
    }
    if (std::atomic<bool>* f = g_flag.load()) {
        f->store(true);
        return;
    }
    // no job to stop cleanly: terminate as if the signal were not handled (exit status 128 + sig)
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    sigaction(sig, &dfl, nullptr);
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, sig);
    pthread_sigmask(SIG_UNBLOCK, &one, nullptr);
    raise(sig);
}

extern "C" void d2m_interrupt_handler(int sig) { dispatch(sig); }

// The handlers: the fallback where the signals are not routed, and for a thread that existed before
// the routing (its mask does not block them) — such a thread computes nothing of ours.
void install_handlers() {
    if (g_handlers.exchange(true)) return;
    struct sigaction sa {};
    sa.sa_handler = d2m_interrupt_handler;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
}

void wait_for_interrupts() {
    const sigset_t s = interrupt_set();
    for (;;) {
        int sig = 0;
        if (sigwait(&s, &sig) == 0) dispatch(sig);
    }
}

}  // namespace

bool route_interrupts_to_thread() {
    static std::mutex m;
    std::lock_guard<std::mutex> lock(m);
    if (g_routed.load()) return true;
    const sigset_t s = interrupt_set();
    sigset_t before;
    if (pthread_sigmask(SIG_BLOCK, &s, &before) != 0) return false;
    try {
        std::thread(wait_for_interrupts).detach();  // started after the block: it inherits it, as sigwait needs
    } catch (const std::system_error&) {
        pthread_sigmask(SIG_SETMASK, &before, nullptr);
        install_handlers();
        return false;
    }
    g_mask_before = before;
    install_handlers();
    g_routed.store(true);
    return true;
}

bool interrupts_routed() { return g_routed.load(); }

void set_interrupt_flag(std::atomic<bool>* flag) {
    install_handlers();
    g_flag.store(flag);
}

InterruptForwarding::InterruptForwarding() {
    install_handlers();
    g_forwarded.store(0);
    g_forward_depth.fetch_add(1);
}

InterruptForwarding::~InterruptForwarding() { g_forward_depth.fetch_sub(1); }

int InterruptForwarding::take() { return g_forwarded.exchange(0); }

void InterruptForwarding::restore_for_exec() {
    // exec resets handled signals to their default action but keeps the mask: give the child's program
    // the mask this process started with (a signal arriving before exec then terminates the child)
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    sigaction(SIGINT, &dfl, nullptr);
    sigaction(SIGTERM, &dfl, nullptr);
    if (g_routed.load()) pthread_sigmask(SIG_SETMASK, &g_mask_before, nullptr);
}

long interrupts_taken() { return g_taken.load(); }

}  // namespace den2moe
