/* Resource bounds a caller controls, and messages that cannot hurt (issue 17, items 4 to 7 and
 * 9): the gzip trailer checked before inflating, read caps, /dev/zero, the workspace cap, names
 * escaped, protobuf errors with an offset, errno in I/O errors.
 *
 * Memory is measured in a forked child (wait4's ru_maxrss), so that a loader that does follow
 * a lying header costs the child, not the suite; the time bound is deliberately loose (5 s for
 * what takes milliseconds) so that a loaded machine cannot make it flake, while the old
 * loader's 20 s still fail it. */
#define _DEFAULT_SOURCE
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include <protobuf-c/protobuf-c.h>

#include "core/core.h"
#include "nnprobe/nnprobe.h"
#include "onnx.pb-c.h"
#include "testutil.h"

static void write_file(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(p, 1, n, f), n);
    ck_assert_int_eq(fclose(f), 0);
}

static unsigned char *read_all(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
    long len = ftell(f);
    ck_assert_int_ge(len, 0);
    rewind(f);
    unsigned char *p = malloc((size_t)len + 1);
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq(fread(p, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    *n = (size_t)len;
    return p;
}

/* ---- item 4: the decompression bomb ---- */

static void put_le32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}

/* A single-member gzip IDX file of a 16-byte image header declaring `count` 28×28 images,
 * followed by `mib` MiB of zeros: ~1 KB per MiB compressed. Built without compressing the
 * whole: one MiB of zeros is deflated after a full flush (which resets the compressor, so
 * every further MiB compresses to the same bytes) and those bytes are repeated. The trailer
 * is the true one (CRC-32 combined, ISIZE = what the stream holds). */
static size_t make_bomb(const char *path, uint32_t count, size_t mib)
{
    const size_t MiB = (size_t)1 << 20;
    unsigned char head[16] = {0, 0, 8, 3};
    head[4] = (unsigned char)(count >> 24), head[5] = (unsigned char)(count >> 16);
    head[6] = (unsigned char)(count >> 8), head[7] = (unsigned char)count;
    head[11] = 28, head[15] = 28;
    unsigned char *zeros = calloc(1, MiB), *blk = malloc(MiB), *hblk = malloc(4096);
    ck_assert(zeros && blk && hblk);
    z_stream z;
    memset(&z, 0, sizeof z);
    ck_assert_int_eq(deflateInit2(&z, 9, Z_DEFLATED, -15, 9, Z_DEFAULT_STRATEGY), Z_OK);
    z.next_in = head, z.avail_in = sizeof head, z.next_out = hblk, z.avail_out = 4096;
    ck_assert_int_eq(deflate(&z, Z_FULL_FLUSH), Z_OK);
    size_t hlen = 4096 - z.avail_out;
    z.next_in = zeros, z.avail_in = (uInt)MiB, z.next_out = blk, z.avail_out = (uInt)MiB;
    ck_assert_int_eq(deflate(&z, Z_FULL_FLUSH), Z_OK);
    ck_assert_uint_eq(z.avail_in, 0);
    size_t blen = MiB - z.avail_out;
    unsigned char fin[64];
    z.next_in = NULL, z.avail_in = 0, z.next_out = fin, z.avail_out = sizeof fin;
    ck_assert_int_eq(deflate(&z, Z_FINISH), Z_STREAM_END);
    size_t flen = sizeof fin - z.avail_out;
    deflateEnd(&z);

    uLong crc_mib = crc32(0, zeros, (uInt)MiB), crc = crc32(0, head, sizeof head);
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    const unsigned char gz_head[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3};
    fwrite(gz_head, 1, sizeof gz_head, f);
    fwrite(hblk, 1, hlen, f);
    for (size_t i = 0; i < mib; i++) {
        fwrite(blk, 1, blen, f);
        crc = crc32_combine(crc, crc_mib, (z_off_t)MiB);
    }
    fwrite(fin, 1, flen, f);
    unsigned char tr[8];
    put_le32(tr, (uint32_t)crc);
    put_le32(tr + 4, (uint32_t)(sizeof head + mib * MiB));
    fwrite(tr, 1, 8, f);
    long size = ftell(f);
    ck_assert_int_eq(fclose(f), 0);
    free(zeros), free(blk), free(hblk);
    return (size_t)size;
}

typedef struct child_run {
    int status;      /* the child's exit code: the nnp_status it got, 99 when killed */
    long maxrss_kib; /* peak resident set of the child */
    double seconds;
    char msg[512];   /* its nnp_last_error() */
} child_run;

/* Loads `path` as an unlabelled IDX set in a forked child; reports status, peak RSS, time. */
static child_run load_in_child(const char *images)
{
    child_run r;
    memset(&r, 0, sizeof r);
    int fd[2];
    ck_assert_int_eq(pipe(fd), 0);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(fd[0]);
        nnp_dataset *ds = NULL;
        nnp_status st = nnp_dataset_load_idx(images, NULL, &ds);
        const char *m = nnp_last_error();
        if (write(fd[1], m, strlen(m)) < 0) _exit(98);
        nnp_dataset_free(ds);
        _exit((int)st);
    }
    close(fd[1]);
    ssize_t got = read(fd[0], r.msg, sizeof r.msg - 1);
    r.msg[got > 0 ? got : 0] = '\0';
    close(fd[0]);
    int ws;
    struct rusage ru;
    ck_assert_int_eq(wait4(pid, &ws, 0, &ru), pid);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    r.status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 99;
    r.maxrss_kib = ru.ru_maxrss;
    r.seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
    return r;
}

