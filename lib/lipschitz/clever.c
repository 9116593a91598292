/* CLEVER-style local Lipschitz estimate (Weng, Zhang, Chen, Yi, Su, Gao, Hsieh & Daniel, 2018,
 * "Evaluating the robustness of neural networks: an extreme value theory approach", ICLR):
 * the largest gradient norm of the margin g(x) = z_label(x) − z_target(x) over a ball around
 * an input is estimated by sampling the ball, taking the maximum of each batch of samples and
 * fitting a reverse Weibull distribution to the batch maxima; its location parameter (the
 * upper end of its support) is the estimate. It is an estimate, not a bound: the sampled
 * maximum is a true lower bound of the local constant, the fitted location is not certified. */
#include <math.h>
#include <string.h>

#include "nnprobe/grad.h"
#include "lipschitz/clever.h"
#include "lipschitz/internal.h"

/* Profile log-likelihood of (μ, k) for z_i = μ − y_i > 0 (σ profiled out), up to a constant:
 * n ln k − n ln mean(z^k) + (k − 1) Σ ln z − n. */
static double profile_ll(const double *y, size_t n, double mu, double k)
{
    /* ln mean(z^k) by log-sum-exp: z^k under- or overflows for the shapes searched */
    double sl = 0.0, top = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        const double lz = log(mu - y[i]);
        sl += lz;
        top = fmax(top, k * lz);
    }
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += exp(k * log(mu - y[i]) - top);
    const double log_mean = top + log(s / (double)n);
    return (double)n * (log(k) - log_mean) + (k - 1.0) * sl - (double)n;
}

/* Maximises f over [lo, hi] (in the variable t): grid of 24 points, then golden section on
 * the bracket around the best grid point. */
typedef double (*scalar_fn)(void *ctx, double t);

static double maximise(scalar_fn f, void *ctx, double lo, double hi, double *best_t)
{
    const int grid = 24;
    double bt = lo, bv = -INFINITY;
    for (int i = 0; i <= grid; i++) {
        const double t = lo + (hi - lo) * i / grid, v = f(ctx, t);
        if (v > bv) bv = v, bt = t;
    }
    double a = fmax(lo, bt - (hi - lo) / grid), b = fmin(hi, bt + (hi - lo) / grid);
    const double g = 0.6180339887498949;
    double c = b - g * (b - a), d = a + g * (b - a), fc = f(ctx, c), fd = f(ctx, d);
    for (int it = 0; it < 60; it++) {
        if (fc > fd) {
            b = d, d = c, fd = fc;
            c = b - g * (b - a), fc = f(ctx, c);
        } else {
            a = c, c = d, fc = fd;
            d = a + g * (b - a), fd = f(ctx, d);
        }
    }
    const double t = 0.5 * (a + b), v = f(ctx, t);
    if (v > bv) bv = v, bt = t;
    *best_t = bt;
    return bv;
}

typedef struct fit_ctx {
    const double *y;
    size_t n;
    double ymax, mu;
} fit_ctx;

static double ll_of_logk(void *vctx, double t)
{
    const fit_ctx *c = vctx;
    return profile_ll(c->y, c->n, c->mu, exp(t));
}

static double ll_of_logdist(void *vctx, double t)
{
    fit_ctx *c = vctx;
    c->mu = c->ymax + exp(t);
    double lk;
    return maximise(ll_of_logk, c, 0.0, log(1000.0), &lk);
}

void nnpi_reverse_weibull_fit(const double *y, size_t n, double *mu, double *k, double *sigma)
{
    double ymin = y[0], ymax = y[0];
    for (size_t i = 1; i < n; i++) ymin = fmin(ymin, y[i]), ymax = fmax(ymax, y[i]);
    const double range = ymax - ymin;
    if (!(range > 0.0)) {
        *mu = ymax;
        if (k) *k = NAN;
        if (sigma) *sigma = 0.0;
        return;
    }
    fit_ctx c = {y, n, ymax, ymax};
    double t;
    /* the end point lies between max y (+ a hair) and max y + 10 ranges */
    maximise(ll_of_logdist, &c, log(1e-6 * range), log(10.0 * range), &t);
    c.mu = ymax + exp(t);
    double lk;
    maximise(ll_of_logk, &c, 0.0, log(1000.0), &lk);
    *mu = c.mu;
    const double kk = exp(lk);
    if (k) *k = kk;
    if (sigma) { /* σ = mean(z^k)^(1/k), by log-sum-exp as above */
        double top = -INFINITY, s = 0.0;
        for (size_t i = 0; i < n; i++) top = fmax(top, kk * log(c.mu - y[i]));
        for (size_t i = 0; i < n; i++) s += exp(kk * log(c.mu - y[i]) - top);
        *sigma = exp((top + log(s / (double)n)) / kk);
    }
}

