/* Pooling layers (max, average, global average): forward against a naive double-precision
 * reference written here (signed window arithmetic, a cell-by-cell bounds test: nothing
 * shared with lib/net/layer_pool.c), tie and NaN rules of max pooling at exact positions,
 * input gradients against central finite differences of that reference, the accumulate
 * contract of backward_input, option validation and allocation failures. ceil_mode follows
 * PyTorch's pooling_output_shape (aten/src/ATen/native/Pool.h: ceil division, then one less if
 * the last window starts at or past input + left padding) and avg_pool2d's divisor with
 * count_include_pad (the window clipped to the padded input), rewritten here in signed
 * arithmetic.
 *
 * Tolerances: max pooling returns one of its inputs, so its forward is compared exactly.
 * Averages are float sums of ≤ 36 terms of magnitude ≤ 1: error ≤ 35·2^-24 ≈ 2.1e-6, so 3e-6.
 * Gradients: as tests/test_grad.c (FD in double with step 1e-5 is exact to ~1e-9 on these
 * piecewise-linear maps, so the bound 2e-5 relative to max(1, max |g|) measures float
 * rounding only). Inputs for max pooling are a permutation of values spaced ≥ 0.009 apart,
 * so no argmax changes within the FD step. */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>

#include "core/core.h"
#include "net/net_internal.h"
#include "refnet.h"
#include "testutil.h"

#define TOL 2e-5
#define FD_STEP 1e-5

/* ---- the reference ---- */

typedef enum op_kind { OP_MAX, OP_AVG, OP_GAP, OP_DENSE } op_kind;

/* One layer of a sequential test net. Pool fields as nnp_net_pool2d_opts; C, H, W is the layer's
 * input shape, filled while building. */
typedef struct op_spec {
    op_kind op;
    size_t kh, kw, sh, sw, pt, pl, pb, pr;
    int cip;
    int ceil;       /* ceil_mode */
    size_t units;   /* dense */
    size_t C, H, W; /* input shape */
} op_spec;

static size_t ref_len(size_t in, size_t k, size_t s, size_t a, size_t b, int ceil_mode)
{
    long span = (long)in + (long)a + (long)b - (long)k;
    ck_assert_int_ge(span, 0);
    if (!ceil_mode) return (size_t)(span / (long)s) + 1;
    long len = (span + (long)s - 1) / (long)s + 1;
    if ((len - 1) * (long)s >= (long)in + (long)a) len--;
    return (size_t)len;
}

static void ref_out_shape(const op_spec *p, size_t *C, size_t *H, size_t *W)
{
    *C = p->op == OP_DENSE ? p->units : p->C;
    if (p->op == OP_MAX || p->op == OP_AVG) {
        *H = ref_len(p->H, p->kh, p->sh, p->pt, p->pb, p->ceil);
        *W = ref_len(p->W, p->kw, p->sw, p->pl, p->pr, p->ceil);
    } else {
        *H = *W = 1;
    }
}

/* Pooling of one example. For max, arg (if not NULL) receives the index of the first maximal
 * real cell of each window in row-major order (padding cells are skipped, never compared). */
static void ref_pool(const op_spec *p, const double *x, double *y, long *arg)
{
    size_t C, OH, OW;
    ref_out_shape(p, &C, &OH, &OW);
    const long H = (long)p->H, W = (long)p->W;
    for (size_t c = 0; c < p->C; c++)
        for (size_t oh = 0; oh < OH; oh++)
            for (size_t ow = 0; ow < OW; ow++) {
                const long r0 = (long)(oh * p->sh) - (long)p->pt;
                const long c0 = (long)(ow * p->sw) - (long)p->pl;
                double best = 0, sum = 0;
                long at = -1, count = 0, padded = 0;
                for (long i = 0; i < (long)p->kh; i++)
                    for (long j = 0; j < (long)p->kw; j++) {
                        const long r = r0 + i, col = c0 + j;
                        /* cells inside the padded input: count_include_pad's divisor */
                        if (r < H + (long)p->pb && col < W + (long)p->pr) padded++;
                        if (r < 0 || r >= H || col < 0 || col >= W) continue;
                        const long idx = (long)c * H * W + r * W + col;
                        count++;
                        sum += x[idx];
                        if (at < 0 || x[idx] > best) {
                            best = x[idx];
                            at = idx;
                        }
                    }
                ck_assert_int_gt(count, 0);
                const size_t o = (c * OH + oh) * OW + ow;
                if (p->op == OP_MAX) {
                    y[o] = best;
                    if (arg) arg[o] = at;
                } else {
                    y[o] = sum / (double)(p->cip ? padded : count);
                }
            }
}

static void ref_gap(const op_spec *p, const double *x, double *y)
{
    for (size_t c = 0; c < p->C; c++) {
        double s = 0;
        for (size_t i = 0; i < p->H * p->W; i++) s += x[c * p->H * p->W + i];
        y[c] = s / (double)(p->H * p->W);
    }
}

typedef struct ref_net {
    const nnp_net *net;
    const op_spec *ops;
    size_t n_ops;
    size_t upto;       /* forward through ops[0 .. upto-1] */
    const float *v;    /* cotangent for the VJP objective, or NULL for the loss */
    int32_t label;
} ref_net;

/* Output of ops[0..upto-1] for one example; returns its size; out holds ≥ 4096 values. */
static size_t ref_run(const ref_net *r, const double *x, double *out)
{
    double a[4096], b[4096];
    size_t m = r->ops[0].C * r->ops[0].H * r->ops[0].W;
    for (size_t i = 0; i < m; i++) a[i] = x[i];
    for (size_t l = 0; l < r->upto; l++) {
        const op_spec *p = &r->ops[l];
        size_t C, H, W;
        ref_out_shape(p, &C, &H, &W);
        const size_t in = m;
        m = C * H * W;
        ck_assert_uint_le(m, 4096);
        if (p->op == OP_MAX || p->op == OP_AVG) {
            ref_pool(p, a, b, NULL);
        } else if (p->op == OP_GAP) {
            ref_gap(p, a, b);
        } else {
            float w[4096], bias[64];
            ck_assert_uint_le(m * in, 4096);
            ck_assert_ok(nnp_net_get_params(r->net, l + 1, w, bias));
            for (size_t o = 0; o < m; o++) {
                double s = bias[o];
                for (size_t i = 0; i < in; i++) s += (double)w[o * in + i] * a[i];
                b[o] = s;
            }
        }
        for (size_t i = 0; i < m; i++) a[i] = b[i];
    }
    for (size_t i = 0; i < m; i++) out[i] = a[i];
    return m;
}

/* v·φ(x) when r->v is set, else the softmax cross-entropy of the logits for r->label. */
static double ref_objective(void *ctx, const double *x)
{
    const ref_net *r = ctx;
    double y[4096];
    const size_t m = ref_run(r, x, y);
    if (r->v) {
        double s = 0;
        for (size_t i = 0; i < m; i++) s += r->v[i] * y[i];
        return s;
    }
    double mx = y[0], s = 0;
    for (size_t i = 1; i < m; i++) mx = y[i] > mx ? y[i] : mx;
    for (size_t i = 0; i < m; i++) s += exp(y[i] - mx);
    return mx + log(s) - y[r->label];
}

