// Project files: the demo project resolves against the shared folder, a save/load round trip keeps
// every field, format_version 1 and 2 files are migrated with every field they could hold (each set to a
// non-default value), and bad files give errors naming file and key.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>

#include <nlohmann/json.hpp>

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

// Every field a format_version 2 file could hold (the v2 writer's keys, 15ebec7^:engine/project/project.cpp),
// each set to a value that differs from the default, so a field the migration drops or renames fails here.
static const char* kFullV2 = R"({"format_version": 2, "name": "old study", "model": "$SHARED/models/m",
  "tokenizer": "tok/tokenizer.model", "dtype": "fp32", "cache_dir": "cache here",
  "domains": [{"name": "a", "dir": "da", "calib_files": ["a1.jsonl", "a2.jsonl"], "eval_files": ["ae.txt"],
               "format": "jsonl", "template": "{question} {answer}", "calib_split": "validation",
               "eval_split": "dev", "enabled": false},
              {"name": "b", "dir": "db"}],
  "calibration": {"samples": 33, "seq_len": 77, "seed": 5},
  "evaluation": {"seq_len": 99, "windows": 3, "batch": 2},
  "pruning": {"ratio": 0.3, "structure": "adaptive", "metric": "ifv", "bias_compensation": false},
  "clustering": {"linkage": "complete", "correlate": "columns", "k": 5, "cut_height": 0.35},
  "clusters": {"manual": true, "names": ["first", "second"], "members": [["a"], ["b"]]},
  "notes": "written by version 2"})";

/// Checks that every leaf of `old_file` (flattened JSON pointer -> value, moved to its new place by
/// `to_v3`) has that value in the migrated project's file, and that the value is not the default.
static void check_every_field_migrated(const std::string& old_file, std::string (*to_v3)(const std::string&)) {
    const nlohmann::json old = nlohmann::json::parse(old_file).flatten();
    const nlohmann::json migrated = nlohmann::json::parse(project_to_json(parse_project(old_file, "/tmp/old.den2moe.json"))).flatten();
    const nlohmann::json defaults = nlohmann::json::parse(project_to_json(Project{})).flatten();
    int n = 0;
    for (auto it = old.begin(); it != old.end(); ++it) {
        if (it.key() == "/format_version") continue;
        const std::string at = to_v3(it.key());
        const bool kept = migrated.contains(at) && migrated[at] == it.value();
        if (!kept) std::printf("  %s -> %s: expected %s, found %s\n", it.key().c_str(), at.c_str(), it.value().dump().c_str(),
                               migrated.contains(at) ? migrated[at].dump().c_str() : "(missing)");
        CHECK(kept);
        CHECK(!(defaults.contains(at) && defaults[at] == it.value()));  // the test would not see a dropped field
        ++n;
    }
    CHECK(n >= 30);
}

TEST(format_version_2_migrates_every_field) {
    check_every_field_migrated(kFullV2, [](const std::string& k) { return k; });
    // the conversion (new in 3) prunes at the mining ratio; the sections new in 3 hold their defaults
    Project p = parse_project(kFullV2, "/tmp/old.den2moe.json");
    CHECK_EQ(p.convert.ratio, 0.3);
    Project expected = p;
    expected.convert = ConvertSettings{};
    expected.convert.ratio = 0.3;
    expected.hf_export = ExportSettings{};
    expected.task_eval = TaskEvalSettings{};
    CHECK_EQ(project_to_json(p), project_to_json(expected));
    CHECK(p.training.empty());
    // and the current version reads back what it wrote
    CHECK_EQ(project_to_json(parse_project(project_to_json(p), "/tmp/v3.den2moe.json")), project_to_json(p));
}

TEST(format_version_1_migrates_every_field) {
    // v1: no format_version, domains under "datasets" with "path", six settings flat at the top level
    nlohmann::json v1 = nlohmann::json::parse(kFullV2);
    v1.erase("format_version");
    v1["datasets"] = v1["domains"];
    v1.erase("domains");
    for (auto& d : v1["datasets"]) {
        d["path"] = d["dir"];
        d.erase("dir");
    }
    v1["nsamples"] = v1["calibration"]["samples"];
    v1["seqlen"] = v1["calibration"]["seq_len"];
    v1["seed"] = v1["calibration"]["seed"];
    v1.erase("calibration");
    v1["pruning_ratio"] = v1["pruning"]["ratio"];
    v1["pruning"].erase("ratio");
    v1["linkage"] = v1["clustering"]["linkage"];
    v1["num_clusters"] = v1["clustering"]["k"];
    v1["clustering"].erase("linkage");
    v1["clustering"].erase("k");
    check_every_field_migrated(v1.dump(), [](const std::string& k) -> std::string {
        static const std::map<std::string, std::string> moved = {
            {"/nsamples", "/calibration/samples"}, {"/seqlen", "/calibration/seq_len"},
            {"/seed", "/calibration/seed"},        {"/pruning_ratio", "/pruning/ratio"},
            {"/linkage", "/clustering/linkage"},   {"/num_clusters", "/clustering/k"}};
        if (auto it = moved.find(k); it != moved.end()) return it->second;
        std::string out = k;
        if (out.rfind("/datasets/", 0) == 0) out = "/domains/" + out.substr(10);
        if (out.size() > 5 && out.compare(out.size() - 5, 5, "/path") == 0) out = out.substr(0, out.size() - 5) + "/dir";
        return out;
    });
    // the same project as its version-2 form
    CHECK_EQ(project_to_json(parse_project(v1.dump(), "/tmp/old.den2moe.json")),
             project_to_json(parse_project(kFullV2, "/tmp/old.den2moe.json")));
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
