/* Determinism of the multi-threaded paths (lib/core/threads.c nnpi_parallel_range: pooling,
 * activations, im2col/col2im, the L-BFGS updates): at a fixed thread count repeated runs give
 * the same bits; across thread counts, loops whose items are independent give the same bits
 * too, so only the BLAS may differ between 1 and 2+ threads.
 *
 * The work is sized above nnpi_threads_for's threshold (10⁵ operations), so at 2+ threads the
 * loops really are split. Tolerance across thread counts for the CNN: the GEMMs' sums may be
 * cut differently by a threaded BLAS; float sums of ≤ 800 terms of size ≤ 1 differ by at most
 * ~800·2^-24 relative to the sum of magnitudes, so 1e-4 relative to max(1, max |value|). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/threads.h"
#include "nnprobe/nnprobe.h"
#include "optim/lbfgs.h"
#include "testutil.h"

#define N_EX 64

/* conv 5×5×8 pad 2 – ReLU – maxpool 2 – conv 3×3×8 pad 1 – sigmoid – avgpool 2 – dense 10 on
 * 1×16×16: every parallel kernel of lib/net is on the path. */
static nnp_net *small_cnn(void)
{
    nnp_net *net = NULL;
    ck_assert_ok(nnp_net_create(1, 16, 16, &net));
    nnp_net_conv2d_opts c;
    ck_assert_ok(nnp_net_conv2d_opts_init(&c));
    c.out_channels = 8, c.kernel_h = c.kernel_w = 5;
    c.pad_top = c.pad_left = c.pad_bottom = c.pad_right = 2;
    ck_assert_ok(nnp_net_add_conv2d(net, &c, NULL));
    ck_assert_ok(nnp_net_add_activation(net, NNP_LAYER_RELU, NULL));
    ck_assert_ok(nnp_net_add_maxpool2d(net, NULL, NULL));
    c.kernel_h = c.kernel_w = 3;
    c.pad_top = c.pad_left = c.pad_bottom = c.pad_right = 1;
    ck_assert_ok(nnp_net_add_conv2d(net, &c, NULL));
    ck_assert_ok(nnp_net_add_activation(net, NNP_LAYER_SIGMOID, NULL));
    ck_assert_ok(nnp_net_add_avgpool2d(net, NULL, NULL));
    ck_assert_ok(nnp_net_add_dense(net, 10, NULL));
    ck_assert_ok(nnp_net_init_params(net, 5));
    return net;
}

typedef struct cnn_run {
    float logits[N_EX * 10], dx[N_EX * 256], loss[N_EX];
} cnn_run;

static void run_cnn(const nnp_net *net, const float *x, const int32_t *y, cnn_run *r)
{
    ck_assert_ok(nnp_net_forward(net, NULL, x, N_EX, r->logits));
    ck_assert_ok(nnp_grad_loss(net, NULL, x, y, N_EX, r->dx, r->loss, NULL));
}

static void assert_close(const float *a, const float *b, size_t n, const char *what)
{
    double scale = 1;
    for (size_t i = 0; i < n; i++) scale = fmax(scale, fabs((double)b[i]));
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(fabs((double)a[i] - (double)b[i]) <= 1e-4 * scale, "%s[%zu]: %.9g vs %.9g",
                      what, i, (double)a[i], (double)b[i]);
}

START_TEST(cnn_repeats_bitwise_and_matches_one_thread)
{
    nnp_net *net = small_cnn();
    static float x[N_EX * 256];
    int32_t y[N_EX];
    tu_fill_uniform(x, N_EX * 256, 0.0f, 1.0f, 11);
    for (size_t i = 0; i < N_EX; i++) y[i] = (int32_t)(i % 10);
    static cnn_run one, first, again;
    ck_assert_ok(nnp_threads_set(1));
    run_cnn(net, x, y, &one);
    for (size_t threads = 2; threads <= 3; threads++) {
        ck_assert_ok(nnp_threads_set(threads));
        run_cnn(net, x, y, &first);
        for (int rep = 0; rep < 3; rep++) {
            run_cnn(net, x, y, &again);
            ck_assert_msg(memcmp(&first, &again, sizeof first) == 0,
                          "%zu threads: run %d differs from the first", threads, rep + 1);
        }
        assert_close(first.logits, one.logits, N_EX * 10, "logits");
        assert_close(first.dx, one.dx, N_EX * 256, "dx");
        assert_close(first.loss, one.loss, N_EX, "loss");
    }
    ck_assert_ok(nnp_threads_set(0));
    nnp_net_free(net);
}
END_TEST

