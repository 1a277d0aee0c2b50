/*
 * bulk.c — many items at once: reading another mapping's or an iterable's
 * pairs, update and the constructor (all or nothing: an undo log), copy,
 * one snapshot of the items, and from_sorted_items' bulk load; and the
 * maps these make, of the caller's class.
 */
#include "ext.h"

static PyObject *items_list(MapObject *m);

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
 * iterable's. It runs other's code before any lock is taken. 0, or -1 (the
 * caller then stores none of them).
 */
static int collect_pairs(PyObject *other, PyObject *pairs)
{
    if (PyObject_TypeCheck(other, map_type) || PyDict_CheckExact(other)) {
        PyObject *items = PyObject_TypeCheck(other, map_type) ? items_list((MapObject *)other)
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

/*
 * A change update_with made, to undo it by position: the item's position,
 * the value the put replaced (owned), or NULL when it inserted the item;
 * after an undo, the words the undo took back from the tree (owned), which
 * are dropped once the map is released.
 */
typedef struct {
    size_t rank;
    PyObject *old;
    void *key, *value;
} change;

/*
 * undo reverts changes[0..n) of m, acquired, the last first, so that each
 * change finds the map as it left it and its position is right: an
 * inserted item is removed, a replaced value put back. By position, with
 * no comparison and no allocation: it cannot fail.
 */
static void undo(MapObject *m, change *changes, Py_ssize_t n)
{
    for (Py_ssize_t i = n - 1; i >= 0; i--) {
        change *c = &changes[i];
        if (c->old)
            bpt_replace_at(m->tree, c->rank, c->old, &c->value);
        else
            bpt_remove_at(m->tree, c->rank, &c->key, &c->value);
    }
    m->values_epoch++;
}

/*
 * drop_changes drops the references changes[0..n) own, with the map
 * released; undone tells whether undo ran, and p is the map's packing then.
 */
static void drop_changes(change *changes, Py_ssize_t n, bool undone, packing p)
{
    for (Py_ssize_t i = 0; i < n; i++) {
        change *c = &changes[i];
        if (undone && !c->old)
            drop_key(p, c->key);
        Py_XDECREF(c->old);
        Py_XDECREF((PyObject *)c->value);
    }
}

/*
 * set_capacity gives m, acquired and empty, a new (empty) tree of capacity,
 * and hands the old one back through *old, with its packing, to put back
 * if what follows fails. 0, or -1 with an exception.
 */
/* What a map was before set_capacity gave it another (empty) tree. */
typedef struct {
    bpt *tree; /* NULL: the capacity did not change */
    packing packing;
    unsigned capacity;
} emptied_tree;

static int set_capacity(MapObject *m, unsigned capacity, emptied_tree *old)
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
    old->packing = m->packing;
    old->capacity = m->capacity;
    old->tree = replace_tree(m, t, m->packing);
    m->capacity = capacity;
    return 0;
}

/* check_keys refuses pairs whose keys include one that cannot bound a search (NaN). */
static int check_keys(PyObject *pairs)
{
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(pairs); i++)
        if (check_bound(PyTuple_GET_ITEM(PyList_GET_ITEM(pairs, i), 0)) < 0)
            return -1;
    return 0;
}

/*
 * store_pairs puts pairs into m, acquired, after giving it capacity (0:
 * unchanged): all of them, or none. Each put into a map that held items
 * logs its change, and a failure undoes the log (*undone); a map that was
 * empty is emptied again instead, so its puts log no position (and ints
 * take their typed path). Either way the old capacity comes back, and the
 * map holds exactly what it held (its keys may be left stored as objects,
 * if a key of another type made it convert them). 0, or -1 with an
 * exception. *done is the number of changes logged, to drop.
 */
