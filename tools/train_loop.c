/* The training and evaluation loops of `cnnc train`, `cnnc eval` and the demo: as a
 * PyTorch user writes them. Each batch runs in its own scope, so its tensors (the
 * batch, the activations, the loss) are released together and the loader reuses
 * its buffers. */
#include <math.h>
#include <stdio.h>

#include "train.h"

/* Correct predictions of logits [B, K] against labels [B]. */
static int64_t count_correct(cnnc_tensor *logits, cnnc_tensor *labels)
{
    const float *z = cnnc_tensor_data_f32(logits);
    const int64_t *y = cnnc_tensor_data_i64(labels);
    if (!z || !y || cnnc_tensor_ndim(logits) != 2)
        return 0;
    int64_t b = cnnc_tensor_size(logits, 0), k = cnnc_tensor_size(logits, 1), correct = 0;
    for (int64_t i = 0; i < b; i++) {
        int64_t best = 0;
        for (int64_t j = 1; j < k; j++)
            if (z[i * k + j] > z[i * k + best])
                best = j;
        correct += best == y[i];
    }
    return correct;
}

/* One training step on (x, y): the loss into *value; false with the error set. */
static bool train_step(cnnc_module *model, cnnc_optimizer *opt, cnnc_tensor *x, cnnc_tensor *y,
                       double *value, int64_t *correct)
{
    cnnc_tensor *logits = cnnc_module_forward(model, x);
    cnnc_tensor *loss = logits ? cnnc_cross_entropy(logits, y, CNNC_CROSS_ENTROPY()) : NULL;
    if (!loss || cnnc_optimizer_zero_grad(opt, false) != CNNC_OK ||
        cnnc_backward(loss, NULL, false) != CNNC_OK || cnnc_optimizer_step(opt) != CNNC_OK ||
        cnnc_tensor_item(loss, value) != CNNC_OK)
        return false;
    *correct += count_correct(logits, y);
    return true;
}

bool train_one_epoch(cnnc_module *model, cnnc_dataloader *loader, cnnc_optimizer *opt,
                     cnnc_lr_scheduler *batch_sched, train_progress *progress, int64_t skip,
                     int64_t max_steps, int64_t *step, train_epoch_result *res)
{
    *res = (train_epoch_result){0};
    cnnc_module_train(model, true);
    double loss_sum = 0, start = train_now();
    int64_t correct = 0, seen = 0, done = 0;
    bool ok = true;
    for (;;) {
        if (max_steps > 0 && *step >= max_steps) {
            res->stopped = true;
            break;
        }
        if (cnnc_scope_begin() != CNNC_OK)
            return false;
        cnnc_tensor *x = NULL, *y = NULL;
        ok = cnnc_dataloader_next(loader, &x, &y) == CNNC_OK;
        bool end = ok && !x;
        if (ok && !end && done < skip) { /* resumed mid-epoch: these batches were done */
            done++;
            cnnc_scope_end();
            continue;
        }
        double loss = 0;
        if (ok && !end)
            ok = train_step(model, opt, x, y, &loss, &correct);
        if (ok && !end && batch_sched)
            ok = cnnc_lr_scheduler_step(batch_sched) == CNNC_OK;
        int64_t b = ok && !end ? cnnc_tensor_size(x, 0) : 0;
        cnnc_scope_end();
        if (!ok || end)
            break;
        ++*step;
        done++;
        seen += b;
        loss_sum += loss * (double)b;
        if (progress)
            train_progress_update(progress, done, loss_sum / (double)seen,
                                  (double)correct / (double)seen, seen);
    }
    res->loss = seen ? loss_sum / (double)seen : NAN;
    res->acc = seen ? (double)correct / (double)seen : NAN;
    res->images = seen;
    res->batches = done;
    res->seconds = train_now() - start;
    return ok;
}

bool train_evaluate(cnnc_module *model, cnnc_dataset *ds, const double *mean,
                    const double *std, int64_t batch_size, double *loss, double *acc)
{
    int64_t channels = cnnc_tensor_size(cnnc_dataset_images(ds), 1);
    cnnc_dataloader_options o = CNNC_DATALOADER(.batch_size = batch_size);
    o.mean.n = o.std.n = (int)channels;
    for (int c = 0; c < (int)channels && c < CNNC_MAX_DIMS; c++)
        o.mean.v[c] = mean[c], o.std.v[c] = std[c];
    cnnc_dataloader *dl = cnnc_dataloader_new(ds, o);
    if (!dl)
        return false;
    bool was_training = cnnc_module_is_training(model);
    cnnc_module_eval(model);
    bool grad = cnnc_set_grad_enabled(false), ok = true;
    double loss_sum = 0;
    int64_t correct = 0, seen = 0;
    while (ok) {
        ok = cnnc_scope_begin() == CNNC_OK;
        cnnc_tensor *x = NULL, *y = NULL;
        ok = ok && cnnc_dataloader_next(dl, &x, &y) == CNNC_OK;
        bool end = ok && !x;
        cnnc_tensor *logits = ok && !end ? cnnc_module_forward(model, x) : NULL;
        cnnc_tensor *l = logits ? cnnc_cross_entropy(logits, y, CNNC_CROSS_ENTROPY(
                                                                    .reduction = "sum"))
                                : NULL;
        double v = 0;
        if (ok && !end) {
            ok = l && cnnc_tensor_item(l, &v) == CNNC_OK;
            loss_sum += v;
            correct += ok ? count_correct(logits, y) : 0;
            seen += cnnc_tensor_size(x, 0);
        }
        cnnc_scope_end();
        if (end)
            break;
    }
    cnnc_set_grad_enabled(grad);
    cnnc_module_train(model, was_training);
    cnnc_dataloader_free(dl);
    *loss = seen ? loss_sum / (double)seen : NAN;
    *acc = seen ? (double)correct / (double)seen : NAN;
    return ok;
}
