// Production Llama forward pass on plain ATen ops (no torch::nn: one cheap TU, fused weights).
// Per layer: x += o(attn(rope(q), rope(k), v)) over RMSNorm(x); x += ffn(RMSNorm(x)); q/k/v carry
// biases (Qwen2) and q/k are RMS-normed per head before RoPE (Qwen3) when the config says so.
// Attention masks combine causality, the padding mask and the KV-cache slots; GQA shares each
// KV head with H/Hkv query heads by reshaping q to [B, Hkv, rep*T, Dh] (no K/V copies).
// Hook sites are emitted only when an observer wants them (ObserverSet::wants).
#include "model/llama.h"
#include "model/gemm.h"

#ifdef D2M_HAVE_KERNELS
#include "causal_softmax.h"
#include "norm_rope.h"
#include "swiglu.h"
#endif

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>  // GradMode, NoGradGuard: not reached through ATen.h in libtorch 2.x
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string>
#include <limits>

#include "core/error.h"
#include "core/observers.h"
#include "core/run_context.h"
#include "io/model_files.h"
#include "io/tensor_names.h"

namespace den2moe {

ComputeDType parse_compute_dtype(const std::string& s) {
    if (s == "fp32" || s == "f32" || s == "float32" || s == "float") return ComputeDType::F32;
    if (s == "bf16" || s == "bfloat16") return ComputeDType::BF16;
    D2M_FAIL(InvalidInput, "unknown compute dtype '", s, "'", Hint{"use fp32 or bf16"});
}

const char* compute_dtype_name(ComputeDType d) { return d == ComputeDType::BF16 ? "bf16" : "fp32"; }

static at::ScalarType to_scalar(ComputeDType d) {
    return d == ComputeDType::BF16 ? at::kBFloat16 : at::kFloat;
}

// The fused CPU kernels (kernels/norm_rope.h) serve inference; autograd and other devices take ATen.
static bool fused_cpu_ok(const at::Tensor& x) {
#ifdef D2M_HAVE_KERNELS
    return x.is_cpu() && x.is_contiguous() && (x.scalar_type() == at::kFloat || x.scalar_type() == at::kBFloat16) &&
           !(at::GradMode::is_enabled() && x.requires_grad());
#else
    (void)x;
    return false;
#endif
}

at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& w, double eps) {
#ifdef D2M_HAVE_KERNELS
    if (fused_cpu_ok(x) && !(at::GradMode::is_enabled() && w.requires_grad())) return kernels::rms_norm(x, w, eps);
#endif
    // out of place: x.to(kFloat) is x itself when x is already float32
    at::Tensor xf = x.to(at::kFloat);
    at::Tensor r = at::rsqrt(xf.pow(2).mean(-1, /*keepdim=*/true).add_(eps));
    return (xf * r).mul_(w.to(at::kFloat)).to(x.scalar_type());
}

static void emit(const ObserverSet* obs, const char* site, int il, const at::Tensor& t,
                 const at::Tensor& token_mask) {
    if (obs && obs->wants(site, il)) obs->emit(site, il, t, token_mask);
}

// ---------------------------------------------------------------------------------------------
// SwiGLU FFN

SwiGluFfn::SwiGluFfn(const at::Tensor& gate, const at::Tensor& up, const at::Tensor& down,
                     const at::Tensor& down_bias, at::ScalarType dtype) {
    D2M_ASSERT(gate.dim() == 2 && up.sizes() == gate.sizes());
    D2M_ASSERT(down.dim() == 2 && down.size(1) == gate.size(0) && down.size(0) == gate.size(1));
    n_ff_ = gate.size(0);
    w_gate_up_ = at::cat({gate, up}, 0).to(dtype).contiguous();  // [2F, D]
    w_down_ = down.to(dtype).contiguous();                        // [D, F]
    if (down_bias.defined()) b_down_ = down_bias.to(dtype).contiguous();  // [D]
}

at::Tensor SwiGluFfn::gate() const { return w_gate_up_.narrow(0, 0, n_ff_); }
at::Tensor SwiGluFfn::up() const { return w_gate_up_.narrow(0, n_ff_, n_ff_); }

bool use_row_parallel(const at::Tensor& x, int64_t rows) {
    static const bool on = [] {
        const char* v = std::getenv("D2M_FFN_ROW_PARALLEL");
        return !(v && std::string(v) == "0");
    }();
    if (!on || !x.is_cpu() || at::in_parallel_region()) return false;
    if (at::GradMode::is_enabled() && x.requires_grad()) return false;
    const int64_t nt = at::get_num_threads();
    return nt > 1 && rows >= nt * kRowParallelMinRows;
}

