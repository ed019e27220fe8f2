/* Internal: a small lock for short critical sections shared between user threads
 * (the random generator, leaf gradient accumulation). C11 atomics only; a waiter
 * spins briefly, then yields its CPU. Cheap when uncontended (one atomic exchange).
 *
 * fork(): a lock held by another thread at fork would stay locked forever in the
 * child. Every user holds its locks across fork with pthread_atfork handlers
 * (prepare: lock; parent and child: unlock), as the thread pool does. */
#ifndef CNNC_CORE_SPINLOCK_H
#define CNNC_CORE_SPINLOCK_H
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>

typedef struct cnnc__spinlock {
    atomic_bool held; /* zero-initialised: unlocked */
} cnnc__spinlock;

static inline void cnnc__spin_lock(cnnc__spinlock *l) {
    unsigned spins = 0;
    while (atomic_exchange_explicit(&l->held, true, memory_order_acquire))
        while (atomic_load_explicit(&l->held, memory_order_relaxed)) {
            if (++spins > 1000) sched_yield();
#if defined(__x86_64__) || defined(__i386__)
            else __builtin_ia32_pause();
#endif
        }
}

static inline void cnnc__spin_unlock(cnnc__spinlock *l) {
    atomic_store_explicit(&l->held, false, memory_order_release);
}
#endif
