/* Projected gradient descent (Madry, Makelov, Schmidt, Tsipras & Vladu 2018, "Towards deep
 * learning models resistant to adversarial attacks", §2: x_{t+1} = Π_{x+S}(x_t + α sgn(∇ₓL))),
 * in L∞ and L2, with a random start. See nnp_attack_pgd_opts in attack.h.
 *
 * Per group of opts.batch_size examples: every step is one batched forward/backward pass of all
 * examples of the group (no early stop, so the group stays together). The logits of each pass
 * tell whether the point it was computed at (x_t) reaches the goal; a final forward pass checks
 * the last iterate. */
#include <math.h>
#include <string.h>

#include "attack/common.h"

static void default_opts(nnp_attack_pgd_opts *o)
{
    memset(o, 0, sizeof *o);
    o->size = sizeof *o;
    o->norm = NNP_ATTACK_NORM_LINF;
    o->epsilon = 0.1;
    o->steps = 40;
    o->step_size = 0.0;
    o->random_start = 1;
    o->seed = 1;
    o->batch_size = 128;
}

NNP_API nnp_status nnp_attack_pgd_opts_init_sized(nnp_attack_pgd_opts *opts, size_t size)
{
    nnp_attack_pgd_opts d;
    default_opts(&d);
    return nnpi_opts_init(opts, size, &d, sizeof d, "nnp_attack_pgd_opts_init");
}

static nnp_status check_opts(const nnp_attack_pgd_opts *o)
{
    const char *f = "nnp_attack_pgd: opts";
    if (o->norm != NNP_ATTACK_NORM_LINF && o->norm != NNP_ATTACK_NORM_L2)
        return nnpi_error(NNP_EINVAL, "%s.norm = %d must be NNP_ATTACK_NORM_LINF (0) or "
                          "NNP_ATTACK_NORM_L2 (2)", f, (int)o->norm);
    if (!(o->epsilon >= 0.0) || !isfinite(o->epsilon))
        return nnpi_error(NNP_EINVAL, "%s.epsilon = %g must be finite and >= 0", f, o->epsilon);
    if (o->steps > 1000000)
        return nnpi_error(NNP_EINVAL, "%s.steps = %zu must be <= 1000000", f, o->steps);
    if (!(o->step_size >= 0.0) || !isfinite(o->step_size))
        return nnpi_error(NNP_EINVAL, "%s.step_size = %g must be finite and >= 0", f,
                          o->step_size);
    if (o->random_start != 0 && o->random_start != 1)
        return nnpi_error(NNP_EINVAL, "%s.random_start = %d must be 0 or 1", f, o->random_start);
    if (o->batch_size < 1) return nnpi_error(NNP_EINVAL, "%s.batch_size is 0", f);
    return NNP_OK;
}

/* One L∞ step and projection of one example: xt ← clip(xt + a·sign(g)) to
 * [max(0, x − e), min(1, x + e)]; branch-free so it vectorises. */
NNPI_SIMD_CLONES static void linf_step(const float *restrict x, float *restrict xt,
                                       const float *restrict g, size_t d, float a, float e)
{
    for (size_t j = 0; j < d; j++) {
        float v = xt[j] + a * (float)((g[j] > 0.0f) - (g[j] < 0.0f));
        float lo = x[j] - e, hi = x[j] + e;
        lo = lo < 0.0f ? 0.0f : lo;
        hi = hi > 1.0f ? 1.0f : hi;
        v = v < lo ? lo : v;
        xt[j] = v > hi ? hi : v;
    }
}

/* Projects one example's point xt onto the ε-ball around x (L∞: exactly, together with the
 * box; L2: radial scaling onto the ball, then clipping to the box, which keeps it in the ball
 * because x is in the box). */
static void project(const float *x, float *xt, size_t d, nnp_attack_norm norm, double eps)
{
    if (norm == NNP_ATTACK_NORM_L2) {
        double ss = 0.0;
        for (size_t j = 0; j < d; j++) {
            double r = (double)xt[j] - (double)x[j];
            ss += r * r;
        }
        double l2 = sqrt(ss);
        if (l2 > eps) {
            double k = l2 > 0.0 ? eps / l2 : 0.0;
            for (size_t j = 0; j < d; j++)
                xt[j] = (float)((double)x[j] + k * ((double)xt[j] - (double)x[j]));
        }
        for (size_t j = 0; j < d; j++) xt[j] = xt[j] < 0.0f ? 0.0f : xt[j] > 1.0f ? 1.0f : xt[j];
        return;
    }
    const float e = (float)eps;
    for (size_t j = 0; j < d; j++) {
        float lo = x[j] - e, hi = x[j] + e;
        if (lo < 0.0f) lo = 0.0f;
        if (hi > 1.0f) hi = 1.0f;
        xt[j] = xt[j] < lo ? lo : xt[j] > hi ? hi : xt[j];
    }
}

