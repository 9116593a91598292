/* Training: the objective's parameter gradient against finite differences, SGD on separable
 * data, determinism, options handling, cancellation, evaluation. */
#include <math.h>
#include <stdlib.h>

#include "core/core.h"
#include "net/net_internal.h"
#include "testutil.h"
#include "train/objective.h"

/* The shared 8-D blobs (tests/testutil.h), labelled. */
static nnp_dataset *blobs(size_t n, uint64_t seed) { return tu_blobs8(n, seed, 1); }

static nnp_net *small_net(size_t hidden, size_t out, uint64_t seed)
{
    nnp_net *net = NULL;
    ck_assert_ok(nnp_net_create(1, 1, 8, &net));
    ck_assert_ok(nnp_net_add_dense(net, hidden, NULL));
    ck_assert_ok(nnp_net_add_activation(net, NNP_LAYER_SIGMOID, NULL));
    ck_assert_ok(nnp_net_add_dense(net, out, NULL));
    ck_assert_ok(nnp_net_init_params(net, seed));
    return net;
}

/* Parameter gradient of the objective (cross-entropy or MSE, with decay, with a frozen first
 * layer or not) against central differences in float (h = 1e-2 on an objective of order 1:
 * truncation ~1e-5, rounding ~1e-5); tolerance 1e-3 · max(1, |g|). */
START_TEST(objective_gradient_fd)
{
    const int mse = _i & 1, frozen = (_i >> 1) & 1;
    nnp_net *net = small_net(5, mse ? 8 : 4, 3);
    const size_t n = 3;
    float x[24];
    int32_t y[3] = {0, 3, 1};
    tu_fill_uniform(x, 24, 0, 1, 9);
    double decay[4] = {0, 0.01, 0, 0.003};
    const size_t first = frozen ? 3 : 1, P = net->n_params;
    const size_t frozen_end = net->nodes[3].param_offset;
    nnp_workspace *ws = NULL;
    ck_assert_ok(nnp_workspace_create(net, n, &ws));
    float *g = malloc(P * sizeof(float));
    for (size_t p = 0; p < P; p++) g[p] = 123.0f; /* frozen entries must stay untouched */
    double ml;
    nnp_loss loss = mse ? NNP_LOSS_MSE : NNP_LOSS_SOFTMAX_XENT;
    nnpi_objective_grad(net, ws, x, y, n, loss, decay, first, g, &ml);
    for (size_t p = 0; p < P; p++) {
        if (frozen && p < frozen_end) {
            ck_assert_float_eq(g[p], 123.0f);
            continue;
        }
        float keep = net->params[p];
        net->params[p] = keep + 1e-2f;
        double fp = nnpi_objective_grad(net, ws, x, y, n, loss, decay, 99, g, &ml);
        net->params[p] = keep - 1e-2f;
        double fm = nnpi_objective_grad(net, ws, x, y, n, loss, decay, 99, g, &ml);
        net->params[p] = keep;
        double fd = (fp - fm) / (double)((keep + 1e-2f) - (keep - 1e-2f));
        float *g2 = malloc(P * sizeof(float));
        nnpi_objective_grad(net, ws, x, y, n, loss, decay, first, g2, &ml);
        ck_assert_msg(fabs(g2[p] - fd) < 1e-3 * fmax(1, fabs(fd)), "param %zu: %g vs fd %g", p,
                      g2[p], fd);
        free(g2);
    }
    free(g);
    nnp_workspace_free(ws);
    nnp_net_free(net);
}
END_TEST