static int store_pairs(MapObject *m, PyObject *pairs, unsigned capacity, change *changes,
                       Py_ssize_t *done, bool *undone)
{
    emptied_tree emptied = {NULL, PACK_NONE, 0};
    bool was_empty = bpt_size(m->tree) == 0;
    int rc = capacity ? set_capacity(m, capacity, &emptied) : 0;
    Py_ssize_t n = PyList_GET_SIZE(pairs);
    for (*done = 0; rc == 0 && *done < n; ++*done) {
        PyObject *pair = PyList_GET_ITEM(pairs, *done); /* our list: no one changes it */
        change *c = &changes[*done];
        rc = put_locked(m, PyTuple_GET_ITEM(pair, 0), PyTuple_GET_ITEM(pair, 1), &c->old,
                        was_empty ? NULL : &c->rank);
        if (rc < 0)
            break;
    }
    *undone = rc < 0 && !was_empty;
    if (rc < 0 && was_empty)
        /* Its items are all ours: the pairs hold them (the values replaced
         * meanwhile, the log), so the release runs no __del__. */
        bpt_clear(m->tree);
    else if (rc < 0)
        undo(m, changes, *done);
    if (rc < 0 && emptied.tree) { /* empty again: the old tree, packing and capacity back */
        drop_tree(replace_tree(m, emptied.tree, emptied.packing));
        m->capacity = emptied.capacity;
        emptied.tree = NULL;
    }
    drop_tree(emptied.tree); /* an empty one */
    return rc;
}

/*
 * update_with stores the items of other, then of kwds (either may be NULL),
 * in one hold of m's lock, after giving m capacity (0: unchanged): all of
 * them, or none (see store_pairs). The items are all read first, before m
 * is locked: a failure to read them stores none either (dict.update keeps
 * those read before the failure). 0 or -1.
 */
