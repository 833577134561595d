// PEFT adapter folder from a training checkpoint: see export/peft_adapter.h. Name mapping: our LoRA
// parameters are "<weight module>.lora_A.weight" (train/lora.h, PEFT's own naming); attention modules
// keep their names in both export formats, so the PEFT key is "base_model.model." + our name.
#include "export/peft_adapter.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/json_text.h"
#include "core/run_context.h"
#include "io/atomic_dir.h"
#include "io/hf_config.h"
#include "io/safetensors.h"
#include "model/llama.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace den2moe {

namespace {
constexpr const char* kMaster = "master:";
const std::string kLoraA = ".lora_A.weight", kLoraB = ".lora_B.weight";

bool ends_with(const std::string& s, const std::string& t) {
    return s.size() >= t.size() && s.compare(s.size() - t.size(), t.size(), t) == 0;
}

/// "model.layers.3.self_attn.q_proj" -> ("q_proj", 3); anything not an attention projection -> ("", -1)
std::pair<std::string, int> attention_module(const std::string& module) {
    const std::string pre = "model.layers.";
    if (module.compare(0, pre.size(), pre) != 0) return {"", -1};
    const size_t dot = module.find('.', pre.size());
    if (dot == std::string::npos) return {"", -1};
    const std::string rest = module.substr(dot + 1);
    for (const char* p : {"q_proj", "k_proj", "v_proj", "o_proj"})
        if (rest == std::string("self_attn.") + p) {
            try {
                return {p, std::stoi(module.substr(pre.size(), dot - pre.size()))};
            } catch (const std::exception&) {
                return {"", -1};
            }
        }
    return {"", -1};
}
}  // namespace

