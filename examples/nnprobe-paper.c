/* nnprobe-paper: reproduces Szegedy et al. (2013), "Intriguing properties of neural
 * networks", in one command, as analogues on an MNIST-family data set (Fashion-MNIST by
 * default): Tables 1-5, the units of §3, Figure 5 and Zhang et al. (2017)'s random labels,
 * each beside the paper's numbers, with computed findings, in report.json, report.md and
 * report.html. This file: options, profiles, input checks and the flow (paper.h).
 *
 * Exit status: 0 success, 1 failure, 2 bad usage, 130 interrupted (the report of the steps
 * finished so far is still written; trained nets are cached, so a rerun resumes). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "paper.h"

#define PROG "nnprobe-paper"

/* The profiles (the settings each states in the report). tiny is the test suite's. */
static const paper_profile PROFILES[] = {
    {"tiny", 1000, 1000, 1, 5, 2, "784-c5x4p2r-m2-16r-10", 500, 1, 5, 4, 4, 100, 3, 3, 1, 50},
    {"quick", 0, 0, 8, 50, 4, "784-c5x8p2r-m2-c5x16p2r-m2-64r-10", 8000, 2, 20, 8, 8, 500, 100,
     4, 2, 200},
    {"default", 0, 0, 20, 300, 8, "784-c5x16p2r-m2-c5x32p2r-m2-128r-10", 20000, 3, 100, 16, 8,
     2000, 100, 6, 10, 1000},
    {"full", 0, 0, 60, 10000, 8, "784-c5x32p2r-m2-c5x64p2r-m2-1024r-10", 0, 10, 500, 32, 10,
     5000, 150, 8, 40, 5000},
};
enum { N_PROFILES = sizeof PROFILES / sizeof *PROFILES };

static const char *const FASHION[10] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                        "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};
static const char *const DIGITS[10] = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};

static void print_help(void)
{
    printf("Usage: " PROG " [OPTION]...\n"
           "Reproduce Szegedy et al. (2013), \"Intriguing properties of neural networks\", on an\n"
           "MNIST-family data set: Table 1 (six models, L-BFGS minimum distortion), Table 2\n"
           "(transfer matrix, Gaussian noise), Tables 3-4 (training halves P1/P2, amplified\n"
           "perturbations), Table 5 (per-layer Lipschitz bounds of a conv net), §3 (units vs\n"
           "random directions), Figure 5 and Zhang et al. (2017)'s random labels; each beside\n"
           "the paper's MNIST numbers, with a computed line per finding.\n"
           "\n"
           "      --quick               small profile: a few minutes (the README's command)\n"
           "      --full                paper-sized profile (hours)\n"
           "      --profile NAME        quick, default (without --quick/--full: ~20 min), full\n"
           "      --out DIR             report directory (default paper-report): report.json,\n"
           "                            report.md, report.html and the PNG figures\n"
           "      --cache DIR           trained nets as ONNX (default $XDG_CACHE_HOME/nnprobe\n"
           "                            when set, else DIR/cache); reruns skip their training\n"
           "      --fresh               retrain every net (the cache is rewritten)\n"
           CLI_HELP_DATA
           "      --seed N              seed of weights, shuffling, noise, directions (default 1)\n"
           CLI_HELP_QUIET CLI_HELP_HELP
           "Charts are drawn with gnuplot (Debian gnuplot-nox) when installed, else skipped.\n"
           CLI_HELP_PROGRESS CLI_HELP_EXIT);
}

cli_progress *paper_progress(paper_ctx *c, cli_progress *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->phase, sizeof c->phase, fmt, ap);
    va_end(ap);
    return cli_progress_start(p, c->phase, c->cm.quiet);
}

void paper_path(const paper_ctx *c, const char *name, char *buf, size_t len)
{
    snprintf(buf, len, "%s/%s", c->out, name);
}

/* mkdir -p of one level below an existing parent, refusing a non-directory. */
static int make_dir(const char *what, const char *path)
{
    struct stat st;
    if (mkdir(path, 0777) != 0 && errno != EEXIST) {
        usage_error("%s %s: %s", what, path, strerror(errno));
        return CLI_USAGE; /* a bad option value: found before any work */
    }
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode) || access(path, W_OK) != 0) {
        usage_error("%s %s is not a writable directory", what, path);
        return CLI_USAGE;
    }
    return CLI_OK;
}

