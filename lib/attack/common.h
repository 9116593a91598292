/* What every attack shares: argument checks, the goal (targeted or untargeted) and its loss,
 * batched classification and goal gradients, distortion measures, progress. Internal. */
#ifndef NNP_PROBE_ATTACK_COMMON_H
#define NNP_PROBE_ATTACK_COMMON_H

#include "net/net_internal.h"
#include "nnprobe/attack.h"

/* Checks the arguments of a public attack entry point (`func` names it in messages): non-NULL
 * net/x/x_adv/results, n ≥ 1, x finite and inside [0,1], labels required when targets is NULL,
 * labels and targets inside the class range. */
nnp_status nnpi_attack_check_args(const nnp_net *net, const float *x, const int32_t *labels,
                                  const int32_t *targets, size_t n, const float *x_adv,
                                  const nnp_attack_result *results, const char *func);

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

/* Sets every result to "not finished, no success": clean labels from one classification of x
 * (done here, batched through ws), target = targets[i] or −1, the rest zero. */
nnp_status nnpi_attack_results_init(const nnp_net *net, nnp_workspace *ws, const float *x,
                                    const int32_t *targets, size_t n, nnp_attack_result *res);

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

/* Progress in units the attack chooses; report() calls the callback (if any) and turns a
 * non-zero answer into NNP_ECANCELLED with a message naming `func`. */
typedef struct nnpi_progress {
    nnp_progress_fn fn;
    void *user;
    uint64_t done, total;
    const char *func;
} nnpi_progress;
nnp_status nnpi_progress_report(const nnpi_progress *p);

/* --- Added for the gradient attacks (FGSM, PGD, DeepFool, C&W). --- */

/* One forward pass of n ≤ ws capacity examples up to the logits; *logits (n × classes) points
 * into ws and stays valid until the next pass on ws. */
nnp_status nnpi_attack_forward(const nnp_net *net, nnp_workspace *ws, const float *x, size_t n,
                               const float **logits);

/* After nnpi_attack_forward() on the same x and n: dx = J(x)ᵀ v per example, with J the
 * Jacobian of the logits and v n × classes (not inside ws). May be repeated after one forward
 * pass (backward passes only read the activations). */
void nnpi_attack_backward(const nnp_net *net, nnp_workspace *ws, const float *x, size_t n,
                          const float *v, float *dx);

/* Final bookkeeping of an attack, also after a cancellation: label, success and distortions
 * of every result from x_adv (classified batched through ws). Leaves the other fields. */
nnp_status nnpi_attack_finish(const nnp_net *net, nnp_workspace *ws, const float *x,
                              const float *x_adv, const int32_t *labels, size_t n,
                              nnp_attack_result *res);

/* The options' batch clamped to n (the workspace capacity of an attack). */
static inline size_t nnpi_attack_batch(size_t batch, size_t n) { return batch < n ? batch : n; }

#endif
