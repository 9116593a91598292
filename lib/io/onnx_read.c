/* The ONNX model reader of onnx_read.h. It walks the protobuf wire format itself where the
 * bulk of a model lies and leaves the rest to protobuf-c, one small message at a time.
 *
 * Wire format (protobuf.dev, "Encoding"): a message is a sequence of fields, each a varint key
 * (field number << 3 | wire type) and a value: wire type 0 a varint, 1 eight bytes, 2 a
 * varint length and that many bytes (strings, bytes, sub-messages, packed repeated numbers),
 * 5 four bytes; 3 and 4 (groups) are not used by ONNX and refused, as protobuf-c does. A
 * field that occurs twice: repeated fields accumulate, a scalar's last value wins, and two
 * occurrences of a sub-message merge, which is the same as reading them one after the other.
 * Field numbers from onnx/onnx.proto (IR version 8): ModelProto.graph 7; GraphProto.node 1,
 * name 2, initializer 5, input 11, output 12, value_info 13; TensorProto.raw_data 9. */
#define _POSIX_C_SOURCE 200809L
#include "onnx_read.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"
#include "onnx_scan.h"

#define PREAD_MAX ((size_t)1 << 30) /* one pread at most (Linux caps a read near 2 GiB) */

struct nnpi_onnx_deferred {
    const Onnx__TensorProto *t;
    uint64_t off; /* where its raw_data bytes start in the model */
};

/* One field as read from the wire. */
typedef struct field {
    uint64_t id;
    unsigned wt;
    uint64_t start; /* offset of its key */
    uint64_t off;   /* offset of its value (wire type 2: of its bytes, after the length) */
    uint64_t len;   /* wire type 2: the length */
    uint64_t end;   /* offset after it */
} field;

/* The fields of a message the reader passes on to protobuf-c, copied side by side, and where
 * each came from (for messages naming file offsets). */
typedef struct header {
    unsigned char *p;
    size_t n, cap;
    uint64_t *from; /* per copied field: its offset in the model */
    size_t *len;    /* per copied field: its length */
    size_t n_fields, cap_fields;
} header;

/* ---- protobuf-c allocation through the library's allocator (failure injection works) ---- */

static void *pb_alloc(void *data, size_t size)
{
    void *p = nnpi_malloc(size ? size : 1);
    if (!p) ((nnpi_onnx_reader *)data)->alloc_failed = 1;
    return p;
}

static void pb_free(void *data, void *p)
{
    (void)data;
    nnpi_free(p);
}

static size_t test_inline_max, test_window; /* nnpi_onnx_read_test_sizes; 0: defaults */

void nnpi_onnx_read_test_sizes(size_t inline_max, size_t window)
{
    test_inline_max = inline_max;
    test_window = window;
}

static void reader_init(nnpi_onnx_reader *r)
{
    memset(r, 0, sizeof *r);
    r->fd = -1;
    r->inline_max = test_inline_max ? test_inline_max : NNPI_ONNX_INLINE_MAX;
    r->win_cap = test_window ? test_window : NNPI_ONNX_WINDOW;
    r->alloc.alloc = pb_alloc;
    r->alloc.free = pb_free;
    r->alloc.allocator_data = r;
}

void nnpi_onnx_reader_memory(nnpi_onnx_reader *r, const void *data, size_t size)
{
    reader_init(r);
    r->mem = data;
    r->size = size;
}

void nnpi_onnx_reader_file(nnpi_onnx_reader *r, int fd, uint64_t size)
{
    reader_init(r);
    r->fd = fd;
    r->size = size;
}

void nnpi_onnx_reader_free(nnpi_onnx_reader *r)
{
    if (r->model) onnx__model_proto__free_unpacked(r->model, &r->alloc);
    r->model = NULL;
    nnpi_free(r->win);
    nnpi_free(r->deferred);
    r->win = NULL;
    r->deferred = NULL;
    r->n_deferred = r->cap_deferred = 0;
}

/* ---- messages ---- */

