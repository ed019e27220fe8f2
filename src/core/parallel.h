/* Internal: the one threading driver (parallel regions over the thread pool), plus
 * per-thread reusable workspace.
 *
 * A parallel region covers items [0, n). The caller states what one item
 * approximately costs (cnnc__cost); the driver alone decides the chunking, with
 * one rule for the whole library:
 *
 *   item_ns = flops / CNNC__FLOPS_PER_NS + bytes / CNNC__BYTES_PER_NS
 *   chunks  = n * item_ns / (CNNC__MIN_CHUNK_NS + chunk_bytes / CNNC__BYTES_PER_NS),
 *             rounded down and clamped to [1, min(threads, n)]
 *
 * so a chunk always carries enough work to pay for waking a thread, and a region
 * worth less than two chunks runs inline on the caller. Chunk c covers a
 * contiguous, balanced range of items whose boundaries depend only on n, the cost
 * and the thread count; callers only ever write disjoint outputs, or keep
 * per-item (never per-chunk) partials that they reduce in a fixed order, so
 * results never depend on the thread count.
 *
 * A region sees one thread count from start to end: cnnc__par_plan reads it once
 * and fixes the chunk count, scratch indexed by chunk is sized from plan.chunks,
 * and cnnc__par_run runs exactly those chunks whatever cnnc_set_num_threads does
 * meanwhile (chunks no pool thread can take run on the caller).
 *
 * A chunk that fails (returns a status other than CNNC_OK with the error set on
 * the thread that ran it) makes the whole region fail: cnnc__par_run returns the
 * status of the lowest failing chunk and sets the caller's error to its message,
 * whichever thread ran it. */
#ifndef CNNC_CORE_PARALLEL_H
#define CNNC_CORE_PARALLEL_H
#include <stddef.h>
#include <stdint.h>

#include "cnnc.h"

/* One core's rough throughput for the grain rule (vectorized arithmetic; streaming
 * memory traffic), and the least work worth a chunk of its own: waking a sleeping
 * pool thread costs tens of microseconds on a VM. */
#define CNNC__FLOPS_PER_NS 64.0
#define CNNC__BYTES_PER_NS 8.0
#define CNNC__MIN_CHUNK_NS 30000.0

/* The approximate cost of one item: floating-point operations and bytes of memory
 * read plus written. chunk_bytes is traffic every chunk pays once whatever its size
 * (a GEMM chunk packs the whole shared operand); usually 0. */
typedef struct cnnc__cost {
    double flops, bytes, chunk_bytes;
} cnnc__cost;

/* fn(ctx, begin, end, chunk) runs the items [begin, end) of one chunk; chunk is in
 * [0, plan.chunks), unique within the region, so it may index per-chunk scratch.
 * Returns CNNC_OK, or a failure status with the error set (cnnc__error). */
typedef cnnc_status (*cnnc__range_fn)(void *ctx, int64_t begin, int64_t end, int chunk);

/* A region's chunking, fixed when planned. */
typedef struct cnnc__par {
    int64_t n;  /* items */
    int chunks; /* 1 <= chunks <= max(1, min(n, threads)); 1 when n <= 0 */
} cnnc__par;

/* The thread count now (cnnc_set_num_threads; >= 1). Read it once per op and pass
 * it to every plan of that op. */
int cnnc__parallel_threads(void);

/* Plans n items of the given cost for `threads` threads, by the rule above. */
cnnc__par cnnc__par_plan(int64_t n, cnnc__cost item, int threads);

/* Runs fn over the plan's chunks (on the pool, or all on the caller when the region
 * has one chunk, is nested in another region, or the pool is busy with another
 * caller's region). Returns CNNC_OK or the lowest failing chunk's status. */
cnnc_status cnnc__par_run(cnnc__par plan, cnnc__range_fn fn, void *ctx);

/* Plan for the current thread count and run: for regions with no per-chunk scratch. */
cnnc_status cnnc__parallel_for(int64_t n, cnnc__cost item, cnnc__range_fn fn, void *ctx);

/* A 64-byte aligned buffer of at least `bytes` bytes owned by the calling thread,
 * reused across calls (grown when too small). Valid until the next call of
 * cnnc__workspace on the same thread. NULL (with the error set) if allocation fails.
 * Freed by cnnc_thread_cleanup, and when the thread exits (pool threads, and any
 * thread when cnnc is built with pthreads). */
void *cnnc__workspace(size_t bytes);

#endif
