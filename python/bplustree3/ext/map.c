/*
 * map.c — the map type: life cycle and GC, the mapping protocol, the
 * methods on one item or one end (get, pop, popitem, setdefault, first,
 * floor, ...), delete_range, check, and the type object with its method
 * table. Many items at once are in bulk.c, positions in positions.c,
 * iterators in iter.c.
 */
#include "ext.h"

/* ---- Life cycle ----------------------------------------------------------- */

/*
 * new_map_object makes an empty map (with multi, a multiset: the tree
 * under a SortedList) of type, whose tp_alloc zeroes it.
 */
PyObject *new_map_object(PyTypeObject *type, bool multi)
{
    MapObject *m = (MapObject *)type->tp_alloc(type, 0);
    if (!m)
        return NULL;
    m->multi = multi;
    m->hand_out = KIND_KEYS;
    m->capacity = DEFAULT_CAPACITY;
    m->gate = PyThread_allocate_lock();
    if (!m->gate || PyThread_acquire_lock(m->gate, NOWAIT_LOCK) != PY_LOCK_ACQUIRED) {
        Py_DECREF(m);
        return PyErr_NoMemory();
    }
    m->tree = new_tree(m, m->capacity, PACK_NONE);
    m->search = native_search(PACK_NONE);
    if (!m->tree) {
        Py_DECREF(m);
        return NULL;
    }
    TSAN_RELEASE(m); /* built outside its lock: for the collector */
    return (PyObject *)m;
}

static PyObject *Map_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    (void)args;
    (void)kwds;
    return new_map_object(type, false);
}

static int Map_init(MapObject *m, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"", "capacity", NULL};
    PyObject *items = NULL, *cap_obj = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|O$O:BPlusTreeMap", kwlist, &items, &cap_obj))
        return -1;
    long cap = parse_capacity(cap_obj);
    if (cap < 0)
        return -1;
    return update_with(m, items, NULL, cap_obj == Py_None ? 0 : cap);
}

typedef struct visitor {
    visitproc visit;
    void *arg;
    bool keys; /* the keys are objects */
} visitor;
static int visit_item(void *key, void *value, void *arg)
{
    visitor *v = arg;
    int rc = v->keys && key ? v->visit((PyObject *)key, v->arg) : 0;
    if (!rc && value)
        rc = v->visit((PyObject *)value, v->arg);
    return rc;
}

int Map_traverse(MapObject *m, visitproc visit, void *arg)
{
    /*
     * While the core releases a removed item its leaves are mid-change, so
     * they are not walked: objects then look referenced from outside, which
     * only delays collecting a cycle, never frees a live object.
     */
    TSAN_ACQUIRE(m);
    TSAN_IGNORE_READS_BEGIN();
    int rc = 0;
    if (!m->releasing) {
        visitor v = {visit, arg, holds_objects(m->packing)};
        rc = bpt_visit(m->tree, visit_item, &v);
    }
    TSAN_IGNORE_READS_END();
    return rc;
}

/*
 * tp_clear empties the tree in place (it cannot fail, unlike a new tree).
 * The generation changes first, so that an iterator stepped from a __del__
 * that the release runs finds the map changed before it reads the tree.
 */
int Map_clear_gc(MapObject *m)
{
    TSAN_ACQUIRE(m);
    m->generation++;
    bpt_clear(m->tree);
    return 0;
}

void Map_dealloc(MapObject *m)
{
    PyObject_GC_UnTrack(m);
    if (m->weakreflist)
        PyObject_ClearWeakRefs((PyObject *)m);
    drop_tree(replace_tree(m, NULL, PACK_NONE)); /* m is gone: nothing to mark */
    if (m->gate)
        PyThread_free_lock(m->gate);
#ifdef Py_GIL_DISABLED
    free_readers(m);
#endif
    Py_TYPE(m)->tp_free((PyObject *)m);
}

/* ---- Mapping protocol ----------------------------------------------------- */

