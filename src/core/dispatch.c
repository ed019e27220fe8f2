/* The public face of kernels/isa.c: cnnc_set_isa / cnnc_get_isa. */
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "kernels/isa.h"

/* "avx2, scalar": the levels this CPU supports, best first. */
static void supported_list(char *out, size_t size) {
    out[0] = '\0';
    for (int i = (int)cnnc__isa_cpu(); i >= 0; i--) {
        const size_t used = strlen(out);
        snprintf(out + used, size - used, "%s%s", used ? ", " : "", cnnc__isa_name((cnnc__isa)i));
    }
}

cnnc_status cnnc_set_isa(const char *name) {
    CNNC__NONNULL_OR_STATUS("cnnc_set_isa", name);
    const int isa = cnnc__isa_from_name(name);
    if (isa < 0)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "cnnc_set_isa(): unknown ISA '%s' (expected avx512, avx2 or scalar)",
                           name);
    if (!cnnc__isa_set_cap((cnnc__isa)isa)) {
        char list[64];
        supported_list(list, sizeof list);
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "cnnc_set_isa(): %s is not available on this CPU (available: %s)",
                           cnnc__isa_name((cnnc__isa)isa), list);
    }
    return CNNC_OK;
}

const char *cnnc_get_isa(void) { return cnnc__isa_name(cnnc__isa_active()); }
