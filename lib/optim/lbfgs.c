/* Batched box-constrained L-BFGS (internal; see lbfgs.h for the contract).
 *
 * Sources of the method (the code is written from the formulas, not from any implementation):
 *  - two-loop recursion for the L-BFGS product H·g and the initial scaling
 *    gamma = s'y / y'y of the newest pair: Nocedal & Wright, Numerical Optimization, 2nd ed.,
 *    Algorithms 7.4 and 7.5, eq. (7.20);
 *  - bounds handled by projection P onto the box, with the search along the projected path
 *    P[x + t·p] and the projected-gradient stopping test ||P[x - g] - x||_inf: Byrd, Lu,
 *    Nocedal & Zhu, "A limited memory algorithm for bound constrained optimization", SIAM J.
 *    Sci. Comput. 16 (1995);
 *  - the active set of a step (variables at a bound whose gradient pushes outward stay fixed;
 *    the quasi-Newton matrix acts on the remaining free variables only) and the
 *    sufficient-decrease test
 *    f(x(t)) <= f(x) + c1·g'(x(t) - x) along the projected path: Bertsekas, "Projected Newton
 *    methods for optimization problems with simple constraints", SIAM J. Control Optim. 20
 *    (1982);
 *  - curvature pairs kept only when s'y > eps_mach·y'y (as in L-BFGS-B), which keeps H
 *    positive definite; the reduced recursion additionally skips pairs whose restriction to the
 *    free variables has s_F'y_F <= eps_mach·y_F'y_F, so the reduced H stays positive definite.
 *
 * Batching: each problem is a small state machine that always has its next trial point ready
 * (or is finished). One round packs the trial points of all unfinished problems, calls the
 * callback once, and lets every problem consume its own (f, g): accept or backtrack, update its
 * own history, and prepare its next trial. Problems never read each other's data, so the result
 * of a problem does not depend on which others run with it. */
#include <float.h>
#include <math.h>
#include <string.h>

#include "core/threads.h"
#include "optim/lbfgs.h"

#define ARMIJO_C1 1e-4       /* sufficient-decrease constant (N&W §3.1: c1 = 1e-4) */
#define MAX_BACKTRACKS 40    /* per iteration; then restart along steepest descent */
#define CURV_EPS DBL_EPSILON /* s'y > CURV_EPS·y'y to keep a pair */

enum { PH_PENDING = 0, PH_DONE = 1 };

typedef struct lb_prob {
    double f;       /* objective at the accepted x */
    double t;       /* current step along p */
    double dec;     /* g'(x(t) - x) of the current trial (< 0) */
    double gamma;   /* H0 = gamma·I (N&W eq. 7.20) */
    size_t iter, evals, backtracks;
    size_t head, count; /* history ring: oldest at head, `count` pairs */
    int phase;
    int started;    /* the start point has been evaluated */
    int sd;         /* current direction is steepest descent with an empty history */
    nnpi_lbfgs_stop stop;
} lb_prob;

typedef struct lb_ws {
    size_t n, d, m;
    const float *lo, *hi;
    const nnpi_lbfgs_opts *o;
    float *x;      /* n × d, caller's: accepted iterates */
    float *g;      /* n × d, gradient at the accepted iterates */
    double *p;     /* n × d, search directions */
    float *xt;     /* n × d, trial points */
    float *S, *Y;  /* n × m × d, curvature pairs */
    float *xb, *gb; /* n × d, packed batch */
    double *fb;    /* n */
    size_t *ids;   /* n */
    lb_prob *pr;   /* n */
    double *alpha, *rho; /* n × m, each problem's scratch of the two-loop recursion */
    double *fmask; /* n × d, scratch: 1 for the free variables of the step, 0 for the fixed */
} lb_ws;

void nnpi_lbfgs_opts_default(nnpi_lbfgs_opts *o)
{
    o->m = 10;
    o->max_iter = 15000;
    o->max_evals = 15000;
    o->pgtol = 1e-5;
    o->ftol = 1e7 * DBL_EPSILON;
}

/* Written as two selects so that the compiler emits max/min instructions, not branches (which
 * mispredict on images, where many pixels sit on a bound). */
