/**
 * @file net.h
 * @brief The network handle: building, parameters, layer queries, batched forward passes.
 *
 * A network is a directed acyclic graph of layers kept in topological order. Layer 0 is the
 * input (shape C×H×W, no parameters); every other layer names its input layers, and the last
 * layer's output are the logits (the net never applies softmax itself; losses do). Sequential
 * builders (nnp_net_add_dense(), nnp_net_add_activation()) attach to the previous layer.
 *
 * Tensors are `float`, batch-major: a batch of n inputs is n×(C·H·W) floats, example after
 * example, each in C,H,W order (NCHW).
 *
 * @par Thread safety
 * Functions taking `const nnp_net *` only read the net: any number of threads may call them at
 * once on one net, provided each thread uses its own ::nnp_workspace (or passes NULL). Functions
 * taking `nnp_net *` modify it and must not run concurrently with anything else on that net.
 */
#ifndef NNPROBE_NET_H
#define NNPROBE_NET_H

#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/** @brief Opaque network handle. Create with nnp_net_create(), free with nnp_net_free(). */
typedef struct nnp_net nnp_net;

/**
 * @brief Opaque scratch memory for passes over one net (activations, gradients).
 *
 * Owned by one thread at a time. Reusing it across calls avoids all allocation once it has
 * grown to the largest batch used. Create with nnp_workspace_create(), free with
 * nnp_workspace_free().
 */
typedef struct nnp_workspace nnp_workspace;

/** @brief Kinds of layer. Values are pinned; new kinds are appended. */
typedef enum nnp_layer_kind {
    NNP_LAYER_INPUT = 0,    /**< the network input (layer 0 only) */
    NNP_LAYER_DENSE = 1,    /**< y = W x + b, W is units × inputs (row-major), b has units entries */
    NNP_LAYER_RELU = 2,     /**< y = max(0, x) */
    NNP_LAYER_SIGMOID = 3,  /**< y = 1 / (1 + exp(-x)) */
    NNP_LAYER_TANH = 4,     /**< y = tanh(x) */
    NNP_LAYER_SOFTPLUS = 5, /**< y = log(1 + exp(x)) */
    NNP_LAYER_CONV2D = 6,   /**< 2-D convolution (cross-correlation), see nnp_net_add_conv2d() */
    NNP_LAYER_MAXPOOL = 7,  /**< 2-D max pooling, see nnp_net_add_maxpool2d() */
    NNP_LAYER_AVGPOOL = 8,  /**< 2-D average pooling, see nnp_net_add_avgpool2d() */
    NNP_LAYER_GLOBAL_AVGPOOL = 9, /**< mean over H×W per channel, output C×1×1 */
    NNP_LAYER_LRN = 10,     /**< across-channel local response normalisation (AlexNet) */
    NNP_LAYER_CONTRAST_NORM = 11, /**< φ(x) = x / (ε + ‖x‖²)^γ per example (the paper's §4.3) */
    NNP_LAYER_BATCHNORM = 12, /**< inference batch normalisation: per-channel affine map */
    NNP_LAYER_DROPOUT = 13, /**< identity (inference), kept for the layer table */
    NNP_LAYER_FLATTEN = 14, /**< C×H×W to (C·H·W)×1×1, values unchanged */
    NNP_LAYER_ADD = 15,     /**< element-wise sum of two layers of equal shape (residuals) */
    NNP_LAYER_LEAKY_RELU = 16, /**< y = x for x > 0, α·x otherwise; see nnp_net_add_leaky_relu() */
    NNP_LAYER_CLIP = 17,    /**< y = min(max(x, lo), hi) (ReLU6: lo 0, hi 6); see nnp_net_add_clip() */
    NNP_LAYER_HARD_SIGMOID = 18, /**< y = max(0, min(1, α·x + β)); see nnp_net_add_hard_sigmoid() */
    NNP_LAYER_HARD_SWISH = 19, /**< y = x · max(0, min(1, x/6 + 1/2)) (ONNX HardSwish) */
    NNP_LAYER_PAD = 20      /**< zero padding of the spatial axes; see nnp_net_add_pad() */
} nnp_layer_kind;

/** @brief Largest number of inputs any layer kind takes (for nnp_layer_info::inputs). */
#define NNP_MAX_LAYER_INPUTS 4

/**
 * @brief Description of one layer, filled by nnp_net_layer_info().
 *
 * Set `size = sizeof(nnp_layer_info)` before the call; fields beyond `size` are not written,
 * so older callers keep working when fields are appended.
 */