int update_with(MapObject *m, PyObject *other, PyObject *kwds, long capacity)
{
    PyObject *pairs = PyList_New(0);
    if (!pairs)
        return -1;
    if ((other && collect_pairs(other, pairs) < 0) || (kwds && collect_pairs(kwds, pairs) < 0) ||
        check_keys(pairs) < 0) {
        Py_DECREF(pairs);
        return -1;
    }
    Py_ssize_t n = PyList_GET_SIZE(pairs), done = 0;
    change *changes = EXT_CALLOC((size_t)(n ? n : 1), sizeof *changes);
    if (!changes) {
        Py_DECREF(pairs);
        PyErr_NoMemory();
        return -1;
    }
    int rc = acquire(m, FOR_WRITE);
    if (rc == 0) {
        bool undone = false;
        rc = store_pairs(m, pairs, (unsigned)capacity, changes, &done, &undone);
        packing p = m->packing;
        release(m);
        drop_changes(changes, done, undone, p);
    }
    EXT_FREE(changes);
    Py_DECREF(pairs);
    return rc;
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

/*
 * new_map calls type's tp_new for a new, empty map of type. A subclass's
 * __new__ may return anything: what is not a BPlusTreeMap is refused with
 * TypeError before any of its fields is touched.
 */
static MapObject *new_map(PyTypeObject *type)
{
    PyObject *empty = PyTuple_New(0);
    if (!empty)
        return NULL;
    PyObject *obj = type->tp_new(type, empty, NULL);
    Py_DECREF(empty);
    if (obj && !PyObject_TypeCheck(obj, map_type)) {
        PyErr_Format(PyExc_TypeError, "%.100s.__new__() returned %.100s, not a BPlusTreeMap",
                     type->tp_name, Py_TYPE(obj)->tp_name);
        Py_CLEAR(obj);
    }
    return (MapObject *)obj;
}

/*
 * install gives c, a map new_map made, the tree t (keys packed as p, of
 * capacity), whose callbacks are pointed at c. c must still be empty (a
 * __new__ may have returned a map in use). Takes t either way: 0, or -1
 * with TypeError and t freed.
 */
static int install(MapObject *c, bpt *t, packing p, unsigned capacity)
{
    bpt_set_context(t, c);
    if (acquire(c, FOR_WRITE) < 0) {
        drop_tree(t);
        return -1;
    }
    bpt *old = NULL;
    if (bpt_size(c->tree) == 0) {
        old = replace_tree(c, t, p);
        c->capacity = capacity;
        t = NULL;
    }
    release(c);
    drop_tree(old); /* an empty one */
    if (!t)
        return 0;
    drop_tree(t);
    PyErr_Format(PyExc_TypeError,
                 "cannot fill a %.100s that is not empty (did its __new__ return a map in use?)",
                 Py_TYPE(c)->tp_name);
    return -1;
}

/*
 * Map_copy makes the new map first (its type's tp_new may run code), then
 * copies m's tree in one hold of m's lock, and gives the copy to the new map.
 */
PyObject *Map_copy(MapObject *m, PyObject *Py_UNUSED(ignored))
{
    MapObject *c = new_map(Py_TYPE(m));
    if (!c)
        return NULL;
    if (acquire(m, FOR_READ) < 0) {
        Py_DECREF(c);
        return NULL;
    }
    bpt *copy;
    bpt_status rc = bpt_copy(m->tree, &copy);
    packing p = m->packing;
    unsigned capacity = m->capacity;
    release(m);
    if (rc != BPT_OK) {
        Py_DECREF(c);
        raise_status(rc);
        return NULL;
    }
    if (install(c, copy, p, capacity) < 0) {
        Py_DECREF(c);
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
        bpt_cursor_get(c, &k, &v); /* m is acquired: no one changes it meanwhile */
        PyObject *pair = item_tuple(m->packing, k, v);
        if (!pair) {
            Py_CLEAR(list);
            goto done;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, pair);
        bpt_cursor_next(c);
    }
done:
    bpt_cursor_free(c);
    release(m);
    return list;
}

/* What read_pairs found: the pairs read, a list to copy first, or an error. */
typedef enum { READ_OK, READ_COPY, READ_FAILED } read_result;

/* The pairs of from_sorted_items as the core takes them: n words each. */
typedef struct {
    void **keys, **vals;
    Py_ssize_t n;
    key_kind kinds;    /* of every key; KEYS_ANY when they differ */
    bool numbers_like; /* a map's: bools and numpy numbers as numbers (classify_key) */
} sorted_pairs;

/* start_read sizes out for n keys and values; false with MemoryError. */
static bool start_read(sorted_pairs *out, Py_ssize_t n)
{
    out->n = n;
    out->kinds = KEYS_NONE;
    out->keys = EXT_MALLOC((size_t)(n ? n : 1) * sizeof *out->keys);
    out->vals = EXT_MALLOC((size_t)(n ? n : 1) * sizeof *out->vals);
    if (!out->keys || !out->vals) {
        PyErr_NoMemory();
        return false;
    }
    return true;
}

/* The key of the j-th item of a list of pairs, or of a list of keys. */
static PyObject *pair_key(PyObject *seq, Py_ssize_t j)
{
    return PyTuple_GET_ITEM(PyList_GET_ITEM(seq, j), 0);
}

static PyObject *list_key(PyObject *seq, Py_ssize_t j) { return PyList_GET_ITEM(seq, j); }

/*
 * take_key stores key, the i-th key of the sorted input seq, in
 * out->keys[i]: its number while every key so far packs the same way, else
 * the object (when the packing breaks, the keys before it are read again
 * as objects, through key_at). With in_place (the caller's own list, read
 * where it lies), it takes only keys whose check and comparisons run no
 * Python code, since nothing can run until the bulk load is done: on
 * anything else it asks for a copy (READ_COPY).
 */
static read_result take_key(sorted_pairs *out, Py_ssize_t i, PyObject *key, bool in_place,
                            PyObject *(*key_at)(PyObject *, Py_ssize_t), PyObject *seq)
{
    if (in_place && i == 0 && !orders_without_code(key))
        return READ_COPY; /* check_new_key would run code */
    if (check_new_key(key, i == 0) < 0)
        return READ_FAILED;
    void *packed = NULL;
    key_kind k = classify(key, &packed);
    if (k == KEYS_ANY && out->numbers_like && !in_place) /* a copy: nothing can change it */
        k = classify_number_like(key, &packed);
    if (i > 0 && k != out->kinds && !holds_objects(packing_for(out->kinds)))
        for (Py_ssize_t j = 0; j < i; j++) /* unpack what was packed so far */
            out->keys[j] = key_at(seq, j);
    out->kinds = i == 0 || k == out->kinds ? k : KEYS_ANY;
    if (in_place && out->kinds == KEYS_ANY)
        return READ_COPY; /* its comparisons may run code */
    out->keys[i] = holds_objects(packing_for(out->kinds)) ? key : packed;
    return READ_OK;
}

/*
 * read_pairs reads the list seq's pairs into out, in order, classifying
 * each key as it goes (its packed number while every key so far packs);
 * the key objects of later pairs are prefetched, since the keys of a
 * sorted list usually lie all over memory.
 *
 * The borrowed pointers it collects must outlive any Python code that
 * could drop them before the bulk load takes its references. With in_place
 * (the caller's own list) it reads only exact 2-tuples whose keys need no
 * Python comparison (numbers to pack, strs), since nothing can run until
 * the bulk load is done: on anything else it asks for a copy (READ_COPY).
 * In a copy of its own, pairs that are not tuples become tuples.
 */
static read_result read_pairs(PyObject *seq, bool in_place, sorted_pairs *out)
{
    Py_ssize_t n = PyList_GET_SIZE(seq);
    if (!start_read(out, n))
        return READ_FAILED;
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
        if (!(PyTuple_CheckExact(pair) && PyTuple_GET_SIZE(pair) == 2)) {
            if (in_place)
                return READ_COPY;
            /* Another sequence: an immutable pair of its items takes its place. */
            PyObject *tuple = pair_tuple(pair, "from_sorted_items() item", i);
            if (!tuple)
                return READ_FAILED;
            PyList_SetItem(seq, i, tuple);
            pair = tuple;
        }
        read_result r = take_key(out, i, PyTuple_GET_ITEM(pair, 0), in_place, pair_key, seq);
        if (r != READ_OK)
            return r;
        out->vals[i] = PyTuple_GET_ITEM(pair, 1);
    }
    return READ_OK;
}

