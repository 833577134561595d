// HF MoE export, the writer: lint (export_lint.cpp), build the lazy tensor plan (export_plan.cpp), cut
// it into shards by bytes, and materialise one shard at a time into a temporary sibling folder renamed
// into place at the end (io/atomic_dir.h); prepare_export loads a converted folder for it.
// Exact rewrites (documented in docs/export.md): prior folded into the router (W + α·P, the same
// float expression MoeFfn evaluates), routed_scale folded into every routed expert's down_proj,
// zero-padding of narrower experts, an always-on shared expert as gate 0 (sigmoid 0.5) with its
// down_proj × 2, a missing shared expert as an all-zero one, interleaved RoPE rows permuted to
// Hugging Face's half-split order, Qwen2's q/k/v biases as zeros.
#include "export/hf_export.h"
#include "tokenizer/spm_json.h"
#include "export/export_common.h"
#include "io/atomic_dir.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <set>
#include <sstream>

#include "core/error.h"
#include "core/json_text.h"
#include "core/observers.h"
#include "core/run_context.h"
#include "core/shapes.h"
#include "io/hf_config.h"
#include "io/safetensors.h"
#include "io/tensor_names.h"
#include "model/llama.h"
#include "model/loaded_model.h"
#include "model/moe.h"

#ifndef D2M_VERSION
#define D2M_VERSION "dev"
#endif

namespace fs = std::filesystem;
using nlohmann::json;