typedef struct nnp_layer_info {
    size_t size;            /**< set by the caller to sizeof(nnp_layer_info) */
    nnp_layer_kind kind;    /**< layer kind */
    size_t n_inputs;        /**< number of input layers (0 for the input layer) */
    size_t inputs[NNP_MAX_LAYER_INPUTS]; /**< indices of the input layers (all < this layer) */
    size_t channels;        /**< output shape: channels (dense layers: units) */
    size_t height;          /**< output shape: height (1 for dense outputs) */
    size_t width;           /**< output shape: width (1 for dense outputs) */
    size_t output_size;     /**< channels × height × width: floats per example */
    size_t weight_count;    /**< number of weights (0 for parameter-free layers) */
    size_t bias_count;      /**< number of biases (0 for parameter-free layers) */
    /* Attributes (fields from here on are filled only for callers whose `size` covers them) */
    size_t kernel_h;        /**< convolution and pooling: window height (0 for other kinds) */
    size_t kernel_w;        /**< convolution and pooling: window width (0 for other kinds) */
    size_t stride_h;        /**< convolution and pooling: vertical stride (0 for other kinds) */
    size_t stride_w;        /**< convolution and pooling: horizontal stride (0 for other kinds) */
    size_t pad_top;         /**< convolution and pooling: zero padding above (0 otherwise) */
    size_t pad_left;        /**< ... left of the input */
    size_t pad_bottom;      /**< ... below the input */
    size_t pad_right;       /**< ... right of the input */
    size_t dilation_h;      /**< convolution: vertical dilation (1 for pooling, 0 otherwise) */
    size_t dilation_w;      /**< convolution: horizontal dilation (1 for pooling, 0 otherwise) */
    size_t groups;          /**< convolution: groups (0 for other kinds) */
    double alpha;           /**< leaky ReLU: slope for negative inputs; hard sigmoid: α
                                 (0 for other kinds) */
    double beta;            /**< hard sigmoid: β (0 for other kinds) */
    double clip_min;        /**< clip: lower bound, may be −∞ (0 for other kinds) */
    double clip_max;        /**< clip: upper bound, may be +∞ (0 for other kinds) */
    int ceil_mode;          /**< pooling: 1 if output sizes round up (0 otherwise) */
} nnp_layer_info;

/** @brief Number of ::nnp_layer_kind values (one past the largest), for FFI callers.
 *  @since 0.2.0 */
NNP_API int nnp_layer_kind_count(void);

/**
 * @brief Short lower-case name of a layer kind ("input", "dense", "relu", ...).
 * @param[in] kind any value; unknown values give "unknown".
 * @par Ownership
 * Static storage; never free it.
 * @par Thread safety
 * Safe from any thread.
 * @since 0.2.0
 */
NNP_API const char *nnp_layer_kind_name(nnp_layer_kind kind);

/**
 * @brief Creates an empty network whose input is one C×H×W image per example.
 * @param[in]  channels, height, width  input shape; each ≥ 1, product ≤ 2^28.
 * @param[out] out  receives the handle; set to NULL on failure.
 * @retval NNP_OK success
 * @retval NNP_EINVAL `out` is NULL or a dimension is 0 or too large
 * @retval NNP_ENOMEM out of memory
 * @par Ownership The caller frees the handle with nnp_net_free().
 * @since 0.2.0
 */
NNP_API NNP_NODISCARD nnp_status nnp_net_create(size_t channels, size_t height, size_t width,
                                                nnp_net **out);

/**
 * @brief Frees a network. NULL is a no-op.
 * @par Thread safety No other call may use the net at the same time.
 * @since 0.2.0
 */
NNP_API void nnp_net_free(nnp_net *net);

/**
 * @brief Deep copy of a network (structure and parameters).
 * @param[in]  net  network to copy
 * @param[out] out  receives the copy (NULL on failure); free with nnp_net_free().
 * @retval NNP_EINVAL NULL argument @retval NNP_ENOMEM out of memory
 * @par Thread safety Reads `net` only.
 * @since 0.2.0
 */
NNP_API NNP_NODISCARD nnp_status nnp_net_clone(const nnp_net *net, nnp_net **out);

/**
 * @brief Appends a dense (fully connected) layer on top of the last layer.
 *
 * The last layer's output (of any shape) is flattened to its C·H·W values. Parameters start
 * at zero; call nnp_net_init_params() or nnp_net_set_params().
 * @param[in]  net    network
 * @param[in]  units  number of outputs, 1 … 2^24
 * @param[out] layer  if not NULL, receives the new layer's index
 * @retval NNP_EINVAL NULL net or units out of range @retval NNP_ENOMEM out of memory
 * @since 0.2.0
 */
NNP_API NNP_NODISCARD nnp_status nnp_net_add_dense(nnp_net *net, size_t units, size_t *layer);

