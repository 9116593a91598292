/* The ONNX reader (lib/io/onnx_read.c): models written here byte by byte in the protobuf wire
 * format (protobuf.dev "Encoding"; ONNX field numbers from onnx/onnx.proto), loaded from memory
 * and from files, with the large raw_data that the reader leaves in place and reads once into
 * the net; then the wire format broken in each way the reader must notice itself. Expected
 * weights are the values the test wrote, expected offsets are where the test wrote the bytes. */
#define _POSIX_C_SOURCE 200809L
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/onnx_read.h"
#include "net/net_internal.h"
#include "testutil.h"

/* ---- a protobuf writer ---- */

typedef struct buf {
    unsigned char *p;
    size_t n, cap;
} buf;

static void put(buf *b, const void *d, size_t n)
{
    if (b->cap - b->n < n) {
        b->cap = 2 * (b->cap + n) + 64;
        b->p = realloc(b->p, b->cap);
        ck_assert_ptr_nonnull(b->p);
    }
    if (n) memcpy(b->p + b->n, d, n);
    b->n += n;
}

static void put_varint(buf *b, uint64_t v)
{
    unsigned char c;
    do {
        c = (unsigned char)(v & 0x7f);
        v >>= 7;
        if (v) c |= 0x80;
        put(b, &c, 1);
    } while (v);
}

static void put_key(buf *b, unsigned id, unsigned wt) { put_varint(b, (uint64_t)id << 3 | wt); }

static void put_int(buf *b, unsigned id, uint64_t v)
{
    put_key(b, id, 0);
    put_varint(b, v);
}

static void put_bytes(buf *b, unsigned id, const void *d, size_t n)
{
    put_key(b, id, 2);
    put_varint(b, n);
    put(b, d, n);
}

static void put_str(buf *b, unsigned id, const char *s) { put_bytes(b, id, s, strlen(s)); }

/* appends message m as field `id`, and frees m */
static void put_msg(buf *b, unsigned id, buf *m)
{
    put_bytes(b, id, m->p, m->n);
    free(m->p);
    memset(m, 0, sizeof *m);
}

/* ---- the model: input N×K → Gemm(W: U×K, transB=1; bias: U) → output N×U ---- */

enum { K = 300, U = 64 }; /* W: 19200 floats, 76800 bytes: above the 64 KiB kept inline */

typedef struct parts {
    float w[U * K], bias[U];
    size_t w_raw_at;  /* offset of W's raw_data field in the model */
} parts;

static void le_floats(buf *b, const float *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &v[i], 4);
        unsigned char c[4] = {(unsigned char)u, (unsigned char)(u >> 8), (unsigned char)(u >> 16),
                              (unsigned char)(u >> 24)};
        put(b, c, 4);
    }
}

/* TensorProto: dims (1), data_type FLOAT (2), name (8), raw_data (9) of `bytes` bytes */
static void tensor(buf *t, const char *name, const int64_t *dims, size_t nd, const float *v,
                   size_t n, size_t bytes)
{
    for (size_t i = 0; i < nd; i++) put_int(t, 1, (uint64_t)dims[i]);
    put_int(t, 2, 1);
    put_str(t, 8, name);
    buf raw = {0};
    le_floats(&raw, v, n);
    while (raw.n < bytes) put(&raw, "", 1); /* a raw_data longer than the shape: zeros */
    put_bytes(t, 9, raw.p, bytes);
    free(raw.p);
}

/* ValueInfoProto "name": float tensor N × d (N symbolic) */
static void value_info(buf *b, unsigned id, const char *name, int64_t d)
{
    buf vi = {0}, type = {0}, tt = {0}, shape = {0}, dim = {0};
    put_str(&vi, 1, name);
    put_int(&tt, 1, 1);
    put_str(&dim, 2, "N");
    put_msg(&shape, 1, &dim);
    put_int(&dim, 1, (uint64_t)d);
    put_msg(&shape, 1, &dim);
    put_msg(&tt, 2, &shape);
    put_msg(&type, 1, &tt);
    put_msg(&vi, 2, &type);
    put_msg(b, id, &vi);
}