/* len reads one field: it needs no guard, and a holder may read it (see acquire). */
Py_ssize_t Map_length(MapObject *m)
{
    int hold = read_lock(m);
    if (hold == READ_REFUSED)
        return -1;
    Py_ssize_t n = (Py_ssize_t)bpt_size(m->tree);
    read_unlock(m, hold);
    return n;
}

/*
 * lookup finds key: FOUND with *value (a new reference), ABSENT, or FAILED
 * with an exception.
 */
static find_result lookup(MapObject *m, PyObject *key, PyObject **value)
{
    *value = NULL;
    if (quick_lookup(m, key, value))
        return *value ? FOUND : ABSENT;
    if (!m->multi && !orders_without_code(key)) {
        /* A bool or a numpy number: as the int or float it equals, made
         * before anything is locked, so that the quick read takes it. */
        PyObject *number = number_object(key);
        if (number) {
            find_result found = lookup(m, number, value);
            Py_DECREF(number);
            return found;
        }
    }
    if (is_nan(key))
        return ABSENT;
    read_hold h;
    void *v = NULL, *w;
    if (begin_read(m, key, &w, &h) < 0)
        return FAILED;
    bpt_status rc = bpt_get(m->tree, w, NULL, &v);
    if (rc == BPT_OK)
        *value = Py_NewRef((PyObject *)v);
    end_read(m, &h);
    if (rc < 0) {
        raise_status(rc);
        return FAILED;
    }
    return rc == BPT_OK ? FOUND : ABSENT;
}

/*
 * explain_slice adds to the TypeError of a slice compared with the keys
 * (m[1:2]) how to take a range of keys or of positions.
 */
static void explain_slice(PyObject *key)
{
    if (PySlice_Check(key))
        restate_error(PyExc_TypeError,
                      "%S: a BPlusTreeMap is indexed by key, and %R is not comparable with its "
                      "keys; for the keys in a range use m.irange(start, stop), for items by "
                      "position m.keys()[i:j], m.items()[i:j] or m.islice(i, j)",
                      key);
}

/*
 * type_lookup finds name in the dicts of type's MRO, as a dict finds its
 * subclass's __missing__ (_PyObject_LookupSpecial): the attribute itself,
 * not what its __get__ makes of it (a staticmethod stays one). 0 with
 * *found a new reference, or NULL when there is none; -1 with an
 * exception. Before 3.13 it asks _PyType_Lookup, as dict does there (a
 * function those frozen versions export, not a layout); from 3.13, whose
 * _PyType_Lookup hands out a reference that a free-threaded build may
 * drop meanwhile, it reads the MRO's dicts through the public API.
 */
static int type_lookup(PyTypeObject *type, PyObject *name, PyObject **found)
{
#if PY_VERSION_HEX >= 0x030D0000
    *found = NULL;
    PyObject *mro = Py_XNewRef(type->tp_mro);
    int rc = 0;
    for (Py_ssize_t i = 0; mro && rc == 0 && i < PyTuple_GET_SIZE(mro); i++) {
        PyObject *dict = PyType_GetDict((PyTypeObject *)PyTuple_GET_ITEM(mro, i));
        rc = dict ? PyDict_GetItemRef(dict, name, found) : -1;
        Py_XDECREF(dict);
    }
    Py_XDECREF(mro);
    return rc < 0 ? -1 : 0;
#else
    *found = Py_XNewRef(_PyType_Lookup(type, name)); /* borrowed: taken at once */
    return 0;
#endif
}

/*
 * missing_hook finds a subclass's __missing__, bound to m, as a dict looks
 * it up (on the type, then through its __get__): 0 with *hook a new
 * reference, or NULL when there is none; -1 with an exception.
 */
static PyObject *missing_name; /* "__missing__", interned by map_init */

/* map_init makes what map.c keeps for the module's life: 0, or -1. */
int map_init(void)
{
    if (!missing_name)
        missing_name = PyUnicode_InternFromString("__missing__");
    return missing_name ? 0 : -1;
}