/* ---- building ---- */

static nnp_net_pool2d_opts pool_opts(const op_spec *p)
{
    nnp_net_pool2d_opts o;
    ck_assert_ok(nnp_net_pool2d_opts_init(&o));
    o.kernel_h = p->kh, o.kernel_w = p->kw, o.stride_h = p->sh, o.stride_w = p->sw;
    o.pad_top = p->pt, o.pad_left = p->pl, o.pad_bottom = p->pb, o.pad_right = p->pr;
    o.count_include_pad = p->cip;
    o.ceil_mode = p->ceil;
    return o;
}

/* Builds input C×H×W → ops (filling their input shapes), checking each layer's shape against
 * the reference; dense layers get seeded weights and non-zero biases. */
static nnp_net *build(size_t C, size_t H, size_t W, op_spec *ops, size_t n_ops, uint64_t seed)
{
    nnp_net *net = NULL;
    ck_assert_ok(nnp_net_create(C, H, W, &net));
    for (size_t l = 0; l < n_ops; l++) {
        op_spec *p = &ops[l];
        p->C = C, p->H = H, p->W = W;
        nnp_net_pool2d_opts o = pool_opts(p);
        size_t index = 0;
        switch (p->op) {
        case OP_MAX: ck_assert_ok(nnp_net_add_maxpool2d(net, &o, &index)); break;
        case OP_AVG: ck_assert_ok(nnp_net_add_avgpool2d(net, &o, &index)); break;
        case OP_GAP: ck_assert_ok(nnp_net_add_global_avgpool(net, &index)); break;
        case OP_DENSE: ck_assert_ok(nnp_net_add_dense(net, p->units, &index)); break;
        }
        ck_assert_uint_eq(index, l + 1);
        ref_out_shape(p, &C, &H, &W);
        nnp_layer_info info = {.size = sizeof info};
        ck_assert_ok(nnp_net_layer_info(net, index, &info));
        ck_assert_uint_eq(info.channels, C);
        ck_assert_uint_eq(info.height, H);
        ck_assert_uint_eq(info.width, W);
        ck_assert_uint_eq(info.output_size, C * H * W);
        ck_assert_uint_eq(info.n_inputs, 1);
        ck_assert_uint_eq(info.inputs[0], l);
        if (p->op == OP_MAX || p->op == OP_AVG) ck_assert_int_eq(info.ceil_mode, p->ceil);
        if (p->op != OP_DENSE) {
            ck_assert_uint_eq(info.weight_count, 0);
            ck_assert_uint_eq(info.bias_count, 0);
            const nnp_layer_kind want = p->op == OP_MAX   ? NNP_LAYER_MAXPOOL
                                        : p->op == OP_AVG ? NNP_LAYER_AVGPOOL
                                                          : NNP_LAYER_GLOBAL_AVGPOOL;
            ck_assert_int_eq(info.kind, want);
        }
    }
    ck_assert_ok(nnp_net_init_params(net, seed));
    for (size_t l = 0; l < n_ops; l++) {
        if (ops[l].op != OP_DENSE) continue;
        float b[64];
        tu_fill_uniform(b, ops[l].units, -0.5f, 0.5f, seed + l);
        ck_assert_ok(nnp_net_set_params(net, l + 1, NULL, b));
    }
    return net;
}

/* Distinct values spaced ≥ 0.9/d apart in [0.05, 0.95): a shuffled ramp. */
static void fill_distinct(float *x, size_t d, uint64_t seed)
{
    for (size_t i = 0; i < d; i++) x[i] = 0.05f + 0.9f * (float)i / (float)d;
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
    for (size_t i = d - 1; i > 0; i--) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        size_t j = (size_t)((s >> 33) % (i + 1));
        float t = x[i];
        x[i] = x[j];
        x[j] = t;
    }
}

/* ---- shapes used throughout ---- */

typedef struct shape_case {
    const char *what;
    size_t H, W, kh, kw, sh, sw, pt, pl, pb, pr;
    int ceil;
} shape_case;

static const shape_case cases[] = {
    {"3x3 stride 1 (overlapping)", 7, 5, 3, 3, 1, 1, 0, 0, 0, 0, 0},
    {"3x3 stride 2 pad 1, width does not divide", 8, 6, 3, 3, 2, 2, 1, 1, 1, 1, 0},
    {"asymmetric padding, 3x2 stride 2x1", 8, 7, 3, 2, 2, 1, 2, 0, 0, 1, 0},
    {"kernel != stride, 2x3 stride 3x2", 9, 10, 2, 3, 3, 2, 0, 1, 1, 0, 0},
    {"odd sizes with leftover rows/columns", 5, 9, 3, 3, 2, 2, 0, 0, 0, 0, 0},
    {"window = whole plane", 6, 6, 6, 6, 1, 1, 0, 0, 0, 0, 0},
    {"2x2 stride 2 pad 1", 4, 5, 2, 2, 2, 2, 1, 1, 1, 1, 0},
    {"1x1 (identity)", 3, 3, 1, 1, 1, 1, 0, 0, 0, 0, 0},
    {"pad = kernel - 1: corner windows hold one real cell", 5, 4, 3, 3, 2, 3, 2, 2, 2, 2, 0},
    /* ceil_mode: the last window runs past the (padded) end and is clipped */
    {"ceil: 3x3 stride 2 on 8x9 (squeezenet's pools)", 8, 9, 3, 3, 2, 2, 0, 0, 0, 0, 1},
    {"ceil: 2x2 stride 2 on odd 5x7 (not the fast path)", 5, 7, 2, 2, 2, 2, 0, 0, 0, 0, 1},
    {"ceil with padding: a window that would start in the bottom padding is dropped, the "
     "last column window is clipped to the padded input", 5, 6, 2, 3, 2, 2, 1, 1, 1, 1, 1},
    {"ceil: stride 3 > kernel 2, asymmetric padding", 7, 8, 2, 2, 3, 3, 0, 1, 1, 0, 1},
};
#define N_CASES (sizeof cases / sizeof cases[0])

static op_spec case_op(const shape_case *s, op_kind op, int cip)
{
    op_spec p = {.op = op, .kh = s->kh, .kw = s->kw, .sh = s->sh, .sw = s->sw, .pt = s->pt,
                 .pl = s->pl, .pb = s->pb, .pr = s->pr, .cip = cip, .ceil = s->ceil};
    return p;
}

/* ---- forward ---- */

/* _i = case × {max, avg, avg counting padding}; batch 3, 2 channels. Inputs reach below zero,
 * so a max that let zero padding win would differ from the reference at the borders. */
