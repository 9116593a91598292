/* Gradient-of-input queries against central finite differences of an independent double
 * precision reference (tests/refnet.c).
 *
 * Tolerance: the library computes in float32; the reference FD (h = 1e-5, double) is exact to
 * ~1e-9, so the comparison measures float rounding only: max abs error / max(1, max |g|)
 * must be below 2e-5 (float32 epsilon is 1.2e-7; nets here are ≤ 10 layers deep). */
#include <math.h>
#include <stdlib.h>

#include "core/core.h"
#include "refnet.h"
#include "testutil.h"

#define TOL 2e-5
#define FD_STEP 1e-5

/* Input 2×2×3 (12 values) -> 9 sigmoid -> 7 tanh -> 5 softplus -> 4 logits. */
static nnp_net *mixed_net(uint64_t seed)
{
    nnp_net *net = NULL;
    ck_assert_ok(nnp_net_create(2, 2, 3, &net));
    ck_assert_ok(nnp_net_add_dense(net, 9, NULL));
    ck_assert_ok(nnp_net_add_activation(net, NNP_LAYER_SIGMOID, NULL));
    ck_assert_ok(nnp_net_add_dense(net, 7, NULL));
    ck_assert_ok(nnp_net_add_activation(net, NNP_LAYER_TANH, NULL));
    ck_assert_ok(nnp_net_add_dense(net, 5, NULL));
    ck_assert_ok(nnp_net_add_activation(net, NNP_LAYER_SOFTPLUS, NULL));
    ck_assert_ok(nnp_net_add_dense(net, 4, NULL));
    ck_assert_ok(nnp_net_init_params(net, seed));
    /* non-zero biases so that they are exercised too */
    for (size_t l = 1; l < nnp_net_layer_count(net); l++) {
        nnp_layer_info info = {.size = sizeof info};
        ck_assert_ok(nnp_net_layer_info(net, l, &info));
        if (info.bias_count == 0) continue;
        float b[16];
        tu_fill_uniform(b, info.bias_count, -0.5f, 0.5f, seed + l);
        ck_assert_ok(nnp_net_set_params(net, l, NULL, b));
    }
    return net;
}

/* Deep stack: 10 inputs, 8 × (6 units, tanh or relu alternating), 3 logits. */
static nnp_net *deep_net(uint64_t seed)
{
    nnp_net *net = NULL;
    ck_assert_ok(nnp_net_create(1, 1, 10, &net));
    for (int i = 0; i < 8; i++) {
        ck_assert_ok(nnp_net_add_dense(net, 6, NULL));
        ck_assert_ok(nnp_net_add_activation(net, i % 2 ? NNP_LAYER_RELU : NNP_LAYER_TANH, NULL));
    }
    ck_assert_ok(nnp_net_add_dense(net, 3, NULL));
    ck_assert_ok(nnp_net_init_params(net, seed));
    return net;
}

static nnp_net *make_net(int which, uint64_t seed)
{
    return which == 0 ? mixed_net(seed) : deep_net(seed);
}

typedef struct fd_ctx {
    const nnp_net *net;
    size_t layer, unit;
    const float *v;
    int32_t label;
    int loss;
} fd_ctx;

static double fd_fn(void *p, const double *x)
{
    fd_ctx *c = p;
    return c->loss ? ref_xent(c->net, x, c->label) : ref_unit_dot(c->net, x, c->layer, c->unit, c->v);
}

/* Checks dx (n examples) against FD of ctx's function at each example of xs. */
static void check_against_fd(fd_ctx *ctx, const float *xs, const float *dx, size_t n,
                             const int32_t *labels, const float *vs, size_t vsize)
{
    size_t d = nnp_net_input_size(ctx->net);
    double *x = malloc(d * sizeof *x), *g = malloc(d * sizeof *g);
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < d; j++) x[j] = xs[i * d + j];
        if (labels) ctx->label = labels[i];
        if (vs) ctx->v = vs + i * vsize;
        ref_fd_grad(fd_fn, ctx, x, d, FD_STEP, g);
        double err = ref_rel_err(dx + i * d, g, d);
        ck_assert_msg(err < TOL, "example %zu layer %zu unit %zu: gradient error %g >= %g", i,
                      ctx->layer, ctx->unit, err, TOL);
    }
    free(x);
    free(g);
}