/* Stated bar: 8-16s-4 on 400 separable points, 30 epochs -> training error ≤ 1%. */
START_TEST(learns_separable_data)
{
    nnp_dataset *train = blobs(400, 1), *test = blobs(200, 2);
    nnp_net *net = small_net(16, 4, 5);
    double before, after, test_err, loss;
    ck_assert_ok(nnp_eval_error_rate(net, nnp_dataset_images(train), nnp_dataset_labels(train), nnp_dataset_count(train), &before, NULL));
    nnp_train_opts o;
    ck_assert_ok(nnp_train_opts_init(&o));
    o.epochs = 30;
    o.batch_size = 20;
    ck_assert_ok(nnp_train(net, train, &o, &loss));
    ck_assert_ok(nnp_eval_error_rate(net, nnp_dataset_images(train), nnp_dataset_labels(train), nnp_dataset_count(train), &after, NULL));
    ck_assert_ok(nnp_eval_error_rate(net, nnp_dataset_images(test), nnp_dataset_labels(test), nnp_dataset_count(test), &test_err, NULL));
    ck_assert_double_gt(before, 0.3);
    ck_assert_double_le(after, 0.01);
    ck_assert_double_le(test_err, 0.02);
    ck_assert_double_lt(loss, 0.1);
    nnp_net_free(net);
    nnp_dataset_free(train);
    nnp_dataset_free(test);
}
END_TEST

/* nnp_eval_error_rate's error rate equals the arg-max count made here from nnp_net_forward. */
START_TEST(evaluate_counts_argmax)
{
    nnp_dataset *ds = blobs(37, 3);
    nnp_net *net = small_net(6, 4, 8);
    float z[37 * 4];
    ck_assert_ok(nnp_net_forward(net, NULL, nnp_dataset_images(ds), 37, z));
    int wrong = 0;
    double loss = 0;
    for (int i = 0; i < 37; i++) {
        int best = 0;
        double m = z[i * 4], s = 0;
        for (int c = 1; c < 4; c++) {
            if (z[i * 4 + c] > z[i * 4 + best]) best = c;
            m = fmax(m, z[i * 4 + c]);
        }
        for (int c = 0; c < 4; c++) s += exp(z[i * 4 + c] - m);
        loss += m + log(s) - z[i * 4 + nnp_dataset_labels(ds)[i]];
        wrong += best != nnp_dataset_labels(ds)[i];
    }
    double err, mean_loss;
    ck_assert_ok(nnp_eval_error_rate(net, nnp_dataset_images(ds), nnp_dataset_labels(ds), nnp_dataset_count(ds), &err, &mean_loss));
    ck_assert_double_eq(err, wrong / 37.0);
    ck_assert_double_eq_tol(mean_loss, loss / 37, 1e-6);
    nnp_net_free(net);
    nnp_dataset_free(ds);
}
END_TEST

static void train_copy(const nnp_net *init, const nnp_dataset *ds, uint64_t seed, float *out)
{
    nnp_net *net = NULL;
    ck_assert_ok(nnp_net_clone(init, &net));
    nnp_train_opts o;
    ck_assert_ok(nnp_train_opts_init(&o));
    o.epochs = 3;
    o.batch_size = 16;
    o.seed = seed;
    ck_assert_ok(nnp_train(net, ds, &o, NULL));
    memcpy(out, net->params, net->n_params * sizeof(float));
    nnp_net_free(net);
}

START_TEST(bit_for_bit_repeatable)
{
    nnp_dataset *ds = blobs(100, 4);
    nnp_net *net = small_net(10, 4, 6);
    size_t P = nnp_net_param_count(net);
    float *a = malloc(P * sizeof(float)), *b = malloc(P * sizeof(float)), *c = malloc(P * sizeof(float));
    train_copy(net, ds, 42, a);
    train_copy(net, ds, 42, b);
    train_copy(net, ds, 43, c);
    ck_assert_mem_eq(a, b, P * sizeof(float));
    ck_assert(memcmp(a, c, P * sizeof(float)) != 0); /* the seed changes the example order */
    free(a);
    free(b);
    free(c);
    nnp_net_free(net);
    nnp_dataset_free(ds);
}
END_TEST

