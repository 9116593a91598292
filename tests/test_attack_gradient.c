/* The attacks that followed the paper: FGSM, PGD (L∞, L2), DeepFool, Carlini–Wagner L2.
 *
 * Most tests run on a small net trained here (8-16-sigmoid-4 on four separable Gaussian blobs
 * in [0,1]^8); the DeepFool and C&W distance checks run on an affine net (one dense layer),
 * where the smallest L2 perturbation that changes the label has a closed form. Every result
 * is re-checked independently: labels by the test's own forward passes (one example at a time),
 * distortions recomputed from x_adv, the box and the ε-ball.
 *
 * Batch sizes: the test sets have 12 examples, and up to 12 examples the dense layers use one
 * GEMV per example (lib/net/layer_dense.c), so batched and one-at-a-time runs do the same
 * arithmetic per example and must agree exactly (compared with a 1e-6 tolerance all the same).
 * Larger batches switch to GEMM, whose rounding may differ in the last bits; an iterative
 * attack can then take a different path, so no equality is claimed there. */
#include <math.h>
#include <stdlib.h>

#include "core/core.h"
#include "testutil.h"

enum { D = 8, K = 4, N = 12 };

/* Four Gaussian blobs at corners of the box (as tests/test_train.c): centres 0.2/0.8 per
 * coordinate by class bits, noise ±0.14. */
static nnp_dataset *blobs(size_t n, uint64_t seed, float *xs, int32_t *ys)
{
    float *x = malloc(n * D * sizeof(float)), noise[D];
    int32_t *y = malloc(n * sizeof(int32_t));
    for (size_t i = 0; i < n; i++) {
        int32_t c = (int32_t)(i % K);
        y[i] = c;
        tu_fill_uniform(noise, D, -0.14f, 0.14f, seed * 1000003u + i);
        for (int j = 0; j < D; j++) x[i * D + j] = (((c >> (j % 2)) & 1) ? 0.8f : 0.2f) + noise[j];
    }
    nnp_dataset *ds = NULL;
    ck_assert_ok(nnp_dataset_create(n, 1, 1, D, x, y, &ds));
    if (xs) memcpy(xs, x, n * D * sizeof(float));
    if (ys) memcpy(ys, y, n * sizeof(int32_t));
    free(x);
    free(y);
    return ds;
}

/* The trained net and a test set of N examples it classifies correctly. */
typedef struct fixture {
    nnp_net *net;
    float x[N * D];
    int32_t y[N];
    int32_t t[N]; /* targets ≠ y */
} fixture;

static int32_t classify1(const nnp_net *net, const float *x)
{
    float z[K];
    ck_assert_ok(nnp_net_forward(net, NULL, x, 1, z));
    int32_t b = 0;
    for (int j = 1; j < K; j++)
        if (z[j] > z[b]) b = j;
    return b;
}

static void fixture_make(fixture *f)
{
    nnp_dataset *train = blobs(400, 1, NULL, NULL);
    ck_assert_ok(nnp_net_create(1, 1, D, &f->net));
    ck_assert_ok(nnp_net_add_dense(f->net, 16, NULL));
    ck_assert_ok(nnp_net_add_activation(f->net, NNP_LAYER_SIGMOID, NULL));
    ck_assert_ok(nnp_net_add_dense(f->net, K, NULL));
    ck_assert_ok(nnp_net_init_params(f->net, 5));
    nnp_train_opts o;
    ck_assert_ok(nnp_train_opts_init(&o));
    o.epochs = 30;
    o.batch_size = 20;
    ck_assert_ok(nnp_train(f->net, train, &o, NULL));
    nnp_dataset_free(train);
    nnp_dataset *test = blobs(N, 2, f->x, f->y);
    nnp_dataset_free(test);
    for (size_t i = 0; i < N; i++) {
        ck_assert_int_eq(classify1(f->net, f->x + i * D), f->y[i]); /* attacks start clean */
        f->t[i] = (f->y[i] + 1 + (int32_t)(i % 3)) % K;
    }
}

/* Checks every result against x_adv independently of the library's bookkeeping; returns the
 * number of successes. */
static size_t check_results(const nnp_net *net, const float *x, const int32_t *y,
                            const int32_t *t, size_t n, const float *x_adv,
                            const nnp_attack_result *r)
{
    size_t ok = 0;
    for (size_t i = 0; i < n; i++) {
        const float *a = x_adv + i * D, *x0 = x + i * D;
        double ss = 0, mx = 0;
        for (size_t j = 0; j < D; j++) {
            ck_assert_msg(a[j] >= 0.0f && a[j] <= 1.0f, "x_adv[%zu][%zu] = %g outside [0,1]", i,
                          j, (double)a[j]);
            double v = (double)a[j] - (double)x0[j];
            ss += v * v;
            mx = fmax(mx, fabs(v));
        }
        ck_assert_double_eq_tol(r[i].l2, sqrt(ss), 1e-9);
        ck_assert_double_eq_tol(r[i].rms, sqrt(ss / D), 1e-9);
        ck_assert_double_eq_tol(r[i].linf, mx, 1e-9);
        int32_t lab = classify1(net, a);
        ck_assert_int_eq(r[i].label, lab);
        ck_assert_int_eq(r[i].clean_label, classify1(net, x0));
        ck_assert_int_eq(r[i].target, t ? t[i] : -1);
        int goal = t ? lab == t[i] : lab != y[i];
        ck_assert_int_eq(r[i].success, goal);
        ok += (size_t)goal;
    }
    return ok;
}

