/*
 * lock.c — the slow path of a map's lock (see Threads in ext.h): waiting
 * on the gate, waking a waiter, and refusing a wait that would deadlock.
 * The fast path (map_lock, map_unlock, acquire) is inline in ext.h.
 */
#include "ext.h"

/* The lock's slow path is under wait_mutex without the GIL, under the GIL with it. */
#ifdef Py_GIL_DISABLED
static PyMutex wait_mutex;
static reader_slot *make_slots(MapObject *m); /* shared reads, below */
#define WAIT_MUTEX_LOCK() (PyMutex_Lock(&wait_mutex), TSAN_ACQUIRE(&wait_mutex))
#define WAIT_MUTEX_UNLOCK() (TSAN_RELEASE(&wait_mutex), PyMutex_Unlock(&wait_mutex))
#else
#define WAIT_MUTEX_LOCK() ((void)0)
#define WAIT_MUTEX_UNLOCK() ((void)0)
#endif

/* ---- The lock ------------------------------------------------------------- */

/*
 * A thread that waits for a map: asleep on its gate until its holder lets
 * go (FOR_LOCK), or, having taken its lock, for the reads of it in
 * progress to end (FOR_READERS, free-threaded builds). The wait list is
 * for would_deadlock.
 */
typedef enum { FOR_LOCK, FOR_READERS } wait_kind;
typedef struct waiter {
    void *thread;
    MapObject *map;
    wait_kind kind;
    struct waiter *next;
} waiter;

static waiter *waiting; /* under wait_mutex */

#ifdef Py_GIL_DISABLED
static long_reader *long_readers; /* every thread's record of its reads (see push_held) */

/* record_holds tells whether r, another thread's record, holds m. */
static bool record_holds(long_reader *r, MapObject *m)
{
    int n = LOAD_INT(&r->count);
    for (int i = 0; i < n && i < HELD_MAX; i++)
        if (LOAD_PTR(&r->held[i]) == m)
            return true;
    return false;
}

static bool reaches(void *t, void *me, size_t *budget);

/*
 * a_reader_reaches tells whether a thread other than skip whose record
 * holds m waits, through the wait list, for thread me (see reaches).
 */
static bool a_reader_reaches(MapObject *m, void *skip, void *me, size_t *budget)
{
    for (long_reader *r = LOAD_PTR(&long_readers); r; r = r->next) {
        void *reader = LOAD_PTR(&r->thread);
        if (reader && reader != skip && record_holds(r, m) && reaches(reader, me, budget))
            return true;
    }
    return false;
}
#endif

/*
 * reaches tells whether thread t waits, through the wait list, for thread
 * me: t waits for a map whose holder waits ... for me (a thread waiting
 * for a map's readers waits for each thread whose record holds it). Under
 * wait_mutex; *budget bounds the walk: a walk longer than the wait list
 * and the records is a changing one (owners and records change without
 * wait_mutex), not a cycle. Every thread on a path it reports waits, so
 * the cycle is real.
 */
static bool reaches(void *t, void *me, size_t *budget)
{
    while (t && *budget > 0) {
        --*budget;
        if (t == me)
            return true;
        waiter *w = waiting;
        while (w && w->thread != t)
            w = w->next;
        if (!w)
            return false; /* t is running: it will let go */
#ifdef Py_GIL_DISABLED
        if (w->kind == FOR_READERS)
            return a_reader_reaches(w->map, t, me, budget);
#endif
        t = LOAD_PTR(&w->map->owner);
    }
    return false;
}

/* walk_budget is reaches's budget: more steps than a cycle can take. */
static size_t walk_budget(void)
{
    size_t n = 2;
    for (waiter *w = waiting; w; w = w->next)
        n++;
#ifdef Py_GIL_DISABLED
    for (long_reader *r = LOAD_PTR(&long_readers); r; r = r->next)
        n++;
#endif
    return 2 * n;
}

/*
 * would_deadlock tells whether thread me, about to wait for m, would wait
 * forever: m's holder waits for a map whose holder waits ... for a map me
 * holds. Under wait_mutex.
 */
static bool would_deadlock(MapObject *m, void *me)
{
    size_t budget = walk_budget();
    return reaches(LOAD_PTR(&m->owner), me, &budget);
}

#define DEADLOCK_MESSAGE                                                                           \
    "BPlusTreeMap is in use by another thread that waits for a map this thread holds: "         \
    "waiting would deadlock (a comparison or __del__ that uses another map shared between "     \
    "threads)"