/**
 * @brief Appends an element-wise activation (ReLU, sigmoid, tanh, softplus, leaky ReLU, hard
 * sigmoid or hard swish) on top of the last layer; its output has the same shape.
 * @param[in]  net    network
 * @param[in]  kind   ::NNP_LAYER_RELU, ::NNP_LAYER_SIGMOID, ::NNP_LAYER_TANH, ::NNP_LAYER_SOFTPLUS,
 *                    ::NNP_LAYER_LEAKY_RELU (with α = 0.01, PyTorch's and ONNX's default;
 *                    nnp_net_add_leaky_relu() takes any α), ::NNP_LAYER_HARD_SIGMOID (with
 *                    ONNX's α = 0.2, β = 0.5; nnp_net_add_hard_sigmoid() takes any) or
 *                    ::NNP_LAYER_HARD_SWISH. ::NNP_LAYER_CLIP needs its bounds:
 *                    nnp_net_add_clip().
 * @param[out] layer  if not NULL, receives the new layer's index
 * @retval NNP_EINVAL NULL net or `kind` not an activation @retval NNP_ENOMEM out of memory
 * @since 0.2.0
 */
NNP_API NNP_NODISCARD nnp_status nnp_net_add_activation(nnp_net *net, nnp_layer_kind kind,
                                                        size_t *layer);

/**
 * @brief Appends a leaky ReLU, y = x for x > 0 and y = α·x otherwise (PyTorch's LeakyReLU,
 * ONNX's LeakyRelu), on top of the last layer; its output has the same shape.
 *
 * The derivative at x = 0 is taken as α (the left one), as PyTorch does.
 * @param[in]  net    network
 * @param[in]  alpha  slope for negative inputs, finite (any sign; 0 gives a ReLU)
 * @param[out] layer  if not NULL, receives the new layer's index
 * @retval NNP_EINVAL NULL net, α not finite @retval NNP_ENOMEM out of memory
 * @since 0.2.0
 */
NNP_API NNP_NODISCARD nnp_status nnp_net_add_leaky_relu(nnp_net *net, double alpha,
                                                        size_t *layer);

/**
 * @brief Appends y = min(max(x, lo), hi) element-wise (ONNX Clip; ReLU6 is lo = 0, hi = 6) on
 * top of the last layer; its output has the same shape.
 *
 * The derivative is 1 strictly inside (lo, hi) and 0 elsewhere, the bounds included, as
 * PyTorch's hardtanh/ReLU6 (and this library's ReLU at 0). A NaN input stays NaN. Lipschitz
 * constant 1.
 * @param[in]  net    network
 * @param[in]  lo     lower bound, −∞ (no bound) or finite
 * @param[in]  hi     upper bound, +∞ (no bound) or finite, ≥ lo
 * @param[out] layer  if not NULL, receives the new layer's index
 * @retval NNP_EINVAL NULL net, a NaN bound, lo = +∞, hi = −∞, lo > hi, or a finite bound
 *         beyond the float range
 * @retval NNP_ENOMEM out of memory
 * @since 0.2.0
 */
NNP_API NNP_NODISCARD nnp_status nnp_net_add_clip(nnp_net *net, double lo, double hi,
                                                  size_t *layer);

/**
 * @brief Appends the hard sigmoid y = max(0, min(1, α·x + β)) element-wise (ONNX HardSigmoid;
 * PyTorch's Hardsigmoid is α = 1/6, β = 1/2) on top of the last layer.
 *
 * The derivative is α where 0 < α·x + β < 1 and 0 elsewhere (PyTorch's rule). Lipschitz
 * constant |α|. ::NNP_LAYER_HARD_SIGMOID through nnp_net_add_activation() takes ONNX's
 * defaults α = 0.2, β = 0.5.
 * @param[in]  net    network
 * @param[in]  alpha  slope α, finite (any sign)
 * @param[in]  beta   offset β, finite
 * @param[out] layer  if not NULL, receives the new layer's index
 * @retval NNP_EINVAL NULL net, α or β not finite @retval NNP_ENOMEM out of memory
 * @since 0.2.0
 */
NNP_API NNP_NODISCARD nnp_status nnp_net_add_hard_sigmoid(nnp_net *net, double alpha,
                                                          double beta, size_t *layer);

/**
 * @brief Appends zero padding of the spatial axes (ONNX Pad, mode "constant", value 0):
 * C×H×W to C×(top+H+bottom)×(left+W+right), the input in the middle. No parameters; linear,
 * with operator norm 1.
 * @param[in]  net    network
 * @param[in]  top, left, bottom, right  rows/columns of zeros, each ≤ 2^20
 * @param[out] layer  if not NULL, receives the new layer's index
 * @retval NNP_EINVAL NULL net, a pad out of range, or an output of more than 2^28 values
 * @retval NNP_ENOMEM out of memory
 * @since 0.2.0
 */
