// ProgressPrinter and run_guarded: see console.h.
#include "console.h"

#include <unistd.h>

#include <chrono>
#include <csignal>
#include <exception>

#include "core/error.h"
#include "steps.h"

namespace den2moe::frontend {

namespace {
double now_s() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
}  // namespace

std::string metric_label(const std::string& name) {
    std::string s = name;
    for (size_t at; (at = s.find("_per_")) != std::string::npos;) s.replace(at, 5, "/");
    for (auto& c : s) {
        if (c == '_') c = '-';
    }
    return s;
}

std::string format_duration(double s) {
    if (s < 0) return "?";
    char buf[32];
    if (s < 60) std::snprintf(buf, sizeof buf, "%.0fs", s);
    else if (s < 3600) std::snprintf(buf, sizeof buf, "%dm%02ds", int(s) / 60, int(s) % 60);
    else std::snprintf(buf, sizeof buf, "%dh%02dm", int(s) / 3600, (int(s) % 3600) / 60);
    return buf;
}

ProgressPrinter::ProgressPrinter(std::FILE* out, std::string label)
    : out_(out), label_(std::move(label)), tty_(::isatty(::fileno(out)) != 0) {}

void ProgressPrinter::operator()(const Progress& p) {
    const bool done = p.total > 0 && p.step >= p.total;
    const double t = now_s();
    if (!tty_ && p.stage == last_stage_ && !done && t - last_line_s_ < 1.0) return;
    last_stage_ = p.stage;
    last_line_s_ = t;
    std::string line = (label_.empty() ? "" : label_ + ": ") + "[" + p.stage + "] ";
    line += p.total > 0 ? std::to_string(p.step) + "/" + std::to_string(p.total) : std::to_string(p.step);
    if (!p.message.empty()) line += " " + p.message;
    for (const auto& m : p.metrics) {
        char buf[96];
        std::snprintf(buf, sizeof buf, "  %s %.4g", metric_label(m.name).c_str(), m.value);
        line += buf;
    }
    line += "  elapsed " + format_duration(p.elapsed_s);
    if (p.total > 0) line += "  ETA " + format_duration(done ? 0.0 : p.eta_s);
    if (tty_) {
        std::fprintf(out_, "\r%s\033[K", line.c_str());
        open_line_ = !done;
        if (done) std::fputc('\n', out_);
    } else {
        std::fprintf(out_, "%s\n", line.c_str());
    }
    std::fflush(out_);
}

RunContext::ProgressFn ProgressPrinter::sink() {
    return [this](const Progress& p) { (*this)(p); };
}

int run_guarded(const std::function<int()>& job, bool verbose, std::FILE* err) {
    // A file-size limit (ulimit -f) or a full disk makes a write fail (EFBIG / ENOSPC) instead of killing
    // the process with SIGXFSZ: the writer's error path then removes its temporary files.
    std::signal(SIGXFSZ, SIG_IGN);
    try {
        return job();
    } catch (const Cancelled&) {
        std::fprintf(err, "\ncancelled\n");
        return kCancelled;
    } catch (const Error& e) {
        std::fprintf(err, "\nerror: %s\n", e.what());
        return e.kind() == ErrorKind::Internal ? kInternalError : kUserError;
    } catch (const std::exception& e) {
        // c10::Error and anything else: an internal error (the first line unless --verbose)
        std::string what = e.what();
        if (!verbose) {
            const auto nl = what.find("\nException raised from");
            if (nl != std::string::npos) what.resize(nl);
        }
        std::fprintf(err, "\ninternal error: %s\n", what.c_str());
        return kInternalError;
    }
}

}  // namespace den2moe::frontend
