/* Lanczos with full reorthogonalisation for σ_max (see spectral.h for the method, its sources
 * and the accuracy estimate). The small tridiagonal eigenproblem of each step is solved by
 * Sturm-sequence bisection for the two largest eigenvalues (GVL §8.4.1) and one step of
 * inverse iteration for the eigenvector of the largest (GVL §8.2.2), with Gaussian elimination
 * with partial pivoting on the tridiagonal system. */
#include <float.h>
#include <math.h>
#include <string.h>

#include <cblas.h>

#include "core/spectral.h"

/* Number of eigenvalues of the k×k symmetric tridiagonal (a, b) smaller than x (Sturm count
 * by the LDLᵀ recurrence q_i = a_i − x − b_{i−1}²/q_{i−1}, GVL §8.4.1); b2 holds the b_i². */
static size_t sturm_below(const double *a, const double *b2, size_t k, double x, double tiny)
{
    size_t count = 0;
    double q = 1.0;
    for (size_t i = 0; i < k; i++) {
        double d = a[i] - x - (i > 0 ? b2[i - 1] / q : 0.0);
        if (d == 0.0) d = -tiny; /* x on an eigenvalue of a leading block: perturb */
        count += d < 0.0;
        q = d;
    }
    return count;
}

/* The idx-th smallest eigenvalue (0-based) by bisection on [lo, hi], to relative width rel. */
static double bisect(const double *a, const double *b2, size_t k, size_t idx, double lo, double hi,
                     double tiny, double rel)
{
    for (int it = 0; it < 200; it++) {
        const double mid = 0.5 * (lo + hi);
        if (mid <= lo || mid >= hi) break; /* interval at the resolution of doubles */
        if (sturm_below(a, b2, k, mid, tiny) > idx)
            hi = mid;
        else
            lo = mid;
        if (hi - lo <= rel * fmax(fabs(lo), fabs(hi))) break;
    }
    return 0.5 * (lo + hi);
}

/* Solves (T − μI) z = rhs in place (rhs → z) by elimination with partial pivoting; T is
 * (a, b), work holds 4k doubles. Zero pivots are replaced by `tiny` (μ is an eigenvalue, so the
 * system is singular to working precision; inverse iteration wants exactly that). */
static void tridiag_solve(const double *a, const double *b, size_t k, double mu, double tiny,
                          double *work, unsigned char *swapped, double *rhs)
{
    double *d = work, *du = work + k, *du2 = work + 2 * k, *dl = work + 3 * k;
    for (size_t i = 0; i < k; i++) {
        d[i] = a[i] - mu;
        du[i] = i + 1 < k ? b[i] : 0.0;
        dl[i] = i + 1 < k ? b[i] : 0.0;
        du2[i] = 0.0;
    }
    for (size_t i = 0; i + 1 < k; i++) {
        if (fabs(d[i]) >= fabs(dl[i])) {
            swapped[i] = 0;
            if (d[i] == 0.0) d[i] = tiny;
            const double f = dl[i] / d[i];
            dl[i] = f;
            d[i + 1] -= f * du[i];
        } else {
            swapped[i] = 1;
            const double f = d[i] / dl[i];
            d[i] = dl[i];
            dl[i] = f;
            const double t = du[i];
            du[i] = d[i + 1];
            d[i + 1] = t - f * d[i + 1];
            if (i + 2 < k) {
                du2[i] = du[i + 1];
                du[i + 1] = -f * du[i + 1];
            }
        }
    }
    if (d[k - 1] == 0.0) d[k - 1] = tiny;
    for (size_t i = 0; i + 1 < k; i++) {
        if (swapped[i]) {
            const double t = rhs[i];
            rhs[i] = rhs[i + 1];
            rhs[i + 1] = t;
        }
        rhs[i + 1] -= dl[i] * rhs[i];
    }
    for (size_t i = k; i-- > 0;) {
        double s = rhs[i];
        if (i + 1 < k) s -= du[i] * rhs[i + 1];
        if (i + 2 < k) s -= du2[i] * rhs[i + 2];
        rhs[i] = s / d[i];
    }
}

