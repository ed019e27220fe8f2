/* Files of `cnnc train` / `cnnc eval`: checkpoints and weights are safetensors files
 * (cnnc_safetensors_save / cnnc_safetensors_load of include/cnnc/io.h, present when
 * the library is built with its I/O part: CNNC_HAS_IO). A checkpoint list has no
 * None entries (cnnc_checkpoint_state names them in its metadata), so every entry
 * can be written. */
#include <stdio.h>

#include "train.h"

#ifdef CNNC_HAS_IO
bool train_file_save(const char *path, const cnnc_tensor_list *list, char *err, size_t cap)
{
    if (cnnc_safetensors_save(path, list) == CNNC_OK)
        return true;
    snprintf(err, cap, "%s", cnnc_last_error());
    return false;
}

cnnc_tensor_list *train_file_load(const char *path, char *err, size_t cap)
{
    cnnc_tensor_list *list = NULL;
    if (cnnc_safetensors_load(path, &list) == CNNC_OK)
        return list;
    snprintf(err, cap, "%s", cnnc_last_error());
    return NULL;
}
#else
bool train_file_save(const char *path, const cnnc_tensor_list *list, char *err, size_t cap)
{
    (void)list;
    snprintf(err, cap, "cannot write %s: this build has no safetensors writer "
                       "(cnnc_safetensors_save; the library's I/O part needs cJSON)", path);
    return false;
}

cnnc_tensor_list *train_file_load(const char *path, char *err, size_t cap)
{
    snprintf(err, cap, "cannot read %s: this build has no safetensors reader "
                       "(cnnc_safetensors_load; the library's I/O part needs cJSON)", path);
    return NULL;
}
#endif
