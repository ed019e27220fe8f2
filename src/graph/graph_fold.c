/* The model runtime's inference plan: a convolution whose only reader is a
 * BatchNorm in eval mode runs as one convolution with the BatchNorm folded in (and
 * with the activation that alone reads the result in its epilogue: graph_infer.c),
 *     w'[o] = w[o] * scale[o],   b'[o] = b[o] * scale[o] + shift[o],
 * scale = gamma / sqrt(running_var + eps), shift = beta - running_mean * scale,
 * computed in double (the weights multiplied by the scale rounded to float) from the
 * current weights at each run (no cache to go stale), which saves the BatchNorm's pass
 * over the activation. The convolution multiplies the filters (ops/conv.h,
 * cnnc__conv_run_forward_ep): where it keeps packed weights, once, while the filters
 * and scales stay the same; elsewhere per call, O(weights), small beside it. Only
 * without gradients (inference): with them, autograd sees the modules as they are. */
#include "core/alloc.h"
#include "core/error.h"
#include "graph/graph.h"
#include "nn/module.h"
#include "ops/activation.h"
#include "ops/conv.h"
#include "ops/ops.h"

void cnnc__graph_plan_folds(cnnc__gnode *nodes, int n_nodes) {
    for (int i = 0; i < n_nodes; i++) nodes[i].fold = -1;
    for (int j = 0; j < n_nodes; j++) {
        const cnnc__gnode *bn = &nodes[j];
        if (bn->kind != CNNC__GNODE_MODULE || !cnnc__is_batchnorm_module(bn->module) || bn->n_args != 1 ||
            bn->args[0].kind != CNNC__GARG_REF || bn->args[0].index > 0)
            continue;
        cnnc__gnode *conv = &nodes[bn->args[0].node];
        if (conv->kind == CNNC__GNODE_MODULE && cnnc__is_conv_module(conv->module) && conv->n_reads == 1 &&
            conv->last_use == j)
            conv->fold = j;
    }
}

/* The folded filters' scales [out channels] and bias of conv's module for bn's scale
 * and shift, or false. */
static bool folded_params(cnnc_module *conv, const cnnc_module *bn, float **wscale, cnnc_tensor **bf) {
    cnnc_tensor *w = cnnc__module_param(conv, "weight"), *b = cnnc__module_param(conv, "bias");
    *wscale = NULL;
    *bf = NULL;
    if (!w || w->dtype != CNNC_FLOAT32 || w->ndim < 1 || w->shape[0] < 1 ||
        (b && (b->dtype != CNNC_FLOAT32 || b->numel != w->shape[0])))
        return false;
    const int64_t oc = w->shape[0];
    double *scale = cnnc__malloc(2 * (size_t)oc * sizeof *scale), *shift = scale ? scale + oc : NULL;
    const bool affine = scale && cnnc__batchnorm_eval_affine(bn, oc, scale, shift);
    float *so = affine ? cnnc__malloc((size_t)oc * sizeof *so) : NULL;
    *bf = so ? cnnc__tensor_new(CNNC_FLOAT32, 1, &oc) : NULL;
    if (*bf) {
        float *bo = cnnc__f32(*bf);
        for (int64_t o = 0; o < oc; o++) {
            so[o] = (float)scale[o]; /* the scale rounded once, then a float product per weight */
            bo[o] = (float)((b ? cnnc__f32(b)[o] : 0.0) * scale[o] + shift[o]);
        }
        *wscale = so;
    } else {
        cnnc__free(so);
    }
    cnnc__free(scale);
    return *bf != NULL;
}

/* Conv module conv with the activation act (or NULL) as an arm of the fused op, its
 * filters and bias as they are; false when it does not apply now (a module in training
 * mode, padding not zeros). */
static bool conv_arm(cnnc_module *conv, const cnnc__act_spec *act, cnnc__conv_arm *a) {
    *a = (cnnc__conv_arm){.w = cnnc__module_param(conv, "weight"), .b = cnnc__module_param(conv, "bias"),
                          .cache = cnnc__conv_module_wcache(conv), .act = act};
    return !conv->training && a->w && cnnc__conv_module_options(conv, &a->dim, &a->o);
}

/* Arm a with the BatchNorm bn (or NULL) folded in: *wscale and *bf (the scales and bias,
 * or NULL) are the caller's to free. False when there are no running statistics. */
static bool fold_arm(cnnc_module *conv, const cnnc__gnode *bn, cnnc__conv_arm *a, float **wscale,
                     cnnc_tensor **bf) {
    *wscale = NULL;
    *bf = NULL;
    if (!bn) return true;
    if (!folded_params(conv, bn->module, wscale, bf)) return false;
    a->wscale = *wscale;
    a->b = *bf;
    return true;
}

int cnnc__graph_run_conv(cnnc__gctx *c, const cnnc__gnode *bn, const cnnc__act_spec *act, cnnc_tensor **y) {
    cnnc_module *conv = c->node->module;
    cnnc_tensor *x, *w = cnnc__module_param(conv, "weight"), *b = cnnc__module_param(conv, "bias");
    cnnc_tensor *bf = NULL;
    float *wscale = NULL;
    if (conv->training || cnnc__gctx_tensor(c, 0, &x) != CNNC_OK ||
        (bn && !folded_params(conv, bn->module, &wscale, &bf)))
        return 0; /* the ordinary path runs (and reports any error) */
    *y = cnnc__conv_module_apply_act(conv, x, w, wscale, bn ? bf : b, act);
    cnnc__free(wscale);
    cnnc_tensor_release(bf);
    if (!*y) return -1;
    cnnc__module_called(conv, 1, &x, 1, y); /* for cnnc_module_macs */
    if (bn) cnnc__module_called(bn->module, 1, y, 1, y);
    return 1;
}

int cnnc__graph_run_fused(cnnc__gctx *c, const cnnc__garm arm[3], cnnc_tensor **y) {
    cnnc_tensor *x, *bf[3] = {NULL, NULL, NULL};
    float *wscale[3] = {NULL, NULL, NULL};
    cnnc__conv_arm ca[3];
    const cnnc__conv_arm *use[3] = {NULL, NULL, NULL};
    /* cnnc_module_macs counts each module's own result, which the run never makes */
    if (cnnc__call_hook_set() || cnnc__gctx_tensor(c, 0, &x) != CNNC_OK) return 0;
    for (int k = 0; k < 3; k++) {
        if (!arm[k].conv) continue;
        if (!conv_arm(arm[k].conv->module, arm[k].act, &ca[k])) return 0;
        use[k] = &ca[k];
    }
    if (!cnnc__op_conv_fused_pays(x, use)) return 0;
    int done = 1;
    for (int k = 0; k < 3 && done; k++)
        if (use[k]) done = fold_arm(arm[k].conv->module, arm[k].bn, &ca[k], &wscale[k], &bf[k]);
    if (done) done = cnnc__op_conv_fused(x, use, y);
    for (int k = 0; k < 3; k++) {
        cnnc__free(wscale[k]);
        cnnc_tensor_release(bf[k]);
    }
    return done;
}
