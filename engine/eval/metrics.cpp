// The metrics of eval/metrics.h, written from the scipy 1.10 / sklearn 1.2 definitions.
#include "eval/metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>
#include <set>

#include "core/error.h"

namespace den2moe::metrics {

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

void check_same_size(size_t a, size_t b, const char* what) {
    D2M_CHECK(a == b, InvalidInput, what, ": inputs of different lengths (", a, " and ", b, ")");
}
void check_rows(const std::vector<double>& a, const std::vector<double>& b, int64_t d) {
    D2M_CHECK(d > 0 && a.size() == b.size() && a.size() % static_cast<size_t>(d) == 0, InvalidInput,
              "paired scores: matrices of ", a.size(), " and ", b.size(), " values are not [n, ", d, "] each");
}
}  // namespace

double pearson(const std::vector<double>& x, const std::vector<double>& y) {
    check_same_size(x.size(), y.size(), "pearson");
    const size_t n = x.size();
    if (n < 2) return kNaN;
    bool cx = true, cy = true;
    for (size_t i = 1; i < n; ++i) {
        cx = cx && x[i] == x[0];
        cy = cy && y[i] == y[0];
    }
    if (cx || cy) return kNaN;  // scipy: ConstantInputWarning, statistic nan
    // scipy 1.10: r = dot(xm / |xm|, ym / |ym|), clipped to [-1, 1]
    const double mx = std::accumulate(x.begin(), x.end(), 0.0) / double(n);
    const double my = std::accumulate(y.begin(), y.end(), 0.0) / double(n);
    double nx = 0, ny = 0;
    for (size_t i = 0; i < n; ++i) {
        nx += (x[i] - mx) * (x[i] - mx);
        ny += (y[i] - my) * (y[i] - my);
    }
    nx = std::sqrt(nx);
    ny = std::sqrt(ny);
    double r = 0;
    for (size_t i = 0; i < n; ++i) r += ((x[i] - mx) / nx) * ((y[i] - my) / ny);
    return std::max(-1.0, std::min(1.0, r));
}

std::vector<double> average_ranks(const std::vector<double>& x) {
    const size_t n = x.size();
    std::vector<size_t> order(n);
    std::iota(order.begin(), order.end(), size_t(0));
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return x[a] < x[b]; });
    std::vector<double> r(n);
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j + 1 < n && x[order[j + 1]] == x[order[i]]) ++j;
        const double mean_rank = 0.5 * double(i + 1 + j + 1);  // positions i..j, 1-based
        for (size_t k = i; k <= j; ++k) r[order[k]] = mean_rank;
        i = j + 1;
    }
    return r;
}

double spearman(const std::vector<double>& x, const std::vector<double>& y) {
    check_same_size(x.size(), y.size(), "spearman");
    return pearson(average_ranks(x), average_ranks(y));
}

std::vector<double> paired_cosine(const std::vector<double>& a, const std::vector<double>& b, int64_t d) {
    check_rows(a, b, d);
    const size_t n = a.size() / static_cast<size_t>(d);
    std::vector<double> out(n);
    for (size_t i = 0; i < n; ++i) {
        const double* pa = a.data() + i * d;
        const double* pb = b.data() + i * d;
        double na = 0, nb = 0;
        for (int64_t k = 0; k < d; ++k) {
            na += pa[k] * pa[k];
            nb += pb[k] * pb[k];
        }
        na = std::sqrt(na);
        nb = std::sqrt(nb);
        if (na == 0) na = 1;  // sklearn normalize(): a zero row stays zero
        if (nb == 0) nb = 1;
        double sq = 0;
        for (int64_t k = 0; k < d; ++k) {
            const double t = pa[k] / na - pb[k] / nb;
            sq += t * t;
        }
        out[i] = 1.0 - 0.5 * sq;
    }
    return out;
}

std::vector<double> paired_manhattan(const std::vector<double>& a, const std::vector<double>& b, int64_t d) {
    check_rows(a, b, d);
    const size_t n = a.size() / static_cast<size_t>(d);
    std::vector<double> out(n, 0.0);
    for (size_t i = 0; i < n; ++i)
        for (int64_t k = 0; k < d; ++k) out[i] += std::fabs(a[i * d + k] - b[i * d + k]);
    return out;
}

std::vector<double> paired_euclidean(const std::vector<double>& a, const std::vector<double>& b, int64_t d) {
    check_rows(a, b, d);
    const size_t n = a.size() / static_cast<size_t>(d);
    std::vector<double> out(n, 0.0);
    for (size_t i = 0; i < n; ++i) {
        double s = 0;
        for (int64_t k = 0; k < d; ++k) {
            const double t = a[i * d + k] - b[i * d + k];
            s += t * t;
        }
        out[i] = std::sqrt(s);
    }
    return out;
}

std::vector<double> paired_dot(const std::vector<double>& a, const std::vector<double>& b, int64_t d) {
    check_rows(a, b, d);
    const size_t n = a.size() / static_cast<size_t>(d);
    std::vector<double> out(n, 0.0);
    for (size_t i = 0; i < n; ++i)
        for (int64_t k = 0; k < d; ++k) out[i] += a[i * d + k] * b[i * d + k];
    return out;
}