START_TEST(forward_matches_reference)
{
    const shape_case *sc = &cases[_i / 3];
    const int mode = _i % 3;
    op_spec ops[1] = {case_op(sc, mode == 0 ? OP_MAX : OP_AVG, mode == 2)};
    nnp_net *net = build(2, sc->H, sc->W, ops, 1, 1);
    const size_t n = 3, d = nnp_net_input_size(net), m = nnp_net_output_size(net);
    float *x = malloc(n * d * sizeof *x), *y = malloc(n * m * sizeof *y);
    tu_fill_uniform(x, n * d, -1.0f, 0.25f, 100 + (uint64_t)_i);
    ck_assert_ok(nnp_net_forward(net, NULL, x, n, y));
    ref_net r = {.net = net, .ops = ops, .n_ops = 1, .upto = 1};
    for (size_t e = 0; e < n; e++) {
        double xd[512], want[4096];
        for (size_t j = 0; j < d; j++) xd[j] = x[e * d + j];
        ck_assert_uint_eq(ref_run(&r, xd, want), m);
        for (size_t o = 0; o < m; o++) {
            const float got = y[e * m + o];
            if (mode == 0)
                ck_assert_msg(got == (float)want[o], "%s: example %zu out %zu: %g, want %g",
                              sc->what, e, o, (double)got, want[o]);
            else
                ck_assert_msg(fabs(got - want[o]) <= 3e-6,
                              "%s (count_include_pad %d): example %zu out %zu: %.9g, want %.9g",
                              sc->what, mode == 2, e, o, (double)got, want[o]);
        }
    }
    free(x);
    free(y);
    nnp_net_free(net);
}
END_TEST

/* 2×2 input [1 2; 3 4], 2×2 windows, stride 1, padding 1 all round: 3×3 output. By hand:
 * corners see one cell, edges two, the centre all four. */
START_TEST(avg_count_include_pad_by_hand)
{
    const float x[4] = {1, 2, 3, 4};
    const float excl[9] = {1, 1.5f, 2, 2, 2.5f, 3, 3, 3.5f, 4};
    const float incl[9] = {0.25f, 0.75f, 0.5f, 1, 2.5f, 1.5f, 0.75f, 1.75f, 1};
    for (int cip = 0; cip <= 1; cip++) {
        nnp_net *net = NULL;
        ck_assert_ok(nnp_net_create(1, 2, 2, &net));
        nnp_net_pool2d_opts o;
        ck_assert_ok(nnp_net_pool2d_opts_init(&o));
        o.stride_h = o.stride_w = 1;
        o.pad_top = o.pad_left = o.pad_bottom = o.pad_right = 1;
        o.count_include_pad = cip;
        ck_assert_ok(nnp_net_add_avgpool2d(net, &o, NULL));
        float y[9], dx[4];
        ck_assert_ok(nnp_net_forward(net, NULL, x, 1, y));
        for (int i = 0; i < 9; i++) ck_assert_float_eq_tol(y[i], cip ? incl[i] : excl[i], 1e-7f);
        /* all-ones cotangent: cell (0,0) is in windows (0,0),(0,1),(1,0),(1,1) whose real
         * cell counts are 1,2,2,4 → 1 + 1/2 + 1/2 + 1/4; with padding counted, 4 × 1/4 */
        const float v[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
        ck_assert_ok(nnp_grad_vjp(net, NULL, x, 1, 1, v, dx));
        for (int i = 0; i < 4; i++) ck_assert_float_eq_tol(dx[i], cip ? 1.0f : 2.25f, 1e-7f);
        nnp_net_free(net);
    }
}
END_TEST

/* A window partly in padding over negative inputs: the maximum is a real cell, never 0. */
START_TEST(max_padding_never_wins)
{
    nnp_net *net = NULL;
    ck_assert_ok(nnp_net_create(1, 2, 3, &net));
    nnp_net_pool2d_opts o;
    ck_assert_ok(nnp_net_pool2d_opts_init(&o));
    o.kernel_h = o.kernel_w = 3;
    o.stride_h = o.stride_w = 1;
    o.pad_top = o.pad_left = o.pad_bottom = o.pad_right = 2;
    ck_assert_ok(nnp_net_add_maxpool2d(net, &o, NULL));
    const float x[6] = {-6, -5, -4, -3, -2, -1};
    float y[4 * 5];
    ck_assert_ok(nnp_net_forward(net, NULL, x, 1, y));
    for (int i = 0; i < 20; i++) ck_assert_float_lt(y[i], 0.0f);
    ck_assert_float_eq(y[0], -6.0f); /* top-left window holds cell (0,0) only */
    ck_assert_float_eq(y[19], -1.0f); /* bottom-right holds (1,2) only */
    nnp_net_free(net);
}
END_TEST

/* ---- the 2×2 stride-2 path against the reference ---- */

/* _i picks a shape; the pools are 2×2 stride 2 unpadded (the layer's branch-free path, even
 * and odd sizes, whose leftover row/column gets no gradient) and, on the same data, 2×2 stride
 * 2 with padding bottom/right 1 (the general path). Values are drawn from {0, 1, 2}, so most
 * windows hold ties; the batch has enough planes that at 2+ threads the planes are split
 * (nnpi_threads_for), and the results must be the same at 1 and 2 threads. Forward and the
 * VJP (one cotangent per output; each input cell gets the cotangent of the windows whose
 * first maximum it is, overwritten and accumulated) are compared exactly. */
START_TEST(max2x2_matches_reference_with_ties)
{
    static const size_t shapes[][2] = {{4, 6}, {5, 7}, {7, 4}, {3, 3}, {2, 9}};
    const size_t H = shapes[_i / 2][0], W = shapes[_i / 2][1], C = 8, n = 100;
    const size_t pad = (size_t)(_i % 2);
    op_spec ops[1] = {{.op = OP_MAX, .kh = 2, .kw = 2, .sh = 2, .sw = 2, .pb = pad, .pr = pad}};
    nnp_net *net = build(C, H, W, ops, 1, 1);
    const size_t d = nnp_net_input_size(net), m = nnp_net_output_size(net);
    float *x = malloc(n * d * sizeof *x), *v = malloc(n * m * sizeof *v);
    float *y = malloc(n * m * sizeof *y), *dx = malloc(n * d * sizeof *dx);
    double *want_dx = malloc(d * sizeof *want_dx);
    ck_assert_ptr_nonnull(x);
    ck_assert_ptr_nonnull(v);
    ck_assert_ptr_nonnull(y);
    ck_assert_ptr_nonnull(dx);
    ck_assert_ptr_nonnull(want_dx);
    tu_fill_uniform(x, n * d, 0.0f, 3.0f, 7 + (uint64_t)_i);
    for (size_t j = 0; j < n * d; j++) x[j] = floorf(x[j]); /* 0, 1, 2: ties */
    tu_fill_uniform(v, n * m, -1.0f, 1.0f, 9 + (uint64_t)_i);
    for (size_t threads = 1; threads <= 2; threads++) {
        ck_assert_ok(nnp_threads_set(threads));
        ck_assert_ok(nnp_net_forward(net, NULL, x, n, y));
        ck_assert_ok(nnp_grad_vjp(net, NULL, x, n, 1, v, dx));
        for (size_t e = 0; e < n; e++) {
            double xd[4096], want[4096];
            long arg[4096];
            for (size_t j = 0; j < d; j++) xd[j] = x[e * d + j], want_dx[j] = 0;
            ref_pool(&ops[0], xd, want, arg);
            for (size_t o = 0; o < m; o++) {
                ck_assert_msg(y[e * m + o] == (float)want[o],
                              "%zux%zu pad %zu, %zu threads: example %zu out %zu: %g, want %g",
                              H, W, pad, threads, e, o, (double)y[e * m + o], want[o]);
                want_dx[arg[o]] += v[e * m + o];
            }
            for (size_t j = 0; j < d; j++)
                ck_assert_msg(dx[e * d + j] == (float)want_dx[j],
                              "%zux%zu pad %zu, %zu threads: example %zu dx %zu: %g, want %g", H,
                              W, pad, threads, e, j, (double)dx[e * d + j], want_dx[j]);
        }
    }
    ck_assert_ok(nnp_threads_set(0));
    free(x), free(v), free(y), free(dx), free(want_dx);
    nnp_net_free(net);
}
END_TEST

/* ---- max-pooling ties and NaN ---- */

static nnp_net *one_pool(size_t H, size_t W, size_t k, size_t s, size_t pad)
{
    nnp_net *net = NULL;
    ck_assert_ok(nnp_net_create(1, H, W, &net));
    nnp_net_pool2d_opts o;
    ck_assert_ok(nnp_net_pool2d_opts_init(&o));
    o.kernel_h = o.kernel_w = k;
    o.stride_h = o.stride_w = s;
    o.pad_top = o.pad_left = o.pad_bottom = o.pad_right = pad;
    ck_assert_ok(nnp_net_add_maxpool2d(net, &o, NULL));
    return net;
}

/* Constant input: every cell ties, so each window's gradient lands on its first real cell. */
START_TEST(max_ties_go_to_first_cell)
{
    /* 4×4, 2×2 stride 2: first cells (0,0) (0,2) (2,0) (2,2); cotangent 1..4 */
    nnp_net *net = one_pool(4, 4, 2, 2, 0);
    float x[16], dx[16];
    for (int i = 0; i < 16; i++) x[i] = 0.5f;
    const float v[4] = {1, 2, 3, 4};
    ck_assert_ok(nnp_grad_vjp(net, NULL, x, 1, 1, v, dx));
    float want[16] = {0};
    want[0] = 1, want[2] = 2, want[8] = 3, want[10] = 4;
    ck_assert_mem_eq(dx, want, sizeof want);
    nnp_net_free(net);

    /* 5×5, 3×3 stride 2 pad 1: windows start at rows/columns −1, 1, 3, so their first real
     * cells are at rows/columns 0, 1, 3 (the top-left window's (−1,−1) is padding) */
    net = one_pool(5, 5, 3, 2, 1);
    float x5[25], dx5[25], v9[9], want5[25] = {0};
    for (int i = 0; i < 25; i++) x5[i] = -2.0f;
    for (int i = 0; i < 9; i++) v9[i] = (float)(i + 1);
    const int first[3] = {0, 1, 3};
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 3; b++) want5[first[a] * 5 + first[b]] = (float)(a * 3 + b + 1);
    ck_assert_ok(nnp_grad_vjp(net, NULL, x5, 1, 1, v9, dx5));
    ck_assert_mem_eq(dx5, want5, sizeof want5);
    float y9[9];
    ck_assert_ok(nnp_net_forward(net, NULL, x5, 1, y9));
    for (int i = 0; i < 9; i++) ck_assert_float_eq(y9[i], -2.0f);
    nnp_net_free(net);

    /* a tie that is not at the window's start: [0 5; 5 1] → (0,1), first in row-major order;
     * [3 1; 7 7] → (1,0) */
    net = one_pool(2, 4, 2, 2, 0);
    const float xt[8] = {0, 5, 3, 1, 5, 1, 7, 7};
    float dxt[8], yt[2];
    const float vt[2] = {1, 1};
    ck_assert_ok(nnp_net_forward(net, NULL, xt, 1, yt));
    ck_assert_float_eq(yt[0], 5.0f);
    ck_assert_float_eq(yt[1], 7.0f);
    ck_assert_ok(nnp_grad_vjp(net, NULL, xt, 1, 1, vt, dxt));
    const float wantt[8] = {0, 1, 0, 0, 0, 0, 1, 0};
    ck_assert_mem_eq(dxt, wantt, sizeof wantt);
    nnp_net_free(net);
}
END_TEST

