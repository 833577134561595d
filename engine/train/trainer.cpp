// Recovery training: see train/trainer.h. The Trainer holds one stage's state: the model in its
// Train mode (model/llama_train.cpp) with the stage's routing, an evaluation view of the same
// tensors with the saved model's routing, the selected parameters (views of the model's own
// storage, made leaves that require gradients), LoRA, float32 masters and AdamW moments.
#include "train/trainer.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>  // GradMode, NoGradGuard: not reached through ATen.h in libtorch 2.x
#include <ATen/Parallel.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/custom_function.h>

#include <algorithm>
#include <limits>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "calib/stats_cache.h"
#include "core/error.h"
#include "core/json_text.h"
#include "core/observers.h"
#include "core/run_context.h"
#include "core/runtime.h"
#include "dist/comm.h"
#include "dist/reducer.h"
#include "eval/embeddings.h"
#include "eval/prompts.h"
#include "io/hf_config.h"
#include "io/model_files.h"
#include "io/safetensors.h"
#include "io/tensor_names.h"
#include "model/gemm.h"
#include "model/llama.h"
#include "model/loaded_model.h"
#include "model/moe.h"
#include "model/moe_io.h"
#include "project/runs.h"
#include "project/project.h"
#include "tokenizer/tokenizer.h"
#include "train/contrastive.h"
#include "train/data.h"
#include "train/lora.h"
#include "train/optim.h"
#include "train/pairs.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace den2moe {

namespace {

constexpr const char* kCheckpointFormat = "den2moe-train-checkpoint-v1";

/// One trainable tensor: rows [row0, row0 + rows) of a leaf the forward pass uses (the whole leaf
/// when `whole`), its float32 master (the leaf's own storage when the compute dtype is float32)
/// and its AdamW moments and step.
struct Param {
    std::string name;
    at::Tensor base;
    int64_t row0 = 0, rows = 0;
    bool whole = true;
    bool aliased = false;  // master is value() itself (float32 compute)
    size_t leaf = 0;       // index of `base` in Impl::leaves
    at::Tensor master, exp_avg, exp_avg_sq;
    int64_t t = 0;
    at::Tensor value() const { return whole ? base : base.narrow(0, row0, rows); }
    at::Tensor grad() const {
        const at::Tensor& g = base.grad();
        if (!g.defined()) return {};
        return whole ? g : g.narrow(0, row0, rows);
    }
};

/// The leaf a named tensor of the model lives in, and its rows (named_tensors() gives views of fused
/// storage: q/k/v of w_qkv, gate/up of w_gate_up).
void locate(const std::string& name, const at::Tensor& t, Param& p) {
    p.name = name;
    if (!t.is_view()) {
        p.base = t;
        p.whole = true;
        return;
    }
    const at::Tensor base(t._base());
    const int64_t off = t.storage_offset() - base.storage_offset();
    D2M_CHECK(base.is_contiguous() && t.is_contiguous() && base.dim() == t.dim() && base.dim() >= 1 &&
                  base.stride(0) > 0 && off % base.stride(0) == 0,
              Internal, "tensor ", name, " is not a block of rows of its storage");
    p.base = base;
    p.row0 = off / base.stride(0);
    p.rows = t.size(0);
    p.whole = p.row0 == 0 && p.rows == base.size(0);
    D2M_CHECK(p.value().data_ptr() == t.data_ptr() && p.value().sizes() == t.sizes(), Internal, "tensor ", name,
              ": cannot find its rows in the storage");
}

/// Where a tensor's gradient becomes final in the backward pass, larger = earlier: its layer
/// (model.layers.N.…, LoRA factors included), the final norm and the head before every layer (L),
/// the embedding after every layer (-1).
int64_t backward_rank(const std::string& name, int64_t n_layers) {
    const std::string tag = "layers.";
    const size_t p = name.find(tag);
    if (p != std::string::npos) {
        size_t q = p + tag.size();
        int64_t n = 0;
        bool digits = false;
        while (q < name.size() && name[q] >= '0' && name[q] <= '9') {
            n = n * 10 + (name[q++] - '0');
            digits = true;
        }
        if (digits) return n;
    }
    return name.find("embed_tokens") != std::string::npos ? -1 : n_layers;
}

bool any_glob(const std::vector<std::string>& pats, const std::string& name) {
    for (const auto& p : pats) {
        if (glob_match(p, name)) return true;
    }
    return false;
}

std::string json_text(const std::string& path) {
    std::ifstream in(path);
    D2M_CHECK(in.good(), Io, "cannot open ", path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

json read_json_file(const std::string& path) {
    try {
        return json::parse(json_text(path));
    } catch (const json::exception& e) {
        D2M_FAIL(InvalidInput, path, " is not valid JSON: ", e.what());
    }
}

// Rows of the vocabulary projection at once in the loss: 256 x V float32 logits (4 MiB for V = 4096).
constexpr int64_t kLossChunk = 256;

/// Mean next-token cross-entropy of hidden states h [N, D] (compute dtype) against targets [N]
/// through a frozen vocabulary projection w [V, D], in row chunks: the [N, V] logits never exist
/// whole. With `grad_h`, the gradient w.r.t. h, (softmax − one-hot)/N · W, is formed chunk by chunk
/// as well. The value equals at::cross_entropy_loss(h·Wᵀ (to float32), targets).
at::Tensor chunked_lm_loss(const at::Tensor& h, const at::Tensor& w, const at::Tensor& tgt, at::Tensor* grad_h) {
    const int64_t N = h.size(0);
    if (grad_h) *grad_h = at::empty_like(h);
    at::Tensor total = at::zeros({}, h.options().dtype(at::kDouble));
    for (int64_t r0 = 0; r0 < N; r0 += kLossChunk) {
        const int64_t n = std::min(kLossChunk, N - r0);
        at::Tensor lg = gemm::linear(h.narrow(0, r0, n), w).to(at::kFloat);  // [n, V]
        at::Tensor lse = at::logsumexp(lg, -1, true);                         // [n, 1]
        at::Tensor t = tgt.narrow(0, r0, n).unsqueeze(1);                      // [n, 1]
        total += (lse - lg.gather(1, t)).sum().to(at::kDouble);
        if (grad_h) {
            at::Tensor g = lg.sub_(lse).exp_();  // softmax, in place on the chunk's logits
            g.scatter_add_(1, t, at::full({n, 1}, -1.0f, g.options()));
            g.mul_(1.0 / static_cast<double>(N));
            grad_h->narrow(0, r0, n).copy_(gemm::mm(g.to(h.scalar_type()), w));  // [n, D]
        }
    }
    return (total / static_cast<double>(N)).to(at::kFloat);
}

/// chunked_lm_loss as an autograd function: the gradient is computed in the forward pass (the loss
/// is the graph's last node) and scaled by the incoming gradient in backward.
struct ChunkedLmLoss : public torch::autograd::Function<ChunkedLmLoss> {
    static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& h, const at::Tensor& w,
                              const at::Tensor& tgt) {
        at::Tensor gh;
        at::Tensor loss = chunked_lm_loss(h, w, tgt, &gh);
        ctx->save_for_backward({gh});
        return loss;
    }
    static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                   torch::autograd::variable_list grads) {
        at::Tensor gh = ctx->get_saved_variables()[0];
        return {gh * grads[0].to(gh.scalar_type()), at::Tensor(), at::Tensor()};
    }
};

}  // namespace

json HeldOut::to_json() const {
    json d = json::object();
    for (size_t i = 0; i < domains.size(); ++i) d[domains[i]] = loss[i];
    return {{"loss", mean}, {"ppl", std::exp(mean)}, {"domains", d}};
}

struct Trainer::Impl {
    Project project;
    std::string model_dir;
    TrainSettings s;
    LoadedModel lm;
    bool native = false, is_moe = false;
    int64_t top_k = 0;
    std::shared_ptr<LlamaModel> train_model, eval_model;
    std::map<std::string, at::Tensor> source;  // the source's tensors, stored dtype
    json source_moe_config, source_provenance;
    std::string source_hash;
    std::set<std::string> dropped;  // bias tensors removed before training
    std::unique_ptr<TrainCorpus> corpus;
    std::unique_ptr<WindowOrder> order;
    std::unique_ptr<LoraSet> lora;
    std::vector<Param> params;  // name order; LoRA after the model's tensors
    std::vector<at::Tensor> leaves;
    // split micro-batches (settings.split_workers): per leaf the float32 sum of the workers' gradients
    // (undefined until one reaches it), read together with the leaf's own .grad by grad_of()
    std::vector<at::Tensor> split_grad;
    int64_t split_microbatches = 0, split_max_workers = 1;
    at::ScalarType compute = at::kFloat;
    int64_t step = 0, total_steps = 0;
    double last_lr = 0, last_norm = 0;
    AdamWConfig adam;
    LrSchedule sched;
    std::vector<std::string> notes;
    dist::Communicator* comm = nullptr;  // the job's ranks (one: a plain run)
    std::unique_ptr<dist::Reducer> reducer;  // several ranks, grad_sync overlap: buckets started by autograd hooks
    // embedding training (loss infonce / cosmse): the pairs, tokenised; the order draws (0, pair)
    std::vector<TextPair> pairs;
    std::vector<std::vector<std::vector<int>>> pair_ids;  // [pair][query, positive, negatives...] token ids
    int64_t step_tokens = 0;                              // real tokens of the last step (all ranks)
    // training.distill: the start model's embeddings of every pair text [texts, D] float32 (unit norm),
    // and each text's row: start_row[pair][k] (k as in pair_ids)
    at::Tensor start_emb;
    std::vector<std::vector<int64_t>> start_row;
    // Den2MoEE recovery: per MoE layer the selection bias the router reads (float32, in place) =
    // the source's centering + the budget bias (float32 master); the step's routed-selection counts
    bool den2moee = false;
    double alpha_init = 0.0, alpha_now = 0.0;
    std::vector<int> moe_layers;
    std::vector<at::Tensor> sel_bias, centering, budget_bias, budget_score, counts;  // per MoE layer, [E]
    int64_t count_tokens = 0;
    ObserverSet count_obs;

    at::Tensor head;  // the vocabulary projection [V, D] (lm_head, or the embedding when tied)

