// Tests for engine/cluster/linkage against scipy 1.10: hand-computed 4-point cases, the oracle JSON
// written by tests/reference/linkage_oracle.py (CTest fixture; path in $D2M_LINKAGE_ORACLE, the
// test fails when it is missing) with exact ids / sizes / leaf order / fcluster labels and heights
// within 1e-9 relative, the consistency of the cut helpers, numpy.corrcoef, and the validation
// messages.
#include "cluster/linkage.h"

#include "core/error.h"
#include "support/check.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <limits>
#include <set>
#include <string>
#include <vector>

using namespace den2moe;
using nlohmann::json;

namespace {

const double kInf = std::numeric_limits<double>::infinity();

std::vector<double> line_distances(const std::vector<double>& xs) {
    const size_t n = xs.size();
    std::vector<double> d(n * n);
    for (size_t i = 0; i < n; ++i) {
        for (size_t j = 0; j < n; ++j) {
            d[i * n + j] = std::fabs(xs[i] - xs[j]);
        }
    }
    return d;
}

std::vector<double> square_from_condensed(const std::vector<double>& y, int64_t n) {
    std::vector<double> d(size_t(n * n), 0.0);
    size_t k = 0;
    for (int64_t i = 0; i < n; ++i) {
        for (int64_t j = i + 1; j < n; ++j, ++k) {
            d[size_t(i * n + j)] = d[size_t(j * n + i)] = y[k];
        }
    }
    return d;
}

struct Row {
    int64_t a, b;
    double h;
    int64_t size;
};

void check_rows(const Linkage& z, const std::vector<Row>& want, double tol) {
    CHECK_EQ(z.rows.size(), want.size());
    if (z.rows.size() != want.size()) {
        return;
    }
    for (size_t i = 0; i < want.size(); ++i) {
        CHECK_EQ(z.rows[i].a, want[i].a);
        CHECK_EQ(z.rows[i].b, want[i].b);
        CHECK_CLOSE(z.rows[i].height, want[i].h, tol);
        CHECK_EQ(z.rows[i].size, want[i].size);
    }
}

/// Runs fn, expects den2moe::Error of kind InvalidInput whose message contains `substr`.
void expect_invalid(const std::function<void()>& fn, const std::string& substr) {
    ++d2m_test::checks();
    try {
        fn();
    } catch (const Error& e) {
        if (e.kind() != ErrorKind::InvalidInput) {
            d2m_test::fail(__FILE__, __LINE__, "wrong error kind for: " + std::string(e.what()));
        } else if (std::string(e.what()).find(substr) == std::string::npos) {
            d2m_test::fail(__FILE__, __LINE__, "message lacks \"" + substr + "\": " + e.what());
        }
        return;
    } catch (const std::exception& e) {
        d2m_test::fail(__FILE__, __LINE__, "not a den2moe::Error: " + std::string(e.what()));
        return;
    }
    d2m_test::fail(__FILE__, __LINE__, "no exception, expected one containing \"" + substr + "\"");
}

std::string labels_str(const std::vector<int>& v) {
    std::string s = "[";
    for (size_t i = 0; i < v.size(); ++i) {
        s += (i ? "," : "") + std::to_string(v[i]);
    }
    return s + "]";
}

}  // namespace

