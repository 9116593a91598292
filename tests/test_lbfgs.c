/* Batched box-constrained L-BFGS (lib/optim/lbfgs.c): convex quadratics with active and
 * inactive bounds, bounded Rosenbrock, feasibility of every evaluated point, batched against
 * one-at-a-time, callback errors, allocation failures, argument checks. References are computed
 * in the test itself, in double, by plain projected gradient descent run to convergence. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/core.h"
#include "optim/lbfgs.h"
#include "testutil.h"

enum { KIND_QUAD = 0, KIND_ROSEN = 1, KIND_NAN = 2 };

#define MAXD 16
#define MAXP 8

/* One test problem: f = ½(x-c)'A(x-c) (A d × d, SPD) or the chained Rosenbrock function. */
typedef struct problem {
    int kind;
    size_t d;
    double A[MAXD * MAXD], c[MAXD];
} problem;

typedef struct ctx {
    const problem *pb[MAXP]; /* problem of each id */
    const float *lo, *hi;
    size_t d;
    size_t calls, evals, outside, min_active, max_active;
    size_t fail_at_call;     /* 1-based call that returns NNP_EIO, 0 = never */
} ctx;

static double eval_problem(const problem *p, const double *x, double *g)
{
    const size_t d = p->d;
    double f = 0;
    if (p->kind == KIND_NAN) {
        for (size_t j = 0; j < d; j++) g[j] = 0;
        return NAN;
    }
    if (p->kind == KIND_QUAD) {
        double r[MAXD];
        for (size_t j = 0; j < d; j++) r[j] = x[j] - p->c[j];
        for (size_t j = 0; j < d; j++) {
            double ar = 0;
            for (size_t k = 0; k < d; k++) ar += p->A[j * d + k] * r[k];
            g[j] = ar;
            f += 0.5 * r[j] * ar;
        }
    } else {
        for (size_t j = 0; j < d; j++) g[j] = 0;
        for (size_t j = 0; j + 1 < d; j++) {
            double a = x[j + 1] - x[j] * x[j], b = 1 - x[j];
            f += 100 * a * a + b * b;
            g[j] += -400 * x[j] * a - 2 * b;
            g[j + 1] += 200 * a;
        }
    }
    return f;
}

static nnp_status fg_cb(void *vctx, size_t n_active, const size_t *ids, const float *x, double *f,
                        float *g)
{
    ctx *c = vctx;
    c->calls++;
    if (c->fail_at_call != 0 && c->calls == c->fail_at_call)
        return nnpi_error(NNP_EIO, "test: injected failure at call %zu", c->calls);
    if (n_active < c->min_active) c->min_active = n_active;
    if (n_active > c->max_active) c->max_active = n_active;
    for (size_t k = 0; k < n_active; k++) {
        const problem *p = c->pb[ids[k]];
        double xd[MAXD], gd[MAXD];
        ck_assert(k == 0 || ids[k] > ids[k - 1]);
        for (size_t j = 0; j < c->d; j++) {
            float v = x[k * c->d + j];
            if (!(v >= c->lo[j] && v <= c->hi[j])) c->outside++;
            xd[j] = v;
        }
        f[k] = eval_problem(p, xd, gd);
        for (size_t j = 0; j < c->d; j++) g[k * c->d + j] = (float)gd[j];
        c->evals++;
    }
    return NNP_OK;
}

static void ctx_init(ctx *c, size_t d, const float *lo, const float *hi)
{
    memset(c, 0, sizeof *c);
    c->d = d;
    c->lo = lo;
    c->hi = hi;
    c->min_active = SIZE_MAX;
}

/* Projected gradient descent in double with step 1/L until the step changes x by < 1e-15
 * (or `max_it` steps): the reference solution. */
static void reference_pgd(const problem *p, const float *lo, const float *hi, double L,
                          double *x, long max_it)
{
    double g[MAXD];
    for (long it = 0; it < max_it; it++) {
        eval_problem(p, x, g);
        double change = 0;
        for (size_t j = 0; j < p->d; j++) {
            double v = x[j] - g[j] / L;
            if (v < lo[j]) v = lo[j];
            if (v > hi[j]) v = hi[j];
            change = fmax(change, fabs(v - x[j]));
            x[j] = v;
        }
        if (change < 1e-15) return;
    }
}

