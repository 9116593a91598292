/* 2-D convolution: forward against a naive direct convolution written here (double
 * accumulation, straight from the definition), input and parameter gradients against central
 * differences of it, a conv→relu→conv→dense net against finite differences, the library's
 * lowering paths (multi-example tiles, row bands, 1×1), options and allocation failures.
 *
 * Tolerance. The library computes in float32; the references are double. Errors are
 * max |lib − ref| / max(1, max |ref|) (ref_rel_err) and must be below 5e-6 (≈ 40 float
 * epsilons; observed at most 4.6e-7, on the largest sums: K = 144 terms forward, 10^4 terms in
 * the weight gradients of the large cases). The conv is linear in x and in its parameters, so
 * central differences of the double reference are exact up to rounding (~1e-10 with step
 * 1e-3); for the net (relu, softmax) the step is 1e-5 and the FD error ~1e-9. */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>

#include "core/core.h"
#include "net/net_internal.h"
#include "refnet.h"
#include "testutil.h"
#include "train/objective.h"

#define TOL 5e-6
#define BATCH 3

/* ---- cases ------------------------------------------------------------------------------ */

typedef struct conv_case {
    const char *name;
    size_t c, h, w;     /* input shape */
    nnp_net_conv2d_opts o;
    size_t oh, ow;      /* output size worked out by hand from floor((in+pb+pa−d(k−1)−1)/s)+1 */
} conv_case;

#define OPTS(oc, kh, kw, sh, sw, pt, pl, pb, pr, dh, dw, g, bias)                                \
    {                                                                                           \
        sizeof(nnp_net_conv2d_opts), oc, kh, kw, sh, sw, pt, pl, pb, pr, dh, dw, g, bias            \
    }

static const conv_case cases[] = {
    /* (7+1+1−3)/2 = 3 → 4; (8+2−3)/2 = 3.5 → 4: the padding does not divide evenly */
    {"stride 2, uneven padding", 2, 7, 8, OPTS(3, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1), 4, 4},
    /* 5+2+0−3+1 = 5; 6+0+1−2+1 = 6 */
    {"asymmetric padding", 2, 5, 6, OPTS(4, 3, 2, 1, 1, 2, 0, 0, 1, 1, 1, 1, 1), 5, 6},
    /* dilated kernel spans 5: 9+2−5+1 = 7; 7+2−5+1 = 5 */
    {"dilation 2", 3, 9, 7, OPTS(2, 3, 3, 1, 1, 1, 1, 1, 1, 2, 2, 1, 0), 7, 5},
    {"groups 2", 4, 6, 5, OPTS(6, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 2, 1), 6, 5},
    /* depthwise with channel multiplier 2: (6+2−3)/2 = 2.5 → 3 */
    {"depthwise", 3, 6, 6, OPTS(6, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 3, 1), 3, 3},
    {"1x1", 5, 4, 3, OPTS(3, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1), 4, 3},
    {"1x1 grouped, no bias", 4, 3, 5, OPTS(6, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 2, 0), 3, 5},
    /* (5−1)/2+1 = 3 */
    {"1x1 stride 2", 3, 5, 5, OPTS(2, 1, 1, 2, 2, 0, 0, 0, 0, 1, 1, 1, 1), 3, 3},
    /* kernel 5×4 on 3×2: 3+2+2−5+1 = 3; 2+1+2−4+1 = 2 */
    {"kernel larger than input", 2, 3, 2, OPTS(2, 5, 4, 1, 1, 2, 1, 2, 2, 1, 1, 1, 1), 3, 2},
    /* (11+0+2−2)/3 = 3.67 → 4; (9+1+0−5)/2 = 2.5 → 3 */
    {"odd sizes, mixed strides", 3, 11, 9, OPTS(5, 2, 3, 3, 2, 0, 1, 2, 0, 1, 2, 1, 0), 4, 3},
    /* (10+1+0−5)/2 = 3 → 4; (9+0+2−3)/3 = 2.67 → 3 */
    {"groups, stride, dilation", 4, 10, 9, OPTS(2, 3, 2, 2, 3, 1, 0, 0, 2, 2, 2, 2, 1), 4, 3},
    /* a 1×1 output: the window covers the whole padded input */
    {"single output", 2, 3, 3, OPTS(3, 4, 4, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1), 1, 1},
};
#define N_CASES (sizeof cases / sizeof cases[0])

/* Cases that take each of the library's lowering paths (tiling_paths_are_exercised checks they
 * do, given its 2^18-float tile budget and 512-column minimum tile width): an example whose
 * column matrix K·P exceeds the budget is cut into bands of output rows; P ≥ 512 gives one
 * example per tile; smaller P groups examples (here 2, so that a batch of 3 ends with a
 * partial tile) as far as the budget holds their col and staging, (K + OCg)·P floats each;
 * a 1×1 stride-1 unpadded conv with one example per tile reads its input in place. */