// Points 0, 1, 3, 7 on a line: d01=1 d02=3 d03=7 d12=2 d13=6 d23=4. Every method merges {0,1},
// then 2, then 3; only the heights differ:
//   single   1, min(3,2)=2, min(7,6,4)=4
//   complete 1, max(3,2)=3, max(7,6,4)=7
//   average  1, (3+2)/2=2.5, (7+6+4)/3=17/3
//   ward     1, sqrt(2/3*9 + 2/3*4 - 1/3*1)=5/sqrt(3), then |centroid 4/3 - 7| *
//   sqrt(2*3*1/4)=17/sqrt(6)
TEST(hand_line_0_1_3_7) {
    const std::vector<double> d = line_distances({0, 1, 3, 7});
    const double tol = 1e-12;
    check_rows(linkage(d, 4, LinkageMethod::Single), {{0, 1, 1, 2}, {2, 4, 2, 3}, {3, 5, 4, 4}},
               tol);
    check_rows(linkage(d, 4, LinkageMethod::Complete), {{0, 1, 1, 2}, {2, 4, 3, 3}, {3, 5, 7, 4}},
               tol);
    check_rows(linkage(d, 4, LinkageMethod::Average),
               {{0, 1, 1, 2}, {2, 4, 2.5, 3}, {3, 5, 17.0 / 3.0, 4}}, tol);
    check_rows(linkage(d, 4, LinkageMethod::Ward),
               {{0, 1, 1, 2}, {2, 4, 5.0 / std::sqrt(3.0), 3}, {3, 5, 17.0 / std::sqrt(6.0), 4}},
               tol);

    for (LinkageMethod m : {LinkageMethod::Single, LinkageMethod::Complete, LinkageMethod::Average,
                            LinkageMethod::Ward}) {
        const Linkage z = linkage(d, 4, m);
        // dendrogram draws Z[i,0] left: root (3, 5) -> 3, then (2, 4) -> 2, then (0, 1)
        CHECK(leaf_order(z) == (std::vector<int64_t>{3, 2, 0, 1}));
        // maxclust: labels numbered in depth-first order (the leaf 3 is closed last)
        CHECK(cut_maxclust(z, 1) == (std::vector<int>{1, 1, 1, 1}));
        CHECK(cut_maxclust(z, 2) == (std::vector<int>{1, 1, 1, 2}));
        // K=3: threshold 1 leaves {0,1},{2},{3}. (scipy 1.10 returns [1,1,1,2] here, gh-12651.)
        CHECK(cut_maxclust(z, 3) == (std::vector<int>{1, 1, 2, 3}));
        CHECK(cut_maxclust(z, 4) == (std::vector<int>{1, 2, 3, 4}));
        CHECK(cut_maxclust(z, 9) == (std::vector<int>{1, 2, 3, 4}));
        CHECK(cut_distance(z, 0.5) ==
              (std::vector<int>{1, 2, 3, 4}));  // numbered as the DFS closes them
        CHECK(cut_distance(z, 1.0) == (std::vector<int>{1, 1, 2, 3}));  // <= t merges
        CHECK(cut_distance(z, 100.0) == (std::vector<int>{1, 1, 1, 1}));
        CHECK_EQ(clusters_at_height(z, 0.999), int64_t(4));
        CHECK_EQ(clusters_at_height(z, 1.0), int64_t(3));
        CHECK_EQ(clusters_at_height(z, 1e9), int64_t(1));
    }

    const Linkage single = linkage(d, 4, LinkageMethod::Single);
    double lo = 0, hi = 0;
    CHECK(height_range_for_k(single, 4, &lo, &hi));
    CHECK(lo == -kInf);
    CHECK_EQ(hi, 1.0);
    CHECK(height_range_for_k(single, 3, &lo, &hi));
    CHECK_EQ(lo, 1.0);
    CHECK_EQ(hi, 2.0);
    CHECK(height_range_for_k(single, 2, &lo, &hi));
    CHECK_EQ(lo, 2.0);
    CHECK_EQ(hi, 4.0);
    CHECK(height_range_for_k(single, 1, &lo, &hi));
    CHECK_EQ(lo, 4.0);
    CHECK(hi == kInf);
    CHECK(!height_range_for_k(single, 0, &lo, &hi));
    CHECK(!height_range_for_k(single, 5, &lo, &hi));
    CHECK_EQ(clusters_at_height(single, 1.999), int64_t(3));
    CHECK_EQ(clusters_at_height(single, 2.0), int64_t(2));
}

// All pairwise distances equal: the result is decided by tie-breaking alone. scipy (MST for single,
// NN-chain for the others, stable sort, union-find labels) gives the chain ((0,1),2),3 at height 1.
TEST(hand_all_ties) {
    std::vector<double> d(16, 1.0);
    for (int i = 0; i < 4; ++i) {
        d[size_t(i * 4 + i)] = 0.0;
    }
    for (LinkageMethod m : {LinkageMethod::Single, LinkageMethod::Complete, LinkageMethod::Average,
                            LinkageMethod::Ward}) {
        const Linkage z = linkage(d, 4, m);
        check_rows(z, {{0, 1, 1, 2}, {2, 4, 1, 3}, {3, 5, 1, 4}}, 1e-12);
        CHECK(leaf_order(z) == (std::vector<int64_t>{3, 2, 0, 1}));
    }
    const Linkage z = linkage(d, 4, LinkageMethod::Average);
    CHECK(cut_maxclust(z, 2) == (std::vector<int>{1, 1, 1, 1}));  // no threshold gives exactly 2
    double lo = 0, hi = 0;
    CHECK(!height_range_for_k(z, 2, &lo, &hi));
    CHECK(!height_range_for_k(z, 3, &lo, &hi));
    CHECK(height_range_for_k(z, 1, &lo, &hi));
    CHECK_EQ(lo, 1.0);
}

