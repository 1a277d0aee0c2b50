/*
 * bulk.c — many items at once: reading another mapping's or an iterable's
 * pairs (update and the constructor), copy, one snapshot of the items, and
 * from_sorted_items' bulk load.
 */
#include "ext.h"

static PyObject *items_list(MapObject *m);
static MapObject *new_empty_like(PyTypeObject *type, unsigned capacity, packing p);

/*
 * pair_tuple returns item as a new (key, value) tuple, or NULL with
 * TypeError or ValueError naming it as what #index. A tuple copy, not
 * PySequence_Fast: another thread may change a list while we read it.
 */
static PyObject *pair_tuple(PyObject *item, const char *what, Py_ssize_t index)
{
    if (PyTuple_CheckExact(item) && PyTuple_GET_SIZE(item) == 2)
        return Py_NewRef(item);
    PyObject *t = PySequence_Tuple(item);
    if (!t) {
        if (PyErr_ExceptionMatches(PyExc_TypeError))
            PyErr_Format(PyExc_TypeError, "cannot convert %s #%zd to a (key, value) pair", what,
                         index);
        return NULL;
    }
    if (PyTuple_GET_SIZE(t) != 2) {
        PyErr_Format(PyExc_ValueError, "%s #%zd has length %zd; 2 is required", what, index,
                     PyTuple_GET_SIZE(t));
        Py_CLEAR(t);
    }
    return t;
}

/*
 * collect_pairs appends to pairs the items of other as (key, value) tuples:
 * a mapping's (a BPlusTreeMap's or a dict's as one snapshot) or an
 * iterable's. It runs other's code before any lock is taken. 0, or -1 with
 * the items read before the failure appended.
 */
static int collect_pairs(PyObject *other, PyObject *pairs)
{
    if (PyObject_TypeCheck(other, &MapType) || PyDict_CheckExact(other)) {
        PyObject *items = PyObject_TypeCheck(other, &MapType) ? items_list((MapObject *)other)
                                                              : PyDict_Items(other);
        if (!items)
            return -1;
        int rc = PyList_SetSlice(pairs, PY_SSIZE_T_MAX, PY_SSIZE_T_MAX, items);
        Py_DECREF(items);
        return rc;
    }
    PyObject *it = NULL, *item, *keys_method = PyObject_GetAttrString(other, "keys");
    if (!keys_method) {
        if (!PyErr_ExceptionMatches(PyExc_AttributeError))
            return -1;
        PyErr_Clear();
    }
    if (keys_method) {
        PyObject *keys = PyObject_CallNoArgs(keys_method);
        Py_DECREF(keys_method);
        it = keys ? PyObject_GetIter(keys) : NULL;
        Py_XDECREF(keys);
        if (!it)
            return -1;
        while ((item = PyIter_Next(it)) != NULL) {
            PyObject *value = PyObject_GetItem(other, item);
            PyObject *pair = value ? PyTuple_Pack(2, item, value) : NULL;
            Py_XDECREF(value);
            Py_DECREF(item);
            int rc = pair ? PyList_Append(pairs, pair) : -1;
            Py_XDECREF(pair);
            if (rc < 0)
                break;
        }
    } else {
        if (!(it = PyObject_GetIter(other)))
            return -1;
        for (Py_ssize_t index = 0; (item = PyIter_Next(it)) != NULL; index++) {
            PyObject *pair = pair_tuple(item, "BPlusTreeMap update sequence element", index);
            Py_DECREF(item);
            int rc = pair ? PyList_Append(pairs, pair) : -1;
            Py_XDECREF(pair);
            if (rc < 0)
                break;
        }
    }
    Py_DECREF(it);
    return PyErr_Occurred() ? -1 : 0;
}

/* An exception put aside while other code runs. */
typedef struct {
#if PY_VERSION_HEX >= 0x030C0000
    PyObject *exc;
#else
    PyObject *type, *value, *traceback;
#endif
} saved_error;
static void save_error(saved_error *e)
{
#if PY_VERSION_HEX >= 0x030C0000
    e->exc = PyErr_GetRaisedException();
#else
    PyErr_Fetch(&e->type, &e->value, &e->traceback);
#endif
}

