/* Building a network, its parameters and layer queries. */
#include <math.h>
#include <string.h>

#include "net/net_internal.h"

#define MAX_INPUT_SIZE ((size_t)1 << 28)
#define MAX_UNITS ((size_t)1 << 24)

static const char *const kind_names[] = {
    "input",   "dense",         "relu",      "sigmoid", "tanh",    "softplus",
    "conv2d",  "maxpool2d",     "avgpool2d", "global_avgpool",     "lrn",
    "contrast_norm", "batchnorm", "dropout", "flatten", "add",     "leaky_relu",
    "clip",    "hard_sigmoid",  "hard_swish", "pad"};
#define KIND_COUNT ((int)(sizeof kind_names / sizeof kind_names[0]))

NNP_API int nnp_layer_kind_count(void) { return KIND_COUNT; }

NNP_API const char *nnp_layer_kind_name(nnp_layer_kind kind)
{
    int k = (int)kind;
    return (k >= 0 && k < KIND_COUNT) ? kind_names[k] : "unknown";
}

nnp_status nnpi_check_layer(const nnp_net *net, size_t layer, const char *func)
{
    if (net == NULL) return nnpi_error(NNP_EINVAL, "%s: net is NULL", func);
    if (layer >= net->n_nodes)
        return nnpi_error(NNP_EINVAL, "%s: layer %zu out of range (the net has layers 0..%zu)",
                          func, layer, net->n_nodes - 1);
    return NNP_OK;
}

nnp_status nnpi_net_append(nnp_net *net, const nnpi_node *proto, size_t *index)
{
    for (size_t k = 0; k < proto->n_inputs; k++)
        if (proto->inputs[k] >= net->n_nodes)
            return nnpi_error(NNP_EINVAL, "net: input layer %zu does not exist (the net has layers 0..%zu)",
                              proto->inputs[k], net->n_nodes - 1);
    if (net->n_nodes == net->cap_nodes) {
        size_t cap = net->cap_nodes ? 2 * net->cap_nodes : 8;
        nnpi_node *nodes = nnpi_realloc(net->nodes, nnpi_mul(cap, sizeof *nodes));
        if (nodes == NULL) return nnpi_error(NNP_ENOMEM, "net: out of memory adding a layer");
        net->nodes = nodes;
        net->cap_nodes = cap;
    }
    size_t n_params = proto->n_weights + proto->n_bias;
    if (n_params > 0) {
        if (net->cap_params - net->n_params < n_params) {
            size_t cap = net->n_params + n_params;
            float *params = nnpi_realloc(net->params, nnpi_mul(cap, sizeof(float)));
            if (params == NULL)
                return nnpi_error(NNP_ENOMEM, "net: out of memory for %zu parameters", n_params);
            net->params = params;
            net->cap_params = cap;
        }
        memset(net->params + net->n_params, 0, n_params * sizeof(float));
    }
    nnpi_node *node = &net->nodes[net->n_nodes];
    *node = *proto;
    node->param_offset = net->n_params;
    net->n_params += n_params;
    net->attach = net->n_nodes;
    *index = net->n_nodes++;
    return NNP_OK;
}

nnp_status nnpi_net_reserve_params(nnp_net *net, size_t total)
{
    if (total <= net->cap_params) return NNP_OK;
    float *params = nnpi_realloc(net->params, nnpi_mul(total, sizeof(float)));
    if (params == NULL)
        return nnpi_error(NNP_ENOMEM, "net: out of memory for %zu parameters", total);
    net->params = params;
    net->cap_params = total;
    return NNP_OK;
}

void nnpi_net_trim_params(nnp_net *net)
{
    if (net->cap_params == net->n_params) return;
    if (net->n_params == 0) {
        nnpi_free(net->params);
        net->params = NULL;
        net->cap_params = 0;
        return;
    }
    float *params = nnpi_realloc(net->params, net->n_params * sizeof(float));
    if (params == NULL) return; /* the larger block still holds everything */
    net->params = params;
    net->cap_params = net->n_params;
}