START_TEST(test_gzip_bomb)
{
    char p[512];
    tu_tmp_path(p, sizeof p, "bomb.idx.gz");
    /* 2 GiB of zeros (about 2 MB compressed) under a header that declares 3,000,000 images of
     * 28×28 (2.35 GB): the old loader inflated all 2 GiB into a growing buffer before calling
     * it truncated */
    size_t size = make_bomb(p, 3000000, 2048);
    ck_assert_uint_lt(size, (size_t)3 << 20);
    child_run r = load_in_child(p);
    fprintf(stderr, "bomb: %zu bytes gzip: status %d, %.3f s, peak RSS %ld KiB\n", size,
            r.status, r.seconds, r.maxrss_kib);
    ck_assert_msg(r.status == NNP_EFORMAT, "status %d (%s)", r.status, r.msg);
    ck_assert_msg(strstr(r.msg, "truncated: header promises 2352000000 data bytes, file has "
                                "2147483648") != NULL,
                  "message: %s", r.msg);
    ck_assert_msg(strstr(r.msg, "refused before inflating") != NULL, "message: %s", r.msg);
    ck_assert_msg(r.maxrss_kib < 100 * 1024, "peak RSS %ld KiB", r.maxrss_kib);
    ck_assert_msg(r.seconds < 5.0, "took %.1f s", r.seconds);
    remove(p);
}
END_TEST

/* Two members (the bomb, then a member of one byte): the trailer holds only the last member's
 * size, so the stream is first counted through a small buffer: memory stays flat, and the
 * time is that of inflating once (about 1 s for the 2 GiB here; bounded generously). */
START_TEST(test_gzip_bomb_two_members)
{
    char p[512];
    tu_tmp_path(p, sizeof p, "bomb2.idx.gz");
    make_bomb(p, 3000000, 2048);
    unsigned char one = 0, z[64];
    uLongf zn = sizeof z;
    z_stream d;
    memset(&d, 0, sizeof d);
    ck_assert_int_eq(deflateInit2(&d, 9, Z_DEFLATED, 16 + 15, 9, Z_DEFAULT_STRATEGY), Z_OK);
    d.next_in = &one, d.avail_in = 1, d.next_out = z, d.avail_out = (uInt)zn;
    ck_assert_int_eq(deflate(&d, Z_FINISH), Z_STREAM_END);
    zn = sizeof z - d.avail_out;
    deflateEnd(&d);
    FILE *f = fopen(p, "ab");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(z, 1, zn, f), zn);
    ck_assert_int_eq(fclose(f), 0);
    child_run r = load_in_child(p);
    fprintf(stderr, "two-member bomb: status %d, %.3f s, peak RSS %ld KiB\n", r.status,
            r.seconds, r.maxrss_kib);
    ck_assert_msg(r.status == NNP_EFORMAT, "status %d (%s)", r.status, r.msg);
    ck_assert_msg(strstr(r.msg, "truncated: header promises 2352000000 data bytes, file has "
                                "2147483649") != NULL,
                  "message: %s", r.msg);
    ck_assert_msg(r.maxrss_kib < 100 * 1024, "peak RSS %ld KiB", r.maxrss_kib);
    ck_assert_msg(r.seconds < 30.0, "took %.1f s", r.seconds);
    remove(p);
}
END_TEST

