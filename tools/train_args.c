/* Option parsing for `cnnc train` / `cnnc eval`: a table of options, each a name, a
 * kind and where the value goes. Numbers are checked whole ("--epochs 3x" is an
 * error) and for range where a range is obvious. */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train_args.h"

typedef enum opt_kind { OPT_STR, OPT_INT, OPT_NUM, OPT_FLAG } opt_kind;

typedef struct opt {
    const char *name;
    opt_kind kind;
    size_t offset;
    bool eval; /* also an option of `cnnc eval` */
} opt;

#define O(name, kind, field, eval) {name, kind, offsetof(train_args, field), eval}
static const opt OPTS[] = {
    O("arch", OPT_STR, arch, true),
    O("model", OPT_STR, model_path, true),
    O("data", OPT_STR, data.spec, true),
    O("train-size", OPT_INT, data.train_size, true),
    O("test-size", OPT_INT, data.test_size, true),
    O("image-size", OPT_INT, data.image_size, true),
    O("channels", OPT_INT, data.channels, true),
    O("epochs", OPT_INT, epochs, false),
    O("batch-size", OPT_INT, batch_size, true),
    O("eval-batch-size", OPT_INT, eval_batch_size, false),
    O("max-steps", OPT_INT, max_steps, false),
    O("threads", OPT_INT, threads, true),
    O("seed", OPT_INT, seed, false),
    O("optimizer", OPT_STR, optimizer, false),
    O("lr", OPT_NUM, lr, false),
    O("momentum", OPT_NUM, momentum, false),
    O("dampening", OPT_NUM, dampening, false),
    O("weight-decay", OPT_NUM, weight_decay, false),
    O("eps", OPT_NUM, eps, false),
    O("beta1", OPT_NUM, beta1, false),
    O("beta2", OPT_NUM, beta2, false),
    O("alpha", OPT_NUM, alpha, false),
    O("lr-decay", OPT_NUM, lr_decay, false),
    O("nesterov", OPT_FLAG, nesterov, false),
    O("amsgrad", OPT_FLAG, amsgrad, false),
    O("centered", OPT_FLAG, centered, false),
    O("schedule", OPT_STR, schedule, false),
    O("milestones", OPT_STR, milestones, false),
    O("step-size", OPT_INT, step_size, false),
    O("gamma", OPT_NUM, gamma, false),
    O("min-lr", OPT_NUM, min_lr, false),
    O("max-lr", OPT_NUM, max_lr, false),
    O("pct-start", OPT_NUM, pct_start, false),
    O("start-factor", OPT_NUM, start_factor, false),
    O("augment", OPT_FLAG, augment, false),
    O("log", OPT_STR, log_path, false),
    O("plot", OPT_STR, plot_path, false),
    O("checkpoint", OPT_STR, checkpoint_path, true),
    O("resume", OPT_STR, resume_path, false),
    O("weights", OPT_STR, weights_path, true),
};
#undef O

void train_args_defaults(train_args *a)
{
    *a = (train_args){
        .arch = "lenet",
        .data = {.spec = "synthetic", .train_size = 10000, .test_size = 2000, .image_size = 28,
                 .channels = 1, .seed = 0},
        .epochs = 5, .batch_size = 64, .eval_batch_size = 500, .threads = 0, .seed = 0,
        .optimizer = "sgd", .lr = NAN, .momentum = NAN, .dampening = NAN,
        .weight_decay = NAN, .eps = NAN, .beta1 = NAN, .beta2 = NAN, .alpha = NAN,
        .lr_decay = NAN,
        .schedule = "none", .step_size = 0, .gamma = NAN, .min_lr = 0, .max_lr = NAN,
        .pct_start = 0.3, .start_factor = NAN,
    };
}

static bool parse_value(const opt *o, const char *text, train_args *a, const char *cmd)
{
    char *p = (char *)a + o->offset, *end = NULL;
    errno = 0;
    if (o->kind == OPT_STR) {
        *(const char **)p = text;
        return true;
    }
    if (o->kind == OPT_INT) {
        long long v = strtoll(text, &end, 10);
        if (end != text && !*end && errno == 0 && v >= 0) {
            *(int64_t *)p = v;
            return true;
        }
        fprintf(stderr, "cnnc %s: --%s expects a non-negative integer, got '%s'\n", cmd,
                o->name, text);
        return false;
    }
    double v = strtod(text, &end);
    if (end != text && !*end && errno == 0 && isfinite(v)) {
        *(double *)p = v;
        return true;
    }
    fprintf(stderr, "cnnc %s: --%s expects a number, got '%s'\n", cmd, o->name, text);
    return false;
}

bool train_args_parse(train_args *a, int argc, char **argv, bool eval)
{
    const char *cmd = eval ? "eval" : "train";
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            a->help = true;
            return true;
        }
        if (strncmp(arg, "--", 2) != 0) {
            fprintf(stderr, "cnnc %s: unexpected argument '%s' (options start with --)\n", cmd,
                    arg);
            return false;
        }
        const char *name = arg + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        const opt *o = NULL;
        for (size_t k = 0; k < sizeof OPTS / sizeof *OPTS && !o; k++)
            if (strlen(OPTS[k].name) == len && !strncmp(OPTS[k].name, name, len) &&
                (!eval || OPTS[k].eval))
                o = &OPTS[k];
        if (!o) {
            fprintf(stderr, "cnnc %s: unknown option '%.*s' ('cnnc help %s' lists them)\n", cmd,
                    (int)(len + 2), arg, cmd);
            return false;
        }
        if (o->kind == OPT_FLAG) {
            if (eq) {
                fprintf(stderr, "cnnc %s: --%s takes no value\n", cmd, o->name);
                return false;
            }
            *(bool *)((char *)a + o->offset) = true;
            continue;
        }
        const char *value = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (!value) {
            fprintf(stderr, "cnnc %s: --%s needs a value\n", cmd, o->name);
            return false;
        }
        if (!parse_value(o, value, a, cmd))
            return false;
    }
    if (a->batch_size < 1 || a->eval_batch_size < 1) {
        fprintf(stderr, "cnnc %s: --batch-size must be at least 1\n", cmd);
        return false;
    }
    return true;
}
