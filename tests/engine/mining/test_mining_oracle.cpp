// The affinity stage on the real 18×18 matrix from the mining run, against numpy/scipy
// (tests/reference/mining_oracle.py): normalisation, Pearson correlation (rows and columns), and for
// all four linkage methods the linkage matrix, the dendrogram leaf order and fcluster(maxclust)
// labels for every K (equal up to renaming).
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>

#include <nlohmann/json.hpp>

#include "support/check.h"

#include "mining/mining.h"

using namespace den2moe;
using nlohmann::json;

static bool same_partition(const std::vector<int>& a, const std::vector<int>& b) {
    if (a.size() != b.size()) return false;
    std::map<int, int> ab, ba;
    for (size_t i = 0; i < a.size(); ++i) {
        if (ab.count(a[i]) && ab[a[i]] != b[i]) return false;
        if (ba.count(b[i]) && ba[b[i]] != a[i]) return false;
        ab[a[i]] = b[i];
        ba[b[i]] = a[i];
    }
    return true;
}

TEST(affinity_and_linkage_equal_scipy_on_the_real_matrix) {
    const char* build = std::getenv("D2M_BUILD_DIR");
    CHECK(build != nullptr);
    if (!build) return;
    std::ifstream in(std::string(build) + "/oracle/mining_oracle.json");
    CHECK(in.good());
    if (!in.good()) return;
    json o = json::parse(in);
    MiningResult r = load_mining_result(std::string(build) + "/mining18");
    const int64_t n = r.n;
    CHECK_EQ(n, 18);
    auto norm = o["normalized"].get<std::vector<double>>();
    for (int64_t i = 0; i < n * n; ++i) CHECK_CLOSE(r.normalized[i], norm[i], 1e-14);
    int methods = 0;
    for (const char* correlate : {"rows", "columns"}) {
        for (const char* method : {"single", "complete", "average", "ward"}) {
            recompute_affinity(r, correlate, method);
            auto corr = o[std::string("correlation_") + correlate].get<std::vector<double>>();
            for (int64_t i = 0; i < n * n; ++i) CHECK_CLOSE(r.correlation[i], corr[i], 1e-12);
            const json& m = o["methods"][std::string(correlate) + "/" + method];
            auto z = m["Z"].get<std::vector<double>>();
            CHECK_EQ(z.size(), r.linkage.z.size());
            for (size_t i = 0; i < z.size() && i < r.linkage.z.size(); ++i) {
                if (i % 4 == 2) CHECK_CLOSE(r.linkage.z[i], z[i], 1e-10);
                else CHECK_EQ(r.linkage.z[i], z[i]);
            }
            auto leaves = m["leaves"].get<std::vector<int64_t>>();
            CHECK(r.leaf_order == leaves);
            for (int64_t k = 1; k <= n; ++k) {
                auto ref = m["maxclust"][std::to_string(k)].get<std::vector<int>>();
                CHECK(same_partition(mining_clusters_k(r, k), ref));
            }
            ++methods;
        }
    }
    CHECK_EQ(methods, 8);
}

D2M_TEST_MAIN()
