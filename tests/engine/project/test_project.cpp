// Project files: the demo project resolves against the shared folder, a save/load round trip keeps
// every field, format_version 1 files are migrated, and bad files give errors naming file and key.
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "support/check.h"

#include "core/error.h"
#include "project/project.h"

using namespace den2moe;
namespace fs = std::filesystem;

static std::string demo_path() { return d2m_test::source_dir() + "/projects/demo.den2moe.json"; }

TEST(demo_project_loads_and_validates) {
    Project p = load_project(demo_path());
    CHECK_EQ(p.domains.size(), size_t{18});
    CHECK_EQ(p.domains[0].name, "wiki");
    CHECK_EQ(p.calib.n_samples, 128);
    CHECK_EQ(p.calib.seq_len, 256);
    CHECK_EQ(p.eval.n_windows, 32);
    CHECK_EQ(p.prune.ratio, 0.5);
    CHECK_EQ(p.cluster.linkage, "average");
    const std::string model = resolve_project_path(p, p.model);
    CHECK(fs::equivalent(model, d2m_test::shared_dir() + "/models/demo-llama-7m"));
    auto files = domain_eval_files(p, p.domains[2]);
    CHECK_EQ(files.size(), size_t{1});
    CHECK(fs::equivalent(files[0], d2m_test::shared_dir() + "/data/domains/gsm8k/test.jsonl.gz"));
    CHECK(fs::equivalent(domain_calib_files(p, p.domains[2])[0],
                         d2m_test::shared_dir() + "/data/domains/gsm8k/train.jsonl.gz"));
    auto problems = validate_project(p);
    for (const auto& s : problems) std::printf("problem: %s\n", s.c_str());
    CHECK(problems.empty());
}

TEST(shared_dir_falls_back_to_beside_the_checkout) {
    const char* env = std::getenv("D2M_SHARED_DIR");
    std::string saved = env ? env : "";
    unsetenv("D2M_SHARED_DIR");
    // the checkout has ../shared beside it in CI; walking up from the project file finds it
    std::string found = find_shared_dir(demo_path());
    if (!saved.empty()) setenv("D2M_SHARED_DIR", saved.c_str(), 1);
    if (fs::exists(fs::path(d2m_test::source_dir()).parent_path() / "shared")) {
        CHECK(fs::equivalent(found, fs::path(d2m_test::source_dir()).parent_path() / "shared"));
    }
    setenv("D2M_SHARED_DIR", "/somewhere/else", 1);
    Project p;
    p.file = "/tmp/x/p.den2moe.json";
    CHECK_EQ(resolve_project_path(p, "$SHARED/models/m"), "/somewhere/else/models/m");
    CHECK_EQ(resolve_project_path(p, "models/m"), "/tmp/x/models/m");
    CHECK_EQ(resolve_project_path(p, "../m"), "/tmp/m");
    CHECK_EQ(resolve_project_path(p, "/abs/m"), "/abs/m");
    if (!saved.empty()) setenv("D2M_SHARED_DIR", saved.c_str(), 1); else unsetenv("D2M_SHARED_DIR");
}

TEST(save_load_round_trip) {
    Project p = load_project(demo_path());
    p.name = "round trip";
    p.prune.ratio = 0.75;
    p.prune.structure = "adaptive";
    p.cluster.k = 4;
    p.cluster.cut_height = 0.4375;
    p.domains[1].enabled = false;
    p.domains[2].text_template = "{question}\n{answer}";
    p.domains[3].dir.clear();
    p.domains[3].calib_files = {"a.jsonl", "b.jsonl"};
    p.domains[3].eval_files = {"c.txt"};
    p.clusters.manual = true;
    p.clusters.names = {"math", "rest"};
    p.clusters.members = {{"gsm8k", "mmlu_stem"}, {"wiki", "arc"}};
    const std::string path = d2m_test::tmp_dir() + "/rt.den2moe.json";
    save_project(p, path);
    CHECK_EQ(p.file, fs::absolute(path).string());
    CHECK(!fs::exists(path + ".tmp"));
    Project q = load_project(path);
    CHECK_EQ(project_to_json(q), project_to_json(p));
    CHECK_EQ(q.prune.ratio, 0.75);
    CHECK(q.cluster.cut_height.has_value() && *q.cluster.cut_height == 0.4375);
    CHECK(!q.domains[1].enabled);
    CHECK_EQ(q.domains[2].text_template, "{question}\n{answer}");
    CHECK_EQ(q.domains[3].calib_files.size(), size_t{2});
    CHECK(q.clusters.manual);
    CHECK_EQ(q.clusters.members[0][1], "mmlu_stem");
    CHECK_EQ(q.clusters.names[0], "math");
    CHECK_EQ(q.domain_names().size(), size_t{17});
}

