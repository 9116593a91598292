/* The one open-stat-and-check-the-cap step of the loaders (readcap.h). */
#define _POSIX_C_SOURCE 200809L
#include "readcap.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/core.h"
#include "safewrite.h"

nnp_status nnpi_open_capped(const char *who, const char *path, int oflags, uint64_t dflt,
                            uint64_t *cap, int *fd, int *regular, uint64_t *size)
{
    *fd = -1;
    *regular = 0;
    *size = 0;
    NNPI_TRY(nnpi_limit(NNPI_READ_CAP_ENV, dflt, cap));
    errno = 0;
    const int f = open(path, oflags);
    if (f < 0) return nnpi_io_error(who, path, "cannot open", errno);
    struct stat sb;
    errno = 0;
    if (fstat(f, &sb) != 0) {
        const nnp_status st = nnpi_io_error(who, path, "cannot stat", errno);
        close(f);
        return st;
    }
    if (S_ISREG(sb.st_mode)) {
        if ((uint64_t)sb.st_size > *cap) {
            close(f);
            return nnpi_error(NNP_EFORMAT,
                              "%s: %s: file of %llu bytes exceeds the read cap of %llu bytes (set "
                              "%s to raise it)",
                              who, path, (unsigned long long)sb.st_size,
                              (unsigned long long)*cap, NNPI_READ_CAP_ENV);
        }
        *regular = 1;
        *size = (uint64_t)sb.st_size;
    }
    *fd = f;
    return NNP_OK;
}