/* The autoencoder loss goes down; a frozen encoder keeps its parameters exactly. */
START_TEST(autoencoder_and_frozen_layers)
{
    nnp_dataset *ds = blobs(200, 5);
    nnp_net *ae = NULL;
    ck_assert_ok(nnp_net_create(1, 1, 8, &ae));
    ck_assert_ok(nnp_net_add_dense(ae, 3, NULL));
    ck_assert_ok(nnp_net_add_activation(ae, NNP_LAYER_SIGMOID, NULL));
    ck_assert_ok(nnp_net_add_dense(ae, 8, NULL));
    ck_assert_ok(nnp_net_init_params(ae, 1));
    nnp_train_opts o;
    ck_assert_ok(nnp_train_opts_init(&o));
    o.loss = NNP_LOSS_MSE;
    o.epochs = 1;
    double first, last;
    ck_assert_ok(nnp_train(ae, ds, &o, &first));
    o.epochs = 40;
    ck_assert_ok(nnp_train(ae, ds, &o, &last));
    ck_assert_double_lt(last, 0.5 * first);

    float enc[24], enc_after[24], head[32], head_after[32];
    ck_assert_ok(nnp_net_get_params(ae, 1, enc, NULL));
    ck_assert_ok(nnp_net_get_params(ae, 3, head, NULL));
    o.first_trainable_layer = 3;
    o.epochs = 2;
    ck_assert_ok(nnp_train(ae, ds, &o, NULL));
    ck_assert_ok(nnp_net_get_params(ae, 1, enc_after, NULL));
    ck_assert_ok(nnp_net_get_params(ae, 3, head_after, NULL));
    ck_assert_mem_eq(enc, enc_after, sizeof enc);
    ck_assert(memcmp(head, head_after, sizeof head) != 0);
    nnp_net_free(ae);
    nnp_dataset_free(ds);
}
END_TEST

static int cancel_at_3(uint64_t done, uint64_t total, void *user)
{
    ck_assert_uint_eq(total, 10); /* 2 epochs × 5 batches */
    *(uint64_t *)user = done;
    return done == 3;
}

START_TEST(cancellation_keeps_completed_steps)
{
    nnp_dataset *ds = blobs(50, 6);
    nnp_net *a = small_net(4, 4, 2), *b = NULL;
    ck_assert_ok(nnp_net_clone(a, &b));
    nnp_train_opts o;
    ck_assert_ok(nnp_train_opts_init(&o));
    o.epochs = 2;
    o.batch_size = 10;
    uint64_t seen = 0;
    o.progress = cancel_at_3;
    o.progress_user = &seen;
    ck_assert_status(nnp_train(a, ds, &o, NULL), NNP_ECANCELLED);
    ck_assert_uint_eq(seen, 3);
    /* replay the three completed steps by hand: the trainer's first-epoch order (the same
     * Fisher–Yates shuffle from the same seed), batches of 10, momentum 0.9, rate 0.1 */
    nnp_dataset *first30 = NULL;
    size_t idx[50];
    nnpi_rng rng;
    nnpi_rng_seed(&rng, o.seed);
    for (size_t i = 0; i < 50; i++) idx[i] = i;
    for (size_t i = 49; i > 0; i--) {
        size_t j = (size_t)nnpi_rng_below(&rng, i + 1), t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
    }
    ck_assert_ok(nnp_dataset_select(ds, idx, 30, &first30));
    nnp_workspace *ws = NULL;
    ck_assert_ok(nnp_workspace_create(b, 10, &ws));
    double decay[4] = {0}, ml;
    size_t P = b->n_params;
    float *g = malloc(P * sizeof(float)), *v = calloc(P, sizeof(float));
    for (int step = 0; step < 3; step++) {
        nnpi_objective_grad(b, ws, nnp_dataset_images(first30) + step * 80,
                            nnp_dataset_labels(first30) + step * 10, 10, NNP_LOSS_SOFTMAX_XENT,
                            decay, 1, g, &ml);
        for (size_t p = 0; p < P; p++) {
            v[p] = 0.9f * v[p] - 0.1f * g[p];
            b->params[p] += v[p];
        }
    }
    ck_assert_mem_eq(a->params, b->params, P * sizeof(float));
    free(g);
    free(v);
    nnp_workspace_free(ws);
    nnp_dataset_free(first30);
    nnp_net_free(a);
    nnp_net_free(b);
    nnp_dataset_free(ds);
}
END_TEST

/* A linear autoencoder with a huge step size diverges geometrically: the trainer stops with
 * NNP_ENUMERIC and leaves the last finite parameters. */
