/* `cnnc train`: trains a built-in architecture (or a model file) on the synthetic
 * shapes, MNIST-style IDX files or CIFAR-10, evaluating on the test split after each
 * epoch, with a progress bar, a CSV log, an SVG plot and checkpoints to resume from.
 * Resuming (--resume FILE, with the options of the first run) continues bit for bit:
 * the checkpoint holds the model, optimizer, scheduler and random generator, and the
 * loader's order depends only on (seed, epoch), so the run skips the batches it had
 * done and goes on exactly as if it had never stopped. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train_args.h"
#include "train_dist.h"
#include "train_setup.h"

const char cmd_train_args[] = "[OPTIONS]";
const char cmd_train_details[] =
    "Model:     --arch lenet|cnn-small|resnet-small (default lenet), or --model FILE\n"
    "           (a cnnc model file); --weights FILE starts from saved weights\n"
    "Data:      --data synthetic|mnist:DIR|fashion-mnist:DIR|cifar10:DIR (default synthetic);\n"
    "           synthetic: --train-size N (10000) --test-size N (2000) --image-size N (28)\n"
    "           --channels 1|3; --augment: random crop (and flip for CIFAR)\n"
    "Training:  --epochs N (5) --batch-size N (64) --threads N --seed N (0) --max-steps N\n"
    "Optimizer: --optimizer sgd|adam|adamw|rmsprop|adagrad (sgd) --lr X --momentum X\n"
    "           --dampening X --nesterov --weight-decay X --beta1 X --beta2 X --eps X\n"
    "           --amsgrad --alpha X --centered --lr-decay X (PyTorch's defaults, except\n"
    "           lr: sgd 0.01 with momentum 0.9, adam/adamw 1e-3, rmsprop/adagrad 1e-2)\n"
    "Schedule:  --schedule none|step|multistep|exponential|cosine|linear|onecycle\n"
    "           --step-size EPOCHS --milestones E1,E2 --gamma X --min-lr X (cosine)\n"
    "           --start-factor X (linear) --max-lr X --pct-start X (onecycle, per batch;\n"
    "           the others step per epoch)\n"
    "Output:    --log FILE.csv (one row per epoch, appended) --plot FILE.svg (loss and\n"
    "           accuracy curves from the log) --checkpoint FILE (written after every\n"
    "           epoch and at --max-steps) --resume FILE (continue a run: give the same\n"
    "           options as the first run)\n"
    "The progress bar redraws one line on a terminal and prints plain lines otherwise.\n"
    "Under `mpirun -np N` (a cnnc built with MPI) the N processes train data-parallel:\n"
    "each its shard of every epoch, --batch-size the global batch, gradients averaged\n"
    "(DistributedDataParallel); process 0 alone prints, logs and writes checkpoints,\n"
    "which resume on any number of processes.\n";

typedef struct run {
    train_args a;
    train_data data;
    cnnc_module *model;
    cnnc_tensor_list *params;
    cnnc_optimizer *opt;
    cnnc_lr_scheduler *sched;
    bool per_batch;
    cnnc_dataloader *loader;
    int64_t epoch, skip, step; /* where the run is: epoch, batches done in it, steps */
    train_dist dist;           /* under mpirun: this rank, its DDP wrapper and shard */
    char err[1024];
} run;

static void run_free(run *r)
{
    train_dist_end(&r->dist);
    cnnc_dataloader_free(r->loader);
    cnnc_lr_scheduler_release(r->sched);
    cnnc_optimizer_release(r->opt);
    cnnc_tensor_list_free(r->params);
    cnnc_module_release(r->model);
    train_data_free(&r->data);
}

static int fail(run *r, const char *what)
{
    fprintf(stderr, "cnnc train: %s%s%s\n", what ? what : "", what && *r->err ? ": " : "",
            r->err);
    run_free(r);
    return 1;
}

/* ---- checkpoints ------------------------------------------------------------------ */

/* The options a resumed run must share with the first one, as metadata. */
static const char *const SAME_KEYS[] = {"arch", "optimizer", "schedule", "batch_size", "seed",
                                        "epochs", "data"};

