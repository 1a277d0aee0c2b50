"""Keys that stand for numbers: bools and numpy integer and float scalars.

A BPlusTreeMap takes them as the int or float they equal, as a dict finds
them (equal and equally hashed): they find, replace and remove their equal
int, and storing one keeps a map of packed ints packed. What differs from
a dict is which key object comes back: a map of packed numbers holds
numbers, so it hands back ints and floats (docs/advanced.md says so); a
map of object keys keeps the objects, as a dict does. SortedList keeps its
values' own objects, as sortedcontainers does. fromkeys reads int64 and
float64 buffers (numpy arrays) in C."""

import array

import pytest

from bplustree3 import BPlusTreeMap, SortedList

np = pytest.importorskip("numpy")

INT_PROBES = [np.int64(5), np.int32(-3), np.uint8(7), np.int16(4000), np.intc(2),
              np.uint64(2**64 - 1), np.int64(-2**63), True, False, np.bool_(True),
              np.float64(6.0), np.float32(8.0), np.float16(0.5), np.float64(2.5)]


def maps():
    """(name, items): maps packed as int, float, object and str keys."""
    ints = [(k, f"v{k}") for k in range(-10, 5000, 3)]
    return [("int", ints),
            ("float", [(k / 2, f"v{k}") for k in range(-10, 200)]),
            ("object", ints + [(2**70, "big")]),
            ("str", [(str(k), k) for k in range(50)])]


def outcome(call):
    try:
        return ("ok", call())
    except KeyError:
        return ("KeyError",)
    except TypeError:  # numpy's UFuncTypeError among them
        return ("TypeError",)


@pytest.mark.parametrize("name,items", maps(), ids=[name for name, _ in maps()])
def test_lookups_find_what_a_dict_finds(name, items):
    m, d = BPlusTreeMap(items, capacity=8), dict(items)
    storage = m._key_storage
    for probe in INT_PROBES:
        want = outcome(lambda: d[probe])
        if name == "str" and want[0] == "KeyError":
            want = ("TypeError",)  # a number among strs: no order between them
        assert outcome(lambda: m[probe]) == want, probe
        if want[0] != "TypeError":
            assert (probe in m) == (probe in d)
            assert m.get(probe, "no") == d.get(probe, "no")
    assert m._key_storage == storage


@pytest.mark.parametrize("name,items", maps()[:3], ids=[name for name, _ in maps()[:3]])
def test_changes_as_in_a_dict_and_the_map_stays_packed(name, items):
    m, d = BPlusTreeMap(items, capacity=8), dict(items)
    storage = m._key_storage
    for probe in INT_PROBES:
        if probe != probe or (storage == "float" and isinstance(probe, np.integer)
                              and not -2**53 < int(probe) < 2**53):
            continue
        for change in (lambda c: c.__setitem__(probe, "new"),
                       lambda c: c.setdefault(probe, "default"),
                       lambda c: c.pop(probe, "absent"),
                       lambda c: c.update({probe: "updated"})):
            assert outcome(lambda: change(m)) == outcome(lambda: change(d))
            assert list(m.items()) == sorted(d.items())
    m.check()
    if storage == "int":  # every probe fits an int64 or is a float equal to one
        assert m._key_storage in ("int", "object")
    stray = BPlusTreeMap.fromkeys(range(1000))
    stray[np.int64(5)] = "np"
    stray[True] = "bool"
    stray[np.int32(2000)] = "new"
    assert stray._key_storage == "int"
    assert stray[5] == "np" and stray[1] == "bool" and 2000 in stray
    assert type(list(stray)[-1]) is int  # numbers are handed back as ints


def test_which_key_object_comes_back():
    packed = BPlusTreeMap()
    packed[np.int64(3)] = "a"
    assert packed._key_storage == "int" and type(next(iter(packed))) is int
    objects = BPlusTreeMap({2**70: "big"})
    key = np.int64(3)
    objects[key] = "a"
    assert next(iter(objects)) is key  # a map of objects keeps them, as a dict does


def test_neighbours_and_ranges_take_numpy_bounds():
    m = BPlusTreeMap.fromkeys(range(0, 100, 10))
    assert m.floor(np.int64(25)) == (20, None) and m.ceiling(np.float32(25)) == (30, None)
    assert list(m.irange(np.int64(20), np.int64(50))) == [20, 30, 40, 50]
    assert m.bisect_left(np.int32(30)) == 3 and m.index(np.int64(30)) == 3


def test_a_sorted_list_keeps_its_values_objects():
    values = [np.int64(3), np.int64(1), 2]
    sl = SortedList(values)
    assert [type(v) for v in sl] == [np.int64, int, np.int64]
    assert sl[0] is values[1] and np.int64(2) in sl


