/* Files of `cnnc train` / `cnnc eval`: checkpoints and weights are safetensors files
 * (cnnc_safetensors_save / cnnc_safetensors_load, include/cnnc/io.h). */
#include <stdio.h>

#include "train.h"

bool train_file_save(const char *path, const cnnc_tensor_list *list, char *err, size_t cap)
{
    (void)list;
    snprintf(err, cap, "cannot write %s: this build has no safetensors writer yet "
                       "(cnnc_safetensors_save)", path);
    return false;
}

cnnc_tensor_list *train_file_load(const char *path, char *err, size_t cap)
{
    snprintf(err, cap, "cannot read %s: this build has no safetensors reader yet "
                       "(cnnc_safetensors_load)", path);
    return NULL;
}
