/* Check suite for nnp_net_normalized (include/nnprobe/net.h, lib/net/normalize.c): a net behind
 * a per-channel input normalisation (x − mean)/std. The expected values come from the original
 * net run on inputs normalised here by hand, finite differences in pixel space, and the
 * closed-form bound max 1/std; never from the code under test.
 *
 * Tolerances: the chain-rule check compares two float32 backward passes of the same layers
 * (relative 1e-4: rounding of the extra 1/std product); the central differences of the
 * float32 loss use h = 1e-2 in pixels (a smaller h drowns in float rounding of the loss, about
 * 1e-7 relative) and accept a relative 2e-3, the O(h²) term of tanh/softmax curvature. */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/core.h"
#include "testutil.h"

#define C 3
#define H 6
#define W 5
#define D (C * H * W)
#define K 4 /* classes */
#define N 3 /* examples */

static const float MEAN[C] = {0.485f, 0.456f, 0.406f}, STD[C] = {0.229f, 0.224f, 0.225f};

/* input 3×6×5 → conv 4@3×3 pad 1 → tanh → add(conv, tanh) → maxpool 2 → flatten → dense 4:
 * a branch (add), so that shifted input indices are exercised too */
static nnp_net *make_net(void)
{
    nnp_net *net = NULL;
    size_t conv, act;
    ck_assert_ok(nnp_net_create(C, H, W, &net));
    nnp_net_conv2d_opts co;
    ck_assert_ok(nnp_net_conv2d_opts_init(&co));
    co.out_channels = 4;
    co.pad_top = co.pad_left = co.pad_bottom = co.pad_right = 1;
    ck_assert_ok(nnp_net_add_conv2d(net, &co, &conv));
    ck_assert_ok(nnp_net_add_activation(net, NNP_LAYER_TANH, &act));
    ck_assert_ok(nnp_net_add_add(net, conv, act, NULL));
    nnp_net_pool2d_opts po;
    ck_assert_ok(nnp_net_pool2d_opts_init(&po));
    po.kernel_h = po.kernel_w = po.stride_h = po.stride_w = 2;
    ck_assert_ok(nnp_net_add_maxpool2d(net, &po, NULL));
    ck_assert_ok(nnp_net_add_flatten(net, NULL));
    ck_assert_ok(nnp_net_add_dense(net, K, NULL));
    ck_assert_ok(nnp_net_init_params(net, 7));
    return net;
}

static void normalise_by_hand(const float *x, float *z, size_t n)
{
    for (size_t i = 0; i < n; i++)
        for (size_t c = 0; c < C; c++)
            for (size_t p = 0; p < H * W; p++) {
                size_t j = i * D + c * H * W + p;
                z[j] = (float)(((double)x[j] - MEAN[c]) / STD[c]);
            }
}

START_TEST(test_forward_and_layers)
{
    nnp_net *net = make_net(), *nn = NULL;
    ck_assert_ok(nnp_net_normalized(net, MEAN, STD, C, &nn));
    ck_assert_uint_eq(nnp_net_layer_count(nn), nnp_net_layer_count(net) + 1);
    ck_assert_uint_eq(nnp_net_input_size(nn), D);
    ck_assert_uint_eq(nnp_net_param_count(nn), nnp_net_param_count(net) + 4 * C);
    nnp_layer_info li = {.size = sizeof li}, lo = {.size = sizeof lo};
    ck_assert_ok(nnp_net_layer_info(nn, 1, &li));
    ck_assert_int_eq(li.kind, NNP_LAYER_BATCHNORM);
    ck_assert_uint_eq(li.channels, C);
    for (size_t i = 1; i < nnp_net_layer_count(net); i++) { /* layer i is now layer i + 1 */
        ck_assert_ok(nnp_net_layer_info(net, i, &lo));
        ck_assert_ok(nnp_net_layer_info(nn, i + 1, &li));
        ck_assert_int_eq(li.kind, lo.kind);
        ck_assert_uint_eq(li.output_size, lo.output_size);
        ck_assert_uint_eq(li.n_inputs, lo.n_inputs);
        for (size_t k = 0; k < lo.n_inputs; k++) ck_assert_uint_eq(li.inputs[k], lo.inputs[k] + 1);
    }
    float x[N * D], z[N * D], y0[N * K], y1[N * K];
    tu_fill_uniform(x, N * D, 0.0f, 1.0f, 3);
    normalise_by_hand(x, z, N);
    ck_assert_ok(nnp_net_forward(net, NULL, z, N, y0));
    ck_assert_ok(nnp_net_forward(nn, NULL, x, N, y1));
    for (size_t k = 0; k < N * K; k++) ck_assert_float_eq_tol(y1[k], y0[k], 1e-5f);
    /* the copy is independent: freeing the original leaves it working */
    nnp_net_free(net);
    ck_assert_ok(nnp_net_forward(nn, NULL, x, N, y0));
    for (size_t k = 0; k < N * K; k++) ck_assert_float_eq(y0[k], y1[k]);
    nnp_net_free(nn);
}
END_TEST

