/* Internal: thread pool and parallel-for, plus per-thread reusable workspace.
 * Results must never depend on the thread count: a parallel_for splits [0, n)
 * into contiguous chunks, and callers only ever write disjoint outputs. */
#ifndef CNNC_CORE_PARALLEL_H
#define CNNC_CORE_PARALLEL_H
#include <stddef.h>
#include <stdint.h>

/* fn(ctx, begin, end, tid) is called on disjoint chunks covering [0, n). tid is
 * the chunk's index, in [0, cnnc__parallel_threads()): unique among the chunks of
 * one call, so it may index per-chunk scratch. Chunks are at least `grain` long
 * (except the last) and their boundaries depend only on n, grain and the thread
 * count; n <= grain, one thread, or a call from inside another parallel_for runs
 * the same chunks one after another on the caller. */
typedef void (*cnnc__range_fn)(void *ctx, int64_t begin, int64_t end, int tid);
void cnnc__parallel_for(int64_t n, int64_t grain, cnnc__range_fn fn, void *ctx);

/* The number of threads a parallel_for started now would use (>= 1). */
int cnnc__parallel_threads(void);

/* A 64-byte aligned buffer of at least `bytes` bytes owned by the calling thread,
 * reused across calls (grown when too small). Valid until the next call of
 * cnnc__workspace on the same thread. NULL (with the error set) if allocation fails. */
void *cnnc__workspace(size_t bytes);

#endif