NNP_API NNP_NODISCARD nnp_status nnp_net_add_pad(nnp_net *net, size_t top, size_t left,
                                                 size_t bottom, size_t right, size_t *layer);

/**
 * @brief Makes the next sequentially added layer take `layer` as its input (instead of the
 * last layer added), to build branches such as a residual block's shortcut. Applies to one
 * layer: after it, layers attach to the last one again.
 * @retval NNP_EINVAL NULL net or layer out of range
 * @since 0.2.0
 */
NNP_API NNP_NODISCARD nnp_status nnp_net_branch_from(nnp_net *net, size_t layer);

/**
 * @brief Options of a 2-D convolution layer. Fill with nnp_net_conv2d_opts_init(&o), then set
 * at least `out_channels` and the kernel size.
 *
 * Output size per spatial axis: floor((in + pad_before + pad_after − dilation·(k−1) − 1) /
 * stride) + 1, which must be ≥ 1. Weights are out_channels × (in_channels/groups) × kernel_h ×
 * kernel_w (PyTorch's and ONNX's layout); biases one per output channel.
 */
typedef struct nnp_net_conv2d_opts {
    size_t size;            /**< sizeof(nnp_net_conv2d_opts), set by nnp_net_conv2d_opts_init() */
    size_t out_channels;    /**< output channels, ≥ 1, a multiple of groups (default 0: must be set) */
    size_t kernel_h;        /**< kernel height ≥ 1 (default 3) */
    size_t kernel_w;        /**< kernel width ≥ 1 (default 3) */
    size_t stride_h;        /**< vertical stride ≥ 1 (default 1) */
    size_t stride_w;        /**< horizontal stride ≥ 1 (default 1) */
    size_t pad_top;         /**< zero rows above (default 0) */
    size_t pad_left;        /**< zero columns left (default 0) */
    size_t pad_bottom;      /**< zero rows below (default 0) */
    size_t pad_right;       /**< zero columns right (default 0) */
    size_t dilation_h;      /**< vertical dilation ≥ 1 (default 1) */
    size_t dilation_w;      /**< horizontal dilation ≥ 1 (default 1) */
    size_t groups;          /**< groups ≥ 1 dividing in and out channels; = in channels for
                                 depthwise (default 1) */
    int bias;               /**< non-zero: one bias per output channel (default 1) */
} nnp_net_conv2d_opts;

/**
 * @brief Fills the caller's `size` bytes of `opts` with the defaults of ::nnp_net_conv2d_opts
 * (see "Conventions" in nnprobe.h for why the size is passed).
 * @retval NNP_EINVAL `opts` is NULL or size < sizeof(size_t)
 * @since 0.2.0
 */
NNP_API NNP_NODISCARD nnp_status nnp_net_conv2d_opts_init_sized(nnp_net_conv2d_opts *opts,
                                                          size_t size);
/** @brief nnp_net_conv2d_opts_init_sized() with the size of the caller's struct. */
#define nnp_net_conv2d_opts_init(opts) nnp_net_conv2d_opts_init_sized((opts), sizeof *(opts))

/**
 * @brief Appends a 2-D convolution (NCHW, zero padding) on the last layer (or the one named
 * by nnp_net_branch_from()). Parameters start at zero.
 * @param[in]  net    network
 * @param[in]  opts   options (not NULL: out_channels has no default)
 * @param[out] layer  if not NULL, receives the new layer's index
 * @retval NNP_EINVAL NULL net/opts, a field out of range (the message names it), or an output
 *         size below 1
 * @retval NNP_EVERSION opts->size too large with non-zero extra bytes
 * @retval NNP_ENOMEM out of memory
 * @since 0.2.0
 */
NNP_API NNP_NODISCARD nnp_status nnp_net_add_conv2d(nnp_net *net, const nnp_net_conv2d_opts *opts,
                                                    size_t *layer);

/**
 * @brief Options of 2-D max and average pooling. Fill with nnp_net_pool2d_opts_init(&o).
 *
 * Semantics are ONNX's MaxPool and AveragePool. Output size per spatial axis:
 * floor((in + pad_before + pad_after − kernel) / stride) + 1, which must be ≥ 1; with
 * `ceil_mode`, ceil instead of floor, less one if the last window would start beyond the
 * input and its leading padding (PyTorch's rule, which ONNX adopted): windows that run past
 * the padded end are clipped to it. The channel count is unchanged. Windows may overlap (stride < kernel) or leave gaps
 * (stride > kernel). Since every pad is smaller than the kernel, every window holds at least
 * one real (non-padding) cell. Padding cells never win a max; for averages they count (as
 * zeros) only if `count_include_pad`.
 */
