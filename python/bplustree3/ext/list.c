/*
 * list.c — SortedListBase, the C core of bplustree3.SortedList and
 * SortedKeyList: a map in the core's multiset mode (equal keys side by
 * side, in the order they came), whose values are None (SortedList) or the
 * values a key function ordered (SortedKeyList: the tree's keys are
 * key(value)). It hands out keys or values (hand_out), and has the list's
 * hot methods in C, so that no Python frame sits between a call and the
 * tree; the rest of the API is Python (_sortedlist.py).
 *
 * Equality follows sortedcontainers: a value is in a SortedList when the
 * item at its lower bound is == to it (one comparison, none for exact
 * ints, floats and strs, whose order decides equality); in a SortedKeyList
 * when an item among those whose keys are == to its key is == to it.
 */
#include "ext.h"

static PyObject *List_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    (void)args;
    (void)kwds;
    return new_map_object(type, true);
}

/* hand_out_at returns a new reference to what m hands out at position pos. */
static PyObject *hand_out_at(MapObject *m, size_t pos)
{
    void *k, *v;
    bpt_at(m->tree, pos, &k, &v);
    return m->hand_out == KIND_VALUES ? Py_NewRef((PyObject *)v) : key_object(m->packing, k);
}

/*
 * compare_objects: whether a op b is true (op Py_EQ or Py_NE), as Python's
 * operator says it, with no shortcut for a value and itself (a NaN is not
 * == to itself), as sortedcontainers asks; -1 on error.
 */
static int compare_objects(PyObject *a, PyObject *b, int op)
{
    PyObject *r = PyObject_RichCompare(a, b, op);
    if (!r)
        return -1;
    int truth = PyObject_IsTrue(r);
    Py_DECREF(r);
    return truth;
}

/* What run_step finds at one position of a run of equal keys. */
typedef enum { STEP_FAILED = -1, STEP_END, STEP_OTHER, STEP_EQUAL } run_step_result;

/*
 * run_step looks at the item at position i of m, in a run of keys not !=
 * to key (sortedcontainers' test): STEP_END when its key is != to key (the
 * run is over), STEP_EQUAL when its value is == to value, STEP_OTHER when
 * it is not, STEP_FAILED with an exception. m must be acquired: the Python
 * code that == and != run may read it but not change it, so the positions
 * stay valid.
 */
static run_step_result run_step(MapObject *m, PyObject *key, PyObject *value, size_t i)
{
    void *k, *v;
    bpt_at(m->tree, i, &k, &v);
    PyObject *stored = key_object(m->packing, k);
    int other_key = stored ? compare_objects(stored, key, Py_NE) : -1;
    Py_XDECREF(stored);
    if (other_key != 0)
        return other_key < 0 ? STEP_FAILED : STEP_END;
    PyObject *held = Py_NewRef((PyObject *)v); /* == may drop the tree's */
    int eq = compare_objects(held, value, Py_EQ);
    Py_DECREF(held);
    return eq < 0 ? STEP_FAILED : eq ? STEP_EQUAL : STEP_OTHER;
}

/*
 * count_run counts the values == to value in the run of key that begins at
 * position rank (see run_step): the count, or -1 with an exception.
 */
static Py_ssize_t count_run(MapObject *m, PyObject *key, PyObject *value, size_t rank)
{
    Py_ssize_t total = 0;
    for (size_t i = rank, n = bpt_size(m->tree); i < n; i++) {
        run_step_result r = run_step(m, key, value, i);
        if (r == STEP_FAILED)
            return -1;
        if (r == STEP_END)
            break;
        total += r == STEP_EQUAL;
    }
    return total;
}

/*
 * find_in_run finds the first value == to value at a position not below
 * from, in the run of key that begins at position rank (see run_step):
 * FOUND with *pos, ABSENT, or FAILED with an exception.
 */
static find_result find_in_run(MapObject *m, PyObject *key, PyObject *value, size_t rank,
                               size_t from, size_t *pos)
{
    for (size_t i = rank, n = bpt_size(m->tree); i < n; i++) {
        run_step_result r = run_step(m, key, value, i);
        if (r == STEP_FAILED)
            return FAILED;
        if (r == STEP_END)
            return ABSENT;
        if (r == STEP_EQUAL && i >= from) {
            *pos = i;
            return FOUND;
        }
    }
    return ABSENT;
}

/*
 * locate finds value in m, acquired, where sortedcontainers looks: FOUND
 * with *pos its position, ABSENT, or FAILED with an exception. key is the
 * value's key (the value itself in a SortedList). In a SortedList, the
 * item at the value's lower bound, if it is == to the value; in a
 * SortedKeyList, the first item from the key's lower bound on whose value
 * is == to the value, while the keys are not != to the key.
 */
