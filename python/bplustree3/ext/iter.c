/*
 * iter.c — the iterator type behind iteration, key ranges, views and
 * islice: it reads the leaves a chunk at a time, with the map locked for
 * each step, and checks that the map did not change underneath it.
 */
#include "ext.h"

/* Items an iterator copies from the tree at a time (three cache lines of
 * pointers each for keys and values), and how many items ahead of the one
 * handed out it prefetches the objects of. */
#define ITER_CHUNK 24
#define ITER_AHEAD 8
/*
 * An iterator copies a chunk of borrowed words at a time and prefetches the
 * objects of the items ITER_AHEAD ahead of the one it hands out, so walking
 * the leaves costs a few loads per item and the cache misses of scattered
 * objects overlap (a few at a time: asking for a whole chunk at once fills
 * the core's miss buffers and stalls it). The words stay valid
 * while the tree's version (its structure) and the map's values epoch are
 * unchanged: a structural change is an error, a replaced value makes the
 * iterator read its chunk again from the same position.
 */
typedef struct {
    PyObject_HEAD
    MapObject *map;       /* NULL once exhausted */
    bpt_cursor *cursor;   /* just past the chunk */
    PyObject *result[2];  /* the last two pairs or number keys handed out (see keep) */
    int turn;             /* the slot the next new one takes, other things equal */
    uint64_t generation;  /* the map's tree */
    uint64_t version;     /* the tree's structure */
    uint64_t epoch;       /* the map's values when the chunk was read */
    size_t remaining;     /* items to hand out, the chunk's included */
    size_t position;      /* the next item's position in the map */
    int kind;
    packing packing;      /* the map's, fixed while its generation is */
    bool reverse;
    bool objects;         /* whether the items read have objects to prefetch */
    int len, next;        /* items in the chunk; the next one to hand out */
    void *keys[ITER_CHUNK];
    void *vals[ITER_CHUNK];
} IterObject;
static int read_chunk(IterObject *it, MapObject *m);

/*
 * seek_bound positions c at the first item whose key is not less than key,
 * sets *rank to its position and *found to whether its key equals key: one
 * descent. 0, or -1 with an exception.
 */
static int seek_bound(MapObject *m, bpt_cursor *c, PyObject *key, size_t *rank, bool *found)
{
    void *w;
    search_kind saved = enter(m, key, NULL, &w, NULL);
    bpt_status rc = bpt_cursor_seek_rank(c, w, rank);
    leave(m, saved);
    if (rc < 0)
        return raise_status(rc);
    *found = rc == BPT_OK;
    return 0;
}

/*
 * new_iter allocates an iterator over m, acquired, handing out kind in the
 * direction reverse says, its cursor not yet placed: what both kinds of
 * iterator share. NULL with an exception.
 */
static IterObject *new_iter(MapObject *m, int kind, bool reverse)
{
    IterObject *it = PyObject_GC_New(IterObject, &IterType);
    if (!it)
        return NULL;
    it->map = NULL;
    it->cursor = NULL;
    it->result[0] = it->result[1] = NULL;
    it->turn = 0;
    if (bpt_cursor_new(m->tree, &it->cursor) != BPT_OK) {
        Py_DECREF(it);
        PyErr_NoMemory();
        return NULL;
    }
    it->kind = kind;
    it->reverse = reverse;
    it->packing = m->packing;
    it->objects = kind != KIND_KEYS || holds_objects(m->packing);
    it->len = it->next = 0;
    it->epoch = m->values_epoch;
    return it;
}

/*
 * read_first_chunk reads the chunk at it's cursor, if it is on an item:
 * its objects' cache misses then overlap what the caller does next (items
 * past the range's end are read but never handed out). 0, or -1.
 */
static int read_first_chunk(IterObject *it, MapObject *m)
{
    it->remaining = ITER_CHUNK;
    if (bpt_cursor_get(it->cursor, NULL, NULL) == BPT_OK && read_chunk(it, m) < 0)
        return -1;
    return 0;
}

