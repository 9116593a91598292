/* The command-line module (cli.h), its data half for the probing programs: the data formats
 * (IDX, NumPy .npy, a directory of PNGs), the input normalisation of an ONNX model
 * (--mean/--std/--normalize, nnp_net_normalized), and the data a model is probed on when none
 * was given (random points in its input shape). docs/data.md describes them for users. */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imagedir.h"

/* torchvision's ImageNet preprocessing (transforms.Normalize in its classification references
 * and model cards) */
static const double IMAGENET_MEAN[3] = {0.485, 0.456, 0.406}, IMAGENET_STD[3] = {0.229, 0.224, 0.225};

static int ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), k = strlen(tail);
    return n >= k && strcasecmp(s + n - k, tail) == 0;
}

nnp_status cli_load_set(const char *images, const char *labels, nnp_dataset **out, char *msg,
                        size_t cap)
{
    nnp_status s;
    *out = NULL;
    if (imagedir_is_dir(images)) {
        if (labels != NULL)
            fprintf(stderr, "%s: note: --labels is ignored for a directory of images (the "
                    "labels are its sub-directories)\n", cli_prog());
        char err[1024];
        if ((s = imagedir_load(images, out, err, sizeof err)) != NNP_OK)
            snprintf(msg, cap, "%s: %s", nnp_status_name(s), err);
        return s;
    }
    s = ends_with(images, ".npy") || ends_with(images, ".npy.gz")
            ? nnp_dataset_load_npy(images, labels, out)
            : nnp_dataset_load_idx(images, labels, out);
    if (s != NNP_OK) snprintf(msg, cap, "%s: %s", nnp_status_name(s), nnp_last_error());
    return s;
}

int cli_data_option(cli_common *c, int opt, const char *arg)
{
    switch (opt) {
    case CLI_OPT_DATA:
        c->file[2] = arg;
        if (c->file[3] == NULL) c->file[3] = ""; /* unlabelled unless --labels is given */
        c->data_given = 1;
        return CLI_NEXT;
    case CLI_OPT_LABELS: c->file[3] = arg; c->data_given = 1; return CLI_NEXT;
    case CLI_OPT_MEAN:
        return parse_double_list("--mean", arg, CLI_MAX_CHANNELS, -1e30, c->mean, &c->n_mean)
                   ? CLI_USAGE : CLI_NEXT;
    case CLI_OPT_STD:
        if (parse_double_list("--std", arg, CLI_MAX_CHANNELS, 0.0, c->std, &c->n_std))
            return CLI_USAGE;
        for (size_t i = 0; i < c->n_std; i++)
            if (!(c->std[i] > 0.0)) {
                usage_error("--std: each value must be > 0, got %g", c->std[i]);
                return CLI_USAGE;
            }
        return CLI_NEXT;
    case CLI_OPT_NORMALIZE:
        if (strcasecmp(arg, "imagenet") == 0) {
            memcpy(c->mean, IMAGENET_MEAN, sizeof IMAGENET_MEAN);
            memcpy(c->std, IMAGENET_STD, sizeof IMAGENET_STD);
            c->n_mean = c->n_std = 3;
        } else if (strcasecmp(arg, "none") == 0) {
            c->n_mean = c->n_std = 0;
        } else {
            usage_error("--normalize: '%s' is not imagenet or none (or give --mean and --std)", arg);
            return CLI_USAGE;
        }
        return CLI_NEXT;
    default: return CLI_NOT_MINE;
    }
}

