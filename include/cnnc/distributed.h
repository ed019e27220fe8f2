/* cnnc public API: data-parallel training over MPI (the optional distributed part).
 *
 * Built into libcnnc itself when CMake finds MPI (Open MPI: Debian's libopenmpi-dev);
 * test for it at run time with cnnc_dist_available(), which exists in every build.
 * Without MPI the other functions below are absent from the library (a program that
 * calls them does not link) and libcnnc does not depend on MPI. The distributed
 * sampler needs no MPI and lives in cnnc/data.h.
 *
 * cnnc.h includes it. A training step on N processes (`mpirun -np N ./train`):
 *
 *     cnnc_dist_init();                                  // init_process_group("mpi")
 *     cnnc_module *net = make_net();        // any seed: DDP broadcasts rank 0's weights
 *     cnnc_module_release(cnnc_convert_sync_batchnorm(net));   // BN -> SyncBN, in place
 *     cnnc_module *ddp = cnnc_ddp_new(net, CNNC_DDP());
 *     cnnc_distributed_sampler_options so = CNNC_DISTRIBUTED_SAMPLER(
 *         .num_replicas = cnnc_dist_world_size(), .rank = cnnc_dist_rank(), .seed = 1);
 *     int64_t n = cnnc_distributed_sampler_len(60000, so), *idx = malloc(n * sizeof *idx);
 *     cnnc_distributed_sampler_indices(60000, epoch, so, idx, n);   // per epoch
 *     ... cnnc_dataloader_set_indices(dl, idx, n) ...  // this rank's shard
 *     cnnc_tensor *loss = cnnc_cross_entropy(cnnc_module_forward(ddp, x), y, ...);
 *     cnnc_backward(loss, NULL, false);   // gradients averaged over ranks on return
 *     cnnc_optimizer_step(opt);
 *     cnnc_dist_printf("loss %g\n", l);   // rank 0 prints
 *     ...
 *     cnnc_dist_finalize();
 *
 * Threads: MPI is initialised with MPI_THREAD_FUNNELED: call the functions of this
 * header (and run forward/backward of DDP and SyncBatchNorm modules) from the thread
 * that called cnnc_dist_init. cnnc's own worker threads never call MPI.
 *
 * Collectives are matched by order: every rank must make the same sequence of calls.
 * Argument errors that only one rank can see (a wrong shape) are exchanged inside the
 * collective calls of DDP and SyncBatchNorm, so every rank fails together instead of
 * waiting forever; for the raw collectives below a shape mismatch between ranks is the
 * caller's error (MPI's own checks may abort the job).
 */