static nnp_status malformed(const char *fmt, ...) NNPI_PRINTF(1, 2);
static nnp_status malformed(const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return nnpi_error(NNP_EFORMAT, "onnx: not a valid ONNX model (protobuf: %s)", msg);
}

static nnp_status out_of_memory(void)
{
    return nnpi_error(NNP_ENOMEM, "onnx: out of memory parsing the model");
}

/* The status for a message protobuf-c would not unpack from [p, p+len), model offset `off`. */
static nnp_status unpack_failed(const nnpi_onnx_reader *r, const ProtobufCMessageDescriptor *desc,
                                const uint8_t *p, size_t len, uint64_t off)
{
    char where[512];
    if (r->alloc_failed) return out_of_memory();
    if (nnpi_pb_scan(desc, p, off, p, p + len, 0, where, sizeof where))
        return nnpi_error(NNP_EFORMAT, "onnx: not a valid ONNX model (protobuf: %s)", where);
    return nnpi_error(NNP_EFORMAT, "onnx: not a valid ONNX model (protobuf parsing of the %s at "
                      "byte %llu failed with a well-formed wire format: a missing required "
                      "field or a value out of range)", desc->name, (unsigned long long)off);
}

/* ---- the bytes: memory, or a file read with pread ---- */

static nnp_status read_error(uint64_t at, int err)
{
    char e[128];
    if (err == 0)
        return nnpi_error(NNP_EIO, "onnx: the file ends at byte %llu, before the size it had "
                          "when opened (did it change while being read?)",
                          (unsigned long long)at);
    if (strerror_r(err, e, sizeof e) != 0) snprintf(e, sizeof e, "error %d", err);
    return nnpi_error(NNP_EIO, "onnx: read error at byte %llu: %s", (unsigned long long)at, e);
}

/* Copies the model's bytes [off, off+len) to dst; the caller has checked they lie within it. */
static nnp_status src_read(const nnpi_onnx_reader *r, uint64_t off, size_t len, void *dst)
{
    unsigned char *d = dst;
    if (len == 0) return NNP_OK;
    if (r->mem) {
        memcpy(d, r->mem + off, len);
        return NNP_OK;
    }
    if (r->win && off >= r->win_off && len <= r->win_len && off - r->win_off <= r->win_len - len) {
        memcpy(d, r->win + (off - r->win_off), len);
        return NNP_OK;
    }
    while (len > 0) {
        errno = 0;
        ssize_t got = pread(r->fd, d, len < PREAD_MAX ? len : PREAD_MAX, (off_t)off);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) return read_error(off, got < 0 ? errno : 0);
        d += got;
        off += (uint64_t)got;
        len -= (size_t)got;
    }
    return NNP_OK;
}

/* The byte at `off` (< size), through the window when reading a file. */
static nnp_status src_byte(nnpi_onnx_reader *r, uint64_t off, unsigned char *b)
{
    if (r->mem) {
        *b = r->mem[off];
        return NNP_OK;
    }
    if (off < r->win_off || off - r->win_off >= r->win_len) {
        size_t n = r->size - off < r->win_cap ? (size_t)(r->size - off) : r->win_cap;
        r->win_len = 0; /* src_read must not use the window being refilled */
        NNPI_TRY(src_read(r, off, n, r->win));
        r->win_off = off;
        r->win_len = n;
    }
    *b = r->win[off - r->win_off];
    return NNP_OK;
}

/* A varint at *pos, before `end`: *ok = 0 when it is truncated or longer than 10 bytes. */
static nnp_status get_varint(nnpi_onnx_reader *r, uint64_t *pos, uint64_t end, uint64_t *v,
                             int *ok)
{
    *v = 0;
    *ok = 0;
    for (unsigned shift = 0; shift < 70; shift += 7) {
        unsigned char b;
        if (*pos >= end) return NNP_OK;
        NNPI_TRY(src_byte(r, (*pos)++, &b));
        *v |= shift < 64 ? (uint64_t)(b & 0x7f) << shift : 0;
        if (!(b & 0x80)) {
            *ok = 1;
            return NNP_OK;
        }
    }
    return NNP_OK;
}

