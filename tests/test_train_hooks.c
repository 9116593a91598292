/* Training with dropout (nnp_train_opts.dropout, Srivastava et al. 2014) and the batch hook
 * (nnp_train_opts.batch_hook, for Szegedy et al. 2013 §4.2's pool of adversarial examples):
 * defaults unchanged, determinism, the masked passes against finite differences, the kept
 * fraction, inference untouched, the hook's view of the batches, its effect, cancellation,
 * refused batches, allocation failures. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/core.h"
#include "net/net_internal.h"
#include "testutil.h"
#include "train/objective.h"

/* The shared 8-D blobs (tests/testutil.h). */
static nnp_dataset *blobs(size_t n, uint64_t seed, int labelled)
{
    return tu_blobs8(n, seed, labelled);
}

/* 8 → dense(h) → relu → dropout(ratio) → dense(out); with ratio < 0, no dropout layer. */
static nnp_net *drop_net(size_t hidden, size_t out, float ratio, uint64_t seed)
{
    nnp_net *net = NULL;
    ck_assert_ok(nnp_net_create(1, 1, 8, &net));
    ck_assert_ok(nnp_net_add_dense(net, hidden, NULL));
    ck_assert_ok(nnp_net_add_activation(net, NNP_LAYER_RELU, NULL));
    if (ratio >= 0) ck_assert_ok(nnp_net_add_dropout(net, ratio, NULL));
    ck_assert_ok(nnp_net_add_dense(net, out, NULL));
    ck_assert_ok(nnp_net_init_params(net, seed));
    return net;
}

/* Trains a clone of `net` with `o` and returns its parameters (malloc'd). */
static float *trained(const nnp_net *net, const nnp_dataset *ds, const nnp_train_opts *o,
                      nnp_status want)
{
    nnp_net *copy = NULL;
    ck_assert_ok(nnp_net_clone(net, &copy));
    ck_assert_status(nnp_train(copy, ds, o, NULL), want);
    float *p = malloc(copy->n_params * sizeof(float));
    memcpy(p, copy->params, copy->n_params * sizeof(float));
    nnp_net_free(copy);
    return p;
}

/* ---------------------------------------------------------------- defaults unchanged */

/* The new fields' defaults train bit for bit as a caller that does not know them: an older
 * caller's struct (ending before `dropout`, garbage after it), the full struct with defaults,
 * NULL options (where the defaults allow), and dropout = 1 on a net without dropout layers. */
START_TEST(defaults_unchanged)
{
    nnp_dataset *ds = blobs(90, 3, 1);
    nnp_net *net = drop_net(12, 4, 0.5f, 7), *plain = drop_net(12, 4, -1, 7);
    const size_t P = net->n_params;
    nnp_train_opts full;
    ck_assert_ok(nnp_train_opts_init(&full));
    full.epochs = 3;
    full.batch_size = 16;
    struct {
        nnp_train_opts o;
    } old;
    memset(&old, 0xCD, sizeof old); /* the fields the old caller does not have: garbage */
    ck_assert_ok(nnp_train_opts_init_sized(&old.o, offsetof(nnp_train_opts, dropout)));
    ck_assert_uint_eq(old.o.size, offsetof(nnp_train_opts, dropout));
    ck_assert_int_ne(old.o.dropout, 0); /* really garbage: the library must not read it */
    old.o.epochs = 3;
    old.o.batch_size = 16;
    float *a = trained(net, ds, &full, NNP_OK), *b = trained(net, ds, &old.o, NNP_OK);
    ck_assert_mem_eq(a, b, P * sizeof(float));
    /* the net's dropout layer was the identity: same as the net without it */
    float *c = trained(plain, ds, &full, NNP_OK);
    ck_assert_mem_eq(a, c, P * sizeof(float));
    /* dropout = 1 changes nothing for a net without dropout layers */
    full.dropout = 1;
    float *d = trained(plain, ds, &full, NNP_OK);
    ck_assert_mem_eq(c, d, P * sizeof(float));
    /* NULL options = defaults (10 epochs, batch 100) */
    nnp_train_opts def;
    ck_assert_ok(nnp_train_opts_init(&def));
    float *e = trained(net, ds, NULL, NNP_OK), *f = trained(net, ds, &def, NNP_OK);
    ck_assert_mem_eq(e, f, P * sizeof(float));
    /* MSE (where the trainer now fills labels only for a hook): old size vs full */
    nnp_net *ae = drop_net(3, 8, 0.25f, 2);
    nnp_dataset *un = blobs(40, 5, 0);
    full.dropout = 0;
    full.loss = old.o.loss = NNP_LOSS_MSE;
    float *g = trained(ae, un, &full, NNP_OK), *h = trained(ae, un, &old.o, NNP_OK);
    ck_assert_mem_eq(g, h, ae->n_params * sizeof(float));
    free(a), free(b), free(c), free(d), free(e), free(f), free(g), free(h);
    nnp_net_free(ae);
    nnp_dataset_free(un);
    nnp_net_free(net);
    nnp_net_free(plain);
    nnp_dataset_free(ds);
}
END_TEST

