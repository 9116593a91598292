/* Maximum-activation search and input optimisation (include/nnprobe/maxact.h).
 *
 * The search is checked against a brute-force ranking computed here from nnp_net_forward_layer()
 * outputs: exactly for unit directions (the score ⟨φ, e_i⟩ is φ_i itself, so the float
 * ranking, ties included, is known), and up to float rounding of the GEMM for other
 * directions (scores within SCORE_TOL of the double-precision dot product, and no example left
 * out scoring above the last one kept by more than SCORE_TOL). The optimiser's gradient is
 * checked against central finite differences of an independent double-precision objective
 * (tests/refnet.c for ⟨φ_l(x), v⟩ and the penalties written out again below). */
#include <math.h>
#include <stdlib.h>

#include "core/core.h"
#include "maxact/internal.h"
#include "refnet.h"
#include "testutil.h"

#define SCORE_TOL 1e-5 /* relative to max(1, max |score|) */

/* Dense net on c×h×w inputs: hidden ReLU (many exact zeros: ties), tanh, logits. */
static nnp_net *relu_net(size_t c, size_t h, size_t w, uint64_t seed)
{
    nnp_net *net = NULL;
    ck_assert_ok(nnp_net_create(c, h, w, &net));
    ck_assert_ok(nnp_net_add_dense(net, 9, NULL));
    ck_assert_ok(nnp_net_add_activation(net, NNP_LAYER_RELU, NULL)); /* layer 2 */
    ck_assert_ok(nnp_net_add_dense(net, 6, NULL));
    ck_assert_ok(nnp_net_add_activation(net, NNP_LAYER_TANH, NULL)); /* layer 4 */
    ck_assert_ok(nnp_net_add_dense(net, 4, NULL));
    ck_assert_ok(nnp_net_init_params(net, seed));
    return net;
}

/* Small convnet: 1×6×6 -> conv 3×3×3 pad 1, relu, 2×2 max pool, dense 5. */
static nnp_net *conv_net(uint64_t seed)
{
    nnp_net *net = NULL;
    ck_assert_ok(nnp_net_create(1, 6, 6, &net));
    nnp_net_conv2d_opts co;
    ck_assert_ok(nnp_net_conv2d_opts_init(&co));
    co.out_channels = 3;
    co.kernel_h = co.kernel_w = 3;
    co.pad_top = co.pad_left = co.pad_bottom = co.pad_right = 1;
    ck_assert_ok(nnp_net_add_conv2d(net, &co, NULL));
    ck_assert_ok(nnp_net_add_activation(net, NNP_LAYER_RELU, NULL));
    nnp_net_pool2d_opts po;
    ck_assert_ok(nnp_net_pool2d_opts_init(&po));
    po.kernel_h = po.kernel_w = 2;
    po.stride_h = po.stride_w = 2;
    ck_assert_ok(nnp_net_add_maxpool2d(net, &po, NULL));
    ck_assert_ok(nnp_net_add_dense(net, 5, NULL));
    ck_assert_ok(nnp_net_init_params(net, seed));
    return net;
}

/* Random data set of n examples; examples 3 and 7 (when they exist) repeat examples 0 and 1, so
 * every direction has exact ties. */
static nnp_dataset *random_data(size_t n, size_t c, size_t h, size_t w, uint64_t seed)
{
    size_t d = c * h * w;
    float *x = malloc(n * d * sizeof *x);
    tu_fill_uniform(x, n * d, 0.0f, 1.0f, seed);
    if (n > 3) memcpy(x + 3 * d, x, d * sizeof *x);
    if (n > 7) memcpy(x + 7 * d, x + d, d * sizeof *x);
    nnp_dataset *ds = NULL;
    ck_assert_ok(nnp_dataset_create(n, c, h, w, x, NULL, &ds));
    free(x);
    return ds;
}

static size_t layer_size(const nnp_net *net, size_t layer)
{
    nnp_layer_info info = {.size = sizeof info};
    ck_assert_ok(nnp_net_layer_info(net, layer, &info));
    return info.output_size;
}

/* φ_layer of every example (N × dim floats, malloc'd), from nnp_net_forward_layer. */
static float *all_phi(const nnp_net *net, const nnp_dataset *ds, size_t layer)
{
    size_t n = nnp_dataset_count(ds), dim = layer_size(net, layer);
    float *phi = malloc(n * dim * sizeof *phi);
    ck_assert_ok(nnp_net_forward_layer(net, NULL, nnp_dataset_images(ds), n, layer, phi));
    return phi;
}

/* The brute-force ranking of sort_ctx's scores: top (larger first) or bottom, ties by index. */
typedef struct rank_item {
    double s;
    size_t i;
} rank_item;
static int cmp_top(const void *a, const void *b)
{
    const rank_item *x = a, *y = b;
    if (x->s != y->s) return x->s > y->s ? -1 : 1;
    return x->i < y->i ? -1 : 1;
}
static int cmp_bottom(const void *a, const void *b)
{
    const rank_item *x = a, *y = b;
    if (x->s != y->s) return x->s < y->s ? -1 : 1;
    return x->i < y->i ? -1 : 1;
}

