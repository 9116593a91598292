/* nnprobe-train: train a feed-forward classifier given as a compact spec (e.g. 784-100s-100s-10)
 * or as one of the paper's Table 1 presets, on IDX data (Fashion-MNIST by default), and print
 * its training and test error. A thin program over the public API.
 *
 * Exit status: 0 success, 1 library failure, 2 bad command line, 130 interrupted (SIGINT; the
 * partly trained net is still evaluated). */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <nnprobe/nnprobe.h>

#include "cli.h"
#include "netspec.h"

#define PROG "nnprobe-train"
#define DEFAULT_DATA_DIR "/usr/share/datasets/fashion-mnist"
#define TRAIN_IMAGES "train-images-idx3-ubyte.gz"
#define TRAIN_LABELS "train-labels-idx1-ubyte.gz"
#define TEST_IMAGES "t10k-images-idx3-ubyte.gz"
#define TEST_LABELS "t10k-labels-idx1-ubyte.gz"

#define MAX_LAMBDA NETSPEC_MAX_LAYERS /* --lambda values */
#define PATH_LEN 4096

enum { EXIT_USAGE = 2, EXIT_INTERRUPTED = 130 };



static volatile sig_atomic_t g_interrupted = 0;

static void on_sigint(int sig)
{
    (void)sig;
    g_interrupted = 1;
}

/* ---- parsing of option values ---- */

/* Comma-separated list of λ ≥ 0 values. */
static int parse_lambda(const char *s, double *out, size_t *n)
{
    *n = 0;
    const char *p = s;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char buf[64];
        if (*n == MAX_LAMBDA) {
            usage_error("--lambda: more than %d values", MAX_LAMBDA);
            return -1;
        }
        if (len == 0 || len >= sizeof buf) {
            usage_error("--lambda: '%s' is not a comma-separated list of numbers", s);
            return -1;
        }
        memcpy(buf, p, len);
        buf[len] = '\0';
        double v;
        if (parse_double("--lambda", buf, &v) != 0) return -1;
        if (v < 0) {
            usage_error("--lambda: each value must be >= 0, got %s", buf);
            return -1;
        }
        out[(*n)++] = v;
        if (!comma) return 0;
        p = comma + 1;
    }
}

/* ---- specs (examples/netspec.c) ---- */

static int parse_spec(const char *text, int last_act, netspec *sp)
{
    char err[512];
    if (netspec_parse(text, last_act, sp, err, sizeof err) == 0) return 0;
    usage_error("%s", err);
    return -1;
}

/* Copies the parameters of layer `layer` of `from` into the same layer of `to`. Prints its
 * own message on failure and returns -1. */
static int copy_layer(const nnp_net *from, nnp_net *to, size_t layer)
{
    nnp_layer_info info = {.size = sizeof info};
    nnp_status s = nnp_net_layer_info(from, layer, &info);
    float *w = NULL;
    if (s == NNP_OK) {
        w = malloc((info.weight_count + info.bias_count + 1) * sizeof *w);
        if (!w) {
            fprintf(stderr, PROG ": copying the encoder: out of memory\n");
            return -1;
        }
        s = nnp_net_get_params(from, layer, w, w + info.weight_count);
    }
    if (s == NNP_OK) s = nnp_net_set_params(to, layer, w, w + info.weight_count);
    free(w);
    if (s != NNP_OK) {
        lib_error("copying the encoder", s);
        return -1;
    }
    return 0;
}

/* Parameters of the layers from `first` on (those training changes). */
static size_t trainable_params(const nnp_net *net, size_t first)
{
    size_t n = 0;
    for (size_t l = first; l < nnp_net_layer_count(net); l++) {
        nnp_layer_info info = {.size = sizeof info};
        if (nnp_net_layer_info(net, l, &info) == NNP_OK) n += info.weight_count + info.bias_count;
    }
    return n;
}

/* ---- progress ---- */

typedef struct progress {
    const char *phase;
    int tty;        /* draw a bar on stderr (else one line per epoch) */
    int quiet;
    size_t epochs;
    double t0, last_draw;
    int drawn;      /* a bar line is on screen, not yet ended by '\n' */
} progress;