/* Overlapping windows: a cell that is the maximum of several windows receives the sum of their
 * gradients, also when the pass overwrites (the input gradient here is the caller's dx,
 * pre-filled with garbage by the test). */
START_TEST(max_overlap_sums_gradients)
{
    nnp_net *net = one_pool(3, 3, 2, 1, 0); /* 2×2 output, every window holds the centre */
    const float x[9] = {1, 2, 3, 4, 9, 5, 6, 7, 8};
    const float v[4] = {1, 2, 3, 4};
    float dx[9], y[4];
    for (int i = 0; i < 9; i++) dx[i] = 1000.0f;
    ck_assert_ok(nnp_net_forward(net, NULL, x, 1, y));
    for (int i = 0; i < 4; i++) ck_assert_float_eq(y[i], 9.0f);
    ck_assert_ok(nnp_grad_vjp(net, NULL, x, 1, 1, v, dx));
    const float want[9] = {0, 0, 0, 0, 10, 0, 0, 0, 0};
    ck_assert_mem_eq(dx, want, sizeof want);

    /* ties and overlap together: constant 3×3, 2×2 stride 1: the first cells of the four
     * windows are (0,0) (0,1) (1,0) (1,1), each window's own */
    const float c[9] = {2, 2, 2, 2, 2, 2, 2, 2, 2};
    ck_assert_ok(nnp_grad_vjp(net, NULL, c, 1, 1, v, dx));
    const float want_c[9] = {1, 2, 0, 3, 4, 0, 0, 0, 0};
    ck_assert_mem_eq(dx, want_c, sizeof want_c);
    nnp_net_free(net);
}
END_TEST

/* Max pooling: NaN wins its window (the output is NaN, as in PyTorch) and the first NaN takes
 * the gradient; other windows are unaffected. Averages propagate NaN arithmetically. The
 * queries refuse NaN input (test_nonfinite.c), so the layer is run unchecked. */
START_TEST(max_nan_propagates)
{
    nnp_net *net = one_pool(2, 6, 2, 2, 0);
    const float x[12] = {1, NAN, NAN, 5, 4, 6, /* row 1 */ 3, 2, NAN, 0, 7, 6};
    float y[3], dx[12];
    const float v[3] = {1, 2, 3};
    tu_pass_unchecked(net, x, 1, 1, y, v, dx);
    ck_assert(isnan(y[0]));
    ck_assert(isnan(y[1]));
    ck_assert_float_eq(y[2], 7.0f);
    const float want[12] = {0, 1, 2, 0, 0, 0, 0, 0, 0, 0, 3, 0};
    ck_assert_mem_eq(dx, want, sizeof want);
    nnp_net_free(net);

    /* averages: a NaN reaches every window that holds it, and no other */
    ck_assert_ok(nnp_net_create(1, 2, 6, &net));
    nnp_net_pool2d_opts o;
    ck_assert_ok(nnp_net_pool2d_opts_init(&o));
    o.kernel_w = 3, o.stride_w = 2; /* windows cover columns 0-2 and 2-4 */
    ck_assert_ok(nnp_net_add_avgpool2d(net, &o, NULL));
    const float xa[12] = {1, 2, 3, 4, 5, 6, /* row 1 */ 1, 1, 1, 1, NAN, 1};
    float ya[2];
    tu_pass_unchecked(net, xa, 1, 1, ya, NULL, NULL);
    ck_assert_float_eq_tol(ya[0], 1.5f, 1e-6f);
    ck_assert(isnan(ya[1]));
    nnp_net_free(net);
}
END_TEST