static void free_pairs(sorted_pairs *in)
{
    EXT_FREE(in->keys);
    EXT_FREE(in->vals);
    in->keys = in->vals = NULL;
}

/*
 * load_sorted bulk-loads the pairs into a new tree for m (capacity) and
 * returns it, with *p its packing; NULL with an exception.
 */
static bpt *load_sorted(MapObject *m, const sorted_pairs *in, unsigned capacity, packing *p)
{
    *p = packing_for(in->kinds);
    bpt *t = new_tree(m, capacity, *p);
    if (!t)
        return NULL;
    bpt_status rc = bpt_bulk_load(t, in->keys, in->vals, (size_t)in->n);
    if (rc == BPT_OK)
        return t;
    drop_tree(t);
    if (rc == BPT_EINVAL)
        PyErr_SetString(PyExc_ValueError,
                        "from_sorted_items() needs keys in strictly increasing order");
    else
        raise_status(rc);
    return NULL;
}

/*
 * fill_sorted reads items (read_pairs: in place when it can, else from a
 * copy), bulk loads them into a tree of capacity and gives it to m, which
 * must be empty. 0, or -1 with an exception and m unchanged.
 */
static int fill_sorted(MapObject *m, PyObject *items, unsigned capacity)
{
#ifdef Py_GIL_DISABLED
    bool in_place = false; /* another thread may change the list at any time */
#else
    bool in_place = PyList_CheckExact(items);
#endif
    PyObject *seq = in_place ? Py_NewRef(items) : PySequence_List(items);
    sorted_pairs in = {NULL, NULL, 0, KEYS_NONE, !m->multi};
    read_result r = seq ? read_pairs(seq, in_place, &in) : READ_FAILED;
    if (r == READ_COPY) {
        free_pairs(&in);
        Py_SETREF(seq, PySequence_List(items));
        r = seq ? read_pairs(seq, false, &in) : READ_FAILED;
    }
    packing p = PACK_NONE;
    bpt *t = r == READ_OK ? load_sorted(m, &in, capacity, &p) : NULL;
    free_pairs(&in);
    Py_XDECREF(seq);
    return t ? install(m, t, p, capacity) : -1;
}

