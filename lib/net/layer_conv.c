/* 2-D convolution (cross-correlation, as PyTorch's Conv2d and ONNX Conv), NCHW, zero padding,
 * stride, dilation and groups. Weights are OC × (C/G) × kh × kw, biases OC.
 *
 * Every pass lowers the convolution to matrix products (Chellapilla, Puri & Simard, 2006,
 * "High performance convolutional neural networks for document processing"): for group g,
 * the column matrix col_g has one row per (input channel of g, ki, kj), K = (C/G)·kh·kw rows,
 * and one column per output position, so that
 *     forward         out_g (OCg × P)  = W_g (OCg × K) · col_g (K × P) + b
 *     backward_input  dcol_g (K × P)   = W_gᵀ · dout_g, then col2im adds dcol_g into din
 *     backward_params dW_g (OCg × K)  += dout_g · col_gᵀ,  db += Σ dout
 * with P = OH·OW positions per example. col_g lives in the workspace's shared scratch buffer.
 *
 * Tiling (plan_for). A tile is the set of columns lowered and multiplied at once. Small
 * outputs (P < MIN_COLS) give GEMMs too narrow for the BLAS to reach speed (e.g.
 * 64 × 49 × 576 for a 3×3 conv on 7×7), so several examples' columns sit side by side in one
 * col_g (K × nb·P) and one GEMM covers them; its result is OCg × nb·P, not NCHW, so it goes
 * through a staging area next to col (likewise dout is gathered into it). Larger outputs are
 * one example per tile, which skips the staging copies. An example whose col_g exceeds
 * COL_BUDGET floats is cut into bands of output rows. So scratch never exceeds COL_BUDGET
 * floats, unless one output row alone needs more (K·OW > COL_BUDGET; then it is K·OW). A 1×1
 * stride-1 unpadded conv with one example per tile is not lowered at all: col_g is the input
 * itself.
 *
 * The padding entries of col are zero at the same places for every example and group, and
 * GEMMs only read col in forward and backward_params: so col is zeroed once per pass (per band
 * when banded) and im2col writes only the in-image entries. With its short rows, a 5×5 pad-2
 * conv on 32×14×14 lowered a batch of 256 in 6.5 ms this way against 16.5 ms writing zeros.
 *
 * Nothing here allocates or keeps state: all memory is the caller's scratch. */
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include <cblas.h>

#include "core/threads.h"
#include "net/conv_fourier.h"
#include "net/net_internal.h"

#define MAX_FIELD ((size_t)1 << 28)       /* kernel, stride, padding, dilation */
#define MAX_OUT_CHANNELS ((size_t)1 << 24)
#define MAX_WEIGHTS ((size_t)INT_MAX)     /* 2^31 − 1: BLAS dimensions are int */
#define MAX_OUTPUT ((size_t)1 << 28)      /* values per example */

/* Tile sizes, measured on the project machine (2-core Zen 5 VM, OpenBLAS 0.3.21 Haswell
 * kernels, batch 256, 5×5 convs on 1×28×28 and 32×14×14 and 3×3 and 1×1 convs on 64×7×7 and
 * 64×4×4). COL_BUDGET, floats of one tile's col: 2^18 (1 MiB) keeps a whole 32×14×14 example
 * (157k floats) in one tile; 2^16 and 2^17 cut it into bands and were 5–11% slower, 2^20 was
 * no faster. MIN_COLS: examples are grouped until a tile has this many columns. Grouping lost
 * at P = 784 (the staging copies cost more than the wider GEMM gains: 3.8 vs 3.2 ms forward)
 * and won at P = 49 and 16 (1.2–1.4× with two BLAS threads, whose hand-off per call dominates
 * narrow GEMMs). */
#define COL_BUDGET ((size_t)1 << 18)
#define MIN_COLS ((size_t)512)

static int blas_int(size_t v) { return (int)v; } /* every dimension is ≤ INT_MAX when built */
static size_t min_size(size_t a, size_t b) { return a < b ? a : b; }

/* Sizes every pass derives from the node. */
typedef struct geom {
    size_t C, H, W, OC, OH, OW, G, Cg, OCg, K, P;
} geom;

static geom geom_of(const nnpi_node *node)
{
    geom g = {.C = node->in_c, .H = node->in_h, .W = node->in_w, .OC = node->c, .OH = node->h,
              .OW = node->w, .G = node->attr.conv.groups};
    g.Cg = g.C / g.G;
    g.OCg = g.OC / g.G;
    g.K = g.Cg * node->attr.conv.kh * node->attr.conv.kw;
    g.P = g.OH * g.OW;
    return g;
}

/* 1×1, stride 1, no padding: col_g is rows g·Cg … of the input, unchanged. */
static int is_pointwise(const nnpi_conv_attrs *a)
{
    return a->kh == 1 && a->kw == 1 && a->sh == 1 && a->sw == 1 && a->pt == 0 && a->pl == 0 &&
           a->pb == 0 && a->pr == 0;
}

/* How a batch of n is cut into tiles: `batch` examples at a time, or (batch = 1) bands of
 * `rows` output rows of one example. `direct`: the input serves as col (no lowering). */
typedef struct plan {
    size_t batch, rows;
    int direct;
} plan;

