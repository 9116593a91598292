/* Non-finite values never pass silently (issue 17, item 8):
 *  - every query refuses a non-finite input value with NNP_EINVAL naming the example and the
 *    index (one table over all entry points);
 *  - every probe refuses a model whose outputs overflow with NNP_ENUMERIC naming the example
 *    and the layer where the value first became non-finite (a second table), so that a NaN
 *    logit is never classified as label 0, and an infinite gradient is refused too;
 *  - the layers themselves propagate NaN (ReLU used to map it to 0).
 * Exact statuses and message fragments; no tolerances. */
#include <math.h>
#include <stdlib.h>

#include "testutil.h"

enum { D = 4, K = 3, N = 2 };

/* Input 1×1×4 -> dense 3 (layer 1) -> ReLU (2) -> dense 3 (3, the logits). With `overflow`,
 * the first dense layer's weights on pixels 0 and 1 are 3e38: example 0 below (pixels 0.1)
 * stays finite (6e37), example 1 (pixels 1.0) overflows to +inf at layer 1. */
static nnp_net *small_net(int overflow)
{
    nnp_net *net = NULL;
    ck_assert_ok(nnp_net_create(1, 1, D, &net));
    ck_assert_ok(nnp_net_add_dense(net, K, NULL));
    ck_assert_ok(nnp_net_add_activation(net, NNP_LAYER_RELU, NULL));
    ck_assert_ok(nnp_net_add_dense(net, K, NULL));
    float w1[K * D], b1[K] = {0.1f, 0.0f, -0.1f}, w2[K * K], b2[K] = {0, 0, 0};
    for (int u = 0; u < K; u++)
        for (int j = 0; j < D; j++)
            w1[u * D + j] = overflow && j < 2 ? 3e38f : 0.1f * (float)(u + 1) * (j % 2 ? -1.0f : 1.0f);
    for (int i = 0; i < K * K; i++) w2[i] = i % 4 == 0 ? 0.1f : -0.05f;
    ck_assert_ok(nnp_net_set_params(net, 1, w1, b1));
    ck_assert_ok(nnp_net_set_params(net, 3, w2, b2));
    return net;
}

/* Example 0 in [0,1] with small pixels 0 and 1, example 1 with pixels 0 and 1 at 1.0. */
static const float X[N * D] = {0.1f, 0.1f, 0.5f, 0.25f, /* example 1 */ 1.0f, 1.0f, 0.5f, 0.75f};
static const int32_t LABELS[N] = {0, 1};

/* ---- one call per entry point, on (net, x) ---- */

typedef struct call_ctx {
    const nnp_net *net;
    const float *x; /* N × D */
} call_ctx;

static nnp_status c_forward(const call_ctx *c)
{
    float z[N * K];
    return nnp_net_forward(c->net, NULL, c->x, N, z);
}
static nnp_status c_forward_layer(const call_ctx *c)
{
    float h[N * K];
    return nnp_net_forward_layer(c->net, NULL, c->x, N, 1, h);
}
static nnp_status c_grad_loss(const call_ctx *c)
{
    float dx[N * D], loss[N];
    return nnp_grad_loss(c->net, NULL, c->x, LABELS, N, dx, loss, NULL);
}
static nnp_status c_grad_unit(const call_ctx *c)
{
    float dx[N * D];
    return nnp_grad_unit(c->net, NULL, c->x, N, 3, 0, dx, NULL);
}
static nnp_status c_grad_vjp(const call_ctx *c)
{
    const float v[N * K] = {1, 0, 0, 0, 1, 0};
    float dx[N * D];
    return nnp_grad_vjp(c->net, NULL, c->x, N, 3, v, dx);
}
#define ATTACK_CALL(m)                                                                  \
    static nnp_status c_attack_##m(const call_ctx *c)                                   \
    {                                                                                   \
        float x_adv[N * D];                                                             \
        nnp_attack_result r[N];                                                         \
        return nnp_attack_##m(c->net, c->x, LABELS, NULL, N, NULL, x_adv, r);           \
    }
