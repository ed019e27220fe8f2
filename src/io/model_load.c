/* Loading a cnnc model: the architecture JSON under the "cnnc.model" metadata key
 * (docs/model-format.md) rebuilt as a graph module (src/graph), then the tensors
 * loaded into it with load_state_dict(strict=True). Every field is checked; an error
 * names the module or node it is about. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/tensor.h"
#include "graph/graph.h"
#include "io/model.h"
#include "nn/factory.h"
#include "nn/module.h"

#define BAD(...) cnnc__error(CNNC_ERR_INVALID_ARGUMENT, __VA_ARGS__)

/* Deepest nesting of argument lists (a file cannot make the loader recurse deeper). */
enum { MAX_ARG_DEPTH = 8 };

static bool json_integral(const cJSON *j) {
    double v = j->valuedouble;
    return isfinite(v) && v == floor(v) && fabs(v) <= 9007199254740992.0; /* 2^53 */
}

static const char *string_field(const cJSON *obj, const char *key) {
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsString(j) ? j->valuestring : NULL;
}

/* ---- module arguments: JSON -> cnnc_value ------------------------------------------ */

static cnnc_status list_value(const cJSON *j, const char *path, const char *key, cnnc_value *v) {
    int n = cJSON_GetArraySize(j), i = 0;
    if (n > CNNC_MAX_DIMS) return BAD("model: module '%s': argument '%s' has %d entries (at most %d)", path, key, n, CNNC_MAX_DIMS);
    bool ints = true;
    const cJSON *e;
    cJSON_ArrayForEach(e, j) {
        if (!cJSON_IsNumber(e) && !cJSON_IsNull(e))
            return BAD("model: module '%s': argument '%s' must be a list of numbers", path, key);
        if (cJSON_IsNumber(e) && !isfinite(e->valuedouble))
            return BAD("model: module '%s': argument '%s' has a number out of range", path, key);
        ints = ints && (cJSON_IsNull(e) || json_integral(e));
    }
    *v = (cnnc_value){.kind = ints ? CNNC_VALUE_INTS : CNNC_VALUE_FLOATS, .n = n};
    cJSON_ArrayForEach(e, j) {
        if (cJSON_IsNull(e) && !ints) return BAD("model: module '%s': argument '%s' mixes null and fractions", path, key);
        if (ints) v->ints[i] = cJSON_IsNull(e) ? CNNC_POOL_KEEP : (int64_t)e->valuedouble;
        else v->fs[i] = e->valuedouble;
        i++;
    }
    return CNNC_OK;
}

static cnnc_status json_value(const cJSON *j, const char *path, cnnc_value *v) {
    /* JSON has no infinities: a literal such as 1e999 overflows, and could not be saved again */
    if (cJSON_IsNumber(j) && !isfinite(j->valuedouble))
        return BAD("model: module '%s': argument '%s' is a number out of range", path, j->string);
    if (cJSON_IsNull(j)) *v = (cnnc_value){.kind = CNNC_VALUE_NONE};
    else if (cJSON_IsBool(j)) *v = (cnnc_value){.kind = CNNC_VALUE_BOOL, .ints = {cJSON_IsTrue(j)}};
    else if (cJSON_IsString(j)) *v = (cnnc_value){.kind = CNNC_VALUE_STRING, .s = j->valuestring};
    else if (cJSON_IsNumber(j) && json_integral(j)) *v = (cnnc_value){.kind = CNNC_VALUE_INT, .ints = {(int64_t)j->valuedouble}};
    else if (cJSON_IsNumber(j)) *v = (cnnc_value){.kind = CNNC_VALUE_FLOAT, .f = j->valuedouble};
    else if (cJSON_IsArray(j)) return list_value(j, path, j->string, v);
    else return BAD("model: module '%s': argument '%s' is not a number, string, bool, null or list", path, j->string);
    return CNNC_OK;
}

/* A built-in module from its type and "args" object. */
static cnnc_module *builtin_module(const char *path, const char *type, const cJSON *args) {
    if (args && !cJSON_IsObject(args)) return BAD("model: module '%s': 'args' must be an object", path), NULL;
    int n = args ? cJSON_GetArraySize(args) : 0;
    if (n > CNNC__MAX_KWARGS) return BAD("model: module '%s' has %d arguments", path, n), NULL;
    const char *names[CNNC__MAX_KWARGS];
    cnnc_value values[CNNC__MAX_KWARGS];
    int i = 0;
    const cJSON *a;
    if (args) cJSON_ArrayForEach(a, args) {
        names[i] = a->string;
        if (json_value(a, path, &values[i++])) return NULL;
    }
    cnnc_module *m = cnnc_module_create(type, (size_t)n, names, values);
    if (!m) cnnc__error_prefix("model: module '%s' (%s): ", path, type);
    return m;
}