/*
 * read_keys reads the list keys (and the list values beside them, or None
 * for every value) into out, each key through take_key, as read_pairs. In
 * place (the caller's lists), only keys that need no Python comparison are
 * read: nothing can change the lists until the bulk load is done. On
 * anything else it asks for copies (READ_COPY).
 */
static read_result read_keys(PyObject *keys, PyObject *vals, bool in_place, sorted_pairs *out)
{
    Py_ssize_t n = PyList_GET_SIZE(keys);
    if (!start_read(out, n))
        return READ_FAILED;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject **slots = ((PyListObject *)keys)->ob_item;
        if (i + 16 < n) /* the keys of a sorted list lie all over memory */
            PREFETCH_READ(slots[i + 16]);
        read_result r = take_key(out, i, slots[i], in_place, list_key, keys);
        if (r != READ_OK)
            return r;
        out->vals[i] = vals ? PyList_GET_ITEM(vals, i) : Py_None;
    }
    return READ_OK;
}

/* state returns the token of m's items: equal tokens, the same items. */
static PyObject *state(MapObject *m)
{
    return Py_BuildValue("(KK)", (unsigned long long)m->generation,
                         (unsigned long long)bpt_change_count(m->tree));
}

/* _state(): the token of this list's items now (see _load_sorted's expect). */
PyObject *List__state(MapObject *m, PyObject *Py_UNUSED(ignored))
{
    if (acquire(m, FOR_READ) < 0)
        return NULL;
    PyObject *token = state(m);
    release(m);
    return token;
}

/*
 * check_state: 0 when expect is None or is m's state token now (see
 * _state); else -1 with an exception: RuntimeError(message) when m
 * changed since the caller read expect.
 */
static int check_state(MapObject *m, PyObject *expect, const char *message)
{
    if (expect == Py_None)
        return 0;
    PyObject *now = state(m);
    int same = now ? PyObject_RichCompareBool(now, expect, Py_EQ) : -1;
    Py_XDECREF(now);
    if (same == 0)
        PyErr_SetString(PyExc_RuntimeError, message);
    return same == 1 ? 0 : -1;
}

/*
 * read_lists reads the pairs of the lists *keys and *vals (NULL: values
 * None) into in: in place where it can (read_keys), else from copies,
 * which then replace *keys and *vals (owned references, either way).
 * READ_OK, or READ_FAILED with an exception.
 */
static read_result read_lists(PyObject **keys, PyObject **vals, sorted_pairs *in)
{
#ifdef Py_GIL_DISABLED /* another thread may change the lists at any time */
    read_result r = READ_COPY;
#else
    read_result r = read_keys(*keys, *vals, true, in);
#endif
    if (r != READ_COPY)
        return r;
    free_pairs(in);
    bool with_vals = *vals != NULL;
    Py_SETREF(*keys, PyList_GetSlice(*keys, 0, PY_SSIZE_T_MAX));
    if (with_vals)
        Py_SETREF(*vals, PyList_GetSlice(*vals, 0, PY_SSIZE_T_MAX));
    if (!*keys || (with_vals && !*vals))
        return READ_FAILED;
    if (with_vals && PyList_GET_SIZE(*vals) != PyList_GET_SIZE(*keys)) {
        PyErr_SetString(PyExc_RuntimeError, "_load_sorted(): the lists changed size");
        return READ_FAILED;
    }
    return read_keys(*keys, *vals, false, in);
}

/*
 * _load_sorted(keys, values, capacity, replace, expect) fills this empty
 * list (a multiset), or with replace refills it in one step, from the list
 * keys, in order, with the list values beside them (None: every value
 * None). Keys whose comparisons run Python code are read from copies of
 * the lists, which that code cannot reach, and the list is pinned all
 * along: that code may read it, not change it. expect (None, or a _state()
 * token) is the state the caller read the list's items in: when the list
 * has changed since (code the caller's sort ran), RuntimeError, for its
 * items would be lost. ValueError when the keys are out of order. On any
 * error the list is unchanged.
 */
