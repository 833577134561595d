// LlamaModel: the production forward pass of a Llama-family decoder (RMSNorm, RoPE in both pairings,
// grouped-query attention, SwiGLU FFN; Qwen2's q/k/v biases and Qwen3's per-head q/k RMSNorm when the
// config's architecture flags say so, io/hf_config.h ArchSpec), batched with padding masks, fp32 or bf16 compute, a KV
// cache for generation, and named hook sites (core/observers.h) that calibration statistics,
// routing traces and embeddings observe instead of copying the forward pass.
// Weights live in plain ATen tensors (q/k/v and gate/up fused for fewer, larger GEMMs);
// named_tensors() exposes them under Hugging Face keys (views of the fused storage).
// Two execution modes of the same weights, chosen by ForwardOptions::mode alone: Infer (fused CPU
// kernels, row-parallel GEMMs, host routing, no autograd) and Train (model/llama_train.cpp,
// model/moe_train.cpp: ATen operations autograd follows, on any device, with LoRA-style adapters).
#pragma once

#include <ATen/core/Tensor.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "io/hf_config.h"

namespace den2moe {

class ObserverSet;
struct ModelFiles;

/// How a forward pass runs. Infer: the fast inference path (no autograd; fused CPU kernels,
/// row-parallel GEMMs, host-side routing). Train: the same model as a chain of differentiable ATen
/// operations (no in-place updates of saved tensors, no custom kernels, no host loops over tokens;
/// router logits from the router weight itself), on the weights' device; grad mode is the caller's.
enum class ExecMode { Infer, Train };

/// Low-rank updates of named linear layers (LoRA, engine/train/lora.h), used by the Train mode only.
class LinearAdapters {
public:
    virtual ~LinearAdapters() = default;
    /// The update to add to the output of the linear layer whose weight is named `weight` (a
    /// Hugging Face key such as "model.layers.3.mlp.experts.2.up_proj.weight") for input x [.., in]:
    /// [.., out] in x's dtype, or an undefined tensor when that layer has no adapter.
    virtual at::Tensor delta(const std::string& weight, const at::Tensor& x) const = 0;
};

enum class ComputeDType { F32, BF16 };
ComputeDType parse_compute_dtype(const std::string& s);  ///< "fp32"|"f32"|"float32"|"bf16"|"bfloat16"
const char* compute_dtype_name(ComputeDType d);

/// What a feed-forward block sees besides its input: the observers and the padding mask; in the
/// Train mode also the adapters and the block's tensor-name prefix ("model.layers.3.mlp.").
struct FfnContext {
    const ObserverSet* observers = nullptr;
    const at::Tensor* token_mask = nullptr;  ///< [B, T] bool, or undefined
    const LinearAdapters* adapters = nullptr;
    std::string name_prefix;
};

/// A layer's feed-forward block: dense SwiGLU here; pruned and MoE blocks implement it too.
class FeedForward {
public:
    virtual ~FeedForward() = default;
    /// x: [B, T, D] in compute dtype -> [B, T, D]
    virtual at::Tensor forward(const at::Tensor& x, int il, const FfnContext& fc) const = 0;
    /// residual += forward(x, il, fc), residual [B, T, D] in the compute dtype. The caller (run_layers)
    /// takes this path only when no observer wants the block's output alone (site kFfnOut); blocks may
    /// then sum straight into the residual stream (SwiGluFfn: beta = 1 in down_proj's GEMM). The default
    /// adds forward()'s result.
    virtual void forward_add(const at::Tensor& x, at::Tensor& residual, int il, const FfnContext& fc) const;
    /// The Train mode (ExecMode::Train): the same function, differentiable. Blocks without one refuse.
    virtual at::Tensor forward_train(const at::Tensor& x, int il, const FfnContext& fc) const;
    /// A copy with every tensor on `device`. Blocks without one refuse.
    virtual std::shared_ptr<const FeedForward> to(const at::Device& device) const;
    /// Append this block's tensors under HF-style keys with `prefix` ("model.layers.3.mlp.").
    virtual void named_tensors(const std::string& prefix, std::map<std::string, at::Tensor>& out) const = 0;
    virtual std::string kind() const = 0;
    virtual int64_t n_params() const = 0;
    /// Parameters touched per token (active), for MoE vs dense comparisons.
    virtual int64_t n_active_params() const { return n_params(); }
};

/// down(silu(gate(x)) * up(x)) [+ down bias]. gate and up are one fused [2F, D] matrix.
class SwiGluFfn : public FeedForward {
public:
    /// gate/up [F, D], down [D, F], down_bias [D] or undefined. Converted to `dtype`.
    SwiGluFfn(const at::Tensor& gate, const at::Tensor& up, const at::Tensor& down,
              const at::Tensor& down_bias, at::ScalarType dtype);
    at::Tensor forward(const at::Tensor& x, int il, const FfnContext& fc) const override;
    /// float32 inference by rows (forward_rows with accumulate): down_proj's GEMM adds into the residual
    /// rows, no [B, T, D] temporary and no separate add. Elsewhere the default.
    void forward_add(const at::Tensor& x, at::Tensor& residual, int il, const FfnContext& fc) const override;
    at::Tensor forward_train(const at::Tensor& x, int il, const FfnContext& fc) const override;
    std::shared_ptr<const FeedForward> to(const at::Device& device) const override;
    /// x [n, D] -> writes [n, D] into `out` (a contiguous slice of a larger buffer; no hooks), or adds
    /// to it with `accumulate` (down_proj's GEMM with beta = 1). The MoE block runs its experts into one
    /// buffer this way.
    void forward_into(const at::Tensor& x, at::Tensor out, bool accumulate = false) const;
    /// forward_into over equal blocks of about kRowBlock rows: the block's [rows, 2F] gate/up output stays
    /// in cache for the SwiGLU and down_proj. Runs on the calling thread only (meant for one thread
    /// of a row-parallel region, where GEMMs are single-threaded).
    void forward_rows(const at::Tensor& x, at::Tensor out, bool accumulate = false) const;
    static constexpr int64_t kRowBlock = 256;
    void named_tensors(const std::string& prefix, std::map<std::string, at::Tensor>& out) const override;
    std::string kind() const override { return "swiglu"; }
    int64_t n_params() const override;
    int64_t width() const { return n_ff_; }
    at::Tensor gate() const;   ///< [F, D] view
    at::Tensor up() const;     ///< [F, D] view
    const at::Tensor& down() const { return w_down_; }       ///< [D, F]
    const at::Tensor& down_bias() const { return b_down_; }  ///< [D] or undefined

private:
    /// x [N, D] contiguous -> out [N, D] (= or +=): each thread forward_rows over its share (use_row_parallel)
    void run_row_parallel(const at::Tensor& x, at::Tensor& out, bool accumulate) const;
    int64_t n_ff_;
    at::Tensor w_gate_up_;  // [2F, D]
    at::Tensor w_down_;     // [D, F]
    at::Tensor b_down_;     // [D] or undefined
};

/// CPU inference of FFNs by rows: a block of `rows` rows is split into one contiguous share per thread,
/// and each thread runs single-threaded GEMMs over its share (SwiGluFfn::forward_rows). On small
/// models this beats letting the GEMM library split every GEMM over the threads: one fork/join per
/// FFN instead of one per GEMM and elementwise op, and every intermediate stays in that core's cache
/// (demo-llama-7m: docs/benchmarks.md). True when the caller should take this path: a CPU tensor, no
/// autograd, more than one thread, not already in a parallel region, at least kRowParallelMinRows rows per
/// thread, and $D2M_FFN_ROW_PARALLEL not 0.
bool use_row_parallel(const at::Tensor& x, int64_t rows);
constexpr int64_t kRowParallelMinRows = 64;

/// float32 inference attention over at least kHeadAttnMinT new tokens (prefill, perplexity) runs head by head
/// in causal query blocks of kHeadAttnBlock rows (llama.cpp head_attention); shorter steps (decoding)
/// keep the grouped [B, Hkv, rep*T, Dh] products.
constexpr int64_t kHeadAttnMinT = 8;
constexpr int64_t kHeadAttnBlock = 64;

/// at::linear(x, w, b) by rows when use_row_parallel(x, rows) holds (each thread an at::mm_out over
/// its share), else at::linear itself. The attention projections and the vocabulary projection.
at::Tensor linear_rows(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b = at::Tensor());
/// residual += linear_rows(x, w, b) with the sum taken inside the GEMMs (beta = 1: no [.., N] temporary,
/// no separate add) where residual is a contiguous float32 [.., N] of x's rows; else that sum itself.
void linear_rows_add(const at::Tensor& x, const at::Tensor& w, at::Tensor& residual, const at::Tensor& b = at::Tensor());

/// Per-layer key/value cache for incremental decoding.
struct KVCache {
    std::vector<at::Tensor> k, v;  ///< per layer [B, Hkv, capacity, Dh]
    at::Tensor key_mask;           ///< [B, capacity] bool: slot holds a real token
    at::Tensor next_pos;           ///< [B] int64: RoPE position of the next token per row
    int64_t len = 0;               ///< slots used
    int64_t capacity = 0;
};

struct ForwardOptions {
    const ObserverSet* observers = nullptr;
    KVCache* cache = nullptr;
    bool last_only = false;   ///< logits only for the last position of each row
    ExecMode mode = ExecMode::Infer;  ///< the one switch between the fast and the differentiable pass
    const LinearAdapters* adapters = nullptr;  ///< Train mode: low-rank updates of named linear layers
};

class LlamaModel {
public:
    /// Load a HF folder or llama2.c .bin (see io/model_files.h) and convert to compute dtype.
    static std::shared_ptr<LlamaModel> load(const std::string& path, ComputeDType dtype);
    static std::shared_ptr<LlamaModel> from_files(const ModelFiles& files, ComputeDType dtype);
    /// `tensors`: HF keys, already validated against `cfg`.
    static std::shared_ptr<LlamaModel> from_tensors(const LlamaConfig& cfg,
                                                    const std::map<std::string, at::Tensor>& tensors,
                                                    ComputeDType dtype);

