/* The paper's L-BFGS attack (lib/attack/lbfgs.c) and the evaluation helpers
 * (lib/attack/eval.c). References come from the test itself: the exact minimum
 * distortion of a linear classifier (distance to its decision hyperplane), labels and
 * distortions recomputed from nnp_net_forward, brute-force feasible points from the data. */
#include <math.h>
#include <stdlib.h>

#include "testutil.h"

enum { D = 16, K = 3 };

/* n examples of K blobs in [0,1]^D: class c raises the values of its own slice of inputs. */
static void blobs(size_t n, uint64_t seed, float *x, int32_t *y)
{
    tu_fill_uniform(x, n * D, 0.1f, 0.5f, seed);
    for (size_t i = 0; i < n; i++) {
        y[i] = (int32_t)(i % K);
        for (size_t j = (size_t)y[i] * 5; j < (size_t)y[i] * 5 + 5; j++) x[i * D + j] += 0.4f;
    }
}

/* 16 - 12 sigmoid - 3, trained on 300 blob examples (training error 0 on this data). */
static nnp_net *trained_net(void)
{
    nnp_net *net = NULL;
    ck_assert_ok(nnp_net_create(1, 1, D, &net));
    ck_assert_ok(nnp_net_add_dense(net, 12, NULL));
    ck_assert_ok(nnp_net_add_activation(net, NNP_LAYER_SIGMOID, NULL));
    ck_assert_ok(nnp_net_add_dense(net, K, NULL));
    ck_assert_ok(nnp_net_init_params(net, 7));
    float x[300 * D];
    int32_t y[300];
    blobs(300, 11, x, y);
    nnp_dataset *ds = NULL;
    ck_assert_ok(nnp_dataset_create(300, 1, 1, D, x, y, &ds));
    nnp_train_opts o;
    ck_assert_ok(nnp_train_opts_init(&o));
    o.epochs = 40;
    o.batch_size = 10;
    ck_assert_ok(nnp_train(net, ds, &o, NULL));
    double err;
    ck_assert_ok(nnp_eval_error_rate(net, nnp_dataset_images(ds), nnp_dataset_labels(ds), nnp_dataset_count(ds), &err, NULL));
    ck_assert_double_eq(err, 0.0);
    nnp_dataset_free(ds);
    return net;
}

static int32_t predict(const nnp_net *net, const float *x)
{
    float z[16];
    const int32_t k_out = (int32_t)nnp_net_output_size(net);
    ck_assert_int_le(k_out, 16);
    ck_assert_ok(nnp_net_forward(net, NULL, x, 1, z));
    int32_t best = 0;
    for (int32_t k = 1; k < k_out; k++)
        if (z[k] > z[best]) best = k;
    return best;
}

/* Everything a result claims, recomputed: labels, success, distortions, the box. */
static void check_results(const nnp_net *net, const float *x, const int32_t *labels,
                          const int32_t *targets, size_t n, const float *xa,
                          const nnp_attack_result *r)
{
    for (size_t i = 0; i < n; i++) {
        const float *xi = x + i * D, *ai = xa + i * D;
        double ss = 0, mx = 0;
        for (size_t j = 0; j < D; j++) {
            ck_assert_msg(ai[j] >= 0.0f && ai[j] <= 1.0f, "x_adv[%zu][%zu] = %g outside [0,1]", i,
                          j, (double)ai[j]);
            double v = (double)ai[j] - xi[j];
            ss += v * v;
            mx = fmax(mx, fabs(v));
        }
        ck_assert_double_eq_tol(r[i].l2, sqrt(ss), 1e-12);
        ck_assert_double_eq_tol(r[i].rms, sqrt(ss / D), 1e-12);
        ck_assert_double_eq_tol(r[i].linf, mx, 1e-12);
        ck_assert_int_eq(r[i].clean_label, predict(net, xi));
        int32_t lab = predict(net, ai);
        ck_assert_int_eq(r[i].label, lab);
        int want = targets ? lab == targets[i] : lab != labels[i];
        ck_assert_int_eq(r[i].success, want);
        ck_assert_int_eq(r[i].target, targets ? targets[i] : -1);
    }
}

