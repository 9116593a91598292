/* Labelled image data sets (include/nnprobe/dataset.h): the nnp_dataset handle, its
 * constructors, accessors, subsets and the random-labels permutation. IDX parsing and
 * writing live in idx.c, .npy parsing in npy.c; this file only assembles and checks what they
 * return. */
#include <string.h>

#include "core/core.h"
#include "idx.h"
#include "npy.h"
#include "nnprobe/dataset.h"

/* Invariants: n ≥ 1 and ≤ NNPI_IDX_MAX_DIM; channels·height·width ≥ 1 and ≤ NNPI_IDX_MAX_DIM;
 * every image value in [0,1]; labels NULL or n values ≥ 0; classes = 1 + max label (0 when
 * unlabelled). */
struct nnp_dataset {
    size_t n;
    size_t channels, height, width;
    size_t example_size; /* channels·height·width */
    float *images;       /* n·example_size */
    int32_t *labels;     /* n, or NULL */
    size_t classes;
};

static size_t count_classes(const int32_t *labels, size_t n)
{
    if (labels == NULL) return 0;
    int32_t max = 0;
    for (size_t i = 0; i < n; i++)
        if (labels[i] > max) max = labels[i];
    return (size_t)max + 1;
}

/* Takes ownership of `images` and `labels` (freed on failure too). */
static nnp_status adopt(const char *fn, size_t n, size_t c, size_t h, size_t w, float *images,
                        int32_t *labels, nnp_dataset **out)
{
    nnp_dataset *ds = nnpi_malloc(sizeof *ds);
    if (ds == NULL) {
        nnpi_free(images);
        nnpi_free(labels);
        return nnpi_error(NNP_ENOMEM, "%s: out of memory (%zu bytes)", fn, sizeof *ds);
    }
    ds->n = n;
    ds->channels = c;
    ds->height = h;
    ds->width = w;
    ds->example_size = c * h * w;
    ds->images = images;
    ds->labels = labels;
    ds->classes = count_classes(labels, n);
    *out = ds;
    return NNP_OK;
}

/* Allocates n images (and labels if `labelled`) for a data set shaped like `ds`. */
static nnp_status alloc_like(const char *fn, const nnp_dataset *ds, size_t n, int labelled,
                             float **images, int32_t **labels)
{
    size_t ib = nnpi_mul(nnpi_mul(n, ds->example_size), sizeof(float));
    size_t lb = nnpi_mul(n, sizeof(int32_t));
    *labels = NULL;
    *images = nnpi_malloc(ib);
    if (*images == NULL) return nnpi_error(NNP_ENOMEM, "%s: out of memory (%zu bytes)", fn, ib);
    if (labelled) {
        *labels = nnpi_malloc(lb);
        if (*labels == NULL) {
            nnpi_free(*images);
            *images = NULL;
            return nnpi_error(NNP_ENOMEM, "%s: out of memory (%zu bytes)", fn, lb);
        }
    }
    return NNP_OK;
}

typedef nnp_status (*read_images_fn)(const char *, size_t *, size_t[3], float **);

/* Loads images with `read_images` and labels (IDX, or .npy when `npy_labels` and the file
 * has the .npy magic), checks the counts agree, and builds the data set. */
static nnp_status load_pair(const char *fn, read_images_fn read_images, int npy_labels,
                            const char *images_path, const char *labels_path, nnp_dataset **out)
{
    size_t n, shape[3];
    float *images;
    int32_t *labels = NULL;
    NNPI_TRY(read_images(images_path, &n, shape, &images));
    if (labels_path != NULL) {
        size_t nl;
        const int npy = npy_labels && nnpi_npy_sniff(labels_path);
        nnp_status st = npy ? nnpi_npy_read_labels(labels_path, &nl, &labels)
                            : nnpi_idx_read_labels(labels_path, &nl, &labels);
        if (st != NNP_OK) {
            nnpi_free(images);
            return st;
        }
        if (nl != n) {
            nnpi_free(images);
            nnpi_free(labels);
            return nnpi_error(NNP_EFORMAT,
                              "%s: count mismatch: %s has %zu images but %s has %zu labels",
                              npy ? "npy" : "idx", images_path, n, labels_path, nl);
        }
    }
    return adopt(fn, n, shape[0], shape[1], shape[2], images, labels, out);
}

NNP_API nnp_status nnp_dataset_load_idx(const char *images_path, const char *labels_path,
                                        nnp_dataset **out)
{
    if (out != NULL) *out = NULL;
    NNPI_CHECK_NULL(images_path);
    NNPI_CHECK_NULL(out);
    return load_pair(__func__, nnpi_idx_read_images, 1, images_path, labels_path, out);
}

NNP_API nnp_status nnp_dataset_load_npy(const char *images_path, const char *labels_path,
                                        nnp_dataset **out)
{
    if (out != NULL) *out = NULL;
    NNPI_CHECK_NULL(images_path);
    NNPI_CHECK_NULL(out);
    return load_pair(__func__, nnpi_npy_read_images, 1, images_path, labels_path, out);
}