/* restore_error raises e again, or (raise false) drops it. */
static void restore_error(saved_error *e, bool raise)
{
#if PY_VERSION_HEX >= 0x030C0000
    if (raise)
        PyErr_SetRaisedException(e->exc);
    else
        Py_XDECREF(e->exc);
#else
    if (raise) {
        PyErr_Restore(e->type, e->value, e->traceback);
    } else {
        Py_XDECREF(e->type);
        Py_XDECREF(e->value);
        Py_XDECREF(e->traceback);
    }
#endif
}

/* set_capacity gives m, locked, a new capacity; only an empty map's changes. */
static int set_capacity(MapObject *m, unsigned capacity)
{
    if (capacity == m->capacity)
        return 0;
    if (bpt_size(m->tree) > 0) {
        PyErr_SetString(PyExc_ValueError, "the capacity of a non-empty BPlusTreeMap cannot change");
        return -1;
    }
    bpt *t = new_tree(m, capacity, m->packing);
    if (!t)
        return -1;
    drop_tree(replace_tree(m, t, m->packing)); /* an empty one */
    m->capacity = capacity;
    return 0;
}

/*
 * update_with stores the items of other, then of kwds (either may be NULL),
 * in one hold of m's lock, after giving m capacity (0: unchanged). The
 * items are read first; those read before a failure to read are stored,
 * then the failure is raised, as dict.update does. A NaN key among them
 * stores none; the items stored before any other failure to store stay.
 * 0 or -1.
 */
int update_with(MapObject *m, PyObject *other, PyObject *kwds, long capacity)
{
    PyObject *pairs = PyList_New(0);
    if (!pairs)
        return -1;
    int read = other ? collect_pairs(other, pairs) : 0;
    if (read == 0 && kwds)
        read = collect_pairs(kwds, pairs);
    for (Py_ssize_t i = 0; read == 0 && i < PyList_GET_SIZE(pairs); i++)
        if (check_bound(PyTuple_GET_ITEM(PyList_GET_ITEM(pairs, i), 0)) < 0) {
            Py_DECREF(pairs); /* a NaN among them: none is stored */
            return -1;
        }
    saved_error failure = {0};
    if (read < 0)
        save_error(&failure);
    int rc = acquire(m, FOR_WRITE);
    if (rc == 0) {
        rc = capacity ? set_capacity(m, (unsigned)capacity) : 0;
        for (Py_ssize_t i = 0; rc == 0 && i < PyList_GET_SIZE(pairs); i++) {
            PyObject *pair = PyList_GET_ITEM(pairs, i); /* our list: no one changes it */
            rc = put(m, PyTuple_GET_ITEM(pair, 0), PyTuple_GET_ITEM(pair, 1));
        }
        map_unlock(m);
    }
    Py_DECREF(pairs);
    if (read < 0)
        restore_error(&failure, rc == 0);
    return read < 0 ? -1 : rc;
}

PyObject *Map_update(MapObject *m, PyObject *args, PyObject *kwds)
{
    PyObject *other = NULL;
    if (!PyArg_UnpackTuple(args, "update", 0, 1, &other))
        return NULL;
    if (update_with(m, other, kwds, 0) < 0)
        return NULL;
    Py_RETURN_NONE;
}

/* new_empty_like makes an empty map of type, capacity and packing. */
static MapObject *new_empty_like(PyTypeObject *type, unsigned capacity, packing p)
{
    PyObject *empty = PyTuple_New(0);
    if (!empty)
        return NULL;
    MapObject *c = (MapObject *)type->tp_new(type, empty, NULL);
    Py_DECREF(empty);
    if (!c)
        return NULL;
    if (capacity != c->capacity || p != c->packing) {
        bpt *t = new_tree(c, capacity, p);
        if (!t) {
            Py_DECREF(c);
            return NULL;
        }
        drop_tree(replace_tree(c, t, p));
        c->capacity = capacity;
    }
    TSAN_RELEASE(c);
    return c;
}