/* ---- gradients ---- */

/* Checks dx (n examples of d values) against FD of the reference objective. */
static void check_fd(ref_net *r, const float *x, const float *dx, size_t n, size_t d,
                     const int32_t *labels, const float *v, size_t vsize, const char *what)
{
    double *xd = malloc(d * sizeof *xd), *g = malloc(d * sizeof *g);
    for (size_t e = 0; e < n; e++) {
        for (size_t j = 0; j < d; j++) xd[j] = x[e * d + j];
        if (labels) r->label = labels[e];
        r->v = v ? v + e * vsize : NULL;
        ref_fd_grad(ref_objective, r, xd, d, FD_STEP, g);
        const double err = ref_rel_err(dx + e * d, g, d);
        ck_assert_msg(err < TOL, "%s: example %zu: gradient error %g >= %g", what, e, err, TOL);
        /* the check has teeth: the gradient is not identically zero */
        double gmax = 0;
        for (size_t j = 0; j < d; j++) gmax = fmax(gmax, fabs(g[j]));
        ck_assert_msg(gmax > 1e-3, "%s: reference gradient vanishes", what);
    }
    free(xd);
    free(g);
}

/* input 2×H×W → pool → dense(4): d loss/dx through nnp_grad_loss, and J_poolᵀ v through
 * nnp_grad_vjp at the pool layer; _i = case × {max, avg, avg counting padding}. */
START_TEST(fd_pool_gradients)
{
    const shape_case *sc = &cases[_i / 3];
    const int mode = _i % 3;
    op_spec ops[2] = {case_op(sc, mode == 0 ? OP_MAX : OP_AVG, mode == 2),
                      {.op = OP_DENSE, .units = 4}};
    nnp_net *net = build(2, sc->H, sc->W, ops, 2, 30 + (uint64_t)_i);
    const size_t n = 3, d = nnp_net_input_size(net);
    nnp_layer_info info = {.size = sizeof info};
    ck_assert_ok(nnp_net_layer_info(net, 1, &info));
    const size_t m = info.output_size;
    float *x = malloc(n * d * sizeof *x), *dx = malloc(n * d * sizeof *dx);
    float *v = malloc(n * m * sizeof *v);
    for (size_t e = 0; e < n; e++) fill_distinct(x + e * d, d, 7 * (uint64_t)_i + e);
    const int32_t labels[3] = {0, 3, 1};
    ref_net r = {.net = net, .ops = ops, .n_ops = 2, .upto = 2};
    ck_assert_ok(nnp_grad_loss(net, NULL, x, labels, n, dx, NULL, NULL));
    check_fd(&r, x, dx, n, d, labels, NULL, 0, sc->what);

    tu_fill_uniform(v, n * m, -1.0f, 1.0f, 200 + (uint64_t)_i);
    ck_assert_ok(nnp_grad_vjp(net, NULL, x, n, 1, v, dx));
    r.upto = 1;
    check_fd(&r, x, dx, n, d, NULL, v, m, sc->what);
    free(x);
    free(dx);
    free(v);
    nnp_net_free(net);
}
END_TEST

/* Global average pooling alone and in a chain max → avg → global → dense. */
START_TEST(fd_global_avgpool)
{
    op_spec ops[2] = {{.op = OP_GAP}, {.op = OP_DENSE, .units = 3}};
    nnp_net *net = build(3, 4, 5, ops, 2, 50);
    const size_t n = 2, d = nnp_net_input_size(net);
    float x[2 * 60], dx[2 * 60], y[2 * 3], v[2 * 3];
    fill_distinct(x, n * d, 3);
    /* forward: the per-channel mean */
    ck_assert_ok(nnp_net_forward_layer(net, NULL, x, n, 1, y));
    for (size_t e = 0; e < n; e++)
        for (size_t c = 0; c < 3; c++) {
            double s = 0;
            for (size_t i = 0; i < 20; i++) s += x[e * d + c * 20 + i];
            ck_assert_double_eq_tol(y[e * 3 + c], s / 20, 1e-7);
        }
    const int32_t labels[2] = {2, 0};
    ref_net r = {.net = net, .ops = ops, .n_ops = 2, .upto = 2};
    ck_assert_ok(nnp_grad_loss(net, NULL, x, labels, n, dx, NULL, NULL));
    check_fd(&r, x, dx, n, d, labels, NULL, 0, "global avgpool → dense");
    tu_fill_uniform(v, n * 3, -1.0f, 1.0f, 4);
    ck_assert_ok(nnp_grad_vjp(net, NULL, x, n, 1, v, dx));
    r.upto = 1;
    check_fd(&r, x, dx, n, d, NULL, v, 3, "global avgpool VJP");
    nnp_net_free(net);

    op_spec chain[4] = {{.op = OP_MAX, .kh = 3, .kw = 3, .sh = 1, .sw = 2, .pt = 1, .pl = 1,
                         .pb = 1, .pr = 1},
                        {.op = OP_AVG, .kh = 2, .kw = 2, .sh = 1, .sw = 1, .pb = 1, .cip = 1},
                        {.op = OP_GAP},
                        {.op = OP_DENSE, .units = 3}};
    net = build(2, 5, 6, chain, 4, 51);
    const size_t d2 = nnp_net_input_size(net);
    float x2[2 * 60], dx2[2 * 60];
    for (size_t e = 0; e < n; e++) fill_distinct(x2 + e * d2, d2, 10 + e);
    ref_net r2 = {.net = net, .ops = chain, .n_ops = 4, .upto = 4};
    ck_assert_ok(nnp_grad_loss(net, NULL, x2, labels, n, dx2, NULL, NULL));
    check_fd(&r2, x2, dx2, n, d2, labels, NULL, 0, "max → avg → global → dense");
    nnp_net_free(net);
}
END_TEST

/* ---- accumulate contract ---- */

/* Calls the ops table directly: with accumulate = 1 the gradient is added to what the buffer
 * held; with 0 the buffer's previous contents (garbage) are gone. Overlapping windows (3×3
 * stride 1 on 4×5, pad 1) make several windows write one cell, so overwriting must zero first.
 * The expected gradient is the reference's, by finite differences. */
