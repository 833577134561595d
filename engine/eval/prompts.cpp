// Prompt formats (see eval/prompts.h). The MoEE templates are copied from MOEE-MTEB.md §A3; the
// multiple-choice formats from lm-evaluation-harness 0.4's task YAMLs (arc_easy, openbookqa, mmlu
// default, pubmedqa, logiqa, glue qnli / sst2).
#include "eval/prompts.h"

#include <cstdint>
#include <map>

#include "core/error.h"

namespace den2moe {

const std::string& embed_template(const std::string& name) {
    static const std::map<std::string, std::string> t = {
        {"none", "\"*sent 0*\""},
        {"prompteol", "This sentence : \"*sent 0*\" means in one word:\""},
        {"style", "In one word, describe the style of the following sentence - \"*sent 0*\" :\""},
        {"sentiment",
         "In one word, describe the sentiment of the following sentence (positive, neutral, or negative) - \"*sent 0*\" :"},
        {"tone",
         "In one word, describe the tone of the following sentence - \"*sent 0*\" (e.g., formal, informal, humorous, "
         "serious):"},
        {"intent",
         "In one word, describe the intent behind the following sentence (e.g., request, suggestion, command) - "
         "\"*sent 0*\" :"},
        {"complexity", "In one word, rate the complexity of the following sentence (simple, moderate, complex) - \"*sent 0*\" :"},
        {"subjectivity", "In one word, describe whether the following sentence is subjective or objective - \"*sent 0*\" :"},
        {"language_style",
         "In one word, describe the language style of the following sentence (e.g., academic, conversational, "
         "literary) - \"*sent 0*\" :"},
        {"grammar_structure",
         "In one word, describe the grammatical structure of the following sentence (simple, compound, complex) - "
         "\"*sent 0*\" :"},
    };
    auto it = t.find(name);
    D2M_CHECK(it != t.end(), InvalidInput, "unknown prompt template '", name, "'",
              Hint{"none, prompteol, style, sentiment, tone, intent, complexity, subjectivity, language_style, "
                   "grammar_structure"});
    return it->second;
}

namespace {

std::string strip_chars(const std::string& s, const std::string& chars) {
    const size_t b = s.find_first_not_of(chars);
    if (b == std::string::npos) return {};
    const size_t e = s.find_last_not_of(chars);
    return s.substr(b, e - b + 1);
}

// Python's str.isspace() for one code point.
bool py_space(uint32_t c) {
    return (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x20) || c == 0x85 || c == 0xa0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f || c == 0x3000;
}

// Decodes the UTF-8 code point starting at s[i]; returns its length (1 for an invalid byte, whose
// value is then not a space).
size_t utf8_at(const std::string& s, size_t i, uint32_t* cp) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 1;
    if (i + len > s.size()) len = 1;
    if (len == 1) {
        *cp = c < 0x80 ? c : 0xfffd;
        return 1;
    }
    uint32_t v = c & (0xff >> (len + 1));
    for (size_t k = 1; k < len; ++k) v = (v << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3f);
    *cp = v;
    return len;
}

// Python str.strip(): leading and trailing whitespace code points.
std::string py_strip(const std::string& s) {
    size_t b = 0;
    while (b < s.size()) {
        uint32_t cp;
        const size_t n = utf8_at(s, b, &cp);
        if (!py_space(cp)) break;
        b += n;
    }
    size_t e = s.size();  // end of the kept part: the last non-space code point's end
    size_t last_end = b;
    for (size_t i = b; i < s.size();) {
        uint32_t cp;
        const size_t n = utf8_at(s, i, &cp);
        if (!py_space(cp)) last_end = i + n;
        i += n;
    }
    e = last_end;
    return s.substr(b, e - b);
}

void replace_all(std::string& s, const std::string& from, const std::string& to) {
    for (size_t p = s.find(from); p != std::string::npos; p = s.find(from, p + to.size())) s.replace(p, from.size(), to);
}

}  // namespace

std::string gritlm_prefix(const std::string& instruction) {
    const std::string instr = strip_chars(instruction, ": \n");
    return instr.empty() ? std::string("<|embed|>\n") : "<|user|>\n" + instr + "\n<|embed|>\n";
}

std::string moee_prompt(const std::string& text, const std::string& template_name, const std::string& prefix) {
    std::string x = prefix + text;  // + embed_eos, which is "" for MoEE's default pooling
    if (!x.empty()) {
        const char last = x.back();
        if (last != '.' && last != '?' && last != '!' && last != '"' && last != '\'') x += ".";
    }
    for (auto& c : x)
        if (c == '"') c = '\'';
    std::string p = embed_template(template_name);
    replace_all(p, "*sent 0*", x);
    for (auto& c : p)
        if (c == '_') c = ' ';
    return py_strip(p);
}

