/* nnprobe-paper: Tables 1-4 and Figure 5 of Szegedy et al. (2013) as analogues on the data
 * given: the six models of Table 1 attacked with the box-constrained L-BFGS, the transfer
 * matrix of Table 2 and the P1/P2 experiment of Tables 3 and 4. The paper's numbers are
 * those of docs/paper.md §3-§5 (MNIST). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attack-report.h"
#include "paper.h"

enum { N1 = 6, N3 = 3 };

/* Table 1's models (docs/paper.md §3): spec, autoencoder, λ per weight layer. */
static const paper_model TABLE1[N1] = {
    {"FC10(1e-4)", "784-10", NULL, {1e-4}, 1, 0, NULL, NULL, NULL},
    {"FC10(1e-2)", "784-10", NULL, {1e-2}, 1, 0, NULL, NULL, NULL},
    {"FC10(1)", "784-10", NULL, {1}, 1, 0, NULL, NULL, NULL},
    {"FC100-100-10", "784-100s-100s-10", NULL, {1e-5, 1e-5, 1e-6}, 3, 0, NULL, NULL, NULL},
    {"FC200-200-10", "784-200s-200s-10", NULL, {1e-5, 1e-5, 1e-6}, 3, 0, NULL, NULL, NULL},
    {"AE400-10", "784-400s-10", "784-400s-784s", {0, 1e-6}, 2, 0, NULL, NULL, NULL},
};
const paper_model *paper_table1_model(size_t i) { return &TABLE1[i]; }

/* docs/paper.md §3: training error, test error, av. min. distortion (MNIST). */
static const double PAPER1[N1][3] = {{.067, .074, .062}, {.10, .094, .1}, {.212, .20, .14},
                                     {0, .0164, .058},   {0, .0154, .065}, {.0057, .019, .086}};
/* docs/paper.md §4: Table 2, rows = sets made for each model, then noise 0.1 and 0.3. */
static const double PAPER2[N1 + 2][N1] = {
    {1, .117, .227, .02, .039, .027},     {.871, 1, .352, .359, .273, .098},
    {.719, .762, 1, .481, .47, .344},     {.289, .137, .211, 1, .066, .02},
    {.382, .14, .238, .203, 1, .027},     {.234, .16, .248, .094, .066, 1},
    {.05, .101, .183, 0, 0, .008},        {.156, .113, .227, .05, .043, .031}};

/* Table 3's nets (docs/paper.md §5): FC100-100-10 and FC123-456-10 on P1, FC100-100-10 on P2. */
static const paper_model TABLE3[N3] = {
    {"FC100-100-10-P1", "784-100s-100s-10", NULL, {1e-5, 1e-5, 1e-6}, 3, 0, NULL, NULL, NULL},
    {"FC123-456-10-P1", "784-123s-456s-10", NULL, {1e-5, 1e-5, 1e-6}, 3, 0, NULL, NULL, NULL},
    {"FC100-100-10-P2", "784-100s-100s-10", NULL, {1e-5, 1e-5, 1e-6}, 3, 0, NULL, NULL, NULL},
};
/* docs/paper.md §5: Table 3 (error on P1, P2, test, distortion) and Table 4. */
static const double PAPER3[N3][4] = {
    {0, .024, .02, .062}, {0, .025, .021, .059}, {.023, 0, .021, .058}};
static const double PAPER4[8][N3] = {{1, .262, .059}, {.0625, 1, .051}, {.082, .082, 1},
                                     {.022, .026, .024}, {1, .98, .43},  {.96, 1, .22},
                                     {.27, .50, 1},     {.026, .028, .027}};

/* The attacked examples' results: adversarial set, per-example results, summary. */
typedef struct attacked {
    float *xa;
    nnp_attack_result *res;
    double mean_rms, adv_err;
    size_t changed;
} attacked;

static void attacked_free(attacked *a, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(a[i].xa);
        free(a[i].res);
    }
}

/* Untargeted L-BFGS on n test examples; mean RMS over the changed successes (docs/paper.md
 * §2: the distortion of an example already misclassified is 0 and not counted). */
