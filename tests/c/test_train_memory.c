/* A training loop keeps its memory flat: 10,000 steps of a tiny CNN (conv, batch norm,
 * ReLU, max pool, linear, cross-entropy) with the data loader (shuffle, flip), Adam,
 * a scheduler, gradient clipping and a scope per step; the resident size
 * (/proc/self/statm) may grow by less than 1 MiB after the first 100 steps. Under a
 * sanitizer (whose quarantine keeps freed memory resident) the loop runs 1,000 steps
 * for the leak checker and the size is only reported. */
#include <stdio.h>
#include <unistd.h>

#include "check.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif

enum { WARMUP = 100, STEPS = SANITIZED ? 1000 : 10000 };

/* Resident set size in bytes, or -1. */
static long long resident_bytes(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    long long size = 0, resident = -1;
    if (!f) return -1;
    if (fscanf(f, "%lld %lld", &size, &resident) != 2) resident = -1;
    fclose(f);
    return resident < 0 ? -1 : resident * (long long)sysconf(_SC_PAGESIZE);
}

static cnnc_module *tiny_net(void) {
    cnnc_module *layers[] = {
        cnnc_conv2d_new(1, 4, CNNC_CONV_MODULE(.kernel_size = CNNC_INTS(3), .padding = CNNC_INTS(1))),
        cnnc_batchnorm2d_new(4, CNNC_BATCHNORM()),
        cnnc_relu_new(CNNC_RELU()),
        cnnc_maxpool2d_new(CNNC_MAX_POOL2D(.kernel_size = CNNC_INTS(2))),
        cnnc_flatten_new(CNNC_FLATTEN()),
        cnnc_linear_new(4 * 4 * 4, 10, CNNC_LINEAR()),
    };
    return cnnc_sequential_new((int)(sizeof layers / sizeof *layers), layers);
}

static bool step(cnnc_module *m, cnnc_tensor_list *params, cnnc_optimizer *opt,
                 cnnc_lr_scheduler *sched, cnnc_dataloader *dl) {
    if (cnnc_scope_begin() != CNNC_OK) return false;
    cnnc_tensor *x = NULL, *y = NULL;
    bool ok = cnnc_dataloader_next(dl, &x, &y) == CNNC_OK;
    if (ok && !x) ok = cnnc_dataloader_next(dl, &x, &y) == CNNC_OK && x; /* next epoch */
    cnnc_tensor *z = ok ? cnnc_module_forward(m, x) : NULL;
    cnnc_tensor *loss = z ? cnnc_cross_entropy(z, y, CNNC_CROSS_ENTROPY()) : NULL;
    ok = loss && cnnc_optimizer_zero_grad(opt, true) == CNNC_OK &&
         cnnc_backward(loss, NULL, false) == CNNC_OK &&
         cnnc_clip_grad_norm_(CNNC_PARAM_LIST(params), 5.0, CNNC_CLIP_GRAD_NORM()) != NULL &&
         cnnc_optimizer_step(opt) == CNNC_OK && cnnc_lr_scheduler_step(sched) == CNNC_OK;
    return cnnc_scope_end() == CNNC_OK && ok;
}

static void test_memory_flat_over_training(void) {
    cnnc_manual_seed(0);
    cnnc_module *m = tiny_net();
    cnnc_tensor_list *params = m ? cnnc_module_named_parameters(m) : NULL;
    cnnc_optimizer *opt = params ? cnnc_adam_new(CNNC_PARAM_LIST(params), CNNC_ADAM(.lr = 1e-3))
                                 : NULL;
    cnnc_lr_scheduler *sched = opt ? cnnc_steplr_new(opt, 1000, CNNC_STEPLR(.gamma = 0.9)) : NULL;
    cnnc_dataset *ds = cnnc_dataset_synthetic(true, 64, CNNC_SYNTHETIC(.image_size = 8));
    cnnc_dataloader *dl = ds ? cnnc_dataloader_new(ds, CNNC_DATALOADER(
                                   .batch_size = 4, .shuffle = true, .seed = 1,
                                   .horizontal_flip_p = 0.5, .mean = CNNC_DOUBLES(0.3),
                                   .std = CNNC_DOUBLES(0.2)))
                             : NULL;
    REQUIRE(m && params && opt && sched && dl);
    CHECK_CONTAINS(cnnc_optimizer_type(opt), "Adam");
    long long after_warmup = -1;
    int done = 0;
    for (; done < STEPS; done++) {
        if (!step(m, params, opt, sched, dl)) break;
        if (done + 1 == WARMUP) after_warmup = resident_bytes();
    }
    CHECK_EQ_INT(done, STEPS);
    long long end = resident_bytes();
    REQUIRE(after_warmup > 0 && end > 0);
    printf("resident size after %d steps: %.2f MiB, after %d: %.2f MiB (growth %lld bytes)\n",
           WARMUP, after_warmup / 1048576.0, done, end / 1048576.0, end - after_warmup);
    if (!SANITIZED) CHECK(end - after_warmup < 1024 * 1024);
    cnnc_dataloader_free(dl);
    cnnc_dataset_release(ds);
    cnnc_lr_scheduler_release(sched);
    cnnc_optimizer_release(opt);
    cnnc_tensor_list_free(params);
    cnnc_module_release(m);
}

int main(void) {
    RUN_TEST(test_memory_flat_over_training);
    return check_summary();
}
