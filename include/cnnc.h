/* cnnc — PyTorch's convolutional-network building blocks in C11.
 *
 * One public header. Sections follow the library's layers: errors and memory,
 * runtime settings, tensors, autograd, functional ops, modules.
 *
 * A runnable example (y = relu(x W^T + b), then gradients):
 *
 *     #include <cnnc.h>
 *     #include <stdio.h>
 *     int main(void) {
 *         cnnc_manual_seed(0);
 *         cnnc_scope_begin();                       // tensors below belong to the scope
 *         cnnc_module *net = cnnc_sequential_new(2, (cnnc_module *[]){
 *             cnnc_linear_new(4, 3, CNNC_LINEAR()), cnnc_relu_new(CNNC_RELU())});
 *         cnnc_tensor *x = cnnc_randn(CNNC_SHAPE(2, 4));
 *         cnnc_tensor *y = cnnc_module_forward(net, x);
 *         if (!y) { fprintf(stderr, "%s\n", cnnc_last_error()); return 1; }
 *         cnnc_backward(cnnc_sum(y), NULL, false);
 *         cnnc_tensor *gw = NULL;
 *         cnnc_module_tensor(net, "0.weight", &gw);  // borrowed; its .grad is set
 *         cnnc_tensor_print(cnnc_tensor_grad(gw), stdout);
 *         cnnc_scope_end();                         // releases x, y and the sum
 *         cnnc_module_release(net);
 *         return 0;
 *     }
 *
 * Conventions
 * - Every function returning `cnnc_tensor *` or `cnnc_module *` returns a NEW
 *   reference unless its comment says "borrowed"; release it with
 *   cnnc_tensor_release / cnnc_module_release (or let a scope do it, see below).
 * - Errors: functions return NULL or a cnnc_status other than CNNC_OK and set a
 *   thread-local message, read with cnnc_last_error(). Messages follow PyTorch's
 *   wording where PyTorch has one. Nothing a caller passes aborts the process.
 * - Options are structs passed by value, written with designated initializers
 *   through a macro that fills PyTorch's defaults first:
 *   `cnnc_linear_new(4, 3, CNNC_LINEAR(.bias = false))`. Overriding a default in
 *   a designated initializer makes gcc/clang warn under -Wextra, so the exported
 *   compile flags (pkg-config, CMake target) carry -Wno-override-init.
 * - Shapes are (int ndim, const int64_t *shape); CNNC_SHAPE(2, 3) expands to
 *   both arguments. A 0-d tensor is (0, NULL).
 */
#ifndef CNNC_H
#define CNNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32) && defined(CNNC_SHARED_BUILD)
#define CNNC_API __declspec(dllexport)
#elif defined(__GNUC__)
#define CNNC_API __attribute__((visibility("default")))
#else
#define CNNC_API
#endif

#define CNNC_VERSION_MAJOR 0
#define CNNC_VERSION_MINOR 1
#define CNNC_VERSION_PATCH 0
#define CNNC_VERSION_STRING "0.1.0"

/* Version of the library actually linked (may differ from the header's). */
CNNC_API const char *cnnc_version(void);

/* ======================================================================== */
/* Errors and memory                                                        */
/* ======================================================================== */

typedef enum cnnc_status {
    CNNC_OK = 0,
    CNNC_ERR_INVALID_ARGUMENT, /* bad value, shape or dtype (PyTorch: ValueError/RuntimeError) */
    CNNC_ERR_OUT_OF_MEMORY,    /* an allocation failed or a size overflowed */
    CNNC_ERR_RUNTIME,          /* a valid call in an invalid state (autograd misuse, ...) */
    CNNC_ERR_NOT_FOUND,        /* a name (parameter, key, file) that does not exist */
    CNNC_ERR_IO,               /* reading or writing a file failed */
    CNNC_STATUS_COUNT
} cnnc_status;

/* The message of the last error on this thread ("" if none). Valid until the next
 * cnnc call on this thread. */
CNNC_API const char *cnnc_last_error(void);
/* The status of the last error on this thread (CNNC_OK if none). */
CNNC_API cnnc_status cnnc_last_status(void);
CNNC_API void cnnc_clear_error(void);
/* "CNNC_ERR_INVALID_ARGUMENT" etc. */
CNNC_API const char *cnnc_status_name(cnnc_status status);

/* Every allocation the library makes goes through this allocator (default: malloc
 * and free). alloc returns NULL on failure, which the library reports as
 * CNNC_ERR_OUT_OF_MEMORY. Set it before creating any object: memory is freed with
 * the allocator that is current when it is freed. NULL restores the default. */
typedef struct cnnc_allocator {
    void *(*alloc)(void *ctx, size_t size);
    void (*free)(void *ctx, void *ptr);
    void *ctx;
} cnnc_allocator;
CNNC_API void cnnc_set_allocator(const cnnc_allocator *allocator);

/* Frees memory the library returned to the caller (strings from *_to_string). */
CNNC_API void cnnc_free(void *ptr);

/* ======================================================================== */
/* Runtime settings                                                         */
/* ======================================================================== */