START_TEST(new_options_validated)
{
    nnp_dataset *ds = blobs(20, 8, 1);
    nnp_net *net = drop_net(4, 4, 0.5f, 3);
    nnp_train_opts o;
    ck_assert_ok(nnp_train_opts_init(&o));
    o.dropout = 2;
    ck_assert_status(nnp_train(net, ds, &o, NULL), NNP_EINVAL);
    ck_assert_error_has("opts.dropout = 2");
    o.dropout = -1;
    ck_assert_status(nnp_train(net, ds, &o, NULL), NNP_EINVAL);
    ck_assert_error_has("dropout");
    nnp_net_free(net);
    nnp_dataset_free(ds);
}
END_TEST

/* ---------------------------------------------------------------- dropout */

/* Same seed, same parameters; another seed or dropout off, other parameters. */
START_TEST(dropout_deterministic)
{
    nnp_dataset *ds = blobs(100, 4, 1);
    nnp_net *net = drop_net(16, 4, 0.5f, 6);
    const size_t P = net->n_params;
    nnp_train_opts o;
    ck_assert_ok(nnp_train_opts_init(&o));
    o.epochs = 3;
    o.batch_size = 20;
    o.dropout = 1;
    o.seed = 42;
    float *a = trained(net, ds, &o, NNP_OK), *b = trained(net, ds, &o, NNP_OK);
    ck_assert_mem_eq(a, b, P * sizeof(float));
    o.seed = 43;
    float *c = trained(net, ds, &o, NNP_OK);
    ck_assert(memcmp(a, c, P * sizeof(float)) != 0);
    o.seed = 42;
    o.dropout = 0;
    float *d = trained(net, ds, &o, NNP_OK);
    ck_assert(memcmp(a, d, P * sizeof(float)) != 0);
    for (size_t p = 0; p < P; p++) ck_assert(isfinite(a[p]));
    free(a), free(b), free(c), free(d);
    nnp_net_free(net);
    nnp_dataset_free(ds);
}
END_TEST

/* nnp_train with dropout is exactly: the shuffle of the seed, then per step the masks drawn
 * from nnpi_train_mask_seed(seed, step), the masked objective's gradient, a momentum step.
 * Replayed by hand for 4 steps (cancelled by the progress callback), bit for bit; and the
 * masks of consecutive steps differ. */
static int stop_at_4(uint64_t done, uint64_t total, void *user)
{
    (void)total, (void)user;
    return done == 4;
}

START_TEST(dropout_replayed_by_hand)
{
    nnp_dataset *ds = blobs(50, 6, 1);
    nnp_net *a = drop_net(10, 4, 0.5f, 2), *b = NULL;
    ck_assert_ok(nnp_net_clone(a, &b));
    nnp_train_opts o;
    ck_assert_ok(nnp_train_opts_init(&o));
    o.epochs = 2;
    o.batch_size = 10;
    o.dropout = 1;
    o.seed = 9;
    o.progress = stop_at_4;
    ck_assert_status(nnp_train(a, ds, &o, NULL), NNP_ECANCELLED);

    size_t idx[50];
    nnpi_rng rng;
    nnpi_rng_seed(&rng, o.seed);
    for (size_t i = 0; i < 50; i++) idx[i] = i;
    for (size_t i = 49; i > 0; i--) {
        size_t j = (size_t)nnpi_rng_below(&rng, i + 1), t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
    }
    nnp_dataset *order = NULL;
    ck_assert_ok(nnp_dataset_select(ds, idx, 50, &order));
    nnp_workspace *ws = NULL;
    ck_assert_ok(nnp_workspace_create(b, 10, &ws));
    ck_assert_ok(nnpi_workspace_set_train(ws));
    const size_t drop = 3, m = 10 * b->nodes[drop].out_size;
    ck_assert_ptr_nonnull(ws->mask[drop]);
    ck_assert_ptr_null(ws->mask[1]);
    float *prev = malloc(m * sizeof(float));
    double decay[5] = {0}, ml;
    const size_t P = b->n_params;
    float *g = malloc(P * sizeof(float)), *v = calloc(P, sizeof(float));
    for (uint64_t step = 0; step < 4; step++) {
        nnpi_rng mr;
        nnpi_rng_seed(&mr, nnpi_train_mask_seed(o.seed, step));
        nnpi_workspace_draw_masks(ws, 10, &mr);
        if (step > 0) ck_assert(memcmp(prev, ws->mask[drop], m * sizeof(float)) != 0);
        memcpy(prev, ws->mask[drop], m * sizeof(float));
        nnpi_objective_grad(b, ws, nnp_dataset_images(order) + step * 80,
                            nnp_dataset_labels(order) + step * 10, 10, NNP_LOSS_SOFTMAX_XENT,
                            decay, 1, g, &ml);
        for (size_t p = 0; p < P; p++) {
            v[p] = 0.9f * v[p] - 0.1f * g[p];
            b->params[p] += v[p];
        }
    }
    ck_assert_mem_eq(a->params, b->params, P * sizeof(float));
    free(prev), free(g), free(v);
    nnp_workspace_free(ws);
    nnp_dataset_free(order);
    nnp_net_free(a);
    nnp_net_free(b);
    nnp_dataset_free(ds);
}
END_TEST

