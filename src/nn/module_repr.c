/* What a module shows of itself: print(module), the vars(module) listing, and its
 * settings read by name, all derived from the kind's field table. */
#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "core/args.h"
#include "core/error.h"
#include "nn/module.h"

/* ---- field values ----------------------------------------------------------------- */

/* None, the int, or the tuple (always_tuple: the int and None are listed as the
 * 1-tuple and () as well) */
static cnnc_value ints_value(const cnnc_ints *v, bool always_tuple) {
    if (cnnc__ints_is_none(v) && !always_tuple) return (cnnc_value){.kind = CNNC_VALUE_NONE};
    int n = v->n < 0 ? 0 : v->n < CNNC_MAX_DIMS ? v->n : CNNC_MAX_DIMS;
    cnnc_value r = {.kind = cnnc__ints_is_int(v) && !always_tuple ? CNNC_VALUE_INT : CNNC_VALUE_INTS, .n = n};
    memcpy(r.ints, v->v, (size_t)n * sizeof(int64_t));
    return r;
}

static cnnc_value doubles_value(const cnnc_doubles *v) {
    if (cnnc__doubles_is_none(v)) return (cnnc_value){.kind = CNNC_VALUE_NONE};
    if (!cnnc__doubles_is_tuple(v)) return (cnnc_value){.kind = CNNC_VALUE_FLOAT, .f = v->v[0]};
    int n = v->n < 0 ? 0 : v->n < CNNC_MAX_DIMS ? v->n : CNNC_MAX_DIMS;
    cnnc_value r = {.kind = CNNC_VALUE_FLOATS, .n = n};
    memcpy(r.fs, v->v, (size_t)n * sizeof(double));
    return r;
}

static cnnc_value int_value(int64_t v) {
    return (cnnc_value){.kind = CNNC_VALUE_INT, .n = 1, .ints = {v}};
}

static cnnc_value float_value(double v) { return (cnnc_value){.kind = CNNC_VALUE_FLOAT, .f = v}; }

static cnnc_value bool_value(bool v) {
    return (cnnc_value){.kind = CNNC_VALUE_BOOL, .n = 1, .ints = {v ? 1 : 0}};
}

cnnc_value cnnc__field_value(const void *state, const cnnc__field *f) {
    const char *p = (const char *)state + f->offset;
    const cnnc_value none = {.kind = CNNC_VALUE_NONE};
    switch (f->kind) {
    case CNNC__F_INT: return int_value(*(const int64_t *)p);
    case CNNC__F_BOOL: return bool_value(*(const bool *)p);
    case CNNC__F_FLOAT: return float_value(*(const double *)p);
    case CNNC__F_NUMBER: {
        double v = *(const double *)p;
        bool integral = isfinite(v) && v == floor(v) && fabs(v) < 1e15;
        return integral ? int_value((int64_t)v) : float_value(v);
    }
    case CNNC__F_OPT_FLOAT: {
        const cnnc_optional_double *o = (const void *)p;
        return o->has_value ? float_value(o->value) : none;
    }
    case CNNC__F_OPT_INT: {
        const cnnc_optional_int *o = (const void *)p;
        return o->has_value ? int_value(o->value) : none;
    }
    case CNNC__F_OPT_BOOL: {
        int v = *(const int *)p;
        return v < 0 ? none : bool_value(v != 0);
    }
    case CNNC__F_INTS: return ints_value((const cnnc_ints *)(const void *)p, false);
    case CNNC__F_TUPLE: return ints_value((const cnnc_ints *)(const void *)p, true);
    case CNNC__F_DOUBLES: return doubles_value((const cnnc_doubles *)(const void *)p);
    case CNNC__F_INTS_OR_STRING: {
        const cnnc__ints_or_string *v = (const void *)p;
        return v->str ? (cnnc_value){.kind = CNNC_VALUE_STRING, .s = v->str} : ints_value(&v->ints, true);
    }
    case CNNC__F_STRING: {
        const char *s = *(const char *const *)p;
        return s ? (cnnc_value){.kind = CNNC_VALUE_STRING, .s = s} : none;
    }
    default: return none;
    }
}

