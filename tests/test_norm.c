/* Normalisation layers (LRN, contrast normalisation, inference batch norm): forward against
 * hand-computed values and naive double references written here, input gradients against
 * central finite differences of those references (at the layer and through a small
 * classifier), batch norm's parameter gradient against finite differences of the training
 * objective, training leaves batch norm's statistics alone, argument validation, no
 * allocation in passes, allocation failures.
 *
 * Tolerance of the gradient checks: the references are double and the FD step 1e-5, so the FD
 * is exact to ~1e-9 and max|dx − fd| / max(1, max|fd|) < 2e-5 measures float rounding only. */
#include <math.h>
#include <stdlib.h>

#include "core/core.h"
#include "net/net_internal.h"
#include "refnet.h"
#include "testutil.h"
#include "train/objective.h"

#define TOL 2e-5
#define FD_STEP 1e-5
#define MAXV 512 /* largest per-example size used below */

/* ---------------------------------------------------------------------------------------- */
/* Naive double references. */

/* ONNX LRN, literally: window max(0, c − ⌊(size−1)/2⌋) ≤ i ≤ min(C−1, c + ⌈(size−1)/2⌉). */
static void ref_lrn(const double *x, size_t C, size_t hw, size_t size, double alpha, double beta,
                    double k, double *y)
{
    const long lo = (long)floor((double)(size - 1) / 2), hi = (long)ceil((double)(size - 1) / 2);
    for (long c = 0; c < (long)C; c++)
        for (size_t p = 0; p < hw; p++) {
            double s = 0;
            for (long i = c - lo; i <= c + hi; i++)
                if (i >= 0 && i < (long)C) s += x[(size_t)i * hw + p] * x[(size_t)i * hw + p];
            y[(size_t)c * hw + p] = x[(size_t)c * hw + p] / pow(k + alpha / (double)size * s, beta);
        }
}

static void ref_cnorm(const double *x, size_t m, double eps, double gamma, double *y)
{
    double ss = 0;
    for (size_t j = 0; j < m; j++) ss += x[j] * x[j];
    for (size_t j = 0; j < m; j++) y[j] = x[j] / pow(eps + ss, gamma);
}

/* params: scale(C), mean(C), var(C); bias(C) */
static void ref_bn(const double *x, size_t C, size_t hw, const float *w, const float *b,
                   double eps, double *y)
{
    for (size_t c = 0; c < C; c++)
        for (size_t p = 0; p < hw; p++)
            y[c * hw + p] = w[c] * (x[c * hw + p] - w[C + c]) / sqrt(w[2 * C + c] + eps) + b[c];
}

/* A sequential net described for both the library and the reference. */
enum { K_LRN, K_CNORM, K_BN, K_DENSE, K_TANH };
typedef struct lspec {
    int kind;
    size_t size;               /* LRN window; dense units */
    double alpha, beta, k;     /* LRN */
    double eps, gamma;         /* contrast norm; batch norm uses eps */
} lspec;
typedef struct nspec {
    size_t c, h, w;
    int n_layers;
    lspec L[6];
} nspec;

static size_t add_layer(nnp_net *net, const lspec *l)
{
    size_t idx = 0;
    switch (l->kind) {
    case K_LRN:
        ck_assert_ok(nnp_net_add_lrn(net, l->size, (float)l->alpha, (float)l->beta, (float)l->k, &idx));
        break;
    case K_CNORM: ck_assert_ok(nnp_net_add_contrast_norm(net, (float)l->eps, (float)l->gamma, &idx)); break;
    case K_BN: ck_assert_ok(nnp_net_add_batchnorm(net, (float)l->eps, &idx)); break;
    case K_DENSE: ck_assert_ok(nnp_net_add_dense(net, l->size, &idx)); break;
    default: ck_assert_ok(nnp_net_add_activation(net, NNP_LAYER_TANH, &idx)); break;
    }
    return idx;
}

/* Batch norm with non-trivial statistics: scale of either sign, var in [0.2, 2]. */
static void randomise_bn(nnp_net *net, size_t layer, uint64_t seed)
{
    nnp_layer_info info = {.size = sizeof info};
    ck_assert_ok(nnp_net_layer_info(net, layer, &info));
    const size_t C = info.channels;
    float w[3 * 64], b[64];
    tu_fill_uniform(w, C, 0.5f, 1.5f, seed);
    for (size_t c = 0; c < C; c += 3) w[c] = -w[c];
    tu_fill_uniform(w + C, C, -0.5f, 0.5f, seed + 1);
    tu_fill_uniform(w + 2 * C, C, 0.2f, 2.0f, seed + 2);
    tu_fill_uniform(b, C, -0.5f, 0.5f, seed + 3);
    ck_assert_ok(nnp_net_set_params(net, layer, w, b));
}

/* nnp_net_init_params draws every layer's weights, batch norm's included: every batch norm is
 * given explicit parameters afterwards. Dense biases are made non-zero. */
static nnp_net *build(const nspec *s, uint64_t seed)
{
    nnp_net *net = NULL;
    ck_assert_ok(nnp_net_create(s->c, s->h, s->w, &net));
    for (int i = 0; i < s->n_layers; i++) add_layer(net, &s->L[i]);
    ck_assert_ok(nnp_net_init_params(net, seed));
    for (int i = 0; i < s->n_layers; i++) {
        const size_t layer = (size_t)i + 1;
        if (s->L[i].kind == K_BN) randomise_bn(net, layer, seed * 31 + layer);
        if (s->L[i].kind == K_DENSE) {
            float b[64];
            tu_fill_uniform(b, s->L[i].size, -0.3f, 0.3f, seed * 17 + layer);
            ck_assert_ok(nnp_net_set_params(net, layer, NULL, b));
        }
    }
    return net;
}

