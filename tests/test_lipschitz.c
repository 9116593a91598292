/* Lipschitz bounds (lib/lipschitz/: bounds.c, jvp.c, lower.c; the per-kind rules and tangents
 * in lib/net/layer_*.c, the Fourier bound in lib/net/conv_fourier.c, Lanczos in
 * lib/core/spectral.c) against references written here, in double:
 *  - singular values from a cyclic Jacobi eigenvalue solver on AᵀA of the explicit matrix of
 *    each operator, the matrix built column by column from this file's own naive convolution
 *    and pooling loops (never from the library's passes);
 *  - the paper's circular Fourier value against plain power iteration on a circular strided
 *    convolution written here (docs/paper.md Appendix A's operator);
 *  - pooling, batch-norm, activation constants from their definitions;
 *  - tangents (Jv) against the library's VJP by the adjoint identity ⟨u, Jt⟩ = ⟨Jᵀu, t⟩, and
 *    against central differences;
 *  - lower bound ≤ whole-net bound, lower bound = ‖W‖ for a linear net;
 *  - argument checks, cancellation, non-convergence reporting. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/core.h"
#include "net/net_internal.h"
#include "lipschitz/clever.h"
#include "lipschitz/jvp.h"
#include "core/spectral.h"
#include "net/conv_fourier.h"
#include "testutil.h"

/* ---------------------------------------------------------------------------------------- */
/* Reference: largest eigenvalue of a symmetric n×n matrix (row-major, destroyed) by cyclic
 * Jacobi rotations (Golub & Van Loan §8.5), run until the off-diagonal mass is negligible. */
static double jacobi_max_eig(double *A, size_t n)
{
    for (int sweep = 0; sweep < 100; sweep++) {
        double off = 0.0, diag = 0.0;
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < n; j++)
                if (i != j)
                    off += A[i * n + j] * A[i * n + j];
                else
                    diag += A[i * n + i] * A[i * n + i];
        if (off <= 1e-30 * diag || off == 0.0) break;
        for (size_t p = 0; p + 1 < n; p++)
            for (size_t q = p + 1; q < n; q++) {
                const double apq = A[p * n + q];
                if (fabs(apq) < 1e-300) continue;
                const double theta = (A[q * n + q] - A[p * n + p]) / (2.0 * apq);
                const double t = (theta >= 0 ? 1.0 : -1.0) / (fabs(theta) + sqrt(theta * theta + 1.0));
                const double c = 1.0 / sqrt(t * t + 1.0), s = t * c;
                for (size_t k = 0; k < n; k++) { /* columns p, q */
                    const double akp = A[k * n + p], akq = A[k * n + q];
                    A[k * n + p] = c * akp - s * akq;
                    A[k * n + q] = s * akp + c * akq;
                }
                for (size_t k = 0; k < n; k++) { /* rows p, q */
                    const double apk = A[p * n + k], aqk = A[q * n + k];
                    A[p * n + k] = c * apk - s * aqk;
                    A[q * n + k] = s * apk + c * aqk;
                }
            }
    }
    double m = -INFINITY;
    for (size_t i = 0; i < n; i++) m = fmax(m, A[i * n + i]);
    return m;
}

/* σ_max of the rows×cols matrix M (row-major) via Jacobi on MᵀM, or on MMᵀ when that is
 * smaller. */
static double ref_sigma_max(const double *M, size_t rows, size_t cols)
{
    const int t = rows < cols;
    const size_t n = t ? rows : cols;
    double *G = calloc(n * n, sizeof *G);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            double s = 0.0;
            if (t)
                for (size_t c = 0; c < cols; c++) s += M[i * cols + c] * M[j * cols + c];
            else
                for (size_t r = 0; r < rows; r++) s += M[r * cols + i] * M[r * cols + j];
            G[i * n + j] = s;
        }
    const double l = jacobi_max_eig(G, n);
    free(G);
    return sqrt(fmax(l, 0.0));
}

static double rel(double a, double b) { return fabs(a - b) / fmax(fabs(b), 1e-300); }

static nnp_lipschitz_info *bounds_of(const nnp_net *net, const nnp_lipschitz_opts *o)
{
    const size_t L = nnp_net_layer_count(net);
    nnp_lipschitz_info *info = calloc(L, sizeof *info);
    for (size_t i = 0; i < L; i++) info[i].size = sizeof *info;
    ck_assert_ok(nnp_lipschitz_bounds(net, o, info, L));
    return info;
}

/* ---------------------------------------------------------------------------------------- */
/* Dense layers against the Jacobi SVD. */

START_TEST(dense_matches_jacobi_svd)
{
    static const size_t shapes[][2] = {{7, 5}, {5, 7}, {40, 30}, {1, 9}, {64, 64},
                                       {5000, 60}, {3000, 3}};
    const size_t in = shapes[_i][0], out = shapes[_i][1];
    nnp_net *net = NULL;
    ck_assert_ok(nnp_net_create(1, 1, in, &net));
    ck_assert_ok(nnp_net_add_dense(net, out, NULL));
    float *w = malloc(in * out * sizeof *w), *b = malloc(out * sizeof *b);
    tu_fill_uniform(w, in * out, -1.0f, 1.0f, 10 + (uint64_t)_i);
    if (_i == 4) /* two nearly equal top singular values: rows 0 and 1 dominate */
        for (size_t j = 0; j < in; j++) {
            w[j] = (j == 0) ? 10.0f : 0.0f;
            w[in + j] = (j == 1) ? 9.999f : 0.0f;
        }
    tu_fill_uniform(b, out, -5.0f, 5.0f, 99); /* the bias must not matter */
    ck_assert_ok(nnp_net_set_params(net, 1, w, b));
    double *M = malloc(in * out * sizeof *M);
    for (size_t i = 0; i < in * out; i++) M[i] = w[i];
    const double ref = ref_sigma_max(M, out, in);
    nnp_lipschitz_info *info = bounds_of(net, NULL);
    ck_assert_msg(info[1].converged, "not converged: accuracy %g", info[1].accuracy);
    ck_assert_msg(rel(info[1].exact, ref) < 1e-5, "exact %.9g vs SVD %.9g", info[1].exact, ref);
    ck_assert_msg(rel(info[1].bound, ref) < 1e-5, "bound %.9g vs SVD %.9g", info[1].bound, ref);
    ck_assert_uint_eq(info[1].applications, 2 * info[1].iterations);
    ck_assert_msg(info[1].accuracy <= 1e-6, "accuracy %g", info[1].accuracy);
    ck_assert_msg(rel(info[1].upper_to, ref) < 1e-5, "upper_to %g", info[1].upper_to);
    /* opts.exact = 0 still gives the dense bound, and no exact norm */
    nnp_lipschitz_opts o;
    ck_assert_ok(nnp_lipschitz_opts_init(&o));
    o.exact = 0;
    nnp_lipschitz_info *info2 = bounds_of(net, &o);
    ck_assert(isnan(info2[1].exact));
    ck_assert_msg(rel(info2[1].bound, ref) < 1e-5, "bound without exact %.9g", info2[1].bound);
    free(info2);
    free(info);
    free(M);
    free(w);
    free(b);
    nnp_net_free(net);
}
END_TEST

/* ---------------------------------------------------------------------------------------- */
/* Convolutions. */

typedef struct conv_geom {
    size_t C, H, W, D, kh, kw, sh, sw, pt, pl, pb, pr, dh, dw, G;
} conv_geom;

static size_t out_len(size_t in, size_t pa, size_t pb, size_t k, size_t d, size_t s)
{
    return (in + pa + pb - d * (k - 1) - 1) / s + 1;
}

/* Naive zero-padded conv (cross-correlation) of one example, no bias. */
static void ref_conv(const conv_geom *g, const float *w, const double *x, double *y)
{
    const size_t OH = out_len(g->H, g->pt, g->pb, g->kh, g->dh, g->sh);
    const size_t OW = out_len(g->W, g->pl, g->pr, g->kw, g->dw, g->sw);
    const size_t Cg = g->C / g->G, Dg = g->D / g->G;
    for (size_t d = 0; d < g->D; d++)
        for (size_t oh = 0; oh < OH; oh++)
            for (size_t ow = 0; ow < OW; ow++) {
                double s = 0.0;
                const size_t grp = d / Dg;
                for (size_t cl = 0; cl < Cg; cl++)
                    for (size_t a = 0; a < g->kh; a++)
                        for (size_t b = 0; b < g->kw; b++) {
                            const long r = (long)(oh * g->sh + a * g->dh) - (long)g->pt;
                            const long c = (long)(ow * g->sw + b * g->dw) - (long)g->pl;
                            if (r < 0 || c < 0 || r >= (long)g->H || c >= (long)g->W) continue;
                            s += w[((d * Cg + cl) * g->kh + a) * g->kw + b] *
                                 x[((grp * Cg + cl) * g->H + (size_t)r) * g->W + (size_t)c];
                        }
                y[(d * OH + oh) * OW + ow] = s;
            }
}

