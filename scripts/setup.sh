#!/usr/bin/env bash
# Installs what co3 needs on a fresh Debian machine and is a no-op when everything is there.
# - Debian packages: ninja, ccache (second builds are cheap), GoogleTest, zlib (the gzip'd
#   Fashion-MNIST files), libzstd (the CPU bench's reference rows), the Fashion-MNIST data set.
# - A Python virtual environment with the pinned torch wheel (LibTorch for CMake) and the wheel's
#   build backend (scikit-build-core), kept in a per-user cache keyed by the torch version so
#   that every clone (CI clones afresh) shares it.
# Prints the venv path on its last line.
set -euo pipefail

TORCH_VERSION="${CO3_TORCH_VERSION:-2.11.0}"
CACHE_ROOT="${XDG_CACHE_HOME:-$HOME/.cache}/co3"
VENV="${CO3_VENV:-$CACHE_ROOT/venv-torch-$TORCH_VERSION}"

need_apt=()
command -v ninja  >/dev/null 2>&1 || need_apt+=(ninja-build)
command -v ccache >/dev/null 2>&1 || need_apt+=(ccache)
[ -d /usr/share/datasets/fashion-mnist ] || need_apt+=(dataset-fashion-mnist)
[ -f /usr/include/gtest/gtest.h ] || need_apt+=(libgtest-dev)
[ -f /usr/include/zlib.h ] || need_apt+=(zlib1g-dev)
# The CPU bench's reference rows (libzstd levels 1 and 3); the bench builds without it.
[ -f /usr/include/zstd.h ] || need_apt+=(libzstd-dev)
# Declarations only: torch's ProcessGroupGloo.hpp includes gloo headers the wheel lacks; every
# gloo type there is held by pointer, and the code is libtorch's own.
[ -f /usr/include/gloo/algorithm.h ] || need_apt+=(libgloo-dev)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "co3 setup: installing Debian packages: ${need_apt[*]}" >&2
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >&2
fi

if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import torch,sys; sys.exit(torch.__version__.split('+')[0] != '$TORCH_VERSION')" 2>/dev/null; then
  echo "co3 setup: creating $VENV with torch==$TORCH_VERSION (a large download, once)" >&2
  mkdir -p "$CACHE_ROOT"
  python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --upgrade pip >&2
  "$VENV/bin/python" -m pip install -q "torch==$TORCH_VERSION" numpy >&2
fi
# Plots of the training experiments (co3-train, aop experiments).
if ! "$VENV/bin/python" -c "import matplotlib" 2>/dev/null; then
  echo "co3 setup: installing matplotlib into $VENV" >&2
  "$VENV/bin/python" -m pip install -q "matplotlib==3.10.3" >&2
fi
# `pip install --no-build-isolation .` needs the build backend in the environment it builds in
# (pyproject.toml); tests/python/test_pip_install.sh builds the wheel with it.
if ! "$VENV/bin/python" -c "import scikit_build_core" 2>/dev/null; then
  echo "co3 setup: installing scikit-build-core into $VENV" >&2
  "$VENV/bin/python" -m pip install -q "scikit-build-core==1.1.2" >&2
fi
echo "$VENV"
