/* Internal: what the model file's loader and saver share (docs/model-format.md). */
#ifndef CNNC_IO_MODEL_H
#define CNNC_IO_MODEL_H
#include "cnnc.h"

#define CNNC__MODEL_KEY "cnnc.model"    /* the __metadata__ key holding the architecture */
#define CNNC__MODEL_FORMAT "cnnc.model" /* its "format" */
enum { CNNC__MODEL_VERSION = 1 };

/* cnnc_model_from_list with a choice of strictness: without it, tensors the file
 * lacks keep the values their modules were built with (the fuzz target runs
 * architectures that come without weights this way). */
cnnc_module *cnnc__model_build(const cnnc_tensor_list *list, bool strict);
#endif