static double dot(const double *x, const double *y, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += x[i] * y[i];
    return s;
}

static void axpy(double a, const double *x, double *y, size_t n)
{
    for (size_t i = 0; i < n; i++) y[i] += a * x[i];
}

/* The gap refinement ρ²/(θ₁ − θ₂) of the error estimate is used only from this many steps on
 * (before, only ρ): a small Krylov space can leave two close eigenvalues unresolved inside θ₁'s
 * Ritz vector, and θ₂ then estimates λ₃, not λ₂. Measured: a 2→4 3×3 conv on 9×9 (162
 * inputs, σ₁ = 1.8526633, σ₂ = 1.8525130) claimed 7e-8 after 8 steps at σ = 1.8526063, a
 * true error of 3e-5, and resolved the pair only at 14–16 steps (from a random start it
 * claimed 1e-7 at 12 steps, 8e-5 off); from 20 steps on the estimate held. A heuristic, not a
 * certificate (see spectral.h). */
#define KT_MIN_STEPS 20

/* Below this dimension every step reorthogonalises against the whole basis (cheap there). */
#define FULL_REORTH_MAX_DIM 2048


/* Largest two eigenvalues of T_k and the unit eigenvector y of the largest. [hint_lo, hint_hi]
 * (or hint_lo > hint_hi for none): a guess of an interval holding θ₁, e.g. from the previous
 * step; each end is used only after a Sturm count has confirmed it, so a wrong guess costs one
 * count and nothing else. It saves most of the bisection steps of late Lanczos steps. */
static void ritz_top(const double *a, const double *b, size_t k, double *work,
                     unsigned char *swapped, double hint_lo, double hint_hi, double *theta1,
                     double *theta2, double *y)
{
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < k; i++) { /* Gershgorin */
        double r = (i > 0 ? fabs(b[i - 1]) : 0.0) + (i + 1 < k ? fabs(b[i]) : 0.0);
        lo = fmin(lo, a[i] - r);
        hi = fmax(hi, a[i] + r);
    }
    const double scale = fmax(fabs(lo), fabs(hi)), tiny = fmax(scale, DBL_MIN) * DBL_EPSILON;
    lo -= tiny;
    hi += tiny;
    double *b2 = work; /* the solve below overwrites work only after the bisections */
    for (size_t i = 0; i + 1 < k; i++) b2[i] = b[i] * b[i];
    /* θ₁ ∈ [l1, h1]: the hint's ends where the Sturm count confirms them */
    double l1 = lo, h1 = hi;
    if (hint_lo <= hint_hi) {
        if (hint_hi > lo && hint_hi < hi && sturm_below(a, b2, k, hint_hi, tiny) == k) h1 = hint_hi;
        if (hint_lo > lo && hint_lo < h1 && sturm_below(a, b2, k, hint_lo, tiny) <= k - 1)
            l1 = hint_lo;
    }
    /* θ₁ by bisection to 1e-11 relative, then refined below by the Rayleigh quotient of its
     * inverse-iteration vector (second-order accurate), kept inside the bisection bracket */
    const double coarse = 1e-11;
    const double t1 = bisect(a, b2, k, k - 1, l1, h1, tiny, coarse);
    const double t1_lo = t1 - coarse * fabs(t1) - tiny, t1_hi = t1 + coarse * fabs(t1) + tiny;
    /* θ₂ only sets the gap θ₁ − θ₂ of the error estimate: bisect until the bracket is within
     * 1e-3 of the gap (or 1e-9 relative), from below: lo is then a lower estimate of θ₂ */
    if (k >= 2) {
        double l2 = lo, h2 = t1_hi;
        for (int it = 0; it < 200; it++) {
            const double mid = 0.5 * (l2 + h2);
            if (mid <= l2 || mid >= h2) break;
            if (sturm_below(a, b2, k, mid, tiny) > k - 2)
                h2 = mid;
            else
                l2 = mid;
            if (h2 - l2 <= fmax(1e-3 * (t1 - h2), 1e-9 * fmax(fabs(l2), fabs(h2)))) break;
        }
        *theta2 = 0.5 * (l2 + h2);
    } else {
        *theta2 = -INFINITY;
    }
    *theta1 = t1;
    for (size_t i = 0; i < k; i++) y[i] = 1.0;
    for (int pass = 0; pass < 2; pass++) {
        tridiag_solve(a, b, k, t1, tiny, work, swapped, y);
        double nrm = sqrt(dot(y, y, k));
        if (!(nrm > 0.0) || !isfinite(nrm)) { /* degenerate: fall back to e_1 */
            for (size_t i = 0; i < k; i++) y[i] = i == 0;
            return;
        }
        for (size_t i = 0; i < k; i++) y[i] /= nrm;
    }
    double rq = 0.0;
    for (size_t i = 0; i < k; i++) rq += a[i] * y[i] * y[i] + (i + 1 < k ? 2.0 * b[i] * y[i] * y[i + 1] : 0.0);
    *theta1 = fmin(fmax(rq, t1_lo), t1_hi);
}