static void gemm_node(buf *g)
{
    buf node = {0}, attr = {0};
    put_str(&node, 1, "input");
    put_str(&node, 1, "W");
    put_str(&node, 1, "b");
    put_str(&node, 2, "output");
    put_str(&node, 3, "fc");
    put_str(&node, 4, "Gemm");
    put_str(&attr, 1, "transB");
    put_int(&attr, 3, 1);
    put_int(&attr, 20, 2);
    put_msg(&node, 5, &attr);
    put_msg(g, 1, &node);
}

/* How to build the model: the defects and variants the tests ask for. */
typedef struct spec {
    size_t pad;           /* an unknown ModelProto field of this many bytes before the graph */
    int split_graph;      /* the graph in two ModelProto fields (protobuf merges them) */
    int stale_raw;        /* W carries an earlier raw_data of zeros (the last one wins) */
    long w_bytes_delta;   /* W's raw_data shorter or longer than its shape */
} spec;

static void fill(parts *pt)
{
    for (size_t i = 0; i < U * K; i++) pt->w[i] = (float)sin(0.37 * (double)i) * 0.25f;
    for (size_t i = 0; i < U; i++) pt->bias[i] = (float)i / 64.0f - 0.5f;
}

/* Writes the model; *pt gets the weights and where things lie. The offsets are found by
 * searching the finished bytes for what was written, so they do not depend on the writer's
 * arithmetic. */
static buf model(const spec *s, parts *pt)
{
    buf m = {0}, g1 = {0}, g2 = {0}, w = {0}, b = {0}, op = {0};
    fill(pt);
    static const int64_t wd[2] = {U, K}, bd[1] = {U};
    if (s->stale_raw) {
        static float zeros[U * K];
        buf raw = {0};
        le_floats(&raw, zeros, U * K);
        put_bytes(&w, 9, raw.p, raw.n);
        free(raw.p);
    }
    tensor(&w, "W", wd, 2, pt->w, U * K, (size_t)((long)(4 * U * K) + s->w_bytes_delta));
    tensor(&b, "b", bd, 1, pt->bias, U, 4 * U);
    put_int(&m, 1, 8); /* ir_version */
    if (s->pad) {
        unsigned char *z = calloc(s->pad, 1);
        put_bytes(&m, 6, z, s->pad); /* doc_string: not read by the library */
        free(z);
    }
    gemm_node(&g1);
    put_str(&g1, 2, "g");
    value_info(&g1, 11, "input", K);
    buf *rest = s->split_graph ? &g2 : &g1;
    put_msg(rest, 5, &w);
    put_msg(rest, 5, &b);
    value_info(rest, 12, "output", U);
    put_msg(&m, 7, &g1);
    if (s->split_graph) put_msg(&m, 7, &g2);
    put_int(&op, 2, 13);
    put_msg(&m, 8, &op); /* opset_import { version: 13 } */

    /* locate W's raw_data: it follows W's name field "\x42\x01W" (field 8, 1 byte) */
    static const unsigned char wname[] = {0x42, 0x01, 'W'};
    size_t at = 0;
    while (at + sizeof wname <= m.n && memcmp(m.p + at, wname, sizeof wname) != 0) at++;
    ck_assert_uint_lt(at + sizeof wname, m.n);
    pt->w_raw_at = at + sizeof wname;
    return m;
}

static nnp_status load_mem(const buf *m, nnp_net **net) { return nnp_net_load_onnx_memory(m->p, m->n, net); }

static const char *write_file(const buf *m, const char *name)
{
    static char p[512];
    tu_tmp_path(p, sizeof p, name);
    FILE *f = fopen(p, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(m->p, 1, m->n, f), m->n);
    ck_assert_int_eq(fclose(f), 0);
    return p;
}

