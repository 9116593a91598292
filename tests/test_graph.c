/* DAG networks: residual additions, branches, flatten and dropout; gradients through them
 * against finite differences of the double-precision reference (tests/refnet.c). Tolerance as
 * in test_grad.c: float rounding only, 2e-5 relative to max(1, |g|). */
#include <math.h>
#include <stdlib.h>

#include "refnet.h"
#include "testutil.h"

#define TOL 2e-5

/* x(6) -> dense 5 -> tanh (=h) -> dense 5 -> sigmoid -> add(h, .) -> [branch from h: dense 5
 * -> relu] -> add -> flatten -> dropout -> dense 3. Two residual joins; h feeds three layers. */
static nnp_net *residual_net(size_t *h_out)
{
    nnp_net *net = NULL;
    size_t h, s, r1, b, r2;
    ck_assert_ok(nnp_net_create(1, 2, 3, &net));
    ck_assert_ok(nnp_net_add_dense(net, 5, NULL));
    ck_assert_ok(nnp_net_add_activation(net, NNP_LAYER_TANH, &h));
    ck_assert_ok(nnp_net_add_dense(net, 5, NULL));
    ck_assert_ok(nnp_net_add_activation(net, NNP_LAYER_SIGMOID, &s));
    ck_assert_ok(nnp_net_add_add(net, h, s, &r1));
    ck_assert_ok(nnp_net_branch_from(net, h));
    ck_assert_ok(nnp_net_add_dense(net, 5, NULL));
    ck_assert_ok(nnp_net_add_activation(net, NNP_LAYER_SOFTPLUS, &b));
    ck_assert_ok(nnp_net_add_add(net, r1, b, &r2));
    ck_assert_ok(nnp_net_add_flatten(net, NULL));
    ck_assert_ok(nnp_net_add_dropout(net, 0.5f, NULL));
    ck_assert_ok(nnp_net_add_dense(net, 3, NULL));
    ck_assert_ok(nnp_net_init_params(net, 77));
    nnp_layer_info info = {.size = sizeof info};
    ck_assert_ok(nnp_net_layer_info(net, r1, &info));
    ck_assert_int_eq(info.kind, NNP_LAYER_ADD);
    ck_assert_uint_eq(info.n_inputs, 2);
    ck_assert_uint_eq(info.inputs[0], h);
    ck_assert_uint_eq(info.inputs[1], s);
    ck_assert_ok(nnp_net_layer_info(net, b - 1, &info));
    ck_assert_uint_eq(info.inputs[0], h); /* the branch attached to h, not to r1 */
    ck_assert_ok(nnp_net_layer_info(net, r2 + 1, &info));
    ck_assert_uint_eq(info.inputs[0], r2); /* and afterwards to the last layer again */
    if (h_out) *h_out = h;
    return net;
}

typedef struct ctx {
    const nnp_net *net;
    int32_t label;
    size_t layer;
    const float *v;
} ctx;

static double loss_fn(void *p, const double *x)
{
    ctx *c = p;
    return ref_xent(c->net, x, c->label);
}

static double vjp_fn(void *p, const double *x)
{
    ctx *c = p;
    return ref_unit_dot(c->net, x, c->layer, 0, c->v);
}

START_TEST(residual_gradients_match_fd)
{
    nnp_net *net = residual_net(NULL);
    const size_t n = 3, d = 6;
    float x[18], dx[18], logits[9];
    int32_t labels[3] = {0, 2, 1};
    tu_fill_uniform(x, n * d, 0, 1, 4);
    ck_assert_ok(nnp_grad_loss(net, NULL, x, labels, n, dx, NULL, logits));
    double xd[6], g[6];
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < d; j++) xd[j] = x[i * d + j];
        ctx c = {.net = net, .label = labels[i]};
        ref_fd_grad(loss_fn, &c, xd, d, 1e-5, g);
        ck_assert_msg(ref_rel_err(dx + i * d, g, d) < TOL, "example %zu: error %g", i,
                      ref_rel_err(dx + i * d, g, d));
        for (size_t k = 0; k < 3; k++)
            ck_assert_double_eq_tol(logits[i * 3 + k],
                                    ref_unit_dot(net, xd, nnp_net_layer_count(net) - 1, k, NULL), 1e-5);
    }
    /* VJP at every layer, including the joins and the layer feeding three others */
    float v[3 * 5];
    for (size_t l = 1; l < nnp_net_layer_count(net); l++) {
        nnp_layer_info info = {.size = sizeof info};
        ck_assert_ok(nnp_net_layer_info(net, l, &info));
        tu_fill_uniform(v, n * info.output_size, -1, 1, 10 + l);
        ck_assert_ok(nnp_grad_vjp(net, NULL, x, n, l, v, dx));
        for (size_t i = 0; i < n; i++) {
            for (size_t j = 0; j < d; j++) xd[j] = x[i * d + j];
            ctx c = {.net = net, .layer = l, .v = v + i * info.output_size};
            ref_fd_grad(vjp_fn, &c, xd, d, 1e-5, g);
            ck_assert_msg(ref_rel_err(dx + i * d, g, d) < TOL, "layer %zu example %zu", l, i);
        }
    }
    nnp_net_free(net);
}
END_TEST

