/* Check suite for include/nnprobe/dataset.h: IDX in and out (plain and gzip), malformed
 * files, create/subset/select/permute_labels, NULL arguments, allocation failures. */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "core/core.h"
#include "testutil.h"

#define FMNIST_DIR "/usr/share/datasets/fashion-mnist/"

/* ------------------------------------------------------------------------------------ */
/* helpers                                                                               */

typedef struct bytes {
    unsigned char *p;
    size_t len, cap;
} bytes;

static void b_put(bytes *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n) cap *= 2;
        b->p = realloc(b->p, cap);
        ck_assert_ptr_nonnull(b->p);
        b->cap = cap;
    }
    if (n && p) memcpy(b->p + b->len, p, n);
    b->len += n;
}

static void b_u8(bytes *b, unsigned v)
{
    unsigned char c = (unsigned char)v;
    b_put(b, &c, 1);
}

static void b_be32(bytes *b, uint32_t v)
{
    unsigned char c[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 8), (unsigned char)v};
    b_put(b, c, 4);
}

static void b_fill(bytes *b, size_t n, unsigned v)
{
    size_t at = b->len;
    if (n == 0) return;
    b_put(b, NULL, n);
    memset(b->p + at, (int)v, n);
}

static void b_float(bytes *b, float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    b_be32(b, u);
}

/* IDX header: 00 00 type ndims, then the dims. */
static void b_header(bytes *b, unsigned type, unsigned ndims, const uint32_t *dims)
{
    b_u8(b, 0);
    b_u8(b, 0);
    b_u8(b, type);
    b_u8(b, ndims);
    for (unsigned i = 0; i < ndims; i++) b_be32(b, dims[i]);
}

static void b_free(bytes *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

/* gzip-compresses `n` bytes (one gzip member). */
static bytes gzip_bytes(const void *p, size_t n)
{
    bytes out = {0};
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    ck_assert_int_eq(deflateInit2(&zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY),
                     Z_OK);
    uLong bound = deflateBound(&zs, (uLong)n);
    out.p = malloc(bound);
    ck_assert_ptr_nonnull(out.p);
    out.cap = bound;
    zs.next_in = (Bytef *)(uintptr_t)p;
    zs.avail_in = (uInt)n;
    zs.next_out = out.p;
    zs.avail_out = (uInt)bound;
    ck_assert_int_eq(deflate(&zs, Z_FINISH), Z_STREAM_END);
    out.len = zs.total_out;
    deflateEnd(&zs);
    return out;
}

static void write_file(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot create %s", path);
    if (n) ck_assert_uint_eq(fwrite(p, 1, n, f), n);
    ck_assert_int_eq(fclose(f), 0);
}

static unsigned char *read_whole(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    size_t cap = 4096, n = 0;
    unsigned char *p = malloc(cap);
    size_t got;
    while ((got = fread(p + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) p = realloc(p, cap *= 2);
    }
    fclose(f);
    *len = n;
    return p;
}

/* Decompresses a gzip file with zlib's own gz reader (independent of the library). */
static unsigned char *gunzip_whole(const char *path, size_t *len)
{
    gzFile g = gzopen(path, "rb");
    ck_assert_ptr_nonnull(g);
    ck_assert_int_eq(gzdirect(g), 0);
    size_t cap = 4096, n = 0;
    unsigned char *p = malloc(cap);
    int got;
    while ((got = gzread(g, p + n, (unsigned)(cap - n))) > 0) {
        n += (size_t)got;
        if (n == cap) p = realloc(p, cap *= 2);
    }
    ck_assert_int_eq(got, 0);
    gzclose(g);
    *len = n;
    return p;
}

static int file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* Number of directory entries other than . and .. */
static int dir_entries(const char *dir)
{
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) n++;
    closedir(d);
    return n;
}

/* Removes every file of a scratch directory, then the directory. */
static void rm_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL) return;
    struct dirent *e;
    char p[1024];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        remove(p);
    }
    closedir(d);
    rmdir(dir);
}

static void make_dir(char *buf, size_t cap, const char *name)
{
    tu_tmp_path(buf, cap, name);
    rm_dir(buf);
    ck_assert_int_eq(mkdir(buf, 0700), 0);
}

/* Images with values k/255 (exact under NNP_IDX_UBYTE), labels (i*7+seed) % 10. */
static nnp_dataset *make_ds(size_t n, size_t c, size_t h, size_t w, int labelled, unsigned seed)
{
    size_t es = c * h * w;
    float *x = malloc(n * es * sizeof(float));
    int32_t *y = malloc(n * sizeof(int32_t));
    ck_assert(x != NULL && y != NULL);
    for (size_t i = 0; i < n * es; i++) x[i] = (float)((i * 37 + seed) % 256) / 255.0f;
    for (size_t i = 0; i < n; i++) y[i] = (int32_t)((i * 7 + seed) % 10);
    nnp_dataset *ds = NULL;
    ck_assert_ok(nnp_dataset_create(n, c, h, w, x, labelled ? y : NULL, &ds));
    free(x);
    free(y);
    return ds;
}

static void assert_same(const nnp_dataset *a, const nnp_dataset *b)
{
    size_t ca, ha, wa, cb, hb, wb;
    ck_assert_ok(nnp_dataset_shape(a, &ca, &ha, &wa));
    ck_assert_ok(nnp_dataset_shape(b, &cb, &hb, &wb));
    ck_assert_uint_eq(ca, cb);
    ck_assert_uint_eq(ha, hb);
    ck_assert_uint_eq(wa, wb);
    ck_assert_uint_eq(nnp_dataset_count(a), nnp_dataset_count(b));
    size_t n = nnp_dataset_count(a) * nnp_dataset_example_size(a);
    const float *xa = nnp_dataset_images(a), *xb = nnp_dataset_images(b);
    /* (assertions outside the loops: each Check assertion costs a system call) */
    size_t i = 0;
    while (i < n && xa[i] == xb[i]) i++;
    ck_assert_msg(i == n, "image value %zu: %.9g != %.9g", i, (double)xa[i], (double)xb[i]);
    const int32_t *ya = nnp_dataset_labels(a), *yb = nnp_dataset_labels(b);
    ck_assert_int_eq(ya == NULL, yb == NULL);
    if (ya) {
        n = nnp_dataset_count(a);
        for (i = 0; i < n && ya[i] == yb[i]; i++) continue;
        ck_assert_msg(i == n, "label %zu: %d != %d", i, (int)ya[i], (int)yb[i]);
    }
    ck_assert_uint_eq(nnp_dataset_class_count(a), nnp_dataset_class_count(b));
}

/* A non-NULL value to see that failing calls reset *out to NULL. */
static nnp_dataset *sentinel(void)
{
    static int dummy;
    return (nnp_dataset *)(void *)&dummy;
}

/* ------------------------------------------------------------------------------------ */
/* create and accessors                                                                  */

