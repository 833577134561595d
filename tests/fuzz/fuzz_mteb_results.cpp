// Fuzz target: evaluation result files (eval/results.h). The input, cut at each line "--", becomes up to
// four mteb task files <model>/<revision>/<task>.json of two revisions read by import_mteb_results (then the
// comparison table and its Markdown), and, whole, a den2moe summary.json read by read_summary. Properties
// beyond "house errors only": every imported run holds at least one task, the table has one column per run;
// an accepted summary written back (write_summary) reads back to the same JSON.
#include "fuzz_support.h"

#include "eval/results.h"

#include <filesystem>

namespace fs = std::filesystem;

namespace {

void finding(const char* what) {
    std::fprintf(stderr, "FINDING: %s\n", what);
    std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string bytes(reinterpret_cast<const char*>(data), size);
    const fs::path root = fs::path(den2moe::fuzz::scratch_dir()) / "results";
    std::error_code ec;
    // the two revision folders are made once; each input replaces the four task files (an input with fewer
    // parts removes the others). Per input this is 4 unlinks and up to 4 writes instead of remove_all, mkdir
    // and fs::relative (which canonicalises, a stat and readlink per path component): 1/3 of the run's time
    // went to those system calls
    static const bool made = [&] {
        fs::create_directories(root / "org__model" / "rev1", ec);
        fs::create_directories(root / "org__model" / "rev2", ec);
        fs::create_directories(fs::path(den2moe::fuzz::scratch_dir()) / "written", ec);
        return true;
    }();
    (void)made;
    auto task_file = [](int i) {
        return std::string("results/org__model/") + (i % 2 ? "rev2" : "rev1") + "/Task" + std::to_string(i) + ".json";
    };
    for (int i = 0; i < 4; ++i) ::unlink((den2moe::fuzz::scratch_dir() + "/" + task_file(i)).c_str());
    size_t start = 0;
    for (int i = 0; i < 4 && start <= bytes.size(); ++i) {
        size_t cut = bytes.find("\n--\n", start);
        const std::string part = bytes.substr(start, cut == std::string::npos ? std::string::npos : cut - start);
        den2moe::fuzz::write_scratch(task_file(i), part);
        if (cut == std::string::npos) break;
        start = cut + 4;
    }
    den2moe::fuzz::expect_house_errors_only([&] {
        const auto runs = den2moe::import_mteb_results(root.string());
        for (const auto& [label, run] : runs)
            if (run.tasks.empty() || label.empty()) finding("an imported run without tasks or label");
        const den2moe::ResultTable t = den2moe::result_table(runs);
        if (t.columns.size() != runs.size()) finding("the result table's columns differ from its runs");
        (void)den2moe::result_table_markdown(t);
    });
    const std::string summary = den2moe::fuzz::write_scratch("summary.json", bytes);
    den2moe::fuzz::expect_house_errors_only([&] {
        const den2moe::EvalSummary s = den2moe::read_summary(summary);
        const fs::path out = fs::path(den2moe::fuzz::scratch_dir()) / "written";
        den2moe::write_summary(out.string(), s);
        const den2moe::EvalSummary back = den2moe::read_summary((out / "summary.json").string());
        if (back.to_json() != s.to_json()) finding("an accepted summary.json does not survive write + read");
    });
    return 0;
}
