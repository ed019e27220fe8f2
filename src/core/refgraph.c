/* Strong-reference reachability between tensors, for cnnc_tensor_set_grad: a tensor
 * holds its .grad, its grad_fn node and its view base; a node holds the nodes and leaf
 * tensors of its inputs, its saved tensors and its gradient accumulator. Assigning as
 * t's grad a tensor from which t is reachable closes a reference cycle that reference
 * counting never frees. */
#include "core/autograd.h"

#include <stdint.h>

#include "core/alloc.h"
#include "core/error.h"

/* A set of visited pointers (open addressing, power-of-two capacity, never full). */
typedef struct {
    const void **slot;
    size_t cap, n;
} ptr_set;

static size_t ptr_hash(const void *p, size_t cap) {
    uint64_t h = (uint64_t)(uintptr_t)p * 0x9E3779B97F4A7C15ull;
    return (size_t)(h >> 17) & (cap - 1);
}

/* Adds p; *added tells whether it was new. false on allocation failure. */
static bool ptr_set_add(ptr_set *s, const void *p, bool *added) {
    if (2 * (s->n + 1) > s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 64;
        const void **slot = cnnc__calloc(cap, sizeof *slot);
        if (!slot) return false;
        for (size_t i = 0; i < s->cap; i++) {
            if (!s->slot[i]) continue;
            size_t k = ptr_hash(s->slot[i], cap);
            while (slot[k]) k = (k + 1) & (cap - 1);
            slot[k] = s->slot[i];
        }
        cnnc__free(s->slot);
        s->slot = slot;
        s->cap = cap;
    }
    size_t k = ptr_hash(p, s->cap);
    while (s->slot[k] && s->slot[k] != p) k = (k + 1) & (s->cap - 1);
    *added = !s->slot[k];
    if (*added) {
        s->slot[k] = p;
        s->n++;
    }
    return true;
}

/* The walk's work list: tensors and nodes, told apart by a tag. */
typedef struct {
    const void *p;
    bool is_node;
} ref_item;

typedef struct {
    ref_item *items;
    size_t n, cap;
    ptr_set seen;
    bool oom;
} ref_walk;

static void push(ref_walk *w, const void *p, bool is_node) {
    bool added;
    if (!p || w->oom) return;
    if (!ptr_set_add(&w->seen, p, &added)) {
        w->oom = true;
        return;
    }
    if (!added) return;
    if (!cnnc__grow((void **)&w->items, &w->cap, w->n + 1, sizeof *w->items)) {
        w->oom = true;
        return;
    }
    w->items[w->n++] = (ref_item){p, is_node};
}

cnnc_status cnnc__refers_to(const cnnc_tensor *from, const cnnc_tensor *target, bool *found) {
    ref_walk w = {0};
    *found = false;
    push(&w, from, false);
    while (w.n > 0 && !*found && !w.oom) {
        ref_item it = w.items[--w.n];
        if (!it.is_node) {
            const cnnc_tensor *t = it.p;
            if (t == target) {
                *found = true;
                break;
            }
            push(&w, t->grad, false);
            push(&w, t->grad_fn, true);
            push(&w, t->view_base, false);
            continue;
        }
        const cnnc__node *n = it.p;
        for (int i = 0; i < n->n_inputs; i++) {
            push(&w, n->next[i].fn, true);
            push(&w, n->next[i].leaf, false);
        }
        if (!n->saved_freed)
            for (int i = 0; i < n->n_saved; i++) push(&w, n->saved[i], false);
        push(&w, n->grad_acc, false);
    }
    cnnc__free(w.items);
    cnnc__free(w.seen.slot);
    return w.oom ? cnnc__oom("set_grad: reference walk") : CNNC_OK;
}
