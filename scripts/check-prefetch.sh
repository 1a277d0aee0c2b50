#!/usr/bin/env bash
# Checks that the core's descent and cursor reads still issue prefetches in
# an optimized build (default build-plain): GCC once deleted every call to a
# prefetch-only helper it did not inline, doubling lookup times without any
# test noticing. Reads the object code with objdump; x86-64 and AArch64.
set -euo pipefail
cd "$(dirname "$0")/.."
lib=${1:-build-plain}/libbplustree3.a
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
for fn in descend cursor_read; do
  n=$(objdump -d --no-show-raw-insn "$lib" | awk -v f="<$fn>:" '$2 == f {on = 1; next} on && /^$/ {on = 0} on' |
    grep -c "$insn" || true)
  echo "check-prefetch: $fn has $n prefetch instructions"
  if [ "$n" -eq 0 ]; then status=1; fi
done
exit $status