TEST(method_names) {
    for (LinkageMethod m : {LinkageMethod::Single, LinkageMethod::Complete, LinkageMethod::Average,
                            LinkageMethod::Ward}) {
        CHECK(parse_linkage_method(linkage_method_name(m)) == m);
    }
    CHECK(parse_linkage_method("Ward") == LinkageMethod::Ward);
    expect_invalid([] { parse_linkage_method("median"); }, "unknown linkage method \"median\"");
}

TEST(validation_errors) {
    const std::vector<double> ok = line_distances({0, 1, 3, 7});
    expect_invalid([] { linkage({0.0}, 1, LinkageMethod::Average); }, "at least 2 items");
    expect_invalid([] { linkage({}, 0, LinkageMethod::Average); }, "at least 2 items");
    expect_invalid(
        [&] { linkage(std::vector<double>(ok.begin(), ok.end() - 1), 4, LinkageMethod::Average); },
        "not square: 4 x 4 needs 16 values, got 15");
    expect_invalid([&] { linkage(std::vector<double>(6, 1.0), 4, LinkageMethod::Single); },
                   "got 6");  // a condensed vector is refused
    {
        auto d = ok;
        d[1 * 4 + 2] = 2.5;  // (1,2) = 2.5, (2,1) = 2
        expect_invalid([&] { linkage(d, 4, LinkageMethod::Complete); },
                       "not symmetric: entry (1, 2) = 2.5 but (2, 1) = 2");
    }
    {
        auto d = ok;
        d[0 * 4 + 3] = 7.0 * (1 + 1e-14);  // within the 1e-10 relative tolerance: accepted
        CHECK_EQ(linkage(d, 4, LinkageMethod::Single).rows.size(), size_t(3));
    }
    {
        auto d = ok;
        d[0 * 4 + 1] = d[1 * 4 + 0] = -1.0;
        expect_invalid([&] { linkage(d, 4, LinkageMethod::Ward); },
                       "entry (0, 1) = -1 is negative");
    }
    {
        auto d = ok;
        d[2 * 4 + 3] = d[3 * 4 + 2] = std::nan("");
        expect_invalid([&] { linkage(d, 4, LinkageMethod::Average); }, "entry (2, 3) is NaN");
    }
    {
        auto d = ok;
        d[2 * 4 + 3] = d[3 * 4 + 2] = kInf;
        expect_invalid([&] { linkage(d, 4, LinkageMethod::Average); }, "entry (2, 3) is infinite");
    }
    {
        auto d = ok;
        d[2 * 4 + 2] = 0.5;
        expect_invalid([&] { linkage(d, 4, LinkageMethod::Average); },
                       "diagonal entry (2, 2) = 0.5");
    }

    const Linkage z = linkage(ok, 4, LinkageMethod::Average);
    expect_invalid([&] { cut_maxclust(z, 0); }, "must be >= 1, got 0");
    expect_invalid([&] { cut_distance(z, std::nan("")); }, "cut height is NaN");
    Linkage broken = z;
    broken.rows.pop_back();
    expect_invalid([&] { cut_distance(broken, 1.0); }, "must have 3 rows, has 2");
    broken = z;
    broken.rows[0].b = 5;  // refers to a cluster formed later
    expect_invalid([&] { leaf_order(broken); }, "refers to cluster 5");
    broken = z;
    broken.rows[1].a = 0;  // leaf 0 merged twice
    expect_invalid([&] { cut_maxclust(broken, 2); }, "cluster 0 is merged twice");

    expect_invalid(
        [] {
            pearson_rows({1, 2, 3, 4, 4, 4}, 2, 3);
        },
        "row 1 is constant (zero variance)");
    expect_invalid([] { pearson_rows({1, 2, 3}, 2, 2); }, "needs 4 values, got 3");
    expect_invalid([] { pearson_rows({1, 2}, 2, 1); }, ">= 2 columns");
    expect_invalid([] { pearson_rows({1, std::nan(""), 3, 4}, 2, 2); }, "row 0, column 1");
}

