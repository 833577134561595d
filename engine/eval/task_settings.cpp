// validate_task_eval: the cross-field, model and data rules of task evaluation (eval/task_settings.h).
#include "eval/task_settings.h"

#include <algorithm>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "eval/task_registry.h"

namespace den2moe {

RecordedEmbedding read_recorded_embedding(const std::string& model_path) {
    RecordedEmbedding r;
    namespace fs = std::filesystem;
    std::error_code ec;
    const fs::path f = fs::path(model_path) / "moe_config.json";
    if (!fs::is_directory(model_path, ec) || !fs::exists(f, ec)) return r;
    r.file = f.string();
    nlohmann::json mc;
    try {
        std::ifstream in(f);
        mc = nlohmann::json::parse(in);
    } catch (const nlohmann::json::exception& e) {
        D2M_FAIL(InvalidInput, r.file, " is not valid JSON: ", e.what());
    }
    if (!mc.is_object() || !mc.contains("embedding") || !mc["embedding"].is_object()) return r;
    const nlohmann::json& j = mc["embedding"];
    auto text = [&](const char* key, const std::string& dflt) {
        if (!j.contains(key)) return dflt;
        D2M_CHECK(j[key].is_string(), InvalidInput, r.file, ": embedding.", key, " must be a string");
        return j[key].get<std::string>();
    };
    r.kind = text("kind", "hs");
    r.pooling = text("pooling", "last");
    r.prompt = text("prompt", "none");
    r.normalize = j.value("normalize", true);
    if (j.contains("append_eos")) {
        D2M_CHECK(j["append_eos"].is_boolean(), InvalidInput, r.file, ": embedding.append_eos must be true or false,",
                  " found ", j["append_eos"].dump());
        r.append_eos = j["append_eos"].get<bool>();
    }
    const FieldInfo* f_kind = task_eval_schema().find("embedding");
    const auto& names = embed_template_names();
    D2M_CHECK(r.kind != "auto" && f_kind &&
                  std::find(f_kind->choices.begin(), f_kind->choices.end(), r.kind) != f_kind->choices.end(),
              InvalidInput, r.file, ": embedding.kind '", r.kind, "' is not an embedding this version evaluates",
              Hint{"name one with --embedding"});
    D2M_CHECK(r.pooling == "last" || r.pooling == "mean", InvalidInput, r.file, ": embedding.pooling '", r.pooling,
              "' is neither last nor mean", Hint{"name one with --embedding hs --pooling"});
    D2M_CHECK(std::find(names.begin(), names.end(), r.prompt) != names.end(), InvalidInput, r.file,
              ": embedding.prompt '", r.prompt, "' is not a known template", Hint{"name one with --prompt"});
    r.found = true;
    return r;
}

std::string resolve_auto_embedding(TaskEvalSettings& s, const RecordedEmbedding& rec) {
    if (s.embedding != "auto") return {};
    if (!rec.found) {
        s.embedding = "hs";
        return "embedding: hs (the model records no embedding; --embedding auto)";
    }
    s.embedding = rec.kind;
    s.pooling = rec.pooling;
    s.prompt = rec.prompt;
    s.append_eos = rec.append_eos;
    return "embedding: " + rec.kind + ", pooling " + rec.pooling + ", prompt " + rec.prompt +
           (rec.append_eos ? ", EOS appended" : "") + " as the model records it (" + rec.file + "; --embedding names another)";
}

void validate_task_eval(const TaskEvalSettings& s, const EvalModelCaps& caps, const std::string& shared_dir) {
    task_eval_schema().check(s, "task_eval.");
    const std::vector<const TaskInfo*> tasks = resolve_tasks(s.tasks);
    D2M_CHECK(s.instruction == "gritlm" || s.instruction_text.empty(), InvalidInput,
              "--instruction-text is set but --instruction is '", s.instruction, "'",
              Hint{"use --instruction gritlm with --instruction-text, or drop the text"});
    bool any_embedding = false;
    for (const TaskInfo* t : tasks) any_embedding = any_embedding || t->is_embedding();
    if (!caps.path.empty() && any_embedding && s.embedding != "hs" && s.embedding != "auto") {
        D2M_CHECK(caps.has_routers(), InvalidInput, "--embedding ", s.embedding, " needs routing weights (RW), but ",
                  caps.path, " is a dense model: none of its ", caps.n_layers, " layers has a router",
                  Hint{"RW, MoEE and Den2MoEE need an MoE model (a converted folder or a Mixtral / Qwen2-MoE "
                       "checkpoint); a dense model offers --embedding hs only"});
        D2M_CHECK(s.embedding != "den2moee" || caps.uniform_router_width, InvalidInput,
                  "--embedding den2moee averages router logits over groups of layers, but the MoE layers of ",
                  caps.path, " have different numbers of router outputs",
                  Hint{"use --embedding rw or moee-concat for this model"});
    }
    D2M_CHECK(s.embedding != "den2moee" || s.rw_values == "logits", InvalidInput,
              "--embedding den2moee averages the raw router logits; --rw-values ", s.rw_values, " does not apply",
              Hint{"leave out --rw-values (logits)"});
    for (const TaskInfo* t : tasks) check_task_files(*t, shared_dir);
}

}  // namespace den2moe
