#!/usr/bin/env bash
# check-release.sh TAG [NOTES]: checks that a release tag may be published:
# TAG is "v" followed by the version in meson.build (the one place the
# version is set), and CHANGELOG.md has a section for that version
# ("## [X.Y.Z] - YYYY-MM-DD"). With NOTES, also writes that section's body
# to the file NOTES (the GitHub Release's text). The wheels workflow runs it
# before publishing; RELEASING.md says when to run it by hand. Exit 0 when
# both hold, 1 otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
tag=${1:?usage: check-release.sh TAG [NOTES] (for example v0.2.0)}
notes=${2:-}
version=$(sed -n "s/^  version: '\([^']*\)',.*/\1/p" meson.build | head -n1)
if [ -z "$version" ]; then
  echo "check-release: no version: '...' line in meson.build's project()" >&2
  exit 1
fi
status=0
if [ "$tag" != "v$version" ]; then
  echo "check-release: tag $tag does not match meson.build's version $version (expected v$version)" >&2
  status=1
fi
if ! grep -Eq "^## \[${version//./\\.}\] - [0-9]{4}-[0-9]{2}-[0-9]{2}$" CHANGELOG.md; then
  echo "check-release: CHANGELOG.md has no '## [$version] - YYYY-MM-DD' section" >&2
  status=1
fi
if [ "$status" -eq 0 ]; then
  echo "check-release: $tag matches meson.build and CHANGELOG.md"
  if [ -n "$notes" ]; then
    # The section's lines after its heading, up to the next version's.
    awk -v head="## [$version] - " '
      index($0, head) == 1 { inside = 1; next }
      inside && /^## \[/ { exit }
      inside { print }' CHANGELOG.md >"$notes"
  fi
fi
exit "$status"
