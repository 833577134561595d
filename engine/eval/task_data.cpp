// Loaders of the bundled evaluation sets (see eval/task_data.h). File formats: shared/MANIFEST.md §2.
// TSV files are split on tabs only (their texts hold raw quotes); CSV files are RFC 4180.
#include "eval/task_data.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <map>

#include "core/error.h"
#include "core/settings.h"
#include "data/corpus.h"
#include "data/text_lines.h"

namespace fs = std::filesystem;

namespace den2moe {

namespace {

std::string file_of(const TaskInfo& t, const std::string& shared_dir, size_t i) {
    return (fs::path(shared_dir) / t.files.at(i)).lexically_normal().string();
}

std::vector<std::string> split(const std::string& s, char sep) { return split_on(s, sep); }
std::vector<std::string> lines_of(const std::string& data) { return text_lines(data); }
std::string trim(const std::string& s) { return trim_ws(s); }

/// TSV rows (tab-split lines); with a header, returns the column index of each wanted name.
struct Tsv {
    std::vector<std::vector<std::string>> rows;
    std::map<std::string, size_t> col;
};
Tsv read_tsv(const std::string& task, const std::string& path, bool header, const std::vector<std::string>& want,
             size_t min_fields) {
    Tsv t;
    std::vector<std::string> ls = lines_of(strip_bom(read_file_maybe_gz(path)));
    size_t first = 0;
    if (header) {
        D2M_CHECK(!ls.empty(), InvalidInput, "task ", task, ": ", path, " is empty");
        const auto h = split(ls[0], '\t');
        for (size_t i = 0; i < h.size(); ++i) t.col[trim(h[i])] = i;
        for (const auto& w : want)
            D2M_CHECK(t.col.count(w), InvalidInput, "task ", task, ": ", path, " has no column '", w, "' in its header");
        first = 1;
        min_fields = std::max(min_fields, h.size());
    }
    for (size_t i = first; i < ls.size(); ++i) {
        if (ls[i].empty()) continue;
        auto f = split(ls[i], '\t');
        D2M_CHECK(f.size() >= min_fields, InvalidInput, "task ", task, ": line ", i + 1, " of ", path, " has ",
                  f.size(), " tab-separated fields, expected ", min_fields);
        t.rows.push_back(std::move(f));
    }
    return t;
}

/// CSV rows; with a header, `col` maps its names.
struct Csv {
    std::vector<std::vector<std::string>> rows;
    std::map<std::string, size_t> col;
};
Csv read_csv_file(const std::string& task, const std::string& path, bool header, const std::vector<std::string>& want,
                  size_t n_fields) {
    Csv c;
    const std::string data = strip_bom(read_file_maybe_gz(path));
    bool first = header;
    parse_csv(path, data, [&](int64_t line, std::vector<std::string>& row) {
        if (row.size() == 1 && row[0].empty()) return true;
        if (first) {
            for (size_t i = 0; i < row.size(); ++i) c.col[row[i]] = i;
            for (const auto& w : want)
                D2M_CHECK(c.col.count(w), InvalidInput, "task ", task, ": ", path, " has no column '", w, "'");
            n_fields = row.size();
            first = false;
            return true;
        }
        D2M_CHECK(row.size() == n_fields, InvalidInput, "task ", task, ": the CSV record on line ", line, " of ", path,
                  " has ", row.size(), " fields, expected ", n_fields);
        c.rows.push_back(row);
        return true;
    });
    return c;
}

template <class T>
std::vector<T> pick(const std::vector<T>& v, const std::vector<size_t>& idx) {
    std::vector<T> out;
    out.reserve(idx.size());
    for (size_t i : idx) out.push_back(v[i]);
    return out;
}

int letter_index(const std::string& a) {
    if (a.size() != 1) return -1;
    const char c = a[0];
    if (c >= 'A' && c <= 'H') return c - 'A';
    if (c >= 'a' && c <= 'h') return c - 'a';
    if (c >= '1' && c <= '8') return c - '1';
    return -1;
}

// ---- multiple choice ----

/// Every usable document of a file; `skipped` counts the unusable ones.
McTaskData load_letter_csv(const TaskInfo& t, const std::string& path) {
    // headerless question,A,B,C,D,answer (ARC, MMLU)
    Csv c = read_csv_file(t.name, path, false, {}, 6);
    McTaskData d;
    std::vector<McDoc>& all = d.docs;
    for (const auto& r : c.rows) {
        McDoc doc;
        doc.question = r[0];
        doc.options = {r[1], r[2], r[3], r[4]};
        doc.gold = letter_index(trim(r[5]));
        if (doc.gold < 0 || doc.gold >= 4) {  // ARC's "E" answers: the fifth option was not kept
            ++d.skipped;
            continue;
        }
        // ARC's 3-option questions leave D empty: 3 choices, as lm-eval. The bundled ARC files lost every
        // option of their items with numbered keys (1-4): with empty choices each would score 0 and the tie
        // go to option A, so those are skipped (found by issue 22's lm-eval check)
        while (!doc.options.empty() && trim(doc.options.back()).empty()) doc.options.pop_back();
        if (doc.options.size() < 2 || doc.gold >= static_cast<int>(doc.options.size()) ||
            std::any_of(doc.options.begin(), doc.options.end(), [](const std::string& o) { return trim(o).empty(); })) {
            ++d.skipped;
            continue;
        }
        all.push_back(std::move(doc));
    }
    return d;
}

McTaskData load_mmlu(const TaskInfo& t, const std::string& shared_dir, int64_t k_shot, int64_t limit) {
    const std::string test_dir = file_of(t, shared_dir, 0), dev_dir = file_of(t, shared_dir, 1);
    std::vector<std::string> subjects;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(test_dir, ec)) {
        const std::string name = e.path().filename().string();
        const std::string suffix = "_test.csv.gz";
        if (name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
            subjects.push_back(name.substr(0, name.size() - suffix.size()));
    }
    D2M_CHECK(!ec && !subjects.empty(), InvalidInput, "task mmlu: no <subject>_test.csv.gz files in ", test_dir);
    std::sort(subjects.begin(), subjects.end());
    McTaskData d;
    for (const auto& s : subjects) {
        McTaskData part = load_letter_csv(t, test_dir + "/" + s + "_test.csv.gz");
        part.docs = pick(part.docs, spread_indices(part.docs.size(), limit));  // per subject
        std::vector<McDoc> shots;
        if (k_shot > 0) {
            const std::string dev = dev_dir + "/" + s + "_dev.csv";
            D2M_CHECK(fs::exists(dev, ec), InvalidInput, "task mmlu: --k-shot ", k_shot, " needs the dev split ", dev,
                      ", which is missing");
            McTaskData dv = load_letter_csv(t, dev);
            D2M_CHECK(static_cast<int64_t>(dv.docs.size()) >= k_shot, InvalidInput, "task mmlu: ", dev, " holds ",
                      dv.docs.size(), " examples, fewer than --k-shot ", k_shot);
            shots.assign(dv.docs.begin(), dv.docs.begin() + k_shot);  // lm-eval's first_n sampler
        }
        for (auto& doc : part.docs) {
            doc.subject = s;
            d.docs.push_back(doc);
            d.shots.push_back(shots);
        }
        d.skipped += part.skipped;
    }
    return d;
}

std::vector<McDoc> load_openbookqa(const TaskInfo& t, const std::string& path) {
    Tsv tsv = read_tsv(t.name, path, true, {"Question Stem", "Choices", "Answer Key"}, 0);
    std::vector<McDoc> all;
    for (const auto& r : tsv.rows) {
        McDoc doc;
        doc.question = r[tsv.col["Question Stem"]];
        const std::string ch = r[tsv.col["Choices"]];
        // "(A) text (B) text (C) text (D) text"
        std::vector<size_t> at;
        for (const char* m : {"(A) ", " (B) ", " (C) ", " (D) "}) {
            const size_t p = ch.find(m, at.empty() ? 0 : at.back());
            D2M_CHECK(p != std::string::npos, InvalidInput, "task openbookqa: cannot find '", m, "' in the choices '", ch,
                      "' of ", path);
            at.push_back(p);
        }
        for (size_t i = 0; i < 4; ++i) {
            const size_t b = at[i] + (i == 0 ? 4 : 5);
            const size_t e = i + 1 < 4 ? at[i + 1] : ch.size();
            doc.options.push_back(trim(ch.substr(b, e - b)));
        }
        doc.gold = letter_index(trim(r[tsv.col["Answer Key"]]));
        D2M_CHECK(doc.gold >= 0 && doc.gold < 4, InvalidInput, "task openbookqa: answer key '", r[tsv.col["Answer Key"]],
                  "' in ", path);
        all.push_back(std::move(doc));
    }
    return all;
}

std::vector<McDoc> load_pubmedqa(const TaskInfo& t, const std::string& shared_dir) {
    const std::string ori = file_of(t, shared_dir, 0), truth = file_of(t, shared_dir, 1);
    nlohmann::ordered_json docs, gt;
    try {
        docs = nlohmann::ordered_json::parse(read_file_maybe_gz(ori));
        gt = nlohmann::ordered_json::parse(read_file_maybe_gz(truth));
    } catch (const nlohmann::json::exception& e) {
        D2M_FAIL(InvalidInput, "task pubmedqa: invalid JSON in ", ori, " or ", truth, ": ", e.what());
    }
    std::vector<McDoc> all;
    for (auto it = gt.begin(); it != gt.end(); ++it) {
        D2M_CHECK(docs.contains(it.key()), InvalidInput, "task pubmedqa: PMID ", it.key(), " of ", truth,
                  " is not in ", ori);
        const auto& j = docs[it.key()];
        McDoc doc;
        doc.question = j.at("QUESTION").get<std::string>();
        for (const auto& c : j.at("CONTEXTS")) doc.passage += (doc.passage.empty() ? "" : "\n") + c.get<std::string>();
        const std::string ans = it.value().get<std::string>();
        doc.gold = ans == "yes" ? 0 : ans == "no" ? 1 : ans == "maybe" ? 2 : -1;
        D2M_CHECK(doc.gold >= 0, InvalidInput, "task pubmedqa: answer '", ans, "' for PMID ", it.key(), " in ", truth);
        doc.options = {"yes", "no", "maybe"};
        all.push_back(std::move(doc));
    }
    return all;
}

std::vector<McDoc> load_logiqa(const std::string& path) {
    // blocks separated by blank lines: answer letter, passage, question, 4 options "A.text"; the
    // normalisation (". " after every period) is that of lm-eval's logiqa dataset script
    auto normalize = [](std::string s) {
        std::string o;
        for (char c : s) {
            o.push_back(c);
            if (c == '.') o.push_back(' ');
        }
        return trim(o);
    };
    std::vector<std::string> ls = lines_of(read_file_maybe_gz(path));
    std::vector<McDoc> all;
    for (size_t i = 0; i < ls.size();) {
        if (trim(ls[i]).empty()) {
            ++i;
            continue;
        }
        D2M_CHECK(i + 7 <= ls.size(), InvalidInput, "task logiqa: truncated item at line ", i + 1, " of ", path);
        McDoc doc;
        doc.gold = letter_index(trim(ls[i]));
        D2M_CHECK(doc.gold >= 0 && doc.gold < 4, InvalidInput, "task logiqa: line ", i + 1, " of ", path,
                  " should be the answer letter a-d, found '", ls[i], "'");
        doc.passage = normalize(ls[i + 1]);
        doc.question = normalize(ls[i + 2]);
        for (size_t k = 0; k < 4; ++k) {
            const std::string& o = ls[i + 3 + k];
            doc.options.push_back(normalize(o.size() >= 2 ? o.substr(2) : o));
        }
        all.push_back(std::move(doc));
        i += 7;
    }
    return all;
}

std::vector<McDoc> load_qnli(const TaskInfo& t, const std::string& path) {
    Tsv tsv = read_tsv(t.name, path, true, {"question", "sentence", "label"}, 0);
    std::vector<McDoc> all;
    for (const auto& r : tsv.rows) {
        McDoc doc;
        doc.question = r[tsv.col["question"]];
        doc.passage = r[tsv.col["sentence"]];
        const std::string l = trim(r[tsv.col["label"]]);
        doc.gold = l == "entailment" ? 0 : l == "not_entailment" ? 1 : -1;  // choices: yes, no
        D2M_CHECK(doc.gold >= 0, InvalidInput, "task qnli: label '", l, "' in ", path);
        doc.options = {"yes", "no"};
        all.push_back(std::move(doc));
    }
    return all;
}

std::vector<std::pair<std::string, int64_t>> read_sst2(const std::string& task, const std::string& path) {
    Tsv tsv = read_tsv(task, path, true, {"sentence", "label"}, 0);
    std::vector<std::pair<std::string, int64_t>> out;
    for (const auto& r : tsv.rows) {
        const std::string l = trim(r[tsv.col["label"]]);
        D2M_CHECK(l == "0" || l == "1", InvalidInput, "task ", task, ": label '", l, "' in ", path);
        out.emplace_back(r[tsv.col["sentence"]], l == "1" ? 1 : 0);
    }
    return out;
}

std::vector<McDoc> load_sst2_mc(const TaskInfo& t, const std::string& path) {
    std::vector<McDoc> all;
    for (const auto& [s, l] : read_sst2(t.name, path)) {
        McDoc doc;
        doc.question = s;
        doc.gold = static_cast<int>(l);  // choices: negative, positive
        doc.options = {"negative", "positive"};
        all.push_back(std::move(doc));
    }
    return all;
}

// rows (text, label name) of a Banking77 CSV
std::vector<std::pair<std::string, std::string>> read_banking(const std::string& task, const std::string& path) {
    Csv c = read_csv_file(task, path, true, {"text", "category"}, 0);
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& r : c.rows) out.emplace_back(r[c.col["text"]], r[c.col["category"]]);
    return out;
}

struct AgRow {
    int64_t label;
    std::string title, description;
};
std::vector<AgRow> read_ag(const std::string& task, const std::string& path) {
    Csv c = read_csv_file(task, path, true, {"label", "title", "description"}, 0);
    std::vector<AgRow> out;
    for (const auto& r : c.rows) {
        const std::string l = trim(r[c.col["label"]]);
        D2M_CHECK(l.size() == 1 && l[0] >= '1' && l[0] <= '4', InvalidInput, "task ", task, ": label '", l, "' in ", path);
        out.push_back({l[0] - '1', r[c.col["title"]], r[c.col["description"]]});
    }
    return out;
}
const std::vector<std::string> kAgNames = {"World", "Sports", "Business", "Sci/Tech"};

}  // namespace

