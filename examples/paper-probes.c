/* nnprobe-paper: the probes beside the adversarial tables: Table 5's per-layer Lipschitz
 * bounds (docs/paper.md §6) on a small conv net, the units of §3 against random directions
 * (docs/paper.md §1) and Zhang et al. (2017)'s memorisation of random labels. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "figure.h"
#include "paper.h"

/* ---- Table 5 ---- */

/* The segments of a chain: each weight layer with the layers up to the next one. */
static size_t segment_end(const nnp_layer_info *li, size_t L, size_t start)
{
    size_t e = start;
    while (e + 1 < L && li[e + 1].kind != NNP_LAYER_DENSE && li[e + 1].kind != NNP_LAYER_CONV2D)
        e++;
    return e;
}

int paper_table_5(paper_ctx *c)
{
    const paper_model m = {"conv", c->pf->conv_spec, NULL, {0}, 0, 0, NULL, NULL, NULL};
    nnp_dataset *sub = NULL;
    nnp_net *net = NULL;
    nnp_lipschitz_info *info = NULL;
    nnp_layer_info *li = NULL;
    nnp_lipschitz_opts lo;
    cli_progress p;
    double test_err = NAN, lower = NAN;
    int rc = CLI_OK;
    const size_t pts = c->pf->lip_points < nnp_dataset_count(c->test) ? c->pf->lip_points
                                                                       : nnp_dataset_count(c->test);
    TRY("conv subset", nnp_dataset_subset(c->train, 0, c->pf->conv_train, &sub));
    RUN(paper_get_model(c, &m, sub, c->pf->conv_epochs, c->cm.seed, &net));
    RUN(paper_error(net, c->test, &test_err));
    const size_t L = nnp_net_layer_count(net);
    info = calloc(L, sizeof *info);
    li = calloc(L, sizeof *li);
    if (!info || !li) TRY("Table 5", NNP_ENOMEM);
    for (size_t i = 0; i < L; i++) {
        info[i].size = sizeof *info;
        li[i].size = sizeof *li;
        TRY("nnp_net_layer_info", nnp_net_layer_info(net, i, &li[i]));
    }
    TRY("nnp_lipschitz_opts_init", nnp_lipschitz_opts_init(&lo));
    lo.seed = c->cm.seed;
    lo.progress = cli_progress_cb;
    lo.progress_user = paper_progress(c, &p, "Table 5: bounds of %s", c->pf->conv_spec);
    nnp_status s = nnp_lipschitz_bounds(net, &lo, info, L);
    cli_progress_end(&p);
    TRY("nnp_lipschitz_bounds", s);
    ptable *t = ptab_add(c->rep, "table5", "Table 5 analogue: upper Lipschitz bounds per layer "
                         "block of a conv net (the paper's formula, exact norms, empirical lower "
                         "bound)", "paper's bound:g", "exact:g", "lower:g", "gap:g", NULL);
    int valid = 1;
    double first = NAN;
    for (size_t start = 1; start < L;) {
        size_t end = segment_end(li, L, start);
        char names[160] = "";
        for (size_t i = start; i <= end; i++) {
            size_t l = strlen(names);
            snprintf(names + l, sizeof names - l, "%s%s", i > start ? "+" : "",
                     nnp_layer_kind_name(li[i].kind));
        }
        double up = info[end].upper_to / info[start - 1].upper_to;
        double ex = info[end].upper_to_exact / info[start - 1].upper_to_exact, lb;
        lo.lower_from = start - 1;
        lo.progress_user =
            paper_progress(c, &p, "Table 5: lower bound of layers %zu-%zu", start, end);
        s = nnp_lipschitz_lower(net, nnp_dataset_images(c->test), pts, end, &lo, NULL, &lb, NULL);
        cli_progress_end(&p);
        TRY("nnp_lipschitz_lower", s);
        size_t r = ptab_row(t, "layers %zu-%zu: %s (%zux%zux%zu)", start, end, names,
                            li[end].channels, li[end].height, li[end].width);
        double v[4] = {up, ex, lb, up / lb};
        memcpy(t->v[r], v, sizeof v);
        valid &= up >= ex * (1 - 1e-6) && ex >= lb * (1 - 1e-4);
        if (start == 1) first = up;
        start = end + 1;
    }
    lo.lower_from = 0;
    lo.progress_user = paper_progress(c, &p, "Table 5: lower bound of the whole net");
    s = nnp_lipschitz_lower(net, nnp_dataset_images(c->test), pts, L - 1, &lo, NULL, &lower, NULL);
    cli_progress_end(&p);
    TRY("nnp_lipschitz_lower", s);
    size_t r = ptab_row(t, "whole net (product of the rows)");
    double v[4] = {info[L - 1].upper_to, info[L - 1].upper_to_exact, lower,
                   info[L - 1].upper_to / lower};
    memcpy(t->v[r], v, sizeof v);
    t->paper[r][0] = 792792; /* docs/paper.md §6: product of AlexNet's eight bounds */
    valid &= v[1] >= lower * (1 - 1e-4);
    snprintf(t->note, sizeof t->note, "Net %s trained %zu epoch(s) on %zu examples, test error "
             "%.1f%%. A row is a weight layer with its activation and pooling; its bound is the "
             "product of the paper's per-layer rules (conv: Fourier formula with stride scale "
             "1/stride, docs/paper.md §6), exact uses the layers' exact operator norms, lower is "
             "the largest Jacobian norm of the block at %zu test points, gap = bound / lower. "
             "The paper's Table 5 is AlexNet's (conv 2.75, 10, 7, 7.5, 11; FC 3.12, 4, 4; "
             "product 7.9e5): only the magnitudes compare.", c->pf->conv_spec,
             c->pf->conv_epochs, c->pf->conv_train, 100 * test_err, pts);
    paper_finding(c->rep, first > 1, "instabilities can start at the first layer: its upper "
                  "bound is above 1", "first block's bound %.3g", first);
    paper_finding(c->rep, valid, "the bounds are consistent: paper's bound >= exact norm >= "
                  "empirical lower bound in every row", "whole net: %.4g >= %.4g >= %.4g", v[0],
                  v[1], v[2]);
done:
    free(info);
    free(li);
    nnp_net_free(net);
    nnp_dataset_free(sub);
    return rc;
}

