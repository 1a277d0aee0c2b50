/*
 * _bplustree3.c — the C extension under bplustree3.BPlusTreeMap: the core
 * tree keyed by Python objects compared with "<".
 *
 * References: the tree holds one reference to each key and value it stores
 * (retain = Py_INCREF); removals hand theirs back to us, and we drop them
 * only after the core call returned and the tree is consistent.
 *
 * Re-entrancy: a comparison runs arbitrary Python code in the middle of a
 * core call. The core does every comparison before its first structural
 * change, so reads during a comparison are safe, but a mutation would pull
 * the tree from under the descent: while a core call is in progress
 * ("busy"), mutations raise RuntimeError. The only Python code that can run
 * during a structural change is a Py_DECREF by the core's release callback
 * (range removal, clear): while it runs ("releasing"), every access raises
 * RuntimeError.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdbool.h>
#include <string.h>

#include "bplustree3.h"
#include "bpt_check.h"

#define DEFAULT_CAPACITY 64

#if PY_VERSION_HEX < 0x030A0000
static inline PyObject *Py_NewRef(PyObject *o)
{
    Py_INCREF(o);
    return o;
}

static int PyModule_AddObjectRef(PyObject *mod, const char *name, PyObject *value)
{
    Py_INCREF(value);
    if (PyModule_AddObject(mod, name, value) < 0) {
        Py_DECREF(value);
        return -1;
    }
    return 0;
}
#endif

static PyObject *InvariantError;

/*
 * The keys a map holds, for type-specialised searches (as CPython's list.sort
 * picks unsafe_long_compare and friends): exact ints that fit in 64 bits,
 * exact floats, exact strs, or anything (compared with <).
 */
typedef enum { KEYS_NONE, KEYS_INT, KEYS_FLOAT, KEYS_STR, KEYS_ANY } key_kind;

typedef struct {
    PyObject_HEAD
    key_kind kinds;      /* of every key stored; KEYS_NONE when empty */
    key_kind call_kind;  /* the search the current core call uses */
    bpt *tree;           /* never NULL once tp_new succeeded */
    unsigned capacity;
    int busy;            /* core calls in progress that may run Python code */
    int releasing;       /* > 0 while the core drops a reference */
    uint64_t generation; /* bumped whenever tree is replaced */
    PyObject *weakreflist;
} MapObject;

/* ---- Callbacks ------------------------------------------------------------ */

static int py_compare(void *a, void *b, void *ctx)
{
    (void)ctx;
    int lt = PyObject_RichCompareBool(a, b, Py_LT);
    if (lt < 0)
        return BPT_CMP_ERROR;
    if (lt)
        return -1;
    int gt = PyObject_RichCompareBool(b, a, Py_LT);
    if (gt < 0)
        return BPT_CMP_ERROR;
    return gt;
}

/* kind_of classifies one key. */
static key_kind kind_of(PyObject *key)
{
    if (PyLong_CheckExact(key)) {
        int overflow;
        (void)PyLong_AsLongLongAndOverflow(key, &overflow);
        return overflow ? KEYS_ANY : KEYS_INT;
    }
    if (PyFloat_CheckExact(key))
        return KEYS_FLOAT;
    if (PyUnicode_CheckExact(key))
        return KEYS_STR;
    return KEYS_ANY;
}

/*
 * str_less orders two exact strs as str.__lt__ does (by code point): memcmp
 * when both are one byte per character, PyUnicode_Compare otherwise (which
 * cannot fail for two exact strs).
 */
static inline int str_less(PyObject *a, PyObject *b)
{
    if (PyUnicode_KIND(a) == PyUnicode_1BYTE_KIND && PyUnicode_KIND(b) == PyUnicode_1BYTE_KIND) {
        Py_ssize_t la = PyUnicode_GET_LENGTH(a), lb = PyUnicode_GET_LENGTH(b);
        int c = memcmp(PyUnicode_1BYTE_DATA(a), PyUnicode_1BYTE_DATA(b),
                       (size_t)(la < lb ? la : lb));
        return c < 0 || (c == 0 && la < lb);
    }
    return PyUnicode_Compare(a, b) < 0;
}

/*
 * DEFINE_TYPED_SEARCH defines a lower-bound search over keys all of one
 * exact type, with the search key's value read once (prep) and each node
 * key's read without a call (value), compared with less; no comparison
 * can fail or run Python code.
 */
#define DEFINE_TYPED_SEARCH(name, T, prep, value, less)                        \
    static int name(void *const *keys, int n, PyObject *key, int *exact)       \
    {                                                                          \
        T k = prep(key);                                                       \
        int lo = 0, hi = n;                                                    \
        while (lo < hi) {                                                      \
            int mid = lo + (hi - lo) / 2;                                      \
            if (less(value((PyObject *)keys[mid]), k))                         \
                lo = mid + 1;                                                  \
            else                                                               \
                hi = mid;                                                      \
        }                                                                      \
        *exact = lo < n && !less(k, value((PyObject *)keys[lo]));              \
        return lo;                                                             \
    }

static inline long long int_value(PyObject *o)
{
    /* An exact int known to fit. PyLong_AsLongLong goes through a byte
     * array for ints of more than one digit; this walks the digits. */
    int overflow;
    return PyLong_AsLongLongAndOverflow(o, &overflow);
}

static inline PyObject *same(PyObject *o)
{
    return o;
}

#define LESS(a, b) ((a) < (b))