typedef struct nnp_net_pool2d_opts {
    size_t size;            /**< sizeof(nnp_net_pool2d_opts), set by nnp_net_pool2d_opts_init() */
    size_t kernel_h;        /**< window height ≥ 1 (default 2) */
    size_t kernel_w;        /**< window width ≥ 1 (default 2) */
    size_t stride_h;        /**< vertical stride ≥ 1 (default 2) */
    size_t stride_w;        /**< horizontal stride ≥ 1 (default 2) */
    size_t pad_top;         /**< padding rows above, < kernel_h (default 0) */
    size_t pad_left;        /**< padding columns left, < kernel_w (default 0) */
    size_t pad_bottom;      /**< padding rows below, < kernel_h (default 0) */
    size_t pad_right;       /**< padding columns right, < kernel_w (default 0) */
    int count_include_pad;  /**< non-zero: average pooling divides every window's sum by
                                 kernel_h·kernel_w (with ceil_mode: by its cells inside the
                                 padded input, as PyTorch); 0: by its number of real cells
                                 (default 0). Ignored by max pooling. */
    int ceil_mode;          /**< non-zero: output sizes round up (see above) (default 0) */
} nnp_net_pool2d_opts;

/**
 * @brief Fills the caller's `size` bytes of `opts` with the defaults of ::nnp_net_pool2d_opts
 * (see "Conventions" in nnprobe.h for why the size is passed).
 * @retval NNP_EINVAL `opts` is NULL or size < sizeof(size_t)
 * @since 0.2.0
 */
NNP_API NNP_NODISCARD nnp_status nnp_net_pool2d_opts_init_sized(nnp_net_pool2d_opts *opts,
                                                          size_t size);
/** @brief nnp_net_pool2d_opts_init_sized() with the size of the caller's struct. */
#define nnp_net_pool2d_opts_init(opts) nnp_net_pool2d_opts_init_sized((opts), sizeof *(opts))

/**
 * @brief Appends 2-D max pooling (NCHW) on the last layer (or the one named by
 * nnp_net_branch_from()). No parameters.
 *
 * Where several cells of a window share the maximum, the gradient goes to the first of them
 * in row-major window order; a cell that is the maximum of several overlapping windows
 * receives the sum of their gradients. A NaN in a window makes that output NaN, and the first
 * NaN of the window receives its gradient.
 * @param[in]  net    network
 * @param[in]  opts   options, or NULL for 2×2 windows with stride 2 and no padding
 * @param[out] layer  if not NULL, receives the new layer's index
 * @retval NNP_EINVAL NULL net, a field out of range (the message names it), an output size
 *         below 1, or an output of more than 2^28 values per example
 * @retval NNP_EVERSION opts->size larger than this library's struct with non-zero extra bytes
 * @retval NNP_ENOMEM out of memory
 * @since 0.2.0
 */
NNP_API NNP_NODISCARD nnp_status nnp_net_add_maxpool2d(nnp_net *net,
                                                    const nnp_net_pool2d_opts *opts,
                                                    size_t *layer);

/**
 * @brief Appends 2-D average pooling (arguments and errors as nnp_net_add_maxpool2d()): each
 * output is the sum of its window's real cells divided by their number, or by
 * kernel_h·kernel_w with `count_include_pad`. NaNs propagate to every window holding them.
 * @since 0.2.0
 */
NNP_API NNP_NODISCARD nnp_status nnp_net_add_avgpool2d(nnp_net *net,
                                                    const nnp_net_pool2d_opts *opts,
                                                    size_t *layer);

/**
 * @brief Appends global average pooling: C×H×W to C×1×1, the mean of each channel (ONNX
 * GlobalAveragePool). No parameters.
 * @param[in]  net    network
 * @param[out] layer  if not NULL, receives the new layer's index
 * @retval NNP_EINVAL NULL net
 * @retval NNP_ENOMEM out of memory
 * @since 0.2.0
 */
NNP_API NNP_NODISCARD nnp_status nnp_net_add_global_avgpool(nnp_net *net, size_t *layer);

/**
 * @brief Appends across-channel local response normalisation (Krizhevsky et al., 2012, §3.3)
 * as ONNX LRN defines it, at every example and spatial position:
 * y_c = x_c / (k + α/size · Σ_{c'} x_{c'}²)^β, the sum running over the channels
 * max(0, c − ⌊(size−1)/2⌋) … min(C−1, c + ⌈(size−1)/2⌉) (centred for odd sizes, clipped at
 * the ends; windows wider than C are allowed). Note α is divided by the window size, as in
 * ONNX, Caffe and PyTorch (the AlexNet paper writes plain α). Output shape = input shape; no
 * parameters.
 * @param[in]  net    network
 * @param[in]  size   window in channels, ≥ 1 (odd in practice; AlexNet: 5)
 * @param[in]  alpha  α ≥ 0, finite (AlexNet: 1e-4)
 * @param[in]  beta   β ≥ 0, finite (AlexNet: 0.75)
 * @param[in]  k      k > 0, finite (ONNX calls it bias; AlexNet: 2)
 * @param[out] layer  if not NULL, receives the new layer's index
 * @retval NNP_EINVAL NULL net or a value out of range (the message names it)
 * @retval NNP_ENOMEM out of memory
 * @since 0.2.0
 */