/* ---- holders: classes cnnc does not have, with their own tensors ---------------------- */

/* The file's tensor for path.name ("" path: the model's own). */
static cnnc_tensor *own_tensor(const cnnc_tensor_list *tensors, const char *path, const char *name) {
    char full[1024];
    int len = snprintf(full, sizeof full, "%s%s%s", path, path[0] ? "." : "", name);
    cnnc_tensor *t = len > 0 && (size_t)len < sizeof full ? cnnc_tensor_list_find(tensors, full) : NULL;
    if (!t) BAD("model: module '%s': tensor '%s' is not in the file", path[0] ? path : "(model)", full);
    return t;
}

static cnnc_status holder_params(cnnc_module *m, const cJSON *params, const char *path,
                                 const cnnc_tensor_list *tensors) {
    const cJSON *p;
    if (params && !cJSON_IsArray(params)) return BAD("model: module '%s': 'parameters' must be a list", path);
    cJSON_ArrayForEach(p, params) {
        if (!cJSON_IsString(p)) return BAD("model: module '%s': a parameter name is not a string", path);
        cnnc_tensor *t = own_tensor(tensors, path, p->valuestring);
        if (!t) return cnnc_last_status();
        if (t->dtype != CNNC_FLOAT32)
            return BAD("model: parameter '%s' of module '%s' must be float32", p->valuestring, path);
        cnnc_tensor *c = cnnc__tensor_copy(t);
        if (!c) return cnnc_last_status();
        c->requires_grad = true;
        if (cnnc__module_add_param(m, p->valuestring, c)) return cnnc_last_status();
    }
    return CNNC_OK;
}

static cnnc_status holder_buffers(cnnc_module *m, const cJSON *buffers, const char *path,
                                  const cnnc_tensor_list *tensors) {
    const cJSON *b;
    if (buffers && !cJSON_IsArray(buffers)) return BAD("model: module '%s': 'buffers' must be a list", path);
    cJSON_ArrayForEach(b, buffers) {
        const char *name = string_field(b, "name");
        const cJSON *pers = cJSON_GetObjectItemCaseSensitive(b, "persistent");
        if (!name || (pers && !cJSON_IsBool(pers)))
            return BAD("model: module '%s': a buffer needs a 'name' string and a boolean 'persistent'", path);
        if (pers && !cJSON_IsTrue(pers))
            return BAD("model: module '%s': buffer '%s' is not persistent, so its value is not in the file",
                       path, name);
        cnnc_tensor *t = own_tensor(tensors, path, name), *c = t ? cnnc__tensor_copy(t) : NULL;
        if (!c || cnnc__module_add_buffer(m, name, c, true)) return cnnc_last_status();
    }
    return CNNC_OK;
}

static cnnc_status holder_tensors(cnnc_module *m, const cJSON *e, const char *path,
                                  const cnnc_tensor_list *tensors) {
    if (holder_params(m, cJSON_GetObjectItemCaseSensitive(e, "parameters"), path, tensors)) return cnnc_last_status();
    return holder_buffers(m, cJSON_GetObjectItemCaseSensitive(e, "buffers"), path, tensors);
}

static bool is_container(const char *type) {
    return !strcmp(type, "Sequential") || !strcmp(type, "ModuleList") || !strcmp(type, "ModuleDict");
}

/* The module an entry describes (a new reference), or NULL. */
static cnnc_module *entry_module(cnnc_module *g, const cJSON *e, const char *path, const cnnc_tensor_list *tensors) {
    const char *shared = string_field(e, "shared"), *type = string_field(e, "type");
    if (shared) {
        cnnc_module *s = shared[0] ? cnnc_module_get_submodule(g, shared) : NULL;
        if (!s) return BAD("model: module '%s' shares '%s', which is not defined before it", path, shared), NULL;
        return cnnc_module_retain(s);
    }
    if (!type || !type[0]) return BAD("model: module '%s' has no 'type'", path), NULL;
    if (is_container(type) || cnnc__module_type_known(type))
        return builtin_module(path, type, cJSON_GetObjectItemCaseSensitive(e, "args"));
    if (cJSON_GetObjectItemCaseSensitive(e, "args"))
        return BAD("model: module '%s' has the unknown type '%s' (and arguments for it)", path, type), NULL;
    const cJSON *repr = cJSON_GetObjectItemCaseSensitive(e, "extra_repr");
    if (repr && !cJSON_IsString(repr)) return BAD("model: module '%s': 'extra_repr' must be a string", path), NULL;
    cnnc_module *m = cnnc__holder_new(type, repr ? repr->valuestring : NULL);
    if (m && holder_tensors(m, e, path, tensors)) {
        cnnc_module_release(m);
        return NULL;
    }
    return m;
}

