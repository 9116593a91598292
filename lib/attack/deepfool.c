/* DeepFool (Moosavi-Dezfooli, Fawzi & Frossard 2016, "DeepFool: a simple and accurate method to
 * fool deep neural networks", Algorithm 2, multi-class, p = 2): step to the nearest boundary of
 * the classifier linearised at the current point, r = |f_l| / ‖w_l‖² · w_l, accumulate, and
 * overshoot by (1 + η). Targeted variant: the same step towards the boundary between the target
 * and the current arg-max. See nnp_attack_deepfool_opts in attack.h.
 *
 * Per group of opts.batch_size examples; each step is one batched forward pass of the examples
 * still running and one batched backward pass per candidate class (the vector–Jacobian product
 * with e_k − e_y gives ∇(z_k − z_y) directly). Examples leave once they reach the goal. */
#include <math.h>
#include <string.h>

#include "attack/driver.h"

/* Added to each step's length, in L2 units, as in the authors' published implementation: keeps
 * an iterate from stalling exactly on a boundary (ties, overshoot 0). */
#define DEEPFOOL_STEP_PAD 1e-4

static const nnp_attack_deepfool_opts deepfool_defaults = {
    .size = sizeof(nnp_attack_deepfool_opts), .max_iterations = 50, .overshoot = 0.02,
    .candidates = 10, .batch_size = 128};

static nnp_status deepfool_check(const void *opts, const char *what)
{
    const nnp_attack_deepfool_opts *o = opts;
    NNPI_TRY(nnpi_opt_count(o->max_iterations, 1, 1000000, what, "max_iterations"));
    if (!(o->overshoot >= 0.0 && o->overshoot <= 1.0))
        return nnpi_error(NNP_EINVAL, "%s.overshoot = %g must be in [0, 1]", what, o->overshoot);
    if (o->candidates == 1)
        return nnpi_error(NNP_EINVAL, "%s.candidates = 1 must be >= 2 (the true label and at "
                          "least one other class) or 0 (all)", what);
    return NNP_OK;
}

/* one unit per step; an example that finishes early counts the steps it did not need */
static uint64_t deepfool_progress_each(const void *opts)
{
    return ((const nnp_attack_deepfool_opts *)opts)->max_iterations;
}

/* Classes considered, the true label included (untargeted). */
static size_t deepfool_classes(const nnp_attack_deepfool_opts *o, size_t k)
{
    return o->candidates == 0 || o->candidates > k ? k : o->candidates;
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

/* The buffers of one group (see nnpi_carve; w NULL: measures). */
static void deepfool_layout(void *work, const void *opts, const nnpi_attack_dims *dm,
                            nnpi_carve *c)
{
    df_work *w = work;
    const nnp_attack_deepfool_opts *o = opts;
    const size_t bd = nnpi_mul(dm->batch, dm->d), bk = nnpi_mul(dm->batch, dm->k);
    const size_t C = deepfool_classes(o, dm->k);
    if (w != NULL) w->C = C;
    NNPI_CARVE(c, w, cand, nnpi_mul(dm->batch, C));
    NNPI_CARVE_EACH(c, w, bd, xt, rtot);
    NNPI_CARVE(c, w, act, dm->batch);
    NNPI_CARVE(c, w, xb, bd);
    NNPI_CARVE_EACH(c, w, bk, zb, v);
    NNPI_CARVE_EACH(c, w, bd, gw, wbest);
    NNPI_CARVE_EACH(c, w, dm->batch, best, bestn, moving);
}

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

/* The boundary gradients of the packed examples still moving: one backward pass per candidate
 * (targeted: one), each kept by consider() if its boundary is the nearest so far. The packed
 * batch still holds the examples that just finished; their rows are zero. */
static void boundary_passes(const nnpi_attack_group *gr, df_work *w, size_t na)
{
    const size_t d = gr->dims.d, k = gr->dims.k, m = w->C - 1;
    const int32_t *labels = gr->labels, *targets = gr->targets;
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
        nnpi_attack_backward(gr->net, gr->ws, w->xb, na, w->v, w->gw);
        for (size_t p = 0; p < na; p++) {
            if (!w->moving[p]) continue;
            size_t e = w->act[p];
            const float *zp = w->zb + p * k;
            double f = targets ? (double)zp[targets[e]] - (double)zp[nnpi_argmax(zp, k)]
                               : (double)zp[w->cand[e * m + q]] - (double)zp[labels[e]];
            consider(w, p, d, f);
            gr->res[e].evaluations++;
        }
    }
}