/* Using cnnc from several threads.
 * - Tensors: any number of threads may read one tensor at once (ops only read their
 *   inputs), and retain/release it (the counts are atomic). Writing a tensor (in-place
 *   ops, cnnc_tensor_copy_, set_requires_grad, set_grad, its data pointer) while
 *   another thread reads or writes it is a race the caller must prevent.
 * - Modules: forward through one module in eval mode from several threads at once
 *   is safe (the module is only read; with grad mode on, each thread records its own
 *   graph). A forward in training mode writes the module's buffers (batch norm's
 *   running statistics): one thread at a time per module. Changing a module
 *   (train/eval, load_state_dict, zero_grad, parameter updates) while another
 *   thread uses it is a race. Separate modules may be trained in separate threads.
 * - Backward: one backward at a time per graph (the nodes recorded by one forward).
 *   Backward passes in several threads through graphs that share leaves (the same
 *   parameters) are safe: accumulation into each leaf's .grad is locked, as in
 *   PyTorch (the sum's order, and so its last bits, then follows the timing). Reading
 *   or zeroing .grad, or updating the parameters, must wait until they are done.
 * - Settings: grad mode, scopes and the last error are per thread.
 *   cnnc_set_num_threads may be called at any time from any thread: an op already
 *   running keeps the thread count it started with. The random functions share one
 *   generator behind a lock (one seed gives one sequence, handed out to threads in
 *   the order they draw). cnnc_set_allocator must be called before other threads
 *   use cnnc.
 * - fork(): the thread pool, the random generator and the gradient locks are held
 *   across fork, so the child may use cnnc (its first parallel op starts new pool
 *   threads) and draws the parent's next random numbers.
 * - Memory: a thread's scratch memory is freed when the thread exits (pool threads;
 *   any thread when cnnc is built with pthreads) or by cnnc_thread_cleanup. */

/* Threads used by parallel kernels (default: the number of online CPUs).
 * Results do not depend on it. n < 1 is an error. */
CNNC_API cnnc_status cnnc_set_num_threads(int n);
CNNC_API int cnnc_get_num_threads(void);
/* Frees the calling thread's cached scratch memory (kernels reuse it between
 * calls) now; otherwise it is freed when the thread exits (see above). */
CNNC_API void cnnc_thread_cleanup(void);

/* The instruction set the kernels run with, one of (best first):
 *   "avx512"  AVX-512F (with AVX2 and FMA),
 *   "avx2"    AVX2 and FMA,
 *   "scalar"  the portable C kernels (any CPU).
 * The default is the best level this CPU (and this build: non-x86 builds have
 * "scalar" only) supports, capped by the environment variable CNNC_ISA (one of the
 * names above, read once at the first call that needs it; another value is ignored,
 * with a warning on stderr). Results of different levels may differ in the last bits
 * (different kernels), never between runs at one level.
 *
 * cnnc_set_isa(name) sets the level from then on, for every thread: a lower level
 * caps it, the CPU's best lifts any cap (CNNC_ISA's too). Names are case-insensitive.
 * Errors (CNNC_ERR_INVALID_ARGUMENT, the level unchanged): NULL or an unknown name;
 * a level this CPU (or build) cannot run (the message lists the ones it can). Safe
 * while other threads compute: a call already running finishes at the level it
 * started with, so no result mixes two instruction sets. */
CNNC_API cnnc_status cnnc_set_isa(const char *name);
/* The level kernels run at now ("avx512", "avx2" or "scalar"; a static string). */
CNNC_API const char *cnnc_get_isa(void);

/* Seeds the default random generator (rand, randn, module initialisation). */
CNNC_API void cnnc_manual_seed(uint64_t seed);

/* Grad mode, per thread (PyTorch's torch.set_grad_enabled / no_grad). Returns the
 * previous value, so `bool old = cnnc_set_grad_enabled(false); ...;
 * cnnc_set_grad_enabled(old);` is a no_grad block. */
CNNC_API bool cnnc_set_grad_enabled(bool enabled);
CNNC_API bool cnnc_is_grad_enabled(void);

/* Scopes: between cnnc_scope_begin() and cnnc_scope_end(), every tensor a cnnc
 * function returns as a new reference belongs to the innermost open scope, and
 * cnnc_scope_end() releases them all. Inside a scope, do not release those
 * tensors yourself; to keep one past the scope, cnnc_tensor_retain() it and
 * release that reference later. Tensors created outside the scope (module
 * parameters, ...) are not affected. Scopes nest, per thread. */
CNNC_API cnnc_status cnnc_scope_begin(void);
CNNC_API cnnc_status cnnc_scope_end(void);

/* ======================================================================== */
/* Tensors                                                                  */
/* ======================================================================== */

typedef enum cnnc_dtype {
    CNNC_FLOAT32 = 0,
    CNNC_INT64,
    CNNC_DTYPE_COUNT
} cnnc_dtype;

/* "float32", "int64" */
CNNC_API const char *cnnc_dtype_name(cnnc_dtype dtype);

/* Tensors have at most CNNC_MAX_DIMS dimensions (PyTorch's CNN layers use up to 5). */
#define CNNC_MAX_DIMS 8

/* A dense, contiguous, row-major, reference-counted tensor. Views (reshape, view,
 * flatten, detach) share storage with their base. */
typedef struct cnnc_tensor cnnc_tensor;

/* CNNC_SHAPE(2, 3) expands to `2, (const int64_t[]){2, 3}`. */
#define CNNC_SHAPE(...)                                                       \
    (int)(sizeof((const int64_t[]){__VA_ARGS__}) / sizeof(int64_t)),          \
        (const int64_t[]) { __VA_ARGS__ }