ATTACK_CALL(lbfgs)
ATTACK_CALL(fgsm)
ATTACK_CALL(pgd)
ATTACK_CALL(deepfool)
ATTACK_CALL(cw)
static nnp_status c_error_rate(const call_ctx *c)
{
    double rate, loss;
    return nnp_eval_error_rate(c->net, c->x, LABELS, N, &rate, &loss);
}
static nnp_status c_transfer(const call_ctx *c)
{
    const nnp_net *nets[1] = {c->net};
    const float *sets[1] = {c->x};
    double errors[1];
    return nnp_eval_transfer_matrix(nets, 1, sets, 1, LABELS, N, errors);
}
static nnp_status c_noise(const call_ctx *c)
{
    float out[N * D];
    return nnp_eval_noise_gaussian(c->x, N * D, 0.1, 1, out);
}
static nnp_status c_rescale_x(const call_ctx *c)
{
    float out[N * D];
    return nnp_eval_perturbation_rescale(c->x, X, N, D, 0.1, out);
}
static nnp_status c_rescale_adv(const call_ctx *c)
{
    float out[N * D];
    return nnp_eval_perturbation_rescale(X, c->x, N, D, 0.1, out);
}
static nnp_status c_lower(const call_ctx *c)
{
    double lower;
    return nnp_lipschitz_lower(c->net, c->x, N, 3, NULL, NULL, &lower, NULL);
}
static nnp_status c_clever(const call_ctx *c)
{
    nnp_lipschitz_opts o;
    ck_assert_ok(nnp_lipschitz_opts_init(&o));
    o.clever_batches = 2, o.clever_samples = 8;
    double est;
    return nnp_lipschitz_clever(c->net, c->x + D, 1, 0, 0.01, &o, &est, NULL, NULL); /* ex. 1 */
}
static nnp_status c_optimise(const call_ctx *c)
{
    nnp_maxact_optimise_opts o;
    ck_assert_ok(nnp_maxact_optimise_opts_init(&o));
    o.start = c->x, o.steps = 2;
    float dirs[N * K], x[N * D];
    ck_assert_ok(nnp_maxact_directions_unit(K, 0, dirs));
    ck_assert_ok(nnp_maxact_directions_unit(K, 1, dirs + K));
    return nnp_maxact_optimise(c->net, NULL, 3, dirs, N, &o, x, NULL, NULL);
}
static nnp_status c_search(const call_ctx *c)
{
    nnp_dataset *ds = NULL;
    nnp_status s = nnp_dataset_create(N, 1, 1, D, c->x, LABELS, &ds);
    if (s != NNP_OK) return s; /* a NaN pixel: the data set refuses it already */
    float dir[K];
    ck_assert_ok(nnp_maxact_directions_unit(K, 0, dir));
    size_t top[1];
    s = nnp_maxact_search(c->net, NULL, ds, 3, dir, 1, 1, NULL, top, NULL, NULL, NULL, NULL);
    nnp_dataset_free(ds);
    return s;
}

typedef struct probe_row {
    const char *what;
    nnp_status (*call)(const call_ctx *c);
    const char *nan_msg;   /* what the NaN-pixel refusal must say */
    const char *model_msg; /* what the overflowing model's refusal must say, NULL: no model */
} probe_row;

