#!/usr/bin/env bash
# Runs the Python tests on a free-threaded CPython 3.13 with the GIL off
# (PYTHON_GIL=0): the whole suite under pytest-run-parallel (each test that
# is not marked thread_unsafe runs in 4 threads at once), which includes the
# thread tests and the check that importing the module keeps the GIL off.
# The interpreter comes from scripts/build-python-ft.sh; the package is
# built into a virtual environment of its own (build-ft-py/venv).
# With --tsan, the core and the extension are built with ThreadSanitizer
# instead (build-tsan-py/) and only the thread tests run, with gcc's TSan
# runtime preloaded: TSan then reports any data race in our code.
set -euo pipefail
cd "$(dirname "$0")/.."

py=/opt/bplustree3-py313t/bin/python3.13t
if [ ! -x "$py" ]; then
  echo "$py not found: run scripts/install-test-deps.sh" >&2
  exit 1
fi
mode=ft
if [ "${1:-}" = "--tsan" ]; then mode=tsan; fi

dir=build-$mode-py
venv=$dir/venv
if [ ! -x "$venv/bin/python" ]; then
  "$py" -m venv --system-site-packages "$venv" # pytest and friends come from $py
fi
args=(-Csetup-args=-Dbuildtype=debugoptimized)
if [ "$mode" = tsan ]; then
  # Symbols kept (the wheels' -Dstrip=true off): TSan's reports name our functions.
  args+=(-Csetup-args=-Db_sanitize=thread -Csetup-args=-Db_lundef=false
         -Csetup-args=-Dstrip=false)
fi
"$venv/bin/python" -m pip install -q --no-build-isolation . -Cbuild-dir="$dir/build" "${args[@]}"

cd tests/python
export PYTHON_GIL=0
if [ "$mode" = ft ]; then
  # test_sweeps.py runs in a process of its own: its finalizer stress
  # collects garbage at every allocation, and a free-threaded collection
  # visits every page of the heap, so its time grows with whatever the
  # modules before it left allocated (22 minutes after them, seconds alone).
  "../../$venv/bin/python" -m pytest -q -p no:cacheprovider --parallel-threads=4 \
    --ignore=test_sweeps.py .
  exec "../../$venv/bin/python" -m pytest -q -p no:cacheprovider --parallel-threads=4 \
    test_sweeps.py
fi
# The interpreter is not instrumented: its own accesses are left out
# (ignore_noninstrumented_modules), and the locks it implements are made
# visible to TSan by annotations in the extension (see BPT_TSAN there).
# --capture=sys: a report goes to file descriptor 2 as the process ends.
# scripts/tsan.supp says which reports are the allocator's, not races.
LD_PRELOAD="$(gcc -print-file-name=libtsan.so)" \
  TSAN_OPTIONS="ignore_noninstrumented_modules=1 halt_on_error=1 exitcode=66 history_size=7 suppressions=$PWD/../../scripts/tsan.supp" \
  exec "../../$venv/bin/python" -m pytest -q -p no:cacheprovider --capture=sys test_threads.py
