// Fuzz target: the command line of both front ends (app/frontend/args.h) and the settings schemas it
// feeds (core/settings.h set_text, as `--top-k 2` reaches a step's settings). The input is split into
// words at NUL and newline bytes; the words are parsed with a fixed switch set, every option is read as
// text, integer and number, checked against an allow list and applied to the calibration, evaluation,
// pruning, clustering and training schemas. Each refusal must be den2moe::Error; what was accepted passes
// check() and survives to_json + read_json.
#include "fuzz_support.h"

#include "args.h"
#include "project/settings.h"
#include "train/train_settings.h"

#include <vector>

namespace {

template <class S>
void apply_all(const den2moe::Schema<S>& schema, const den2moe::frontend::Args& a) {
    S s{};
    for (const auto& opt : a.options()) {
        const std::string& name = opt.first;
        const std::string& value = opt.second;
        for (const auto& f : schema.fields()) {
            if (f.flag != name) continue;
            den2moe::fuzz::expect_house_errors_only([&] { schema.set_text(s, name, value); });
        }
    }
    // Accepted values are in range, and what the project file would get back reads the same.
    schema.check(s, "fuzz: ");
    S back{};
    schema.read_json(back, schema.to_json(s), "fuzz: ");
    if (schema.to_json(back) != schema.to_json(s)) {
        std::fprintf(stderr, "FINDING: settings do not survive to_json + read_json\n");
        std::abort();
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::vector<std::string> words(1);
    for (size_t i = 0; i < size; ++i) {
        const char c = static_cast<char>(data[i]);
        if (c == '\0' || c == '\n') words.emplace_back();
        else words.back().push_back(c);
    }
    static const std::set<std::string> switches = {"help", "quiet", "verbose", "json", "fp32", "no-cache"};
    den2moe::fuzz::expect_house_errors_only([&] {
        den2moe::frontend::Args a(words, switches);
        for (const auto& opt : a.options()) {
        const std::string& name = opt.first;
        const std::string& value = opt.second;
            (void)a.get(name);
            (void)a.get_all(name);
            den2moe::fuzz::expect_house_errors_only([&] { (void)a.get_int(name, 0); });
            den2moe::fuzz::expect_house_errors_only([&] { (void)a.get_double(name, 0.0); });
        }
        den2moe::fuzz::expect_house_errors_only([&] { a.allow({"n", "seq", "out", "top-k", "clusters"}); });
        apply_all(den2moe::calib_schema(), a);
        apply_all(den2moe::eval_schema(), a);
        apply_all(den2moe::prune_schema(), a);
        apply_all(den2moe::cluster_schema(), a);
        apply_all(den2moe::train_schema(), a);
    });
    return 0;
}