    /// A trainable tensor's float32 gradient (the leaf's .grad plus what split micro-batches summed),
    /// undefined when no pass reached it.
    at::Tensor grad_of(const Param& p) const {
        at::Tensor g = p.grad();
        const at::Tensor& a = split_grad[p.leaf];
        if (!a.defined()) return g.defined() ? g.to(at::kFloat) : g;
        at::Tensor r = p.whole ? a : a.narrow(0, p.row0, p.rows);
        return g.defined() ? r + g.to(at::kFloat) : r;
    }
    /// Worker threads for a micro-batch of `nb` windows: 1 (no split) for embedding losses, the
    /// overlapped all-reduce (its hooks sit on the leaves' accumulation), Den2MoEE's routed-selection
    /// counts (observers), devices other than the CPU, and single windows.
    /// Auto (0) = the intra-op thread count in every stage and dtype. (bf16 with the per-expert
    /// dispatch was first left unsplit from a loaded machine's CPU-time measurement, 0.74x; on a quiet
    /// machine the split is 1.25x faster there too: docs/benchmarks.md.)
    int workers_for(int64_t nb) const {
        if (s.loss != "lm" || reducer || den2moee || nb < 2 || !head.device().is_cpu()) return 1;
        const int64_t k = s.split_workers > 0 ? s.split_workers : static_cast<int64_t>(at::get_num_threads());
        return static_cast<int>(std::max<int64_t>(1, std::min(k, nb)));
    }
    /// Dropout stream of the windows starting at `first` of the step's draws (a pure function of
    /// seed, step and window: ranks and split workers draw the same masks for the same slice).
    uint64_t dropout_seed(int64_t first) const;
    /// accumulate() of ids [nb, T] split among `K` workers: worker k takes rows [nb·k/K, nb·(k+1)/K),
    /// runs its own forward and backward with single-threaded ops (inside the parallel region every
    /// nested at::parallel_for and OpenBLAS call runs serially), its loss (the mean over its rows)
    /// weighted by its share of the rows so that the sum is the whole micro-batch's mean; gradients
    /// are taken with autograd::grad (not accumulated into .grad by racing threads) and summed in
    /// worker order in float32. `first` = the micro-batch's first window in the step's draws.
    double accumulate_split(const at::Tensor& ids, int64_t first, double weight, int K);
    ForwardOptions fo() const {
        ForwardOptions o;
        o.mode = ExecMode::Train;
        o.adapters = lora.get();
        if (den2moee && s.stage == "den2moee-sparse" && s.budget_lr > 0) o.observers = &count_obs;
        return o;
    }
    /// Den2MoEE's dense phase: the routers' prior scale α (train and held-out models rebuilt when it moves).
    void set_alpha(double a) {
        if (a == alpha_now) return;
        for (auto* mp : {&train_model, &eval_model}) {
            const LlamaModel& m = **mp;
            std::vector<std::shared_ptr<const FeedForward>> ffns;
            for (int il = 0; il < static_cast<int>(m.config().n_layer); ++il) {
                auto* moe = dynamic_cast<const MoeFfn*>(&m.ffn(il));
                if (!moe) {
                    ffns.push_back(m.ffn_ptr(il));
                    continue;
                }
                RouterSpec r = moe->router();
                r.prior_scale = a;
                ffns.push_back(moe->with_router(r));
            }
            const std::string src = m.source;
            *mp = m.with_ffns(std::move(ffns));
            (*mp)->source = src;
        }
        alpha_now = a;
    }
    /// Den2MoEE's sparse phase: one budget-bias update per optimizer step from the step's routed
    /// selections, summed over the ranks (the release updates each rank on its own: DEN2MOEE.md §6.8).
    void update_budget(int world) {
        if (world > 1) {
            std::vector<at::Tensor> all(counts.begin(), counts.end());
            all.push_back(at::full({1}, static_cast<double>(count_tokens), at::kDouble));
            comm->all_reduce_sum(all);
            for (size_t m = 0; m < counts.size(); ++m) counts[m] = all[m];
            count_tokens = static_cast<int64_t>(all.back().item<double>());
        }
        at::NoGradGuard ng;
        for (size_t m = 0; m < counts.size(); ++m) {
            update_budget_bias(budget_bias[m], budget_score[m], counts[m], static_cast<double>(s.sparse_top_k),
                               s.budget_ke, s.budget_beta, s.budget_lr, s.budget_t_all == "tokens", count_tokens);
            sel_bias[m].copy_(centering[m] + budget_bias[m]);
            counts[m].zero_();
        }
        count_tokens = 0;
    }
    /// Token ids of a pair text exactly as `den2moe eval` encodes a task's text (no instruction prefix):
    /// the text formatted by the evaluator's template (moee_prompt with training.prompt; "none" wraps it
    /// as "text."), then BOS + prompt [+ EOS with append_eos], the end kept at max_length (the pooled
    /// EOS stays) -- eval/embeddings.h's embedding_token_ids, the function TextEncoder calls.
    std::vector<int> text_ids(const std::string& text) const {
        return embedding_token_ids(*lm.tokenizer, moee_prompt(text, s.prompt, ""), s.append_eos, s.max_length);
    }
    /// Pooled, L2-normalised embeddings [N, D] float32 of token-id lists, in the given order. The texts
    /// run in up to 4 left-padded batches of similar lengths (length_groups), not one batch padded to
    /// the longest text (a group costs a pass's per-op overhead, counted as 128 tokens): each row's
    /// arithmetic is its own, so only the padding computed changes.
    at::Tensor embed(const LlamaModel& m, const std::vector<const std::vector<int>*>& texts, const ForwardOptions& o) const {
        std::vector<int64_t> lens;
        for (const auto* t : texts) lens.push_back(static_cast<int64_t>(t->size()));
        const std::vector<std::vector<int64_t>> groups = length_groups(lens, 4, 128);
        if (groups.size() == 1) return embed_batch(m, texts, o);
        std::vector<at::Tensor> parts;
        std::vector<int64_t> where(texts.size());  // text i -> its row in the groups' concatenation
        int64_t row = 0;
        for (const auto& g : groups) {
            std::vector<const std::vector<int>*> sub;
            for (int64_t i : g) {
                sub.push_back(texts[static_cast<size_t>(i)]);
                where[static_cast<size_t>(i)] = row++;
            }
            parts.push_back(embed_batch(m, sub, o));
        }
        at::Tensor e = at::cat(parts);  // [N, D], grouped order
        return e.index_select(0, at::tensor(where, at::kLong).to(e.device()));
    }
    /// embed() of one left-padded batch.
    at::Tensor embed_batch(const LlamaModel& m, const std::vector<const std::vector<int>*>& texts,
                           const ForwardOptions& o) const {
        int64_t T = 1;
        for (const auto* t : texts) T = std::max<int64_t>(T, static_cast<int64_t>(t->size()));
        const int64_t N = static_cast<int64_t>(texts.size());
        at::Tensor x = at::zeros({N, T}, at::kLong), mask = at::zeros({N, T}, at::kLong);  // left-padded [N, T]
        auto px = x.accessor<int64_t, 2>();
        auto pm = mask.accessor<int64_t, 2>();
        for (int64_t r = 0; r < N; ++r) {
            const auto& t = *texts[static_cast<size_t>(r)];
            const int64_t off = T - static_cast<int64_t>(t.size());
            for (size_t k = 0; k < t.size(); ++k) {
                px[r][off + static_cast<int64_t>(k)] = t[k];
                pm[r][off + static_cast<int64_t>(k)] = 1;
            }
        }
        const at::Device dev = m.named_tensors().at(names::embed_tokens()).device();
        at::Tensor h = m.hidden_states(x.to(dev), mask.to(dev), o);  // [N, T, D]
        return pool_embeddings(h, mask.to(dev), s.pooling);           // [N, D]
    }
    /// The embedding loss of pairs `idx` (infonce: each query against every positive and hard negative
    /// of these pairs; cosmse: cos(query, positive) against the label).
    at::Tensor pair_loss(const std::vector<int64_t>& idx, int64_t* tokens) const {
        std::vector<const std::vector<int>*> q, c;
        std::vector<double> labels;
        for (int64_t i : idx) q.push_back(&pair_ids[static_cast<size_t>(i)][0]);
        for (int64_t i : idx) c.push_back(&pair_ids[static_cast<size_t>(i)][1]);  // positives first: row b = pair b
        if (s.loss == "infonce") {
            for (int64_t i : idx)
                for (size_t k = 2; k < pair_ids[static_cast<size_t>(i)].size(); ++k) c.push_back(&pair_ids[static_cast<size_t>(i)][k]);
        }
        const std::vector<int64_t> rows0 = distill_rows({idx}, s.loss == "infonce");  // e₀ rows, the same order
        if (tokens) {
            for (const auto* t : q) *tokens += static_cast<int64_t>(t->size());
            for (const auto* t : c) *tokens += static_cast<int64_t>(t->size());
        }
        std::vector<const std::vector<int>*> all(q);
        all.insert(all.end(), c.begin(), c.end());
        at::Tensor e = embed(*train_model, all, fo());  // [B + C, D]
        const int64_t B = static_cast<int64_t>(q.size());
        at::Tensor eq = e.narrow(0, 0, B), ec = e.narrow(0, B, e.size(0) - B);  // [B, D], [C, D]
        if (s.loss == "infonce") return with_distill(infonce_loss(eq, ec, at::arange(B, at::kLong), s.tau), e, rows0);
        at::Tensor lab = at::empty({B}, at::kFloat);  // [B]
        for (int64_t b = 0; b < B; ++b) lab[b] = static_cast<float>(pairs[static_cast<size_t>(idx[static_cast<size_t>(b)])].label);
        return with_distill(cosine_mse_loss(eq, ec.narrow(0, 0, B), lab), e, rows0);
    }
    /// The start-embedding rows of the texts of the pairs in `shares` (one process's order: every
    /// share's queries, then positives, then with `negatives` the hard negatives; empty without distill).
    std::vector<int64_t> distill_rows(const std::vector<std::vector<int64_t>>& shares, bool negatives) const {
        std::vector<int64_t> r;
        if (s.distill == "none") return r;
        for (size_t k = 0; k < 2; ++k)
            for (const auto& sh : shares)
                for (int64_t i : sh) r.push_back(start_row[static_cast<size_t>(i)][k]);
        if (negatives)
            for (const auto& sh : shares)
                for (int64_t i : sh)
                    for (size_t k = 2; k < start_row[static_cast<size_t>(i)].size(); ++k) r.push_back(start_row[static_cast<size_t>(i)][k]);
        return r;
    }
    /// loss + distill_weight · the distillation term (training.distill) of embeddings e [N, D] whose
    /// start embeddings are start_emb's rows `rows0`.
    at::Tensor with_distill(const at::Tensor& loss, const at::Tensor& e, const std::vector<int64_t>& rows0) const {
        if (s.distill == "none") return loss;
        at::Tensor e0 = start_emb.index_select(0, at::tensor(rows0, at::kLong)).to(e.device());  // [N, D]
        return loss + s.distill_weight * distill_loss(e, e0, s.distill);
    }
    /// InfoNCE over one process's micro-batch spread over the ranks (ms-swift's INFONCE_USE_BATCH,
    /// DEN2MOEE.md §3.2): `share[r]` = rank r's pairs. Every rank embeds its own pairs, all-gathers
    /// the others' embeddings (detached) and computes the loss of ALL anchors against ALL positives
    /// and hard negatives, in one process's order (queries; positives; negatives), only its own rows
    /// differentiable. Summed over the ranks these gradients are the one-process gradient of the
    /// whole micro-batch (each embedding's terms are differentiated on exactly one rank).
    at::Tensor gathered_infonce(const std::vector<std::vector<int64_t>>& share, int64_t* tokens) const {
        const int W = comm->world_size(), R = comm->rank();
        std::vector<int64_t> nq(static_cast<size_t>(W)), nn(static_cast<size_t>(W)), rows(static_cast<size_t>(W));
        for (int r = 0; r < W; ++r) {
            const auto& sh = share[static_cast<size_t>(r)];
            nq[static_cast<size_t>(r)] = static_cast<int64_t>(sh.size());
            for (int64_t i : sh) nn[static_cast<size_t>(r)] += static_cast<int64_t>(pair_ids[static_cast<size_t>(i)].size()) - 2;
            rows[static_cast<size_t>(r)] = 2 * nq[static_cast<size_t>(r)] + nn[static_cast<size_t>(r)];
        }
        // [rows[R], D] on the head's device (head is [V, D]; no lookup into named_tensors()' temporary map)
        at::Tensor mine = at::empty({0, head.size(1)}, head.options().dtype(at::kFloat));
        if (nq[static_cast<size_t>(R)] > 0) {
            std::vector<const std::vector<int>*> all;
            const auto& sh = share[static_cast<size_t>(R)];
            for (int64_t i : sh) all.push_back(&pair_ids[static_cast<size_t>(i)][0]);
            for (int64_t i : sh) all.push_back(&pair_ids[static_cast<size_t>(i)][1]);
            for (int64_t i : sh)
                for (size_t k = 2; k < pair_ids[static_cast<size_t>(i)].size(); ++k) all.push_back(&pair_ids[static_cast<size_t>(i)][k]);
            if (tokens)
                for (const auto* t : all) *tokens += static_cast<int64_t>(t->size());
            mine = embed(*train_model, all, fo());  // [2·nq + nn, D]
        }
        std::vector<at::Tensor> got = comm->all_gather_rows(mine.detach().to(at::kCPU).contiguous(), rows);
        got[static_cast<size_t>(R)] = mine;
        std::vector<at::Tensor> q, p, n;
        for (int r = 0; r < W; ++r) {
            const size_t u = static_cast<size_t>(r);
            at::Tensor e = r == R ? got[u] : got[u].to(mine.device());
            q.push_back(e.narrow(0, 0, nq[u]));
            p.push_back(e.narrow(0, nq[u], nq[u]));
            n.push_back(e.narrow(0, 2 * nq[u], nn[u]));
        }
        at::Tensor anchors = at::cat(q);                            // [B, D]
        std::vector<at::Tensor> c(p);
        c.insert(c.end(), n.begin(), n.end());
        at::Tensor candidates = at::cat(c);                         // [B + N, D]
        at::Tensor l = infonce_loss(anchors, candidates, at::arange(anchors.size(0), at::kLong), s.tau);
        // distill over all ranks' texts in one process's order (queries; positives; negatives), only
        // this rank's rows differentiable: summed over the ranks, the one-process gradient
        if (s.distill == "none") return l;
        std::vector<at::Tensor> qp(q);
        qp.insert(qp.end(), c.begin(), c.end());
        return with_distill(l, at::cat(qp), distill_rows(share, true));
    }
    /// Mean next-token loss of ids [B, T] through `m`'s Train mode: ChunkedLmLoss unless the head
    /// itself trains (then the full logits, so it gets its gradient).
    at::Tensor lm_loss(const LlamaModel& m, const at::Tensor& ids) const {
        const int64_t T = ids.size(1);
        at::Tensor h = m.hidden_states(ids, {}, fo());                        // [B, T, D]
        at::Tensor hs = h.narrow(1, 0, T - 1).reshape({-1, h.size(-1)});      // [B·(T−1), D]
        at::Tensor tgt = ids.narrow(1, 1, T - 1).reshape({-1}).to(h.device());
        if (head.requires_grad()) return at::cross_entropy_loss(gemm::linear(hs, head).to(at::kFloat), tgt);
        if (!hs.requires_grad()) return chunked_lm_loss(hs, head, tgt, nullptr);
        return ChunkedLmLoss::apply(hs, head, tgt);
    }
};

