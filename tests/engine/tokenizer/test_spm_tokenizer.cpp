// SentencePiece tokenizer through the dlopen'd shim: ids and decode equal python3-sentencepiece's for
// every case of the oracle JSON (tests/reference/spm_oracle.py, a CTest fixture; path in
// $D2M_SPM_ORACLE, else $D2M_BUILD_DIR/oracle/spm_oracle.json; a missing file fails the test),
// decode_piece, error messages, and torch + sentencepiece living in one process.
#include "tokenizer/tokenizer.h"

#include "core/error.h"

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include "support/check.h"  // after ATen: glog's CHECK aborts, ours counts
#include "support/oracle_file.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

using den2moe::Tokenizer;

namespace {

std::string demo_model() { return d2m_test::shared_dir() + "/models/demo-llama-7m/tokenizer.model"; }
std::string llama2_model() { return d2m_test::shared_dir() + "/models/llama2_tokenizer/tokenizer.model"; }

std::string oracle_path() {
    if (const char* p = std::getenv("D2M_SPM_ORACLE"); p && *p) return p;
    const char* build = std::getenv("D2M_BUILD_DIR");
    return std::string(build ? build : ".") + "/oracle/spm_oracle.json";
}

nlohmann::json load_oracle(const std::string& path) {
    return d2m_test::load_oracle_file(path, "spm_oracle", "tests/reference/spm_oracle.py");
}

using d2m_test::ids_str;

}  // namespace

TEST(missing_oracle_is_an_error) {
    CHECK_THROWS_WITH(load_oracle(d2m_test::tmp_dir() + "/no_such_oracle.json"), "not found");
}

TEST(oracle_matches_python) {
    const nlohmann::json oracle = load_oracle(oracle_path());  // throws (= test failure) if absent
    CHECK(oracle.size() == 2);
    size_t n_cases = 0;
    for (auto it = oracle.begin(); it != oracle.end(); ++it) {
        auto tok = Tokenizer::load(d2m_test::shared_dir() + "/" + it.key());
        CHECK_EQ(tok->kind(), std::string("sentencepiece"));
        int bad_ids = 0, bad_text = 0;
        for (const auto& c : it.value()) {
            const std::string text = c.at("text").get<std::string>();
            const std::vector<int> want = c.at("ids").get<std::vector<int>>();
            const std::vector<int> got = tok->encode(text, false, false);
            ++n_cases;
            ++d2m_test::checks();
            if (got != want) {
                if (++bad_ids <= 5) {
                    d2m_test::fail(__FILE__, __LINE__, it.key() + ": ids differ for \"" +
                                   text.substr(0, 60) + "\": got " + ids_str(got) + " want " +
                                   ids_str(want));
                }
            }
            ++d2m_test::checks();
            const std::string dec = tok->decode(want);
            if (dec != c.at("decoded").get<std::string>() && ++bad_text <= 5) {
                d2m_test::fail(__FILE__, __LINE__, it.key() + ": decode differs for \"" +
                               text.substr(0, 60) + "\": got \"" + dec.substr(0, 60) + "\"");
            }
            // BOS/EOS wrap the same ids
            std::vector<int> wrapped = tok->encode(text, true, true);
            CHECK(wrapped.size() == want.size() + 2 && wrapped.front() == tok->bos_id() &&
                  wrapped.back() == tok->eos_id());
        }
        std::fprintf(stderr, "  %s: %zu cases, %d id mismatches, %d decode mismatches\n",
                     it.key().c_str(), it.value().size(), bad_ids, bad_text);
    }
    CHECK(n_cases > 200);  // the oracle really held the cases (an empty file must not pass)
}

TEST(vocab_and_special_ids) {
    auto demo = Tokenizer::load(demo_model());
    CHECK_EQ(demo->vocab_size(), 4096);
    CHECK_EQ(demo->bos_id(), 1);
    CHECK_EQ(demo->eos_id(), 2);
    auto l2 = den2moe::load_sentencepiece(llama2_model());
    CHECK_EQ(l2->vocab_size(), 32000);
    CHECK_EQ(l2->piece(29871), std::string("\xE2\x96\x81"));  // "▁"
    CHECK_EQ(l2->piece(13), std::string("<0x0A>"));
    CHECK((l2->encode("", true, true) == std::vector<int>{1, 2}));
    CHECK((l2->encode("Once upon a time", true, false) == std::vector<int>{1, 9038, 2501, 263, 931}));
    // special ids vanish from decode
    CHECK_EQ(l2->decode({1, 9038, 2501, 263, 931, 2}), std::string("Once upon a time"));
}