static cnnc_status load_modules(cnnc_module *g, const cJSON *modules, const cnnc_tensor_list *tensors) {
    const cJSON *e;
    int i = 0;
    cJSON_ArrayForEach(e, modules) {
        const char *path = string_field(e, "path");
        if (!cJSON_IsObject(e) || !path) return BAD("model: modules[%d] needs a 'path' string", i);
        if ((i == 0) != (path[0] == '\0'))
            return BAD("model: modules[%d]: the model itself (path \"\") comes first, and only once", i);
        cnnc_status st = CNNC_OK;
        if (i++ == 0) {
            st = holder_tensors(g, e, "", tensors);
        } else {
            cnnc_module *m = entry_module(g, e, path, tensors);
            st = m ? cnnc__graph_add_module(g, path, m) : cnnc_last_status();
        }
        if (st) return st;
    }
    return i ? CNNC_OK : BAD("model: 'modules' is empty");
}

/* ---- nodes ------------------------------------------------------------------------------- */

static cnnc_status node_arg(cnnc_module *g, const cJSON *j, const char *node, int depth, cnnc__garg *out);

static cnnc_status ref_arg(cnnc_module *g, const cJSON *j, const char *node, cnnc__garg *out) {
    const char *target = string_field(j, "node");
    const cJSON *index = cJSON_GetObjectItemCaseSensitive(j, "index");
    if (!target || cJSON_GetArraySize(j) != (index ? 2 : 1))
        return BAD("model: node '%s': an object argument must be {\"node\": name} or {\"node\": name, \"index\": i}", node);
    if (index && (!cJSON_IsNumber(index) || !json_integral(index) || index->valuedouble < 0 ||
                  index->valuedouble >= CNNC_MAX_OUTPUTS * 64))
        return BAD("model: node '%s': the index of its reference to '%s' is not a valid result index", node, target);
    int k = cnnc__graph_find(g, target);
    if (k < 0) return BAD("model: node '%s' refers to '%s', which is no earlier node", node, target);
    *out = cnnc__garg_ref(k, index ? (int)index->valuedouble : -1);
    return CNNC_OK;
}

static cnnc_status list_arg(cnnc_module *g, const cJSON *j, const char *node, int depth, cnnc__garg *out) {
    int n = cJSON_GetArraySize(j), i = 0;
    cnnc__garg *items = cnnc__calloc(n ? (size_t)n : 1, sizeof *items);
    if (!items) return cnnc__oom("model arguments");
    const cJSON *e;
    cnnc_status st = CNNC_OK;
    cJSON_ArrayForEach(e, j) {
        if ((st = node_arg(g, e, node, depth + 1, &items[i]))) break;
        i++;
    }
    if (st == CNNC_OK) *out = cnnc__garg_list(n, items);
    else for (int k = 0; k < i; k++) cnnc__garg_clear(&items[k]);
    cnnc__free(items);
    return st ? st : out->kind == CNNC__GARG_LIST ? CNNC_OK : cnnc_last_status();
}

static cnnc_status node_arg(cnnc_module *g, const cJSON *j, const char *node, int depth, cnnc__garg *out) {
    *out = (cnnc__garg){.kind = CNNC__GARG_NONE};
    if (depth > MAX_ARG_DEPTH) return BAD("model: node '%s': arguments nested deeper than %d", node, MAX_ARG_DEPTH);
    if (cJSON_IsNull(j)) return CNNC_OK;
    if (cJSON_IsNumber(j) && !isfinite(j->valuedouble))
        return BAD("model: node '%s': a number out of range", node);
    if (cJSON_IsBool(j)) *out = cnnc__garg_bool(cJSON_IsTrue(j));
    else if (cJSON_IsNumber(j)) *out = json_integral(j) ? cnnc__garg_int((int64_t)j->valuedouble) : cnnc__garg_float(j->valuedouble);
    else if (cJSON_IsString(j)) {
        *out = cnnc__garg_string(j->valuestring);
        if (out->kind != CNNC__GARG_STRING) return cnnc_last_status();
    } else if (cJSON_IsObject(j)) return ref_arg(g, j, node, out);
    else if (cJSON_IsArray(j)) return list_arg(g, j, node, depth, out);
    return CNNC_OK;
}

