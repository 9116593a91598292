/* nnprobe-attack: adversarial examples for a classifier on IDX data (Fashion-MNIST by default),
 * by the paper's box-constrained L-BFGS (Szegedy et al. 2013, §4.1) or the attacks that
 * followed. The model is a preset or spec trained on the fly. Writes the adversarial set (IDX),
 * per-example results (CSV), a figure in the paper's style (PNG: original | difference ×10
 * around mid-grey | adversarial) and prints a summary.
 *
 * Exit status: 0 success, 1 library or file failure, 2 bad command line, 130 interrupted
 * (SIGINT: the examples finished so far are still reported and written). */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <nnprobe/nnprobe.h>

#include "cli.h"
#include "figure.h"
#include "model.h"

#define PROG "nnprobe-attack"
#define DEFAULT_DATA_DIR "/usr/share/datasets/fashion-mnist"
#define PATH_LEN 4096
#define MAX_TRANSFER 8

enum { EXIT_USAGE = 2, EXIT_INTERRUPTED = 130 };
enum { TARGET_NONE, TARGET_NEXT, TARGET_RANDOM };

static volatile sig_atomic_t g_interrupted = 0;

static void on_sigint(int sig)
{
    (void)sig;
    g_interrupted = 1;
}

/* ---- progress ---- */

typedef struct progress {
    int tty, quiet;
    double t0, last;
    int drawn;
} progress;

static int on_progress(uint64_t done, uint64_t total, void *user)
{
    progress *p = user;
    if (g_interrupted) return 1;
    double now = now_seconds();
    if (p->quiet || total == 0 || (done != total && now - p->last < (p->tty ? 0.1 : 10.0)))
        return 0;
    fprintf(stderr, p->tty ? "\rattack: %3d%%  %.1f s " : "attack: %3d%%  %.1f s\n",
            (int)(100 * done / total), now - p->t0);
    p->last = now;
    p->drawn = p->tty;
    return 0;
}

/* ---- help ---- */

enum { ATTACK_LBFGS, ATTACK_FGSM, ATTACK_PGD, ATTACK_DEEPFOOL, ATTACK_CW };
static const char *const attack_names[] = {"lbfgs", "fgsm", "pgd", "deepfool", "cw"};
static const char *const attack_titles[] = {"lbfgs (paper §4.1)", "fgsm", "pgd", "deepfool",
                                            "cw (Carlini-Wagner L2)"};

typedef struct job {
    const char *data_dir, *model, *out, *results, *png;
    const char *file[4]; /* --train-images etc., NULL: from data_dir */
    size_t first, count, epochs, figure_count;
    uint64_t seed;
    int target_mode, quiet, attack;
    nnp_attack_lbfgs_opts lbfgs;
    nnp_attack_fgsm_opts fgsm;
    nnp_attack_pgd_opts pgd;
    nnp_attack_deepfool_opts deepfool;
    nnp_attack_cw_opts cw;
    double noise, amplify;          /* --noise, --amplify; < 0: not asked */
    const char *transfer[MAX_TRANSFER]; /* --transfer MODEL, in order */
    size_t n_transfer;
} job;


