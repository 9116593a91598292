/* nnprobe-attack: adversarial examples for a classifier on IDX data (Fashion-MNIST by default),
 * by the paper's box-constrained L-BFGS (Szegedy et al. 2013, §4.1) or the attacks that
 * followed. The model is an ONNX file or a preset or spec trained on the fly. Writes the
 * adversarial set (IDX), per-example results (CSV), a figure in the paper's style (PNG:
 * original | difference ×10 around mid-grey | adversarial) and prints a summary
 * (attack-report.c).
 *
 * Exit status: 0 success, 1 library or file failure, 2 bad command line, 130 interrupted
 * (SIGINT: the examples finished so far are still reported and written). */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <nnprobe/nnprobe.h>

#include "attack-report.h"
#include "cli.h"
#include "model.h"
#include "par.h"
#include "shard-file.h"

#define PROG "nnprobe-attack"
#define MAX_TRANSFER 8

enum { TARGET_NONE, TARGET_NEXT, TARGET_RANDOM };
enum { ATTACK_LBFGS, ATTACK_FGSM, ATTACK_PGD, ATTACK_DEEPFOOL, ATTACK_CW };
static const char *const attack_names[] = {"lbfgs", "fgsm", "pgd", "deepfool", "cw"};
static const char *const attack_titles[] = {"lbfgs (paper §4.1)", "fgsm", "pgd", "deepfool",
                                            "cw (Carlini-Wagner L2)"};

typedef struct job {
    cli_common cm; /* data files, --seed, --quiet */
    const char *model, *out, *results, *png;
    size_t first, count, epochs, figure_count;
    int target_mode, attack;
    nnp_attack_lbfgs_opts lbfgs;
    nnp_attack_fgsm_opts fgsm;
    nnp_attack_pgd_opts pgd;
    nnp_attack_deepfool_opts deepfool;
    nnp_attack_cw_opts cw;
    double noise, amplify;          /* --noise, --amplify; < 0: not asked */
    const char *transfer[MAX_TRANSFER]; /* --transfer MODEL, in order */
    size_t n_transfer;
    uint64_t run_hash;              /* of the command line, for --shard (shard-file.h) */
} job;

/* The options that set fields of the job: one row each, every listed field gets the value
 * (--batch goes to every attack; options shared by two attacks set both). */
#define F(field) offsetof(job, field)
static const cli_table_opt TABLE[] = {
    {"first", CLI_SIZE, 0, 1, {F(first)}},
    {"count", CLI_SIZE, 1, 1, {F(count)}},
    {"epochs", CLI_SIZE, 1, 1, {F(epochs)}},
    {"batch", CLI_SIZE, 1, 5, {F(lbfgs.batch_size), F(fgsm.batch_size), F(pgd.batch_size),
                               F(deepfool.batch_size), F(cw.batch_size)}},
    {"c-init", CLI_DOUBLE, 0, 2, {F(lbfgs.c_init), F(cw.c_init)}},
    {"c-factor", CLI_DOUBLE, 0, 1, {F(lbfgs.c_factor)}},
    {"bracket-steps", CLI_SIZE, 0, 1, {F(lbfgs.c_bracket_steps)}},
    {"bisect-steps", CLI_SIZE, 0, 1, {F(lbfgs.c_bisect_steps)}},
    {"history", CLI_SIZE, 1, 1, {F(lbfgs.history)}},
    {"max-iter", CLI_SIZE, 1, 2, {F(lbfgs.max_iterations), F(deepfool.max_iterations)}},
    {"epsilon", CLI_DOUBLE, 0, 2, {F(fgsm.epsilon), F(pgd.epsilon)}},
    {"minimal", CLI_FLAG, 1, 1, {F(fgsm.minimal)}},
    {"steps", CLI_SIZE, 0, 2, {F(pgd.steps), F(cw.steps)}},
    {"step-size", CLI_DOUBLE, 0, 1, {F(pgd.step_size)}},
    {"no-random-start", CLI_FLAG, 0, 1, {F(pgd.random_start)}},
    {"overshoot", CLI_DOUBLE, 0, 1, {F(deepfool.overshoot)}},
    {"candidates", CLI_SIZE, 0, 1, {F(deepfool.candidates)}},
    {"search-steps", CLI_SIZE, 1, 2, {F(cw.binary_search_steps), F(fgsm.search_steps)}},
    {"confidence", CLI_DOUBLE, 0, 1, {F(cw.confidence)}},
    {"learning-rate", CLI_DOUBLE, 0, 1, {F(cw.learning_rate)}},
    {"out", CLI_STRING, 0, 1, {F(out)}},       {"results", CLI_STRING, 0, 1, {F(results)}},
    {"png", CLI_STRING, 0, 1, {F(png)}},
    {"figure-count", CLI_SIZE, 1, 1, {F(figure_count)}},
};
#undef F
enum { N_TABLE = sizeof TABLE / sizeof *TABLE, OPT_ATTACK = CLI_OPT_OWN, OPT_TARGET, OPT_NORM,
       OPT_TRANSFER, OPT_NOISE, OPT_AMPLIFY };