TEST(decode_piece_streaming) {
    auto tok = Tokenizer::load(llama2_model());
    CHECK_EQ(tok->decode_piece(1, 9038), std::string("Once"));    // "▁Once" after BOS: stripped
    CHECK_EQ(tok->decode_piece(931, 9038), std::string(" Once"));  // elsewhere: "▁" -> " "
    CHECK_EQ(tok->decode_piece(9038, 13), std::string("\n"));      // <0x0A> -> the byte
    CHECK_EQ(tok->decode_piece(0, 1), std::string());              // BOS prints nothing
    CHECK_EQ(tok->decode_piece(0, 2), std::string());
    // streaming concatenation (prev = BOS at the start) reproduces decode()
    for (const std::string text : {"Hello world\nline two", "def f(x):\n    return x",
                                   "caf\xC3\xA9 \xF0\x9F\x98\x80 ok"}) {
        std::vector<int> ids = tok->encode(text, true, false);
        std::string s;
        for (size_t i = 1; i < ids.size(); ++i) s += tok->decode_piece(ids[i - 1], ids[i]);
        CHECK_EQ(s, text);
        CHECK_EQ(tok->decode(ids), text);
    }
    CHECK_THROWS_WITH(tok->decode_piece(1, 32000), "outside the vocabulary");
    CHECK_THROWS_WITH(tok->decode({5, -1}), "outside the vocabulary");
}

// Found before the shim is loaded (so in every build, an AddressSanitizer one included): a missing or empty
// file, a name that says no tokenizer type, an empty tokenizer.json.
TEST(load_errors_name_the_file) {
    const std::string missing = d2m_test::tmp_dir() + "/nope/tokenizer.model";
    CHECK_THROWS_WITH(Tokenizer::load(missing), missing);
    CHECK_THROWS_WITH(den2moe::load_sentencepiece(missing), "not found");
    const std::string empty = d2m_test::tmp_dir() + "/empty0.model";
    std::ofstream(empty, std::ios::binary) << "";
    CHECK_THROWS_WITH(Tokenizer::load(empty), "cannot load the tokenizer " + empty + ": the file is empty");
    try {
        Tokenizer::load(empty);
    } catch (const den2moe::Error& e) {
        CHECK(e.kind() == den2moe::ErrorKind::InvalidInput);
    }
    const std::string odd = d2m_test::tmp_dir() + "/tokenizer.txt";
    {
        std::ofstream(odd) << "{}";
    }
    CHECK_THROWS_WITH(Tokenizer::load(odd), "cannot tell the tokenizer type");
    // tokenizer.json is read as byte-level BPE (bpe_tokenizer.cpp); an empty object says what it lacks
    const std::string empty_json = d2m_test::tmp_dir() + "/tokenizer.json";
    {
        std::ofstream(empty_json) << "{}";
    }
    CHECK_THROWS_WITH(Tokenizer::load(empty_json), "not a Hugging Face tokenizer.json");
}

// Found by sentencepiece's own parser, through the shim.
TEST(bad_models_are_named_without_sentencepiece_internals) {
    // the in-process reader (D2M_SPM=native, an ASan build) words these errors as the library path does
    const std::string bad = d2m_test::tmp_dir() + "/garbage.model";
    {
        std::ofstream(bad) << "this is not a sentencepiece model proto\n";
    }
    CHECK_THROWS_WITH(Tokenizer::load(bad), "cannot load the tokenizer " + bad + ": the file (40 bytes) is not a "
                                            "SentencePiece model");
    // sentencepiece's internals (its source file, line and failed expression) stay out of the message
    const std::string truncated = d2m_test::tmp_dir() + "/truncated.model", empty = d2m_test::tmp_dir() + "/empty.model";
    {
        std::ifstream real(d2m_test::shared_dir() + "/models/demo-llama-7m/tokenizer.model", std::ios::binary);
        std::string head(1000, '\0');
        real.read(head.data(), 1000);
        std::ofstream(truncated, std::ios::binary) << head;
        std::ofstream(empty, std::ios::binary) << "";
    }
    CHECK_THROWS_WITH(Tokenizer::load(empty), "cannot load the tokenizer " + empty + ": the file is empty");
    CHECK_THROWS_WITH(Tokenizer::load(truncated), ": the file (1000 bytes) is not a SentencePiece model");
    for (const std::string& f : {bad, truncated, empty}) {
        try {
            Tokenizer::load(f);
            CHECK(false);
        } catch (const den2moe::Error& e) {
            std::fprintf(stderr, "  bad model message: %s\n", e.what());
            CHECK(e.kind() == den2moe::ErrorKind::InvalidInput);
            CHECK(std::string(e.message()).find(f) != std::string::npos);
            for (const char* leak : {"./src/", ".cc(", "ParseFromArray", "model_proto", "Internal:"})
                CHECK(std::string(e.what()).find(leak) == std::string::npos);
        }
    }
}