/* Random start of example `index` of the call: a uniform point of the ε-ball around x, then
 * clipped into the box. The generator depends on (seed, index) only. */
static void random_start(const float *x, float *xt, size_t d, const nnp_attack_pgd_opts *o,
                         size_t index)
{
    nnpi_rng rng;
    nnpi_rng_seed(&rng, o->seed ^ (0x9E3779B97F4A7C15u * ((uint64_t)index + 1)));
    if (o->norm == NNP_ATTACK_NORM_L2) {
        /* Gaussian direction, radius ε·u^(1/d): uniform in the ball */
        double ss = 0.0;
        for (size_t j = 0; j < d; j++) {
            double g = nnpi_rng_normal(&rng);
            xt[j] = (float)g; /* direction, scaled below */
            ss += g * g;
        }
        double radius = o->epsilon * pow(nnpi_rng_uniform(&rng), 1.0 / (double)d);
        double k = ss > 0.0 ? radius / sqrt(ss) : 0.0;
        for (size_t j = 0; j < d; j++) xt[j] = (float)((double)x[j] + k * (double)xt[j]);
    } else {
        for (size_t j = 0; j < d; j++)
            xt[j] = (float)((double)x[j] + o->epsilon * (2.0 * nnpi_rng_uniform(&rng) - 1.0));
    }
    project(x, xt, d, o->norm, o->epsilon);
}

typedef struct pgd_work {
    float *xt;       /* batch × d: current iterates */
    float *grad;     /* batch × d */
    float *logits;   /* batch × classes */
    double *loss;    /* batch */
    int32_t *cls;    /* batch: the class whose cross-entropy is used */
    int32_t *pred;   /* batch */
    unsigned char *have; /* batch: 1 x_adv holds a successful iterate, 2 x already reaches the
                          * goal (x_adv = x, kept) */
} pgd_work;

/* x_adv of the examples without a success ← their current iterate. */
static void keep_latest(const pgd_work *w, size_t g, size_t d, float *x_adv)
{
    for (size_t e = 0; e < g; e++)
        if (!w->have[e]) memcpy(x_adv + e * d, w->xt + e * d, d * sizeof(float));
}

static nnp_status attack_group(const nnp_net *net, nnp_workspace *ws, const float *x,
                               const int32_t *labels, const int32_t *targets, size_t g,
                               size_t first_index, const nnp_attack_pgd_opts *o,
                               nnpi_progress *prog, pgd_work *w, float *x_adv,
                               nnp_attack_result *res)
{
    const size_t d = nnp_net_input_size(net), k = nnp_net_output_size(net);
    const double alpha = o->step_size > 0.0 ? o->step_size
                                            : o->steps > 0 ? 2.5 * o->epsilon / (double)o->steps
                                                           : 0.0;
    const double dir = targets ? -1.0 : 1.0;
    for (size_t e = 0; e < g; e++) {
        w->cls[e] = targets ? targets[e] : labels[e];
        w->have[e] = 0;
        res[e].c = o->epsilon;
        if (nnpi_goal_reached(res[e].clean_label, labels ? labels[e] : -1, res[e].target)) {
            w->have[e] = 2; /* x_adv = x already; the group's passes still carry it along */
            res[e].c = 0.0;
        }
        if (o->random_start && o->steps > 0)
            random_start(x + e * d, w->xt + e * d, d, o, first_index + e);
        else
            memcpy(w->xt + e * d, x + e * d, d * sizeof(float));
    }
    for (size_t t = 0; t < o->steps; t++) {
        NNPI_TRY(nnpi_goal_grad(net, ws, w->xt, g, NULL, w->cls, NULL, w->loss, w->grad,
                                w->logits));
        for (size_t e = 0; e < g; e++) {
            float *xe = w->xt + e * d;
            const float *ge = w->grad + e * d;
            /* the point this pass was computed at: x_t */
            int32_t p = nnpi_argmax(w->logits + e * k, k);
            if (w->have[e] == 2) continue;
            if (nnpi_goal_reached(p, labels ? labels[e] : -1, res[e].target)) {
                memcpy(x_adv + e * d, xe, d * sizeof(float));
                w->have[e] = 1;
            }
            if (o->norm == NNP_ATTACK_NORM_L2) {
                double ss = 0.0;
                for (size_t j = 0; j < d; j++) ss += (double)ge[j] * (double)ge[j];
                if (ss > 0.0) {
                    double kk = dir * alpha / sqrt(ss);
                    for (size_t j = 0; j < d; j++)
                        xe[j] = (float)((double)xe[j] + kk * (double)ge[j]);
                }
                project(x + e * d, xe, d, o->norm, o->epsilon);
            } else {
                linf_step(x + e * d, xe, ge, d, (float)(dir * alpha), (float)o->epsilon);
            }
            res[e].iterations++;
            res[e].evaluations++;
        }
        prog->done += g;
        nnp_status s = nnpi_progress_report(prog);
        if (s != NNP_OK) {
            keep_latest(w, g, d, x_adv);
            return s;
        }
    }
    if (o->steps > 0) {
        /* the last iterate x_steps */
        NNPI_TRY(nnpi_classify(net, ws, w->xt, g, w->pred));
        for (size_t e = 0; e < g; e++)
            if (w->have[e] != 2 &&
                nnpi_goal_reached(w->pred[e], labels ? labels[e] : -1, res[e].target)) {
                memcpy(x_adv + e * d, w->xt + e * d, d * sizeof(float));
                w->have[e] = 1;
            }
        keep_latest(w, g, d, x_adv);
    }
    for (size_t e = 0; e < g; e++) res[e].finished = 1;
    return NNP_OK;
}