static plan plan_for(const nnpi_node *node, size_t n)
{
    const geom g = geom_of(node);
    plan p = {1, g.OH, 0};
    const size_t per_example = nnpi_mul(g.K, g.P);
    if (per_example <= COL_BUDGET) {
        /* a multi-example tile also needs staging: OCg·P more floats per example */
        const size_t fit = COL_BUDGET / nnpi_mul(g.K + g.OCg, g.P);
        p.batch = min_size(min_size(n, fit), (MIN_COLS + g.P - 1) / g.P);
        if (p.batch == 0) p.batch = 1;
    } else {
        p.rows = COL_BUDGET / nnpi_mul(g.K, g.OW);
        if (p.rows == 0) p.rows = 1;
    }
    if (is_pointwise(&node->attr.conv) && p.batch == 1) {
        p.direct = 1;
        p.rows = g.OH;
    }
    return p;
}

/* Scratch: col (K × tile columns) then, for multi-example tiles, staging (OCg × columns). */
static size_t conv_scratch_floats(const nnpi_node *node, size_t n)
{
    const geom g = geom_of(node);
    const plan p = plan_for(node, n);
    if (p.direct) return 0;
    size_t cols = nnpi_mul(nnpi_mul(p.batch, p.rows), g.OW);
    return nnpi_mul(g.K + (p.batch > 1 ? g.OCg : 0), cols);
}

/* Output indices o in [lo, hi) whose tap o·stride + offset − pad lands inside [0, in). */
typedef struct span {
    size_t lo, hi;
} span;

static span inside(size_t out, size_t in, size_t stride, size_t pad, size_t offset)
{
    span s;
    s.lo = offset >= pad ? 0 : (pad - offset + stride - 1) / stride;
    s.hi = in + pad <= offset ? 0 : min_size(out, (in + pad - offset - 1) / stride + 1);
    if (s.lo > s.hi) s.lo = s.hi;
    return s;
}

/* The arguments of one im2col or col2im call, for the range bodies below. */
typedef struct lower_job {
    const nnpi_node *node;
    const float *x; /* im2col: the example; col2im: col */
    float *y;       /* im2col: col; col2im: the example's input cotangent */
    size_t c0, oh0, oh1, ld;
} lower_job;

/* im2col's rows for (channel, ki) pairs q ∈ [q0, q1), q = c·kh + ki: each pair writes its own
 * kw rows of col, so the pairs are independent. */
static void im2col_range(void *ctx, size_t q0, size_t q1)
{
    const lower_job *j = ctx;
    const nnpi_conv_attrs *a = &j->node->attr.conv;
    const geom g = geom_of(j->node);
    const size_t oh0 = j->oh0, oh1 = j->oh1, ld = j->ld;
    for (size_t q = q0; q < q1; q++) {
        const size_t c = q / a->kh, ki = q % a->kh;
        const float *xc = j->x + (j->c0 + c) * g.H * g.W;
        const span rows = inside(g.OH, g.H, a->sh, a->pt, ki * a->dh);
        const size_t r0 = oh0 > rows.lo ? oh0 : rows.lo, r1 = min_size(oh1, rows.hi);
        for (size_t kj = 0; kj < a->kw; kj++) {
            const span cols = inside(g.OW, g.W, a->sw, a->pl, kj * a->dw);
            const size_t m = cols.hi - cols.lo;
            if (m == 0) continue;
            float *dst = j->y + ((c * a->kh + ki) * a->kw + kj) * ld + cols.lo;
            for (size_t oh = r0; oh < r1; oh++) {
                float *restrict d = dst + (oh - oh0) * g.OW;
                const float *restrict s = xc + (oh * a->sh + ki * a->dh - a->pt) * g.W +
                                          (cols.lo * a->sw + kj * a->dw - a->pl);
                if (a->sw == 1)
                    for (size_t i = 0; i < m; i++) d[i] = s[i];
                else
                    for (size_t i = 0; i < m; i++) d[i] = s[i * a->sw];
            }
        }
    }
}

/* Writes the in-image entries of col rows for channels c0 … c0+Cg−1 of one example x and
 * output rows [oh0, oh1): row (c·kh + ki)·kw + kj, column (oh − oh0)·OW + ow holds
 * x[c][oh·sh + ki·dh − pt][ow·sw + kj·dw − pl]. Entries that fall in the padding are not
 * written: the caller zeroes col once, and since they sit at the same places for every
 * example, group and whole-example tile, they stay zero across a pass. Rows are `ld` apart.
 * The (channel, ki) pairs are cut between the threads (pure copies: the same bits for any
 * count). */
static void im2col(const nnpi_node *node, const float *x, size_t c0, size_t oh0, size_t oh1,
                   float *col, size_t ld)
{
    const nnpi_conv_attrs *a = &node->attr.conv;
    const geom g = geom_of(node);
    lower_job j = {.node = node, .x = x, .y = col, .c0 = c0, .oh0 = oh0, .oh1 = oh1, .ld = ld};
    nnpi_parallel_range(g.Cg * a->kh, a->kw * (oh1 - oh0) * g.OW, im2col_range, &j);
}

/* col2im for channels c ∈ [cl, ch): a channel's taps all add into its own plane, so channels
 * are independent and each plane's sums keep their serial order. */