/*
 * Map_copy makes the new map first (its type's tp_new may run code), then
 * copies m's tree, capacity and packing in one hold of m's lock.
 */
PyObject *Map_copy(MapObject *m, PyObject *Py_UNUSED(ignored))
{
    MapObject *c = new_empty_like(Py_TYPE(m), DEFAULT_CAPACITY, PACK_NONE);
    if (!c)
        return NULL;
    if (acquire(m, FOR_READ) < 0) {
        Py_DECREF(c);
        return NULL;
    }
    bpt *copy;
    bpt_status rc = bpt_copy(m->tree, &copy);
    if (rc == BPT_OK) {
        bpt_set_context(copy, c); /* its callbacks must point at the new map */
        drop_tree(replace_tree(c, copy, m->packing));
        c->capacity = m->capacity;
        c->kinds = m->kinds;
    }
    TSAN_RELEASE(c);
    map_unlock(m);
    if (rc != BPT_OK) {
        Py_DECREF(c);
        raise_status(rc);
        return NULL;
    }
    return (PyObject *)c;
}

/* items_list returns a new list of m's (key, value) tuples: one snapshot. */
static PyObject *items_list(MapObject *m)
{
    PyObject *list = NULL;
    bpt_cursor *c = NULL;
    if (acquire(m, FOR_READ) < 0)
        return NULL;
    size_t n = bpt_size(m->tree);
    if (!(list = PyList_New((Py_ssize_t)n)))
        goto done;
    if (bpt_cursor_new(m->tree, &c) != BPT_OK) {
        PyErr_NoMemory();
        Py_CLEAR(list);
        goto done;
    }
    bpt_cursor_first(c);
    for (size_t i = 0; i < n; i++) {
        void *k, *v;
        /* a __del__ run by a collection in item_tuple may change m */
        bpt_status rc = bpt_cursor_get(c, &k, &v);
        PyObject *pair = rc == BPT_OK ? item_tuple(m->packing, k, v) : NULL;
        if (!pair) {
            if (rc != BPT_OK)
                PyErr_SetString(PyExc_RuntimeError, "BPlusTreeMap changed size during iteration");
            Py_CLEAR(list);
            goto done;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, pair);
        bpt_cursor_next(c);
    }
done:
    bpt_cursor_free(c);
    map_unlock(m);
    return list;
}

/*
 * from_sorted_items reads the pairs once, in order, classifying each key as
 * it goes (its packed number while every key so far packs), then bulk
 * loads; the key objects of later pairs are prefetched, since the keys of
 * a sorted list usually lie all over memory.
 *
 * The borrowed pointers it collects must outlive any Python code that
 * could drop them before the bulk load takes its references. The map is
 * made first (making an object may collect garbage, and so run any code).
 * An exact list of exact 2-tuples whose keys need no Python comparison
 * (numbers to pack, strs) is then read in place, since nothing can run
 * until the bulk load is done; anything else is first copied into a list
 * of our own, where pairs that are not tuples become tuples.
 */
PyObject *Map_from_sorted_items(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"items", "capacity", NULL};
    PyObject *items, *cap_obj = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|O:from_sorted_items", kwlist, &items,
                                     &cap_obj))
        return NULL;
    long cap = parse_capacity(cap_obj);
    if (cap < 0)
        return NULL;
    MapObject *m = new_empty_like(type, (unsigned)cap, PACK_NONE);
    if (!m)
        return NULL;
#ifdef Py_GIL_DISABLED
    bool in_place = false; /* another thread may change the list at any time */
#else
    bool in_place = PyList_CheckExact(items);
#endif
    PyObject *seq = in_place ? Py_NewRef(items) : PySequence_List(items);
    void **keys = NULL, **vals = NULL;
    key_kind kinds = KEYS_NONE;
    if (!seq)
        goto fail;
