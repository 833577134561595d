// Task evaluation driver (see eval/task_eval.h): registry → loaders → multiple-choice scoring or the
// MTEB evaluators on TextEncoder embeddings → result files, summary and cache.
#include "eval/task_eval.h"

#include <ATen/ATen.h>

#include <chrono>
#include <fstream>
#include <iterator>
#include <cmath>
#include <filesystem>
#include <map>
#include <memory>
#include <sstream>

#include "calib/stats_cache.h"
#include "core/error.h"
#include "core/json_text.h"
#include "core/run_context.h"
#include "dist/comm.h"
#include "eval/embeddings.h"
#include "eval/metrics.h"
#include "eval/mteb_tasks.h"
#include "eval/multiple_choice.h"
#include "eval/prompts.h"
#include "eval/task_data.h"
#include "eval/task_registry.h"
#include "io/model_files.h"
#include "io/safetensors.h"
#include "model/llama.h"
#include "model/loaded_model.h"
#include "model/moe.h"
#include "tokenizer/tokenizer.h"

namespace fs = std::filesystem;

namespace den2moe {

namespace {
constexpr const char* kEvalVersion = "task-eval-1";  // bump when a change alters any number

// Hash of the files a task reads (folders: every file inside, sorted).
std::string data_revision(const TaskInfo& t, const std::string& shared_dir) {
    std::string all;
    for (const auto& p : task_files(t, shared_dir)) {
        std::error_code ec;
        if (fs::is_directory(p, ec)) {
            std::vector<std::string> files;
            for (const auto& e : fs::directory_iterator(p, ec))
                if (e.is_regular_file()) files.push_back(e.path().string());
            std::sort(files.begin(), files.end());
            for (const auto& f : files) all += fs::path(f).filename().string() + "=" + hash_file(f) + ";";
        } else {
            all += fs::path(p).filename().string() + "=" + hash_file(p) + ";";
        }
    }
    return hash_string(all);
}

std::string model_revision(const LoadedModel& lm, const std::string& path) {
    std::string h = hash_model(path, lm.tokenizer_path);
    std::error_code ec;
    const fs::path moe_cfg = fs::path(path) / "moe_config.json";  // routing settings of a converted model
    if (fs::is_directory(path, ec) && fs::exists(moe_cfg, ec)) h = hash_string(h + "|" + hash_file(moe_cfg.string()));
    return h;
}

int64_t resolved_max_length(const TaskEvalSettings& s, const LlamaModel& m) {
    return s.max_length > 0 ? s.max_length : m.config().max_position_embeddings;
}

std::string json_escape_line(const std::string& s) {
    std::string o;
    for (char c : s) {
        if (c == '\n') o += "\\n";
        else o += c;
    }
    return o;
}

std::string folder_name(const std::string& path) {
    fs::path p = fs::path(path).lexically_normal();
    if (p.filename().empty()) p = p.parent_path();
    std::string n = p.filename().string();
    return n.empty() ? std::string("model") : n;
}

}  // namespace

EvalModelCaps eval_model_caps(const LlamaModel& model, const std::string& path) {
    EvalModelCaps c;
    c.path = path;
    c.n_layers = static_cast<int>(model.config().n_layer);
    int64_t first = -1;
    for (int il = 0; il < c.n_layers; ++il) {
        if (const auto* moe = dynamic_cast<const MoeFfn*>(&model.ffn(il))) {
            ++c.n_moe_layers;
            const int64_t w = moe->n_experts() + moe->router().n_null();
            c.rw_dim += w;
            if (first < 0) first = w;
            c.uniform_router_width = c.uniform_router_width && w == first;
        }
    }
    return c;
}

std::string instruction_prefix(const TaskEvalSettings& s, const TaskInfo& t) {
    if (s.instruction == "gritlm") return gritlm_prefix(s.instruction_text);
    if (s.instruction == "gritlm-task") return gritlm_prefix(t.instruction);
    return {};
}

nlohmann::json task_relevant_settings(const TaskEvalSettings& s, const TaskInfo& t) {
    nlohmann::json j = {{"version", kEvalVersion}, {"dtype", s.dtype}, {"max_length", s.max_length}, {"limit", s.limit}};
    if (t.type == TaskType::MultipleChoice) {
        j["bos"] = s.bos;
        if (t.name == "mmlu") j["k_shot"] = s.k_shot;
        return j;
    }
    j["embedding"] = s.embedding;
    j["prompt"] = s.prompt;
    j["instruction_prefix"] = instruction_prefix(s, t);
    if (s.embedding != "rw") j["pooling"] = s.pooling;
    if (s.append_eos) j["append_eos"] = true;  // absent when off: earlier cached results keep their keys
    if (s.embedding == "den2moee") j["den2moee_group"] = kDen2MoEEGroup;
    if (s.embedding != "hs" && s.embedding != "den2moee") {  // den2moee: raw logits, no z-scoring
        j["rw_values"] = s.rw_values;
        j["chunk"] = s.chunk;
    }
    if (s.embedding == "moee-sum") j["alpha"] = s.alpha;
    if (t.type == TaskType::Classification || t.type == TaskType::Clustering) j["seed"] = s.seed;
    if (t.type == TaskType::Classification) {
        j["n_experiments"] = s.n_experiments;
        j["samples_per_label"] = s.samples_per_label > 0 ? s.samples_per_label : t.samples_per_label;
    }
    return j;
}

namespace {

TaskScores run_mc_task(const TaskInfo& t, const LoadedModel& lm, const TaskEvalSettings& s, const std::string& shared,
                       RunContext& ctx, dist::Communicator* together) {
    McTaskData data = load_mc_task(t, shared, t.name == "mmlu" ? s.k_shot : 0, s.limit);
    std::vector<McPrompt> prompts;
    for (size_t i = 0; i < data.docs.size(); ++i) prompts.push_back(format_mc(t.name, data.docs[i], data.shots[i]));
    McOptions mo;
    mo.bos = s.bos;
    mo.batch = s.batch;
    mo.max_length = resolved_max_length(s, *lm.model);
    mo.comm = together;
    const auto ll = mc_loglikelihoods(*lm.model, *lm.tokenizer, prompts, mo, ctx, t.name);
    const McOutcome o = score_mc(prompts, ll);
    TaskScores ts;
    ts.metrics["acc"] = metrics::mean_of(o.acc);
    ts.metrics["acc_stderr"] = metrics::stderr_of_mean(o.acc);
    ts.metrics["acc_norm"] = metrics::mean_of(o.acc_norm);
    ts.metrics["acc_norm_stderr"] = metrics::stderr_of_mean(o.acc_norm);
    // per item, in the task's item order: the option chosen under acc / acc_norm and the gold one
    // (lm-eval's --log_samples compares item by item: tests/interop/check_lm_eval.py)
    std::vector<int> gold;
    for (const auto& p : prompts) gold.push_back(p.gold);
    ts.metrics["items"] = {{"pred", o.pred}, {"pred_norm", o.pred_norm}, {"gold", gold}};
    if (t.name == "mmlu") {
        std::map<std::string, std::vector<double>> acc, accn;
        for (size_t i = 0; i < data.docs.size(); ++i) {
            acc[data.docs[i].subject].push_back(o.acc[i]);
            accn[data.docs[i].subject].push_back(o.acc_norm[i]);
        }
        nlohmann::json per = nlohmann::json::object();
        std::vector<double> macro, macro_n;
        for (const auto& kv : acc) {
            per[kv.first] = {{"acc", metrics::mean_of(kv.second)},
                             {"acc_norm", metrics::mean_of(accn[kv.first])},
                             {"n", kv.second.size()}};
            macro.push_back(metrics::mean_of(kv.second));
            macro_n.push_back(metrics::mean_of(accn[kv.first]));
        }
        ts.metrics["acc_macro"] = metrics::mean_of(macro);
        ts.metrics["acc_norm_macro"] = metrics::mean_of(macro_n);
        ts.metrics["per_subject"] = per;
        ts.notes.push_back("acc is over all questions (lm-eval 0.4's size-weighted group mean); acc_macro is the "
                           "mean of the 57 subjects' accuracies");
        if (s.k_shot > 0) ts.notes.push_back(std::to_string(s.k_shot) + "-shot from the dev split (first k)");
    }
    ts.metrics["prompt_format"] = mc_format_description(t.name);
    ts.main_score = ts.metrics["acc"].get<double>();
    ts.n_items = static_cast<int64_t>(prompts.size());
    if (data.skipped > 0) ts.notes.push_back(std::to_string(data.skipped) + " unusable items skipped");
    return ts;
}

// Raw embeddings per task on disk (beside the result cache): the hidden states and router logits of
// every prompt a task encoded, so that another --embedding kind, z-scoring chunk or alpha of the same
// task reuses them instead of running the model again. Keyed by the model, the task's data and what
// changes a prompt's vectors (pooling, max_length, dtype); the prompt strings themselves are stored.
struct EmbeddingCache {
    std::string st, prompts;  ///< file paths ("" = off)
    void load(TextEncoder& enc) const {
        std::error_code ec;
        if (st.empty() || !fs::exists(st, ec) || !fs::exists(prompts, ec)) return;
        try {
            const auto list = nlohmann::json::parse(read_text(prompts)).get<std::vector<std::string>>();
            SafetensorsReader r = SafetensorsReader::open(st);
            RawEmbeddings raw;
            raw.hs = r.get("hs");
            if (raw.hs.size(0) != static_cast<int64_t>(list.size())) return;  // a pair from two runs: ignore
            if (enc.rw_dim() > 0) {
                if (!r.has("rw") || !r.has("rw_mean")) return;  // an entry from before the mean-pooled logits
                raw.rw = r.get("rw");
                raw.rw_mean = r.get("rw_mean");
            }
            enc.preload(list, raw);
        } catch (const std::exception&) {
            // a damaged entry is a miss; the next store overwrites it
        }
    }
    void store(const TextEncoder& enc) const {
        if (st.empty() || enc.computed_since_clear() == 0) return;
        std::vector<std::string> list;
        RawEmbeddings raw;
        enc.snapshot(&list, &raw);
        fs::create_directories(fs::path(st).parent_path());
        std::vector<std::pair<std::string, at::Tensor>> t = {{"hs", raw.hs.to(at::kFloat)}};
        if (raw.rw.defined()) {
            t.emplace_back("rw", raw.rw.to(at::kFloat));
            t.emplace_back("rw_mean", raw.rw_mean.to(at::kFloat));
        }
        write_file_atomic(prompts, dump_json(nlohmann::json(list)) + "\n");
        save_safetensors(st, t);
    }
    static std::string read_text(const std::string& path) {
        std::ifstream in(path);
        return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
};

struct SavedEmbeddings {
    std::vector<std::pair<std::string, at::Tensor>> tensors;
    nlohmann::json texts = nlohmann::json::object();
};

TaskScores run_embedding_task(const TaskInfo& t, TextEncoder& enc, const TaskEvalSettings& s, const std::string& shared,
                              RunContext& ctx, SavedEmbeddings* save) {
    const std::string prefix = instruction_prefix(s, t);
    EncodeFn encode = [&](const std::string& name, const std::vector<std::string>& texts) {
        std::vector<std::string> prompts;
        prompts.reserve(texts.size());
        for (const auto& x : texts) prompts.push_back(moee_prompt(x, s.prompt, prefix));  // = eval_text_prompt
        RawEmbeddings raw = enc.encode(prompts, ctx, t.name + " " + name);
        EmbeddingSet es = make_embedding_set(raw, s.embedding, s.chunk);
        if (save) {
            save->tensors.emplace_back(name + ".hs_raw", raw.hs.to(at::kFloat));
            if (raw.rw.defined()) save->tensors.emplace_back(name + ".rw_raw", raw.rw.to(at::kFloat));
            if (raw.rw_mean.defined()) save->tensors.emplace_back(name + ".rw_mean_raw", raw.rw_mean.to(at::kFloat));
            if (s.embedding != "hs") save->tensors.emplace_back(name + ".main", es.main.to(at::kFloat));
            save->texts[name] = prompts;
        }
        return es;
    };
    MtebParams p;
    p.kind = s.embedding;
    p.alpha = s.alpha;
    p.seed = s.seed;
    p.n_experiments = s.n_experiments;
    p.samples_per_label = s.samples_per_label > 0 ? s.samples_per_label : t.samples_per_label;
    MtebOutcome o;
    switch (t.type) {
        case TaskType::STS: o = run_sts(load_sts(t, shared, s.limit), encode, p); break;
        case TaskType::Classification: o = run_classification(load_classification(t, shared, s.limit), encode, p, ctx); break;
        case TaskType::Clustering: o = run_clustering(load_clustering(t, shared, s.limit), encode, p, ctx); break;
        case TaskType::PairClassification: o = run_pair_classification(load_pairs(t, shared, s.limit), encode, p); break;
        case TaskType::Reranking: o = run_reranking(load_reranking(t, shared, s.limit), encode, p); break;
        default: D2M_FAIL(Internal, "task ", t.name, " is not an embedding task");
    }
    TaskScores ts;
    ts.metrics = o.scores;
    ts.main_score = o.main_score;
    ts.chance = o.chance;
    ts.n_items = o.n_items;
    ts.combination = o.combination;
    return ts;
}

}  // namespace

TaskEvalRun run_task_eval(const LoadedModel& lm, const std::string& model_path, const TaskEvalSettings& settings,
                          const TaskEvalOutput& out, RunContext& ctx) {
    const EvalModelCaps caps = eval_model_caps(*lm.model, model_path);
    // --embedding auto: the embedding a trained embedding model records (moe_config.json), else hs
    TaskEvalSettings s = settings;
    const RecordedEmbedding recorded = read_recorded_embedding(model_path);
    const std::string embedding_note = resolve_auto_embedding(s, recorded);
    validate_task_eval(s, caps, out.shared_dir);
    const std::vector<const TaskInfo*> tasks = resolve_tasks(s.tasks);
    D2M_CHECK(parse_compute_dtype(s.dtype) == lm.model->compute_dtype(), InvalidInput, "the model was loaded in ",
              compute_dtype_name(lm.model->compute_dtype()), " but the settings ask for ", s.dtype,
              Hint{"load the model with the settings' dtype"});
    // several ranks (den2moe eval --nproc, torchrun, srun): a multiple-choice task runs on every rank
    // together, its items' batches shared (mc_loglikelihoods); the j-th of the other tasks runs on rank
    // j mod world; rank 0 gathers every task's scores and writes the files in task order, as one
    // process would
    dist::Communicator& comm = dist::world();
    const int world = comm.world_size(), rank = comm.rank();
    D2M_CHECK(world == 1 || !s.save_embeddings, InvalidInput, "--save-embeddings is not supported on ", world,
              " ranks (the matrices stay on the rank that computed them)",
              Hint{"run the evaluation with --save-embeddings on one process"});
    const bool writer = !out.out_dir.empty() && comm.is_root();
    TaskEvalRun run;
    run.settings = s;
    run.embedding_note = embedding_note;
    EvalSummary& sum = run.summary;
    sum.model = "den2moe/" + folder_name(model_path) + "-" + s.embedding + "-" + s.prompt +
                (s.instruction == "none" ? std::string() : "-" + s.instruction);
    sum.model_path = model_path;
    sum.model_revision = model_revision(lm, model_path);
    sum.settings = task_eval_schema().to_json(s);
    // where the embedding came from: the model's record (--embedding auto) or the settings
    sum.settings["embedding_source"] = settings.embedding != "auto" ? "settings"
                                       : recorded.found        ? "model record: " + recorded.file
                                                               : "default (the model records none)";
    const bool use_cache = s.cache && !out.cache_dir.empty();
    ResultCache cache(out.cache_dir);
    std::unique_ptr<TextEncoder> encoder;
    bool any_mteb = false;
    for (const TaskInfo* t : tasks) any_mteb = any_mteb || t->is_embedding();
    if (any_mteb && writer) {
        const auto& c = lm.model->config();
        nlohmann::json meta = {{"name", sum.model},
                               {"revision", sum.model_revision},
                               {"release_date", nullptr},
                               {"languages", {"eng-Latn"}},
                               {"n_parameters", lm.model->n_params()},
                               {"memory_usage", nullptr},
                               {"max_tokens", c.max_position_embeddings},
                               {"embed_dim", s.embedding == "hs"         ? c.n_embd
                                             : s.embedding == "rw"       ? caps.rw_dim
                                             : s.embedding == "den2moee" ? den2moee_dim(c.n_embd, caps.n_moe_layers,
                                                                                        caps.rw_dim / caps.n_moe_layers)
                                                                         : c.n_embd + caps.rw_dim},
                               {"license", nullptr},
                               {"open_weights", true},
                               {"public_training_code", nullptr},
                               {"framework", {"den2moe"}},
                               {"similarity_fn_name", "cosine"},
                               {"use_instructions", s.instruction != "none"},
                               {"reference", nullptr},
                               {"loader", nullptr},
                               {"den2moe", {{"model_path", model_path}, {"format", lm.format},
                                            {"moe_layers", caps.n_moe_layers}, {"rw_dim", caps.rw_dim},
                                            {"embedding_note", embedding_note}, {"settings", sum.settings}}}};
        run.files.push_back(write_model_meta(out.out_dir, sum, meta));
    }
    // inner stages (batches of one task) report through their own context, so that the outer "tasks"
    // stage keeps its clock and its ETA over the whole suite
    RunContext inner;
    inner.cancel = ctx.cancel;
    inner.on_progress = ctx.on_progress;
    const int64_t n = static_cast<int64_t>(tasks.size());
    // one task's scores (and its embedding matrices when s.save_embeddings), computed or from the cache;
    // `together`: every rank makes this call (the cache is used only when every rank holds the entry)
    auto evaluate = [&](int64_t i, SavedEmbeddings& saved, bool together) {
        const TaskInfo& t = *tasks[static_cast<size_t>(i)];
        ctx.check_cancelled();
        ctx.report("tasks", i, n, t.name);
        const std::string rev = data_revision(t, out.shared_dir);
        const nlohmann::json relevant = task_relevant_settings(s, t);
        const std::string key =
            hash_string(sum.model_revision + "|" + t.name + "|" + rev + "|" + dump_json(relevant));
        std::optional<TaskScores> hit;
        if (use_cache && !s.save_embeddings) hit = cache.load(key);  // saved matrices need a real run
        if (together && world > 1) {
            bool all = true;
            for (const auto& h : comm.all_gather_bytes(hit ? "1" : "0")) all = all && h == "1";
            if (!all) hit.reset();
        }
        TaskScores ts;
        if (hit) {
            ts = *hit;
        } else {
            const auto t0 = std::chrono::steady_clock::now();
            try {
                if (t.type == TaskType::MultipleChoice) {
                    ts = run_mc_task(t, lm, s, out.shared_dir, inner, together && world > 1 ? &comm : nullptr);
                } else {
                    if (!encoder) {
                        EncoderOptions eo;
                        eo.pooling = s.pooling;
                        eo.rw_values = s.rw_values;
                        eo.batch = s.batch;
                        eo.max_length = resolved_max_length(s, *lm.model);
                        eo.append_eos = s.append_eos;
                        eo.want_rw = caps.has_routers();  // RW rides along: another --embedding reuses the cache
                        encoder = std::make_unique<TextEncoder>(*lm.model, *lm.tokenizer, eo);
                    }
                    EmbeddingCache ec;
                    if (use_cache) {
                        nlohmann::json vk = {{"version", kEvalVersion}, {"pooling", s.pooling},
                                             {"max_length", s.max_length}, {"dtype", s.dtype},
                                             {"prompt", s.prompt}, {"prefix", instruction_prefix(s, t)}};
                        if (s.append_eos) vk["append_eos"] = true;  // absent when off: earlier caches stay valid
                        const std::string ek = hash_string(sum.model_revision + "|emb|" + t.name + "|" + rev + "|" + dump_json(vk));
                        ec.st = (fs::path(out.cache_dir) / "embeddings" / (ek + ".safetensors")).string();
                        ec.prompts = (fs::path(out.cache_dir) / "embeddings" / (ek + ".prompts.json")).string();
                    }
                    ec.load(*encoder);
                    ts = run_embedding_task(t, *encoder, s, out.shared_dir, inner, s.save_embeddings ? &saved : nullptr);
                    ec.store(*encoder);
                    encoder->clear();
                }
            } catch (const Error& e) {
                throw e.with_context("task " + t.name);
            }
            ts.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            ts.task = t.name;
            ts.type = task_type_name(t.type);
            ts.main_score_name = t.main_score;
            if (t.type == TaskType::MultipleChoice) ts.chance = t.chance;
            if (!t.note.empty()) ts.notes.insert(ts.notes.begin(), t.note);
            ts.dataset_revision = rev;
            if (use_cache && (!together || comm.is_root())) cache.store(key, ts);  // one writer per entry
        }
        return ts;
    };
    // a task's scores into the summary; its result file, the summary and its matrices written at once
    auto record = [&](const TaskScores& ts, const SavedEmbeddings& saved) {
        const TaskInfo& t = *tasks[sum.tasks.size()];
        if (ts.cached) ++run.cache_hits;
        sum.tasks.push_back(ts);
        sum.recompute();
        if (writer) {
            if (!saved.tensors.empty()) {
                const fs::path dir = fs::path(out.out_dir) / "embeddings";
                std::error_code ec;
                fs::create_directories(dir, ec);
                const std::string st = (dir / (t.name + ".safetensors")).string();
                save_safetensors(st, saved.tensors, {{"task", t.name}, {"model", sum.model}, {"embedding", s.embedding},
                                                     {"prompt", s.prompt}, {"chunk", std::to_string(s.chunk)}});
                write_file_atomic((dir / (t.name + ".texts.json")).string(), dump_json(saved.texts, 1) + "\n");
                run.files.push_back(st);
            }
            run.files.push_back(write_task_result(out.out_dir, sum, ts));
            write_summary(out.out_dir, sum);
        }
    };
    if (world == 1) {
        for (int64_t i = 0; i < n; ++i) {
            SavedEmbeddings saved;
            const TaskScores ts = evaluate(i, saved, false);
            record(ts, saved);
        }
    } else {
        std::vector<nlohmann::json> res(static_cast<size_t>(n));
        std::vector<int64_t> solo;  // the tasks one rank runs alone
        for (int64_t i = 0; i < n; ++i) {
            if (tasks[static_cast<size_t>(i)]->type != TaskType::MultipleChoice) {
                solo.push_back(i);
                continue;
            }
            SavedEmbeddings none;
            res[static_cast<size_t>(i)] = evaluate(i, none, true).to_json();  // this rank's scores = every rank's
        }
        const int64_t ns = static_cast<int64_t>(solo.size());
        nlohmann::json mine = nlohmann::json::array();
        for (int64_t j = rank; j < ns; j += world) {
            SavedEmbeddings none;
            mine.push_back(evaluate(solo[static_cast<size_t>(j)], none, false).to_json());
        }
        const std::vector<std::string> parts = comm.all_gather_bytes(mine.dump());
        std::vector<nlohmann::json> got;
        for (const auto& p : parts) got.push_back(nlohmann::json::parse(p));
        for (int64_t j = 0; j < ns; ++j) {
            const nlohmann::json& g = got[static_cast<size_t>(j % world)];
            D2M_CHECK(g.is_array() && static_cast<int64_t>(g.size()) > j / world, Internal, "rank ", j % world,
                      " sent ", g.size(), " task results, expected at least ", j / world + 1);
            res[static_cast<size_t>(solo[static_cast<size_t>(j)])] = g[static_cast<size_t>(j / world)];
        }
        for (int64_t i = 0; i < n; ++i) record(TaskScores::from_json(res[static_cast<size_t>(i)]), SavedEmbeddings{});
    }
    ctx.report("tasks", n, n);
    if (writer) {
        run.files.push_back((fs::path(out.out_dir) / "summary.json").string());
        run.files.push_back((fs::path(out.out_dir) / "summary.csv").string());
    }
    return run;
}

std::string describe_tasks() {
    std::ostringstream o;
    char line[512];
    std::snprintf(line, sizeof line, "%-24s %-18s %-16s %7s  %s\n", "task", "type", "main score", "chance", "description");
    o << line;
    for (const auto& t : task_registry()) {
        std::string chance = std::isfinite(t.chance) ? std::to_string(t.chance).substr(0, 5) : "data";
        std::snprintf(line, sizeof line, "%-24s %-18s %-16s %7s  %s\n", t.name.c_str(), task_type_name(t.type),
                      t.main_score.c_str(), chance.c_str(), t.description.c_str());
        o << line;
        if (!t.note.empty()) o << std::string(69, ' ') << "note: " << t.note << "\n";
    }
    o << "\ngroups: all, mteb (every embedding task), zeroshot, sts, classification, clustering, pairclassification, "
         "reranking\n";
    return o.str();
}

std::string eval_text_prompt(const TaskEvalSettings& s, const std::string& task, const std::string& text) {
    const TaskInfo* t = find_task(task);
    D2M_CHECK(t && t->type != TaskType::MultipleChoice, InvalidInput, "'", task, "' is not an embedding task",
              Hint{"den2moe eval --list-tasks"});
    return moee_prompt(text, s.prompt, instruction_prefix(s, *t));
}

std::string describe_prompts(const TaskEvalSettings& settings, const std::string& shared_dir,
                             const std::string& model_path) {
    TaskEvalSettings s = settings;
    std::ostringstream o;
    std::unique_ptr<Tokenizer> tok;
    const int64_t max_length = s.max_length;  // 0: the model's context, longer than any first item shown
    if (!model_path.empty()) {  // the embedding this model would be read with, and its tokenizer
        const std::string note = resolve_auto_embedding(s, read_recorded_embedding(model_path));
        if (!note.empty()) o << note << "\n\n";
        std::error_code ec;
        D2M_CHECK(fs::exists(model_path, ec), InvalidInput, "--show-prompt: model ", model_path, " does not exist",
                  Hint{"give a model folder, or leave it out to see the prompts only"});
        const std::string tp = find_tokenizer(model_path, 0);
        if (tp.empty())  // e.g. a llama2.c .bin, whose tokenizer needs the vocabulary size: the prompts only
            o << "token ids: not shown (no tokenizer.model / tokenizer.json / vocab.json beside " << model_path << ")\n\n";
        else
            tok = Tokenizer::load(tp);
    }
    validate_task_eval(s, EvalModelCaps{}, shared_dir);
    for (const TaskInfo* tp : resolve_tasks(s.tasks)) {
        const TaskInfo& t = *tp;
        o << "== " << t.name << " (" << task_type_name(t.type) << ")\n";
        if (t.type == TaskType::MultipleChoice) {
            McTaskData d = load_mc_task(t, shared_dir, t.name == "mmlu" ? s.k_shot : 0, 1);
            const McPrompt p = format_mc(t.name, d.docs[0], d.shots[0]);
            o << mc_format_description(t.name) << "\nfirst item:\n  context:  " << json_escape_line(p.context) << "\n";
            for (size_t c = 0; c < p.continuations.size(); ++c)
                o << "  choice " << c << ":  \"" << json_escape_line(p.continuations[c]) << "\""
                  << (static_cast<int>(c) == p.gold ? "   (gold)" : "") << "\n";
            o << "  tokens: " << (s.bos ? "BOS + " : "") << "context, then each choice's continuation\n\n";
            continue;
        }
        std::string first;
        switch (t.type) {
            case TaskType::STS: first = load_sts(t, shared_dir, 1).sentence1.at(0); break;
            case TaskType::Classification: first = load_classification(t, shared_dir, 1).test_text.at(0); break;
            case TaskType::Clustering: first = load_clustering(t, shared_dir, 1).sets.at(0).at(0); break;
            case TaskType::PairClassification: first = load_pairs(t, shared_dir, 1).sentence1.at(0); break;
            case TaskType::Reranking: first = load_reranking(t, shared_dir, 1).samples.at(0).query; break;
            default: break;
        }
        const std::string prefix = instruction_prefix(s, t);
        o << "template (" << s.prompt << "):  " << json_escape_line(embed_template(s.prompt)) << "\n"
          << "instruction prefix:  " << (prefix.empty() ? "(none)" : json_escape_line(prefix)) << "\n"
          << "first text:  " << json_escape_line(first) << "\n"
          << "prompt:      " << json_escape_line(moee_prompt(first, s.prompt, prefix)) << "\n"
          << "tokens: BOS + prompt" << (s.append_eos ? " + EOS" : "") << "; embedding = " << s.embedding
          << (s.embedding == "auto" ? " (the model's recorded embedding, else hs)"
              : s.embedding == "den2moee"
                  ? " (final-norm hidden state + router logits mean-pooled over tokens, averaged per 4 router layers, "
                    "L2-normalised)"
              : s.embedding == "hs" ? (s.pooling == "last" ? " (final-norm hidden state, last token)"
                                                           : " (final-norm hidden state, mean over tokens)")
                                    : " (router outputs at the last token of every MoE layer)")
          << "\n";
        if (tok) {  // the exact ids the encoder runs (TextEncoder: embedding_token_ids), the pooled one marked
            const std::vector<int> ids = embedding_token_ids(*tok, moee_prompt(first, s.prompt, prefix), s.append_eos,
                                                             max_length);
            o << "token ids (" << ids.size() << "):";
            for (size_t i = 0; i < ids.size(); ++i) {
                const bool pooled = s.embedding != "rw" && s.pooling == "last" && i + 1 == ids.size();
                o << " " << ids[i] << (pooled ? "*" : "");
            }
            o << "\npieces:     ";
            for (size_t i = 0; i < ids.size(); ++i) o << (i ? " | " : "") << json_escape_line(tok->piece(ids[i]));
            o << "\n" << (s.embedding == "rw" ? "pooled: router outputs at the last token"
                         : s.pooling == "last" ? "pooled (*): " + json_escape_line(tok->piece(ids.back())) +
                                                     (s.append_eos && ids.back() == tok->eos_id() ? " (the appended EOS)" : "")
                                               : std::string("pooled: the mean over all ") + std::to_string(ids.size()) +
                                                     " tokens")
              << "\n";
        }
        o << "\n";
    }
    return o.str();
}

}  // namespace den2moe
