// The training stages' reference values (the one place they are written: DIVE-FLAP.md §6, the
// released scripts; token budgets scaled to the demo model) and the settings' cross-field rules.
#include "train/train_settings.h"

#include <cmath>

#include "core/error.h"

namespace den2moe {

void apply_stage_defaults(TrainSettings& s, int64_t top_k) {
    const std::string stage = s.stage;
    D2M_CHECK(stage == "router" || stage == "experts" || stage == "extra" || stage == "embedding" ||
                  stage == "den2moee-dense" || stage == "den2moee-sparse",
              InvalidInput, "unknown training stage '", stage, "'",
              Hint{"router, experts, extra, embedding, den2moee-dense or den2moee-sparse"});
    // shared by every stage: DeepSpeed's "auto" AdamW through the HF Trainer defaults, clip 1.0
    s.beta1 = 0.9;
    s.beta2 = 0.999;
    s.eps = 1e-8;
    s.weight_decay = 0.0;
    s.clip = 1.0;
    s.router_gate = "renormalized";
    s.temperature = 1.0;
    s.loss = "lm";
    s.tau = 0.1;
    s.distill = "none";
    if (stage == "embedding") {
        // a dense LM made an embedding model (our demo's first step; no paper value): every
        // transformer weight but the embeddings trains, InfoNCE tau 0.1 (Den2MoEE's), last-token pooling
        s.loss = "infonce";
        s.trainable = "*.self_attn.*,*.mlp.*,*norm.weight";
        s.lora_rank = 0;
        s.lr = 5e-5;
        s.schedule = "cosine";
        s.warmup_ratio = 0.03;
        s.min_lr_ratio = 0.0;
        return;
    }
    if (stage == "den2moee-dense") {
        // DEN2MOEE.md §3.1: routers' routed-logit weights only (\bgate\.weight\b), every expert on every
        // token, the α ramp 0 -> 0.3 -> 0.6 -> 1.0; cosine-similarity MSE; LR 1e-5, 10 % warm-up, cosine to 0
        s.loss = "cosmse";
        s.trainable = "*.mlp.router.weight";
        s.lora_rank = 0;
        s.lr = 1e-5;
        s.schedule = "cosine";
        s.warmup_ratio = 0.10;
        s.min_lr_ratio = 0.0;
        return;
    }
    if (stage == "den2moee-sparse") {
        // DEN2MOEE.md §3.2: every MoE-block parameter (experts, shared expert, router weight and null
        // rows; the prior and the selection bias are buffers), top-2 over routed + null, α = 1, the
        // budget-bias update; InfoNCE τ = 0.1; LR 5e-6, 3 % warm-up, cosine to 0
        s.loss = "infonce";
        s.trainable = "*.mlp.experts.*,*.mlp.shared_expert.*,*.mlp.router.weight,*.mlp.router.null_weight";
        s.lora_rank = 0;
        s.lr = 5e-6;
        s.schedule = "cosine";
        s.warmup_ratio = 0.03;
        s.min_lr_ratio = 0.0;
        return;
    }
    if (stage == "router") {
        // stage0: routers only (W_r; DIVE's noise router W_n is not kept: its noise is 5e-4 x softplus),
        // a dense mixture of every expert with temperature t, LR 1e-4 constant, 0.5 B tokens in DIVE
        s.tokens = 500000;
        s.lr = 1e-4;
        s.schedule = "constant";
        s.warmup_ratio = 0.0;
        s.trainable = "*.mlp.router.weight";
        s.lora_rank = 0;
        s.temperature = top_k <= 1 ? 0.05 : 0.5;
        return;
    }
    // stage1 and the released code's stage2: LoRA r 8 / alpha 16 / dropout 0.1 on every expert's
    // gate/up/down (PEFT targets ending in those names) + routers + all RMSNorms
    s.trainable = "*.mlp.router.weight,*norm.weight";
    s.lora_rank = 8;
    s.lora_alpha = 16;
    s.lora_dropout = 0.1;
    s.lora_targets = "gate_proj,up_proj,down_proj";
    if (stage == "experts") {  // 3 % warm-up, cosine to 0.1 x 1e-4; 5 B tokens in DIVE
        s.tokens = 2000000;
        s.lr = 1e-4;
        s.schedule = "cosine";
        s.warmup_ratio = 0.03;
        s.min_lr_ratio = 0.1;
    } else {  // stage2: fresh LoRA on the merged model, LR 1e-5 constant; 10 B tokens in DIVE
        s.tokens = 1000000;
        s.lr = 1e-5;
        s.schedule = "constant";
        s.warmup_ratio = 0.0;
    }
}

bool train_setting_is_transport(const std::string& key) {
    return key == "grad_sync" || key == "bucket_mb" || key == "split_workers";
}

void validate_data_parallel(const TrainSettings& s, int world_size) {
    D2M_CHECK(s.batch * s.grad_accum >= world_size, InvalidInput, "training.batch x grad_accum = ",
              s.batch * s.grad_accum, " windows per step cannot be shared by ", world_size,
              " ranks (each needs at least one window)", Hint{"raise --batch or --grad-accum, or run fewer ranks"});
}

void validate_train_settings(const TrainSettings& s) {
    train_schema().check(s, "training.");
    const int64_t per_step = s.seq_len * s.batch * s.grad_accum;
    const bool embedding = s.loss != "lm";
    D2M_CHECK(!embedding || !s.pairs.empty(), InvalidInput, "training.loss ", s.loss, " trains on text pairs, but no",
              " pairs file is given", Hint{"--pairs FILE (make one from the bundled data: den2moe pairs --out FILE)"});
    D2M_CHECK(embedding || s.pairs.empty(), InvalidInput, "training.pairs is set but the loss is lm (next token on",
              " the project's windows), which does not read it", Hint{"--loss infonce or --loss cosmse"});
    D2M_CHECK(s.teacher.empty() || s.loss == "cosmse", InvalidInput, "training.teacher gives cosmse's labels, but",
              " the loss is ", s.loss);
    D2M_CHECK(embedding || s.distill == "none", InvalidInput, "training.distill '", s.distill, "' keeps the start",
              " model's embeddings of pair texts, but the loss is lm (next token on the project's windows)",
              Hint{"--loss infonce or --loss cosmse, or leave out --distill"});
    D2M_CHECK(embedding || !s.append_eos, InvalidInput, "training.append_eos ends every pair text with EOS, but the",
              " loss is lm (next token on the project's windows, which carry their own EOS)",
              Hint{"--loss infonce or --loss cosmse, or leave out --append-eos"});
    D2M_CHECK(embedding || s.prompt == "none", InvalidInput, "training.prompt '", s.prompt, "' formats pair texts,",
              " but the loss is lm (next token on the project's windows), which does not read it",
              Hint{"--loss infonce or --loss cosmse, or leave out --prompt"});
    D2M_CHECK(embedding || s.tokens >= per_step, InvalidInput, "training budget of ", s.tokens,
              " tokens is smaller than one optimizer step (", s.batch, " windows x ", s.seq_len, " tokens x ",
              s.grad_accum, " micro-batches = ", per_step, " tokens)",
              Hint{"raise --tokens or lower --batch / --seq-len / --grad-accum"});
    D2M_CHECK(s.lora_rank > 0 || !s.trainable.empty(), InvalidInput,
              "nothing would train: --trainable is empty and --lora-rank is 0");
    for (const auto& item : split_list(s.mixture)) {
        if (item == "equal") continue;
        const auto eq = item.find('=');
        D2M_CHECK(eq != std::string::npos && eq > 0, InvalidInput, "training.mixture item '", item,
                  "' is not DOMAIN=WEIGHT", Hint{"e.g. --mixture wiki=2,python=1, or 'equal'"});
        const double w = parse_real_text(item.substr(eq + 1), "weight of domain '" + item.substr(0, eq) + "'");
        D2M_CHECK(w >= 0 && std::isfinite(w), InvalidInput, "training.mixture: weight of '", item.substr(0, eq),
                  "' must be >= 0, got ", w);
    }
    D2M_CHECK(!(s.mixture.find("equal") != std::string::npos && s.mixture.find('=') != std::string::npos),
              InvalidInput, "training.mixture: 'equal' cannot be combined with per-domain weights");
}

std::vector<std::string> split_list(const std::string& s) {
    std::vector<std::string> out;
    std::string cur;
    auto flush = [&] {
        const auto b = cur.find_first_not_of(" \t");
        const auto e = cur.find_last_not_of(" \t");
        if (b != std::string::npos) out.push_back(cur.substr(b, e - b + 1));
        cur.clear();
    };
    for (char c : s) {
        if (c == ',') flush();
        else cur += c;
    }
    flush();
    return out;
}

bool glob_match(const std::string& p, const std::string& t) {
    // iterative wildcard match with one backtrack point
    size_t i = 0, j = 0, star = std::string::npos, mark = 0;
    while (j < t.size()) {
        if (i < p.size() && (p[i] == '?' || p[i] == t[j])) {
            ++i;
            ++j;
        } else if (i < p.size() && p[i] == '*') {
            star = i++;
            mark = j;
        } else if (star != std::string::npos) {
            i = star + 1;
            j = ++mark;
        } else {
            return false;
        }
    }
    while (i < p.size() && p[i] == '*') ++i;
    return i == p.size();
}

}  // namespace den2moe
