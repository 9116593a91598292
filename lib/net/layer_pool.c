/* 2-D pooling layers, NCHW, with ONNX's semantics (MaxPool, AveragePool, GlobalAveragePool;
 * dilation 1).
 *
 * Output size per axis: floor((in + pad_before + pad_after − k) / stride) + 1. Padding is
 * restricted to pad < k, which guarantees that every window holds at least one real cell
 * (the first window reaches row k − 1 − pad ≥ 0; the last starts at ≤ in + pad_after − k < in),
 * and with floor sizing no window reaches beyond the padded input, so a window always has
 * exactly kh·kw cells counting padding.
 *
 * With ceil_mode the size is ceil(...) + 1 instead, less one if the last window would then
 * start at or beyond in + pad_before, i.e. in the trailing padding (PyTorch's
 * pooling_output_shape in aten/src/ATen/native/Pool.h; the ONNX MaxPool/AveragePool spec
 * adopted the same rule in opset 19, "sliding windows that would start in the right padded
 * region are ignored"). So every window still starts inside the input or its leading padding
 * and holds a real cell, but the last one may run past the padded end: it is clipped there.
 * Average pooling with count_include_pad then divides by the cells of the window inside the
 * padded input, as PyTorch's avg_pool2d does (its pool_size).
 *
 * Max pooling: padding cells never take part (ONNX pads with −∞). Ties go to the first
 * maximal cell in row-major window order; a NaN in a window wins over every number (the
 * output is NaN, so NaNs propagate as in PyTorch) and the first NaN takes the gradient.
 * Backward recomputes the argmax from the input with the same function as forward, so both
 * always agree and no state is kept between calls (a const net stays read-only).
 *
 * Nothing here allocates: the passes get all buffers from the workspace, and none of these
 * kinds needs scratch memory. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "core/threads.h"
#include "net/net_internal.h"

/* Output values per example are bounded like the input (nnp_net_create): padding can make a
 * pooled map larger than its input, and the workspace must stay allocatable. */
#define MAX_OUT_SIZE ((size_t)1 << 28)

/* A window clipped to the real input: rows [h0, h1), columns [w0, w1). */
typedef struct window {
    size_t h0, h1, w0, w1;
} window;

/* Window of output cell (oh, ow). In padded coordinates it covers rows [oh·sh, oh·sh + kh);
 * real row r is padded row r + pt. kh > pt keeps oh·sh + kh − pt positive. */
static inline window window_at(const nnpi_pool_attrs *a, size_t H, size_t W, size_t oh,
                               size_t ow)
{
    const size_t ph = oh * a->sh, pw = ow * a->sw;
    const size_t he = ph + a->kh < a->pt + H ? ph + a->kh : a->pt + H;
    const size_t we = pw + a->kw < a->pl + W ? pw + a->kw : a->pl + W;
    window win = {ph > a->pt ? ph - a->pt : 0, he - a->pt, pw > a->pl ? pw - a->pl : 0,
                  we - a->pl};
    return win;
}

#define NO_CELL SIZE_MAX

/* Index in the plane (row stride W) of the first maximal cell of the window in row-major
 * order: strict '>' keeps the first of equal values; the first NaN met is returned at once
 * (the loop starts at the window's first cell, so that covers a NaN there too). NO_CELL for
 * an empty window, which validation rules out; it is handled so that an impossible case
 * cannot read outside the plane. */
static inline size_t window_argmax(const float *x, size_t W, window win)
{
    if (win.h0 >= win.h1 || win.w0 >= win.w1) return NO_CELL;
    size_t best = win.h0 * W + win.w0;
    float bv = x[best];
    for (size_t r = win.h0; r < win.h1; r++)
        for (size_t c = win.w0; c < win.w1; c++) {
            const float v = x[r * W + c];
            if (v > bv) {
                bv = v;
                best = r * W + c;
            } else if (isnan(v)) {
                return r * W + c;
            }
        }
    return best;
}

