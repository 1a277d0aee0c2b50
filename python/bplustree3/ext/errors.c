/*
 * errors.c — what every file of the extension uses: InvariantError, core
 * errors as exceptions, and the checks of arguments (counts, keywords,
 * capacity, iterator kind). The bottom layer: it calls no other file.
 * Each returns 0 (or the value read), or -1 with an exception set.
 */
#include "ext.h"

PyObject *InvariantError;

/*
 * errors_init makes InvariantError, once per process (like the lock's
 * wait_mutex: the module supports one interpreter only). 0, or -1.
 */
int errors_init(void)
{
    if (InvariantError)
        return 0;
    InvariantError = PyErr_NewExceptionWithDoc(
        "bplustree3.InvariantError",
        "A BPlusTreeMap failed its invariant check; .invariant names which invariant.", NULL,
        NULL);
    return InvariantError ? 0 : -1;
}

/* raise_status turns a core error into a Python exception; returns -1. */
int raise_status(bpt_status rc)
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

void set_key_error(PyObject *key)
{
    PyObject *args = PyTuple_Pack(1, key);
    if (args) {
        PyErr_SetObject(PyExc_KeyError, args);
        Py_DECREF(args);
    }
}

/*
 * check_args checks a METH_FASTCALL method's positional argument count: 0,
 * or -1 with TypeError.
 */
int check_args(const char *name, Py_ssize_t nargs, Py_ssize_t min, Py_ssize_t max)
{
    if (nargs >= min && nargs <= max)
        return 0;
    PyErr_Format(PyExc_TypeError, "%s expected %zd to %zd arguments, got %zd", name, min, max,
                 nargs);
    return -1;
}

/*
 * fast_kwargs places the arguments of a METH_FASTCALL | METH_KEYWORDS call
 * by parameter name (names, count of them) into out, NULL where one is not
 * given: 0, or -1 with the TypeError a Python function would raise.
 */
int fast_kwargs(const char *name, const char *const *names, int count, PyObject *const *args,
                Py_ssize_t nargs, PyObject *kwnames, PyObject **out)
{
    if (nargs > count) {
        PyErr_Format(PyExc_TypeError, "%s() takes at most %d positional arguments (%zd given)",
                     name, count, nargs);
        return -1;
    }
    for (int i = 0; i < count; i++)
        out[i] = i < nargs ? args[i] : NULL;
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    for (Py_ssize_t j = 0; j < nkw; j++) {
        PyObject *kw = PyTuple_GET_ITEM(kwnames, j);
        int i = 0;
        while (i < count && PyUnicode_CompareWithASCIIString(kw, names[i]) != 0)
            i++;
        if (i == count) {
            PyErr_Format(PyExc_TypeError, "%s() got an unexpected keyword argument %R", name, kw);
            return -1;
        }
        if (out[i]) {
            PyErr_Format(PyExc_TypeError, "%s() got multiple values for argument '%s'", name,
                         names[i]);
            return -1;
        }
        out[i] = args[nargs + j];
    }
    return 0;
}

/* parse_capacity validates a capacity argument; -1 with an exception. */
long parse_capacity(PyObject *obj)
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

/* parse_kind reads an iterator kind argument: the kind, or -1. */
int parse_kind(PyObject *obj)
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

/* take_exception takes the exception being raised, normalized: a new
 * reference (NULL when none is). */
static PyObject *take_exception(void)
{
#if PY_VERSION_HEX >= 0x030C0000
    return PyErr_GetRaisedException();
#else
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    if (value && tb)
        PyException_SetTraceback(value, tb);
    Py_XDECREF(type);
    Py_XDECREF(tb);
    return value;
#endif
}

/*
 * restate_error: when the exception being raised is exactly of type type
 * (not a subclass, which is someone's own), raises instead a new one of
 * that type, caused by it, whose message is format made with the old
 * exception for its first %S or %R and arg for its second. Anything else
 * being raised is left as it is.
 */
void restate_error(PyObject *type, const char *format, PyObject *arg)
{
    if (PyErr_Occurred() != type)
        return;
    PyObject *old = take_exception();
    if (!old)
        return;
    PyObject *message = PyUnicode_FromFormat(format, old, arg);
    PyObject *new = message ? PyObject_CallOneArg(type, message) : NULL;
    Py_XDECREF(message);
    if (!new) { /* the error making it (MemoryError) is raised instead */
        Py_DECREF(old);
        return;
    }
    PyException_SetCause(new, Py_NewRef(old));
    PyException_SetContext(new, old); /* takes old */
#if PY_VERSION_HEX >= 0x030C0000
    PyErr_SetRaisedException(new); /* takes new */
#else
    PyErr_Restore(Py_NewRef(type), new, NULL); /* takes both */
#endif
}

/*
 * explain_order_error adds to a TypeError raised by comparing two keys,
 * such as a str and an int, what a sorted container needs of its keys
 * (_TOTAL_ORDER_HINT, which the Python side adds to its sorts' errors).
 */
void explain_order_error(void)
{
    restate_error(PyExc_TypeError, "%S " TOTAL_ORDER_HINT, NULL);
}