float *nnpi_net_layer_params(nnp_net *net, size_t layer)
{
    const nnpi_node *node = &net->nodes[layer];
    return node->n_weights + node->n_bias ? net->params + node->param_offset : NULL;
}

nnpi_node nnpi_node_on(const nnp_net *net, size_t input, const nnpi_layer_ops *ops)
{
    const nnpi_node *in = &net->nodes[input];
    nnpi_node node = {.ops = ops, .n_inputs = 1, .inputs = {input}, .c = in->c, .h = in->h,
                      .w = in->w, .out_size = in->out_size, .in_size = in->out_size,
                      .in_c = in->c, .in_h = in->h, .in_w = in->w};
    return node;
}

NNP_API nnp_status nnp_net_branch_from(nnp_net *net, size_t layer)
{
    NNPI_TRY(nnpi_check_layer(net, layer, __func__));
    net->attach = layer;
    return NNP_OK;
}

NNP_API nnp_status nnp_net_create(size_t channels, size_t height, size_t width, nnp_net **out)
{
    NNPI_CHECK_NULL(out);
    *out = NULL;
    if (channels == 0 || height == 0 || width == 0)
        return nnpi_error(NNP_EINVAL, "nnp_net_create: input shape %zux%zux%zu has a zero dimension",
                          channels, height, width);
    size_t size = nnpi_mul(nnpi_mul(channels, height), width);
    if (size > MAX_INPUT_SIZE)
        return nnpi_error(NNP_EINVAL, "nnp_net_create: input shape %zux%zux%zu exceeds 2^28 values",
                          channels, height, width);
    nnp_net *net = nnpi_calloc(1, sizeof *net);
    if (net == NULL) return nnpi_error(NNP_ENOMEM, "nnp_net_create: out of memory");
    nnpi_node input = {.ops = &nnpi_input_ops, .c = channels, .h = height, .w = width,
                       .out_size = size, .in_size = size, .in_c = channels,
                       .in_h = height, .in_w = width};
    size_t index;
    nnp_status s = nnpi_net_append(net, &input, &index);
    if (s != NNP_OK) {
        nnp_net_free(net);
        return s;
    }
    *out = net;
    return NNP_OK;
}

NNP_API void nnp_net_free(nnp_net *net)
{
    if (net == NULL) return;
    nnpi_free(net->nodes);
    nnpi_free(net->params);
    nnpi_free(net);
}

NNP_API nnp_status nnp_net_clone(const nnp_net *net, nnp_net **out)
{
    NNPI_CHECK_NULL(out);
    *out = NULL;
    NNPI_CHECK_NULL(net);
    nnp_net *copy = nnpi_calloc(1, sizeof *copy);
    if (copy == NULL) return nnpi_error(NNP_ENOMEM, "nnp_net_clone: out of memory");
    *copy = *net;
    copy->nodes = nnpi_malloc(nnpi_mul(net->cap_nodes, sizeof *net->nodes));
    copy->params = net->n_params ? nnpi_malloc(nnpi_mul(net->n_params, sizeof(float))) : NULL;
    if (copy->nodes == NULL || (net->n_params && copy->params == NULL)) {
        nnpi_free(copy->nodes);
        nnpi_free(copy->params);
        nnpi_free(copy);
        return nnpi_error(NNP_ENOMEM, "nnp_net_clone: out of memory");
    }
    copy->cap_params = net->n_params;
    memcpy(copy->nodes, net->nodes, net->n_nodes * sizeof *net->nodes);
    if (net->n_params) memcpy(copy->params, net->params, net->n_params * sizeof(float));
    *out = copy;
    return NNP_OK;
}

