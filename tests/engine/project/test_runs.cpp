// The runs of a project (project/runs.h) on hand-made folders whose provenance files have the layout
// the engine writes (conversion provenance.json, a training run's "training" stages, an export's
// den2moe_provenance.json with native_provenance, an evaluation's summary.json): the lineage chain,
// stages and held-out perplexities, evaluations attached to their model, a conversion found in
// <cache>/experts without the index, another project's and damaged index lines ignored, rename kept
// across reads, delete removing only a run's folder. The real CLI-made runs: tests/app/gui/tst_runs_panel.cpp.
#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "support/check.h"

#include "core/error.h"
#include "project/project.h"
#include "project/runs.h"

using namespace den2moe;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

fs::path tmp_root() {
    fs::path d = fs::temp_directory_path() / ("d2m_runs_" + std::to_string(::getpid()));
    fs::remove_all(d);
    fs::create_directories(d);
    return d;
}

void write(const fs::path& f, const json& j) {
    fs::create_directories(f.parent_path());
    std::ofstream(f) << j.dump(1);
}

json conversion_prov(const std::string& created) {
    return {{"tool", "den2moe"}, {"client", "den2moe"}, {"created", created},
            {"source_model", "/models/dense"}, {"recipe", "dive"}, {"num_experts", 2}, {"top_k", 1},
            {"clusters", {{"manual", true}, {"names", {"maths", "code"}}, {"members", {{"gsm8k", "arc"}, {"python"}}}}},
            {"settings", {{"recipe", "dive"}, {"n_experts", 2}, {"top_k", 1}}}};
}

json stage(const std::string& name, const std::string& source, double before, double after) {
    return {{"stage", name}, {"source_model", source}, {"steps", 10}, {"tokens", 640},
            {"settings", {{"stage", name}, {"lr", 1e-4}}},
            {"held_out_before", {{"ppl", before}}}, {"held_out_after", {{"ppl", after}}}};
}

Project saved_project(const fs::path& root) {
    Project p = load_project(d2m_test::source_dir() + "/projects/demo.den2moe.json");
    p.cache_dir = (root / "cache").string();
    save_project(p, (root / "p.den2moe.json").string());
    return p;
}

const ProjectRun* find(const std::vector<ProjectRun>& runs, const fs::path& dir) {
    for (const auto& r : runs)
        if (fs::path(r.path) == fs::weakly_canonical(dir)) return &r;
    return nullptr;
}

}  // namespace

TEST(lineage_chain_from_provenance_files) {
    const fs::path root = tmp_root();
    Project p = saved_project(root);
    const fs::path moe = root / "cache" / "experts" / "dive";  // default folder: found without the index
    write(moe / "provenance.json", conversion_prov("2026-12-05T01:00:00Z"));
    json t1 = conversion_prov("2026-12-05T01:00:00Z");
    t1["training"] = json::array({stage("router", moe.string(), 900.0, 500.0)});
    write(root / "router" / "provenance.json", t1);
    json t2 = t1;
    t2["training"].push_back(stage("experts", (root / "router").string(), 480.0, 300.5));
    write(root / "experts" / "provenance.json", t2);
    write(root / "hf" / "den2moe_provenance.json",
          {{"tool", "den2moe"}, {"format", "mixtral"}, {"exported_at", "2026-12-05T03:00:00Z"},
           {"source", (root / "experts").string()}, {"options", {{"dtype", "keep"}}}, {"native_provenance", t2}});
    write(root / "eval" / "summary.json",
          {{"model", "den2moe/experts"}, {"model_path", (root / "experts").string()}, {"tasks", json::array()}});
    CHECK(record_run(p, "training", (root / "router").string(), "den2moe").empty());
    CHECK(record_run(p, "training", (root / "experts").string(), "den2moe-studio").empty());
    CHECK(record_run(p, "export", (root / "hf").string(), "den2moe").empty());
    CHECK(record_run(p, "evaluation", (root / "eval").string(), "den2moe").empty());
    CHECK(record_run(p, "training", (root / "router").string(), "den2moe").empty());  // recorded twice: listed once
    const std::string dense_model = resolve_project_path(p, p.model);
    write(root / "eval-dense" / "summary.json", {{"model", "den2moe/dense"}, {"model_path", dense_model}, {"tasks", json::array()}});
    CHECK(record_run(p, "evaluation", (root / "eval-dense").string(), "den2moe").empty());

    // another project's line (shared cache) and a torn last line are skipped
    {
        std::ofstream idx(run_index_path(p), std::ios::app);
        idx << json{{"event", "made"}, {"kind", "conversion"}, {"path", root.string()}, {"project", "/other.den2moe.json"}}.dump()
            << "\n{\"event\":\"made\",\"kind\":\"train";
    }
    const auto runs = list_project_runs(p);
    CHECK_EQ(runs.size(), size_t{6});
    const ProjectRun* d = find(runs, root / "eval-dense");
    CHECK(d != nullptr);
    if (d) {  // an evaluation of the project's dense model: no run behind it, the dense model as its root
        CHECK_EQ(d->parent, "");
        CHECK_EQ(d->source_model, fs::weakly_canonical(dense_model).string());
    }
    const ProjectRun* c = find(runs, moe);
    const ProjectRun* r = find(runs, root / "router");
    const ProjectRun* e = find(runs, root / "experts");
    const ProjectRun* x = find(runs, root / "hf");
    const ProjectRun* v = find(runs, root / "eval");
    CHECK(c && r && e && x && v);
    if (!(c && r && e && x && v)) return;
    CHECK_EQ(c->kind, "conversion");
    CHECK_EQ(c->parent, "");
    CHECK_EQ(c->source_model, "/models/dense");
    CHECK_EQ(c->clusters.members.size(), size_t{2});
    CHECK_EQ(c->clusters.members[0][1], "arc");
    CHECK(c->clusters.manual);
    CHECK_EQ(c->lineage(), "dive · 2 experts top-1 · 2 clusters (manual)");
    CHECK_EQ(r->kind, "training");
    CHECK_EQ(r->parent, c->path);
    CHECK_EQ(r->stages.size(), size_t{1});
    CHECK_EQ(e->parent, r->path);
    CHECK_EQ(e->lineage(), "dive · 2 experts top-1 · 2 clusters (manual) → router → experts");
    CHECK_EQ(e->ppl_before, 480.0);
    CHECK_EQ(e->ppl_after, 300.5);
    CHECK_EQ(e->client, "den2moe");  // the provenance's own client wins over the index's
    CHECK(e->settings["stages"][1]["settings"]["stage"] == "experts");
    CHECK_EQ(x->kind, "export");
    CHECK_EQ(x->parent, e->path);
    CHECK_EQ(x->lineage(), "dive · 2 experts top-1 · 2 clusters (manual) → router → experts → export mixtral");
    CHECK_EQ(v->kind, "evaluation");
    CHECK_EQ(v->parent, e->path);
    CHECK_EQ(e->evaluations.size(), size_t{1});
    CHECK_EQ(e->evaluations[0], v->path);
    CHECK(r->evaluations.empty());
    // find_run takes any spelling of a folder; runs_made_from lists the runs whose parent it is
    CHECK(find_run(runs, (root / "router" / ".." / "experts/").string()) == e);
    CHECK(find_run(runs, (root / "nowhere").string()) == nullptr);
    CHECK_EQ(run_path((root / "router" / ".." / "experts").string()), e->path);
    const auto from_e = runs_made_from(runs, e->path);
    CHECK(from_e.size() == 2 && ((from_e[0] == x && from_e[1] == v) || (from_e[0] == v && from_e[1] == x)));
    const auto from_c = runs_made_from(runs, (moe / ".").string());
    CHECK(from_c.size() == 1 && from_c[0] == r);
    CHECK(runs_made_from(runs, x->path).empty());
    fs::remove_all(root);
}

