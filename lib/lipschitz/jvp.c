/* Forward-mode tangent pass (rules and sources in jvp.h). Allocation-free: tangents live in
 * the workspace's gradient buffers, per-layer scratch in its scratch buffer. */
#include <math.h>
#include <string.h>

#include "lipschitz/jvp.h"

static int is_linear_kind(nnp_layer_kind k)
{
    return k == NNP_LAYER_DENSE || k == NNP_LAYER_CONV2D || k == NNP_LAYER_AVGPOOL ||
           k == NNP_LAYER_GLOBAL_AVGPOOL || k == NNP_LAYER_BATCHNORM || k == NNP_LAYER_FLATTEN ||
           k == NNP_LAYER_DROPOUT || k == NNP_LAYER_ADD;
}

static int is_symmetric_kind(nnp_layer_kind k)
{
    return k == NNP_LAYER_RELU || k == NNP_LAYER_SIGMOID || k == NNP_LAYER_TANH ||
           k == NNP_LAYER_SOFTPLUS || k == NNP_LAYER_CONTRAST_NORM || k == NNP_LAYER_LEAKY_RELU;
}

nnp_status nnpi_jvp_check(const nnp_net *net, size_t last)
{
    for (size_t i = 1; i <= last; i++) {
        const nnp_layer_kind k = net->nodes[i].ops->kind;
        if (!is_linear_kind(k) && !is_symmetric_kind(k) && k != NNP_LAYER_MAXPOOL &&
            k != NNP_LAYER_LRN)
            return nnpi_error(NNP_EUNSUPPORTED, "layer %zu (%s): no tangent rule for this kind", i,
                              net->nodes[i].ops->name);
    }
    return NNP_OK;
}

nnp_status nnpi_linear_params(const nnp_net *net, float **out)
{
    *out = NULL;
    float *p = nnpi_malloc(nnpi_mul(net->n_params > 0 ? net->n_params : 1, sizeof(float)));
    if (p == NULL) return nnpi_error(NNP_ENOMEM, "out of memory for a copy of the parameters");
    if (net->n_params) memcpy(p, net->params, net->n_params * sizeof(float));
    for (size_t i = 0; i < net->n_nodes; i++) {
        const nnpi_node *node = &net->nodes[i];
        float *q = p + node->param_offset;
        const nnp_layer_kind k = node->ops->kind;
        if (k == NNP_LAYER_DENSE || k == NNP_LAYER_CONV2D || k == NNP_LAYER_BATCHNORM)
            memset(q + node->n_weights, 0, node->n_bias * sizeof(float));
        if (k == NNP_LAYER_BATCHNORM) memset(q + node->c, 0, node->c * sizeof(float)); /* mean */
    }
    *out = p;
    return NNP_OK;
}

/* Max pooling: the window of output (oh, ow) clipped to the real input, and its first maximal
 * cell; the same geometry and tie rule as layer_pool.c (padding cells never win). */
static void maxpool_jvp(const nnpi_node *node, const float *x, const float *t, float *jt, size_t n)
{
    const nnpi_pool_attrs *a = &node->attr.pool;
    const size_t H = node->in_h, W = node->in_w, C = node->c, OH = node->h, OW = node->w;
    for (size_t e = 0; e < n * C; e++) {
        const float *xp = x + e * H * W, *tp = t + e * H * W;
        float *yp = jt + e * OH * OW;
        for (size_t oh = 0; oh < OH; oh++)
            for (size_t ow = 0; ow < OW; ow++) {
                const size_t ph = oh * a->sh, pw = ow * a->sw;
                const size_t h0 = ph > a->pt ? ph - a->pt : 0, w0 = pw > a->pl ? pw - a->pl : 0;
                const size_t h1 = (ph + a->kh < a->pt + H ? ph + a->kh : a->pt + H) - a->pt;
                const size_t w1 = (pw + a->kw < a->pl + W ? pw + a->kw : a->pl + W) - a->pl;
                size_t best = h0 * W + w0;
                float bv = xp[best];
                int found_nan = 0;
                for (size_t r = h0; r < h1 && !found_nan; r++)
                    for (size_t c = w0; c < w1; c++) {
                        const float v = xp[r * W + c];
                        if (v > bv) {
                            bv = v;
                            best = r * W + c;
                        } else if (isnan(v)) {
                            best = r * W + c;
                            found_nan = 1;
                            break;
                        }
                    }
                yp[oh * OW + ow] = tp[best];
            }
    }
}

/* LRN window of channel c: [c − ⌊(size−1)/2⌋, c + ⌈(size−1)/2⌉] clipped (layer_norm.c). */
static void lrn_jvp(const nnpi_node *node, const float *x, const float *t, float *jt, size_t n)
{
    const size_t C = node->c, hw = node->h * node->w, m = node->out_size;
    const size_t lo = (node->attr.norm.size - 1) / 2, hi = node->attr.norm.size / 2;
    const double k = node->attr.norm.k, beta = node->attr.norm.beta;
    const double a = (double)node->attr.norm.alpha / (double)node->attr.norm.size;
    for (size_t i = 0; i < n; i++)
        for (size_t c = 0; c < C; c++) {
            const size_t first = c > lo ? c - lo : 0, last = C - 1 - c > hi ? c + hi : C - 1;
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

void nnpi_jvp(const nnp_net *net, nnp_workspace *ws, const float *x, const float *lin_params,
              size_t n, size_t first, size_t last, const float *t)
{
    const float *in[NNP_MAX_LAYER_INPUTS], *tin[NNP_MAX_LAYER_INPUTS];
    static const unsigned char overwrite[NNP_MAX_LAYER_INPUTS] = {0};
    if (first > 0) { /* nodes below `first` are held fixed: zero tangents */
        for (size_t i = 0; i < first; i++)
            memset(ws->grad[i], 0, n * net->nodes[i].out_size * sizeof(float));
        memcpy(ws->grad[first], t, n * net->nodes[first].out_size * sizeof(float));
    }
    for (size_t i = first + 1; i <= last; i++) {
        const nnpi_node *node = &net->nodes[i];
        for (size_t k = 0; k < node->n_inputs; k++) {
            const size_t j = node->inputs[k];
            in[k] = nnpi_node_output(ws, x, j);
            tin[k] = j == 0 && first == 0 ? t : ws->grad[j];
        }
        float *tout = ws->grad[i];
        const nnp_layer_kind kind = node->ops->kind;
        if (is_linear_kind(kind)) {
            node->ops->forward(node, lin_params + node->param_offset, tin, tout, n, ws->scratch);
        } else if (is_symmetric_kind(kind)) {
            float *din[1] = {tout};
            node->ops->backward_input(node, net->params + node->param_offset, in, ws->act[i],
                                      tin[0], din, n, overwrite, ws->scratch);
        } else if (kind == NNP_LAYER_MAXPOOL) {
            maxpool_jvp(node, in[0], tin[0], tout, n);
        } else { /* NNP_LAYER_LRN (nnpi_jvp_check ruled out the rest) */
            lrn_jvp(node, in[0], tin[0], tout, n);
        }
    }
}
