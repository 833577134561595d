// Fuzz target: project files (engine/project/project.h parse_project, every format version and its
// migrations). Properties: refusals are den2moe::Error; an accepted project passes through
// validate_project without throwing, and project_to_json of it parses again to the same JSON (what the
// app saves it can reopen).
#include "fuzz_support.h"

#include "project/project.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    const std::string file = den2moe::fuzz::scratch_dir() + "/fuzz.den2moe.json";
    den2moe::fuzz::expect_house_errors_only([&] {
        den2moe::Project p = den2moe::parse_project(text, file);
        (void)den2moe::validate_project(p);
        const std::string saved = den2moe::project_to_json(p);
        den2moe::Project back = den2moe::parse_project(saved, file);
        if (den2moe::project_to_json(back) != saved) {
            std::fprintf(stderr, "FINDING: a project does not survive save + reopen\n");
            std::abort();
        }
    });
    return 0;
}
