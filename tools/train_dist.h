/* `mpirun -np N cnnc train`: data-parallel training over MPI (cnnc/distributed.h).
 * Under mpirun with N > 1 processes (and a cnnc built with MPI), each rank trains a
 * DistributedDataParallel wrapper of the same model on its shard of every epoch
 * (the distributed sampler; global batch = --batch-size, split evenly), losses and
 * accuracies are summed over ranks, and rank 0 alone prints, logs and writes
 * checkpoints. A checkpoint is the model's (rank 0's, which every rank holds), so it
 * resumes on any number of processes: with the same global batch, the first k
 * batches of every rank's shard are the first k global batches whatever N is. */
#ifndef CNNC_TOOLS_TRAIN_DIST_H
#define CNNC_TOOLS_TRAIN_DIST_H
#include <cnnc.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef struct train_dist {
    int world, rank;   /* 1, 0 when not distributed */
    cnnc_module *ddp;  /* the model wrapped, or NULL */
    int64_t *shard;    /* this epoch's indices */
    int64_t shard_cap;
    FILE *quiet;       /* /dev/null: where ranks but 0 print their progress */
} train_dist;

/* Starts MPI when this process is one of N > 1 under mpirun: false with err set on
 * failure (MPI asked for but this cnnc has none, or init failed). */
bool train_dist_start(train_dist *d, char *err, size_t cap);
/* The per-rank batch for a global batch (an error unless the ranks divide it). */
bool train_dist_batch(const train_dist *d, int64_t global, int64_t *per_rank, char *err, size_t cap);
/* Wraps model (after its weights are final): the module forward and backward go through. */
bool train_dist_wrap(train_dist *d, cnnc_module *model, char *err, size_t cap);
/* Gives the loader this rank's shard of epoch (0-based) of a data set of n. */
bool train_dist_epoch(train_dist *d, cnnc_dataloader *dl, int64_t n, uint64_t seed, int64_t epoch,
                      char *err, size_t cap);
/* Sums the values over ranks (in place). */
bool train_dist_sum(const train_dist *d, double *v, int n);
/* Where this rank prints its progress: stdout on rank 0, nowhere on the others. */
FILE *train_dist_out(const train_dist *d);
bool train_dist_main(const train_dist *d);
void train_dist_barrier(const train_dist *d);
void train_dist_end(train_dist *d);
#endif
