"""Errors that say what to do: a slice given to a map says how to take a
range of keys or of positions; a bad ``inclusive`` says it takes a pair of
bools; a TypeError from comparing keys of mixed types adds that keys need a
total order. Each keeps the original message, the exception type that
Python (or sortedcontainers) raises, the original exception as its cause,
and the container exactly as it was."""

import pytest
import sortedcontainers

from bplustree3 import BPlusTreeMap, SortedDict, SortedKeyList, SortedList, SortedSet

ORDER_HINT = "need a total order"


def restated(excinfo, *parts):
    """Whether the exception's message holds each of parts, and its cause is
    the original exception, whose message it starts with."""
    error = excinfo.value
    message = str(error)
    cause = error.__cause__
    return (all(part in message for part in parts) and cause is not None
            and message.startswith(str(cause)))


@pytest.fixture(params=["int", "str", "object"])
def m(request):
    keys = {"int": range(10), "str": "abcdefghij", "object": [(i,) for i in range(10)]}
    return BPlusTreeMap.fromkeys(keys[request.param], 0)


def slices_of(m):
    first, last = list(m)[1], list(m)[3]
    return [slice(1, 3), slice(first, last), slice(None, 2)]


def test_a_slice_of_a_map_points_to_irange_and_positions(m):
    before = list(m.items())
    for key in slices_of(m):
        for action in (lambda: m[key], lambda: m.__delitem__(key),
                       lambda: m.__setitem__(key, 1)):
            with pytest.raises(TypeError) as excinfo:
                action()
            assert restated(excinfo, "irange(", "keys()[i:j]", "islice(", "not supported")
    assert list(m.items()) == before
    m.check()


def test_a_slice_of_an_empty_map_is_a_missing_key_as_in_a_dict():
    with pytest.raises(KeyError):
        BPlusTreeMap()[1:2]


@pytest.mark.parametrize("inclusive", [True, 1, None, (True,)])
def test_a_bad_inclusive_says_it_takes_a_pair(inclusive):
    m = BPlusTreeMap.fromkeys(range(10))
    ours = [m.irange, SortedList(range(10)).irange, SortedDict.fromkeys(range(10)).irange,
            SortedSet(range(10)).irange, SortedKeyList(range(10), key=lambda v: -v).irange_key]
    theirs = [sortedcontainers.SortedList(range(10)).irange,
              sortedcontainers.SortedDict.fromkeys(range(10)).irange,
              sortedcontainers.SortedSet(range(10)).irange,
              sortedcontainers.SortedKeyList(range(10), key=lambda v: -v).irange_key]
    expected = None
    for irange in theirs:
        try:
            list(irange(1, 5, inclusive))
        except Exception as error:  # noqa: BLE001 - the type is what we compare
            expected = type(error) if expected in (None, type(error)) else Exception
    for irange in ours:
        with pytest.raises((TypeError, ValueError, IndexError)) as excinfo:
            list(irange(1, 5, inclusive))
        assert restated(excinfo, "inclusive takes a pair of bools", repr(inclusive))
        if irange is not ours[0]:  # sortedcontainers' classes: the same type as there
            assert excinfo.type is expected


def test_a_string_inclusive_reads_as_sortedcontainers_reads_it():
    # "x" is a sequence: sortedcontainers reads "x"[0] for the minimum and
    # "x"[1] (IndexError) only for a maximum, and so do we.
    assert list(SortedList(range(10)).irange(1, None, "x")) == list(range(1, 10))
    with pytest.raises(IndexError, match="inclusive takes a pair of bools"):
        list(SortedList(range(10)).irange(1, 5, "x"))
    with pytest.raises(IndexError):
        list(sortedcontainers.SortedList(range(10)).irange(1, 5, "x"))


def mixed_cases():
    """(container, a change that compares a str with ints, its state)."""
    def state_of(c):
        return list(c.items()) if hasattr(c, "items") else list(c)

    cases = []
    m = BPlusTreeMap.fromkeys(range(10), 0)
    cases.append((m, lambda: m.__setitem__("a", 1)))
    cases.append((m, lambda: m["a"]))
    cases.append((m, lambda: m.update({"a": 1, "b": 2})))
    objects = BPlusTreeMap.fromkeys([(i,) for i in range(10)], 0)
    cases.append((objects, lambda: objects.__setitem__("a", 1)))
    sl = SortedList(range(10))
    cases.append((sl, lambda: sl.add("a")))
    cases.append((sl, lambda: sl.update(["a", "b"])))
    cases.append((sl, lambda: sl.update(["a"] * 20)))
    strs = SortedList("abcdefghij")
    cases.append((strs, lambda: strs.update([1, 2])))
    skl = SortedKeyList(range(10), key=lambda v: v)
    cases.append((skl, lambda: skl.add("a")))
    cases.append((skl, lambda: skl.update(["a", "b"] * 10)))
    sd = SortedDict.fromkeys(range(10))
    cases.append((sd, lambda: sd.__setitem__("a", 1)))
    cases.append((sd, lambda: sd.update(dict.fromkeys("abcdefghijkl"))))
    ss = SortedSet(range(10))
    cases.append((ss, lambda: ss.add("a")))
    return [(c, change, state_of) for c, change in cases]


@pytest.mark.parametrize("case", range(len(mixed_cases())))
def test_mixed_key_types_say_keys_need_a_total_order(case):
    container, change, state_of = mixed_cases()[case]
    before = state_of(container)
    with pytest.raises(TypeError) as excinfo:
        change()
    assert restated(excinfo, "'<' not supported between instances of", ORDER_HINT)
    assert state_of(container) == before
    (container._list if hasattr(container, "_list") else container).check()