/* The NaN is at example 1, index 2 (x[6]). */
static const probe_row PROBES[] = {
    {"forward", c_forward, "nnp_net_forward: x[6] = nan (example 1, index 2)",
     "nnp_net_forward: example 1: output 0 of layer 3 (dense)"},
    {"forward_layer", c_forward_layer, "nnp_net_forward_layer: x[6] = nan (example 1, index 2)",
     "nnp_net_forward_layer: example 1: output 0 of layer 1 (dense) is inf"},
    {"grad_loss", c_grad_loss, "nnp_grad_loss: x[6] = nan (example 1, index 2)",
     "nnp_grad_loss: example 1: output 0 of layer 3 (dense)"},
    {"grad_unit", c_grad_unit, "nnp_grad_unit: x[6] = nan (example 1, index 2)",
     "nnp_grad_unit: example 1: output 0 of layer 3 (dense)"},
    {"grad_vjp", c_grad_vjp, "nnp_grad_vjp: x[6] = nan (example 1, index 2)",
     "nnp_grad_vjp: example 1: output 0 of layer 3 (dense)"},
    {"lbfgs", c_attack_lbfgs, "nnp_attack_lbfgs: x[6] = nan (example 1, index 2)",
     "nnp_attack_lbfgs: classification: example 1:"},
    {"fgsm", c_attack_fgsm, "nnp_attack_fgsm: x[6] = nan (example 1, index 2)",
     "nnp_attack_fgsm: goal gradient: example 1:"},
    {"pgd", c_attack_pgd, "nnp_attack_pgd: x[6] = nan (example 1, index 2)",
     "nnp_attack_pgd: classification: example 1:"},
    {"deepfool", c_attack_deepfool, "nnp_attack_deepfool: x[6] = nan (example 1, index 2)",
     "nnp_attack_deepfool: classification: example 1:"},
    {"cw", c_attack_cw, "nnp_attack_cw: x[6] = nan (example 1, index 2)",
     "nnp_attack_cw: classification: example 1:"},
    {"error_rate", c_error_rate, "nnp_eval_error_rate: x[6] = nan (example 1, index 2)",
     "nnp_eval_error_rate: example 1: output 0 of layer 3 (dense)"},
    {"transfer_matrix", c_transfer,
     "nnp_eval_transfer_matrix: sets[0][6] = nan (example 1, index 2)",
     "nnp_eval_transfer_matrix: nets[0] on sets[0]: classification: example 1:"},
    {"noise_gaussian", c_noise, "nnp_eval_noise_gaussian: x[6] = nan", NULL},
    {"rescale x", c_rescale_x, "nnp_eval_perturbation_rescale: x[6] = nan (example 1, index 2)",
     NULL},
    {"rescale x_adv", c_rescale_adv,
     "nnp_eval_perturbation_rescale: x_adv[6] = nan (example 1, index 2)", NULL},
    {"lipschitz_lower", c_lower, "nnp_lipschitz_lower: x[6] = nan (example 1, index 2)",
     "nnp_lipschitz_lower: example 1: output 0 of layer 3 (dense)"},
    {"lipschitz_clever", c_clever, "nnp_lipschitz_clever: x[2] = nan (example 0, index 2)",
     "nnp_lipschitz_clever: batch 0 of samples around x: nnp_grad_vjp: example 0:"},
    {"maxact_optimise", c_optimise,
     "nnp_maxact_optimise: opts.start[6] = nan (example 1, index 2)",
     "nnp_maxact_optimise: step 1: example 1: output 0 of layer 3 (dense)"},
    {"maxact_search", c_search, "images[6] = nan (example 1)",
     "nnp_maxact_search: example 1: output 0 of layer 3 (dense)"},
};
enum { N_PROBES = sizeof PROBES / sizeof PROBES[0] };

/* A NaN pixel, then an infinite one, refused by every entry point with NNP_EINVAL naming the
 * example and the index. (The old code returned NNP_OK almost everywhere: ReLU made the NaN
 * a 0; the attacks refused it only as "outside the box", the data set as "outside [0,1]".) */
START_TEST(nan_pixel_refused_everywhere)
{
    nnp_net *net = small_net(0);
    float x[N * D];
    memcpy(x, X, sizeof x);
    x[6] = NAN;
    const call_ctx c = {net, x};
    const probe_row *r = &PROBES[_i];
    nnp_status s = r->call(&c);
    ck_assert_msg(s == NNP_EINVAL, "%s: NaN pixel gave %s (%s)", r->what, nnp_status_name(s),
                  nnp_last_error());
    ck_assert_msg(strstr(nnp_last_error(), r->nan_msg) != NULL, "%s: message \"%s\" lacks \"%s\"",
                  r->what, nnp_last_error(), r->nan_msg);
    if (r->call != c_search) { /* the data set's own message says "outside [0,1]" */
        x[6] = INFINITY;
        s = r->call(&c);
        ck_assert_msg(s == NNP_EINVAL && strstr(nnp_last_error(), "= inf (") != NULL,
                      "%s: infinite pixel gave %s (%s)", r->what, nnp_status_name(s),
                      nnp_last_error());
    }
    nnp_net_free(net);
}
END_TEST

