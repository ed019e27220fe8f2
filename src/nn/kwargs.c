/* Constructor keyword arguments as names + cnnc_values (see kwargs.h). */
#include "nn/kwargs.h"

#include <string.h>

#include "core/error.h"

static const char *const kind_names[CNNC_VALUE_KIND_COUNT] = {
    "NoneType", "bool", "int", "float", "tuple of ints", "str", "tuple of floats"};

static const char *kind_name(cnnc_value_kind k) {
    return (unsigned)k < CNNC_VALUE_KIND_COUNT ? kind_names[k] : "unknown";
}

static void fail(cnnc__kwargs *kw, cnnc_status st) {
    if (kw->st == CNNC_OK) kw->st = st;
}

void cnnc__kw_init(cnnc__kwargs *kw, const char *fn, size_t n, const char *const *names,
                   const cnnc_value *values) {
    *kw = (cnnc__kwargs){.fn = fn, .n = n, .names = names, .values = values};
    if (n > CNNC__MAX_KWARGS || (n && (!names || !values))) {
        fail(kw, cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                             "%s(): %zu keyword arguments (at most %d, names and values given)", fn,
                             n, CNNC__MAX_KWARGS));
        return;
    }
    for (size_t i = 0; i < n && kw->st == CNNC_OK; i++) {
        if (!names[i])
            fail(kw, cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "%s(): keyword %zu has no name", fn, i));
        for (size_t j = 0; j < i && kw->st == CNNC_OK; j++)
            if (strcmp(names[i], names[j]) == 0)
                fail(kw, cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                                     "%s() got multiple values for argument '%s'", fn, names[i]));
    }
}

const cnnc_value *cnnc__kw_get(cnnc__kwargs *kw, const char *name) {
    if (kw->st != CNNC_OK) return NULL;
    for (size_t i = 0; i < kw->n; i++)
        if (strcmp(kw->names[i], name) == 0) {
            kw->used |= (uint64_t)1 << i;
            return &kw->values[i];
        }
    return NULL;
}

void cnnc__kw_require(cnnc__kwargs *kw, const char *name) {
    if (kw->st != CNNC_OK) return;
    for (size_t i = 0; i < kw->n; i++)
        if (strcmp(kw->names[i], name) == 0) return;
    fail(kw, cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                         "%s.__init__() missing 1 required positional argument: '%s'", kw->fn, name));
}

/* The value, if it is of one of the kinds allowed (else the type error). */
static const cnnc_value *typed(cnnc__kwargs *kw, const char *name, const char *want, int n_kinds,
                               const cnnc_value_kind *kinds) {
    const cnnc_value *v = cnnc__kw_get(kw, name);
    if (!v) return NULL;
    for (int i = 0; i < n_kinds; i++)
        if (v->kind == kinds[i]) return v;
    fail(kw, cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "%s(): argument '%s' must be %s, not %s", kw->fn,
                         name, want, kind_name(v->kind)));
    return NULL;
}
#define KINDS(...) (int)(sizeof((cnnc_value_kind[]){__VA_ARGS__}) / sizeof(cnnc_value_kind)), \
                   (cnnc_value_kind[]){__VA_ARGS__}

int64_t cnnc__kw_int(cnnc__kwargs *kw, const char *name, int64_t def) {
    const cnnc_value *v = typed(kw, name, "int", KINDS(CNNC_VALUE_INT));
    return v ? v->ints[0] : def;
}

double cnnc__kw_float(cnnc__kwargs *kw, const char *name, double def) {
    const cnnc_value *v = typed(kw, name, "float", KINDS(CNNC_VALUE_FLOAT, CNNC_VALUE_INT));
    return !v ? def : v->kind == CNNC_VALUE_INT ? (double)v->ints[0] : v->f;
}

bool cnnc__kw_bool(cnnc__kwargs *kw, const char *name, bool def) {
    const cnnc_value *v = typed(kw, name, "bool", KINDS(CNNC_VALUE_BOOL));
    return v ? v->ints[0] != 0 : def;
}

const char *cnnc__kw_string(cnnc__kwargs *kw, const char *name, const char *def) {
    const cnnc_value *v = typed(kw, name, "str", KINDS(CNNC_VALUE_STRING, CNNC_VALUE_NONE));
    return !v ? def : v->kind == CNNC_VALUE_NONE ? NULL : v->s;
}