@pytest.mark.parametrize("make", [SortedList, lambda v: SortedKeyList(v, key=lambda x: x)])
def test_a_new_sorted_list_of_mixed_values_says_so(make):
    with pytest.raises(TypeError) as excinfo:
        make([3, "a", 1, "b"])
    assert restated(excinfo, "not supported", ORDER_HINT)


class OwnError(TypeError):
    pass


class Picky:
    """A key whose < raises TypeError of its own, or a plain one."""

    def __init__(self, n, error):
        self.n, self.error = n, error

    def __lt__(self, other):
        if other.n == 13:
            raise self.error("picky")
        return self.n < other.n

    def __eq__(self, other):
        return self.n == other.n

    __hash__ = None


def test_a_subclass_of_typeerror_is_passed_on_as_it_is():
    m = BPlusTreeMap((Picky(i, OwnError), i) for i in range(5))
    with pytest.raises(OwnError) as excinfo:
        m[Picky(13, OwnError)] = 1
    assert str(excinfo.value) == "picky" and excinfo.value.__cause__ is None
    assert len(m) == 5
    m.check()


def test_a_plain_typeerror_of_a_comparison_gets_the_hint():
    m = BPlusTreeMap((Picky(i, TypeError), i) for i in range(5))
    with pytest.raises(TypeError) as excinfo:
        m[Picky(13, TypeError)] = 1
    assert restated(excinfo, "picky", ORDER_HINT)
    assert len(m) == 5
    m.check()


def test_other_errors_of_a_comparison_are_not_restated():
    m = BPlusTreeMap((Picky(i, ValueError), i) for i in range(5))
    with pytest.raises(ValueError, match="^picky$"):
        m[Picky(13, ValueError)] = 1


def test_private_methods_refuse_bad_arguments_clearly():
    m = BPlusTreeMap.fromkeys(range(5))
    for call, error in ((lambda: m._iter(kind="x"), TypeError),
                        (lambda: m._iter(kind=7), ValueError),
                        (lambda: m._iter(), TypeError),
                        (lambda: m._islice(9, None, None, False), ValueError),
                        (lambda: m._load_numbers(b"", 0), TypeError),
                        (lambda: m._load_numbers(b"", 0, "big"), TypeError),
                        (lambda: m._load_numbers(b"", 0, 1), ValueError),
                        (lambda: SortedList()._swap(), TypeError),
                        (lambda: SortedList()._swap(5, None), TypeError)):
        with pytest.raises(error):
            call()
    assert list(m) == [0, 1, 2, 3, 4]
    m.check()


def test_load_numbers_fills_only_an_empty_map():
    array = pytest.importorskip("array")
    m = BPlusTreeMap({1: 1})
    with pytest.raises(TypeError, match="not empty"):
        m._load_numbers(array.array("q", [5, 6]), 0, None)
    assert dict(m) == {1: 1}
    m.check()


def test_private_list_methods_refuse_bad_argument_counts():
    sl = SortedKeyList([1, 2], key=lambda v: v)
    for call in (lambda: sl._find(), lambda: sl._discard(1), lambda: sl._add(),
                 lambda: sl._count(1)):
        with pytest.raises(TypeError):
            call()
    assert list(sl) == [1, 2]


def test_arguments_read_in_c_are_refused_clearly():
    m = BPlusTreeMap.fromkeys(range(5))
    for call, error in ((lambda: BPlusTreeMap(capacity=-1), ValueError),
                        (lambda: BPlusTreeMap(capacity=10**30), ValueError),
                        (lambda: BPlusTreeMap(capacity=True), TypeError),
                        (lambda: BPlusTreeMap(capacity=2.5), TypeError),
                        (lambda: m._iter(kind=-1), ValueError),
                        (lambda: m._iter(kind=10**30), OverflowError),
                        (lambda: m._iter(0, kind=0), TypeError),
                        (lambda: m._iter(kind=0, bogus=1), TypeError),
                        (lambda: m._iter(0, False, None, None, True, False, 7), TypeError),
                        (lambda: m.index(), TypeError),
                        (lambda: m.index(1, 0, 5, 9), TypeError),
                        (lambda: m.peekitem(0, 1), TypeError),
                        (lambda: SortedList([1]).islice(bogus=1), TypeError)):
        with pytest.raises(error):
            call()
    assert BPlusTreeMap(capacity=None).capacity == BPlusTreeMap().capacity
    assert list(m._iter(kind=0, min_inclusive=False, minimum=1)) == [2, 3, 4]
    assert list(m) == [0, 1, 2, 3, 4]
    m.check()


def test_the_undo_helpers_refuse_bad_arguments_clearly():
    from bplustree3._bplustree3 import _dict_apply, _set_apply

    d, s = {1: "a"}, {1}
    for call in (lambda: _dict_apply(d, ()), lambda: _dict_apply([], (), {}),
                 lambda: _dict_apply(d, 5, {}), lambda: _dict_apply(d, (), []),
                 lambda: _dict_apply(d, ([],), {}),
                 lambda: _set_apply(s, ()), lambda: _set_apply([], (), ()),
                 lambda: _set_apply(s, 5, ()), lambda: _set_apply(s, (), 5),
                 lambda: _set_apply(s, ([],), ()), lambda: _set_apply(s, (), ([],))):
        with pytest.raises(TypeError):
            call()
    assert d == {1: "a"} and s == {1}
    _dict_apply(d, [1, 2], {3: "c"})
    _set_apply(s, [1, 2], (3,))
    assert d == {3: "c"} and s == {3}
