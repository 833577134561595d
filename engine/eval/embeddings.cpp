// Embeddings through the forward pass (see eval/embeddings.h): prompts tokenised with BOS (HF's
// add_special_tokens for Llama) and, with append_eos, the tokenizer's EOS after them; sorted by length, left-padded in batches; HS from hidden_states, RW
// from the router_logits hook site of each MoE layer at the last position, and the same logits
// mean-pooled over each row's real tokens (the mask; Den2MoEE's pooling).
#include "eval/embeddings.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <numeric>

#include "core/error.h"
#include "core/observers.h"
#include "core/run_context.h"
#include "model/llama.h"
#include "model/moe.h"
#include "tokenizer/tokenizer.h"

namespace den2moe {

namespace {
constexpr int64_t kTokenBudget = 8192;
constexpr int64_t kAttnBudget = int64_t(1) << 22;
}  // namespace

std::vector<int> embedding_token_ids(const Tokenizer& tok, const std::string& prompt, bool append_eos,
                                     int64_t max_length) {
    std::vector<int> ids = tok.encode(prompt, /*add_bos=*/true, /*add_eos=*/append_eos);
    if (max_length > 0 && static_cast<int64_t>(ids.size()) > max_length)
        ids.erase(ids.begin(), ids.end() - max_length);  // keep the end: the template's close, EOS
    return ids;
}

TextEncoder::TextEncoder(const LlamaModel& model, const Tokenizer& tok, EncoderOptions opt)
    : model_(model), tok_(tok), opt_(std::move(opt)) {
    D2M_CHECK(opt_.pooling == "last" || opt_.pooling == "mean", InvalidInput, "pooling must be last or mean, got '",
              opt_.pooling, "'");
    D2M_CHECK(opt_.rw_values == "logits" || opt_.rw_values == "probs", InvalidInput,
              "routing values must be logits or probs, got '", opt_.rw_values, "'");
    D2M_CHECK(!opt_.append_eos || tok.eos_id() >= 0, InvalidInput,
              "append_eos ends every text with the tokenizer's EOS, but this model's tokenizer defines none",
              Hint{"set eos_token in its tokenizer_config.json, or leave out --append-eos"});
    for (int il = 0; il < model.config().n_layer; ++il) {
        if (const auto* moe = dynamic_cast<const MoeFfn*>(&model.ffn(il))) {
            moe_layers_.push_back(il);
            rw_width_.push_back(moe->n_experts() + moe->router().n_null());
            rw_dim_ += rw_width_.back();
        }
    }
    if (!opt_.want_rw) rw_dim_ = 0;
}

int64_t TextEncoder::hs_dim() const { return model_.config().n_embd; }

void TextEncoder::clear() {
    row_.clear();
    hs_store_.clear();
    rw_store_.clear();
    rwm_store_.clear();
    where_.clear();
    order_.clear();
    computed_ = 0;
}

void TextEncoder::preload(const std::vector<std::string>& prompts, const RawEmbeddings& raw) {
    const bool with_rw = rw_dim_ > 0;
    const at::Tensor& hs = raw.hs;
    D2M_CHECK(hs.dim() == 2 && hs.size(0) == static_cast<int64_t>(prompts.size()) && hs.size(1) == hs_dim(),
              InvalidInput, "embedding cache: ", hs.sizes(), " hidden states for ", prompts.size(), " prompts of width ",
              hs_dim());
    const std::vector<int64_t> want = {hs.size(0), rw_dim_};  // [N, R]
    D2M_CHECK(!with_rw || (raw.rw.defined() && raw.rw.sizes() == at::IntArrayRef(want) && raw.rw_mean.defined() &&
                           raw.rw_mean.sizes() == at::IntArrayRef(want)),
              InvalidInput, "embedding cache: routing weights do not fit the model's ", rw_dim_, " router outputs");
    const int64_t block = static_cast<int64_t>(hs_store_.size());
    hs_store_.push_back(hs.to(at::kDouble).contiguous());
    if (with_rw) {
        rw_store_.push_back(raw.rw.to(at::kDouble).contiguous());
        rwm_store_.push_back(raw.rw_mean.to(at::kDouble).contiguous());
    }
    for (size_t i = 0; i < prompts.size(); ++i) {
        if (row_.count(prompts[i])) continue;
        row_[prompts[i]] = static_cast<int64_t>(where_.size());
        where_.emplace_back(block, static_cast<int64_t>(i));
        order_.push_back(prompts[i]);
    }
}

void TextEncoder::snapshot(std::vector<std::string>* prompts, RawEmbeddings* raw) const {
    const int64_t N = static_cast<int64_t>(where_.size());
    *prompts = order_;
    raw->hs = at::empty({N, hs_dim()}, at::kDouble);
    raw->rw_widths = rw_width_;
    if (rw_dim_ > 0) {
        raw->rw = at::empty({N, rw_dim_}, at::kDouble);
        raw->rw_mean = at::empty({N, rw_dim_}, at::kDouble);
    }
    for (int64_t i = 0; i < N; ++i) {
        const auto& w = where_[i];
        raw->hs[i].copy_(hs_store_[w.first][w.second]);
        if (rw_dim_ > 0) {
            raw->rw[i].copy_(rw_store_[w.first][w.second]);
            raw->rw_mean[i].copy_(rwm_store_[w.first][w.second]);
        }
    }
}

RawEmbeddings TextEncoder::encode(const std::vector<std::string>& prompts, RunContext& ctx, const std::string& stage) {
    // the prompts not seen yet, once each
    std::vector<std::string> fresh;
    {
        std::unordered_map<std::string, int> pending;
        for (const auto& p : prompts)
            if (!row_.count(p) && pending.emplace(p, 0).second) fresh.push_back(p);
    }
    const bool with_rw = rw_dim_ > 0;
    if (!fresh.empty()) {
        const int64_t n = static_cast<int64_t>(fresh.size());
        std::vector<std::vector<int>> ids(fresh.size());
        for (size_t i = 0; i < fresh.size(); ++i) ids[i] = embedding_token_ids(tok_, fresh[i], opt_.append_eos, opt_.max_length);
        std::vector<size_t> order(fresh.size());
        std::iota(order.begin(), order.end(), size_t(0));
        std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return ids[a].size() > ids[b].size(); });
        at::Tensor hs = at::empty({n, hs_dim()}, at::kDouble);                      // [n, D]
        at::Tensor rw = with_rw ? at::empty({n, rw_dim_}, at::kDouble) : at::Tensor();   // [n, R]
        at::Tensor rwm = with_rw ? at::empty({n, rw_dim_}, at::kDouble) : at::Tensor();  // [n, R]
        // each MoE layer's router output at the last position lands in its columns of `rw_batch`
        std::vector<int64_t> col(model_.config().n_layer, -1), width(model_.config().n_layer, 0);
        for (size_t m = 0, off = 0; m < moe_layers_.size(); ++m) {
            col[moe_layers_[m]] = static_cast<int64_t>(off);
            width[moe_layers_[m]] = rw_width_[m];
            off += static_cast<size_t>(rw_width_[m]);
        }
        at::Tensor rw_batch, rwm_batch, mask_w;  // [B, R], [B, R]; mask_w [B, T, 1] = mask / real tokens
        ObserverSet obs;
        if (with_rw) {
            obs.add(site::kRouterLogits, [&](const HookEvent& e) {
                if (e.layer < 0 || col[e.layer] < 0) return;
                at::Tensor z = e.tensor.to(at::kDouble);             // [B, T, K] logits
                at::Tensor last = z.select(1, z.size(1) - 1);        // [B, K]
                rw_batch.narrow(1, col[e.layer], width[e.layer]).copy_(last);
                rwm_batch.narrow(1, col[e.layer], width[e.layer]).copy_((z * mask_w).sum(1));  // mean over real tokens
            });
        }
        ForwardOptions fo;
        fo.observers = with_rw ? &obs : nullptr;
        const int64_t max_batch = std::max<int64_t>(1, opt_.batch);
        int64_t done = 0;
        ctx.report(stage, 0, n);
        for (int64_t b0 = 0; b0 < n;) {
            ctx.check_cancelled();
            const int64_t T = std::max<int64_t>(1, static_cast<int64_t>(ids[order[b0]].size()));
            const int64_t fit = std::max<int64_t>(1, std::min({max_batch, kTokenBudget / T, kAttnBudget / (T * T)}));
            const int64_t b1 = std::min(n, b0 + fit), B = b1 - b0;
            at::Tensor x = at::zeros({B, T}, at::kLong), mask = at::zeros({B, T}, at::kLong);  // left-padded [B, T]
            auto px = x.accessor<int64_t, 2>();
            auto pm = mask.accessor<int64_t, 2>();
            for (int64_t r = 0; r < B; ++r) {
                const auto& t = ids[order[b0 + r]];
                const int64_t off = T - static_cast<int64_t>(t.size());
                for (size_t k = 0; k < t.size(); ++k) {
                    px[r][off + static_cast<int64_t>(k)] = t[k];
                    pm[r][off + static_cast<int64_t>(k)] = 1;
                }
                tokens_ += static_cast<int64_t>(t.size());
            }
            if (with_rw) {
                rw_batch = at::empty({B, rw_dim_}, at::kDouble);
                rwm_batch = at::empty({B, rw_dim_}, at::kDouble);
                at::Tensor m = mask.to(at::kDouble);                      // [B, T]
                mask_w = (m / m.sum(1, /*keepdim=*/true)).unsqueeze(-1);  // [B, T, 1]
            }
            at::Tensor h = model_.hidden_states(x, mask, fo);  // [B, T, D]
            at::Tensor e;                                       // [B, D]
            if (opt_.pooling == "last") {
                e = h.select(1, T - 1).to(at::kDouble);
            } else {
                at::Tensor m = mask.to(at::kDouble).unsqueeze(-1);  // [B, T, 1]
                e = (h.to(at::kDouble) * m).sum(1) / m.sum(1);
            }
            at::Tensor rows = at::empty({B}, at::kLong);
            for (int64_t r = 0; r < B; ++r) rows[r] = static_cast<int64_t>(order[b0 + r]);
            hs.index_copy_(0, rows, e);
            if (with_rw) {
                rw.index_copy_(0, rows, rw_batch);
                rwm.index_copy_(0, rows, rwm_batch);
            }
            done += B;
            b0 = b1;
            ctx.report(stage, done, n);
        }
        texts_ += n;
        computed_ += n;
        const int64_t block = static_cast<int64_t>(hs_store_.size());
        hs_store_.push_back(hs);
        if (with_rw) {
            rw_store_.push_back(rw);
            rwm_store_.push_back(rwm);
        }
        for (int64_t i = 0; i < n; ++i) {
            row_[fresh[i]] = static_cast<int64_t>(where_.size());
            where_.emplace_back(block, i);
            order_.push_back(fresh[i]);
        }
    }
    // the requested rows, in order
    const int64_t N = static_cast<int64_t>(prompts.size());
    RawEmbeddings out;
    out.hs = at::empty({N, hs_dim()}, at::kDouble);
    out.rw_widths = rw_width_;
    if (with_rw) {
        out.rw = at::empty({N, rw_dim_}, at::kDouble);
        out.rw_mean = at::empty({N, rw_dim_}, at::kDouble);
    }
    for (int64_t i = 0; i < N; ++i) {
        const auto& w = where_[row_.at(prompts[i])];
        out.hs[i].copy_(hs_store_[w.first][w.second]);
        if (with_rw) {
            out.rw[i].copy_(rw_store_[w.first][w.second]);
            out.rw_mean[i].copy_(rwm_store_[w.first][w.second]);
        }
    }
    if (with_rw && opt_.rw_values == "probs") {  // softmax over each MoE layer's router outputs
        for (size_t m = 0, off = 0; m < rw_width_.size(); off += static_cast<size_t>(rw_width_[m]), ++m) {
            at::Tensor part = out.rw.narrow(1, static_cast<int64_t>(off), rw_width_[m]);
            part.copy_(at::softmax(part, -1));
        }
    }
    return out;
}