/* Reference of one layer applied to x (shape c×h×w), output into y, shape updated. */
static void ref_layer(const nnp_net *net, size_t layer, const lspec *l, const double *x,
                      size_t *c, size_t *h, size_t *w, double *y)
{
    const size_t m = *c * *h * *w, hw = *h * *w;
    nnp_layer_info info = {.size = sizeof info};
    ck_assert_ok(nnp_net_layer_info(net, layer, &info));
    float *wt = malloc((info.weight_count + 1) * sizeof *wt);
    float *bs = malloc((info.bias_count + 1) * sizeof *bs);
    ck_assert_ok(nnp_net_get_params(net, layer, wt, bs));
    switch (l->kind) {
    case K_LRN: ref_lrn(x, *c, hw, l->size, l->alpha, l->beta, l->k, y); break;
    case K_CNORM: ref_cnorm(x, m, l->eps, l->gamma, y); break;
    case K_BN: ref_bn(x, *c, hw, wt, bs, l->eps, y); break;
    case K_DENSE:
        for (size_t o = 0; o < l->size; o++) {
            double a = bs[o];
            for (size_t j = 0; j < m; j++) a += (double)wt[o * m + j] * x[j];
            y[o] = a;
        }
        *c = l->size;
        *h = *w = 1;
        break;
    default:
        for (size_t j = 0; j < m; j++) y[j] = tanh(x[j]);
    }
    free(wt);
    free(bs);
}

/* Output of layer `upto` (1-based) of the spec'd net for one example; returns its size. */
static size_t ref_chain(const nnp_net *net, const nspec *s, const double *x, int upto, double *out)
{
    double a[MAXV], b[MAXV];
    size_t c = s->c, h = s->h, w = s->w;
    memcpy(a, x, c * h * w * sizeof *a);
    for (int i = 0; i < upto; i++) {
        ref_layer(net, (size_t)i + 1, &s->L[i], a, &c, &h, &w, b);
        memcpy(a, b, c * h * w * sizeof *a);
    }
    memcpy(out, a, c * h * w * sizeof *out);
    return c * h * w;
}

typedef struct fd_ctx {
    const nnp_net *net;
    const nspec *s;
    int upto;
    const float *v;     /* cotangent, or NULL for the cross-entropy of `label` */
    int32_t label;
    const lspec *pair;  /* if set: f = pair[0](x) + pair[1](x), layers 1 and 2 */
} fd_ctx;

static double fd_fn(void *p, const double *x)
{
    const fd_ctx *ctx = p;
    double y[MAXV];
    size_t m;
    if (ctx->pair) {
        double y2[MAXV];
        size_t c = ctx->s->c, h = ctx->s->h, w = ctx->s->w, c2 = c, h2 = h, w2 = w;
        ref_layer(ctx->net, 1, &ctx->pair[0], x, &c, &h, &w, y);
        ref_layer(ctx->net, 2, &ctx->pair[1], x, &c2, &h2, &w2, y2);
        m = c * h * w;
        for (size_t j = 0; j < m; j++) y[j] += y2[j];
    } else {
        m = ref_chain(ctx->net, ctx->s, x, ctx->upto, y);
    }
    if (ctx->v) {
        double dot = 0;
        for (size_t j = 0; j < m; j++) dot += ctx->v[j] * y[j];
        return dot;
    }
    double mx = y[0], se = 0;
    for (size_t j = 1; j < m; j++) mx = fmax(mx, y[j]);
    for (size_t j = 0; j < m; j++) se += exp(y[j] - mx);
    return mx + log(se) - y[ctx->label];
}

/* dx (n examples of d values) against the FD gradient of ctx's function at each example. */
static void check_fd(fd_ctx *ctx, const float *xs, const float *dx, size_t n, size_t d,
                     const int32_t *labels, const float *vs, size_t vsize, const char *what)
{
    double x[MAXV], g[MAXV];
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < d; j++) x[j] = xs[i * d + j];
        if (labels) ctx->label = labels[i];
        if (vs) ctx->v = vs + i * vsize;
        ref_fd_grad(fd_fn, ctx, x, d, FD_STEP, g);
        double err = ref_rel_err(dx + i * d, g, d), gmax = 0;
        for (size_t j = 0; j < d; j++) gmax = fmax(gmax, fabs(g[j]));
        ck_assert_msg(gmax > 1e-3, "%s example %zu: gradient is ~0, the check is vacuous", what, i);
        ck_assert_msg(err < TOL, "%s example %zu: gradient error %g >= %g", what, i, err, TOL);
    }
}

/* Largest |a − b| / max(1e-30, |b|). */
static double max_rel(const float *a, const double *b, size_t n)
{
    double e = 0;
    for (size_t i = 0; i < n; i++) e = fmax(e, fabs(a[i] - b[i]) / fmax(1e-30, fabs(b[i])));
    return e;
}

/* ---------------------------------------------------------------------------------------- */
/* LRN forward */

/* C = 3 at one position, x = (1, 2, 3), α/size = 1, β = 1, k = 1.
 * size 3 (window c−1..c+1): S = (1+4, 1+4+9, 4+9) → y = (1/6, 2/15, 3/14).
 * size 2 (ONNX: ⌊1/2⌋ = 0 before, ⌈1/2⌉ = 1 after, window c..c+1): S = (5, 13, 9) →
 * y = (1/6, 2/14, 3/10). */
START_TEST(lrn_hand_values)
{
    const float x[3] = {1, 2, 3};
    const double want3[3] = {1.0 / 6, 2.0 / 15, 3.0 / 14}, want2[3] = {1.0 / 6, 2.0 / 14, 3.0 / 10};
    for (int t = 0; t < 2; t++) {
        const size_t size = t == 0 ? 3 : 2;
        nnp_net *net = NULL;
        ck_assert_ok(nnp_net_create(3, 1, 1, &net));
        ck_assert_ok(nnp_net_add_lrn(net, size, (float)size, 1.0f, 1.0f, NULL));
        float y[3];
        ck_assert_ok(nnp_net_forward(net, NULL, x, 1, y));
        const double *want = t == 0 ? want3 : want2;
        for (int c = 0; c < 3; c++)
            ck_assert_msg(fabs(y[c] - want[c]) < 1e-7, "size %zu c %d: %g vs %g", size, c, y[c],
                          want[c]);
        nnp_net_free(net);
    }
}
END_TEST

