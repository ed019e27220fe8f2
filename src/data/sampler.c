/* The distributed sampler (torch.utils.data.DistributedSampler): per epoch a shared
 * permutation, padded or cut to a multiple of the replicas, strided over the ranks. */
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "data/random.h"

static cnnc_status check(const char *fn, int64_t len, cnnc_distributed_sampler_options o) {
    if (o.num_replicas < 1)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "%s(): num_replicas must be >= 1, got %lld",
                           fn, (long long)o.num_replicas);
    if (o.rank < 0 || o.rank >= o.num_replicas)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "Invalid rank %lld, rank should be in the interval [0, %lld]",
                           (long long)o.rank, (long long)(o.num_replicas - 1));
    if (len < 0)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "%s(): dataset_len must be >= 0, got %lld",
                           fn, (long long)len);
    return CNNC_OK;
}

static int64_t num_samples(int64_t len, const cnnc_distributed_sampler_options *o) {
    int64_t R = o->num_replicas;
    if (o->drop_last && len % R != 0) return (len - 1) / R; /* ceil((len - R) / R), >= 0 */
    return (len + R - 1) / R;
}

int64_t cnnc_distributed_sampler_len(int64_t len, cnnc_distributed_sampler_options o) {
    if (check("distributed_sampler_len", len, o) != CNNC_OK) return -1;
    return num_samples(len, &o);
}

int64_t cnnc_distributed_sampler_indices(int64_t len, int64_t epoch,
                                         cnnc_distributed_sampler_options o, int64_t *out,
                                         int64_t cap) {
    static const char fn[] = "distributed_sampler_indices";
    if (check(fn, len, o) != CNNC_OK) return -1;
    if (epoch < 0)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "%s(): epoch must be >= 0, got %lld", fn,
                           (long long)epoch), -1;
    int64_t per = num_samples(len, &o), total = per * o.num_replicas;
    if (!out && per > 0)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "%s(): argument 'out' is NULL", fn), -1;
    if (cap < per)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "%s(): out has room for %lld indices, the shard has %lld", fn,
                           (long long)cap, (long long)per), -1;
    if (len == 0 || per == 0) return 0;
    if ((uint64_t)len > SIZE_MAX / sizeof(int64_t))
        return cnnc__oom("the sampler's permutation"), -1;
    int64_t *perm = cnnc__malloc((size_t)len * sizeof(int64_t));
    if (!perm) return cnnc__oom("the sampler's permutation"), -1;
    for (int64_t i = 0; i < len; i++) perm[i] = i;
    if (o.shuffle) { /* Fisher-Yates from the (seed, epoch) stream: identical on every rank */
        cnnc__drng r = cnnc__drng_key(o.seed, 0x44697374536d70ULL /* "DistSmp" */,
                                      (uint64_t)epoch, 0);
        for (int64_t i = len - 1; i > 0; i--) {
            int64_t j = (int64_t)cnnc__drng_below(&r, (uint64_t)i + 1), t = perm[i];
            perm[i] = perm[j];
            perm[j] = t;
        }
    }
    /* entry k of the padded (or cut) list is perm[k % len]: torch repeats the list from
     * its start as often as the padding needs */
    int64_t n = 0;
    for (int64_t k = o.rank; k < total; k += o.num_replicas) out[n++] = perm[k % len];
    cnnc__free(perm);
    return n;
}