static void free_fixture(fixture *f) { nnp_net_free(f->net); }

/* ------------------------------------------------------------------------------------------ */
/* FGSM */

/* x_adv is the formula clip(x ± ε·sign(g)) with g from nnp_grad_loss (true label ascended,
 * target descended). Where |g| is within float noise of 0 the sign may legitimately differ
 * between the two gradient paths, so there only |x_adv − x| ≤ ε is required. */
START_TEST(fgsm_is_the_formula)
{
    const int targeted = _i;
    fixture f;
    fixture_make(&f);
    const float eps = 0.3f;
    float dx[N * D], x_adv[N * D];
    ck_assert_ok(nnp_grad_loss(f.net, NULL, f.x, targeted ? f.t : f.y, N, dx, NULL, NULL));
    nnp_attack_fgsm_opts o;
    ck_assert_ok(nnp_attack_fgsm_opts_init(&o));
    o.epsilon = eps;
    nnp_attack_result r[N];
    ck_assert_ok(nnp_attack_fgsm(f.net, f.x, f.y, targeted ? f.t : NULL, N, &o, x_adv, r));
    for (size_t i = 0; i < N; i++) {
        double gmax = 0;
        for (size_t j = 0; j < D; j++) gmax = fmax(gmax, fabs(dx[i * D + j]));
        for (size_t j = 0; j < D; j++) {
            float g = dx[i * D + j], s = g > 0 ? 1.0f : g < 0 ? -1.0f : 0.0f;
            if (targeted) s = -s;
            float v = f.x[i * D + j] + eps * s;
            v = v < 0 ? 0 : v > 1 ? 1 : v;
            if (fabs(g) > 1e-5 * gmax)
                ck_assert_float_eq(x_adv[i * D + j], v);
            else
                ck_assert_float_le(fabsf(x_adv[i * D + j] - f.x[i * D + j]), eps);
        }
        ck_assert_double_eq(r[i].c, eps);
        ck_assert_uint_eq(r[i].iterations, 1);
        ck_assert_uint_eq(r[i].evaluations, 1);
        ck_assert_int_eq(r[i].finished, 1);
        ck_assert_double_le(r[i].linf, eps + 1e-6);
    }
    check_results(f.net, f.x, f.y, targeted ? f.t : NULL, N, x_adv, r);
    free_fixture(&f);
}
END_TEST

/* Minimal-ε search: every example succeeds within ε_max = 0.5 (the blobs are 0.6 apart per
 * coordinate); the returned ε = c is the upper end of a bisection bracket: the point at
 * c − ε_max/2^steps (the bracket's lower end) does not reach the goal, the point at c does, and
 * x_adv is exactly that point. ε_max is a power of two so the bracket ends are exact. */
START_TEST(fgsm_minimal_epsilon)
{
    const int targeted = _i;
    fixture f;
    fixture_make(&f);
    float dx[N * D], x_adv[N * D], p[D];
    ck_assert_ok(nnp_grad_loss(f.net, NULL, f.x, targeted ? f.t : f.y, N, dx, NULL, NULL));
    nnp_attack_fgsm_opts o;
    ck_assert_ok(nnp_attack_fgsm_opts_init(&o));
    o.epsilon = 0.5;
    o.minimal = 1;
    o.search_steps = 12;
    nnp_attack_result r[N];
    ck_assert_ok(nnp_attack_fgsm(f.net, f.x, f.y, targeted ? f.t : NULL, N, &o, x_adv, r));
    ck_assert_uint_eq(check_results(f.net, f.x, f.y, targeted ? f.t : NULL, N, x_adv, r), N);
    const double quantum = 0.5 / 4096.0;
    for (size_t i = 0; i < N; i++) {
        ck_assert_double_gt(r[i].c, 0.0);
        ck_assert_double_le(r[i].c, 0.5);
        ck_assert_uint_eq(r[i].iterations, 1 + o.search_steps); /* ε values tried */
        double lo = r[i].c - quantum;
        for (int which = 0; which < 2; which++) {
            float e = (float)(which ? r[i].c : lo);
            for (size_t j = 0; j < D; j++) {
                float g = dx[i * D + j], s = g > 0 ? 1.0f : g < 0 ? -1.0f : 0.0f;
                if (targeted) s = -s;
                float v = f.x[i * D + j] + e * s;
                p[j] = v < 0 ? 0 : v > 1 ? 1 : v;
                if (which) ck_assert_float_eq(p[j], x_adv[i * D + j]);
            }
            int32_t lab = classify1(f.net, p);
            int goal = targeted ? lab == f.t[i] : lab != f.y[i];
            ck_assert_msg(goal == which, "example %zu: eps %g %s the goal", i, (double)e,
                          goal ? "reaches" : "misses");
        }
    }
    free_fixture(&f);
}
END_TEST

/* ------------------------------------------------------------------------------------------ */
/* PGD */

static void pgd_opts(nnp_attack_pgd_opts *o, nnp_attack_norm norm)
{
    ck_assert_ok(nnp_attack_pgd_opts_init(o));
    o->norm = norm;
    o->epsilon = norm == NNP_ATTACK_NORM_L2 ? 1.2 : 0.5;
    o->steps = 30;
}

/* Loop index: bit 0 targeted, bit 1 L2. All 12 examples succeed with the radii above; every
 * x_adv is in the box and in the ε-ball. */