static int missing_hook(MapObject *m, PyObject **hook)
{
    PyObject *type = (PyObject *)Py_TYPE(m), *found;
    *hook = NULL;
    if (type_lookup(Py_TYPE(m), missing_name, &found) < 0)
        return -1;
    if (!found)
        return 0;
    descrgetfunc get = Py_TYPE(found)->tp_descr_get;
    *hook = get ? get(found, (PyObject *)m, type) : Py_NewRef(found);
    Py_DECREF(found);
    return *hook ? 0 : -1;
}

/*
 * missing answers m[key] for a key m does not hold as a dict does: what a
 * subclass's __missing__(key) returns or raises, else KeyError.
 */
static PyObject *missing(MapObject *m, PyObject *key)
{
    PyObject *hook = NULL;
    if (Py_TYPE(m) != &MapType && missing_hook(m, &hook) < 0)
        return NULL;
    if (!hook) {
        set_key_error(key);
        return NULL;
    }
    PyObject *r = PyObject_CallOneArg(hook, key);
    Py_DECREF(hook);
    return r;
}

static PyObject *Map_subscript(MapObject *m, PyObject *key)
{
    PyObject *v;
    find_result found = lookup(m, key, &v);
    if (found == ABSENT)
        return missing(m, key);
    if (found == FAILED)
        explain_slice(key);
    return v;
}

static int Map_contains(MapObject *m, PyObject *key)
{
    PyObject *v;
    find_result found = lookup(m, key, &v);
    Py_XDECREF(v);
    return (int)found; /* sq_contains: 1, 0, or -1, as find_result is numbered */
}

/*
 * take removes key: FOUND with *value (owned), ABSENT, or FAILED with an
 * exception.
 */
static find_result take(MapObject *m, PyObject *key, PyObject **value)
{
    *value = NULL;
    if (is_nan(key))
        return ABSENT;
    if (acquire(m, FOR_WRITE) < 0)
        return FAILED;
    void *k = NULL, *v = NULL, *w;
    search_kind s = search_for(m, key, &w);
    bpt_status rc = remove_word(m, s, w, &k, &v);
    packing p = m->packing;
    release(m);
    if (rc < 0) {
        raise_status(rc);
        return FAILED;
    }
    if (rc == BPT_NOTFOUND)
        return ABSENT;
    drop_key(p, k);
    *value = v;
    return FOUND;
}

static int Map_ass_subscript(MapObject *m, PyObject *key, PyObject *value)
{
    if (value) {
        int rc = put(m, key, value);
        if (rc < 0)
            explain_slice(key);
        return rc;
    }
    PyObject *old;
    find_result found = take(m, key, &old);
    if (found == ABSENT)
        set_key_error(key);
    else if (found == FAILED)
        explain_slice(key);
    if (found != FOUND)
        return -1;
    Py_DECREF(old);
    return 0;
}

/* ---- Methods -------------------------------------------------------------- */

static PyObject *Map_get(MapObject *m, PyObject *const *args, Py_ssize_t nargs)
{
    if (check_args("get", nargs, 1, 2) < 0)
        return NULL;
    PyObject *v;
    find_result found = lookup(m, args[0], &v);
    if (found == ABSENT)
        return Py_NewRef(nargs > 1 ? args[1] : Py_None);
    return v; /* NULL when FAILED */
}

static PyObject *Map_pop(MapObject *m, PyObject *const *args, Py_ssize_t nargs)
{
    if (check_args("pop", nargs, 1, 2) < 0)
        return NULL;
    PyObject *v;
    find_result found = take(m, args[0], &v);
    if (found != ABSENT)
        return v; /* NULL when FAILED */
    if (nargs > 1)
        return Py_NewRef(args[1]);
    set_key_error(args[0]);
    return NULL;
}

static PyObject *Map_popitem(MapObject *m, PyObject *Py_UNUSED(ignored))
{
    return pop_at(m, 0, PyExc_KeyError, "popitem");
}