static void col2im_range(void *ctx, size_t cl, size_t ch)
{
    const lower_job *j = ctx;
    const nnpi_conv_attrs *a = &j->node->attr.conv;
    const geom g = geom_of(j->node);
    const size_t oh0 = j->oh0, oh1 = j->oh1;
    for (size_t c = cl; c < ch; c++) {
        float *xc = j->y + (j->c0 + c) * g.H * g.W;
        for (size_t ki = 0; ki < a->kh; ki++) {
            const span rows = inside(g.OH, g.H, a->sh, a->pt, ki * a->dh);
            const size_t r0 = oh0 > rows.lo ? oh0 : rows.lo, r1 = min_size(oh1, rows.hi);
            for (size_t kj = 0; kj < a->kw; kj++) {
                const span cols = inside(g.OW, g.W, a->sw, a->pl, kj * a->dw);
                if (cols.lo == cols.hi) continue;
                const float *src = j->x + ((c * a->kh + ki) * a->kw + kj) * j->ld;
                const size_t m = cols.hi - cols.lo;
                for (size_t oh = r0; oh < r1; oh++) {
                    const float *restrict s = src + (oh - oh0) * g.OW + cols.lo;
                    float *restrict d = xc + (oh * a->sh + ki * a->dh - a->pt) * g.W +
                                        (cols.lo * a->sw + kj * a->dw - a->pl);
                    if (a->sw == 1)
                        for (size_t i = 0; i < m; i++) d[i] += s[i];
                    else
                        for (size_t i = 0; i < m; i++) d[i * a->sw] += s[i];
                }
            }
        }
    }
}

/* The adjoint of im2col: adds every col entry back into the input cell it was read from
 * (cells read by several taps collect all their contributions; padding taps are dropped).
 * Channels are cut between the threads. */
static void col2im_add(const nnpi_node *node, const float *col, size_t ld, size_t c0, size_t oh0,
                       size_t oh1, float *dx)
{
    const nnpi_conv_attrs *a = &node->attr.conv;
    const geom g = geom_of(node);
    lower_job j = {.node = node, .x = col, .y = dx, .c0 = c0, .oh0 = oh0, .oh1 = oh1, .ld = ld};
    nnpi_parallel_range(g.Cg, a->kh * a->kw * (oh1 - oh0) * g.OW, col2im_range, &j);
}

/* One tile: examples b0 … b0+nb−1 whole, or output rows [oh0, oh1) of example b0 (nb = 1). */
typedef struct tile {
    size_t b0, nb, oh0, oh1;
    size_t band; /* (oh1 − oh0)·OW: columns per example */
    size_t cols; /* nb·band: the GEMM's N */
    size_t ld;   /* batch·band: leading dimension of col and staging, the same for a partial
                    last tile so that col's padding zeros stay where they are */
} tile;

static tile tile_at(const geom *g, const plan *p, size_t n, size_t b0, size_t oh0)
{
    tile t = {.b0 = b0, .nb = min_size(p->batch, n - b0), .oh0 = oh0,
              .oh1 = min_size(g->OH, oh0 + p->rows)};
    t.band = (t.oh1 - t.oh0) * g->OW;
    t.cols = t.nb * t.band;
    t.ld = p->batch * t.band;
    return t;
}

/* Lowers group grp of tile t of the batch x into col (K × t.cols, leading dimension t.ld).
 * col's padding entries must be zero: zero_col() before the first tile of a pass. */
static void lower_tile(const nnpi_node *node, const geom *g, const float *x, const tile *t,
                       size_t grp, float *col)
{
    for (size_t b = 0; b < t->nb; b++)
        im2col(node, x + (t->b0 + b) * node->in_size, grp * g->Cg, t->oh0, t->oh1,
               col + b * t->band, t->ld);
}

/* Zeroes col for tile t if the previous tile's zeros may be elsewhere: before the first tile
 * of a pass, and before every band (bands meet the padding at different rows). */
static void zero_col(const geom *g, const plan *p, const tile *t, float *col)
{
    const int first = t->b0 == 0 && t->oh0 == 0;
    if (first || p->rows < g->OH) memset(col, 0, g->K * t->ld * sizeof(float));
}

/* The input's rows for group grp of a one-example tile, used as col when the plan is direct. */
static const float *input_rows(const geom *g, const float *x, const tile *t, size_t grp)
{
    return x + t->b0 * g->C * g->H * g->W + grp * g->Cg * g->P + t->oh0 * g->OW;
}

/* dout of group grp in tile t as a GEMM operand (OCg × t.cols): in place for a one-example
 * tile (leading dimension P), else gathered into `stage` (leading dimension t.ld). */
static const float *dout_operand(const geom *g, const float *dout, const tile *t, size_t grp,
                                 float *stage, size_t *ld)
{
    const float *first = dout + t->b0 * g->OC * g->P + grp * g->OCg * g->P;
    if (t->nb == 1) {
        *ld = g->P;
        return first + t->oh0 * g->OW;
    }
    for (size_t b = 0; b < t->nb; b++)
        for (size_t o = 0; o < g->OCg; o++)
            memcpy(stage + o * t->ld + b * g->P, first + b * g->OC * g->P + o * g->P,
                   g->P * sizeof(float));
    *ld = t->ld;
    return stage;
}

/* Sets the OCg × band block of each example of tile t in `y` (leading dimension ld, examples
 * `step` floats apart) to its bias, so the GEMM can add with β = 1 (cheaper than β = 0, for
 * which OpenBLAS first zeroes C in a separate pass). */