START_TEST(pgd_succeeds_inside_the_ball)
{
    const int targeted = _i & 1;
    const nnp_attack_norm norm = (_i & 2) ? NNP_ATTACK_NORM_L2 : NNP_ATTACK_NORM_LINF;
    fixture f;
    fixture_make(&f);
    nnp_attack_pgd_opts o;
    pgd_opts(&o, norm);
    float x_adv[N * D];
    nnp_attack_result r[N];
    ck_assert_ok(nnp_attack_pgd(f.net, f.x, f.y, targeted ? f.t : NULL, N, &o, x_adv, r));
    ck_assert_uint_eq(check_results(f.net, f.x, f.y, targeted ? f.t : NULL, N, x_adv, r), N);
    for (size_t i = 0; i < N; i++) {
        if (norm == NNP_ATTACK_NORM_L2)
            ck_assert_double_le(r[i].l2, o.epsilon * (1 + 1e-6));
        else
            ck_assert_double_le(r[i].linf, o.epsilon + 1e-6);
        ck_assert_double_eq(r[i].c, o.epsilon);
        ck_assert_uint_eq(r[i].iterations, o.steps);
        ck_assert_int_eq(r[i].finished, 1);
    }
    free_fixture(&f);
}
END_TEST

/* steps = 0 or ε = 0 (with a random start) returns x itself. */
START_TEST(pgd_zero_steps_or_radius_returns_x)
{
    fixture f;
    fixture_make(&f);
    float x_adv[N * D];
    nnp_attack_result r[N];
    for (int norm = 0; norm < 2; norm++)
        for (int which = 0; which < 2; which++) {
            nnp_attack_pgd_opts o;
            pgd_opts(&o, norm ? NNP_ATTACK_NORM_L2 : NNP_ATTACK_NORM_LINF);
            if (which) o.epsilon = 0;
            else o.steps = 0;
            ck_assert_ok(nnp_attack_pgd(f.net, f.x, f.y, NULL, N, &o, x_adv, r));
            ck_assert_mem_eq(x_adv, f.x, sizeof x_adv);
            ck_assert_uint_eq(check_results(f.net, f.x, f.y, NULL, N, x_adv, r), 0);
        }
    free_fixture(&f);
}
END_TEST

/* The random start is a function of (seed, example index): the same seed repeats the run, and a
 * different seed with a single step (too short to converge anywhere) moves x_adv. */
START_TEST(pgd_random_start_is_seeded)
{
    fixture f;
    fixture_make(&f);
    float a[N * D], b[N * D], c[N * D];
    nnp_attack_result r[N];
    nnp_attack_pgd_opts o;
    pgd_opts(&o, NNP_ATTACK_NORM_L2);
    o.steps = 1;
    o.step_size = 0.01;
    ck_assert_ok(nnp_attack_pgd(f.net, f.x, f.y, NULL, N, &o, a, r));
    ck_assert_ok(nnp_attack_pgd(f.net, f.x, f.y, NULL, N, &o, b, r));
    ck_assert_mem_eq(a, b, sizeof a);
    o.seed = 2;
    ck_assert_ok(nnp_attack_pgd(f.net, f.x, f.y, NULL, N, &o, c, r));
    ck_assert_int_ne(memcmp(a, c, sizeof a), 0);
    o.random_start = 0; /* then one step of 0.01 along the normalised gradient */
    ck_assert_ok(nnp_attack_pgd(f.net, f.x, f.y, NULL, N, &o, c, r));
    for (size_t i = 0; i < N; i++) ck_assert_double_eq_tol(r[i].l2, 0.01, 1e-5);
    free_fixture(&f);
}
END_TEST

/* ------------------------------------------------------------------------------------------ */
/* An affine net z = Wx + b, where DeepFool's first step and the smallest untargeted L2
 * perturbation have closed forms. */

typedef struct affine {
    nnp_net *net;
    float W[K * D], b[K];
    float x[N * D];
    int32_t y[N], t[N];
} affine;

static void affine_make(affine *a)
{
    size_t layer;
    ck_assert_ok(nnp_net_create(1, 1, D, &a->net));
    ck_assert_ok(nnp_net_add_dense(a->net, K, &layer));
    tu_fill_uniform(a->W, K * D, -1, 1, 11);
    tu_fill_uniform(a->b, K, -0.1f, 0.1f, 12);
    ck_assert_ok(nnp_net_set_params(a->net, layer, a->W, a->b));
    tu_fill_uniform(a->x, N * D, 0.4f, 0.6f, 13);
    for (size_t i = 0; i < N; i++) {
        a->y[i] = classify1(a->net, a->x + i * D);
        a->t[i] = (a->y[i] + 1 + (int32_t)(i % 3)) % K;
    }
}

/* Distance from x to the nearest boundary z_k = z_y of the affine net (no box), the class k
 * and the unit direction towards it. */
static double affine_nearest(const affine *a, const float *x, int32_t y, int32_t *kbest,
                             double *dir)
{
    double z[K], best = INFINITY;
    for (int k = 0; k < K; k++) {
        z[k] = a->b[k];
        for (int j = 0; j < D; j++) z[k] += (double)a->W[k * D + j] * x[j];
    }
    for (int k = 0; k < K; k++) {
        if (k == y) continue;
        double nn = 0;
        for (int j = 0; j < D; j++) {
            double w = (double)a->W[k * D + j] - a->W[y * D + j];
            nn += w * w;
        }
        double dist = fabs(z[k] - z[y]) / sqrt(nn);
        if (dist < best) {
            best = dist;
            *kbest = k;
            for (int j = 0; j < D; j++)
                dir[j] = ((double)a->W[k * D + j] - a->W[y * D + j]) / sqrt(nn);
        }
    }
    return best;
}

