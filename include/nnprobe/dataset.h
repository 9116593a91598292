/**
 * @file dataset.h
 * @brief Labelled image data sets: IDX files in and out, NumPy .npy files in, subsets, label
 * noise.
 *
 * A data set holds n images of C×H×W floats in [0,1] (batch-major, as the net's input) and
 * optionally n labels (int32). IDX files (LeCun's format, as MNIST and Fashion-MNIST ship
 * them) are read plain or gzip-compressed; unsigned-byte images are scaled by 1/255.
 *
 * @par Thread safety
 * Functions taking `const nnp_dataset *` may run concurrently on one data set; the others
 * modify it and need exclusive access.
 */
#ifndef NNPROBE_DATASET_H
#define NNPROBE_DATASET_H

#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/** @brief Opaque data set handle; free with nnp_dataset_free(). */
typedef struct nnp_dataset nnp_dataset;


/**
 * @brief Loads images (and labels) from IDX files, each plain or gzip-compressed.
 *
 * The image file has type 0x08 (unsigned byte, scaled by 1/255) or 0x0D (float32, values must
 * lie in [0,1]; NaN is refused) and 2 to 4 dimensions: N×D (read as C=1,H=1,W=D), N×H×W (C=1)
 * or N×C×H×W (4 dimensions are always channel-first; a channel-last N×H×W×C file would be
 * read with C=H, H=W, W=C, see nnp_dataset_load_npy()). The label file has type 0x08 and one
 * dimension N (so every label is 0..255), or is a NumPy `.npy` label file as
 * nnp_dataset_load_npy() reads them (told apart by its magic bytes).
 * Everything is validated: magic, type, dimension count, zero or absurd dimensions (N or the
 * per-example value count above 2^31−1), exact file length (truncated or trailing data), equal
 * counts, image value range.
 *
 * A file is read as gzip when it starts with the gzip magic bytes 1f 8b, whatever its name;
 * several concatenated gzip members form one stream (as gzip(1) writes them), and anything
 * else after the last member, a corrupt stream or a bad CRC is ::NNP_EFORMAT. Memory grows
 * with the data actually read, never with what a header claims.
 *
 * Bounds (docs/reliability.md "Caps and bounds"): a plain regular file's size (fstat) must be
 * what its header declares, checked before the data are read; a gzip regular file's trailer
 * (the uncompressed size mod 2^32) is compared with the header before inflating, and a
 * mismatch refused at once (a file that may hold several members is first counted through a
 * 64 KiB buffer); inflating stops at the declared size. A header declaring more than the read
 * cap is refused: 4 GiB, or the byte count in the environment variable
 * `NNPROBE_MAX_READ_BYTES` (a malformed value is ::NNP_EINVAL).
 * @param[in]  images_path  image IDX file
 * @param[in]  labels_path  label IDX file, or NULL for an unlabelled set
 * @param[out] out          receives the data set; NULL on failure
 * @retval NNP_EINVAL NULL `images_path` or `out`, or a malformed `NNPROBE_MAX_READ_BYTES`
 * @retval NNP_EIO    a file cannot be opened or read (message names the file)
 * @retval NNP_EFORMAT malformed file (message names the file and the problem), the two
 *         files hold different counts, or a file over the read cap (the message names the cap
 *         and the variable that raises it)
 * @retval NNP_ENOMEM out of memory
 * @since 0.2.0
 */
NNP_API NNP_NODISCARD nnp_status nnp_dataset_load_idx(const char *images_path,
                                                      const char *labels_path,
                                                      nnp_dataset **out);