/* y = h + h: both inputs are one layer; its gradient is twice the output's. */
START_TEST(add_of_a_layer_to_itself)
{
    nnp_net *net = NULL;
    size_t h;
    ck_assert_ok(nnp_net_create(1, 1, 4, &net));
    ck_assert_ok(nnp_net_add_activation(net, NNP_LAYER_TANH, &h));
    ck_assert_ok(nnp_net_add_add(net, h, h, NULL));
    ck_assert_ok(nnp_net_add_add(net, 0, 0, NULL)); /* the input twice, via the sink buffer */
    float x[4] = {0.1f, -0.2f, 0.3f, 0.9f}, v[4] = {1, 2, 3, 4}, dx[4];
    ck_assert_ok(nnp_grad_vjp(net, NULL, x, 1, 2, v, dx));
    for (int j = 0; j < 4; j++) {
        double t = tanh((double)x[j]);
        ck_assert_double_eq_tol(dx[j], 2 * v[j] * (1 - t * t), 1e-6);
    }
    ck_assert_ok(nnp_grad_vjp(net, NULL, x, 1, 3, v, dx));
    for (int j = 0; j < 4; j++) ck_assert_double_eq_tol(dx[j], 2 * v[j], 1e-6);
    nnp_net_free(net);
}
END_TEST

/* Training through a residual net decreases its loss, with the same FD-checked objective. */
START_TEST(trains_through_residual_joins)
{
    nnp_net *net = residual_net(NULL);
    float x[60 * 6];
    int32_t y[60];
    tu_fill_uniform(x, 360, 0, 1, 8);
    for (int i = 0; i < 60; i++) y[i] = x[i * 6] + x[i * 6 + 1] > 1.0f ? 1 : (x[i * 6 + 2] > 0.5f ? 2 : 0);
    nnp_dataset *ds = NULL;
    ck_assert_ok(nnp_dataset_create(60, 1, 2, 3, x, y, &ds));
    double before, after;
    ck_assert_ok(nnp_eval_error_rate(net, nnp_dataset_images(ds), nnp_dataset_labels(ds), nnp_dataset_count(ds), NULL, &before));
    nnp_train_opts o;
    ck_assert_ok(nnp_train_opts_init(&o));
    o.epochs = 40;
    o.batch_size = 10;
    ck_assert_ok(nnp_train(net, ds, &o, NULL));
    ck_assert_ok(nnp_eval_error_rate(net, nnp_dataset_images(ds), nnp_dataset_labels(ds), nnp_dataset_count(ds), NULL, &after));
    ck_assert_double_lt(after, 0.7 * before);
    nnp_dataset_free(ds);
    nnp_net_free(net);
}
END_TEST

/* A convolutional residual block, x + conv(tanh(conv(x))) -> max pool -> dense, against
 * central differences of the library's own float forward pass (h = 1e-3: truncation ~h²·f'''
 * ≈ 1e-7, float rounding ≈ 1e-7·|f|/h ≈ 1e-4; tolerance 2e-3 relative to max(1, |g|)). With
 * h = 1e-2 a max-pool argmax flips inside ±h for this input and the check fails by 7e-2. */
