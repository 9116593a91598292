/* nnprobe-lipschitz: how stable is the map? Builds a model (a preset or spec, trained briefly
 * on IDX data as nnprobe-train does, or left untrained with --untrained), then prints per layer
 * the paper's upper Lipschitz bound next to the exact operator norm of every linear layer
 * (nnp_lipschitz_bounds), and the whole-net bounds next to the empirical lower bound, the
 * largest Jacobian norm found at test points (nnp_lipschitz_lower).
 *
 * Exit status: 0 success, 1 library failure, 2 bad command line, 130 interrupted. */
#define _POSIX_C_SOURCE 200809L

#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nnprobe/nnprobe.h>

#include "cli.h"
#include "shard-file.h"
#include "model.h"
#include "netspec.h"

#define PROG "nnprobe-lipschitz"

static void print_help(void)
{
    printf("Usage: " PROG " [OPTION]... MODEL\n"
           "Per-layer upper Lipschitz bounds of a network (Szegedy et al. 2013, §4.3, Table 5) next\n"
           "to the exact operator norms of its linear layers, the whole-net bound (product of the\n"
           "per-layer bounds) and an empirical lower bound: the largest Jacobian norm ‖J(x)‖₂ at\n"
           "test points, by power iteration on JᵀJ.\n"
           "MODEL: a preset (fc10, fc100-100-10, fc200-200-10, cnn-small) or a spec such as\n"
           "784-c5x32p2r-m2-100r-10 (see nnprobe-train --help). The model is trained briefly on the\n"
           "IDX data unless --untrained is given.\n"
           "\n"
           "      --untrained           no data: weights from --seed; the lower bound uses uniform\n"
           "                            random points in [0,1] (input shape 1×s×s if the spec's\n"
           "                            input size is a square s², else 1×1×n)\n"
           CLI_HELP_DATA CLI_HELP_PROBE
           "      --limit N             train on the first N training examples (default 10000; 0 = all)\n"
           "      --epochs N            training epochs (default 1)\n"
           "      --seed N              seed of the weights, shuffling and start vectors (default 1)\n"
           "      --points N            points for the lower bound (default 100)\n"
           "      --norms FILE          write ||J(x)||_2 of each point as CSV (index,norm)\n");
    printf(CLI_HELP_SHARD
           "                            (the lower bound's points, into --norms; shards of --batch)\n"
           "      --batch N             points per batched pass of the lower bound (default 32)\n"
           "      --power-iters N       power-iteration steps per point (default 100)\n"
           "      --from L              lower bound of the block of layers L+1..last (the Jacobian\n"
           "                            of the logits with respect to layer L's output; default 0,\n"
           "                            the input), next to the product of that block's bounds\n"
           "      --tol T               relative accuracy of the exact norms (default 1e-6)\n"
           "      --max-iter N          Lanczos steps per layer (default 1000)\n"
           "      --grid N              Fourier grid N×N for the conv bounds (default: the padded\n"
           "                            input rounded up to a multiple of the stride)\n"
           "      --exact-only          skip the paper's Fourier bound of convolutions (most of\n"
           "                            their cost) and start their exact norms from a coarse\n"
           "                            grid: their bound and the upto column then read nan\n"
           "      --clever R            also a CLEVER-style ESTIMATE (not a bound) of the local\n"
           "                            Lipschitz constant of the margin between the predicted and\n"
           "                            the runner-up class in the L2 ball of radius R around the\n"
           "                            lower bound's point (50 batches of 128 sampled gradients,\n"
           "                            reverse Weibull fit), and its robustness score\n"
           CLI_HELP_QUIET CLI_HELP_HELP);
    printf("Columns: bound = the paper's rule for the layer (conv: Fourier formula on the grid\n"
           "shown, stride scale 1/Δ); exact = operator norm of the linear layer as applied (zero\n"
           "padding, stride), with its Lanczos steps (each one A and one Aᵀ application) and the\n"
           "estimated relative accuracy; upto = bound of input → this layer (product of bounds,\n"
           "sums over residual branches), upto.ex = the same with exact norms.\n"
           CLI_HELP_PROGRESS CLI_HELP_EXIT);
}