#ifndef CNNC_DISTRIBUTED_H
#define CNNC_DISTRIBUTED_H
#ifndef CNNC_H
#error "include <cnnc.h> instead"
#endif
#ifdef __cplusplus
extern "C" {
#endif

/* ---- process group -------------------------------------------------------------------- */

/* Whether this build of the library has the distributed part (present in every build). */
CNNC_API bool cnnc_dist_available(void);

/* init_process_group(backend="mpi"): initialises MPI (MPI_Init_thread, FUNNELED) unless
 * the program already did, and makes MPI_COMM_WORLD the group. A second call is an
 * error ("trying to initialize the default process group twice!"), as after
 * cnnc_dist_finalize (MPI cannot be initialised twice in one process). */
CNNC_API cnnc_status cnnc_dist_init(void);
/* destroy_process_group(): finalizes MPI if cnnc_dist_init initialised it. Error when
 * not initialised. */
CNNC_API cnnc_status cnnc_dist_finalize(void);
CNNC_API bool cnnc_dist_is_initialized(void);
/* get_rank() / get_world_size(): -1 with an error when not initialised (PyTorch: "Default
 * process group has not been initialized, please make sure to call
 * init_process_group."). */
CNNC_API int cnnc_dist_rank(void);
CNNC_API int cnnc_dist_world_size(void);
/* barrier() */
CNNC_API cnnc_status cnnc_dist_barrier(void);

/* ---- collectives over tensors (in place, outside autograd; the version is bumped) ---- */

typedef enum cnnc_reduce_op {
    CNNC_REDUCE_SUM = 0, /* ReduceOp.SUM */
    CNNC_REDUCE_AVG,     /* ReduceOp.AVG: the sum divided by the world size (float32 only) */
    CNNC_REDUCE_MAX,     /* ReduceOp.MAX */
    CNNC_REDUCE_MIN,     /* ReduceOp.MIN */
    CNNC_REDUCE_OP_COUNT
} cnnc_reduce_op;

/* all_reduce(tensor, op): every rank's tensor becomes the elementwise reduction over
 * ranks (float32: sums are formed in MPI's order, the same on every rank; int64 for
 * SUM, MAX, MIN). All ranks pass tensors of one shape and dtype. */
CNNC_API cnnc_status cnnc_dist_all_reduce(cnnc_tensor *tensor, cnnc_reduce_op op);
/* broadcast(tensor, src): copies rank src's tensor into every rank's tensor. */
CNNC_API cnnc_status cnnc_dist_broadcast(cnnc_tensor *tensor, int src);
/* all_gather: a new tensor [world_size, *shape] holding rank r's tensor at index r. */
CNNC_API cnnc_tensor *cnnc_dist_all_gather(cnnc_tensor *tensor);

/* Seconds this process has spent in the MPI calls cnnc made (the collectives above,
 * DistributedDataParallel's broadcasts, reductions and waits, SyncBatchNorm's gathers):
 * time per step minus its growth is the compute. */
CNNC_API double cnnc_dist_comm_seconds(void);

/* printf on rank 0 only (and on the one process when not initialised): progress bars
 * and logs of a distributed run. Returns printf's count on rank 0, 0 elsewhere. */
CNNC_API int cnnc_dist_printf(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;
/* Whether this process is rank 0 (true when not initialised): the one that writes
 * checkpoints and logs. */
CNNC_API bool cnnc_dist_is_main_process(void);

/* ---- DistributedDataParallel ------------------------------------------------------------ */

typedef struct cnnc_ddp_options {
    /* Gradients are reduced in buckets of about this many MiB (PyTorch's bucket_cap_mb),
     * filled in reverse parameter order (the order backward produces them). > 0. */
    double bucket_cap_mb;
    /* Broadcast rank 0's buffers (running statistics) at the start of each forward in
     * training mode (PyTorch's broadcast_buffers). */
    bool broadcast_buffers;
} cnnc_ddp_options;
#define CNNC_DDP(...) \
    ((cnnc_ddp_options){.bucket_cap_mb = 25.0, .broadcast_buffers = true, __VA_ARGS__})

/* nn.parallel.DistributedDataParallel(module): a module with one child, "module" (so
 * state_dict keys are "module.<name>", as PyTorch's). Construction broadcasts rank 0's
 * parameters and buffers to every rank (a collective: every rank constructs its DDP at
 * the same point). Forward broadcasts buffers (see options) and calls the module.
 * Backward: each parameter's .grad is copied into its bucket once the backward has
 * added its last contribution (an autograd hook on leaf-gradient accumulation); a full
 * bucket starts a non-blocking MPI allreduce at once, so communication overlaps the
 * rest of backward (Open MPI progresses it on later MPI calls). When the last bucket is
 * started, backward waits for all of them and writes grad = sum over ranks / world
 * size into every .grad before returning. Every parameter that requires grad must get
 * a gradient in each synced backward (PyTorch's find_unused_parameters=False); one that
 * got none is reported by the next forward (and by cnnc_ddp_finish). The wrapped module
 * is retained (the caller keeps its reference). One backward at a time may run through
 * a DDP's parameters (the hooks keep per-backward counts). Errors: not initialised; a module
 * without parameters that require grad ("DistributedDataParallel is not needed when a
 * module doesn't have any parameter that requires a gradient."); bad options. */
CNNC_API cnnc_module *cnnc_ddp_new(cnnc_module *module, cnnc_ddp_options options);
/* no_sync(): while require_sync is false, backward only accumulates local gradients
 * (no communication); the first synced backward after it averages the accumulated
 * gradients. Set it back to true before the synced step. */
CNNC_API cnnc_status cnnc_ddp_set_require_sync(cnnc_module *ddp, bool require_sync);
/* Completes a synced backward in which some parameters got no gradient: their buckets
 * are reduced with zeros in their place (so they become the average of the other
 * ranks' gradients), then every bucket is written back. A no-op when the last backward
 * completed its reduction. A collective when it has work: all ranks call it. */
CNNC_API cnnc_status cnnc_ddp_finish(cnnc_module *ddp);
/* The number of buckets and the bytes of bucket b (for the scaling report). */
CNNC_API int cnnc_ddp_num_buckets(const cnnc_module *ddp);
CNNC_API int64_t cnnc_ddp_bucket_bytes(const cnnc_module *ddp, int b);
/* Seconds spent since construction waiting for and in collectives (buffer broadcasts and
 * gradient reductions, including the wait at the end of backward). */
CNNC_API double cnnc_ddp_comm_seconds(const cnnc_module *ddp);

/* ---- SyncBatchNorm ------------------------------------------------------------------------ */

/* nn.SyncBatchNorm(num_features, eps, momentum, affine, track_running_stats): BatchNorm
 * over inputs [N, C, *] (2-d or more) whose training statistics cover every rank's
 * samples: per channel, each rank's (count, mean, M2) is gathered and merged in rank
 * order in double, so all ranks normalise with the same mean and biased variance of
 * the global batch, and update running_mean / running_var (unbiased, with the global
 * count) as BatchNorm on the concatenated batch would. Backward reduces sum(dy) and
 * sum(dy * (x - mean)) over ranks for the input gradient; weight and bias gradients
 * are this rank's (DDP averages them). Ranks may hold different batch sizes, including
 * 0 (such a rank contributes nothing but still takes part). Eval mode, and training
 * when not initialised or with one process, are BatchNorm. Every rank must call forward
 * (and backward) of its SyncBatchNorm layers in the same order. Errors (on every rank
 * together when one rank's input is wrong): "expected at least 2D input (got 1D
 * input)", "SyncBatchNorm number of input channels should be non-zero", a channel count
 * other than num_features, fewer than 2 values per channel over all ranks. */
CNNC_API cnnc_module *cnnc_syncbatchnorm_new(int64_t num_features, cnnc_batchnorm_options options);
/* SyncBatchNorm.convert_sync_batchnorm(module): every BatchNorm1d/2d/3d in module
 * (module itself included) becomes a SyncBatchNorm with the same settings, parameters,
 * running statistics and training flag. The conversion is in place (the module objects
 * keep their identity, so pointers a user-defined module holds to its children stay
 * valid); returns a new reference to module. */
CNNC_API cnnc_module *cnnc_convert_sync_batchnorm(cnnc_module *module);

#ifdef __cplusplus
}
#endif
#endif /* CNNC_DISTRIBUTED_H */
