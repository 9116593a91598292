/* Normalisation layers: across-channel local response normalisation (LRN), the paper's
 * contrast normalisation, and inference-form batch normalisation.
 *
 * None of them allocates in a pass: LRN takes its per-example buffers from the workspace's
 * scratch (scratch_floats), the other two need none. The ops only read the node and the
 * parameters, so a const net can be queried from many threads (each with its own workspace). */
#include <math.h>
#include <string.h>

#include "net/net_internal.h"

/* d^-β for d > 0. The exponents used in practice (AlexNet's 0.75, 0.5, 1) get square roots and
 * a division instead of pow(): LRN calls this once per activation. */
static inline double neg_pow(double d, double beta)
{
    if (beta == 0.75) {
        const double r = sqrt(d);
        return 1.0 / (r * sqrt(r));
    }
    if (beta == 0.5) return 1.0 / sqrt(d);
    if (beta == 1.0) return 1.0 / d;
    if (beta == 0.0) return 1.0;
    return pow(d, -beta);
}

/* ---------------------------------------------------------------------------------------- */
/* LRN, as ONNX defines it (operator LRN, opset 13; https://onnx.ai/onnx/operators/onnx__LRN.html),
 * i.e. AlexNet's response normalisation (Krizhevsky et al., 2012, §3.3) with α divided by the
 * window size, as ONNX, Caffe and PyTorch do (the paper's formula has plain α):
 *
 *   S_c = Σ_{c' ∈ W(c)} x_{c'}²,   W(c) = [max(0, c − lo), min(C−1, c + hi)],
 *   lo = ⌊(size−1)/2⌋, hi = ⌈(size−1)/2⌉,
 *   d_c = k + (α/size)·S_c,         y_c = x_c · d_c^−β,
 *
 * independently at each example and spatial position. */

static void lrn_window(const nnpi_node *node, size_t c, size_t *first, size_t *last)
{
    const size_t lo = (node->attr.norm.size - 1) / 2, hi = node->attr.norm.size / 2;
    *first = c > lo ? c - lo : 0;
    *last = node->c - 1 - c > hi ? c + hi : node->c - 1; /* written so c + hi cannot overflow */
}

/* Channels c whose window W(c) contains channel j: c − lo ≤ j ≤ c + hi ⇔ j − hi ≤ c ≤ j + lo. */
static void lrn_reverse_window(const nnpi_node *node, size_t j, size_t *first, size_t *last)
{
    const size_t lo = (node->attr.norm.size - 1) / 2, hi = node->attr.norm.size / 2;
    *first = j > hi ? j - hi : 0;
    *last = node->c - 1 - j > lo ? j + lo : node->c - 1;
}

/* sum[p] = S_c at each of the hw positions of one example. Plane by plane, so the loop over
 * positions is contiguous and vectorises; float accumulation suffices: ≤ size non-negative
 * terms, relative error ≤ (size−1)·2^−24. */
static void lrn_square_sum(const nnpi_node *node, const float *x, size_t c, float *sum)
{
    const size_t hw = node->h * node->w;
    size_t first, last;
    lrn_window(node, c, &first, &last);
    memset(sum, 0, hw * sizeof *sum);
    for (size_t q = first; q <= last; q++) {
        const float *xq = x + q * hw;
        for (size_t p = 0; p < hw; p++) sum[p] += xq[p] * xq[p];
    }
}

/* forward: hw floats (the window sums of one plane); backward: two out_size buffers and hw */
static size_t lrn_scratch_floats(const nnpi_node *node, size_t n)
{
    (void)n; /* examples are processed one at a time */
    return nnpi_mul(2, node->out_size) + node->h * node->w;
}

static void lrn_forward(const nnpi_node *node, const float *params, const float *const *in,
                        float *out, size_t n, float *scratch)
{
    (void)params;
    const size_t C = node->c, hw = node->h * node->w, m = node->out_size;
    const double k = node->attr.norm.k, beta = node->attr.norm.beta;
    const double a = (double)node->attr.norm.alpha / (double)node->attr.norm.size;
    float *sum = scratch;
    for (size_t i = 0; i < n; i++) {
        const float *x = in[0] + i * m;
        float *y = out + i * m;
        for (size_t c = 0; c < C; c++) {
            lrn_square_sum(node, x, c, sum);
            for (size_t p = 0; p < hw; p++)
                y[c * hw + p] = (float)(x[c * hw + p] * neg_pow(k + a * sum[p], beta));
        }
    }
}