std::vector<size_t> spread_indices(size_t n, int64_t limit) {
    std::vector<size_t> out;
    if (limit <= 0 || static_cast<size_t>(limit) >= n) {
        out.resize(n);
        for (size_t i = 0; i < n; ++i) out[i] = i;
        return out;
    }
    for (int64_t i = 0; i < limit; ++i) out.push_back(static_cast<size_t>(static_cast<double>(i) * n / limit));
    return out;
}

std::string cp1252_to_utf8(const std::string& s) {
    static const uint16_t k80[32] = {0x20ac, 0x81,   0x201a, 0x192,  0x201e, 0x2026, 0x2020, 0x2021,
                                     0x2c6,  0x2030, 0x160,  0x2039, 0x152,  0x8d,   0x17d,  0x8f,
                                     0x90,   0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014,
                                     0x2dc,  0x2122, 0x161,  0x203a, 0x153,  0x9d,   0x17e,  0x178};
    std::string out;
    for (unsigned char c : s) {
        uint32_t cp = c < 0x80 ? c : c < 0xa0 ? k80[c - 0x80] : c;
        if (cp < 0x80) {
            out.push_back(static_cast<char>(cp));
        } else if (cp < 0x800) {
            out.push_back(static_cast<char>(0xc0 | (cp >> 6)));
            out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
        } else {
            out.push_back(static_cast<char>(0xe0 | (cp >> 12)));
            out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
            out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
        }
    }
    return out;
}