/* Checks one list (k entries of direction row `v`) against brute force over phi. `exact`:
 * the direction is e_unit, whose float score is φ_unit exactly, and phi is bit-identical to the
 * search's activations: then the indices must equal the brute-force ranking, ties included. */
static void check_list(const float *phi, size_t n, size_t dim, const float *v, size_t k,
                       const size_t *idx, const float *score, int top, int exact, size_t unit)
{
    rank_item *r = malloc(n * sizeof *r);
    double smax = 1.0;
    for (size_t i = 0; i < n; i++) {
        double s = 0.0;
        if (exact) s = phi[i * dim + unit];
        else for (size_t j = 0; j < dim; j++) s += (double)phi[i * dim + j] * (double)v[j];
        r[i] = (rank_item){s, i};
        if (fabs(s) > smax) smax = fabs(s);
    }
    double *by_index = malloc(n * sizeof *by_index);
    for (size_t i = 0; i < n; i++) by_index[i] = r[i].s;
    qsort(r, n, sizeof *r, top ? cmp_top : cmp_bottom);
    const size_t found = k < n ? k : n;
    const double tol = SCORE_TOL * smax;
    unsigned char *kept = calloc(n, 1);
    for (size_t j = 0; j < found; j++) {
        ck_assert_msg(idx[j] < n, "entry %zu: index %zu out of range", j, idx[j]);
        ck_assert_msg(!kept[idx[j]], "index %zu listed twice", idx[j]);
        kept[idx[j]] = 1;
        if (exact) {
            ck_assert_msg(idx[j] == r[j].i, "%s entry %zu: index %zu, brute force %zu",
                          top ? "top" : "bottom", j, idx[j], r[j].i);
            ck_assert_msg(score[j] == (float)r[j].s, "entry %zu: score %g, expected %g", j,
                          (double)score[j], r[j].s);
        } else {
            ck_assert_msg(fabs(score[j] - by_index[idx[j]]) <= tol,
                          "entry %zu: score %.9g of example %zu, double %.9g", j, (double)score[j],
                          idx[j], by_index[idx[j]]);
        }
        if (j > 0) { /* ranking order, and the index rule for equal scores */
            if (top) ck_assert(score[j] <= score[j - 1]);
            else ck_assert(score[j] >= score[j - 1]);
            if (score[j] == score[j - 1]) ck_assert_msg(idx[j] > idx[j - 1], "tie order");
        }
    }
    /* nothing left out ranks clearly better than the last kept */
    const double last = by_index[idx[found - 1]];
    for (size_t i = 0; i < n; i++) {
        if (kept[i]) continue;
        if (top) ck_assert_msg(by_index[i] <= last + tol, "example %zu (%.9g) left out", i, by_index[i]);
        else ck_assert_msg(by_index[i] >= last - tol, "example %zu (%.9g) left out", i, by_index[i]);
    }
    for (size_t j = found; j < k; j++) {
        ck_assert_uint_eq(idx[j], SIZE_MAX);
        ck_assert(isnan(score[j]));
    }
    free(kept);
    free(by_index);
    free(r);
}

/* Top and bottom lists for a mix of unit, random and arbitrary directions, several layers,
 * batch sizes that do and do not divide N, k from 1 to beyond N. */
