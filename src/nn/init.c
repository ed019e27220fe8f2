/* torch.nn.init: in-place initialisation with PyTorch's fan and gain rules. */
#include <ctype.h>
#include <math.h>
#include <string.h>

#include "core/error.h"
#include "core/rng.h"
#include "core/tensor.h"

static cnnc_status check_target(const char *fn, const cnnc_tensor *t) {
    return cnnc__check_tensor(fn, "tensor", t, true);
}

cnnc_status cnnc_init_calculate_gain(const char *nonlinearity, cnnc_optional_double param,
                                     double *gain) {
    CNNC__NONNULL_OR_STATUS("calculate_gain", nonlinearity);
    CNNC__NONNULL_OR_STATUS("calculate_gain", gain);
    static const char *const unit[] = {"linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
                                       "conv_transpose2d", "conv_transpose3d", "sigmoid"};
    for (size_t i = 0; i < sizeof unit / sizeof *unit; i++)
        if (strcmp(nonlinearity, unit[i]) == 0) return *gain = 1.0, CNNC_OK;
    if (strcmp(nonlinearity, "tanh") == 0) return *gain = 5.0 / 3.0, CNNC_OK;
    if (strcmp(nonlinearity, "relu") == 0) return *gain = sqrt(2.0), CNNC_OK;
    if (strcmp(nonlinearity, "selu") == 0) return *gain = 3.0 / 4.0, CNNC_OK;
    if (strcmp(nonlinearity, "leaky_relu") == 0) {
        double slope = param.has_value ? param.value : 0.01;
        *gain = sqrt(2.0 / (1.0 + slope * slope));
        return CNNC_OK;
    }
    return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "Unsupported nonlinearity %s", nonlinearity);
}

cnnc_status cnnc_init_calculate_fan(const cnnc_tensor *t, int64_t *fan_in, int64_t *fan_out) {
    CNNC__NONNULL_OR_STATUS("calculate_fan", t);
    CNNC__NONNULL_OR_STATUS("calculate_fan", fan_in);
    CNNC__NONNULL_OR_STATUS("calculate_fan", fan_out);
    if (t->ndim < 2)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "Fan in and fan out can not be computed for tensor with fewer than 2 dimensions");
    /* receptive field * channels <= numel, which fits (shapes are checked) unless a
     * dim is 0, where the products below are computed with that 0 in them. */
    int64_t rf = 1;
    for (int d = 2; d < t->ndim; d++) rf *= t->shape[d];
    *fan_in = t->shape[1] * rf;
    *fan_out = t->shape[0] * rf;
    return CNNC_OK;
}

/* ---- plain fills ---------------------------------------------------------------------- */

static cnnc_status fill_uniform(cnnc_tensor *t, double a, double b) {
    cnnc__rng_uniform(cnnc__f32(t), t->numel, a, b);
    cnnc__bump_version(t);
    return CNNC_OK;
}

static cnnc_status fill_normal(cnnc_tensor *t, double mean, double std) {
    cnnc__rng_normal(cnnc__f32(t), t->numel, mean, std);
    cnnc__bump_version(t);
    return CNNC_OK;
}

cnnc_status cnnc_init_uniform_(cnnc_tensor *t, double a, double b) {
    if (check_target("init.uniform_", t) != CNNC_OK) return cnnc_last_status();
    if (!(a <= b))
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "uniform_ expects to return a [from, to) range, but found from=%g > to=%g", a, b);
    return fill_uniform(t, a, b);
}

cnnc_status cnnc_init_normal_(cnnc_tensor *t, double mean, double std) {
    if (check_target("init.normal_", t) != CNNC_OK) return cnnc_last_status();
    if (!(std >= 0.0))
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "normal expects std >= 0.0, but found std %g", std);
    return fill_normal(t, mean, std);
}

cnnc_status cnnc_init_constant_(cnnc_tensor *t, double value) {
    if (check_target("init.constant_", t) != CNNC_OK) return cnnc_last_status();
    float *d = cnnc__f32(t);
    for (int64_t i = 0; i < t->numel; i++) d[i] = (float)value;
    cnnc__bump_version(t);
    return CNNC_OK;
}