/* Jacobian (derived from the definition above; the same as Caffe's LRN backward):
 *
 *   ∂y_c/∂x_j = δ_cj · d_c^−β − (2αβ/size) · x_c · d_c^(−β−1) · x_j · [j ∈ W(c)]
 *
 * so the vector–Jacobian product with dout is
 *
 *   dx_j = dout_j · d_j^−β − (2αβ/size) · x_j · Σ_{c : j ∈ W(c)} dout_c · x_c · d_c^(−β−1).
 *
 * The denominators are recomputed here rather than kept from the forward pass: the scratch
 * buffer is shared by all nodes, and keeping them in the net would break const queries. */
static void lrn_backward_input(const nnpi_node *node, const float *params, const float *const *in,
                               const float *out, const float *dout, float *const *din, size_t n,
                               const unsigned char *accumulate, float *scratch)
{
    (void)params, (void)out;
    const size_t C = node->c, hw = node->h * node->w, m = node->out_size;
    const double k = node->attr.norm.k, beta = node->attr.norm.beta;
    const double a = (double)node->attr.norm.alpha / (double)node->attr.norm.size;
    const float coef = (float)(2.0 * a * beta);
    float *s = scratch;       /* d_c^−β */
    float *t = scratch + m;   /* dout_c · x_c · d_c^(−β−1) */
    float *r = t + m;         /* hw: window sums, then Σ_c t_c */
    for (size_t i = 0; i < n; i++) {
        const float *x = in[0] + i * m, *g = dout + i * m;
        float *dx = din[0] + i * m;
        for (size_t c = 0; c < C; c++) {
            lrn_square_sum(node, x, c, r);
            for (size_t p = 0; p < hw; p++) {
                const size_t e = c * hw + p;
                const double d = k + a * r[p], sd = neg_pow(d, beta);
                s[e] = (float)sd;
                t[e] = (float)((double)g[e] * x[e] * sd / d);
            }
        }
        for (size_t j = 0; j < C; j++) {
            size_t first, last;
            lrn_reverse_window(node, j, &first, &last);
            memset(r, 0, hw * sizeof *r);
            for (size_t c = first; c <= last; c++)
                for (size_t p = 0; p < hw; p++) r[p] += t[c * hw + p];
            float *dxj = dx + j * hw;
            const float *xj = x + j * hw, *gj = g + j * hw, *sj = s + j * hw;
            if (accumulate[0])
                for (size_t p = 0; p < hw; p++) dxj[p] += gj[p] * sj[p] - coef * xj[p] * r[p];
            else
                for (size_t p = 0; p < hw; p++) dxj[p] = gj[p] * sj[p] - coef * xj[p] * r[p];
        }
    }
}

/* Lipschitz rule of LRN (our derivation: Szegedy et al. 2013 §4.3 gives none, docs/paper.md
 * §6). Per example and spatial position the layer maps the C channels by y_c = x_c d_c^−β, d_c = k + a S_c,
 * a = α/size, S_c = Σ_{j∈W(c)} x_j². Its Jacobian (lrn_backward_input) is J = D − 2aβ E with
 * D = diag(d_c^−β), E_cj = x_c x_j d_c^(−β−1) [j ∈ W(c)]. Since d_c ≥ k, ‖D‖ ≤ k^−β. For E:
 * |x_c|, |x_j| ≤ √S_c, and S_c d_c^(−β−1) = (d_c − k) d_c^(−β−1)/a ≤ k^−β g/a with
 * g = β^β/(1+β)^(1+β) (the maximum of (d−k)d^(−β−1) over d ≥ k, at d = k(1+β)/β). Row c of |E|
 * sums to ≤ |x_c| d_c^(−β−1) √m √S_c ≤ √m k^−β g/a (Cauchy–Schwarz over the ≤ m = min(size, C)
 * channels of W(c)); column j to ≤ m k^−β g/a (j lies in ≤ m windows). Schur's test gives
 * ‖E‖ ≤ m^¾ k^−β g/a, hence sup‖J‖ ≤ k^−β (1 + 2β m^¾ g), independent of α. For AlexNet's
 * LRN (size 5, β = 0.75, k = 2) that is 1.50. LRN is smooth, so sup‖J‖ is its Lipschitz
 * constant's bound. */
