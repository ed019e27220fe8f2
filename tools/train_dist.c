/* `mpirun -np N cnnc train` (train_dist.h). Without MPI in the build, a run under
 * mpirun with N > 1 is refused rather than trained N times over. */
#include "train_dist.h"

#include <stdlib.h>
#include <string.h>

/* The world size mpirun gives this process (Open MPI, MPICH/PMI), or 1. */
static int launched_world(void) {
    const char *names[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const char *v = getenv(names[i]);
        if (v && atoi(v) > 1) return atoi(v);
    }
    return 1;
}

bool train_dist_main(const train_dist *d) { return d->rank == 0; }
FILE *train_dist_out(const train_dist *d) { return d->rank == 0 || !d->quiet ? stdout : d->quiet; }

bool train_dist_batch(const train_dist *d, int64_t global, int64_t *per_rank, char *err, size_t cap) {
    if (global % d->world) {
        snprintf(err, cap, "--batch-size %lld is the global batch: it must split evenly over %d processes",
                 (long long)global, d->world);
        return false;
    }
    *per_rank = global / d->world;
    return true;
}

#ifdef CNNC_HAVE_MPI
bool train_dist_start(train_dist *d, char *err, size_t cap) {
    *d = (train_dist){.world = 1, .rank = 0};
    if (launched_world() < 2) return true;
    if (cnnc_dist_init() != CNNC_OK) {
        snprintf(err, cap, "MPI: %s", cnnc_last_error());
        return false;
    }
    d->world = cnnc_dist_world_size();
    d->rank = cnnc_dist_rank();
    d->quiet = d->rank ? fopen("/dev/null", "w") : NULL;
    return true;
}

bool train_dist_wrap(train_dist *d, cnnc_module *model, char *err, size_t cap) {
    if (d->world < 2) return true;
    d->ddp = cnnc_ddp_new(model, CNNC_DDP());
    if (!d->ddp) snprintf(err, cap, "DistributedDataParallel: %s", cnnc_last_error());
    return d->ddp != NULL;
}

bool train_dist_sum(const train_dist *d, double *v, int n) {
    if (d->world < 2) return true;
    cnnc_tensor *t = cnnc_empty(1, (int64_t[]){n}, CNNC_FLOAT32);
    float *p = t ? cnnc_tensor_data_f32(t) : NULL;
    for (int i = 0; p && i < n; i++) p[i] = (float)v[i];
    bool ok = p && cnnc_dist_all_reduce(t, CNNC_REDUCE_SUM) == CNNC_OK;
    for (int i = 0; ok && i < n; i++) v[i] = p[i];
    cnnc_tensor_release(t);
    return ok;
}

void train_dist_barrier(const train_dist *d) {
    if (d->world > 1) cnnc_dist_barrier();
}

void train_dist_end(train_dist *d) {
    cnnc_module_release(d->ddp);
    free(d->shard);
    if (d->quiet) fclose(d->quiet);
    if (d->world > 1) cnnc_dist_finalize();
    *d = (train_dist){.world = 1};
}
#else
bool train_dist_start(train_dist *d, char *err, size_t cap) {
    *d = (train_dist){.world = 1, .rank = 0};
    if (launched_world() < 2) return true;
    snprintf(err, cap, "started as one of %d processes, but this cnnc was built without MPI "
                       "(Debian libopenmpi-dev): it would train %d separate copies",
             launched_world(), launched_world());
    return false;
}
bool train_dist_wrap(train_dist *d, cnnc_module *model, char *err, size_t cap) {
    (void)d, (void)model, (void)err, (void)cap;
    return true;
}
bool train_dist_sum(const train_dist *d, double *v, int n) {
    (void)d, (void)v, (void)n;
    return true;
}
void train_dist_barrier(const train_dist *d) { (void)d; }
void train_dist_end(train_dist *d) { *d = (train_dist){.world = 1}; }
#endif

bool train_dist_epoch(train_dist *d, cnnc_dataloader *dl, int64_t n, uint64_t seed, int64_t epoch, char *err,
                      size_t cap) {
    if (d->world < 2) return true;
    cnnc_distributed_sampler_options so =
        CNNC_DISTRIBUTED_SAMPLER(.num_replicas = d->world, .rank = d->rank, .seed = seed);
    int64_t len = cnnc_distributed_sampler_len(n, so);
    if (len > d->shard_cap) {
        int64_t *grown = realloc(d->shard, (size_t)len * sizeof *grown);
        if (!grown) {
            snprintf(err, cap, "out of memory for a shard of %lld indices", (long long)len);
            return false;
        }
        d->shard = grown;
        d->shard_cap = len;
    }
    if (len < 0 || cnnc_distributed_sampler_indices(n, epoch, so, d->shard, d->shard_cap) != len ||
        cnnc_dataloader_set_indices(dl, d->shard, len) != CNNC_OK) {
        snprintf(err, cap, "sampler: %s", cnnc_last_error());
        return false;
    }
    return true;
}
