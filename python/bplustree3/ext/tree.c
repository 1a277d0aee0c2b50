/*
 * tree.c — the core tree under a map: checks on new keys, the node searches
 * (typed for packed numbers and exact strs, Python's < otherwise), the
 * core's callbacks (comparisons, str hints, references, allocation),
 * making, replacing and unpacking a map's tree, and the one-key operations
 * every other file builds on: storing an item (put) and a key's position
 * (bound_rank). Above errors.c; below every other file.
 */
#include "ext.h"

/*
 * The map and list types, for the files below map.c and list.c that check
 * an object's type (bulk.c): set by module_exec before any object exists,
 * so that those files need not name the types' own files.
 */
PyTypeObject *map_type, *list_type;

/*
 * less_than is Python's a < b: 1, 0, or -1 with an exception (as
 * PyObject_RichCompareBool). A TypeError, such as that of a str compared
 * with an int, then also says that keys need a total order; one of a slice
 * (m[1:2]) is explained by the subscript instead (explain_slice in map.c).
 */
static inline int less_than(PyObject *a, PyObject *b)
{
    int lt = PyObject_RichCompareBool(a, b, Py_LT);
    if (lt < 0 && !PySlice_Check(a) && !PySlice_Check(b))
        explain_order_error();
    return lt;
}

/*
 * A numpy scalar type's name, after "numpy.": its bools and the floats a
 * double holds exactly (float64 is a float subclass; longdouble is not
 * among them: a double would round it).
 */
static const char *const numpy_bools[] = {"bool", "bool_"};
static const char *const numpy_floats[] = {"float64", "float32", "float16", "double", "single",
                                           "half"};

static bool named_in(const char *name, const char *const *names, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (strcmp(name, names[i]) == 0)
            return true;
    return false;
}

/*
 * number_object returns, for a key that stands for a number without being
 * an exact int or float, a new reference to the exact int or float it
 * equals: a bool or a numpy bool as 0 or 1; a numpy integer (through its
 * __index__) as its int; a numpy float16, float32 or float64 as its float.
 * NULL, with no exception, for anything else (a failure is cleared: the
 * key is then compared as an object, which gives the same answer). numpy's
 * types are told by their names, so that no numpy is imported; a subclass
 * of them is an object.
 */
PyObject *number_object(PyObject *key)
{
    if (PyBool_Check(key))
        return PyLong_FromLong(key == Py_True);
    const char *name = Py_TYPE(key)->tp_name;
    if (strncmp(name, "numpy.", 6) != 0)
        return NULL;
    name += 6;
    PyNumberMethods *nb = Py_TYPE(key)->tp_as_number;
    PyObject *number = NULL;
    if (named_in(name, numpy_bools, sizeof numpy_bools / sizeof *numpy_bools)) {
        int truth = PyObject_IsTrue(key);
        number = truth < 0 ? NULL : PyLong_FromLong(truth);
    } else if (named_in(name, numpy_floats, sizeof numpy_floats / sizeof *numpy_floats)) {
        double v = PyFloat_AsDouble(key); /* float64: read in place */
        number = v == -1.0 && PyErr_Occurred() ? NULL : PyFloat_FromDouble(v);
    } else if (nb && nb->nb_index) { /* numpy's integers, and only they, have __index__ */
        number = nb->nb_index(key);
    }
    if (number && !PyLong_CheckExact(number) && !PyFloat_CheckExact(number))
        Py_CLEAR(number);
    if (!number && PyErr_Occurred())
        PyErr_Clear();
    return number;
}

/*
 * classify_number_like classifies, for classify_key, a key that stands for
 * a number (number_object) as the int or float it equals; anything else,
 * and a value that does not pack (a uint64 over 2**63 - 1, a NaN), is
 * KEYS_ANY.
 */
key_kind classify_number_like(PyObject *key, void **packed)
{
    PyObject *number = number_object(key);
    if (!number)
        return KEYS_ANY;
    key_kind k = classify(number, packed);
    Py_DECREF(number);
    return k;
}

/*
 * check_bound refuses a key that cannot bound a search: a NaN (ValueError).
 * A lookup needs no such check: a NaN is simply absent. 0 or -1.
 */
int check_bound(PyObject *key)
{
    if (key && is_nan(key)) {
        PyErr_SetString(PyExc_ValueError, NAN_KEY_MESSAGE);
        return -1;
    }
    return 0;
}

/*
 * check_new_key refuses a key that cannot be stored: a NaN (ValueError), or
 * an object key that cannot be ordered against itself, such as None (the
 * TypeError of key < key). Once a map holds keys, a new key is compared with
 * them anyway; the first one is not, so it would be stored and then be
 * unreachable. Only that check runs code: for a first key that does not
 * order without code. 0 or -1.
 */