enum path { BANDS, ONE_PER_TILE, TWO_PER_TILE, DIRECT };
static const struct {
    conv_case k;
    enum path path;
} big_cases[] = {
    /* K·P = 144·2304 */
    {{"bands", 16, 48, 48, OPTS(4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1), 48, 48}, BANDS},
    /* (97+1+1−3)/2+1 = 49, (95+0+2−3)/2+1 = 48; K·P = 144·2352 */
    {{"bands, grouped, stride 2", 32, 97, 95, OPTS(4, 3, 3, 2, 2, 1, 0, 1, 2, 1, 1, 2, 0), 49, 48},
     BANDS},
    /* 30+1+1−3+1 = 30, 31+2+1−4+1 = 31: P = 930 */
    {{"one per tile", 3, 30, 31, OPTS(4, 3, 4, 1, 1, 1, 2, 1, 1, 1, 1, 1, 1), 30, 31},
     ONE_PER_TILE},
    /* P = 400: ceil(512/400) = 2 */
    {{"two per tile", 8, 20, 20, OPTS(6, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1), 20, 20},
     TWO_PER_TILE},
    /* (K + OCg)·P = 1804·64 (col and staging): the budget holds 2 */
    {{"two per tile by budget", 200, 8, 8, OPTS(4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1), 8, 8},
     TWO_PER_TILE},
    /* P = 400, lowered by copying */
    {{"two per tile, 1x1", 64, 20, 20, OPTS(4, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1), 20, 20},
     TWO_PER_TILE},
    /* P = 6400 */
    {{"1x1 direct, grouped", 64, 80, 80, OPTS(4, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 2, 1), 80, 80},
     DIRECT},
};
#define N_BIG (sizeof big_cases / sizeof big_cases[0])

static size_t in_size(const conv_case *k) { return k->c * k->h * k->w; }
static size_t out_size(const conv_case *k) { return k->o.out_channels * k->oh * k->ow; }
static size_t n_weights(const conv_case *k)
{
    return k->o.out_channels * (k->c / k->o.groups) * k->o.kernel_h * k->o.kernel_w;
}

/* ---- naive reference -------------------------------------------------------------------- */

/* The case's sizes as signed integers, so that tap positions may go negative. */
typedef struct dims {
    long H, W, OC, OH, OW, kh, kw, sh, sw, pt, pl, dh, dw, cg, ocg;
} dims;

static dims dims_of(const conv_case *k)
{
    const nnp_net_conv2d_opts *o = &k->o;
    return (dims){(long)k->h, (long)k->w, (long)o->out_channels, (long)k->oh, (long)k->ow,
                  (long)o->kernel_h, (long)o->kernel_w, (long)o->stride_h, (long)o->stride_w,
                  (long)o->pad_top, (long)o->pad_left, (long)o->dilation_h, (long)o->dilation_w,
                  (long)(k->c / o->groups), (long)(o->out_channels / o->groups)};
}

/* Tap (c, ki, kj) of output (oc, i, j): input x[g·Cg + c][i·sh + ki·dh − pt][j·sw + kj·dw − pl]
 * with g = oc / OCg, weight w[oc][c][ki][kj]. Sets their indices and returns 1, or returns 0
 * when the input position falls in the padding. */
static int tap(const dims *d, long oc, long i, long j, long c, long ki, long kj, long *xi,
               long *wi)
{
    const long ih = i * d->sh + ki * d->dh - d->pt, iw = j * d->sw + kj * d->dw - d->pl;
    if (ih < 0 || iw < 0 || ih >= d->H || iw >= d->W) return 0;
    *xi = ((oc / d->ocg * d->cg + c) * d->H + ih) * d->W + iw;
    *wi = ((oc * d->cg + c) * d->kh + ki) * d->kw + kj;
    return 1;
}

/* y[oc][i][j] = b[oc] + Σ_c Σ_ki Σ_kj (weight · input of each tap), straight from the
 * definition, for one example. */
static void naive_conv(const conv_case *k, const double *x, const double *w, const double *b,
                       double *y)
{
    const dims d = dims_of(k);
    long xi, wi;
    for (long oc = 0; oc < d.OC; oc++)
        for (long i = 0; i < d.OH; i++)
            for (long j = 0; j < d.OW; j++) {
                double s = k->o.bias ? b[oc] : 0.0;
                for (long c = 0; c < d.cg; c++)
                    for (long ki = 0; ki < d.kh; ki++)
                        for (long kj = 0; kj < d.kw; kj++)
                            if (tap(&d, oc, i, j, c, ki, kj, &xi, &wi)) s += w[wi] * x[xi];
                y[(oc * d.OH + i) * d.OW + j] = s;
            }
}

/* The same sum read the other way (each product's partial derivatives scattered back):
 * dx += d⟨v, y⟩/dx, dw += d⟨v, y⟩/dw, db += d⟨v, y⟩/db. Used where FD would be too slow. */
static void naive_conv_adjoint(const conv_case *k, const double *x, const double *w,
                               const double *v, double *dx, double *dw, double *db)
{
    const dims d = dims_of(k);
    long xi, wi;
    for (long oc = 0; oc < d.OC; oc++)
        for (long i = 0; i < d.OH; i++)
            for (long j = 0; j < d.OW; j++) {
                const double vo = v[(oc * d.OH + i) * d.OW + j];
                if (k->o.bias) db[oc] += vo;
                for (long c = 0; c < d.cg; c++)
                    for (long ki = 0; ki < d.kh; ki++)
                        for (long kj = 0; kj < d.kw; kj++)
                            if (tap(&d, oc, i, j, c, ki, kj, &xi, &wi)) {
                                dx[xi] += w[wi] * vo;
                                dw[wi] += x[xi] * vo;
                            }
            }
}

static double *to_double(const float *a, size_t n)
{
    double *d = malloc((n ? n : 1) * sizeof *d);
    for (size_t i = 0; i < n; i++) d[i] = a[i];
    return d;
}