static int attack(paper_ctx *c, const nnp_net *net, const char *name, const float *x,
                  const int32_t *y, size_t n, attacked *a)
{
    const size_t d = nnp_net_input_size(net);
    nnp_attack_lbfgs_opts o;
    cli_progress p;
    a->xa = malloc(n * d * sizeof *a->xa);
    a->res = malloc(n * sizeof *a->res);
    nnp_status s = a->xa && a->res ? nnp_attack_lbfgs_opts_init(&o) : NNP_ENOMEM;
    o.c_bisect_steps = c->pf->bisect_steps;
    o.progress = cli_progress_cb;
    o.progress_user = paper_progress(c, &p, "attacking %s (%zu examples)", name, n);
    if (s == NNP_OK) s = nnp_attack_lbfgs(net, x, y, NULL, n, &o, a->xa, a->res);
    cli_progress_end(&p);
    if (s == NNP_OK) s = nnp_eval_error_rate(net, a->xa, y, n, &a->adv_err, NULL);
    if (s != NNP_OK) {
        lib_error(name, s);
        return cli_status_rc(s);
    }
    double sum = 0;
    a->changed = 0;
    for (size_t i = 0; i < n; i++)
        if (a->res[i].success && a->res[i].rms > 0) {
            sum += a->res[i].rms;
            a->changed++;
        }
    a->mean_rms = a->changed ? sum / (double)a->changed : 0;
    return CLI_OK;
}

/* Mean RMS of (s − x) over n examples of d values. */
static double mean_rms(const float *x, const float *s, size_t n, size_t d)
{
    double tot = 0;
    for (size_t i = 0; i < n; i++) {
        double q = 0;
        for (size_t j = 0; j < d; j++) {
            double r = (double)s[i * d + j] - (double)x[i * d + j];
            q += r * r;
        }
        tot += sqrt(q / (double)d);
    }
    return tot / (double)n;
}

/* Figure 5: original | difference ×10 | adversarial for the first changed successes. */
static int figure5(paper_ctx *c, const char *name, const float *x, const int32_t *y, size_t n,
                   const attacked *a, size_t idx)
{
    const size_t d = 784, rows = c->pf->figure_rows;
    float *xo = malloc(rows * d * sizeof *xo), *xb = malloc(rows * d * sizeof *xb);
    char file[80], path[CLI_PATH_LEN], cap[1200];
    int k = snprintf(cap, sizeof cap, "Figure 5 analogue, %s: original | (x'-x)x10 + grey | "
                                      "adversarial. Rows (true -> adversarial class):", name);
    size_t m = 0;
    for (size_t i = 0; i < n && m < rows && xo && xb; i++) {
        if (!a->res[i].success || a->res[i].rms <= 0) continue;
        memcpy(xo + m * d, x + i * d, d * sizeof *xo);
        memcpy(xb + m * d, a->xa + i * d, d * sizeof *xb);
        if (k > 0 && (size_t)k < sizeof cap)
            k += snprintf(cap + k, sizeof cap - (size_t)k, "%s %zu. %s -> %s (RMS %.3f)",
                          m ? ";" : "", m + 1, c->class_names[y[i]],
                          c->class_names[a->res[i].label], a->res[i].rms);
        m++;
    }
    int rc = CLI_OK;
    snprintf(file, sizeof file, "figure5-%zu.png", idx);
    paper_path(c, file, path, sizeof path);
    if (!xo || !xb) rc = CLI_FAILURE;
    else if (m && report_figure(path, xo, xb, m, 28, 28) != 0) rc = CLI_FAILURE;
    if (m && rc == CLI_OK) paper_figure(c->rep, file, cap);
    free(xo);
    free(xb);
    return rc;
}