START_TEST(search_matches_brute_force)
{
    const int conv = _i >= 2;
    nnp_net *net = conv ? conv_net(30 + (uint64_t)_i) : relu_net(1, 2, 3, 30 + (uint64_t)_i);
    const size_t c = 1, h = conv ? 6 : 2, w = conv ? 6 : 3, N = 37;
    nnp_dataset *ds = random_data(N, c, h, w, 50 + (uint64_t)_i);
    const size_t ks[] = {1, 4, N, N + 3};
    const size_t batches[] = {5, 37, 256};
    for (size_t layer = 0; layer < nnp_net_layer_count(net); layer++) {
        const size_t dim = layer_size(net, layer);
        float *phi = all_phi(net, ds, layer);
        const size_t n_dir = 5;
        float *v = malloc(n_dir * dim * sizeof *v);
        ck_assert_ok(nnp_maxact_directions_unit(dim, 0, v));
        ck_assert_ok(nnp_maxact_directions_unit(dim, dim - 1, v + dim));
        ck_assert_ok(nnp_maxact_directions_random(dim, 2, 7 + layer, v + 2 * dim));
        tu_fill_uniform(v + 4 * dim, dim, -3.0f, 3.0f, 99 + layer); /* caller-given, not unit */
        for (size_t ki = 0; ki < 4; ki++) {
            const size_t k = ks[ki];
            size_t *ti = malloc(n_dir * k * sizeof *ti), *bi = malloc(n_dir * k * sizeof *bi);
            float *ts = malloc(n_dir * k * sizeof *ts), *bs = malloc(n_dir * k * sizeof *bs);
            nnp_maxact_search_opts o;
            ck_assert_ok(nnp_maxact_search_opts_init(&o));
            o.batch_size = batches[(layer + ki) % 3];
            size_t found = 0;
            ck_assert_ok(nnp_maxact_search(net, NULL, ds, layer, v, n_dir, k, &o, ti, ts, bi, bs, &found));
            ck_assert_uint_eq(found, k < N ? k : N);
            /* The exact comparison needs the search's forward pass to be the brute force's: one
             * batch of all N (small batches take the GEMV path, docs/architecture.md). */
            const int one_batch = o.batch_size >= N;
            for (size_t d = 0; d < n_dir; d++) {
                int exact = d < 2 && one_batch;
                size_t unit = d == 0 ? 0 : dim - 1;
                check_list(phi, N, dim, v + d * dim, k, ti + d * k, ts + d * k, 1, exact, unit);
                check_list(phi, N, dim, v + d * dim, k, bi + d * k, bs + d * k, 0, exact, unit);
            }
            free(ti);
            free(bi);
            free(ts);
            free(bs);
        }
        free(v);
        free(phi);
    }
    nnp_dataset_free(ds);
    nnp_net_free(net);
}
END_TEST

/* All directions in one pass give each direction the lists it gets alone; optional outputs
 * may be NULL. */
START_TEST(several_directions_equal_one_at_a_time)
{
    nnp_net *net = relu_net(1, 4, 4, 61);
    nnp_dataset *ds = random_data(200, 1, 4, 4, 62);
    const size_t layer = 4, dim = layer_size(net, layer), n_dir = 12, k = 9;
    float *v = malloc(n_dir * dim * sizeof *v);
    ck_assert_ok(nnp_maxact_directions_random(dim, n_dir, 5, v));
    size_t ti[12 * 9], bi[12 * 9], one_i[9], found;
    float ts[12 * 9], bs[12 * 9], one_s[9];
    ck_assert_ok(nnp_maxact_search(net, NULL, ds, layer, v, n_dir, k, NULL, ti, ts, bi, bs, &found));
    /* a caller's workspace (smaller than a batch: it grows) gives the same lists */
    nnp_workspace *ws = NULL;
    ck_assert_ok(nnp_workspace_create(net, 3, &ws));
    size_t wi[12 * 9];
    float wsc[12 * 9];
    ck_assert_ok(nnp_maxact_search(net, ws, ds, layer, v, n_dir, k, NULL, wi, wsc, NULL, NULL, NULL));
    ck_assert_mem_eq(wi, ti, sizeof wi);
    ck_assert_mem_eq(wsc, ts, sizeof wsc);
    nnp_workspace_free(ws);
    for (size_t d = 0; d < n_dir; d++) {
        ck_assert_ok(nnp_maxact_search(net, NULL, ds, layer, v + d * dim, 1, k, NULL, one_i, one_s, NULL, NULL, NULL));
        for (size_t j = 0; j < k; j++) {
            ck_assert_uint_eq(one_i[j], ti[d * k + j]);
            ck_assert_float_eq_tol(one_s[j], ts[d * k + j], 1e-5f);
        }
        ck_assert_ok(nnp_maxact_search(net, NULL, ds, layer, v + d * dim, 1, k, NULL, NULL, NULL, one_i, NULL, NULL));
        for (size_t j = 0; j < k; j++) ck_assert_uint_eq(one_i[j], bi[d * k + j]);
    }
    free(v);
    nnp_dataset_free(ds);
    nnp_net_free(net);
}
END_TEST

START_TEST(random_directions_unit_norm_and_deterministic)
{
    const size_t dim = 257, count = 6;
    float a[6 * 257], b[6 * 257], c[2 * 257], e[6 * 257];
    ck_assert_ok(nnp_maxact_directions_random(dim, count, 42, a));
    ck_assert_ok(nnp_maxact_directions_random(dim, count, 42, b));
    ck_assert_mem_eq(a, b, sizeof a);
    ck_assert_ok(nnp_maxact_directions_random(dim, 2, 42, c)); /* a prefix of the same stream */
    ck_assert_mem_eq(a, c, sizeof c);
    ck_assert_ok(nnp_maxact_directions_random(dim, count, 43, e));
    ck_assert(memcmp(a, e, sizeof a) != 0);
    for (size_t d = 0; d < count; d++) {
        double n2 = 0.0;
        for (size_t j = 0; j < dim; j++) n2 += (double)a[d * dim + j] * a[d * dim + j];
        ck_assert_double_eq_tol(n2, 1.0, 1e-6);
        for (size_t d2 = 0; d2 < d; d2++) ck_assert(memcmp(a + d * dim, a + d2 * dim, dim * 4) != 0);
    }
    float u[5];
    ck_assert_ok(nnp_maxact_directions_unit(5, 3, u));
    for (size_t j = 0; j < 5; j++) ck_assert(u[j] == (j == 3 ? 1.0f : 0.0f));
    ck_assert_status(nnp_maxact_directions_unit(5, 5, u), NNP_EINVAL);
    ck_assert_error_has("unit 5");
    ck_assert_status(nnp_maxact_directions_unit(0, 0, u), NNP_EINVAL);
    ck_assert_status(nnp_maxact_directions_random(5, 0, 1, u), NNP_EINVAL);
    ck_assert_error_has("count");
    ck_assert_status(nnp_maxact_directions_random(0, 1, 1, u), NNP_EINVAL);
    ck_assert_status(nnp_maxact_directions_random(5, 1, 1, NULL), NNP_EINVAL);
}
END_TEST

