/* Internal: whole files into memory. */
#ifndef CNNC_CORE_FILE_H
#define CNNC_CORE_FILE_H
#include <stddef.h>
#include <stdint.h>

#include "cnnc.h"

/* The whole file at path into *data (allocated; free with cnnc__free) and *size. A
 * missing, unreadable or non-regular file is CNNC_ERR_IO naming the path. */
cnnc_status cnnc__read_file(const char *path, uint8_t **data, size_t *size);
#endif