    const LlamaConfig& config() const { return cfg_; }
    ComputeDType compute_dtype() const { return dtype_; }
    at::ScalarType scalar_type() const;

    /// ids [B, T] int64; attention_mask [B, T] (1 = token, 0 = pad; left or right padding) or
    /// undefined. Returns float32 logits [B, T, V] ([B, 1, V] with last_only).
    at::Tensor forward(const at::Tensor& ids, const at::Tensor& attention_mask = {},
                       const ForwardOptions& opt = {}) const;
    /// Same pass without lm_head: final-normed hidden states [B, T, D] in compute dtype.
    /// Infer runs without autograd; Train records the graph when grad mode is on.
    at::Tensor hidden_states(const at::Tensor& ids, const at::Tensor& attention_mask = {},
                             const ForwardOptions& opt = {}) const;
    at::Tensor lm_head(const at::Tensor& hidden) const;  ///< [.., D] -> float32 [.., V]

    KVCache new_cache(int64_t batch, int64_t capacity) const;

    std::map<std::string, at::Tensor> named_tensors() const;  ///< HF keys -> tensors (views)
    int64_t n_params() const;  ///< every stored tensor (named_tensors())
    /// What one token's forward pass reads: the trunk plus each FFN's n_active_params().
    int64_t n_active_params() const;
    const FeedForward& ffn(int il) const { return *layers_.at(il).ffn; }
    std::shared_ptr<const FeedForward> ffn_ptr(int il) const { return layers_.at(il).ffn; }
    /// Replace layer il's FFN. Use on a copy from with_ffns() to keep the original intact.
    void set_ffn(int il, std::shared_ptr<const FeedForward> ffn);
    /// A model sharing every trunk tensor with this one, with the given FFNs (one per layer).
    std::shared_ptr<LlamaModel> with_ffns(std::vector<std::shared_ptr<const FeedForward>> ffns) const;
    /// The down_proj weight etc. of a dense layer; throws if layer il is not a SwiGluFfn.
    const SwiGluFfn& dense_ffn(int il) const;

