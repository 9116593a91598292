/* Building networks, parameters, layer queries, forward passes, status/version API. */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/core.h"
#include "refnet.h"
#include "testutil.h"

/* 2 inputs -> dense(W=[[1,2],[3,-1]], b=[0.5,-1]) -> relu -> dense(W=[[2,-1]], b=[0.25]).
 * By hand: x=(1,1): h=(3.5, 1), y = 7 - 1 + 0.25 = 6.25; x=(0,1): h=(2.5, 0) (relu cuts -2),
 * y = 5.25; x=(1,0): h=(1.5, 2), y = 3 - 2 + 0.25 = 1.25. */
static nnp_net *hand_net(void)
{
    nnp_net *net = NULL;
    size_t l1, l2, l3;
    ck_assert_ok(nnp_net_create(1, 1, 2, &net));
    ck_assert_ok(nnp_net_add_dense(net, 2, &l1));
    ck_assert_ok(nnp_net_add_activation(net, NNP_LAYER_RELU, &l2));
    ck_assert_ok(nnp_net_add_dense(net, 1, &l3));
    ck_assert_uint_eq(l1, 1);
    ck_assert_uint_eq(l2, 2);
    ck_assert_uint_eq(l3, 3);
    const float w1[] = {1, 2, 3, -1}, b1[] = {0.5f, -1}, w2[] = {2, -1}, b2[] = {0.25f};
    ck_assert_ok(nnp_net_set_params(net, 1, w1, b1));
    ck_assert_ok(nnp_net_set_params(net, 3, w2, b2));
    return net;
}

START_TEST(hand_computed_forward)
{
    nnp_net *net = hand_net();
    const float x[] = {1, 1, 0, 1, 1, 0};
    float y[3], h[6];
    ck_assert_ok(nnp_net_forward(net, NULL, x, 3, y));
    ck_assert_float_eq(y[0], 6.25f);
    ck_assert_float_eq(y[1], 5.25f);
    ck_assert_float_eq(y[2], 1.25f);
    ck_assert_ok(nnp_net_forward_layer(net, NULL, x, 3, 2, h));
    const float want_h[] = {3.5f, 1, 2.5f, 0, 1.5f, 2};
    ck_assert_mem_eq(h, want_h, sizeof h);
    ck_assert_ok(nnp_net_forward_layer(net, NULL, x, 3, 0, h)); /* layer 0 is the input */
    ck_assert_mem_eq(h, x, sizeof x);
    ck_assert_ok(nnp_net_forward(net, NULL, x + 2, 1, y)); /* batch 1 takes the GEMV path */
    ck_assert_float_eq(y[0], 5.25f);
    nnp_net_free(net);
}
END_TEST

/* Activation values at points known in closed form, and no overflow at extremes. */
START_TEST(activation_values)
{
    const nnp_layer_kind kinds[] = {NNP_LAYER_RELU, NNP_LAYER_SIGMOID, NNP_LAYER_TANH, NNP_LAYER_SOFTPLUS};
    const float x[] = {0.0f, 1.0f, -100.0f, 100.0f};
    const double want[4][4] = {
        {0, 1, 0, 100},
        {0.5, 1 / (1 + exp(-1.0)), 0, 1},
        {0, tanh(1.0), -1, 1},
        {log(2.0), log1p(exp(1.0)), 0, 100},
    };
    for (int k = 0; k < 4; k++) {
        nnp_net *net = NULL;
        ck_assert_ok(nnp_net_create(1, 1, 4, &net));
        ck_assert_ok(nnp_net_add_activation(net, kinds[k], NULL));
        float y[4];
        ck_assert_ok(nnp_net_forward(net, NULL, x, 1, y));
        for (int i = 0; i < 4; i++) {
            ck_assert_msg(isfinite(y[i]), "%s(%g) is not finite", nnp_layer_kind_name(kinds[k]), x[i]);
            ck_assert_double_eq_tol(y[i], want[k][i], 1e-6);
        }
        nnp_net_free(net);
    }
}
END_TEST

/* Sigmoid and softplus over a dense grid against double libm: absolute error ≤ 3e-7 (sigmoid
 * uses the library's own branch-free exp); NaN stays NaN. */
