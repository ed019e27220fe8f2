/* Python literals for state_dict metadata: the text Python's repr() writes for
 * floats, ints, bools, None, strings, tuples/lists of numbers and {int: int}
 * dicts, and strict parsers for them (the whole string must be one literal). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "optim/optim.h"

/* ---- writing -------------------------------------------------------------------- */

void cnnc__lit_double(cnnc__strbuf *sb, double v) {
    char buf[64];
    cnnc__float_repr(v, buf, sizeof buf);
    cnnc__strbuf_printf(sb, "%s", buf);
}

void cnnc__lit_str(cnnc__strbuf *sb, const char *s) {
    cnnc__strbuf_printf(sb, "'");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '\'' || *p == '\\') cnnc__strbuf_printf(sb, "\\%c", *p);
        else if (*p == '\n') cnnc__strbuf_printf(sb, "\\n");
        else if (*p == '\t') cnnc__strbuf_printf(sb, "\\t");
        else if (*p == '\r') cnnc__strbuf_printf(sb, "\\r");
        else if (*p < 0x20 || *p == 0x7f) cnnc__strbuf_printf(sb, "\\x%02x", *p);
        else cnnc__strbuf_printf(sb, "%c", *p);
    }
    cnnc__strbuf_printf(sb, "'");
}

void cnnc__lit_doubles(cnnc__strbuf *sb, const double *v, size_t n) {
    cnnc__strbuf_printf(sb, "[");
    for (size_t i = 0; i < n; i++) {
        if (i) cnnc__strbuf_printf(sb, ", ");
        cnnc__lit_double(sb, v[i]);
    }
    cnnc__strbuf_printf(sb, "]");
}

void cnnc__lit_ints(cnnc__strbuf *sb, const int64_t *v, size_t n) {
    cnnc__strbuf_printf(sb, "[");
    for (size_t i = 0; i < n; i++) cnnc__strbuf_printf(sb, "%s%lld", i ? ", " : "", (long long)v[i]);
    cnnc__strbuf_printf(sb, "]");
}

void cnnc__lit_value(cnnc__strbuf *sb, const cnnc_value *v) {
    switch (v->kind) {
    case CNNC_VALUE_BOOL: cnnc__strbuf_printf(sb, v->ints[0] ? "True" : "False"); break;
    case CNNC_VALUE_INT: cnnc__strbuf_printf(sb, "%lld", (long long)v->ints[0]); break;
    case CNNC_VALUE_FLOAT: cnnc__lit_double(sb, v->f); break;
    case CNNC_VALUE_STRING: cnnc__lit_str(sb, v->s ? v->s : ""); break;
    case CNNC_VALUE_FLOATS:
        cnnc__strbuf_printf(sb, "(");
        for (int i = 0; i < v->n; i++) {
            if (i) cnnc__strbuf_printf(sb, ", ");
            cnnc__lit_double(sb, v->fs[i]);
        }
        cnnc__strbuf_printf(sb, v->n == 1 ? ",)" : ")");
        break;
    default: cnnc__strbuf_printf(sb, "None"); break;
    }
}

cnnc_status cnnc__lit_set_meta(cnnc_tensor_list *l, const char *key, cnnc__strbuf *sb) {
    char *text = cnnc__strbuf_finish(sb, "a state_dict entry");
    if (!text) return CNNC_ERR_OUT_OF_MEMORY;
    cnnc_status st = cnnc_tensor_list_set_meta(l, key, text);
    cnnc__free(text);
    return st;
}

/* ---- parsing ------------------------------------------------------------------------ */

static const char *skip_ws(const char *p) {
    while (*p == ' ' || *p == '\t' || *p == '\n') p++;
    return p;
}

/* A number token at *p: [+-]? (digits [. digits] [e[+-]digits] | inf | nan).
 * is_int tells whether it had only digits. Advances *p. */
static bool scan_number(const char **pp, double *out, bool *is_int, int64_t *iout) {
    const char *p = *pp, *start = p;
    if (*p == '+' || *p == '-') p++;
    if (strncmp(p, "inf", 3) == 0 || strncmp(p, "nan", 3) == 0) {
        double v = p[0] == 'i' ? INFINITY : NAN;
        *out = *start == '-' ? -v : v;
        *is_int = false;
        *pp = p + 3;
        return true;
    }
    const char *digits = p;
    while (*p >= '0' && *p <= '9') p++;
    bool had_int_digits = p > digits, frac = false, exp = false;
    if (*p == '.') {
        frac = true;
        p++;
        const char *f = p;
        while (*p >= '0' && *p <= '9') p++;
        if (!had_int_digits && p == f) return false;
    } else if (!had_int_digits) {
        return false;
    }
    if (*p == 'e' || *p == 'E') {
        exp = true;
        p++;
        if (*p == '+' || *p == '-') p++;
        const char *e = p;
        while (*p >= '0' && *p <= '9') p++;
        if (p == e) return false;
    }
    char buf[400];
    size_t len = (size_t)(p - start);
    if (len >= sizeof buf) return false;
    memcpy(buf, start, len);
    buf[len] = 0;
    *is_int = !frac && !exp;
    if (*is_int) {
        errno = 0;
        long long v = strtoll(buf, NULL, 10);
        if (errno == ERANGE) return false;
        *iout = v;
        *out = (double)v; /* Python's float(int) for these sizes */
        /* large ints convert through the text, as Python rounds them */
        if (llabs(v) > (1LL << 53)) *out = strtod(buf, NULL);
    } else {
        *out = strtod(buf, NULL);
    }
    *pp = p;
    return true;
}