/* On an affine net DeepFool's first step lands on the nearest boundary (times 1 + overshoot,
 * plus the 1e-4 pad): x_adv = x + (1 + η)(dist + 1e-4)·u, one iteration, success. And its L2
 * is at most (1 + η)(‖FGSM-minimal perturbation‖ + 1e-4), because any adversarial point, FGSM's
 * included, is at least dist away. */
START_TEST(deepfool_is_exact_on_an_affine_net)
{
    affine a;
    affine_make(&a);
    float x_adv[N * D], x_fg[N * D];
    nnp_attack_result r[N], rf[N];
    nnp_attack_deepfool_opts o;
    ck_assert_ok(nnp_attack_deepfool_opts_init(&o));
    o.candidates = 0;
    ck_assert_ok(nnp_attack_deepfool(a.net, a.x, a.y, NULL, N, &o, x_adv, r));
    ck_assert_uint_eq(check_results(a.net, a.x, a.y, NULL, N, x_adv, r), N);
    nnp_attack_fgsm_opts fo;
    ck_assert_ok(nnp_attack_fgsm_opts_init(&fo));
    fo.epsilon = 0.25;
    fo.minimal = 1;
    fo.search_steps = 20;
    ck_assert_ok(nnp_attack_fgsm(a.net, a.x, a.y, NULL, N, &fo, x_fg, rf));
    for (size_t i = 0; i < N; i++) {
        double dir[D];
        int32_t k;
        double dist = affine_nearest(&a, a.x + i * D, a.y[i], &k, dir);
        ck_assert_uint_eq(r[i].iterations, 1);
        ck_assert_uint_eq(r[i].evaluations, K - 1);
        for (size_t j = 0; j < D; j++) {
            double want = a.x[i * D + j] + (1 + o.overshoot) * (dist + 1e-4) * dir[j];
            ck_assert_msg(want > 0 && want < 1, "test data: the box clips example %zu", i);
            ck_assert_double_eq_tol(x_adv[i * D + j], want, 2e-6);
        }
        ck_assert_double_eq_tol(r[i].l2, (1 + o.overshoot) * (dist + 1e-4), 1e-5);
        ck_assert_int_eq(rf[i].success, 1);
        ck_assert_double_ge(rf[i].l2, dist - 1e-6);
        ck_assert_double_le(r[i].l2, (1 + o.overshoot) * (rf[i].l2 + 1e-4) + 1e-6);
    }
    nnp_net_free(a.net);
}
END_TEST

/* The other first steps on the affine net, with max_iterations = 1 so x_adv is the first
 * iterate whatever it reaches: targeted, towards the boundary z_t = z_c with c the arg-max;
 * untargeted with candidates = 2, towards the boundary of the class with the second-largest
 * logit (even when another boundary is nearer). Both x + (1 + η)(|f|/‖w‖ + 1e-4)·w/‖w‖. */
START_TEST(deepfool_first_steps_on_an_affine_net)
{
    const int targeted = _i;
    affine a;
    affine_make(&a);
    float x_adv[N * D];
    nnp_attack_result r[N];
    nnp_attack_deepfool_opts o;
    ck_assert_ok(nnp_attack_deepfool_opts_init(&o));
    o.max_iterations = 1;
    o.candidates = 2;
    ck_assert_ok(nnp_attack_deepfool(a.net, a.x, a.y, targeted ? a.t : NULL, N, &o, x_adv, r));
    check_results(a.net, a.x, a.y, targeted ? a.t : NULL, N, x_adv, r);
    for (size_t i = 0; i < N; i++) {
        const float *x = a.x + i * D;
        double z[K];
        for (int k = 0; k < K; k++) {
            z[k] = a.b[k];
            for (int j = 0; j < D; j++) z[k] += (double)a.W[k * D + j] * x[j];
        }
        int32_t c = a.y[i], pos, neg; /* boundary z_pos − z_neg, stepping to raise it */
        if (targeted) {
            pos = a.t[i];
            neg = c;
        } else {
            int32_t second = -1;
            for (int k = 0; k < K; k++)
                if (k != c && (second < 0 || z[k] > z[second])) second = k;
            pos = second;
            neg = c;
        }
        double w[D], nn = 0;
        for (int j = 0; j < D; j++) {
            w[j] = (double)a.W[pos * D + j] - a.W[neg * D + j];
            nn += w[j] * w[j];
        }
        nn = sqrt(nn);
        double len = (1 + o.overshoot) * (fabs(z[pos] - z[neg]) / nn + 1e-4);
        for (int j = 0; j < D; j++) {
            double want = x[j] + len * w[j] / nn;
            ck_assert_msg(want > 0 && want < 1, "test data: the box clips example %zu", i);
            ck_assert_double_eq_tol(x_adv[i * D + j], want, 2e-6);
        }
        ck_assert_uint_eq(r[i].iterations, 1);
        ck_assert_uint_eq(r[i].evaluations, 1);
        ck_assert_int_eq(r[i].finished, 1);
    }
    nnp_net_free(a.net);
}
END_TEST

