/* Carlini & Wagner's L2 attack (Carlini & Wagner 2017, "Towards evaluating the robustness of
 * neural networks", §V: x' = ½(tanh w + 1), minimise ‖x' − x‖² + c·f(x') with
 * f = max(max_{i≠t} Z_i − Z_t, −κ), Adam, and a binary search over c). See nnp_attack_cw_opts
 * in attack.h for the exact schedule.
 *
 * Per group of opts.batch_size examples: every value of c is one round; in a round each Adam step
 * is one batched forward and one batched backward pass over the examples of the group that are
 * still optimising (examples that abort early leave the round). Every example does the same
 * number of rounds, so rounds stay in step across the group. */
#include <math.h>
#include <string.h>

#include "core/fastmath.h"
#include "attack/driver.h"

/* x' = ½(tanh w + 1) = 1/(1 + e^{−2w}) = σ(2w): computed as a sigmoid in float with a
 * branch-free exponential so the per-value loops vectorise (libm's tanh in double was a third
 * of the attack's time outside the GEMMs, measured with bench/bench_attacks under perf); the
 * exponential is nnpi_exp_fast() of core/fastmath.h (relative error < 2e-7). */

/* x' of d variables w */
NNPI_SIMD_CLONES static void cw_point(const float *restrict w, size_t d, float *restrict xp)
{
    for (size_t j = 0; j < d; j++) xp[j] = 1.0f / (1.0f + nnpi_exp_fast(-2.0f * w[j]));
}

/* One Adam step (Kingma & Ba 2015) on the d variables w of one example, from x' = σ(2w), x and
 * the margin term's gradient gp with respect to x'. Bias corrections are folded into the step:
 * lr·m̂/(√v̂ + ε̂) = lr_t·m/(√v + ε_t) with lr_t = lr·√bc2/bc1 and ε_t = ε̂·√bc2. */
NNPI_SIMD_CLONES static void cw_adam(size_t d, const float *restrict xp, const float *restrict x0,
                                     const float *restrict gp, float *restrict w,
                                     float *restrict m, float *restrict v, float b1, float b2,
                                     float lr_t, float eps_t)
{
    for (size_t j = 0; j < d; j++) {
        const float gx = 2.0f * (xp[j] - x0[j]) + gp[j];  /* d objective / d x' */
        const float g = gx * 2.0f * xp[j] * (1.0f - xp[j]); /* d x'/d w = 2x'(1 − x') */
        const float mj = b1 * m[j] + (1.0f - b1) * g;
        const float vj = b2 * v[j] + (1.0f - b2) * g * g;
        m[j] = mj;
        v[j] = vj;
        w[j] -= lr_t * mj / (__builtin_sqrtf(vj) + eps_t);
    }
}

#define CW_BETA1 0.9
#define CW_BETA2 0.999
#define CW_ADAM_EPS 1e-8
#define CW_BOX_SHRINK 0.999999 /* atanh(±1) is infinite: start from slightly inside */

static const nnp_attack_cw_opts cw_defaults = {
    .size = sizeof(nnp_attack_cw_opts), .c_init = 1e-3, .binary_search_steps = 9, .steps = 1000,
    .learning_rate = 0.01, .confidence = 0.0, .abort_early = 1, .batch_size = 128};

static nnp_status cw_check(const void *opts, const char *what)
{
    const nnp_attack_cw_opts *o = opts;
    NNPI_TRY(nnpi_opt_above(o->c_init, 0.0, what, "c_init"));
    NNPI_TRY(nnpi_opt_count(o->binary_search_steps, 1, 1000, what, "binary_search_steps"));
    NNPI_TRY(nnpi_opt_count(o->steps, 1, 10000000, what, "steps"));
    NNPI_TRY(nnpi_opt_above(o->learning_rate, 0.0, what, "learning_rate"));
    NNPI_TRY(nnpi_opt_at_least(o->confidence, 0.0, what, "confidence"));
    return nnpi_opt_flag(o->abort_early, what, "abort_early");
}

/* one unit per Adam step of every round; an aborted round counts its remaining steps */
static uint64_t cw_progress_each(const void *opts)
{
    const nnp_attack_cw_opts *o = opts;
    return (uint64_t)o->binary_search_steps * o->steps;
}

/* Per-example state of the search over c and of the current round. */
typedef struct cw_state {
    double c, lo, hi;   /* current c; largest failing c (0: none); smallest succeeding (∞) */
    double best_l2sq;   /* of the successful iterate in x_adv (∞: none yet) */
    double prev;        /* objective at the last abort-early check */
    size_t t;           /* Adam steps in this round */
    int running;        /* still optimising in this round */
    int success_c;      /* some iterate of this round succeeded */
    int skip;           /* goal reached at x: not attacked */
} cw_state;