static inline double proj(double v, float lo, float hi)
{
    v = v < (double)lo ? (double)lo : v;
    return v > (double)hi ? (double)hi : v;
}

/* ||P[x - g] - x||_inf */
NNPI_SIMD_CLONES static double pg_norm(const lb_ws *w, const float *x, const float *g)
{
    double r = 0;
    for (size_t j = 0; j < w->d; j++) {
        double v = fabs(proj((double)x[j] - (double)g[j], w->lo[j], w->hi[j]) - (double)x[j]);
        r = v > r ? v : r;
    }
    return r;
}

static void steepest_descent(lb_ws *w, size_t i)
{
    const size_t d = w->d;
    const float *g = w->g + i * d;
    double *p = w->p + i * d, gg = 0;
    lb_prob *P = &w->pr[i];
    for (size_t j = 0; j < d; j++) {
        p[j] = -(double)g[j];
        gg += (double)g[j] * (double)g[j];
    }
    P->count = 0;
    P->head = 0;
    P->gamma = 1;
    P->sd = 1;
    P->backtracks = 0;
    /* No curvature information yet: a first step of length at most 1 (as L-BFGS-B does). */
    P->t = gg > 1 ? 1 / sqrt(gg) : 1;
}

/* Search direction for problem i at its accepted (x, g). */
/* Sums of the two-loop recursion over the free variables (mask fm), in double with four
 * partial sums each: a single accumulator makes these loops latency-bound, and they are the
 * optimiser's main cost (10 pairs × d per step). */
NNPI_SIMD_CLONES static void masked_dots(const float *s, const float *y, const double *fm, const double *p,
                        size_t d, double *sy, double *yy, double *sq)
{
    double a[4] = {0}, b[4] = {0}, c[4] = {0};
    size_t j = 0;
    for (; j + 4 <= d; j += 4)
        for (size_t l = 0; l < 4; l++) {
            double yj = (double)y[j + l] * fm[j + l];
            a[l] += (double)s[j + l] * yj;
            b[l] += yj * yj;
            c[l] += (double)s[j + l] * p[j + l];
        }
    for (; j < d; j++) {
        double yj = (double)y[j] * fm[j];
        a[0] += (double)s[j] * yj;
        b[0] += yj * yj;
        c[0] += (double)s[j] * p[j];
    }
    *sy = (a[0] + a[1]) + (a[2] + a[3]);
    *yy = (b[0] + b[1]) + (b[2] + b[3]);
    *sq = (c[0] + c[1]) + (c[2] + c[3]);
}

/* Σ u[j]·p[j] with four partial sums (see masked_dots). */
/* p += c·(u ⊙ fm), element-wise. */
NNPI_SIMD_CLONES static void axpy_masked(double *p, double c, const float *u, const double *fm,
                                         size_t d)
{
    for (size_t j = 0; j < d; j++) p[j] += c * ((double)u[j] * fm[j]);
}

NNPI_SIMD_CLONES static double dot_fd(const float *u, const double *p, size_t d)
{
    double a[4] = {0};
    size_t j = 0;
    for (; j + 4 <= d; j += 4)
        for (size_t l = 0; l < 4; l++) a[l] += (double)u[j + l] * p[j + l];
    for (; j < d; j++) a[0] += (double)u[j] * p[j];
    return (a[0] + a[1]) + (a[2] + a[3]);
}

