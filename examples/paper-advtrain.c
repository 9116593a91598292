/* nnprobe-paper: the paper's §4.2 side result (docs/paper.md §3, "Adversarial training"):
 * FC100-100-10 trained with a pool of adversarial examples that is continually refreshed and
 * mixed into the batches, against the same net with weight decay only and with dropout only.
 * The pool lives in a batch hook (train.h, nnp_train_batch_fn): every REFRESH steps it attacks
 * half of the current batch with the box-constrained L-BFGS on the net as it is, keeps the
 * successes (with their true labels) in a ring of the profile's pool size, and replaces the
 * other half of every batch by pool entries. The paper kept pools per layer (adversarial
 * examples of each layer's outputs training the layers above); this one is input-level only. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "paper.h"

#define REFRESH 10 /* steps between two refreshes of the pool */
#define SPEC "784-100s-100s-10"

typedef struct pool {
    float *x, *xa, *tmp;
    int32_t *y;
    nnp_attack_result *res;
    size_t cap, n, next, d, found;
    uint64_t rng;
    nnp_attack_lbfgs_opts lbfgs;
    nnp_status err;
} pool;

static uint64_t next_rand(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull; /* Knuth's MMIX LCG */
    return *s >> 33;
}

/* The batch hook: refresh from the first half, then mix the pool into the second half. */
static int pool_hook(const nnp_net *net, float *x, int32_t *labels, size_t n, uint64_t step,
                     void *user)
{
    pool *p = user;
    const size_t half = n / 2, d = p->d;
    if (half && step % REFRESH == 0) {
        memcpy(p->tmp, x, half * d * sizeof *x);
        p->err = nnp_attack_lbfgs(net, p->tmp, labels, NULL, half, &p->lbfgs, p->xa, p->res);
        if (p->err != NNP_OK) return 1;
        for (size_t i = 0; i < half; i++) {
            if (!p->res[i].success || p->res[i].rms <= 0) continue;
            memcpy(p->x + p->next * d, p->xa + i * d, d * sizeof *x);
            p->y[p->next] = labels[i];
            p->next = (p->next + 1) % p->cap;
            p->n += p->n < p->cap;
            p->found++;
        }
    }
    for (size_t i = half; i < n && p->n; i++) {
        size_t k = (size_t)(next_rand(&p->rng) % p->n);
        memcpy(x + i * d, p->x + k * d, d * sizeof *x);
        labels[i] = p->y[k];
    }
    return cli_interrupted();
}

static int pool_init(paper_ctx *c, pool *p)
{
    const size_t d = 784, b = 100; /* the training batch (library default) */
    memset(p, 0, sizeof *p);
    p->cap = c->pf->advtrain_pool;
    p->d = d;
    p->rng = c->cm.seed;
    p->x = malloc(p->cap * d * sizeof *p->x);
    p->y = malloc(p->cap * sizeof *p->y);
    p->xa = malloc(b * d * sizeof *p->xa);
    p->tmp = malloc(b * d * sizeof *p->tmp);
    p->res = malloc(b * sizeof *p->res);
    nnp_status s = p->x && p->y && p->xa && p->tmp && p->res
                       ? nnp_attack_lbfgs_opts_init(&p->lbfgs) : NNP_ENOMEM;
    p->lbfgs.c_bisect_steps = 2; /* a cheap pool: near-minimal, not minimal, distortions */
    if (s != NNP_OK) lib_error("the adversarial pool", s);
    return cli_status_rc(s);
}

static void pool_free(pool *p)
{
    free(p->x);
    free(p->y);
    free(p->xa);
    free(p->tmp);
    free(p->res);
}

/* Mean minimum L-BFGS distortion over the changed successes of the first n test examples. */
static int robustness(paper_ctx *c, const nnp_net *net, const char *name, double *mean)
{
    const size_t n = c->pf->attacked, d = 784;
    float *xa = malloc(n * d * sizeof *xa);
    nnp_attack_result *res = malloc(n * sizeof *res);
    nnp_attack_lbfgs_opts o;
    cli_progress pr;
    nnp_status s = xa && res ? nnp_attack_lbfgs_opts_init(&o) : NNP_ENOMEM;
    o.c_bisect_steps = c->pf->bisect_steps;
    o.progress = cli_progress_cb;
    o.progress_user = paper_progress(c, &pr, "§4.2: attacking %s", name);
    if (s == NNP_OK)
        s = nnp_attack_lbfgs(net, nnp_dataset_images(c->test), nnp_dataset_labels(c->test), NULL,
                             n, &o, xa, res);
    cli_progress_end(&pr);
    double sum = 0;
    size_t k = 0;
    for (size_t i = 0; s == NNP_OK && i < n; i++)
        if (res[i].success && res[i].rms > 0) {
            sum += res[i].rms;
            k++;
        }
    *mean = k ? sum / (double)k : NAN; /* NAN: every example was already misclassified */
    free(xa);
    free(res);
    if (s != NNP_OK) lib_error(name, s);
    return cli_status_rc(s);
}