/* The same entry points on finite input of a model whose outputs overflow for example 1:
 * NNP_ENUMERIC naming the example and the layer where it first became non-finite (layer 1, the
 * dense layer with the 3e38 weights), never a result (the attacks used to report label 0 for
 * NaN logits, the evaluation to count them as class 0). */
START_TEST(overflowing_model_refused_everywhere)
{
    const probe_row *r = &PROBES[_i];
    if (r->model_msg == NULL) return; /* no model involved */
    nnp_net *net = small_net(1);
    const call_ctx c = {net, X};
    nnp_status s = r->call(&c);
    ck_assert_msg(s == NNP_ENUMERIC, "%s: overflowing model gave %s (%s)", r->what,
                  nnp_status_name(s), nnp_last_error());
    ck_assert_msg(strstr(nnp_last_error(), r->model_msg) != NULL,
                  "%s: message \"%s\" lacks \"%s\"", r->what, nnp_last_error(), r->model_msg);
    ck_assert_msg(strstr(nnp_last_error(), "first became non-finite at layer 1 (dense)") != NULL,
                  "%s: message \"%s\" does not name layer 1", r->what, nnp_last_error());
    nnp_net_free(net);
}
END_TEST

/* The same model is fine on example 0 alone: the check refuses only what is not finite. */
START_TEST(overflowing_model_fine_where_finite)
{
    nnp_net *net = small_net(1);
    float z[K], dx[D];
    ck_assert_ok(nnp_net_forward(net, NULL, X, 1, z));
    for (int j = 0; j < K; j++) ck_assert(isfinite(z[j]));
    ck_assert_ok(nnp_grad_loss(net, NULL, X, LABELS, 1, dx, NULL, NULL));
    nnp_net_free(net);
}
END_TEST

/* Batch norm with variance −1 (allowed: the caller sets it) gives NaN at that layer; a
 * following dense layer spreads it to all logits; the message names the batchnorm layer. */
START_TEST(negative_variance_refused)
{
    nnp_net *net = NULL;
    size_t bn;
    ck_assert_ok(nnp_net_create(2, 1, 2, &net));
    ck_assert_ok(nnp_net_add_batchnorm(net, 0.5f, &bn));
    ck_assert_ok(nnp_net_add_dense(net, 2, NULL));
    ck_assert_ok(nnp_net_init_params(net, 3));
    const float w[6] = {1, 1, 0, 0, 1, -2}, b[2] = {0, 0};
    ck_assert_ok(nnp_net_set_params(net, bn, w, b));
    const float x[8] = {0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f, 0.7f, 0.8f};
    float z[4];
    ck_assert_status(nnp_net_forward(net, NULL, x, 2, z), NNP_ENUMERIC);
    ck_assert_error_has("nnp_net_forward: example 0: output 0 of layer 2 (dense) is nan; it "
                        "first became non-finite at layer 1 (batchnorm)");
    const int32_t labels[2] = {0, 1};
    double rate;
    ck_assert_status(nnp_eval_error_rate(net, x, labels, 2, &rate, NULL), NNP_ENUMERIC);
    ck_assert_error_has("layer 1 (batchnorm)");
    nnp_net_free(net);
}
END_TEST

/* Finite logits but an infinite input gradient (a 3e38 weight met on the way back: the
 * forward pass sees pixel 0 = 0): the gradient queries refuse it rather than return inf. */