namespace {
// fn(r0, r1) once per intra-op thread, on that thread, with its share [r0, r1) of N rows (empty shares skipped)
template <typename F>
void for_thread_rows(int64_t N, const F& fn) {
    const int64_t nt = at::get_num_threads();
    at::parallel_for(0, nt, 1, [&](int64_t t0, int64_t t1) {
        for (int64_t t = t0; t < t1; ++t) {
            const int64_t r0 = N * t / nt, r1 = N * (t + 1) / nt;
            if (r1 > r0) fn(r0, r1);
        }
    });
}

// Each thread multiplies its share of x's N rows: out rows [r0, r1) (=, or += with accumulate) x rows · wᵀ
// (+ b), single-threaded GEMMs (use_row_parallel holds). xf [N, K] contiguous, out [N, w.size(0)].
void rows_gemm(const at::Tensor& xf, const at::Tensor& w, const at::Tensor& b, at::Tensor& out, bool accumulate) {
    for_thread_rows(xf.size(0), [&](int64_t r0, int64_t r1) {
        at::Tensor o = out.narrow(0, r0, r1 - r0);
        gemm::linear_out(o, xf.narrow(0, r0, r1 - r0), w, accumulate);
        if (b.defined()) o.add_(b);
    });
}

// residual can take a GEMM's sum in place: a contiguous float32 CPU tensor of `rows` rows of n values,
// outside autograd (bf16 keeps its rounding order: the product rounded, then the add)
bool residual_fusable(const at::Tensor& residual, const at::Tensor& x, int64_t rows, int64_t n) {
    return residual.is_cpu() && residual.is_contiguous() && residual.scalar_type() == at::kFloat &&
           x.scalar_type() == at::kFloat && residual.numel() == rows * n && residual.size(-1) == n &&
           !(at::GradMode::is_enabled() && (residual.requires_grad() || x.requires_grad()));
}
}  // namespace

at::Tensor linear_rows(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b) {
    const int64_t K = x.size(-1);
    const int64_t N = x.numel() / std::max<int64_t>(K, 1);
    if (!use_row_parallel(x, N) || (at::GradMode::is_enabled() && w.requires_grad())) return gemm::linear(x, w, b);
    at::Tensor xf = x.reshape({N, K}).contiguous();
    at::Tensor out = at::empty({N, w.size(0)}, x.options());
    rows_gemm(xf, w, b, out, /*accumulate=*/false);
    std::vector<int64_t> shape = x.sizes().vec();
    shape.back() = w.size(0);
    return out.view(shape);
}

void linear_rows_add(const at::Tensor& x, const at::Tensor& w, at::Tensor& residual, const at::Tensor& b) {
    const int64_t K = x.size(-1);
    const int64_t N = x.numel() / std::max<int64_t>(K, 1);
    if (w.dim() != 2 || w.size(1) != K || !residual_fusable(residual, x, N, w.size(0)) ||
        (at::GradMode::is_enabled() && w.requires_grad())) {
        residual.add_(linear_rows(x, w, b));
        return;
    }
    at::Tensor xf = x.reshape({N, K}).contiguous();
    at::Tensor r2 = residual.view({N, w.size(0)});
    if (use_row_parallel(x, N)) {
        rows_gemm(xf, w, b, r2, /*accumulate=*/true);
        return;
    }
    gemm::addmm_(r2, xf, w.t());
    if (b.defined()) r2.add_(b);
}

void FeedForward::forward_add(const at::Tensor& x, at::Tensor& residual, int il, const FfnContext& fc) const {
    residual.add_(forward(x, il, fc));
}

void SwiGluFfn::run_row_parallel(const at::Tensor& xf, at::Tensor& out, bool accumulate) const {
    for_thread_rows(xf.size(0), [&](int64_t r0, int64_t r1) {
        forward_rows(xf.narrow(0, r0, r1 - r0), out.narrow(0, r0, r1 - r0), accumulate);
    });
}

void SwiGluFfn::forward_add(const at::Tensor& x, at::Tensor& residual, int il, const FfnContext& fc) const {
    const int64_t D = x.size(-1);
    const int64_t N = x.numel() / std::max<int64_t>(D, 1);
    const bool want_act = fc.observers && fc.observers->wants(site::kFfnAct, il);
    if (!want_act && use_row_parallel(x, N) && residual_fusable(residual, x, N, D) &&
        !(at::GradMode::is_enabled() && w_gate_up_.requires_grad())) {
        at::Tensor xf = x.reshape({N, D}).contiguous();
        at::Tensor r2 = residual.view({N, D});
        run_row_parallel(xf, r2, /*accumulate=*/true);
        return;
    }
    FeedForward::forward_add(x, residual, il, fc);
}