/* Reads the field at *pos of a message of type `desc` ending at `end`, checking its key and
 * that its value lies within the message; moves *pos past it. */
static nnp_status next_field(nnpi_onnx_reader *r, const ProtobufCMessageDescriptor *desc,
                             uint64_t *pos, uint64_t end, field *f)
{
    uint64_t key, v;
    int ok;
    char fname[160];
    unsigned long long at = (unsigned long long)*pos;
    memset(f, 0, sizeof *f);
    f->start = *pos;
    NNPI_TRY(get_varint(r, pos, end, &key, &ok));
    if (!ok || key > UINT32_MAX)
        return malformed("truncated or overlong field key at byte %llu (in %s)", at, desc->name);
    f->id = key >> 3;
    f->wt = (unsigned)(key & 7);
    if (f->id == 0) return malformed("field number 0 at byte %llu (in %s)", at, desc->name);
    nnpi_pb_field_name(desc, f->id, fname, sizeof fname);
    f->off = *pos;
    switch (f->wt) {
    case 0:
        NNPI_TRY(get_varint(r, pos, end, &v, &ok));
        if (!ok) return malformed("truncated varint value at byte %llu (%s)", at, fname);
        break;
    case 1:
    case 5: {
        uint64_t k = f->wt == 1 ? 8 : 4;
        if (end - *pos < k)
            return malformed("truncated %llu-byte value at byte %llu (%s)", (unsigned long long)k,
                             at, fname);
        *pos += k;
        break;
    }
    case 2:
        NNPI_TRY(get_varint(r, pos, end, &f->len, &ok));
        if (!ok) return malformed("truncated length at byte %llu (%s)", at, fname);
        if (f->len > end - *pos)
            return malformed("length %llu at byte %llu (%s) runs past the end of its enclosing "
                             "message (%llu bytes left)", (unsigned long long)f->len, at, fname,
                             (unsigned long long)(end - *pos));
        f->off = *pos;
        *pos += f->len;
        break;
    default:
        return malformed("wire type %u at byte %llu (%s) is not supported", f->wt, at, fname);
    }
    f->end = *pos;
    return NNP_OK;
}

/* A field the reader handles itself must be length-delimited (a message, string or bytes). */
static nnp_status need_len(const ProtobufCMessageDescriptor *desc, const field *f)
{
    char fname[160];
    if (f->wt == 2) return NNP_OK;
    nnpi_pb_field_name(desc, f->id, fname, sizeof fname);
    return malformed("wire type %u at byte %llu (%s) is wrong for its type", f->wt,
                     (unsigned long long)f->start, fname);
}

static int known(const ProtobufCMessageDescriptor *desc, uint64_t id)
{
    return id <= UINT32_MAX && protobuf_c_message_descriptor_get_field(desc, (unsigned)id);
}

/* ---- unpacking with protobuf-c ---- */

/* Unpacks the message of type `desc` at [off, off+len) of the model. */
static nnp_status unpack_at(nnpi_onnx_reader *r, const ProtobufCMessageDescriptor *desc,
                            uint64_t off, uint64_t len, ProtobufCMessage **out)
{
    const unsigned char *p;
    unsigned char *buf = NULL;
    *out = NULL;
    if (r->mem) {
        p = r->mem + off;
    } else {
        buf = nnpi_malloc(len ? (size_t)len : 1);
        if (!buf) return out_of_memory();
        nnp_status st = src_read(r, off, (size_t)len, buf);
        if (st != NNP_OK) {
            nnpi_free(buf);
            return st;
        }
        p = buf;
    }
    *out = protobuf_c_message_unpack(desc, &r->alloc, (size_t)len, p);
    nnp_status st = *out ? NNP_OK : unpack_failed(r, desc, p, (size_t)len, off);
    nnpi_free(buf);
    return st;
}

