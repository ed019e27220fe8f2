/* Pooling modules: MaxPool{1,2,3}d, AvgPool{1,2,3}d, AdaptiveAvgPool{1,2,3}d,
 * AdaptiveMaxPool{1,2,3}d, MaxUnpool{1,2,3}d. One state struct; each kind lists
 * the settings PyTorch gives it, in the forms PyTorch keeps them (an int stays an
 * int, _single/_pair/_triple make tuples). */
#include "core/error.h"
#include "core/args.h"
#include "nn/module.h"
#include "ops/pool.h"

typedef struct pool_state {
    int nsp; /* spatial dims: 1, 2, 3 */
    cnnc_ints kernel_size, stride, padding, dilation, output_size;
    bool return_indices, ceil_mode, count_include_pad;
    cnnc_optional_int divisor_override;
} pool_state;

#define S(m) CNNC__STATE(m, const pool_state)
#define F(member, KIND) CNNC__FIELD(pool_state, member, KIND)
static const cnnc__field maxpool_fields[] = {
    F(kernel_size, INTS), F(stride, INTS), F(padding, INTS), F(dilation, INTS),
    F(return_indices, BOOL), F(ceil_mode, BOOL)};
static const cnnc__field avgpool1d_fields[] = {
    F(kernel_size, TUPLE), F(stride, TUPLE), F(padding, TUPLE), F(ceil_mode, BOOL),
    F(count_include_pad, BOOL)};
static const cnnc__field avgpool_fields[] = {
    F(kernel_size, INTS), F(stride, INTS), F(padding, INTS), F(ceil_mode, BOOL),
    F(count_include_pad, BOOL), F(divisor_override, OPT_INT)};
static const cnnc__field adaptiveavg_fields[] = {F(output_size, INTS)};
static const cnnc__field adaptivemax_fields[] = {F(output_size, INTS), F(return_indices, BOOL)};
static const cnnc__field maxunpool_fields[] = {F(kernel_size, TUPLE), F(stride, TUPLE), F(padding, TUPLE)};
#undef F

static void window_repr(const cnnc_module *m, cnnc__strbuf *s) {
    static const char *const names[] = {"kernel_size", "stride", "padding", "dilation", "ceil_mode"};
    cnnc__repr_fields(m, s, 5, names);
}
static void kernel_stride_padding_repr(const cnnc_module *m, cnnc__strbuf *s) {
    cnnc__repr_fields(m, s, 3, (const char *const[]){"kernel_size", "stride", "padding"});
}
static void output_size_repr(const cnnc_module *m, cnnc__strbuf *s) {
    cnnc__repr_fields(m, s, 1, (const char *const[]){"output_size"});
}

/* Puts one or two results into out: the output, and the indices when asked. */
static int with_indices(cnnc_tensor *y, cnnc_tensor *idx, bool want, cnnc_tensor **out) {
    if (!y) return -1;
    out[0] = y;
    if (want) out[1] = idx;
    else cnnc_tensor_release(idx);
    return want ? 2 : 1;
}

/* ---- MaxPool, AdaptiveMaxPool: (output) or (output, indices) ---------------------------- */

static cnnc_max_pool_options maxpool_options(const cnnc_module *m) {
    return CNNC_MAX_POOL2D(.kernel_size = S(m)->kernel_size, .stride = S(m)->stride,
                           .padding = S(m)->padding, .dilation = S(m)->dilation,
                           .ceil_mode = S(m)->ceil_mode);
}

static cnnc_tensor *maxpool_run(cnnc_module *m, cnnc_tensor *x, cnnc_tensor **idx) {
    return cnnc__op_max_pool(x, S(m)->nsp, maxpool_options(m), idx);
}
static cnnc_tensor *adaptivemax_run(cnnc_module *m, cnnc_tensor *x, cnnc_tensor **idx) {
    return cnnc__op_adaptive_max(x, S(m)->nsp, S(m)->output_size, idx);
}

