/* `cnnc run` and `cnnc info`: running a model file (an exported PyTorch network) on a
 * .npy array or an image, and describing a safetensors file. Public API only. */
#include "commands.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef CNNC_HAVE_STB
#include <stb/stb_image.h>
#endif

#if defined(CNNC_HAS_IO)

/* ---- option parsing ------------------------------------------------------------------- */

/* "a,b,c" into up to cap doubles: their count, or -1. */
static int parse_list(const char *s, double *out, int cap) {
    int n = 0;
    while (*s && n < cap) {
        char *end;
        errno = 0;
        out[n++] = strtod(s, &end);
        if (end == s || errno || (*end && *end != ',' && *end != 'x')) return -1;
        s = *end ? end + 1 : end;
    }
    return *s ? -1 : n;
}

typedef struct run_options {
    const char *model, *input, *image, *output, *labels;
    double mean[3], std[3], size[2];
    int n_size, top;
    bool train;
} run_options;

static int run_usage(const char *msg, const char *arg) {
    fprintf(stderr, "cnnc run: %s%s%s\n(cnnc help run shows the options)\n", msg, arg ? " " : "", arg ? arg : "");
    return 2;
}

static int parse_run(int argc, char **argv, run_options *o) {
    *o = (run_options){.mean = {0, 0, 0}, .std = {1, 1, 1}};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool takes = strcmp(a, "--train") != 0 && a[0] == '-';
        if (takes && !v) return run_usage("missing the value of", a);
        if (!strcmp(a, "--input")) o->input = v;
        else if (!strcmp(a, "--image")) o->image = v;
        else if (!strcmp(a, "--output")) o->output = v;
        else if (!strcmp(a, "--labels")) o->labels = v;
        else if (!strcmp(a, "--top")) o->top = atoi(v);
        else if (!strcmp(a, "--size")) o->n_size = parse_list(v, o->size, 2);
        else if (!strcmp(a, "--mean")) { if (parse_list(v, o->mean, 3) != 3) return run_usage("--mean takes 3 numbers:", v); }
        else if (!strcmp(a, "--std")) { if (parse_list(v, o->std, 3) != 3) return run_usage("--std takes 3 numbers:", v); }
        else if (!strcmp(a, "--train")) o->train = true;
        else if (a[0] == '-') return run_usage("unknown option", a);
        else if (!o->model) o->model = a;
        else return run_usage("unexpected argument", a);
        if (takes) i++;
    }
    if (!o->model) return run_usage("no MODEL file given", NULL);
    if (!o->input == !o->image) return run_usage("give exactly one of --input FILE.npy and --image FILE", NULL);
    if (o->n_size < 0 || (o->n_size && (o->size[0] < 1 || o->size[o->n_size - 1] < 1)))
        return run_usage("--size takes N or H,W (positive)", NULL);
    if (o->top < 0) return run_usage("--top takes a positive count", NULL);
    return 0;
}

/* ---- inputs ------------------------------------------------------------------------------- */

#ifdef CNNC_HAVE_STB
/* The image as a [1, 3, H, W] float tensor in [0, 1], resized (bilinear, as
 * torchvision's Resize on tensors) and normalised as asked. */
static cnnc_tensor *load_image(const run_options *o) {
    int w, h, c;
    unsigned char *px = stbi_load(o->image, &w, &h, &c, 3);
    if (!px) {
        fprintf(stderr, "cnnc run: cannot read the image %s: %s\n", o->image, stbi_failure_reason());
        return NULL;
    }
    cnnc_tensor *x = cnnc_empty(CNNC_SHAPE(1, 3, h, w), CNNC_FLOAT32);
    float *d = x ? cnnc_tensor_data_f32(x) : NULL;
    for (int64_t i = 0; d && i < (int64_t)w * h; i++)
        for (int k = 0; k < 3; k++) d[k * (int64_t)w * h + i] = px[i * 3 + k] / 255.0f;
    stbi_image_free(px);
    if (x && o->n_size) {
        int64_t oh = (int64_t)o->size[0], ow = (int64_t)o->size[o->n_size - 1];
        bool shrink = oh < h || ow < w; /* antialiased when shrinking, as torchvision's Resize */
        x = cnnc_interpolate(x, CNNC_INTERPOLATE(.size = CNNC_INTS(oh, ow), .mode = "bilinear",
                                                 .align_corners = 0, .antialias = shrink));
    }
    const float mean[3] = {(float)o->mean[0], (float)o->mean[1], (float)o->mean[2]};
    const float std[3] = {(float)o->std[0], (float)o->std[1], (float)o->std[2]};
    cnnc_tensor *m = cnnc_from_data(CNNC_SHAPE(1, 3, 1, 1), CNNC_FLOAT32, mean);
    cnnc_tensor *s = cnnc_from_data(CNNC_SHAPE(1, 3, 1, 1), CNNC_FLOAT32, std);
    return x && m && s ? cnnc_div(cnnc_sub(x, m), s) : NULL;
}
#else
static cnnc_tensor *load_image(const run_options *o) {
    fprintf(stderr, "cnnc run: this cnnc was built without stb (Debian libstb-dev), so it reads no images; "
                    "give --input %s.npy instead\n", o->image);
    return NULL;
}
#endif