/* With masks drawn and held fixed, the masked net's parameter gradient (objective) and input
 * gradient (a dropout layer right after the input, so the input gradient crosses a mask)
 * match central differences of the masked forward pass. Tolerances as in test_train.c. */
START_TEST(dropout_backward_fd)
{
    nnp_net *net = NULL;
    ck_assert_ok(nnp_net_create(1, 1, 8, &net));
    ck_assert_ok(nnp_net_add_dropout(net, 0.3f, NULL));  /* 1 */
    ck_assert_ok(nnp_net_add_dense(net, 7, NULL));       /* 2 */
    ck_assert_ok(nnp_net_add_activation(net, NNP_LAYER_TANH, NULL));
    ck_assert_ok(nnp_net_add_dropout(net, 0.5f, NULL));  /* 4 */
    ck_assert_ok(nnp_net_add_dense(net, 4, NULL));       /* 5 */
    ck_assert_ok(nnp_net_init_params(net, 11));
    for (size_t p = 0; p < net->n_params; p++) net->params[p] += 0.05f; /* non-zero biases */
    const size_t n = 3, P = net->n_params, last = net->n_nodes - 1;
    float x[24];
    int32_t y[3] = {2, 0, 3};
    tu_fill_uniform(x, 24, 0, 1, 5);
    nnp_workspace *ws = NULL;
    ck_assert_ok(nnp_workspace_create(net, n, &ws));
    ck_assert_ok(nnpi_workspace_set_train(ws));
    nnpi_rng rng;
    nnpi_rng_seed(&rng, 1234);
    nnpi_workspace_draw_masks(ws, n, &rng);
    /* the test means something only if both masks drop some units and keep others */
    size_t zeros = 0, kept = 0;
    for (size_t j = 0; j < n * 8; j++) *(ws->mask[1][j] == 0.0f ? &zeros : &kept) += 1;
    for (size_t j = 0; j < n * 7; j++) *(ws->mask[4][j] == 0.0f ? &zeros : &kept) += 1;
    ck_assert_uint_gt(zeros, 3);
    ck_assert_uint_gt(kept, 3);

    double decay[6] = {0, 0, 0.01, 0, 0, 0.002}, ml;
    float *g = malloc(P * sizeof(float)), *g2 = malloc(P * sizeof(float));
    nnpi_objective_grad(net, ws, x, y, n, NNP_LOSS_SOFTMAX_XENT, decay, 1, g, &ml);
    for (size_t p = 0; p < P; p++) {
        float keep = net->params[p];
        net->params[p] = keep + 1e-2f;
        double fp = nnpi_objective_grad(net, ws, x, y, n, NNP_LOSS_SOFTMAX_XENT, decay, 99, g2, &ml);
        net->params[p] = keep - 1e-2f;
        double fm = nnpi_objective_grad(net, ws, x, y, n, NNP_LOSS_SOFTMAX_XENT, decay, 99, g2, &ml);
        net->params[p] = keep;
        double fd = (fp - fm) / (double)((keep + 1e-2f) - (keep - 1e-2f));
        ck_assert_msg(fabs(g[p] - fd) < 1e-3 * fmax(1, fabs(fd)), "param %zu: %g vs fd %g", p,
                      g[p], fd);
    }
    /* input gradient of L = Σ c ⊙ logits */
    float c[12], dx[24], out[12];
    tu_fill_uniform(c, 12, -1, 1, 6);
    nnpi_forward(net, ws, x, n, last);
    nnpi_backward_begin(ws);
    memcpy(ws->grad[last], c, sizeof c);
    ws->grad_set[last] = 1;
    nnpi_backward(net, ws, x, n, last, dx, NULL, 0);
    size_t zero_dx = 0;
    for (size_t j = 0; j < 24; j++) {
        float keep = x[j];
        double f[2];
        for (int s = 0; s < 2; s++) {
            x[j] = keep + (s ? -1e-2f : 1e-2f);
            nnpi_forward(net, ws, x, n, last);
            memcpy(out, nnpi_node_output(ws, x, last), sizeof out);
            f[s] = 0;
            for (int k = 0; k < 12; k++) f[s] += (double)c[k] * out[k];
        }
        x[j] = keep;
        double fd = (f[0] - f[1]) / (double)((keep + 1e-2f) - (keep - 1e-2f));
        ck_assert_msg(fabs(dx[j] - fd) < 1e-3 * fmax(1, fabs(fd)), "x[%zu]: %g vs fd %g", j,
                      dx[j], fd);
        if (ws->mask[1][j] == 0.0f) ck_assert_float_eq(dx[j], 0.0f);
        zero_dx += dx[j] == 0.0f;
    }
    ck_assert_uint_gt(zero_dx, 0);
    free(g), free(g2);
    nnp_workspace_free(ws);
    nnp_net_free(net);
}
END_TEST