START_TEST(test_create_accessors)
{
    float x[2 * 3 * 2 * 2];
    int32_t y[2] = {4, 1};
    for (size_t i = 0; i < 24; i++) x[i] = (float)i / 23.0f;
    nnp_dataset *ds = NULL;
    ck_assert_ok(nnp_dataset_create(2, 3, 2, 2, x, y, &ds));
    ck_assert_ptr_nonnull(ds);
    ck_assert_uint_eq(nnp_dataset_count(ds), 2);
    ck_assert_uint_eq(nnp_dataset_example_size(ds), 12);
    size_t c = 0, h = 0, w = 0;
    ck_assert_ok(nnp_dataset_shape(ds, &c, &h, &w));
    ck_assert_uint_eq(c, 3);
    ck_assert_uint_eq(h, 2);
    ck_assert_uint_eq(w, 2);
    ck_assert_ok(nnp_dataset_shape(ds, NULL, &h, NULL)); /* outputs may be NULL */
    ck_assert_uint_eq(nnp_dataset_class_count(ds), 5);
    /* the data are copied */
    ck_assert_ptr_ne(nnp_dataset_images(ds), x);
    ck_assert_ptr_ne(nnp_dataset_labels(ds), y);
    x[0] = 0.75f;
    y[0] = 9;
    ck_assert(nnp_dataset_images(ds)[0] == 0.0f);
    ck_assert_int_eq(nnp_dataset_labels(ds)[0], 4);
    for (size_t i = 1; i < 24; i++) ck_assert(nnp_dataset_images(ds)[i] == x[i]);
    nnp_dataset_free(ds);

    /* unlabelled; boundary values 0 and 1 are inside the box */
    x[0] = 0.0f;
    x[1] = 1.0f;
    ck_assert_ok(nnp_dataset_create(1, 1, 1, 12, x, NULL, &ds));
    ck_assert_ptr_null(nnp_dataset_labels(ds));
    ck_assert_uint_eq(nnp_dataset_class_count(ds), 0);
    ck_assert_uint_eq(nnp_dataset_example_size(ds), 12);
    nnp_dataset_free(ds);

    /* all labels zero: one class */
    int32_t z[2] = {0, 0};
    ck_assert_ok(nnp_dataset_create(2, 1, 1, 1, x, z, &ds));
    ck_assert_uint_eq(nnp_dataset_class_count(ds), 1);
    nnp_dataset_free(ds);
}
END_TEST

START_TEST(test_create_invalid)
{
    float x[8] = {0, 0.5f, 1, 0.25f, 0, 0, 0, 0};
    int32_t y[2] = {0, 1};
    nnp_dataset *ds = sentinel();

    ck_assert_status(nnp_dataset_create(2, 1, 2, 2, NULL, y, &ds), NNP_EINVAL);
    ck_assert_error_has("nnp_dataset_create: images is NULL");
    ck_assert_ptr_null(ds);
    ck_assert_status(nnp_dataset_create(2, 1, 2, 2, x, y, NULL), NNP_EINVAL);
    ck_assert_error_has("out is NULL");

    ds = sentinel();
    ck_assert_status(nnp_dataset_create(0, 1, 2, 2, x, y, &ds), NNP_EINVAL);
    ck_assert_error_has("n = 0 is outside [1, 2147483647]");
    ck_assert_ptr_null(ds);
    ck_assert_status(nnp_dataset_create(2, 0, 2, 2, x, y, &ds), NNP_EINVAL);
    ck_assert_error_has("channels = 0");
    ck_assert_status(nnp_dataset_create(2, 1, 0, 2, x, y, &ds), NNP_EINVAL);
    ck_assert_error_has("height = 0");
    ck_assert_status(nnp_dataset_create(2, 1, 2, 0, x, y, &ds), NNP_EINVAL);
    ck_assert_error_has("width = 0");
    /* too large: checked before the (small) buffers are read */
    ck_assert_status(nnp_dataset_create((size_t)INT32_MAX + 1, 1, 1, 1, x, NULL, &ds),
                     NNP_EINVAL);
    ck_assert_error_has("n = 2147483648 is outside");
    ck_assert_status(nnp_dataset_create(1, 1, 1, SIZE_MAX, x, NULL, &ds), NNP_EINVAL);
    ck_assert_error_has("width =");
    ck_assert_status(nnp_dataset_create(1, 2000, 2000, 2000, x, NULL, &ds), NNP_EINVAL);
    ck_assert_error_has("example size 2000x2000x2000 exceeds the limit");
    ck_assert_ptr_null(ds);

    /* values outside the box */
    const float bad[] = {1.5f, -0.25f, NAN, INFINITY, -INFINITY, 1.0000001f};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        float xb[8];
        memcpy(xb, x, sizeof xb);
        xb[5] = bad[k];
        ds = sentinel();
        ck_assert_status(nnp_dataset_create(2, 1, 2, 2, xb, y, &ds), NNP_EINVAL);
        ck_assert_error_has("images[5] =");
        ck_assert_error_has("(example 1) is outside [0,1] or not finite");
        ck_assert_ptr_null(ds);
    }

    int32_t yn[2] = {3, -1};
    ck_assert_status(nnp_dataset_create(2, 1, 2, 2, x, yn, &ds), NNP_EINVAL);
    ck_assert_error_has("labels[1] = -1 is negative");
    ck_assert_ptr_null(ds);
}
END_TEST

START_TEST(test_null_args)
{
    nnp_dataset *ds = make_ds(4, 1, 2, 2, 1, 0);
    nnp_dataset *out = sentinel();
    size_t idx[1] = {0};
    char p[512];
    tu_tmp_path(p, sizeof p, "null.idx");

    ck_assert_status(nnp_dataset_load_idx(NULL, NULL, &out), NNP_EINVAL);
    ck_assert_error_has("nnp_dataset_load_idx: images_path is NULL");
    ck_assert_ptr_null(out);
    ck_assert_status(nnp_dataset_load_idx(p, NULL, NULL), NNP_EINVAL);
    ck_assert_error_has("nnp_dataset_load_idx: out is NULL");

    ck_assert_status(nnp_dataset_shape(NULL, NULL, NULL, NULL), NNP_EINVAL);
    ck_assert_error_has("nnp_dataset_shape: ds is NULL");

    out = sentinel();
    ck_assert_status(nnp_dataset_subset(NULL, 0, 1, &out), NNP_EINVAL);
    ck_assert_error_has("nnp_dataset_subset: ds is NULL");
    ck_assert_ptr_null(out);
    ck_assert_status(nnp_dataset_subset(ds, 0, 1, NULL), NNP_EINVAL);
    ck_assert_error_has("nnp_dataset_subset: out is NULL");

    out = sentinel();
    ck_assert_status(nnp_dataset_select(NULL, idx, 1, &out), NNP_EINVAL);
    ck_assert_error_has("nnp_dataset_select: ds is NULL");
    ck_assert_ptr_null(out);
    ck_assert_status(nnp_dataset_select(ds, NULL, 1, &out), NNP_EINVAL);
    ck_assert_error_has("nnp_dataset_select: index is NULL");
    ck_assert_status(nnp_dataset_select(ds, idx, 1, NULL), NNP_EINVAL);
    ck_assert_error_has("nnp_dataset_select: out is NULL");

    ck_assert_status(nnp_dataset_permute_labels(NULL, 1), NNP_EINVAL);
    ck_assert_error_has("nnp_dataset_permute_labels: ds is NULL");

    ck_assert_status(nnp_dataset_save_idx(NULL, p, NULL, NNP_IDX_UBYTE), NNP_EINVAL);
    ck_assert_error_has("nnp_dataset_save_idx: ds is NULL");
    ck_assert_status(nnp_dataset_save_idx(ds, NULL, NULL, NNP_IDX_UBYTE), NNP_EINVAL);
    ck_assert_error_has("nnp_dataset_save_idx: images_path is NULL");
    ck_assert(!file_exists(p));

    ck_assert_uint_eq(nnp_dataset_count(NULL), 0);
    ck_assert_uint_eq(nnp_dataset_example_size(NULL), 0);
    ck_assert_ptr_null(nnp_dataset_images(NULL));
    ck_assert_ptr_null(nnp_dataset_labels(NULL));
    ck_assert_uint_eq(nnp_dataset_class_count(NULL), 0);
    nnp_dataset_free(NULL);
    nnp_dataset_free(ds);
}
END_TEST

/* ------------------------------------------------------------------------------------ */
/* round trips                                                                           */