McTaskData load_mc_task(const TaskInfo& t, const std::string& shared_dir, int64_t k_shot, int64_t limit) {
    D2M_CHECK(t.type == TaskType::MultipleChoice, Internal, "load_mc_task: ", t.name, " is not multiple choice");
    if (t.name == "mmlu") return load_mmlu(t, shared_dir, k_shot, limit);
    McTaskData d;
    const std::string path = file_of(t, shared_dir, 0);
    if (t.name == "arc_easy" || t.name == "arc_challenge") d = load_letter_csv(t, path);
    else if (t.name == "openbookqa") d.docs = load_openbookqa(t, path);
    else if (t.name == "pubmedqa") d.docs = load_pubmedqa(t, shared_dir);
    else if (t.name == "logiqa") d.docs = load_logiqa(path);
    else if (t.name == "qnli") d.docs = load_qnli(t, path);
    else if (t.name == "sst2") d.docs = load_sst2_mc(t, path);
    else D2M_FAIL(Internal, "no loader for multiple-choice task ", t.name);
    d.docs = pick(d.docs, spread_indices(d.docs.size(), limit));
    d.shots.assign(d.docs.size(), {});
    D2M_CHECK(!d.docs.empty(), InvalidInput, "task ", t.name, ": no usable items in ", file_of(t, shared_dir, 0));
    return d;
}