/* The net's Gemm layer holds exactly the weights and biases written. */
static void assert_params(const nnp_net *net, const parts *pt)
{
    static float w[U * K], b[U];
    ck_assert_uint_eq(nnp_net_layer_count(net), 2);
    ck_assert_uint_eq(nnp_net_param_count(net), U * K + U);
    ck_assert_ok(nnp_net_get_params(net, 1, w, b));
    ck_assert_mem_eq(w, pt->w, sizeof w);
    ck_assert_mem_eq(b, pt->bias, sizeof b);
}

/* Loads from memory and from a file (default reader sizes, then a tiny window) and checks
 * the parameters of each. */
static void load_both(const spec *s)
{
    static parts pt;
    buf m = model(s, &pt);
    nnp_net *net = NULL;
    ck_assert_ok(load_mem(&m, &net));
    assert_params(net, &pt);
    nnp_net_free(net);
    const char *p = write_file(&m, "read-both.onnx");
    for (int tiny = 0; tiny < 2; tiny++) {
        nnpi_onnx_read_test_sizes(tiny ? 3 : 0, tiny ? 7 : 0);
        nnp_status st = nnp_net_load_onnx(p, &net);
        nnpi_onnx_read_test_sizes(0, 0);
        ck_assert_ok(st);
        assert_params(net, &pt);
        nnp_net_free(net);
    }
    remove(p);
    free(m.p);
}

START_TEST(deferred_weights_load)
{
    load_both(&(spec){0});
}
END_TEST

/* Around the end of the first 64 KiB window: the fields after the padding straddle it. */
START_TEST(window_boundaries)
{
    size_t step = getenv("NNP_TEST_UNDER_VALGRIND") ? 97 : 13;
    for (size_t pad = 65536 - 300; pad < 65536 + 40; pad += step) load_both(&(spec){.pad = pad});
}
END_TEST

START_TEST(graph_in_two_fields_merges)
{
    load_both(&(spec){.split_graph = 1});
}
END_TEST

START_TEST(last_raw_data_wins)
{
    load_both(&(spec){.stale_raw = 1});
}
END_TEST

/* Loads the model from memory and from a file: both must give `want` and a message holding
 * `needle` (the file's names its path too). */
static void refuse_both(const buf *m, nnp_status want, const char *needle)
{
    nnp_net *net = (nnp_net *)1;
    ck_assert_status(load_mem(m, &net), want);
    ck_assert_ptr_null(net);
    ck_assert_error_has(needle);
    const char *p = write_file(m, "read-bad.onnx");
    for (int tiny = 0; tiny < 2; tiny++) {
        net = (nnp_net *)1;
        nnpi_onnx_read_test_sizes(tiny ? 3 : 0, tiny ? 5 : 0);
        nnp_status st = nnp_net_load_onnx(p, &net);
        nnpi_onnx_read_test_sizes(0, 0);
        ck_assert_msg(st == want, "from a file: %s (%s)", nnp_status_name(st), nnp_last_error());
        ck_assert_ptr_null(net);
        ck_assert_error_has(needle);
        ck_assert_error_has(p);
    }
    remove(p);
}

START_TEST(raw_data_length_vs_shape)
{
    parts pt;
    char msg[160];
    for (int d = -1; d <= 1; d += 2) {
        buf m = model(&(spec){.w_bytes_delta = 4 * d}, &pt);
        snprintf(msg, sizeof msg, "tensor \"W\": raw_data holds %d bytes, its shape needs %d",
                 4 * U * K + 4 * d, 4 * U * K);
        refuse_both(&m, NNP_EFORMAT, msg);
        free(m.p);
    }
}
END_TEST

/* Every cut of the model short of its end: a clean EFORMAT, from memory and from a file. */
START_TEST(truncated_everywhere)
{
    parts pt;
    buf m = model(&(spec){0}, &pt);
    size_t step = getenv("NNP_TEST_UNDER_VALGRIND") ? 4099 : 211;
    for (size_t n = 0; n < m.n; n += step) {
        buf cut = {m.p, n, n};
        refuse_both(&cut, NNP_EFORMAT, "onnx:");
    }
    /* cut inside W's raw_data: the graph's length runs past the end of the model */
    buf cut = {m.p, pt.w_raw_at + 1000, 0};
    refuse_both(&cut, NNP_EFORMAT, "(onnx.ModelProto.graph, field 7) runs past the end");
    free(m.p);
}
END_TEST