static void print_help(const job *d)
{
    printf("Usage: " PROG " [OPTION]... [MODEL]\n"
           "Find adversarial examples for a classifier, as in Szegedy et al. (2013), §4.1.\n"
           "\n"
           "MODEL is an ONNX file (*.onnx, e.g. from nnprobe-train --save or PyTorch), or a\n"
           "preset or spec as nnprobe-train takes (default fc100-100-10), then trained here on\n"
           "the training set with nnprobe-train's defaults before the attack.\n"
           "\n"
           "Data:\n" CLI_HELP_DATA CLI_HELP_PROBE
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
           CLI_HELP_SHARD
           "                            (needs --results FILE.csv; shards of --batch examples)\n"
           CLI_HELP_QUIET CLI_HELP_HELP "\n"
           "Distortion is the paper's: RMS per pixel, sqrt(sum((x'-x)^2)/n), pixels in [0,1].\n"
           CLI_HELP_PROGRESS "Exit status: 0 success, 1 failure, 2 bad usage, 130 interrupted (partial\n"
           "results are still written).\n",
           MAX_TRANSFER);
}

/* Parses the command line into jb; returns -1 to go on, else the status to exit with. */
static int parse_args(int argc, char **argv, job *jb)
{
    static const struct option own[] = {
        {"attack", required_argument, NULL, OPT_ATTACK},
        {"target", required_argument, NULL, OPT_TARGET},
        {"norm", required_argument, NULL, OPT_NORM},
        {"transfer", required_argument, NULL, OPT_TRANSFER},
        {"noise", required_argument, NULL, OPT_NOISE},
        {"amplify", required_argument, NULL, OPT_AMPLIFY}, CLI_LONG_SHARD, {NULL, 0, NULL, 0},
    };
    static const cli_options opts = {CLI_DATA_DIR, TABLE, N_TABLE, own, 1};
    static const char *const outputs[] = {"--results", "--out", "--png", NULL};
    static const char *const targets[] = {"none", "next", "random"}, *const norms[] = {"linf", "l2"};
    int c, r, stop = -1;
    while ((c = cli_next_option(argc, argv, &opts, &jb->cm, jb, &stop)) != -1) {
        switch (c) {
        case OPT_ATTACK:
            for (jb->attack = 4; jb->attack >= 0; jb->attack--)
                if (!strcasecmp(optarg, attack_names[jb->attack])) break;
            if (jb->attack < 0) {
                usage_error("--attack: unknown attack '%s' (lbfgs, fgsm, pgd, deepfool, cw)", optarg);
                return CLI_USAGE;
            }
            break;
        case OPT_TARGET:
            if ((jb->target_mode = parse_choice("--target", optarg, targets, 3)) < 0) return CLI_USAGE;
            break;
        case OPT_NORM:
            if ((r = parse_choice("--norm", optarg, norms, 2)) < 0) return CLI_USAGE;
            jb->pgd.norm = r ? NNP_ATTACK_NORM_L2 : NNP_ATTACK_NORM_LINF;
            break;
        case OPT_TRANSFER:
            if (jb->n_transfer == MAX_TRANSFER) {
                usage_error("--transfer: at most %d models", MAX_TRANSFER);
                return CLI_USAGE;
            }
            jb->transfer[jb->n_transfer++] = optarg;
            break;
        case OPT_NOISE:
            if (parse_double_min("--noise", optarg, 0, &jb->noise)) return CLI_USAGE;
            break;
        case OPT_AMPLIFY:
            if (parse_double_min("--amplify", optarg, 0, &jb->amplify)) return CLI_USAGE;
            break;
        case 'h': print_help(jb); return CLI_OK;
        }
    }
    if (stop >= 0) return stop;
    if (optind < argc) jb->model = argv[optind++];
    if (optind < argc) {
        usage_error("unexpected argument '%s'", argv[optind]);
        return CLI_USAGE;
    }
    jb->pgd.seed = jb->cm.seed;
    jb->run_hash = shard_run_hash(argc, argv, outputs);
    if (jb->cm.shard_count) {
        const char *res = jb->results;
        if (res == NULL || (strlen(res) > 5 && strcmp(res + strlen(res) - 5, ".json") == 0)) {
            usage_error("--shard: needs --results FILE (CSV, not JSON) for the shard's result");
            return CLI_USAGE;
        }
        if (jb->n_transfer || jb->noise >= 0 || jb->amplify >= 0) {
            usage_error("--shard: --transfer, --noise and --amplify evaluate the whole set; run "
                        "them on the merged --out");
            return CLI_USAGE;
        }
    } /* outputs checked now, not after minutes of work: */
    return cli_check_outputs(3, "--out", jb->out, "--results", jb->results, "--png", jb->png)
               ? CLI_USAGE : -1;
}