DEFINE_TYPED_SEARCH(search_int, long long, int_value, int_value, LESS)
DEFINE_TYPED_SEARCH(search_float, double, PyFloat_AS_DOUBLE, PyFloat_AS_DOUBLE, LESS)
DEFINE_TYPED_SEARCH(search_str, PyObject *, same, same, str_less)

/*
 * py_search is the node search. With keys of one exact type and a search
 * key of that type it uses the typed search; otherwise a binary search that
 * asks only "keys[mid] < key", then one "key < keys[i]" to tell equality, as
 * bisect and sortedcontainers do.
 */
static int py_search(void *const *keys, int n, void *key, void *ctx, int *exact)
{
    switch (ctx ? ((MapObject *)ctx)->call_kind : KEYS_ANY) {
    case KEYS_INT:
        return search_int(keys, n, key, exact);
    case KEYS_FLOAT:
        return search_float(keys, n, key, exact);
    case KEYS_STR:
        return search_str(keys, n, key, exact);
    default:
        break;
    }
    int lo = 0, hi = n;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        int r = PyObject_RichCompareBool(keys[mid], key, Py_LT);
        if (r < 0)
            return -1;
        if (r)
            lo = mid + 1;
        else
            hi = mid;
    }
    *exact = 0;
    if (lo < n) {
        int r = PyObject_RichCompareBool(key, keys[lo], Py_LT);
        if (r < 0)
            return -1;
        *exact = !r;
    }
    return lo;
}

static void py_retain(void *w, void *ctx)
{
    (void)ctx;
    Py_XINCREF((PyObject *)w);
}

static void py_release(void *w, void *ctx)
{
    MapObject *m = ctx; /* NULL for a tree no map uses any more */
    if (m)
        m->releasing++;
    Py_XDECREF((PyObject *)w);
    if (m)
        m->releasing--;
}

/* Blocks the core holds (trees, nodes, cursors), for the leak tests. */
static Py_ssize_t live_blocks;

/* Fault injection for the tests: the fail_in-th allocation from now fails. */
static Py_ssize_t fail_in;

static void *py_alloc(size_t size, void *ctx)
{
    (void)ctx;
    if (fail_in > 0 && --fail_in == 0)
        return NULL;
    void *p = PyMem_Malloc(size);
    live_blocks += p != NULL;
    return p;
}

static void py_free(void *p, size_t size, void *ctx)
{
    (void)size;
    (void)ctx;
    live_blocks--;
    PyMem_Free(p);
}

/* new_tree makes an empty core tree for m; NULL with MemoryError. */
static bpt *new_tree(MapObject *m, unsigned capacity)
{
    bpt_config cfg = {
        .compare = py_compare,
        .search = py_search,
        .ctx = m,
        .retain_key = py_retain,
        .release_key = py_release,
        .retain_value = py_retain,
        .release_value = py_release,
        .leaf_capacity = capacity,
        .branch_capacity = capacity,
        .allocator = {.alloc = py_alloc, .free = py_free},
    };
    bpt *t;
    if (bpt_new(&cfg, &t) != BPT_OK) {
        PyErr_NoMemory();
        return NULL;
    }
    return t;
}

/* ---- Guards and errors ---------------------------------------------------- */

static int guard_read(MapObject *m)
{
    if (m->releasing) {
        PyErr_SetString(PyExc_RuntimeError,
                        "BPlusTreeMap used while it was releasing a removed item");
        return -1;
    }
    return 0;
}

static int guard_write(MapObject *m)
{
    if (guard_read(m) < 0)
        return -1;
    if (m->busy) {
        PyErr_SetString(PyExc_RuntimeError,
                        "BPlusTreeMap mutated during a comparison of its own keys");
        return -1;
    }
    return 0;
}

/*
 * enter starts a core call that may search for keys a and b (either may be
 * NULL): it marks the map busy and picks the typed search when the map's
 * keys and the call's keys are all of one type. It returns the search kind
 * to restore in leave: a comparison in an outer call may have run Python
 * code that made this (nested, read-only) call.
 */
static key_kind enter(MapObject *m, PyObject *a, PyObject *b)
{
    key_kind saved = m->call_kind, k = m->kinds;
    if (k == KEYS_NONE || (a && kind_of(a) != k) || (b && kind_of(b) != k))
        k = KEYS_ANY;
    m->call_kind = k;
    m->busy++;
    return saved;
}

static void leave(MapObject *m, key_kind saved)
{
    m->busy--;
    m->call_kind = saved;
}

/* note_insert records the kind of a key just added. */
static void note_insert(MapObject *m, PyObject *key)
{
    key_kind k = kind_of(key);
    if (bpt_size(m->tree) == 1)
        m->kinds = k;
    else if (m->kinds != k)
        m->kinds = KEYS_ANY;
}

/* note_removal forgets the kinds once the map is empty. */
static void note_removal(MapObject *m)
{
    if (bpt_size(m->tree) == 0)
        m->kinds = KEYS_NONE;
}

/* raise_status turns a core error into a Python exception; returns -1. */
static int raise_status(bpt_status rc)
{
    switch (rc) {
    case BPT_ENOMEM:
        PyErr_NoMemory();
        break;
    case BPT_ECMP:
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_RuntimeError, "comparison failed");
        break;
    case BPT_ESTALE:
        PyErr_SetString(PyExc_RuntimeError, "BPlusTreeMap changed size during iteration");
        break;
    default:
        PyErr_Format(PyExc_ValueError, "bplustree3: %s", bpt_status_str(rc));
        break;
    }
    return -1;
}