/* The model with its last byte(s) replaced: the end of the bytes as the test wrote them. */
START_TEST(wire_defects)
{
    parts pt;
    char msg[200];
    buf m = model(&(spec){0}, &pt);

    /* a key whose varint never ends, at the very end */
    buf a = {0};
    put(&a, m.p, m.n);
    put(&a, "\x80", 1);
    snprintf(msg, sizeof msg, "truncated or overlong field key at byte %zu (in onnx.ModelProto)",
             m.n);
    refuse_both(&a, NNP_EFORMAT, msg);
    free(a.p);

    /* a varint value of 11 bytes */
    a = (buf){0};
    put(&a, m.p, m.n);
    put(&a, "\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 12);
    snprintf(msg, sizeof msg, "truncated varint value at byte %zu (onnx.ModelProto.ir_version",
             m.n);
    refuse_both(&a, NNP_EFORMAT, msg);
    free(a.p);

    /* the graph sent as a varint */
    a = (buf){0};
    put(&a, m.p, m.n);
    put_int(&a, 7, 1);
    snprintf(msg, sizeof msg, "wire type 0 at byte %zu (onnx.ModelProto.graph, field 7) is "
             "wrong for its type", m.n);
    refuse_both(&a, NNP_EFORMAT, msg);
    free(a.p);

    /* a group (wire type 3) */
    a = (buf){0};
    put(&a, m.p, m.n);
    put_key(&a, 15, 3);
    snprintf(msg, sizeof msg, "wire type 3 at byte %zu", m.n);
    refuse_both(&a, NNP_EFORMAT, msg);
    free(a.p);

    /* field number 0 */
    a = (buf){0};
    put(&a, m.p, m.n);
    put(&a, "\x02\x00", 2);
    snprintf(msg, sizeof msg, "field number 0 at byte %zu (in onnx.ModelProto)", m.n);
    refuse_both(&a, NNP_EFORMAT, msg);
    free(a.p);
    free(m.p);
}
END_TEST

/* Defects inside the graph and inside a tensor: a graph of one node and one tensor whose
 * bytes the test writes around the defect, so the offsets are known. */
static buf graph_with(const buf *inner, size_t *inner_at)
{
    buf m = {0}, g = {0};
    put_int(&m, 1, 8);
    gemm_node(&g);
    put(&g, inner->p, inner->n);
    put_key(&m, 7, 2);
    put_varint(&m, g.n);
    *inner_at = m.n + g.n - inner->n;
    put(&m, g.p, g.n);
    free(g.p);
    return m;
}

START_TEST(defects_inside_the_graph)
{
    char msg[240];
    size_t at;

    /* a node whose length runs past the end of the graph */
    buf in = {0};
    put_key(&in, 1, 2);
    put_varint(&in, 50);
    put(&in, "abc", 3);
    buf m = graph_with(&in, &at);
    snprintf(msg, sizeof msg, "length 50 at byte %zu (onnx.GraphProto.node, field 1) runs past "
             "the end of its enclosing message (3 bytes left)", at);
    refuse_both(&m, NNP_EFORMAT, msg);
    free(m.p);
    free(in.p);

    /* a length varint cut by the end of the graph */
    in = (buf){0};
    put_key(&in, 5, 2);
    put(&in, "\xff\xff", 2);
    m = graph_with(&in, &at);
    snprintf(msg, sizeof msg, "truncated length at byte %zu (onnx.GraphProto.initializer, "
             "field 5)", at);
    refuse_both(&m, NNP_EFORMAT, msg);
    free(m.p);
    free(in.p);

    /* a tensor's raw_data longer than the tensor: its data would lie outside it */
    buf t = {0};
    put_int(&t, 2, 1);
    put_str(&t, 8, "T");
    size_t raw_in_t = t.n;
    put_key(&t, 9, 2);
    put_varint(&t, 100000); /* the tensor holds 3 bytes after this */
    put(&t, "xyz", 3);
    in = (buf){0};
    put_key(&in, 5, 2);
    put_varint(&in, t.n);
    size_t t_in = in.n;
    put(&in, t.p, t.n);
    m = graph_with(&in, &at);
    snprintf(msg, sizeof msg, "length 100000 at byte %zu (onnx.TensorProto.raw_data, field 9) "
             "runs past the end of its enclosing message (3 bytes left)", at + t_in + raw_in_t);
    refuse_both(&m, NNP_EFORMAT, msg);
    free(m.p);
    free(in.p);
    free(t.p);

    /* a tensor header field protobuf-c refuses (data_type as bytes): named at its offset in
     * the file, though the reader hands protobuf-c a copy without raw_data */
    t = (buf){0};
    static const float one[20000];
    buf raw = {0};
    le_floats(&raw, one, 20000);
    put_bytes(&t, 9, raw.p, raw.n); /* deferred: not part of the copy */
    free(raw.p);
    put_str(&t, 8, "T");
    size_t bad_in_t = t.n;
    put_bytes(&t, 2, "??", 2);
    in = (buf){0};
    put_key(&in, 5, 2);
    put_varint(&in, t.n);
    t_in = in.n;
    put(&in, t.p, t.n);
    m = graph_with(&in, &at);
    snprintf(msg, sizeof msg, "wire type 2 at byte %zu (onnx.TensorProto.data_type, field 2) is "
             "wrong for its type", at + t_in + bad_in_t);
    refuse_both(&m, NNP_EFORMAT, msg);
    free(m.p);
    free(in.p);
    free(t.p);

    /* a node field protobuf-c refuses: its offset in the file too */
    buf node = {0};
    put_str(&node, 4, "Relu");
    size_t bad_in_node = node.n;
    put_int(&node, 1, 5); /* input: a string sent as a varint */
    in = (buf){0};
    put_key(&in, 1, 2);
    put_varint(&in, node.n);
    size_t node_in = in.n;
    put(&in, node.p, node.n);
    m = graph_with(&in, &at);
    snprintf(msg, sizeof msg, "wire type 0 at byte %zu (onnx.NodeProto.input, field 1)",
             at + node_in + bad_in_node);
    refuse_both(&m, NNP_EFORMAT, msg);
    free(m.p);
    free(in.p);
    free(node.p);
}
END_TEST

/* A file that ends before the size the reader was given (as when it shrinks after being
 * opened): a read error naming the offset, not a crash or a model read from stale bytes. */
START_TEST(file_shorter_than_its_size)
{
    parts pt;
    buf m = model(&(spec){0}, &pt);
    const char *p = write_file(&m, "read-short.onnx");
    for (int tiny = 0; tiny < 2; tiny++) {
        nnpi_onnx_read_test_sizes(0, tiny ? 9 : 0);
        int fd = open(p, O_RDONLY);
        ck_assert_int_ge(fd, 0);
        nnpi_onnx_reader r;
        nnpi_onnx_reader_file(&r, fd, m.n + 10);
        nnpi_onnx_read_test_sizes(0, 0);
        ck_assert_status(nnpi_onnx_read(&r), NNP_EIO);
        char msg[120];
        snprintf(msg, sizeof msg, "the file ends at byte %zu", m.n);
        ck_assert_error_has(msg);
        nnpi_onnx_reader_free(&r);
        close(fd);
    }
    /* and one whose deferred raw_data is cut: the walk passes, the read of W fails */
    buf head = {m.p, pt.w_raw_at + 5000, 0};
    write_file(&head, "read-short.onnx");
    int fd = open(p, O_RDONLY);
    ck_assert_int_ge(fd, 0);
    nnpi_onnx_reader r;
    nnpi_onnx_reader_memory(&r, m.p, m.n);
    ck_assert_ok(nnpi_onnx_read(&r));
    /* the same model read from the short file, as if it had shrunk after the walk */
    r.mem = NULL;
    r.fd = fd;
    const Onnx__TensorProto *w = NULL;
    for (size_t i = 0; i < r.model->graph->n_initializer; i++)
        if (strcmp(r.model->graph->initializer[i]->name, "W") == 0) w = r.model->graph->initializer[i];
    ck_assert_ptr_nonnull(w);
    ck_assert_ptr_null(w->raw_data.data); /* deferred */
    static float dst[U * K];
    ck_assert_status(nnpi_onnx_raw_data(&r, w, dst), NNP_EIO);
    ck_assert_error_has("the file ends at byte");
    nnpi_onnx_reader_free(&r);
    close(fd);
    remove(p);
    free(m.p);
}
END_TEST

/* Allocation failures anywhere in a file load: NNP_ENOMEM and nothing leaked (ASan, valgrind). */
static nnp_status load_file_run(void *user, long k)
{
    (void)k;
    nnp_net *net = NULL;
    nnp_status st = nnp_net_load_onnx(user, &net);
    nnp_net_free(net);
    return st;
}

START_TEST(allocation_failures)
{
    parts pt;
    buf m = model(&(spec){.split_graph = 1}, &pt);
    char p[512];
    snprintf(p, sizeof p, "%s", write_file(&m, "read-alloc.onnx"));
    tu_alloc_counts c = tu_alloc_failures(&(tu_alloc_loop){
        .what = "nnp_net_load_onnx", .max_k = 400, .until_ok = 1, .check_message = 1,
        .run = load_file_run, .user = p});
    ck_assert_int_gt(c.failures, 10);
    ck_assert_int_gt(c.successes, 0);
    remove(p);
    free(m.p);
}
END_TEST

/* The parameter vector reserved once does not move while layers are appended. */
START_TEST(reserved_params_stay)
{
    nnp_net *net;
    size_t l;
    ck_assert_ok(nnp_net_create(1, 1, 100, &net));
    ck_assert_ok(nnpi_net_reserve_params(net, 100 * 50 + 50 + 50 * 10 + 10 + 1000));
    const float *before = net->params;
    ck_assert_ok(nnp_net_add_dense(net, 50, &l));
    ck_assert_ok(nnp_net_add_dense(net, 10, &l));
    ck_assert_ptr_eq(net->params, before);
    ck_assert_ptr_eq(nnpi_net_layer_params(net, l), net->params + 100 * 50 + 50);
    ck_assert_uint_eq(net->cap_params, 100 * 50 + 50 + 50 * 10 + 10 + 1000);
    nnpi_net_trim_params(net);
    ck_assert_uint_eq(net->cap_params, net->n_params);
    /* beyond the reservation it grows as before, keeping the values */
    float w[10 * 7];
    for (size_t i = 0; i < 70; i++) w[i] = (float)i;
    ck_assert_ok(nnp_net_add_dense(net, 7, &l));
    ck_assert_ok(nnp_net_set_params(net, l, w, NULL));
    ck_assert_ok(nnp_net_add_dense(net, 3, &l));
    float back[70];
    ck_assert_ok(nnp_net_get_params(net, l - 1, back, NULL));
    ck_assert_mem_eq(back, w, sizeof w);
    nnp_net_free(net);
}
END_TEST

static Suite *onnx_read_suite(void)
{
    Suite *s = suite_create("onnx_read");
    TCase *tc = tcase_create("read");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, deferred_weights_load);
    tcase_add_test(tc, window_boundaries);
    tcase_add_test(tc, graph_in_two_fields_merges);
    tcase_add_test(tc, last_raw_data_wins);
    tcase_add_test(tc, raw_data_length_vs_shape);
    tcase_add_test(tc, truncated_everywhere);
    tcase_add_test(tc, wire_defects);
    tcase_add_test(tc, defects_inside_the_graph);
    tcase_add_test(tc, file_shorter_than_its_size);
    tcase_add_test(tc, allocation_failures);
    tcase_add_test(tc, reserved_params_stay);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_run(onnx_read_suite()); }