/* The options stored by the table (cli_next_option). */
typedef struct args {
    size_t limit, epochs, points, power, max_iter, grid, from, batch;
    int untrained, exact_only;
    const char *norms;
} args;
#define F(field) offsetof(args, field)
static const cli_table_opt TABLE[] = {
    {"limit", CLI_SIZE, 0, 1, {F(limit)}},         {"epochs", CLI_SIZE, 1, 1, {F(epochs)}},
    {"points", CLI_SIZE, 1, 1, {F(points)}},       {"power-iters", CLI_SIZE, 1, 1, {F(power)}},
    {"max-iter", CLI_SIZE, 1, 1, {F(max_iter)}},   {"grid", CLI_SIZE, 1, 1, {F(grid)}},
    {"from", CLI_SIZE, 0, 1, {F(from)}},           {"untrained", CLI_FLAG, 1, 1, {F(untrained)}},
    {"exact-only", CLI_FLAG, 1, 1, {F(exact_only)}}, {"norms", CLI_STRING, 0, 1, {F(norms)}},
    {"batch", CLI_SIZE, 1, 1, {F(batch)}},
};
#undef F
enum { OPT_TOL = CLI_OPT_OWN, OPT_CLEVER };
static const struct option OWN[] = {
    {"tol", required_argument, NULL, OPT_TOL}, {"clever", required_argument, NULL, OPT_CLEVER},
    CLI_LONG_SHARD, {NULL, 0, NULL, 0},
};
static const cli_options OPTIONS = {CLI_DATA_DIR, TABLE, sizeof TABLE / sizeof *TABLE, OWN, 1};

/* --norms: ‖J(x_i)‖₂ of each point, "index,norm" (%.17g: the double exactly); a shard file
 * (shard != NULL) starts with the shard header. Returns 0, or 1 after a message. */
static int write_norms(const char *path, const shard_info *shard, const double *norms,
                       size_t first, size_t n)
{
    cli_out o;
    FILE *f = cli_out_open(&o);
    if (!f) return 1;
    if (shard) shard_header_print(f, shard);
    fputs("index,norm\n", f);
    for (size_t i = 0; i < n; i++) fprintf(f, "%zu,%.17g\n", first + i, norms[i]);
    return cli_out_commit(&o, path) ? 1 : 0;
}

static void shape_text(const nnp_layer_info *li, char *buf, size_t len)
{
    if (li->height == 1 && li->width == 1) snprintf(buf, len, "%zu", li->channels);
    else snprintf(buf, len, "%zux%zux%zu", li->channels, li->height, li->width);
}