/* The masks are Bernoulli(1 − p) scaled by 1/(1 − p): over 20 × 1000 units the kept fraction
 * is within 6 standard deviations of 1 − p, the kept values are exactly 1/(1 − p), and the
 * training-mode output is the input times the mask. */
START_TEST(dropout_kept_fraction)
{
    const float ratios[3] = {0.5f, 0.2f, 0.0f};
    for (int r = 0; r < 3; r++) {
        nnp_net *net = NULL;
        ck_assert_ok(nnp_net_create(1, 1, 1000, &net));
        ck_assert_ok(nnp_net_add_dropout(net, ratios[r], NULL));
        const size_t n = 20, m = n * 1000;
        float *x = malloc(m * sizeof(float));
        tu_fill_uniform(x, m, 0.5f, 1.5f, 3);
        nnp_workspace *ws = NULL;
        ck_assert_ok(nnp_workspace_create(net, n, &ws));
        ck_assert_ok(nnpi_workspace_set_train(ws));
        nnpi_rng rng;
        nnpi_rng_seed(&rng, 77 + (uint64_t)r);
        nnpi_workspace_draw_masks(ws, n, &rng);
        nnpi_forward(net, ws, x, n, 1);
        const double keep = 1.0 - (double)ratios[r];
        const float scale = (float)(1.0 / keep);
        size_t kept = 0;
        for (size_t j = 0; j < m; j++) {
            float mk = ws->mask[1][j], y = ws->act[1][j];
            ck_assert(mk == 0.0f || mk == scale);
            ck_assert_float_eq(y, x[j] * mk);
            kept += mk != 0.0f;
        }
        double frac = (double)kept / (double)m, sd = sqrt(keep * (1 - keep) / (double)m);
        ck_assert_msg(fabs(frac - keep) <= 6 * sd + 1e-12, "ratio %g: kept %g", (double)ratios[r],
                      frac);
        free(x);
        nnp_workspace_free(ws);
        nnp_net_free(net);
    }
}
END_TEST

/* ---------------------------------------------------------------- the batch hook */

typedef struct watch {
    const nnp_dataset *ds;
    const nnp_net *net;
    size_t batch, batches, N;
    uint64_t calls, next_step;
    unsigned *seen;          /* per example, in the current epoch */
    float *snapshot;         /* the params after the last completed step */
    int unlabelled;
    /* inference unaffected while training with dropout: the query's answer at each step */
    nnp_net *twin;           /* the same net without its dropout layer */
} watch;

/* Which example of the data set x is (the blobs are distinct). */
static size_t find_example(const nnp_dataset *ds, const float *x)
{
    const float *all = nnp_dataset_images(ds);
    for (size_t e = 0; e < nnp_dataset_count(ds); e++)
        if (memcmp(all + e * 8, x, 8 * sizeof(float)) == 0) return e;
    ck_abort_msg("the hook saw an example that is not in the data set");
    return 0;
}

static int watch_hook(const nnp_net *net, float *x, int32_t *labels, size_t n, uint64_t step,
                      void *user)
{
    watch *w = user;
    ck_assert_ptr_eq(net, w->net);
    ck_assert_uint_eq(step, w->next_step);
    w->next_step++;
    w->calls++;
    const size_t k = (size_t)(step % w->batches);
    ck_assert_uint_eq(n, k + 1 < w->batches ? w->batch : w->N - k * w->batch);
    if (k == 0) memset(w->seen, 0, w->N * sizeof *w->seen);
    const int32_t *ref = nnp_dataset_labels(w->ds);
    for (size_t i = 0; i < n; i++) {
        size_t e = find_example(w->ds, x + i * 8);
        w->seen[e]++;
        ck_assert_int_eq(labels[i], w->unlabelled ? -1 : ref[e]);
    }
    if (k + 1 == w->batches)
        for (size_t e = 0; e < w->N; e++) ck_assert_uint_eq(w->seen[e], 1);
    /* `net` holds the parameters after the last completed step */
    ck_assert_mem_eq(net->params, w->snapshot, net->n_params * sizeof(float));
    if (w->twin) {
        /* queries during dropout training see the dropout layer as the identity */
        float probe[16], y1[8], y2[8];
        tu_fill_uniform(probe, 16, 0, 1, step);
        for (size_t l = 1, t = 1; l < net->n_nodes; l++) {
            if (net->nodes[l].ops->kind == NNP_LAYER_DROPOUT) continue;
            float *wts = malloc((net->nodes[l].n_weights + 1) * sizeof(float));
            float *bias = malloc((net->nodes[l].n_bias + 1) * sizeof(float));
            ck_assert_ok(nnp_net_get_params(net, l, wts, bias));
            ck_assert_ok(nnp_net_set_params(w->twin, t, wts, bias));
            free(wts), free(bias);
            t++;
        }
        ck_assert_ok(nnp_net_forward(net, NULL, probe, 2, y1));
        ck_assert_ok(nnp_net_forward(w->twin, NULL, probe, 2, y2));
        ck_assert_mem_eq(y1, y2, sizeof y1);
    }
    return 0;
}

