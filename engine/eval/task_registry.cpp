// The task table. Data facts (sizes, missing files, split names) are from shared/MANIFEST.md §2 and
// were counted on the files; instructions follow the e5 / MoEE style (MOEE-MTEB.md §A8).
#include "eval/task_registry.h"

#include <cmath>
#include <filesystem>
#include <limits>
#include <set>

#include "core/error.h"

namespace fs = std::filesystem;

namespace den2moe {

const char* task_type_name(TaskType t) {
    switch (t) {
        case TaskType::MultipleChoice: return "MultipleChoice";
        case TaskType::STS: return "STS";
        case TaskType::Classification: return "Classification";
        case TaskType::Clustering: return "Clustering";
        case TaskType::PairClassification: return "PairClassification";
        case TaskType::Reranking: return "Reranking";
    }
    return "?";
}

const char* task_type_group(TaskType t) {
    switch (t) {
        case TaskType::MultipleChoice: return "zeroshot";
        case TaskType::STS: return "sts";
        case TaskType::Classification: return "classification";
        case TaskType::Clustering: return "clustering";
        case TaskType::PairClassification: return "pairclassification";
        case TaskType::Reranking: return "reranking";
    }
    return "?";
}

namespace {

TaskInfo mc(std::string name, std::string desc, std::vector<std::string> files, double chance, std::string note = {}) {
    TaskInfo t;
    t.name = std::move(name);
    t.type = TaskType::MultipleChoice;
    t.description = std::move(desc);
    t.files = std::move(files);
    t.main_score = "acc";
    t.chance = chance;
    t.note = std::move(note);
    return t;
}

TaskInfo emb(std::string name, TaskType type, std::string desc, std::vector<std::string> files, std::string instr,
             double chance, std::string note = {}, int64_t samples_per_label = 8) {
    TaskInfo t;
    t.name = std::move(name);
    t.type = type;
    t.description = std::move(desc);
    t.files = std::move(files);
    t.instruction = std::move(instr);
    t.chance = chance;
    t.note = std::move(note);
    t.samples_per_label = samples_per_label;
    switch (type) {
        case TaskType::STS: t.main_score = "cosine_spearman"; break;
        case TaskType::Classification: t.main_score = "accuracy"; break;
        case TaskType::Clustering: t.main_score = "v_measure"; break;
        case TaskType::PairClassification: t.main_score = "max_ap"; break;
        case TaskType::Reranking: t.main_score = "map"; break;
        default: break;
    }
    return t;
}

const double kDataDependent = std::numeric_limits<double>::quiet_NaN();

}  // namespace

const std::vector<TaskInfo>& task_registry() {
    static const std::vector<TaskInfo> tasks = [] {
        const std::string sts_instr = "Retrieve semantically similar text.";
        std::vector<TaskInfo> t;
        // ---- zero-shot multiple choice (lm-evaluation-harness task names and prompts) ----
        t.push_back(mc("arc_easy", "ARC-Easy, 4 options (the file named test is ARC's official dev split: 570 questions, 21 of them without their options)",
                       {"data/arc/ARC-E/arc_easy_test.csv"}, 0.25));
        t.push_back(mc("arc_challenge", "ARC-Challenge, 4 options (ARC's official dev split, 299 questions)",
                       {"data/arc/ARC-C/arc_challenge_test.csv"}, 0.25,
                       "1 question whose answer is option E (not kept in the CSV) is skipped"));
        t.push_back(mc("openbookqa", "OpenBookQA main test split, 500 questions, 4 options",
                       {"data/openbookqa/Main/test.tsv"}, 0.25));
        t.push_back(mc("mmlu", "MMLU, 57 subjects, test split (14,042 questions), answer letters A-D; macro and per subject",
                       {"data/mmlu/test", "data/mmlu/dev"}, 0.25));
        t.push_back(mc("pubmedqa", "PubMedQA PQA-L test split (500), yes / no / maybe from the abstract",
                       {"data/pubmedqa/ori_pqal.json.gz", "data/pubmedqa/test_ground_truth.json"}, 1.0 / 3.0));
        t.push_back(mc("logiqa", "LogiQA (English) test split, 651 questions, 4 options",
                       {"data/logiqa/Test.txt"}, 0.25));
        t.push_back(mc("qnli", "GLUE QNLI dev (5,463): does the sentence answer the question? yes / no",
                       {"data/qnli/dev.tsv.gz"}, 0.5));
        t.push_back(mc("sst2", "SST-2 (GLUE dev = the bundled test.tsv, 872): positive / negative",
                       {"data/sst2/test.tsv"}, 0.5));
        // ---- STS ----
        t.push_back(emb("STS12-noMSRvid", TaskType::STS,
                        "SemEval STS 2012 test: MSRpar, OnWN, SMTeuroparl, SMTnews (2,358 pairs)",
                        {"data/sts_semeval/2012/MSRpar.test.tsv", "data/sts_semeval/2012/OnWN.test.tsv",
                         "data/sts_semeval/2012/SMTeuroparl.test.tsv", "data/sts_semeval/2012/SMTnews.test.tsv"},
                        sts_instr, 0.0,
                        "MTEB's STS12 also holds MSRvid (750 pairs), which is not in the bundle: not comparable to STS12"));
        t.push_back(emb("STS13", TaskType::STS, "SemEval STS 2013 test: FNWN, OnWN, headlines (1,500 pairs, as MTEB)",
                        {"data/sts_semeval/2013/FNWN.test.tsv", "data/sts_semeval/2013/OnWN.test.tsv",
                         "data/sts_semeval/2013/headlines.test.tsv"},
                        sts_instr, 0.0));
        t.push_back(emb("STS14", TaskType::STS,
                        "SemEval STS 2014 test: deft-forum, deft-news, headlines, images, OnWN, tweet-news (3,750 pairs)",
                        {"data/sts_semeval/2014/deft-forum.test.tsv", "data/sts_semeval/2014/deft-news.test.tsv",
                         "data/sts_semeval/2014/headlines.test.tsv", "data/sts_semeval/2014/images.test.tsv",
                         "data/sts_semeval/2014/OnWN.test.tsv", "data/sts_semeval/2014/tweet-news.test.tsv"},
                        sts_instr, 0.0));
        t.push_back(emb("SICK-R", TaskType::STS, "SICK relatedness, train + trial + test (9,927 pairs, as MTEB's SICK-R)",
                        {"data/sick2014/SICK_train.txt", "data/sick2014/SICK_trial.txt",
                         "data/sick2014/SICK_test_annotated.txt"},
                        sts_instr, 0.0));
        // ---- Classification (logistic regression on undersampled training sets) ----
        t.push_back(emb("Banking77Classification", TaskType::Classification,
                        "Banking77 intents (77 labels): train 10,003 / test 3,080",
                        {"data/banking77/train.csv", "data/banking77/test.csv"},
                        "Given a online banking query, find the corresponding intents", 1.0 / 77.0, "", 8));
        t.push_back(emb("AGNewsClassification", TaskType::Classification,
                        "AG News topics (4 labels), title + description",
                        {"data/ag_news/test.csv.gz"},
                        "Classify the given news articles into one of four topics: World, Sports, Business, Sci/Tech",
                        0.25, "only AG News' test split is bundled: its first 5,700 rows train, the last 1,900 test", 16));
        t.push_back(emb("SST2Classification", TaskType::Classification,
                        "SST-2 sentiment (2 labels): bundled dev.tsv trains (6,735), test.tsv (GLUE dev, 872) tests",
                        {"data/sst2/dev.tsv", "data/sst2/test.tsv"},
                        "Classify the sentiment expressed in the given movie review text", 0.5, "", 16));
        t.push_back(emb("MRClassification", TaskType::Classification,
                        "Movie-review polarity (Pang & Lee 2005, 2 labels)",
                        {"data/rt_polarity/rt-polarity.pos", "data/rt_polarity/rt-polarity.neg"},
                        "Classify the sentiment expressed in the given movie review text", 0.5,
                        "no official split: every 5th sentence of each file (index % 5 == 4) tests (2,132), the rest trains",
                        16));
        // ---- Clustering (MiniBatchKMeans, v-measure) ----
        t.push_back(emb("Banking77Clustering", TaskType::Clustering,
                        "Banking77 test queries (3,080) into their 77 intents, one cluster set",
                        {"data/banking77/test.csv"}, "Identify the intent of the given online banking query",
                        kDataDependent));
        t.push_back(emb("AGNewsClustering", TaskType::Clustering, "AG News test titles (7,600) into 4 topics, one cluster set",
                        {"data/ag_news/test.csv.gz"}, "Identify the topic or theme of the given news articles",
                        kDataDependent));
        // ---- PairClassification ----
        t.push_back(emb("MRPC", TaskType::PairClassification, "MRPC test (1,725 pairs): paraphrase or not",
                        {"data/mrpc/msr-para-test.tsv"},
                        "Retrieve sentences that are semantically similar to the given sentence", kDataDependent,
                        "unique sentences are encoded in first-occurrence order (mteb 2.x; 1.x used an unordered set)"));
        // ---- Reranking ----
        t.push_back(emb("TrecQAReranking", TaskType::Reranking,
                        "TREC QA answer-sentence selection test (95 questions, 68 with both answer and non-answer)",
                        {"data/trecqa/test.csv"}, "Given a question, retrieve sentences that answer it", kDataDependent,
                        "questions without a positive or without a negative candidate are skipped, as MTEB does"));
        return t;
    }();
    return tasks;
}

const TaskInfo* find_task(const std::string& name) {
    for (const auto& t : task_registry())
        if (t.name == name) return &t;
    return nullptr;
}

std::vector<const TaskInfo*> resolve_tasks(const std::string& spec) {
    std::vector<std::string> names;
    std::string cur;
    for (char c : spec + ",") {
        if (c == ',') {
            while (!cur.empty() && cur.back() == ' ') cur.pop_back();
            size_t b = cur.find_first_not_of(' ');
            if (b != std::string::npos) names.push_back(cur.substr(b));
            cur.clear();
        } else {
            cur.push_back(c);
        }
    }
    D2M_CHECK(!names.empty(), InvalidInput, "no task given", Hint{"--tasks all, or see --list-tasks"});
    std::set<std::string> chosen;
    for (const auto& n : names) {
        bool matched = false;
        for (const auto& t : task_registry()) {
            const bool hit = n == "all" || t.name == n || n == task_type_group(t.type) ||
                             (n == "mteb" && t.is_embedding());
            if (hit) {
                chosen.insert(t.name);
                matched = true;
            }
        }
        if (!matched) {
            std::string known;
            for (const auto& t : task_registry()) known += (known.empty() ? "" : ", ") + t.name;
            D2M_FAIL(InvalidInput, "unknown task '", n, "'",
                     Hint{"known tasks: " + known +
                          "; groups: all, mteb, zeroshot, sts, classification, clustering, pairclassification, "
                          "reranking"});
        }
    }
    std::vector<const TaskInfo*> out;
    for (const auto& t : task_registry())
        if (chosen.count(t.name)) out.push_back(&t);
    return out;
}

std::vector<std::string> task_files(const TaskInfo& t, const std::string& shared_dir) {
    std::vector<std::string> out;
    for (const auto& f : t.files) out.push_back((fs::path(shared_dir) / f).lexically_normal().string());
    return out;
}

void check_task_files(const TaskInfo& t, const std::string& shared_dir) {
    D2M_CHECK(!shared_dir.empty(), InvalidInput, "task ", t.name, ": the shared data folder was not found",
              Hint{"set D2M_SHARED_DIR to the folder holding data/, or put it at ../shared"});
    for (const auto& f : task_files(t, shared_dir)) {
        std::error_code ec;
        D2M_CHECK(fs::exists(f, ec), InvalidInput, "task ", t.name, ": data file ", f, " is missing",
                  Hint{"is D2M_SHARED_DIR the shared bundle (" + shared_dir + ")? MANIFEST.md lists its files"});
    }
}

}  // namespace den2moe
