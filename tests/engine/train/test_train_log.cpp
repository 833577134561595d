// read_train_log (engine/train/train_log.h) on a hand-written run folder: every step and evaluation
// record with its numbers exactly as written, a line cut by a kill and a record without its loss
// skipped and counted, train.json's stage, steps, source, settings and held-out before/after read
// back; a log without train.json is an unfinished run; a missing log is an error naming the file.
// (The app's training test checks the same reader against a real run's log.)
#include <filesystem>
#include <fstream>

#include "support/check.h"

#include "core/error.h"
#include "train/train_log.h"

using namespace den2moe;
namespace fs = std::filesystem;

namespace {

void write(const fs::path& p, const std::string& text) {
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
}

// as run_training writes them (dump_json: sorted keys, one object per line)
const char* kLog =
    R"({"domains":{"python":2.5,"wiki":3.5},"loss":3.0,"ppl":20.085536923187668,"step":0,"type":"eval"})" "\n"
    R"({"grad_norm":1.25,"loss":3.125,"lr":5e-05,"step":1,"tokens":64,"tokens_per_s":1234.5,"type":"step"})" "\n"
    R"({"grad_norm":0.75,"loss":2.875,"lr":0.0001,"step":2,"tokens":128,"tokens_per_s":1500.0,"type":"step"})" "\n"
    R"({"domains":{"python":2.25,"wiki":3.25},"loss":2.75,"ppl":15.642631884188171,"step":2,"type":"eval"})" "\n"
    R"({"type":"step","step":3})" "\n"
    R"({"grad_norm":0.5,"loss":2.)";

}  // namespace

TEST(log_records_exactly) {
    const fs::path dir = fs::path(d2m_test::tmp_dir()) / "run";
    fs::remove_all(dir);
    write(dir / "train_log.jsonl", kLog);
    TrainLog log = read_train_log(dir.string());
    CHECK_EQ(log.steps.size(), size_t(2));
    CHECK_EQ(log.evals.size(), size_t(2));
    CHECK_EQ(log.skipped_lines, int64_t(2));  // the record without its loss, the line cut by the kill
    CHECK_EQ(log.steps[0].step, int64_t(1));
    CHECK(log.steps[0].loss == 3.125 && log.steps[0].lr == 5e-05 && log.steps[0].grad_norm == 1.25);
    CHECK(log.steps[0].tokens == 64 && log.steps[0].tokens_per_s == 1234.5);
    CHECK(log.steps[1].step == 2 && log.steps[1].loss == 2.875 && log.steps[1].lr == 0.0001);
    CHECK(log.evals[0].step == 0 && log.evals[0].mean == 3.0);
    CHECK(log.evals[1].step == 2 && log.evals[1].mean == 2.75);
    CHECK(log.evals[1].domains == (std::vector<std::string>{"python", "wiki"}));
    CHECK(log.evals[1].loss == (std::vector<double>{2.25, 3.25}));
    CHECK(!log.finished());
    CHECK_EQ(log.total_steps, int64_t(-1));
    CHECK_EQ(log.before.step, int64_t(-1));
    // the file itself reads the same
    CHECK_EQ(read_train_log((dir / "train_log.jsonl").string()).steps.size(), size_t(2));
}

TEST(summary_of_a_finished_run) {
    const fs::path dir = fs::path(d2m_test::tmp_dir()) / "done";
    fs::remove_all(dir);
    write(dir / "train_log.jsonl", kLog);
    write(dir / "train.json", R"({"stage": "router", "steps": 2, "source_model": "/m/moe",
        "settings": {"stage": "router", "lr": 0.0001, "tokens": 128},
        "held_out_before": {"loss": 3.0, "ppl": 20.08, "domains": {"python": 2.5, "wiki": 3.5}},
        "held_out_after": {"loss": 2.75, "ppl": 15.64, "domains": {"python": 2.25, "wiki": 3.25}}})");
    TrainLog log = read_train_log(dir.string());
    CHECK(log.finished());
    CHECK_EQ(log.stage, std::string("router"));
    CHECK_EQ(log.total_steps, int64_t(2));
    CHECK_EQ(log.source_model, std::string("/m/moe"));
    CHECK(log.settings.value("lr", 0.0) == 0.0001);
    CHECK(log.before.step == 0 && log.before.mean == 3.0 && log.before.loss == (std::vector<double>{2.5, 3.5}));
    CHECK(log.after.step == 2 && log.after.mean == 2.75 && log.after.domains == (std::vector<std::string>{"python", "wiki"}));
}

TEST(missing_log_names_the_file) {
    const fs::path dir = fs::path(d2m_test::tmp_dir()) / "nothing";
    fs::create_directories(dir);
    CHECK_THROWS_WITH(read_train_log(dir.string()), "train_log.jsonl");
}

D2M_TEST_MAIN()