int check_new_key(PyObject *key, bool first)
{
    if (check_bound(key) < 0)
        return -1;
    if (first && !orders_without_code(key) && less_than(key, key) < 0)
        return -1;
    return 0;
}

/* load_be64 reads 8 bytes as a big-endian number: memcmp's order. */
static inline uint64_t load_be64(const unsigned char *p)
{
#if (defined(__GNUC__) || defined(__clang__)) && defined(__BYTE_ORDER__) &&                    \
    __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return __builtin_bswap64(v);
#else
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
#endif
}

/*
 * str_compare orders two exact strs as str's comparisons do (by code
 * point): memcmp when both are one byte per character, PyUnicode_Compare
 * otherwise (which cannot fail for two exact strs).
 */
static inline int str_compare(PyObject *a, PyObject *b)
{
    if (a == b)
        return 0;
    if (PyUnicode_KIND(a) == PyUnicode_1BYTE_KIND && PyUnicode_KIND(b) == PyUnicode_1BYTE_KIND) {
        Py_ssize_t la = PyUnicode_GET_LENGTH(a), lb = PyUnicode_GET_LENGTH(b);
        const unsigned char *pa = PyUnicode_1BYTE_DATA(a), *pb = PyUnicode_1BYTE_DATA(b);
        size_t common = (size_t)(la < lb ? la : lb);
        if (common >= 8) { /* most keys differ in their first eight characters */
            uint64_t x = load_be64(pa), y = load_be64(pb);
            if (x != y)
                return x < y ? -1 : 1;
        }
        int c = memcmp(pa, pb, common);
        return c ? c : (la > lb) - (la < lb);
    }
    return PyUnicode_Compare(a, b);
}

/*
 * py_hint is the hint of an exact str: its first eight UTF-8 bytes as a
 * big-endian number, zero-padded (UTF-8's byte order is code point order,
 * lone surrogates included). Other keys have none.
 */
static int py_hint(void *key, void *ctx, uint64_t *hint)
{
    (void)ctx;
    PyObject *s = key;
    if (!PyUnicode_CheckExact(s))
        return 0;
    Py_ssize_t len = PyUnicode_GET_LENGTH(s);
    if (PyUnicode_IS_ASCII(s) && len >= 8) {
        *hint = load_be64(PyUnicode_1BYTE_DATA(s));
        return 1;
    }
    int kind = PyUnicode_KIND(s);
    const void *data = PyUnicode_DATA(s);
    uint64_t h = 0;
    int bytes = 0;
    for (Py_ssize_t i = 0; i < len && bytes < 8; i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        unsigned char u[4];
        int n = c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
        if (n == 1) {
            u[0] = (unsigned char)c;
        } else {
            for (int j = n - 1; j > 0; j--, c >>= 6)
                u[j] = (unsigned char)(0x80 | (c & 0x3f));
            u[0] = (unsigned char)((0xf00u >> n) | c); /* 110xxxxx, 1110xxxx, 11110xxx */
        }
        for (int j = 0; j < n && bytes < 8; j++, bytes++)
            h = h << 8 | u[j];
    }
    *hint = bytes ? h << (8 * (8 - bytes)) : 0;
    return 1;
}

/* ---- Callbacks ------------------------------------------------------------ */

/*
 * totally_ordered tells whether key is of a type whose < is a total order
 * that agrees with its == (exact ints, floats other than NaN, strs, bytes):
 * of two such keys, one that is neither less nor greater than the other is
 * equal to it.
 */
static inline bool totally_ordered(PyObject *key)
{
    return orders_without_code(key) || PyBytes_CheckExact(key);
}

/*
 * check_equivalent is called on two keys that are neither less nor greater
 * than each other: 0 when they are equal, -1 with an exception otherwise
 * (TypeError naming both: keys with only a partial order, such as sets or
 * tuples holding a NaN, have no place in a sorted map) or when == fails.
 */
static int check_equivalent(PyObject *stored, PyObject *key)
{
    if (totally_ordered(stored) && totally_ordered(key))
        return 0;
    int eq = PyObject_RichCompareBool(stored, key, Py_EQ);
    if (eq < 0)
        return -1;
    if (!eq)
        PyErr_Format(PyExc_TypeError,
                     "keys need a total order: %R and %R are neither less than, greater "
                     "than nor equal to each other",
                     key, stored);
    return eq ? 0 : -1;
}

