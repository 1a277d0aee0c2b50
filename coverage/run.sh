#!/usr/bin/env bash
# The coverage gate. Builds the C tests and the fuzz corpus replay with
# coverage and runs them; builds the Python extension with coverage,
# installs it and runs the Python tests under coverage.py; then reports line
# and branch coverage of src/, invariants/ and the extension's C source
# together (gcovr.cfg) and of the package's Python code
# (coverage/coveragerc). Fails below 95% lines or 90% branches for C, or
# 95% for Python. The HTML report is build-cov/coverage/index.html.
# Needs: pip install gcovr coverage meson-python meson ninja (requirements-dev.in).
set -euo pipefail
cd "$(dirname "$0")/.."

rm -rf build-cov build-cov-py
meson setup build-cov -Db_coverage=true --buildtype=debug >/dev/null
meson compile -C build-cov >/dev/null
STEPS=${STEPS:-2000} meson test -C build-cov --print-errorlogs -q >/dev/null

python3 -m pip install -q --no-build-isolation . -Cbuild-dir=build-cov-py \
  -Csetup-args=-Db_coverage=true -Csetup-args=-Dbuildtype=debug 2>&1 |
  grep -v "Running pip as the 'root' user" || true
# coverage.py's data goes into the build folder, not the source tree.
export COVERAGE_FILE="$PWD/build-cov/python.coverage"
# The tests that make every allocation fail (marked nomemory) run apart,
# without coverage.py: its tracer's own allocations would fail, and it would
# stop tracing for good. Their C coverage counts all the same (gcov).
(cd tests/python && python3 -m coverage run --rcfile=../../coverage/coveragerc \
  -m pytest -q -p no:cacheprovider -m "not nomemory" . >/dev/null)
(cd tests/python && python3 -m pytest -q -p no:cacheprovider -m nomemory . >/dev/null)

mkdir -p build-cov/coverage
rc=0
echo "C coverage (src/, invariants/, python/bplustree3/ext/):"
gcovr || rc=$?
echo "Python coverage (bplustree3/*.py):"
(cd tests/python && python3 -m coverage report --rcfile=../../coverage/coveragerc) || rc=$?

# Leave the ordinary build of the package installed.
python3 -m pip install -q . 2>&1 | grep -v "Running pip as the 'root' user" || true
exit $rc