START_TEST(activation_accuracy_grid)
{
    enum { N = 4001 };
    static float x[N], y[N];
    for (int i = 0; i < N; i++) x[i] = -100.0f + 0.05f * (float)i;
    const nnp_layer_kind kinds[] = {NNP_LAYER_SIGMOID, NNP_LAYER_SOFTPLUS, NNP_LAYER_TANH};
    for (int k = 0; k < 3; k++) {
        nnp_net *net = NULL;
        ck_assert_ok(nnp_net_create(1, 1, N, &net));
        ck_assert_ok(nnp_net_add_activation(net, kinds[k], NULL));
        ck_assert_ok(nnp_net_forward(net, NULL, x, 1, y));
        double worst = 0;
        for (int i = 0; i < N; i++) {
            double v = x[i];
            double want = k == 0 ? 1 / (1 + exp(-v)) : k == 1 ? (v > 0 ? v + log1p(exp(-v)) : log1p(exp(v))) : tanh(v);
            double err = fabs(y[i] - want) / (k == 1 ? fmax(1, fabs(want)) : 1);
            worst = fmax(worst, err);
        }
        ck_assert_msg(worst <= 3e-7, "%s: worst error %g", nnp_layer_kind_name(kinds[k]), worst);
        float nan_in = NAN, nan_out;
        nnp_net *one = NULL;
        ck_assert_ok(nnp_net_create(1, 1, 1, &one));
        ck_assert_ok(nnp_net_add_activation(one, kinds[k], NULL));
        /* the query refuses a NaN input; the layer itself propagates it */
        ck_assert_status(nnp_net_forward(one, NULL, &nan_in, 1, &nan_out), NNP_EINVAL);
        tu_pass_unchecked(one, &nan_in, 1, 1, &nan_out, NULL, NULL);
        ck_assert_msg(isnan(nan_out), "%s(NaN) = %g", nnp_layer_kind_name(kinds[k]), nan_out);
        nnp_net_free(one);
        nnp_net_free(net);
    }
}
END_TEST

/* A larger net's batched forward agrees with the independent double reference. */
START_TEST(forward_matches_reference)
{
    nnp_net *net = NULL;
    ck_assert_ok(nnp_net_create(1, 28, 28, &net));
    ck_assert_ok(nnp_net_add_dense(net, 50, NULL));
    ck_assert_ok(nnp_net_add_activation(net, NNP_LAYER_SIGMOID, NULL));
    ck_assert_ok(nnp_net_add_dense(net, 10, NULL));
    ck_assert_ok(nnp_net_init_params(net, 3));
    float *x = malloc(7 * 784 * sizeof(float)), y[70];
    tu_fill_uniform(x, 7 * 784, 0, 1, 4);
    ck_assert_ok(nnp_net_forward(net, NULL, x, 7, y));
    double xd[784];
    for (size_t i = 0; i < 7; i++) {
        for (size_t j = 0; j < 784; j++) xd[j] = x[i * 784 + j];
        for (size_t k = 0; k < 10; k++)
            ck_assert_double_eq_tol(y[i * 10 + k], ref_unit_dot(net, xd, 3, k, NULL), 1e-5);
    }
    free(x);
    nnp_net_free(net);
}
END_TEST

