"""The examples in the docstrings run and show what they say."""

import ast
import contextlib
import doctest
import io
import pathlib
import re
import sys
import tokenize

import pytest

import bplustree3

ROOT = pathlib.Path(__file__).resolve().parents[2]

# Not under pytest-run-parallel: doctest runs examples that print.
pytestmark = pytest.mark.thread_unsafe


def test_docstring_examples():
    result = doctest.testmod(bplustree3)
    assert result.failed == 0
    assert result.attempted >= 10


def test_sorted_docstring_examples():
    from bplustree3 import _sorted

    result = doctest.testmod(_sorted)
    assert result.failed == 0
    assert result.attempted >= 2


def test_troubleshooting_names_every_invariant():
    # docs/troubleshooting.md explains each name InvariantError.invariant can
    # hold: every name the checker returns (invariants/bpt_check.c).
    names = re.findall(r'case BPT_INV_\w+: return "([\w-]+)";',
                       (ROOT / "invariants" / "bpt_check.c").read_text())
    assert len(names) >= 13
    page = (ROOT / "docs" / "troubleshooting.md").read_text()
    listed = set(re.findall(r"^\| `([\w-]+)` \|", page, re.M))
    assert listed == set(names) - {"ok"}


def test_every_public_method_has_a_signature():
    # The C methods carry text signatures, so inspect (and IDEs) see them.
    import inspect

    from bplustree3 import BPlusTreeMap, SortedDict, SortedSet

    for cls in (BPlusTreeMap, SortedDict, SortedSet):
        assert inspect.signature(cls) is not None
        for name in dir(cls):
            attr = getattr(cls, name)
            dunder = cls is BPlusTreeMap and name in ("__reversed__", "__sizeof__")
            if (name.startswith("_") and not dunder) or not callable(attr):
                continue
            assert inspect.signature(attr) is not None, (cls.__name__, name)
    assert str(inspect.signature(BPlusTreeMap.get)) == "(self, key, default=None, /)"
    assert str(inspect.signature(BPlusTreeMap)) == "(items=(), /, *, capacity=None)"


# Every ```python block of the README and of docs/*.md runs: the blocks of
# one page in order, in one namespace, as a reader would paste them. A
# print(...) call whose line ends in a comment, at any depth (in an except
# clause too), must run exactly once and print that comment (optionally
# followed by ": why"); a top-level expression whose line ends in a comment
# must give that repr, as at the interactive prompt (unless it gives None).
# Comments on other statements are prose. A block that must not run is
# preceded by a line "<!-- no-run: why -->" (rare: code of another package
# that is not a test dependency). Blocks that are not Python use another
# fence language (sh, c, text).
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```[ \t]*$", re.M | re.S)
NO_RUN = re.compile(r"<!-- no-run: \S.* -->")
THIRD_PARTY = ("sortedcontainers", "BTrees")  # test dependencies, not everywhere


def python_blocks(text):
    """The page's python blocks as (source, runs) pairs, in page order."""
    blocks = []
    for match in FENCE.finditer(text):
        if match.group(1) != "python":
            continue
        before = text[:match.start()].rstrip().rsplit("\n", 1)[-1]
        blocks.append((match.group(2), not NO_RUN.fullmatch(before.strip())))
    return blocks


def check_output(want, shown, where):
    assert want == shown or want.startswith(shown + ":"), (where, shown, want)


def run_block(source, namespace, where):
    """Runs one block's statements in namespace, with print recording what
    each line prints; checks each output comment (see above). Returns how
    many outputs it checked."""
    comments = {tok.start[0]: tok.string[1:].strip()
                for tok in tokenize.generate_tokens(io.StringIO(source).readline)
                if tok.type == tokenize.COMMENT}
    printed = {}  # line of the block -> what each call on it printed

    def recording_print(*args, **kwargs):
        frame = sys._getframe(1)
        if "file" in kwargs or frame.f_code.co_filename != where:
            return print(*args, **kwargs)
        out = io.StringIO()
        print(*args, **kwargs, file=out)
        printed.setdefault(frame.f_lineno, []).append(out.getvalue().removesuffix("\n"))

    tree = ast.parse(source, where)
    checked = 0
    namespace["print"] = recording_print
    try:
        for stmt in tree.body:
            if isinstance(stmt, ast.Expr):
                value = eval(compile(ast.Expression(stmt.value), where, "eval"), namespace)
                want = comments.get(stmt.end_lineno)
                if want is not None and value is not None and not is_print(stmt.value):
                    check_output(want, repr(value), f"{where}, line {stmt.lineno} of a block")
                    checked += 1
            else:
                exec(compile(ast.Module([stmt], []), where, "exec"), namespace)
    finally:
        del namespace["print"]
    for call in ast.walk(tree):
        want = comments.get(getattr(call, "end_lineno", None))
        if want is None or not is_print(call):
            continue
        line = f"{where}, line {call.lineno} of a block"
        outs = [o for n in range(call.lineno, call.end_lineno + 1) for o in printed.get(n, [])]
        assert len(outs) == 1, (line, "printed this many times:", len(outs))
        check_output(want, outs[0], line)
        checked += 1
    return checked


def is_print(node):
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
            and node.func.id == "print")


SNIPPET_PAGES = [p for p in PAGES if python_blocks(p.read_text())]


@pytest.mark.parametrize("page", SNIPPET_PAGES, ids=lambda p: p.name)
def test_doc_snippets_run_and_print_what_they_say(page):
    text = page.read_text()
    blocks = python_blocks(text)
    # A fence this parser misses (indented, or with odd spacing) would
    # silently not run: every "```python" must be one of the blocks.
    assert text.count("```python") == len(blocks)
    for name in THIRD_PARTY:
        if re.search(rf"^(from|import) {name}\b", text, re.M):
            pytest.importorskip(name)
    namespace = {"__name__": "__snippets__"}
    checked = sum(run_block(source, namespace, page.name) for source, runs in blocks if runs)
    # Every print(...) line with a comment was one of them.
    prints = sum(len(re.findall(r"^\s*print\(.*\)\s+# ", source, re.M))
                 for source, runs in blocks if runs)
    assert checked >= prints