/**
 * @brief Loads images (and labels) from NumPy `.npy` files, each plain or gzip-compressed.
 *
 * Reads the format NumPy's `numpy.save` writes (NEP 1; format versions 1.0, 2.0 and 3.0)
 * with its own strict parser: the header must be the dict of exactly the keys `descr`,
 * `fortran_order` and `shape`; nothing in it is evaluated, so object (pickled) and structured
 * arrays are refused.
 *
 * Images: dtype `<f4` or `<f8` (float32/float64, little-endian; each value must lie in [0,1],
 * NaN is refused) or `|u1` (unsigned byte, scaled by 1/255), C order (a Fortran-order array
 * is refused with a message saying to save `numpy.ascontiguousarray(x)`), shape (N, D) read as
 * C=1,H=1,W=D, (N, H, W) read as C=1, or (N, C, H, W). A 4-D array is always channel-first
 * (NCHW, as PyTorch stores images); a channel-last (N, H, W, C) array is read as C=H, H=W,
 * W=C: transpose it first (`x.transpose(0, 3, 1, 2)`). The examples refuse data whose shape
 * is the model's input shape rotated that way, naming the fix.
 *
 * Labels: a `.npy` file of dtype `<i8`, `<i4` or `|u1` and shape (N,), each label in
 * [0, 2^31−1], or an IDX label file as for nnp_dataset_load_idx() (told apart by the `.npy`
 * magic bytes, after gzip decompression).
 *
 * Bounds are the IDX loader's (docs/reliability.md "Caps and bounds"): a header above 65535
 * bytes or over 4 dimensions, a zero dimension, N or a per-example value count above 2^31−1
 * are refused; a shape declaring more bytes than the read cap (4 GiB, or
 * `NNPROBE_MAX_READ_BYTES`) is refused before reading; a plain regular file must be exactly
 * as long as its header declares (checked with fstat before any data buffer exists); a gzip
 * file's buffer grows only with the data that arrive. Bytes after a gzip stream's last member
 * are ignored (zlib's gzread behaviour).
 * @param[in]  images_path  image `.npy` file
 * @param[in]  labels_path  label file (`.npy` or IDX), or NULL for an unlabelled set
 * @param[out] out          receives the data set; NULL on failure
 * @retval NNP_EINVAL NULL `images_path` or `out`, or a malformed `NNPROBE_MAX_READ_BYTES`
 * @retval NNP_EIO    a file cannot be opened or read (message names the file)
 * @retval NNP_EFORMAT malformed file (message "npy: <file>: <problem>"), unsupported dtype,
 *         Fortran order, the two files hold different counts, or a file over the read cap
 * @retval NNP_ENOMEM out of memory
 * @par Thread safety
 * Safe to call from several threads at once.
 * @since 0.2.0
 */
NNP_API NNP_NODISCARD nnp_status nnp_dataset_load_npy(const char *images_path,
                                                      const char *labels_path,
                                                      nnp_dataset **out);

/**
 * @brief Creates a data set from caller memory (the data are copied).
 * @param[in] n, channels, height, width  shape; each from 1 to 2^31−1, and C·H·W ≤ 2^31−1
 *            (the limits IDX loading applies too)
 * @param[in] images  n×C×H×W floats, each in [0,1]
 * @param[in] labels  n labels ≥ 0, or NULL for an unlabelled set
 * @param[out] out    receives the data set; NULL on failure
 * @retval NNP_EINVAL NULL images/out, zero or too large dimension, value outside [0,1] or
 *         non-finite, negative label (the message names the parameter or the index)
 * @retval NNP_ENOMEM out of memory
 * @since 0.2.0
 */
NNP_API NNP_NODISCARD nnp_status nnp_dataset_create(size_t n, size_t channels, size_t height,
                                                    size_t width, const float *images,
                                                    const int32_t *labels, nnp_dataset **out);

/** @brief Frees a data set; NULL is a no-op.
 *  @since 0.2.0 */
NNP_API void nnp_dataset_free(nnp_dataset *ds);

/** @brief Number of examples (0 for NULL).
 *  @since 0.2.0 */
NNP_API size_t nnp_dataset_count(const nnp_dataset *ds);

/** @brief Floats per example, C·H·W (0 for NULL).
 *  @since 0.2.0 */
NNP_API size_t nnp_dataset_example_size(const nnp_dataset *ds);

/**
 * @brief Shape of one example.
 * @param[in]  ds  data set
 * @param[out] channels, height, width  each may be NULL
 * @retval NNP_EINVAL `ds` is NULL
 * @since 0.2.0
 */
NNP_API NNP_NODISCARD nnp_status nnp_dataset_shape(const nnp_dataset *ds, size_t *channels,
                                                   size_t *height, size_t *width);

/**
 * @brief The images: count × example_size floats in [0,1].
 * @par Ownership Owned by the data set; valid until it is freed or modified. NULL for NULL.
 * @since 0.2.0
 */
NNP_API const float *nnp_dataset_images(const nnp_dataset *ds);

/**
 * @brief The labels: count int32 values, or NULL if the set is unlabelled (or `ds` is NULL).
 * @par Ownership Owned by the data set; valid until it is freed or modified.
 * @since 0.2.0
 */