typedef struct lrn_case {
    size_t c, h, w, size;
    double alpha, beta, k;
} lrn_case;

/* size 1, 3, 5 (odd and even sizes), C smaller than the window, odd spatial sizes, β on the
 * special-cased (0.75, 0.5, 1) and general (0.6, 1.3) paths. */
static const lrn_case lrn_cases[] = {
    {4, 3, 3, 1, 0.8, 0.75, 1.0}, {5, 3, 3, 3, 1.5, 0.75, 2.0}, {7, 1, 3, 5, 2.0, 0.6, 1.0},
    {3, 3, 3, 5, 1.0, 0.5, 0.5},  {4, 1, 1, 4, 1.0, 1.0, 1.0},  {6, 3, 1, 2, 3.0, 1.3, 0.7},
    {2, 5, 3, 9, 0.5, 0.75, 1.5},
};
#define N_LRN_CASES ((int)(sizeof lrn_cases / sizeof lrn_cases[0]))

static nspec lrn_spec(const lrn_case *lc)
{
    nspec s = {.c = lc->c, .h = lc->h, .w = lc->w, .n_layers = 1};
    s.L[0] = (lspec){.kind = K_LRN, .size = lc->size, .alpha = lc->alpha, .beta = lc->beta, .k = lc->k};
    return s;
}

START_TEST(lrn_forward_matches_reference)
{
    const lrn_case *lc = &lrn_cases[_i];
    nspec s = lrn_spec(lc);
    nnp_net *net = build(&s, 3);
    const size_t d = lc->c * lc->h * lc->w, n = 2;
    float x[2 * MAXV], y[2 * MAXV];
    tu_fill_uniform(x, n * d, -2.0f, 2.0f, 10 + (uint64_t)_i);
    ck_assert_ok(nnp_net_forward(net, NULL, x, n, y));
    for (size_t i = 0; i < n; i++) {
        double xd[MAXV], yd[MAXV];
        for (size_t j = 0; j < d; j++) xd[j] = x[i * d + j];
        ref_chain(net, &s, xd, 1, yd);
        double err = max_rel(y + i * d, yd, d);
        ck_assert_msg(err < 1e-6, "case %d example %zu: relative error %g", _i, i, err);
    }
    nnp_net_free(net);
}
END_TEST

/* ---------------------------------------------------------------------------------------- */
/* Contrast normalisation forward */

/* x = (3, 4), ε = 1, γ = 0.5: y = (3, 4)/sqrt(26). A second example (0, 0) stays 0, and γ = 0
 * is the identity. */
START_TEST(contrast_norm_hand_values)
{
    nnp_net *net = NULL;
    ck_assert_ok(nnp_net_create(1, 1, 2, &net));
    ck_assert_ok(nnp_net_add_contrast_norm(net, 1.0f, 0.5f, NULL));
    const float x[4] = {3, 4, 0, 0};
    float y[4];
    ck_assert_ok(nnp_net_forward(net, NULL, x, 2, y));
    ck_assert_double_eq_tol(y[0], 3 / sqrt(26.0), 1e-7);
    ck_assert_double_eq_tol(y[1], 4 / sqrt(26.0), 1e-7);
    ck_assert_float_eq(y[2], 0.0f);
    ck_assert_float_eq(y[3], 0.0f);
    nnp_net_free(net);

    ck_assert_ok(nnp_net_create(1, 1, 2, &net));
    ck_assert_ok(nnp_net_add_contrast_norm(net, 0.5f, 0.0f, NULL));
    ck_assert_ok(nnp_net_forward(net, NULL, x, 1, y));
    ck_assert_float_eq(y[0], 3.0f);
    ck_assert_float_eq(y[1], 4.0f);
    nnp_net_free(net);
}
END_TEST

/* 3×3×5 values per example (odd spatial), batch 2, several (ε, γ) including γ > 1. */
START_TEST(contrast_norm_forward_matches_reference)
{
    const double eps[] = {0.1, 1.0, 2.5, 1e-3}, gamma[] = {0.5, 0.75, 1.0, 1.5};
    nspec s = {.c = 3, .h = 3, .w = 5, .n_layers = 1};
    s.L[0] = (lspec){.kind = K_CNORM, .eps = eps[_i], .gamma = gamma[_i]};
    nnp_net *net = build(&s, 4);
    const size_t d = 45, n = 2;
    float x[90], y[90];
    tu_fill_uniform(x, n * d, -1.0f, 1.0f, 20 + (uint64_t)_i);
    ck_assert_ok(nnp_net_forward(net, NULL, x, n, y));
    for (size_t i = 0; i < n; i++) {
        double xd[45], yd[45];
        for (size_t j = 0; j < d; j++) xd[j] = x[i * d + j];
        ref_chain(net, &s, xd, 1, yd);
        double err = max_rel(y + i * d, yd, d);
        ck_assert_msg(err < 1e-6, "eps %g gamma %g example %zu: relative error %g", eps[_i],
                      gamma[_i], i, err);
    }
    nnp_net_free(net);
}
END_TEST

/* ---------------------------------------------------------------------------------------- */
/* Batch norm forward */

/* C = 2, 1×2 positions, ε = 1: channel 0 scale 2, mean 1, var 3 → a = 2/2 = 1, bias 0.5;
 * channel 1 scale −1, mean 0.5, var 0 → a = −1, bias 1.
 * x0 = (1, 3) → (0.5, 2.5); x1 = (0.5, 2.5) → (1, −1). */