/* Only the header, no data: refused from the trailer, with the counts it gives. */
START_TEST(test_gzip_trailer_short)
{
    char p[512];
    tu_tmp_path(p, sizeof p, "short.idx.gz");
    make_bomb(p, 1024, 0);
    nnp_dataset *ds = NULL;
    ck_assert_status(nnp_dataset_load_idx(p, NULL, &ds), NNP_EFORMAT);
    ck_assert_error_has("truncated: header promises 802816 data bytes, file has 0");
    ck_assert_error_has("refused before inflating");
    ck_assert_ptr_null(ds);
    remove(p);
}
END_TEST

/* ---- item 5: caps on bytes read; /dev/zero ---- */

START_TEST(test_idx_read_cap)
{
    char p[512];
    tu_tmp_path(p, sizeof p, "cap.idx");
    /* 10 images of 10×10: 1016 bytes */
    unsigned char buf[1016] = {0, 0, 8, 3, 0, 0, 0, 10, 0, 0, 0, 10, 0, 0, 0, 10};
    write_file(p, buf, sizeof buf);
    nnp_dataset *ds = NULL;
    ck_assert_int_eq(setenv("NNPROBE_MAX_READ_BYTES", "1000", 1), 0);
    ck_assert_status(nnp_dataset_load_idx(p, NULL, &ds), NNP_EFORMAT);
    ck_assert_error_has("file of 1016 bytes exceeds the read cap of 1000 bytes");
    ck_assert_error_has("NNPROBE_MAX_READ_BYTES");
    ck_assert_ptr_null(ds);
    /* a gzip file whose header declares more than the cap is refused before inflating */
    ck_assert_int_eq(setenv("NNPROBE_MAX_READ_BYTES", "1K", 1), 0);
    tu_tmp_path(p, sizeof p, "cap.idx.gz");
    make_bomb(p, 2, 0); /* declares 2×784 > 1024 */
    ck_assert_status(nnp_dataset_load_idx(p, NULL, &ds), NNP_EFORMAT);
    ck_assert_error_has("header declares 1568 data bytes, above the read cap of 1024 bytes");
    /* a malformed value is refused, naming the variable */
    ck_assert_int_eq(setenv("NNPROBE_MAX_READ_BYTES", "lots", 1), 0);
    ck_assert_status(nnp_dataset_load_idx(p, NULL, &ds), NNP_EINVAL);
    ck_assert_error_has("NNPROBE_MAX_READ_BYTES=\"lots\" is not a positive byte count");
    ck_assert_int_eq(unsetenv("NNPROBE_MAX_READ_BYTES"), 0);
    remove(p);
    tu_tmp_path(p, sizeof p, "cap.idx");
    ck_assert_ok(nnp_dataset_load_idx(p, NULL, &ds));
    ck_assert_uint_eq(nnp_dataset_count(ds), 10);
    nnp_dataset_free(ds);
    remove(p);
}
END_TEST

static nnp_net *small_net(void)
{
    nnp_net *net;
    ck_assert_ok(nnp_net_create(1, 2, 2, &net));
    ck_assert_ok(nnp_net_add_dense(net, 3, NULL));
    ck_assert_ok(nnp_net_add_activation(net, NNP_LAYER_RELU, NULL));
    ck_assert_ok(nnp_net_add_dense(net, 2, NULL));
    return net;
}