NNP_API nnp_status nnp_net_add_dense(nnp_net *net, size_t units, size_t *layer)
{
    NNPI_CHECK_NULL(net);
    if (units == 0 || units > MAX_UNITS)
        return nnpi_error(NNP_EINVAL, "nnp_net_add_dense: units = %zu, must be 1..%zu", units,
                          MAX_UNITS);
    nnpi_node node = nnpi_node_on(net, net->attach, &nnpi_dense_ops);
    size_t fan_in = node.in_size;
    if (nnpi_mul(units, fan_in) > ((size_t)1 << 31))
        return nnpi_error(NNP_EINVAL, "nnp_net_add_dense: %zu x %zu weights exceed 2^31", units,
                          fan_in);
    node.c = units;
    node.h = node.w = 1;
    node.out_size = units;
    node.n_weights = units * fan_in;
    node.n_bias = units;
    size_t index;
    NNPI_TRY(nnpi_net_append(net, &node, &index));
    if (layer) *layer = index;
    return NNP_OK;
}

NNP_API nnp_status nnp_net_add_activation(nnp_net *net, nnp_layer_kind kind, size_t *layer)
{
    NNPI_CHECK_NULL(net);
    const nnpi_layer_ops *ops = nnpi_activation_ops(kind);
    if (ops == NULL)
        return nnpi_error(NNP_EINVAL, "nnp_net_add_activation: kind %d (%s) is not an activation",
                          (int)kind, nnp_layer_kind_name(kind));
    if (kind == NNP_LAYER_LEAKY_RELU) return nnp_net_add_leaky_relu(net, 0.01, layer);
    if (kind == NNP_LAYER_HARD_SIGMOID) return nnp_net_add_hard_sigmoid(net, 0.2, 0.5, layer);
    if (kind == NNP_LAYER_CLIP)
        return nnpi_error(NNP_EINVAL, "nnp_net_add_activation: kind %d (clip) needs its bounds: "
                          "use nnp_net_add_clip()", (int)kind);
    nnpi_node node = nnpi_node_on(net, net->attach, ops);
    size_t index;
    NNPI_TRY(nnpi_net_append(net, &node, &index));
    if (layer) *layer = index;
    return NNP_OK;
}

NNP_API nnp_status nnp_net_add_leaky_relu(nnp_net *net, double alpha, size_t *layer)
{
    NNPI_CHECK_NULL(net);
    if (!isfinite(alpha) || fabs(alpha) > 3.4e38)
        return nnpi_error(NNP_EINVAL, "nnp_net_add_leaky_relu: alpha = %g must be finite", alpha);
    nnpi_node node = nnpi_node_on(net, net->attach, &nnpi_leaky_relu_ops);
    node.attr.leaky_alpha = (float)alpha;
    size_t index;
    NNPI_TRY(nnpi_net_append(net, &node, &index));
    if (layer) *layer = index;
    return NNP_OK;
}

/* Clip bounds are stored as floats: ±∞ stay infinite, finite ones must fit a float. */
NNP_API nnp_status nnp_net_add_clip(nnp_net *net, double lo, double hi, size_t *layer)
{
    NNPI_CHECK_NULL(net);
    const char *f = "nnp_net_add_clip";
    if (isnan(lo) || lo == INFINITY || (isfinite(lo) && fabs(lo) > 3.4e38))
        return nnpi_error(NNP_EINVAL, "%s: lo = %g, must be -inf or a finite float", f, lo);
    if (isnan(hi) || hi == -INFINITY || (isfinite(hi) && fabs(hi) > 3.4e38))
        return nnpi_error(NNP_EINVAL, "%s: hi = %g, must be +inf or a finite float", f, hi);
    if (lo > hi) return nnpi_error(NNP_EINVAL, "%s: lo = %g is above hi = %g", f, lo, hi);
    nnpi_node node = nnpi_node_on(net, net->attach, &nnpi_clip_ops);
    node.attr.clip.lo = (float)lo;
    node.attr.clip.hi = (float)hi;
    size_t index;
    NNPI_TRY(nnpi_net_append(net, &node, &index));
    if (layer) *layer = index;
    return NNP_OK;
}

