/**
 * @file grad.h
 * @brief Gradient-of-input queries, batched: d loss/dx, d unit/dx, vector–Jacobian products.
 *
 * Each call does one batched forward and one batched backward pass for all n examples; the
 * result for example i depends on example i only. Gradients are per example (not averaged
 * over the batch).
 *
 * @par Thread safety
 * Read-only on the net: concurrent calls on one `const nnp_net *` are safe with distinct
 * workspaces (or NULL workspaces).
 */
#ifndef NNPROBE_GRAD_H
#define NNPROBE_GRAD_H

#include "net.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * @brief Gradient of the softmax cross-entropy loss with respect to the input.
 *
 * For example i with logits z and label y: loss_i = log Σ_k exp(z_k) − z_y, and
 * dx_i = d loss_i / d x_i.
 * @param[in]  net     network whose last layer gives the logits
 * @param[in,out] ws   workspace made for `net`, or NULL
 * @param[in]  x       n × nnp_net_input_size() floats
 * @param[in]  labels  n labels, each in 0 … nnp_net_output_size()−1
 * @param[in]  n       batch size ≥ 1
 * @param[out] dx      n × nnp_net_input_size() floats
 * @param[out] loss    n floats (loss_i), or NULL
 * @param[out] logits  n × nnp_net_output_size() floats, or NULL
 * @retval NNP_EINVAL NULL required pointer, n = 0, a label out of range, `ws` for another net,
 *         a NaN or infinite value in x (the message names the example and the index)
 * @retval NNP_ENOMEM out of memory
 * @retval NNP_ENUMERIC a logit is NaN or infinite (the message names the example and the layer
 *         where the value first became non-finite; nothing is written), or a value of dx is
 *         (named by example and index; dx holds the pass's result)
 * @since 0.2.0
 */
NNP_API NNP_NODISCARD nnp_status nnp_grad_loss(const nnp_net *net, nnp_workspace *ws,
                                               const float *x, const int32_t *labels, size_t n,
                                               float *dx, float *loss, float *logits);

/**
 * @brief Gradient of one unit of one layer with respect to the input: dx_i = d φ_l(x_i)[unit] / d x_i.
 *
 * A class logit is a unit of the last layer.
 * @param[in]  net    network
 * @param[in,out] ws  workspace made for `net`, or NULL
 * @param[in]  x      n × nnp_net_input_size() floats
 * @param[in]  n      batch size ≥ 1
 * @param[in]  layer  1 … nnp_net_layer_count()−1
 * @param[in]  unit   0 … output_size(layer)−1 (index into the layer's C×H×W output)
 * @param[out] dx     n × nnp_net_input_size() floats
 * @param[out] value  n floats: φ_l(x_i)[unit], or NULL
 * @retval NNP_EINVAL as nnp_grad_loss(), or layer/unit out of range
 * @retval NNP_ENUMERIC as nnp_grad_loss(), for φ_l instead of the logits
 * @since 0.2.0
 */
NNP_API NNP_NODISCARD nnp_status nnp_grad_unit(const nnp_net *net, nnp_workspace *ws,
                                               const float *x, size_t n, size_t layer,
                                               size_t unit, float *dx, float *value);

/**
 * @brief Vector–Jacobian product at any layer: dx_i = J_l(x_i)ᵀ v_i, with J_l the Jacobian of
 * φ_l with respect to the input.
 * @param[in]  net    network
 * @param[in,out] ws  workspace made for `net`, or NULL
 * @param[in]  x      n × nnp_net_input_size() floats
 * @param[in]  n      batch size ≥ 1
 * @param[in]  layer  1 … nnp_net_layer_count()−1
 * @param[in]  v      n × output_size(layer) floats: the cotangent per example
 * @param[out] dx     n × nnp_net_input_size() floats
 * @retval NNP_EINVAL as nnp_grad_loss(), or layer out of range, or a NaN or infinite value in v
 * @retval NNP_ENUMERIC as nnp_grad_loss(), for φ_l instead of the logits
 * @since 0.2.0
 */
NNP_API NNP_NODISCARD nnp_status nnp_grad_vjp(const nnp_net *net, nnp_workspace *ws,
                                              const float *x, size_t n, size_t layer,
                                              const float *v, float *dx);

#ifdef __cplusplus
}
#endif
#endif
