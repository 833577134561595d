#!/usr/bin/env bash
# Install the Debian 12 packages Den2MoE Studio needs, only those missing (idempotent).
# Engine: libtorch-dev, sentencepiece, nlohmann-json, zlib, OpenBLAS (openmp variant: without it
# libtorch falls back to reference BLAS, ~60x slower), libdnnl-dev (oneDNN: the engine's float32 GEMMs, with ocl-icd-opencl-dev that its CMake config requires,
# engine/model/gemm.h; optional at configure time). GUI: Qt 6, QCustomPlot, Qt SVG. Tests:
# Debian's python3-torch/scipy/sklearn/sentencepiece as oracles, xvfb for headless GUI runs.
# python3-venv: the pinned PyPI test peers (Hugging Face tokenizers) live in a venv of the build folder.
# Multi-process runs (engine/dist): libgloo-dev, the headers of the Gloo that libtorch links.
# D2M_NO_GUI=1 skips the Qt packages (e.g. on a GPU box that has only libtorch).
set -euo pipefail
pkgs=(cmake ninja-build g++ pkg-config libtorch-dev libsentencepiece-dev nlohmann-json3-dev zlib1g-dev libicu-dev
      libgloo-dev libopenblas0-openmp libdnnl-dev ocl-icd-opencl-dev python3-torch python3-numpy python3-scipy python3-sklearn python3-sentencepiece python3-regex
      python3-venv)
if [ "${D2M_NO_GUI:-0}" != 1 ]; then
  pkgs+=(qt6-base-dev qt6-svg-dev libqcustomplot-dev libqcustomplot2.1-qt6 libgl-dev xvfb xauth)
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}" >&2
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi
# OpenBLAS-openmp must be the libblas.so.3 that libtorch loads (it follows torch's thread count)
if [ -e /usr/lib/x86_64-linux-gnu/openblas-openmp/libblas.so.3 ]; then
  cur=$(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3 || true)
  case "$cur" in *openblas-openmp*) ;; *)
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    $SUDO update-alternatives --set libblas.so.3-x86_64-linux-gnu /usr/lib/x86_64-linux-gnu/openblas-openmp/libblas.so.3 ;;
  esac
fi