TEST(format_version_1_is_migrated) {
    const char* v1 = R"({"model": "m", "datasets": [{"name": "a", "path": "da"}, {"name": "b", "path": "db"}],
                         "nsamples": 64, "seqlen": 128, "seed": 7, "pruning_ratio": 0.25,
                         "linkage": "ward", "num_clusters": 3})";
    Project p = parse_project(v1, "/tmp/old.den2moe.json");
    CHECK_EQ(p.domains.size(), size_t{2});
    CHECK_EQ(p.domains[1].dir, "db");
    CHECK_EQ(p.calib.n_samples, 64);
    CHECK_EQ(p.calib.seq_len, 128);
    CHECK_EQ(p.calib.seed, uint64_t{7});
    CHECK_EQ(p.prune.ratio, 0.25);
    CHECK_EQ(p.cluster.linkage, "ward");
    CHECK_EQ(p.cluster.k, 3);
    // and is written back at the current version, the conversion pruning at the mining ratio as before
    CHECK(project_to_json(p).find("\"format_version\": 3") != std::string::npos);
    CHECK_EQ(p.convert.ratio, 0.25);
}

TEST(format_version_2_gets_every_steps_settings) {
    const char* v2 = R"({"format_version": 2, "model": "m", "domains": [{"name": "a", "dir": "da"}],
                         "pruning": {"ratio": 0.75}})";
    Project p = parse_project(v2, "/tmp/v2.den2moe.json");
    CHECK_EQ(p.prune.ratio, 0.75);
    CHECK_EQ(p.convert.ratio, 0.75);  // v2 converted at the mining ratio
    CHECK(p.convert.recipe == Recipe::Dive);
    CHECK_EQ(p.hf_export.format, "mixtral");
    // every section round-trips through the file with its schema
    p.convert.top_k = 2;
    p.convert.router_init = "random";
    p.hf_export.pad_experts = true;
    p.calib.n_samples = 9;
    Project back = parse_project(project_to_json(p), "/tmp/v3.den2moe.json");
    CHECK_EQ(back.convert.top_k, 2);
    CHECK_EQ(back.convert.router_init, "random");
    CHECK(back.hf_export.pad_experts);
    CHECK_EQ(back.calib.n_samples, 9);
    CHECK_EQ(project_to_json(back), project_to_json(p));
    // a typo in a section is an error naming it, not a silently ignored key
    CHECK_THROWS_WITH(parse_project(R"({"format_version": 3, "conversion": {"top-k": 2}})", "p.json"),
                      "project p.json: conversion.top-k is not a setting of conversion");
}

TEST(errors_name_the_file_and_the_key) {
    CHECK_THROWS_WITH(parse_project("{\"model\": 1,}", "p.json"), "project p.json is not valid JSON");
    CHECK_THROWS_WITH(parse_project("{\"format_version\": 2, \"model\": 5}", "p.json"), "key 'model' has the wrong type");
    CHECK_THROWS_WITH(parse_project("{\"format_version\": 2, \"calibration\": {\"samples\": \"many\"}}", "p.json"),
                      "project p.json: calibration.samples must be an integer, found string \"many\"");
    CHECK_THROWS_WITH(parse_project("{\"format_version\": 9}", "p.json"), "format_version 9 is not supported");
    CHECK_THROWS_WITH(parse_project("{\"format_version\": 2, \"domains\": [{\"dir\": \"x\"}]}", "p.json"),
                      "domains[0].name is missing");
    CHECK_THROWS_WITH(load_project("/nonexistent/p.den2moe.json"), "cannot open project file /nonexistent");
}

TEST(validation_lists_every_problem) {
    Project p = load_project(demo_path());
    p.model = "$SHARED/models/no-such-model";
    p.prune.ratio = 1.5;
    p.cluster.linkage = "centroid";
    p.domains[0].dir = "$SHARED/data/domains/missing";
    p.domains[1].name = p.domains[2].name;
    p.clusters.members = {{"wiki", "nope"}};
    auto problems = validate_project(p);
    std::string all;
    for (const auto& s : problems) all += s + "\n";
    std::printf("%s", all.c_str());
    CHECK(all.find("no-such-model does not exist") != std::string::npos);
    CHECK(all.find("pruning.ratio = 1.5 is out of range (expected 0 < x < 1)") != std::string::npos);
    CHECK(all.find("clustering.linkage must be") != std::string::npos);
    CHECK(all.find("domain 'wiki': no train file in") != std::string::npos);
    CHECK(all.find("domain 'gsm8k': the name is used twice") != std::string::npos);
    CHECK(all.find("clusters: domain 'nope' is not in the project") != std::string::npos);
}

D2M_TEST_MAIN()
