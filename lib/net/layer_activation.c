/* Element-wise activations. Each backward uses whichever of input or output gives the
 * derivative most cheaply and stably. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "core/fastmath.h"
#include "core/threads.h"
#include "net/net_internal.h"

/* Each kind is a pair of loops over [lo, hi) of the batch's values (built for AVX2/AVX-512
 * too), cut between the threads by nnpi_parallel_range in contiguous ranges: every value is
 * computed alone, so the results are the same bits for any thread count. */
typedef struct act_job {
    const nnpi_node *node;
    const float *x, *y, *dy; /* input, output, output cotangent */
    float *out;              /* forward: output; backward: input cotangent */
    int accumulate;
} act_job;

/* Values per thread below which a loop stays on one thread: nnpi_threads_for's threshold
 * counts each value as ACT_COST operations (a few for ReLU, ~20 for sigmoid's exp). */
#define ACT_COST 4

#define ELEMENTWISE(name, expr_fwd, expr_bwd)                                                 \
    NNPI_SIMD_CLONES static void name##_forward_range(void *ctx, size_t lo, size_t hi)        \
    {                                                                                         \
        const act_job *j = ctx;                                                               \
        const nnpi_node *node = j->node;                                                      \
        (void)node;                                                                           \
        const float *x = j->x;                                                                \
        float *out = j->out;                                                                  \
        for (size_t i = lo; i < hi; i++) {                                                    \
            const float v = x[i];                                                             \
            out[i] = (expr_fwd);                                                              \
        }                                                                                     \
    }                                                                                         \
    static void name##_forward(const nnpi_node *node, const float *params,                    \
                               const float *const *in, float *out, size_t n, float *scratch) \
    {                                                                                         \
        (void)params, (void)scratch;                                                          \
        act_job j = {.node = node, .x = in[0], .out = out};                                   \
        nnpi_parallel_range(n * node->out_size, ACT_COST, name##_forward_range, &j);         \
    }                                                                                         \
    NNPI_SIMD_CLONES static void name##_backward_range(void *ctx, size_t lo, size_t hi)       \
    {                                                                                         \
        const act_job *j = ctx;                                                               \
        const nnpi_node *node = j->node;                                                      \
        (void)node;                                                                           \
        const float *x = j->x, *out = j->y, *dout = j->dy;                                    \
        float *dx = j->out;                                                                   \
        if (j->accumulate)                                                                    \
            for (size_t i = lo; i < hi; i++) {                                                \
                const float v = x[i], y = out[i];                                             \
                (void)v, (void)y;                                                             \
                dx[i] += dout[i] * (expr_bwd);                                                \
            }                                                                                 \
        else                                                                                  \
            for (size_t i = lo; i < hi; i++) {                                                \
                const float v = x[i], y = out[i];                                             \
                (void)v, (void)y;                                                             \
                dx[i] = dout[i] * (expr_bwd);                                                 \
            }                                                                                 \
    }                                                                                         \
    static void name##_backward(const nnpi_node *node, const float *params,                   \
                                const float *const *in, const float *out, const float *dout,  \
                                float *const *din, size_t n, const unsigned char *accumulate, \
                                float *scratch)                                               \
    {                                                                                         \
        (void)params, (void)scratch;                                                          \
        act_job j = {.node = node, .x = in[0], .y = out, .dy = dout, .out = din[0],           \
                     .accumulate = accumulate[0] != 0};                                       \
        nnpi_parallel_range(n * node->out_size, ACT_COST, name##_backward_range, &j);        \
    }

/* sigmoid(v) = 1 / (1 + e^-v) (NaN stays NaN through nnpi_exp_fast): for v ≪ 0 e^-v saturates at e^88 and the result is ~0, for
 * v ≫ 0 it is 1; branch-free, so the batch loop vectorises (it was the largest cost outside
 * the GEMMs at batch 256, measured in bench/). */
static inline float sigmoidf(float v) { return 1.0f / (1.0f + nnpi_exp_fast(-v)); }

/* softplus(v) = log(1 + e^v) = max(v, 0) + log1p(e^-|v|), stable for large |v|. fmaxf drops a
 * NaN, but the log1p term keeps it, so softplus(NaN) is NaN. */
static inline float softplusf(float v) { return fmaxf(v, 0.0f) + log1pf(expf(-fabsf(v))); }

/* ReLU as `v <= 0 ? 0 : v`, not `v > 0 ? v : 0`: the same single compare and select (the same
 * bits for every number, -0 included), but NaN fails `<=` and passes through, where the other
 * form turned a NaN pixel into 0 and a plausible result. fmaxf(v, 0) would drop NaN too. The
 * backward passes need no such care: every probe refuses a non-finite output before its
 * backward pass (nnpi_check_output). */
ELEMENTWISE(relu, v <= 0.0f ? 0.0f : v, v > 0.0f ? 1.0f : 0.0f)
ELEMENTWISE(sigmoid, sigmoidf(v), y * (1.0f - y))
ELEMENTWISE(tanh, tanhf(v), 1.0f - y * y)
ELEMENTWISE(softplus, softplusf(v), sigmoidf(v))
/* slope α at 0, as PyTorch; node->attr.leaky_alpha is loop-invariant. NaN takes the α·v
 * branch and stays NaN. */
ELEMENTWISE(leaky_relu, v > 0.0f ? v : node->attr.leaky_alpha * v,
            v > 0.0f ? 1.0f : node->attr.leaky_alpha)

/* Clip (ONNX Clip; ReLU6 = clip(0, 6)): written with comparisons that a NaN fails, so NaN
 * passes through as in ReLU; infinite bounds are no bounds. Slope 1 strictly inside (lo, hi),
 * 0 at and beyond the bounds: PyTorch's hardtanh_backward rule (ReLU6 is a hardtanh), and the
 * same choice as this file's ReLU at 0. */
ELEMENTWISE(clip, v < node->attr.clip.lo ? node->attr.clip.lo
                  : v > node->attr.clip.hi ? node->attr.clip.hi : v,
            v > node->attr.clip.lo && v < node->attr.clip.hi ? 1.0f : 0.0f)
/* Hard sigmoid (ONNX HardSigmoid): max(0, min(1, α·v + β)); slope α where 0 < α·v + β < 1
 * (PyTorch's hardsigmoid_backward, strict at both ends). NaN passes through (fails both
 * comparisons). */
static inline float hard_sigmoidf(float v, float alpha, float beta)
{
    const float u = alpha * v + beta;
    return u < 0.0f ? 0.0f : u > 1.0f ? 1.0f : u;
}
ELEMENTWISE(hard_sigmoid, hard_sigmoidf(v, node->attr.hard.alpha, node->attr.hard.beta),
            (node->attr.hard.alpha * v + node->attr.hard.beta > 0.0f &&
             node->attr.hard.alpha * v + node->attr.hard.beta < 1.0f)
                ? node->attr.hard.alpha : 0.0f)
/* Hard swish (ONNX HardSwish, opset 14; Howard et al. 2019, "Searching for MobileNetV3", §5.2):
 * v · max(0, min(1, v/6 + 1/2)) = 0 for v ≤ −3, v(v + 3)/6 in between, v for v ≥ 3. Its
 * derivative follows PyTorch's hardswish_backward: 0 for v < −3, v/3 + 1/2 for −3 ≤ v ≤ 3,
 * 1 for v > 3. The first piece is written out so that −∞ gives 0, not −∞·0 = NaN; NaN fails
 * `<=` and stays NaN. */
ELEMENTWISE(hard_swish, v <= -3.0f ? 0.0f : v * hard_sigmoidf(v, 1.0f / 6.0f, 0.5f),
            v < -3.0f ? 0.0f : v <= 3.0f ? v / 3.0f + 0.5f : 1.0f)

/* Lipschitz bounds (§4.3: an element-wise map is as Lipschitz as its largest |slope|): ReLU,
 * tanh and softplus 1, sigmoid 1/4, leaky ReLU max(1, |α|). The Jacobian of an element-wise
 * map is diagonal, hence symmetric, so every activation's tangent is its own backward pass. */
static nnp_status sigmoid_lip_bound(const nnpi_node *node, const float *params,
                                    const nnpi_lip_query *q, nnpi_lip_rule *r)
{
    (void)node, (void)params, (void)q;
    r->bound = 0.25;
    return NNP_OK;
}

static nnp_status leaky_relu_lip_bound(const nnpi_node *node, const float *params,
                                       const nnpi_lip_query *q, nnpi_lip_rule *r)
{
    (void)params, (void)q;
    r->bound = fmax(1.0, fabs((double)node->attr.leaky_alpha)); /* slopes 1 and α */
    return NNP_OK;
}

/* Hard sigmoid: slopes α and 0. */
static nnp_status hard_sigmoid_lip_bound(const nnpi_node *node, const float *params,
                                         const nnpi_lip_query *q, nnpi_lip_rule *r)
{
    (void)params, (void)q;
    r->bound = fabs((double)node->attr.hard.alpha);
    return NNP_OK;
}

/* Hard swish: the derivative (2v + 3)/6 on [−3, 3] ranges over [−1/2, 3/2], and is 0 or 1
 * outside, so sup |slope| = 3/2, reached at v = 3 (d/dv of v(v + 3)/6, the middle piece of
 * Howard et al. 2019, §5.2). */
static nnp_status hard_swish_lip_bound(const nnpi_node *node, const float *params,
                                       const nnpi_lip_query *q, nnpi_lip_rule *r)
{
    (void)node, (void)params, (void)q;
    r->bound = 1.5;
    return NNP_OK;
}

#define ACTIVATION_OPS(kind_, name_, lip_bound_)                                              \
    {.kind = kind_,                                                                           \
     .name = #name_,                                                                          \
     .forward = name_##_forward,                                                              \
     .backward_input = name_##_backward,                                                      \
     .lip_bound = lip_bound_,                                                                 \
     .jvp = nnpi_jvp_by_backward}

const nnpi_layer_ops nnpi_relu_ops = ACTIVATION_OPS(NNP_LAYER_RELU, relu, nnpi_lip_bound_one);
const nnpi_layer_ops nnpi_sigmoid_ops =
    ACTIVATION_OPS(NNP_LAYER_SIGMOID, sigmoid, sigmoid_lip_bound);
const nnpi_layer_ops nnpi_tanh_ops = ACTIVATION_OPS(NNP_LAYER_TANH, tanh, nnpi_lip_bound_one);
const nnpi_layer_ops nnpi_softplus_ops =
    ACTIVATION_OPS(NNP_LAYER_SOFTPLUS, softplus, nnpi_lip_bound_one);
const nnpi_layer_ops nnpi_leaky_relu_ops =
    ACTIVATION_OPS(NNP_LAYER_LEAKY_RELU, leaky_relu, leaky_relu_lip_bound);

/* clip's slopes are 0 and 1 */
const nnpi_layer_ops nnpi_clip_ops = ACTIVATION_OPS(NNP_LAYER_CLIP, clip, nnpi_lip_bound_one);
const nnpi_layer_ops nnpi_hard_sigmoid_ops =
    ACTIVATION_OPS(NNP_LAYER_HARD_SIGMOID, hard_sigmoid, hard_sigmoid_lip_bound);
const nnpi_layer_ops nnpi_hard_swish_ops =
    ACTIVATION_OPS(NNP_LAYER_HARD_SWISH, hard_swish, hard_swish_lip_bound);

const nnpi_layer_ops *nnpi_activation_ops(nnp_layer_kind kind)
{
    switch (kind) {
    case NNP_LAYER_RELU: return &nnpi_relu_ops;
    case NNP_LAYER_SIGMOID: return &nnpi_sigmoid_ops;
    case NNP_LAYER_TANH: return &nnpi_tanh_ops;
    case NNP_LAYER_SOFTPLUS: return &nnpi_softplus_ops;
    case NNP_LAYER_LEAKY_RELU: return &nnpi_leaky_relu_ops;
    case NNP_LAYER_CLIP: return &nnpi_clip_ops;
    case NNP_LAYER_HARD_SIGMOID: return &nnpi_hard_sigmoid_ops;
    case NNP_LAYER_HARD_SWISH: return &nnpi_hard_swish_ops;
    default: return NULL;
    }
}
