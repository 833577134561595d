// Fuzz target: a byte-level BPE tokenizer.json (tokenizer/tokenizer.h load_bpe: the model's vocab and
// merges, added tokens, the pre-tokenizer). A tokenizer that loads encodes and decodes a fixed
// multilingual text (every id inside the vocabulary); refusals must be den2moe::Error.
#include "fuzz_support.h"

#include "tokenizer/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string path =
        den2moe::fuzz::write_scratch("tokenizer.json", std::string(reinterpret_cast<const char*>(data), size));
    den2moe::fuzz::expect_house_errors_only([&] {
        auto tok = den2moe::load_bpe(path);
        const std::vector<int> ids = tok->encode("Hello w\xc3\xb6rld 123 \xe4\xbd\xa0\xe5\xa5\xbd  \n\tdef f(x):", false, false);
        for (int id : ids) {
            if (id < 0 || id >= tok->vocab_size()) {
                std::fprintf(stderr, "FINDING: encode produced id %d outside the vocabulary\n", id);
                std::abort();
            }
        }
        (void)tok->decode(ids);
        (void)den2moe::token_bytes(*tok, ids);
    });
    return 0;
}