def fromkeys_cases():
    rng = np.random.default_rng(5)
    shuffled = rng.permutation(10_000).astype(np.int64)
    return {
        "sorted": np.arange(-500, 500, dtype=np.int64),
        "shuffled": shuffled,
        "repeats": rng.integers(-50, 50, 2000).astype(np.int64),
        "strided": np.arange(100, dtype=np.int64)[::-3],
        "floats": rng.normal(size=3000),
        "signed zeros": np.array([0.0, -0.0, 1.5, -0.0]),
        "extremes": np.array([2**63 - 1, -2**63, 0], dtype=np.int64),
        "int32 (general path)": np.array([3, 1, 2], dtype=np.int32),
        "array.array q": array.array("q", [5, 3, 9, 3]),
        "array.array d": array.array("d", [0.5, -1.0]),
        "empty": np.array([], dtype=np.int64),
    }


@pytest.mark.parametrize("name", list(fromkeys_cases()))
def test_fromkeys_of_a_buffer_is_fromkeys_of_its_items(name):
    keys = fromkeys_cases()[name]
    m = BPlusTreeMap.fromkeys(keys, "v")
    want = dict.fromkeys(keys.tolist(), "v")
    assert list(m.items()) == sorted(want.items())
    assert [type(k) for k in m] == [type(k) for k in sorted(want)]
    m.check()


def test_fromkeys_of_a_buffer_with_a_nan_raises_and_makes_nothing():
    with pytest.raises(ValueError, match="NaN"):
        BPlusTreeMap.fromkeys(np.array([1.0, float("nan")]))
    class Sub(BPlusTreeMap):
        pass
    m = Sub.fromkeys(np.arange(5, dtype=np.int64), 0)
    assert type(m) is Sub and list(m) == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("probe", [np.longdouble(6), np.complex128(6), np.float32("nan"),
                                   np.datetime64(6, "s"), np.bool_(False)],
                         ids=["longdouble", "complex", "float32 nan", "datetime64", "bool_"])
def test_other_numpy_scalars_are_object_keys_with_a_dicts_answer(probe):
    m, d = BPlusTreeMap.fromkeys(range(0, 20, 3), "v"), dict.fromkeys(range(0, 20, 3), "v")
    try:
        want = ("ok", d[probe])
    except KeyError:
        want = ("KeyError",)
    except TypeError:
        want = ("TypeError",)
    assert outcome(lambda: m[probe]) in (want, ("TypeError",))
    assert m._key_storage == "int"


@pytest.mark.parametrize("keys", [np.arange(5, dtype=">i8"), np.arange(5, dtype=np.int32),
                                  np.arange(6, dtype=np.int64).reshape(2, 3)[:, 0],
                                  array.array("Q", [3, 1]), array.array("i", [2, 1]),
                                  np.arange(4, dtype=np.uint64), b"\x03\x01"],
                         ids=["big-endian", "int32", "column", "array Q", "array i", "uint64",
                              "bytes"])
def test_fromkeys_of_other_buffers_reads_their_items(keys):
    m = BPlusTreeMap.fromkeys(keys, 0)
    assert list(m.items()) == sorted(dict.fromkeys(list(keys), 0).items())
    m.check()


def test_fromkeys_of_a_buffer_that_fails_to_load_makes_nothing():
    from bplustree3 import _bplustree3

    for n in range(1, 4):
        _bplustree3._fail_allocation(n)
        try:
            m = BPlusTreeMap.fromkeys(np.arange(5000, dtype=np.int64))
        except MemoryError:
            continue
        finally:
            _bplustree3._fail_allocation(0)
        assert len(m) == 5000  # the failure fell on another allocation
        m.check()
    m = BPlusTreeMap.fromkeys(np.arange(5000, dtype=np.int64))
    assert len(m) == 5000 and m._key_storage == "int"


def impostor(name, **methods):
    """A class that calls itself numpy.<name>: the conversion tells numpy's
    types by name, so any code can make one; it must get an answer or a
    clear error, never a crash, and the map must stay as it was."""
    return type(f"numpy.{name}", (), methods)()


def raising(*args):
    raise ValueError("no number here")


class IntSub(int):
    pass


@pytest.mark.parametrize("key", [
    impostor("int64", __index__=raising),
    impostor("int64", __index__=lambda self: IntSub(5)),
    impostor("int64", __index__=lambda self: 2**80),
    impostor("bool", __bool__=raising),
    impostor("float32", __float__=raising),
    impostor("float64", __float__=lambda self: float("nan")),
    impostor("datetime64"),
], ids=["index raises", "index gives a subclass", "index too big", "bool raises",
        "float raises", "float is nan", "nothing"])
def test_impostors_get_an_answer_or_a_clear_error(key):
    m = BPlusTreeMap.fromkeys(range(10), "v")
    for action in (lambda: m[key], lambda: key in m, lambda: m.get(key),
                   lambda: m.__setitem__(key, "new"), lambda: m.pop(key, None)):
        try:
            action()
        except (TypeError, ValueError, KeyError):
            pass
    assert list(m.items())[:10] == [(k, "v") for k in range(10)] or len(m) == 11
    m.check()


def test_an_impostor_int_is_taken_by_its_index():
    key = impostor("int64", __index__=lambda self: 5)
    m = BPlusTreeMap.fromkeys(range(10), "v")
    assert m[key] == "v" and key in m
    m[key] = "new"
    assert m[5] == "new" and m._key_storage == "int"
