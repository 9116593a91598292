/* Check suite for nnp_dataset_load_npy (include/nnprobe/dataset.h, lib/io/npy.c): NumPy .npy
 * files written here byte by byte after NEP 1 (not by the code under test): versions 1.0,
 * 2.0 and 3.0, the dtypes, gzip, labels from .npy or IDX; malformed files each refused with
 * NNP_EFORMAT and a message naming the file and the problem; allocation failures. */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <zlib.h>

#include "core/core.h"
#include "testutil.h"

typedef struct buf {
    unsigned char *p;
    size_t len;
} buf;

static void put(buf *b, const void *p, size_t n)
{
    b->p = realloc(b->p, b->len + n + 1);
    ck_assert_ptr_nonnull(b->p);
    if (n) memcpy(b->p + b->len, p, n);
    b->len += n;
}

/* A .npy file as NEP 1 describes it: magic, version, little-endian header length (2 bytes
 * for 1.0, 4 for 2.0/3.0), the dict padded with spaces and ended by '\n' so that the data
 * start at a multiple of 64, then `n` data bytes. */
static buf npy(unsigned major, const char *dict, const void *data, size_t n)
{
    buf b = {0};
    const size_t prefix = major == 1 ? 10 : 12;
    size_t hlen = strlen(dict) + 1;
    hlen += (64 - (prefix + hlen) % 64) % 64;
    unsigned char pre[12] = {0x93, 'N', 'U', 'M', 'P', 'Y', (unsigned char)major, 0,
                             (unsigned char)hlen, (unsigned char)(hlen >> 8), 0, 0};
    put(&b, pre, prefix);
    put(&b, dict, strlen(dict));
    for (size_t i = strlen(dict) + 1; i < hlen; i++) put(&b, " ", 1);
    put(&b, "\n", 1);
    put(&b, data, n);
    return b;
}

static void write_path(const char *path, buf b, int gz)
{
    if (gz) {
        gzFile g = gzopen(path, "wb");
        ck_assert_ptr_nonnull(g);
        ck_assert_int_eq(gzwrite(g, b.p, (unsigned)b.len), (int)b.len);
        ck_assert_int_eq(gzclose(g), Z_OK);
    } else {
        FILE *f = fopen(path, "wb");
        ck_assert_ptr_nonnull(f);
        if (b.len) ck_assert_uint_eq(fwrite(b.p, 1, b.len, f), b.len);
        ck_assert_int_eq(fclose(f), 0);
    }
    free(b.p);
}

static void le32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> 8 * i);
}

/* ---- well-formed files ---- */

START_TEST(test_f4_nchw_i8_labels)
{
    /* 2 examples of 3×2×2, float32, values k/23 */
    float x[24];
    unsigned char raw[96], lab[16] = {0};
    for (int k = 0; k < 24; k++) {
        x[k] = (float)k / 23.0f;
        uint32_t u;
        memcpy(&u, &x[k], 4);
        le32(raw + 4 * k, u);
    }
    lab[0] = 7;             /* label 0: 7 */
    lab[8] = 1, lab[9] = 1; /* label 1: 257 */
    char pi[512], pl[512];
    tu_tmp_path(pi, sizeof pi, "f4.npy");
    write_path(pi, npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 2, 2), }", raw,
                       sizeof raw), 0);
    tu_tmp_path(pl, sizeof pl, "f4-labels.npy");
    write_path(pl, npy(1, "{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }", lab,
                       sizeof lab), 0);
    nnp_dataset *ds = NULL;
    ck_assert_ok(nnp_dataset_load_npy(pi, pl, &ds));
    size_t c, h, w;
    ck_assert_ok(nnp_dataset_shape(ds, &c, &h, &w));
    ck_assert_uint_eq(nnp_dataset_count(ds), 2);
    ck_assert_uint_eq(c, 3);
    ck_assert_uint_eq(h, 2);
    ck_assert_uint_eq(w, 2);
    for (int k = 0; k < 24; k++) ck_assert_float_eq(nnp_dataset_images(ds)[k], x[k]);
    ck_assert_int_eq(nnp_dataset_labels(ds)[0], 7);
    ck_assert_int_eq(nnp_dataset_labels(ds)[1], 257);
    nnp_dataset_free(ds);
    remove(pi);
    remove(pl);
}
END_TEST

