// Multiple-choice log-likelihoods (see eval/multiple_choice.h). Per batch of items (sorted by context
// length, left-padded): one forward pass over the contexts fills a KV cache and gives every choice's
// first continuation token from the last context position; the choices with longer continuations then
// run their remaining tokens (right-padded) on copies of their item's cache rows.
#include "eval/multiple_choice.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cstring>
#include <numeric>

#include "core/error.h"
#include "core/run_context.h"
#include "dist/comm.h"
#include "model/llama.h"
#include "tokenizer/tokenizer.h"

namespace den2moe {

namespace {

// Tokens a forward pass may hold, and attention elements per head row block (B·T·T): long MMLU
// contexts get fewer items per batch.
constexpr int64_t kTokenBudget = 8192;
constexpr int64_t kAttnBudget = int64_t(1) << 22;

struct Encoded {
    std::vector<int64_t> context;                  ///< shared by all choices
    std::vector<std::vector<int64_t>> cont;        ///< per choice, ≥ 1 token
};

Encoded encode_item(const Tokenizer& tok, const McPrompt& p, const McOptions& opt, size_t item_index) {
    Encoded e;
    // lm-eval _encode_pair: trailing spaces of the context move to the continuation
    std::string context = p.context;
    size_t n_spaces = 0;
    while (n_spaces < context.size() && context[context.size() - 1 - n_spaces] == ' ') ++n_spaces;
    std::string moved = context.substr(context.size() - n_spaces);
    context.resize(context.size() - n_spaces);
    std::vector<int> ctx = tok.encode(context, opt.bos, false);
    e.context.assign(ctx.begin(), ctx.end());
    for (size_t c = 0; c < p.continuations.size(); ++c) {
        std::vector<int> whole = tok.encode(context + moved + p.continuations[c], opt.bos, false);
        D2M_CHECK(whole.size() > ctx.size(), InvalidInput, "multiple choice: item ", item_index, ", choice ", c,
                  " ('", p.choices[c], "') adds no token to its context", Hint{"an empty answer cannot be scored"});
        e.cont.emplace_back(whole.begin() + static_cast<std::ptrdiff_t>(ctx.size()), whole.end());
    }
    if (opt.max_length > 0) {
        size_t longest = 0;
        for (const auto& c : e.cont) longest = std::max(longest, c.size());
        D2M_CHECK(static_cast<int64_t>(longest) <= opt.max_length, InvalidInput, "multiple choice: item ", item_index,
                  " has a continuation of ", longest, " tokens, more than --max-length ", opt.max_length);
        // the scored window holds context + continuation[:-1]: keep the context's last tokens
        const size_t keep = static_cast<size_t>(opt.max_length) + 1 - longest;
        if (e.context.size() > keep) e.context.erase(e.context.begin(), e.context.end() - static_cast<std::ptrdiff_t>(keep));
    }
    D2M_CHECK(!e.context.empty(), InvalidInput, "multiple choice: item ", item_index, " has an empty context",
              Hint{"use --bos so that the first token has something to condition on"});
    return e;
}

}  // namespace

int64_t utf8_length(const std::string& s) {
    int64_t n = 0;
    for (unsigned char c : s) n += (c & 0xc0) != 0x80;
    return n;
}

std::vector<std::vector<double>> mc_loglikelihoods(const LlamaModel& model, const Tokenizer& tok,
                                                   const std::vector<McPrompt>& items, const McOptions& opt,
                                                   RunContext& ctx, const std::string& stage) {
    const size_t n = items.size();
    std::vector<Encoded> enc(n);
    for (size_t i = 0; i < n; ++i) enc[i] = encode_item(tok, items[i], opt, i);
    std::vector<std::vector<double>> ll(n);
    for (size_t i = 0; i < n; ++i) ll[i].assign(items[i].continuations.size(), 0.0);

    std::vector<size_t> order(n);
    std::iota(order.begin(), order.end(), size_t(0));
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return enc[a].context.size() > enc[b].context.size(); });
    const int64_t max_batch = std::max<int64_t>(1, opt.batch);
    // the batches: the longest context first, as many items as the budgets allow (the same plan on every rank)
    std::vector<std::pair<size_t, size_t>> plan;
    for (size_t b0 = 0; b0 < n;) {
        const int64_t Tc = static_cast<int64_t>(enc[order[b0]].context.size());
        const int64_t fit = std::max<int64_t>(1, std::min({max_batch, kTokenBudget / Tc, kAttnBudget / (Tc * Tc)}));
        const size_t b1 = std::min(n, b0 + static_cast<size_t>(fit));
        plan.emplace_back(b0, b1);
        b0 = b1;
    }
    const int W = opt.comm ? opt.comm->world_size() : 1, R = opt.comm ? opt.comm->rank() : 0;
    auto mine = [&](size_t k) { return static_cast<int>(k % static_cast<size_t>(W)) == R; };
    size_t done = 0, my_items = 0;
    for (size_t k = 0; k < plan.size(); ++k)
        if (mine(k)) my_items += plan[k].second - plan[k].first;
    ctx.report(stage, 0, static_cast<int64_t>(my_items));
    for (size_t k = 0; k < plan.size(); ++k) {
        if (!mine(k)) continue;
        ctx.check_cancelled();
        const size_t b0 = plan[k].first, b1 = plan[k].second;
        const int64_t Tc = static_cast<int64_t>(enc[order[b0]].context.size());
        int64_t max_cont = 1;
        const int64_t B = static_cast<int64_t>(b1 - b0);
        for (size_t j = b0; j < b1; ++j)
            for (const auto& c : enc[order[j]].cont) max_cont = std::max<int64_t>(max_cont, static_cast<int64_t>(c.size()));

        // contexts, left-padded: [B, Tc]
        at::Tensor ids = at::zeros({B, Tc}, at::kLong), mask = at::zeros({B, Tc}, at::kLong);
        for (int64_t r = 0; r < B; ++r) {
            const auto& c = enc[order[b0 + r]].context;
            const int64_t off = Tc - static_cast<int64_t>(c.size());
            auto pi = ids.accessor<int64_t, 2>();
            auto pm = mask.accessor<int64_t, 2>();
            for (size_t t = 0; t < c.size(); ++t) {
                pi[r][off + static_cast<int64_t>(t)] = c[t];
                pm[r][off + static_cast<int64_t>(t)] = 1;
            }
        }
        const bool multi_token = max_cont > 1;
        KVCache cache;
        ForwardOptions fo;
        if (multi_token) {
            cache = model.new_cache(B, Tc + max_cont);
            fo.cache = &cache;
        }
        at::Tensor h = model.hidden_states(ids, mask, fo);                       // [B, Tc, D]
        at::Tensor first = at::log_softmax(model.lm_head(h.select(1, Tc - 1)), -1).to(at::kDouble);  // [B, V]
        auto pf = first.accessor<double, 2>();
        // first continuation token of every choice; collect the choices that need a second pass
        std::vector<int64_t> rows;                  // item row in the batch, per extra sequence
        std::vector<std::pair<size_t, size_t>> who; // (item, choice) per extra sequence
        for (int64_t r = 0; r < B; ++r) {
            const size_t it = order[b0 + r];
            for (size_t c = 0; c < enc[it].cont.size(); ++c) {
                ll[it][c] = pf[r][enc[it].cont[c][0]];
                if (enc[it].cont[c].size() > 1) {
                    rows.push_back(r);
                    who.emplace_back(it, c);
                }
            }
        }
        if (!rows.empty()) {
            const int64_t B2 = static_cast<int64_t>(rows.size()), L = max_cont - 1;
            at::Tensor sel = at::tensor(rows, at::kLong);
            KVCache c2;
            c2.capacity = cache.capacity;
            c2.len = cache.len;
            for (size_t il = 0; il < cache.k.size(); ++il) {
                c2.k.push_back(cache.k[il].index_select(0, sel));
                c2.v.push_back(cache.v[il].index_select(0, sel));
            }
            c2.key_mask = cache.key_mask.index_select(0, sel);
            c2.next_pos = cache.next_pos.index_select(0, sel);
            // continuation tokens but the last, right-padded: [B2, L]
            at::Tensor ids2 = at::zeros({B2, L}, at::kLong), mask2 = at::zeros({B2, L}, at::kLong);
            auto pi = ids2.accessor<int64_t, 2>();
            auto pm = mask2.accessor<int64_t, 2>();
            for (int64_t r = 0; r < B2; ++r) {
                const auto& c = enc[who[r].first].cont[who[r].second];
                for (size_t t = 0; t + 1 < c.size(); ++t) {
                    pi[r][static_cast<int64_t>(t)] = c[t];
                    pm[r][static_cast<int64_t>(t)] = 1;
                }
            }
            ForwardOptions fo2;
            fo2.cache = &c2;
            at::Tensor h2 = model.hidden_states(ids2, mask2, fo2);              // [B2, L, D]
            // every scored position in one vocabulary projection: position t of row r predicts c[t + 1]
            std::vector<int64_t> flat, tgt, owner;
            for (int64_t r = 0; r < B2; ++r) {
                const auto& c = enc[who[r].first].cont[who[r].second];
                for (size_t t = 0; t + 1 < c.size(); ++t) {
                    flat.push_back(r * L + static_cast<int64_t>(t));
                    tgt.push_back(c[t + 1]);
                    owner.push_back(r);
                }
            }
            at::Tensor hs = h2.reshape({B2 * L, h2.size(2)}).index_select(0, at::tensor(flat, at::kLong));  // [P, D]
            at::Tensor lp = at::log_softmax(model.lm_head(hs), -1);                                          // [P, V]
            at::Tensor picked = lp.gather(1, at::tensor(tgt, at::kLong).unsqueeze(1)).squeeze(1).to(at::kDouble);
            auto pp = picked.accessor<double, 1>();
            for (size_t q = 0; q < flat.size(); ++q) ll[who[owner[q]].first][who[owner[q]].second] += pp[static_cast<int64_t>(q)];
        }
        done += static_cast<size_t>(B);
        ctx.report(stage, static_cast<int64_t>(done), static_cast<int64_t>(my_items));
    }
    if (W > 1) {
        // every rank's batches, in its plan order: item by item, choice by choice, the raw doubles
        std::string bytes;
        for (size_t k = 0; k < plan.size(); ++k) {
            if (!mine(k)) continue;
            for (size_t r = plan[k].first; r < plan[k].second; ++r)
                for (double v : ll[order[r]]) bytes.append(reinterpret_cast<const char*>(&v), sizeof v);
        }
        const std::vector<std::string> got = opt.comm->all_gather_bytes(bytes);
        for (int q = 0; q < W; ++q) {
            if (q == R) continue;
            const std::string& b = got[static_cast<size_t>(q)];
            size_t off = 0;
            for (size_t k = static_cast<size_t>(q); k < plan.size(); k += static_cast<size_t>(W)) {
                for (size_t r = plan[k].first; r < plan[k].second; ++r) {
                    for (double& v : ll[order[r]]) {
                        D2M_CHECK(off + sizeof v <= b.size(), Internal, "multiple choice: rank ", q, " sent ", b.size(),
                                  " bytes of log-likelihoods, fewer than its batches hold");
                        std::memcpy(&v, b.data() + off, sizeof v);
                        off += sizeof v;
                    }
                }
            }
            D2M_CHECK(off == b.size(), Internal, "multiple choice: rank ", q, " sent ", b.size(), " bytes, expected ", off);
        }
    }
    return ll;
}

McOutcome score_mc(const std::vector<McPrompt>& items, const std::vector<std::vector<double>>& loglik) {
    D2M_ASSERT(items.size() == loglik.size());
    McOutcome o;
    for (size_t i = 0; i < items.size(); ++i) {
        const auto& l = loglik[i];
        size_t best = 0, best_norm = 0;
        double bn = l[0] / static_cast<double>(std::max<int64_t>(1, utf8_length(items[i].choices[0])));
        for (size_t c = 1; c < l.size(); ++c) {
            if (l[c] > l[best]) best = c;
            const double v = l[c] / static_cast<double>(std::max<int64_t>(1, utf8_length(items[i].choices[c])));
            if (v > bn) {
                bn = v;
                best_norm = c;
            }
        }
        o.pred.push_back(static_cast<int>(best));
        o.pred_norm.push_back(static_cast<int>(best_norm));
        o.acc.push_back(static_cast<int>(best) == items[i].gold ? 1.0 : 0.0);
        o.acc_norm.push_back(static_cast<int>(best_norm) == items[i].gold ? 1.0 : 0.0);
    }
    return o;
}

}  // namespace den2moe
