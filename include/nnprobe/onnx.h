/**
 * @file onnx.h
 * @brief ONNX models in and out: load a network exported from PyTorch (or any ONNX producer),
 * save a network the library built or trained.
 *
 * @par What loads
 * One graph input holding images, shape N×C×H×W (rank 4), signals N×C×L (rank 3, loaded as
 * C×1×L, with 1-D Conv and pooling as kernels of height 1) or vectors N×D (rank 2, loaded as
 * D×1×1); float32, with the batch dimension N symbolic or fixed (any fixed value is read as
 * the batch size of the exporter's example and ignored); every other dimension fixed. One
 * graph output.
 * Weights come from initializers (or Constant nodes) of type float32, stored in `raw_data`
 * (little-endian) or in `float_data`; any other element type (float16, double, integers) is
 * refused with ::NNP_EUNSUPPORTED naming the tensor, never converted. Tensors stored outside the
 * file (external data) are refused too. Default-domain opsets 1 to 17 are read, with each
 * operator's attributes and defaults as of the model's opset.
 *
 * Operators and the layers they become (see net.h):
 * - Gemm (alpha, beta, transB; transA=1 is refused as it would transpose the batch), and MatMul
 *   with a constant right operand, optionally followed by Add of a constant bias: a dense layer
 *   (alpha and beta are multiplied into the weights and bias);
 * - Conv (1-D or 2-D: kernel_shape, strides, pads, dilations, group, auto_pad): a convolution
 *   layer;
 *   an Add of a per-channel constant directly after a Conv with bias is folded into that bias;
 * - MaxPool, AveragePool (1-D or 2-D; ceil_mode 0 or 1, dilations 1, count_include_pad,
 *   auto_pad): pooling layers; GlobalAveragePool; ReduceMean over all spatial axes (keepdims 1,
 *   or 0 for the N×C view): a global average pool; LRN; BatchNormalization (inference form; its
 *   statistics become the layer's parameters); Relu, Sigmoid, Tanh, Softplus, LeakyRelu (any
 *   finite alpha: a leaky ReLU layer); Clip with constant bounds (attributes before opset 11,
 *   optional scalar inputs from 11 on; absent = no bound): a clip layer (ReLU6); HardSigmoid
 *   (alpha, beta); HardSwish (opset 14 on); Flatten (axis 1);
 * - Pad, mode constant with value 0, on the spatial axes only (pads as an attribute before
 *   opset 11, a constant input from 11 on): folded into the padding of the Conv, or of the
 *   AveragePool with floor sizing (count_include_pad or no padding of its own), that alone reads
 *   it (the same map), else a pad layer (e.g. before a MaxPool, whose own padding is −∞, not 0);
 * - Add of two computed tensors of equal shape: an add layer (residual connection);
 * - Dropout: a dropout layer (the identity; kept so the layer table matches the model);
 * - Identity, and Reshape between N×C×H×W (or N×C×L) and N×(C·H·W) (a flatten that needs no
 *   layer, or its inverse back to the producing layer's own shape): removed, no layer;
 * - Softmax and LogSoftmax over all of an example's values, only as the last node (the output
 *   head): removed. The loaded net's output are the logits, which is what the library's losses
 *   and probes take; softmax of the net's output gives the model's probabilities (and
 *   log-softmax its log-probabilities), unchanged.
 *
 * Anything else — an operator, an attribute value, a second graph input or output, an
 * operator's second output in use — is refused with ::NNP_EUNSUPPORTED and a message naming
 * the node, its operator and the attribute, e.g.
 * `onnx: node "pool1" (MaxPool): dilations=[2,2] not supported`. A malformed model — not a
 * protobuf, truncated, wrong wire types, tensors whose data disagree with their shape, inputs
 * no node produces, cycles, absurd dimensions, shapes that do not fit (checked layer by layer
 * and against the declared output shape) — gives ::NNP_EFORMAT. Neither crashes or leaks.
 *
 * @par What saves
 * Every layer kind but contrast normalisation (no ONNX operator) becomes the operator above
 * (dense layers as Gemm with transB=1), at opset 13 (14 when the net has a hard swish) and
 * IR version 7, with the batch dimension
 * symbolic ("N"); the input is N×D when H = W = 1, else N×C×H×W (so a net loaded from an N×C×L
 * model is saved as N×C×1×L). Loading a saved net gives the same layer table and
 * bit-identical parameters, hence identical outputs.
 *
 * @par Thread safety
 * Loading has no shared state: any number of threads may load at once. Saving only reads the
 * net.
 */
