// Fuzz target: the mining and clusters JSON files (mining/mining.h load_mining_result on a folder's
// mining.json, read_clusters_file on a clusters.json; the same bytes go to both). Properties beyond "house
// errors only": an accepted mining result has an n x n matrix, n - 1 linkage rows and a leaf order that is a
// permutation of its domains, and every maxclust cut K = 1..n gives labels 0..K-1 that clusters_from_labels
// turns into clusters holding each domain once; an accepted clusters file has one name per cluster.
#include "fuzz_support.h"

#include "mining/mining.h"

#include <algorithm>
#include <set>
#include <sys/stat.h>

namespace {

void finding(const char* what) {
    std::fprintf(stderr, "FINDING: %s\n", what);
    std::abort();
}

void check_mining(const den2moe::MiningResult& r) {
    const size_t n = size_t(r.n);
    if (n < 1 || r.domains.size() != n || r.ppl.size() != n * n || r.distance.size() != n * n ||
        r.linkage.z.size() != 4 * (n - 1) || r.leaf_order.size() != n)
        finding("an accepted mining result has inconsistent sizes");
    std::vector<int64_t> order = r.leaf_order;
    std::sort(order.begin(), order.end());
    for (size_t i = 0; i < n; ++i)
        if (order[i] != int64_t(i)) finding("the leaf order is not a permutation of the domains");
    for (int64_t k = 1; k <= r.n && k <= 8; ++k) {
        den2moe::fuzz::expect_house_errors_only([&] {
            const std::vector<int> labels = den2moe::mining_clusters_k(r, k);
            if (labels.size() != n) finding("a cut labels a different number of domains");
            for (int l : labels)
                if (l < 0 || l >= k) finding("a maxclust label is outside 0..K-1");
            const den2moe::ProjectClusters pc = den2moe::clusters_from_labels(r, labels);
            std::multiset<std::string> seen;
            for (const auto& m : pc.members) seen.insert(m.begin(), m.end());
            if (seen != std::multiset<std::string>(r.domains.begin(), r.domains.end()))
                finding("the clusters do not hold each domain once");
        });
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string bytes(reinterpret_cast<const char*>(data), size);
    const std::string dir = den2moe::fuzz::scratch_dir() + "/mining";
    ::mkdir(dir.c_str(), 0700);
    den2moe::fuzz::write_scratch("mining/mining.json", bytes);
    den2moe::fuzz::expect_house_errors_only([&] { check_mining(den2moe::load_mining_result(dir)); });
    const std::string clusters = den2moe::fuzz::write_scratch("clusters.json", bytes);
    den2moe::fuzz::expect_house_errors_only([&] {
        const den2moe::ProjectClusters pc = den2moe::read_clusters_file(clusters);
        if (pc.names.size() != pc.members.size() || pc.members.empty())
            finding("an accepted clusters file has a name count other than its cluster count");
    });
    return 0;
}
