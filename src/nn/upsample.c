/* nn.Upsample, nn.UpsamplingNearest2d, nn.UpsamplingBilinear2d: forward is
 * F.interpolate with the module's settings. */
#include "core/args.h"
#include "core/error.h"
#include "nn/module.h"
#include "ops/resample.h"

typedef struct upsample_state {
    const char *name;          /* the kind's name, as torch's Upsample keeps it */
    cnnc_ints size;            /* None, an int, or a tuple */
    cnnc_doubles scale_factor; /* None, a float, or a tuple (n > 1) */
    const char *mode;          /* canonical mode name */
    int align_corners;         /* -1: None */
    int recompute_scale_factor;/* -1: None */
} upsample_state;

#define F(member, KIND) CNNC__FIELD(upsample_state, member, KIND)
static const cnnc__field upsample_fields[] = {
    F(name, STRING), F(size, INTS), F(scale_factor, DOUBLES), F(mode, STRING),
    F(align_corners, OPT_BOOL), F(recompute_scale_factor, OPT_BOOL)};
#undef F

static cnnc_tensor *upsample_forward(cnnc_module *m, cnnc_tensor *x) {
    const upsample_state *s = CNNC__STATE(m, const upsample_state);
    cnnc_interpolate_options o = CNNC_INTERPOLATE(.size = s->size, .scale_factor = s->scale_factor,
                                                  .mode = s->mode, .align_corners = s->align_corners,
                                                  .recompute_scale_factor = s->recompute_scale_factor);
    return cnnc__op_interpolate(x, &o);
}

/* torch: 'scale_factor=' + repr(scale_factor) if given, else 'size=' + repr(size);
 * then ', mode=' + the mode (unquoted) */
static void upsample_repr(const cnnc_module *m, cnnc__strbuf *s) {
    const upsample_state *st = CNNC__STATE(m, const upsample_state);
    const char *name = cnnc__doubles_is_none(&st->scale_factor) ? "size" : "scale_factor";
    cnnc_value v = cnnc__field_value(st, cnnc__module_field(m, name));
    cnnc__strbuf_printf(s, "%s=", name);
    cnnc__value_text(s, &v);
    cnnc__strbuf_printf(s, ", mode=%s", st->mode);
}

#define UPSAMPLE_TYPE(Name)                                                                   \
    {.name = Name, .state_size = sizeof(upsample_state), .fields = upsample_fields,           \
     .n_fields = CNNC__NFIELDS(upsample_fields), .forward = upsample_forward,                 \
     .extra_repr = upsample_repr}
static const cnnc__module_type upsample_type = UPSAMPLE_TYPE("Upsample");
static const cnnc__module_type nearest2d_type = UPSAMPLE_TYPE("UpsamplingNearest2d");
static const cnnc__module_type bilinear2d_type = UPSAMPLE_TYPE("UpsamplingBilinear2d");

static cnnc_module *make(const cnnc__module_type *type, cnnc_upsample_options o) {
    const char *name = type->name;
    if (cnnc__check_ints(name, "size", &o.size) || cnnc__check_doubles(name, "scale_factor", &o.scale_factor))
        return NULL;
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
    upsample_state *s = CNNC__STATE(m, upsample_state);
    *s = (upsample_state){name, o.size, o.scale_factor, mode, o.align_corners, o.recompute_scale_factor};
    /* torch: float(scale_factor) if scale_factor else None (a zero number is None; a
     * tuple is kept) */
    if (!cnnc__doubles_is_tuple(&o.scale_factor) && o.scale_factor.n == 1 && o.scale_factor.v[0] == 0.0)
        s->scale_factor.n = 0;
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