START_TEST(batchnorm_hand_values)
{
    nnp_net *net = NULL;
    size_t layer;
    ck_assert_ok(nnp_net_create(2, 1, 2, &net));
    ck_assert_ok(nnp_net_add_batchnorm(net, 1.0f, &layer));
    const float w[6] = {2, -1, 1, 0.5f, 3, 0}, b[2] = {0.5f, 1};
    ck_assert_ok(nnp_net_set_params(net, layer, w, b));
    const float x[8] = {1, 3, 0.5f, 2.5f, /* second example: */ 0, 1, 0, 0};
    float y[8];
    ck_assert_ok(nnp_net_forward(net, NULL, x, 2, y));
    const float want[8] = {0.5f, 2.5f, 1, -1, -0.5f, 0.5f, 1.5f, 1.5f};
    for (int j = 0; j < 8; j++) ck_assert_float_eq_tol(y[j], want[j], 1e-6f);
    nnp_net_free(net);
}
END_TEST

/* nnp_net_init_params draws dense (and convolution) weights; batch norm keeps its parameters,
 * so a net built, initialised and run gives finite outputs (a Glorot draw of var would be
 * negative for about half the channels: NaN). */
START_TEST(init_params_leaves_batchnorm_alone)
{
    nnp_net *net = NULL;
    size_t layer;
    ck_assert_ok(nnp_net_create(1, 1, 4, &net));
    ck_assert_ok(nnp_net_add_dense(net, 6, NULL));
    ck_assert_ok(nnp_net_add_batchnorm(net, 1e-5f, &layer));
    ck_assert_ok(nnp_net_add_dense(net, 2, NULL));
    ck_assert_ok(nnp_net_init_params(net, 3));
    float w[18], b[6];
    ck_assert_ok(nnp_net_get_params(net, layer, w, b));
    for (int c = 0; c < 6; c++) {
        ck_assert_float_eq(w[c], 1.0f);
        ck_assert_float_eq(w[6 + c], 0.0f);
        ck_assert_float_eq(w[12 + c], 1.0f);
        ck_assert_float_eq(b[c], 0.0f);
    }
    const float x[4] = {0.1f, 0.9f, 0.4f, 0.6f};
    float y[2];
    ck_assert_ok(nnp_net_forward(net, NULL, x, 1, y));
    ck_assert(isfinite(y[0]) && isfinite(y[1]) && (y[0] != 0.0f || y[1] != 0.0f));
    nnp_net_free(net);
}
END_TEST

/* The builder's parameters (scale 1, mean 0, var 1, bias 0) and ε = 0 give the identity. */
START_TEST(batchnorm_starts_as_identity)
{
    nnp_net *net = NULL;
    size_t layer;
    ck_assert_ok(nnp_net_create(3, 2, 1, &net));
    ck_assert_ok(nnp_net_add_batchnorm(net, 0.0f, &layer));
    float w[9], b[3];
    ck_assert_ok(nnp_net_get_params(net, layer, w, b));
    for (int c = 0; c < 3; c++) {
        ck_assert_float_eq(w[c], 1.0f);
        ck_assert_float_eq(w[3 + c], 0.0f);
        ck_assert_float_eq(w[6 + c], 1.0f);
        ck_assert_float_eq(b[c], 0.0f);
    }
    float x[12], y[12];
    tu_fill_uniform(x, 12, -3.0f, 3.0f, 5);
    ck_assert_ok(nnp_net_forward(net, NULL, x, 2, y));
    ck_assert_mem_eq(x, y, sizeof x);
    nnp_net_free(net);
}
END_TEST

/* var + ε ≤ 0 (a negative variance set by the caller) gives NaN in that channel only, and no
 * crash or sanitizer report; the queries refuse it with NNP_ENUMERIC naming the layer, and
 * nnp_train stops with NNP_ENUMERIC. */
START_TEST(batchnorm_negative_variance_gives_nan)
{
    nnp_net *net = NULL;
    size_t layer;
    ck_assert_ok(nnp_net_create(2, 1, 2, &net));
    ck_assert_ok(nnp_net_add_batchnorm(net, 0.5f, &layer));
    const float w[6] = {1, 1, 0, 0, 1, -2}, b[2] = {0, 0};
    ck_assert_ok(nnp_net_set_params(net, layer, w, b));
    const float x[4] = {1, 2, 3, 4}, v[4] = {1, 1, 1, 1};
    float y[4], dx[4];
    ck_assert_status(nnp_net_forward(net, NULL, x, 1, y), NNP_ENUMERIC);
    ck_assert_error_has("example 0: output 2 of layer 1 (batchnorm) is nan");
    ck_assert(isfinite(y[0]) && isfinite(y[1])); /* the output is still written */
    ck_assert(isnan(y[2]) && isnan(y[3]));
    ck_assert_status(nnp_grad_vjp(net, NULL, x, 1, layer, v, dx), NNP_ENUMERIC);
    tu_pass_unchecked(net, x, 1, layer, y, v, dx);
    ck_assert(isfinite(dx[0]) && isnan(dx[2]));
    /* training refuses to go on (NaN loss) and leaves the parameters as they were */
    ck_assert_ok(nnp_net_add_dense(net, 2, NULL));
    nnp_dataset *ds = NULL;
    const float img[4] = {0.1f, 0.2f, 0.3f, 0.4f};
    const int32_t label = 1;
    ck_assert_ok(nnp_dataset_create(1, 2, 1, 2, img, &label, &ds));
    ck_assert_status(nnp_train(net, ds, NULL, NULL), NNP_ENUMERIC);
    float w1[6];
    ck_assert_ok(nnp_net_get_params(net, layer, w1, NULL));
    ck_assert_mem_eq(w, w1, sizeof w);
    nnp_dataset_free(ds);
    nnp_net_free(net);
}
END_TEST

