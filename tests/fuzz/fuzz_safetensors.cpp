// Fuzz target: the safetensors format (io/safetensors_format.h). The same bytes go to the header parser
// (as a whole .safetensors file) and to the model.safetensors.index.json parser. Properties beyond "house
// errors only": an accepted header's tensors lie inside the data section, do not overlap, and hold exactly
// shape x dtype bytes; an accepted index lists each shard once, every shard a plain file name that some
// tensor names (no path can lead out of the checkpoint's folder).
#include "fuzz_support.h"

#include "io/safetensors_format.h"

#include <algorithm>
#include <set>

namespace {

void finding(const char* what) {
    std::fprintf(stderr, "FINDING: %s\n", what);
    std::abort();
}

void check_header(const den2moe::SafetensorsHeader& h, size_t size) {
    if (h.data_start < 8 || h.data_start > size) finding("data section starts outside the file");
    const uint64_t data_size = size - h.data_start;
    std::vector<std::pair<uint64_t, uint64_t>> ranges;
    std::set<std::string> names;
    for (const den2moe::TensorInfo& t : h.tensors) {
        if (!names.insert(t.name).second) finding("a tensor name is listed twice");
        if (t.begin > t.end || t.end > data_size) finding("a tensor lies outside the data section");
        unsigned __int128 bytes = den2moe::st_dtype_size(t.dtype);  // saturated at 2^64: a zero still wins
        for (int64_t d : t.shape) {
            if (d < 0) finding("a negative dimension was accepted");
            bytes = bytes == 0 || d == 0 ? 0 : std::min<unsigned __int128>(bytes * uint64_t(d), ~uint64_t{0});
        }
        if (bytes != t.end - t.begin) finding("shape x dtype differs from the byte range");
        if (t.end > t.begin) ranges.emplace_back(t.begin, t.end);
    }
    std::sort(ranges.begin(), ranges.end());
    for (size_t i = 1; i < ranges.size(); ++i)
        if (ranges[i].first < ranges[i - 1].second) finding("two tensors overlap");
}

void check_index(const den2moe::SafetensorsIndex& idx) {
    std::set<std::string> shards(idx.shard_files.begin(), idx.shard_files.end());
    if (shards.size() != idx.shard_files.size()) finding("a shard file is listed twice");
    std::set<std::string> named;
    for (const auto& [tensor, file] : idx.weight_map) {
        if (file.empty() || file == "." || file == ".." || file.find('/') != std::string::npos ||
            file.find('\\') != std::string::npos)
            finding("a shard that is not a plain file name was accepted");
        named.insert(file);
    }
    if (named != shards) finding("shard_files differ from the files weight_map names");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    den2moe::fuzz::expect_house_errors_only([&] {
        check_header(den2moe::parse_safetensors_header(data, size, "fuzz/model.safetensors"), size);
    });
    const std::string text(reinterpret_cast<const char*>(data), size);
    den2moe::fuzz::expect_house_errors_only([&] {
        check_index(den2moe::parse_safetensors_index(text, "fuzz/model.safetensors.index.json"));
    });
    return 0;
}
