/* Loss modules: nn.CrossEntropyLoss, NLLLoss, MSELoss, L1Loss, SmoothL1Loss,
 * HuberLoss, BCELoss, BCEWithLogitsLoss, KLDivLoss. One state struct serves them
 * all; each kind lists the attributes PyTorch gives it, in its order. weight and
 * pos_weight are buffers (None when not given, as PyTorch registers them), read
 * by every forward, so assigning or loading them takes effect. The reduction
 * string is kept as given and checked by forward, as PyTorch's modules do. */
#include "core/alloc.h"
#include "core/error.h"
#include "nn/module.h"
#include "ops/loss.h"

typedef struct loss_state {
    char *reduction;        /* owned copy; NULL is None */
    int64_t ignore_index;   /* CrossEntropyLoss, NLLLoss */
    double label_smoothing; /* CrossEntropyLoss */
    double beta;            /* SmoothL1Loss */
    double delta;           /* HuberLoss */
    bool log_target;        /* KLDivLoss */
} loss_state;

#define F(member, KIND) CNNC__FIELD(loss_state, member, KIND)
static const cnnc__field ce_fields[] = {F(reduction, STRING), F(ignore_index, INT),
                                        F(label_smoothing, FLOAT)};
static const cnnc__field nll_fields[] = {F(reduction, STRING), F(ignore_index, INT)};
static const cnnc__field plain_fields[] = {F(reduction, STRING)};
static const cnnc__field smooth_l1_fields[] = {F(reduction, STRING), F(beta, FLOAT)};
static const cnnc__field huber_fields[] = {F(reduction, STRING), F(delta, FLOAT)};
static const cnnc__field kl_fields[] = {F(reduction, STRING), F(log_target, BOOL)};
#undef F

#define S(m) CNNC__STATE(m, const loss_state)
#define W(m) cnnc__module_buffer(m, "weight")

/* ---- forward(input, target) ------------------------------------------------------------ */

static cnnc_tensor *ce_call(cnnc_module *m, cnnc_tensor *x, cnnc_tensor *t) {
    return cnnc__op_cross_entropy(x, t, CNNC_CROSS_ENTROPY(.weight = W(m), .ignore_index = S(m)->ignore_index,
                                                           .reduction = S(m)->reduction,
                                                           .label_smoothing = S(m)->label_smoothing));
}
static cnnc_tensor *nll_call(cnnc_module *m, cnnc_tensor *x, cnnc_tensor *t) {
    return cnnc__op_nll_loss(x, t, CNNC_NLL_LOSS(.weight = W(m), .ignore_index = S(m)->ignore_index,
                                                 .reduction = S(m)->reduction));
}
static cnnc_tensor *mse_call(cnnc_module *m, cnnc_tensor *x, cnnc_tensor *t) {
    return cnnc__op_mse_loss(x, t, CNNC_MSE_LOSS(.reduction = S(m)->reduction));
}
static cnnc_tensor *l1_call(cnnc_module *m, cnnc_tensor *x, cnnc_tensor *t) {
    return cnnc__op_l1_loss(x, t, CNNC_L1_LOSS(.reduction = S(m)->reduction));
}
static cnnc_tensor *smooth_l1_call(cnnc_module *m, cnnc_tensor *x, cnnc_tensor *t) {
    return cnnc__op_smooth_l1_loss(x, t, CNNC_SMOOTH_L1_LOSS(.reduction = S(m)->reduction,
                                                             .beta = S(m)->beta));
}
static cnnc_tensor *huber_call(cnnc_module *m, cnnc_tensor *x, cnnc_tensor *t) {
    return cnnc__op_huber_loss(x, t, CNNC_HUBER_LOSS(.reduction = S(m)->reduction,
                                                     .delta = S(m)->delta));
}
static cnnc_tensor *bce_call(cnnc_module *m, cnnc_tensor *x, cnnc_tensor *t) {
    return cnnc__op_binary_cross_entropy(
        x, t, CNNC_BINARY_CROSS_ENTROPY(.weight = W(m), .reduction = S(m)->reduction));
}
static cnnc_tensor *bce_logits_call(cnnc_module *m, cnnc_tensor *x, cnnc_tensor *t) {
    return cnnc__op_binary_cross_entropy_with_logits(
        x, t, CNNC_BINARY_CROSS_ENTROPY_WITH_LOGITS(.weight = W(m), .reduction = S(m)->reduction,
                                                    .pos_weight = cnnc__module_buffer(m, "pos_weight")));
}
static cnnc_tensor *kl_call(cnnc_module *m, cnnc_tensor *x, cnnc_tensor *t) {
    return cnnc__op_kl_div(x, t, CNNC_KL_DIV(.reduction = S(m)->reduction, .log_target = S(m)->log_target));
}

/* PyTorch's TypeErrors for forward(input, target) called with another count. */
static int run(cnnc_module *m, int n_in, cnnc_tensor *const *in, cnnc_tensor **out,
               cnnc_tensor *(*call)(cnnc_module *, cnnc_tensor *, cnnc_tensor *)) {
    const char *name = m->type->name;
    if (n_in == 0)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "%s.forward() missing 2 required positional arguments: 'input' and "
                           "'target'", name), -1;
    if (n_in == 1)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "%s.forward() missing 1 required positional argument: 'target'", name), -1;
    if (n_in > 2)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "%s.forward() takes 3 positional arguments but %d were given", name,
                           n_in + 1), -1;
    out[0] = call(m, in[0], in[1]);
    return out[0] ? 1 : -1;
}