static void random_unit(double *v, size_t dim, uint64_t seed)
{
    nnpi_rng rng;
    nnpi_rng_seed(&rng, seed);
    double s = 0.0;
    for (size_t i = 0; i < dim; i++) {
        v[i] = nnpi_rng_normal(&rng);
        s += v[i] * v[i];
    }
    s = sqrt(s);
    for (size_t i = 0; i < dim; i++) v[i] /= s;
}

static int all_finite(const double *v, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += v[i] * 0.0; /* NaN or ±inf make the sum NaN */
    return s == 0.0;
}

static size_t basis_size(size_t dim, size_t max_basis)
{
    size_t m = max_basis < 2 ? 2 : max_basis;
    return m > dim + 1 ? dim + 1 : m; /* the Krylov space cannot exceed dim; +1 for the residual */
}

size_t nnpi_lanczos_work_doubles(size_t dim, size_t max_basis)
{
    const size_t m = basis_size(dim, max_basis);
    /* V (m × dim), w (dim), 11m + 3 small arrays, m pivot flags (rounded up to doubles) */
    return nnpi_mul(m + 1, dim) + 12 * m + 3;
}

nnp_status nnpi_lanczos_top(size_t dim, nnpi_gram_fn gram, void *ctx,
                            const nnpi_lanczos_opts *opts, double *work, nnpi_lanczos_result *res)
{
    memset(res, 0, sizeof *res);
    if (dim == 0) {
        res->converged = 1;
        return NNP_OK;
    }
    const size_t m = basis_size(dim, opts->max_basis);
    double *own = NULL;
    if (work == NULL) {
        own = work = nnpi_malloc(nnpi_mul(nnpi_lanczos_work_doubles(dim, m), sizeof(double)));
        if (own == NULL)
            return nnpi_error(NNP_ENOMEM, "lanczos: out of memory for %zu basis vectors of %zu", m,
                              dim);
    }
    double *V = work, *w = work + m * dim, *small = w + dim;
    unsigned char *swapped = (unsigned char *)(small + 11 * m + 3);
    nnp_status st = NNP_OK;
    double *alpha = small, *beta = small + m, *y = small + 2 * m, *tri = small + 3 * m,
           *h = small + 7 * m, *om_old = small + 8 * m, *om_cur = small + 9 * m + 1,
           *om_new = small + 10 * m + 2;
    /* small problems (the per-frequency ones of lib/net/conv_fourier.c) always reorthogonalise fully */
    const int full = opts->full_reorth || dim <= FULL_REORTH_MAX_DIM;
    const double eps_n = DBL_EPSILON * sqrt((double)dim), sqrt_eps = sqrt(DBL_EPSILON);
    int force_next = 0;
    om_cur[0] = 1.0;
    {
        /* the caller's start vector, or (none, zero or not finite) a random one */
        const double nrm = opts->start ? sqrt(dot(opts->start, opts->start, dim)) : 0.0;
        if (nrm > 0.0 && isfinite(nrm))
            for (size_t i = 0; i < dim; i++) V[i] = opts->start[i] / nrm;
        else
            random_unit(V, dim, opts->seed);
    }
    size_t k = 0;
    double theta = 0.0, last_err = INFINITY;
    for (;;) {
        double *vk = V + k * dim;
        st = gram(ctx, vk, w);
        if (st != NNP_OK) goto done;
        res->iterations++;
        if (!all_finite(w, dim)) {
            st = nnpi_error(NNP_ENUMERIC, "lanczos: the operator produced NaN or infinity");
            goto done;
        }
        /* Three-term recurrence, plus one local pass against v_k (cancellation in α). */
        alpha[k] = dot(vk, w, dim);
        double local, nn;
        {
            /* w ← w − α v_k − β v_{k−1}, with vₖᵀw and ‖w‖² of the result in the same pass */
            const double a = alpha[k], b = k > 0 ? beta[k - 1] : 0.0;
            const double *vp = k > 0 ? V + (k - 1) * dim : vk;
            double l = 0.0, q = 0.0;
            for (size_t i = 0; i < dim; i++) {
                const double t = w[i] - a * vk[i] - b * vp[i];
                w[i] = t;
                l += vk[i] * t;
                q += t * t;
            }
            local = l;
            nn = q;
        }
        axpy(-local, vk, w, dim);
        alpha[k] += local;
        /* ‖w − l·v_k‖² = ‖w‖² − l² (v_k is a unit vector and l = v_kᵀw); recomputed when the
         * difference cancels */
        beta[k] = local * local <= 1e-4 * nn ? sqrt(fmax(nn - local * local, 0.0))
                                              : sqrt(dot(w, w, dim));
        /* Orthogonality of the next vector to the basis, estimated by Simon's recurrence (see
         * the file comment); reorthogonalise when it exceeds √ε, and the step after too. */
        int reorth = full || force_next;
        if (!reorth && k > 0 && beta[k] > 0.0) {
            double worst = 0.0;
            for (size_t i = 0; i < k; i++) {
                double t = beta[i] * om_cur[i + 1] + (alpha[i] - alpha[k]) * om_cur[i] -
                           beta[k - 1] * om_old[i];
                if (i > 0) t += beta[i - 1] * om_cur[i - 1];
                t += copysign(eps_n * (beta[k] + beta[i]), t);
                om_new[i] = t / beta[k];
                worst = fmax(worst, fabs(om_new[i]));
            }
            reorth = worst > sqrt_eps;
        }
        if (reorth) {
            /* w ← (I − V Vᵀ) w by classical Gram–Schmidt against the whole basis, as two BLAS
             * matrix–vector products, repeated once when the norm dropped below 1/√2 of its
             * value (the DGKS criterion: Daniel, Gragg, Kaufman & Stewart, 1976) */
            const int rows = (int)(k + 1), cols = (int)dim;
            for (int pass = 0; pass < 2; pass++) {
                const double before = beta[k];
                cblas_dgemv(CblasRowMajor, CblasNoTrans, rows, cols, 1.0, V, cols, w, 1, 0.0, h, 1);
                cblas_dgemv(CblasRowMajor, CblasTrans, rows, cols, -1.0, V, cols, h, 1, 1.0, w, 1);
                alpha[k] += h[k];
                beta[k] = sqrt(dot(w, w, dim));
                if (beta[k] >= 0.7071067811865476 * before) break;
            }
            for (size_t i = 0; i < k; i++) om_new[i] = eps_n;
            force_next = !force_next; /* a triggered reorthogonalisation repeats once */
            res->reorthogonalisations++;
        }
        om_new[k] = eps_n; /* after the local pass */
        om_new[k + 1] = 1.0;
        {
            double *t = om_old;
            om_old = om_cur;
            om_cur = om_new;
            om_new = t;
        }
        const size_t kk = k + 1;
        /* Small problems, whose steps cost little next to the tridiagonal eigenproblem, test
         * convergence every second step (and whenever the basis is full, the budget spent or
         * the space about to become invariant). */
        if (full && kk % 2 == 1 && kk != m && res->iterations < opts->max_iter &&
            beta[k] > 1e3 * DBL_EPSILON * fmax(theta, fabs(alpha[k]))) {
            if (opts->progress &&
                opts->progress(opts->done_base + res->iterations, opts->total, opts->progress_user)) {
                st = nnpi_error(NNP_ECANCELLED, "lanczos: cancelled by the progress callback");
                goto done;
            }
            double *next = V + kk * dim;
            for (size_t i = 0; i < dim; i++) next[i] = w[i] / beta[k];
            k = kk;
            continue;
        }
        double theta2;
        /* the hint: θ₁ of the last check (a lower bound by interlacing, unless the basis was
         * restarted since) up to that estimate plus its error bound, with margin */
        const double hint_hi = last_err < 0.01 ? theta * (1.0 + 4.0 * last_err + 1e-9) : -1.0;
        ritz_top(alpha, beta, kk, tri, swapped, theta, hint_hi, &theta, &theta2, y);
        const double rho = beta[k] * fabs(y[k]);
        double err;
        if (theta <= 0.0) {
            err = rho > 0.0 ? INFINITY : 0.0;
        } else {
            double bound = rho;
            const double gap = theta - theta2;
            /* after a restart the small basis sees λ₂ poorly and θ − θ₂ can overestimate the
             * gap by far (measured: a 300×300 case claimed 3e-7 and was 2e-6 off): then
             * only the residual bound is used */
            if (kk >= KT_MIN_STEPS && gap > 0.0 && res->restarts == 0)
                bound = fmin(rho, rho * rho / gap);
            err = bound / (2.0 * theta);
        }
        res->rel_err = fmax(err, DBL_EPSILON); /* not better than rounding */
        last_err = err;
        if (opts->progress &&
            opts->progress(opts->done_base + res->iterations, opts->total, opts->progress_user)) {
            st = nnpi_error(NNP_ECANCELLED, "lanczos: cancelled by the progress callback");
            goto done;
        }
        /* converged, or the Krylov space is invariant (exact to rounding) */
        const int breakdown = beta[k] <= 64.0 * DBL_EPSILON * fmax(theta, DBL_MIN);
        if (err <= opts->tol || breakdown) {
            res->converged = 1;
            if (breakdown) res->rel_err = fmin(res->rel_err, 64.0 * DBL_EPSILON);
            break;
        }
        if (res->iterations >= opts->max_iter) break;
        if (kk == m) { /* basis full: restart from the Ritz vector V y */
            cblas_dgemv(CblasRowMajor, CblasTrans, (int)kk, (int)dim, 1.0, V, (int)dim, y, 1, 0.0,
                        w, 1);
            const double nrm = sqrt(dot(w, w, dim));
            for (size_t i = 0; i < dim; i++) V[i] = w[i] / nrm;
            k = 0;
            res->restarts++;
            om_cur[0] = 1.0;
            force_next = 0;
            continue;
        }
        double *next = V + kk * dim;
        for (size_t i = 0; i < dim; i++) next[i] = w[i] / beta[k];
        k = kk;
    }
    res->sigma = sqrt(fmax(theta, 0.0));
    if (opts->ritz_out) { /* V y over the current basis (rows 0..k), normalised */
        cblas_dgemv(CblasRowMajor, CblasTrans, (int)(k + 1), (int)dim, 1.0, V, (int)dim, y, 1, 0.0,
                    opts->ritz_out, 1);
        const double nrm = sqrt(dot(opts->ritz_out, opts->ritz_out, dim));
        if (nrm > 0.0)
            for (size_t i = 0; i < dim; i++) opts->ritz_out[i] /= nrm;
    }
done:
    nnpi_free(own);
    return st;
}