/* unlist takes w off the wait list (under wait_mutex). */
static void unlist(waiter *w)
{
    waiter **p = &waiting;
    while (*p != w)
        p = &(*p)->next;
    *p = w->next;
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
int map_lock_slow(MapObject *m, void *me)
{
#ifdef Py_GIL_DISABLED
    /* Two threads use m: its reads may be shared from now on (share_reads
     * waits for a second reader; a writer that has to wait is one too). */
    if (!LOAD_PTR(&m->readers))
        make_slots(m);
#endif
    WAIT_MUTEX_LOCK();
    if (would_deadlock(m, me)) {
        WAIT_MUTEX_UNLOCK();
        PyErr_SetString(PyExc_RuntimeError, DEADLOCK_MESSAGE);
        return -1;
    }
    ADD_INT(&m->waiters, 1);
    waiter self = {me, m, FOR_LOCK, waiting};
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
    unlist(&self);
    WAIT_MUTEX_UNLOCK();
    m->depth = 1;
    return drain_readers(m);
}

/*
 * wake_one wakes one of m's waiters after the lock was let go of: it opens
 * the gate, unless it is open already (woken), so that it is opened once
 * for each time a waiter shuts it.
 */
void wake_one(MapObject *m)
{
    WAIT_MUTEX_LOCK();
    if (LOAD_INT(&m->waiters) > 0 && !m->woken) {
        m->woken = 1;
        PyThread_release_lock(m->gate);
    }
    WAIT_MUTEX_UNLOCK();
}

#ifdef Py_GIL_DISABLED
/* ---- Shared reads (see enter_shared in ext.h) ------------------------------ */

#include <sched.h>
#include <time.h>

/* Each thread's reader slot, given out in turn: -1 until its first read. */
_Thread_local int reader_index = -1;
static int next_reader_index;

int reader_index_slow(void)
{
    reader_index = (int)((unsigned)ADD_INT(&next_reader_index, 1) % READER_SLOTS);
    return reader_index;
}

/*
 * share_reads gives m its reader slots when a second thread reads it (or
 * when a thread has had to wait for m's lock, see map_lock_slow), and
 * returns them; NULL while the calling thread is the only one to have read
 * m (its reads take the lock, which costs one thread no more), or when the
 * slots cannot be allocated (then reads take the lock, as before).
 */
reader_slot *share_reads(MapObject *m)
{
    void *me = PyThreadState_Get();
    void *home = LOAD_PTR(&m->reader_home);
    if (home == NULL && cas_ptr(&m->reader_home, NULL, me))
        return NULL;
    if (LOAD_PTR(&m->reader_home) == me)
        return NULL;
    return make_slots(m);
}

/*
 * make_slots allocates m's reader slots unless another thread has, and
 * returns them (NULL when they cannot be allocated: reads take the lock).
 */
static reader_slot *make_slots(MapObject *m)
{
    reader_slot *r = EXT_RAW_CALLOC(READER_SLOTS, sizeof(reader_slot));
    if (!r)
        return NULL;
    if (!cas_ptr((void **)&m->readers, NULL, r)) { /* another thread's came first */
        EXT_RAW_FREE(r);
        r = LOAD_PTR(&m->readers);
    }
    return r;
}

/* cpu_relax tells the CPU that this thread spins (and its twin may run). */
static inline void cpu_relax(void)
{
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
    __builtin_ia32_pause();
#elif defined(__GNUC__) && defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* How many times a shared read looks for the lock to be let go of. */
#define SHARED_READ_SPINS 512

/*
 * retry_shared is enter_shared's second chance, for a read that found m's
 * lock held: writers hold it for a moment (their operations run no Python
 * code, most of the time), and sleeping on the gate until one lets go, then
 * taking the lock, costs far more than a moment and would make the reads
 * that follow wait for each other. It counts the read in its slot (mine)
 * again once nobody holds the lock, within SHARED_READ_SPINS looks: true,
 * as enter_shared; false when the lock stays held, or this thread holds it
 * (a read from its own comparison), or a thread waits on the gate (those
 * go first, in their turn).
 */
bool retry_shared(MapObject *m, reader_slot *mine)
{
    void *me = PyThreadState_Get();
    for (int spins = 0; spins < SHARED_READ_SPINS; spins++) {
        void *owner = LOAD_PTR(&m->owner);
        if (owner == me || LOAD_INT(&m->waiters) > 0)
            return false;
        if (owner == NULL && count_in(m, mine))
            return true;
        cpu_relax();
    }
    return false;
}

/* drained tells whether the reads of a map (r, its slots) in progress are over. */
static bool drained(const reader_slot *r)
{
    for (int i = 0; i < READER_SLOTS; i++)
        if (LOAD_INT(&r[i].count) != 0)
            return false;
    return true;
}

/* nap lets the CPU go, detached, a little longer each time (up to 1 ms). */
static void nap(unsigned naps)
{
    Py_BEGIN_ALLOW_THREADS
    if (naps < 64) {
        sched_yield();
    } else {
        unsigned us = naps < 70 ? 16u << (naps - 64) : 1000u;
        struct timespec t = {0, (long)us * 1000L};
        nanosleep(&t, NULL);
    }
    Py_END_ALLOW_THREADS
}

/*
 * wait_for_readers waits, by the thread that has just taken m's lock,
 * until the shared reads of m in progress are over: 0. Reads that run no
 * Python code wait for nothing, so this is short; it spins first, then
 * joins the wait list and naps (detached, so that a collection that stops
 * every thread is not held up), for reads whose comparisons run Python
 * code may take long, and wait: when one of their threads waits, through
 * the locks of other maps, for this one, waiting would deadlock, and it
 * lets go of m's lock: -1 with RuntimeError.
 */
int wait_for_readers(MapObject *m, reader_slot *r)
{
    for (unsigned spins = 0; spins < 256; spins++) {
        if (drained(r)) {
            TSAN_ACQUIRE(m);
            return 0;
        }
        cpu_relax();
    }
    void *me = PyThreadState_Get();
    waiter self = {me, m, FOR_READERS, NULL};
    bool cycle = false;
    WAIT_MUTEX_LOCK();
    self.next = waiting;
    waiting = &self;
    for (unsigned naps = 0; !drained(r); naps++) {
        size_t budget = walk_budget();
        if ((cycle = a_reader_reaches(m, me, me, &budget)))
            break;
        WAIT_MUTEX_UNLOCK();
        nap(naps);
        WAIT_MUTEX_LOCK();
    }
    unlist(&self);
    WAIT_MUTEX_UNLOCK();
    if (cycle) {
        map_unlock(m); /* depth 1: lets go, and wakes a waiter */
        PyErr_SetString(PyExc_RuntimeError, DEADLOCK_MESSAGE);
        return -1;
    }
    TSAN_ACQUIRE(m);
    return 0;
}

/* The thread's record while it holds a read (see push_held), and its last one. */
_Thread_local long_reader *my_long;
static _Thread_local long_reader *my_record;

/*
 * push_held records that the calling thread holds m for a read that runs
 * Python code (a shared read of a map of objects, see hold_for_read), so
 * that a thread that takes m's lock can tell whether it waits for a
 * thread that waits for it (wait_for_readers), and the thread itself that
 * a change to m from its comparison must be refused (acquire) and a read
 * of m must not wait (enter_nested). The first claims a record, the
 * thread's last one when it is free. False when the record is full or
 * none can be allocated: the read then takes the lock.
 */
bool push_held(MapObject *m)
{
    long_reader *r = my_long;
    if (!r) {
        void *me = PyThreadState_Get();
        r = my_record;
        if (!r || !cas_ptr(&r->thread, NULL, me)) {
            for (r = LOAD_PTR(&long_readers); r; r = r->next)
                if (!LOAD_PTR(&r->thread) && cas_ptr(&r->thread, NULL, me))
                    break;
        }
        if (!r) {
            if (!(r = EXT_RAW_CALLOC(1, sizeof(long_reader))))
                return false;
            r->thread = me;
            do
                r->next = LOAD_PTR(&long_readers);
            while (!cas_ptr((void **)&long_readers, r->next, r));
        }
        my_long = my_record = r;
    }
    if (r->count == HELD_MAX)
        return false; /* r->count > 0: r stays this thread's */
    STORE_PTR(&r->held[r->count], m);
    _Py_atomic_store_int(&r->count, r->count + 1);
    return true;
}

/*
 * pop_held ends a record of push_held of m: the innermost (the last of m,
 * should code that switches C stacks in a comparison end them out of
 * order).
 */
void pop_held(MapObject *m)
{
    long_reader *r = my_long;
    int n = r->count - 1, i = n;
    while (i > 0 && r->held[i] != m)
        i--;
    for (; i < n; i++)
        STORE_PTR(&r->held[i], r->held[i + 1]);
    _Py_atomic_store_int(&r->count, n);
    STORE_PTR(&r->held[n], NULL);
    if (n == 0) {
        my_long = NULL;
        STORE_PTR(&r->thread, NULL);
    }
}

/*
 * The test hook _pause_shared_read(state): armed (1), the next shared read
 * to begin pauses (2) in its slot, before its look at the tree, until a
 * test sets the state back to 0.
 */
int read_pause;

void pause_shared_read(void)
{
    int armed = 1;
    if (!_Py_atomic_compare_exchange_int(&read_pause, &armed, 2))
        return;
    while (LOAD_INT(&read_pause) == 2) {
        Py_BEGIN_ALLOW_THREADS
        sched_yield();
        Py_END_ALLOW_THREADS
    }
}

/* free_readers frees m's slots (m is being freed: nobody reads it). */
void free_readers(MapObject *m)
{
    EXT_RAW_FREE(m->readers);
    m->readers = NULL;
}
#endif

/*
 * _pause_shared_read(state): sets the test hook's state (0: idle, 1:
 * armed; -1 leaves it) and returns the one it replaced (2: a read is
 * paused). NotImplementedError with the GIL, where reads are not shared.
 */
PyObject *mod_pause_shared_read(PyObject *mod, PyObject *arg)
{
    (void)mod;
    long state = PyLong_AsLong(arg);
    if (state == -1 && PyErr_Occurred())
        return NULL;
#ifdef Py_GIL_DISABLED
    if (state > 1) {
        PyErr_SetString(PyExc_ValueError, "_pause_shared_read: state is -1, 0 or 1");
        return NULL;
    }
    int old = state < 0 ? LOAD_INT(&read_pause) : _Py_atomic_exchange_int(&read_pause, (int)state);
    return PyLong_FromLong(old);
#else
    PyErr_SetString(PyExc_NotImplementedError, "reads are shared only without the GIL");
    return NULL;
#endif
}
