/*
 * ext.h — the private header of the C extension under bplustree3.BPlusTreeMap
 * (the module bplustree3._bplustree3): the core tree keyed by Python
 * objects compared with "<". One shared library built from, bottom layer
 * first (each file calls only the files before it in this list, as
 * scripts/check-layers.py checks):
 *   errors.c     InvariantError, core errors as exceptions, argument checks
 *   lock.c       the lock's slow path (waiting, waking, deadlock refusal)
 *   tree.c       key checks, node searches, the core's callbacks, trees,
 *                storing one item (put) and a key's position (bound_rank)
 *   undo.c       changing a dict or set without allocating (for _sorted.py)
 *   iter.c       the iterator behind iteration, ranges, views and islice
 *   positions.c  positional access: peekitem, index, bisect, islice
 *   bulk.c       many items at once: update, copy, from_sorted_items
 *   map.c        the map type: life cycle, mapping protocol, one-item methods
 *   list.c       SortedListBase: a multiset map with a list's methods
 *   module.c     the module: its initialization and its functions
 * and internals.h, every use of CPython's object layouts beyond its C API.
 * This header holds what they share: the types, and the hot paths as static
 * inline functions (classify, key_object, the lock's fast path, the choice of
 * search), so a lookup is one call into the core from one translation unit.
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
 * Re-entrancy: an operation may run Python code while it holds raw
 * pointers into its tree: a comparison in the middle of a core call, a
 * finalizer or weakref callback run by a collection that an allocation
 * starts (3.9 to 3.11 collect inside allocations; every version collects
 * when Python code runs), a repr for an error message. So every operation
 * pins its map ("busy", see acquire) from its first look at the tree to its
 * last: code it runs may read the map, but a mutation raises RuntimeError,
 * whether it comes from a comparison, a __del__ or anything else. Python
 * code that an operation runs before it looks at the tree (__index__ of a
 * position, __bool__ of a flag, reading the items of an update) runs
 * before the map is locked, and may do anything. The only Python code that
 * can run during a structural change is a Py_DECREF by the core's release
 * callback (range removal, clear): while it runs ("releasing"), every
 * access raises RuntimeError. References handed out are taken before
 * anything is allocated for them, and removed or replaced items are
 * dropped after the map is let go of, where the core allows it.
 *
 * Nothing lost: an operation either completes or raises and leaves the map
 * exactly as it was. The core guarantees it for each of its calls; an
 * operation of several core calls (update, the constructor) keeps a log of
 * the positions it changed and undoes them, in reverse, on a failure (see
 * update_with): undoing by position compares nothing and allocates
 * nothing, so it cannot fail.
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
 * Reads that run no Python code before their last look at the tree
 * (try_read_lock, begin_read: lookups, neighbours, positions and ranks of
 * packed ints, floats and strs, len, iterator steps) that find the lock
 * free take no lock with the GIL, which already keeps every other thread
 * out until they are over (positional and neighbour reads, which make
 * result objects before they are over, acquire the map there). Without
 * the GIL they are shared reads (enter_shared): they run in parallel with
 * each other, never with a holder of the lock, and a thread that takes
 * the lock waits for those in progress; they see the map as it was
 * before or after each operation, as locked reads do. Reads of any key in
 * a map of objects are shared too, though their comparisons run Python
 * code: the thread records that it holds the map (push_held), so that
 * code it runs from there may read the map without waiting (enter_nested,
 * map_lock's 1) but not change it (acquire), and a thread that takes the
 * lock and waits for such reads naps, and raises when a reader waits for
 * it through other maps (wait_for_readers, reaches in lock.c).
 */
#ifndef BPLUSTREE3_EXT_H
#define BPLUSTREE3_EXT_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdbool.h>
#include <string.h>

#include "bplustree3.h"
#include "bpt_check.h"
#include "internals.h"

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
#endif

/*
 * Fields that threads share outside a map's lock (the lock's own, the test
 * hooks' counters): plain with the GIL (it orders them), atomic without it.
 * ADD_* return the old value.
 */