/* d loss / d pixels: (a) by central differences of the normalised net's loss in pixel space;
 * (b) by the chain rule: the original net's gradient at the normalised input, divided by std_c */
START_TEST(test_gradient_in_pixel_space)
{
    nnp_net *net = make_net(), *nn = NULL;
    ck_assert_ok(nnp_net_normalized(net, MEAN, STD, C, &nn));
    float x[N * D], z[N * D], dx[N * D], dz[N * D], loss[N];
    const int32_t labels[N] = {0, 2, 3};
    tu_fill_uniform(x, N * D, 0.1f, 0.9f, 5);
    normalise_by_hand(x, z, N);
    ck_assert_ok(nnp_grad_loss(nn, NULL, x, labels, N, dx, loss, NULL));
    ck_assert_ok(nnp_grad_loss(net, NULL, z, labels, N, dz, NULL, NULL));
    for (size_t i = 0; i < N; i++)
        for (size_t j = 0; j < D; j++) {
            const size_t c = j / (H * W);
            ck_assert_float_eq_tol(dx[i * D + j], dz[i * D + j] / STD[c],
                                   1e-4f * (1.0f + fabsf(dx[i * D + j])));
        }
    const float h = 1e-2f; /* max pooling: kinks are rare at these points; tolerance below */
    size_t checked = 0, bad = 0;
    for (size_t j = 0; j < D; j += 7) {
        float xp[D], xm[D], lp, lm, g[D];
        memcpy(xp, x, sizeof xp);
        memcpy(xm, x, sizeof xm);
        xp[j] += h;
        xm[j] -= h;
        ck_assert_ok(nnp_grad_loss(nn, NULL, xp, labels, 1, g, &lp, NULL));
        ck_assert_ok(nnp_grad_loss(nn, NULL, xm, labels, 1, g, &lm, NULL));
        const double fd = ((double)lp - lm) / (2.0 * h);
        checked++;
        if (fabs(fd - dx[j]) > 2e-3 * (1.0 + fabs(fd))) bad++;
    }
    ck_assert_uint_gt(checked, 10);
    ck_assert_uint_eq(bad, 0);
    nnp_net_free(net);
    nnp_net_free(nn);
}
END_TEST

START_TEST(test_lipschitz_bound)
{
    nnp_net *net = make_net(), *nn = NULL;
    ck_assert_ok(nnp_net_normalized(net, MEAN, STD, C, &nn));
    const size_t L = nnp_net_layer_count(nn);
    nnp_lipschitz_info info[16], orig[16];
    for (size_t i = 0; i < L; i++) info[i].size = orig[i].size = sizeof info[0];
    ck_assert_ok(nnp_lipschitz_bounds(nn, NULL, info, L));
    ck_assert_ok(nnp_lipschitz_bounds(net, NULL, orig, L - 1));
    double want = 0.0; /* max_c 1/std_c, from the given values */
    for (size_t c = 0; c < C; c++) want = fmax(want, 1.0 / STD[c]);
    ck_assert_double_eq_tol(info[1].bound, want, 1e-6 * want);
    ck_assert_double_eq_tol(info[1].upper_to, want, 1e-6 * want);
    /* the whole-net bound is the original's times the normalisation's */
    ck_assert_double_eq_tol(info[L - 1].upper_to, orig[L - 2].upper_to * want,
                            1e-5 * info[L - 1].upper_to);
    nnp_net_free(net);
    nnp_net_free(nn);
}
END_TEST

/* An attack on the normalised net stays in the pixel box and within ε in pixel units. */
START_TEST(test_attack_in_pixel_space)
{
    nnp_net *net = make_net(), *nn = NULL;
    ck_assert_ok(nnp_net_normalized(net, MEAN, STD, C, &nn));
    float x[N * D], xa[N * D];
    const int32_t labels[N] = {1, 0, 2};
    tu_fill_uniform(x, N * D, 0.0f, 1.0f, 9);
    nnp_attack_fgsm_opts o;
    ck_assert_ok(nnp_attack_fgsm_opts_init(&o));
    o.epsilon = 0.03;
    nnp_attack_result r[N];
    ck_assert_ok(nnp_attack_fgsm(nn, x, labels, NULL, N, &o, xa, r));
    size_t attacked = 0;
    for (size_t i = 0; i < N; i++) {
        float mx = 0.0f;
        for (size_t j = i * D; j < (i + 1) * D; j++) {
            ck_assert(xa[j] >= 0.0f && xa[j] <= 1.0f);
            mx = fmaxf(mx, fabsf(xa[j] - x[j]));
        }
        ck_assert_float_le(mx, 0.03f + 1e-6f);
        /* a step of ε in pixels (not ε·std, as a step in normalised space would be) */
        if (r[i].c > 0.0) {
            attacked++;
            ck_assert_float_ge(mx, 0.03f - 1e-6f);
        }
    }
    ck_assert_uint_gt(attacked, 0);
    nnp_net_free(net);
    nnp_net_free(nn);
}
END_TEST