static void fill_bias(const geom *g, const float *bias, const tile *t, float *y, size_t ld,
                      size_t step)
{
    for (size_t b = 0; b < t->nb; b++)
        for (size_t o = 0; o < g->OCg; o++) {
            float *row = y + b * step + o * ld;
            for (size_t j = 0; j < t->band; j++) row[j] = bias[o];
        }
}

static void conv_forward(const nnpi_node *node, const float *params, const float *const *in,
                         float *out, size_t n, float *scratch)
{
    const geom g = geom_of(node);
    const plan p = plan_for(node, n);
    const float *x = in[0];
    const float *bias = node->attr.conv.bias ? params + node->n_weights : NULL;
    for (size_t b0 = 0; b0 < n; b0 += p.batch)
        for (size_t grp = 0; grp < g.G; grp++)
            for (size_t oh0 = 0; oh0 < g.OH; oh0 += p.rows) {
                const tile t = tile_at(&g, &p, n, b0, oh0);
                const float *w = params + grp * g.OCg * g.K, *col = scratch;
                size_t ldcol = t.ld;
                if (p.direct) {
                    col = input_rows(&g, x, &t, grp), ldcol = g.P;
                } else {
                    zero_col(&g, &p, &t, scratch);
                    lower_tile(node, &g, x, &t, grp, scratch);
                }
                /* one example: straight into out; several: into staging, then scattered */
                float *y = out + b0 * g.OC * g.P + grp * g.OCg * g.P + oh0 * g.OW;
                size_t ldy = g.P;
                if (t.nb > 1) y = scratch + g.K * t.ld, ldy = t.ld;
                if (bias) fill_bias(&g, bias + grp * g.OCg, &t, y, ldy, t.band);
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, blas_int(g.OCg),
                            blas_int(t.cols), blas_int(g.K), 1.0f, w, blas_int(g.K), col,
                            blas_int(ldcol), bias ? 1.0f : 0.0f, y, blas_int(ldy));
                if (t.nb == 1) continue;
                for (size_t b = 0; b < t.nb; b++)
                    for (size_t o = 0; o < g.OCg; o++)
                        memcpy(out + (b0 + b) * g.OC * g.P + (grp * g.OCg + o) * g.P,
                               y + o * ldy + b * g.P, g.P * sizeof(float));
            }
}

static void conv_backward_input(const nnpi_node *node, const float *params,
                                const float *const *in, const float *out, const float *dout,
                                float *const *din, size_t n, const unsigned char *accumulate,
                                float *scratch)
{
    (void)in, (void)out;
    const geom g = geom_of(node);
    const plan p = plan_for(node, n);
    const size_t in_size = node->in_size;
    float *dx = din[0];
    /* col2im only adds; the direct path lets the GEMM overwrite or add through β */
    if (!accumulate[0] && !p.direct) memset(dx, 0, n * in_size * sizeof(float));
    for (size_t b0 = 0; b0 < n; b0 += p.batch)
        for (size_t grp = 0; grp < g.G; grp++)
            for (size_t oh0 = 0; oh0 < g.OH; oh0 += p.rows) {
                const tile t = tile_at(&g, &p, n, b0, oh0);
                const float *w = params + grp * g.OCg * g.K;
                size_t ldd;
                float *stage = p.direct ? NULL : scratch + g.K * t.ld;
                const float *dy = dout_operand(&g, dout, &t, grp, stage, &ldd);
                if (p.direct) {
                    float *d = dx + b0 * in_size + grp * g.Cg * g.P;
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, blas_int(g.K),
                                blas_int(t.cols), blas_int(g.OCg), 1.0f, w, blas_int(g.K), dy,
                                blas_int(ldd), accumulate[0] ? 1.0f : 0.0f, d, blas_int(g.P));
                    continue;
                }
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, blas_int(g.K),
                            blas_int(t.cols), blas_int(g.OCg), 1.0f, w, blas_int(g.K), dy,
                            blas_int(ldd), 0.0f, scratch, blas_int(t.ld));
                for (size_t b = 0; b < t.nb; b++)
                    col2im_add(node, scratch + b * t.band, t.ld, grp * g.Cg, t.oh0, t.oh1,
                               dx + (b0 + b) * in_size);
            }
}

static void conv_backward_params(const nnpi_node *node, const float *params,
                                 const float *const *in, const float *dout, float *dparams,
                                 size_t n, float *scratch)
{
    (void)params;
    const geom g = geom_of(node);
    const plan p = plan_for(node, n);
    const float *x = in[0];
    for (size_t b0 = 0; b0 < n; b0 += p.batch)
        for (size_t grp = 0; grp < g.G; grp++)
            for (size_t oh0 = 0; oh0 < g.OH; oh0 += p.rows) {
                const tile t = tile_at(&g, &p, n, b0, oh0);
                const float *col = scratch;
                size_t ldcol = t.ld, ldd;
                if (p.direct) {
                    col = input_rows(&g, x, &t, grp), ldcol = g.P;
                } else {
                    zero_col(&g, &p, &t, scratch);
                    lower_tile(node, &g, x, &t, grp, scratch);
                }
                float *stage = p.direct ? NULL : scratch + g.K * t.ld;
                const float *dy = dout_operand(&g, dout, &t, grp, stage, &ldd);
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, blas_int(g.OCg),
                            blas_int(g.K), blas_int(t.cols), 1.0f, dy, blas_int(ldd), col,
                            blas_int(ldcol), 1.0f, dparams + grp * g.OCg * g.K, blas_int(g.K));
            }
    if (!node->attr.conv.bias) return;
    float *db = dparams + node->n_weights;
    for (size_t o = 0; o < g.OC; o++) {
        double s = 0; /* n·P terms: a double sum keeps the float result exact */
        for (size_t b = 0; b < n; b++) {
            const float *row = dout + b * g.OC * g.P + o * g.P;
            for (size_t j = 0; j < g.P; j++) s += row[j];
        }
        db[o] += (float)s;
    }
}

