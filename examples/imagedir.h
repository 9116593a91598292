/* A directory of PNG images as a data set (examples only: the library itself has no libpng
 * dependency). Read with libpng's simplified API (png_image_*).
 *
 * Layout: either DIR/<class>/<image>.png, one sub-directory per class, labelled by the class
 * directories' names in sorted (strcmp) order, 0, 1, ... (torchvision's ImageFolder
 * convention); or, only when DIR has no sub-directories, DIR/<image>.png, unlabelled. Files are taken in sorted order; names not
 * ending in ".png" (any case) and hidden entries are skipped. Every image must have the size of
 * the first (no resizing: crop or resize beforehand). Grey images give 1 channel when all
 * images are grey, else every image is read as RGB (3 channels); alpha is composited on black.
 * Pixels are scaled by 1/255 into [0,1], stored C×H×W. */
#ifndef NNPROBE_EXAMPLES_IMAGEDIR_H
#define NNPROBE_EXAMPLES_IMAGEDIR_H

#include <stddef.h>

#include <nnprobe/nnprobe.h>

/* Loads DIR as above into *out. On failure returns NNP_EIO or NNP_EFORMAT (or NNP_ENOMEM) with
 * the message in `err` (err_cap bytes), naming the file. */
nnp_status imagedir_load(const char *dir, nnp_dataset **out, char *err, size_t err_cap);

/* Whether `path` is a directory. */
int imagedir_is_dir(const char *path);

#endif
