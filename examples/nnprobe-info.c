/* nnprobe-info: loads an ONNX model and prints its layer table (kind, inputs, output shape,
 * parameter count), the input and output sizes and the total parameter count.
 *
 *   nnprobe-info MODEL.onnx
 *   nnprobe-info - < MODEL.onnx     (reads the model from standard input)
 *
 * Exit status: 0 success, 1 the model does not load (the message says why), 2 bad usage. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nnprobe/nnprobe.h>

#include "cli.h"

#define PROG "nnprobe-info"

static void print_help(void)
{
    printf("Usage: " PROG " [OPTION]... MODEL.onnx\n"
           "Loads an ONNX model (exported from PyTorch or saved by nnprobe-train --save) and\n"
           "prints its layer table: kind, input layers, output shape C×H×W, parameters, and\n"
           "the workspace memory a forward/backward pass needs at batch 1 and 128.\n"
           "MODEL.onnx '-' reads the model from standard input.\n"
           "A Softmax/LogSoftmax output head is removed on loading: the net's output are logits.\n"
           "\n"
           "Options:\n"
           "  -h, --help      show this help and exit\n"
           "  -V, --version   show the library version and exit\n"
           "\n"
           "Exit status: 0 success, 1 the model does not load, 2 bad usage.\n");
}

int main(int argc, char **argv)
{
    cli_set_prog(PROG);
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            print_help();
            return EXIT_SUCCESS;
        }
        if (strcmp(argv[i], "-V") == 0 || strcmp(argv[i], "--version") == 0) {
            printf(PROG " (libnnprobe) %s (threads %zu)\n", nnp_version_string(),
                   nnp_threads_get());
            return EXIT_SUCCESS;
        }
        if (argv[i][0] == '-' && argv[i][1]) { /* "-" alone is standard input */
            usage_error("unknown option '%s'", argv[i]);
            return 2;
        }
        if (path) {
            usage_error("one model file expected, got '%s' and '%s'", path, argv[i]);
            return 2;
        }
        path = argv[i];
    }
    if (!path) {
        usage_error("no model file given");
        return 2;
    }

    nnp_net *net = NULL;
    nnp_status s;
    if (strcmp(path, "-") == 0) {
        /* whole of stdin into memory, then nnp_net_load_onnx_memory() */
        size_t cap = 1 << 16, len = 0, got;
        unsigned char *buf = malloc(cap);
        while (buf && (got = fread(buf + len, 1, cap - len, stdin)) > 0) {
            len += got;
            if (len == cap) {
                unsigned char *nb = realloc(buf, cap * 2);
                if (!nb) free(buf);
                buf = nb;
                cap *= 2;
            }
        }
        if (!buf || ferror(stdin)) {
            fprintf(stderr, PROG ": cannot read standard input\n");
            free(buf);
            return EXIT_FAILURE;
        }
        s = nnp_net_load_onnx_memory(buf, len, &net);
        free(buf);
        path = "(standard input)";
    } else {
        s = nnp_net_load_onnx(path, &net);
    }
    if (s != NNP_OK) {
        lib_error("loading the model", s);
        return EXIT_FAILURE;
    }
    nnp_layer_info in = {.size = sizeof in};
    if ((s = nnp_net_layer_info(net, 0, &in)) != NNP_OK) {
        lib_error("layer 0", s);
        nnp_net_free(net);
        return EXIT_FAILURE;
    }
    printf("model        %s\n", path);
    printf("input        %zux%zux%zu (%zu values per example)\n", in.channels, in.height,
           in.width, in.output_size);
    printf("%5s  %-15s %-9s %-14s %10s  %s\n", "layer", "kind", "inputs", "output CxHxW", "params",
           "attributes");
    for (size_t l = 0; l < nnp_net_layer_count(net); l++) {
        nnp_layer_info info = {.size = sizeof info};
        if ((s = nnp_net_layer_info(net, l, &info)) != NNP_OK) {
            lib_error("layer info", s);
            nnp_net_free(net);
            return EXIT_FAILURE;
        }
        char inputs[48] = "-", shape[48];
        if (info.n_inputs == 1) snprintf(inputs, sizeof inputs, "%zu", info.inputs[0]);
        if (info.n_inputs >= 2)
            snprintf(inputs, sizeof inputs, "%zu,%zu", info.inputs[0], info.inputs[1]);
        snprintf(shape, sizeof shape, "%zux%zux%zu", info.channels, info.height, info.width);
        char attrs[160] = "";
        if (info.kernel_h) /* convolution and pooling */
            snprintf(attrs, sizeof attrs, "kernel %zux%zu stride %zux%zu pad %zu,%zu,%zu,%zu",
                     info.kernel_h, info.kernel_w, info.stride_h, info.stride_w, info.pad_top,
                     info.pad_left, info.pad_bottom, info.pad_right);
        if (info.groups) { /* convolution */
            size_t len = strlen(attrs);
            snprintf(attrs + len, sizeof attrs - len, " dilation %zux%zu groups %zu",
                     info.dilation_h, info.dilation_w, info.groups);
        }
        if (info.kind == NNP_LAYER_LEAKY_RELU) snprintf(attrs, sizeof attrs, "alpha %g", info.alpha);
        if (info.ceil_mode) { /* pooling */
            size_t len = strlen(attrs);
            snprintf(attrs + len, sizeof attrs - len, " ceil_mode");
        }
        if (info.kind == NNP_LAYER_CLIP)
            snprintf(attrs, sizeof attrs, "min %g max %g", info.clip_min, info.clip_max);
        if (info.kind == NNP_LAYER_HARD_SIGMOID)
            snprintf(attrs, sizeof attrs, "alpha %g beta %g", info.alpha, info.beta);
        if (info.kind == NNP_LAYER_PAD)
            snprintf(attrs, sizeof attrs, "pad %zu,%zu,%zu,%zu", info.pad_top, info.pad_left,
                     info.pad_bottom, info.pad_right);
        printf("%5zu  %-15s %-9s %-14s %10zu%s%s\n", l, nnp_layer_kind_name(info.kind), inputs,
               shape, info.weight_count + info.bias_count, attrs[0] ? "  " : "", attrs);
    }
    printf("outputs      %zu (logits)\n", nnp_net_output_size(net));
    printf("parameters   %zu\n", nnp_net_param_count(net));
    /* what a pass will allocate, known before any pass: a model whose layers grow the map
     * shows it here rather than by exhausting memory (issue 17) */
    size_t ws1 = 0, ws128 = 0;
    if ((s = nnp_workspace_bytes(net, 1, &ws1)) != NNP_OK ||
        (s = nnp_workspace_bytes(net, 128, &ws128)) != NNP_OK) {
        lib_error("workspace size", s);
        nnp_net_free(net);
        return EXIT_FAILURE;
    }
    printf("workspace    %zu bytes at batch 1, %zu at batch 128 (cap: NNPROBE_MAX_WORKSPACE_BYTES, "
           "default 4 GiB)\n",
           ws1, ws128);
    nnp_net_free(net);
    return EXIT_SUCCESS;
}
