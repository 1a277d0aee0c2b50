"""scripts/check-release.sh, which the wheels workflow runs before it
publishes a tag: a tag must equal meson.build's version, and CHANGELOG.md
must have that version's section."""

import pathlib
import re
import shutil
import subprocess

import pytest

# Not under pytest-run-parallel: it copies files and runs a subprocess.
pytestmark = pytest.mark.thread_unsafe

ROOT = pathlib.Path(__file__).resolve().parents[2]


def run(tree, tag, *more):
    return subprocess.run(["bash", str(tree / "scripts" / "check-release.sh"), tag, *more],
                          capture_output=True, text=True)


@pytest.fixture
def tree(tmp_path):
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "check-release.sh", tmp_path / "scripts")
    shutil.copy(ROOT / "meson.build", tmp_path)
    shutil.copy(ROOT / "CHANGELOG.md", tmp_path)
    return tmp_path


def version():
    return re.search(r"^  version: '([^']+)',", (ROOT / "meson.build").read_text(), re.M)[1]


def test_a_tag_that_is_not_the_version_fails(tree):
    r = run(tree, "v999.0.0")
    assert r.returncode == 1
    assert f"does not match meson.build's version {version()}" in r.stderr


def test_the_version_needs_its_changelog_section(tree):
    v = version()
    log = tree / "CHANGELOG.md"
    log.write_text(log.read_text().replace(f"## [{v}] -", "## [x] -"))
    r = run(tree, f"v{v}")
    assert r.returncode == 1 and f"no '## [{v}] - YYYY-MM-DD' section" in r.stderr
    log.write_text(log.read_text().replace("## [Unreleased]", f"## [Unreleased]\n\n## [{v}] - 2026-12-01", 1))
    r = run(tree, f"v{v}")
    assert r.returncode == 0, r.stderr
    assert "matches meson.build and CHANGELOG.md" in r.stdout


def test_the_release_notes_are_the_version_s_section(tree):
    v = version()
    log = tree / "CHANGELOG.md"
    log.write_text(log.read_text().replace(
        "## [Unreleased]",
        f"## [Unreleased]\n\n## [{v}] - 2026-12-01\n\n### Fixed\n- the one change\n\n"
        "## [0.0.1] - 2026-01-01\n\n- an older change", 1))
    notes = tree / "notes.md"
    r = run(tree, f"v{v}", str(notes))
    assert r.returncode == 0, r.stderr
    assert notes.read_text().strip() == "### Fixed\n- the one change"
    notes.unlink()
    assert run(tree, "v999.0.0", str(notes)).returncode == 1
    assert not notes.exists()
