/* cnnc public API: optimizers, learning-rate schedulers and gradient clipping
 * (torch.optim, torch.optim.lr_scheduler, torch.nn.utils.clip_grad_*), with
 * PyTorch 1.13's update formulas, rounding included. Included by cnnc.h;
 * include <cnnc.h>, not this.
 *
 *     cnnc_tensor_list *params = cnnc_module_named_parameters(net);
 *     cnnc_optimizer *opt = cnnc_sgd_new(CNNC_PARAM_LIST(params),
 *                                        CNNC_SGD(.lr = 0.1, .momentum = 0.9));
 *     cnnc_lr_scheduler *sched = cnnc_steplr_new(opt, 30, CNNC_STEPLR(.gamma = 0.1));
 *     for (int epoch = 0; epoch < 90; epoch++) {
 *         for (each batch) {
 *             cnnc_optimizer_zero_grad(opt, false);
 *             cnnc_backward(loss_of_the_batch, NULL, false);
 *             cnnc_tensor_release(cnnc_clip_grad_norm_(CNNC_PARAM_LIST(params), 1.0,
 *                                                      CNNC_CLIP_GRAD_NORM()));
 *             cnnc_optimizer_step(opt);
 *         }
 *         cnnc_lr_scheduler_step(sched);
 *     }
 *     cnnc_lr_scheduler_release(sched);
 *     cnnc_optimizer_release(opt);
 *     cnnc_tensor_list_free(params);
 *
 * Common rules
 * - Numbers: parameters and optimizer state are float32 and updated with the
 *   same float operations, in the same order, as PyTorch 1.13's single-tensor
 *   (for-loop) implementations on an AVX2 CPU: `add(x, alpha=a)` and `addcmul`
 *   are fused multiply-adds, scalars are rounded to float where PyTorch rounds
 *   them, hyperparameter arithmetic (bias corrections, learning rates) is done
 *   in double as Python does. Results agree with PyTorch bit for bit.
 * - Hyperparameters live in parameter groups, PyTorch's param_groups dicts:
 *   each group has the optimizer's keys (PyTorch's names, in PyTorch's order)
 *   and any key added later (schedulers add "initial_lr", OneCycleLR "max_lr"
 *   ...). Like PyTorch, only the constructor's defaults are validated; values
 *   set on a group later are taken as they are.
 * - Optimizers and schedulers are reference counted (retain / release); a
 *   scheduler holds a reference to its optimizer, SequentialLR to its
 *   schedulers, an optimizer to its parameters.
 * - Errors follow PyTorch's wording; nothing is changed when an error is
 *   returned unless the function says so (a scheduler's step, like PyTorch's,
 *   counts the epoch before computing the learning rates that fail).
 */
