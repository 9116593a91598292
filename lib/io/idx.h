/* Internal: reading and writing IDX files (LeCun's format), plain or gzip-compressed.
 * Not part of the public API; lib/io/dataset.c builds nnp_dataset on top of it.
 *
 * Format: big-endian; magic 00 00 <type> <ndims>; ndims uint32 dimensions; the data.
 * Supported element types: 0x08 (unsigned byte) and 0x0D (float32). */
#ifndef NNP_IO_IDX_H
#define NNP_IO_IDX_H

#include <stddef.h>
#include <stdint.h>

#include "nnprobe/status.h"
#include "safewrite.h"

#define NNPI_IDX_T_UBYTE 0x08u
#define NNPI_IDX_T_FLOAT 0x0Du

/* Largest accepted example count, dimension and per-example element count (2^31 - 1). */
#define NNPI_IDX_MAX_DIM ((size_t)INT32_MAX)

/* Reads an image file: type 0x08 (scaled by 1/255) or 0x0D (float32, each value in [0,1]),
 * 2 to 4 dimensions mapped to n × C×H×W as N×D → (1,1,D), N×H×W → (1,H,W), N×C×H×W.
 * On success *images (n·C·H·W floats, nnpi_free) is owned by the caller; on failure nothing
 * is allocated and the message starts with "idx: <path>: ". */
nnp_status nnpi_idx_read_images(const char *path, size_t *n, size_t shape[3], float **images);

/* Reads a label file: type 0x08, one dimension N. *labels (n int32 values, nnpi_free). */
nnp_status nnpi_idx_read_labels(const char *path, size_t *n, int32_t **labels);

/* What to write: exactly one of `f32` (values in [0,1]) and `i32` (values 0..255) is set.
 * `type` is the element type in the file; with `f32` and NNPI_IDX_T_UBYTE each value is
 * stored as round(255·x); `i32` is always stored as unsigned bytes. */
typedef struct nnpi_idx_src {
    unsigned type;
    unsigned ndims;    /* 1 to 4 */
    size_t dims[4];    /* dims[0] = count; each ≤ NNPI_IDX_MAX_DIM */
    const float *f32;
    const int32_t *i32;
} nnpi_idx_src;

/* Writes `src` (gzip-compressed when `path` ends in ".gz") through the safe-write path and
 * hands back the still uncommitted file: the caller calls nnpi_wfile_commit() (which gives it
 * its final name) or nnpi_wfile_abort(). On failure nothing is left behind. */
nnp_status nnpi_idx_write(const char *path, const nnpi_idx_src *src, nnpi_wfile **out);

#endif