/* A net holding one conv layer of case k with random parameters (returned in w, b). */
static nnp_net *conv_net(const conv_case *k, uint64_t seed, float **w, float **b)
{
    nnp_net *net = NULL;
    size_t layer;
    ck_assert_ok(nnp_net_create(k->c, k->h, k->w, &net));
    ck_assert_ok(nnp_net_add_conv2d(net, &k->o, &layer));
    ck_assert_uint_eq(layer, 1);
    *w = malloc(n_weights(k) * sizeof(float));
    *b = malloc(k->o.out_channels * sizeof(float));
    tu_fill_uniform(*w, n_weights(k), -1.0f, 1.0f, seed);
    tu_fill_uniform(*b, k->o.out_channels, -1.0f, 1.0f, seed + 1);
    ck_assert_ok(nnp_net_set_params(net, 1, *w, k->o.bias ? *b : NULL));
    return net;
}

/* ---- forward ---------------------------------------------------------------------------- */

/* Checks the layer's shape and its forward pass against naive_conv, for batches of each of
 * the `count` sizes in turn through one workspace (made for 1 example, so it grows). */
static void check_forward(const conv_case *k, const size_t *sizes, size_t count)
{
    float *w, *b;
    nnp_net *net = conv_net(k, 10, &w, &b);
    nnp_layer_info info = {.size = sizeof info};
    ck_assert_ok(nnp_net_layer_info(net, 1, &info));
    ck_assert_int_eq(info.kind, NNP_LAYER_CONV2D);
    ck_assert_uint_eq(info.channels, k->o.out_channels);
    ck_assert_msg(info.height == k->oh && info.width == k->ow, "%s: output %zux%zu, want %zux%zu",
                  k->name, info.height, info.width, k->oh, k->ow);
    ck_assert_uint_eq(info.weight_count, n_weights(k));
    ck_assert_uint_eq(info.bias_count, k->o.bias ? k->o.out_channels : 0);
    ck_assert_uint_eq(nnp_net_param_count(net), info.weight_count + info.bias_count);

    const size_t d = in_size(k), m = out_size(k);
    double *wd = to_double(w, n_weights(k)), *bd = to_double(b, k->o.out_channels);
    double *ref = malloc(m * sizeof(double));
    nnp_workspace *ws = NULL;
    ck_assert_ok(nnp_workspace_create(net, 1, &ws));
    for (size_t t = 0; t < count; t++) {
        const size_t n = sizes[t];
        float *x = malloc(n * d * sizeof(float)), *y = malloc(n * m * sizeof(float));
        tu_fill_uniform(x, n * d, -1.0f, 1.0f, 20 + t);
        ck_assert_ok(nnp_net_forward(net, ws, x, n, y));
        for (size_t e = 0; e < n; e++) {
            double *xd = to_double(x + e * d, d);
            naive_conv(k, xd, wd, bd, ref);
            double err = ref_rel_err(y + e * m, ref, m);
            ck_assert_msg(err < TOL, "%s, batch %zu, example %zu: forward error %g", k->name, n,
                          e, err);
            free(xd);
        }
        free(x), free(y);
    }
    nnp_workspace_free(ws);
    free(ref), free(wd), free(bd), free(w), free(b);
    nnp_net_free(net);
}

static const size_t one_batch[] = {BATCH};

START_TEST(forward_matches_direct_convolution) { check_forward(&cases[_i], one_batch, 1); }
END_TEST

/* ---- input gradient: public VJP against FD of the reference ------------------------------ */

typedef struct fd_ctx {
    const conv_case *k;
    const double *x, *w, *b, *v; /* the variable one is replaced by the FD's argument */
    int wrt;                     /* 0: x, 1: w, 2: b */
} fd_ctx;

/* ⟨v, conv(x; w, b)⟩ with the argument in place of x, w or b */
static double fd_dot(void *p, const double *arg)
{
    const fd_ctx *c = p;
    const size_t m = out_size(c->k);
    double *y = malloc(m * sizeof *y), s = 0;
    naive_conv(c->k, c->wrt == 0 ? arg : c->x, c->wrt == 1 ? arg : c->w, c->wrt == 2 ? arg : c->b,
               y);
    for (size_t j = 0; j < m; j++) s += c->v[j] * y[j];
    free(y);
    return s;
}

START_TEST(input_gradient_matches_fd)
{
    const conv_case *k = &cases[_i];
    float *w, *b;
    nnp_net *net = conv_net(k, 30, &w, &b);
    const size_t n = BATCH, d = in_size(k), m = out_size(k);
    float *x = malloc(n * d * sizeof(float)), *v = malloc(n * m * sizeof(float));
    float *dx = malloc(n * d * sizeof(float));
    tu_fill_uniform(x, n * d, -1.0f, 1.0f, 31);
    tu_fill_uniform(v, n * m, -1.0f, 1.0f, 32);
    ck_assert_ok(nnp_grad_vjp(net, NULL, x, n, 1, v, dx));
    double *wd = to_double(w, n_weights(k)), *bd = to_double(b, k->o.out_channels);
    double *g = malloc(d * sizeof *g);
    for (size_t e = 0; e < n; e++) {
        double *xd = to_double(x + e * d, d), *vd = to_double(v + e * m, m);
        fd_ctx ctx = {k, xd, wd, bd, vd, 0};
        ref_fd_grad(fd_dot, &ctx, xd, d, 1e-3, g);
        double err = ref_rel_err(dx + e * d, g, d);
        ck_assert_msg(err < TOL, "%s, example %zu: input gradient error %g", k->name, e, err);
        free(xd), free(vd);
    }
    free(g), free(wd), free(bd), free(x), free(v), free(dx), free(w), free(b);
    nnp_net_free(net);
}
END_TEST

/* ---- the ops directly: accumulate flag, parameter gradient -------------------------------- */

/* Runs backward_input (with the given accumulate flag, din prefilled with `fill`) and
 * backward_params (dparams prefilled with 0.5) of case k's conv on a batch; returns both
 * with the prefill subtracted where it should have been kept. */