static find_result locate(MapObject *m, PyObject *key, PyObject *value, size_t *pos)
{
    size_t rank = 0, n = bpt_size(m->tree);
    find_result found = bound_rank(m, key, false, &rank);
    if (found == FAILED || rank == n)
        return found == FAILED ? FAILED : ABSENT;
    if (m->hand_out == KIND_KEYS) {
        *pos = rank;
        void *unused;
        if (search_for(m, key, &unused) != SEARCH_OBJECTS)
            return found; /* an exact int, float or str: equal when neither is less */
        PyObject *stored = hand_out_at(m, rank);
        int eq = stored ? compare_objects(stored, value, Py_EQ) : -1;
        Py_XDECREF(stored);
        return eq < 0 ? FAILED : eq ? FOUND : ABSENT;
    }
    return find_in_run(m, key, value, rank, 0, pos);
}

/* find: whether value (whose key is key) is in m: FOUND, ABSENT or FAILED. */
static find_result find(MapObject *m, PyObject *key, PyObject *value)
{
    PyObject *stored_value = NULL;
    if (m->hand_out == KIND_KEYS && quick_lookup(m, key, &stored_value)) {
        /* an exact int or str: its order decides */
        bool present = stored_value != NULL;
        Py_XDECREF(stored_value);
        return present ? FOUND : ABSENT;
    }
    if (is_nan(key))
        return ABSENT;
    if (acquire(m, FOR_READ) < 0)
        return FAILED;
    size_t pos;
    find_result rc = locate(m, key, value, &pos);
    release(m);
    return rc;
}

/*
 * drop removes value (whose key is key) from m: FOUND when it was there,
 * ABSENT, or FAILED with an exception. The removed item is dropped after m
 * is released.
 */
static find_result drop(MapObject *m, PyObject *key, PyObject *value)
{
    if (is_nan(key))
        return ABSENT;
    if (acquire(m, FOR_WRITE) < 0)
        return FAILED;
    size_t pos;
    void *k = NULL, *v = NULL, *w;
    find_result rc;
    search_kind s = m->hand_out == KIND_KEYS ? search_for(m, key, &w) : SEARCH_OBJECTS;
    if (s != SEARCH_OBJECTS) { /* an exact int, float or str: its order decides, no == */
        bpt_status st = remove_word(m, s, w, &k, &v);
        rc = st == BPT_OK ? FOUND : st == BPT_NOTFOUND ? ABSENT : FAILED;
        if (rc == FAILED)
            raise_status(st);
    } else if ((rc = locate(m, key, value, &pos)) == FOUND) {
        bpt_remove_at(m->tree, pos, &k, &v);
    }
    packing p = m->packing;
    release(m);
    if (rc == FOUND) {
        drop_key(p, k);
        Py_DECREF((PyObject *)v);
    }
    return rc;
}

static int refuse_keyed(MapObject *m, const char *name)
{
    if (m->hand_out == KIND_KEYS)
        return 0;
    PyErr_Format(PyExc_TypeError, "%s() of a SortedKeyList takes its key function's path", name);
    return -1;
}

static PyObject *List_add(MapObject *m, PyObject *value)
{
    if (refuse_keyed(m, "add") < 0 || put(m, value, Py_None) < 0)
        return NULL;
    Py_RETURN_NONE;
}