/* Runs the chosen attack with its options. */
static nnp_status run_attack(const job *jb, const nnp_net *net, const float *x, const int32_t *y,
                             const int32_t *targets, size_t n, float *xa, nnp_attack_result *res)
{
    switch (jb->attack) {
    case ATTACK_FGSM: return nnp_attack_fgsm(net, x, y, targets, n, &jb->fgsm, xa, res);
    case ATTACK_PGD: return nnp_attack_pgd(net, x, y, targets, n, &jb->pgd, xa, res);
    case ATTACK_DEEPFOOL: return nnp_attack_deepfool(net, x, y, targets, n, &jb->deepfool, xa, res);
    case ATTACK_CW: return nnp_attack_cw(net, x, y, targets, n, &jb->cw, xa, res);
    default: return nnp_attack_lbfgs(net, x, y, targets, n, &jb->lbfgs, xa, res);
    }
}

/* The batch size of the chosen attack: the granule of its shards (shard.h). */
static size_t attack_batch(const job *jb)
{
    switch (jb->attack) {
    case ATTACK_FGSM: return jb->fgsm.batch_size;
    case ATTACK_PGD: return jb->pgd.batch_size;
    case ATTACK_DEEPFOOL: return jb->deepfool.batch_size;
    case ATTACK_CW: return jb->cw.batch_size;
    default: return jb->lbfgs.batch_size;
    }
}

/* With --shard: the shard's header and its slice [*s0, *s0 + *sn) of the n examples; else
 * the whole run. Returns 0, or 1 after a message. */
static int select_shard(const job *jb, size_t n, shard_info *sh, size_t *s0, size_t *sn)
{
    *s0 = 0;
    *sn = n;
    if (jb->cm.shard_count == 0) return 0;
    *sh = (shard_info){.index = jb->cm.shard_index, .count = jb->cm.shard_count, .total = n,
                       .granule = attack_batch(jb), .run = jb->run_hash, .complete = 1};
    snprintf(sh->program, sizeof sh->program, PROG);
    snprintf(sh->out, sizeof sh->out, "%s", jb->out ? jb->out : "");
    if (shard_locate(sh)) return 1;
    *s0 = sh->first;
    *sn = sh->length;
    return 0;
}