static int on_progress(uint64_t done, uint64_t total, void *user)
{
    progress *p = user;
    if (g_interrupted) return 1;
    if (p->quiet || total == 0) return 0;
    double now = now_seconds();
    uint64_t per_epoch = total / p->epochs;
    if (p->tty) {
        if (done != total && now - p->last_draw < 0.1) return 0;
        uint64_t epoch = per_epoch ? (done + per_epoch - 1) / per_epoch : 0;
        fprintf(stderr, "\r%s: %3d%%  step %" PRIu64 "/%" PRIu64 "  epoch %" PRIu64 "/%zu  %.1f s   ",
                p->phase, (int)(100 * done / total), done, total, epoch, p->epochs, now - p->t0);
        fflush(stderr);
        p->last_draw = now;
        p->drawn = 1;
    } else if (per_epoch && total % p->epochs == 0 && done % per_epoch == 0) {
        fprintf(stderr, "%s: epoch %" PRIu64 "/%zu  %.1f s\n", p->phase, done / per_epoch,
                p->epochs, now - p->t0);
    }
    return 0;
}

/* Trains `net` with `o` (whose progress fields are set here), reports the elapsed time. */
static nnp_status run_training(nnp_net *net, const nnp_dataset *data, nnp_train_opts *o,
                               const char *phase, int quiet, double *loss, double *seconds)
{
    progress p = {.phase = phase, .tty = isatty(STDERR_FILENO), .quiet = quiet,
                  .epochs = o->epochs, .t0 = now_seconds()};
    o->progress = on_progress;
    o->progress_user = &p;
    nnp_status s = nnp_train(net, data, o, loss);
    *seconds = now_seconds() - p.t0;
    if (p.drawn) fputc('\n', stderr);
    o->progress = NULL;
    o->progress_user = NULL;
    return s;
}

/* ---- help ---- */

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
           "Data (IDX files, plain or gzip-compressed; default: Fashion-MNIST in\n"
           DEFAULT_DATA_DIR "):\n"
           "      --data-dir DIR        read the four files below from DIR:\n"
           "                            " TRAIN_IMAGES ", " TRAIN_LABELS ",\n"
           "                            " TEST_IMAGES ", " TEST_LABELS "\n"
           "      --train-images FILE   training images (overrides --data-dir)\n"
           "      --train-labels FILE   training labels\n"
           "      --test-images FILE    test images\n"
           "      --test-labels FILE    test labels\n"
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
           "      --quiet               no progress display\n"
           "      --save FILE           write the trained classifier to FILE as an ONNX model\n"
           "                            (also after an interrupted run)\n"
           "  -h, --help                show this help and exit\n"
           "  -V, --version             show the library version and exit\n"
           "\n"
           "Progress goes to stderr (a bar on a terminal, else one line per epoch), results to\n"
           "stdout. Ctrl-C stops training; the partly trained net is still evaluated.\n"
           "Exit status: 0 success, 1 library failure, 2 bad usage, 130 interrupted.\n",
           d->epochs, d->batch_size, d->learning_rate, d->momentum, d->lr_decay,
           d->decay_mode == NNP_DECAY_PER_UNIT ? "per-unit" : "sum", d->seed);
}

/* ---- the work ---- */

/* Everything main() decided from the command line. */
typedef struct job {
    const netspec_preset *pre;   /* NULL for a plain spec */
    netspec sp, ae_sp;   /* the classifier; the autoencoder (if pre->ae_spec) */
    nnp_train_opts opts; /* weight_decay points into main()'s array */
    int quiet;
    const char *train_path, *test_path;
    int half;            /* 0 all, 1 P1, 2 P2 */
    int random_labels;
    size_t n_all, first; /* training examples in the file; index of the first one used */
} job;

/* Loads the training and test sets, applies --half and --limit (*sub is NULL without them),
 * then --random-labels to the examples used. Returns an exit status; the caller frees whatever
 * was loaded, on every path. */