/* ---- §3: units vs random directions ---- */

/* Share of the most frequent label among the k labels of y at idx; its label in *maj. */
static double majority(const int32_t *y, const size_t *idx, size_t k, int32_t *maj)
{
    size_t cnt[10] = {0}, best = 0;
    for (size_t i = 0; i < k; i++) cnt[y[idx[i]] % 10]++;
    for (size_t l = 1; l < 10; l++)
        if (cnt[l] > cnt[best]) best = l;
    *maj = (int32_t)best;
    return (double)cnt[best] / (double)k;
}

/* Montage of the top images: one row per direction. */
static int montage(paper_ctx *c, const char *file, const size_t *idx, size_t rows, size_t k,
                   const char *caption)
{
    figure f;
    char path[CLI_PATH_LEN];
    const size_t tile = 2 * 28 + 2;
    if (figure_init(&f, k * tile + 2, rows * tile + 2, 1.0f) != 0) return CLI_FAILURE;
    for (size_t r = 0; r < rows; r++)
        for (size_t j = 0; j < k; j++)
            figure_put(&f, 2 + j * tile, 2 + r * tile,
                       nnp_dataset_images(c->test) + idx[r * k + j] * 784, 28, 28, 2, 1.0f, 0.0f);
    paper_path(c, file, path, sizeof path);
    int rc = figure_write_png(&f, path) == 0 ? CLI_OK : CLI_FAILURE;
    figure_free(&f);
    if (rc == CLI_OK) paper_figure(c->rep, file, caption);
    return rc;
}

