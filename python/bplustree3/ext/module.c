/*
 * module.c — the module: its initialization and its functions (the test
 * hooks' table). The top layer: it names every type.
 */
#include "ext.h"

#if PY_VERSION_HEX < 0x030A0000
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

/* _set_reuse(on): turns reusing iterator results (internals.h) on or off,
 * where it is compiled in, for the tests to run both paths; returns whether
 * it was on. */
static PyObject *mod_set_reuse(PyObject *Py_UNUSED(mod), PyObject *on)
{
    int truth = PyObject_IsTrue(on);
    if (truth < 0)
        return NULL;
    bool was = bpt_reuse_on;
#if BPT_REUSE_RESULTS /* with the GIL: no other thread reads it meanwhile */
    bpt_reuse_on = truth;
#endif
    return PyBool_FromLong(was);
}

static PyMethodDef module_methods[] = {
    {"_set_reuse", mod_set_reuse, METH_O,
     "_set_reuse(on): turn the iterators' reuse of results (internals.h) on or off where it "
     "is compiled in; returns whether it was on. For tests."},
    {"_adopt_methods", adopt_methods, METH_O,
     "_adopt_methods(cls): give cls, a subclass of BPlusTreeMapBase, descriptors of its own "
     "for the base's methods it does not define (the interpreter's fast call path)."},
    {"_live_blocks", mod_live_blocks, METH_NOARGS,
     "_live_blocks() -> blocks the C core holds now (trees, nodes, cursors)."},
    {"_dict_apply", (PyCFunction)(void (*)(void))mod_dict_apply, METH_FASTCALL,
     "_dict_apply(d, delete, put): delete keys from a dict, then put items back, "
     "allocating nothing (for SortedDict)."},
    {"_set_apply", (PyCFunction)(void (*)(void))mod_set_apply, METH_FASTCALL,
     "_set_apply(s, discard, add): discard values from a set, then add values back, "
     "allocating nothing (for SortedSet)."},
    {"_pause_shared_read", mod_pause_shared_read, METH_O,
     "_pause_shared_read(state): for tests, arm (1) or release (0) a pause of the next read "
     "shared between threads (-1: neither); returns the previous state (2: a read is "
     "paused). Free-threaded builds only."},
    {"_fail_allocation", mod_fail_allocation, METH_O,
     "_fail_allocation(n): for tests, make the core's n-th allocation from now fail "
     "(0: none)."},
    {NULL, NULL, 0, NULL},
};

/* The module's int constants. */
static const struct {
    const char *name;
    long value;
} int_constants[] = {
    {"MIN_CAPACITY", BPT_MIN_CAPACITY}, {"MAX_CAPACITY", BPT_MAX_CAPACITY},
    {"DEFAULT_CAPACITY", DEFAULT_CAPACITY}, {"_KEYS", KIND_KEYS},
    {"_VALUES", KIND_VALUES}, {"_ITEMS", KIND_ITEMS},
};

/*
 * add_objects adds the module's objects and constants to mod: the types,
 * InvariantError, the int constants and the rest. 0, or -1.
 */
static int add_objects(PyObject *mod)
{
    if (PyModule_AddObjectRef(mod, "InvariantError", InvariantError) < 0 ||
        PyModule_AddObjectRef(mod, "BPlusTreeMapBase", (PyObject *)&MapType) < 0 ||
        PyModule_AddObjectRef(mod, "SortedListBase", (PyObject *)&ListType) < 0 ||
        PyModule_AddStringConstant(mod, "_TOTAL_ORDER_HINT", TOTAL_ORDER_HINT) < 0 ||
        PyModule_AddObjectRef(mod, "_REUSE_COMPILED", BPT_REUSE_RESULTS ? Py_True : Py_False) < 0)
        return -1;
    for (size_t i = 0; i < sizeof int_constants / sizeof *int_constants; i++)
        if (PyModule_AddIntConstant(mod, int_constants[i].name, int_constants[i].value) < 0)
            return -1;
    return 0;
}

/*
 * module_exec fills the module (multi-phase init). The types are static and
 * InvariantError is made once: one per process, like the lock's
 * wait_mutex, so the module supports one interpreter only.
 */
static int module_exec(PyObject *mod)
{
    if (PyType_Ready(&MapType) < 0 || PyType_Ready(&IterType) < 0 ||
        PyType_Ready(&ListType) < 0)
        return -1;
    map_type = &MapType;
    list_type = &ListType;
    if (errors_init() < 0 || map_init() < 0)
        return -1;
    return add_objects(mod);
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
