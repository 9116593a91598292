/* NumPy .npy files (NEP 1 "A simple file format for NumPy arrays"; numpy.lib.format), plain
 * or gzip-compressed, read into images or labels (npy.h).
 *
 * The header is parsed by a small strict reader of the one dict literal NumPy writes
 * ({'descr': '<f4', 'fortran_order': False, 'shape': (n, c, h, w), }): exactly these three
 * keys, a plain string, a bool and a tuple of integers; nothing is ever evaluated, so object
 * arrays (pickles) and structured dtypes are refused by construction. The file is read through
 * zlib's gz* functions, which read a non-gzip file unchanged ("transparent" mode), under the
 * read cap of nnpi_open_capped(). Memory never grows ahead of the data: a plain regular file's
 * size must be exactly what its header declares before anything is allocated; otherwise the
 * data buffer grows as bytes arrive, so a small file claiming a huge shape fails as truncated
 * after one chunk. zlib's gz* functions allocate their own buffers with malloc, so the
 * allocation-failure injection of the tests reaches the data and header buffers only. */
#define _POSIX_C_SOURCE 200809L

#include "npy.h"

#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "core/core.h"
#include "idx.h"
#include "readcap.h"

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAGIC_LEN 6
/* The largest header accepted: 65535 bytes is version 1.0's limit and far above any array of
 * at most 4 dimensions (NumPy's own reader refuses headers above 10000 bytes by default). */
#define NPY_HEADER_MAX 65535u
#define NPY_MAX_DIMS 4
#define DATA_FIRST_CAP ((size_t)1 << 20)
#define READ_CHUNK ((size_t)1 << 30) /* gzread takes an unsigned length */
/* The same default cap as the IDX loader (idx.c): NNPROBE_MAX_READ_BYTES changes both. */
#define READ_CAP_DEFAULT ((uint64_t)1 << 32)

typedef enum npy_dtype { DT_F4, DT_F8, DT_U1, DT_I4, DT_I8 } npy_dtype;

static const struct {
    const char *descr;
    npy_dtype type;
    size_t size;
} dtypes[] = {
    {"<f4", DT_F4, 4}, {"<f8", DT_F8, 8}, {"|u1", DT_U1, 1}, {"<i4", DT_I4, 4}, {"<i8", DT_I8, 8},
};

typedef struct npy_file {
    const char *path;
    gzFile gz;
    int regular;
    uint64_t size, cap;
} npy_file;

typedef struct npy_header {
    npy_dtype type;
    size_t esize;
    char descr[16];
    unsigned ndims;
    size_t dims[NPY_MAX_DIMS];
    size_t count, per_example;
    size_t header_bytes, data_bytes;
} npy_header;

static nnp_status oom(const char *path, size_t bytes)
{
    return nnpi_error(NNP_ENOMEM, "npy: %s: out of memory (%zu bytes)", path, bytes);
}

static void file_close(npy_file *f)
{
    if (f->gz != NULL) gzclose(f->gz);
    f->gz = NULL;
}

static nnp_status file_open(npy_file *f, const char *path)
{
    int fd;
    memset(f, 0, sizeof *f);
    f->path = path;
    NNPI_TRY(nnpi_open_capped("npy", path, O_RDONLY, READ_CAP_DEFAULT, &f->cap, &fd,
                              &f->regular, &f->size));
    f->gz = gzdopen(fd, "rb");
    if (f->gz == NULL) {
        close(fd);
        return oom(path, 0);
    }
    return NNP_OK;
}

/* Reads up to len bytes; *got < len only at the end of the file (a gzip stream cut short or
 * corrupt is an error). */
static nnp_status file_read(npy_file *f, unsigned char *buf, size_t len, size_t *got)
{
    size_t done = 0;
    *got = 0;
    while (done < len) {
        size_t k = len - done < READ_CHUNK ? len - done : READ_CHUNK;
        int r = gzread(f->gz, buf + done, (unsigned)k);
        int err = Z_OK;
        const char *msg = r < 0 || (size_t)r < k ? gzerror(f->gz, &err) : NULL;
        if (err == Z_MEM_ERROR) return oom(f->path, 0);
        if (err == Z_BUF_ERROR)
            return nnpi_error(NNP_EFORMAT, "npy: %s: gzip stream truncated", f->path);
        if (err != Z_OK && err != Z_STREAM_END)
            return nnpi_error(err == Z_ERRNO ? NNP_EIO : NNP_EFORMAT, "npy: %s: %s: %s", f->path,
                              err == Z_ERRNO ? "read error" : "corrupt gzip stream",
                              msg ? msg : "zlib error");
        if (r <= 0) break;
        done += (size_t)r;
        if ((size_t)r < k) break;
    }
    *got = done;
    return NNP_OK;
}