START_TEST(forward_matches_reference_batchnorm)
{
    nspec s = {.c = 4, .h = 3, .w = 3, .n_layers = 1};
    s.L[0] = (lspec){.kind = K_BN, .eps = 1e-3};
    nnp_net *net = build(&s, 6);
    const size_t d = 36, n = 2;
    float x[72], y[72];
    tu_fill_uniform(x, n * d, -2.0f, 2.0f, 30);
    ck_assert_ok(nnp_net_forward(net, NULL, x, n, y));
    for (size_t i = 0; i < n; i++) {
        double xd[36], yd[36];
        for (size_t j = 0; j < d; j++) xd[j] = x[i * d + j];
        ref_chain(net, &s, xd, 1, yd);
        ck_assert_double_lt(ref_rel_err(y + i * d, yd, d), 1e-6);
    }
    nnp_net_free(net);
}
END_TEST

/* ---------------------------------------------------------------------------------------- */
/* Layer descriptions */

START_TEST(layer_info_and_names)
{
    nnp_net *net = NULL;
    size_t l1, l2, l3;
    ck_assert_ok(nnp_net_create(5, 3, 2, &net));
    ck_assert_ok(nnp_net_add_lrn(net, 5, 1e-4f, 0.75f, 2.0f, &l1));
    ck_assert_ok(nnp_net_add_contrast_norm(net, 1.0f, 0.5f, &l2));
    ck_assert_ok(nnp_net_add_batchnorm(net, 1e-5f, &l3));
    ck_assert_uint_eq(l1, 1);
    ck_assert_uint_eq(l2, 2);
    ck_assert_uint_eq(l3, 3);
    const nnp_layer_kind kinds[3] = {NNP_LAYER_LRN, NNP_LAYER_CONTRAST_NORM, NNP_LAYER_BATCHNORM};
    const char *names[3] = {"lrn", "contrast_norm", "batchnorm"};
    for (size_t l = 1; l <= 3; l++) {
        nnp_layer_info info = {.size = sizeof info};
        ck_assert_ok(nnp_net_layer_info(net, l, &info));
        ck_assert_int_eq(info.kind, kinds[l - 1]);
        ck_assert_str_eq(nnp_layer_kind_name(info.kind), names[l - 1]);
        ck_assert_uint_eq(info.n_inputs, 1);
        ck_assert_uint_eq(info.inputs[0], l - 1);
        ck_assert_uint_eq(info.channels, 5);
        ck_assert_uint_eq(info.height, 3);
        ck_assert_uint_eq(info.width, 2);
        ck_assert_uint_eq(info.output_size, 30);
        ck_assert_uint_eq(info.weight_count, l == 3 ? 15 : 0);
        ck_assert_uint_eq(info.bias_count, l == 3 ? 5 : 0);
    }
    ck_assert_uint_eq(nnp_net_param_count(net), 20);
    nnp_net_free(net);
}
END_TEST

/* ---------------------------------------------------------------------------------------- */
/* Input gradients */

/* nnp_grad_vjp at the layer itself, batch 2, against FD of v·ref(x). Loop index: the LRN cases,
 * then contrast norm, then batch norm. */
START_TEST(vjp_matches_fd)
{
    nspec s;
    if (_i < N_LRN_CASES) {
        s = lrn_spec(&lrn_cases[_i]);
    } else if (_i == N_LRN_CASES) {
        s = (nspec){.c = 2, .h = 3, .w = 3, .n_layers = 1};
        s.L[0] = (lspec){.kind = K_CNORM, .eps = 0.3, .gamma = 0.75};
    } else if (_i == N_LRN_CASES + 1) {
        s = (nspec){.c = 1, .h = 1, .w = 4, .n_layers = 1};
        s.L[0] = (lspec){.kind = K_CNORM, .eps = 1.0, .gamma = 1.5};
    } else {
        s = (nspec){.c = 3, .h = 1, .w = 3, .n_layers = 1};
        s.L[0] = (lspec){.kind = K_BN, .eps = 0.01};
    }
    nnp_net *net = build(&s, 7 + (uint64_t)_i);
    const size_t d = s.c * s.h * s.w, n = 2;
    float x[2 * MAXV], dx[2 * MAXV], v[2 * MAXV];
    tu_fill_uniform(x, n * d, -2.0f, 2.0f, 40 + (uint64_t)_i);
    tu_fill_uniform(v, n * d, -1.0f, 1.0f, 50 + (uint64_t)_i);
    ck_assert_ok(nnp_grad_vjp(net, NULL, x, n, 1, v, dx));
    fd_ctx ctx = {.net = net, .s = &s, .upto = 1};
    check_fd(&ctx, x, dx, n, d, NULL, v, d, "vjp");
    nnp_net_free(net);
}
END_TEST

/* Two normalisation layers on the same input, summed (x → A, x → B, A + B): in the backward
 * pass B writes dx first and A adds to it, so each kind is checked in both its overwrite and
 * its accumulate path. */
START_TEST(vjp_accumulates_into_shared_input)
{
    static const lspec kinds[3] = {{.kind = K_LRN, .size = 3, .alpha = 1.2, .beta = 0.75, .k = 1.0},
                                   {.kind = K_CNORM, .eps = 0.5, .gamma = 0.5},
                                   {.kind = K_BN, .eps = 0.1}};
    const lspec pair[2] = {kinds[_i], kinds[(_i + 1) % 3]};
    nspec s = {.c = 4, .h = 1, .w = 3};
    nnp_net *net = NULL;
    ck_assert_ok(nnp_net_create(s.c, s.h, s.w, &net));
    size_t a = add_layer(net, &pair[0]);
    ck_assert_ok(nnp_net_branch_from(net, 0));
    size_t b = add_layer(net, &pair[1]);
    size_t sum;
    ck_assert_ok(nnp_net_add_add(net, a, b, &sum));
    for (size_t l = 1; l <= 2; l++)
        if (pair[l - 1].kind == K_BN) randomise_bn(net, l, 60 + l);
    const size_t d = 12, n = 2;
    float x[24], dx[24], v[24];
    tu_fill_uniform(x, n * d, -2.0f, 2.0f, 70 + (uint64_t)_i);
    tu_fill_uniform(v, n * d, -1.0f, 1.0f, 80 + (uint64_t)_i);
    ck_assert_ok(nnp_grad_vjp(net, NULL, x, n, sum, v, dx));
    fd_ctx ctx = {.net = net, .s = &s, .pair = pair};
    check_fd(&ctx, x, dx, n, d, NULL, v, d, "pair");
    nnp_net_free(net);
}
END_TEST