bool cnnc__lit_parse_double(const char *s, double *out) {
    bool is_int;
    int64_t iv;
    const char *p = skip_ws(s);
    if (!scan_number(&p, out, &is_int, &iv)) return false;
    return *skip_ws(p) == 0;
}

bool cnnc__lit_parse_int(const char *s, int64_t *out) {
    bool is_int;
    double d;
    const char *p = skip_ws(s);
    if (!scan_number(&p, &d, &is_int, out) || !is_int) return false;
    return *skip_ws(p) == 0;
}

bool cnnc__lit_parse_bool(const char *s, bool *out) {
    const char *p = skip_ws(s);
    if (strncmp(p, "True", 4) == 0 && *skip_ws(p + 4) == 0) return (*out = true), true;
    if (strncmp(p, "False", 5) == 0 && *skip_ws(p + 5) == 0) return (*out = false), true;
    return false;
}

bool cnnc__lit_is_none(const char *s) {
    const char *p = skip_ws(s);
    return strncmp(p, "None", 4) == 0 && *skip_ws(p + 4) == 0;
}

/* A quoted string at *p into a new buffer (NULL with *oom on allocation failure). */
static char *scan_str(const char **pp, bool *oom) {
    const char *p = *pp;
    char q = *p;
    if (q != '\'' && q != '"') return NULL;
    p++;
    size_t cap = strlen(p) + 1;
    char *out = cnnc__malloc(cap), *o = out;
    if (!out) return (*oom = true), NULL;
    for (; *p && *p != q; p++) {
        if (*p != '\\') {
            *o++ = *p;
            continue;
        }
        p++;
        switch (*p) {
        case '\\': case '\'': case '"': *o++ = *p; break;
        case 'n': *o++ = '\n'; break;
        case 't': *o++ = '\t'; break;
        case 'r': *o++ = '\r'; break;
        case 'x': {
            char hex[3] = {p[1], p[1] ? p[2] : 0, 0};
            char *end;
            long v = strtol(hex, &end, 16);
            if (end != hex + 2 || v == 0) goto bad;
            *o++ = (char)v;
            p += 2;
            break;
        }
        default: goto bad;
        }
    }
    if (*p != q) goto bad;
    *o = 0;
    *pp = p + 1;
    return out;
bad:
    cnnc__free(out);
    return NULL;
}

cnnc_status cnnc__lit_parse_str(const char *s, char **out) {
    bool oom = false;
    const char *p = skip_ws(s);
    char *v = scan_str(&p, &oom);
    if (oom) return cnnc__oom("a state_dict string");
    if (!v || *skip_ws(p) != 0) {
        cnnc__free(v);
        return CNNC_ERR_INVALID_ARGUMENT;
    }
    *out = v;
    return CNNC_OK;
}

/* A sequence "[a, b]" / "(a, b)" / "(a,)" / "{k: v, ...}" of numbers: calls
 * item(ctx, index, value...) for each. dict: pairs separated by ':'. */
typedef bool (*item_fn)(void *ctx, size_t i, double v, bool is_int, int64_t iv, double v2,
                        bool is_int2, int64_t iv2);

static cnnc_status scan_seq(const char *s, bool dict, item_fn item, void *ctx, size_t *count) {
    const char *p = skip_ws(s);
    char open = *p, close = dict ? '}' : open == '[' ? ']' : ')';
    if (dict ? open != '{' : (open != '[' && open != '(')) return CNNC_ERR_INVALID_ARGUMENT;
    p = skip_ws(p + 1);
    size_t n = 0;
    while (*p != close) {
        double v, v2 = 0;
        bool is_int, is_int2 = false;
        int64_t iv, iv2 = 0;
        if (!scan_number(&p, &v, &is_int, &iv)) return CNNC_ERR_INVALID_ARGUMENT;
        p = skip_ws(p);
        if (dict) {
            if (*p != ':') return CNNC_ERR_INVALID_ARGUMENT;
            p = skip_ws(p + 1);
            if (!scan_number(&p, &v2, &is_int2, &iv2)) return CNNC_ERR_INVALID_ARGUMENT;
            p = skip_ws(p);
        }
        if (item && !item(ctx, n, v, is_int, iv, v2, is_int2, iv2)) return CNNC_ERR_OUT_OF_MEMORY;
        n++;
        if (*p == ',') p = skip_ws(p + 1);
        else if (*p != close) return CNNC_ERR_INVALID_ARGUMENT;
    }
    if (*skip_ws(p + 1) != 0) return CNNC_ERR_INVALID_ARGUMENT;
    *count = n;
    return CNNC_OK;
}

