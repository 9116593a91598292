/* Internal: reading NumPy .npy files (plain or gzip-compressed) into images and labels.
 * Not part of the public API; lib/io/dataset.c builds nnp_dataset on top of it.
 *
 * Format (NumPy's NEP 1, "A simple file format for NumPy arrays", and numpy.lib.format):
 * the magic "\x93NUMPY", a major and a minor version byte (1.0, 2.0 or 3.0), the header
 * length (little-endian uint16 for 1.x, uint32 for 2.x and 3.x), the header: a Python dict
 * literal {'descr': ..., 'fortran_order': ..., 'shape': (...)} padded with spaces and ended by
 * '\n' (3.0: UTF-8), then the raw array data. */
#ifndef NNP_IO_NPY_H
#define NNP_IO_NPY_H

#include <stddef.h>
#include <stdint.h>

#include "nnprobe/status.h"

/* Reads an image array: dtype '<f4' or '<f8' (each value in [0,1], NaN refused) or '|u1'
 * (scaled by 1/255), C order, 2 to 4 dimensions mapped to n × C×H×W as (N,D) → (1,1,D),
 * (N,H,W) → (1,H,W), (N,C,H,W). On success *images (n·C·H·W floats, nnpi_free) is the
 * caller's; on failure nothing is allocated and the message starts with "npy: <path>: ". */
nnp_status nnpi_npy_read_images(const char *path, size_t *n, size_t shape[3], float **images);

/* Reads a label array: dtype '<i8', '<i4' or '|u1', one dimension N, each value in
 * [0, 2^31−1]. *labels (n int32 values, nnpi_free). */
nnp_status nnpi_npy_read_labels(const char *path, size_t *n, int32_t **labels);

/* 1 when the file (after gzip decompression, if it is gzip) starts with the .npy magic, else
 * 0 (also when it cannot be read: the caller's loader then reports why). */
int nnpi_npy_sniff(const char *path);

#endif