TEST(shim_path_resolution) {
    const char* old = std::getenv("D2M_SPM_SHIM");
    std::string saved = old ? old : "";
    ::setenv("D2M_SPM_SHIM", "/opt/x/libspm_shim.so", 1);
    CHECK_EQ(den2moe::spm_shim_path(), std::string("/opt/x/libspm_shim.so"));
    ::unsetenv("D2M_SPM_SHIM");
    CHECK(den2moe::spm_shim_path().find("libspm_shim.so") != std::string::npos);
    if (old) ::setenv("D2M_SPM_SHIM", saved.c_str(), 1);
}

// Run only by the CTest entry test_spm_tokenizer_bad_shim, which points D2M_SPM_SHIM at a path that
// does not exist (the shim is dlopen'd once per process, so this needs its own process).
TEST(shim_missing_reports_path) {
    const char* expect = std::getenv("D2M_EXPECT_SHIM_FAILURE");
    if (!expect) d2m_test::skip("only under test_spm_tokenizer_bad_shim");
#if defined(__SANITIZE_ADDRESS__)
    d2m_test::skip("an AddressSanitizer build refuses every shim before looking for it");
#endif
    const std::string shim = std::getenv("D2M_SPM_SHIM");
    CHECK_THROWS_WITH(Tokenizer::load(demo_model()), "cannot load the sentencepiece shim " + shim);
    CHECK_THROWS_WITH(Tokenizer::load(demo_model()), "D2M_SPM_SHIM");  // the hint
}

// An AddressSanitizer build refuses the shim with the words tests/support/check.h turns into a skip; were
// they changed, every case that loads a SentencePiece model would fail there instead of skipping.
TEST(asan_build_refuses_the_shim_in_the_words_tests_skip_on) {
#if defined(__SANITIZE_ADDRESS__)
    // an ASan build reads tokenizer.model in process (tokenizer/spm_native.cpp); asked for the library, it refuses
    CHECK_EQ(den2moe::sentencepiece_backend(), std::string("native"));
    CHECK_EQ(Tokenizer::load(demo_model())->vocab_size(), 4096);
    ::setenv("D2M_SPM", "shim", 1);
    CHECK_THROWS_WITH(Tokenizer::load(demo_model()), d2m_test::kShimRefusedUnderAsan);
    CHECK_THROWS_WITH(Tokenizer::load(demo_model()), "cannot load the sentencepiece shim ");
    ::unsetenv("D2M_SPM");
    CHECK(d2m_test::skipped_by_sanitizer(std::string("x ") + d2m_test::kShimRefusedUnderAsan));
#else
    d2m_test::skip("only an AddressSanitizer build refuses the shim");
#endif
}

TEST(torch_and_sentencepiece_coexist) {
    if (std::getenv("D2M_EXPECT_SHIM_FAILURE")) return;
    auto tok = Tokenizer::load(demo_model());  // sentencepiece (+ its protobuf) now in the process
    at::Tensor t = at::ones({2, 2});
    CHECK_CLOSE(t.sum().item<float>(), 4.0, 0.0);
    std::vector<int> ids = tok->encode("Once upon a time", true, true);
    at::Tensor ti = at::tensor(std::vector<int64_t>(ids.begin(), ids.end()), at::kLong);
    CHECK_EQ(ti.size(0), static_cast<int64_t>(ids.size()));
    CHECK_EQ(ti[0].item<int64_t>(), int64_t{1});
    CHECK_EQ(tok->decode(ids), std::string("Once upon a time"));
}

D2M_TEST_MAIN()
