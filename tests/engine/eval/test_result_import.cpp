// import_mteb_results / read_result_runs (engine/eval/results.h) on result folders in the Python mteb
// package's layout, written here as mteb 1.14 (indent 2, sorted keys) and 2.x (rounded, "date",
// mteb_version inside the entry) write them: one run per revision folder labelled from the model
// folder ("__" -> "/", "@rev" when a model has several), the main score of split "test" / subset
// "default" (else "en", else the mean of the subsets), types / metric / chance from the registry, an
// unknown task typed "Other" and in no mean (hand-computed means), model_meta.json skipped; a
// den2moe summary folder keeps its label; broken JSON and an empty folder are errors naming them.
#include <cmath>
#include <filesystem>
#include <fstream>

#include "support/check.h"

#include "core/error.h"
#include "eval/results.h"

using namespace den2moe;
namespace fs = std::filesystem;

namespace {

void write(const fs::path& p, const std::string& text) {
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
}

std::string entry114(const std::string& task, const std::string& score) {
    return R"({
  "dataset_revision": "x",
  "evaluation_time": 1.5,
  "kg_co2_emissions": null,
  "mteb_version": "1.14.15",
  "scores": {
    "test": [
      {
        "cosine_spearman": )" + score + R"(,
        "hf_subset": "default",
        "languages": ["eng-Latn"],
        "main_score": )" + score + R"(
      }
    ]
  },
  "task_name": ")" + task + R"("
})";
}

const TaskScores* find(const EvalSummary& s, const std::string& task) {
    for (const auto& t : s.tasks)
        if (t.task == task) return &t;
    return nullptr;
}

}  // namespace

TEST(mteb_layout_runs_scores_and_means) {
    const fs::path root = fs::path(d2m_test::tmp_dir()) / "mteb-results";
    fs::remove_all(root);
    write(root / "intfloat__e5-small-v2/rev1/STS13.json", entry114("STS13", "0.78125"));
    write(root / "intfloat__e5-small-v2/rev1/Banking77Classification.json", entry114("Banking77Classification", "0.8"));
    write(root / "intfloat__e5-small-v2/rev1/model_meta.json", R"({"name": "intfloat/e5-small-v2", "revision": "rev1"})");
    write(root / "intfloat__e5-small-v2/rev2/STS13.json", entry114("STS13", "0.79"));
    write(root / "other__model/r/STS22.json", R"({"task_name": "STS22", "scores": {"test": [
        {"hf_subset": "de", "languages": ["deu-Latn"], "main_score": 0.5},
        {"hf_subset": "en", "languages": ["eng-Latn"], "main_score": 0.6}]}})");
    write(root / "other__model/r/STS14.json", R"({"dataset_revision": "y", "date": 1733000000.0, "evaluation_time": 2.0,
        "kg_co2_emissions": null, "mteb_version": "2.1.0", "scores": {"test": [{"hf_subset": "default",
        "languages": ["eng-Latn"], "main_score": 0.654321, "mteb_version": "2.1.0"}]}, "task_name": "STS14"})");
    write(root / "other__model/r/NoSuchTask.json", R"({"task_name": "NoSuchTask", "scores": {"dev": [
        {"hf_subset": "a", "main_score": 0.2}, {"hf_subset": "b", "main_score": 0.4}]}})");

    const auto runs = import_mteb_results(root.string());
    CHECK_EQ(runs.size(), size_t(3));
    if (runs.size() != 3) return;
    CHECK_EQ(runs[0].first, std::string("intfloat/e5-small-v2@rev1"));
    CHECK_EQ(runs[1].first, std::string("intfloat/e5-small-v2@rev2"));
    CHECK_EQ(runs[2].first, std::string("other/model"));
    const EvalSummary& a = runs[0].second;
    CHECK_EQ(a.tasks.size(), size_t(2));  // model_meta.json is not a task
    CHECK_EQ(a.model_revision, std::string("rev1"));
    const TaskScores* sts13 = find(a, "STS13");
    const TaskScores* bank = find(a, "Banking77Classification");
    CHECK(sts13 && sts13->main_score == 0.78125 && sts13->type == "STS" && sts13->main_score_name == "cosine_spearman");
    CHECK(sts13 && sts13->seconds == 1.5 && sts13->dataset_revision == "x");
    CHECK(bank && bank->main_score == 0.8 && bank->type == "Classification" && bank->main_score_name == "accuracy");
    CHECK(bank && std::isfinite(bank->chance));
    // Mean(Task) = (0.78125 + 0.8) / 2; Mean(TaskType) = mean of the STS and Classification means, the same here
    CHECK_CLOSE(a.mean_task, (0.78125 + 0.8) / 2, 1e-15);
    CHECK_CLOSE(a.mean_task_type, (0.78125 + 0.8) / 2, 1e-15);
    CHECK(std::isnan(a.mean_zeroshot));
    const EvalSummary& c = runs[2].second;
    CHECK(find(c, "STS22") && find(c, "STS22")->main_score == 0.6);  // the "en" subset
    CHECK(find(c, "STS14") && find(c, "STS14")->main_score == 0.654321);
    const TaskScores* other = find(c, "NoSuchTask");
    CHECK(other && other->type == std::string(kOtherTaskType));
    CHECK(other && std::abs(other->main_score - 0.3) < 1e-15);  // split "dev" (no "test"), mean of its subsets
    // STS14 (0.654321) is the registry's; STS22 (multilingual, not in the registry) and NoSuchTask are
    // "Other" and count in no mean
    CHECK(find(c, "STS22") && find(c, "STS22")->type == std::string(kOtherTaskType));
    CHECK_CLOSE(c.mean_task, 0.654321, 1e-15);
    CHECK_EQ(c.mean_by_type.size(), size_t(1));
    CHECK(std::isnan(c.mean_zeroshot));

    // read_result_runs: the folder without summary.json is imported; a label applies to a single run only
    CHECK_EQ(read_result_runs(root.string(), "mine").size(), size_t(3));
    CHECK_EQ(read_result_runs((root / "other__model").string(), "mine").front().first, std::string("mine"));
}

TEST(summary_folder_and_errors) {
    const fs::path dir = fs::path(d2m_test::tmp_dir()) / "ours";
    fs::remove_all(dir);
    EvalSummary s;
    s.model = "den2moe/demo-hs-none";
    TaskScores t;
    t.task = "STS13";
    t.type = "STS";
    t.main_score_name = "cosine_spearman";
    t.main_score = 0.5;
    s.tasks.push_back(t);
    s.recompute();
    write_summary(dir.string(), s);
    auto runs = read_result_runs(dir.string());
    CHECK(runs.size() == 1 && runs[0].first == "den2moe/demo-hs-none" && runs[0].second.tasks.size() == 1);
    CHECK_EQ(read_result_runs(dir.string(), "dense").front().first, std::string("dense"));

    const fs::path empty = fs::path(d2m_test::tmp_dir()) / "empty";
    fs::create_directories(empty);
    CHECK_THROWS_WITH(import_mteb_results(empty.string()), "neither summary.json");
    const fs::path broken = fs::path(d2m_test::tmp_dir()) / "broken";
    write(broken / "m/r/X.json", "{\"task_name\": ");
    CHECK_THROWS_WITH(import_mteb_results(broken.string()), "X.json");
}

D2M_TEST_MAIN()