StsData load_sts(const TaskInfo& t, const std::string& shared_dir, int64_t limit) {
    StsData all;
    for (size_t i = 0; i < t.files.size(); ++i) {
        const std::string path = file_of(t, shared_dir, i);
        if (t.name == "SICK-R") {
            Tsv tsv = read_tsv(t.name, path, true, {"sentence_A", "sentence_B", "relatedness_score"}, 0);
            for (const auto& r : tsv.rows) {
                all.sentence1.push_back(r[tsv.col["sentence_A"]]);
                all.sentence2.push_back(r[tsv.col["sentence_B"]]);
                all.score.push_back(parse_real_text(trim(r[tsv.col["relatedness_score"]]), "SICK relatedness in " + path));
            }
        } else {  // SemEval: score \t sentence1 \t sentence2
            Tsv tsv = read_tsv(t.name, path, false, {}, 3);
            for (const auto& r : tsv.rows) {
                all.score.push_back(parse_real_text(trim(r[0]), "STS score in " + path));
                all.sentence1.push_back(r[1]);
                all.sentence2.push_back(r[2]);
            }
        }
    }
    const auto idx = spread_indices(all.score.size(), limit);
    StsData d;
    d.sentence1 = pick(all.sentence1, idx);
    d.sentence2 = pick(all.sentence2, idx);
    d.score = pick(all.score, idx);
    return d;
}