static void set_key_error(PyObject *key)
{
    PyObject *args = PyTuple_Pack(1, key);
    if (args) {
        PyErr_SetObject(PyExc_KeyError, args);
        Py_DECREF(args);
    }
}

/* parse_capacity validates a capacity argument; -1 with an exception. */
static long parse_capacity(PyObject *obj)
{
    if (obj == NULL || obj == Py_None)
        return DEFAULT_CAPACITY;
    if (!PyLong_Check(obj) || PyBool_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "capacity must be an int, not %.100s",
                     Py_TYPE(obj)->tp_name);
        return -1;
    }
    int overflow;
    long cap = PyLong_AsLongAndOverflow(obj, &overflow);
    if (cap == -1 && PyErr_Occurred())
        return -1;
    if (overflow || cap < BPT_MIN_CAPACITY || cap > BPT_MAX_CAPACITY) {
        PyErr_Format(PyExc_ValueError, "capacity must be between %d and %d, got %R",
                     BPT_MIN_CAPACITY, BPT_MAX_CAPACITY, obj);
        return -1;
    }
    return cap;
}

/* ---- Life cycle ----------------------------------------------------------- */

static PyTypeObject MapType;
static PyTypeObject IterType;

static PyObject *Map_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    (void)args;
    (void)kwds;
    MapObject *m = (MapObject *)type->tp_alloc(type, 0);
    if (!m)
        return NULL;
    m->capacity = DEFAULT_CAPACITY;
    m->tree = new_tree(m, m->capacity);
    if (!m->tree) {
        Py_DECREF(m);
        return NULL;
    }
    return (PyObject *)m;
}

static int update_from(MapObject *m, PyObject *other);

static int Map_init(MapObject *m, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"", "capacity", NULL};
    PyObject *items = NULL, *cap_obj = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|O$O:BPlusTreeMap", kwlist, &items, &cap_obj))
        return -1;
    if (guard_write(m) < 0)
        return -1;
    long cap = parse_capacity(cap_obj);
    if (cap < 0)
        return -1;
    if (cap_obj != Py_None && (unsigned)cap != m->capacity) {
        if (bpt_size(m->tree) > 0) {
            PyErr_SetString(PyExc_ValueError,
                            "the capacity of a non-empty BPlusTreeMap cannot change");
            return -1;
        }
        bpt *t = new_tree(m, (unsigned)cap);
        if (!t)
            return -1;
        bpt *old = m->tree; /* empty */
        m->tree = t;
        m->capacity = (unsigned)cap;
        m->generation++;
        bpt_free(old);
    }
    if (items && update_from(m, items) < 0)
        return -1;
    return 0;
}

/* free_tree frees m's tree when m is deallocated. */
static void free_tree(MapObject *m)
{
    bpt *old = m->tree;
    m->tree = NULL;
    if (old) {
        bpt_set_context(old, NULL); /* m is gone: nothing to mark */
        bpt_free(old);
    }
}

typedef struct visitor {
    visitproc visit;
    void *arg;
} visitor;

static int visit_item(void *key, void *value, void *arg)
{
    visitor *v = arg;
    int rc = key ? v->visit((PyObject *)key, v->arg) : 0;
    if (!rc && value)
        rc = v->visit((PyObject *)value, v->arg);
    return rc;
}

static int Map_traverse(MapObject *m, visitproc visit, void *arg)
{
    /*
     * While the core releases a removed item its leaves are mid-change, so
     * they are not walked: objects then look referenced from outside, which
     * only delays collecting a cycle, never frees a live object.
     */
    if (m->releasing)
        return 0;
    visitor v = {visit, arg};
    return bpt_visit(m->tree, visit_item, &v);
}

/* tp_clear empties the tree in place (it cannot fail, unlike a new tree). */
static int Map_clear_gc(MapObject *m)
{
    m->kinds = KEYS_NONE;
    bpt_clear(m->tree);
    return 0;
}

static void Map_dealloc(MapObject *m)
{
    PyObject_GC_UnTrack(m);
    if (m->weakreflist)
        PyObject_ClearWeakRefs((PyObject *)m);
    free_tree(m);
    Py_TYPE(m)->tp_free((PyObject *)m);
}

/* ---- Mapping protocol ----------------------------------------------------- */

static Py_ssize_t Map_length(MapObject *m)
{
    return (Py_ssize_t)bpt_size(m->tree);
}

/* lookup finds key: 1 with *value borrowed, 0 when absent, -1 on error. */
static int lookup(MapObject *m, PyObject *key, PyObject **value)
{
    if (guard_read(m) < 0)
        return -1;
    void *v = NULL;
    key_kind saved = enter(m, key, NULL);
    bpt_status rc = bpt_get(m->tree, key, NULL, &v);
    leave(m, saved);
    if (rc < 0)
        return raise_status(rc);
    *value = v;
    return rc == BPT_OK;
}

static PyObject *Map_subscript(MapObject *m, PyObject *key)
{
    PyObject *v = NULL;
    int found = lookup(m, key, &v);
    if (found < 0)
        return NULL;
    if (!found) {
        set_key_error(key);
        return NULL;
    }
    return Py_NewRef(v);
}

static int Map_contains(MapObject *m, PyObject *key)
{
    PyObject *v = NULL;
    return lookup(m, key, &v);
}