/* nnp_grad_loss through [normalisation] → tanh → dense (3 classes), batch 3; loop index: LRN,
 * contrast norm, batch norm, then all three in a row. The loss values match the reference. */
START_TEST(loss_gradient_through_classifier)
{
    const lspec lrn = {.kind = K_LRN, .size = 3, .alpha = 2.0, .beta = 0.75, .k = 1.0};
    const lspec cn = {.kind = K_CNORM, .eps = 0.2, .gamma = 0.5};
    const lspec bn = {.kind = K_BN, .eps = 1e-3};
    const lspec th = {.kind = K_TANH}, dense = {.kind = K_DENSE, .size = 3};
    nspec s = {.c = 3, .h = 3, .w = 3};
    const lspec norms[3] = {lrn, cn, bn};
    if (_i < 3) {
        s.L[0] = norms[_i];
        s.n_layers = 1;
    } else {
        s.L[0] = lrn;
        s.L[1] = bn;
        s.L[2] = cn;
        s.n_layers = 3;
    }
    s.L[s.n_layers++] = th;
    s.L[s.n_layers++] = dense;
    nnp_net *net = build(&s, 90 + (uint64_t)_i);
    const size_t d = 27, n = 3;
    float x[81], dx[81], loss[3];
    int32_t labels[3] = {0, 2, 1};
    tu_fill_uniform(x, n * d, -1.5f, 1.5f, 95 + (uint64_t)_i);
    ck_assert_ok(nnp_grad_loss(net, NULL, x, labels, n, dx, loss, NULL));
    fd_ctx ctx = {.net = net, .s = &s, .upto = s.n_layers};
    check_fd(&ctx, x, dx, n, d, labels, NULL, 0, "loss");
    for (size_t i = 0; i < n; i++) {
        double xd[27];
        for (size_t j = 0; j < d; j++) xd[j] = x[i * d + j];
        ctx.label = labels[i];
        ck_assert_double_eq_tol(loss[i], fd_fn(&ctx, xd), 1e-5);
    }
    nnp_net_free(net);
}
END_TEST

/* ---------------------------------------------------------------------------------------- */
/* Batch norm parameters in training */

/* Objective gradient with respect to batch norm's scale and bias against central differences
 * of the objective (float passes, h = 1e-2 on an objective of order 1: truncation ~1e-5,
 * rounding ~1e-5; tolerance 1e-3·max(1, |g|), as tests/test_train.c). The gradient entries of
 * mean and var are exactly 0: they are statistics, not trained. */
START_TEST(batchnorm_param_gradient_fd)
{
    nspec s = {.c = 3, .h = 1, .w = 2, .n_layers = 4};
    s.L[0] = (lspec){.kind = K_BN, .eps = 0.05};
    s.L[1] = (lspec){.kind = K_TANH};
    s.L[2] = (lspec){.kind = K_DENSE, .size = 4};
    s.L[3] = (lspec){.kind = K_BN, .eps = 0.0}; /* on the dense output: per unit */
    nnp_net *net = build(&s, 12);
    const size_t n = 3, P = net->n_params;
    float x[18];
    int32_t y[3] = {0, 3, 1};
    tu_fill_uniform(x, 18, 0.0f, 1.0f, 13);
    const double decay[5] = {0};
    nnp_workspace *ws = NULL;
    ck_assert_ok(nnp_workspace_create(net, n, &ws));
    float *g = malloc(P * sizeof *g);
    double ml;
    nnpi_objective_grad(net, ws, x, y, n, NNP_LOSS_SOFTMAX_XENT, decay, 1, g, &ml);
    int checked = 0;
    for (size_t layer = 1; layer <= 4; layer += 3) {
        const nnpi_node *node = &net->nodes[layer];
        const size_t C = node->c, off = node->param_offset;
        for (size_t j = 0; j < 4 * C; j++) {
            const size_t p = off + j;
            if (j >= C && j < 3 * C) { /* mean, var */
                ck_assert_msg(g[p] == 0.0f, "layer %zu param %zu (statistic): gradient %g", layer,
                              j, g[p]);
                continue;
            }
            const float keep = net->params[p];
            net->params[p] = keep + 1e-2f;
            double fp = nnpi_objective_grad(net, ws, x, y, n, NNP_LOSS_SOFTMAX_XENT, decay, 99, g, &ml);
            net->params[p] = keep - 1e-2f;
            double fm = nnpi_objective_grad(net, ws, x, y, n, NNP_LOSS_SOFTMAX_XENT, decay, 99, g, &ml);
            net->params[p] = keep;
            const double fd = (fp - fm) / (double)((keep + 1e-2f) - (keep - 1e-2f));
            nnpi_objective_grad(net, ws, x, y, n, NNP_LOSS_SOFTMAX_XENT, decay, 1, g, &ml);
            ck_assert_msg(fabs(g[p] - fd) < 1e-3 * fmax(1, fabs(fd)),
                          "layer %zu param %zu: %g vs fd %g", layer, j, g[p], fd);
            ck_assert_msg(fabs(fd) > 1e-4, "layer %zu param %zu: fd %g ~ 0, vacuous", layer, j, fd);
            checked++;
        }
    }
    ck_assert_int_eq(checked, 2 * 3 + 2 * 4);
    free(g);
    nnp_workspace_free(ws);
    nnp_net_free(net);
}
END_TEST

