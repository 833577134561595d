#include "eval/routing.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <map>

#include "core/error.h"
#include "core/run_context.h"
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

}  // namespace den2moe