#ifdef Py_GIL_DISABLED
#define LOAD_PTR(p) _Py_atomic_load_ptr(p)
#define STORE_PTR(p, v) _Py_atomic_store_ptr((p), (v))
#define LOAD_INT(p) _Py_atomic_load_int(p)
#define ADD_INT(p, v) _Py_atomic_add_int((p), (v))
#define ADD_SSIZE(p, v) _Py_atomic_add_ssize((p), (v))
#define LOAD_SSIZE(p) _Py_atomic_load_ssize(p)
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
 * (released when the lock is let go of) and the collector's traversal. A
 * thread may also stop for a collection in the middle of an operation,
 * holding the map's lock (at a safe point in the Python code a comparison
 * or a finalizer runs), its writes so far released to nobody: the
 * traversals' reads are ignored (TSAN_IGNORE_READS_*), since they run with
 * every other thread stopped, a barrier TSan cannot see in an interpreter
 * that is not instrumented. Nor does TSan see the interpreter's allocator
 * (mimalloc; the free-threaded build has no PYTHONMALLOC=malloc) hand a
 * block freed by one thread to another: in the TSan build the core's
 * blocks come from the C library's malloc, which TSan
 * intercepts (EXT_MALLOC), so that a node written at an address where an
 * object's refcount was touched before (or the other way round) is not
 * taken for a race.
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
/* From the TSan runtime (its dynamic annotations). */
void AnnotateIgnoreReadsBegin(const char *file, int line);
void AnnotateIgnoreReadsEnd(const char *file, int line);
#define TSAN_IGNORE_READS_BEGIN() AnnotateIgnoreReadsBegin(__FILE__, __LINE__)
#define TSAN_IGNORE_READS_END() AnnotateIgnoreReadsEnd(__FILE__, __LINE__)
#else
#define TSAN_ACQUIRE(p) ((void)0)
#define TSAN_RELEASE(p) ((void)0)
#define TSAN_IGNORE_READS_BEGIN() ((void)0)
#define TSAN_IGNORE_READS_END() ((void)0)
#endif

/*
 * The extension's own blocks (the core's nodes, scratch arrays): Python's
 * allocator, except in the TSan build, where they come from the C
 * library's, whose reuse of a freed block TSan sees (see above).
 */
#ifdef BPT_TSAN
#define EXT_MALLOC(size) malloc(size)
#define EXT_CALLOC(n, size) calloc((n), (size))
#define EXT_FREE(p) free(p)
#define EXT_RAW_CALLOC(n, size) calloc((n), (size))
#define EXT_RAW_FREE(p) free(p)
#else
#define EXT_MALLOC(size) PyMem_Malloc(size)
#define EXT_CALLOC(n, size) PyMem_Calloc((n), (size))
#define EXT_FREE(p) PyMem_Free(p)
/* (the raw domain: a map's reader slots and the threads' records, see lock.c) */
#define EXT_RAW_CALLOC(n, size) PyMem_RawCalloc((n), (size))
#define EXT_RAW_FREE(p) PyMem_RawFree(p)
#endif

/* A critical section on op (free-threaded builds), as TSan should see it. */
#define BEGIN_CRITICAL_SECTION(op)                                                                  \
    Py_BEGIN_CRITICAL_SECTION(op);                                                                 \
    TSAN_ACQUIRE(op)
#define END_CRITICAL_SECTION(op)                                                                    \
    TSAN_RELEASE(op);                                                                              \
    Py_END_CRITICAL_SECTION()

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

#ifdef Py_GIL_DISABLED
/*
 * The readers in one slot of a map's shared reads (see enter_shared): each
 * thread counts itself in its own slot, READER_SLOT_BYTES from the next so
 * that no two share a cache line (or the line the CPU fetches beside it).
 */
#define READER_SLOTS 16
#define READER_SLOT_BYTES 128
typedef struct {
    int count;
    char pad[READER_SLOT_BYTES - sizeof(int)];
} reader_slot;

/*
 * The maps a thread holds for reads that run Python code (see push_held),
 * innermost last: its own while it holds one (my_long), free for any thread
 * (thread NULL) otherwise. The thread writes them, others read them (under
 * wait_mutex) to see whom a thread that takes a map's lock waits for.
 */
#define HELD_MAX 8
typedef struct long_reader {
    void *thread;                /* the holding thread's state, or NULL: free */
    int count;                   /* held[0 .. count-1] */
    struct MapObject *held[HELD_MAX];
    struct long_reader *next;    /* every record, in one list (never unlinked) */
} long_reader;
#endif

typedef struct MapObject {
    PyObject_HEAD
    bpt *tree;             /* never NULL once tp_new succeeded */
    packing packing;       /* how tree stores keys */
    search_kind search;    /* the search the current core call uses */
    unsigned capacity;
    bool multi;            /* a multiset: equal keys side by side (SortedList) */
    int hand_out;          /* a list's: KIND_KEYS, or KIND_VALUES with a key function */
    int busy;              /* operations in progress (see Re-entrancy, acquire) */
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
#ifdef Py_GIL_DISABLED
    /* Shared reads (see enter_shared). */
    void *reader_home;       /* the first thread to read m, or NULL */
    reader_slot *readers;    /* READER_SLOTS counts, once a second thread reads m */
#endif
} MapObject;