/* ---- Lipschitz rule (lib/lipschitz; Szegedy et al. 2013, §4.3; docs/paper.md §6) ----------
 * The convolution is linear: its exact norm is Lanczos on its own passes (bounds.c), its
 * tangent its own forward without biases. Its paper bound is a Fourier analysis
 * (conv_fourier.c), whose peak also starts that Lanczos near the top singular vector. */

#define TWO_PI 6.283185307179586476925286766559
/* The refined start frequency's last step, in units of 2π/(H+1): 1/50 of the input box's mode
 * spacing π/(H+1). Measured on the 64→64 3×3 conv on 32×32, seeds 1–8, Lanczos steps with
 * opts.paper_bound = 0: 35 20 29 19 30 26 35 32 with 0.05, 33 17 24 19 28 18 35 32 with 0.01
 * (the winner's last levels cost about 0.5 ms), 33 17 28 19 27 19 35 32 with 0.005: the step
 * counts move by a few either way with the start, so no finer. */
#define FINE 0.01

/* The Fourier grid of the bound: the caller's (q->grid_*, opts.fourier_grid_* of the Lipschitz
 * module), which must be a multiple of the stride, or by default the padded input. */
static nnp_status conv_grid(const nnpi_node *node, const nnpi_lip_query *q, size_t *gh,
                            size_t *gw)
{
    const nnpi_conv_attrs *a = &node->attr.conv;
    if (q->grid_h || q->grid_w) {
        *gh = q->grid_h ? q->grid_h : node->in_h + a->pt + a->pb;
        *gw = q->grid_w ? q->grid_w : node->in_w + a->pl + a->pr;
        if (*gh % a->sh || *gw % a->sw)
            return nnpi_error(NNP_EINVAL,
                              "%s: opts.fourier_grid_%s = %zu is not a multiple of layer %zu's "
                              "stride %zu",
                              q->func, *gh % a->sh ? "h" : "w", *gh % a->sh ? *gh : *gw, q->index,
                              *gh % a->sh ? a->sh : a->sw);
        return NNP_OK;
    }
    /* the padded input, and at least the dilated kernel, rounded up to a stride multiple */
    size_t h = node->in_h + a->pt + a->pb, w = node->in_w + a->pl + a->pr;
    const size_t eh = a->dh * (a->kh - 1) + 1, ew = a->dw * (a->kw - 1) + 1;
    if (h < eh) h = eh;
    if (w < ew) w = ew;
    *gh = (h + a->sh - 1) / a->sh * a->sh;
    *gw = (w + a->sw - 1) / a->sw * a->sw;
    return NNP_OK;
}

/* Start vector for a conv's Lanczos: the top right singular vector of the circular operator
 * on the Fourier grid, read on the layer's real input cells. The circular correlation maps
 * x(c, n) = e^{−2πi f·n/N} u_c to frequency f through B(f) = [K̂(f)] (K̂ with e^{−2πi f·a/N}),
 * so the real input Re Σ_l u_{c,l} e^{−2πi (η + l·M)·n/N} holds the top singular vectors of
 * B(η) and of B(−η) = conj B(η). With zero padding the layer is a restriction of that operator,
 * so this vector is close to (not equal to) the layer's top singular vector, which saves
 * Lanczos steps over a random start (measured: bench/run-lipschitz-bench).
 *
 * Two refinements (measured on the 64→64 3×3 conv on 32×32, seeds 1–3, Lanczos steps to
 * 1e-6): the wave is multiplied by the envelope sin(π(i+½)/H)·sin(π(j+½)/W), the lowest mode
 * of the box [−½, H−½] × [−½, W−½] of the real cells with zero boundary, which is what the
 * restriction to the real cells does to a plane wave (41/43/42 → 36/35/37 steps; the box
 * [−1, H] gave 1–2 steps more); and for stride 1 the frequency is moved off the grid to the
 * local maximum of σ_max(B(ω)) (nnpi_conv_fourier_refine), an offset of (off_h, off_w)
 * radians per cell from the grid point η (→ 35/18/23). */