static int max_forward_n(cnnc_module *m, int n_in, cnnc_tensor *const *in, cnnc_tensor **out,
                         cnnc_tensor *(*run)(cnnc_module *, cnnc_tensor *, cnnc_tensor **)) {
    if (n_in != 1)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "%s.forward() takes 2 positional arguments but %d were given",
                           m->type->name, n_in + 1), -1;
    cnnc_tensor *idx = NULL;
    const bool want = S(m)->return_indices;
    cnnc_tensor *y = run(m, in[0], want ? &idx : NULL); /* sets idx: call before reading it */
    return with_indices(y, idx, want, out);
}
static int maxpool_forward_n(cnnc_module *m, int n_in, cnnc_tensor *const *in, cnnc_tensor **out) {
    return max_forward_n(m, n_in, in, out, maxpool_run);
}
static int adaptivemax_forward_n(cnnc_module *m, int n_in, cnnc_tensor *const *in, cnnc_tensor **out) {
    return max_forward_n(m, n_in, in, out, adaptivemax_run);
}

#define POOL_TYPE(Name, fields_, fwd_field, fwd, repr)                                       \
    {.name = Name, .state_size = sizeof(pool_state), .fields = fields_,                     \
     .n_fields = CNNC__NFIELDS(fields_), .fwd_field = fwd, .extra_repr = repr}
#define THREE_TYPES(Base, fields_, fwd_field, fwd, repr)                                     \
    {POOL_TYPE(Base "1d", fields_, fwd_field, fwd, repr),                                    \
     POOL_TYPE(Base "2d", fields_, fwd_field, fwd, repr),                                    \
     POOL_TYPE(Base "3d", fields_, fwd_field, fwd, repr)}

static const cnnc__module_type maxpool_types[3] =
    THREE_TYPES("MaxPool", maxpool_fields, forward_n, maxpool_forward_n, window_repr);
static const cnnc__module_type adaptivemax_types[3] =
    THREE_TYPES("AdaptiveMaxPool", adaptivemax_fields, forward_n, adaptivemax_forward_n, output_size_repr);

/* Every window setting holds 0..CNNC_MAX_DIMS values. */
static cnnc_status check_window(const char *name, const cnnc_ints *k, const cnnc_ints *s,
                                const cnnc_ints *p, const cnnc_ints *d) {
    if (cnnc__check_ints(name, "kernel_size", k) || cnnc__check_ints(name, "stride", s) ||
        cnnc__check_ints(name, "padding", p) || (d && cnnc__check_ints(name, "dilation", d)))
        return CNNC_ERR_INVALID_ARGUMENT;
    if (cnnc__ints_is_none(k))
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "%s.__init__() missing 1 required positional argument: 'kernel_size'", name);
    return CNNC_OK;
}

/* torch: `stride if (stride is not None) else kernel_size` */
static cnnc_ints stride_or_kernel(cnnc_ints stride, cnnc_ints kernel_size) {
    return cnnc__ints_is_none(&stride) ? kernel_size : stride;
}

static cnnc_module *make(const cnnc__module_type *type, pool_state s) {
    cnnc_module *m = cnnc__module_new(type);
    if (m) *CNNC__STATE(m, pool_state) = s;
    return m;
}

static cnnc_module *maxpool_new(int nsp, cnnc_max_pool_options o) {
    const cnnc__module_type *t = &maxpool_types[nsp - 1];
    if (check_window(t->name, &o.kernel_size, &o.stride, &o.padding, &o.dilation)) return NULL;
    return make(t, (pool_state){.nsp = nsp, .kernel_size = o.kernel_size,
                                .stride = stride_or_kernel(o.stride, o.kernel_size),
                                .padding = o.padding, .dilation = o.dilation,
                                .return_indices = o.return_indices, .ceil_mode = o.ceil_mode});
}
cnnc_module *cnnc_maxpool1d_new(cnnc_max_pool_options o) { return maxpool_new(1, o); }
cnnc_module *cnnc_maxpool2d_new(cnnc_max_pool_options o) { return maxpool_new(2, o); }
cnnc_module *cnnc_maxpool3d_new(cnnc_max_pool_options o) { return maxpool_new(3, o); }

/* ---- AvgPool ------------------------------------------------------------------------- */