START_TEST(layer_info_and_counts)
{
    nnp_net *net = NULL;
    ck_assert_ok(nnp_net_create(3, 4, 5, &net));
    ck_assert_ok(nnp_net_add_dense(net, 7, NULL));
    ck_assert_ok(nnp_net_add_activation(net, NNP_LAYER_TANH, NULL));
    ck_assert_uint_eq(nnp_net_layer_count(net), 3);
    ck_assert_uint_eq(nnp_net_input_size(net), 60);
    ck_assert_uint_eq(nnp_net_output_size(net), 7);
    ck_assert_uint_eq(nnp_net_param_count(net), 60 * 7 + 7);
    nnp_layer_info info = {.size = sizeof info};
    ck_assert_ok(nnp_net_layer_info(net, 0, &info));
    ck_assert_int_eq(info.kind, NNP_LAYER_INPUT);
    ck_assert_uint_eq(info.channels, 3);
    ck_assert_uint_eq(info.height, 4);
    ck_assert_uint_eq(info.width, 5);
    ck_assert_uint_eq(info.n_inputs, 0);
    ck_assert_ok(nnp_net_layer_info(net, 1, &info));
    ck_assert_int_eq(info.kind, NNP_LAYER_DENSE);
    ck_assert_uint_eq(info.n_inputs, 1);
    ck_assert_uint_eq(info.inputs[0], 0);
    ck_assert_uint_eq(info.output_size, 7);
    ck_assert_uint_eq(info.weight_count, 420);
    ck_assert_uint_eq(info.bias_count, 7);
    ck_assert_ok(nnp_net_layer_info(net, 2, &info));
    ck_assert_int_eq(info.kind, NNP_LAYER_TANH);
    ck_assert_uint_eq(info.inputs[0], 1);
    ck_assert_uint_eq(info.weight_count, 0);
    /* an older caller's smaller struct: only its bytes are written */
    struct {
        nnp_layer_info info;
        unsigned char guard[8];
    } small;
    memset(&small, 0xAB, sizeof small);
    small.info.size = offsetof(nnp_layer_info, n_inputs);
    ck_assert_ok(nnp_net_layer_info(net, 1, &small.info));
    ck_assert_int_eq(small.info.kind, NNP_LAYER_DENSE);
    ck_assert_uint_eq(((unsigned char *)&small.info)[offsetof(nnp_layer_info, n_inputs)], 0xAB);
    ck_assert_str_eq(nnp_layer_kind_name(NNP_LAYER_SOFTPLUS), "softplus");
    ck_assert_str_eq(nnp_layer_kind_name((nnp_layer_kind)99), "unknown");
    ck_assert_int_eq(nnp_layer_kind_count(), 21);
    ck_assert_str_eq(nnp_layer_kind_name(NNP_LAYER_CLIP), "clip");
    ck_assert_str_eq(nnp_layer_kind_name(NNP_LAYER_HARD_SIGMOID), "hard_sigmoid");
    ck_assert_str_eq(nnp_layer_kind_name(NNP_LAYER_HARD_SWISH), "hard_swish");
    ck_assert_str_eq(nnp_layer_kind_name(NNP_LAYER_PAD), "pad");
    nnp_net_free(net);
}
END_TEST

START_TEST(params_init_get_set_clone)
{
    nnp_net *a = NULL, *b = NULL, *c = NULL;
    ck_assert_ok(nnp_net_create(1, 1, 30, &a));
    ck_assert_ok(nnp_net_add_dense(a, 20, NULL));
    ck_assert_ok(nnp_net_init_params(a, 7));
    float w[600], w2[600], bias[20];
    ck_assert_ok(nnp_net_get_params(a, 1, w, bias));
    const double bound = sqrt(6.0 / 50.0);
    int nonzero = 0;
    for (int i = 0; i < 600; i++) {
        ck_assert(fabs(w[i]) <= bound);
        nonzero += w[i] != 0;
    }
    ck_assert_int_gt(nonzero, 590);
    for (int i = 0; i < 20; i++) ck_assert_float_eq(bias[i], 0);
    /* same seed -> same parameters; other seed -> different */
    ck_assert_ok(nnp_net_clone(a, &b));
    ck_assert_ok(nnp_net_init_params(b, 7));
    ck_assert_ok(nnp_net_get_params(b, 1, w2, NULL));
    ck_assert_mem_eq(w, w2, sizeof w);
    ck_assert_ok(nnp_net_init_params(b, 8));
    ck_assert_ok(nnp_net_get_params(b, 1, w2, NULL));
    ck_assert(memcmp(w, w2, sizeof w) != 0);
    /* the clone is independent of the original */
    ck_assert_ok(nnp_net_clone(a, &c));
    ck_assert_ok(nnp_net_init_params(a, 9));
    ck_assert_ok(nnp_net_get_params(c, 1, w2, NULL));
    ck_assert_mem_eq(w, w2, sizeof w);
    /* a non-finite value is refused and nothing changes */
    w2[5] = NAN;
    ck_assert_status(nnp_net_set_params(c, 1, w2, NULL), NNP_EINVAL);
    ck_assert_error_has("weights[5]");
    ck_assert_ok(nnp_net_get_params(c, 1, w2, NULL));
    ck_assert_mem_eq(w, w2, sizeof w);
    ck_assert_ok(nnp_net_get_params(c, 0, NULL, NULL)); /* the input has no parameters */
    nnp_net_free(a);
    nnp_net_free(b);
    nnp_net_free(c);
}
END_TEST