PyObject *List__load_sorted(MapObject *m, PyObject *const *args, Py_ssize_t nargs)
{
    long cap = check_args("_load_sorted", nargs, 5, 5) < 0 ? -1 : parse_capacity(args[2]);
    int replace = cap < 0 ? -1 : PyObject_IsTrue(args[3]);
    if (cap < 0 || replace < 0)
        return NULL;
    PyObject *keys = args[0], *vals = args[1] == Py_None ? NULL : args[1];
    if (!PyList_Check(keys) || (vals && (!PyList_Check(vals) ||
                                         PyList_GET_SIZE(vals) != PyList_GET_SIZE(keys)))) {
        PyErr_SetString(PyExc_TypeError, "_load_sorted() needs a list of keys and of values");
        return NULL;
    }
    if (acquire(m, FOR_WRITE) < 0)
        return NULL;
    sorted_pairs in = {NULL, NULL, 0, KEYS_NONE, false};
    Py_INCREF(keys);
    Py_XINCREF(vals);
    packing p = PACK_NONE;
    bpt *t = read_lists(&keys, &vals, &in) == READ_OK ? load_sorted(m, &in, (unsigned)cap, &p)
                                                       : NULL;
    bpt *dropped = t; /* t, or once t is installed, the list's old tree */
    bool installed = false;
    if (t && check_state(m, args[4],
                         "SortedList changed during its own update (by code that the "
                         "update's comparisons or key function ran): change it after the "
                         "update returns") == 0) {
        if (!replace && bpt_size(m->tree) != 0) {
            PyErr_SetString(PyExc_TypeError, "_load_sorted() fills an empty list");
        } else {
            bpt_set_context(t, m);
            dropped = replace_tree(m, t, p);
            m->capacity = (unsigned)cap;
            installed = true;
        }
    }
    release(m);
    free_pairs(&in);
    Py_XDECREF(keys);
    Py_XDECREF(vals);
    drop_tree(dropped);
    if (!installed)
        return NULL;
    Py_RETURN_NONE;
}

/*
 * radix_sort sorts the n words of a (packed as p) in order, stably (equal
 * numbers keep their order: -0.0 and 0.0 stay as they came), with tmp as
 * scratch: a least significant digit radix sort, a byte a pass, that skips
 * the passes where every word has the same byte.
 */
void radix_sort(void **a, void **tmp, size_t n, packing p)
{
    for (int shift = 0; shift < 64; shift += 8) {
        size_t count[257] = {0};
        for (size_t i = 0; i < n; i++)
            count[((order_bits(a[i], p) >> shift) & 0xff) + 1]++;
        bool one_bucket = false;
        for (int d = 1; d <= 256; d++)
            if (count[d] == n)
                one_bucket = true;
        if (one_bucket)
            continue;
        for (int d = 0; d < 256; d++)
            count[d + 1] += count[d];
        for (size_t i = 0; i < n; i++)
            tmp[count[(order_bits(a[i], p) >> shift) & 0xff]++] = a[i];
        memcpy(a, tmp, n * sizeof *a);
    }
}


/* What read_numbers found. */
typedef enum { NUMBERS_READ, NOT_NUMBERS, NUMBERS_FAILED } numbers_result;

/*
 * number_format tells the packing of a buffer's items from its format and
 * item size: int64 (PACK_INT) or float64 (PACK_FLOAT) in this machine's
 * byte order, else PACK_NONE.
 */
static packing number_format(const Py_buffer *view)
{
    const char *f = view->format ? view->format : "B";
    const uint16_t one = 1;
    bool little = *(const unsigned char *)&one == 1;
    if (*f == '@' || *f == '=' || (*f == '<' && little) || (*f == '>' && !little))
        f++;
    if (view->itemsize != 8 || f[0] == '\0' || f[1] != '\0')
        return PACK_NONE;
    return f[0] == 'q' || f[0] == 'l' ? PACK_INT : f[0] == 'd' ? PACK_FLOAT : PACK_NONE;
}