cnnc_status cnnc_init_zeros_(cnnc_tensor *t) { return cnnc_init_constant_(t, 0.0); }
cnnc_status cnnc_init_ones_(cnnc_tensor *t) { return cnnc_init_constant_(t, 1.0); }

/* ---- Glorot and He ---------------------------------------------------------------------- */

static cnnc_status xavier_std(const char *fn, const cnnc_tensor *t, double gain, double *std) {
    int64_t fan_in, fan_out;
    if (check_target(fn, t) != CNNC_OK || cnnc_init_calculate_fan(t, &fan_in, &fan_out) != CNNC_OK)
        return cnnc_last_status();
    *std = gain * sqrt(2.0 / (double)(fan_in + fan_out));
    return CNNC_OK;
}

cnnc_status cnnc_init_xavier_uniform_(cnnc_tensor *t, double gain) {
    double std;
    if (xavier_std("init.xavier_uniform_", t, gain, &std) != CNNC_OK) return cnnc_last_status();
    const double a = sqrt(3.0) * std;
    return t->numel ? fill_uniform(t, -a, a) : CNNC_OK;
}

cnnc_status cnnc_init_xavier_normal_(cnnc_tensor *t, double gain) {
    double std;
    if (xavier_std("init.xavier_normal_", t, gain, &std) != CNNC_OK) return cnnc_last_status();
    return t->numel ? fill_normal(t, 0.0, std) : CNNC_OK;
}

/* PyTorch lowercases the mode before checking it. */
static cnnc_status fan_mode(const char *mode, bool *fan_in) {
    if (!mode) return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "Mode None not supported, please use one of ['fan_in', 'fan_out']");
    char low[16] = "";
    size_t n = strlen(mode);
    for (size_t i = 0; i < n && i + 1 < sizeof low; i++) low[i] = (char)tolower((unsigned char)mode[i]);
    if (n < sizeof low && strcmp(low, "fan_in") == 0) return *fan_in = true, CNNC_OK;
    if (n < sizeof low && strcmp(low, "fan_out") == 0) return *fan_in = false, CNNC_OK;
    return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                       "Mode %s not supported, please use one of ['fan_in', 'fan_out']", mode);
}

/* The std of kaiming_*_; *skip when t has no elements (PyTorch: a no-op). */
static cnnc_status kaiming_std(const char *fn, const cnnc_tensor *t, cnnc_kaiming_options o,
                               double *std, bool *skip) {
    if (check_target(fn, t) != CNNC_OK) return cnnc_last_status();
    *skip = t->numel == 0;
    if (*skip) return CNNC_OK;
    bool use_in = true;
    int64_t fan_in, fan_out;
    double gain;
    if (fan_mode(o.mode, &use_in) != CNNC_OK || cnnc_init_calculate_fan(t, &fan_in, &fan_out) != CNNC_OK ||
        cnnc_init_calculate_gain(o.nonlinearity, (cnnc_optional_double)CNNC_SOME(o.a), &gain) != CNNC_OK)
        return cnnc_last_status();
    *std = gain / sqrt((double)(use_in ? fan_in : fan_out));
    return CNNC_OK;
}

cnnc_status cnnc_init_kaiming_uniform_(cnnc_tensor *t, cnnc_kaiming_options o) {
    double std;
    bool skip;
    if (kaiming_std("init.kaiming_uniform_", t, o, &std, &skip) != CNNC_OK) return cnnc_last_status();
    const double bound = sqrt(3.0) * std;
    return skip ? CNNC_OK : fill_uniform(t, -bound, bound);
}

cnnc_status cnnc_init_kaiming_normal_(cnnc_tensor *t, cnnc_kaiming_options o) {
    double std;
    bool skip;
    if (kaiming_std("init.kaiming_normal_", t, o, &std, &skip) != CNNC_OK) return cnnc_last_status();
    return skip ? CNNC_OK : fill_normal(t, 0.0, std);
}
