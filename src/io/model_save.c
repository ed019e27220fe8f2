/* Saving a cnnc model: a graph module (a loaded model) or a Sequential written as
 * its state_dict plus the architecture JSON under the "cnnc.model" metadata key
 * (docs/model-format.md); the inverse of model_load.c. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "graph/graph.h"
#include "io/model.h"
#include "nn/factory.h"
#include "nn/module.h"

#define OOM_IF_NULL(p) ((p) ? CNNC_OK : cnnc__oom("the model description"))

/* Adds item to parent (under key, or to an array when key is NULL); on failure frees
 * item and returns false. */
static bool attach(cJSON *parent, const char *key, cJSON *item) {
    if (parent && item && (key ? cJSON_AddItemToObject(parent, key, item) : cJSON_AddItemToArray(parent, item)))
        return true;
    cJSON_Delete(item);
    return false;
}

/* The modules seen so far, to write a module met again as "shared". */
typedef struct walk {
    cJSON *list;
    const cnnc_module **seen;
    char **paths;
    size_t n, cap;
} walk;

static const char *seen_path(const walk *w, const cnnc_module *m) {
    for (size_t i = 0; i < w->n; i++)
        if (w->seen[i] == m) return w->paths[i];
    return NULL;
}

static cnnc_status remember(walk *w, const cnnc_module *m, const char *path) {
    size_t cap = w->cap;
    char *p = cnnc__strdup(path);
    if (!p || !cnnc__grow((void **)&w->seen, &w->cap, w->n + 1, sizeof *w->seen) ||
        !cnnc__grow((void **)&w->paths, &cap, w->n + 1, sizeof *w->paths)) {
        cnnc__free(p);
        return cnnc__oom("the model description");
    }
    w->seen[w->n] = m;
    w->paths[w->n++] = p;
    return CNNC_OK;
}

/* ---- module entries ---------------------------------------------------------------------- */

static cJSON *value_json(const cnnc_value *v) {
    switch (v->kind) {
    case CNNC_VALUE_BOOL: return cJSON_CreateBool(v->ints[0] != 0);
    case CNNC_VALUE_INT: return cJSON_CreateNumber((double)v->ints[0]);
    case CNNC_VALUE_FLOAT: return cJSON_CreateNumber(v->f);
    case CNNC_VALUE_STRING: return cJSON_CreateString(v->s ? v->s : "");
    case CNNC_VALUE_INTS:
    case CNNC_VALUE_FLOATS: {
        cJSON *a = cJSON_CreateArray();
        for (int i = 0; a && i < v->n; i++) {
            cJSON *e = v->kind == CNNC_VALUE_FLOATS      ? cJSON_CreateNumber(v->fs[i])
                       : v->ints[i] == CNNC_POOL_KEEP ? cJSON_CreateNull()
                                                      : cJSON_CreateNumber((double)v->ints[i]);
            if (!attach(a, NULL, e)) return cJSON_Delete(a), NULL;
        }
        return a;
    }
    default: return cJSON_CreateNull();
    }
}

static cnnc_status builtin_args(cJSON *e, const cnnc_module *m) {
    const char *names[64];
    cnnc_value values[64];
    int n = cnnc__module_ctor_args(m, names, values, 64);
    cJSON *args = cJSON_AddObjectToObject(e, "args");
    if (!args) return cnnc__oom("the model description");
    for (int i = 0; i < n; i++) {
        if (!attach(args, names[i], value_json(&values[i]))) return cnnc__oom("the model description");
    }
    return CNNC_OK;
}

/* "parameters" and "buffers" of a holder (or the model itself). */
static cnnc_status own_tensors(cJSON *e, const cnnc_module *m) {
    cJSON *params = m->n_params ? cJSON_AddArrayToObject(e, "parameters") : NULL;
    cJSON *buffers = m->n_buffers ? cJSON_AddArrayToObject(e, "buffers") : NULL;
    if ((m->n_params && !params) || (m->n_buffers && !buffers)) return cnnc__oom("the model description");
    for (size_t i = 0; i < m->n_params; i++)
        if (m->params[i].t && !attach(params, NULL, cJSON_CreateString(m->params[i].name)))
            return cnnc__oom("the model description");
    for (size_t i = 0; i < m->n_buffers; i++) {
        if (!m->buffers[i].t) continue;
        if (!m->buffers[i].persistent)
            return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                               "model_save(): buffer '%s' of a %s is not persistent: its value would not be saved",
                               m->buffers[i].name, cnnc_module_type(m));
        cJSON *b = cJSON_CreateObject();
        if (!attach(buffers, NULL, b) || !cJSON_AddStringToObject(b, "name", m->buffers[i].name) ||
            !cJSON_AddTrueToObject(b, "persistent"))
            return cnnc__oom("the model description");
    }
    return CNNC_OK;
}

