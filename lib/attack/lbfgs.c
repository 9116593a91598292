/* The paper's attack (Szegedy et al. 2013, §4.1): per example, box-constrained L-BFGS on
 * ‖r‖² + c·loss(x + r) and a search over c (bracket geometrically, then bisect in log space),
 * keeping the successful solution of least distortion. See nnp_attack_lbfgs_opts in attack.h
 * for the form of the penalty and why.
 *
 * Examples are processed in groups of opts.batch_size. Within a group, every "solve" is one call
 * of the batched L-BFGS core over the examples still searching, each with its own c; a round of
 * the core is one batched forward/backward pass. Examples leave the group's next solve once
 * their search is over. */
#include <math.h>
#include <string.h>

#include "attack/driver.h"
#include "core/threads.h"
#include "optim/lbfgs.h"

static const nnp_attack_lbfgs_opts lbfgs_defaults = {
    .size = sizeof(nnp_attack_lbfgs_opts), .c_init = 1.0, .c_factor = 10.0,
    .c_bracket_steps = 10, .c_bisect_steps = 8, .history = 10, .max_iterations = 1000,
    .pgtol = 1e-5, .ftol = 2.2e-9, .batch_size = 128};

static nnp_status lbfgs_check(const void *opts, const char *what)
{
    const nnp_attack_lbfgs_opts *o = opts;
    NNPI_TRY(nnpi_opt_above(o->c_init, 0.0, what, "c_init"));
    NNPI_TRY(nnpi_opt_above(o->c_factor, 1.0, what, "c_factor"));
    NNPI_TRY(nnpi_opt_count(o->history, 1, 1000, what, "history"));
    if (o->max_iterations < 1) return nnpi_error(NNP_EINVAL, "%s.max_iterations is 0", what);
    NNPI_TRY(nnpi_opt_at_least(o->pgtol, 0.0, what, "pgtol"));
    NNPI_TRY(nnpi_opt_at_least(o->ftol, 0.0, what, "ftol"));
    if (o->c_bracket_steps > 1000 || o->c_bisect_steps > 1000)
        return nnpi_error(NNP_EINVAL, "%s.c_bracket_steps = %zu and c_bisect_steps = %zu must "
                          "be <= 1000", what, o->c_bracket_steps, o->c_bisect_steps);
    return NNP_OK;
}

/* one unit per solve, the most an example can need: the first c, every bracketing step and
 * every bisection; an example that stops early counts the solves it did not need */
static uint64_t lbfgs_progress_each(const void *opts)
{
    const nnp_attack_lbfgs_opts *o = opts;
    return 1 + (uint64_t)o->c_bracket_steps + o->c_bisect_steps;
}

/* The search over c of one example. */
typedef struct c_search {
    double c;          /* value of the next solve */
    double lo, hi;     /* largest failing c (0: none yet), smallest succeeding c (∞: none) */
    size_t up, down, bisect;
    size_t solves;
    int searching;     /* still needs solves */
    int have_best;     /* x_adv holds a success */
    double best_l2;
} c_search;

/* Buffers of one group (capacity `batch` examples) and what the evaluations of a solve read.
 * The current solve's problem p is example member[p]. */
typedef struct lbfgs_work {
    const nnpi_attack_group *gr;
    c_search *cs;            /* batch */
    size_t *member;          /* batch */
    int32_t *lab, *tgt;      /* batch: per problem of the current batch of evaluations */
    double *scale;           /* batch: per problem of the current batch: c */
    double *loss;            /* batch */
    int32_t *pred;           /* batch */
    float *xs;               /* batch × d: the solutions of a solve */
    float *lo, *hi;          /* d: the box */
    nnpi_lbfgs_result *lr;   /* batch */
} lbfgs_work;