at::Tensor SwiGluFfn::forward(const at::Tensor& x, int il, const FfnContext& fc) const {
    const int64_t D = x.size(-1);
    const int64_t N = x.numel() / std::max<int64_t>(D, 1);
    const bool want_act = fc.observers && fc.observers->wants(site::kFfnAct, il);
    if (!want_act && use_row_parallel(x, N) &&
        !(at::GradMode::is_enabled() && w_gate_up_.requires_grad())) {
        at::Tensor xf = x.reshape({N, D}).contiguous();
        at::Tensor out = at::empty({N, D}, x.options());
        run_row_parallel(xf, out, /*accumulate=*/false);
        return out.view(x.sizes());
    }
    at::Tensor gu = gemm::linear(x, w_gate_up_);                          // [B, T, 2F]
    at::Tensor act = at::silu(gu.narrow(-1, 0, n_ff_)).mul_(gu.narrow(-1, n_ff_, n_ff_));  // [B, T, F]
    static const at::Tensor kNone;
    emit(fc.observers, site::kFfnAct, il, act, fc.token_mask ? *fc.token_mask : kNone);
    return gemm::linear(act, w_down_, b_down_);                           // [B, T, D]
}

void SwiGluFfn::forward_into(const at::Tensor& x, at::Tensor out, bool accumulate) const {
    at::Tensor gu = at::empty({x.size(0), 2 * n_ff_}, x.options());  // [n, 2F]
    gemm::linear_out(gu, x, w_gate_up_);
    at::Tensor act;
#ifdef D2M_HAVE_KERNELS
    if (fused_cpu_ok(gu)) {  // silu(g) ⊙ u in one pass over the rows (kernels/swiglu.h)
        act = at::empty({gu.size(0), n_ff_}, gu.options());
        kernels::swiglu_forward(gu, act);
    }
#endif
    if (!act.defined()) act = at::silu(gu.narrow(-1, 0, n_ff_)).mul_(gu.narrow(-1, n_ff_, n_ff_));
    gemm::linear_out(out, act, w_down_, accumulate);
    if (b_down_.defined()) out.add_(b_down_);
}

void SwiGluFfn::forward_rows(const at::Tensor& x, at::Tensor out, bool accumulate) const {
    // equal blocks of about kRowBlock rows (281 rows: one block, not 256 + 25; 400: 200 + 200)
    const int64_t n = x.size(0);
    const int64_t nb = std::max<int64_t>(1, (n + kRowBlock / 2) / kRowBlock);
    for (int64_t b = 0; b < nb; ++b) {
        const int64_t r0 = n * b / nb, r1 = n * (b + 1) / nb;
        if (r1 > r0) forward_into(x.narrow(0, r0, r1 - r0), out.narrow(0, r0, r1 - r0), accumulate);
    }
}

void SwiGluFfn::named_tensors(const std::string& prefix, std::map<std::string, at::Tensor>& out) const {
    out[prefix + "gate_proj.weight"] = gate();
    out[prefix + "up_proj.weight"] = up();
    out[prefix + "down_proj.weight"] = w_down_;
    if (b_down_.defined()) out[prefix + "down_proj.bias"] = b_down_;
}

int64_t SwiGluFfn::n_params() const {
    return w_gate_up_.numel() + w_down_.numel() + (b_down_.defined() ? b_down_.numel() : 0);
}

// ---------------------------------------------------------------------------------------------
// Loading

std::shared_ptr<LlamaModel> LlamaModel::load(const std::string& path, ComputeDType dtype) {
    ModelFiles files = load_model_files(path);
    auto m = from_files(files, dtype);
    return m;
}

std::shared_ptr<LlamaModel> LlamaModel::from_files(const ModelFiles& files, ComputeDType dtype) {
    auto m = from_tensors(files.config, files.tensors, dtype);
    m->source = files.source;
    return m;
}

