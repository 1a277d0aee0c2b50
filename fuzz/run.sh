#!/usr/bin/env bash
# Fuzzes one target with libFuzzer for SECONDS (default 60):
#   fuzz/run.sh ops|oom|cmpfail [SECONDS] [extra libFuzzer flags...]
# Builds build-fuzz with clang-19 if needed (Debian: clang-19 and
# libclang-rt-19-dev). The working corpus is build-fuzz/corpus-TARGET, seeded
# from fuzz/corpus/TARGET; crashes land in build-fuzz/crashes-TARGET/. Exits
# non-zero on any crash, leak, timeout or mismatch.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:?usage: fuzz/run.sh ops|oom|cmpfail [SECONDS]}
seconds=${2:-60}
shift $(( $# > 1 ? 2 : 1 ))

if [ ! -x build-fuzz/fuzz/fuzz_"$target" ]; then
  CC=${CC:-clang-19} meson setup build-fuzz -Dfuzzing=true --buildtype=debugoptimized >/dev/null
fi
meson compile -C build-fuzz >/dev/null
work=build-fuzz/corpus-$target
mkdir -p "$work" build-fuzz/crashes-"$target"
build-fuzz/fuzz/fuzz_"$target" "$work" fuzz/corpus/"$target" \
  -dict=fuzz/bpt.dict -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
  -max_total_time="$seconds" -print_final_stats=1 \
  -artifact_prefix=build-fuzz/crashes-"$target"/ "$@"