/*
 * start_iter hands out it, positioned, over the positions [from, to) of m:
 * it takes its reference to m and is tracked from here on.
 */
static PyObject *start_iter(IterObject *it, MapObject *m, size_t from, size_t to)
{
    it->remaining = to > from ? to - from : 0;
    it->position = it->reverse ? to - 1 : from;
    it->generation = m->generation;
    it->version = bpt_change_count(m->tree);
    it->map = (MapObject *)Py_NewRef(m);
    TSAN_RELEASE(it);
    PyObject_GC_Track(it);
    return (PyObject *)it;
}

/*
 * seek_start puts it's cursor on the first item of r in its direction, and
 * sets the position of that end of r (*from going forward, *to going
 * back): one descent to the bound (in a multiset whose bound is excluded
 * going forward or included going back, two more: the rank past its every
 * copy, and the cursor moved there). 0, or -1 with an exception.
 */
static int seek_start(IterObject *it, MapObject *m, const key_range *r, size_t *from, size_t *to)
{
    PyObject *start = it->reverse ? r->hi : r->lo;
    if (start == Py_None) {
        (it->reverse ? bpt_cursor_last : bpt_cursor_first)(it->cursor);
        return 0;
    }
    size_t at = 0;
    bool found = false;
    if (seek_bound(m, it->cursor, start, &at, &found) < 0)
        return -1;
    if (!it->reverse) { /* on the first key >= lo: step past an excluded lo */
        *from = at + (found && !r->lo_incl);
        if (*from > at && m->multi) { /* past its every copy */
            if (bound_rank(m, start, true, from) == FAILED)
                return -1;
            bpt_cursor_seek_at(it->cursor, *from);
        } else if (*from > at) {
            bpt_cursor_next(it->cursor);
        }
    } else { /* on the first key >= hi: step back unless it is an included hi */
        *to = at + (found && r->hi_incl);
        if (*to > at && m->multi) { /* to its last copy */
            if (bound_rank(m, start, true, to) == FAILED)
                return -1;
            bpt_cursor_seek_at(it->cursor, *to - 1);
        } else if (*to == at) {
            bpt_cursor_prev(it->cursor);
        }
    }
    return 0;
}

/*
 * iter_keys_locked makes, with m held (hold_for_read), an iterator over the items of
 * m whose keys are in r: a descent to the bound it starts from places the
 * cursor (seek_start); one to the other bound gives only its position.
 */
static PyObject *iter_keys_locked(MapObject *m, int kind, bool reverse, const key_range *r)
{
    IterObject *it = new_iter(m, kind, reverse);
    if (!it)
        return NULL;
    size_t from = 0, to = bpt_size(m->tree);
    PyObject *end = reverse ? r->lo : r->hi;
    bool end_incl = reverse ? !r->lo_incl : r->hi_incl; /* counts equal keys as before it */
    if (seek_start(it, m, r, &from, &to) < 0 || read_first_chunk(it, m) < 0 ||
        (end != Py_None && bound_rank(m, end, end_incl, reverse ? &from : &to) == FAILED)) {
        Py_DECREF(it);
        return NULL;
    }
    return start_iter(it, m, from, to);
}

/*
 * iter_positions_locked makes, with m acquired, an iterator over the items
 * at positions [from, to) of m: one descent, by position.
 */
PyObject *iter_positions_locked(MapObject *m, int kind, bool reverse, size_t from, size_t to)
{
    IterObject *it = new_iter(m, kind, reverse);
    if (!it)
        return NULL;
    if (to > from)
        bpt_cursor_seek_at(it->cursor, reverse ? to - 1 : from);
    if (read_first_chunk(it, m) < 0) {
        Py_DECREF(it);
        return NULL;
    }
    return start_iter(it, m, from, to);
}