START_TEST(test_onnx_roundtrip)
{
    nnp_net *net = make_net(), *nn = NULL, *back = NULL;
    ck_assert_ok(nnp_net_normalized(net, MEAN, STD, C, &nn));
    char p[512];
    tu_tmp_path(p, sizeof p, "normalized.onnx");
    ck_assert_ok(nnp_net_save_onnx(nn, p));
    ck_assert_ok(nnp_net_load_onnx(p, &back));
    float x[N * D], y0[N * K], y1[N * K];
    tu_fill_uniform(x, N * D, 0.0f, 1.0f, 11);
    ck_assert_ok(nnp_net_forward(nn, NULL, x, N, y0));
    ck_assert_ok(nnp_net_forward(back, NULL, x, N, y1));
    for (size_t k = 0; k < N * K; k++) ck_assert_float_eq_tol(y1[k], y0[k], 1e-5f);
    remove(p);
    nnp_net_free(net);
    nnp_net_free(nn);
    nnp_net_free(back);
}
END_TEST

START_TEST(test_invalid)
{
    nnp_net *net = make_net(), *nn = (nnp_net *)(uintptr_t)1;
    const float two[2] = {0.5f, 0.5f}, zero[C] = {0.2f, 0.0f, 0.2f}, neg[C] = {0.2f, 0.2f, -1.0f};
    const float nanm[C] = {0.1f, NAN, 0.1f}, inf[C] = {0.2f, INFINITY, 0.2f},
                tiny[C] = {1e-45f, 0.2f, 0.2f};
    ck_assert_status(nnp_net_normalized(net, two, two, 2, &nn), NNP_EINVAL);
    ck_assert_ptr_null(nn);
    ck_assert_error_has("2 mean/std values given, but the net's input has 3 channels");
    ck_assert_status(nnp_net_normalized(net, MEAN, zero, C, &nn), NNP_EINVAL);
    ck_assert_error_has("std[1] = 0, must be > 0");
    ck_assert_status(nnp_net_normalized(net, MEAN, neg, C, &nn), NNP_EINVAL);
    ck_assert_error_has("std[2] = -1");
    ck_assert_status(nnp_net_normalized(net, MEAN, inf, C, &nn), NNP_EINVAL);
    ck_assert_error_has("std[1] = inf");
    ck_assert_status(nnp_net_normalized(net, MEAN, tiny, C, &nn), NNP_EINVAL);
    ck_assert_error_has("std[0]");
    ck_assert_status(nnp_net_normalized(net, nanm, STD, C, &nn), NNP_EINVAL);
    ck_assert_error_has("mean[1] = nan is not finite");
    ck_assert_status(nnp_net_normalized(NULL, MEAN, STD, C, &nn), NNP_EINVAL);
    ck_assert_status(nnp_net_normalized(net, NULL, STD, C, &nn), NNP_EINVAL);
    ck_assert_status(nnp_net_normalized(net, MEAN, NULL, C, &nn), NNP_EINVAL);
    ck_assert_status(nnp_net_normalized(net, MEAN, STD, C, NULL), NNP_EINVAL);
    ck_assert_ptr_null(nn);
    nnp_net_free(net);
}
END_TEST

static nnp_status alloc_run(void *user, long k)
{
    (void)k;
    tu_net_pair *pr = user;
    return nnp_net_normalized(pr->net, MEAN, STD, C, &pr->copy);
}

static void alloc_after(void *user, long k, nnp_status s)
{
    (void)k;
    tu_net_pair *pr = user;
    if (s != NNP_OK) ck_assert_ptr_null(pr->copy);
    nnp_net_free(pr->copy);
    pr->copy = NULL;
}

START_TEST(test_alloc_failures)
{
    tu_net_pair pr = {make_net(), NULL};
    tu_alloc_loop loop = {.what = "nnp_net_normalized", .max_k = 64, .until_ok = 1,
                          .check_message = 1, .run = alloc_run, .after = alloc_after, .user = &pr};
    tu_alloc_counts n = tu_alloc_failures(&loop);
    ck_assert_int_gt(n.failures, 2);
    ck_assert_int_eq(n.successes, 1);
    nnp_net_free(pr.net);
}
END_TEST

static Suite *normalize_suite(void)
{
    Suite *s = suite_create("normalize");
    TCase *tc = tcase_create("normalize");
    tcase_add_test(tc, test_forward_and_layers);
    tcase_add_test(tc, test_gradient_in_pixel_space);
    tcase_add_test(tc, test_lipschitz_bound);
    tcase_add_test(tc, test_attack_in_pixel_space);
    tcase_add_test(tc, test_onnx_roundtrip);
    tcase_add_test(tc, test_invalid);
    tcase_add_test(tc, test_alloc_failures);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_run(normalize_suite()); }