/* ---- the optimiser's objective, written out again in double ---- */

static double ref_penalty(const double *x, size_t c, size_t h, size_t w, double l2, double tv,
                          double eps)
{
    double p = 0.0;
    for (size_t j = 0; j < c * h * w; j++) p += l2 * x[j] * x[j];
    for (size_t ch = 0; ch < c; ch++)
        for (size_t i = 0; i < h; i++)
            for (size_t j = 0; j < w; j++) {
                const double *xc = x + ch * h * w;
                double dv = i + 1 < h ? xc[(i + 1) * w + j] - xc[i * w + j] : 0.0;
                double dh = j + 1 < w ? xc[i * w + j + 1] - xc[i * w + j] : 0.0;
                p += tv * (sqrt(dv * dv + dh * dh + eps * eps) - eps);
            }
    return p;
}

typedef struct pen_ctx {
    size_t c, h, w;
    double l2, tv, eps;
    const nnp_net *net;
    size_t layer;
    const float *v;
} pen_ctx;

static double pen_fn(void *p, const double *x)
{
    pen_ctx *q = p;
    return ref_penalty(x, q->c, q->h, q->w, q->l2, q->tv, q->eps);
}

static double objective_fn(void *p, const double *x)
{
    pen_ctx *q = p;
    return ref_unit_dot(q->net, x, q->layer, 0, q->v) - pen_fn(p, x);
}

START_TEST(penalty_matches_finite_differences)
{
    const size_t c = 2, h = 3, w = 4, d = c * h * w;
    float x[24], g[24];
    double xd[24], fd[24];
    tu_fill_uniform(x, d, 0.0f, 1.0f, 70 + (uint64_t)_i);
    if (_i == 1) x[5] = x[6] = x[10] = x[9]; /* a flat patch: TV's smoothing at work */
    for (size_t j = 0; j < d; j++) xd[j] = x[j];
    pen_ctx q = {.c = c, .h = h, .w = w, .l2 = 0.3, .tv = 0.7, .eps = 0.05};
    double p = nnpi_maxact_penalty(x, c, h, w, q.l2, q.tv, q.eps, g);
    ck_assert_double_eq_tol(p, pen_fn(&q, xd), 1e-9);
    ref_fd_grad(pen_fn, &q, xd, d, 1e-6, fd);
    double err = ref_rel_err(g, fd, d);
    ck_assert_msg(err < 2e-5, "penalty gradient error %g", err);
    /* zero weights: zero penalty and gradient */
    ck_assert_double_eq(nnpi_maxact_penalty(x, c, h, w, 0.0, 0.0, 0.05, g), 0.0);
    for (size_t j = 0; j < d; j++) ck_assert(g[j] == 0.0f);
}
END_TEST

/* One step from an interior start moves x by exactly step_size · g / rms(g), g the gradient
 * of the whole objective, found here by finite differences of the double reference. */
