/* The model runtime's training plan: a BatchNorm whose result only a ReLU, ReLU6 or
 * Hardtanh reads (Conv-BN-ReLU in ResNet, VGG and U-Net, MobileNetV2's BN-ReLU6), with
 * gradients and the BatchNorm in training mode, runs as one op (ops/norm.h,
 * cnnc__op_batch_norm_act): the forward writes y = act(bn(x)) and a bit per element
 * of where the activation passes the gradient (not the BatchNorm's result), and the
 * backward's reductions and input gradient read the incoming gradient, x and those
 * bits, instead of a separate masking pass. Outputs, gradients and running
 * statistics are those of the two ops, bit for bit (the same kernels' arithmetic,
 * element by element). The activation is a module (ReLU, ReLU6, Hardtanh; in place or
 * not: nothing else reads the BatchNorm's result) or an op (relu, relu6, hardtanh);
 * the pair counts as the two module calls it replaces (cnnc_module_macs). Without
 * gradients (or with the BatchNorm in eval mode) nothing here runs: the inference plan
 * (graph_fold.c, graph_infer.c) or the modules as they are. */
#include "core/error.h"
#include "graph/graph.h"
#include "kernels/norm.h"
#include "nn/module.h"
#include "ops/activation.h"

void cnnc__graph_plan_train(cnnc__gnode *nodes, int n_nodes) {
    for (int i = 0; i < n_nodes; i++) {
        cnnc__gnode *n = &nodes[i];
        n->train_fuse = -1;
        if (n->kind == CNNC__GNODE_MODULE && cnnc__is_batchnorm_module(n->module) && n->n_args == 1 &&
            n->args[0].kind == CNNC__GARG_REF && n->args[0].index <= 0)
            n->train_fuse = cnnc__graph_act_reader(nodes, n_nodes, i);
    }
}

/* The fused form of activation spec s, or false (another activation). */
static bool norm_act_of(const cnnc__act_spec *s, cnnc__norm_act *a) {
    if (s->op == CNNC__ACT_RELU) return *a = (cnnc__norm_act){false, 0.0f, 0.0f}, true;
    if (s->op == CNNC__ACT_HARDTANH && s->p.a < s->p.b) return *a = (cnnc__norm_act){true, s->p.a, s->p.b}, true;
    return false;
}

int cnnc__graph_run_train(cnnc__gctx *c, const cnnc__gnode *nodes, int i) {
    const cnnc__gnode *bn = &nodes[i], *an = &nodes[bn->train_fuse];
    cnnc__act_spec s;
    cnnc__norm_act act;
    cnnc_tensor *x;
    if (!bn->module->training || !cnnc__graph_act_spec(c, an, &s) || !norm_act_of(&s, &act) ||
        cnnc__gctx_tensor(c, 0, &x) != CNNC_OK)
        return 0; /* the ordinary path runs (and reports any error) */
    cnnc_tensor *y = cnnc__batchnorm_act_forward(bn->module, x, &act);
    if (!y) return -1;
    cnnc__module_called(bn->module, 1, &x, 1, &y); /* for cnnc_module_macs */
    if (an->kind == CNNC__GNODE_MODULE) cnnc__module_called(an->module, 1, &y, 1, &y);
    return cnnc__gvalue_one(&c->values[bn->train_fuse], y) == CNNC_OK ? 1 : -1;
}