NNP_API NNP_NODISCARD nnp_status nnp_net_add_lrn(nnp_net *net, size_t size, float alpha,
                                                 float beta, float k, size_t *layer);

/**
 * @brief Appends the paper's contrast normalisation φ(x) = x / (ε + ‖x‖²)^γ, with ‖x‖ taken
 * over all C·H·W values of each example (docs/paper.md §6). Output shape = input shape;
 * no parameters. For 0 ≤ γ ≤ 1 its Lipschitz constant is at most ε^−γ.
 * @param[in]  net    network
 * @param[in]  eps    ε > 0, finite
 * @param[in]  gamma  γ ≥ 0, finite (γ = 0 is the identity)
 * @param[out] layer  if not NULL, receives the new layer's index
 * @retval NNP_EINVAL NULL net or a value out of range (the message names it)
 * @retval NNP_ENOMEM out of memory
 * @since 0.2.0
 */
NNP_API NNP_NODISCARD nnp_status nnp_net_add_contrast_norm(nnp_net *net, float eps, float gamma,
                                                           size_t *layer);

/**
 * @brief Appends inference-form batch normalisation:
 * y = scale_c · (x − mean_c) / sqrt(var_c + ε) + bias_c per channel c (per unit after a
 * dense layer). Output shape = input shape.
 *
 * Parameters: weights are scale, mean and var (3·C values, in that order), biases are bias
 * (C), so an imported model's running statistics are set with nnp_net_set_params(). They start
 * as scale 1, mean 0, var 1, bias 0 (the identity up to ε). Training updates scale and bias
 * only: mean and var are statistics and receive no gradient (nor weight decay).
 *
 * A channel with var_c + ε ≤ 0 (a negative variance set by the caller) has no inverse square
 * root: its outputs and gradients are NaN (training then stops with ::NNP_ENUMERIC).
 * @param[in]  net    network
 * @param[in]  eps    ε ≥ 0, finite (ONNX's default is 1e-5)
 * @param[out] layer  if not NULL, receives the new layer's index
 * @retval NNP_EINVAL NULL net or eps out of range
 * @retval NNP_ENOMEM out of memory
 * @since 0.2.0
 */
NNP_API NNP_NODISCARD nnp_status nnp_net_add_batchnorm(nnp_net *net, float eps, size_t *layer);

/**
 * @brief Appends dropout, the identity at inference (kept so that the layer table matches an
 * imported model).
 * @param[in]  net    network
 * @param[in]  ratio  the training drop ratio, in [0, 1), recorded only
 * @param[out] layer  if not NULL, receives the new layer's index
 * @retval NNP_EINVAL NULL net or ratio out of range
 * @since 0.2.0
 */
NNP_API NNP_NODISCARD nnp_status nnp_net_add_dropout(nnp_net *net, float ratio, size_t *layer);

/**
 * @brief Appends a flatten layer: output shape (C·H·W)×1×1, same values.
 * @param[in]  net    network
 * @param[out] layer  if not NULL, receives the new layer's index
 * @retval NNP_EINVAL NULL net
 * @since 0.2.0
 */
NNP_API NNP_NODISCARD nnp_status nnp_net_add_flatten(nnp_net *net, size_t *layer);

/**
 * @brief Appends y = φ_a + φ_b, the element-wise sum of two existing layers of equal shape
 * (a residual connection). Later sequential layers attach to the new layer.
 * @param[in]  net    network
 * @param[in]  a, b   layer indices (may be equal)
 * @param[out] layer  if not NULL, receives the new layer's index
 * @retval NNP_EINVAL NULL net, a layer out of range, or shapes that differ (both named)
 * @since 0.2.0
 */
NNP_API NNP_NODISCARD nnp_status nnp_net_add_add(nnp_net *net, size_t a, size_t b, size_t *layer);

