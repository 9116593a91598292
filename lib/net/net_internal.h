/* Internal representation of a network: a DAG of nodes in topological order, each node's
 * behaviour given by a table of operations for its kind. Shared by lib/net, the probes (lib/grad, lib/attack, lib/lipschitz, lib/maxact) and
 * lib/train; not part of the public API. */
#ifndef NNP_NET_INTERNAL_H
#define NNP_NET_INTERNAL_H

#include <stddef.h>

#include "core/core.h"
#include "nnprobe/net.h"

typedef struct nnpi_node nnpi_node;

/* What a layer kind does. A pass over a batch of n examples sees each input as an n×in_size
 * matrix and writes an n×out_size matrix. Backward functions receive the gradient of the
 * output (dout) and either overwrite (accumulate[k] = 0) or add to (accumulate[k] = 1) the
 * gradient of input k, so a node consumed by several others sums their contributions. */
typedef struct nnpi_layer_ops {
    nnp_layer_kind kind;
    const char *name;
    /* out = f(in); params points at the node's weights followed by its biases */
    void (*forward)(const nnpi_node *node, const float *params, const float *const *in,
                    float *out, size_t n, float *scratch);
    /* din[k] (+)= (d out / d in[k])ᵀ dout, for every input k; NULL for the input layer */
    void (*backward_input)(const nnpi_node *node, const float *params, const float *const *in,
                           const float *out, const float *dout, float *const *din, size_t n,
                           const unsigned char *accumulate, float *scratch);
    /* dparams += (d out / d params)ᵀ dout summed over the batch; NULL if no parameters.
     * params as in forward (batch norm's scale gradient needs its mean and var) */
    void (*backward_params)(const nnpi_node *node, const float *params, const float *const *in,
                            const float *dout, float *dparams, size_t n, float *scratch);
    /* floats of scratch memory any of the three needs for a batch of n (the workspace holds
     * one scratch buffer shared by all nodes, since they run one after another); NULL = 0 */
    size_t (*scratch_floats)(const nnpi_node *node, size_t n);
} nnpi_layer_ops;

/* Attributes of the layer kinds that have them. */
typedef struct nnpi_conv_attrs {
    size_t kh, kw, sh, sw;    /* kernel and stride */
    size_t pt, pl, pb, pr;    /* zero padding: top, left, bottom, right */
    size_t dh, dw;            /* dilation */
    size_t groups;
    int bias;
} nnpi_conv_attrs;

typedef struct nnpi_pool_attrs {
    size_t kh, kw, sh, sw, pt, pl, pb, pr;
    int count_include_pad;    /* average pooling: divide by the full window, padding included */
} nnpi_pool_attrs;

typedef struct nnpi_norm_attrs {
    size_t size;              /* LRN: channels in the window */
    float alpha, beta, k;     /* LRN */
    float eps, gamma;         /* contrast normalisation; batch norm uses eps */
} nnpi_norm_attrs;

struct nnpi_node {
    const nnpi_layer_ops *ops;
    size_t n_inputs;
    size_t inputs[NNP_MAX_LAYER_INPUTS];
    size_t c, h, w;       /* output shape */
    size_t out_size;      /* c*h*w */
    size_t in_size;       /* floats per example of the first input (dense fan-in) */
    size_t in_c, in_h, in_w; /* shape of the first input */
    union {
        nnpi_conv_attrs conv;
        nnpi_pool_attrs pool;
        nnpi_norm_attrs norm;
        float dropout_ratio;
        float leaky_alpha;    /* leaky ReLU: slope for negative inputs */
    } attr;
    size_t param_offset;  /* into nnp_net.params */
    size_t n_weights, n_bias;
};

struct nnp_net {
    nnpi_node *nodes;
    size_t n_nodes, cap_nodes;
    float *params;        /* all parameters, node after node: weights then biases */
    size_t n_params;
    size_t attach;        /* node the next sequential layer takes as input */
};