// ---------------------------------------------------------------------------------------------

Trainer::Trainer(const Project& project, const std::string& model_dir, const TrainSettings& s, RunContext& ctx)
    : impl_(std::make_unique<Impl>()) {
    Impl& I = *impl_;
    validate_train_settings(s);
    I.comm = &dist::world();
    validate_data_parallel(s, I.comm->world_size());
    I.project = project;
    I.model_dir = model_dir;
    I.s = s;
    std::error_code ec;
    D2M_CHECK(fs::exists(model_dir, ec), InvalidInput, "model folder ", model_dir, " does not exist");
    I.native = is_moe_native(model_dir);
    D2M_CHECK(I.native || fs::exists(fs::path(model_dir) / "config.json", ec), InvalidInput, "train: ", model_dir,
              " is neither a converted model folder (moe_config.json) nor a Hugging Face folder (config.json)",
              Hint{"train a folder written by `den2moe convert` (or a previous `den2moe train`), or a dense HF model"});
    at::Device device(at::kCPU);
    try {
        device = at::Device(s.device);
    } catch (const std::exception&) {
        D2M_FAIL(InvalidInput, "training.device '", s.device, "' is not a device", Hint{"cpu, cuda or cuda:N"});
    }
    D2M_CHECK(device.is_cpu() || (device.is_cuda() && at::hasCUDA()), InvalidInput, "training.device '", s.device,
              "' is not available: this libtorch ", at::hasCUDA() ? "has no such device" : "was built without CUDA");
    I.compute = s.dtype == "bf16" ? at::kBFloat16
                : s.dtype == "fp32" ? at::kFloat
                                    : (!device.is_cpu() || cpu_bf16_matmul_is_fast() ? at::kBFloat16 : at::kFloat);
    I.lm = load_model(model_dir, I.compute == at::kBFloat16 ? ComputeDType::BF16 : ComputeDType::F32);
    D2M_CHECK(I.native || I.lm.format == "hf", InvalidInput, "train: ", model_dir, " is a '", I.lm.format,
              "' checkpoint; training reads converted folders and plain Hugging Face Llama folders");
    std::shared_ptr<LlamaModel> base = I.lm.model;
    const int L = static_cast<int>(base->config().n_layer);

    // the source's own tensors (masters start from their stored precision; frozen ones are saved as they are)
    if (I.native) {
        SafetensorsReader r = SafetensorsReader::open((fs::path(model_dir) / "model.safetensors").string());
        for (const auto& n : r.names()) I.source[n] = r.get(n);
        I.source_moe_config = read_json_file((fs::path(model_dir) / "moe_config.json").string());
        const fs::path prov = fs::path(model_dir) / "provenance.json";
        if (fs::exists(prov, ec)) I.source_provenance = read_json_file(prov.string());
        I.source_hash = hash_string(hash_model(model_dir, I.lm.tokenizer_path) + "|" +
                                    hash_file((fs::path(model_dir) / "moe_config.json").string()));
    } else {
        I.source = load_model_files(model_dir).tensors;
        bool bias = false;
        for (const auto& kv : I.source) bias = bias || kv.first.find("down_proj.bias") != std::string::npos;
        I.source_moe_config = {{"format", "den2moe-moe-v1"}, {"recipe", "dense"},     {"num_experts", 0},
                               {"top_k", 0},                  {"expert_bias", bias}, {"base", json::parse(hf_config_to_json(base->config()))}};
        I.source_hash = hash_model(model_dir, I.lm.tokenizer_path);
    }
    for (int il = 0; il < L; ++il) I.is_moe = I.is_moe || base->ffn(il).kind() == "moe";
    I.top_k = I.is_moe ? I.source_moe_config.value("top_k", int64_t{1}) : 0;
    D2M_CHECK(s.stage != "router" || I.is_moe, InvalidInput, "the router stage trains MoE routers, but ", model_dir,
              " holds a dense model (no MoE layer)",
              Hint{"convert it first (den2moe convert ... --recipe dive), or use --stage experts"});

    // FLAP expert biases removed before training (the model then exports exactly)
    if (s.drop_expert_bias) {
        at::NoGradGuard no_grad;
        const at::ScalarType st = base->scalar_type();
        auto strip = [&](const SwiGluFfn& f, const std::string& prefix) {
            if (f.down_bias().defined()) I.dropped.insert(prefix + "down_proj.bias");
            return std::make_shared<SwiGluFfn>(f.gate(), f.up(), f.down(), at::Tensor(), st);
        };
        std::vector<std::shared_ptr<const FeedForward>> ffns;
        for (int il = 0; il < L; ++il) {
            const std::string p = names::layer_prefix(il) + "mlp.";
            const FeedForward& f = base->ffn(il);
            if (auto* moe = dynamic_cast<const MoeFfn*>(&f)) {
                std::vector<std::shared_ptr<const SwiGluFfn>> ex;
                for (int64_t e = 0; e < moe->n_experts(); ++e)
                    ex.push_back(strip(moe->expert(e), p + "experts." + std::to_string(e) + "."));
                std::shared_ptr<const SwiGluFfn> sh;
                if (moe->shared_expert()) sh = strip(*moe->shared_expert(), p + "shared_expert.");
                ffns.push_back(std::make_shared<MoeFfn>(ex, moe->router(), sh, st));
            } else if (auto* d = dynamic_cast<const SwiGluFfn*>(&f)) {
                ffns.push_back(strip(*d, p));
            } else {
                ffns.push_back(base->ffn_ptr(il));
            }
        }
        base = base->with_ffns(std::move(ffns));
        I.notes.push_back(I.dropped.empty() ? "--drop-expert-bias: the model has no expert biases to drop"
                                            : str("dropped ", I.dropped.size(),
                                                  " FLAP expert biases before training (the model exports exactly)"));
    }

    if (!device.is_cpu()) base = base->to(device);  // the Train mode makes its tensors on the weights' device

    // routing: the saved model's (eval) and the stage's (train), over the same tensors
    I.den2moee = s.stage == "den2moee-dense" || s.stage == "den2moee-sparse";
    D2M_CHECK(!I.den2moee || I.is_moe, InvalidInput, "stage ", s.stage, " trains a converted Den2MoEE model, but ",
              model_dir, " holds a dense model", Hint{"den2moe convert MODEL --recipe den2moee ... first"});
    const bool prob_gate = s.router_gate == "probability";
    std::vector<std::shared_ptr<const FeedForward>> eval_ffns, train_ffns;
    for (int il = 0; il < L; ++il) {
        auto* moe = dynamic_cast<const MoeFfn*>(&base->ffn(il));
        if (!moe) {
            eval_ffns.push_back(base->ffn_ptr(il));
            train_ffns.push_back(base->ffn_ptr(il));
            continue;
        }
        RouterSpec ev = moe->router();
        if (prob_gate && ev.gate == RouterSpec::Gate::Softmax) ev.norm_topk = false;
        RouterSpec tr = ev;
        if (s.stage == "router") {
            tr.dense = true;
            tr.temperature = s.temperature;
        }
        if (I.den2moee) {
            D2M_CHECK(ev.gate == RouterSpec::Gate::Den2MoEE, InvalidInput, "stage ", s.stage, " trains a Den2MoEE",
                      " model, but layer ", il, " of ", model_dir, " has another router gate",
                      Hint{"convert with --recipe den2moee first"});
            const int64_t E = moe->n_experts();
            at::Tensor c = ev.select_bias.defined() ? ev.select_bias.to(at::kFloat).cpu().reshape({E}).clone()
                                                    : at::zeros({E}, at::kFloat);
            I.centering.push_back(c);
            I.budget_bias.push_back(at::zeros({E}, at::kFloat));
            I.sel_bias.push_back(c.clone().to(device));  // the tensor both routers read (aliased, float32 [E])
            I.counts.push_back(at::zeros({E}, at::kDouble));
            std::vector<double> bs;
            try {
                bs = I.source_moe_config.at("den2moee").at("layers").at(static_cast<size_t>(il)).at("budget_score")
                         .get<std::vector<double>>();
            } catch (const std::exception&) {
                bs.clear();
            }
            if (static_cast<int64_t>(bs.size()) != E) bs.assign(static_cast<size_t>(E), 1.0 / static_cast<double>(E));
            I.budget_score.push_back(at::tensor(bs, at::kDouble).to(at::kFloat));
            I.moe_layers.push_back(il);
            I.alpha_init = ev.prior_scale;
            ev.select_bias = tr.select_bias = I.sel_bias.back();
            if (s.stage == "den2moee-dense") {
                tr.dense = true;
                tr.prior_scale = den2moee_alpha(1, s.alpha_warmup, I.alpha_init);
            } else {
                D2M_CHECK(s.sparse_top_k <= E + tr.n_null(), InvalidInput, "training.sparse_top_k ", s.sparse_top_k,
                          " exceeds the ", E + tr.n_null(), " routed + null experts of layer ", il);
                tr.dense = false;
                tr.top_k = s.sparse_top_k;
                tr.prior_scale = 1.0;
            }
            ev = tr;  // held-out evaluation with the routing the saved model will have
            I.alpha_now = tr.prior_scale;
        }
        eval_ffns.push_back(moe->with_router(ev));
        train_ffns.push_back(moe->with_router(tr));
    }
    I.eval_model = base->with_ffns(eval_ffns);
    I.train_model = base->with_ffns(train_ffns);
    if (I.den2moee) {
        // routed-selection counts of each MoE layer over the step's real tokens, from the router logits
        // the forward computed: the selection rule of DEN2MOEE.md §1.3 (p + [bias ; 0], top-k)
        std::vector<int64_t> slot(static_cast<size_t>(L), -1);
        for (size_t m = 0; m < I.moe_layers.size(); ++m) slot[static_cast<size_t>(I.moe_layers[m])] = static_cast<int64_t>(m);
        Impl* ip = &I;
        I.count_obs.add(site::kRouterLogits, [ip, slot](const HookEvent& e) {
            if (e.layer < 0 || slot[static_cast<size_t>(e.layer)] < 0) return;
            at::NoGradGuard ng;
            const size_t m = static_cast<size_t>(slot[static_cast<size_t>(e.layer)]);
            const int64_t E = ip->sel_bias[m].numel();
            at::Tensor z = e.tensor.detach().to(at::kFloat).reshape({-1, e.tensor.size(-1)});  // [N, E + n_null]
            at::Tensor p = at::softmax(z, -1);
            at::Tensor b = at::cat({ip->sel_bias[m].to(p.device()), at::zeros({z.size(1) - E}, p.options())});
            at::Tensor sel = std::get<1>((p + b).topk(ip->s.sparse_top_k, -1));  // [N, k]
            at::Tensor keep = e.token_mask.defined() ? e.token_mask.reshape({-1, 1}).to(sel.device()).to(at::kBool)
                                                     : at::ones({z.size(0), 1}, sel.options().dtype(at::kBool));
            at::Tensor routed = sel.lt(E).logical_and(keep);  // [N, k]
            at::Tensor cnt = at::zeros({E + 1}, at::kDouble).to(sel.device());
            cnt.index_add_(0, sel.masked_fill(routed.logical_not(), E).reshape({-1}),
                           at::ones({sel.numel()}, cnt.options()));
            ip->counts[m] += cnt.narrow(0, 0, E).cpu();
            if (m == 0) ip->count_tokens += keep.sum().item<int64_t>();
        });
    }
    I.eval_model->source = I.train_model->source = model_dir;

    // data
    I.corpus = std::make_unique<TrainCorpus>(load_train_corpus(project, *I.lm.tokenizer, s, ctx));
    std::vector<int64_t> nw;
    for (const auto& d : I.corpus->domains) nw.push_back(d.train.size(0));
    I.order = std::make_unique<WindowOrder>(nw, I.corpus->weights, static_cast<uint64_t>(s.seed));
    if (s.loss != "lm") {
        // a path as given (absolute, or relative to the working directory), else relative to the project
        auto locate_file = [&](const std::string& p) {
            std::error_code e;
            return fs::exists(p, e) ? p : resolve_project_path(project, p);
        };
        const std::string pairs_path = locate_file(s.pairs);
        D2M_CHECK(!s.append_eos || I.lm.tokenizer->eos_id() >= 0, InvalidInput, "training.append_eos ends every text",
                  " with the tokenizer's EOS, but the tokenizer of ", model_dir, " defines none",
                  Hint{"set eos_token in its tokenizer_config.json, or leave out --append-eos"});
        I.pairs = read_pairs(pairs_path);
        for (const auto& p : I.pairs) {
            std::vector<std::vector<int>> v{I.text_ids(p.query), I.text_ids(p.positive)};
            for (const auto& n : p.negatives) v.push_back(I.text_ids(n));
            I.pair_ids.push_back(std::move(v));
        }
        const int64_t n_pairs = static_cast<int64_t>(I.pairs.size());
        D2M_CHECK(n_pairs >= s.batch, InvalidInput, "the pairs file ", pairs_path, " holds ", n_pairs,
                  " pairs, fewer than one batch of ", s.batch, Hint{"lower --batch or supply more pairs"});
        // the checkpoint's data check covers the pairs (and the teacher's labels through the settings)
        I.corpus->data_hash = hash_string(I.corpus->data_hash + "|pairs:" + hash_file(pairs_path));
        I.order = std::make_unique<WindowOrder>(std::vector<int64_t>{n_pairs}, std::vector<double>{},
                                                static_cast<uint64_t>(s.seed));
        if (s.loss == "cosmse" && !s.teacher.empty()) {
            // the teacher's cosine of each pair is its label (DEN2MOEE.md §3.1: distillation to the dense model)
            const std::string tdir = locate_file(s.teacher);
            LoadedModel teacher = load_model(tdir, ComputeDType::F32);
            at::NoGradGuard no_grad;
            ForwardOptions o;  // Infer
            for (int64_t b0 = 0; b0 < n_pairs; b0 += 32) {
                ctx.check_cancelled();
                const int64_t b1 = std::min(n_pairs, b0 + 32);
                std::vector<const std::vector<int>*> t;
                for (int64_t i = b0; i < b1; ++i) t.push_back(&I.pair_ids[static_cast<size_t>(i)][0]);
                for (int64_t i = b0; i < b1; ++i) t.push_back(&I.pair_ids[static_cast<size_t>(i)][1]);
                at::Tensor e = I.embed(*teacher.model, t, o);  // [2n, D]
                at::Tensor cos = (e.narrow(0, 0, b1 - b0) * e.narrow(0, b1 - b0, b1 - b0)).sum(-1);  // unit norm
                for (int64_t i = b0; i < b1; ++i) I.pairs[static_cast<size_t>(i)].label = cos[i - b0].item<double>();
            }
            I.notes.push_back(str("cosmse: the labels are the cosines of teacher ", tdir, " (", s.pooling,
                                  " pooling), computed once before training"));
        }
        if (s.distill != "none") {
            // the start model's embedding of every pair text, before any update (and before LoRA, whose
            // B = 0 would not change it): what the distillation term keeps
            at::NoGradGuard no_grad;
            ForwardOptions o;  // Infer
            std::vector<const std::vector<int>*> all;
            for (const auto& v : I.pair_ids) {
                std::vector<int64_t> rows;
                for (const auto& t : v) {
                    rows.push_back(static_cast<int64_t>(all.size()));
                    all.push_back(&t);
                }
                I.start_row.push_back(std::move(rows));
            }
            std::vector<at::Tensor> parts;
            for (size_t b0 = 0; b0 < all.size(); b0 += 64) {
                ctx.check_cancelled();
                std::vector<const std::vector<int>*> t(all.begin() + static_cast<std::ptrdiff_t>(b0),
                                                       all.begin() + static_cast<std::ptrdiff_t>(std::min(all.size(), b0 + 64)));
                parts.push_back(I.embed(*I.train_model, t, o).to(at::kCPU));  // [n, D]
            }
            I.start_emb = at::cat(parts);  // [texts, D]
            I.notes.push_back(str("distill ", s.distill, " (weight ", format_real(s.distill_weight), "): the start",
                                  " model's embeddings of the ", all.size(), " pair texts, computed once before training"));
        }
        if (s.loss == "cosmse" && s.teacher.empty()) {
            for (size_t i = 0; i < I.pairs.size(); ++i)
                D2M_CHECK(I.pairs[i].has_label(), InvalidInput, "loss cosmse needs a label on every pair, but pair ",
                          i + 1, " of ", pairs_path, " has none",
                          Hint{"add \"label\" to each line, or give --teacher MODEL (its cosines become the labels)"});
        }
    }

    // parameters
    const std::map<std::string, at::Tensor> named = I.train_model->named_tensors();
    I.head = named.count(names::lm_head()) ? named.at(names::lm_head()) : named.at(names::embed_tokens());
    const std::vector<std::string> train_globs = split_list(s.trainable), frozen_globs = split_list(s.frozen);
    for (const auto& g : train_globs) {
        bool hit = false;
        for (const auto& kv : named) hit = hit || glob_match(g, kv.first);
        if (!hit) I.notes.push_back("--trainable pattern '" + g + "' matches no tensor of this model");
    }
    std::set<std::string> lora_targets;
    if (s.lora_rank > 0) {
        I.lora = std::make_unique<LoraSet>(s.lora_rank, s.lora_alpha, s.lora_dropout, static_cast<uint64_t>(s.seed));
        std::vector<std::string> suffixes = split_list(s.lora_targets);
        if (s.lora_attention) suffixes.insert(suffixes.end(), {"q_proj", "k_proj", "v_proj", "o_proj"});
        for (const auto& t : I.lora->add_targets(named, suffixes)) lora_targets.insert(t);
        D2M_CHECK(!lora_targets.empty(), InvalidInput, "LoRA targets '", s.lora_targets,
                  "' match no linear layer of this model", Hint{"e.g. --lora-targets gate_proj,up_proj,down_proj"});
    }
    std::map<const void*, size_t> leaf_index;  // a tensor's place in I.leaves (row slices share their base)
    auto add_leaf = [&](const at::Tensor& t) -> size_t {
        const auto ins = leaf_index.emplace(t.unsafeGetTensorImpl(), I.leaves.size());
        if (ins.second) {
            t.requires_grad_(true);
            I.leaves.push_back(t);
        }
        return ins.first->second;
    };
    for (const auto& kv : named) {
        if (!any_glob(train_globs, kv.first) || any_glob(frozen_globs, kv.first)) continue;
        D2M_CHECK(!lora_targets.count(kv.first), InvalidInput, "tensor ", kv.first,
                  " is both trainable (--trainable) and a LoRA target", Hint{"LoRA freezes its base weight"});
        D2M_CHECK(at::isFloatingType(kv.second.scalar_type()), InvalidInput, "tensor ", kv.first, " cannot train");
        Param p;
        locate(kv.first, kv.second, p);
        p.leaf = add_leaf(p.base);
        I.params.push_back(std::move(p));
    }
    if (I.lora) {
        for (auto& kv : I.lora->adapters()) {
            for (int ab = 0; ab < 2; ++ab) {
                Param p;
                p.name = ab == 0 ? LoraSet::a_name(kv.first) : LoraSet::b_name(kv.first);
                p.base = ab == 0 ? kv.second.A : kv.second.B;
                p.leaf = add_leaf(p.base);
                I.params.push_back(std::move(p));
            }
        }
    }
    D2M_CHECK(!I.params.empty(), InvalidInput, "nothing to train: no tensor of ", model_dir, " matches --trainable '",
              s.trainable, "' and LoRA is off");
    I.split_grad.resize(I.leaves.size());
    {
        at::NoGradGuard no_grad;
        for (auto& p : I.params) {
            at::Tensor v = p.value();
            p.aliased = v.scalar_type() == at::kFloat;
            auto src = I.source.find(p.name);
            if (p.aliased) {
                p.master = v;
            } else {
                p.master = (src != I.source.end() ? src->second : v).to(at::kFloat).to(v.device()).clone();
            }
            p.exp_avg = at::zeros_like(p.master);
            p.exp_avg_sq = at::zeros_like(p.master);
        }
    }
    I.adam = AdamWConfig{s.beta1, s.beta2, s.eps, s.weight_decay};
    I.total_steps = s.tokens / (s.seq_len * s.batch * s.grad_accum);
    if (s.loss != "lm") {
        const int64_t G = s.batch * s.grad_accum, n_pairs = static_cast<int64_t>(I.pairs.size());
        I.total_steps = s.steps > 0 ? s.steps : (n_pairs + G - 1) / G;
    }
    I.sched.kind = s.schedule;
    I.sched.lr = s.lr;
    I.sched.warmup_ratio = s.warmup_ratio;
    I.sched.min_lr_ratio = s.min_lr_ratio;
    I.sched.total_steps = I.total_steps;

    // several ranks, grad_sync overlap: every trainable tensor is a slice of a leaf, bucketed in the
    // order the backward pass finishes them: the layers from the last to the first (the head and the
    // final norm before them, the embedding after), the model's order within a layer
    if (I.comm->world_size() > 1 && s.grad_sync == "overlap") {
        std::map<const void*, size_t> leaf_index;
        for (size_t k = 0; k < I.leaves.size(); ++k) leaf_index[I.leaves[k].unsafeGetTensorImpl()] = k;
        std::vector<dist::GradSlice> slices;
        std::vector<int64_t> key;
        for (const auto& p : I.params) {
            dist::GradSlice g;
            g.leaf = leaf_index.at(p.base.unsafeGetTensorImpl());
            g.whole = p.whole;
            g.row0 = p.row0;
            g.rows = p.rows;
            slices.push_back(g);
            key.push_back(backward_rank(p.name, L));
        }
        std::vector<size_t> order(slices.size());
        for (size_t i = 0; i < order.size(); ++i) order[i] = i;
        std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return key[a] > key[b]; });
        I.reducer = std::make_unique<dist::Reducer>(*I.comm, I.leaves, std::move(slices), order,
                                                    static_cast<int64_t>(s.bucket_mb * 1048576.0));
    }

    // what a user should know
    int64_t n_train = 0;
    for (const auto& p : I.params) n_train += p.value().numel();
    I.notes.push_back(str("stage ", s.stage, ": ", I.params.size(), " trainable tensors, ", n_train, " parameters",
                          I.lora ? str(" (LoRA r ", s.lora_rank, " on ", lora_targets.size(), " layers)") : std::string(),
                          "; compute ", I.compute == at::kBFloat16 ? "bf16 with fp32 master weights" : "fp32"));
    if (s.loss != "lm") {
        I.notes.push_back(str("loss ", s.loss, " on ", I.pairs.size(), " pairs of ", s.pairs, ", ", s.pooling,
                              "-token pooling, texts formatted by eval's '", s.prompt, "' template",
                              s.append_eos ? " (EOS appended to every text)" : "", ", L2-normalised",
                              s.loss == "infonce" ? str(", tau ", format_real(s.tau), ", in-batch + hard negatives") : "",
                              "; ", I.total_steps, " steps of ", s.batch * s.grad_accum, " pairs; held-out = LM loss"));
        const json& src_emb = I.source_moe_config.is_object() ? I.source_moe_config.value("embedding", json::object())
                                                               : json::object();
        if (src_emb.is_object() && src_emb.contains("append_eos") && src_emb["append_eos"].is_boolean() &&
            src_emb["append_eos"].get<bool>() != s.append_eos)
            I.notes.push_back(str("the source model was trained ", s.append_eos ? "without" : "with",
                                  " EOS appended to its texts; this stage ", s.append_eos ? "appends" : "does not append",
                                  " it (--append-eos)"));
    }
    if (s.loss == "lm") {
        const int K = I.workers_for(s.batch);
        if (K > 1) {
            I.notes.push_back(str("each micro-batch of ", s.batch, " windows is split among ", K,
                                  " worker threads (own forward + backward, single-threaded ops; gradients summed in ",
                                  "worker order)"));
        } else if (s.split_workers > 1) {
            I.notes.push_back(str("--split-workers ", s.split_workers, " has no effect here (",
                                  I.reducer ? "grad_sync overlap hooks the leaves' accumulation"
                                  : I.den2moee ? "Den2MoEE counts routed selections in the forward pass"
                                  : s.batch < 2 ? "one window per micro-batch" : "not on the CPU",
                                  "): one pass per micro-batch"));
        }
    }
    if (I.den2moee && s.stage == "den2moee-dense") {
        I.notes.push_back(str("den2moee-dense: every expert on every token; prior scale alpha ramps ",
                              format_real(I.alpha_init), " -> 0.3 -> 0.6 -> 1.0 over ", s.alpha_warmup,
                              " steps (counted in optimizer steps, the release counts forwards)"));
    } else if (I.den2moee) {
        I.notes.push_back(str("den2moee-sparse: top-", s.sparse_top_k, " over routed + null, alpha 1, budget bias eta ",
                              format_real(s.budget_lr), " once per optimizer step (T_all = ", s.budget_t_all, ")"));
    }
    if (s.stage == "router") {
        I.notes.push_back(str("router stage: every expert runs on every token (softmax over all experts, temperature ",
                              format_real(s.temperature), "); the saved model routes top-", I.top_k, " as before"));
    } else if (I.is_moe && I.top_k == 1 && !prob_gate && any_glob(train_globs, "model.layers.0.mlp.router.weight")) {
        I.notes.push_back("top-1 routing: DIVE's gate is the softmax over the one selected logit, identically 1, so "
                          "the routers receive no gradient in this stage (with weight decay 0 they stay unchanged); "
                          "--router-gate probability trains them");
    }
    bool has_bias = false;
    for (const auto& kv : named) has_bias = has_bias || kv.first.find("down_proj.bias") != std::string::npos;
    if (has_bias) {
        I.notes.push_back("the experts keep their FLAP biases (frozen, as LoRA bias=\"none\"); a Mixtral/Qwen2-MoE "
                          "export drops them: --drop-expert-bias removes them before training instead");
    }
}

