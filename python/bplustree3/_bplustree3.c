/*
 * _bplustree3.c — the C extension under bplustree3.BPlusTreeMap: the core
 * tree keyed by Python objects compared with "<".
 *
 * Packed keys: a map whose keys are all exact ints that fit in 64 bits, or
 * all exact floats other than NaN, stores the numbers themselves in the
 * nodes (the core's words) and holds no key objects: a search compares
 * machine numbers and touches no object, the nodes are all the memory the
 * keys cost, and keys handed out are made afresh. The first key that does
 * not fit converts the map to object keys, once, in O(n); an empty map
 * starts over. Lookups with a key of another type ("foreign" keys, 1.0 in
 * a map of ints) compare it with each stored number made into an object.
 *
 * References: an object tree holds one reference to each key and value it
 * stores (retain = Py_INCREF); removals hand theirs back to us, and we drop
 * them only after the core call returned and the tree is consistent.
 *
 * Re-entrancy: a comparison runs arbitrary Python code in the middle of a
 * core call. The core does every comparison before its first structural
 * change, so reads during a comparison are safe, but a mutation would pull
 * the tree from under the descent: while a core call is in progress
 * ("busy"), mutations raise RuntimeError. The only Python code that can run
 * during a structural change is a Py_DECREF by the core's release callback
 * (range removal, clear): while it runs ("releasing"), every access raises
 * RuntimeError.
 *
 * Threads: every operation on a map, each step of an iterator included,
 * holds the map's lock (map_lock) from its first look at the map to its
 * last, so it sees the map as it was before or after another thread's
 * operation, never in between, and check-then-act methods (setdefault,
 * pop with a default, popitem) are atomic. The lock is held across the
 * Python code a comparison runs: a thread switch there (with the GIL) or a
 * second thread (without it) finds the map locked and waits, with the GIL
 * released, until the operation is over. The owner may re-enter from its
 * own comparisons under the rules above (depth counts its holds). A thread
 * that would wait for a map whose holder is itself waiting, directly or
 * through other maps, for a map this thread holds would wait forever: it
 * gets RuntimeError instead (would_deadlock). Every reference handed out is
 * made strong before the lock is released, and removed items are dropped
 * after it is released where the core allows it, so that a __del__ runs
 * outside the lock. On a free-threaded build the module declares that it
 * does not need the GIL; the lock's fields are then read and written with
 * atomics, and the slow path's bookkeeping is under one global mutex.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdbool.h>
#include <string.h>

#include "bplustree3.h"
#include "bpt_check.h"

#define DEFAULT_CAPACITY 64

/*
 * PREFETCH asks for the cache line at p ahead of a write (refcounts),
 * PREFETCH_READ ahead of a read. Helpers made of prefetches must be
 * PREFETCH_INLINE: GCC counts a function whose only effects are prefetches
 * as having none, and deletes the calls to it that it does not inline
 * (scripts/check-prefetch.sh checks the object code).
 */
#if defined(__GNUC__) || defined(__clang__)
#define PREFETCH(p) __builtin_prefetch((p), 1)
#define PREFETCH_READ(p) __builtin_prefetch((p), 0)
#define PREFETCH_INLINE static inline __attribute__((always_inline))
#else
#define PREFETCH(p) ((void)(p))
#define PREFETCH_READ(p) ((void)(p))
#define PREFETCH_INLINE static inline
#endif

#if PY_VERSION_HEX < 0x030A0000
/* Macros, as in 3.10, so that they take any object pointer. */
static inline PyObject *compat_new_ref(PyObject *o)
{
    Py_INCREF(o);
    return o;
}

static inline PyObject *compat_xnew_ref(PyObject *o)
{
    Py_XINCREF(o);
    return o;
}
#define Py_NewRef(o) compat_new_ref((PyObject *)(o))
#define Py_XNewRef(o) compat_xnew_ref((PyObject *)(o))

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

/*
 * Fields that threads share outside a map's lock (the lock's own, the test
 * hooks' counters): plain with the GIL (it orders them), atomic without it.
 * The lock's slow path (waiters, the wait list, hand-offs) is under
 * wait_mutex without the GIL, under the GIL with it. ADD_* return the old
 * value.
 */
#ifdef Py_GIL_DISABLED
#define LOAD_PTR(p) _Py_atomic_load_ptr(p)
#define STORE_PTR(p, v) _Py_atomic_store_ptr((p), (v))
#define LOAD_INT(p) _Py_atomic_load_int(p)
#define ADD_INT(p, v) _Py_atomic_add_int((p), (v))
#define ADD_SSIZE(p, v) _Py_atomic_add_ssize((p), (v))
#define LOAD_SSIZE(p) _Py_atomic_load_ssize(p)
static PyMutex wait_mutex;
#define WAIT_MUTEX_LOCK() (PyMutex_Lock(&wait_mutex), TSAN_ACQUIRE(&wait_mutex))
#define WAIT_MUTEX_UNLOCK() (TSAN_RELEASE(&wait_mutex), PyMutex_Unlock(&wait_mutex))
static inline int cas_ptr(void **p, void *expected, void *value)
{
    return _Py_atomic_compare_exchange_ptr(p, &expected, value);
}
#else
#define LOAD_PTR(p) (*(p))
#define STORE_PTR(p, v) (*(p) = (v))
#define LOAD_INT(p) (*(p))
static inline int plain_add_int(int *p, int v)
{
    int old = *p;
    *p += v;
    return old;
}

static inline Py_ssize_t plain_add_ssize(Py_ssize_t *p, Py_ssize_t v)
{
    Py_ssize_t old = *p;
    *p += v;
    return old;
}
#define ADD_INT(p, v) plain_add_int((p), (v))
#define ADD_SSIZE(p, v) plain_add_ssize((p), (v))
#define LOAD_SSIZE(p) (*(p))
#define WAIT_MUTEX_LOCK() ((void)0)
#define WAIT_MUTEX_UNLOCK() ((void)0)
static inline int cas_ptr(void **p, void *expected, void *value)
{
    if (*p != expected)
        return 0;
    *p = value;
    return 1;
}
#endif