/* The common 2×2 stride-2 unpadded window has its own loops, without window_at() and without
 * branches, so that they vectorise; they follow window_argmax's rule (first maximum in
 * row-major order; the first NaN wins and nothing replaces it). In the generic form pooling was
 * a third of a CNN's gradient pass at batch 256 (bench/bench_cnn).
 *
 * Every pass below works plane by plane (one channel of one example), and planes are
 * independent: nnpi_parallel_range cuts a batch's planes between the threads, and each plane's
 * arithmetic is the same on any thread, so the results are the same bits for every thread
 * count. */

/* Whether v replaces the running maximum m by max_first's rule, as 0/1 without a branch. */
static inline int takes_over(float m, float v)
{
    /* quiet comparisons (isgreater, isunordered): `>` may trap on NaN, which keeps GCC from
     * turning the loop's selects into vector blends */
    return isgreater(v, m) | (isunordered(v, v) & !isunordered(m, m));
}

/* The running maximum m after seeing v, by the same rule (a NaN, once taken, stays). */
static inline float max_first(float m, float v) { return v > m || (v != v && m == m) ? v : m; }

/* (with ceil_mode on an odd input the last window is clipped: not this case) */
static int is_2x2_stride_2(const nnpi_node *node)
{
    const nnpi_pool_attrs *a = &node->attr.pool;
    return a->kh == 2 && a->kw == 2 && a->sh == 2 && a->sw == 2 && a->pt == 0 && a->pl == 0 &&
           a->pb == 0 && a->pr == 0 && 2 * node->h <= node->in_h && 2 * node->w <= node->in_w;
}

/* The arguments of one pass over a batch's planes, for the range bodies below. */
typedef struct pool_job {
    const nnpi_node *node;
    const float *x, *dy; /* input, output cotangent */
    float *y, *dx;       /* output, input cotangent */
    int accumulate;      /* backward: add into dx rather than overwrite it */
} pool_job;

/* Cost of one plane for nnpi_threads_for: a few operations per input value. */
static size_t plane_cost(const nnpi_node *node) { return 4 * node->in_h * node->in_w; }

/* 2×2/2 forward of one plane: values only, in the argmax's order, so the loop over ow
 * vectorises. Built for the baseline only: its AVX-512 clone (stride-2 loads as permutes) ran
 * at half the speed (256×32×28×28, one thread, alternating runs: 30 ms against 10–18). */
static void max2x2_forward_plane(const float *x, float *y, size_t W, size_t OH,
                                                  size_t OW)
{
    for (size_t oh = 0; oh < OH; oh++) {
        const float *r0 = x + 2 * oh * W, *r1 = r0 + W;
        float *yr = y + oh * OW;
        for (size_t ow = 0; ow < OW; ow++) {
            float m = r0[2 * ow];
            m = max_first(m, r0[2 * ow + 1]);
            m = max_first(m, r1[2 * ow]);
            yr[ow] = max_first(m, r1[2 * ow + 1]);
        }
    }
}

/* The four cotangents of one 2×2 window: g on its first maximal cell (the last cell that took
 * over the running maximum in row-major order), 0 on the others; bitwise, so the loops below
 * have no branch and vectorise. */
#define MAX2X2_WINDOW_GRADS(r0, r1, ow, g, v0, v1, v2, v3)                                  \
    const float a0 = r0[2 * ow], a1 = r0[2 * ow + 1], a2 = r1[2 * ow], a3 = r1[2 * ow + 1];  \
    const float m1 = max_first(a0, a1), m2 = max_first(m1, a2);                              \
    const int t1 = takes_over(a0, a1), t2 = takes_over(m1, a2), t3 = takes_over(m2, a3);     \
    const float v3 = t3 ? g : 0.0f, v2 = (t2 & !t3) ? g : 0.0f,                              \
                v1 = (t1 & !t2 & !t3) ? g : 0.0f, v0 = (!t1 & !t2 & !t3) ? g : 0.0f