START_TEST(fd_loss_gradient)
{
    nnp_net *net = make_net(_i, 11);
    const size_t n = 3, d = nnp_net_input_size(net), C = nnp_net_output_size(net);
    float x[3 * 12], dx[3 * 12], loss[3], logits[3 * 4];
    int32_t labels[3] = {2, 0, (int32_t)C - 1};
    tu_fill_uniform(x, n * d, 0.0f, 1.0f, 5);
    ck_assert_ok(nnp_grad_loss(net, NULL, x, labels, n, dx, loss, logits));
    fd_ctx ctx = {.net = net, .loss = 1};
    check_against_fd(&ctx, x, dx, n, labels, NULL, 0);
    /* the loss and logits returned agree with the reference */
    for (size_t i = 0; i < n; i++) {
        double xd[12];
        for (size_t j = 0; j < d; j++) xd[j] = x[i * d + j];
        ck_assert_double_eq_tol(loss[i], ref_xent(net, xd, labels[i]), 1e-5);
        for (size_t k = 0; k < C; k++)
            ck_assert_double_eq_tol(logits[i * C + k],
                                    ref_unit_dot(net, xd, nnp_net_layer_count(net) - 1, k, NULL), 1e-5);
    }
    nnp_net_free(net);
}
END_TEST

START_TEST(fd_unit_gradient_every_layer)
{
    nnp_net *net = make_net(_i, 12);
    const size_t n = 2, d = nnp_net_input_size(net);
    float x[2 * 12], dx[2 * 12], value[2];
    tu_fill_uniform(x, n * d, 0.0f, 1.0f, 6);
    for (size_t l = 1; l < nnp_net_layer_count(net); l++) {
        nnp_layer_info info = {.size = sizeof info};
        ck_assert_ok(nnp_net_layer_info(net, l, &info));
        for (size_t u = 0; u < info.output_size; u += 2) {
            ck_assert_ok(nnp_grad_unit(net, NULL, x, n, l, u, dx, value));
            fd_ctx ctx = {.net = net, .layer = l, .unit = u};
            check_against_fd(&ctx, x, dx, n, NULL, NULL, 0);
            double xd[12];
            for (size_t j = 0; j < d; j++) xd[j] = x[d + j];
            ck_assert_double_eq_tol(value[1], ref_unit_dot(net, xd, l, u, NULL), 1e-5);
        }
    }
    nnp_net_free(net);
}
END_TEST

START_TEST(fd_vjp_every_layer)
{
    nnp_net *net = make_net(_i, 13);
    const size_t n = 3, d = nnp_net_input_size(net);
    float x[3 * 12], dx[3 * 12], v[3 * 16];
    tu_fill_uniform(x, n * d, 0.0f, 1.0f, 7);
    for (size_t l = 1; l < nnp_net_layer_count(net); l++) {
        nnp_layer_info info = {.size = sizeof info};
        ck_assert_ok(nnp_net_layer_info(net, l, &info));
        tu_fill_uniform(v, n * info.output_size, -1.0f, 1.0f, 100 + l);
        ck_assert_ok(nnp_grad_vjp(net, NULL, x, n, l, v, dx));
        fd_ctx ctx = {.net = net, .layer = l};
        check_against_fd(&ctx, x, dx, n, NULL, v, info.output_size);
    }
    nnp_net_free(net);
}
END_TEST