NNP_API nnp_status nnp_attack_pgd(const nnp_net *net, const float *x, const int32_t *labels,
                                  const int32_t *targets, size_t n,
                                  const nnp_attack_pgd_opts *opts, float *x_adv,
                                  nnp_attack_result *results)
{
    nnp_attack_pgd_opts o;
    default_opts(&o);
    NNPI_TRY(nnpi_opts_copy(&o, sizeof o, opts, "nnp_attack_pgd: opts"));
    NNPI_TRY(check_opts(&o));
    NNPI_TRY(nnpi_attack_check_args(net, x, labels, targets, n, x_adv, results, __func__));
    const size_t d = nnp_net_input_size(net), k = nnp_net_output_size(net);
    const size_t batch = nnpi_attack_batch(o.batch_size, n);
    nnp_workspace *ws = NULL;
    NNPI_TRY(nnp_workspace_create(net, batch, &ws));
    pgd_work w = {0};
    w.xt = nnpi_malloc(nnpi_mul(batch, d) * sizeof(float));
    w.grad = nnpi_malloc(nnpi_mul(batch, d) * sizeof(float));
    w.logits = nnpi_malloc(nnpi_mul(batch, k) * sizeof(float));
    w.loss = nnpi_malloc(batch * sizeof *w.loss);
    w.cls = nnpi_malloc(batch * sizeof *w.cls);
    w.pred = nnpi_malloc(batch * sizeof *w.pred);
    w.have = nnpi_malloc(batch);
    nnp_status st;
    if (!w.xt || !w.grad || !w.logits || !w.loss || !w.cls || !w.pred || !w.have)
        st = nnpi_error(NNP_ENOMEM, "nnp_attack_pgd: out of memory for a batch of %zu", batch);
    else
        st = nnpi_attack_results_init(net, ws, x, targets, n, results);
    if (st == NNP_OK) {
        memcpy(x_adv, x, n * d * sizeof *x_adv);
        nnpi_progress prog = {o.progress, o.progress_user, 0, (uint64_t)n * o.steps, __func__};
        for (size_t s = 0; st == NNP_OK && s < n; s += batch) {
            size_t g = n - s < batch ? n - s : batch;
            st = attack_group(net, ws, x + s * d, labels ? labels + s : NULL,
                              targets ? targets + s : NULL, g, s, &o, &prog, &w, x_adv + s * d,
                              results + s);
        }
        if (st == NNP_OK || st == NNP_ECANCELLED) {
            nnp_status fs = nnpi_attack_finish(net, ws, x, x_adv, labels, n, results);
            if (st == NNP_OK) st = fs;
        }
    }
    nnpi_free(w.xt);
    nnpi_free(w.grad);
    nnpi_free(w.logits);
    nnpi_free(w.loss);
    nnpi_free(w.cls);
    nnpi_free(w.pred);
    nnpi_free(w.have);
    nnp_workspace_free(ws);
    return st;
}