#define FORWARD_N(kind)                                                                      \
    static int kind##_forward_n(cnnc_module *m, int n_in, cnnc_tensor *const *in, cnnc_tensor **out) { \
        return run(m, n_in, in, out, kind##_call);                                           \
    }
FORWARD_N(ce)
FORWARD_N(nll)
FORWARD_N(mse)
FORWARD_N(l1)
FORWARD_N(smooth_l1)
FORWARD_N(huber)
FORWARD_N(bce)
FORWARD_N(bce_logits)
FORWARD_N(kl)

/* ---- kinds and constructors ----------------------------------------------------------- */

static void loss_destroy(cnnc_module *m) { cnnc__free(CNNC__STATE(m, loss_state)->reduction); }

#define LOSS_TYPE(Name, fields_, kind)                                                      \
    {.name = Name, .state_size = sizeof(loss_state), .fields = fields_,                    \
     .n_fields = CNNC__NFIELDS(fields_), .forward_n = kind##_forward_n, .destroy = loss_destroy}
static const cnnc__module_type ce_type = LOSS_TYPE("CrossEntropyLoss", ce_fields, ce);
static const cnnc__module_type nll_type = LOSS_TYPE("NLLLoss", nll_fields, nll);
static const cnnc__module_type mse_type = LOSS_TYPE("MSELoss", plain_fields, mse);
static const cnnc__module_type l1_type = LOSS_TYPE("L1Loss", plain_fields, l1);
static const cnnc__module_type smooth_l1_type = LOSS_TYPE("SmoothL1Loss", smooth_l1_fields, smooth_l1);
static const cnnc__module_type huber_type = LOSS_TYPE("HuberLoss", huber_fields, huber);
static const cnnc__module_type bce_type = LOSS_TYPE("BCELoss", plain_fields, bce);
static const cnnc__module_type bce_logits_type = LOSS_TYPE("BCEWithLogitsLoss", plain_fields, bce_logits);
static const cnnc__module_type kl_type = LOSS_TYPE("KLDivLoss", kl_fields, kl);

/* A module of type with state s (its reduction copied) and the buffers
 * names[i] = tensors[i] (retained; NULL registers None). */
static cnnc_module *loss_new(const cnnc__module_type *type, const char *reduction, loss_state s,
                             int n, const char *const *names, cnnc_tensor *const *tensors) {
    cnnc_module *m = cnnc__module_new(type);
    if (!m) return NULL;
    s.reduction = NULL;
    *CNNC__STATE(m, loss_state) = s;
    if (reduction && !(CNNC__STATE(m, loss_state)->reduction = cnnc__strdup(reduction))) {
        cnnc__oom("a loss module's reduction");
        cnnc_module_release(m);
        return NULL;
    }
    for (int i = 0; i < n; i++)
        if (cnnc__module_add_buffer(m, names[i], cnnc_tensor_retain(tensors[i]), true) != CNNC_OK) {
            cnnc_module_release(m);
            return NULL;
        }
    return m;
}

static const char *const WEIGHT[] = {"weight"};

cnnc_module *cnnc_crossentropyloss_new(cnnc_cross_entropy_options o) {
    return loss_new(&ce_type, o.reduction,
                    (loss_state){.ignore_index = o.ignore_index, .label_smoothing = o.label_smoothing},
                    1, WEIGHT, &o.weight);
}
cnnc_module *cnnc_nllloss_new(cnnc_nll_loss_options o) {
    return loss_new(&nll_type, o.reduction, (loss_state){.ignore_index = o.ignore_index}, 1, WEIGHT,
                    &o.weight);
}
cnnc_module *cnnc_mseloss_new(cnnc_mse_loss_options o) {
    return loss_new(&mse_type, o.reduction, (loss_state){0}, 0, NULL, NULL);
}
cnnc_module *cnnc_l1loss_new(cnnc_l1_loss_options o) {
    return loss_new(&l1_type, o.reduction, (loss_state){0}, 0, NULL, NULL);
}
cnnc_module *cnnc_smoothl1loss_new(cnnc_smooth_l1_loss_options o) {
    return loss_new(&smooth_l1_type, o.reduction, (loss_state){.beta = o.beta}, 0, NULL, NULL);
}
cnnc_module *cnnc_huberloss_new(cnnc_huber_loss_options o) {
    return loss_new(&huber_type, o.reduction, (loss_state){.delta = o.delta}, 0, NULL, NULL);
}
cnnc_module *cnnc_bceloss_new(cnnc_binary_cross_entropy_options o) {
    return loss_new(&bce_type, o.reduction, (loss_state){0}, 1, WEIGHT, &o.weight);
}
cnnc_module *cnnc_bcewithlogitsloss_new(cnnc_binary_cross_entropy_with_logits_options o) {
    static const char *const names[] = {"weight", "pos_weight"};
    cnnc_tensor *const tensors[] = {o.weight, o.pos_weight};
    return loss_new(&bce_logits_type, o.reduction, (loss_state){0}, 2, names, tensors);
}
cnnc_module *cnnc_kldivloss_new(cnnc_kl_div_options o) {
    return loss_new(&kl_type, o.reduction, (loss_state){.log_target = o.log_target}, 0, NULL, NULL);
}
