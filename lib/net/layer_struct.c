/* Structural layers: flatten and dropout (both the identity on values; dropout masks units
 * in nnp_train's training mode only) and the element-wise sum of two layers (residual
 * connections). */
#include <math.h>
#include <string.h>

#include "net/net_internal.h"

static void copy_forward(const nnpi_node *node, const float *params, const float *const *in,
                         float *out, size_t n, float *scratch)
{
    (void)params, (void)scratch;
    memcpy(out, in[0], n * node->out_size * sizeof(float));
}

static void copy_backward(const nnpi_node *node, const float *params, const float *const *in,
                          const float *out, const float *dout, float *const *din, size_t n,
                          const unsigned char *accumulate, float *scratch)
{
    (void)params, (void)in, (void)out, (void)scratch;
    const size_t m = n * node->out_size;
    if (accumulate[0])
        for (size_t i = 0; i < m; i++) din[0][i] += dout[i];
    else
        memcpy(din[0], dout, m * sizeof(float));
}

static void add_forward(const nnpi_node *node, const float *params, const float *const *in,
                        float *out, size_t n, float *scratch)
{
    (void)params, (void)scratch;
    const size_t m = n * node->out_size;
    for (size_t i = 0; i < m; i++) out[i] = in[0][i] + in[1][i];
}

/* d(a+b)/da = d(a+b)/db = I. When both inputs are the same layer (a + a), din[0] == din[1]
 * and the second pass must add to what the first wrote. */
static void add_backward(const nnpi_node *node, const float *params, const float *const *in,
                         const float *out, const float *dout, float *const *din, size_t n,
                         const unsigned char *accumulate, float *scratch)
{
    const unsigned char second[1] = {(unsigned char)(accumulate[1] || din[1] == din[0])};
    copy_backward(node, params, in, out, dout, din, n, accumulate, scratch);
    float *const other[1] = {din[1]};
    copy_backward(node, params, in, out, dout, other, n, second, scratch);
}

/* The add's bound: ‖a + b‖ ≤ ‖a‖ + ‖b‖ ≤ √2·‖(a, b)‖ for two distinct inputs, and 2 for a + a
 * (one input, doubled). Along the net its inputs' bounds are summed (NNPI_LIP_SUM_INPUTS),
 * which is tighter than √2 times the larger when the branches differ. */
static nnp_status add_lip_bound(const nnpi_node *node, const float *params,
                                const nnpi_lip_query *q, nnpi_lip_rule *r)
{
    (void)params, (void)q;
    r->bound = node->inputs[0] == node->inputs[1] ? 2.0 : sqrt(2.0);
    return NNP_OK;
}

/* Dropout's training mask (nnp_train_opts.dropout), inverted dropout (Srivastava et al.
 * 2014, "Dropout: a simple way to prevent neural networks from overfitting", JMLR 15; §4
 * scales the weights at test time, §10 notes that scaling up the retained units in training
 * is equivalent): each unit of each example is kept with probability 1 − p (p = the drop
 * ratio; the paper's p is the keep probability) and kept units are scaled by 1/(1 − p), so the
 * expected output is the input and inference needs no rescaling: the layer is then the
 * identity (as ONNX Dropout in inference mode). p < 1 (nnp_net_add_dropout). */
static void dropout_train_mask(const nnpi_node *node, float *mask, size_t n, nnpi_rng *rng)
{
    const double keep = 1.0 - (double)node->attr.dropout_ratio;
    const float scale = (float)(1.0 / keep);
    const size_t m = n * node->out_size;
    for (size_t j = 0; j < m; j++) mask[j] = nnpi_rng_uniform(rng) < keep ? scale : 0.0f;
}

/* Flatten and dropout (inference) are the identity on values: bound and exact norm 1, and the
 * tangent is copied by their own forward pass. Dropout in training mode is the pass's
 * mask ⊙ (the copy), which is why copy_backward reads neither `in` nor `out`. */
const nnpi_layer_ops nnpi_flatten_ops = {.kind = NNP_LAYER_FLATTEN,
                                         .name = "flatten",
                                         .forward = copy_forward,
                                         .backward_input = copy_backward,
                                         .lip_flags = NNPI_LIP_IDENTITY,
                                         .lip_bound = nnpi_lip_bound_one,
                                         .jvp = nnpi_jvp_by_forward};
const nnpi_layer_ops nnpi_dropout_ops = {.kind = NNP_LAYER_DROPOUT,
                                         .name = "dropout",
                                         .forward = copy_forward,
                                         .backward_input = copy_backward,
                                         .lip_flags = NNPI_LIP_IDENTITY,
                                         .lip_bound = nnpi_lip_bound_one,
                                         .jvp = nnpi_jvp_by_forward,
                                         .train_mask = dropout_train_mask};
const nnpi_layer_ops nnpi_add_ops = {.kind = NNP_LAYER_ADD,
                                     .name = "add",
                                     .forward = add_forward,
                                     .backward_input = add_backward,
                                     .lip_flags = NNPI_LIP_SUM_INPUTS,
                                     .lip_bound = add_lip_bound,
                                     .jvp = nnpi_jvp_by_forward};

NNP_API nnp_status nnp_net_add_flatten(nnp_net *net, size_t *layer)
{
    NNPI_CHECK_NULL(net);
    nnpi_node node = nnpi_node_on(net, net->attach, &nnpi_flatten_ops);
    node.c = node.out_size;
    node.h = node.w = 1;
    size_t index;
    NNPI_TRY(nnpi_net_append(net, &node, &index));
    if (layer) *layer = index;
    return NNP_OK;
}

NNP_API nnp_status nnp_net_add_dropout(nnp_net *net, float ratio, size_t *layer)
{
    NNPI_CHECK_NULL(net);
    if (!(ratio >= 0.0f && ratio < 1.0f))
        return nnpi_error(NNP_EINVAL, "nnp_net_add_dropout: ratio = %g, must be in [0, 1)",
                          (double)ratio);
    nnpi_node node = nnpi_node_on(net, net->attach, &nnpi_dropout_ops);
    node.attr.dropout_ratio = ratio;
    size_t index;
    NNPI_TRY(nnpi_net_append(net, &node, &index));
    if (layer) *layer = index;
    return NNP_OK;
}

NNP_API nnp_status nnp_net_add_add(nnp_net *net, size_t a, size_t b, size_t *layer)
{
    NNPI_TRY(nnpi_check_layer(net, a, __func__));
    NNPI_TRY(nnpi_check_layer(net, b, __func__));
    const nnpi_node *na = &net->nodes[a], *nb = &net->nodes[b];
    if (na->c != nb->c || na->h != nb->h || na->w != nb->w)
        return nnpi_error(NNP_EINVAL,
                          "nnp_net_add_add: layer %zu (%zux%zux%zu) and layer %zu (%zux%zux%zu) "
                          "differ in shape", a, na->c, na->h, na->w, b, nb->c, nb->h, nb->w);
    nnpi_node node = nnpi_node_on(net, a, &nnpi_add_ops);
    node.n_inputs = 2;
    node.inputs[1] = b;
    size_t index;
    NNPI_TRY(nnpi_net_append(net, &node, &index));
    if (layer) *layer = index;
    return NNP_OK;
}
