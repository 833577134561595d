// The GEMM libraries on the engine's real shapes (issue 27, "reach the ceiling"): fp32 y = x·Wᵀ as the
// forward pass multiplies it (x [M, K] row-major, W [N, K] row-major, the Linear layout), M = batch·seq.
//
//   openblas      at::linear(x, W) on 2 threads: ATen -> OpenBLAS sgemm (Debian libtorch 1.13)
//   openblas-rows the engine's row-parallel path (model/llama.cpp linear_rows / SwiGluFfn): each thread
//                 multiplies its half of the rows with a 1-thread mm_out(o, x_half, W.t())
//   dnnl-sgemm    oneDNN's dnnl_sgemm('N', 'T', ...) on 2 threads (no packing kept between calls)
//   dnnl-packed   oneDNN's matmul primitive, W reordered once into the layout the primitive chose
//                 (format_tag::any): what a fixed-weight inference path can do; primitive made once
//   dnnl-packed-rows  the same, per thread on its half of the rows (one primitive for M/2)
// Shapes of the 50 M Llama-shaped model (hidden 1024, FFN 2816, 16 heads / 4 KV heads of 64, vocab 4096):
// fused q/k/v (N 1536), o (1024), fused gate/up (5632), down (K 2816), LM head (4096); rows 8×256 and
// 1×256. All candidates run interleaved (round-robin, one call each per round) and print medians,
// GFLOP/s and the ratio to openblas-rows (what the engine runs today). "forward" weighs each shape by how
// often one forward multiplies it (4 layers of qkv/o/gate-up/down, one LM head).
//
// usage: bench_gemm [--reps 15] [--threads 2] [--rows 2048,256] [--json]   (rows: multiples of threads)   (needs oneDNN: built only with DEN2MOE_DNNL)
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <oneapi/dnnl/dnnl.h>
#include <oneapi/dnnl/dnnl.hpp>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "bench_util.h"

namespace {

struct Shape {
    const char* name;
    int64_t N, K, per_forward;
};

// One fixed-weight oneDNN matmul: W [N, K] reordered into the primitive's preferred layout once.
struct Packed {
    dnnl::engine eng{dnnl::engine::kind::cpu, 0};
    dnnl::matmul prim;
    dnnl::memory wmem;
    dnnl::memory::desc src_md, dst_md, scratch_md;
    Packed(const float* w, int64_t M, int64_t N, int64_t K) {
        using tag = dnnl::memory::format_tag;
        using dt = dnnl::memory::data_type;
        src_md = dnnl::memory::desc({M, K}, dt::f32, tag::ab);
        dst_md = dnnl::memory::desc({M, N}, dt::f32, tag::ab);
        dnnl::memory::desc w_any({K, N}, dt::f32, tag::any);
        dnnl::memory::desc w_plain({K, N}, dt::f32, tag::ba);  // Wᵀ as a view of W [N, K]
        // a user scratchpad: the library's own is shared by concurrent calls of one primitive (wrong results
        // when two threads run it at once, as the row-parallel path does)
        dnnl::primitive_attr attr;
        attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
        dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(src_md, w_any, dst_md), attr, eng);  // oneDNN 2.x API
        scratch_md = pd.scratchpad_desc();
        prim = dnnl::matmul(pd);
        wmem = dnnl::memory(pd.weights_desc(), eng);
        dnnl::memory wsrc(w_plain, eng, const_cast<float*>(w));
        dnnl::stream s(eng);
        dnnl::reorder(wsrc, wmem).execute(s, wsrc, wmem);
        s.wait();
    }
    void run(const float* x, float* y) const {
        dnnl::stream s(eng);
        dnnl::memory xm(src_md, eng, const_cast<float*>(x)), ym(dst_md, eng, y), sm(scratch_md, eng);
        prim.execute(s, {{DNNL_ARG_SRC, xm}, {DNNL_ARG_WEIGHTS, wmem}, {DNNL_ARG_DST, ym}, {DNNL_ARG_SCRATCHPAD, sm}});
        s.wait();
    }
};

template <typename F>
void rows2(int64_t M, F&& f) {  // f(r0, r1) on each thread's share of the rows, as linear_rows does
    const int64_t nt = at::get_num_threads();
    at::parallel_for(0, nt, 1, [&](int64_t t0, int64_t t1) {
        for (int64_t t = t0; t < t1; ++t) {
            const int64_t r0 = M * t / nt, r1 = M * (t + 1) / nt;
            if (r1 > r0) f(r0, r1);
        }
    });
}

double max_rel(const at::Tensor& a, const at::Tensor& ref) {
    return (a - ref).abs().max().item<double>() / std::max(1e-30, ref.abs().max().item<double>());
}

}  // namespace

