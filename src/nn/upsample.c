/* nn.Upsample, nn.UpsamplingNearest2d, nn.UpsamplingBilinear2d: forward is
 * F.interpolate with the module's settings. */
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "core/strbuf.h"
#include "nn/module.h"
#include "ops/resample.h"

/* "scale_factor" is None, a FLOAT, or FLOATS when given as a tuple (as torch keeps
 * it); returns the number of factors. */
static int get_scales(const cnnc_module *m, double *out, bool *is_tuple) {
    const cnnc_value *v = cnnc__module_get_attr(m, "scale_factor");
    *is_tuple = v->kind == CNNC_VALUE_FLOATS;
    if (v->kind == CNNC_VALUE_FLOAT) {
        out[0] = v->f;
        return 1;
    }
    if (v->kind != CNNC_VALUE_FLOATS) return 0;
    memcpy(out, v->fs, (size_t)v->n * sizeof(double));
    return v->n;
}

static cnnc_tensor *upsample_forward(cnnc_module *m, cnnc_tensor *x) {
    cnnc_interpolate_options o = CNNC_INTERPOLATE();
    const cnnc_value *size = cnnc__module_get_attr(m, "size");
    o.size.n = size->kind == CNNC_VALUE_NONE ? 0 : size->n;
    memcpy(o.size.v, size->ints, sizeof o.size.v);
    bool tuple;
    o.scale_factor.n = get_scales(m, o.scale_factor.v, &tuple);
    o.mode = cnnc__module_get_attr(m, "mode")->s;
    const cnnc_value *ac = cnnc__module_get_attr(m, "align_corners");
    const cnnc_value *rs = cnnc__module_get_attr(m, "recompute_scale_factor");
    o.align_corners = ac->kind == CNNC_VALUE_NONE ? -1 : (int)ac->ints[0];
    o.recompute_scale_factor = rs->kind == CNNC_VALUE_NONE ? -1 : (int)rs->ints[0];
    return cnnc__op_interpolate(x, &o);
}

static void upsample_repr(const cnnc_module *m, char *buf, size_t cap) {
    double sf[CNNC_MAX_DIMS];
    bool tuple;
    int n = get_scales(m, sf, &tuple);
    size_t k;
    if (n > 0) {
        k = (size_t)snprintf(buf, cap, "scale_factor=%s", tuple ? "(" : "");
        for (int i = 0; i < n && k < cap; i++) {
            char f[64];
            cnnc__float_repr(sf[i], f, sizeof f);
            k += (size_t)snprintf(buf + k, cap - k, i ? ", %s" : "%s", f);
        }
        if (tuple && k < cap) k += (size_t)snprintf(buf + k, cap - k, n == 1 ? ",)" : ")");
    } else {
        const cnnc_value *s = cnnc__module_get_attr(m, "size");
        k = (size_t)snprintf(buf, cap, "size=");
        if (s->kind == CNNC_VALUE_NONE) {
            if (k < cap) k += (size_t)snprintf(buf + k, cap - k, "None");
        } else if (s->kind == CNNC_VALUE_INT) {
            if (k < cap) k += (size_t)snprintf(buf + k, cap - k, "%lld", (long long)s->ints[0]);
        } else {
            if (k < cap) k += (size_t)snprintf(buf + k, cap - k, "(");
            for (int i = 0; i < s->n && k < cap; i++)
                k += (size_t)snprintf(buf + k, cap - k, i ? ", %lld" : "%lld", (long long)s->ints[i]);
            if (k < cap) k += (size_t)snprintf(buf + k, cap - k, s->n == 1 ? ",)" : ")");
        }
    }
    if (k < cap) snprintf(buf + k, cap - k, ", mode=%s", cnnc__module_get_attr(m, "mode")->s);
}

static const cnnc__module_type upsample_type = {"Upsample", upsample_forward, upsample_repr};
static const cnnc__module_type nearest2d_type = {"UpsamplingNearest2d", upsample_forward, upsample_repr};
static const cnnc__module_type bilinear2d_type = {"UpsamplingBilinear2d", upsample_forward, upsample_repr};

static cnnc_value opt_bool(int v) {
    return v < 0 ? (cnnc_value){.kind = CNNC_VALUE_NONE} : cnnc__bool_value(v != 0);
}

static cnnc_module *make(const cnnc__module_type *type, cnnc_upsample_options o) {
    const char *name = type->name;
    if (o.size.n < 0 || o.size.n > CNNC_MAX_DIMS || o.scale_factor.n < 0 ||
        o.scale_factor.n > CNNC_MAX_DIMS)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT, "%s(): size and scale_factor hold 0..%d values",
                                name, CNNC_MAX_DIMS);
    if (o.align_corners < -1 || o.align_corners > 1 || o.recompute_scale_factor < -1 ||
        o.recompute_scale_factor > 1)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                "%s(): align_corners and recompute_scale_factor are -1 (None), 0 or 1",
                                name);
    const char *mode = o.mode ? cnnc__interp_mode_canonical(o.mode) : NULL;
    if (!mode)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                "%s(): unknown mode '%s' (nearest | linear | bilinear | bicubic | "
                                "trilinear | area | nearest-exact)", name, o.mode ? o.mode : "(null)");
    cnnc_module *m = cnnc__module_new(type);
    if (!m) return NULL;
    cnnc__module_set_attr(m, "name", (cnnc_value){.kind = CNNC_VALUE_STRING, .s = name});
    cnnc_value size = {.kind = CNNC_VALUE_NONE};
    if (o.size.n == 1) size = cnnc__int_value(o.size.v[0]);
    if (o.size.n > 1) {
        size.kind = CNNC_VALUE_INTS;
        size.n = o.size.n;
        memcpy(size.ints, o.size.v, (size_t)o.size.n * sizeof(int64_t));
    }
    cnnc__module_set_attr(m, "size", size);
    /* torch: float(scale_factor) if scale_factor else None; tuples are kept */
    bool tuple = o.scale_factor.n > 1;
    int nsf = o.scale_factor.n == 1 && o.scale_factor.v[0] == 0.0 ? 0 : o.scale_factor.n;
    cnnc_value sf = {.kind = CNNC_VALUE_NONE};
    if (tuple) {
        sf = (cnnc_value){.kind = CNNC_VALUE_FLOATS, .n = nsf};
        memcpy(sf.fs, o.scale_factor.v, (size_t)nsf * sizeof(double));
    } else if (nsf) {
        sf = cnnc__float_value(o.scale_factor.v[0]);
    }
    cnnc__module_set_attr(m, "scale_factor", sf);
    cnnc__module_set_attr(m, "mode", (cnnc_value){.kind = CNNC_VALUE_STRING, .s = mode});
    cnnc__module_set_attr(m, "align_corners", opt_bool(o.align_corners));
    cnnc__module_set_attr(m, "recompute_scale_factor", opt_bool(o.recompute_scale_factor));
    return m;
}

cnnc_module *cnnc_upsample_new(cnnc_upsample_options o) { return make(&upsample_type, o); }

cnnc_module *cnnc_upsamplingnearest2d_new(cnnc_ints size, cnnc_doubles scale_factor) {
    return make(&nearest2d_type, CNNC_UPSAMPLE(.size = size, .scale_factor = scale_factor,
                                               .mode = "nearest"));
}

cnnc_module *cnnc_upsamplingbilinear2d_new(cnnc_ints size, cnnc_doubles scale_factor) {
    return make(&bilinear2d_type, CNNC_UPSAMPLE(.size = size, .scale_factor = scale_factor,
                                                .mode = "bilinear", .align_corners = 1));
}
