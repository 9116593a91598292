/* Internal representation of a network: a DAG of nodes in topological order, each node's
 * behaviour given by a table of operations for its kind. Shared by lib/net, the probes (lib/grad, lib/attack, lib/lipschitz, lib/maxact) and
 * lib/train; not part of the public API. */
#ifndef NNP_NET_INTERNAL_H
#define NNP_NET_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "nnprobe/net.h"

typedef struct nnpi_node nnpi_node;

/* Forward declaration (core/spectral.h defines it): progress of a part of a computation. */
typedef struct nnpi_progress_span nnpi_progress_span;

/* What lib/lipschitz asks a kind's Lipschitz rule (ops.lip_bound, ops.lip_bound_units). */
typedef struct nnpi_lip_query {
    const char *func;         /* the public entry point, for messages */
    size_t index;             /* the node's index, for messages */
    size_t grid_h, grid_w;    /* nnp_lipschitz_opts.fourier_grid_*: 0 = the layer's default */
    int paper_bound;          /* 0: the caller wants no costly bound (a conv then gives only
                               * its strides and, if want_start, a cheaper start vector) */
    int want_start;           /* the exact norm will be computed: give a Lanczos start vector
                               * if the kind has a good one */
    const nnpi_progress_span *progress; /* for a bound that reports progress, or NULL */
} nnpi_lip_query;

/* What a kind's Lipschitz rule gives (copied into nnp_lipschitz_info by lib/lipschitz; the
 * caller sets bound = NaN, strides 1, the rest 0 before the call). */
typedef struct nnpi_lip_rule {
    double bound;             /* the paper's upper bound of the layer (§4.3); NaN: not computed */
    size_t stride_h, stride_w, grid_h, grid_w, overlap; /* as in nnp_lipschitz_info */
    uint64_t units;           /* progress units the bound used (ops.lip_bound_units) */
    double *start;            /* nnpi_malloc'd Lanczos start vector of in_size doubles, or NULL */
} nnpi_lip_rule;

/* Properties of a kind for the Lipschitz module (ops.lip_flags). */
enum {
    /* linear up to an offset that zero_offset removes: the exact operator norm is computed by
     * Lanczos on AᵀA with A = forward and Aᵀ = backward_input, matrix-free (bounds.c) */
    NNPI_LIP_LINEAR = 1u << 0,
    /* the identity on values (input, flatten, dropout at inference): exact norm 1 */
    NNPI_LIP_IDENTITY = 1u << 1,
    /* the paper's bound is the exact norm itself (dense: ‖W‖₂), so lib/lipschitz fills it from
     * the Lanczos value, computed even when opts.exact = 0; lip_bound may then be NULL */
    NNPI_LIP_BOUND_IS_NORM = 1u << 2,
    /* backward_input reads neither `in` nor `out`, so Lanczos may run on AAᵀ, the shorter
     * side, when out_size < in_size (only when no start vector is given) */
    NNPI_LIP_GRAM_OUTPUT_SIDE = 1u << 3,
    /* the output is the sum of the inputs: along the net, the bound of the map input → this
     * node is the sum of its inputs' (triangle inequality), not a product */
    NNPI_LIP_SUM_INPUTS = 1u << 4
};