/* _i: bit 0 float type, bit 1 gzip, bit 2 three channels */
START_TEST(test_roundtrip)
{
    int is_float = _i & 1, gz = (_i >> 1) & 1;
    size_t c = (_i & 4) ? 3 : 1, h = 5, w = 6, n = 7, es = c * h * w;
    nnp_dataset *ds;
    if (is_float) {
        float *x = malloc(n * es * sizeof(float));
        tu_fill_uniform(x, n * es, 0.0f, 1.0f, 42 + (uint64_t)_i);
        x[0] = 0.0f;
        x[1] = 1.0f;
        x[2] = 0x1p-30f; /* not representable as k/255 */
        int32_t y[7] = {0, 1, 2, 3, 4, 5, 255};
        ck_assert_ok(nnp_dataset_create(n, c, h, w, x, y, &ds));
        free(x);
    } else {
        ds = make_ds(n, c, h, w, 1, (unsigned)_i);
    }
    char ip[512], lp[512];
    char iname[64], lname[64];
    snprintf(iname, sizeof iname, "rt%d-images.idx%s", _i, gz ? ".gz" : "");
    snprintf(lname, sizeof lname, "rt%d-labels.idx%s", _i, gz ? ".gz" : "");
    tu_tmp_path(ip, sizeof ip, iname);
    tu_tmp_path(lp, sizeof lp, lname);
    ck_assert_ok(nnp_dataset_save_idx(ds, ip, lp, is_float ? NNP_IDX_FLOAT : NNP_IDX_UBYTE));

    /* the bytes on disk are standard IDX (through zlib's own reader when compressed) */
    size_t len, raw_len;
    unsigned char *raw = read_whole(ip, &raw_len);
    if (gz) {
        ck_assert_uint_ge(raw_len, 2);
        ck_assert_uint_eq(raw[0], 0x1f);
        ck_assert_uint_eq(raw[1], 0x8b);
    } else {
        ck_assert_uint_eq(raw[0], 0);
    }
    free(raw);
    unsigned char *d = gz ? gunzip_whole(ip, &len) : read_whole(ip, &len);
    unsigned ndims = c == 1 ? 3 : 4;
    ck_assert_uint_eq(len, 4 + 4 * ndims + n * es * (is_float ? 4 : 1));
    ck_assert_uint_eq(d[0], 0);
    ck_assert_uint_eq(d[1], 0);
    ck_assert_uint_eq(d[2], is_float ? 0x0D : 0x08);
    ck_assert_uint_eq(d[3], ndims);
    ck_assert_uint_eq(d[7], n);
    ck_assert_uint_eq(d[4 + 4 * ndims - 1], w);
    if (ndims == 4) ck_assert_uint_eq(d[11], c);
    if (!is_float) /* first pixel of make_ds is seed/255 -> byte seed */
        ck_assert_uint_eq(d[4 + 4 * ndims], (unsigned)_i);
    free(d);
    d = gz ? gunzip_whole(lp, &len) : read_whole(lp, &len);
    ck_assert_uint_eq(len, 8 + n);
    ck_assert_uint_eq(d[2], 0x08);
    ck_assert_uint_eq(d[3], 1);
    ck_assert_uint_eq(d[8], (unsigned)nnp_dataset_labels(ds)[0]);
    free(d);

    nnp_dataset *back = sentinel();
    ck_assert_ok(nnp_dataset_load_idx(ip, lp, &back));
    assert_same(ds, back);
    nnp_dataset_free(back);

    /* images alone */
    ck_assert_ok(nnp_dataset_load_idx(ip, NULL, &back));
    ck_assert_ptr_null(nnp_dataset_labels(back));
    ck_assert_uint_eq(nnp_dataset_class_count(back), 0);
    ck_assert_uint_eq(nnp_dataset_count(back), n);
    nnp_dataset_free(back);

    nnp_dataset_free(ds);
    remove(ip);
    remove(lp);
}
END_TEST

/* UBYTE is round(255 x): arbitrary floats come back within half a step */
START_TEST(test_ubyte_rounding)
{
    size_t n = 50, es = 30;
    float *x = malloc(n * es * sizeof(float));
    tu_fill_uniform(x, n * es, 0.0f, 1.0f, 7);
    x[0] = 0.5f; /* 127.5 -> 128 */
    x[1] = 0.3f;
    nnp_dataset *ds;
    ck_assert_ok(nnp_dataset_create(n, 1, 5, 6, x, NULL, &ds));
    char p[512];
    tu_tmp_path(p, sizeof p, "round.idx");
    ck_assert_ok(nnp_dataset_save_idx(ds, p, NULL, NNP_IDX_UBYTE));
    nnp_dataset *back;
    ck_assert_ok(nnp_dataset_load_idx(p, NULL, &back));
    const float *b = nnp_dataset_images(back);
    size_t i = 0;
    while (i < n * es && fabsf(b[i] - roundf(x[i] * 255.0f) / 255.0f) <= 1e-7f) i++;
    ck_assert_msg(i == n * es, "%zu: %g -> %g", i, (double)x[i], (double)b[i]);
    ck_assert(b[0] == 128.0f / 255.0f);
    ck_assert(b[1] == 77.0f / 255.0f);
    nnp_dataset_free(ds);
    nnp_dataset_free(back);
    free(x);
    remove(p);
}
END_TEST

START_TEST(test_unlabelled_and_2d)
{
    nnp_dataset *ds = make_ds(3, 1, 4, 4, 0, 5);
    char ip[512], lp[512];
    tu_tmp_path(ip, sizeof ip, "unl.idx.gz");
    tu_tmp_path(lp, sizeof lp, "unl-labels.idx");
    ck_assert_status(nnp_dataset_save_idx(ds, ip, lp, NNP_IDX_UBYTE), NNP_EINVAL);
    ck_assert_error_has("labels_path is given but the data set has no labels");
    ck_assert(!file_exists(ip));
    ck_assert(!file_exists(lp));
    ck_assert_ok(nnp_dataset_save_idx(ds, ip, NULL, NNP_IDX_UBYTE));
    nnp_dataset *back;
    ck_assert_ok(nnp_dataset_load_idx(ip, NULL, &back));
    assert_same(ds, back);
    ck_assert_status(nnp_dataset_permute_labels(back, 1), NNP_EINVAL);
    ck_assert_error_has("has no labels");
    nnp_dataset_free(back);
    nnp_dataset_free(ds);
    remove(ip);

    /* N×D file: C = 1, H = 1, W = D */
    bytes b = {0};
    uint32_t dims[2] = {2, 5};
    b_header(&b, 0x08, 2, dims);
    for (unsigned i = 0; i < 10; i++) b_u8(&b, i * 25);
    tu_tmp_path(ip, sizeof ip, "flat.idx");
    write_file(ip, b.p, b.len);
    b_free(&b);
    ck_assert_ok(nnp_dataset_load_idx(ip, NULL, &back));
    size_t c, h, w;
    ck_assert_ok(nnp_dataset_shape(back, &c, &h, &w));
    ck_assert_uint_eq(c, 1);
    ck_assert_uint_eq(h, 1);
    ck_assert_uint_eq(w, 5);
    ck_assert_uint_eq(nnp_dataset_count(back), 2);
    ck_assert(nnp_dataset_images(back)[9] == 225.0f / 255.0f);
    nnp_dataset_free(back);
    remove(ip);

    /* label value 255 is valid: 256 classes */
    bytes l = {0};
    uint32_t one[1] = {2};
    b_header(&l, 0x08, 1, one);
    b_u8(&l, 255);
    b_u8(&l, 0);
    b_header(&b, 0x08, 2, dims);
    b_fill(&b, 10, 0);
    write_file(ip, b.p, b.len);
    write_file(lp, l.p, l.len);
    ck_assert_ok(nnp_dataset_load_idx(ip, lp, &back));
    ck_assert_int_eq(nnp_dataset_labels(back)[0], 255);
    ck_assert_uint_eq(nnp_dataset_class_count(back), 256);
    nnp_dataset_free(back);
    b_free(&b);
    b_free(&l);
    remove(ip);
    remove(lp);
}
END_TEST