static void conv_start(const nnpi_node *node, size_t Nh, size_t Nw, const nnpi_fourier_peak *pk,
                       double off_h, double off_w, double *x)
{
    const nnpi_conv_attrs *a = &node->attr.conv;
    const size_t C = node->in_c, H = node->in_h, W = node->in_w, Cg = C / a->groups;
    const size_t P = Cg * a->sh * a->sw, Mh = Nh / a->sh, Mw = Nw / a->sw;
    const double two_pi = 6.283185307179586476925286766559, pi = 0.5 * two_pi;
    memset(x, 0, C * H * W * sizeof *x);
    double *xg = x + pk->group * Cg * H * W;
    for (size_t lh = 0; lh < a->sh; lh++)
        for (size_t lw = 0; lw < a->sw; lw++) {
            const size_t fh = pk->eh + lh * Mh, fw = pk->ew + lw * Mw;
            for (size_t i = 0; i < H; i++) {
                const double eh = sin(pi * ((double)i + 0.5) / (double)H);
                for (size_t j = 0; j < W; j++) {
                    /* phase at grid cell (i + pt, j + pl), the grid part reduced mod N; the
                     * same for every channel */
                    const double ang =
                        two_pi * ((double)((fh * (i + a->pt)) % Nh) / (double)Nh +
                                  (double)((fw * (j + a->pl)) % Nw) / (double)Nw) +
                        off_h * (double)(i + a->pt) + off_w * (double)(j + a->pl);
                    const double e = eh * sin(pi * ((double)j + 0.5) / (double)W);
                    const double ec = e * cos(ang), es = e * sin(ang);
                    /* envelope · Re((ur + i·ui)·e^{−i·ang}) per channel */
                    for (size_t cl = 0; cl < Cg; cl++) {
                        const size_t col = (cl * a->sh + lh) * a->sw + lw;
                        xg[(cl * H + i) * W + j] += pk->vec[col] * ec + pk->vec[P + col] * es;
                    }
                }
            }
        }
}

/* The start vector from the grid peak `pk` of an Nh × Nw Fourier analysis (conv_fourier.c):
 * for stride 1 the peak is first refined off the grid, from half a grid spacing down to a
 * tenth of the box's mode spacing π/(H+1). pk->vec is overwritten. */
static nnp_status make_start(const nnpi_node *node, const float *params, size_t Nh, size_t Nw,
                             nnpi_fourier_peak *pk, double *x)
{
    const nnpi_conv_attrs *a = &node->attr.conv;
    double off_h = 0.0, off_w = 0.0;
    if (a->sh == 1 && a->sw == 1) {
        const double two_pi = 6.283185307179586476925286766559;
        const double oh0 = two_pi * (double)pk->eh / (double)Nh,
                     ow0 = two_pi * (double)pk->ew / (double)Nw;
        double oh = oh0, ow = ow0, sigma;
        const size_t n = Nh > Nw ? Nh : Nw, m = node->in_h > node->in_w ? node->in_h : node->in_w;
        NNPI_TRY(nnpi_conv_fourier_refine(params, node->c, node->in_c, a->groups, a->kh, a->kw,
                                          a->dh, a->dw, pk->group, 0.5 * two_pi / (double)n,
                                          FINE * two_pi / (double)(m + 1), &oh, &ow, pk->vec,
                                          &sigma));
        off_h = oh - oh0;
        off_w = ow - ow0;
    }
    conv_start(node, Nh, Nw, pk, off_h, off_w, x);
    return NNP_OK;
}

/* Lanczos start vector without the paper bound (opts.paper_bound = 0): the peak of a coarse
 * Fourier grid, refined. *start: newly allocated (nnpi_malloc), in_size doubles; NULL on
 * failure. */
static nnp_status conv_cheap_start(const nnpi_node *node, const float *params,
                                   const nnpi_lip_query *q, double **start)
{
    const nnpi_conv_attrs *a = &node->attr.conv;
    const size_t index = q->index;
    *start = NULL;
    /* a coarse grid: 4 points per dilated kernel extent (at least 8), at most the default
     * grid, rounded up to the stride */
    nnpi_lip_query d = *q;
    d.grid_h = d.grid_w = 0;
    size_t gh, gw;
    NNPI_TRY(conv_grid(node, &d, &gh, &gw));
    const size_t eh = a->dh * (a->kh - 1) + 1, ew = a->dw * (a->kw - 1) + 1;
    size_t ch = 4 * eh < 8 ? 8 : 4 * eh, cw = 4 * ew < 8 ? 8 : 4 * ew;
    ch = (ch + a->sh - 1) / a->sh * a->sh;
    cw = (cw + a->sw - 1) / a->sw * a->sw;
    if (ch > gh) ch = gh;
    if (cw > gw) cw = gw;
    const size_t P = node->in_c / a->groups * a->sh * a->sw;
    nnpi_fourier_peak peak = {0, 0, 0, nnpi_malloc(nnpi_mul(2 * P, sizeof(double)))};
    double *x = nnpi_malloc(nnpi_mul(node->in_size, sizeof(double)));
    nnp_status st = NNP_OK;
    if (!peak.vec || !x) {
        st = nnpi_error(NNP_ENOMEM, "%s: layer %zu: out of memory", q->func, index);
        goto done;
    }
    if (a->sh == 1 && a->sw == 1) {
        /* the better of the two highest grid peaks, each refined off the grid (each try costs
         * about one Lanczos step of the 64→64 3×3 conv on 32×32; a third never won on the
         * benchmark's seeds 1–8) */
        const size_t m = node->in_h > node->in_w ? node->in_h : node->in_w;
        double oh, ow;
        st = nnpi_conv_fourier_start(params, node->c, node->in_c, a->groups, a->kh, a->kw, a->dh,
                                     a->dw, ch, cw, 2, 0.05 * TWO_PI / (double)(m + 1),
                                     FINE * TWO_PI / (double)(m + 1),
                                     &peak.group, &oh, &ow, peak.vec);
        if (st == NNP_OK) conv_start(node, 1, 1, &peak, oh, ow, x); /* grid part 0 */
    } else {
        double coarse;
        st = nnpi_conv_fourier_norm(params, node->c, node->in_c, a->groups, a->kh, a->kw, a->sh,
                                    a->sw, a->dh, a->dw, ch, cw, &coarse, &peak, NULL);
        if (st == NNP_OK) st = make_start(node, params, ch, cw, &peak, x);
    }
    if (st != NNP_OK) {
        st = nnpi_error_prefix(st, "%s: layer %zu (conv2d) start vector", q->func, index);
        goto done;
    }
    *start = x;
    x = NULL;
done:
    nnpi_free(peak.vec);
    nnpi_free(x);
    return st;
}