START_TEST(test_onnx_read_cap)
{
    char p[512];
    tu_tmp_path(p, sizeof p, "cap.onnx");
    nnp_net *net = small_net(), *back = NULL;
    ck_assert_ok(nnp_net_save_onnx(net, p));
    size_t n;
    free(read_all(p, &n));
    char cap[32];
    snprintf(cap, sizeof cap, "%zu", n - 1);
    ck_assert_int_eq(setenv("NNPROBE_MAX_READ_BYTES", cap, 1), 0);
    ck_assert_status(nnp_net_load_onnx(p, &back), NNP_EFORMAT);
    ck_assert_error_has("exceeds the read cap of");
    ck_assert_error_has("set NNPROBE_MAX_READ_BYTES to raise it");
    ck_assert_ptr_null(back);
    snprintf(cap, sizeof cap, "%zu", n);
    ck_assert_int_eq(setenv("NNPROBE_MAX_READ_BYTES", cap, 1), 0);
    ck_assert_ok(nnp_net_load_onnx(p, &back));
    nnp_net_free(back);
    ck_assert_int_eq(unsetenv("NNPROBE_MAX_READ_BYTES"), 0);
    nnp_net_free(net);
    remove(p);
}
END_TEST

START_TEST(test_onnx_dev_zero)
{
    /* not a regular file: read in chunks and refused once past the cap (8 MiB here, so the
     * test is quick; the default, 2 GiB, is refused the same way) */
    nnp_net *net = NULL;
    ck_assert_int_eq(setenv("NNPROBE_MAX_READ_BYTES", "8M", 1), 0);
    ck_assert_status(nnp_net_load_onnx("/dev/zero", &net), NNP_EFORMAT);
    ck_assert_error_has("onnx: /dev/zero: more than 8388608 bytes read (the read cap");
    ck_assert_ptr_null(net);
    ck_assert_int_eq(unsetenv("NNPROBE_MAX_READ_BYTES"), 0);
}
END_TEST

/* ---- item 6: the amplifying model ---- */

/* A 1×1 convolution whose pads grow a 1×1 input to 1001×1001, and ReLUs after it: a few
 * parameters, megabytes per example of activations. Returns the net and, through *acts, the
 * bytes of activations and gradients it must hold at batch 1, counted here independently. */
static nnp_net *amplifying_net(size_t *acts)
{
    nnp_net *net;
    nnp_net_conv2d_opts c;
    ck_assert_ok(nnp_net_create(1, 1, 1, &net));
    size_t side = 1;
    *acts = 1 * sizeof(float); /* the input: its gradient only (it is read in place) */
    for (int layer = 0; layer < 2; layer++) {
        ck_assert_ok(nnp_net_conv2d_opts_init(&c));
        c.out_channels = 1;
        c.kernel_h = c.kernel_w = 1;
        c.pad_top = c.pad_left = c.pad_bottom = c.pad_right = 250;
        ck_assert_ok(nnp_net_add_conv2d(net, &c, NULL));
        side += 500;
        *acts += 2 * side * side * sizeof(float); /* activation + gradient */
    }
    for (int k = 0; k < 3; k++) {
        ck_assert_ok(nnp_net_add_activation(net, NNP_LAYER_RELU, NULL));
        *acts += 2 * side * side * sizeof(float);
    }
    return net;
}