/* Scratch for passes: one activation and one gradient buffer per node, plus per-pass flags.
 * Capacity grows on demand; a fixed-shape loop allocates only on its first call. */
struct nnp_workspace {
    const nnp_net *net;
    size_t n_nodes;       /* net->n_nodes when the buffers were sized */
    size_t cap;           /* examples the buffers hold */
    float **act;          /* act[i]: cap × out_size(i); act[0] unused (input read in place) */
    float **grad;         /* grad[i]: cap × out_size(i) */
    unsigned char *grad_set; /* grad[i] written in the current backward pass */
    float *scratch;       /* max over nodes of scratch_floats(node, cap), shared by all nodes */
};

extern const nnpi_layer_ops nnpi_input_ops;
extern const nnpi_layer_ops nnpi_dense_ops;
extern const nnpi_layer_ops nnpi_conv2d_ops, nnpi_maxpool_ops, nnpi_avgpool_ops,
    nnpi_global_avgpool_ops, nnpi_lrn_ops, nnpi_contrast_norm_ops, nnpi_batchnorm_ops,
    nnpi_dropout_ops, nnpi_flatten_ops, nnpi_add_ops;
extern const nnpi_layer_ops nnpi_relu_ops, nnpi_sigmoid_ops, nnpi_tanh_ops, nnpi_softplus_ops,
    nnpi_leaky_relu_ops;

/* NNPI_SIMD_CLONES (AVX2/AVX-512 clones of hot loops) lives in core/core.h. */

/* Appends a node built from `proto` (ops, inputs, shapes, attributes, n_weights, n_bias; the
 * rest is filled here), giving it zeroed parameters; the next sequential layer then attaches
 * to it. Checks the inputs exist. Returns its index in *index. */
nnp_status nnpi_net_append(nnp_net *net, const nnpi_node *proto, size_t *index);

/* Prototype of a node taking `input` as its only input: inputs, in_* shape fields and, as a
 * default, output shape = input shape. */
nnpi_node nnpi_node_on(const nnp_net *net, size_t input, const nnpi_layer_ops *ops);

/* The ops table of an activation kind, or NULL if `kind` is not an element-wise activation. */
const nnpi_layer_ops *nnpi_activation_ops(nnp_layer_kind kind);

/* Checks `ws` belongs to `net` (or makes a private one when ws is NULL: *owned is then set and
 * must be freed by the caller) and that it holds n examples. */
nnp_status nnpi_workspace_prepare(const nnp_net *net, nnp_workspace *ws, size_t n,
                                  nnp_workspace **use, nnp_workspace **owned);

/* Output of node i for the current pass (the caller's x for the input node). */
const float *nnpi_node_output(const nnp_workspace *ws, const float *x, size_t i);

/* Forward pass of nodes 1..last on n examples (x: n × input size). */
void nnpi_forward(const nnp_net *net, nnp_workspace *ws, const float *x, size_t n, size_t last);

/* Backward pass from node `last`, whose output gradient the caller has written into
 * ws->grad[last] (and set ws->grad_set[last]). Gradients reach every ancestor; the input
 * gradient lands in dx (n × input size), or is not computed when dx is NULL. If dparams is not
 * NULL, parameter gradients of nodes with index ≥ first_param_node are added to it (laid out
 * as net->params). Call nnpi_backward_begin() before seeding. */
void nnpi_backward_begin(nnp_workspace *ws);
void nnpi_backward(const nnp_net *net, nnp_workspace *ws, const float *x, size_t n, size_t last,
                   float *dx, float *dparams, size_t first_param_node);

/* Whether a node's weights are a linear map (dense, convolution): the layers that get random
 * initial weights and weight decay (batch norm's scale and statistics get neither). */
int nnpi_node_is_linear(const nnpi_node *node);

/* Validation shared by the public entry points. */
nnp_status nnpi_check_layer(const nnp_net *net, size_t layer, const char *func);

#endif