/* What an iterator hands out. */
enum { KIND_KEYS, KIND_VALUES, KIND_ITEMS };

/* ---- Shared between the files ------------------------------------------- */

/*
 * What a search for one key found: the key, no such key, or an error with
 * an exception set. Numbered as CPython's predicates (sq_contains) are.
 */
typedef enum { FAILED = -1, ABSENT = 0, FOUND = 1 } find_result;

/* A range of keys: lo to hi (None: unbounded); *_incl: an equal key is in. */
typedef struct {
    PyObject *lo, *hi;
    bool lo_incl, hi_incl;
} key_range;

/* Each file's functions, in the layer order of the list at the top (which
 * scripts/check-layers.py holds the files to). */

/* errors.c */
extern PyObject *InvariantError;
int errors_init(void);
int raise_status(bpt_status rc);
void set_key_error(PyObject *key);
int check_args(const char *name, Py_ssize_t nargs, Py_ssize_t min, Py_ssize_t max);
int fast_kwargs(const char *name, const char *const *names, int count, PyObject *const *args,
                Py_ssize_t nargs, PyObject *kwnames, PyObject **out);
long parse_capacity(PyObject *obj);
int parse_kind(PyObject *obj);
void restate_error(PyObject *type, const char *format, PyObject *arg);
void explain_order_error(void);
/* The ValueError of a NaN given as a key or bound. */
#define NAN_KEY_MESSAGE "NaN is not ordered: it cannot be a BPlusTreeMap key or bound"
/* What explain_order_error adds to a comparison's TypeError. */
#define TOTAL_ORDER_HINT                                                                          \
    "(the keys of a sorted container need a total order: each must be comparable with "          \
    "every other by <, as numbers are with numbers and strs with strs)"

/* lock.c */
int map_lock_slow(MapObject *m, void *me);
void wake_one(MapObject *m);
#ifdef Py_GIL_DISABLED
reader_slot *share_reads(MapObject *m);
int wait_for_readers(MapObject *m, reader_slot *r);
bool push_held(MapObject *m);
void pop_held(MapObject *m);
extern _Thread_local long_reader *my_long;
bool retry_shared(MapObject *m, reader_slot *mine);
int reader_index_slow(void);
void free_readers(MapObject *m);
extern int read_pause; /* the test hook _pause_shared_read's state */
void pause_shared_read(void);
#endif
PyObject *mod_pause_shared_read(PyObject *mod, PyObject *arg);

/* tree.c */
extern PyTypeObject *map_type, *list_type;
int check_bound(PyObject *key);
int check_new_key(PyObject *key, bool first);
bpt *new_tree(MapObject *m, unsigned capacity, packing p);
void drop_tree(bpt *old);
bpt *replace_tree(MapObject *m, bpt *t, packing p);
int prepare_insert(MapObject *m, PyObject *key, void **word, search_kind *search);
int put_locked(MapObject *m, PyObject *key, PyObject *value, PyObject **old, size_t *rank);
int put(MapObject *m, PyObject *key, PyObject *value);
find_result bound_rank(MapObject *m, PyObject *key, bool after_equal, size_t *rank);
find_result word_rank(MapObject *m, void *w, bool after_equal, size_t *rank);
PyObject *item_tuple(packing p, void *k, void *v);
PyObject *mod_live_blocks(PyObject *mod, PyObject *Py_UNUSED(ignored));
PyObject *mod_fail_allocation(PyObject *mod, PyObject *arg);

/* undo.c */
PyObject *mod_dict_apply(PyObject *mod, PyObject *const *args, Py_ssize_t nargs);
PyObject *mod_set_apply(PyObject *mod, PyObject *const *args, Py_ssize_t nargs);

/* iter.c */
extern PyTypeObject IterType;
PyObject *make_iter(MapObject *m, int kind, bool reverse, const key_range *r);
PyObject *iter_positions_locked(MapObject *m, int kind, bool reverse, size_t from, size_t to);
PyObject *iter_all(MapObject *m, int kind, bool reverse);
PyObject *Map_iter(MapObject *m);
PyObject *Map_reversed(MapObject *m, PyObject *Py_UNUSED(ignored));
PyObject *Map__iter(MapObject *m, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames);

