/* DeepFool (Moosavi-Dezfooli, Fawzi & Frossard 2016, "DeepFool: a simple and accurate method to
 * fool deep neural networks", Algorithm 2, multi-class, p = 2): step to the nearest boundary of
 * the classifier linearised at the current point, r = |f_l| / ‖w_l‖² · w_l, accumulate, and
 * overshoot by (1 + η). Targeted variant: the same step towards the boundary between the target
 * and the current arg-max. See nnp_attack_deepfool_opts in attack.h.
 *
 * Per group of opts.batch_size examples; each step is one batched forward pass of the examples still
 * running and one batched backward pass per candidate class (the vector–Jacobian product with
 * e_k − e_y gives ∇(z_k − z_y) directly). Examples leave once they reach the goal. */
#include <math.h>
#include <string.h>

#include "attack/common.h"

/* Added to each step's length, in L2 units, as in the authors' published implementation: keeps
 * an iterate from stalling exactly on a boundary (ties, overshoot 0). */
#define DEEPFOOL_STEP_PAD 1e-4

static void default_opts(nnp_attack_deepfool_opts *o)
{
    memset(o, 0, sizeof *o);
    o->size = sizeof *o;
    o->max_iterations = 50;
    o->overshoot = 0.02;
    o->candidates = 10;
    o->batch_size = 128;
}

NNP_API nnp_status nnp_attack_deepfool_opts_init_sized(nnp_attack_deepfool_opts *opts,
                                                       size_t size)
{
    nnp_attack_deepfool_opts d;
    default_opts(&d);
    return nnpi_opts_init(opts, size, &d, sizeof d, "nnp_attack_deepfool_opts_init");
}

static nnp_status check_opts(const nnp_attack_deepfool_opts *o)
{
    const char *f = "nnp_attack_deepfool: opts";
    if (o->max_iterations < 1 || o->max_iterations > 1000000)
        return nnpi_error(NNP_EINVAL, "%s.max_iterations = %zu must be in 1..1000000", f,
                          o->max_iterations);
    if (!(o->overshoot >= 0.0 && o->overshoot <= 1.0))
        return nnpi_error(NNP_EINVAL, "%s.overshoot = %g must be in [0, 1]", f, o->overshoot);
    if (o->candidates == 1)
        return nnpi_error(NNP_EINVAL, "%s.candidates = 1 must be >= 2 (the true label and at "
                          "least one other class) or 0 (all)", f);
    if (o->batch_size < 1) return nnpi_error(NNP_EINVAL, "%s.batch_size is 0", f);
    return NNP_OK;
}

typedef struct df_work {
    size_t C;            /* candidates including the label (untargeted) */
    int32_t *cand;       /* batch × (C − 1): the other candidate classes, by clean logit */
    float *xt;           /* batch × d: current iterate of each example of the group */
    double *rtot;        /* batch × d: Σ r_i */
    size_t *act;         /* batch: group indices of the examples in the current pass */
    float *xb;           /* batch × d: their iterates, packed */
    float *zb;           /* batch × k: their logits */
    float *v;            /* batch × k: cotangents */
    float *gw;           /* batch × d: one candidate's gradient */
    float *wbest;        /* batch × d: the nearest boundary's gradient */
    double *best, *bestn;/* batch: |f|/‖w‖ and ‖w‖ of the nearest boundary */
    unsigned char *moving; /* batch: still running after this pass's check */
} df_work;

/* The C − 1 classes other than y with the largest logits z (ties: lower index first). */
static void pick_candidates(const float *z, size_t k, int32_t y, size_t m, int32_t *out)
{
    size_t got = 0;
    while (got < m) {
        int32_t best = -1;
        for (size_t j = 0; j < k; j++) {
            if ((int32_t)j == y) continue;
            int taken = 0;
            for (size_t q = 0; q < got && !taken; q++) taken = out[q] == (int32_t)j;
            if (taken) continue;
            if (best < 0 || z[j] > z[best]) best = (int32_t)j;
        }
        out[got++] = best;
    }
}

/* Writes dx = ∇(z_a − z_b) of packed example p into the nearest-boundary bookkeeping if the
 * boundary f = z_a − z_b is nearer than the best so far. */
static void consider(df_work *w, size_t p, size_t d, double f)
{
    const float *g = w->gw + p * d;
    double ss = 0.0;
    for (size_t j = 0; j < d; j++) ss += (double)g[j] * (double)g[j];
    double nrm = sqrt(ss);
    if (!(nrm > 0.0)) return; /* flat: this boundary cannot be reached by a linear step */
    double ratio = fabs(f) / nrm;
    if (ratio < w->best[p]) {
        w->best[p] = ratio;
        w->bestn[p] = nrm;
        memcpy(w->wbest + p * d, g, d * sizeof(float));
    }
}