double cos_sim(const double* a, const double* b, int64_t d) {
    double na = 0, nb = 0, dot = 0;
    for (int64_t k = 0; k < d; ++k) {
        na += a[k] * a[k];
        nb += b[k] * b[k];
        dot += a[k] * b[k];
    }
    // torch.nn.functional.normalize: x / max(‖x‖, 1e-12)
    return dot / (std::max(std::sqrt(na), 1e-12) * std::max(std::sqrt(nb), 1e-12));
}

double average_precision(const std::vector<int>& relevant, const std::vector<double>& score) {
    check_same_size(relevant.size(), score.size(), "average_precision");
    const size_t n = score.size();
    int64_t n_pos = 0;
    for (int r : relevant) n_pos += r == 1;
    if (n == 0 || n_pos == 0) return 0.0;
    std::vector<size_t> order(n);
    std::iota(order.begin(), order.end(), size_t(0));
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return score[a] > score[b]; });
    double ap = 0, prev_recall = 0;
    int64_t tp = 0, seen = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;  // one threshold: every item tied with order[i]
        while (j < n && score[order[j]] == score[order[i]]) {
            tp += relevant[order[j]] == 1;
            ++seen;
            ++j;
        }
        const double recall = double(tp) / double(n_pos);
        const double precision = double(tp) / double(seen);
        ap += (recall - prev_recall) * precision;
        prev_recall = recall;
        i = j;
    }
    return ap;
}

double expected_random_ap(int64_t r, int64_t n) {
    if (n <= 0 || r <= 0) return 0.0;
    if (n == 1) return 1.0;
    double h = 0;
    for (int64_t k = 1; k <= n; ++k) h += 1.0 / double(k);
    return (h + double(r - 1) / double(n - 1) * (double(n) - h)) / double(n);
}

double mrr_at_k(const std::vector<int>& relevant, const std::vector<double>& score, int k) {
    check_same_size(relevant.size(), score.size(), "mrr_at_k");
    std::vector<size_t> order(score.size());
    std::iota(order.begin(), order.end(), size_t(0));
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return score[a] > score[b]; });
    for (size_t r = 0; r < order.size() && r < static_cast<size_t>(std::max(k, 0)); ++r) {
        if (relevant[order[r]] == 1) return 1.0 / double(r + 1);
    }
    return 0.0;
}

namespace {
// sklearn.metrics.cluster.entropy: -Σ p·log p over the label counts.
double label_entropy(const std::vector<int64_t>& labels) {
    std::map<int64_t, double> counts;
    for (int64_t l : labels) counts[l] += 1;
    const double total = double(labels.size());
    double h = 0;
    for (const auto& kv : counts) h -= (kv.second / total) * (std::log(kv.second) - std::log(total));
    return h;
}
}  // namespace

double v_measure(const std::vector<int64_t>& labels_true, const std::vector<int64_t>& labels_pred) {
    check_same_size(labels_true.size(), labels_pred.size(), "v_measure");
    if (labels_true.empty()) return 1.0;
    const double hc = label_entropy(labels_true), hk = label_entropy(labels_pred);
    // mutual information from the contingency table (sklearn mutual_info_score with a contingency)
    std::map<int64_t, double> pi, pj;
    std::map<std::pair<int64_t, int64_t>, double> cell;
    for (size_t i = 0; i < labels_true.size(); ++i) {
        pi[labels_true[i]] += 1;
        pj[labels_pred[i]] += 1;
        cell[{labels_true[i], labels_pred[i]}] += 1;
    }
    double mi = 0;
    if (pi.size() > 1 && pj.size() > 1) {
        const double total = double(labels_true.size());
        const double log_total = std::log(total);
        const double eps = std::numeric_limits<double>::epsilon();
        for (const auto& kv : cell) {
            const double nz = kv.second;
            const double c_nm = nz / total;
            const double outer = pi[kv.first.first] * pj[kv.first.second];
            const double log_outer = -std::log(outer) + log_total + log_total;
            double term = c_nm * (std::log(nz) - log_total) + c_nm * log_outer;
            if (std::fabs(term) < eps) term = 0.0;
            mi += term;
        }
        mi = std::max(mi, 0.0);
    }
    const double h = hc != 0.0 ? mi / hc : 1.0;
    const double c = hk != 0.0 ? mi / hk : 1.0;
    if (h + c == 0.0) return 0.0;
    return 2.0 * h * c / (h + c);
}

std::vector<int64_t> category_ids(const std::vector<double>& labels) {
    std::map<double, int64_t> ids;
    std::vector<int64_t> out(labels.size());
    for (size_t i = 0; i < labels.size(); ++i) {
        auto it = ids.find(labels[i]);
        if (it == ids.end()) it = ids.emplace(labels[i], static_cast<int64_t>(ids.size())).first;
        out[i] = it->second;
    }
    return out;
}