static PyObject *Map_poplast(MapObject *m, PyObject *Py_UNUSED(ignored))
{
    return pop_at(m, -1, PyExc_KeyError, "poplast");
}

static PyObject *Map_setdefault(MapObject *m, PyObject *const *args, Py_ssize_t nargs)
{
    if (check_args("setdefault", nargs, 1, 2) < 0)
        return NULL;
    PyObject *dflt = nargs > 1 ? args[1] : Py_None, *result = NULL;
    void *existing = NULL, *w;
    if (acquire(m, FOR_WRITE) < 0)
        return NULL;
    search_kind s;
    if (prepare_insert(m, args[0], &w, &s) == 0) {
        search_kind saved = begin(m, s);
        bpt_status rc = bpt_insert(m->tree, w, dflt, &existing);
        leave(m, saved);
        if (rc >= 0)
            result = Py_NewRef(rc == BPT_EXISTS ? (PyObject *)existing : dflt);
        else
            raise_status(rc);
    }
    release(m);
    return result;
}

PyObject *Map_clear(MapObject *m, PyObject *Py_UNUSED(ignored))
{
    if (acquire(m, FOR_WRITE) < 0)
        return NULL;
    bpt *fresh = new_tree(m, m->capacity, m->packing), *old = NULL;
    if (fresh)
        old = replace_tree(m, fresh, m->packing);
    release(m);
    drop_tree(old); /* the items' __del__ sees an empty map, and may lock it */
    if (!fresh)
        return NULL;
    Py_RETURN_NONE;
}

/* edge returns the smallest or largest (key, value); KeyError if empty. */
static PyObject *edge(MapObject *m, bool last)
{
    void *k, *v, *w;
    PyObject *pair = NULL;
    read_hold h;
    if (begin_read(m, NULL, &w, &h) < 0)
        return NULL;
    if ((last ? bpt_last : bpt_first)(m->tree, &k, &v) == BPT_OK)
        pair = item_tuple(m->packing, k, v);
    else
        PyErr_Format(PyExc_KeyError, "%s(): BPlusTreeMap is empty", last ? "last" : "first");
    end_read(m, &h);
    return pair;
}

static PyObject *Map_first(MapObject *m, PyObject *Py_UNUSED(ignored))
{
    return edge(m, false);
}

static PyObject *Map_last(MapObject *m, PyObject *Py_UNUSED(ignored))
{
    return edge(m, true);
}

typedef bpt_status (*neighbour_fn)(const bpt *, void *, void **, void **);

/* neighbour returns the (key, value) a neighbour query finds, or None. */
static PyObject *neighbour(MapObject *m, PyObject *key, neighbour_fn fn)
{
    void *k, *v, *w;
    read_hold h;
    if (check_bound(key) < 0 || begin_read(m, key, &w, &h) < 0)
        return NULL;
    bpt_status rc = fn(m->tree, w, &k, &v);
    PyObject *r = rc == BPT_OK ? item_tuple(m->packing, k, v) : NULL;
    end_read(m, &h);
    if (rc < 0) {
        raise_status(rc);
        return NULL;
    }
    if (rc == BPT_NOTFOUND)
        Py_RETURN_NONE;
    return r;
}

static PyObject *Map_floor(MapObject *m, PyObject *key) { return neighbour(m, key, bpt_floor); }
static PyObject *Map_ceiling(MapObject *m, PyObject *key) { return neighbour(m, key, bpt_ceiling); }
static PyObject *Map_lower(MapObject *m, PyObject *key) { return neighbour(m, key, bpt_lower); }
static PyObject *Map_higher(MapObject *m, PyObject *key) { return neighbour(m, key, bpt_higher); }
/*
 * delete_range finds the positions of its bounds first (the comparisons,
 * which may fail), then makes the count it returns (which may fail), and
 * only then removes the items, by position: that cannot fail.
 */
