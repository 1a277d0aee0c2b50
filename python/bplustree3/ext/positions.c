/*
 * positions.c — positional access through the core's subtree counts, each
 * O(log n): peekitem, index, bisect_left/right, the islice iterator,
 * removals by position (popitem, poplast and the private _pop_at and
 * _pop_many that SortedDict and SortedSet use).
 *
 * A position argument is read (its __index__ run) before the map is
 * locked: the code it runs may change the map, which the position is then
 * taken against.
 */
#include "ext.h"

/*
 * position_arg reads an optional position argument (NULL: dflt): 0, or -1
 * with an exception (IndexError when it does not fit a Py_ssize_t).
 */
static int position_arg(PyObject *obj, Py_ssize_t dflt, Py_ssize_t *index)
{
    *index = obj ? PyNumber_AsSsize_t(obj, PyExc_IndexError) : dflt;
    return *index == -1 && PyErr_Occurred() ? -1 : 0;
}

/*
 * position_in turns index (negative from the end) into a position among n
 * items; 0, or -1 with IndexError.
 */
int position_in(Py_ssize_t index, size_t n, size_t *pos)
{
    if (index < 0)
        index += (Py_ssize_t)n;
    if (index < 0 || (size_t)index >= n) {
        PyErr_SetString(PyExc_IndexError, "BPlusTreeMap index out of range");
        return -1;
    }
    *pos = (size_t)index;
    return 0;
}

PyObject *Map_peekitem(MapObject *m, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t index;
    read_hold h;
    void *k, *v, *w;
    if (check_args("peekitem", nargs, 0, 1) < 0 || position_arg(nargs ? args[0] : NULL, -1, &index) < 0 ||
        begin_read(m, NULL, &w, &h) < 0)
        return NULL;
    PyObject *r = NULL;
    size_t pos;
    if (position_in(index, bpt_size(m->tree), &pos) == 0 &&
        bpt_at(m->tree, pos, &k, &v) == BPT_OK)
        r = item_tuple(m->packing, k, v);
    end_read(m, &h);
    return r;
}

/*
 * pop_at removes the item at position index (negative: from the end) and
 * returns it as a (key, value) tuple, made before the item leaves the map,
 * so that a failure loses nothing (the removal by position cannot fail).
 * An empty map raises empty_error, naming the method what.
 */
PyObject *pop_at(MapObject *m, Py_ssize_t index, PyObject *empty_error, const char *what)
{
    if (acquire(m, FOR_WRITE) < 0)
        return NULL;
    void *k, *v;
    PyObject *pair = NULL;
    size_t n = bpt_size(m->tree), pos = 0;
    if (n == 0)
        PyErr_Format(empty_error, "%s(): BPlusTreeMap is empty", what);
    else if (position_in(index, n, &pos) == 0 && bpt_at(m->tree, pos, &k, &v) == BPT_OK &&
             (pair = item_tuple(m->packing, k, v)) != NULL)
        bpt_remove_at(m->tree, pos, &k, &v);
    packing p = m->packing;
    release(m);
    if (pair) {
        drop_key(p, k); /* the pair holds its own references */
        Py_DECREF((PyObject *)v);
    }
    return pair;
}

/* _pop_at(index): the (key, value) removed from position index (see pop_at). */
PyObject *Map__pop_at(MapObject *m, PyObject *arg)
{
    Py_ssize_t index;
    if (position_arg(arg, -1, &index) < 0)
        return NULL;
    return pop_at(m, index, PyExc_IndexError, "pop");
}

/* bisect returns the position of key's lower (or upper) bound. */
static PyObject *bisect(MapObject *m, PyObject *key, bool right)
{
    size_t rank = 0;
    read_hold h;
    void *w;
    if (check_bound(key) < 0 || begin_read(m, key, &w, &h) < 0)
        return NULL;
    find_result rc = word_rank(m, w, right, &rank);
    end_read(m, &h);
    return rc == FAILED ? NULL : PyLong_FromSize_t(rank);
}

