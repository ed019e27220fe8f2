/* Internal: the generic module every layer is built on.
 *
 * A module is a cnnc_module (named parameters, buffers and children, train/eval)
 * plus the typed state of its kind, stored in the same allocation right after it
 * (CNNC__STATE). A kind is a cnnc__module_type: its name, the size of its state, a
 * table of the state's settings (the fields PyTorch users see as attributes:
 * kernel_size, eps, ...), its forward and its repr. Attribute listings
 * (vars(layer), cnnc_module_attr) are derived from that table, never stored beside
 * the state. User-defined modules (cnnc_module_new) are one more kind whose
 * callbacks come from the caller's cnnc_module_def.
 *
 * A built-in forward receives and returns references the usual internal way: a new
 * reference that no scope owns (the public wrappers hand it to the caller's scope).
 */
#ifndef CNNC_NN_MODULE_H
#define CNNC_NN_MODULE_H
#include <stddef.h>

#include "core/strbuf.h"
#include "core/tensor.h"

/* Deepest module nesting the recursive walks (repr, listings, train...) accept:
 * beyond it they fail with an error instead of exhausting the stack (PyTorch
 * raises RecursionError at a similar depth). */
enum { CNNC__MAX_MODULE_DEPTH = 1024 };

/* ---- settings: the typed fields of a kind's state, described once -------------- */

typedef enum cnnc__field_kind {
    CNNC__F_INT,       /* int64_t */
    CNNC__F_BOOL,      /* bool */
    CNNC__F_FLOAT,     /* double */
    CNNC__F_NUMBER,    /* double, listed as an int when integral (Softplus(beta=1)) */
    CNNC__F_OPT_FLOAT, /* cnnc_optional_double: None or a float */
    CNNC__F_OPT_INT,   /* cnnc_optional_int: None or an int */
    CNNC__F_OPT_BOOL,  /* int: -1 is None, else a bool */
    CNNC__F_INTS,      /* cnnc_ints in its form: None, an int, or a tuple (1-tuples, () too) */
    CNNC__F_TUPLE,     /* cnnc_ints always listed as a tuple: the int k as (k,), None as () */
    CNNC__F_DOUBLES,   /* cnnc_doubles in its form: None, a float, or a tuple */
    CNNC__F_STRING,    /* const char *, a static string */
    CNNC__F_INTS_OR_STRING, /* cnnc__ints_or_string: the string if set, else a tuple */
    CNNC__F_KIND_COUNT
} cnnc__field_kind;

/* A setting that is a tuple or a string (Conv2d's padding: (1, 1) or 'same'). */
typedef struct cnnc__ints_or_string {
    cnnc_ints ints;
    const char *str; /* static; NULL: the tuple */
} cnnc__ints_or_string;

typedef struct cnnc__field {
    const char *name;      /* PyTorch's attribute name */
    cnnc__field_kind kind;
    size_t offset;         /* in the kind's state struct */
} cnnc__field;
#define CNNC__FIELD(State, member, KIND) {#member, CNNC__F_##KIND, offsetof(State, member)}
#define CNNC__NFIELDS(table) ((int)(sizeof(table) / sizeof((table)[0])))

/* The value of field f of a state (see cnnc_value in cnnc.h). */
cnnc_value cnnc__field_value(const void *state, const cnnc__field *f);
/* Python's text of a value: 3, (3, 3), (3,), 0.1, True, None, 'zeros'. */
void cnnc__value_text(cnnc__strbuf *s, const cnnc_value *v);
/* The field of m's kind named name, or NULL. */
const cnnc__field *cnnc__module_field(const cnnc_module *m, const char *name);
/* "name=<text of the field>" for each named field of m, joined by ", " (the usual
 * shape of an extra_repr). */
void cnnc__repr_fields(const cnnc_module *m, cnnc__strbuf *s, int n, const char *const *names);

/* ---- kinds ------------------------------------------------------------------------ */