START_TEST(one_step_follows_objective_gradient)
{
    nnp_net *net = NULL;
    ck_assert_ok(nnp_net_create(1, 3, 4, &net));
    ck_assert_ok(nnp_net_add_dense(net, 7, NULL));
    ck_assert_ok(nnp_net_add_activation(net, NNP_LAYER_TANH, NULL));
    ck_assert_ok(nnp_net_add_dense(net, 5, NULL));
    ck_assert_ok(nnp_net_init_params(net, 81));
    const size_t d = 12, layer = 3, n_dir = 2, dim = 5;
    float v[2 * 5], start[2 * 12], x[2 * 12], score[2], obj[2];
    tu_fill_uniform(v, n_dir * dim, -1.0f, 1.0f, 82);
    tu_fill_uniform(start, n_dir * d, 0.3f, 0.7f, 83);
    nnp_maxact_optimise_opts o;
    ck_assert_ok(nnp_maxact_optimise_opts_init(&o));
    o.steps = 1;
    o.step_size = 1e-3;
    o.l2 = 0.2;
    o.tv = 0.1;
    o.tv_eps = 0.05;
    o.start = start;
    ck_assert_ok(nnp_maxact_optimise(net, NULL, layer, v, n_dir, &o, x, score, obj));
    for (size_t e = 0; e < n_dir; e++) {
        pen_ctx q = {.c = 1, .h = 3, .w = 4, .l2 = o.l2, .tv = o.tv, .eps = o.tv_eps, .net = net,
                     .layer = layer, .v = v + e * dim};
        double xd[12], g[12], rms = 0.0;
        for (size_t j = 0; j < d; j++) xd[j] = start[e * d + j];
        ref_fd_grad(objective_fn, &q, xd, d, 1e-6, g);
        for (size_t j = 0; j < d; j++) rms += g[j] * g[j];
        rms = sqrt(rms / (double)d);
        double step[12];
        float got[12];
        for (size_t j = 0; j < d; j++) {
            step[j] = g[j] / rms; /* expected (x1 − x0) / step_size */
            got[j] = (float)(((double)x[e * d + j] - start[e * d + j]) / o.step_size);
        }
        double err = ref_rel_err(got, step, d);
        ck_assert_msg(err < 2e-3, "direction %zu: step error %g", e, err); /* float x: 1e-7/1e-3 */
        /* score and objective at the returned x agree with the reference */
        for (size_t j = 0; j < d; j++) xd[j] = x[e * d + j];
        double dot = ref_unit_dot(net, xd, layer, 0, v + e * dim);
        ck_assert_double_eq_tol(score[e], dot, 1e-5);
        ck_assert_double_eq_tol(obj[e], dot - pen_fn(&q, xd), 1e-5);
    }
    nnp_net_free(net);
}
END_TEST

/* Many steps raise the objective, keep x in [0,1]; jitter runs are deterministic per seed. */
START_TEST(optimiser_climbs_and_stays_in_box)
{
    nnp_net *net = relu_net(1, 5, 5, 91);
    const size_t d = 25, layer = 4, dim = 6, n_dir = 3;
    float v[3 * 6], x0[3 * 25], x[3 * 25], x2[3 * 25], obj[3], obj0[3];
    ck_assert_ok(nnp_maxact_directions_random(dim, n_dir, 92, v));
    nnp_maxact_optimise_opts o;
    ck_assert_ok(nnp_maxact_optimise_opts_init(&o));
    o.l2 = 0.01;
    o.tv = 0.01;
    o.jitter = (size_t)_i; /* 0, 1 or 2 pixels */
    o.steps = 1;
    o.step_size = 1e-12; /* the start point's objective (the start is drawn from the seed) */
    ck_assert_ok(nnp_maxact_optimise(net, NULL, layer, v, n_dir, &o, x0, NULL, obj0));
    o.steps = 150;
    o.step_size = 0.02;
    ck_assert_ok(nnp_maxact_optimise(net, NULL, layer, v, n_dir, &o, x, NULL, obj));
    for (size_t i = 0; i < n_dir * d; i++) ck_assert(x[i] >= 0.0f && x[i] <= 1.0f);
    for (size_t e = 0; e < n_dir; e++)
        ck_assert_msg(obj[e] > obj0[e] + 0.05f, "direction %zu: objective %g -> %g", e,
                      (double)obj0[e], (double)obj[e]);
    nnp_workspace *ws = NULL;
    ck_assert_ok(nnp_workspace_create(net, 1, &ws));
    ck_assert_ok(nnp_maxact_optimise(net, ws, layer, v, n_dir, &o, x2, NULL, NULL));
    ck_assert_mem_eq(x, x2, sizeof x);
    nnp_workspace_free(ws);
    o.seed = 2;
    ck_assert_ok(nnp_maxact_optimise(net, NULL, layer, v, n_dir, &o, x2, NULL, NULL));
    ck_assert(memcmp(x, x2, sizeof x) != 0);
    nnp_net_free(net);
}
END_TEST

/* ---- cancellation ---- */

typedef struct cancel_ctx {
    uint64_t calls, stop_at, last_done, total;
    int monotone;
} cancel_ctx;

static int cancel_cb(uint64_t done, uint64_t total, void *user)
{
    cancel_ctx *c = user;
    c->calls++;
    if (done <= c->last_done) c->monotone = 0;
    c->last_done = done;
    c->total = total;
    return c->stop_at && c->calls >= c->stop_at;
}