int cli_normalize(cli_common *c, const char *name, int onnx, nnp_net **net)
{
    if (c->n_mean == 0 && c->n_std == 0) return CLI_OK;
    if (c->n_mean == 0 || c->n_std == 0) {
        usage_error("give both --mean and --std (or --normalize imagenet)");
        return CLI_USAGE;
    }
    if (!onnx) {
        usage_error("--mean/--std describe what an ONNX model was trained on; '%s' is trained "
                    "here on pixels in [0,1]", name);
        return CLI_USAGE;
    }
    nnp_layer_info in = {.size = sizeof in};
    nnp_status s = nnp_net_layer_info(*net, 0, &in);
    if (s != NNP_OK) {
        lib_error("nnp_net_layer_info", s);
        return CLI_FAILURE;
    }
    const size_t C = in.channels;
    if (C > CLI_MAX_CHANNELS || (c->n_mean != 1 && c->n_mean != C) ||
        (c->n_std != 1 && c->n_std != C)) {
        usage_error("--mean has %zu value%s and --std %zu, but model '%s' has %zu input channel%s "
                    "(input %zux%zux%zu): give 1 or %zu each", c->n_mean,
                    c->n_mean == 1 ? "" : "s", c->n_std, name, C, C == 1 ? "" : "s", C,
                    in.height, in.width, C);
        return CLI_USAGE;
    }
    float mean[CLI_MAX_CHANNELS], sd[CLI_MAX_CHANNELS];
    for (size_t k = 0; k < C; k++) {
        mean[k] = (float)c->mean[c->n_mean == 1 ? 0 : k];
        sd[k] = (float)c->std[c->n_std == 1 ? 0 : k];
    }
    nnp_net *nn = NULL;
    if ((s = nnp_net_normalized(*net, mean, sd, C, &nn)) != NNP_OK) {
        lib_error("normalising the input", s);
        return CLI_FAILURE;
    }
    nnp_net_free(*net);
    *net = nn;
    if (!c->quiet)
        fprintf(stderr, "%s: note: the model sees (x - mean)/std per channel; probes work on "
                "pixels in [0,1]; layer 1 is the normalisation, the model's layer i is layer "
                "i+1\n", cli_prog());
    return CLI_OK;
}

/* Uniform [0,1) values from the seed (splitmix64 stream, as nnprobe-lipschitz --untrained). */
static void fill_random(float *x, size_t n, uint64_t seed)
{
    uint64_t st = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        uint64_t z = (st += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        x[i] = (float)((z ^ (z >> 31)) >> 40) / 16777216.0f;
    }
}

int cli_data_for_model(cli_common *c, const char *name, const nnp_net *net, size_t n,
                       int need_labels, nnp_dataset **test)
{
    nnp_layer_info in = {.size = sizeof in};
    nnp_status s = nnp_net_layer_info(net, 0, &in);
    if (s != NNP_OK) {
        lib_error("nnp_net_layer_info", s);
        return CLI_FAILURE;
    }
    size_t dc = 0, dh = 0, dw = 0;
    if (*test && nnp_dataset_shape(*test, &dc, &dh, &dw) != NNP_OK) dc = dh = dw = 0;
    const int fits = *test && dc * dh * dw == in.output_size;
    if (*test && c->data_given && dc > 1 && (dc != in.channels || dh != in.height) &&
        dc == in.height && dh == in.width && dw == in.channels) {
        usage_error("the data are %zux%zux%zu per image, model '%s' takes %zux%zux%zu: the data "
                    "look channel-last (N,H,W,C); store them as (N,C,H,W), e.g. "
                    "x.transpose(0, 3, 1, 2) in NumPy", dc, dh, dw, name, in.channels, in.height,
                    in.width);
        return CLI_USAGE;
    }
    if (fits || c->data_given) return CLI_OK; /* a given mismatch: the caller's message */
    const char *why = *test ? "does not fit it" : "cannot be loaded";
    if (need_labels) {
        usage_error("model '%s' takes %zux%zux%zu inputs and the default data (%s) %s: give "
                    "labelled data of that shape, e.g. --data images.npy --labels labels.npy",
                    name, in.channels, in.height, in.width, c->path[2], why);
        return CLI_USAGE;
    }
    const size_t d = in.output_size;
    float *x = malloc(n * d * sizeof *x);
    if (x == NULL) {
        lib_error("allocating random points", NNP_ENOMEM);
        return CLI_FAILURE;
    }
    fill_random(x, n * d, c->seed);
    nnp_dataset *r = NULL;
    s = nnp_dataset_create(n, in.channels, in.height, in.width, x, NULL, &r);
    free(x);
    if (s != NNP_OK) {
        lib_error("making random points", s);
        return CLI_FAILURE;
    }
    nnp_dataset_free(*test);
    *test = r;
    c->random_data = 1;
    fprintf(stderr, "%s: note: no data given and the default data (%s) %s: using %zu random "
            "points uniform in [0,1] in the model's input shape %zux%zux%zu (seed %" PRIu64
            "); give --data for real images\n", cli_prog(), c->path[2], why, n, in.channels,
            in.height, in.width, c->seed);
    return CLI_OK;
}