/* On a trained net every example is pushed to its goal (the paper's 0% accuracy), with less
 * distortion than the nearest data point the net already puts in the goal class. */
static void attack_trained(int targeted)
{
    nnp_net *net = trained_net();
    enum { N = 12, P = 300 };
    float x[N * D], pool[P * D], xa[N * D];
    int32_t y[N], tgt[N], py[P], pool_pred[P];
    blobs(N, 99, x, y);
    blobs(P, 5, pool, py);
    for (size_t i = 0; i < P; i++) pool_pred[i] = predict(net, pool + i * D);
    for (size_t i = 0; i < N; i++) tgt[i] = (y[i] + 1 + (int32_t)(i / K) % 2) % K;
    nnp_attack_result r[N];
    ck_assert_ok(nnp_attack_lbfgs(net, x, y, targeted ? tgt : NULL, N, NULL, xa, r));
    check_results(net, x, y, targeted ? tgt : NULL, N, xa, r);
    for (size_t i = 0; i < N; i++) {
        ck_assert_msg(r[i].success, "example %zu not adversarial", i);
        ck_assert_int_eq(r[i].finished, 1);
        ck_assert_double_gt(r[i].rms, 0.0);
        ck_assert_double_gt(r[i].c, 0.0);
        ck_assert_uint_gt(r[i].evaluations, r[i].iterations);
        double nearest = INFINITY;
        for (size_t p = 0; p < P; p++) {
            if (targeted ? pool_pred[p] != tgt[i] : pool_pred[p] == y[i]) continue;
            double ss = 0;
            for (size_t j = 0; j < D; j++) ss += pow((double)pool[p * D + j] - x[i * D + j], 2);
            nearest = fmin(nearest, sqrt(ss));
        }
        ck_assert_msg(r[i].l2 < nearest, "example %zu: L2 %g, nearest goal point %g", i, r[i].l2,
                      nearest);
    }
    nnp_net_free(net);
}

START_TEST(untargeted_reaches_every_example)
{
    attack_trained(0);
}
END_TEST

START_TEST(targeted_reaches_every_target)
{
    attack_trained(1);
}
END_TEST

/* A linear 2-class net z = Wx + b: the closest point of the other class lies at distance
 * m / ‖w1 − w0‖ (m the margin) along w1 − w0, inside the box here. The attack can never beat
 * it and, with the default c search (bisection ratio 10^(1/256)), must come within 3%. */
START_TEST(linear_net_minimum_distortion)
{
    nnp_net *net = NULL;
    ck_assert_ok(nnp_net_create(1, 1, D, &net));
    ck_assert_ok(nnp_net_add_dense(net, 2, NULL));
    float w[2 * D], b[2] = {0.3f, -0.1f};
    tu_fill_uniform(w, 2 * D, -1.0f, 1.0f, 3);
    ck_assert_ok(nnp_net_set_params(net, 1, w, b));
    enum { N = 6 };
    float x[N * D], xa[N * D];
    tu_fill_uniform(x, N * D, 0.35f, 0.65f, 4);
    int32_t y[N], t[N];
    nnp_attack_result r[N];
    for (size_t i = 0; i < N; i++) {
        y[i] = predict(net, x + i * D);
        t[i] = 1 - y[i];
    }
    ck_assert_ok(nnp_attack_lbfgs(net, x, y, t, N, NULL, xa, r));
    check_results(net, x, y, t, N, xa, r);
    for (size_t i = 0; i < N; i++) {
        double m = b[y[i]] - b[t[i]], ww = 0;
        for (size_t j = 0; j < D; j++) {
            double dw = (double)w[t[i] * D + j] - w[y[i] * D + j];
            m -= dw * x[i * D + j];
            ww += dw * dw;
        }
        double exact = m / sqrt(ww);
        ck_assert_double_gt(exact, 0.0);
        ck_assert_msg(r[i].success, "example %zu failed", i);
        ck_assert_msg(r[i].l2 >= exact * (1 - 1e-4) && r[i].l2 <= exact * 1.03,
                      "example %zu: L2 %.6g, exact minimum %.6g", i, r[i].l2, exact);
    }
    nnp_net_free(net);
}
END_TEST

