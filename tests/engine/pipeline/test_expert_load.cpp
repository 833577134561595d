// expert_load reads each domain exactly as mining and conversion do (the domain's format and text
// template): a CSV domain with a template and a templated JSONL domain give the same expert shares as
// a plain "text" JSONL domain holding the rendered text. Before the fix expert_load dropped the
// format and template (and failed on these files, or read other text).
#include <ATen/ATen.h>

#include <filesystem>
#include <fstream>

#include "support/check.h"
#include "support/demo_project.h"

#include "convert/convert.h"
#include "core/run_context.h"
#include "model/llama.h"
#include "model/loaded_model.h"
#include "pipeline/conversion.h"
#include "project/project.h"

using namespace den2moe;
namespace fs = std::filesystem;

TEST(expert_load_reads_csv_and_templated_domains_as_mining_does) {
    LoadedModel lm = load_model(d2m_test::shared_dir() + "/models/demo-llama-7m", ComputeDType::F32);
    Project dp = d2m_test::tiny_demo_project();
    ConvertSettings s;
    set_recipe(s, Recipe::Random);
    s.n_experts = 4;
    ConvertResult r = convert_model(dp, lm.model, *lm.tokenizer, "h", {}, s, null_context());

    const std::string dir = d2m_test::tmp_dir() + "/domains";
    fs::create_directories(dir);
    std::ofstream csv(dir + "/qa.csv"), tj(dir + "/qa.jsonl"), plain(dir + "/plain.jsonl");
    csv << "question,answer\n";
    for (int i = 0; i < 120; ++i) {
        const std::string q = "What is " + std::to_string(i) + " plus " + std::to_string(i + 3) + "?";
        const std::string a = "It is " + std::to_string(2 * i + 3) + ", since adding counts on.";
        csv << "\"" << q << "\",\"" << a << "\"\n";
        tj << nlohmann::json{{"question", q}, {"answer", a}}.dump() << "\n";
        plain << nlohmann::json{{"text", "Q: " + q + "\nA: " + a}}.dump() << "\n";
    }
    csv.close();
    tj.close();
    plain.close();

    Project p = dp;
    p.domains.clear();
    auto add = [&](const std::string& name, const std::string& file, const std::string& tmpl) {
        ProjectDomain d;
        d.name = name;
        d.calib_files = {file};
        d.eval_files = {file};
        d.text_template = tmpl;
        p.domains.push_back(d);
    };
    add("csv", dir + "/qa.csv", "Q: {question}\nA: {answer}");
    add("jsonl", dir + "/qa.jsonl", "Q: {question}\nA: {answer}");
    add("plain", dir + "/plain.jsonl", "");
    p.eval.seq_len = 64;
    p.eval.n_windows = 8;
    p.eval.batch = 4;
    const ExpertLoad el = project_expert_load(p, *r.model, *lm.tokenizer);
    CHECK_EQ(el.domains.size(), size_t{3});
    const size_t per = el.moe_layers.size() * static_cast<size_t>(el.n_experts);
    CHECK_EQ(el.share.size(), 3 * per);
    double diff_csv = 0, diff_jsonl = 0, spread = 0;
    for (size_t i = 0; i < per; ++i) {
        diff_csv = std::max(diff_csv, std::abs(el.share[i] - el.share[2 * per + i]));
        diff_jsonl = std::max(diff_jsonl, std::abs(el.share[per + i] - el.share[2 * per + i]));
        spread = std::max(spread, std::abs(el.share[i] - 1.0 / el.n_experts));
    }
    std::printf("max |share(csv) - share(plain)| = %g, jsonl %g; max |share - uniform| = %g\n", diff_csv, diff_jsonl,
                spread);
    CHECK(diff_csv == 0.0);
    CHECK(diff_jsonl == 0.0);
    CHECK(spread > 0.0);  // a real routing, not a constant that would make any input agree
    fs::remove_all(d2m_test::tmp_dir());
}

D2M_TEST_MAIN()