START_TEST(cancellation)
{
    nnp_net *net = relu_net(1, 2, 3, 101);
    nnp_dataset *ds = random_data(50, 1, 2, 3, 102);
    float v[9];
    ck_assert_ok(nnp_maxact_directions_unit(9, 2, v));
    size_t idx[4] = {7, 7, 7, 7}, found = 77;
    float sc[4] = {7, 7, 7, 7};
    cancel_ctx c = {.stop_at = 0, .monotone = 1};
    nnp_maxact_search_opts so;
    ck_assert_ok(nnp_maxact_search_opts_init(&so));
    so.batch_size = 8;
    so.progress = cancel_cb;
    so.progress_user = &c;
    ck_assert_ok(nnp_maxact_search(net, NULL, ds, 2, v, 1, 4, &so, idx, sc, NULL, NULL, &found));
    ck_assert_uint_eq(c.calls, 7); /* ceil(50 / 8) batches */
    ck_assert_uint_eq(c.last_done, 50);
    ck_assert_uint_eq(c.total, 50);
    ck_assert(c.monotone);
    size_t idx2[4] = {7, 7, 7, 7};
    c = (cancel_ctx){.stop_at = 2, .monotone = 1};
    found = 77;
    ck_assert_status(nnp_maxact_search(net, NULL, ds, 2, v, 1, 4, &so, idx2, sc, NULL, NULL, &found),
                     NNP_ECANCELLED);
    ck_assert_uint_eq(c.calls, 2);
    for (size_t j = 0; j < 4; j++) ck_assert_uint_eq(idx2[j], 7); /* untouched */
    ck_assert_uint_eq(found, 77);

    /* the optimiser stops after the step whose callback said so; x is that step's iterate */
    float dir[6], x3[25], xc[25];
    nnp_net *net2 = relu_net(1, 5, 5, 103);
    ck_assert_ok(nnp_maxact_directions_random(6, 1, 1, dir));
    nnp_maxact_optimise_opts oo;
    ck_assert_ok(nnp_maxact_optimise_opts_init(&oo));
    oo.steps = 3;
    oo.jitter = 1;
    ck_assert_ok(nnp_maxact_optimise(net2, NULL, 4, dir, 1, &oo, x3, NULL, NULL));
    oo.steps = 10;
    c = (cancel_ctx){.stop_at = 3, .monotone = 1};
    oo.progress = cancel_cb;
    oo.progress_user = &c;
    ck_assert_status(nnp_maxact_optimise(net2, NULL, 4, dir, 1, &oo, xc, NULL, NULL), NNP_ECANCELLED);
    ck_assert_error_has("step 3 of 10");
    ck_assert_uint_eq(c.total, 10);
    ck_assert_mem_eq(x3, xc, sizeof xc);
    nnp_net_free(net2);
    nnp_dataset_free(ds);
    nnp_net_free(net);
}
END_TEST

/* A gradient that overflows is NNP_ENUMERIC, and x stays at the last completed step. */
START_TEST(non_finite_gradient)
{
    nnp_net *net = NULL;
    ck_assert_ok(nnp_net_create(1, 2, 2, &net));
    ck_assert_ok(nnp_net_add_dense(net, 3, NULL));
    ck_assert_ok(nnp_net_add_dense(net, 2, NULL));
    float w1[12], w2[6];
    for (size_t i = 0; i < 12; i++) w1[i] = 1e30f;
    for (size_t i = 0; i < 6; i++) w2[i] = 1e30f;
    ck_assert_ok(nnp_net_set_params(net, 1, w1, NULL));
    ck_assert_ok(nnp_net_set_params(net, 2, w2, NULL));
    float v[2] = {1.0f, 0.5f}, start[4] = {0.1f, 0.2f, 0.3f, 0.4f}, x[4];
    nnp_maxact_optimise_opts o;
    ck_assert_ok(nnp_maxact_optimise_opts_init(&o));
    o.start = start;
    ck_assert_status(nnp_maxact_optimise(net, NULL, 2, v, 1, &o, x, NULL, NULL), NNP_ENUMERIC);
    ck_assert_error_has("step 1");
    ck_assert_mem_eq(x, start, sizeof x);
    nnp_net_free(net);
}
END_TEST

/* ---- misuse ---- */

