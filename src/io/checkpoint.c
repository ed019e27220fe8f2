/* Training checkpoints as one tensor list (include/cnnc/checkpoint.h): the model's,
 * optimizer's and scheduler's state_dicts under prefixes, the generator's state, and
 * the names of None entries (a file cannot hold them). Everything is copied in, so a
 * checkpoint is a snapshot; restoring strips the prefixes and hands each part to its
 * own load_state_dict. */
#include <string.h>

#include "cnnc.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/rng.h"
#include "core/strbuf.h"
#include "core/tensor.h"

#define FORMAT "cnnc.checkpoint"
#define FORMAT_VERSION "1"

/* Appends every tensor of src as prefix + name (a copy; None named in `none`) and every
 * metadata entry as prefix + key. */
static cnnc_status add_prefixed(cnnc_tensor_list *dst, const cnnc_tensor_list *src,
                                const char *prefix, cnnc__strbuf *none) {
    cnnc__strbuf key = {0};
    cnnc_status st = CNNC_OK;
    for (size_t i = 0; i < cnnc_tensor_list_size(src) && st == CNNC_OK; i++) {
        key.len = 0;
        cnnc__strbuf_printf(&key, "%s%s", prefix, cnnc_tensor_list_name(src, i));
        if (key.failed) break;
        cnnc_tensor *t = cnnc_tensor_list_get(src, i);
        if (!t) {
            cnnc__strbuf_printf(none, "%s%s", none->len ? "," : "", key.buf);
            continue;
        }
        cnnc_tensor *copy = cnnc__tensor_copy(t);
        st = copy ? cnnc_tensor_list_append(dst, key.buf, copy) : CNNC_ERR_OUT_OF_MEMORY;
        cnnc_tensor_release(copy);
    }
    for (size_t i = 0; i < cnnc_tensor_list_meta_size(src) && st == CNNC_OK && !key.failed; i++) {
        const char *k, *v;
        st = cnnc_tensor_list_meta_at(src, i, &k, &v);
        key.len = 0;
        cnnc__strbuf_printf(&key, "%s%s", prefix, k);
        if (st == CNNC_OK && !key.failed) st = cnnc_tensor_list_set_meta(dst, key.buf, v);
    }
    if (st == CNNC_OK && (key.failed || none->failed)) st = cnnc__oom("a checkpoint");
    cnnc__free(key.buf);
    return st;
}

static cnnc_status add_part(cnnc_tensor_list *dst, cnnc_tensor_list *part, const char *prefix,
                            cnnc__strbuf *none) {
    if (!part) return cnnc_last_status();
    cnnc_status st = add_prefixed(dst, part, prefix, none);
    cnnc_tensor_list_free(part);
    return st;
}

static cnnc_status add_rng(cnnc_tensor_list *dst) {
    cnnc_tensor *t = cnnc__tensor_new(CNNC_INT64, 1, (const int64_t[]){4});
    if (!t) return cnnc_last_status();
    cnnc__rng_get_state((uint64_t *)cnnc__i64(t));
    cnnc_status st = cnnc_tensor_list_append(dst, "rng_state", t);
    cnnc_tensor_release(t);
    return st;
}

cnnc_tensor_list *cnnc_checkpoint_state(cnnc_module *model, const cnnc_optimizer *optimizer,
                                        const cnnc_lr_scheduler *scheduler) {
    CNNC__NONNULL_OR_NULL("checkpoint_state", model);
    cnnc_tensor_list *ck = cnnc_tensor_list_new();
    if (!ck) return NULL;
    cnnc__strbuf none = {0};
    cnnc__strbuf_printf(&none, "%s", "");
    cnnc_status st = cnnc_tensor_list_set_meta(ck, "format", FORMAT);
    if (st == CNNC_OK) st = cnnc_tensor_list_set_meta(ck, "format_version", FORMAT_VERSION);
    if (st == CNNC_OK) st = add_part(ck, cnnc_module_state_dict(model), "model.", &none);
    if (st == CNNC_OK && optimizer)
        st = add_part(ck, cnnc_optimizer_state_dict(optimizer), "optimizer.", &none);
    if (st == CNNC_OK && scheduler)
        st = add_part(ck, cnnc_lr_scheduler_state_dict(scheduler), "scheduler.", &none);
    if (st == CNNC_OK) st = add_rng(ck);
    if (st == CNNC_OK && none.failed) st = cnnc__oom("a checkpoint");
    if (st == CNNC_OK) st = cnnc_tensor_list_set_meta(ck, "none", none.buf);
    cnnc__free(none.buf);
    if (st != CNNC_OK) {
        cnnc_tensor_list_free(ck);
        return NULL;
    }
    return ck;
}

/* ---- restoring ------------------------------------------------------------------- */

/* The entries of ck under prefix, without it: tensors (and the None names of `none`)
 * and metadata. *count receives the number of entries found. */