static int snapshot_progress(uint64_t done, uint64_t total, void *user)
{
    (void)done, (void)total;
    watch *w = user;
    memcpy(w->snapshot, w->net->params, w->net->n_params * sizeof(float));
    return 0;
}

/* Every example once per epoch, with its label (or −1 without labels, MSE), in batches of the
 * documented sizes, the step counting up across epochs, the net at the last completed step;
 * during dropout training, forward queries on the net see no dropout. */
START_TEST(hook_sees_every_example_once)
{
    const int mse = _i;
    const size_t N = 53, B = 10;
    nnp_dataset *ds = blobs(N, 12, !mse);
    nnp_net *net = drop_net(6, mse ? 8 : 4, 0.5f, 4);
    nnp_net *twin = mse ? NULL : drop_net(6, 4, -1, 4);
    watch w = {.ds = ds, .net = net, .batch = B, .batches = 6, .N = N, .unlabelled = mse,
               .twin = twin};
    w.seen = calloc(N, sizeof *w.seen);
    w.snapshot = malloc(net->n_params * sizeof(float));
    memcpy(w.snapshot, net->params, net->n_params * sizeof(float));
    nnp_train_opts o;
    ck_assert_ok(nnp_train_opts_init(&o));
    o.epochs = 3;
    o.batch_size = B;
    o.dropout = 1;
    o.loss = mse ? NNP_LOSS_MSE : NNP_LOSS_SOFTMAX_XENT;
    o.batch_hook = watch_hook;
    o.batch_hook_user = &w;
    o.progress = snapshot_progress;
    o.progress_user = &w;
    ck_assert_ok(nnp_train(net, ds, &o, NULL));
    ck_assert_uint_eq(w.calls, 18);
    free(w.seen);
    free(w.snapshot);
    nnp_net_free(twin);
    nnp_net_free(net);
    nnp_dataset_free(ds);
}
END_TEST

static int shift_x(const nnp_net *net, float *x, int32_t *labels, size_t n, uint64_t step,
                   void *user)
{
    (void)net, (void)labels, (void)step, (void)user;
    for (size_t j = 0; j < n * 8; j++) x[j] = x[j] * 0.5f + 0.25f;
    return 0;
}

static int rotate_labels(const nnp_net *net, float *x, int32_t *labels, size_t n,
                         uint64_t step, void *user)
{
    (void)net, (void)x, (void)step, (void)user;
    for (size_t i = 0; i < n; i++) labels[i] = (labels[i] + 1) % 4;
    return 0;
}

static int all_class_0(const nnp_net *net, float *x, int32_t *labels, size_t n, uint64_t step,
                       void *user)
{
    (void)net, (void)x, (void)step, (void)user;
    for (size_t i = 0; i < n; i++) labels[i] = 0;
    return 0;
}

/* What the hook writes is what the step trains on: a hook that transforms x (or the labels)
 * trains bit for bit as the transformed data set without a hook, and a hook that sets every
 * label to 0 gives a net that predicts 0 everywhere. */
