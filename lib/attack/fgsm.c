/* The fast gradient sign method (Goodfellow, Shlens & Szegedy 2015, "Explaining and harnessing
 * adversarial examples", eq. for η = ε·sign(∇ₓJ)), L∞, with an optional per-example bisection
 * for the smallest ε along the one sign direction. See nnp_attack_fgsm_opts in attack.h.
 *
 * Per group of opts.batch_size examples: one batched forward/backward pass for the sign of the
 * gradient, then (minimal search) batched forward passes over the trial points, all examples
 * of the group together. */
#include <string.h>

#include "attack/driver.h"

static const nnp_attack_fgsm_opts fgsm_defaults = {
    .size = sizeof(nnp_attack_fgsm_opts), .epsilon = 0.1, .minimal = 0, .search_steps = 16,
    .batch_size = 128};

static nnp_status fgsm_check(const void *opts, const char *what)
{
    const nnp_attack_fgsm_opts *o = opts;
    if (!(o->epsilon > 0.0 && o->epsilon <= 1.0))
        return nnpi_error(NNP_EINVAL, "%s.epsilon = %g must be in (0, 1]", what, o->epsilon);
    NNPI_TRY(nnpi_opt_flag(o->minimal, what, "minimal"));
    return nnpi_opt_count(o->search_steps, 1, 64, what, "search_steps");
}

/* One batched pass per example for the gradient; with the minimal search one more at
 * ε = epsilon and one per bisection step. */
static uint64_t fgsm_progress_each(const void *opts)
{
    const nnp_attack_fgsm_opts *o = opts;
    return o->minimal ? 2 + o->search_steps : 1;
}

/* out = clip(x + eps·s) over d values; s holds −1, 0 or +1 (already signed for the goal). */
static void fgsm_point(const float *x, const float *s, float eps, size_t d, float *out)
{
    for (size_t j = 0; j < d; j++) {
        float v = x[j] + eps * s[j];
        out[j] = v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v;
    }
}

/* Buffers of one group (capacity `batch` examples). */
typedef struct fgsm_work {
    float *sgn;      /* batch × d: ±sign of the gradient, per example */
    float *trial;    /* batch × d: trial points of the minimal search */
    double *loss;    /* batch */
    int32_t *cls;    /* batch: label (untargeted) or target whose cross-entropy is used */
    int32_t *pred;   /* batch */
    float *logits;   /* batch × classes */
    double *lo, *hi; /* batch: bisection bracket of ε */
    unsigned char *search; /* batch: still in the minimal search */
} fgsm_work;

/* The buffers of one group (see nnpi_carve; w NULL: measures). */
static void fgsm_layout(void *work, const void *opts, const nnpi_attack_dims *dm, nnpi_carve *c)
{
    fgsm_work *w = work;
    (void)opts;
    NNPI_CARVE_EACH(c, w, nnpi_mul(dm->batch, dm->d), sgn, trial);
    NNPI_CARVE(c, w, logits, nnpi_mul(dm->batch, dm->k));
    NNPI_CARVE_EACH(c, w, dm->batch, loss, lo, hi, cls, pred, search);
}

/* The minimal-ε search of a group whose x_adv holds the points at ε = epsilon: does that ε
 * succeed at all? Then bisect [0, epsilon]. x_adv always holds the point of the smallest
 * succeeding ε known (res.c). */