static void run_ops(const nnp_net *net, const float *x, const float *v, size_t n,
                    unsigned char acc, float fill, float *dx, float *dp)
{
    const nnpi_node *node = &net->nodes[1];
    size_t floats = nnpi_conv2d_ops.scratch_floats(node, n);
    float *scratch = malloc((floats ? floats : 1) * sizeof(float));
    const float *in[1] = {x};
    float *din[1] = {dx};
    for (size_t i = 0; i < n * node->in_size; i++) dx[i] = fill;
    for (size_t i = 0; i < net->n_params; i++) dp[i] = 0.5f;
    nnpi_conv2d_ops.backward_input(node, net->params, in, NULL, v, din, n, &acc, scratch);
    nnpi_conv2d_ops.backward_params(node, net->params, in, v, dp, n, scratch);
    if (acc)
        for (size_t i = 0; i < n * node->in_size; i++) dx[i] -= fill;
    for (size_t i = 0; i < net->n_params; i++) dp[i] -= 0.5f;
    free(scratch);
}

START_TEST(param_gradient_and_accumulate_match_fd)
{
    const conv_case *k = &cases[_i];
    float *w, *b;
    nnp_net *net = conv_net(k, 40, &w, &b);
    const size_t n = BATCH, d = in_size(k), m = out_size(k), nw = n_weights(k),
                 nb = k->o.bias ? k->o.out_channels : 0;
    float *x = malloc(n * d * sizeof(float)), *v = malloc(n * m * sizeof(float));
    float *dx = malloc(n * d * sizeof(float)), *dp = malloc((nw + nb) * sizeof(float));
    tu_fill_uniform(x, n * d, -1.0f, 1.0f, 41);
    tu_fill_uniform(v, n * m, -1.0f, 1.0f, 42);
    double *wd = to_double(w, nw), *bd = to_double(b, k->o.out_channels);
    double *gw = calloc(nw, sizeof *gw), *gb = calloc(k->o.out_channels, sizeof *gb);
    double *gx = malloc(n * d * sizeof *gx), *tmp = malloc((nw > d ? nw : d) * sizeof *tmp);
    /* FD of Σ_e ⟨v_e, conv(x_e)⟩ with respect to w and b (summed over the batch), and to x_e */
    for (size_t e = 0; e < n; e++) {
        double *xd = to_double(x + e * d, d), *vd = to_double(v + e * m, m);
        fd_ctx ctx = {k, xd, wd, bd, vd, 1};
        ref_fd_grad(fd_dot, &ctx, wd, nw, 1e-3, tmp);
        for (size_t i = 0; i < nw; i++) gw[i] += tmp[i];
        ctx.wrt = 2;
        ref_fd_grad(fd_dot, &ctx, bd, k->o.out_channels, 1e-3, tmp);
        for (size_t i = 0; i < k->o.out_channels; i++) gb[i] += tmp[i];
        ctx.wrt = 0;
        ref_fd_grad(fd_dot, &ctx, xd, d, 1e-3, gx + e * d);
        free(xd), free(vd);
    }
    for (unsigned char acc = 0; acc <= 1; acc++) {
        run_ops(net, x, v, n, acc, acc ? 0.25f : 7.0f, dx, dp);
        double err = ref_rel_err(dx, gx, n * d);
        ck_assert_msg(err < TOL, "%s, accumulate %d: input gradient error %g", k->name, acc, err);
        err = ref_rel_err(dp, gw, nw);
        ck_assert_msg(err < TOL, "%s: weight gradient error %g", k->name, err);
        if (nb) {
            err = ref_rel_err(dp + nw, gb, nb);
            ck_assert_msg(err < TOL, "%s: bias gradient error %g", k->name, err);
        }
    }
    free(gw), free(gb), free(gx), free(tmp), free(wd), free(bd);
    free(x), free(v), free(dx), free(dp), free(w), free(b);
    nnp_net_free(net);
}
END_TEST

/* ---- large cases: the other lowering paths ------------------------------------------------ */

/* The big cases really take the paths their names say (at the library's tile budget). */
START_TEST(tiling_paths_are_exercised)
{
    for (size_t c = 0; c < N_BIG; c++) {
        const conv_case *k = &big_cases[c].k;
        nnp_net *net = NULL;
        ck_assert_ok(nnp_net_create(k->c, k->h, k->w, &net));
        ck_assert_ok(nnp_net_add_conv2d(net, &k->o, NULL));
        const nnpi_node *node = &net->nodes[1];
        const size_t K = k->c / k->o.groups * k->o.kernel_h * k->o.kernel_w;
        const size_t P = k->oh * k->ow, ocg = k->o.out_channels / k->o.groups;
        const size_t s = nnpi_conv2d_ops.scratch_floats(node, BATCH);
        switch (big_cases[c].path) {
        case BANDS: ck_assert_msg(s > 0 && s < K * P, "%s: scratch %zu", k->name, s); break;
        case ONE_PER_TILE: ck_assert_msg(s == K * P, "%s: scratch %zu", k->name, s); break;
        case TWO_PER_TILE:
            ck_assert_msg(s == (K + ocg) * 2 * P, "%s: scratch %zu", k->name, s);
            break;
        case DIRECT: ck_assert_msg(s == 0, "%s: scratch %zu", k->name, s); break;
        }
        nnp_net_free(net);
    }
}
END_TEST

