// validate_ppl: see ppl_validate.h.
#include "eval/ppl_validate.h"

#include "core/error.h"
#include "io/hf_config.h"

namespace den2moe {

void validate_ppl(const PplOptions& opt) {
    D2M_CHECK(opt.seq >= 2, InvalidInput, "--seq must be at least 2, got ", opt.seq);
    D2M_CHECK(opt.stride >= 0 && opt.stride <= opt.seq, InvalidInput, "--stride must be in [1, seq = ", opt.seq,
              "], got ", opt.stride);
    D2M_CHECK(opt.max_tokens >= 0, InvalidInput, "--max-tokens must be >= 0, got ", opt.max_tokens);
    D2M_CHECK(opt.batch >= 1, InvalidInput, "--batch must be >= 1, got ", opt.batch);
}

void validate_ppl(const PplOptions& opt, const LlamaConfig& cfg) {
    validate_ppl(opt);
    check_fits_context(cfg, opt.seq, "--seq",
                       str("perplexity beyond the positions the model was trained on is not the model's; use --seq ",
                           cfg.max_position_embeddings, " or less"));
}

}  // namespace den2moe
