"""Keys without a total order are bad input: a NaN gets ValueError, a key
that cannot be ordered against itself (None) gets TypeError, and the map is
left exactly as it was. Both used to lose data silently: a NaN replaced or
removed an unrelated entry, and a None in an empty map became unreachable."""

import pytest

from bplustree3 import BPlusTreeMap

NAN = float("nan")


class MyFloat(float):
    pass


def state(m):
    return list(m.items()), m._key_storage


@pytest.fixture(params=["float", "int", "object"])
def m(request):
    if request.param == "float":
        m = BPlusTreeMap(((float(i), i) for i in range(100)), capacity=4)
    elif request.param == "int":
        m = BPlusTreeMap(((i, i) for i in range(100)), capacity=4)
    else:
        m = BPlusTreeMap(((float(i), i) for i in range(100)), capacity=4)
        m[10**30] = "big"  # object keys
    assert m._key_storage == request.param
    return m


@pytest.mark.parametrize("nan", [NAN, MyFloat("nan"), float("-nan")])
def test_nan_is_refused_on_insert_and_absent_on_lookup(m, nan):
    before = state(m)
    for store in (lambda: m.__setitem__(nan, "x"), lambda: m.setdefault(nan, "x"),
                  lambda: m.update({nan: "x"}), lambda: m.update([(1.0, "y"), (nan, "x")])):
        with pytest.raises(ValueError, match="NaN"):
            store()
        assert state(m) == before
    assert m.get(nan) is None and m.get(nan, "d") == "d"
    assert nan not in m
    with pytest.raises(KeyError):
        m[nan]
    with pytest.raises(KeyError):
        del m[nan]
    with pytest.raises(KeyError):
        m.pop(nan)
    assert m.pop(nan, "d") == "d"
    assert state(m) == before
    m.check()


@pytest.mark.parametrize("nan", [NAN, MyFloat("nan")])
def test_nan_is_refused_as_a_bound(m, nan):
    before = state(m)
    for query in (lambda: m.floor(nan), lambda: m.ceiling(nan), lambda: m.lower(nan),
                  lambda: m.higher(nan), lambda: m.delete_range(nan, 50.0),
                  lambda: m.delete_range(None, nan), lambda: m.irange(nan),
                  lambda: m.irange(None, nan), lambda: m.keys(nan), lambda: m.items(0, nan),
                  lambda: m.values(nan, None), lambda: m.range(nan)):
        with pytest.raises(ValueError, match="NaN"):
            query()
        assert state(m) == before
    m.check()


def test_nan_cannot_start_or_join_a_map():
    for make in (lambda: BPlusTreeMap({NAN: 1}), lambda: BPlusTreeMap.fromkeys([1.0, NAN]),
                 lambda: BPlusTreeMap.from_sorted_items([(NAN, 1)]),
                 lambda: BPlusTreeMap.from_sorted_items([(0.5, 0), (NAN, 1)]),
                 lambda: BPlusTreeMap.from_sorted_items(iter([(NAN, 1)]))):
        with pytest.raises(ValueError, match="NaN"):
            make()
    m = BPlusTreeMap()
    with pytest.raises(ValueError):
        m[NAN] = 1
    assert len(m) == 0
    m[1.5] = 1
    assert list(m.items()) == [(1.5, 1)]


@pytest.mark.parametrize("key", [None, object(), {1: 2}])
def test_a_key_that_cannot_order_against_itself_is_refused(key):
    m = BPlusTreeMap()
    for store in (lambda: m.__setitem__(key, 1), lambda: m.setdefault(key, 1),
                  lambda: m.update([(key, 1)])):
        with pytest.raises(TypeError):
            store()
        assert len(m) == 0 and list(m) == []
    for make in (lambda: BPlusTreeMap({key: 1}) if key.__hash__ else BPlusTreeMap([(key, 1)]),
                 lambda: BPlusTreeMap.from_sorted_items([(key, 1)]),
                 lambda: BPlusTreeMap.from_sorted_items(((key, 1),))):
        with pytest.raises(TypeError):
            make()
    # A usable map afterwards, of whatever keys come next.
    m["a"] = 1
    assert m["a"] == 1
    m.check()


def test_none_into_a_non_empty_map_was_already_refused():
    m = BPlusTreeMap({1: 1})
    with pytest.raises(TypeError):
        m[None] = 2
    assert list(m.items()) == [(1, 1)]
    m.check()