int paper_advtrain(paper_ctx *c)
{
    const paper_model *decay = paper_table1_model(3);
    char variant[96];
    pool p;
    snprintf(variant, sizeof variant, "adv-pool-%zu-refresh-%d-half-lbfgs-bisect-2",
             c->pf->advtrain_pool, REFRESH);
    paper_model m[3] = {
        {"FC100-100-10 weight decay", SPEC, NULL, {0}, 3, 0, NULL, NULL, NULL},
        {"FC100-100-10 dropout", SPEC, NULL, {0}, 0, 0.5f, NULL, NULL, "dropout"},
        {"FC100-100-10 adversarial", SPEC, NULL, {0}, 3, 0, pool_hook, &p, variant},
    };
    static const double paper_err[3] = {0.016, 0.013, 0.012}; /* docs/paper.md §3 (MNIST) */
    memcpy(m[0].lambda, decay->lambda, sizeof m[0].lambda); /* Table 1's λ */
    memcpy(m[2].lambda, decay->lambda, sizeof m[2].lambda);
    int rc = pool_init(c, &p);
    ptable *t = ptab_add(c->rep, "advtrain", "§4.2: FC100-100-10 with weight decay only, with "
                         "dropout only, and trained on a refreshed pool of adversarial examples",
                         "test error:p", "train error:p", "mean distortion:d", NULL);
    double err[3] = {NAN, NAN, NAN}, dist[3] = {NAN, NAN, NAN};
    for (size_t i = 0; i < 3 && rc == CLI_OK; i++) {
        nnp_net *net = NULL;
        double tr = NAN;
        rc = paper_get_model(c, &m[i], c->train, c->pf->advtrain_epochs, c->cm.seed, &net);
        if (rc == CLI_OK && p.err != NNP_OK) {
            lib_error("the adversarial pool's attack", p.err);
            rc = CLI_FAILURE;
        }
        if (rc == CLI_OK) rc = paper_error(net, c->test, &err[i]);
        if (rc == CLI_OK) rc = paper_error(net, c->train, &tr);
        if (rc == CLI_OK) rc = robustness(c, net, m[i].name, &dist[i]);
        nnp_net_free(net);
        size_t r = ptab_row(t, "%s", m[i].name);
        t->v[r][0] = err[i];
        t->v[r][1] = tr;
        t->v[r][2] = dist[i];
        t->paper[r][0] = paper_err[i];
    }
    if (rc == CLI_OK) {
        snprintf(t->note, sizeof t->note, "%zu epochs each. Dropout: ratio 0.5 after both "
                 "hidden layers, no weight decay. Adversarial: weight decay as Table 1, and every "
                 "%d steps half of the batch attacked (L-BFGS, 2 bisection steps) on the current "
                 "net into a pool of %zu, the other half of every "
                 "batch drawn from the pool. Mean distortion: minimum L-BFGS RMS over %zu test "
                 "examples (higher = more robust).", c->pf->advtrain_epochs, REFRESH,
                 c->pf->advtrain_pool, c->pf->attacked);
        if (!c->cm.quiet && p.found)
            fprintf(stderr, "§4.2: %zu adversarial examples went through the pool\n", p.found);
        paper_finding(c->rep, err[2] < err[0], "adversarial training lowers the test error "
                      "below weight decay alone", "test error %.2f%% vs %.2f%% (dropout %.2f%%)",
                      100 * err[2], 100 * err[0], 100 * err[1]);
        paper_finding(c->rep, dist[2] > dist[0], "adversarial training raises the minimum "
                      "distortion needed to fool the net", "mean RMS %.4f vs %.4f", dist[2],
                      dist[0]);
    }
    pool_free(&p);
    return rc;
}
