/* Size-prefixed options structs: the rules are in include/nnprobe/nnprobe.h "Conventions" and docs/abi.md. */
#include <string.h>

#include "core.h"

nnp_status nnpi_opts_copy(void *dst, size_t dst_size, const void *src, const char *what)
{
    if (src == NULL) return NNP_OK;
    size_t size;
    memcpy(&size, src, sizeof size);
    if (size == 0) return nnpi_error(NNP_EINVAL, "%s: size is 0 (call its _opts_init first)", what);
    if (size < sizeof(size_t))
        return nnpi_error(NNP_EINVAL, "%s: size %zu is smaller than the size field", what, size);
    if (size > dst_size) {
        const unsigned char *extra = (const unsigned char *)src + dst_size;
        for (size_t i = 0; i < size - dst_size; i++)
            if (extra[i] != 0)
                return nnpi_error(NNP_EVERSION,
                                  "%s: size %zu is larger than this library's %zu and the extra "
                                  "fields are set; upgrade libnnprobe",
                                  what, size, dst_size);
        size = dst_size;
    }
    memcpy((unsigned char *)dst + sizeof(size_t), (const unsigned char *)src + sizeof(size_t),
           size - sizeof(size_t));
    return NNP_OK;
}

nnp_status nnpi_opts_init(void *opts, size_t caller_size, const void *defaults, size_t own_size,
                          const char *what)
{
    if (opts == NULL) return nnpi_error(NNP_EINVAL, "%s: opts is NULL", what);
    if (caller_size < sizeof(size_t))
        return nnpi_error(NNP_EINVAL, "%s: size %zu is smaller than the size field", what,
                          caller_size);
    size_t common = caller_size < own_size ? caller_size : own_size;
    memcpy(opts, defaults, common);
    if (caller_size > own_size) memset((unsigned char *)opts + own_size, 0, caller_size - own_size);
    memcpy(opts, &caller_size, sizeof caller_size);
    return NNP_OK;
}
