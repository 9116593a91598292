/* nnprobe-paper: the nets of the report, trained with one set of options and cached as ONNX
 * under a key of everything that determines their weights (paper.h). */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model.h"
#include "netspec.h"
#include "paper.h"

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

uint64_t paper_checksum(const nnp_dataset *d)
{
    const size_t n = nnp_dataset_count(d), m = nnp_dataset_example_size(d);
    uint64_t h = fnv(0xcbf29ce484222325ull, nnp_dataset_images(d), n * m * sizeof(float));
    if (nnp_dataset_labels(d)) h = fnv(h, nnp_dataset_labels(d), n * sizeof(int32_t));
    return h;
}

int paper_train_opts(nnp_train_opts *o, const paper_model *m, size_t epochs, uint64_t seed)
{
    nnp_status s = nnp_train_opts_init(o);
    if (s != NNP_OK) {
        lib_error("nnp_train_opts_init", s);
        return CLI_FAILURE;
    }
    o->epochs = epochs;
    o->seed = seed;
    o->decay_mode = NNP_DECAY_PER_UNIT; /* docs/paper.md §3, §8.7: the reproductions' reading */
    if (m && m->n_lambda) {
        o->weight_decay = m->lambda;
        o->n_weight_decay = m->n_lambda;
    }
    return CLI_OK;
}

int paper_error(const nnp_net *net, const nnp_dataset *d, double *err)
{
    nnp_status s = nnp_eval_error_rate(net, nnp_dataset_images(d), nnp_dataset_labels(d),
                                       nnp_dataset_count(d), err, NULL);
    if (s != NNP_OK) lib_error("nnp_eval_error_rate", s);
    return cli_status_rc(s);
}

/* The cache file of m: <cache>/<name>-<key>.onnx, the key an FNV-1a of every setting. */
static void cache_path(const paper_ctx *c, const paper_model *m, const nnp_train_opts *o,
                       uint64_t data_sum, char *buf, size_t len)
{
    char key[512];
    int k = snprintf(key, sizeof key, "%s|%s|%zu|%zu|%.17g|%.17g|%.17g|%d|%" PRIu64 "|%016" PRIx64,
                     m->spec, m->ae_spec ? m->ae_spec : "", o->epochs, o->batch_size,
                     o->learning_rate, o->momentum, o->lr_decay, (int)o->decay_mode, o->seed,
                     data_sum);
    if (k > 0 && (size_t)k < sizeof key)
        k += snprintf(key + k, sizeof key - (size_t)k, "|%g|%s", (double)m->dropout,
                      m->variant ? m->variant : "");
    for (size_t i = 0; i < m->n_lambda && k > 0 && (size_t)k < sizeof key; i++)
        k += snprintf(key + k, sizeof key - (size_t)k, "|%.17g", m->lambda[i]);
    uint64_t h = fnv(0xcbf29ce484222325ull, key, strlen(key));
    char name[64]; /* the model's name as a file name: letters, digits, '-', '.', else '_' */
    size_t i = 0;
    for (; m->name[i] && i + 1 < sizeof name; i++) {
        char ch = m->name[i];
        int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                 ch == '-' || ch == '.';
        name[i] = ok ? ch : '_';
    }
    name[i] = 0;
    snprintf(buf, len, "%s/%s-%016" PRIx64 ".onnx", c->cache, name, h);
}

/* One nnp_train() call with the progress display. */
static int train_phase(paper_ctx *c, nnp_net *net, const nnp_dataset *data, nnp_train_opts *o,
                       const char *what)
{
    cli_progress p;
    o->progress = cli_progress_cb;
    o->progress_user = paper_progress(c, &p, "training %s", what);
    p.epochs = o->epochs;
    nnp_status s = nnp_train(net, data, o, NULL);
    cli_progress_end(&p);
    if (s != NNP_OK) {
        if (s == NNP_ECANCELLED) fprintf(stderr, "nnprobe-paper: interrupted while training %s "
                                                 "(the nets trained so far are cached)\n", what);
        else lib_error(what, s);
    }
    return cli_status_rc(s);
}

