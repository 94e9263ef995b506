#!/usr/bin/env bash
# The include direction of docs/ARCHITECTURE.md, checked on every source file: each room may
# include only the rooms below it. A quoted include must be a file of the same folder or start
# with one of the room's allowed prefixes; no include may name what the room must not see
# (LibTorch and co3's LibTorch API, or the CUDA runtime in the CPU codec).
#   usage: check_includes.sh [REPO_ROOT]      exit 0 clean, 1 with one line per violation
set -uo pipefail
ROOT="${1:-$(cd "$(dirname "$0")/../.." && pwd)}"
cd "$ROOT" || exit 2

TORCH='^(ATen|torch|c10|caffe2)/'
bad=0
checked=0

# check ROOM QUOTED_ALLOWED_ERE FORBIDDEN_ERE [EXCEPT_FILE...]
#   every .h/.cpp/.cu/.cuh under ROOM (find's paths and tests), except the files listed
check() {
  local room=$1 allowed=$2 forbidden=$3
  shift 3
  local except=" $* "
  local f line inc kind
  while IFS= read -r f; do
    [[ $except == *" $f "* ]] && continue
    checked=$((checked + 1))
    while IFS= read -r line; do
      [[ $line =~ include[[:space:]]*([\<\"])([^\>\"]+) ]] || continue
      kind=${BASH_REMATCH[1]}
      inc=${BASH_REMATCH[2]}
      if [[ -n $forbidden && $inc =~ $forbidden ]]; then
        echo "$f: includes $inc (not in room ${room%% *}: $forbidden)"
        bad=1
      elif [[ $kind == '"' && ! -f $(dirname "$f")/$inc && ! $inc =~ $allowed ]]; then
        echo "$f: includes \"$inc\" (room ${room%% *} may include only: $allowed)"
        bad=1
      fi
    done < <(grep -E '^[[:space:]]*#[[:space:]]*include' "$f")
  done < <(find $room -type f \( -name '*.h' -o -name '*.cpp' -o -name '*.cu' -o -name '*.cuh' \) \
    -print | sort)
}

# include/co3 (public API and detail/): only itself; LibTorch only in co3/torch/.
check "include/co3 -path include/co3/torch -prune -o" '^co3/' "$TORCH|^co3/torch/"
check include/co3/torch '^co3/' ''
# kernels/ and the CPU codec: the public API and include/co3/detail, never LibTorch; the CPU
# codec not the CUDA runtime either, and neither the other rooms of host/.
check kernels '^co3/' "$TORCH|^co3/torch/"
check host/codec '^co3/' "$TORCH|^cuda|^cub/|^co3/torch/"
# host/io: the readers; only pt_reader.cpp (the LibTorch reader library) sees LibTorch, and it
# parses bytes: it does not call back into readers.cpp, which chooses it.
check host/io '^(co3/|io/)' "$TORCH|^co3/torch/" host/io/pt_reader.cpp
check host/io/pt_reader.cpp '^(co3/|io/loaded_tensor\.h$|io/pt_reader\.h$)' ''
# The CLI: codec API, kernels API, readers; no LibTorch.
check host/cli '^(co3/|io/)' "$TORCH|^co3/torch/"
# host/torch: codec API, kernels API, LibTorch; not the CLI, readers or apps.
check host/torch '^co3/' ''
check host/tools '^co3/' "$TORCH"
# The apps: everything below them, not the CLI or the readers.
check host/apps '^(co3/|common/|train/|aop/)' ''

echo "check_includes: $checked files checked"
if [[ $bad != 0 ]]; then
  echo "check_includes: includes that go upward (see docs/ARCHITECTURE.md)"
  exit 1
fi
echo "check_includes: every include goes downward"