static nnp_status attack_group(const nnp_net *net, nnp_workspace *ws, const float *x,
                               const int32_t *labels, const int32_t *targets, size_t g,
                               const nnp_attack_deepfool_opts *o, nnpi_progress *prog,
                               df_work *w, float *x_adv, nnp_attack_result *res)
{
    const size_t d = nnp_net_input_size(net), k = nnp_net_output_size(net), m = w->C - 1;
    const double scale = 1.0 + o->overshoot;
    memcpy(w->xt, x, g * d * sizeof(float));
    memset(w->rtot, 0, g * d * sizeof(double));
    for (size_t e = 0; e < g; e++) {
        if (nnpi_goal_reached(res[e].clean_label, labels ? labels[e] : -1, res[e].target)) {
            res[e].finished = 1; /* x_adv = x */
            prog->done += o->max_iterations;
        }
    }
    if (!targets && m > 0) {
        const float *z;
        NNPI_TRY(nnpi_attack_forward(net, ws, x, g, &z));
        for (size_t e = 0; e < g; e++)
            pick_candidates(z + e * k, k, labels[e], m, w->cand + e * m);
    }
    nnp_status st = NNP_OK;
    for (size_t it = 0; it < o->max_iterations; it++) {
        size_t na = 0;
        for (size_t e = 0; e < g; e++)
            if (!res[e].finished) {
                w->act[na] = e;
                memcpy(w->xb + na * d, w->xt + e * d, d * sizeof(float));
                na++;
            }
        if (na == 0) break;
        const float *z;
        if ((st = nnpi_attack_forward(net, ws, w->xb, na, &z)) != NNP_OK) break;
        memcpy(w->zb, z, na * k * sizeof(float));
        size_t moving = 0;
        for (size_t p = 0; p < na; p++) {
            size_t e = w->act[p];
            int32_t pred = nnpi_argmax(w->zb + p * k, k);
            w->best[p] = INFINITY;
            w->moving[p] = !nnpi_goal_reached(pred, labels ? labels[e] : -1, res[e].target);
            if (!w->moving[p]) { /* this iterate reaches the goal */
                memcpy(x_adv + e * d, w->xt + e * d, d * sizeof(float));
                res[e].finished = 1;
                prog->done += o->max_iterations - res[e].iterations;
            } else {
                moving++;
            }
        }
        if (moving == 0) continue;
        /* Gradients of the boundaries: one backward pass per candidate (targeted: one). The
         * packed batch still holds the examples that just finished; their rows are zero. */
        const size_t passes = targets ? 1 : m;
        for (size_t q = 0; q < passes; q++) {
            memset(w->v, 0, na * k * sizeof(float));
            for (size_t p = 0; p < na; p++) {
                if (!w->moving[p]) continue;
                size_t e = w->act[p];
                int32_t a, b; /* boundary z_a − z_b */
                if (targets) {
                    a = targets[e];
                    b = nnpi_argmax(w->zb + p * k, k);
                } else {
                    a = w->cand[e * m + q];
                    b = labels[e];
                }
                w->v[p * k + (size_t)a] += 1.0f;
                w->v[p * k + (size_t)b] -= 1.0f;
            }
            nnpi_attack_backward(net, ws, w->xb, na, w->v, w->gw);
            for (size_t p = 0; p < na; p++) {
                if (!w->moving[p]) continue;
                size_t e = w->act[p];
                const float *zp = w->zb + p * k;
                double f = targets ? (double)zp[targets[e]] - (double)zp[nnpi_argmax(zp, k)]
                                   : (double)zp[w->cand[e * m + q]] - (double)zp[labels[e]];
                consider(w, p, d, f);
                res[e].evaluations++;
            }
        }
        for (size_t p = 0; p < na; p++) {
            if (!w->moving[p]) continue;
            size_t e = w->act[p];
            res[e].iterations++;
            prog->done++;
            if (isinf(w->best[p])) { /* every boundary is flat here: give up */
                memcpy(x_adv + e * d, w->xt + e * d, d * sizeof(float));
                res[e].finished = 1;
                prog->done += o->max_iterations - res[e].iterations;
                continue;
            }
            /* r = (|f_l|/‖w_l‖ + pad) · w_l/‖w_l‖ */
            const double len = (w->best[p] + DEEPFOOL_STEP_PAD) / w->bestn[p];
            const float *wb = w->wbest + p * d, *x0 = x + e * d;
            double *rt = w->rtot + e * d;
            float *xe = w->xt + e * d;
            for (size_t j = 0; j < d; j++) {
                rt[j] += len * (double)wb[j];
                double v = (double)x0[j] + scale * rt[j];
                xe[j] = (float)(v < 0.0 ? 0.0 : v > 1.0 ? 1.0 : v);
            }
        }
        if ((st = nnpi_progress_report(prog)) != NNP_OK) break;
    }
    /* Out of steps (or cancelled): the examples still running keep their last iterate. */
    for (size_t e = 0; e < g; e++)
        if (!res[e].finished) {
            memcpy(x_adv + e * d, w->xt + e * d, d * sizeof(float));
            if (st == NNP_OK) res[e].finished = 1;
        }
    return st;
}