/* ---- L-BFGS: problems are updated in parallel; with a callback that uses no BLAS every
 * problem's result is the same bits at any thread count ---- */

#define LB_N 32
#define LB_D 400

/* f_i(x) = Σ_j (1 + (i + j) mod 7)·(x_j − c_ij)² + 0.1·Σ_j x_j·x_{j+1}: coupled, well
 * conditioned, minimum partly outside the box [0, 1] (c spans [−0.5, 1.5]). */
static double lb_c(size_t i, size_t j) { return -0.5 + (double)((i * 131 + j * 17) % 101) / 50.0; }

static nnp_status lb_fg(void *ctx, size_t k, const size_t *ids, const float *x, double *f,
                        float *g)
{
    (void)ctx;
    for (size_t a = 0; a < k; a++) {
        const float *xa = x + a * LB_D;
        float *ga = g + a * LB_D;
        double s = 0;
        for (size_t j = 0; j < LB_D; j++) {
            const double w = 1 + (double)((ids[a] + j) % 7), r = xa[j] - lb_c(ids[a], j);
            double gj = 2 * w * r;
            s += w * r * r;
            if (j + 1 < LB_D) s += 0.1 * xa[j] * xa[j + 1], gj += 0.1 * xa[j + 1];
            if (j > 0) gj += 0.1 * xa[j - 1];
            ga[j] = (float)gj;
        }
        f[a] = s;
    }
    return NNP_OK;
}

static void lb_run(float *x, nnpi_lbfgs_result *res)
{
    static float lo[LB_D], hi[LB_D];
    for (size_t j = 0; j < LB_D; j++) lo[j] = 0, hi[j] = 1;
    for (size_t i = 0; i < LB_N * LB_D; i++) x[i] = 0.5f;
    ck_assert_ok(nnpi_lbfgsb_minimize(LB_N, LB_D, x, lo, hi, lb_fg, NULL, NULL, res));
}

START_TEST(lbfgs_same_bits_at_every_thread_count)
{
    static float x1[LB_N * LB_D], xt[LB_N * LB_D];
    nnpi_lbfgs_result r1[LB_N], rt[LB_N];
    ck_assert_ok(nnp_threads_set(1));
    lb_run(x1, r1);
    for (size_t i = 0; i < LB_N; i++) ck_assert(r1[i].converged);
    for (size_t threads = 2; threads <= 3; threads++) {
        ck_assert_ok(nnp_threads_set(threads));
        ck_assert_int_gt(nnpi_threads_for(LB_N, 10 * LB_D * 8), 1); /* really split */
        for (int rep = 0; rep < 2; rep++) {
            memset(rt, 0, sizeof rt);
            lb_run(xt, rt);
            ck_assert_msg(memcmp(x1, xt, sizeof x1) == 0, "%zu threads: x differs", threads);
            for (size_t i = 0; i < LB_N; i++) {
                ck_assert_msg(rt[i].f == r1[i].f, "%zu threads: problem %zu f %.17g vs %.17g",
                              threads, i, rt[i].f, r1[i].f);
                ck_assert_uint_eq(rt[i].evaluations, r1[i].evaluations);
                ck_assert_uint_eq(rt[i].iterations, r1[i].iterations);
            }
        }
    }
    ck_assert_ok(nnp_threads_set(0));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("parallel");
    TCase *tc = tcase_create("parallel");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, cnn_repeats_bitwise_and_matches_one_thread);
    tcase_add_test(tc, lbfgs_same_bits_at_every_thread_count);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