static void same_values(const run *r, char vals[][128])
{
    snprintf(vals[0], 128, "%s", r->a.model_path ? r->a.model_path : r->a.arch);
    snprintf(vals[1], 128, "%s", r->a.optimizer);
    snprintf(vals[2], 128, "%s", r->a.schedule);
    snprintf(vals[3], 128, "%" PRId64, r->a.batch_size);
    snprintf(vals[4], 128, "%" PRId64, r->a.seed);
    snprintf(vals[5], 128, "%" PRId64, r->a.epochs);
    snprintf(vals[6], 128, "%s", r->a.data.spec);
}

static bool save_checkpoint(run *r)
{
    cnnc_tensor_list *ck = cnnc_checkpoint_state(r->model, r->opt, r->sched);
    if (!ck) {
        snprintf(r->err, sizeof r->err, "%s", cnnc_last_error());
        return false;
    }
    char vals[7][128], key[64], num[32];
    same_values(r, vals);
    bool ok = true;
    for (size_t i = 0; i < 7 && ok; i++) {
        snprintf(key, sizeof key, "train.%s", SAME_KEYS[i]);
        ok = cnnc_tensor_list_set_meta(ck, key, vals[i]) == CNNC_OK;
    }
    const int64_t counters[3] = {r->epoch, r->skip, r->step};
    const char *names[3] = {"train.epoch", "train.batch", "train.step"};
    for (int i = 0; i < 3 && ok; i++) {
        snprintf(num, sizeof num, "%" PRId64, counters[i]);
        ok = cnnc_tensor_list_set_meta(ck, names[i], num) == CNNC_OK;
    }
    if (!ok)
        snprintf(r->err, sizeof r->err, "%s", cnnc_last_error());
    ok = ok && train_file_save(r->a.checkpoint_path, ck, r->err, sizeof r->err);
    cnnc_tensor_list_free(ck);
    return ok;
}

static bool read_counter(run *r, const cnnc_tensor_list *ck, const char *key, int64_t *out)
{
    const char *v = cnnc_tensor_list_meta(ck, key);
    char *end = NULL;
    long long x = v ? strtoll(v, &end, 10) : -1;
    if (!v || *end || x < 0) {
        snprintf(r->err, sizeof r->err, "%s: metadata '%s' is %s", r->a.resume_path, key,
                 v ? "not a count" : "missing");
        return false;
    }
    *out = x;
    return true;
}

static bool resume(run *r)
{
    cnnc_tensor_list *ck = train_file_load(r->a.resume_path, r->err, sizeof r->err);
    if (!ck)
        return false;
    char vals[7][128], key[64];
    same_values(r, vals);
    bool ok = true;
    for (size_t i = 0; i < 7 && ok; i++) {
        snprintf(key, sizeof key, "train.%s", SAME_KEYS[i]);
        const char *saved = cnnc_tensor_list_meta(ck, key);
        if (!saved || strcmp(saved, vals[i]) != 0) {
            snprintf(r->err, sizeof r->err, "%s was saved with %s '%s', this run has '%s' "
                     "(resume with the first run's options)", r->a.resume_path, SAME_KEYS[i],
                     saved ? saved : "(none)", vals[i]);
            ok = false;
        }
    }
    ok = ok && read_counter(r, ck, "train.epoch", &r->epoch) &&
         read_counter(r, ck, "train.batch", &r->skip) && read_counter(r, ck, "train.step", &r->step);
    if (ok && cnnc_checkpoint_load_state(ck, r->model, r->opt, r->sched) != CNNC_OK) {
        snprintf(r->err, sizeof r->err, "%s: %s", r->a.resume_path, cnnc_last_error());
        ok = false;
    }
    if (ok && cnnc_dataloader_set_epoch(r->loader, r->epoch) != CNNC_OK) {
        snprintf(r->err, sizeof r->err, "%s", cnnc_last_error());
        ok = false;
    }
    cnnc_tensor_list_free(ck);
    return ok;
}

/* --weights FILE: a checkpoint's model part or a plain state_dict file. */
static bool load_weights(const char *path, cnnc_module *model, char *err, size_t cap)
{
    cnnc_tensor_list *sd = train_file_load(path, err, cap);
    if (!sd)
        return false;
    const char *format = cnnc_tensor_list_meta(sd, "format");
    bool ok = (format && !strcmp(format, "cnnc.checkpoint")
                   ? cnnc_checkpoint_load_state(sd, model, NULL, NULL)
                   : cnnc_module_load_state_dict(model, sd, true)) == CNNC_OK;
    if (!ok)
        snprintf(err, cap, "%s: %s", path, cnnc_last_error());
    cnnc_tensor_list_free(sd);
    return ok;
}

