#!/usr/bin/env bash
# Runs every test: the C suite and the fuzz corpus replay in a plain build,
# again in an ASan+UBSan build, again under valgrind, again on the one-file
# form, again cross-built for aarch64 (run under qemu-user) and for Windows
# (mingw-w64, run under wine); the C library installed and built against
# four ways (scripts/test-c-library.sh); the Python package
# (pip install ., then pytest with the hypothesis "ci" profile, mypy
# --strict and pyright on a typed use of the API, then pytest again
# against an ASan+UBSan build of the extension, then on a free-threaded
# CPython with the GIL off under pytest-run-parallel, then the thread tests
# under ThreadSanitizer there, then the crash and loss tests on each other
# CPython from 3.9 to 3.13 that pyenv has); a minute's soak of a map shared by
# threads (SOAK_MINUTES=n); the benchmark's ratio
# guards against SortedDict and SortedList and of numpy keys against ints; the sdist and wheel checks (the sdist's own C
# and Python tests included); compiler warnings and the static analyzers
# (scripts/check-analyzers.sh) and the extension's layers
# (scripts/check-layers.py); bandit; the documentation
# site's strict build and its checks (scripts/check-site.py); the workflow linters; the
# coverage gate (coverage/run.sh: 95% lines, 90% branches of the C, 95% of
# the Python); then each libFuzzer target for FUZZ_SECONDS (default 60;
# 0 skips). Prints "N passed, N failed" at the end. SEED=n and STEPS=n are
# passed through to the randomized C tests, HYPOTHESIS_PROFILE to the
# Python ones.
#
# Usage: scripts/test.sh [STAGE...]: with no stage, every one in order (as
# CI runs it); with stages, those alone, in the order given; --list prints
# them. A stage that needs the package installed (python, soak, bench)
# installs it first.
set -euo pipefail
cd "$(dirname "$0")/.."

passed=0
failed=0

# check COMMAND...: runs one pass/fail check and tallies it.
check() {
  if "$@"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
  fi
}

# run_suite NAME BUILD_DIR [meson test args...]: runs meson test, tallies.
run_suite() {
  local name=$1 dir=$2
  shift 2
  echo "== $name"
  local log
  log=$(mktemp)
  local rc=0
  meson test -C "$dir" --print-errorlogs "$@" 2>&1 | tee "$log" || rc=$?
  local ok fail
  ok=$(awk '/^Ok:/ {print $2}' "$log" | tail -n1)
  fail=$(awk '/^Fail:/ {print $2}' "$log" | tail -n1)
  passed=$((passed + ${ok:-0}))
  failed=$((failed + ${fail:-0}))
  if [ "$rc" -ne 0 ] && [ "${fail:-0}" -eq 0 ]; then failed=$((failed + 1)); fi
  rm -f "$log"
}

# setup DIR [meson setup args...]: configures DIR, or reconfigures it.
setup() {
  local dir=$1
  shift
  if [ -d "$dir" ]; then
    meson setup --reconfigure "$dir" "$@" >/dev/null
  else
    meson setup "$dir" "$@" >/dev/null
  fi
  meson compile -C "$dir" >/dev/null
}

# run_pytest NAME COMMAND...: runs a pytest command, tallies its summary.
run_pytest() {
  local name=$1
  shift
  echo "== $name"
  local log rc=0
  log=$(mktemp)
  "$@" 2>&1 | tee "$log" || rc=$?
  local ok bad
  ok=$({ grep -Eo '[0-9]+ passed' "$log" || true; } | awk '{s += $1} END {print s + 0}')
  bad=$({ grep -Eo '[0-9]+ (failed|error)' "$log" || true; } | awk '{s += $1} END {print s + 0}')
  passed=$((passed + ok))
  failed=$((failed + bad))
  if [ "$rc" -ne 0 ] && [ "$bad" -eq 0 ]; then failed=$((failed + 1)); fi
  rm -f "$log"
}

# fuzz_target TARGET SECONDS: fuzzes quietly; on failure shows the end of
# libFuzzer's output.
fuzz_target() {
  local log rc=0
  log=$(mktemp)
  fuzz/run.sh "$1" "$2" >"$log" 2>&1 || rc=$?
  if [ "$rc" -eq 0 ]; then
    grep -E '^#[0-9]+[[:space:]]+DONE' "$log" || true
  else
    tail -n 60 "$log"
  fi
  rm -f "$log"
  return "$rc"
}


# ---- Stages -----------------------------------------------------------------