/* Progress units of the paper bound: one per (group, output frequency) pair of the grid. */
static uint64_t conv_fourier_units(const nnpi_node *node, size_t gh, size_t gw)
{
    const nnpi_conv_attrs *a = &node->attr.conv;
    return (uint64_t)a->groups * (gh / a->sh) * (gw / a->sw);
}

static nnp_status conv_lip_bound_units(const nnpi_node *node, const nnpi_lip_query *q,
                                       uint64_t *units)
{
    *units = 0;
    if (!q->paper_bound) return NNP_OK;
    size_t gh, gw;
    NNPI_TRY(conv_grid(node, q, &gh, &gw));
    *units = conv_fourier_units(node, gh, gw);
    return NNP_OK;
}

/* The paper's bound (§4.3, with the stride scale of docs/paper.md §6): the norm of the same
 * convolution applied circularly on the Fourier grid, which contains the layer's zero-padded
 * restriction. Its peak also gives the exact norm's Lanczos start vector (q->want_start).
 * Without q->paper_bound only the strides and, if wanted, a cheaper start vector. */
static nnp_status conv_lip_bound(const nnpi_node *node, const float *params,
                                 const nnpi_lip_query *q, nnpi_lip_rule *r)
{
    const nnpi_conv_attrs *a = &node->attr.conv;
    const size_t index = q->index;
    r->stride_h = a->sh;
    r->stride_w = a->sw;
    if (!q->paper_bound) return q->want_start ? conv_cheap_start(node, params, q, &r->start) : NNP_OK;
    NNPI_TRY(conv_grid(node, q, &r->grid_h, &r->grid_w));
    const size_t P = node->in_c / a->groups * a->sh * a->sw;
    nnpi_fourier_peak peak = {0, 0, 0, NULL};
    if (q->want_start) {
        peak.vec = nnpi_malloc(nnpi_mul(2 * P, sizeof(double)));
        r->start = nnpi_malloc(nnpi_mul(node->in_size, sizeof(double)));
        if (!peak.vec || !r->start) {
            nnpi_free(peak.vec);
            nnpi_free(r->start);
            r->start = NULL;
            return nnpi_error(NNP_ENOMEM, "%s: layer %zu: out of memory", q->func, index);
        }
    }
    nnp_status st = nnpi_conv_fourier_norm(params, node->c, node->in_c, a->groups, a->kh, a->kw,
                                           a->sh, a->sw, a->dh, a->dw, r->grid_h, r->grid_w,
                                           &r->bound, q->want_start ? &peak : NULL, q->progress);
    if (st == NNP_OK && q->want_start)
        st = make_start(node, params, r->grid_h, r->grid_w, &peak, r->start);
    nnpi_free(peak.vec);
    if (st != NNP_OK) {
        nnpi_free(r->start);
        r->start = NULL;
        return nnpi_error_prefix(st, "%s: layer %zu (conv2d)", q->func, index);
    }
    r->units = conv_fourier_units(node, r->grid_h, r->grid_w);
    return NNP_OK;
}

const nnpi_layer_ops nnpi_conv2d_ops = {.kind = NNP_LAYER_CONV2D,
                                        .name = "conv2d",
                                        .forward = conv_forward,
                                        .backward_input = conv_backward_input,
                                        .backward_params = conv_backward_params,
                                        .scratch_floats = conv_scratch_floats,
                                        .lip_flags = NNPI_LIP_LINEAR,
                                        .lip_bound = conv_lip_bound,
                                        .lip_bound_units = conv_lip_bound_units,
                                        .zero_offset = nnpi_zero_bias,
                                        .jvp = nnpi_jvp_by_forward};

/* ---- public builder ---------------------------------------------------------------------- */

static void default_opts(nnp_net_conv2d_opts *o)
{
    memset(o, 0, sizeof *o);
    o->size = sizeof *o;
    o->kernel_h = o->kernel_w = 3;
    o->stride_h = o->stride_w = 1;
    o->dilation_h = o->dilation_w = 1;
    o->groups = 1;
    o->bias = 1;
}

NNP_API nnp_status nnp_net_conv2d_opts_init_sized(nnp_net_conv2d_opts *opts, size_t size)
{
    nnp_net_conv2d_opts d;
    default_opts(&d);
    return nnpi_opts_init(opts, size, &d, sizeof d, "nnp_net_conv2d_opts_init");
}

#define FN "nnp_net_add_conv2d"

/* Checks a field is in [lo, MAX_FIELD]. */
static nnp_status check_field(const char *name, size_t v, size_t lo)
{
    if (v < lo || v > MAX_FIELD)
        return nnpi_error(NNP_EINVAL, FN ": opts.%s = %zu, must be %zu..2^28", name, v, lo);
    return NNP_OK;
}

/* Output extent along one axis: floor((in + pb + pa − d·(k−1) − 1)/s) + 1 (PyTorch's Conv2d
 * documentation; ONNX Conv with explicit pads). Fields are ≤ 2^28, so the sum cannot overflow
 * and d·(k−1) saturates through nnpi_mul. */
