/* A directory of PNG images as a data set (imagedir.h). */
#define _POSIX_C_SOURCE 200809L
#include "imagedir.h"

#include <dirent.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

enum { MAX_IMAGES = 1 << 20, MAX_CLASSES = 1 << 16 };

int imagedir_is_dir(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int is_png(const char *name)
{
    size_t n = strlen(name);
    return n > 4 && strcasecmp(name + n - 4, ".png") == 0;
}

/* Sorted names in `dir` (no hidden entries) that are directories (want_dirs) or PNG files. */
static char **list(const char *dir, int want_dirs, size_t *count)
{
    DIR *d = opendir(dir);
    char **v = NULL, path[4096];
    size_t n = 0, cap = 0;
    struct dirent *e;
    *count = 0;
    if (d == NULL) return NULL;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (want_dirs ? !imagedir_is_dir(path) : !is_png(e->d_name)) continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            char **nv = realloc(v, cap * sizeof *v);
            if (nv == NULL) break;
            v = nv;
        }
        if ((v[n] = strdup(e->d_name)) == NULL) break;
        n++;
    }
    closedir(d);
    if (n) qsort(v, n, sizeof *v, cmp_str);
    *count = n;
    return v ? v : calloc(1, sizeof *v);
}

static void free_list(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++) free(v[i]);
    free(v);
}

typedef struct acc {
    float *x;              /* n × 3 × h × w (RGB planes) */
    int32_t *y;
    size_t n, cap, h, w;
    int color;             /* some image has colour */
    char *err;
    size_t err_cap;
} acc;

static nnp_status add_image(acc *a, const char *path, int32_t label)
{
    png_image im;
    memset(&im, 0, sizeof im);
    im.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&im, path)) {
        snprintf(a->err, a->err_cap, "%s: not a readable PNG: %s", path, im.message);
        return NNP_EFORMAT;
    }
    if (a->n == 0) a->h = im.height, a->w = im.width;
    if (im.height != a->h || im.width != a->w) {
        snprintf(a->err, a->err_cap, "%s: %ux%u pixels, but the first image has %zux%zu (all "
                 "images must have one size: resize or crop them beforehand)",
                 path, (unsigned)im.width, (unsigned)im.height, a->w, a->h);
        png_image_free(&im);
        return NNP_EFORMAT;
    }
    if (im.format & PNG_FORMAT_FLAG_COLOR) a->color = 1;
    const size_t hw = a->h * a->w;
    if (a->n == a->cap) {
        size_t cap = a->cap ? 2 * a->cap : 16;
        float *x = realloc(a->x, cap * 3 * hw * sizeof *x);
        if (x) a->x = x;
        int32_t *y = realloc(a->y, cap * sizeof *y);
        if (y) a->y = y;
        if (!x || !y) {
            png_image_free(&im);
            snprintf(a->err, a->err_cap, "out of memory reading %s", path);
            return NNP_ENOMEM;
        }
        a->cap = cap;
    }
    im.format = PNG_FORMAT_RGB; /* grey expanded, alpha composited on the background (black) */
    unsigned char *px = malloc(3 * hw);
    if (px == NULL) {
        png_image_free(&im);
        snprintf(a->err, a->err_cap, "out of memory reading %s", path);
        return NNP_ENOMEM;
    }
    if (!png_image_finish_read(&im, NULL, px, 0, NULL)) {
        snprintf(a->err, a->err_cap, "%s: cannot decode the PNG: %s", path, im.message);
        free(px);
        return NNP_EFORMAT;
    }
    float *dst = a->x + a->n * 3 * hw;
    for (size_t p = 0; p < hw; p++)
        for (size_t c = 0; c < 3; c++) dst[c * hw + p] = (float)px[3 * p + c] / 255.0f;
    free(px);
    a->y[a->n++] = label;
    return NNP_OK;
}

static nnp_status add_dir(acc *a, const char *dir, int32_t label)
{
    size_t n;
    char **names = list(dir, 0, &n), path[4096];
    if (names == NULL) {
        snprintf(a->err, a->err_cap, "%s: cannot read the directory", dir);
        return NNP_EIO;
    }
    nnp_status s = NNP_OK;
    for (size_t i = 0; i < n && s == NNP_OK; i++) {
        if (a->n >= MAX_IMAGES) {
            snprintf(a->err, a->err_cap, "%s: more than %d images", dir, MAX_IMAGES);
            s = NNP_EFORMAT;
            break;
        }
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        s = add_image(a, path, label);
    }
    free_list(names, n);
    return s;
}

nnp_status imagedir_load(const char *dir, nnp_dataset **out, char *err, size_t err_cap)
{
    acc a = {.err = err, .err_cap = err_cap};
    size_t n_cls;
    char **classes = list(dir, 1, &n_cls), path[4096];
    nnp_status s = NNP_OK;
    *out = NULL;
    if (classes == NULL) {
        snprintf(err, err_cap, "%s: cannot read the directory", dir);
        return NNP_EIO;
    }
    if (n_cls > MAX_CLASSES) {
        snprintf(err, err_cap, "%s: more than %d class directories", dir, MAX_CLASSES);
        s = NNP_EFORMAT;
    }
    for (size_t k = 0; k < n_cls && s == NNP_OK; k++) {
        snprintf(path, sizeof path, "%s/%s", dir, classes[k]);
        s = add_dir(&a, path, (int32_t)k);
    }
    if (s == NNP_OK && n_cls == 0) s = add_dir(&a, dir, 0);
    if (s == NNP_OK && a.n == 0) {
        snprintf(err, err_cap, "%s: no .png images (in DIR/<class>/ or DIR/)", dir);
        s = NNP_EFORMAT;
    }
    const size_t hw = a.h * a.w, ch = a.color ? 3 : 1;
    if (s == NNP_OK && !a.color) /* all grey: keep the first plane of each image */
        for (size_t i = 0; i < a.n; i++) memmove(a.x + i * hw, a.x + i * 3 * hw, hw * sizeof *a.x);
    if (s == NNP_OK) {
        s = nnp_dataset_create(a.n, ch, a.h, a.w, a.x, n_cls ? a.y : NULL, out);
        if (s != NNP_OK) snprintf(err, err_cap, "%s: %s", dir, nnp_last_error());
    }
    free_list(classes, n_cls);
    free(a.x);
    free(a.y);
    return s;
}
