#include "eval/routing.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <map>

#include "core/error.h"
#include "core/observers.h"
#include "core/run_context.h"
#include "data/corpus.h"
#include "model/llama.h"
#include "tokenizer/tokenizer.h"

namespace den2moe {

RoutingTrace trace_routing(const LlamaModel& model, const Tokenizer& tok, const std::string& text) {
    RoutingTrace tr;
    tr.ids = tok.encode(text, true, false);
    D2M_CHECK(!tr.ids.empty(), InvalidInput, "routing: the text encodes to no tokens");
    int prev = -1;
    for (int id : tr.ids) {
        tr.pieces.push_back(tok.decode_piece(prev, id));
        prev = id;
    }
    tr.n_layers = static_cast<int>(model.config().n_layer);
    std::map<int, at::Tensor> probs;
    ObserverSet obs;
    obs.add(site::kRouterProbs, [&](const HookEvent& e) { probs[e.layer] = e.tensor.to(at::kFloat).squeeze(0).clone(); });
    ForwardOptions fo;
    fo.observers = &obs;
    fo.last_only = true;
    std::vector<int64_t> ids64(tr.ids.begin(), tr.ids.end());
    model.forward(at::tensor(ids64, at::kLong).unsqueeze(0), {}, fo);
    D2M_CHECK(!probs.empty(), Incompatible, "routing: the model ", model.source, " has no MoE layer to trace",
              Hint{"convert it first (den2moe convert), then trace the converted folder"});
    for (auto& kv : probs) {
        at::Tensor p = kv.second.contiguous();  // [T, E]
        const int64_t T = p.size(0), E = p.size(1);
        tr.n_experts = static_cast<int>(E);
        tr.moe_layers.push_back(kv.first);
        std::vector<std::vector<RoutedExpert>> layer(static_cast<size_t>(T));
        std::vector<double> load(static_cast<size_t>(E), 0.0);
        const float* d = p.data_ptr<float>();
        for (int64_t t = 0; t < T; ++t) {
            for (int64_t e = 0; e < E; ++e) {
                if (d[t * E + e] > 0.0f) {
                    layer[t].push_back({static_cast<int>(e), d[t * E + e]});
                    load[e] += 1.0 / static_cast<double>(T);
                }
            }
            std::stable_sort(layer[t].begin(), layer[t].end(),
                             [](const RoutedExpert& a, const RoutedExpert& b) { return a.weight > b.weight; });
        }
        tr.picks.push_back(std::move(layer));
        tr.load.push_back(std::move(load));
    }
    return tr;
}

ExpertLoad expert_load(const LlamaModel& model, const Tokenizer& tok, const std::vector<std::string>& names,
                       const std::vector<std::vector<std::string>>& files, int64_t max_tokens, int64_t seq,
                       int64_t batch) {
    D2M_CHECK(names.size() == files.size() && !names.empty(), InvalidInput, "expert load: ", names.size(),
              " domain names for ", files.size(), " file lists");
    ExpertLoad out;
    out.domains = names;
    std::map<int, at::Tensor> counts;  // layer -> [E] selections
    ObserverSet obs;
    obs.add(site::kRouterProbs, [&](const HookEvent& e) {
        at::Tensor sel = (e.tensor > 0).reshape({-1, e.tensor.size(-1)}).sum(0).to(at::kDouble);
        auto it = counts.find(e.layer);
        if (it == counts.end()) counts[e.layer] = sel;
        else it->second += sel;
    });
    ForwardOptions fo;
    fo.observers = &obs;
    fo.last_only = true;
    for (size_t d = 0; d < names.size(); ++d) {
        counts.clear();
        std::vector<int> stream = tokenize_stream(tok, read_records(CorpusSpec{files[d], "", "", 0}), max_tokens);
        const int64_t nw = static_cast<int64_t>(stream.size()) / seq;
        D2M_CHECK(nw >= 1, InvalidInput, "expert load: domain '", names[d], "' has fewer than ", seq, " tokens");
        at::Tensor ids = at::tensor(std::vector<int64_t>(stream.begin(), stream.begin() + nw * seq), at::kLong).view({nw, seq});
        for (int64_t b = 0; b < nw; b += batch) model.forward(ids.slice(0, b, std::min(nw, b + batch)), {}, fo);
        D2M_CHECK(!counts.empty(), Incompatible, "expert load: the model ", model.source, " has no MoE layer");
        if (d == 0) {
            for (auto& kv : counts) out.moe_layers.push_back(kv.first);
            out.n_experts = static_cast<int>(counts.begin()->second.numel());
        }
        for (int l : out.moe_layers) {
            at::Tensor c = counts.at(l);
            c = c / c.sum();
            for (int64_t e = 0; e < c.numel(); ++e) out.share.push_back(c[e].item<double>());
        }
    }
    return out;
}

}  // namespace den2moe