/* Random SPD A = B'B + mu·I (non-diagonal) or a diagonal with entries in [1, 10]. */
static void make_quad(problem *p, size_t d, int diagonal, uint64_t seed)
{
    float b[MAXD * MAXD], c[MAXD];
    memset(p, 0, sizeof *p);
    p->kind = KIND_QUAD;
    p->d = d;
    tu_fill_uniform(b, d * d, -1, 1, seed);
    tu_fill_uniform(c, d, -0.5f, 1.5f, seed + 1); /* some outside [0,1], some inside */
    for (size_t j = 0; j < d; j++) p->c[j] = c[j];
    for (size_t j = 0; j < d; j++)
        for (size_t k = 0; k < d; k++) {
            if (diagonal) {
                p->A[j * d + k] = j == k ? 1 + 9 * fabs((double)b[j * d + j]) : 0;
                continue;
            }
            double s = 0;
            for (size_t l = 0; l < d; l++) s += (double)b[l * d + j] * b[l * d + k];
            p->A[j * d + k] = s + (j == k ? 0.1 : 0);
        }
}

static double gershgorin(const problem *p)
{
    double L = 0;
    for (size_t j = 0; j < p->d; j++) {
        double r = 0;
        for (size_t k = 0; k < p->d; k++) r += fabs(p->A[j * p->d + k]);
        L = fmax(L, r);
    }
    return L;
}

static nnpi_lbfgs_opts tight_opts(void)
{
    nnpi_lbfgs_opts o;
    nnpi_lbfgs_opts_default(&o);
    o.pgtol = 1e-6;
    o.ftol = 0;
    return o;
}

/* (1) convex quadratics on [0,1]^d; diagonal A: solution = clip(c); non-diagonal: PGD reference. */
START_TEST(quadratic_box)
{
    const int diagonal = _i & 1;
    const size_t d = 12;
    float lo[MAXD], hi[MAXD], x[MAXD];
    for (size_t j = 0; j < d; j++) lo[j] = 0, hi[j] = 1;
    problem p;
    double ref[MAXD];
    size_t n_active = 0, n_inside = 0;
    /* The first seed (from a fixed list) whose solution has >= 2 variables at a bound and
     * >= 2 inside: both kinds are then exercised. */
    for (uint64_t seed = 100 + 10 * (uint64_t)_i; n_active < 2 || n_inside < 2; seed++) {
        make_quad(&p, d, diagonal, seed);
        for (size_t j = 0; j < d; j++) ref[j] = 0.5;
        if (diagonal)
            for (size_t j = 0; j < d; j++) ref[j] = fmin(1, fmax(0, p.c[j]));
        else
            reference_pgd(&p, lo, hi, gershgorin(&p), ref, 20000000);
        n_active = n_inside = 0;
        for (size_t j = 0; j < d; j++) {
            if (ref[j] == 0 || ref[j] == 1) n_active++;
            else n_inside++;
        }
        ck_assert_uint_lt(seed, 100 + 10 * (uint64_t)_i + 10);
    }
    ck_assert_msg(n_active >= 2 && n_inside >= 2, "want both active and free bounds: %zu, %zu",
                  n_active, n_inside);
    tu_fill_uniform(x, d, 0, 1, 7);
    ctx c;
    ctx_init(&c, d, lo, hi);
    c.pb[0] = &p;
    nnpi_lbfgs_opts o = tight_opts();
    nnpi_lbfgs_result r;
    ck_assert_ok(nnpi_lbfgsb_minimize(1, d, x, lo, hi, fg_cb, &c, &o, &r));
    double err = 0;
    for (size_t j = 0; j < d; j++) err = fmax(err, fabs(x[j] - ref[j]));
    printf("quadratic %s d=%zu: %zu active, iterations %zu, evaluations %zu, stop %d, "
           "max error %.2e\n", diagonal ? "diagonal" : "dense", d, n_active, r.iterations,
           r.evaluations, (int)r.stop, err);
    ck_assert_msg(r.converged, "stop reason %d", (int)r.stop);
    ck_assert_msg(err <= 1e-5, "max |x - ref| = %g", err);
    ck_assert_uint_eq(c.outside, 0);
    ck_assert_uint_eq(c.evals, r.evaluations);
}
END_TEST

