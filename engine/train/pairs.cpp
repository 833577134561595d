// Pairs files and the bundled-data pair builder: see train/pairs.h.
#include "train/pairs.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "data/corpus.h"
#include "data/text_lines.h"
#include "io/safetensors.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace den2moe {

namespace {

std::string trimmed(const std::string& s) { return trim_ws(s); }

double number(const std::string& text, const std::string& where) {
    try {
        size_t used = 0;
        const double v = std::stod(trimmed(text), &used);
        if (used == trimmed(text).size() && std::isfinite(v)) return v;
    } catch (const std::exception&) {
    }
    D2M_FAIL(InvalidInput, "'", text, "' is not a number in ", where);
}

std::string bundled(const std::string& shared_dir, const std::string& rel) {
    const std::string p = (fs::path(shared_dir) / rel).lexically_normal().string();
    std::error_code ec;
    D2M_CHECK(fs::exists(p, ec), InvalidInput, "pairs: the bundled file ", p, " does not exist",
              Hint{"set D2M_SHARED_DIR to the folder holding data/ (see shared/data)"});
    return p;
}

/// Evenly spread subset of at most `limit` items (all when limit <= 0), order kept.
std::vector<TextPair> spread(std::vector<TextPair> v, int64_t limit) {
    if (limit <= 0 || static_cast<int64_t>(v.size()) <= limit) return v;
    std::vector<TextPair> out;
    const size_t n = v.size();
    for (int64_t i = 0; i < limit; ++i) out.push_back(std::move(v[static_cast<size_t>(i) * n / static_cast<size_t>(limit)]));
    return out;
}

std::vector<TextPair> mrpc_pairs(const std::string& shared_dir) {
    const std::string path = bundled(shared_dir, "data/mrpc/msr-para-train.tsv");
    const auto ls = text_lines(strip_bom(read_file_maybe_gz(path)));
    std::vector<TextPair> out;
    for (size_t i = 1; i < ls.size(); ++i) {
        if (ls[i].empty()) continue;
        const auto f = split_on(ls[i], '\t');
        D2M_CHECK(f.size() >= 5, InvalidInput, "pairs: line ", i + 1, " of ", path, " has ", f.size(),
                  " tab-separated fields, expected 5");
        if (trimmed(f[0]) != "1") continue;
        TextPair p;
        p.query = f[3];
        p.positive = f[4];
        p.label = 1.0;
        p.domain = "mrpc";
        out.push_back(std::move(p));
    }
    return out;
}

/// score<TAB>a<TAB>b files (SemEval 2012 train), or SICK's header file; pairs with score >= 4 of 5.
std::vector<TextPair> scored_pairs(const std::string& path, bool sick, const std::string& domain) {
    const auto ls = text_lines(strip_bom(read_file_maybe_gz(path)));
    std::vector<TextPair> out;
    for (size_t i = sick ? 1 : 0; i < ls.size(); ++i) {
        if (ls[i].empty()) continue;
        const auto f = split_on(ls[i], '\t');
        D2M_CHECK(f.size() >= (sick ? 4u : 3u), InvalidInput, "pairs: line ", i + 1, " of ", path, " has ", f.size(),
                  " tab-separated fields, expected ", sick ? 4 : 3);
        const double score = number(sick ? f[3] : f[0], "line " + std::to_string(i + 1) + " of " + path);
        if (score < 4.0) continue;
        TextPair p;
        p.query = f[1];  // SICK: id, A, B, score; STS: score, A, B
        p.positive = f[2];
        p.label = score / 5.0;
        p.domain = domain;
        out.push_back(std::move(p));
    }
    return out;
}

std::vector<TextPair> banking_pairs(const std::string& shared_dir, int64_t negatives, uint64_t seed) {
    const std::string path = bundled(shared_dir, "data/banking77/train.csv");
    const std::string data = strip_bom(read_file_maybe_gz(path));
    std::vector<std::pair<std::string, std::string>> rows;  // (text, intent)
    bool header = true;
    parse_csv(path, data, [&](int64_t line, std::vector<std::string>& row) {
        if (row.size() == 1 && row[0].empty()) return true;
        D2M_CHECK(row.size() == 2, InvalidInput, "pairs: the CSV record on line ", line, " of ", path, " has ",
                  row.size(), " fields, expected 2 (text,category)");
        if (header) {
            header = false;
            return true;
        }
        rows.emplace_back(row[0], row[1]);
        return true;
    });
    std::map<std::string, std::vector<size_t>> by_intent;
    for (size_t i = 0; i < rows.size(); ++i) by_intent[rows[i].second].push_back(i);
    std::mt19937_64 rng(seed);
    std::vector<TextPair> out;
    for (auto& kv : by_intent) {
        std::vector<size_t> m = kv.second;
        if (m.size() < 2) continue;
        std::shuffle(m.begin(), m.end(), rng);
        for (size_t j = 0; j + 1 < m.size(); j += 2) {  // disjoint pairs: each query used once
            TextPair p;
            p.query = rows[m[j]].first;
            p.positive = rows[m[j + 1]].first;
            p.label = 1.0;
            p.domain = "banking77";
            for (int64_t k = 0; k < negatives; ++k) {
                size_t r;
                do {
                    r = static_cast<size_t>(rng() % rows.size());
                } while (rows[r].second == kv.first);
                p.negatives.push_back(rows[r].first);
            }
            out.push_back(std::move(p));
        }
    }
    // intents interleaved, so that a spread subset and every batch mix them
    std::shuffle(out.begin(), out.end(), rng);
    return out;
}

}  // namespace