START_TEST(backward_accumulate_flag)
{
    const op_kind kinds[3] = {OP_MAX, OP_AVG, OP_GAP};
    for (int k = 0; k < 3; k++) {
        op_spec ops[1] = {{.op = kinds[k], .kh = 3, .kw = 3, .sh = 1, .sw = 1, .pt = 1, .pl = 1,
                           .pb = 1, .pr = 1}};
        nnp_net *net = build(2, 4, 5, ops, 1, 1);
        const nnpi_node *node = &net->nodes[1];
        const size_t n = 2, d = 40, m = node->out_size;
        float x[80], y[80], dy[80], buf[80], want[80];
        fill_distinct(x, n * d, 5);
        tu_fill_uniform(dy, n * m, -1.0f, 1.0f, 6);
        ref_net r = {.net = net, .ops = ops, .n_ops = 1, .upto = 1};
        for (size_t e = 0; e < n; e++) {
            double xd[40], g[40];
            for (size_t j = 0; j < d; j++) xd[j] = x[e * d + j];
            r.v = dy + e * m;
            ref_fd_grad(ref_objective, &r, xd, d, FD_STEP, g);
            for (size_t j = 0; j < d; j++) want[e * d + j] = (float)g[j];
        }
        const float *in[1] = {x};
        float *din[1] = {buf};
        node->ops->forward(node, NULL, in, y, n, NULL);
        const unsigned char overwrite[1] = {0}, add[1] = {1};
        for (size_t i = 0; i < n * d; i++) buf[i] = 1e3f + (float)i;
        node->ops->backward_input(node, NULL, in, y, dy, din, n, overwrite, NULL);
        for (size_t i = 0; i < n * d; i++)
            ck_assert_msg(fabsf(buf[i] - want[i]) < 1e-5f,
                          "kind %d, overwrite, cell %zu: %g, want %g", k, i, (double)buf[i],
                          (double)want[i]);
        for (size_t i = 0; i < n * d; i++) buf[i] = 0.5f * (float)i;
        node->ops->backward_input(node, NULL, in, y, dy, din, n, add, NULL);
        for (size_t i = 0; i < n * d; i++)
            ck_assert_msg(fabsf(buf[i] - 0.5f * (float)i - want[i]) < 1e-5f,
                          "kind %d, accumulate, cell %zu: %g, want %g + %g", k, i,
                          (double)buf[i], 0.5 * (double)i, (double)want[i]);
        nnp_net_free(net);
    }
}
END_TEST

/* The same contract through a pass: node 1 (tanh) feeds a max pool and an average pool whose
 * outputs are added; the second consumer in backward order adds to the first's gradient. Both
 * orders of the branches, a reused workspace (stale gradient buffers), overlapping windows. */
typedef struct branch_ctx {
    int tanh; /* the branches read tanh(x) (else x itself) */
    const float *v;
} branch_ctx;

static op_spec branch_max = {.op = OP_MAX, .kh = 3, .kw = 3, .sh = 1, .sw = 1, .pt = 1, .pl = 1,
                             .pb = 1, .pr = 1, .C = 2, .H = 4, .W = 5};
static op_spec branch_avg = {.op = OP_AVG, .kh = 2, .kw = 3, .sh = 1, .sw = 1, .pt = 1, .pl = 1,
                             .pb = 0, .pr = 1, .C = 2, .H = 4, .W = 5};

static double branch_objective(void *p, const double *x)
{
    const branch_ctx *c = p;
    double t[40], a[40], b[40], s = 0;
    for (int i = 0; i < 40; i++) t[i] = c->tanh ? tanh(x[i]) : x[i];
    ref_pool(&branch_max, t, a, NULL);
    ref_pool(&branch_avg, t, b, NULL);
    for (int i = 0; i < 40; i++) s += c->v[i] * (a[i] + b[i]);
    return s;
}

START_TEST(accumulate_through_branches)
{
    for (int max_first = 0; max_first <= 1; max_first++) {
        nnp_net *net = NULL;
        size_t t, p1, p2, sum;
        ck_assert_ok(nnp_net_create(2, 4, 5, &net));
        ck_assert_ok(nnp_net_add_activation(net, NNP_LAYER_TANH, &t));
        nnp_net_pool2d_opts om = pool_opts(&branch_max), oa = pool_opts(&branch_avg);
        if (max_first) {
            ck_assert_ok(nnp_net_add_maxpool2d(net, &om, &p1));
            ck_assert_ok(nnp_net_branch_from(net, t));
            ck_assert_ok(nnp_net_add_avgpool2d(net, &oa, &p2));
        } else {
            ck_assert_ok(nnp_net_add_avgpool2d(net, &oa, &p1));
            ck_assert_ok(nnp_net_branch_from(net, t));
            ck_assert_ok(nnp_net_add_maxpool2d(net, &om, &p2));
        }
        ck_assert_ok(nnp_net_add_add(net, p1, p2, &sum));
        ck_assert_uint_eq(nnp_net_output_size(net), 40);
        nnp_workspace *ws = NULL;
        ck_assert_ok(nnp_workspace_create(net, 2, &ws));
        for (int round = 0; round < 2; round++) {
            float x[80], v[80], dx[80];
            for (int e = 0; e < 2; e++) fill_distinct(x + 40 * e, 40, (uint64_t)(round * 2 + e));
            for (int i = 0; i < 80; i++) x[i] = 4.0f * x[i] - 2.0f; /* spread over tanh */
            tu_fill_uniform(v, 80, -1.0f, 1.0f, 300 + (uint64_t)round);
            ck_assert_ok(nnp_grad_vjp(net, ws, x, 2, sum, v, dx));
            for (int e = 0; e < 2; e++) {
                branch_ctx c = {.tanh = 1, .v = v + 40 * e};
                double xd[40], g[40];
                for (int i = 0; i < 40; i++) xd[i] = x[40 * e + i];
                ref_fd_grad(branch_objective, &c, xd, 40, FD_STEP, g);
                const double err = ref_rel_err(dx + 40 * e, g, 40);
                ck_assert_msg(err < TOL, "max_first %d round %d example %d: error %g", max_first,
                              round, e, err);
            }
        }
        nnp_workspace_free(ws);
        nnp_net_free(net);
    }
}
END_TEST

/* The input itself consumed by two pools: the caller's dx (pre-filled with garbage) is
 * written by one and added to by the other. */
START_TEST(accumulate_into_input)
{
    nnp_net *net = NULL;
    size_t p1, p2, sum;
    ck_assert_ok(nnp_net_create(2, 4, 5, &net));
    nnp_net_pool2d_opts om = pool_opts(&branch_max), oa = pool_opts(&branch_avg);
    ck_assert_ok(nnp_net_add_maxpool2d(net, &om, &p1));
    ck_assert_ok(nnp_net_branch_from(net, 0));
    ck_assert_ok(nnp_net_add_avgpool2d(net, &oa, &p2));
    ck_assert_ok(nnp_net_add_add(net, p1, p2, &sum));
    float x[40], v[40], dx[40];
    fill_distinct(x, 40, 9);
    tu_fill_uniform(v, 40, -1.0f, 1.0f, 10);
    for (int i = 0; i < 40; i++) dx[i] = -777.0f;
    ck_assert_ok(nnp_grad_vjp(net, NULL, x, 1, sum, v, dx));
    branch_ctx c = {.tanh = 0, .v = v};
    double xd[40], g[40];
    for (int i = 0; i < 40; i++) xd[i] = x[i];
    ref_fd_grad(branch_objective, &c, xd, 40, FD_STEP, g);
    const double err = ref_rel_err(dx, g, 40);
    ck_assert_msg(err < TOL, "gradient error %g", err);
    nnp_net_free(net);
}
END_TEST