START_TEST(test_fashion_mnist)
{
    const char *ip = FMNIST_DIR "t10k-images-idx3-ubyte.gz";
    const char *lp = FMNIST_DIR "t10k-labels-idx1-ubyte.gz";
    if (access(ip, R_OK) != 0 || access(lp, R_OK) != 0) {
        fprintf(stderr, "test_fashion_mnist: skipped (%s not installed)\n", ip);
        return;
    }
    nnp_dataset *ds = NULL;
    ck_assert_ok(nnp_dataset_load_idx(ip, lp, &ds));
    ck_assert_uint_eq(nnp_dataset_count(ds), 10000);
    size_t c, h, w;
    ck_assert_ok(nnp_dataset_shape(ds, &c, &h, &w));
    ck_assert_uint_eq(c, 1);
    ck_assert_uint_eq(h, 28);
    ck_assert_uint_eq(w, 28);
    ck_assert_uint_eq(nnp_dataset_example_size(ds), 784);
    ck_assert_uint_eq(nnp_dataset_class_count(ds), 10);
    const int32_t *y = nnp_dataset_labels(ds);
    size_t hist[10] = {0}, bad = 0;
    for (size_t i = 0; i < 10000; i++) {
        if (y[i] >= 0 && y[i] < 10)
            hist[y[i]]++;
        else
            bad++;
    }
    ck_assert_uint_eq(bad, 0);
    for (int k = 0; k < 10; k++) ck_assert_uint_eq(hist[k], 1000);
    /* known first labels (ankle boot, pullover, trouser, trouser, shirt) */
    const int32_t first[5] = {9, 2, 1, 1, 6};
    for (int i = 0; i < 5; i++) ck_assert_int_eq(y[i], first[i]);
    /* pixel sums of the first and last images, as bytes (from Python's gzip module) */
    const float *x = nnp_dataset_images(ds);
    long s0 = 0, s1 = 0;
    float mx = 0.0f;
    for (size_t i = 0; i < 784; i++) s0 += lroundf(x[i] * 255.0f);
    for (size_t i = 9999 * 784; i < 10000 * 784; i++) s1 += lroundf(x[i] * 255.0f);
    for (size_t i = 0; i < 10000 * 784; i++) {
        if (!(x[i] >= 0.0f && x[i] <= 1.0f)) bad++;
        if (x[i] > mx) mx = x[i];
    }
    ck_assert_uint_eq(bad, 0);
    ck_assert_int_eq(s0, 33456);
    ck_assert_int_eq(s1, 24390);
    ck_assert(mx == 1.0f);

    /* the paper's halves, at test-set scale */
    nnp_dataset *p1, *p2;
    ck_assert_ok(nnp_dataset_subset(ds, 0, 5000, &p1));
    ck_assert_ok(nnp_dataset_subset(ds, 5000, 5000, &p2));
    ck_assert_uint_eq(nnp_dataset_count(p1) + nnp_dataset_count(p2), 10000);
    ck_assert_int_eq(nnp_dataset_labels(p2)[0], y[5000]);
    nnp_dataset_free(p1);
    nnp_dataset_free(p2);
    nnp_dataset_free(ds);
}
END_TEST

/* ------------------------------------------------------------------------------------ */
/* malformed files                                                                       */

enum { D_FILL, D_FLOATS };

typedef struct bad_case {
    unsigned char head[24];
    size_t head_len;
    int data_kind;     /* D_FILL: data_len bytes of 0x10; D_FLOATS: the 4 floats below */
    size_t data_len;
    float floats[4];
    int gz;
    const char *needle; /* the status is always NNP_EFORMAT */
} bad_case;

#define H3(t, a, b, c) {0, 0, t, 3, 0, 0, 0, a, 0, 0, 0, b, 0, 0, 0, c}, 16