cnnc_ints cnnc__kw_ints(cnnc__kwargs *kw, const char *name, cnnc_ints def) {
    const cnnc_value *v = typed(kw, name, "int or tuple of ints",
                                KINDS(CNNC_VALUE_INT, CNNC_VALUE_INTS, CNNC_VALUE_NONE));
    if (!v) return def;
    cnnc_ints r = {.n = v->kind == CNNC_VALUE_NONE ? 0 : v->kind == CNNC_VALUE_INT ? 1 : v->n,
                   .tuple = v->kind == CNNC_VALUE_INTS}; /* (3,) stays a tuple */
    if (r.n < 0 || r.n > CNNC_MAX_DIMS) {
        fail(kw, cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "%s(): argument '%s' has %d values (at most %d)",
                             kw->fn, name, r.n, CNNC_MAX_DIMS));
        return def;
    }
    memcpy(r.v, v->ints, (size_t)r.n * sizeof(int64_t));
    return r;
}

cnnc_doubles cnnc__kw_doubles(cnnc__kwargs *kw, const char *name, cnnc_doubles def) {
    const cnnc_value *v = typed(kw, name, "float or tuple of floats",
                                KINDS(CNNC_VALUE_FLOAT, CNNC_VALUE_INT, CNNC_VALUE_FLOATS, CNNC_VALUE_NONE));
    if (!v) return def;
    cnnc_doubles r = {.n = v->kind == CNNC_VALUE_NONE ? 0 : v->kind == CNNC_VALUE_FLOATS ? v->n : 1,
                      .tuple = v->kind == CNNC_VALUE_FLOATS};
    if (r.n < 0 || r.n > CNNC_MAX_DIMS) {
        fail(kw, cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "%s(): argument '%s' has %d values (at most %d)",
                             kw->fn, name, r.n, CNNC_MAX_DIMS));
        return def;
    }
    if (v->kind == CNNC_VALUE_FLOATS) memcpy(r.v, v->fs, (size_t)r.n * sizeof(double));
    if (v->kind == CNNC_VALUE_FLOAT) r.v[0] = v->f;
    if (v->kind == CNNC_VALUE_INT) r.v[0] = (double)v->ints[0];
    return r;
}

cnnc_optional_double cnnc__kw_opt_float(cnnc__kwargs *kw, const char *name, cnnc_optional_double def) {
    const cnnc_value *v = typed(kw, name, "float or None",
                                KINDS(CNNC_VALUE_FLOAT, CNNC_VALUE_INT, CNNC_VALUE_NONE));
    if (!v) return def;
    if (v->kind == CNNC_VALUE_NONE) return (cnnc_optional_double)CNNC_NONE;
    return (cnnc_optional_double)CNNC_SOME(v->kind == CNNC_VALUE_INT ? (double)v->ints[0] : v->f);
}

cnnc_optional_int cnnc__kw_opt_int(cnnc__kwargs *kw, const char *name, cnnc_optional_int def) {
    const cnnc_value *v = typed(kw, name, "int or None", KINDS(CNNC_VALUE_INT, CNNC_VALUE_NONE));
    if (!v) return def;
    return v->kind == CNNC_VALUE_NONE ? (cnnc_optional_int)CNNC_NONE
                                      : (cnnc_optional_int)CNNC_SOME(v->ints[0]);
}

int cnnc__kw_opt_bool(cnnc__kwargs *kw, const char *name, int def) {
    const cnnc_value *v = typed(kw, name, "bool or None", KINDS(CNNC_VALUE_BOOL, CNNC_VALUE_NONE));
    return !v ? def : v->kind == CNNC_VALUE_NONE ? -1 : (int)(v->ints[0] != 0);
}

bool cnnc__kw_is_string(const cnnc__kwargs *kw, const char *name) {
    for (size_t i = 0; i < kw->n; i++)
        if (strcmp(kw->names[i], name) == 0) return kw->values[i].kind == CNNC_VALUE_STRING;
    return false;
}

cnnc_status cnnc__kw_finish(cnnc__kwargs *kw) {
    for (size_t i = 0; i < kw->n && kw->st == CNNC_OK; i++)
        if (!(kw->used & ((uint64_t)1 << i)))
            fail(kw, cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                                 "%s.__init__() got an unexpected keyword argument '%s'", kw->fn,
                                 kw->names[i]));
    return kw->st;
}