int paper_tables_1_2(paper_ctx *c)
{
    const nnp_dataset *test = c->test;
    const size_t n = c->pf->attacked, d = nnp_dataset_example_size(test);
    const float *x = nnp_dataset_images(test);
    const int32_t *y = nnp_dataset_labels(test);
    nnp_net *nets[N1] = {NULL};
    attacked a[N1];
    memset(a, 0, sizeof a);
    float *noise[2] = {NULL, NULL};
    static const double sigma[2] = {0.1, 0.3};
    int rc = CLI_OK;
    ptable *t1 = ptab_add(c->rep, "table1", "Table 1: the six models (train/test error, "
                          "L-BFGS adversarial error and mean minimum distortion)",
                          "train error:p", "test error:p", "adv. error:p", "mean distortion:d",
                          "attacked:g", NULL);
    for (size_t i = 0; i < N1 && rc == CLI_OK; i++) {
        double tr, te;
        RUN(paper_get_model(c, &TABLE1[i], c->train, c->pf->epochs, c->cm.seed, &nets[i]));
        RUN(paper_error(nets[i], c->train, &tr));
        RUN(paper_error(nets[i], test, &te));
        RUN(attack(c, nets[i], TABLE1[i].name, x, y, n, &a[i]));
        size_t r = ptab_row(t1, "%s", TABLE1[i].name);
        double v[5] = {tr, te, a[i].adv_err, a[i].mean_rms, (double)n};
        for (size_t k = 0; k < 5; k++) t1->v[r][k] = v[k];
        t1->paper[r][0] = PAPER1[i][0];
        t1->paper[r][1] = PAPER1[i][1];
        t1->paper[r][2] = 1;
        t1->paper[r][3] = PAPER1[i][2];
        RUN(figure5(c, TABLE1[i].name, x, y, n, &a[i], i + 1));
    }
    /* Table 2: every adversarial set on every net, then the noise rows. */
    ptable *t2 = ptab_add(c->rep, "table2", "Table 2: error of each model (column) on the "
                          "adversarial set made for each model (row) and on Gaussian noise",
                          NULL);
    for (size_t k = 0; k < N1; k++) ptab_col(t2, TABLE1[k].name, PT_PCT);
    ptab_col(t2, "av. distortion", PT_DIST);
    const float *sets[N1 + 2];
    double err[(N1 + 2) * N1];
    for (size_t k = 0; k < N1; k++) sets[k] = a[k].xa;
    for (size_t s = 0; s < 2; s++) {
        if (!(noise[s] = malloc(n * d * sizeof(float)))) TRY("noise", NNP_ENOMEM);
        TRY("nnp_eval_noise_gaussian", nnp_eval_noise_gaussian(x, n * d, sigma[s],
                                                               c->cm.seed + s, noise[s]));
        sets[N1 + s] = noise[s];
    }
    TRY("nnp_eval_transfer_matrix", nnp_eval_transfer_matrix((const nnp_net *const *)nets, N1,
                                                             sets, N1 + 2, y, n, err));
    for (size_t s = 0; s < N1 + 2; s++) {
        size_t r = s < N1 ? ptab_row(t2, "made for %s", TABLE1[s].name)
                          : ptab_row(t2, "Gaussian noise, stddev=%g", sigma[s - N1]);
        for (size_t k = 0; k < N1; k++) {
            t2->v[r][k] = err[s * N1 + k];
            t2->paper[r][k] = PAPER2[s][k];
        }
        t2->v[r][N1] = s < N1 ? a[s].mean_rms : mean_rms(x, noise[s - N1], n, d);
        t2->paper[r][N1] = s < N1 ? PAPER1[s][2] : sigma[s - N1];
    }
    snprintf(t2->note, sizeof t2->note, "The diagonal is each model's error on its own "
             "adversarial set (Table 1's adv. error). Noise is added to the %zu attacked test "
             "images and clipped to [0,1], so its measured RMS (last column) is below stddev.", n);
    /* Findings. */
    int all = 1, mono = 1, above = 1;
    char det[300] = "", det2[300] = "";
    for (size_t i = 0; i < N1; i++) {
        all &= a[i].adv_err >= 1.0 - 1e-12 && a[i].mean_rms <= 0.1;
        double off = 0;
        for (size_t s = 0; s < N1; s++) off += s == i ? 0 : err[s * N1 + i] / (N1 - 1);
        above &= off > err[N1 * N1 + i];
        size_t l = strlen(det2);
        snprintf(det2 + l, sizeof det2 - l, "%s%s %.1f%% vs %.1f%%", i ? ", " : "",
                 TABLE1[i].name, 100 * off, 100 * err[N1 * N1 + i]);
        l = strlen(det);
        snprintf(det + l, sizeof det - l, "%s%.0f%% at %.3f", i ? ", " : "", 100 * a[i].adv_err,
                 a[i].mean_rms);
    }
    mono = a[0].mean_rms < a[1].mean_rms && a[1].mean_rms < a[2].mean_rms;
    paper_finding(c->rep, all, "every model reaches 100% error on its adversarial set at mean "
                  "RMS distortion <= 0.1", "adversarial error at mean RMS: %s", det);
    paper_finding(c->rep, above, "adversarial sets transfer: for every model, the mean error on "
                  "the other models' adversarial sets is above its error on Gaussian noise of "
                  "stddev 0.1 (a larger RMS)", "transfer vs noise 0.1: %s", det2);
    paper_finding(c->rep, mono, "stronger weight decay needs larger distortions (FC10: "
                  "1e-4 < 1e-2 < 1)", "mean distortion %.4f, %.4f, %.4f", a[0].mean_rms,
                  a[1].mean_rms, a[2].mean_rms);
    /* The distortion distributions (the charts' histograms): 12 bins of 0.02. */
    ptable *h = ptab_add(c->rep, "distortion_hist", "Distribution of the minimum distortion "
                         "(fraction of changed successes per RMS bin)", NULL);
    for (size_t k = 0; k < N1; k++) ptab_col(h, TABLE1[k].name, PT_NUM);
    for (size_t b = 0; b < 12; b++) {
        size_t r = ptab_row(h, b < 11 ? "%.2f-%.2f" : ">= %.2f", 0.02 * (double)b,
                            0.02 * (double)(b + 1));
        for (size_t k = 0; k < N1; k++) {
            size_t cnt = 0;
            for (size_t i = 0; i < n; i++) {
                const nnp_attack_result *e = &a[k].res[i];
                size_t bin = (size_t)(e->rms / 0.02);
                if (e->success && e->rms > 0 && (bin == b || (b == 11 && bin > 11))) cnt++;
            }
            h->v[r][k] = a[k].changed ? (double)cnt / (double)a[k].changed : 0;
        }
    }
done:
    attacked_free(a, N1);
    for (size_t i = 0; i < N1; i++) nnp_net_free(nets[i]);
    free(noise[0]);
    free(noise[1]);
    return rc;
}