typedef struct cw_work {
    cw_state *st;      /* batch */
    float *w, *m, *v;  /* batch × d: variables and Adam moments */
    float *w0;         /* batch × d: starting point atanh((2x − 1)·shrink) */
    size_t *act;       /* batch: packed → group index */
    float *xb;         /* batch × d: packed iterates x' */
    float *gb;         /* batch × d: packed gradients d/dx' of the margin term */
    float *vz;         /* batch × k: cotangents of the logits */
} cw_work;

/* The buffers of one group (see nnpi_carve; w NULL: measures). */
static void cw_layout(void *work, const void *opts, const nnpi_attack_dims *dm, nnpi_carve *c)
{
    cw_work *w = work;
    (void)opts;
    NNPI_CARVE_EACH(c, w, dm->batch, st, act);
    NNPI_CARVE_EACH(c, w, nnpi_mul(dm->batch, dm->d), w, m, v, w0, xb, gb);
    NNPI_CARVE(c, w, vz, nnpi_mul(dm->batch, dm->k));
}

/* Margin m of one example (see attack.h) and the logit index it compares with. */
static double margin(const float *z, size_t k, int32_t label, int32_t target, int32_t *other)
{
    const int32_t ref = target >= 0 ? target : label;
    int32_t o = -1;
    for (size_t j = 0; j < k; j++)
        if ((int32_t)j != ref && (o < 0 || z[j] > z[o])) o = (int32_t)j;
    *other = o;
    if (o < 0) return 0.0; /* a single class: nothing to compare with */
    return target >= 0 ? (double)z[o] - (double)z[ref] : (double)z[ref] - (double)z[o];
}

/* Fresh state of the search over c of every example of the group, and the starting point w0. */
static void cw_start(const nnpi_attack_group *gr, cw_work *w)
{
    const nnp_attack_cw_opts *o = gr->opts;
    const size_t d = gr->dims.d;
    for (size_t e = 0; e < gr->g; e++) {
        cw_state *s = &w->st[e];
        memset(s, 0, sizeof *s);
        s->c = o->c_init;
        s->hi = INFINITY;
        s->best_l2sq = INFINITY;
        s->skip = nnpi_group_goal(gr, e, gr->res[e].clean_label);
        if (s->skip) {
            gr->res[e].finished = 1; /* x_adv = x, c = 0 */
            gr->progress->done += cw_progress_each(o);
        }
        for (size_t j = 0; j < d; j++)
            w->w0[e * d + j] = (float)atanh((2.0 * (double)gr->x[e * d + j] - 1.0) * CW_BOX_SHRINK);
    }
}

/* The packed forward pass of one Adam step: per example the objective ‖x' − x‖² + c·max(m, −κ)
 * (§V), a success check that keeps the least-distortion success in x_adv, the cotangent of
 * the margin term in vz, and the abort-early test every tenth of the steps. */
static void cw_objective(const nnpi_attack_group *gr, cw_work *w, const float *z, size_t na,
                         size_t step)
{
    const nnp_attack_cw_opts *o = gr->opts;
    const size_t d = gr->dims.d, k = gr->dims.k, check_every = (o->steps + 9) / 10;
    memset(w->vz, 0, na * k * sizeof(float));
    for (size_t p = 0; p < na; p++) {
        size_t e = w->act[p];
        cw_state *s = &w->st[e];
        const float *zp = z + p * k, *xp = w->xb + p * d, *x0 = gr->x + e * d;
        const int32_t y = gr->labels ? gr->labels[e] : -1, t = gr->targets ? gr->targets[e] : -1;
        int32_t other;
        double mg = margin(zp, k, y, t, &other);
        double l2sq = 0.0;
        for (size_t j = 0; j < d; j++) {
            double r = (double)xp[j] - (double)x0[j];
            l2sq += r * r;
        }
        double obj = l2sq + s->c * fmax(mg, -o->confidence);
        int ok = nnpi_goal_reached(nnpi_argmax(zp, k), y, t) && mg <= -o->confidence;
        if (ok) {
            s->success_c = 1;
            if (l2sq < s->best_l2sq) {
                s->best_l2sq = l2sq;
                memcpy(gr->x_adv + e * d, xp, d * sizeof(float));
                gr->res[e].c = s->c;
            }
        }
        /* d/dz of c·max(m, −κ): active only above the floor */
        if (mg > -o->confidence && other >= 0) {
            const int32_t ref = t >= 0 ? t : y;
            const float cs = (float)s->c;
            w->vz[p * k + (size_t)other] += t >= 0 ? cs : -cs;
            w->vz[p * k + (size_t)ref] += t >= 0 ? -cs : cs;
        }
        if (o->abort_early && step % check_every == 0) {
            if (obj > s->prev * 0.9999) s->running = 0; /* no progress: stop this c */
            s->prev = obj;
        }
    }
}