/* DeepFool on the trained net, both modes: every example succeeds, within the iteration cap. */
START_TEST(deepfool_succeeds_on_the_trained_net)
{
    const int targeted = _i;
    fixture f;
    fixture_make(&f);
    float x_adv[N * D];
    nnp_attack_result r[N];
    nnp_attack_deepfool_opts o;
    ck_assert_ok(nnp_attack_deepfool_opts_init(&o));
    ck_assert_ok(nnp_attack_deepfool(f.net, f.x, f.y, targeted ? f.t : NULL, N, &o, x_adv, r));
    ck_assert_uint_eq(check_results(f.net, f.x, f.y, targeted ? f.t : NULL, N, x_adv, r), N);
    for (size_t i = 0; i < N; i++) {
        ck_assert_uint_ge(r[i].iterations, 1);
        ck_assert_uint_le(r[i].iterations, o.max_iterations);
        ck_assert_uint_eq(r[i].evaluations, r[i].iterations * (targeted ? 1 : K - 1));
        ck_assert_int_eq(r[i].finished, 1);
    }
    free_fixture(&f);
}
END_TEST

/* ------------------------------------------------------------------------------------------ */
/* Carlini–Wagner L2 */

static void cw_opts(nnp_attack_cw_opts *o)
{
    ck_assert_ok(nnp_attack_cw_opts_init(o));
    o->steps = 300;
}

/* Untargeted on the affine net: no adversarial point is nearer than the closed-form distance
 * to the nearest boundary, and C&W, which minimises the L2 distortion, gets within 5% of it
 * (Adam's last steps jitter around the boundary; 9 values of c bracket the needed c well). */
START_TEST(cw_is_near_the_minimum_on_an_affine_net)
{
    affine a;
    affine_make(&a);
    float x_adv[N * D];
    nnp_attack_result r[N];
    nnp_attack_cw_opts o;
    cw_opts(&o);
    ck_assert_ok(nnp_attack_cw(a.net, a.x, a.y, NULL, N, &o, x_adv, r));
    ck_assert_uint_eq(check_results(a.net, a.x, a.y, NULL, N, x_adv, r), N);
    for (size_t i = 0; i < N; i++) {
        double dir[D];
        int32_t k;
        double dist = affine_nearest(&a, a.x + i * D, a.y[i], &k, dir);
        ck_assert_double_ge(r[i].l2, dist - 1e-6);
        ck_assert_msg(r[i].l2 <= 1.05 * dist, "example %zu: C&W L2 %g, minimum %g", i,
                      r[i].l2, dist);
        ck_assert_double_gt(r[i].c, 0);
    }
    nnp_net_free(a.net);
}
END_TEST

/* Both modes on the trained net: every example succeeds, and C&W, which minimises the L2
 * distortion, ends no farther from x than DeepFool (which stops at the first linearised
 * crossing and overshoots by 2%), with 5% slack for Adam's jitter. */
START_TEST(cw_succeeds_with_small_distortion)
{
    const int targeted = _i;
    fixture f;
    fixture_make(&f);
    const int32_t *t = targeted ? f.t : NULL;
    float x_adv[N * D], x_df[N * D];
    nnp_attack_result r[N], rd[N];
    nnp_attack_cw_opts o;
    cw_opts(&o);
    ck_assert_ok(nnp_attack_cw(f.net, f.x, f.y, t, N, &o, x_adv, r));
    ck_assert_uint_eq(check_results(f.net, f.x, f.y, t, N, x_adv, r), N);
    nnp_attack_deepfool_opts dopt;
    ck_assert_ok(nnp_attack_deepfool_opts_init(&dopt));
    ck_assert_ok(nnp_attack_deepfool(f.net, f.x, f.y, t, N, &dopt, x_df, rd));
    for (size_t i = 0; i < N; i++) {
        ck_assert_int_eq(rd[i].success, 1);
        ck_assert_msg(r[i].l2 <= 1.05 * rd[i].l2, "example %zu: C&W L2 %g, DeepFool %g", i,
                      r[i].l2, rd[i].l2);
        ck_assert_uint_le(r[i].iterations, o.steps * o.binary_search_steps);
        ck_assert_int_eq(r[i].finished, 1);
    }
    free_fixture(&f);
}
END_TEST

/* The search over c, seen from outside. The first B values of c do not depend on how many
 * follow, so with one more value the kept least-distortion success can only get smaller (or
 * stay). And while no value succeeds c grows tenfold: starting far too low (10⁻⁶), the result
 * after B values reports the last c tried, 10⁻⁶·10^(B−1), and no success. */
START_TEST(cw_search_over_c)
{
    const int targeted = _i;
    fixture f;
    fixture_make(&f);
    const int32_t *t = targeted ? f.t : NULL;
    float x_adv[N * D];
    nnp_attack_result prev[N], r[N];
    nnp_attack_cw_opts o;
    cw_opts(&o);
    o.steps = 100;
    for (size_t B = 1; B <= 6; B++) {
        o.binary_search_steps = B;
        ck_assert_ok(nnp_attack_cw(f.net, f.x, f.y, t, N, &o, x_adv, r));
        check_results(f.net, f.x, f.y, t, N, x_adv, r);
        for (size_t i = 0; B > 1 && i < N; i++)
            if (prev[i].success) {
                ck_assert_int_eq(r[i].success, 1);
                ck_assert_msg(r[i].l2 <= prev[i].l2, "example %zu: L2 %g after %zu values of c, "
                              "%g after %zu", i, r[i].l2, B, prev[i].l2, B - 1);
            }
        memcpy(prev, r, sizeof r);
    }
    o.c_init = 1e-6;
    for (size_t B = 1; B <= 3; B++) {
        o.binary_search_steps = B;
        ck_assert_ok(nnp_attack_cw(f.net, f.x, f.y, t, N, &o, x_adv, r));
        ck_assert_uint_eq(check_results(f.net, f.x, f.y, t, N, x_adv, r), 0);
        for (size_t i = 0; i < N; i++)
            ck_assert_double_eq_tol(r[i].c, 1e-6 * pow(10.0, (double)(B - 1)), 1e-15);
    }
    free_fixture(&f);
}
END_TEST