START_TEST(hook_modifications_take_effect)
{
    const size_t N = 64;
    nnp_dataset *ds = blobs(N, 21, 1);
    nnp_net *net = drop_net(8, 4, 0.5f, 5);
    const size_t P = net->n_params;
    float *xs = malloc(N * 8 * sizeof(float));
    int32_t ys[64];
    for (size_t j = 0; j < N * 8; j++) xs[j] = nnp_dataset_images(ds)[j] * 0.5f + 0.25f;
    for (size_t i = 0; i < N; i++) ys[i] = (nnp_dataset_labels(ds)[i] + 1) % 4;
    nnp_dataset *shifted = NULL, *rotated = NULL;
    ck_assert_ok(nnp_dataset_create(N, 1, 1, 8, xs, nnp_dataset_labels(ds), &shifted));
    ck_assert_ok(nnp_dataset_create(N, 1, 1, 8, nnp_dataset_images(ds), ys, &rotated));
    nnp_train_opts o;
    ck_assert_ok(nnp_train_opts_init(&o));
    o.epochs = 4;
    o.batch_size = 16;
    o.dropout = 1;
    float *plain = trained(net, ds, &o, NNP_OK);
    float *ref_x = trained(net, shifted, &o, NNP_OK), *ref_y = trained(net, rotated, &o, NNP_OK);
    o.batch_hook = shift_x;
    float *hook_x = trained(net, ds, &o, NNP_OK);
    o.batch_hook = rotate_labels;
    float *hook_y = trained(net, ds, &o, NNP_OK);
    ck_assert_mem_eq(ref_x, hook_x, P * sizeof(float));
    ck_assert_mem_eq(ref_y, hook_y, P * sizeof(float));
    ck_assert(memcmp(plain, hook_x, P * sizeof(float)) != 0);
    ck_assert(memcmp(plain, hook_y, P * sizeof(float)) != 0);
    /* the data set itself is never written */
    for (size_t j = 0; j < N * 8; j++)
        ck_assert_float_eq(nnp_dataset_images(ds)[j] * 0.5f + 0.25f, xs[j]);

    o.batch_hook = all_class_0;
    o.epochs = 10;
    o.dropout = 0;
    ck_assert_ok(nnp_train(net, ds, &o, NULL));
    float logits[64 * 4];
    ck_assert_ok(nnp_net_forward(net, NULL, nnp_dataset_images(ds), N, logits));
    for (size_t i = 0; i < N; i++)
        for (int k = 1; k < 4; k++) ck_assert_float_gt(logits[i * 4], logits[i * 4 + k]);
    free(xs), free(plain), free(ref_x), free(ref_y), free(hook_x), free(hook_y);
    nnp_dataset_free(shifted);
    nnp_dataset_free(rotated);
    nnp_net_free(net);
    nnp_dataset_free(ds);
}
END_TEST

static int hook_stop_at_3(const nnp_net *net, float *x, int32_t *labels, size_t n,
                          uint64_t step, void *user)
{
    (void)net, (void)x, (void)labels, (void)n;
    *(uint64_t *)user = step;
    return step == 3 ? 7 : 0;
}

static int progress_stop_at_3(uint64_t done, uint64_t total, void *user)
{
    (void)total, (void)user;
    return done == 3;
}

/* A non-zero return before step 3 (0-based) cancels with NNP_ECANCELLED after three
 * completed steps: the same parameters as a progress callback stopping after step 3. */
START_TEST(hook_cancels)
{
    nnp_dataset *ds = blobs(50, 6, 1);
    nnp_net *net = drop_net(4, 4, 0.5f, 2);
    nnp_train_opts o;
    ck_assert_ok(nnp_train_opts_init(&o));
    o.epochs = 2;
    o.batch_size = 10;
    o.dropout = 1;
    uint64_t last = 0;
    o.batch_hook = hook_stop_at_3;
    o.batch_hook_user = &last;
    double loss = -1;
    nnp_net *a = NULL;
    ck_assert_ok(nnp_net_clone(net, &a));
    ck_assert_status(nnp_train(a, ds, &o, &loss), NNP_ECANCELLED);
    ck_assert_error_has("batch_hook");
    ck_assert_uint_eq(last, 3);
    ck_assert_double_eq(loss, -1); /* no epoch completed */
    o.batch_hook = NULL;
    o.progress = progress_stop_at_3;
    float *b = trained(net, ds, &o, NNP_ECANCELLED);
    ck_assert_mem_eq(a->params, b, net->n_params * sizeof(float));
    free(b);
    nnp_net_free(a);
    nnp_net_free(net);
    nnp_dataset_free(ds);
}
END_TEST

static int bad_label(const nnp_net *net, float *x, int32_t *labels, size_t n, uint64_t step,
                     void *user)
{
    (void)net, (void)x, (void)user;
    if (step == 2) labels[n - 1] = 4;
    return 0;
}

static int bad_x(const nnp_net *net, float *x, int32_t *labels, size_t n, uint64_t step,
                 void *user)
{
    (void)net, (void)labels, (void)user, (void)n;
    if (step == 2) x[13] = NAN;
    return 0;
}

/* A batch the objective cannot use is refused (NNP_EINVAL naming the hook) before its step:
 * the net holds the parameters after two completed steps. */
static int progress_stop_at_2(uint64_t done, uint64_t total, void *user)
{
    (void)total, (void)user;
    return done == 2;
}