NNP_API nnp_status nnp_lipschitz_clever(const nnp_net *net, const float *x, int32_t label,
                                        int32_t target, double radius,
                                        const nnp_lipschitz_opts *opts, double *estimate,
                                        double *max_sampled, double *score)
{
    const char *f = "nnp_lipschitz_clever";
    NNPI_CHECK_NULL(net);
    NNPI_CHECK_NULL(x);
    NNPI_CHECK_NULL(estimate);
    nnp_lipschitz_opts o;
    nnpi_lip_default_opts(&o);
    NNPI_TRY(nnpi_opts_copy(&o, sizeof o, opts, "nnp_lipschitz_clever: opts"));
    const size_t last = net->n_nodes - 1, classes = net->nodes[last].out_size;
    if (last == 0) return nnpi_error(NNP_EINVAL, "%s: the net has no layers", f);
    if (label < 0 || (size_t)label >= classes)
        return nnpi_error(NNP_EINVAL, "%s: label %d is not a class 0..%zu", f, (int)label, classes - 1);
    if (target < 0 || (size_t)target >= classes || target == label)
        return nnpi_error(NNP_EINVAL, "%s: target %d must be a class 0..%zu other than the label",
                          f, (int)target, classes - 1);
    if (!(radius > 0.0) || !isfinite(radius))
        return nnpi_error(NNP_EINVAL, "%s: radius = %g, must be > 0 and finite", f, radius);
    if (o.clever_batches < 2)
        return nnpi_error(NNP_EINVAL, "%s: opts.clever_batches = %zu, must be >= 2", f,
                          o.clever_batches);
    if (o.clever_samples == 0) return nnpi_error(NNP_EINVAL, "%s: opts.clever_samples is 0", f);
    const size_t D = net->nodes[0].out_size, S = o.clever_samples;
    /* a NaN pixel made every sample NaN, and the ReLU nets of 0.1 gave an estimate of 0 */
    NNPI_TRY(nnpi_check_finite_input(x, 1, D, f, "x"));
    nnp_workspace *ws = NULL;
    NNPI_TRY(nnp_workspace_create(net, S, &ws));
    float *xs = nnpi_malloc(nnpi_mul(nnpi_mul(S, D), sizeof(float)));
    float *dx = nnpi_malloc(nnpi_mul(nnpi_mul(S, D), sizeof(float)));
    float *v = nnpi_malloc(nnpi_mul(nnpi_mul(S, classes), sizeof(float)));
    float *z = nnpi_malloc(nnpi_mul(classes, sizeof(float)));
    double *maxima = nnpi_malloc(nnpi_mul(o.clever_batches, sizeof(double)));
    nnp_status st = NNP_OK;
    if (!xs || !dx || !v || !z || !maxima) {
        st = nnpi_error(NNP_ENOMEM, "%s: out of memory", f);
        goto done;
    }
    memset(v, 0, S * classes * sizeof *v);
    for (size_t i = 0; i < S; i++) {
        v[i * classes + (size_t)label] = 1.0f;
        v[i * classes + target] = -1.0f;
    }
    nnpi_rng rng;
    nnpi_rng_seed(&rng, o.seed);
    double best = 0.0;
    for (size_t b = 0; b < o.clever_batches; b++) {
        /* uniform in the L2 ball: Gaussian direction, radius R·U^(1/D) */
        for (size_t i = 0; i < S; i++) {
            float *p = xs + i * D;
            double nn = 0.0;
            for (size_t j = 0; j < D; j++) {
                const double g = nnpi_rng_normal(&rng);
                p[j] = (float)g;
                nn += g * g;
            }
            const double r = radius * pow(nnpi_rng_uniform(&rng), 1.0 / (double)D) / sqrt(nn);
            for (size_t j = 0; j < D; j++) p[j] = x[j] + (float)(r * p[j]);
        }
        st = nnp_grad_vjp(net, ws, xs, S, last, v, dx);
        if (st != NNP_OK) {
            /* a sample's row is not the caller's example: say which draw it was */
            if (st == NNP_ENUMERIC || st == NNP_EINVAL)
                st = nnpi_error_prefix(st, "%s: batch %zu of samples around x", f, b);
            goto done;
        }
        double m = 0.0;
        for (size_t i = 0; i < S; i++) {
            double nn = 0.0;
            for (size_t j = 0; j < D; j++) nn += (double)dx[i * D + j] * dx[i * D + j];
            m = fmax(m, sqrt(nn));
        }
        if (!isfinite(m)) {
            st = nnpi_error(NNP_ENUMERIC, "%s: a gradient norm is not finite", f);
            goto done;
        }
        maxima[b] = m;
        best = fmax(best, m);
        if (o.progress && o.progress(b + 1, o.clever_batches, o.progress_user)) {
            st = nnpi_error(NNP_ECANCELLED, "%s: cancelled by the progress callback", f);
            goto done;
        }
    }
    double mu;
    nnpi_reverse_weibull_fit(maxima, o.clever_batches, &mu, NULL, NULL);
    st = nnp_net_forward(net, ws, x, 1, z);
    if (st != NNP_OK) {
        if (st == NNP_ENUMERIC) st = nnpi_error_prefix(st, "%s: at x", f);
        goto done;
    }
    *estimate = mu;
    if (max_sampled) *max_sampled = best;
    if (score) {
        const double margin = (double)z[label] - (double)z[target];
        *score = margin <= 0.0 ? 0.0 : fmin(margin / mu, radius);
    }
done:
    nnp_workspace_free(ws);
    nnpi_free(xs);
    nnpi_free(dx);
    nnpi_free(v);
    nnpi_free(z);
    nnpi_free(maxima);
    return st;
}