START_TEST(bad_input_is_refused)
{
    nnp_net *net = relu_net(1, 2, 3, 111);
    nnp_dataset *ds = random_data(10, 1, 2, 3, 112), *other = random_data(10, 1, 3, 3, 113);
    float v[2 * 9];
    ck_assert_ok(nnp_maxact_directions_random(9, 2, 1, v));
    size_t idx[6];
    float sc[6];
#define SEARCH_FAILS(want, needle, net_, ...)                             \
    do {                                                                  \
        ck_assert_status(nnp_maxact_search(net_, NULL, __VA_ARGS__), want); \
        ck_assert_error_has(needle);                                      \
    } while (0)
    SEARCH_FAILS(NNP_EINVAL, "net", NULL, ds, 2, v, 2, 3, NULL, idx, sc, NULL, NULL, NULL);
    SEARCH_FAILS(NNP_EINVAL, "data", net, NULL, 2, v, 2, 3, NULL, idx, sc, NULL, NULL, NULL);
    SEARCH_FAILS(NNP_EINVAL, "directions", net, ds, 2, NULL, 2, 3, NULL, idx, sc, NULL, NULL, NULL);
    SEARCH_FAILS(NNP_EINVAL, "layer 6", net, ds, 6, v, 2, 3, NULL, idx, sc, NULL, NULL, NULL);
    SEARCH_FAILS(NNP_EINVAL, "n_dir", net, ds, 2, v, 0, 3, NULL, idx, sc, NULL, NULL, NULL);
    SEARCH_FAILS(NNP_EINVAL, "k is 0", net, ds, 2, v, 2, 0, NULL, idx, sc, NULL, NULL, NULL);
    SEARCH_FAILS(NNP_EINVAL, "outputs", net, ds, 2, v, 2, 3, NULL, NULL, NULL, NULL, NULL, NULL);
    SEARCH_FAILS(NNP_EINVAL, "values", net, other, 2, v, 2, 3, NULL, idx, sc, NULL, NULL, NULL);
    nnp_net *net2 = relu_net(1, 2, 3, 114);
    nnp_workspace *ws2 = NULL;
    ck_assert_ok(nnp_workspace_create(net2, 4, &ws2));
    ck_assert_status(nnp_maxact_search(net, ws2, ds, 2, v, 2, 3, NULL, idx, sc, NULL, NULL, NULL),
                     NNP_EINVAL);
    ck_assert_error_has("another net");
    float xo[2 * 6], d6[2 * 6];
    ck_assert_ok(nnp_maxact_directions_random(6, 2, 3, d6));
    ck_assert_status(nnp_maxact_optimise(net, ws2, 4, d6, 2, NULL, xo, NULL, NULL), NNP_EINVAL);
    ck_assert_error_has("another net");
    nnp_workspace_free(ws2);
    nnp_net_free(net2);
    v[9 + 4] = NAN;
    SEARCH_FAILS(NNP_EINVAL, "directions[1][4]", net, ds, 2, v, 2, 3, NULL, idx, sc, NULL, NULL, NULL);
    v[9 + 4] = INFINITY;
    SEARCH_FAILS(NNP_EINVAL, "directions[1][4]", net, ds, 2, v, 2, 3, NULL, idx, sc, NULL, NULL, NULL);
    v[9 + 4] = 0.5f;
    nnp_maxact_search_opts so;
    ck_assert_ok(nnp_maxact_search_opts_init(&so));
    so.batch_size = 0;
    SEARCH_FAILS(NNP_EINVAL, "opts.batch_size", net, ds, 2, v, 2, 3, &so, idx, sc, NULL, NULL, NULL);
    so.size = 0;
    SEARCH_FAILS(NNP_EINVAL, "size", net, ds, 2, v, 2, 3, &so, idx, sc, NULL, NULL, NULL);
    struct { nnp_maxact_search_opts o; size_t extra; } big;
    ck_assert_ok(nnp_maxact_search_opts_init_sized(&big.o, sizeof big));
    ck_assert_uint_eq(big.extra, 0);
    ck_assert_ok(nnp_maxact_search(net, NULL, ds, 2, v, 2, 3, &big.o, idx, sc, NULL, NULL, NULL));
    big.extra = 1;
    SEARCH_FAILS(NNP_EVERSION, "larger", net, ds, 2, v, 2, 3, &big.o, idx, sc, NULL, NULL, NULL);
    ck_assert_status(nnp_maxact_search_opts_init_sized(&so, 2), NNP_EINVAL);
    ck_assert_status(nnp_maxact_search_opts_init_sized(NULL, sizeof so), NNP_EINVAL);

    float x[2 * 6];
    float dir4[2 * 6];
    ck_assert_ok(nnp_maxact_directions_random(6, 2, 3, dir4));
    nnp_maxact_optimise_opts o;
#define OPT_FAILS(field, set)                                                              \
    do {                                                                                   \
        ck_assert_ok(nnp_maxact_optimise_opts_init(&o));                                   \
        set;                                                                               \
        ck_assert_status(nnp_maxact_optimise(net, NULL, 4, dir4, 2, &o, x, NULL, NULL), NNP_EINVAL); \
        ck_assert_error_has(field);                                                        \
    } while (0)
    OPT_FAILS("opts.steps", o.steps = 0);
    OPT_FAILS("opts.step_size", o.step_size = 0);
    OPT_FAILS("opts.step_size", o.step_size = NAN);
    OPT_FAILS("opts.l2", o.l2 = -1);
    OPT_FAILS("opts.tv", o.tv = -0.1);
    OPT_FAILS("opts.tv", o.tv = INFINITY);
    OPT_FAILS("opts.tv_eps", o.tv_eps = 0);
    OPT_FAILS("opts.jitter", o.jitter = 2); /* input is 2×3 */
    float bad_start[12] = {0};
    bad_start[8] = 1.5f;
    OPT_FAILS("opts.start[8]", o.start = bad_start);
    bad_start[8] = NAN;
    OPT_FAILS("opts.start[8]", o.start = bad_start);
    ck_assert_ok(nnp_maxact_optimise_opts_init(&o));
    o.jitter = 1;
    o.steps = 2;
    ck_assert_ok(nnp_maxact_optimise(net, NULL, 4, dir4, 2, &o, x, NULL, NULL));
    ck_assert_status(nnp_maxact_optimise(net, NULL, 0, dir4, 2, NULL, x, NULL, NULL), NNP_EINVAL);
    ck_assert_error_has("layer 0");
    ck_assert_status(nnp_maxact_optimise(net, NULL, 6, dir4, 2, NULL, x, NULL, NULL), NNP_EINVAL);
    ck_assert_status(nnp_maxact_optimise(net, NULL, 4, dir4, 0, NULL, x, NULL, NULL), NNP_EINVAL);
    ck_assert_error_has("n_dir");
    ck_assert_status(nnp_maxact_optimise(NULL, NULL, 4, dir4, 2, NULL, x, NULL, NULL), NNP_EINVAL);
    ck_assert_status(nnp_maxact_optimise(net, NULL, 4, NULL, 2, NULL, x, NULL, NULL), NNP_EINVAL);
    ck_assert_status(nnp_maxact_optimise(net, NULL, 4, dir4, 2, NULL, NULL, NULL, NULL), NNP_EINVAL);
    dir4[7] = NAN;
    ck_assert_status(nnp_maxact_optimise(net, NULL, 4, dir4, 2, NULL, x, NULL, NULL), NNP_EINVAL);
    ck_assert_error_has("directions[1][1]");
    nnp_dataset_free(ds);
    nnp_dataset_free(other);
    nnp_net_free(net);
}
END_TEST