static void direction(lb_ws *w, size_t i)
{
    const size_t d = w->d, m = w->m;
    const float *x = w->x + i * d, *g = w->g + i * d, *lo = w->lo, *hi = w->hi;
    double *p = w->p + i * d;
    lb_prob *P = &w->pr[i];
    if (P->count == 0) {
        steepest_descent(w, i);
        return;
    }
    /* Active set of the step (Bertsekas 1982, with eps = 0): at a bound with the gradient
     * pushing outward. A positive eps (variables near a bound) was tried: on a 10-D Rosenbrock
     * whose minimum sits on a corner of the box it multiplied the iterations by 20, because
     * nearly-active variables then creep towards the bound with the tiny gamma-scaled step. */
    /* The free set is a 0/1 mask rather than an index list: dense loops over d without
     * gathers (fixed entries of p stay exactly 0, so plain sums over all j equal the sums over
     * the free set, in the same order). */
    double *fm = w->fmask + i * d, *alpha = w->alpha + i * m, *rho = w->rho + i * m;
    size_t nf = 0;
    for (size_t j = 0; j < d; j++) {
        double xj = x[j], gj = g[j];
        int fixed = (xj <= (double)lo[j] && gj > 0) || (xj >= (double)hi[j] && gj < 0);
        fm[j] = fixed ? 0.0 : 1.0;
        p[j] = fixed ? 0.0 : gj; /* q of the two-loop recursion */
        nf += !fixed;
    }
    /* Two-loop recursion on the free variables (N&W Alg. 7.4), newest pair first. */
    for (size_t k = P->count; k-- > 0;) {
        size_t slot = (P->head + k) % m;
        const float *s = w->S + (i * m + slot) * d, *y = w->Y + (i * m + slot) * d;
        double sy, yy, sq;
        masked_dots(s, y, fm, p, d, &sy, &yy, &sq);
        if (!(sy > CURV_EPS * yy) || !(sy > 0)) {
            rho[k] = 0; /* pair carries no positive curvature on F: skipped */
            continue;
        }
        rho[k] = 1 / sy;
        alpha[k] = sq / sy;
        axpy_masked(p, -alpha[k], y, fm, d);
    }
    for (size_t j = 0; j < d; j++) p[j] *= P->gamma;
    for (size_t k = 0; k < P->count; k++) {
        if (rho[k] == 0) continue;
        size_t slot = (P->head + k) % m;
        const float *s = w->S + (i * m + slot) * d, *y = w->Y + (i * m + slot) * d;
        double yr = dot_fd(y, p, d);
        double c = alpha[k] - rho[k] * yr;
        axpy_masked(p, c, s, fm, d);
    }
    for (size_t j = 0; j < d; j++) p[j] = -p[j];
    double gp = dot_fd(g, p, d);
    if (nf > 0 && !(gp < 0)) { /* not a descent direction (rounding): restart */
        steepest_descent(w, i);
        return;
    }
    P->sd = 0;
    P->backtracks = 0;
    P->t = 1;
}

/* Writes the trial point P[x + t·p]; returns 1 when it moves and g'(x(t) - x) < 0. */
/* xt = P[x + t·p] and g'(xt − x), with four partial sums; *moved tells whether xt ≠ x. */
NNPI_SIMD_CLONES static double trial_point(const float *x, const double *p, double t,
                                           const float *lo, const float *hi, const float *g,
                                           size_t d, float *xt, int *moved)
{
    double dec[4] = {0}, mv[4] = {0};
    size_t j = 0;
    for (; j + 4 <= d; j += 4)
        for (size_t l = 0; l < 4; l++) {
            /* The bounds are floats, so rounding a value inside [lo, hi] to float stays inside. */
            xt[j + l] = (float)proj((double)x[j + l] + t * p[j + l], lo[j + l], hi[j + l]);
            double dx = (double)xt[j + l] - (double)x[j + l];
            mv[l] += fabs(dx);
            dec[l] += (double)g[j + l] * dx;
        }
    for (; j < d; j++) {
        xt[j] = (float)proj((double)x[j] + t * p[j], lo[j], hi[j]);
        double dx = (double)xt[j] - (double)x[j];
        mv[0] += fabs(dx);
        dec[0] += (double)g[j] * dx;
    }
    *moved = (mv[0] + mv[1]) + (mv[2] + mv[3]) > 0;
    return (dec[0] + dec[1]) + (dec[2] + dec[3]);
}

/* Writes the trial point P[x + t·p]; returns 1 when it moves and g'(x(t) - x) < 0. */
static int make_trial(lb_ws *w, size_t i)
{
    const size_t d = w->d;
    lb_prob *P = &w->pr[i];
    int moved;
    P->dec = trial_point(w->x + i * d, w->p + i * d, P->t, w->lo, w->hi, w->g + i * d, d,
                         w->xt + i * d, &moved);
    return moved && P->dec < 0;
}