enum { OPT_QUICK = CLI_OPT_OWN, OPT_FULL, OPT_PROFILE, OPT_OUT, OPT_CACHE, OPT_FRESH };

/* Parses the command line into c; returns -1 to go on, else the status to exit with. */
static int parse_args(int argc, char **argv, paper_ctx *c)
{
    static const struct option own[] = {
        {"quick", no_argument, NULL, OPT_QUICK},       {"full", no_argument, NULL, OPT_FULL},
        {"profile", required_argument, NULL, OPT_PROFILE},
        {"out", required_argument, NULL, OPT_OUT},
        {"cache", required_argument, NULL, OPT_CACHE},
        {"fresh", no_argument, NULL, OPT_FRESH},       {NULL, 0, NULL, 0},
    };
    static const cli_options opts = {CLI_DATA_DIR, NULL, 0, own, 0};
    static const char *const names[] = {"tiny", "quick", "default", "full"};
    int o, stop = -1, p;
    while ((o = cli_next_option(argc, argv, &opts, &c->cm, NULL, &stop)) != -1) {
        switch (o) {
        case OPT_QUICK: c->pf = &PROFILES[1]; break;
        case OPT_FULL: c->pf = &PROFILES[3]; break;
        case OPT_PROFILE:
            if ((p = parse_choice("--profile", optarg, names, N_PROFILES)) < 0) return CLI_USAGE;
            c->pf = &PROFILES[p];
            break;
        case OPT_OUT: c->out = optarg; break;
        case OPT_CACHE: c->cache = optarg; break;
        case OPT_FRESH: c->fresh = 1; break;
        case 'h': print_help(); return CLI_OK;
        }
    }
    if (stop >= 0) return stop;
    if (optind < argc) {
        usage_error("unexpected argument '%s'", argv[optind]);
        return CLI_USAGE;
    }
    if (!*c->out) {
        usage_error("--out: empty directory name");
        return CLI_USAGE;
    }
    return -1;
}

/* The first `limit` examples of *d (0 or ≥ count: all), in place. */
static int limit_set(nnp_dataset **d, size_t limit)
{
    if (limit == 0 || limit >= nnp_dataset_count(*d)) return CLI_OK;
    nnp_dataset *sub = NULL;
    nnp_status s = nnp_dataset_subset(*d, 0, limit, &sub);
    if (s != NNP_OK) {
        lib_error("nnp_dataset_subset", s);
        return CLI_FAILURE;
    }
    nnp_dataset_free(*d);
    *d = sub;
    return CLI_OK;
}

/* Loads the data and refuses, before any long work, what the nets cannot take. */
static int load_and_check(paper_ctx *c, paper_profile *pf)
{
    nnp_dataset *all[2] = {NULL, NULL};
    int rc = cli_load_data(&c->cm, &all[0], &all[1]);
    c->train = all[0];
    c->test = all[1];
    if (rc != CLI_OK) return rc;
    for (size_t i = 0; i < 2; i++) {
        size_t ch, h, w;
        const char *what = i ? "test" : "training";
        if (nnp_dataset_shape(all[i], &ch, &h, &w) != NNP_OK || ch != 1 || h != 28 || w != 28) {
            fprintf(stderr, PROG ": the %s images (%s) are %zux%zux%zu; the paper's nets take "
                    "1x28x28 (an MNIST-family data set)\n", what, c->cm.path[2 * i], ch, h, w);
            return CLI_USAGE;
        }
        if (nnp_dataset_class_count(all[i]) > 10 || nnp_dataset_class_count(all[i]) < 2) {
            fprintf(stderr, PROG ": the %s labels (%s) have %zu classes; the nets have 10\n",
                    what, c->cm.path[2 * i + 1], nnp_dataset_class_count(all[i]));
            return CLI_USAGE;
        }
    }
    if (nnp_dataset_count(c->train) < 20 || nnp_dataset_count(c->test) < 2) {
        fprintf(stderr, PROG ": too few examples (%zu training, %zu test)\n",
                nnp_dataset_count(c->train), nnp_dataset_count(c->test));
        return CLI_USAGE;
    }
    c->train_sum = paper_checksum(c->train);
    c->test_sum = paper_checksum(c->test);
    RUN(limit_set(&c->train, pf->train_limit));
    RUN(limit_set(&c->test, pf->test_limit));
    if (pf->attacked > nnp_dataset_count(c->test)) pf->attacked = nnp_dataset_count(c->test);
    if (pf->zhang_n > nnp_dataset_count(c->train)) pf->zhang_n = nnp_dataset_count(c->train);
    if (pf->conv_train == 0 || pf->conv_train > nnp_dataset_count(c->train))
        pf->conv_train = nnp_dataset_count(c->train);
    char lower[CLI_PATH_LEN];
    size_t k = 0;
    for (; c->cm.path[0][k] && k + 1 < sizeof lower; k++) {
        const char ch = c->cm.path[0][k];
        lower[k] = ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
    }
    lower[k] = 0;
    c->class_names = strstr(lower, "fashion") ? FASHION : DIGITS;
done:
    return rc;
}