/* The Adam updates of one step from the packed gradients gb (Kingma & Ba 2015, bias
 * corrections folded into the step as in cw_adam()). */
static void cw_update(const nnpi_attack_group *gr, cw_work *w, size_t na)
{
    const nnp_attack_cw_opts *o = gr->opts;
    const size_t d = gr->dims.d;
    const uint64_t per_round = o->steps;
    for (size_t p = 0; p < na; p++) {
        size_t e = w->act[p];
        cw_state *s = &w->st[e];
        gr->res[e].evaluations++;
        if (!s->running) { /* aborted at this check: count the round's rest as done */
            gr->progress->done += per_round - s->t;
            continue;
        }
        s->t++;
        gr->res[e].iterations++;
        const double bc1 = 1.0 - pow(CW_BETA1, (double)s->t);
        const double bc2 = 1.0 - pow(CW_BETA2, (double)s->t);
        cw_adam(d, w->xb + p * d, gr->x + e * d, w->gb + p * d, w->w + e * d, w->m + e * d,
                w->v + e * d, (float)CW_BETA1, (float)CW_BETA2,
                (float)(o->learning_rate * sqrt(bc2) / bc1), (float)(CW_ADAM_EPS * sqrt(bc2)));
        gr->progress->done++;
        if (s->t == o->steps) s->running = 0;
    }
}

/* Next c (Carlini & Wagner's schedule) after a round; examples without any success keep the
 * last iterate of this round. */
static void cw_next_c(const nnpi_attack_group *gr, cw_work *w, int last_round)
{
    const size_t d = gr->dims.d;
    for (size_t e = 0; e < gr->g; e++) {
        cw_state *s = &w->st[e];
        if (s->skip) continue;
        s->running = 0;
        if (isinf(s->best_l2sq)) {
            cw_point(w->w + e * d, d, gr->x_adv + e * d);
            gr->res[e].c = s->c;
        }
        if (s->success_c) {
            s->hi = fmin(s->hi, s->c);
            s->c = 0.5 * (s->lo + s->hi);
        } else {
            s->lo = fmax(s->lo, s->c);
            s->c = isinf(s->hi) ? s->c * 10.0 : 0.5 * (s->lo + s->hi);
        }
        if (last_round) gr->res[e].finished = 1;
    }
}

static nnp_status cw_group(const nnpi_attack_group *gr)
{
    const nnp_attack_cw_opts *o = gr->opts;
    const size_t d = gr->dims.d, g = gr->g;
    cw_work *w = gr->work;
    cw_start(gr, w);
    for (size_t round = 0; round < o->binary_search_steps; round++) {
        for (size_t e = 0; e < g; e++) {
            cw_state *s = &w->st[e];
            if (s->skip) continue;
            s->running = 1;
            s->success_c = 0;
            s->t = 0;
            s->prev = INFINITY;
            memcpy(w->w + e * d, w->w0 + e * d, d * sizeof(float));
            memset(w->m + e * d, 0, d * sizeof(float));
            memset(w->v + e * d, 0, d * sizeof(float));
        }
        for (size_t step = 0; step < o->steps; step++) {
            size_t na = 0;
            for (size_t e = 0; e < g; e++) {
                if (!w->st[e].running) continue;
                cw_point(w->w + e * d, d, w->xb + na * d);
                w->act[na++] = e;
            }
            if (na == 0) break;
            const float *z;
            /* rows of xb are the running examples, not the group's: unnumbered in messages */
            gr->ws->first_example = NNPI_UNNUMBERED;
            nnp_status fst = nnpi_attack_forward(gr->net, gr->ws, w->xb, na, &z);
            gr->ws->first_example = gr->first;
            NNPI_TRY(fst);
            cw_objective(gr, w, z, na, step);
            nnpi_attack_backward(gr->net, gr->ws, w->xb, na, w->vz, w->gb);
            cw_update(gr, w, na);
            NNPI_TRY(nnpi_progress_report(gr->progress));
        }
        cw_next_c(gr, w, round + 1 == o->binary_search_steps);
    }
    return NNP_OK;
}

static const nnpi_attack_method cw_method = {
    "nnp_attack_cw", NNPI_ATTACK_OPTS_LAYOUT(nnp_attack_cw_opts), &cw_defaults, cw_check,
    cw_progress_each, sizeof(cw_work), cw_layout, cw_group, 0};

NNPI_ATTACK_ENTRY_POINTS(cw, &cw_method)