static const bad_case bad_cases[] = {
    {{0}, 0, D_FILL, 0, {0}, 0, "truncated header: file has 0 bytes, the magic number needs 4"},
    {{0, 0, 8}, 3, D_FILL, 0, {0}, 0, "truncated header: file has 3 bytes"},
    {{0, 0, 8, 3, 0, 0, 0, 10, 0, 0, 0, 4}, 12, D_FILL, 0, {0}, 0,
     "truncated header: 3 dimensions need 16 header bytes, file has 12"},
    {H3(8, 10, 4, 4), D_FILL, 100, {0}, 0,
     "truncated: header promises 160 data bytes, file has 100 (after the 16-byte header)"},
    {H3(8, 10, 4, 4), D_FILL, 165, {0}, 0,
     "trailing data: header promises 160 data bytes, file has 165 (5 bytes too many)"},
    {{1, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1}, 16, D_FILL, 1, {0}, 0,
     "bad magic number 0x01000803: the first two bytes must be zero"},
    {{0x50, 0x4b, 3, 4}, 4, D_FILL, 100, {0}, 0, "bad magic number 0x504b0304"},
    {H3(0x0C, 1, 1, 1), D_FILL, 4, {0}, 0,
     "unsupported element type 0x0c (int32): an image file must be 0x08 (unsigned byte) or "
     "0x0d (float32)"},
    {H3(0x0E, 1, 1, 1), D_FILL, 8, {0}, 0, "unsupported element type 0x0e (float64)"},
    {{0, 0, 8, 0}, 4, D_FILL, 10, {0}, 0, "dimension count 0: an image file needs 2 to 4"},
    {{0, 0, 8, 1, 0, 0, 0, 4}, 8, D_FILL, 4, {0}, 0, "dimension count 1: an image file needs 2 to 4"},
    {{0, 0, 8, 5, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1}, 24, D_FILL, 1, {0},
     0, "dimension count 5: an image file needs 2 to 4"},
    {H3(8, 10, 0, 4), D_FILL, 0, {0}, 0, "dimension 2 of 3 is zero (dims 10x0x4)"},
    {H3(8, 0, 4, 4), D_FILL, 0, {0}, 0, "dimension 1 of 3 is zero (dims 0x4x4)"},
    {{0, 0, 8, 3, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 28, 0, 0, 0, 28}, 16, D_FILL, 0, {0}, 0,
     "absurd dimension: 4294967295 examples (dims 4294967295x28x28; limit 2147483647)"},
    {{0, 0, 8, 3, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 16, D_FILL, 0,
     {0}, 0,
     "absurd dimension: dims 1x4294967295x4294967295 give more than 2147483647 values per "
     "example"},
    {{0, 0, 8, 3, 0, 1, 0, 0, 0, 0x80, 0, 0}, 12, D_FILL, 0, {0}, 0, "truncated header"},
    /* a plausible but lying header: must fail without allocating 1.6 TB */
    {{0, 0, 8, 3, 0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 28, 0, 0, 0, 28}, 16, D_FILL, 1000, {0}, 0,
     "truncated: header promises 1683627179248 data bytes, file has 1000"},
    {{0, 0, 0x0D, 3, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 2}, 16, D_FLOATS, 0, {0, 0.5f, 2.0f, 1}, 0,
     "image value 2 at example 0, element 2 is outside [0,1]"},
    {{0, 0, 0x0D, 3, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2}, 16, D_FLOATS, 0, {0, 0.5f, 1, NAN}, 0,
     "image value nan at example 1, element 1 is outside [0,1]"},
    {{0, 0, 0x0D, 2, 0, 0, 0, 1, 0, 0, 0, 4}, 12, D_FLOATS, 0, {-0.5f, 0, 0, 0}, 0,
     "image value -0.5 at example 0, element 0 is outside [0,1]"},
    {{0, 0, 0x0D, 2, 0, 0, 0, 1, 0, 0, 0, 4}, 12, D_FLOATS, 0, {0, 0, INFINITY, 0}, 0,
     "image value inf at example 0, element 2"},
    {{0, 0, 0x0D, 2, 0, 0, 0, 1, 0, 0, 0, 4}, 12, D_FILL, 15, {0}, 0,
     "truncated: header promises 16 data bytes, file has 15"},
    /* the same checks through gzip */
    {H3(8, 10, 4, 4), D_FILL, 100, {0}, 1,
     "truncated: header promises 160 data bytes, file has 100 (after the 16-byte header, "
     "decompressed, per the gzip trailer; refused before inflating"},
    {H3(8, 10, 4, 4), D_FILL, 170, {0}, 1, "trailing data: header promises 160 data bytes"},
    {{1, 2, 8, 3}, 4, D_FILL, 10, {0}, 1, "bad magic number 0x01020803"},
    /* 64 MiB of excess data (a few kB compressed): the gzip trailer's size gives it away
     * before anything is inflated (issue 17) */
    {H3(8, 1, 1, 1), D_FILL, (size_t)1 << 26, {0}, 1,
     "trailing data: header promises 1 data bytes, file has 67108864 (67108863 bytes too many, "
     "decompressed, per the gzip trailer; refused before inflating"},
    {{0, 0, 8}, 3, D_FILL, 0, {0}, 1, "truncated header: file has 3 bytes"},
    {{0, 0, 0x0D, 2, 0, 0, 0, 1, 0, 0, 0, 4}, 12, D_FLOATS, 0, {0, 0, 0, 2.0f}, 1,
     "image value 2 at example 0, element 3 is outside [0,1]"},
};
#define N_BAD ((int)(sizeof bad_cases / sizeof bad_cases[0]))

START_TEST(test_malformed_images)
{
    const bad_case *bc = &bad_cases[_i];
    bytes b = {0};
    b_put(&b, bc->head, bc->head_len);
    if (bc->data_kind == D_FILL)
        b_fill(&b, bc->data_len, 0x10);
    else
        for (int k = 0; k < 4; k++) b_float(&b, bc->floats[k]);
    char p[512], name[64];
    snprintf(name, sizeof name, "bad%d.idx%s", _i, bc->gz ? ".gz" : "");
    tu_tmp_path(p, sizeof p, name);
    if (bc->gz) {
        bytes z = gzip_bytes(b.p, b.len);
        write_file(p, z.p, z.len);
        b_free(&z);
    } else {
        write_file(p, b.p, b.len);
    }
    b_free(&b);
    nnp_dataset *ds = sentinel();
    ck_assert_status(nnp_dataset_load_idx(p, NULL, &ds), NNP_EFORMAT);
    ck_assert_ptr_null(ds);
    ck_assert_error_has(bc->needle);
    char pre[600];
    snprintf(pre, sizeof pre, "idx: %s: ", p); /* the message names the file */
    ck_assert_error_has(pre);
    remove(p);
}
END_TEST

/* a valid 10×4×4 ubyte image file */
static bytes valid_images(uint32_t n)
{
    bytes b = {0};
    uint32_t dims[3] = {n, 4, 4};
    b_header(&b, 0x08, 3, dims);
    for (size_t i = 0; i < (size_t)n * 16; i++) b_u8(&b, (unsigned)(i * 31 % 256));
    return b;
}

START_TEST(test_malformed_gzip)
{
    char p[512];
    tu_tmp_path(p, sizeof p, "gz.idx.gz");
    bytes img = valid_images(10);
    bytes z = gzip_bytes(img.p, img.len);
    nnp_dataset *ds = sentinel();

    /* gzip magic followed by junk */
    const unsigned char junk[] = {0x1f, 0x8b, 'n', 'o', 't', ' ', 'g', 'z', 'i', 'p', '!', '!'};
    write_file(p, junk, sizeof junk);
    ck_assert_status(nnp_dataset_load_idx(p, NULL, &ds), NNP_EFORMAT);
    ck_assert_error_has("corrupt gzip stream (member 1): unknown compression method");
    ck_assert_ptr_null(ds);

    /* a valid gzip header, then bytes that are not deflate data */
    unsigned char junk2[40] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3};
    memset(junk2 + 10, 0xff, sizeof junk2 - 10);
    write_file(p, junk2, sizeof junk2);
    ck_assert_status(nnp_dataset_load_idx(p, NULL, &ds), NNP_EFORMAT);
    ck_assert_error_has("corrupt gzip stream (member 1): invalid block type");

    /* just the magic */
    write_file(p, junk, 2);
    ck_assert_status(nnp_dataset_load_idx(p, NULL, &ds), NNP_EFORMAT);
    ck_assert_error_has("gzip stream truncated");

    /* cut in the middle (the last 4 bytes, read as the trailer's size, disagree with the
     * header: refused before inflating) and just before the trailer */
    write_file(p, z.p, z.len / 2);
    ck_assert_status(nnp_dataset_load_idx(p, NULL, &ds), NNP_EFORMAT);
    ck_assert_error_has("refused before inflating; or the file is cut or corrupt");
    write_file(p, z.p, z.len - 4);
    ck_assert_status(nnp_dataset_load_idx(p, NULL, &ds), NNP_EFORMAT);
    ck_assert_error_has("refused before inflating; or the file is cut or corrupt");

    /* corrupt CRC-32 and length in the trailer */
    z.p[z.len - 8] ^= 0x55;
    write_file(p, z.p, z.len);
    ck_assert_status(nnp_dataset_load_idx(p, NULL, &ds), NNP_EFORMAT);
    ck_assert_error_has("corrupt gzip stream (member 1): incorrect data check");
    z.p[z.len - 8] ^= 0x55;
    z.p[z.len - 1] ^= 0x01;
    write_file(p, z.p, z.len);
    ck_assert_status(nnp_dataset_load_idx(p, NULL, &ds), NNP_EFORMAT);
    /* a wrong length field is now seen before inflating */
    ck_assert_error_has("file has 16777376 (16777216 bytes too many, decompressed, per the gzip "
                        "trailer; refused before inflating");
    z.p[z.len - 1] ^= 0x01;

    /* a flipped bit inside the compressed data */
    z.p[z.len / 2] ^= 0x10;
    write_file(p, z.p, z.len);
    ck_assert_status(nnp_dataset_load_idx(p, NULL, &ds), NNP_EFORMAT);
    ck_assert_error_has("corrupt gzip stream");
    z.p[z.len / 2] ^= 0x10;

    /* intact again: loads */
    write_file(p, z.p, z.len);
    ck_assert_ok(nnp_dataset_load_idx(p, NULL, &ds));
    ck_assert_uint_eq(nnp_dataset_count(ds), 10);
    nnp_dataset_free(ds);

    /* garbage after the gzip stream */
    bytes t = {0};
    b_put(&t, z.p, z.len);
    b_put(&t, "XYZ", 3);
    write_file(p, t.p, t.len);
    ck_assert_status(nnp_dataset_load_idx(p, NULL, &ds), NNP_EFORMAT);
    /* the last 4 bytes are no longer the trailer's size: refused before inflating (a
     * pipe, which has no trailer to look at, still reports "trailing garbage after ...") */
    ck_assert_error_has("refused before inflating; or the file is cut or corrupt");
    ck_assert_ptr_null(ds);
    b_free(&t);

    /* two concatenated gzip members are one valid gzip file */
    bytes z1 = gzip_bytes(img.p, 7), z2 = gzip_bytes(img.p + 7, img.len - 7);
    b_put(&t, z1.p, z1.len);
    b_put(&t, z2.p, z2.len);
    write_file(p, t.p, t.len);
    ck_assert_ok(nnp_dataset_load_idx(p, NULL, &ds));
    ck_assert_uint_eq(nnp_dataset_count(ds), 10);
    ck_assert(nnp_dataset_images(ds)[33] == (float)(33 * 31 % 256) / 255.0f);
    nnp_dataset_free(ds);
    /* ... but a broken second member is an error */
    t.len -= 3;
    write_file(p, t.p, t.len);
    ck_assert_status(nnp_dataset_load_idx(p, NULL, &ds), NNP_EFORMAT);
    ck_assert_error_has("(unexpected end of file after");
    ck_assert_error_has("of member 2)");

    b_free(&t);
    b_free(&z1);
    b_free(&z2);
    b_free(&z);
    b_free(&img);
    remove(p);
}
END_TEST