# c: the C suite and corpus replay, plain, then under ASan+UBSan and valgrind.
stage_c() {
  setup build-plain --buildtype=debugoptimized
  run_suite "plain build" build-plain
  echo "== prefetches kept in the optimized core"
  check bash scripts/check-prefetch.sh build-plain

  setup build-asan --buildtype=debug -Db_sanitize=address,undefined -Db_lundef=false \
    -Dc_args=-fno-sanitize-recover=all
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1 \
  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    run_suite "ASan+UBSan build" build-asan

  if command -v valgrind >/dev/null; then
    STEPS=${STEPS:-1000} run_suite "valgrind (plain build)" build-plain \
      --wrapper 'valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=all -q' \
      --timeout-multiplier 10
  else
    echo "valgrind not found: run scripts/install-test-deps.sh" >&2
    failed=$((failed + 1))
  fi
}

# c-library: the C library in the forms C projects take it: the C suite
# against the one-file form (scripts/amalgamate.py), then installed and
# consumed by pkg-config, CMake, a meson subproject and the one file.
stage_c_library() {
  setup build-single --buildtype=debugoptimized -Dsingle_file=true
  run_suite "C suite on the one-file form (meson -Dsingle_file=true)" build-single
  echo "== the C library installed and consumed (scripts/test-c-library.sh)"
  check bash scripts/test-c-library.sh
}

# cross: another architecture and another system: the C suite and the
# corpus replay cross-built with gcc for 64-bit ARM Linux and for Windows
# (mingw-w64), warnings as errors, and run under qemu-user and wine.
stage_cross() {
  local target
  for target in aarch64-linux-gnu x86_64-w64-mingw32; do
    setup "build-$target" --buildtype=debugoptimized --cross-file "cross/$target.ini"
    WINEDEBUG=-all run_suite "C suite cross-built for $target, run under its emulator" \
      "build-$target"
  done
}

installed=0
# install_package: pip install . into the default python3, once per run.
install_package() {
  if [ "$installed" -eq 0 ]; then
    python3 -m pip install -q . 2>&1 | grep -v "Running pip as the 'root' user" || true
    installed=1
  fi
}

# python: the Python suite on the installed package, and the typed use.
stage_python() {
  install_package
  run_pytest "Python package" \
    bash -c 'cd tests/python && python3 -m pytest -q -p no:cacheprovider .'
  echo "== typing: mypy --strict and pyright (strict) on tests/python/typing_usage.py"
  check python3 -m mypy --strict tests/python/typing_usage.py
  check python3 -m pyright tests/python/typing_usage.py
}

# python-asan: the Python suite against an ASan+UBSan build of the extension.
stage_python_asan() {
  run_pytest "Python package, ASan+UBSan build" bash scripts/python-asan.sh
}

# free-threaded: the suite on 3.13t with the GIL off, then the thread tests
# under ThreadSanitizer.
stage_free_threaded() {
  run_pytest "Python package, free-threaded 3.13t with the GIL off, pytest-run-parallel" \
    bash scripts/python-ft.sh
  run_pytest "thread tests under ThreadSanitizer, free-threaded 3.13t with the GIL off" \
    bash scripts/python-ft.sh --tsan
}

# other-pythons: nothing crashes or is lost on the other CPythons the
# machine has (pyenv's): a collection starts inside allocations up to 3.11,
# only in Python code from 3.12 on. PYTHONMALLOC=debug overwrites freed
# memory, so that a use after free is caught.
stage_other_pythons() {
  local v py
  for v in 3.9 3.10 3.12 3.13; do
    if py=$(bash scripts/python-other.sh --find "$v" 2>/dev/null); then
      run_pytest "crash and loss tests on CPython $v ($py), PYTHONMALLOC=debug" \
        bash scripts/python-other.sh "$v"
    else
      echo "== CPython $v: not on this machine, skipped"
    fi
  done
}

# soak: threads on a map of 1M items for SOAK_MINUTES (default 1).
stage_soak() {
  install_package
  echo "== soak: threads on a map of 1M items for a minute (scripts/soak.py)"
  check python3 scripts/soak.py --minutes "${SOAK_MINUTES:-1}"
  # Reads shared between threads: a read-heavy mix on the free-threaded
  # interpreter (its package is built by the free-threaded stage).
  echo "== soak: read-heavy, free-threaded, GIL off: int keys, then keys compared by Python code"
  if [ -x build-ft-py/venv/bin/python ]; then
    check env PYTHON_GIL=0 build-ft-py/venv/bin/python scripts/soak.py --minutes 0.5 \
      --mix read-heavy --threads 2 --rss-slack-mb 256
    # Keys compared with Python code: their reads are shared too.
    check env PYTHON_GIL=0 build-ft-py/venv/bin/python scripts/soak.py --minutes 0.5 \
      --mix read-heavy --threads 2 --rss-slack-mb 256 --key-type mixed --items 200000
  else
    echo "build-ft-py/venv not found: run the free-threaded stage first" >&2
    failed=$((failed + 1))
  fi
}