/* put stores key -> value; 0 or -1. */
static int put(MapObject *m, PyObject *key, PyObject *value)
{
    if (guard_write(m) < 0)
        return -1;
    bpt *t = m->tree;
    void *old = NULL;
    key_kind saved = enter(m, key, NULL);
    bpt_status rc = bpt_put(t, key, value, &old);
    leave(m, saved);
    if (rc < 0)
        return raise_status(rc);
    if (rc == BPT_REPLACED)
        Py_DECREF((PyObject *)old);
    else
        note_insert(m, key);
    return 0;
}

/* take removes key: 1 with *value (owned), 0 when absent, -1 on error. */
static int take(MapObject *m, PyObject *key, PyObject **value)
{
    if (guard_write(m) < 0)
        return -1;
    void *k = NULL, *v = NULL;
    key_kind saved = enter(m, key, NULL);
    bpt_status rc = bpt_remove(m->tree, key, &k, &v);
    leave(m, saved);
    if (rc < 0)
        return raise_status(rc);
    if (rc == BPT_NOTFOUND)
        return 0;
    note_removal(m);
    Py_DECREF((PyObject *)k);
    *value = v;
    return 1;
}

static int Map_ass_subscript(MapObject *m, PyObject *key, PyObject *value)
{
    if (value)
        return put(m, key, value);
    PyObject *old;
    int found = take(m, key, &old);
    if (found < 0)
        return -1;
    if (!found) {
        set_key_error(key);
        return -1;
    }
    Py_DECREF(old);
    return 0;
}

/* update_from adds the items of a mapping or an iterable of pairs. */
static int update_from(MapObject *m, PyObject *other)
{
    if (PyDict_CheckExact(other)) {
        /* A snapshot: comparisons may run code that changes the dict. */
        PyObject *items = PyDict_Items(other);
        if (!items)
            return -1;
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(items); i++) {
            PyObject *pair = PyList_GET_ITEM(items, i);
            if (put(m, PyTuple_GET_ITEM(pair, 0), PyTuple_GET_ITEM(pair, 1)) < 0) {
                Py_DECREF(items);
                return -1;
            }
        }
        Py_DECREF(items);
        return 0;
    }
    PyObject *keys_method = PyObject_GetAttrString(other, "keys");
    if (!keys_method) {
        if (!PyErr_ExceptionMatches(PyExc_AttributeError))
            return -1;
        PyErr_Clear();
    }
    if (keys_method) {
        PyObject *keys = PyObject_CallNoArgs(keys_method);
        Py_DECREF(keys_method);
        if (!keys)
            return -1;
        PyObject *it = PyObject_GetIter(keys);
        Py_DECREF(keys);
        if (!it)
            return -1;
        PyObject *key;
        while ((key = PyIter_Next(it)) != NULL) {
            PyObject *value = PyObject_GetItem(other, key);
            int rc = value ? put(m, key, value) : -1;
            Py_XDECREF(value);
            Py_DECREF(key);
            if (rc < 0) {
                Py_DECREF(it);
                return -1;
            }
        }
        Py_DECREF(it);
        return PyErr_Occurred() ? -1 : 0;
    }
    PyObject *it = PyObject_GetIter(other);
    if (!it)
        return -1;
    PyObject *item;
    Py_ssize_t index = 0;
    while ((item = PyIter_Next(it)) != NULL) {
        PyObject *fast = PySequence_Fast(item, "");
        if (!fast) {
            if (PyErr_ExceptionMatches(PyExc_TypeError))
                PyErr_Format(PyExc_TypeError,
                             "cannot convert BPlusTreeMap update sequence element #%zd "
                             "to a sequence",
                             index);
            Py_DECREF(item);
            Py_DECREF(it);
            return -1;
        }
        int rc;
        if (PySequence_Fast_GET_SIZE(fast) != 2) {
            PyErr_Format(PyExc_ValueError,
                         "BPlusTreeMap update sequence element #%zd has length %zd; 2 is "
                         "required",
                         index, PySequence_Fast_GET_SIZE(fast));
            rc = -1;
        } else {
            rc = put(m, PySequence_Fast_GET_ITEM(fast, 0), PySequence_Fast_GET_ITEM(fast, 1));
        }
        Py_DECREF(fast);
        Py_DECREF(item);
        if (rc < 0) {
            Py_DECREF(it);
            return -1;
        }
        index++;
    }
    Py_DECREF(it);
    return PyErr_Occurred() ? -1 : 0;
}

/* ---- Methods -------------------------------------------------------------- */

/* check_args checks a METH_FASTCALL method's positional argument count. */
static int check_args(const char *name, Py_ssize_t nargs, Py_ssize_t min, Py_ssize_t max)
{
    if (nargs >= min && nargs <= max)
        return 1;
    PyErr_Format(PyExc_TypeError, "%s expected %zd to %zd arguments, got %zd", name, min, max,
                 nargs);
    return 0;
}

static PyObject *Map_get(MapObject *m, PyObject *const *args, Py_ssize_t nargs)
{
    if (!check_args("get", nargs, 1, 2))
        return NULL;
    PyObject *v = NULL;
    int found = lookup(m, args[0], &v);
    if (found < 0)
        return NULL;
    if (found)
        return Py_NewRef(v);
    return Py_NewRef(nargs > 1 ? args[1] : Py_None);
}

static PyObject *Map_pop(MapObject *m, PyObject *const *args, Py_ssize_t nargs)
{
    if (!check_args("pop", nargs, 1, 2))
        return NULL;
    PyObject *v = NULL;
    int found = take(m, args[0], &v);
    if (found < 0)
        return NULL;
    if (found)
        return v;
    if (nargs > 1)
        return Py_NewRef(args[1]);
    set_key_error(args[0]);
    return NULL;
}