/* 2×2/2 backward of one plane: each cell is in one window at most, so every covered cell gets
 * dy or 0 by the same rule, written in one pass (added when accumulating; when overwriting as
 * 0 + v, the zeroed buffer plus v of the general path: the same bits); the row and column an
 * odd size leaves over get 0 when overwriting. With the quiet comparisons its AVX-512 clone
 * vectorises: the VJP of a 256×32×28×28 pool took 66–78 ms against 86–93 without clones and
 * 93–101 before this path wrote each cell once (one thread, alternating runs, 2026-12-04). */
NNPI_SIMD_CLONES static void max2x2_backward_plane(const float *restrict x,
                                                   const float *restrict dy, float *restrict dx,
                                                   size_t H, size_t W, size_t OH, size_t OW,
                                                   int acc)
{
    for (size_t oh = 0; oh < OH; oh++) {
        const float *r0 = x + 2 * oh * W, *r1 = r0 + W, *gy = dy + oh * OW;
        float *d0 = dx + 2 * oh * W, *d1 = d0 + W;
        if (acc) {
            for (size_t ow = 0; ow < OW; ow++) {
                MAX2X2_WINDOW_GRADS(r0, r1, ow, gy[ow], v0, v1, v2, v3);
                d0[2 * ow] += v0;
                d0[2 * ow + 1] += v1;
                d1[2 * ow] += v2;
                d1[2 * ow + 1] += v3;
            }
        } else {
            for (size_t ow = 0; ow < OW; ow++) {
                MAX2X2_WINDOW_GRADS(r0, r1, ow, gy[ow], v0, v1, v2, v3);
                d0[2 * ow] = 0.0f + v0;
                d0[2 * ow + 1] = 0.0f + v1;
                d1[2 * ow] = 0.0f + v2;
                d1[2 * ow + 1] = 0.0f + v3;
            }
            if (2 * OW < W) d0[W - 1] = d1[W - 1] = 0.0f;
        }
    }
    if (!acc && 2 * OH < H) memset(dx + 2 * OH * W, 0, (H - 2 * OH) * W * sizeof(float));
}

static void maxpool_forward_range(void *ctx, size_t p0, size_t p1)
{
    const pool_job *j = ctx;
    const nnpi_pool_attrs *a = &j->node->attr.pool;
    const size_t H = j->node->in_h, W = j->node->in_w, OH = j->node->h, OW = j->node->w;
    const int fast = is_2x2_stride_2(j->node);
    for (size_t p = p0; p < p1; p++) {
        const float *x = j->x + p * H * W;
        float *y = j->y + p * OH * OW;
        if (fast) {
            max2x2_forward_plane(x, y, W, OH, OW);
            continue;
        }
        for (size_t oh = 0; oh < OH; oh++)
            for (size_t ow = 0; ow < OW; ow++) {
                const size_t k = window_argmax(x, W, window_at(a, H, W, oh, ow));
                y[oh * OW + ow] = k == NO_CELL ? 0.0f : x[k];
            }
    }
}

static void maxpool_forward(const nnpi_node *node, const float *params, const float *const *in,
                            float *out, size_t n, float *scratch)
{
    (void)params, (void)scratch;
    pool_job j = {.node = node, .x = in[0], .y = out};
    nnpi_parallel_range(n * node->c, plane_cost(node), maxpool_forward_range, &j);
}

/* Overwriting callers get a zeroed plane first (the 2×2/2 path writes every cell itself): with
 * overlapping windows one input cell may win several windows, and its gradient is the sum of
 * theirs, so every write is an addition. */
static void maxpool_backward_range(void *ctx, size_t p0, size_t p1)
{
    const pool_job *j = ctx;
    const nnpi_pool_attrs *a = &j->node->attr.pool;
    const size_t H = j->node->in_h, W = j->node->in_w, OH = j->node->h, OW = j->node->w;
    const int fast = is_2x2_stride_2(j->node);
    for (size_t p = p0; p < p1; p++) {
        const float *x = j->x + p * H * W;
        const float *dy = j->dy + p * OH * OW;
        float *dx = j->dx + p * H * W;
        if (fast) {
            max2x2_backward_plane(x, dy, dx, H, W, OH, OW, j->accumulate);
            continue;
        }
        if (!j->accumulate) memset(dx, 0, H * W * sizeof(float));
        for (size_t oh = 0; oh < OH; oh++)
            for (size_t ow = 0; ow < OW; ow++) {
                const size_t k = window_argmax(x, W, window_at(a, H, W, oh, ow));
                if (k != NO_CELL) dx[k] += dy[oh * OW + ow];
            }
    }
}

