// CLI `export`: a converted MoE folder -> a standard Hugging Face folder (Mixtral / Qwen2-MoE).
// Prints the lint report first (stdout; --json for the machine-readable document), exits 1 on
// lint errors, then writes the folder atomically (engine/export/hf_export.h).
#include <nlohmann/json.hpp>

#include <cstdio>

#include <ATen/ATen.h>

#include "cli.h"
#include "core/error.h"
#include "core/run_context.h"
#include "export/hf_export.h"
#include "io/safetensors.h"
#include "model/loaded_model.h"

namespace den2moe::cli {

using nlohmann::json;

namespace {

// A few sentences of ordinary prose: the probe that measures what dropped biases change.
constexpr const char* kProbeText =
    "Once upon a time, there was a little girl named Lily. She liked to play in the park with her friends. "
    "The stock market fell sharply on Monday as investors worried about interest rates. "
    "Question: What is 12 times 7? Answer: 84. Photosynthesis converts light energy into chemical energy.";

/// The dtype the checkpoint stores its embedding in ("" when it cannot be read).
std::string stored_dtype(const std::string& path) {
    try {
        SafetensorsReader r = SafetensorsReader::open(path);
        if (r.has("model.embed_tokens.weight")) return st_dtype_name(r.info("model.embed_tokens.weight").dtype);
    } catch (const Error&) {
    }
    return "";
}

}  // namespace

int cmd_export(const Args& a, RunContext& ctx) {
    a.allow({"format", "out", "dtype", "pad-experts", "strict", "lint-only", "shard-size", "tp", "refuse-biases",
             "tokenizer", "json", "quiet", "threads"});
    D2M_CHECK(a.positionals().size() == 1, InvalidInput, "export: expected one MOE_DIR argument, got ",
              a.positionals().size(), Hint{"den2moe export MOE_DIR --format mixtral --out DIR"});
    D2M_CHECK(a.has("format"), InvalidInput, "export: --format mixtral|qwen2moe is required");
    D2M_CHECK(a.has("out") || a.has("lint-only"), InvalidInput, "export: --out DIR is required (or --lint-only)");
    const std::string path = a.positionals()[0];
    const std::string format = a.get("format");

    ExportOptions opt;
    opt.pad_experts = a.has("pad-experts");
    opt.strict = a.has("strict");
    opt.refuse_biases = a.has("refuse-biases");
    opt.shard_size = a.get_int("shard-size", opt.shard_size);
    opt.tensor_parallel = a.get_int("tp", 1);
    // keep = the stored dtype: a bf16 checkpoint is loaded as bf16 (exact), anything else as fp32
    const std::string want = a.get("dtype", "keep");
    D2M_CHECK(want == "keep" || want == "fp32" || want == "bf16" || want == "fp16", InvalidInput,
              "export: unknown --dtype '", want, "'", Hint{"use keep, fp32, bf16 or fp16"});
    const std::string stored = stored_dtype(path);
    const bool load_bf16 = stored == "BF16" && (want == "keep" || want == "bf16");
    opt.dtype = want != "keep" ? want : stored == "BF16" ? "bf16" : stored == "F16" ? "fp16" : "fp32";

    LoadedModel lm = load_model(path, load_bf16 ? ComputeDType::BF16 : ComputeDType::F32, a.get("tokenizer"));
    std::vector<int> ids = lm.tokenizer->encode(kProbeText, true, false);
    opt.probe_ids = at::tensor(ids, at::kLong).unsqueeze(0);
    ExportLint lint = lint_export(*lm.model, format, opt);
    json doc = {{"model", path}, {"format", format}, {"lint", lint.to_json()}};
    if (!a.has("json")) std::fputs(lint.to_text().c_str(), stdout);
    if (lint.has_errors() || a.has("lint-only")) {
        if (a.has("json")) std::fputs((doc.dump(1) + "\n").c_str(), stdout);
        if (lint.has_errors() && !a.has("json"))
            std::fprintf(stderr, "export refused: %lld lint error(s); nothing was written\n",
                         (long long)lint.count(LintSeverity::Error));
        return lint.has_errors() ? kUserError : kOk;
    }
    ExportResult r = export_hf(*lm.model, format, a.get("out"), opt, ctx);
    doc["export"] = {{"out", r.out_dir},          {"files", r.files},   {"shards", r.n_shards},
                     {"tensors", r.n_tensors},    {"bytes", r.bytes},   {"seconds", r.seconds},
                     {"dtype", opt.dtype}};
    if (a.has("json")) {
        std::fputs((doc.dump(1) + "\n").c_str(), stdout);
    } else {
        std::printf("\nexported %s -> %s (%s, %lld tensors, %.1f MB in %lld shard%s, %.2f s)\n", path.c_str(),
                    r.out_dir.c_str(), opt.dtype.c_str(), (long long)r.n_tensors, r.bytes / 1e6,
                    (long long)r.n_shards, r.n_shards == 1 ? "" : "s", r.seconds);
        for (const auto& f : r.files) std::printf("  %s\n", f.c_str());
    }
    return kOk;
}

}  // namespace den2moe::cli