/* positions.c */
int position_in(Py_ssize_t index, size_t n, size_t *pos);
PyObject *pop_at(MapObject *m, Py_ssize_t index, PyObject *empty_error, const char *what);
PyObject *Map__pop_at(MapObject *m, PyObject *arg);
PyObject *Map__pop_many(MapObject *m, PyObject *const *args, Py_ssize_t nargs);
PyObject *Map__delete_at(MapObject *m, PyObject *positions);
PyObject *Map_peekitem(MapObject *m, PyObject *const *args, Py_ssize_t nargs);
PyObject *Map_bisect_left(MapObject *m, PyObject *key);
PyObject *Map_bisect_right(MapObject *m, PyObject *key);
PyObject *Map_index(MapObject *m, PyObject *args, PyObject *kwds);
PyObject *Map__islice(MapObject *m, PyObject *const *args, Py_ssize_t nargs);
PyObject *islice_of(MapObject *m, int kind, PyObject *start, PyObject *stop, PyObject *reverse);

/* bulk.c */
void radix_sort(void **a, void **tmp, size_t n, packing p);
PyObject *Map__load_numbers(MapObject *m, PyObject *const *args, Py_ssize_t nargs);
int update_with(MapObject *m, PyObject *other, PyObject *kwds, long capacity);
PyObject *List__load_sorted(MapObject *m, PyObject *const *args, Py_ssize_t nargs);
PyObject *List__state(MapObject *m, PyObject *Py_UNUSED(ignored));
PyObject *List__update_pairs(MapObject *m, PyObject *pairs);
PyObject *List__swap(MapObject *m, PyObject *const *args, Py_ssize_t nargs);
PyObject *Map_update(MapObject *m, PyObject *args, PyObject *kwds);
PyObject *Map_copy(MapObject *m, PyObject *Py_UNUSED(ignored));
PyObject *Map_from_sorted_items(PyTypeObject *type, PyObject *args, PyObject *kwds);
PyObject *Map__load_sorted(MapObject *m, PyObject *const *args, Py_ssize_t nargs);

/* map.c */
extern PyTypeObject MapType;
int map_init(void);
PyObject *new_map_object(PyTypeObject *type, bool multi);
int Map_traverse(MapObject *m, visitproc visit, void *arg);
int Map_clear_gc(MapObject *m);
void Map_dealloc(MapObject *m);
Py_ssize_t Map_length(MapObject *m);
PyObject *Map_clear(MapObject *m, PyObject *Py_UNUSED(ignored));
PyObject *Map_check(MapObject *m, PyObject *Py_UNUSED(ignored));
PyObject *Map_sizeof(MapObject *m, PyObject *Py_UNUSED(ignored));
PyObject *Map_capacity(MapObject *m, void *Py_UNUSED(closure));
PyObject *Map_key_storage(MapObject *m, void *Py_UNUSED(closure));
PyObject *adopt_methods(PyObject *module, PyObject *cls);

/* list.c */
extern PyTypeObject ListType;

/* ---- Keys ----------------------------------------------------------------- */

/*
 * long_as_i64 reads an exact int as an int64; false when it does not fit.
 * Runs no Python code. Small ints are read in place where the C API allows
 * it (3.12's compact ints) or internals.h does (3.11), the rest through
 * PyLong_AsLongLongAndOverflow.
 */
static inline bool long_as_i64(PyObject *key, int64_t *out)
{
#if PY_VERSION_HEX >= 0x030C0000
    if (PyUnstable_Long_IsCompact((PyLongObject *)key)) {
        *out = (int64_t)PyUnstable_Long_CompactValue((PyLongObject *)key);
        return true;
    }
#endif
    if (internals_long_as_i64(key, out))
        return true;
    int overflow;
    long long v = PyLong_AsLongLongAndOverflow(key, &overflow);
    *out = v;
    return !overflow;
}

/*
 * classify returns what key is, with *packed set to its packed word when it
 * is KEYS_INT or KEYS_FLOAT. Runs no Python code.
 */