ClassificationData load_classification(const TaskInfo& t, const std::string& shared_dir, int64_t limit) {
    ClassificationData d;
    std::vector<std::string> test_text;
    std::vector<int64_t> test_label;
    if (t.name == "Banking77Classification") {
        auto train = read_banking(t.name, file_of(t, shared_dir, 0));
        auto test = read_banking(t.name, file_of(t, shared_dir, 1));
        std::map<std::string, int64_t> ids;
        for (const auto& r : train) ids.emplace(r.second, 0);
        int64_t k = 0;
        for (auto& kv : ids) {
            kv.second = k++;
            d.label_names.push_back(kv.first);
        }
        for (const auto& r : train) {
            d.train_text.push_back(r.first);
            d.train_label.push_back(ids.at(r.second));
        }
        for (const auto& r : test) {
            D2M_CHECK(ids.count(r.second), InvalidInput, "task ", t.name, ": test label '", r.second,
                      "' never occurs in the training split");
            test_text.push_back(r.first);
            test_label.push_back(ids.at(r.second));
        }
    } else if (t.name == "AGNewsClassification") {
        auto rows = read_ag(t.name, file_of(t, shared_dir, 0));
        D2M_CHECK(rows.size() == 7600, InvalidInput, "task ", t.name, ": expected AG News' 7,600 test rows, found ",
                  rows.size());
        for (size_t i = 0; i < rows.size(); ++i) {
            const std::string text = rows[i].title + " " + rows[i].description;
            if (i < 5700) {
                d.train_text.push_back(text);
                d.train_label.push_back(rows[i].label);
            } else {
                test_text.push_back(text);
                test_label.push_back(rows[i].label);
            }
        }
        d.label_names = kAgNames;
    } else if (t.name == "SST2Classification") {
        for (const auto& [s, l] : read_sst2(t.name, file_of(t, shared_dir, 0))) {
            d.train_text.push_back(s);
            d.train_label.push_back(l);
        }
        for (const auto& [s, l] : read_sst2(t.name, file_of(t, shared_dir, 1))) {
            test_text.push_back(s);
            test_label.push_back(l);
        }
        d.label_names = {"negative", "positive"};
    } else if (t.name == "MRClassification") {
        // files: pos, neg; negatives first (label 0), then positives (label 1)
        for (int f : {1, 0}) {
            const auto ls = lines_of(read_file_maybe_gz(file_of(t, shared_dir, static_cast<size_t>(f))));
            const int64_t label = f == 0 ? 1 : 0;
            for (size_t i = 0; i < ls.size(); ++i) {
                const std::string s = cp1252_to_utf8(ls[i]);
                if (i % 5 == 4) {
                    test_text.push_back(s);
                    test_label.push_back(label);
                } else {
                    d.train_text.push_back(s);
                    d.train_label.push_back(label);
                }
            }
        }
        d.label_names = {"negative", "positive"};
    } else {
        D2M_FAIL(Internal, "no loader for classification task ", t.name);
    }
    const auto idx = spread_indices(test_text.size(), limit);
    d.test_text = pick(test_text, idx);
    d.test_label = pick(test_label, idx);
    return d;
}