/* After nnp_train (momentum, weight decay on), mean and var are bit-for-bit unchanged while
 * every scale and bias entry has moved. */
START_TEST(training_keeps_batchnorm_statistics)
{
    nspec s = {.c = 1, .h = 1, .w = 8, .n_layers = 4};
    s.L[0] = (lspec){.kind = K_DENSE, .size = 6};
    s.L[1] = (lspec){.kind = K_BN, .eps = 1e-3};
    s.L[2] = (lspec){.kind = K_TANH};
    s.L[3] = (lspec){.kind = K_DENSE, .size = 4};
    nnp_net *net = build(&s, 14);
    const size_t n = 64;
    float *x = malloc(n * 8 * sizeof *x);
    int32_t labels[64];
    tu_fill_uniform(x, n * 8, 0.0f, 1.0f, 15);
    for (size_t i = 0; i < n; i++) labels[i] = (int32_t)(i % 4);
    nnp_dataset *ds = NULL;
    ck_assert_ok(nnp_dataset_create(n, 1, 1, 8, x, labels, &ds));
    float w0[18], b0[6], w1[18], b1[6];
    ck_assert_ok(nnp_net_get_params(net, 2, w0, b0));
    nnp_train_opts o;
    ck_assert_ok(nnp_train_opts_init(&o));
    const double lambda = 1e-3;
    o.epochs = 3;
    o.batch_size = 16;
    o.weight_decay = &lambda;
    o.n_weight_decay = 1;
    ck_assert_ok(nnp_train(net, ds, &o, NULL));
    ck_assert_ok(nnp_net_get_params(net, 2, w1, b1));
    ck_assert_mem_eq(w0 + 6, w1 + 6, 12 * sizeof(float)); /* mean, var */
    for (int c = 0; c < 6; c++) {
        ck_assert_msg(w1[c] != w0[c], "scale[%d] did not change", c);
        ck_assert_msg(b1[c] != b0[c], "bias[%d] did not change", c);
    }
    nnp_dataset_free(ds);
    free(x);
    nnp_net_free(net);
}
END_TEST

/* ---------------------------------------------------------------------------------------- */
/* Arguments */

#define REFUSED(call, needle)                                                   \
    do {                                                                        \
        ck_assert_status(call, NNP_EINVAL);                                     \
        ck_assert_error_has(needle);                                            \
        ck_assert_uint_eq(nnp_net_layer_count(net), 1);                         \
    } while (0)

START_TEST(arguments_are_validated)
{
    nnp_net *net = NULL;
    ck_assert_ok(nnp_net_create(3, 2, 2, &net));
    const float nan = NAN, inf = INFINITY;
    size_t layer = 77;

    ck_assert_status(nnp_net_add_lrn(NULL, 3, 1, 1, 1, &layer), NNP_EINVAL);
    ck_assert_error_has("net is NULL");
    ck_assert_status(nnp_net_add_contrast_norm(NULL, 1, 1, &layer), NNP_EINVAL);
    ck_assert_error_has("net is NULL");
    ck_assert_status(nnp_net_add_batchnorm(NULL, 1, &layer), NNP_EINVAL);
    ck_assert_error_has("net is NULL");
    ck_assert_uint_eq(layer, 77);

    REFUSED(nnp_net_add_lrn(net, 0, 1, 1, 1, NULL), "nnp_net_add_lrn: size");
    REFUSED(nnp_net_add_lrn(net, 3, -1e-4f, 1, 1, NULL), "alpha");
    REFUSED(nnp_net_add_lrn(net, 3, nan, 1, 1, NULL), "alpha");
    REFUSED(nnp_net_add_lrn(net, 3, inf, 1, 1, NULL), "alpha");
    REFUSED(nnp_net_add_lrn(net, 3, 1, -0.5f, 1, NULL), "beta");
    REFUSED(nnp_net_add_lrn(net, 3, 1, nan, 1, NULL), "beta");
    REFUSED(nnp_net_add_lrn(net, 3, 1, inf, 1, NULL), "beta");
    REFUSED(nnp_net_add_lrn(net, 3, 1, 1, 0, NULL), "k =");
    REFUSED(nnp_net_add_lrn(net, 3, 1, 1, -1, NULL), "k =");
    REFUSED(nnp_net_add_lrn(net, 3, 1, 1, nan, NULL), "k =");
    REFUSED(nnp_net_add_lrn(net, 3, 1, 1, inf, NULL), "k =");

    REFUSED(nnp_net_add_contrast_norm(net, 0, 0.5f, NULL), "nnp_net_add_contrast_norm: eps");
    REFUSED(nnp_net_add_contrast_norm(net, -1, 0.5f, NULL), "eps");
    REFUSED(nnp_net_add_contrast_norm(net, nan, 0.5f, NULL), "eps");
    REFUSED(nnp_net_add_contrast_norm(net, inf, 0.5f, NULL), "eps");
    REFUSED(nnp_net_add_contrast_norm(net, 1, -0.1f, NULL), "gamma");
    REFUSED(nnp_net_add_contrast_norm(net, 1, nan, NULL), "gamma");
    REFUSED(nnp_net_add_contrast_norm(net, 1, inf, NULL), "gamma");

    REFUSED(nnp_net_add_batchnorm(net, -1e-5f, NULL), "nnp_net_add_batchnorm: eps");
    REFUSED(nnp_net_add_batchnorm(net, nan, NULL), "eps");
    REFUSED(nnp_net_add_batchnorm(net, inf, NULL), "eps");

    /* the boundaries are accepted: α = β = 0, a window wider than C, γ = 0, ε = 0 */
    ck_assert_ok(nnp_net_add_lrn(net, 11, 0, 0, 1e-3f, &layer));
    ck_assert_uint_eq(layer, 1);
    ck_assert_ok(nnp_net_add_contrast_norm(net, 1e-6f, 0, NULL));
    ck_assert_ok(nnp_net_add_batchnorm(net, 0, NULL));
    ck_assert_uint_eq(nnp_net_layer_count(net), 4);
    nnp_net_free(net);
}
END_TEST