typedef struct alloc_run {
    const nnp_net *net;
    const nnp_dataset *ds;
    const float *v;
    float *x;
    nnp_maxact_optimise_opts o;
    size_t idx[6];
    int search_ok, opt_ok; /* each has succeeded once */
} alloc_run;

/* Search, then optimise, each with its own n-th allocation failing; NNP_OK once both have
 * succeeded (in this run or an earlier one), as long as both keep running. */
static nnp_status alloc_run_both(void *user, long n)
{
    alloc_run *a = user;
    nnp_status s = nnp_maxact_search(a->net, NULL, a->ds, 2, a->v, 2, 3, NULL, a->idx, NULL, NULL,
                                     NULL, NULL);
    nnpi_fail_alloc_after(0);
    ck_assert(s == NNP_OK || s == NNP_ENOMEM);
    a->search_ok |= s == NNP_OK;
    nnpi_fail_alloc_after(n);
    s = nnp_maxact_optimise(a->net, NULL, 2, a->v, 2, &a->o, a->x, NULL, NULL);
    nnpi_fail_alloc_after(0);
    ck_assert(s == NNP_OK || s == NNP_ENOMEM);
    a->opt_ok |= s == NNP_OK;
    return a->search_ok && a->opt_ok ? NNP_OK : NNP_ENOMEM;
}

/* Every allocation failure is reported as NNP_ENOMEM, without leaks (run under ASan/valgrind). */
START_TEST(allocation_failures)
{
    nnp_net *net = relu_net(1, 3, 3, 121);
    nnp_dataset *ds = random_data(20, 1, 3, 3, 122);
    float v[2 * 9], x[2 * 9];
    ck_assert_ok(nnp_maxact_directions_random(9, 2, 1, v));
    alloc_run a = {net, ds, v, x, {0}, {0}, 0, 0};
    ck_assert_ok(nnp_maxact_optimise_opts_init(&a.o));
    a.o.jitter = 1;
    a.o.steps = 2;
    tu_alloc_failures(&(tu_alloc_loop){
        .what = "search and optimise", .max_k = 199, .until_ok = 1, .run = alloc_run_both,
        .user = &a});
    ck_assert(a.search_ok && a.opt_ok);
    nnp_dataset_free(ds);
    nnp_net_free(net);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("maxact");
    TCase *tc = tcase_create("search");
    tcase_add_loop_test(tc, search_matches_brute_force, 0, 4);
    tcase_add_test(tc, several_directions_equal_one_at_a_time);
    tcase_add_test(tc, random_directions_unit_norm_and_deterministic);
    suite_add_tcase(s, tc);
    TCase *op = tcase_create("optimise");
    tcase_add_loop_test(op, penalty_matches_finite_differences, 0, 2);
    tcase_add_test(op, one_step_follows_objective_gradient);
    tcase_add_loop_test(op, optimiser_climbs_and_stays_in_box, 0, 3);
    suite_add_tcase(s, op);
    TCase *api = tcase_create("api");
    tcase_add_test(api, cancellation);
    tcase_add_test(api, non_finite_gradient);
    tcase_add_test(api, bad_input_is_refused);
    tcase_add_test(api, allocation_failures);
    suite_add_tcase(s, api);
    return tu_run(s);
}