/* ------------------------------------------------------------------------------------ */
/* the header dict                                                                       */

typedef struct cursor {
    const char *p, *end;
} cursor;

static void skip_ws(cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        c->p++;
}

static int eat(cursor *c, char ch)
{
    skip_ws(c);
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return 1;
    }
    return 0;
}

/* A quoted Python string without escapes into out (cap bytes); 0 if there is none. */
static int parse_string(cursor *c, char *out, size_t cap)
{
    skip_ws(c);
    if (c->p >= c->end || (*c->p != '\'' && *c->p != '"')) return 0;
    const char q = *c->p++;
    size_t n = 0;
    while (c->p < c->end && *c->p != q) {
        if (*c->p == '\\' || n + 1 >= cap) return 0;
        out[n++] = *c->p++;
    }
    if (c->p >= c->end) return 0;
    c->p++;
    out[n] = '\0';
    return 1;
}

static int parse_word(cursor *c, const char *w)
{
    size_t n = strlen(w);
    skip_ws(c);
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, w, n) != 0) return 0;
    c->p += n;
    return 1;
}

/* A tuple of decimal integers "(a, b, c)" / "(a,)" / "()"; refuses more than NPY_MAX_DIMS
 * entries (*ndims = NPY_MAX_DIMS + 1) and values above 2^62 (*dims entry SIZE_MAX). */
static int parse_shape(cursor *c, size_t *dims, unsigned *ndims)
{
    *ndims = 0;
    if (!eat(c, '(')) return 0;
    for (;;) {
        if (eat(c, ')')) return 1;
        skip_ws(c);
        if (c->p >= c->end || *c->p < '0' || *c->p > '9') return 0;
        const uint64_t big = (uint64_t)1 << 62;
        uint64_t v = 0;
        while (c->p < c->end && *c->p >= '0' && *c->p <= '9') { /* saturates above 2^62 */
            v = v <= big / 10 ? v * 10 + (uint64_t)(*c->p - '0') : big + 1;
            c->p++;
        }
        if (*ndims < NPY_MAX_DIMS) dims[*ndims] = v > big ? SIZE_MAX : (size_t)v;
        if (*ndims <= NPY_MAX_DIMS) ++*ndims;
        if (!eat(c, ',')) return eat(c, ')');
    }
}

static nnp_status bad_header(const char *path, const char *what)
{
    return nnpi_error(NNP_EFORMAT, "npy: %s: malformed header: %s", path, what);
}

/* Parses the dict in text[0..len) into h (descr, ndims, dims). */
static nnp_status parse_dict(const char *path, const char *text, size_t len, npy_header *h)
{
    cursor c = {text, text + len};
    int seen_descr = 0, seen_fortran = 0, seen_shape = 0, fortran = 0;
    if (!eat(&c, '{')) return bad_header(path, "it is not a dict (no '{')");
    for (;;) {
        char key[32];
        if (eat(&c, '}')) break;
        if (!parse_string(&c, key, sizeof key))
            return bad_header(path, "a key is not a short quoted string");
        if (!eat(&c, ':')) return bad_header(path, "no ':' after a key");
        if (strcmp(key, "descr") == 0) {
            if (seen_descr++) return bad_header(path, "key 'descr' given twice");
            if (!parse_string(&c, h->descr, sizeof h->descr))
                return bad_header(path, "'descr' is not a short string (structured dtypes are "
                                        "not supported)");
        } else if (strcmp(key, "fortran_order") == 0) {
            if (seen_fortran++) return bad_header(path, "key 'fortran_order' given twice");
            if (parse_word(&c, "True")) fortran = 1;
            else if (!parse_word(&c, "False"))
                return bad_header(path, "'fortran_order' is neither True nor False");
        } else if (strcmp(key, "shape") == 0) {
            if (seen_shape++) return bad_header(path, "key 'shape' given twice");
            if (!parse_shape(&c, h->dims, &h->ndims))
                return bad_header(path, "'shape' is not a tuple of integers");
        } else {
            return nnpi_error(NNP_EFORMAT,
                              "npy: %s: malformed header: unknown key '%s' (expected 'descr', "
                              "'fortran_order' and 'shape')",
                              path, key);
        }
        if (!eat(&c, ',')) {
            if (!eat(&c, '}')) return bad_header(path, "no ',' or '}' after a value");
            break;
        }
    }
    skip_ws(&c);
    if (c.p != c.end) return bad_header(path, "text after the closing '}'");
    if (!seen_descr || !seen_fortran || !seen_shape)
        return nnpi_error(NNP_EFORMAT, "npy: %s: malformed header: key '%s' is missing", path,
                          !seen_descr ? "descr" : !seen_fortran ? "fortran_order" : "shape");
    if (fortran)
        return nnpi_error(NNP_EFORMAT,
                          "npy: %s: Fortran-order (column-major) arrays are not supported: save "
                          "a C-order copy (numpy.ascontiguousarray)",
                          path);
    return NNP_OK;
}