/* _add(key, value): a SortedKeyList's add, key = key(value). */
static PyObject *List__add(MapObject *m, PyObject *const *args, Py_ssize_t nargs)
{
    if (check_args("_add", nargs, 2, 2) < 0 || put(m, args[0], args[1]) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static int List_contains(MapObject *m, PyObject *value)
{
    if (m->hand_out != KIND_KEYS) {
        PyErr_SetString(PyExc_TypeError, "a SortedKeyList's __contains__ needs its key");
        return -1;
    }
    return (int)find(m, value, value); /* sq_contains: 1, 0, or -1 */
}

static PyObject *List_discard(MapObject *m, PyObject *value)
{
    if (refuse_keyed(m, "discard") < 0 || drop(m, value, value) == FAILED)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *List_remove(MapObject *m, PyObject *value)
{
    find_result rc = refuse_keyed(m, "remove") < 0 ? FAILED : drop(m, value, value);
    if (rc == FAILED)
        return NULL;
    if (rc == ABSENT) {
        PyErr_Format(PyExc_ValueError, "%R not in list", value);
        return NULL;
    }
    Py_RETURN_NONE;
}

/* _find(key, value): whether value, whose key is key, is in the list. */
static PyObject *List__find(MapObject *m, PyObject *const *args, Py_ssize_t nargs)
{
    find_result rc = check_args("_find", nargs, 2, 2) < 0 ? FAILED : find(m, args[0], args[1]);
    return rc == FAILED ? NULL : PyBool_FromLong(rc == FOUND);
}

/* _discard(key, value): removes value, whose key is key; whether it was there. */
static PyObject *List__discard(MapObject *m, PyObject *const *args, Py_ssize_t nargs)
{
    find_result rc = check_args("_discard", nargs, 2, 2) < 0 ? FAILED : drop(m, args[0], args[1]);
    return rc == FAILED ? NULL : PyBool_FromLong(rc == FOUND);
}

/* count: how many values are neither less nor greater than value. */
static PyObject *List_count(MapObject *m, PyObject *value)
{
    size_t lo = 0, hi = 0;
    if (refuse_keyed(m, "count") < 0)
        return NULL;
    if (is_nan(value))
        return PyLong_FromLong(0);
    read_hold h;
    void *w;
    if (begin_read(m, value, &w, &h) < 0)
        return NULL;
    find_result rc = word_rank(m, w, false, &lo);
    if (rc != FAILED)
        rc = word_rank(m, w, true, &hi);
    end_read(m, &h);
    return rc == FAILED ? NULL : PyLong_FromSize_t(hi - lo);
}

/*
 * _count(key, value): how many items are == value among those whose keys
 * are == key (a SortedKeyList's count).
 */
static PyObject *List__count(MapObject *m, PyObject *const *args, Py_ssize_t nargs)
{
    if (check_args("_count", nargs, 2, 2) < 0)
        return NULL;
    PyObject *key = args[0], *value = args[1];
    if (is_nan(key))
        return PyLong_FromLong(0);
    if (acquire(m, FOR_READ) < 0)
        return NULL;
    size_t rank = 0;
    Py_ssize_t total = bound_rank(m, key, false, &rank) == FAILED
                           ? -1
                           : count_run(m, key, value, rank);
    release(m);
    return total < 0 ? NULL : PyLong_FromSsize_t(total);
}

/* index_arg reads an optional start or stop of index(): None (or absent),
 * or an int, clipped to the Py_ssize_t range (its use needs no more). */
static int index_arg(PyObject *arg, Py_ssize_t *out)
{
    if (!arg || arg == Py_None)
        return 0;
    Py_ssize_t v = PyNumber_AsSsize_t(arg, NULL);
    if (v == -1 && PyErr_Occurred())
        return -1;
    *out = v;
    return 0;
}

/*
 * index_in finds, with m acquired, the position of the first value equal
 * to value (whose key is key) among positions [start, stop), clamped as
 * list.index clamps them, as sortedcontainers finds it: in a SortedList,
 * the value at its lower bound if it is == to value, when that position is
 * in range, or start when the run of values equal to it covers start; in a
 * SortedKeyList, the first value == to value from start on among those
 * whose keys are not != to key. FOUND with *at, ABSENT, or FAILED with an
 * exception.
 */
static find_result index_in(MapObject *m, PyObject *key, PyObject *value, Py_ssize_t start,
                    Py_ssize_t stop, size_t *at)
{
    Py_ssize_t n = (Py_ssize_t)bpt_size(m->tree);
    start = start < 0 ? (start + n < 0 ? 0 : start + n) : start;
    stop = stop < 0 ? stop + n : (stop > n ? n : stop);
    if (n == 0 || stop <= start || is_nan(key))
        return ABSENT;
    size_t pos = 0, upper = 0;
    find_result rc;
    if (m->hand_out == KIND_VALUES) {
        if ((rc = bound_rank(m, key, false, &pos)) != FAILED)
            rc = find_in_run(m, key, value, pos, (size_t)start, &pos);
    } else if ((rc = locate(m, key, value, &pos)) == FOUND && (Py_ssize_t)pos < start) {
        /* before start: the run of equal values may reach it */
        if (bound_rank(m, value, true, &upper) == FAILED)
            return FAILED;
        rc = (Py_ssize_t)upper > start ? FOUND : ABSENT;
        pos = (size_t)start;
    }
    *at = pos;
    return rc == FOUND && (Py_ssize_t)pos >= stop ? ABSENT : rc;
}

/* finish_index gives index()'s result: the position, or ValueError. */
static PyObject *finish_index(find_result rc, size_t at, PyObject *value)
{
    if (rc == FAILED)
        return NULL;
    if (rc == ABSENT) {
        PyErr_Format(PyExc_ValueError, "%R is not in list", value);
        return NULL;
    }
    return PyLong_FromSize_t(at);
}

/* index(value, start=None, stop=None): see index_in. O(log n). */
static PyObject *List_index(MapObject *m, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"value", "start", "stop", NULL};
    PyObject *value, *start_arg = NULL, *stop_arg = NULL;
    Py_ssize_t start = 0, stop = PY_SSIZE_T_MAX;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|OO:index", kwlist, &value, &start_arg,
                                     &stop_arg) ||
        refuse_keyed(m, "index") < 0 || index_arg(start_arg, &start) < 0 ||
        index_arg(stop_arg, &stop) < 0 || acquire(m, FOR_READ) < 0)
        return NULL;
    size_t at = 0;
    find_result rc = index_in(m, value, value, start, stop, &at);
    release(m);
    return finish_index(rc, at, value);
}

/*
 * _index(key_function, value, start, stop): a SortedKeyList's index (see
 * index_in). As in sortedcontainers, an empty list or range raises
 * ValueError before key_function(value) is called; it is called with the
 * list not held, and may change it.
 */
