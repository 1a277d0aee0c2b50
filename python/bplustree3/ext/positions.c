/*
 * positions.c — positional access through the core's subtree counts, each
 * O(log n): peekitem, index, bisect_left/right, the islice iterator, and
 * bound_rank (a key's position), which range iterators use too.
 */
#include "ext.h"

/*
 * bound_rank turns a bound into a position: the number of keys < key, or
 * <= key when after_equal. 1 when key is present, 0 when it is not, -1 on
 * error.
 */
int bound_rank(MapObject *m, PyObject *key, bool after_equal, size_t *rank)
{
    void *w;
    search_kind saved = enter(m, key, NULL, &w, NULL);
    bpt_status rc = bpt_rank(m->tree, w, rank);
    leave(m, saved);
    if (rc < 0)
        return raise_status(rc);
    if (rc == BPT_OK && after_equal)
        (*rank)++;
    return rc == BPT_OK;
}

/*
 * position_of turns index (a Python int, negative from the end; NULL: -1)
 * into a position among n items; -1 with IndexError (or TypeError).
 */
static int position_of(PyObject *index, size_t n, size_t *pos)
{
    Py_ssize_t i = index ? PyNumber_AsSsize_t(index, PyExc_IndexError) : -1;
    if (i == -1 && PyErr_Occurred())
        return -1;
    if (i < 0)
        i += (Py_ssize_t)n;
    if (i < 0 || (size_t)i >= n) {
        PyErr_SetString(PyExc_IndexError, "BPlusTreeMap index out of range");
        return -1;
    }
    *pos = (size_t)i;
    return 0;
}

PyObject *Map_peekitem(MapObject *m, PyObject *const *args, Py_ssize_t nargs)
{
    if (!check_args("peekitem", nargs, 0, 1) || acquire(m, FOR_READ) < 0)
        return NULL;
    PyObject *r = NULL;
    size_t pos;
    void *k, *v;
    if (position_of(nargs ? args[0] : NULL, bpt_size(m->tree), &pos) == 0 &&
        bpt_at(m->tree, pos, &k, &v) == BPT_OK)
        r = item_tuple(m->packing, k, v);
    map_unlock(m);
    return r;
}

/* bisect returns the position of key's lower (or upper) bound. */
static PyObject *bisect(MapObject *m, PyObject *key, bool right)
{
    size_t rank = 0;
    if (check_bound(key) < 0 || acquire(m, FOR_READ) < 0)
        return NULL;
    int rc = bound_rank(m, key, right, &rank);
    map_unlock(m);
    return rc < 0 ? NULL : PyLong_FromSize_t(rank);
}

PyObject *Map_bisect_left(MapObject *m, PyObject *key) { return bisect(m, key, false); }
PyObject *Map_bisect_right(MapObject *m, PyObject *key) { return bisect(m, key, true); }
/*
 * slice_bound reads a slice bound (None or an int, negative from the end)
 * as a position among n, clamped as list slicing does. 0 or -1.
 */
static int slice_bound(PyObject *obj, size_t n, size_t dflt, size_t *pos)
{
    if (obj == NULL || obj == Py_None) {
        *pos = dflt;
        return 0;
    }
    Py_ssize_t i = PyNumber_AsSsize_t(obj, NULL); /* clamped on overflow */
    if (i == -1 && PyErr_Occurred())
        return -1;
    if (i < 0)
        i = i + (Py_ssize_t)n < 0 ? 0 : i + (Py_ssize_t)n;
    *pos = (size_t)i > n ? n : (size_t)i;
    return 0;
}

PyObject *Map_index(MapObject *m, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"key", "start", "stop", NULL};
    PyObject *key, *start = Py_None, *stop = Py_None, *r = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|OO:index", kwlist, &key, &start, &stop))
        return NULL;
    if (acquire(m, FOR_READ) < 0)
        return NULL;
    size_t n = bpt_size(m->tree), lo, hi, rank = 0;
    if (slice_bound(start, n, 0, &lo) == 0 && slice_bound(stop, n, n, &hi) == 0 &&
        !is_nan(key) && bound_rank(m, key, false, &rank) == 1 && lo <= rank && rank < hi)
        r = PyLong_FromSize_t(rank);
    map_unlock(m);
    if (!r && !PyErr_Occurred())
        PyErr_Format(PyExc_ValueError, "%R is not in BPlusTreeMap", key);
    return r;
}

/*
 * _islice(kind, start, stop, reverse): an iterator over the items at the
 * positions start to stop (slice bounds, None, negatives from the end).
 */
PyObject *Map__islice(MapObject *m, PyObject *const *args, Py_ssize_t nargs)
{
    int kind = check_args("_islice", nargs, 4, 4) ? parse_kind(args[0]) : -1;
    int reverse = kind < 0 ? -1 : PyObject_IsTrue(args[3]);
    if (reverse < 0 || acquire(m, FOR_READ) < 0)
        return NULL;
    size_t n = bpt_size(m->tree), span[2];
    PyObject *it = NULL;
    if (slice_bound(args[1], n, 0, &span[0]) == 0 && slice_bound(args[2], n, n, &span[1]) == 0)
        it = make_iter_locked(m, kind, reverse, Py_None, Py_None, true, false, span);
    map_unlock(m);
    return it;
}