/* (2) bounded Rosenbrock, 2-D and 10-D: box [-1.5, 0.5] (minimum (1,...,1) infeasible) against a
 * long projected-gradient reference, and box [-2, 2] (minimum inside). */
START_TEST(rosenbrock_box)
{
    const size_t d = (_i & 1) ? 10 : 2;
    const int contains = (_i >> 1) & 1;
    float lo[MAXD], hi[MAXD], x[MAXD];
    for (size_t j = 0; j < d; j++) {
        lo[j] = contains ? -2.0f : -1.5f;
        hi[j] = contains ? 2.0f : 0.5f;
        x[j] = (j % 2 == 0) ? -1.2f : 1.0f; /* the classic start */
    }
    problem p = {.kind = KIND_ROSEN, .d = d};
    double ref[MAXD];
    for (size_t j = 0; j < d; j++) ref[j] = 1;
    if (!contains) {
        for (size_t j = 0; j < d; j++) ref[j] = 0;
        /* Hessian bound on the box by Gershgorin: 1200·2.25 + 400·1.5 + 202 + 2·600 < 5000. */
        reference_pgd(&p, lo, hi, 5000, ref, 50000000);
        if (d == 2) { /* known in closed form: x1 at its bound 0.5, x2 = x1² */
            ck_assert_double_eq_tol(ref[0], 0.5, 1e-12);
            ck_assert_double_eq_tol(ref[1], 0.25, 1e-9);
        }
    }
    ctx c;
    ctx_init(&c, d, lo, hi);
    c.pb[0] = &p;
    nnpi_lbfgs_opts o = tight_opts();
    nnpi_lbfgs_result r;
    ck_assert_ok(nnpi_lbfgsb_minimize(1, d, x, lo, hi, fg_cb, &c, &o, &r));
    double err = 0;
    for (size_t j = 0; j < d; j++) err = fmax(err, fabs(x[j] - ref[j]));
    printf("rosenbrock d=%zu box [%g, %g]: iterations %zu, evaluations %zu, stop %d, f %.3e, "
           "max error %.2e\n", d, (double)lo[0], (double)hi[0], r.iterations, r.evaluations,
           (int)r.stop, r.f, err);
    /* pgtol 1e-6 is at the edge of float gradients of size ~100: FTOL (f no longer changes in
     * double) and STALLED (no float step decreases f) are the other ends of a converged run. */
    ck_assert_msg(r.converged || r.stop == NNPI_LBFGS_STALLED, "stop %d", (int)r.stop);
    ck_assert_msg(err <= 1e-4, "max |x - ref| = %g", err);
    ck_assert_uint_eq(c.outside, 0);
}
END_TEST

/* (3) every point handed to the callback lies in the box, also from starts outside it, with
 * narrow and one-sided boxes and a degenerate variable (lo = hi). */
START_TEST(never_leaves_box)
{
    const size_t d = 10, n = 4;
    float lo[MAXD], hi[MAXD], x[MAXP * MAXD];
    for (size_t j = 0; j < d; j++) {
        lo[j] = (float)(-0.3 + 0.05 * (double)j);
        hi[j] = lo[j] + (j == 3 ? 0.0f : 0.4f);
    }
    hi[7] = INFINITY;
    lo[8] = -INFINITY;
    tu_fill_uniform(x, n * d, -5, 5, 31); /* mostly outside */
    problem q[MAXP];
    ctx c;
    ctx_init(&c, d, lo, hi);
    for (size_t i = 0; i < n; i++) {
        if (i == 3)
            q[i] = (problem){.kind = KIND_ROSEN, .d = d};
        else
            make_quad(&q[i], d, (int)(i & 1), 40 + i);
        c.pb[i] = &q[i];
    }
    nnpi_lbfgs_opts o = tight_opts();
    nnpi_lbfgs_result r[MAXP];
    ck_assert_ok(nnpi_lbfgsb_minimize(n, d, x, lo, hi, fg_cb, &c, &o, r));
    ck_assert_uint_gt(c.evals, 10);
    ck_assert_uint_eq(c.outside, 0);
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < d; j++)
            ck_assert(x[i * d + j] >= lo[j] && x[i * d + j] <= hi[j]);
        ck_assert_float_eq(x[i * d + 3], lo[3]);
    }
}
END_TEST