START_TEST(infinite_gradient_refused)
{
    nnp_net *net = NULL;
    ck_assert_ok(nnp_net_create(1, 1, 2, &net));
    ck_assert_ok(nnp_net_add_dense(net, 1, NULL));
    ck_assert_ok(nnp_net_add_activation(net, NNP_LAYER_RELU, NULL));
    ck_assert_ok(nnp_net_add_dense(net, 2, NULL));
    const float w1[2] = {3e38f, 0.5f}, b1[1] = {1.0f}, w2[2] = {10.0f, -10.0f}, b2[2] = {0, 0};
    ck_assert_ok(nnp_net_set_params(net, 1, w1, b1));
    ck_assert_ok(nnp_net_set_params(net, 3, w2, b2));
    const float x[2] = {0.0f, 0.5f};
    const int32_t label = 1;
    float dx[2], z[2], loss;
    ck_assert_ok(nnp_net_forward(net, NULL, x, 1, z));
    ck_assert(isfinite(z[0]) && isfinite(z[1]));
    ck_assert_status(nnp_grad_loss(net, NULL, x, &label, 1, dx, &loss, NULL), NNP_ENUMERIC);
    ck_assert_error_has("nnp_grad_loss: example 0: the gradient dx[0] (index 0) is");
    ck_assert_status(nnp_grad_unit(net, NULL, x, 1, 3, 0, dx, NULL), NNP_ENUMERIC);
    ck_assert_error_has("nnp_grad_unit: example 0: the gradient dx[0]");
    const float v[2] = {1, 0};
    ck_assert_status(nnp_grad_vjp(net, NULL, x, 1, 3, v, dx), NNP_ENUMERIC);
    ck_assert_error_has("nnp_grad_vjp: example 0: the gradient dx[0]");
    /* and a non-finite v is an argument error */
    const float vn[2] = {NAN, 0};
    ck_assert_status(nnp_grad_vjp(net, NULL, x, 1, 3, vn, dx), NNP_EINVAL);
    ck_assert_error_has("nnp_grad_vjp: v[0] = nan (example 0, index 0) is not finite");
    nnp_net_free(net);
}
END_TEST

/* ---- the layers themselves: NaN in, NaN out (run unchecked, as the queries refuse it) ---- */

/* One activation of each kind on {NaN, -inf, -1, -0, 0, 2, inf}: NaN stays NaN, and the
 * numbers keep their values (ReLU: -0 gives +0, as `v > 0 ? v : 0` did). */
START_TEST(activations_propagate_nan)
{
    const nnp_layer_kind kinds[] = {NNP_LAYER_RELU,         NNP_LAYER_LEAKY_RELU, NNP_LAYER_SIGMOID,
                                    NNP_LAYER_TANH,         NNP_LAYER_SOFTPLUS,   NNP_LAYER_CLIP,
                                    NNP_LAYER_HARD_SIGMOID, NNP_LAYER_HARD_SWISH};
    enum { M = 7 };
    const float x[M] = {NAN, -INFINITY, -1.0f, -0.0f, 0.0f, 2.0f, INFINITY};
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        nnp_net *net = NULL;
        ck_assert_ok(nnp_net_create(1, 1, M, &net));
        if (kinds[k] == NNP_LAYER_LEAKY_RELU) ck_assert_ok(nnp_net_add_leaky_relu(net, 0.1, NULL));
        else if (kinds[k] == NNP_LAYER_CLIP) ck_assert_ok(nnp_net_add_clip(net, 0.0, 6.0, NULL));
        else ck_assert_ok(nnp_net_add_activation(net, kinds[k], NULL));
        float y[M];
        tu_pass_unchecked(net, x, 1, 1, y, NULL, NULL);
        ck_assert_msg(isnan(y[0]), "%s(NaN) = %g", nnp_layer_kind_name(kinds[k]), (double)y[0]);
        for (int i = 1; i < M; i++)
            ck_assert_msg(!isnan(y[i]), "%s(%g) = NaN", nnp_layer_kind_name(kinds[k]),
                          (double)x[i]);
        if (kinds[k] == NNP_LAYER_RELU) {
            const float want[M - 1] = {0.0f, 0.0f, 0.0f, 0.0f, 2.0f, INFINITY};
            ck_assert_mem_eq(y + 1, want, sizeof want); /* bit-exact: +0 for -0 */
        }
        if (kinds[k] == NNP_LAYER_HARD_SWISH) { /* -inf gives 0, not -inf·0 */
            const float want[M - 1] = {0.0f, -1.0f / 3.0f, -0.0f, 0.0f, 2.0f * 5.0f / 6.0f,
                                       INFINITY};
            for (int i = 0; i < M - 1; i++)
                ck_assert_msg(y[i + 1] == want[i] || fabsf(y[i + 1] - want[i]) <= 1e-6f,
                              "hard_swish(%g) = %g, want %g", (double)x[i + 1],
                              (double)y[i + 1], (double)want[i]);
        }
        nnp_net_free(net);
    }
}
END_TEST