ClusteringData load_clustering(const TaskInfo& t, const std::string& shared_dir, int64_t limit) {
    std::vector<std::string> texts;
    std::vector<int64_t> labels;
    if (t.name == "Banking77Clustering") {
        std::map<std::string, int64_t> ids;
        auto rows = read_banking(t.name, file_of(t, shared_dir, 0));
        for (const auto& r : rows) ids.emplace(r.second, static_cast<int64_t>(ids.size()));
        for (const auto& r : rows) {
            texts.push_back(r.first);
            labels.push_back(ids.at(r.second));
        }
    } else if (t.name == "AGNewsClustering") {
        for (const auto& r : read_ag(t.name, file_of(t, shared_dir, 0))) {
            texts.push_back(r.title);
            labels.push_back(r.label);
        }
    } else {
        D2M_FAIL(Internal, "no loader for clustering task ", t.name);
    }
    const auto idx = spread_indices(texts.size(), limit);
    ClusteringData d;
    d.sets.push_back(pick(texts, idx));
    d.labels.push_back(pick(labels, idx));
    return d;
}

PairData load_pairs(const TaskInfo& t, const std::string& shared_dir, int64_t limit) {
    D2M_CHECK(t.name == "MRPC", Internal, "no loader for pair-classification task ", t.name);
    const std::string path = file_of(t, shared_dir, 0);
    Tsv tsv = read_tsv(t.name, path, true, {"Quality", "#1 String", "#2 String"}, 0);
    PairData all;
    for (const auto& r : tsv.rows) {
        const std::string q = trim(r[tsv.col["Quality"]]);
        D2M_CHECK(q == "0" || q == "1", InvalidInput, "task MRPC: Quality '", q, "' in ", path);
        all.sentence1.push_back(r[tsv.col["#1 String"]]);
        all.sentence2.push_back(r[tsv.col["#2 String"]]);
        all.label.push_back(q == "1" ? 1 : 0);
    }
    const auto idx = spread_indices(all.label.size(), limit);
    PairData d;
    d.sentence1 = pick(all.sentence1, idx);
    d.sentence2 = pick(all.sentence2, idx);
    d.label = pick(all.label, idx);
    return d;
}

RerankingData load_reranking(const TaskInfo& t, const std::string& shared_dir, int64_t limit) {
    D2M_CHECK(t.name == "TrecQAReranking", Internal, "no loader for reranking task ", t.name);
    const std::string path = file_of(t, shared_dir, 0);
    Csv c = read_csv_file(t.name, path, true, {"qtext", "label", "atext"}, 0);
    RerankingData all;
    std::map<std::string, size_t> at;
    for (const auto& r : c.rows) {
        const std::string q = r[c.col["qtext"]];
        auto it = at.find(q);
        if (it == at.end()) {
            it = at.emplace(q, all.samples.size()).first;
            all.samples.push_back({q, {}, {}});
        }
        const std::string l = trim(r[c.col["label"]]);
        D2M_CHECK(l == "0" || l == "1", InvalidInput, "task ", t.name, ": label '", l, "' in ", path);
        (l == "1" ? all.samples[it->second].positive : all.samples[it->second].negative).push_back(r[c.col["atext"]]);
    }
    RerankingData d;
    d.samples = pick(all.samples, spread_indices(all.samples.size(), limit));
    return d;
}

}  // namespace den2moe