Trainer::~Trainer() {
    if (!impl_) return;
    impl_->reducer.reset();  // its hooks off the leaves first
    for (auto& t : impl_->leaves) {  // the model's tensors are plain again (they may outlive the trainer)
        t.mutable_grad().reset();
        t.requires_grad_(false);
    }
}

const TrainSettings& Trainer::settings() const { return impl_->s; }
int64_t Trainer::total_steps() const { return impl_->total_steps; }
int64_t Trainer::step() const { return impl_->step; }
int64_t Trainer::tokens_per_step() const { return impl_->s.seq_len * impl_->s.batch * impl_->s.grad_accum; }
std::vector<std::string> Trainer::notes() const { return impl_->notes; }
std::string Trainer::source_hash() const { return impl_->source_hash; }
const TrainCorpus& Trainer::corpus() const { return *impl_->corpus; }
double Trainer::last_lr() const { return impl_->last_lr; }
double Trainer::last_grad_norm() const { return impl_->last_norm; }
const LlamaModel& Trainer::model() const { return *impl_->train_model; }
LoraSet* Trainer::lora() { return impl_->lora.get(); }

void Trainer::zero_grad() {
    for (auto& t : impl_->leaves) t.mutable_grad().reset();
    for (auto& a : impl_->split_grad) a.reset();
}

