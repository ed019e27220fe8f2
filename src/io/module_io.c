/* A module's state_dict to and from a safetensors file (torch.save / load_state_dict
 * with safetensors' save_file / load_file). */
#include "core/error.h"

cnnc_status cnnc_module_save(cnnc_module *m, const char *path) {
    CNNC__NONNULL_OR_STATUS("module_save", m);
    CNNC__NONNULL_OR_STATUS("module_save", path);
    cnnc_tensor_list *sd = cnnc_module_state_dict(m);
    if (!sd) return cnnc_last_status();
    cnnc_status st = cnnc_safetensors_save(path, sd);
    cnnc_tensor_list_free(sd);
    return st;
}

cnnc_status cnnc_module_load(cnnc_module *m, const char *path, bool strict) {
    CNNC__NONNULL_OR_STATUS("module_load", m);
    CNNC__NONNULL_OR_STATUS("module_load", path);
    cnnc_tensor_list *sd = NULL;
    cnnc_status st = cnnc_safetensors_load(path, &sd);
    if (st != CNNC_OK) return st;
    st = cnnc_module_load_state_dict(m, sd, strict);
    cnnc_tensor_list_free(sd);
    return st;
}