START_TEST(test_u1_nhw_v2_gzip_i4_labels)
{
    unsigned char raw[3 * 2 * 5], lab[12] = {2, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0};
    for (int k = 0; k < 30; k++) raw[k] = (unsigned char)(k * 8);
    char pi[512], pl[512];
    tu_tmp_path(pi, sizeof pi, "u1.npy.gz");
    /* double quotes, no trailing comma, spaces: still the dict NumPy's literal parser reads */
    write_path(pi, npy(2, "{ \"shape\" : (3,2,5) , \"fortran_order\":False,\"descr\":\"|u1\"}",
                       raw, sizeof raw), 1);
    tu_tmp_path(pl, sizeof pl, "u1-labels.npy");
    write_path(pl, npy(3, "{'descr': '<i4', 'fortran_order': False, 'shape': (3,), }", lab,
                       sizeof lab), 0);
    nnp_dataset *ds = NULL;
    ck_assert_ok(nnp_dataset_load_npy(pi, pl, &ds));
    size_t c, h, w;
    ck_assert_ok(nnp_dataset_shape(ds, &c, &h, &w));
    ck_assert_uint_eq(c, 1);
    ck_assert_uint_eq(h, 2);
    ck_assert_uint_eq(w, 5);
    for (int k = 0; k < 30; k++)
        ck_assert_float_eq_tol(nnp_dataset_images(ds)[k], (float)(k * 8) / 255.0f, 1e-7f);
    ck_assert_int_eq(nnp_dataset_labels(ds)[2], 9);
    ck_assert_uint_eq(nnp_dataset_class_count(ds), 10);
    nnp_dataset_free(ds);
    remove(pi);
    remove(pl);
}
END_TEST

START_TEST(test_f8_nd_idx_labels)
{
    double v[6] = {0, 0.25, 0.5, 0.75, 1, 1.0 / 3.0};
    unsigned char raw[48];
    for (int k = 0; k < 6; k++) {
        uint64_t u;
        memcpy(&u, &v[k], 8);
        for (int i = 0; i < 8; i++) raw[8 * k + i] = (unsigned char)(u >> 8 * i);
    }
    char pi[512], pl[512];
    tu_tmp_path(pi, sizeof pi, "f8.npy");
    write_path(pi, npy(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }", raw,
                       sizeof raw), 0);
    tu_tmp_path(pl, sizeof pl, "f8-labels.idx");
    const unsigned char idx[] = {0, 0, 8, 1, 0, 0, 0, 2, 4, 5};
    buf b = {0};
    put(&b, idx, sizeof idx);
    write_path(pl, b, 0);
    nnp_dataset *ds = NULL;
    ck_assert_ok(nnp_dataset_load_npy(pi, pl, &ds));
    ck_assert_uint_eq(nnp_dataset_example_size(ds), 3);
    for (int k = 0; k < 6; k++) ck_assert_float_eq(nnp_dataset_images(ds)[k], (float)v[k]);
    ck_assert_int_eq(nnp_dataset_labels(ds)[1], 5);
    nnp_dataset_free(ds);
    ck_assert_ok(nnp_dataset_load_npy(pi, NULL, &ds)); /* unlabelled */
    ck_assert_ptr_null(nnp_dataset_labels(ds));
    nnp_dataset_free(ds);
    /* and the other way round: IDX images with .npy labels */
    char pj[512], pk[512];
    const unsigned char img[] = {0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3, 0, 51, 102, 153, 204, 255};
    const unsigned char l8[16] = {6, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0};
    buf bi = {0};
    put(&bi, img, sizeof img);
    tu_tmp_path(pj, sizeof pj, "idx-images.idx");
    write_path(pj, bi, 0);
    tu_tmp_path(pk, sizeof pk, "idx-labels.npy");
    write_path(pk, npy(1, "{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }", l8, 16), 0);
    ck_assert_ok(nnp_dataset_load_idx(pj, pk, &ds));
    ck_assert_int_eq(nnp_dataset_labels(ds)[0], 6);
    ck_assert_int_eq(nnp_dataset_labels(ds)[1], 4);
    ck_assert_float_eq(nnp_dataset_images(ds)[5], 1.0f);
    remove(pj);
    remove(pk);
    nnp_dataset_free(ds);
    remove(pi);
    remove(pl);
}
END_TEST

/* ---- malformed files ---- */

#define HDR "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }"

typedef struct bad_case {
    int raw;           /* 1: `dict` is the whole file (raw_len bytes, no npy() framing) */
    size_t raw_len;
    unsigned major;
    const char *dict;
    size_t data_len;   /* data bytes appended (value 0x00, i.e. 0.0f) */
    int gz;
    const char *needle;
} bad_case;