int paper_units(paper_ctx *c)
{
    const size_t n = c->pf->maxact_dirs, k = c->pf->maxact_k;
    size_t layer = 0;
    nnp_net *net = NULL;
    float *dirs = NULL;
    size_t *top = NULL;
    cli_progress p;
    int rc = CLI_OK;
    RUN(paper_get_model(c, paper_table1_model(3), c->train, c->pf->epochs, c->cm.seed, &net));
    nnp_layer_info li = {.size = sizeof li};
    for (size_t l = 1; layer == 0 && l < nnp_net_layer_count(net); l++) { /* first hidden */
        TRY("nnp_net_layer_info", nnp_net_layer_info(net, l, &li));
        if (li.kind == NNP_LAYER_SIGMOID) layer = l;
    }
    if (layer == 0) TRY("§3: FC100-100-10 has no sigmoid layer", NNP_EINVAL);
    const size_t dim = li.output_size, units = n < dim ? n : dim;
    dirs = calloc(2 * units * dim, sizeof *dirs);
    top = malloc(2 * units * k * sizeof *top);
    if (!dirs || !top) TRY("§3", NNP_ENOMEM);
    for (size_t u = 0; u < units; u++)
        TRY("directions", nnp_maxact_directions_unit(dim, u, dirs + u * dim));
    TRY("directions", nnp_maxact_directions_random(dim, units, c->cm.seed, dirs + units * dim));
    nnp_maxact_search_opts so;
    TRY("nnp_maxact_search_opts_init", nnp_maxact_search_opts_init(&so));
    so.progress = cli_progress_cb;
    so.progress_user = paper_progress(c, &p, "§3: top test images of %zu units and %zu random "
                                      "directions", units, units);
    nnp_status s = nnp_maxact_search(net, NULL, c->test, layer, dirs, 2 * units, k, &so, top,
                                     NULL, NULL, NULL, NULL);
    cli_progress_end(&p);
    TRY("nnp_maxact_search", s);
    ptable *t = ptab_add(c->rep, "units", "§3: share of the majority label among the top test "
                         "images of hidden units vs random directions (FC100-100-10, layer 1)",
                         "majority share:p", NULL);
    double mean[2] = {0, 0};
    for (size_t g = 0; g < 2; g++) {
        char cap[1200];
        int len = snprintf(cap, sizeof cap, "§3 analogue: top %zu test images (columns) along %s "
                           "(rows) of FC100-100-10's first hidden layer; majority label per row:",
                           k, g ? "random directions" : "natural-basis units");
        for (size_t d = 0; d < units; d++) {
            int32_t maj;
            const size_t *row = top + (g * units + d) * k;
            double share = majority(nnp_dataset_labels(c->test), row, k, &maj);
            size_t r = ptab_row(t, "%s %zu (majority: %s)", g ? "random direction" : "unit", d,
                                c->class_names[maj]);
            t->v[r][0] = share;
            mean[g] += share / (double)units;
            if (len > 0 && (size_t)len < sizeof cap)
                len += snprintf(cap + len, sizeof cap - (size_t)len, "%s %s %.0f%%", d ? "," : "",
                                c->class_names[maj], 100 * share);
        }
        RUN(montage(c, g ? "units-random.png" : "units-natural.png", top + g * units * k, units,
                    k, cap));
    }
    t->v[ptab_row(t, "mean over units")][0] = mean[0];
    t->v[ptab_row(t, "mean over random directions")][0] = mean[1];
    snprintf(t->note, sizeof t->note, "The paper (§3) found the top images of random directions "
             "as semantically coherent as those of single units; it gives no number. Top %zu of "
             "%zu test images per direction.", k, nnp_dataset_count(c->test));
    paper_finding(c->rep, mean[0] <= mean[1] + 0.1, "units are no more semantic than random "
                  "directions (mean majority share of units at most 10 points above random)",
                  "units %.1f%%, random directions %.1f%%", 100 * mean[0], 100 * mean[1]);
done:
    free(dirs);
    free(top);
    nnp_net_free(net);
    return rc;
}