/* make_iter: iter_keys_locked, with m held for it (hold_for_read). */
PyObject *make_iter(MapObject *m, int kind, bool reverse, const key_range *r)
{
    read_hold h;
    PyObject *lo = r->lo == Py_None ? NULL : r->lo, *hi = r->hi == Py_None ? NULL : r->hi;
    if (check_bound(r->lo) < 0 || check_bound(r->hi) < 0 || hold_for_read(m, lo, hi, &h) < 0)
        return NULL;
    PyObject *it = iter_keys_locked(m, kind, reverse, r);
    end_read(m, &h);
    return it;
}

static void Iter_dealloc(IterObject *it)
{
    PyObject_GC_UnTrack(it);
    bpt_cursor_free(it->cursor);
    Py_XDECREF(it->map);
    Py_XDECREF(it->result[0]);
    Py_XDECREF(it->result[1]);
    PyObject_GC_Del(it);
}

static int Iter_traverse(IterObject *it, visitproc visit, void *arg)
{
    TSAN_ACQUIRE(it);
    TSAN_IGNORE_READS_BEGIN();
    PyObject *refs[3] = {(PyObject *)it->map, it->result[0], it->result[1]};
    TSAN_IGNORE_READS_END();
    for (int i = 0; i < 3; i++)
        Py_VISIT(refs[i]);
    return 0;
}

static int Iter_clear(IterObject *it)
{
    Py_CLEAR(it->map);
    Py_CLEAR(it->result[0]);
    Py_CLEAR(it->result[1]);
    return 0;
}

/* prefetch_item asks for the objects of the chunk's item i. */
PREFETCH_INLINE void prefetch_item(IterObject *it, int i)
{
    if (it->kind != KIND_KEYS)
        PREFETCH(it->vals[i]);
    if (it->kind != KIND_VALUES && holds_objects(it->packing))
        PREFETCH(it->keys[i]);
}

/*
 * read_chunk copies the next chunk of words, from it->position on, and
 * prefetches the objects among them. 0, or -1 with an exception.
 */
static int read_chunk(IterObject *it, MapObject *m)
{
    bpt_status rc = BPT_OK;
    size_t want = it->remaining < ITER_CHUNK ? it->remaining : ITER_CHUNK, got = 0;
    if (it->epoch != m->values_epoch) /* the chunk's values may be gone */
        rc = bpt_cursor_seek_at(it->cursor, it->position);
    bool keys = it->kind != KIND_VALUES, vals = it->kind != KIND_KEYS;
    if (rc == BPT_OK)
        rc = (it->reverse ? bpt_cursor_read_prev : bpt_cursor_read)(
            it->cursor, keys ? it->keys : NULL, vals ? it->vals : NULL, want, &got);
    if (rc < 0 || got == 0) { /* cannot happen while version and size agree */
        PyErr_Format(PyExc_RuntimeError, "%s changed during iteration",
                     m->multi ? "SortedList" : "BPlusTreeMap");
        return -1;
    }
    for (int i = 0; it->objects && i < (int)got && i < ITER_AHEAD; i++)
        prefetch_item(it, i);
    it->epoch = m->values_epoch;
    it->len = (int)got;
    it->next = 0;
    return 0;
}

/*
 * Reusing what nobody else holds. Iterating a map of packed numbers makes
 * an int or float object per key (SortedDict hands out the ones it holds),
 * and most loops drop each key before asking for the next, so the iterator
 * keeps the last two objects it handed out and rewrites one that only it
 * holds: no caller can tell, since no caller holds it. The same goes for
 * the (key, value) pairs of items, and for the number key inside a pair
 * only the pair holds. Two of each, because `for k in m` holds the last
 * key while the next is made. Only on the CPython versions internals.h
 * allows (bpt_reuse_on); elsewhere every result is a new object.
 */
int bpt_reuse_on = BPT_REUSE_RESULTS;