#define RAW(s) 1, sizeof(s) - 1, 0, s
static const bad_case bad_cases[] = {
    {RAW("PK\x03\x04 not numpy at all"), 0, 0, "bad magic"},
    {RAW("\x93NUMPY\x01"), 0, 0, "truncated header: 7 bytes"},
    {RAW("\x93NUMPY\x04\x00\x10\x00"), 0, 0, "format version 4.0 is not supported"},
    {RAW("\x93NUMPY\x01\x01\x10\x00"), 0, 0, "format version 1.1"},
    {RAW("\x93NUMPY\x01\x00\x00\x00"), 0, 0, "header length 0 is outside"},
    {RAW("\x93NUMPY\x02\x00\x00\x00\x01\x00"), 0, 0, "header length 65536 is outside"},
    {RAW("\x93NUMPY\x01\x00\x40\x00{'descr'"), 0, 0, "truncated header: it declares 64 bytes"},
    {RAW("\x93NUMPY\x02\x00\x40\x00\x00"), 0, 0, "no 4-byte header length"},
    {RAW("\x93NUMPY\x01\x00\x04\x00{}  "), 0, 0, "does not end with a newline"},
    {0, 0, 1, "['descr', '<f4']", 16, 0, "it is not a dict"},
    {0, 0, 1, "{'descr': '<f4', 'fortran_order': False}", 16, 0, "key 'shape' is missing"},
    {0, 0, 1, "{'descr': '<f4', 'shape': (2, 2)}", 16, 0, "key 'fortran_order' is missing"},
    {0, 0, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), 'x': 1}", 16, 0,
     "unknown key 'x'"},
    {0, 0, 1, "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2, 2)}", 16, 0,
     "key 'descr' given twice"},
    {0, 0, 1, "{'descr': '<f4', 'fortran_order': 0, 'shape': (2, 2)}", 16, 0,
     "'fortran_order' is neither True nor False"},
    {0, 0, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': [2, 2]}", 16, 0,
     "'shape' is not a tuple of integers"},
    {0, 0, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, -2)}", 16, 0,
     "'shape' is not a tuple of integers"},
    {0, 0, 1, "{'descr': '<f4' 'fortran_order': False, 'shape': (2, 2)}", 16, 0,
     "no ',' or '}' after a value"},
    {0, 0, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2)} x", 16, 0,
     "text after the closing '}'"},
    {0, 0, 1, "{'descr': '<f\\4', 'fortran_order': False, 'shape': (2, 2)}", 16, 0,
     "'descr' is not a short string"},
    {0, 0, 1, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2, 2)}", 16, 0,
     "structured dtypes are not supported"},
    {0, 0, 1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", 16, 0,
     "Fortran-order (column-major) arrays are not supported"},
    {0, 0, 1, "{'descr': '|O', 'fortran_order': False, 'shape': (2, 2), }", 16, 0,
     "dtype '|O' is not supported for an image array (<f4, <f8, |u1)"},
    {0, 0, 1, "{'descr': '>f4', 'fortran_order': False, 'shape': (2, 2), }", 16, 0,
     "big-endian data"},
    {0, 0, 1, "{'descr': '<i8', 'fortran_order': False, 'shape': (2, 2), }", 32, 0,
     "dtype '<i8' is not supported for an image array"},
    {0, 0, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", 16, 0,
     "shape has 1 dimensions: an image array needs 2 to 4"},
    {0, 0, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 1, 1, 4), }", 16, 0,
     "shape has more than 4 dimensions"},
    {0, 0, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 0), }", 0, 0,
     "dimension 1 of the shape is zero"},
    {0, 0, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627776, 2), }", 16, 0,
     "absurd dimension 0"},
    {0, 0, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 184467440737095516170), }",
     16, 0, "absurd dimension 1"},
    {0, 0, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 65536, 65536), }", 16, 0,
     "absurd shape: more than 2147483647 values per example"},
    {0, 0, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2147483647, 1000, 1000), }", 16,
     0, "above the read cap"},
    {0, 0, 1, HDR, 15, 0, "truncated: header and shape declare"},
    {0, 0, 1, HDR, 17, 0, "trailing data: header and shape declare"},
    /* the same through gzip: no size check before reading, the buffer grows with the data */
    {0, 0, 1, HDR, 15, 1, "truncated: the shape declares 16 data bytes, the file has 15"},
    {0, 0, 1, HDR, 17, 1, "trailing data after the 16 data bytes"},
    {0, 0, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (100000000, 4), }", 1000, 1,
     "truncated: the shape declares 1600000000 data bytes, the file has 1000"},
};
#define N_BAD ((int)(sizeof bad_cases / sizeof bad_cases[0]))