START_TEST(test_workspace_cap)
{
    size_t acts, need = 0;
    nnp_net *net = amplifying_net(&acts);
    ck_assert_ok(nnp_workspace_bytes(net, 1, &need));
    /* at least the activations and gradients; at most those plus one layer's scratch */
    ck_assert_uint_ge(need, acts);
    ck_assert_uint_le(need, acts + 1001 * 1001 * sizeof(float) + 4096);
    size_t need8;
    ck_assert_ok(nnp_workspace_bytes(net, 8, &need8));
    ck_assert_uint_ge(need8, 8 * (acts - 4));

    ck_assert_int_eq(setenv("NNPROBE_MAX_WORKSPACE_BYTES", "16M", 1), 0);
    nnp_workspace *ws = NULL;
    ck_assert_status(nnp_workspace_create(net, 1, &ws), NNP_ENOMEM);
    ck_assert_ptr_null(ws);
    char want[160];
    snprintf(want, sizeof want, "a batch of 1 needs %zu bytes, above the workspace cap of "
                                "16777216 bytes (set NNPROBE_MAX_WORKSPACE_BYTES", need);
    ck_assert_error_has(want);
    /* a forward pass without a workspace is refused the same way, before any allocation */
    float x = 0.5f, *y = malloc(1001 * 1001 * sizeof(float));
    ck_assert_ptr_nonnull(y);
    ck_assert_status(nnp_net_forward(net, NULL, &x, 1, y), NNP_ENOMEM);
    ck_assert_error_has(want);
    /* raised above the need: it works */
    char cap[32];
    snprintf(cap, sizeof cap, "%zu", need);
    ck_assert_int_eq(setenv("NNPROBE_MAX_WORKSPACE_BYTES", cap, 1), 0);
    ck_assert_ok(nnp_workspace_create(net, 1, &ws));
    ck_assert_ok(nnp_net_forward(net, ws, &x, 1, y));
    /* growing it past the cap is refused and leaves it usable */
    float *x2 = calloc(2, sizeof(float)), *y2 = malloc(2 * 1001 * 1001 * sizeof(float));
    ck_assert_ptr_nonnull(x2);
    ck_assert_ptr_nonnull(y2);
    ck_assert_status(nnp_net_forward(net, ws, x2, 2, y2), NNP_ENOMEM);
    ck_assert_error_has("a batch of 2 needs");
    ck_assert_ok(nnp_net_forward(net, ws, &x, 1, y));
    nnp_workspace_free(ws);
    ck_assert_int_eq(unsetenv("NNPROBE_MAX_WORKSPACE_BYTES"), 0);
    ck_assert_status(nnp_workspace_bytes(net, 0, &need), NNP_EINVAL);
    ck_assert_status(nnp_workspace_bytes(NULL, 1, &need), NNP_EINVAL);
    free(y), free(x2), free(y2);
    nnp_net_free(net);
}
END_TEST

/* ---- item 7 and 9: messages ---- */

/* The small net saved as ONNX, unpacked for editing (free with free_model). */
static Onnx__ModelProto *small_model(void)
{
    char p[512];
    tu_tmp_path(p, sizeof p, "msg.onnx");
    nnp_net *net = small_net();
    ck_assert_ok(nnp_net_save_onnx(net, p));
    nnp_net_free(net);
    size_t n;
    unsigned char *b = read_all(p, &n);
    remove(p);
    Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, n, b);
    free(b);
    ck_assert_ptr_nonnull(m);
    return m;
}

static unsigned char *pack(const Onnx__ModelProto *m, size_t *n)
{
    *n = onnx__model_proto__get_packed_size(m);
    unsigned char *b = malloc(*n);
    ck_assert_ptr_nonnull(b);
    ck_assert_uint_eq(onnx__model_proto__pack(m, b), *n);
    return b;
}

START_TEST(test_names_escaped)
{
    Onnx__ModelProto *m = small_model();
    Onnx__NodeProto *node = m->graph->node[0];
    char *old_name = node->name, *old_op = node->op_type;
    node->name = (char *)"\x1b[2J";
    node->op_type = (char *)"\x1b]0;owned\x07";
    size_t n;
    unsigned char *b = pack(m, &n);
    node->name = old_name, node->op_type = old_op;
    onnx__model_proto__free_unpacked(m, NULL);
    nnp_net *net = NULL;
    ck_assert_status(nnp_net_load_onnx_memory(b, n, &net), NNP_EUNSUPPORTED);
    ck_assert_error_has("\\x1b[2J");
    ck_assert_error_has("\\x1b]0;owned\\x07");
    for (const char *c = nnp_last_error(); *c; c++)
        ck_assert_msg((unsigned char)*c >= 0x20 && *c != 0x7f, "raw byte 0x%02x in \"%s\"",
                      (unsigned char)*c, nnp_last_error());
    free(b);
}
END_TEST

