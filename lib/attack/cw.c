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
#include "attack/common.h"

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

static void default_opts(nnp_attack_cw_opts *o)
{
    memset(o, 0, sizeof *o);
    o->size = sizeof *o;
    o->c_init = 1e-3;
    o->binary_search_steps = 9;
    o->steps = 1000;
    o->learning_rate = 0.01;
    o->confidence = 0.0;
    o->abort_early = 1;
    o->batch_size = 128;
}

NNP_API nnp_status nnp_attack_cw_opts_init_sized(nnp_attack_cw_opts *opts, size_t size)
{
    nnp_attack_cw_opts d;
    default_opts(&d);
    return nnpi_opts_init(opts, size, &d, sizeof d, "nnp_attack_cw_opts_init");
}

static nnp_status check_opts(const nnp_attack_cw_opts *o)
{
    const char *f = "nnp_attack_cw: opts";
    if (!(o->c_init > 0.0) || !isfinite(o->c_init))
        return nnpi_error(NNP_EINVAL, "%s.c_init = %g must be finite and > 0", f, o->c_init);
    if (o->binary_search_steps < 1 || o->binary_search_steps > 1000)
        return nnpi_error(NNP_EINVAL, "%s.binary_search_steps = %zu must be in 1..1000", f,
                          o->binary_search_steps);
    if (o->steps < 1 || o->steps > 10000000)
        return nnpi_error(NNP_EINVAL, "%s.steps = %zu must be in 1..10000000", f, o->steps);
    if (!(o->learning_rate > 0.0) || !isfinite(o->learning_rate))
        return nnpi_error(NNP_EINVAL, "%s.learning_rate = %g must be finite and > 0", f,
                          o->learning_rate);
    if (!(o->confidence >= 0.0) || !isfinite(o->confidence))
        return nnpi_error(NNP_EINVAL, "%s.confidence = %g must be finite and >= 0", f,
                          o->confidence);
    if (o->abort_early != 0 && o->abort_early != 1)
        return nnpi_error(NNP_EINVAL, "%s.abort_early = %d must be 0 or 1", f, o->abort_early);
    if (o->batch_size < 1) return nnpi_error(NNP_EINVAL, "%s.batch_size is 0", f);
    return NNP_OK;
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

static nnp_status attack_group(const nnp_net *net, nnp_workspace *ws, const float *x,
                               const int32_t *labels, const int32_t *targets, size_t g,
                               const nnp_attack_cw_opts *o, nnpi_progress *prog, cw_work *w,
                               float *x_adv, nnp_attack_result *res)
{
    const size_t d = nnp_net_input_size(net), k = nnp_net_output_size(net);
    const size_t check_every = (o->steps + 9) / 10;
    const uint64_t per_round = o->steps;
    for (size_t e = 0; e < g; e++) {
        cw_state *s = &w->st[e];
        memset(s, 0, sizeof *s);
        s->c = o->c_init;
        s->hi = INFINITY;
        s->best_l2sq = INFINITY;
        s->skip = nnpi_goal_reached(res[e].clean_label, labels ? labels[e] : -1, res[e].target);
        if (s->skip) {
            res[e].finished = 1; /* x_adv = x, c = 0 */
            prog->done += per_round * o->binary_search_steps;
        }
        for (size_t j = 0; j < d; j++)
            w->w0[e * d + j] = (float)atanh((2.0 * (double)x[e * d + j] - 1.0) * CW_BOX_SHRINK);
    }
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
            NNPI_TRY(nnpi_attack_forward(net, ws, w->xb, na, &z));
            memset(w->vz, 0, na * k * sizeof(float));
            for (size_t p = 0; p < na; p++) {
                size_t e = w->act[p];
                cw_state *s = &w->st[e];
                const float *zp = z + p * k, *xp = w->xb + p * d, *x0 = x + e * d;
                const int32_t y = labels ? labels[e] : -1, t = targets ? targets[e] : -1;
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
                        memcpy(x_adv + e * d, xp, d * sizeof(float));
                        res[e].c = s->c;
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
            nnpi_attack_backward(net, ws, w->xb, na, w->vz, w->gb);
            for (size_t p = 0; p < na; p++) {
                size_t e = w->act[p];
                cw_state *s = &w->st[e];
                res[e].evaluations++;
                if (!s->running) { /* aborted at this check: count the round's rest as done */
                    prog->done += per_round - s->t;
                    continue;
                }
                s->t++;
                res[e].iterations++;
                const double bc1 = 1.0 - pow(CW_BETA1, (double)s->t);
                const double bc2 = 1.0 - pow(CW_BETA2, (double)s->t);
                cw_adam(d, w->xb + p * d, x + e * d, w->gb + p * d, w->w + e * d, w->m + e * d,
                        w->v + e * d, (float)CW_BETA1, (float)CW_BETA2,
                        (float)(o->learning_rate * sqrt(bc2) / bc1),
                        (float)(CW_ADAM_EPS * sqrt(bc2)));
                prog->done++;
                if (s->t == o->steps) s->running = 0;
            }
            NNPI_TRY(nnpi_progress_report(prog));
        }
        /* Next c (Carlini & Wagner's schedule); examples without any success keep the last
         * iterate of this round. */
        for (size_t e = 0; e < g; e++) {
            cw_state *s = &w->st[e];
            if (s->skip) continue;
            s->running = 0;
            if (isinf(s->best_l2sq)) {
                cw_point(w->w + e * d, d, x_adv + e * d);
                res[e].c = s->c;
            }
            if (s->success_c) {
                s->hi = fmin(s->hi, s->c);
                s->c = 0.5 * (s->lo + s->hi);
            } else {
                s->lo = fmax(s->lo, s->c);
                s->c = isinf(s->hi) ? s->c * 10.0 : 0.5 * (s->lo + s->hi);
            }
            if (round + 1 == o->binary_search_steps) res[e].finished = 1;
        }
    }
    return NNP_OK;
}

