// Text embeddings of any loaded model, through the engine's forward pass and its hook sites:
//   HS = the final-norm hidden state (LlamaModel::hidden_states) at the last real token (left padding,
//        so position -1), or the mean over real tokens with pooling "mean";
//   RW = the router output of every MoE layer at the last token (the router_logits hook site), raw
//        logits or their softmax over all experts, concatenated layer-major (MOEE-MTEB.md §A4);
//   Den2MoEE (DEN2MOEE.md §4) = HS ⊕ the router logits mean-pooled over the real tokens and averaged
//        over groups of 4 consecutive router layers (the last group holds the L mod 4 remaining layers
//        and is averaged over them), L2-normalised: D + K·ceil(L/4) values.
// TextEncoder computes the raw per-text embeddings once per distinct prompt (they do not depend on the
// batch: masks and positions make each row's computation its own), batching by token length. The MoEE
// views (§A5/A6) are then built per encode call: HS raw; RW and MoEE columns z-scored per chunk of
// `chunk` texts in the call's order, (v − mean)/(std_{n−1} + 1e-8), NaN (a chunk of one) → 0.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace den2moe {

class LlamaModel;
class RunContext;
class Tokenizer;

struct EncoderOptions {
    std::string pooling = "last";     ///< HS: last | mean
    std::string rw_values = "logits"; ///< logits | probs
    int64_t batch = 32;               ///< texts per forward pass (fewer when long: a token budget applies)
    int64_t max_length = 0;           ///< tokens kept per text (its end); 0 = all
    bool append_eos = false;          ///< BOS text EOS: the last token pooled is the tokenizer's EOS
    bool want_rw = true;              ///< capture routing weights (MoE models only); stored as logits
};

/// The token ids an embedding is pooled from, for the evaluator (TextEncoder) and embedding training
/// alike: BOS + `prompt` (the text as eval/prompts.h's moee_prompt formats it) [+ the tokenizer's EOS
/// with append_eos], the END kept when longer than max_length (> 0): the template's close and the EOS stay.
std::vector<int> embedding_token_ids(const Tokenizer& tok, const std::string& prompt, bool append_eos,
                                     int64_t max_length);

/// Raw embeddings of a list of prompts, float64: hs [N, D], rw [N, R] (undefined without routers),
/// rw_mean [N, R] = each layer's router logits mean-pooled over the real tokens (undefined without
/// routers); rw_widths = router outputs per MoE layer, in layer order (Σ = R).
struct RawEmbeddings {
    at::Tensor hs, rw, rw_mean;
    std::vector<int64_t> rw_widths;
};

class TextEncoder {
public:
    TextEncoder(const LlamaModel& model, const Tokenizer& tok, EncoderOptions opt);
    int n_moe_layers() const { return static_cast<int>(moe_layers_.size()); }
    const std::vector<int>& moe_layers() const { return moe_layers_; }
    int64_t rw_dim() const { return rw_dim_; }
    int64_t hs_dim() const;
    /// Raw embeddings of `prompts` in their order (each distinct prompt computed once since clear()).
    /// Progress under `stage`; throws Cancelled between batches.
    RawEmbeddings encode(const std::vector<std::string>& prompts, RunContext& ctx, const std::string& stage);
    const std::vector<int64_t>& rw_widths() const { return rw_width_; }
    /// Remember embeddings computed earlier (a disk cache): raw.hs [N, D]; with routers raw.rw (router
    /// logits at the last token) and raw.rw_mean [N, R]; prompts already known are skipped.
    void preload(const std::vector<std::string>& prompts, const RawEmbeddings& raw);
    /// Everything remembered, in first-seen order (rw as router logits), for a disk cache.
    void snapshot(std::vector<std::string>* prompts, RawEmbeddings* raw) const;
    /// Prompts run through the model since the last clear() (not preloaded).
    int64_t computed_since_clear() const { return computed_; }
    void clear();
    int64_t tokens_encoded() const { return tokens_; }  ///< real tokens run through the model so far
    int64_t texts_encoded() const { return texts_; }

private:
    const LlamaModel& model_;
    const Tokenizer& tok_;
    EncoderOptions opt_;
    std::vector<int> moe_layers_;
    std::vector<int64_t> rw_width_;  ///< router outputs per MoE layer
    int64_t rw_dim_ = 0;
    std::unordered_map<std::string, int64_t> row_;  ///< prompt -> row of the store
    std::vector<at::Tensor> hs_store_, rw_store_, rwm_store_;  ///< blocks of rows, float64
    std::vector<std::pair<int64_t, int64_t>> where_;  ///< row -> (block, row in block)
    std::vector<std::string> order_;                 ///< row -> prompt
    int64_t tokens_ = 0, texts_ = 0, computed_ = 0;
};

/// Column z-scoring per chunk of `chunk` rows: (x − mean)/(std_{n−1} + 1e-8), NaN → 0. x [N, d] float64.
at::Tensor zscore_chunks(const at::Tensor& x, int64_t chunk);

/// The embeddings an evaluator sees for one encode call (MoEE's three outputs, float64):
/// main = the --embedding matrix; hs, rw = MoEE's auxiliary HS and RW (z-scored in rw/moee modes).
struct EmbeddingSet {
    at::Tensor main, hs, rw;
};
/// kind: hs | rw | moee-concat | moee-sum | den2moee.
EmbeddingSet make_embedding_set(const RawEmbeddings& raw, const std::string& kind, int64_t chunk);

/// Router layers per Den2MoEE feature group (DEN2MOEE.md §4: 4 consecutive layers).
constexpr int64_t kDen2MoEEGroup = 4;
/// Den2MoEE's pooling: [hs ; group means of rw_mean] / ||·||₂. hs [N, D], rw_mean [N, Σ widths] (every
/// router layer the same width K); groups of `group` consecutive layers, the last one holding the
/// remainder (L mod group layers, averaged over those). Returns [N, D + K·ceil(L/group)] float64.
/// Throws InvalidInput when the layers' widths differ or there is no router layer.
at::Tensor den2moee_pool(const at::Tensor& hs, const at::Tensor& rw_mean, const std::vector<int64_t>& widths,
                         int64_t group = kDen2MoEEGroup);
/// Width of den2moee_pool's output for `n_router_layers` layers of `width` router outputs each.
inline int64_t den2moee_dim(int64_t hidden, int64_t n_router_layers, int64_t width, int64_t group = kDen2MoEEGroup) {
    return hidden + width * ((n_router_layers + group - 1) / group);
}

}  // namespace den2moe