/* pop_edge removes the smallest or largest item as a (key, value) tuple. */
static PyObject *pop_edge(MapObject *m, bool last)
{
    if (guard_write(m) < 0)
        return NULL;
    void *k, *v;
    bpt_status rc = (last ? bpt_pop_last : bpt_pop_first)(m->tree, &k, &v);
    if (rc == BPT_NOTFOUND) {
        PyErr_SetString(PyExc_KeyError, "popitem(): BPlusTreeMap is empty");
        return NULL;
    }
    note_removal(m);
    PyObject *pair = PyTuple_New(2);
    if (!pair) {
        /* The item is out of the tree already: drop it rather than leak. */
        Py_DECREF((PyObject *)k);
        Py_DECREF((PyObject *)v);
        return NULL;
    }
    PyTuple_SET_ITEM(pair, 0, (PyObject *)k);
    PyTuple_SET_ITEM(pair, 1, (PyObject *)v);
    return pair;
}

static PyObject *Map_popitem(MapObject *m, PyObject *Py_UNUSED(ignored))
{
    return pop_edge(m, false);
}

static PyObject *Map_poplast(MapObject *m, PyObject *Py_UNUSED(ignored))
{
    return pop_edge(m, true);
}

static PyObject *Map_setdefault(MapObject *m, PyObject *const *args, Py_ssize_t nargs)
{
    if (!check_args("setdefault", nargs, 1, 2))
        return NULL;
    PyObject *dflt = nargs > 1 ? args[1] : Py_None;
    if (guard_write(m) < 0)
        return NULL;
    bpt *t = m->tree;
    void *existing = NULL;
    key_kind saved = enter(m, args[0], NULL);
    bpt_status rc = bpt_insert(t, args[0], dflt, &existing);
    leave(m, saved);
    if (rc < 0) {
        raise_status(rc);
        return NULL;
    }
    if (rc == BPT_OK)
        note_insert(m, args[0]);
    return Py_NewRef(rc == BPT_EXISTS ? (PyObject *)existing : dflt);
}

static PyObject *Map_clear(MapObject *m, PyObject *Py_UNUSED(ignored))
{
    if (guard_write(m) < 0)
        return NULL;
    bpt *fresh = new_tree(m, m->capacity);
    if (!fresh)
        return NULL;
    bpt *old = m->tree;
    m->tree = fresh;
    m->kinds = KEYS_NONE;
    m->generation++;
    if (old) {
        bpt_set_context(old, NULL); /* __del__ of its items sees an empty, usable map */
        bpt_free(old);
    }
    Py_RETURN_NONE;
}

static PyObject *Map_update(MapObject *m, PyObject *args, PyObject *kwds)
{
    PyObject *other = NULL;
    if (!PyArg_UnpackTuple(args, "update", 0, 1, &other))
        return NULL;
    if (other && update_from(m, other) < 0)
        return NULL;
    if (kwds && update_from(m, kwds) < 0)
        return NULL;
    Py_RETURN_NONE;
}

/* new_empty_like makes an empty map of m's type and capacity. */
static MapObject *new_empty_like(PyTypeObject *type, unsigned capacity)
{
    PyObject *empty = PyTuple_New(0);
    if (!empty)
        return NULL;
    MapObject *c = (MapObject *)type->tp_new(type, empty, NULL);
    Py_DECREF(empty);
    if (!c)
        return NULL;
    if (capacity != c->capacity) {
        bpt *t = new_tree(c, capacity);
        if (!t) {
            Py_DECREF(c);
            return NULL;
        }
        bpt_free(c->tree);
        c->tree = t;
        c->capacity = capacity;
    }
    return c;
}

static PyObject *Map_copy(MapObject *m, PyObject *Py_UNUSED(ignored))
{
    if (guard_read(m) < 0)
        return NULL;
    MapObject *c = new_empty_like(Py_TYPE(m), m->capacity);
    if (!c)
        return NULL;
    if (bpt_size(m->tree)) {
        bpt *copy;
        bpt_status rc = bpt_copy(m->tree, &copy);
        if (rc != BPT_OK) {
            Py_DECREF(c);
            raise_status(rc);
            return NULL;
        }
        /* The copy's callbacks must point at the new map. */
        bpt_free(c->tree);
        c->tree = copy;
        c->kinds = m->kinds;
        bpt_set_context(copy, c);
    }
    return (PyObject *)c;
}

/* item_tuple returns a new (key, value) tuple from borrowed words. */
static PyObject *item_tuple(void *k, void *v)
{
    return PyTuple_Pack(2, (PyObject *)k, (PyObject *)v);
}

/* edge returns the smallest or largest (key, value); KeyError if empty. */
static PyObject *edge(MapObject *m, bool last)
{
    void *k, *v;
    if (guard_read(m) < 0)
        return NULL;
    if ((last ? bpt_last : bpt_first)(m->tree, &k, &v) != BPT_OK) {
        PyErr_Format(PyExc_KeyError, "%s(): BPlusTreeMap is empty", last ? "last" : "first");
        return NULL;
    }
    return item_tuple(k, v);
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
    if (guard_read(m) < 0)
        return NULL;
    void *k, *v;
    key_kind saved = enter(m, key, NULL);
    bpt_status rc = fn(m->tree, key, &k, &v);
    leave(m, saved);
    if (rc < 0) {
        raise_status(rc);
        return NULL;
    }
    if (rc == BPT_NOTFOUND)
        Py_RETURN_NONE;
    return item_tuple(k, v);
}