double Trainer::accumulate(const at::Tensor& ids, double weight) {
    Impl& I = *impl_;
    const int K = I.workers_for(ids.size(0));
    if (K > 1) return I.accumulate_split(ids, 0, weight, K);
    at::Tensor loss = I.lm_loss(*I.train_model, ids);  // mean over the B·(T−1) predictions
    const double value = loss.item<double>();
    (weight == 1.0 ? loss : loss * weight).backward();
    return value;
}

double Trainer::accumulate_pairs(const std::vector<int64_t>& pairs, double weight) {
    Impl& I = *impl_;
    D2M_CHECK(I.s.loss != "lm", Internal, "accumulate_pairs needs loss infonce or cosmse");
    at::Tensor loss = I.pair_loss(pairs, &I.step_tokens);
    const double value = loss.item<double>();
    (weight == 1.0 ? loss : loss * weight).backward();
    return value;
}

at::Tensor Trainer::embeddings(const std::vector<std::string>& texts) const {
    const Impl& I = *impl_;
    at::NoGradGuard no_grad;
    std::vector<std::vector<int>> ids;
    for (const auto& t : texts) ids.push_back(I.text_ids(t));
    std::vector<const std::vector<int>*> ptr;
    for (const auto& v : ids) ptr.push_back(&v);
    return I.embed(*I.train_model, ptr, I.fo());
}

const std::vector<std::vector<std::vector<int>>>& Trainer::pair_tokens() const { return impl_->pair_ids; }
const std::vector<TextPair>& Trainer::pairs() const { return impl_->pairs; }
int64_t Trainer::last_step_tokens() const { return impl_->step_tokens; }

std::map<std::string, at::Tensor> Trainer::gradients() const {
    std::map<std::string, at::Tensor> out;
    for (const auto& p : impl_->params) {
        at::Tensor g = impl_->grad_of(p);
        out[p.name] = g.defined() ? g.clone() : at::zeros(p.value().sizes(), at::kFloat);
    }
    return out;
}

std::map<std::string, at::Tensor> Trainer::parameters() const {
    // values, not part of any graph: a master that is a row slice of a fused leaf is a view made in
    // no-grad mode and updated in place, which autograd refuses to clone with grad mode on
    at::NoGradGuard no_grad;
    std::map<std::string, at::Tensor> out;
    for (const auto& p : impl_->params) out[p.name] = p.master.clone();
    return out;
}

namespace {
uint64_t mix64(uint64_t x) {  // SplitMix64 finaliser
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}
}  // namespace

uint64_t Trainer::Impl::dropout_seed(int64_t first) const {
    return mix64(mix64(static_cast<uint64_t>(s.seed)) ^
                 mix64(static_cast<uint64_t>(step) * 0x100000001b3ull + static_cast<uint64_t>(first)));
}