double accuracy(const std::vector<int64_t>& y_true, const std::vector<int64_t>& y_pred) {
    check_same_size(y_true.size(), y_pred.size(), "accuracy");
    if (y_true.empty()) return kNaN;
    int64_t ok = 0;
    for (size_t i = 0; i < y_true.size(); ++i) ok += y_true[i] == y_pred[i];
    return double(ok) / double(y_true.size());
}

namespace {
struct ClassCounts {
    std::vector<double> f1, support;
};
ClassCounts per_class_f1(const std::vector<int64_t>& y_true, const std::vector<int64_t>& y_pred) {
    check_same_size(y_true.size(), y_pred.size(), "f1");
    std::set<int64_t> labels(y_true.begin(), y_true.end());
    labels.insert(y_pred.begin(), y_pred.end());
    std::map<int64_t, double> tp, n_pred, n_true;
    for (size_t i = 0; i < y_true.size(); ++i) {
        n_true[y_true[i]] += 1;
        n_pred[y_pred[i]] += 1;
        if (y_true[i] == y_pred[i]) tp[y_true[i]] += 1;
    }
    ClassCounts c;
    for (int64_t l : labels) {
        const double p = n_pred[l] > 0 ? tp[l] / n_pred[l] : 0.0;  // zero_division → 0
        const double r = n_true[l] > 0 ? tp[l] / n_true[l] : 0.0;
        const double denom = p + r;
        c.f1.push_back(denom == 0.0 ? 0.0 : 2.0 * p * r / denom);
        c.support.push_back(n_true[l]);
    }
    return c;
}
}  // namespace

double f1_macro(const std::vector<int64_t>& y_true, const std::vector<int64_t>& y_pred) {
    ClassCounts c = per_class_f1(y_true, y_pred);
    if (c.f1.empty()) return 0.0;
    return std::accumulate(c.f1.begin(), c.f1.end(), 0.0) / double(c.f1.size());
}

double f1_weighted(const std::vector<int64_t>& y_true, const std::vector<int64_t>& y_pred) {
    ClassCounts c = per_class_f1(y_true, y_pred);
    double num = 0, den = 0;
    for (size_t i = 0; i < c.f1.size(); ++i) {
        num += c.f1[i] * c.support[i];
        den += c.support[i];
    }
    return den > 0 ? num / den : 0.0;
}

PairMetrics pair_metrics(const std::vector<double>& scores, const std::vector<int>& labels, bool high_more_similar) {
    check_same_size(scores.size(), labels.size(), "pair_metrics");
    const size_t n = scores.size();
    PairMetrics m;
    std::vector<size_t> order(n);
    std::iota(order.begin(), order.end(), size_t(0));
    // Python's sorted(..., reverse=True) keeps tied items in input order, as a stable sort does
    if (high_more_similar)
        std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] > scores[b]; });
    else
        std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] < scores[b]; });
    int64_t n_pos = 0;
    for (int l : labels) n_pos += l == 1;
    // best accuracy
    {
        int64_t positive_so_far = 0, remaining_negatives = static_cast<int64_t>(n) - n_pos;
        double max_acc = 0, best = -1;
        for (size_t i = 0; i + 1 < n; ++i) {
            if (labels[order[i]] == 1) ++positive_so_far;
            else --remaining_negatives;
            const double acc = double(positive_so_far + remaining_negatives) / double(n);
            if (acc > max_acc) {
                max_acc = acc;
                best = (scores[order[i]] + scores[order[i + 1]]) / 2;
            }
        }
        m.accuracy = max_acc;
        m.accuracy_threshold = best;
    }
    // best F1
    {
        int64_t nextract = 0, ncorrect = 0;
        for (size_t i = 0; i + 1 < n; ++i) {
            ++nextract;
            if (labels[order[i]] == 1) ++ncorrect;
            if (ncorrect > 0) {
                const double precision = double(ncorrect) / double(nextract);
                const double recall = double(ncorrect) / double(n_pos);
                const double f1 = 2 * precision * recall / (precision + recall);
                if (f1 > m.f1) {
                    m.f1 = f1;
                    m.precision = precision;
                    m.recall = recall;
                    m.f1_threshold = (scores[order[i]] + scores[order[i + 1]]) / 2;
                }
            }
        }
    }
    std::vector<double> signed_scores(scores);
    if (!high_more_similar)
        for (auto& s : signed_scores) s = -s;
    m.ap = average_precision(labels, signed_scores);
    return m;
}

double mean_of(const std::vector<double>& v) {
    if (v.empty()) return kNaN;
    return std::accumulate(v.begin(), v.end(), 0.0) / double(v.size());
}

double stderr_of_mean(const std::vector<double>& v) {
    if (v.size() < 2) return kNaN;
    const double mu = mean_of(v);
    double ss = 0;
    for (double x : v) ss += (x - mu) * (x - mu);
    return std::sqrt(ss / double(v.size() - 1)) / std::sqrt(double(v.size()));
}

double population_std(const std::vector<double>& v) {
    if (v.empty()) return kNaN;
    const double mu = mean_of(v);
    double ss = 0;
    for (double x : v) ss += (x - mu) * (x - mu);
    return std::sqrt(ss / double(v.size()));
}

}  // namespace den2moe::metrics