static nnp_status lrn_lip_bound(const nnpi_node *node, const float *params,
                                const nnpi_lip_query *q, nnpi_lip_rule *r)
{
    (void)params, (void)q;
    const double k = node->attr.norm.k, beta = node->attr.norm.beta;
    const double m = (double)(node->attr.norm.size < node->c ? node->attr.norm.size : node->c);
    double b = pow(k, -beta);
    if (beta > 0.0 && node->attr.norm.alpha > 0.0)
        b *= 1.0 + 2.0 * beta * pow(m, 0.75) * pow(beta, beta) / pow(1.0 + beta, 1.0 + beta);
    r->bound = b;
    return NNP_OK;
}

/* Tangent: (J t)_c = t_c d_c^−β − (2αβ/size) x_c d_c^(−β−1) Σ_{j∈W(c)} x_j t_j, the Jacobian
 * of the backward pass above applied from the right, in double. */
static void lrn_jvp(const nnpi_node *node, const float *params, const float *lin_params,
                    const float *const *in, const float *out, const float *const *tin,
                    float *jt, size_t n, float *scratch)
{
    (void)params, (void)lin_params, (void)out, (void)scratch;
    const float *x = in[0], *t = tin[0];
    const size_t C = node->c, hw = node->h * node->w, m = node->out_size;
    const double k = node->attr.norm.k, beta = node->attr.norm.beta;
    const double a = (double)node->attr.norm.alpha / (double)node->attr.norm.size;
    for (size_t i = 0; i < n; i++)
        for (size_t c = 0; c < C; c++) {
            size_t first, last;
            lrn_window(node, c, &first, &last);
            for (size_t p = 0; p < hw; p++) {
                double s = 0.0, u = 0.0;
                for (size_t j = first; j <= last; j++) {
                    const double xj = x[i * m + j * hw + p];
                    s += xj * xj;
                    u += xj * t[i * m + j * hw + p];
                }
                const double d = k + a * s, sd = pow(d, -beta);
                const size_t e = i * m + c * hw + p;
                jt[e] = (float)(t[e] * sd - 2.0 * a * beta * x[e] * sd / d * u);
            }
        }
}

const nnpi_layer_ops nnpi_lrn_ops = {.kind = NNP_LAYER_LRN,
                                     .name = "lrn",
                                     .forward = lrn_forward,
                                     .backward_input = lrn_backward_input,
                                     .scratch_floats = lrn_scratch_floats,
                                     .lip_bound = lrn_lip_bound,
                                     .jvp = lrn_jvp};

/* ---------------------------------------------------------------------------------------- */
/* Contrast normalisation of Szegedy et al. (2013), §4.3 (docs/paper.md §6), over all
 * C·H·W values of one example:
 *
 *   y = s·x,  s = (ε + ‖x‖²)^−γ.
 *
 * Its Jacobian is J = s·I − (2γ s/(ε + ‖x‖²)) · x xᵀ (symmetric), so
 *
 *   dx = s·dout − (2γ s/(ε + ‖x‖²)) · (xᵀdout) · x.
 *
 * Sums run over up to 2^28 values: they are accumulated in double. */

static double sum_squares(const float *x, size_t m)
{
    double ss = 0.0;
    for (size_t j = 0; j < m; j++) ss += (double)x[j] * x[j];
    return ss;
}

