// On-disk cache of FFN calibration statistics. One safetensors file per (model, data, sampling,
// dtype) key holds every layer's count/mean/M2 in float64; it is written atomically (temp + rename)
// as soon as a domain's statistics are complete, so a cancelled or crashed run leaves only whole
// entries. The key hashes the model's bytes, the calibration files' bytes, the tokenizer, the
// sampling settings and the statistics format version.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "calib/ffn_stats.h"

namespace den2moe {

/// 64-bit FNV-1a over a file's bytes (memory-mapped reads in 1 MiB blocks), hex. Throws Error(Io).
std::string hash_file(const std::string& path);
/// Combined hash of a model: config + weights (.safetensors / .bin) + tokenizer, hex.
std::string hash_model(const std::string& model_path, const std::string& tokenizer_path);
/// FNV-1a of a string, hex.
std::string hash_string(const std::string& s);

struct StatsKeyParts {
    std::string model_hash;
    std::vector<std::string> data_files;  ///< hashed by content
    std::string format, text_template;
    int64_t n_samples = 0, seq_len = 0;
    uint64_t seed = 0;
    std::string dtype;
    /// Token weighting and its settings ("" = uniform, the key of the v2 entries unchanged); a
    /// TokenScore entry never answers a uniform request or one with other TokenScore settings.
    std::string weighting;
};
std::string stats_key(const StatsKeyParts& parts);

class StatsCache {
public:
    explicit StatsCache(std::string dir) : dir_(std::move(dir)) {}
    const std::string& dir() const { return dir_; }
    std::string path_for(const std::string& key) const;
    /// The entry for `key`, or nullopt (a damaged entry counts as a miss and is ignored).
    std::optional<FfnStats> load(const std::string& key);
    void store(const std::string& key, const FfnStats& st, const std::string& description);
    int64_t hits() const { return hits_; }
    int64_t misses() const { return misses_; }

private:
    std::string dir_;
    int64_t hits_ = 0, misses_ = 0;
};

}  // namespace den2moe