int main(int argc, char** argv) {
    int reps = 15, threads = 2;
    bool json = false;
    std::vector<int64_t> rows = {2048, 256};
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--reps" && i + 1 < argc) reps = std::atoi(argv[++i]);
        else if (a == "--threads" && i + 1 < argc) threads = std::atoi(argv[++i]);
        else if (a == "--json") json = true;
        else if (a == "--rows" && i + 1 < argc) {
            rows.clear();
            for (const char* p = argv[++i]; *p;) {
                char* end = nullptr;
                rows.push_back(std::strtoll(p, &end, 10));
                p = *end == ',' ? end + 1 : end;
                if (end == p && *p) break;
            }
        }
        else {
            std::fprintf(stderr, "bench_gemm: unknown argument %s\nusage: bench_gemm [--reps N] [--threads N] [--rows M,M,...] [--json]\n",
                         a.c_str());
            return 1;
        }
    }
    at::set_num_threads(threads);
    omp_set_num_threads(threads);
    const Shape shapes[] = {{"qkv", 1536, 1024, 4}, {"o", 1024, 1024, 4}, {"gate_up", 5632, 1024, 4},
                            {"down", 1024, 2816, 4}, {"lm_head", 4096, 1024, 1}};
    const char* names[] = {"openblas", "openblas-rows", "dnnl-sgemm", "dnnl-sgemm-rows", "dnnl-packed",
                           "dnnl-packed-rows"};
    constexpr int kC = 6;
    if (!json)
        std::printf("fp32 y = x·Wᵀ, %d threads, %d interleaved rounds, medians; ratio = vs openblas-rows (the engine today)\n",
                    threads, reps);
    for (int64_t M : rows) {
        if (M <= 0 || M % threads != 0) {
            std::fprintf(stderr, "bench_gemm: --rows %lld is not a positive multiple of --threads %d\n", (long long)M, threads);
            return 1;
        }
        double fwd_t[kC] = {0}, fwd_flop = 0;
        for (const Shape& s : shapes) {
            at::manual_seed(0);
            at::Tensor x = at::randn({M, s.K}), w = at::randn({s.N, s.K}) * (1.0 / std::sqrt(double(s.K)));
            at::Tensor ref = at::mm(x.to(at::kDouble), w.to(at::kDouble).t()).to(at::kFloat);
            std::vector<at::Tensor> y(kC);
            for (auto& t : y) t = at::empty({M, s.N});
            const float* xp = x.data_ptr<float>();
            const float* wp = w.data_ptr<float>();
            Packed pk(wp, M, s.N, s.K);
            Packed pk_half(wp, M / threads, s.N, s.K);  // M divisible by threads here
            std::vector<std::function<void()>> f = {
                [&] { at::linear_out(y[0], x, w); },
                [&] {
                    rows2(M, [&](int64_t r0, int64_t r1) {
                        at::Tensor o = y[1].narrow(0, r0, r1 - r0);
                        at::mm_out(o, x.narrow(0, r0, r1 - r0), w.t());
                    });
                },
                [&] { dnnl_sgemm('N', 'T', M, s.N, s.K, 1.f, xp, s.K, wp, s.K, 0.f, y[2].data_ptr<float>(), s.N); },
                [&] {
                    rows2(M, [&](int64_t r0, int64_t r1) {
                        dnnl_sgemm('N', 'T', r1 - r0, s.N, s.K, 1.f, xp + r0 * s.K, s.K, wp, s.K, 0.f,
                                   y[3].data_ptr<float>() + r0 * s.N, s.N);
                    });
                },
                [&] { pk.run(xp, y[4].data_ptr<float>()); },
                [&] {
                    rows2(M, [&](int64_t r0, int64_t) {
                        pk_half.run(xp + r0 * s.K, y[5].data_ptr<float>() + r0 * s.N);
                    });
                },
            };
            std::vector<std::vector<double>> t(kC);
            // one sample = `inner` calls lasting >= ~40 ms: on a loaded machine a single small product
            // measures the scheduler's time slice (4 ms steps), not the library
            std::vector<int> inner(kC, 1);
            for (int c = 0; c < kC; ++c) {
                f[c]();  // warm-up
                const auto t0 = std::chrono::steady_clock::now();
                f[c]();
                const double one = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
                inner[c] = std::max(1, std::min(1000, static_cast<int>(0.04 / std::max(one, 1e-6))));
            }
            for (int r = 0; r < reps; ++r)
                for (int c = 0; c < kC; ++c) {
                    const auto t0 = std::chrono::steady_clock::now();
                    for (int i = 0; i < inner[c]; ++i) f[c]();
                    t[c].push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / inner[c]);
                }
            const double flop = 2.0 * M * s.N * s.K;
            fwd_flop += flop * s.per_forward;
            double med[kC];
            for (int c = 0; c < kC; ++c) {
                med[c] = den2moe::bench::median(t[c]);
                fwd_t[c] += med[c] * s.per_forward;
                const double err = max_rel(y[c], ref);
                if (err > 1e-4) {
                    std::fprintf(stderr, "bench_gemm: %s on %s (M %lld) is wrong: max rel error %.2e vs float64, expected < 1e-4\n",
                                 names[c], s.name, (long long)M, err);
                    return 2;
                }
            }
            for (int c = 0; c < kC; ++c) {
                if (json)
                    std::printf("{\"M\": %lld, \"shape\": \"%s\", \"N\": %lld, \"K\": %lld, \"lib\": \"%s\", \"seconds\": %.6g, \"gflops\": %.2f}\n",
                                (long long)M, s.name, (long long)s.N, (long long)s.K, names[c], med[c], flop / med[c] / 1e9);
                else
                    std::printf("M %5lld %-8s N %5lld K %5lld  %-17s %8.3f ms %7.1f GFLOP/s  %.2fx\n", (long long)M, s.name,
                                (long long)s.N, (long long)s.K, names[c], med[c] * 1e3, flop / med[c] / 1e9, med[1] / med[c]);
            }
        }
        for (int c = 0; c < kC; ++c) {
            if (json)
                std::printf("{\"M\": %lld, \"shape\": \"forward\", \"lib\": \"%s\", \"seconds\": %.6g, \"gflops\": %.2f}\n",
                            (long long)M, names[c], fwd_t[c], fwd_flop / fwd_t[c] / 1e9);
            else
                std::printf("M %5lld forward (weighted)              %-17s %8.3f ms %7.1f GFLOP/s  %.2fx\n", (long long)M,
                            names[c], fwd_t[c] * 1e3, fwd_flop / fwd_t[c] / 1e9, fwd_t[1] / fwd_t[c]);
        }
    }
    return 0;
}
