/* `cnnc eval`: the loss, accuracy and per-class accuracy of a trained model on the
 * test split, normalised with the training split's statistics as `cnnc train` does. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "train_args.h"

const char cmd_eval_args[] = "--checkpoint FILE [OPTIONS]";
const char cmd_eval_details[] =
    "Evaluates a model on the test split of --data (as in 'cnnc train'): mean\n"
    "cross-entropy, accuracy, and the accuracy of each class.\n"
    "Model:   --arch NAME (default lenet) with --checkpoint FILE (a 'cnnc train'\n"
    "         checkpoint) or --weights FILE (a state_dict file) instead of --checkpoint,\n"
    "         or --model FILE (a cnnc model file)\n"
    "Data:    --data SPEC --train-size N --test-size N --image-size N --channels N\n"
    "Other:   --batch-size N (default 500) --threads N\n";

/* Accuracy per class: correct[k] / total[k] over the test split. */
static bool per_class(cnnc_module *model, const train_data *d, int64_t batch, int64_t *correct,
                      int64_t *total)
{
    cnnc_dataloader_options o = CNNC_DATALOADER(.batch_size = batch);
    o.mean.n = o.std.n = (int)d->channels;
    for (int c = 0; c < (int)d->channels; c++)
        o.mean.v[c] = d->mean[c], o.std.v[c] = d->std[c];
    cnnc_dataloader *dl = cnnc_dataloader_new(d->test, o);
    if (!dl)
        return false;
    cnnc_module_eval(model);
    bool grad = cnnc_set_grad_enabled(false), ok = true;
    for (;;) {
        cnnc_scope_begin();
        cnnc_tensor *x = NULL, *y = NULL;
        ok = cnnc_dataloader_next(dl, &x, &y) == CNNC_OK;
        cnnc_tensor *z = ok && x ? cnnc_module_forward(model, x) : NULL;
        const float *zd = z ? cnnc_tensor_data_f32(z) : NULL;
        const int64_t *yd = z ? cnnc_tensor_data_i64(y) : NULL;
        if (zd && yd && cnnc_tensor_ndim(z) == 2) {
            int64_t b = cnnc_tensor_size(z, 0), k = cnnc_tensor_size(z, 1);
            for (int64_t i = 0; i < b; i++) {
                int64_t best = 0;
                for (int64_t j = 1; j < k; j++)
                    best = zd[i * k + j] > zd[i * k + best] ? j : best;
                if (yd[i] >= 0 && yd[i] < d->num_classes) {
                    total[yd[i]]++;
                    correct[yd[i]] += best == yd[i];
                }
            }
        } else if (ok && x)
            ok = false;
        bool end = ok && !x;
        cnnc_scope_end();
        if (!ok || end)
            break;
    }
    cnnc_set_grad_enabled(grad);
    cnnc_dataloader_free(dl);
    return ok;
}

static int eval_fail(const char *msg, cnnc_module *m, train_data *d)
{
    fprintf(stderr, "cnnc eval: %s\n", msg);
    cnnc_module_release(m);
    train_data_free(d);
    return 1;
}

int cmd_eval(int argc, char **argv)
{
    train_args a;
    train_args_defaults(&a);
    a.batch_size = 500;
    if (!train_args_parse(&a, argc, argv, true))
        return 2;
    if (a.help) {
        printf("usage: cnnc eval %s\n\n%s", cmd_eval_args, cmd_eval_details);
        return 0;
    }
    if (!a.checkpoint_path && !a.weights_path && !a.model_path) {
        fprintf(stderr, "cnnc eval: give the trained model: --checkpoint FILE, --weights FILE "
                        "or --model FILE\n");
        return 2;
    }
    char err[1024] = "";
    train_data d;
    if (a.threads > 0 && cnnc_set_num_threads((int)a.threads) != CNNC_OK)
        return eval_fail(cnnc_last_error(), NULL, NULL);
    if (!train_data_load(&a.data, false, true, &d, err, sizeof err))
        return eval_fail(err, NULL, NULL);
    cnnc_module *m = a.model_path ? train_model_load(a.model_path, err, sizeof err)
                                  : train_model_new(a.arch, d.channels, d.image_size,
                                                    d.num_classes, err, sizeof err);
    if (!m)
        return eval_fail(err, NULL, &d);
    const char *w = a.checkpoint_path ? a.checkpoint_path : a.weights_path;
    cnnc_tensor_list *sd = w ? train_file_load(w, err, sizeof err) : NULL;
    if (w && !sd)
        return eval_fail(err, m, &d);
    const char *format = sd ? cnnc_tensor_list_meta(sd, "format") : NULL;
    cnnc_status st = !sd ? CNNC_OK
                     : format && !strcmp(format, "cnnc.checkpoint")
                         ? cnnc_checkpoint_load_state(sd, m, NULL, NULL)
                         : cnnc_module_load_state_dict(m, sd, true);
    cnnc_tensor_list_free(sd);
    if (st != CNNC_OK)
        return eval_fail(cnnc_last_error(), m, &d);
    double loss, acc;
    int64_t correct[256] = {0}, total[256] = {0};
    if (d.num_classes > 256)
        return eval_fail("more than 256 classes", m, &d);
    if (!train_evaluate(m, d.test, d.mean, d.std, a.batch_size, &loss, &acc) ||
        !per_class(m, &d, a.batch_size, correct, total))
        return eval_fail(cnnc_last_error(), m, &d);
    printf("cnnc eval: %" PRId64 " test images of %s: loss %.4f, accuracy %.2f%%\n",
           cnnc_dataset_size(d.test), a.data.spec, loss, 100 * acc);
    for (int64_t k = 0; k < d.num_classes; k++)
        printf("  %-12s %6.2f%% of %" PRId64 "\n", cnnc_dataset_class_name(d.test, k),
               total[k] ? 100.0 * (double)correct[k] / (double)total[k] : 0.0, total[k]);
    cnnc_module_release(m);
    train_data_free(&d);
    return 0;
}
