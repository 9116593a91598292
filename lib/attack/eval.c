/* Evaluation helpers of the paper's Tables 2 and 4: error rates, the transfer matrix, the
 * Gaussian-noise baseline and the "amplified" perturbations (docs/paper.md §4, §5). */
#include <math.h>
#include <stdio.h>

#include "attack/common.h"
#include "net/loss.h"

/* Batch of the classification passes: large enough for GEMM speed, small enough for cache. */
enum { EVAL_BATCH = 256 };

static nnp_status error_rate(const nnp_net *net, nnp_workspace *ws, const float *x,
                             const int32_t *labels, size_t n, int32_t *pred, double *rate)
{
    NNPI_TRY(nnpi_classify(net, ws, x, n, pred));
    size_t wrong = 0;
    for (size_t i = 0; i < n; i++) wrong += pred[i] != labels[i];
    *rate = (double)wrong / (double)n;
    return NNP_OK;
}

static nnp_status check_labels(const int32_t *labels, size_t n, size_t k, const char *func)
{
    const size_t i = nnpi_first_bad_label(labels, n, k);
    if (i == n) return NNP_OK;
    return nnpi_error(NNP_EINVAL, "%s: labels[%zu] = %d is not a class 0..%zu", func, i,
                      (int)labels[i], k - 1);
}

NNP_API nnp_status nnp_eval_error_rate(const nnp_net *net, const float *x, const int32_t *labels,
                                       size_t n, double *error_rate, double *mean_loss)
{
    const char *f = "nnp_eval_error_rate";
    NNPI_CHECK_NULL(net);
    NNPI_CHECK_NULL(x);
    NNPI_CHECK_NULL(labels);
    if (error_rate == NULL && mean_loss == NULL)
        return nnpi_error(NNP_EINVAL, "%s: error_rate and mean_loss are both NULL", f);
    if (n == 0) return nnpi_error(NNP_EINVAL, "%s: n is 0", f);
    const size_t d = nnp_net_input_size(net), k = nnp_net_output_size(net), last = net->n_nodes - 1;
    NNPI_TRY(check_labels(labels, n, k, f));
    if (n > SIZE_MAX / d) return nnpi_error(NNP_EINVAL, "%s: n = %zu is too large", f, n);
    NNPI_TRY(nnpi_check_finite_input(x, n, d, f, "x"));
    const size_t batch = n < EVAL_BATCH ? n : EVAL_BATCH;
    nnp_workspace *ws = NULL;
    NNPI_TRY(nnp_workspace_create(net, batch, &ws));
    size_t wrong = 0;
    double loss = 0.0;
    for (size_t s = 0; s < n; s += batch) {
        const size_t g = n - s < batch ? n - s : batch;
        const float *xs = x + s * d;
        nnpi_forward(net, ws, xs, g, last);
        /* a NaN logit would count as a wrong (or right) label 0 and give a NaN loss */
        nnp_status st = nnpi_check_output(net, ws, xs, g, last, s, f);
        if (st != NNP_OK) {
            nnp_workspace_free(ws);
            return st;
        }
        const float *z = nnpi_node_output(ws, xs, last);
        if (mean_loss) loss += nnpi_softmax_xent(z, labels + s, g, k, 0.0f, NULL, NULL);
        for (size_t i = 0; i < g; i++) wrong += nnpi_argmax(z + i * k, k) != labels[s + i];
    }
    nnp_workspace_free(ws);
    if (error_rate) *error_rate = (double)wrong / (double)n;
    if (mean_loss) *mean_loss = loss / (double)n;
    return NNP_OK;
}

