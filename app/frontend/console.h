// What both front ends print while a job runs and how a job's end becomes an exit code: one progress
// printer (an updating line on a terminal; on a pipe or log one line per stage change and at most one a
// second, each with the metrics the step reports) and one error boundary (exit 0 ok, 1 user error,
// 2 internal error, 130 cancelled). Torch-free and Qt-free.
#pragma once

#include <atomic>
#include <cstdio>
#include <functional>
#include <string>

#include "core/run_context.h"

namespace den2moe::frontend {

class ProgressPrinter {
public:
    /// `label` prefixes every line ("mining", "conversion"; "" none).
    explicit ProgressPrinter(std::FILE* out = stderr, std::string label = {});
    void operator()(const Progress& p);
    /// A sink for RunContext::on_progress that prints through this printer.
    RunContext::ProgressFn sink();

private:
    std::FILE* out_;
    std::string label_;
    bool tty_;
    std::string last_stage_;
    double last_line_s_ = -1e9;
    bool open_line_ = false;
};

/// How a metric's name is printed: "tokens_per_s" -> "tokens/s", "held_out_loss" -> "held-out-loss".
std::string metric_label(const std::string& name);

/// "12s", "3m05s", "1h02m"; "?" for a negative value.
std::string format_duration(double seconds);

/// Run `job` and map how it ends to an exit code: its own return value; den2moe::Error -> 1 (2 for
/// Internal), printed as "error: ..." with the hint; Cancelled -> 130 ("cancelled"); anything else ->
/// 2 ("internal error: ..."; the full text with `verbose`). SIGXFSZ is ignored from here on, so a
/// file-size limit fails a write (exit 1, temporary files removed) instead of killing the process.
int run_guarded(const std::function<int()>& job, bool verbose, std::FILE* err = stderr);

}  // namespace den2moe::frontend