PyObject *Map_bisect_left(MapObject *m, PyObject *key) { return bisect(m, key, false); }
PyObject *Map_bisect_right(MapObject *m, PyObject *key) { return bisect(m, key, true); }

/*
 * A slice bound read before the map is locked: None (given false), or an
 * int, negative from the end (clamped to Py_ssize_t, as list slicing does).
 */
typedef struct {
    bool given;
    Py_ssize_t index;
} slice_arg;

/* read_slice_arg reads obj (NULL or None: not given) as a slice bound; 0 or -1. */
static int read_slice_arg(PyObject *obj, slice_arg *out)
{
    out->given = obj != NULL && obj != Py_None;
    out->index = out->given ? PyNumber_AsSsize_t(obj, NULL) : 0;
    return out->index == -1 && PyErr_Occurred() ? -1 : 0;
}

/* slice_pos turns a slice bound into a position among n (dflt if not given). */
static size_t slice_pos(slice_arg a, size_t n, size_t dflt)
{
    if (!a.given)
        return dflt;
    Py_ssize_t i = a.index;
    if (i < 0)
        i = i + (Py_ssize_t)n < 0 ? 0 : i + (Py_ssize_t)n;
    return (size_t)i > n ? n : (size_t)i;
}

PyObject *Map_index(MapObject *m, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"key", "start", "stop", NULL};
    PyObject *key, *start = Py_None, *stop = Py_None, *r = NULL;
    slice_arg a, b;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|OO:index", kwlist, &key, &start, &stop) ||
        read_slice_arg(start, &a) < 0 || read_slice_arg(stop, &b) < 0)
        return NULL;
    if (!is_nan(key)) {
        read_hold h;
        void *w;
        if (begin_read(m, key, &w, &h) < 0)
            return NULL;
        size_t n = bpt_size(m->tree), rank = 0;
        size_t lo = slice_pos(a, n, 0), hi = slice_pos(b, n, n);
        if (word_rank(m, w, false, &rank) == FOUND && lo <= rank && rank < hi)
            r = PyLong_FromSize_t(rank);
        end_read(m, &h);
    }
    if (!r && !PyErr_Occurred())
        PyErr_Format(PyExc_ValueError, "%R is not in BPlusTreeMap", key);
    return r;
}

/*
 * islice_of: an iterator over the kind of items at the positions start to
 * stop (slice bounds: NULL or None, negatives from the end), in reverse
 * when reverse (NULL: not) is true.
 */
PyObject *islice_of(MapObject *m, int kind, PyObject *start, PyObject *stop, PyObject *reverse)
{
    slice_arg a, b;
    int back = reverse ? PyObject_IsTrue(reverse) : 0;
    if (back < 0 || read_slice_arg(start, &a) < 0 || read_slice_arg(stop, &b) < 0 ||
        acquire(m, FOR_READ) < 0)
        return NULL;
    size_t n = bpt_size(m->tree);
    PyObject *it = iter_positions_locked(m, kind, back, slice_pos(a, n, 0), slice_pos(b, n, n));
    release(m);
    return it;
}

/* _islice(kind, start, stop, reverse): see islice_of. */
PyObject *Map__islice(MapObject *m, PyObject *const *args, Py_ssize_t nargs)
{
    int kind = check_args("_islice", nargs, 4, 4) < 0 ? -1 : parse_kind(args[0]);
    return kind < 0 ? NULL : islice_of(m, kind, args[1], args[2], args[3]);
}

/* item_of returns the kind of item (a key, a value or a pair) for borrowed words. */
static PyObject *item_of(packing p, int kind, void *k, void *v)
{
    if (kind == KIND_KEYS)
        return key_object(p, k);
    if (kind == KIND_VALUES)
        return Py_NewRef((PyObject *)v);
    return item_tuple(p, k, v);
}