/* A 1×2×4 input pooled by `add` with 2×2 windows, stride 2, and `pad_right` columns of
 * padding on the right. */
static nnp_net *pool_net(nnp_status (*add)(nnp_net *, const nnp_net_pool2d_opts *, size_t *),
                         size_t pad_right)
{
    nnp_net *net = NULL;
    ck_assert_ok(nnp_net_create(1, 2, 4, &net));
    nnp_net_pool2d_opts o;
    ck_assert_ok(nnp_net_pool2d_opts_init(&o));
    o.kernel_h = o.kernel_w = 2;
    o.stride_h = o.stride_w = 2;
    o.pad_right = pad_right;
    ck_assert_ok(add(net, &o, NULL));
    return net;
}

/* Max pooling (the vectorised 2×2 stride-2 path and the generic one) and average pooling: a
 * NaN anywhere in a window makes that window's output NaN, wherever it sits in the window. */
START_TEST(pooling_propagates_nan)
{
    for (int generic = 0; generic < 2; generic++)
        for (int pos = 0; pos < 4; pos++) {
            /* generic: pad_right 1 leaves the fast path (2×3 output columns, padded) */
            nnp_net *net = pool_net(nnp_net_add_maxpool2d, generic ? 1 : 0);
            float x[8] = {1, 2, 3, 4, 5, 6, 7, 8};
            x[(pos / 2) * 4 + pos % 2] = NAN; /* a cell of the first window */
            float y[3];
            tu_pass_unchecked(net, x, 1, 1, y, NULL, NULL);
            ck_assert_msg(isnan(y[0]), "maxpool (generic %d) NaN at %d gave %g", generic, pos,
                          (double)y[0]);
            ck_assert_float_eq(y[1], 8.0f);
            nnp_net_free(net);
        }
    nnp_net *net = pool_net(nnp_net_add_avgpool2d, 0);
    const float x[8] = {1, 2, 3, 4, 5, NAN, 7, 8};
    float y[2];
    tu_pass_unchecked(net, x, 1, 1, y, NULL, NULL);
    ck_assert(isnan(y[0]));
    ck_assert_float_eq(y[1], 5.5f);
    nnp_net_free(net);
}
END_TEST

/* Issue 17, item 9: nnp_eval_error_rate's errors carry its own name (they once read
 * "nnp_transfer_matrix:"). */
START_TEST(error_rate_messages_named)
{
    nnp_net *net = small_net(0);
    double rate;
    const int32_t bad[N] = {0, 7};
    ck_assert_status(nnp_eval_error_rate(net, X, bad, N, &rate, NULL), NNP_EINVAL);
    ck_assert_error_has("nnp_eval_error_rate: labels[1] = 7");
    ck_assert_status(nnp_eval_error_rate(net, NULL, LABELS, N, &rate, NULL), NNP_EINVAL);
    ck_assert_error_has("nnp_eval_error_rate: x is NULL");
    ck_assert_status(nnp_eval_error_rate(net, X, LABELS, 0, &rate, NULL), NNP_EINVAL);
    ck_assert_error_has("nnp_eval_error_rate: n is 0");
    nnp_net_free(net);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("nonfinite");
    TCase *tc = tcase_create("nonfinite");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, nan_pixel_refused_everywhere, 0, N_PROBES);
    tcase_add_loop_test(tc, overflowing_model_refused_everywhere, 0, N_PROBES);
    tcase_add_test(tc, overflowing_model_fine_where_finite);
    tcase_add_test(tc, negative_variance_refused);
    tcase_add_test(tc, infinite_gradient_refused);
    tcase_add_test(tc, activations_propagate_nan);
    tcase_add_test(tc, pooling_propagates_nan);
    tcase_add_test(tc, error_rate_messages_named);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
