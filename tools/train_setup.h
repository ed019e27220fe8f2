/* Optimizer, schedule and loader of `cnnc train` from its options (train_setup.c).
 * Each returns NULL with a message in err on failure (train_schedule_new also for
 * "none", with err empty). */
#ifndef CNNC_TOOLS_TRAIN_SETUP_H
#define CNNC_TOOLS_TRAIN_SETUP_H
#include "train_args.h"

cnnc_optimizer *train_optimizer_new(const train_args *a, const cnnc_tensor_list *params,
                                    char *err, size_t cap);
/* *per_batch: stepped after every batch (onecycle), else after every epoch. */
cnnc_lr_scheduler *train_schedule_new(const train_args *a, cnnc_optimizer *opt,
                                      int64_t steps_per_epoch, bool *per_batch, char *err,
                                      size_t cap);
/* Shuffled batches of the training split, normalised with its statistics; --augment
 * adds a random crop with padding (and a horizontal flip for colour 32x32 images). */
cnnc_dataloader *train_loader_new(const train_args *a, const train_data *d, bool sharded, char *err,
                                  size_t cap);
#endif
