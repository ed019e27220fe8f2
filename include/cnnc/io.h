/* TEMPORARY (model branch): the io branch's declarations, replaced at its merge. */
#ifndef CNNC_IO_H
#define CNNC_IO_H
CNNC_API cnnc_status cnnc_safetensors_load(const char *path, cnnc_tensor_list **out);
CNNC_API cnnc_status cnnc_safetensors_save(const char *path, const cnnc_tensor_list *list);
#endif