static bool is_container(const cnnc_module *m) {
    const char *t = cnnc_module_type(m);
    return !m->type->type_name && (!strcmp(t, "Sequential") || !strcmp(t, "ModuleList") || !strcmp(t, "ModuleDict"));
}

static cnnc_status module_entry(walk *w, const cnnc_module *m, const char *path);

static cnnc_status children(walk *w, const cnnc_module *m, const char *path) {
    for (size_t i = 0; i < m->n_children; i++) {
        char child[1024];
        int len = snprintf(child, sizeof child, "%s%s%s", path, path[0] ? "." : "", m->children[i].name);
        if (len < 0 || (size_t)len >= sizeof child)
            return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "model_save(): module path '%s.%s' is too long", path,
                               m->children[i].name);
        if (module_entry(w, m->children[i].m, child)) return cnnc_last_status();
    }
    return CNNC_OK;
}

static cnnc_status module_entry(walk *w, const cnnc_module *m, const char *path) {
    cJSON *e = cJSON_CreateObject();
    if (!attach(w->list, NULL, e) || !cJSON_AddStringToObject(e, "path", path))
        return cnnc__oom("the model description");
    const char *shared = seen_path(w, m);
    if (shared) return OOM_IF_NULL(cJSON_AddStringToObject(e, "shared", shared));
    if (remember(w, m, path) || !cJSON_AddStringToObject(e, "type", cnnc_module_type(m)))
        return cnnc_last_status() ? cnnc_last_status() : cnnc__oom("the model description");
    cnnc_status st = CNNC_OK;
    if (!path[0] || cnnc__is_holder(m)) {
        const char *repr = cnnc__holder_extra_repr(m);
        if (repr && !cJSON_AddStringToObject(e, "extra_repr", repr)) return cnnc__oom("the model description");
        st = own_tensors(e, m);
    } else if (!is_container(m)) {
        if (!cnnc__module_type_known(cnnc_module_type(m)) || m->type->type_name)
            return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                               "model_save(): module '%s' is a %s, which a model file cannot describe (only "
                               "built-in modules, containers and the classes of loaded models)",
                               path, cnnc_module_type(m));
        st = builtin_args(e, m);
    }
    return st ? st : children(w, m, path);
}

/* ---- the graph ------------------------------------------------------------------------------ */

/* {"node": name} */
static cJSON *ref_json(const char *name) {
    cJSON *r = cJSON_CreateObject();
    return attach(r, "node", cJSON_CreateString(name)) ? r : (cJSON_Delete(r), NULL);
}

static cJSON *arg_json(const cnnc_module *g, const cnnc__garg *a) {
    switch (a->kind) {
    case CNNC__GARG_BOOL: return cJSON_CreateBool(a->i != 0);
    case CNNC__GARG_INT: return cJSON_CreateNumber((double)a->i);
    case CNNC__GARG_FLOAT: return cJSON_CreateNumber(a->f);
    case CNNC__GARG_STRING: return cJSON_CreateString(a->s);
    case CNNC__GARG_REF: {
        cJSON *r = ref_json(cnnc__graph_node(g, a->node)->name);
        if (!r || (a->index >= 0 && !cJSON_AddNumberToObject(r, "index", a->index))) {
            cJSON_Delete(r);
            return NULL;
        }
        return r;
    }
    case CNNC__GARG_LIST: {
        cJSON *l = cJSON_CreateArray();
        for (int i = 0; l && i < a->n; i++) {
            if (!attach(l, NULL, arg_json(g, &a->items[i]))) return cJSON_Delete(l), NULL;
        }
        return l;
    }
    default: return cJSON_CreateNull();
    }
}

static cJSON *args_json(const cnnc_module *g, int n, const cnnc__garg *args) {
    cnnc__garg list = {.kind = CNNC__GARG_LIST, .n = n, .items = (cnnc__garg *)args};
    return arg_json(g, &list);
}