/* A node's "args" list as an owned argument array. */
static cnnc_status node_args(cnnc_module *g, const cJSON *args, const char *node, int *n, cnnc__garg **out) {
    *n = 0;
    *out = NULL;
    if (!args) return CNNC_OK;
    if (!cJSON_IsArray(args)) return BAD("model: node '%s': 'args' must be a list", node);
    cnnc__garg list;
    if (list_arg(g, args, node, 0, &list)) return cnnc_last_status();
    *n = list.n;
    *out = list.items;
    return CNNC_OK;
}

static cnnc_status load_node(cnnc_module *g, const cJSON *e, int i) {
    const char *name = string_field(e, "name");
    if (!cJSON_IsObject(e) || !name) return BAD("model: nodes[%d] needs a 'name' string", i);
    static const char *const keys[] = {"module", "op", "attr"};
    static const cnnc__gnode_kind kinds[] = {CNNC__GNODE_MODULE, CNNC__GNODE_OP, CNNC__GNODE_ATTR};
    int which = -1;
    for (int k = 0; k < 3; k++) {
        if (!cJSON_GetObjectItemCaseSensitive(e, keys[k])) continue;
        if (which >= 0 || !string_field(e, keys[k]))
            return BAD("model: node '%s' needs exactly one of 'module', 'op' or 'attr', a string", name);
        which = k;
    }
    if (which < 0) return BAD("model: node '%s' has none of 'module', 'op' or 'attr'", name);
    int n;
    cnnc__garg *args;
    if (node_args(g, cJSON_GetObjectItemCaseSensitive(e, "args"), name, &n, &args)) return cnnc_last_status();
    if (which == 2 && n) {
        for (int k = 0; k < n; k++) cnnc__garg_clear(&args[k]);
        cnnc__free(args);
        return BAD("model: node '%s' reads an attribute and takes no arguments", name);
    }
    return cnnc__graph_add_node(g, name, kinds[which], string_field(e, keys[which]), n, args) < 0 ? cnnc_last_status()
                                                                                                 : CNNC_OK;
}

/* An input's recorded "shape": its length (-1 when absent), or -2 with the error set. */
static int input_shape(const cJSON *shape, const char *name, int64_t *dims) {
    if (!shape || cJSON_IsNull(shape)) return -1;
    int n = cJSON_IsArray(shape) ? cJSON_GetArraySize(shape) : -1, i = 0;
    if (n < 0 || n > CNNC_MAX_DIMS) return BAD("model: input '%s': 'shape' must be a list of at most %d sizes", name, CNNC_MAX_DIMS), -2;
    const cJSON *e;
    cJSON_ArrayForEach(e, shape) {
        if (!cJSON_IsNumber(e) || !json_integral(e) || e->valuedouble < 0)
            return BAD("model: input '%s': 'shape' must hold sizes (integers >= 0)", name), -2;
        dims[i++] = (int64_t)e->valuedouble;
    }
    return n;
}

static cnnc_status load_inputs(cnnc_module *g, const cJSON *inputs) {
    const cJSON *e;
    int i = 0;
    cJSON_ArrayForEach(e, inputs) {
        const char *name = string_field(e, "name");
        const cJSON *shape = cJSON_GetObjectItemCaseSensitive(e, "shape");
        if (!name) return BAD("model: inputs[%d] needs a 'name' string", i);
        int64_t dims[CNNC_MAX_DIMS];
        int ndim = input_shape(shape, name, dims), k = ndim < -1 ? -1 : cnnc__graph_add_node(g, name, CNNC__GNODE_INPUT, NULL, 0, NULL);
        if (k < 0 || cnnc__graph_set_input_shape(g, k, ndim, dims)) return cnnc_last_status();
        i++;
    }
    return i ? CNNC_OK : BAD("model: 'inputs' is empty");
}

static cnnc_status load_outputs(cnnc_module *g, const cJSON *outputs) {
    int n;
    cnnc__garg *outs;
    if (node_args(g, outputs, "(outputs)", &n, &outs)) return cnnc_last_status();
    return cnnc__graph_set_outputs(g, n, outs);
}

