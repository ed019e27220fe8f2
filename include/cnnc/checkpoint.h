/* cnnc public API: training checkpoints. Included by cnnc.h; include <cnnc.h>, not this.
 *
 * A checkpoint is everything a training run needs to continue exactly as if it had not
 * stopped: the model's state_dict, the optimizer's and the scheduler's state_dicts and
 * the default random generator's state, gathered in one tensor list (the contents of
 * one safetensors file). The caller adds its own counters (step, epoch) as metadata:
 *
 *     cnnc_tensor_list *ck = cnnc_checkpoint_state(net, opt, sched);
 *     cnnc_tensor_list_set_meta(ck, "train.step", "1200");
 *     ... save ck (a safetensors file) ... later, in a fresh process, with a model,
 *     optimizer and scheduler built as before:
 *     cnnc_checkpoint_load_state(ck, net, opt, sched);       // continues bit for bit
 *     int64_t step = strtoll(cnnc_tensor_list_meta(ck, "train.step"), NULL, 10);
 *
 * Layout (tensor names, and metadata keys as a safetensors __metadata__ keeps them):
 *   model.<key>                    each entry of the module's state_dict
 *   optimizer.state.<i>.<key>      the optimizer's state tensors (its state_dict's)
 *   meta optimizer.param_groups.*  the optimizer's groups (its state_dict's metadata)
 *   meta scheduler.<key>           the scheduler's state_dict (all metadata)
 *   rng_state                      int64 [4], cnnc_get_rng_state()
 *   meta format = "cnnc.checkpoint", format_version = "1"
 *   meta none = the comma-separated names of the entries that are None (an SGD
 *               momentum_buffer before its first step): a file has no None tensor.
 * None entries are left out of the list itself, so every listed tensor can be written. */
#ifndef CNNC_CHECKPOINT_H
#define CNNC_CHECKPOINT_H
#ifndef CNNC_H
#error "include <cnnc.h> instead"
#endif
#ifdef __cplusplus
extern "C" {
#endif

/* A new tensor list (free with cnnc_tensor_list_free) holding a snapshot of the
 * model's, the optimizer's and the scheduler's state and of the random generator:
 * every tensor is a copy, so later training does not change it. optimizer and
 * scheduler may be NULL (then left out); model may not. */
CNNC_API cnnc_tensor_list *cnnc_checkpoint_state(cnnc_module *model,
                                                 const cnnc_optimizer *optimizer,
                                                 const cnnc_lr_scheduler *scheduler);

/* Restores a checkpoint made by cnnc_checkpoint_state into a model, optimizer and
 * scheduler built as those of the saved run (same architecture, optimizer type and
 * parameter groups, scheduler type), and the random generator. optimizer and
 * scheduler may be NULL (then not restored). Errors: not a checkpoint (no format
 * marker, another format_version), a missing or malformed part (no optimizer state
 * when an optimizer is given...), and the errors of cnnc_module_load_state_dict
 * (strict), cnnc_optimizer_load_state_dict, cnnc_lr_scheduler_load_state_dict and
 * cnnc_set_rng_state. The checkpoint's shape is checked before anything changes;
 * each part is then restored in that order, and a part that fails leaves itself
 * unchanged but not the parts before it: restore into fresh objects. */
CNNC_API cnnc_status cnnc_checkpoint_load_state(const cnnc_tensor_list *checkpoint,
                                                cnnc_module *model, cnnc_optimizer *optimizer,
                                                cnnc_lr_scheduler *scheduler);

#ifdef __cplusplus
}
#endif
#endif /* CNNC_CHECKPOINT_H */