/* ---- setting up ------------------------------------------------------------------- */

static bool build_model(run *r)
{
    const train_data *d = &r->data;
    r->model = r->a.model_path ? train_model_load(r->a.model_path, r->err, sizeof r->err)
                               : train_model_new(r->a.arch, d->channels, d->image_size,
                                                 d->num_classes, r->err, sizeof r->err);
    if (!r->model)
        return false;
    if (r->a.weights_path && !load_weights(r->a.weights_path, r->model, r->err, sizeof r->err))
        return false;
    r->params = cnnc_module_named_parameters(r->model);
    if (!r->params)
        snprintf(r->err, sizeof r->err, "%s", cnnc_last_error());
    return r->params != NULL;
}

static int64_t count_parameters(const cnnc_tensor_list *params)
{
    int64_t n = 0;
    for (size_t i = 0; i < cnnc_tensor_list_size(params); i++)
        n += cnnc_tensor_numel(cnnc_tensor_list_get(params, i));
    return n;
}

static void print_header(const run *r)
{
    const train_data *d = &r->data;
    printf("cnnc train: %s (%" PRId64 " parameters) on %s: %" PRId64 " train / %" PRId64
           " test images of %" PRId64 "x%" PRId64 "x%" PRId64 ", %" PRId64 " classes\n",
           r->a.model_path ? r->a.model_path : r->a.arch, count_parameters(r->params),
           r->a.data.spec, cnnc_dataset_size(d->train), cnnc_dataset_size(d->test), d->channels,
           d->image_size, d->image_size, d->num_classes);
    double lr = 0;
    cnnc_optimizer_get_lr(r->opt, 0, &lr);
    printf("  %s lr %g, schedule %s, batch %" PRId64 ", %" PRId64 " epochs of %" PRId64
           " steps, %d threads, seed %" PRId64 "\n",
           cnnc_optimizer_type(r->opt), lr, r->a.schedule, r->a.batch_size, r->a.epochs,
           cnnc_dataloader_len(r->loader), cnnc_get_num_threads(), r->a.seed);
    if (r->dist.world > 1)
        printf("  data-parallel over %d processes (MPI): %" PRId64 " images per process per step\n",
               r->dist.world, r->a.batch_size / r->dist.world);
    if (r->a.resume_path)
        printf("  resumed from %s at epoch %" PRId64 ", batch %" PRId64 " (step %" PRId64 ")\n",
               r->a.resume_path, r->epoch + 1, r->skip, r->step);
    fflush(stdout);
}

static bool setup(run *r)
{
    if (r->a.threads > 0 && cnnc_set_num_threads((int)r->a.threads) != CNNC_OK) {
        snprintf(r->err, sizeof r->err, "%s", cnnc_last_error());
        return false;
    }
    if (!train_data_load(&r->a.data, true, true, &r->data, r->err, sizeof r->err))
        return false;
    cnnc_manual_seed((uint64_t)r->a.seed);
    if (!build_model(r))
        return false;
    r->opt = train_optimizer_new(&r->a, r->params, r->err, sizeof r->err);
    train_args la = r->a; /* under mpirun: each rank loads its share of the global batch */
    if (!train_dist_batch(&r->dist, r->a.batch_size, &la.batch_size, r->err, sizeof r->err))
        return false;
    r->loader = r->opt ? train_loader_new(&la, &r->data, r->dist.world > 1, r->err, sizeof r->err) : NULL;
    if (!r->loader)
        return false;
    r->sched = train_schedule_new(&r->a, r->opt, cnnc_dataloader_len(r->loader), &r->per_batch,
                                  r->err, sizeof r->err);
    if (!r->sched && *r->err)
        return false;
    if (r->a.resume_path && !resume(r))
        return false;
    return train_dist_wrap(&r->dist, r->model, r->err, sizeof r->err);
}

/* ---- the epochs -------------------------------------------------------------------- */

