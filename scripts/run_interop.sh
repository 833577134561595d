#!/usr/bin/env bash
# The interop suite (issue 22): the real tools researchers use (transformers, mteb, ...) read what den2moe
# writes and agree with its numbers. Makes its own pinned venv (tests/interop/requirements*.txt) under
# build-interop/ on first use, a small converted model and its exports, then runs each check; every check
# prints one verdict line (check, our number, the tool's, tolerance) and the script exits 1 if any disagrees.
# usage: scripts/run_interop.sh [--setup-only] [--only NAME]...   env: D2M_BUILD (default build-nogui),
#        D2M_INTEROP_VENV / D2M_INTEROP_VENV_MTEB (existing venvs to use instead), D2M_SHARED_DIR (../shared).
# checks (--only): transformers-mixtral, transformers-qwen2moe, transformers-qwen2, transformers-qwen3,
#                  transformers-qwen2-qwen2moe, transformers-qwen3-qwen3moe, transformers-tokenizer, mteb, peft, lm-eval,
#                  llama-cpp (downloads llama-cpp-python's sdist for its vendored llama.cpp and builds two tools, once).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
BUILD="${D2M_BUILD:-build-nogui}"
BIN="$ROOT/$BUILD/bin/den2moe"
OUT="$ROOT/build-interop"
VENV="${D2M_INTEROP_VENV:-$OUT/venv}"
VENV_MTEB="${D2M_INTEROP_VENV_MTEB:-$OUT/venv-mteb}"
export D2M_SHARED_DIR="${D2M_SHARED_DIR:-$(cd "$ROOT/.." && pwd)/shared}"
export HF_HUB_OFFLINE=1 TRANSFORMERS_VERBOSITY=error HF_HUB_DISABLE_PROGRESS_BARS=1  # local files only, quiet
SETUP_ONLY=0
ONLY=()
while [ $# -gt 0 ]; do
    case "$1" in
        --setup-only) SETUP_ONLY=1 ;;
        --only) shift; ONLY+=("$1") ;;
        -h|--help) sed -n 2,7p "$0"; exit 0 ;;
        *) echo "run_interop.sh: unknown argument $1" >&2; exit 1 ;;
    esac
    shift
done
mkdir -p "$OUT"

# --- the venv: a full lock installed with --no-deps, so nothing is resolved (or replaced) behind our back
venv_for() {  # venv_for DIR REQUIREMENTS... : create DIR once, install each lock, record the time
    local dir="$1"; shift
    [ -x "$dir/bin/python" ] && [ -f "$dir/.d2m-installed" ] && return 0
    local t0=$SECONDS
    rm -rf "$dir"
    /usr/bin/python3 -m venv --system-site-packages "$dir"
    for req in "$@"; do "$dir/bin/pip" install -q --no-deps -r "$req"; done
    echo "$((SECONDS - t0))" > "$dir/.d2m-installed"
    echo "interop: installed $dir in $((SECONDS - t0)) s" >&2
}
[ -n "${D2M_INTEROP_VENV:-}" ] || venv_for "$VENV" tests/interop/requirements.txt
lock_into() {  # lock_into DIR REQUIREMENTS: one more lock into an existing venv, once (its own marker)
    local marker="$1/.d2m-$(basename "$2")"
    [ -f "$marker" ] && return 0
    local t0=$SECONDS
    "$1/bin/pip" install -q --no-deps -r "$2"
    echo "$((SECONDS - t0))" > "$marker"
    echo "interop: installed $2 into $1 in $((SECONDS - t0)) s" >&2
}
[ -n "${D2M_INTEROP_VENV:-}" ] || lock_into "$VENV" tests/interop/requirements-lmeval.txt
[ -n "${D2M_INTEROP_VENV_MTEB:-}" ] || venv_for "$VENV_MTEB" tests/interop/requirements-mteb.txt
[ -n "${D2M_INTEROP_VENV_MTEB:-}" ] || lock_into "$VENV_MTEB" tests/interop/requirements-mteb-sklearn.txt
PY="$VENV/bin/python"

# --- the model under test: the demo model, converted (random split, 4 experts, top-2, fp32), exported twice;
# remade on every run (seconds) so the files are always this build's; eval's own cache keeps a rerun instant
[ -x "$BIN" ] || { echo "run_interop.sh: $BIN not built (ninja -C $BUILD den2moe)" >&2; exit 1; }
W="$OUT/work"
mkdir -p "$W"
rm -rf "$W/moe" "$W/mixtral" "$W/qwen2moe" "$W/make.log"
made() { "$@" >>"$W/make.log" 2>&1 || { cat "$W/make.log" >&2; exit 2; }; }
made "$BIN" convert projects/demo.den2moe.json --recipe random --experts 4 --top-k 2 --dtype fp32 --no-eval \
    --out "$W/moe"
for fmt in mixtral qwen2moe; do made "$BIN" export "$W/moe" --format "$fmt" --out "$W/$fmt"; done
# Qwen2 / Qwen3: tiny random-weight dense models in Hugging Face layout (tests/reference/qwen_reference.py,
# demo-llama-7m's tokenizer beside them), converted by the same recipe and exported to their own MoE format
for a in qwen2 qwen3; do
    rm -rf "$W/$a" "$W/$a-moe" "$W/$a-${a}moe"
    made /usr/bin/python3 tests/reference/qwen_reference.py make --arch "$a" --out "$W/$a" \
        --tokenizer "$D2M_SHARED_DIR/models/demo-llama-7m/tokenizer.model"
    made /usr/bin/python3 -c 'import json, sys; p = json.load(open("projects/demo.den2moe.json")); \
p.update(model=sys.argv[1], dtype="fp32", name="interop: tiny " + sys.argv[1]); json.dump(p, open(sys.argv[2], "w"), indent=1)' \
        "$W/$a" "$W/$a.den2moe.json"
    made "$BIN" convert "$W/$a.den2moe.json" --recipe random --experts 4 --top-k 2 --dtype fp32 --no-eval --out "$W/$a-moe"
    made "$BIN" export "$W/$a-moe" --format "${a}moe" --out "$W/$a-${a}moe"
