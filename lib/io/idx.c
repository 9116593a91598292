/* IDX files (LeCun's format, as MNIST and Fashion-MNIST ship them), plain or gzip.
 *
 * Reading never trusts the header with memory: the data buffer grows as bytes actually
 * arrive, so a 16-byte file claiming 2^31 images fails as "truncated" after allocating at most
 * one chunk. gzip is detected by its magic bytes (1f 8b) and decoded with zlib's inflate,
 * whose allocations go through nnpi_malloc so that failure injection reaches them too.
 * Writing goes through the safe-write path (safewrite.h); the caller commits or aborts. */
#define _POSIX_C_SOURCE 200809L
#define ZLIB_CONST

#include "idx.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "core/core.h"
#include "readcap.h"
#include "safewrite.h"

#define IO_CHUNK ((size_t)1 << 16)       /* raw I/O and conversion staging */
#define DATA_FIRST_CAP ((size_t)1 << 20) /* first size of the growing data buffer */
#define TRAILING_COUNT_CAP ((uint64_t)1 << 24) /* stop counting excess bytes here */
/* Default cap on the bytes a file may hold (declared by its header, decompressed), and on the
 * raw bytes read: 4 GiB is 85 times MNIST's training images (47 MB) and above the largest
 * IDX sets in use (EMNIST, about 0.7 GB), yet bounds what one file can make us allocate (as
 * floats: 4 bytes per ubyte value, 16 GiB). NNPROBE_MAX_READ_BYTES changes it (the same
 * variable sets the ONNX loader's cap). */
#define READ_CAP_DEFAULT ((uint64_t)1 << 32)

/* ------------------------------------------------------------------------------------ */
/* small helpers                                                                         */

static nnp_status io_error(const char *path, const char *what, int err)
{
    return nnpi_io_error("idx", path, what, err);
}

static nnp_status oom(const char *path, size_t bytes)
{
    return nnpi_error(NNP_ENOMEM, "idx: %s: out of memory (%zu bytes)", path, bytes);
}

static voidpf z_alloc(voidpf opaque, uInt items, uInt size)
{
    (void)opaque;
    return nnpi_malloc(nnpi_mul(items, size));
}

