/* Internal: CNNC_TRACE=1 in the environment (read once) makes the instrumented calls
 * print, on stderr, one line per call: the op, the kernel path that ran, the shapes
 * and the time; and, at exit, a summary per (op, kernel): calls, total and mean time,
 * share of the traced time. Off (the default), a call costs one relaxed load.
 * Spans nest (per thread): a module's call holds its convolutions' calls, the backward
 * pass its nodes'; an inner span's line is indented and printed before its outer one's,
 * and only the outermost spans add up to the summary's traced time.
 *
 *     double t0 = cnnc__trace_begin();          // 0 when tracing is off
 *     ... work ...
 *     if (t0) cnnc__trace_end(t0, "conv2d.forward", "winograd f32_...", "x[8,64,56,56] ...");
 */
#ifndef CNNC_CORE_TRACE_H
#define CNNC_CORE_TRACE_H
#include <stdbool.h>
#include <stddef.h>

#include "cnnc.h"

/* Is tracing on? (CNNC_TRACE set to anything but "" or "0") */
bool cnnc__trace_on(void);
/* A start time in seconds (> 0) when tracing is on, else 0; a nonzero start opens a
 * span that cnnc__trace_end must close (on every path). */
double cnnc__trace_begin(void);
/* Prints the line for a call that started at t0 and adds it to the exit summary.
 * op: a static string; kernel: any text (its first 63 characters name the summary
 * row); at most 128 distinct (op, kernel) pairs are summarised, later ones are printed
 * only; shapes: any text. */
void cnnc__trace_end(double t0, const char *op, const char *kernel, const char *shapes);
/* "[8, 3, 32, 32] -> [8, 10]" into buf (always terminated): the shapes of in, then of
 * out after an arrow (none when n_out is 0); NULL tensors print as None. */
void cnnc__trace_shapes(char *buf, size_t cap, int n_in, cnnc_tensor *const *in, int n_out,
                        cnnc_tensor *const *out);

#endif