typedef struct seq_out {
    double *d;
    int64_t *k, *v;
    bool ints_only_ok;
} seq_out;

static bool put_double(void *ctx, size_t i, double v, bool is_int, int64_t iv, double v2,
                       bool is_int2, int64_t iv2) {
    (void)is_int, (void)iv, (void)v2, (void)is_int2, (void)iv2;
    ((seq_out *)ctx)->d[i] = v;
    return true;
}

static bool put_int(void *ctx, size_t i, double v, bool is_int, int64_t iv, double v2,
                    bool is_int2, int64_t iv2) {
    (void)v, (void)v2;
    seq_out *o = ctx;
    if (!is_int || (o->v && !is_int2)) return (o->ints_only_ok = false), true;
    o->k[i] = iv;
    if (o->v) o->v[i] = iv2;
    return true;
}

/* Counts, allocates, fills. */
static cnnc_status parse_seq(const char *s, bool dict, bool ints, void **a, void **b, size_t *n) {
    size_t count;
    cnnc_status st = scan_seq(s, dict, NULL, NULL, &count);
    if (st != CNNC_OK) return st;
    size_t elem = ints ? sizeof(int64_t) : sizeof(double);
    void *x = count ? cnnc__calloc(count, elem) : NULL;
    void *y = count && dict ? cnnc__calloc(count, elem) : NULL;
    if (count && (!x || (dict && !y))) {
        cnnc__free(x);
        cnnc__free(y);
        return cnnc__oom("a state_dict list");
    }
    seq_out o = {.d = x, .k = x, .v = y, .ints_only_ok = true};
    scan_seq(s, dict, ints ? put_int : put_double, &o, &count);
    if (!o.ints_only_ok) {
        cnnc__free(x);
        cnnc__free(y);
        return CNNC_ERR_INVALID_ARGUMENT;
    }
    *a = x;
    if (b) *b = y;
    *n = count;
    return CNNC_OK;
}

cnnc_status cnnc__lit_parse_doubles(const char *s, double **out, size_t *n) {
    return parse_seq(s, false, false, (void **)out, NULL, n);
}

cnnc_status cnnc__lit_parse_ints(const char *s, int64_t **out, size_t *n) {
    return parse_seq(s, false, true, (void **)out, NULL, n);
}

cnnc_status cnnc__lit_parse_int_dict(const char *s, int64_t **keys, int64_t **values, size_t *n) {
    return parse_seq(s, true, true, (void **)keys, (void **)values, n);
}

cnnc_status cnnc__lit_parse_value(const char *s, cnnc_value *out) {
    *out = (cnnc_value){.kind = CNNC_VALUE_NONE};
    bool b;
    double d;
    int64_t i;
    if (cnnc__lit_is_none(s)) return CNNC_OK;
    if (cnnc__lit_parse_bool(s, &b)) {
        out->kind = CNNC_VALUE_BOOL;
        out->ints[0] = b;
        return CNNC_OK;
    }
    if (cnnc__lit_parse_int(s, &i)) {
        out->kind = CNNC_VALUE_INT;
        out->ints[0] = i;
        return CNNC_OK;
    }
    if (cnnc__lit_parse_double(s, &d)) {
        out->kind = CNNC_VALUE_FLOAT;
        out->f = d;
        return CNNC_OK;
    }
    char *str;
    cnnc_status st = cnnc__lit_parse_str(s, &str);
    if (st == CNNC_OK) {
        out->kind = CNNC_VALUE_STRING;
        out->s = str;
    }
    if (st != CNNC_ERR_INVALID_ARGUMENT) return st;
    double *v;
    size_t n;
    st = cnnc__lit_parse_doubles(s, &v, &n);
    if (st != CNNC_OK) return st;
    if (n <= CNNC_MAX_DIMS) {
        out->kind = CNNC_VALUE_FLOATS;
        out->n = (int)n;
        for (size_t k = 0; k < n; k++) out->fs[k] = v[k];
    }
    cnnc__free(v);
    return n <= CNNC_MAX_DIMS ? CNNC_OK : CNNC_ERR_INVALID_ARGUMENT;
}
