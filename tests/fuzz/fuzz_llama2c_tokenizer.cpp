// Fuzz target: a llama2.c tokenizer .bin (tokenizer/tokenizer.h load_llama2c_tokenizer: max token
// length, then per token a float score, an int32 length and the bytes). The first two input bytes
// are the vocabulary size the checkpoint would claim (1..65536); the rest is the file. A tokenizer
// that loads then encodes and decodes a fixed text; refusals must be den2moe::Error.
#include "fuzz_support.h"

#include "tokenizer/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 2) return 0;
    const int vocab = 1 + (data[0] | (data[1] << 8));
    const std::string path =
        den2moe::fuzz::write_scratch("tok.bin", std::string(reinterpret_cast<const char*>(data) + 2, size - 2));
    den2moe::fuzz::expect_house_errors_only([&] {
        auto tok = den2moe::load_llama2c_tokenizer(path, vocab);
        const std::vector<int> ids = tok->encode("Once upon a time, \xc3\xa9t\xc3\xa9 \xe2\x81\x87 <0x0A>", true, true);
        for (int id : ids) {
            if (id < 0 || id >= tok->vocab_size()) {
                std::fprintf(stderr, "FINDING: encode produced id %d outside the vocabulary\n", id);
                std::abort();
            }
        }
        (void)den2moe::decode_text(*tok, ids);
        (void)den2moe::token_bytes(*tok, ids);
    });
    return 0;
}