static void cnorm_forward(const nnpi_node *node, const float *params, const float *const *in,
                          float *out, size_t n, float *scratch)
{
    (void)params, (void)scratch;
    const size_t m = node->out_size;
    const double eps = node->attr.norm.eps, gamma = node->attr.norm.gamma;
    for (size_t i = 0; i < n; i++) {
        const float *x = in[0] + i * m;
        float *y = out + i * m;
        const double s = pow(eps + sum_squares(x, m), -gamma);
        for (size_t j = 0; j < m; j++) y[j] = (float)(s * x[j]);
    }
}

static void cnorm_backward_input(const nnpi_node *node, const float *params,
                                 const float *const *in, const float *out, const float *dout,
                                 float *const *din, size_t n, const unsigned char *accumulate,
                                 float *scratch)
{
    (void)params, (void)out, (void)scratch;
    const size_t m = node->out_size;
    const double eps = node->attr.norm.eps, gamma = node->attr.norm.gamma;
    for (size_t i = 0; i < n; i++) {
        const float *x = in[0] + i * m, *g = dout + i * m;
        float *dx = din[0] + i * m;
        double ss = 0.0, xg = 0.0;
        for (size_t j = 0; j < m; j++) {
            ss += (double)x[j] * x[j];
            xg += (double)x[j] * g[j];
        }
        const double D = eps + ss, s = pow(D, -gamma);
        const float sf = (float)s, q = (float)(2.0 * gamma * s / D * xg);
        if (accumulate[0])
            for (size_t j = 0; j < m; j++) dx[j] += sf * g[j] - q * x[j];
        else
            for (size_t j = 0; j < m; j++) dx[j] = sf * g[j] - q * x[j];
    }
}

/* Lipschitz rule (Szegedy et al. 2013, §4.3; docs/paper.md §6). J = s I + 2s'(t) x xᵀ, s = (ε+t)^−γ, t = ‖x‖², has eigenvalues s and
 * s(1 − 2γ t/(ε+t)); |1 − 2γu| ≤ max(1, 2γ−1) for u ∈ [0, 1), s ≤ ε^−γ (paper.md §6).
 * The Jacobian is symmetric, so the tangent is the backward pass (nnpi_jvp_by_backward). */
static nnp_status cnorm_lip_bound(const nnpi_node *node, const float *params,
                                  const nnpi_lip_query *q, nnpi_lip_rule *r)
{
    (void)params, (void)q;
    const double eps = node->attr.norm.eps, gamma = node->attr.norm.gamma;
    r->bound = pow(eps, -gamma) * fmax(1.0, 2.0 * gamma - 1.0);
    return NNP_OK;
}

const nnpi_layer_ops nnpi_contrast_norm_ops = {.kind = NNP_LAYER_CONTRAST_NORM,
                                               .name = "contrast_norm",
                                               .forward = cnorm_forward,
                                               .backward_input = cnorm_backward_input,
                                               .lip_bound = cnorm_lip_bound,
                                               .jvp = nnpi_jvp_by_backward};

/* ---------------------------------------------------------------------------------------- */
/* Batch normalisation in inference form (Ioffe & Szegedy, 2015, Algorithm 2; ONNX
 * BatchNormalization with running statistics):
 *
 *   y = scale_c · (x − mean_c) / sqrt(var_c + ε) + bias_c.
 *
 * Parameters: weights [scale(C), mean(C), var(C)], biases [bias(C)]. mean and var are
 * statistics, not trained: backward_params adds nothing to their gradient entries, so SGD
 * (with momentum) never moves them.
 *
 * var_c + ε ≤ 0 (a negative variance set by the caller, or var = ε = 0) has no real inverse
 * square root: 1/sqrt is then taken as NaN, so channel c's outputs and gradients are NaN (and
 * training refuses the step with NNP_ENUMERIC). Nothing traps or divides by zero. */

static double bn_inv_std(const float *var, size_t c, float eps)
{
    const double v = (double)var[c] + eps;
    return v > 0.0 ? 1.0 / sqrt(v) : NAN;
}

