/* The attacks' run loop (see driver.h). */
#include "attack/driver.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "net/loss.h"

/* Pieces start on a cache line: as aligned as any type needs, and no two buffers share one. */
enum { CARVE_ALIGN = 64 };

void *nnpi_carve_take(nnpi_carve *c, size_t count, size_t size)
{
    const size_t bytes = nnpi_mul(count, size);
    const size_t at = c->used;
    if (bytes > SIZE_MAX - CARVE_ALIGN || at > SIZE_MAX - CARVE_ALIGN - bytes) {
        c->used = SIZE_MAX;
        return NULL;
    }
    c->used = at + (bytes + CARVE_ALIGN - 1) / CARVE_ALIGN * CARVE_ALIGN;
    return c->base ? c->base + at : NULL;
}

nnp_status nnpi_progress_report(const nnpi_progress *p)
{
    if (p->fn && p->fn(p->done, p->total, p->user) != 0)
        return nnpi_error(NNP_ECANCELLED, "%s: cancelled by the progress callback", p->func);
    return NNP_OK;
}

/* ---- option checks ------------------------------------------------------------------------ */

nnp_status nnpi_opt_above(double v, double lo, const char *what, const char *field)
{
    if (!(v > lo) || !isfinite(v))
        return nnpi_error(NNP_EINVAL, "%s.%s = %g must be finite and > %g", what, field, v, lo);
    return NNP_OK;
}

nnp_status nnpi_opt_at_least(double v, double lo, const char *what, const char *field)
{
    if (!(v >= lo) || !isfinite(v))
        return nnpi_error(NNP_EINVAL, "%s.%s = %g must be finite and >= %g", what, field, v, lo);
    return NNP_OK;
}

nnp_status nnpi_opt_count(size_t v, size_t lo, size_t hi, const char *what, const char *field)
{
    if (v < lo || v > hi)
        return nnpi_error(NNP_EINVAL, "%s.%s = %zu must be in %zu..%zu", what, field, v, lo, hi);
    return NNP_OK;
}

nnp_status nnpi_opt_flag(int v, const char *what, const char *field)
{
    if (v != 0 && v != 1)
        return nnpi_error(NNP_EINVAL, "%s.%s = %d must be 0 or 1", what, field, v);
    return NNP_OK;
}

/* ---- the run ------------------------------------------------------------------------------ */

/* Non-NULL net/x/x_adv/results, n ≥ 1, x finite and inside [0,1], labels required when targets
 * is NULL, labels and targets inside the class range; `func` names the entry point. */
static nnp_status check_args(const nnp_net *net, const float *x, const int32_t *labels,
                             const int32_t *targets, size_t n, const float *x_adv,
                             const nnp_attack_result *results, const char *func)
{
    if (net == NULL) return nnpi_error(NNP_EINVAL, "%s: net is NULL", func);
    if (x == NULL) return nnpi_error(NNP_EINVAL, "%s: x is NULL", func);
    if (x_adv == NULL) return nnpi_error(NNP_EINVAL, "%s: x_adv is NULL", func);
    if (results == NULL) return nnpi_error(NNP_EINVAL, "%s: results is NULL", func);
    if (n == 0) return nnpi_error(NNP_EINVAL, "%s: n is 0", func);
    if (targets == NULL && labels == NULL)
        return nnpi_error(NNP_EINVAL, "%s: labels is NULL (the untargeted attack needs the true "
                          "labels)", func);
    const size_t d = nnp_net_input_size(net), k = nnp_net_output_size(net);
    if (n > SIZE_MAX / d) return nnpi_error(NNP_EINVAL, "%s: n = %zu is too large", func, n);
    /* One scan: a NaN or an infinity fails the box test too. Only on that error path is x
     * scanned for a non-finite value, so that one anywhere is named as what it is. */
    for (size_t i = 0; i < n * d; i++)
        if (!(x[i] >= 0.0f && x[i] <= 1.0f)) {
            NNPI_TRY(nnpi_check_finite_input(x, n, d, func, "x"));
            return nnpi_error(NNP_EINVAL, "%s: x[%zu] = %g (example %zu) is outside the box "
                              "[0,1]", func, i, (double)x[i], i / d);
        }
    /* the first bad index of either; labels before targets at the same index */
    const size_t bl = labels ? nnpi_first_bad_label(labels, n, k) : n;
    const size_t bt = targets ? nnpi_first_bad_label(targets, n, k) : n;
    if (bl < n && bl <= bt)
        return nnpi_error(NNP_EINVAL, "%s: labels[%zu] = %d is not a class 0..%zu", func, bl,
                          (int)labels[bl], k - 1);
    if (bt < n)
        return nnpi_error(NNP_EINVAL, "%s: targets[%zu] = %d is not a class 0..%zu", func, bt,
                          (int)targets[bt], k - 1);
    return NNP_OK;
}