typedef struct cnnc__module_type {
    const char *name;    /* "Linear" */
    size_t state_size;   /* bytes of typed state (CNNC__STATE) */
    const cnnc__field *fields;
    int n_fields;
    /* One of the two forwards (or neither: the module cannot be called, as
     * ModuleList). forward: one input, one result; forward_n: n_in inputs, writes
     * up to CNNC_MAX_OUTPUTS results into out and returns their count, or -1 with
     * the error set (nothing written). Results are new references no scope owns. */
    cnnc_tensor *(*forward)(cnnc_module *m, cnnc_tensor *x);
    int (*forward_n)(cnnc_module *m, int n_in, cnnc_tensor *const *in, cnnc_tensor **out);
    /* The text inside the parentheses of print(module); NULL prints nothing. */
    void (*extra_repr)(const cnnc_module *m, cnnc__strbuf *s);
    /* The name shown by print(module) and cnnc_module_type when it is not `name`
     * (user-defined modules); NULL for built-in kinds. */
    const char *(*type_name)(const cnnc_module *m);
    /* Frees what the state owns (caches, user data); NULL if nothing. */
    void (*destroy)(cnnc_module *m);
} cnnc__module_type;

typedef struct cnnc__entry {
    char *name;      /* owned */
    cnnc_tensor *t;  /* owned reference; NULL is PyTorch's None */
    bool persistent; /* buffers only: part of the state_dict */
} cnnc__entry;

typedef struct cnnc__child {
    char *name;     /* owned */
    cnnc_module *m;
    bool owns;      /* this slot holds the module's reference: the first slot of a
                       child shared under several names (nn.Sequential(r, r)) */
} cnnc__child;

enum { CNNC__MODULE_MAGIC = 0x6d6f646c }; /* "modl" */

struct cnnc_module {
    uint32_t magic; /* CNNC__MODULE_MAGIC while alive: catches a release too many */
    atomic_int refcount;
    const cnnc__module_type *type;
    bool training;
    cnnc__entry *params, *buffers;
    size_t n_params, cap_params, n_buffers, cap_buffers;
    cnnc__child *children;
    size_t n_children, cap_children;
    _Alignas(max_align_t) unsigned char state[]; /* type->state_size bytes of typed state */
};
#define CNNC__STATE(m, Type) ((Type *)(void *)(m)->state)

/* A new module of `type` in training mode with zeroed state and no entries. */
cnnc_module *cnnc__module_new(const cnnc__module_type *type);
/* Registration (names: non-empty, no '.', unique among the module's entries).
 * add_param/add_buffer take ownership of the reference passed, also on failure;
 * add_child takes ownership of one reference per distinct child: registering a
 * module that already is a child of m (a shared child) consumes nothing. */
cnnc_status cnnc__module_add_param(cnnc_module *m, const char *name, cnnc_tensor *t);
cnnc_status cnnc__module_add_buffer(cnnc_module *m, const char *name, cnnc_tensor *t,
                                    bool persistent);
cnnc_status cnnc__module_add_child(cnnc_module *m, const char *name, cnnc_module *child);
/* Replaces the child named name (ModuleDict's d[key] = module), or adds it. Same
 * ownership rule as add_child. */
cnnc_status cnnc__module_set_child(cnnc_module *m, const char *name, cnnc_module *child);
/* The module's own parameter / buffer by name (borrowed; NULL if None or absent). */
cnnc_tensor *cnnc__module_param(const cnnc_module *m, const char *name);
cnnc_tensor *cnnc__module_buffer(const cnnc_module *m, const char *name);
/* The displayed type name ("Conv2d", or a user-defined module's own). */
const char *cnnc__module_name(const cnnc_module *m);

/* Calls m's forward the internal way: a new reference no scope owns. */
cnnc_tensor *cnnc__module_call(cnnc_module *m, cnnc_tensor *x);
int cnnc__module_call_n(cnnc_module *m, int n_in, cnnc_tensor *const *in, cnnc_tensor **out);

/* A function run after every successful module forward on this thread (NULL: none),
 * with the module, its inputs and its results (all borrowed): cnnc_module_macs. */
