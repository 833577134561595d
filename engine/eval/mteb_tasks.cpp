// MTEB 1.14 evaluators (see eval/mteb_tasks.h), written from STSEvaluator, logRegClassificationEvaluator +
// AbsTaskClassification, ClusteringEvaluator + AbsTaskClustering, PairClassificationEvaluator and
// RerankingEvaluator as MOEE-MTEB.md Part B describes them, with MoEE's §A7 edits for moee-sum.
#include "eval/mteb_tasks.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <unordered_map>

#include "core/error.h"
#include "core/run_context.h"
#include "eval/classifiers.h"
#include "eval/metrics.h"

namespace den2moe {

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// JSON has no NaN: MTEB's files hold null where numpy gave nan.
nlohmann::json num(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }

bool is_sum(const MtebParams& p) { return p.kind == "moee-sum"; }

std::vector<double> add_scaled(std::vector<double> a, const std::vector<double>& b, double alpha) {
    for (size_t i = 0; i < a.size(); ++i) a[i] += alpha * b[i];
    return a;
}
}  // namespace

std::vector<double> to_vector(const at::Tensor& x) {
    at::Tensor c = x.to(at::kDouble).contiguous();
    return std::vector<double>(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
}

// ---------------------------------------------------------------------------------------------
// STS

MtebOutcome run_sts(const StsData& d, const EncodeFn& encode, const MtebParams& p) {
    const EmbeddingSet e1 = encode("sentence1", d.sentence1);  // two separate calls, as STSEvaluator
    const EmbeddingSet e2 = encode("sentence2", d.sentence2);
    const int64_t dm = e1.main.size(1);
    const auto m1 = to_vector(e1.main), m2 = to_vector(e2.main);
    const std::vector<double>& g = d.score;  // (score - 0) / 5 changes no correlation
    std::vector<double> gold(g.size());
    for (size_t i = 0; i < g.size(); ++i) gold[i] = g[i] / 5.0;
    std::vector<double> man = metrics::paired_manhattan(m1, m2, dm), euc = metrics::paired_euclidean(m1, m2, dm);
    for (auto& v : man) v = -v;
    for (auto& v : euc) v = -v;
    MtebOutcome o;
    nlohmann::json& s = o.scores;
    s["manhattan_pearson"] = num(metrics::pearson(gold, man));
    s["manhattan_spearman"] = num(metrics::spearman(gold, man));
    s["euclidean_pearson"] = num(metrics::pearson(gold, euc));
    s["euclidean_spearman"] = num(metrics::spearman(gold, euc));
    if (is_sum(p)) {
        const int64_t dh = e1.hs.size(1), dr = e1.rw.size(1);
        const auto ch = metrics::paired_cosine(to_vector(e1.hs), to_vector(e2.hs), dh);
        const auto cr = metrics::paired_cosine(to_vector(e1.rw), to_vector(e2.rw), dr);
        const auto sum = add_scaled(ch, cr, p.alpha);
        s["cosine_pearson"] = num(metrics::pearson(gold, sum));
        s["cosine_spearman"] = num(metrics::spearman(gold, sum));
        s["pearson"] = num(metrics::pearson(gold, ch) + p.alpha * metrics::pearson(gold, cr));
        s["spearman"] = num(metrics::spearman(gold, ch) + p.alpha * metrics::spearman(gold, cr));
        o.combination = "cosine_spearman = Spearman(gold, cos(HS) + alpha*cos(RW)) on z-scored HS and RW; "
                        "spearman/pearson = rho(HS) + alpha*rho(RW); manhattan/euclidean on [HS;RW]";
    } else {
        const auto cos = metrics::paired_cosine(m1, m2, dm);
        s["cosine_pearson"] = num(metrics::pearson(gold, cos));
        s["cosine_spearman"] = num(metrics::spearman(gold, cos));
        s["pearson"] = s["cosine_pearson"];
        s["spearman"] = s["cosine_spearman"];
    }
    o.main_score = s["cosine_spearman"].is_null() ? kNaN : s["cosine_spearman"].get<double>();
    o.chance = 0.0;
    o.n_items = static_cast<int64_t>(gold.size());
    return o;
}

// ---------------------------------------------------------------------------------------------
// Classification

std::vector<int64_t> undersample(std::vector<int64_t>& idxs, const std::vector<int64_t>& labels, int64_t per_label,
                                 uint32_t seed) {
    NumpyRandomState rng(seed);  // the evaluator's constructor reseeded the global RNG
    rng.shuffle(idxs);
    std::map<int64_t, int64_t> count;
    std::vector<int64_t> kept;
    for (int64_t i : idxs) {
        if (count[labels[static_cast<size_t>(i)]] < per_label) {
            kept.push_back(i);
            ++count[labels[static_cast<size_t>(i)]];
        }
    }
    return kept;
}

MtebOutcome run_classification(const ClassificationData& d, const EncodeFn& encode, const MtebParams& p,
                               RunContext& ctx) {
    std::vector<int64_t> idxs(d.train_text.size());
    for (size_t i = 0; i < idxs.size(); ++i) idxs[i] = static_cast<int64_t>(i);
    EmbeddingSet test;  // encoded once (MTEB's test_cache), after the first training subset
    nlohmann::json per_exp = nlohmann::json::array();
    std::map<std::string, std::vector<double>> acc;
    for (int64_t e = 0; e < p.n_experiments; ++e) {
        ctx.check_cancelled();
        const std::vector<int64_t> kept = undersample(idxs, d.train_label, p.samples_per_label, static_cast<uint32_t>(p.seed));
        std::vector<std::string> texts;
        std::vector<int64_t> y;
        for (int64_t i : kept) {
            texts.push_back(d.train_text[static_cast<size_t>(i)]);
            y.push_back(d.train_label[static_cast<size_t>(i)]);
        }
        const EmbeddingSet train = encode("train_" + std::to_string(e), texts);
        if (!test.main.defined()) test = encode("test", d.test_text);
        std::vector<int64_t> pred;
        if (is_sum(p)) {
            // MoEE (sum): two regressions, their predicted label ids combined as numbers and truncated
            LogRegOptions lo;
            lo.mean_loss = p.logreg_mean_loss;
            LogisticRegression lh(lo), lr(lo);
            lh.fit(train.hs, y);
            lr.fit(train.rw, y);
            const auto ph = lh.predict(test.hs), pr = lr.predict(test.rw);
            for (size_t i = 0; i < ph.size(); ++i)
                pred.push_back(static_cast<int64_t>((double(ph[i]) + p.alpha * double(pr[i])) / (1.0 + p.alpha)));
        } else {
            LogRegOptions lo;
            lo.mean_loss = p.logreg_mean_loss;
            LogisticRegression lr(lo);
            lr.fit(train.main, y);
            pred = lr.predict(test.main);
        }
        nlohmann::json s;
        s["accuracy"] = metrics::accuracy(d.test_label, pred);
        s["f1"] = metrics::f1_macro(d.test_label, pred);
        s["f1_weighted"] = metrics::f1_weighted(d.test_label, pred);
        if (std::set<int64_t>(y.begin(), y.end()).size() == 2) {
            // average precision of the hard predictions (binary: "macro" and "weighted" coincide)
            std::vector<int> rel;
            std::vector<double> sc;
            for (size_t i = 0; i < pred.size(); ++i) {
                rel.push_back(d.test_label[i] == 1 ? 1 : 0);
                sc.push_back(static_cast<double>(pred[i]));
            }
            s["ap"] = metrics::average_precision(rel, sc);
            s["ap_weighted"] = s["ap"];
        }
        for (auto it = s.begin(); it != s.end(); ++it) acc[it.key()].push_back(it.value().get<double>());
        per_exp.push_back(s);
    }
    MtebOutcome o;
    for (const auto& kv : acc) o.scores[kv.first] = metrics::mean_of(kv.second);
    o.scores["scores_per_experiment"] = per_exp;
    o.main_score = o.scores["accuracy"].get<double>();
    o.chance = 1.0 / static_cast<double>(std::set<int64_t>(d.train_label.begin(), d.train_label.end()).size());
    o.n_items = static_cast<int64_t>(d.test_text.size());
    if (is_sum(p))
        o.combination = "label arithmetic as MoEE's code: two logistic regressions (HS, RW), predicted label "
                        "trunc((y_HS + alpha*y_RW)/(1+alpha)) (MOEE-MTEB.md A7)";
    return o;
}

// ---------------------------------------------------------------------------------------------
// Clustering

MtebOutcome run_clustering(const ClusteringData& d, const EncodeFn& encode, const MtebParams& p, RunContext& ctx) {
    std::vector<double> v, chance;
    for (size_t s = 0; s < d.sets.size(); ++s) {
        ctx.check_cancelled();
        const EmbeddingSet e = encode("set_" + std::to_string(s), d.sets[s]);
        KMeansOptions ko;
        ko.n_clusters = static_cast<int64_t>(std::set<int64_t>(d.labels[s].begin(), d.labels[s].end()).size());
        ko.first_centre_by_choice = p.kmeans_first_by_choice;
        NumpyRandomState rng(static_cast<uint32_t>(p.seed));  // each evaluator reseeds
        std::vector<int64_t> pred;
        if (is_sum(p)) {
            const auto ch = minibatch_kmeans(e.hs, ko, rng);
            const auto cr = minibatch_kmeans(e.rw, ko, rng);  // the stream continues
            std::vector<double> mixed(ch.size());
            for (size_t i = 0; i < ch.size(); ++i) mixed[i] = (double(ch[i]) + p.alpha * double(cr[i])) / (1.0 + p.alpha);
            pred = metrics::category_ids(mixed);
        } else {
            pred = minibatch_kmeans(e.main, ko, rng);
        }
        v.push_back(metrics::v_measure(d.labels[s], pred));
        // chance: the v-measure of uniformly random cluster ids (not 0 for many clusters on few texts)
        NumpyRandomState rr(static_cast<uint32_t>(p.seed) + 1);
        chance.push_back(metrics::v_measure(d.labels[s], rr.randint(0, ko.n_clusters, static_cast<int64_t>(pred.size()))));
    }
    MtebOutcome o;
    o.scores["v_measure"] = metrics::mean_of(v);
    o.scores["v_measure_std"] = metrics::population_std(v);
    o.scores["v_measures"] = v;
    o.main_score = o.scores["v_measure"].get<double>();
    o.chance = metrics::mean_of(chance);
    for (const auto& s : d.sets) o.n_items += static_cast<int64_t>(s.size());
    if (is_sum(p))
        o.combination = "label arithmetic as MoEE's code: MiniBatchKMeans on HS then on RW (one random stream), "
                        "cluster id (c_HS + alpha*c_RW)/(1+alpha) taken as a category (MOEE-MTEB.md A7)";
    return o;
}

// ---------------------------------------------------------------------------------------------
// PairClassification

MtebOutcome run_pair_classification(const PairData& d, const EncodeFn& encode, const MtebParams& p) {
    std::vector<std::string> uniq;
    std::unordered_map<std::string, int64_t> at;
    for (const auto* list : {&d.sentence1, &d.sentence2})
        for (const auto& s : *list)
            if (at.emplace(s, static_cast<int64_t>(uniq.size())).second) uniq.push_back(s);
    const EmbeddingSet e = encode("sentences", uniq);
    auto rows = [&](const at::Tensor& m, const std::vector<std::string>& which) {
        std::vector<int64_t> idx;
        for (const auto& s : which) idx.push_back(at.at(s));
        return to_vector(m.index_select(0, at::tensor(idx, at::kLong)));
    };
    const int64_t dm = e.main.size(1);
    const auto m1 = rows(e.main, d.sentence1), m2 = rows(e.main, d.sentence2);
    std::vector<double> cosine, manhattan, euclidean;
    const std::vector<double> dot = metrics::paired_dot(m1, m2, dm);
    if (is_sum(p)) {
        const int64_t dh = e.hs.size(1), dr = e.rw.size(1);
        const auto h1 = rows(e.hs, d.sentence1), h2 = rows(e.hs, d.sentence2);
        const auto r1 = rows(e.rw, d.sentence1), r2 = rows(e.rw, d.sentence2);
        cosine = add_scaled(metrics::paired_cosine(h1, h2, dh), metrics::paired_cosine(r1, r2, dr), p.alpha);
        manhattan = add_scaled(metrics::paired_manhattan(h1, h2, dh), metrics::paired_manhattan(r1, r2, dr), p.alpha);
        euclidean = add_scaled(metrics::paired_euclidean(h1, h2, dh), metrics::paired_euclidean(r1, r2, dr), p.alpha);
    } else {
        cosine = metrics::paired_cosine(m1, m2, dm);
        manhattan = metrics::paired_manhattan(m1, m2, dm);
        euclidean = metrics::paired_euclidean(m1, m2, dm);
    }
    MtebOutcome o;
    std::map<std::string, double> best = {{"accuracy", 0}, {"f1", 0}, {"precision", 0}, {"recall", 0}, {"ap", 0}};
    const std::vector<std::tuple<std::string, const std::vector<double>*, bool>> families = {
        {"similarity", &cosine, true}, {"cosine", &cosine, true}, {"manhattan", &manhattan, false},
        {"euclidean", &euclidean, false}, {"dot", &dot, true}};
    for (const auto& [name, scores, high] : families) {
        const metrics::PairMetrics m = metrics::pair_metrics(*scores, d.label, high);
        o.scores[name + "_accuracy"] = m.accuracy;
        o.scores[name + "_accuracy_threshold"] = m.accuracy_threshold;
        o.scores[name + "_f1"] = m.f1;
        o.scores[name + "_f1_threshold"] = m.f1_threshold;
        o.scores[name + "_precision"] = m.precision;
        o.scores[name + "_recall"] = m.recall;
        o.scores[name + "_ap"] = m.ap;
        best["accuracy"] = std::max(best["accuracy"], m.accuracy);
        best["f1"] = std::max(best["f1"], m.f1);
        best["precision"] = std::max(best["precision"], m.precision);
        best["recall"] = std::max(best["recall"], m.recall);
        best["ap"] = std::max(best["ap"], m.ap);
    }
    for (const auto& kv : best) o.scores["max_" + kv.first] = kv.second;
    o.main_score = best["ap"];
    int64_t pos = 0;
    for (int l : d.label) pos += l == 1;
    o.chance = metrics::expected_random_ap(pos, static_cast<int64_t>(d.label.size()));
    o.n_items = static_cast<int64_t>(d.label.size());
    if (is_sum(p))
        o.combination = "cosine = cos(HS) + alpha*cos(RW), manhattan = L1(HS) + alpha*L1(RW), euclidean = L2(HS) + "
                        "alpha*L2(RW), similarity = the cosine sum; dot on [HS;RW] (MOEE-MTEB.md A7)";
    return o;
}

// ---------------------------------------------------------------------------------------------
// Reranking

MtebOutcome run_reranking(const RerankingData& d, const EncodeFn& encode, const MtebParams& p) {
    std::vector<std::string> queries;
    for (const auto& s : d.samples) queries.push_back(s.query);
    const EmbeddingSet q = encode("queries", queries);
    // candidates: per sample its positives then negatives, de-duplicated by first occurrence
    std::vector<std::string> uniq;
    std::unordered_map<std::string, int64_t> at;
    for (const auto& s : d.samples)
        for (const auto* list : {&s.positive, &s.negative})
            for (const auto& t : *list)
                if (at.emplace(t, static_cast<int64_t>(uniq.size())).second) uniq.push_back(t);
    const EmbeddingSet docs = encode("docs", uniq);
    const auto qm = to_vector(q.main), dmv = to_vector(docs.main);
    const int64_t dm = q.main.size(1);
    std::vector<double> qh, dh, qr, dr;
    int64_t dhd = 0, drd = 0;
    if (is_sum(p)) {
        qh = to_vector(q.hs);
        dh = to_vector(docs.hs);
        qr = to_vector(q.rw);
        dr = to_vector(docs.rw);
        dhd = q.hs.size(1);
        drd = q.rw.size(1);
    }
    std::vector<double> aps, mrrs, chance;
    for (size_t i = 0; i < d.samples.size(); ++i) {
        const auto& s = d.samples[i];
        if (s.positive.empty() || s.negative.empty()) continue;
        std::vector<int> rel;
        std::vector<double> sim, sim_ap;
        for (const auto* list : {&s.positive, &s.negative}) {
            for (const auto& t : *list) {
                const int64_t j = at.at(t);
                rel.push_back(list == &s.positive ? 1 : 0);
                sim.push_back(metrics::cos_sim(qm.data() + i * dm, dmv.data() + j * dm, dm));
                if (is_sum(p))
                    sim_ap.push_back(metrics::cos_sim(qh.data() + i * dhd, dh.data() + j * dhd, dhd) +
                                     p.alpha * metrics::cos_sim(qr.data() + i * drd, dr.data() + j * drd, drd));
            }
        }
        aps.push_back(metrics::average_precision(rel, is_sum(p) ? sim_ap : sim));
        mrrs.push_back(metrics::mrr_at_k(rel, sim, 10));
        chance.push_back(metrics::expected_random_ap(static_cast<int64_t>(s.positive.size()),
                                                     static_cast<int64_t>(rel.size())));
    }
    MtebOutcome o;
    o.scores["map"] = metrics::mean_of(aps);
    o.scores["mrr"] = metrics::mean_of(mrrs);
    o.main_score = o.scores["map"].is_null() ? kNaN : o.scores["map"].get<double>();
    o.chance = metrics::mean_of(chance);  // MAP of random rankings
    o.n_items = static_cast<int64_t>(aps.size());
    if (is_sum(p))
        o.combination = "MAP on cos(HS) + alpha*cos(RW); MRR@10 on the cosine of [HS;RW] (MOEE-MTEB.md A7)";
    return o;
}

}  // namespace den2moe