static bool end_of_epoch(run *r, const train_epoch_result *res, train_progress *p)
{
    double lr = 0, test_loss = NAN, test_acc = NAN;
    cnnc_optimizer_get_lr(r->opt, 0, &lr);
    if (r->sched && !r->per_batch && cnnc_lr_scheduler_step(r->sched) != CNNC_OK)
        return false;
    if (r->data.test && !train_evaluate(r->model, r->data.test, r->data.mean, r->data.std,
                                        r->a.eval_batch_size, &test_loss, &test_acc))
        return false;
    train_progress_end(p, res->loss, res->acc, res->images, r->data.test != NULL, test_loss,
                       test_acc);
    if (r->a.log_path && train_dist_main(&r->dist)) {
        train_epoch_row row = {r->epoch + 1, r->step, lr, res->loss, res->acc, test_loss,
                               test_acc, res->seconds > 0 ? res->images / res->seconds : 0,
                               res->seconds};
        if (!train_log_append(r->a.log_path, &row, r->err, sizeof r->err))
            return false;
    }
    return true;
}

/* Checkpoints are rank 0's to write; the others wait for the file. */
static bool checkpoint(run *r)
{
    bool ok = !train_dist_main(&r->dist) || save_checkpoint(r);
    train_dist_barrier(&r->dist);
    return ok;
}

/* The epoch's loss and accuracy over every rank's images. */
static bool sum_over_ranks(const run *r, train_epoch_result *res)
{
    double v[3] = {res->loss * (double)res->images, res->acc * (double)res->images, (double)res->images};
    if (r->dist.world < 2)
        return true;
    if (!train_dist_sum(&r->dist, v, 3))
        return false;
    res->images = (int64_t)v[2];
    res->loss = v[2] > 0 ? v[0] / v[2] : NAN;
    res->acc = v[2] > 0 ? v[1] / v[2] : NAN;
    return true;
}

static bool train_epochs(run *r)
{
    for (; r->epoch < r->a.epochs; r->epoch++, r->skip = 0) {
        if (!train_dist_epoch(&r->dist, r->loader, cnnc_dataset_size(r->data.train),
                              (uint64_t)r->a.seed, r->epoch, r->err, sizeof r->err))
            return false;
        train_progress p;
        train_progress_begin(&p, train_dist_out(&r->dist), r->epoch + 1, r->a.epochs,
                             cnnc_dataloader_len(r->loader));
        train_epoch_result res;
        if (!train_one_epoch(r->dist.ddp ? r->dist.ddp : r->model, r->loader, r->opt,
                             r->per_batch ? r->sched : NULL, &p, r->skip, r->a.max_steps, &r->step,
                             &res) ||
            !sum_over_ranks(r, &res))
            return false;
        if (res.stopped) { /* --max-steps: keep the place in the epoch */
            r->skip = res.batches;
            if (p.tty)
                fprintf(p.out, "\n");
            fprintf(p.out, "  stopped at step %" PRId64 " (--max-steps)\n", r->step);
            return !r->a.checkpoint_path || checkpoint(r);
        }
        if (!end_of_epoch(r, &res, &p))
            return false;
        if (r->a.checkpoint_path) {
            r->epoch++, r->skip = 0; /* the checkpoint starts the next epoch */
            bool ok = checkpoint(r);
            r->epoch--;
            if (!ok)
                return false;
        }
    }
    return true;
}

int cmd_train(int argc, char **argv)
{
    run r = {0};
    train_args_defaults(&r.a);
    if (!train_args_parse(&r.a, argc, argv, false))
        return 2;
    if (r.a.help) {
        printf("usage: cnnc train %s\n\n%s", cmd_train_args, cmd_train_details);
        return 0;
    }
    if (r.a.plot_path && !r.a.log_path) {
        fprintf(stderr, "cnnc train: --plot draws the curves of --log: give --log FILE.csv too\n");
        return 2;
    }
    if (!train_dist_start(&r.dist, r.err, sizeof r.err) || !setup(&r))
        return fail(&r, NULL);
    bool main_rank = train_dist_main(&r.dist);
    if (main_rank)
        print_header(&r);
    double start = train_now();
    if (!train_epochs(&r))
        return fail(&r, *r.err ? NULL : cnnc_last_error());
    if (main_rank)
        printf("  %" PRId64 " steps in %.1f s%s\n", r.step, train_now() - start, "");
    if (main_rank && r.a.plot_path && !train_plot_write(r.a.log_path, r.a.plot_path, r.err, sizeof r.err))
        return fail(&r, NULL);
    run_free(&r);
    return 0;
}