/* Reads and checks the magic, version, header length and dict; fills h. `allowed` lists the
 * dtypes this kind of file may have (a bit per npy_dtype), dims in [min_dims, max_dims]. */
static nnp_status read_header(npy_file *f, unsigned allowed, unsigned min_dims,
                              unsigned max_dims, const char *kind, npy_header *h)
{
    const char *path = f->path;
    unsigned char pre[12];
    size_t got;
    memset(h, 0, sizeof *h);
    NNPI_TRY(file_read(f, pre, 10, &got));
    if (got < NPY_MAGIC_LEN || memcmp(pre, NPY_MAGIC, NPY_MAGIC_LEN) != 0)
        return nnpi_error(NNP_EFORMAT,
                          "npy: %s: bad magic: the file does not start with \\x93NUMPY (not a "
                          ".npy file?)",
                          path);
    if (got < 10)
        return nnpi_error(NNP_EFORMAT, "npy: %s: truncated header: %zu bytes, at least 10 needed",
                          path, got);
    const unsigned major = pre[6], minor = pre[7];
    if (!(major >= 1 && major <= 3 && minor == 0))
        return nnpi_error(NNP_EFORMAT,
                          "npy: %s: format version %u.%u is not supported (1.0, 2.0 or 3.0)", path,
                          major, minor);
    uint32_t hlen = (uint32_t)pre[8] | (uint32_t)pre[9] << 8;
    size_t prefix = 10;
    if (major >= 2) {
        NNPI_TRY(file_read(f, pre + 10, 2, &got));
        if (got < 2)
            return nnpi_error(NNP_EFORMAT, "npy: %s: truncated header: no 4-byte header length",
                              path);
        hlen |= (uint32_t)pre[10] << 16 | (uint32_t)pre[11] << 24;
        prefix = 12;
    }
    if (hlen == 0 || hlen > NPY_HEADER_MAX)
        return nnpi_error(NNP_EFORMAT, "npy: %s: header length %lu is outside [1, %u]", path,
                          (unsigned long)hlen, NPY_HEADER_MAX);
    char *text = nnpi_malloc(hlen);
    if (text == NULL) return oom(path, hlen);
    nnp_status st = file_read(f, (unsigned char *)text, hlen, &got);
    if (st == NNP_OK && got < hlen)
        st = nnpi_error(NNP_EFORMAT,
                        "npy: %s: truncated header: it declares %lu bytes, the file has %zu", path,
                        (unsigned long)hlen, got);
    if (st == NNP_OK && memchr(text, '\0', hlen) != NULL)
        st = bad_header(path, "it holds a NUL byte");
    if (st == NNP_OK && text[hlen - 1] != '\n')
        st = bad_header(path, "it does not end with a newline");
    if (st == NNP_OK) st = parse_dict(path, text, hlen, h);
    nnpi_free(text);
    NNPI_TRY(st);
    h->header_bytes = prefix + hlen;

    size_t t = 0;
    while (t < sizeof dtypes / sizeof dtypes[0] && strcmp(dtypes[t].descr, h->descr) != 0) t++;
    if (t == sizeof dtypes / sizeof dtypes[0] || !(allowed >> dtypes[t].type & 1u)) {
        char list[64] = "";
        for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
            if (allowed >> dtypes[i].type & 1u) {
                strcat(list, list[0] ? ", " : "");
                strcat(list, dtypes[i].descr);
            }
        return nnpi_error(NNP_EFORMAT, "npy: %s: dtype '%s' is not supported for %s (%s)%s", path,
                          h->descr, kind, list,
                          h->descr[0] == '>' ? "; big-endian data: save with astype('<...')"
                                             : "");
    }
    h->type = dtypes[t].type;
    h->esize = dtypes[t].size;
    if (h->ndims < min_dims || h->ndims > max_dims) {
        if (h->ndims > NPY_MAX_DIMS)
            return nnpi_error(NNP_EFORMAT, "npy: %s: shape has more than %d dimensions: %s needs "
                              "%u to %u", path, NPY_MAX_DIMS, kind, min_dims, max_dims);
        return nnpi_error(NNP_EFORMAT, "npy: %s: shape has %u dimensions: %s needs %u%s%.0u", path,
                          h->ndims, kind, min_dims, min_dims == max_dims ? "" : " to ",
                          min_dims == max_dims ? 0 : max_dims);
    }
    uint64_t per = 1;
    for (unsigned i = 0; i < h->ndims; i++) {
        if (h->dims[i] == 0)
            return nnpi_error(NNP_EFORMAT, "npy: %s: dimension %u of the shape is zero", path, i);
        if (h->dims[i] > NNPI_IDX_MAX_DIM)
            return nnpi_error(NNP_EFORMAT, "npy: %s: absurd dimension %u of the shape (limit %zu)",
                              path, i, NNPI_IDX_MAX_DIM);
        if (i > 0 && (per *= h->dims[i]) > NNPI_IDX_MAX_DIM)
            return nnpi_error(NNP_EFORMAT,
                              "npy: %s: absurd shape: more than %zu values per example", path,
                              NNPI_IDX_MAX_DIM);
    }
    h->count = h->dims[0];
    h->per_example = (size_t)per;
    h->data_bytes = nnpi_mul(nnpi_mul(h->count, h->per_example), h->esize);
    if (h->data_bytes == SIZE_MAX || (uint64_t)h->data_bytes > f->cap ||
        (uint64_t)h->data_bytes + h->header_bytes > f->cap)
        return nnpi_error(NNP_EFORMAT,
                          "npy: %s: the shape declares %zu x %zu values of %zu bytes, above the "
                          "read cap of %llu bytes (set %s to raise it)",
                          path, h->count, h->per_example, h->esize, (unsigned long long)f->cap,
                          NNPI_READ_CAP_ENV);
    /* a plain regular file must be exactly as long as declared: checked before any buffer */
    if (f->regular && gzdirect(f->gz)) {
        uint64_t total = (uint64_t)h->header_bytes + h->data_bytes;
        if (f->size != total)
            return nnpi_error(NNP_EFORMAT,
                              "npy: %s: %s: header and shape declare %llu bytes, the file has "
                              "%llu",
                              path, f->size < total ? "truncated" : "trailing data",
                              (unsigned long long)total, (unsigned long long)f->size);
    }
    return NNP_OK;
}