START_TEST(test_malformed_labels)
{
    char ip[512], lp[512];
    tu_tmp_path(ip, sizeof ip, "ml-images.idx");
    tu_tmp_path(lp, sizeof lp, "ml-labels.idx");
    bytes img = valid_images(10);
    write_file(ip, img.p, img.len);
    b_free(&img);
    nnp_dataset *ds = sentinel();
    bytes l = {0};
    uint32_t d10[1] = {10}, d9[1] = {9}, d2[2] = {10, 1};

    /* count mismatch */
    b_header(&l, 0x08, 1, d9);
    b_fill(&l, 9, 3);
    write_file(lp, l.p, l.len);
    ck_assert_status(nnp_dataset_load_idx(ip, lp, &ds), NNP_EFORMAT);
    ck_assert_ptr_null(ds);
    char want[1200];
    snprintf(want, sizeof want, "idx: count mismatch: %s has 10 images but %s has 9 labels", ip,
             lp);
    ck_assert_error_has(want);
    b_free(&l);
    uint32_t d11[1] = {11};
    b_header(&l, 0x08, 1, d11);
    b_fill(&l, 11, 3);
    write_file(lp, l.p, l.len);
    ck_assert_status(nnp_dataset_load_idx(ip, lp, &ds), NNP_EFORMAT);
    ck_assert_error_has("has 10 images but");
    ck_assert_error_has("has 11 labels");
    b_free(&l);

    /* float labels */
    b_header(&l, 0x0D, 1, d10);
    b_fill(&l, 40, 0);
    write_file(lp, l.p, l.len);
    ck_assert_status(nnp_dataset_load_idx(ip, lp, &ds), NNP_EFORMAT);
    ck_assert_error_has("unsupported element type 0x0d (float32): a label file must be 0x08 "
                        "(unsigned byte)");
    b_free(&l);

    /* two dimensions */
    b_header(&l, 0x08, 2, d2);
    b_fill(&l, 10, 0);
    write_file(lp, l.p, l.len);
    ck_assert_status(nnp_dataset_load_idx(ip, lp, &ds), NNP_EFORMAT);
    ck_assert_error_has("dimension count 2: a label file needs exactly 1");
    b_free(&l);

    /* truncated label data, through gzip */
    char lz[512];
    tu_tmp_path(lz, sizeof lz, "ml-labels.idx.gz");
    b_header(&l, 0x08, 1, d10);
    b_fill(&l, 8, 1);
    bytes z = gzip_bytes(l.p, l.len);
    write_file(lz, z.p, z.len);
    ck_assert_status(nnp_dataset_load_idx(ip, lz, &ds), NNP_EFORMAT);
    snprintf(want, sizeof want, "idx: %s: truncated: header promises 10 data bytes, file has 8",
             lz);
    ck_assert_error_has(want);
    b_free(&z);
    b_free(&l);

    /* valid */
    b_header(&l, 0x08, 1, d10);
    for (unsigned i = 0; i < 10; i++) b_u8(&l, 9 - i);
    write_file(lp, l.p, l.len);
    ck_assert_ok(nnp_dataset_load_idx(ip, lp, &ds));
    ck_assert_int_eq(nnp_dataset_labels(ds)[0], 9);
    ck_assert_int_eq(nnp_dataset_labels(ds)[9], 0);
    ck_assert_uint_eq(nnp_dataset_class_count(ds), 10);
    nnp_dataset_free(ds);
    b_free(&l);

    remove(ip);
    remove(lp);
    remove(lz);
}
END_TEST

START_TEST(test_io_errors)
{
    char p[512], want[700];
    nnp_dataset *ds = sentinel();
    tu_tmp_path(p, sizeof p, "does-not-exist.idx");
    remove(p);
    ck_assert_status(nnp_dataset_load_idx(p, NULL, &ds), NNP_EIO);
    snprintf(want, sizeof want, "idx: %s: cannot open: No such file or directory", p);
    ck_assert_error_has(want);
    ck_assert_ptr_null(ds);

    /* a directory opens but cannot be read */
    char d[512];
    make_dir(d, sizeof d, "io-dir");
    ck_assert_status(nnp_dataset_load_idx(d, NULL, &ds), NNP_EIO);
    snprintf(want, sizeof want, "idx: %s: ", d);
    ck_assert_error_has(want);
    rm_dir(d);

    /* valid images, missing labels: the message names the label file */
    char ip[512];
    tu_tmp_path(ip, sizeof ip, "io-images.idx");
    bytes img = valid_images(3);
    write_file(ip, img.p, img.len);
    b_free(&img);
    ck_assert_status(nnp_dataset_load_idx(ip, p, &ds), NNP_EIO);
    snprintf(want, sizeof want, "idx: %s: cannot open", p);
    ck_assert_error_has(want);
    ck_assert_ptr_null(ds);
    remove(ip);
}
END_TEST

/* ------------------------------------------------------------------------------------ */
/* subset, select, permute                                                               */

START_TEST(test_subset)
{
    nnp_dataset *ds = make_ds(10, 2, 3, 1, 1, 0); /* labels (7i) % 10 */
    const float *x = nnp_dataset_images(ds);
    const int32_t *y = nnp_dataset_labels(ds);
    nnp_dataset *s = sentinel();

    ck_assert_ok(nnp_dataset_subset(ds, 2, 3, &s));
    ck_assert_uint_eq(nnp_dataset_count(s), 3);
    ck_assert_uint_eq(nnp_dataset_example_size(s), 6);
    size_t c, h, w;
    ck_assert_ok(nnp_dataset_shape(s, &c, &h, &w));
    ck_assert(c == 2 && h == 3 && w == 1);
    for (size_t i = 0; i < 18; i++) ck_assert(nnp_dataset_images(s)[i] == x[12 + i]);
    for (size_t i = 0; i < 3; i++) ck_assert_int_eq(nnp_dataset_labels(s)[i], y[2 + i]);
    ck_assert_uint_eq(nnp_dataset_class_count(s), 9); /* labels 4, 1, 8 */
    nnp_dataset_free(s);

    ck_assert_ok(nnp_dataset_subset(ds, 0, 10, &s));
    assert_same(ds, s);
    nnp_dataset_free(s);
    ck_assert_ok(nnp_dataset_subset(ds, 9, 1, &s));
    ck_assert_int_eq(nnp_dataset_labels(s)[0], y[9]);
    ck_assert(nnp_dataset_images(s)[5] == x[59]);
    nnp_dataset_free(s);

    s = sentinel();
    ck_assert_status(nnp_dataset_subset(ds, 0, 0, &s), NNP_EINVAL);
    ck_assert_error_has("nnp_dataset_subset: count is 0");
    ck_assert_ptr_null(s);
    ck_assert_status(nnp_dataset_subset(ds, 8, 3, &s), NNP_EINVAL);
    ck_assert_error_has("range [8, 8 + 3) exceeds the 10 examples of the set");
    ck_assert_status(nnp_dataset_subset(ds, 0, 11, &s), NNP_EINVAL);
    ck_assert_error_has("exceeds the 10 examples");
    ck_assert_status(nnp_dataset_subset(ds, 10, 1, &s), NNP_EINVAL);
    ck_assert_status(nnp_dataset_subset(ds, SIZE_MAX, 2, &s), NNP_EINVAL); /* no wrap-around */
    ck_assert_status(nnp_dataset_subset(ds, 2, SIZE_MAX, &s), NNP_EINVAL);
    ck_assert_ptr_null(s);
    nnp_dataset_free(ds);

    ds = make_ds(4, 1, 2, 2, 0, 1);
    ck_assert_ok(nnp_dataset_subset(ds, 1, 2, &s));
    ck_assert_ptr_null(nnp_dataset_labels(s));
    ck_assert_uint_eq(nnp_dataset_class_count(s), 0);
    nnp_dataset_free(s);
    nnp_dataset_free(ds);
}
END_TEST