START_TEST(conv_residual_block_gradient)
{
    nnp_net *net = NULL;
    size_t c2;
    ck_assert_ok(nnp_net_create(2, 5, 5, &net));
    nnp_net_conv2d_opts o;
    ck_assert_ok(nnp_net_conv2d_opts_init(&o));
    o.out_channels = 2;
    o.pad_top = o.pad_left = o.pad_bottom = o.pad_right = 1;
    ck_assert_ok(nnp_net_add_conv2d(net, &o, NULL));
    ck_assert_ok(nnp_net_add_activation(net, NNP_LAYER_TANH, NULL));
    ck_assert_ok(nnp_net_add_conv2d(net, &o, &c2));
    ck_assert_ok(nnp_net_add_add(net, 0, c2, NULL));
    nnp_net_pool2d_opts po;
    ck_assert_ok(nnp_net_pool2d_opts_init(&po));
    po.kernel_h = po.kernel_w = 3;
    po.stride_h = po.stride_w = 2;
    ck_assert_ok(nnp_net_add_maxpool2d(net, &po, NULL));
    ck_assert_ok(nnp_net_add_dense(net, 3, NULL));
    ck_assert_ok(nnp_net_init_params(net, 5));
    enum { D = 50 };
    float x[2 * D], dx[2 * D], z[3];
    int32_t labels[2] = {1, 2};
    tu_fill_uniform(x, 2 * D, 0, 1, 6);
    ck_assert_ok(nnp_grad_loss(net, NULL, x, labels, 2, dx, NULL, NULL));
    for (size_t i = 0; i < 2; i++) {
        double gmax = 1, err = 0;
        for (size_t j = 0; j < D; j++) gmax = fmax(gmax, fabs(dx[i * D + j]));
        for (size_t j = 0; j < D; j++) {
            float xp[D];
            double f[2];
            for (int sgn = 0; sgn < 2; sgn++) {
                memcpy(xp, x + i * D, sizeof xp);
                xp[j] += sgn ? -1e-3f : 1e-3f;
                ck_assert_ok(nnp_net_forward(net, NULL, xp, 1, z));
                double m = fmax(z[0], fmax(z[1], z[2]));
                f[sgn] = m + log(exp(z[0] - m) + exp(z[1] - m) + exp(z[2] - m)) - z[labels[i]];
            }
            err = fmax(err, fabs((f[0] - f[1]) / 2e-3 - dx[i * D + j]));
        }
        ck_assert_msg(err / gmax < 2e-3, "example %zu: error %g", i, err / gmax);
    }
    nnp_net_free(net);
}
END_TEST

START_TEST(graph_misuse_is_refused)
{
    nnp_net *net = NULL;
    size_t d;
    ck_assert_ok(nnp_net_create(1, 1, 4, &net));
    ck_assert_ok(nnp_net_add_dense(net, 3, &d));
    ck_assert_status(nnp_net_add_add(net, 0, d, NULL), NNP_EINVAL);
    ck_assert_error_has("differ in shape");
    ck_assert_status(nnp_net_add_add(net, 0, 9, NULL), NNP_EINVAL);
    ck_assert_error_has("layer 9 out of range");
    ck_assert_status(nnp_net_add_add(NULL, 0, 0, NULL), NNP_EINVAL);
    ck_assert_status(nnp_net_branch_from(net, 5), NNP_EINVAL);
    ck_assert_status(nnp_net_branch_from(NULL, 0), NNP_EINVAL);
    ck_assert_status(nnp_net_add_dropout(net, 1.0f, NULL), NNP_EINVAL);
    ck_assert_error_has("ratio");
    ck_assert_status(nnp_net_add_dropout(net, NAN, NULL), NNP_EINVAL);
    ck_assert_status(nnp_net_add_flatten(NULL, NULL), NNP_EINVAL);
    /* flatten keeps values and reports the flat shape */
    nnp_net *img = NULL;
    size_t f;
    ck_assert_ok(nnp_net_create(2, 3, 4, &img));
    ck_assert_ok(nnp_net_add_flatten(img, &f));
    nnp_layer_info info = {.size = sizeof info};
    ck_assert_ok(nnp_net_layer_info(img, f, &info));
    ck_assert_uint_eq(info.channels, 24);
    ck_assert_uint_eq(info.height, 1);
    float x[24], y[24];
    tu_fill_uniform(x, 24, 0, 1, 1);
    ck_assert_ok(nnp_net_forward(img, NULL, x, 1, y));
    ck_assert_mem_eq(x, y, sizeof x);
    nnp_net_free(img);
    nnp_net_free(net);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("graph");
    TCase *tc = tcase_create("graph");
    tcase_add_test(tc, residual_gradients_match_fd);
    tcase_add_test(tc, add_of_a_layer_to_itself);
    tcase_add_test(tc, trains_through_residual_joins);
    tcase_add_test(tc, conv_residual_block_gradient);
    tcase_add_test(tc, graph_misuse_is_refused);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