at::Tensor zscore_chunks(const at::Tensor& x, int64_t chunk) {
    D2M_CHECK(chunk >= 1, InvalidInput, "z-scoring chunk must be >= 1, got ", chunk);
    at::Tensor out = at::empty_like(x);
    const int64_t N = x.size(0);
    for (int64_t c0 = 0; c0 < N; c0 += chunk) {
        const int64_t n = std::min(chunk, N - c0);
        at::Tensor b = x.narrow(0, c0, n);  // [n, d]
        if (n == 1) {  // std over one row is NaN; NaN → 0
            out.narrow(0, c0, n).zero_();
            continue;
        }
        at::Tensor mean = b.mean(0, /*keepdim=*/true);
        at::Tensor sd = ((b - mean).pow(2).sum(0, /*keepdim=*/true) / double(n - 1)).sqrt();
        at::Tensor z = (b - mean) / (sd + 1e-8);
        out.narrow(0, c0, n).copy_(z.masked_fill(z.isnan(), 0.0));
    }
    return out;
}

at::Tensor den2moee_pool(const at::Tensor& hs, const at::Tensor& rw_mean, const std::vector<int64_t>& widths,
                         int64_t group) {
    D2M_CHECK(!widths.empty() && rw_mean.defined(), InvalidInput,
              "Den2MoEE pooling needs router logits; the model has no router layer");
    D2M_CHECK(group >= 1, InvalidInput, "Den2MoEE pooling: group of ", group, " layers, expected >= 1");
    const int64_t L = static_cast<int64_t>(widths.size()), K = widths[0];
    for (size_t l = 1; l < widths.size(); ++l)
        D2M_CHECK(widths[l] == K, InvalidInput, "Den2MoEE pooling averages router logits over layers, but router layer ",
                  l, " has ", widths[l], " outputs and layer 0 has ", K,
                  Hint{"use --embedding rw or moee-concat for models whose layers have different expert counts"});
    D2M_CHECK(rw_mean.dim() == 2 && rw_mean.size(1) == L * K && hs.dim() == 2 && hs.size(0) == rw_mean.size(0),
              InvalidInput, "Den2MoEE pooling: router features ", rw_mean.sizes(), " for hidden states ", hs.sizes(),
              " expected [", hs.size(0), ", ", L * K, "]");
    const int64_t N = hs.size(0);
    at::Tensor z = rw_mean.to(at::kDouble).view({N, L, K});  // [N, L, K]
    std::vector<at::Tensor> parts = {hs.to(at::kDouble)};
    for (int64_t g0 = 0; g0 < L; g0 += group)  // the last group: the L mod group remaining layers
        parts.push_back(z.narrow(1, g0, std::min(group, L - g0)).mean(1));  // [N, K]
    at::Tensor e = at::cat(parts, 1);  // [N, D + K·ceil(L/group)]
    return e / e.norm(2, 1, /*keepdim=*/true).clamp_min(1e-12);  // torch.nn.functional.normalize
}

EmbeddingSet make_embedding_set(const RawEmbeddings& raw, const std::string& kind, int64_t chunk) {
    EmbeddingSet s;
    if (kind == "hs") {
        s.main = raw.hs;
        s.hs = raw.hs;
        s.rw = raw.rw;
        return s;
    }
    D2M_CHECK(raw.rw.defined(), InvalidInput, "embedding '", kind, "' needs routing weights; the model has no router");
    if (kind == "den2moee") {
        s.main = den2moee_pool(raw.hs, raw.rw_mean, raw.rw_widths);
        s.hs = raw.hs;
        s.rw = raw.rw;
        return s;
    }
    s.hs = zscore_chunks(raw.hs, chunk);
    s.rw = zscore_chunks(raw.rw, chunk);
    if (kind == "rw") s.main = s.rw;
    else if (kind == "moee-concat" || kind == "moee-sum") s.main = at::cat({s.hs, s.rw}, 1);  // per-column: z([h;r]) = [z(h);z(r)]
    else D2M_FAIL(InvalidInput, "unknown embedding kind '", kind, "'", Hint{"hs, rw, moee-concat or moee-sum"});
    return s;
}

}  // namespace den2moe