START_TEST(large_cases_match_reference)
{
    const conv_case *k = &big_cases[_i].k;
    check_forward(k, one_batch, 1);
    float *w, *b;
    nnp_net *net = conv_net(k, 50, &w, &b);
    const size_t n = BATCH, d = in_size(k), m = out_size(k), nw = n_weights(k),
                 nb = k->o.bias ? k->o.out_channels : 0;
    float *x = malloc(n * d * sizeof(float)), *v = malloc(n * m * sizeof(float));
    float *dx = malloc(n * d * sizeof(float)), *dp = malloc((nw + nb) * sizeof(float));
    tu_fill_uniform(x, n * d, -1.0f, 1.0f, 51);
    tu_fill_uniform(v, n * m, -1.0f, 1.0f, 52);
    double *wd = to_double(w, nw), *gw = calloc(nw, sizeof *gw);
    double *gb = calloc(k->o.out_channels, sizeof *gb), *gx = calloc(n * d, sizeof *gx);
    for (size_t e = 0; e < n; e++) {
        double *xd = to_double(x + e * d, d), *vd = to_double(v + e * m, m);
        naive_conv_adjoint(k, xd, wd, vd, gx + e * d, gw, gb);
        free(xd), free(vd);
    }
    for (unsigned char acc = 0; acc <= 1; acc++) {
        run_ops(net, x, v, n, acc, acc ? -0.5f : 3.0f, dx, dp);
        double err = ref_rel_err(dx, gx, n * d);
        ck_assert_msg(err < TOL, "%s, accumulate %d: input gradient error %g", k->name, acc, err);
        err = ref_rel_err(dp, gw, nw);
        ck_assert_msg(err < TOL, "%s: weight gradient error %g", k->name, err);
        if (nb) {
            err = ref_rel_err(dp + nw, gb, nb);
            ck_assert_msg(err < TOL, "%s: bias gradient error %g", k->name, err);
        }
    }
    free(wd), free(gw), free(gb), free(gx), free(x), free(v), free(dx), free(dp), free(w), free(b);
    nnp_net_free(net);
}
END_TEST

/* One workspace serves batches of different sizes (so different tilings) in turn. */
START_TEST(workspace_reused_across_batch_sizes)
{
    static const size_t sizes[] = {1, 5, 2, 3, 1};
    for (size_t c = 0; c < N_BIG; c++)
        if (big_cases[c].path != BANDS) check_forward(&big_cases[c].k, sizes, 5);
    check_forward(&cases[0], sizes, 5);
}
END_TEST

/* ---- a small net: conv → relu → conv → dense, against FD of a double reference ----------- */

/* 2×6×5 → conv 3 (3×3, pad 1) → relu → conv 4 (3×2, stride 2, pads t1 l0 b0 r1, groups 1)
 * → 4×3×3 → dense 5. Second conv: (6+1−3)/2+1 = 3, (5+1−2)/2+1 = 3. */
static const conv_case net_c1 = {"c1", 2, 6, 5, OPTS(3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1), 6, 5};
static const conv_case net_c2 = {"c2", 3, 6, 5, OPTS(4, 3, 2, 2, 2, 1, 0, 0, 1, 1, 1, 1, 1), 3, 3};
#define NET_CLASSES 5

static nnp_net *small_net(void)
{
    nnp_net *net = NULL;
    ck_assert_ok(nnp_net_create(2, 6, 5, &net));
    ck_assert_ok(nnp_net_add_conv2d(net, &net_c1.o, NULL));
    ck_assert_ok(nnp_net_add_activation(net, NNP_LAYER_RELU, NULL));
    ck_assert_ok(nnp_net_add_conv2d(net, &net_c2.o, NULL));
    ck_assert_ok(nnp_net_add_dense(net, NET_CLASSES, NULL));
    float *p = malloc(net->n_params * sizeof(float));
    tu_fill_uniform(p, net->n_params, -0.5f, 0.5f, 60);
    memcpy(net->params, p, net->n_params * sizeof(float));
    free(p);
    return net;
}

/* Cross-entropy of the small net in double; params laid out as net->params. */
static double small_net_xent(const double *params, const double *x, int32_t label)
{
    const size_t n1 = n_weights(&net_c1), n2 = n_weights(&net_c2);
    const double *w1 = params, *b1 = w1 + n1, *w2 = b1 + 3, *b2 = w2 + n2, *w3 = b2 + 4,
                 *b3 = w3 + NET_CLASSES * 36;
    double h1[3 * 30], h2[36], z[NET_CLASSES];
    naive_conv(&net_c1, x, w1, b1, h1);
    for (size_t i = 0; i < 90; i++) h1[i] = h1[i] > 0 ? h1[i] : 0;
    naive_conv(&net_c2, h1, w2, b2, h2);
    double zmax = -INFINITY, s = 0;
    for (size_t o = 0; o < NET_CLASSES; o++) {
        z[o] = b3[o];
        for (size_t i = 0; i < 36; i++) z[o] += w3[o * 36 + i] * h2[i];
        zmax = z[o] > zmax ? z[o] : zmax;
    }
    for (size_t o = 0; o < NET_CLASSES; o++) s += exp(z[o] - zmax);
    return zmax + log(s) - z[label];
}

typedef struct net_ctx {
    const double *params, *xs;
    const int32_t *labels;
    size_t n, d;
} net_ctx;

static double net_loss_of_x(void *p, const double *x)
{
    const net_ctx *c = p;
    return small_net_xent(c->params, x, c->labels[0]);
}

static double net_mean_loss_of_params(void *p, const double *params)
{
    const net_ctx *c = p;
    double s = 0;
    for (size_t e = 0; e < c->n; e++) s += small_net_xent(params, c->xs + e * c->d, c->labels[e]);
    return s / (double)c->n;
}

