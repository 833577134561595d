// Fuzz target: a Hugging Face config.json (io/hf_config.h parse_hf_config). Property beyond "house
// errors only": a config the parser accepted and hf_config_to_json wrote is read back to the same
// shape (layers, widths, heads, vocab), i.e. what we write is always something we read.
#include "fuzz_support.h"

#include "io/hf_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    den2moe::fuzz::expect_house_errors_only([&] {
        den2moe::LlamaConfig c = den2moe::parse_hf_config(text, "fuzz/config.json");
        den2moe::LlamaConfig back = den2moe::parse_hf_config(den2moe::hf_config_to_json(c), "fuzz/written.json");
        if (back.n_layer != c.n_layer || back.n_embd != c.n_embd || back.n_ff != c.n_ff || back.n_head != c.n_head ||
            back.n_head_kv != c.n_head_kv || back.head_dim != c.head_dim || back.vocab_size != c.vocab_size ||
            back.rope_style != c.rope_style || back.tie_word_embeddings != c.tie_word_embeddings) {
            std::fprintf(stderr, "FINDING: config.json does not survive write + read\n");
            std::abort();
        }
    });
    return 0;
}
