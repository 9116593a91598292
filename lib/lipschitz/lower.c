/* The empirical lower bound: max over data points of ‖J(x)‖₂ by power iteration on JᵀJ, all
 * points of a batch at once (Jv: jvp.c's tangent pass; Jᵀu: the backward pass). */
#include <math.h>
#include <string.h>

#include "lipschitz/internal.h"
#include "lipschitz/jvp.h"

/* ---------------------------------------------------------------------------------------- */
/* Lower bound: power iteration on J(x)ᵀJ(x) per point, all points of a batch at once. */

typedef struct lower_buffers {
    nnp_workspace *ws;
    float *lin, *v, *w;
    double *est;
} lower_buffers;

static void free_lower(lower_buffers *b)
{
    nnp_workspace_free(b->ws);
    nnpi_free(b->lin);
    nnpi_free(b->v);
    nnpi_free(b->w);
    nnpi_free(b->est);
}

/* Normalises each of n rows of length d; returns their former norms in norms (may be NULL). */
static void normalise_rows(float *v, size_t n, size_t d, double *norms)
{
    for (size_t i = 0; i < n; i++) {
        double s = 0.0;
        for (size_t j = 0; j < d; j++) s += (double)v[i * d + j] * v[i * d + j];
        s = sqrt(s);
        if (norms) norms[i] = s;
        const float inv = s > 0.0 ? (float)(1.0 / s) : 0.0f;
        for (size_t j = 0; j < d; j++) v[i * d + j] *= inv;
    }
}

NNP_API nnp_status nnp_lipschitz_lower(const nnp_net *net, const float *x, size_t n, size_t layer,
                                       const nnp_lipschitz_opts *opts, double *norms,
                                       double *lower, size_t *argmax)
{
    const char *f = "nnp_lipschitz_lower";
    NNPI_CHECK_NULL(net);
    NNPI_CHECK_NULL(x);
    NNPI_CHECK_NULL(lower);
    if (n == 0) return nnpi_error(NNP_EINVAL, "%s: n is 0", f);
    NNPI_TRY(nnpi_check_layer(net, layer, f));
    if (layer == 0)
        return nnpi_error(NNP_EINVAL, "%s: layer 0 is the input; its Jacobian is the identity", f);
    nnp_lipschitz_opts o;
    nnpi_lip_default_opts(&o);
    NNPI_TRY(nnpi_opts_copy(&o, sizeof o, opts, "nnp_lipschitz_lower: opts"));
    NNPI_TRY(nnpi_lip_check_opts(&o, f));
    if (o.lower_from >= layer)
        return nnpi_error(NNP_EINVAL, "%s: opts.lower_from = %zu, must be below layer %zu", f,
                          o.lower_from, layer);
    NNPI_TRY(nnpi_jvp_check(net, layer));
    const size_t F = o.lower_from, D = net->nodes[F].out_size, M = net->nodes[layer].out_size;
    const size_t DX = net->nodes[0].out_size; /* the points are net inputs */
    if (n > SIZE_MAX / DX) return nnpi_error(NNP_EINVAL, "%s: n = %zu is too large", f, n);
    if (o.first_index > SIZE_MAX - n)
        return nnpi_error(NNP_EINVAL, "%s: opts.first_index = %zu plus n = %zu overflows", f,
                          o.first_index, n);
    NNPI_TRY(nnpi_check_finite_input(x, n, DX, f, "x"));
    const size_t B = o.batch_size < n ? o.batch_size : n;
    lower_buffers b = {0};
    nnp_status st = nnp_workspace_create(net, B, &b.ws);
    if (st != NNP_OK) return st;
    st = nnpi_linear_params(net, &b.lin);
    if (st != NNP_OK) goto done;
    b.v = nnpi_malloc(nnpi_mul(nnpi_mul(B, D), sizeof(float)));
    b.w = nnpi_malloc(nnpi_mul(nnpi_mul(B, D), sizeof(float)));
    b.est = nnpi_malloc(nnpi_mul(2 * B, sizeof(double)));
    if (!b.v || !b.w || !b.est) {
        st = nnpi_error(NNP_ENOMEM, "%s: out of memory for a batch of %zu", f, B);
        goto done;
    }
    double best = -1.0;
    size_t best_i = 0;
    const uint64_t batches = (n + B - 1) / B, total = batches * o.power_iters;
    uint64_t done_steps = 0;
    for (size_t i0 = 0; i0 < n; i0 += B) {
        const size_t nb = n - i0 < B ? n - i0 : B;
        const float *xb = x + i0 * DX;
        nnpi_forward(net, b.ws, xb, nb, layer);
        /* a Jacobian at a point where φ is not finite means nothing (and once was 0) */
        if ((st = nnpi_check_output(net, b.ws, xb, nb, layer, o.first_index + i0, f)) != NNP_OK)
            goto done;
        for (size_t i = 0; i < nb; i++) { /* start vector of point i0+i, whatever the batching */
            nnpi_rng rng;
            const uint64_t global = (uint64_t)o.first_index + i0 + i; /* shard.h */
            nnpi_rng_seed(&rng, o.seed ^ (0x9e3779b97f4a7c15ull * (global + 1)));
            for (size_t j = 0; j < D; j++) b.v[i * D + j] = (float)nnpi_rng_normal(&rng);
        }
        normalise_rows(b.v, nb, D, NULL);
        double *est = b.est, *prev = b.est + B;
        for (size_t i = 0; i < nb; i++) est[i] = prev[i] = 0.0;
        for (size_t it = 0; it < o.power_iters; it++) {
            nnpi_jvp(net, b.ws, xb, b.lin, nb, F, layer, b.v); /* u = J v in ws->grad[layer] */
            int settled = 1;
            for (size_t i = 0; i < nb; i++) {
                const float *u = b.ws->grad[layer] + i * M;
                double s = 0.0;
                for (size_t j = 0; j < M; j++) s += (double)u[j] * u[j];
                s = sqrt(s); /* ‖J v‖ with ‖v‖ = 1: a lower bound of ‖J‖ */
                if (!isfinite(s)) {
                    st = nnpi_error(NNP_ENUMERIC, "%s: the Jacobian at point %zu is not finite", f,
                                    o.first_index + i0 + i);
                    goto done;
                }
                prev[i] = est[i];
                if (s > est[i]) est[i] = s;
                if (!(est[i] - prev[i] <= o.tol * est[i])) settled = 0;
            }
            done_steps++;
            if (o.progress && o.progress(done_steps, total, o.progress_user)) {
                st = nnpi_error(NNP_ECANCELLED, "%s: cancelled by the progress callback", f);
                goto done;
            }
            if ((settled && it > 0) || it + 1 == o.power_iters) break;
            nnpi_backward_begin(b.ws); /* w = Jᵀ u, then v = w / ‖w‖ */
            b.ws->grad_set[layer] = 1;
            if (F == 0) {
                nnpi_backward(net, b.ws, xb, nb, layer, b.w, NULL, 0);
            } else { /* the adjoint of φ_F; zero if φ_layer does not depend on it */
                nnpi_backward(net, b.ws, xb, nb, layer, NULL, NULL, 0);
                if (b.ws->grad_set[F])
                    memcpy(b.w, b.ws->grad[F], nb * D * sizeof(float));
                else
                    memset(b.w, 0, nb * D * sizeof(float));
            }
            normalise_rows(b.w, nb, D, NULL);
            float *t = b.v;
            b.v = b.w;
            b.w = t;
        }
        const uint64_t batch_end = (uint64_t)((i0 / B) + 1) * o.power_iters;
        if (done_steps != batch_end) { /* settled early: report the jump to the batch's end */
            done_steps = batch_end;
            if (o.progress && o.progress(done_steps, total, o.progress_user)) {
                st = nnpi_error(NNP_ECANCELLED, "%s: cancelled by the progress callback", f);
                goto done;
            }
        }
        for (size_t i = 0; i < nb; i++) {
            if (norms) norms[i0 + i] = est[i];
            if (est[i] > best) {
                best = est[i];
                best_i = i0 + i;
            }
        }
    }
    *lower = best;
    if (argmax) *argmax = o.first_index + best_i;
done:
    free_lower(&b);
    return st;
}

