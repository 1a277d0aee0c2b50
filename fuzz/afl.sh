#!/usr/bin/env bash
# Fuzzes one target with AFL++ for SECONDS (default 60):
#   fuzz/afl.sh ops|oom|cmpfail [SECONDS]
# Builds build-afl with afl-clang-fast (Debian: afl++), the same harness
# sources linked with AFL++'s libFuzzer-compatible driver. Findings land in
# build-afl/out-TARGET/default/crashes/.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:?usage: fuzz/afl.sh ops|oom|cmpfail [SECONDS]}
seconds=${2:-60}

if [ ! -x build-afl/fuzz/fuzz_"$target" ]; then
  CC=afl-clang-fast meson setup build-afl -Dfuzzing=true --buildtype=debugoptimized >/dev/null
fi
AFL_QUIET=1 meson compile -C build-afl >/dev/null
export AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_UI=1
timeout --preserve-status "$seconds" afl-fuzz -i fuzz/corpus/"$target" -o build-afl/out-"$target" \
  -x fuzz/bpt.dict -V "$seconds" -- build-afl/fuzz/fuzz_"$target" || true
crashes=$(find build-afl/out-"$target"/default/crashes -type f -name 'id:*' 2>/dev/null | wc -l)
echo "afl: $crashes crashes in build-afl/out-$target/default/crashes"
[ "$crashes" -eq 0 ]