# bench: ratios only, side by side in one run, with generous margins:
# catches a large regression without timing anything against a clock.
stage_bench() {
  install_package
  echo "== speed ratios against SortedDict (benchmarks/bench.py --guard)"
  check python3 benchmarks/bench.py --guard
  echo "== speed ratios against sortedcontainers.SortedList (benchmarks/bench_list.py --guard)"
  check python3 benchmarks/bench_list.py --guard
  echo "== numpy and bool keys against ints (benchmarks/bench_numpy.py --guard)"
  check python3 benchmarks/bench_numpy.py --guard
  # Two threads reading one map, free-threaded with the GIL off (measured:
  # 1.6-2.3x on this project's 2-core machine; 1.0 would be no gain).
  echo "== reads of one map from 2 threads, GIL off (benchmarks/bench_threads.py --guard)"
  if [ -x build-ft-py/venv/bin/python ]; then
    check env PYTHON_GIL=0 build-ft-py/venv/bin/python benchmarks/bench_threads.py \
      --keys int,str --ops get,getitem,contains,floor,range20,peekitem --count 200000 \
      --guard 1.05
    # Keys compared with Python code (100K; 1.6-1.9x measured).
    check env PYTHON_GIL=0 build-ft-py/venv/bin/python benchmarks/bench_threads.py \
      --keys obj --ops get,floor,range20,peekitem --count 50000 --guard 1.05
  else
    echo "build-ft-py/venv not found: run the free-threaded stage first" >&2
    failed=$((failed + 1))
  fi
}

# dist: the sdist and the wheel.
stage_dist() {
  echo "== sdist and wheel: sizes, contents, twine check --strict, check-wheel-contents"
  check bash scripts/check-dist.sh
}

# analyzers: compiler warnings, the static analyzers, the extension's layers.
stage_analyzers() {
  echo "== compiler warnings and static analyzers: gcc, clang, gcc -fanalyzer, clang --analyze"
  check bash scripts/check-analyzers.sh
  echo "== the extension's files in layers (scripts/check-layers.py)"
  check python3 scripts/check-layers.py
}

# lint: bandit, the documentation site's strict build and its checks, the
# workflow linters.
stage_lint() {
  # The package, the benchmarks, the scripts and the examples. Not tests/:
  # pytest's assert, pickle round-trips of the tests' own objects and seeded
  # random data are what bandit's rules flag there.
  echo "== bandit on the Python sources"
  check bandit -q -r python benchmarks scripts examples
  echo "== documentation site (mkdocs build --strict: broken links and anchors fail)"
  check env NO_MKDOCS_2_WARNING=1 python3 -m mkdocs build --strict --quiet
  echo "== documentation site: the 404 page's links, no web fonts, the docs lock (scripts/check-site.py)"
  check python3 scripts/check-site.py build-docs
  echo "== workflow lint"
  check zizmor --offline --quiet .github/workflows
  check actionlint # also runs shellcheck on the run: steps
}

# coverage: the gate (coverage/run.sh).
stage_coverage() {
  echo "== coverage gate (coverage/run.sh)"
  check bash coverage/run.sh
}

# fuzz: each libFuzzer target for FUZZ_SECONDS (default 60; 0 skips).
stage_fuzz() {
  local fuzz_seconds=${FUZZ_SECONDS:-60} target
  if [ "$fuzz_seconds" -gt 0 ]; then
    if command -v clang-19 >/dev/null; then
      for target in ops oom cmpfail; do
        echo "== fuzz $target for ${fuzz_seconds}s"
        check fuzz_target "$target" "$fuzz_seconds"
      done
    else
      echo "clang-19 not found: run scripts/install-test-deps.sh" >&2
      failed=$((failed + 1))
    fi
  fi
}

STAGES=(c c-library cross python python-asan free-threaded other-pythons soak bench dist
        analyzers lint coverage fuzz)

if [ "${1:-}" = "--list" ]; then
  printf '%s\n' "${STAGES[@]}"
  exit 0
fi
chosen=("$@")
if [ "${#chosen[@]}" -eq 0 ]; then chosen=("${STAGES[@]}"); fi
for stage in "${chosen[@]}"; do
  if [[ " ${STAGES[*]} " != *" $stage "* ]]; then
    echo "unknown stage '$stage'; the stages: ${STAGES[*]}" >&2
    exit 2
  fi
done
for stage in "${chosen[@]}"; do
  "stage_${stage//-/_}"
done

echo "tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
