/**
 * @file eval.h
 * @brief Evaluation of classifiers on clean, adversarial and noisy sets: error rates, the
 * transfer matrix of the paper's Tables 2 and 4, the Gaussian-noise baseline and the
 * "amplified" perturbations of Table 4 (Szegedy et al. 2013, §4.2; docs/paper.md).
 *
 * @par Thread safety
 * Read-only on the nets; each call makes its own workspace.
 */
#ifndef NNPROBE_EVAL_H
#define NNPROBE_EVAL_H

#include <stddef.h>
#include <stdint.h>

#include "net.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * @brief Error rate, and optionally mean cross-entropy, of a classifier on n examples: the
 * fraction whose arg-max logit is not the label. Works on any set: clean, adversarial, noisy.
 * For an ::nnp_dataset pass nnp_dataset_images(), nnp_dataset_labels(), nnp_dataset_count().
 *
 * The examples are classified in batches of 256 through a workspace the call makes.
 * @param[in]  net         classifier (its output size is the number of classes)
 * @param[in]  x           n × nnp_net_input_size() floats
 * @param[in]  labels      n labels, each < nnp_net_output_size()
 * @param[in]  n           examples, ≥ 1
 * @param[out] error_rate  in [0,1], or NULL
 * @param[out] mean_loss   mean softmax cross-entropy in nats, or NULL
 * @retval NNP_EINVAL NULL net/x/labels, both outputs NULL, n = 0, label out of range, a NaN or
 *         infinite value in x (the message names the example and the index)
 * @retval NNP_ENOMEM out of memory
 * @retval NNP_ENUMERIC an example's logits are NaN or infinite (the message names the example
 *         and the layer where the value first became non-finite): never counted as a class
 * @par Thread safety Read-only on `net`.
 * @since 0.2.0
 */
NNP_API NNP_NODISCARD nnp_status nnp_eval_error_rate(const nnp_net *net, const float *x,
                                                     const int32_t *labels, size_t n,
                                                     double *error_rate, double *mean_loss);

/**
 * @brief The paper's Tables 2 and 4 in one call: the error rate of each of n_nets nets on each
 * of n_sets sets of n examples (adversarial sets made for each net, noisy sets, …).
 * @param[in]  nets    n_nets classifiers with the same input size and class count
 * @param[in]  n_nets  ≥ 1
 * @param[in]  sets    n_sets pointers, each to n × input-size floats
 * @param[in]  n_sets  ≥ 1
 * @param[in]  labels  n true labels, shared by all sets
 * @param[in]  n       examples per set, ≥ 1
 * @param[out] errors  n_sets × n_nets error rates, row-major: errors[s·n_nets + k] is net k's
 *                     error on set s
 * @retval NNP_EINVAL NULL pointer, zero count, nets of different input or output sizes, label
 *         out of range, a NaN or infinite value in a set (named: set, example, index)
 * @retval NNP_ENOMEM out of memory
 * @retval NNP_ENUMERIC as nnp_eval_error_rate(); the message names the net and the set too
 * @par Thread safety Read-only on the nets.
 * @since 0.2.0
 */
NNP_API NNP_NODISCARD nnp_status nnp_eval_transfer_matrix(const nnp_net *const *nets,
                                                          size_t n_nets,
                                                          const float *const *sets, size_t n_sets,
                                                          const int32_t *labels, size_t n,
                                                          double *errors);

/**
 * @brief Merges error rates of disjoint shards of one set (shard.h) into the whole set's:
 * each part's rate times its example count gives its count of errors back exactly, and the
 * merged rate is (Σ errors) / (Σ examples), computed as nnp_eval_error_rate() computes it, so
 * it equals the single run's bit for bit. Works cell by cell, for one error rate (cells = 1)
 * or a whole transfer matrix (cells = n_sets × n_nets, nnp_eval_transfer_matrix()).
 *
 * The mean loss of nnp_eval_error_rate() does not merge exactly (its sum would be
 * re-associated); weight the parts' mean losses by their counts if it is needed.
 * @param[in]  rates    n_parts × cells rates, part-major: rates[p·cells + c]
 * @param[in]  counts   n_parts example counts, each ≥ 1
 * @param[in]  n_parts  ≥ 1
 * @param[in]  cells    rates per part, ≥ 1
 * @param[out] merged   cells merged rates
 * @retval NNP_EINVAL NULL pointer, a zero count, a rate that is not a whole number of errors
 *         out of its part's count (the message names the part and the cell)
 * @par Thread safety Reentrant.
 * @since 0.2.0
 */
NNP_API NNP_NODISCARD nnp_status nnp_eval_merge_rates(const double *rates, const size_t *counts,
                                                      size_t n_parts, size_t cells,
                                                      double *merged);

/**
 * @brief The Gaussian-noise baseline of Tables 2 and 4: out = clip(x + N(0, stddev²), 0, 1)
 * with independent noise per value from `seed`.
 *
 * The paper does not say whether its noisy images were clipped (docs/paper.md §4); the
 * library clips so that every set lives in the same box as the adversarial ones. The RMS
 * distortion of the clipped set is therefore somewhat below stddev near 0 and 1.
 * @param[in]  x       count floats in [0,1]
 * @param[in]  count   number of values (examples × input size), ≥ 1
 * @param[in]  stddev  ≥ 0
 * @param[in]  seed    any value; the same seed gives the same noise
 * @param[out] out     count floats; may equal x (in place)
 * @retval NNP_EINVAL NULL pointer, count = 0, stddev negative or not finite, a NaN or infinite
 *         value in x (clipping would turn an infinity into 0 or 1 silently)
 * @par Thread safety Reentrant.
 * @since 0.2.0
 */
NNP_API NNP_NODISCARD nnp_status nnp_eval_noise_gaussian(const float *x, size_t count,
                                                         double stddev, uint64_t seed,
                                                         float *out);

/**
 * @brief The "amplified" sets of Table 4: each example's perturbation r = x_adv − x rescaled to
 * a per-value RMS of `rms`, out = clip(x + rms · r / RMS(r), 0, 1).
 *
 * The paper's "amplified to stddev 0.1" cannot mean an L2 norm of 0.1 (that would shrink the
 * perturbation, docs/paper.md §5); the library reads it as RMS, as the notes and
 * reproductions do. Examples with r = 0 are copied unchanged. Clipping makes the final RMS
 * at most `rms`.
 * @param[in]  x       n × d clean examples in [0,1]
 * @param[in]  x_adv   n × d adversarial examples
 * @param[in]  n, d    examples and values per example, ≥ 1 each
 * @param[in]  rms     target RMS per value, ≥ 0
 * @param[out] out     n × d floats; may equal x_adv
 * @retval NNP_EINVAL NULL pointer, zero size, rms negative or not finite, a NaN or infinite
 *         value in x or x_adv (the message names the array, the example and the index)
 * @par Thread safety Reentrant.
 * @since 0.2.0
 */
NNP_API NNP_NODISCARD nnp_status nnp_eval_perturbation_rescale(const float *x,
                                                               const float *x_adv, size_t n,
                                                               size_t d, double rms, float *out);

#ifdef __cplusplus
}
#endif
#endif
