/* TEMPORARY (model branch only, deleted when the io branch lands). */
#include "core/error.h"
cnnc_status cnnc_safetensors_load(const char *path, cnnc_tensor_list **out) {
    (void)out;
    return cnnc__error(CNNC_ERR_RUNTIME, "%s: safetensors not yet merged", path);
}
cnnc_status cnnc_safetensors_save(const char *path, const cnnc_tensor_list *list) {
    (void)list;
    return cnnc__error(CNNC_ERR_RUNTIME, "%s: safetensors not yet merged", path);
}
