/* The outputs of nnprobe-attack (see attack-report.h). */
#include "attack-report.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "figure.h"

#define PROG "nnprobe-attack"
#define MAX_SETS 4

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void report_summary(const nnp_attack_result *r, size_t n, double seconds,
                          double clean_err, double adv_err)
{
    size_t ok = 0, finished = 0, changed = 0;
    double sum_rms = 0, sum_l2 = 0, sum_linf = 0, evals = 0;
    double *rms = malloc((n + 1) * sizeof *rms);
    for (size_t i = 0; i < n; i++) {
        finished += r[i].finished;
        evals += (double)r[i].evaluations;
        if (!r[i].success) continue;
        if (rms) rms[ok] = r[i].rms;
        ok++;
        sum_rms += r[i].rms;
        sum_l2 += r[i].l2;
        sum_linf += r[i].linf;
        changed += r[i].rms > 0;
    }
    printf("examples     %zu attacked%s\n", n, finished < n ? " (interrupted: partial)" : "");
    printf("success      %zu/%zu (%.1f%%), %zu already misclassified or at the target\n", ok, n,
           100.0 * (double)ok / (double)n, ok - changed);
    if (changed) {
        if (rms) qsort(rms, ok, sizeof *rms, cmp_double); /* the zeros come first */
        const double *c = rms ? rms + (ok - changed) : NULL;
        double median = c ? (changed % 2 ? c[changed / 2]
                                          : 0.5 * (c[changed / 2 - 1] + c[changed / 2]))
                          : NAN;
        printf("distortion   RMS mean %.4f median %.4f; L2 mean %.3f; Linf mean %.3f (over the "
               "%zu changed successes)\n", sum_rms / (double)changed, median,
               sum_l2 / (double)changed, sum_linf / (double)changed, changed);
    }
    printf("error        %.1f%% on the clean examples, %.1f%% on the adversarial ones\n",
           100 * clean_err, 100 * adv_err);
    printf("cost         %.0f gradient evaluations per example; %.2f s, %.1f ms per example\n",
           evals / (double)n, seconds, 1000 * seconds / (double)n);
    free(rms);
}

/* Values are finite (distortions of points in [0,1]). */
int report_results(const char *path, const nnp_attack_result *r, const int32_t *labels,
                         size_t first, size_t n, const shard_info *shard)
{
    static const char *const names[] = {"index", "true_label", "clean_label", "target",
                                        "adv_label", "success", "finished", "rms", "l2",
                                        "linf", "c", "iterations", "evaluations"};
    enum { N_FIELDS = sizeof names / sizeof *names };
    size_t len = strlen(path);
    const int json = len > 5 && strcmp(path + len - 5, ".json") == 0;
    cli_out o;
    FILE *f = cli_out_open(&o);
    if (!f) return -1;
    if (shard) shard_header_print(f, shard);
    if (json) fputs("[\n", f);
    else
        for (int k = 0; k < N_FIELDS; k++) fprintf(f, "%s%s", names[k], k + 1 < N_FIELDS ? "," : "\n");
    for (size_t i = 0; i < n; i++) {
        char v[N_FIELDS][40];
        snprintf(v[0], sizeof v[0], "%zu", first + i);
        snprintf(v[1], sizeof v[1], "%d", (int)labels[i]);
        snprintf(v[2], sizeof v[2], "%d", (int)r[i].clean_label);
        snprintf(v[3], sizeof v[3], "%d", (int)r[i].target);
        snprintf(v[4], sizeof v[4], "%d", (int)r[i].label);
        snprintf(v[5], sizeof v[5], "%d", r[i].success);
        snprintf(v[6], sizeof v[6], "%d", r[i].finished);
        snprintf(v[7], sizeof v[7], "%.9g", r[i].rms);
        snprintf(v[8], sizeof v[8], "%.9g", r[i].l2);
        snprintf(v[9], sizeof v[9], "%.9g", r[i].linf);
        snprintf(v[10], sizeof v[10], "%.9g", r[i].c);
        snprintf(v[11], sizeof v[11], "%zu", r[i].iterations);
        snprintf(v[12], sizeof v[12], "%zu", r[i].evaluations);
        for (int k = 0; k < N_FIELDS; k++) {
            if (json)
                fprintf(f, "%s\"%s\": %s%s", k ? "" : "  {", names[k], v[k],
                        k + 1 < N_FIELDS ? ", " : (i + 1 < n ? "},\n" : "}\n"));
            else
                fprintf(f, "%s%s", v[k], k + 1 < N_FIELDS ? "," : "\n");
        }
    }
    if (json) fputs("]\n", f);
    return cli_out_commit(&o, path);
}