START_TEST(net_gradients_match_fd)
{
    nnp_net *net = small_net();
    ck_assert_uint_eq(nnp_net_layer_count(net), 5);
    ck_assert_uint_eq(nnp_net_input_size(net), 60);
    const size_t n = BATCH, d = 60, P = net->n_params;
    float x[BATCH * 60], dx[BATCH * 60], loss[BATCH];
    int32_t labels[BATCH] = {1, 4, 0};
    tu_fill_uniform(x, n * d, 0.0f, 1.0f, 61);
    ck_assert_ok(nnp_grad_loss(net, NULL, x, labels, n, dx, loss, NULL));
    double *params = to_double(net->params, P), *xs = to_double(x, n * d);
    double g[60];
    for (size_t e = 0; e < n; e++) {
        net_ctx ctx = {params, NULL, labels + e, 1, d};
        ck_assert_double_eq_tol(loss[e], small_net_xent(params, xs + e * d, labels[e]), 1e-5);
        ref_fd_grad(net_loss_of_x, &ctx, xs + e * d, d, 1e-5, g);
        double err = ref_rel_err(dx + e * d, g, d);
        ck_assert_msg(err < TOL, "example %zu: d loss/dx error %g", e, err);
    }
    /* parameters: the training objective's gradient (mean loss, no decay) */
    nnp_workspace *ws = NULL;
    ck_assert_ok(nnp_workspace_create(net, n, &ws));
    float *gp = malloc(P * sizeof(float));
    double decay[5] = {0}, mean_loss;
    nnpi_objective_grad(net, ws, x, labels, n, NNP_LOSS_SOFTMAX_XENT, decay, 1, gp, &mean_loss);
    double *gfd = malloc(P * sizeof *gfd);
    net_ctx ctx = {params, xs, labels, n, d};
    ref_fd_grad(net_mean_loss_of_params, &ctx, params, P, 1e-5, gfd);
    double err = ref_rel_err(gp, gfd, P);
    ck_assert_msg(err < TOL, "parameter gradient error %g", err);
    free(gp), free(gfd), free(params), free(xs);
    nnp_workspace_free(ws);
    nnp_net_free(net);
}
END_TEST

/* ---- threads: a const net queried from several threads at once ---------------------------- */

#define THREADS 3

typedef struct job {
    const nnp_net *net;
    const float *x;
    const int32_t *labels;
    float dx[BATCH * 60];
    nnp_status status;
} job;

static void *grad_worker(void *p)
{
    job *j = p;
    for (int r = 0; r < 10 && j->status == NNP_OK; r++) /* NULL workspace: a private one */
        j->status = nnp_grad_loss(j->net, NULL, j->x, j->labels, BATCH, j->dx, NULL, NULL);
    return NULL;
}

/* The conv keeps no state outside the caller's workspace: concurrent queries give the serial
 * result bit for bit (and ThreadSanitizer, in scripts/run-tests, sees no race). */
START_TEST(concurrent_queries_match_serial)
{
    nnp_net *net = small_net();
    float x[BATCH * 60], want[BATCH * 60];
    int32_t labels[BATCH] = {2, 0, 4};
    tu_fill_uniform(x, BATCH * 60, 0.0f, 1.0f, 80);
    ck_assert_ok(nnp_grad_loss(net, NULL, x, labels, BATCH, want, NULL, NULL));
    job jobs[THREADS];
    pthread_t threads[THREADS];
    for (int t = 0; t < THREADS; t++) {
        jobs[t] = (job){.net = net, .x = x, .labels = labels, .status = NNP_OK};
        ck_assert_int_eq(pthread_create(&threads[t], NULL, grad_worker, &jobs[t]), 0);
    }
    for (int t = 0; t < THREADS; t++) {
        ck_assert_int_eq(pthread_join(threads[t], NULL), 0);
        ck_assert_ok(jobs[t].status);
        ck_assert_mem_eq(jobs[t].dx, want, sizeof want);
    }
    nnp_net_free(net);
}
END_TEST

/* ---- options ------------------------------------------------------------------------------ */

START_TEST(opts_init_defaults_and_sizes)
{
    nnp_net_conv2d_opts o;
    memset(&o, 0xAB, sizeof o);
    ck_assert_ok(nnp_net_conv2d_opts_init(&o));
    ck_assert_uint_eq(o.size, sizeof o);
    ck_assert_uint_eq(o.out_channels, 0);
    ck_assert_uint_eq(o.kernel_h, 3);
    ck_assert_uint_eq(o.kernel_w, 3);
    ck_assert_uint_eq(o.stride_h, 1);
    ck_assert_uint_eq(o.stride_w, 1);
    ck_assert_uint_eq(o.pad_top + o.pad_left + o.pad_bottom + o.pad_right, 0);
    ck_assert_uint_eq(o.dilation_h, 1);
    ck_assert_uint_eq(o.dilation_w, 1);
    ck_assert_uint_eq(o.groups, 1);
    ck_assert_int_eq(o.bias, 1);
    ck_assert_status(nnp_net_conv2d_opts_init_sized(NULL, sizeof o), NNP_EINVAL);
    ck_assert_status(nnp_net_conv2d_opts_init_sized(&o, 3), NNP_EINVAL);
    /* a newer caller's larger struct: the tail is zeroed */
    unsigned char big[sizeof o + 16];
    memset(big, 0xCD, sizeof big);
    ck_assert_ok(nnp_net_conv2d_opts_init_sized((nnp_net_conv2d_opts *)(void *)big, sizeof big));
    for (size_t i = sizeof o; i < sizeof big; i++) ck_assert_uint_eq(big[i], 0);
    /* an older caller's smaller struct: nothing past its size is written */
    memset(big, 0xCD, sizeof big);
    const size_t old = offsetof(nnp_net_conv2d_opts, kernel_w);
    ck_assert_ok(nnp_net_conv2d_opts_init_sized((nnp_net_conv2d_opts *)(void *)big, old));
    for (size_t i = old; i < sizeof big; i++) ck_assert_uint_eq(big[i], 0xCD);
}
END_TEST