def test_snippet_checker_catches_a_wrong_comment():
    # The checker itself: a wrong output comment fails, a right one and
    # prose on a statement pass.
    ok = "x = [3, 1]  # prose\nprint(sorted(x))  # [1, 3]: sorted\nlen(x)  # 2\n"
    assert run_block(ok, {}, "ok") == 2
    with pytest.raises(AssertionError):
        run_block("print(1 + 1)  # 3\n", {}, "bad")
    with pytest.raises(AssertionError):
        run_block("[1][0]  # 2\n", {}, "bad")
    with pytest.raises(AssertionError):  # a promised print that never runs
        run_block("try:\n    pass\nexcept ValueError as e:\n    print(e)  # boom\n", {}, "bad")
    nested = "try:\n    1 / 0\nexcept ZeroDivisionError as e:\n    print(e)  # division by zero\n"
    assert run_block(nested, {}, "ok") == 1
    assert python_blocks("<!-- no-run: not ours -->\n```python\nimport x\n```\n") == [
        ("import x\n", False)]


SITE = "https://bplustree3.github.io/bplustree3/"
REPO = "https://github.com/bplustree3/bplustree3/"


def test_readme_links_are_absolute_and_lead_somewhere():
    # PyPI shows the README, where a relative link leads nowhere: every link
    # is absolute. Those to the docs site name a page of docs/, those to
    # this repository a file or folder in it.
    text = (ROOT / "README.md").read_text()
    links = re.findall(r"\]\(([^)\s]+)\)", text) + re.findall(r'(?:href|src)="([^"]+)"', text)
    assert len(links) >= 20
    relative = [link for link in links if not link.startswith(("https://", "http://"))]
    assert not relative
    for link in links:
        url = link.split("#", 1)[0]
        if url.startswith(SITE):
            page = url[len(SITE):].strip("/") or "index"
            assert (ROOT / "docs" / f"{page}.md").is_file(), link
        elif url.startswith(REPO):
            path = re.sub(r"^(blob|tree)/main/", "", url[len(REPO):])
            assert (ROOT / path).exists(), link


def test_api_reference_names_every_public_name():
    # docs/api.md is hand-written: it must name everything bplustree3
    # exports and every public method and attribute of BPlusTreeMap.
    from bplustree3 import BPlusTreeMap

    page = (ROOT / "docs" / "api.md").read_text()
    names = set(bplustree3.__all__)
    names |= {n for n in dir(BPlusTreeMap) if not n.startswith("_")}
    missing = sorted(n for n in names if f"`{n}" not in page and f" {n}(" not in page)
    assert not missing, missing