/* Five problems with different convergence speeds. */
static void five_problems(problem *q)
{
    make_quad(&q[0], 10, 1, 5);                   /* diagonal: fast */
    make_quad(&q[1], 10, 0, 6);                   /* dense */
    q[2] = (problem){.kind = KIND_ROSEN, .d = 10}; /* slow */
    make_quad(&q[3], 10, 0, 8);
    for (size_t j = 0; j < 10; j++) q[3].A[j * 10 + j] += 20; /* well conditioned */
    memset(&q[4], 0, sizeof q[4]);
    q[4].kind = KIND_QUAD;
    q[4].d = 10;
    for (size_t j = 0; j < 10; j++) {
        q[4].A[j * 10 + j] = 1;
        q[4].c[j] = 0.5; /* isotropic, inside the box: one or two steps */
    }
}

/* (4) batched and one-at-a-time runs give bitwise the same solutions and counts; dropout. */
START_TEST(batched_equals_single)
{
    const size_t n = 5, d = 10;
    float lo[MAXD], hi[MAXD], x0[MAXP * MAXD], xb[MAXP * MAXD], xs[MAXP * MAXD];
    for (size_t j = 0; j < d; j++) lo[j] = 0, hi[j] = 1;
    problem q[MAXP];
    five_problems(q);
    tu_fill_uniform(x0, n * d, 0, 1, 77);
    memcpy(xb, x0, sizeof xb);
    memcpy(xs, x0, sizeof xs);
    nnpi_lbfgs_opts o = tight_opts();
    nnpi_lbfgs_result rb[MAXP], rs[MAXP];
    ctx c;
    ctx_init(&c, d, lo, hi);
    for (size_t i = 0; i < n; i++) c.pb[i] = &q[i];
    ck_assert_ok(nnpi_lbfgsb_minimize(n, d, xb, lo, hi, fg_cb, &c, &o, rb));
    size_t max_evals = 0, sum_evals = 0;
    for (size_t i = 0; i < n; i++) {
        max_evals = rb[i].evaluations > max_evals ? rb[i].evaluations : max_evals;
        sum_evals += rb[i].evaluations;
        printf("batched problem %zu: iterations %zu, evaluations %zu, stop %d\n", i,
               rb[i].iterations, rb[i].evaluations, (int)rb[i].stop);
    }
    ck_assert_uint_eq(c.calls, max_evals); /* one callback per round */
    ck_assert_uint_eq(c.evals, sum_evals);
    ck_assert_uint_eq(c.max_active, n);
    ck_assert_uint_eq(c.min_active, 1); /* problems dropped out */
    ck_assert_uint_eq(c.outside, 0);
    for (size_t i = 0; i < n; i++) {
        ctx c1;
        ctx_init(&c1, d, lo, hi);
        c1.pb[0] = &q[i];
        ck_assert_ok(nnpi_lbfgsb_minimize(1, d, xs + i * d, lo, hi, fg_cb, &c1, &o, &rs[i]));
        ck_assert_mem_eq(xs + i * d, xb + i * d, d * sizeof(float));
        ck_assert(rs[i].f == rb[i].f);
        ck_assert_uint_eq(rs[i].iterations, rb[i].iterations);
        ck_assert_uint_eq(rs[i].evaluations, rb[i].evaluations);
        ck_assert_int_eq(rs[i].stop, rb[i].stop);
    }
}
END_TEST