typedef struct step {
    const char *name;
    int (*run)(paper_ctx *);
} step;

int main(int argc, char **argv)
{
    cli_set_prog(PROG);
    static const step STEPS[] = {
        {"Tables 1-2, Figure 5", paper_tables_1_2}, {"Tables 3-4", paper_tables_3_4},
        {"Table 5", paper_table_5},                 {"§3 units", paper_units},
        {"Zhang et al.", paper_zhang},              {"§4.2 adversarial training", paper_advtrain},
    };
    paper_ctx c = {.pf = &PROFILES[2], .out = "paper-report"};
    paper_profile pf;
    char cache[CLI_PATH_LEN];
    int rc = CLI_OK;
    cli_common_init(&c.cm);
    if (!(c.rep = calloc(1, sizeof *c.rep))) {
        fprintf(stderr, PROG ": out of memory\n");
        return CLI_FAILURE;
    }
    if ((rc = parse_args(argc, argv, &c)) >= 0) goto done;
    rc = CLI_OK;
    pf = *c.pf;
    c.pf = &pf;
    RUN(load_and_check(&c, &pf)); /* seconds; a refused input creates no directory */
    RUN(make_dir("--out", c.out));
    if (!c.cache) {
        const char *xdg = getenv("XDG_CACHE_HOME");
        if (xdg && *xdg) snprintf(cache, sizeof cache, "%s/nnprobe", xdg);
        else paper_path(&c, "cache", cache, sizeof cache);
        c.cache = cache;
    }
    RUN(make_dir("--cache", c.cache));
    cli_catch_sigint();
    const double t0 = now_seconds();
    const size_t n_steps = sizeof STEPS / sizeof *STEPS;
    for (size_t i = 0; i < n_steps && rc == CLI_OK; i++) {
        if (!c.cm.quiet)
            fprintf(stderr, "== [%zu/%zu] %s (%s profile, %.0f s so far) ==\n", i + 1, n_steps,
                    STEPS[i].name, pf.name, now_seconds() - t0);
        double ts = now_seconds();
        rc = STEPS[i].run(&c);
        c.rep->seconds[c.rep->n_seconds++] = now_seconds() - ts;
    }
    if (rc == CLI_OK || rc == CLI_INTERRUPTED) {
        if (rc == CLI_OK) paper_charts(&c);
        int wr = paper_write_reports(&c, now_seconds() - t0);
        if (rc == CLI_OK) rc = wr;
        else fprintf(stderr, PROG ": interrupted: the report holds the steps finished so far; "
                             "rerun to resume (trained nets come from the cache)\n");
    }
    if (rc == CLI_OK && !c.cm.quiet) {
        size_t held = 0;
        for (size_t i = 0; i < c.rep->n_findings; i++) held += (size_t)c.rep->findings[i].held;
        fprintf(stderr, "%zu of %zu findings held; report in %s/report.html\n", held,
                c.rep->n_findings, c.out);
    }
done:
    nnp_dataset_free(c.train);
    nnp_dataset_free(c.test);
    free(c.rep);
    return rc;
}