static void float_text(cnnc__strbuf *s, double v) {
    char f[64];
    cnnc__float_repr(v, f, sizeof f);
    cnnc__strbuf_printf(s, "%s", f);
}

void cnnc__value_text(cnnc__strbuf *s, const cnnc_value *v) {
    switch (v->kind) {
    case CNNC_VALUE_BOOL: cnnc__strbuf_printf(s, "%s", v->ints[0] ? "True" : "False"); break;
    case CNNC_VALUE_INT: cnnc__strbuf_printf(s, "%lld", (long long)v->ints[0]); break;
    case CNNC_VALUE_FLOAT: float_text(s, v->f); break;
    case CNNC_VALUE_STRING: cnnc__strbuf_printf(s, "'%s'", v->s); break;
    case CNNC_VALUE_INTS: /* CNNC_POOL_KEEP prints as None: AdaptiveAvgPool2d((None, 7)) */
    case CNNC_VALUE_FLOATS: {
        char t[CNNC__ARGS_STR_CAP];
        if (v->kind == CNNC_VALUE_INTS) cnnc__tuple_str(t, sizeof t, v->n, v->ints);
        else cnnc__float_tuple_str(t, sizeof t, v->n, v->fs);
        cnnc__strbuf_printf(s, "%s", t);
        break;
    }
    default: cnnc__strbuf_printf(s, "None"); break;
    }
}

const cnnc__field *cnnc__module_field(const cnnc_module *m, const char *name) {
    for (int i = 0; i < m->type->n_fields; i++)
        if (strcmp(m->type->fields[i].name, name) == 0) return &m->type->fields[i];
    return NULL;
}

void cnnc__repr_fields(const cnnc_module *m, cnnc__strbuf *s, int n, const char *const *names) {
    for (int i = 0; i < n; i++) {
        const cnnc__field *f = cnnc__module_field(m, names[i]);
        cnnc_value v = f ? cnnc__field_value(m->state, f) : (cnnc_value){.kind = CNNC_VALUE_NONE};
        cnnc__strbuf_printf(s, "%s%s=", i ? ", " : "", names[i]);
        cnnc__value_text(s, &v);
    }
}

/* ---- print(module) ------------------------------------------------------------------- */

/* PyTorch's Module.__repr__: the extra_repr inline when it is one line and there
 * are no children, else its lines and then the children, one per line. */