    /// A copy of this model with every tensor on `device` (the FFNs through FeedForward::to).
    std::shared_ptr<LlamaModel> to(const at::Device& device) const;
    at::Device device() const;

    std::string source;  ///< where it was loaded from (for provenance)

private:
    struct Layer {
        at::Tensor attn_norm;  // [D]
        at::Tensor ffn_norm;   // [D]
        at::Tensor w_qkv;      // [(H + 2 Hkv) Dh, D]
        at::Tensor b_qkv;      // [(H + 2 Hkv) Dh] (cfg_.qkv_bias) or undefined
        at::Tensor q_norm;     // [Dh] (cfg_.qk_norm) or undefined
        at::Tensor k_norm;     // [Dh] (cfg_.qk_norm) or undefined
        at::Tensor w_o;        // [D, H Dh]
        std::shared_ptr<const FeedForward> ffn;
    };
    LlamaConfig cfg_;
    ComputeDType dtype_ = ComputeDType::F32;
    at::Tensor tok_embd_;    // [V, D]
    at::Tensor final_norm_;  // [D]
    at::Tensor w_out_;       // [V, D]
    at::Tensor inv_freq_;    // [Dh/2] float32
    std::vector<Layer> layers_;

    at::Tensor run_layers(const at::Tensor& ids, const at::Tensor& attention_mask,
                          const ForwardOptions& opt) const;
    /// ids [B, T] checked (non-empty, inside the vocabulary), int64 on the weights' device.
    at::Tensor token_ids(const at::Tensor& ids) const;
    /// The Train mode of run_layers (model/llama_train.cpp).
    at::Tensor run_layers_train(const at::Tensor& ids, const at::Tensor& attention_mask,
                                const ForwardOptions& opt) const;
};

/// RMSNorm in float32, result in x's dtype: x * w / sqrt(mean(x^2) + eps).
at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& w, double eps);

/// RoPE on x [B, T, nh, Dh] (float32) with cos/sin [B, T, 1, Dh/2], out of place (differentiable).
at::Tensor apply_rope(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin, RopeStyle style);

}  // namespace den2moe