namespace {
const char* const kLetters[] = {"A", "B", "C", "D", "E", "F", "G", "H"};

std::string subject_name(const std::string& s) {
    std::string out = s;
    for (auto& c : out)
        if (c == '_') c = ' ';
    return out;
}

std::string mmlu_text(const McDoc& d) {
    std::string s = py_strip(d.question) + "\n";
    for (size_t i = 0; i < d.options.size(); ++i) s += std::string(kLetters[i]) + ". " + d.options[i] + "\n";
    return s + "Answer:";
}

McPrompt with_choices(std::string context, const std::vector<std::string>& choices, int gold) {
    McPrompt p;
    p.context = std::move(context);
    p.choices = choices;
    for (const auto& c : choices) p.continuations.push_back(" " + c);  // lm-eval's target_delimiter
    p.gold = gold;
    return p;
}
}  // namespace

McPrompt format_mc(const std::string& task, const McDoc& d, const std::vector<McDoc>& shots) {
    if (task == "arc_easy" || task == "arc_challenge")
        return with_choices("Question: " + d.question + "\nAnswer:", d.options, d.gold);
    if (task == "openbookqa") return with_choices(d.question, d.options, d.gold);
    if (task == "mmlu") {
        std::string ctx = "The following are multiple choice questions (with answers) about " + subject_name(d.subject) + ".\n\n";
        for (const auto& s : shots) ctx += mmlu_text(s) + " " + kLetters[s.gold] + "\n\n";
        std::vector<std::string> letters;
        for (size_t i = 0; i < d.options.size(); ++i) letters.push_back(kLetters[i]);
        return with_choices(ctx + mmlu_text(d), letters, d.gold);
    }
    if (task == "pubmedqa")
        return with_choices("Abstract: " + d.passage + "\nQuestion: " + d.question + "\nAnswer:", {"yes", "no", "maybe"},
                            d.gold);
    if (task == "logiqa") {
        std::string ctx = "Passage: " + d.passage + "\nQuestion: " + d.question + "\nChoices:\n";
        for (size_t i = 0; i < d.options.size(); ++i) ctx += std::string(kLetters[i]) + ". " + d.options[i] + "\n";
        return with_choices(ctx + "Answer:", d.options, d.gold);
    }
    if (task == "qnli")
        return with_choices(d.question + "\n" + d.passage + "\nQuestion: Does this response answer the question?\nAnswer:",
                            {"yes", "no"}, d.gold);
    if (task == "sst2")
        return with_choices(d.question + "\nQuestion: Is this sentence positive or negative?\nAnswer:",
                            {"negative", "positive"}, d.gold);
    D2M_FAIL(Internal, "no multiple-choice format for task ", task);
}

std::string mc_format_description(const std::string& task) {
    if (task == "arc_easy" || task == "arc_challenge")
        return "context:  Question: {question}\\nAnswer:\nchoices:  \" {option text}\" for each of the 4 options";
    if (task == "openbookqa") return "context:  {question stem}\nchoices:  \" {option text}\" for each of the 4 options";
    if (task == "mmlu")
        return "context:  The following are multiple choice questions (with answers) about {subject}.\\n\\n\n"
               "          [k-shot: {dev question}\\nA. ..\\nB. ..\\nC. ..\\nD. ..\\nAnswer: {letter}\\n\\n  x k]\n"
               "          {question}\\nA. {A}\\nB. {B}\\nC. {C}\\nD. {D}\\nAnswer:\n"
               "choices:  \" A\", \" B\", \" C\", \" D\"";
    if (task == "pubmedqa")
        return "context:  Abstract: {contexts joined by \\n}\\nQuestion: {question}\\nAnswer:\n"
               "choices:  \" yes\", \" no\", \" maybe\"";
    if (task == "logiqa")
        return "context:  Passage: {passage}\\nQuestion: {question}\\nChoices:\\nA. {a}\\nB. {b}\\nC. {c}\\nD. {d}\\nAnswer:\n"
               "choices:  \" {option text}\" for each of the 4 options";
    if (task == "qnli")
        return "context:  {question}\\n{sentence}\\nQuestion: Does this response answer the question?\\nAnswer:\n"
               "choices:  \" yes\", \" no\"";
    if (task == "sst2")
        return "context:  {sentence}\\nQuestion: Is this sentence positive or negative?\\nAnswer:\n"
               "choices:  \" negative\", \" positive\"";
    return {};
}

}  // namespace den2moe