/* Under mpirun: rank r attacks shard r of par_size() (granule: the batch) into its rows of
 * xa/res, then rank 0 gathers every rank's rows. One rank: the plain call. All ranks return
 * the worst status of any. */
static nnp_status run_ranks(const job *jb, const nnp_net *net, const float *x, const int32_t *y,
                            const int32_t *targets, size_t n, float *xa, nnp_attack_result *res)
{
    const int size = par_size();
    if (size == 1) return run_attack(jb, net, x, y, targets, n, xa, res);
    const size_t d = nnp_net_input_size(net);
    size_t first[256], len[256];
    for (int r = 0; r < size; r++)
        if (nnp_shard_range(n, (size_t)r, (size_t)size, attack_batch(jb), &first[r], &len[r]) !=
            NNP_OK)
            return NNP_EINVAL;
    const size_t f = first[par_rank()], m = len[par_rank()];
    job mine = *jb;
    mine.pgd.first_index += f; /* PGD's random starts: by index in the whole run */
    nnp_status s = NNP_OK;
    if (m > 0)
        s = run_attack(&mine, net, x + f * d, y + f, targets ? targets + f : NULL, m,
                       xa + f * d, res + f);
    /* every rank takes the worst status of any: an error over a cancellation over success */
    const int mine_rank = s == NNP_OK ? 0 : s == NNP_ECANCELLED ? 1 : 1000 + (int)s;
    const int worst = par_max_int(mine_rank);
    s = worst == 0 ? NNP_OK : worst == 1 ? NNP_ECANCELLED : (nnp_status)(worst - 1000);
    if (s != NNP_OK && s != NNP_ECANCELLED) return s;
    if (par_gather_rows(xa, d * sizeof *xa, first, len) ||
        par_gather_rows(res, sizeof *res, first, len))
        return NNP_ENOMEM;
    return s;
}

/* Attacks the selected test examples with the net; writes and prints everything. `others`
 * are the --transfer models. */
