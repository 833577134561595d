// Early checks of perplexity settings (PplOptions) against the model, before any token is read:
// seq >= 2, 0 <= stride <= seq (0 = seq), max_tokens >= 0, batch >= 1, and a window fits the model's
// context. Kept beside perplexity.h (not in it) so the evaluation engine's own files stay as they are.
// Torch-free.
#pragma once

#include "eval/perplexity.h"

namespace den2moe {

struct LlamaConfig;

/// Throws Error(InvalidInput) naming the setting (--seq, --stride, --max-tokens, --batch) when `opt`
/// is out of range; needs no model, so a front end calls it before loading one.
void validate_ppl(const PplOptions& opt);
/// validate_ppl(opt), and a window fits `cfg`'s context. Perplexity over positions the model was never trained on is not the model's, so a
/// --seq longer than max_position_embeddings (a llama2.c header's seq_len) is refused, not warned.
void validate_ppl(const PplOptions& opt, const LlamaConfig& cfg);

}  // namespace den2moe
