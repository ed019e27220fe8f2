/* Internal: the state BatchNorm and InstanceNorm share (torch's _NormBase), for the
 * kinds built on it elsewhere (SyncBatchNorm in src/dist). */
#ifndef CNNC_NN_NORM_H
#define CNNC_NN_NORM_H
#include "nn/module.h"

typedef struct cnnc__normbase_state {
    int64_t num_features;
    double eps;
    cnnc_optional_double momentum;
    bool affine, track_running_stats;
    int spatial; /* 1, 2, 3 for the 1d/2d/3d kinds; 0 for SyncBatchNorm (any dims) */
} cnnc__normbase_state;

enum { CNNC__NORMBASE_N_FIELDS = 5 };
extern const cnnc__field cnnc__normbase_fields[CNNC__NORMBASE_N_FIELDS];
/* "8, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True" */
void cnnc__normbase_repr(const cnnc_module *m, cnnc__strbuf *s);
/* A new module of a _NormBase kind: parameters and buffers as BatchNorm's. */
cnnc_module *cnnc__normbase_new(const cnnc__module_type *type, int spatial, int64_t num_features,
                                cnnc_batchnorm_options o);
/* (Is m a BatchNorm1d/2d/3d: cnnc__is_batchnorm_module, nn/module.h.) */
/* _BatchNorm.forward's bookkeeping: counts the batch (num_batches_tracked) in training
 * with running stats and returns the exponential average factor in *factor. */
cnnc_status cnnc__batchnorm_count(cnnc_module *m, double *factor);
#endif