PeftAdapterResult write_peft_adapter(const LlamaModel& trained, const std::string& trained_dir,
                                     const std::string& format, const std::string& out_dir, RunContext& ctx) {
    D2M_CHECK(format == "mixtral" || format == "qwen2moe", InvalidInput, "PEFT adapter: unknown export format '",
              format, "'", Hint{"mixtral or qwen2moe"});
    D2M_CHECK(!out_dir.empty(), InvalidInput, "PEFT adapter: no output folder given");
    const fs::path ckpt = fs::path(trained_dir) / "checkpoint.safetensors";
    std::error_code ec;
    D2M_CHECK(fs::is_regular_file(ckpt, ec), InvalidInput, "PEFT adapter: ", trained_dir,
              " has no checkpoint.safetensors", " expected the output folder of `den2moe train`",
              Hint{"the adapter is written from a training run's folder (its LoRA is merged into model.safetensors)"});
    const fs::path out = fs::absolute(fs::path(out_dir)).lexically_normal();
    const fs::path outp = out.filename().empty() ? out.parent_path() : out;
    if (fs::exists(outp, ec)) {
        D2M_CHECK(fs::is_directory(outp, ec) && (fs::is_empty(outp, ec) || fs::exists(outp / "adapter_config.json", ec)),
                  InvalidInput, "PEFT adapter: ", outp.string(), " already exists and is not an adapter folder",
                  Hint{"choose a new folder; only one holding adapter_config.json (or an empty one) is replaced"});
    }

    SafetensorsReader r = SafetensorsReader::open(ckpt.string());
    const auto meta = r.metadata().find("den2moe_train_state");
    D2M_CHECK(meta != r.metadata().end(), InvalidInput, "PEFT adapter: ", ckpt.string(),
              " is not a den2moe training checkpoint", " (no den2moe_train_state metadata)");
    json state;
    try {
        state = json::parse(meta->second);
    } catch (const std::exception& e) {
        D2M_FAIL(InvalidInput, "PEFT adapter: the training state of ", ckpt.string(), " is not JSON: ", e.what());
    }
    const json settings = state.value("settings", json::object());
    const int64_t rank = settings.value("lora_rank", int64_t{0});
    const double alpha = settings.value("lora_alpha", 0.0);
    const double dropout = settings.value("lora_dropout", 0.0);
    D2M_CHECK(rank > 0, InvalidInput, "PEFT adapter: the run in ", trained_dir, " trained no LoRA", " (lora_rank 0)",
              Hint{"train with --lora-rank R; a run without LoRA is exported with `den2moe export` alone"});

    // the masters: LoRA pairs by module, and anything else that trained (which an adapter cannot carry)
    std::map<std::string, std::pair<at::Tensor, at::Tensor>> lora;  // module -> (A [r, in], B [out, r])
    std::vector<std::string> other;
    for (const std::string& n : r.names()) {
        if (n.compare(0, std::char_traits<char>::length(kMaster), kMaster) != 0) continue;
        const std::string name = n.substr(std::char_traits<char>::length(kMaster));
        if (ends_with(name, kLoraA))
            lora[name.substr(0, name.size() - kLoraA.size())].first = r.get(n);
        else if (ends_with(name, kLoraB))
            lora[name.substr(0, name.size() - kLoraB.size())].second = r.get(n);
        else
            other.push_back(name);
    }
    D2M_CHECK(!lora.empty(), InvalidInput, "PEFT adapter: ", ckpt.string(), " holds no LoRA tensors",
              " expected master:<module>.lora_A.weight");
    D2M_CHECK(other.empty(), InvalidInput, "PEFT adapter: the run also trained ", other.size(),
              " tensors besides its LoRA (", other.front(), other.size() > 1 ? ", ..." : "",
              "); a LoRA adapter on the source model's export cannot carry them",
              Hint{"train with --trainable '' for an adapter-only run, or export the trained folder "
                   "(LoRA merged) with `den2moe export`"});

    const LlamaConfig& cfg = trained.config();
    const std::map<std::string, at::Tensor> weights = trained.named_tensors();
    std::vector<std::pair<std::string, at::Tensor>> tensors;
    std::vector<std::string> modules;
    for (const auto& kv : lora) {
        ctx.check_cancelled();
        const std::string& module = kv.first;
        at::Tensor A = kv.second.first, B = kv.second.second;
        D2M_CHECK(A.defined() && B.defined(), InvalidInput, "PEFT adapter: ", module, " has only one of lora_A / lora_B");
        D2M_CHECK(A.dim() == 2 && B.dim() == 2 && A.size(0) == rank && B.size(1) == rank, InvalidInput,
                  "PEFT adapter: ", module, " has LoRA shapes A ", A.sizes(), ", B ", B.sizes(),
                  " expected A [", rank, ", in], B [out, ", rank, "]");
        const auto [proj, il] = attention_module(module);
        D2M_CHECK(!proj.empty(), Incompatible, "PEFT adapter: LoRA on ", module,
                  " has no PEFT Linear module in the ", format,
                  " export (routed experts are fused 3-D parameters in transformers >= 5; only attention "
                  "projections are written)",
                  Hint{"train the adapter with --lora-targets q_proj,k_proj,v_proj,o_proj, or export the trained "
                       "folder (LoRA merged) with `den2moe export`"});
        const auto w = weights.find(module + ".weight");
        D2M_CHECK(w != weights.end() && w->second.dim() == 2 && w->second.size(0) == B.size(0) &&
                      w->second.size(1) == A.size(1),
                  Incompatible, "PEFT adapter: the LoRA of ", module, " (B·A ", B.size(0), " x ", A.size(1),
                  ") does not fit ", trained_dir, "'s ", module, ".weight",
                  w == weights.end() ? std::string(" (absent)") : " " + std::to_string(w->second.size(0)) + " x " +
                                                                    std::to_string(w->second.size(1)),
                  Hint{"the checkpoint belongs to another model"});
        A = A.to(at::kFloat).contiguous();
        B = B.to(at::kFloat).contiguous();
        // the export rotates q/k rows of an interleaved-RoPE model into HF's half-split order: B's rows alike
        if (cfg.rope_style == RopeStyle::Interleaved && (proj == "q_proj" || proj == "k_proj")) {
            const int64_t heads = proj == "q_proj" ? cfg.n_head : cfg.n_head_kv;
            B = B.reshape({heads, cfg.head_dim / 2, 2, rank}).transpose(1, 2).reshape({B.size(0), rank}).contiguous();
        }
        tensors.emplace_back("base_model.model." + module + kLoraA, A);
        tensors.emplace_back("base_model.model." + module + kLoraB, B);
        modules.push_back(module);
    }

    json config = {{"peft_type", "LORA"},
                   {"task_type", "CAUSAL_LM"},
                   {"base_model_name_or_path", state.value("source_model", std::string())},
                   {"r", rank},
                   {"lora_alpha", alpha},
                   {"lora_dropout", dropout},
                   {"target_modules", modules},
                   {"bias", "none"},
                   {"fan_in_fan_out", false},
                   {"use_rslora", false},
                   {"use_dora", false},
                   {"init_lora_weights", true},
                   {"inference_mode", true},
                   {"modules_to_save", nullptr},
                   {"rank_pattern", json::object()},
                   {"alpha_pattern", json::object()}};
    // where it came from, beside PEFT's file (PEFT's config loader is left only keys it knows)
    const json provenance = {{"trained", trained_dir},
                             {"step", state.value("step", int64_t{0})},
                             {"source_model", state.value("source_model", std::string())},
                             {"source_hash", state.value("source_hash", std::string())},
                             {"export_format", format},
                             {"base", "the source model exported with `den2moe export SOURCE --format " + format + "`"}};
    fs::create_directories(outp.parent_path(), ec);
    AtomicDir tmp(outp.string(), "PEFT adapter");
    save_safetensors(tmp.file("adapter_model.safetensors"), tensors, {{"format", "pt"}});
    write_file_atomic(tmp.file("adapter_config.json"), dump_json(config, 2) + "\n");
    write_file_atomic(tmp.file("den2moe_adapter.json"), dump_json(provenance, 2) + "\n");
    ctx.check_cancelled();
    tmp.commit();

    PeftAdapterResult res;
    res.out_dir = outp.string();
    res.target_modules = modules;
    res.rank = rank;
    res.alpha = alpha;
    res.train_step = state.value("step", int64_t{0});
    return res;
}

}  // namespace den2moe