static cnnc_tensor *avgpool_forward(cnnc_module *m, cnnc_tensor *x) {
    const pool_state *s = S(m);
    return cnnc__op_avg_pool(x, s->nsp, &s->kernel_size, &s->stride, &s->padding, s->ceil_mode,
                             s->count_include_pad, s->divisor_override);
}

static const cnnc__module_type avgpool1d_type =
    POOL_TYPE("AvgPool1d", avgpool1d_fields, forward, avgpool_forward, kernel_stride_padding_repr);
static const cnnc__module_type avgpool_types[2] = {
    POOL_TYPE("AvgPool2d", avgpool_fields, forward, avgpool_forward, kernel_stride_padding_repr),
    POOL_TYPE("AvgPool3d", avgpool_fields, forward, avgpool_forward, kernel_stride_padding_repr)};

cnnc_module *cnnc_avgpool1d_new(cnnc_avg_pool1d_options o) {
    if (check_window("AvgPool1d", &o.kernel_size, &o.stride, &o.padding, NULL)) return NULL;
    /* torch: _single(kernel_size), _single(stride or kernel_size), _single(padding) */
    return make(&avgpool1d_type,
                (pool_state){.nsp = 1, .kernel_size = cnnc__ntuple(o.kernel_size, 1),
                             .stride = cnnc__ntuple(stride_or_kernel(o.stride, o.kernel_size), 1),
                             .padding = cnnc__ntuple(o.padding, 1), .ceil_mode = o.ceil_mode,
                             .count_include_pad = o.count_include_pad});
}

static cnnc_module *avgpool_new(int nsp, cnnc_avg_pool_options o) {
    const cnnc__module_type *t = &avgpool_types[nsp - 2];
    if (check_window(t->name, &o.kernel_size, &o.stride, &o.padding, NULL)) return NULL;
    return make(t, (pool_state){.nsp = nsp, .kernel_size = o.kernel_size,
                                .stride = stride_or_kernel(o.stride, o.kernel_size),
                                .padding = o.padding, .ceil_mode = o.ceil_mode,
                                .count_include_pad = o.count_include_pad,
                                .divisor_override = o.divisor_override});
}
cnnc_module *cnnc_avgpool2d_new(cnnc_avg_pool_options o) { return avgpool_new(2, o); }
cnnc_module *cnnc_avgpool3d_new(cnnc_avg_pool_options o) { return avgpool_new(3, o); }

/* ---- AdaptiveAvgPool, AdaptiveMaxPool --------------------------------------------------- */

static cnnc_tensor *adaptiveavg_forward(cnnc_module *m, cnnc_tensor *x) {
    return cnnc__op_adaptive_avg(x, S(m)->nsp, S(m)->output_size);
}
static const cnnc__module_type adaptiveavg_types[3] =
    THREE_TYPES("AdaptiveAvgPool", adaptiveavg_fields, forward, adaptiveavg_forward, output_size_repr);

static cnnc_module *adaptive_new(const cnnc__module_type *types, int nsp, cnnc_ints output_size,
                                 bool return_indices) {
    const cnnc__module_type *t = &types[nsp - 1];
    if (cnnc__check_ints(t->name, "output_size", &output_size)) return NULL;
    return make(t, (pool_state){.nsp = nsp, .output_size = output_size,
                                .return_indices = return_indices});
}
cnnc_module *cnnc_adaptiveavgpool1d_new(cnnc_ints s) { return adaptive_new(adaptiveavg_types, 1, s, false); }
cnnc_module *cnnc_adaptiveavgpool2d_new(cnnc_ints s) { return adaptive_new(adaptiveavg_types, 2, s, false); }
cnnc_module *cnnc_adaptiveavgpool3d_new(cnnc_ints s) { return adaptive_new(adaptiveavg_types, 3, s, false); }
cnnc_module *cnnc_adaptivemaxpool1d_new(cnnc_ints s, bool ri) { return adaptive_new(adaptivemax_types, 1, s, ri); }
cnnc_module *cnnc_adaptivemaxpool2d_new(cnnc_ints s, bool ri) { return adaptive_new(adaptivemax_types, 2, s, ri); }
cnnc_module *cnnc_adaptivemaxpool3d_new(cnnc_ints s, bool ri) { return adaptive_new(adaptivemax_types, 3, s, ri); }