/* One call in progress: what every group shares. */
typedef struct run {
    nnpi_attack_group gr;      /* the call-wide fields; the per-group ones are set per group */
    const float *x;
    const int32_t *labels, *targets;
    size_t n;
    float *x_adv;
    nnp_attack_result *results;
    int32_t *pred;             /* dims.batch labels, the driver's piece of the block */
} run;

/* Points gr at the group of examples [s, s + g). */
static void select_group(run *r, size_t s)
{
    nnpi_attack_group *gr = &r->gr;
    const size_t d = gr->dims.d;
    gr->first = s;
    gr->ws->first_example = s; /* for the messages of the finiteness checks */
    gr->g = r->n - s < gr->dims.batch ? r->n - s : gr->dims.batch;
    gr->x = r->x + s * d;
    gr->labels = r->labels ? r->labels + s : NULL;
    gr->targets = r->targets ? r->targets + s : NULL;
    gr->x_adv = r->x_adv + s * d;
    gr->res = r->results + s;
}

/* The clean labels of the selected group: one batched classification of its x. Group by group
 * (not all n up front) so that a method which gets them from its own first pass at x needs no
 * second one, and the groups a cancellation never reached are labelled by this same code. */
static nnp_status label_clean(run *r)
{
    const nnpi_attack_group *gr = &r->gr;
    NNPI_TRY(nnpi_classify(gr->net, gr->ws, gr->x, gr->g, r->pred));
    for (size_t e = 0; e < gr->g; e++) gr->res[e].clean_label = gr->res[e].label = r->pred[e];
    return NNP_OK;
}

/* Label, success and distortions of every example from whatever x_adv holds (also after a
 * cancellation), group by group. */
static nnp_status finish(run *r)
{
    const nnpi_attack_group *gr = &r->gr;
    const size_t d = gr->dims.d;
    for (size_t s = 0; s < r->n; s += gr->dims.batch) {
        select_group(r, s);
        NNPI_TRY(nnpi_classify(gr->net, gr->ws, gr->x_adv, gr->g, r->pred));
        for (size_t e = 0; e < gr->g; e++) {
            nnp_attack_result *res = &gr->res[e];
            res->label = r->pred[e];
            res->success = nnpi_group_goal(gr, e, r->pred[e]);
            nnpi_attack_distortion(gr->x + e * d, gr->x_adv + e * d, d, res);
        }
    }
    return NNP_OK;
}

/* The groups in order; stops at the first error or cancellation. Then, after a cancellation,
 * the clean labels of the groups never reached, and finish(). */
