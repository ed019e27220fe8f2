/* Internal: PyTorch's argument rules, shared by every op family and module.
 *
 * - The forms of a cnnc_ints / cnnc_doubles (cnnc.h): None, the int (float), a tuple.
 * - Int/tuple expansion as PyTorch does it in its three places: torch.nn's
 *   _single/_pair/_triple (cnnc__ntuple: an int becomes a tuple, a tuple of any
 *   length stays), the argument parser's `int[n]` (cnnc__int_list: an int becomes n
 *   copies, a tuple stays), and the C++ ops' "one value or one per dim"
 *   (cnnc__expand_ints: a one-value list broadcasts).
 * - Python's text of tuples and lists for messages and reprs.
 */
#ifndef CNNC_CORE_ARGS_H
#define CNNC_CORE_ARGS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cnnc.h"

/* ---- forms ------------------------------------------------------------------------- */

static inline bool cnnc__ints_is_none(const cnnc_ints *v) { return v->n == 0 && !v->tuple; }
static inline bool cnnc__ints_is_int(const cnnc_ints *v) { return v->n == 1 && !v->tuple; }
static inline bool cnnc__ints_is_tuple(const cnnc_ints *v) { return v->tuple || v->n > 1; }
static inline bool cnnc__doubles_is_none(const cnnc_doubles *v) { return v->n == 0 && !v->tuple; }
static inline bool cnnc__doubles_is_tuple(const cnnc_doubles *v) { return v->tuple || v->n > 1; }

/* A cnnc_ints / cnnc_doubles holds 0..CNNC_MAX_DIMS values; anything else is an
 * error naming fn and arg (and nothing is read past the array). */
cnnc_status cnnc__check_ints(const char *fn, const char *arg, const cnnc_ints *v);
cnnc_status cnnc__check_doubles(const char *fn, const char *arg, const cnnc_doubles *v);

/* PyTorch's argument parser refusing None where an int or a tuple is required:
 * "<fn>(): argument '<arg>' must be tuple of ints, not NoneType". */
cnnc_status cnnc__check_given(const char *fn, const char *arg, const cnnc_ints *v);

/* ---- expansion ------------------------------------------------------------------------ */

/* torch.nn.modules.utils._ntuple(n): the int k becomes the n-tuple (k, ..., k); a
 * tuple (of any length) and None come back unchanged. */
cnnc_ints cnnc__ntuple(cnnc_ints v, int n);

/* The list an `int[n]` parameter of a PyTorch op receives: the int k as n copies, a
 * tuple as its values (any length), None as nothing. Writes up to CNNC_MAX_DIMS
 * values into out and returns their count. */
int cnnc__int_list(const cnnc_ints *v, int n, int64_t *out);

/* The C++ ops' "a single value or one per dim" rule on the list an int[parse_n]
 * parameter receives: a one-value list broadcast to n values, an n-value list
 * copied. false (out untouched) for any other length, where each op words its own
 * error. (parse_n is n, except for convolutions, whose dims come from the weight.) */
bool cnnc__expand_ints(const cnnc_ints *v, int parse_n, int n, int64_t *out);

/* ---- text ---------------------------------------------------------------------------------- */

/* The n values between open and close, separated by sep: ("[", ", ", "]") gives
 * "[1, 2]", ("", " x ", "") gives "1 x 2". Truncated to cap (NUL-terminated). */
void cnnc__list_str(char *buf, size_t cap, int n, const int64_t *v, const char *open,
                    const char *sep, const char *close);
/* Python's text of a tuple: "(1, 2)", "(1,)", "()". Entries equal to CNNC_POOL_KEEP
 * print as None (adaptive pooling's output_size=(None, 7)). */
void cnnc__tuple_str(char *buf, size_t cap, int n, const int64_t *v);
/* The same for floats, each as Python's repr: "(2.0, 1.5)", "(2.0,)". */
void cnnc__float_tuple_str(char *buf, size_t cap, int n, const double *v);
/* Enough room for any of the three with CNNC_MAX_DIMS values. */
enum { CNNC__ARGS_STR_CAP = 512 };

#endif
