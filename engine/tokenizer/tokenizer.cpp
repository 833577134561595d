// Tokenizer::load picks the implementation from the file name (*.model -> sentencepiece, *.bin -> llama2.c,
// tokenizer.json / vocab.json -> byte-level BPE; a folder by find_tokenizer's order); tokenizer_files lists what
// a copy must carry. spm_shim_path() finds libspm_shim.so: $D2M_SPM_SHIM, beside the executable,
// <exe dir>/../lib/den2moe (installed layout), then the build-tree path compiled in. decode_text,
// token_bytes and token_spans apply the text policy (core/text.h) with the tokenizer's own rule.
#include "tokenizer/tokenizer.h"

#include "core/error.h"

#include <cstdlib>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

namespace den2moe {
namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool file_exists(const std::string& p) {
    struct stat st {};
    return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::string exe_dir() {
    char buf[PATH_MAX];
    ssize_t n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
    if (n <= 0) return {};
    std::string exe(buf, static_cast<size_t>(n));
    size_t slash = exe.rfind('/');
    return slash == std::string::npos ? std::string(".") : exe.substr(0, slash);
}

}  // namespace

std::string spm_shim_path() {
    if (const char* env = std::getenv("D2M_SPM_SHIM"); env && *env) return env;
    const std::string dir = exe_dir();
    const std::string beside = dir + "/libspm_shim.so";
    if (!dir.empty() && file_exists(beside)) return beside;
    const std::string installed = dir + "/../lib/den2moe/libspm_shim.so";
    if (!dir.empty() && file_exists(installed)) return installed;
#ifdef D2M_SPM_SHIM_BUILD_PATH
    return D2M_SPM_SHIM_BUILD_PATH;
#else
    return beside;  // nothing found: name the first place searched in the dlopen error
#endif
}

std::string decode_text(const Tokenizer& tok, const std::vector<int>& ids) {
    return text::repair(tok.decode(ids), tok.repair());
}

std::vector<std::string> token_bytes(const Tokenizer& tok, const std::vector<int>& ids, int prev) {
    std::vector<std::string> out;
    out.reserve(ids.size());
    for (int id : ids) {
        // BOS/EOS add nothing to the text (decode() drops them; run.c would print llama2.c's "\n<s>\n")
        out.push_back(id == tok.bos_id() || id == tok.eos_id() ? std::string() : tok.decode_piece(prev, id));
        prev = id;
    }
    return out;
}

std::vector<text::TokenSpan> token_spans(const Tokenizer& tok, const std::vector<std::string>& bytes) {
    return text::group_tokens(bytes, text::Unit::Grapheme, tok.repair());
}

std::vector<std::string> tokenizer_files(const std::string& path) {
    struct stat st {};
    const bool dir = ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
    if (!dir && !is_bpe_tokenizer_path(path)) return {path};
    std::string folder = path, base;
    if (!dir) {
        const size_t s = path.rfind('/');
        folder = s == std::string::npos ? std::string(".") : path.substr(0, s);
        base = s == std::string::npos ? path : path.substr(s + 1);
    }
    while (folder.size() > 1 && folder.back() == '/') folder.pop_back();
    if (base.empty() && file_exists(folder + "/tokenizer.model")) return {folder + "/tokenizer.model"};  // as load()
    const bool single = base == "tokenizer.json" || (base.empty() && file_exists(folder + "/tokenizer.json"));
    std::vector<std::string> names = single ? std::vector<std::string>{"tokenizer.json"}
                                            : std::vector<std::string>{"vocab.json", "merges.txt", "added_tokens.json"};
    names.insert(names.end(), {"tokenizer_config.json", "special_tokens_map.json"});
    std::vector<std::string> out;
    for (const std::string& n : names)
        if (file_exists(folder + "/" + n)) out.push_back(folder + "/" + n);
    return out;
}

std::unique_ptr<Tokenizer> Tokenizer::load(const std::string& path, int vocab_size_hint) {
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
        const std::string dir = path.back() == '/' ? path.substr(0, path.size() - 1) : path;
        // find_tokenizer's order: a Llama folder has tokenizer.model and a byte-fallback tokenizer.json
        if (file_exists(dir + "/tokenizer.model")) return load_sentencepiece(dir + "/tokenizer.model");
        if (file_exists(dir + "/tokenizer.json") || file_exists(dir + "/vocab.json")) return load_bpe(dir);
        D2M_FAIL(InvalidInput, "folder ", path, " holds no tokenizer (tokenizer.json, vocab.json + merges.txt or tokenizer.model)",
                 Hint{"pass the tokenizer file itself, or the model folder that holds it"});
    }
    D2M_CHECK(file_exists(path), Io, "tokenizer file not found: ", path,
              Hint{"pass tokenizer.model (sentencepiece), a llama2.c tokenizer .bin, tokenizer.json or a folder "
                   "with vocab.json + merges.txt (byte-level BPE)"});
    if (is_bpe_tokenizer_path(path)) return load_bpe(path);
    if (ends_with(path, ".model")) return load_sentencepiece(path);
    if (ends_with(path, ".bin")) return load_llama2c_tokenizer(path, vocab_size_hint);
    D2M_FAIL(InvalidInput, "cannot tell the tokenizer type of ", path,
             ": expected a *.model (sentencepiece), *.bin (llama2.c), tokenizer.json or vocab.json (byte-level BPE)",
             Hint{"rename the file to its proper extension"});
}

}  // namespace den2moe