/* (5) a failing callback aborts with its status; x holds the last accepted iterates, which are
 * exactly those of a run with an evaluation budget of one round fewer. */
START_TEST(callback_error_keeps_accepted)
{
    const size_t n = 3, d = 10, fail = 6;
    float lo[MAXD], hi[MAXD], x0[MAXP * MAXD], xa[MAXP * MAXD], xr[MAXP * MAXD];
    for (size_t j = 0; j < d; j++) lo[j] = -1.5f, hi[j] = 0.5f;
    problem q[MAXP];
    five_problems(q);
    q[0] = q[2]; /* slow problems only: none finishes before the failure */
    q[1] = q[2];
    tu_fill_uniform(x0, n * d, -1, 0.5f, 3);
    memcpy(xa, x0, sizeof xa);
    memcpy(xr, x0, sizeof xr);
    nnpi_lbfgs_opts o = tight_opts();
    nnpi_lbfgs_result ra[MAXP], rr[MAXP];
    ctx c;
    ctx_init(&c, d, lo, hi);
    for (size_t i = 0; i < n; i++) c.pb[i] = &q[i];
    c.fail_at_call = fail;
    ck_assert_status(nnpi_lbfgsb_minimize(n, d, xa, lo, hi, fg_cb, &c, &o, ra), NNP_EIO);
    ck_assert_error_has("injected failure");
    ck_assert_uint_eq(c.calls, fail);

    o.max_evals = fail - 1;
    ctx_init(&c, d, lo, hi);
    for (size_t i = 0; i < n; i++) c.pb[i] = &q[i];
    ck_assert_ok(nnpi_lbfgsb_minimize(n, d, xr, lo, hi, fg_cb, &c, &o, rr));
    ck_assert_mem_eq(xa, xr, n * d * sizeof(float));
    ck_assert(memcmp(xa, x0, n * d * sizeof(float)) != 0);
    for (size_t i = 0; i < n; i++) {
        ck_assert_int_eq(rr[i].stop, NNPI_LBFGS_MAX_EVALS);
        ck_assert_int_eq(ra[i].stop, NNPI_LBFGS_RUNNING);
        ck_assert(!ra[i].converged);
        ck_assert(ra[i].f == rr[i].f);
        ck_assert_uint_eq(ra[i].iterations, rr[i].iterations);
        ck_assert_uint_eq(ra[i].evaluations, fail - 1);
        /* the reported f is the objective at the returned x */
        double xd[MAXD], gd[MAXD];
        for (size_t j = 0; j < d; j++) xd[j] = xa[i * d + j];
        ck_assert(eval_problem(&q[i], xd, gd) == ra[i].f);
    }
    /* failure on the very first call: x is the (projected) start */
    ctx_init(&c, d, lo, hi);
    for (size_t i = 0; i < n; i++) c.pb[i] = &q[i];
    c.fail_at_call = 1;
    memcpy(xa, x0, sizeof xa);
    o.max_evals = 100;
    ck_assert_status(nnpi_lbfgsb_minimize(n, d, xa, lo, hi, fg_cb, &c, &o, ra), NNP_EIO);
    ck_assert_mem_eq(xa, x0, n * d * sizeof(float));
    ck_assert_uint_eq(ra[0].evaluations, 0);
}
END_TEST

typedef struct alloc_run {
    size_t n, d;
    float lo[MAXD], hi[MAXD], x0[MAXP * MAXD], x[MAXP * MAXD];
    problem q[MAXP];
    ctx c;
} alloc_run;

/* Called with the k-th allocation failing: the context and x are made fresh first, so the
 * set-up itself allocates nothing. */
static nnp_status alloc_run_minimize(void *user, long k)
{
    (void)k;
    alloc_run *a = user;
    ctx_init(&a->c, a->d, a->lo, a->hi);
    a->c.pb[0] = &a->q[0];
    a->c.pb[1] = &a->q[1];
    memcpy(a->x, a->x0, sizeof a->x);
    return nnpi_lbfgsb_minimize(a->n, a->d, a->x, a->lo, a->hi, fg_cb, &a->c, NULL, NULL);
}

