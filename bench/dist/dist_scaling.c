/* Time per data-parallel training step and its communication share (docs/scaling.md).
 *
 *     mpirun -np N build/dist_scaling [global_batch] [steps] [sync|plain]
 *
 * A CIFAR-sized ResNet-style network (conv-SyncBatchNorm-ReLU blocks, 3x32x32 inputs,
 * 10 classes; SyncBatchNorm, or BatchNorm with "plain") wrapped in
 * DistributedDataParallel; the global batch is split evenly over
 * the ranks (weak scaling keeps the per-rank batch: pass global_batch = N * b). Rank 0
 * prints the median step time (forward, backward with the gradient reduction, zero_grad),
 * the time inside MPI calls (cnnc_dist_comm_seconds), split into DDP's (buffer
 * broadcast, bucket allreduces, the wait for them at the end of backward) and
 * SyncBatchNorm's gathers, and the gradient bytes reduced per step. Time in MPI includes
 * waiting for the slowest rank. */
#define _POSIX_C_SOURCE 200809L
#include <cnnc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static cnnc_module *block(int64_t cin, int64_t cout, int64_t stride) {
    return cnnc_sequential_new(3, (cnnc_module *[]){
        cnnc_conv2d_new(cin, cout, CNNC_CONV_MODULE(.kernel_size = CNNC_INTS(3),
                                                   .stride = CNNC_INTS(stride),
                                                   .padding = CNNC_INTS(1), .bias = false)),
        cnnc_batchnorm2d_new(cout, CNNC_BATCHNORM()), cnnc_relu_new(CNNC_RELU())});
}

static cnnc_module *make_net(void) {
    cnnc_manual_seed(0);
    return cnnc_sequential_new(8, (cnnc_module *[]){
        block(3, 32, 1), block(32, 32, 1), block(32, 64, 2), block(64, 64, 1),
        block(64, 128, 2), block(128, 128, 1),
        cnnc_adaptiveavgpool2d_new((cnnc_ints)CNNC_INTS(1)),
        cnnc_sequential_new(2, (cnnc_module *[]){cnnc_flatten_new(CNNC_FLATTEN()),
                                                 cnnc_linear_new(128, 10, CNNC_LINEAR())})});
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    int64_t B = argc > 1 ? atoll(argv[1]) : 32;
    int steps = argc > 2 ? atoi(argv[2]) : 6;
    if (cnnc_dist_init() != CNNC_OK || steps < 2 || steps > 100) return 1;
    int W = cnnc_dist_world_size(), R = cnnc_dist_rank();
    cnnc_set_num_threads(1);
    int64_t b = B / W + (R < B % W);
    cnnc_module *net = make_net();
    bool sync = !(argc > 3 && strcmp(argv[3], "plain") == 0);
    if (sync) cnnc_module_release(cnnc_convert_sync_batchnorm(net));
    cnnc_module *ddp = cnnc_ddp_new(net, CNNC_DDP());
    if (!ddp) {
        fprintf(stderr, "%s\n", cnnc_last_error());
        return 1;
    }
    int64_t bytes = 0;
    for (int i = 0; i < cnnc_ddp_num_buckets(ddp); i++) bytes += cnnc_ddp_bucket_bytes(ddp, i);
    double times[100], comm[100], total[100];
    for (int s = 0; s < steps; s++) {
        cnnc_scope_begin();
        cnnc_manual_seed(100 + (uint64_t)s * 16 + (uint64_t)R);
        cnnc_tensor *x = cnnc_randn(CNNC_SHAPE(b, 3, 32, 32));
        int64_t lab[1024];
        for (int64_t i = 0; i < b && i < 1024; i++) lab[i] = (i * 7 + s) % 10;
        cnnc_tensor *y = cnnc_from_data(CNNC_SHAPE(b), CNNC_INT64, lab);
        cnnc_dist_barrier();
        double c0 = cnnc_ddp_comm_seconds(ddp), a0 = cnnc_dist_comm_seconds();
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        cnnc_tensor *loss = cnnc_cross_entropy(cnnc_module_forward(ddp, x), y, CNNC_CROSS_ENTROPY());
        if (!loss || cnnc_backward(loss, NULL, false) != CNNC_OK) {
            fprintf(stderr, "rank %d: %s\n", R, cnnc_last_error());
            return 1;
        }
        cnnc_module_zero_grad(net, false);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        times[s] = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
        comm[s] = cnnc_ddp_comm_seconds(ddp) - c0;
        total[s] = cnnc_dist_comm_seconds() - a0;
        cnnc_scope_end();
    }
    qsort(times + 1, (size_t)steps - 1, sizeof(double), cmp); /* the first step warms up */
    qsort(comm + 1, (size_t)steps - 1, sizeof(double), cmp);
    qsort(total + 1, (size_t)steps - 1, sizeof(double), cmp);
    int mid = 1 + (steps - 1) / 2;
    double med = times[mid], cmed = comm[mid], tmed = total[mid];
    cnnc_dist_printf("ranks %d  %s  global batch %lld  step %.1f ms  in MPI %.1f ms (%.0f%%: DDP %.1f ms, "
                     "SyncBatchNorm %.1f ms)  gradients %lld bytes in %d buckets\n",
                     W, sync ? "SyncBatchNorm" : "BatchNorm", (long long)B, med * 1e3, tmed * 1e3, 100.0 * tmed / med, cmed * 1e3,
                     (tmed - cmed) * 1e3, (long long)bytes, cnnc_ddp_num_buckets(ddp));
    /* the transport alone: allreduce of one float (latency) and of the gradients */
    int64_t nfl = bytes / 4;
    cnnc_tensor *one = cnnc_zeros(CNNC_SHAPE(1), CNNC_FLOAT32), *all = cnnc_zeros(CNNC_SHAPE(nfl), CNNC_FLOAT32);
    double lat[21], bw[21];
    for (int i = 0; i < 21; i++) {
        cnnc_dist_barrier();
        double a = cnnc_dist_comm_seconds();
        cnnc_dist_all_reduce(one, CNNC_REDUCE_SUM);
        double b2 = cnnc_dist_comm_seconds();
        cnnc_dist_all_reduce(all, CNNC_REDUCE_SUM);
        lat[i] = b2 - a;
        bw[i] = cnnc_dist_comm_seconds() - b2;
    }
    qsort(lat, 21, sizeof(double), cmp);
    qsort(bw, 21, sizeof(double), cmp);
    cnnc_dist_printf("ranks %d  allreduce of 4 bytes %.1f us, of %lld bytes %.2f ms\n", W, lat[10] * 1e6,
                     (long long)bytes, bw[10] * 1e3);
    cnnc_tensor_release(one);
    cnnc_tensor_release(all);
    cnnc_module_release(ddp);
    cnnc_module_release(net);
    cnnc_dist_finalize();
    return 0;
}