/* Appends the field at [f->start, f->end) of the model to h. */
static nnp_status header_add(nnpi_onnx_reader *r, header *h, const field *f)
{
    size_t n = (size_t)(f->end - f->start);
    if (h->cap - h->n < n) {
        size_t cap = h->cap ? h->cap : 256;
        while (cap - h->n < n) cap = cap > SIZE_MAX / 2 ? SIZE_MAX : 2 * cap;
        unsigned char *p = nnpi_realloc(h->p, cap);
        if (!p) return out_of_memory();
        h->p = p;
        h->cap = cap;
    }
    if (h->n_fields == h->cap_fields) {
        size_t cap = h->cap_fields ? 2 * h->cap_fields : 16;
        uint64_t *from = nnpi_realloc(h->from, nnpi_mul(cap, sizeof *from));
        if (from) h->from = from;
        size_t *len = from ? nnpi_realloc(h->len, nnpi_mul(cap, sizeof *len)) : NULL;
        if (!len) return out_of_memory();
        h->len = len;
        h->cap_fields = cap;
    }
    NNPI_TRY(src_read(r, f->start, n, h->p + h->n));
    h->from[h->n_fields] = f->start;
    h->len[h->n_fields++] = n;
    h->n += n;
    return NNP_OK;
}

/* Unpacks the fields gathered in h as one message of type `desc`; h is emptied. */
static nnp_status header_unpack(nnpi_onnx_reader *r, const ProtobufCMessageDescriptor *desc,
                                header *h, ProtobufCMessage **out)
{
    nnp_status st = NNP_OK;
    *out = protobuf_c_message_unpack(desc, &r->alloc, h->n, h->p ? h->p : (const uint8_t *)"");
    if (!*out) {
        /* name the field at fault with its offset in the model: scan the copies one by one */
        st = r->alloc_failed ? out_of_memory() : NNP_OK;
        for (size_t i = 0, at = 0; st == NNP_OK && i < h->n_fields; at += h->len[i++]) {
            char where[512];
            if (nnpi_pb_scan(desc, h->p + at, h->from[i], h->p + at, h->p + at + h->len[i], 0,
                             where, sizeof where))
                st = nnpi_error(NNP_EFORMAT, "onnx: not a valid ONNX model (protobuf: %s)", where);
        }
        if (st == NNP_OK)
            st = unpack_failed(r, desc, h->p ? h->p : (const uint8_t *)"", h->n,
                               h->n_fields ? h->from[0] : 0);
    }
    h->n = 0;
    h->n_fields = 0;
    return st;
}

static void header_free(header *h)
{
    nnpi_free(h->p);
    nnpi_free(h->from);
    nnpi_free(h->len);
}

/* ---- tensors: the header by protobuf-c, raw_data by the reader ---- */

static nnp_status defer(nnpi_onnx_reader *r, const Onnx__TensorProto *t, uint64_t off)
{
    if (r->n_deferred == r->cap_deferred) {
        size_t cap = r->cap_deferred ? 2 * r->cap_deferred : 16;
        nnpi_onnx_deferred *d = nnpi_realloc(r->deferred, nnpi_mul(cap, sizeof *d));
        if (!d) return out_of_memory();
        r->deferred = d;
        r->cap_deferred = cap;
    }
    r->deferred[r->n_deferred].t = t;
    r->deferred[r->n_deferred++].off = off;
    return NNP_OK;
}

/* Reads the TensorProto at [off, off+len): every field but raw_data through protobuf-c, then
 * raw_data (the last occurrence wins, as for any scalar field) copied when small, else only
 * located. *out is set as soon as the tensor exists, so the caller can free it on failure. */