/* Examples already at their goal are returned unchanged with zero distortion: D(x, f(x)) = x. */
START_TEST(goal_already_reached)
{
    nnp_net *net = trained_net();
    float x[3 * D], xa[3 * D];
    int32_t y[3], t[3];
    blobs(3, 8, x, y);
    for (size_t i = 0; i < 3; i++) t[i] = predict(net, x + i * D);
    nnp_attack_result r[3];
    ck_assert_ok(nnp_attack_lbfgs(net, x, NULL, t, 3, NULL, xa, r));
    for (size_t i = 0; i < 3; i++) {
        ck_assert(r[i].success && r[i].finished);
        ck_assert_double_eq(r[i].rms, 0.0);
        ck_assert_uint_eq(r[i].evaluations, 0);
        ck_assert_mem_eq(xa + i * D, x + i * D, D * sizeof(float));
    }
    nnp_net_free(net);
}
END_TEST

/* Groups of 1, 5 and 12 examples: each example's optimisation is its own, so the results
 * agree. Bitwise equality is not promised: the dense layer's BLAS call differs with the batch
 * size (GEMV below 13 examples, GEMM above), which changes float rounding. */
START_TEST(batched_matches_one_at_a_time)
{
    nnp_net *net = trained_net();
    enum { N = 12 };
    float x[N * D], xa[3][N * D];
    int32_t y[N];
    blobs(N, 21, x, y);
    nnp_attack_result r[3][N];
    size_t batches[3] = {1, 5, N};
    for (int k = 0; k < 3; k++) {
        nnp_attack_lbfgs_opts o;
        ck_assert_ok(nnp_attack_lbfgs_opts_init(&o));
        o.batch_size = batches[k];
        ck_assert_ok(nnp_attack_lbfgs(net, x, y, NULL, N, &o, xa[k], r[k]));
    }
    for (int k = 1; k < 3; k++)
        for (size_t i = 0; i < N; i++) {
            ck_assert_int_eq(r[k][i].success, r[0][i].success);
            ck_assert_int_eq(r[k][i].label, r[0][i].label);
            ck_assert_msg(fabs(r[k][i].rms - r[0][i].rms) <= 1e-3 * r[0][i].rms,
                          "example %zu, batch %zu: rms %.8g vs %.8g", i, batches[k], r[k][i].rms,
                          r[0][i].rms);
        }
    nnp_net_free(net);
}
END_TEST

typedef struct cancel_ctx {
    uint64_t calls, cancel_at, last_done, total;
    int monotone;
} cancel_ctx;

static int cancel_cb(uint64_t done, uint64_t total, void *user)
{
    cancel_ctx *c = user;
    if (done < c->last_done || done > total) c->monotone = 0;
    c->last_done = done;
    c->total = total;
    return ++c->calls >= c->cancel_at;
}

/* Cancelling mid-way returns NNP_ECANCELLED; finished examples are complete and every result
 * (finished or not) describes the x_adv returned. */