static void bn_forward(const nnpi_node *node, const float *params, const float *const *in,
                       float *out, size_t n, float *scratch)
{
    (void)scratch;
    const size_t C = node->c, hw = node->h * node->w, m = node->out_size;
    const float *scale = params, *mean = params + C, *var = params + 2 * C;
    const float *bias = params + node->n_weights;
    for (size_t c = 0; c < C; c++) {
        const float a = (float)(scale[c] * bn_inv_std(var, c, node->attr.norm.eps));
        const float mu = mean[c], b = bias[c];
        for (size_t i = 0; i < n; i++) {
            const float *x = in[0] + i * m + c * hw;
            float *y = out + i * m + c * hw;
            for (size_t p = 0; p < hw; p++) y[p] = a * (x[p] - mu) + b;
        }
    }
}

static void bn_backward_input(const nnpi_node *node, const float *params, const float *const *in,
                              const float *out, const float *dout, float *const *din, size_t n,
                              const unsigned char *accumulate, float *scratch)
{
    (void)in, (void)out, (void)scratch;
    const size_t C = node->c, hw = node->h * node->w, m = node->out_size;
    const float *scale = params, *var = params + 2 * C;
    for (size_t c = 0; c < C; c++) {
        const float a = (float)(scale[c] * bn_inv_std(var, c, node->attr.norm.eps));
        for (size_t i = 0; i < n; i++) {
            const float *g = dout + i * m + c * hw;
            float *dx = din[0] + i * m + c * hw;
            if (accumulate[0])
                for (size_t p = 0; p < hw; p++) dx[p] += a * g[p];
            else
                for (size_t p = 0; p < hw; p++) dx[p] = a * g[p];
        }
    }
}

/* dscale_c += Σ dout · (x − mean_c)/sqrt(var_c + ε), dbias_c += Σ dout, over the batch and the
 * positions of channel c, accumulated in double; mean and var get no contribution. */
static void bn_backward_params(const nnpi_node *node, const float *params, const float *const *in,
                               const float *dout, float *dparams, size_t n, float *scratch)
{
    (void)scratch;
    const size_t C = node->c, hw = node->h * node->w, m = node->out_size;
    const float *mean = params + C, *var = params + 2 * C;
    float *dscale = dparams, *dbias = dparams + node->n_weights;
    for (size_t c = 0; c < C; c++) {
        const float mu = mean[c];
        double gs = 0.0, gb = 0.0;
        for (size_t i = 0; i < n; i++) {
            const float *x = in[0] + i * m + c * hw, *g = dout + i * m + c * hw;
            for (size_t p = 0; p < hw; p++) {
                gs += (double)g[p] * (x[p] - mu);
                gb += g[p];
            }
        }
        dscale[c] += (float)(gs * bn_inv_std(var, c, node->attr.norm.eps));
        dbias[c] += (float)gb;
    }
}

/* Lipschitz rule: the layer scales channel c by scale_c/√(var_c + ε), so its norm is the
 * largest |scale_c|/√(var_c + ε) (exact; the paper has no batch norm). A channel without a
 * real inverse square root makes the bound undefined: refused as NNP_ENUMERIC. */
static nnp_status bn_lip_bound(const nnpi_node *node, const float *params,
                               const nnpi_lip_query *q, nnpi_lip_rule *r)
{
    const size_t C = node->c;
    double b = 0.0;
    for (size_t c = 0; c < C; c++) {
        const double v = (double)params[2 * C + c] + node->attr.norm.eps;
        const double g = v > 0.0 ? fabs((double)params[c]) / sqrt(v) : NAN;
        if (!(g <= b)) b = g; /* keeps a NaN */
    }
    if (isnan(b))
        return nnpi_error(NNP_ENUMERIC,
                          "%s: layer %zu (batchnorm) has a channel with var + eps <= 0", q->func,
                          q->index);
    r->bound = b;
    return NNP_OK;
}

/* The linear part: the offset is bias − scale·mean/√(var + ε), removed by zeroing both the bias
 * and the mean. */
static void bn_zero_offset(const nnpi_node *node, float *params)
{
    memset(params + node->n_weights, 0, node->n_bias * sizeof(float));
    memset(params + node->c, 0, node->c * sizeof(float)); /* mean */
}

