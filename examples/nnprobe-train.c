/* nnprobe-train: train a feed-forward classifier given as a compact spec (e.g. 784-100s-100s-10)
 * or as one of the paper's Table 1 presets, on IDX data (Fashion-MNIST by default), and print
 * its training and test error. A thin program over the public API; the autoencoder presets
 * (AE400-10 etc.) pretrain an autoencoder first and copy its encoder into the classifier
 * (model_copy_layer in model.c).
 *
 * Exit status: 0 success, 1 library failure, 2 bad command line, 130 interrupted (SIGINT; the
 * partly trained net is still evaluated). */
#define _POSIX_C_SOURCE 200809L

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nnprobe/nnprobe.h>

#include "cli.h"
#include "model.h"
#include "netspec.h"

#define PROG "nnprobe-train"
#define MAX_LAMBDA NETSPEC_MAX_LAYERS /* --lambda values */

static void print_help(const nnp_train_opts *d)
{
    printf("Usage: " PROG " [OPTION]... SPEC\n"
           "Train a feed-forward classifier on IDX data and print its training and test error.\n"
           "\n"
           "SPEC is a preset name or <input>-<hidden>...-<classes>, e.g. 784-100s-100s-10:\n"
           "  the input size (must equal the data's C*H*W), then one layer per token:\n"
           "    <units><act>                   dense layer, e.g. 100s\n"
           "    c<k>x<ch>[p<pad>][s<stride>]<act>  k×k convolution, e.g. c5x32p2r\n"
           "    m<k>[s<stride>], a<k>[s<stride>]   k×k max / average pooling, e.g. m2\n"
           "  <act> is s sigmoid, r relu, t tanh, p softplus, or nothing (linear); the last\n"
           "  token is the number of classes (a dense layer giving the logits, trained with\n"
           "  softmax cross-entropy).\n"
           "\n"
           "Presets (the MNIST models of Szegedy et al. 2013, Table 1, and a small convnet):\n");
    for (size_t i = 0; i < netspec_preset_count; i++)
        printf("  %-14s  %s\n", netspec_presets[i].name, netspec_presets[i].help);
    printf("The paper does not publish its training hyperparameters (optimiser, learning rate,\n"
           "epochs, batch size, initialisation, autoencoder sparsity; see docs/paper.md §3),\n"
           "so the presets use this program's defaults below: they are our choices, not the\n"
           "paper's. The λ values are the paper's; whether its penalty is λΣw² or λΣw²/units is\n"
           "not stated (see --decay-mode). A preset's λ can be overridden with --lambda.\n"
           "\n"
           "Data (IDX files: train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz,\n"
           "t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz):\n" CLI_HELP_DATA
           "      --limit N             use only the first N training examples (of the half,\n"
           "                            with --half)\n"
           "      --half p1|p2          train on the first or the second half of the training\n"
           "                            set: the paper's disjoint P1/P2 split (§2), examples\n"
           "                            0..29999 or 30000..59999 of the 60,000 MNIST training\n"
           "                            images (of N examples: floor(N/2) each, the last one of\n"
           "                            an odd N unused)\n"
           "      --random-labels       permute the training labels at random (from --seed),\n"
           "                            keeping their histogram but destroying the pairing with\n"
           "                            the images (the random-label control of Zhang et al.\n"
           "                            2017): the net may still fit the training set, but the\n"
           "                            test error should be near chance, ~90%% for 10 classes\n"
           "\n"
           "Training (minibatch SGD with momentum):\n"
           "      --epochs N            passes over the training data (default %zu)\n"
           "      --batch N             examples per step (default %zu)\n"
           "      --lr X                learning rate, > 0 (default %g)\n"
           "      --momentum X          momentum in [0, 1) (default %g)\n"
           "      --lr-decay X          learning rate factor after each epoch, in (0, 1] (default %g)\n"
           "      --lambda L[,L...]     weight decay per dense layer, or one value for all\n"
           "                            (default: the preset's; none for a plain spec)\n"
           "      --decay-mode MODE     sum: λΣw²; per-unit: λΣw²/units (default %s)\n"
           "      --seed N              seed of the initial weights, the shuffling and\n"
           "                            --random-labels (default %" PRIu64 ")\n"
           "\n"
           "Output:\n"
           CLI_HELP_QUIET
           "      --save FILE           write the trained classifier to FILE as an ONNX model\n"
           "                            (also after an interrupted run)\n"
           CLI_HELP_HELP "\n" CLI_HELP_PROGRESS
           "Ctrl-C stops training; the partly trained net is still evaluated (and saved).\n"
           "Exit status: 0 success, 1 library failure, 2 bad usage, 130 interrupted.\n",
           d->epochs, d->batch_size, d->learning_rate, d->momentum, d->lr_decay,
           d->decay_mode == NNP_DECAY_PER_UNIT ? "per-unit" : "sum", d->seed);
}

