// Interrupts during GEMMs (engine/core/interrupts.h). oneDNN's float32 GEMM kernels (Debian's libdnnl2
// 2.6.3, our default float32 GEMM library) point rsp at a heap workspace while they run, so a signal
// handler that runs on a thread inside one writes its frame into the heap: `den2moe mine` aborted with
// "corrupted size vs. prev_size while consolidating" on one SIGTERM in eight (oneDNN issue #4845).
// Here the signals are routed to a thread of their own and a second thread sends SIGINT every 200 µs
// while this one multiplies: every signal is taken, no heap is corrupted, the products are right.
// D2M_TEST_INTERRUPT_HANDLERS=1 runs the same case with plain handlers instead (the old way): on an
// affected oneDNN that process aborts — which shows this case can fail.
// The child cases re-run this program: with no flag set a SIGTERM terminates it as if unhandled, and
// under an InterruptForwarding the signal is recorded for the launcher instead.
#include <ATen/ATen.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include "core/interrupts.h"
#include "core/runtime.h"
#include "model/gemm.h"
#include "support/check.h"

using namespace den2moe;

namespace {

bool env_set(const char* name) {
    const char* v = std::getenv(name);
    return v && *v && std::strcmp(v, "0") != 0;
}

// The child modes (D2M_TEST_INTERRUPT_CHILD): "noflag" waits with no flag set; "forward" waits under an
// InterruptForwarding and exits with the signal it recorded.
int child_main(const std::string& mode) {
    route_interrupts_to_thread();
    if (mode == "noflag") {
        set_interrupt_flag(nullptr);
        std::fprintf(stderr, "ready\n");
        std::this_thread::sleep_for(std::chrono::seconds(20));
        return 3;  // not terminated
    }
    InterruptForwarding fwd;
    std::fprintf(stderr, "ready\n");
    for (int i = 0; i < 2000; ++i) {
        if (const int sig = fwd.take()) return sig;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return 4;  // nothing recorded
}

// Runs this program in a child mode, sends `sig` once it is ready, returns waitpid's status.
int run_child(const std::string& mode, int sig) {
    int fds[2];
    if (pipe(fds) != 0) return -1;
    const pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 2);
        close(fds[0]);
        setenv("D2M_TEST_INTERRUPT_CHILD", mode.c_str(), 1);
        execl("/proc/self/exe", "test_interrupts", "child", static_cast<char*>(nullptr));
        _exit(127);
    }
    close(fds[1]);
    char buf[64] = {};
    const ssize_t got = read(fds[0], buf, sizeof buf - 1);  // "ready\n": routed, flag or forwarding set
    close(fds[0]);
    if (got <= 0 || std::strstr(buf, "ready") == nullptr) std::fprintf(stderr, "child said: %s\n", buf);
    kill(pid, sig);
    int status = 0;
    waitpid(pid, &status, 0);
    return status;
}

}  // namespace

TEST(signals_during_float32_gemms_reach_the_interrupt_thread) {
    const bool handlers = env_set("D2M_TEST_INTERRUPT_HANDLERS");
    if (!handlers) CHECK(route_interrupts_to_thread());  // before any torch op starts a thread
    CHECK(interrupts_routed() == !handlers);
    init_runtime(2);
    std::atomic<bool> cancel{false};
    set_interrupt_flag(&cancel);
    std::fprintf(stderr, "fp32 GEMMs: %s; signals %s\n", gemm::fp32_library_description().c_str(),
                 handlers ? "to handlers (the old way)" : "routed to their thread");
    at::manual_seed(7);
    // the demo model's FFN and attention shapes (d 256, ffn 704; 8 x 256 tokens), the weights [out, in]
    const at::Tensor x = at::randn({2048, 256}), up = at::randn({704, 256}) * 0.06, down = at::randn({256, 704}) * 0.04;
    const at::Tensor h_ref = at::matmul(x.to(at::kDouble), up.to(at::kDouble).t());
    const at::Tensor y_ref = at::matmul(h_ref, down.to(at::kDouble).t());
    std::atomic<bool> stop{false};
    std::atomic<long> sent{0};
    std::thread sender([&] {
        while (!stop.load()) {
            kill(getpid(), SIGINT);
            sent.fetch_add(1);
            std::this_thread::sleep_for(std::chrono::microseconds(200));
        }
    });
    const long before = interrupts_taken();
    double worst = 0;
    const auto t0 = std::chrono::steady_clock::now();
    int iters = 0;
    for (; iters < 800 && std::chrono::steady_clock::now() - t0 < std::chrono::seconds(4); ++iters) {
        const at::Tensor h = gemm::linear(x, up);
        const at::Tensor y = gemm::linear(h, down);
        if (iters % 100 == 0) {
            const double e = ((y.to(at::kDouble) - y_ref).abs().max() / y_ref.abs().max()).item<double>();
            worst = std::max(worst, e);
        }
    }
    stop.store(true);
    sender.join();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // the last ones are taken
    const long taken = interrupts_taken() - before;
    std::fprintf(stderr, "%d GEMM pairs, %ld signals sent, %ld taken, worst relative error %.3g\n", iters, sent.load(),
                 taken, worst);
    CHECK(iters >= 50);
    CHECK(sent.load() >= 200);
    CHECK(taken >= 100 && taken >= sent.load() / 10);  // one kind pending together is taken once
    CHECK(cancel.load());
    CHECK(worst < 1e-4);
    set_interrupt_flag(nullptr);
}

TEST(a_signal_with_no_flag_terminates_as_if_unhandled) {
    const int status = run_child("noflag", SIGTERM);
    std::fprintf(stderr, "child status: %s %d\n", WIFSIGNALED(status) ? "killed by signal" : "exited",
                 WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);
}

TEST(a_forwarding_launcher_records_the_signal) {
    const int status = run_child("forward", SIGINT);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == SIGINT);
    const int status2 = run_child("forward", SIGTERM);
    CHECK(WIFEXITED(status2) && WEXITSTATUS(status2) == SIGTERM);
}

int main(int argc, char** argv) {
    if (const char* mode = std::getenv("D2M_TEST_INTERRUPT_CHILD")) return child_main(mode);
    return d2m_test::run_all(argc, argv);
}