/**
 * @brief New net = `net` behind a fixed per-channel input normalisation
 * y_c = (x_c − mean_c) / std_c (torchvision's `transforms.Normalize`; ImageNet models use
 * mean 0.485, 0.456, 0.406 and std 0.229, 0.224, 0.225), so that every probe works on pixels in
 * [0,1] while the model sees normalised input: gradients are with respect to the pixels (the
 * chain rule through the map divides the model's input gradient by std_c), attacks keep
 * x + r in the pixel box [0,1] and report their distortion in pixel units, and Lipschitz
 * bounds are of the pixel-to-output map.
 *
 * The normalisation is layer 1 of the new net, an inference batch-norm layer
 * (::NNP_LAYER_BATCHNORM with scale 1/std_c, mean mean_c, var 1, ε 0, bias 0): its Lipschitz
 * bound is max_c 1/std_c (exact), and nnp_onnx_save() writes it as BatchNormalization. Every
 * layer of `net` keeps its order and parameters, with its index (and the indices of its
 * inputs) one higher: layer i of `net` is layer i + 1 of the new net. The new net's input
 * shape is `net`'s. Training the new net would train the normalisation's scale and bias too
 * (batch norm's trainable parameters): train `net`, then normalise it.
 * @param[in]  net       network (not modified; the copy is independent of it)
 * @param[in]  mean      `channels` finite means, in pixel units
 * @param[in]  std       `channels` standard deviations, each > 0 and finite
 * @param[in]  channels  must equal the channel count C of `net`'s input (C×H×W)
 * @param[out] out       receives the new net (free with nnp_net_free()); NULL on failure
 * @retval NNP_EINVAL NULL argument, `channels` not the input's channel count, a non-finite
 *         mean, a std ≤ 0 or not finite (the message names the index)
 * @retval NNP_ENOMEM out of memory
 * @par Thread safety
 * Reads `net` only: may run while other threads query it.
 * @since 0.2.0
 */
NNP_API NNP_NODISCARD nnp_status nnp_net_normalized(const nnp_net *net, const float *mean,
                                                    const float *std, size_t channels,
                                                    nnp_net **out);

/**
 * @brief Number of layers, the input layer included (so ≥ 1). 0 if `net` is NULL.
 * @since 0.2.0
 */
NNP_API size_t nnp_net_layer_count(const nnp_net *net);

/** @brief Floats per input example (C·H·W). 0 if `net` is NULL.
 *  @since 0.2.0 */
NNP_API size_t nnp_net_input_size(const nnp_net *net);

/** @brief Floats per output example: the last layer's size (the number of classes for a
 *  classifier). 0 if `net` is NULL.
 *  @since 0.2.0 */
NNP_API size_t nnp_net_output_size(const nnp_net *net);

/** @brief Total number of trainable parameters (weights and biases of all layers).
 *  0 if `net` is NULL.
 *  @since 0.2.0 */
NNP_API size_t nnp_net_param_count(const nnp_net *net);

/**
 * @brief Describes one layer.
 * @param[in]  net    network
 * @param[in]  layer  0 … nnp_net_layer_count()−1
 * @param[out] info   caller's struct with `info->size` set to sizeof(nnp_layer_info)
 * @retval NNP_EINVAL NULL argument, layer out of range, or info->size is 0
 * @since 0.2.0
 */
NNP_API NNP_NODISCARD nnp_status nnp_net_layer_info(const nnp_net *net, size_t layer,
                                                    nnp_layer_info *info);

/**
 * @brief Sets every parameter deterministically from a seed.
 *
 * Dense and convolution weights are drawn uniformly from ±sqrt(6/(fan_in+fan_out)) (Glorot &
 * Bengio, 2010, eq. 16; for a convolution fan_in = (C_in/groups)·kh·kw, fan_out = C_out·kh·kw);
 * their biases are set to zero. Batch normalisation keeps its parameters. The same seed gives the same parameters on every machine.
 * @retval NNP_EINVAL `net` is NULL
 * @since 0.2.0
 */
NNP_API NNP_NODISCARD nnp_status nnp_net_init_params(nnp_net *net, uint64_t seed);

/**
 * @brief Copies out one layer's parameters.
 * @param[in]  net      network
 * @param[in]  layer    a layer index
 * @param[out] weights  nnp_layer_info::weight_count floats, or NULL to skip (dense: units ×
 *                      inputs, row-major, as PyTorch's Linear.weight)
 * @param[out] bias     nnp_layer_info::bias_count floats, or NULL to skip
 * @retval NNP_EINVAL NULL net or layer out of range
 * @since 0.2.0
 */
NNP_API NNP_NODISCARD nnp_status nnp_net_get_params(const nnp_net *net, size_t layer,
                                                    float *weights, float *bias);

/**
 * @brief Replaces one layer's parameters (layouts as in nnp_net_get_params()).
 * @param[in,out] net  network
 * @param[in] layer    a layer index
 * @param[in] weights  weight_count floats, or NULL to leave the weights unchanged
 * @param[in] bias     bias_count floats, or NULL to leave the biases unchanged
 * @retval NNP_EINVAL NULL net, layer out of range, or a non-finite value (nothing is changed)
 * @since 0.2.0
 */
