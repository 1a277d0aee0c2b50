#!/usr/bin/env bash
# The C library as C projects consume it: installs it into a temporary
# prefix (meson install) and builds tests/c-consumer/consumer.c against it
# every way docs/installation.md shows, each against the shared and the
# static library where the route offers both:
#   pkg-config   cc $(pkg-config --cflags --libs bplustree3), and --static
#   cmake        find_package(bplustree3 CONFIG): bplustree3::bplustree3
#                and bplustree3::bplustree3_static
#   meson        a project with the library as a subproject, found by
#                dependency('bplustree3') through a wrap's [provide]
#   single file  scripts/amalgamate.py, compiled with the program
# Each program must print the expected line. Also: the shared library
# exports exactly the functions the installed headers declare (nm), its
# soname, and that a shared-library program runs the installed copy.
# Prints "c-library: N passed, M failed"; exits 1 when one failed.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix
passed=0
failed=0

version=$(sed -n 's/^#define BPT_VERSION_STRING "\(.*\)"/\1/p' include/bplustree3.h)
IFS=. read -r major minor patch <<<"$version"
number=$((major * 10000 + minor * 100 + patch))
want="bplustree3 $version ($number, header $number): 1000 keys, rank of 500 is 499, checked"

# expect NAME COMMAND...: runs a built program, compares its line with want.
expect() {
  local name=$1 got
  shift
  if got=$("$@" 2>&1) && [ "$got" = "$want" ]; then
    echo "ok    $name"
    passed=$((passed + 1))
  else
    echo "FAIL  $name: got '$got'"
    failed=$((failed + 1))
  fi
}

# step NAME COMMAND...: a build step; a failure counts against the route.
step() {
  local name=$1
  shift
  if ! "$@" >"$work/step.log" 2>&1; then
    echo "FAIL  $name:"
    sed 's/^/      /' "$work/step.log"
    failed=$((failed + 1))
    return 1
  fi
}

echo "== install into a temporary prefix"
step "meson setup" meson setup "$work/build" --prefix="$prefix" --libdir=lib -Dtests=false \
  --buildtype=release || exit 1
step "meson install" meson install -C "$work/build" || exit 1
lib=$prefix/lib
export PKG_CONFIG_PATH=$lib/pkgconfig
cflags=(-std=c11 -Wall -Wextra -Werror)

echo "== exports and soname"
nm -D --defined-only "$lib/libbplustree3.so" | awk '$2 == "T" {print $3}' | sort >"$work/exported"
cat "$prefix/include/bplustree3.h" "$prefix/include/bpt_check.h" |
  grep -oE '^[a-z_][a-z0-9_ *]* \**bpt_[a-z0-9_]+\(' | grep -v '^static' |
  grep -oE 'bpt_[a-z0-9_]+\($' | tr -d '(' | sort -u >"$work/declared"
if diff "$work/declared" "$work/exported" >"$work/exports.diff"; then
  echo "ok    exports: the $(wc -l <"$work/exported") functions the headers declare, no other"
  passed=$((passed + 1))
else
  echo "FAIL  exports differ from the headers' declarations (< declared, > exported):"
  sed 's/^/      /' "$work/exports.diff"
  failed=$((failed + 1))
fi
soname=$(readelf -d "$lib/libbplustree3.so" | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p')
want_soname=libbplustree3.so.$major
if [ "$major" = 0 ]; then want_soname=libbplustree3.so.0.$minor; fi
if [ "$soname" = "$want_soname" ]; then
  echo "ok    soname $soname"
  passed=$((passed + 1))
else
  echo "FAIL  soname '$soname', expected $want_soname"
  failed=$((failed + 1))
fi

echo "== pkg-config"
# shellcheck disable=SC2046 # pkg-config's output is a list of words
if step "cc, shared" cc "${cflags[@]}" tests/c-consumer/consumer.c -o "$work/pc_shared" \
  $(pkg-config --cflags --libs bplustree3); then
  expect "pkg-config, shared (LD_LIBRARY_PATH)" env LD_LIBRARY_PATH="$lib" "$work/pc_shared"
  loaded=$(LD_LIBRARY_PATH="$lib" ldd "$work/pc_shared") # not piped into grep -q: pipefail
  if grep -q "$lib/libbplustree3.so" <<<"$loaded"; then
    echo "ok    the shared program loads the installed library"
    passed=$((passed + 1))
  else
    echo "FAIL  the shared program does not load $lib/libbplustree3.so"
    failed=$((failed + 1))
  fi
fi
# shellcheck disable=SC2046
if step "cc, static" cc "${cflags[@]}" tests/c-consumer/consumer.c -o "$work/pc_static" \
  $(pkg-config --cflags bplustree3) "$lib/libbplustree3.a"; then
  expect "pkg-config, static" "$work/pc_static"
fi

echo "== CMake find_package"
cmake_bin=$(command -v /usr/bin/cmake || command -v cmake)
if step "cmake configure" "$cmake_bin" -S tests/c-consumer -B "$work/cmake" \
  -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release &&
  step "cmake build" "$cmake_bin" --build "$work/cmake"; then
  expect "CMake, bplustree3::bplustree3" env LD_LIBRARY_PATH="$lib" "$work/cmake/consumer_shared"
  expect "CMake, bplustree3::bplustree3_static" "$work/cmake/consumer_static"
fi

echo "== meson subproject, dependency('bplustree3')"
proj=$work/meson-consumer
mkdir -p "$proj/subprojects/bplustree3"
cp -r tests/c-consumer/meson/. "$proj/"
cp tests/c-consumer/consumer.c "$proj/"
git ls-files -z | tar --null -T - -cf - | tar -xf - -C "$proj/subprojects/bplustree3"
# Not the installed copy: no pkg-config path, and the subproject forced.
if step "meson setup (subproject)" env -u PKG_CONFIG_PATH meson setup "$proj/build" "$proj" \
  --wrap-mode=nodownload --force-fallback-for=bplustree3 &&
  step "meson compile (subproject)" meson compile -C "$proj/build"; then
  expect "meson subproject" "$proj/build/consumer"
  # The subproject builds its library and nothing else: no tests, fuzzers, examples.
  sub=$proj/build/subprojects/bplustree3
  built=$(find "$sub" -type f -perm -u+x ! -name '*.so*' 2>/dev/null | wc -l)
  if [ -f "$sub/libbplustree3.a" ] && [ "$built" -eq 0 ]; then
    echo "ok    the subproject builds no programs of its own"
    passed=$((passed + 1))
  else
    echo "FAIL  the subproject built $built programs (or not its library)"
    failed=$((failed + 1))
  fi
fi

echo "== the one-file form"
if step "amalgamate" python3 scripts/amalgamate.py "$work/one" &&
  step "cc, one file" cc "${cflags[@]}" -Wshadow -Wconversion -Wpedantic -I "$work/one" \
    tests/c-consumer/consumer.c "$work/one/bplustree3.c" -o "$work/one/consumer"; then
  expect "one file" "$work/one/consumer"
fi

cd "$root"
echo "c-library: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