static void print_help(const job *d)
{
    printf("Usage: " PROG " [OPTION]... [MODEL]\n"
           "Find adversarial examples for a classifier, as in Szegedy et al. (2013), §4.1.\n"
           "\n"
           "MODEL is an ONNX file (*.onnx, e.g. from nnprobe-train --save or PyTorch), or a\n"
           "preset or spec as nnprobe-train takes (default fc100-100-10), then trained here on\n"
           "the training set with nnprobe-train's defaults before the attack.\n"
           "\n"
           "Data (default: Fashion-MNIST in " DEFAULT_DATA_DIR "):\n"
           "      --data-dir DIR        train-images-idx3-ubyte.gz etc. from DIR\n"
           "      --train-images FILE, --train-labels FILE, --test-images FILE,\n"
           "      --test-labels FILE    one file each (override --data-dir)\n"
           "      --first I             first test example attacked (default 0)\n"
           "      --count N             test examples attacked (default 100)\n"
           "      --epochs N            training epochs (default: the library's, 10)\n"
           "      --seed N              seed of training, random targets and PGD's random\n"
           "                            start (default 1)\n"
           "\n"
           "Attack:\n"
           "      --attack NAME         lbfgs: the paper's box-constrained L-BFGS with its\n"
           "                            search over c (default); fgsm: fast gradient sign\n"
           "                            (L-inf); pgd: projected gradient descent (L-inf or L2);\n"
           "                            deepfool: DeepFool (L2); cw: Carlini-Wagner L2\n"
           "      --target MODE         none: any wrong label (default); next: label+1 mod\n"
           "                            classes; random: a random other label (from --seed)\n"
           "      --batch N             examples per batched pass (default %zu)\n"
           "lbfgs (minimise ||r||^2 + c*loss(x+r) in the box [0,1]; the smallest c that\n"
           "reaches the goal gives the least distortion; see attack.h for the mapping to the\n"
           "paper's c|r| + loss):\n"
           "      --c-init X            first c (default %g; cw: %g)\n"
           "      --c-factor X          bracketing factor (default %g)\n"
           "      --bracket-steps N     most bracketing steps (default %zu)\n"
           "      --bisect-steps N      bisection steps once bracketed (default %zu)\n"
           "      --history N           L-BFGS memory (default %zu)\n"
           "      --max-iter N          L-BFGS steps per c (default %zu; deepfool: steps, %zu)\n"
           "fgsm, pgd:\n"
           "      --epsilon X           radius: per pixel for L-inf, Euclidean for L2\n"
           "                            (default %g)\n"
           "      --minimal             fgsm: the smallest epsilon that succeeds, by bisection\n"
           "      --norm linf|l2        pgd: the ball (default linf)\n"
           "      --steps N             pgd: steps (default %zu); cw: Adam steps per c (%zu)\n"
           "      --step-size X         pgd: step (default 2.5*epsilon/steps)\n"
           "      --no-random-start     pgd: start from x\n"
           "deepfool:\n"
           "      --overshoot X         (default %g)\n"
           "      --candidates N        classes considered, 0 for all (default %zu)\n"
           "cw:\n"
           "      --search-steps N      values of c (default %zu); fgsm --minimal: bisection\n"
           "                            steps (default %zu)\n"
           "      --confidence X        kappa (default %g)\n"
           "      --learning-rate X     Adam step (default %g)\n"
           "\n",
           d->lbfgs.batch_size, d->lbfgs.c_init, d->cw.c_init, d->lbfgs.c_factor,
           d->lbfgs.c_bracket_steps, d->lbfgs.c_bisect_steps, d->lbfgs.history,
           d->lbfgs.max_iterations, d->deepfool.max_iterations, d->fgsm.epsilon, d->pgd.steps,
           d->cw.steps, d->deepfool.overshoot, d->deepfool.candidates,
           d->cw.binary_search_steps, d->fgsm.search_steps, d->cw.confidence,
           d->cw.learning_rate);
    printf("Evaluation (the paper's Tables 2 and 4, printed as a table of error rates):\n"
           "      --transfer MODEL      also evaluate the sets on MODEL (ONNX file, preset or\n"
           "                            spec; a preset/spec is trained here with seed+k);\n"
           "                            repeat for up to %d models\n"
           "      --noise S             add a Gaussian-noise set, stddev S, clipped to [0,1]\n"
           "      --amplify R           add the adversarial set with each perturbation\n"
           "                            rescaled to RMS R per pixel (Table 4), clipped\n"
           "\n"
           "Output:\n"
           "      --out FILE            adversarial images as float32 IDX (FILE) with the true\n"
           "                            labels (FILE.labels); .gz compresses\n"
           "      --results FILE        per-example results as CSV, or JSON if FILE ends in\n"
           "                            .json\n"
           "      --png FILE            figure: original | difference x10 around grey |\n"
           "                            adversarial, one row per example\n"
           "      --figure-count K      rows of the figure (default 10)\n"
           "      --quiet               no progress display\n"
           "  -h, --help                show this help and exit\n"
           "\n"
           "Distortion is the paper's: RMS per pixel, sqrt(sum((x'-x)^2)/n), pixels in [0,1].\n"
           "Exit status: 0 success, 1 failure, 2 bad usage, 130 interrupted (partial results\n"
           "are still written).\n",
           MAX_TRANSFER);
}