typedef void (*cnnc__call_hook)(void *ctx, const cnnc_module *m, int n_in, cnnc_tensor *const *in, int n_out,
                                cnnc_tensor *const *out);
void cnnc__set_call_hook(cnnc__call_hook hook, void *ctx);
/* Is a hook set on this thread (then every module call should produce its own result)? */
bool cnnc__call_hook_set(void);

/* Is m a (not transposed) Conv1d/2d/3d? Its forward with a weight and bias of
 * the caller's instead of its own (eval-mode BatchNorm folding in the model runtime);
 * _act: inference only (ops/conv.h, cnnc__op_conv_act), with the filters w times
 * wscale [out channels] (NULL: none; a BatchNorm's scale, folded where the module's
 * packed weights are kept) and the activation act (NULL: none) in the convolution's
 * epilogue. */
struct cnnc__act_spec;
bool cnnc__is_conv_module(const cnnc_module *m);
cnnc_tensor *cnnc__conv_module_apply(cnnc_module *m, cnnc_tensor *x, cnnc_tensor *w, cnnc_tensor *b);
cnnc_tensor *cnnc__conv_module_apply_act(cnnc_module *m, cnnc_tensor *x, cnnc_tensor *w, const float *wscale,
                                         cnnc_tensor *b, const struct cnnc__act_spec *act);
/* Conv module m's dim and options for the functional op, and true; false when its
 * padding_mode is not zeros (its forward pads first, then convolves with these options
 * but no padding). */
bool cnnc__conv_module_options(const cnnc_module *m, int *dim, cnnc_conv_options *o);
/* Conv module m's cache of packed filters (ops/conv.h), kept in its typed state. */
struct cnnc__conv_wcache *cnnc__conv_module_wcache(cnnc_module *m);
/* Is m a pointwise activation module (ReLU, ReLU6, Hardtanh, LeakyReLU, ELU, CELU, SELU,
 * SiLU, Mish, Hardsigmoid, Hardswish, Sigmoid, Tanh, Softplus, GELU)? Then *s is the
 * activation its forward applies (ops/activation.h), and true. */
bool cnnc__activation_module_spec(const cnnc_module *m, struct cnnc__act_spec *s);
/* Is m a BatchNorm1d/2d/3d? When it is in eval mode with running statistics for
 * `channels` channels, its y = x * scale[c] + shift[c] (in double), and true. */
bool cnnc__is_batchnorm_module(const cnnc_module *m);
bool cnnc__batchnorm_eval_affine(const cnnc_module *m, int64_t channels, double *scale, double *shift);
/* The forward of BatchNorm module m in training mode followed by the activation act
 * (ops/norm.h, cnnc__op_batch_norm_act: ReLU or Hardtanh) in one pass: counts the batch
 * and updates the running statistics as the forward does. NULL with the error set
 * (also when m is no BatchNorm in training mode). */
struct cnnc__norm_act;
cnnc_tensor *cnnc__batchnorm_act_forward(cnnc_module *m, cnnc_tensor *x, const struct cnnc__norm_act *act);
/* Runs the call hook (cnnc__set_call_hook) for a call made another way (a folded
 * convolution of the model runtime counts as the module calls it replaces). */
void cnnc__module_called(const cnnc_module *m, int n_in, cnnc_tensor *const *in, int n_out, cnnc_tensor *const *out);

/* The error of a recursive walk that went past CNNC__MAX_MODULE_DEPTH. */
cnnc_status cnnc__module_depth_error(const char *fn);

/* A new leaf parameter of shape, requires_grad: U(-bound, bound) / filled with v.
 * While skip-init is set on the thread (the model loader, which overwrites every
 * value), U(-bound, bound) is zeros and draws nothing from the generator;
 * set_skip_init returns the previous setting. */
bool cnnc__set_skip_init(bool skip);
cnnc_tensor *cnnc__uniform_param(int ndim, const int64_t *shape, double bound);
cnnc_tensor *cnnc__filled_param(int ndim, const int64_t *shape, float v);
#endif
