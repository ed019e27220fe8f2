/* optimizer.state_dict() / load_state_dict() in PyTorch's layout: tensors
 * "state.<i>.<key>", metadata "param_groups.<g>.<key>" as Python literals. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/tensor.h"
#include "optim/optim.h"

#define FN "load_state_dict"

/* ---- writing ---------------------------------------------------------------------- */

static cnnc_status put_state(cnnc_tensor_list *l, const cnnc_optimizer *opt) {
    for (size_t i = 0; i < opt->n_params; i++) {
        const cnnc__pstate *s = &opt->state[i];
        for (int k = 0; k < opt->desc->n_state; k++) {
            if (!s->has[k]) continue;
            char name[128];
            snprintf(name, sizeof name, "state.%zu.%s", i, opt->desc->state_keys[k]);
            cnnc_status st = cnnc_tensor_list_append(l, name, s->t[k]);
            if (st != CNNC_OK) return st;
        }
    }
    return CNNC_OK;
}

static cnnc_status put_groups(cnnc_tensor_list *l, const cnnc_optimizer *opt) {
    for (size_t g = 0; g < opt->n_groups; g++) {
        const cnnc__group *grp = &opt->groups[g];
        char key[512];
        for (size_t i = 0; i < grp->n_hp; i++) {
            cnnc__strbuf sb = {0};
            cnnc__lit_value(&sb, &grp->hp[i].value);
            snprintf(key, sizeof key, "param_groups.%zu.%s", g, grp->hp[i].name);
            cnnc_status st = cnnc__lit_set_meta(l, key, &sb);
            if (st != CNNC_OK) return st;
        }
        cnnc__strbuf sb = {0};
        cnnc__strbuf_printf(&sb, "[");
        for (size_t i = 0; i < grp->n_params; i++)
            cnnc__strbuf_printf(&sb, "%s%zu", i ? ", " : "", grp->first + i);
        cnnc__strbuf_printf(&sb, "]");
        snprintf(key, sizeof key, "param_groups.%zu.params", g);
        cnnc_status st = cnnc__lit_set_meta(l, key, &sb);
        if (st != CNNC_OK) return st;
    }
    return CNNC_OK;
}

cnnc_tensor_list *cnnc_optimizer_state_dict(const cnnc_optimizer *opt) {
    CNNC__NONNULL_OR_NULL("optimizer_state_dict", opt);
    cnnc_tensor_list *l = cnnc_tensor_list_new();
    if (!l) return NULL;
    if (put_state(l, opt) != CNNC_OK || put_groups(l, opt) != CNNC_OK) {
        cnnc_tensor_list_free(l);
        return NULL;
    }
    return l;
}

/* ---- reading ------------------------------------------------------------------------ */

/* "<prefix><index>.<rest>": the index and a pointer to rest; false if name is
 * not of that form. */
static bool split_key(const char *name, const char *prefix, size_t *index, const char **rest) {
    size_t n = strlen(prefix);
    if (strncmp(name, prefix, n) != 0) return false;
    const char *p = name + n;
    if (*p < '0' || *p > '9') return false;
    char *end;
    unsigned long long v = strtoull(p, &end, 10);
    if (*end != '.' || end[1] == 0 || (p[0] == '0' && end != p + 1)) return false;
    *index = (size_t)v;
    *rest = end + 1;
    return true;
}

/* The loaded dict, checked, before it replaces anything. */
typedef struct loaded {
    size_t n_groups;
    cnnc__group *groups;  /* entries only */
    cnnc__pstate *state;  /* [opt->n_params] */
    size_t *id_map_ids;   /* saved ids, parallel to global indices */
} loaded;

static void loaded_free(loaded *ld, size_t n_params) {
    for (size_t g = 0; g < ld->n_groups; g++) cnnc__group_clear(&ld->groups[g]);
    if (ld->state)
        for (size_t i = 0; i < n_params; i++) cnnc__pstate_clear(&ld->state[i]);
    cnnc__free(ld->groups);
    cnnc__free(ld->state);
    cnnc__free(ld->id_map_ids);
}