const nnpi_layer_ops nnpi_batchnorm_ops = {.kind = NNP_LAYER_BATCHNORM,
                                           .name = "batchnorm",
                                           .forward = bn_forward,
                                           .backward_input = bn_backward_input,
                                           .backward_params = bn_backward_params,
                                           .lip_flags = NNPI_LIP_LINEAR,
                                           .lip_bound = bn_lip_bound,
                                           .zero_offset = bn_zero_offset,
                                           .jvp = nnpi_jvp_by_forward};

/* ---------------------------------------------------------------------------------------- */
/* Builders. Each takes its input from net->attach (the last layer, or the one named by
 * nnp_net_branch_from()) and keeps its shape. */

static nnp_status append(nnp_net *net, const nnpi_node *node, size_t *layer)
{
    size_t index;
    NNPI_TRY(nnpi_net_append(net, node, &index));
    if (layer) *layer = index;
    return NNP_OK;
}

NNP_API nnp_status nnp_net_add_lrn(nnp_net *net, size_t size, float alpha, float beta, float k,
                                   size_t *layer)
{
    NNPI_CHECK_NULL(net);
    const char *f = "nnp_net_add_lrn";
    if (size == 0) return nnpi_error(NNP_EINVAL, "%s: size = 0, must be >= 1", f);
    if (!(alpha >= 0.0f) || !isfinite(alpha))
        return nnpi_error(NNP_EINVAL, "%s: alpha = %g, must be >= 0 and finite", f, (double)alpha);
    if (!(beta >= 0.0f) || !isfinite(beta))
        return nnpi_error(NNP_EINVAL, "%s: beta = %g, must be >= 0 and finite", f, (double)beta);
    if (!(k > 0.0f) || !isfinite(k))
        return nnpi_error(NNP_EINVAL, "%s: k = %g, must be > 0 and finite", f, (double)k);
    nnpi_node node = nnpi_node_on(net, net->attach, &nnpi_lrn_ops);
    node.attr.norm = (nnpi_norm_attrs){.size = size, .alpha = alpha, .beta = beta, .k = k};
    return append(net, &node, layer);
}

NNP_API nnp_status nnp_net_add_contrast_norm(nnp_net *net, float eps, float gamma, size_t *layer)
{
    NNPI_CHECK_NULL(net);
    const char *f = "nnp_net_add_contrast_norm";
    if (!(eps > 0.0f) || !isfinite(eps))
        return nnpi_error(NNP_EINVAL, "%s: eps = %g, must be > 0 and finite", f, (double)eps);
    if (!(gamma >= 0.0f) || !isfinite(gamma))
        return nnpi_error(NNP_EINVAL, "%s: gamma = %g, must be >= 0 and finite", f, (double)gamma);
    nnpi_node node = nnpi_node_on(net, net->attach, &nnpi_contrast_norm_ops);
    node.attr.norm = (nnpi_norm_attrs){.eps = eps, .gamma = gamma};
    return append(net, &node, layer);
}

NNP_API nnp_status nnp_net_add_batchnorm(nnp_net *net, float eps, size_t *layer)
{
    NNPI_CHECK_NULL(net);
    if (!(eps >= 0.0f) || !isfinite(eps))
        return nnpi_error(NNP_EINVAL, "nnp_net_add_batchnorm: eps = %g, must be >= 0 and finite",
                          (double)eps);
    nnpi_node node = nnpi_node_on(net, net->attach, &nnpi_batchnorm_ops);
    node.attr.norm = (nnpi_norm_attrs){.eps = eps};
    const size_t C = node.c;
    node.n_weights = 3 * C; /* C ≤ 2^28: no overflow */
    node.n_bias = C;
    size_t index;
    NNPI_TRY(nnpi_net_append(net, &node, &index));
    /* the identity up to ε: scale 1, mean 0, var 1 (bias stays 0) */
    float *p = net->params + net->nodes[index].param_offset;
    for (size_t c = 0; c < C; c++) {
        p[c] = 1.0f;
        p[2 * C + c] = 1.0f;
    }
    if (layer) *layer = index;
    return NNP_OK;
}