/* ---- outputs ---- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void print_summary(const nnp_attack_result *r, size_t n, double seconds,
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

/* Per-example results as CSV, or as a JSON array of objects when the path ends in ".json";
 * the same fields either way. Values are finite (distortions of points in [0,1]). */
static int write_results(const char *path, const nnp_attack_result *r, const int32_t *labels,
                         size_t first, size_t n)
{
    static const char *const names[] = {"index", "true_label", "clean_label", "target",
                                        "adv_label", "success", "finished", "rms", "l2",
                                        "linf", "c", "iterations", "evaluations"};
    enum { N_FIELDS = sizeof names / sizeof *names };
    size_t len = strlen(path);
    const int json = len > 5 && strcmp(path + len - 5, ".json") == 0;
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, PROG ": cannot write '%s': %s\n", path, strerror(errno));
        return -1;
    }
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
    if (fclose(f) != 0) {
        fprintf(stderr, PROG ": cannot write '%s': %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

/* The paper's Figure 5 layout: original | (x' − x)·10 + ½ | adversarial, one row each. */
static int write_figure(const char *path, const float *x, const float *xa, size_t n, size_t h,
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

static int write_adversarial_idx(const char *path, const float *xa, const int32_t *labels,
                                 size_t n, size_t c, size_t h, size_t w)
{
    char lpath[PATH_LEN];
    if (snprintf(lpath, sizeof lpath, "%s.labels", path) >= (int)sizeof lpath) {
        usage_error("--out: path too long");
        return -1;
    }
    nnp_dataset *ds = NULL;
    nnp_status s = nnp_dataset_create(n, c, h, w, xa, labels, &ds);
    if (s == NNP_OK) s = nnp_dataset_save_idx(ds, path, lpath, NNP_IDX_FLOAT);
    nnp_dataset_free(ds);
    if (s != NNP_OK) {
        lib_error("writing the adversarial set", s);
        return -1;
    }
    return 0;
}

/* ---- main ---- */

enum {
    OPT_DATA_DIR = 256, OPT_FIRST, OPT_COUNT, OPT_EPOCHS, OPT_SEED, OPT_ATTACK, OPT_TARGET,
    OPT_BATCH, OPT_C_INIT, OPT_C_FACTOR, OPT_BRACKET, OPT_BISECT, OPT_HISTORY, OPT_MAX_ITER,
    OPT_OUT, OPT_RESULTS, OPT_PNG, OPT_FIGURE_COUNT, OPT_QUIET, OPT_EPSILON, OPT_MINIMAL,
    OPT_NORM, OPT_STEPS, OPT_STEP_SIZE, OPT_NO_RANDOM_START, OPT_OVERSHOOT, OPT_CANDIDATES,
    OPT_SEARCH_STEPS, OPT_CONFIDENCE, OPT_LEARNING_RATE, OPT_TRANSFER, OPT_NOISE, OPT_AMPLIFY,
    OPT_FILE /* + 0..3 */
};

static const char *const data_files[4] = {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                                          "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"};

static const struct option long_opts[] = {
    {"data-dir", required_argument, NULL, OPT_DATA_DIR},
    {"first", required_argument, NULL, OPT_FIRST},
    {"count", required_argument, NULL, OPT_COUNT},
    {"epochs", required_argument, NULL, OPT_EPOCHS},
    {"seed", required_argument, NULL, OPT_SEED},
    {"attack", required_argument, NULL, OPT_ATTACK},
    {"target", required_argument, NULL, OPT_TARGET},
    {"batch", required_argument, NULL, OPT_BATCH},
    {"c-init", required_argument, NULL, OPT_C_INIT},
    {"c-factor", required_argument, NULL, OPT_C_FACTOR},
    {"bracket-steps", required_argument, NULL, OPT_BRACKET},
    {"bisect-steps", required_argument, NULL, OPT_BISECT},
    {"history", required_argument, NULL, OPT_HISTORY},
    {"max-iter", required_argument, NULL, OPT_MAX_ITER},
    {"out", required_argument, NULL, OPT_OUT},
    {"results", required_argument, NULL, OPT_RESULTS},
    {"png", required_argument, NULL, OPT_PNG},
    {"figure-count", required_argument, NULL, OPT_FIGURE_COUNT},
    {"quiet", no_argument, NULL, OPT_QUIET},
    {"epsilon", required_argument, NULL, OPT_EPSILON},
    {"minimal", no_argument, NULL, OPT_MINIMAL},
    {"norm", required_argument, NULL, OPT_NORM},
    {"steps", required_argument, NULL, OPT_STEPS},
    {"step-size", required_argument, NULL, OPT_STEP_SIZE},
    {"no-random-start", no_argument, NULL, OPT_NO_RANDOM_START},
    {"overshoot", required_argument, NULL, OPT_OVERSHOOT},
    {"candidates", required_argument, NULL, OPT_CANDIDATES},
    {"search-steps", required_argument, NULL, OPT_SEARCH_STEPS},
    {"confidence", required_argument, NULL, OPT_CONFIDENCE},
    {"learning-rate", required_argument, NULL, OPT_LEARNING_RATE},
    {"transfer", required_argument, NULL, OPT_TRANSFER},
    {"noise", required_argument, NULL, OPT_NOISE},
    {"amplify", required_argument, NULL, OPT_AMPLIFY},
    {"train-images", required_argument, NULL, OPT_FILE + 0},
    {"train-labels", required_argument, NULL, OPT_FILE + 1},
    {"test-images", required_argument, NULL, OPT_FILE + 2},
    {"test-labels", required_argument, NULL, OPT_FILE + 3},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};


/* Parses the command line into jb; returns -1 to exit with `*rc`. */
static int parse_args(int argc, char **argv, job *jb, int *rc)
{
    int c;
    double v;
    *rc = EXIT_USAGE;
    while ((c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
        switch (c) {
        case OPT_DATA_DIR: jb->data_dir = optarg; break;
        case OPT_FIRST: if (parse_size("--first", optarg, 0, &jb->first)) return -1; break;
        case OPT_COUNT: if (parse_size("--count", optarg, 1, &jb->count)) return -1; break;
        case OPT_EPOCHS: if (parse_size("--epochs", optarg, 1, &jb->epochs)) return -1; break;
        case OPT_SEED: if (parse_u64("--seed", optarg, &jb->seed)) return -1; break;
        case OPT_ATTACK: {
            int found = -1;
            for (int a = 0; a < (int)(sizeof attack_names / sizeof *attack_names); a++)
                if (!strcasecmp(optarg, attack_names[a])) found = a;
            if (found < 0) {
                usage_error("--attack: unknown attack '%s' (lbfgs, fgsm, pgd, deepfool, cw)",
                            optarg);
                return -1;
            }
            jb->attack = found;
            break;
        }
        case OPT_TARGET:
            if (!strcasecmp(optarg, "none")) jb->target_mode = TARGET_NONE;
            else if (!strcasecmp(optarg, "next")) jb->target_mode = TARGET_NEXT;
            else if (!strcasecmp(optarg, "random")) jb->target_mode = TARGET_RANDOM;
            else {
                usage_error("--target: '%s' is not none, next or random", optarg);
                return -1;
            }
            break;
        case OPT_BATCH: {
            size_t b;
            if (parse_size("--batch", optarg, 1, &b)) return -1;
            jb->lbfgs.batch_size = jb->fgsm.batch_size = jb->pgd.batch_size = jb->deepfool.batch_size = jb->cw.batch_size = b;
            break;
        }
        case OPT_C_INIT:
            if (parse_double("--c-init", optarg, &v)) return -1;
            jb->lbfgs.c_init = jb->cw.c_init = v;
            break;
        case OPT_C_FACTOR:
            if (parse_double("--c-factor", optarg, &v)) return -1;
            jb->lbfgs.c_factor = v;
            break;
        case OPT_BRACKET:
            if (parse_size("--bracket-steps", optarg, 0, &jb->lbfgs.c_bracket_steps)) return -1;
            break;
        case OPT_BISECT:
            if (parse_size("--bisect-steps", optarg, 0, &jb->lbfgs.c_bisect_steps)) return -1;
            break;
        case OPT_HISTORY: if (parse_size("--history", optarg, 1, &jb->lbfgs.history)) return -1; break;
        case OPT_MAX_ITER:
            if (parse_size("--max-iter", optarg, 1, &jb->lbfgs.max_iterations)) return -1;
            jb->deepfool.max_iterations = jb->lbfgs.max_iterations;
            break;
        case OPT_EPSILON:
            if (parse_double("--epsilon", optarg, &v)) return -1;
            jb->fgsm.epsilon = jb->pgd.epsilon = v;
            break;
        case OPT_MINIMAL: jb->fgsm.minimal = 1; break;
        case OPT_NORM:
            if (!strcasecmp(optarg, "linf")) jb->pgd.norm = NNP_ATTACK_NORM_LINF;
            else if (!strcasecmp(optarg, "l2")) jb->pgd.norm = NNP_ATTACK_NORM_L2;
            else {
                usage_error("--norm: '%s' is not linf or l2", optarg);
                return -1;
            }
            break;
        case OPT_STEPS:
            if (parse_size("--steps", optarg, 0, &jb->pgd.steps)) return -1;
            jb->cw.steps = jb->pgd.steps;
            break;
        case OPT_STEP_SIZE:
            if (parse_double("--step-size", optarg, &jb->pgd.step_size)) return -1;
            break;
        case OPT_NO_RANDOM_START: jb->pgd.random_start = 0; break;
        case OPT_OVERSHOOT:
            if (parse_double("--overshoot", optarg, &jb->deepfool.overshoot)) return -1;
            break;
        case OPT_CANDIDATES:
            if (parse_size("--candidates", optarg, 0, &jb->deepfool.candidates)) return -1;
            break;
        case OPT_SEARCH_STEPS:
            if (parse_size("--search-steps", optarg, 1, &jb->cw.binary_search_steps)) return -1;
            jb->fgsm.search_steps = jb->cw.binary_search_steps;
            break;
        case OPT_CONFIDENCE:
            if (parse_double("--confidence", optarg, &jb->cw.confidence)) return -1;
            break;
        case OPT_TRANSFER:
            if (jb->n_transfer == MAX_TRANSFER) {
                usage_error("--transfer: at most %d models", MAX_TRANSFER);
                return -1;
            }
            jb->transfer[jb->n_transfer++] = optarg;
            break;
        case OPT_NOISE:
            if (parse_double("--noise", optarg, &jb->noise)) return -1;
            if (jb->noise < 0) {
                usage_error("--noise: the stddev must be >= 0");
                return -1;
            }
            break;
        case OPT_AMPLIFY:
            if (parse_double("--amplify", optarg, &jb->amplify)) return -1;
            if (jb->amplify < 0) {
                usage_error("--amplify: the RMS must be >= 0");
                return -1;
            }
            break;
        case OPT_LEARNING_RATE:
            if (parse_double("--learning-rate", optarg, &jb->cw.learning_rate)) return -1;
            break;
        case OPT_OUT: jb->out = optarg; break;
        case OPT_RESULTS: jb->results = optarg; break;
        case OPT_PNG: jb->png = optarg; break;
        case OPT_FIGURE_COUNT:
            if (parse_size("--figure-count", optarg, 1, &jb->figure_count)) return -1;
            break;
        case OPT_QUIET: jb->quiet = 1; break;
        case OPT_FILE + 0: case OPT_FILE + 1: case OPT_FILE + 2: case OPT_FILE + 3:
            jb->file[c - OPT_FILE] = optarg;
            break;
        case 'h':
            print_help(jb);
            *rc = EXIT_SUCCESS;
            return -1;
        default: usage_error("unknown option"); return -1;
        }
    }
    if (optind < argc) jb->model = argv[optind++];
    if (optind < argc) {
        usage_error("unexpected argument '%s'", argv[optind]);
        return -1;
    }
    return 0;
}

/* Loads the training (which = 0) or test set (which = 2). */
static int load(const job *jb, int which, nnp_dataset **out)
{
    char path[2][PATH_LEN];
    for (int f = 0; f < 2; f++) {
        const char *given = jb->file[which + f];
        if (snprintf(path[f], PATH_LEN, "%s%s%s", given ? given : jb->data_dir, given ? "" : "/",
                     given ? "" : data_files[which + f]) >= PATH_LEN) {
            usage_error("path of the %s too long", which ? "test set" : "training set");
            return EXIT_USAGE;
        }
    }
    nnp_status s = nnp_dataset_load_idx(path[0], path[1], out);
    if (s != NNP_OK) {
        lib_error("loading the data", s);
        return EXIT_FAILURE;
    }
    return EXIT_SUCCESS;
}

/* Runs the chosen attack with its options, progress drawn through `p`. */
static nnp_status run_attack(const job *jb, const nnp_net *net, const float *x, const int32_t *y,
                             const int32_t *targets, size_t n, progress *p, float *xa,
                             nnp_attack_result *res)
{
    switch (jb->attack) {
    case ATTACK_FGSM: {
        nnp_attack_fgsm_opts o = jb->fgsm;
        o.progress = on_progress;
        o.progress_user = p;
        return nnp_attack_fgsm(net, x, y, targets, n, &o, xa, res);
    }
    case ATTACK_PGD: {
        nnp_attack_pgd_opts o = jb->pgd;
        o.seed = jb->seed;
        o.progress = on_progress;
        o.progress_user = p;
        return nnp_attack_pgd(net, x, y, targets, n, &o, xa, res);
    }
    case ATTACK_DEEPFOOL: {
        nnp_attack_deepfool_opts o = jb->deepfool;
        o.progress = on_progress;
        o.progress_user = p;
        return nnp_attack_deepfool(net, x, y, targets, n, &o, xa, res);
    }
    case ATTACK_CW: {
        nnp_attack_cw_opts o = jb->cw;
        o.progress = on_progress;
        o.progress_user = p;
        return nnp_attack_cw(net, x, y, targets, n, &o, xa, res);
    }
    default: {
        nnp_attack_lbfgs_opts o = jb->lbfgs;
        o.progress = on_progress;
        o.progress_user = p;
        return nnp_attack_lbfgs(net, x, y, targets, n, &o, xa, res);
    }
    }
}

/* The error of every model (columns: the attacked one, then --transfer) on every set (rows:
 * clean, adversarial, and --noise / --amplify ones): the paper's Tables 2 and 4 in one
 * nnp_eval_transfer_matrix() call. Returns 0, or -1 after printing the problem. */
static int print_evaluation(const job *jb, const nnp_net *const *nets, size_t n_nets,
                            const float *x, const float *xa, const int32_t *y, size_t n)
{
    const size_t d = nnp_net_input_size(nets[0]);
    float *noisy = NULL, *amplified = NULL;
    const float *sets[4] = {x, xa};
    char names[4][64] = {"clean", "adversarial (for model 0)"};
    size_t n_sets = 2;
    double errors[4 * (MAX_TRANSFER + 1)];
    nnp_status s = NNP_OK;
    if (jb->noise >= 0) {
        if (!(noisy = malloc(n * d * sizeof *noisy))) s = NNP_ENOMEM;
        if (s == NNP_OK) s = nnp_eval_noise_gaussian(x, n * d, jb->noise, jb->seed, noisy);
        snprintf(names[n_sets], sizeof names[0], "gaussian noise, stddev %g", jb->noise);
        sets[n_sets++] = noisy;
    }
    if (s == NNP_OK && jb->amplify >= 0) {
        if (!(amplified = malloc(n * d * sizeof *amplified))) s = NNP_ENOMEM;
        if (s == NNP_OK) s = nnp_eval_perturbation_rescale(x, xa, n, d, jb->amplify, amplified);
        snprintf(names[n_sets], sizeof names[0], "adversarial amplified to RMS %g", jb->amplify);
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
        printf("  model 0 = %s", jb->model);
        for (size_t k = 1; k < n_nets; k++) printf(", model %zu = %s", k, jb->transfer[k - 1]);
        printf("\n");
    }
    free(noisy);
    free(amplified);
    if (s != NNP_OK) {
        lib_error("evaluation", s);
        return -1;
    }
    return 0;
}

/* Attacks the selected test examples with the trained net; writes and prints everything.
 * `others` are the --transfer models. */
static int attack_and_report(const job *jb, const nnp_net *net, const nnp_net *const *others,
                             const nnp_dataset *test)
{
    const size_t d = nnp_dataset_example_size(test), k = nnp_net_output_size(net);
    const size_t n = jb->count;
    const float *x = nnp_dataset_images(test) + jb->first * d;
    const int32_t *y = nnp_dataset_labels(test) + jb->first;
    size_t ch, hh, ww;
    int rc = EXIT_FAILURE;
    nnp_status s = nnp_dataset_shape(test, &ch, &hh, &ww);
    float *xa = malloc(n * d * sizeof *xa);
    int32_t *targets = malloc(n * sizeof *targets);
    nnp_attack_result *res = malloc(n * sizeof *res);
    if (s != NNP_OK || !xa || !targets || !res) {
        fprintf(stderr, PROG ": out of memory\n");
        goto out;
    }
    uint64_t state = jb->seed * 0x9E3779B97F4A7C15u + 1;
    for (size_t i = 0; i < n; i++) {
        state = state * 6364136223846793005u + 1442695040888963407u; /* LCG (Knuth MMIX) */
        int32_t off = 1 + (int32_t)((state >> 33) % (k - 1));
        targets[i] = (int32_t)((y[i] + (jb->target_mode == TARGET_NEXT ? 1 : off)) % (int32_t)k);
    }
    progress p = {isatty(STDERR_FILENO), jb->quiet, now_seconds(), 0, 0};
    printf("attack       %s, %s, %zu test examples from #%zu\n", attack_titles[jb->attack],
           jb->target_mode == TARGET_NONE ? "untargeted"
           : jb->target_mode == TARGET_NEXT ? "targeted at label+1" : "random targets",
           n, jb->first);
    fflush(stdout);
    s = run_attack(jb, net, x, y, jb->target_mode == TARGET_NONE ? NULL : targets, n, &p, xa, res);
    double seconds = now_seconds() - p.t0;
    if (p.drawn) fputc('\n', stderr);
    if (s != NNP_OK && s != NNP_ECANCELLED) {
        lib_error(attack_names[jb->attack], s);
        goto out;
    }
    double clean_err = NAN, adv_err = NAN;
    nnp_status e = nnp_eval_error_rate(net, x, y, n, &clean_err, NULL);
    if (e == NNP_OK) e = nnp_eval_error_rate(net, xa, y, n, &adv_err, NULL);
    if (e != NNP_OK) {
        lib_error("nnp_eval_error_rate", e);
        goto out;
    }
    print_summary(res, n, seconds, clean_err, adv_err);
    rc = s == NNP_ECANCELLED ? EXIT_INTERRUPTED : EXIT_SUCCESS;
    if (jb->n_transfer || jb->noise >= 0 || jb->amplify >= 0) {
        const nnp_net *nets[MAX_TRANSFER + 1] = {net};
        for (size_t t = 0; t < jb->n_transfer; t++) nets[t + 1] = others[t];
        if (print_evaluation(jb, nets, jb->n_transfer + 1, x, xa, y, n) != 0) rc = EXIT_FAILURE;
    }
    if (jb->results && write_results(jb->results, res, y, jb->first, n) != 0) rc = EXIT_FAILURE;
    if (jb->out && write_adversarial_idx(jb->out, xa, y, n, ch, hh, ww) != 0) rc = EXIT_FAILURE;
    if (jb->png &&
        write_figure(jb->png, x, xa, n < jb->figure_count ? n : jb->figure_count, ch * hh, ww) != 0)
        rc = EXIT_FAILURE;
    if (jb->results) printf("results      %s\n", jb->results);
    if (jb->out) printf("adversarial  %s (+ .labels)\n", jb->out);
    if (jb->png) printf("figure       %s\n", jb->png);
out:
    free(xa);
    free(targets);
    free(res);
    return rc;
}

int main(int argc, char **argv)
{
    cli_set_prog(PROG);
    job jb = {.data_dir = DEFAULT_DATA_DIR, .model = "fc100-100-10", .count = 100,
              .figure_count = 10, .seed = 1, .noise = -1, .amplify = -1};
    nnp_status s = nnp_attack_lbfgs_opts_init(&jb.lbfgs);
    if (s == NNP_OK) s = nnp_attack_fgsm_opts_init(&jb.fgsm);
    if (s == NNP_OK) s = nnp_attack_pgd_opts_init(&jb.pgd);
    if (s == NNP_OK) s = nnp_attack_deepfool_opts_init(&jb.deepfool);
    if (s == NNP_OK) s = nnp_attack_cw_opts_init(&jb.cw);
    if (s != NNP_OK) {
        lib_error("initialising the attack options", s);
        return EXIT_FAILURE;
    }
    int rc;
    if (parse_args(argc, argv, &jb, &rc) != 0) return rc;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigaction(SIGINT, &sa, NULL);

    nnp_dataset *train = NULL, *test = NULL;
    nnp_net *net = NULL;
    const int onnx = model_is_onnx(jb.model);
    int need_train = !onnx;
    for (size_t k = 0; k < jb.n_transfer; k++) need_train |= !model_is_onnx(jb.transfer[k]);
    nnp_net *others[MAX_TRANSFER] = {NULL};
    rc = need_train ? load(&jb, 0, &train) : EXIT_SUCCESS;
    if (rc == EXIT_SUCCESS) rc = load(&jb, 2, &test);
    if (rc == EXIT_SUCCESS && (jb.first >= nnp_dataset_count(test) ||
                               jb.count > nnp_dataset_count(test) - jb.first)) {
        usage_error("--first %zu --count %zu: the test set has %zu examples", jb.first, jb.count,
                    nnp_dataset_count(test));
        rc = EXIT_USAGE;
    }
    if (rc == EXIT_SUCCESS && nnp_dataset_class_count(test) < 2) {
        fprintf(stderr, PROG ": the test labels have a single class; nothing to attack\n");
        rc = EXIT_FAILURE;
    }
    if (rc == EXIT_SUCCESS) {
        double t0 = now_seconds();
        rc = onnx ? model_load_onnx(jb.model, &net)
                  : model_train(jb.model, train, jb.epochs, jb.seed, jb.quiet, &g_interrupted, &net);
        if (rc == EXIT_SUCCESS && nnp_net_input_size(net) != nnp_dataset_example_size(test)) {
            usage_error("model '%s' takes %zu inputs, the test images have %zu values", jb.model,
                        nnp_net_input_size(net), nnp_dataset_example_size(test));
            rc = EXIT_USAGE;
        }
        if (rc == EXIT_SUCCESS && nnp_net_output_size(net) < nnp_dataset_class_count(test)) {
            usage_error("model '%s' has %zu outputs, the test labels go up to %zu", jb.model,
                        nnp_net_output_size(net), nnp_dataset_class_count(test) - 1);
            rc = EXIT_USAGE;
        }
        if (rc == EXIT_SUCCESS) {
            double err = NAN;
            s = nnp_eval_error_rate(net, nnp_dataset_images(test), nnp_dataset_labels(test), nnp_dataset_count(test), &err, NULL);
            if (s != NNP_OK) {
                lib_error("nnp_eval_error_rate", s);
                rc = EXIT_FAILURE;
            } else {
                printf("model        %s, %s in %.1f s, test error %.2f%%\n", jb.model,
                       onnx ? "loaded" : "trained", now_seconds() - t0, 100 * err);
            }
        }
    }
    for (size_t t = 0; rc == EXIT_SUCCESS && t < jb.n_transfer; t++) {
        const char *m = jb.transfer[t];
        rc = model_is_onnx(m) ? model_load_onnx(m, &others[t])
                              : model_train(m, train, jb.epochs, jb.seed + 1 + t, jb.quiet,
                                            &g_interrupted, &others[t]);
        if (rc == EXIT_SUCCESS && (nnp_net_input_size(others[t]) != nnp_net_input_size(net) ||
                                   nnp_net_output_size(others[t]) != nnp_net_output_size(net))) {
            usage_error("--transfer %s: %zu inputs and %zu outputs, the attacked model has %zu "
                        "and %zu", m, nnp_net_input_size(others[t]), nnp_net_output_size(others[t]),
                        nnp_net_input_size(net), nnp_net_output_size(net));
            rc = EXIT_USAGE;
        }
    }
    if (rc == EXIT_SUCCESS)
        rc = attack_and_report(&jb, net, (const nnp_net *const *)others, test);
    for (size_t t = 0; t < jb.n_transfer; t++) nnp_net_free(others[t]);
    nnp_net_free(net);
    nnp_dataset_free(train);
    nnp_dataset_free(test);
    return rc;
}
