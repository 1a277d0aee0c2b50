#!/usr/bin/env bash
# Install the benchmark's peers and this checkout of bplustree3, then run the
# Python benchmark suite; arguments go to bench.py (e.g. --quick, --guard).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
python3 -m pip install -r benchmarks/requirements.txt
python3 -m pip install .
python3 benchmarks/bench.py "$@"