START_TEST(test_select)
{
    nnp_dataset *ds = make_ds(10, 1, 2, 2, 1, 3);
    const float *x = nnp_dataset_images(ds);
    const int32_t *y = nnp_dataset_labels(ds);
    const size_t idx[5] = {3, 3, 0, 9, 3};
    nnp_dataset *s = sentinel();
    ck_assert_ok(nnp_dataset_select(ds, idx, 5, &s));
    ck_assert_uint_eq(nnp_dataset_count(s), 5);
    for (size_t i = 0; i < 5; i++) {
        ck_assert_int_eq(nnp_dataset_labels(s)[i], y[idx[i]]);
        for (size_t j = 0; j < 4; j++)
            ck_assert(nnp_dataset_images(s)[4 * i + j] == x[4 * idx[i] + j]);
    }
    nnp_dataset_free(s);

    const size_t bad[3] = {0, 10, 1};
    s = sentinel();
    ck_assert_status(nnp_dataset_select(ds, bad, 3, &s), NNP_EINVAL);
    ck_assert_error_has("nnp_dataset_select: index[1] = 10 is out of range (the set has 10)");
    ck_assert_ptr_null(s);
    const size_t huge[1] = {SIZE_MAX};
    ck_assert_status(nnp_dataset_select(ds, huge, 1, &s), NNP_EINVAL);
    ck_assert_error_has("index[0] =");
    ck_assert_status(nnp_dataset_select(ds, idx, 0, &s), NNP_EINVAL);
    ck_assert_error_has("nnp_dataset_select: count is 0");
    ck_assert_ptr_null(s);
    nnp_dataset_free(ds);
}
END_TEST

static nnp_dataset *labelled_1000(void)
{
    static float x[1000];
    static int32_t y[1000];
    for (int i = 0; i < 1000; i++) {
        x[i] = (float)i / 999.0f;
        y[i] = i % 10;
    }
    nnp_dataset *ds;
    ck_assert_ok(nnp_dataset_create(1000, 1, 1, 1, x, y, &ds));
    return ds;
}

START_TEST(test_permute_labels)
{
    nnp_dataset *a = labelled_1000(), *b = labelled_1000(), *c = labelled_1000();
    const float *xa = nnp_dataset_images(a);
    float x0[1000];
    memcpy(x0, xa, sizeof x0);

    ck_assert_ok(nnp_dataset_permute_labels(a, 1));
    ck_assert_ok(nnp_dataset_permute_labels(b, 1));
    ck_assert_ok(nnp_dataset_permute_labels(c, 2));
    const int32_t *ya = nnp_dataset_labels(a), *yb = nnp_dataset_labels(b),
                  *yc = nnp_dataset_labels(c);
    size_t hist[10] = {0}, moved = 0, diff_seed = 0;
    for (int i = 0; i < 1000; i++) {
        ck_assert(ya[i] >= 0 && ya[i] < 10);
        hist[ya[i]]++;
        moved += ya[i] != i % 10;
        ck_assert_int_eq(ya[i], yb[i]); /* same seed, same permutation */
        diff_seed += ya[i] != yc[i];
    }
    for (int k = 0; k < 10; k++) ck_assert_uint_eq(hist[k], 100); /* histogram kept */
    ck_assert_msg(moved > 800, "only %zu of 1000 labels changed", moved); /* ~900 expected */
    ck_assert_msg(diff_seed > 800, "seeds 1 and 2 agree on %zu labels", 1000 - diff_seed);
    ck_assert_uint_eq(nnp_dataset_class_count(a), 10);
    ck_assert(memcmp(x0, nnp_dataset_images(a), sizeof x0) == 0); /* images untouched */
    nnp_dataset_free(a);
    nnp_dataset_free(b);
    nnp_dataset_free(c);

    /* pinned stream: seed 42 over labels 0..9 (same on every machine) */
    float x10[10] = {0};
    int32_t y10[10] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    nnp_dataset *d;
    ck_assert_ok(nnp_dataset_create(10, 1, 1, 1, x10, y10, &d));
    ck_assert_ok(nnp_dataset_permute_labels(d, 42));
    static const int32_t pinned[10] = {7, 3, 8, 9, 5, 6, 4, 1, 0, 2};
    for (int i = 0; i < 10; i++) ck_assert_int_eq(nnp_dataset_labels(d)[i], pinned[i]);
    nnp_dataset_free(d);

    /* one example: nothing to permute, still fine */
    ck_assert_ok(nnp_dataset_create(1, 1, 1, 1, x10, y10 + 3, &d));
    ck_assert_ok(nnp_dataset_permute_labels(d, 5));
    ck_assert_int_eq(nnp_dataset_labels(d)[0], 3);
    nnp_dataset_free(d);
}
END_TEST

/* ------------------------------------------------------------------------------------ */
/* saving                                                                                */

START_TEST(test_save_errors)
{
    nnp_dataset *ds = make_ds(5, 1, 2, 2, 1, 0);
    char dir[512], ip[600], lp[600];
    make_dir(dir, sizeof dir, "save-dir");
    snprintf(ip, sizeof ip, "%s/images.idx.gz", dir);
    snprintf(lp, sizeof lp, "%s/labels.idx", dir);

    ck_assert_status(nnp_dataset_save_idx(ds, ip, NULL, (nnp_idx_type)7), NNP_EINVAL);
    ck_assert_error_has("type = 7 is neither NNP_IDX_UBYTE (0) nor NNP_IDX_FLOAT (1)");
    ck_assert_status(nnp_dataset_save_idx(ds, ip, NULL, (nnp_idx_type)-1), NNP_EINVAL);
    ck_assert_status(nnp_dataset_save_idx(ds, ip, ip, NNP_IDX_UBYTE), NNP_EINVAL);
    ck_assert_error_has("images_path and labels_path are the same");
    ck_assert_int_eq(dir_entries(dir), 0);

    /* a label that does not fit an unsigned byte */
    float x[2] = {0, 1};
    int32_t y[2] = {1, 256};
    nnp_dataset *big;
    ck_assert_ok(nnp_dataset_create(2, 1, 1, 1, x, y, &big));
    ck_assert_status(nnp_dataset_save_idx(big, ip, lp, NNP_IDX_UBYTE), NNP_EINVAL);
    ck_assert_error_has("label 256 at index 1 does not fit an IDX unsigned byte (0..255)");
    ck_assert_int_eq(dir_entries(dir), 0);
    ck_assert_ok(nnp_dataset_save_idx(big, ip, NULL, NNP_IDX_UBYTE)); /* images alone are fine */
    ck_assert_int_eq(dir_entries(dir), 1);
    remove(ip);
    nnp_dataset_free(big);

    /* unwritable places */
    char nodir[700], want[800];
    snprintf(nodir, sizeof nodir, "%s/no/such/dir/x.idx", dir);
    ck_assert_status(nnp_dataset_save_idx(ds, nodir, NULL, NNP_IDX_UBYTE), NNP_EIO);
    snprintf(want, sizeof want, "idx: %s: cannot create a temporary file next to it", nodir);
    ck_assert_error_has(want);
    /* images writable, labels not: neither file appears */
    ck_assert_status(nnp_dataset_save_idx(ds, ip, nodir, NNP_IDX_UBYTE), NNP_EIO);
    ck_assert(!file_exists(ip));
    ck_assert_int_eq(dir_entries(dir), 0);

    /* saving replaces an existing file; only the two final files remain */
    write_file(ip, "old contents", 12);
    write_file(lp, "old", 3);
    ck_assert_ok(nnp_dataset_save_idx(ds, ip, lp, NNP_IDX_FLOAT));
    ck_assert_int_eq(dir_entries(dir), 2);
    nnp_dataset *back;
    ck_assert_ok(nnp_dataset_load_idx(ip, lp, &back));
    assert_same(ds, back);
    nnp_dataset_free(back);

    nnp_dataset_free(ds);
    rm_dir(dir);
}
END_TEST

/* A larger set through gzip: several I/O chunks and buffer growth on both sides. */
START_TEST(test_large_gzip)
{
    size_t n = 300, c = 3, h = 32, w = 32, es = c * h * w; /* 3.5 MB of floats */
    float *x = malloc(n * es * sizeof(float));
    int32_t *y = malloc(n * sizeof(int32_t));
    ck_assert(x != NULL && y != NULL);
    tu_fill_uniform(x, n * es, 0.0f, 1.0f, 99);
    for (size_t i = 0; i < n; i++) y[i] = (int32_t)(i % 7);
    nnp_dataset *ds, *back;
    ck_assert_ok(nnp_dataset_create(n, c, h, w, x, y, &ds));
    char ip[512], lp[512];
    tu_tmp_path(ip, sizeof ip, "large.idx.gz");
    tu_tmp_path(lp, sizeof lp, "large-labels.idx.gz");
    ck_assert_ok(nnp_dataset_save_idx(ds, ip, lp, NNP_IDX_FLOAT));
    ck_assert_ok(nnp_dataset_load_idx(ip, lp, &back));
    assert_same(ds, back);
    nnp_dataset_free(back);
    nnp_dataset_free(ds);
    free(x);
    free(y);
    remove(ip);
    remove(lp);
}
END_TEST