static int load_data(const char *paths[4], size_t limit, job *jb, nnp_dataset **all,
                     nnp_dataset **sub, nnp_dataset **test)
{
    nnp_status s;
    if ((s = nnp_dataset_load_idx(paths[0], paths[1], all)) != NNP_OK) {
        lib_error("loading the training set", s);
        return EXIT_FAILURE;
    }
    if ((s = nnp_dataset_load_idx(paths[2], paths[3], test)) != NNP_OK) {
        lib_error("loading the test set", s);
        return EXIT_FAILURE;
    }
    size_t n_all = nnp_dataset_count(*all), first = 0, n = n_all;
    if (jb->half) {
        n = n_all / 2;
        first = jb->half == 2 ? n : 0;
        if (n == 0) {
            usage_error("--half: %s has only %zu training example; need at least 2", paths[0],
                        n_all);
            return EXIT_USAGE;
        }
    }
    if (limit > n) {
        if (jb->half)
            usage_error("--limit: %zu exceeds the %zu training examples of half p%d of %s", limit,
                        n, jb->half, paths[0]);
        else
            usage_error("--limit: %zu exceeds the %zu training examples in %s", limit, n_all,
                        paths[0]);
        return EXIT_USAGE;
    }
    if (limit > 0) n = limit;
    if (n < n_all && (s = nnp_dataset_subset(*all, first, n, sub)) != NNP_OK) {
        lib_error(jb->half ? "--half" : "--limit", s);
        return EXIT_FAILURE;
    }
    jb->n_all = n_all;
    jb->first = first;
    if (jb->random_labels &&
        (s = nnp_dataset_permute_labels(*sub ? *sub : *all, jb->opts.seed)) != NNP_OK) {
        lib_error("--random-labels", s);
        return EXIT_FAILURE;
    }
    return EXIT_SUCCESS;
}

/* Checks the spec against the data, builds and trains the net(s), prints the results. The nets
 * are returned through *net and *ae for the caller to free, on every path. */