/* ------------------------------------------------------------------------------------------ */
/* Shared behaviour of the four attacks, selected by index. */

enum { A_FGSM, A_FGSM_MIN, A_PGD_LINF, A_PGD_L2, A_DEEPFOOL, A_CW, N_ATTACKS };

typedef struct any_opts {
    nnp_attack_fgsm_opts fgsm;
    nnp_attack_pgd_opts pgd;
    nnp_attack_deepfool_opts df;
    nnp_attack_cw_opts cw;
} any_opts;

static void any_init(any_opts *o, int which)
{
    ck_assert_ok(nnp_attack_fgsm_opts_init(&o->fgsm));
    o->fgsm.epsilon = 0.5;
    o->fgsm.minimal = which == A_FGSM_MIN;
    pgd_opts(&o->pgd, which == A_PGD_L2 ? NNP_ATTACK_NORM_L2 : NNP_ATTACK_NORM_LINF);
    ck_assert_ok(nnp_attack_deepfool_opts_init(&o->df));
    cw_opts(&o->cw);
    o->cw.steps = 60;
    o->cw.binary_search_steps = 4;
}

static void any_batch(any_opts *o, size_t batch)
{
    o->fgsm.batch_size = o->pgd.batch_size = o->df.batch_size = o->cw.batch_size = batch;
}

static void any_progress(any_opts *o, nnp_progress_fn fn, void *user)
{
    o->fgsm.progress = o->pgd.progress = o->df.progress = o->cw.progress = fn;
    o->fgsm.progress_user = o->pgd.progress_user = o->df.progress_user = o->cw.progress_user =
        user;
}

static nnp_status any_run(int which, const any_opts *o, const nnp_net *net, const float *x,
                          const int32_t *y, const int32_t *t, size_t n, float *x_adv,
                          nnp_attack_result *r)
{
    switch (which) {
    case A_FGSM:
    case A_FGSM_MIN: return nnp_attack_fgsm(net, x, y, t, n, &o->fgsm, x_adv, r);
    case A_PGD_LINF:
    case A_PGD_L2: return nnp_attack_pgd(net, x, y, t, n, &o->pgd, x_adv, r);
    case A_DEEPFOOL: return nnp_attack_deepfool(net, x, y, t, n, &o->df, x_adv, r);
    default: return nnp_attack_cw(net, x, y, t, n, &o->cw, x_adv, r);
    }
}

static void assert_same_result(const nnp_attack_result *a, const nnp_attack_result *b,
                               size_t i)
{
    ck_assert_msg(a->success == b->success && a->label == b->label &&
                      a->iterations == b->iterations && a->evaluations == b->evaluations &&
                      fabs(a->l2 - b->l2) <= 1e-6 && fabs(a->c - b->c) <= 1e-12 * fabs(b->c),
                  "example %zu differs: success %d/%d label %d/%d it %zu/%zu ev %zu/%zu "
                  "l2 %g/%g c %g/%g", i, a->success, b->success, a->label, b->label,
                  a->iterations, b->iterations, a->evaluations, b->evaluations, a->l2, b->l2,
                  a->c, b->c);
}

/* Loop index: attack × 2 + targeted. Batches of 12, 5 and 1 give the same results (see the file
 * comment), clean examples mixed in (x already of the target class, or misclassified by
 * construction: label ≠ the net's) succeed with x_adv = x. */
START_TEST(batched_equals_one_at_a_time)
{
    const int which = _i / 2, targeted = _i % 2;
    fixture f;
    fixture_make(&f);
    int32_t y[N], t[N];
    memcpy(y, f.y, sizeof y);
    memcpy(t, f.t, sizeof t);
    if (targeted) t[3] = f.y[3]; /* goal holds at x */
    else y[3] = (f.y[3] + 1) % K; /* "misclassified": goal holds at x */
    const int32_t *tp = targeted ? t : NULL;
    any_opts o;
    any_init(&o, which);
    float ref[N * D], got[N * D];
    nnp_attack_result rr[N], rg[N];
    any_batch(&o, 12);
    ck_assert_ok(any_run(which, &o, f.net, f.x, y, tp, N, ref, rr));
    check_results(f.net, f.x, y, tp, N, ref, rr);
    ck_assert_int_eq(rr[3].success, 1);
    ck_assert_double_eq(rr[3].l2, 0);
    ck_assert_double_eq(rr[3].c, 0);
    const size_t batches[2] = {5, 1};
    for (int b = 0; b < 2; b++) {
        any_batch(&o, batches[b]);
        ck_assert_ok(any_run(which, &o, f.net, f.x, y, tp, N, got, rg));
        for (size_t i = 0; i < N; i++) {
            for (size_t j = 0; j < D; j++)
                ck_assert_float_eq_tol(got[i * D + j], ref[i * D + j], 1e-6f);
            assert_same_result(&rg[i], &rr[i], i);
        }
    }
    free_fixture(&f);
}
END_TEST