static cnnc_status graph_nodes(cJSON *root, const cnnc_module *g) {
    static const char *const keys[] = {[CNNC__GNODE_MODULE] = "module", [CNNC__GNODE_OP] = "op",
                                       [CNNC__GNODE_ATTR] = "attr"};
    cJSON *inputs = cJSON_AddArrayToObject(root, "inputs"), *nodes = cJSON_AddArrayToObject(root, "nodes");
    if (!inputs || !nodes) return cnnc__oom("the model description");
    for (int i = 0; i < cnnc__graph_num_nodes(g); i++) {
        const cnnc__gnode *n = cnnc__graph_node(g, i);
        cJSON *e = cJSON_CreateObject();
        bool input = n->kind == CNNC__GNODE_INPUT;
        if (!attach(input ? inputs : nodes, NULL, e) || !cJSON_AddStringToObject(e, "name", n->name))
            return cnnc__oom("the model description");
        if (input) {
            cJSON *shape = n->ndim >= 0 ? cJSON_CreateArray() : NULL;
            for (int d = 0; shape && d < n->ndim; d++)
                if (!attach(shape, NULL, cJSON_CreateNumber((double)n->shape[d]))) shape = (cJSON_Delete(shape), NULL);
            if (n->ndim >= 0 && !attach(e, "shape", shape)) return cnnc__oom("the model description");
            continue;
        }
        if (!cJSON_AddStringToObject(e, keys[n->kind], n->target) ||
            (n->n_args && !attach(e, "args", args_json(g, n->n_args, n->args))))
            return cnnc__oom("the model description");
    }
    cJSON *outs = args_json(g, cnnc__graph_num_outputs(g), cnnc__graph_output(g, 0));
    return attach(root, "outputs", outs) ? CNNC_OK : cnnc__oom("the model description");
}

/* A Sequential's graph: its children called one after the other. */
static cnnc_status sequential_nodes(cJSON *root, const cnnc_module *m) {
    cJSON *inputs = cJSON_AddArrayToObject(root, "inputs"), *nodes = cJSON_AddArrayToObject(root, "nodes");
    cJSON *in = cJSON_CreateObject();
    if (!attach(inputs, NULL, in) || !cJSON_AddStringToObject(in, "name", "input") || !nodes)
        return cnnc__oom("the model description");
    const char *prev = "input";
    for (size_t i = 0; i < m->n_children; i++) {
        const char *name = m->children[i].name;
        cJSON *e = cJSON_CreateObject(), *args = NULL;
        if (!attach(nodes, NULL, e) || !cJSON_AddStringToObject(e, "name", name) ||
            !cJSON_AddStringToObject(e, "module", name) || !attach(e, "args", args = cJSON_CreateArray()) ||
            !attach(args, NULL, ref_json(prev)))
            return cnnc__oom("the model description");
        prev = name;
    }
    cJSON *outs = cJSON_AddArrayToObject(root, "outputs");
    return attach(outs, NULL, ref_json(prev)) ? CNNC_OK : cnnc__oom("the model description");
}

static cJSON *describe(const cnnc_module *m) {
    bool seq = !m->type->type_name && !strcmp(cnnc_module_type(m), "Sequential");
    if (!cnnc__is_graph(m) && !seq)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                "model_save(): the model must be a loaded model (a graph) or a Sequential, got a %s",
                                cnnc_module_type(m));
    cJSON *root = cJSON_CreateObject();
    bool ok = cJSON_AddStringToObject(root, "format", CNNC__MODEL_FORMAT) &&
              cJSON_AddNumberToObject(root, "version", CNNC__MODEL_VERSION) &&
              cJSON_AddStringToObject(root, "type", cnnc_module_type(m));
    walk w = {.list = ok ? cJSON_AddArrayToObject(root, "modules") : NULL};
    cnnc_status st = w.list ? module_entry(&w, m, "") : cnnc__oom("the model description");
    if (st == CNNC_OK) st = seq ? sequential_nodes(root, m) : graph_nodes(root, m);
    for (size_t i = 0; i < w.n; i++) cnnc__free(w.paths[i]);
    cnnc__free(w.paths);
    cnnc__free(w.seen);
    if (st) cJSON_Delete(root);
    return st ? NULL : root;
}

cnnc_tensor_list *cnnc_model_to_list(cnnc_module *m) {
    CNNC__NONNULL_OR_NULL("model_to_list", m);
    cJSON *root = describe(m);
    char *text = root ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    if (root && !text) return cnnc__oom("the model description"), NULL;
    cnnc_tensor_list *list = text ? cnnc_module_state_dict(m) : NULL;
    if (list && cnnc_tensor_list_set_meta(list, CNNC__MODEL_KEY, text)) {
        cnnc_tensor_list_free(list);
        list = NULL;
    }
    cJSON_free(text);
    return list;
}

cnnc_status cnnc_model_save(cnnc_module *m, const char *path) {
    CNNC__NONNULL_OR_STATUS("model_save", m);
    CNNC__NONNULL_OR_STATUS("model_save", path);
    cnnc_tensor_list *list = cnnc_model_to_list(m);
    cnnc_status st = list ? cnnc_safetensors_save(path, list) : cnnc_last_status();
    cnnc_tensor_list_free(list);
    return st;
}
