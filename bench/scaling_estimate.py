#!/usr/bin/python3
"""scaling_estimate: data-parallel communication volume per optimizer step and an ESTIMATED wall time
of DIVE's training budget on G GPUs (docs/scaling.md). Arithmetic only, no measurement.

Parameter counts from the public configs (TinyLlama_v1.1: 22 layers, d 2048, FFN 5632, 32 heads /
4 KV heads, vocab 32000, untied head; Qwen3-0.6B: 28 layers, d 1024, FFN 3072, 16 heads / 8 KV heads
of 128, vocab 151936, tied head) converted as DIVE's 8_1_0.5 (8 experts of half the FFN width, top-1;
router W_r and noise W_n d x 8 per layer). Trainable sets as in DIVE: router stage = routers; experts
stage = LoRA r 8 on every expert's gate/up/down + routers + every RMSNorm; full fine-tuning = all.
Gradients all-reduced in fp32 (as engine/train does; DeepSpeed ZeRO-2 reduce-scatters bf16/fp16),
ring all-reduce: each GPU sends and receives 2 (G-1)/G x the gradient bytes.
Training FLOPs per token: 6 x active parameters (forward 2, backward 4) when every weight trains;
4 x active + 6 x trainable when the bases are frozen (no weight gradients for them); attention
scores 12 x layers x d x seq counted too. The GPU rate is an ASSUMPTION (--tflops, --mfu).
"""
import argparse

MODELS = {
    'TinyLlama-1.1B': dict(L=22, d=2048, ffn=5632, H=32, Hkv=4, hd=64, V=32000, tied=False),
    'Qwen3-0.6B': dict(L=28, d=1024, ffn=3072, H=16, Hkv=8, hd=128, V=151936, tied=True),
}
E, TOPK, RATIO, LORA_R = 8, 1, 0.5, 8
SEQ = 1024
# DIVE's budget: stage A (router) 0.5 B tokens, stage B (experts, LoRA) 5 B tokens
BUDGET = [('router', 0.499e9), ('experts', 4.999e9)]


def counts(m):
    L, d = m['L'], m['d']
    w = int(m['ffn'] * (1 - RATIO))                     # expert width (2816 for TinyLlama)
    attn = L * (d * m['H'] * m['hd'] * 2 + d * m['Hkv'] * m['hd'] * 2)
    emb = m['V'] * d
    head = 0 if m['tied'] else m['V'] * d
    expert = 3 * d * w
    experts = L * E * expert
    routers = L * 2 * d * E                             # W_r and W_n
    norms = (2 * L + 1) * d
    lora = L * E * 3 * LORA_R * (d + w)
    dense_ffn = L * 3 * d * m['ffn']
    return dict(total=emb + head + attn + experts + routers + norms,
                dense_total=emb + head + attn + dense_ffn + norms,
                active_top1=head + (emb if m['tied'] else 0) + attn + L * TOPK * expert + routers,
                active_all=head + (emb if m['tied'] else 0) + attn + experts + routers,
                routers=routers, lora_stage=lora + routers + norms, attn_flops=12 * L * d * SEQ)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--tflops', type=float, default=989.0, help='dense bf16 peak per GPU (H100 SXM: 989)')
    ap.add_argument('--mfu', type=float, default=0.35, help='assumed model FLOPs utilisation')
    ap.add_argument('--link-gbps', type=float, default=100.0, help='assumed per-GPU all-reduce bandwidth, GB/s')
    a = ap.parse_args()
    rate = a.tflops * 1e12 * a.mfu
    print('ESTIMATE: %.0f TFLOP/s peak x MFU %.2f = %.0f TFLOP/s per GPU, all-reduce at %.0f GB/s\n'
          % (a.tflops, a.mfu, rate / 1e12, a.link_gbps))
    for name, m in MODELS.items():
        c = counts(m)
        print('## %s (8_1_0.5 SMoE: %.3f B parameters; dense %.3f B)' % (name, c['total'] / 1e9, c['dense_total'] / 1e9))
        print('| trainable set | parameters | fp32 gradient MB per step | ring traffic per GPU, 8 GPUs (MB) |')
        print('|---|---|---|---|')
        for label, n in [('router stage (W_r, W_n)', c['routers']), ('experts stage (LoRA r 8 + routers + norms)',
                         c['lora_stage']), ('full fine-tuning of the SMoE', c['total'])]:
            mb = n * 4 / 1e6
            print('| %s | %.3f M | %.1f | %.1f |' % (label, n / 1e6, mb, mb * 2 * 7 / 8))
        print()
        print('| stage | tokens | FLOPs/token | 1 GPU (h) | 4 GPUs (h) | 8 GPUs (h) | 32 GPUs (h) |')
        print('|---|---|---|---|---|---|---|')
        for stage, tokens in BUDGET:
            if stage == 'router':  # every expert runs (dense mixture), only the routers train
                f = 4 * c['active_all'] + 6 * c['routers'] + c['attn_flops']
                grad = c['routers']
            else:
                f = 4 * c['active_top1'] + 6 * c['lora_stage'] + c['attn_flops']
                grad = c['lora_stage']
            steps = tokens / (512 * SEQ)  # DIVE's global batch of 512 x 1024 (stage A: 256; same order)
            row = []
            for g in (1, 4, 8, 32):
                compute = tokens * f / (rate * g)
                comm = 0 if g == 1 else steps * grad * 4 * 2 * (g - 1) / g / (a.link_gbps * 1e9)
                row.append((compute + comm) / 3600)
            print('| %s | %.2f B | %.2f G | %s |' % (stage, tokens / 1e9, f / 1e9, ' | '.join('%.1f' % h for h in row)))
        print()


if __name__ == '__main__':
    main()
