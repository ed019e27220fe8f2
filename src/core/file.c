/* Reading whole files (the data readers and the io layer's parsers work on buffers). */
#include "core/file.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "core/alloc.h"
#include "core/error.h"

cnnc_status cnnc__read_file(const char *path, uint8_t **data, size_t *size) {
    *data = NULL;
    *size = 0;
    struct stat st;
    /* stat first: opening a FIFO or a device could block or never end */
    if (stat(path, &st) != 0)
        return cnnc__error(CNNC_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return cnnc__error(CNNC_ERR_IO, "cannot read '%s': not a regular file", path);
    FILE *f = fopen(path, "rb");
    if (!f) return cnnc__error(CNNC_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return cnnc__error(CNNC_ERR_IO, "cannot read '%s': not a regular file", path);
    }
    if ((uint64_t)st.st_size > (uint64_t)PTRDIFF_MAX) {
        fclose(f);
        return cnnc__error(CNNC_ERR_OUT_OF_MEMORY, "'%s' (%lld bytes) does not fit in memory", path,
                           (long long)st.st_size);
    }
    size_t n = (size_t)st.st_size;
    uint8_t *buf = cnnc__malloc(n);
    if (!buf) {
        fclose(f);
        return cnnc__error(CNNC_ERR_OUT_OF_MEMORY, "out of memory reading '%s' (%zu bytes)", path,
                           n);
    }
    size_t got = fread(buf, 1, n, f);
    int failed = ferror(f);
    fclose(f);
    if (got != n || failed) {
        cnnc__free(buf);
        return cnnc__error(CNNC_ERR_IO, "cannot read '%s': read %zu of %zu bytes", path, got, n);
    }
    *data = buf;
    *size = n;
    return CNNC_OK;
}
