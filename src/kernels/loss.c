/* Loss kernels: the table of the fast variants (one per ISA level) and the entry
 * points of kernels/loss.h. */
#include "kernels/loss.h"

#include "kernels/loss_internal.h"

static const char *const pwl_names[CNNC__PWL_COUNT] = {
#define PWL_NAME(E, n) #n,
    CNNC__PWL_LIST(PWL_NAME)
#undef PWL_NAME
};

const char *cnnc__pwl_name(cnnc__pwl op) {
    return (unsigned)op < CNNC__PWL_COUNT ? pwl_names[op] : "?";
}

typedef struct loss_variant {
    cnnc__isa isa;
    const char *name;
    void (*pwl_forward)(cnnc__pwl op, const cnnc__pwl_args *a, float *out, int64_t begin,
                        int64_t end);
    void (*pwl_backward)(cnnc__pwl op, const cnnc__pwl_args *a, float *gx, float *gy,
                         const float *g, float g0, int64_t begin, int64_t end);
    void (*ce_forward)(const cnnc__ce_args *a, float *stat, float *nll, float *smooth,
                       int64_t nb, int64_t s0, int64_t s1);
    void (*ce_backward)(const cnnc__ce_args *a, float *gx, const float *stat,
                        const float *coef, float wsum, int64_t nb, int64_t s0, int64_t s1);
} loss_variant;

static const loss_variant variants[] = {
#define CNNC__X(isa, sfx)                                                                  \
    {CNNC__ISA_##isa, "f32_loss__" #sfx, cnnc__k_pwl_forward_##sfx,                       \
     cnnc__k_pwl_backward_##sfx, cnnc__k_ce_forward_##sfx, cnnc__k_ce_backward_##sfx},
    CNNC__LOSS_VARIANTS(CNNC__X)
#undef CNNC__X
};

CNNC__ISA_PICKER(variant, loss_variant, variants)

const char *cnnc__k_loss_variant_name(cnnc__isa isa) { return variant(isa)->name; }

void cnnc__k_pwl_forward(cnnc__isa isa, cnnc__pwl op, const cnnc__pwl_args *a, float *out,
                         int64_t begin, int64_t end) {
    variant(isa)->pwl_forward(op, a, out, begin, end);
}
void cnnc__k_pwl_backward(cnnc__isa isa, cnnc__pwl op, const cnnc__pwl_args *a, float *gx,
                          float *gy, const float *g, float g0, int64_t begin, int64_t end) {
    variant(isa)->pwl_backward(op, a, gx, gy, g, g0, begin, end);
}
void cnnc__k_pwl_forward_ref(cnnc__pwl op, const cnnc__pwl_args *a, float *out, int64_t begin,
                             int64_t end) {
    cnnc__k_pwl_forward_ref_impl(op, a, out, begin, end);
}
void cnnc__k_pwl_backward_ref(cnnc__pwl op, const cnnc__pwl_args *a, float *gx, float *gy,
                              const float *g, float g0, int64_t begin, int64_t end) {
    cnnc__k_pwl_backward_ref_impl(op, a, gx, gy, g, g0, begin, end);
}

void cnnc__k_ce_forward(cnnc__isa isa, const cnnc__ce_args *a, float *stat, float *nll,
                        float *smooth, int64_t nb, int64_t s0, int64_t s1) {
    variant(isa)->ce_forward(a, stat, nll, smooth, nb, s0, s1);
}
void cnnc__k_ce_backward(cnnc__isa isa, const cnnc__ce_args *a, float *gx, const float *stat,
                         const float *coef, float wsum, int64_t nb, int64_t s0, int64_t s1) {
    variant(isa)->ce_backward(a, gx, stat, coef, wsum, nb, s0, s1);
}
void cnnc__k_ce_forward_ref(const cnnc__ce_args *a, float *stat, float *nll, float *smooth,
                            int64_t nb, int64_t s0, int64_t s1) {
    cnnc__k_ce_forward_ref_impl(a, stat, nll, smooth, nb, s0, s1);
}
void cnnc__k_ce_backward_ref(const cnnc__ce_args *a, float *gx, const float *stat,
                             const float *coef, float wsum, int64_t nb, int64_t s0, int64_t s1) {
    cnnc__k_ce_backward_ref_impl(a, gx, stat, coef, wsum, nb, s0, s1);
}