static int key_index(const cnnc__opt_desc *d, const char *name) {
    for (int k = 0; k < d->n_keys; k++)
        if (strcmp(d->keys[k].name, name) == 0) return k;
    return -1;
}

/* A group entry's text as the value its key holds (a string is allocated). */
static cnnc_status parse_entry(const cnnc__opt_desc *d, int k, size_t g, const char *name,
                               const char *text, cnnc_value *out) {
    cnnc_value v, stored;
    cnnc_status st = cnnc__lit_parse_value(text, &v);
    if (st == CNNC_ERR_INVALID_ARGUMENT)
        return cnnc__error(st, FN "(): param_groups[%zu]['%s']: '%s' is not a value cnnc reads "
                           "(a number, bool, None, string or tuple of numbers)", g, name, text);
    if (st != CNNC_OK) return st;
    st = cnnc__hp_check(FN, d, k, name, &v, &stored);
    if (st != CNNC_OK) {
        cnnc__value_free(&v);
        return st;
    }
    *out = stored; /* a string (only for keys the optimizer does not know) is v's */
    return CNNC_OK;
}

static cnnc_status load_group_entries(const cnnc_optimizer *opt, const cnnc_tensor_list *sd,
                                      size_t g, cnnc__group *out) {
    const cnnc__opt_desc *d = opt->desc;
    size_t n_meta = cnnc_tensor_list_meta_size(sd);
    cnnc_status st = CNNC_OK;
    for (int pass = 0; pass < 2 && st == CNNC_OK; pass++) { /* known keys in order, then others */
        for (int k = 0; pass == 0 && k < d->n_keys && st == CNNC_OK; k++) {
            char key[512];
            snprintf(key, sizeof key, "param_groups.%zu.%s", g, d->keys[k].name);
            const char *text = NULL;
            for (size_t i = 0; i < n_meta && !text; i++) {
                const char *mk, *mv;
                cnnc_tensor_list_meta_at(sd, i, &mk, &mv);
                if (strcmp(mk, key) == 0) text = mv;
            }
            cnnc_value v = {.kind = CNNC_VALUE_NONE};
            if (text) {
                st = parse_entry(d, k, g, d->keys[k].name, text, &v);
            } else if (d->keys[k].load_default) { /* False / None / 0, PyTorch's setdefault */
                if (d->keys[k].type == CNNC__KEY_FLOAT) v = (cnnc_value){.kind = CNNC_VALUE_FLOAT};
                else if (d->keys[k].type != CNNC__KEY_FOREACH) v = (cnnc_value){.kind = CNNC_VALUE_BOOL};
            } else {
                st = cnnc__error(CNNC_ERR_INVALID_ARGUMENT, FN "(): the loaded param_groups[%zu] "
                                 "has no '%s'", g, d->keys[k].name);
            }
            if (st == CNNC_OK) st = cnnc__group_set(out, d->keys[k].name, &v);
            cnnc__value_free(&v);
        }
        for (size_t i = 0; pass == 1 && i < n_meta && st == CNNC_OK; i++) {
            const char *mk, *mv, *rest;
            size_t gi;
            cnnc_tensor_list_meta_at(sd, i, &mk, &mv);
            if (!split_key(mk, "param_groups.", &gi, &rest) || gi != g ||
                strcmp(rest, "params") == 0 || key_index(d, rest) >= 0)
                continue;
            cnnc_value v = {.kind = CNNC_VALUE_NONE};
            st = parse_entry(d, -1, g, rest, mv, &v);
            if (st == CNNC_OK) st = cnnc__group_set(out, rest, &v);
            cnnc__value_free(&v);
        }
    }
    return st;
}

/* The groups: their count, their params' counts (PyTorch's messages), the
 * saved ids of the params in order, and their entries. */