double Trainer::Impl::accumulate_split(const at::Tensor& ids, int64_t first, double weight, int K) {
    const int64_t nb = ids.size(0);
    std::vector<std::vector<at::Tensor>> g(static_cast<size_t>(K));
    std::vector<double> value(static_cast<size_t>(K));
    at::parallel_for(0, K, 1, [&](int64_t k0, int64_t k1) {
        for (int64_t k = k0; k < k1; ++k) {
            const int64_t r0 = nb * k / K, r1 = nb * (k + 1) / K;
            std::unique_ptr<LoraSet::ThreadDropout> stream;
            if (lora) stream = std::make_unique<LoraSet::ThreadDropout>(dropout_seed(first + r0));
            at::Tensor l = lm_loss(*train_model, ids.narrow(0, r0, r1 - r0));  // mean over its (r1−r0)·(T−1)
            value[static_cast<size_t>(k)] = l.item<double>();
            const double share = weight * static_cast<double>(r1 - r0) / static_cast<double>(nb);
            g[static_cast<size_t>(k)] = torch::autograd::grad({share == 1.0 ? l : l * share}, leaves, {},
                                                              /*retain_graph=*/false, /*create_graph=*/false,
                                                              /*allow_unused=*/true);
        }
    });
    at::NoGradGuard no_grad;
    double loss = 0;
    for (int k = 0; k < K; ++k) {  // worker order: the same sums whatever thread finished first
        const int64_t r0 = nb * k / K, r1 = nb * (k + 1) / K;
        loss += value[static_cast<size_t>(k)] * static_cast<double>(r1 - r0) / static_cast<double>(nb);
        for (size_t i = 0; i < leaves.size(); ++i) {
            const at::Tensor& gi = g[static_cast<size_t>(k)][i];
            if (!gi.defined()) continue;
            at::Tensor& a = split_grad[i];
            if (!a.defined()) {
                a = gi.to(at::kFloat).contiguous().clone();
            } else {
                a.add_(gi.to(at::kFloat));
            }
        }
    }
    ++split_microbatches;
    split_max_workers = std::max<int64_t>(split_max_workers, K);
    return loss;
}

double Trainer::train_step() {
    Impl& I = *impl_;
    const TrainSettings& s = I.s;
    dist::Communicator& comm = *I.comm;
    const int W = comm.world_size(), R = comm.rank();
    zero_grad();
    // The step's G = batch x grad_accum windows are the next G of the global order on every rank;
    // rank R takes the contiguous share [G·R/W, G·(R+1)/W) in micro-batches of at most `batch`, each
    // weighted by its share of G, so the summed gradient is the mean over all G windows whatever W
    // is (one rank: grad_accum micro-batches weighted 1/grad_accum, as before).
    const int64_t G = s.batch * s.grad_accum;
    std::vector<std::pair<int64_t, int64_t>> draws(static_cast<size_t>(G));
    for (auto& d : draws) d = I.order->next();
    const int64_t lo = G * R / W, hi = G * (R + 1) / W;
    double loss = 0;
    I.step_tokens = 0;
    if (I.den2moee && s.stage == "den2moee-dense") I.set_alpha(den2moee_alpha(I.step + 1, s.alpha_warmup, I.alpha_init));
    for (auto& c : I.counts) c.zero_();  // the step's own selections only (not an evaluation's)
    I.count_tokens = 0;
    // InfoNCE on several ranks: the G windows in one process's micro-batches, each spread over the
    // ranks in contiguous shares and its loss taken over all ranks' gathered embeddings (gathered_infonce)
    const bool gathered = s.loss == "infonce" && W > 1;
    if (gathered) {
        for (int64_t m0 = 0; m0 < G; m0 += s.batch) {
            const int64_t nb = std::min(s.batch, G - m0);
            std::vector<std::vector<int64_t>> share(static_cast<size_t>(W));
            for (int r = 0; r < W; ++r)
                for (int64_t k = m0 + nb * r / W; k < m0 + nb * (r + 1) / W; ++k)
                    share[static_cast<size_t>(r)].push_back(draws[static_cast<size_t>(k)].second);
            if (I.lora) {
                I.lora->reseed_dropout(I.dropout_seed(m0 + nb * R / W));
            }
            const double w = static_cast<double>(nb) / static_cast<double>(G);
            at::Tensor l = I.gathered_infonce(share, &I.step_tokens);
            if (I.reducer && m0 + s.batch >= G) I.reducer->arm();  // the step's last backward (none: finish fills)
            if (l.requires_grad()) (w == 1.0 ? l : l * w).backward();  // a rank with no pairs here has nothing to differentiate
            if (R == 0) loss += l.item<double>() * w;  // every rank holds the same value: counted once in the all-reduce
        }
    }
    for (int64_t b0 = lo; b0 < hi && !gathered; b0 += s.batch) {
        const int64_t nb = std::min(s.batch, hi - b0);
        // the micro-batch's dropout masks are a pure function of (seed, step, its first window), not of
        // the rank: W ranks draw the masks one process draws (when the micro-batches coincide), and a
        // resume with another world size continues the same sequence
        if (I.lora) I.lora->reseed_dropout(I.dropout_seed(b0));
        std::vector<at::Tensor> rows;
        const double w = static_cast<double>(nb) / static_cast<double>(G);
        if (I.reducer && b0 + s.batch >= hi) I.reducer->arm();  // this rank's last backward of the step
        if (s.loss != "lm") {
            // one rank (infonce: in-batch negatives are the micro-batch's pairs), or cosmse (no negatives)
            std::vector<int64_t> idx;
            for (int64_t k = b0; k < b0 + nb; ++k) idx.push_back(draws[static_cast<size_t>(k)].second);
            loss += accumulate_pairs(idx, w) * w;
            continue;
        }
        rows.clear();
        for (int64_t k = b0; k < b0 + nb; ++k) {
            const auto& dw = draws[static_cast<size_t>(k)];
            rows.push_back(I.corpus->domains[static_cast<size_t>(dw.first)].train[dw.second]);
        }
        const int K = I.workers_for(nb);
        if (K > 1) {
            loss += I.accumulate_split(at::stack(rows), b0, w, K) * w;  // ids [nb, seq_len]
        } else {
            loss += accumulate(at::stack(rows), w) * w;  // (one worker: the dropout stream reseeded above)
        }
        I.step_tokens += nb * s.seq_len;
    }
    std::vector<Param*> with_grad;
    std::vector<at::Tensor> grads;
    if (I.reducer) {
        // overlapped: the buckets the hooks started are in flight; the rest, the has-gradient flags,
        // the loss and the token count go now, and every bucket is waited for before clipping
        dist::Reducer::Result r = I.reducer->finish({loss, static_cast<double>(I.step_tokens)});
        loss = r.extras[0];
        I.step_tokens = static_cast<int64_t>(r.extras[1]);
        const at::Device dev = I.params.empty() ? at::Device(at::kCPU) : I.params[0].master.device();
        for (size_t i = 0; i < I.params.size(); ++i) {
            if (!r.has_grad[i]) continue;
            with_grad.push_back(&I.params[i]);
            grads.push_back(r.grads[i].to(dev));
        }
    } else if (W == 1) {
        for (auto& p : I.params) {
            at::Tensor g = I.grad_of(p);
            if (!g.defined()) continue;  // as torch's optimizers: a tensor without a gradient is not updated
            with_grad.push_back(&p);
            grads.push_back(g);
        }
    } else {
        // every rank sends every tensor (zeros where its share gave none) with a has-gradient flag:
        // a tensor is updated when any rank's share reached it, as in one process
        const size_t P = I.params.size();
        std::vector<at::Tensor> all;
        at::Tensor flags = at::zeros({static_cast<int64_t>(P)}, at::kFloat);  // [P]
        for (size_t i = 0; i < P; ++i) {
            at::Tensor g = I.grad_of(I.params[i]);
            if (g.defined()) {
                all.push_back(g.cpu().contiguous().clone());
                flags[static_cast<int64_t>(i)] = 1.0f;
            } else {
                all.push_back(at::zeros(I.params[i].value().sizes(), at::kFloat));
            }
        }
        all.push_back(flags);
        all.push_back(at::full({1}, loss, at::kDouble));
        all.push_back(at::full({1}, static_cast<double>(I.step_tokens), at::kDouble));
        comm.all_reduce_sum(all);
        loss = all[P + 1].item<double>();
        I.step_tokens = static_cast<int64_t>(all[P + 2].item<double>());
        const at::Device dev = I.params.empty() ? at::Device(at::kCPU) : I.params[0].master.device();
        for (size_t i = 0; i < P; ++i) {
            if (all[P][static_cast<int64_t>(i)].item<float>() == 0.0f) continue;
            with_grad.push_back(&I.params[i]);
            grads.push_back(all[i].to(dev));
        }
    }
    const double norm = clip_grad_norm(grads, s.clip);
    if (!std::isfinite(loss) || !std::isfinite(norm)) {
        std::string first = "none of the gradients (the loss itself)";
        for (size_t i = 0; i < grads.size(); ++i) {
            if (!at::isfinite(grads[i]).all().item<bool>()) {
                first = "the gradient of " + with_grad[i]->name;
                break;
            }
        }
        D2M_FAIL(InvalidInput, "training diverged at step ", I.step + 1, ": the loss is ", loss,
                 " and the first non-finite tensor is ", first,
                 Hint{"lower --lr, use --dtype fp32, or resume from the last checkpoint with other settings"});
    }
    const double lr = I.sched.at(I.step);
    {
        at::NoGradGuard no_grad;
        for (size_t i = 0; i < with_grad.size(); ++i) {
            Param& p = *with_grad[i];
            ++p.t;
            adamw_update(p.master, grads[i], p.exp_avg, p.exp_avg_sq, p.t, lr, I.adam);
            if (!p.aliased) p.value().copy_(p.master);
        }
    }
    if (I.den2moee && s.stage == "den2moee-sparse" && s.budget_lr > 0) I.update_budget(W);
    zero_grad();
    ++I.step;
    I.last_lr = lr;
    I.last_norm = norm;
    return loss;
}

nlohmann::json Trainer::grad_sync_stats() const {
    const Impl& I = *impl_;
    if (I.comm->world_size() == 1) return {{"mode", "single"}};  // (split micro-batches: split_stats)
    if (!I.reducer) return {{"mode", "after-backward"}, {"bucket_mb", I.s.bucket_mb}};
    const dist::ReducerStats& st = I.reducer->stats();
    return {{"mode", "overlap"},
            {"bucket_mb", I.s.bucket_mb},
            {"buckets", st.buckets},
            {"steps", st.steps},
            {"started_in_backward", st.started_in_backward},
            {"started_after_backward", st.started_after}};
}

nlohmann::json Trainer::split_stats() const {
    const Impl& I = *impl_;
    return {{"split_workers", I.s.split_workers},
            {"threads", at::get_num_threads()},
            {"micro_batches_split", I.split_microbatches},
            {"max_workers", I.split_max_workers}};
}

std::string Trainer::replica_fingerprint() const {
    // no autograd: an aliased master is a view of a trained leaf that AdamW updates in place
    // (reading it in grad mode is refused: the embedding stage's LoRA on several ranks)
    at::NoGradGuard no_grad;
    std::string f;
    for (const auto& p : impl_->params) {
        const double v = p.master.to(at::kDouble).sum().item<double>();
        f.append(reinterpret_cast<const char*>(&v), sizeof v);
        f += std::to_string(p.t);
    }
    return hash_string(f);
}