/* ---- options ---- */

START_TEST(options_are_validated)
{
    nnp_net *net = NULL;
    ck_assert_ok(nnp_net_create(2, 5, 7, &net));
    nnp_net_pool2d_opts o;
    size_t layer = 99;

    /* defaults: 2×2 stride 2, no padding; NULL opts means the same */
    ck_assert_ok(nnp_net_pool2d_opts_init(&o));
    ck_assert_uint_eq(o.size, sizeof o);
    ck_assert_uint_eq(o.kernel_h, 2);
    ck_assert_uint_eq(o.kernel_w, 2);
    ck_assert_uint_eq(o.stride_h, 2);
    ck_assert_uint_eq(o.stride_w, 2);
    ck_assert_uint_eq(o.pad_top + o.pad_left + o.pad_bottom + o.pad_right, 0);
    ck_assert_int_eq(o.count_include_pad, 0);
    ck_assert_ok(nnp_net_add_maxpool2d(net, NULL, &layer));
    nnp_layer_info info = {.size = sizeof info};
    ck_assert_ok(nnp_net_layer_info(net, layer, &info));
    ck_assert_uint_eq(info.channels, 2);
    ck_assert_uint_eq(info.height, 2);
    ck_assert_uint_eq(info.width, 3);
    ck_assert_ok(nnp_net_branch_from(net, 0));
    ck_assert_ok(nnp_net_add_avgpool2d(net, NULL, &layer));
    ck_assert_ok(nnp_net_layer_info(net, layer, &info));
    ck_assert_uint_eq(info.height * 10 + info.width, 23);
    ck_assert_ok(nnp_net_branch_from(net, 0));
    const size_t count = nnp_net_layer_count(net);

    /* each field, named */
    static const struct {
        size_t off;
        size_t value;
        const char *name;
    } bad[] = {
        {offsetof(nnp_net_pool2d_opts, kernel_h), 0, "kernel_h"},
        {offsetof(nnp_net_pool2d_opts, kernel_w), 0, "kernel_w"},
        {offsetof(nnp_net_pool2d_opts, stride_h), 0, "stride_h"},
        {offsetof(nnp_net_pool2d_opts, stride_w), 0, "stride_w"},
        {offsetof(nnp_net_pool2d_opts, pad_top), 2, "pad_top"},
        {offsetof(nnp_net_pool2d_opts, pad_left), 2, "pad_left"},
        {offsetof(nnp_net_pool2d_opts, pad_bottom), 5, "pad_bottom"},
        {offsetof(nnp_net_pool2d_opts, pad_right), 2, "pad_right"},
        {offsetof(nnp_net_pool2d_opts, kernel_h), 6, "kernel_h = 6"}, /* > height 5 */
        {offsetof(nnp_net_pool2d_opts, kernel_w), 8, "kernel_w = 8"}, /* > width 7 */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        for (int kind = 0; kind < 2; kind++) {
            ck_assert_ok(nnp_net_pool2d_opts_init(&o));
            memcpy((char *)&o + bad[i].off, &bad[i].value, sizeof(size_t));
            nnp_status s = kind ? nnp_net_add_avgpool2d(net, &o, NULL)
                                : nnp_net_add_maxpool2d(net, &o, NULL);
            ck_assert_msg(s == NNP_EINVAL, "%s: %s", bad[i].name, nnp_status_name(s));
            ck_assert_error_has(bad[i].name);
            ck_assert_error_has(kind ? "nnp_net_add_avgpool2d" : "nnp_net_add_maxpool2d");
            ck_assert_uint_eq(nnp_net_layer_count(net), count);
        }
    /* the window-too-large message gives the numbers of the output size formula */
    ck_assert_ok(nnp_net_pool2d_opts_init(&o));
    o.kernel_h = 8, o.pad_top = 1, o.pad_bottom = 1;
    ck_assert_status(nnp_net_add_maxpool2d(net, &o, NULL), NNP_EINVAL);
    ck_assert_error_has("floor((5 + 1 + 1 - 8) / 2) + 1");
    /* a window just fitting the padded input is fine: 7 = 5 + 1 + 1 → one row */
    o.kernel_h = 7;
    ck_assert_ok(nnp_net_add_maxpool2d(net, &o, &layer));
    ck_assert_ok(nnp_net_layer_info(net, layer, &info));
    ck_assert_uint_eq(info.height, 1);
    ck_assert_ok(nnp_net_branch_from(net, 0));

    /* size rules */
    ck_assert_ok(nnp_net_pool2d_opts_init(&o));
    o.size = 0;
    ck_assert_status(nnp_net_add_maxpool2d(net, &o, NULL), NNP_EINVAL);
    ck_assert_error_has("size is 0");
    struct {
        nnp_net_pool2d_opts o;
        char tail[16];
    } newer;
    memset(&newer, 0, sizeof newer);
    ck_assert_ok(nnp_net_pool2d_opts_init_sized(&newer.o, sizeof newer));
    ck_assert_uint_eq(newer.o.size, sizeof newer);
    ck_assert_uint_eq(newer.o.kernel_h, 2);
    ck_assert_ok(nnp_net_add_avgpool2d(net, &newer.o, NULL)); /* zero tail: accepted */
    ck_assert_ok(nnp_net_branch_from(net, 0));
    const size_t count2 = nnp_net_layer_count(net);
    newer.tail[3] = 1;
    ck_assert_status(nnp_net_add_avgpool2d(net, &newer.o, NULL), NNP_EVERSION);
    ck_assert_status(nnp_net_add_maxpool2d(net, &newer.o, NULL), NNP_EVERSION);
    ck_assert_uint_eq(nnp_net_layer_count(net), count2);
    /* an older caller's struct ending before count_include_pad: the rest keeps defaults
     * (count_include_pad = 0, visible in the corner average) */
    ck_assert_ok(nnp_net_pool2d_opts_init(&o));
    o.size = offsetof(nnp_net_pool2d_opts, count_include_pad);
    o.stride_h = o.stride_w = 1, o.pad_top = o.pad_left = 1;
    o.count_include_pad = 1; /* beyond the caller's size: must be ignored */
    nnp_net *small = NULL;
    ck_assert_ok(nnp_net_create(1, 2, 2, &small));
    ck_assert_ok(nnp_net_add_avgpool2d(small, &o, NULL));
    const float x4[4] = {4, 8, 12, 16};
    float y4[4];
    ck_assert_ok(nnp_net_forward(small, NULL, x4, 1, y4));
    ck_assert_float_eq(y4[0], 4.0f); /* one real cell; counting padding would give 1 */
    nnp_net_free(small);

    /* opts_init itself */
    ck_assert_status(nnp_net_pool2d_opts_init_sized(NULL, sizeof o), NNP_EINVAL);
    ck_assert_status(nnp_net_pool2d_opts_init_sized(&o, 4), NNP_EINVAL);
    struct {
        nnp_net_pool2d_opts o;
        char tail[8];
    } big;
    memset(&big, 0x5a, sizeof big);
    ck_assert_ok(nnp_net_pool2d_opts_init_sized(&big.o, sizeof big));
    for (size_t i = 0; i < sizeof big.tail; i++) ck_assert_int_eq(big.tail[i], 0);

    /* NULL net */
    ck_assert_status(nnp_net_add_maxpool2d(NULL, NULL, NULL), NNP_EINVAL);
    ck_assert_error_has("net is NULL");
    ck_assert_status(nnp_net_add_avgpool2d(NULL, &o, NULL), NNP_EINVAL);
    ck_assert_status(nnp_net_add_global_avgpool(NULL, NULL), NNP_EINVAL);
    ck_assert_error_has("net");
    ck_assert_uint_eq(nnp_net_layer_count(net), count2);
    nnp_net_free(net);
}
END_TEST

/* Sizes at the edge: padding that inflates the output beyond 2^28 values, and padding whose
 * sum overflows size_t, are refused instead of wrapping. */
START_TEST(huge_sizes_are_refused)
{
    nnp_net *net = NULL;
    ck_assert_ok(nnp_net_create(1, 1, 1, &net));
    nnp_net_pool2d_opts o;
    ck_assert_ok(nnp_net_pool2d_opts_init(&o));
    o.kernel_h = o.kernel_w = (size_t)1 << 15;
    o.stride_h = o.stride_w = 1;
    o.pad_top = o.pad_left = o.pad_bottom = o.pad_right = ((size_t)1 << 15) - 1;
    ck_assert_status(nnp_net_add_maxpool2d(net, &o, NULL), NNP_EINVAL);
    ck_assert_error_has("exceeds 2^28");
    o.kernel_h = SIZE_MAX;
    o.pad_top = o.pad_bottom = SIZE_MAX - 1;
    ck_assert_status(nnp_net_add_avgpool2d(net, &o, NULL), NNP_EINVAL);
    ck_assert_error_has("overflows");
    ck_assert_uint_eq(nnp_net_layer_count(net), 1);
    /* global average pool of a 1×1 map is the identity */
    float x = 3.5f, y = 0, dx = 0, v = 2;
    ck_assert_ok(nnp_net_add_global_avgpool(net, NULL));
    ck_assert_ok(nnp_net_forward(net, NULL, &x, 1, &y));
    ck_assert_float_eq(y, 3.5f);
    ck_assert_ok(nnp_grad_vjp(net, NULL, &x, 1, 1, &v, &dx));
    ck_assert_float_eq(dx, 2.0f);
    nnp_net_free(net);
}
END_TEST

START_TEST(kind_names)
{
    ck_assert_str_eq(nnp_layer_kind_name(NNP_LAYER_MAXPOOL), "maxpool2d");
    ck_assert_str_eq(nnp_layer_kind_name(NNP_LAYER_AVGPOOL), "avgpool2d");
    ck_assert_str_eq(nnp_layer_kind_name(NNP_LAYER_GLOBAL_AVGPOOL), "global_avgpool");
    ck_assert_str_eq(nnpi_maxpool_ops.name, "maxpool2d");
    ck_assert_str_eq(nnpi_avgpool_ops.name, "avgpool2d");
    ck_assert_str_eq(nnpi_global_avgpool_ops.name, "global_avgpool");
}
END_TEST

/* ---- allocation failures ---- */

typedef struct alloc_run {
    nnp_net *net, *copy;
    nnp_net_pool2d_opts o;
} alloc_run;

static nnp_status alloc_run_build(void *user, long k)
{
    (void)k;
    alloc_run *a = user;
    a->net = a->copy = NULL;
    nnp_status s = nnp_net_create(2, 6, 6, &a->net);
    /* nine layers: the node array grows past its first capacity (8) */
    for (int i = 0; i < 7 && s == NNP_OK; i++)
        s = i % 2 ? nnp_net_add_avgpool2d(a->net, &a->o, NULL)
                  : nnp_net_add_maxpool2d(a->net, &a->o, NULL);
    if (s == NNP_OK) s = nnp_net_add_global_avgpool(a->net, NULL);
    if (s == NNP_OK) s = nnp_net_add_dense(a->net, 3, NULL);
    float x[72], dx[72];
    fill_distinct(x, 72, 1);
    const int32_t labels[1] = {1};
    if (s == NNP_OK) s = nnp_grad_loss(a->net, NULL, x, labels, 1, dx, NULL, NULL);
    if (s == NNP_OK) s = nnp_net_clone(a->net, &a->copy);
    return s;
}

/* After a run: on NNP_ENOMEM the clone's out-parameter is NULL; both handles are freed. */
static void alloc_check_free(void *user, long k, nnp_status s)
{
    (void)k;
    alloc_run *a = user;
    if (s == NNP_ENOMEM) ck_assert_ptr_null(a->copy);
    nnp_net_free(a->copy);
    nnp_net_free(a->net);
}

START_TEST(allocation_failures_are_clean)
{
    alloc_run a = {NULL, NULL, {0}};
    ck_assert_ok(nnp_net_pool2d_opts_init(&a.o));
    a.o.kernel_h = a.o.kernel_w = 3;
    a.o.stride_h = a.o.stride_w = 1;
    a.o.pad_top = a.o.pad_left = a.o.pad_bottom = a.o.pad_right = 1;
    tu_alloc_counts c = tu_alloc_failures(&(tu_alloc_loop){
        .what = "build, gradient, clone", .max_k = 59, .check_message = 1,
        .run = alloc_run_build, .after = alloc_check_free, .user = &a});
    ck_assert_int_gt(c.failures, 5);
    ck_assert_int_gt(c.successes, 0); /* the loop reached past the last allocation */
}
END_TEST

int main(void)
{
    Suite *s = suite_create("pool");
    TCase *tc = tcase_create("pool");
    tcase_add_loop_test(tc, forward_matches_reference, 0, (int)(3 * N_CASES));
    tcase_add_test(tc, avg_count_include_pad_by_hand);
    tcase_add_test(tc, max_padding_never_wins);
    tcase_add_test(tc, max_ties_go_to_first_cell);
    tcase_add_loop_test(tc, max2x2_matches_reference_with_ties, 0, 10);
    tcase_add_test(tc, max_overlap_sums_gradients);
    tcase_add_test(tc, max_nan_propagates);
    tcase_add_loop_test(tc, fd_pool_gradients, 0, (int)(3 * N_CASES));
    tcase_add_test(tc, fd_global_avgpool);
    tcase_add_test(tc, backward_accumulate_flag);
    tcase_add_test(tc, accumulate_through_branches);
    tcase_add_test(tc, accumulate_into_input);
    tcase_add_test(tc, options_are_validated);
    tcase_add_test(tc, huge_sizes_are_refused);
    tcase_add_test(tc, kind_names);
    tcase_add_test(tc, allocation_failures_are_clean);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