/* reusable_pair returns one of the last two pairs that only it holds, or NULL. */
static PyObject *reusable_pair(IterObject *it)
{
#if BPT_REUSE_RESULTS
    if (!bpt_reuse_on)
        return NULL;
    /* Best a pair whose key only it holds too (`for k, v in m.items()`
     * holds the last key, not the pair), so that a number key is rewritten
     * in place; until there are two pairs, a new one rather than another. */
    PyObject *r = NULL;
    for (int s = 0; s < 2; s++) {
        PyObject *p = it->result[s];
        if (!p)
            return NULL;
        if (Py_REFCNT(p) == 1) {
            if (Py_REFCNT(PyTuple_GET_ITEM(p, 0)) == 1)
                return p;
            r = p;
        }
    }
    return r;
#else
    (void)it;
#endif
    return NULL;
}

/*
 * keep makes r, a new result, one of the last two that it keeps: in place of
 * one that only it holds if there is one (an int of the wrong size), else
 * of the older one.
 */
static void keep(IterObject *it, PyObject *r)
{
#if BPT_REUSE_RESULTS
    if (!bpt_reuse_on)
        return;
    int s = it->turn;
    if (it->result[s] && (!it->result[s ^ 1] || Py_REFCNT(it->result[s ^ 1]) == 1))
        s ^= 1;
    Py_XSETREF(it->result[s], Py_NewRef(r));
    it->turn = s ^ 1;
#else
    (void)it;
    (void)r;
#endif
}

/*
 * rewrite_key sets o, a key object that nobody else holds, to the number
 * stored as word in a map of packed numbers, when it can (see internals.h).
 */
static bool rewrite_key(PyObject *o, packing p, void *word)
{
    if (p == PACK_INT)
        return PyLong_CheckExact(o) && internals_rewrite_int(o, bpt_word_to_i64(word));
    if (p == PACK_FLOAT)
        return PyFloat_CheckExact(o) && internals_rewrite_float(o, bpt_word_to_double(word));
    return false;
}

/* number_key returns the key of a map of packed numbers stored as word. */
static PyObject *number_key(IterObject *it, void *word)
{
#if BPT_REUSE_RESULTS
    for (int s = 0; bpt_reuse_on && s < 2; s++) {
        PyObject *r = it->result[s];
        if (r && Py_REFCNT(r) == 1 && rewrite_key(r, it->packing, word))
            return Py_NewRef(r);
    }
#endif
    PyObject *r = key_object(it->packing, word);
    if (r && Py_REFCNT(r) == 1) /* not a shared small int */
        keep(it, r);
    return r;
}

/*
 * pair_result returns (key, value) for the key stored as word, with value's
 * reference stolen: in one of the last two pairs when nobody else holds it
 * (its number key rewritten when only the pair holds that), else in a new
 * one.
 */
static PyObject *pair_result(IterObject *it, void *word, PyObject *value)
{
    PyObject *r = reusable_pair(it), *key = NULL;
    if (r) {
        PyObject *held = PyTuple_GET_ITEM(r, 0), *old_key, *old_value;
        if (!(Py_REFCNT(held) == 1 && rewrite_key(held, it->packing, word)) &&
            !(key = key_object(it->packing, word))) {
            Py_DECREF(value);
            return NULL;
        }
        internals_refill_pair(r, key, value, &old_key, &old_value);
        Py_INCREF(r);
        Py_XDECREF(old_key);
        Py_DECREF(old_value);
        return r;
    }
    key = key_object(it->packing, word);
    r = key ? PyTuple_New(2) : NULL;
    if (!r) {
        Py_XDECREF(key);
        Py_DECREF(value);
        return NULL;
    }
    PyTuple_SET_ITEM(r, 0, key);
    PyTuple_SET_ITEM(r, 1, value);
    keep(it, r);
    return r;
}

/* hand_out returns the chunk's next item and moves past it. */
static inline PyObject *hand_out(IterObject *it)
{
    int i = it->next++;
    if (it->objects && i + ITER_AHEAD < it->len)
        prefetch_item(it, i + ITER_AHEAD);
    it->remaining--;
    it->position += it->reverse ? (size_t)-1 : 1;
    if (it->kind == KIND_VALUES)
        return Py_NewRef((PyObject *)it->vals[i]);
    if (it->kind == KIND_ITEMS)
        return pair_result(it, it->keys[i], Py_NewRef((PyObject *)it->vals[i]));
    if (holds_objects(it->packing))
        return Py_NewRef((PyObject *)it->keys[i]);
    return number_key(it, it->keys[i]);
}