static PyObject *Map_floor(MapObject *m, PyObject *key) { return neighbour(m, key, bpt_floor); }
static PyObject *Map_ceiling(MapObject *m, PyObject *key) { return neighbour(m, key, bpt_ceiling); }
static PyObject *Map_lower(MapObject *m, PyObject *key) { return neighbour(m, key, bpt_lower); }
static PyObject *Map_higher(MapObject *m, PyObject *key) { return neighbour(m, key, bpt_higher); }

/*
 * bound_rank turns a bound into a position: the number of keys < key, or
 * <= key when inclusive_high. 0 or -1.
 */
static int bound_rank(MapObject *m, PyObject *key, bool after_equal, size_t *rank)
{
    key_kind saved = enter(m, key, NULL);
    bpt_status rc = bpt_rank(m->tree, key, rank);
    leave(m, saved);
    if (rc < 0)
        return raise_status(rc);
    if (rc == BPT_OK && after_equal)
        (*rank)++;
    return 0;
}

/*
 * span computes [from, to) positions for a range: lo and hi may be None
 * (unbounded); lo_incl and hi_incl say whether an equal key belongs in.
 */
static int span(MapObject *m, PyObject *lo, PyObject *hi, bool lo_incl, bool hi_incl,
                size_t *from, size_t *to)
{
    *from = 0;
    *to = bpt_size(m->tree);
    if (lo != Py_None && bound_rank(m, lo, !lo_incl, from) < 0)
        return -1;
    if (hi != Py_None && bound_rank(m, hi, hi_incl, to) < 0)
        return -1;
    if (*to < *from)
        *to = *from;
    return 0;
}

static PyObject *Map_delete_range(MapObject *m, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"start_key", "end_key", NULL};
    PyObject *lo = Py_None, *hi = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|OO:delete_range", kwlist, &lo, &hi))
        return NULL;
    if (guard_write(m) < 0)
        return NULL;
    void *lo_w = lo, *hi_w = hi;
    size_t removed = 0;
    key_kind saved = enter(m, lo == Py_None ? NULL : lo, hi == Py_None ? NULL : hi);
    bpt_status rc = bpt_remove_range(m->tree, lo == Py_None ? NULL : &lo_w,
                                     hi == Py_None ? NULL : &hi_w, &removed);
    leave(m, saved);
    if (rc < 0) {
        raise_status(rc);
        return NULL;
    }
    note_removal(m);
    return PyLong_FromSize_t(removed);
}

static PyObject *Map_check(MapObject *m, PyObject *Py_UNUSED(ignored))
{
    if (guard_read(m) < 0)
        return NULL;
    bpt_check_report r;
    m->busy++;
    bpt_invariant inv = bpt_check(m->tree, &r);
    m->busy--;
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

static PyObject *Map_from_sorted_items(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"items", "capacity", NULL};
    PyObject *items, *cap_obj = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|O:from_sorted_items", kwlist, &items,
                                     &cap_obj))
        return NULL;
    long cap = parse_capacity(cap_obj);
    if (cap < 0)
        return NULL;
    PyObject *seq = PySequence_List(items);
    if (!seq)
        return NULL;
    Py_ssize_t n = PyList_GET_SIZE(seq);
    void **keys = PyMem_Malloc((size_t)(n ? n : 1) * sizeof *keys);
    void **vals = PyMem_Malloc((size_t)(n ? n : 1) * sizeof *vals);
    PyObject *pairs = PyList_New(n); /* keeps each pair alive */
    MapObject *m = NULL;
    if (!keys || !vals || !pairs) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *fast = PySequence_Fast(PyList_GET_ITEM(seq, i),
                                         "from_sorted_items() needs (key, value) pairs");
        if (!fast)
            goto done;
        PyList_SET_ITEM(pairs, i, fast);
        if (PySequence_Fast_GET_SIZE(fast) != 2) {
            PyErr_Format(PyExc_ValueError, "from_sorted_items() item #%zd has length %zd; 2 "
                                           "is required",
                         i, PySequence_Fast_GET_SIZE(fast));
            goto done;
        }
        keys[i] = PySequence_Fast_GET_ITEM(fast, 0);
        vals[i] = PySequence_Fast_GET_ITEM(fast, 1);
    }
    m = new_empty_like(type, (unsigned)cap);
    if (!m)
        goto done;
    m->busy++;
    bpt_status rc = bpt_bulk_load(m->tree, keys, vals, (size_t)n);
    m->busy--;
    if (rc == BPT_OK && n > 0) {
        m->kinds = kind_of(keys[0]);
        for (Py_ssize_t i = 1; i < n && m->kinds != KEYS_ANY; i++)
            if (kind_of(keys[i]) != m->kinds)
                m->kinds = KEYS_ANY;
    }
    if (rc == BPT_EINVAL) {
        PyErr_SetString(PyExc_ValueError,
                        "from_sorted_items() needs keys in strictly increasing order");
        Py_CLEAR(m);
    } else if (rc < 0) {
        raise_status(rc);
        Py_CLEAR(m);
    }
done:
    PyMem_Free(keys);
    PyMem_Free(vals);
    Py_XDECREF(pairs);
    Py_DECREF(seq);
    return (PyObject *)m;
}

/* ---- Iterators ------------------------------------------------------------ */

enum { KIND_KEYS, KIND_VALUES, KIND_ITEMS };

typedef struct {
    PyObject_HEAD
    MapObject *map;      /* NULL once exhausted */
    bpt_cursor *cursor;
    uint64_t generation;
    size_t remaining;
    int kind;
    bool reverse;
} IterObject;