NNP_API NNP_NODISCARD nnp_status nnp_net_set_params(nnp_net *net, size_t layer,
                                                    const float *weights, const float *bias);

/**
 * @brief Bytes of memory a workspace for `net` takes with batches of `batch` examples: every
 * node's activations and gradients, the scratch buffer its largest layer needs and the
 * bookkeeping, as nnp_workspace_create() would allocate them (training adds the dropout
 * masks, not counted). Computed from the layer shapes alone, before any pass, so a caller can
 * see what a model read from a file would demand and refuse or shrink the batch first.
 *
 * Workspaces are capped: nnp_workspace_create(), and every call that makes or grows one
 * (forward, gradients, probes, training), refuses with ::NNP_ENOMEM, naming the bytes it would
 * need, when they exceed the cap: 4 GiB by default, or the byte count in the environment
 * variable `NNPROBE_MAX_WORKSPACE_BYTES` (digits with an optional K, M, G or T suffix, read at
 * each creation; docs/reliability.md "Caps and bounds").
 * @param[in]  net    network
 * @param[in]  batch  examples per pass, ≥ 1
 * @param[out] bytes  receives the byte count (SIZE_MAX if it does not fit in a size_t)
 * @retval NNP_OK success
 * @retval NNP_EINVAL NULL argument or batch 0
 * @par Thread safety Reads `net` only: may run concurrently with other readers of it.
 * @since 0.2.0
 */
NNP_API NNP_NODISCARD nnp_status nnp_workspace_bytes(const nnp_net *net, size_t batch,
                                                     size_t *bytes);

/**
 * @brief Creates scratch memory for passes over `net` with batches of up to `max_batch`
 * examples (it grows by itself if a larger batch comes later).
 * @param[in]  net        the network the workspace will serve (it must outlive the workspace,
 *                        and must not gain layers while the workspace is in use)
 * @param[in]  max_batch  expected largest batch, ≥ 1
 * @param[out] out        receives the workspace; NULL on failure
 * @retval NNP_EINVAL NULL argument or max_batch 0, or `NNPROBE_MAX_WORKSPACE_BYTES` is set
 *         to something other than a positive byte count
 * @retval NNP_ENOMEM out of memory, or the workspace would exceed the cap (see
 *         nnp_workspace_bytes(); the message names the bytes needed and the cap)
 * @par Thread safety One workspace must not be used by two threads at once.
 * @since 0.2.0
 */
NNP_API NNP_NODISCARD nnp_status nnp_workspace_create(const nnp_net *net, size_t max_batch,
                                                      nnp_workspace **out);

/** @brief Frees a workspace. NULL is a no-op.
 *  @since 0.2.0 */
NNP_API void nnp_workspace_free(nnp_workspace *ws);

/**
 * @brief Batched forward pass to the logits (the last layer's output).
 * @param[in]  net     network
 * @param[in,out] ws   workspace made for `net`, or NULL (then the call allocates its own)
 * @param[in]  x       n × nnp_net_input_size() floats
 * @param[in]  n       batch size ≥ 1
 * @param[out] logits  n × nnp_net_output_size() floats
 * @retval NNP_EINVAL NULL pointer, n = 0, `ws` made for another net, or a NaN or infinite
 *         value in x (the message names the example and the index)
 * @retval NNP_ENOMEM out of memory
 * @retval NNP_ENUMERIC a logit is NaN or infinite (e.g. weights of 3e38, batch norm with a
 *         negative variance); the message names the example and the layer where the value
 *         first became non-finite. `logits` is written all the same, for inspection.
 * @par Thread safety See the file comment: concurrent calls need distinct workspaces.
 * @since 0.2.0
 */
NNP_API NNP_NODISCARD nnp_status nnp_net_forward(const nnp_net *net, nnp_workspace *ws,
                                                 const float *x, size_t n, float *logits);

/**
 * @brief Batched forward pass to the activations φ_l(x) of layer `layer`.
 *
 * Only the layers `layer` depends on are computed.
 * @param[in]  net    network
 * @param[in,out] ws  workspace made for `net`, or NULL
 * @param[in]  x      n × nnp_net_input_size() floats
 * @param[in]  n      batch size ≥ 1
 * @param[in]  layer  0 … nnp_net_layer_count()−1 (0 returns the input itself)
 * @param[out] out    n × nnp_layer_info::output_size floats
 * @retval NNP_EINVAL as nnp_net_forward(), or layer out of range
 * @retval NNP_ENUMERIC as nnp_net_forward(), for the output of `layer`
 * @since 0.2.0
 */
NNP_API NNP_NODISCARD nnp_status nnp_net_forward_layer(const nnp_net *net, nnp_workspace *ws,
                                                       const float *x, size_t n, size_t layer,
                                                       float *out);

#ifdef __cplusplus
}
#endif
#endif