/* Each layer kind alone (dense + one activation), with inputs away from ReLU's kink. */
START_TEST(fd_each_activation)
{
    const nnp_layer_kind kinds[] = {NNP_LAYER_RELU, NNP_LAYER_SIGMOID, NNP_LAYER_TANH,
                                    NNP_LAYER_SOFTPLUS, NNP_LAYER_LEAKY_RELU, NNP_LAYER_LEAKY_RELU,
                                    NNP_LAYER_CLIP, NNP_LAYER_HARD_SIGMOID, NNP_LAYER_HARD_SWISH};
    nnp_net *net = NULL;
    ck_assert_ok(nnp_net_create(1, 1, 5, &net));
    ck_assert_ok(nnp_net_add_dense(net, 6, NULL));
    if (_i == 5) /* a steep negative slope, so the FD check sees α itself */
        ck_assert_ok(nnp_net_add_leaky_relu(net, -0.7, NULL));
    else if (_i == 6) /* bounds inside the pre-activations' range, so both pieces are seen */
        ck_assert_ok(nnp_net_add_clip(net, -0.3, 0.4, NULL));
    else if (_i == 7) /* a negative slope: the FD check sees α's sign */
        ck_assert_ok(nnp_net_add_hard_sigmoid(net, -0.8, 0.4, NULL));
    else if (_i == 8) /* scaled so that pre-activations reach past ±3 (all three pieces) */
        ck_assert_ok(nnp_net_add_activation(net, NNP_LAYER_HARD_SWISH, NULL));
    else
        ck_assert_ok(nnp_net_add_activation(net, kinds[_i], NULL));
    ck_assert_ok(nnp_net_add_dense(net, 3, NULL));
    ck_assert_ok(nnp_net_init_params(net, 40 + (uint64_t)_i));
    float x[4 * 5], dx[4 * 5];
    int32_t labels[4] = {0, 1, 2, 1};
    tu_fill_uniform(x, 20, _i == 8 ? -8.0f : -2.0f, _i == 8 ? 8.0f : 2.0f, 8);
    ck_assert_ok(nnp_grad_loss(net, NULL, x, labels, 4, dx, NULL, NULL));
    fd_ctx ctx = {.net = net, .loss = 1};
    check_against_fd(&ctx, x, dx, 4, labels, NULL, 0);
    nnp_net_free(net);
}
END_TEST

/* Zero padding (asymmetric, on a 2×3×4 input) between the input and a dense layer: the loss
 * gradient and a VJP at the pad layer against finite differences of the reference
 * (tests/refnet.c places the input in the middle of a zero plane by itself). */
START_TEST(fd_pad)
{
    nnp_net *net = NULL;
    size_t pad;
    ck_assert_ok(nnp_net_create(2, 3, 4, &net));
    ck_assert_ok(nnp_net_add_pad(net, 1, 2, 0, 1, &pad));
    nnp_layer_info info = {.size = sizeof info};
    ck_assert_ok(nnp_net_layer_info(net, pad, &info));
    ck_assert_int_eq(info.kind, NNP_LAYER_PAD);
    ck_assert_uint_eq(info.height, 4);
    ck_assert_uint_eq(info.width, 7);
    ck_assert_uint_eq(info.pad_top + info.pad_left + info.pad_bottom + info.pad_right, 4);
    ck_assert_ok(nnp_net_add_dense(net, 3, NULL));
    ck_assert_ok(nnp_net_init_params(net, 17));
    float x[2 * 24], dx[2 * 24], v[2 * 56];
    int32_t labels[2] = {2, 0};
    tu_fill_uniform(x, 48, -1.0f, 1.0f, 3);
    ck_assert_ok(nnp_grad_loss(net, NULL, x, labels, 2, dx, NULL, NULL));
    fd_ctx ctx = {.net = net, .loss = 1};
    check_against_fd(&ctx, x, dx, 2, labels, NULL, 0);
    tu_fill_uniform(v, 112, -1.0f, 1.0f, 4);
    ck_assert_ok(nnp_grad_vjp(net, NULL, x, 2, pad, v, dx));
    fd_ctx vctx = {.net = net, .layer = pad};
    check_against_fd(&vctx, x, dx, 2, NULL, v, 56);
    /* refused: a pad beyond 2^20 */
    ck_assert_status(nnp_net_add_pad(net, (size_t)1 << 21, 0, 0, 0, NULL), NNP_EINVAL);
    ck_assert_status(nnp_net_add_pad(NULL, 0, 0, 0, 0, NULL), NNP_EINVAL);
    nnp_net_free(net);
}
END_TEST

/* A batch gives each example the result it gets alone (up to GEMM vs GEMV rounding), and a
 * reused, growing workspace gives the same results as a fresh one. */
