/* Model files: a whole network (architecture + weights) in one .safetensors file,
 * exchanged with PyTorch (python3 -m cnnc.export writes them from any torch module;
 * docs/model-format.md is the format). Built when cnnc is built with cJSON
 * (cnnc_has_io()); without cJSON they are not part of the library.
 *
 *     cnnc_module *net = cnnc_model_load("resnet18.safetensors");
 *     cnnc_module_eval(net);
 *     cnnc_tensor *y = cnnc_module_forward(net, x);   // as PyTorch's model(x)
 *
 * A loaded model is an ordinary module: its parameters and buffers carry PyTorch's
 * state_dict names, train/eval, zero_grad and repr work, and it is differentiable,
 * so it can be trained further in C and saved again. */
#ifndef CNNC_MODEL_H
#define CNNC_MODEL_H

/* The model in the file at path (a new reference), or NULL with an error naming the
 * file and what is wrong: not a safetensors file, no "cnnc.model" metadata, an
 * unknown module type or argument, a node referring to an unknown or later node, an
 * unknown op, missing or wrongly shaped tensors (load_state_dict with strict). */
CNNC_API cnnc_module *cnnc_model_load(const char *path);
/* The same from tensors and metadata already in memory (what cnnc_safetensors_load
 * gives): the list is only read. */
CNNC_API cnnc_module *cnnc_model_from_list(const cnnc_tensor_list *list);

/* Writes m, a loaded model or a Sequential of built-in modules (nested containers
 * allowed), to path: its state_dict and its architecture. A module the format
 * cannot describe (a user-defined module, whose constructor cnnc does not know) is
 * an error naming it. */
CNNC_API cnnc_status cnnc_model_save(cnnc_module *m, const char *path);
/* The state_dict with the architecture under the "cnnc.model" metadata key (what
 * cnnc_model_save writes): a new list, or NULL. */
CNNC_API cnnc_tensor_list *cnnc_model_to_list(cnnc_module *m);

/* The shape of the example input i that the model's file records (the exporter
 * writes the input it traced with): writes up to CNNC_MAX_DIMS sizes to shape and
 * returns their count, or -1 when m is no loaded model or records none for i. */
CNNC_API int cnnc_model_input_shape(const cnnc_module *m, int i, int64_t *shape);
#endif