static PyObject *Map_delete_range(MapObject *m, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"start_key", "end_key", NULL};
    PyObject *lo = Py_None, *hi = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|OO:delete_range", kwlist, &lo, &hi))
        return NULL;
    if (check_bound(lo) < 0 || check_bound(hi) < 0 || acquire(m, FOR_WRITE) < 0)
        return NULL;
    size_t from = 0, to = bpt_size(m->tree);
    PyObject *count = NULL;
    if ((lo == Py_None || bound_rank(m, lo, false, &from) != FAILED) &&
        (hi == Py_None || bound_rank(m, hi, false, &to) != FAILED) &&
        (count = PyLong_FromSize_t(to > from ? to - from : 0)) != NULL)
        bpt_remove_range_at(m->tree, from, to, NULL);
    release(m);
    return count;
}

PyObject *Map_check(MapObject *m, PyObject *Py_UNUSED(ignored))
{
    if (acquire(m, FOR_READ) < 0)
        return NULL;
    bpt_check_report r;
    bpt_invariant inv = bpt_check(m->tree, &r);
    release(m);
    if (inv == BPT_INV_OK)
        Py_RETURN_NONE;
    if (inv == BPT_INV_COMPARE && PyErr_Occurred())
        return NULL;
    PyObject *exc = PyObject_CallFunction(InvariantError, "s", r.message);
    if (!exc)
        return NULL;
    PyObject *name = PyUnicode_FromString(bpt_invariant_name(inv));
    if (!name || PyObject_SetAttrString(exc, "invariant", name) < 0) {
        Py_XDECREF(name);
        Py_DECREF(exc);
        return NULL;
    }
    Py_DECREF(name);
    PyErr_SetObject(InvariantError, exc);
    Py_DECREF(exc);
    return NULL;
}

/* __sizeof__ counts the map and every block its tree holds (not the items). */
PyObject *Map_sizeof(MapObject *m, PyObject *Py_UNUSED(ignored))
{
    bpt_stats st;
    if (acquire(m, FOR_READ) < 0)
        return NULL;
    bpt_get_stats(m->tree, &st);
    release(m);
    return PyLong_FromSize_t((size_t)Py_TYPE(m)->tp_basicsize + st.bytes);
}

PyObject *Map_capacity(MapObject *m, void *Py_UNUSED(closure))
{
    if (map_lock(m) < 0)
        return NULL;
    unsigned capacity = m->capacity;
    map_unlock(m);
    return PyLong_FromUnsignedLong(capacity);
}

