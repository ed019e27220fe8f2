/* Command-line options of `cnnc train` and `cnnc eval` (tools/train_args.c): one table
 * of "--name VALUE" / "--name=VALUE" / "--flag" entries writing into a train_args. */
#ifndef CNNC_TOOLS_TRAIN_ARGS_H
#define CNNC_TOOLS_TRAIN_ARGS_H
#include "train.h"

typedef struct train_args {
    const char *arch, *model_path;
    train_data_options data;
    int64_t epochs, batch_size, eval_batch_size, max_steps, threads;
    int64_t seed;
    /* optimizer: NaN means "the optimizer's default" */
    const char *optimizer;
    double lr, momentum, dampening, weight_decay, eps, beta1, beta2, alpha, lr_decay;
    bool nesterov, amsgrad, centered;
    /* schedule */
    const char *schedule, *milestones;
    int64_t step_size;
    double gamma, min_lr, max_lr, pct_start, start_factor;
    bool augment;
    const char *log_path, *plot_path, *checkpoint_path, *resume_path, *weights_path;
    bool help;
} train_args;

/* Defaults (lenet on 10000 synthetic images, SGD, 5 epochs). */
void train_args_defaults(train_args *a);
/* Parses argv[1..argc); `eval` limits the options to eval's. False with a message
 * printed to stderr (prefixed "cnnc train: " or "cnnc eval: "). */
bool train_args_parse(train_args *a, int argc, char **argv, bool eval);
#endif
