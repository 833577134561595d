// Reading back a training run's loss curve: OUT/train_log.jsonl as run_training writes it (one JSON
// object per line: {"type":"step", step, loss, lr, grad_norm, tokens, tokens_per_s} and
// {"type":"eval", step, loss (the mean), ppl, domains: {name: loss}}) into plain vectors, plus train.json's summary when the
// run finished. A line cut by a kill is skipped, as the trainer does on resumption. Torch-free and
// Qt-free: the app's training view and the CLI read finished and resumed runs through it.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace den2moe {

struct TrainLogStep {
    int64_t step = 0;
    double loss = 0, lr = 0, grad_norm = 0, tokens_per_s = 0;
    int64_t tokens = 0;
};

struct TrainLogEval {
    int64_t step = -1;
    double mean = 0;                   ///< token-weighted held-out loss over the domains
    std::vector<std::string> domains;  ///< in the log's (alphabetical) order
    std::vector<double> loss;          ///< per domain, mean NLL
};

struct TrainLog {
    std::vector<TrainLogStep> steps;  ///< in file order (ascending step)
    std::vector<TrainLogEval> evals;
    int64_t skipped_lines = 0;        ///< lines that were not a complete JSON object
    // from train.json ("" / -1 / empty when the run has not finished)
    std::string stage;
    int64_t total_steps = -1;
    std::string source_model;
    nlohmann::json settings = nlohmann::json::object();  ///< train_schema().to_json of the run
    TrainLogEval before, after;  ///< held-out loss per domain before / after (step -1 when absent)
    bool finished() const { return total_steps >= 0; }
};

/// Reads `path` (a run folder holding train_log.jsonl, or the file itself) and, beside it, train.json
/// when present. Throws Error (Io) when the log cannot be opened, naming the file.
TrainLog read_train_log(const std::string& path);

}  // namespace den2moe