static cnnc_tensor *load_input(const run_options *o) {
    if (o->image) return load_image(o);
    cnnc_tensor *x = NULL;
    if (cnnc_npy_load(o->input, &x) != CNNC_OK) return NULL;
    if (cnnc_tensor_dtype(x) == CNNC_FLOAT32) return x;
    fprintf(stderr, "cnnc run: %s holds integers; a model takes a float array ('<f4' or '<f8')\n", o->input);
    cnnc_tensor_release(x);
    return NULL;
}

/* ---- outputs ------------------------------------------------------------------------------ */

/* Line i (0-based) of the labels file, or NULL. */
static char *label_line(FILE *f, int64_t i, char *buf, size_t cap) {
    rewind(f);
    for (int64_t k = 0; fgets(buf, (int)cap, f); k++)
        if (k == i) {
            buf[strcspn(buf, "\r\n")] = '\0';
            return buf;
        }
    return NULL;
}

/* For each row of a [N, classes] output: the top k classes with softmax probabilities. */
static int print_top(cnnc_tensor *y, int k, const char *labels) {
    if (cnnc_tensor_ndim(y) != 2) {
        fprintf(stderr, "cnnc run: --top needs a [batch, classes] output, got %d dims\n", cnnc_tensor_ndim(y));
        return 1;
    }
    FILE *lf = labels ? fopen(labels, "r") : NULL;
    if (labels && !lf) fprintf(stderr, "cnnc run: cannot open the labels file %s; printing class indices\n", labels);
    cnnc_tensor *p = cnnc_softmax(y, CNNC_SOFTMAX(.dim = CNNC_INTS(1)));
    int64_t n = cnnc_tensor_size(y, 0), c = cnnc_tensor_size(y, 1);
    const float *pd = p ? cnnc_tensor_data_f32(p) : NULL;
    for (int64_t r = 0; pd && r < n; r++) {
        const float *row = pd + r * c;
        printf("input %lld:\n", (long long)r);
        bool *taken = calloc((size_t)c, 1);
        for (int j = 0; taken && j < k && j < c; j++) {
            int64_t best = -1;
            for (int64_t i = 0; i < c; i++)
                if (!taken[i] && (best < 0 || row[i] > row[best])) best = i;
            taken[best] = true;
            char buf[256];
            const char *name = lf ? label_line(lf, best, buf, sizeof buf) : NULL;
            printf("  %6.2f%%  %lld%s%s\n", 100.0 * row[best], (long long)best, name ? "  " : "", name ? name : "");
        }
        free(taken);
    }
    if (lf) fclose(lf);
    return pd ? 0 : 1;
}

static void print_shape(const char *what, cnnc_tensor *t) {
    printf("%s: [", what);
    for (int d = 0; d < cnnc_tensor_ndim(t); d++) printf("%s%lld", d ? ", " : "", (long long)cnnc_tensor_size(t, d));
    printf("]\n");
}

int cmd_run(int argc, char **argv) {
    run_options o;
    int bad = parse_run(argc, argv, &o);
    if (bad) return bad;
    cnnc_scope_begin();
    cnnc_module *m = cnnc_model_load(o.model);
    cnnc_tensor *x = m ? load_input(&o) : NULL;
    int rc = 1;
    if (x) {
        cnnc_module_train(m, o.train);
        bool grad = cnnc_set_grad_enabled(false);
        cnnc_tensor *y = cnnc_module_forward(m, x);
        cnnc_set_grad_enabled(grad);
        if (y) {
            print_shape("input", x);
            print_shape("output", y);
            rc = o.output && cnnc_npy_save(o.output, y) != CNNC_OK ? 1 : 0;
            if (rc == 0 && o.output) printf("wrote %s\n", o.output);
            if (rc == 0 && o.top) rc = print_top(y, o.top, o.labels);
            if (rc == 0 && !o.output && !o.top) {
                char *s = cnnc_tensor_to_string(y);
                if (s) printf("%s\n", s);
                cnnc_free(s);
            }
        }
    }
    if (rc && cnnc_last_status() != CNNC_OK) fprintf(stderr, "cnnc run: %s\n", cnnc_last_error());
    cnnc_module_release(m);
    cnnc_scope_end();
    return rc;
}

