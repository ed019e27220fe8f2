/* The process group (MPI_COMM_WORLD) and collectives over cnnc tensors. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "dist/dist.h"

static bool initialized, finalized, we_initialized;

static const char not_init[] =
    "Default process group has not been initialized, please make sure to call "
    "init_process_group.";

cnnc_status cnnc__dist_check(const char *fn) {
    if (initialized) return CNNC_OK;
    return cnnc__error(CNNC_ERR_RUNTIME, "%s(): %s", fn, not_init);
}

MPI_Comm cnnc__dist_comm(void) { return MPI_COMM_WORLD; }

double cnnc__dist_now(void) { return MPI_Wtime(); }

static double comm_seconds; /* MPI calls run on the initialising thread only (FUNNELED) */

void cnnc__dist_account(double seconds) { comm_seconds += seconds; }

double cnnc_dist_comm_seconds(void) { return comm_seconds; }

cnnc_status cnnc__mpi_error(const char *what, int code) {
    char msg[MPI_MAX_ERROR_STRING] = "";
    int len = 0;
    MPI_Error_string(code, msg, &len);
    return cnnc__error(CNNC_ERR_RUNTIME, "%s failed: %s", what, msg);
}

cnnc_status cnnc_dist_init(void) {
    if (initialized)
        return cnnc__error(CNNC_ERR_RUNTIME,
                           "trying to initialize the default process group twice!");
    if (finalized)
        return cnnc__error(CNNC_ERR_RUNTIME,
                           "init_process_group(): MPI was finalized in this process and cannot "
                           "be initialized again");
    int flag = 0;
    MPI_Initialized(&flag);
    if (!flag) {
        int provided = 0;
        int rc = MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided);
        if (rc != MPI_SUCCESS) return cnnc__mpi_error("MPI_Init_thread", rc);
        we_initialized = true;
    }
    /* errors come back as codes, never abort the job from inside a library call */
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    initialized = true;
    return CNNC_OK;
}

cnnc_status cnnc_dist_finalize(void) {
    if (cnnc__dist_check("destroy_process_group") != CNNC_OK) return CNNC_ERR_RUNTIME;
    initialized = false;
    if (we_initialized) {
        finalized = true;
        int rc = MPI_Finalize();
        if (rc != MPI_SUCCESS) return cnnc__mpi_error("MPI_Finalize", rc);
    }
    return CNNC_OK;
}

bool cnnc_dist_is_initialized(void) { return initialized; }

int cnnc_dist_rank(void) {
    if (cnnc__dist_check("get_rank") != CNNC_OK) return -1;
    int r = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &r);
    return r;
}

int cnnc_dist_world_size(void) {
    if (cnnc__dist_check("get_world_size") != CNNC_OK) return -1;
    int n = 1;
    MPI_Comm_size(MPI_COMM_WORLD, &n);
    return n;
}

cnnc_status cnnc_dist_barrier(void) {
    if (cnnc__dist_check("barrier") != CNNC_OK) return CNNC_ERR_RUNTIME;
    int rc = MPI_Barrier(MPI_COMM_WORLD);
    return rc == MPI_SUCCESS ? CNNC_OK : cnnc__mpi_error("MPI_Barrier", rc);
}

cnnc_status cnnc__dist_agree(const char *what, cnnc_status local) {
    int rank = 0, first = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    /* the lowest failing rank, or INT_MAX when none failed */
    int in = local == CNNC_OK ? 0x7fffffff : rank;
    int rc = MPI_Allreduce(&in, &first, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (rc != MPI_SUCCESS) return cnnc__mpi_error(what, rc);
    if (first == 0x7fffffff) return CNNC_OK;
    if (local != CNNC_OK) return local;
    return cnnc__error(CNNC_ERR_RUNTIME, "%s: rank %d failed (its error is reported there)",
                       what, first);
}

/* ---- collectives ----------------------------------------------------------------------- */

static cnnc_status check_coll(const char *fn, const cnnc_tensor *t) {
    if (cnnc__dist_check(fn) != CNNC_OK) return CNNC_ERR_RUNTIME;
    if (!t) return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "%s(): argument 'tensor' is NULL", fn);
    if (t->numel > 0x7fffffff)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "%s(): tensor of %lld elements is larger than one MPI call takes "
                           "(2^31 - 1)", fn, (long long)t->numel);
    return CNNC_OK;
}