static void finish(lb_ws *w, size_t i, nnpi_lbfgs_stop why)
{
    w->pr[i].phase = PH_DONE;
    w->pr[i].stop = why;
}

/* Prepares the next trial from the current (p, t); when the projected step does not decrease
 * the model, restarts along steepest descent once, else the problem has stalled. */
static void schedule(lb_ws *w, size_t i)
{
    lb_prob *P = &w->pr[i];
    if (P->evals >= w->o->max_evals) {
        finish(w, i, NNPI_LBFGS_MAX_EVALS);
        return;
    }
    for (;;) {
        if (make_trial(w, i)) return;
        if (P->sd) {
            finish(w, i, NNPI_LBFGS_STALLED);
            return;
        }
        steepest_descent(w, i);
    }
}

/* A new accepted iterate: convergence tests, then the next direction and trial. `f_old` is the
 * objective before the step just taken (unused at the start point). */
static void next_step(lb_ws *w, size_t i, double f_old)
{
    lb_prob *P = &w->pr[i];
    const size_t d = w->d;
    double pgn = pg_norm(w, w->x + i * d, w->g + i * d);
    if (pgn <= w->o->pgtol) {
        finish(w, i, NNPI_LBFGS_PGTOL);
        return;
    }
    if (P->iter > 0) {
        double scale = fmax(fmax(fabs(f_old), fabs(P->f)), 1.0);
        if (f_old - P->f <= w->o->ftol * scale) {
            finish(w, i, NNPI_LBFGS_FTOL);
            return;
        }
    }
    if (P->iter >= w->o->max_iter) {
        finish(w, i, NNPI_LBFGS_MAX_ITER);
        return;
    }
    direction(w, i);
    schedule(w, i);
}

/* Consumes the evaluation (ft, gt) of problem i's trial point. */
static void consume(lb_ws *w, size_t i, double ft, const float *gt)
{
    const size_t d = w->d, m = w->m;
    lb_prob *P = &w->pr[i];
    float *x = w->x + i * d, *g = w->g + i * d;
    const float *xt = w->xt + i * d;
    int finite = isfinite(ft) && nnpi_first_nonfinite(gt, d) == d;
    P->evals++;
    if (!P->started) {
        P->started = 1;
        if (!finite) {
            P->f = ft;
            finish(w, i, NNPI_LBFGS_NONFINITE);
            return;
        }
        memcpy(x, xt, d * sizeof(float));
        memcpy(g, gt, d * sizeof(float));
        P->f = ft;
        next_step(w, i, NAN);
        return;
    }
    if (finite && ft <= P->f + ARMIJO_C1 * P->dec) {
        /* Accept. Curvature pair s = x+ - x, y = g+ - g, kept when s'y > eps·y'y. */
        double sy = 0, yy = 0;
        for (size_t j = 0; j < d; j++) {
            float s = (float)((double)xt[j] - (double)x[j]);
            float y = (float)((double)gt[j] - (double)g[j]);
            sy += (double)s * (double)y;
            yy += (double)y * (double)y;
        }
        if (sy > CURV_EPS * yy && sy > 0) {
            size_t slot;
            if (P->count < m)
                slot = (P->head + P->count++) % m;
            else {
                slot = P->head;
                P->head = (P->head + 1) % m;
            }
            float *S = w->S + (i * m + slot) * d, *Y = w->Y + (i * m + slot) * d;
            for (size_t j = 0; j < d; j++) {
                S[j] = (float)((double)xt[j] - (double)x[j]);
                Y[j] = (float)((double)gt[j] - (double)g[j]);
            }
            P->gamma = sy / yy;
        }
        double f_old = P->f;
        memcpy(x, xt, d * sizeof(float));
        memcpy(g, gt, d * sizeof(float));
        P->f = ft;
        P->iter++;
        next_step(w, i, f_old);
        return;
    }
    /* Backtrack: minimiser of the quadratic through f(x), the slope dec/t and f(x(t)),
     * safeguarded to [0.1, 0.5]·t (N&W §3.5). */
    double r = 0.1;
    if (finite) {
        double den = 2 * (ft - P->f - P->dec);
        r = den > 0 ? -P->dec / den : 0.5;
        if (!(r >= 0.1)) r = 0.1;
        if (r > 0.5) r = 0.5;
    }
    if (++P->backtracks > MAX_BACKTRACKS) {
        if (P->sd) {
            finish(w, i, NNPI_LBFGS_STALLED);
            return;
        }
        steepest_descent(w, i);
    } else
        P->t *= r;
    schedule(w, i);
}