typedef struct cancel_at {
    uint64_t after; /* cancel once done exceeds this */
    uint64_t last_done, calls;
    int monotone;
} cancel_at;

static int cancel_cb(uint64_t done, uint64_t total, void *user)
{
    cancel_at *c = user;
    if (done < c->last_done || done > total) c->monotone = 0;
    c->last_done = done;
    c->calls++;
    return done > c->after;
}

/* Loop index: attack × 2 + targeted. Batch 4 (three groups); cancelled as soon as progress
 * passes the first group's share. Then NNP_ECANCELLED, the first group finished with exactly the
 * results of a full run, the last group unfinished with x_adv = x, and every result consistent
 * with its x_adv. */
START_TEST(cancellation_leaves_consistent_results)
{
    const int which = _i / 2, targeted = _i % 2;
    fixture f;
    fixture_make(&f);
    const int32_t *tp = targeted ? f.t : NULL;
    any_opts o;
    any_init(&o, which);
    any_batch(&o, 4);
    float full[N * D], part[N * D];
    nnp_attack_result rf[N], rp[N];
    cancel_at never = {UINT64_MAX, 0, 0, 1};
    any_progress(&o, cancel_cb, &never);
    ck_assert_ok(any_run(which, &o, f.net, f.x, f.y, tp, N, full, rf));
    ck_assert_int_eq(never.monotone, 1);
    ck_assert_uint_gt(never.calls, 2);
    const uint64_t total = never.last_done; /* the full run ends at its total */
    cancel_at c = {total / 3, 0, 0, 1};
    any_progress(&o, cancel_cb, &c);
    ck_assert_status(any_run(which, &o, f.net, f.x, f.y, tp, N, part, rp), NNP_ECANCELLED);
    ck_assert_error_has("cancel");
    check_results(f.net, f.x, f.y, tp, N, part, rp);
    for (size_t i = 0; i < N; i++) {
        if (i < 4) {
            ck_assert_msg(rp[i].finished, "example %zu of the first group is not finished", i);
        }
        if (i >= 8) {
            ck_assert_int_eq(rp[i].finished, 0);
            ck_assert_mem_eq(part + i * D, f.x + i * D, D * sizeof(float));
        }
        if (rp[i].finished) {
            assert_same_result(&rp[i], &rf[i], i);
            ck_assert_mem_eq(part + i * D, full + i * D, D * sizeof(float));
        }
    }
    free_fixture(&f);
}
END_TEST

/* Loop index: attack. Every allocation failure surfaces as NNP_ENOMEM, nothing leaked (ASan and
 * valgrind check that half); with enough allocations the attack runs. */
typedef struct alloc_run {
    int which;
    fixture *f;
    any_opts *o;
    float *x_adv;
    nnp_attack_result *r;
} alloc_run;

static nnp_status alloc_run_attack(void *user, long k)
{
    (void)k;
    alloc_run *a = user;
    return any_run(a->which, a->o, a->f->net, a->f->x, a->f->y, a->f->t, N, a->x_adv, a->r);
}

START_TEST(allocation_failures_are_clean)
{
    const int which = _i;
    fixture f;
    fixture_make(&f);
    any_opts o;
    any_init(&o, which);
    any_batch(&o, 5);
    float x_adv[N * D];
    nnp_attack_result r[N];
    alloc_run a = {which, &f, &o, x_adv, r};
    tu_alloc_counts c = tu_alloc_failures(&(tu_alloc_loop){
        .what = "attack", .max_k = 199, .until_ok = 1, .check_message = 1,
        .run = alloc_run_attack, .user = &a});
    ck_assert_int_eq(c.last, NNP_OK);
    ck_assert_int_gt(c.failures, 3);
    free_fixture(&f);
}
END_TEST

/* Options out of range: NNP_EINVAL naming the field; a larger struct with non-zero extra bytes:
 * NNP_EVERSION; init with a bad size or NULL. */
