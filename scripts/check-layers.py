#!/usr/bin/env python3
"""Checks that the C extension's files form the layers ext.h lists.

ext.h's opening comment lists the extension's .c files bottom layer first;
each file may use only functions and objects defined in files before it in
that list. This script reads the list, finds which file defines each
external (non-static) function or object, and fails, naming the use, when
a file uses a name defined in a file listed after it, or when the list and
the files on disk differ. With --graph it prints who uses whom.

Usage: python3 scripts/check-layers.py [--graph]
"""

from __future__ import annotations

import pathlib
import re
import sys

EXT = pathlib.Path(__file__).resolve().parent.parent / "python" / "bplustree3" / "ext"

# A definition at the start of a line: a function (its parameter list, then
# "{") or an object ("Type name =" or "Type *name;"), not static.
FUNCTION = re.compile(r"^(?!static\b)[A-Za-z_][\w \t*]*?\b(\w+)\s*\([^;{]*\)\s*\{", re.M)
OBJECT = re.compile(r"^(?!static\b|extern\b)[A-Za-z_][\w \t]*?[\s*](\w+)(?:\s*,\s*\*?(\w+))*\s*[=;]", re.M)


def layer_order() -> list[str]:
    """The .c files in the order ext.h's opening comment lists them."""
    header = (EXT / "ext.h").read_text()
    opening = header[: header.index("*/")]
    return re.findall(r"^ \*\s+(\w+)\.c\s", opening, re.M)


def strip_comments(source: str) -> str:
    source = re.sub(r"/\*.*?\*/", " ", source, flags=re.S)
    source = re.sub(r"//[^\n]*", " ", source)
    return re.sub(r'"(?:\\.|[^"\\])*"', '""', source)


def definitions(sources: dict[str, str]) -> dict[str, str]:
    """Each external name, mapped to the file that defines it."""
    owner: dict[str, str] = {}
    for name, source in sources.items():
        for match in FUNCTION.finditer(source):
            owner[match.group(1)] = name
        for match in OBJECT.finditer(source):
            for symbol in match.groups():
                if symbol and not symbol.startswith("Py"):
                    owner[symbol] = name
    return owner


def uses(sources: dict[str, str], owner: dict[str, str]) -> dict[str, dict[str, list[str]]]:
    """For each file, the names it uses from each other file."""
    found: dict[str, dict[str, list[str]]] = {}
    for name, source in sources.items():
        words = set(re.findall(r"\b\w+\b", source))
        for symbol in sorted(words):
            home = owner.get(symbol)
            if home and home != name:
                found.setdefault(name, {}).setdefault(home, []).append(symbol)
    return found


def main() -> int:
    order = layer_order()
    on_disk = sorted(path.stem for path in EXT.glob("*.c"))
    if sorted(order) != on_disk:
        print(f"check-layers: ext.h lists {sorted(order)}, the directory holds {on_disk}")
        return 1
    sources = {name: strip_comments((EXT / f"{name}.c").read_text()) for name in order}
    graph = uses(sources, definitions(sources))
    rank = {name: i for i, name in enumerate(order)}
    bad = [
        f"{user}.c uses {', '.join(symbols)} from {home}.c, a later layer"
        for user, homes in graph.items()
        for home, symbols in homes.items()
        if rank[home] > rank[user]
    ]
    if "--graph" in sys.argv[1:]:
        for name in order:
            homes = graph.get(name, {})
            listed = "; ".join(f"{home}.c ({len(symbols)})" for home, symbols in homes.items())
            print(f"{name}.c -> {listed or 'nothing'}")
    for line in bad:
        print(f"check-layers: {line}")
    if not bad:
        print(f"check-layers: {len(order)} files, every use points to an earlier layer")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