START_TEST(conv_exact_matches_explicit_matrix)
{
    /* C H W D kh kw sh sw pt pl pb pr dh dw G */
    static const conv_geom cases[] = {
        {3, 6, 6, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},  /* "same" padding */
        {2, 7, 7, 3, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1},  /* stride 2, padded */
        {2, 8, 6, 3, 3, 2, 2, 1, 0, 1, 2, 0, 1, 1, 1},  /* asymmetric stride and padding */
        {2, 8, 8, 2, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2, 1},  /* dilation 2 */
        {4, 5, 5, 6, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 2},  /* groups 2 */
        {4, 6, 6, 4, 3, 3, 2, 2, 0, 0, 0, 0, 1, 1, 4},  /* depthwise, valid, stride 2 */
        {3, 9, 9, 2, 5, 5, 4, 4, 2, 2, 2, 2, 1, 1, 1},  /* 5×5 stride 4 */
        {8, 24, 24, 2, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1}, /* 4608 inputs: partial reorth. */
        {12, 16, 16, 12, 5, 5, 4, 4, 2, 2, 2, 2, 1, 1, 12}, /* depthwise, 3072 inputs */
    };
    const conv_geom *g = &cases[_i];
    nnp_net *net = NULL;
    ck_assert_ok(nnp_net_create(g->C, g->H, g->W, &net));
    nnp_net_conv2d_opts co;
    ck_assert_ok(nnp_net_conv2d_opts_init(&co));
    co.out_channels = g->D;
    co.kernel_h = g->kh, co.kernel_w = g->kw, co.stride_h = g->sh, co.stride_w = g->sw;
    co.pad_top = g->pt, co.pad_left = g->pl, co.pad_bottom = g->pb, co.pad_right = g->pr;
    co.dilation_h = g->dh, co.dilation_w = g->dw, co.groups = g->G;
    ck_assert_ok(nnp_net_add_conv2d(net, &co, NULL));
    nnp_layer_info li = {.size = sizeof li};
    ck_assert_ok(nnp_net_layer_info(net, 1, &li));
    float *w = malloc(li.weight_count * sizeof *w), bias[16];
    tu_fill_uniform(w, li.weight_count, -1.0f, 1.0f, 30 + (uint64_t)_i);
    tu_fill_uniform(bias, li.bias_count, -3.0f, 3.0f, 7);
    ck_assert_ok(nnp_net_set_params(net, 1, w, bias));
    const size_t n_in = g->C * g->H * g->W, n_out = li.output_size;
    double *M = calloc(n_in * n_out, sizeof *M), *x = calloc(n_in, sizeof *x),
           *y = malloc(n_out * sizeof *y);
    for (size_t j = 0; j < n_in; j++) {
        x[j] = 1.0;
        ref_conv(g, w, x, y);
        x[j] = 0.0;
        for (size_t r = 0; r < n_out; r++) M[r * n_in + j] = y[r];
    }
    const double ref = ref_sigma_max(M, n_out, n_in);
    nnp_lipschitz_info *info = bounds_of(net, NULL);
    ck_assert_msg(info[1].converged, "case %d: not converged (%g)", _i, info[1].accuracy);
    ck_assert_msg(rel(info[1].exact, ref) < 1e-5, "case %d: exact %.9g vs matrix %.9g", _i,
                  info[1].exact, ref);
    nnp_lipschitz_opts fo;
    ck_assert_ok(nnp_lipschitz_opts_init(&fo));
    fo.full_reorth = 1;
    nnp_lipschitz_info *full = bounds_of(net, &fo);
    ck_assert_msg(rel(full[1].exact, ref) < 1e-5, "case %d: full reorthogonalisation %.9g vs %.9g",
                  _i, full[1].exact, ref);
    free(full);
    /* opts.paper_bound = 0: the same exact norm (started from a coarse grid's peak), no
     * Fourier bound */
    nnp_lipschitz_opts xo;
    ck_assert_ok(nnp_lipschitz_opts_init(&xo));
    xo.paper_bound = 0;
    nnp_lipschitz_info *xi = bounds_of(net, &xo);
    ck_assert_msg(xi[1].converged, "case %d: paper_bound = 0: not converged (%g)", _i,
                  xi[1].accuracy);
    ck_assert_msg(xi[1].accuracy <= 1e-6, "case %d: accuracy %g", _i, xi[1].accuracy);
    ck_assert_msg(rel(xi[1].exact, ref) < 1e-5, "case %d: paper_bound = 0: exact %.9g vs %.9g",
                  _i, xi[1].exact, ref);
    ck_assert_msg(isnan(xi[1].bound) && isnan(xi[1].upper_to), "case %d: bound %g upper_to %g",
                  _i, xi[1].bound, xi[1].upper_to);
    ck_assert_msg(rel(xi[1].upper_to_exact, ref) < 1e-5, "case %d: upper_to_exact %g", _i,
                  xi[1].upper_to_exact);
    ck_assert_uint_eq(xi[1].grid_h, 0);
    ck_assert_uint_eq(xi[1].grid_w, 0);
    ck_assert_uint_eq(xi[1].stride_h, g->sh);
    ck_assert_uint_eq(xi[1].stride_w, g->sw);
    free(xi);
    /* the Fourier value is the norm of the circular conv on a grid ≥ the padded input: an
     * upper bound of the zero-padded operator */
    ck_assert_msg(info[1].bound >= ref * (1 - 1e-9), "case %d: bound %.9g < exact %.9g", _i,
                  info[1].bound, ref);
    ck_assert_uint_eq(info[1].stride_h, g->sh);
    ck_assert_uint_eq(info[1].stride_w, g->sw);
    ck_assert_uint_eq(info[1].grid_h % g->sh, 0);
    ck_assert_uint_ge(info[1].grid_h, g->H + g->pt + g->pb);
    ck_assert_uint_ge(info[1].grid_w, g->W + g->pl + g->pr);
    free(info);
    free(M);
    free(x);
    free(y);
    free(w);
    nnp_net_free(net);
}
END_TEST

/* Two singular values 8e-5 apart (σ₁ = 1.8526633, σ₂ = 1.8525130 for these weights): with the
 * gap refinement of the error estimate trusted from the first steps, every start (the Fourier
 * vector, the coarse-grid one of paper_bound = 0, and a random one) reported convergence to
 * ≤ 1e-6 after 8–12 steps while 1e-5 to 8e-5 off (spectral.c, KT_MIN_STEPS). Each run must
 * now be within 2e-6 of the explicit matrix's σ_max when it says it converged to 1e-6. */