HeldOut Trainer::evaluate() {
    Impl& I = *impl_;
    at::NoGradGuard no_grad;
    if (I.lora) I.lora->set_training(false);
    HeldOut h;
    // batches k of each domain's test windows go to rank k mod W; per-domain sums then all-reduced
    const int W = I.comm->world_size(), R = I.comm->rank();
    const size_t nd = I.corpus->domains.size();
    at::Tensor sums = at::zeros({2 * static_cast<int64_t>(nd)}, at::kDouble);  // [nll_0, n_0, nll_1, n_1, ...]
    double* acc = sums.data_ptr<double>();
    for (size_t di = 0; di < nd; ++di) {
        const TrainDomain& d = I.corpus->domains[di];
        const int64_t nw = d.test.size(0);
        for (int64_t b = 0, k = 0; b < nw; b += I.s.batch, ++k) {
            if (k % W != R) continue;
            at::Tensor ids = d.test.narrow(0, b, std::min(I.s.batch, nw - b));
            const int64_t m = ids.size(0) * (ids.size(1) - 1);  // predictions
            acc[2 * di] += I.lm_loss(*I.eval_model, ids).item<double>() * static_cast<double>(m);
            acc[2 * di + 1] += static_cast<double>(m);
        }
    }
    if (W > 1) {
        std::vector<at::Tensor> v{sums};
        I.comm->all_reduce_sum(v);
        acc = v[0].data_ptr<double>();
    }
    double nll_all = 0;
    int64_t n_all = 0;
    for (size_t di = 0; di < nd; ++di) {
        if (I.corpus->domains[di].test.size(0) == 0) continue;
        const double nll = acc[2 * di];
        const int64_t n = static_cast<int64_t>(acc[2 * di + 1]);
        h.domains.push_back(I.corpus->domains[di].name);
        h.loss.push_back(nll / static_cast<double>(n));
        nll_all += nll;
        n_all += n;
    }
    if (I.lora) I.lora->set_training(true);
    h.mean = n_all ? nll_all / static_cast<double>(n_all) : 0.0;
    return h;
}

at::Tensor Trainer::logits(const at::Tensor& ids) {
    Impl& I = *impl_;
    at::NoGradGuard no_grad;
    if (I.lora) I.lora->set_training(false);
    at::Tensor out = I.eval_model->forward(ids, {}, I.fo());
    if (I.lora) I.lora->set_training(true);
    return out;
}

void Trainer::save_checkpoint(const std::string& path, const json& extra) const {
    const Impl& I = *impl_;
    std::vector<std::pair<std::string, at::Tensor>> t;
    json steps = json::object();
    for (const auto& p : I.params) {
        t.emplace_back("master:" + p.name, p.master.contiguous().cpu());
        t.emplace_back("exp_avg:" + p.name, p.exp_avg.cpu());
        t.emplace_back("exp_avg_sq:" + p.name, p.exp_avg_sq.cpu());
        steps[p.name] = p.t;
    }
    if (I.lora) t.emplace_back("rng:lora_dropout", I.lora->rng_state());
    for (size_t m = 0; m < I.budget_bias.size(); ++m) t.emplace_back("budget_bias:" + std::to_string(m), I.budget_bias[m]);
    json state = {{"format", kCheckpointFormat},
                  {"step", I.step},
                  {"total_steps", I.total_steps},
                  {"cursor", I.order->cursor()},
                  {"param_steps", steps},
                  {"source_model", I.model_dir},
                  {"source_hash", I.source_hash},
                  {"data_hash", I.corpus->data_hash},
                  {"settings", train_schema().to_json(I.s)},
                  {"extra", extra}};
    save_safetensors(path, t, {{"den2moe_train_state", dump_json(state)}});
}

json Trainer::load_checkpoint(const std::string& path) {
    Impl& I = *impl_;
    SafetensorsReader r;
    json state;
    try {
        r = SafetensorsReader::open(path);
        auto it = r.metadata().find("den2moe_train_state");
        D2M_CHECK(it != r.metadata().end(), InvalidInput, "no training state in its metadata");
        state = json::parse(it->second);
        D2M_CHECK(state.value("format", "") == kCheckpointFormat, InvalidInput, "unknown format '",
                  state.value("format", ""), "'");
    } catch (const Error& e) {
        D2M_FAIL(InvalidInput, "checkpoint ", path, " cannot be read: ", e.message(),
                 Hint{"the file is damaged or truncated; delete it to start over, or train into another --out"});
    } catch (const std::exception& e) {
        D2M_FAIL(InvalidInput, "checkpoint ", path, " cannot be read: ", e.what(),
                 Hint{"the file is damaged; delete it to start over, or train into another --out"});
    }
    D2M_CHECK(state.value("source_hash", "") == I.source_hash, Incompatible, "checkpoint ", path,
              " belongs to another model: it was trained from ", state.value("source_model", "?"), " (hash ",
              state.value("source_hash", "?"), "), this run's model ", I.model_dir, " hashes to ", I.source_hash,
              Hint{"resume with the model the run started from, or train into another --out"});
    D2M_CHECK(state.value("data_hash", "") == I.corpus->data_hash, Incompatible, "checkpoint ", path,
              " was trained on other data (the project's train/test files changed since)",
              Hint{"resume with the same project and data, or train into another --out"});
    const json now = train_schema().to_json(I.s);
    const json then = state.value("settings", json::object());
    std::string diff;
    for (auto it = now.begin(); it != now.end(); ++it) {
        if (train_setting_is_transport(it.key())) continue;  // how gradients travel: no number changes
        if (!then.contains(it.key()) || then[it.key()] != it.value())
            diff += (diff.empty() ? "" : ", ") + it.key() + " " + (then.contains(it.key()) ? then[it.key()].dump() : "?") +
                    " -> " + it.value().dump();
    }
    D2M_CHECK(diff.empty(), InvalidInput, "checkpoint ", path, " was written with other settings: ", diff,
              Hint{"a resumed run must use the settings it started with"});
    at::NoGradGuard no_grad;
    try {
        for (auto& p : I.params) {
            const std::pair<const char*, at::Tensor*> parts[] = {
                {"master:", &p.master}, {"exp_avg:", &p.exp_avg}, {"exp_avg_sq:", &p.exp_avg_sq}};
            for (const auto& [what, dst_ptr] : parts) {
                const std::string key = what + p.name;
                D2M_CHECK(r.has(key), Incompatible, "tensor ", key, " is missing");
                at::Tensor v = r.get(key);
                at::Tensor& dst = *dst_ptr;
                D2M_CHECK(v.sizes() == dst.sizes(), Incompatible, "tensor ", key, " has shape ", v.sizes(),
                          ", expected ", dst.sizes());
                dst.copy_(v);
            }
            p.t = state["param_steps"].value(p.name, int64_t{0});
            if (!p.aliased) p.value().copy_(p.master);
        }
        if (I.lora) {
            D2M_CHECK(r.has("rng:lora_dropout"), Incompatible, "the dropout generator's state is missing");
            I.lora->set_rng_state(r.get("rng:lora_dropout"));
        }
        for (size_t m = 0; m < I.budget_bias.size(); ++m) {  // Den2MoEE's budget bias (sparse phase)
            const std::string key = "budget_bias:" + std::to_string(m);
            D2M_CHECK(r.has(key), Incompatible, "the budget bias ", key, " is missing");
            I.budget_bias[m].copy_(r.get(key).to(at::kFloat));
            I.sel_bias[m].copy_(I.centering[m] + I.budget_bias[m]);
        }
    } catch (const Error& e) {
        D2M_FAIL(Incompatible, "checkpoint ", path, " does not fit this run: ", e.message());
    }
    I.step = state.value("step", int64_t{0});
    I.order->seek(state.value("cursor", int64_t{0}));
    if (I.den2moee && I.s.stage == "den2moee-dense")
        I.set_alpha(den2moee_alpha(std::max<int64_t>(I.step, 1), I.s.alpha_warmup, I.alpha_init));
    return state.value("extra", json::object());
}

void Trainer::write_model(const std::string& dir, const json& record) const {
    const Impl& I = *impl_;
    at::NoGradGuard no_grad;
    std::error_code ec;
    fs::create_directories(dir, ec);
    D2M_CHECK(!ec, Io, "cannot create output folder ", dir, ": ", ec.message());
    std::map<std::string, at::Tensor> out = I.source;
    for (const auto& n : I.dropped) out.erase(n);
    auto dtype_for = [&](const std::string& name, const at::Tensor& fallback) {
        if (I.s.save_dtype == "fp32") return at::kFloat;
        if (I.s.save_dtype == "bf16") return at::kBFloat16;
        auto it = I.source.find(name);
        return it != I.source.end() ? it->second.scalar_type() : fallback.scalar_type();
    };
    std::map<std::string, const Param*> by_name;
    for (const auto& p : I.params) by_name[p.name] = &p;
    for (const auto& p : I.params) {
        if (p.name.find(".lora_") != std::string::npos) continue;
        out[p.name] = p.master.to(at::kCPU).to(dtype_for(p.name, p.master));
    }
    if (I.lora) {
        for (const auto& kv : I.lora->adapters()) {
            const at::Tensor& A = by_name.at(LoraSet::a_name(kv.first))->master;
            const at::Tensor& B = by_name.at(LoraSet::b_name(kv.first))->master;
            auto src = I.source.find(kv.first);
            D2M_ASSERT(src != I.source.end());
            out[kv.first] = I.lora->merged(src->second, A.cpu(), B.cpu()).to(dtype_for(kv.first, src->second));
        }
    }
    for (size_t m = 0; m < I.sel_bias.size(); ++m) {  // Den2MoEE: centering + budget bias
        const std::string n = names::layer_prefix(I.moe_layers[m]) + "mlp.router.select_bias";
        out[n] = I.sel_bias[m].cpu().to(dtype_for(n, I.sel_bias[m]));
    }
    if (I.s.save_dtype != "keep") {
        for (auto& kv : out) {
            if (at::isFloatingType(kv.second.scalar_type())) kv.second = kv.second.to(dtype_for(kv.first, kv.second));
        }
    }
    std::vector<std::pair<std::string, at::Tensor>> tensors;
    for (auto& kv : out) tensors.emplace_back(kv.first, kv.second.contiguous());
    save_safetensors((fs::path(dir) / "model.safetensors").string(), tensors, {{"format", "pt"}, {"den2moe", "moe-v1"}});
    json mc = I.source_moe_config;
    if (I.s.router_gate == "probability" && I.is_moe) {
        json rc = mc.value("router", json::object());
        if (rc.value("gate", std::string("softmax")) == "softmax") {
            rc["norm_topk"] = false;
            rc["softmax"] = "all logits; gates = the selected experts' probabilities (not renormalised)";
            mc["router"] = rc;
        }
    }
    if (!I.dropped.empty()) mc["expert_bias"] = false;
    if (I.den2moee) {
        // the routing the model was trained into is persisted (the release loses α and the mode: §6.7)
        json rc = mc.value("router", json::object());
        rc["prior_scale"] = I.alpha_now;
        rc["mode"] = I.s.stage == "den2moee-dense" ? "dense" : "sparse";
        if (I.s.stage == "den2moee-sparse") {
            mc["top_k"] = I.s.sparse_top_k;
            rc["selection_bias"] = "logit centering -W.E[x] + budget bias (added to probabilities, selection only)";
            rc["budget_bias"] = {{"eta", I.s.budget_lr}, {"beta", I.s.budget_beta}, {"k_e", I.s.budget_ke},
                                 {"t_all", I.s.budget_t_all}, {"per", "optimizer step, counts summed over ranks"}};
        }
        mc["router"] = rc;
    }
    json stages = mc.value("trained_stages", json::array());
    stages.push_back(I.s.loss == "lm" ? I.s.stage : I.s.stage + ":" + I.s.loss);
    mc["trained_stages"] = stages;
    if (I.s.loss != "lm") {  // the model is an embedding model now: how its embedding is read
        // read back by `den2moe eval --embedding auto` (eval/task_settings.h: read_recorded_embedding)
        mc["embedding"] = {{"kind", "hs"},          {"pooling", I.s.pooling},
                           {"prompt", I.s.prompt},  {"normalize", true},
                           {"append_eos", I.s.append_eos},
                           {"loss", I.s.loss},      {"max_length", I.s.max_length},
                           {"tokens", I.s.append_eos ? "BOS + prompt + EOS" : "BOS + prompt (no EOS)"}};
    }
    write_file_atomic((fs::path(dir) / "moe_config.json").string(), dump_json(mc, 2) + "\n");
    for (const std::string& src : I.lm.tokenizer_path.empty() ? std::vector<std::string>{}
                                                               : tokenizer_files(I.lm.tokenizer_path)) {
        const fs::path dst = fs::path(dir) / fs::path(src).filename();  // BPE: vocab.json + merges.txt + ...
        if (!fs::exists(dst, ec) || !fs::equivalent(dst, src, ec)) {
            const fs::path tmp = dst.string() + ".tmp";
            fs::copy_file(src, tmp, fs::copy_options::overwrite_existing, ec);
            if (!ec) fs::rename(tmp, dst, ec);
            D2M_CHECK(!ec, Io, "cannot copy the tokenizer file ", src, " into ", dir, ": ", ec.message());
        }
    }
    json prov = I.source_provenance.is_object() ? I.source_provenance : json::object();
    json hist = prov.value("training", json::array());
    hist.push_back(record);
    prov["training"] = hist;
    write_file_atomic((fs::path(dir) / "provenance.json").string(), dump_json(prov, 2) + "\n");
}

