/* cnnc public API: torch.nn.init. Included by cnnc.h; include <cnnc.h>, not this.
 *
 * Fill a float32 tensor in place (outside autograd, as PyTorch's init functions run
 * under no_grad; its version counter is bumped), from the default generator
 * (cnnc_manual_seed). The distributions and their bounds are PyTorch's; the values
 * drawn are cnnc's own.
 *
 *     cnnc_tensor *w = NULL;
 *     cnnc_module_tensor(conv, "weight", &w);
 *     cnnc_init_kaiming_normal_(w, CNNC_KAIMING(.mode = "fan_out", .nonlinearity = "relu"));
 *     cnnc_init_zeros_(bias);
 *
 * fan_in and fan_out of a tensor of at least 2 dims [out, in, k...] are in * prod(k)
 * and out * prod(k) (PyTorch's _calculate_fan_in_and_fan_out); fewer dims is
 * PyTorch's error. Errors: NULL or non-float tensors, bad strings (PyTorch's
 * messages for an unknown mode or nonlinearity), std < 0, a > b. */
#ifndef CNNC_INIT_H
#define CNNC_INIT_H
#ifndef CNNC_H
#error "include <cnnc.h> instead"
#endif
#ifdef __cplusplus
extern "C" {
#endif

/* nn.init.calculate_gain(nonlinearity, param=None): 1 for linear, conv{1,2,3}d,
 * conv_transpose{1,2,3}d and sigmoid, 5/3 for tanh, sqrt(2) for relu,
 * sqrt(2 / (1 + slope^2)) for leaky_relu (slope = param, default 0.01), 3/4 for selu. */
CNNC_API cnnc_status cnnc_init_calculate_gain(const char *nonlinearity, cnnc_optional_double param,
                                              double *gain);
/* (fan_in, fan_out) of t, as above. */
CNNC_API cnnc_status cnnc_init_calculate_fan(const cnnc_tensor *t, int64_t *fan_in, int64_t *fan_out);

/* U(a, b), N(mean, std), a constant, 0, 1. */
CNNC_API cnnc_status cnnc_init_uniform_(cnnc_tensor *t, double a, double b);
CNNC_API cnnc_status cnnc_init_normal_(cnnc_tensor *t, double mean, double std);
CNNC_API cnnc_status cnnc_init_constant_(cnnc_tensor *t, double value);
CNNC_API cnnc_status cnnc_init_zeros_(cnnc_tensor *t);
CNNC_API cnnc_status cnnc_init_ones_(cnnc_tensor *t);

/* Glorot: std = gain * sqrt(2 / (fan_in + fan_out)); uniform on +-sqrt(3) std or
 * normal with that std (PyTorch's default gain: 1.0). */
CNNC_API cnnc_status cnnc_init_xavier_uniform_(cnnc_tensor *t, double gain);
CNNC_API cnnc_status cnnc_init_xavier_normal_(cnnc_tensor *t, double gain);

/* He: std = calculate_gain(nonlinearity, a) / sqrt(fan), fan = fan_in or fan_out by
 * mode; uniform on +-sqrt(3) std or normal. A tensor with a zero-size dim is left
 * as it is (PyTorch warns and does nothing). */
typedef struct cnnc_kaiming_options {
    double a;                 /* negative slope of leaky_relu */
    const char *mode;         /* "fan_in" or "fan_out" */
    const char *nonlinearity; /* as calculate_gain */
} cnnc_kaiming_options;
#define CNNC_KAIMING(...) \
    ((cnnc_kaiming_options){.a = 0.0, .mode = "fan_in", .nonlinearity = "leaky_relu", __VA_ARGS__})
CNNC_API cnnc_status cnnc_init_kaiming_uniform_(cnnc_tensor *t, cnnc_kaiming_options options);
CNNC_API cnnc_status cnnc_init_kaiming_normal_(cnnc_tensor *t, cnnc_kaiming_options options);

#ifdef __cplusplus
}
#endif
#endif /* CNNC_INIT_H */