int paper_tables_3_4(paper_ctx *c)
{
    const nnp_dataset *test = c->test;
    const size_t n = c->pf->attacked, d = nnp_dataset_example_size(test);
    const size_t half = nnp_dataset_count(c->train) / 2;
    const float *x = nnp_dataset_images(test);
    const int32_t *y = nnp_dataset_labels(test);
    nnp_dataset *p[2] = {NULL, NULL};
    nnp_net *nets[N3] = {NULL};
    attacked a[N3];
    memset(a, 0, sizeof a);
    float *extra[5] = {NULL};
    int rc = CLI_OK;
    TRY("P1", nnp_dataset_subset(c->train, 0, half, &p[0]));
    TRY("P2", nnp_dataset_subset(c->train, half, half, &p[1]));
    ptable *t3 = ptab_add(c->rep, "table3", "Table 3: nets trained on the halves P1 and P2 of "
                          "the training set", "error on P1:p", "error on P2:p", "error on test:p",
                          "mean distortion:d", NULL);
    for (size_t i = 0; i < N3; i++) {
        double e[3];
        RUN(paper_get_model(c, &TABLE3[i], p[i == 2], c->pf->epochs, c->cm.seed, &nets[i]));
        RUN(paper_error(nets[i], p[0], &e[0]));
        RUN(paper_error(nets[i], p[1], &e[1]));
        RUN(paper_error(nets[i], test, &e[2]));
        RUN(attack(c, nets[i], TABLE3[i].name, x, y, n, &a[i]));
        size_t r = ptab_row(t3, "%s", TABLE3[i].name);
        for (size_t k = 0; k < 4; k++) {
            t3->v[r][k] = k < 3 ? e[k] : a[i].mean_rms;
            t3->paper[r][k] = PAPER3[i][k];
        }
    }
    snprintf(t3->note, sizeof t3->note, "P1 and P2 are the first and second halves of the %zu "
             "training examples used (%zu each).", 2 * half, half);
    /* Table 4: adversarial sets, noise 0.06, the sets amplified to RMS 0.1, noise 0.1. */
    const float *sets[8];
    double err[8 * N3];
    for (size_t s = 0; s < 5; s++)
        if (!(extra[s] = malloc(n * d * sizeof(float)))) TRY("Table 4", NNP_ENOMEM);
    TRY("noise", nnp_eval_noise_gaussian(x, n * d, 0.06, c->cm.seed + 2, extra[0]));
    TRY("noise", nnp_eval_noise_gaussian(x, n * d, 0.1, c->cm.seed + 3, extra[4]));
    for (size_t i = 0; i < N3; i++) {
        TRY("nnp_eval_perturbation_rescale",
            nnp_eval_perturbation_rescale(x, a[i].xa, n, d, 0.1, extra[1 + i]));
        sets[i] = a[i].xa;
        sets[4 + i] = extra[1 + i];
    }
    sets[3] = extra[0];
    sets[7] = extra[4];
    TRY("nnp_eval_transfer_matrix", nnp_eval_transfer_matrix((const nnp_net *const *)nets, N3,
                                                             sets, 8, y, n, err));
    ptable *t4 = ptab_add(c->rep, "table4", "Table 4: error of each P1/P2 net (column) on each "
                          "set (row)", "FC100-100-10-P1:p", "FC123-456-10-P1:p",
                          "FC100-100-10-P2:p", "av. distortion:d", NULL);
    for (size_t s = 0; s < 8; s++) {
        size_t r;
        if (s < 3) r = ptab_row(t4, "made for %s", TABLE3[s].name);
        else if (s == 3) r = ptab_row(t4, "Gaussian noise, stddev=0.06");
        else if (s < 7) r = ptab_row(t4, "made for %s, amplified to RMS 0.1", TABLE3[s - 4].name);
        else r = ptab_row(t4, "Gaussian noise, stddev=0.1");
        for (size_t k = 0; k < N3; k++) {
            t4->v[r][k] = err[s * N3 + k];
            t4->paper[r][k] = PAPER4[s][k];
        }
        t4->v[r][N3] = mean_rms(x, sets[s], n, d);
    }
    /* Findings: transfer across training halves beats noise; amplification adds to it. */
    double adv = 0, noise = 0, amp = 0;
    for (size_t s = 0; s < N3; s++)
        for (size_t k = 0; k < N3; k++)
            if (s != k) {
                adv += err[s * N3 + k] / 6;
                amp += err[(4 + s) * N3 + k] / 6;
            }
    for (size_t k = 0; k < N3; k++) noise += err[3 * N3 + k] / 3;
    paper_finding(c->rep, adv > noise, "adversarial sets transfer across training halves: "
                  "the other nets' mean error on them is above their error on Gaussian noise of "
                  "stddev 0.06", "mean off-diagonal %.1f%% vs noise %.1f%%", 100 * adv,
                  100 * noise);
    paper_finding(c->rep, amp > adv && amp > err[7 * N3] , "magnified perturbations (RMS 0.1) "
                  "transfer more, and far more than noise of stddev 0.1",
                  "mean off-diagonal amplified %.1f%% vs %.1f%% unamplified, noise 0.1: %.1f%%",
                  100 * amp, 100 * adv, 100 * err[7 * N3]);
done:
    attacked_free(a, N3);
    for (size_t i = 0; i < N3; i++) nnp_net_free(nets[i]);
    for (size_t s = 0; s < 5; s++) free(extra[s]);
    nnp_dataset_free(p[0]);
    nnp_dataset_free(p[1]);
    return rc;
}