/*
 * items_at returns a new list of the kind of items at the count positions
 * start, start + step, ... (step >= 1) of m, acquired: a cursor walks them
 * (a step or a few per item, a descent for longer strides), or NULL with an
 * exception.
 */
static PyObject *items_at(MapObject *m, int kind, Py_ssize_t start, Py_ssize_t count,
                          Py_ssize_t step)
{
    bpt_cursor *c = NULL;
    PyObject *items = PyList_New(count);
    if (!items)
        return NULL;
    if (count && bpt_cursor_new(m->tree, &c) != BPT_OK) {
        Py_DECREF(items);
        return PyErr_NoMemory();
    }
    if (c)
        bpt_cursor_seek_at(c, (size_t)start);
    for (Py_ssize_t i = 0; i < count; i++) {
        void *k, *v;
        if (i > 0 && step > 8) /* far: a descent */
            bpt_cursor_seek_at(c, (size_t)(start + i * step));
        else
            for (Py_ssize_t s = 0; i > 0 && s < step; s++)
                bpt_cursor_next(c);
        bpt_cursor_get(c, &k, &v); /* the positions are all in the map */
        PyObject *item = item_of(m->packing, kind, k, v);
        if (!item) {
            Py_CLEAR(items);
            break;
        }
        PyList_SET_ITEM(items, i, item);
    }
    bpt_cursor_free(c);
    return items;
}

/* items_listed returns a new list of the kind of items at the count positions at[]. */
static PyObject *items_listed(MapObject *m, int kind, const Py_ssize_t *at, Py_ssize_t count)
{
    PyObject *items = PyList_New(count);
    for (Py_ssize_t i = 0; items && i < count; i++) {
        void *k, *v;
        bpt_at(m->tree, (size_t)at[i], &k, &v);
        PyObject *item = item_of(m->packing, kind, k, v);
        if (!item)
            Py_CLEAR(items);
        else
            PyList_SET_ITEM(items, i, item);
    }
    return items;
}

/*
 * Positions to remove, read before the map is locked: a slice's (to adjust
 * to the map's length), or a list of indexes (negatives from the end).
 */
typedef struct {
    Py_ssize_t start, stop, step; /* a slice */
    Py_ssize_t *at, count;        /* else: count indexes */
} removal;

/* read_removal reads where (a slice, or a sequence of ints); 0 or -1. */
static int read_removal(PyObject *where, removal *r)
{
    r->at = NULL;
    r->count = 0;
    if (PySlice_Check(where))
        return PySlice_Unpack(where, &r->start, &r->stop, &r->step);
    PyObject *seq = PySequence_Tuple(where); /* a copy: __index__ may change a list */
    if (!seq)
        return -1;
    r->count = PyTuple_GET_SIZE(seq);
    r->at = EXT_MALLOC((size_t)(r->count ? r->count : 1) * sizeof *r->at);
    if (!r->at) {
        Py_DECREF(seq);
        PyErr_NoMemory();
        return -1;
    }
    int rc = 0;
    for (Py_ssize_t i = 0; rc == 0 && i < r->count; i++)
        rc = position_arg(PyTuple_GET_ITEM(seq, i), 0, &r->at[i]);
    Py_DECREF(seq);
    return rc;
}

static int compare_positions(const void *a, const void *b)
{
    Py_ssize_t x = *(const Py_ssize_t *)a, y = *(const Py_ssize_t *)b;
    return (x > y) - (x < y);
}

/*
 * place_removal turns r into ascending positions among n: a slice's
 * adjusted as a list's are (into start, count and step >= 1), indexes
 * made non-negative, checked (IndexError) and sorted, with none twice
 * (ValueError). 0 or -1.
 */