START_TEST(cancellation_leaves_consistent_results)
{
    nnp_net *net = trained_net();
    enum { N = 9 };
    float x[N * D], xa[N * D];
    int32_t y[N];
    blobs(N, 31, x, y);
    nnp_attack_result full[N], r[N];
    cancel_ctx c = {0, UINT64_MAX, 0, 0, 1};
    nnp_attack_lbfgs_opts o;
    ck_assert_ok(nnp_attack_lbfgs_opts_init(&o));
    o.batch_size = 4;
    o.progress = cancel_cb;
    o.progress_user = &c;
    ck_assert_ok(nnp_attack_lbfgs(net, x, y, NULL, N, &o, xa, full));
    ck_assert(c.monotone);
    ck_assert_uint_eq(c.last_done, c.total);
    uint64_t all_calls = c.calls;
    c = (cancel_ctx){0, all_calls / 2, 0, 0, 1};
    ck_assert_status(nnp_attack_lbfgs(net, x, y, NULL, N, &o, xa, r), NNP_ECANCELLED);
    ck_assert_error_has("cancelled");
    check_results(net, x, y, NULL, N, xa, r);
    size_t finished = 0;
    for (size_t i = 0; i < N; i++) {
        if (!r[i].finished) continue;
        finished++;
        ck_assert_int_eq(r[i].success, full[i].success);
        ck_assert_double_eq(r[i].rms, full[i].rms);
    }
    ck_assert_uint_gt(finished, 0);
    ck_assert_uint_lt(finished, N);
    nnp_net_free(net);
}
END_TEST