static int attack_and_report(job *jb, const nnp_net *net, nnp_net *const *others,
                             const nnp_dataset *test)
{
    const size_t d = nnp_dataset_example_size(test), k = nnp_net_output_size(net);
    size_t n = jb->count, ch, hh, ww;
    const float *x = nnp_dataset_images(test) + jb->first * d;
    const int32_t *y = nnp_dataset_labels(test) + jb->first;
    int rc = CLI_FAILURE;
    float *xa = malloc(n * d * sizeof *xa);
    int32_t *targets = malloc(n * sizeof *targets);
    nnp_attack_result *res = malloc(n * sizeof *res);
    if (!xa || !targets || !res) {
        fprintf(stderr, PROG ": out of memory\n");
        goto done;
    }
    TRY("nnp_dataset_shape", nnp_dataset_shape(test, &ch, &hh, &ww));
    uint64_t state = jb->cm.seed * 0x9E3779B97F4A7C15u + 1;
    for (size_t i = 0; i < n; i++) {
        state = state * 6364136223846793005u + 1442695040888963407u; /* LCG (Knuth MMIX) */
        int32_t off = 1 + (int32_t)((state >> 33) % (k - 1));
        targets[i] = (int32_t)((y[i] + (jb->target_mode == TARGET_NEXT ? 1 : off)) % (int32_t)k);
    }
    /* a shard: its slice of the examples (the targets above are the whole run's, drawn in
     * order, so each example gets the same target in any shard) */
    shard_info sh;
    size_t s0;
    if (select_shard(jb, n, &sh, &s0, &n)) goto done;
    const shard_info *shard = jb->cm.shard_count ? &sh : NULL;
    x += s0 * d, y += s0;
    jb->pgd.first_index = s0; /* PGD's random starts: by index in the whole run */
    if (shard) printf("shard        %zu/%zu: examples %zu..%zu of the run's %zu\n", sh.index,
                      sh.count, s0, s0 + n, sh.total);
    if (n == 0) { /* more shards than batches: an empty, complete shard */
        rc = report_results(jb->results, res, y, jb->first + s0, 0, shard) ? CLI_FAILURE : CLI_OK;
        goto done;
    }
    cli_progress p;
    jb->lbfgs.progress = jb->fgsm.progress = jb->pgd.progress = jb->deepfool.progress =
        jb->cw.progress = cli_progress_cb;
    jb->lbfgs.progress_user = jb->fgsm.progress_user = jb->pgd.progress_user =
        jb->deepfool.progress_user = jb->cw.progress_user = &p;
    printf("attack       %s, %s, %zu test examples from #%zu\n", attack_titles[jb->attack],
           jb->target_mode == TARGET_NONE ? "untargeted"
           : jb->target_mode == TARGET_NEXT ? "targeted at label+1" : "random targets",
           n, jb->first);
    fflush(stdout);
    cli_progress_start(&p, "attack", jb->cm.quiet);
    nnp_status s = run_ranks(jb, net, x, y, jb->target_mode == TARGET_NONE ? NULL : targets + s0,
                             n, xa, res);
    double seconds = cli_progress_end(&p), clean_err = NAN, adv_err = NAN;
    if (s != NNP_ECANCELLED) TRY(attack_names[jb->attack], s); /* cancelled: report what is done */
    if (par_rank() != 0) { /* rank 0 has gathered the results and writes them */
        rc = CLI_OK;
        goto done;
    }
    TRY("nnp_eval_error_rate", nnp_eval_error_rate(net, x, y, n, &clean_err, NULL));
    TRY("nnp_eval_error_rate", nnp_eval_error_rate(net, xa, y, n, &adv_err, NULL));
    report_summary(res, n, seconds, clean_err, adv_err);
    rc = s == NNP_ECANCELLED ? CLI_INTERRUPTED : CLI_OK;
    sh.complete = s != NNP_ECANCELLED;
    if (jb->n_transfer || jb->noise >= 0 || jb->amplify >= 0) {
        const nnp_net *nets[MAX_TRANSFER + 1] = {net};
        const char *names[MAX_TRANSFER + 1] = {jb->model};
        for (size_t t = 0; t < jb->n_transfer; t++) nets[t + 1] = others[t];
        memcpy(names + 1, jb->transfer, jb->n_transfer * sizeof *names);
        if (report_evaluation(nets, names, jb->n_transfer + 1, x, xa, y, n, jb->noise,
                              jb->amplify, jb->cm.seed) != 0)
            rc = CLI_FAILURE;
    }
    if (jb->results && report_results(jb->results, res, y, jb->first + s0, n, shard) != 0)
        rc = CLI_FAILURE;
    if (jb->out && report_adversarial(jb->out, xa, y, n, ch, hh, ww) != 0) rc = CLI_FAILURE;
    if (jb->png &&
        report_figure(jb->png, x, xa, n < jb->figure_count ? n : jb->figure_count, ch * hh, ww) != 0)
        rc = CLI_FAILURE;
    if (jb->results) printf("results      %s\n", jb->results);
    if (jb->out) printf("adversarial  %s (+ .labels)\n", jb->out);
    if (jb->png) printf("figure       %s\n", jb->png);
done:
    free(xa);
    free(targets);
    free(res);
    return rc;
}

static int run_main(int argc, char **argv);

int main(int argc, char **argv)
{
    par_init(&argc, &argv); /* under mpirun: one rank of the run (par.h) */
    int rc = run_main(argc, argv);
    rc = par_max_int(rc); /* one exit status for the run */
    par_finalize();
    return rc;
}