static void maxpool_backward_input(const nnpi_node *node, const float *params,
                                   const float *const *in, const float *out, const float *dout,
                                   float *const *din, size_t n, const unsigned char *accumulate,
                                   float *scratch)
{
    (void)params, (void)out, (void)scratch;
    pool_job j = {.node = node, .x = in[0], .dy = dout, .dx = din[0],
                  .accumulate = accumulate[0] != 0};
    nnpi_parallel_range(n * node->c, plane_cost(node), maxpool_backward_range, &j);
}

/* Cells of a window [lo, lo + k) in padded coordinates that lie inside the padded axis of
 * length `padded` (all k of them except for the last window in ceil_mode). */
static inline size_t padded_extent(size_t lo, size_t k, size_t padded)
{
    return lo + k <= padded ? k : padded - lo;
}

/* Divisor of the sum of output cell (oh, ow)'s window `win`: its real cells, or with
 * count_include_pad its cells inside the padded input (kh·kw unless clipped in ceil_mode). */
static inline size_t avg_divisor(const nnpi_pool_attrs *a, size_t H, size_t W, size_t oh,
                                 size_t ow, window win)
{
    if (a->count_include_pad)
        return padded_extent(oh * a->sh, a->kh, a->pt + H + a->pb) *
               padded_extent(ow * a->sw, a->kw, a->pl + W + a->pr);
    return (win.h1 - win.h0) * (win.w1 - win.w0);
}

/* Windows are small, so the sums are kept in float like every other layer's arithmetic. */
static void avgpool_forward_range(void *ctx, size_t p0, size_t p1)
{
    const pool_job *j = ctx;
    const nnpi_pool_attrs *a = &j->node->attr.pool;
    const size_t H = j->node->in_h, W = j->node->in_w, OH = j->node->h, OW = j->node->w;
    for (size_t p = p0; p < p1; p++) {
        const float *x = j->x + p * H * W;
        float *y = j->y + p * OH * OW;
        for (size_t oh = 0; oh < OH; oh++)
            for (size_t ow = 0; ow < OW; ow++) {
                const window win = window_at(a, H, W, oh, ow);
                float sum = 0.0f;
                for (size_t r = win.h0; r < win.h1; r++)
                    for (size_t c = win.w0; c < win.w1; c++) sum += x[r * W + c];
                const size_t d = avg_divisor(a, H, W, oh, ow, win);
                y[oh * OW + ow] = d ? sum / (float)d : 0.0f;
            }
    }
}

static void avgpool_forward(const nnpi_node *node, const float *params, const float *const *in,
                            float *out, size_t n, float *scratch)
{
    (void)params, (void)scratch;
    pool_job j = {.node = node, .x = in[0], .y = out};
    nnpi_parallel_range(n * node->c, plane_cost(node), avgpool_forward_range, &j);
}

/* Each real cell of a window gets dout/divisor; zero first when overwriting, as for max. */
static void avgpool_backward_range(void *ctx, size_t p0, size_t p1)
{
    const pool_job *j = ctx;
    const nnpi_pool_attrs *a = &j->node->attr.pool;
    const size_t H = j->node->in_h, W = j->node->in_w, OH = j->node->h, OW = j->node->w;
    for (size_t p = p0; p < p1; p++) {
        const float *dy = j->dy + p * OH * OW;
        float *dx = j->dx + p * H * W;
        if (!j->accumulate) memset(dx, 0, H * W * sizeof(float));
        for (size_t oh = 0; oh < OH; oh++)
            for (size_t ow = 0; ow < OW; ow++) {
                const window win = window_at(a, H, W, oh, ow);
                const size_t d = avg_divisor(a, H, W, oh, ow, win);
                if (d == 0) continue;
                const float g = dy[oh * OW + ow] / (float)d;
                for (size_t r = win.h0; r < win.h1; r++)
                    for (size_t c = win.w0; c < win.w1; c++) dx[r * W + c] += g;
            }
    }
}