/* ------------------------------------------------------------------------------------ */
/* allocation failures                                                                   */

#define MAX_FAIL 400

/* op(ctx, k) runs the operation under test with the k-th allocation failing. Every run must
 * succeed or report NNP_ENOMEM; runs must start failing at k = 1 and succeed eventually. */
static void run_alloc_failures(const char *what, tu_alloc_run_fn op, void *ctx,
                               tu_alloc_after_fn after)
{
    tu_alloc_counts n = tu_alloc_failures(&(tu_alloc_loop){
        .what = what, .max_k = MAX_FAIL, .until_ok = 1, .check_message = 1, .run = op,
        .after = after, .user = ctx});
    ck_assert_msg(n.last == NNP_OK, "%s: still failing after %d allocations", what, MAX_FAIL);
    ck_assert_msg(n.failures > 0, "%s: the first allocation failure went unnoticed", what);
}

typedef struct load_ctx {
    const char *ip, *lp;
    const nnp_dataset *src;
    nnp_dataset *out;
    const char *dir;
    int files; /* entries of `dir` before the operation */
} load_ctx;

static nnp_status op_load(void *p, long k)
{
    (void)k;
    load_ctx *c = p;
    c->out = sentinel();
    nnp_status st = nnp_dataset_load_idx(c->ip, c->lp, &c->out);
    if (st != NNP_OK) ck_assert_ptr_null(c->out);
    return st;
}

static nnp_status op_subset(void *p, long k)
{
    (void)k;
    load_ctx *c = p;
    c->out = sentinel();
    nnp_status st = nnp_dataset_subset(c->src, 1, 3, &c->out);
    if (st != NNP_OK) ck_assert_ptr_null(c->out);
    return st;
}

static nnp_status op_select(void *p, long k)
{
    (void)k;
    load_ctx *c = p;
    const size_t idx[3] = {4, 0, 4};
    c->out = sentinel();
    nnp_status st = nnp_dataset_select(c->src, idx, 3, &c->out);
    if (st != NNP_OK) ck_assert_ptr_null(c->out);
    return st;
}

static nnp_status op_create(void *p, long k)
{
    (void)k;
    load_ctx *c = p;
    c->out = sentinel();
    nnp_status st = nnp_dataset_create(
        nnp_dataset_count(c->src), 1, 2, 2, nnp_dataset_images(c->src),
        nnp_dataset_labels(c->src), &c->out);
    if (st != NNP_OK) ck_assert_ptr_null(c->out);
    return st;
}

static nnp_status op_save(void *p, long k)
{
    (void)k;
    load_ctx *c = p;
    c->out = NULL;
    nnp_status st = nnp_dataset_save_idx(c->src, c->ip, c->lp, NNP_IDX_UBYTE);
    if (st != NNP_OK) {
        /* nothing under the final names, no temporary files left behind */
        ck_assert(!file_exists(c->ip));
        ck_assert(!file_exists(c->lp));
        ck_assert_int_eq(dir_entries(c->dir), c->files);
    } else {
        ck_assert_int_eq(dir_entries(c->dir), c->files + 2);
    }
    return st;
}

static void free_out(void *p, long k, nnp_status s)
{
    (void)k;
    (void)s;
    load_ctx *c = p;
    nnp_dataset_free(c->out);
    c->out = NULL;
}

START_TEST(test_alloc_failures)
{
    nnp_dataset *ds = make_ds(6, 1, 2, 2, 1, 0);
    char dir[512], ip[600], lp[600], ipz[600], lpz[600];
    make_dir(dir, sizeof dir, "oom-dir");
    snprintf(ip, sizeof ip, "%s/i.idx", dir);
    snprintf(lp, sizeof lp, "%s/l.idx", dir);
    snprintf(ipz, sizeof ipz, "%s/i.idx.gz", dir);
    snprintf(lpz, sizeof lpz, "%s/l.idx.gz", dir);
    load_ctx c = {ip, lp, ds, NULL, dir, 0};

    run_alloc_failures("save plain", op_save, &c, NULL);
    c.ip = ipz;
    c.lp = lpz;
    c.files = 2;
    run_alloc_failures("save gzip", op_save, &c, NULL);

    /* load: plain, gzip, and a malformed file (errors must not leak either) */
    c.ip = ip;
    c.lp = lp;
    run_alloc_failures("load plain", op_load, &c, free_out);
    c.ip = ipz;
    c.lp = lpz;
    run_alloc_failures("load gzip", op_load, &c, free_out);
    c.lp = NULL;
    run_alloc_failures("load gzip unlabelled", op_load, &c, free_out);

    run_alloc_failures("subset", op_subset, &c, free_out);
    run_alloc_failures("select", op_select, &c, free_out);
    run_alloc_failures("create", op_create, &c, free_out);

    nnp_dataset_free(ds);
    rm_dir(dir);
}
END_TEST

static nnp_status op_load_malformed(void *p, long k)
{
    (void)k;
    load_ctx *c = p;
    c->out = sentinel();
    return nnp_dataset_load_idx(c->ip, NULL, &c->out);
}

static void check_malformed(void *p, long k, nnp_status st)
{
    load_ctx *c = p;
    ck_assert_ptr_null(c->out);
    ck_assert_msg(st != NNP_OK, "allocation %ld: a malformed file loaded", k);
}

/* Failures on a malformed file: either ENOMEM or the format error, nothing else. */
START_TEST(test_alloc_failures_malformed)
{
    char p[512];
    tu_tmp_path(p, sizeof p, "oom-bad.idx.gz");
    bytes img = valid_images(4);
    img.len -= 5;
    bytes z = gzip_bytes(img.p, img.len);
    write_file(p, z.p, z.len);
    load_ctx c = {.ip = p};
    tu_alloc_failures(&(tu_alloc_loop){
        .what = "load malformed", .max_k = 20, .also_allowed = NNP_EFORMAT,
        .run = op_load_malformed, .after = check_malformed, .user = &c});
    ck_assert_status(nnp_dataset_load_idx(p, NULL, &(nnp_dataset *){NULL}), NNP_EFORMAT);
    ck_assert_error_has("truncated: header promises 64 data bytes, file has 59");
    b_free(&img);
    b_free(&z);
    remove(p);
}
END_TEST

static Suite *dataset_suite(void)
{
    Suite *s = suite_create("dataset");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_create_accessors);
    tcase_add_test(tc, test_create_invalid);
    tcase_add_test(tc, test_null_args);
    tcase_add_test(tc, test_subset);
    tcase_add_test(tc, test_select);
    tcase_add_test(tc, test_permute_labels);
    suite_add_tcase(s, tc);

    tc = tcase_create("idx");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_roundtrip, 0, 8);
    tcase_add_test(tc, test_ubyte_rounding);
    tcase_add_test(tc, test_unlabelled_and_2d);
    tcase_add_test(tc, test_fashion_mnist);
    tcase_add_loop_test(tc, test_malformed_images, 0, N_BAD);
    tcase_add_test(tc, test_malformed_gzip);
    tcase_add_test(tc, test_malformed_labels);
    tcase_add_test(tc, test_io_errors);
    tcase_add_test(tc, test_save_errors);
    tcase_add_test(tc, test_large_gzip);
    suite_add_tcase(s, tc);

    tc = tcase_create("alloc");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_alloc_failures);
    tcase_add_test(tc, test_alloc_failures_malformed);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_run(dataset_suite()); }