START_TEST(close_pair_is_resolved)
{
    const conv_geom g = {2, 9, 9, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    nnp_net *net = NULL;
    ck_assert_ok(nnp_net_create(g.C, g.H, g.W, &net));
    nnp_net_conv2d_opts co;
    ck_assert_ok(nnp_net_conv2d_opts_init(&co));
    co.out_channels = g.D;
    co.pad_top = co.pad_left = co.pad_bottom = co.pad_right = 1;
    ck_assert_ok(nnp_net_add_conv2d(net, &co, NULL));
    ck_assert_ok(nnp_net_init_params(net, 3));
    float w[72], b[4];
    ck_assert_ok(nnp_net_get_params(net, 1, w, b));
    const size_t n_in = 162, n_out = 324;
    double *M = calloc(n_in * n_out, sizeof *M), *x = calloc(n_in, sizeof *x),
           *y = malloc(n_out * sizeof *y);
    for (size_t j = 0; j < n_in; j++) {
        x[j] = 1.0;
        ref_conv(&g, w, x, y);
        x[j] = 0.0;
        for (size_t r = 0; r < n_out; r++) M[r * n_in + j] = y[r];
    }
    const double ref = ref_sigma_max(M, n_out, n_in);
    for (int variant = 0; variant < 4; variant++) {
        nnp_lipschitz_opts o;
        ck_assert_ok(nnp_lipschitz_opts_init(&o));
        o.paper_bound = variant != 1;
        o.full_reorth = variant == 2;
        o.seed = variant == 3 ? 12345 : 1;
        nnp_lipschitz_info *info = bounds_of(net, &o);
        ck_assert_msg(info[1].converged, "variant %d: not converged", variant);
        ck_assert_msg(rel(info[1].exact, ref) < 2e-6, "variant %d: %.10g vs %.10g (claimed %g)",
                      variant, info[1].exact, ref, info[1].accuracy);
        free(info);
    }
    free(M);
    free(x);
    free(y);
    nnp_net_free(net);
}
END_TEST

/* Circular strided correlation on an Nh×Nw grid (paper.md Appendix A's operator, with
 * dilation and groups), and its adjoint, written directly. */
typedef struct circ {
    size_t C, D, G, kh, kw, sh, sw, dh, dw, Nh, Nw;
    const float *w;
} circ;

static void circ_apply(const circ *c, const double *x, double *y)
{
    const size_t Mh = c->Nh / c->sh, Mw = c->Nw / c->sw, Cg = c->C / c->G, Dg = c->D / c->G;
    for (size_t d = 0; d < c->D; d++)
        for (size_t i = 0; i < Mh; i++)
            for (size_t j = 0; j < Mw; j++) {
                double s = 0.0;
                for (size_t cl = 0; cl < Cg; cl++)
                    for (size_t a = 0; a < c->kh; a++)
                        for (size_t b = 0; b < c->kw; b++) {
                            const size_t r = (i * c->sh + a * c->dh) % c->Nh;
                            const size_t q = (j * c->sw + b * c->dw) % c->Nw;
                            s += c->w[((d * Cg + cl) * c->kh + a) * c->kw + b] *
                                 x[((d / Dg * Cg + cl) * c->Nh + r) * c->Nw + q];
                        }
                y[(d * Mh + i) * Mw + j] = s;
            }
}

static void circ_adjoint(const circ *c, const double *y, double *x)
{
    const size_t Mh = c->Nh / c->sh, Mw = c->Nw / c->sw, Cg = c->C / c->G, Dg = c->D / c->G;
    memset(x, 0, c->C * c->Nh * c->Nw * sizeof *x);
    for (size_t d = 0; d < c->D; d++)
        for (size_t i = 0; i < Mh; i++)
            for (size_t j = 0; j < Mw; j++)
                for (size_t cl = 0; cl < Cg; cl++)
                    for (size_t a = 0; a < c->kh; a++)
                        for (size_t b = 0; b < c->kw; b++) {
                            const size_t r = (i * c->sh + a * c->dh) % c->Nh;
                            const size_t q = (j * c->sw + b * c->dw) % c->Nw;
                            x[((d / Dg * Cg + cl) * c->Nh + r) * c->Nw + q] +=
                                c->w[((d * Cg + cl) * c->kh + a) * c->kw + b] *
                                y[(d * Mh + i) * Mw + j];
                        }
}

START_TEST(fourier_equals_power_iteration_on_circular_conv)
{
    /* C D G kh kw sh sw dh dw Nh Nw */
    static const size_t cases[][11] = {
        {3, 4, 1, 3, 3, 1, 1, 1, 1, 8, 8}, /* paper.md Appendix A's shapes, Δ = 1, 2, 4 */
        {3, 4, 1, 3, 3, 2, 2, 1, 1, 8, 8},
        {3, 4, 1, 3, 3, 4, 4, 1, 1, 8, 8},
        {2, 3, 1, 3, 2, 2, 1, 2, 1, 8, 6}, /* rectangular stride, dilation, grid */
        {4, 4, 2, 3, 3, 1, 1, 1, 1, 6, 6}, /* groups */
        {2, 2, 1, 5, 5, 1, 1, 1, 1, 4, 4}, /* kernel larger than the grid: taps wrap */
    };
    const size_t *k = cases[_i];
    circ c = {k[0], k[1], k[2], k[3], k[4], k[5], k[6], k[7], k[8], k[9], k[10], NULL};
    const size_t nw = c.D * (c.C / c.G) * c.kh * c.kw;
    float *w = malloc(nw * sizeof *w);
    tu_fill_uniform(w, nw, -1.0f, 1.0f, 50 + (uint64_t)_i);
    c.w = w;
    double fourier = 0.0;
    ck_assert_ok(nnpi_conv_fourier_norm(w, c.D, c.C, c.G, c.kh, c.kw, c.sh, c.sw, c.dh, c.dw, c.Nh,
                                        c.Nw, &fourier, NULL, NULL));
    /* plain power iteration on AᵀA in double, run far past convergence */
    const size_t n_in = c.C * c.Nh * c.Nw, n_out = c.D * (c.Nh / c.sh) * (c.Nw / c.sw);
    double *v = malloc(n_in * sizeof *v), *u = malloc(n_out * sizeof *u);
    for (size_t i = 0; i < n_in; i++) v[i] = sin(1.0 + 0.37 * (double)i) + 0.1;
    double sigma = 0.0;
    for (int it = 0; it < 20000; it++) {
        double nv = 0.0;
        for (size_t i = 0; i < n_in; i++) nv += v[i] * v[i];
        nv = sqrt(nv);
        for (size_t i = 0; i < n_in; i++) v[i] /= nv;
        circ_apply(&c, v, u);
        double nu = 0.0;
        for (size_t i = 0; i < n_out; i++) nu += u[i] * u[i];
        const double s = sqrt(nu);
        if (it > 50 && fabs(s - sigma) <= 1e-15 * s) {
            sigma = s;
            break;
        }
        sigma = s;
        circ_adjoint(&c, u, v);
    }
    ck_assert_msg(rel(fourier, sigma) < 1e-6, "case %d: Fourier %.10g vs power iteration %.10g",
                  _i, fourier, sigma);
    /* the paper's printed Δ⁻² scale would be off by Δ for strided cases */
    if (c.sh == c.sw && c.sh > 1) ck_assert(rel(fourier / (double)c.sh, sigma) > 0.1);
    free(v);
    free(u);
    free(w);
}
END_TEST

/* ---------------------------------------------------------------------------------------- */
/* Pooling, batch norm, activations, normalisations. */

static nnp_net *pool_net_ceil(int max, size_t C, size_t H, size_t W, size_t k, size_t s,
                              size_t pad, int include_pad, int ceil_mode)
{
    nnp_net *net = NULL;
    ck_assert_ok(nnp_net_create(C, H, W, &net));
    nnp_net_pool2d_opts po;
    ck_assert_ok(nnp_net_pool2d_opts_init(&po));
    po.kernel_h = po.kernel_w = k;
    po.stride_h = po.stride_w = s;
    po.pad_top = po.pad_left = po.pad_bottom = po.pad_right = pad;
    po.count_include_pad = include_pad;
    po.ceil_mode = ceil_mode;
    if (max)
        ck_assert_ok(nnp_net_add_maxpool2d(net, &po, NULL));
    else
        ck_assert_ok(nnp_net_add_avgpool2d(net, &po, NULL));
    return net;
}

static nnp_net *pool_net(int max, size_t C, size_t H, size_t W, size_t k, size_t s, size_t pad,
                         int include_pad)
{
    return pool_net_ceil(max, C, H, W, k, s, pad, include_pad, 0);
}

START_TEST(maxpool_constants_and_tightness)
{
    /* k, s, expected overlap m (by hand: ⌈k/s⌉² cells in the interior) */
    static const size_t cases[][3] = {{2, 2, 1}, {3, 2, 4}, {3, 1, 9}, {2, 3, 1}, {3, 3, 1}};
    const size_t k = cases[_i][0], s = cases[_i][1], m = cases[_i][2];
    nnp_net *net = pool_net(1, 2, 9, 9, k, s, 0, 0);
    nnp_lipschitz_info *info = bounds_of(net, NULL);
    ck_assert_uint_eq(info[1].overlap, m);
    ck_assert(rel(info[1].bound, sqrt((double)m)) < 1e-15);
    ck_assert(isnan(info[1].exact));
    /* tightness: a cell that is the maximum of all m windows holding it gives ‖J‖ = √m */
    float x[2 * 81];
    tu_fill_uniform(x, 2 * 81, 0.0f, 0.5f, 3);
    x[4 * 9 + 4] = 10.0f; /* centre cell (4, 4) of channel 0 */
    double lower = 0.0;
    ck_assert_ok(nnp_lipschitz_lower(net, x, 1, 1, NULL, NULL, &lower, NULL));
    ck_assert_msg(rel(lower, sqrt((double)m)) < 1e-5, "k %zu s %zu: lower %g, expected %g", k, s,
                  lower, sqrt((double)m));
    free(info);
    nnp_net_free(net);
}
END_TEST

/* Naive average pooling matrix of one plane, for the explicit-matrix reference. */
START_TEST(avgpool_exact_and_bound)
{
    /* k, s, pad, include_pad, ceil_mode (the last window of the 7 rows, or of the 6 columns
     * with padding, is clipped to the padded input: PyTorch's divisor counts its cells there) */
    static const size_t cases[][5] = {{2, 2, 0, 0, 0}, {3, 2, 1, 0, 0}, {3, 2, 1, 1, 0},
                                      {3, 1, 0, 0, 0}, {2, 2, 0, 1, 1}, {3, 2, 1, 1, 1},
                                      {3, 2, 1, 0, 1}};
    const size_t k = cases[_i][0], s = cases[_i][1], pad = cases[_i][2], inc = cases[_i][3];
    const size_t H = 7, W = 6;
    nnp_net *net = pool_net_ceil(0, 2, H, W, k, s, pad, (int)inc, (int)cases[_i][4]);
    nnp_layer_info li = {.size = sizeof li};
    ck_assert_ok(nnp_net_layer_info(net, 1, &li));
    const size_t OH = li.height, OW = li.width;
    /* one plane's matrix: channels are independent and identical */
    double *M = calloc(OH * OW * H * W, sizeof *M);
    for (size_t oh = 0; oh < OH; oh++)
        for (size_t ow = 0; ow < OW; ow++) {
            size_t cells = 0, padded = 0;
            for (size_t a = 0; a < k; a++)
                for (size_t b = 0; b < k; b++) {
                    const long r = (long)(oh * s + a) - (long)pad, c = (long)(ow * s + b) - (long)pad;
                    cells += r >= 0 && c >= 0 && r < (long)H && c < (long)W;
                    padded += r < (long)(H + pad) && c < (long)(W + pad);
                }
            const double div = inc ? (double)padded : (double)cells;
            for (size_t a = 0; a < k; a++)
                for (size_t b = 0; b < k; b++) {
                    const long r = (long)(oh * s + a) - (long)pad, c = (long)(ow * s + b) - (long)pad;
                    if (r >= 0 && c >= 0 && r < (long)H && c < (long)W)
                        M[(oh * OW + ow) * H * W + (size_t)r * W + (size_t)c] = 1.0 / div;
                }
        }
    const double ref = ref_sigma_max(M, OH * OW, H * W);
    nnp_lipschitz_info *info = bounds_of(net, NULL);
    ck_assert_msg(rel(info[1].exact, ref) < 1e-5, "exact %.9g vs matrix %.9g", info[1].exact, ref);
    ck_assert_msg(info[1].bound >= ref * (1 - 1e-12), "bound %g < exact %g", info[1].bound, ref);
    if (_i == 0) /* non-overlapping k×k windows tiling the input: 1/k exactly */
        ck_assert_msg(rel(info[1].bound, 1.0 / (double)k) < 1e-15, "bound %g", info[1].bound);
    free(info);
    free(M);
    nnp_net_free(net);
}
END_TEST

START_TEST(batchnorm_global_pool_and_activation_constants)
{
    nnp_net *net = NULL;
    size_t bn, gp, sg, th, sp, rl, cn, lk, lk2, cl, hs, hw, pd;
    ck_assert_ok(nnp_net_create(3, 4, 5, &net));
    ck_assert_ok(nnp_net_add_batchnorm(net, 1e-3f, &bn));
    ck_assert_ok(nnp_net_add_clip(net, 0.0, 6.0, &cl));
    ck_assert_ok(nnp_net_add_hard_sigmoid(net, -0.4, 0.5, &hs));
    ck_assert_ok(nnp_net_add_activation(net, NNP_LAYER_HARD_SWISH, &hw));
    ck_assert_ok(nnp_net_add_pad(net, 1, 2, 0, 1, &pd));
    ck_assert_ok(nnp_net_add_leaky_relu(net, -1.5, &lk));
    ck_assert_ok(nnp_net_add_leaky_relu(net, 0.2, &lk2));
    ck_assert_ok(nnp_net_add_activation(net, NNP_LAYER_SIGMOID, &sg));
    ck_assert_ok(nnp_net_add_activation(net, NNP_LAYER_TANH, &th));
    ck_assert_ok(nnp_net_add_activation(net, NNP_LAYER_SOFTPLUS, &sp));
    ck_assert_ok(nnp_net_add_activation(net, NNP_LAYER_RELU, &rl));
    ck_assert_ok(nnp_net_add_contrast_norm(net, 0.25f, 0.75f, &cn));
    ck_assert_ok(nnp_net_add_global_avgpool(net, &gp));
    const float w[9] = {0.5f, -3.0f, 2.0f, /* scale */ 1.0f, 2.0f, 3.0f, /* mean */
                        0.25f, 4.0f, 1.0f /* var */};
    const float b[3] = {1, 2, 3};
    ck_assert_ok(nnp_net_set_params(net, bn, w, b));
    double want = 0.0;
    for (int c = 0; c < 3; c++) want = fmax(want, fabs(w[c]) / sqrt((double)w[6 + c] + 1e-3f));
    nnp_lipschitz_info *info = bounds_of(net, NULL);
    ck_assert_msg(rel(info[bn].bound, want) < 1e-12, "batchnorm bound %.9g vs %.9g", info[bn].bound, want);
    ck_assert_msg(rel(info[bn].exact, want) < 1e-5, "batchnorm exact %.9g vs %.9g", info[bn].exact, want);
    ck_assert(info[sg].bound == 0.25);
    ck_assert(info[th].bound == 1.0 && info[sp].bound == 1.0 && info[rl].bound == 1.0);
    ck_assert(info[lk].bound == 1.5 && info[lk2].bound == 1.0); /* max(1, |α|) */
    ck_assert(rel(info[cn].bound, pow(0.25, -0.75)) < 1e-6);
    ck_assert(info[cl].bound == 1.0 && rel(info[hs].bound, 0.4) < 1e-7); /* |α|, α a float */
    ck_assert(info[hw].bound == 1.5); /* sup of the slope (2x + 3)/6 on [-3, 3] */
    ck_assert(info[pd].bound == 1.0); /* an isometric embedding: exactly 1 */
    ck_assert_msg(rel(info[pd].exact, 1.0) < 1e-5, "pad exact %g", info[pd].exact);
    /* the global pool now sees the padded 5×8 plane */
    ck_assert(rel(info[gp].bound, 1.0 / sqrt(40.0)) < 1e-15);
    ck_assert_msg(rel(info[gp].exact, 1.0 / sqrt(40.0)) < 1e-5, "global pool exact %g", info[gp].exact);
    /* the chain's bound is the product of its layers' bounds */
    double prod = 1.0;
    for (size_t i = 1; i < nnp_net_layer_count(net); i++) prod *= info[i].bound;
    ck_assert(rel(info[gp].upper_to, prod) < 1e-12);
    free(info);
    nnp_net_free(net);
}
END_TEST

/* LRN and contrast normalisation: the bound holds at points chosen to stress it. */
START_TEST(normalisation_bounds_hold)
{
    nnp_net *net = NULL;
    ck_assert_ok(nnp_net_create(6, 3, 3, &net));
    size_t lrn, cn;
    ck_assert_ok(nnp_net_add_lrn(net, 5, 2.0f, 0.75f, 1.0f, &lrn));
    ck_assert_ok(nnp_net_add_contrast_norm(net, 0.5f, 1.5f, &cn));
    nnp_lipschitz_info *info = bounds_of(net, NULL);
    const double g = pow(0.75, 0.75) / pow(1.75, 1.75);
    ck_assert(rel(info[lrn].bound, 1.0 * (1.0 + 2.0 * 0.75 * pow(5.0, 0.75) * g)) < 1e-12);
    ck_assert(rel(info[cn].bound, pow(0.5, -1.5) * 2.0) < 1e-12);
    const size_t n = 64, d = 54;
    float *x = malloc(n * d * sizeof *x);
    for (size_t i = 0; i < n; i++) /* scales from 0.01 to ~100 */
        tu_fill_uniform(x + i * d, d, -1.0f, 1.0f, 100 + i), x[i * d] *= 1.0f;
    for (size_t i = 0; i < n; i++) {
        const float scale = powf(10.0f, -2.0f + 4.0f * (float)i / (float)(n - 1));
        for (size_t j = 0; j < d; j++) x[i * d + j] *= scale;
    }
    double lo_lrn = 0, lo_cn = 0;
    nnp_lipschitz_opts o;
    ck_assert_ok(nnp_lipschitz_opts_init(&o));
    o.power_iters = 200;
    ck_assert_ok(nnp_lipschitz_lower(net, x, n, lrn, &o, NULL, &lo_lrn, NULL));
    /* the contrast norm alone: lower bound of the composition ≤ product */
    ck_assert_ok(nnp_lipschitz_lower(net, x, n, cn, &o, NULL, &lo_cn, NULL));
    ck_assert_msg(lo_lrn <= info[lrn].bound * (1 + 1e-5), "LRN lower %g > bound %g", lo_lrn,
                  info[lrn].bound);
    ck_assert_msg(lo_lrn > 0.3 * info[lrn].bound, "LRN lower %g: bound %g suspiciously loose",
                  lo_lrn, info[lrn].bound);
    ck_assert_msg(lo_cn <= info[cn].upper_to * (1 + 1e-5), "lower %g > product %g", lo_cn,
                  info[cn].upper_to);
    free(x);
    free(info);
    nnp_net_free(net);
}
END_TEST

/* ---------------------------------------------------------------------------------------- */
/* Whole net, residuals, tangents, lower bound. */

/* conv → relu → LRN → maxpool 3×3/2 → batchnorm → hard swish → hard sigmoid → clip → avgpool
 * → residual add(relu, conv) → contrast norm → pad → flatten → dense → sigmoid → dropout →
 * dense: every kind with a tangent rule. */
static nnp_net *every_kind_net(uint64_t seed)
{
    nnp_net *net = NULL;
    ck_assert_ok(nnp_net_create(2, 9, 9, &net));
    nnp_net_conv2d_opts co;
    ck_assert_ok(nnp_net_conv2d_opts_init(&co));
    co.out_channels = 4;
    co.pad_top = co.pad_left = co.pad_bottom = co.pad_right = 1;
    ck_assert_ok(nnp_net_add_conv2d(net, &co, NULL));
    ck_assert_ok(nnp_net_add_activation(net, NNP_LAYER_RELU, NULL));
    ck_assert_ok(nnp_net_add_lrn(net, 3, 0.5f, 0.75f, 1.0f, NULL));
    nnp_net_pool2d_opts po;
    ck_assert_ok(nnp_net_pool2d_opts_init(&po));
    po.kernel_h = po.kernel_w = 3;
    ck_assert_ok(nnp_net_add_maxpool2d(net, &po, NULL));
    size_t bn, r1, c2;
    ck_assert_ok(nnp_net_add_batchnorm(net, 1e-5f, &bn));
    ck_assert_ok(nnp_net_add_activation(net, NNP_LAYER_HARD_SWISH, NULL));
    ck_assert_ok(nnp_net_add_hard_sigmoid(net, 0.5, 0.5, NULL));
    ck_assert_ok(nnp_net_add_clip(net, 0.1, 0.9, NULL));
    po.kernel_h = po.kernel_w = 2;
    po.stride_h = po.stride_w = 1;
    ck_assert_ok(nnp_net_add_avgpool2d(net, &po, NULL));
    ck_assert_ok(nnp_net_add_activation(net, NNP_LAYER_TANH, &r1));
    co.out_channels = 4;
    ck_assert_ok(nnp_net_add_conv2d(net, &co, &c2));
    ck_assert_ok(nnp_net_add_add(net, r1, c2, NULL));
    ck_assert_ok(nnp_net_add_contrast_norm(net, 1.0f, 0.5f, NULL));
    ck_assert_ok(nnp_net_add_pad(net, 1, 0, 0, 1, NULL));
    ck_assert_ok(nnp_net_add_flatten(net, NULL));
    ck_assert_ok(nnp_net_add_dense(net, 12, NULL));
    ck_assert_ok(nnp_net_add_activation(net, NNP_LAYER_SIGMOID, NULL));
    ck_assert_ok(nnp_net_add_activation(net, NNP_LAYER_SOFTPLUS, NULL));
    ck_assert_ok(nnp_net_add_leaky_relu(net, -0.4, NULL));
    ck_assert_ok(nnp_net_add_dropout(net, 0.5f, NULL));
    ck_assert_ok(nnp_net_add_dense(net, 5, NULL));
    ck_assert_ok(nnp_net_init_params(net, seed));
    const float bw[12] = {1.5f, 0.5f, 2.0f, 1.0f, 0.1f, -0.2f, 0.0f, 0.3f, 0.5f, 2.0f, 1.0f, 0.7f};
    const float bb[4] = {0.1f, -0.1f, 0.2f, 0.0f};
    ck_assert_ok(nnp_net_set_params(net, bn, bw, bb));
    return net;
}

static double dotf(const float *a, const float *b, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

START_TEST(tangent_is_adjoint_of_vjp)
{
    nnp_net *net = every_kind_net(5);
    const size_t L = nnp_net_layer_count(net), D = nnp_net_input_size(net), n = 3;
    float *x = malloc(n * D * sizeof *x), *t = malloc(n * D * sizeof *t), *dx = malloc(n * D * sizeof *dx);
    tu_fill_uniform(x, n * D, 0.0f, 1.0f, 8);
    tu_fill_uniform(t, n * D, -1.0f, 1.0f, 9);
    nnp_workspace *ws = NULL;
    ck_assert_ok(nnp_workspace_create(net, n, &ws));
    float *lin = NULL;
    ck_assert_ok(nnpi_linear_params(net, &lin));
    for (size_t layer = 1; layer < L; layer++) {
        const size_t M = net->nodes[layer].out_size;
        float *u = malloc(n * M * sizeof *u), *jt = malloc(n * M * sizeof *jt);
        tu_fill_uniform(u, n * M, -1.0f, 1.0f, 20 + layer);
        ck_assert_ok(nnpi_jvp_check(net, layer));
        nnpi_forward(net, ws, x, n, layer);
        nnpi_jvp(net, ws, x, lin, n, 0, layer, t);
        memcpy(jt, ws->grad[layer], n * M * sizeof *jt);
        ck_assert_ok(nnp_grad_vjp(net, ws, x, n, layer, u, dx));
        for (size_t i = 0; i < n; i++) {
            const double lhs = dotf(u + i * M, jt + i * M, M), rhs = dotf(dx + i * D, t + i * D, D);
            ck_assert_msg(fabs(lhs - rhs) <= 1e-4 * (fabs(lhs) + fabs(rhs)) + 1e-6,
                          "layer %zu example %zu: <u, Jt> = %.9g, <J'u, t> = %.9g", layer, i, lhs, rhs);
        }
        /* and against central differences of the forward pass (smooth enough at h = 1e-3) */
        if (layer == L - 1) {
            const float h = 1e-3f;
            float *xp = malloc(D * sizeof *xp), *yp = malloc(M * sizeof *yp), *ym = malloc(M * sizeof *ym);
            for (size_t j = 0; j < D; j++) xp[j] = x[j] + h * t[j];
            ck_assert_ok(nnp_net_forward_layer(net, NULL, xp, 1, layer, yp));
            for (size_t j = 0; j < D; j++) xp[j] = x[j] - h * t[j];
            ck_assert_ok(nnp_net_forward_layer(net, NULL, xp, 1, layer, ym));
            double err = 0.0, scale = 0.0;
            for (size_t j = 0; j < M; j++) {
                err = fmax(err, fabs((yp[j] - ym[j]) / (2.0 * h) - jt[j]));
                scale = fmax(scale, fabs(jt[j]));
            }
            ck_assert_msg(err <= 5e-2 * fmax(scale, 1e-3), "FD error %g (scale %g)", err, scale);
            free(xp);
            free(yp);
            free(ym);
        }
        /* a block first → layer (first > 0): the same identity against the backward pass's
         * adjoint at node `first` */
        for (size_t first = 1; first < layer; first += 3) {
            const size_t F = net->nodes[first].out_size;
            float *tf = malloc(n * F * sizeof *tf), *gf = malloc(n * F * sizeof *gf);
            tu_fill_uniform(tf, n * F, -1.0f, 1.0f, 40 + first);
            nnpi_forward(net, ws, x, n, layer);
            nnpi_jvp(net, ws, x, lin, n, first, layer, tf);
            memcpy(jt, ws->grad[layer], n * M * sizeof *jt);
            nnpi_backward_begin(ws);
            memcpy(ws->grad[layer], u, n * M * sizeof *u);
            ws->grad_set[layer] = 1;
            nnpi_backward(net, ws, x, n, layer, NULL, NULL, 0);
            if (ws->grad_set[first])
                memcpy(gf, ws->grad[first], n * F * sizeof *gf);
            else
                memset(gf, 0, n * F * sizeof *gf);
            for (size_t i = 0; i < n; i++) {
                const double lhs = dotf(u + i * M, jt + i * M, M), rhs = dotf(gf + i * F, tf + i * F, F);
                ck_assert_msg(fabs(lhs - rhs) <= 1e-4 * (fabs(lhs) + fabs(rhs)) + 1e-6,
                              "block %zu..%zu example %zu: %.9g vs %.9g", first, layer, i, lhs, rhs);
            }
            free(tf);
            free(gf);
        }
        free(u);
        free(jt);
    }
    nnpi_free(lin);
    nnp_workspace_free(ws);
    free(x);
    free(t);
    free(dx);
    nnp_net_free(net);
}
END_TEST

/* Every layer kind of the enum has a Lipschitz rule and a tangent rule in its ops entry, and
 * appears in every_kind_net (or, for the global average pool, which ends the spatial part,
 * in a small net of its own): a kind appended to nnp_layer_kind fails here until its file
 * gives both rules and it is added to the net above, whose adjoint and finite-difference
 * checks then cover its tangent (docs/architecture.md, "Adding a layer kind"). */
START_TEST(every_kind_has_its_rules)
{
    const int K = nnp_layer_kind_count();
    const nnpi_layer_ops **seen = calloc((size_t)K, sizeof *seen);
    nnp_net *nets[2] = {every_kind_net(1), NULL};
    ck_assert_ok(nnp_net_create(2, 5, 5, &nets[1]));
    ck_assert_ok(nnp_net_add_global_avgpool(nets[1], NULL));
    ck_assert_ok(nnp_net_add_dense(nets[1], 3, NULL));
    for (size_t k = 0; k < 2; k++)
        for (size_t i = 0; i < nets[k]->n_nodes; i++) {
            const nnpi_layer_ops *ops = nets[k]->nodes[i].ops;
            ck_assert_int_lt((int)ops->kind, K);
            seen[ops->kind] = ops;
        }
    for (int k = 0; k < K; k++) {
        const nnpi_layer_ops *ops = seen[k];
        ck_assert_msg(ops != NULL, "kind %d (%s) is in no test net", k,
                      nnp_layer_kind_name((nnp_layer_kind)k));
        ck_assert_msg(ops->lip_bound != NULL || (ops->lip_flags & NNPI_LIP_BOUND_IS_NORM),
                      "kind %s has no Lipschitz rule", ops->name);
        if (k != NNP_LAYER_INPUT) /* the tangent pass starts at the input's output */
            ck_assert_msg(ops->jvp != NULL, "kind %s has no tangent rule", ops->name);
        if (ops->lip_flags & NNPI_LIP_LINEAR) /* Lanczos runs on its own passes */
            ck_assert(ops->forward != NULL && ops->backward_input != NULL);
    }
    nnp_net_free(nets[0]);
    nnp_net_free(nets[1]);
    free(seen);
}
END_TEST

START_TEST(lower_bound_below_product_and_residual_sum)
{
    nnp_net *net = every_kind_net(11);
    const size_t L = nnp_net_layer_count(net), D = nnp_net_input_size(net), n = 20;
    nnp_lipschitz_info *info = bounds_of(net, NULL);
    for (size_t i = 1; i < L; i++) {
        const nnpi_node *node = &net->nodes[i];
        if (info[i].kind == NNP_LAYER_ADD)
            ck_assert(rel(info[i].upper_to, info[node->inputs[0]].upper_to +
                                                info[node->inputs[1]].upper_to) < 1e-12);
        else
            ck_assert(rel(info[i].upper_to, info[i].bound * info[node->inputs[0]].upper_to) < 1e-12);
        ck_assert_msg(info[i].upper_to_exact <= info[i].upper_to * (1 + 1e-6),
                      "layer %zu: exact product %g > paper product %g", i, info[i].upper_to_exact,
                      info[i].upper_to);
        if (!isnan(info[i].exact))
            ck_assert_msg(info[i].exact <= info[i].bound * (1 + 1e-6), "layer %zu: exact %g > bound %g",
                          i, info[i].exact, info[i].bound);
    }
    float *x = malloc(n * D * sizeof *x);
    tu_fill_uniform(x, n * D, 0.0f, 1.0f, 4);
    double *norms = malloc(n * sizeof *norms), lower = 0.0;
    size_t arg = 99;
    nnp_lipschitz_opts o;
    ck_assert_ok(nnp_lipschitz_opts_init(&o));
    o.batch_size = 7; /* batches of 7, 7, 6 */
    ck_assert_ok(nnp_lipschitz_lower(net, x, n, L - 1, &o, norms, &lower, &arg));
    ck_assert_uint_lt(arg, n);
    ck_assert(norms[arg] == lower);
    for (size_t i = 0; i < n; i++) ck_assert(norms[i] <= lower && norms[i] > 0.0);
    ck_assert_msg(lower <= info[L - 1].upper_to_exact, "lower %g > bound %g", lower,
                  info[L - 1].upper_to_exact);
    /* per point results do not depend on the batching */
    double *norms1 = malloc(n * sizeof *norms1), lower1;
    o.batch_size = 20;
    ck_assert_ok(nnp_lipschitz_lower(net, x, n, L - 1, &o, norms1, &lower1, NULL));
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(rel(norms1[i], norms[i]) < 1e-5, "point %zu: %g vs %g", i, norms1[i], norms[i]);
    free(norms1);
    free(norms);
    free(x);
    free(info);
    nnp_net_free(net);
}
END_TEST

/* For a purely linear net the Jacobian is W everywhere: the lower bound equals ‖W‖. */
START_TEST(lower_bound_of_linear_net_is_its_norm)
{
    nnp_net *net = NULL;
    ck_assert_ok(nnp_net_create(1, 1, 12, &net));
    ck_assert_ok(nnp_net_add_dense(net, 9, NULL));
    ck_assert_ok(nnp_net_init_params(net, 3));
    nnp_lipschitz_info *info = bounds_of(net, NULL);
    float x[12];
    tu_fill_uniform(x, 12, 0.0f, 1.0f, 1);
    double lower = 0.0;
    nnp_lipschitz_opts o;
    ck_assert_ok(nnp_lipschitz_opts_init(&o));
    o.power_iters = 2000;
    o.tol = 1e-9;
    ck_assert_ok(nnp_lipschitz_lower(net, x, 1, 1, &o, NULL, &lower, NULL));
    ck_assert_msg(rel(lower, info[1].exact) < 1e-5, "lower %.9g vs ‖W‖ %.9g", lower, info[1].exact);
    free(info);
    nnp_net_free(net);
    /* a linear block inside a nonlinear net: from the tanh (layer 2) to the dense layer 3 the
     * Jacobian is W₃ at every point, while from the input it is not */
    ck_assert_ok(nnp_net_create(1, 1, 12, &net));
    ck_assert_ok(nnp_net_add_dense(net, 9, NULL));
    ck_assert_ok(nnp_net_add_activation(net, NNP_LAYER_TANH, NULL));
    ck_assert_ok(nnp_net_add_dense(net, 7, NULL));
    ck_assert_ok(nnp_net_init_params(net, 5));
    info = bounds_of(net, NULL);
    o.lower_from = 2;
    ck_assert_ok(nnp_lipschitz_lower(net, x, 1, 3, &o, NULL, &lower, NULL));
    ck_assert_msg(rel(lower, info[3].exact) < 1e-5, "block 2..3: lower %.9g vs ‖W₃‖ %.9g", lower,
                  info[3].exact);
    o.lower_from = 3;
    ck_assert_status(nnp_lipschitz_lower(net, x, 1, 3, &o, NULL, &lower, NULL), NNP_EINVAL);
    ck_assert_error_has("opts.lower_from");
    free(info);
    nnp_net_free(net);
}
END_TEST

/* ---------------------------------------------------------------------------------------- */
/* Reporting, misuse, cancellation. */

static int cancel_after(uint64_t done, uint64_t total, void *user)
{
    (void)total;
    uint64_t *calls = user;
    ++*calls;
    return done >= 3;
}

START_TEST(non_convergence_is_reported)
{
    nnp_net *net = NULL;
    ck_assert_ok(nnp_net_create(1, 1, 300, &net));
    ck_assert_ok(nnp_net_add_dense(net, 300, NULL));
    ck_assert_ok(nnp_net_init_params(net, 2));
    nnp_lipschitz_opts o;
    ck_assert_ok(nnp_lipschitz_opts_init(&o));
    o.max_iter = 3;
    nnp_lipschitz_info *info = bounds_of(net, &o);
    ck_assert_int_eq(info[1].converged, 0);
    ck_assert_uint_eq(info[1].iterations, 3);
    ck_assert_msg(info[1].accuracy > o.tol, "accuracy %g", info[1].accuracy);
    free(info);
    /* a small basis forces restarts and still converges */
    o.max_iter = 5000;
    o.max_basis = 8;
    info = bounds_of(net, &o);
    nnp_lipschitz_info *full = bounds_of(net, NULL);
    float *w = malloc(300 * 300 * sizeof *w);
    double *M = malloc(300 * 300 * sizeof *M);
    ck_assert_ok(nnp_net_get_params(net, 1, w, NULL));
    for (size_t i = 0; i < 300 * 300; i++) M[i] = w[i];
    const double ref = ref_sigma_max(M, 300, 300);
    free(w);
    free(M);
    ck_assert_msg(info[1].converged, "restarted Lanczos did not converge (%g)", info[1].accuracy);
    ck_assert_msg(rel(info[1].exact, ref) < 2e-6, "restarted %.9g vs SVD %.9g (acc %g)", info[1].exact, ref, info[1].accuracy);
    ck_assert_msg(rel(full[1].exact, ref) < 2e-6, "full %.9g vs SVD %.9g (acc %g, it %zu)", full[1].exact, ref, full[1].accuracy, full[1].iterations);
    ck_assert_uint_gt(info[1].iterations, full[1].iterations);
    free(full);
    free(info);
    nnp_net_free(net);
}
END_TEST

typedef struct progress_log {
    uint64_t calls, last, total;
    int bad;
} progress_log;

static int record_progress(uint64_t done, uint64_t total, void *user)
{
    progress_log *p = user;
    if (p->calls && (done < p->last || total != p->total)) p->bad = 1;
    if (done > total) p->bad = 1;
    p->calls++;
    p->last = done;
    p->total = total;
    return 0;
}

START_TEST(progress_is_monotone)
{
    nnp_net *net = every_kind_net(1);
    const size_t L = nnp_net_layer_count(net), D = nnp_net_input_size(net);
    nnp_lipschitz_info *info = calloc(L, sizeof *info);
    for (size_t i = 0; i < L; i++) info[i].size = sizeof *info;
    progress_log log = {0, 0, 0, 0};
    nnp_lipschitz_opts o;
    ck_assert_ok(nnp_lipschitz_opts_init(&o));
    o.progress = record_progress;
    o.progress_user = &log;
    ck_assert_ok(nnp_lipschitz_bounds(net, &o, info, L));
    ck_assert_msg(!log.bad && log.calls > 0 && log.last == log.total,
                  "bounds: progress not monotone or not ending at the total (%llu calls)",
                  (unsigned long long)log.calls);
    float *x = malloc(3 * D * sizeof *x);
    tu_fill_uniform(x, 3 * D, 0.0f, 1.0f, 1);
    double lower;
    memset(&log, 0, sizeof log);
    o.batch_size = 2;
    ck_assert_ok(nnp_lipschitz_lower(net, x, 3, L - 1, &o, NULL, &lower, NULL));
    ck_assert(!log.bad && log.calls > 0 && log.last == log.total);
    free(x);
    free(info);
    nnp_net_free(net);
}
END_TEST

/* opts.paper_bound = 0 on a net of every kind: only the convolutions' bounds change (NaN,
 * and upper_to from the first one on); exact norms agree with the default call's; progress
 * still runs forward to its total. */
START_TEST(paper_bound_off_changes_only_conv_bounds)
{
    nnp_net *net = every_kind_net(3);
    const size_t L = nnp_net_layer_count(net);
    nnp_lipschitz_info *ref = bounds_of(net, NULL);
    nnp_lipschitz_info *info = calloc(L, sizeof *info);
    for (size_t i = 0; i < L; i++) info[i].size = sizeof *info;
    progress_log log = {0, 0, 0, 0};
    nnp_lipschitz_opts o;
    ck_assert_ok(nnp_lipschitz_opts_init(&o));
    ck_assert_int_eq(o.paper_bound, 1);
    o.paper_bound = 0;
    o.progress = record_progress;
    o.progress_user = &log;
    ck_assert_ok(nnp_lipschitz_bounds(net, &o, info, L));
    ck_assert_msg(!log.bad && log.calls > 0 && log.last == log.total,
                  "progress not monotone or not ending at the total");
    int seen_conv = 0;
    for (size_t i = 0; i < L; i++) {
        ck_assert_int_eq(info[i].kind, ref[i].kind);
        const int conv = info[i].kind == NNP_LAYER_CONV2D;
        seen_conv |= conv;
        if (conv) {
            ck_assert_msg(isnan(info[i].bound), "layer %zu: conv bound %g", i, info[i].bound);
        } else if (isnan(ref[i].bound)) {
            ck_assert(isnan(info[i].bound));
        } else {
            ck_assert_msg(rel(info[i].bound, ref[i].bound) < 1e-5, "layer %zu: bound %g vs %g",
                          i, info[i].bound, ref[i].bound);
        }
        if (isnan(ref[i].exact)) {
            ck_assert(isnan(info[i].exact));
        } else {
            ck_assert_msg(info[i].converged, "layer %zu: not converged", i);
            ck_assert_msg(rel(info[i].exact, ref[i].exact) < 1e-5, "layer %zu: exact %.9g vs %.9g",
                          i, info[i].exact, ref[i].exact);
        }
        ck_assert_msg(seen_conv ? isnan(info[i].upper_to) : info[i].upper_to == ref[i].upper_to,
                      "layer %zu: upper_to %g (default %g)", i, info[i].upper_to,
                      ref[i].upper_to);
        ck_assert_msg(rel(info[i].upper_to_exact, ref[i].upper_to_exact) < 1e-5,
                      "layer %zu: upper_to_exact %g vs %g", i, info[i].upper_to_exact,
                      ref[i].upper_to_exact);
    }
    ck_assert(seen_conv);
    /* with opts.exact = 0 as well, a convolution gets nothing at all */
    o.exact = 0;
    o.progress = NULL;
    ck_assert_ok(nnp_lipschitz_bounds(net, &o, info, L));
    ck_assert(isnan(info[1].bound) && isnan(info[1].exact));
    free(info);
    free(ref);
    nnp_net_free(net);
}
END_TEST

START_TEST(cancellation)
{
    nnp_net *net = every_kind_net(1);
    const size_t L = nnp_net_layer_count(net), D = nnp_net_input_size(net);
    nnp_lipschitz_info *info = calloc(L, sizeof *info);
    for (size_t i = 0; i < L; i++) info[i].size = sizeof *info;
    uint64_t calls = 0;
    nnp_lipschitz_opts o;
    ck_assert_ok(nnp_lipschitz_opts_init(&o));
    o.progress = cancel_after;
    o.progress_user = &calls;
    ck_assert_status(nnp_lipschitz_bounds(net, &o, info, L), NNP_ECANCELLED);
    ck_assert_uint_eq(calls, 3);
    float *x = malloc(4 * D * sizeof *x);
    tu_fill_uniform(x, 4 * D, 0.0f, 1.0f, 1);
    double lower;
    calls = 0;
    ck_assert_status(nnp_lipschitz_lower(net, x, 4, L - 1, &o, NULL, &lower, NULL), NNP_ECANCELLED);
    ck_assert_uint_eq(calls, 3);
    free(x);
    free(info);
    nnp_net_free(net);
}
END_TEST

START_TEST(misuse_is_refused)
{
    nnp_net *net = NULL;
    ck_assert_ok(nnp_net_create(2, 6, 6, &net));
    nnp_net_conv2d_opts co;
    ck_assert_ok(nnp_net_conv2d_opts_init(&co));
    co.out_channels = 2;
    co.stride_h = co.stride_w = 2;
    ck_assert_ok(nnp_net_add_conv2d(net, &co, NULL));
    ck_assert_ok(nnp_net_init_params(net, 1));
    nnp_lipschitz_info info[2] = {{.size = sizeof info[0]}, {.size = sizeof info[0]}};
    ck_assert_status(nnp_lipschitz_bounds(NULL, NULL, info, 2), NNP_EINVAL);
    ck_assert_error_has("net");
    ck_assert_status(nnp_lipschitz_bounds(net, NULL, NULL, 2), NNP_EINVAL);
    ck_assert_error_has("infos");
    ck_assert_status(nnp_lipschitz_bounds(net, NULL, info, 3), NNP_EINVAL);
    ck_assert_error_has("count");
    info[1].size = 8;
    ck_assert_status(nnp_lipschitz_bounds(net, NULL, info, 2), NNP_EINVAL);
    ck_assert_error_has("infos[1].size");
    info[1].size = sizeof info[1];
    nnp_lipschitz_opts o;
    ck_assert_ok(nnp_lipschitz_opts_init(&o));
    o.tol = 0.0;
    ck_assert_status(nnp_lipschitz_bounds(net, &o, info, 2), NNP_EINVAL);
    ck_assert_error_has("opts.tol");
    ck_assert_ok(nnp_lipschitz_opts_init(&o));
    o.max_basis = 1;
    ck_assert_status(nnp_lipschitz_bounds(net, &o, info, 2), NNP_EINVAL);
    ck_assert_error_has("opts.max_basis");
    ck_assert_ok(nnp_lipschitz_opts_init(&o));
    o.max_iter = 0;
    ck_assert_status(nnp_lipschitz_bounds(net, &o, info, 2), NNP_EINVAL);
    ck_assert_error_has("opts.max_iter");
    ck_assert_ok(nnp_lipschitz_opts_init(&o));
    o.fourier_grid_h = 7; /* not a multiple of the stride 2 */
    ck_assert_status(nnp_lipschitz_bounds(net, &o, info, 2), NNP_EINVAL);
    ck_assert_error_has("opts.fourier_grid_h");
    o.fourier_grid_h = 16; /* a finer grid: still a valid upper bound */
    ck_assert_ok(nnp_lipschitz_bounds(net, &o, info, 2));
    ck_assert_uint_eq(info[1].grid_h, 16);
    ck_assert_msg(info[1].bound >= info[1].exact * (1 - 1e-6), "bound %g exact %g", info[1].bound,
                  info[1].exact);
    ck_assert_status(nnp_lipschitz_opts_init_sized(NULL, sizeof o), NNP_EINVAL);
    ck_assert_status(nnp_lipschitz_opts_init_sized(&o, 2), NNP_EINVAL);
    /* a newer caller's struct with a non-zero unknown field */
    struct {
        nnp_lipschitz_opts o;
        double extra;
    } big;
    memset(&big, 0, sizeof big);
    ck_assert_ok(nnp_lipschitz_opts_init_sized(&big.o, sizeof big));
    big.extra = 1.0;
    ck_assert_status(nnp_lipschitz_bounds(net, &big.o, info, 2), NNP_EVERSION);
    big.extra = 0.0;
    ck_assert_ok(nnp_lipschitz_bounds(net, &big.o, info, 2));
    /* an older caller's struct (only size and exact): defaults for the rest */
    nnp_lipschitz_opts small;
    memset(&small, 0xff, sizeof small);
    ck_assert_ok(nnp_lipschitz_opts_init_sized(&small, offsetof(nnp_lipschitz_opts, tol)));
    ck_assert_ok(nnp_lipschitz_bounds(net, &small, info, 2));
    /* a caller-side info struct smaller than the library's: fields beyond it untouched */
    struct {
        size_t size;
        nnp_layer_kind kind;
    } old[2] = {{sizeof old[0], NNP_LAYER_ADD}, {sizeof old[0], NNP_LAYER_ADD}};
    ck_assert_ok(nnp_lipschitz_bounds(net, NULL, (nnp_lipschitz_info *)(void *)old, 2));
    ck_assert_int_eq(old[1].kind, NNP_LAYER_CONV2D);
    ck_assert_uint_eq(old[1].size, sizeof old[0]);

    float x[72] = {0};
    double lower;
    ck_assert_status(nnp_lipschitz_lower(NULL, x, 1, 1, NULL, NULL, &lower, NULL), NNP_EINVAL);
    ck_assert_status(nnp_lipschitz_lower(net, NULL, 1, 1, NULL, NULL, &lower, NULL), NNP_EINVAL);
    ck_assert_error_has("x");
    ck_assert_status(nnp_lipschitz_lower(net, x, 1, 1, NULL, NULL, NULL, NULL), NNP_EINVAL);
    ck_assert_error_has("lower");
    ck_assert_status(nnp_lipschitz_lower(net, x, 0, 1, NULL, NULL, &lower, NULL), NNP_EINVAL);
    ck_assert_error_has("n is 0");
    ck_assert_status(nnp_lipschitz_lower(net, x, 1, 0, NULL, NULL, &lower, NULL), NNP_EINVAL);
    ck_assert_error_has("layer 0");
    ck_assert_status(nnp_lipschitz_lower(net, x, 1, 2, NULL, NULL, &lower, NULL), NNP_EINVAL);
    ck_assert_error_has("layer 2 out of range");
    ck_assert_ok(nnp_lipschitz_opts_init(&o));
    o.power_iters = 0;
    ck_assert_status(nnp_lipschitz_lower(net, x, 1, 1, &o, NULL, &lower, NULL), NNP_EINVAL);
    ck_assert_error_has("opts.power_iters");
    ck_assert_ok(nnp_lipschitz_opts_init(&o));
    o.batch_size = 0;
    ck_assert_status(nnp_lipschitz_lower(net, x, 1, 1, &o, NULL, &lower, NULL), NNP_EINVAL);
    ck_assert_error_has("opts.batch_size");

    /* batch norm with a negative variance has no norm */
    nnp_net *bad = NULL;
    ck_assert_ok(nnp_net_create(2, 1, 1, &bad));
    ck_assert_ok(nnp_net_add_batchnorm(bad, 0.0f, NULL));
    const float bw[6] = {1, 1, 0, 0, 1, -1};
    ck_assert_ok(nnp_net_set_params(bad, 1, bw, NULL));
    ck_assert_status(nnp_lipschitz_bounds(bad, NULL, info, 2), NNP_ENUMERIC);
    ck_assert_error_has("layer 1 (batchnorm)");
    nnp_net_free(bad);
    nnp_net_free(net);
}
END_TEST

typedef struct alloc_run {
    const nnp_net *net;
    size_t L;
    nnp_lipschitz_info *info;
    const float *x;
    nnp_lipschitz_opts o;
} alloc_run;

/* Combined status of several calls: any status other than NNP_OK and NNP_ENOMEM (so that the
 * loop reports it), else NNP_ENOMEM if any call ran out of memory, else NNP_OK. */
static nnp_status alloc_worst(nnp_status acc, nnp_status s)
{
    if (acc != NNP_OK && acc != NNP_ENOMEM) return acc;
    if (s != NNP_OK && s != NNP_ENOMEM) return s;
    return acc == NNP_ENOMEM ? acc : s;
}

/* Four calls, each with its own k-th allocation failing; the loop ends when all succeed. */
static nnp_status alloc_run_all(void *user, long k)
{
    alloc_run *a = user;
    for (size_t i = 0; i < a->L; i++) a->info[i].size = sizeof *a->info;
    nnp_status s = nnp_lipschitz_bounds(a->net, &a->o, a->info, a->L);
    nnp_lipschitz_opts xo = a->o;
    xo.paper_bound = 0;
    for (size_t i = 0; i < a->L; i++) a->info[i].size = sizeof *a->info;
    nnpi_fail_alloc_after(k);
    s = alloc_worst(s, nnp_lipschitz_bounds(a->net, &xo, a->info, a->L));
    nnpi_fail_alloc_after(k);
    double lower;
    s = alloc_worst(s, nnp_lipschitz_lower(a->net, a->x, 2, a->L - 1, &a->o, NULL, &lower, NULL));
    nnpi_fail_alloc_after(k);
    double est;
    s = alloc_worst(s, nnp_lipschitz_clever(a->net, a->x, 0, 1, 0.1, &a->o, &est, NULL, NULL));
    return s;
}

START_TEST(allocation_failures_are_clean)
{
    nnp_net *net = every_kind_net(2);
    const size_t L = nnp_net_layer_count(net), D = nnp_net_input_size(net);
    nnp_lipschitz_info *info = calloc(L, sizeof *info);
    float *x = malloc(2 * D * sizeof *x);
    tu_fill_uniform(x, 2 * D, 0.0f, 1.0f, 1);
    alloc_run a = {net, L, info, x, {0}};
    ck_assert_ok(nnp_lipschitz_opts_init(&a.o));
    a.o.max_iter = 20;
    a.o.power_iters = 3;
    a.o.clever_batches = 3;
    a.o.clever_samples = 2;
    tu_alloc_counts c = tu_alloc_failures(&(tu_alloc_loop){
        .what = "bounds (paper and exact-only), lower, clever", .max_k = 399, .until_ok = 1,
        .run = alloc_run_all, .user = &a});
    ck_assert(c.last == NNP_OK);
    free(x);
    free(info);
    nnp_net_free(net);
}
END_TEST


/* ---------------------------------------------------------------------------------------- */
/* CLEVER-style estimate. */

/* Log-likelihood of reverse Weibull samples: f(y) = (k/σ) t^(k−1) e^(−t^k), t = (μ−y)/σ. */
static double weibull_ll(const double *y, size_t n, double mu, double k, double sigma)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++) {
        const double t = (mu - y[i]) / sigma;
        s += log(k / sigma) + (k - 1.0) * log(t) - pow(t, k);
    }
    return s;
}