static nnp_status read_tensor(nnpi_onnx_reader *r, header *h, uint64_t off, uint64_t len,
                              Onnx__TensorProto **out)
{
    const ProtobufCMessageDescriptor *desc = &onnx__tensor_proto__descriptor;
    uint64_t pos = off, end = off + len;
    field f, raw = {0};
    int has_raw = 0;
    *out = NULL;
    while (pos < end) {
        NNPI_TRY(next_field(r, desc, &pos, end, &f));
        if (f.id == 9 && f.wt == 2) {
            raw = f;
            has_raw = 1;
        } else if (known(desc, f.id)) {
            NNPI_TRY(header_add(r, h, &f));
        }
    }
    ProtobufCMessage *m;
    NNPI_TRY(header_unpack(r, desc, h, &m));
    Onnx__TensorProto *t = (Onnx__TensorProto *)m;
    *out = t;
    if (!has_raw) return NNP_OK;
    t->has_raw_data = 1;
    t->raw_data.len = (size_t)raw.len;
    if (raw.len > r->inline_max) return defer(r, t, raw.off);
    if (raw.len == 0) return NNP_OK;
    t->raw_data.data = pb_alloc(r, (size_t)raw.len);
    if (!t->raw_data.data) {
        t->raw_data.len = 0;
        return out_of_memory();
    }
    return src_read(r, raw.off, (size_t)raw.len, t->raw_data.data);
}

/* ---- the graph ---- */

typedef struct range {
    uint64_t off, len;
} range;

/* The repeated message fields of GraphProto, by field number. */
static size_t *graph_count(Onnx__GraphProto *g, uint64_t id)
{
    switch (id) {
    case 1: return &g->n_node;
    case 5: return &g->n_initializer;
    case 11: return &g->n_input;
    case 12: return &g->n_output;
    case 13: return &g->n_value_info;
    default: return NULL;
    }
}

static void **graph_array(Onnx__GraphProto *g, uint64_t id)
{
    switch (id) {
    case 1: return (void **)&g->node;
    case 5: return (void **)&g->initializer;
    case 11: return (void **)&g->input;
    case 12: return (void **)&g->output;
    default: return (void **)&g->value_info;
    }
}

/* One GraphProto field: an element of a repeated field (whose array holds `room` elements),
 * or the name. */
static nnp_status graph_field(nnpi_onnx_reader *r, header *h, Onnx__GraphProto *g, const field *f,
                              size_t room)
{
    ProtobufCMessage *m = NULL;
    if (f->id == 2) { /* name: the last one wins */
        char *s = pb_alloc(r, (size_t)f->len + 1);
        if (!s) return out_of_memory();
        nnp_status st = src_read(r, f->off, (size_t)f->len, s);
        s[f->len] = 0;
        nnpi_free(g->name);
        g->name = s;
        return st;
    }
    size_t *n = graph_count(g, f->id);
    ProtobufCMessage **arr = *(ProtobufCMessage ***)graph_array(g, f->id);
    nnp_status st;
    if (*n >= room) /* only if the file changed between the two passes */
        return nnpi_error(NNP_EIO, "onnx: the model changed while being read (at byte %llu)",
                          (unsigned long long)f->start);
    if (f->id == 5) {
        Onnx__TensorProto *t;
        st = read_tensor(r, h, f->off, f->len, &t);
        m = (ProtobufCMessage *)t;
    } else {
        st = unpack_at(r, f->id == 1 ? &onnx__node_proto__descriptor
                                     : &onnx__value_info_proto__descriptor,
                       f->off, f->len, &m);
    }
    if (m) arr[(*n)++] = m; /* owned by the graph from here on */
    return st;
}