NNP_API const int32_t *nnp_dataset_labels(const nnp_dataset *ds);

/** @brief One more than the largest label (0 if unlabelled or NULL).
 *  @since 0.2.0 */
NNP_API size_t nnp_dataset_class_count(const nnp_dataset *ds);

/**
 * @brief New data set holding examples [start, start+count) of `ds` (a copy).
 *
 * E.g. the paper's P1/P2 halves of the 60,000 training images are (0, 30000) and (30000, 30000).
 * The new set's class count is computed from its own labels.
 * @param[in]  ds     source data set
 * @param[in]  start  index of the first example to copy
 * @param[in]  count  number of examples, ≥ 1
 * @param[out] out  receives the new data set; NULL on failure
 * @retval NNP_EINVAL NULL argument, count 0, or the range exceeds the set
 * @retval NNP_ENOMEM out of memory
 * @since 0.2.0
 */
NNP_API NNP_NODISCARD nnp_status nnp_dataset_subset(const nnp_dataset *ds, size_t start,
                                                    size_t count, nnp_dataset **out);

/**
 * @brief New data set holding the examples `index[0..count)` of `ds`, in that order (a copy;
 * repeats allowed).
 * @param[in]  ds     source data set
 * @param[in]  index  `count` example indices
 * @param[in]  count  number of examples, ≥ 1
 * @param[out] out  receives the new data set; NULL on failure
 * @retval NNP_EINVAL NULL argument, count 0 or above 2^31−1, or an index ≥ nnp_dataset_count()
 * @retval NNP_ENOMEM out of memory
 * @since 0.2.0
 */
NNP_API NNP_NODISCARD nnp_status nnp_dataset_select(const nnp_dataset *ds, const size_t *index,
                                                    size_t count, nnp_dataset **out);

/**
 * @brief Replaces the labels by a random permutation of themselves (the "random labels"
 * experiment): the label histogram is kept, the pairing with images is destroyed.
 * Deterministic for a given seed (Fisher–Yates with the library's own generator).
 * @retval NNP_EINVAL `ds` is NULL or unlabelled
 * @since 0.2.0
 */
NNP_API NNP_NODISCARD nnp_status nnp_dataset_permute_labels(nnp_dataset *ds, uint64_t seed);

/** @brief Element types for nnp_dataset_save_idx(). Values pinned. */
typedef enum nnp_idx_type {
    NNP_IDX_UBYTE = 0, /**< unsigned byte, value = round(255·x) (lossy) */
    NNP_IDX_FLOAT = 1  /**< float32, big-endian (lossless) */
} nnp_idx_type;

/**
 * @brief Writes the images (and labels) as IDX files.
 *
 * Images are written with 3 dimensions N×H×W when C = 1, else 4 (N×C×H×W). A path ending in
 * ".gz" is gzip-compressed. Labels are written as unsigned bytes (type 0x08, one dimension).
 * Both files go through the library's safe-write path (file.h, docs/reliability.md): each is
 * first written completely under a temporary name in its target's directory
 * (`<target>.tmp<pid>.<n>`, synced) and only then renamed, image file first, so a failure never
 * leaves a half-written file under a final name: an existing file is replaced whole or left
 * untouched. (Only if the second rename fails has the image file already been replaced.) A
 * symlink is followed (its target replaced, the link kept), an existing file keeps its mode,
 * and a device or FIFO (`/dev/null`, a named pipe) is written in place, never replaced.
 * @param[in] ds           data set to write
 * @param[in] images_path  output image file
 * @param[in] labels_path  output label file, or NULL to skip (must be NULL if unlabelled)
 * @param[in] type         element type of the image file
 * @retval NNP_EINVAL NULL ds/images_path, bad type, labels_path given for an unlabelled set,
 *         labels_path equal to images_path, a label above 255 (does not fit type 0x08)
 * @retval NNP_EIO    a file cannot be written (message: path, step, strerror)
 * @retval NNP_ENOMEM out of memory
 * @since 0.2.0
 */
NNP_API NNP_NODISCARD nnp_status nnp_dataset_save_idx(const nnp_dataset *ds,
                                                      const char *images_path,
                                                      const char *labels_path,
                                                      nnp_idx_type type);

#ifdef __cplusplus
}
#endif
#endif