#ifndef NNPROBE_ONNX_H
#define NNPROBE_ONNX_H

#include "net.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * @brief Loads an ONNX model file into a new network (see the file comment for what loads).
 *
 * A regular file is read where it lies, never held whole in memory: its size (fstat) is
 * checked against the read cap first, then the model's structure is read through a small
 * window and each large weight tensor is copied once, straight from the file into the net's
 * parameters (peak memory about the parameters' size, not twice or three times the file's). A
 * file that shrinks while it is read is refused with ::NNP_EIO. A pipe or device (e.g.
 * `/dev/zero`) is read whole in chunks, and refused once past the read cap. The cap is 2 GiB
 * (protobuf's own message limit), or the
 * byte count in the environment variable `NNPROBE_MAX_READ_BYTES`; the initializers' declared
 * elements are capped at 2^29 (`NNPROBE_MAX_TENSOR_ELEMENTS`). See docs/reliability.md.
 * @param[in]  path  file name
 * @param[out] out   receives the network; set to NULL on failure
 * @retval NNP_OK success
 * @retval NNP_EINVAL `path` or `out` is NULL, or a malformed `NNPROBE_MAX_READ_BYTES` or
 *         `NNPROBE_MAX_TENSOR_ELEMENTS`
 * @retval NNP_EIO the file cannot be opened or read (the message names it and gives
 *         strerror(errno)), or it ends before the size it had when opened
 * @retval NNP_EFORMAT malformed model (the message says what and where: for a malformed
 *         protobuf, the byte offset and the message and field being read), or over a cap
 * @retval NNP_EUNSUPPORTED a valid model using an operator, attribute or type the library does
 *         not implement (the message names node, operator and attribute)
 * @retval NNP_ENOMEM out of memory
 * @par Ownership The caller frees the network with nnp_net_free().
 * @par Thread safety Safe to call from several threads at once.
 * @since 0.2.0
 */
NNP_API NNP_NODISCARD nnp_status nnp_net_load_onnx(const char *path, nnp_net **out);

/**
 * @brief Loads an ONNX model from memory (the serialized ModelProto, as in a .onnx file).
 *
 * Errors as nnp_net_load_onnx(), without ::NNP_EIO; the element cap applies, the read cap does
 * not (the caller chose `size`).
 * @param[in]  data  `size` bytes; only read during the call
 * @param[in]  size  number of bytes (0 is a malformed model)
 * @param[out] out   receives the network; set to NULL on failure
 * @retval NNP_EINVAL `data` or `out` is NULL
 * @par Thread safety Safe to call from several threads at once.
 * @since 0.2.0
 */
NNP_API NNP_NODISCARD nnp_status nnp_net_load_onnx_memory(const void *data, size_t size,
                                                          nnp_net **out);

/**
 * @brief Saves a network as an ONNX model file (see the file comment for the operators).
 *
 * Written through the library's safe-write path (file.h, docs/reliability.md): a regular
 * file (or a symlink's target) is replaced atomically — a new file in the same directory,
 * synced and renamed over it, its mode kept — so on any failure (disk full, file-size limit)
 * the old model is left whole and loadable; a device or FIFO is written in place.
 * @param[in] net   network
 * @param[in] path  file name (created, or replaced as above)
 * @retval NNP_OK success
 * @retval NNP_EINVAL `net` or `path` is NULL
 * @retval NNP_EUNSUPPORTED a layer has no ONNX form (contrast normalisation; the message names
 *         the layer)
 * @retval NNP_EIO the file cannot be written (message: path, step, strerror); an existing file
 *         is unchanged
 * @retval NNP_ENOMEM out of memory
 * @par Thread safety Reads `net` only: may run concurrently with other readers of it.
 * @since 0.2.0
 */
NNP_API NNP_NODISCARD nnp_status nnp_net_save_onnx(const nnp_net *net, const char *path);

#ifdef __cplusplus
}
#endif
#endif
