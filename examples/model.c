/* Builds and trains the classifier of an example program (see model.h). */
#define _POSIX_C_SOURCE 200809L
#include "model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "netspec.h"

typedef struct bar {
    int tty, quiet;
    volatile const sig_atomic_t *cancel;
    double t0, last;
    int drawn;
} bar;

static int on_progress(uint64_t done, uint64_t total, void *user)
{
    bar *b = user;
    if (b->cancel && *b->cancel) return 1;
    double now = now_seconds();
    if (b->quiet || total == 0) return 0;
    if (!b->tty) { /* a log: one line at each quarter */
        if (done == total || (total >= 4 && done % (total / 4) == 0))
            fprintf(stderr, "training: %3d%%  %.1f s\n", (int)(100 * done / total), now - b->t0);
        return 0;
    }
    if (done != total && now - b->last < 0.1) return 0;
    fprintf(stderr, "\rtraining: %3d%%  %.1f s ", (int)(100 * done / total), now - b->t0);
    b->last = now;
    b->drawn = 1;
    return 0;
}

int model_train(const char *name, const nnp_dataset *train, size_t epochs, uint64_t seed,
                int quiet, volatile const sig_atomic_t *cancel, nnp_net **out)
{
    *out = NULL;
    const netspec_preset *pre = netspec_find_preset(name);
    if (pre && pre->ae_spec) {
        usage_error("model '%s' is an autoencoder preset; train it with nnprobe-train", name);
        return 2;
    }
    netspec sp;
    char err[512];
    if (netspec_parse(pre ? pre->spec : name, 0, &sp, err, sizeof err) != 0) {
        usage_error("%s", err);
        return 2;
    }
    size_t c, h, w;
    nnp_status s = nnp_dataset_shape(train, &c, &h, &w);
    if (s != NNP_OK) {
        lib_error("nnp_dataset_shape", s);
        return 1;
    }
    if (sp.input != c * h * w) {
        usage_error("model '%s' takes %zu inputs, the data have %zux%zux%zu", name, sp.input, c,
                    h, w);
        return 2;
    }
    if (netspec_classes(&sp) < nnp_dataset_class_count(train)) {
        usage_error("model '%s' has %zu classes, the labels go up to %zu", name,
                    netspec_classes(&sp), nnp_dataset_class_count(train) - 1);
        return 2;
    }
    nnp_net *net = NULL;
    if ((s = netspec_build(&sp, c, h, w, seed, &net)) != NNP_OK) {
        lib_error("building the model", s);
        return 1;
    }
    nnp_train_opts o;
    if ((s = nnp_train_opts_init(&o)) != NNP_OK) {
        lib_error("nnp_train_opts_init", s);
        nnp_net_free(net);
        return 1;
    }
    if (epochs) o.epochs = epochs;
    o.seed = seed;
    if (pre) {
        o.weight_decay = pre->lambda;
        o.n_weight_decay = pre->n_lambda;
    }
    bar b = {isatty(STDERR_FILENO), quiet, cancel, now_seconds(), 0, 0};
    o.progress = on_progress;
    o.progress_user = &b;
    s = nnp_train(net, train, &o, NULL);
    if (b.drawn) fputc('\n', stderr);
    if (s != NNP_OK) {
        if (s == NNP_ECANCELLED) fprintf(stderr, "training interrupted\n");
        else lib_error("training the model", s);
        nnp_net_free(net);
        return s == NNP_ECANCELLED ? 130 : 1;
    }
    *out = net;
    return 0;
}

int model_is_onnx(const char *name)
{
    size_t n = strlen(name);
    return n > 5 && strcmp(name + n - 5, ".onnx") == 0;
}

int model_load_onnx(const char *path, nnp_net **out)
{
    nnp_status s = nnp_net_load_onnx(path, out);
    if (s != NNP_OK) {
        lib_error("loading the model", s);
        return 1;
    }
    return 0;
}