static void avgpool_backward_input(const nnpi_node *node, const float *params,
                                   const float *const *in, const float *out, const float *dout,
                                   float *const *din, size_t n, const unsigned char *accumulate,
                                   float *scratch)
{
    (void)params, (void)in, (void)out, (void)scratch;
    pool_job j = {.node = node, .dy = dout, .dx = din[0], .accumulate = accumulate[0] != 0};
    nnpi_parallel_range(n * node->c, plane_cost(node), avgpool_backward_range, &j);
}

/* Mean over a whole plane, summed in double: planes can be large (e.g. 56×56), where a float
 * sum would lose digits. */
static void global_avgpool_forward_range(void *ctx, size_t p0, size_t p1)
{
    const pool_job *j = ctx;
    const size_t hw = j->node->in_h * j->node->in_w;
    for (size_t p = p0; p < p1; p++) {
        const float *x = j->x + p * hw;
        double sum = 0.0;
        for (size_t i = 0; i < hw; i++) sum += x[i];
        j->y[p] = (float)(sum / (double)hw);
    }
}

static void global_avgpool_forward(const nnpi_node *node, const float *params,
                                   const float *const *in, float *out, size_t n, float *scratch)
{
    (void)params, (void)scratch;
    pool_job j = {.node = node, .x = in[0], .y = out};
    nnpi_parallel_range(n * node->c, plane_cost(node), global_avgpool_forward_range, &j);
}

/* Planes do not overlap, so each input cell is written exactly once: no zeroing needed. */
static void global_avgpool_backward_range(void *ctx, size_t p0, size_t p1)
{
    const pool_job *j = ctx;
    const size_t hw = j->node->in_h * j->node->in_w;
    for (size_t p = p0; p < p1; p++) {
        const float g = (float)((double)j->dy[p] / (double)hw);
        float *dx = j->dx + p * hw;
        if (j->accumulate)
            for (size_t i = 0; i < hw; i++) dx[i] += g;
        else
            for (size_t i = 0; i < hw; i++) dx[i] = g;
    }
}

static void global_avgpool_backward_input(const nnpi_node *node, const float *params,
                                          const float *const *in, const float *out,
                                          const float *dout, float *const *din, size_t n,
                                          const unsigned char *accumulate, float *scratch)
{
    (void)params, (void)in, (void)out, (void)scratch;
    pool_job j = {.node = node, .dy = dout, .dx = din[0], .accumulate = accumulate[0] != 0};
    nnpi_parallel_range(n * node->c, plane_cost(node), global_avgpool_backward_range, &j);
}

/* ---- Lipschitz rules and tangents (lib/lipschitz; Szegedy et al. 2013, §4.3) ---- */

/* For one axis of a pooling window grid: the largest number of windows holding one real cell
 * (*max_count), and for average pooling the largest row sum (*max_row, one window's weight
 * over the real cells) and column sum (*max_col, Σ over the windows holding a cell of
 * 1/divisor) of the axis factor of its matrix (the 2-D matrix is the Kronecker product of the
 * two axes' factors, so its row and column sums are products of theirs). */
