/* `cnnc train` and `cnnc eval`: training and evaluating image classifiers from the
 * command line. One file per part: the commands (cmd_train.c, cmd_eval.c), the
 * built-in architectures (train_models.c), data sets (train_data.c), the progress
 * bar (train_progress.c), the CSV log and SVG plot (train_log.c), and the training
 * loop shared with the demo (train_loop.c). Public API only. */
#ifndef CNNC_TOOLS_TRAIN_H
#define CNNC_TOOLS_TRAIN_H
#include <cnnc.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* The subcommands (rows of tools/cnnc.c's command table) and their help texts. */
int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
extern const char cmd_train_args[], cmd_train_details[];
extern const char cmd_eval_args[], cmd_eval_details[];

/* ---- architectures (train_models.c) ---------------------------------------------- */

/* The names of the built-in architectures, NULL-terminated. */
extern const char *const train_arch_names[];
/* A new built-in model for [N, channels, size, size] images and num_classes classes,
 * or NULL with a message in err (unknown name, an image size it cannot take). */
cnnc_module *train_model_new(const char *arch, int64_t channels, int64_t size,
                             int64_t num_classes, char *err, size_t cap);
/* A model from a cnnc model file (.safetensors), or NULL with a message in err. */
cnnc_module *train_model_load(const char *path, char *err, size_t cap);

/* ---- data (train_data.c) --------------------------------------------------------- */

/* --data SPEC: "synthetic", "mnist:DIR", "fashion-mnist:DIR" or "cifar10:DIR". */
typedef struct train_data_options {
    const char *spec;
    int64_t train_size;  /* synthetic: images per split; others: a cap (0: all) */
    int64_t test_size;
    int64_t image_size;  /* synthetic only */
    int64_t channels;    /* synthetic only */
    uint64_t seed;       /* synthetic only */
} train_data_options;

typedef struct train_data {
    cnnc_dataset *train, *test; /* test may be NULL (eval: train is NULL) */
    double mean[3], std[3];     /* the training split's channel statistics */
    int64_t channels, image_size, num_classes;
    bool augment_ok;            /* colour 32x32 (CIFAR): crop and flip make sense */
} train_data;

/* Loads the splits asked for; false with a message in err. */
bool train_data_load(const train_data_options *o, bool want_train, bool want_test,
                     train_data *out, char *err, size_t cap);
void train_data_free(train_data *d);

/* ---- progress (train_progress.c) ------------------------------------------------- */

typedef struct train_progress {
    FILE *out;
    bool tty;          /* redraw one line with \r; else plain lines */
    int64_t epoch, epochs, total; /* total batches in this epoch */
    double start;      /* seconds, monotonic */
    int64_t last_line; /* plain mode: the last batch printed */
    double last_update;/* seconds, at the last batch: img/s leaves evaluation out */
} train_progress;

double train_now(void);
void train_progress_begin(train_progress *p, FILE *out, int64_t epoch, int64_t epochs,
                          int64_t total);
/* After batch `done` (1-based) of the epoch: running mean loss, accuracy (0..1),
 * images seen in this epoch. */
void train_progress_update(train_progress *p, int64_t done, double loss, double acc,
                           int64_t images);
/* Ends the epoch's line (tty) with the evaluation's result, or prints it. */
void train_progress_end(train_progress *p, double loss, double acc, int64_t images,
                        bool has_test, double test_loss, double test_acc);

/* ---- log (train_log.c) ---------------------------------------------------------- */

typedef struct train_epoch_row {
    int64_t epoch, step;
    double lr, train_loss, train_acc, test_loss, test_acc, images_per_s, seconds;
} train_epoch_row;

/* Appends a row to the CSV file (writing the header first when the file is new or
 * empty). False (errno message in err) on an I/O error. */
bool train_log_append(const char *path, const train_epoch_row *row, char *err, size_t cap);
/* Reads every row of the CSV file (n <= cap) and writes the SVG plot of the loss and
 * accuracy curves. */
bool train_plot_write(const char *csv_path, const char *svg_path, char *err, size_t cap);

/* ---- files (train_io.c) --------------------------------------------------------- */

/* A tensor list (with its metadata) to a safetensors file, and back (a new list the
 * caller frees); false / NULL with a message in err. */
bool train_file_save(const char *path, const cnnc_tensor_list *list, char *err, size_t cap);
cnnc_tensor_list *train_file_load(const char *path, char *err, size_t cap);

/* ---- the loop (train_loop.c) ---------------------------------------------------- */

/* One epoch of training over the loader: forward, cross-entropy, backward, step
 * (and the per-batch scheduler, if any), with the progress bar. skip: batches to
 * pass over first (a run resumed in the middle of an epoch). max_steps: stop after
 * this global step (0: no limit). *step counts optimizer steps. Returns false with
 * the library's error on failure. */
typedef struct train_epoch_result {
    double loss, acc;
    int64_t images;
    int64_t batches; /* batches of the epoch done, the skipped ones included */
    double seconds;
    bool stopped; /* max_steps reached */
} train_epoch_result;
bool train_one_epoch(cnnc_module *model, cnnc_dataloader *loader, cnnc_optimizer *opt,
                     cnnc_lr_scheduler *batch_sched, train_progress *progress, int64_t skip,
                     int64_t max_steps, int64_t *step, train_epoch_result *res);
/* Mean cross-entropy and accuracy of the model (eval mode, no grad) over a data set. */
bool train_evaluate(cnnc_module *model, cnnc_dataset *ds, const double *mean,
                    const double *std, int64_t batch_size, double *loss, double *acc);
#endif