START_TEST(divergence_is_reported)
{
    nnp_dataset *ds = blobs(40, 7);
    nnp_net *net = NULL;
    ck_assert_ok(nnp_net_create(1, 1, 8, &net));
    ck_assert_ok(nnp_net_add_dense(net, 8, NULL));
    ck_assert_ok(nnp_net_init_params(net, 3));
    nnp_train_opts o;
    ck_assert_ok(nnp_train_opts_init(&o));
    o.loss = NNP_LOSS_MSE;
    o.learning_rate = 100;
    o.epochs = 50;
    ck_assert_status(nnp_train(net, ds, &o, NULL), NNP_ENUMERIC);
    ck_assert_error_has("learning rate");
    for (size_t p = 0; p < net->n_params; p++) ck_assert(isfinite(net->params[p]));
    nnp_net_free(net);
    nnp_dataset_free(ds);
}
END_TEST

START_TEST(options_are_validated)
{
    nnp_dataset *ds = blobs(20, 8);
    nnp_net *net = small_net(4, 4, 3);
    nnp_train_opts o;
    const double two[2] = {1e-4, 1e-5}, three[3] = {0, 0, 0}, neg[1] = {-1};
#define EXPECT_FIELD(stmt, field)                                       \
    do {                                                                \
        ck_assert_ok(nnp_train_opts_init(&o));                          \
        o.epochs = 1;                                                   \
        stmt;                                                           \
        ck_assert_status(nnp_train(net, ds, &o, NULL), NNP_EINVAL);     \
        ck_assert_error_has(field);                                     \
    } while (0)
    EXPECT_FIELD(o.epochs = 0, "epochs");
    EXPECT_FIELD(o.batch_size = 0, "batch_size");
    EXPECT_FIELD(o.learning_rate = 0, "learning_rate");
    EXPECT_FIELD(o.learning_rate = NAN, "learning_rate");
    EXPECT_FIELD(o.momentum = 1, "momentum");
    EXPECT_FIELD(o.lr_decay = 0, "lr_decay");
    EXPECT_FIELD(o.loss = (nnp_loss)7, "loss");
    EXPECT_FIELD(o.decay_mode = (nnp_decay_mode)7, "decay_mode");
    EXPECT_FIELD((o.weight_decay = neg, o.n_weight_decay = 1), "weight_decay[0]");
    EXPECT_FIELD((o.weight_decay = NULL, o.n_weight_decay = 1), "weight_decay is NULL");
    EXPECT_FIELD((o.weight_decay = three, o.n_weight_decay = 3), "n_weight_decay = 3");
    EXPECT_FIELD(o.first_trainable_layer = 4, "first_trainable_layer");
    EXPECT_FIELD(o.loss = NNP_LOSS_MSE, "NNP_LOSS_MSE needs output size");
    EXPECT_FIELD(o.size = 0, "size is 0");
    /* valid per-layer decay in both modes */
    ck_assert_ok(nnp_train_opts_init(&o));
    o.epochs = 1;
    o.weight_decay = two;
    o.n_weight_decay = 2;
    ck_assert_ok(nnp_train(net, ds, &o, NULL));
    o.decay_mode = NNP_DECAY_PER_UNIT;
    ck_assert_ok(nnp_train(net, ds, &o, NULL));

    /* a newer caller's larger struct: zero extra bytes accepted, non-zero refused */
    struct {
        nnp_train_opts o;
        uint64_t future;
    } big;
    memset(&big, 0, sizeof big);
    ck_assert_ok(nnp_train_opts_init(&big.o));
    big.o.size = sizeof big;
    big.o.epochs = 1;
    ck_assert_ok(nnp_train(net, ds, &big.o, NULL));
    big.future = 1;
    ck_assert_status(nnp_train(net, ds, &big.o, NULL), NNP_EVERSION);
    /* init writes only the caller's bytes (older header) and zeroes a newer header's tail */
    struct {
        nnp_train_opts o;
        unsigned char guard[16];
    } g;
    memset(&g, 0xCD, sizeof g);
    ck_assert_ok(nnp_train_opts_init_sized(&g.o, offsetof(nnp_train_opts, learning_rate)));
    ck_assert_uint_eq(g.o.size, offsetof(nnp_train_opts, learning_rate));
    ck_assert_uint_eq(g.o.batch_size, 100);
    ck_assert_uint_eq(((unsigned char *)&g.o)[offsetof(nnp_train_opts, learning_rate)], 0xCD);
    memset(&g, 0xCD, sizeof g);
    ck_assert_ok(nnp_train_opts_init_sized(&g.o, sizeof g));
    ck_assert_uint_eq(g.o.size, sizeof g);
    for (size_t i = 0; i < sizeof g.guard; i++) ck_assert_uint_eq(g.guard[i], 0);
    ck_assert_ok(nnp_train(net, ds, &g.o, NULL)); /* zero tail accepted */
    /* an older caller's smaller struct: the fields it lacks take their defaults */
    ck_assert_ok(nnp_train_opts_init(&o));
    o.size = offsetof(nnp_train_opts, learning_rate);
    o.epochs = 1;
    o.momentum = 5; /* beyond the old size: ignored */
    ck_assert_ok(nnp_train(net, ds, &o, NULL));
    ck_assert_ok(nnp_train(net, ds, NULL, NULL)); /* NULL: all defaults */

    /* data that does not fit the net */
    nnp_net *wide = NULL;
    ck_assert_ok(nnp_net_create(1, 1, 9, &wide));
    ck_assert_ok(nnp_net_add_dense(wide, 4, NULL));
    ck_assert_status(nnp_train(wide, ds, NULL, NULL), NNP_EINVAL);
    ck_assert_error_has("9");
    nnp_net *two_class = small_net(3, 2, 1);
    ck_assert_status(nnp_train(two_class, ds, NULL, NULL), NNP_EINVAL);
    ck_assert_error_has("label");
    /* nnp_eval_error_rate: labels out of the net's class range, both outputs NULL, NULL labels */
    const float *xs = nnp_dataset_images(ds);
    const int32_t *ys = nnp_dataset_labels(ds);
    const size_t ns = nnp_dataset_count(ds);
    double err = 0.0, loss = 0.0;
    ck_assert_status(nnp_eval_error_rate(two_class, xs, ys, ns, &err, &loss), NNP_EINVAL);
    ck_assert_error_has("labels[");
    ck_assert_status(nnp_eval_error_rate(net, xs, ys, ns, NULL, NULL), NNP_EINVAL);
    ck_assert_error_has("both NULL");
    ck_assert_status(nnp_eval_error_rate(net, xs, NULL, ns, &err, NULL), NNP_EINVAL);
    ck_assert_error_has("labels");
    ck_assert_status(nnp_eval_error_rate(net, xs, ys, 0, &err, NULL), NNP_EINVAL);
    ck_assert_error_has("n is 0");
    float x[8] = {0};
    nnp_dataset *unlabelled = NULL;
    ck_assert_ok(nnp_dataset_create(1, 1, 1, 8, x, NULL, &unlabelled));
    ck_assert_status(nnp_train(net, unlabelled, NULL, NULL), NNP_EINVAL);
    ck_assert_error_has("no labels");
    ck_assert_status(nnp_train(NULL, ds, NULL, NULL), NNP_EINVAL);
    ck_assert_status(nnp_train(net, NULL, NULL, NULL), NNP_EINVAL);
    ck_assert_status(nnp_train_opts_init_sized(NULL, sizeof o), NNP_EINVAL);
    ck_assert_status(nnp_train_opts_init_sized(&o, 4), NNP_EINVAL);
    nnp_dataset_free(unlabelled);
    nnp_net_free(two_class);
    nnp_net_free(wide);
    nnp_net_free(net);
    nnp_dataset_free(ds);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("train");
    TCase *tc = tcase_create("train");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, objective_gradient_fd, 0, 4);
    tcase_add_test(tc, learns_separable_data);
    tcase_add_test(tc, evaluate_counts_argmax);
    tcase_add_test(tc, bit_for_bit_repeatable);
    tcase_add_test(tc, autoencoder_and_frozen_layers);
    tcase_add_test(tc, cancellation_keeps_completed_steps);
    tcase_add_test(tc, divergence_is_reported);
    tcase_add_test(tc, options_are_validated);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