static PyMethodDef Map_methods[] = {
    {"get", (PyCFunction)(void (*)(void))Map_get, METH_FASTCALL,
     "get($self, key, default=None, /)\n--\n\nThe value for key, or default. O(log n)."},
    {"pop", (PyCFunction)(void (*)(void))Map_pop, METH_FASTCALL,
     "pop($self, key, /, *default)\n--\n\nRemove key and return its value; KeyError (or default, when given) if "
     "absent. O(log n)."},
    {"popitem", (PyCFunction)Map_popitem, METH_NOARGS,
     "popitem($self, /)\n--\n\nRemove and return the smallest (key, value); KeyError if empty. "
     "O(log n)."},
    {"poplast", (PyCFunction)Map_poplast, METH_NOARGS,
     "poplast($self, /)\n--\n\nRemove and return the largest (key, value); KeyError if empty. "
     "O(log n)."},
    {"setdefault", (PyCFunction)(void (*)(void))Map_setdefault, METH_FASTCALL,
     "setdefault($self, key, default=None, /)\n--\n\nReturn map[key], first storing default if key is absent. "
     "O(log n)."},
    {"clear", (PyCFunction)Map_clear, METH_NOARGS, "clear($self, /)\n--\n\nRemove every item. O(n)."},
    {"update", (PyCFunction)(void (*)(void))Map_update, METH_VARARGS | METH_KEYWORDS,
     "update($self, other=(), /, **kwargs)\n--\n\nAdd the items of a mapping or of (key, value) pairs, "
     "then kwargs. O(k log n)."},
    {"copy", (PyCFunction)Map_copy, METH_NOARGS,
     "copy($self, /)\n--\n\nA shallow copy with the same capacity, built structurally in O(n)."},
    {"first", (PyCFunction)Map_first, METH_NOARGS,
     "first($self, /)\n--\n\nThe smallest (key, value); KeyError if empty. O(1)."},
    {"last", (PyCFunction)Map_last, METH_NOARGS,
     "last($self, /)\n--\n\nThe largest (key, value); KeyError if empty. O(1)."},
    {"floor", (PyCFunction)Map_floor, METH_O,
     "floor($self, key, /)\n--\n\nThe (key, value) with the greatest key <= key, or None. O(log n)."},
    {"ceiling", (PyCFunction)Map_ceiling, METH_O,
     "ceiling($self, key, /)\n--\n\nThe (key, value) with the least key >= key, or None. O(log n)."},
    {"lower", (PyCFunction)Map_lower, METH_O,
     "lower($self, key, /)\n--\n\nThe (key, value) with the greatest key < key, or None. O(log n)."},
    {"higher", (PyCFunction)Map_higher, METH_O,
     "higher($self, key, /)\n--\n\nThe (key, value) with the least key > key, or None. O(log n)."},
    {"delete_range", (PyCFunction)(void (*)(void))Map_delete_range,
     METH_VARARGS | METH_KEYWORDS,
     "delete_range($self, start_key=None, end_key=None)\n--\n\nRemove the keys in [start_key, "
     "end_key) and return how many. O(log n + m)."},
    {"check", (PyCFunction)Map_check, METH_NOARGS,
     "check($self, /)\n--\n\nRun the C invariant checker; raise InvariantError naming the first "
     "violated invariant. O(n)."},
    {"from_sorted_items", (PyCFunction)(void (*)(void))Map_from_sorted_items,
     METH_VARARGS | METH_KEYWORDS | METH_CLASS,
     "from_sorted_items($type, items, capacity=None)\n--\n\nA map bulk-loaded in O(n) from (key, value) "
     "pairs in strictly increasing key order; ValueError (and nothing built) otherwise."},
    {"__reversed__", (PyCFunction)Map_reversed, METH_NOARGS,
     "__reversed__($self, /)\n--\n\nAn iterator over the keys, largest first."},
    {"_iter", (PyCFunction)(void (*)(void))Map__iter, METH_FASTCALL | METH_KEYWORDS, NULL},
    {"_islice", (PyCFunction)(void (*)(void))Map__islice, METH_FASTCALL, NULL},
    {"_pop_at", (PyCFunction)Map__pop_at, METH_O, NULL},
    {"_load_sorted", (PyCFunction)(void (*)(void))Map__load_sorted, METH_FASTCALL, NULL},
    {"_load_numbers", (PyCFunction)(void (*)(void))Map__load_numbers, METH_FASTCALL, NULL},
    {"_pop_many", (PyCFunction)(void (*)(void))Map__pop_many, METH_FASTCALL, NULL},
    {"_delete_at", (PyCFunction)Map__delete_at, METH_O, NULL},
    {"peekitem", (PyCFunction)(void (*)(void))Map_peekitem, METH_FASTCALL,
     "peekitem($self, index=-1, /)\n--\n\nThe (key, value) at position index (negative: from the end); "
     "IndexError if out of range. O(log n)."},
    {"index", (PyCFunction)(void (*)(void))Map_index, METH_VARARGS | METH_KEYWORDS,
     "index($self, key, start=None, stop=None)\n--\n\nThe position of key; ValueError if it is absent "
     "or outside positions [start, stop). O(log n)."},
    {"bisect_left", (PyCFunction)Map_bisect_left, METH_O,
     "bisect_left($self, key, /)\n--\n\nThe number of keys < key: where key is or would go. O(log n)."},
    {"bisect_right", (PyCFunction)Map_bisect_right, METH_O,
     "bisect_right($self, key, /)\n--\n\nThe number of keys <= key: the position after key. O(log n)."},
    {"__sizeof__", (PyCFunction)Map_sizeof, METH_NOARGS,
     "__sizeof__($self, /)\n--\n\nBytes of the map and its nodes, not counting keys and values. "
     "O(n / capacity)."},
    {NULL, NULL, 0, NULL},
};