static PyObject *List__index(MapObject *m, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t start = 0, stop = PY_SSIZE_T_MAX;
    if (check_args("_index", nargs, 4, 4) < 0 || index_arg(args[2], &start) < 0 ||
        index_arg(args[3], &stop) < 0)
        return NULL;
    Py_ssize_t n = Map_length(m);
    if (n < 0)
        return NULL;
    Py_ssize_t lo = start < 0 ? (start + n < 0 ? 0 : start + n) : start;
    Py_ssize_t hi = stop < 0 ? stop + n : (stop > n ? n : stop);
    if (n == 0 || hi <= lo)
        return finish_index(ABSENT, 0, args[1]);
    PyObject *key = PyObject_CallOneArg(args[0], args[1]);
    if (!key)
        return NULL;
    size_t at = 0;
    find_result rc = FAILED;
    if (acquire(m, FOR_READ) == 0) {
        rc = index_in(m, key, args[1], start, stop, &at);
        release(m);
    }
    Py_DECREF(key);
    return finish_index(rc, at, args[1]);
}

/* ---- Numbers in bulk ------------------------------------------------ */

/*
 * pack_all reads the n objects of items as the numbers of one packing
 * (exact ints in 64 bits, or exact floats other than NaN) into words:
 * that packing, or PACK_NONE when some item is neither or they differ.
 */
static packing pack_all(PyObject *const *items, size_t n, void **words)
{
    packing p = PACK_NONE;
    for (size_t i = 0; i < n; i++) {
        key_kind k = classify(items[i], &words[i]);
        packing q = k == KEYS_INT ? PACK_INT : k == KEYS_FLOAT ? PACK_FLOAT : PACK_NONE;
        if (q == PACK_NONE || (i > 0 && q != p))
            return PACK_NONE;
        p = q;
    }
    return p;
}

/*
 * What _add_numbers merges: the new numbers, the list's own (read with its
 * state, to tell later whether it changed), and the scratch arrays.
 */
typedef struct {
    packing p;     /* the numbers' packing; PACK_NONE: they do not qualify */
    void **fresh;  /* the new numbers, k of them, sorted in place */
    size_t k;
    void **all;    /* n + k = total words each: the merge, */
    void **tmp;    /* the list's own (n), then the radix sort's scratch, */
    void **nones;  /* and the values */
    size_t n, total;
    unsigned capacity;
    uint64_t generation, version; /* the list's state when read */
} number_merge;

/*
 * read_new_numbers packs the exact list values into nm->fresh, setting
 * nm->p (PACK_NONE when they are not all numbers of one packing). 0, or -1
 * with an exception.
 */