START_TEST(options_are_validated)
{
    fixture f;
    fixture_make(&f);
    float x_adv[N * D];
    nnp_attack_result r[N];
#define BAD(kind, field, value, run)                                         \
    do {                                                                     \
        nnp_attack_##kind##_opts o_;                                         \
        ck_assert_ok(nnp_attack_##kind##_opts_init(&o_));                    \
        o_.field = value;                                                    \
        ck_assert_status(run, NNP_EINVAL);                                   \
        ck_assert_error_has(#field);                                         \
    } while (0)
#define RUN_FGSM nnp_attack_fgsm(f.net, f.x, f.y, NULL, N, &o_, x_adv, r)
#define RUN_PGD nnp_attack_pgd(f.net, f.x, f.y, NULL, N, &o_, x_adv, r)
#define RUN_DF nnp_attack_deepfool(f.net, f.x, f.y, NULL, N, &o_, x_adv, r)
#define RUN_CW nnp_attack_cw(f.net, f.x, f.y, NULL, N, &o_, x_adv, r)
    BAD(fgsm, epsilon, 0.0, RUN_FGSM);
    BAD(fgsm, epsilon, 1.5, RUN_FGSM);
    BAD(fgsm, epsilon, NAN, RUN_FGSM);
    BAD(fgsm, minimal, 2, RUN_FGSM);
    BAD(fgsm, search_steps, 0, RUN_FGSM);
    BAD(fgsm, search_steps, 65, RUN_FGSM);
    BAD(fgsm, batch_size, 0, RUN_FGSM);
    BAD(pgd, norm, (nnp_attack_norm)1, RUN_PGD);
    BAD(pgd, epsilon, -0.1, RUN_PGD);
    BAD(pgd, epsilon, INFINITY, RUN_PGD);
    BAD(pgd, steps, 2000000, RUN_PGD);
    BAD(pgd, step_size, -1.0, RUN_PGD);
    BAD(pgd, step_size, NAN, RUN_PGD);
    BAD(pgd, random_start, -1, RUN_PGD);
    BAD(pgd, batch_size, 0, RUN_PGD);
    BAD(deepfool, max_iterations, 0, RUN_DF);
    BAD(deepfool, overshoot, -0.01, RUN_DF);
    BAD(deepfool, overshoot, 2.0, RUN_DF);
    BAD(deepfool, candidates, 1, RUN_DF);
    BAD(deepfool, batch_size, 0, RUN_DF);
    BAD(cw, c_init, 0.0, RUN_CW);
    BAD(cw, c_init, INFINITY, RUN_CW);
    BAD(cw, binary_search_steps, 0, RUN_CW);
    BAD(cw, steps, 0, RUN_CW);
    BAD(cw, learning_rate, 0.0, RUN_CW);
    BAD(cw, confidence, -1.0, RUN_CW);
    BAD(cw, abort_early, 3, RUN_CW);
    BAD(cw, batch_size, 0, RUN_CW);
#undef BAD
    /* a newer caller's larger struct: zero extra bytes are fine, non-zero ones are not */
    struct {
        nnp_attack_pgd_opts o;
        double extra;
    } big;
    ck_assert_ok(nnp_attack_pgd_opts_init_sized(&big.o, sizeof big));
    ck_assert_uint_eq(big.o.size, sizeof big);
    big.extra = 0;
    big.o.steps = 2;
    ck_assert_ok(nnp_attack_pgd(f.net, f.x, f.y, NULL, N, &big.o, x_adv, r));
    big.extra = 1;
    ck_assert_status(nnp_attack_pgd(f.net, f.x, f.y, NULL, N, &big.o, x_adv, r), NNP_EVERSION);
    nnp_attack_cw_opts co;
    co.size = 0;
    ck_assert_status(nnp_attack_cw(f.net, f.x, f.y, NULL, N, &co, x_adv, r), NNP_EINVAL);
    ck_assert_status(nnp_attack_fgsm_opts_init_sized(NULL, sizeof(nnp_attack_fgsm_opts)),
                     NNP_EINVAL);
    ck_assert_status(nnp_attack_deepfool_opts_init_sized((nnp_attack_deepfool_opts *)&co, 2),
                     NNP_EINVAL);
    /* arguments shared with every attack */
    ck_assert_status(nnp_attack_deepfool(f.net, f.x, NULL, NULL, N, NULL, x_adv, r), NNP_EINVAL);
    ck_assert_error_has("labels");
    int32_t bad_t[N];
    memcpy(bad_t, f.t, sizeof bad_t);
    bad_t[5] = K;
    ck_assert_status(nnp_attack_cw(f.net, f.x, NULL, bad_t, N, NULL, x_adv, r), NNP_EINVAL);
    ck_assert_error_has("targets[5]");
    float xo[N * D];
    memcpy(xo, f.x, sizeof xo);
    xo[7] = 1.5f;
    ck_assert_status(nnp_attack_fgsm(f.net, xo, f.y, NULL, N, NULL, x_adv, r), NNP_EINVAL);
    ck_assert_error_has("x[7]");
    ck_assert_status(nnp_attack_pgd(f.net, f.x, f.y, NULL, 0, NULL, x_adv, r), NNP_EINVAL);
    ck_assert_status(nnp_attack_pgd(f.net, f.x, f.y, NULL, N, NULL, NULL, r), NNP_EINVAL);
    free_fixture(&f);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("attack_gradient");
    TCase *tc = tcase_create("attack_gradient");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, fgsm_is_the_formula, 0, 2);
    tcase_add_loop_test(tc, fgsm_minimal_epsilon, 0, 2);
    tcase_add_loop_test(tc, pgd_succeeds_inside_the_ball, 0, 4);
    tcase_add_test(tc, pgd_zero_steps_or_radius_returns_x);
    tcase_add_test(tc, pgd_random_start_is_seeded);
    tcase_add_test(tc, deepfool_is_exact_on_an_affine_net);
    tcase_add_loop_test(tc, deepfool_first_steps_on_an_affine_net, 0, 2);
    tcase_add_loop_test(tc, deepfool_succeeds_on_the_trained_net, 0, 2);
    tcase_add_test(tc, cw_is_near_the_minimum_on_an_affine_net);
    tcase_add_loop_test(tc, cw_succeeds_with_small_distortion, 0, 2);
    tcase_add_loop_test(tc, cw_search_over_c, 0, 2);
    tcase_add_loop_test(tc, batched_equals_one_at_a_time, 0, 2 * N_ATTACKS);
    tcase_add_loop_test(tc, cancellation_leaves_consistent_results, 0, 2 * N_ATTACKS);
    tcase_add_loop_test(tc, allocation_failures_are_clean, 0, N_ATTACKS);
    tcase_add_test(tc, options_are_validated);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