/* The fitter recovers the end point of reverse Weibull samples y = μ − σ(−ln U)^(1/k) drawn
 * here by the inverse CDF. */
START_TEST(reverse_weibull_fit_recovers_end_point)
{
    static const double params[][3] = {{2.0, 0.3, 3.0}, {5.0, 1.0, 1.5}, {0.01, 0.002, 6.0}};
    const double mu = params[_i][0], sigma = params[_i][1], k = params[_i][2];
    const size_t n = 800;
    double *y = malloc(n * sizeof *y);
    uint64_t st = 12345 + (uint64_t)_i;
    for (size_t i = 0; i < n; i++) {
        st = st * 6364136223846793005ull + 1442695040888963407ull;
        const double u = ((double)(st >> 11) + 0.5) / 9007199254740992.0;
        y[i] = mu - sigma * pow(-log(u), 1.0 / k);
    }
    double m = 0, kk = 0, ss = 0, ymax = -INFINITY;
    for (size_t i = 0; i < n; i++) ymax = fmax(ymax, y[i]);
    nnpi_reverse_weibull_fit(y, n, &m, &kk, &ss);
    ck_assert_msg(m > ymax, "end point %g not above the sample max %g", m, ymax);
    /* statistically the MLE end point is within a fraction of σ (n = 800) ... */
    ck_assert_msg(fabs(m - mu) <= 0.2 * sigma, "end point %.6g, true %.6g", m, mu);
    /* ... and as an optimiser it must beat the true parameters and nearby end points */
    const double best = weibull_ll(y, n, m, kk, ss);
    ck_assert_msg(best >= weibull_ll(y, n, mu, k, sigma) - 1e-9 * fabs(best),
                  "fit log-likelihood %.10g below the true parameters' %.10g", best,
                  weibull_ll(y, n, mu, k, sigma));
    for (int sgn = -1; sgn <= 1; sgn += 2) {
        const double m2 = m + sgn * 0.05 * (m - ymax);
        ck_assert(best >= weibull_ll(y, n, m2, kk, ss) - 1e-9 * fabs(best));
    }
    ck_assert_msg(fabs(kk - k) <= 0.25 * k, "shape %.4g, true %.4g", kk, k);
    ck_assert_msg(fabs(ss - sigma) <= 0.2 * sigma, "scale %.4g, true %.4g", ss, sigma);
    /* all samples equal: the end point is that value */
    for (size_t i = 0; i < n; i++) y[i] = 0.75;
    nnpi_reverse_weibull_fit(y, n, &m, NULL, NULL);
    ck_assert(m == 0.75);
    free(y);
}
END_TEST