START_TEST(batch_matches_single_and_workspace_reuse)
{
    nnp_net *net = mixed_net(21);
    const size_t n = 5, d = nnp_net_input_size(net);
    float x[5 * 12], dx_batch[5 * 12], dx_one[12], dx_ws[5 * 12];
    int32_t labels[5] = {0, 1, 2, 3, 1};
    tu_fill_uniform(x, n * d, 0.0f, 1.0f, 9);
    ck_assert_ok(nnp_grad_loss(net, NULL, x, labels, n, dx_batch, NULL, NULL));
    nnp_workspace *ws = NULL;
    ck_assert_ok(nnp_workspace_create(net, 1, &ws));
    for (size_t i = 0; i < n; i++) {
        ck_assert_ok(nnp_grad_loss(net, ws, x + i * d, labels + i, 1, dx_one, NULL, NULL));
        for (size_t j = 0; j < d; j++)
            ck_assert_float_eq_tol(dx_one[j], dx_batch[i * d + j], 1e-6f);
    }
    ck_assert_ok(nnp_grad_loss(net, ws, x, labels, n, dx_ws, NULL, NULL)); /* grows */
    ck_assert_mem_eq(dx_ws, dx_batch, sizeof dx_ws);
    nnp_workspace_free(ws);
    nnp_net_free(net);
}
END_TEST

/* A fixed-shape loop with a reused workspace allocates nothing after its first call: with
 * every allocation made to fail, the queries still succeed. */
START_TEST(no_allocation_on_hot_path)
{
    nnp_net *net = mixed_net(31);
    float x[4 * 12], dx[4 * 12], v[4 * 9], logits[4 * 4];
    int32_t labels[4] = {0, 1, 2, 3};
    tu_fill_uniform(x, 48, 0, 1, 2);
    tu_fill_uniform(v, 36, -1, 1, 3);
    nnp_workspace *ws = NULL;
    ck_assert_ok(nnp_workspace_create(net, 4, &ws));
    ck_assert_ok(nnp_grad_loss(net, ws, x, labels, 4, dx, NULL, NULL));
    nnpi_fail_alloc_after(1);
    nnp_status s1 = nnp_grad_loss(net, ws, x, labels, 4, dx, NULL, logits);
    nnp_status s2 = nnp_grad_unit(net, ws, x, 4, 3, 2, dx, NULL);
    nnp_status s3 = nnp_grad_vjp(net, ws, x, 3, 1, v, dx);
    nnp_status s4 = nnp_net_forward(net, ws, x, 4, logits);
    nnp_status without_ws = nnp_net_forward(net, NULL, x, 4, logits); /* must allocate: fails */
    nnpi_fail_alloc_after(0);
    ck_assert_ok(s1);
    ck_assert_ok(s2);
    ck_assert_ok(s3);
    ck_assert_ok(s4);
    ck_assert_int_eq(without_ws, NNP_ENOMEM);
    nnp_workspace_free(ws);
    nnp_net_free(net);
}
END_TEST

/* Very confident examples: the loss and its gradient keep their relative accuracy where
 * p_y − 1 and lse − z_y would round to 0. Logits (30, 0, 0) through an identity layer: the
 * loss is log1p(2e^−30), the gradient (−2e^−30, e^−30, e^−30)/(1 + 2e^−30). */