enum { OPT_EPOCHS = CLI_OPT_OWN, OPT_BATCH, OPT_LR, OPT_MOMENTUM, OPT_LR_DECAY, OPT_LAMBDA,
       OPT_DECAY_MODE, OPT_LIMIT, OPT_HALF, OPT_RANDOM_LABELS, OPT_SAVE };

static const struct option OWN[] = {
    {"epochs", required_argument, NULL, OPT_EPOCHS}, {"batch", required_argument, NULL, OPT_BATCH},
    {"lr", required_argument, NULL, OPT_LR}, {"momentum", required_argument, NULL, OPT_MOMENTUM},
    {"lr-decay", required_argument, NULL, OPT_LR_DECAY},
    {"lambda", required_argument, NULL, OPT_LAMBDA},
    {"decay-mode", required_argument, NULL, OPT_DECAY_MODE},
    {"limit", required_argument, NULL, OPT_LIMIT}, {"half", required_argument, NULL, OPT_HALF},
    {"random-labels", no_argument, NULL, OPT_RANDOM_LABELS},
    {"save", required_argument, NULL, OPT_SAVE}, {NULL, 0, NULL, 0},
};
static const cli_options OPTIONS = {CLI_DATA_DIR, NULL, 0, OWN, 0};

/* Trains `net` with `o` as `phase` with the progress display; a cancelled run (Ctrl-C) sets
 * *cancelled and leaves *loss NaN (nnp_train's loss is the mean over the last epoch, which a
 * cancelled run has not completed). */
static nnp_status run_training(nnp_net *net, const nnp_dataset *data, nnp_train_opts o,
                               const char *phase, int quiet, int *cancelled, double *loss,
                               double *seconds)
{
    cli_progress p;
    o.progress = cli_progress_cb;
    o.progress_user = cli_progress_start(&p, phase, quiet);
    p.epochs = o.epochs;
    nnp_status s = nnp_train(net, data, &o, loss);
    *seconds = cli_progress_end(&p);
    if (s == NNP_ECANCELLED) *cancelled = 1, *loss = NAN;
    return s == NNP_ECANCELLED ? NNP_OK : s;
}