static nnp_status run_groups(run *r, const nnpi_attack_method *m)
{
    nnp_status st = NNP_OK;
    size_t s = 0;
    for (; st == NNP_OK && s < r->n; s += r->gr.dims.batch) {
        select_group(r, s);
        if (!m->own_clean_labels) st = label_clean(r);
        if (st == NNP_OK) st = m->run_group(&r->gr);
    }
    for (; st == NNP_ECANCELLED && s < r->n; s += r->gr.dims.batch) {
        select_group(r, s);
        nnp_status ls = label_clean(r);
        if (ls != NNP_OK) st = ls;
    }
    if (st == NNP_ENUMERIC) return nnpi_error_prefix(st, "%s", r->gr.progress->func);
    if (st != NNP_OK && st != NNP_ECANCELLED) return st;
    nnp_status fs = finish(r);
    if (fs == NNP_ENUMERIC) return nnpi_error_prefix(fs, "%s", r->gr.progress->func);
    return st != NNP_OK ? st : fs;
}

static size_t opts_size_field(const void *o, size_t at)
{
    size_t v;
    memcpy(&v, (const unsigned char *)o + at, sizeof v);
    return v;
}

nnp_status nnpi_attack_opts_init(const nnpi_attack_method *m, void *opts, size_t size)
{
    char what[96];
    snprintf(what, sizeof what, "%s_opts_init", m->name);
    return nnpi_opts_init(opts, size, m->defaults, m->opts.size, what);
}

nnp_status nnpi_attack_run(const nnpi_attack_method *m, void *o, const void *opts,
                           const nnp_net *net, const float *x, const int32_t *labels,
                           const int32_t *targets, size_t n, float *x_adv,
                           nnp_attack_result *results)
{
    char what[96];
    snprintf(what, sizeof what, "%s: opts", m->name);
    memcpy(o, m->defaults, m->opts.size);
    NNPI_TRY(nnpi_opts_copy(o, m->opts.size, opts, what));
    NNPI_TRY(m->check(o, what));
    const size_t batch_size = opts_size_field(o, m->opts.batch_size_at);
    if (batch_size < 1) return nnpi_error(NNP_EINVAL, "%s.batch_size is 0", what);
    NNPI_TRY(check_args(net, x, labels, targets, n, x_adv, results, m->name));

    const nnpi_attack_dims dims = {batch_size < n ? batch_size : n, nnp_net_input_size(net),
                                   nnp_net_output_size(net)};
    nnp_workspace *ws = NULL;
    NNPI_TRY(nnp_workspace_create(net, dims.batch, &ws));
    /* One block: the driver's labels, then the method's work struct and its buffers. */
    nnpi_carve c = {NULL, 0};
    nnpi_carve_take(&c, dims.batch, sizeof(int32_t));
    nnpi_carve_take(&c, 1, m->work_size);
    m->layout(NULL, o, &dims, &c);
    unsigned char *block = nnpi_malloc(c.used);
    if (block == NULL) {
        nnp_workspace_free(ws);
        return nnpi_error(NNP_ENOMEM, "%s: out of memory for a batch of %zu", m->name,
                          dims.batch);
    }
    c = (nnpi_carve){block, 0};
    int32_t *pred = nnpi_carve_take(&c, dims.batch, sizeof(int32_t));
    void *work = nnpi_carve_take(&c, 1, m->work_size);
    m->layout(work, o, &dims, &c);

    nnpi_progress prog = {NULL, NULL, 0, 0, m->name};
    memcpy(&prog.fn, (const unsigned char *)o + m->opts.progress_at, sizeof prog.fn);
    memcpy(&prog.user, (const unsigned char *)o + m->opts.progress_user_at, sizeof prog.user);
    prog.total = (uint64_t)n * m->progress_each(o);
    run r = {.gr = {.net = net, .ws = ws, .opts = o, .dims = dims, .work = work,
                    .progress = &prog},
             .x = x, .labels = labels, .targets = targets, .n = n, .x_adv = x_adv,
             .results = results, .pred = pred};
    /* every result "not finished, no success", the clean labels come group by group */
    memset(results, 0, n * sizeof *results);
    for (size_t i = 0; i < n; i++) results[i].target = targets ? targets[i] : -1;
    memcpy(x_adv, x, n * dims.d * sizeof *x_adv);
    nnp_status st = run_groups(&r, m);
    nnpi_free(block);
    nnp_workspace_free(ws);
    return st;
}
