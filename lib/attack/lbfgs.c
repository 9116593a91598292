/* The paper's attack (Szegedy et al. 2013, §4.1): per example, box-constrained L-BFGS on
 * ‖r‖² + c·loss(x + r) and a search over c (bracket geometrically, then bisect in log space),
 * keeping the successful solution of least distortion. See nnp_attack_lbfgs_opts in attack.h
 * for the form of the penalty and why.
 *
 * Examples are processed in groups of opts.batch_size. Within a group, every "solve" is one call of
 * the batched L-BFGS core over the examples still searching, each with its own c; a round of
 * the core is one batched forward/backward pass. Examples leave the group's next solve once
 * their search is over. */
#include <math.h>
#include <string.h>

#include "attack/common.h"
#include "optim/lbfgs.h"

static void default_opts(nnp_attack_lbfgs_opts *o)
{
    memset(o, 0, sizeof *o);
    o->size = sizeof *o;
    o->c_init = 1.0;
    o->c_factor = 10.0;
    o->c_bracket_steps = 10;
    o->c_bisect_steps = 8;
    o->history = 10;
    o->max_iterations = 1000;
    o->pgtol = 1e-5;
    o->ftol = 2.2e-9;
    o->batch_size = 128;
}

NNP_API nnp_status nnp_attack_lbfgs_opts_init_sized(nnp_attack_lbfgs_opts *opts, size_t size)
{
    nnp_attack_lbfgs_opts d;
    default_opts(&d);
    return nnpi_opts_init(opts, size, &d, sizeof d, "nnp_attack_lbfgs_opts_init");
}