/* Reads exactly h->data_bytes and checks the file ends there; the buffer grows with the data
 * that arrive. */
static nnp_status read_data(npy_file *f, const npy_header *h, unsigned char **out)
{
    nnp_status st;
    const size_t want = h->data_bytes;
    size_t cap = want < DATA_FIRST_CAP ? want : DATA_FIRST_CAP, have = 0, got;
    unsigned char *buf = nnpi_malloc(cap);
    *out = NULL;
    if (buf == NULL) return oom(f->path, cap);
    for (;;) {
        st = file_read(f, buf + have, cap - have, &got);
        have += got;
        if (st != NNP_OK) goto fail;
        if (have < cap) {
            st = nnpi_error(NNP_EFORMAT,
                            "npy: %s: truncated: the shape declares %zu data bytes, the file has "
                            "%zu",
                            f->path, want, have);
            goto fail;
        }
        if (have == want) break;
        size_t ncap = cap > want / 2 ? want : 2 * cap;
        unsigned char *nb = nnpi_realloc(buf, ncap);
        if (nb == NULL) {
            st = oom(f->path, ncap);
            goto fail;
        }
        buf = nb;
        cap = ncap;
    }
    unsigned char extra;
    if ((st = file_read(f, &extra, 1, &got)) != NNP_OK) goto fail;
    if (got != 0) {
        st = nnpi_error(NNP_EFORMAT,
                        "npy: %s: trailing data after the %zu data bytes the shape declares",
                        f->path, want);
        goto fail;
    }
    *out = buf;
    return NNP_OK;
fail:
    nnpi_free(buf);
    return st;
}

