/* Builds and trains the classifier of an example program (see model.h). */
#define _POSIX_C_SOURCE 200809L
#include "model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "netspec.h"

/* Parses `name` into *sp, its preset (if any) into *pre; refuses autoencoder presets, which
 * need nnprobe-train's two-phase training. Returns 0 or 2. */
static int parse_model(const char *name, netspec *sp, const netspec_preset **pre)
{
    *pre = netspec_find_preset(name);
    if (*pre && (*pre)->ae_spec) {
        usage_error("model '%s' is an autoencoder preset; train it with nnprobe-train", name);
        return CLI_USAGE;
    }
    if (model_is_onnx(name)) { /* a file, where this program wants a network to train */
        usage_error("'%s' is an ONNX file, but this program trains its model from a spec or a "
                    "preset (e.g. fc100-100-10 or 784-100s-10); to probe a saved model use "
                    "nnprobe-attack, nnprobe-maxact, nnprobe-lipschitz or nnprobe-info", name);
        return CLI_USAGE;
    }
    char err[512];
    if (netspec_parse(*pre ? (*pre)->spec : name, 0, sp, err, sizeof err) != 0) {
        usage_error("%s", err);
        return CLI_USAGE;
    }
    return CLI_OK;
}

int model_build(const char *name, uint64_t seed, nnp_net **out)
{
    *out = NULL;
    netspec sp;
    const netspec_preset *pre;
    int rc = parse_model(name, &sp, &pre);
    if (rc != CLI_OK) return rc;
    size_t s = (size_t)floor(sqrt((double)sp.input) + 0.5);
    nnp_status st = s * s == sp.input ? netspec_build(&sp, 1, s, s, seed, out)
                                      : netspec_build(&sp, 1, 1, sp.input, seed, out);
    if (st != NNP_OK) {
        lib_error("building the model", st);
        return CLI_FAILURE;
    }
    return CLI_OK;
}

int model_train(const char *name, const nnp_dataset *train, size_t epochs, uint64_t seed,
                int quiet, nnp_net **out)
{
    *out = NULL;
    netspec sp;
    const netspec_preset *pre;
    int rc = parse_model(name, &sp, &pre);
    if (rc != CLI_OK) return rc;
    size_t c, h, w;
    nnp_status s = nnp_dataset_shape(train, &c, &h, &w);
    if (s != NNP_OK) {
        lib_error("nnp_dataset_shape", s);
        return CLI_FAILURE;
    }
    if (sp.input != c * h * w) {
        usage_error("model '%s': input size %zu does not match the data's %zux%zux%zu", name,
                    sp.input, c, h, w);
        return CLI_USAGE;
    }
    if (netspec_classes(&sp) < nnp_dataset_class_count(train)) {
        usage_error("model '%s' has %zu classes, the labels go up to %zu", name,
                    netspec_classes(&sp), nnp_dataset_class_count(train) - 1);
        return CLI_USAGE;
    }
    nnp_net *net = NULL;
    if ((s = netspec_build(&sp, c, h, w, seed, &net)) != NNP_OK) {
        lib_error("building the model", s);
        return CLI_FAILURE;
    }
    nnp_train_opts o;
    if ((s = nnp_train_opts_init(&o)) != NNP_OK) {
        lib_error("nnp_train_opts_init", s);
        nnp_net_free(net);
        return CLI_FAILURE;
    }
    if (epochs) o.epochs = epochs;
    o.seed = seed;
    if (pre) {
        o.weight_decay = pre->lambda;
        o.n_weight_decay = pre->n_lambda;
    }
    cli_progress p;
    o.progress = cli_progress_cb;
    o.progress_user = cli_progress_start(&p, "training", quiet);
    p.epochs = o.epochs;
    s = nnp_train(net, train, &o, NULL);
    cli_progress_end(&p);
    if (s != NNP_OK) {
        if (s == NNP_ECANCELLED) fprintf(stderr, "training interrupted\n");
        else lib_error("training the model", s);
        nnp_net_free(net);
        return cli_status_rc(s);
    }
    *out = net;
    return CLI_OK;
}

int model_check(const char *name, const nnp_dataset *test, const nnp_net *net)
{
    if (nnp_net_input_size(net) != nnp_dataset_example_size(test)) {
        size_t c = 0, h = 0, w = 0;
        nnp_layer_info in = {.size = sizeof in};
        if (nnp_dataset_shape(test, &c, &h, &w) != NNP_OK || nnp_net_layer_info(net, 0, &in) != NNP_OK)
            c = h = w = 0;
        usage_error("model '%s' takes %zu inputs (%zux%zux%zu), the test images have %zu values "
                    "(%zux%zux%zu)", name, nnp_net_input_size(net), in.channels, in.height,
                    in.width, nnp_dataset_example_size(test), c, h, w);
        return CLI_USAGE;
    }
    if (nnp_net_output_size(net) < nnp_dataset_class_count(test)) {
        usage_error("model '%s' has %zu outputs, the test labels go up to %zu", name,
                    nnp_net_output_size(net), nnp_dataset_class_count(test) - 1);
        return CLI_USAGE;
    }
    return CLI_OK;
}

int model_get(const char *name, const nnp_dataset *train, const nnp_dataset *test,
              size_t epochs, uint64_t seed, int quiet, nnp_net **out)
{
    int rc = model_is_onnx(name) ? model_load_onnx(name, out)
                                 : model_train(name, train, epochs, seed, quiet, out);
    if (rc == CLI_OK) rc = model_check(name, test, *out);
    if (rc != CLI_OK) {
        nnp_net_free(*out);
        *out = NULL;
    }
    return rc;
}

int model_is_onnx(const char *name)
{
    size_t n = strlen(name);
    return n > 5 && strcmp(name + n - 5, ".onnx") == 0;
}

int model_load_onnx(const char *path, nnp_net **out)
{
    *out = NULL;
    nnp_status s = nnp_net_load_onnx(path, out);
    if (s != NNP_OK) {
        lib_error("loading the model", s);
        return CLI_FAILURE;
    }
    return CLI_OK;
}

int model_copy_layer(const nnp_net *from, nnp_net *to, size_t layer)
{
    nnp_layer_info info = {.size = sizeof info};
    nnp_status s = nnp_net_layer_info(from, layer, &info);
    float *w = NULL;
    if (s == NNP_OK) {
        /* +1: a layer without parameters still gets a valid buffer */
        w = malloc((info.weight_count + info.bias_count + 1) * sizeof *w);
        s = w ? nnp_net_get_params(from, layer, w, w + info.weight_count) : NNP_ENOMEM;
    }
    if (s == NNP_OK) s = nnp_net_set_params(to, layer, w, w + info.weight_count);
    free(w);
    if (s != NNP_OK) {
        lib_error("copying the encoder", s);
        return CLI_FAILURE;
    }
    return CLI_OK;
}