static inline key_kind classify(PyObject *key, void **packed)
{
    if (PyLong_CheckExact(key)) {
        int64_t v;
        if (!long_as_i64(key, &v))
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

/* orders_without_code tells whether key's comparisons run no Python code. */
static inline bool orders_without_code(PyObject *key)
{
    return PyLong_CheckExact(key) || PyFloat_CheckExact(key) || PyUnicode_CheckExact(key);
}

PyObject *number_object(PyObject *key);                       /* tree.c */
key_kind classify_number_like(PyObject *key, void **packed); /* tree.c */

/*
 * classify_key is classify for a map's keys (not a list's, which hands its
 * values' own objects back): a bool or a numpy number that classify takes
 * for an object is classified as the int or float it equals
 * (classify_number_like), so that it finds, and is stored as, that number
 * in a map of packed numbers. It may allocate (a numpy int's __index__):
 * call it with m acquired, as search_for is, never before a quick read.
 */
static inline key_kind classify_key(const MapObject *m, PyObject *key, void **packed)
{
    key_kind k = classify(key, packed);
    if (k == KEYS_ANY && !m->multi && !orders_without_code(key))
        k = classify_number_like(key, packed);
    return k;
}

/*
 * order_bits maps a packed number to an unsigned integer in the same order:
 * an int64 with its sign bit flipped; a double's bits flipped so that
 * negatives come first (-0.0 read as 0.0: they are equal).
 */
static inline uint64_t order_bits(void *w, packing p)
{
    uint64_t b = bpt_word_to_u64(w);
    if (p == PACK_INT)
        return b ^ ((uint64_t)1 << 63);
    if (b == (uint64_t)1 << 63) /* -0.0 */
        b = 0;
    return b >> 63 ? ~b : b | ((uint64_t)1 << 63);
}

/* packing_for returns the packing a map of keys of kind k uses. */
static inline packing packing_for(key_kind k)
{
    return k == KEYS_INT ? PACK_INT : k == KEYS_FLOAT ? PACK_FLOAT : k == KEYS_STR ? PACK_STR
                                                                                 : PACK_NONE;
}

/* key_object returns a new reference to the key stored as word. */
static inline PyObject *key_object(packing p, void *word)
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
static inline void drop_key(packing p, void *word)
{
    if (holds_objects(p))
        Py_DECREF((PyObject *)word);
}

/* ---- Guards and the lock's fast path ---------------------------------- */

static inline int guard_read(MapObject *m)
{
    if (m->releasing) {
        PyErr_SetString(PyExc_RuntimeError,
                        "BPlusTreeMap used while it was releasing a removed item");
        return -1;
    }
    return 0;
}

/* refuse_write refuses a change from code that an operation on the map runs. */
static inline int refuse_write(void)
{
    PyErr_SetString(PyExc_RuntimeError,
                    "BPlusTreeMap changed by code that one of its own operations ran "
                    "(a comparison of its keys, a __del__ or a weakref callback): "
                    "change it after the operation returns");
    return -1;
}

static inline int guard_write(MapObject *m)
{
    if (guard_read(m) < 0)
        return -1;
    return m->busy ? refuse_write() : 0;
}

#ifdef Py_GIL_DISABLED
/*
 * held_count tells how many reads of m that run Python code the calling
 * thread holds (see push_held): 0 unless it is in one of their comparisons.
 */
static inline int held_count(const MapObject *m)
{
    long_reader *r = my_long;
    int n = 0;
    for (int i = 0; r && i < r->count; i++)
        n += r->held[i] == m;
    return n;
}
#endif

/*
 * drain_readers waits, by the thread that has just taken m's lock, until
 * the shared reads of m in progress are over (see enter_shared): 0, or -1
 * with RuntimeError and the lock let go of when waiting would deadlock
 * (see wait_for_readers).
 */
static inline int drain_readers(MapObject *m)
{
#ifdef Py_GIL_DISABLED
    reader_slot *r = LOAD_PTR(&m->readers);
    if (r)
        return wait_for_readers(m, r);
#else
    (void)m;
#endif
    return 0;
}

#ifdef Py_GIL_DISABLED
/*
 * held_in_slot tells, in map_unlock and release, whether the calling
 * thread's hold of m is map_lock's 1: it does not hold the lock (it cannot
 * hold both, see enter_nested), which only a map with slots can have.
 */
static inline bool held_in_slot(MapObject *m)
{
    return LOAD_PTR(&m->readers) && LOAD_PTR(&m->owner) != PyThreadState_Get();
}

static inline bool enter_nested(MapObject *m, int *slot);
static inline void leave_shared(MapObject *m, int slot);
static inline int my_reader_slot(void);
#endif

/*
 * map_lock takes m's lock for the calling thread, or takes it again when
 * the thread holds it (from its own comparison or __del__): 0. Code that
 * one of the thread's own shared reads of m runs (its comparisons) holds
 * m in the thread's reader slot instead, as that read does (see
 * enter_nested): 1, and the caller may only read m. -1 with RuntimeError
 * (see map_lock_slow).
 */
static inline int map_lock(MapObject *m)
{
    void *me = PyThreadState_Get();
    void *owner = LOAD_PTR(&m->owner);
    if (owner == me) {
        m->depth++;
        return 0;
    }
#ifdef Py_GIL_DISABLED
    int slot; /* (a map without slots has no shared reads) */
    if (LOAD_PTR(&m->readers) && enter_nested(m, &slot))
        return 1;
#endif
    if (owner == NULL && cas_ptr(&m->owner, NULL, me)) {
        m->depth = 1;
        return drain_readers(m);
    }
    return map_lock_slow(m, me);
}

/* map_unlock lets go of one hold of m's lock (or of map_lock's 1). */
static inline void map_unlock(MapObject *m)
{
#ifdef Py_GIL_DISABLED
    if (held_in_slot(m)) { /* map_lock's 1 */
        leave_shared(m, my_reader_slot());
        return;
    }
#endif
    if (--m->depth > 0)
        return;
    TSAN_RELEASE(m);
    STORE_PTR(&m->owner, NULL);
    if (LOAD_INT(&m->waiters) > 0)
        wake_one(m);
}

#ifdef Py_GIL_DISABLED
/*
 * Shared reads (free-threaded builds). A read that runs no Python code
 * (see try_read_lock) need not keep other such reads out, only writers:
 * it counts itself in its thread's reader slot, then looks at the owner,
 * and goes on only when nobody holds the lock; a thread that takes the
 * lock sets the owner, then waits until every slot is empty (take_free_lock,
 * map_lock_slow). Both steps of each are sequentially consistent atomics,
 * so of a reader and a writer that arrive together at least one sees the
 * other: the reader backs off (and takes the lock), or the writer waits
 * for it. A writer waits only for the reads already in progress, which
 * cannot wait for anything, and readers that arrive after it back off:
 * a stream of readers cannot starve a writer. The slots cost a map
 * nothing until a second thread reads it (share_reads): until then its
 * reads take the lock, as one thread's reads did before.
 */
extern _Thread_local int reader_index;

static inline int my_reader_slot(void)
{
    int i = reader_index;
    return i >= 0 ? i : reader_index_slow();
}

/*
 * count_in counts a read of m in slot mine when nobody holds m's lock (it
 * looks after counting, see above): true, or false with nothing counted.
 */
static inline bool count_in(MapObject *m, reader_slot *mine)
{
    ADD_INT(&mine->count, 1);
    if (LOAD_PTR(&m->owner) == NULL)
        return true;
    ADD_INT(&mine->count, -1);
    return false;
}

/*
 * enter_shared counts a read of m in the calling thread's slot: true when
 * it may go on (leave_shared ends it), false when a thread holds m's lock
 * or m has no slots for this thread yet.
 */
static inline bool enter_shared(MapObject *m, int *slot)
{
    reader_slot *r = LOAD_PTR(&m->readers);
    if (!r && !(r = share_reads(m)))
        return false;
    *slot = my_reader_slot();
    if (!count_in(m, &r[*slot]) && !retry_shared(m, &r[*slot]))
        return false;
    if (LOAD_INT(&read_pause)) /* a test's, see _pause_shared_read */
        pause_shared_read();
    return true;
}

static inline void leave_shared(MapObject *m, int slot)
{
    ADD_INT(&m->readers[slot].count, -1);
}

/*
 * enter_nested counts a read of m made from a comparison (or other code)
 * that one of the calling thread's own reads of m runs (held_count; see
 * push_held) without looking at the owner: a thread that has taken m's
 * lock since waits for that read, so cannot change m before this one is
 * over, and this one must not wait for it. False when there is none.
 */
static inline bool enter_nested(MapObject *m, int *slot)
{
    if (held_count(m) == 0)
        return false;
    *slot = my_reader_slot();
    ADD_INT(&m->readers[*slot].count, 1);
    return true;
}
#endif

/*
 * How a read that runs no Python code holds its map: not at all (the lock
 * is held, by another thread or by this one further out, in a comparison
 * or a release: the caller takes the full path), in its thread's reader
 * slot (free-threaded; READ_SHARED + the slot), or with the lock
 * (READ_LOCKED). With the GIL nothing can run until such a read is over,
 * so it needs only that nobody holds the lock (READ_SHARED, nothing taken).
 */
enum { READ_REFUSED = -2, READ_LOCKED = -1, READ_SHARED = 0 };
#ifdef Py_GIL_DISABLED
/* A shared read that runs Python code: READ_LONG + its reader slot (see push_held). */
enum { READ_LONG = READ_SHARED + READER_SLOTS };
#endif

/*
 * try_read_lock holds m for a read that runs no Python code before its
 * last look at the tree (quick_lookup, an iterator's step, the positional
 * and neighbour reads of packed keys): the hold for read_unlock, or
 * READ_REFUSED.
 */
static inline int try_read_lock(MapObject *m)
{
#ifdef Py_GIL_DISABLED
    int slot;
    if (enter_shared(m, &slot) || enter_nested(m, &slot))
        return READ_SHARED + slot;
    /* Without slots (one thread reads m) the lock is taken, waiting for no
     * reader; with them, the caller takes the full path. */
    if (LOAD_PTR(&m->readers) || LOAD_PTR(&m->owner) ||
        !cas_ptr(&m->owner, NULL, PyThreadState_Get()))
        return READ_REFUSED;
    m->depth = 1;
    TSAN_ACQUIRE(m);
    return READ_LOCKED;
#else
    return m->owner == NULL ? READ_SHARED : READ_REFUSED;
#endif
}

/*
 * read_lock holds m for such a read as try_read_lock does, or else takes
 * its lock (READ_LOCKED): the hold for read_unlock, or READ_REFUSED with
 * RuntimeError (see map_lock).
 */
static inline int read_lock(MapObject *m)
{
    int hold = try_read_lock(m);
    if (hold == READ_REFUSED && map_lock(m) >= 0)
        hold = READ_LOCKED;
    return hold;
}

static inline void read_unlock(MapObject *m, int hold)
{
    if (hold == READ_LOCKED) {
        map_unlock(m);
        return;
    }
#ifdef Py_GIL_DISABLED
    leave_shared(m, hold - READ_SHARED);
#else
    (void)m;
#endif
}

/* What an operation does with the map it locks (see acquire). */
typedef enum { FOR_READ, FOR_WRITE } access_kind;

/*
 * acquire locks m for an operation, checks that the operation may run now
 * (reads not while an item is being released, writes not while another
 * operation on m is in progress either: both only possible from code that
 * operation runs in this thread) and pins m until release: code run from
 * now on may read m but not change it. 0, or -1 with RuntimeError and m
 * unlocked. Reading one field (the length) needs only map_lock.
 */
static inline int acquire(MapObject *m, access_kind how)
{
    int held = map_lock(m);
    if (held < 0)
        return -1;
#ifdef Py_GIL_DISABLED
    if (held == 1 && how == FOR_WRITE) { /* from a shared read's comparison */
        map_unlock(m);
        return refuse_write();
    }
#endif
    if ((how == FOR_READ ? guard_read(m) : guard_write(m)) < 0) {
        map_unlock(m);
        return -1;
    }
#ifdef Py_GIL_DISABLED
    if (held == 0) /* (held in a reader slot, m is not written: see map_lock) */
        m->busy++;
#else
    /* Adds 1 (held is 0). Written so because with a plain m->busy++ here
     * the gcc 12 build's SortedList.remove of 1M ints took 450 ns against
     * 320 (measured A/B, twice; the cause was not found). */
    m->busy += held == 0;
#endif
    return 0;
}

/* release ends what acquire began. */
static inline void release(MapObject *m)
{
#ifdef Py_GIL_DISABLED
    if (!held_in_slot(m))
#endif
        m->busy--;
    map_unlock(m);
}

/* ---- The search of a core call ------------------------------------------ */

/* native_search is the search for a key that fits packing p. */
static inline search_kind native_search(packing p)
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
static inline search_kind search_for(MapObject *m, PyObject *key, void **word)
{
    void *packed = NULL;
    key_kind k = classify_key(m, key, &packed);
    *word = key;
    if (packing_for(k) != m->packing)
        return SEARCH_OBJECTS;
    if (!holds_objects(m->packing))
        *word = packed;
    return native_search(m->packing);
}

/*
 * begin starts a core call with search s; it returns the search to restore
 * in leave: a comparison in an outer call may have run Python code that
 * made this (nested, read-only) call. Between calls m->search is the
 * native search of m's packing (replace_tree sets it), so that a read of a
 * key that takes it, shared with other threads (try_read_lock), need not
 * write it.
 */
static inline search_kind begin(MapObject *m, search_kind s)
{
    search_kind saved = m->search;
    if (s != saved) /* a shared read's is saved: it writes nothing */
        m->search = s;
    return saved;
}

/*
 * enter starts a core call that may search for a and b (either may be NULL),
 * setting the words that stand for them: it picks one search for both and
 * returns the search to restore in leave.
 */
static inline search_kind enter(MapObject *m, PyObject *a, PyObject *b, void **wa, void **wb)
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

static inline void leave(MapObject *m, search_kind saved)
{
    if (m->search != saved)
        m->search = saved;
}

/* How a read holds its map (see hold_for_read). */
typedef struct {
    int hold; /* READ_LOCKED, or READ_SHARED or READ_LONG + the reader slot */
    search_kind saved;
} read_hold;

#ifdef Py_GIL_DISABLED
/*
 * shared_search tells whether a read that searches for key (NULL: none)
 * with m held in a reader slot runs no Python code and writes nothing: key
 * is an exact int, float or str of m's packing, whose search is m's search
 * between calls (see begin: entering it writes nothing). None is a key
 * like any other here (m.get(None) searches for it, with objects); a range
 * whose bound None means unbounded passes NULL for it.
 */
static inline bool shared_search(const MapObject *m, PyObject *key)
{
    void *packed = NULL;
    return !key || (m->packing != PACK_NONE && packing_for(classify(key, &packed)) == m->packing);
}
#endif

/*
 * hold_for_read holds m for a read that searches for a and b (either may
 * be NULL: no search): on a free-threaded build shared with other
 * threads' reads (enter_shared) when nothing the read does runs Python
 * code: its searches are shared_search's, and what it makes after its
 * last look at the tree (result objects, an iterator) only allocates,
 * which runs no Python code on 3.13+ (a collection waits for the eval
 * loop). In a map of objects, whose search needs no change to m either,
 * it is shared too, recorded as one whose comparisons run Python code
 * (READ_LONG, push_held). Else, and with the GIL (where an allocation may run a collection,
 * and its __del__ methods, on 3.9 to 3.11), it acquires m for reading.
 * 0, or -1 with an exception. end_read ends the read.
 */
static inline int hold_for_read(MapObject *m, PyObject *a, PyObject *b, read_hold *h)
{
#ifdef Py_GIL_DISABLED
    int slot; /* (nested first: a writer may be waiting for the outer read) */
    if (enter_nested(m, &slot) || enter_shared(m, &slot)) {
        h->saved = m->search;
        if (shared_search(m, a) && shared_search(m, b)) {
            h->hold = READ_SHARED + slot;
            return 0;
        }
        if (m->packing == PACK_NONE && push_held(m)) { /* Python code: see push_held */
            h->hold = READ_LONG + slot;
            return 0;
        }
        leave_shared(m, slot);
    }
#else
    (void)b;
#endif
    (void)a;
    if (acquire(m, FOR_READ) < 0)
        return -1;
    h->hold = READ_LOCKED;
    h->saved = m->search;
    return 0;
}

/*
 * begin_read holds m for a read of key (NULL: of positions) and enters
 * key's search, with *word the word that stands for key in the core call.
 */
static inline int begin_read(MapObject *m, PyObject *key, void **word, read_hold *h)
{
    *word = key;
    if (hold_for_read(m, key, NULL, h) < 0)
        return -1;
    if (key)
        h->saved = enter(m, key, NULL, word, NULL);
    return 0;
}

static inline void end_read(MapObject *m, const read_hold *h)
{
    leave(m, h->saved);
#ifdef Py_GIL_DISABLED
    if (h->hold >= READ_LONG) {
        leave_shared(m, h->hold - READ_LONG);
        pop_held(m);
        return;
    }
    if (h->hold >= READ_SHARED) {
        leave_shared(m, h->hold - READ_SHARED);
        return;
    }
#endif
    release(m);
}

/*
 * remove_word removes from m, acquired for writing, the first item whose
 * key is w (the word search_for gave, with its search s): a packed int
 * through the core's typed descent, no search hook; anything else through
 * s. The removed key and value are handed back, owned, in *k and *v.
 */
static inline bpt_status remove_word(MapObject *m, search_kind s, void *w, void **k, void **v)
{
    if (s == SEARCH_INT)
        return bpt_remove_i64(m->tree, bpt_word_to_i64(w), k, v); /* typed, as in put */
    search_kind saved = begin(m, s);
    bpt_status rc = bpt_remove(m->tree, w, k, v);
    leave(m, saved);
    return rc;
}

/* ---- Quick reads ---------------------------------------------------------- */

/*
 * quick_lookup answers a lookup that runs no Python code and cannot fail,
 * without the generic machinery: an exact int in a map of packed ints (the
 * core's typed descent) or an exact str in a map of strs (str comparisons
 * run no code). True when it answered, with *value a new reference to the
 * value found, or left NULL when key is absent; false when it does not
 * apply (the map is held, or keyed otherwise): then the caller takes the
 * ordinary path.
 */
static inline bool quick_lookup(MapObject *m, PyObject *key, PyObject **value)
{
    int64_t number = 0;
    bool is_int = PyLong_CheckExact(key);
    if (!(is_int ? long_as_i64(key, &number) : PyUnicode_CheckExact(key)))
        return false;
    int hold = try_read_lock(m);
    if (hold == READ_REFUSED)
        return false;
    void *v = NULL;
    bpt_status rc = BPT_EINVAL;
    if (is_int && m->packing == PACK_INT)
        rc = bpt_get_i64(m->tree, number, &v);
    else if (!is_int && m->packing == PACK_STR)
        rc = bpt_get(m->tree, key, NULL, &v); /* m->search is SEARCH_STR: see begin */
    if (rc == BPT_OK)
        *value = Py_NewRef((PyObject *)v);
    read_unlock(m, hold);
    return rc >= 0;
}

#endif /* BPLUSTREE3_EXT_H */