/* The buffers of one group (see nnpi_carve; w NULL: measures). */
static void lbfgs_layout(void *work, const void *opts, const nnpi_attack_dims *dm, nnpi_carve *c)
{
    lbfgs_work *w = work;
    (void)opts;
    NNPI_CARVE_EACH(c, w, dm->batch, cs, member, lab, tgt, pred, scale, loss);
    NNPI_CARVE(c, w, xs, nnpi_mul(dm->batch, dm->d));
    NNPI_CARVE_EACH(c, w, dm->d, lo, hi);
    NNPI_CARVE(c, w, lr, dm->batch);
}

/* The distortion term ‖r‖² of problems [k0, k1) of a batch of evaluations, added to f and g
 * (each example alone, so the same bits however the batch is cut between threads). */
typedef struct penalty_job {
    const lbfgs_work *w;
    const size_t *ids;
    const float *xr;
    double *f;
    float *g;
} penalty_job;

static void add_penalty_range(void *ctx, size_t k0, size_t k1)
{
    const penalty_job *j = ctx;
    const nnpi_attack_group *gr = j->w->gr;
    const size_t d = gr->dims.d;
    for (size_t k = k0; k < k1; k++) {
        const float *x0 = gr->x + j->w->member[j->ids[k]] * d, *xk = j->xr + k * d;
        float *gk = j->g + k * d;
        double ss = 0.0;
        for (size_t i = 0; i < d; i++) {
            double r = (double)xk[i] - (double)x0[i];
            ss += r * r;
            gk[i] += (float)(2.0 * r);
        }
        j->f[k] = ss + j->w->loss[k];
    }
}

/* f(r) = ‖r‖² + c·loss(x + r) and its gradient for the problems `ids` of the current solve. */
static nnp_status eval_fg(void *ctx, size_t n_active, const size_t *ids, const float *xr,
                          double *f, float *g)
{
    lbfgs_work *w = ctx;
    const nnpi_attack_group *gr = w->gr;
    const size_t d = gr->dims.d;
    NNPI_TRY(nnpi_progress_report(gr->progress));
    for (size_t k = 0; k < n_active; k++) {
        size_t e = w->member[ids[k]];
        w->lab[k] = gr->labels ? gr->labels[e] : -1;
        w->tgt[k] = gr->targets ? gr->targets[e] : -1;
        w->scale[k] = w->cs[e].c;
    }
    /* rows of xr are the active problems, not the group's: unnumbered in messages */
    gr->ws->first_example = NNPI_UNNUMBERED;
    nnp_status gst = nnpi_goal_grad(gr->net, gr->ws, xr, n_active, w->lab,
                                    gr->targets ? w->tgt : NULL, w->scale, w->loss, g, NULL);
    gr->ws->first_example = gr->first;
    NNPI_TRY(gst);
    penalty_job j = {w, ids, xr, f, g};
    nnpi_parallel_range(n_active, 4 * d, add_penalty_range, &j);
    return NNP_OK;
}

/* Next c after a solve that did (ok) or did not reach the goal; clears `searching` when the
 * schedule is spent. */
static void next_c(c_search *s, int ok, const nnp_attack_lbfgs_opts *o)
{
    if (ok) s->hi = s->c;
    else s->lo = s->c;
    if (isinf(s->hi)) {
        if (s->up < o->c_bracket_steps) {
            s->c *= o->c_factor;
            s->up++;
            return;
        }
    } else if (s->lo == 0.0) {
        if (s->down < o->c_bracket_steps) {
            s->c /= o->c_factor;
            s->down++;
            return;
        }
    } else if (s->bisect < o->c_bisect_steps) {
        s->c = sqrt(s->lo * s->hi);
        s->bisect++;
        return;
    }
    s->searching = 0;
}

/* After a solve of np problems: success per problem, the least-distortion success (else, while
 * there is none, the latest solution) into x_adv with its c, and the next c. */
