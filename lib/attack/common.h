/* The math every attack shares: the goal (targeted or untargeted) and its loss, batched
 * classification, goal gradients and logit passes, distortion measures. The run of a call
 * (options, arguments, buffers, groups, progress, finish) is the driver's (driver.h).
 * Internal. */
#ifndef NNP_PROBE_ATTACK_COMMON_H
#define NNP_PROBE_ATTACK_COMMON_H

#include "net/net_internal.h"
#include "nnprobe/attack.h"

/* Whether a prediction reaches the goal: the target (target ≥ 0) or any label ≠ label. */
static inline int nnpi_goal_reached(int32_t predicted, int32_t label, int32_t target)
{
    return target >= 0 ? predicted == target : predicted != label;
}

/* Arg-max of k logits (ties: the lowest index). */
int32_t nnpi_argmax(const float *z, size_t k);

/* The goal loss of one example from its k logits, in double: targeted (target ≥ 0) the softmax
 * cross-entropy of the target, log Σ e^z − z_t; untargeted −log(1 − p_label) =
 * log Σ_k e^{z_k} − log Σ_{k≠label} e^{z_k}. If dz is not NULL it receives scale · d loss/dz. */
double nnpi_goal_loss(const float *z, size_t k, int32_t label, int32_t target, double scale,
                      float *dz);

/* Fills rms, l2 and linf of one example from x and x_adv (d values each), in double. */
void nnpi_attack_distortion(const float *x, const float *x_adv, size_t d, nnp_attack_result *r);

/* Labels of n examples, batched through ws (not NULL) in chunks of its capacity. */
nnp_status nnpi_classify(const nnp_net *net, nnp_workspace *ws, const float *x, size_t n,
                         int32_t *predicted);

/* One forward and one backward pass of n ≤ ws capacity examples: loss[i] = scale[i] · goal
 * loss of example i (labels[i], targets ? targets[i] : −1) and dx its input gradient; logits
 * (n × classes) optional. Returns the chosen workspace's status. */
nnp_status nnpi_goal_grad(const nnp_net *net, nnp_workspace *ws, const float *x, size_t n,
                          const int32_t *labels, const int32_t *targets, const double *scale,
                          double *loss, float *dx, float *logits);

/* One forward pass of n ≤ ws capacity examples up to the logits; *logits (n × classes) points
 * into ws and stays valid until the next pass on ws. */
nnp_status nnpi_attack_forward(const nnp_net *net, nnp_workspace *ws, const float *x, size_t n,
                               const float **logits);

/* After nnpi_attack_forward() on the same x and n: dx = J(x)ᵀ v per example, with J the
 * Jacobian of the logits and v n × classes (not inside ws). May be repeated after one forward
 * pass (backward passes only read the activations). */
void nnpi_attack_backward(const nnp_net *net, nnp_workspace *ws, const float *x, size_t n,
                          const float *v, float *dx);

#endif
