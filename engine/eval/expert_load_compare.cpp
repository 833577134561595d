#include "eval/expert_load_compare.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "core/error.h"

namespace den2moe {

double expert_share(const ExpertLoad& load, int layer, size_t d, int e) {
    const size_t L = load.moe_layers.size();
    if (d >= load.domains.size() || e < 0 || e >= load.n_experts || L == 0) return 0.0;
    if (load.share.size() != load.domains.size() * L * size_t(load.n_experts)) return 0.0;
    if (layer >= 0) return size_t(layer) < L ? load.at(d, size_t(layer), size_t(e)) : 0.0;
    double s = 0;
    for (size_t l = 0; l < L; ++l) s += load.at(d, l, size_t(e));
    return s / double(L);
}

namespace {

void check_side(const ExpertLoad& x, int layer, const char* side) {
    D2M_CHECK(!x.domains.empty() && x.n_experts > 0 && !x.moe_layers.empty(), InvalidInput, "expert-load comparison: side ",
              side, " has no measurement (", x.domains.size(), " domains, ", x.n_experts, " experts, ",
              x.moe_layers.size(), " MoE layers)", Hint{"measure it on an MoE model with the project's domains"});
    D2M_CHECK(x.share.size() == x.domains.size() * x.moe_layers.size() * size_t(x.n_experts), InvalidInput,
              "expert-load comparison: side ", side, " holds ", x.share.size(), " shares, expected ",
              x.domains.size() * x.moe_layers.size() * size_t(x.n_experts));
    D2M_CHECK(layer >= -1 && layer < int(x.moe_layers.size()), InvalidInput, "expert-load comparison: side ", side,
              " has MoE layers 0..", x.moe_layers.size() - 1, ", got layer ", layer, Hint{"-1 is the mean over its layers"});
}

double entropy_balance(const std::vector<double>& p) {
    if (p.size() < 2) return 1.0;
    double h = 0;
    for (double v : p)
        if (v > 0) h -= v * std::log(v);
    return h / std::log(double(p.size()));
}

}  // namespace

ExpertLoadComparison compare_expert_load(const ExpertLoad& a, int layer_a, const ExpertLoad& b, int layer_b) {
    check_side(a, layer_a, "a");
    check_side(b, layer_b, "b");
    ExpertLoadComparison c;
    c.n_experts_a = a.n_experts;
    c.n_experts_b = b.n_experts;
    c.layer_a = layer_a;
    c.layer_b = layer_b;
    c.model_layer_a = layer_a >= 0 ? a.moe_layers[size_t(layer_a)] : -1;
    c.model_layer_b = layer_b >= 0 ? b.moe_layers[size_t(layer_b)] : -1;
    c.n_moe_layers_a = a.moe_layers.size();
    c.n_moe_layers_b = b.moe_layers.size();
    c.same_experts = a.n_experts == b.n_experts;
    for (size_t da = 0; da < a.domains.size(); ++da) {
        const auto it = std::find(b.domains.begin(), b.domains.end(), a.domains[da]);
        if (it == b.domains.end()) {
            c.only_a.push_back(a.domains[da]);
            continue;
        }
        const size_t db = size_t(it - b.domains.begin());
        c.domains.push_back(a.domains[da]);
        std::vector<double> sa(size_t(a.n_experts)), sb(size_t(b.n_experts));
        for (int e = 0; e < a.n_experts; ++e) sa[size_t(e)] = expert_share(a, layer_a, da, e);
        for (int e = 0; e < b.n_experts; ++e) sb[size_t(e)] = expert_share(b, layer_b, db, e);
        c.max_share_a.push_back(*std::max_element(sa.begin(), sa.end()));
        c.max_share_b.push_back(*std::max_element(sb.begin(), sb.end()));
        c.balance_a.push_back(entropy_balance(sa));
        c.balance_b.push_back(entropy_balance(sb));
        if (c.same_experts) {
            std::vector<double> d(sa.size());
            double tv = 0;
            for (size_t e = 0; e < sa.size(); ++e) {
                d[e] = sb[e] - sa[e];
                tv += std::abs(d[e]);
            }
            c.delta.push_back(std::move(d));
            c.tv.push_back(0.5 * tv);
        } else {
            c.tv.push_back(std::numeric_limits<double>::quiet_NaN());
        }
        c.share_a.push_back(std::move(sa));
        c.share_b.push_back(std::move(sb));
    }
    for (const auto& d : b.domains)
        if (std::find(a.domains.begin(), a.domains.end(), d) == a.domains.end()) c.only_b.push_back(d);
    D2M_CHECK(!c.domains.empty(), InvalidInput, "expert-load comparison: the two sides share no domain (a: ",
              a.domains.front(), ", ...; b: ", b.domains.front(), ", ...)",
              Hint{"measure both models on the same project's domains"});
    if (!c.same_experts) {
        c.notes.push_back("a has " + std::to_string(a.n_experts) + " experts, b has " + std::to_string(b.n_experts) +
                          ": no per-expert delta; compare the concentration (max share) and balance (entropy)");
    }
    if (a.moe_layers.size() != b.moe_layers.size()) {
        c.notes.push_back("a has " + std::to_string(a.moe_layers.size()) + " MoE layers, b has " +
                          std::to_string(b.moe_layers.size()) + ": each side's layer is chosen on its own");
    }
    if (c.model_layer_a != c.model_layer_b) {
        auto name = [](int l) { return l < 0 ? std::string("the mean over layers") : "layer " + std::to_string(l); };
        c.notes.push_back("a shows " + name(c.model_layer_a) + ", b shows " + name(c.model_layer_b));
    }
    if (!c.only_a.empty() || !c.only_b.empty()) {
        c.notes.push_back(std::to_string(c.only_a.size() + c.only_b.size()) +
                          " domain(s) measured on one side only are left out");
    }
    return c;
}

std::string expert_load_comparison_csv(const ExpertLoadComparison& c) {
    auto field = [](const std::string& s) {
        if (s.find_first_of(",\"\n") == std::string::npos) return s;
        std::string q = "\"";
        for (char ch : s) q += ch == '"' ? std::string("\"\"") : std::string(1, ch);
        return q + "\"";
    };
    auto num = [](double v) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.6g", v);
        return std::string(buf);
    };
    std::string out = "domain,expert,share_a,share_b,delta\n";
    const int E = std::max(c.n_experts_a, c.n_experts_b);
    for (size_t d = 0; d < c.domains.size(); ++d) {
        for (int e = 0; e < E; ++e) {
            out += field(c.domains[d]) + "," + std::to_string(e) + ",";
            out += e < c.n_experts_a ? num(c.share_a[d][size_t(e)]) : std::string();
            out += ",";
            out += e < c.n_experts_b ? num(c.share_b[d][size_t(e)]) : std::string();
            out += ",";
            out += c.same_experts ? num(c.delta[d][size_t(e)]) : std::string();
            out += "\n";
        }
    }
    return out;
}

}  // namespace den2moe
