// llama2.c tokenizer.bin: int32 max_token_length, then per token float32 score, int32 len, len bytes
// (the token count is the model's vocab_size; the file does not store it). encode() and
// decode_piece() reproduce run.c's encode()/decode() exactly: dummy-prefix " ", UTF-8 code points
// (<= 4 bytes) with byte fallback (byte + 3), then greedy best-score pair merges. The merge loop
// uses a heap + linked list instead of run.c's O(n^2) rescan; it picks the same pair every step
// (highest score, leftmost on ties), so the ids are identical.
#include "tokenizer/tokenizer.h"

#include "core/error.h"

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <queue>
#include <sys/stat.h>
#include <unordered_map>

namespace den2moe {
namespace {

constexpr int kBos = 1;  // run.c hard-codes BOS = 1, EOS = 2, byte pieces at 3..258
constexpr int kEos = 2;
constexpr int kByteOffset = 3;
constexpr float kNoMergeScore = -1e10f;  // run.c's initial best_score: merges must beat it

class Llama2cTokenizer final : public Tokenizer {
public:
    Llama2cTokenizer(std::vector<std::string> pieces, std::vector<float> scores)
        : pieces_(std::move(pieces)), scores_(std::move(scores)) {
        lookup_.reserve(pieces_.size() * 2);
        for (int i = 0; i < static_cast<int>(pieces_.size()); ++i) {
            // run.c compares C strings; the first of duplicate pieces wins here (bsearch in run.c
            // would pick any; the shipped vocabularies have none).
            lookup_.emplace(pieces_[i], i);
        }
    }

    std::vector<int> encode(const std::string& text, bool add_bos, bool add_eos) const override {
        std::vector<int> tokens;
        tokens.reserve(text.size() + 3);
        if (add_bos) tokens.push_back(kBos);
        // run.c reads `text` as a C string: it ends at the first NUL byte.
        const char* c = text.c_str();
        if (c[0] != '\0') {
            // add_dummy_prefix: sentencepiece prepends a space to non-empty text
            int dummy = find(" ");
            tokens.push_back(dummy != -1 ? dummy : byte_token(' '));
        }

        // UTF-8 code points: look each up whole, else emit its bytes as byte-fallback tokens
        std::string buf;
        for (; *c != '\0'; ++c) {
            if ((static_cast<unsigned char>(*c) & 0xC0) != 0x80) buf.clear();
            buf.push_back(*c);
            if ((static_cast<unsigned char>(*(c + 1)) & 0xC0) == 0x80 && buf.size() < 4) continue;
            int id = find(buf);
            if (id != -1) {
                tokens.push_back(id);
            } else {
                for (char b : buf) tokens.push_back(byte_token(static_cast<unsigned char>(b)));
            }
            buf.clear();
        }

        merge(tokens);  // run.c merges over the whole buffer, BOS included
        if (add_eos) tokens.push_back(kEos);
        return tokens;
    }

    std::string decode(const std::vector<int>& ids) const override {
        std::string out;
        int prev = -1;  // the first piece has no predecessor: nothing is stripped
        for (int id : ids) {
            if (id != kBos && id != kEos) out += decode_piece(prev, id);
            prev = id;
        }
        return out;
    }

    std::string decode_piece(int prev, int id) const override {
        check_id(id);
        const char* piece = pieces_[id].c_str();
        // following BOS, the sentencepiece decoder strips the leading space
        if (prev == kBos && piece[0] == ' ') ++piece;
        unsigned char byte_val = 0;
        if (std::sscanf(piece, "<0x%02hhX>", &byte_val) == 1) {
            return std::string(1, static_cast<char>(byte_val));
        }
        return piece;
    }

    std::string piece(int id) const override {
        check_id(id);
        return pieces_[id];
    }
    int vocab_size() const override { return static_cast<int>(pieces_.size()); }
    int bos_id() const override { return kBos; }
    int eos_id() const override { return kEos; }
    std::string kind() const override { return "llama2c"; }
    /// sentencepiece's decoder: one U+FFFD per byte that starts no well-formed character (this is a sentencepiece vocabulary: the Llama 2 .bin is the .model's pieces)
    text::Repair repair() const override { return text::Repair::PerByte; }

private:
    int find(const std::string& s) const {
        auto it = lookup_.find(s);
        return it == lookup_.end() ? -1 : it->second;
    }

    int byte_token(unsigned char b) const {
        int id = b + kByteOffset;
        // A vocabulary without byte pieces cannot fall back; run.c would read past the table.
        return id < vocab_size() ? id : 0;
    }

    void check_id(int id) const {
        D2M_CHECK(id >= 0 && id < vocab_size(), InvalidInput, "token id ", id,
                  " is outside the llama2.c vocabulary [0, ", vocab_size(), ")");
    }

