/* Internal: the instruction-set levels kernel variants are written for, the CPU's
 * features (read once), and the cap on the level (environment variable CNNC_ISA,
 * public cnnc_set_isa).
 *
 * Levels, lowest first:
 *   SCALAR  portable C (compiled for the baseline target: SSE2 on x86-64);
 *   AVX2    AVX2 and FMA: every AVX2 kernel is compiled with target("avx2,fma");
 *   AVX512  AVX-512F, plus AVX2 and FMA (the AVX-512 kernels are compiled with
 *           target("avx512f") or "avx512f,fma"; no kernel is compiled for the BW, DQ or
 *           VL subsets, so none is required).
 * The CPU checks include the operating system saving the wider registers (XGETBV),
 * through the compiler's __builtin_cpu_supports. Builds for other architectures (or
 * compilers without target attributes) have SCALAR only.
 *
 * Dispatch: every kernel family lists its variants in one X-macro list, fastest
 * first and always ending with the portable one (the SIMD entries only in x86 builds),
 * e.g. kernels/activation_internal.h:
 *
 *     #define CNNC__ACT_VARIANTS(X) \
 *         X(AVX512, avx512)         \
 *         X(AVX2, avx2)             \
 *         X(SCALAR, scalar)
 *
 * (kernels/gemm.h, norm_internal.h, conv_simd.c, conv_im2col.c, conv_dw.c,
 * conv_winograd.c list theirs), and runs, at a level, the first variant of its list
 * whose level is at most that level (CNNC__ISA_PICKER): a level without a variant of
 * its own runs the next one below. Kernels take the level as an argument; an op reads
 * it once, cnnc__isa_active(), and passes that value to every kernel it calls for the
 * whole call, so a cap changed by another thread meanwhile never mixes two ISAs in
 * one result, nor sizes a workspace for one variant and runs another. */
#ifndef CNNC_KERNELS_ISA_H
#define CNNC_KERNELS_ISA_H
#include <stdbool.h>
#include <stddef.h>

/* Target attributes (GCC/Clang) on x86: the only place SIMD variants are built. */
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
#define CNNC__ISA_X86 1
#else
#define CNNC__ISA_X86 0
#endif

/* X-list: (enum suffix, name as in CNNC_ISA and cnnc_set_isa), lowest level first. */
#define CNNC__ISA_LIST(X) \
    X(SCALAR, scalar)     \
    X(AVX2, avx2)         \
    X(AVX512, avx512)

typedef enum cnnc__isa {
#define CNNC__X(e, name) CNNC__ISA_##e,
    CNNC__ISA_LIST(CNNC__X)
#undef CNNC__X
    CNNC__ISA_COUNT
} cnnc__isa;

/* "scalar", "avx2", "avx512" ("?" outside the enum). */
const char *cnnc__isa_name(cnnc__isa isa);
/* The level named `name` (one of the names above, any letter case), or -1. */
int cnnc__isa_from_name(const char *name);

/* The best level this build can run on this CPU (the CPU is queried once). */
cnnc__isa cnnc__isa_cpu(void);
/* Can this build run `isa`'s kernels on this CPU? (isa <= cnnc__isa_cpu()) */
bool cnnc__isa_supported(cnnc__isa isa);

/* The level kernels run at now: the CPU's best, capped by CNNC_ISA (read on the first
 * call: an unknown value is ignored with a warning on stderr, a level above the CPU's
 * caps nothing) or by the last cnnc__isa_set_cap. Thread-safe; read it once per op. */
cnnc__isa cnnc__isa_active(void);
/* Sets the level kernels run at from now on (later calls of cnnc__isa_active).
 * Returns false, and changes nothing, when the CPU cannot run `isa`. Thread-safe:
 * ops already running keep the level they read. */
bool cnnc__isa_set_cap(cnnc__isa isa);

/* One source compiled per level (activation_avx2.c, norm_avx2.c, ...): the functions
 * between CNNC__ISA_TARGET_BEGIN("avx2,fma") and CNNC__ISA_TARGET_END are compiled for
 * that target (a target attribute string); CNNC__ISA_CONTRACT, right after BEGIN,
 * also lets the compiler fuse a * b + c into fused multiply-adds there (not
 * fast-math: NaN and infinities keep IEEE semantics). GCC and Clang spell these with
 * different pragmas (each ignores the other's, which would silently compile the
 * variant for the baseline target). */
#define CNNC__ISA_PRAGMA_(x) _Pragma(#x)
#if defined(__clang__)
#define CNNC__ISA_TARGET_BEGIN(t_) \
    CNNC__ISA_PRAGMA_(clang attribute push(__attribute__((target(t_))), apply_to = function))
#define CNNC__ISA_CONTRACT CNNC__ISA_PRAGMA_(clang fp contract(fast))
#define CNNC__ISA_TARGET_END CNNC__ISA_PRAGMA_(clang attribute pop)
#else
#define CNNC__ISA_TARGET_BEGIN(t_) \
    CNNC__ISA_PRAGMA_(GCC push_options) CNNC__ISA_PRAGMA_(GCC target(t_))
#define CNNC__ISA_CONTRACT CNNC__ISA_PRAGMA_(GCC optimize("fp-contract=fast"))
#define CNNC__ISA_TARGET_END CNNC__ISA_PRAGMA_(GCC pop_options)
#endif

/* Variant selection: defines `static const T *fn(cnnc__isa level)`, returning the entry
 * of a family's variant table `table` (an array of T, each with a cnnc__isa field
 * `isa`) that runs at `level`: the first whose level is at most `level`. The table
 * lists the variants this build has, fastest first; its last entry is the SCALAR one,
 * so the walk always stops. */
#define CNNC__ISA_PICKER(fn, T, table)            \
    static const T *fn(cnnc__isa level) {         \
        const T *v_ = (table);                    \
        while (v_->isa > level) v_++;             \
        return v_;                                \
    }

#endif