static PyObject *make_iter(MapObject *m, int kind, bool reverse, PyObject *lo, PyObject *hi,
                           bool lo_incl, bool hi_incl)
{
    if (guard_read(m) < 0)
        return NULL;
    bpt *t = m->tree;
    size_t from, to;
    if (span(m, lo, hi, lo_incl, hi_incl, &from, &to) < 0)
        return NULL;
    IterObject *it = PyObject_GC_New(IterObject, &IterType);
    if (!it)
        return NULL;
    it->map = NULL;
    it->cursor = NULL;
    it->kind = kind;
    it->reverse = reverse;
    it->remaining = to - from;
    it->generation = m->generation;
    if (bpt_cursor_new(t, &it->cursor) != BPT_OK) {
        Py_DECREF(it);
        PyErr_NoMemory();
        return NULL;
    }
    if (it->remaining)
        bpt_cursor_seek_at(it->cursor, reverse ? to - 1 : from);
    it->map = (MapObject *)Py_NewRef(m);
    PyObject_GC_Track(it);
    return (PyObject *)it;
}

static void Iter_dealloc(IterObject *it)
{
    PyObject_GC_UnTrack(it);
    bpt_cursor_free(it->cursor);
    Py_XDECREF(it->map);
    PyObject_GC_Del(it);
}

static int Iter_traverse(IterObject *it, visitproc visit, void *arg)
{
    Py_VISIT(it->map);
    return 0;
}

static int Iter_clear(IterObject *it)
{
    Py_CLEAR(it->map);
    return 0;
}

static PyObject *Iter_next(IterObject *it)
{
    MapObject *m = it->map;
    if (!m)
        return NULL;
    if (guard_read(m) < 0)
        return NULL;
    if (m->generation != it->generation) {
        PyErr_SetString(PyExc_RuntimeError, "BPlusTreeMap changed size during iteration");
        return NULL;
    }
    if (!it->remaining) {
        Py_CLEAR(it->map);
        return NULL;
    }
    void *k, *v;
    bpt_status rc = bpt_cursor_get(it->cursor, &k, &v);
    if (rc < 0) {
        raise_status(rc);
        return NULL;
    }
    if (rc != BPT_OK) {
        Py_CLEAR(it->map);
        return NULL;
    }
    it->remaining--;
    (it->reverse ? bpt_cursor_prev : bpt_cursor_next)(it->cursor);
    switch (it->kind) {
    case KIND_KEYS:
        return Py_NewRef((PyObject *)k);
    case KIND_VALUES:
        return Py_NewRef((PyObject *)v);
    default:
        return item_tuple(k, v);
    }
}

static PyObject *Iter_length_hint(IterObject *it, PyObject *Py_UNUSED(ignored))
{
    return PyLong_FromSize_t(it->map ? it->remaining : 0);
}