static int run_main(int argc, char **argv)
{
    cli_set_prog(PROG);
    job jb = {.model = "fc100-100-10", .count = 100, .figure_count = 10, .noise = -1,
              .amplify = -1};
    cli_common_init(&jb.cm);
    nnp_dataset *train = NULL, *test = NULL;
    nnp_net *net = NULL, *others[MAX_TRANSFER] = {NULL};
    int rc = CLI_OK;
    TRY("initialising the attack options", nnp_attack_lbfgs_opts_init(&jb.lbfgs));
    TRY("initialising the attack options", nnp_attack_fgsm_opts_init(&jb.fgsm));
    TRY("initialising the attack options", nnp_attack_pgd_opts_init(&jb.pgd));
    TRY("initialising the attack options", nnp_attack_deepfool_opts_init(&jb.deepfool));
    TRY("initialising the attack options", nnp_attack_cw_opts_init(&jb.cw));
    if ((rc = parse_args(argc, argv, &jb)) >= 0) goto done;
    if (par_size() > 1 && jb.cm.shard_count) USAGE("--shard: not under mpirun, where each rank is a shard");
    if (par_size() > 1 && par_size() > 256) USAGE("at most 256 MPI ranks");
    if (par_rank() != 0) jb.cm.quiet = 1; /* one progress display: rank 0's */
    cli_catch_sigint();
    const int onnx = model_is_onnx(jb.model);
    int need_train = !onnx;
    for (size_t t = 0; t < jb.n_transfer; t++) need_train |= !model_is_onnx(jb.transfer[t]);
    jb.cm.data_optional = onnx; /* no data given: cli_data_for_model explains what to give */
    RUN(cli_load_data(&jb.cm, need_train ? &train : NULL, &test));
    double t0 = now_seconds(), err = NAN;
    if (onnx) { /* normalised (--mean/--std) before its input is compared with the data */
        RUN(model_load_onnx(jb.model, &net));
        RUN(cli_normalize(&jb.cm, jb.model, 1, &net));
        RUN(cli_data_for_model(&jb.cm, jb.model, net, 0, 1, &test));
    }
    if (nnp_dataset_labels(test) == NULL)
        USAGE("attacks need the true labels of the images: give --labels FILE (IDX or .npy), or "
              "class sub-directories for a directory of PNGs");
    if (jb.first >= nnp_dataset_count(test) || jb.count > nnp_dataset_count(test) - jb.first)
        USAGE("--first %zu --count %zu: the test set has %zu examples", jb.first, jb.count,
              nnp_dataset_count(test));
    if (nnp_dataset_class_count(test) < 2) {
        fprintf(stderr, PROG ": the test labels have a single class; nothing to attack\n");
        rc = CLI_FAILURE;
        goto done;
    }
    if (onnx) {
        RUN(model_check(jb.model, test, net));
    } else {
        RUN(model_get(jb.model, train, test, jb.epochs, jb.cm.seed, jb.cm.quiet, &net));
        RUN(cli_normalize(&jb.cm, jb.model, 0, &net)); /* refuses --mean/--std: trained here */
    }
    TRY("nnp_eval_error_rate",
        nnp_eval_error_rate(net, nnp_dataset_images(test), nnp_dataset_labels(test),
                            nnp_dataset_count(test), &err, NULL));
    printf("model        %s, %s in %.1f s, test error %.2f%%\n", jb.model,
           onnx ? "loaded" : "trained", now_seconds() - t0, 100 * err);
    for (size_t t = 0; t < jb.n_transfer; t++) {
        if (model_is_onnx(jb.transfer[t])) { /* the same normalisation as the attacked model */
            RUN(model_load_onnx(jb.transfer[t], &others[t]));
            RUN(cli_normalize(&jb.cm, jb.transfer[t], 1, &others[t]));
        } else {
            RUN(model_get(jb.transfer[t], train, test, jb.epochs, jb.cm.seed + 1 + t, jb.cm.quiet,
                          &others[t]));
        }
        if (nnp_net_input_size(others[t]) != nnp_net_input_size(net) ||
            nnp_net_output_size(others[t]) != nnp_net_output_size(net))
            USAGE("--transfer %s: %zu inputs and %zu outputs, the attacked model has %zu and %zu",
                  jb.transfer[t], nnp_net_input_size(others[t]), nnp_net_output_size(others[t]),
                  nnp_net_input_size(net), nnp_net_output_size(net));
    }
    rc = attack_and_report(&jb, net, others, test);
done:
    for (size_t t = 0; t < jb.n_transfer; t++) nnp_net_free(others[t]);
    nnp_net_free(net);
    nnp_dataset_free(train);
    nnp_dataset_free(test);
    return rc;
}