int report_adversarial(const char *path, const float *xa, const int32_t *labels, size_t n,
                       size_t c, size_t h, size_t w)
{
    char lpath[CLI_PATH_LEN];
    if (snprintf(lpath, sizeof lpath, "%s.labels", path) >= (int)sizeof lpath) {
        usage_error("--out: path too long");
        return -1;
    }
    return cli_save_idx("writing the adversarial set", path, lpath, xa, labels, n, c, h, w) ? -1 : 0;
}

/* The paper's Figure 5 layout: original | (x' − x)·10 + ½ | adversarial, one row each. */
int report_figure(const char *path, const float *x, const float *xa, size_t n, size_t h,
                        size_t w)
{
    enum { SCALE = 3, GAP = 4 };
    const size_t tw = w * SCALE, th = h * SCALE, d = h * w;
    figure fig;
    if (figure_init(&fig, 3 * tw + 4 * GAP, n * (th + GAP) + GAP, 1.0f) != 0) return -1;
    float *diff = malloc(d * sizeof *diff);
    if (!diff) {
        figure_free(&fig);
        fprintf(stderr, PROG ": out of memory for the figure\n");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        size_t y0 = GAP + i * (th + GAP);
        for (size_t j = 0; j < d; j++) diff[j] = xa[i * d + j] - x[i * d + j];
        figure_put(&fig, GAP, y0, x + i * d, w, h, SCALE, 1.0f, 0.0f);
        figure_put(&fig, 2 * GAP + tw, y0, diff, w, h, SCALE, 10.0f, 0.5f);
        figure_put(&fig, 3 * GAP + 2 * tw, y0, xa + i * d, w, h, SCALE, 1.0f, 0.0f);
    }
    int rc = figure_write_png(&fig, path);
    free(diff);
    figure_free(&fig);
    return rc;
}

int report_evaluation(const nnp_net *const *nets, const char *const *net_names, size_t n_nets,
                      const float *x, const float *xa, const int32_t *y, size_t n, double noise,
                      double amplify, uint64_t seed)
{
    const size_t d = nnp_net_input_size(nets[0]);
    float *noisy = NULL, *amplified = NULL;
    const float *sets[MAX_SETS] = {x, xa};
    char names[MAX_SETS][64] = {"clean", "adversarial (for model 0)"};
    size_t n_sets = 2;
    double *errors = malloc(MAX_SETS * n_nets * sizeof *errors);
    nnp_status s = errors ? NNP_OK : NNP_ENOMEM;
    if (s == NNP_OK && noise >= 0) {
        if (!(noisy = malloc(n * d * sizeof *noisy))) s = NNP_ENOMEM;
        if (s == NNP_OK) s = nnp_eval_noise_gaussian(x, n * d, noise, seed, noisy);
        snprintf(names[n_sets], sizeof names[0], "gaussian noise, stddev %g", noise);
        sets[n_sets++] = noisy;
    }
    if (s == NNP_OK && amplify >= 0) {
        if (!(amplified = malloc(n * d * sizeof *amplified))) s = NNP_ENOMEM;
        if (s == NNP_OK) s = nnp_eval_perturbation_rescale(x, xa, n, d, amplify, amplified);
        snprintf(names[n_sets], sizeof names[0], "adversarial amplified to RMS %g", amplify);
        sets[n_sets++] = amplified;
    }
    if (s == NNP_OK) s = nnp_eval_transfer_matrix(nets, n_nets, sets, n_sets, y, n, errors);
    if (s == NNP_OK) {
        printf("evaluation   error rate of each model (column) on each set (row)\n");
        printf("  %-34s", "set");
        for (size_t k = 0; k < n_nets; k++) {
            char label[32];
            snprintf(label, sizeof label, "model %zu", k);
            printf(" %10s", label);
        }
        printf("\n");
        for (size_t r = 0; r < n_sets; r++) {
            printf("  %-34s", names[r]);
            for (size_t k = 0; k < n_nets; k++) printf(" %9.1f%%", 100 * errors[r * n_nets + k]);
            printf("\n");
        }
        for (size_t k = 0; k < n_nets; k++)
            printf("%smodel %zu = %s", k ? ", " : "  ", k, net_names[k]);
        printf("\n");
    }
    free(noisy);
    free(amplified);
    free(errors);
    if (s != NNP_OK) {
        lib_error("evaluation", s);
        return -1;
    }
    return 0;
}