/* _key_storage tells the tests how the keys are stored (see packing). */
PyObject *Map_key_storage(MapObject *m, void *Py_UNUSED(closure))
{
    static const char *names[] = {"object", "str", "int", "float"};
    if (map_lock(m) < 0)
        return NULL;
    packing p = m->packing;
    map_unlock(m);
    return PyUnicode_FromString(names[p]);
}

static PyGetSetDef Map_getset[] = {
    {"capacity", (getter)Map_capacity, NULL, "the node capacity (keys per node)", NULL},
    {"_key_storage", (getter)Map_key_storage, NULL,
     "how the keys are stored: 'int' or 'float' (packed numbers), 'str' (with "
     "hints) or 'object'", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMappingMethods Map_as_mapping = {
    .mp_length = (lenfunc)Map_length,
    .mp_subscript = (binaryfunc)Map_subscript,
    .mp_ass_subscript = (objobjargproc)Map_ass_subscript,
};

/*
 * adopt_methods gives cls, a Python class over BPlusTreeMapBase, descriptors
 * of its own for the instance methods of the base that it inherits as they
 * are: the interpreter calls a C method by its fast path only on an
 * instance of the very class the method's descriptor names (else it takes
 * the generic call path, about 5 ns more per call). Returns None.
 */
PyObject *adopt_methods(PyObject *Py_UNUSED(module), PyObject *cls)
{
    if (!PyType_Check(cls) || !PyType_IsSubtype((PyTypeObject *)cls, &MapType)) {
        PyErr_SetString(PyExc_TypeError, "_adopt_methods() expects a subclass of BPlusTreeMapBase");
        return NULL;
    }
    for (PyMethodDef *d = Map_methods; d->ml_name; d++) {
        if (d->ml_flags & (METH_CLASS | METH_STATIC))
            continue;
        /* only where the name still finds this C method: nothing between
         * cls and the base overrides it */
        PyObject *found = PyObject_GetAttrString(cls, d->ml_name);
        if (!found)
            return NULL;
        int inherited = Py_IS_TYPE(found, &PyMethodDescr_Type)
                        && ((PyMethodDescrObject *)found)->d_method == d;
        Py_DECREF(found);
        if (!inherited)
            continue;
        PyObject *descr = PyDescr_NewMethod((PyTypeObject *)cls, d);
        if (!descr || PyObject_SetAttrString(cls, d->ml_name, descr) < 0) {
            Py_XDECREF(descr);
            return NULL;
        }
        Py_DECREF(descr);
    }
    Py_RETURN_NONE;
}

static PySequenceMethods Map_as_sequence = {
    .sq_contains = (objobjproc)Map_contains,
};

PyTypeObject MapType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "bplustree3._bplustree3.BPlusTreeMapBase",
    .tp_doc = "BPlusTreeMapBase(items=(), /, *, capacity=None)\n--\n\n"
              "The C core of bplustree3.BPlusTreeMap; use that class.",
    .tp_basicsize = sizeof(MapObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_new = Map_new,
    .tp_init = (initproc)Map_init,
    .tp_dealloc = (destructor)Map_dealloc,
    .tp_free = PyObject_GC_Del,
    .tp_traverse = (traverseproc)Map_traverse,
    .tp_clear = (inquiry)Map_clear_gc,
    .tp_iter = (getiterfunc)Map_iter,
    .tp_as_mapping = &Map_as_mapping,
    .tp_as_sequence = &Map_as_sequence,
    .tp_methods = Map_methods,
    .tp_getset = Map_getset,
    .tp_weaklistoffset = offsetof(MapObject, weakreflist),
};
