/* The built-in synthetic set: ten classes of shapes drawn with signed distance
 * functions, anti-aliased, at random positions, sizes, aspects, rotations and stroke
 * widths, over random intensities with a gradient and noise.
 *
 * Determinism: sample i is drawn from its own stream keyed by (seed, split, i), with
 * only +, -, *, / and sqrt on doubles (correctly rounded in IEEE arithmetic, and this
 * file is compiled without FMA contraction), so its bytes are the same on every
 * machine, in any order and on any thread. Rotations use the rational parametrisation
 * cos = (1 - t^2) / (1 + t^2), sin = 2t / (1 + t^2) instead of libm's sin and cos. */
#include <math.h>

#include "core/error.h"
#include "core/parallel.h"
#include "core/tensor.h"
#include "data/dataset.h"
#include "data/random.h"

enum { NUM_SHAPES = 10, MAX_CHANNELS = 3 };

static const char *const shape_names[NUM_SHAPES] = {
    "circle", "ring", "square", "frame", "triangle", "plus", "cross", "hbars", "vbars", "diamond"};

typedef enum shape {
    CIRCLE,
    RING,
    SQUARE,
    FRAME,
    TRIANGLE,
    PLUS,
    CROSS,
    HBARS,
    VBARS,
    DIAMOND
} shape;

/* Everything random about one image. Image coordinates run over [-1, 1] both ways
 * (y down); "local" coordinates are the shape's own, where its radius is 1. */
typedef struct sample {
    shape kind;
    double cx, cy; /* centre, image coordinates */
    double rx, ry; /* radius along the shape's own axes, image units */
    double cs, sn; /* rotation */
    double t;      /* stroke half-width, local units */
    double fg[MAX_CHANNELS], bg[MAX_CHANNELS];
    double gx, gy; /* brightness gradient per image unit */
    double noise;  /* pixel noise standard deviation */
} sample;

/* ---- signed distances in local units (negative inside) ------------------------------ */

static double sd_box(double x, double y, double bx, double by) {
    double dx = fabs(x) - bx, dy = fabs(y) - by;
    double ox = fmax(dx, 0), oy = fmax(dy, 0);
    return sqrt(ox * ox + oy * oy) + fmin(fmax(dx, dy), 0);
}

static double sd_plus(double x, double y, double t) {
    return fmin(sd_box(x, y, 1, t), sd_box(x, y, t, 1));
}

static double sd_bars(double x, double y, double t) { /* three bars along x */
    const double gap = 0.75;
    return fmin(fmin(sd_box(x, y + gap, 1, t), sd_box(x, y, 1, t)), sd_box(x, y - gap, 1, t));
}

/* A rhombus with half-diagonals a (along x) and b (along y): the distance to its edges
 * (exact inside, a slight underestimate beyond the corners). */
static double sd_rhombus(double x, double y, double a, double b) {
    return (fabs(x) * b + fabs(y) * a - a * b) / sqrt(a * a + b * b);
}

/* An equilateral triangle pointing up with circumradius 1: the largest of the three
 * edge distances (exact inside, a slight underestimate beyond the corners). */
static double sd_triangle(double x, double y) {
    const double c30 = 0.86602540378443865, inradius = 0.5;
    double bottom = y, right = c30 * x - 0.5 * y, left = -c30 * x - 0.5 * y;
    return fmax(bottom, fmax(right, left)) - inradius;
}

static double shape_distance(const sample *s, double x, double y) {
    const double h = 0.70710678118654752;    /* 1/sqrt(2): the 45-degree turn */
    double u = (x + y) * h, v = (x - y) * h; /* for the cross */
    switch (s->kind) {
    case CIRCLE: return sqrt(x * x + y * y) - 1;
    case RING: return fabs(sqrt(x * x + y * y) - (1 - s->t)) - s->t;
    case SQUARE: return sd_box(x, y, 0.8, 0.8);
    case FRAME: return fabs(sd_box(x, y, 0.8 - s->t, 0.8 - s->t)) - s->t;
    case TRIANGLE: return sd_triangle(x, y);
    case PLUS: return sd_plus(x, y, s->t);
    case CROSS: return sd_plus(u, v, s->t);
    case HBARS: return sd_bars(x, y, s->t);
    case VBARS: return sd_bars(y, x, s->t);
    case DIAMOND: return sd_rhombus(x, y, 0.65, 1.0); /* taller than wide, as a card suit */
    }
    return 1;
}

/* ---- drawing one image ------------------------------------------------------------------ */