#ifndef CNNC_OPTIM_H
#define CNNC_OPTIM_H
#ifndef CNNC_H
#error "include <cnnc.h> instead"
#endif
#include <math.h> /* NAN, for CNNC_SGD's required lr */
#ifdef __cplusplus
extern "C" {
#endif

/* ======================================================================== */
/* Parameters and parameter groups                                          */
/* ======================================================================== */

/* The tensors to optimize (or clip): either a tensor list (its names are
 * ignored; e.g. cnnc_module_named_parameters) or an array of n tensors, not
 * both. Borrowed for the duration of the call.
 *     CNNC_PARAM_LIST(list), CNNC_PARAM_ARRAY(n, array), CNNC_PARAMS(w, b) */
typedef struct cnnc_params {
    const cnnc_tensor_list *list;
    size_t n;
    cnnc_tensor *const *tensors;
} cnnc_params;
#define CNNC_PARAM_LIST(l) ((cnnc_params){.list = (l)})
#define CNNC_PARAM_ARRAY(count, array) ((cnnc_params){.n = (count), .tensors = (array)})
#define CNNC_PARAMS(...)                                                                 \
    ((cnnc_params){.n = sizeof((cnnc_tensor *[]){__VA_ARGS__}) / sizeof(cnnc_tensor *), \
                   .tensors = (cnnc_tensor *[]){__VA_ARGS__}})

/* One entry of a param_groups dict: PyTorch's key and a value. Numbers are
 * CNNC_VALUE_FLOAT (CNNC_VALUE_INT is accepted for them), flags
 * CNNC_VALUE_BOOL (ints[0] 0 or 1), "betas" CNNC_VALUE_FLOATS with n = 2,
 * "foreach" CNNC_VALUE_NONE or BOOL; keys the optimizer does not know may
 * also hold CNNC_VALUE_INT, CNNC_VALUE_STRING (copied) or up to CNNC_MAX_DIMS
 * FLOATS. */
typedef struct cnnc_hparam {
    const char *name;
    cnnc_value value;
} cnnc_hparam;
#define CNNC_HPARAM(key, x) \
    ((cnnc_hparam){.name = (key), .value = {.kind = CNNC_VALUE_FLOAT, .f = (x)}})
#define CNNC_HPARAM_BOOL(key, b) \
    ((cnnc_hparam){.name = (key), .value = {.kind = CNNC_VALUE_BOOL, .ints = {(b) ? 1 : 0}}})
#define CNNC_HPARAM_BETAS(beta1, beta2)                                                   \
    ((cnnc_hparam){.name = "betas",                                                        \
                   .value = {.kind = CNNC_VALUE_FLOATS, .n = 2, .fs = {(beta1), (beta2)}}})

/* A parameter group as PyTorch's dict {'params': ..., 'lr': ..., ...}: keys not
 * given take the optimizer's defaults. Designated initializers keep -Wextra quiet:
 *     (cnnc_param_group){.params = CNNC_PARAM_LIST(biases),
 *                        CNNC_HPARAMS(CNNC_HPARAM("weight_decay", 0))} */
typedef struct cnnc_param_group {
    cnnc_params params;
    size_t n_hparams;
    const cnnc_hparam *hparams;
} cnnc_param_group;
#define CNNC_HPARAMS(...)                                                      \
    .n_hparams = sizeof((cnnc_hparam[]){__VA_ARGS__}) / sizeof(cnnc_hparam), \
    .hparams = (const cnnc_hparam[]) { __VA_ARGS__ }

/* ======================================================================== */
/* Optimizers                                                               */
/* ======================================================================== */

typedef struct cnnc_optimizer cnnc_optimizer;

/* optim.SGD(params, lr=required, momentum=0, dampening=0, weight_decay=0,
 * nesterov=False, *, maximize=False). lr has no default, as in PyTorch 1.13:
 * NaN (the macro's value) means "not given", and then every group must set
 * "lr" ("parameter group didn't specify a value of required optimization
 * parameter lr"). Errors: "Invalid learning rate: -1", "Invalid momentum
 * value: ...", "Invalid weight_decay value: ...", "Nesterov momentum requires
 * a momentum and zero dampening". State per parameter: momentum_buffer (None
 * while momentum is 0). */
typedef struct cnnc_sgd_options {
    double lr;
    double momentum;
    double dampening;
    double weight_decay;
    bool nesterov;
    bool maximize;
} cnnc_sgd_options;
#define CNNC_SGD(...)                                                                    \
    ((cnnc_sgd_options){.lr = NAN, .momentum = 0.0, .dampening = 0.0, .weight_decay = 0.0, \
                        .nesterov = false, .maximize = false, __VA_ARGS__})

/* optim.Adam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
 * amsgrad=False, *, maximize=False) and optim.AdamW(..., weight_decay=1e-2, ...)
 * (decoupled weight decay: p *= 1 - lr * weight_decay before the Adam step).
 * Errors: "Invalid learning rate: ...", "Invalid epsilon value: ...", "Invalid
 * beta parameter at index 0: ...", "Invalid weight_decay value: ...". State:
 * step (a float32 0-d tensor, as 1.13), exp_avg, exp_avg_sq, max_exp_avg_sq
 * (with amsgrad), created at a parameter's first step. */
typedef struct cnnc_adam_options {
    double lr;
    double betas[2];
    double eps;
    double weight_decay;
    bool amsgrad;
    bool maximize;
} cnnc_adam_options;
typedef cnnc_adam_options cnnc_adamw_options;
#define CNNC_ADAM(...)                                                                        \
    ((cnnc_adam_options){.lr = 1e-3, .betas = {0.9, 0.999}, .eps = 1e-8, .weight_decay = 0.0, \
                         .amsgrad = false, .maximize = false, __VA_ARGS__})
#define CNNC_ADAMW(...)                                                                        \
    ((cnnc_adamw_options){.lr = 1e-3, .betas = {0.9, 0.999}, .eps = 1e-8, .weight_decay = 1e-2, \
                          .amsgrad = false, .maximize = false, __VA_ARGS__})

/* optim.RMSprop(params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0,
 * momentum=0, centered=False, maximize=False). Errors for a negative lr, eps,
 * momentum, weight_decay or alpha ("Invalid alpha value: ..."). State: step (an
 * int64 0-d tensor: 1.13 keeps a Python int), square_avg, momentum_buffer (when
 * momentum > 0 at the first step), grad_avg (when centered at the first step). */
typedef struct cnnc_rmsprop_options {
    double lr;
    double alpha;
    double eps;
    double weight_decay;
    double momentum;
    bool centered;
    bool maximize;
} cnnc_rmsprop_options;
#define CNNC_RMSPROP(...)                                                                  \
    ((cnnc_rmsprop_options){.lr = 1e-2, .alpha = 0.99, .eps = 1e-8, .weight_decay = 0.0, \
                            .momentum = 0.0, .centered = false, .maximize = false, __VA_ARGS__})

/* optim.Adagrad(params, lr=1e-2, lr_decay=0, weight_decay=0,
 * initial_accumulator_value=0, eps=1e-10, *, maximize=False). Errors for a
 * negative lr, lr_decay, weight_decay, initial_accumulator_value or eps. State
 * (step, a float32 0-d tensor, and sum) is created by the constructor for the
 * groups given to it; as in PyTorch 1.13, a group added later has none and
 * step() fails on it ("KeyError: 'sum'"). */
typedef struct cnnc_adagrad_options {
    double lr;
    double lr_decay;
    double weight_decay;
    double initial_accumulator_value;
    double eps;
    bool maximize;
} cnnc_adagrad_options;
#define CNNC_ADAGRAD(...)                                                                 \
    ((cnnc_adagrad_options){.lr = 1e-2, .lr_decay = 0.0, .weight_decay = 0.0,            \
                            .initial_accumulator_value = 0.0, .eps = 1e-10, .maximize = false, \
                            __VA_ARGS__})

/* Constructors: one group from params, or n_groups groups (each with its own
 * hyperparameters over the defaults). The options are validated first; then
 * the groups, as PyTorch's add_param_group: "optimizer got an empty parameter
 * list" (no tensors at all), "optimizer can only optimize Tensors, but one of
 * the params is NoneType" (a NULL in the list), "can't optimize a non-leaf
 * Tensor", "some parameters appear in more than one parameter group". A group
 * listing a parameter twice is an error in cnnc (PyTorch 1.13 only warns, then
 * updates it twice with inconsistent state). The optimizer holds a reference
 * to each parameter. Returns a new optimizer, or NULL. */
CNNC_API cnnc_optimizer *cnnc_sgd_new(cnnc_params params, cnnc_sgd_options options);
CNNC_API cnnc_optimizer *cnnc_sgd_new_groups(size_t n_groups, const cnnc_param_group *groups,
                                             cnnc_sgd_options defaults);
CNNC_API cnnc_optimizer *cnnc_adam_new(cnnc_params params, cnnc_adam_options options);
CNNC_API cnnc_optimizer *cnnc_adam_new_groups(size_t n_groups, const cnnc_param_group *groups,
                                              cnnc_adam_options defaults);
CNNC_API cnnc_optimizer *cnnc_adamw_new(cnnc_params params, cnnc_adamw_options options);
CNNC_API cnnc_optimizer *cnnc_adamw_new_groups(size_t n_groups, const cnnc_param_group *groups,
                                               cnnc_adamw_options defaults);
CNNC_API cnnc_optimizer *cnnc_rmsprop_new(cnnc_params params, cnnc_rmsprop_options options);
CNNC_API cnnc_optimizer *cnnc_rmsprop_new_groups(size_t n_groups, const cnnc_param_group *groups,
                                                 cnnc_rmsprop_options defaults);
CNNC_API cnnc_optimizer *cnnc_adagrad_new(cnnc_params params, cnnc_adagrad_options options);
CNNC_API cnnc_optimizer *cnnc_adagrad_new_groups(size_t n_groups, const cnnc_param_group *groups,
                                                 cnnc_adagrad_options defaults);

CNNC_API cnnc_optimizer *cnnc_optimizer_retain(cnnc_optimizer *opt);
CNNC_API void cnnc_optimizer_release(cnnc_optimizer *opt); /* NULL is a no-op */
/* "SGD", "Adam", "AdamW", "RMSprop", "Adagrad" (borrowed static string). */
CNNC_API const char *cnnc_optimizer_type(const cnnc_optimizer *opt);

/* optimizer.step(): one update of every parameter that has a gradient (the
 * others are skipped, as PyTorch), group by group, in place on the parameters'
 * data (their version is bumped; grad mode does not matter: this is PyTorch's
 * no_grad step). State missing for a parameter is created first, for all
 * parameters before any is changed, so a failure (out of memory, a KeyError
 * PyTorch would raise) leaves everything as it was. */
CNNC_API cnnc_status cnnc_optimizer_step(cnnc_optimizer *opt);
/* optimizer.zero_grad(set_to_none=False): zeroes every parameter's gradient in
 * place, or drops it with set_to_none. */
CNNC_API cnnc_status cnnc_optimizer_zero_grad(cnnc_optimizer *opt, bool set_to_none);
/* optimizer.add_param_group(group): a new group, its missing keys taken from the
 * constructor's defaults; the errors of the constructors. */
CNNC_API cnnc_status cnnc_optimizer_add_param_group(cnnc_optimizer *opt, cnnc_param_group group);

/* optimizer.param_groups: the number of groups; the i-th group's parameters as
 * a new list (names "0", "1", ...; free with cnnc_tensor_list_free). */
CNNC_API size_t cnnc_optimizer_num_param_groups(const cnnc_optimizer *opt);
CNNC_API cnnc_tensor_list *cnnc_optimizer_param_group_params(const cnnc_optimizer *opt,
                                                             size_t group);
/* The entries of a group other than 'params', in order: the optimizer's keys
 * (PyTorch's order), then keys added later. hparam_at gives the i-th (*name and
 * a string value borrowed until the group changes); hparam looks one up by name
 * (CNNC_ERR_NOT_FOUND: "KeyError: 'max_lr'"). */
CNNC_API size_t cnnc_optimizer_num_hparams(const cnnc_optimizer *opt, size_t group);
CNNC_API cnnc_status cnnc_optimizer_hparam_at(const cnnc_optimizer *opt, size_t group, size_t i,
                                              const char **name, cnnc_value *value);
CNNC_API cnnc_status cnnc_optimizer_hparam(const cnnc_optimizer *opt, size_t group,
                                           const char *name, cnnc_value *value);
/* group[name] = value: replaces an entry (its kind must fit the key: a number
 * for "lr", a bool for "nesterov", two numbers for "betas"; "capturable",
 * "differentiable" and "fused" accept only False, cnnc has no such modes) or
 * adds a new key. */
CNNC_API cnnc_status cnnc_optimizer_set_hparam(cnnc_optimizer *opt, size_t group,
                                               cnnc_hparam hparam);
/* Shorthands for group["lr"]. */
CNNC_API cnnc_status cnnc_optimizer_get_lr(const cnnc_optimizer *opt, size_t group, double *lr);
CNNC_API cnnc_status cnnc_optimizer_set_lr(cnnc_optimizer *opt, size_t group, double lr);

/* A parameter's state (optimizer.state[p]) as a new list of (key, tensor):
 * the optimizer's own tensors (changed by later steps), NULL for None; empty
 * before the parameter's first step. CNNC_ERR_NOT_FOUND if p is not optimized. */
CNNC_API cnnc_tensor_list *cnnc_optimizer_param_state(const cnnc_optimizer *opt,
                                                      const cnnc_tensor *param);

/* optimizer.state_dict() in PyTorch's layout, as a new tensor list:
 * - tensors "state.<i>.<key>" for parameter i (the index of the parameter in
 *   the concatenation of the groups' params) and each key of its state, in
 *   order (e.g. "state.0.step", "state.0.exp_avg"); NULL where PyTorch has
 *   None. They are the optimizer's own state tensors, as PyTorch's.
 * - metadata "param_groups.<g>.<key>" for each group's entries, written as
 *   Python literals ("0.1", "1e-08", "(0.9, 0.999)", "False", "None",
 *   "'text'"; floats in the shortest text that reads back to the same double),
 *   and "param_groups.<g>.params" = "[0, 1, 2]".
 * Free with cnnc_tensor_list_free. */
CNNC_API cnnc_tensor_list *cnnc_optimizer_state_dict(const cnnc_optimizer *opt);
/* optimizer.load_state_dict(sd): sd in the layout above (entries may come in
 * any order; other metadata keys are ignored). Checks, with PyTorch's messages
 * where it has them: "loaded state dict has a different number of parameter
 * groups", "loaded state dict contains a parameter group that doesn't match
 * the size of optimizer's group"; and, where PyTorch would only fail at the
 * next step: every value's type, state tensors of the parameter's shape
 * (float32; "step" float32 or int64), state keys the optimizer has, indices
 * listed in param_groups. Keys missing from a group take PyTorch's defaults
 * where its __setstate__ has one (flags, foreach), else are errors. The
 * groups' entries are replaced by the loaded ones, the state by copies of the
 * loaded tensors. Nothing changes on an error. */
CNNC_API cnnc_status cnnc_optimizer_load_state_dict(cnnc_optimizer *opt,
                                                    const cnnc_tensor_list *sd);

/* print(optimizer): "SGD (\nParameter Group 0\n    dampening: 0.0\n ...)", keys
 * sorted as PyTorch does. Caller frees with cnnc_free. */
CNNC_API char *cnnc_optimizer_repr(const cnnc_optimizer *opt);

/* ======================================================================== */
/* Learning-rate schedulers                                                 */
/* ======================================================================== */

/* A scheduler (torch.optim.lr_scheduler.*) attached to an optimizer, whose
 * group "lr" (and OneCycleLR's momentum / beta1) it sets. Constructors do
 * PyTorch's initial step. last_epoch = -1 starts a schedule (each group gets
 * "initial_lr" = its lr unless already set); another value resumes one and
 * needs "initial_lr" in every group ("param 'initial_lr' is not specified in
 * param_groups[0] when resuming an optimizer"). verbose prints PyTorch's
 * "Adjusting learning rate of group 0 to 1.0000e-01." lines to stdout. */
typedef struct cnnc_lr_scheduler cnnc_lr_scheduler;

/* PyTorch's `float | list[float]` given per parameter group (OneCycleLR's
 * max_lr and momenta, ReduceLROnPlateau's min_lr): n == 0 means `value` for
 * every group, else n values, one per group (another count is PyTorch's
 * error "expected 2 values for max_lr, got 1").
 *     CNNC_ALL_GROUPS(0.1), CNNC_PER_GROUP(0.1, 0.01) */
typedef struct cnnc_group_values {
    double value;
    size_t n;
    const double *values;
} cnnc_group_values;
#define CNNC_ALL_GROUPS(x) ((cnnc_group_values){.value = (x)})
#define CNNC_PER_GROUP(...)                                                             \
    ((cnnc_group_values){.n = sizeof((const double[]){__VA_ARGS__}) / sizeof(double), \
                         .values = (const double[]){__VA_ARGS__}})

/* lr_scheduler.StepLR(optimizer, step_size, gamma=0.1, last_epoch=-1,
 * verbose=False): lr *= gamma every step_size epochs. */
typedef struct cnnc_steplr_options {
    double gamma;
    int64_t last_epoch;
    bool verbose;
} cnnc_steplr_options;
#define CNNC_STEPLR(...) \
    ((cnnc_steplr_options){.gamma = 0.1, .last_epoch = -1, .verbose = false, __VA_ARGS__})
CNNC_API cnnc_lr_scheduler *cnnc_steplr_new(cnnc_optimizer *optimizer, int64_t step_size,
                                            cnnc_steplr_options options);

/* lr_scheduler.MultiStepLR(optimizer, milestones, gamma=0.1, last_epoch=-1,
 * verbose=False): lr *= gamma at each milestone (a milestone listed k times
 * multiplies by gamma**k, PyTorch's Counter). */
typedef struct cnnc_multisteplr_options {
    double gamma;
    int64_t last_epoch;
    bool verbose;
} cnnc_multisteplr_options;
#define CNNC_MULTISTEPLR(...) \
    ((cnnc_multisteplr_options){.gamma = 0.1, .last_epoch = -1, .verbose = false, __VA_ARGS__})
CNNC_API cnnc_lr_scheduler *cnnc_multisteplr_new(cnnc_optimizer *optimizer, size_t n_milestones,
                                                 const int64_t *milestones,
                                                 cnnc_multisteplr_options options);

/* lr_scheduler.ExponentialLR(optimizer, gamma, last_epoch=-1, verbose=False). */
typedef struct cnnc_exponentiallr_options {
    int64_t last_epoch;
    bool verbose;
} cnnc_exponentiallr_options;
#define CNNC_EXPONENTIALLR(...) \
    ((cnnc_exponentiallr_options){.last_epoch = -1, .verbose = false, __VA_ARGS__})
CNNC_API cnnc_lr_scheduler *cnnc_exponentiallr_new(cnnc_optimizer *optimizer, double gamma,
                                                   cnnc_exponentiallr_options options);

/* lr_scheduler.CosineAnnealingLR(optimizer, T_max, eta_min=0, last_epoch=-1,
 * verbose=False), with 1.13's recursive (chainable) form. */
typedef struct cnnc_cosineannealinglr_options {
    double eta_min;
    int64_t last_epoch;
    bool verbose;
} cnnc_cosineannealinglr_options;
#define CNNC_COSINEANNEALINGLR(...) \
    ((cnnc_cosineannealinglr_options){.eta_min = 0.0, .last_epoch = -1, .verbose = false, __VA_ARGS__})
CNNC_API cnnc_lr_scheduler *cnnc_cosineannealinglr_new(cnnc_optimizer *optimizer, int64_t T_max,
                                                       cnnc_cosineannealinglr_options options);

/* lr_scheduler.LinearLR(optimizer, start_factor=1/3, end_factor=1.0,
 * total_iters=5, last_epoch=-1, verbose=False). Errors: "Starting
 * multiplicative factor expected to be between 0 and 1.", "Ending ...". */
typedef struct cnnc_linearlr_options {
    double start_factor;
    double end_factor;
    int64_t total_iters;
    int64_t last_epoch;
    bool verbose;
} cnnc_linearlr_options;
#define CNNC_LINEARLR(...)                                                                 \
    ((cnnc_linearlr_options){.start_factor = 1.0 / 3, .end_factor = 1.0, .total_iters = 5, \
                             .last_epoch = -1, .verbose = false, __VA_ARGS__})
CNNC_API cnnc_lr_scheduler *cnnc_linearlr_new(cnnc_optimizer *optimizer,
                                              cnnc_linearlr_options options);

/* lr_scheduler.OneCycleLR(optimizer, max_lr, total_steps=None, epochs=None,
 * steps_per_epoch=None, pct_start=0.3, anneal_strategy='cos',
 * cycle_momentum=True, base_momentum=0.85, max_momentum=0.95, div_factor=25.,
 * final_div_factor=1e4, three_phase=False, last_epoch=-1, verbose=False).
 * Sets each group's "initial_lr", "max_lr", "min_lr" (and with cycle_momentum
 * "max_momentum", "base_momentum", and "momentum" or Adam's beta1) as PyTorch.
 * anneal_strategy "cos" or "linear" (NULL is "cos"). Errors: "You must define
 * either total_steps OR (epochs AND steps_per_epoch)", "Expected positive
 * integer total_steps, but got 0", "Expected float between 0 and 1 pct_start,
 * but got 1.5", "optimizer must support momentum with `cycle_momentum` option
 * enabled" (Adagrad), and from step(): "Tried to step 101 times. The specified
 * number of total steps is 100". */
typedef struct cnnc_onecyclelr_options {
    cnnc_optional_int total_steps;
    cnnc_optional_int epochs;
    cnnc_optional_int steps_per_epoch;
    double pct_start;
    const char *anneal_strategy;
    bool cycle_momentum;
    cnnc_group_values base_momentum;
    cnnc_group_values max_momentum;
    double div_factor;
    double final_div_factor;
    bool three_phase;
    int64_t last_epoch;
    bool verbose;
} cnnc_onecyclelr_options;
#define CNNC_ONECYCLELR(...)                                                                \
    ((cnnc_onecyclelr_options){.total_steps = CNNC_NONE, .epochs = CNNC_NONE,               \
                               .steps_per_epoch = CNNC_NONE, .pct_start = 0.3,              \
                               .anneal_strategy = "cos", .cycle_momentum = true,            \
                               .base_momentum = {.value = 0.85}, .max_momentum = {.value = 0.95}, \
                               .div_factor = 25.0, .final_div_factor = 1e4, .three_phase = false, \
                               .last_epoch = -1, .verbose = false, __VA_ARGS__})
CNNC_API cnnc_lr_scheduler *cnnc_onecyclelr_new(cnnc_optimizer *optimizer, cnnc_group_values max_lr,
                                                cnnc_onecyclelr_options options);

/* lr_scheduler.ReduceLROnPlateau(optimizer, mode='min', factor=0.1,
 * patience=10, threshold=1e-4, threshold_mode='rel', cooldown=0, min_lr=0,
 * eps=1e-8, verbose=False), stepped with cnnc_lr_scheduler_step_metric.
 * mode "min"/"max", threshold_mode "rel"/"abs" (NULL is the default). Errors:
 * "Factor should be < 1.0.", "mode foo is unknown!", "threshold mode foo is
 * unknown!", "expected 2 min_lrs, got 1". */
typedef struct cnnc_reducelronplateau_options {
    const char *mode;
    double factor;
    int64_t patience;
    double threshold;
    const char *threshold_mode;
    int64_t cooldown;
    cnnc_group_values min_lr;
    double eps;
    bool verbose;
} cnnc_reducelronplateau_options;
#define CNNC_REDUCELRONPLATEAU(...)                                                          \
    ((cnnc_reducelronplateau_options){.mode = "min", .factor = 0.1, .patience = 10,          \
                                      .threshold = 1e-4, .threshold_mode = "rel", .cooldown = 0, \
                                      .min_lr = {.value = 0.0}, .eps = 1e-8, .verbose = false, \
                                      __VA_ARGS__})
CNNC_API cnnc_lr_scheduler *cnnc_reducelronplateau_new(cnnc_optimizer *optimizer,
                                                       cnnc_reducelronplateau_options options);

/* lr_scheduler.LambdaLR(optimizer, lr_lambda, last_epoch=-1, verbose=False):
 * lr = initial_lr * lr_lambda(epoch). The callback writes the factor for
 * `epoch` to *factor and returns CNNC_OK, or returns an error status (then the
 * scheduler's call fails with it; a message the callback set with the
 * library's error functions is not kept, the scheduler names the epoch).
 * new: one function for every group; new_per_group: one per group ("Expected
 * 2 lr_lambdas, but got 1"), with its ctx. ctx is passed back untouched; it
 * must outlive the scheduler. Not saved by state_dict (PyTorch saves only
 * callable objects' attributes). */
typedef cnnc_status (*cnnc_lr_lambda)(void *ctx, int64_t epoch, double *factor);
typedef struct cnnc_lambdalr_options {
    int64_t last_epoch;
    bool verbose;
} cnnc_lambdalr_options;
#define CNNC_LAMBDALR(...) ((cnnc_lambdalr_options){.last_epoch = -1, .verbose = false, __VA_ARGS__})
CNNC_API cnnc_lr_scheduler *cnnc_lambdalr_new(cnnc_optimizer *optimizer, cnnc_lr_lambda lr_lambda,
                                              void *ctx, cnnc_lambdalr_options options);
CNNC_API cnnc_lr_scheduler *cnnc_lambdalr_new_per_group(cnnc_optimizer *optimizer, size_t n,
                                                        const cnnc_lr_lambda *lr_lambdas,
                                                        void *const *ctxs,
                                                        cnnc_lambdalr_options options);

/* lr_scheduler.SequentialLR(optimizer, schedulers, milestones, last_epoch=-1,
 * verbose=False), with 1.13's behaviour: the constructor resets every group's
 * lr to its initial_lr, moves each scheduler back one epoch and redoes the
 * first one's initial step; step() steps the scheduler whose range contains
 * the epoch, and at a milestone steps it with epoch 0 (its closed form, where
 * it has one). Holds a reference to each scheduler. Errors: "Sequential
 * Schedulers expects all schedulers to belong to the same optimizer, but got
 * schedulers at index 1 to be different than the optimizer passed in.",
 * "Sequential Schedulers expects number of schedulers provided to be one more
 * than the number of milestone points, but got number of schedulers 2 and the
 * number of milestones to be equal to 2". ReduceLROnPlateau and SequentialLR
 * cannot be nested (PyTorch fails on them later, at a step). */
typedef struct cnnc_sequentiallr_options {
    int64_t last_epoch;
    bool verbose; /* accepted and ignored, as PyTorch */
} cnnc_sequentiallr_options;
#define CNNC_SEQUENTIALLR(...) \
    ((cnnc_sequentiallr_options){.last_epoch = -1, .verbose = false, __VA_ARGS__})
CNNC_API cnnc_lr_scheduler *cnnc_sequentiallr_new(cnnc_optimizer *optimizer, size_t n_schedulers,
                                                  cnnc_lr_scheduler *const *schedulers,
                                                  size_t n_milestones, const int64_t *milestones,
                                                  cnnc_sequentiallr_options options);

CNNC_API cnnc_lr_scheduler *cnnc_lr_scheduler_retain(cnnc_lr_scheduler *s);
CNNC_API void cnnc_lr_scheduler_release(cnnc_lr_scheduler *s); /* NULL is a no-op */
/* "StepLR", "OneCycleLR", ... (borrowed static string). */
CNNC_API const char *cnnc_lr_scheduler_type(const cnnc_lr_scheduler *s);
/* The optimizer it schedules (borrowed). */
CNNC_API cnnc_optimizer *cnnc_lr_scheduler_optimizer(const cnnc_lr_scheduler *s);

/* scheduler.step(): the next epoch (the recursive form). Not for
 * ReduceLROnPlateau, which needs a metric. */
CNNC_API cnnc_status cnnc_lr_scheduler_step(cnnc_lr_scheduler *s);
/* scheduler.step(epoch), PyTorch's deprecated form: jumps to `epoch` and uses
 * the closed form where the scheduler has one (StepLR, MultiStepLR,
 * ExponentialLR, CosineAnnealingLR, LinearLR), else the recursive one. */
CNNC_API cnnc_status cnnc_lr_scheduler_step_epoch(cnnc_lr_scheduler *s, int64_t epoch);
/* ReduceLROnPlateau.step(metrics). */
CNNC_API cnnc_status cnnc_lr_scheduler_step_metric(cnnc_lr_scheduler *s, double metric);

/* scheduler.get_last_lr(): the lr of every group after the last step. Copies
 * min(count, cap) values to lrs (may be NULL when cap is 0) and returns the
 * count; 0 with an error before ReduceLROnPlateau's first step (PyTorch has
 * no _last_lr then). */
CNNC_API size_t cnnc_lr_scheduler_get_last_lr(const cnnc_lr_scheduler *s, double *lrs, size_t cap);
/* scheduler.last_epoch, and assigning it (PyTorch's attribute). */
CNNC_API int64_t cnnc_lr_scheduler_last_epoch(const cnnc_lr_scheduler *s);
CNNC_API cnnc_status cnnc_lr_scheduler_set_last_epoch(cnnc_lr_scheduler *s, int64_t last_epoch);

/* scheduler.state_dict(): a new tensor list without tensors whose metadata
 * holds PyTorch's entries as Python literals: "last_epoch", "_step_count",
 * "base_lrs" ("[0.1, 0.01]"), "_last_lr", "verbose", the scheduler's settings
 * under PyTorch's attribute names ("step_size", "gamma", "milestones" as
 * "{30: 1, 80: 1}", ...), ReduceLROnPlateau's "best", "num_bad_epochs",
 * "cooldown_counter", ...; OneCycleLR's phases as "_schedule_phases.<k>.<key>"
 * and its anneal function as "anneal_strategy"; SequentialLR's schedulers as
 * "_schedulers.<k>.<key>". load_state_dict restores them (as PyTorch's
 * __dict__.update, settings included), checking every key's presence and
 * type; nothing changes on an error. */
CNNC_API cnnc_tensor_list *cnnc_lr_scheduler_state_dict(const cnnc_lr_scheduler *s);
CNNC_API cnnc_status cnnc_lr_scheduler_load_state_dict(cnnc_lr_scheduler *s,
                                                       const cnnc_tensor_list *sd);

/* ======================================================================== */
/* Gradient clipping                                                        */
/* ======================================================================== */

/* nn.utils.clip_grad_norm_(parameters, max_norm, norm_type=2.0,
 * error_if_nonfinite=False): the norm of all gradients together (the norm of
 * the per-gradient norms, as PyTorch computes it, with its rounding), then
 * every gradient *= min(max_norm / (total_norm + 1e-6), 1) in float32.
 * norm_type may be INFINITY (max |g|), -INFINITY, 0 (count of non-zeros) or
 * any other p. Parameters without a gradient are skipped. Returns the total
 * norm as a new 0-d float32 tensor (0 when no parameter has a gradient).
 * Error (gradients unchanged): "The total norm of order 2.0 for gradients
 * from `parameters` is non-finite, so it cannot be clipped. To disable this
 * error and scale the gradients by the non-finite norm anyway, set
 * `error_if_nonfinite=False`". */
typedef struct cnnc_clip_grad_norm_options {
    double norm_type;
    bool error_if_nonfinite;
} cnnc_clip_grad_norm_options;
#define CNNC_CLIP_GRAD_NORM(...) \
    ((cnnc_clip_grad_norm_options){.norm_type = 2.0, .error_if_nonfinite = false, __VA_ARGS__})
CNNC_API cnnc_tensor *cnnc_clip_grad_norm_(cnnc_params parameters, double max_norm,
                                           cnnc_clip_grad_norm_options options);

/* nn.utils.clip_grad_value_(parameters, clip_value): every gradient clamped to
 * [-clip_value, clip_value] in float32 (NaN stays NaN; a negative clip_value
 * gives clip_value everywhere, as PyTorch's clamp). */
CNNC_API cnnc_status cnnc_clip_grad_value_(cnnc_params parameters, double clip_value);

#ifdef __cplusplus
}
#endif
#endif /* CNNC_OPTIM_H */