NNP_API nnp_status nnp_attack_cw(const nnp_net *net, const float *x, const int32_t *labels,
                                 const int32_t *targets, size_t n, const nnp_attack_cw_opts *opts,
                                 float *x_adv, nnp_attack_result *results)
{
    nnp_attack_cw_opts o;
    default_opts(&o);
    NNPI_TRY(nnpi_opts_copy(&o, sizeof o, opts, "nnp_attack_cw: opts"));
    NNPI_TRY(check_opts(&o));
    NNPI_TRY(nnpi_attack_check_args(net, x, labels, targets, n, x_adv, results, __func__));
    const size_t d = nnp_net_input_size(net), k = nnp_net_output_size(net);
    const size_t batch = nnpi_attack_batch(o.batch_size, n);
    nnp_workspace *ws = NULL;
    NNPI_TRY(nnp_workspace_create(net, batch, &ws));
    const size_t bd = nnpi_mul(batch, d);
    cw_work w = {0};
    w.st = nnpi_malloc(batch * sizeof *w.st);
    w.w = nnpi_malloc(bd * sizeof(float));
    w.m = nnpi_malloc(bd * sizeof(float));
    w.v = nnpi_malloc(bd * sizeof(float));
    w.w0 = nnpi_malloc(bd * sizeof(float));
    w.act = nnpi_malloc(batch * sizeof *w.act);
    w.xb = nnpi_malloc(bd * sizeof(float));
    w.gb = nnpi_malloc(bd * sizeof(float));
    w.vz = nnpi_malloc(nnpi_mul(batch, k) * sizeof(float));
    nnp_status st;
    if (!w.st || !w.w || !w.m || !w.v || !w.w0 || !w.act || !w.xb || !w.gb || !w.vz)
        st = nnpi_error(NNP_ENOMEM, "nnp_attack_cw: out of memory for a batch of %zu", batch);
    else
        st = nnpi_attack_results_init(net, ws, x, targets, n, results);
    if (st == NNP_OK) {
        memcpy(x_adv, x, n * d * sizeof *x_adv);
        nnpi_progress prog = {o.progress, o.progress_user, 0,
                              (uint64_t)n * o.binary_search_steps * o.steps, __func__};
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
    nnpi_free(w.st);
    nnpi_free(w.w);
    nnpi_free(w.m);
    nnpi_free(w.v);
    nnpi_free(w.w0);
    nnpi_free(w.act);
    nnpi_free(w.xb);
    nnpi_free(w.gb);
    nnpi_free(w.vz);
    nnp_workspace_free(ws);
    return st;
}