/* ---- MaxUnpool: forward(input, indices[, output_size]) ------------------------------------ */

static cnnc_tensor *maxunpool_run(cnnc_module *m, cnnc_tensor *x, cnnc_tensor *indices,
                                  cnnc_ints output_size) {
    const pool_state *s = S(m);
    return cnnc__op_max_unpool(x, indices, s->nsp,
                               CNNC_MAX_UNPOOL2D(.kernel_size = s->kernel_size, .stride = s->stride,
                                                 .padding = s->padding, .output_size = output_size));
}

static int maxunpool_forward_n(cnnc_module *m, int n_in, cnnc_tensor *const *in, cnnc_tensor **out) {
    if (n_in != 2)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "%s.forward() takes (input, indices): %d inputs given", m->type->name,
                           n_in), -1;
    out[0] = maxunpool_run(m, in[0], in[1], (cnnc_ints)CNNC_INTS_NONE);
    return out[0] ? 1 : -1;
}
static const cnnc__module_type maxunpool_types[3] =
    THREE_TYPES("MaxUnpool", maxunpool_fields, forward_n, maxunpool_forward_n, kernel_stride_padding_repr);

static cnnc_module *maxunpool_new(int nsp, cnnc_max_unpool_options o) {
    const cnnc__module_type *t = &maxunpool_types[nsp - 1];
    if (check_window(t->name, &o.kernel_size, &o.stride, &o.padding, NULL)) return NULL;
    if (!cnnc__ints_is_none(&o.output_size))
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                "%s(): output_size is an argument of forward, not of the constructor", t->name);
    return make(t, (pool_state){.nsp = nsp, .kernel_size = cnnc__ntuple(o.kernel_size, nsp),
                                .stride = cnnc__ntuple(stride_or_kernel(o.stride, o.kernel_size), nsp),
                                .padding = cnnc__ntuple(o.padding, nsp)});
}
cnnc_module *cnnc_maxunpool1d_new(cnnc_max_unpool_options o) { return maxunpool_new(1, o); }
cnnc_module *cnnc_maxunpool2d_new(cnnc_max_unpool_options o) { return maxunpool_new(2, o); }
cnnc_module *cnnc_maxunpool3d_new(cnnc_max_unpool_options o) { return maxunpool_new(3, o); }

/* ---- forwards with arguments beyond tensors ------------------------------------------------- */

static bool is_kind(const cnnc_module *m, const cnnc__module_type *types) {
    return m->type >= types && m->type < types + 3;
}

cnnc_tensor *cnnc_pool_module_forward_with_indices(cnnc_module *m, cnnc_tensor *x, cnnc_tensor **indices) {
    if (!indices)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                "cnnc_pool_module_forward_with_indices(): argument 'indices' is NULL");
    *indices = NULL;
    CNNC__NONNULL_OR_NULL("cnnc_pool_module_forward_with_indices", m);
    cnnc_tensor *idx = NULL, *y;
    if (is_kind(m, maxpool_types))
        y = maxpool_run(m, x, &idx);
    else if (is_kind(m, adaptivemax_types))
        y = adaptivemax_run(m, x, &idx);
    else
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                "cnnc_pool_module_forward_with_indices(): a %s has no indices (MaxPool or "
                                "AdaptiveMaxPool expected)", m->type->name);
    if (!y) return NULL;
    y = cnnc__give(y);
    if (!y) {
        cnnc_tensor_release(idx);
        return NULL;
    }
    *indices = cnnc__give(idx);
    return *indices ? y : NULL;
}

cnnc_tensor *cnnc_maxunpool_module_forward(cnnc_module *m, cnnc_tensor *x, cnnc_tensor *indices,
                                           cnnc_ints output_size) {
    CNNC__NONNULL_OR_NULL("cnnc_maxunpool_module_forward", m);
    if (!is_kind(m, maxunpool_types))
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                "cnnc_maxunpool_module_forward(): a %s is not a MaxUnpool module", m->type->name);
    return cnnc__give(maxunpool_run(m, x, indices, output_size));
}