int main(int argc, char **argv)
{
    cli_set_prog(PROG);
    const char *model;
    args a = {.limit = 10000, .epochs = 1, .points = 100, .power = 100, .max_iter = 1000};
    size_t L, n_pts = 0, argmax = 0;
    double tol = 1e-6, lower = 0.0, test_err = NAN, clever = 0.0;
    int c, stop = -1, rc = CLI_FAILURE;
    cli_common cm;
    nnp_dataset *train = NULL, *sub = NULL, *test = NULL;
    nnp_net *net = NULL;
    nnp_lipschitz_info *info = NULL;
    float *pts = NULL;
    double *norms = NULL;
    nnp_lipschitz_opts lopts;
    cli_progress prog;
    nnp_status s;
    nnp_layer_info in0 = {.size = sizeof in0};
    cli_common_init(&cm);
    TRY("nnp_lipschitz_opts_init", nnp_lipschitz_opts_init(&lopts));
    while ((c = cli_next_option(argc, argv, &OPTIONS, &cm, &a, &stop)) != -1) {
        int bad = 0;
        switch (c) {
        case OPT_TOL:
            if ((bad = parse_double("--tol", optarg, &tol)) == 0 && !(tol > 0.0 && tol <= 0.1)) {
                usage_error("--tol: expected a number in (0, 0.1], got '%s'", optarg);
                bad = 1;
            }
            break;
        case OPT_CLEVER:
            if ((bad = parse_double("--clever", optarg, &clever)) == 0 && !(clever > 0.0)) {
                usage_error("--clever: expected a radius > 0, got '%s'", optarg);
                bad = 1;
            }
            break;
        case 'h': print_help(); return CLI_OK;
        }
        if (bad) return CLI_USAGE;
    }
    if (stop >= 0) return stop;
    if (cm.shard_count && (!a.norms || clever > 0.0))
        USAGE("--shard: writes the lower bound's norms (--norms FILE), without --clever");
    RUN(cli_check_outputs(1, "--norms", a.norms));
    if (a.batch) lopts.batch_size = a.batch;
    if (a.exact_only) lopts.paper_bound = 0;
    if (optind == argc) USAGE("missing MODEL (a preset such as cnn-small, or e.g. 784-100s-10)");
    if (argc - optind > 1) USAGE("one MODEL expected, got also '%s'", argv[optind + 1]);
    model = argv[optind];
    const int onnx = model_is_onnx(model);
    if (onnx && a.untrained) USAGE("--untrained applies to presets and specs, not to '%s'", model);
    cli_catch_sigint();

    /* The model: an ONNX file, untrained from the seed, or trained briefly on the data
     * (model.c). */
    if (a.untrained) {
        RUN(model_build(model, cm.seed, &net));
    } else {
        cm.data_optional = onnx; /* no data given: random points if the default does not fit */
        RUN(cli_load_data(&cm, onnx ? NULL : &train, &test));
        if (!onnx && a.limit > 0 && a.limit < nnp_dataset_count(train))
            TRY("--limit", nnp_dataset_subset(train, 0, a.limit, &sub));
        RUN(onnx ? model_load_onnx(model, &net)
                 : model_train(model, sub ? sub : train, a.epochs, cm.seed, cm.quiet, &net));
        RUN(cli_normalize(&cm, model, onnx, &net));
        if (onnx) RUN(cli_data_for_model(&cm, model, net, a.points, 0, &test));
        if (nnp_net_input_size(net) != nnp_dataset_example_size(test))
            USAGE("model '%s' takes %zu inputs, the test images have %zu values", model,
                  nnp_net_input_size(net), nnp_dataset_example_size(test));
        if (nnp_dataset_labels(test) != NULL) /* random points or --data without --labels */
            TRY("evaluating", nnp_eval_error_rate(net, nnp_dataset_images(test),
                                                  nnp_dataset_labels(test),
                                                  nnp_dataset_count(test), &test_err, NULL));
    }
    TRY("nnp_net_layer_info", nnp_net_layer_info(net, 0, &in0));
    const netspec_preset *pre = onnx ? NULL : netspec_find_preset(model);
    if (onnx)
        printf("model        %s (ONNX, %zu parameters, input %zux%zux%zu)\n", model,
               nnp_net_param_count(net), in0.channels, in0.height, in0.width);
    else
        printf("model        %s%s%s (%zu parameters, input %zux%zux%zu), ", model,
               pre ? " = " : "", pre ? pre->spec : "", nnp_net_param_count(net), in0.channels,
               in0.height, in0.width);
    if (a.untrained) printf("untrained, seed %" PRIu64 "\n", cm.seed);
    else if (!onnx)
        printf("trained %zu epoch%s on %zu examples, seed %" PRIu64 "\n", a.epochs,
               a.epochs == 1 ? "" : "s", nnp_dataset_count(sub ? sub : train), cm.seed);
    if (!a.untrained && !isnan(test_err)) printf("test error   %.2f%%\n", 100.0 * test_err);

    /* Per-layer bounds and exact norms. */
    L = nnp_net_layer_count(net);
    if (!(info = calloc(L, sizeof *info))) TRY("allocating", NNP_ENOMEM);
    for (size_t i = 0; i < L; i++) info[i].size = sizeof *info;
    lopts.tol = tol;
    lopts.max_iter = a.max_iter;
    lopts.fourier_grid_h = lopts.fourier_grid_w = a.grid;
    lopts.power_iters = a.power;
    lopts.seed = cm.seed;
    lopts.progress = cli_progress_cb;
    lopts.progress_user = cli_progress_start(&prog, "bounds", cm.quiet);
    s = nnp_lipschitz_bounds(net, &lopts, info, L);
    cli_progress_end(&prog);
    TRY("nnp_lipschitz_bounds", s);
    printf("\n%5s %-14s %-10s %6s %-7s %11s %11s %6s %8s %11s %11s\n", "layer", "kind", "shape",
           "stride", "grid", "bound", "exact", "iters", "accuracy", "upto", "upto.ex");
    for (size_t i = 1; i < L; i++) {
        nnp_layer_info li = {.size = sizeof li};
        char shape[64], stride[48] = "", grid_s[48] = "", exact[32] = "", iters[32] = "", acc[32] = "";
        TRY("nnp_net_layer_info", nnp_net_layer_info(net, i, &li));
        shape_text(&li, shape, sizeof shape);
        const nnp_lipschitz_info *r = &info[i];
        if (r->stride_h != 1 || r->stride_w != 1 || li.kind == NNP_LAYER_CONV2D ||
            li.kind == NNP_LAYER_MAXPOOL || li.kind == NNP_LAYER_AVGPOOL)
            snprintf(stride, sizeof stride, r->stride_h == r->stride_w ? "%zu" : "%zux%zu",
                     r->stride_h, r->stride_w);
        if (r->grid_h) snprintf(grid_s, sizeof grid_s, "%zux%zu", r->grid_h, r->grid_w);
        if (!isnan(r->exact)) snprintf(exact, sizeof exact, "%.6g", r->exact);
        if (r->iterations) {
            snprintf(iters, sizeof iters, "%zu", r->iterations);
            snprintf(acc, sizeof acc, "%.1e%s", r->accuracy, r->converged ? "" : "!");
        }
        printf("%5zu %-14s %-10s %6s %-7s %11.6g %11s %6s %8s %11.5g %11.5g\n", i,
               nnp_layer_kind_name(li.kind), shape, stride, grid_s, r->bound, exact, iters, acc,
               r->upper_to, r->upper_to_exact);
    }
    for (size_t i = 1; i < L; i++)
        if (!info[i].converged && !isnan(info[i].exact))
            printf("note         layer %zu did not reach --tol %g in %zu steps ('!')\n", i, tol,
                   a.max_iter);

    /* Empirical lower bound at test points (or random points when untrained). */
    if (a.untrained) {
        n_pts = a.points;
        const size_t in = nnp_net_input_size(net);
        if (!(pts = malloc(n_pts * in * sizeof *pts))) TRY("allocating", NNP_ENOMEM);
        uint64_t st = cm.seed * 2654435761u + 1;
        for (size_t i = 0; i < n_pts * in; i++) { /* splitmix-style stream, uniform in [0,1) */
            uint64_t z = (st += 0x9e3779b97f4a7c15ull);
            z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
            z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
            pts[i] = (float)((z ^ (z >> 31)) >> 40) / 16777216.0f;
        }
    } else {
        n_pts = a.points < nnp_dataset_count(test) ? a.points : nnp_dataset_count(test);
    }
    if (a.from >= L - 1) USAGE("--from: %zu, but the last layer is %zu", a.from, L - 1);
    lopts.lower_from = a.from;
    /* a shard: its slice of the points (the random ones are drawn for all, then sliced) */
    static const char *const outputs[] = {"--norms", NULL};
    shard_info sh = {.index = cm.shard_index, .count = cm.shard_count, .total = n_pts,
                     .granule = lopts.batch_size, .run = shard_run_hash(argc, argv, outputs),
                     .complete = 1};
    snprintf(sh.program, sizeof sh.program, PROG);
    size_t p0 = 0, np = n_pts;
    if (cm.shard_count) {
        if (shard_locate(&sh)) goto done;
        p0 = sh.first, np = sh.length;
        lopts.first_index = p0; /* start vectors and argmax by the point's global index */
        printf("shard        %zu/%zu: points %zu..%zu of %zu\n", sh.index, sh.count, p0, p0 + np,
               n_pts);
    }
    if (!(norms = malloc((np ? np : 1) * sizeof *norms))) TRY("allocating", NNP_ENOMEM);
    cli_progress_start(&prog, "lower bound", cm.quiet);
    const size_t in_size = nnp_net_input_size(net);
    s = np == 0 ? NNP_OK
                : nnp_lipschitz_lower(net, (a.untrained ? pts : nnp_dataset_images(test)) +
                                               p0 * in_size, np, L - 1, &lopts, norms, &lower,
                                      &argmax);
    cli_progress_end(&prog);
    TRY("nnp_lipschitz_lower", s);
    if (a.norms && write_norms(a.norms, cm.shard_count ? &sh : NULL, norms, p0, np)) goto done;
    if (cm.shard_count) { /* a shard is its norms; nnprobe-merge makes the whole */
        printf("norms        %s (shard %zu/%zu)\n", a.norms, sh.index, sh.count);
        rc = CLI_OK;
        goto done;
    }
    printf("\nwhole net    upper bound (product of the paper's bounds)  %.6g\n", info[L - 1].upper_to);
    printf("             upper bound (exact norms of linear layers)   %.6g\n",
           info[L - 1].upper_to_exact);
    if (a.from == 0) {
        printf("             lower bound max ‖J(x)‖₂ over %zu %s points %.6g (point %zu)\n", n_pts,
               a.untrained || cm.random_data ? "random" : "test", lower, argmax);
        printf("             gap: product / lower = %.3g, exact product / lower = %.3g\n",
               info[L - 1].upper_to / lower, info[L - 1].upper_to_exact / lower);
    } else { /* a chain (what specs build): the block's product is a ratio of upto values */
        const double up = info[L - 1].upper_to / info[a.from].upper_to;
        const double upx = info[L - 1].upper_to_exact / info[a.from].upper_to_exact;
        printf("block        layers %zu..%zu: product of bounds %.6g, of exact norms %.6g\n",
               a.from + 1, L - 1, up, upx);
        printf("             lower bound max ‖J‖₂ (logits w.r.t. layer %zu) over %zu %s points "
               "%.6g (point %zu)\n", a.from, n_pts, a.untrained || cm.random_data ? "random" : "test", lower, argmax);
        printf("             gap: product / lower = %.3g, exact product / lower = %.3g\n",
               up / lower, upx / lower);
    }
    if (clever > 0.0) { /* the margin of the lower bound's point: predicted vs runner-up */
        const size_t in = nnp_net_input_size(net), classes = nnp_net_output_size(net);
        const float *xp = (a.untrained ? pts : nnp_dataset_images(test)) + argmax * in;
        double est = 0.0, mx = 0.0, score = 0.0;
        float z[4096];
        if (classes < 2 || classes > 4096) {
            printf("clever       skipped: needs 2..4096 classes\n");
        } else {
            TRY("nnp_net_forward", nnp_net_forward(net, NULL, xp, 1, z));
            size_t c1 = 0, c2 = 1;
            for (size_t k = 0; k < classes; k++)
                if (z[k] > z[c1]) c1 = k;
            c2 = c1 == 0 ? 1 : 0;
            for (size_t k = 0; k < classes; k++)
                if (k != c1 && z[k] > z[c2]) c2 = k;
            cli_progress_start(&prog, "clever", cm.quiet);
            s = nnp_lipschitz_clever(net, xp, (int32_t)c1, (int32_t)c2, clever, &lopts, &est, &mx,
                                     &score);
            cli_progress_end(&prog);
            TRY("nnp_lipschitz_clever", s);
            printf("clever       ESTIMATE (not a bound) at point %zu, class %zu vs %zu, L2 radius %g:\n"
                   "             local Lipschitz of the margin ≈ %.6g (largest sampled gradient "
                   "%.6g), score %.4g\n", argmax, c1, c2, clever, est, mx, score);
        }
    }
    rc = CLI_OK;
done:
    free(info);
    free(pts);
    free(norms);
    nnp_net_free(net);
    nnp_dataset_free(sub);
    nnp_dataset_free(test);
    nnp_dataset_free(train);
    return rc;
}