static int place_removal(removal *r, size_t n)
{
    if (!r->at) {
        r->count = PySlice_AdjustIndices((Py_ssize_t)n, &r->start, &r->stop, r->step);
        if (r->step < 0) { /* the same positions, ascending */
            r->start += (r->count - 1) * r->step;
            r->step = -r->step;
        }
        return 0;
    }
    for (Py_ssize_t i = 0; i < r->count; i++) {
        size_t pos;
        if (position_in(r->at[i], n, &pos) < 0)
            return -1;
        r->at[i] = (Py_ssize_t)pos;
    }
    qsort(r->at, (size_t)r->count, sizeof *r->at, compare_positions);
    for (Py_ssize_t i = 1; i < r->count; i++)
        if (r->at[i] == r->at[i - 1]) {
            PyErr_SetString(PyExc_ValueError, "_pop_many: a position is given twice");
            return -1;
        }
    return 0;
}

/* removal_at returns the i-th (ascending) position of r, placed. */
static size_t removal_at(const removal *r, Py_ssize_t i)
{
    return (size_t)(r->at ? r->at[i] : r->start + i * r->step);
}

/*
 * _pop_many(kind, where): removes the items at the positions where gives
 * (a slice, as a list's del l[slice] takes it, or a sequence of indexes)
 * and returns them, keys, values or pairs as kind says, in ascending
 * positions. The list is made first, so that a failure to allocate loses
 * nothing; the removal by positions cannot fail.
 */
PyObject *Map__pop_many(MapObject *m, PyObject *const *args, Py_ssize_t nargs)
{
    removal r;
    int kind = check_args("_pop_many", nargs, 2, 2) < 0 ? -1 : parse_kind(args[0]);
    if (kind < 0)
        return NULL;
    PyObject *items = NULL;
    if (read_removal(args[1], &r) < 0 || acquire(m, FOR_WRITE) < 0) {
        EXT_FREE(r.at);
        return NULL;
    }
    if (place_removal(&r, bpt_size(m->tree)) == 0)
        items = r.at ? items_listed(m, kind, r.at, r.count)
                     : items_at(m, kind, r.start, r.count, r.step);
    if (items && !r.at && r.step == 1) {
        bpt_remove_range_at(m->tree, (size_t)r.start, (size_t)(r.start + r.count), NULL);
    } else if (items) {
        for (Py_ssize_t i = r.count - 1; i >= 0; i--) /* the last first: no shifts */
            bpt_remove_at(m->tree, removal_at(&r, i), NULL, NULL);
    }
    release(m);
    EXT_FREE(r.at);
    return items;
}

/*
 * _delete_at(positions): removes the items at positions, a tuple of ints
 * in strictly descending order, each below the map's length, and
 * allocates nothing: what a SortedSet does when memory has run out (see
 * _sorted.py). ValueError (nothing removed) for positions out of order or
 * range.
 */
PyObject *Map__delete_at(MapObject *m, PyObject *positions)
{
    if (!PyTuple_Check(positions)) {
        PyErr_Format(PyExc_TypeError, "_delete_at expects a tuple, not %.100s",
                     Py_TYPE(positions)->tp_name);
        return NULL;
    }
    if (acquire(m, FOR_WRITE) < 0)
        return NULL;
    Py_ssize_t count = PyTuple_GET_SIZE(positions), above = (Py_ssize_t)bpt_size(m->tree);
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *p = PyTuple_GET_ITEM(positions, i);
        Py_ssize_t at = PyLong_CheckExact(p) ? PyLong_AsSsize_t(p) : -1;
        if (at < 0 || at >= above) {
            release(m);
            PyErr_Clear();
            PyErr_SetString(PyExc_ValueError,
                            "_delete_at: positions must be ints in the map, descending");
            return NULL;
        }
        above = at;
    }
    for (Py_ssize_t i = 0; i < count; i++)
        bpt_remove_at(m->tree, (size_t)PyLong_AsSsize_t(PyTuple_GET_ITEM(positions, i)), NULL,
                      NULL);
    release(m);
    Py_RETURN_NONE;
}