START_TEST(misuse_is_refused)
{
    nnp_net *net = (nnp_net *)1;
    ck_assert_status(nnp_net_create(0, 1, 1, &net), NNP_EINVAL);
    ck_assert_ptr_null(net);
    ck_assert_status(nnp_net_create(1, 1, 1, NULL), NNP_EINVAL);
    ck_assert_status(nnp_net_create(1 << 15, 1 << 15, 2, &net), NNP_EINVAL);
    ck_assert_error_has("exceeds");
    ck_assert_status(nnp_net_create(SIZE_MAX, SIZE_MAX, 2, &net), NNP_EINVAL);
    ck_assert_ok(nnp_net_create(1, 1, 3, &net));
    ck_assert_status(nnp_net_add_dense(NULL, 3, NULL), NNP_EINVAL);
    ck_assert_status(nnp_net_add_dense(net, 0, NULL), NNP_EINVAL);
    ck_assert_error_has("units = 0");
    ck_assert_status(nnp_net_add_activation(net, NNP_LAYER_DENSE, NULL), NNP_EINVAL);
    ck_assert_status(nnp_net_add_activation(net, (nnp_layer_kind)-3, NULL), NNP_EINVAL);
    nnp_layer_info info = {.size = 0};
    ck_assert_status(nnp_net_layer_info(net, 0, &info), NNP_EINVAL);
    info.size = sizeof info;
    ck_assert_status(nnp_net_layer_info(net, 1, &info), NNP_EINVAL);
    ck_assert_error_has("layer 1 out of range");
    ck_assert_status(nnp_net_layer_info(net, 0, NULL), NNP_EINVAL);
    ck_assert_status(nnp_net_get_params(net, 5, NULL, NULL), NNP_EINVAL);
    ck_assert_status(nnp_net_set_params(NULL, 0, NULL, NULL), NNP_EINVAL);
    ck_assert_status(nnp_net_init_params(NULL, 1), NNP_EINVAL);
    float x[3] = {0}, y[3];
    ck_assert_status(nnp_net_forward(NULL, NULL, x, 1, y), NNP_EINVAL);
    ck_assert_status(nnp_net_forward(net, NULL, NULL, 1, y), NNP_EINVAL);
    ck_assert_status(nnp_net_forward(net, NULL, x, 1, NULL), NNP_EINVAL);
    ck_assert_status(nnp_net_forward(net, NULL, x, 0, y), NNP_EINVAL);
    ck_assert_error_has("batch size n is 0");
    ck_assert_status(nnp_net_forward_layer(net, NULL, x, 1, 4, y), NNP_EINVAL);
    nnp_workspace *ws = (nnp_workspace *)1;
    ck_assert_status(nnp_workspace_create(net, 0, &ws), NNP_EINVAL);
    ck_assert_ptr_null(ws);
    ck_assert_status(nnp_workspace_create(NULL, 1, &ws), NNP_EINVAL);
    nnp_net *copy = (nnp_net *)1;
    ck_assert_status(nnp_net_clone(NULL, &copy), NNP_EINVAL);
    ck_assert_ptr_null(copy);
    ck_assert_uint_eq(nnp_net_layer_count(NULL), 0);
    ck_assert_uint_eq(nnp_net_input_size(NULL), 0);
    nnp_net_free(NULL);
    nnp_workspace_free(NULL);
    nnp_net_free(net);
}
END_TEST

/* A workspace follows its net when layers are added after it was made. */
START_TEST(workspace_follows_net_growth)
{
    nnp_net *net = NULL;
    nnp_workspace *ws = NULL;
    ck_assert_ok(nnp_net_create(1, 1, 2, &net));
    ck_assert_ok(nnp_workspace_create(net, 2, &ws));
    ck_assert_ok(nnp_net_add_dense(net, 3, NULL));
    ck_assert_ok(nnp_net_init_params(net, 1));
    float x[2] = {0.5f, 0.25f}, y1[3], y2[3];
    ck_assert_ok(nnp_net_forward(net, ws, x, 1, y1));
    ck_assert_ok(nnp_net_forward(net, NULL, x, 1, y2));
    ck_assert_mem_eq(y1, y2, sizeof y1);
    nnp_workspace_free(ws);
    nnp_net_free(net);
}
END_TEST