done
# embeddings and MTEB-layout result files of five cheap tasks
made "$BIN" eval "$W/moe" --tasks STS13,MRPC,TrecQAReranking,SST2Classification,Banking77Clustering --save-embeddings --out "$W/eval" --cache-dir "$W/eval-cache"
[ "$SETUP_ONLY" = 1 ] && exit 0

# --- the checks, one verdict line each
want() { [ ${#ONLY[@]} -eq 0 ] && return 0; local n; for n in "${ONLY[@]}"; do [ "$n" = "$1" ] && return 0; done; return 1; }
fail=0
t_all=$SECONDS
run_check() {  # run_check NAME COMMAND...
    local name="$1"; shift
    want "$name" || return 0
    local t0=$SECONDS
    if ! "$@"; then fail=1; fi
    echo "  ($name: $((SECONDS - t0)) s)" >&2
}
for fmt in mixtral qwen2moe; do
    run_check "transformers-$fmt" "$PY" tests/interop/check_transformers_model.py --den2moe "$BIN" \
        --model "$W/$fmt" --work "$W/hf-$fmt"
done
for m in qwen2 qwen3 qwen2-qwen2moe qwen3-qwen3moe; do
    run_check "transformers-$m" "$PY" tests/interop/check_transformers_model.py --den2moe "$BIN" \
        --model "$W/$m" --work "$W/hf-$m"
done
run_check transformers-tokenizer "$PY" tests/interop/check_transformers_tokenizer.py --den2moe "$BIN" \
    --model "$W/mixtral" --data "$D2M_SHARED_DIR/data/domains" --work "$W/tok"
run_check mteb "$VENV_MTEB/bin/python" tests/interop/check_mteb.py --eval-dir "$W/eval"
if want peft; then  # a short adapter-only LoRA run on the attention projections, its PEFT adapter, both exports
    rm -rf "$W/peft"
    made "$BIN" train "$W/moe" --project projects/demo.den2moe.json --stage extra --trainable "" \
        --lora-targets q_proj,k_proj,v_proj,o_proj --tokens 2048 --seq-len 64 --batch 4 --lr 1e-2 --dtype fp32 \
        --eval-windows 1 --domains wiki --out "$W/peft/trained"
    made "$BIN" export "$W/peft/trained" --format mixtral --out "$W/peft/merged" --peft-adapter "$W/peft/adapter"
    run_check peft "$PY" tests/interop/check_peft.py --den2moe "$BIN" --trained "$W/peft/trained" \
        --base "$W/mixtral" --merged "$W/peft/merged" --adapter "$W/peft/adapter" --work "$W/peft/work"
fi
if want llama-cpp; then  # llama.cpp from llama-cpp-python's sdist (pinned), its converter to an f32 GGUF, its tools
    LLAMA_PY=0.3.16 LL="$OUT/llama" LB="$OUT/llama.cpp-build"
    LSRC="$LL/llama_cpp_python-$LLAMA_PY/vendor/llama.cpp"
    if [ ! -f "$LL/.d2m-installed-$LLAMA_PY" ]; then
        t0=$SECONDS
        mkdir -p "$LL"
        "$VENV/bin/pip" download -q --no-deps --no-binary :all: "llama-cpp-python==$LLAMA_PY" -d "$LL"
        tar -xzf "$LL/llama_cpp_python-$LLAMA_PY.tar.gz" -C "$LL"
        "$VENV/bin/pip" install -q --no-deps --target "$LL/pydeps" -r tests/interop/requirements-llama.txt
        t1=$SECONDS
        cmake -S "$LSRC" -B "$LB" -G Ninja -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON -DGGML_OPENMP=OFF \
            -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF >>"$W/make.log"
        ninja -C "$LB" -j"${D2M_JOBS:-2}" llama-perplexity llama-cli >>"$W/make.log"
        echo "download+pydeps $((t1 - t0)) s, build $((SECONDS - t1)) s" > "$LL/.d2m-installed-$LLAMA_PY"
        echo "interop: llama.cpp $(cat "$LL/.d2m-installed-$LLAMA_PY")" >&2
    fi
    rm -rf "$W/llama"; mkdir -p "$W/llama"  # gguf from the lock, not the vendored gguf-py: requirements-llama.txt
    made env NO_LOCAL_GGUF=1 PYTHONPATH="$LL/pydeps" "$PY" "$LSRC/convert_hf_to_gguf.py" "$W/mixtral" --outtype f32 \
        --outfile "$W/llama/mixtral-f32.gguf"
    run_check llama-cpp "$PY" tests/interop/check_llama_cpp.py --den2moe "$BIN" --model "$W/mixtral" \
        --gguf "$W/llama/mixtral-f32.gguf" --llama-bin "$LB/bin" --work "$W/llama/check"
fi
run_check lm-eval env HF_DATASETS_OFFLINE=1 HF_HOME="$W/hf-home" "$PY" tests/interop/check_lm_eval.py --den2moe "$BIN" \
    --model "$W/mixtral" --work "$W/lm-eval"
echo "interop: checks took $((SECONDS - t_all)) s" >&2
exit $fail