static cnnc_status load_groups(const cnnc_optimizer *opt, const cnnc_tensor_list *sd, loaded *ld) {
    size_t n_meta = cnnc_tensor_list_meta_size(sd), n_groups = 0;
    for (size_t i = 0; i < n_meta; i++) {
        const char *mk, *mv, *rest;
        size_t g;
        cnnc_tensor_list_meta_at(sd, i, &mk, &mv);
        if (strncmp(mk, "param_groups.", 13) != 0) continue;
        if (!split_key(mk, "param_groups.", &g, &rest))
            return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, FN "(): malformed key '%s'", mk);
        if (g >= n_groups) n_groups = g + 1;
    }
    if (n_groups != opt->n_groups)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "loaded state dict has a different number of parameter groups");
    ld->groups = cnnc__calloc(n_groups ? n_groups : 1, sizeof *ld->groups);
    ld->id_map_ids = cnnc__calloc(opt->n_params ? opt->n_params : 1, sizeof *ld->id_map_ids);
    if (!ld->groups || !ld->id_map_ids) return cnnc__oom("a loaded optimizer state");
    ld->n_groups = n_groups;
    cnnc_status st = CNNC_OK;
    int64_t **ids = cnnc__calloc(n_groups ? n_groups : 1, sizeof *ids);
    if (!ids) return cnnc__oom("a loaded optimizer state");
    for (size_t g = 0; g < n_groups && st == CNNC_OK; g++) {
        char key[64];
        snprintf(key, sizeof key, "param_groups.%zu.params", g);
        const char *text = cnnc_tensor_list_meta(sd, key);
        size_t n = 0;
        if (!text) {
            st = cnnc__error(CNNC_ERR_INVALID_ARGUMENT, FN "(): the loaded param_groups[%zu] has "
                             "no 'params'", g);
            break;
        }
        st = cnnc__lit_parse_ints(text, &ids[g], &n);
        if (st == CNNC_ERR_INVALID_ARGUMENT)
            st = cnnc__error(st, FN "(): param_groups[%zu]['params'] is '%s', not a list of ints", g,
                             text);
        if (st == CNNC_OK && n != opt->groups[g].n_params)
            st = cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "loaded state dict contains a parameter "
                             "group that doesn't match the size of optimizer's group");
    }
    for (size_t g = 0; g < n_groups && st == CNNC_OK; g++) {
        for (size_t i = 0; i < opt->groups[g].n_params; i++) {
            if (ids[g][i] < 0)
                st = cnnc__error(CNNC_ERR_INVALID_ARGUMENT, FN "(): negative parameter index %lld "
                                 "in param_groups[%zu]", (long long)ids[g][i], g);
            ld->id_map_ids[opt->groups[g].first + i] = (size_t)ids[g][i];
        }
        if (st == CNNC_OK) st = load_group_entries(opt, sd, g, &ld->groups[g]);
    }
    for (size_t g = 0; g < n_groups; g++) cnnc__free(ids[g]);
    cnnc__free(ids);
    return st;
}

/* The parameter a saved id maps to (PyTorch's id_map: the last occurrence wins). */
static size_t map_id(const cnnc_optimizer *opt, const loaded *ld, size_t id) {
    for (size_t i = opt->n_params; i-- > 0;)
        if (ld->id_map_ids[i] == id) return i;
    return SIZE_MAX;
}