static void pool_axis(size_t in, size_t out, size_t k, size_t s, size_t pad, size_t pad_after,
                      int include_pad, size_t *max_count, double *max_row, double *max_col)
{
    const size_t padded = in + pad + pad_after;
    *max_count = 0;
    *max_row = *max_col = 0.0;
    for (size_t r = 0; r < in; r++) {
        size_t count = 0;
        double col = 0.0;
        for (size_t o = 0; o < out; o++) {
            const size_t lo = o * s, hi = o * s + k; /* padded coordinates */
            if (r + pad < lo || r + pad >= hi) continue;
            count++;
            const size_t real_lo = lo > pad ? lo - pad : 0, real_hi = hi - pad < in ? hi - pad : in;
            col += 1.0 / (double)(include_pad ? padded_extent(lo, k, padded) : real_hi - real_lo);
        }
        if (count > *max_count) *max_count = count;
        if (col > *max_col) *max_col = col;
    }
    for (size_t o = 0; o < out; o++) {
        const size_t lo = o * s, hi = o * s + k;
        const size_t real_lo = lo > pad ? lo - pad : 0, real_hi = hi - pad < in ? hi - pad : in;
        const double row =
            include_pad ? (double)(real_hi - real_lo) / (double)padded_extent(lo, k, padded) : 1.0;
        if (row > *max_row) *max_row = row;
    }
}

/* Max pooling: ‖maxpool(x) − maxpool(y)‖² ≤ Σ_windows max_cell |x − y|² ≤ (largest number of
 * windows holding one cell)·‖x − y‖², so the bound is √overlap, the paper's rule (√overlap is
 * exact for a single window per cell: 1 without overlap). Average pooling is linear: by
 * Schur's test ‖A‖ ≤ √(max row sum · max column sum), each a product of the two axes'. */
static nnp_status pool_lip_bound(const nnpi_node *node, const float *params,
                                 const nnpi_lip_query *q, nnpi_lip_rule *r)
{
    (void)params, (void)q;
    const nnpi_pool_attrs *a = &node->attr.pool;
    r->stride_h = a->sh;
    r->stride_w = a->sw;
    size_t mh, mw;
    double rh, rw, ch, cw;
    const int inc = a->count_include_pad;
    pool_axis(node->in_h, node->h, a->kh, a->sh, a->pt, a->pb, inc, &mh, &rh, &ch);
    pool_axis(node->in_w, node->w, a->kw, a->sw, a->pl, a->pr, inc, &mw, &rw, &cw);
    if (node->ops == &nnpi_maxpool_ops) {
        r->overlap = mh * mw;
        r->bound = sqrt((double)r->overlap);
    } else {
        r->bound = sqrt(rh * rw * ch * cw);
    }
    return NNP_OK;
}

/* The mean over H·W cells: a row of H·W entries 1/(H·W), norm 1/√(H·W) (exact). */
static nnp_status global_avgpool_lip_bound(const nnpi_node *node, const float *params,
                                           const nnpi_lip_query *q, nnpi_lip_rule *r)
{
    (void)params, (void)q;
    r->bound = 1.0 / sqrt((double)(node->in_h * node->in_w));
    return NNP_OK;
}

/* Max pooling's tangent: each output takes the tangent of its window's argmax, found by the
 * passes' own window_at/window_argmax (padding cells never win, first maximum, first NaN), so
 * the tangent map is exactly the transpose of maxpool_backward_input. */
static void maxpool_jvp(const nnpi_node *node, const float *params, const float *lin_params,
                        const float *const *in, const float *out, const float *const *tin,
                        float *tout, size_t n, float *scratch)
{
    (void)params, (void)lin_params, (void)out, (void)scratch;
    const nnpi_pool_attrs *a = &node->attr.pool;
    const size_t H = node->in_h, W = node->in_w, OH = node->h, OW = node->w;
    for (size_t p = 0; p < n * node->c; p++) {
        const float *x = in[0] + p * H * W, *t = tin[0] + p * H * W;
        float *y = tout + p * OH * OW;
        for (size_t oh = 0; oh < OH; oh++)
            for (size_t ow = 0; ow < OW; ow++) {
                const size_t k = window_argmax(x, W, window_at(a, H, W, oh, ow));
                y[oh * OW + ow] = k != NO_CELL ? t[k] : 0.0f;
            }
    }
}

/* Designated initialisers: the table may gain entries without touching this file; unset
 * ones are NULL. The average pools are linear (no offset): exact norm by Lanczos on their own
 * passes, tangent by their own forward. */