int main(int argc, char **argv)
{
    cli_set_prog(PROG);
    static const char *const modes[] = {"sum", "per-unit"}, *const halves[] = {"p1", "p2"};
    nnp_train_opts opts;
    cli_common cm;
    double lambda[MAX_LAMBDA], loss = NAN, ae_loss = NAN, seconds = 0, ae_seconds = 0;
    size_t n_lambda = 0, limit = 0, ch, hh, ww;
    int have_lambda = 0, half = 0, random_labels = 0, cancelled = 0, c, r, stop = -1;
    int rc = CLI_FAILURE;
    const char *save_path = NULL;
    nnp_dataset *all = NULL, *sub = NULL, *test = NULL;
    nnp_net *ae = NULL, *net = NULL;
    netspec sp, ae_sp;
    char spec_str[1024], err[512];
    cli_common_init(&cm);
    TRY("nnp_train_opts_init", nnp_train_opts_init(&opts));
    cm.seed = opts.seed;
    while ((c = cli_next_option(argc, argv, &OPTIONS, &cm, NULL, &stop)) != -1) {
        int bad = 0;
        switch (c) {
        case OPT_EPOCHS: bad = parse_size("--epochs", optarg, 1, &opts.epochs); break;
        case OPT_BATCH: bad = parse_size("--batch", optarg, 1, &opts.batch_size); break;
        case OPT_LIMIT: bad = parse_size("--limit", optarg, 1, &limit); break;
        case OPT_LR:
            bad = parse_double_in("--lr", optarg, 0, 1, INFINITY, 1, "> 0", &opts.learning_rate);
            break;
        case OPT_MOMENTUM:
            bad = parse_double_in("--momentum", optarg, 0, 0, 1, 1, "in [0, 1)", &opts.momentum);
            break;
        case OPT_LR_DECAY:
            bad = parse_double_in("--lr-decay", optarg, 0, 1, 1, 0, "in (0, 1]", &opts.lr_decay);
            break;
        case OPT_LAMBDA:
            bad = parse_double_list("--lambda", optarg, MAX_LAMBDA, 0, lambda, &n_lambda);
            have_lambda = 1;
            break;
        case OPT_DECAY_MODE:
            if ((r = parse_choice("--decay-mode", optarg, modes, 2)) < 0) return CLI_USAGE;
            opts.decay_mode = r ? NNP_DECAY_PER_UNIT : NNP_DECAY_SUM;
            break;
        case OPT_HALF:
            if ((half = 1 + parse_choice("--half", optarg, halves, 2)) == 0) return CLI_USAGE;
            break;
        case OPT_RANDOM_LABELS: random_labels = 1; break;
        case OPT_SAVE: save_path = optarg; break;
        case 'h': print_help(&opts); return CLI_OK;
        }
        if (bad) return CLI_USAGE;
    }
    if (stop >= 0) return stop;
    opts.seed = cm.seed;
    if (optind == argc) USAGE("missing SPEC (a preset such as fc100-100-10, or e.g. 784-100s-100s-10)");
    if (argc - optind > 1) USAGE("one SPEC expected, got also '%s'", argv[optind + 1]);

    /* The model: a preset or a spec; an autoencoder preset also names its autoencoder. */
    const netspec_preset *pre = netspec_find_preset(argv[optind]);
    const int is_ae = pre && pre->ae_spec;
    if (netspec_parse(pre ? pre->spec : argv[optind], 0, &sp, err, sizeof err)) USAGE("%s", err);
    if (is_ae && netspec_parse(pre->ae_spec, 1, &ae_sp, err, sizeof err)) USAGE("%s", err);
    if (!have_lambda && pre) {
        memcpy(lambda, pre->lambda, pre->n_lambda * sizeof lambda[0]);
        n_lambda = pre->n_lambda;
    }
    if (n_lambda > 1 && n_lambda != netspec_weight_layers(&sp))
        USAGE("--lambda: %zu values given but the model has %zu dense layer%s (give one value, or "
              "one per dense or convolution layer)", n_lambda, netspec_weight_layers(&sp),
              netspec_weight_layers(&sp) == 1 ? "" : "s");
    opts.weight_decay = n_lambda ? lambda : NULL;
    opts.n_weight_decay = n_lambda;
    RUN(cli_check_outputs(1, "--save", save_path)); /* before the training, not after it */
    cli_catch_sigint();

    /* The data: --half, then --limit, then --random-labels on the examples used. */
    RUN(cli_load_data(&cm, &all, &test));
    const size_t n_all = nnp_dataset_count(all), in_size = nnp_dataset_example_size(all);
    size_t n = half ? n_all / 2 : n_all, first = half == 2 ? n : 0;
    if (half && n == 0)
        USAGE("--half: %s has only %zu training example; need at least 2", cm.path[0], n_all);
    if (limit > n && half)
        USAGE("--limit: %zu exceeds the %zu training examples of half p%d of %s", limit, n, half,
              cm.path[0]);
    if (limit > n) USAGE("--limit: %zu exceeds the %zu training examples in %s", limit, n_all, cm.path[0]);
    if (limit > 0) n = limit;
    if (n < n_all) TRY(half ? "--half" : "--limit", nnp_dataset_subset(all, first, n, &sub));
    nnp_dataset *train = sub ? sub : all;
    if (random_labels) TRY("--random-labels", nnp_dataset_permute_labels(train, opts.seed));

    /* The spec against the data. */
    TRY("nnp_dataset_shape", nnp_dataset_shape(train, &ch, &hh, &ww));
    netspec_format(&sp, spec_str, sizeof spec_str);
    if (sp.input != in_size)
        USAGE("spec '%s': input size %zu does not match the data's %zux%zux%zu = %zu values per "
              "example (%s)", spec_str, sp.input, ch, hh, ww, in_size, cm.path[0]);
    if (nnp_dataset_example_size(test) != in_size)
        USAGE("the test images (%s) have %zu values per example, the training images %zu",
              cm.path[2], nnp_dataset_example_size(test), in_size);
    size_t classes = netspec_classes(&sp), need = nnp_dataset_class_count(train);
    if (nnp_dataset_class_count(test) > need) need = nnp_dataset_class_count(test);
    if (classes < need)
        USAGE("spec '%s': %zu classes, but the labels go up to %zu", spec_str, classes, need - 1);
    TRY("building the net", netspec_build(&sp, ch, hh, ww, opts.seed, &net));

    /* What is about to happen. */
    if (pre) printf("model        %s = %s%s\n", pre->name, spec_str,
                    is_ae ? " (first dense layer: the autoencoder's encoder, frozen)" : "");
    else printf("model        %s\n", spec_str);
    if (is_ae) {
        nnp_layer_info last = {.size = sizeof last};
        TRY("nnp_net_layer_info", nnp_net_layer_info(net, nnp_net_layer_count(net) - 1, &last));
        netspec_format(&ae_sp, err, sizeof err);
        printf("autoencoder  %s (squared error on the images, no weight decay)\n", err);
        printf("parameters   %zu (%zu trained after pretraining: the softmax layer)\n",
               nnp_net_param_count(net), last.weight_count + last.bias_count);
    } else {
        printf("parameters   %zu\n", nnp_net_param_count(net));
    }
    printf("data         %zu training, %zu test examples of %zux%zux%zu (%s)\n",
           nnp_dataset_count(train), nnp_dataset_count(test), ch, hh, ww, cm.path[0]);
    if (half)
        printf("subset       P%d: training examples %zu..%zu of %zu%s\n", half, first,
               first + n - 1, n_all, n < n_all / 2 ? " (--limit)" : "");
    if (random_labels)
        printf("labels       randomly permuted (seed %" PRIu64 "): test error should be near "
               "chance, %.0f%% for %zu classes\n", opts.seed, 100.0 - 100.0 / (double)need, need);
    printf("training     %zu epoch%s, batch %zu, lr %g, momentum %g, lr decay %g, seed %" PRIu64 "\n",
           opts.epochs, opts.epochs == 1 ? "" : "s", opts.batch_size, opts.learning_rate,
           opts.momentum, opts.lr_decay, opts.seed);
    printf("lambda       ");
    if (opts.n_weight_decay == 0) printf("none\n");
    for (size_t i = 0; i < opts.n_weight_decay; i++) printf(i ? ",%g" : "%g", opts.weight_decay[i]);
    if (opts.n_weight_decay > 0)
        printf(" (%s)\n", opts.decay_mode == NNP_DECAY_PER_UNIT ? "per-unit: λΣw²/units" : "sum: λΣw²");
    fflush(stdout);

    if (is_ae) {
        /* Phase 1: the autoencoder, on the images alone (the loss ignores the labels). */
        TRY("building the autoencoder", netspec_build(&ae_sp, ch, hh, ww, opts.seed, &ae));
        nnp_train_opts ae_opts = opts;
        ae_opts.loss = NNP_LOSS_MSE;
        ae_opts.weight_decay = NULL;
        ae_opts.n_weight_decay = 0;
        TRY("training the autoencoder", run_training(ae, train, ae_opts, "autoencoder", cm.quiet,
                                                     &cancelled, &ae_loss, &ae_seconds));
        /* Phase 2: the classifier on the frozen encoder (layer 1: the first dense layer). */
        RUN(model_copy_layer(ae, net, 1));
        opts.first_trainable_layer = nnp_net_layer_count(net) - 1;
    }
    nnp_status s = cancelled ? NNP_OK : run_training(net, train, opts, "train", cm.quiet,
                                                     &cancelled, &loss, &seconds);
    if (s != NNP_OK) {
        lib_error("training", s);
        if (s == NNP_ENUMERIC) fputs(PROG ": try a smaller --lr\n", stderr);
        rc = CLI_FAILURE;
        goto done;
    }
    if (cancelled)
        fprintf(stderr, PROG ": cancelled (SIGINT) after %.1f s; evaluating the partly trained net\n",
                ae_seconds + seconds);

    double t_eval = now_seconds(), train_err, test_err, test_loss;
    TRY("evaluating on the training set",
        nnp_eval_error_rate(net, nnp_dataset_images(train), nnp_dataset_labels(train),
                            nnp_dataset_count(train), &train_err, NULL));
    TRY("evaluating on the test set",
        nnp_eval_error_rate(net, nnp_dataset_images(test), nnp_dataset_labels(test),
                            nnp_dataset_count(test), &test_err, &test_loss));
    t_eval = now_seconds() - t_eval;
    if (cancelled) printf("status       cancelled: partly trained\n");
    if (!isnan(ae_loss))
        printf("ae loss      %.6g (mean of ½Σ(y-x)² per example over the last epoch)\n", ae_loss);
    if (!isnan(loss)) printf("train loss   %.6g (mean cross-entropy over the last epoch)\n", loss);
    printf("test loss    %.6g (mean cross-entropy)\n", test_loss);
    printf("train error  %.2f%%\n", 100.0 * train_err);
    printf("test error   %.2f%%\n", 100.0 * test_err);
    if (is_ae)
        printf("time         %.2f s autoencoder + %.2f s classifier, %.2f s evaluation\n",
               ae_seconds, seconds, t_eval);
    else printf("time         %.2f s training, %.2f s evaluation\n", seconds, t_eval);
    rc = cancelled ? CLI_INTERRUPTED : CLI_OK;
    if (save_path) { /* also after Ctrl-C: the partly trained net */
        TRY("saving the model", nnp_net_save_onnx(net, save_path));
        printf("saved        %s (ONNX)\n", save_path);
    }
done:
    nnp_net_free(net);
    nnp_net_free(ae);
    nnp_dataset_free(sub);
    nnp_dataset_free(all);
    nnp_dataset_free(test);
    return rc;
}
