#!/usr/bin/env bash
# Checks that the hot paths still issue their prefetches, in the optimized
# core (build-plain, or $1) and in a release build of the extension: GCC deletes the
# calls to a prefetch-only helper that it does not inline, which twice
# doubled lookup or iteration times without any test noticing. Reads the
# object code with objdump; x86-64 and AArch64.
set -euo pipefail
cd "$(dirname "$0")/.."
lib=${1:-build-plain}/libbplustree3.a
# The extension as a wheel builds it (release), but not stripped, so that
# its functions can be found by name: build-prefetch-py.
ext_dir=build-prefetch-py
if [ ! -d "$ext_dir" ]; then
  meson setup "$ext_dir" -Dpython=enabled -Dtests=false -Dbuildtype=release >/dev/null
fi
meson compile -C "$ext_dir" >/dev/null
ext=$(ls "$ext_dir"/_bplustree3*.so)
if ! command -v objdump >/dev/null; then
  echo "check-prefetch: objdump not found (binutils)" >&2
  exit 1
fi
case "$(uname -m)" in
  x86_64) insn='prefetch' ;;
  aarch64) insn='prfm' ;;
  *) echo "check-prefetch: $(uname -m) not covered, skipped"; exit 0 ;;
esac
status=0
# expect FILE FUNCTION: FUNCTION's code in FILE has a prefetch instruction
# (in the function or in a clone the compiler made of it, FUNCTION.constprop.0).
expect() {
  local n
  n=$(objdump -d --no-show-raw-insn "$1" |
    awk -v f="<$2>:" -v g="<$2." '$2 == f || index($2, g) == 1 {on = 1; next}
      on && /^$/ {on = 0} on' | grep -c "$insn" || true)
  echo "check-prefetch: $2 has $n prefetch instructions"
  if [ "$n" -eq 0 ]; then status=1; fi
}
expect "$lib" descend
expect "$lib" cursor_read
expect "$lib" cursor_step
expect "$lib" bpt_visit
expect "$ext" Iter_next
expect "$ext" read_pairs
exit $status