const nnpi_layer_ops nnpi_maxpool_ops = {.kind = NNP_LAYER_MAXPOOL,
                                         .name = "maxpool2d",
                                         .forward = maxpool_forward,
                                         .backward_input = maxpool_backward_input,
                                         .lip_bound = pool_lip_bound,
                                         .jvp = maxpool_jvp};
const nnpi_layer_ops nnpi_avgpool_ops = {.kind = NNP_LAYER_AVGPOOL,
                                         .name = "avgpool2d",
                                         .forward = avgpool_forward,
                                         .backward_input = avgpool_backward_input,
                                         .lip_flags = NNPI_LIP_LINEAR,
                                         .lip_bound = pool_lip_bound,
                                         .jvp = nnpi_jvp_by_forward};
const nnpi_layer_ops nnpi_global_avgpool_ops = {.kind = NNP_LAYER_GLOBAL_AVGPOOL,
                                                .name = "global_avgpool",
                                                .forward = global_avgpool_forward,
                                                .backward_input = global_avgpool_backward_input,
                                                .lip_flags = NNPI_LIP_LINEAR,
                                                .lip_bound = global_avgpool_lip_bound,
                                                .jvp = nnpi_jvp_by_forward};

/* ---- builders ---- */

static void default_opts(nnp_net_pool2d_opts *o)
{
    memset(o, 0, sizeof *o);
    o->size = sizeof *o;
    o->kernel_h = o->kernel_w = 2;
    o->stride_h = o->stride_w = 2;
}

NNP_API nnp_status nnp_net_pool2d_opts_init_sized(nnp_net_pool2d_opts *opts, size_t size)
{
    nnp_net_pool2d_opts d;
    default_opts(&d);
    return nnpi_opts_init(opts, size, &d, sizeof d, "nnp_net_pool2d_opts_init");
}

/* Output length of one axis, or EINVAL naming the fields when the window does not fit.
 * The padded length is formed only once it is known not to overflow; all window arithmetic
 * in the passes stays below it (in ceil_mode, below it plus one stride). */
static nnp_status out_len(const char *func, const char *axis, size_t in, size_t k, size_t s,
                          size_t pb, size_t pa, int ceil_mode, const char *kname,
                          const char *pbname, const char *paname, size_t *len)
{
    if (pb > SIZE_MAX - in || pa > SIZE_MAX - in - pb)
        return nnpi_error(NNP_EINVAL, "%s: input %s %zu plus %s %zu and %s %zu overflows", func,
                          axis, in, pbname, pb, paname, pa);
    const size_t padded = in + pb + pa;
    if (k > padded)
        return nnpi_error(NNP_EINVAL,
                          "%s: %s = %zu is larger than the input %s %zu plus %s %zu and %s %zu: "
                          "output %s floor((%zu + %zu + %zu - %zu) / %zu) + 1 would be < 1",
                          func, kname, k, axis, in, pbname, pb, paname, pa, axis, in, pb, pa, k,
                          s);
    *len = (padded - k) / s + 1;
    /* ceil: one more window if the last one leaves cells over, unless it would start in the
     * trailing padding (file comment); it then starts at len·s < in + pb */
    if (ceil_mode && (padded - k) % s != 0 && *len * s < in + pb) ++*len;
    return NNP_OK;
}