NNP_API nnp_status nnp_eval_transfer_matrix(const nnp_net *const *nets, size_t n_nets,
                                       const float *const *sets, size_t n_sets,
                                       const int32_t *labels, size_t n, double *errors)
{
    const char *f = "nnp_eval_transfer_matrix";
    NNPI_CHECK_NULL(nets);
    NNPI_CHECK_NULL(sets);
    NNPI_CHECK_NULL(labels);
    NNPI_CHECK_NULL(errors);
    if (n_nets == 0 || n_sets == 0 || n == 0)
        return nnpi_error(NNP_EINVAL, "%s: n_nets = %zu, n_sets = %zu, n = %zu: each must be >= 1",
                          f, n_nets, n_sets, n);
    for (size_t k = 0; k < n_nets; k++) {
        if (nets[k] == NULL) return nnpi_error(NNP_EINVAL, "%s: nets[%zu] is NULL", f, k);
        if (nnp_net_input_size(nets[k]) != nnp_net_input_size(nets[0]) ||
            nnp_net_output_size(nets[k]) != nnp_net_output_size(nets[0]))
            return nnpi_error(NNP_EINVAL, "%s: nets[%zu] maps %zu inputs to %zu classes, nets[0] "
                              "%zu to %zu", f, k, nnp_net_input_size(nets[k]),
                              nnp_net_output_size(nets[k]), nnp_net_input_size(nets[0]),
                              nnp_net_output_size(nets[0]));
    }
    const size_t d = nnp_net_input_size(nets[0]);
    if (n > SIZE_MAX / d) return nnpi_error(NNP_EINVAL, "%s: n = %zu is too large", f, n);
    for (size_t s = 0; s < n_sets; s++) {
        if (sets[s] == NULL) return nnpi_error(NNP_EINVAL, "%s: sets[%zu] is NULL", f, s);
        char what[32];
        snprintf(what, sizeof what, "sets[%zu]", s);
        NNPI_TRY(nnpi_check_finite_input(sets[s], n, d, f, what));
    }
    NNPI_TRY(check_labels(labels, n, nnp_net_output_size(nets[0]), f));
    int32_t *pred = nnpi_malloc(nnpi_mul(n, sizeof *pred));
    if (pred == NULL) return nnpi_error(NNP_ENOMEM, "%s: out of memory for %zu labels", f, n);
    nnp_status st = NNP_OK;
    for (size_t k = 0; st == NNP_OK && k < n_nets; k++) {
        nnp_workspace *ws = NULL;
        st = nnp_workspace_create(nets[k], n < EVAL_BATCH ? n : EVAL_BATCH, &ws);
        for (size_t s = 0; st == NNP_OK && s < n_sets; s++) {
            st = error_rate(nets[k], ws, sets[s], labels, n, pred, &errors[s * n_nets + k]);
            if (st == NNP_ENUMERIC)
                st = nnpi_error_prefix(st, "%s: nets[%zu] on sets[%zu]", f, k, s);
        }
        nnp_workspace_free(ws);
    }
    nnpi_free(pred);
    return st;
}

static float clip01(double v)
{
    return (float)(v < 0.0 ? 0.0 : v > 1.0 ? 1.0 : v);
}

NNP_API nnp_status nnp_eval_noise_gaussian(const float *x, size_t count, double stddev, uint64_t seed,
                                      float *out)
{
    NNPI_CHECK_NULL(x);
    NNPI_CHECK_NULL(out);
    if (count == 0) return nnpi_error(NNP_EINVAL, "nnp_eval_noise_gaussian: count is 0");
    /* clipping to [0,1] would turn an infinity into 0 or 1 (and a NaN passes through) */
    NNPI_TRY(nnpi_check_finite_input(x, 1, count, "nnp_eval_noise_gaussian", "x"));
    if (!(stddev >= 0.0) || !isfinite(stddev))
        return nnpi_error(NNP_EINVAL, "nnp_eval_noise_gaussian: stddev = %g must be finite and >= 0",
                          stddev);
    nnpi_rng rng;
    nnpi_rng_seed(&rng, seed);
    for (size_t i = 0; i < count; i++) out[i] = clip01((double)x[i] + stddev * nnpi_rng_normal(&rng));
    return NNP_OK;
}

NNP_API nnp_status nnp_eval_perturbation_rescale(const float *x, const float *x_adv, size_t n,
                                            size_t d, double rms, float *out)
{
    NNPI_CHECK_NULL(x);
    NNPI_CHECK_NULL(x_adv);
    NNPI_CHECK_NULL(out);
    if (n == 0 || d == 0)
        return nnpi_error(NNP_EINVAL, "nnp_eval_perturbation_rescale: n = %zu, d = %zu: each must be "
                          ">= 1", n, d);
    if (!(rms >= 0.0) || !isfinite(rms))
        return nnpi_error(NNP_EINVAL, "nnp_eval_perturbation_rescale: rms = %g must be finite and >= 0",
                          rms);
    if (nnpi_mul(n, d) == SIZE_MAX)
        return nnpi_error(NNP_EINVAL, "nnp_eval_perturbation_rescale: n·d overflows");
    /* a NaN makes the RMS NaN, and the output NaN or a silent copy of x_adv */
    NNPI_TRY(nnpi_check_finite_input(x, n, d, "nnp_eval_perturbation_rescale", "x"));
    NNPI_TRY(nnpi_check_finite_input(x_adv, n, d, "nnp_eval_perturbation_rescale", "x_adv"));
    for (size_t i = 0; i < n; i++) {
        const float *xi = x + i * d, *ai = x_adv + i * d;
        float *oi = out + i * d;
        nnp_attack_result r;
        nnpi_attack_distortion(xi, ai, d, &r);
        double gain = r.rms > 0.0 ? rms / r.rms : 0.0;
        for (size_t j = 0; j < d; j++)
            oi[j] = r.rms > 0.0 ? clip01((double)xi[j] + gain * ((double)ai[j] - (double)xi[j]))
                                : ai[j];
    }
    return NNP_OK;
}
