// Fuzz target: a SentencePiece tokenizer.model read without the library (tokenizer/spm_model.h
// read_sentencepiece_model: the protobuf wire format, pieces, trainer and normalizer specs), loaded by the
// in-process BPE encoder (load_sentencepiece_native) and converted to tokenizer.json
// (sentencepiece_to_tokenizer_json). A model that loads encodes a fixed multilingual text with malformed UTF-8
// (every id inside the vocabulary), decodes it and streams its pieces; refusals must be den2moe::Error.
#include "fuzz_support.h"

#include "tokenizer/spm_json.h"
#include "tokenizer/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string path =
        den2moe::fuzz::write_scratch("tokenizer.model", std::string(reinterpret_cast<const char*>(data), size));
    den2moe::fuzz::expect_house_errors_only([&] {
        auto tok = den2moe::load_sentencepiece_native(path);
        const std::vector<int> ids =
            tok->encode(" Hello  w\xc3\xb6rld\t123 \xe4\xbd\xa0\xe5\xa5\xbd \xff\xc3 <s> [X]abc\n", true, true);
        for (int id : ids) {
            if (id < 0 || id >= tok->vocab_size()) {
                std::fprintf(stderr, "FINDING: encode produced id %d outside the vocabulary\n", id);
                std::abort();
            }
        }
        (void)tok->decode(ids);
        (void)den2moe::decode_text(*tok, ids);
        (void)den2moe::token_bytes(*tok, ids);
    });
    den2moe::fuzz::expect_house_errors_only([&] { (void)den2moe::sentencepiece_to_tokenizer_json(path); });
    return 0;
}