/* The helper itself: what passes, what is escaped, how it cuts. */
START_TEST(test_escape_helper)
{
    char out[64];
    nnpi_escape(out, sizeof out, "plain ASCII, \"quotes\" and \\");
    ck_assert_str_eq(out, "plain ASCII, \"quotes\" and \\");
    nnpi_escape(out, sizeof out, "\x1b[2J\x07\r\n\x7f");
    ck_assert_str_eq(out, "\\x1b[2J\\x07\\x0d\\x0a\\x7f");
    /* valid UTF-8 passes (é, −, 😀); a C1 control (U+009B, CSI), a lone continuation byte, an
     * overlong encoding and a surrogate are escaped byte by byte */
    nnpi_escape(out, sizeof out, "\xc3\xa9\xe2\x88\x92\xf0\x9f\x98\x80");
    ck_assert_str_eq(out, "\xc3\xa9\xe2\x88\x92\xf0\x9f\x98\x80");
    nnpi_escape(out, sizeof out, "\xc2\x9b|\x9b|\xc0\xaf|\xed\xa0\x80");
    ck_assert_str_eq(out, "\\xc2\\x9b|\\x9b|\\xc0\\xaf|\\xed\\xa0\\x80");
    /* cut before an escape or a character that does not fit, always terminated */
    ck_assert_uint_eq(nnpi_escape(out, 6, "ab\x1b"), 2);
    ck_assert_str_eq(out, "ab");
    ck_assert_uint_eq(nnpi_escape(out, 3, "a\xc3\xa9"), 1);
    ck_assert_str_eq(out, "a");
}
END_TEST

START_TEST(test_protobuf_offset)
{
    Onnx__ModelProto *m = small_model();
    size_t n;
    unsigned char *b = pack(m, &n);
    onnx__model_proto__free_unpacked(m, NULL);
    nnp_net *net = NULL;
    /* cut in half: the graph (most of the file) has a length that runs past the end */
    ck_assert_status(nnp_net_load_onnx_memory(b, n / 2, &net), NNP_EFORMAT);
    ck_assert_error_has("at byte");
    ck_assert_error_has("onnx.ModelProto.graph, field 7");
    ck_assert_error_has("runs past the end");
    /* a wrong wire type at the first byte: ir_version (field 1, a varint) as fixed32 */
    unsigned char bad[] = {0x0d, 1, 2, 3, 4};
    ck_assert_status(nnp_net_load_onnx_memory(bad, sizeof bad, &net), NNP_EFORMAT);
    ck_assert_error_has("wire type 5 at byte 0 (onnx.ModelProto.ir_version, field 1)");
    free(b);
}
END_TEST

START_TEST(test_io_errno)
{
    nnp_net *net = NULL;
    ck_assert_status(nnp_net_load_onnx("/nonexistent/model.onnx", &net), NNP_EIO);
    ck_assert_error_has("onnx: /nonexistent/model.onnx: cannot open: No such file or directory");
    ck_assert_status(nnp_net_load_onnx("/", &net), NNP_EIO);
    ck_assert_error_has("Is a directory");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("bounds");
    TCase *t = tcase_create("bounds");
    tcase_set_timeout(t, 60);
    tcase_add_test(t, test_gzip_bomb);
    tcase_add_test(t, test_gzip_bomb_two_members);
    tcase_add_test(t, test_gzip_trailer_short);
    tcase_add_test(t, test_idx_read_cap);
    tcase_add_test(t, test_onnx_read_cap);
    tcase_add_test(t, test_onnx_dev_zero);
    tcase_add_test(t, test_workspace_cap);
    tcase_add_test(t, test_names_escaped);
    tcase_add_test(t, test_escape_helper);
    tcase_add_test(t, test_protobuf_offset);
    tcase_add_test(t, test_io_errno);
    suite_add_tcase(s, t);
    return tu_run(s);
}