/*
 * py_compare orders two object keys (bulk load and the checker use it). In
 * a multiset, keys that are neither less nor greater than each other are
 * equivalent whatever == says: they stay side by side, as in a list.
 */
static int py_compare(void *a, void *b, void *ctx)
{
    MapObject *m = ctx;
    if (PyUnicode_CheckExact(a) && PyUnicode_CheckExact(b))
        return str_compare(a, b);
    int lt = less_than(a, b);
    if (lt < 0)
        return BPT_CMP_ERROR;
    if (lt)
        return -1;
    int gt = less_than(b, a);
    if (gt < 0)
        return BPT_CMP_ERROR;
    if (!gt && !(m && m->multi) && check_equivalent(a, b) < 0)
        return BPT_CMP_ERROR;
    return gt;
}

/* prefetch_str asks for a str's header and characters. */
PREFETCH_INLINE void prefetch_str(PyObject *s)
{
    PREFETCH_READ(s);
    PREFETCH_READ((char *)s + sizeof(PyASCIIObject));
}

/*
 * strided_bound searches the count keys first[0], first[stride], ... for
 * the first one not less than key and returns its number (count if none).
 */
static inline int strided_bound(void *const *first, int count, int stride, PyObject *key)
{
    int lo = 0, hi = count;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (str_compare(first[mid * stride], key) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/*
 * search_str is the lower bound of an exact str among exact strs. The strs
 * lie all over memory, and each step of a plain binary search would wait
 * for the cache miss of the step before. So it asks at once for about
 * sqrt(n) evenly spaced keys, finds the stretch between two of them, then
 * asks at once for that stretch's keys: two rounds of overlapping misses,
 * and no more comparisons than a binary search makes.
 */
static int search_str(void *const *keys, int n, PyObject *key, int *exact)
{
    if (n <= 4) { /* the keys whose hints tie with key's: usually one */
        for (int i = 0; i < n; i++) {
            int c = str_compare(keys[i], key);
            if (c >= 0) {
                *exact = c == 0;
                return i;
            }
        }
        *exact = 0;
        return n;
    }
    int step = 1;
    while (step * step < n)
        step++;
    int samples = n / step; /* keys[step - 1], keys[2 * step - 1], ... */
    for (int j = 1; j <= samples; j++)
        prefetch_str(keys[j * step - 1]);
    int s = samples ? strided_bound(keys + step - 1, samples, step, key) : 0;
    int from = s * step, to = s < samples ? from + step - 1 : n;
    for (int i = from; i < to; i++)
        prefetch_str(keys[i]);
    int at = from + strided_bound(keys + from, to - from, 1, key);
    *exact = at < n && str_compare(key, keys[at]) == 0;
    return at;
}

/*
 * search_objects is the lower bound of key with Python's <: a binary search
 * that asks only "keys[mid] < key", then one "key < keys[i]" to tell
 * equality, as bisect and sortedcontainers do, and for keys of types whose
 * order may be partial, one "==" to tell an equal key from one that is
 * merely not ordered against key (check_equivalent). Packed keys are made
 * into objects for the comparison. -1 when a comparison fails.
 */
static int search_objects(void *const *keys, int n, PyObject *key, packing p, bool multi,
                          int *exact)
{
    int lo = 0, hi = n;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        PyObject *k = key_object(p, keys[mid]);
        int r = k ? less_than(k, key) : -1;
        Py_XDECREF(k);
        if (r < 0)
            return -1;
        if (r)
            lo = mid + 1;
        else
            hi = mid;
    }
    *exact = 0;
    if (lo < n) {
        PyObject *k = key_object(p, keys[lo]);
        int r = k ? less_than(key, k) : -1;
        if (r == 0 && !multi && check_equivalent(k, key) < 0)
            r = -1;
        Py_XDECREF(k);
        if (r < 0)
            return -1;
        *exact = !r;
    }
    return lo;
}

/* py_search is the node search of every tree: the one its call chose. */
static int py_search(void *const *keys, int n, void *key, void *ctx, int *exact)
{
    MapObject *m = ctx;
    switch (m->search) {
    case SEARCH_INT:
        return bpt_search_i64(keys, n, key, NULL, exact);
    case SEARCH_FLOAT:
        return bpt_search_double(keys, n, key, NULL, exact);
    case SEARCH_STR:
        return search_str(keys, n, key, exact);
    default:
        return search_objects(keys, n, key, m->packing, m->multi, exact);
    }
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
    if (LOAD_SSIZE(&fail_in) > 0 && ADD_SSIZE(&fail_in, -1) == 1)
        return NULL;
    void *p = EXT_MALLOC(size);
    if (p)
        ADD_SSIZE(&live_blocks, 1);
    return p;
}

static void py_free(void *p, size_t size, void *ctx)
{
    (void)size;
    (void)ctx;
    ADD_SSIZE(&live_blocks, -1);
    EXT_FREE(p);
}

/*
 * new_tree makes an empty core tree for m with keys packed as p; NULL with
 * MemoryError. Packed keys are numbers: no references to count.
 */
bpt *new_tree(MapObject *m, unsigned capacity, packing p)
{
    bpt_config cfg = {
        .compare = p == PACK_INT ? bpt_compare_i64 : p == PACK_FLOAT ? bpt_compare_double
                                                                     : py_compare,
        .search = py_search,
        .ctx = m,
        .hint = p == PACK_STR ? py_hint : NULL,
        .retain_key = holds_objects(p) ? py_retain : NULL,
        .release_key = holds_objects(p) ? py_release : NULL,
        .retain_value = py_retain,
        .release_value = py_release,
        .leaf_capacity = capacity,
        .branch_capacity = capacity,
        .allocator = {.alloc = py_alloc, .free = py_free},
        .duplicates = m->multi,
    };
    bpt *t;
    if (bpt_new(&cfg, &t) != BPT_OK) {
        PyErr_NoMemory();
        return NULL;
    }
    return t;
}

/*
 * drop_tree frees a tree that no map uses any more (NULL: nothing). Its
 * items are released with no map to mark: the map they were in is
 * consistent by then, so a __del__ they run sees its new tree.
 */
void drop_tree(bpt *old)
{
    if (old) {
        bpt_set_context(old, NULL);
        bpt_free(old);
    }
}

/*
 * replace_tree makes t (keys packed as p) m's tree, with the search of p
 * as m's search between calls (see begin); it returns the old one.
 */
bpt *replace_tree(MapObject *m, bpt *t, packing p)
{
    bpt *old = m->tree;
    m->tree = t;
    m->packing = p;
    m->search = native_search(p);
    m->generation++;
    return old;
}

/*
 * unpack converts m's packed tree into one of key objects, in O(n): the
 * numbers become objects and a bulk load builds the new tree, so a failure
 * leaves the map as it was. 0, or -1 with MemoryError.
 */
static int unpack(MapObject *m)
{
    size_t n = bpt_size(m->tree), made = 0;
    void **keys = PyMem_Malloc((n ? n : 1) * sizeof *keys);
    void **vals = PyMem_Malloc((n ? n : 1) * sizeof *vals);
    bpt_cursor *c = NULL;
    bpt *t = NULL;
    int rc = -1;
    if (!keys || !vals || bpt_cursor_new(m->tree, &c) != BPT_OK) {
        PyErr_NoMemory();
        goto done;
    }
    size_t got = 0;
    bpt_cursor_first(c);
    bpt_cursor_read(c, keys, vals, n, &got);
    for (; made < n; made++)
        if (!(keys[made] = key_object(m->packing, keys[made])))
            goto done;
    if (!(t = new_tree(m, m->capacity, PACK_NONE)))
        goto done;
    bpt_status st = bpt_bulk_load(t, keys, vals, n); /* numbers: no Python code */
    if (st != BPT_OK) {
        raise_status(st);
        goto done;
    }
    drop_tree(replace_tree(m, t, PACK_NONE)); /* its values are held by t too */
    t = NULL;
    rc = 0;
done:
    bpt_free(t);
    bpt_cursor_free(c);
    while (made > 0)
        Py_DECREF((PyObject *)keys[--made]);
    PyMem_Free(keys);
    PyMem_Free(vals);
    return rc;
}

/*
 * convert_for converts m's packed keys to objects, for key, which does not
 * fit them, and picks key's word and search in the converted tree. 0, or -1
 * with an exception (the map unchanged).
 */
static int convert_for(MapObject *m, PyObject *key, void **word, search_kind *search)
{
    if (unpack(m) < 0)
        return -1;
    *search = search_for(m, key, word);
    return 0;
}

/*
 * prepare_insert makes m's tree ready to store key and picks the word and
 * the search that stand for it: an empty map's tree takes the packing key
 * suits; a packed map given a foreign key equal to a stored one uses the
 * stored number (1.0 replaces the value of 1, as in a dict), and one given
 * any other foreign key is converted to object keys. 0 with the search in
 * *search, or -1 with an exception (the map unchanged).
 */
int prepare_insert(MapObject *m, PyObject *key, void **word, search_kind *search)
{
    void *packed;
    if (check_new_key(key, bpt_size(m->tree) == 0) < 0)
        return -1;
    packing want = packing_for(classify_key(m, key, &packed));
    if (want != m->packing && bpt_size(m->tree) == 0) {
        bpt *t = new_tree(m, m->capacity, want);
        if (!t)
            return -1;
        drop_tree(replace_tree(m, t, want)); /* an empty one */
    }
    *search = search_for(m, key, word);
    if (*search != SEARCH_OBJECTS || m->packing == PACK_NONE)
        return 0; /* key fits the tree as it is */
    if (m->multi) /* 1.0 beside 1 is itself, not the number 1 */
        return convert_for(m, key, word, search);
    void *stored, *w;
    search_kind saved = enter(m, key, NULL, &w, NULL);
    bpt_status rc = bpt_get(m->tree, w, &stored, NULL);
    leave(m, saved);
    if (rc < 0)
        return raise_status(rc);
    if (rc == BPT_OK) {
        *word = stored;
        *search = native_search(m->packing);
        return 0;
    }
    return convert_for(m, key, word, search);
}

/*
 * put_locked stores key -> value in m, acquired for writing: 0 with *old
 * the value it replaced (owned; the caller drops it once m is released) or
 * NULL when it inserted, and *rank (when rank is not NULL) the item's
 * position, which undoes the change (see update_with). -1 with an
 * exception, m unchanged.
 */
int put_locked(MapObject *m, PyObject *key, PyObject *value, PyObject **old, size_t *rank)
{
    void *w, *replaced = NULL;
    *old = NULL;
    search_kind s;
    if (prepare_insert(m, key, &w, &s) < 0)
        return -1;
    bpt_status rc;
    if (s == SEARCH_INT) {
        /* A packed int (SEARCH_INT is the search of a map of them): the
         * core's typed descent, no search hook. */
        rc = bpt_put_i64_rank(m->tree, bpt_word_to_i64(w), value, &replaced, rank);
    } else {
        search_kind saved = begin(m, s);
        rc = bpt_put_rank(m->tree, w, value, &replaced, rank);
        leave(m, saved);
    }
    if (rc < 0)
        return raise_status(rc);
    if (rc == BPT_REPLACED) {
        m->values_epoch++;
        *old = replaced;
    }
    return 0;
}

/* put stores key -> value; 0 or -1. A replaced value is dropped once m is released. */
int put(MapObject *m, PyObject *key, PyObject *value)
{
    PyObject *old;
    if (acquire(m, FOR_WRITE) < 0)
        return -1;
    int rc = put_locked(m, key, value, &old, NULL);
    release(m);
    Py_XDECREF(old);
    return rc;
}

/*
 * bound_rank turns a bound into a position: the number of keys < key, or
 * <= key when after_equal: FOUND when key is present, ABSENT when it is
 * not, FAILED with an exception.
 */
find_result bound_rank(MapObject *m, PyObject *key, bool after_equal, size_t *rank)
{
    void *w;
    search_kind saved = enter(m, key, NULL, &w, NULL);
    find_result found = word_rank(m, w, after_equal, rank);
    leave(m, saved);
    return found;
}

/* word_rank is bound_rank for a key's word, its search entered (begin_read). */
find_result word_rank(MapObject *m, void *w, bool after_equal, size_t *rank)
{
    bpt_status rc = (after_equal && m->multi ? bpt_rank_upper : bpt_rank)(m->tree, w, rank);
    if (rc < 0) {
        raise_status(rc);
        return FAILED;
    }
    if (rc == BPT_OK && after_equal && !m->multi)
        (*rank)++;
    return rc == BPT_OK ? FOUND : ABSENT;
}

/* item_tuple returns a new (key, value) tuple from borrowed words. */
PyObject *item_tuple(packing p, void *k, void *v)
{
    PyObject *key = key_object(p, k);
    if (!key)
        return NULL;
    PyObject *pair = PyTuple_New(2);
    if (!pair) {
        Py_DECREF(key);
        return NULL;
    }
    PyTuple_SET_ITEM(pair, 0, key);
    PyTuple_SET_ITEM(pair, 1, Py_NewRef((PyObject *)v));
    return pair;
}

PyObject *mod_live_blocks(PyObject *mod, PyObject *Py_UNUSED(ignored))
{
    (void)mod;
    return PyLong_FromSsize_t(live_blocks);
}

PyObject *mod_fail_allocation(PyObject *mod, PyObject *arg)
{
    (void)mod;
    Py_ssize_t n = PyLong_AsSsize_t(arg);
    if (n == -1 && PyErr_Occurred())
        return NULL;
    fail_in = n > 0 ? n : 0;
    Py_RETURN_NONE;
}