/* unchanged tells whether m's tree and its structure are the iterator's. */
static inline bool unchanged(const IterObject *it, const MapObject *m)
{
    return m->generation == it->generation && bpt_change_count(m->tree) == it->version;
}

/* chunk_current tells whether the chunk holds the next item, as it is now. */
static inline bool chunk_current(const IterObject *it, const MapObject *m)
{
    return it->next < it->len && it->epoch == m->values_epoch;
}

/*
 * iter_step is Iter_next with m, the iterator's map, held for the step
 * (shared with other threads' reads, or locked) and the iterator in the
 * caller's critical section: the next item, or NULL with an exception, or
 * NULL without one at the end (the caller then lets go of the map, once
 * it no longer holds it: see end_step).
 */
static PyObject *iter_step(IterObject *it, MapObject *m)
{
    if (!unchanged(it, m)) {
        PyErr_Format(PyExc_RuntimeError, "%s changed size during iteration",
                     m->multi ? "SortedList" : "BPlusTreeMap");
        return NULL;
    }
    if (!it->remaining)
        return NULL;
    if (!chunk_current(it, m) && read_chunk(it, m) < 0)
        return NULL;
    return hand_out(it);
}

/* end_step lets go of an exhausted iterator's map, after a step that found
 * the end (r NULL, no exception), in the iterator's critical section. */
static void end_step(IterObject *it, PyObject *r)
{
    if (!r && !PyErr_Occurred())
        Py_CLEAR(it->map);
}

/*
 * iter_map returns a new reference to the iterator's map (NULL once it is
 * exhausted): a reference of our own, since another thread's last step may
 * let go of the iterator's.
 */
static MapObject *iter_map(IterObject *it)
{
    MapObject *m;
    BEGIN_CRITICAL_SECTION(it);
    m = (MapObject *)Py_XNewRef(it->map);
    END_CRITICAL_SECTION(it);
    return m;
}

/*
 * Iter_next steps the iterator with its map held (locked, or shared with
 * other threads' reads) and the iterator in a critical section: that
 * orders the steps of threads sharing the iterator.
 */
static PyObject *Iter_next(IterObject *it)
{
#ifndef Py_GIL_DISABLED
    /*
     * Most steps, with the GIL: the map free and unchanged, the item read
     * already (the first chunk may run past the end). Nothing runs Python
     * code before the item's objects are taken (a collection in
     * PyTuple_New, the release of a reused pair's old value come after, and
     * touch neither map nor tree), so the step needs neither the lock nor a
     * reference of its own to the map.
     */
    MapObject *q = it->map;
    if (q && q->owner == NULL && it->remaining && chunk_current(it, q) && unchanged(it, q))
        return hand_out(it);
#else
    /*
     * Most steps, without the GIL: one that takes the quick read, in the
     * iterator's critical section, which keeps the iterator's map until the
     * step lets go of it. Such a step waits for nothing (the critical
     * section is not suspended), so it needs no reference of its own to
     * the map: taking one at every step would make threads iterating over
     * one map contend for its reference count.
     */
    bool stepped = false;
    PyObject *s = NULL;
    BEGIN_CRITICAL_SECTION(it);
    MapObject *q = it->map;
    /* (The test hook's pause detaches, which would suspend the critical
     * section: with it armed, steps take the path below, which holds a
     * reference to the map.) */
    int quick = q && !LOAD_INT(&read_pause) ? try_read_lock(q) : READ_REFUSED;
    if (!q || quick != READ_REFUSED) {
        if (q) {
            s = iter_step(it, q);
            read_unlock(q, quick);
            end_step(it, s); /* may free q */
        }
        stepped = true;
    }
    END_CRITICAL_SECTION(it);
    if (stepped)
        return s;
#endif
    MapObject *m = iter_map(it);
    if (!m)
        return NULL;
    PyObject *r = NULL;
    /*
     * A step reads the tree before anything in it can run Python code (a
     * collection in PyTuple_New, a __del__ of the last item handed out):
     * when nobody holds the lock it may take the quick read (try_read_lock),
     * shared with other threads' reads on a free-threaded build, where the
     * iterator's critical section orders the steps of threads sharing it.
     */
    BEGIN_CRITICAL_SECTION(it);
    int hold = try_read_lock(m);
    if (hold != READ_REFUSED || acquire(m, FOR_READ) == 0) {
        if (it->map == m) {
            r = iter_step(it, m);
            end_step(it, r); /* not the last reference: this step holds one */
        }
        if (hold != READ_REFUSED)
            read_unlock(m, hold);
        else
            release(m);
    }
    END_CRITICAL_SECTION(it);
    Py_DECREF(m);
#if BPT_REUSE_RESULTS
    if (!r && !it->map) { /* exhausted (or failed): let go of what it kept */
        Py_CLEAR(it->result[0]);
        Py_CLEAR(it->result[1]);
    }
#endif
    return r;
}

