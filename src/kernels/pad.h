/* Internal kernels: padding (constant, reflect, replicate, circular) forward and
 * backward, driven by one source-index map per padded dim. Raw pointers and dims;
 * no allocation; the row/plane range forms let the layer above split the work
 * over threads. */
#ifndef CNNC_KERNELS_PAD_H
#define CNNC_KERNELS_PAD_H
#include <stdbool.h>
#include <stdint.h>

#define CNNC__PAD_MAX_DIMS 8

/* The tensor is [outer, d_0, ..., d_{k-1}] (row-major; d_{k-1} contiguous): the k
 * trailing dims are padded, the leading ones are flattened into `outer`. For each
 * padded dim i and output index o < out[i], map[i][o] is the input index in
 * [0, in[i]) the output reads, or -1 where it takes the fill value. The maps of the
 * last dim also give a middle run [mid_b, mid_e) where map[k-1][o] == o - shift
 * (a straight copy), 0 <= mid_b <= mid_e <= out[k-1]. */
typedef struct cnnc__pad_geom {
    int k;
    int64_t outer;
    int64_t in[CNNC__PAD_MAX_DIMS], out[CNNC__PAD_MAX_DIMS];
    const int64_t *map[CNNC__PAD_MAX_DIMS];
    int64_t mid_b, mid_e, shift;
} cnnc__pad_geom;

/* Output rows: outer * out[0] * ... * out[k-2]; each row is out[k-1] floats. */
int64_t cnnc__pad_rows(const cnnc__pad_geom *g);

/* out (the whole padded tensor) from in, element by element: the reference. */
void cnnc__k_pad_ref(float *out, const float *in, const cnnc__pad_geom *g, float value);
/* The same for output rows [row_begin, row_end): copies the middle run, maps the
 * borders. */
void cnnc__k_pad_rows(float *out, const float *in, const cnnc__pad_geom *g, float value,
                      int64_t row_begin, int64_t row_end);

/* grad_in = the sum, over the output elements that read each input element, of
 * grad_out (elements read by none get 0): the reference, whole tensor. */
void cnnc__k_pad_backward_ref(float *grad_in, const float *grad_out, const cnnc__pad_geom *g);
/* The same for outer indices [begin, end) (each owns its own input block). */
void cnnc__k_pad_backward_outer(float *grad_in, const float *grad_out, const cnnc__pad_geom *g,
                                int64_t begin, int64_t end);
#endif