static nnp_status check_opts(const nnp_attack_lbfgs_opts *o)
{
    const char *f = "nnp_attack_lbfgs: opts";
    if (!(o->c_init > 0.0) || !isfinite(o->c_init))
        return nnpi_error(NNP_EINVAL, "%s.c_init = %g must be finite and > 0", f, o->c_init);
    if (!(o->c_factor > 1.0) || !isfinite(o->c_factor))
        return nnpi_error(NNP_EINVAL, "%s.c_factor = %g must be finite and > 1", f, o->c_factor);
    if (o->history < 1 || o->history > 1000)
        return nnpi_error(NNP_EINVAL, "%s.history = %zu must be in 1..1000", f, o->history);
    if (o->max_iterations < 1) return nnpi_error(NNP_EINVAL, "%s.max_iterations is 0", f);
    if (!(o->pgtol >= 0.0) || !isfinite(o->pgtol))
        return nnpi_error(NNP_EINVAL, "%s.pgtol = %g must be finite and >= 0", f, o->pgtol);
    if (!(o->ftol >= 0.0) || !isfinite(o->ftol))
        return nnpi_error(NNP_EINVAL, "%s.ftol = %g must be finite and >= 0", f, o->ftol);
    if (o->batch_size < 1) return nnpi_error(NNP_EINVAL, "%s.batch_size is 0", f);
    if (o->c_bracket_steps > 1000 || o->c_bisect_steps > 1000)
        return nnpi_error(NNP_EINVAL, "%s.c_bracket_steps = %zu and c_bisect_steps = %zu must "
                          "be <= 1000", f, o->c_bracket_steps, o->c_bisect_steps);
    return NNP_OK;
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

/* One group being attacked. */
typedef struct group {
    const nnp_net *net;
    nnp_workspace *ws;
    size_t d;
    const float *x;          /* g × d clean examples */
    const int32_t *labels;   /* g, or NULL (targeted only) */
    const int32_t *targets;  /* g, or NULL (untargeted) */
    /* the current solve: problem p is example member[p] */
    size_t *member;
    int32_t *lab, *tgt;      /* per problem of the current batch of evaluations */
    double *scale;           /* per problem of the current batch: c */
    double *loss;
    const c_search *cs;
    nnpi_progress *progress;
} group;

/* f(r) = ‖r‖² + c·loss(x + r) and its gradient for the problems `ids` of the current solve. */
static nnp_status eval_fg(void *ctx, size_t n_active, const size_t *ids, const float *xr,
                          double *f, float *g)
{
    group *gr = ctx;
    const size_t d = gr->d;
    NNPI_TRY(nnpi_progress_report(gr->progress));
    for (size_t k = 0; k < n_active; k++) {
        size_t e = gr->member[ids[k]];
        gr->lab[k] = gr->labels ? gr->labels[e] : -1;
        gr->tgt[k] = gr->targets ? gr->targets[e] : -1;
        gr->scale[k] = gr->cs[e].c;
    }
    NNPI_TRY(nnpi_goal_grad(gr->net, gr->ws, xr, n_active, gr->lab, gr->targets ? gr->tgt : NULL,
                            gr->scale, gr->loss, g, NULL));
    for (size_t k = 0; k < n_active; k++) {
        const float *x0 = gr->x + gr->member[ids[k]] * d, *xk = xr + k * d;
        float *gk = g + k * d;
        double ss = 0.0;
        for (size_t j = 0; j < d; j++) {
            double r = (double)xk[j] - (double)x0[j];
            ss += r * r;
            gk[j] += (float)(2.0 * r);
        }
        f[k] = ss + gr->loss[k];
    }
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

/* Attacks g examples (one group); x_adv and res are the group's rows. */
static nnp_status attack_group(const nnp_net *net, nnp_workspace *ws, const float *x,
                               const int32_t *labels, const int32_t *targets, size_t g,
                               const nnp_attack_lbfgs_opts *o, nnpi_progress *prog,
                               uint64_t solves_each, float *x_adv, nnp_attack_result *res)
{
    const size_t d = nnp_net_input_size(net);
    nnp_status st = NNP_ENOMEM;
    c_search *cs = nnpi_calloc(g, sizeof *cs);
    size_t *member = nnpi_malloc(g * sizeof *member);
    int32_t *lab = nnpi_malloc(g * sizeof *lab), *tgt = nnpi_malloc(g * sizeof *tgt);
    int32_t *pred = nnpi_malloc(g * sizeof *pred);
    double *scale = nnpi_malloc(g * sizeof *scale), *loss = nnpi_malloc(g * sizeof *loss);
    float *xs = nnpi_malloc(nnpi_mul(g, d) * sizeof *xs);
    float *lo = nnpi_malloc(d * sizeof *lo), *hi = nnpi_malloc(d * sizeof *hi);
    nnpi_lbfgs_result *lr = nnpi_malloc(g * sizeof *lr);
    if (!cs || !member || !lab || !tgt || !pred || !scale || !loss || !xs || !lo || !hi || !lr) {
        nnpi_error(NNP_ENOMEM, "nnp_attack_lbfgs: out of memory for a group of %zu examples", g);
        goto out;
    }
    for (size_t j = 0; j < d; j++) {
        lo[j] = 0.0f;
        hi[j] = 1.0f;
    }
    memcpy(x_adv, x, g * d * sizeof *x_adv);
    for (size_t e = 0; e < g; e++) {
        cs[e].c = o->c_init;
        cs[e].hi = INFINITY;
        int reached = nnpi_goal_reached(res[e].clean_label, labels ? labels[e] : -1,
                                        targets ? targets[e] : -1);
        cs[e].searching = !reached;
        if (reached) {
            res[e].success = res[e].finished = 1;
            prog->done += solves_each;
        }
    }
    nnpi_lbfgs_opts lo_opts;
    nnpi_lbfgs_opts_default(&lo_opts);
    lo_opts.m = o->history;
    lo_opts.max_iter = o->max_iterations;
    lo_opts.max_evals = o->max_iterations + o->max_iterations / 4 + 20; /* line-search slack */
    lo_opts.pgtol = o->pgtol;
    lo_opts.ftol = o->ftol;
    group gr = {net, ws, d, x, labels, targets, member, lab, tgt, scale, loss, cs, prog};

    for (;;) {
        size_t np = 0;
        for (size_t e = 0; e < g; e++)
            if (cs[e].searching) member[np++] = e;
        if (np == 0) break;
        for (size_t p = 0; p < np; p++) memcpy(xs + p * d, x + member[p] * d, d * sizeof *xs);
        st = nnpi_lbfgsb_minimize(np, d, xs, lo, hi, eval_fg, &gr, &lo_opts, lr);
        for (size_t p = 0; p < np; p++) {
            nnp_attack_result *r = &res[member[p]];
            r->iterations += lr[p].iterations;
            r->evaluations += lr[p].evaluations;
        }
        if (st != NNP_OK) goto out; /* cancelled or failed mid-solve: x_adv keeps the best */
        if ((st = nnpi_classify(net, ws, xs, np, pred)) != NNP_OK) goto out;
        for (size_t p = 0; p < np; p++) {
            size_t e = member[p];
            c_search *s = &cs[e];
            int ok = nnpi_goal_reached(pred[p], labels ? labels[e] : -1, targets ? targets[e] : -1);
            nnp_attack_result trial;
            nnpi_attack_distortion(x + e * d, xs + p * d, d, &trial);
            if ((ok && (!s->have_best || trial.l2 < s->best_l2)) || (!ok && !s->have_best)) {
                memcpy(x_adv + e * d, xs + p * d, d * sizeof *xs);
                res[e].c = s->c;
                if (ok) {
                    s->have_best = 1;
                    s->best_l2 = trial.l2;
                }
            }
            s->solves++;
            prog->done++;
            next_c(s, ok, o);
            if (!s->searching) {
                res[e].finished = 1;
                prog->done += solves_each - s->solves;
            }
        }
        if ((st = nnpi_progress_report(prog)) != NNP_OK) goto out;
    }
    st = NNP_OK;
out:
    nnpi_free(cs);
    nnpi_free(member);
    nnpi_free(lab);
    nnpi_free(tgt);
    nnpi_free(pred);
    nnpi_free(scale);
    nnpi_free(loss);
    nnpi_free(xs);
    nnpi_free(lo);
    nnpi_free(hi);
    nnpi_free(lr);
    return st;
}

NNP_API nnp_status nnp_attack_lbfgs(const nnp_net *net, const float *x, const int32_t *labels,
                                    const int32_t *targets, size_t n,
                                    const nnp_attack_lbfgs_opts *opts, float *x_adv,
                                    nnp_attack_result *results)
{
    nnp_attack_lbfgs_opts o;
    default_opts(&o);
    NNPI_TRY(nnpi_opts_copy(&o, sizeof o, opts, "nnp_attack_lbfgs: opts"));
    NNPI_TRY(check_opts(&o));
    NNPI_TRY(nnpi_attack_check_args(net, x, labels, targets, n, x_adv, results, __func__));
    const size_t d = nnp_net_input_size(net), batch = o.batch_size < n ? o.batch_size : n;
    nnp_workspace *ws = NULL;
    NNPI_TRY(nnp_workspace_create(net, batch, &ws));
    nnp_status st = nnpi_attack_results_init(net, ws, x, targets, n, results);
    if (st != NNP_OK) {
        nnp_workspace_free(ws);
        return st;
    }
    const uint64_t solves_each = 1 + o.c_bracket_steps + o.c_bisect_steps;
    nnpi_progress prog = {o.progress, o.progress_user, 0, (uint64_t)n * solves_each, __func__};
    memcpy(x_adv, x, n * d * sizeof *x_adv);
    for (size_t s = 0; st == NNP_OK && s < n; s += batch) {
        size_t g = n - s < batch ? n - s : batch;
        st = attack_group(net, ws, x + s * d, labels ? labels + s : NULL,
                          targets ? targets + s : NULL, g, &o, &prog, solves_each,
                          x_adv + s * d, results + s);
    }
    /* Final labels and distortions of whatever x_adv holds (also after a cancellation). */
    nnp_status cs = nnpi_attack_finish(net, ws, x, x_adv, labels, n, results);
    for (size_t i = 0; cs == NNP_OK && i < n; i++)
        if (results[i].rms == 0.0) results[i].c = 0.0;
    nnp_workspace_free(ws);
    return st != NNP_OK ? st : cs;
}