/* A failed minimisation evaluated nothing and left x untouched. */
static void alloc_check_minimize(void *user, long k, nnp_status s)
{
    (void)k;
    alloc_run *a = user;
    if (s == NNP_ENOMEM) {
        ck_assert_uint_eq(a->c.calls, 0);
        ck_assert_mem_eq(a->x, a->x0, sizeof a->x);
    }
}

/* (6) every allocation failure gives NNP_ENOMEM with a message, nothing leaks, x untouched. */
START_TEST(allocation_failures_are_clean)
{
    alloc_run a = {.n = 2, .d = 10};
    for (size_t j = 0; j < a.d; j++) a.lo[j] = 0, a.hi[j] = 1;
    five_problems(a.q);
    tu_fill_uniform(a.x0, a.n * a.d, 0, 1, 9);
    tu_alloc_counts c = tu_alloc_failures(&(tu_alloc_loop){
        .what = "nnpi_lbfgsb_minimize", .max_k = 39, .check_message = 1,
        .run = alloc_run_minimize, .after = alloc_check_minimize, .user = &a});
    ck_assert_int_ge(c.failures, 10);
    ck_assert_int_gt(c.successes, 0);
}
END_TEST

/* (7) invalid arguments are refused with NNP_EINVAL and a message naming them. */
START_TEST(invalid_arguments)
{
    float lo[4] = {0, 0, 0, 0}, hi[4] = {1, 1, 1, 1}, x[8] = {0};
    problem q = {.kind = KIND_ROSEN, .d = 4};
    ctx c;
    ctx_init(&c, 4, lo, hi);
    c.pb[0] = c.pb[1] = &q;
    nnpi_lbfgs_opts o;
    nnpi_lbfgs_opts_default(&o);
    ck_assert_status(nnpi_lbfgsb_minimize(0, 4, x, lo, hi, fg_cb, &c, &o, NULL), NNP_EINVAL);
    ck_assert_error_has("n is 0");
    ck_assert_status(nnpi_lbfgsb_minimize(2, 0, x, lo, hi, fg_cb, &c, &o, NULL), NNP_EINVAL);
    ck_assert_error_has("d is 0");
    ck_assert_status(nnpi_lbfgsb_minimize(2, 4, NULL, lo, hi, fg_cb, &c, &o, NULL), NNP_EINVAL);
    ck_assert_error_has("x is NULL");
    ck_assert_status(nnpi_lbfgsb_minimize(2, 4, x, NULL, hi, fg_cb, &c, &o, NULL), NNP_EINVAL);
    ck_assert_error_has("lo is NULL");
    ck_assert_status(nnpi_lbfgsb_minimize(2, 4, x, lo, NULL, fg_cb, &c, &o, NULL), NNP_EINVAL);
    ck_assert_error_has("hi is NULL");
    ck_assert_status(nnpi_lbfgsb_minimize(2, 4, x, lo, hi, NULL, &c, &o, NULL), NNP_EINVAL);
    ck_assert_error_has("fg is NULL");
    hi[2] = -0.5f;
    ck_assert_status(nnpi_lbfgsb_minimize(2, 4, x, lo, hi, fg_cb, &c, &o, NULL), NNP_EINVAL);
    ck_assert_error_has("variable 2");
    hi[2] = NAN;
    ck_assert_status(nnpi_lbfgsb_minimize(2, 4, x, lo, hi, fg_cb, &c, &o, NULL), NNP_EINVAL);
    ck_assert_error_has("variable 2");
    hi[2] = 1;
    o.m = 0;
    ck_assert_status(nnpi_lbfgsb_minimize(2, 4, x, lo, hi, fg_cb, &c, &o, NULL), NNP_EINVAL);
    ck_assert_error_has("opts.m");
    nnpi_lbfgs_opts_default(&o);
    o.max_iter = 0;
    ck_assert_status(nnpi_lbfgsb_minimize(2, 4, x, lo, hi, fg_cb, &c, &o, NULL), NNP_EINVAL);
    ck_assert_error_has("opts.max_iter");
    nnpi_lbfgs_opts_default(&o);
    o.max_evals = 0;
    ck_assert_status(nnpi_lbfgsb_minimize(2, 4, x, lo, hi, fg_cb, &c, &o, NULL), NNP_EINVAL);
    ck_assert_error_has("opts.max_evals");
    nnpi_lbfgs_opts_default(&o);
    o.pgtol = -1;
    ck_assert_status(nnpi_lbfgsb_minimize(2, 4, x, lo, hi, fg_cb, &c, &o, NULL), NNP_EINVAL);
    ck_assert_error_has("opts.pgtol");
    nnpi_lbfgs_opts_default(&o);
    o.ftol = NAN;
    ck_assert_status(nnpi_lbfgsb_minimize(2, 4, x, lo, hi, fg_cb, &c, &o, NULL), NNP_EINVAL);
    ck_assert_error_has("opts.ftol");
    nnpi_lbfgs_opts_default(&o);
    x[5] = NAN;
    ck_assert_status(nnpi_lbfgsb_minimize(2, 4, x, lo, hi, fg_cb, &c, &o, NULL), NNP_EINVAL);
    ck_assert_error_has("x[5]");
    x[5] = 0;
    ck_assert_uint_eq(c.calls, 0);
    ck_assert_ok(nnpi_lbfgsb_minimize(2, 4, x, lo, hi, fg_cb, &c, NULL, NULL));
}
END_TEST