START_TEST(test_malformed)
{
    const bad_case *bc = &bad_cases[_i];
    char p[512], name[64];
    snprintf(name, sizeof name, "bad%d.npy", _i);
    tu_tmp_path(p, sizeof p, name);
    buf b = {0};
    if (bc->raw) {
        put(&b, bc->dict, bc->raw_len);
    } else {
        unsigned char *zero = calloc(1, bc->data_len + 1);
        b = npy(bc->major, bc->dict, zero, bc->data_len);
        free(zero);
    }
    write_path(p, b, bc->gz);
    nnp_dataset *ds = (nnp_dataset *)(uintptr_t)1;
    ck_assert_status(nnp_dataset_load_npy(p, NULL, &ds), NNP_EFORMAT);
    ck_assert_ptr_null(ds);
    ck_assert_error_has(bc->needle);
    char pre[600];
    snprintf(pre, sizeof pre, "npy: %s: ", p);
    ck_assert_error_has(pre);
    remove(p);
}
END_TEST

START_TEST(test_bad_values_and_labels)
{
    char pi[512], pl[512];
    nnp_dataset *ds = NULL;
    unsigned char raw[16] = {0};
    float bad[2] = {NAN, 1.5f};
    tu_tmp_path(pi, sizeof pi, "vals.npy");
    tu_tmp_path(pl, sizeof pl, "vals-labels.npy");
    for (int k = 0; k < 2; k++) {
        uint32_t u;
        memcpy(&u, &bad[k], 4);
        le32(raw + 8, u);
        write_path(pi, npy(1, HDR, raw, sizeof raw), 0);
        ck_assert_status(nnp_dataset_load_npy(pi, NULL, &ds), NNP_EFORMAT);
        ck_assert_error_has(k == 0 ? "image value nan at example 1, element 0 is outside [0,1]"
                                   : "image value 1.5 at example 1, element 0");
    }
    memset(raw, 0, sizeof raw);
    write_path(pi, npy(1, HDR, raw, sizeof raw), 0);
    /* labels: negative int64, above 2^31-1, a 2-D array, a float dtype, a count mismatch */
    unsigned char l8[16] = {0};
    memset(l8 + 8, 0xff, 8); /* -1 */
    write_path(pl, npy(1, "{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }", l8, 16), 0);
    ck_assert_status(nnp_dataset_load_npy(pi, pl, &ds), NNP_EFORMAT);
    ck_assert_error_has("label -1 at index 1 is outside [0, 2147483647]");
    memset(l8 + 8, 0, 8);
    l8[12] = 1; /* 2^32 */
    write_path(pl, npy(1, "{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }", l8, 16), 0);
    ck_assert_status(nnp_dataset_load_npy(pi, pl, &ds), NNP_EFORMAT);
    ck_assert_error_has("label 4294967296 at index 1");
    write_path(pl, npy(1, "{'descr': '|u1', 'fortran_order': False, 'shape': (2, 1), }", l8, 2), 0);
    ck_assert_status(nnp_dataset_load_npy(pi, pl, &ds), NNP_EFORMAT);
    ck_assert_error_has("shape has 2 dimensions: a label array needs 1");
    write_path(pl, npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", l8, 8), 0);
    ck_assert_status(nnp_dataset_load_npy(pi, pl, &ds), NNP_EFORMAT);
    ck_assert_error_has("dtype '<f4' is not supported for a label array (|u1, <i4, <i8)");
    write_path(pl, npy(1, "{'descr': '|u1', 'fortran_order': False, 'shape': (3,), }", l8, 3), 0);
    ck_assert_status(nnp_dataset_load_npy(pi, pl, &ds), NNP_EFORMAT);
    ck_assert_error_has("count mismatch");
    ck_assert_error_has("has 2 images but");
    ck_assert_error_has("has 3 labels");
    ck_assert_ptr_null(ds);
    /* NULL arguments, a missing file */
    ck_assert_status(nnp_dataset_load_npy(NULL, NULL, &ds), NNP_EINVAL);
    ck_assert_status(nnp_dataset_load_npy(pi, NULL, NULL), NNP_EINVAL);
    remove(pl);
    ck_assert_status(nnp_dataset_load_npy(pl, NULL, &ds), NNP_EIO);
    ck_assert_error_has(pl);
    remove(pi);
}
END_TEST

/* the read cap (NNPROBE_MAX_READ_BYTES) bounds what a gzip file's shape may declare */
START_TEST(test_read_cap)
{
    char p[512];
    unsigned char *zero = calloc(1, 4096);
    tu_tmp_path(p, sizeof p, "cap.npy.gz");
    write_path(p, npy(1, "{'descr': '|u1', 'fortran_order': False, 'shape': (4, 1024), }", zero,
                      4096), 1);
    free(zero);
    nnp_dataset *ds = NULL;
    ck_assert_int_eq(setenv("NNPROBE_MAX_READ_BYTES", "2000", 1), 0);
    ck_assert_status(nnp_dataset_load_npy(p, NULL, &ds), NNP_EFORMAT);
    ck_assert_error_has("above the read cap of 2000 bytes (set NNPROBE_MAX_READ_BYTES");
    ck_assert_int_eq(setenv("NNPROBE_MAX_READ_BYTES", "1M", 1), 0);
    ck_assert_ok(nnp_dataset_load_npy(p, NULL, &ds));
    ck_assert_uint_eq(nnp_dataset_example_size(ds), 1024);
    nnp_dataset_free(ds);
    ck_assert_int_eq(unsetenv("NNPROBE_MAX_READ_BYTES"), 0);
    remove(p);
}
END_TEST

static char alloc_img[512], alloc_lab[512];

static nnp_status alloc_run(void *user, long k)
{
    (void)k;
    return nnp_dataset_load_npy(alloc_img, alloc_lab, user);
}

static void alloc_after(void *user, long k, nnp_status s)
{
    (void)k;
    nnp_dataset **ds = user;
    if (s != NNP_OK) ck_assert_ptr_null(*ds);
    nnp_dataset_free(*ds);
    *ds = NULL;
}

START_TEST(test_alloc_failures)
{
    unsigned char raw[2 * 3 * 4 * 4] = {0}, lab[2] = {1, 2};
    tu_tmp_path(alloc_img, sizeof alloc_img, "alloc.npy");
    tu_tmp_path(alloc_lab, sizeof alloc_lab, "alloc-labels.npy");
    write_path(alloc_img, npy(1, "{'descr': '|u1', 'fortran_order': False, 'shape': (2, 3, 4, 4), }",
                              raw, sizeof raw), 0);
    write_path(alloc_lab, npy(1, "{'descr': '|u1', 'fortran_order': False, 'shape': (2,), }", lab,
                              2), 0);
    nnp_dataset *ds = NULL;
    tu_alloc_loop loop = {.what = "nnp_dataset_load_npy", .max_k = 40, .until_ok = 1,
                          .check_message = 1, .run = alloc_run, .after = alloc_after, .user = &ds};
    tu_alloc_counts n = tu_alloc_failures(&loop);
    ck_assert_int_gt(n.failures, 3);
    ck_assert_int_eq(n.successes, 1);
    remove(alloc_img);
    remove(alloc_lab);
}
END_TEST

/* a malformed file under allocation failure: each run is NNP_ENOMEM or the format error */
START_TEST(test_alloc_failures_malformed)
{
    unsigned char raw[100] = {0};
    tu_tmp_path(alloc_img, sizeof alloc_img, "alloc-bad.npy.gz");
    tu_tmp_path(alloc_lab, sizeof alloc_lab, "alloc-bad-labels.npy");
    write_path(alloc_img, npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (100, 4), }",
                              raw, sizeof raw), 1);
    unsigned char lab[2] = {1, 2};
    write_path(alloc_lab, npy(1, "{'descr': '|u1', 'fortran_order': False, 'shape': (2,), }", lab,
                              2), 0);
    nnp_dataset *ds = NULL;
    tu_alloc_loop loop = {.what = "nnp_dataset_load_npy (malformed)", .max_k = 20,
                          .check_message = 1, .also_allowed = NNP_EFORMAT, .run = alloc_run,
                          .after = alloc_after, .user = &ds};
    tu_alloc_counts n = tu_alloc_failures(&loop);
    ck_assert_int_gt(n.failures, 0);
    ck_assert_int_eq(n.successes, 0);
    ck_assert_status(n.last, NNP_EFORMAT);
    remove(alloc_img);
    remove(alloc_lab);
}
END_TEST

static Suite *npy_suite(void)
{
    Suite *s = suite_create("npy");
    TCase *tc = tcase_create("load");
    tcase_add_test(tc, test_f4_nchw_i8_labels);
    tcase_add_test(tc, test_u1_nhw_v2_gzip_i4_labels);
    tcase_add_test(tc, test_f8_nd_idx_labels);
    tcase_add_loop_test(tc, test_malformed, 0, N_BAD);
    tcase_add_test(tc, test_bad_values_and_labels);
    tcase_add_test(tc, test_read_cap);
    tcase_add_test(tc, test_alloc_failures);
    tcase_add_test(tc, test_alloc_failures_malformed);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_run(npy_suite()); }