/* ---------------------------------------------------------------------------------------- */
/* Merging shards: the max, ties to the smaller global index (the whole run's `est > best`
 * keeps the first point that reaches the maximum). */

NNP_API nnp_status nnp_lipschitz_lower_merge(const double *lower, const size_t *argmax,
                                             size_t n_parts, double *merged,
                                             size_t *merged_argmax)
{
    const char *f = "nnp_lipschitz_lower_merge";
    NNPI_CHECK_NULL(lower);
    NNPI_CHECK_NULL(argmax);
    NNPI_CHECK_NULL(merged);
    if (n_parts == 0) return nnpi_error(NNP_EINVAL, "%s: n_parts is 0", f);
    size_t best = 0;
    for (size_t p = 0; p < n_parts; p++) {
        if (!(lower[p] >= 0.0) || !isfinite(lower[p]))
            return nnpi_error(NNP_EINVAL, "%s: lower[%zu] = %g must be finite and >= 0", f, p,
                              lower[p]);
        for (size_t q = 0; q < p; q++)
            if (argmax[q] == argmax[p])
                return nnpi_error(NNP_EINVAL, "%s: parts %zu and %zu both have argmax %zu: the "
                                  "shards overlap", f, q, p, argmax[p]);
        if (lower[p] > lower[best] || (lower[p] == lower[best] && argmax[p] < argmax[best]))
            best = p;
    }
    *merged = lower[best];
    if (merged_argmax) *merged_argmax = argmax[best];
    return NNP_OK;
}