static PyObject *Iter_length_hint(IterObject *it, PyObject *Py_UNUSED(ignored))
{
    MapObject *m = iter_map(it);
    if (!m)
        return PyLong_FromLong(0);
    size_t n = 0;
    BEGIN_CRITICAL_SECTION(it); /* as in Iter_next: a step may let go of it->map */
    int hold = read_lock(m);
    if (hold != READ_REFUSED) {
        n = it->map == m ? it->remaining : 0;
        read_unlock(m, hold);
    }
    END_CRITICAL_SECTION(it);
    Py_DECREF(m);
    return PyErr_Occurred() ? NULL : PyLong_FromSize_t(n);
}

static PyMethodDef Iter_methods[] = {
    {"__length_hint__", (PyCFunction)Iter_length_hint, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL},
};

PyTypeObject IterType = {
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

/* iter_all iterates over all of m's keys, values or items. */
PyObject *iter_all(MapObject *m, int kind, bool reverse)
{
    key_range all = {Py_None, Py_None, true, false};
    return make_iter(m, kind, reverse, &all);
}

PyObject *Map_iter(MapObject *m) { return iter_all(m, KIND_KEYS, false); }

PyObject *Map_reversed(MapObject *m, PyObject *Py_UNUSED(ignored))
{
    return iter_all(m, KIND_KEYS, true);
}

/*
 * _iter(kind, reverse=False, minimum=None, maximum=None,
 * min_inclusive=True, max_inclusive=False): the one iterator factory
 * behind keys/values/items ranges, irange and the views, over the items
 * from minimum to maximum (None: unbounded; by default, as a map's ranges
 * are, the minimum included and the maximum not).
 */
PyObject *Map__iter(MapObject *m, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    static const char *const names[] = {"kind",    "reverse",       "minimum",
                                        "maximum", "min_inclusive", "max_inclusive"};
    PyObject *a[6];
    if (fast_kwargs("_iter", names, 6, args, nargs, kwnames, a) < 0)
        return NULL;
    if (!a[0]) {
        PyErr_SetString(PyExc_TypeError, "_iter() needs its kind");
        return NULL;
    }
    int kind = parse_kind(a[0]);
    int flags[3] = {0, 1, 0}; /* reverse, min_inclusive, max_inclusive */
    for (int i = 0; kind >= 0 && i < 3; i++) {
        PyObject *given = a[i == 0 ? 1 : i + 3];
        if (given && (flags[i] = PyObject_IsTrue(given)) < 0)
            return NULL;
    }
    if (kind < 0)
        return NULL;
    key_range r = {a[2] ? a[2] : Py_None, a[3] ? a[3] : Py_None, flags[1], flags[2]};
    return make_iter(m, kind, flags[0], &r);
}
