/* Internal kernels: elementwise arithmetic with broadcasting, and reductions.
 * Raw pointers and dims; no allocation; each works on a range so the layer above
 * can split it over threads. (Activations live in kernels/activation.h.) */
#ifndef CNNC_KERNELS_ELEMENTWISE_H
#define CNNC_KERNELS_ELEMENTWISE_H
#include <stdint.h>

#define CNNC__K_MAX_DIMS 8

typedef enum cnnc__binop {
    CNNC__BINOP_ADD,
    CNNC__BINOP_SUB,
    CNNC__BINOP_MUL,
    CNNC__BINOP_DIV,
    CNNC__BINOP_COUNT
} cnnc__binop;

/* A broadcast iteration: the output is contiguous with shape[ndim]; operand k is
 * read with element strides stride[k][d] (0 along broadcast dims). Built with
 * dims already coalesced; ndim >= 1. rows = prod(shape[0..ndim-1)). */
typedef struct cnnc__bcast {
    int ndim;
    int64_t shape[CNNC__K_MAX_DIMS];
    int64_t stride[2][CNNC__K_MAX_DIMS];
} cnnc__bcast;

/* out[i] = a op b for the flat output elements i in [begin, end). */
void cnnc__k_binary(cnnc__binop op, float *out, const float *a, const float *b,
                    const cnnc__bcast *it, int64_t begin, int64_t end);
/* out[i] = a (operand 0 of it, broadcast or strided) for i in [begin, end). */
void cnnc__k_expand(float *out, const float *a, const cnnc__bcast *it, int64_t begin,
                    int64_t end);

/* out[i] = a[i] * alpha + beta over [0, n). */
void cnnc__k_affine(float *out, const float *a, int64_t n, float alpha, float beta);

/* Sum of x[0..n) accumulated in double over fixed 16-lane float partial sums of
 * 256-element blocks, so the result does not depend on how a caller splits other
 * work. The AVX2 and AVX-512 loops (taken when the active level has them) give the
 * same bits. */
double cnnc__k_sum(const float *x, int64_t n);
/* out[r] = cnnc__k_sum(x + r * stride, n) for r in [0, rows), bit for bit (AVX2: two rows
 * side by side). */
void cnnc__k_sum_rows(const float *x, int64_t stride, int64_t rows, int64_t n, double *out);

/* A reduction as blocks of consecutive dims (outermost first), each either
 * reduced or kept: input block sizes size[], strides in_stride[] (elements), and
 * for kept blocks out_stride[] into the output (accumulated in double). */
typedef struct cnnc__reduce_blocks {
    int n;
    int64_t size[CNNC__K_MAX_DIMS];
    int64_t in_stride[CNNC__K_MAX_DIMS];
    int64_t out_stride[CNNC__K_MAX_DIMS];
    int reduce[CNNC__K_MAX_DIMS];
} cnnc__reduce_blocks;
/* acc[...] += sums of in over blocks b.blocks[first..n). */
void cnnc__k_reduce_acc(double *acc, const float *in, const cnnc__reduce_blocks *b, int first);

#endif
