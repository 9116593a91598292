/* nnprobe-paper: the second seed paper, Zhang et al. (2017), "Understanding deep learning
 * requires rethinking generalization": one net trained on true labels, on randomly permuted
 * labels and on random pixels; its training error per epoch shows that it memorises the
 * random labels (training error towards 0) while its test error stays at chance. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "paper.h"

#define ZHANG_SPEC "784-512r-10" /* Zhang et al.'s smallest MLP: one hidden layer of 512 */

enum { TRUE_LABELS, RANDOM_LABELS, RANDOM_PIXELS, N_VARIANTS };
static const char *const VARIANT[N_VARIANTS] = {"true labels", "random labels", "random pixels"};

/* The three training sets: the first n examples, the same with permuted labels, and images of
 * clipped Gaussian pixels (mean 0.3, stddev 0.3) with the true labels. */
static int make_sets(paper_ctx *c, size_t n, nnp_dataset **set)
{
    float *grey = malloc(n * 784 * sizeof *grey);
    nnp_status s = grey ? nnp_dataset_subset(c->train, 0, n, &set[TRUE_LABELS]) : NNP_ENOMEM;
    if (s == NNP_OK) s = nnp_dataset_subset(c->train, 0, n, &set[RANDOM_LABELS]);
    if (s == NNP_OK) s = nnp_dataset_permute_labels(set[RANDOM_LABELS], c->cm.seed);
    for (size_t i = 0; grey && i < n * 784; i++) grey[i] = 0.3f;
    if (s == NNP_OK) s = nnp_eval_noise_gaussian(grey, n * 784, 0.3, c->cm.seed + 7, grey);
    if (s == NNP_OK)
        s = nnp_dataset_create(n, 1, 28, 28, grey, nnp_dataset_labels(set[TRUE_LABELS]),
                               &set[RANDOM_PIXELS]);
    free(grey);
    if (s != NNP_OK) lib_error("Zhang et al.: the training sets", s);
    return cli_status_rc(s);
}

/* Trains one variant epoch by epoch (one nnp_train call each: the momentum restarts at every
 * epoch), its training error after each in err[e]. */
static int run_variant(paper_ctx *c, const nnp_dataset *d, size_t v, double *err, double *test)
{
    const paper_model m = {"zhang", ZHANG_SPEC, NULL, {0}, 0, 0, NULL, NULL, NULL};
    const size_t epochs = c->pf->zhang_epochs;
    nnp_net *net = NULL;
    int rc = paper_build(ZHANG_SPEC, 0, d, c->cm.seed, &net);
    nnp_train_opts o;
    cli_progress p;
    if (rc == CLI_OK) rc = paper_train_opts(&o, &m, 1, c->cm.seed);
    o.progress = cli_progress_cb;
    o.progress_user = paper_progress(c, &p, "Zhang et al.: %s, %zu epochs", VARIANT[v], epochs);
    for (size_t e = 0; e < epochs && rc == CLI_OK; e++) {
        o.seed = c->cm.seed + e;
        o.learning_rate = 0.05 * pow(0.99, (double)e); /* decayed: random pixels oscillate */
        nnp_status s = nnp_train(net, d, &o, NULL);
        if (s != NNP_OK) {
            lib_error(VARIANT[v], s);
            rc = cli_status_rc(s);
        }
        if (rc == CLI_OK) rc = paper_error(net, d, &err[e]);
        if (!c->cm.quiet) cli_progress_cb(e + 1, epochs, &p);
    }
    cli_progress_end(&p);
    if (rc == CLI_OK) rc = paper_error(net, c->test, test);
    nnp_net_free(net);
    return rc;
}

int paper_zhang(paper_ctx *c)
{
    const size_t n = c->pf->zhang_n, epochs = c->pf->zhang_epochs;
    nnp_dataset *set[N_VARIANTS] = {NULL};
    double *err = calloc(N_VARIANTS * epochs, sizeof *err), test[N_VARIANTS];
    int rc = err ? make_sets(c, n, set) : CLI_FAILURE;
    for (size_t v = 0; v < N_VARIANTS && rc == CLI_OK; v++)
        rc = run_variant(c, set[v], v, err + v * epochs, &test[v]);
    if (rc == CLI_OK) {
        ptable *t = ptab_add(c->rep, "zhang", "Zhang et al. (2017): training error per epoch "
                             "of " ZHANG_SPEC, "true labels:p", "random labels:p",
                             "random pixels:p", NULL);
        const size_t every = (epochs + PT_ROWS - 3) / (PT_ROWS - 2);
        for (size_t e = 0; e < epochs; e++) {
            if ((e + 1) % every != 0 && e + 1 != epochs) continue;
            size_t r = ptab_row(t, "epoch %zu", e + 1);
            for (size_t v = 0; v < N_VARIANTS; v++) t->v[r][v] = err[v * epochs + e];
        }
        snprintf(t->note, sizeof t->note, "%zu training examples, SGD (learning rate 0.05 "
                 "x 0.99^epoch, momentum 0.9, batch 100, no weight decay), one nnp_train call "
                 "per epoch. "
                 "Random labels: the labels permuted; random pixels: clipped Gaussian images "
                 "(mean 0.3, stddev 0.3) with the true labels.", n);
        ptable *f = ptab_add(c->rep, "zhang_final", "Zhang et al. (2017): final training and "
                             "test error", "train error:p", "test error:p", NULL);
        for (size_t v = 0; v < N_VARIANTS; v++) {
            size_t r = ptab_row(f, "%s", VARIANT[v]);
            f->v[r][0] = err[v * epochs + epochs - 1];
            f->v[r][1] = test[v];
            f->paper[r][0] = 0; /* Zhang et al.: every variant reaches zero training error */
            if (v) f->paper[r][1] = 0.9; /* chance on ten classes */
        }
        const double rl = err[RANDOM_LABELS * epochs + epochs - 1];
        paper_finding(c->rep, rl < 0.1 && test[RANDOM_LABELS] > 0.8, "the net memorises random "
                      "labels: training error below 10% while test error stays near chance",
                      "random labels: train %.1f%%, test %.1f%% after %zu epochs", 100 * rl,
                      100 * test[RANDOM_LABELS], epochs);
    }
    for (size_t v = 0; v < N_VARIANTS; v++) nnp_dataset_free(set[v]);
    free(err);
    return rc;
}
