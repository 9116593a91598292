/* Element-wise activations. Each backward uses whichever of input or output gives the
 * derivative most cheaply and stably. */
#include <math.h>

#include "net/net_internal.h"

#define ELEMENTWISE(name, expr_fwd, expr_bwd)                                                 \
    static void name##_forward(const nnpi_node *node, const float *params,                   \
                               const float *const *in, float *out, size_t n)                 \
    {                                                                                         \
        (void)params;                                                                         \
        const float *x = in[0];                                                               \
        const size_t m = n * node->out_size;                                                  \
        for (size_t i = 0; i < m; i++) {                                                      \
            const float v = x[i];                                                             \
            out[i] = (expr_fwd);                                                              \
        }                                                                                     \
    }                                                                                         \
    static void name##_backward(const nnpi_node *node, const float *params,                  \
                                const float *const *in, const float *out, const float *dout,  \
                                float *const *din, size_t n,                  \
                                const unsigned char *accumulate)                  \
    {                                                                                         \
        (void)params;                                                                         \
        const float *x = in[0];                                                               \
        float *dx = din[0];                                                                   \
        const size_t m = n * node->out_size;                                                  \
        if (accumulate[0])                                                                    \
            for (size_t i = 0; i < m; i++) {                                                  \
                const float v = x[i], y = out[i];                                             \
                (void)v, (void)y;                                                             \
                dx[i] += dout[i] * (expr_bwd);                                                \
            }                                                                                 \
        else                                                                                  \
            for (size_t i = 0; i < m; i++) {                                                  \
                const float v = x[i], y = out[i];                                             \
                (void)v, (void)y;                                                             \
                dx[i] = dout[i] * (expr_bwd);                                                 \
            }                                                                                 \
    }

/* sigmoid(v) for any v without overflow: exp of a non-positive number only */
static inline float sigmoidf(float v)
{
    if (v >= 0.0f) return 1.0f / (1.0f + expf(-v));
    const float e = expf(v);
    return e / (1.0f + e);
}

/* softplus(v) = log(1 + e^v) = max(v, 0) + log1p(e^-|v|), stable for large |v| */
static inline float softplusf(float v) { return fmaxf(v, 0.0f) + log1pf(expf(-fabsf(v))); }

ELEMENTWISE(relu, v > 0.0f ? v : 0.0f, v > 0.0f ? 1.0f : 0.0f)
ELEMENTWISE(sigmoid, sigmoidf(v), y * (1.0f - y))
ELEMENTWISE(tanh, tanhf(v), 1.0f - y * y)
ELEMENTWISE(softplus, softplusf(v), sigmoidf(v))

const nnpi_layer_ops nnpi_relu_ops = {NNP_LAYER_RELU, "relu", relu_forward, relu_backward, NULL};
const nnpi_layer_ops nnpi_sigmoid_ops = {NNP_LAYER_SIGMOID, "sigmoid", sigmoid_forward,
                                         sigmoid_backward, NULL};
const nnpi_layer_ops nnpi_tanh_ops = {NNP_LAYER_TANH, "tanh", tanh_forward, tanh_backward, NULL};
const nnpi_layer_ops nnpi_softplus_ops = {NNP_LAYER_SOFTPLUS, "softplus", softplus_forward,
                                          softplus_backward, NULL};

const nnpi_layer_ops *nnpi_activation_ops(nnp_layer_kind kind)
{
    switch (kind) {
    case NNP_LAYER_RELU: return &nnpi_relu_ops;
    case NNP_LAYER_SIGMOID: return &nnpi_sigmoid_ops;
    case NNP_LAYER_TANH: return &nnpi_tanh_ops;
    case NNP_LAYER_SOFTPLUS: return &nnpi_softplus_ops;
    default: return NULL;
    }
}
