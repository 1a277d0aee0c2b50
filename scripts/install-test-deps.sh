#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh Debian machine (as root,
# or with sudo): a C toolchain, valgrind, clang 19 with libFuzzer, AFL++,
# cmake and pkg-config (scripts/test-c-library.sh), the aarch64 and
# mingw-w64 cross compilers with qemu-user and wine to run what they build,
# the shell linter that actionlint uses, the Python packages of
# requirements-dev.in as pinned with hashes in requirements-dev.txt, and a
# free-threaded CPython 3.13 for the thread tests (scripts/build-python-ft.sh:
# built once, about 7 minutes, then reused).
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq build-essential valgrind clang-19 libclang-rt-19-dev afl++ shellcheck \
  cmake pkg-config gcc-aarch64-linux-gnu qemu-user gcc-mingw-w64-x86-64 wine64 >/dev/null
python3 -m pip install -q --require-hashes -r requirements-dev.txt
bash scripts/build-python-ft.sh