static void draw_params(sample *s, cnnc__drng *r, shape kind, int64_t channels) {
    s->kind = kind;
    double radius = cnnc__drng_range(r, 0.4, 0.75);
    double aspect = cnnc__drng_range(r, 0.87, 1.15);
    s->rx = radius * aspect;
    s->ry = radius / aspect;
    double reach = 1 - 0.9 * radius; /* keeps most of the shape inside */
    s->cx = cnnc__drng_range(r, -reach, reach);
    s->cy = cnnc__drng_range(r, -reach, reach);
    double t = cnnc__drng_range(r, -0.13165249758739585, 0.13165249758739585); /* tan(7.5 deg) */
    s->cs = (1 - t * t) / (1 + t * t);
    s->sn = 2 * t / (1 + t * t);
    s->t = cnnc__drng_range(r, 0.1, 0.2);
    double bg = cnnc__drng_range(r, 0.0, 0.35);
    double fg = cnnc__drng_range(r, bg + 0.35, 1.0);
    for (int64_t c = 0; c < MAX_CHANNELS; c++) { /* colours: every channel draws */
        double tint_fg = cnnc__drng_range(r, 0.4, 1.0), tint_bg = cnnc__drng_range(r, 0.4, 1.0);
        s->fg[c] = channels == 1 ? fg : fg * tint_fg;
        s->bg[c] = channels == 1 ? bg : bg * tint_bg;
    }
    s->gx = cnnc__drng_range(r, -0.1, 0.1);
    s->gy = cnnc__drng_range(r, -0.1, 0.1);
    s->noise = cnnc__drng_range(r, 0.02, 0.08);
}

/* Approximately standard normal: the sum of four 16-bit uniforms from one draw,
 * centred and scaled (Irwin-Hall). */
static double noise_unit(cnnc__drng *r) {
    uint64_t x = cnnc__drng_next(r);
    double sum = (double)((x & 0xFFFF) + (x >> 16 & 0xFFFF) + (x >> 32 & 0xFFFF) + (x >> 48));
    return (sum * 0x1.0p-16 - 2) * 1.7320508075688772; /* variance 4/12 -> 1 */
}

/* out [channels, size, size]. */
static void draw_image(float *out, const sample *s, cnnc__drng *r, int64_t channels, int64_t size) {
    double px = 2.0 / (double)size; /* pixel size, image units */
    double scale = sqrt(s->rx * s->ry);
    for (int64_t c = 0; c < channels; c++) {
        for (int64_t i = 0; i < size; i++) {
            double y = ((double)i + 0.5) * px - 1;
            for (int64_t j = 0; j < size; j++) {
                double x = ((double)j + 0.5) * px - 1;
                double qx = x - s->cx, qy = y - s->cy;
                double u = (s->cs * qx + s->sn * qy) / s->rx;
                double v = (s->cs * qy - s->sn * qx) / s->ry;
                double d = shape_distance(s, u, v) * scale; /* image units */
                double cover = fmin(fmax(0.5 - d / px, 0), 1);
                double val = s->bg[c] + (s->fg[c] - s->bg[c]) * cover + s->gx * x + s->gy * y +
                             s->noise * noise_unit(r);
                double byte = floor(fmin(fmax(val, 0), 1) * 255 + 0.5);
                out[(c * size + i) * size + j] = (float)byte / 255.0f;
            }
        }
    }
}

typedef struct synth_job {
    float *images; /* [n, channels, size, size] */
    uint64_t seed, split;
    int64_t channels, size;
} synth_job;

static cnnc_status synth_range(void *ctx, int64_t begin, int64_t end, int chunk) {
    (void)chunk;
    const synth_job *job = ctx;
    int64_t stride = job->channels * job->size * job->size;
    for (int64_t i = begin; i < end; i++) {
        cnnc__drng r =
            cnnc__drng_key(job->seed, 0x53796e746865ULL /* "Synthe" */, job->split, (uint64_t)i);
        sample s;
        draw_params(&s, &r, (shape)(i % NUM_SHAPES), job->channels);
        draw_image(job->images + i * stride, &s, &r, job->channels, job->size);
    }
    return CNNC_OK;
}

cnnc_dataset *cnnc_dataset_synthetic(bool train, int64_t size, cnnc_synthetic_options options) {
    static const char fn[] = "dataset_synthetic";
    if (size < 0)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT, "%s(): size must be >= 0, got %lld", fn,
                                (long long)size);
    if (options.channels != 1 && options.channels != 3)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                "%s(): channels must be 1 or 3, got %lld", fn,
                                (long long)options.channels);
    if (options.image_size < 8 || options.image_size > 1024)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                "%s(): image_size must be in [8, 1024], got %lld", fn,
                                (long long)options.image_size);
    int64_t side = options.image_size;
    cnnc_dataset *ds =
        cnnc__dataset_alloc(fn, size, options.channels, side, side, NUM_SHAPES, shape_names);
    if (!ds) return NULL;
    int64_t *labels = cnnc__i64(ds->labels);
    for (int64_t i = 0; i < size; i++) labels[i] = i % NUM_SHAPES;
    synth_job job = {cnnc__f32(ds->images), options.seed, train ? 1 : 2, options.channels, side};
    /* drawing costs some 100 operations per pixel (distances, anti-aliasing, noise) */
    const double pixels = (double)(options.channels * side * side);
    if (cnnc__parallel_for(size, (cnnc__cost){.flops = 100.0 * pixels, .bytes = 4.0 * pixels}, synth_range,
                           &job) != CNNC_OK) {
        cnnc_dataset_release(ds);
        return NULL;
    }
    return ds;
}