START_TEST(hook_bad_batch_refused)
{
    nnp_dataset *ds = blobs(50, 6, 1);
    nnp_net *net = drop_net(4, 4, 0.5f, 2);
    nnp_train_opts o;
    ck_assert_ok(nnp_train_opts_init(&o));
    o.epochs = 1;
    o.batch_size = 10;
    o.dropout = 1;
    o.progress = progress_stop_at_2;
    float *ref = trained(net, ds, &o, NNP_ECANCELLED); /* two completed steps */
    o.progress = NULL;
    o.batch_hook = bad_label;
    float *a = trained(net, ds, &o, NNP_EINVAL);
    ck_assert_error_has("opts.batch_hook wrote label 4");
    o.batch_hook = bad_x;
    float *b = trained(net, ds, &o, NNP_EINVAL);
    ck_assert_error_has("non-finite");
    ck_assert_mem_eq(a, ref, net->n_params * sizeof(float));
    ck_assert_mem_eq(b, ref, net->n_params * sizeof(float));
    ck_assert(memcmp(a, net->params, net->n_params * sizeof(float)) != 0);
    free(ref), free(a), free(b);
    nnp_net_free(net);
    nnp_dataset_free(ds);
}
END_TEST

/* ---------------------------------------------------------------- §4.2: an adversarial pool */

/* Szegedy et al. 2013 §4.2's regime through the hook: a pool of adversarial examples,
 * refreshed every `every` steps by attacking the current batch on the current net (FGSM here,
 * for speed), replacing the first half of each batch. */
typedef struct adv_pool {
    float x[32 * 8];
    int32_t y[32];
    size_t filled, next;     /* ring buffer */
    uint64_t every;
    double epsilon;
    size_t refreshes;
} adv_pool;

static int adversarial_pool_hook(const nnp_net *net, float *x, int32_t *labels, size_t n,
                                 uint64_t step, void *user)
{
    adv_pool *p = user;
    if (step % p->every == 0) {
        nnp_attack_fgsm_opts fo;
        ck_assert_ok(nnp_attack_fgsm_opts_init(&fo));
        fo.epsilon = p->epsilon;
        float adv[32 * 8];
        nnp_attack_result r[32];
        const size_t m = n < 32 ? n : 32;
        ck_assert_ok(nnp_attack_fgsm(net, x, labels, NULL, m, &fo, adv, r));
        for (size_t i = 0; i < m; i++) {
            memcpy(p->x + p->next * 8, adv + i * 8, 8 * sizeof(float));
            p->y[p->next] = labels[i];
            p->next = (p->next + 1) % 32;
            if (p->filled < 32) p->filled++;
        }
        p->refreshes++;
    }
    for (size_t i = 0; i < n / 2 && i < p->filled; i++) {
        size_t k = (size_t)((step * 7 + i) % p->filled);
        memcpy(x + i * 8, p->x + k * 8, 8 * sizeof(float));
        labels[i] = p->y[k];
    }
    return 0;
}

/* FGSM error of `net` on the data set at ε. */
static double fgsm_error(const nnp_net *net, const nnp_dataset *ds, double eps)
{
    const size_t N = nnp_dataset_count(ds);
    nnp_attack_fgsm_opts fo;
    ck_assert_ok(nnp_attack_fgsm_opts_init(&fo));
    fo.epsilon = eps;
    float *adv = malloc(N * 8 * sizeof(float));
    nnp_attack_result *r = malloc(N * sizeof *r);
    ck_assert_ok(nnp_attack_fgsm(net, nnp_dataset_images(ds), nnp_dataset_labels(ds), NULL, N,
                                 &fo, adv, r));
    double err;
    ck_assert_ok(nnp_eval_error_rate(net, adv, nnp_dataset_labels(ds), N, &err, NULL));
    free(adv);
    free(r);
    return err;
}

/* The pool hook runs attacks on the net being trained; training with it is deterministic,
 * still learns the clean task, and makes the net more robust to the attack it was trained
 * against than the same training without the pool. */