static cnnc_tensor_list *take_part(const cnnc_tensor_list *ck, const char *prefix,
                                   const char *none, size_t *count) {
    size_t n = strlen(prefix);
    cnnc_tensor_list *part = cnnc_tensor_list_new();
    if (!part) return NULL;
    cnnc_status st = CNNC_OK;
    *count = 0;
    for (size_t i = 0; i < cnnc_tensor_list_size(ck) && st == CNNC_OK; i++) {
        const char *name = cnnc_tensor_list_name(ck, i);
        if (strncmp(name, prefix, n) != 0) continue;
        st = cnnc_tensor_list_append(part, name + n, cnnc_tensor_list_get(ck, i));
        ++*count;
    }
    for (const char *p = none; p && *p && st == CNNC_OK;) { /* None entries come back */
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len > n && strncmp(p, prefix, n) == 0) {
            char *name = cnnc__malloc(len - n + 1);
            if (!name) st = cnnc__oom("a checkpoint part");
            else {
                memcpy(name, p + n, len - n);
                name[len - n] = 0;
                st = cnnc_tensor_list_append(part, name, NULL);
                cnnc__free(name);
                ++*count;
            }
        }
        p = end ? end + 1 : NULL;
    }
    for (size_t i = 0; i < cnnc_tensor_list_meta_size(ck) && st == CNNC_OK; i++) {
        const char *k, *v;
        st = cnnc_tensor_list_meta_at(ck, i, &k, &v);
        if (st != CNNC_OK || strncmp(k, prefix, n) != 0) continue;
        st = cnnc_tensor_list_set_meta(part, k + n, v);
        ++*count;
    }
    if (st != CNNC_OK) {
        cnnc_tensor_list_free(part);
        return NULL;
    }
    return part;
}

/* The marker, the parts asked for, and the generator's state, before anything changes. */
static cnnc_status check_shape_of(const cnnc_tensor_list *ck, const cnnc_optimizer *optimizer,
                                  const cnnc_lr_scheduler *scheduler) {
    cnnc_status st = CNNC_OK;
    const char *format = cnnc_tensor_list_meta(ck, "format");
    const char *version = cnnc_tensor_list_meta(ck, "format_version");
    cnnc_clear_error();
    if (!format || strcmp(format, FORMAT) != 0)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "checkpoint_load_state(): not a cnnc "
                           "checkpoint (metadata 'format' is %s%s%s, expected '" FORMAT "')",
                           format ? "'" : "", format ? format : "missing", format ? "'" : "");
    if (!version || strcmp(version, FORMAT_VERSION) != 0)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "checkpoint_load_state(): checkpoint "
                           "format_version %s is not supported (this library reads "
                           FORMAT_VERSION ")", version ? version : "(missing)");
    const char *none = cnnc_tensor_list_meta(ck, "none");
    if (!none)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "checkpoint_load_state(): the metadata 'none' is missing");
    const cnnc_tensor *rng = cnnc_tensor_list_find(ck, "rng_state");
    if (!rng)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "checkpoint_load_state(): the checkpoint has no 'rng_state'");
    if (rng->dtype != CNNC_INT64 || rng->ndim != 1 || rng->shape[0] != 4)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "checkpoint_load_state(): 'rng_state' "
                           "must be an int64 tensor of shape [4]");
    const char *need[2] = {optimizer ? "optimizer." : NULL, scheduler ? "scheduler." : NULL};
    for (int k = 0; k < 2 && st == CNNC_OK; k++) {
        if (!need[k]) continue;
        size_t count = 0;
        cnnc_tensor_list *part = take_part(ck, need[k], none, &count);
        if (!part) return cnnc_last_status();
        cnnc_tensor_list_free(part);
        if (count == 0)
            st = cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "checkpoint_load_state(): an %s was "
                             "given but the checkpoint holds no %s state", k ? "scheduler" :
                             "optimizer", k ? "scheduler" : "optimizer");
    }
    return st;
}

typedef enum part_kind { PART_MODEL, PART_OPTIMIZER, PART_SCHEDULER } part_kind;

static cnnc_status restore_part(const cnnc_tensor_list *ck, part_kind kind, void *object) {
    static const char *const prefixes[] = {"model.", "optimizer.", "scheduler."};
    size_t count = 0;
    cnnc_tensor_list *part = take_part(ck, prefixes[kind], cnnc_tensor_list_meta(ck, "none"),
                                       &count);
    if (!part) return cnnc_last_status();
    cnnc_status st;
    if (kind == PART_MODEL) st = cnnc_module_load_state_dict(object, part, true);
    else if (kind == PART_OPTIMIZER) st = cnnc_optimizer_load_state_dict(object, part);
    else st = cnnc_lr_scheduler_load_state_dict(object, part);
    cnnc_tensor_list_free(part);
    return st;
}

cnnc_status cnnc_checkpoint_load_state(const cnnc_tensor_list *checkpoint, cnnc_module *model,
                                       cnnc_optimizer *optimizer, cnnc_lr_scheduler *scheduler) {
    CNNC__NONNULL_OR_STATUS("checkpoint_load_state", checkpoint);
    CNNC__NONNULL_OR_STATUS("checkpoint_load_state", model);
    cnnc_status st = check_shape_of(checkpoint, optimizer, scheduler);
    if (st == CNNC_OK) st = restore_part(checkpoint, PART_MODEL, model);
    if (st == CNNC_OK && optimizer) st = restore_part(checkpoint, PART_OPTIMIZER, optimizer);
    if (st == CNNC_OK && scheduler) st = restore_part(checkpoint, PART_SCHEDULER, scheduler);
    if (st == CNNC_OK) st = cnnc_set_rng_state(cnnc_tensor_list_find(checkpoint, "rng_state"));
    return st;
}
