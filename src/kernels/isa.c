/* The CPU's level, read once, and the cap on it (see isa.h).
 *
 * Two pieces of global state: the CPU's level, written once by whichever thread
 * gets there first (the others wait the few microseconds it takes), and the active
 * level, an atomic every op reads once and cnnc__isa_set_cap overwrites. */
#include "kernels/isa.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

static const char *const isa_names[CNNC__ISA_COUNT] = {
#define CNNC__X(e, name) #name,
    CNNC__ISA_LIST(CNNC__X)
#undef CNNC__X
};

const char *cnnc__isa_name(cnnc__isa isa) {
    return (unsigned)isa < CNNC__ISA_COUNT ? isa_names[isa] : "?";
}

static bool same_name(const char *a, const char *b) {
    for (; *a && *b; a++, b++) {
        char ca = *a >= 'A' && *a <= 'Z' ? (char)(*a - 'A' + 'a') : *a;
        if (ca != *b) return false;
    }
    return *a == *b;
}

int cnnc__isa_from_name(const char *name) {
    if (!name) return -1;
    for (int i = 0; i < CNNC__ISA_COUNT; i++)
        if (same_name(name, isa_names[i])) return i;
    return -1;
}

/* The best level whose requirements (isa.h) this CPU and OS meet. */
static cnnc__isa detect(void) {
#if CNNC__ISA_X86
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma"))
        return CNNC__ISA_SCALAR;
    return __builtin_cpu_supports("avx512f") ? CNNC__ISA_AVX512 : CNNC__ISA_AVX2;
#else
    return CNNC__ISA_SCALAR;
#endif
}

enum { UNREAD, READING, READY };
static atomic_int state = UNREAD;
static cnnc__isa cpu_level;      /* written once, before state becomes READY */
static atomic_int active_level;  /* valid once state is READY */

/* The CPU's level and the CNNC_ISA cap, on the first call of the process. */
static void read_once(void) {
    int expected = UNREAD;
    if (!atomic_compare_exchange_strong(&state, &expected, READING)) {
        while (atomic_load_explicit(&state, memory_order_acquire) != READY) {
            /* another thread is reading the CPU and the environment (microseconds) */
        }
        return;
    }
    cpu_level = detect();
    int level = (int)cpu_level;
    const char *env = getenv("CNNC_ISA");
    if (env) {
        const int cap = cnnc__isa_from_name(env);
        if (cap < 0)
            fprintf(stderr, "cnnc: ignoring CNNC_ISA=%s (expected scalar, avx2 or avx512)\n", env);
        else if (cap < level)
            level = cap;
    }
    atomic_store(&active_level, level);
    atomic_store_explicit(&state, READY, memory_order_release);
}

static inline void ensure_read(void) {
    if (atomic_load_explicit(&state, memory_order_acquire) != READY) read_once();
}

cnnc__isa cnnc__isa_cpu(void) {
    ensure_read();
    return cpu_level;
}

bool cnnc__isa_supported(cnnc__isa isa) {
    return (unsigned)isa < CNNC__ISA_COUNT && isa <= cnnc__isa_cpu();
}

cnnc__isa cnnc__isa_active(void) {
    ensure_read();
    return (cnnc__isa)atomic_load_explicit(&active_level, memory_order_relaxed);
}

bool cnnc__isa_set_cap(cnnc__isa isa) {
    if (!cnnc__isa_supported(isa)) return false; /* reads the CPU (and CNNC_ISA) first */
    atomic_store(&active_level, (int)isa);
    return true;
}