static void repr_into(const cnnc_module *m, cnnc__strbuf *s, int indent, int depth) {
    if (depth > CNNC__MAX_MODULE_DEPTH) {
        s->failed = true; /* reported by the caller as a depth error */
        return;
    }
    cnnc__strbuf_printf(s, "%s(", cnnc__module_name(m));
    cnnc__strbuf extra = {0};
    if (m->type->extra_repr) m->type->extra_repr(m, &extra);
    if (extra.failed) s->failed = true;
    const char *text = extra.len && !extra.failed ? extra.buf : NULL;
    if (text && !m->n_children && !strchr(text, '\n')) {
        cnnc__strbuf_printf(s, "%s", text);
    } else if (text || m->n_children) {
        for (const char *line = text; line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
            cnnc__strbuf_printf(s, "\n%*s%.*s", indent + 2, "", (int)strcspn(line, "\n"), line);
        for (size_t i = 0; i < m->n_children; i++) {
            cnnc__strbuf_printf(s, "\n%*s(%s): ", indent + 2, "", m->children[i].name);
            repr_into(m->children[i].m, s, indent + 2, depth + 1);
        }
        cnnc__strbuf_printf(s, "\n%*s", indent, "");
    }
    cnnc__free(extra.buf);
    cnnc__strbuf_printf(s, ")");
}

static int module_height(const cnnc_module *m, int depth) {
    if (depth > CNNC__MAX_MODULE_DEPTH) return -1;
    int h = 0;
    for (size_t i = 0; i < m->n_children; i++) {
        int hc = module_height(m->children[i].m, depth + 1);
        if (hc < 0) return -1;
        if (hc > h) h = hc;
    }
    return h + 1;
}

char *cnnc_module_repr(const cnnc_module *m) {
    CNNC__NONNULL_OR_NULL("module_repr", m);
    if (module_height(m, 1) < 0) return (cnnc__module_depth_error("module_repr"), NULL);
    cnnc__strbuf s = {0};
    repr_into(m, &s, 0, 1);
    return cnnc__strbuf_finish(&s, "a module description");
}

/* ---- vars(module) and settings by name ---------------------------------------------------- */

static void entries_text(cnnc__strbuf *s, const char *title, const cnnc__entry *e, size_t n) {
    cnnc__strbuf_printf(s, "  %s:%s\n", title, n ? "" : " (none)");
    for (size_t i = 0; i < n; i++) {
        char shape[256] = "None";
        if (e[i].t) cnnc__shape_str(shape, sizeof shape, e[i].t->ndim, e[i].t->shape);
        cnnc__strbuf_printf(s, "    %s: %s%s%s\n", e[i].name, shape,
                            e[i].t && e[i].t->dtype == CNNC_INT64 ? " int64" : "",
                            e[i].t && e[i].t->requires_grad ? " (requires_grad)" : "");
    }
}

char *cnnc_module_vars(const cnnc_module *m) {
    CNNC__NONNULL_OR_NULL("module_vars", m);
    cnnc__strbuf s = {0};
    cnnc__strbuf_printf(&s, "%s\n  training: %s\n", cnnc__module_name(m), m->training ? "True" : "False");
    entries_text(&s, "parameters", m->params, m->n_params);
    entries_text(&s, "buffers", m->buffers, m->n_buffers);
    if (m->n_children) {
        cnnc__strbuf_printf(&s, "  modules:");
        for (size_t i = 0; i < m->n_children; i++)
            cnnc__strbuf_printf(&s, " %s (%s)", m->children[i].name, cnnc__module_name(m->children[i].m));
        cnnc__strbuf_printf(&s, "\n");
    }
    for (int i = 0; i < m->type->n_fields; i++) {
        cnnc_value v = cnnc__field_value(m->state, &m->type->fields[i]);
        cnnc__strbuf_printf(&s, "  %s: ", m->type->fields[i].name);
        cnnc__value_text(&s, &v);
        cnnc__strbuf_printf(&s, "\n");
    }
    return cnnc__strbuf_finish(&s, "a module description");
}

size_t cnnc_module_num_attrs(const cnnc_module *m) {
    if (!m) return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "module_num_attrs(): argument 'm' is NULL"), 0;
    return (size_t)m->type->n_fields;
}

cnnc_status cnnc_module_attr_at(const cnnc_module *m, size_t i, const char **name, cnnc_value *value) {
    CNNC__NONNULL_OR_STATUS("module_attr_at", m);
    if (i >= (size_t)m->type->n_fields)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "module_attr_at(): index %zu out of range", i);
    if (name) *name = m->type->fields[i].name;
    if (value) *value = cnnc__field_value(m->state, &m->type->fields[i]);
    return CNNC_OK;
}

cnnc_status cnnc_module_attr(const cnnc_module *m, const char *name, cnnc_value *value) {
    CNNC__NONNULL_OR_STATUS("module_attr", m);
    CNNC__NONNULL_OR_STATUS("module_attr", name);
    CNNC__NONNULL_OR_STATUS("module_attr", value);
    const cnnc__field *f = cnnc__module_field(m, name);
    if (!f)
        return cnnc__error(CNNC_ERR_NOT_FOUND, "'%s' object has no attribute '%s'",
                           cnnc__module_name(m), name);
    *value = cnnc__field_value(m->state, f);
    return CNNC_OK;
}