TEST(pearson_small) {
    // rows: x, 2x + 1 (r = 1), -x (r = -1)
    const std::vector<double> c = pearson_rows({1, 2, 4, 3, 5, 9, -1, -2, -4}, 3, 3);
    CHECK_CLOSE(c[0 * 3 + 1], 1.0, 1e-15);
    CHECK_CLOSE(c[0 * 3 + 2], -1.0, 1e-15);
    CHECK_CLOSE(c[1 * 3 + 2], -1.0, 1e-15);
    for (double v : c) {
        CHECK(v >= -1.0 && v <= 1.0);  // clipped like numpy
    }
    CHECK_EQ(c[0 * 3 + 1], c[1 * 3 + 0]);

    // The real use: distance 1 - r of profiles. The diagonal 1 - r_ii may be ~1e-16, not 0;
    // linkage accepts it (1e-10 relative tolerance) and ignores the diagonal.
    std::vector<double> prof(6 * 7);
    for (size_t i = 0; i < prof.size(); ++i) {
        prof[i] = std::sin(0.37 * double(i * i) + 1.0) + 0.1 * double(i % 7);
    }
    const std::vector<double> r = pearson_rows(prof, 6, 7);
    std::vector<double> dist(r.size());
    for (size_t i = 0; i < r.size(); ++i) {
        dist[i] = 1.0 - r[i];
    }
    const Linkage z = linkage(dist, 6, LinkageMethod::Average);
    CHECK_EQ(z.rows.size(), size_t(5));
    CHECK_EQ(z.rows.back().size, int64_t(6));
    const std::vector<int> lab = cut_maxclust(z, 3);
    CHECK_EQ(*std::max_element(lab.begin(), lab.end()), 3);
}