START_TEST(bad_arguments)
{
    nnp_net *net = trained_net();
    float x[2 * D], xa[2 * D];
    int32_t y[2] = {0, 1}, t[2] = {1, 2};
    nnp_attack_result r[2];
    tu_fill_uniform(x, 2 * D, 0, 1, 1);
    nnp_attack_lbfgs_opts o;
#define BAD_OPT(field, value)                                                              \
    do {                                                                                   \
        ck_assert_ok(nnp_attack_lbfgs_opts_init(&o));                                      \
        o.field = value;                                                                   \
        ck_assert_status(nnp_attack_lbfgs(net, x, y, t, 2, &o, xa, r), NNP_EINVAL);        \
        ck_assert_error_has(#field);                                                       \
    } while (0)
    BAD_OPT(c_init, 0.0);
    BAD_OPT(c_init, NAN);
    BAD_OPT(c_factor, 1.0);
    BAD_OPT(history, 0);
    BAD_OPT(max_iterations, 0);
    BAD_OPT(pgtol, -1.0);
    BAD_OPT(ftol, INFINITY);
    BAD_OPT(batch_size, 0);
    BAD_OPT(c_bisect_steps, 5000);
#undef BAD_OPT
    ck_assert_status(nnp_attack_lbfgs(NULL, x, y, t, 2, NULL, xa, r), NNP_EINVAL);
    ck_assert_status(nnp_attack_lbfgs(net, x, y, t, 0, NULL, xa, r), NNP_EINVAL);
    ck_assert_status(nnp_attack_lbfgs(net, x, NULL, NULL, 2, NULL, xa, r), NNP_EINVAL);
    ck_assert_error_has("labels");
    ck_assert_status(nnp_attack_lbfgs(net, x, y, t, 2, NULL, NULL, r), NNP_EINVAL);
    ck_assert_status(nnp_attack_lbfgs(net, x, y, t, 2, NULL, xa, NULL), NNP_EINVAL);
    t[1] = K;
    ck_assert_status(nnp_attack_lbfgs(net, x, y, t, 2, NULL, xa, r), NNP_EINVAL);
    ck_assert_error_has("targets[1]");
    t[1] = 2;
    y[0] = -1;
    ck_assert_status(nnp_attack_lbfgs(net, x, y, NULL, 2, NULL, xa, r), NNP_EINVAL);
    ck_assert_error_has("labels[0]");
    y[0] = 0;
    x[5] = 1.5f;
    ck_assert_status(nnp_attack_lbfgs(net, x, y, t, 2, NULL, xa, r), NNP_EINVAL);
    ck_assert_error_has("x[5]");
    x[5] = NAN;
    ck_assert_status(nnp_attack_lbfgs(net, x, y, t, 2, NULL, xa, r), NNP_EINVAL);
    x[5] = 0.5f;
    /* a newer caller's larger struct: accepted only with zero extra bytes */
    struct {
        nnp_attack_lbfgs_opts o;
        double extra;
    } big;
    memset(&big, 0, sizeof big);
    ck_assert_ok(nnp_attack_lbfgs_opts_init_sized(&big.o, sizeof big));
    ck_assert_uint_eq(big.o.size, sizeof big);
    ck_assert_double_eq(big.extra, 0.0);
    ck_assert_double_eq(big.o.c_init, 1.0);
    big.extra = 1.0;
    ck_assert_status(nnp_attack_lbfgs(net, x, y, t, 2, &big.o, xa, r), NNP_EVERSION);
    nnp_net_free(net);
}
END_TEST

/* Error rates and the transfer matrix against labels counted here from nnp_net_forward. */
START_TEST(error_rate_and_transfer_matrix)
{
    nnp_net *a = trained_net(), *b = NULL;
    ck_assert_ok(nnp_net_clone(a, &b));
    ck_assert_ok(nnp_net_init_params(b, 123)); /* an untrained second net */
    enum { N = 60 };
    float x[N * D], noisy[N * D];
    int32_t y[N];
    blobs(N, 41, x, y);
    ck_assert_ok(nnp_eval_noise_gaussian(x, N * D, 0.3, 5, noisy));
    const nnp_net *nets[2] = {a, b};
    const float *sets[2] = {x, noisy};
    double m[4];
    ck_assert_ok(nnp_eval_transfer_matrix(nets, 2, sets, 2, y, N, m));
    for (size_t s = 0; s < 2; s++)
        for (size_t k = 0; k < 2; k++) {
            size_t wrong = 0;
            for (size_t i = 0; i < N; i++) wrong += predict(nets[k], sets[s] + i * D) != y[i];
            ck_assert_double_eq(m[s * 2 + k], (double)wrong / N);
            double e;
            ck_assert_ok(nnp_eval_error_rate(nets[k], sets[s], y, N, &e, NULL));
            ck_assert_double_eq(e, m[s * 2 + k]);
        }
    ck_assert_double_eq(m[0], 0.0);
    y[3] = K;
    ck_assert_status(nnp_eval_error_rate(a, x, y, N, m, NULL), NNP_EINVAL);
    ck_assert_error_has("labels[3]");
    y[3] = 0;
    nnp_net *c = NULL;
    ck_assert_ok(nnp_net_create(1, 1, D + 1, &c));
    ck_assert_ok(nnp_net_add_dense(c, K, NULL));
    nets[1] = c;
    ck_assert_status(nnp_eval_transfer_matrix(nets, 2, sets, 2, y, N, m), NNP_EINVAL);
    ck_assert_error_has("nets[1]");
    ck_assert_status(nnp_eval_transfer_matrix(nets, 0, sets, 2, y, N, m), NNP_EINVAL);
    nnp_net_free(a);
    nnp_net_free(b);
    nnp_net_free(c);
}
END_TEST

/* Noise: clipped to the box, seed-deterministic, and N(0, σ²) where no clipping happens. */
START_TEST(gaussian_noise)
{
    enum { M = 200000 };
    float *x = malloc(M * sizeof(float)), *o1 = malloc(M * sizeof(float)),
          *o2 = malloc(M * sizeof(float));
    for (size_t i = 0; i < M; i++) x[i] = i % 2 ? 0.5f : 0.02f;
    ck_assert_ok(nnp_eval_noise_gaussian(x, M, 0.05, 9, o1));
    ck_assert_ok(nnp_eval_noise_gaussian(x, M, 0.05, 9, o2));
    ck_assert_mem_eq(o1, o2, M * sizeof(float));
    double s1 = 0, s2 = 0;
    size_t zeros = 0;
    for (size_t i = 0; i < M; i++) {
        ck_assert(o1[i] >= 0.0f && o1[i] <= 1.0f);
        if (i % 2) {
            double r = (double)o1[i] - 0.5;
            s1 += r;
            s2 += r * r;
        } else {
            zeros += o1[i] == 0.0f;
        }
    }
    double mean = s1 / (M / 2), sd = sqrt(s2 / (M / 2) - mean * mean);
    ck_assert_double_eq_tol(mean, 0.0, 1e-3);
    ck_assert_double_eq_tol(sd, 0.05, 1e-3);
    /* P(0.02 + N(0, 0.05²) < 0) = Φ(−0.4) ≈ 0.3446 */
    ck_assert_double_eq_tol((double)zeros / (M / 2), 0.3446, 0.005);
    ck_assert_ok(nnp_eval_noise_gaussian(x, M, 0.05, 10, o2));
    ck_assert(memcmp(o1, o2, M * sizeof(float)) != 0);
    ck_assert_status(nnp_eval_noise_gaussian(x, M, -1, 9, o1), NNP_EINVAL);
    ck_assert_error_has("stddev");
    ck_assert_status(nnp_eval_noise_gaussian(x, 0, 1, 9, o1), NNP_EINVAL);
    free(x);
    free(o1);
    free(o2);
}
END_TEST

/* Rescaling: RMS becomes the requested value (no clipping here), the direction is kept, zero
 * perturbations stay zero, clipping only shrinks. */
START_TEST(perturbation_rescale)
{
    enum { N = 3 };
    float x[N * D], xa[N * D], out[N * D];
    tu_fill_uniform(x, N * D, 0.4f, 0.6f, 2);
    tu_fill_uniform(xa, N * D, 0.35f, 0.65f, 3);
    memcpy(xa + D, x + D, D * sizeof(float)); /* example 1: no perturbation */
    for (size_t j = 0; j < D; j++) xa[2 * D + j] = 1.0f; /* example 2: clipped when amplified */
    ck_assert_ok(nnp_eval_perturbation_rescale(x, xa, N, D, 0.1, out));
    double ss = 0, dot = 0, na = 0;
    for (size_t j = 0; j < D; j++) {
        double r = (double)out[j] - x[j], ra = (double)xa[j] - x[j];
        ss += r * r;
        dot += r * ra;
        na += ra * ra;
    }
    ck_assert_double_eq_tol(sqrt(ss / D), 0.1, 1e-6);
    ck_assert_double_eq_tol(dot / sqrt(ss * na), 1.0, 1e-6);
    ck_assert_mem_eq(out + D, xa + D, D * sizeof(float));
    ss = 0;
    for (size_t j = 0; j < D; j++) {
        ck_assert(out[2 * D + j] <= 1.0f);
        ss += pow((double)out[2 * D + j] - x[2 * D + j], 2);
    }
    ck_assert_double_le(sqrt(ss / D), 0.1 + 1e-6);
    ck_assert_status(nnp_eval_perturbation_rescale(x, xa, N, D, NAN, out), NNP_EINVAL);
    ck_assert_error_has("rms");
    ck_assert_status(nnp_eval_perturbation_rescale(x, xa, 0, D, 0.1, out), NNP_EINVAL);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("attack_lbfgs");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, untargeted_reaches_every_example);
    tcase_add_test(tc, targeted_reaches_every_target);
    tcase_add_test(tc, linear_net_minimum_distortion);
    tcase_add_test(tc, goal_already_reached);
    tcase_add_test(tc, batched_matches_one_at_a_time);
    tcase_add_test(tc, cancellation_leaves_consistent_results);
    tcase_add_test(tc, bad_arguments);
    tcase_add_test(tc, error_rate_and_transfer_matrix);
    tcase_add_test(tc, gaussian_noise);
    tcase_add_test(tc, perturbation_rescale);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
