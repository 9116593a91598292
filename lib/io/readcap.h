/* Internal: how a loader (IDX, ONNX) opens a file it is about to read, under the read cap. Not
 * part of the public API. */
#ifndef NNP_IO_READCAP_H
#define NNP_IO_READCAP_H

#include <stdint.h>

#include "nnprobe/status.h"

/* The environment variable that sets every loader's read cap (see nnpi_limit). */
#define NNPI_READ_CAP_ENV "NNPROBE_MAX_READ_BYTES"

/* Reads the cap (NNPI_READ_CAP_ENV, `dflt` when unset) into *cap, opens `path` with
 * open(path, oflags) into *fd and fstats it. A regular file (*regular = 1, *size its size;
 * otherwise both 0) larger than the cap is refused with NNP_EFORMAT before anything is read.
 * Errors are "<who>: <path>: ..." (nnpi_io_error for the system calls); *fd is -1 on failure. */
nnp_status nnpi_open_capped(const char *who, const char *path, int oflags, uint64_t dflt,
                            uint64_t *cap, int *fd, int *regular, uint64_t *size);

#endif
