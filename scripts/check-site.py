#!/usr/bin/env python3
"""Checks the built documentation site and its lock.

1. The 404 page: GitHub Pages serves it for any missing path, at any
   depth, so each of its links to the site's own files (stylesheets,
   scripts, images, pages) must be absolute under the site's path (from
   mkdocs.yml's site_url) and name a file the build made. A relative link
   works on /bplustree3/missing and breaks on /bplustree3/a/b/missing.
2. Every page asks nothing of Google Fonts (the theme's system fonts).
3. requirements-docs.txt, the docs workflow's lock, pins each package at
   the version requirements-dev.txt pins (the test command builds the
   site from that one).

Usage: python3 scripts/check-site.py SITE_DIR (a `mkdocs build` output)
"""

from __future__ import annotations

from html.parser import HTMLParser
import pathlib
import re
import sys
from urllib.parse import urlsplit

ROOT = pathlib.Path(__file__).resolve().parent.parent


class Links(HTMLParser):
    """The href and src attributes of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.links += [value for name, value in attrs if name in ("href", "src") and value]


def site_path() -> str:
    """The path of site_url in mkdocs.yml, ending with "/"."""
    text = (ROOT / "mkdocs.yml").read_text()
    url = re.search(r"^site_url:\s*(\S+)", text, re.M)
    if not url:
        raise SystemExit("check-site: mkdocs.yml has no site_url")
    path = urlsplit(url.group(1)).path or "/"
    return path if path.endswith("/") else path + "/"


def check_404(site: pathlib.Path, base: str) -> list[str]:
    page = Links()
    page.feed((site / "404.html").read_text())
    problems = []
    own = [link for link in page.links
           if not urlsplit(link).scheme and not link.startswith(("#", "mailto:", "//"))]
    if not own:
        problems.append("404.html links to none of the site's files")
    for link in own:
        path = urlsplit(link).path
        if not path.startswith(base):
            problems.append(f"404.html: {link} is not under {base}: it breaks below the top")
            continue
        target = site / path[len(base):]
        if target.is_dir() or path.endswith("/") or path.endswith("/."):
            target = target / "index.html"
        if not target.exists():
            problems.append(f"404.html: {link} names no file of the build ({target})")
    return problems


def check_fonts(site: pathlib.Path) -> list[str]:
    return [f"{page.relative_to(site)} asks Google Fonts for fonts"
            for page in site.rglob("*.html") if "fonts.googleapis.com" in page.read_text()]


def pins(lock: pathlib.Path) -> dict[str, str]:
    return dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", lock.read_text(), re.M))


def check_locks() -> list[str]:
    dev, docs = pins(ROOT / "requirements-dev.txt"), pins(ROOT / "requirements-docs.txt")
    if not docs:
        return ["requirements-docs.txt pins nothing"]
    return [f"requirements-docs.txt pins {name}=={version}, requirements-dev.txt "
            f"{dev.get(name, 'nothing')}"
            for name, version in sorted(docs.items()) if dev.get(name) != version]


def main() -> int:
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    site = pathlib.Path(sys.argv[1])
    problems = check_404(site, site_path()) + check_fonts(site) + check_locks()
    for line in problems:
        print(f"check-site: {line}")
    if not problems:
        print(f"check-site: the 404 page's links resolve under {site_path()}, no web fonts, "
              "the docs lock agrees with the dev lock")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