typedef struct consume_job {
    lb_ws *w;
} consume_job;

/* Consumes the evaluations [a0, a1) of the packed round (no BLAS here: safe in a team). */
static void consume_range(void *ctx, size_t a0, size_t a1)
{
    lb_ws *w = ((consume_job *)ctx)->w;
    for (size_t a = a0; a < a1; a++) consume(w, w->ids[a], w->fb[a], w->gb + a * w->d);
}

static void fill_results(const lb_ws *w, nnpi_lbfgs_result *res)
{
    if (res == NULL) return;
    for (size_t i = 0; i < w->n; i++) {
        const lb_prob *P = &w->pr[i];
        res[i].f = P->f;
        res[i].iterations = P->iter;
        res[i].evaluations = P->evals;
        res[i].stop = P->phase == PH_DONE ? P->stop : NNPI_LBFGS_RUNNING;
        res[i].converged = res[i].stop == NNPI_LBFGS_PGTOL || res[i].stop == NNPI_LBFGS_FTOL;
    }
}

static void ws_free(lb_ws *w)
{
    nnpi_free(w->g);
    nnpi_free(w->p);
    nnpi_free(w->xt);
    nnpi_free(w->S);
    nnpi_free(w->Y);
    nnpi_free(w->xb);
    nnpi_free(w->gb);
    nnpi_free(w->fb);
    nnpi_free(w->ids);
    nnpi_free(w->pr);
    nnpi_free(w->alpha);
    nnpi_free(w->rho);
    nnpi_free(w->fmask);
}

static nnp_status check_args(size_t n, size_t d, const float *x, const float *lo,
                             const float *hi, nnpi_batch_fg fg, const nnpi_lbfgs_opts *o)
{
    static const char fn[] = "nnpi_lbfgsb_minimize";
    if (n == 0) return nnpi_error(NNP_EINVAL, "%s: number of problems n is 0", fn);
    if (d == 0) return nnpi_error(NNP_EINVAL, "%s: dimension d is 0", fn);
    if (x == NULL) return nnpi_error(NNP_EINVAL, "%s: x is NULL", fn);
    if (lo == NULL) return nnpi_error(NNP_EINVAL, "%s: lo is NULL", fn);
    if (hi == NULL) return nnpi_error(NNP_EINVAL, "%s: hi is NULL", fn);
    if (fg == NULL) return nnpi_error(NNP_EINVAL, "%s: fg is NULL", fn);
    if (o->m == 0) return nnpi_error(NNP_EINVAL, "%s: opts.m (history size) is 0", fn);
    if (o->max_iter == 0) return nnpi_error(NNP_EINVAL, "%s: opts.max_iter is 0", fn);
    if (o->max_evals == 0) return nnpi_error(NNP_EINVAL, "%s: opts.max_evals is 0", fn);
    if (!(o->pgtol >= 0) || isinf(o->pgtol))
        return nnpi_error(NNP_EINVAL, "%s: opts.pgtol = %g is not a finite value >= 0", fn, o->pgtol);
    if (!(o->ftol >= 0) || isinf(o->ftol))
        return nnpi_error(NNP_EINVAL, "%s: opts.ftol = %g is not a finite value >= 0", fn, o->ftol);
    for (size_t j = 0; j < d; j++) {
        if (isnan(lo[j]) || isnan(hi[j]) || lo[j] > hi[j] || lo[j] == INFINITY || hi[j] == -INFINITY)
            return nnpi_error(NNP_EINVAL, "%s: bounds of variable %zu are invalid: lo = %g > hi = %g "
                              "or not a number", fn, j, (double)lo[j], (double)hi[j]);
    }
    const size_t nd = nnpi_mul(n, d);
    if (nd == SIZE_MAX) return nnpi_error(NNP_EINVAL, "%s: n × d = %zu × %zu overflows", fn, n, d);
    const size_t k = nnpi_first_nonfinite(x, nd);
    if (k < nd)
        return nnpi_error(NNP_EINVAL, "%s: start point x[%zu] (problem %zu) is not finite", fn, k,
                          k / d);
    return NNP_OK;
}