static void z_free(voidpf opaque, voidpf p)
{
    (void)opaque;
    nnpi_free(p);
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static void put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static const char *type_name(unsigned t)
{
    switch (t) {
    case 0x08: return "unsigned byte";
    case 0x09: return "signed byte";
    case 0x0B: return "int16";
    case 0x0C: return "int32";
    case 0x0D: return "float32";
    case 0x0E: return "float64";
    default: return "unknown";
    }
}

/* "10x28x28" */
static void dims_text(const uint32_t *dims, unsigned ndims, char *buf, size_t cap)
{
    size_t used = 0;
    buf[0] = '\0';
    for (unsigned i = 0; i < ndims && used < cap; i++) {
        int k = snprintf(buf + used, cap - used, "%s%lu", i ? "x" : "", (unsigned long)dims[i]);
        if (k < 0) break;
        used += (size_t)k;
    }
}

/* ------------------------------------------------------------------------------------ */
/* reader: plain bytes or gzip members, one chunk buffer                                */

typedef struct reader {
    const char *path;
    FILE *f;
    unsigned char *in; /* IO_CHUNK bytes of raw input */
    size_t in_pos, in_len;
    int file_eof;
    int regular;       /* a regular file: size is known (fstat) and it can be read at offsets */
    uint64_t file_size; /* regular files only */
    uint64_t raw_read;  /* raw (compressed) bytes read so far */
    uint64_t cap;       /* the read cap */
    int gz;         /* gzip stream (magic 1f 8b) */
    int z_live;     /* inflateInit2 succeeded */
    int member_end; /* the last inflate() finished a gzip member */
    unsigned members;
    z_stream zs;
} reader;

/* Reads raw input into r->in after the `keep` bytes at r->in[0..keep). */
static nnp_status raw_fill(reader *r, size_t keep)
{
    errno = 0;
    size_t got = fread(r->in + keep, 1, IO_CHUNK - keep, r->f);
    if (got < IO_CHUNK - keep) {
        if (ferror(r->f)) return io_error(r->path, "read error", errno);
        r->file_eof = 1;
    }
    /* raw bytes are bounded too: an endless pipe of empty gzip members inflates to nothing */
    r->raw_read += got;
    if (r->raw_read > r->cap)
        return nnpi_error(NNP_EFORMAT,
                          "idx: %s: more than %llu bytes read (the read cap); set %s to raise it",
                          r->path, (unsigned long long)r->cap, NNPI_READ_CAP_ENV);
    r->in_pos = 0;
    r->in_len = keep + got;
    return NNP_OK;
}

/* gzip mode: makes at least `want` raw bytes available at zs.next_in unless the file ends. */
static nnp_status gz_need(reader *r, size_t want)
{
    while (r->zs.avail_in < want && !r->file_eof) {
        size_t have = r->zs.avail_in;
        memmove(r->in, r->zs.next_in, have);
        NNPI_TRY(raw_fill(r, have));
        r->zs.next_in = r->in;
        r->zs.avail_in = (uInt)r->in_len;
    }
    return NNP_OK;
}

static void reader_close(reader *r)
{
    if (r->z_live) inflateEnd(&r->zs);
    if (r->f) fclose(r->f);
    nnpi_free(r->in);
    r->z_live = 0;
    r->f = NULL;
    r->in = NULL;
}

static nnp_status reader_open(reader *r, const char *path)
{
    nnp_status st;
    memset(r, 0, sizeof *r);
    r->path = path;
    int fd;
    NNPI_TRY(nnpi_open_capped("idx", path, O_RDONLY, READ_CAP_DEFAULT, &r->cap, &fd, &r->regular,
                              &r->file_size));
    errno = 0;
    r->f = fdopen(fd, "rb");
    if (r->f == NULL) {
        st = io_error(path, "cannot open", errno);
        close(fd);
        return st;
    }
    r->in = nnpi_malloc(IO_CHUNK);
    if (r->in == NULL) {
        st = oom(path, IO_CHUNK);
        goto fail;
    }
    if ((st = raw_fill(r, 0)) != NNP_OK) goto fail;
    if (r->in_len >= 2 && r->in[0] == 0x1f && r->in[1] == 0x8b) {
        r->gz = 1;
        r->zs.zalloc = z_alloc;
        r->zs.zfree = z_free;
        r->zs.opaque = NULL;
        r->zs.next_in = r->in;
        r->zs.avail_in = (uInt)r->in_len;
        int zr = inflateInit2(&r->zs, 16 + MAX_WBITS); /* gzip wrapper only */
        if (zr != Z_OK) {
            st = zr == Z_MEM_ERROR
                     ? nnpi_error(NNP_ENOMEM, "idx: %s: out of memory in zlib inflateInit2", path)
                     : nnpi_error(NNP_EIO, "idx: %s: zlib inflateInit2 failed (%d)", path, zr);
            goto fail;
        }
        r->z_live = 1;
    }
    return NNP_OK;
fail:
    reader_close(r);
    return st;
}

static nnp_status gz_read(reader *r, unsigned char *buf, size_t len, size_t *got)
{
    size_t done = 0;
    *got = 0;
    while (done < len) {
        if (r->member_end) {
            /* End of a gzip member: the file ends here, or another member follows. */
            NNPI_TRY(gz_need(r, 2));
            if (r->zs.avail_in == 0) break;
            if (r->zs.avail_in < 2 || r->zs.next_in[0] != 0x1f || r->zs.next_in[1] != 0x8b)
                return nnpi_error(NNP_EFORMAT,
                                  "idx: %s: trailing garbage after the end of the gzip stream "
                                  "(byte 0x%02x is not the start of a gzip member)",
                                  r->path, r->zs.next_in[0]);
            if (inflateReset(&r->zs) != Z_OK)
                return nnpi_error(NNP_EFORMAT, "idx: %s: zlib inflateReset failed", r->path);
            r->member_end = 0;
        }
        if (r->zs.avail_in == 0) NNPI_TRY(gz_need(r, 1));
        unsigned char *start = buf + done;
        size_t room = len - done;
        r->zs.next_out = start;
        r->zs.avail_out = room > UINT_MAX ? UINT_MAX : (uInt)room;
        int zr = inflate(&r->zs, Z_NO_FLUSH);
        done += (size_t)(r->zs.next_out - start);
        switch (zr) {
        case Z_OK:
            break;
        case Z_STREAM_END:
            r->member_end = 1;
            r->members++;
            break;
        case Z_BUF_ERROR: /* no progress possible: input exhausted inside a member */
            if (r->zs.avail_in == 0 && r->file_eof)
                return nnpi_error(NNP_EFORMAT,
                                  "idx: %s: gzip stream truncated (unexpected end of file after "
                                  "%lu decompressed bytes of member %u)",
                                  r->path, (unsigned long)r->zs.total_out, r->members + 1);
            break;
        case Z_MEM_ERROR:
            return nnpi_error(NNP_ENOMEM, "idx: %s: out of memory in zlib inflate", r->path);
        case Z_DATA_ERROR:
            return nnpi_error(NNP_EFORMAT, "idx: %s: corrupt gzip stream (member %u): %s",
                              r->path, r->members + 1, r->zs.msg ? r->zs.msg : "data error");
        default:
            return nnpi_error(NNP_EFORMAT, "idx: %s: corrupt gzip stream (zlib status %d)",
                              r->path, zr);
        }
    }
    *got = done;
    return NNP_OK;
}

/* Reads up to `len` decompressed bytes; *got < len only at the end of the file. */
static nnp_status reader_read(reader *r, unsigned char *buf, size_t len, size_t *got)
{
    if (r->gz) return gz_read(r, buf, len, got);
    size_t done = 0;
    *got = 0;
    while (done < len) {
        if (r->in_pos == r->in_len) {
            if (r->file_eof) break;
            NNPI_TRY(raw_fill(r, 0));
            continue;
        }
        size_t k = r->in_len - r->in_pos;
        if (k > len - done) k = len - done;
        memcpy(buf + done, r->in + r->in_pos, k);
        r->in_pos += k;
        done += k;
    }
    *got = done;
    return NNP_OK;
}

/* ------------------------------------------------------------------------------------ */
/* header and data                                                                       */

typedef struct idx_header {
    unsigned type, ndims;
    uint32_t dims[4];
    size_t header_bytes;
    size_t count;       /* dims[0] */
    size_t per_example; /* product of dims[1..] (1 for ndims == 1) */
    size_t elem_size;
    size_t data_bytes;
} idx_header;

static nnp_status read_header(reader *r, unsigned min_dims, unsigned max_dims, int allow_float,
                              idx_header *h)
{
    const char *path = r->path;
    const char *kind = allow_float ? "an image file" : "a label file";
    unsigned char b[16];
    size_t got;
    memset(h, 0, sizeof *h);

    NNPI_TRY(reader_read(r, b, 4, &got));
    if (got < 4)
        return nnpi_error(NNP_EFORMAT,
                          "idx: %s: truncated header: file has %zu bytes, the magic number "
                          "needs 4",
                          path, got);
    if (b[0] != 0 || b[1] != 0)
        return nnpi_error(NNP_EFORMAT,
                          "idx: %s: bad magic number 0x%02x%02x%02x%02x: the first two bytes "
                          "must be zero (not an IDX file?)",
                          path, b[0], b[1], b[2], b[3]);
    h->type = b[2];
    h->ndims = b[3];
    if (!(h->type == NNPI_IDX_T_UBYTE || (allow_float && h->type == NNPI_IDX_T_FLOAT)))
        return nnpi_error(NNP_EFORMAT,
                          "idx: %s: unsupported element type 0x%02x (%s): %s must be 0x08 "
                          "(unsigned byte)%s",
                          path, h->type, type_name(h->type), kind,
                          allow_float ? " or 0x0d (float32)" : "");
    if (h->ndims < min_dims || h->ndims > max_dims) {
        if (min_dims == max_dims)
            return nnpi_error(NNP_EFORMAT, "idx: %s: dimension count %u: %s needs exactly %u", path,
                              h->ndims, kind, min_dims);
        return nnpi_error(NNP_EFORMAT, "idx: %s: dimension count %u: %s needs %u to %u", path,
                          h->ndims, kind, min_dims, max_dims);
    }
    NNPI_TRY(reader_read(r, b, 4 * (size_t)h->ndims, &got));
    h->header_bytes = 4 + 4 * (size_t)h->ndims;
    if (got < 4 * (size_t)h->ndims)
        return nnpi_error(NNP_EFORMAT,
                          "idx: %s: truncated header: %u dimensions need %zu header bytes, file "
                          "has %zu",
                          path, h->ndims, h->header_bytes, 4 + got);
    for (unsigned i = 0; i < h->ndims; i++) h->dims[i] = be32(b + 4 * i);

    char dt[64];
    dims_text(h->dims, h->ndims, dt, sizeof dt);
    for (unsigned i = 0; i < h->ndims; i++)
        if (h->dims[i] == 0)
            return nnpi_error(NNP_EFORMAT, "idx: %s: dimension %u of %u is zero (dims %s)",
                              path, i + 1, h->ndims, dt);
    if (h->dims[0] > NNPI_IDX_MAX_DIM)
        return nnpi_error(NNP_EFORMAT,
                          "idx: %s: absurd dimension: %lu examples (dims %s; limit %zu)", path,
                          (unsigned long)h->dims[0], dt, NNPI_IDX_MAX_DIM);
    uint64_t per = 1;
    for (unsigned i = 1; i < h->ndims; i++) {
        per *= h->dims[i]; /* stays below 2^63: checked against 2^31 after every factor */
        if (per > NNPI_IDX_MAX_DIM)
            return nnpi_error(NNP_EFORMAT,
                              "idx: %s: absurd dimension: dims %s give more than %zu values "
                              "per example",
                              path, dt, NNPI_IDX_MAX_DIM);
    }
    h->count = h->dims[0];
    h->per_example = (size_t)per;
    h->elem_size = h->type == NNPI_IDX_T_FLOAT ? 4 : 1;
    h->data_bytes = nnpi_mul(nnpi_mul(h->count, h->per_example), h->elem_size);
    if (h->data_bytes == SIZE_MAX)
        return nnpi_error(NNP_EFORMAT,
                          "idx: %s: absurd size: dims %s of %zu-byte elements exceed the "
                          "address space",
                          path, dt, h->elem_size);
    return NNP_OK;
}

/* Reads exactly h->data_bytes, then checks that the file ends there. The buffer grows with
 * the bytes that actually arrive, never ahead of them by more than a factor of two. */
static nnp_status read_data(reader *r, const idx_header *h, unsigned char **out)
{
    nnp_status st;
    size_t want = h->data_bytes;
    size_t cap = want < DATA_FIRST_CAP ? want : DATA_FIRST_CAP;
    size_t have = 0;
    unsigned char *buf = nnpi_malloc(cap);
    *out = NULL;
    if (buf == NULL) return oom(r->path, cap);
    for (;;) {
        size_t got;
        st = reader_read(r, buf + have, cap - have, &got);
        have += got;
        if (st != NNP_OK) goto fail;
        if (have < cap) {
            st = nnpi_error(NNP_EFORMAT,
                            "idx: %s: truncated: header promises %zu data bytes, file has %zu "
                            "(after the %zu-byte header%s)",
                            r->path, want, have, h->header_bytes,
                            r->gz ? ", decompressed" : "");
            goto fail;
        }
        if (have == want) break;
        size_t ncap = cap > want / 2 ? want : 2 * cap;
        unsigned char *nb = nnpi_realloc(buf, ncap);
        if (nb == NULL) {
            st = oom(r->path, ncap);
            goto fail;
        }
        buf = nb;
        cap = ncap;
    }
    /* the file must end exactly here (excess bytes are counted up to a cap, so that an
     * endless stream or a gzip bomb cannot keep us reading) */
    uint64_t extra = 0;
    for (;;) {
        unsigned char tail[4096];
        size_t got;
        if ((st = reader_read(r, tail, sizeof tail, &got)) != NNP_OK) goto fail;
        extra += got;
        if (got < sizeof tail || extra >= TRAILING_COUNT_CAP) break;
    }
    if (extra != 0) {
        const char *more = extra >= TRAILING_COUNT_CAP ? "at least " : "";
        st = nnpi_error(NNP_EFORMAT,
                        "idx: %s: trailing data: header promises %zu data bytes, file has "
                        "%s%llu (%s%llu bytes too many%s)",
                        r->path, want, more, (unsigned long long)(want + extra), more,
                        (unsigned long long)extra, r->gz ? ", decompressed" : "");
        goto fail;
    }
    *out = buf;
    return NNP_OK;
fail:
    nnpi_free(buf);
    return st;
}

/* Whether bytes [from, size) of the file may hold the start of another gzip member (1f 8b 08
 * and a flag byte with its reserved bits clear). A plain scan, no inflating: when it finds
 * none, the file is certainly one member and its trailer's size is the whole stream's. */
static nnp_status gz_maybe_members(reader *r, uint64_t from, int *found)
{
    unsigned char buf[IO_CHUNK];
    int fd = fileno(r->f);
    uint64_t off = from;
    *found = 0;
    while (off + 4 <= r->file_size) {
        size_t want = r->file_size - off < sizeof buf ? (size_t)(r->file_size - off) : sizeof buf;
        errno = 0;
        ssize_t got = pread(fd, buf, want, (off_t)off);
        if (got < 0 && errno == EINTR) continue;
        if (got < 4) return got < 0 ? io_error(r->path, "read error", errno) : NNP_OK;
        for (size_t i = 0; i + 4 <= (size_t)got; i++)
            if (buf[i] == 0x1f && buf[i + 1] == 0x8b && buf[i + 2] == 0x08 &&
                (buf[i + 3] & 0xe0) == 0) {
                *found = 1;
                return NNP_OK;
            }
        off += (size_t)got - 3; /* overlap: a signature may straddle two reads */
    }
    return NNP_OK;
}

/* The uncompressed bytes of the whole gzip stream, counted by inflating into a small buffer
 * (memory stays at one chunk), stopping once past `limit`. Reads the file through a second
 * reader, so the caller's stays at its position. */
static nnp_status gz_count(const char *path, uint64_t limit, uint64_t *total)
{
    reader c;
    unsigned char buf[IO_CHUNK];
    *total = 0;
    NNPI_TRY(reader_open(&c, path));
    nnp_status st = NNP_OK;
    for (;;) {
        size_t got;
        if ((st = reader_read(&c, buf, sizeof buf, &got)) != NNP_OK) break;
        *total += got;
        if (got < sizeof buf || *total > limit) break;
    }
    reader_close(&c);
    return st;
}

/* Checks the header's declared size against what is known before reading the data: the read
 * cap; for a plain regular file, its size (fstat); for a gzip regular file, the trailer's ISIZE
 * (the last member's uncompressed size mod 2^32, RFC 1952). A mismatch is refused here, before
 * any data buffer exists, so a file whose header lies costs neither memory nor inflating. */
static nnp_status check_declared(reader *r, const idx_header *h)
{
    uint64_t total = (uint64_t)h->header_bytes + h->data_bytes;
    /* a plain regular file: its size (already within the cap) must be exactly the declared */
    if (r->regular && !r->gz) {
        if (r->file_size < total)
            return nnpi_error(NNP_EFORMAT,
                              "idx: %s: truncated: header promises %zu data bytes, file has "
                              "%llu (after the %zu-byte header)",
                              r->path, h->data_bytes,
                              (unsigned long long)(r->file_size - h->header_bytes),
                              h->header_bytes);
        if (r->file_size > total)
            return nnpi_error(NNP_EFORMAT,
                              "idx: %s: trailing data: header promises %zu data bytes, file has "
                              "%llu (%llu bytes too many)",
                              r->path, h->data_bytes,
                              (unsigned long long)(r->file_size - h->header_bytes),
                              (unsigned long long)(r->file_size - total));
        return NNP_OK;
    }
    if (total > r->cap)
        return nnpi_error(NNP_EFORMAT,
                          "idx: %s: header declares %zu data bytes, above the read cap of %llu "
                          "bytes (set %s to raise it)",
                          r->path, h->data_bytes, (unsigned long long)r->cap, NNPI_READ_CAP_ENV);
    if (!r->regular) return NNP_OK; /* a pipe or device: read_data stops at the declared size */
    unsigned char t[4];
    if (r->file_size < 18) return NNP_OK; /* too short for a trailer: inflate reports it */
    ssize_t got;
    do {
        errno = 0;
        got = pread(fileno(r->f), t, 4, (off_t)(r->file_size - 4));
    } while (got < 0 && errno == EINTR);
    if (got != 4) return io_error(r->path, "cannot read the gzip trailer", got < 0 ? errno : 0);
    uint32_t isize = (uint32_t)t[0] | (uint32_t)t[1] << 8 | (uint32_t)t[2] << 16 |
                     (uint32_t)t[3] << 24;
    if (isize == (uint32_t)total) return NNP_OK;
    /* The trailer is only the last member's size. Concatenated members are valid gzip: if the
     * file may hold more than one, count the whole stream first (bounded memory, time
     * bounded by the declared size); if it certainly holds one, refuse at once. */
    int members;
    NNPI_TRY(gz_maybe_members(r, 10, &members));
    if (members) {
        uint64_t n;
        NNPI_TRY(gz_count(r->path, total, &n));
        if (n == total) return NNP_OK;
        if (n < total)
            return nnpi_error(NNP_EFORMAT,
                              "idx: %s: truncated: header promises %zu data bytes, file has "
                              "%llu (after the %zu-byte header, decompressed)",
                              r->path, h->data_bytes,
                              (unsigned long long)(n < h->header_bytes ? 0 : n - h->header_bytes),
                              h->header_bytes);
        return nnpi_error(NNP_EFORMAT,
                          "idx: %s: trailing data: header promises %zu data bytes, file has "
                          "more (decompressed)",
                          r->path, h->data_bytes);
    }
    /* one member: the trailer's size is the stream's (mod 2^32) */
    if (total <= UINT32_MAX && isize >= h->header_bytes) {
        uint64_t has = isize - h->header_bytes;
        if (isize < total)
            return nnpi_error(NNP_EFORMAT,
                              "idx: %s: truncated: header promises %zu data bytes, file has "
                              "%llu (after the %zu-byte header, decompressed, per the gzip "
                              "trailer; refused before inflating; or the file is cut or corrupt)",
                              r->path, h->data_bytes, (unsigned long long)has, h->header_bytes);
        return nnpi_error(NNP_EFORMAT,
                          "idx: %s: trailing data: header promises %zu data bytes, file has "
                          "%llu (%llu bytes too many, decompressed, per the gzip trailer; "
                          "refused before inflating; or the file is cut or corrupt)",
                          r->path, h->data_bytes, (unsigned long long)has,
                          (unsigned long long)(isize - total));
    }
    return nnpi_error(NNP_EFORMAT,
                      "idx: %s: gzip trailer records %lu uncompressed bytes (mod 2^32), the "
                      "header declares %llu (%zu-byte header + %zu data bytes): truncated, "
                      "corrupt or inflating to another size; refused before inflating",
                      r->path, (unsigned long)isize, (unsigned long long)total,
                      h->header_bytes, h->data_bytes);
}

/* Opens, parses and reads a whole file; the reader is closed on return. */
static nnp_status read_file(const char *path, unsigned min_dims, unsigned max_dims,
                            int allow_float, idx_header *h, unsigned char **data)
{
    reader r;
    *data = NULL;
    NNPI_TRY(reader_open(&r, path));
    nnp_status st = read_header(&r, min_dims, max_dims, allow_float, h);
    if (st == NNP_OK) st = check_declared(&r, h);
    if (st == NNP_OK) st = read_data(&r, h, data);
    reader_close(&r);
    return st;
}

nnp_status nnpi_idx_read_images(const char *path, size_t *n, size_t shape[3], float **images)
{
    idx_header h;
    unsigned char *raw;
    *images = NULL;
    NNPI_TRY(read_file(path, 2, 4, 1, &h, &raw));

    size_t elems = h.count * h.per_example; /* fits: data_bytes did */
    float *x;
    if (h.type == NNPI_IDX_T_UBYTE) {
        x = nnpi_malloc(nnpi_mul(elems, sizeof(float)));
        if (x == NULL) {
            nnpi_free(raw);
            return oom(path, nnpi_mul(elems, sizeof(float)));
        }
        for (size_t i = 0; i < elems; i++) x[i] = (float)raw[i] / 255.0f;
        nnpi_free(raw);
    } else {
        /* float32 big-endian, converted in place: element i's bytes are read before its
         * float is stored over them */
        x = (float *)(void *)raw;
        for (size_t i = 0; i < elems; i++) {
            uint32_t u = be32(raw + 4 * i);
            float v;
            memcpy(&v, &u, sizeof v);
            if (!(v >= 0.0f && v <= 1.0f)) {
                nnpi_free(raw);
                return nnpi_error(NNP_EFORMAT,
                                  "idx: %s: image value %g at example %zu, element %zu is "
                                  "outside [0,1]",
                                  path, (double)v, i / h.per_example, i % h.per_example);
            }
            x[i] = v;
        }
    }
    *n = h.count;
    switch (h.ndims) {
    case 2:
        shape[0] = 1, shape[1] = 1, shape[2] = h.dims[1];
        break;
    case 3:
        shape[0] = 1, shape[1] = h.dims[1], shape[2] = h.dims[2];
        break;
    default:
        shape[0] = h.dims[1], shape[1] = h.dims[2], shape[2] = h.dims[3];
        break;
    }
    *images = x;
    return NNP_OK;
}

nnp_status nnpi_idx_read_labels(const char *path, size_t *n, int32_t **labels)
{
    idx_header h;
    unsigned char *raw;
    *labels = NULL;
    NNPI_TRY(read_file(path, 1, 1, 0, &h, &raw));
    int32_t *y = nnpi_malloc(nnpi_mul(h.count, sizeof(int32_t)));
    if (y == NULL) {
        nnpi_free(raw);
        return oom(path, nnpi_mul(h.count, sizeof(int32_t)));
    }
    for (size_t i = 0; i < h.count; i++) y[i] = raw[i];
    nnpi_free(raw);
    *n = h.count;
    *labels = y;
    return NNP_OK;
}

/* ------------------------------------------------------------------------------------ */
/* writer                                                                                */

typedef struct writer {
    const char *path; /* final name, for messages */
    nnpi_wfile *f;
    int gz, z_live;
    z_stream zs;
    unsigned char *zout; /* IO_CHUNK */
} writer;

static nnp_status raw_write(writer *w, const unsigned char *p, size_t len)
{
    return nnpi_wfile_write(w->f, p, len);
}

/* Runs deflate over the pending input with `flush`, writing all output it produces. */
static nnp_status deflate_out(writer *w, int flush)
{
    for (;;) {
        w->zs.next_out = w->zout;
        w->zs.avail_out = (uInt)IO_CHUNK;
        int zr = deflate(&w->zs, flush);
        if (zr == Z_STREAM_ERROR)
            return nnpi_error(NNP_EIO, "idx: %s: zlib deflate failed", w->path);
        NNPI_TRY(raw_write(w, w->zout, IO_CHUNK - w->zs.avail_out));
        if (flush == Z_FINISH ? zr == Z_STREAM_END : w->zs.avail_out != 0) return NNP_OK;
    }
}

static nnp_status w_put(writer *w, const unsigned char *p, size_t len)
{
    if (!w->gz) return raw_write(w, p, len);
    while (len > 0) {
        size_t k = len > UINT_MAX ? UINT_MAX : len;
        w->zs.next_in = p;
        w->zs.avail_in = (uInt)k;
        NNPI_TRY(deflate_out(w, Z_NO_FLUSH));
        p += k;
        len -= k;
    }
    return NNP_OK;
}

static int ends_with_gz(const char *path)
{
    size_t n = strlen(path);
    return n >= 3 && strcmp(path + n - 3, ".gz") == 0;
}

static nnp_status write_body(writer *w, const nnpi_idx_src *src)
{
    unsigned char head[4 + 16];
    head[0] = 0;
    head[1] = 0;
    head[2] = (unsigned char)src->type;
    head[3] = (unsigned char)src->ndims;
    size_t elems = 1;
    for (unsigned i = 0; i < src->ndims; i++) {
        put_be32(head + 4 + 4 * i, (uint32_t)src->dims[i]);
        elems *= src->dims[i];
    }
    NNPI_TRY(w_put(w, head, 4 + 4 * (size_t)src->ndims));

    unsigned char *stage = nnpi_malloc(IO_CHUNK);
    if (stage == NULL) return oom(w->path, IO_CHUNK);
    size_t esz = src->type == NNPI_IDX_T_FLOAT ? 4 : 1;
    size_t per_chunk = IO_CHUNK / esz;
    nnp_status st = NNP_OK;
    for (size_t i = 0; i < elems && st == NNP_OK; i += per_chunk) {
        size_t k = elems - i < per_chunk ? elems - i : per_chunk;
        for (size_t j = 0; j < k; j++) {
            if (src->i32 != NULL) {
                int32_t v = src->i32[i + j];
                stage[j] = (unsigned char)(v < 0 ? 0 : v > 255 ? 255 : v);
            } else if (esz == 1) {
                float v = src->f32[i + j] * 255.0f + 0.5f;
                stage[j] = (unsigned char)(v >= 255.0f ? 255 : v > 0.0f ? (int)v : 0);
            } else {
                uint32_t u;
                memcpy(&u, &src->f32[i + j], sizeof u);
                put_be32(stage + 4 * j, u);
            }
        }
        st = w_put(w, stage, k * esz);
    }
    nnpi_free(stage);
    return st;
}

nnp_status nnpi_idx_write(const char *path, const nnpi_idx_src *src, nnpi_wfile **out)
{
    writer w;
    nnp_status st;
    memset(&w, 0, sizeof w);
    w.path = path;
    *out = NULL;
    NNPI_TRY(nnpi_wfile_open("idx", path, &w.f));
    w.gz = ends_with_gz(path);
    if (w.gz) {
        w.zout = nnpi_malloc(IO_CHUNK);
        if (w.zout == NULL) {
            st = oom(path, IO_CHUNK);
            goto fail;
        }
        w.zs.zalloc = z_alloc;
        w.zs.zfree = z_free;
        w.zs.opaque = NULL;
        int zr = deflateInit2(&w.zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8,
                              Z_DEFAULT_STRATEGY);
        if (zr != Z_OK) {
            st = zr == Z_MEM_ERROR
                     ? nnpi_error(NNP_ENOMEM, "idx: %s: out of memory in zlib deflateInit2", path)
                     : nnpi_error(NNP_EIO, "idx: %s: zlib deflateInit2 failed (%d)", path, zr);
            goto fail;
        }
        w.z_live = 1;
    }
    if ((st = write_body(&w, src)) != NNP_OK) goto fail;
    if (w.gz) {
        w.zs.next_in = NULL;
        w.zs.avail_in = 0;
        if ((st = deflate_out(&w, Z_FINISH)) != NNP_OK) goto fail;
        deflateEnd(&w.zs);
        w.z_live = 0;
    }
    nnpi_free(w.zout);
    *out = w.f;
    return NNP_OK;
fail:
    if (w.z_live) deflateEnd(&w.zs);
    nnpi_wfile_abort(w.f);
    nnpi_free(w.zout);
    return st;
}
