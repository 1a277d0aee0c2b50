/*
 * lock.c — the slow path of a map's lock (see Threads in ext.h): waiting
 * on the gate, waking a waiter, and refusing a wait that would deadlock.
 * The fast path (map_lock, map_unlock, acquire) is inline in ext.h.
 */
#include "ext.h"

/* The lock's slow path is under wait_mutex without the GIL, under the GIL with it. */
#ifdef Py_GIL_DISABLED
static PyMutex wait_mutex;
#define WAIT_MUTEX_LOCK() (PyMutex_Lock(&wait_mutex), TSAN_ACQUIRE(&wait_mutex))
#define WAIT_MUTEX_UNLOCK() (TSAN_RELEASE(&wait_mutex), PyMutex_Unlock(&wait_mutex))
#else
#define WAIT_MUTEX_LOCK() ((void)0)
#define WAIT_MUTEX_UNLOCK() ((void)0)
#endif

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
int map_lock_slow(MapObject *m, void *me)
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
void wake_one(MapObject *m)
{
    WAIT_MUTEX_LOCK();
    if (LOAD_INT(&m->waiters) > 0 && !m->woken) {
        m->woken = 1;
        PyThread_release_lock(m->gate);
    }
    WAIT_MUTEX_UNLOCK();
}