/* ---------------------------------------------------------------------------------------- */
/* Memory */

static nnp_net *all_three(void)
{
    nnp_net *net = NULL;
    ck_assert_ok(nnp_net_create(4, 3, 3, &net));
    ck_assert_ok(nnp_net_add_lrn(net, 5, 1e-2f, 0.75f, 2.0f, NULL));
    ck_assert_ok(nnp_net_add_batchnorm(net, 1e-5f, NULL));
    ck_assert_ok(nnp_net_add_contrast_norm(net, 1.0f, 0.5f, NULL));
    ck_assert_ok(nnp_net_add_dense(net, 3, NULL));
    ck_assert_ok(nnp_net_init_params(net, 18));
    randomise_bn(net, 2, 19);
    return net;
}

/* Once a workspace has seen the batch size, passes through these layers allocate nothing
 * (LRN's buffers come from the workspace scratch), and a workspace grown from batch 1 gives
 * the same results as a fresh one. */
START_TEST(passes_do_not_allocate)
{
    nnp_net *net = all_three();
    float x[3 * 36], dx[3 * 36], dx2[3 * 36], v[3 * 36], logits[9];
    int32_t labels[3] = {0, 1, 2};
    tu_fill_uniform(x, sizeof x / sizeof *x, 0.0f, 1.0f, 16);
    tu_fill_uniform(v, sizeof v / sizeof *v, -1.0f, 1.0f, 17);
    nnp_workspace *ws = NULL;
    ck_assert_ok(nnp_workspace_create(net, 1, &ws));
    ck_assert_ok(nnp_grad_loss(net, ws, x, labels, 1, dx, NULL, NULL));
    ck_assert_ok(nnp_grad_loss(net, ws, x, labels, 3, dx, NULL, logits)); /* grows */
    ck_assert_ok(nnp_grad_loss(net, NULL, x, labels, 3, dx2, NULL, NULL));
    ck_assert_mem_eq(dx, dx2, sizeof dx);
    nnpi_fail_alloc_after(1);
    nnp_status s1 = nnp_grad_loss(net, ws, x, labels, 3, dx, NULL, NULL);
    nnp_status s2 = nnp_grad_vjp(net, ws, x, 3, 1, v, dx);
    nnp_status s3 = nnp_net_forward(net, ws, x, 3, logits);
    nnpi_fail_alloc_after(0);
    ck_assert_ok(s1);
    ck_assert_ok(s2);
    ck_assert_ok(s3);
    nnp_workspace_free(ws);
    nnp_net_free(net);
}
END_TEST

/* A net and its clone, checked and freed after each run by tu_net_pair_free. */
typedef tu_net_pair alloc_run;

static nnp_status alloc_run_build(void *user, long k)
{
    (void)k;
    alloc_run *a = user;
    a->net = a->copy = NULL;
    nnp_status s = nnp_net_create(2, 2, 2, &a->net);
    if (s == NNP_OK) s = nnp_net_add_lrn(a->net, 3, 1e-2f, 0.75f, 1.0f, NULL);
    if (s == NNP_OK) s = nnp_net_add_contrast_norm(a->net, 1.0f, 0.5f, NULL);
    if (s == NNP_OK) s = nnp_net_add_batchnorm(a->net, 1e-5f, NULL);
    if (s == NNP_OK) s = nnp_net_add_dense(a->net, 2, NULL);
    float x[8] = {0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f, 0.7f, 0.8f}, dx[8];
    int32_t label = 1;
    if (s == NNP_OK) s = nnp_grad_loss(a->net, NULL, x, &label, 1, dx, NULL, NULL);
    if (s == NNP_OK) s = nnp_net_clone(a->net, &a->copy);
    return s;
}

START_TEST(allocation_failures_are_clean)
{
    alloc_run a = {NULL, NULL};
    tu_alloc_counts c = tu_alloc_failures(&(tu_alloc_loop){
        .what = "build, gradient, clone", .max_k = 39, .check_message = 1,
        .run = alloc_run_build, .after = tu_net_pair_free, .user = &a});
    ck_assert_int_gt(c.failures, 8);
    ck_assert_int_gt(c.successes, 0); /* the loop reached past the last allocation */
}
END_TEST

int main(void)
{
    Suite *s = suite_create("norm");
    TCase *tc = tcase_create("norm");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, lrn_hand_values);
    tcase_add_loop_test(tc, lrn_forward_matches_reference, 0, N_LRN_CASES);
    tcase_add_test(tc, contrast_norm_hand_values);
    tcase_add_loop_test(tc, contrast_norm_forward_matches_reference, 0, 4);
    tcase_add_test(tc, batchnorm_hand_values);
    tcase_add_test(tc, batchnorm_starts_as_identity);
    tcase_add_test(tc, init_params_leaves_batchnorm_alone);
    tcase_add_test(tc, batchnorm_negative_variance_gives_nan);
    tcase_add_test(tc, forward_matches_reference_batchnorm);
    tcase_add_test(tc, layer_info_and_names);
    tcase_add_loop_test(tc, vjp_matches_fd, 0, N_LRN_CASES + 3);
    tcase_add_loop_test(tc, vjp_accumulates_into_shared_input, 0, 3);
    tcase_add_loop_test(tc, loss_gradient_through_classifier, 0, 4);
    tcase_add_test(tc, batchnorm_param_gradient_fd);
    tcase_add_test(tc, training_keeps_batchnorm_statistics);
    tcase_add_test(tc, arguments_are_validated);
    tcase_add_test(tc, passes_do_not_allocate);
    tcase_add_test(tc, allocation_failures_are_clean);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