// ---------------------------------------------------------------------------------------------

int64_t model_top_k(const std::string& model_dir) {
    if (!is_moe_native(model_dir)) return 0;
    json mc = read_json_file((fs::path(model_dir) / "moe_config.json").string());
    return mc.value("num_experts", int64_t{0}) > 0 ? mc.value("top_k", int64_t{1}) : 0;
}

void apply_project_training(TrainSettings& s, const Project& project) {
    if (project.training.empty()) return;
    train_schema().read_json(s, project.training, "project " + project.file + ": training.");
}

namespace {

// train_log.jsonl: one JSON object per line; on resumption the lines after the checkpoint's step go
std::vector<std::string> log_lines_upto(const std::string& path, int64_t step) {
    std::vector<std::string> keep;
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) {
        try {
            json j = json::parse(line);
            if (j.value("step", int64_t{0}) <= step) keep.push_back(line);
        } catch (const json::exception&) {  // a line cut by the kill
        }
    }
    return keep;
}

}  // namespace

TrainResult run_training(const Project& project, const std::string& model_dir, const TrainSettings& s,
                         const std::string& out_dir, bool resume, RunContext& ctx,
                         const std::function<void(const std::string&)>& log) {
    const auto t0 = std::chrono::steady_clock::now();
    auto note = [&](const std::string& m) {
        if (log) log(m);
    };
    validate_train_settings(s);
    std::error_code ec;
    D2M_CHECK(!out_dir.empty(), InvalidInput, "train: no output folder given", Hint{"--out DIR"});
    const fs::path out(out_dir);
    const fs::path ckpt = out / "checkpoint.safetensors";
    if (fs::exists(out, ec) && fs::exists(model_dir, ec)) {
        D2M_CHECK(!fs::equivalent(out, model_dir, ec), InvalidInput, "train: --out ", out_dir,
                  " is the source model's folder; the source is never overwritten", Hint{"choose another --out"});
    }
    if (resume) {
        D2M_CHECK(fs::exists(ckpt, ec), InvalidInput, "train --resume: ", ckpt.string(), " does not exist",
                  Hint{"nothing to resume in that folder; start without --resume"});
    } else {
        D2M_CHECK(!fs::exists(ckpt, ec) && !fs::exists(out / "model.safetensors", ec), InvalidInput, "train: ", out_dir,
                  " already holds a model or a training run",
                  Hint{"--resume continues the run there; or choose another --out"});
    }

    Trainer tr(project, model_dir, s, ctx);
    // data-parallel: every rank trains; rank 0 alone writes files (the others' state is identical)
    dist::Communicator& comm = dist::world();
    const bool root = comm.is_root();
    const int world = comm.world_size();
    TrainResult res;
    res.out_dir = out_dir;
    res.notes = tr.notes();
    json before;
    if (resume) {
        json extra = tr.load_checkpoint(ckpt.string());
        before = extra.value("before", json::object());
        res.resumed_from = tr.step();
        note(str("resumed at step ", tr.step(), " of ", tr.total_steps(), " from ", ckpt.string()));
    }
    if (world > 1) {
        const json gs = tr.grad_sync_stats();
        res.notes.push_back(str("data-parallel over ", world, " ranks: each step's ", s.batch * s.grad_accum,
                                " windows are shared by the ranks and their gradients summed (",
                                s.grad_sync == "overlap"
                                    ? str(gs.value("buckets", int64_t{0}), " buckets of at most ", format_real(s.bucket_mb),
                                          " MiB, all-reduced while each rank's last backward pass runs")
                                    : std::string("one bucketed all-reduce after the backward passes"),
                                "); rank 0 writes the files"));
    }
    for (const auto& n : res.notes) note(n);
    const std::string log_path = (out / "train_log.jsonl").string();
    std::ofstream jl;
    if (root) {
        fs::create_directories(out, ec);
        D2M_CHECK(!ec, Io, "cannot create output folder ", out_dir, ": ", ec.message());
        std::string kept;
        if (resume) {
            for (const auto& l : log_lines_upto(log_path, tr.step())) kept += l + "\n";
        }
        write_file_atomic(log_path, kept);
        jl.open(log_path, std::ios::app);
    }
    auto log_line = [&](const json& j) {
        if (!root) return;
        jl << dump_json(j) << "\n";
        jl.flush();
    };
    const int64_t total = tr.total_steps();
    const int64_t eval_every = s.eval_every > 0 ? s.eval_every : std::max<int64_t>(1, total / 10);
    const int64_t save_every = s.save_every > 0 ? s.save_every : std::max<int64_t>(1, total / 10);
    auto evaluate = [&](int64_t step) {  // reported within the "train" stage, so its ETA counts evaluations
        HeldOut h = tr.evaluate();
        json j = h.to_json();
        j["type"] = "eval";
        j["step"] = step;
        log_line(j);
        ctx.report("train", step, total, "held-out", {{"held_out_loss", h.mean}});
        return h;
    };
    if (!resume) {
        res.before = evaluate(0);
        before = res.before.to_json();
    }
    auto checkpoint = [&] {
        if (world > 1) {  // the replicas must agree before one of them speaks for all
            const std::vector<std::string> fp = comm.all_gather_bytes(tr.replica_fingerprint());
            for (int r = 1; r < world; ++r) {
                D2M_CHECK(fp[static_cast<size_t>(r)] == fp[0], Internal, "data-parallel ranks 0 and ", r,
                          " hold different weights at step ", tr.step(), " (their all-reduced updates diverged)");
            }
        }
        if (root) tr.save_checkpoint(ckpt.string(), {{"before", before}});
    };
    // a cancel (Ctrl-C reaches every rank, at different moments) is acted on by all ranks together
    auto cancelled = [&] {
        bool c = ctx.cancel.cancelled();
        if (world > 1) {
            std::vector<at::Tensor> f{at::full({1}, c ? 1.0 : 0.0, at::kDouble)};
            comm.all_reduce_sum(f);
            c = f[0].item<double>() > 0;
        }
        return c;
    };

    static const int64_t kill_at = [] {  // fault injection for the resume test (tests/app/cli/train_tests.cmake)
        const char* v = std::getenv("D2M_TRAIN_TEST_KILL_AT_STEP");
        const char* r = std::getenv("D2M_TRAIN_TEST_KILL_RANK");  // only that rank (data-parallel tests)
        if (r && std::atoi(r) != dist::world().rank()) return int64_t{-1};
        return v ? static_cast<int64_t>(std::atoll(v)) : int64_t{-1};
    }();
    int64_t tokens_done = 0;  // LM: steps x tokens per step; embedding losses: the real tokens of the texts
    while (tr.step() < total) {
        if (cancelled()) {
            checkpoint();
            note(str("cancelled at step ", tr.step(), "; checkpoint written, --resume continues"));
            throw Cancelled();
        }
        const auto ts = std::chrono::steady_clock::now();
        const double loss = tr.train_step();
        const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - ts).count();
        const int64_t step = tr.step();
        if (step == kill_at) std::raise(SIGKILL);
        tokens_done += tr.last_step_tokens();
        const double tps = static_cast<double>(tr.last_step_tokens()) / std::max(dt, 1e-9);
        if (step % s.log_every == 0 || step == total) {
            log_line({{"type", "step"},
                      {"step", step},
                      {"loss", loss},
                      {"lr", tr.last_lr()},
                      {"grad_norm", tr.last_grad_norm()},
                      {"tokens", s.loss == "lm" ? step * tr.tokens_per_step() : tokens_done},
                      {"tokens_per_s", tps}});
        }
        ctx.report("train", step, total, "",
                   {{"loss", loss}, {"lr", tr.last_lr()}, {"tokens_per_s", tps}, {"grad_norm", tr.last_grad_norm()}});
        if (step < total && step % eval_every == 0) evaluate(step);
        if (step < total && step % save_every == 0) checkpoint();
    }
    res.after = evaluate(total);
    checkpoint();
    res.steps = total;
    res.tokens = s.loss == "lm" ? total * tr.tokens_per_step() : tokens_done;
    res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    json data = json::array();
    for (const auto& d : tr.corpus().domains) {
        json files = json::array();
        for (const auto& f : d.train_files) files.push_back({{"split", "train"}, {"file", f}, {"fnv1a64", hash_file(f)}});
        for (const auto& f : d.test_files) files.push_back({{"split", "test"}, {"file", f}, {"fnv1a64", hash_file(f)}});
        data.push_back({{"domain", d.name}, {"train_windows", d.train.size(0)}, {"test_windows", d.test.size(0)},
                        {"files", files}});
    }
    json record = {{"tool", "den2moe train"},
                   {"stage", s.stage},
                   {"source_model", model_dir},
                   {"source_hash", tr.source_hash()},
                   {"settings", train_schema().to_json(s)},
                   {"steps", total},
                   {"tokens", res.tokens},
                   {"threads", at::get_num_threads()},
                   {"world_size", world},
                   {"data", data},
                   {"data_hash", tr.corpus().data_hash},
                   {"held_out_before", before},
                   {"held_out_after", res.after.to_json()},
                   {"notes", res.notes},
                   {"loss_curve", "train_log.jsonl"}};
    if (!root) return res;
    tr.write_model(out_dir, record);
    json summary = record;
    summary["seconds_this_run"] = res.seconds;
    summary["resumed_from"] = res.resumed_from;
    summary["grad_sync"] = tr.grad_sync_stats();
    summary["split"] = tr.split_stats();
    write_file_atomic((out / "train.json").string(), dump_json(summary, 1) + "\n");
    // the project's run index (project/runs.h): a failure to record is a note, never fatal
    if (std::string why = record_run(project, "training", out_dir, ctx.client); !why.empty()) res.notes.push_back(why);
    return res;
}

}  // namespace den2moe
