/* Structural layers: flatten and dropout (both the identity on values) and the element-wise
 * sum of two layers (residual connections). */
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

const nnpi_layer_ops nnpi_flatten_ops = {NNP_LAYER_FLATTEN, "flatten", copy_forward,
                                         copy_backward, NULL, NULL};
const nnpi_layer_ops nnpi_dropout_ops = {NNP_LAYER_DROPOUT, "dropout", copy_forward,
                                         copy_backward, NULL, NULL};
const nnpi_layer_ops nnpi_add_ops = {NNP_LAYER_ADD, "add", add_forward, add_backward, NULL, NULL};

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
