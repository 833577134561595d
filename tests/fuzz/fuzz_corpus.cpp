// Fuzz target: the corpus readers (engine/data/corpus.h): jsonl, csv, txt and their .gz forms through
// read_records, and RFC 4180 CSV through parse_csv. The first input byte picks the format and the
// record template; the rest is the file. Refusals must be den2moe::Error (naming file and line).
#include "fuzz_support.h"

#include "data/corpus.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 1) return 0;
    static const char* const kNames[] = {"c.jsonl", "c.csv", "c.txt", "c.jsonl.gz", "c.csv.gz", "c.txt.gz"};
    static const char* const kTemplates[] = {"", "{question}\n{answer}", "{text}", "{a}{b}{"};
    const unsigned sel = data[0];
    const std::string body(reinterpret_cast<const char*>(data) + 1, size - 1);
    const std::string path = den2moe::fuzz::write_scratch(kNames[sel % 6], body);
    den2moe::fuzz::expect_house_errors_only([&] {
        den2moe::CorpusSpec spec;
        spec.files = {path};
        spec.text_template = kTemplates[(sel / 6) % 4];
        spec.max_records = (sel & 0x80) ? 3 : 0;
        (void)den2moe::read_records(spec);
    });
    den2moe::fuzz::expect_house_errors_only([&] {
        int64_t rows = 0;
        den2moe::parse_csv(path, body, [&](int64_t, std::vector<std::string>&) { return ++rows < 1000; });
    });
    return 0;
}
