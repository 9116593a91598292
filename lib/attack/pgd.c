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

#include "attack/driver.h"

static const nnp_attack_pgd_opts pgd_defaults = {
    .size = sizeof(nnp_attack_pgd_opts), .norm = NNP_ATTACK_NORM_LINF, .epsilon = 0.1,
    .steps = 40, .step_size = 0.0, .random_start = 1, .seed = 1, .batch_size = 128};

static nnp_status pgd_check(const void *opts, const char *what)
{
    const nnp_attack_pgd_opts *o = opts;
    if (o->norm != NNP_ATTACK_NORM_LINF && o->norm != NNP_ATTACK_NORM_L2)
        return nnpi_error(NNP_EINVAL, "%s.norm = %d must be NNP_ATTACK_NORM_LINF (0) or "
                          "NNP_ATTACK_NORM_L2 (2)", what, (int)o->norm);
    NNPI_TRY(nnpi_opt_at_least(o->epsilon, 0.0, what, "epsilon"));
    if (o->steps > 1000000)
        return nnpi_error(NNP_EINVAL, "%s.steps = %zu must be <= 1000000", what, o->steps);
    NNPI_TRY(nnpi_opt_at_least(o->step_size, 0.0, what, "step_size"));
    return nnpi_opt_flag(o->random_start, what, "random_start");
}

/* one unit per step */
static uint64_t pgd_progress_each(const void *opts)
{
    return ((const nnp_attack_pgd_opts *)opts)->steps;
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

/* Random start of example `index` of the call (o->first_index + index globally): a uniform point
 * of the ε-ball around x, then clipped into the box. The generator depends on (seed, global
 * index) only, so a shard of a data set draws what the whole run draws for its examples. */
static void random_start(const float *x, float *xt, size_t d, const nnp_attack_pgd_opts *o,
                         size_t index)
{
    nnpi_rng rng;
    const uint64_t global = (uint64_t)o->first_index + index;
    nnpi_rng_seed(&rng, o->seed ^ (0x9E3779B97F4A7C15u * (global + 1)));
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

/* The buffers of one group (see nnpi_carve; w NULL: measures). */
static void pgd_layout(void *work, const void *opts, const nnpi_attack_dims *dm, nnpi_carve *c)
{
    pgd_work *w = work;
    (void)opts;
    NNPI_CARVE_EACH(c, w, dm->batch, loss, cls, pred, have);
    NNPI_CARVE_EACH(c, w, nnpi_mul(dm->batch, dm->d), xt, grad);
    NNPI_CARVE(c, w, logits, nnpi_mul(dm->batch, dm->k));
}

/* x_adv of the examples without a success ← their current iterate. */
static void keep_latest(const pgd_work *w, size_t g, size_t d, float *x_adv)
{
    for (size_t e = 0; e < g; e++)
        if (!w->have[e]) memcpy(x_adv + e * d, w->xt + e * d, d * sizeof(float));
}

/* One step of example e from the gradient ge at its iterate xe (Madry et al. §2), projected. */
static void pgd_step(const nnp_attack_pgd_opts *o, const float *x0, float *xe, const float *ge,
                     size_t d, double step)
{
    if (o->norm == NNP_ATTACK_NORM_L2) {
        double ss = 0.0;
        for (size_t j = 0; j < d; j++) ss += (double)ge[j] * (double)ge[j];
        if (ss > 0.0) {
            double kk = step / sqrt(ss);
            for (size_t j = 0; j < d; j++) xe[j] = (float)((double)xe[j] + kk * (double)ge[j]);
        }
        project(x0, xe, d, o->norm, o->epsilon);
    } else {
        linf_step(x0, xe, ge, d, (float)step, (float)o->epsilon);
    }
}

static nnp_status pgd_group(const nnpi_attack_group *gr)
{
    const nnp_attack_pgd_opts *o = gr->opts;
    const size_t d = gr->dims.d, k = gr->dims.k, g = gr->g;
    const float *x = gr->x;
    nnp_attack_result *res = gr->res;
    pgd_work *w = gr->work;
    const double alpha = o->step_size > 0.0 ? o->step_size
                                            : o->steps > 0 ? 2.5 * o->epsilon / (double)o->steps
                                                           : 0.0;
    const double dir = gr->targets ? -1.0 : 1.0;
    for (size_t e = 0; e < g; e++) {
        w->cls[e] = gr->targets ? gr->targets[e] : gr->labels[e];
        w->have[e] = 0;
        res[e].c = o->epsilon;
        if (nnpi_group_goal(gr, e, res[e].clean_label)) {
            w->have[e] = 2; /* x_adv = x already; the group's passes still carry it along */
            res[e].c = 0.0;
        }
        if (o->random_start && o->steps > 0)
            random_start(x + e * d, w->xt + e * d, d, o, gr->first + e);
        else
            memcpy(w->xt + e * d, x + e * d, d * sizeof(float));
    }
    for (size_t t = 0; t < o->steps; t++) {
        NNPI_TRY(nnpi_goal_grad(gr->net, gr->ws, w->xt, g, NULL, w->cls, NULL, w->loss, w->grad,
                                w->logits));
        for (size_t e = 0; e < g; e++) {
            float *xe = w->xt + e * d;
            if (w->have[e] == 2) continue;
            /* the point this pass was computed at: x_t */
            if (nnpi_group_goal(gr, e, nnpi_argmax(w->logits + e * k, k))) {
                memcpy(gr->x_adv + e * d, xe, d * sizeof(float));
                w->have[e] = 1;
            }
            pgd_step(o, x + e * d, xe, w->grad + e * d, d, dir * alpha);
            res[e].iterations++;
            res[e].evaluations++;
        }
        gr->progress->done += g;
        nnp_status s = nnpi_progress_report(gr->progress);
        if (s != NNP_OK) {
            keep_latest(w, g, d, gr->x_adv);
            return s;
        }
    }
    if (o->steps > 0) {
        /* the last iterate x_steps */
        NNPI_TRY(nnpi_classify(gr->net, gr->ws, w->xt, g, w->pred));
        for (size_t e = 0; e < g; e++)
            if (w->have[e] != 2 && nnpi_group_goal(gr, e, w->pred[e])) {
                memcpy(gr->x_adv + e * d, w->xt + e * d, d * sizeof(float));
                w->have[e] = 1;
            }
        keep_latest(w, g, d, gr->x_adv);
    }
    for (size_t e = 0; e < g; e++) res[e].finished = 1;
    return NNP_OK;
}

static const nnpi_attack_method pgd_method = {
    "nnp_attack_pgd", NNPI_ATTACK_OPTS_LAYOUT(nnp_attack_pgd_opts), &pgd_defaults, pgd_check,
    pgd_progress_each, sizeof(pgd_work), pgd_layout, pgd_group, 0};

NNPI_ATTACK_ENTRY_POINTS(pgd, &pgd_method)