/* Every allocation failure surfaces as NNP_ENOMEM with nothing leaked (ASan/valgrind check
 * the "nothing leaked" half) and the handle out-parameter NULL. */
/* A net and its clone, checked and freed after each run by tu_net_pair_free. */
typedef tu_net_pair alloc_run;

static nnp_status alloc_run_build(void *user, long k)
{
    (void)k;
    alloc_run *a = user;
    a->net = a->copy = NULL;
    nnp_status s = nnp_net_create(1, 1, 4, &a->net);
    if (s == NNP_OK) s = nnp_net_add_dense(a->net, 5, NULL);
    if (s == NNP_OK) s = nnp_net_add_activation(a->net, NNP_LAYER_SIGMOID, NULL);
    if (s == NNP_OK) s = nnp_net_add_dense(a->net, 2, NULL);
    float x[4] = {0}, y[2];
    if (s == NNP_OK) s = nnp_net_forward(a->net, NULL, x, 1, y);
    if (s == NNP_OK) s = nnp_net_clone(a->net, &a->copy);
    return s;
}

START_TEST(allocation_failures_are_clean)
{
    alloc_run a = {NULL, NULL};
    tu_alloc_counts c = tu_alloc_failures(&(tu_alloc_loop){
        .what = "build, forward, clone", .max_k = 39, .check_message = 1,
        .run = alloc_run_build, .after = tu_net_pair_free, .user = &a});
    ck_assert_int_gt(c.failures, 5);
}
END_TEST

START_TEST(status_and_version)
{
    ck_assert_str_eq(nnp_status_name(NNP_EINVAL), "NNP_EINVAL");
    ck_assert_str_eq(nnp_status_name(NNP_ENUMERIC), "NNP_ENUMERIC");
    ck_assert_str_eq(nnp_status_name((nnp_status)1000), "NNP_UNKNOWN");
    ck_assert_str_eq(nnp_status_str(NNP_OK), "success");
    ck_assert_str_eq(nnp_status_str((nnp_status)-1), "unknown status");
    ck_assert_int_eq(nnp_status_count(), 9);
    /* pinned values: changing them breaks compiled callers */
    ck_assert_int_eq(NNP_EINVAL, 1);
    ck_assert_int_eq(NNP_ECANCELLED, 6);
    ck_assert_int_eq(NNP_ENUMERIC, 8);
    ck_assert_uint_eq(nnp_version_number(), NNP_VERSION_NUMBER);
    ck_assert_str_eq(nnp_version_string(), NNP_VERSION_STRING);
    char want[32];
    snprintf(want, sizeof want, "%d.%d.%d", NNP_VERSION_MAJOR, NNP_VERSION_MINOR, NNP_VERSION_PATCH);
    ck_assert_str_eq(nnp_version_string(), want);
}
END_TEST

/* Leaky ReLU values (α = 0.01 by default, any finite α through its own builder) and the
 * attribute fields of nnp_layer_info: what the builders were given, zero for other kinds, and
 * nothing written past an older caller's smaller struct. */