static nnp_status minimal_search(const nnpi_attack_group *gr, fgsm_work *w)
{
    const nnp_attack_fgsm_opts *o = gr->opts;
    const size_t d = gr->dims.d, g = gr->g;
    const float *x = gr->x;
    nnp_attack_result *res = gr->res;
    NNPI_TRY(nnpi_classify(gr->net, gr->ws, gr->x_adv, g, w->pred));
    for (size_t e = 0; e < g; e++) {
        if (!w->search[e]) continue;
        if (!nnpi_group_goal(gr, e, w->pred[e])) {
            w->search[e] = 0; /* fails at the largest ε: done, x_adv at ε = epsilon */
            res[e].finished = 1;
        }
        w->lo[e] = 0.0;
        w->hi[e] = o->epsilon;
    }
    gr->progress->done += g;
    NNPI_TRY(nnpi_progress_report(gr->progress));
    for (size_t step = 0; step < o->search_steps; step++) {
        for (size_t e = 0; e < g; e++) {
            if (w->search[e])
                fgsm_point(x + e * d, w->sgn + e * d, (float)(0.5 * (w->lo[e] + w->hi[e])), d,
                           w->trial + e * d);
            else /* any point in the box: classified but ignored */
                memcpy(w->trial + e * d, x + e * d, d * sizeof(float));
        }
        NNPI_TRY(nnpi_classify(gr->net, gr->ws, w->trial, g, w->pred));
        for (size_t e = 0; e < g; e++) {
            if (!w->search[e]) continue;
            double mid = 0.5 * (w->lo[e] + w->hi[e]);
            res[e].iterations++;
            if (nnpi_group_goal(gr, e, w->pred[e])) {
                w->hi[e] = mid;
                res[e].c = mid;
                memcpy(gr->x_adv + e * d, w->trial + e * d, d * sizeof(float));
            } else {
                w->lo[e] = mid;
            }
            if (step + 1 == o->search_steps) res[e].finished = 1;
        }
        gr->progress->done += g;
        NNPI_TRY(nnpi_progress_report(gr->progress));
    }
    return NNP_OK;
}

static nnp_status fgsm_group(const nnpi_attack_group *gr)
{
    const nnp_attack_fgsm_opts *o = gr->opts;
    const size_t d = gr->dims.d, k = gr->dims.k, g = gr->g;
    fgsm_work *w = gr->work;
    /* The cross-entropy whose gradient gives the direction: the true label's (ascend) or the
     * target's (descend). */
    for (size_t e = 0; e < g; e++) w->cls[e] = gr->targets ? gr->targets[e] : gr->labels[e];
    NNPI_TRY(nnpi_goal_grad(gr->net, gr->ws, gr->x, g, NULL, w->cls, NULL, w->loss, w->sgn,
                            w->logits));
    /* the clean labels come from this pass (own_clean_labels: no separate classification) */
    for (size_t e = 0; e < g; e++)
        gr->res[e].clean_label = gr->res[e].label = nnpi_argmax(w->logits + e * k, k);
    const float dir = gr->targets ? -1.0f : 1.0f;
    for (size_t i = 0; i < g * d; i++)
        w->sgn[i] = w->sgn[i] > 0.0f ? dir : w->sgn[i] < 0.0f ? -dir : 0.0f;
    for (size_t e = 0; e < g; e++) {
        nnp_attack_result *r = &gr->res[e];
        r->evaluations = 1;
        w->search[e] = 0;
        if (nnpi_group_goal(gr, e, r->clean_label)) {
            r->finished = 1; /* x_adv = x, c = 0 */
            continue;
        }
        fgsm_point(gr->x + e * d, w->sgn + e * d, (float)o->epsilon, d, gr->x_adv + e * d);
        r->c = o->epsilon;
        r->iterations = 1;
        if (o->minimal) w->search[e] = 1;
        else r->finished = 1;
    }
    gr->progress->done += g;
    NNPI_TRY(nnpi_progress_report(gr->progress));
    return o->minimal ? minimal_search(gr, w) : NNP_OK;
}

static const nnpi_attack_method fgsm_method = {
    "nnp_attack_fgsm", NNPI_ATTACK_OPTS_LAYOUT(nnp_attack_fgsm_opts), &fgsm_defaults, fgsm_check,
    fgsm_progress_each, sizeof(fgsm_work), fgsm_layout, fgsm_group, 1};

NNPI_ATTACK_ENTRY_POINTS(fgsm, &fgsm_method)
