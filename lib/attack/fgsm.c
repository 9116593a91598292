/* The fast gradient sign method (Goodfellow, Shlens & Szegedy 2015, "Explaining and harnessing
 * adversarial examples", eq. for η = ε·sign(∇ₓJ)), L∞, with an optional per-example bisection
 * for the smallest ε along the one sign direction. See nnp_attack_fgsm_opts in attack.h.
 *
 * Per group of opts.batch_size examples: one batched forward/backward pass for the sign of the
 * gradient, then (minimal search) batched forward passes over the trial points, all examples
 * of the group together. */
#include <math.h>
#include <string.h>

#include "attack/common.h"

static void default_opts(nnp_attack_fgsm_opts *o)
{
    memset(o, 0, sizeof *o);
    o->size = sizeof *o;
    o->epsilon = 0.1;
    o->minimal = 0;
    o->search_steps = 16;
    o->batch_size = 128;
}

NNP_API nnp_status nnp_attack_fgsm_opts_init_sized(nnp_attack_fgsm_opts *opts, size_t size)
{
    nnp_attack_fgsm_opts d;
    default_opts(&d);
    return nnpi_opts_init(opts, size, &d, sizeof d, "nnp_attack_fgsm_opts_init");
}

static nnp_status check_opts(const nnp_attack_fgsm_opts *o)
{
    const char *f = "nnp_attack_fgsm: opts";
    if (!(o->epsilon > 0.0 && o->epsilon <= 1.0))
        return nnpi_error(NNP_EINVAL, "%s.epsilon = %g must be in (0, 1]", f, o->epsilon);
    if (o->minimal != 0 && o->minimal != 1)
        return nnpi_error(NNP_EINVAL, "%s.minimal = %d must be 0 or 1", f, o->minimal);
    if (o->search_steps < 1 || o->search_steps > 64)
        return nnpi_error(NNP_EINVAL, "%s.search_steps = %zu must be in 1..64", f,
                          o->search_steps);
    if (o->batch_size < 1) return nnpi_error(NNP_EINVAL, "%s.batch_size is 0", f);
    return NNP_OK;
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

static nnp_status attack_group(const nnp_net *net, nnp_workspace *ws, const float *x,
                               const int32_t *labels, const int32_t *targets, size_t g,
                               const nnp_attack_fgsm_opts *o, nnpi_progress *prog,
                               fgsm_work *w, float *x_adv, nnp_attack_result *res)
{
    const size_t d = nnp_net_input_size(net);
    /* The cross-entropy whose gradient gives the direction: the true label's (ascend) or the
     * target's (descend). */
    for (size_t e = 0; e < g; e++) w->cls[e] = targets ? targets[e] : labels[e];
    NNPI_TRY(nnpi_goal_grad(net, ws, x, g, NULL, w->cls, NULL, w->loss, w->sgn, w->logits));
    /* the clean labels come from this pass (no separate classification of x) */
    const size_t k = nnp_net_output_size(net);
    for (size_t e = 0; e < g; e++)
        res[e].clean_label = res[e].label = nnpi_argmax(w->logits + e * k, k);
    const float dir = targets ? -1.0f : 1.0f;
    for (size_t i = 0; i < g * d; i++)
        w->sgn[i] = w->sgn[i] > 0.0f ? dir : w->sgn[i] < 0.0f ? -dir : 0.0f;
    size_t searching = 0;
    for (size_t e = 0; e < g; e++) {
        nnp_attack_result *r = &res[e];
        r->evaluations = 1;
        w->search[e] = 0;
        if (nnpi_goal_reached(r->clean_label, labels ? labels[e] : -1, r->target)) {
            r->finished = 1; /* x_adv = x, c = 0 */
            continue;
        }
        fgsm_point(x + e * d, w->sgn + e * d, (float)o->epsilon, d, x_adv + e * d);
        r->c = o->epsilon;
        r->iterations = 1;
        if (o->minimal) {
            w->search[e] = 1;
            searching++;
        } else {
            r->finished = 1;
        }
    }
    prog->done += g;
    NNPI_TRY(nnpi_progress_report(prog));
    if (!o->minimal) return NNP_OK;

    /* Minimal ε: does ε = epsilon succeed at all? Then bisect [0, epsilon]. x_adv always holds
     * the point of the smallest succeeding ε known (res.c). */
    NNPI_TRY(nnpi_classify(net, ws, x_adv, g, w->pred));
    for (size_t e = 0; e < g; e++) {
        if (!w->search[e]) continue;
        if (!nnpi_goal_reached(w->pred[e], labels ? labels[e] : -1, res[e].target)) {
            w->search[e] = 0; /* fails at the largest ε: done, x_adv at ε = epsilon */
            res[e].finished = 1;
        }
        w->lo[e] = 0.0;
        w->hi[e] = o->epsilon;
    }
    prog->done += g;
    NNPI_TRY(nnpi_progress_report(prog));
    for (size_t step = 0; step < o->search_steps; step++) {
        for (size_t e = 0; e < g; e++) {
            if (w->search[e])
                fgsm_point(x + e * d, w->sgn + e * d, (float)(0.5 * (w->lo[e] + w->hi[e])), d,
                           w->trial + e * d);
            else /* any point in the box: classified but ignored */
                memcpy(w->trial + e * d, x + e * d, d * sizeof(float));
        }
        NNPI_TRY(nnpi_classify(net, ws, w->trial, g, w->pred));
        for (size_t e = 0; e < g; e++) {
            if (!w->search[e]) continue;
            double mid = 0.5 * (w->lo[e] + w->hi[e]);
            res[e].iterations++;
            if (nnpi_goal_reached(w->pred[e], labels ? labels[e] : -1, res[e].target)) {
                w->hi[e] = mid;
                res[e].c = mid;
                memcpy(x_adv + e * d, w->trial + e * d, d * sizeof(float));
            } else {
                w->lo[e] = mid;
            }
            if (step + 1 == o->search_steps) res[e].finished = 1;
        }
        prog->done += g;
        NNPI_TRY(nnpi_progress_report(prog));
    }
    return NNP_OK;
}

NNP_API nnp_status nnp_attack_fgsm(const nnp_net *net, const float *x, const int32_t *labels,
                                   const int32_t *targets, size_t n,
                                   const nnp_attack_fgsm_opts *opts, float *x_adv,
                                   nnp_attack_result *results)
{
    nnp_attack_fgsm_opts o;
    default_opts(&o);
    NNPI_TRY(nnpi_opts_copy(&o, sizeof o, opts, "nnp_attack_fgsm: opts"));
    NNPI_TRY(check_opts(&o));
    NNPI_TRY(nnpi_attack_check_args(net, x, labels, targets, n, x_adv, results, __func__));
    const size_t d = nnp_net_input_size(net), batch = nnpi_attack_batch(o.batch_size, n);
    nnp_workspace *ws = NULL;
    NNPI_TRY(nnp_workspace_create(net, batch, &ws));
    fgsm_work w = {0};
    w.sgn = nnpi_malloc(nnpi_mul(batch, d) * sizeof(float));
    w.trial = nnpi_malloc(nnpi_mul(batch, d) * sizeof(float));
    w.loss = nnpi_malloc(batch * sizeof *w.loss);
    w.cls = nnpi_malloc(batch * sizeof *w.cls);
    w.pred = nnpi_malloc(batch * sizeof *w.pred);
    w.logits = nnpi_malloc(nnpi_mul(batch, nnp_net_output_size(net)) * sizeof(float));
    w.lo = nnpi_malloc(batch * sizeof *w.lo);
    w.hi = nnpi_malloc(batch * sizeof *w.hi);
    w.search = nnpi_malloc(batch);
    nnp_status st;
    if (!w.sgn || !w.trial || !w.loss || !w.cls || !w.pred || !w.logits || !w.lo || !w.hi ||
        !w.search) {
        st = nnpi_error(NNP_ENOMEM, "nnp_attack_fgsm: out of memory for a batch of %zu", batch);
    } else {
        /* as nnpi_attack_results_init(), with the clean labels filled in per group from the
         * gradient pass */
        st = NNP_OK;
        memset(results, 0, n * sizeof *results);
        for (size_t i = 0; i < n; i++) results[i].target = targets ? targets[i] : -1;
    }
    if (st == NNP_OK) {
        memcpy(x_adv, x, n * d * sizeof *x_adv);
        const uint64_t passes = o.minimal ? 2 + o.search_steps : 1;
        nnpi_progress prog = {o.progress, o.progress_user, 0, (uint64_t)n * passes, __func__};
        size_t s = 0;
        for (; st == NNP_OK && s < n; s += batch) {
            size_t g = n - s < batch ? n - s : batch;
            st = attack_group(net, ws, x + s * d, labels ? labels + s : NULL,
                              targets ? targets + s : NULL, g, &o, &prog, &w, x_adv + s * d,
                              results + s);
        }
        /* after a cancellation, the groups never reached still need their clean labels */
        for (nnp_status cs = NNP_OK; st == NNP_ECANCELLED && cs == NNP_OK && s < n; s += batch) {
            size_t g = n - s < batch ? n - s : batch;
            cs = nnpi_classify(net, ws, x + s * d, g, w.pred);
            for (size_t e = 0; cs == NNP_OK && e < g; e++) results[s + e].clean_label = w.pred[e];
            if (cs != NNP_OK) st = cs;
        }
        /* labels and distortions of whatever x_adv holds, also after a cancellation */
        if (st == NNP_OK || st == NNP_ECANCELLED) {
            nnp_status fs = nnpi_attack_finish(net, ws, x, x_adv, labels, n, results);
            if (st == NNP_OK) st = fs;
        }
    }
    nnpi_free(w.sgn);
    nnpi_free(w.trial);
    nnpi_free(w.loss);
    nnpi_free(w.cls);
    nnpi_free(w.pred);
    nnpi_free(w.logits);
    nnpi_free(w.lo);
    nnpi_free(w.hi);
    nnpi_free(w.search);
    nnp_workspace_free(ws);
    return st;
}
