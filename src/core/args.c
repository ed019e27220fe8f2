#include "core/args.h"

#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "core/strbuf.h"

static cnnc_status check_count(const char *fn, const char *arg, int n) {
    if (n < 0 || n > CNNC_MAX_DIMS)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "%s(): argument '%s' holds %d values; expected 0 (None) to %d", fn,
                           arg, n, CNNC_MAX_DIMS);
    return CNNC_OK;
}

cnnc_status cnnc__check_ints(const char *fn, const char *arg, const cnnc_ints *v) {
    return check_count(fn, arg, v->n);
}

cnnc_status cnnc__check_doubles(const char *fn, const char *arg, const cnnc_doubles *v) {
    return check_count(fn, arg, v->n);
}

cnnc_status cnnc__check_given(const char *fn, const char *arg, const cnnc_ints *v) {
    if (!cnnc__ints_is_none(v)) return CNNC_OK;
    return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                       "%s(): argument '%s' must be tuple of ints, not NoneType", fn, arg);
}

cnnc_ints cnnc__ntuple(cnnc_ints v, int n) {
    if (!cnnc__ints_is_int(&v)) return v;
    cnnc_ints r = {.n = n, .tuple = true};
    for (int i = 0; i < n && i < CNNC_MAX_DIMS; i++) r.v[i] = v.v[0];
    return r;
}

int cnnc__int_list(const cnnc_ints *v, int n, int64_t *out) {
    if (cnnc__ints_is_int(v)) {
        int len = n < CNNC_MAX_DIMS ? n : CNNC_MAX_DIMS;
        for (int i = 0; i < len; i++) out[i] = v->v[0];
        return len;
    }
    int len = v->n < 0 ? 0 : v->n > CNNC_MAX_DIMS ? CNNC_MAX_DIMS : v->n;
    memcpy(out, v->v, (size_t)len * sizeof(int64_t));
    return len;
}

bool cnnc__expand_ints(const cnnc_ints *v, int parse_n, int n, int64_t *out) {
    int64_t list[CNNC_MAX_DIMS];
    int len = cnnc__int_list(v, parse_n, list);
    if (len != 1 && len != n) return false;
    for (int i = 0; i < n; i++) out[i] = list[len == 1 ? 0 : i];
    return true;
}

/* Appends to buf[*at..cap) like snprintf, keeping *at <= cap. */
static void put(char *buf, size_t cap, size_t *at, const char *fmt, const char *s, long long v) {
    if (*at >= cap) return;
    int k = s ? snprintf(buf + *at, cap - *at, fmt, s) : snprintf(buf + *at, cap - *at, fmt, v);
    if (k > 0) *at = *at + (size_t)k < cap ? *at + (size_t)k : cap;
}

/* v[0..n) separated by sep; none_keep: CNNC_POOL_KEEP entries as None. */
static void join(char *buf, size_t cap, size_t *at, int n, const int64_t *v, const char *sep,
                 bool none_keep) {
    for (int i = 0; i < n; i++) {
        if (i) put(buf, cap, at, "%s", sep, 0);
        if (none_keep && v[i] == CNNC_POOL_KEEP)
            put(buf, cap, at, "%s", "None", 0);
        else
            put(buf, cap, at, "%lld", NULL, (long long)v[i]);
    }
}

void cnnc__list_str(char *buf, size_t cap, int n, const int64_t *v, const char *open,
                    const char *sep, const char *close) {
    if (cap == 0) return;
    size_t at = 0;
    buf[0] = '\0';
    put(buf, cap, &at, "%s", open, 0);
    join(buf, cap, &at, n, v, sep, false);
    put(buf, cap, &at, "%s", close, 0);
}

void cnnc__tuple_str(char *buf, size_t cap, int n, const int64_t *v) {
    if (cap == 0) return;
    size_t at = 0;
    buf[0] = '\0';
    put(buf, cap, &at, "%s", "(", 0);
    join(buf, cap, &at, n, v, ", ", true);
    put(buf, cap, &at, "%s", n == 1 ? ",)" : ")", 0);
}

void cnnc__float_tuple_str(char *buf, size_t cap, int n, const double *v) {
    if (cap == 0) return;
    size_t at = 0;
    buf[0] = '\0';
    put(buf, cap, &at, "%s", "(", 0);
    for (int i = 0; i < n; i++) {
        char f[64];
        cnnc__float_repr(v[i], f, sizeof f);
        if (i) put(buf, cap, &at, "%s", ", ", 0);
        put(buf, cap, &at, "%s", f, 0);
    }
    put(buf, cap, &at, "%s", n == 1 ? ",)" : ")", 0);
}