std::vector<TextPair> read_pairs(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    D2M_CHECK(in.good(), Io, "cannot open the pairs file ", path, Hint{"make one with `den2moe pairs --out FILE`"});
    std::vector<TextPair> out;
    std::string line;
    int64_t n = 0;
    static const std::set<std::string> known = {"query", "positive", "negatives", "label", "domain"};
    while (std::getline(in, line)) {
        ++n;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (trimmed(line).empty()) continue;
        json j;
        try {
            j = json::parse(line);
        } catch (const std::exception& e) {
            D2M_FAIL(InvalidInput, "line ", n, " of the pairs file ", path, " is not JSON: ", e.what());
        }
        const std::string at = str("line ", n, " of ", path);
        D2M_CHECK(j.is_object(), InvalidInput, at, " is not a JSON object",
                  Hint{"one {\"query\": ..., \"positive\": ...} object per line"});
        for (auto it = j.begin(); it != j.end(); ++it)
            D2M_CHECK(known.count(it.key()), InvalidInput, at, " has the unknown key '", it.key(), "'",
                      Hint{"keys: query, positive, negatives, label, domain"});
        TextPair p;
        for (const char* k : {"query", "positive"}) {
            D2M_CHECK(j.contains(k) && j[k].is_string() && !j[k].get<std::string>().empty(), InvalidInput, at,
                      " needs a non-empty string '", k, "'");
        }
        p.query = j["query"].get<std::string>();
        p.positive = j["positive"].get<std::string>();
        if (j.contains("negatives")) {
            D2M_CHECK(j["negatives"].is_array(), InvalidInput, at, ": 'negatives' must be a list of strings");
            for (const auto& x : j["negatives"]) {
                D2M_CHECK(x.is_string() && !x.get<std::string>().empty(), InvalidInput, at,
                          ": every negative must be a non-empty string");
                p.negatives.push_back(x.get<std::string>());
            }
        }
        if (j.contains("label") && !j["label"].is_null()) {
            D2M_CHECK(j["label"].is_number(), InvalidInput, at, ": 'label' must be a number");
            p.label = j["label"].get<double>();
            D2M_CHECK(p.label >= -1.0 && p.label <= 1.0, InvalidInput, at, ": label ", p.label,
                      " is outside [-1, 1]", Hint{"the label is the target cosine similarity"});
        }
        if (j.contains("domain")) {
            D2M_CHECK(j["domain"].is_string(), InvalidInput, at, ": 'domain' must be a string");
            p.domain = j["domain"].get<std::string>();
        }
        out.push_back(std::move(p));
    }
    D2M_CHECK(!out.empty(), InvalidInput, "the pairs file ", path, " holds no pair");
    return out;
}

std::string pairs_to_jsonl(const std::vector<TextPair>& pairs) {
    std::string s;
    for (const auto& p : pairs) {
        nlohmann::ordered_json j = nlohmann::ordered_json::object();  // the documented key order
        j["query"] = p.query;
        j["positive"] = p.positive;
        if (!p.negatives.empty()) j["negatives"] = p.negatives;
        if (p.has_label()) j["label"] = p.label;
        if (!p.domain.empty()) j["domain"] = p.domain;
        // invalid UTF-8 is written as U+FFFD (the bundled sources are UTF-8; JSON must be)
        s += j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
        s += '\n';
    }
    return s;
}

void write_pairs(const std::string& path, const std::vector<TextPair>& pairs) {
    write_file_atomic(path, pairs_to_jsonl(pairs));
}

const std::vector<PairSource>& pair_sources() {
    static const std::vector<PairSource> v = {
        {"mrpc", "MRPC train paraphrases (Quality 1), label 1"},
        {"sts12", "SemEval STS 2012 MSRpar + SMTeuroparl train, score >= 4, label score/5"},
        {"sick", "SICK train relatedness >= 4, label score/5 (MTEB's SICK-R test set includes these pairs)"},
        {"banking77", "Banking77 train: same-intent query pairs, hard negatives from other intents"}};
    return v;
}

std::vector<TextPair> build_pairs(const std::string& shared_dir, const PairBuildOptions& opt) {
    D2M_CHECK(!opt.sources.empty(), InvalidInput, "pairs: no source given", Hint{"e.g. --from mrpc,sts12,banking77"});
    D2M_CHECK(opt.negatives >= 0 && opt.negatives <= 64, InvalidInput, "pairs: --negatives ", opt.negatives,
              " is outside 0..64");
    for (const auto& s : opt.sources) {
        bool ok = false;
        std::string names;
        for (const auto& k : pair_sources()) {
            ok = ok || k.name == s;
            names += (names.empty() ? "" : ", ") + k.name;
        }
        D2M_CHECK(ok, InvalidInput, "pairs: unknown source '", s, "'", Hint{"sources: " + names});
    }
    std::vector<TextPair> out;
    for (const auto& s : opt.sources) {
        std::vector<TextPair> v;
        if (s == "mrpc") {
            v = mrpc_pairs(shared_dir);
        } else if (s == "sts12") {
            for (const char* f : {"data/sts_semeval/2012/MSRpar.train.tsv", "data/sts_semeval/2012/SMTeuroparl.train.tsv"}) {
                auto part = scored_pairs(bundled(shared_dir, f), false, "sts12");
                v.insert(v.end(), part.begin(), part.end());
            }
        } else if (s == "sick") {
            v = scored_pairs(bundled(shared_dir, "data/sick2014/SICK_train.txt"), true, "sick");
        } else {
            v = banking_pairs(shared_dir, opt.negatives, opt.seed);
        }
        v = spread(std::move(v), opt.max_per_source);
        out.insert(out.end(), v.begin(), v.end());
    }
    return out;
}

}  // namespace den2moe