int paper_build(const char *spec, int last_act, const nnp_dataset *data, uint64_t seed,
                nnp_net **out)
{
    netspec sp;
    char err[512];
    size_t ch, h, w;
    *out = NULL;
    if (netspec_parse(spec, last_act, &sp, err, sizeof err) != 0) {
        fprintf(stderr, "nnprobe-paper: %s\n", err);
        return CLI_FAILURE;
    }
    nnp_status s = nnp_dataset_shape(data, &ch, &h, &w);
    if (s == NNP_OK) s = netspec_build(&sp, ch, h, w, seed, out);
    if (s != NNP_OK) lib_error("building a net", s);
    return cli_status_rc(s);
}

/* Builds a dense spec with a dropout layer of the given ratio after every hidden layer. */
static int build_dropout(const char *spec, float ratio, uint64_t seed, nnp_net **out)
{
    netspec sp;
    char err[512];
    nnp_net *net = NULL;
    *out = NULL;
    if (netspec_parse(spec, 0, &sp, err, sizeof err) != 0) {
        fprintf(stderr, "nnprobe-paper: %s\n", err);
        return CLI_FAILURE;
    }
    nnp_status s = nnp_net_create(1, 28, 28, &net);
    for (size_t i = 0; s == NNP_OK && i < sp.n_layers; i++) {
        const netspec_layer *l = &sp.layers[i];
        s = l->kind == NETSPEC_DENSE ? nnp_net_add_dense(net, l->units, NULL) : NNP_EUNSUPPORTED;
        if (s == NNP_OK && l->act != NNP_LAYER_INPUT) s = nnp_net_add_activation(net, l->act, NULL);
        if (s == NNP_OK && i + 1 < sp.n_layers) s = nnp_net_add_dropout(net, ratio, NULL);
    }
    if (s == NNP_OK) s = nnp_net_init_params(net, seed);
    if (s != NNP_OK) {
        lib_error("building the dropout net", s);
        nnp_net_free(net);
        return CLI_FAILURE;
    }
    *out = net;
    return CLI_OK;
}

/* Trains m from scratch: the autoencoder first (squared error, no decay), its encoder
 * copied into the classifier and frozen, as nnprobe-train does for the AE presets. */
static int train_model(paper_ctx *c, const paper_model *m, const nnp_dataset *data,
                       nnp_train_opts *o, nnp_net **out)
{
    nnp_net *ae = NULL, *net = NULL;
    int rc = m->dropout > 0 ? build_dropout(m->spec, m->dropout, o->seed, &net)
                            : paper_build(m->spec, 0, data, o->seed, &net);
    o->dropout = m->dropout > 0;
    o->batch_hook = m->hook;
    o->batch_hook_user = m->hook_user;
    if (rc == CLI_OK && m->ae_spec) {
        nnp_train_opts ao = *o;
        ao.loss = NNP_LOSS_MSE;
        ao.weight_decay = NULL;
        ao.n_weight_decay = 0;
        char what[96];
        snprintf(what, sizeof what, "%s (autoencoder)", m->name);
        rc = paper_build(m->ae_spec, 1, data, o->seed, &ae);
        if (rc == CLI_OK) rc = train_phase(c, ae, data, &ao, what);
        if (rc == CLI_OK) rc = model_copy_layer(ae, net, 1);
        o->first_trainable_layer = nnp_net_layer_count(net) - 1; /* only the softmax layer */
    }
    if (rc == CLI_OK) rc = train_phase(c, net, data, o, m->name);
    nnp_net_free(ae);
    if (rc != CLI_OK) {
        nnp_net_free(net);
        net = NULL;
    }
    *out = net;
    return rc;
}

int paper_get_model(paper_ctx *c, const paper_model *m, const nnp_dataset *data, size_t epochs,
                    uint64_t seed, nnp_net **out)
{
    nnp_train_opts o;
    char path[CLI_PATH_LEN];
    *out = NULL;
    int rc = paper_train_opts(&o, m, epochs, seed);
    if (rc != CLI_OK) return rc;
    cache_path(c, m, &o, paper_checksum(data), path, sizeof path);
    if (c->cache && !c->fresh && access(path, R_OK) == 0 &&
        nnp_net_load_onnx(path, out) == NNP_OK) {
        c->n_cached++;
        if (!c->cm.quiet) fprintf(stderr, "%s: cached (%s)\n", m->name, path);
        return CLI_OK;
    }
    if ((rc = train_model(c, m, data, &o, out)) != CLI_OK) return rc;
    c->n_trained++;
    if (c->cache) {
        nnp_status s = nnp_net_save_onnx(*out, path);
        if (s != NNP_OK) lib_error("saving to the cache", s); /* not fatal: next run retrains */
    }
    return CLI_OK;
}