static nnp_status after_solve(lbfgs_work *w, size_t np)
{
    const nnpi_attack_group *gr = w->gr;
    const nnp_attack_lbfgs_opts *o = gr->opts;
    const size_t d = gr->dims.d;
    const uint64_t solves_each = lbfgs_progress_each(o);
    gr->ws->first_example = NNPI_UNNUMBERED; /* rows of xs are problems, not the group's */
    nnp_status cst = nnpi_classify(gr->net, gr->ws, w->xs, np, w->pred);
    gr->ws->first_example = gr->first;
    NNPI_TRY(cst);
    for (size_t p = 0; p < np; p++) {
        size_t e = w->member[p];
        c_search *s = &w->cs[e];
        nnp_attack_result *r = &gr->res[e];
        int ok = nnpi_group_goal(gr, e, w->pred[p]);
        nnp_attack_result trial;
        nnpi_attack_distortion(gr->x + e * d, w->xs + p * d, d, &trial);
        if ((ok && (!s->have_best || trial.l2 < s->best_l2)) || (!ok && !s->have_best)) {
            memcpy(gr->x_adv + e * d, w->xs + p * d, d * sizeof(float));
            r->c = trial.rms == 0.0 ? 0.0 : s->c; /* no change: no c applies */
            if (ok) {
                s->have_best = 1;
                s->best_l2 = trial.l2;
            }
        }
        s->solves++;
        gr->progress->done++;
        next_c(s, ok, o);
        if (!s->searching) {
            r->finished = 1;
            gr->progress->done += solves_each - s->solves;
        }
    }
    return NNP_OK;
}

static nnp_status lbfgs_group(const nnpi_attack_group *gr)
{
    const nnp_attack_lbfgs_opts *o = gr->opts;
    const size_t d = gr->dims.d, g = gr->g;
    lbfgs_work *w = gr->work;
    w->gr = gr;
    memset(w->cs, 0, g * sizeof *w->cs);
    for (size_t j = 0; j < d; j++) {
        w->lo[j] = 0.0f;
        w->hi[j] = 1.0f;
    }
    for (size_t e = 0; e < g; e++) {
        w->cs[e].c = o->c_init;
        w->cs[e].hi = INFINITY;
        int reached = nnpi_group_goal(gr, e, gr->res[e].clean_label);
        w->cs[e].searching = !reached;
        if (reached) {
            gr->res[e].success = gr->res[e].finished = 1;
            gr->progress->done += lbfgs_progress_each(o);
        }
    }
    nnpi_lbfgs_opts lo_opts;
    nnpi_lbfgs_opts_default(&lo_opts);
    lo_opts.m = o->history;
    lo_opts.max_iter = o->max_iterations;
    lo_opts.max_evals = o->max_iterations + o->max_iterations / 4 + 20; /* line-search slack */
    lo_opts.pgtol = o->pgtol;
    lo_opts.ftol = o->ftol;
    for (;;) {
        size_t np = 0;
        for (size_t e = 0; e < g; e++)
            if (w->cs[e].searching) w->member[np++] = e;
        if (np == 0) break;
        for (size_t p = 0; p < np; p++)
            memcpy(w->xs + p * d, gr->x + w->member[p] * d, d * sizeof *w->xs);
        nnp_status st =
            nnpi_lbfgsb_minimize(np, d, w->xs, w->lo, w->hi, eval_fg, w, &lo_opts, w->lr);
        for (size_t p = 0; p < np; p++) {
            nnp_attack_result *r = &gr->res[w->member[p]];
            r->iterations += w->lr[p].iterations;
            r->evaluations += w->lr[p].evaluations;
        }
        if (st != NNP_OK) return st; /* cancelled or failed mid-solve: x_adv keeps the best */
        NNPI_TRY(after_solve(w, np));
        NNPI_TRY(nnpi_progress_report(gr->progress));
    }
    return NNP_OK;
}

static const nnpi_attack_method lbfgs_method = {
    "nnp_attack_lbfgs", NNPI_ATTACK_OPTS_LAYOUT(nnp_attack_lbfgs_opts), &lbfgs_defaults,
    lbfgs_check, lbfgs_progress_each, sizeof(lbfgs_work), lbfgs_layout, lbfgs_group, 0};

NNPI_ATTACK_ENTRY_POINTS(lbfgs, &lbfgs_method)