/* ---- info ------------------------------------------------------------------------------------ */

static void print_tensors(const cnnc_tensor_list *l) {
    int64_t total = 0;
    printf("%zu tensors:\n", cnnc_tensor_list_size(l));
    for (size_t i = 0; i < cnnc_tensor_list_size(l); i++) {
        cnnc_tensor *t = cnnc_tensor_list_get(l, i);
        char shape[128] = "";
        size_t len = 0;
        for (int d = 0; d < cnnc_tensor_ndim(t) && len < sizeof shape - 24; d++)
            len += (size_t)snprintf(shape + len, sizeof shape - len, "%s%lld", d ? ", " : "", (long long)cnnc_tensor_size(t, d));
        printf("  %-48s %-8s [%s]\n", cnnc_tensor_list_name(l, i), cnnc_dtype_name(cnnc_tensor_dtype(t)), shape);
        total += cnnc_tensor_numel(t);
    }
    printf("  (%lld values)\n", (long long)total);
}

static void print_metadata(const cnnc_tensor_list *l) {
    size_t n = cnnc_tensor_list_meta_size(l);
    printf("metadata: %zu entr%s\n", n, n == 1 ? "y" : "ies");
    for (size_t i = 0; i < n; i++) {
        const char *k, *v;
        if (cnnc_tensor_list_meta_at(l, i, &k, &v) != CNNC_OK) continue;
        size_t len = strlen(v);
        if (len > 100) printf("  %s: %.100s... (%zu characters)\n", k, v, len);
        else printf("  %s: %s\n", k, v);
    }
}

static int64_t count_parameters(cnnc_module *m) {
    cnnc_tensor_list *p = cnnc_module_named_parameters(m);
    int64_t n = 0;
    for (size_t i = 0; p && i < cnnc_tensor_list_size(p); i++) n += cnnc_tensor_numel(cnnc_tensor_list_get(p, i));
    cnnc_tensor_list_free(p);
    return n;
}

static void print_model(const cnnc_tensor_list *l) {
    cnnc_module *m = cnnc_model_from_list(l);
    if (!m) {
        printf("model: cannot be built: %s\n", cnnc_last_error());
        return;
    }
    char *repr = cnnc_module_repr(m);
    printf("model:\n%s\n", repr ? repr : "");
    cnnc_free(repr);
    printf("parameters: %lld\n", (long long)count_parameters(m));
    int64_t shape[CNNC_MAX_DIMS], other[CNNC_MAX_DIMS], macs = 0;
    int ndim = cnnc_model_input_shape(m, 0, shape);
    cnnc_tensor *x = ndim > 0 && cnnc_model_input_shape(m, 1, other) < 0 ? cnnc_zeros(ndim, shape, CNNC_FLOAT32) : NULL;
    if (x && cnnc_module_macs(m, 1, &x, &macs) == CNNC_OK) {
        int64_t batch = shape[0] > 0 ? shape[0] : 1;
        print_shape("input (as exported)", x);
        printf("multiply-accumulates: %.4g G for this input, %.4g G per sample\n", macs / 1e9, macs / 1e9 / (double)batch);
    } else {
        printf("multiply-accumulates: unknown (%s)\n", x ? cnnc_last_error() : "the file records no single input shape");
    }
    cnnc_module_release(m);
}

int cmd_info(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "cnnc info: takes one FILE.safetensors\n");
        return 2;
    }
    cnnc_scope_begin();
    cnnc_tensor_list *l = NULL;
    int rc = 0;
    if (cnnc_safetensors_load(argv[1], &l) != CNNC_OK) {
        fprintf(stderr, "cnnc info: %s\n", cnnc_last_error());
        rc = 1;
    } else {
        printf("%s\n", argv[1]);
        print_tensors(l);
        print_metadata(l);
        if (cnnc_tensor_list_meta(l, "cnnc.model")) print_model(l);
        cnnc_tensor_list_free(l);
    }
    cnnc_scope_end();
    return rc;
}

#else /* no io */

static int no_io(const char *cmd) {
    fprintf(stderr, "cnnc %s: this cnnc was built without cJSON (Debian libcjson-dev), so without model files\n", cmd);
    return 1;
}
int cmd_run(int argc, char **argv) {
    (void)argc;
    (void)argv;
    return no_io("run");
}
int cmd_info(int argc, char **argv) {
    (void)argc;
    (void)argv;
    return no_io("info");
}
#endif