/* Adding a conv with options `o` to a 4×6×6 input fails with `want` and a message naming
 * `needle`; the net is unchanged. */
static void expect_refused(const nnp_net_conv2d_opts *o, nnp_status want, const char *needle)
{
    nnp_net *net = NULL;
    ck_assert_ok(nnp_net_create(4, 6, 6, &net));
    size_t layer = 77;
    ck_assert_status(nnp_net_add_conv2d(net, o, &layer), want);
    ck_assert_error_has(needle);
    ck_assert_uint_eq(layer, 77);
    ck_assert_uint_eq(nnp_net_layer_count(net), 1);
    ck_assert_uint_eq(nnp_net_param_count(net), 0);
    nnp_net_free(net);
}

static nnp_net_conv2d_opts good_opts(void)
{
    nnp_net_conv2d_opts o;
    ck_assert_ok(nnp_net_conv2d_opts_init(&o));
    o.out_channels = 8;
    return o;
}

START_TEST(every_field_is_validated)
{
    const struct {
        size_t offset, bad;
        const char *needle;
    } bad[] = {
        {offsetof(nnp_net_conv2d_opts, out_channels), 0, "opts.out_channels = 0"},
        {offsetof(nnp_net_conv2d_opts, out_channels), ((size_t)1 << 24) + 1, "opts.out_channels"},
        {offsetof(nnp_net_conv2d_opts, kernel_h), 0, "opts.kernel_h = 0"},
        {offsetof(nnp_net_conv2d_opts, kernel_w), 0, "opts.kernel_w = 0"},
        {offsetof(nnp_net_conv2d_opts, kernel_h), ((size_t)1 << 28) + 1, "opts.kernel_h"},
        {offsetof(nnp_net_conv2d_opts, stride_h), 0, "opts.stride_h = 0"},
        {offsetof(nnp_net_conv2d_opts, stride_w), 0, "opts.stride_w = 0"},
        {offsetof(nnp_net_conv2d_opts, stride_w), (size_t)-1, "opts.stride_w"},
        {offsetof(nnp_net_conv2d_opts, pad_top), (size_t)-1, "opts.pad_top"},
        {offsetof(nnp_net_conv2d_opts, pad_left), (size_t)-1, "opts.pad_left"},
        {offsetof(nnp_net_conv2d_opts, pad_bottom), (size_t)-1, "opts.pad_bottom"},
        {offsetof(nnp_net_conv2d_opts, pad_right), ((size_t)1 << 28) + 1, "opts.pad_right"},
        {offsetof(nnp_net_conv2d_opts, dilation_h), 0, "opts.dilation_h = 0"},
        {offsetof(nnp_net_conv2d_opts, dilation_w), 0, "opts.dilation_w = 0"},
        {offsetof(nnp_net_conv2d_opts, dilation_w), (size_t)-1, "opts.dilation_w"},
        {offsetof(nnp_net_conv2d_opts, groups), 0, "opts.groups = 0"},
        {offsetof(nnp_net_conv2d_opts, groups), 3, "opts.groups = 3 does not divide in_channels = 4"},
        {offsetof(nnp_net_conv2d_opts, groups), 8, "opts.groups = 8 does not divide in_channels = 4"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        nnp_net_conv2d_opts o = good_opts();
        memcpy((unsigned char *)&o + bad[i].offset, &bad[i].bad, sizeof(size_t));
        expect_refused(&o, NNP_EINVAL, bad[i].needle);
    }
    nnp_net_conv2d_opts o = good_opts();
    o.groups = 4;
    o.out_channels = 6;
    expect_refused(&o, NNP_EINVAL, "opts.groups = 4 does not divide opts.out_channels = 6");
    /* and the valid neighbours of those values are accepted */
    o = good_opts();
    o.groups = 4;
    o.pad_top = (size_t)1 << 28;
    nnp_net *net = NULL;
    ck_assert_ok(nnp_net_create(4, 6, 6, &net));
    ck_assert_status(nnp_net_add_conv2d(net, &o, NULL), NNP_EINVAL); /* output too large */
    ck_assert_error_has("2^28");
    o.pad_top = 0;
    o.bias = 0;
    ck_assert_ok(nnp_net_add_conv2d(net, &o, NULL));
    nnp_net_free(net);
}
END_TEST

START_TEST(null_and_size_rules)
{
    nnp_net_conv2d_opts o = good_opts();
    ck_assert_status(nnp_net_add_conv2d(NULL, &o, NULL), NNP_EINVAL);
    ck_assert_error_has("net is NULL");
    expect_refused(NULL, NNP_EINVAL, "opts is NULL");
    o.size = 0;
    expect_refused(&o, NNP_EINVAL, "size is 0");
    /* a newer caller's struct: zero tail accepted, non-zero tail refused */
    struct {
        nnp_net_conv2d_opts o;
        size_t extra;
    } newer = {good_opts(), 0};
    newer.o.size = sizeof newer;
    nnp_net *net = NULL;
    ck_assert_ok(nnp_net_create(4, 6, 6, &net));
    ck_assert_ok(nnp_net_add_conv2d(net, &newer.o, NULL));
    nnp_net_free(net);
    newer.extra = 1;
    expect_refused(&newer.o, NNP_EVERSION, "upgrade");
    /* an older caller's struct that ends before kernel_w: the rest keeps the defaults (3×3) */
    nnp_net_conv2d_opts older = good_opts();
    older.size = offsetof(nnp_net_conv2d_opts, kernel_w);
    older.kernel_h = 5;
    older.kernel_w = 99; /* beyond the caller's size: ignored */
    ck_assert_ok(nnp_net_create(4, 6, 6, &net));
    ck_assert_ok(nnp_net_add_conv2d(net, &older, NULL));
    nnp_layer_info info = {.size = sizeof info};
    ck_assert_ok(nnp_net_layer_info(net, 1, &info));
    ck_assert_uint_eq(info.height, 2);
    ck_assert_uint_eq(info.width, 4);
    ck_assert_uint_eq(info.weight_count, 8 * 4 * 5 * 3);
    nnp_net_free(net);
}
END_TEST

START_TEST(size_limits)
{
    /* output below 1: the message gives the numbers */
    nnp_net_conv2d_opts o = good_opts();
    o.kernel_h = 4;
    o.dilation_h = 2;
    expect_refused(&o, NNP_EINVAL,
                   "output height would be < 1: input height 6 + opts.pad_top 0 + "
                   "opts.pad_bottom 0 = 6 is less than the dilated kernel height 7 "
                   "(opts.dilation_h 2 * (opts.kernel_h 4 - 1) + 1)");
    o = good_opts();
    o.kernel_w = 7;
    expect_refused(&o, NNP_EINVAL, "output width would be < 1");
    o.pad_right = 1; /* now exactly fits: one column */
    nnp_net *net = NULL;
    ck_assert_ok(nnp_net_create(4, 6, 6, &net));
    ck_assert_ok(nnp_net_add_conv2d(net, &o, NULL));
    nnp_layer_info info = {.size = sizeof info};
    ck_assert_ok(nnp_net_layer_info(net, 1, &info));
    ck_assert_uint_eq(info.width, 1);
    nnp_net_free(net);
    /* weights: 2^24 × 4 × 6 × 6 > 2^31 */
    o = good_opts();
    o.out_channels = (size_t)1 << 24;
    o.kernel_h = o.kernel_w = 6;
    expect_refused(&o, NNP_EINVAL, "weights exceed 2^31");
    /* output: 2^24 × 6 × 6 values per example > 2^28 */
    o.kernel_h = o.kernel_w = 1;
    expect_refused(&o, NNP_EINVAL, "exceeds 2^28 values per example");
}
END_TEST

/* ---- allocation failures ------------------------------------------------------------------ */

typedef struct alloc_run {
    float x[2 * 60], dx[2 * 60];
    int32_t labels[2];
    nnp_net *net;
    nnp_workspace *ws;
} alloc_run;

static nnp_status alloc_run_build(void *user, long k)
{
    (void)k;
    alloc_run *a = user;
    a->net = NULL;
    a->ws = NULL;
    nnp_status s = nnp_net_create(2, 6, 5, &a->net);
    if (s == NNP_OK) s = nnp_net_add_conv2d(a->net, &net_c1.o, NULL);
    if (s == NNP_OK) s = nnp_net_add_activation(a->net, NNP_LAYER_RELU, NULL);
    if (s == NNP_OK) s = nnp_net_add_conv2d(a->net, &net_c2.o, NULL);
    if (s == NNP_OK) s = nnp_net_add_dense(a->net, NET_CLASSES, NULL);
    if (s == NNP_OK) s = nnp_workspace_create(a->net, 1, &a->ws);
    if (s == NNP_OK) /* grows ws */
        s = nnp_grad_loss(a->net, a->ws, a->x, a->labels, 2, a->dx, NULL, NULL);
    if (s == NNP_OK) s = nnp_grad_loss(a->net, NULL, a->x, a->labels, 2, a->dx, NULL, NULL);
    return s;
}

static void alloc_free_build(void *user, long k, nnp_status s)
{
    (void)k;
    (void)s;
    alloc_run *a = user;
    nnp_workspace_free(a->ws);
    nnp_net_free(a->net);
}

START_TEST(allocation_failures_are_clean)
{
    alloc_run a = {.labels = {0, 3}};
    tu_fill_uniform(a.x, 2 * 60, 0.0f, 1.0f, 70);
    tu_alloc_counts c = tu_alloc_failures(&(tu_alloc_loop){
        .what = "conv net build + gradients", .max_k = 59, .check_message = 1,
        .run = alloc_run_build, .after = alloc_free_build, .user = &a});
    ck_assert_int_gt(c.failures, 10);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("conv");
    TCase *tc = tcase_create("conv");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, forward_matches_direct_convolution, 0, (int)N_CASES);
    tcase_add_loop_test(tc, input_gradient_matches_fd, 0, (int)N_CASES);
    tcase_add_loop_test(tc, param_gradient_and_accumulate_match_fd, 0, (int)N_CASES);
    tcase_add_test(tc, tiling_paths_are_exercised);
    tcase_add_loop_test(tc, large_cases_match_reference, 0, (int)N_BIG);
    tcase_add_test(tc, workspace_reused_across_batch_sizes);
    tcase_add_test(tc, net_gradients_match_fd);
    tcase_add_test(tc, concurrent_queries_match_serial);
    tcase_add_test(tc, opts_init_defaults_and_sizes);
    tcase_add_test(tc, every_field_is_validated);
    tcase_add_test(tc, null_and_size_rules);
    tcase_add_test(tc, size_limits);
    tcase_add_test(tc, allocation_failures_are_clean);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