static nnp_status read_file(const char *path, unsigned allowed, unsigned min_dims,
                            unsigned max_dims, const char *kind, npy_header *h,
                            unsigned char **data)
{
    npy_file f;
    *data = NULL;
    NNPI_TRY(file_open(&f, path));
    nnp_status st = read_header(&f, allowed, min_dims, max_dims, kind, h);
    if (st == NNP_OK) st = read_data(&f, h, data);
    file_close(&f);
    return st;
}

static uint64_t le64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

nnp_status nnpi_npy_read_images(const char *path, size_t *n, size_t shape[3], float **images)
{
    npy_header h;
    unsigned char *raw;
    *images = NULL;
    NNPI_TRY(read_file(path, 1u << DT_F4 | 1u << DT_F8 | 1u << DT_U1, 2, 4, "an image array", &h,
                       &raw));
    const size_t elems = h.count * h.per_example; /* fits: data_bytes did */
    float *x = h.type == DT_F4 ? (float *)(void *)raw : nnpi_malloc(nnpi_mul(elems, sizeof *x));
    if (x == NULL) {
        nnpi_free(raw);
        return oom(path, nnpi_mul(elems, sizeof *x));
    }
    for (size_t i = 0; i < elems; i++) {
        double v;
        if (h.type == DT_U1) {
            x[i] = (float)raw[i] / 255.0f;
            continue;
        }
        if (h.type == DT_F4) { /* in place: element i's bytes are read before being replaced */
            uint32_t u = le32(raw + 4 * i);
            float fv;
            memcpy(&fv, &u, sizeof fv);
            v = fv;
        } else {
            uint64_t u = le64(raw + 8 * i);
            memcpy(&v, &u, sizeof v);
        }
        if (!(v >= 0.0 && v <= 1.0)) {
            if (x != (float *)(void *)raw) nnpi_free(x);
            nnpi_free(raw);
            return nnpi_error(NNP_EFORMAT,
                              "npy: %s: image value %g at example %zu, element %zu is outside "
                              "[0,1] (the data are pixels in [0,1]; normalisation is the net's, "
                              "see nnp_net_normalized)",
                              path, v, i / h.per_example, i % h.per_example);
        }
        x[i] = (float)v;
    }
    if (x != (float *)(void *)raw) nnpi_free(raw);
    *n = h.count;
    shape[0] = h.ndims == 4 ? h.dims[1] : 1;
    shape[1] = h.ndims == 4 ? h.dims[2] : h.ndims == 3 ? h.dims[1] : 1;
    shape[2] = h.dims[h.ndims - 1];
    *images = x;
    return NNP_OK;
}

nnp_status nnpi_npy_read_labels(const char *path, size_t *n, int32_t **labels)
{
    npy_header h;
    unsigned char *raw;
    *labels = NULL;
    NNPI_TRY(read_file(path, 1u << DT_I8 | 1u << DT_I4 | 1u << DT_U1, 1, 1, "a label array", &h,
                       &raw));
    int32_t *y = nnpi_malloc(nnpi_mul(h.count, sizeof *y));
    if (y == NULL) {
        nnpi_free(raw);
        return oom(path, nnpi_mul(h.count, sizeof *y));
    }
    for (size_t i = 0; i < h.count; i++) {
        int64_t v = h.type == DT_U1   ? raw[i]
                    : h.type == DT_I4 ? (int64_t)(int32_t)le32(raw + 4 * i)
                                      : (int64_t)le64(raw + 8 * i);
        if (v < 0 || v > INT32_MAX) {
            nnpi_free(raw);
            nnpi_free(y);
            return nnpi_error(NNP_EFORMAT, "npy: %s: label %lld at index %zu is outside [0, %ld]",
                              path, (long long)v, i, (long)INT32_MAX);
        }
        y[i] = (int32_t)v;
    }
    nnpi_free(raw);
    *n = h.count;
    *labels = y;
    return NNP_OK;
}

int nnpi_npy_sniff(const char *path)
{
    npy_file f;
    unsigned char m[NPY_MAGIC_LEN];
    size_t got = 0;
    if (file_open(&f, path) != NNP_OK) return 0;
    nnp_status st = file_read(&f, m, sizeof m, &got);
    file_close(&f);
    return st == NNP_OK && got == sizeof m && memcmp(m, NPY_MAGIC, sizeof m) == 0;
}
