#!/usr/bin/env bash
# check-analyzers.sh: the core (src/), the checker (invariants/) and the
# extension (python/bplustree3/ext/) compile with zero warnings under gcc
# and clang with -Wall -Wextra -Wpedantic -Wshadow -Wconversion, and pass
# gcc -fanalyzer and the clang static analyzer (clang --analyze) with zero
# findings. The extension is checked against the headers of every Python
# found here (this interpreter, and the free-threaded one if it is built);
# CI's header job covers the other versions. Prints one line per tool with
# its warning count; fails on any warning.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

CLANG=${CLANG:-clang-19}
core=(src/bpt.c src/builtin.c invariants/bpt_check.c)
ext=(python/bplustree3/ext/*.c)
includes=(-Iinclude -Iinvariants -Isrc)
warn=(-std=c11 -Wall -Wextra -Wpedantic -Wshadow -Wconversion)

pythons=(python3)
ft=/opt/bplustree3-py313t/bin/python3.13t
[ -x "$ft" ] && pythons+=("$ft")

status=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# run NAME COMMAND...: runs COMMAND over the files, counts warnings.
run() {
  local name=$1
  shift
  : >"$log"
  "$@" >>"$log" 2>&1 || true
  local n
  n=$(grep -c 'warning:' "$log" || true)
  echo "check-analyzers: $name: $n warnings"
  if [ "$n" -ne 0 ] || grep -q 'error:' "$log"; then
    cat "$log"
    status=1
  fi
}

# over CC FLAGS... -- FILES...: compiles each file with CC and FLAGS.
# shellcheck disable=SC2317 # called through run
over() {
  local cc=$1
  shift
  local flags=()
  while [ "$1" != -- ]; do flags+=("$1"); shift; done
  shift
  local f
  for f in "$@"; do "$cc" "${flags[@]}" "${includes[@]}" -c -o /dev/null "$f"; done
}

for py in "${pythons[@]}"; do
  pyinc=$("$py" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
  ver=$("$py" -c 'import sys, sysconfig; print(sys.version.split()[0] + ("t" if sysconfig.get_config_var("Py_GIL_DISABLED") else ""))')
  for cc in gcc "$CLANG"; do
    run "$cc -O2 ${warn[*]} (Python $ver headers)" \
      over "$cc" -O2 "${warn[@]}" -I"$pyinc" -- "${core[@]}" "${ext[@]}"
  done
  run "gcc -fanalyzer (Python $ver headers)" \
    over gcc -O2 -std=c11 -fanalyzer -I"$pyinc" -- "${core[@]}" "${ext[@]}"
  run "$CLANG --analyze (Python $ver headers)" \
    over "$CLANG" --analyze -std=c11 -Xclang -analyzer-output=text -I"$pyinc" -- "${core[@]}" "${ext[@]}"
done
exit "$status"