static nnp_status out_extent(const char *axis, const char *const names[4], size_t in, size_t pb,
                             size_t pa, size_t k, size_t d, size_t s, size_t *out)
{
    const size_t reach = nnpi_mul(d, k - 1), padded = in + pb + pa; /* reach = span − 1 */
    if (padded <= reach)
        return nnpi_error(NNP_EINVAL,
                          FN ": output %s would be < 1: input %s %zu + opts.%s %zu + opts.%s %zu "
                          "= %zu is less than the dilated kernel %s %zu (opts.%s %zu * (opts.%s "
                          "%zu - 1) + 1)",
                          axis, axis, in, names[0], pb, names[1], pa, padded, axis, reach + 1,
                          names[3], d, names[2], k);
    *out = (padded - reach - 1) / s + 1;
    return NNP_OK;
}

static nnp_status check_opts(const nnp_net_conv2d_opts *o, size_t in_c)
{
    if (o->out_channels == 0 || o->out_channels > MAX_OUT_CHANNELS)
        return nnpi_error(NNP_EINVAL, FN ": opts.out_channels = %zu, must be 1..2^24",
                          o->out_channels);
    NNPI_TRY(check_field("kernel_h", o->kernel_h, 1));
    NNPI_TRY(check_field("kernel_w", o->kernel_w, 1));
    NNPI_TRY(check_field("stride_h", o->stride_h, 1));
    NNPI_TRY(check_field("stride_w", o->stride_w, 1));
    NNPI_TRY(check_field("pad_top", o->pad_top, 0));
    NNPI_TRY(check_field("pad_left", o->pad_left, 0));
    NNPI_TRY(check_field("pad_bottom", o->pad_bottom, 0));
    NNPI_TRY(check_field("pad_right", o->pad_right, 0));
    NNPI_TRY(check_field("dilation_h", o->dilation_h, 1));
    NNPI_TRY(check_field("dilation_w", o->dilation_w, 1));
    if (o->groups == 0)
        return nnpi_error(NNP_EINVAL, FN ": opts.groups = 0, must be >= 1");
    if (in_c % o->groups != 0)
        return nnpi_error(NNP_EINVAL, FN ": opts.groups = %zu does not divide in_channels = %zu",
                          o->groups, in_c);
    if (o->out_channels % o->groups != 0)
        return nnpi_error(NNP_EINVAL,
                          FN ": opts.groups = %zu does not divide opts.out_channels = %zu",
                          o->groups, o->out_channels);
    return NNP_OK;
}

NNP_API nnp_status nnp_net_add_conv2d(nnp_net *net, const nnp_net_conv2d_opts *opts, size_t *layer)
{
    NNPI_CHECK_NULL(net);
    if (opts == NULL)
        return nnpi_error(NNP_EINVAL, FN ": opts is NULL (out_channels has no default)");
    nnp_net_conv2d_opts o;
    default_opts(&o);
    NNPI_TRY(nnpi_opts_copy(&o, sizeof o, opts, FN ": opts"));
    nnpi_node node = nnpi_node_on(net, net->attach, &nnpi_conv2d_ops);
    NNPI_TRY(check_opts(&o, node.in_c));
    size_t oh = 0, ow = 0;
    static const char *const h_names[4] = {"pad_top", "pad_bottom", "kernel_h", "dilation_h"};
    static const char *const w_names[4] = {"pad_left", "pad_right", "kernel_w", "dilation_w"};
    NNPI_TRY(out_extent("height", h_names, node.in_h, o.pad_top, o.pad_bottom, o.kernel_h,
                        o.dilation_h, o.stride_h, &oh));
    NNPI_TRY(out_extent("width", w_names, node.in_w, o.pad_left, o.pad_right, o.kernel_w,
                        o.dilation_w, o.stride_w, &ow));
    const size_t weights = nnpi_mul(nnpi_mul(o.out_channels, node.in_c / o.groups),
                                    nnpi_mul(o.kernel_h, o.kernel_w));
    if (weights > MAX_WEIGHTS)
        return nnpi_error(NNP_EINVAL,
                          FN ": %zu x %zu x %zu x %zu weights exceed 2^31 - 1", o.out_channels,
                          node.in_c / o.groups, o.kernel_h, o.kernel_w);
    const size_t out_size = nnpi_mul(nnpi_mul(o.out_channels, oh), ow);
    if (out_size > MAX_OUTPUT)
        return nnpi_error(NNP_EINVAL, FN ": output %zu x %zu x %zu exceeds 2^28 values per example",
                          o.out_channels, oh, ow);
    node.attr.conv = (nnpi_conv_attrs){.kh = o.kernel_h, .kw = o.kernel_w, .sh = o.stride_h,
                                       .sw = o.stride_w, .pt = o.pad_top, .pl = o.pad_left,
                                       .pb = o.pad_bottom, .pr = o.pad_right, .dh = o.dilation_h,
                                       .dw = o.dilation_w, .groups = o.groups, .bias = o.bias != 0};
    node.c = o.out_channels;
    node.h = oh;
    node.w = ow;
    node.out_size = out_size;
    node.n_weights = weights;
    node.n_bias = o.bias ? o.out_channels : 0;
    size_t index;
    NNPI_TRY(nnpi_net_append(net, &node, &index));
    if (layer) *layer = index;
    return NNP_OK;
}