START_TEST(leaky_relu_and_layer_attributes)
{
    nnp_net *net = NULL;
    ck_assert_ok(nnp_net_create(2, 9, 8, &net));
    nnp_net_conv2d_opts co;
    ck_assert_ok(nnp_net_conv2d_opts_init(&co));
    co.out_channels = 4, co.kernel_h = 3, co.kernel_w = 2, co.stride_h = 2, co.stride_w = 1;
    co.pad_top = 1, co.pad_left = 0, co.pad_bottom = 2, co.pad_right = 1;
    co.dilation_h = 2, co.dilation_w = 1, co.groups = 2;
    size_t conv, pool, leaky, dflt;
    ck_assert_ok(nnp_net_add_conv2d(net, &co, &conv));
    nnp_net_pool2d_opts po;
    ck_assert_ok(nnp_net_pool2d_opts_init(&po));
    po.kernel_h = 3, po.stride_h = 1, po.pad_bottom = 1;
    ck_assert_ok(nnp_net_add_maxpool2d(net, &po, &pool));
    ck_assert_ok(nnp_net_add_leaky_relu(net, -0.25, &leaky));
    ck_assert_ok(nnp_net_add_activation(net, NNP_LAYER_LEAKY_RELU, &dflt));
    nnp_layer_info i = {.size = sizeof i};
    ck_assert_ok(nnp_net_layer_info(net, conv, &i));
    ck_assert_uint_eq(i.kernel_h, 3);
    ck_assert_uint_eq(i.kernel_w, 2);
    ck_assert_uint_eq(i.stride_h, 2);
    ck_assert_uint_eq(i.stride_w, 1);
    ck_assert_uint_eq(i.pad_top, 1);
    ck_assert_uint_eq(i.pad_left, 0);
    ck_assert_uint_eq(i.pad_bottom, 2);
    ck_assert_uint_eq(i.pad_right, 1);
    ck_assert_uint_eq(i.dilation_h, 2);
    ck_assert_uint_eq(i.dilation_w, 1);
    ck_assert_uint_eq(i.groups, 2);
    ck_assert_double_eq(i.alpha, 0.0);
    const size_t conv_out = i.output_size;
    ck_assert_ok(nnp_net_layer_info(net, pool, &i));
    ck_assert_uint_eq(i.kernel_h, 3);
    ck_assert_uint_eq(i.kernel_w, 2);
    ck_assert_uint_eq(i.stride_h, 1);
    ck_assert_uint_eq(i.pad_bottom, 1);
    ck_assert_uint_eq(i.dilation_h, 1);
    ck_assert_uint_eq(i.groups, 0);
    ck_assert_ok(nnp_net_layer_info(net, leaky, &i));
    ck_assert_int_eq(i.kind, NNP_LAYER_LEAKY_RELU);
    ck_assert_str_eq(nnp_layer_kind_name(i.kind), "leaky_relu");
    ck_assert_double_eq(i.alpha, -0.25);
    ck_assert_uint_eq(i.kernel_h, 0);
    ck_assert_ok(nnp_net_layer_info(net, dflt, &i));
    ck_assert_double_eq_tol(i.alpha, 0.01, 1e-9);
    /* an older caller: the struct ends before the attributes */
    unsigned char buf[sizeof(nnp_layer_info) + 8];
    memset(buf, 0xAB, sizeof buf);
    nnp_layer_info *old = (nnp_layer_info *)(void *)buf;
    old->size = offsetof(nnp_layer_info, kernel_h);
    ck_assert_ok(nnp_net_layer_info(net, conv, old));
    for (size_t b = offsetof(nnp_layer_info, kernel_h); b < sizeof buf; b++)
        ck_assert_uint_eq(buf[b], 0xAB);
    ck_assert_uint_eq(old->output_size, conv_out);
    /* values: y = x for x > 0, α·x otherwise */
    nnp_net *one = NULL;
    ck_assert_ok(nnp_net_create(1, 1, 3, &one));
    ck_assert_ok(nnp_net_add_leaky_relu(one, -0.25, NULL));
    const float x[3] = {2.0f, -4.0f, 0.0f};
    float y[3];
    ck_assert_ok(nnp_net_forward(one, NULL, x, 1, y));
    ck_assert_float_eq(y[0], 2.0f);
    ck_assert_float_eq(y[1], 1.0f);
    ck_assert_float_eq(y[2], 0.0f);
    ck_assert_status(nnp_net_add_leaky_relu(one, NAN, NULL), NNP_EINVAL);
    ck_assert_error_has("alpha");
    ck_assert_status(nnp_net_add_leaky_relu(one, 1e39, NULL), NNP_EINVAL);
    ck_assert_status(nnp_net_add_leaky_relu(NULL, 0.1, NULL), NNP_EINVAL);
    nnp_net_free(one);
    nnp_net_free(net);
}
END_TEST

/* Clip, hard sigmoid and hard swish at hand-picked points (kinks included), their layer info,
 * and the builders' refusals. */