START_TEST(clever_on_linear_and_relu_nets)
{
    /* linear: ∇(z_l − z_t) = w_l − w_t everywhere, so sampled max and estimate equal its norm */
    nnp_net *net = NULL;
    ck_assert_ok(nnp_net_create(1, 1, 6, &net));
    ck_assert_ok(nnp_net_add_dense(net, 4, NULL));
    ck_assert_ok(nnp_net_init_params(net, 4));
    float w[24], b[4] = {0.5f, -0.25f, 0.0f, 0.1f}, x[6];
    ck_assert_ok(nnp_net_set_params(net, 1, NULL, b));
    ck_assert_ok(nnp_net_get_params(net, 1, w, NULL));
    tu_fill_uniform(x, 6, 0.0f, 1.0f, 2);
    double want = 0.0, margin = b[0] - b[2];
    for (int j = 0; j < 6; j++) {
        want += ((double)w[j] - w[12 + j]) * ((double)w[j] - w[12 + j]);
        margin += ((double)w[j] - w[12 + j]) * x[j];
    }
    want = sqrt(want);
    nnp_lipschitz_opts o;
    ck_assert_ok(nnp_lipschitz_opts_init(&o));
    o.clever_batches = 10;
    o.clever_samples = 16;
    double est = 0, mx = 0, score = -1;
    ck_assert_ok(nnp_lipschitz_clever(net, x, 0, 2, 0.5, &o, &est, &mx, &score));
    ck_assert_msg(rel(mx, want) < 1e-5, "max sampled %.9g, ‖w_0 − w_2‖ = %.9g", mx, want);
    ck_assert_msg(rel(est, want) < 1e-5, "estimate %.9g vs %.9g", est, want);
    const double want_score = margin <= 0 ? 0.0 : fmin(margin / want, 0.5);
    ck_assert_msg(fabs(score - want_score) < 1e-5, "score %.9g vs %.9g", score, want_score);
    nnp_net_free(net);

    /* relu net: sampled max ≤ estimate, and ≤ √2 × the whole-net bound (‖e_l − e_t‖ = √2) */
    net = every_kind_net(7);
    const size_t L = nnp_net_layer_count(net), D = nnp_net_input_size(net);
    nnp_lipschitz_info *info = bounds_of(net, NULL);
    float *xx = malloc(D * sizeof *xx);
    tu_fill_uniform(xx, D, 0.0f, 1.0f, 3);
    ck_assert_ok(nnp_lipschitz_clever(net, xx, 1, 3, 0.3, &o, &est, &mx, NULL));
    ck_assert_msg(mx > 0 && mx <= est, "max sampled %g, estimate %g", mx, est);
    ck_assert_msg(mx <= sqrt(2.0) * info[L - 1].upper_to_exact, "max sampled %g > bound %g", mx,
                  sqrt(2.0) * info[L - 1].upper_to_exact);
    /* same seed, same result */
    double est2 = 0;
    ck_assert_ok(nnp_lipschitz_clever(net, xx, 1, 3, 0.3, &o, &est2, NULL, NULL));
    ck_assert(est2 == est);
    /* misuse */
    ck_assert_status(nnp_lipschitz_clever(net, xx, 1, 1, 0.3, &o, &est, NULL, NULL), NNP_EINVAL);
    ck_assert_error_has("target 1");
    ck_assert_status(nnp_lipschitz_clever(net, xx, 7, 1, 0.3, &o, &est, NULL, NULL), NNP_EINVAL);
    ck_assert_error_has("label 7");
    ck_assert_status(nnp_lipschitz_clever(net, xx, 1, 2, 0.0, &o, &est, NULL, NULL), NNP_EINVAL);
    ck_assert_error_has("radius");
    ck_assert_status(nnp_lipschitz_clever(net, xx, 1, 2, 0.3, &o, NULL, NULL, NULL), NNP_EINVAL);
    ck_assert_error_has("estimate");
    o.clever_batches = 1;
    ck_assert_status(nnp_lipschitz_clever(net, xx, 1, 2, 0.3, &o, &est, NULL, NULL), NNP_EINVAL);
    ck_assert_error_has("opts.clever_batches");
    o.clever_batches = 10;
    o.clever_samples = 0;
    ck_assert_status(nnp_lipschitz_clever(net, xx, 1, 2, 0.3, &o, &est, NULL, NULL), NNP_EINVAL);
    ck_assert_error_has("opts.clever_samples");
    o.clever_samples = 4;
    uint64_t calls = 0;
    o.progress = cancel_after;
    o.progress_user = &calls;
    ck_assert_status(nnp_lipschitz_clever(net, xx, 1, 2, 0.3, &o, &est, NULL, NULL), NNP_ECANCELLED);
    ck_assert_uint_eq(calls, 3);
    free(xx);
    free(info);
    nnp_net_free(net);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("lipschitz");
    TCase *ref = tcase_create("references");
    tcase_set_timeout(ref, 120);
    tcase_add_loop_test(ref, dense_matches_jacobi_svd, 0, 7);
    tcase_add_loop_test(ref, conv_exact_matches_explicit_matrix, 0, 9);
    tcase_add_loop_test(ref, fourier_equals_power_iteration_on_circular_conv, 0, 6);
    tcase_add_loop_test(ref, maxpool_constants_and_tightness, 0, 5);
    tcase_add_loop_test(ref, avgpool_exact_and_bound, 0, 7);
    tcase_add_test(ref, batchnorm_global_pool_and_activation_constants);
    tcase_add_test(ref, normalisation_bounds_hold);
    suite_add_tcase(s, ref);
    TCase *net = tcase_create("net");
    tcase_set_timeout(net, 120);
    tcase_add_test(net, tangent_is_adjoint_of_vjp);
    tcase_add_test(net, every_kind_has_its_rules);
    tcase_add_test(net, lower_bound_below_product_and_residual_sum);
    tcase_add_test(net, lower_bound_of_linear_net_is_its_norm);
    suite_add_tcase(s, net);
    TCase *api = tcase_create("api");
    tcase_set_timeout(api, 120);
    tcase_add_test(api, non_convergence_is_reported);
    tcase_add_test(api, cancellation);
    tcase_add_test(api, progress_is_monotone);
    tcase_add_test(api, paper_bound_off_changes_only_conv_bounds);
    tcase_add_test(api, close_pair_is_resolved);
    tcase_add_test(api, misuse_is_refused);
    tcase_add_test(api, allocation_failures_are_clean);
    tcase_add_loop_test(api, reverse_weibull_fit_recovers_end_point, 0, 3);
    tcase_add_test(api, clever_on_linear_and_relu_nets);
    suite_add_tcase(s, api);
    return tu_run(s);
}