read:;
    Py_ssize_t n = PyList_GET_SIZE(seq);
    keys = PyMem_Malloc((size_t)(n ? n : 1) * sizeof *keys);
    vals = PyMem_Malloc((size_t)(n ? n : 1) * sizeof *vals);
    if (!keys || !vals) {
        PyErr_NoMemory();
        goto fail;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        /* Two stages: the pair 32 ahead, then the key of the pair 16 ahead,
         * whose tuple has arrived by then. (The arrays are read directly:
         * the checked macros' asserts would add branches that never fail.) */
        PyObject **slots = ((PyListObject *)seq)->ob_item;
        if (i + 32 < n)
            PREFETCH(slots[i + 32]);
        if (i + 16 < n) {
            PyObject *ahead = slots[i + 16];
            if (PyTuple_CheckExact(ahead) && Py_SIZE(ahead) == 2)
                PREFETCH(((PyTupleObject *)ahead)->ob_item[0]);
        }
        PyObject *pair = PyList_GET_ITEM(seq, i);
        bool is_pair = PyTuple_CheckExact(pair) && PyTuple_GET_SIZE(pair) == 2;
        if (in_place && !is_pair)
            goto copy;
        if (!is_pair) {
            /* Another sequence: an immutable pair of its items takes its place. */
            PyObject *tuple = pair_tuple(pair, "from_sorted_items() item", i);
            if (!tuple)
                goto fail;
            PyList_SetItem(seq, i, tuple);
            pair = tuple;
        }
        void *packed = NULL;
        if (in_place && i == 0 && !orders_without_code(PyTuple_GET_ITEM(pair, 0)))
            goto copy; /* check_new_key would run code */
        if (check_new_key(PyTuple_GET_ITEM(pair, 0), i == 0) < 0)
            goto fail;
        key_kind k = classify(PyTuple_GET_ITEM(pair, 0), &packed);
        if (i > 0 && k != kinds && !holds_objects(packing_for(kinds)))
            for (Py_ssize_t j = 0; j < i; j++) /* unpack what was packed so far */
                keys[j] = PyTuple_GET_ITEM(PyList_GET_ITEM(seq, j), 0);
        kinds = i == 0 || k == kinds ? k : KEYS_ANY;
        if (in_place && kinds == KEYS_ANY)
            goto copy; /* its comparisons may run code */
        keys[i] = holds_objects(packing_for(kinds)) ? PyTuple_GET_ITEM(pair, 0) : packed;
        vals[i] = PyTuple_GET_ITEM(pair, 1);
    }
    if (packing_for(kinds) != m->packing) {
        bpt *t = new_tree(m, m->capacity, packing_for(kinds));
        if (!t)
            goto fail;
        drop_tree(replace_tree(m, t, packing_for(kinds))); /* an empty one */
    }
    m->busy++;
    bpt_status rc = bpt_bulk_load(m->tree, keys, vals, (size_t)n);
    m->busy--;
    m->kinds = n ? kinds : KEYS_NONE;
    if (rc == BPT_EINVAL) {
        PyErr_SetString(PyExc_ValueError,
                        "from_sorted_items() needs keys in strictly increasing order");
        goto fail;
    }
    if (rc < 0) {
        raise_status(rc);
        goto fail;
    }
    PyMem_Free(keys);
    PyMem_Free(vals);
    Py_DECREF(seq);
    TSAN_RELEASE(m);
    return (PyObject *)m;
copy:
    PyMem_Free(keys);
    PyMem_Free(vals);
    keys = vals = NULL;
    Py_SETREF(seq, PySequence_List(items));
    in_place = false;
    kinds = KEYS_NONE;
    if (seq)
        goto read;
fail:
    PyMem_Free(keys);
    PyMem_Free(vals);
    Py_XDECREF(seq);
    Py_DECREF(m);
    return NULL;
}
