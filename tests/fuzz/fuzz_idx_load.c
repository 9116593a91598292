/* libFuzzer harness for the IDX and NumPy .npy loaders and the IDX writer: any pair of files
 * must load as NNP_OK or give a clean refusal with an "idx: " or "npy: " message, never a crash, an out-of-bounds access,
 * undefined behaviour or a leak (built with -fsanitize=fuzzer,address,undefined; see
 * tests/fuzz/run-fuzz). A data set that loads is saved again (plain or gzip, ubyte or float)
 * and the saved files are loaded back: the count and shape must survive.
 *
 * Input layout (tests/fuzz/make-seeds.py writes seeds in it):
 *   byte 0        flags: bit 0 gzip the image part, bit 1 gzip the label part,
 *                 bit 2 no label file (labels_path NULL), bit 3 save as float (else ubyte),
 *                 bit 4 save to ".gz" paths, bit 5 load with nnp_dataset_load_npy (the image
 *                 part is a .npy file, the label part .npy or IDX)
 *   varint        length L of the image part (LEB128, at most 4 bytes; clipped to what is left)
 *   L bytes       image file contents
 *   the rest      label file contents
 * The loader takes paths, so the parts are written to files in a directory made once under
 * $NNP_FUZZ_TMPDIR, else /dev/shm, else $TMPDIR or /tmp, and removed at exit. */
#define _POSIX_C_SOURCE 200809L

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "nnprobe/nnprobe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum {
    F_GZ_IMAGES = 1,
    F_GZ_LABELS = 2,
    F_NO_LABELS = 4,
    F_SAVE_FLOAT = 8,
    F_SAVE_GZ = 16,
    F_NPY = 32,
};

static char dir[256];
static char p_img[320], p_lab[320], p_out_img[320], p_out_lab[320];

static void remove_all(void)
{
    remove(p_img);
    remove(p_lab);
    remove(p_out_img);
    remove(p_out_lab);
}

static void cleanup(void)
{
    remove_all();
    if (dir[0] != '\0') rmdir(dir);
}

static void setup(void)
{
    /* run-fuzz gives a directory it removes at the end (a crash skips atexit) */
    const char *base = getenv("NNP_FUZZ_TMPDIR");
    if (base == NULL || base[0] == '\0')
        base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR");
    if (base == NULL || base[0] == '\0') base = "/tmp";
    snprintf(dir, sizeof dir, "%s/fuzz_idx.XXXXXX", base);
    if (mkdtemp(dir) == NULL) {
        perror("fuzz_idx_load: mkdtemp");
        abort();
    }
    snprintf(p_img, sizeof p_img, "%s/images", dir);
    snprintf(p_lab, sizeof p_lab, "%s/labels", dir);
    atexit(cleanup);
}

static void write_part(const char *path, const uint8_t *p, size_t n, int gz)
{
    if (gz) {
        gzFile g = gzopen(path, "wb");
        if (g == NULL) abort();
        /* gzwrite of 0 bytes is fine; sizes here are below libFuzzer's -max_len */
        if (n != 0 && gzwrite(g, p, (unsigned)n) != (int)n) abort();
        if (gzclose(g) != Z_OK) abort();
        return;
    }
    FILE *f = fopen(path, "wb");
    if (f == NULL) abort();
    if (n != 0 && fwrite(p, 1, n, f) != n) abort();
    if (fclose(f) != 0) abort();
}

static void unclean(const char *what, nnp_status st)
{
    fprintf(stderr, "%s: %s: %s\n", what, nnp_status_name(st), nnp_last_error());
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (dir[0] == '\0') setup();
    if (size < 1) return 0;
    unsigned flags = data[0];
    size_t pos = 1, img_len = 0;
    for (unsigned shift = 0; shift < 28 && pos < size; shift += 7) {
        uint8_t b = data[pos++];
        img_len |= (size_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) break;
    }
    if (img_len > size - pos) img_len = size - pos;
    const uint8_t *img = data + pos, *lab = img + img_len;
    size_t lab_len = size - pos - img_len;
    int has_labels = !(flags & F_NO_LABELS);

    write_part(p_img, img, img_len, flags & F_GZ_IMAGES);
    if (has_labels) write_part(p_lab, lab, lab_len, flags & F_GZ_LABELS);

    nnp_dataset *ds = NULL;
    nnp_status st = (flags & F_NPY) ? nnp_dataset_load_npy(p_img, has_labels ? p_lab : NULL, &ds)
                                     : nnp_dataset_load_idx(p_img, has_labels ? p_lab : NULL, &ds);
    if (st != NNP_OK) {
        if (ds != NULL || (st != NNP_EFORMAT && st != NNP_ENOMEM) ||
            (strncmp(nnp_last_error(), "idx: ", 5) != 0 &&
             strncmp(nnp_last_error(), "npy: ", 5) != 0)) /* .npy labels: both loaders */
            unclean("unclean refusal", st);
        remove_all();
        return 0;
    }

    size_t n = nnp_dataset_count(ds), c = 0, h = 0, w = 0;
    if (n == 0 || nnp_dataset_shape(ds, &c, &h, &w) != NNP_OK || c * h * w == 0 ||
        nnp_dataset_example_size(ds) != c * h * w || nnp_dataset_images(ds) == NULL ||
        (has_labels != (nnp_dataset_labels(ds) != NULL)))
        unclean("inconsistent data set after a successful load", st);

    /* save and load back */
    const char *gz = (flags & F_SAVE_GZ) ? ".gz" : "";
    snprintf(p_out_img, sizeof p_out_img, "%s/out-images%s", dir, gz);
    snprintf(p_out_lab, sizeof p_out_lab, "%s/out-labels%s", dir, gz);
    nnp_idx_type type = (flags & F_SAVE_FLOAT) ? NNP_IDX_FLOAT : NNP_IDX_UBYTE;
    st = nnp_dataset_save_idx(ds, p_out_img, has_labels ? p_out_lab : NULL, type);
    if (st != NNP_OK) {
        /* only running out of memory (or disk: /dev/shm is bounded) may stop a save of a
         * data set that loaded */
        /* .npy labels may exceed 255, which an IDX label file (unsigned bytes) cannot hold */
        const int wide = st == NNP_EINVAL && nnp_dataset_class_count(ds) > 256;
        if (st != NNP_ENOMEM && st != NNP_EIO && !wide)
            unclean("save of a loaded data set failed", st);
    } else {
        nnp_dataset *back = NULL;
        st = nnp_dataset_load_idx(p_out_img, has_labels ? p_out_lab : NULL, &back);
        if (st != NNP_OK && st != NNP_ENOMEM) unclean("reload of a saved data set failed", st);
        if (st == NNP_OK) {
            size_t c2 = 0, h2 = 0, w2 = 0;
            if (nnp_dataset_count(back) != n || nnp_dataset_shape(back, &c2, &h2, &w2) != NNP_OK ||
                c2 * h2 * w2 != c * h * w || (c > 1 && (c2 != c || h2 != h || w2 != w)))
                unclean("saved data set reloads with another count or shape", st);
            if (type == NNP_IDX_FLOAT &&
                memcmp(nnp_dataset_images(back), nnp_dataset_images(ds),
                       n * c * h * w * sizeof(float)) != 0)
                unclean("float save is not lossless", st);
            if (has_labels && memcmp(nnp_dataset_labels(back), nnp_dataset_labels(ds),
                                     n * sizeof(int32_t)) != 0)
                unclean("labels changed in a save and reload", st);
            nnp_dataset_free(back);
        }
    }
    nnp_dataset_free(ds);
    remove_all();
    return 0;
}