NNP_API nnp_status nnp_net_add_hard_sigmoid(nnp_net *net, double alpha, double beta,
                                            size_t *layer)
{
    NNPI_CHECK_NULL(net);
    const char *f = "nnp_net_add_hard_sigmoid";
    if (!isfinite(alpha) || fabs(alpha) > 3.4e38)
        return nnpi_error(NNP_EINVAL, "%s: alpha = %g must be a finite float", f, alpha);
    if (!isfinite(beta) || fabs(beta) > 3.4e38)
        return nnpi_error(NNP_EINVAL, "%s: beta = %g must be a finite float", f, beta);
    nnpi_node node = nnpi_node_on(net, net->attach, &nnpi_hard_sigmoid_ops);
    node.attr.hard.alpha = (float)alpha;
    node.attr.hard.beta = (float)beta;
    size_t index;
    NNPI_TRY(nnpi_net_append(net, &node, &index));
    if (layer) *layer = index;
    return NNP_OK;
}

NNP_API size_t nnp_net_layer_count(const nnp_net *net) { return net ? net->n_nodes : 0; }

NNP_API size_t nnp_net_input_size(const nnp_net *net) { return net ? net->nodes[0].out_size : 0; }

NNP_API size_t nnp_net_output_size(const nnp_net *net)
{
    return net ? net->nodes[net->n_nodes - 1].out_size : 0;
}

NNP_API size_t nnp_net_param_count(const nnp_net *net) { return net ? net->n_params : 0; }

NNP_API nnp_status nnp_net_layer_info(const nnp_net *net, size_t layer, nnp_layer_info *info)
{
    NNPI_TRY(nnpi_check_layer(net, layer, __func__));
    NNPI_CHECK_NULL(info);
    if (info->size == 0)
        return nnpi_error(NNP_EINVAL, "nnp_net_layer_info: info->size is 0 (set it to sizeof(nnp_layer_info))");
    const nnpi_node *node = &net->nodes[layer];
    nnp_layer_info full = {.size = info->size, .kind = node->ops->kind, .n_inputs = node->n_inputs,
                           .channels = node->c, .height = node->h, .width = node->w,
                           .output_size = node->out_size, .weight_count = node->n_weights,
                           .bias_count = node->n_bias};
    for (size_t k = 0; k < node->n_inputs; k++) full.inputs[k] = node->inputs[k];
    switch (node->ops->kind) {
    case NNP_LAYER_CONV2D: {
        const nnpi_conv_attrs *a = &node->attr.conv;
        full.kernel_h = a->kh, full.kernel_w = a->kw, full.stride_h = a->sh, full.stride_w = a->sw;
        full.pad_top = a->pt, full.pad_left = a->pl, full.pad_bottom = a->pb, full.pad_right = a->pr;
        full.dilation_h = a->dh, full.dilation_w = a->dw, full.groups = a->groups;
        break;
    }
    case NNP_LAYER_MAXPOOL:
    case NNP_LAYER_AVGPOOL: {
        const nnpi_pool_attrs *a = &node->attr.pool;
        full.kernel_h = a->kh, full.kernel_w = a->kw, full.stride_h = a->sh, full.stride_w = a->sw;
        full.pad_top = a->pt, full.pad_left = a->pl, full.pad_bottom = a->pb, full.pad_right = a->pr;
        full.dilation_h = full.dilation_w = 1;
        full.ceil_mode = a->ceil_mode;
        break;
    }
    case NNP_LAYER_PAD:
        full.pad_top = node->attr.pad.pt, full.pad_left = node->attr.pad.pl;
        full.pad_bottom = node->attr.pad.pb, full.pad_right = node->attr.pad.pr;
        break;
    case NNP_LAYER_LEAKY_RELU: full.alpha = node->attr.leaky_alpha; break;
    case NNP_LAYER_CLIP:
        full.clip_min = node->attr.clip.lo, full.clip_max = node->attr.clip.hi;
        break;
    case NNP_LAYER_HARD_SIGMOID:
        full.alpha = node->attr.hard.alpha, full.beta = node->attr.hard.beta;
        break;
    default: break;
    }
    size_t copy = info->size < sizeof full ? info->size : sizeof full;
    memcpy(info, &full, copy);
    return NNP_OK;
}

