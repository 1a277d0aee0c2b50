"""One call run on our container and on another library's, side by side:
the outcomes (the result, or the type of the exception raised) must be the
same. Shared by the differential tests against sortedcontainers and
sortedcollections."""


def outcome(fn, *args):
    """What fn(*args) gives: ("ok", result), an iterator read out into a
    list, or ("raised", the type of the exception)."""
    try:
        r = fn(*args)
        if hasattr(r, "__next__"):
            r = list(r)
    except Exception as e:  # noqa: BLE001 - compared with the other side's
        return ("raised", type(e))
    return ("ok", r)


def same(mine, theirs, *args, plain=None):
    """Asserts that mine(*args) and theirs(*args) have the same outcome,
    results compared as plain(result) when plain is given; returns it."""
    got, want = outcome(mine, *args), outcome(theirs, *args)
    if plain is not None and got[0] == want[0] == "ok":
        got, want = ("ok", plain(got[1])), ("ok", plain(want[1]))
    assert got == want, (args, got, want)
    return got
