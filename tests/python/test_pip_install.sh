#!/usr/bin/env bash
# `pip install` as a user meets it (issue 16): the wheel is built from this checkout by pip and
# scikit-build-core (pyproject.toml) in the project's environment, installed into a fresh
# virtual environment that holds the same torch and nothing of co3, and used from a directory
# outside the checkout with no PYTHONPATH and no CO3_* variable: round trips against torch's
# conversions and the DDP hook on two Gloo ranks (pip_install_check.py). Then the installed
# build record is made to name another torch, and `import co3` must refuse with both versions.
#
# Usage: test_pip_install.sh PYTHON SOURCE_DIR WHEEL_BUILD_DIR
# WHEEL_BUILD_DIR persists between runs (incremental); at the depth of build/ below the source
# so that ccache (CCACHE_BASEDIR, set by the Makefile) serves the objects `make build` compiled.
set -euo pipefail
PY=$1; SRC=$2; WHEEL_BUILD=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "== pip wheel --no-build-isolation $SRC"
# scikit-build-core hands CMake Python's own CXX (g++) where CXX is unset; CMake's default (c++)
# keeps the compile commands those of `make build`, which ccache already holds.
export CXX="${CXX:-c++}"
"$PY" -m pip wheel -q --no-build-isolation --no-deps -w "$tmp/dist" \
  --config-settings=build-dir="$WHEEL_BUILD" "$SRC"
wheel=$(ls "$tmp"/dist/co3-*.whl)
echo "built $(basename "$wheel") ($(du -k "$wheel" | cut -f1) KiB):"
listing=$("$PY" -m zipfile -l "$wheel")
echo "$listing"
for member in co3/__init__.py co3/_library.py co3/ddp.py co3/libco3_ops.so co3/co3_build_info.json; do
  grep -q "^$member " <<< "$listing" || { echo "FAILED: $member missing from the wheel"; exit 1; }
done

echo "== a fresh virtual environment holding the same torch"
base=$("$PY" -c 'import sys; print(sys._base_executable)')
"$base" -m venv "$tmp/venv"
site=$("$tmp/venv/bin/python" -c 'import sysconfig; print(sysconfig.get_path("purelib"))')
# torch (and what it imports) from the project's environment: a .pth line, as a user's
# environment would hold it; co3 itself is not there (the project runs it from PYTHONPATH).
"$PY" -c 'import os, torch; print(os.path.dirname(os.path.dirname(torch.__file__)))' > "$site/project_torch.pth"
# Without --no-deps: pip must find the "torch" the wheel requires already installed (offline).
"$tmp/venv/bin/python" -m pip install -q --no-index "$wheel"

echo "== import co3 from outside the checkout"
mkdir "$tmp/elsewhere"
cp "$(dirname "$0")/pip_install_check.py" "$tmp/elsewhere/"
cd "$tmp/elsewhere"
run() { env -u PYTHONPATH -u CO3_OPS_LIBRARY -u CO3_BUILD_DIR "$tmp/venv/bin/python" "$@"; }
run pip_install_check.py

echo "== a library built against another torch is refused at import, naming both versions"
info=$(run -c 'import co3, os; print(os.path.join(os.path.dirname(co3.LIBRARY), "co3_build_info.json"))')
running=$(run -c 'import torch; print(torch.__version__)')
sed -i 's/"torch": "[^"]*"/"torch": "2.10.0+cu999"/' "$info"
if run -c 'import co3' 2> "$tmp/err"; then
  echo "FAILED: import co3 succeeded with a record naming torch 2.10.0+cu999"; exit 1
fi
cat "$tmp/err"
grep -q "ImportError: co3: .*built against torch 2.10.0+cu999, but this Python runs torch $running" "$tmp/err" \
  || { echo "FAILED: the error does not name both versions"; exit 1; }
echo "pip install test: passed"
