// Every prompt format of task evaluation, written once:
//   - the MoEE text pipeline for embeddings (MOEE-MTEB.md §A3): GritLM instruction prefix, the period
//     rule, double quotes → single quotes, the template, underscores → spaces, strip;
//   - the zero-shot multiple-choice prompt of each task, as lm-evaluation-harness 0.4 writes it
//     (context, " " + choice continuations; MMLU's description and k-shot examples).
// `den2moe eval --show-prompt` prints these. Text is bytes (UTF-8 passes through untouched).
// Torch-free.
#pragma once

#include <string>
#include <vector>

namespace den2moe {

/// The template text with the placeholder "*sent 0*" (MOEE-MTEB.md §A3 step 5). Throws for an unknown name.
const std::string& embed_template(const std::string& name);
/// "<|user|>\n" + instr + "\n<|embed|>\n" with instr stripped of ':', ' ' and '\n' at both ends, or
/// "<|embed|>\n" when that leaves nothing (GritLM's format, MoEE's instruction prefix).
std::string gritlm_prefix(const std::string& instruction);
/// The MoEE pipeline on one text: prefix + text, a period unless it ends in . ? ! " ', '"' → '\'',
/// the template, '_' → ' ' in the whole prompt, then Python's str.strip().
std::string moee_prompt(const std::string& text, const std::string& template_name, const std::string& prefix);

/// One multiple-choice document before formatting.
struct McDoc {
    std::string question;              ///< question / stem / sentence
    std::string passage;               ///< LogiQA passage, PubMedQA abstract, QNLI sentence
    std::string subject;               ///< MMLU subject (file stem, e.g. "college_biology")
    std::vector<std::string> options;  ///< answer texts
    int gold = 0;                      ///< index into the choices
};

/// A formatted item: the shared context and one continuation per choice (with its leading space).
struct McPrompt {
    std::string context;
    std::vector<std::string> continuations;
    std::vector<std::string> choices;  ///< the continuations without the delimiter (acc_norm lengths)
    int gold = 0;
};

/// lm-eval's prompt of `task` for `doc`; `shots` are MMLU dev examples (k-shot, in order).
McPrompt format_mc(const std::string& task, const McDoc& doc, const std::vector<McDoc>& shots = {});
/// The format of `task` in one readable block ("{question}" placeholders), for --show-prompt.
std::string mc_format_description(const std::string& task);

}  // namespace den2moe