NNP_API nnp_status nnp_attack_deepfool(const nnp_net *net, const float *x, const int32_t *labels,
                                       const int32_t *targets, size_t n,
                                       const nnp_attack_deepfool_opts *opts, float *x_adv,
                                       nnp_attack_result *results)
{
    nnp_attack_deepfool_opts o;
    default_opts(&o);
    NNPI_TRY(nnpi_opts_copy(&o, sizeof o, opts, "nnp_attack_deepfool: opts"));
    NNPI_TRY(check_opts(&o));
    NNPI_TRY(nnpi_attack_check_args(net, x, labels, targets, n, x_adv, results, __func__));
    const size_t d = nnp_net_input_size(net), k = nnp_net_output_size(net);
    const size_t batch = nnpi_attack_batch(o.batch_size, n);
    df_work w = {0};
    w.C = o.candidates == 0 || o.candidates > k ? k : o.candidates;
    nnp_workspace *ws = NULL;
    NNPI_TRY(nnp_workspace_create(net, batch, &ws));
    const size_t bd = nnpi_mul(batch, d), bk = nnpi_mul(batch, k);
    w.cand = nnpi_malloc(nnpi_mul(batch, w.C) * sizeof *w.cand);
    w.xt = nnpi_malloc(bd * sizeof *w.xt);
    w.rtot = nnpi_malloc(bd * sizeof *w.rtot);
    w.act = nnpi_malloc(batch * sizeof *w.act);
    w.xb = nnpi_malloc(bd * sizeof *w.xb);
    w.zb = nnpi_malloc(bk * sizeof *w.zb);
    w.v = nnpi_malloc(bk * sizeof *w.v);
    w.gw = nnpi_malloc(bd * sizeof *w.gw);
    w.wbest = nnpi_malloc(bd * sizeof *w.wbest);
    w.best = nnpi_malloc(batch * sizeof *w.best);
    w.bestn = nnpi_malloc(batch * sizeof *w.bestn);
    w.moving = nnpi_malloc(batch);
    nnp_status st;
    if (!w.cand || !w.xt || !w.rtot || !w.act || !w.xb || !w.zb || !w.v || !w.gw || !w.wbest ||
        !w.best || !w.bestn || !w.moving)
        st = nnpi_error(NNP_ENOMEM, "nnp_attack_deepfool: out of memory for a batch of %zu",
                        batch);
    else
        st = nnpi_attack_results_init(net, ws, x, targets, n, results);
    if (st == NNP_OK) {
        memcpy(x_adv, x, n * d * sizeof *x_adv);
        nnpi_progress prog = {o.progress, o.progress_user, 0, (uint64_t)n * o.max_iterations,
                              __func__};
        for (size_t s = 0; st == NNP_OK && s < n; s += batch) {
            size_t g = n - s < batch ? n - s : batch;
            st = attack_group(net, ws, x + s * d, labels ? labels + s : NULL,
                              targets ? targets + s : NULL, g, &o, &prog, &w, x_adv + s * d,
                              results + s);
        }
        if (st == NNP_OK || st == NNP_ECANCELLED) {
            nnp_status fs = nnpi_attack_finish(net, ws, x, x_adv, labels, n, results);
            if (st == NNP_OK) st = fs;
        }
    }
    nnpi_free(w.cand);
    nnpi_free(w.xt);
    nnpi_free(w.rtot);
    nnpi_free(w.act);
    nnpi_free(w.xb);
    nnpi_free(w.zb);
    nnpi_free(w.v);
    nnpi_free(w.gw);
    nnpi_free(w.wbest);
    nnpi_free(w.best);
    nnpi_free(w.bestn);
    nnpi_free(w.moving);
    nnp_workspace_free(ws);
    return st;
}