/* Algorithm 2's step of each packed example still moving: r = (|f_l|/‖w_l‖ + pad) · w_l/‖w_l‖
 * accumulated, x + (1 + overshoot)·Σr clipped to the box. An example whose boundaries are all
 * flat gives up with its current iterate. */
static void step_all(const nnpi_attack_group *gr, df_work *w, size_t na)
{
    const nnp_attack_deepfool_opts *o = gr->opts;
    const size_t d = gr->dims.d;
    const double scale = 1.0 + o->overshoot;
    for (size_t p = 0; p < na; p++) {
        if (!w->moving[p]) continue;
        size_t e = w->act[p];
        nnp_attack_result *r = &gr->res[e];
        r->iterations++;
        gr->progress->done++;
        if (isinf(w->best[p])) { /* every boundary is flat here: give up */
            memcpy(gr->x_adv + e * d, w->xt + e * d, d * sizeof(float));
            r->finished = 1;
            gr->progress->done += o->max_iterations - r->iterations;
            continue;
        }
        const double len = (w->best[p] + DEEPFOOL_STEP_PAD) / w->bestn[p];
        const float *wb = w->wbest + p * d, *x0 = gr->x + e * d;
        double *rt = w->rtot + e * d;
        float *xe = w->xt + e * d;
        for (size_t j = 0; j < d; j++) {
            rt[j] += len * (double)wb[j];
            double v = (double)x0[j] + scale * rt[j];
            xe[j] = (float)(v < 0.0 ? 0.0 : v > 1.0 ? 1.0 : v);
        }
    }
}

static nnp_status deepfool_group(const nnpi_attack_group *gr)
{
    const nnp_attack_deepfool_opts *o = gr->opts;
    const size_t d = gr->dims.d, k = gr->dims.k, g = gr->g;
    nnp_attack_result *res = gr->res;
    df_work *w = gr->work;
    const size_t m = w->C - 1;
    memcpy(w->xt, gr->x, g * d * sizeof(float));
    memset(w->rtot, 0, g * d * sizeof(double));
    for (size_t e = 0; e < g; e++) {
        if (nnpi_group_goal(gr, e, res[e].clean_label)) {
            res[e].finished = 1; /* x_adv = x */
            gr->progress->done += o->max_iterations;
        }
    }
    if (!gr->targets && m > 0) {
        const float *z;
        NNPI_TRY(nnpi_attack_forward(gr->net, gr->ws, gr->x, g, &z));
        for (size_t e = 0; e < g; e++)
            pick_candidates(z + e * k, k, gr->labels[e], m, w->cand + e * m);
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
        /* rows of xb are the unfinished examples, not the group's: unnumbered in messages */
        gr->ws->first_example = NNPI_UNNUMBERED;
        st = nnpi_attack_forward(gr->net, gr->ws, w->xb, na, &z);
        gr->ws->first_example = gr->first;
        if (st != NNP_OK) break;
        memcpy(w->zb, z, na * k * sizeof(float));
        size_t moving = 0;
        for (size_t p = 0; p < na; p++) {
            size_t e = w->act[p];
            w->best[p] = INFINITY;
            w->moving[p] = !nnpi_group_goal(gr, e, nnpi_argmax(w->zb + p * k, k));
            if (!w->moving[p]) { /* this iterate reaches the goal */
                memcpy(gr->x_adv + e * d, w->xt + e * d, d * sizeof(float));
                res[e].finished = 1;
                gr->progress->done += o->max_iterations - res[e].iterations;
            } else {
                moving++;
            }
        }
        if (moving == 0) continue;
        boundary_passes(gr, w, na);
        step_all(gr, w, na);
        if ((st = nnpi_progress_report(gr->progress)) != NNP_OK) break;
    }
    /* Out of steps (or cancelled): the examples still running keep their last iterate. */
    for (size_t e = 0; e < g; e++)
        if (!res[e].finished) {
            memcpy(gr->x_adv + e * d, w->xt + e * d, d * sizeof(float));
            if (st == NNP_OK) res[e].finished = 1;
        }
    return st;
}

static const nnpi_attack_method deepfool_method = {
    "nnp_attack_deepfool", NNPI_ATTACK_OPTS_LAYOUT(nnp_attack_deepfool_opts), &deepfool_defaults,
    deepfool_check, deepfool_progress_each, sizeof(df_work), deepfool_layout, deepfool_group, 0};

NNPI_ATTACK_ENTRY_POINTS(deepfool, &deepfool_method)
