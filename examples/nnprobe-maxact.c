/* nnprobe-maxact: what does a unit mean? (Szegedy et al. 2013, §3; docs/paper.md §1.)
 * For a layer of a classifier and several directions v (natural basis vectors e_i, or random
 * unit directions), find the held-out images x with the largest ⟨φ(x), v⟩ in one pass over the
 * test set (nnp_maxact_search), optimise an input in [0,1] for each direction
 * (nnp_maxact_optimise), print the labels of each row's top images, and draw the montage of
 * the paper's Figures 1–2: one row per direction, its top-k images, then its optimised input.
 *
 * The model is an ONNX file, or is trained here, briefly, from a preset or spec
 * (examples/netspec.h) on the training files; the search runs on the test files (the paper's
 * held-out set I).
 *
 * Exit status: 0 success, 1 library failure, 2 bad command line, 130 interrupted. */
#define _POSIX_C_SOURCE 200809L

#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <nnprobe/nnprobe.h>

#include "cli.h"
#include "figure.h"
#include "model.h"
#include "netspec.h"
#include "shard-file.h"

#define PROG "nnprobe-maxact"
#define DEFAULT_MODEL "fc100-100-10"
#define MAX_DIRS 1024

static int is_directory(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Mean over channels of one c×h×w example into tile (h×w): the montage is grey. */
static void grey_tile(const float *x, size_t c, size_t h, size_t w, float *tile)
{
    for (size_t j = 0; j < h * w; j++) {
        float sum = 0;
        for (size_t ch = 0; ch < c; ch++) sum += x[ch * h * w + j];
        tile[j] = sum / (float)c;
    }
}

static void print_help(void)
{
    printf("Usage: " PROG " [OPTION]... [MODEL] [DATA] --layer L (--unit I[,J...] | --random-directions N)\n"
           "Find the test images that maximise <phi_L(x), v> for natural-basis or random\n"
           "directions v of layer L (Szegedy et al. 2013, section 3: Figures 1-2), optimise an\n"
           "input in [0,1] for each direction, print the labels of each row's top images and\n"
           "optionally draw the montage: one row per direction, its top-k images, then (after a\n"
           "gap) its optimised input.\n"
           "\n"
           "MODEL  a preset (trained here briefly on the training files) or a spec such as\n"
           "       784-100s-100s-10 (see nnprobe-train --help); default " DEFAULT_MODEL ".\n"
           "       An ONNX file (*.onnx) is loaded instead of trained.\n"
           "DATA   a directory with the four Fashion-MNIST-named IDX files (default\n"
           "       " CLI_DEFAULT_DATA_DIR "). With one argument: DATA if it is a directory,\n"
           "       else MODEL.\n"
           "\n"
           "      --layer L             layer 1..layers-1 (the output lists them; so does an\n"
           "                            out-of-range L)\n"
           "      --unit I[,J...]       one row per unit i: v = e_i\n"
           "      --random-directions N N rows of random unit directions (from --seed)\n"
           "      --top K               images per row (default 8)\n"
           "      --png FILE            write the montage as a PNG\n"
           "      --lists FILE          write each row's top list as CSV (direction,rank,index,\n"
           "                            score; scores exact to the float)\n"
           CLI_HELP_SHARD
           "                            (search only, into --lists; shards of --batch images)\n"
           "      --batch N             test images per forward pass of the search (default 256)\n"
           "      --scale S             pixels per image pixel in the PNG (default 2)\n"
           CLI_HELP_FILES CLI_HELP_PROBE
           "      --limit N             train on the first N training examples (default 10000; 0 = all)\n"
           "      --epochs N            training epochs (default 1)\n"
           "      --seed N              seed of weights, shuffling, directions, optimisation (default 1)\n"
           "      --steps N             optimisation steps (default 200; 0 = no optimisation)\n"
           "      --step-size X         optimisation step in RMS pixel units (default 0.05)\n"
           "      --l2 X                weight of the L2 penalty lambda*sum x^2 (default 0.0001)\n"
           "      --tv X                weight of the total-variation penalty (default 0.001)\n"
           "      --jitter N            random shift of up to N pixels per step (default 1;\n"
           "                            0 for inputs smaller than 2x2)\n"
           CLI_HELP_QUIET CLI_HELP_HELP CLI_HELP_PROGRESS CLI_HELP_EXIT);
}

/* The options stored by the table (cli_next_option). */
typedef struct args {
    const char *png, *lists;
    size_t layer, n_random, k, scale, limit, epochs, steps, batch;
} args;
#define F(field) offsetof(args, field)
static const cli_table_opt TABLE[] = {
    {"layer", CLI_SIZE, 1, 1, {F(layer)}},  {"random-directions", CLI_SIZE, 1, 1, {F(n_random)}},
    {"top", CLI_SIZE, 1, 1, {F(k)}},        {"png", CLI_STRING, 0, 1, {F(png)}},
    {"scale", CLI_SIZE, 1, 1, {F(scale)}},  {"limit", CLI_SIZE, 0, 1, {F(limit)}},
    {"epochs", CLI_SIZE, 1, 1, {F(epochs)}}, {"steps", CLI_SIZE, 0, 1, {F(steps)}},
    {"lists", CLI_STRING, 0, 1, {F(lists)}}, {"batch", CLI_SIZE, 1, 1, {F(batch)}},
};
#undef F
enum { OPT_UNIT = CLI_OPT_OWN, OPT_STEP_SIZE, OPT_L2, OPT_TV, OPT_JITTER };
static const struct option OWN[] = {
    {"unit", required_argument, NULL, OPT_UNIT},
    {"step-size", required_argument, NULL, OPT_STEP_SIZE}, {"l2", required_argument, NULL, OPT_L2},
    {"tv", required_argument, NULL, OPT_TV}, {"jitter", required_argument, NULL, OPT_JITTER},
    CLI_LONG_SHARD, {NULL, 0, NULL, 0},
};
static const cli_options OPTIONS = {CLI_DATA_FILES, TABLE, sizeof TABLE / sizeof *TABLE, OWN, 1};

/* --lists: row d's top list, one line per entry (direction,rank,index,score; %.9g gives a
 * float back exactly). A shard file (shard != NULL) has the shard header first and all k
 * entries of every row, "-" for an empty one, so that nnprobe-merge knows k. Returns 0, or 1
 * after a message. */
static int write_lists(const char *path, const shard_info *shard, const size_t *index,
                       const float *score, size_t n_dir, size_t k, size_t found)
{
    cli_out o;
    FILE *f = cli_out_open(&o);
    if (!f) return 1;
    if (shard) shard_header_print(f, shard);
    fputs("direction,rank,index,score\n", f);
    for (size_t d = 0; d < n_dir; d++)
        for (size_t j = 0; j < (shard ? k : found); j++) {
            if (index[d * k + j] == SIZE_MAX) fprintf(f, "%zu,%zu,-,nan\n", d, j);
            else fprintf(f, "%zu,%zu,%zu,%.9g\n", d, j, index[d * k + j], (double)score[d * k + j]);
        }
    return cli_out_commit(&o, path) ? 1 : 0;
}

int main(int argc, char **argv)
{
    cli_set_prog(PROG);
    static size_t units[MAX_DIRS];
    const char *model = DEFAULT_MODEL;
    args a = {.limit = 10000, .k = 8, .scale = 2, .epochs = 1, .steps = 200, .batch = 256};
    size_t n_units = 0, jitter = 1;
    double step_size = 0.05, l2 = 0.0001, tv = 0.001;
    int c, stop = -1, rc = CLI_FAILURE, jitter_set = 0, cancelled = 0;
    cli_common cm;
    cli_progress prog;
    nnp_status s;
    nnp_dataset *train = NULL, *sub = NULL, *test = NULL, *part = NULL;
    nnp_net *net = NULL;
    nnp_workspace *ws = NULL;
    float *dirs = NULL, *top_score = NULL, *xopt = NULL, *oscore = NULL, *tile = NULL;
    size_t *top_index = NULL;
    figure fig = {0};
    nnp_layer_info info = {.size = sizeof info};
    cli_common_init(&cm);
    while ((c = cli_next_option(argc, argv, &OPTIONS, &cm, &a, &stop)) != -1) {
        int bad = 0;
        switch (c) {
        case OPT_UNIT: bad = parse_index_list("--unit", optarg, MAX_DIRS, units, &n_units); break;
        case OPT_STEP_SIZE: bad = parse_double_min("--step-size", optarg, 0, &step_size); break;
        case OPT_L2: bad = parse_double_min("--l2", optarg, 0, &l2); break;
        case OPT_TV: bad = parse_double_min("--tv", optarg, 0, &tv); break;
        case OPT_JITTER: bad = parse_size("--jitter", optarg, 0, &jitter); jitter_set = 1; break;
        case 'h': print_help(); return CLI_OK;
        }
        if (bad) return CLI_USAGE;
    }
    if (stop >= 0) return stop;
    if (argc - optind > 2) USAGE("at most MODEL and DATA expected, got also '%s'", argv[optind + 2]);
    if (argc - optind == 2) {
        model = argv[optind];
        cm.data_dir = argv[optind + 1];
        cm.data_given = 1;
    } else if (argc - optind == 1) {
        if (is_directory(argv[optind])) cm.data_dir = argv[optind], cm.data_given = 1;
        else model = argv[optind];
    }
    if (a.layer == 0) USAGE("missing --layer L"); /* --layer is at least 1 */
    if ((n_units > 0) == (a.n_random > 0)) USAGE("give one of --unit I[,J...] and --random-directions N");
    if (a.n_random > MAX_DIRS) USAGE("--random-directions: at most %d", MAX_DIRS);
    if (!(step_size > 0)) USAGE("--step-size: must be > 0");
    if (cm.shard_count && (!a.lists || a.png))
        USAGE("--shard: runs the search only, into --lists FILE (no --png)");
    RUN(cli_check_outputs(2, "--png", a.png, "--lists", a.lists)); /* before the work */
    static const char *const outputs[] = {"--png", "--lists", NULL};
    shard_info sh = {.index = cm.shard_index, .count = cm.shard_count, .granule = a.batch,
                     .run = shard_run_hash(argc, argv, outputs), .complete = 1};
    snprintf(sh.program, sizeof sh.program, PROG);
    const int onnx = model_is_onnx(model);
    const netspec_preset *pre = onnx ? NULL : netspec_find_preset(model);
    cli_catch_sigint();

    /* Data: train briefly on the training files (model.c), search the held-out test files; an
     * ONNX model needs no training set, and without data options it is probed at random points
     * when the default data do not fit it (cli_data_for_model). */
    cm.data_optional = onnx;
    RUN(cli_load_data(&cm, onnx ? NULL : &train, &test));
    if (onnx) {
        RUN(model_load_onnx(model, &net));
        RUN(cli_normalize(&cm, model, 1, &net));
        RUN(cli_data_for_model(&cm, model, net, 256, 0, &test));
    }
    const size_t n_train = nnp_dataset_count(train), n_test = nnp_dataset_count(test);
    const size_t in = nnp_dataset_example_size(test);
    size_t ch, hh, ww;
    TRY("nnp_dataset_shape", nnp_dataset_shape(test, &ch, &hh, &ww));
    if (!jitter_set && (hh < 2 || ww < 2)) jitter = 0;
    if (jitter > 0 && (jitter >= hh || jitter >= ww))
        USAGE("--jitter: %zu, must be smaller than the image height %zu and width %zu", jitter, hh, ww);
    if (a.limit == 0 || a.limit > n_train) a.limit = n_train;
    if (!onnx && a.limit < n_train) TRY("--limit", nnp_dataset_subset(train, 0, a.limit, &sub));
    if (onnx) printf("model        %s (ONNX)\n", model);
    else
        printf("model        %s%s%s, trained %zu epoch%s on %zu examples, seed %" PRIu64 "\n",
               model, pre ? " = " : "", pre ? pre->spec : "", a.epochs, a.epochs == 1 ? "" : "s",
               a.limit, cm.seed);
    fflush(stdout);
    if (!onnx) {
        RUN(model_train(model, sub ? sub : train, a.epochs, cm.seed, cm.quiet, &net));
        RUN(cli_normalize(&cm, model, 0, &net)); /* refuses --mean/--std: trained here */
    }
    rc = CLI_FAILURE;
    if (nnp_net_input_size(net) != in)
        USAGE("model '%s' takes %zu inputs, the test images have %zu values", model,
              nnp_net_input_size(net), in);
    double test_err = NAN;
    if (nnp_dataset_labels(test) != NULL)
        TRY("evaluating", nnp_eval_error_rate(net, nnp_dataset_images(test),
                                              nnp_dataset_labels(test), n_test, &test_err, NULL));
    const size_t L = nnp_net_layer_count(net);
    if (a.layer >= L) {
        fprintf(stderr, PROG ": layers of the model:\n");
        for (size_t l = 1; l < L; l++)
            if (nnp_net_layer_info(net, l, &info) == NNP_OK)
                fprintf(stderr, "  %2zu %-16s %zu units\n", l, nnp_layer_kind_name(info.kind),
                        info.output_size);
        USAGE("--layer: %zu, but the model has layers 1..%zu", a.layer, L - 1);
    }
    TRY("nnp_net_layer_info", nnp_net_layer_info(net, a.layer, &info));
    const size_t dim = info.output_size, n_dir = n_units ? n_units : a.n_random;
    for (size_t d = 0; d < n_units; d++)
        if (units[d] >= dim) USAGE("--unit: %zu, but layer %zu has units 0..%zu", units[d], a.layer, dim - 1);

    /* Directions: rows of e_i or random unit vectors. */
    dirs = malloc(n_dir * dim * sizeof *dirs);
    top_index = malloc(n_dir * a.k * sizeof *top_index);
    top_score = malloc(n_dir * a.k * sizeof *top_score);
    xopt = malloc(n_dir * in * sizeof *xopt);
    oscore = malloc(n_dir * sizeof *oscore);
    tile = malloc(hh * ww * sizeof *tile);
    if (!dirs || !top_index || !top_score || !xopt || !oscore || !tile) TRY("allocating", NNP_ENOMEM);
    for (size_t d = 0; d < n_units; d++)
        TRY("nnp_maxact_directions_unit", nnp_maxact_directions_unit(dim, units[d], dirs + d * dim));
    if (a.n_random) TRY("nnp_maxact_directions_random", nnp_maxact_directions_random(dim, a.n_random, cm.seed, dirs));

    /* One pass over the test set for all directions; the optimisation reuses the workspace. */
    TRY("nnp_workspace_create", nnp_workspace_create(net, 256, &ws));
    size_t found;
    nnp_maxact_search_opts so;
    TRY("nnp_maxact_search_opts_init", nnp_maxact_search_opts_init(&so));
    so.batch_size = a.batch;
    so.progress = cli_progress_cb;
    so.progress_user = cli_progress_start(&prog, "search", cm.quiet);
    if (cm.shard_count) { /* the shard's test images; their indices stay global */
        sh.total = n_test;
        if (shard_locate(&sh)) goto done;
        if (sh.length) TRY("nnp_dataset_subset", nnp_dataset_subset(test, sh.first, sh.length, &part));
        so.first_index = sh.first;
        printf("shard        %zu/%zu: test images %zu..%zu of %zu\n", sh.index, sh.count, sh.first,
               sh.first + sh.length, n_test);
    }
    s = NNP_OK;
    found = 0;
    for (size_t j = 0; j < n_dir * a.k; j++) top_index[j] = SIZE_MAX; /* an empty shard's lists */
    if (!cm.shard_count || sh.length)
        s = nnp_maxact_search(net, ws, part ? part : test, a.layer, dirs, n_dir, a.k, &so,
                              top_index, top_score, NULL, NULL, &found);
    cli_progress_end(&prog);
    TRY("nnp_maxact_search", s);
    if (a.lists && write_lists(a.lists, cm.shard_count ? &sh : NULL, top_index, top_score, n_dir,
                               a.k, found))
        goto done;
    if (cm.shard_count) { /* a shard is its lists; nnprobe-merge makes the whole */
        printf("lists        %s (shard %zu/%zu)\n", a.lists, sh.index, sh.count);
        rc = CLI_OK;
        goto done;
    }
    if (a.steps > 0) {
        nnp_maxact_optimise_opts oo;
        TRY("nnp_maxact_optimise_opts_init", nnp_maxact_optimise_opts_init(&oo));
        oo.steps = a.steps;
        oo.step_size = step_size;
        oo.l2 = l2;
        oo.tv = tv;
        oo.jitter = jitter;
        oo.seed = cm.seed;
        oo.progress = cli_progress_cb;
        oo.progress_user = cli_progress_start(&prog, "optimise", cm.quiet);
        s = nnp_maxact_optimise(net, ws, a.layer, dirs, n_dir, &oo, xopt, oscore, NULL);
        cli_progress_end(&prog);
        if (s == NNP_ECANCELLED) { /* Ctrl-C: report the search and the inputs of the steps done */
            fprintf(stderr, PROG ": interrupted: the optimised inputs are those of the steps done\n");
            for (size_t d = 0; d < n_dir; d++) oscore[d] = NAN; /* untouched by a cancelled call */
            cancelled = 1;
        } else TRY("nnp_maxact_optimise", s);
    }

    printf("data         %zu training, %zu test examples of %zux%zux%zu (%s)\n", n_train, n_test,
           ch, hh, ww, cm.random_data ? "random points" : cm.path[2]);
    if (!isnan(test_err)) printf("test error   %.2f%%\n", 100.0 * test_err);
    printf("layers      ");
    for (size_t l = 1; l < L; l++) {
        nnp_layer_info li = {.size = sizeof li};
        if (nnp_net_layer_info(net, l, &li) == NNP_OK)
            printf(" %zu:%s(%zu)", l, nnp_layer_kind_name(li.kind), li.output_size);
    }
    printf("\n");
    printf("layer        %zu (%s, %zu units)\n", a.layer, nnp_layer_kind_name(info.kind), dim);
    printf("directions   %zu %s\n", n_dir, n_units ? "natural basis vectors e_i" :
           "random unit directions (Gaussian, normalised)");
    if (a.steps > 0)
        printf("optimised    %zu steps of %g, L2 %g, TV %g, jitter %zu\n", a.steps, step_size, l2, tv, jitter);
    printf("\n%4s %-12s %10s %10s  %-6s %s\n", "row", "direction", "top score", "optimised",
           "agree", "labels (test indices) of the top images");
    const int32_t *labels = nnp_dataset_labels(test);
    double agree_sum = 0;
    size_t n_tied = 0;
    for (size_t d = 0; d < n_dir; d++) {
        char name[48];
        if (n_units) snprintf(name, sizeof name, "unit %zu", units[d]);
        else snprintf(name, sizeof name, "random %zu", d);
        /* agreement: how many of the top images share the most common label */
        size_t best = 0;
        for (size_t j = 0; labels && j < found; j++) {
            size_t same = 0;
            for (size_t m = 0; m < found; m++) same += labels[top_index[d * a.k + m]] == labels[top_index[d * a.k + j]];
            if (same > best) best = same;
        }
        /* all top scores equal (e.g. a dead ReLU): the order is just the index order */
        int tied = found > 1 && top_score[d * a.k] == top_score[d * a.k + found - 1];
        char agree[48] = "-";
        if (tied) {
            snprintf(agree, sizeof agree, "tied");
            n_tied++;
        } else if (labels) {
            snprintf(agree, sizeof agree, "%zu/%zu", best, found);
            agree_sum += (double)best / (double)found;
        }
        printf("%4zu %-12s %10.4g ", d, name, (double)top_score[d * a.k]);
        if (a.steps > 0) printf("%10.4g  ", (double)oscore[d]);
        else printf("%10s  ", "-");
        printf("%-6s", agree);
        for (size_t j = 0; j < found; j++) {
            size_t i = top_index[d * a.k + j];
            if (labels) printf(" %d(%zu)", (int)labels[i], i);
            else printf(" %zu", i);
        }
        printf("\n");
    }
    if (labels && n_tied < n_dir)
        printf("\nmean agree   %.3f (fraction of a row's top %zu sharing its most common label)\n",
               agree_sum / (double)(n_dir - n_tied), found);
    if (n_tied)
        printf("tied rows    %zu (every top score equal, e.g. a dead unit: left out of the mean)\n",
               n_tied);

    if (a.png) { /* rows of `found` tiles, a gap, the optimised input; mid-grey background */
        const size_t tw = ww * a.scale, th = hh * a.scale, pad = a.scale, gap = 4 * a.scale;
        const size_t cols = found + (a.steps > 0);
        const size_t width = pad + cols * (tw + pad) + (a.steps > 0 ? gap : 0);
        const size_t height = pad + n_dir * (th + pad);
        if (figure_init(&fig, width, height, 0.5f) != 0) goto done;
        for (size_t d = 0; d < n_dir; d++) {
            const size_t y0 = pad + d * (th + pad);
            for (size_t j = 0; j < found; j++) {
                grey_tile(nnp_dataset_images(test) + top_index[d * a.k + j] * in, ch, hh, ww, tile);
                figure_put(&fig, pad + j * (tw + pad), y0, tile, ww, hh, a.scale, 1.0f, 0.0f);
            }
            if (a.steps > 0) {
                grey_tile(xopt + d * in, ch, hh, ww, tile);
                figure_put(&fig, pad + found * (tw + pad) + gap, y0, tile, ww, hh, a.scale, 1.0f, 0.0f);
            }
        }
        if (figure_write_png(&fig, a.png) != 0) goto done;
        printf("png          %s: %zu rows of %zu top images%s, %zux%zu pixels\n", a.png, n_dir, found,
               a.steps > 0 ? " and the optimised input" : "", width, height);
    }
    rc = cancelled ? CLI_INTERRUPTED : CLI_OK;
done:
    figure_free(&fig);
    nnp_workspace_free(ws);
    free(dirs);
    free(top_index);
    free(top_score);
    free(xopt);
    free(oscore);
    free(tile);
    nnp_net_free(net);
    nnp_dataset_free(sub);
    nnp_dataset_free(part);
    nnp_dataset_free(test);
    nnp_dataset_free(train);
    return rc;
}