static int train_and_report(job *jb, const nnp_dataset *train, const nnp_dataset *test,
                            nnp_net **net, nnp_net **ae)
{
    const netspec_preset *pre = jb->pre;
    const netspec *sp = &jb->sp;
    nnp_train_opts *opts = &jb->opts;
    nnp_status s;
    size_t ch, hh, ww;
    if ((s = nnp_dataset_shape(train, &ch, &hh, &ww)) != NNP_OK) {
        lib_error("nnp_dataset_shape", s);
        return EXIT_FAILURE;
    }
    size_t in_size = nnp_dataset_example_size(train);
    char spec_str[1024];
    netspec_format(sp, spec_str, sizeof spec_str);
    if (sp->input != in_size) {
        usage_error("spec '%s': input size %zu does not match the data's %zux%zux%zu = %zu values "
                    "per example (%s)", spec_str, sp->input, ch, hh, ww, in_size, jb->train_path);
        return EXIT_USAGE;
    }
    if (nnp_dataset_example_size(test) != in_size) {
        usage_error("the test images (%s) have %zu values per example, the training images %zu",
                    jb->test_path, nnp_dataset_example_size(test), in_size);
        return EXIT_USAGE;
    }
    size_t classes = netspec_classes(sp);
    size_t need = nnp_dataset_class_count(train), need_test = nnp_dataset_class_count(test);
    if (need_test > need) need = need_test;
    if (classes < need) {
        usage_error("spec '%s': %zu classes, but the labels go up to %zu", spec_str, classes,
                    need - 1);
        return EXIT_USAGE;
    }
    if ((s = netspec_build(sp, ch, hh, ww, opts->seed, net)) != NNP_OK) {
        lib_error("building the net", s);
        return EXIT_FAILURE;
    }
    int is_ae = pre && pre->ae_spec;

    /* What is about to happen. */
    if (pre) printf("model        %s = %s%s\n", pre->name, spec_str,
                    is_ae ? " (first dense layer: the autoencoder's encoder, frozen)" : "");
    else printf("model        %s\n", spec_str);
    if (is_ae) {
        char ae_str[1024];
        netspec_format(&jb->ae_sp, ae_str, sizeof ae_str);
        printf("autoencoder  %s (squared error on the images, no weight decay)\n", ae_str);
        printf("parameters   %zu (%zu trained after pretraining: the softmax layer)\n",
               nnp_net_param_count(*net), trainable_params(*net, nnp_net_layer_count(*net) - 1));
    } else {
        printf("parameters   %zu\n", nnp_net_param_count(*net));
    }
    printf("data         %zu training, %zu test examples of %zux%zux%zu (%s)\n",
           nnp_dataset_count(train), nnp_dataset_count(test), ch, hh, ww, jb->train_path);
    size_t n_train = nnp_dataset_count(train);
    if (jb->half)
        printf("subset       P%d: training examples %zu..%zu of %zu%s\n", jb->half, jb->first,
               jb->first + n_train - 1, jb->n_all, n_train < jb->n_all / 2 ? " (--limit)" : "");
    if (jb->random_labels)
        printf("labels       randomly permuted (seed %" PRIu64 "): test error should be near "
               "chance, %.0f%% for %zu classes\n", opts->seed, 100.0 - 100.0 / (double)need, need);
    printf("training     %zu epoch%s, batch %zu, lr %g, momentum %g, lr decay %g, seed %" PRIu64 "\n",
           opts->epochs, opts->epochs == 1 ? "" : "s", opts->batch_size, opts->learning_rate,
           opts->momentum, opts->lr_decay, opts->seed);
    printf("lambda       ");
    if (opts->n_weight_decay == 0) printf("none\n");
    for (size_t i = 0; i < opts->n_weight_decay; i++)
        printf(i ? ",%g" : "%g", opts->weight_decay[i]);
    if (opts->n_weight_decay > 0)
        printf(" (%s)\n", opts->decay_mode == NNP_DECAY_PER_UNIT ? "per-unit: λΣw²/units"
                                                                 : "sum: λΣw²");
    fflush(stdout);

    /* Losses stay NaN unless their phase completes (nnp_train's final_loss is the mean over
     * the last epoch; a cancelled run has no complete last epoch). */
    double loss = NAN, ae_loss = NAN, seconds = 0, ae_seconds = 0;
    int cancelled = 0;
    if (is_ae) {
        /* Phase 1: the autoencoder, on the images alone (the loss ignores the labels). */
        if ((s = netspec_build(&jb->ae_sp, ch, hh, ww, opts->seed, ae)) != NNP_OK) {
            lib_error("building the autoencoder", s);
            return EXIT_FAILURE;
        }
        nnp_train_opts ae_opts = *opts;
        ae_opts.loss = NNP_LOSS_MSE;
        ae_opts.weight_decay = NULL;
        ae_opts.n_weight_decay = 0;
        s = run_training(*ae, train, &ae_opts, "autoencoder", jb->quiet, &ae_loss, &ae_seconds);
        if (s == NNP_ECANCELLED) {
            cancelled = 1;
            ae_loss = NAN;
        } else if (s != NNP_OK) {
            lib_error("training the autoencoder", s);
            return EXIT_FAILURE;
        }
        /* Phase 2: the classifier on the frozen encoder (layer 1: the first dense layer). */
        if (copy_layer(*ae, *net, 1) != 0) return EXIT_FAILURE;
        opts->first_trainable_layer = nnp_net_layer_count(*net) - 1;
    }
    if (!cancelled) {
        s = run_training(*net, train, opts, "train", jb->quiet, &loss, &seconds);
        if (s == NNP_ECANCELLED) {
            cancelled = 1;
            loss = NAN;
        } else if (s != NNP_OK) {
            lib_error("training", s);
            if (s == NNP_ENUMERIC) fputs(PROG ": try a smaller --lr\n", stderr);
            return EXIT_FAILURE;
        }
    }
    if (cancelled)
        fprintf(stderr, PROG ": cancelled (SIGINT) after %.1f s; evaluating the partly trained net\n",
                ae_seconds + seconds);

    double t_eval = now_seconds(), train_err, test_err, test_loss;
    if ((s = nnp_eval_error_rate(*net, nnp_dataset_images(train), nnp_dataset_labels(train), nnp_dataset_count(train), &train_err, NULL)) != NNP_OK) {
        lib_error("evaluating on the training set", s);
        return EXIT_FAILURE;
    }
    if ((s = nnp_eval_error_rate(*net, nnp_dataset_images(test), nnp_dataset_labels(test), nnp_dataset_count(test), &test_err, &test_loss)) != NNP_OK) {
        lib_error("evaluating on the test set", s);
        return EXIT_FAILURE;
    }
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
    return cancelled ? EXIT_INTERRUPTED : EXIT_SUCCESS;
}

/* ---- main ---- */

enum {
    OPT_TRAIN_IMAGES = 256, OPT_TRAIN_LABELS, OPT_TEST_IMAGES, OPT_TEST_LABELS, OPT_DATA_DIR,
    OPT_EPOCHS, OPT_BATCH, OPT_LR, OPT_MOMENTUM, OPT_LR_DECAY, OPT_LAMBDA, OPT_DECAY_MODE,
    OPT_SEED, OPT_LIMIT, OPT_QUIET, OPT_HALF, OPT_RANDOM_LABELS, OPT_SAVE
};