/* PyTorch's `int | tuple[int, ...] | None` arguments (kernel_size, stride, padding,
 * output_size, normalized_shape...). Three forms, as Python has them:
 *   None         n == 0, tuple false: a zero-initialised field (left out of a
 *                designated initializer) or CNNC_INTS_NONE;
 *   the int k    n == 1, tuple false: CNNC_INTS(k); PyTorch uses it for every dim;
 *   a tuple      tuple true, or n > 1: CNNC_INTS(a, b) is (a, b), CNNC_TUPLE(k) the
 *                1-tuple (k,), CNNC_EMPTY_TUPLE the empty tuple ().
 * So CNNC_INTS(3) and CNNC_TUPLE(3) differ where PyTorch tells 3 from (3,)
 * (F.adaptive_avg_pool2d(x, (4,)) is an error, MaxPool2d((3,)) keeps (3,)), and None
 * from () where PyTorch does (max_unpool2d's output_size=() is an error). Entries
 * past n are ignored. These macros are brace initializers, for options macros and
 * declarations: `CNNC_CONV2D(.stride = CNNC_INTS(2))`, `cnnc_ints k = CNNC_TUPLE(3);`,
 * `(cnnc_ints)CNNC_INTS(3, 3)` as an argument. */
typedef struct cnnc_ints {
    int n;      /* values in v: 0 .. CNNC_MAX_DIMS */
    bool tuple; /* a tuple even when n <= 1 (implied when n > 1) */
    int64_t v[CNNC_MAX_DIMS];
} cnnc_ints;
#define CNNC_INTS(...) \
    {.n = (int)(sizeof((const int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), .v = {__VA_ARGS__}}
#define CNNC_TUPLE(...)                                                            \
    {.n = (int)(sizeof((const int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), .tuple = true, \
     .v = {__VA_ARGS__}}
#define CNNC_EMPTY_TUPLE {.n = 0, .tuple = true}
#define CNNC_INTS_NONE {.n = 0}

/* PyTorch's `float | None` (momentum=None, ...). */
typedef struct cnnc_optional_double {
    bool has_value;
    double value;
} cnnc_optional_double;
#define CNNC_SOME(x) {.has_value = true, .value = (x)}
#define CNNC_NONE {.has_value = false}

/* PyTorch's `int | None` (divisor_override=None); CNNC_SOME(x) / CNNC_NONE fill it too. */
typedef struct cnnc_optional_int {
    bool has_value;
    int64_t value;
} cnnc_optional_int;

/* PyTorch's `float | tuple[float, ...] | None` (scale_factor), with the three forms
 * of cnnc_ints: None (zero-initialised), the float CNNC_DOUBLES(x), a tuple
 * CNNC_DOUBLES(a, b) / CNNC_FLOAT_TUPLE(x) (the 1-tuple (x,)) / CNNC_EMPTY_FLOAT_TUPLE. */
typedef struct cnnc_doubles {
    int n;      /* values in v: 0 .. CNNC_MAX_DIMS */
    bool tuple; /* a tuple even when n <= 1 (implied when n > 1) */
    double v[CNNC_MAX_DIMS];
} cnnc_doubles;
#define CNNC_DOUBLES(...) \
    {.n = (int)(sizeof((const double[]){__VA_ARGS__}) / sizeof(double)), .v = {__VA_ARGS__}}
#define CNNC_FLOAT_TUPLE(...)                                                      \
    {.n = (int)(sizeof((const double[]){__VA_ARGS__}) / sizeof(double)), .tuple = true, \
     .v = {__VA_ARGS__}}
#define CNNC_EMPTY_FLOAT_TUPLE {.n = 0, .tuple = true}
#define CNNC_DOUBLES_NONE {.n = 0}

/* Creation. Sizes must be >= 0 (0 gives an empty tensor); ndim in [0, CNNC_MAX_DIMS]. */
CNNC_API cnnc_tensor *cnnc_empty(int ndim, const int64_t *shape, cnnc_dtype dtype);
CNNC_API cnnc_tensor *cnnc_zeros(int ndim, const int64_t *shape, cnnc_dtype dtype);
CNNC_API cnnc_tensor *cnnc_ones(int ndim, const int64_t *shape, cnnc_dtype dtype);
CNNC_API cnnc_tensor *cnnc_full(int ndim, const int64_t *shape, double value, cnnc_dtype dtype);
/* Copies numel elements of `dtype` from data (NULL allowed when numel is 0). */
CNNC_API cnnc_tensor *cnnc_from_data(int ndim, const int64_t *shape, cnnc_dtype dtype,
                                     const void *data);
/* float32 uniform on [0, 1) and standard normal, from the default generator. */
CNNC_API cnnc_tensor *cnnc_rand(int ndim, const int64_t *shape);
CNNC_API cnnc_tensor *cnnc_randn(int ndim, const int64_t *shape);
/* 1-d [start, end) with step (PyTorch's arange, including its size rule
 * ceil((end - start) / step)); step 0 or a sign that never reaches end is an error. */
CNNC_API cnnc_tensor *cnnc_arange(double start, double end, double step, cnnc_dtype dtype);
/* torch.get_rng_state() / torch.set_rng_state(new_state): the default generator's
 * whole state as a new int64 tensor [4] (its four 64-bit words, bit for bit), and
 * setting it back, so that the numbers drawn afterwards (initialisation, dropout)
 * continue exactly where they were (a checkpoint keeps it). set_rng_state needs an
 * int64 tensor of shape [4], not all zeros (an error otherwise; the state is then
 * unchanged). */
CNNC_API cnnc_tensor *cnnc_get_rng_state(void);
CNNC_API cnnc_status cnnc_set_rng_state(const cnnc_tensor *new_state);

CNNC_API cnnc_tensor *cnnc_tensor_retain(cnnc_tensor *t);
CNNC_API void cnnc_tensor_release(cnnc_tensor *t); /* NULL is a no-op */

CNNC_API int cnnc_tensor_ndim(const cnnc_tensor *t);
/* Borrowed pointer to ndim sizes (valid while t lives). */
CNNC_API const int64_t *cnnc_tensor_shape(const cnnc_tensor *t);
/* Size of dimension dim (negative counts from the end); -1 with an error if out of range. */
CNNC_API int64_t cnnc_tensor_size(const cnnc_tensor *t, int dim);
CNNC_API int64_t cnnc_tensor_numel(const cnnc_tensor *t);
CNNC_API cnnc_dtype cnnc_tensor_dtype(const cnnc_tensor *t);

/* The contiguous data, numel elements. Writing through it is not seen by autograd.
 * The typed getters return NULL (with an error) on a dtype mismatch. Once one of them
 * has handed out a tensor's data, the library compares what it derived from that data
 * (a module's packed filters) against it on every use, since writes may come at any
 * time; cnnc_tensor_data_const is for reading only (writing through it is undefined)
 * and leaves such caches trusting the tensor's version counter. */
CNNC_API void *cnnc_tensor_data(cnnc_tensor *t);
CNNC_API const void *cnnc_tensor_data_const(const cnnc_tensor *t);
CNNC_API float *cnnc_tensor_data_f32(cnnc_tensor *t);
CNNC_API int64_t *cnnc_tensor_data_i64(cnnc_tensor *t);
/* The value of a one-element tensor, as a double. */
CNNC_API cnnc_status cnnc_tensor_item(const cnnc_tensor *t, double *out);

/* In place (bump the version counter; refused on a leaf that requires grad while
 * grad mode is on, as PyTorch). copy_ needs equal numel and dtype; copies values. */
CNNC_API cnnc_status cnnc_tensor_fill_(cnnc_tensor *t, double value);
CNNC_API cnnc_status cnnc_tensor_zero_(cnnc_tensor *t);
CNNC_API cnnc_status cnnc_tensor_copy_(cnnc_tensor *dst, const cnnc_tensor *src);

/* A new tensor sharing t's storage, outside the graph (requires_grad false). */
CNNC_API cnnc_tensor *cnnc_tensor_detach(cnnc_tensor *t);
/* A differentiable copy with its own storage. */
CNNC_API cnnc_tensor *cnnc_tensor_clone(cnnc_tensor *t);

/* "[1, 3, 14, 14]" — caller frees with cnnc_free. */
CNNC_API char *cnnc_tensor_shape_string(const cnnc_tensor *t);
/* PyTorch-style text: `tensor([[0.1000, 2.0000]], requires_grad=True)`; caller
 * frees with cnnc_free. Large tensors are summarised with "...". */
CNNC_API char *cnnc_tensor_to_string(const cnnc_tensor *t);
CNNC_API cnnc_status cnnc_tensor_print(const cnnc_tensor *t, FILE *out);

/* ======================================================================== */
/* Autograd                                                                 */
/* ======================================================================== */

CNNC_API bool cnnc_tensor_requires_grad(const cnnc_tensor *t);
/* Only leaves can be changed, only float tensors can require grad (PyTorch's errors). */
CNNC_API cnnc_status cnnc_tensor_set_requires_grad(cnnc_tensor *t, bool requires_grad);
/* A leaf: created by the user, or by an op whose inputs need no grad. */
CNNC_API bool cnnc_tensor_is_leaf(const cnnc_tensor *t);
/* Borrowed: the accumulated gradient of a leaf, or NULL. */
CNNC_API cnnc_tensor *cnnc_tensor_grad(const cnnc_tensor *t);
/* Replaces the gradient (retains grad; NULL clears it). Shape and dtype must match.
 * A grad from which t is reachable (g after cnnc_tensor_set_grad(g, t), or a result
 * computed from t) is refused with CNNC_ERR_RUNTIME: the reference cycle would never
 * be freed (PyTorch accepts it and leaks both tensors). */
CNNC_API cnnc_status cnnc_tensor_set_grad(cnnc_tensor *t, cnnc_tensor *grad);
/* "AddBackward0", "ReluBackward0", ... or NULL for a leaf. Borrowed static string. */
CNNC_API const char *cnnc_tensor_grad_fn_name(const cnnc_tensor *t);
/* Incremented by every in-place change (shared by views of the same storage). */
CNNC_API uint64_t cnnc_tensor_version(const cnnc_tensor *t);

/* Backpropagates from `output`: gradient must have output's shape, and may be NULL
 * only when output has one element (then it is 1). Gradients accumulate into the
 * .grad of the leaves that require grad. The graph's saved tensors are freed
 * afterwards unless retain_graph; a second backward through a freed graph fails. */
CNNC_API cnnc_status cnnc_backward(cnnc_tensor *output, cnnc_tensor *gradient, bool retain_graph);

/* ======================================================================== */
/* Functional ops (differentiable; float32 unless stated)                   */
/* ======================================================================== */

/* Elementwise with PyTorch's broadcasting. */
CNNC_API cnnc_tensor *cnnc_add(cnnc_tensor *a, cnnc_tensor *b);
CNNC_API cnnc_tensor *cnnc_sub(cnnc_tensor *a, cnnc_tensor *b);
CNNC_API cnnc_tensor *cnnc_mul(cnnc_tensor *a, cnnc_tensor *b);
CNNC_API cnnc_tensor *cnnc_div(cnnc_tensor *a, cnnc_tensor *b);
CNNC_API cnnc_tensor *cnnc_neg(cnnc_tensor *a);
/* a + s, a * s (PyTorch's tensor-scalar forms). */
CNNC_API cnnc_tensor *cnnc_add_scalar(cnnc_tensor *a, double s);
CNNC_API cnnc_tensor *cnnc_mul_scalar(cnnc_tensor *a, double s);

/* Reductions. The _dims forms reduce over ndims dims (negative allowed, no
 * repeats; ndims 0 reduces over everything, as PyTorch's dim=[]). */
CNNC_API cnnc_tensor *cnnc_sum(cnnc_tensor *a);
CNNC_API cnnc_tensor *cnnc_sum_dims(cnnc_tensor *a, int ndims, const int *dims, bool keepdim);
CNNC_API cnnc_tensor *cnnc_mean(cnnc_tensor *a);
CNNC_API cnnc_tensor *cnnc_mean_dims(cnnc_tensor *a, int ndims, const int *dims, bool keepdim);

/* Shape ops. reshape/view accept one -1; they share storage with a. */
CNNC_API cnnc_tensor *cnnc_reshape(cnnc_tensor *a, int ndim, const int64_t *shape);
CNNC_API cnnc_tensor *cnnc_view(cnnc_tensor *a, int ndim, const int64_t *shape);
CNNC_API cnnc_tensor *cnnc_flatten(cnnc_tensor *a, int start_dim, int end_dim);
/* transpose and permute return contiguous copies (cnnc tensors are always contiguous). */
CNNC_API cnnc_tensor *cnnc_transpose(cnnc_tensor *a, int dim0, int dim1);
CNNC_API cnnc_tensor *cnnc_permute(cnnc_tensor *a, int ndim, const int *dims);
/* Concatenates n tensors along dim (all of one dtype). */
CNNC_API cnnc_tensor *cnnc_cat(int n, cnnc_tensor *const *tensors, int dim);
/* torch.narrow(x, dim, start, length): elements [start, start + length) along dim
 * (a copy; negative start counts from the end). */
CNNC_API cnnc_tensor *cnnc_narrow(cnnc_tensor *x, int dim, int64_t start, int64_t length);
/* torch.chunk(x, chunks, dim) and torch.split(x, split_size_or_sections, dim):
 * write the pieces (new references) to out, which has room for max_out (at most 64
 * are produced), and return their number, or -1 on error (nothing written). split
 * takes one size (pieces of that size, the last smaller) or n_sizes > 1 sizes that
 * add up to the dim's size. */
CNNC_API int cnnc_chunk(cnnc_tensor *x, int chunks, int dim, int max_out, cnnc_tensor **out);
CNNC_API int cnnc_split(cnnc_tensor *x, int n_sizes, const int64_t *sizes, int dim, int max_out,
                        cnnc_tensor **out);
/* torch.matmul: 1-d/2-d/batched with broadcast batch dims. */
CNNC_API cnnc_tensor *cnnc_matmul(cnnc_tensor *a, cnnc_tensor *b);

/* F.relu, F.relu_ (in place; returns its argument's status), F.linear:
 * y = x W^T + b, x [*, in], weight [out, in], bias [out] or NULL. */
CNNC_API cnnc_tensor *cnnc_relu(cnnc_tensor *x);
CNNC_API cnnc_status cnnc_relu_(cnnc_tensor *x);
CNNC_API cnnc_tensor *cnnc_linear(cnnc_tensor *x, cnnc_tensor *weight, cnnc_tensor *bias);

/* ======================================================================== */
/* Named tensor lists (state_dicts, parameter listings)                     */
/* ======================================================================== */

/* An ordered list of (name, tensor) pairs. It holds a reference to each tensor. */
typedef struct cnnc_tensor_list cnnc_tensor_list;
CNNC_API cnnc_tensor_list *cnnc_tensor_list_new(void);
CNNC_API void cnnc_tensor_list_free(cnnc_tensor_list *list); /* NULL is a no-op */
/* Appends (a copy of name, a reference to t). t may be NULL (PyTorch's None). */
CNNC_API cnnc_status cnnc_tensor_list_append(cnnc_tensor_list *list, const char *name,
                                             cnnc_tensor *t);
CNNC_API size_t cnnc_tensor_list_size(const cnnc_tensor_list *list);
/* Borrowed; i < size. */
CNNC_API const char *cnnc_tensor_list_name(const cnnc_tensor_list *list, size_t i);
CNNC_API cnnc_tensor *cnnc_tensor_list_get(const cnnc_tensor_list *list, size_t i);
/* Borrowed tensor named name, or NULL (with CNNC_ERR_NOT_FOUND) if absent. */
CNNC_API cnnc_tensor *cnnc_tensor_list_find(const cnnc_tensor_list *list, const char *name);

/* Metadata: an ordered string -> string map carried beside the tensors (a
 * safetensors file's __metadata__; optimizer hyperparameters in a state_dict).
 * set_meta copies both strings and replaces an existing key's value in place. */
CNNC_API cnnc_status cnnc_tensor_list_set_meta(cnnc_tensor_list *list, const char *key,
                                               const char *value);
/* Borrowed value of key (valid until the key is set again or the list is freed), or
 * NULL with CNNC_ERR_NOT_FOUND. */
CNNC_API const char *cnnc_tensor_list_meta(const cnnc_tensor_list *list, const char *key);
CNNC_API size_t cnnc_tensor_list_meta_size(const cnnc_tensor_list *list);
/* The i-th (key, value) pair in insertion order, both borrowed; i < meta_size. */
CNNC_API cnnc_status cnnc_tensor_list_meta_at(const cnnc_tensor_list *list, size_t i,
                                              const char **key, const char **value);

/* ======================================================================== */
/* Modules                                                                  */
/* ======================================================================== */

/* A layer with named parameters, buffers and children, as torch.nn.Module.
 * Reference counted; a container holds one reference to each distinct child.
 * Releasing a module more often than it was retained is caught (the process stops
 * with a message naming the module) while its memory still tells. */
typedef struct cnnc_module cnnc_module;

CNNC_API cnnc_module *cnnc_module_retain(cnnc_module *m);
CNNC_API void cnnc_module_release(cnnc_module *m); /* NULL is a no-op */

/* Most inputs and results of one forward call. */
#define CNNC_MAX_INPUTS 16
#define CNNC_MAX_OUTPUTS 8

/* The module's forward on one input, giving one result (new reference). A module
 * that returns several tensors (MaxPool2d(return_indices=True)) is an error here:
 * call cnnc_module_forward_n. */
CNNC_API cnnc_tensor *cnnc_module_forward(cnnc_module *m, cnnc_tensor *input);
/* The module's forward on n_inputs inputs (0..CNNC_MAX_INPUTS): writes its results
 * (new references) to outputs, which has room for CNNC_MAX_OUTPUTS, and returns
 * their number, or -1 on error (nothing written). Losses take (input, target);
 * MaxPool with return_indices gives (output, indices). */
CNNC_API int cnnc_module_forward_n(cnnc_module *m, int n_inputs, cnnc_tensor *const *inputs,
                                   cnnc_tensor **outputs);

/* ---- user-defined modules ---------------------------------------------------------
 * PyTorch's `class Net(nn.Module)` in C: a module whose forward is a callback, with
 * children, parameters and buffers registered by name. Dotted names, state_dict,
 * train/eval, zero_grad, print(module) and parameter listings then work exactly as
 * for built-in modules:
 *
 *     typedef struct { cnnc_module *fc; } net;          // borrowed pointers
 *     static cnnc_tensor *net_forward(cnnc_module *self, cnnc_tensor *x) {
 *         net *n = cnnc_module_data(self);
 *         return cnnc_relu(cnnc_module_forward(n->fc, x)); // no releases needed
 *     }
 *     ...
 *     net *n = calloc(1, sizeof *n);
 *     cnnc_module *m = cnnc_module_new(&(cnnc_module_def){.type_name = "Net",
 *                                       .forward = net_forward, .free_data = free}, n);
 *     n->fc = cnnc_linear_new(4, 2, CNNC_LINEAR());
 *     cnnc_module_register_module(m, "fc", n->fc);       // state_dict: "fc.weight", ...
 *
 * Forward callbacks run inside a scope (cnnc_scope_begin/end): every tensor the
 * callback creates is released when it returns, except the results, which the
 * library keeps; so a callback never releases tensors and returns results as cnnc
 * functions returned them (not retained once more). On error it returns NULL (or
 * -1) with the error set, like any cnnc function. */
typedef struct cnnc_module_def {
    /* The class name print(module) and cnnc_module_type show ("Net"); copied. */
    const char *type_name;
    /* forward(self, input) -> result; or forward_n for several inputs or results
     * (same contract as cnnc_module_forward_n). Give one of them; neither makes a
     * module that cannot be called (an error, as PyTorch's missing forward). */
    cnnc_tensor *(*forward)(cnnc_module *self, cnnc_tensor *input);
    int (*forward_n)(cnnc_module *self, int n_inputs, cnnc_tensor *const *inputs,
                     cnnc_tensor **outputs);
    /* Optional: the text inside the parentheses of print(module), into buf. */
    void (*extra_repr)(const cnnc_module *self, char *buf, size_t cap);
    /* Optional: frees the data pointer when the module is destroyed. */
    void (*free_data)(void *data);
} cnnc_module_def;
/* A new user-defined module (training mode, nothing registered). def is copied;
 * data is the caller's, returned by cnnc_module_data and freed by def->free_data. */
CNNC_API cnnc_module *cnnc_module_new(const cnnc_module_def *def, void *data);
/* The data pointer of a user-defined module (NULL for built-in modules). */
CNNC_API void *cnnc_module_data(const cnnc_module *m);
/* register_parameter(name, param): param must be a float32 leaf (or NULL: None); it
 * is made to require grad (nn.Parameter). The module retains param: the caller
 * keeps (and releases) its own reference. Names are non-empty, without '.', and
 * unique among the module's parameters, buffers and children (PyTorch's errors). */
CNNC_API cnnc_status cnnc_module_register_parameter(cnnc_module *m, const char *name,
                                                    cnnc_tensor *param);
/* register_buffer(name, tensor, persistent): retains buffer (NULL: None);
 * non-persistent buffers are left out of the state_dict. */
CNNC_API cnnc_status cnnc_module_register_buffer(cnnc_module *m, const char *name,
                                                 cnnc_tensor *buffer, bool persistent);
/* add_module(name, child): takes ownership of the reference passed (also on
 * failure), unless child already is a child of m: registering it under a second
 * name shares it (as assigning one module to two attributes in PyTorch) and takes
 * nothing. A module cannot contain itself. */
CNNC_API cnnc_status cnnc_module_register_module(cnnc_module *m, const char *name,
                                                 cnnc_module *child);
/* get_submodule("layer1.0.conv1"): borrowed, or NULL with CNNC_ERR_NOT_FOUND; ""
 * is m itself. */
CNNC_API cnnc_module *cnnc_module_get_submodule(cnnc_module *m, const char *target);

/* "Linear", "Sequential", a user-defined module's type_name... (borrowed, valid
 * while m lives). */
CNNC_API const char *cnnc_module_type(const cnnc_module *m);

/* train(mode) / eval(), recursing into children, as PyTorch. */
CNNC_API void cnnc_module_train(cnnc_module *m, bool mode);
CNNC_API void cnnc_module_eval(cnnc_module *m);
CNNC_API bool cnnc_module_is_training(const cnnc_module *m);

/* A parameter or buffer by dotted name ("0.weight"): *out is borrowed, and NULL
 * where PyTorch has None (e.g. bias=False). CNNC_ERR_NOT_FOUND if no such name. */
CNNC_API cnnc_status cnnc_module_tensor(cnnc_module *m, const char *name, cnnc_tensor **out);
/* Assigns a parameter or buffer by dotted name (retains t; t may be NULL for a
 * parameter, as `m.bias = None`). */
CNNC_API cnnc_status cnnc_module_set_tensor(cnnc_module *m, const char *name, cnnc_tensor *t);

/* Children, in registration order. Borrowed; i < count. */
CNNC_API size_t cnnc_module_num_children(const cnnc_module *m);
CNNC_API cnnc_module *cnnc_module_child(const cnnc_module *m, size_t i, const char **name);

/* New lists (free with cnnc_tensor_list_free) holding the module's own tensors,
 * in PyTorch's order and with its dotted names: parameters() (no None, each
 * tensor once), buffers(), and state_dict() (parameters and persistent buffers
 * per module, then children; values are detached aliases of the module's tensors). */
CNNC_API cnnc_tensor_list *cnnc_module_named_parameters(cnnc_module *m);
CNNC_API cnnc_tensor_list *cnnc_module_named_buffers(cnnc_module *m);
CNNC_API cnnc_tensor_list *cnnc_module_state_dict(cnnc_module *m);
/* Copies every value of sd into the module's tensor of the same name, after
 * checking every shape (PyTorch's load_state_dict). With strict, missing and
 * unexpected keys are errors too. Nothing is changed when an error is returned. */
CNNC_API cnnc_status cnnc_module_load_state_dict(cnnc_module *m, const cnnc_tensor_list *sd,
                                                 bool strict);
/* The multiply-accumulates of one forward of m on inputs (what `cnnc info` prints
 * per input): convolutions, transposed convolutions and linear layers, counted per
 * call from their weights and output shapes as thop/fvcore count them. The forward
 * runs in eval mode without gradients (running statistics untouched); every
 * module's training flag is restored after. */
CNNC_API cnnc_status cnnc_module_macs(cnnc_module *m, int n_inputs, cnnc_tensor *const *inputs,
                                      int64_t *macs);
/* Zeroes the gradients of all parameters (set_to_none: drops them instead);
 * PyTorch 1.13's default is set_to_none = false. */
CNNC_API void cnnc_module_zero_grad(cnnc_module *m, bool set_to_none);

/* print(module) and the listing of vars(module): training flag, parameters,
 * buffers (name, shape) and the module's settings. Caller frees with cnnc_free. */
CNNC_API char *cnnc_module_repr(const cnnc_module *m);
CNNC_API char *cnnc_module_vars(const cnnc_module *m);

/* The module's settings (in_features, eps, kernel_size...) read by name. */
typedef enum cnnc_value_kind {
    CNNC_VALUE_NONE = 0,
    CNNC_VALUE_BOOL,
    CNNC_VALUE_INT,
    CNNC_VALUE_FLOAT,
    CNNC_VALUE_INTS,   /* a tuple of ints (kernel_size=(3, 3)) */
    CNNC_VALUE_STRING,
    CNNC_VALUE_FLOATS, /* a tuple of floats (scale_factor=(2.0, 1.5)) */
    CNNC_VALUE_KIND_COUNT
} cnnc_value_kind;
typedef struct cnnc_value {
    cnnc_value_kind kind;
    int n;                      /* number of values for CNNC_VALUE_INTS / FLOATS */
    int64_t ints[CNNC_MAX_DIMS];/* INT: ints[0]; BOOL: ints[0] is 0 or 1 */
    double f;                   /* FLOAT */
    const char *s;              /* STRING, borrowed */
    double fs[CNNC_MAX_DIMS];   /* FLOATS */
} cnnc_value;
CNNC_API size_t cnnc_module_num_attrs(const cnnc_module *m);
/* i-th setting: *name borrowed. */
CNNC_API cnnc_status cnnc_module_attr_at(const cnnc_module *m, size_t i, const char **name,
                                         cnnc_value *value);
CNNC_API cnnc_status cnnc_module_attr(const cnnc_module *m, const char *name, cnnc_value *value);

/* A built-in module by its PyTorch class name and constructor keyword arguments,
 * as nn.Conv2d(in_channels=3, out_channels=8, kernel_size=3, padding='same') would
 * be written in Python: names[i] = values[i] for i < n, with PyTorch's defaults for
 * the arguments left out. Ints where floats are expected are accepted; a tuple
 * with a None entry (AdaptiveAvgPool2d((None, 7))) holds CNNC_POOL_KEEP there.
 * Containers (Sequential, ModuleList, ModuleDict) are created empty. Errors: an
 * unknown type (CNNC_ERR_NOT_FOUND), a missing required argument, an unexpected
 * one, a value of the wrong kind (PyTorch's wording), and the constructor's own. */
CNNC_API cnnc_module *cnnc_module_create(const char *type, size_t n, const char *const *names,
                                         const cnnc_value *values);

/* --- concrete modules ---------------------------------------------------- */

typedef struct cnnc_linear_options {
    bool bias;
} cnnc_linear_options;
#define CNNC_LINEAR(...) ((cnnc_linear_options){.bias = true, __VA_ARGS__})
/* nn.Linear(in_features, out_features, bias=True): weight [out, in] from
 * kaiming_uniform(a=sqrt(5)), i.e. U(-1/sqrt(in), 1/sqrt(in)); bias U(same). */
CNNC_API cnnc_module *cnnc_linear_new(int64_t in_features, int64_t out_features,
                                      cnnc_linear_options options);

typedef struct cnnc_relu_options {
    bool inplace;
} cnnc_relu_options;
#define CNNC_RELU(...) ((cnnc_relu_options){.inplace = false, __VA_ARGS__})
/* nn.ReLU(inplace=False); with inplace the forward returns a new reference to
 * its (modified) input. */
CNNC_API cnnc_module *cnnc_relu_new(cnnc_relu_options options);

typedef struct cnnc_flatten_options {
    int start_dim;
    int end_dim;
} cnnc_flatten_options;
#define CNNC_FLATTEN(...) ((cnnc_flatten_options){.start_dim = 1, .end_dim = -1, __VA_ARGS__})
CNNC_API cnnc_module *cnnc_flatten_new(cnnc_flatten_options options);

CNNC_API cnnc_module *cnnc_identity_new(void);

/* nn.Sequential(*modules): takes one reference per distinct module passed (also on
 * failure; a NULL entry makes it fail after releasing the others); a module passed
 * twice is shared, as nn.Sequential(r, r). Children are named "0", "1", ...;
 * forward feeds each child's result to the next. */
CNNC_API cnnc_module *cnnc_sequential_new(int n, cnnc_module *const *modules);
/* Appends a child (takes ownership of the reference, also on failure, unless the
 * module already is a child: then it is shared and nothing is taken). */
CNNC_API cnnc_status cnnc_sequential_append(cnnc_module *seq, cnnc_module *child);
/* nn.ModuleList(modules) and .append: as Sequential, but it has no forward (calling
 * it is PyTorch's missing-forward error); index it with cnnc_module_child. */
CNNC_API cnnc_module *cnnc_modulelist_new(int n, cnnc_module *const *modules);
CNNC_API cnnc_status cnnc_modulelist_append(cnnc_module *list, cnnc_module *child);
/* nn.ModuleDict(): children by key, in insertion order, no forward. set is
 * d[key] = child (replacing an existing key in place; ownership as _append). Read
 * with cnnc_module_get_submodule(d, key). */
CNNC_API cnnc_module *cnnc_moduledict_new(void);
CNNC_API cnnc_status cnnc_moduledict_set(cnnc_module *dict, const char *key, cnnc_module *child);

#ifdef __cplusplus
}
#endif

/* The op families. */
#include "cnnc/conv.h"       /* convolution, transposed convolution */
#include "cnnc/pool.h"       /* max/avg/adaptive pooling, unpooling */
#include "cnnc/resample.h"   /* padding, interpolation */
#include "cnnc/norm.h"       /* batch/layer/instance/group/local-response norm */
#include "cnnc/activation.h" /* activations, softmax, dropout */
#include "cnnc/loss.h"       /* losses: cross entropy, nll, mse, l1, smooth l1, huber, bce, kl */
#include "cnnc/init.h"       /* torch.nn.init */
#include "cnnc/optim.h"      /* optimizers, learning-rate schedulers, gradient clipping */
#include "cnnc/data.h"       /* data sets (IDX, CIFAR-10, synthetic), data loader, sampler */
#include "cnnc/io.h"         /* tensor files: safetensors, state_dicts, NumPy .npy */
#include "cnnc/model.h"      /* model files: architecture + weights, from and to PyTorch */
#include "cnnc/checkpoint.h" /* training checkpoints: model, optimizer, scheduler, RNG */
#include "cnnc/distributed.h" /* MPI: collectives, DDP, SyncBatchNorm (MPI builds only) */
#endif /* CNNC_H */