TEST(scipy_oracle) {
    const char* env = std::getenv("D2M_LINKAGE_ORACLE");
    const std::string path = env ? env : "";
    std::ifstream in(path);
    if (path.empty() || !in) {
        d2m_test::fail(
            __FILE__, __LINE__,
            "oracle file missing (D2M_LINKAGE_ORACLE='" + path +
                "'); run the linkage_oracle CTest fixture or tests/reference/linkage_oracle.py");
        return;
    }
    const json doc = json::parse(in);
    std::fprintf(stderr, "oracle: scipy %s, numpy %s\n",
                 doc.at("scipy_version").get<std::string>().c_str(),
                 doc.at("numpy_version").get<std::string>().c_str());

    int n_cases = 0, n_tied = 0, n_heights = 0, n_heights_exact = 0, n_maxclust = 0,
        n_maxclust_vs_110 = 0, n_110_bug = 0, n_distance_cuts = 0;
    double max_rel = 0;
    for (const json& c : doc.at("cases")) {
        ++n_cases;
        const std::string name =
            c.at("name").get<std::string>() + "/" + c.at("method").get<std::string>();
        const int64_t n = c.at("n").get<int64_t>();
        const auto y = c.at("condensed").get<std::vector<double>>();
        const Linkage z = linkage(square_from_condensed(y, n), n,
                                  parse_linkage_method(c.at("method").get<std::string>()));
        const json& zref = c.at("Z");
        CHECK_EQ(z.n, n);
        CHECK_EQ(int64_t(z.rows.size()), int64_t(zref.size()));
        if (z.rows.size() != zref.size()) {
            continue;
        }
        bool rows_ok = true;
        std::set<double> distinct;
        for (size_t i = 0; i < zref.size(); ++i) {
            const auto r = zref[i].get<std::vector<double>>();
            const LinkageRow& got = z.rows[i];
            const double rel = std::fabs(got.height - r[2]) / std::max(std::fabs(r[2]), 1e-300);
            max_rel = std::max(max_rel, got.height == r[2] ? 0.0 : rel);
            ++n_heights;
            n_heights_exact += got.height == r[2];
            distinct.insert(r[2]);
            const bool ok = got.a == int64_t(r[0]) && got.b == int64_t(r[1]) &&
                            got.size == int64_t(r[3]) && (got.height == r[2] || rel <= 1e-9);
            if (!ok && rows_ok) {
                d2m_test::fail(__FILE__, __LINE__,
                               name + ": row " + std::to_string(i) + " is [" +
                                   std::to_string(got.a) + ", " + std::to_string(got.b) + ", " +
                                   std::to_string(got.height) + ", " + std::to_string(got.size) +
                                   "], scipy [" + std::to_string(r[0]) + ", " +
                                   std::to_string(r[1]) + ", " + std::to_string(r[2]) + ", " +
                                   std::to_string(r[3]) + "]");
            }
            rows_ok = rows_ok && ok;
        }
        ++d2m_test::checks();
        n_tied += distinct.size() < zref.size();
        if (!rows_ok) {
            continue;  // the cuts below would only repeat the failure
        }

        ++d2m_test::checks();
        if (leaf_order(z) != c.at("leaves").get<std::vector<int64_t>>()) {
            d2m_test::fail(__FILE__, __LINE__,
                           name + ": leaf order differs from dendrogram()['leaves']");
        }

        // fcluster maxclust. The expectation is the documented semantics (smallest threshold giving
        // <= K clusters; scipy >= 1.15). scipy 1.10 equals it wherever the minimum height alone
        // already leaves more than K clusters; elsewhere 1.10 never picks the lowest threshold
        // (gh-12651) and cuts at the second-lowest row height instead, which is asserted too.
        const json& expected = c.at("maxclust_expected");
        const json& scipy110 = c.at("maxclust_scipy");
        const int64_t at_min = clusters_at_height(z, z.rows[0].height);
        for (int64_t k = 1; k <= n; ++k) {
            const std::vector<int> got = cut_maxclust(z, k);
            ++n_maxclust;
            ++d2m_test::checks();
            if (got != expected[size_t(k - 1)].get<std::vector<int>>()) {
                d2m_test::fail(__FILE__, __LINE__,
                               name + ": maxclust K=" + std::to_string(k) + " gives " +
                                   labels_str(got) + ", expected " +
                                   labels_str(expected[size_t(k - 1)].get<std::vector<int>>()));
            }
            if (scipy110.is_null()) {
                continue;  // n == 2: scipy 1.10 reads past its array
            }
            const auto raw = scipy110[size_t(k - 1)].get<std::vector<int>>();
            ++d2m_test::checks();
            if (at_min > k) {
                ++n_maxclust_vs_110;
                if (got != raw) {
                    d2m_test::fail(__FILE__, __LINE__,
                                   name + ": maxclust K=" + std::to_string(k) + " gives " +
                                       labels_str(got) + ", scipy 1.10 " + labels_str(raw));
                }
            } else {
                n_110_bug += got != raw;
                if (raw != cut_distance(z, z.rows[1].height)) {
                    d2m_test::fail(__FILE__, __LINE__,
                                   name + ": scipy 1.10 maxclust K=" + std::to_string(k) +
                                       " is not the cut at the second-lowest height");
                }
            }
        }

        for (const json& cut : c.at("distance_cuts")) {
            const double t = cut.at("t").get<double>();
            const auto want = cut.at("labels").get<std::vector<int>>();
            const std::vector<int> got = cut_distance(z, t);
            ++n_distance_cuts;
            ++d2m_test::checks();
            if (got != want) {
                d2m_test::fail(__FILE__, __LINE__,
                               name + ": distance cut t=" + std::to_string(t) + " gives " +
                                   labels_str(got) + ", scipy " + labels_str(want));
            }
            CHECK_EQ(clusters_at_height(z, t),
                     int64_t(*std::max_element(want.begin(), want.end())));
        }

        // height_range_for_k: one k per distinct height, plus k = n below the lowest merge.
        int64_t n_ranges = 0;
        for (int64_t k = 1; k <= n; ++k) {
            double lo = 0, hi = 0;
            if (!height_range_for_k(z, k, &lo, &hi)) {
                continue;
            }
            ++n_ranges;
            CHECK(lo < hi);
            CHECK_EQ(clusters_at_height(z, std::nextafter(hi, -kInf)), k);
            if (std::isfinite(lo)) {
                CHECK_EQ(clusters_at_height(z, lo), k);
                if (k < n) {
                    CHECK(cut_maxclust(z, k) ==
                          cut_distance(z, lo));  // the smallest such threshold
                }
            } else {
                CHECK_EQ(k, n);
            }
        }
        CHECK_EQ(n_ranges, int64_t(distinct.size()) + 1);
    }

    int n_pearson = 0;
    for (const json& p : doc.at("pearson")) {
        ++n_pearson;
        const int64_t rows = p.at("rows").get<int64_t>();
        const auto got = pearson_rows(p.at("data").get<std::vector<double>>(), rows,
                                      p.at("cols").get<int64_t>());
        const auto want = p.at("corr").get<std::vector<double>>();
        CHECK_EQ(got.size(), want.size());
        double max_abs = 0;
        for (size_t i = 0; i < got.size() && i < want.size(); ++i) {
            max_abs = std::max(max_abs, std::fabs(got[i] - want[i]));
        }
        CHECK_CLOSE(max_abs, 0.0, 1e-12);
    }

    std::fprintf(
        stderr,
        "oracle: %d linkage cases (%d with tied heights), %d heights (%d bit-identical, max rel "
        "diff %.3g), %d maxclust cuts (%d compared with scipy 1.10 raw output; %d differ only "
        "through scipy 1.10's gh-12651 bug), %d distance cuts, %d pearson matrices\n",
        n_cases, n_tied, n_heights, n_heights_exact, max_rel, n_maxclust, n_maxclust_vs_110,
        n_110_bug, n_distance_cuts, n_pearson);
    CHECK(n_cases >= 500);
}

D2M_TEST_MAIN()