    /// run.c's merge loop: while some adjacent pair concatenates to a vocabulary piece, merge the
    /// pair whose piece scores highest (leftmost on ties).
    void merge(std::vector<int>& tokens) const {
        const int n = static_cast<int>(tokens.size());
        if (n < 2) return;
        std::vector<int> tok = tokens;
        std::vector<int> next(n), prev(n), version(n, 0);
        std::vector<char> alive(n, 1);
        for (int i = 0; i < n; ++i) {
            next[i] = i + 1 < n ? i + 1 : -1;
            prev[i] = i - 1;
        }
        struct Cand {
            float score;
            int left, right, merged, v_left, v_right;
        };
        // max score first; among equal scores the leftmost pair (the list keeps original order,
        // so a smaller left node index is further left)
        auto worse = [](const Cand& a, const Cand& b) {
            if (a.score != b.score) return a.score < b.score;
            return a.left > b.left;
        };
        std::priority_queue<Cand, std::vector<Cand>, decltype(worse)> heap(worse);
        auto push_pair = [&](int l) {
            if (l < 0) return;
            int r = next[l];
            if (r < 0) return;
            int id = find(pieces_[tok[l]] + pieces_[tok[r]]);
            if (id != -1 && scores_[id] > kNoMergeScore) {
                heap.push({scores_[id], l, r, id, version[l], version[r]});
            }
        };
        for (int i = 0; i + 1 < n; ++i) push_pair(i);
        while (!heap.empty()) {
            Cand c = heap.top();
            heap.pop();
            if (!alive[c.left] || !alive[c.right] || next[c.left] != c.right ||
                version[c.left] != c.v_left || version[c.right] != c.v_right) {
                continue;  // stale: one side was merged away or changed since this was queued
            }
            tok[c.left] = c.merged;
            ++version[c.left];
            alive[c.right] = 0;
            next[c.left] = next[c.right];
            if (next[c.right] >= 0) prev[next[c.right]] = c.left;
            push_pair(prev[c.left]);
            push_pair(c.left);
        }
        tokens.clear();
        for (int i = 0; i >= 0 && i < n; i = next[i]) tokens.push_back(tok[i]);
    }

    std::vector<std::string> pieces_;  // as C strings (cut at a NUL), like run.c's vocab
    std::vector<float> scores_;
    std::unordered_map<std::string, int> lookup_;
};

}  // namespace

std::unique_ptr<Tokenizer> load_llama2c_tokenizer(const std::string& path, int vocab_size) {
    struct stat st {};
    D2M_CHECK(::stat(path.c_str(), &st) == 0, Io, "tokenizer file not found: ", path,
              Hint{"pass the llama2.c tokenizer .bin that belongs to the checkpoint (e.g. tok512.bin)"});
    std::ifstream in(path, std::ios::binary);
    D2M_CHECK(in.good(), Io, "cannot open tokenizer file ", path);
    std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    D2M_CHECK(vocab_size >= 0, InvalidInput, "invalid vocab size ", vocab_size, " for ", path);

    size_t off = 0;
    auto read_i32 = [&](int32_t& v) {
        if (off + 4 > data.size()) return false;
        std::memcpy(&v, data.data() + off, 4);  // little-endian, as written by export.py
        off += 4;
        return true;
    };
    int32_t max_token_length = 0;
    D2M_CHECK(read_i32(max_token_length), InvalidInput, "llama2.c tokenizer ", path,
              " is too short for its header (", data.size(), " bytes)");

    std::vector<std::string> pieces;
    std::vector<float> scores;
    // vocab_size 0: read tokens until the end of the file (the .bin holds exactly the vocabulary)
    for (int i = 0; vocab_size == 0 ? off < data.size() : i < vocab_size; ++i) {
        float score = 0.0f;
        int32_t len = 0;
        bool ok = off + 4 <= data.size();
        if (ok) {
            std::memcpy(&score, data.data() + off, 4);
            off += 4;
            ok = read_i32(len);
        }
        D2M_CHECK(ok, InvalidInput, "llama2.c tokenizer ", path, " ends after ", i,
                  " tokens; the model's vocabulary has ", vocab_size,
                  Hint{"is this tokenizer from the same checkpoint (vocab_size in the model header)?"});
        D2M_CHECK(len >= 0 && off + static_cast<size_t>(len) <= data.size(), InvalidInput,
                  "llama2.c tokenizer ", path, ": token ", i, " has length ", len, " at byte ",
                  off - 4, ", beyond the end of the file (", data.size(), " bytes)");
        std::string p(data.data() + off, static_cast<size_t>(len));
        off += static_cast<size_t>(len);
        size_t nul = p.find('\0');
        if (nul != std::string::npos) p.resize(nul);
        pieces.push_back(std::move(p));
        scores.push_back(score);
    }
    D2M_CHECK(!pieces.empty(), InvalidInput, "llama2.c tokenizer ", path, " holds no tokens");
    // run.c hard-codes BOS = 1 and EOS = 2: a shorter vocabulary would hand out ids outside itself
    D2M_CHECK(pieces.size() > static_cast<size_t>(kEos), InvalidInput, "llama2.c tokenizer ", path, " holds ",
              pieces.size(), " tokens; a llama2.c vocabulary starts with <unk>, <s>, </s> (ids 0, 1, 2)",
              Hint{"is this tokenizer from the same checkpoint (vocab_size in the model header)?"});
    return std::make_unique<Llama2cTokenizer>(std::move(pieces), std::move(scores));
}

}  // namespace den2moe