/* ---- the whole file ------------------------------------------------------------------------ */

static const cJSON *section(const cJSON *root, const char *key) {
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!cJSON_IsArray(s)) BAD("model: the architecture has no '%s' list", key);
    return cJSON_IsArray(s) ? s : NULL;
}

static cnnc_status check_header(const cJSON *root) {
    const cJSON *version = cJSON_GetObjectItemCaseSensitive(root, "version");
    const char *format = string_field(root, "format");
    if (!cJSON_IsObject(root)) return BAD("model: the architecture is not a JSON object");
    if (!format || strcmp(format, CNNC__MODEL_FORMAT) != 0)
        return BAD("model: the architecture's 'format' is not \"%s\"", CNNC__MODEL_FORMAT);
    if (!cJSON_IsNumber(version) || version->valuedouble != CNNC__MODEL_VERSION)
        return BAD("model: format version %g is not supported (this cnnc reads version %d)",
                   cJSON_IsNumber(version) ? version->valuedouble : -1.0, CNNC__MODEL_VERSION);
    if (!string_field(root, "type")) return BAD("model: the architecture has no 'type' string");
    return CNNC_OK;
}

static cnnc_status build(cnnc_module *g, const cJSON *root, const cnnc_tensor_list *tensors, bool strict) {
    const cJSON *modules = section(root, "modules"), *inputs = modules ? section(root, "inputs") : NULL;
    const cJSON *nodes = inputs ? section(root, "nodes") : NULL, *outputs = nodes ? section(root, "outputs") : NULL;
    if (!outputs) return cnnc_last_status();
    if (load_modules(g, modules, tensors) || load_inputs(g, inputs)) return cnnc_last_status();
    const cJSON *e;
    int i = 0;
    cJSON_ArrayForEach(e, nodes)
        if (load_node(g, e, i++)) return cnnc_last_status();
    if (load_outputs(g, outputs) || cnnc__graph_finish(g)) return cnnc_last_status();
    if (cnnc_module_load_state_dict(g, tensors, strict))
        return cnnc__error_prefix("model: the file's tensors do not fit the architecture: ");
    return CNNC_OK;
}

cnnc_module *cnnc_model_from_list(const cnnc_tensor_list *list) {
    CNNC__NONNULL_OR_NULL("model_from_list", list);
    return cnnc__model_build(list, true);
}

cnnc_module *cnnc__model_build(const cnnc_tensor_list *list, bool strict) {
    const char *text = cnnc_tensor_list_meta(list, CNNC__MODEL_KEY);
    if (!text) return BAD("model: no '%s' metadata: this holds tensors, not a cnnc model", CNNC__MODEL_KEY), NULL;
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithOpts(text, &end, true);
    if (!root) return BAD("model: the architecture is not valid JSON (near byte %zu)",
                          (size_t)(end ? end - text : 0)), NULL;
    cnnc_module *g = NULL;
    if (check_header(root) == CNNC_OK) g = cnnc__graph_new(string_field(root, "type"));
    bool skip = cnnc__set_skip_init(strict); /* strict: every value comes from the file */
    if (g && build(g, root, list, strict) != CNNC_OK) {
        cnnc_module_release(g);
        g = NULL;
    }
    cnnc__set_skip_init(skip);
    cJSON_Delete(root);
    return g;
}

int cnnc_model_input_shape(const cnnc_module *m, int i, int64_t *shape) {
    if (!m || !shape || !cnnc__is_graph(m)) return -1;
    for (int k = 0, seen = 0; k < cnnc__graph_num_nodes(m); k++) {
        const cnnc__gnode *n = cnnc__graph_node(m, k);
        if (n->kind != CNNC__GNODE_INPUT || seen++ != i) continue;
        if (n->ndim > 0) memcpy(shape, n->shape, (size_t)n->ndim * sizeof *shape);
        return n->ndim;
    }
    return -1;
}

cnnc_module *cnnc_model_load(const char *path) {
    CNNC__NONNULL_OR_NULL("model_load", path);
    cnnc_tensor_list *list = NULL;
    if (cnnc_safetensors_load(path, &list)) return NULL;
    cnnc_module *m = cnnc_model_from_list(list);
    if (!m) cnnc__error_prefix("%s: ", path);
    cnnc_tensor_list_free(list);
    return m;
}