static MPI_Datatype mpi_type(const cnnc_tensor *t) {
    return t->dtype == CNNC_FLOAT32 ? MPI_FLOAT : MPI_INT64_T;
}

cnnc_status cnnc_dist_all_reduce(cnnc_tensor *t, cnnc_reduce_op op) {
    static const char fn[] = "all_reduce";
    if (check_coll(fn, t) != CNNC_OK) return cnnc_last_status();
    if ((unsigned)op >= CNNC_REDUCE_OP_COUNT)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "%s(): unknown op %d", fn, (int)op);
    if (op == CNNC_REDUCE_AVG && t->dtype != CNNC_FLOAT32)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "%s(): ReduceOp.AVG needs a float32 tensor, got %s", fn,
                           cnnc_dtype_name(t->dtype));
    MPI_Op mop = op == CNNC_REDUCE_MAX ? MPI_MAX : op == CNNC_REDUCE_MIN ? MPI_MIN : MPI_SUM;
    double t0 = MPI_Wtime();
    int rc = MPI_Allreduce(MPI_IN_PLACE, t->storage->data, (int)t->numel, mpi_type(t), mop,
                           MPI_COMM_WORLD);
    comm_seconds += MPI_Wtime() - t0;
    if (rc != MPI_SUCCESS) return cnnc__mpi_error("all_reduce (MPI_Allreduce)", rc);
    if (op == CNNC_REDUCE_AVG) {
        float inv = 1.0f / (float)cnnc_dist_world_size();
        float *p = cnnc__f32(t);
        for (int64_t i = 0; i < t->numel; i++) p[i] *= inv;
    }
    cnnc__bump_version(t);
    return CNNC_OK;
}

cnnc_status cnnc_dist_broadcast(cnnc_tensor *t, int src) {
    static const char fn[] = "broadcast";
    if (check_coll(fn, t) != CNNC_OK) return cnnc_last_status();
    int n = cnnc_dist_world_size();
    if (src < 0 || src >= n)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "%s(): Invalid rank %d, rank should be in the interval [0, %d]", fn,
                           src, n - 1);
    double t0 = MPI_Wtime();
    int rc = MPI_Bcast(t->storage->data, (int)t->numel, mpi_type(t), src, MPI_COMM_WORLD);
    comm_seconds += MPI_Wtime() - t0;
    if (rc != MPI_SUCCESS) return cnnc__mpi_error("broadcast (MPI_Bcast)", rc);
    cnnc__bump_version(t);
    return CNNC_OK;
}

cnnc_tensor *cnnc_dist_all_gather(cnnc_tensor *t) {
    static const char fn[] = "all_gather";
    if (check_coll(fn, t) != CNNC_OK) return NULL;
    if (t->ndim >= CNNC_MAX_DIMS)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                "%s(): a %d-d tensor gathers to %d dims (at most %d)", fn, t->ndim,
                                t->ndim + 1, CNNC_MAX_DIMS);
    int n = cnnc_dist_world_size();
    int64_t shape[CNNC_MAX_DIMS];
    shape[0] = n;
    memcpy(shape + 1, t->shape, (size_t)t->ndim * sizeof(int64_t));
    if ((int64_t)n * t->numel > 0x7fffffff)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                "%s(): %d x %lld elements are more than one MPI call takes", fn, n,
                                (long long)t->numel);
    cnnc_tensor *out = cnnc__tensor_new(t->dtype, t->ndim + 1, shape);
    if (!out) return NULL;
    double t0 = MPI_Wtime();
    int rc = MPI_Allgather(t->storage->data, (int)t->numel, mpi_type(t), out->storage->data,
                           (int)t->numel, mpi_type(t), MPI_COMM_WORLD);
    comm_seconds += MPI_Wtime() - t0;
    if (rc != MPI_SUCCESS) {
        cnnc_tensor_release(out);
        return (cnnc__mpi_error("all_gather (MPI_Allgather)", rc), NULL);
    }
    return cnnc__give(out);
}

/* ---- rank-0 output --------------------------------------------------------------------- */

bool cnnc_dist_is_main_process(void) {
    if (!initialized) return true;
    int r = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &r);
    return r == 0;
}

int cnnc_dist_printf(const char *fmt, ...) {
    if (!fmt || !cnnc_dist_is_main_process()) return 0;
    va_list ap;
    va_start(ap, fmt);
    int n = vprintf(fmt, ap);
    va_end(ap);
    fflush(stdout);
    return n;
}