START_TEST(confident_examples_keep_accuracy)
{
    nnp_net *net = NULL;
    ck_assert_ok(nnp_net_create(1, 1, 3, &net));
    ck_assert_ok(nnp_net_add_dense(net, 3, NULL));
    const float eye[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
    ck_assert_ok(nnp_net_set_params(net, 1, eye, NULL));
    float x[3] = {30, 0, 0}, dx[3], loss;
    int32_t label = 0;
    ck_assert_ok(nnp_grad_loss(net, NULL, x, &label, 1, dx, &loss, NULL));
    const double e = exp(-30.0), want_loss = log1p(2 * e);
    ck_assert_double_eq_tol(loss / want_loss, 1.0, 1e-6);
    ck_assert_double_eq_tol(dx[0] / (-2 * e / (1 + 2 * e)), 1.0, 1e-6);
    ck_assert_double_eq_tol(dx[1] / (e / (1 + 2 * e)), 1.0, 1e-6);
    /* and a wrong, confident prediction: loss ≈ 30, gradient ≈ (1, −1, 0)·… */
    label = 1;
    ck_assert_ok(nnp_grad_loss(net, NULL, x, &label, 1, dx, &loss, NULL));
    ck_assert_double_eq_tol(loss, 30 + log1p(2 * e), 1e-5);
    ck_assert_double_eq_tol(dx[0], 1 - 2 * e, 1e-6);
    ck_assert_double_eq_tol(dx[1], -(1 - e), 1e-6);
    nnp_net_free(net);
}
END_TEST

/* A net that is only its input: the logits are x, so dx = softmax(x) − onehot. */
START_TEST(input_only_net)
{
    nnp_net *net = NULL;
    ck_assert_ok(nnp_net_create(1, 1, 2, &net));
    float x[2] = {0, 0}, dx[2] = {99, 99};
    int32_t label = 1;
    ck_assert_ok(nnp_grad_loss(net, NULL, x, &label, 1, dx, NULL, NULL));
    ck_assert_float_eq_tol(dx[0], 0.5f, 1e-7f);
    ck_assert_float_eq_tol(dx[1], -0.5f, 1e-7f);
    nnp_net_free(net);
}
END_TEST

START_TEST(misuse_is_refused)
{
    nnp_net *net = mixed_net(1), *other = mixed_net(2);
    float x[12] = {0}, dx[12], v[16] = {0};
    int32_t label = 0, bad_label = 4, neg_label = -1;
    nnp_workspace *ws = NULL;
    ck_assert_ok(nnp_workspace_create(other, 1, &ws));
    ck_assert_status(nnp_grad_loss(NULL, NULL, x, &label, 1, dx, NULL, NULL), NNP_EINVAL);
    ck_assert_status(nnp_grad_loss(net, NULL, NULL, &label, 1, dx, NULL, NULL), NNP_EINVAL);
    ck_assert_error_has("x is NULL");
    ck_assert_status(nnp_grad_loss(net, NULL, x, NULL, 1, dx, NULL, NULL), NNP_EINVAL);
    ck_assert_status(nnp_grad_loss(net, NULL, x, &label, 1, NULL, NULL, NULL), NNP_EINVAL);
    ck_assert_status(nnp_grad_loss(net, NULL, x, &label, 0, dx, NULL, NULL), NNP_EINVAL);
    ck_assert_status(nnp_grad_loss(net, NULL, x, &bad_label, 1, dx, NULL, NULL), NNP_EINVAL);
    ck_assert_error_has("labels[0] = 4");
    ck_assert_status(nnp_grad_loss(net, NULL, x, &neg_label, 1, dx, NULL, NULL), NNP_EINVAL);
    ck_assert_status(nnp_grad_loss(net, ws, x, &label, 1, dx, NULL, NULL), NNP_EINVAL);
    ck_assert_error_has("another net");
    ck_assert_status(nnp_grad_unit(net, NULL, x, 1, 0, 0, dx, NULL), NNP_EINVAL);
    ck_assert_status(nnp_grad_unit(net, NULL, x, 1, 99, 0, dx, NULL), NNP_EINVAL);
    ck_assert_error_has("layer 99 out of range");
    ck_assert_status(nnp_grad_unit(net, NULL, x, 1, 1, 9, dx, NULL), NNP_EINVAL);
    ck_assert_error_has("unit 9");
    ck_assert_status(nnp_grad_vjp(net, NULL, x, 1, 1, NULL, dx), NNP_EINVAL);
    ck_assert_status(nnp_grad_vjp(net, NULL, x, 1, 8, v, dx), NNP_EINVAL);
    ck_assert_ok(nnp_grad_vjp(net, NULL, x, 1, 7, v, dx));
    nnp_workspace_free(ws);
    nnp_net_free(net);
    nnp_net_free(other);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("grad");
    TCase *tc = tcase_create("finite differences");
    tcase_add_loop_test(tc, fd_loss_gradient, 0, 2);
    tcase_add_loop_test(tc, fd_unit_gradient_every_layer, 0, 2);
    tcase_add_loop_test(tc, fd_vjp_every_layer, 0, 2);
    tcase_add_loop_test(tc, fd_each_activation, 0, 9);
    tcase_add_test(tc, fd_pad);
    tcase_add_test(tc, batch_matches_single_and_workspace_reuse);
    tcase_add_test(tc, no_allocation_on_hot_path);
    tcase_add_test(tc, confident_examples_keep_accuracy);
    tcase_add_test(tc, input_only_net);
    suite_add_tcase(s, tc);
    TCase *api = tcase_create("api");
    tcase_add_test(api, misuse_is_refused);
    suite_add_tcase(s, api);
    return tu_run(s);
}