NNP_API nnp_status nnp_dataset_create(size_t n, size_t channels, size_t height, size_t width,
                                      const float *images, const int32_t *labels,
                                      nnp_dataset **out)
{
    if (out != NULL) *out = NULL;
    NNPI_CHECK_NULL(images);
    NNPI_CHECK_NULL(out);
    const size_t dims[4] = {n, channels, height, width};
    static const char *const names[4] = {"n", "channels", "height", "width"};
    for (int i = 0; i < 4; i++)
        if (dims[i] == 0 || dims[i] > NNPI_IDX_MAX_DIM)
            return nnpi_error(NNP_EINVAL, "%s: %s = %zu is outside [1, %zu]", __func__, names[i],
                              dims[i], NNPI_IDX_MAX_DIM);
    size_t es = nnpi_mul(nnpi_mul(channels, height), width);
    if (es > NNPI_IDX_MAX_DIM)
        return nnpi_error(NNP_EINVAL,
                          "%s: example size %zux%zux%zu exceeds the limit of %zu values", __func__,
                          channels, height, width, NNPI_IDX_MAX_DIM);
    size_t total = nnpi_mul(n, es);
    size_t ib = nnpi_mul(total, sizeof(float));
    if (ib == SIZE_MAX)
        return nnpi_error(NNP_EINVAL, "%s: %zu examples of %zu values exceed the address space",
                          __func__, n, es);
    for (size_t i = 0; i < total; i++)
        if (!(images[i] >= 0.0f && images[i] <= 1.0f))
            return nnpi_error(NNP_EINVAL,
                              "%s: images[%zu] = %g (example %zu) is outside [0,1] or not finite",
                              __func__, i, (double)images[i], i / es);
    if (labels != NULL)
        for (size_t i = 0; i < n; i++)
            if (labels[i] < 0)
                return nnpi_error(NNP_EINVAL, "%s: labels[%zu] = %ld is negative", __func__, i,
                                  (long)labels[i]);

    float *x = nnpi_malloc(ib);
    if (x == NULL) return nnpi_error(NNP_ENOMEM, "%s: out of memory (%zu bytes)", __func__, ib);
    memcpy(x, images, ib);
    int32_t *y = NULL;
    if (labels != NULL) {
        y = nnpi_malloc(n * sizeof(int32_t));
        if (y == NULL) {
            nnpi_free(x);
            return nnpi_error(NNP_ENOMEM, "%s: out of memory (%zu bytes)", __func__,
                              n * sizeof(int32_t));
        }
        memcpy(y, labels, n * sizeof(int32_t));
    }
    return adopt(__func__, n, channels, height, width, x, y, out);
}

NNP_API void nnp_dataset_free(nnp_dataset *ds)
{
    if (ds == NULL) return;
    nnpi_free(ds->images);
    nnpi_free(ds->labels);
    nnpi_free(ds);
}

NNP_API size_t nnp_dataset_count(const nnp_dataset *ds) { return ds ? ds->n : 0; }

NNP_API size_t nnp_dataset_example_size(const nnp_dataset *ds)
{
    return ds ? ds->example_size : 0;
}

NNP_API nnp_status nnp_dataset_shape(const nnp_dataset *ds, size_t *channels, size_t *height,
                                     size_t *width)
{
    NNPI_CHECK_NULL(ds);
    if (channels) *channels = ds->channels;
    if (height) *height = ds->height;
    if (width) *width = ds->width;
    return NNP_OK;
}

NNP_API const float *nnp_dataset_images(const nnp_dataset *ds) { return ds ? ds->images : NULL; }

NNP_API const int32_t *nnp_dataset_labels(const nnp_dataset *ds)
{
    return ds ? ds->labels : NULL;
}

NNP_API size_t nnp_dataset_class_count(const nnp_dataset *ds) { return ds ? ds->classes : 0; }

NNP_API nnp_status nnp_dataset_subset(const nnp_dataset *ds, size_t start, size_t count,
                                      nnp_dataset **out)
{
    if (out != NULL) *out = NULL;
    NNPI_CHECK_NULL(ds);
    NNPI_CHECK_NULL(out);
    if (count == 0) return nnpi_error(NNP_EINVAL, "%s: count is 0", __func__);
    if (count > ds->n || start > ds->n - count)
        return nnpi_error(NNP_EINVAL,
                          "%s: range [%zu, %zu + %zu) exceeds the %zu examples of the set",
                          __func__, start, start, count, ds->n);
    float *x;
    int32_t *y;
    NNPI_TRY(alloc_like(__func__, ds, count, ds->labels != NULL, &x, &y));
    memcpy(x, ds->images + start * ds->example_size, count * ds->example_size * sizeof(float));
    if (y) memcpy(y, ds->labels + start, count * sizeof(int32_t));
    return adopt(__func__, count, ds->channels, ds->height, ds->width, x, y, out);
}