static int read_new_numbers(PyObject *values, number_merge *nm)
{
#ifdef Py_GIL_DISABLED /* another thread may change the list: read a copy */
    PyObject *own = PyList_GetSlice(values, 0, PY_SSIZE_T_MAX);
#else /* reading runs no Python code: the list cannot change meanwhile */
    PyObject *own = Py_NewRef(values);
#endif
    if (!own)
        return -1;
    nm->k = (size_t)PyList_GET_SIZE(own);
    nm->fresh = EXT_MALLOC((nm->k ? nm->k : 1) * sizeof *nm->fresh);
    if (nm->fresh)
        nm->p = pack_all(((PyListObject *)own)->ob_item, nm->k, nm->fresh);
    Py_DECREF(own); /* the words are numbers: nothing refers to the objects */
    if (!nm->fresh) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

/*
 * read_list_numbers reads m's own words into nm->tmp, with its size,
 * capacity and state, and allocates the merge's arrays; when m holds keys
 * packed otherwise, it sets nm->p to PACK_NONE instead. 0, or -1 with an
 * exception.
 */
static int read_list_numbers(MapObject *m, number_merge *nm)
{
    if (acquire(m, FOR_READ) < 0)
        return -1;
    nm->n = bpt_size(m->tree);
    nm->capacity = m->capacity;
    nm->generation = m->generation;
    nm->version = bpt_change_count(m->tree);
    bool failed = false;
    if (nm->n > 0 && m->packing != nm->p) {
        nm->p = PACK_NONE;
    } else {
        nm->total = nm->n + nm->k;
        size_t size = (nm->total ? nm->total : 1) * sizeof(void *);
        nm->all = EXT_MALLOC(size);
        nm->tmp = EXT_MALLOC(size);
        nm->nones = EXT_MALLOC(size);
        bpt_cursor *c = NULL;
        failed = !nm->all || !nm->tmp || !nm->nones ||
                 (nm->n > 0 && bpt_cursor_new(m->tree, &c) != BPT_OK);
        if (!failed && nm->n > 0) { /* its words, in order */
            size_t got = 0;
            bpt_cursor_first(c);
            bpt_cursor_read(c, nm->tmp, NULL, nm->n, &got);
            bpt_cursor_free(c);
        }
    }
    release(m);
    if (failed)
        PyErr_NoMemory();
    return failed ? -1 : 0;
}

/*
 * merge_numbers sorts the new numbers and merges them with the list's own
 * (in nm->tmp), these before new equal ones, into nm->all.
 */
static void merge_numbers(number_merge *nm)
{
    void **fresh = nm->fresh, **own = nm->tmp, **all = nm->all;
    radix_sort(fresh, all, nm->k, nm->p);
    size_t i = 0, j = 0, out = 0;
    while (i < nm->n && j < nm->k) {
        bool new_first = order_bits(fresh[j], nm->p) < order_bits(own[i], nm->p);
        all[out++] = new_first ? fresh[j++] : own[i++];
    }
    while (i < nm->n)
        all[out++] = own[i++];
    while (j < nm->k)
        all[out++] = fresh[j++];
}

/* load_numbers makes a tree of nm->all, its values None: NULL with an exception. */
static bpt *load_numbers(MapObject *m, number_merge *nm)
{
    for (size_t x = 0; x < nm->total; x++)
        nm->nones[x] = Py_None;
    bpt *t = new_tree(m, nm->capacity, nm->p);
    if (!t)
        return NULL;
    bpt_status rc = bpt_bulk_load(t, nm->all, nm->nones, nm->total); /* numbers: no code */
    if (rc != BPT_OK) {
        drop_tree(t);
        raise_status(rc);
        return NULL;
    }
    return t;
}

/*
 * swap_in gives m the tree t, unless m changed since nm read it (a __del__
 * run by an allocation while m was not held): then the merge is stale and
 * t is dropped. Sets *swapped; 0, or -1 with an exception.
 */
static int swap_in(MapObject *m, bpt *t, const number_merge *nm, bool *swapped)
{
    if (acquire(m, FOR_WRITE) < 0) {
        drop_tree(t);
        return -1;
    }
    *swapped = m->generation == nm->generation && bpt_change_count(m->tree) == nm->version;
    bpt *old = NULL;
    if (*swapped) {
        bpt_set_context(t, m);
        old = replace_tree(m, t, nm->p);
        t = NULL;
    }
    release(m);
    drop_tree(old);
    drop_tree(t);
    return 0;
}

/*
 * _add_numbers(values): adds the list values to this SortedList when they
 * are all exact ints that fit in 64 bits, or all exact floats (not NaN),
 * and the list is empty or holds numbers packed the same way: sorted as
 * machine numbers (a radix sort, stable), merged with the list's own in
 * one pass (its values before new equal ones) and loaded into a new tree,
 * which then replaces the old in one step. True when it did, False when
 * the values do not qualify or the list changed meanwhile (nothing
 * changed: the caller takes the general path). Allocates up front; a
 * failure changes nothing.
 */
static PyObject *List__add_numbers(MapObject *m, PyObject *values)
{
    if (!PyList_CheckExact(values) || m->hand_out != KIND_KEYS)
        Py_RETURN_FALSE;
    number_merge nm = {.p = PACK_NONE};
    int rc = read_new_numbers(values, &nm);
    if (rc == 0 && nm.p != PACK_NONE)
        rc = read_list_numbers(m, &nm);
    bpt *t = NULL;
    if (rc == 0 && nm.p != PACK_NONE) {
        merge_numbers(&nm);
        t = load_numbers(m, &nm);
        rc = t ? 0 : -1;
    }
    EXT_FREE(nm.fresh);
    EXT_FREE(nm.all);
    EXT_FREE(nm.tmp);
    EXT_FREE(nm.nones);
    bool swapped = false;
    if (rc == 0 && t)
        rc = swap_in(m, t, &nm, &swapped);
    return rc < 0 ? NULL : PyBool_FromLong(swapped);
}

/* ---- Positions -------------------------------------------------------- */

static PyObject *get_slice(MapObject *m, PyObject *slice)
{
    Py_ssize_t start, stop, step;
    if (PySlice_Unpack(slice, &start, &stop, &step) < 0)
        return NULL;
    if (acquire(m, FOR_READ) < 0)
        return NULL;
    Py_ssize_t len = PySlice_AdjustIndices((Py_ssize_t)bpt_size(m->tree), &start, &stop, step);
    PyObject *list = PyList_New(len);
    for (Py_ssize_t i = 0, at = start; list && i < len; i++, at += step) {
        PyObject *item = hand_out_at(m, (size_t)at);
        if (!item)
            Py_CLEAR(list);
        else
            PyList_SET_ITEM(list, i, item);
    }
    release(m);
    return list;
}

static PyObject *List_subscript(MapObject *m, PyObject *index)
{
    if (PySlice_Check(index))
        return get_slice(m, index);
    Py_ssize_t i = PyNumber_AsSsize_t(index, PyExc_IndexError);
    if (i == -1 && PyErr_Occurred())
        return NULL;
    if (acquire(m, FOR_READ) < 0)
        return NULL;
    size_t pos;
    PyObject *item = NULL;
    if (position_in(i, bpt_size(m->tree), &pos) == 0)
        item = hand_out_at(m, pos);
    else
        PyErr_SetString(PyExc_IndexError, "list index out of range");
    release(m);
    return item;
}

static PyObject *List_item(MapObject *m, Py_ssize_t i)
{
    PyObject *index = PyLong_FromSsize_t(i);
    if (!index)
        return NULL;
    PyObject *item = List_subscript(m, index);
    Py_DECREF(index);
    return item;
}

/* del_slice removes the items a slice names, by position (it cannot fail). */
static int del_slice(MapObject *m, PyObject *slice)
{
    Py_ssize_t start, stop, step;
    if (PySlice_Unpack(slice, &start, &stop, &step) < 0)
        return -1;
    if (acquire(m, FOR_WRITE) < 0)
        return -1;
    Py_ssize_t len = PySlice_AdjustIndices((Py_ssize_t)bpt_size(m->tree), &start, &stop, step);
    if (step < 0 && len > 0) { /* the same positions, ascending */
        start += (len - 1) * step;
        step = -step;
    }
    if (len > 0 && step == 1) {
        bpt_remove_range_at(m->tree, (size_t)start, (size_t)start + (size_t)len, NULL);
    } else {
        for (Py_ssize_t i = len - 1; i >= 0; i--) /* from the end: positions stay */
            bpt_remove_at(m->tree, (size_t)(start + i * step), NULL, NULL);
    }
    release(m);
    return 0;
}

static int List_ass_subscript(MapObject *m, PyObject *index, PyObject *value)
{
    if (value) {
        PyErr_SetString(PyExc_NotImplementedError,
                        "use ``del sl[index]`` and ``sl.add(value)`` instead");
        return -1;
    }
    if (PySlice_Check(index))
        return del_slice(m, index);
    Py_ssize_t i = PyNumber_AsSsize_t(index, PyExc_IndexError);
    if (i == -1 && PyErr_Occurred())
        return -1;
    if (acquire(m, FOR_WRITE) < 0)
        return -1;
    size_t pos;
    void *k = NULL, *v = NULL;
    int rc = position_in(i, bpt_size(m->tree), &pos);
    if (rc == 0)
        bpt_remove_at(m->tree, pos, &k, &v);
    else
        PyErr_SetString(PyExc_IndexError, "list index out of range");
    packing p = m->packing;
    release(m);
    if (rc == 0) {
        drop_key(p, k);
        Py_DECREF((PyObject *)v);
    }
    return rc;
}

static PyObject *List_pop(MapObject *m, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t i = -1;
    if (check_args("pop", nargs, 0, 1) < 0)
        return NULL;
    if (nargs && (i = PyNumber_AsSsize_t(args[0], PyExc_IndexError)) == -1 && PyErr_Occurred())
        return NULL;
    if (acquire(m, FOR_WRITE) < 0)
        return NULL;
    size_t n = bpt_size(m->tree), pos;
    void *k = NULL, *v = NULL;
    PyObject *item = NULL;
    if (n == 0)
        PyErr_SetString(PyExc_IndexError, "pop index out of range");
    else if (position_in(i, n, &pos) < 0)
        PyErr_SetString(PyExc_IndexError, "list index out of range");
    else if ((item = hand_out_at(m, pos)) != NULL) /* made first: the removal cannot fail */
        bpt_remove_at(m->tree, pos, &k, &v);
    packing p = m->packing;
    release(m);
    if (item) {
        drop_key(p, k);
        Py_DECREF((PyObject *)v);
    }
    return item;
}

static PyObject *List_iter(MapObject *m) { return iter_all(m, m->hand_out, false); }

static PyObject *List_reversed(MapObject *m, PyObject *Py_UNUSED(ignored))
{
    return iter_all(m, m->hand_out, true);
}

/* _keyed(): makes this empty list hand out values (a SortedKeyList). */
/* empty_iter: iter(()), what sortedcontainers' ranges of an empty list give. */
static PyObject *empty_iter(void)
{
    PyObject *empty = PyTuple_New(0);
    PyObject *it = empty ? PyObject_GetIter(empty) : NULL;
    Py_XDECREF(empty);
    return it;
}

/*
 * islice(start=None, stop=None, reverse=False): see islice_of. As in
 * sortedcontainers, an empty list gives iter(()) before start and stop are
 * read.
 */
static PyObject *List_islice(MapObject *m, PyObject *const *args, Py_ssize_t nargs,
                             PyObject *kwnames)
{
    static const char *const names[] = {"start", "stop", "reverse"};
    PyObject *a[3];
    if (fast_kwargs("islice", names, 3, args, nargs, kwnames, a) < 0)
        return NULL;
    if (Map_length(m) == 0)
        return empty_iter();
    return islice_of(m, m->hand_out, a[0], a[1], a[2]);
}

/*
 * inclusive_flag reads inclusive[i] as a truth value where sortedcontainers
 * reads it, when the bound it is about is given (1 otherwise): 1, 0, or -1
 * (as PyObject_IsTrue), with a message that says what inclusive takes.
 */
static int inclusive_flag(PyObject *inclusive, Py_ssize_t i, PyObject *bound)
{
    if (bound == Py_None)
        return 1;
    if (!inclusive) /* the default, (True, True) */
        return 1;
    PyObject *flag;
    if (PyTuple_CheckExact(inclusive) && PyTuple_GET_SIZE(inclusive) > i) {
        flag = Py_NewRef(PyTuple_GET_ITEM(inclusive, i));
    } else {
        PyObject *at = PyLong_FromSsize_t(i);
        flag = at ? PyObject_GetItem(inclusive, at) : NULL;
        Py_XDECREF(at);
    }
    if (!flag) {
        const char *format = "%S: inclusive takes a pair of bools, (min_inclusive, "
                             "max_inclusive), such as (True, False); got %R";
        restate_error(PyExc_TypeError, format, inclusive);
        restate_error(PyExc_IndexError, format, inclusive);
        return -1;
    }
    int truth = PyObject_IsTrue(flag);
    Py_DECREF(flag);
    return truth;
}

/*
 * irange_with reads (bound, bound, inclusive, reverse) by names and makes
 * the iterator, as sortedcontainers' irange and irange_key do: an empty
 * list gives an empty iterator before anything is read; inclusive[0] and
 * inclusive[1] are read only for the bounds given.
 */
static PyObject *irange_with(MapObject *m, const char *name, const char *const *names,
                             PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    PyObject *a[4];
    if (fast_kwargs(name, names, 4, args, nargs, kwnames, a) < 0)
        return NULL;
    if (Map_length(m) == 0)
        return empty_iter();
    PyObject *lo = a[0] ? a[0] : Py_None, *hi = a[1] ? a[1] : Py_None;
    int lo_incl = inclusive_flag(a[2], 0, lo);
    int hi_incl = lo_incl < 0 ? -1 : inclusive_flag(a[2], 1, hi);
    int back = hi_incl < 0 ? -1 : a[3] ? PyObject_IsTrue(a[3]) : 0;
    if (back < 0)
        return NULL;
    key_range r = {lo, hi, lo_incl, hi_incl};
    return make_iter(m, m->hand_out, back, &r);
}

/* irange(minimum=None, maximum=None, inclusive=(True, True), reverse=False). */
static PyObject *List_irange(MapObject *m, PyObject *const *args, Py_ssize_t nargs,
                             PyObject *kwnames)
{
    static const char *const names[] = {"minimum", "maximum", "inclusive", "reverse"};
    if (refuse_keyed(m, "irange") < 0)
        return NULL;
    return irange_with(m, "irange", names, args, nargs, kwnames);
}

/* _irange_key(min_key=None, max_key=None, inclusive=(True, True),
 * reverse=False): a SortedKeyList's irange_key. */
static PyObject *List__irange_key(MapObject *m, PyObject *const *args, Py_ssize_t nargs,
                                  PyObject *kwnames)
{
    static const char *const names[] = {"min_key", "max_key", "inclusive", "reverse"};
    return irange_with(m, "irange_key", names, args, nargs, kwnames);
}

static PyObject *List__keyed(MapObject *m, PyObject *Py_UNUSED(ignored))
{
    if (acquire(m, FOR_WRITE) < 0)
        return NULL;
    bool empty = bpt_size(m->tree) == 0;
    if (empty)
        m->hand_out = KIND_VALUES;
    release(m);
    if (!empty) {
        PyErr_SetString(PyExc_TypeError, "_keyed() needs an empty list");
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyMethodDef List_methods[] = {
    {"add", (PyCFunction)List_add, METH_O,
     "add($self, value, /)\n--\n\nAdd value, after the values equal to it. O(log n)."},
    {"discard", (PyCFunction)List_discard, METH_O,
     "discard($self, value, /)\n--\n\nRemove the first value equal to value, if there is one. "
     "O(log n)."},
    {"remove", (PyCFunction)List_remove, METH_O,
     "remove($self, value, /)\n--\n\nRemove the first value equal to value; ValueError if there "
     "is none. O(log n)."},
    {"count", (PyCFunction)List_count, METH_O,
     "count($self, value, /)\n--\n\nThe number of values equal to value (neither less nor "
     "greater). O(log n)."},
    {"pop", (PyCFunction)(void (*)(void))List_pop, METH_FASTCALL,
     "pop($self, index=-1, /)\n--\n\nRemove and return the value at index (the last by "
     "default); IndexError if the list is empty or index out of range. O(log n)."},
    {"index", (PyCFunction)(void (*)(void))List_index, METH_VARARGS | METH_KEYWORDS,
     "index($self, /, value, start=None, stop=None)\n--\n\nThe position of the first value "
     "equal to value among positions start to stop; ValueError if there is none. O(log n)."},
    {"clear", (PyCFunction)Map_clear, METH_NOARGS,
     "clear($self, /)\n--\n\nRemove every value. O(n)."},
    {"bisect_left", (PyCFunction)Map_bisect_left, METH_O,
     "bisect_left($self, value, /)\n--\n\nThe position where value would go before the values "
     "equal to it: the number of values less than value. O(log n)."},
    {"bisect_right", (PyCFunction)Map_bisect_right, METH_O,
     "bisect_right($self, value, /)\n--\n\nThe position after the values equal to value: the "
     "number of values not greater than value. O(log n)."},
    {"islice", (PyCFunction)(void (*)(void))List_islice, METH_FASTCALL | METH_KEYWORDS,
     "islice($self, /, start=None, stop=None, reverse=False)\n--\n\nAn iterator over the "
     "values at positions start to stop (as a slice), in reverse with reverse. O(log n) to "
     "start."},
    {"irange", (PyCFunction)(void (*)(void))List_irange, METH_FASTCALL | METH_KEYWORDS,
     "irange($self, /, minimum=None, maximum=None, inclusive=(True, True), reverse=False)\n--\n"
     "\nAn iterator over the values from minimum to maximum (None: unbounded; inclusive says "
     "whether each bound is included). O(log n) to start."},
    {"_irange_key", (PyCFunction)(void (*)(void))List__irange_key,
     METH_FASTCALL | METH_KEYWORDS,
     "_irange_key($self, /, min_key=None, max_key=None, inclusive=(True, True), reverse=False)"
     "\n--\n\nAn iterator over the values whose keys lie from min_key to max_key (None: "
     "unbounded; inclusive says whether each bound is included). O(log n) to start."},
    {"__reversed__", (PyCFunction)List_reversed, METH_NOARGS,
     "__reversed__($self, /)\n--\n\nAn iterator over the values, largest first."},
    {"check", (PyCFunction)Map_check, METH_NOARGS,
     "check($self, /)\n--\n\nRun the C invariant checker; raise InvariantError naming the first "
     "violated invariant. O(n)."},
    {"__sizeof__", (PyCFunction)Map_sizeof, METH_NOARGS,
     "__sizeof__($self, /)\n--\n\nBytes of the list and its nodes, not counting the values. "
     "O(n / capacity)."},
    {"_add", (PyCFunction)(void (*)(void))List__add, METH_FASTCALL, NULL},
    {"_find", (PyCFunction)(void (*)(void))List__find, METH_FASTCALL, NULL},
    {"_discard", (PyCFunction)(void (*)(void))List__discard, METH_FASTCALL, NULL},
    {"_count", (PyCFunction)(void (*)(void))List__count, METH_FASTCALL, NULL},
    {"_index", (PyCFunction)(void (*)(void))List__index, METH_FASTCALL, NULL},
    {"_keyed", (PyCFunction)List__keyed, METH_NOARGS, NULL},
    {"_iter", (PyCFunction)(void (*)(void))Map__iter, METH_FASTCALL | METH_KEYWORDS, NULL},
    {"_islice", (PyCFunction)(void (*)(void))Map__islice, METH_FASTCALL, NULL},
    {"_load_sorted", (PyCFunction)(void (*)(void))List__load_sorted, METH_FASTCALL, NULL},
    {"_update_pairs", (PyCFunction)List__update_pairs, METH_O, NULL},
    {"_state", (PyCFunction)List__state, METH_NOARGS, NULL},
    {"_add_numbers", (PyCFunction)List__add_numbers, METH_O, NULL},
    {"_swap", (PyCFunction)(void (*)(void))List__swap, METH_FASTCALL, NULL},
    {"_pop_many", (PyCFunction)(void (*)(void))Map__pop_many, METH_FASTCALL, NULL},
    {"_delete_at", (PyCFunction)Map__delete_at, METH_O, NULL},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef List_getset[] = {
    {"capacity", (getter)Map_capacity, NULL, "the node capacity (values per node)", NULL},
    {"_key_storage", (getter)Map_key_storage, NULL,
     "how the keys are stored: 'int' or 'float' (packed numbers), 'str' (with "
     "hints) or 'object'", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMappingMethods List_as_mapping = {
    .mp_length = (lenfunc)Map_length,
    .mp_subscript = (binaryfunc)List_subscript,
    .mp_ass_subscript = (objobjargproc)List_ass_subscript,
};

static PySequenceMethods List_as_sequence = {
    .sq_length = (lenfunc)Map_length,
    .sq_item = (ssizeargfunc)List_item,
    .sq_contains = (objobjproc)List_contains,
};

PyTypeObject ListType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "bplustree3._bplustree3.SortedListBase",
    .tp_doc = "SortedListBase()\n--\n\nThe C core of bplustree3.SortedList; use that class.",
    .tp_basicsize = sizeof(MapObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_new = List_new,
    .tp_dealloc = (destructor)Map_dealloc,
    .tp_free = PyObject_GC_Del,
    .tp_traverse = (traverseproc)Map_traverse,
    .tp_clear = (inquiry)Map_clear_gc,
    .tp_iter = (getiterfunc)List_iter,
    .tp_as_mapping = &List_as_mapping,
    .tp_as_sequence = &List_as_sequence,
    .tp_methods = List_methods,
    .tp_getset = List_getset,
    .tp_weaklistoffset = offsetof(MapObject, weakreflist),
};