START_TEST(clip_and_hard_activations)
{
    const float x[6] = {-4.0f, -3.0f, -0.5f, 0.0f, 3.0f, 7.0f};
    const struct {
        int kind; /* 0 clip(-0.5, 3), 1 hard sigmoid(0.25, 0.5), 2 hard swish */
        float want[6];
    } cases[] = {{0, {-0.5f, -0.5f, -0.5f, 0.0f, 3.0f, 3.0f}},
                 {1, {0.0f, 0.0f, 0.375f, 0.5f, 1.0f, 1.0f}},
                 {2, {0.0f, 0.0f, -0.5f * 2.5f / 6.0f, 0.0f, 3.0f, 7.0f}}};
    for (size_t k = 0; k < 3; k++) {
        nnp_net *net = NULL;
        size_t l;
        ck_assert_ok(nnp_net_create(1, 1, 6, &net));
        if (cases[k].kind == 0) ck_assert_ok(nnp_net_add_clip(net, -0.5, 3.0, &l));
        if (cases[k].kind == 1) ck_assert_ok(nnp_net_add_hard_sigmoid(net, 0.25, 0.5, &l));
        if (cases[k].kind == 2) ck_assert_ok(nnp_net_add_activation(net, NNP_LAYER_HARD_SWISH, &l));
        float y[6];
        ck_assert_ok(nnp_net_forward(net, NULL, x, 1, y));
        for (int i = 0; i < 6; i++)
            ck_assert_msg(fabsf(y[i] - cases[k].want[i]) <= 1e-6f, "case %zu x %g: %g, want %g",
                          k, (double)x[i], (double)y[i], (double)cases[k].want[i]);
        nnp_layer_info info = {.size = sizeof info};
        ck_assert_ok(nnp_net_layer_info(net, l, &info));
        if (cases[k].kind == 0)
            ck_assert(info.kind == NNP_LAYER_CLIP && info.clip_min == -0.5 && info.clip_max == 3.0);
        if (cases[k].kind == 1)
            ck_assert(info.kind == NNP_LAYER_HARD_SIGMOID && info.alpha == 0.25 && info.beta == 0.5);
        nnp_net_free(net);
    }
    nnp_net *net = NULL;
    ck_assert_ok(nnp_net_create(1, 1, 6, &net));
    ck_assert_status(nnp_net_add_clip(net, 1.0, 0.0, NULL), NNP_EINVAL);
    ck_assert_error_has("nnp_net_add_clip: lo = 1 is above hi = 0");
    ck_assert_status(nnp_net_add_clip(net, NAN, 0.0, NULL), NNP_EINVAL);
    ck_assert_error_has("lo = nan");
    ck_assert_status(nnp_net_add_clip(net, 0.0, -INFINITY, NULL), NNP_EINVAL);
    ck_assert_error_has("hi = -inf");
    ck_assert_status(nnp_net_add_clip(net, 1e39, INFINITY, NULL), NNP_EINVAL);
    ck_assert_status(nnp_net_add_clip(NULL, 0.0, 1.0, NULL), NNP_EINVAL);
    ck_assert_status(nnp_net_add_hard_sigmoid(net, INFINITY, 0.5, NULL), NNP_EINVAL);
    ck_assert_error_has("alpha = inf");
    ck_assert_status(nnp_net_add_hard_sigmoid(net, 0.2, NAN, NULL), NNP_EINVAL);
    ck_assert_error_has("beta = nan");
    ck_assert_status(nnp_net_add_activation(net, NNP_LAYER_CLIP, NULL), NNP_EINVAL);
    ck_assert_error_has("use nnp_net_add_clip()");
    ck_assert_uint_eq(nnp_net_layer_count(net), 1); /* nothing was added */
    ck_assert_ok(nnp_net_add_clip(net, -INFINITY, INFINITY, NULL)); /* the identity */
    ck_assert_ok(nnp_net_add_activation(net, NNP_LAYER_HARD_SIGMOID, NULL)); /* ONNX defaults */
    nnp_layer_info info = {.size = sizeof info};
    ck_assert_ok(nnp_net_layer_info(net, 2, &info));
    ck_assert(info.alpha == (double)0.2f && info.beta == 0.5);
    nnp_net_free(net);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("net");
    TCase *tc = tcase_create("net");
    tcase_add_test(tc, hand_computed_forward);
    tcase_add_test(tc, activation_values);
    tcase_add_test(tc, clip_and_hard_activations);
    tcase_add_test(tc, activation_accuracy_grid);
    tcase_add_test(tc, forward_matches_reference);
    tcase_add_test(tc, layer_info_and_counts);
    tcase_add_test(tc, leaky_relu_and_layer_attributes);
    tcase_add_test(tc, params_init_get_set_clone);
    tcase_add_test(tc, misuse_is_refused);
    tcase_add_test(tc, workspace_follows_net_growth);
    tcase_add_test(tc, allocation_failures_are_clean);
    tcase_add_test(tc, status_and_version);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