std::shared_ptr<LlamaModel> LlamaModel::from_tensors(const LlamaConfig& cfg,
                                                     const std::map<std::string, at::Tensor>& tensors,
                                                     ComputeDType dtype) {
    cfg.validate("model config");
    auto get = [&](const std::string& name) -> const at::Tensor& {
        auto it = tensors.find(name);
        D2M_CHECK(it != tensors.end(), Incompatible, "tensor ", name, " is missing");
        return it->second;
    };
    auto m = std::make_shared<LlamaModel>();
    m->cfg_ = cfg;
    m->dtype_ = dtype;
    const at::ScalarType st = to_scalar(dtype);
    m->tok_embd_ = get(names::embed_tokens()).to(st).contiguous();
    m->final_norm_ = get(names::final_norm()).to(st).contiguous();
    auto lm = tensors.find(names::lm_head());
    m->w_out_ = (lm != tensors.end() ? lm->second : m->tok_embd_).to(st).contiguous();
    const int64_t dh = cfg.head_dim;
    // inv_freq[j] = 1 / theta^(2j / Dh), in float32 as HF and run.c compute it
    m->inv_freq_ = at::pow(at::full({}, (float)cfg.rope_theta, at::kFloat),
                           at::arange(0, dh, 2, at::kFloat).div_((float)dh))
                       .reciprocal_();
    for (int il = 0; il < cfg.n_layer; ++il) {
        Layer L;
        L.attn_norm = get(names::attn_norm(il)).to(st).contiguous();
        L.ffn_norm = get(names::ffn_norm(il)).to(st).contiguous();
        L.w_qkv = at::cat({get(names::q_proj(il)), get(names::k_proj(il)), get(names::v_proj(il))}, 0)
                      .to(st)
                      .contiguous();
        L.w_o = get(names::o_proj(il)).to(st).contiguous();
        if (cfg.qkv_bias)
            L.b_qkv = at::cat({get(names::attn_bias(il, "q_proj")), get(names::attn_bias(il, "k_proj")),
                               get(names::attn_bias(il, "v_proj"))}, 0)
                          .to(st)
                          .contiguous();  // [(H + 2 Hkv) Dh]
        if (cfg.qk_norm) {
            L.q_norm = get(names::q_norm(il)).to(st).contiguous();  // [Dh]
            L.k_norm = get(names::k_norm(il)).to(st).contiguous();  // [Dh]
        }
        auto bias_it = tensors.find(names::layer_prefix(il) + "mlp.down_proj.bias");
        at::Tensor bias = bias_it != tensors.end() ? bias_it->second : at::Tensor();
        L.ffn = std::make_shared<SwiGluFfn>(get(names::gate_proj(il)), get(names::up_proj(il)),
                                            get(names::down_proj(il)), bias, st);
        m->layers_.push_back(std::move(L));
    }
    return m;
}

at::ScalarType LlamaModel::scalar_type() const { return to_scalar(dtype_); }

void LlamaModel::set_ffn(int il, std::shared_ptr<const FeedForward> ffn) {
    D2M_ASSERT(il >= 0 && il < (int)layers_.size() && ffn);
    layers_[il].ffn = std::move(ffn);
}

std::shared_ptr<LlamaModel> LlamaModel::with_ffns(std::vector<std::shared_ptr<const FeedForward>> ffns) const {
    D2M_CHECK(ffns.size() == layers_.size(), InvalidInput, "with_ffns: got ", ffns.size(),
              " feed-forward blocks for ", layers_.size(), " layers");
    auto m = std::make_shared<LlamaModel>(*this);
    for (size_t il = 0; il < ffns.size(); ++il) m->layers_[il].ffn = std::move(ffns[il]);
    return m;
}

const SwiGluFfn& LlamaModel::dense_ffn(int il) const {
    D2M_CHECK(il >= 0 && il < (int)layers_.size(), InvalidInput, "layer ", il, " out of range [0, ",
              layers_.size(), ")");
    auto* d = dynamic_cast<const SwiGluFfn*>(layers_[il].ffn.get());
    D2M_CHECK(d != nullptr, Incompatible, "layer ", il, " holds a '", layers_[il].ffn->kind(),
              "' block, not a dense SwiGLU FFN");
    return *d;
}

std::map<std::string, at::Tensor> LlamaModel::named_tensors() const {
    std::map<std::string, at::Tensor> out;
    const int64_t q = cfg_.q_dim(), kv = cfg_.kv_dim();
    out[names::embed_tokens()] = tok_embd_;
    out[names::final_norm()] = final_norm_;
    if (!cfg_.tie_word_embeddings) out[names::lm_head()] = w_out_;
    for (int il = 0; il < (int)layers_.size(); ++il) {
        const Layer& L = layers_[il];
        out[names::attn_norm(il)] = L.attn_norm;
        out[names::ffn_norm(il)] = L.ffn_norm;
        out[names::q_proj(il)] = L.w_qkv.narrow(0, 0, q);
        out[names::k_proj(il)] = L.w_qkv.narrow(0, q, kv);
        out[names::v_proj(il)] = L.w_qkv.narrow(0, q + kv, kv);
        out[names::o_proj(il)] = L.w_o;
        if (L.b_qkv.defined()) {
            out[names::attn_bias(il, "q_proj")] = L.b_qkv.narrow(0, 0, q);
            out[names::attn_bias(il, "k_proj")] = L.b_qkv.narrow(0, q, kv);
            out[names::attn_bias(il, "v_proj")] = L.b_qkv.narrow(0, q + kv, kv);
        }
        if (L.q_norm.defined()) {
            out[names::q_norm(il)] = L.q_norm;
            out[names::k_norm(il)] = L.k_norm;
        }
        L.ffn->named_tensors(names::layer_prefix(il) + "mlp.", out);
    }
    return out;
}

int64_t LlamaModel::n_params() const {
    int64_t n = 0;
    for (auto& kv : named_tensors()) n += kv.second.numel();
    return n;
}

int64_t LlamaModel::n_active_params() const {
    int64_t n = n_params();
    for (const auto& layer : layers_) n += layer.ffn->n_active_params() - layer.ffn->n_params();
    return n;
}

