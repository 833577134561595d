#include "calib/stats_cache.h"
#include "tokenizer/tokenizer.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "io/safetensors.h"

namespace fs = std::filesystem;

namespace den2moe {

namespace {

constexpr uint64_t kFnvOffset = 14695981039346656037ull;
constexpr uint64_t kFnvPrime = 1099511628211ull;
constexpr const char* kStatsVersion = "ffnstats-v2";  // v2: + FFN input moments

uint64_t fnv(uint64_t h, const unsigned char* p, size_t n) {
    // 8 lanes folded per step would be faster; 1 byte/step is ~1 GB/s, plenty next to a forward pass.
    for (size_t i = 0; i < n; ++i) {
        h ^= p[i];
        h *= kFnvPrime;
    }
    return h;
}

std::string hex(uint64_t h) {
    char buf[17];
    std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(h));
    return buf;
}

}  // namespace

std::string hash_string(const std::string& s) {
    return hex(fnv(kFnvOffset, reinterpret_cast<const unsigned char*>(s.data()), s.size()));
}

std::string hash_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    D2M_CHECK(in.good(), Io, "cannot read ", path, " to hash it", Hint{"check that the file exists and is readable"});
    std::vector<char> buf(1 << 20);
    uint64_t h = kFnvOffset;
    while (in) {
        in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
        h = fnv(h, reinterpret_cast<const unsigned char*>(buf.data()), static_cast<size_t>(in.gcount()));
    }
    return hex(h);
}

std::string hash_model(const std::string& model_path, const std::string& tokenizer_path) {
    std::vector<std::string> files;
    std::error_code ec;
    if (fs::is_directory(model_path, ec)) {
        for (const auto& e : fs::directory_iterator(model_path, ec)) {
            const std::string name = e.path().filename().string();
            const std::string ext = e.path().extension().string();
            if (name == "config.json" || ext == ".safetensors" || ext == ".bin") files.push_back(e.path().string());
        }
        std::sort(files.begin(), files.end());
    } else {
        files.push_back(model_path);
    }
    if (!tokenizer_path.empty())  // sentencepiece / llama2.c: the file; BPE: vocab.json, merges.txt, ...
        for (const std::string& f : tokenizer_files(tokenizer_path)) files.push_back(f);
    std::string all;
    for (const auto& f : files) all += fs::path(f).filename().string() + "=" + hash_file(f) + ";";
    return hash_string(all);
}

std::string stats_key(const StatsKeyParts& k) {
    std::string s = std::string(kStatsVersion) + "|model=" + k.model_hash;
    for (const auto& f : k.data_files) s += "|data=" + hash_file(f);
    s += "|format=" + k.format + "|template=" + k.text_template;
    s += "|n=" + std::to_string(k.n_samples) + "|seq=" + std::to_string(k.seq_len) +
         "|seed=" + std::to_string(k.seed) + "|dtype=" + k.dtype;
    if (!k.weighting.empty()) s += "|weights=" + k.weighting;
    return hash_string(s);
}

std::string StatsCache::path_for(const std::string& key) const {
    return (fs::path(dir_) / ("ffnstats-" + key + ".safetensors")).string();
}

std::optional<FfnStats> StatsCache::load(const std::string& key) {
    const std::string path = path_for(key);
    std::error_code ec;
    if (!fs::exists(path, ec)) {
        ++misses_;
        return std::nullopt;
    }
    try {
        SafetensorsReader r = SafetensorsReader::open(path);
        auto meta = r.metadata();
        D2M_CHECK(meta["format"] == kStatsVersion && meta["key"] == key, InvalidInput, "stale cache entry");
        FfnStats st;
        const int64_t n_layers = std::stoll(meta.at("n_layers"));
        st.n_tokens = std::stoll(meta.at("n_tokens"));
        st.n_windows = std::stoll(meta.at("n_windows"));
        for (int64_t il = 0; il < n_layers; ++il) {
            const std::string p = "layers." + std::to_string(il) + ".";
            at::Tensor cnt = r.get(p + "count");
            st.layers.push_back(ChannelMoments::from(cnt.item<int64_t>(), r.get(p + "mean").clone(),
                                                     r.get(p + "m2").clone(),
                                                     r.has(p + "abs_mean") ? r.get(p + "abs_mean").clone()
                                                                           : at::Tensor()));
            if (r.has(p + "weighted")) st.weighted.push_back(r.get(p + "weighted").clone());
            if (r.has(p + "in_count")) {
                st.inputs.push_back(ChannelMoments::from(r.get(p + "in_count").item<int64_t>(),
                                                         r.get(p + "in_mean").clone(), r.get(p + "in_m2").clone()));
            }
        }
        if (st.inputs.size() != st.layers.size()) st.inputs.clear();
        if (st.weighted.size() != st.layers.size()) st.weighted.clear();
        st.key = key;
        ++hits_;
        return st;
    } catch (const std::exception&) {
        ++misses_;  // a damaged or foreign file: recompute and overwrite
        return std::nullopt;
    }
}

void StatsCache::store(const std::string& key, const FfnStats& st, const std::string& description) {
    std::error_code ec;
    fs::create_directories(dir_, ec);
    D2M_CHECK(!ec, Io, "cannot create the statistics cache folder ", dir_, ": ", ec.message(),
              Hint{"set cache_dir in the project or D2M_CACHE_DIR to a writable folder"});
    std::vector<std::pair<std::string, at::Tensor>> tensors;
    for (size_t il = 0; il < st.layers.size(); ++il) {
        const std::string p = "layers." + std::to_string(il) + ".";
        tensors.emplace_back(p + "count", at::full({1}, st.layers[il].count(), at::kLong));
        tensors.emplace_back(p + "mean", st.layers[il].mean());
        tensors.emplace_back(p + "m2", st.layers[il].m2());
        if (st.layers[il].has_abs()) tensors.emplace_back(p + "abs_mean", st.layers[il].mean_abs());
        if (il < st.weighted.size()) tensors.emplace_back(p + "weighted", st.weighted[il].to(at::kDouble).contiguous());
        if (il < st.inputs.size() && st.inputs[il].count() > 0) {
            tensors.emplace_back(p + "in_count", at::full({1}, st.inputs[il].count(), at::kLong));
            tensors.emplace_back(p + "in_mean", st.inputs[il].mean());
            tensors.emplace_back(p + "in_m2", st.inputs[il].m2());
        }
    }
    save_safetensors(path_for(key), tensors,
                     {{"format", kStatsVersion},
                      {"key", key},
                      {"n_layers", std::to_string(st.layers.size())},
                      {"n_tokens", std::to_string(st.n_tokens)},
                      {"n_windows", std::to_string(st.n_windows)},
                      {"description", description}});
}

}  // namespace den2moe
