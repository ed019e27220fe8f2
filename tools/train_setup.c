/* The pieces `cnnc train` builds from its options: the optimizer, the learning-rate
 * schedule and the training data loader. Defaults are PyTorch's, except the learning
 * rate (PyTorch's SGD has none) and SGD's momentum (0.9): a bare `cnnc train` trains. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train_args.h"
#include "train_setup.h"

#define OR(x, d) (isnan(x) ? (d) : (x))

cnnc_optimizer *train_optimizer_new(const train_args *a, const cnnc_tensor_list *params,
                                    char *err, size_t cap)
{
    cnnc_params p = CNNC_PARAM_LIST(params);
    cnnc_optimizer *opt = NULL;
    const char *o = a->optimizer;
    if (!strcmp(o, "sgd"))
        opt = cnnc_sgd_new(p, CNNC_SGD(.lr = OR(a->lr, 0.01), .momentum = OR(a->momentum, 0.9),
                                       .dampening = OR(a->dampening, 0.0),
                                       .weight_decay = OR(a->weight_decay, 0.0),
                                       .nesterov = a->nesterov));
    else if (!strcmp(o, "adam") || !strcmp(o, "adamw")) {
        bool w = o[4] == 'w';
        cnnc_adam_options ao = CNNC_ADAM(.lr = OR(a->lr, 1e-3), .eps = OR(a->eps, 1e-8),
                                         .weight_decay = OR(a->weight_decay, w ? 1e-2 : 0.0),
                                         .amsgrad = a->amsgrad);
        ao.betas[0] = OR(a->beta1, 0.9);
        ao.betas[1] = OR(a->beta2, 0.999);
        opt = w ? cnnc_adamw_new(p, ao) : cnnc_adam_new(p, ao);
    } else if (!strcmp(o, "rmsprop"))
        opt = cnnc_rmsprop_new(p, CNNC_RMSPROP(.lr = OR(a->lr, 1e-2), .alpha = OR(a->alpha, 0.99),
                                               .eps = OR(a->eps, 1e-8),
                                               .weight_decay = OR(a->weight_decay, 0.0),
                                               .momentum = OR(a->momentum, 0.0),
                                               .centered = a->centered));
    else if (!strcmp(o, "adagrad"))
        opt = cnnc_adagrad_new(p, CNNC_ADAGRAD(.lr = OR(a->lr, 1e-2),
                                               .lr_decay = OR(a->lr_decay, 0.0),
                                               .weight_decay = OR(a->weight_decay, 0.0),
                                               .eps = OR(a->eps, 1e-10)));
    else {
        snprintf(err, cap, "unknown --optimizer '%s' (sgd, adam, adamw, rmsprop or adagrad)", o);
        return NULL;
    }
    if (!opt)
        snprintf(err, cap, "--optimizer %s: %s", o, cnnc_last_error());
    return opt;
}

/* "3,6,8" -> milestones; false on a malformed list. */
static bool parse_milestones(const char *text, int64_t *out, size_t *n, size_t cap)
{
    *n = 0;
    for (const char *p = text; p && *p;) {
        char *end;
        long long v = strtoll(p, &end, 10);
        if (end == p || (*end && *end != ',') || *n == cap)
            return false;
        out[(*n)++] = v;
        p = *end ? end + 1 : end;
    }
    return *n > 0;
}

cnnc_lr_scheduler *train_schedule_new(const train_args *a, cnnc_optimizer *opt,
                                      int64_t steps_per_epoch, bool *per_batch, char *err,
                                      size_t cap)
{
    const char *s = a->schedule;
    cnnc_lr_scheduler *sched = NULL;
    *per_batch = false;
    *err = 0;
    if (!strcmp(s, "none"))
        return NULL;
    if (!strcmp(s, "step")) {
        int64_t size = a->step_size ? a->step_size : (a->epochs >= 3 ? a->epochs / 3 : 1);
        sched = cnnc_steplr_new(opt, size, CNNC_STEPLR(.gamma = OR(a->gamma, 0.1)));
    } else if (!strcmp(s, "multistep")) {
        int64_t ms[64];
        size_t n = 0;
        if (!a->milestones || !parse_milestones(a->milestones, ms, &n, 64)) {
            snprintf(err, cap, "--schedule multistep needs --milestones E1,E2,... (epochs)");
            return NULL;
        }
        sched = cnnc_multisteplr_new(opt, n, ms, CNNC_MULTISTEPLR(.gamma = OR(a->gamma, 0.1)));
    } else if (!strcmp(s, "exponential"))
        sched = cnnc_exponentiallr_new(opt, OR(a->gamma, 0.9), CNNC_EXPONENTIALLR());
    else if (!strcmp(s, "cosine"))
        sched = cnnc_cosineannealinglr_new(opt, a->epochs > 0 ? a->epochs : 1,
                                           CNNC_COSINEANNEALINGLR(.eta_min = a->min_lr));
    else if (!strcmp(s, "linear"))
        sched = cnnc_linearlr_new(opt, CNNC_LINEARLR(.start_factor = OR(a->start_factor, 1.0 / 3),
                                                     .total_iters = a->epochs));
    else if (!strcmp(s, "onecycle")) {
        double lr = 0;
        cnnc_optimizer_get_lr(opt, 0, &lr);
        *per_batch = true;
        cnnc_onecyclelr_options oo = CNNC_ONECYCLELR(.pct_start = a->pct_start);
        oo.total_steps = (cnnc_optional_int)CNNC_SOME(a->epochs * steps_per_epoch);
        oo.cycle_momentum = strcmp(a->optimizer, "adagrad") != 0;
        sched = cnnc_onecyclelr_new(opt, CNNC_ALL_GROUPS(OR(a->max_lr, lr)), oo);
    } else {
        snprintf(err, cap, "unknown --schedule '%s' (none, step, multistep, exponential, cosine, "
                           "linear or onecycle)", s);
        return NULL;
    }
    if (!sched)
        snprintf(err, cap, "--schedule %s: %s", s, cnnc_last_error());
    return sched;
}

cnnc_dataloader *train_loader_new(const train_args *a, const train_data *d, bool sharded, char *err,
                                  size_t cap)
{
    cnnc_dataloader_options o = CNNC_DATALOADER(.batch_size = a->batch_size, .shuffle = !sharded,
                                                .seed = (uint64_t)a->seed);
    o.mean.n = o.std.n = (int)d->channels;
    for (int c = 0; c < (int)d->channels; c++)
        o.mean.v[c] = d->mean[c], o.std.v[c] = d->std[c];
    if (a->augment) { /* CIFAR's usual: RandomCrop(size, padding=size/8), flip */
        o.crop_size = (cnnc_ints)CNNC_INTS(d->image_size);
        o.crop_padding = (cnnc_ints)CNNC_INTS(d->image_size / 8 > 0 ? d->image_size / 8 : 1);
        o.horizontal_flip_p = d->augment_ok ? 0.5 : 0.0; /* digits and shapes: no flip */
    }
    cnnc_dataloader *dl = cnnc_dataloader_new(d->train, o);
    if (!dl)
        snprintf(err, cap, "data loader: %s", cnnc_last_error());
    return dl;
}