/* Budgets and a non-finite start are reported per problem, without failing the batch. */
START_TEST(budgets_and_nonfinite)
{
    const size_t d = 10;
    float lo[MAXD], hi[MAXD], x[2 * MAXD];
    for (size_t j = 0; j < d; j++) lo[j] = -2, hi[j] = 2;
    problem q = {.kind = KIND_ROSEN, .d = d}, bad = {.kind = KIND_NAN, .d = d};
    ctx c;
    ctx_init(&c, d, lo, hi);
    c.pb[0] = &q;
    c.pb[1] = &q;
    tu_fill_uniform(x, 2 * d, -1, 1, 4);
    nnpi_lbfgs_opts o = tight_opts();
    o.max_iter = 5;
    nnpi_lbfgs_result r[2];
    ck_assert_ok(nnpi_lbfgsb_minimize(2, d, x, lo, hi, fg_cb, &c, &o, r));
    ck_assert_int_eq(r[0].stop, NNPI_LBFGS_MAX_ITER);
    ck_assert_uint_eq(r[0].iterations, 5);
    o.max_iter = 1000;
    o.max_evals = 7;
    ck_assert_ok(nnpi_lbfgsb_minimize(2, d, x, lo, hi, fg_cb, &c, &o, r));
    ck_assert_int_eq(r[1].stop, NNPI_LBFGS_MAX_EVALS);
    ck_assert_uint_eq(r[1].evaluations, 7);
    ck_assert(!r[1].converged);
    c.pb[1] = &bad;
    o.max_evals = 1000;
    ck_assert_ok(nnpi_lbfgsb_minimize(2, d, x, lo, hi, fg_cb, &c, &o, r));
    ck_assert_int_eq(r[1].stop, NNPI_LBFGS_NONFINITE);
    ck_assert_uint_eq(r[1].evaluations, 1);
    ck_assert(r[0].converged || r[0].stop == NNPI_LBFGS_STALLED);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("lbfgs");
    TCase *tc = tcase_create("lbfgs");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, quadratic_box, 0, 4);
    tcase_add_loop_test(tc, rosenbrock_box, 0, 4);
    tcase_add_test(tc, never_leaves_box);
    tcase_add_test(tc, batched_equals_single);
    tcase_add_test(tc, callback_error_keeps_accepted);
    tcase_add_test(tc, allocation_failures_are_clean);
    tcase_add_test(tc, invalid_arguments);
    tcase_add_test(tc, budgets_and_nonfinite);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