TEST(rename_and_delete) {
    const fs::path root = tmp_root();
    Project p = saved_project(root);
    write(root / "a" / "provenance.json", conversion_prov("2026-12-05T01:00:00Z"));
    write(root / "b" / "provenance.json", conversion_prov("2026-12-05T02:00:00Z"));
    record_run(p, "conversion", (root / "a").string(), "den2moe");
    record_run(p, "conversion", (root / "b").string(), "den2moe");
    rename_run(p, (root / "a").string(), "first try");
    auto runs = list_project_runs(load_project((root / "p.den2moe.json").string()));  // read back from the files
    CHECK_EQ(runs.size(), size_t{2});
    CHECK_EQ(runs[0].label, "first try");
    CHECK_EQ(runs[1].label, "b");
    CHECK(fs::exists(root / "a"));  // rename never moves the folder
    rename_run(p, (root / "a").string(), "");
    CHECK_EQ(list_project_runs(p)[0].label, "a");

    // not a run: refused, nothing removed
    fs::create_directories(root / "precious");
    CHECK_THROWS_WITH(delete_run(p, (root / "precious").string()), "not a run of project");
    CHECK_THROWS_WITH(rename_run(p, (root / "precious").string(), "x"), "not a run of project");
    CHECK(fs::exists(root / "precious"));
    delete_run(p, (root / "a").string());
    CHECK(!fs::exists(root / "a"));
    runs = list_project_runs(p);
    CHECK_EQ(runs.size(), size_t{1});
    CHECK_EQ(runs[0].label, "b");
    // a folder that vanished outside the app is simply not listed
    fs::remove_all(root / "b");
    CHECK(list_project_runs(p).empty());
    fs::remove_all(root);
}

TEST(damaged_provenance_and_unsaved_project) {
    const fs::path root = tmp_root();
    Project p = saved_project(root);
    fs::create_directories(root / "bad");
    std::ofstream(root / "bad" / "provenance.json") << "{ not json";
    record_run(p, "conversion", (root / "bad").string(), "den2moe");
    const auto runs = list_project_runs(p);
    CHECK_EQ(runs.size(), size_t{1});
    CHECK_EQ(runs[0].kind, "conversion");
    CHECK_EQ(runs[0].recipe, "");
    CHECK_THROWS_WITH(read_run_folder(root.string()), "holds no provenance.json");
    Project unsaved;  // never saved: nothing is recorded, no error
    unsaved.cache_dir = (root / "cache2").string();
    CHECK(record_run(unsaved, "conversion", (root / "bad").string(), "den2moe").empty());
    CHECK(!fs::exists(root / "cache2" / "runs.jsonl"));
    fs::remove_all(root);
}

D2M_TEST_MAIN()