#ifndef Py_BEGIN_CRITICAL_SECTION /* before 3.13: the GIL is the only lock */
#define Py_BEGIN_CRITICAL_SECTION(op) {
#define Py_END_CRITICAL_SECTION() }
#endif

/*
 * ThreadSanitizer (scripts/python-ft.sh --tsan) sees the atomics compiled
 * here, not the interpreter's locks: TSAN_ACQUIRE and TSAN_RELEASE tell it
 * what a critical section or wait_mutex orders, and what a collection's
 * stop-the-world orders: a map's or an iterator's last change before it
 * (released when the lock is let go of) and the collector's traversal.
 */
#if defined(__SANITIZE_THREAD__)
#define BPT_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define BPT_TSAN 1
#endif
#endif
#ifdef BPT_TSAN
#include <sanitizer/tsan_interface.h>
#define TSAN_ACQUIRE(p) __tsan_acquire((void *)(p))
#define TSAN_RELEASE(p) __tsan_release((void *)(p))
#else
#define TSAN_ACQUIRE(p) ((void)0)
#define TSAN_RELEASE(p) ((void)0)
#endif

/* A critical section on op (free-threaded builds), as TSan should see it. */
#define BEGIN_CRITICAL_SECTION(op)                                                                  \
    Py_BEGIN_CRITICAL_SECTION(op);                                                                 \
    TSAN_ACQUIRE(op)
#define END_CRITICAL_SECTION(op)                                                                    \
    TSAN_RELEASE(op);                                                                              \
    Py_END_CRITICAL_SECTION()

static PyObject *InvariantError;

/*
 * What the stored keys are: exact ints that fit in 64 bits, exact floats
 * other than NaN, exact strs, or anything else (compared with <).
 */
typedef enum { KEYS_NONE, KEYS_INT, KEYS_FLOAT, KEYS_STR, KEYS_ANY } key_kind;

/*
 * How a tree stores its keys: as objects; as objects, all exact strs, with
 * hints (the core keeps each key's first eight UTF-8 bytes beside it); or
 * numbers packed into the words.
 */
typedef enum { PACK_NONE, PACK_STR, PACK_INT, PACK_FLOAT } packing;

/* holds_objects tells whether the words of packing p are key objects. */
static inline bool holds_objects(packing p)
{
    return p == PACK_NONE || p == PACK_STR;
}

/*
 * The node search of one core call, as CPython's list.sort picks
 * unsafe_long_compare and friends: packed numbers against a packed number,
 * exact strs against an exact str, or objects with < (stored keys made
 * into objects first when the tree packs them and the key is foreign).
 */
typedef enum { SEARCH_INT, SEARCH_FLOAT, SEARCH_STR, SEARCH_OBJECTS } search_kind;

typedef struct {
    PyObject_HEAD
    bpt *tree;             /* never NULL once tp_new succeeded */
    packing packing;       /* how tree stores keys */
    key_kind kinds;        /* of every key stored; KEYS_NONE when empty */
    search_kind search;    /* the search the current core call uses */
    unsigned capacity;
    int busy;              /* core calls in progress that may run Python code */
    int releasing;         /* > 0 while the core drops a reference */
    uint64_t generation;   /* bumped whenever tree is replaced */
    uint64_t values_epoch; /* bumped whenever a stored value is replaced */
    PyObject *weakreflist;
    /* The lock (see Threads above and map_lock). */
    void *owner;             /* the holder's thread state, or NULL */
    int depth;               /* the holder's nested holds */
    int waiters;             /* threads committed to sleep on gate */
    int woken;               /* gate is open for one waiter (under wait_mutex) */
    PyThread_type_lock gate; /* locked, except to wake one waiter */
} MapObject;

/* ---- Keys ----------------------------------------------------------------- */

/*
 * classify returns what key is, with *packed set to its packed word when it
 * is KEYS_INT or KEYS_FLOAT. Runs no Python code.
 */
static key_kind classify(PyObject *key, void **packed)
{
    if (PyLong_CheckExact(key)) {
        int overflow;
        long long v = PyLong_AsLongLongAndOverflow(key, &overflow);
        if (overflow)
            return KEYS_ANY;
        *packed = bpt_word_from_i64(v);
        return KEYS_INT;
    }
    if (PyFloat_CheckExact(key)) {
        double v = PyFloat_AS_DOUBLE(key);
        if (v != v)
            return KEYS_ANY;
        *packed = bpt_word_from_double(v);
        return KEYS_FLOAT;
    }
    return PyUnicode_CheckExact(key) ? KEYS_STR : KEYS_ANY;
}

/*
 * is_nan tells whether key is a float NaN (a subclass's too): a key with no
 * place in the order, since every comparison with it is false.
 */
static inline bool is_nan(PyObject *key)
{
    if (!PyFloat_Check(key))
        return false;
    double v = PyFloat_AS_DOUBLE(key);
    return v != v;
}

/*
 * check_bound refuses a key that cannot bound a search: a NaN (ValueError).
 * A lookup needs no such check: a NaN is simply absent. 0 or -1.
 */
static int check_bound(PyObject *key)
{
    if (key && is_nan(key)) {
        PyErr_SetString(PyExc_ValueError,
                        "NaN is not ordered: it cannot be a BPlusTreeMap key or bound");
        return -1;
    }
    return 0;
}

/* orders_without_code tells whether key's comparisons run no Python code. */
static inline bool orders_without_code(PyObject *key)
{
    return PyLong_CheckExact(key) || PyFloat_CheckExact(key) || PyUnicode_CheckExact(key);
}

/*
 * check_new_key refuses a key that cannot be stored: a NaN (ValueError), or
 * an object key that cannot be ordered against itself, such as None (the
 * TypeError of key < key). Once a map holds keys, a new key is compared with
 * them anyway; the first one is not, so it would be stored and then be
 * unreachable. Only that check runs code: for a first key that does not
 * order without code. 0 or -1.
 */
static int check_new_key(PyObject *key, bool first)
{
    if (check_bound(key) < 0)
        return -1;
    if (first && !orders_without_code(key) && PyObject_RichCompareBool(key, key, Py_LT) < 0)
        return -1;
    return 0;
}