static const struct option LONG_OPTS[] = {
    {"train-images", required_argument, NULL, OPT_TRAIN_IMAGES},
    {"train-labels", required_argument, NULL, OPT_TRAIN_LABELS},
    {"test-images", required_argument, NULL, OPT_TEST_IMAGES},
    {"test-labels", required_argument, NULL, OPT_TEST_LABELS},
    {"data-dir", required_argument, NULL, OPT_DATA_DIR},
    {"epochs", required_argument, NULL, OPT_EPOCHS},
    {"batch", required_argument, NULL, OPT_BATCH},
    {"lr", required_argument, NULL, OPT_LR},
    {"momentum", required_argument, NULL, OPT_MOMENTUM},
    {"lr-decay", required_argument, NULL, OPT_LR_DECAY},
    {"lambda", required_argument, NULL, OPT_LAMBDA},
    {"decay-mode", required_argument, NULL, OPT_DECAY_MODE},
    {"seed", required_argument, NULL, OPT_SEED},
    {"limit", required_argument, NULL, OPT_LIMIT},
    {"half", required_argument, NULL, OPT_HALF},
    {"random-labels", no_argument, NULL, OPT_RANDOM_LABELS},
    {"quiet", no_argument, NULL, OPT_QUIET},
    {"save", required_argument, NULL, OPT_SAVE},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

static int join_path(char *out, const char *dir, const char *name)
{
    int n = snprintf(out, PATH_LEN, "%s/%s", dir, name);
    if (n < 0 || n >= PATH_LEN) {
        usage_error("--data-dir: path too long");
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    cli_set_prog(PROG);
    nnp_train_opts opts;
    nnp_status s = nnp_train_opts_init(&opts);
    if (s != NNP_OK) {
        lib_error("nnp_train_opts_init", s);
        return EXIT_FAILURE;
    }
    const char *data_dir = DEFAULT_DATA_DIR;
    const char *paths[4] = {NULL, NULL, NULL, NULL}; /* train images/labels, test images/labels */
    double lambda[MAX_LAMBDA];
    size_t n_lambda = 0;
    int have_lambda = 0, quiet = 0, half = 0, random_labels = 0;
    size_t limit = 0;
    const char *save_path = NULL;

    int c;
    while ((c = getopt_long(argc, argv, "hV", LONG_OPTS, NULL)) != -1) {
        double v;
        switch (c) {
        case OPT_TRAIN_IMAGES: case OPT_TRAIN_LABELS: case OPT_TEST_IMAGES: case OPT_TEST_LABELS:
            paths[c - OPT_TRAIN_IMAGES] = optarg;
            break;
        case OPT_DATA_DIR: data_dir = optarg; break;
        case OPT_EPOCHS:
            if (parse_size("--epochs", optarg, 1, &opts.epochs)) return EXIT_USAGE;
            break;
        case OPT_BATCH:
            if (parse_size("--batch", optarg, 1, &opts.batch_size)) return EXIT_USAGE;
            break;
        case OPT_LIMIT:
            if (parse_size("--limit", optarg, 1, &limit)) return EXIT_USAGE;
            break;
        case OPT_SEED:
            if (parse_u64("--seed", optarg, &opts.seed)) return EXIT_USAGE;
            break;
        case OPT_LR:
            if (parse_double("--lr", optarg, &v)) return EXIT_USAGE;
            if (!(v > 0)) {
                usage_error("--lr: must be > 0, got %s", optarg);
                return EXIT_USAGE;
            }
            opts.learning_rate = v;
            break;
        case OPT_MOMENTUM:
            if (parse_double("--momentum", optarg, &v)) return EXIT_USAGE;
            if (!(v >= 0 && v < 1)) {
                usage_error("--momentum: must be in [0, 1), got %s", optarg);
                return EXIT_USAGE;
            }
            opts.momentum = v;
            break;
        case OPT_LR_DECAY:
            if (parse_double("--lr-decay", optarg, &v)) return EXIT_USAGE;
            if (!(v > 0 && v <= 1)) {
                usage_error("--lr-decay: must be in (0, 1], got %s", optarg);
                return EXIT_USAGE;
            }
            opts.lr_decay = v;
            break;
        case OPT_LAMBDA:
            if (parse_lambda(optarg, lambda, &n_lambda)) return EXIT_USAGE;
            have_lambda = 1;
            break;
        case OPT_DECAY_MODE:
            if (strcmp(optarg, "sum") == 0) {
                opts.decay_mode = NNP_DECAY_SUM;
            } else if (strcmp(optarg, "per-unit") == 0) {
                opts.decay_mode = NNP_DECAY_PER_UNIT;
            } else {
                usage_error("--decay-mode: expected 'sum' or 'per-unit', got '%s'", optarg);
                return EXIT_USAGE;
            }
            break;
        case OPT_HALF:
            if (strcasecmp(optarg, "p1") == 0) {
                half = 1;
            } else if (strcasecmp(optarg, "p2") == 0) {
                half = 2;
            } else {
                usage_error("--half: expected 'p1' or 'p2', got '%s'", optarg);
                return EXIT_USAGE;
            }
            break;
        case OPT_RANDOM_LABELS: random_labels = 1; break;
        case OPT_QUIET: quiet = 1; break;
        case OPT_SAVE: save_path = optarg; break;
        case 'h': print_help(&opts); return EXIT_SUCCESS;
        case 'V': printf(PROG " (libnnprobe) %s\n", nnp_version_string()); return EXIT_SUCCESS;
        default: /* getopt_long has printed what is wrong */
            fputs("Try '" PROG " --help' for more information.\n", stderr);
            return EXIT_USAGE;
        }
    }
    if (optind == argc) {
        usage_error("missing SPEC (a preset such as fc100-100-10, or e.g. 784-100s-100s-10)");
        return EXIT_USAGE;
    }
    if (argc - optind > 1) {
        usage_error("one SPEC expected, got also '%s'", argv[optind + 1]);
        return EXIT_USAGE;
    }

    /* The model: a preset or a spec. */
    const char *spec_text = argv[optind];
    const netspec_preset *pre = netspec_find_preset(spec_text);
    netspec sp, ae_sp = {0};
    if (parse_spec(pre ? pre->spec : spec_text, 0, &sp)) return EXIT_USAGE;
    if (pre && pre->ae_spec && parse_spec(pre->ae_spec, 1, &ae_sp)) return EXIT_USAGE;
    if (!have_lambda && pre) {
        memcpy(lambda, pre->lambda, pre->n_lambda * sizeof lambda[0]);
        n_lambda = pre->n_lambda;
    }
    if (n_lambda > 1 && n_lambda != netspec_weight_layers(&sp)) {
        usage_error("--lambda: %zu values given but the model has %zu dense layer%s (give one "
                    "value, or one per dense or convolution layer)", n_lambda, netspec_weight_layers(&sp),
                    netspec_weight_layers(&sp) == 1 ? "" : "s");
        return EXIT_USAGE;
    }
    opts.weight_decay = n_lambda ? lambda : NULL;
    opts.n_weight_decay = n_lambda;

    char path_buf[4][PATH_LEN];
    static const char *const NAMES[4] = {TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS};
    for (int i = 0; i < 4; i++)
        if (!paths[i]) {
            if (join_path(path_buf[i], data_dir, NAMES[i])) return EXIT_USAGE;
            paths[i] = path_buf[i];
        }

    /* SIGINT sets a flag the progress callback reads; a second one kills (SA_RESETHAND). An
     * ignored SIGINT (background job of a non-interactive shell) stays ignored. */
    struct sigaction sa, old_sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESETHAND;
    if (sigaction(SIGINT, &sa, &old_sa) == 0 && old_sa.sa_handler == SIG_IGN)
        sigaction(SIGINT, &old_sa, NULL);

    nnp_dataset *train_all = NULL, *train_sub = NULL, *test = NULL;
    nnp_net *ae = NULL, *net = NULL;
    job jb = {.pre = pre, .sp = sp, .ae_sp = ae_sp, .opts = opts, .quiet = quiet,
              .train_path = paths[0], .test_path = paths[2], .half = half,
              .random_labels = random_labels};
    int rc = load_data(paths, limit, &jb, &train_all, &train_sub, &test);
    if (rc == EXIT_SUCCESS)
        rc = train_and_report(&jb, train_sub ? train_sub : train_all, test, &net, &ae);
    if (save_path && net && (rc == EXIT_SUCCESS || rc == EXIT_INTERRUPTED)) {
        nnp_status ss = nnp_net_save_onnx(net, save_path);
        if (ss != NNP_OK) {
            lib_error("saving the model", ss);
            rc = EXIT_FAILURE;
        } else {
            printf("saved        %s (ONNX)\n", save_path);
        }
    }
    nnp_net_free(net);
    nnp_net_free(ae);
    nnp_dataset_free(train_sub);
    nnp_dataset_free(train_all);
    nnp_dataset_free(test);
    return rc;
}