static cnnc_status load_tensor(const cnnc_optimizer *opt, size_t idx, int k, const char *name,
                               const cnnc_tensor *t, cnnc__pstate *s) {
    const cnnc_tensor *p = NULL;
    for (size_t g = 0; g < opt->n_groups && !p; g++)
        if (idx >= opt->groups[g].first && idx < opt->groups[g].first + opt->groups[g].n_params)
            p = opt->groups[g].params[idx - opt->groups[g].first];
    if (s->has[k])
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, FN "(): '%s' sets state of parameter %zu "
                           "twice", name, idx);
    cnnc_tensor *copy = NULL;
    if (!t) {
        if (strcmp(opt->desc->state_keys[k], "momentum_buffer") != 0)
            return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, FN "(): '%s' is None", name);
    } else if (k == opt->desc->step_key) {
        double v;
        if (cnnc_tensor_numel(t) != 1 || cnnc_tensor_item(t, &v) != CNNC_OK)
            return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, FN "(): '%s' must hold one number, "
                               "got a tensor of %lld elements", name, (long long)t->numel);
        copy = cnnc__tensor_new(opt->desc->step_dtype, 0, NULL);
        if (!copy) return CNNC_ERR_OUT_OF_MEMORY;
        if (opt->desc->step_dtype == CNNC_FLOAT32) cnnc__f32(copy)[0] = (float)v;
        else cnnc__i64(copy)[0] = t->dtype == CNNC_INT64 ? cnnc__i64(t)[0] : (int64_t)v;
    } else {
        if (t->dtype != p->dtype || !cnnc__same_shape(t, p)) {
            char ts[96], ps[96];
            cnnc__shape_str(ts, sizeof ts, t->ndim, t->shape);
            cnnc__shape_str(ps, sizeof ps, p->ndim, p->shape);
            return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, FN "(): '%s' is a %s tensor of shape "
                               "%s but parameter %zu is %s of shape %s", name,
                               cnnc_dtype_name(t->dtype), ts, idx, cnnc_dtype_name(p->dtype), ps);
        }
        copy = cnnc__tensor_copy(t);
        if (!copy) return CNNC_ERR_OUT_OF_MEMORY;
    }
    s->has[k] = true;
    s->t[k] = copy;
    return CNNC_OK;
}

static cnnc_status load_state(const cnnc_optimizer *opt, const cnnc_tensor_list *sd, loaded *ld) {
    ld->state = cnnc__calloc(opt->n_params ? opt->n_params : 1, sizeof *ld->state);
    if (!ld->state) return cnnc__oom("a loaded optimizer state");
    size_t n = cnnc_tensor_list_size(sd);
    for (size_t i = 0; i < n; i++) {
        const char *name = cnnc_tensor_list_name(sd, i), *key;
        size_t id;
        if (!split_key(name, "state.", &id, &key))
            return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, FN "(): unexpected tensor '%s' (an "
                               "optimizer state_dict holds 'state.<index>.<key>')", name);
        size_t idx = map_id(opt, ld, id);
        if (idx == SIZE_MAX)
            return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, FN "(): '%s': no parameter has index "
                               "%zu in the loaded param_groups", name, id);
        int k = -1;
        for (int j = 0; j < opt->desc->n_state; j++)
            if (strcmp(opt->desc->state_keys[j], key) == 0) k = j;
        if (k < 0)
            return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, FN "(): '%s': %s has no state '%s'",
                               name, opt->desc->name, key);
        cnnc_status st = load_tensor(opt, idx, k, name, cnnc_tensor_list_get(sd, i), &ld->state[idx]);
        if (st == CNNC_ERR_OUT_OF_MEMORY) return cnnc__oom("a loaded optimizer state");
        if (st != CNNC_OK) return st;
    }
    return CNNC_OK;
}

cnnc_status cnnc_optimizer_load_state_dict(cnnc_optimizer *opt, const cnnc_tensor_list *sd) {
    CNNC__NONNULL_OR_STATUS("optimizer_load_state_dict", opt);
    CNNC__NONNULL_OR_STATUS("optimizer_load_state_dict", sd);
    loaded ld = {0};
    cnnc_status st = load_groups(opt, sd, &ld);
    if (st == CNNC_OK) st = load_state(opt, sd, &ld);
    if (st != CNNC_OK) {
        loaded_free(&ld, opt->n_params);
        return st;
    }
    for (size_t g = 0; g < opt->n_groups; g++) { /* swap the entries; params stay */
        cnnc__group *cur = &opt->groups[g], *nw = &ld.groups[g];
        cnnc__hp *hp = cur->hp;
        size_t n_hp = cur->n_hp, cap = cur->cap_hp;
        cur->hp = nw->hp, cur->n_hp = nw->n_hp, cur->cap_hp = nw->cap_hp;
        nw->hp = hp, nw->n_hp = n_hp, nw->cap_hp = cap;
    }
    for (size_t i = 0; i < opt->n_params; i++) {
        cnnc__pstate old = opt->state[i];
        opt->state[i] = ld.state[i];
        ld.state[i] = old;
    }
    loaded_free(&ld, opt->n_params);
    return CNNC_OK;
}