/* What a layer kind does. A pass over a batch of n examples sees each input as an n×in_size
 * matrix and writes an n×out_size matrix. Backward functions receive the gradient of the
 * output (dout) and either overwrite (accumulate[k] = 0) or add to (accumulate[k] = 1) the
 * gradient of input k, so a node consumed by several others sums their contributions.
 *
 * Besides its passes, a kind carries what the probes need to know about it, so that adding a
 * kind touches lib/net (and one ONNX table in lib/io) only: its Lipschitz rule (Szegedy et al.
 * 2013, §4.3; docs/paper.md §6), read by lib/lipschitz/bounds.c, and its Jacobian–vector
 * product, read by the empirical lower bound (lib/lipschitz/lower.c). A NULL entry means the
 * kind has no such rule, and the probe refuses the net (NNP_EUNSUPPORTED) rather than guess. */
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
    /* floats of scratch memory any of the passes (jvp included) needs for a batch of n (the
     * workspace holds one scratch buffer shared by all nodes, since they run one after
     * another); NULL = 0 */
    size_t (*scratch_floats)(const nnpi_node *node, size_t n);

    /* ---- Lipschitz rule ---- */
    unsigned lip_flags;       /* NNPI_LIP_* */
    /* The paper's upper bound of the layer's Lipschitz constant into r->bound (and the strides,
     * Fourier grid, overlap it used); with q->want_start, optionally r->start. params as in
     * forward (the real ones, offsets included). NULL: no rule, unless NNPI_LIP_BOUND_IS_NORM */
    nnp_status (*lip_bound)(const nnpi_node *node, const float *params, const nnpi_lip_query *q,
                            nnpi_lip_rule *r);
    /* progress units lip_bound will report under q (its r->units); also checks q against the
     * node (a conv's Fourier grid must be a multiple of its stride). NULL: 0 units */
    nnp_status (*lip_bound_units)(const nnpi_node *node, const nnpi_lip_query *q,
                                  uint64_t *units);
    /* Zeroes, in a copy of the node's parameters, the affine offset (biases, batch norm's
     * mean), so that forward computes the linear part: the exact norm and the JVP of linear
     * kinds run forward on these. NULL: no offset. */
    void (*zero_offset)(const nnpi_node *node, float *params);

    /* ---- Jacobian–vector product (forward mode) ---- */
    /* tout = J(in)·tin, J the Jacobian of the layer at the pass's inputs `in` (output `out`),
     * tin the tangents of the inputs. params: the real parameters; lin_params: the same with
     * zero_offset applied. Must be exactly the transpose of backward_input (same tie rules),
     * which power iteration on JᵀJ needs (lower.c). NULL: no tangent rule. Shared rules:
     * nnpi_jvp_by_forward (linear kinds), nnpi_jvp_by_backward (symmetric Jacobians). */
    void (*jvp)(const nnpi_node *node, const float *params, const float *lin_params,
                const float *const *in, const float *out, const float *const *tin, float *tout,
                size_t n, float *scratch);

    /* ---- Training mode (nnp_train_opts.dropout) ---- */
    /* Draws the node's training-time output mask for n examples into mask (n × out_size),
     * from rng. In a workspace in training mode (nnpi_workspace_set_train, used by nnp_train
     * only) the passes multiply the node's output by its mask after forward, and its output
     * gradient by the same mask before the backward functions: the node computes
     * mask ⊙ forward(in). So backward_input of such a kind must not read `out` (it is the
     * masked output). NULL: the kind computes the same in training as at inference. */
    void (*train_mask)(const nnpi_node *node, float *mask, size_t n, nnpi_rng *rng);
} nnpi_layer_ops;

/* Shared pieces of ops entries (ops_common.c). */
/* jvp of a linear kind: its own forward pass with the offsets removed (lin_params). */
void nnpi_jvp_by_forward(const nnpi_node *node, const float *params, const float *lin_params,
                         const float *const *in, const float *out, const float *const *tin,
                         float *tout, size_t n, float *scratch);
/* jvp of a one-input kind whose Jacobian is symmetric (element-wise activations, contrast
 * normalisation): J t = Jᵀ t, its own backward_input pass on the tangent. */
void nnpi_jvp_by_backward(const nnpi_node *node, const float *params, const float *lin_params,
                          const float *const *in, const float *out, const float *const *tin,
                          float *tout, size_t n, float *scratch);
/* lip_bound of 1-Lipschitz kinds (identity, ReLU, tanh, softplus: slopes in [0, 1]). */
nnp_status nnpi_lip_bound_one(const nnpi_node *node, const float *params,
                              const nnpi_lip_query *q, nnpi_lip_rule *r);
/* zero_offset of kinds laid out as weights then n_bias biases (dense, conv). */
void nnpi_zero_bias(const nnpi_node *node, float *params);

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
    int ceil_mode;            /* output sizes rounded up; windows clipped to the padded input */
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
        struct {
            float lo, hi;     /* clip: bounds, possibly infinite */
        } clip;
        struct {
            float alpha, beta; /* hard sigmoid: max(0, min(1, alpha·x + beta)) */
        } hard;
        struct {
            size_t pt, pl, pb, pr; /* zero padding: top, left, bottom, right */
        } pad;
    } attr;
    size_t param_offset;  /* into nnp_net.params */
    size_t n_weights, n_bias;
};

struct nnp_net {
    nnpi_node *nodes;
    size_t n_nodes, cap_nodes;
    float *params;        /* all parameters, node after node: weights then biases */
    size_t n_params;
    size_t cap_params;    /* floats allocated at params (≥ n_params; nnpi_net_reserve_params) */
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
    /* The caller's index of row 0 of the next batches, or NNPI_UNNUMBERED, only for the
     * messages of nnpi_check_output() in passes that do not know it themselves (the attacks'
     * groups); 0 from nnp_workspace_create. */
    size_t first_example;
    float *scratch;       /* max over nodes of scratch_floats(node, cap), shared by all nodes */
    /* Training mode (nnpi_workspace_set_train): mask[i] is cap × out_size(i) floats for the
     * nodes whose kind has ops.train_mask, NULL for the others; mask itself is NULL when the
     * workspace is not in training mode, which is always the case outside nnp_train (its
     * workspace is private), so queries never see a mask. */
    int train;
    float **mask;
};

