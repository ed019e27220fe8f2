/* cnnc_module_macs: the multiply-accumulates of one forward, counted per module
 * call (convolutions, transposed convolutions, linear layers) from the weight and
 * the output (input for a transposed convolution), as thop and fvcore count them. */
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/tensor.h"
#include "nn/module.h"

typedef struct count {
    int64_t macs;
} count;

static void count_call(void *ctx, const cnnc_module *m, int n_in, cnnc_tensor *const *in, int n_out,
                       cnnc_tensor *const *out) {
    const char *type = cnnc__module_name(m);
    cnnc_tensor *w = cnnc__module_param(m, "weight");
    bool transposed = !strncmp(type, "ConvTranspose", 13);
    bool counted = transposed || !strncmp(type, "Conv", 4) || !strcmp(type, "Linear");
    if (!counted || !w || w->ndim < 2 || w->shape[0] == 0 || m->type->type_name) return;
    const cnnc_tensor *t = transposed ? (n_in ? in[0] : NULL) : (n_out ? out[0] : NULL);
    if (t) ((count *)ctx)->macs += t->numel * (w->numel / w->shape[0]);
}

/* Every module's training flag, in a fixed walk order, saved or restored. */
static size_t flags(cnnc_module *m, bool *saved, size_t i, bool restore, int depth) {
    if (depth > CNNC__MAX_MODULE_DEPTH) return i;
    if (restore) m->training = saved[i];
    else saved[i] = m->training;
    i++;
    for (size_t c = 0; c < m->n_children; c++) i = flags(m->children[c].m, saved, i, restore, depth + 1);
    return i;
}

static size_t tree_size(const cnnc_module *m, int depth) {
    size_t n = 1;
    for (size_t c = 0; depth <= CNNC__MAX_MODULE_DEPTH && c < m->n_children; c++)
        n += tree_size(m->children[c].m, depth + 1);
    return n;
}

cnnc_status cnnc_module_macs(cnnc_module *m, int n_inputs, cnnc_tensor *const *inputs, int64_t *macs) {
    CNNC__NONNULL_OR_STATUS("module_macs", m);
    CNNC__NONNULL_OR_STATUS("module_macs", macs);
    if (n_inputs < 0 || n_inputs > CNNC_MAX_INPUTS || (n_inputs && !inputs))
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "module_macs(): %d inputs (0..%d, with an array)", n_inputs,
                           CNNC_MAX_INPUTS);
    bool *saved = cnnc__malloc(tree_size(m, 1) * sizeof *saved);
    if (!saved) return cnnc__oom("module_macs");
    flags(m, saved, 0, false, 1);
    cnnc_module_eval(m);
    bool grad = cnnc_set_grad_enabled(false);
    count c = {0};
    cnnc__set_call_hook(count_call, &c);
    cnnc_tensor *out[CNNC_MAX_OUTPUTS];
    int n = cnnc__module_call_n(m, n_inputs, inputs, out);
    cnnc__set_call_hook(NULL, NULL);
    cnnc_set_grad_enabled(grad);
    flags(m, saved, 0, true, 1);
    cnnc__free(saved);
    for (int i = 0; i < n; i++) cnnc_tensor_release(out[i]);
    *macs = c.macs;
    return n < 0 ? cnnc_last_status() : CNNC_OK;
}
