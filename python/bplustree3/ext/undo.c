/*
 * undo.c — changing a dict or a set without allocating, for the
 * all-or-nothing methods of SortedDict and SortedSet (_sorted.py): the
 * undo of a half-done change, and the last step of a change that must not
 * fail once the order has changed. When memory has run out, these still
 * have to work, so they cannot be Python code (a loop makes an iterator)
 * and cannot use the calls that grow a table first (dict.update,
 * set.update): they delete and put back one entry at a time. Deleting
 * allocates nothing, and a dict value put back for a key the dict holds
 * allocates nothing. A value put back into a set usually finds the slot its
 * deletion left; the set grows its table (and allocates) when another one
 * put back took it first, or when the table shrank in between (a set's
 * difference_update shrinks it when a quarter of it is deleted slots).
 */
#include "ext.h"

/* sequence_arg checks that args[i] is a list or a tuple; 0 or -1 with TypeError. */
static int sequence_arg(PyObject *const *args, Py_ssize_t i)
{
    if (PyList_Check(args[i]) || PyTuple_Check(args[i]))
        return 0;
    PyErr_Format(PyExc_TypeError, "argument %zd must be a list or a tuple, not %.50s", i + 1,
                 Py_TYPE(args[i])->tp_name);
    return -1;
}

/* typed_arg checks that args[i] is of type; 0 or -1 with TypeError. */
static int typed_arg(PyObject *const *args, Py_ssize_t i, PyTypeObject *type)
{
    if (PyObject_TypeCheck(args[i], type))
        return 0;
    PyErr_Format(PyExc_TypeError, "argument %zd must be %.50s, not %.50s", i + 1,
                 type->tp_name, Py_TYPE(args[i])->tp_name);
    return -1;
}

/*
 * _dict_apply(d, delete, put): deletes from the dict d the keys of the list
 * or tuple delete that it holds, then stores the items of the dict put
 * (for keys d holds: no table grows).
 */
PyObject *mod_dict_apply(PyObject *Py_UNUSED(mod), PyObject *const *args, Py_ssize_t nargs)
{
    if (check_args("_dict_apply", nargs, 3, 3) < 0 || typed_arg(args, 0, &PyDict_Type) < 0 ||
        sequence_arg(args, 1) < 0 || typed_arg(args, 2, &PyDict_Type) < 0)
        return NULL;
    PyObject *d = args[0], *delete = args[1], *put = args[2], *key, *value;
    for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(delete); i++) {
        key = PySequence_Fast_GET_ITEM(delete, i);
        int rc = PyDict_Contains(d, key);
        if (rc < 0 || (rc > 0 && PyDict_DelItem(d, key) < 0))
            return NULL;
    }
    for (Py_ssize_t pos = 0; PyDict_Next(put, &pos, &key, &value);)
        if (PyDict_SetItem(d, key, value) < 0)
            return NULL;
    Py_RETURN_NONE;
}

/*
 * _set_apply(s, discard, add): discards from the set s the values of the
 * list or tuple discard, then adds those of the list or tuple add.
 */
PyObject *mod_set_apply(PyObject *Py_UNUSED(mod), PyObject *const *args, Py_ssize_t nargs)
{
    if (check_args("_set_apply", nargs, 3, 3) < 0 || typed_arg(args, 0, &PySet_Type) < 0 ||
        sequence_arg(args, 1) < 0 || sequence_arg(args, 2) < 0)
        return NULL;
    PyObject *s = args[0], *discard = args[1], *add = args[2];
    for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(discard); i++)
        if (PySet_Discard(s, PySequence_Fast_GET_ITEM(discard, i)) < 0)
            return NULL;
    for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(add); i++)
        if (PySet_Add(s, PySequence_Fast_GET_ITEM(add, i)) < 0)
            return NULL;
    Py_RETURN_NONE;
}
