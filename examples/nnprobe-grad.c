/* nnprobe-grad: train a small classifier on IDX data (as nnprobe-train does), then ask the
 * gradient-of-input queries about the first K test images, each as one batched call:
 * d loss/dx (nnp_grad_loss), d logit[true class]/dx (nnp_grad_unit) and a vector–Jacobian
 * product at a hidden layer (nnp_grad_vjp), and verify d loss/dx by a central finite
 * difference along its own direction. Optionally saves the gradients as an IDX image file.
 *
 * Exit status: 0 success, 1 library failure, 2 bad command line, 130 interrupted. */
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

#define PROG "nnprobe-grad"
#define MAX_PICK 4096
#define FD_STEP 1e-3f

/* Softmax cross-entropy of one example in double, accurate also when tiny:
 * (z_m − z_y) + log1p(Σ_{k≠m} exp(z_k − z_m)), m the arg-max. */
static double xent(const float *z, size_t classes, int32_t y)
{
    size_t m = 0;
    for (size_t k = 1; k < classes; k++) m = z[k] > z[m] ? k : m;
    double rest = 0;
    for (size_t k = 0; k < classes; k++)
        if (k != m) rest += exp((double)z[k] - z[m]);
    return ((double)z[m] - z[y]) + log1p(rest);
}

static double norm2(const float *v, size_t n)
{
    double s = 0;
    for (size_t j = 0; j < n; j++) s += (double)v[j] * v[j];
    return sqrt(s);
}

static void print_help(void)
{
    printf("Usage: " PROG " [OPTION]... SPEC|MODEL.onnx\n"
           "Train a classifier on IDX data (as nnprobe-train), then compute, each in one batched\n"
           "call on one workspace, input gradients of the first K test images:\n"
           "  dL/dx      d loss/dx of the softmax cross-entropy (nnp_grad_loss)\n"
           "  dz_y/dx    d logit[true class]/dx (nnp_grad_unit on the last layer)\n"
           "  J^T phi    J_L(x)^T phi_L(x) at layer L, the gradient of ½‖phi_L(x)‖² (nnp_grad_vjp)\n"
           "and check g = dL/dx by a central difference along u = g/‖g‖ with step h = %g:\n"
           "(L(x+hu) − L(x−hu))/2h should equal ‖g‖ (column rel.diff; not where a ReLU kink is\n"
           "within h). SPEC: a preset (fc10, fc100-100-10, fc200-200-10, with the paper's λ) or\n"
           "<input>-<hidden>...-<classes>, hidden tokens <units>[s|r|t|p], e.g. 784-100s-10;\n"
           "or an ONNX model (not trained; unlabelled images get its predictions as labels).\n"
           "\n"
           CLI_HELP_DATA CLI_HELP_PROBE
           "      --limit N             train on the first N training examples (default 10000,\n"
           "                            or all if fewer; 0 = all)\n"
           "      --epochs N            training epochs (default 2)\n"
           "      --seed N              seed of the weights and the shuffling (default 1)\n"
           "      --count K             the first K test images (default 8)\n"
           "      --pick I,J,...        these test images instead (indices from 0)\n"
           "      --layer L             layer of J^T phi, 1..layers−1 (default: the first\n"
           "                            activation layer, else 1)\n"
           "      --save-gradients FILE write dL/dx as float IDX images, each mapped to [0,1] by\n"
           "                            0.5 + g/(2·max|g|) (0.5 = zero); gzipped if FILE ends in .gz\n"
           "      --save-labels FILE    their true labels (default: FILE with '-labels' before\n"
           "                            .idx/.gz, e.g. g.idx.gz -> g-labels.idx.gz)\n"
           CLI_HELP_QUIET CLI_HELP_HELP CLI_HELP_PROGRESS CLI_HELP_EXIT,
           (double)FD_STEP);
}

enum { OPT_EPOCHS = CLI_OPT_OWN, OPT_LIMIT, OPT_COUNT, OPT_PICK, OPT_LAYER, OPT_SAVE,
       OPT_SAVE_LABELS };

static const struct option OWN[] = {
    {"epochs", required_argument, NULL, OPT_EPOCHS}, {"limit", required_argument, NULL, OPT_LIMIT},
    {"count", required_argument, NULL, OPT_COUNT}, {"pick", required_argument, NULL, OPT_PICK},
    {"layer", required_argument, NULL, OPT_LAYER},
    {"save-gradients", required_argument, NULL, OPT_SAVE},
    {"save-labels", required_argument, NULL, OPT_SAVE_LABELS}, {NULL, 0, NULL, 0},
};
static const cli_options OPTIONS = {CLI_DATA_DIR, NULL, 0, OWN, 1};

