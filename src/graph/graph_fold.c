/* The model runtime's inference plan: a convolution whose only reader is a
 * BatchNorm in eval mode runs as one convolution with the BatchNorm folded in,
 *     w'[o] = w[o] * scale[o],   b'[o] = b[o] * scale[o] + shift[o],
 * scale = gamma / sqrt(running_var + eps), shift = beta - running_mean * scale,
 * computed in double (the weights multiplied by the scale rounded to float) from the
 * current weights at each run (no cache to go stale:
 * O(weights), small beside the convolution), which saves the BatchNorm's pass over
 * the activation. Only without gradients (inference): with them, autograd sees the
 * modules as they are. */
#include "core/alloc.h"
#include "core/error.h"
#include "graph/graph.h"
#include "nn/module.h"

void cnnc__graph_plan_folds(cnnc__gnode *nodes, int n_nodes) {
    for (int i = 0; i < n_nodes; i++) nodes[i].fold = -1;
    for (int j = 0; j < n_nodes; j++) {
        const cnnc__gnode *bn = &nodes[j];
        if (bn->kind != CNNC__GNODE_MODULE || !cnnc__is_batchnorm_module(bn->module) || bn->n_args != 1 ||
            bn->args[0].kind != CNNC__GARG_REF || bn->args[0].index > 0)
            continue;
        cnnc__gnode *conv = &nodes[bn->args[0].node];
        if (conv->kind == CNNC__GNODE_MODULE && cnnc__is_conv_module(conv->module) && conv->last_use == j)
            conv->fold = j;
    }
}

/* The folded weight and bias of conv's module for bn's scale and shift, or false. */
static bool folded_params(cnnc_module *conv, const cnnc_module *bn, cnnc_tensor **wf, cnnc_tensor **bf) {
    cnnc_tensor *w = cnnc__module_param(conv, "weight"), *b = cnnc__module_param(conv, "bias");
    if (!w || w->dtype != CNNC_FLOAT32 || w->ndim < 1 || w->shape[0] < 1 ||
        (b && (b->dtype != CNNC_FLOAT32 || b->numel != w->shape[0])))
        return false;
    const int64_t oc = w->shape[0], per = w->numel / oc;
    double *scale = cnnc__malloc(2 * (size_t)oc * sizeof *scale), *shift = scale ? scale + oc : NULL;
    bool ok = scale && cnnc__batchnorm_eval_affine(bn, oc, scale, shift);
    *wf = ok ? cnnc__tensor_new(CNNC_FLOAT32, w->ndim, w->shape) : NULL;
    *bf = *wf ? cnnc__tensor_new(CNNC_FLOAT32, 1, &oc) : NULL;
    if (*bf) {
        const float *wd = cnnc__f32(w);
        float *wo = cnnc__f32(*wf), *bo = cnnc__f32(*bf);
        for (int64_t o = 0; o < oc; o++) {
            /* the scale rounded once, then a float product (a loop the compiler
             * vectorises: this runs over every weight at each call) */
            const float so = (float)scale[o];
            const float *wr = wd + o * per;
            float *dst = wo + o * per;
            for (int64_t k = 0; k < per; k++) dst[k] = wr[k] * so;
            bo[o] = (float)((b ? cnnc__f32(b)[o] : 0.0) * scale[o] + shift[o]);
        }
    } else if (*wf) {
        cnnc_tensor_release(*wf);
        *wf = NULL;
    }
    cnnc__free(scale);
    return *bf != NULL;
}

int cnnc__graph_run_folded(cnnc__gctx *c, const cnnc__gnode *bn, cnnc__gvalue *out) {
    const cnnc__gnode *conv = c->node;
    cnnc_tensor *x, *wf = NULL, *bf = NULL;
    if (conv->module->training || cnnc__gctx_tensor(c, 0, &x) != CNNC_OK ||
        !folded_params(conv->module, bn->module, &wf, &bf))
        return 0; /* the ordinary path runs (and reports any error) */
    cnnc_tensor *y = cnnc__conv_module_apply(conv->module, x, wf, bf);
    cnnc_tensor_release(wf);
    cnnc_tensor_release(bf);
    if (!y) return -1;
    cnnc__module_called(conv->module, 1, &x, 1, &y); /* for cnnc_module_macs */
    cnnc__module_called(bn->module, 1, &y, 1, &y);
    return cnnc__gvalue_one(out, y) == CNNC_OK ? 1 : -1;
}
