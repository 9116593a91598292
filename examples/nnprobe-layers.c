/* nnprobe-layers: builds a small residual convnet that uses every layer kind, prints its layer
 * table (kind, inputs, output shape, parameters) and checks that a clone computes the same
 * logits. A tour of the builder API; it needs no data.
 *
 *   nnprobe-layers [--seed N]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nnprobe/nnprobe.h>

#include "cli.h"

#define PROG "nnprobe-layers"

static void print_table(const nnp_net *net)
{
    printf("%5s  %-15s %-9s %-14s %10s\n", "layer", "kind", "inputs", "output CxHxW", "params");
    for (size_t l = 0; l < nnp_net_layer_count(net); l++) {
        nnp_layer_info info = {.size = sizeof info};
        if (nnp_net_layer_info(net, l, &info) != NNP_OK) return;
        char inputs[32] = "-", shape[32];
        if (info.n_inputs == 1) snprintf(inputs, sizeof inputs, "%zu", info.inputs[0]);
        if (info.n_inputs == 2) snprintf(inputs, sizeof inputs, "%zu,%zu", info.inputs[0], info.inputs[1]);
        snprintf(shape, sizeof shape, "%zux%zux%zu", info.channels, info.height, info.width);
        printf("%5zu  %-15s %-9s %-14s %10zu\n", l, nnp_layer_kind_name(info.kind), inputs, shape,
               info.weight_count + info.bias_count);
    }
    printf("%d layer kinds in this library; this net has %zu parameters\n",
           nnp_layer_kind_count(), nnp_net_param_count(net));
}

int main(int argc, char **argv)
{
    cli_set_prog(PROG);
    size_t seed = 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
            if (parse_size("--seed", argv[++i], 0, &seed)) return 2;
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            printf("Usage: " PROG " [--seed N]\n"
                   "Builds a small residual convnet that uses every layer kind, prints its layer\n"
                   "table and checks that a clone computes the same logits. Needs no data.\n\n"
                   "      --seed N              seed of the random weights (default 1)\n"
                   CLI_HELP_HELP CLI_HELP_EXIT);
            return 0;
        } else if (strcmp(argv[i], "-V") == 0 || strcmp(argv[i], "--version") == 0) {
            printf(PROG " (libnnprobe) %s\n", nnp_version_string());
            return 0;
        } else {
            usage_error("unknown argument '%s' (usage: " PROG " [--seed N])", argv[i]);
            return 2;
        }
    }
    int rc = 1;
    nnp_net *net = NULL, *copy = NULL;
    float *x = NULL, *z1 = NULL, *z2 = NULL;

    /* stem: conv 3×3 (8 ch) – batch norm – relu – LRN */
    size_t stem, a, b;
    nnp_net_conv2d_opts conv;
    TRY("nnp_net_conv2d_opts_init", nnp_net_conv2d_opts_init(&conv));
    conv.out_channels = 8;
    conv.pad_top = conv.pad_left = conv.pad_bottom = conv.pad_right = 1;
    TRY("nnp_net_create", nnp_net_create(1, 12, 12, &net));
    TRY("conv", nnp_net_add_conv2d(net, &conv, NULL));
    TRY("batchnorm", nnp_net_add_batchnorm(net, 1e-5f, NULL));
    TRY("relu", nnp_net_add_activation(net, NNP_LAYER_RELU, NULL));
    TRY("hard swish", nnp_net_add_activation(net, NNP_LAYER_HARD_SWISH, NULL));
    TRY("lrn", nnp_net_add_lrn(net, 5, 1e-4f, 0.75f, 2.0f, &stem));
    /* residual block: depthwise 3×3 – tanh – 3×3, added to the stem's output */
    conv.groups = 8;
    TRY("depthwise conv", nnp_net_add_conv2d(net, &conv, NULL));
    TRY("tanh", nnp_net_add_activation(net, NNP_LAYER_TANH, NULL));
    conv.groups = 1;
    TRY("conv", nnp_net_add_conv2d(net, &conv, &a));
    TRY("add", nnp_net_add_add(net, stem, a, NULL));
    /* a second branch from the stem: 2×2 average pooling, joined after max pooling the sum */
    nnp_net_pool2d_opts pool;
    TRY("nnp_net_pool2d_opts_init", nnp_net_pool2d_opts_init(&pool));
    TRY("maxpool", nnp_net_add_maxpool2d(net, &pool, &a));
    TRY("branch", nnp_net_branch_from(net, stem));
    TRY("avgpool", nnp_net_add_avgpool2d(net, &pool, &b));
    TRY("add", nnp_net_add_add(net, a, b, NULL));
    /* head: contrast normalisation (the paper's §4.3), global pooling and a classifier */
    TRY("contrast norm", nnp_net_add_contrast_norm(net, 1.0f, 0.5f, NULL));
    TRY("pad", nnp_net_add_pad(net, 1, 1, 0, 0, NULL));
    TRY("global avgpool", nnp_net_add_global_avgpool(net, NULL));
    TRY("flatten", nnp_net_add_flatten(net, NULL));
    TRY("dropout", nnp_net_add_dropout(net, 0.5f, NULL));
    TRY("dense", nnp_net_add_dense(net, 16, NULL));
    TRY("softplus", nnp_net_add_activation(net, NNP_LAYER_SOFTPLUS, NULL));
    TRY("hard sigmoid", nnp_net_add_hard_sigmoid(net, 1.0 / 6.0, 0.5, NULL));
    TRY("dense", nnp_net_add_dense(net, 12, NULL));
    TRY("leaky relu", nnp_net_add_leaky_relu(net, 0.1, NULL));
    TRY("clip (ReLU6)", nnp_net_add_clip(net, 0.0, 6.0, NULL));
    TRY("dense", nnp_net_add_dense(net, 10, NULL));
    TRY("sigmoid", nnp_net_add_activation(net, NNP_LAYER_SIGMOID, NULL));
    TRY("dense", nnp_net_add_dense(net, 10, NULL));
    TRY("nnp_net_init_params", nnp_net_init_params(net, seed));
    print_table(net);

    /* A refused layer leaves the net unchanged and says why. */
    conv.groups = 3;
    nnp_status s = nnp_net_add_conv2d(net, &conv, NULL);
    printf("refused on purpose: %s (%s): %s\n", nnp_status_name(s), nnp_status_str(s),
           nnp_last_error());

    /* A clone computes the same logits. */
    const size_t n = 4, d = nnp_net_input_size(net), c = nnp_net_output_size(net);
    x = malloc(n * d * sizeof *x);
    z1 = malloc(n * c * sizeof *z1);
    z2 = malloc(n * c * sizeof *z2);
    if (!x || !z1 || !z2) {
        fprintf(stderr, PROG ": out of memory\n");
        goto done;
    }
    for (size_t i = 0; i < n * d; i++) x[i] = (float)((i * 7919) % 1000) / 1000.0f;
    TRY("nnp_net_clone", nnp_net_clone(net, &copy));
    TRY("nnp_net_forward", nnp_net_forward(net, NULL, x, n, z1));
    TRY("nnp_net_forward (clone)", nnp_net_forward(copy, NULL, x, n, z2));
    int same = memcmp(z1, z2, n * c * sizeof *z1) == 0;
    printf("clone gives %s logits; example 0: %.5f %.5f %.5f ...\n", same ? "identical" : "DIFFERENT",
           (double)z1[0], (double)z1[1], (double)z1[2]);
    rc = same ? 0 : 1;
done:
    free(x);
    free(z1);
    free(z2);
    nnp_net_free(copy);
    nnp_net_free(net);
    return rc;
}
