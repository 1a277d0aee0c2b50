#!/usr/bin/env bash
# Runs the Python tests against an ASan+UBSan build of the core and the
# extension, in a virtual environment of its own (build-asan-py/venv), with
# the sanitizer runtimes preloaded into the ordinary interpreter. Leak
# detection is off: CPython itself does not free everything at exit; the
# tests check the extension's own memory and references instead.
# PYTHONMALLOC=malloc: objects come from malloc, not CPython's own small-object
# allocator, whose blocks ASan cannot see: so that the use of a freed object
# (a map freed in the middle of an iterator step, say) is caught.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=build-asan-py/venv
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
if ! cmp -s requirements-test.txt "$venv/requirements-test.txt"; then # new, or the lock changed
  "$venv/bin/python" -m pip install -q --require-hashes -r requirements-test.txt
  cp requirements-test.txt "$venv/requirements-test.txt"
fi
"$venv/bin/python" -m pip install -q --no-build-isolation . -Cbuild-dir=build-asan-py/build \
  -Csetup-args=-Db_sanitize=address,undefined -Csetup-args=-Db_lundef=false \
  -Csetup-args=-Dbuildtype=debug -Csetup-args=-Dc_args=-fno-sanitize-recover=all
preload="$(gcc -print-file-name=libasan.so):$(gcc -print-file-name=libubsan.so)"
cd tests/python
PYTHONMALLOC=malloc LD_PRELOAD="$preload" ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 \
  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  "../../$venv/bin/python" -m pytest -q -p no:cacheprovider . --ignore=test_stubs.py --durations=15