int nnpi_node_is_linear(const nnpi_node *node)
{
    const nnp_layer_kind kind = node->ops->kind;
    return node->n_weights > 0 && (kind == NNP_LAYER_DENSE || kind == NNP_LAYER_CONV2D);
}

NNP_API nnp_status nnp_net_init_params(nnp_net *net, uint64_t seed)
{
    NNPI_CHECK_NULL(net);
    nnpi_rng rng;
    nnpi_rng_seed(&rng, seed);
    for (size_t i = 0; i < net->n_nodes; i++) {
        const nnpi_node *node = &net->nodes[i];
        /* batch norm keeps its parameters (its builder's identity, or what was set) */
        if (!nnpi_node_is_linear(node)) continue;
        float *w = net->params + node->param_offset;
        /* Glorot & Bengio (2010), eq. 16: U(-a, a), a = sqrt(6 / (fan_in + fan_out)); for a
         * convolution fan_in = (C_in/groups)·kh·kw and fan_out = C_out·kh·kw, as PyTorch counts */
        const size_t receptive = node->ops->kind == NNP_LAYER_CONV2D
                                     ? node->attr.conv.kh * node->attr.conv.kw : 1;
        const size_t fan_in = node->n_weights / node->c, fan_out = node->c * receptive;
        double a = sqrt(6.0 / (double)(fan_in + fan_out));
        for (size_t j = 0; j < node->n_weights; j++)
            w[j] = (float)(a * (2.0 * nnpi_rng_uniform(&rng) - 1.0));
        memset(w + node->n_weights, 0, node->n_bias * sizeof(float));
    }
    return NNP_OK;
}

NNP_API nnp_status nnp_net_get_params(const nnp_net *net, size_t layer, float *weights, float *bias)
{
    NNPI_TRY(nnpi_check_layer(net, layer, __func__));
    const nnpi_node *node = &net->nodes[layer];
    const float *p = net->params ? net->params + node->param_offset : NULL; /* NULL + 0 is UB */
    if (weights && node->n_weights) memcpy(weights, p, node->n_weights * sizeof(float));
    if (bias && node->n_bias) memcpy(bias, p + node->n_weights, node->n_bias * sizeof(float));
    return NNP_OK;
}

static nnp_status check_finite(const float *v, size_t n, size_t layer, const char *what)
{
    const size_t i = nnpi_first_nonfinite(v, n); /* the library's one finiteness scan */
    if (i == n) return NNP_OK;
    return nnpi_error(NNP_EINVAL, "nnp_net_set_params: layer %zu: %s[%zu] is not finite", layer,
                      what, i);
}

NNP_API nnp_status nnp_net_set_params(nnp_net *net, size_t layer, const float *weights,
                                      const float *bias)
{
    NNPI_TRY(nnpi_check_layer(net, layer, __func__));
    const nnpi_node *node = &net->nodes[layer];
    if (weights) NNPI_TRY(check_finite(weights, node->n_weights, layer, "weights"));
    if (bias) NNPI_TRY(check_finite(bias, node->n_bias, layer, "bias"));
    float *p = net->params ? net->params + node->param_offset : NULL; /* NULL + 0 is UB */
    if (weights && node->n_weights) memcpy(p, weights, node->n_weights * sizeof(float));
    if (bias && node->n_bias) memcpy(p + node->n_weights, bias, node->n_bias * sizeof(float));
    return NNP_OK;
}
