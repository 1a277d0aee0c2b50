#!/usr/bin/env bash
# Runs the tests that the package never crashes and never loses data
# (test_nothing_lost.py, test_sweeps.py, test_faults.py, test_map.py), and
# test_packing.py, which proves the object layouts that
# python/bplustree3/ext/internals.h relies on for that very version, on
# another CPython than the default one, 3.9 to 3.13, with
# PYTHONMALLOC=debug: freed memory is overwritten, so that an object used
# after it was freed is caught, not read back intact. A collection starts
# inside allocations on 3.9 to 3.11 and only when Python code runs from
# 3.12 on: the finalizer tests need both. Not the sweep that makes the
# interpreter's own allocations fail (test_memory_runs_out_anywhere): the
# interpreters here crash in it by themselves (3.9 and 3.10 stop in their
# exception normalization, 3.12.1 and 3.13.0 read freed memory in
# PyFunction_NewWithQualName); it runs on the default CPython, plain and
# under ASan, and on the free-threaded one. Usage: python-other.sh 3.9 (the
# interpreter is pyenv's newest 3.9.x); exits 3 when there is none.
# python-other.sh --find 3.9 only prints the interpreter's path (or exits 3).
# The package is built into a virtual environment of its own (build-pyX.Y/).
set -euo pipefail
cd "$(dirname "$0")/.."

find_only=false
if [ "${1:-}" = "--find" ]; then
  find_only=true
  shift
fi
v=${1:?usage: python-other.sh [--find] X.Y}
root=$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")
py=$(find "$root/versions" -maxdepth 3 -path "$root/versions/$v.*/bin/python$v" 2>/dev/null |
  sort -V | tail -n1 || true)
if [ -z "$py" ] || [ ! -x "$py" ]; then
  echo "CPython $v not found under $root/versions" >&2
  exit 3
fi
if $find_only; then
  echo "$py"
  exit 0
fi
dir=build-py$v
venv=$dir/venv
if [ ! -x "$venv/bin/python" ]; then
  "$py" -m venv "$venv"
  "$venv/bin/python" -m pip install -q --upgrade pip # older pips lack -C (config settings)
fi
if ! cmp -s requirements-test.txt "$venv/requirements-test.txt"; then # new, or the lock changed
  "$venv/bin/python" -m pip install -q --require-hashes -r requirements-test.txt
  cp requirements-test.txt "$venv/requirements-test.txt"
fi
"$venv/bin/python" -m pip install -q --no-build-isolation . -Cbuild-dir="$dir/build"
cd tests/python
"../../$venv/bin/python" -VV
PYTHONMALLOC=debug exec "../../$venv/bin/python" -m pytest -q -p no:cacheprovider \
  test_nothing_lost.py test_sweeps.py test_faults.py test_map.py test_packing.py \
  -k "not memory_runs_out_anywhere"