int main(int argc, char **argv)
{
    cli_set_prog(PROG);
    static size_t pick[MAX_PICK];
    const char *save = NULL, *save_labels = NULL, *model;
    char label_buf[CLI_PATH_LEN];
    size_t limit = 10000, count = 8, n_pick = 0, layer = 0, epochs = 2;
    int limit_set = 0, count_set = 0, c, stop = -1, rc = CLI_FAILURE, onnx;
    cli_common cm;
    nnp_dataset *train = NULL, *sub = NULL, *test = NULL, *sel = NULL;
    nnp_net *net = NULL;
    nnp_workspace *ws = NULL;
    float *buf = NULL, *g, *gu, *gv, *xs, *ds, *xpm, *phi, *logits, *zpm, *loss, *value, *vs;
    const float *x;
    const int32_t *y;
    size_t n_train, n_test, ch, hh, ww, in, classes, K, L, last, S;
    double test_err = NAN;
    int32_t *predicted = NULL; /* labels of unlabelled images: the model's predictions */
    nnp_layer_info info = {.size = sizeof info};
    cli_common_init(&cm);
    while ((c = cli_next_option(argc, argv, &OPTIONS, &cm, NULL, &stop)) != -1) {
        int bad = 0;
        switch (c) {
        case OPT_EPOCHS: bad = parse_size("--epochs", optarg, 1, &epochs); break;
        case OPT_LIMIT: bad = parse_size("--limit", optarg, 0, &limit); limit_set = 1; break;
        case OPT_COUNT: bad = parse_size("--count", optarg, 1, &count); count_set = 1; break;
        case OPT_PICK: bad = parse_index_list("--pick", optarg, MAX_PICK, pick, &n_pick); break;
        case OPT_LAYER: bad = parse_size("--layer", optarg, 1, &layer); break;
        case OPT_SAVE: save = optarg; break;
        case OPT_SAVE_LABELS: save_labels = optarg; break;
        case 'h': print_help(); return CLI_OK;
        }
        if (bad) return CLI_USAGE;
    }
    if (stop >= 0) return stop;
    if (optind == argc) USAGE("missing SPEC (a preset such as fc100-100-10, or e.g. 784-100s-10)");
    if (argc - optind > 1) USAGE("one SPEC expected, got also '%s'", argv[optind + 1]);
    if (n_pick && count_set && count != n_pick)
        USAGE("--count %zu but --pick lists %zu indices", count, n_pick);
    if (count > MAX_PICK) USAGE("--count: at most %d", MAX_PICK);
    if (save_labels && !save) USAGE("--save-labels needs --save-gradients");
    model = argv[optind];
    if (save && !save_labels) { /* g.idx.gz -> g-labels.idx.gz, g.gz -> g-labels.gz */
        size_t len = strlen(save), base = len;
        if (len >= 7 && strcmp(save + len - 7, ".idx.gz") == 0) base = len - 7;
        else if (len >= 4 && strcmp(save + len - 4, ".idx") == 0) base = len - 4;
        else if (len >= 3 && strcmp(save + len - 3, ".gz") == 0) base = len - 3;
        int n = snprintf(label_buf, sizeof label_buf, "%.*s-labels%s", (int)base, save, save + base);
        if (n < 0 || n >= (int)sizeof label_buf) USAGE("--save-gradients: path too long");
        save_labels = label_buf;
    }
    RUN(cli_check_outputs(2, "--save-gradients", save, "--save-labels", save_labels));
    cli_catch_sigint();

    /* The data: checked against --limit, --count and --pick before the training. An ONNX
     * model is not trained; without data options it is probed at random points when the
     * default data do not fit it (cli_data_for_model). */
    onnx = model_is_onnx(model);
    cm.data_optional = onnx;
    RUN(cli_load_data(&cm, onnx ? NULL : &train, &test));
    if (onnx) {
        size_t need = count;
        for (size_t i = 0; i < n_pick; i++) need = pick[i] + 1 > need ? pick[i] + 1 : need;
        RUN(model_load_onnx(model, &net));
        RUN(cli_normalize(&cm, model, 1, &net));
        RUN(cli_data_for_model(&cm, model, net, need, 0, &test));
        if (nnp_net_input_size(net) != nnp_dataset_example_size(test))
            USAGE("model '%s' takes %zu inputs, the test images have %zu values", model,
                  nnp_net_input_size(net), nnp_dataset_example_size(test));
    }
    n_train = nnp_dataset_count(train);
    n_test = nnp_dataset_count(test);
    in = nnp_dataset_example_size(test);
    if (limit > n_train && limit_set)
        USAGE("--limit: %zu exceeds the %zu training examples in %s", limit, n_train, cm.path[0]);
    if (!n_pick && count > n_test)
        USAGE("--count: %zu exceeds the %zu test examples in %s", count, n_test, cm.path[2]);
    if (!n_pick)
        for (; n_pick < count; n_pick++) pick[n_pick] = n_pick;
    for (size_t i = 0; i < n_pick; i++)
        if (pick[i] >= n_test)
            USAGE("--pick: index %zu, but %s has %zu test examples (0..%zu)", pick[i], cm.path[2],
                  n_test, n_test - 1);
    if (!onnx && nnp_dataset_example_size(train) != in)
        USAGE("the test images have %zu values per example, the training images %zu; they do "
              "not match", nnp_dataset_example_size(test), in);

    /* Train (model.c) on the first `limit` examples, then select the test images. */
    if (limit == 0 || limit > n_train) limit = n_train;
    if (!onnx && limit < n_train) TRY("--limit", nnp_dataset_subset(train, 0, limit, &sub));
    if (!onnx) {
        RUN(model_train(model, sub ? sub : train, epochs, cm.seed, cm.quiet, &net));
        RUN(cli_normalize(&cm, model, 0, &net)); /* refuses --mean/--std: trained here */
    }
    classes = nnp_net_output_size(net);
    if (classes < nnp_dataset_class_count(test))
        USAGE("spec '%s': %zu classes is fewer than the data's labels need", model, classes);
    const netspec_preset *pre = netspec_find_preset(model);
    if (onnx)
        printf("model        %s (ONNX, %zu parameters)\n", model, nnp_net_param_count(net));
    else
        printf("model        %s%s%s (%zu parameters), trained %zu epoch%s on %zu examples, seed %"
               PRIu64 "\n", model, pre ? " = " : "", pre ? pre->spec : "",
               nnp_net_param_count(net), epochs, epochs == 1 ? "" : "s", limit, cm.seed);
    if (nnp_dataset_labels(test) != NULL)
        TRY("evaluating", nnp_eval_error_rate(net, nnp_dataset_images(test),
                                              nnp_dataset_labels(test), n_test, &test_err, NULL));
    TRY("nnp_dataset_shape", nnp_dataset_shape(test, &ch, &hh, &ww));
    TRY("--pick", nnp_dataset_select(test, pick, n_pick, &sel));
    K = n_pick;
    L = nnp_net_layer_count(net);
    last = L - 1;
    for (size_t l = 1; layer == 0 && l < L; l++)
        if (nnp_net_layer_info(net, l, &info) == NNP_OK &&
            (info.kind == NNP_LAYER_RELU || info.kind == NNP_LAYER_SIGMOID ||
             info.kind == NNP_LAYER_TANH || info.kind == NNP_LAYER_SOFTPLUS)) layer = l;
    if (layer >= L) USAGE("--layer: %zu, but the net has layers 1..%zu", layer, last);
    TRY("nnp_net_layer_info", nnp_net_layer_info(net, layer = layer ? layer : 1, &info));
    S = info.output_size;

    /* One buffer: g, gu, gv, xs, ds (K·in each), x± (2K·in), phi (K·S), logits, z± (3K·classes),
     * loss, value, vs (K each). */
    x = nnp_dataset_images(sel);
    y = nnp_dataset_labels(sel);
    if (y == NULL) { /* unlabelled (random points, --data without --labels): the predictions */
        if (!(predicted = malloc(K * sizeof *predicted)) || !(buf = malloc(K * classes * sizeof *buf)))
            TRY("allocating", NNP_ENOMEM);
        TRY("nnp_net_forward", nnp_net_forward(net, NULL, x, K, buf));
        for (size_t i = 0; i < K; i++) {
            size_t p = 0;
            for (size_t k = 1; k < classes; k++) p = buf[i * classes + k] > buf[i * classes + p] ? k : p;
            predicted[i] = (int32_t)p;
        }
        free(buf);
        buf = NULL;
        y = predicted;
        fprintf(stderr, PROG ": note: the images have no labels: the model's predictions are "
                "used as labels\n");
    }
    if (!(buf = malloc((7 * K * in + K * S + 3 * K * classes + 3 * K) * sizeof *buf)))
        TRY("allocating", NNP_ENOMEM);
    g = buf, gu = g + K * in, gv = gu + K * in, xs = gv + K * in, ds = xs + K * in;
    xpm = ds + K * in, phi = xpm + 2 * K * in, logits = phi + K * S;
    zpm = logits + K * classes, loss = zpm + 2 * K * classes, value = loss + K, vs = value + K;

    /* The queries, each one batched call on the one workspace. */
    TRY("nnp_workspace_create", nnp_workspace_create(net, 2 * K, &ws));
    TRY("nnp_grad_loss", nnp_grad_loss(net, ws, x, y, K, g, loss, logits));
    /* nnp_grad_unit takes one unit for the whole batch: one batched call per true class present,
     * on the examples of that class gathered into xs. */
    for (size_t cls = 0; cls < classes; cls++) {
        size_t m = 0;
        for (size_t i = 0; i < K; i++)
            if ((size_t)y[i] == cls) memcpy(xs + m++ * in, x + i * in, in * sizeof *x);
        if (m > 0) TRY("nnp_grad_unit", nnp_grad_unit(net, ws, xs, m, last, cls, ds, vs));
        for (size_t i = 0, j = 0; j < m; i++)
            if ((size_t)y[i] == cls) {
                memcpy(gu + i * in, ds + j * in, in * sizeof *ds);
                value[i] = vs[j++];
            }
    }
    TRY("nnp_net_forward_layer", nnp_net_forward_layer(net, ws, x, K, layer, phi));
    TRY("nnp_grad_vjp", nnp_grad_vjp(net, ws, x, K, layer, phi, gv));
    /* Finite difference: x + h·u (first K rows) and x − h·u (next K), one forward pass. */
    for (size_t i = 0; i < K; i++) {
        double gn = norm2(g + i * in, in);
        for (size_t j = 0; j < in; j++) {
            float u = gn > 0 ? (float)(g[i * in + j] / gn) : 0.0f;
            xpm[i * in + j] = x[i * in + j] + FD_STEP * u;
            xpm[(K + i) * in + j] = x[i * in + j] - FD_STEP * u;
        }
    }
    TRY("nnp_net_forward", nnp_net_forward(net, ws, xpm, 2 * K, zpm));

    printf("data         %zu training, %zu test examples of %zux%zux%zu (%s)\n", n_train, n_test,
           ch, hh, ww, cm.random_data ? "random points" : onnx ? cm.path[2] : cm.path[0]);
    if (!isnan(test_err)) printf("test error   %.2f%%\n", 100.0 * test_err);
    printf("vjp layer    %zu (%s, %zu units): J^T phi = gradient of ½‖phi‖²\n", layer,
           nnp_layer_kind_name(info.kind), S);
    printf("finite diff  (L(x+hu) - L(x-hu))/2h, h = %g, u = g/‖g‖, g = dL/dx; rel.diff = "
           "|FD - ‖g‖|/‖g‖\n\n", (double)FD_STEP);
    printf("%6s %5s %4s %10s %9s %10s %10s %10s %10s %9s\n", "index", "label", "pred", "loss",
           "z_y", "|dL/dx|", "|dz_y/dx|", "|J^T phi|", "FD dL/du", "rel.diff");
    for (size_t i = 0; i < K; i++) {
        size_t pred = 0;
        const float *z = logits + i * classes;
        for (size_t k = 1; k < classes; k++) pred = z[k] > z[pred] ? k : pred;
        double gn = norm2(g + i * in, in);
        double fd = (xent(zpm + i * classes, classes, y[i]) -
                     xent(zpm + (K + i) * classes, classes, y[i])) / (2.0 * FD_STEP);
        printf("%6zu %5d %4zu %10.4g %9.4g %10.4g %10.4g %10.4g %10.4g ", pick[i], (int)y[i], pred,
               (double)loss[i], (double)value[i], gn, norm2(gu + i * in, in),
               norm2(gv + i * in, in), fd);
        if (gn > 0) printf("%9.2e\n", fabs(fd - gn) / gn);
        else printf("%9s\n", "n/a");
    }

    if (save) { /* per example 0.5 + g/(2·max|g|), in [0,1]; same shape as the selected images */
        for (size_t i = 0; i < K; i++) {
            float m = 0;
            for (size_t j = 0; j < in; j++) m = fmaxf(m, fabsf(g[i * in + j]));
            for (size_t j = 0; j < in; j++)
                xs[i * in + j] = m > 0 ? 0.5f + g[i * in + j] / (2 * m) : 0.5f;
        }
        TRY("--save-gradients", nnp_dataset_shape(sel, &ch, &hh, &ww));
        RUN(cli_save_idx("--save-gradients", save, save_labels, xs, y, K, ch, hh, ww));
        printf("\nsaved        %zu gradient images (float IDX, 0.5 + g/(2·max|g|)) to %s, "
               "labels to %s\n", K, save, save_labels);
    }
    rc = CLI_OK;
done:
    nnp_workspace_free(ws);
    nnp_net_free(net);
    nnp_dataset_free(sel);
    nnp_dataset_free(sub);
    nnp_dataset_free(test);
    nnp_dataset_free(train);
    free(buf);
    free(predicted);
    return rc;
}