START_TEST(adversarial_pool_training)
{
    nnp_dataset *ds = blobs(400, 31, 1);
    nnp_net *net = drop_net(16, 4, -1, 8);
    nnp_train_opts o;
    ck_assert_ok(nnp_train_opts_init(&o));
    o.epochs = 15;
    o.batch_size = 20;
    o.learning_rate = 0.05;
    nnp_net *plain = NULL, *adv1 = NULL, *adv2 = NULL;
    ck_assert_ok(nnp_net_clone(net, &plain));
    ck_assert_ok(nnp_net_clone(net, &adv1));
    ck_assert_ok(nnp_net_clone(net, &adv2));
    ck_assert_ok(nnp_train(plain, ds, &o, NULL));
    adv_pool p1 = {.every = 2, .epsilon = 0.25}, p2 = p1;
    o.batch_hook = adversarial_pool_hook;
    o.batch_hook_user = &p1;
    ck_assert_ok(nnp_train(adv1, ds, &o, NULL));
    o.batch_hook_user = &p2;
    ck_assert_ok(nnp_train(adv2, ds, &o, NULL));
    ck_assert_uint_eq(p1.refreshes, 15 * 20 / 2);
    ck_assert_mem_eq(adv1->params, adv2->params, net->n_params * sizeof(float));
    double clean_plain, clean_adv;
    const size_t N = nnp_dataset_count(ds);
    ck_assert_ok(nnp_eval_error_rate(plain, nnp_dataset_images(ds), nnp_dataset_labels(ds), N,
                                     &clean_plain, NULL));
    ck_assert_ok(nnp_eval_error_rate(adv1, nnp_dataset_images(ds), nnp_dataset_labels(ds), N,
                                     &clean_adv, NULL));
    const double fgsm_plain = fgsm_error(plain, ds, 0.25), fgsm_adv = fgsm_error(adv1, ds, 0.25);
    fprintf(stderr, "adversarial_pool_training: clean %.3f / %.3f, FGSM(0.25) %.3f / %.3f "
            "(plain / pool)\n", clean_plain, clean_adv, fgsm_plain, fgsm_adv);
    ck_assert_double_lt(clean_plain, 0.05);
    ck_assert_double_lt(clean_adv, 0.05);
    ck_assert_double_lt(fgsm_adv, fgsm_plain);
    nnp_net_free(plain);
    nnp_net_free(adv1);
    nnp_net_free(adv2);
    nnp_net_free(net);
    nnp_dataset_free(ds);
}
END_TEST

/* ---------------------------------------------------------------- allocation failures */

typedef struct oom_case {
    nnp_net *net;
    const nnp_dataset *ds;
    float *initial;
    nnp_train_opts o;
} oom_case;

static int count_hook(const nnp_net *net, float *x, int32_t *labels, size_t n, uint64_t step,
                      void *user)
{
    (void)net, (void)x, (void)labels, (void)n, (void)step;
    ++*(int *)user;
    return 0;
}

static nnp_status oom_run(void *user, long k)
{
    (void)k;
    oom_case *c = user;
    memcpy(c->net->params, c->initial, c->net->n_params * sizeof(float)); /* no allocation */
    return nnp_train(c->net, c->ds, &c->o, NULL);
}

static void oom_after(void *user, long k, nnp_status s)
{
    (void)k;
    oom_case *c = user;
    if (s == NNP_ENOMEM) /* refused before any step */
        ck_assert_mem_eq(c->net->params, c->initial, c->net->n_params * sizeof(float));
}

START_TEST(dropout_allocation_failures)
{
    nnp_dataset *ds = blobs(30, 2, 1);
    oom_case c = {.net = drop_net(5, 4, 0.5f, 3), .ds = ds};
    c.initial = malloc(c.net->n_params * sizeof(float));
    memcpy(c.initial, c.net->params, c.net->n_params * sizeof(float));
    ck_assert_ok(nnp_train_opts_init(&c.o));
    c.o.epochs = 1;
    c.o.batch_size = 10;
    c.o.dropout = 1;
    int calls = 0;
    c.o.batch_hook = count_hook;
    c.o.batch_hook_user = &calls;
    tu_alloc_loop loop = {.what = "nnp_train with dropout", .max_k = 64, .until_ok = 1,
                          .check_message = 1, .run = oom_run, .after = oom_after, .user = &c};
    tu_alloc_counts n = tu_alloc_failures(&loop);
    ck_assert_int_gt(n.failures, 0);
    ck_assert_int_eq(n.successes, 1);
    ck_assert_int_ge(calls, 3);
    /* the masks' own allocation is among those failed: set_train alone */
    nnp_workspace *ws = NULL;
    ck_assert_ok(nnp_workspace_create(c.net, 4, &ws));
    nnpi_fail_alloc_after(1);
    nnp_status s = nnpi_workspace_set_train(ws);
    nnpi_fail_alloc_after(0);
    ck_assert_status(s, NNP_ENOMEM);
    ck_assert_int_eq(ws->train, 0);
    ck_assert_ptr_null(ws->mask);
    ck_assert_ok(nnpi_workspace_set_train(ws));
    ck_assert_int_eq(ws->train, 1);
    free(c.initial);
    nnp_workspace_free(ws);
    nnp_net_free(c.net);
    nnp_dataset_free(ds);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("train_hooks");
    TCase *tc = tcase_create("train_hooks");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, defaults_unchanged);
    tcase_add_test(tc, new_options_validated);
    tcase_add_test(tc, dropout_deterministic);
    tcase_add_test(tc, dropout_replayed_by_hand);
    tcase_add_test(tc, dropout_backward_fd);
    tcase_add_test(tc, dropout_kept_fraction);
    tcase_add_loop_test(tc, hook_sees_every_example_once, 0, 2);
    tcase_add_test(tc, hook_modifications_take_effect);
    tcase_add_test(tc, hook_cancels);
    tcase_add_test(tc, hook_bad_batch_refused);
    tcase_add_test(tc, adversarial_pool_training);
    tcase_add_test(tc, dropout_allocation_failures);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