/* Reads the graph from its occurrences in the ModelProto (read one after the other: merged). */
static nnp_status read_graph(nnpi_onnx_reader *r, header *h, const range *gr, size_t n_gr)
{
    const ProtobufCMessageDescriptor *desc = &onnx__graph_proto__descriptor;
    Onnx__GraphProto *g = pb_alloc(r, sizeof *g);
    if (!g) return out_of_memory();
    onnx__graph_proto__init(g);
    r->model->graph = g;
    /* first pass: count the elements of each repeated field, so each array is sized once */
    size_t want[14] = {0};
    field f;
    for (size_t i = 0; i < n_gr; i++)
        for (uint64_t pos = gr[i].off; pos < gr[i].off + gr[i].len;) {
            NNPI_TRY(next_field(r, desc, &pos, gr[i].off + gr[i].len, &f));
            if (f.id == 2 || graph_count(g, f.id)) NNPI_TRY(need_len(desc, &f));
            if (graph_count(g, f.id)) want[f.id]++;
        }
    static const unsigned ids[] = {1, 5, 11, 12, 13};
    for (size_t k = 0; k < sizeof ids / sizeof ids[0]; k++) {
        if (!want[ids[k]]) continue;
        void *a = pb_alloc(r, nnpi_mul(want[ids[k]], sizeof(void *)));
        if (!a) return out_of_memory();
        *graph_array(g, ids[k]) = a;
    }
    /* second pass: read them */
    for (size_t i = 0; i < n_gr; i++)
        for (uint64_t pos = gr[i].off; pos < gr[i].off + gr[i].len;) {
            NNPI_TRY(next_field(r, desc, &pos, gr[i].off + gr[i].len, &f));
            if (f.id == 2 || graph_count(g, f.id))
                NNPI_TRY(graph_field(r, h, g, &f, f.id == 2 ? 0 : want[f.id]));
        }
    return NNP_OK;
}

/* ---- the model ---- */

static int by_tensor(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t)((const nnpi_onnx_deferred *)a)->t;
    uintptr_t y = (uintptr_t)((const nnpi_onnx_deferred *)b)->t;
    return x < y ? -1 : x > y;
}

static nnp_status read_model(nnpi_onnx_reader *r, header *h, range **gr, size_t *n_gr)
{
    const ProtobufCMessageDescriptor *desc = &onnx__model_proto__descriptor;
    size_t cap = 0;
    field f;
    if (!r->mem && !(r->win = nnpi_malloc(r->win_cap))) return out_of_memory();
    /* the graph's occurrences are located; the other fields this library knows are copied */
    for (uint64_t pos = 0; pos < r->size;) {
        NNPI_TRY(next_field(r, desc, &pos, r->size, &f));
        if (f.id == 7) {
            NNPI_TRY(need_len(desc, &f));
            if (*n_gr == cap) {
                cap = cap ? 2 * cap : 4;
                range *g = nnpi_realloc(*gr, nnpi_mul(cap, sizeof *g));
                if (!g) return out_of_memory();
                *gr = g;
            }
            (*gr)[(*n_gr)++] = (range){f.off, f.len};
        } else if (known(desc, f.id)) {
            NNPI_TRY(header_add(r, h, &f));
        }
    }
    ProtobufCMessage *m;
    NNPI_TRY(header_unpack(r, desc, h, &m));
    r->model = (Onnx__ModelProto *)m;
    if (*n_gr) NNPI_TRY(read_graph(r, h, *gr, *n_gr));
    if (r->n_deferred) qsort(r->deferred, r->n_deferred, sizeof *r->deferred, by_tensor);
    return NNP_OK;
}

nnp_status nnpi_onnx_read(nnpi_onnx_reader *r)
{
    header h = {0};
    range *gr = NULL;
    size_t n_gr = 0;
    nnp_status st = read_model(r, &h, &gr, &n_gr);
    header_free(&h);
    nnpi_free(gr);
    return st;
}

nnp_status nnpi_onnx_raw_data(const nnpi_onnx_reader *r, const Onnx__TensorProto *t, void *dst)
{
    if (t->raw_data.len == 0) return NNP_OK;
    if (t->raw_data.data) {
        memcpy(dst, t->raw_data.data, t->raw_data.len);
        return NNP_OK;
    }
    nnpi_onnx_deferred key = {t, 0};
    const nnpi_onnx_deferred *d =
        r->n_deferred ? bsearch(&key, r->deferred, r->n_deferred, sizeof key, by_tensor) : NULL;
    if (!d) /* not reachable from the loader: every data-less raw_data is deferred */
        return nnpi_error(NNP_EFORMAT, "onnx: tensor \"%.80s\": raw_data not found",
                          t->name ? t->name : "");
    return src_read(r, d->off, t->raw_data.len, dst);
}