NNP_API nnp_status nnp_dataset_select(const nnp_dataset *ds, const size_t *index, size_t count,
                                      nnp_dataset **out)
{
    if (out != NULL) *out = NULL;
    NNPI_CHECK_NULL(ds);
    NNPI_CHECK_NULL(index);
    NNPI_CHECK_NULL(out);
    if (count == 0) return nnpi_error(NNP_EINVAL, "%s: count is 0", __func__);
    if (count > NNPI_IDX_MAX_DIM)
        return nnpi_error(NNP_EINVAL, "%s: count = %zu exceeds the limit of %zu examples",
                          __func__, count, NNPI_IDX_MAX_DIM);
    for (size_t i = 0; i < count; i++)
        if (index[i] >= ds->n)
            return nnpi_error(NNP_EINVAL, "%s: index[%zu] = %zu is out of range (the set has %zu)",
                              __func__, i, index[i], ds->n);
    float *x;
    int32_t *y;
    NNPI_TRY(alloc_like(__func__, ds, count, ds->labels != NULL, &x, &y));
    size_t es = ds->example_size;
    for (size_t i = 0; i < count; i++) {
        memcpy(x + i * es, ds->images + index[i] * es, es * sizeof(float));
        if (y) y[i] = ds->labels[index[i]];
    }
    return adopt(__func__, count, ds->channels, ds->height, ds->width, x, y, out);
}

NNP_API nnp_status nnp_dataset_permute_labels(nnp_dataset *ds, uint64_t seed)
{
    NNPI_CHECK_NULL(ds);
    if (ds->labels == NULL)
        return nnpi_error(NNP_EINVAL, "%s: the data set has no labels", __func__);
    nnpi_rng r;
    nnpi_rng_seed(&r, seed);
    for (size_t i = ds->n - 1; i > 0; i--) { /* Fisher–Yates */
        size_t j = (size_t)nnpi_rng_below(&r, (uint64_t)i + 1);
        int32_t t = ds->labels[i];
        ds->labels[i] = ds->labels[j];
        ds->labels[j] = t;
    }
    return NNP_OK;
}

NNP_API nnp_status nnp_dataset_save_idx(const nnp_dataset *ds, const char *images_path,
                                        const char *labels_path, nnp_idx_type type)
{
    NNPI_CHECK_NULL(ds);
    NNPI_CHECK_NULL(images_path);
    if ((int)type != (int)NNP_IDX_UBYTE && (int)type != (int)NNP_IDX_FLOAT)
        return nnpi_error(NNP_EINVAL,
                          "%s: type = %d is neither NNP_IDX_UBYTE (0) nor NNP_IDX_FLOAT (1)",
                          __func__, (int)type);
    if (labels_path != NULL) {
        if (ds->labels == NULL)
            return nnpi_error(NNP_EINVAL,
                              "%s: labels_path is given but the data set has no labels",
                              __func__);
        if (strcmp(labels_path, images_path) == 0)
            return nnpi_error(NNP_EINVAL, "%s: images_path and labels_path are the same (%s)",
                              __func__, images_path);
        for (size_t i = 0; i < ds->n; i++)
            if (ds->labels[i] > 255)
                return nnpi_error(NNP_EINVAL,
                                  "%s: label %ld at index %zu does not fit an IDX unsigned "
                                  "byte (0..255)",
                                  __func__, (long)ds->labels[i], i);
    }

    nnpi_idx_src img = {0};
    img.type = type == NNP_IDX_FLOAT ? NNPI_IDX_T_FLOAT : NNPI_IDX_T_UBYTE;
    img.dims[0] = ds->n;
    if (ds->channels == 1) {
        img.ndims = 3;
        img.dims[1] = ds->height;
        img.dims[2] = ds->width;
    } else {
        img.ndims = 4;
        img.dims[1] = ds->channels;
        img.dims[2] = ds->height;
        img.dims[3] = ds->width;
    }
    img.f32 = ds->images;

    nnpi_wfile *img_f = NULL, *lab_f = NULL;
    NNPI_TRY(nnpi_idx_write(images_path, &img, &img_f));
    if (labels_path != NULL) {
        nnpi_idx_src lab = {0};
        lab.type = NNPI_IDX_T_UBYTE;
        lab.ndims = 1;
        lab.dims[0] = ds->n;
        lab.i32 = ds->labels;
        nnp_status st = nnpi_idx_write(labels_path, &lab, &lab_f);
        if (st != NNP_OK) {
            nnpi_wfile_abort(img_f);
            return st;
        }
    }
    /* both files are complete: only now do they take their final names */
    nnp_status st = nnpi_wfile_commit(img_f);
    if (st != NNP_OK) {
        nnpi_wfile_abort(lab_f);
        return st;
    }
    if (lab_f != NULL) NNPI_TRY(nnpi_wfile_commit(lab_f));
    return NNP_OK;
}