KVCache LlamaModel::new_cache(int64_t batch, int64_t capacity) const {
    KVCache c;
    c.capacity = capacity;
    auto opts = at::TensorOptions().dtype(scalar_type());
    for (int il = 0; il < cfg_.n_layer; ++il) {
        c.k.push_back(at::zeros({batch, cfg_.n_head_kv, capacity, cfg_.head_dim}, opts));
        c.v.push_back(at::zeros({batch, cfg_.n_head_kv, capacity, cfg_.head_dim}, opts));
    }
    c.key_mask = at::zeros({batch, capacity}, at::kBool);
    c.next_pos = at::zeros({batch}, at::kLong);
    return c;
}

// ---------------------------------------------------------------------------------------------
// Forward

// x: [B, T, nh, Dh] float32; cos/sin: [B, T, 1, Dh/2]
at::Tensor apply_rope(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin, RopeStyle style) {
    const int64_t half = x.size(-1) / 2;
    if (style == RopeStyle::HalfSplit) {
        at::Tensor x1 = x.narrow(-1, 0, half), x2 = x.narrow(-1, half, half);
        return at::cat({x1 * cos - x2 * sin, x2 * cos + x1 * sin}, -1);
    }
    // interleaved pairs (2j, 2j+1), as llama2.c run.c
    at::Tensor xp = x.unflatten(-1, {half, 2});  // [B, T, nh, Dh/2, 2]
    at::Tensor x0 = xp.select(-1, 0), x1 = xp.select(-1, 1);
    return at::stack({x0 * cos - x1 * sin, x0 * sin + x1 * cos}, -1).flatten(-2);
}

at::Tensor LlamaModel::token_ids(const at::Tensor& ids_in) const {
    D2M_CHECK(ids_in.dim() == 2, InvalidInput, "forward: token ids must be [B, T], got ", ids_in.dim(),
              " dimensions");
    const at::Tensor ids = ids_in.to(tok_embd_.device(), at::kLong);
    D2M_CHECK(ids.size(1) > 0, InvalidInput, "forward: empty sequence");
    auto mx = ids.max().item<int64_t>(), mn = ids.min().item<int64_t>();
    D2M_CHECK(mn >= 0 && mx < cfg_.vocab_size, InvalidInput, "token id ", (mn < 0 ? mn : mx),
              " is outside the vocabulary [0, ", cfg_.vocab_size, ")",
              Hint{"was the text tokenised with this model's tokenizer?"});
    return ids;
}

namespace {

/// The last query position's attention probabilities, mean over heads: q [B, T, H, Dh] (RoPE
/// applied), kt [B, Hkv, Tk, Dh], key_ok [B, Tk] bool or undefined -> float32 [B, Tk]. The last
/// query sits at slot Tk − 1, so the causal mask hides nothing; padded keys are hidden, the query
/// itself never is (the fused kernel's rule).
at::Tensor last_query_attention(const at::Tensor& q, const at::Tensor& kt, const at::Tensor& key_ok, double scale) {
    const int64_t B = q.size(0), T = q.size(1), H = q.size(2), Dh = q.size(3);
    const int64_t Hkv = kt.size(1), Tk = kt.size(2);
    at::Tensor ql = q.select(1, T - 1).to(at::kFloat).reshape({B, Hkv, H / Hkv, Dh});  // [B, Hkv, rep, Dh]
    at::Tensor sc = at::matmul(ql, kt.to(at::kFloat).transpose(-1, -2)).mul_(scale);   // [B, Hkv, rep, Tk]
    if (key_ok.defined()) {
        at::Tensor blocked = key_ok.logical_not();  // [B, Tk]
        blocked.select(1, Tk - 1).fill_(false);
        sc.masked_fill_(blocked.view({B, 1, 1, Tk}), -std::numeric_limits<float>::infinity());
    }
    return at::softmax(sc, -1).mean({1, 2});  // [B, Tk]
}

#ifdef D2M_HAVE_KERNELS
/// Causal attention head by head on strided views, no copies: q [B, T, H, Dh] and kt / vt [B, Hkv, Tk, Dh]
/// (views of the qkv buffer or the KV cache), query head h reading KV head h / (H / Hkv). Each
/// (batch, head) pair runs on one thread, in query blocks of kHeadAttnBlock rows: a block [t0, t1)
/// multiplies only the past + t1 keys it may see (the causal upper triangle is skipped, about 40 %
/// of attention's products at T = 256), its scores stay in that core's cache, and the GEMM library
/// writes the output straight into the [B, T, H Dh] buffer o_proj reads. Same products and softmax as
/// the grouped path (hidden keys have probability exactly 0 there), up to the order of the sums.
at::Tensor head_attention(const at::Tensor& q, const at::Tensor& kt, const at::Tensor& vt, const at::Tensor& key_ok,
                          double scale, int64_t past) {
    const int64_t B = q.size(0), T = q.size(1), H = q.size(2), Dh = q.size(3);
    const int64_t Hkv = kt.size(1), Tk = kt.size(2), rep = H / Hkv;
    at::Tensor o = at::empty({B, T, H * Dh}, q.options());
    at::Tensor o4 = o.view({B, T, H, Dh});
    at::parallel_for(0, B * H, 1, [&](int64_t i0, int64_t i1) {
        at::Tensor sc = at::empty({std::min<int64_t>(kHeadAttnBlock, T), Tk}, q.options());
        for (int64_t i = i0; i < i1; ++i) {
            const int64_t b = i / H, h = i % H, g = h / rep;
            const at::Tensor qh = q.select(0, b).select(1, h);    // [T, Dh], row stride (H + 2 Hkv) Dh
            const at::Tensor kh = kt.select(0, b).select(0, g);   // [Tk, Dh]
            const at::Tensor vh = vt.select(0, b).select(0, g);   // [Tk, Dh]
            at::Tensor oh = o4.select(0, b).select(1, h);         // [T, Dh], row stride H Dh
            const at::Tensor ok = key_ok.defined() ? key_ok.select(0, b) : key_ok;  // [Tk]
            for (int64_t t0 = 0; t0 < T; t0 += kHeadAttnBlock) {
                const int64_t nq = std::min(kHeadAttnBlock, T - t0), nk = past + t0 + nq;
                at::Tensor s = sc.narrow(0, 0, nq).narrow(1, 0, nk);  // [nq, nk], row stride Tk
                gemm::mm_out(s, qh.narrow(0, t0, nq), kh.narrow(0, 0, nk).t());
                kernels::causal_softmax_block_(s, scale, past + t0, ok);
                at::Tensor ob = oh.narrow(0, t0, nq);
                gemm::mm_out(ob, s, vh.narrow(0, 0, nk));
            }
        }
    });
    return o;
}
#endif

}  // namespace