/*
 * read_numbers reads obj, when it exports a one-dimensional buffer of
 * int64 or float64 numbers (a numpy array of those, array.array('q') or
 * ('d'), a memoryview of them), into *words (EXT_MALLOC'd, *n of them) as
 * packing *p. NUMBERS_READ; NOT_NUMBERS when obj is not such a buffer
 * (nothing read, no exception); NUMBERS_FAILED with an exception (a NaN:
 * ValueError, as storing it would raise).
 */
static numbers_result read_numbers(PyObject *obj, void ***words, size_t *n, packing *p)
{
    Py_buffer view;
    if (!PyObject_CheckBuffer(obj))
        return NOT_NUMBERS;
    if (PyObject_GetBuffer(obj, &view, PyBUF_RECORDS_RO) < 0) {
        PyErr_Clear(); /* not a buffer of numbers: the general path reads it */
        return NOT_NUMBERS;
    }
    *p = view.ndim == 1 ? number_format(&view) : PACK_NONE;
    *n = *p == PACK_NONE ? 0 : (size_t)view.shape[0];
    numbers_result r = *p == PACK_NONE ? NOT_NUMBERS : NUMBERS_READ;
    *words = r == NUMBERS_READ ? EXT_MALLOC((*n ? *n : 1) * sizeof **words) : NULL;
    if (r == NUMBERS_READ && !*words) {
        PyErr_NoMemory();
        r = NUMBERS_FAILED;
    }
    for (size_t i = 0; r == NUMBERS_READ && i < *n; i++) {
        uint64_t bits;
        memcpy(&bits, (const char *)view.buf + (Py_ssize_t)i * view.strides[0], sizeof bits);
        double d;
        memcpy(&d, &bits, sizeof d);
        if (*p == PACK_FLOAT && d != d) {
            PyErr_SetString(PyExc_ValueError, NAN_KEY_MESSAGE);
            r = NUMBERS_FAILED;
        }
        (*words)[i] = *p == PACK_INT ? bpt_word_from_i64((int64_t)bits) : bpt_word_from_double(d);
    }
    PyBuffer_Release(&view);
    if (r != NUMBERS_READ) {
        EXT_FREE(*words);
        *words = NULL;
    }
    return r;
}

/*
 * sort_unique puts the n words (packed as p) in order and drops the
 * repeats, keeping the first of each (a dict keeps the first key; -0.0
 * and 0.0 are one key): their new count. Sorted input, the usual case,
 * is only checked. 0 words with MemoryError when scratch space fails.
 */
static size_t sort_unique(void **words, size_t n, packing p)
{
    bool strictly_increasing = true;
    for (size_t i = 1; i < n && strictly_increasing; i++)
        strictly_increasing = order_bits(words[i - 1], p) < order_bits(words[i], p);
    if (strictly_increasing)
        return n;
    void **tmp = EXT_MALLOC(n * sizeof *tmp);
    if (!tmp) {
        PyErr_NoMemory();
        return 0;
    }
    radix_sort(words, tmp, n, p); /* stable: the first of equal keys stays first */
    EXT_FREE(tmp);
    size_t kept = 1;
    for (size_t i = 1; i < n; i++)
        if (order_bits(words[i], p) != order_bits(words[kept - 1], p))
            words[kept++] = words[i];
    return kept;
}

/*
 * _load_numbers(keys, value, capacity): fills this empty map from keys,
 * when they are a one-dimensional buffer of int64 or float64 numbers
 * (read_numbers), each mapped to value, as fromkeys does: sorted as
 * machine numbers when they are not in order already, repeats dropped,
 * and bulk loaded. True when it did; False when keys is not such a
 * buffer (nothing changed: the caller takes the general path). On an
 * error (a NaN, an allocation) the map is unchanged.
 */