/* Copies and checks the options, then appends a pooling node with `ops` on the attach node. */
static nnp_status add_pool(nnp_net *net, const nnp_net_pool2d_opts *opts, const nnpi_layer_ops *ops,
                           const char *func, const char *what, size_t *layer)
{
    if (net == NULL) return nnpi_error(NNP_EINVAL, "%s: net is NULL", func);
    nnp_net_pool2d_opts o;
    default_opts(&o);
    NNPI_TRY(nnpi_opts_copy(&o, sizeof o, opts, what));
    if (o.kernel_h == 0)
        return nnpi_error(NNP_EINVAL, "%s: opts.kernel_h is 0, must be >= 1", func);
    if (o.kernel_w == 0)
        return nnpi_error(NNP_EINVAL, "%s: opts.kernel_w is 0, must be >= 1", func);
    if (o.stride_h == 0)
        return nnpi_error(NNP_EINVAL, "%s: opts.stride_h is 0, must be >= 1", func);
    if (o.stride_w == 0)
        return nnpi_error(NNP_EINVAL, "%s: opts.stride_w is 0, must be >= 1", func);
    /* pad < kernel keeps a real cell in every window (file comment); PyTorch is stricter still
     * (pad <= kernel / 2), so exported models satisfy it */
    const struct {
        size_t pad, k;
        const char *name, *kname;
    } pads[] = {{o.pad_top, o.kernel_h, "pad_top", "kernel_h"},
                {o.pad_left, o.kernel_w, "pad_left", "kernel_w"},
                {o.pad_bottom, o.kernel_h, "pad_bottom", "kernel_h"},
                {o.pad_right, o.kernel_w, "pad_right", "kernel_w"}};
    for (size_t i = 0; i < sizeof pads / sizeof pads[0]; i++)
        if (pads[i].pad >= pads[i].k)
            return nnpi_error(NNP_EINVAL, "%s: opts.%s = %zu, must be < %s = %zu", func,
                              pads[i].name, pads[i].pad, pads[i].kname, pads[i].k);

    nnpi_node node = nnpi_node_on(net, net->attach, ops);
    size_t oh, ow;
    const int ceil_mode = o.ceil_mode != 0;
    NNPI_TRY(out_len(func, "height", node.in_h, o.kernel_h, o.stride_h, o.pad_top, o.pad_bottom,
                     ceil_mode, "opts.kernel_h", "opts.pad_top", "opts.pad_bottom", &oh));
    NNPI_TRY(out_len(func, "width", node.in_w, o.kernel_w, o.stride_w, o.pad_left, o.pad_right,
                     ceil_mode, "opts.kernel_w", "opts.pad_left", "opts.pad_right", &ow));
    const size_t out_size = nnpi_mul(nnpi_mul(node.in_c, oh), ow);
    if (out_size > MAX_OUT_SIZE)
        return nnpi_error(NNP_EINVAL, "%s: output %zux%zux%zu exceeds 2^28 values", func,
                          node.in_c, oh, ow);
    node.attr.pool = (nnpi_pool_attrs){.kh = o.kernel_h, .kw = o.kernel_w, .sh = o.stride_h,
                                       .sw = o.stride_w, .pt = o.pad_top, .pl = o.pad_left,
                                       .pb = o.pad_bottom, .pr = o.pad_right,
                                       .count_include_pad = o.count_include_pad != 0,
                                       .ceil_mode = ceil_mode};
    node.h = oh;
    node.w = ow;
    node.out_size = out_size;
    size_t index;
    NNPI_TRY(nnpi_net_append(net, &node, &index));
    if (layer) *layer = index;
    return NNP_OK;
}

NNP_API nnp_status nnp_net_add_maxpool2d(nnp_net *net, const nnp_net_pool2d_opts *opts, size_t *layer)
{
    return add_pool(net, opts, &nnpi_maxpool_ops, __func__, "nnp_net_add_maxpool2d: opts", layer);
}

NNP_API nnp_status nnp_net_add_avgpool2d(nnp_net *net, const nnp_net_pool2d_opts *opts, size_t *layer)
{
    return add_pool(net, opts, &nnpi_avgpool_ops, __func__, "nnp_net_add_avgpool2d: opts", layer);
}

NNP_API nnp_status nnp_net_add_global_avgpool(nnp_net *net, size_t *layer)
{
    NNPI_CHECK_NULL(net);
    nnpi_node node = nnpi_node_on(net, net->attach, &nnpi_global_avgpool_ops);
    node.h = node.w = 1;
    node.out_size = node.c;
    size_t index;
    NNPI_TRY(nnpi_net_append(net, &node, &index));
    if (layer) *layer = index;
    return NNP_OK;
}
