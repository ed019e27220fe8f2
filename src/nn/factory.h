/* Internal: built-in module kinds by PyTorch class name (cnnc_module_create) and the
 * constructor arguments that re-create a module. */
#ifndef CNNC_NN_FACTORY_H
#define CNNC_NN_FACTORY_H
#include "nn/kwargs.h"

/* One creatable kind: create(kw, arg) reads the keyword arguments (kwargs.h) and
 * calls the public constructor. */
typedef cnnc_module *(*cnnc__create_fn)(cnnc__kwargs *kw, int arg);
typedef struct cnnc__kind_entry {
    const char *type;
    cnnc__create_fn create;
    int arg;          /* which variant create makes (dims, transposed, ...) */
    const char *skip; /* fields that are no constructor argument, space-separated */
    bool bias;        /* "bias" is an argument: whether the bias parameter exists */
} cnnc__kind_entry;

/* Activations, dropout, Flatten, Identity and the containers (factory_simple.c),
 * ended by an entry with type NULL. */
extern const cnnc__kind_entry cnnc__simple_kinds[];

/* Is type a built-in kind cnnc_module_create knows? */
bool cnnc__module_type_known(const char *type);
/* The constructor arguments that re-create m (its fields but those the constructor
 * does not take, plus "bias" where that is an argument): up to cap (name, value)
 * pairs, names borrowed from m's kind; their count, or -1 when m is no built-in
 * kind (a user-defined module). Children are not arguments. */
int cnnc__module_ctor_args(const cnnc_module *m, const char **names, cnnc_value *values, int cap);
#endif