/* packing_for returns the packing a map of keys of kind k uses. */
static packing packing_for(key_kind k)
{
    return k == KEYS_INT ? PACK_INT : k == KEYS_FLOAT ? PACK_FLOAT : k == KEYS_STR ? PACK_STR
                                                                                 : PACK_NONE;
}

/* key_object returns a new reference to the key stored as word. */
static PyObject *key_object(packing p, void *word)
{
    switch (p) {
    case PACK_INT:
        return PyLong_FromLongLong(bpt_word_to_i64(word));
    case PACK_FLOAT:
        return PyFloat_FromDouble(bpt_word_to_double(word));
    default:
        return Py_NewRef((PyObject *)word);
    }
}

/* drop_key drops a key word a removal handed back. */
static void drop_key(packing p, void *word)
{
    if (holds_objects(p))
        Py_DECREF((PyObject *)word);
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

/* py_compare orders two object keys (bulk load and the checker use it). */
static int py_compare(void *a, void *b, void *ctx)
{
    (void)ctx;
    if (PyUnicode_CheckExact(a) && PyUnicode_CheckExact(b))
        return str_compare(a, b);
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
 * equality, as bisect and sortedcontainers do. Packed keys are made into
 * objects for the comparison. -1 when a comparison fails.
 */
static int search_objects(void *const *keys, int n, PyObject *key, packing p, int *exact)
{
    int lo = 0, hi = n;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        PyObject *k = key_object(p, keys[mid]);
        int r = k ? PyObject_RichCompareBool(k, key, Py_LT) : -1;
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
        int r = k ? PyObject_RichCompareBool(key, k, Py_LT) : -1;
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
        return search_objects(keys, n, key, m->packing, exact);
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
    void *p = PyMem_Malloc(size);
    if (p)
        ADD_SSIZE(&live_blocks, 1);
    return p;
}

static void py_free(void *p, size_t size, void *ctx)
{
    (void)size;
    (void)ctx;
    ADD_SSIZE(&live_blocks, -1);
    PyMem_Free(p);
}

/*
 * new_tree makes an empty core tree for m with keys packed as p; NULL with
 * MemoryError. Packed keys are numbers: no references to count.
 */
static bpt *new_tree(MapObject *m, unsigned capacity, packing p)
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
static void drop_tree(bpt *old)
{
    if (old) {
        bpt_set_context(old, NULL);
        bpt_free(old);
    }
}

/* replace_tree makes t (keys packed as p) m's tree; it returns the old one. */
static bpt *replace_tree(MapObject *m, bpt *t, packing p)
{
    bpt *old = m->tree;
    m->tree = t;
    m->packing = p;
    m->generation++;
    return old;
}

/* ---- Guards and errors ---------------------------------------------------- */

static int raise_status(bpt_status rc);
static PyObject *item_tuple(packing p, void *k, void *v);

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

/* ---- The lock ------------------------------------------------------------- */

/* A thread asleep on a map's gate: the wait list, for would_deadlock. */
typedef struct waiter {
    void *thread;
    MapObject *map;
    struct waiter *next;
} waiter;

static waiter *waiting; /* under wait_mutex */

/*
 * would_deadlock tells whether thread me, about to wait for m, would wait
 * forever: m's holder waits for a map whose holder waits ... for a map me
 * holds. Under wait_mutex; a chain longer than the wait list is a changing
 * one (owners change without wait_mutex) and not a cycle through me.
 */
static bool would_deadlock(MapObject *m, void *me)
{
    size_t hops = 0, limit = 1;
    for (waiter *w = waiting; w; w = w->next)
        limit++;
    void *t = LOAD_PTR(&m->owner);
    while (t && t != me && hops++ < limit) {
        waiter *w = waiting;
        while (w && w->thread != t)
            w = w->next;
        if (!w)
            return false; /* t is running: it will let go */
        t = LOAD_PTR(&w->map->owner);
    }
    return t == me;
}

/*
 * map_lock_slow waits for m's lock: it commits to wait (waiters) and, until
 * it takes the lock, sleeps on the gate with the GIL released (detached,
 * without a GIL) and tries again when woken (wake_one). A running thread
 * may take the lock before the woken one ("barging"): handing the lock to a
 * sleeping thread on every release would make every operation wait for a
 * thread to be scheduled, a convoy when threads outnumber cores. 0, or -1
 * with RuntimeError when waiting would deadlock.
 */
static int map_lock_slow(MapObject *m, void *me)
{
    WAIT_MUTEX_LOCK();
    if (would_deadlock(m, me)) {
        WAIT_MUTEX_UNLOCK();
        PyErr_SetString(PyExc_RuntimeError,
                        "BPlusTreeMap is in use by another thread that waits for a map "
                        "this thread holds: waiting would deadlock (a comparison or "
                        "__del__ that uses another map shared between threads)");
        return -1;
    }
    ADD_INT(&m->waiters, 1);
    waiter self = {me, m, waiting};
    waiting = &self;
    while (!cas_ptr(&m->owner, NULL, me)) {
        WAIT_MUTEX_UNLOCK();
        Py_BEGIN_ALLOW_THREADS
        PyThread_acquire_lock(m->gate, WAIT_LOCK);
        Py_END_ALLOW_THREADS
        WAIT_MUTEX_LOCK();
        m->woken = 0; /* the gate is shut again: the next release may open it */
    }
    ADD_INT(&m->waiters, -1);
    waiter **p = &waiting;
    while (*p != &self)
        p = &(*p)->next;
    *p = self.next;
    WAIT_MUTEX_UNLOCK();
    m->depth = 1;
    return 0;
}

/*
 * wake_one wakes one of m's waiters after the lock was let go of: it opens
 * the gate, unless it is open already (woken), so that it is opened once
 * for each time a waiter shuts it.
 */
static void wake_one(MapObject *m)
{
    WAIT_MUTEX_LOCK();
    if (LOAD_INT(&m->waiters) > 0 && !m->woken) {
        m->woken = 1;
        PyThread_release_lock(m->gate);
    }
    WAIT_MUTEX_UNLOCK();
}

/*
 * map_lock takes m's lock for the calling thread, or takes it again when
 * the thread holds it (from its own comparison or __del__). 0, or -1 with
 * RuntimeError (see map_lock_slow).
 */
static inline int map_lock(MapObject *m)
{
    void *me = PyThreadState_Get();
    void *owner = LOAD_PTR(&m->owner);
    if (owner == me) {
        m->depth++;
        return 0;
    }
    if (owner == NULL && cas_ptr(&m->owner, NULL, me)) {
        m->depth = 1;
        return 0;
    }
    return map_lock_slow(m, me);
}

/* map_unlock lets go of one hold of m's lock. */
static inline void map_unlock(MapObject *m)
{
    if (--m->depth > 0)
        return;
    TSAN_RELEASE(m);
    STORE_PTR(&m->owner, NULL);
    if (LOAD_INT(&m->waiters) > 0)
        wake_one(m);
}

/* What an operation does with the map it locks (see acquire). */
typedef enum { FOR_LENGTH, FOR_READ, FOR_WRITE } access_kind;

/*
 * acquire locks m for an operation and checks that the operation may run
 * now: reads not while an item is being released, writes not during a
 * comparison either (both only possible from the holder's own code); the
 * length at any time. 0, or -1 with RuntimeError and m unlocked.
 */
static inline int acquire(MapObject *m, access_kind how)
{
    if (map_lock(m) < 0)
        return -1;
    int ok = how == FOR_LENGTH ? 0 : how == FOR_READ ? guard_read(m) : guard_write(m);
    if (ok < 0)
        map_unlock(m);
    return ok;
}

/* native_search is the search for a key that fits packing p. */
static search_kind native_search(packing p)
{
    switch (p) {
    case PACK_INT:
        return SEARCH_INT;
    case PACK_FLOAT:
        return SEARCH_FLOAT;
    case PACK_STR:
        return SEARCH_STR;
    default:
        return SEARCH_OBJECTS;
    }
}

/*
 * search_for picks the search for key in m's tree and the word that stands
 * for key in the core call: the packed number when the tree is packed the
 * same way, else the object itself.
 */
static search_kind search_for(MapObject *m, PyObject *key, void **word)
{
    void *packed = NULL;
    key_kind k = classify(key, &packed);
    *word = key;
    if (packing_for(k) != m->packing)
        return SEARCH_OBJECTS;
    if (!holds_objects(m->packing))
        *word = packed;
    return native_search(m->packing);
}

/* begin starts a core call with search s; it returns the search to restore. */
static search_kind begin(MapObject *m, search_kind s)
{
    search_kind saved = m->search;
    m->search = s;
    m->busy++;
    return saved;
}

/*
 * enter starts a core call that may search for a and b (either may be NULL),
 * setting the words that stand for them: it marks the map busy and picks
 * one search for both. It returns the search to restore in leave: a
 * comparison in an outer call may have run Python code that made this
 * (nested, read-only) call.
 */
static search_kind enter(MapObject *m, PyObject *a, PyObject *b, void **wa, void **wb)
{
    *wa = a; /* set on every path, for the analyzers */
    if (wb)
        *wb = b;
    search_kind s = a ? search_for(m, a, wa) : SEARCH_OBJECTS;
    if (b) {
        search_kind sb = search_for(m, b, wb);
        if (!a) {
            s = sb;
        } else if (sb != s) {
            s = SEARCH_OBJECTS;
            *wa = a;
            *wb = b;
        }
    }
    return begin(m, s);
}

static void leave(MapObject *m, search_kind saved)
{
    m->busy--;
    m->search = saved;
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
    m->kinds = KEYS_ANY;
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
 * prepare_insert makes m's tree ready to store key and picks the word and
 * the search that stand for it: an empty map's tree takes the packing key
 * suits; a packed map given a foreign key equal to a stored one uses the
 * stored number (1.0 replaces the value of 1, as in a dict), and one given
 * any other foreign key is converted to object keys. Returns the search, or
 * -1 with an exception (the map unchanged).
 */
static int prepare_insert(MapObject *m, PyObject *key, void **word)
{
    void *packed;
    if (check_new_key(key, bpt_size(m->tree) == 0) < 0)
        return -1;
    packing want = packing_for(classify(key, &packed));
    if (want != m->packing && bpt_size(m->tree) == 0) {
        bpt *t = new_tree(m, m->capacity, want);
        if (!t)
            return -1;
        drop_tree(replace_tree(m, t, want)); /* an empty one */
    }
    search_kind s = search_for(m, key, word);
    if (s != SEARCH_OBJECTS || m->packing == PACK_NONE)
        return (int)s; /* key fits the tree as it is */
    void *stored, *w;
    search_kind saved = enter(m, key, NULL, &w, NULL);
    bpt_status rc = bpt_get(m->tree, w, &stored, NULL);
    leave(m, saved);
    if (rc < 0)
        return raise_status(rc);
    if (rc == BPT_OK) {
        *word = stored;
        return (int)native_search(m->packing);
    }
    if (unpack(m) < 0)
        return -1;
    return (int)search_for(m, key, word);
}

/* note_insert records the kind of a key just added. */
static void note_insert(MapObject *m, PyObject *key)
{
    void *packed;
    key_kind k = classify(key, &packed);
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
    m->gate = PyThread_allocate_lock();
    if (!m->gate || PyThread_acquire_lock(m->gate, NOWAIT_LOCK) != PY_LOCK_ACQUIRED) {
        Py_DECREF(m);
        return PyErr_NoMemory();
    }
    m->tree = new_tree(m, m->capacity, PACK_NONE);
    if (!m->tree) {
        Py_DECREF(m);
        return NULL;
    }
    TSAN_RELEASE(m); /* built outside its lock: for the collector */
    return (PyObject *)m;
}

static int update_with(MapObject *m, PyObject *other, PyObject *kwds, long capacity);

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

static int Map_traverse(MapObject *m, visitproc visit, void *arg)
{
    /*
     * While the core releases a removed item its leaves are mid-change, so
     * they are not walked: objects then look referenced from outside, which
     * only delays collecting a cycle, never frees a live object.
     */
    TSAN_ACQUIRE(m);
    if (m->releasing)
        return 0;
    visitor v = {visit, arg, holds_objects(m->packing)};
    return bpt_visit(m->tree, visit_item, &v);
}

/* tp_clear empties the tree in place (it cannot fail, unlike a new tree). */
static int Map_clear_gc(MapObject *m)
{
    TSAN_ACQUIRE(m);
    m->kinds = KEYS_NONE;
    bpt_clear(m->tree);
    return 0;
}

static void Map_dealloc(MapObject *m)
{
    PyObject_GC_UnTrack(m);
    if (m->weakreflist)
        PyObject_ClearWeakRefs((PyObject *)m);
    drop_tree(replace_tree(m, NULL, PACK_NONE)); /* m is gone: nothing to mark */
    if (m->gate)
        PyThread_free_lock(m->gate);
    Py_TYPE(m)->tp_free((PyObject *)m);
}

/* ---- Mapping protocol ----------------------------------------------------- */

static Py_ssize_t Map_length(MapObject *m)
{
    if (acquire(m, FOR_LENGTH) < 0)
        return -1;
    Py_ssize_t n = (Py_ssize_t)bpt_size(m->tree);
    map_unlock(m);
    return n;
}

/*
 * lookup finds key: 1 with *value (a new reference), 0 when absent, -1 on
 * error.
 */
static int lookup(MapObject *m, PyObject *key, PyObject **value)
{
    if (acquire(m, FOR_READ) < 0)
        return -1;
    if (is_nan(key)) {
        map_unlock(m);
        return 0;
    }
    void *v = NULL, *w;
    search_kind saved = enter(m, key, NULL, &w, NULL);
    bpt_status rc = bpt_get(m->tree, w, NULL, &v);
    leave(m, saved);
    if (rc == BPT_OK)
        *value = Py_NewRef((PyObject *)v);
    map_unlock(m);
    if (rc < 0)
        return raise_status(rc);
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
    return v;
}

static int Map_contains(MapObject *m, PyObject *key)
{
    PyObject *v = NULL;
    int found = lookup(m, key, &v);
    Py_XDECREF(v);
    return found;
}

/*
 * put stores key -> value; 0 or -1. A replaced value is dropped once the
 * lock is let go of.
 */
static int put(MapObject *m, PyObject *key, PyObject *value)
{
    void *old = NULL, *w;
    if (acquire(m, FOR_WRITE) < 0)
        return -1;
    int s = prepare_insert(m, key, &w);
    bpt_status rc = BPT_ECMP;
    if (s >= 0) {
        search_kind saved = begin(m, (search_kind)s);
        rc = bpt_put(m->tree, w, value, &old);
        leave(m, saved);
        if (rc == BPT_REPLACED)
            m->values_epoch++;
        else if (rc >= 0)
            note_insert(m, key);
    }
    map_unlock(m);
    if (s < 0)
        return -1;
    if (rc < 0)
        return raise_status(rc);
    if (rc == BPT_REPLACED)
        Py_DECREF((PyObject *)old);
    return 0;
}

/* take removes key: 1 with *value (owned), 0 when absent, -1 on error. */
static int take(MapObject *m, PyObject *key, PyObject **value)
{
    if (acquire(m, FOR_WRITE) < 0)
        return -1;
    if (is_nan(key)) {
        map_unlock(m);
        return 0;
    }
    void *k = NULL, *v = NULL, *w;
    search_kind saved = enter(m, key, NULL, &w, NULL);
    bpt_status rc = bpt_remove(m->tree, w, &k, &v);
    leave(m, saved);
    packing p = m->packing;
    if (rc == BPT_OK)
        note_removal(m);
    map_unlock(m);
    if (rc < 0)
        return raise_status(rc);
    if (rc == BPT_NOTFOUND)
        return 0;
    drop_key(p, k);
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

/*
 * update_with stores the items of other, then of kwds (either may be NULL),
 * in one hold of m's lock, after giving m capacity (0: unchanged). The
 * items are read first; those read before a failure to read are stored,
 * then the failure is raised, as dict.update does. A NaN key among them
 * stores none; the items stored before any other failure to store stay.
 * 0 or -1.
 */
static int update_with(MapObject *m, PyObject *other, PyObject *kwds, long capacity)
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
        return v;
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

/*
 * pop_edge removes the smallest or largest item as a (key, value) tuple,
 * made before the item leaves the map so that a failure loses nothing.
 */
static PyObject *pop_edge(MapObject *m, bool last)
{
    if (acquire(m, FOR_WRITE) < 0)
        return NULL;
    void *k, *v;
    PyObject *pair = NULL;
    if ((last ? bpt_last : bpt_first)(m->tree, &k, &v) != BPT_OK) {
        PyErr_Format(PyExc_KeyError, "%s(): BPlusTreeMap is empty", last ? "poplast" : "popitem");
        map_unlock(m);
        return NULL;
    }
    packing p = m->packing;
    if ((pair = item_tuple(p, k, v)) != NULL) {
        (last ? bpt_pop_last : bpt_pop_first)(m->tree, &k, &v);
        note_removal(m);
    }
    map_unlock(m);
    if (pair) {
        drop_key(p, k); /* the pair holds its own references */
        Py_DECREF((PyObject *)v);
    }
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
    PyObject *dflt = nargs > 1 ? args[1] : Py_None, *result = NULL;
    void *existing = NULL, *w;
    if (acquire(m, FOR_WRITE) < 0)
        return NULL;
    int s = prepare_insert(m, args[0], &w);
    if (s >= 0) {
        search_kind saved = begin(m, (search_kind)s);
        bpt_status rc = bpt_insert(m->tree, w, dflt, &existing);
        leave(m, saved);
        if (rc == BPT_OK)
            note_insert(m, args[0]);
        if (rc >= 0)
            result = Py_NewRef(rc == BPT_EXISTS ? (PyObject *)existing : dflt);
        else
            raise_status(rc);
    }
    map_unlock(m);
    return result;
}

static PyObject *Map_clear(MapObject *m, PyObject *Py_UNUSED(ignored))
{
    if (acquire(m, FOR_WRITE) < 0)
        return NULL;
    bpt *fresh = new_tree(m, m->capacity, m->packing), *old = NULL;
    if (fresh) {
        m->kinds = KEYS_NONE;
        old = replace_tree(m, fresh, m->packing);
    }
    map_unlock(m);
    drop_tree(old); /* the items' __del__ sees an empty map, and may lock it */
    if (!fresh)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *Map_update(MapObject *m, PyObject *args, PyObject *kwds)
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
static PyObject *Map_copy(MapObject *m, PyObject *Py_UNUSED(ignored))
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

/* item_tuple returns a new (key, value) tuple from borrowed words. */
static PyObject *item_tuple(packing p, void *k, void *v)
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

/* edge returns the smallest or largest (key, value); KeyError if empty. */
static PyObject *edge(MapObject *m, bool last)
{
    void *k, *v;
    PyObject *pair = NULL;
    if (acquire(m, FOR_READ) < 0)
        return NULL;
    if ((last ? bpt_last : bpt_first)(m->tree, &k, &v) == BPT_OK)
        pair = item_tuple(m->packing, k, v);
    else
        PyErr_Format(PyExc_KeyError, "%s(): BPlusTreeMap is empty", last ? "last" : "first");
    map_unlock(m);
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
    if (check_bound(key) < 0 || acquire(m, FOR_READ) < 0)
        return NULL;
    void *k, *v, *w;
    search_kind saved = enter(m, key, NULL, &w, NULL);
    bpt_status rc = fn(m->tree, w, &k, &v);
    leave(m, saved);
    PyObject *r = rc == BPT_OK ? item_tuple(m->packing, k, v) : NULL;
    map_unlock(m);
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
 * bound_rank turns a bound into a position: the number of keys < key, or
 * <= key when after_equal. 1 when key is present, 0 when it is not, -1 on
 * error.
 */
static int bound_rank(MapObject *m, PyObject *key, bool after_equal, size_t *rank)
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

static PyObject *Map_delete_range(MapObject *m, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"start_key", "end_key", NULL};
    PyObject *lo = Py_None, *hi = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|OO:delete_range", kwlist, &lo, &hi))
        return NULL;
    if (check_bound(lo) < 0 || check_bound(hi) < 0 || acquire(m, FOR_WRITE) < 0)
        return NULL;
    PyObject *a = lo == Py_None ? NULL : lo, *b = hi == Py_None ? NULL : hi;
    void *wa = NULL, *wb = NULL;
    size_t removed = 0;
    search_kind saved = enter(m, a, b, &wa, &wb);
    bpt_status rc = bpt_remove_range(m->tree, a ? &wa : NULL, b ? &wb : NULL, &removed);
    leave(m, saved);
    if (rc >= 0)
        note_removal(m);
    map_unlock(m);
    if (rc < 0) {
        raise_status(rc);
        return NULL;
    }
    return PyLong_FromSize_t(removed);
}

static PyObject *Map_check(MapObject *m, PyObject *Py_UNUSED(ignored))
{
    if (acquire(m, FOR_READ) < 0)
        return NULL;
    bpt_check_report r;
    m->busy++;
    bpt_invariant inv = bpt_check(m->tree, &r);
    m->busy--;
    map_unlock(m);
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
        if (i + 16 < n) {
            PyObject *ahead = PyList_GET_ITEM(seq, i + 16);
            if (PyTuple_CheckExact(ahead) && PyTuple_GET_SIZE(ahead) == 2)
                PREFETCH(PyTuple_GET_ITEM(ahead, 0));
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

/* ---- Positions ------------------------------------------------------------ */

/* What an iterator hands out. */
enum { KIND_KEYS, KIND_VALUES, KIND_ITEMS };

/* parse_kind reads an iterator kind argument: the kind, or -1. */
static int parse_kind(PyObject *obj)
{
    long kind = PyLong_AsLong(obj);
    if (kind == -1 && PyErr_Occurred())
        return -1;
    if (kind < KIND_KEYS || kind > KIND_ITEMS) {
        PyErr_SetString(PyExc_ValueError, "bad iterator kind");
        return -1;
    }
    return (int)kind;
}

static PyObject *make_iter_locked(MapObject *m, int kind, bool reverse, PyObject *lo,
                                  PyObject *hi, bool lo_incl, bool hi_incl, const size_t *span);

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

static PyObject *Map_peekitem(MapObject *m, PyObject *const *args, Py_ssize_t nargs)
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

static PyObject *Map_bisect_left(MapObject *m, PyObject *key) { return bisect(m, key, false); }
static PyObject *Map_bisect_right(MapObject *m, PyObject *key) { return bisect(m, key, true); }

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

static PyObject *Map_index(MapObject *m, PyObject *args, PyObject *kwds)
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
static PyObject *Map__islice(MapObject *m, PyObject *const *args, Py_ssize_t nargs)
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

/* ---- Iterators ------------------------------------------------------------ */

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
    PyObject *result;     /* items: the last pair, reused when only we hold it */
    uint64_t generation;  /* the map's tree */
    uint64_t version;     /* the tree's structure */
    uint64_t epoch;       /* the map's values when the chunk was read */
    size_t remaining;     /* items to hand out, the chunk's included */
    size_t position;      /* the next item's position in the map */
    int kind;
    bool reverse;
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
 * make_iter makes an iterator over the items between lo and hi (None:
 * unbounded; lo_incl and hi_incl say whether an equal key belongs in), in
 * two descents at most: the bound it starts from positions the cursor and
 * gives its position, the other gives only its position. Given span, it
 * iterates over the positions [span[0], span[1]) instead, in one descent.
 */
static PyObject *make_iter_locked(MapObject *m, int kind, bool reverse, PyObject *lo,
                                  PyObject *hi, bool lo_incl, bool hi_incl, const size_t *span)
{
    bpt *t = m->tree;
    IterObject *it = PyObject_GC_New(IterObject, &IterType);
    if (!it)
        return NULL;
    it->map = NULL;
    it->cursor = NULL;
    it->result = NULL;
    if (bpt_cursor_new(t, &it->cursor) != BPT_OK) {
        Py_DECREF(it);
        PyErr_NoMemory();
        return NULL;
    }
    it->kind = kind;
    it->reverse = reverse;
    it->len = it->next = 0;
    it->epoch = m->values_epoch;
    size_t from = 0, to = bpt_size(t), at = 0;
    bool found = false;
    PyObject *start = reverse ? hi : lo, *end = reverse ? lo : hi;
    if (span) { /* positions, not keys: [span[0], span[1]) */
        from = span[0];
        to = span[1];
        end = Py_None;
        if (to > from)
            bpt_cursor_seek_at(it->cursor, reverse ? to - 1 : from);
    } else if (start == Py_None) {
        (reverse ? bpt_cursor_last : bpt_cursor_first)(it->cursor);
    } else {
        if (seek_bound(m, it->cursor, start, &at, &found) < 0)
            goto error;
        if (!reverse) { /* on the first key >= lo: step past an excluded lo */
            from = at + (found && !lo_incl);
            if (from > at)
                bpt_cursor_next(it->cursor);
        } else { /* on the first key >= hi: step back unless it is an included hi */
            to = at + (found && hi_incl);
            if (to == at)
                bpt_cursor_prev(it->cursor);
        }
    }
    /* The first chunk now: its objects' cache misses overlap the descent to
     * the other bound (items past that bound are never handed out). */
    it->remaining = ITER_CHUNK;
    if (bpt_cursor_get(it->cursor, NULL, NULL) == BPT_OK && read_chunk(it, m) < 0)
        goto error;
    if (end != Py_None && bound_rank(m, end, reverse ? !lo_incl : hi_incl,
                                     reverse ? &from : &to) < 0)
        goto error;
    it->remaining = to > from ? to - from : 0;
    it->position = reverse ? to - 1 : from;
    it->generation = m->generation;
    it->version = bpt_version(t);
    it->map = (MapObject *)Py_NewRef(m);
    TSAN_RELEASE(it);
    PyObject_GC_Track(it);
    return (PyObject *)it;
error:
    Py_DECREF(it);
    return NULL;
}

static PyObject *make_iter(MapObject *m, int kind, bool reverse, PyObject *lo, PyObject *hi,
                           bool lo_incl, bool hi_incl)
{
    if (check_bound(lo) < 0 || check_bound(hi) < 0 || acquire(m, FOR_READ) < 0)
        return NULL;
    PyObject *it = make_iter_locked(m, kind, reverse, lo, hi, lo_incl, hi_incl, NULL);
    map_unlock(m);
    return it;
}

static void Iter_dealloc(IterObject *it)
{
    PyObject_GC_UnTrack(it);
    bpt_cursor_free(it->cursor);
    Py_XDECREF(it->map);
    Py_XDECREF(it->result);
    PyObject_GC_Del(it);
}

static int Iter_traverse(IterObject *it, visitproc visit, void *arg)
{
    TSAN_ACQUIRE(it);
    Py_VISIT(it->map);
    Py_VISIT(it->result);
    return 0;
}

static int Iter_clear(IterObject *it)
{
    Py_CLEAR(it->map);
    Py_CLEAR(it->result);
    return 0;
}

/* prefetch_item asks for the objects of the chunk's item i. */
PREFETCH_INLINE void prefetch_item(IterObject *it, MapObject *m, int i)
{
    if (it->kind != KIND_KEYS)
        PREFETCH(it->vals[i]);
    if (it->kind != KIND_VALUES && holds_objects(m->packing))
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
        PyErr_SetString(PyExc_RuntimeError, "BPlusTreeMap changed during iteration");
        return -1;
    }
    for (int i = 0; i < (int)got && i < ITER_AHEAD; i++)
        prefetch_item(it, m, i);
    it->epoch = m->values_epoch;
    it->len = (int)got;
    it->next = 0;
    return 0;
}

/*
 * pair_result returns (key, value) with both references stolen, in the
 * tuple handed out last time when nobody else holds it (as dict's items
 * iterator does), else in a new one.
 */
static PyObject *pair_result(IterObject *it, PyObject *key, PyObject *value)
{
    PyObject *r = it->result;
#ifndef Py_GIL_DISABLED
    if (r && Py_REFCNT(r) == 1) {
        PyObject *old_key = PyTuple_GET_ITEM(r, 0), *old_value = PyTuple_GET_ITEM(r, 1);
        PyTuple_SET_ITEM(r, 0, key);
        PyTuple_SET_ITEM(r, 1, value);
        Py_INCREF(r);
        Py_DECREF(old_key);
        Py_DECREF(old_value);
        if (!PyObject_GC_IsTracked(r)) /* the collector may have untracked it */
            PyObject_GC_Track(r);
        return r;
    }
#endif
    r = PyTuple_New(2);
    if (!r) {
        Py_DECREF(key);
        Py_DECREF(value);
        return NULL;
    }
    PyTuple_SET_ITEM(r, 0, key);
    PyTuple_SET_ITEM(r, 1, value);
    Py_XSETREF(it->result, Py_NewRef(r));
    return r;
}

/* iter_step is Iter_next with m, the iterator's map, locked. */
static PyObject *iter_step(IterObject *it, MapObject *m)
{
    if (m->generation != it->generation || bpt_version(m->tree) != it->version) {
        PyErr_SetString(PyExc_RuntimeError, "BPlusTreeMap changed size during iteration");
        return NULL;
    }
    if (!it->remaining) {
        BEGIN_CRITICAL_SECTION(it);
        Py_CLEAR(it->map); /* not the last reference: Iter_next holds one */
        END_CRITICAL_SECTION(it);
        return NULL;
    }
    if ((it->next == it->len || it->epoch != m->values_epoch) && read_chunk(it, m) < 0)
        return NULL;
    int i = it->next++;
    if (i + ITER_AHEAD < it->len)
        prefetch_item(it, m, i + ITER_AHEAD);
    it->remaining--;
    it->position += it->reverse ? (size_t)-1 : 1;
    if (it->kind == KIND_VALUES)
        return Py_NewRef((PyObject *)it->vals[i]);
    PyObject *key = key_object(m->packing, it->keys[i]);
    if (!key || it->kind == KIND_KEYS)
        return key;
    return pair_result(it, key, Py_NewRef((PyObject *)it->vals[i]));
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
 * Iter_next steps the iterator with its map locked: that orders the steps
 * of threads sharing the iterator too.
 */
static PyObject *Iter_next(IterObject *it)
{
    MapObject *m = iter_map(it);
    if (!m)
        return NULL;
    PyObject *r = NULL;
    if (acquire(m, FOR_READ) == 0) {
        if (it->map == m)
            r = iter_step(it, m);
        TSAN_RELEASE(it);
        map_unlock(m);
    }
    Py_DECREF(m);
    return r;
}

static PyObject *Iter_length_hint(IterObject *it, PyObject *Py_UNUSED(ignored))
{
    MapObject *m = iter_map(it);
    if (!m)
        return PyLong_FromLong(0);
    size_t n = 0;
    if (map_lock(m) == 0) {
        n = it->map == m ? it->remaining : 0;
        map_unlock(m);
    }
    Py_DECREF(m);
    return PyErr_Occurred() ? NULL : PyLong_FromSize_t(n);
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
static PyObject *Map__iter(MapObject *m, PyObject *const *args, Py_ssize_t nargs)
{
    int kind = check_args("_iter", nargs, 6, 6) ? parse_kind(args[0]) : -1;
    if (kind < 0)
        return NULL;
    int flags[3];
    for (int i = 0; i < 3; i++) /* reverse, min_inclusive, max_inclusive */
        if ((flags[i] = PyObject_IsTrue(args[i == 0 ? 1 : i + 3])) < 0)
            return NULL;
    return make_iter(m, kind, flags[0], args[2], args[3], flags[1], flags[2]);
}

/* __sizeof__ counts the map and every block its tree holds (not the items). */
static PyObject *Map_sizeof(MapObject *m, PyObject *Py_UNUSED(ignored))
{
    bpt_stats st;
    if (acquire(m, FOR_READ) < 0)
        return NULL;
    bpt_get_stats(m->tree, &st);
    map_unlock(m);
    return PyLong_FromSize_t((size_t)Py_TYPE(m)->tp_basicsize + st.bytes);
}

static PyObject *Map_capacity(MapObject *m, void *Py_UNUSED(closure))
{
    if (acquire(m, FOR_LENGTH) < 0)
        return NULL;
    unsigned capacity = m->capacity;
    map_unlock(m);
    return PyLong_FromUnsignedLong(capacity);
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
    {"_iter", (PyCFunction)(void (*)(void))Map__iter, METH_FASTCALL, NULL},
    {"_islice", (PyCFunction)(void (*)(void))Map__islice, METH_FASTCALL, NULL},
    {"peekitem", (PyCFunction)(void (*)(void))Map_peekitem, METH_FASTCALL,
     "peekitem(index=-1) -> the (key, value) at position index (negative: from the end); "
     "IndexError if out of range. O(log n)."},
    {"index", (PyCFunction)(void (*)(void))Map_index, METH_VARARGS | METH_KEYWORDS,
     "index(key, start=None, stop=None) -> the position of key; ValueError if it is absent "
     "or outside positions [start, stop). O(log n)."},
    {"bisect_left", (PyCFunction)Map_bisect_left, METH_O,
     "bisect_left(key) -> the number of keys < key: where key is or would go. O(log n)."},
    {"bisect_right", (PyCFunction)Map_bisect_right, METH_O,
     "bisect_right(key) -> the number of keys <= key: the position after key. O(log n)."},
    {"__sizeof__", (PyCFunction)Map_sizeof, METH_NOARGS,
     "__sizeof__() -> bytes of the map and its nodes, not counting keys and values. "
     "O(n / capacity)."},
    {NULL, NULL, 0, NULL},
};

/* _key_storage tells the tests how the keys are stored (see packing). */
static PyObject *Map_key_storage(MapObject *m, void *Py_UNUSED(closure))
{
    static const char *names[] = {"object", "str", "int", "float"};
    if (acquire(m, FOR_LENGTH) < 0)
        return NULL;
    packing p = m->packing;
    map_unlock(m);
    return PyUnicode_FromString(names[p]);
}

static PyGetSetDef Map_getset[] = {
    {"capacity", (getter)Map_capacity, NULL, "the node capacity (keys per node)", NULL},
    {"_key_storage", (getter)Map_key_storage, NULL,
     "how the keys are stored: 'int' or 'float' (packed numbers) or 'object'", NULL},
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

/*
 * module_exec fills the module (multi-phase init). The types are static and
 * InvariantError is made once: one per process, like the lock's
 * wait_mutex, so the module supports one interpreter only.
 */
static int module_exec(PyObject *mod)
{
    if (PyType_Ready(&MapType) < 0 || PyType_Ready(&IterType) < 0)
        return -1;
    if (!InvariantError &&
        !(InvariantError = PyErr_NewExceptionWithDoc(
              "bplustree3.InvariantError",
              "A BPlusTreeMap failed its invariant check; .invariant names which invariant.",
              NULL, NULL)))
        return -1;
    if (PyModule_AddObjectRef(mod, "InvariantError", InvariantError) < 0 ||
        PyModule_AddObjectRef(mod, "BPlusTreeMapBase", (PyObject *)&MapType) < 0 ||
        PyModule_AddIntConstant(mod, "MIN_CAPACITY", BPT_MIN_CAPACITY) < 0 ||
        PyModule_AddIntConstant(mod, "MAX_CAPACITY", BPT_MAX_CAPACITY) < 0 ||
        PyModule_AddIntConstant(mod, "DEFAULT_CAPACITY", DEFAULT_CAPACITY) < 0)
        return -1;
    return 0;
}

static PyModuleDef_Slot module_slots[] = {
    {Py_mod_exec, (void *)(uintptr_t)module_exec},
#if PY_VERSION_HEX >= 0x030C0000
    {Py_mod_multiple_interpreters, Py_MOD_MULTIPLE_INTERPRETERS_NOT_SUPPORTED},
#endif
#if PY_VERSION_HEX >= 0x030D0000
    {Py_mod_gil, Py_MOD_GIL_NOT_USED}, /* each map has its own lock */
#endif
    {0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "bplustree3._bplustree3",
    .m_doc = "C core of bplustree3.",
    .m_size = 0,
    .m_methods = module_methods,
    .m_slots = module_slots,
};

PyMODINIT_FUNC PyInit__bplustree3(void)
{
    return PyModuleDef_Init(&module);
}
