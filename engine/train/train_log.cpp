// Reading train_log.jsonl / train.json: see train_log.h.
#include "train/train_log.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

#include "core/error.h"

namespace den2moe {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

/// {"loss": mean, "domains": {name: loss}} (HeldOut::to_json) into `e`; false when it is not one.
bool read_held_out(const json& j, TrainLogEval& e) {
    if (!j.is_object() || !j.contains("loss") || !j["loss"].is_number()) return false;
    e.mean = j["loss"].get<double>();
    e.domains.clear();
    e.loss.clear();
    const json domains = j.value("domains", json::object());
    for (const auto& [name, loss] : domains.items()) {
        e.domains.push_back(name);
        e.loss.push_back(loss.get<double>());
    }
    return true;
}

}  // namespace

TrainLog read_train_log(const std::string& path) {
    std::error_code ec;
    const fs::path p(path);
    const fs::path file = fs::is_directory(p, ec) ? p / "train_log.jsonl" : p;
    std::ifstream in(file);
    D2M_CHECK(in.good(), Io, "cannot read the training log ", file.string(),
              Hint{"a folder written by `den2moe train --out DIR` (or the app's Training step) holds train_log.jsonl"});
    TrainLog log;
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty()) continue;
        json j;
        try {
            j = json::parse(line);
        } catch (const json::exception&) {
            ++log.skipped_lines;  // a line cut by a kill
            continue;
        }
        if (!j.is_object()) {
            ++log.skipped_lines;
            continue;
        }
        const std::string type = j.value("type", std::string());
        try {
            if (type == "step") {
                TrainLogStep s;
                s.step = j.at("step").get<int64_t>();
                s.loss = j.at("loss").get<double>();
                s.lr = j.value("lr", 0.0);
                s.grad_norm = j.value("grad_norm", 0.0);
                s.tokens = j.value("tokens", int64_t{0});
                s.tokens_per_s = j.value("tokens_per_s", 0.0);
                log.steps.push_back(s);
            } else if (type == "eval") {
                TrainLogEval e;
                e.step = j.at("step").get<int64_t>();
                if (!read_held_out(j, e)) {
                    ++log.skipped_lines;
                    continue;
                }
                log.evals.push_back(std::move(e));
            }
        } catch (const json::exception&) {
            ++log.skipped_lines;  // a record without its numbers
        }
    }
    const fs::path summary = file.parent_path() / "train.json";
    std::ifstream sin(summary);
    if (sin.good()) {
        try {
            const json s = json::parse(sin);
            log.stage = s.value("stage", std::string());
            log.total_steps = s.value("steps", int64_t{-1});
            log.source_model = s.value("source_model", std::string());
            log.settings = s.value("settings", json::object());
            if (read_held_out(s.value("held_out_before", json()), log.before)) log.before.step = 0;
            if (read_held_out(s.value("held_out_after", json()), log.after)) log.after.step = log.total_steps;
        } catch (const json::exception&) {
            // a damaged summary leaves the curve readable
        }
    }
    return log;
}

}  // namespace den2moe