at::Tensor LlamaModel::run_layers(const at::Tensor& ids_in, const at::Tensor& attention_mask,
                                  const ForwardOptions& opt) const {
    const at::Tensor ids = token_ids(ids_in);
    const int64_t B = ids.size(0), T = ids.size(1);
    const int64_t H = cfg_.n_head, Hkv = cfg_.n_head_kv, Dh = cfg_.head_dim, rep = H / Hkv;
    const ObserverSet* obs = opt.observers;
    KVCache* cache = opt.cache;
    const at::ScalarType st = scalar_type();

    at::Tensor token_mask;  // [B, T] bool or undefined
    at::Tensor mask_l;      // [B, T] int64
    if (attention_mask.defined()) {
        D2M_CHECK(attention_mask.sizes() == ids.sizes(), InvalidInput, "attention mask shape ",
                  attention_mask.sizes(), " differs from token ids ", ids.sizes());
        token_mask = attention_mask.to(at::kBool);
        mask_l = token_mask.to(at::kLong);
    }
    // positions [B, T]: count real tokens so left padding does not shift RoPE
    at::Tensor pos = mask_l.defined() ? (mask_l.cumsum(1) - 1).clamp_min_(0)
                                      : at::arange(T, at::kLong).unsqueeze(0).expand({B, T});
    int64_t past = 0;
    if (cache) {
        D2M_CHECK(cache->k.size() == (size_t)cfg_.n_layer && cache->key_mask.size(0) == B, InvalidInput,
                  "KV cache was made for another model or batch size");
        D2M_CHECK(cache->len + T <= cache->capacity, InvalidInput, "KV cache full: ", cache->len, " + ", T,
                  " tokens exceed its capacity ", cache->capacity);
        past = cache->len;
        pos = pos + cache->next_pos.unsqueeze(1);
        cache->key_mask.narrow(1, past, T).copy_(token_mask.defined() ? token_mask : at::ones({B, T}, at::kBool));
        cache->next_pos.add_(mask_l.defined() ? mask_l.sum(1) : at::full({B}, T, at::kLong));
    }
    const int64_t Tk = past + T;
    // angles [B, T, 1, Dh/2]
    at::Tensor ang = pos.to(at::kFloat).unsqueeze(-1).mul(inv_freq_).unsqueeze(2);
    at::Tensor cos = ang.cos(), sin = ang.sin();

    // visible keys: slot j ≤ the query's slot (causal), a real token (key_ok), or the query itself
    at::Tensor key_ok;
    if (cache) key_ok = cache->key_mask.narrow(1, 0, Tk);
    else if (token_mask.defined()) key_ok = token_mask;
#ifndef D2M_HAVE_KERNELS
    at::Tensor qslot = at::arange(past, Tk, at::kLong).unsqueeze(1);  // [T, 1]
    at::Tensor kslot = at::arange(Tk, at::kLong).unsqueeze(0);        // [1, Tk]
    at::Tensor allowed = kslot.le(qslot).unsqueeze(0);                 // [1, T, Tk]
    if (key_ok.defined()) allowed = allowed.logical_and(key_ok.unsqueeze(1)).logical_or(kslot.eq(qslot).unsqueeze(0));
    at::Tensor blocked = allowed.logical_not().unsqueeze(1);  // [B|1, 1, T, Tk]
    const bool any_blocked = blocked.any().item<bool>();
#endif
    const double scale = 1.0 / std::sqrt((double)Dh);

    at::Tensor x = at::embedding(tok_embd_, ids);  // [B, T, D]
    FfnContext fc{obs, token_mask.defined() ? &token_mask : nullptr, nullptr, {}};
    for (int il = 0; il < (int)layers_.size(); ++il) {
        const Layer& L = layers_[il];
        emit(obs, site::kLayerInp, il, x, token_mask);
        at::Tensor h = rms_norm(x, L.attn_norm, cfg_.rms_norm_eps);
        at::Tensor qkv = linear_rows(h, L.w_qkv, L.b_qkv);                          // [B, T, (H+2Hkv) Dh]
        if (L.q_norm.defined()) {  // Qwen3: RMSNorm over each q and k head, before RoPE, in place
            at::Tensor qh = qkv.narrow(-1, 0, H * Dh).view({B, T, H, Dh});
            at::Tensor kh = qkv.narrow(-1, H * Dh, Hkv * Dh).view({B, T, Hkv, Dh});
            qh.copy_(rms_norm(qh.contiguous(), L.q_norm, cfg_.rms_norm_eps));
            kh.copy_(rms_norm(kh.contiguous(), L.k_norm, cfg_.rms_norm_eps));
        }
        const bool rope_in_place = fused_cpu_ok(qkv);
#ifdef D2M_HAVE_KERNELS
        // q and k heads rotated in place in the qkv buffer, one pass (kernels/norm_rope.h)
        if (rope_in_place) kernels::rope_(qkv, H + Hkv, Dh, cos, sin, cfg_.rope_style != RopeStyle::HalfSplit);
#endif
        at::Tensor q = qkv.narrow(-1, 0, H * Dh).view({B, T, H, Dh});
        at::Tensor k = qkv.narrow(-1, H * Dh, Hkv * Dh).view({B, T, Hkv, Dh});
        at::Tensor v = qkv.narrow(-1, (H + Hkv) * Dh, Hkv * Dh).view({B, T, Hkv, Dh});
        if (!rope_in_place) {
            q = apply_rope(q.to(at::kFloat), cos, sin, cfg_.rope_style).to(st);      // [B, T, H, Dh]
            k = apply_rope(k.to(at::kFloat), cos, sin, cfg_.rope_style).to(st);      // [B, T, Hkv, Dh]
        }
        at::Tensor kt = k.permute({0, 2, 1, 3});                                     // [B, Hkv, T, Dh]
        at::Tensor vt = v.permute({0, 2, 1, 3});
        if (cache) {
            cache->k[il].narrow(2, past, T).copy_(kt);
            cache->v[il].narrow(2, past, T).copy_(vt);
            kt = cache->k[il].narrow(2, 0, Tk);
            vt = cache->v[il].narrow(2, 0, Tk);
        }
        if (obs && obs->wants(site::kLastAttn, il)) {
            emit(obs, site::kLastAttn, il, last_query_attention(q, kt, key_ok, scale), token_mask);
        }
        at::Tensor o;  // [B, T, H Dh]
#ifdef D2M_HAVE_KERNELS
        // float32 only: bf16's native products go through ATen per call, where more, smaller calls were
        // not shown to pay (docs/benchmarks.md, issue 27's profile)
        if (rope_in_place && T >= kHeadAttnMinT && st == at::kFloat) o = head_attention(q, kt, vt, key_ok, scale, past);
#endif
        if (!o.defined()) {  // decoding steps (T < kHeadAttnMinT), autograd, or no fused kernels
            // GQA: query head h uses kv head h / rep  -> q as [B, Hkv, rep*T, Dh]
            at::Tensor qg = q.permute({0, 2, 1, 3}).reshape({B, Hkv, rep * T, Dh});
            at::Tensor og;  // [B, Hkv, rep*T, Dh]
#ifdef D2M_HAVE_KERNELS
            if (use_row_parallel(qg, B * Hkv * kRowParallelMinRows)) {
                // (batch, kv head) pairs side by side on the threads: scores, fused softmax and
                // probabilities·V of one pair stay in its core's cache, and none of these small GEMMs
                // is split by the BLAS (whose thread hand-offs cost more than they save at this size)
                og = at::empty({B, Hkv, rep * T, Dh}, qg.options());
                at::Tensor att_all = at::empty({B, Hkv, rep * T, Tk}, qg.options());
                at::parallel_for(0, B * Hkv, 1, [&](int64_t i0, int64_t i1) {
                    for (int64_t i = i0; i < i1; ++i) {
                        const int64_t b = i / Hkv, g = i % Hkv;
                        at::Tensor sc = att_all.select(0, b).select(0, g);  // [rep*T, Tk]
                        gemm::mm_out(sc, qg.select(0, b).select(0, g), kt.select(0, b).select(0, g).t());
                        at::Tensor sc4 = sc.view({1, rep, T, Tk});
                        kernels::causal_softmax_(sc4, scale, past, key_ok.defined() ? key_ok.narrow(0, b, 1) : key_ok);
                        at::Tensor ob = og.select(0, b).select(0, g);
                        gemm::mm_out(ob, sc, vt.select(0, b).select(0, g));
                    }
                });
            } else {
                // fused scale + causal/key mask + softmax, in place, in the compute dtype (kernels/)
                at::Tensor att4 = gemm::matmul(qg, kt.transpose(-1, -2)).view({B, H, T, Tk});  // [B, H, T, Tk]
                kernels::causal_softmax_(att4, scale, past, key_ok);
                og = gemm::matmul(att4.view({B, Hkv, rep * T, Tk}), vt);                          // [B, Hkv, rep*T, Dh]
            }
#else
            at::Tensor att = gemm::matmul(qg, kt.transpose(-1, -2)).mul_(scale);           // [B, Hkv, rep*T, Tk]
            at::Tensor att4 = att.view({B, H, T, Tk});
            if (st != at::kFloat) att4 = att4.to(at::kFloat);
            if (any_blocked) att4.masked_fill_(blocked, -std::numeric_limits<float>::infinity());
            att4 = at::softmax(att4, -1).to(st);
            og = gemm::matmul(att4.view({B, Hkv, rep * T, Tk}), vt);                      // [B, Hkv, rep*T, Dh]
#endif
            o = og.view({B, H, T, Dh}).permute({0, 2, 1, 3}).reshape({B, T, H * Dh});  // [B, T, H Dh]
        }
        // The residual adds go into the GEMMs (beta = 1) where no observer needs the projection alone
        // (kAttnOut, kFfnOut) and x may change in place: no observer was handed this x (kLayerInp, the
        // previous layer's kLayerOut, or any site before it when il == 0: x is then the embedding's fresh
        // output). Else the separate adds, into a new x, as always.
        const bool x_private = !(obs && (obs->wants(site::kLayerInp, il) || (il > 0 && obs->wants(site::kLayerOut, il - 1))));
        if (x_private && !(obs && obs->wants(site::kAttnOut, il))) {
            linear_rows_add(o, L.w_o, x);  // x += o·W_oᵀ
        } else {
            at::Tensor attn_out = linear_rows(o, L.w_o);                             // [B, T, D]
            emit(obs, site::kAttnOut, il, attn_out, token_mask);
            x = x + attn_out;
        }
        at::Tensor hf = rms_norm(x, L.ffn_norm, cfg_.rms_norm_eps);                 // [B, T, D]
        emit(obs, site::kFfnInp, il, hf, token_mask);
        if (obs && obs->wants(site::kFfnOut, il)) {
            at::Tensor f = L.ffn->forward(hf, il, fc);
            emit(obs, site::kFfnOut, il, f, token_mask);
            x.add_(f);
        } else {
            L.ffn->forward_add(hf, x, il, fc);  // x += ffn(hf)
        }
        emit(obs, site::kLayerOut, il, x, token_mask);
    }
    if (cache) cache->len += T;
    at::Tensor out = rms_norm(x, final_norm_, cfg_.rms_norm_eps);                   // [B, T, D]
    emit(obs, site::kFinalHidden, -1, out, token_mask);
    return out;
}

at::Tensor LlamaModel::hidden_states(const at::Tensor& ids, const at::Tensor& attention_mask,
                                     const ForwardOptions& opt) const {
    if (opt.mode == ExecMode::Train) return run_layers_train(ids, attention_mask, opt);
    at::NoGradGuard no_grad;
    return run_layers(ids, attention_mask, opt);
}

at::Tensor LlamaModel::lm_head(const at::Tensor& hidden) const {
    return linear_rows(hidden.to(scalar_type()), w_out_).to(at::kFloat);
}

at::Tensor LlamaModel::forward(const at::Tensor& ids, const at::Tensor& attention_mask,
                               const ForwardOptions& opt) const {
    if (opt.mode == ExecMode::Train) {
        at::Tensor h = run_layers_train(ids, attention_mask, opt);  // [B, T, D]
        if (opt.last_only) h = h.narrow(1, h.size(1) - 1, 1);
        return gemm::linear(h, w_out_).to(at::kFloat);
    }
    at::NoGradGuard no_grad;
    at::Tensor h = run_layers(ids, attention_mask, opt);  // [B, T, D]
    if (opt.last_only) h = h.narrow(1, h.size(1) - 1, 1);
    return lm_head(h);
}

}  // namespace den2moe