namespace den2moe {

using namespace export_detail;

namespace {
void copy_into(const fs::path& src, const fs::path& dst) {
    std::error_code ec;
    fs::copy_file(src, dst, fs::copy_options::overwrite_existing, ec);
    D2M_CHECK(!ec, Io, "export: cannot copy ", src.string(), " to ", dst.string(), ": ", ec.message());
    // the sources may be read-only (the shared model folder): the export's files are the user's
    fs::permissions(dst, fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::add, ec);
}
}  // namespace

// ---------------------------------------------------------------------------------------------
// Export

ExportResult export_hf(const LlamaModel& m, const std::string& format, const std::string& out_dir,
                       const ExportOptions& opt) {
    return export_hf(m, format, out_dir, opt, null_context());
}

ExportResult export_hf(const LlamaModel& m, const std::string& format, const std::string& out_dir,
                       const ExportOptions& opt, RunContext& ctx) {
    const auto t0 = std::chrono::steady_clock::now();
    const Target tgt = parse_target(format);
    ExportResult res;
    res.out_dir = out_dir;
    res.lint = lint_export(m, format, opt);
    if (res.lint.has_errors()) {
        std::ostringstream os;
        for (const auto& f : res.lint.findings) {
            if (f.severity == LintSeverity::Error) os << "\n  [" << f.code << "] " << f.message;
        }
        D2M_FAIL(Incompatible, "cannot export ", m.source.empty() ? std::string("the model") : m.source, " as ",
                 arch_name(tgt), ": ", res.lint.count(LintSeverity::Error), " lint error(s):", os.str(),
                 Hint{"see the hints of `den2moe export --lint-only`; nothing was written"});
    }
    D2M_CHECK(opt.shard_size > 0, InvalidInput, "export: the shard size must be positive, found ", opt.shard_size);
    D2M_CHECK(!out_dir.empty(), InvalidInput, "export: no output folder given");
    const fs::path out = fs::absolute(fs::path(out_dir)).lexically_normal();
    const fs::path outp = out.filename().empty() ? out.parent_path() : out;  // "dir/" -> "dir"
    std::error_code ec;
    if (fs::exists(outp, ec)) {
        D2M_CHECK(fs::is_directory(outp, ec) &&
                      (fs::is_empty(outp, ec) || fs::exists(outp / "den2moe_provenance.json", ec)),
                  InvalidInput, "export: ", outp.string(), " already exists and is not an earlier den2moe export",
                  Hint{"choose a new --out folder or remove it first; only a folder holding den2moe_provenance.json "
                       "(or an empty one) is replaced"});
    }
    fs::create_directories(outp.parent_path(), ec);
    D2M_CHECK(!ec, Io, "export: cannot create ", outp.parent_path().string(), ": ", ec.message());

    const Survey s = survey(m);
    const at::ScalarType out_st = target_dtype(m, opt.dtype);
    Plan plan = build_plan(m, tgt, opt, s, out_st);

    // shards: the plan's order (layer by layer), a new shard when the next tensor would overflow
    const int64_t esize = static_cast<int64_t>(c10::elementSize(out_st));
    std::vector<std::vector<size_t>> shards(1);
    int64_t cur = 0, total = 0;
    for (size_t i = 0; i < plan.items.size(); ++i) {
        int64_t n = esize;
        for (int64_t d : plan.items[i].shape) n *= d;
        if (cur > 0 && cur + n > opt.shard_size) {
            shards.emplace_back();
            cur = 0;
        }
        shards.back().push_back(i);
        cur += n;
        total += n;
    }
    const int64_t n_shards = static_cast<int64_t>(shards.size());
    auto shard_name = [&](int64_t i) {
        if (n_shards == 1) return std::string("model.safetensors");
        char buf[64];
        std::snprintf(buf, sizeof(buf), "model-%05lld-of-%05lld.safetensors", (long long)(i + 1), (long long)n_shards);
        return std::string(buf);
    };

    AtomicDir tmp(outp.string(), "export");

    json weight_map = json::object();
    for (int64_t si = 0; si < n_shards; ++si) {
        ctx.check_cancelled();
        ctx.report("export", si, n_shards, shard_name(si));
        std::vector<std::pair<std::string, at::Tensor>> tensors;
        for (size_t i : shards[static_cast<size_t>(si)]) {
            const Item& it = plan.items[i];
            at::Tensor t = it.make();
            D2M_ASSERT(t.sizes().vec() == it.shape && t.scalar_type() == out_st);
            tensors.emplace_back(it.name, t);
            weight_map[it.name] = shard_name(si);
        }
        save_safetensors((tmp.path() / shard_name(si)).string(), tensors, {{"format", "pt"}});
        res.files.push_back(shard_name(si));
    }
    ctx.report("export", n_shards, n_shards);
    if (n_shards > 1) {
        nlohmann::ordered_json idx;
        idx["metadata"] = {{"total_size", total}};
        idx["weight_map"] = weight_map;  // json::object keeps keys sorted
        write_file_atomic((tmp.path() / "model.safetensors.index.json").string(), dump_json(idx, 2) + "\n");
        res.files.push_back("model.safetensors.index.json");
    }
    write_file_atomic((tmp.path() / "config.json").string(), plan.config.dump(2)  /* ordered keys; every value is ASCII from the config */ + "\n");
    res.files.push_back("config.json");

    // tokenizer + generation config from the sources; provenance sidecar
    const std::vector<fs::path> dirs = source_dirs(m, opt);
    const auto copies = files_to_copy(dirs, m.config().vocab_size);
    for (const auto& [name, src] : copies) {
        ctx.check_cancelled();
        copy_into(src, tmp.path() / name);
        res.files.push_back(name);
    }
    // transformers builds a tokenizer from tokenizer.model that drops sentencepiece's dummy prefix on text
    // opening with a space (docs/interop.md): a tokenizer.json with sentencepiece's own normalizer is exact
    std::string tokenizer_json_note;
    if (copies.count("tokenizer.model") && !copies.count("tokenizer.json")) {
        SpmJsonResult tj = sentencepiece_to_tokenizer_json(copies.at("tokenizer.model").string());
        if (!tj.json.empty()) {
            write_file_atomic((tmp.path() / "tokenizer.json").string(), tj.json);
            res.files.push_back("tokenizer.json");
            tokenizer_json_note = "written from tokenizer.model";
        } else {
            tokenizer_json_note = "not written: " + tj.why_not;
        }
    }
    if (!copies.count("generation_config.json")) {
        nlohmann::ordered_json g;
        g["_from_model_config"] = true;
        g["bos_token_id"] = m.config().bos_token_id >= 0 ? json(m.config().bos_token_id) : json(nullptr);
        g["eos_token_id"] = m.config().eos_token_id >= 0 ? json(m.config().eos_token_id) : json(nullptr);
        write_file_atomic((tmp.path() / "generation_config.json").string(), dump_json(g, 2) + "\n");
        res.files.push_back("generation_config.json");
    }
    nlohmann::ordered_json prov;
    prov["tool"] = "den2moe";
    prov["version"] = D2M_VERSION;
    {
        const std::time_t now = std::time(nullptr);
        char buf[32];
        std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
        prov["exported_at"] = buf;
    }
    prov["format"] = target_name(tgt);
    prov["architecture"] = arch_name(tgt);
    prov["source"] = m.source.empty() ? std::string() : fs::absolute(m.source).lexically_normal().string();
    prov["dtype"] = hf_dtype_name(out_st);
    prov["options"] = {{"dtype", opt.dtype},          {"pad_experts", opt.pad_experts},
                       {"strict", opt.strict},        {"refuse_biases", opt.refuse_biases},
                       {"shard_size", opt.shard_size}, {"tensor_parallel", opt.tensor_parallel},
                       {"zero_shared_width", opt.zero_shared_width}};
    prov["shards"] = n_shards;
    if (!tokenizer_json_note.empty()) prov["tokenizer_json"] = tokenizer_json_note;
    prov["lint"] = res.lint.to_json()["findings"];
    for (const auto& d : dirs) {  // the native folder's provenance and MoE config, when exported from one
        json p = read_json_file(d / "provenance.json");
        if (p.is_object() && !prov.contains("native_provenance")) prov["native_provenance"] = p;
        json mc = read_json_file(d / "moe_config.json");
        if (mc.is_object() && !prov.contains("native_moe_config")) prov["native_moe_config"] = mc;
        json dp = read_json_file(d / "den2moe_provenance.json");  // re-export of an export
        if (dp.is_object() && !prov.contains("previous_export")) prov["previous_export"] = dp;
    }
    write_file_atomic((tmp.path() / "den2moe_provenance.json").string(), dump_json(prov, 2) + "\n");
    res.files.push_back("den2moe_provenance.json");

    // into place: replace an earlier export as a whole
    ctx.check_cancelled();
    tmp.commit();
    res.out_dir = outp.string();
    res.n_shards = n_shards;
    res.n_tensors = static_cast<int64_t>(plan.items.size());
    res.bytes = total;
    res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return res;
}

namespace {

// A few sentences of ordinary prose: the probe that measures what dropped biases change.
constexpr const char* kProbeText =
    "Once upon a time, there was a little girl named Lily. She liked to play in the park with her friends. "
    "The stock market fell sharply on Monday as investors worried about interest rates. "
    "Question: What is 12 times 7? Answer: 84. Photosynthesis converts light energy into chemical energy.";

/// The dtype the checkpoint stores its embedding in ("" when it cannot be read).
std::string stored_embedding_dtype(const std::string& dir) {
    std::vector<std::string> candidates = {(fs::path(dir) / "model.safetensors").string()};
    try {
        std::ifstream idx(fs::path(dir) / "model.safetensors.index.json");
        if (idx.good()) {
            const json j = json::parse(idx);
            const auto& wm = j.at("weight_map");
            if (wm.contains("model.embed_tokens.weight"))
                candidates.insert(candidates.begin(),
                                  (fs::path(dir) / wm["model.embed_tokens.weight"].get<std::string>()).string());
        }
    } catch (const std::exception&) {
    }
    for (const auto& path : candidates) {
        try {
            std::error_code ec;
            if (!fs::exists(path, ec)) continue;
            SafetensorsReader r = SafetensorsReader::open(path);
            if (r.has("model.embed_tokens.weight")) return st_dtype_name(r.info("model.embed_tokens.weight").dtype);
        } catch (const Error&) {
        }
    }
    return "";
}

}  // namespace

PreparedExport prepare_export(const std::string& moe_dir, const std::string& format, ExportOptions opt,
                              const std::string& want, const std::string& tokenizer_override) {
    D2M_CHECK(want == "keep" || want == "fp32" || want == "bf16" || want == "fp16", InvalidInput,
              "export: unknown dtype '", want, "'", Hint{"use keep, fp32, bf16 or fp16"});
    PreparedExport p;
    p.stored_dtype = stored_embedding_dtype(moe_dir);
    const bool load_bf16 = p.stored_dtype == "BF16" && (want == "keep" || want == "bf16");
    opt.dtype = want != "keep" ? want : p.stored_dtype == "BF16" ? "bf16" : p.stored_dtype == "F16" ? "fp16" : "fp32";
    LoadedModel lm = load_model(moe_dir, load_bf16 ? ComputeDType::BF16 : ComputeDType::F32, tokenizer_override);
    std::vector<int> ids = lm.tokenizer->encode(kProbeText, true, false);
    opt.probe_ids = at::tensor(ids, at::kLong).unsqueeze(0);
    p.model = lm.model;
    p.lint = lint_export(*p.model, format, opt);
    p.options = opt;
    return p;
}

}  // namespace den2moe
