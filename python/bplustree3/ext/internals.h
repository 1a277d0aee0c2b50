/*
 * internals.h — every use of CPython's object layouts beyond its C API, in
 * one place. Each is compiled only for the CPython versions whose layout
 * the test suite exercises on that very version (scripts/test.sh runs
 * tests/python/test_packing.py on 3.11 and on each of 3.9, 3.10, 3.12 and
 * 3.13 that the machine has); every other version, and the free-threaded
 * build, takes the plain path through the C API. Included by ext.h only.
 *
 * Reading an int's digits (internals_long_as_i64): 3.11 only, whose
 * layout is fixed; 3.12 on read compact ints through the C API.
 *
 * Reusing results (BPT_REUSE_RESULTS): an iterator over a map of packed
 * numbers makes an int or float object per key, and most loops drop each
 * key before asking for the next, so the iterator rewrites in place a
 * number (or an items() pair) that only it still holds. That writes an
 * int's digits (whose layout changed in 3.12) and a float's value, and
 * refills a live tuple (3.14 caches a tuple's hash in it: not allowed).
 * A count of one proves that nobody else holds an object only with the
 * GIL, hence not free-threaded. tests/python/test_packing.py checks that
 * bplustree3._bplustree3._REUSE_COMPILED is true exactly on the versions
 * below, and runs its iteration tests with reuse on and off
 * (_set_reuse).
 */
#ifndef BPLUSTREE3_INTERNALS_H
#define BPLUSTREE3_INTERNALS_H

#if !defined(Py_GIL_DISABLED) && PyLong_SHIFT == 30 && PY_VERSION_HEX >= 0x03090000 && \
    PY_VERSION_HEX < 0x030E0000 /* 3.9 to 3.13 */
#define BPT_REUSE_RESULTS 1
#else
#define BPT_REUSE_RESULTS 0
#endif

/*
 * internals_long_as_i64 reads an exact int of up to three 30-bit digits
 * below 2**63 as an int64 from its digits, on 3.11 (3.12 on has the C API's
 * compact ints): true when it did, false to take the C API's path.
 */
static inline bool internals_long_as_i64(PyObject *key, int64_t *out)
{
#if PY_VERSION_HEX >= 0x030B0000 && PY_VERSION_HEX < 0x030C0000 && PYLONG_BITS_IN_DIGIT == 30
    Py_ssize_t size = Py_SIZE(key), len = size < 0 ? -size : size;
    const digit *d = ((PyLongObject *)key)->ob_digit;
    if (len <= 2 || (len == 3 && d[2] < 8)) { /* below 2**63 */
        uint64_t mag = len == 0 ? 0 : d[0];
        if (len >= 2)
            mag |= (uint64_t)d[1] << 30;
        if (len == 3)
            mag |= (uint64_t)d[2] << 60;
        *out = size < 0 ? -(int64_t)mag : (int64_t)mag;
        return true;
    }
#else
    (void)key;
    (void)out;
#endif
    return false;
}

/* Whether iterators reuse results now: BPT_REUSE_RESULTS, unless a test
 * turned it off (_set_reuse); only ever changed with the GIL held. */
extern int bpt_reuse_on;

/*
 * internals_rewrite_int sets o, an exact int that nobody else holds, to v,
 * when v has as many 30-bit digits as o's value and the same sign (o's
 * allocation and header then stay right) and is not one of the small ints
 * CPython shares (-5 to 256). False when it cannot.
 */
static inline bool internals_rewrite_int(PyObject *o, int64_t v)
{
#if BPT_REUSE_RESULTS
    if (v >= -5 && v <= 256)
        return false;
    uint64_t mag = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    int digits = mag >> 30 == 0 ? 1 : mag >> 60 == 0 ? 2 : 3;
    PyLongObject *l = (PyLongObject *)o;
#if PY_VERSION_HEX >= 0x030C0000
    /* lv_tag: digits << 3 | sign (0 positive, 2 negative), no flags */
    if (l->long_value.lv_tag != ((uintptr_t)digits << 3 | (v < 0 ? 2u : 0u)))
        return false;
    digit *d = l->long_value.ob_digit;
#else
    if (Py_SIZE(o) != (v < 0 ? -digits : digits))
        return false;
    digit *d = l->ob_digit;
#endif
    for (int i = 0; i < digits; i++, mag >>= 30)
        d[i] = (digit)(mag & PyLong_MASK);
    return true;
#else
    (void)o;
    (void)v;
    return false;
#endif
}

/* internals_rewrite_float sets o, an exact float that nobody else holds, to v. */
static inline bool internals_rewrite_float(PyObject *o, double v)
{
#if BPT_REUSE_RESULTS
    ((PyFloatObject *)o)->ob_fval = v;
    return true;
#else
    (void)o;
    (void)v;
    return false;
#endif
}

/*
 * internals_refill_pair puts key (NULL: keep the one it holds) and value
 * (both stolen) into r, a 2-tuple that nobody else holds, and hands back
 * its old key (NULL when kept) and old value for the caller to drop. The
 * collector may have untracked r: tracked again.
 */
static inline void internals_refill_pair(PyObject *r, PyObject *key, PyObject *value,
                                         PyObject **old_key, PyObject **old_value)
{
    *old_key = key ? PyTuple_GET_ITEM(r, 0) : NULL;
    *old_value = PyTuple_GET_ITEM(r, 1);
    if (key)
        PyTuple_SET_ITEM(r, 0, key);
    PyTuple_SET_ITEM(r, 1, value);
    if (!PyObject_GC_IsTracked(r))
        PyObject_GC_Track(r);
}

#endif
