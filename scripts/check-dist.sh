#!/usr/bin/env bash
# check-dist.sh: builds the sdist, then a wheel from it (as pip does for a
# user without a matching wheel), and checks them: sizes, contents (the
# sdist has what builds and tests the package and not the fuzz corpora,
# the benchmark or the plots; both carry the LICENSE), `twine check
# --strict` (PyPI's rendering of the metadata) and check-wheel-contents.
# SDIST_LIMIT_KB is today's budget: issue 14 aims at 80 KB, not reached
# yet; the limit catches a regression such as the corpora coming back
# (they made it 1.1 MB).
set -euo pipefail
cd "$(dirname "$0")/.."
SDIST_LIMIT_KB=${SDIST_LIMIT_KB:-200}
WHEEL_LIMIT_KB=${WHEEL_LIMIT_KB:-500}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
python3 -m build --sdist -o "$out" . >"$out/build.log" 2>&1 || { cat "$out/build.log"; exit 1; }
sdist=$(ls "$out"/*.tar.gz)
python3 -m pip wheel -q --no-deps -w "$out" "$sdist" 2>&1 | grep -v "Running pip as the 'root' user" || true
wheel=$(ls "$out"/*.whl)
status=0
fail() { echo "check-dist: $*" >&2; status=1; }
kb() { echo $(( ($(wc -c <"$1") + 1023) / 1024 )); }
echo "check-dist: sdist $(basename "$sdist") $(kb "$sdist") KB (limit $SDIST_LIMIT_KB), wheel $(basename "$wheel") $(kb "$wheel") KB (limit $WHEEL_LIMIT_KB)"
[ "$(kb "$sdist")" -le "$SDIST_LIMIT_KB" ] || fail "the sdist is over $SDIST_LIMIT_KB KB"
[ "$(kb "$wheel")" -le "$WHEEL_LIMIT_KB" ] || fail "the wheel is over $WHEEL_LIMIT_KB KB"
files=$(tar -tzf "$sdist" | sed 's|^[^/]*/||')
for need in LICENSE README.md meson.build pyproject.toml src/bpt.c include/bplustree3.h \
  invariants/bpt_check.c python/bplustree3/ext/ext.h tests/meson.build tests/python/test_map.py \
  fuzz/replay.c; do
  grep -qx "$need" <<<"$files" || fail "the sdist lacks $need"
done
for banned in fuzz/corpus/ benchmarks/ docs/img/ .github/; do
  ! grep -q "^$banned" <<<"$files" || fail "the sdist ships $banned"
done
wfiles=$(python3 -m zipfile -l "$wheel")
grep -q "dist-info/licenses/LICENSE" <<<"$wfiles" || fail "the wheel lacks its LICENSE"
! grep -Eq "(^| )(bench_core|example)( |$)" <<<"$wfiles" || fail "the wheel ships an executable"
python3 -m twine check --strict "$sdist" "$wheel" || status=1
check-wheel-contents "$wheel" || status=1
exit "$status"