nnp_status nnpi_lbfgsb_minimize(size_t n, size_t d, float *x, const float *lo, const float *hi,
                                nnpi_batch_fg fg, void *ctx, const nnpi_lbfgs_opts *o,
                                nnpi_lbfgs_result *res)
{
    nnpi_lbfgs_opts defaults;
    nnpi_lbfgs_opts_default(&defaults);
    if (o == NULL) o = &defaults;
    NNPI_TRY(check_args(n, d, x, lo, hi, fg, o));

    lb_ws w;
    memset(&w, 0, sizeof w);
    w.n = n;
    w.d = d;
    w.m = o->m;
    w.lo = lo;
    w.hi = hi;
    w.o = o;
    w.x = x;
    const size_t nd = n * d, nmd = nnpi_mul(nnpi_mul(n, o->m), d);
    w.g = nnpi_calloc(nd, sizeof(float));
    w.p = nnpi_calloc(nd, sizeof(double));
    w.xt = nnpi_calloc(nd, sizeof(float));
    w.S = nnpi_calloc(nmd, sizeof(float));
    w.Y = nnpi_calloc(nmd, sizeof(float));
    w.xb = nnpi_calloc(nd, sizeof(float));
    w.gb = nnpi_calloc(nd, sizeof(float));
    w.fb = nnpi_calloc(n, sizeof(double));
    w.ids = nnpi_calloc(n, sizeof(size_t));
    w.pr = nnpi_calloc(n, sizeof(lb_prob));
    w.alpha = nnpi_calloc(nnpi_mul(n, o->m), sizeof(double));
    w.rho = nnpi_calloc(nnpi_mul(n, o->m), sizeof(double));
    w.fmask = nnpi_calloc(nd, sizeof(double));
    if (!w.g || !w.p || !w.xt || !w.S || !w.Y || !w.xb || !w.gb || !w.fb || !w.ids || !w.pr ||
        !w.alpha || !w.rho || !w.fmask) {
        ws_free(&w);
        return nnpi_error(NNP_ENOMEM,
                          "nnpi_lbfgsb_minimize: out of memory for %zu problems of dimension %zu "
                          "with history %zu", n, d, o->m);
    }

    /* The start is projected onto the box: f is never evaluated outside it. */
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < d; j++)
            w.xt[i * d + j] = (float)proj((double)x[i * d + j], lo[j], hi[j]);
        memcpy(x + i * d, w.xt + i * d, d * sizeof(float));
        w.pr[i].phase = PH_PENDING;
        w.pr[i].gamma = 1;
        w.pr[i].f = NAN;
    }

    nnp_status status = NNP_OK;
    for (;;) {
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
            if (w.pr[i].phase == PH_PENDING) w.ids[k++] = i;
        if (k == 0) break;
        /* the trial points of the pending problems, packed; while every problem is pending
         * they already are (the callback only reads them, and consume() writes xt after) */
        const float *xb = w.xt;
        if (k < n) {
            for (size_t a = 0; a < k; a++)
                memcpy(w.xb + a * d, w.xt + w.ids[a] * d, d * sizeof(float));
            xb = w.xb;
        }
        status = fg(ctx, k, w.ids, xb, w.fb, w.gb);
        if (status != NNP_OK) break;
        /* problems never touch each other's state (file comment), so the threads take
         * contiguous parts of the round, and every problem's arithmetic is the same on any
         * thread: the same bits for every thread count */
        consume_job job = {&w};
        nnpi_parallel_range(k, nnpi_mul(nnpi_mul(o->m, d), 8), consume_range, &job);
    }
    fill_results(&w, res);
    ws_free(&w);
    return status;
}