static PyMethodDef Iter_methods[] = {
    {"__length_hint__", (PyCFunction)Iter_length_hint, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject IterType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "bplustree3._bplustree3.Iterator",
    .tp_basicsize = sizeof(IterObject),
    .tp_dealloc = (destructor)Iter_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_traverse = (traverseproc)Iter_traverse,
    .tp_clear = (inquiry)Iter_clear,
    .tp_iter = PyObject_SelfIter,
    .tp_iternext = (iternextfunc)Iter_next,
    .tp_methods = Iter_methods,
};

static PyObject *Map_iter(MapObject *m)
{
    return make_iter(m, KIND_KEYS, false, Py_None, Py_None, true, false);
}

static PyObject *Map_reversed(MapObject *m, PyObject *Py_UNUSED(ignored))
{
    return make_iter(m, KIND_KEYS, true, Py_None, Py_None, true, false);
}

/*
 * _iter(kind, reverse, minimum, maximum, min_inclusive, max_inclusive):
 * the one iterator factory behind keys/values/items ranges, irange and the
 * views; None bounds are unbounded.
 */
static PyObject *Map__iter(MapObject *m, PyObject *args)
{
    int kind, reverse, lo_incl, hi_incl;
    PyObject *lo, *hi;
    if (!PyArg_ParseTuple(args, "ipOOpp:_iter", &kind, &reverse, &lo, &hi, &lo_incl, &hi_incl))
        return NULL;
    if (kind < KIND_KEYS || kind > KIND_ITEMS) {
        PyErr_SetString(PyExc_ValueError, "_iter: bad kind");
        return NULL;
    }
    return make_iter(m, kind, reverse, lo, hi, lo_incl, hi_incl);
}

static PyObject *Map_capacity(MapObject *m, void *Py_UNUSED(closure))
{
    return PyLong_FromUnsignedLong(m->capacity);
}

static PyMethodDef Map_methods[] = {
    {"get", (PyCFunction)(void (*)(void))Map_get, METH_FASTCALL,
     "get(key, default=None) -> the value for key, or default. O(log n)."},
    {"pop", (PyCFunction)(void (*)(void))Map_pop, METH_FASTCALL,
     "pop(key[, default]) -> remove key and return its value; KeyError (or default) if "
     "absent. O(log n)."},
    {"popitem", (PyCFunction)Map_popitem, METH_NOARGS,
     "popitem() -> remove and return the smallest (key, value); KeyError if empty. "
     "O(log n)."},
    {"poplast", (PyCFunction)Map_poplast, METH_NOARGS,
     "poplast() -> remove and return the largest (key, value); KeyError if empty. "
     "O(log n)."},
    {"setdefault", (PyCFunction)(void (*)(void))Map_setdefault, METH_FASTCALL,
     "setdefault(key, default=None) -> map[key], first storing default if absent. "
     "O(log n)."},
    {"clear", (PyCFunction)Map_clear, METH_NOARGS, "clear() -> remove every item. O(n)."},
    {"update", (PyCFunction)(void (*)(void))Map_update, METH_VARARGS | METH_KEYWORDS,
     "update(other=(), /, **kwargs): add the items of a mapping or of (key, value) pairs, "
     "then kwargs. O(k log n)."},
    {"copy", (PyCFunction)Map_copy, METH_NOARGS,
     "copy() -> a shallow copy with the same capacity, built structurally in O(n)."},
    {"first", (PyCFunction)Map_first, METH_NOARGS,
     "first() -> the smallest (key, value); KeyError if empty. O(1)."},
    {"last", (PyCFunction)Map_last, METH_NOARGS,
     "last() -> the largest (key, value); KeyError if empty. O(1)."},
    {"floor", (PyCFunction)Map_floor, METH_O,
     "floor(key) -> the (key, value) with the greatest key <= key, or None. O(log n)."},
    {"ceiling", (PyCFunction)Map_ceiling, METH_O,
     "ceiling(key) -> the (key, value) with the least key >= key, or None. O(log n)."},
    {"lower", (PyCFunction)Map_lower, METH_O,
     "lower(key) -> the (key, value) with the greatest key < key, or None. O(log n)."},
    {"higher", (PyCFunction)Map_higher, METH_O,
     "higher(key) -> the (key, value) with the least key > key, or None. O(log n)."},
    {"delete_range", (PyCFunction)(void (*)(void))Map_delete_range,
     METH_VARARGS | METH_KEYWORDS,
     "delete_range(start_key=None, end_key=None) -> remove the keys in [start_key, "
     "end_key) and return how many. O(log n + m)."},
    {"check", (PyCFunction)Map_check, METH_NOARGS,
     "check(): run the C invariant checker; raise InvariantError naming the first "
     "violated invariant. O(n)."},
    {"from_sorted_items", (PyCFunction)(void (*)(void))Map_from_sorted_items,
     METH_VARARGS | METH_KEYWORDS | METH_CLASS,
     "from_sorted_items(items, capacity=None) -> a map bulk-loaded in O(n) from (key, value) "
     "pairs in strictly increasing key order; ValueError (and nothing built) otherwise."},
    {"__reversed__", (PyCFunction)Map_reversed, METH_NOARGS,
     "__reversed__() -> iterator over the keys, largest first."},
    {"_iter", (PyCFunction)Map__iter, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef Map_getset[] = {
    {"capacity", (getter)Map_capacity, NULL, "the node capacity (keys per node)", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMappingMethods Map_as_mapping = {
    .mp_length = (lenfunc)Map_length,
    .mp_subscript = (binaryfunc)Map_subscript,
    .mp_ass_subscript = (objobjargproc)Map_ass_subscript,
};

static PySequenceMethods Map_as_sequence = {
    .sq_contains = (objobjproc)Map_contains,
};

static PyTypeObject MapType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "bplustree3._bplustree3.BPlusTreeMapBase",
    .tp_doc = "The C core of bplustree3.BPlusTreeMap; use that class.",
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

static PyObject *mod_live_blocks(PyObject *mod, PyObject *Py_UNUSED(ignored))
{
    (void)mod;
    return PyLong_FromSsize_t(live_blocks);
}

static PyObject *mod_fail_allocation(PyObject *mod, PyObject *arg)
{
    (void)mod;
    Py_ssize_t n = PyLong_AsSsize_t(arg);
    if (n == -1 && PyErr_Occurred())
        return NULL;
    fail_in = n > 0 ? n : 0;
    Py_RETURN_NONE;
}

static PyMethodDef module_methods[] = {
    {"_live_blocks", mod_live_blocks, METH_NOARGS,
     "_live_blocks() -> blocks the C core holds now (trees, nodes, cursors)."},
    {"_fail_allocation", mod_fail_allocation, METH_O,
     "_fail_allocation(n): for tests, make the core's n-th allocation from now fail "
     "(0: none)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "bplustree3._bplustree3",
    .m_doc = "C core of bplustree3.",
    .m_size = -1,
    .m_methods = module_methods,
};

PyMODINIT_FUNC PyInit__bplustree3(void)
{
    if (PyType_Ready(&MapType) < 0 || PyType_Ready(&IterType) < 0)
        return NULL;
    PyObject *mod = PyModule_Create(&module);
    if (!mod)
        return NULL;
    InvariantError = PyErr_NewExceptionWithDoc(
        "bplustree3.InvariantError",
        "A BPlusTreeMap failed its invariant check; .invariant names which invariant.",
        NULL, NULL);
    if (!InvariantError || PyModule_AddObjectRef(mod, "InvariantError", InvariantError) < 0 ||
        PyModule_AddObjectRef(mod, "BPlusTreeMapBase", (PyObject *)&MapType) < 0 ||
        PyModule_AddIntConstant(mod, "MIN_CAPACITY", BPT_MIN_CAPACITY) < 0 ||
        PyModule_AddIntConstant(mod, "MAX_CAPACITY", BPT_MAX_CAPACITY) < 0 ||
        PyModule_AddIntConstant(mod, "DEFAULT_CAPACITY", DEFAULT_CAPACITY) < 0) {
        Py_DECREF(mod);
        return NULL;
    }
    return mod;
}
