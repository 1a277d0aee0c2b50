#!/usr/bin/env bash
# Provides a free-threaded CPython 3.13 ("python3.13t", built with
# --disable-gil) at the fixed prefix /opt/bplustree3-py313t, with pip and the
# test tools of requirements-test.txt (pytest, hypothesis,
# pytest-run-parallel, meson, meson-python, ninja...). Debian 12 packages no free-threaded Python, so
# the first run (as root, or with sudo) takes the upstream source from the
# python3.13 source package of Debian unstable (or trixie, where the mirror
# lacks the newest unstable upload), through apt with a configuration of its
# own in a temporary folder (deb-src only, so the system's sources, lists and
# packages are never touched), and builds it with plain configure/make (no
# PGO or LTO: 3 to 7 minutes on 2 cores). Later runs find the interpreter
# and return in seconds. DEBIAN_SUITES="trixie" (space-separated) changes
# where the source is looked for.
set -euo pipefail

PREFIX=/opt/bplustree3-py313t
LOCK="$(cd "$(dirname "$0")/.." && pwd)/requirements-test.txt"
PY="$PREFIX/bin/python3.13t"
read -r -a SUITES <<<"${DEBIAN_SUITES:-sid trixie}"
IMPORTS="import pytest, hypothesis, pytest_run_parallel, sortedcontainers, sortedcollections, mesonpy"

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive

if [ ! -x "$PY" ]; then
  start=$SECONDS
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends build-essential pkg-config \
    ca-certificates xz-utils libssl-dev zlib1g-dev libffi-dev libbz2-dev liblzma-dev \
    libsqlite3-dev libreadline-dev libncurses-dev libexpat1-dev libgdbm-dev \
    libgdbm-compat-dev uuid-dev >/dev/null

  work="$(mktemp -d /tmp/bplustree3-py313t.XXXXXX)"
  stage="$(dirname "$PREFIX")/.bplustree3-py313t.stage"
  trap 'rm -rf "$work"; $SUDO rm -rf "$stage"' EXIT

  # A private apt setup: its own source list (deb-src lines only), lists and
  # cache, none of the system's source parts. Nothing under /etc/apt or
  # /var/lib/apt changes, so no sid binary package can ever be considered.
  mkdir -p "$work/apt/lists/partial" "$work/apt/cache/archives/partial" "$work/apt/parts" "$work/src"
  for suite in "${SUITES[@]}"; do
    echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian $suite main"
  done >"$work/apt/sources.list"
  apt_opts=(
    -o Dir::Etc::SourceList="$work/apt/sources.list"
    -o Dir::Etc::SourceParts="$work/apt/parts"
    -o Dir::State::Lists="$work/apt/lists"
    -o Dir::Cache="$work/apt/cache"
    -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache=
    -o APT::Sandbox::User=root
  )
  apt-get "${apt_opts[@]}" update -qq
  # Newest version first; the mirror can list an upload whose files it does
  # not have yet, so an older one is tried when a download fails.
  orig=""
  for version in $(apt-cache "${apt_opts[@]}" showsrc python3.13 | awk '/^Version:/ {print $2}' | sort -u -r -V); do
    if (cd "$work/src" && apt-get "${apt_opts[@]}" source --download-only -qq "python3.13=$version" 2>/dev/null); then
      orig="$(find "$work/src" -maxdepth 1 -name "python3.13_${version%-*}.orig.tar.*" ! -name '*.asc' | head -n 1)"
      [ -n "$orig" ] && break
    fi
    echo "python3.13 $version: could not be downloaded, trying an older version" >&2
  done
  if [ -z "$orig" ]; then
    echo "build-python-ft.sh: no python3.13 source could be had from Debian ${SUITES[*]}" >&2
    exit 1
  fi
  echo "Building CPython from $(basename "$orig") into $PREFIX"
  mkdir "$work/cpython"
  tar -xf "$orig" -C "$work/cpython" --strip-components=1

  cd "$work/cpython"
  ./configure -q --disable-gil --prefix="$PREFIX" --with-ensurepip=install >"$work/configure.log"
  make -s -j"$(nproc)" >"$work/make.log" 2>&1 || { tail -n 60 "$work/make.log" >&2; exit 1; }
  # Installed into a staging root beside the prefix, then renamed into place,
  # so an interrupted run never leaves a half-installed interpreter behind.
  $SUDO rm -rf "$stage"
  $SUDO make -s altinstall DESTDIR="$stage" >"$work/install.log" 2>&1 \
    || { tail -n 60 "$work/install.log" >&2; exit 1; }
  $SUDO rm -rf "$PREFIX"
  $SUDO mv "$stage$PREFIX" "$PREFIX"
  cd /
  echo "Built $("$PY" -VV) in $((SECONDS - start)) s"
fi

if ! "$PY" -c "$IMPORTS" 2>/dev/null; then
  "$PY" -m ensurepip --altinstall >/dev/null 2>&1 || true
  # The CI test set, pinned with hashes (requirements-test.in holds
  # hypothesis below its releases with a Rust part, which have no wheel for
  # free-threaded Pythons).
  $SUDO "$PY" -m pip install -q --root-user-action=ignore --require-hashes -r "$LOCK"
fi
"$PY" -c "import sys, sysconfig; assert sysconfig.get_config_var('Py_GIL_DISABLED') == 1; print(sys.executable, sys.version.split()[0], 'free-threaded')"