extern const nnpi_layer_ops nnpi_input_ops;
extern const nnpi_layer_ops nnpi_dense_ops;
extern const nnpi_layer_ops nnpi_conv2d_ops, nnpi_maxpool_ops, nnpi_avgpool_ops,
    nnpi_global_avgpool_ops, nnpi_lrn_ops, nnpi_contrast_norm_ops, nnpi_batchnorm_ops,
    nnpi_dropout_ops, nnpi_flatten_ops, nnpi_add_ops;
extern const nnpi_layer_ops nnpi_relu_ops, nnpi_sigmoid_ops, nnpi_tanh_ops, nnpi_softplus_ops,
    nnpi_leaky_relu_ops, nnpi_clip_ops, nnpi_hard_sigmoid_ops, nnpi_hard_swish_ops;
extern const nnpi_layer_ops nnpi_pad_ops;

/* NNPI_SIMD_CLONES (AVX2/AVX-512 clones of hot loops) lives in core/core.h. */

/* Appends a node built from `proto` (ops, inputs, shapes, attributes, n_weights, n_bias; the
 * rest is filled here), giving it zeroed parameters; the next sequential layer then attaches
 * to it. Checks the inputs exist. Returns its index in *index. */
nnp_status nnpi_net_append(nnp_net *net, const nnpi_node *proto, size_t *index);

/* Makes room for `total` parameters in all, so that appending layers up to that count never
 * moves (copies) the parameter vector: a loader that knows the model's size calls it once
 * before adding layers (lib/io/onnx_load.c), then nnpi_net_trim_params() at the end. The
 * reserved floats are not touched, so they cost no resident memory until used. */
nnp_status nnpi_net_reserve_params(nnp_net *net, size_t total);

/* Gives back the part of the parameter vector reserved beyond n_params. Cannot fail: when the
 * allocator will not shrink the block, the block stays as it is. */
void nnpi_net_trim_params(nnp_net *net);

/* The writable parameters of `layer` (its weights, then its biases), for a loader decoding
 * them in place; NULL when the layer has none. Valid until the next layer is appended. */
float *nnpi_net_layer_params(nnp_net *net, size_t layer);

/* Prototype of a node taking `input` as its only input: inputs, in_* shape fields and, as a
 * default, output shape = input shape. */
nnpi_node nnpi_node_on(const nnp_net *net, size_t input, const nnpi_layer_ops *ops);

/* The ops table of an activation kind, or NULL if `kind` is not an element-wise activation. */
const nnpi_layer_ops *nnpi_activation_ops(nnp_layer_kind kind);

/* Checks `ws` belongs to `net` (or makes a private one when ws is NULL: *owned is then set and
 * must be freed by the caller) and that it holds n examples. */
nnp_status nnpi_workspace_prepare(const nnp_net *net, nnp_workspace *ws, size_t n,
                                  nnp_workspace **use, nnp_workspace **owned);

/* Puts `ws` in training mode: allocates a mask for each node whose kind has ops.train_mask
 * (kept across resizes). The masks must be drawn (nnpi_workspace_draw_masks) before the next
 * pass. NNP_ENOMEM leaves the workspace as it was. */
nnp_status nnpi_workspace_set_train(nnp_workspace *ws);

/* Draws the masks of a workspace in training mode for a batch of n ≤ cap examples; they stay
 * in force for every pass until the next draw. */
void nnpi_workspace_draw_masks(nnp_workspace *ws, size_t n, nnpi_rng *rng);

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
/* After nnpi_forward(net, ws, x, n, last ≥ layer): NNP_OK when the output of `layer` is finite
 * for all n examples, else NNP_ENUMERIC naming the example (first + its row, or the row of an
 * internal batch when first is NNPI_UNNUMBERED), the value, and the first layer whose output
 * for that example is not finite. The normal path is one scan of the layer's output; the
 * other layers are scanned only on the error path. Every probe calls it on each batch, so a
 * NaN or infinite result is never returned, or classified, as if it were a number. */
#define NNPI_UNNUMBERED SIZE_MAX
nnp_status nnpi_check_output(const nnp_net *net, const nnp_workspace *ws, const float *x,
                              size_t n, size_t layer, size_t first, const char *func);

nnp_status nnpi_check_layer(const nnp_net *net, size_t layer, const char *func);

#endif