PyObject *Map__load_numbers(MapObject *m, PyObject *const *args, Py_ssize_t nargs)
{
    long cap = check_args("_load_numbers", nargs, 3, 3) < 0 ? -1 : parse_capacity(args[2]);
    if (cap < 0)
        return NULL;
    void **words = NULL, **vals = NULL;
    size_t n = 0;
    packing p = PACK_NONE;
    numbers_result r = read_numbers(args[0], &words, &n, &p);
    if (r == NOT_NUMBERS)
        Py_RETURN_FALSE;
    bpt *t = NULL;
    if (r == NUMBERS_READ && (n == 0 || (n = sort_unique(words, n, p)) > 0)) {
        vals = EXT_MALLOC((n ? n : 1) * sizeof *vals);
        t = vals ? new_tree(m, (unsigned)cap, p) : NULL;
        if (!vals)
            PyErr_NoMemory();
    }
    if (t) {
        for (size_t i = 0; i < n; i++)
            vals[i] = args[1];
        bpt_status rc = bpt_bulk_load(t, words, vals, n); /* numbers: no code runs */
        if (rc != BPT_OK) {
            drop_tree(t);
            t = NULL;
            raise_status(rc);
        }
    }
    EXT_FREE(words);
    EXT_FREE(vals);
    if (!t || install(m, t, p, (unsigned)cap) < 0)
        return NULL;
    Py_RETURN_TRUE;
}

/*
 * _update_pairs(pairs): puts each (key, value) pair of the list pairs, all
 * or nothing (update_with's undo log): a multiset's SortedKeyList.update.
 */
PyObject *List__update_pairs(MapObject *m, PyObject *pairs)
{
    if (update_with(m, pairs, NULL, 0) < 0)
        return NULL;
    Py_RETURN_NONE;
}

/*
 * from_sorted_items makes the map first (making an object may collect
 * garbage, and so run any code), then fills it.
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
    MapObject *m = new_map(type);
    if (m && fill_sorted(m, items, (unsigned)cap) < 0)
        Py_CLEAR(m);
    return (PyObject *)m;
}

/*
 * _load_sorted(items, capacity): fills this empty map as from_sorted_items
 * does (unpickling: the map exists before its items, which may hold it).
 */
PyObject *Map__load_sorted(MapObject *m, PyObject *const *args, Py_ssize_t nargs)
{
    long cap = check_args("_load_sorted", nargs, 2, 2) < 0 ? -1 : parse_capacity(args[1]);
    if (cap < 0 || fill_sorted(m, args[0], (unsigned)cap) < 0)
        return NULL;
    Py_RETURN_NONE;
}

/*
 * _swap(other, expect): exchanges the items of this list and other, a list
 * of the same kind (both SortedLists, or both SortedKeyLists), in O(1):
 * how a list takes a whole new order built aside (SortedDict's and
 * SortedSet's rebuilds), all or nothing. expect (None, or a _state()
 * token) is the state the caller read this list in: when it has changed
 * since, RuntimeError and nothing changes, for its new items would be lost.
 */
PyObject *List__swap(MapObject *m, PyObject *const *args, Py_ssize_t nargs)
{
    if (check_args("_swap", nargs, 2, 2) < 0)
        return NULL;
    if (!PyObject_TypeCheck(args[0], list_type) || args[0] == (PyObject *)m) {
        PyErr_SetString(PyExc_TypeError, "_swap() needs another SortedList");
        return NULL;
    }
    MapObject *o = (MapObject *)args[0];
    if (acquire(m, FOR_WRITE) < 0)
        return NULL;
    if (acquire(o, FOR_WRITE) < 0) {
        release(m);
        return NULL;
    }
    int rc = 0;
    if (o->hand_out != m->hand_out) {
        PyErr_SetString(PyExc_TypeError, "_swap() needs a list of the same kind");
        rc = -1;
    } else {
        rc = check_state(m, args[1],
                         "SortedList changed while its new order was built (by code that a "
                         "key function or comparison ran): change it after the call returns");
    }
    if (rc == 0) {
        packing p = m->packing;
        unsigned capacity = m->capacity;
        bpt *t = replace_tree(m, o->tree, o->packing);
        m->capacity = o->capacity;
        o->tree = NULL; /* replace_tree reads nothing of it */
        replace_tree(o, t, p);
        o->capacity = capacity;
        bpt_set_context(m->tree, m);
        bpt_set_context(o->tree, o);
    }
    release(o);
    release(m);
    if (rc < 0)
        return NULL;
    Py_RETURN_NONE;
}
