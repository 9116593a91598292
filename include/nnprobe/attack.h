/**
 * @file attack.h
 * @brief Adversarial examples: the paper's box-constrained L-BFGS with its search over c
 * (Szegedy et al. 2013, §4.1), the attacks that followed it, and the evaluation helpers of
 * the paper's Tables 2 and 4.
 *
 * Every attack works on a batch of n examples of the net's input size, all in the box [0,1]
 * (docs/paper.md §2), and keeps its adversarial examples inside that box. An attack is
 * **targeted** when the caller passes `targets` (reach label targets[i]) and **untargeted**
 * when `targets` is NULL (reach any label other than labels[i]). Each attack writes one
 * ::nnp_attack_result per example and the adversarial examples themselves.
 *
 * An example whose goal already holds before any change (the net already predicts the target,
 * or, untargeted, already misclassifies it) succeeds with zero distortion: x_adv = x. This is
 * the paper's D(x, f(x)) = x.
 *
 * @par Thread safety
 * Read-only on the net: concurrent attacks on one `const nnp_net *` are safe. Each call makes
 * its own workspace.
 */
#ifndef NNPROBE_ATTACK_H
#define NNPROBE_ATTACK_H

#include <stddef.h>
#include <stdint.h>

#include "net.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * @brief Outcome of an attack on one example.
 *
 * Distortions are measured on r = x_adv − x over the m = input size values of the example:
 * rms = sqrt(Σ r² / m) (the paper's "distortion", docs/paper.md §2), l2 = sqrt(Σ r²),
 * linf = max |r|; all accumulated in double.
 */
typedef struct nnp_attack_result {
    int success;          /**< 1 if x_adv reaches the goal (target label, or any label ≠ the
                               true one), else 0 */
    int finished;         /**< 1 once the attack of this example is complete; 0 only after a
                               cancellation, for examples it interrupted or never reached: their
                               x_adv is the best successful point found so far, else the
                               attack's latest complete iterate, else x; the other fields
                               describe that x_adv */
    int32_t clean_label;  /**< the net's label for x (arg-max logit; ties: lowest index) */
    int32_t label;        /**< the net's label for x_adv */
    int32_t target;       /**< targets[i], or −1 in untargeted mode */
    double rms;           /**< distortion as RMS per input value (the paper's measure) */
    double l2;            /**< Euclidean norm of x_adv − x */
    double linf;          /**< largest |x_adv − x| */
    double c;             /**< L-BFGS and C&W: the loss weight c of the returned solution;
                               FGSM/PGD: the ε used; 0 when not applicable or no change was needed */
    size_t iterations;    /**< optimiser steps (all values of c together) */
    size_t evaluations;   /**< gradient evaluations (one forward and one backward pass of
                               this example each) */
} nnp_attack_result;

/**
 * @brief Options of nnp_attack_lbfgs(). Initialise with nnp_attack_lbfgs_opts_init().
 *
 * The penalty problem solved for each example x, its goal and a loss weight c > 0 is
 *
 *     minimise  ‖r‖₂² + c · loss(x + r)   subject to  x + r ∈ [0,1]^m,
 *
 * with loss the softmax cross-entropy of the target label (targeted), or
 * −log(1 − p_y) = log Σ_k e^{z_k} − log Σ_{k≠y} e^{z_k} for the true label y (untargeted).
 * The paper writes c·|r| + loss (§4.1). The library puts the constant on the loss instead,
 * which is the paper's problem divided by c (so c_paper = 1/c): then the paper's "minimum c
 * for which the minimiser reaches the target" is literally the smallest distortion, whereas
 * with c on ‖r‖ it would be the largest c (docs/paper.md §2, §8.1). The norm is squared
 * (as Carlini & Wagner restate the attack) because ‖r‖₂ is not differentiable at r = 0, where
 * every solve starts.
 *
 * Search over c per example: start at c_init; while no c has succeeded multiply c by
 * c_factor (at most c_bracket_steps times); while every c has succeeded divide by c_factor
 * (same limit); once a failing c_lo and a succeeding c_hi are known, try their geometric mean,
 * c_bisect_steps times. Every solve starts from x. The result is the successful solution of
 * smallest L2 distortion among all values tried.
 */
typedef struct nnp_attack_lbfgs_opts {
    size_t size;               /**< sizeof(nnp_attack_lbfgs_opts), set by the init function */
    double c_init;             /**< first loss weight, > 0 (default 1) */
    double c_factor;           /**< bracketing factor, > 1 (default 10) */
    size_t c_bracket_steps;    /**< most bracketing steps in either direction (default 10) */
    size_t c_bisect_steps;     /**< geometric bisection steps once bracketed (default 8) */
    size_t history;            /**< L-BFGS memory: curvature pairs kept, 1 … 1000 (default 10) */
    size_t max_iterations;     /**< L-BFGS steps per solve, ≥ 1 (default 1000) */
    double pgtol;              /**< a solve stops when the projected gradient's largest entry
                                    is ≤ pgtol, ≥ 0 (default 1e-5) */
    double ftol;               /**< ... or when f decreases by ≤ ftol·max(|f|, 1) in a step,
                                    ≥ 0 (default 2.2e-9, SciPy's default factr·eps) */
    size_t batch_size;         /**< examples optimised together, ≥ 1 (default 128); each has its
                                    own history, line search and c schedule, and one round of
                                    all their evaluations is one batched forward/backward pass */
    nnp_progress_fn progress;  /**< called with (solves done, most solves possible), or NULL;
                                    non-zero cancels */
    void *progress_user;       /**< passed to `progress` */
} nnp_attack_lbfgs_opts;

/**
 * @brief Fills the caller's `size` bytes of `opts` with the defaults of
 * ::nnp_attack_lbfgs_opts and sets `opts->size = size` (see "Conventions" in nnprobe.h).
 * @retval NNP_EINVAL `opts` is NULL or size < sizeof(size_t)
 * @since 0.2.0
 */
NNP_API NNP_NODISCARD nnp_status nnp_attack_lbfgs_opts_init_sized(nnp_attack_lbfgs_opts *opts,
                                                                  size_t size);
/** @brief nnp_attack_lbfgs_opts_init_sized() with the size of the caller's struct. */
#define nnp_attack_lbfgs_opts_init(opts) nnp_attack_lbfgs_opts_init_sized((opts), sizeof *(opts))

/**
 * @brief The paper's attack (§4.1): for each example the closest point in [0,1]^m that the net
 * classifies as the target, by box-constrained L-BFGS on the penalty problem and a search over
 * the loss weight c (see ::nnp_attack_lbfgs_opts).
 *
 * The optimiser is the library's own batched projected L-BFGS: bounds hold exactly at every
 * trial point (projection and an active set, not clipping afterwards); the objective and all
 * dot products are accumulated in double.
 * @param[in]  net      classifier (its last layer gives the logits)
 * @param[in]  x        n × nnp_net_input_size() floats, each in [0,1]
 * @param[in]  labels   n true labels; required when `targets` is NULL, else may be NULL
 * @param[in]  targets  n target labels, or NULL for the untargeted attack
 * @param[in]  n        examples, ≥ 1
 * @param[in]  opts     options, or NULL for the defaults
 * @param[out] x_adv    n × nnp_net_input_size() floats: the adversarial examples (for an
 *                      example that fails: the last solution, the one of the largest c tried);
 *                      may not overlap x
 * @param[out] results  n results
 * @retval NNP_EINVAL NULL required pointer, n = 0, x outside [0,1] or not finite, a label or
 *         target out of range, an option out of range (the message names the field)
 * @retval NNP_EVERSION opts->size larger than this library's struct with non-zero extra bytes
 * @retval NNP_ECANCELLED the progress callback asked to stop; results[i].finished tells which
 *         examples are complete; the others hold partial results as described there
 * @retval NNP_ENOMEM out of memory
 * @retval NNP_ENUMERIC the logits of an example (clean or perturbed) are NaN or infinite: the
 *         message names the example (or the row of an internal batch) and the layer where the
 *         value first became non-finite; no such example is ever counted as a class
 * @par Thread safety Read-only on `net`.
 * @since 0.2.0
 */
NNP_API NNP_NODISCARD nnp_status nnp_attack_lbfgs(const nnp_net *net, const float *x,
                                                  const int32_t *labels, const int32_t *targets,
                                                  size_t n, const nnp_attack_lbfgs_opts *opts,
                                                  float *x_adv, nnp_attack_result *results);

/* ===================== The attacks that followed the paper ===================== */

/**
 * @brief Options of nnp_attack_fgsm(). Initialise with nnp_attack_fgsm_opts_init().
 *
 * The fast gradient sign method (Goodfellow, Shlens & Szegedy 2015), an L∞ attack of one
 * gradient step: with g the input gradient of the softmax cross-entropy at x,
 *
 *     untargeted:  x_adv = clip(x + ε·sign(g)),  g for the true label (ascend its loss)
 *     targeted:    x_adv = clip(x − ε·sign(g)),  g for the target (descend its loss)
 *
 * clipped to [0,1] per value, sign(0) = 0. The gradient is that of nnp_grad_loss().
 *
 * With `minimal` set, the attack looks per example for the smallest ε ∈ (0, epsilon] that
 * reaches the goal along this one direction: it tries ε = epsilon first (an example that fails
 * there fails, with x_adv at ε = epsilon), then bisects [0, epsilon] `search_steps` times,
 * keeping the smallest succeeding ε (forward passes only; the gradient is computed once, at x).
 * Success need not be monotone in ε, so this is the upper end of one transition found by
 * bisection, within epsilon / 2^search_steps, not necessarily the global minimum.
 * The result's `c` is the ε of the returned x_adv.
 */
typedef struct nnp_attack_fgsm_opts {
    size_t size;               /**< sizeof(nnp_attack_fgsm_opts), set by the init function */
    double epsilon;            /**< L∞ step, with `minimal` the largest ε tried; in (0, 1]
                                    (default 0.1) */
    int minimal;               /**< 0 (default): one step of size epsilon; 1: the minimal-ε
                                    search described above */
    size_t search_steps;       /**< bisection steps of the minimal-ε search, 1 … 64
                                    (default 16) */
    size_t batch_size;         /**< examples per batched pass, ≥ 1 (default 128) */
    nnp_progress_fn progress;  /**< called after each batched pass with (passes done × examples,
                                    total), or NULL; non-zero cancels */
    void *progress_user;       /**< passed to `progress` */
} nnp_attack_fgsm_opts;

/**
 * @brief Fills the caller's `size` bytes of `opts` with the defaults of
 * ::nnp_attack_fgsm_opts and sets `opts->size = size` (see "Conventions" in nnprobe.h).
 * @param[out] opts  the caller's struct
 * @param[in]  size  sizeof the caller's struct, ≥ sizeof(size_t)
 * @retval NNP_EINVAL `opts` is NULL or size < sizeof(size_t)
 * @par Thread safety Reentrant.
 * @since 0.2.0
 */
NNP_API NNP_NODISCARD nnp_status nnp_attack_fgsm_opts_init_sized(nnp_attack_fgsm_opts *opts,
                                                                 size_t size);
/** @brief nnp_attack_fgsm_opts_init_sized() with the size of the caller's struct. */
#define nnp_attack_fgsm_opts_init(opts) nnp_attack_fgsm_opts_init_sized((opts), sizeof *(opts))

/**
 * @brief FGSM (Goodfellow et al. 2015), L∞, optionally with the minimal-ε search; see
 * ::nnp_attack_fgsm_opts.
 *
 * One batched forward/backward pass per group of opts.batch_size examples (`evaluations` = 1),
 * plus with `minimal` 1 + search_steps batched forward passes (`iterations` counts the ε
 * values tried). Examples whose goal already holds at x get x_adv = x and c = 0.
 * @param[in]  net      classifier (its last layer gives the logits)
 * @param[in]  x        n × nnp_net_input_size() floats, each in [0,1]
 * @param[in]  labels   n true labels; required when `targets` is NULL, else may be NULL
 * @param[in]  targets  n target labels, or NULL for the untargeted attack
 * @param[in]  n        examples, ≥ 1
 * @param[in]  opts     options, or NULL for the defaults
 * @param[out] x_adv    n × nnp_net_input_size() floats, inside [0,1]; may not overlap x
 * @param[out] results  n results (`c` = the ε used)
 * @retval NNP_EINVAL NULL required pointer, n = 0, x outside [0,1] or not finite, a label or
 *         target out of range, an option out of range (the message names the field)
 * @retval NNP_EVERSION opts->size larger than this library's struct with non-zero extra bytes
 * @retval NNP_ECANCELLED the progress callback asked to stop; results[i].finished tells which
 *         examples are complete; the others hold x (not reached yet) or, interrupted in the
 *         minimal search, the point of the smallest ε known to succeed (before that is known:
 *         of ε = epsilon), with `c` that ε
 * @retval NNP_ENOMEM out of memory
 * @retval NNP_ENUMERIC the logits of an example (clean or perturbed) are NaN or infinite: the
 *         message names the example (or the row of an internal batch) and the layer where the
 *         value first became non-finite; no such example is ever counted as a class
 * @par Thread safety Read-only on `net`.
 * @since 0.2.0
 */
NNP_API NNP_NODISCARD nnp_status nnp_attack_fgsm(const nnp_net *net, const float *x,
                                                 const int32_t *labels, const int32_t *targets,
                                                 size_t n, const nnp_attack_fgsm_opts *opts,
                                                 float *x_adv, nnp_attack_result *results);

/** @brief The norm of a perturbation ball (nnp_attack_pgd()). */
typedef enum nnp_attack_norm {
    NNP_ATTACK_NORM_LINF = 0, /**< L∞: max |r_j| ≤ ε */
    NNP_ATTACK_NORM_L2 = 2    /**< L2: sqrt(Σ r_j²) ≤ ε */
} nnp_attack_norm;

/**
 * @brief Options of nnp_attack_pgd(). Initialise with nnp_attack_pgd_opts_init().
 *
 * Projected gradient descent (Madry et al. 2018) on the softmax cross-entropy (ascending the
 * true label's loss, or descending the target's), inside B = {x' : ‖x' − x‖ ≤ ε} ∩ [0,1]^m:
 *
 *     x_0 = x, or with random_start a uniform point of the ε-ball around x, clipped to the box
 *     x_{t+1} = P(x_t ± α·s_t),  s_t = sign(g_t) (L∞)  or  g_t / ‖g_t‖₂ (L2; 0 if g_t = 0)
 *
 * with g_t the loss gradient at x_t (+ untargeted, − targeted) and α = step_size. P is exact
 * for L∞ (clip each value to [max(0, x_j − ε), min(1, x_j + ε)]). For L2 it is the projection
 * onto the ball followed by clipping to the box, as in Madry et al. and Foolbox: the result is
 * inside both sets (clipping towards the box never moves a value away from x), though not always
 * the Euclidean projection onto their intersection.
 *
 * The random start is drawn from a generator seeded by (seed, first_index + index of the
 * example in the call), so it does not depend on the batch size, and a shard of a data set
 * (shard.h) draws for each example what the whole run draws for it. L2: a uniform point of the ball (Gaussian
 * direction, radius ε·u^(1/m)).
 *
 * Returned: the latest iterate x_t (t = 0 … steps) that reaches the goal; if none does, the
 * last iterate x_steps. With steps = 0 nothing runs and x_adv = x; with ε = 0 every iterate is
 * x. All steps run for every example (no early stop). The result's `c` is ε.
 */
typedef struct nnp_attack_pgd_opts {
    size_t size;               /**< sizeof(nnp_attack_pgd_opts), set by the init function */
    nnp_attack_norm norm;      /**< ::NNP_ATTACK_NORM_LINF (default) or ::NNP_ATTACK_NORM_L2 */
    double epsilon;            /**< radius of the ball, finite and ≥ 0 (default 0.1; the scale
                                    differs between norms: an L2 ball of radius ε·sqrt(m)
                                    contains the L∞ ball of radius ε) */
    size_t steps;              /**< gradient steps, 0 … 10^6 (default 40, Madry et al.'s MNIST
                                    setting) */
    double step_size;          /**< α, finite and ≥ 0; 0 (default) means 2.5·ε/steps, the rule of
                                    Madry et al.'s robustness library (enough to cross the ball
                                    and back) */
    int random_start;          /**< 1 (default): start from a random point of the ball; 0: from x */
    uint64_t seed;             /**< seed of the random start (default 1) */
    size_t batch_size;         /**< examples per batched pass, ≥ 1 (default 128) */
    nnp_progress_fn progress;  /**< called after each step with (steps done summed over examples,
                                    n·steps), or NULL; non-zero cancels */
    void *progress_user;       /**< passed to `progress` */
    size_t first_index;        /**< global index of x[0] when the call runs one shard of a
                                    larger set (shard.h): the random starts depend on it
                                    (default 0); @since 0.2.0 */
} nnp_attack_pgd_opts;

/**
 * @brief Fills the caller's `size` bytes of `opts` with the defaults of
 * ::nnp_attack_pgd_opts and sets `opts->size = size` (see "Conventions" in nnprobe.h).
 * @param[out] opts  the caller's struct
 * @param[in]  size  sizeof the caller's struct, ≥ sizeof(size_t)
 * @retval NNP_EINVAL `opts` is NULL or size < sizeof(size_t)
 * @par Thread safety Reentrant.
 * @since 0.2.0
 */
NNP_API NNP_NODISCARD nnp_status nnp_attack_pgd_opts_init_sized(nnp_attack_pgd_opts *opts,
                                                                size_t size);
/** @brief nnp_attack_pgd_opts_init_sized() with the size of the caller's struct. */
#define nnp_attack_pgd_opts_init(opts) nnp_attack_pgd_opts_init_sized((opts), sizeof *(opts))

/**
 * @brief PGD (Madry et al. 2018), L∞ or L2, with random start; see ::nnp_attack_pgd_opts.
 *
 * Each step is one batched forward/backward pass of a group of opts.batch_size examples
 * (`iterations` = `evaluations` = steps, plus one forward pass at the end).
 * @param[in]  net      classifier (its last layer gives the logits)
 * @param[in]  x        n × nnp_net_input_size() floats, each in [0,1]
 * @param[in]  labels   n true labels; required when `targets` is NULL, else may be NULL
 * @param[in]  targets  n target labels, or NULL for the untargeted attack
 * @param[in]  n        examples, ≥ 1
 * @param[in]  opts     options, or NULL for the defaults
 * @param[out] x_adv    n × nnp_net_input_size() floats, inside the ε-ball and [0,1]; may not
 *                      overlap x
 * @param[out] results  n results (`c` = ε)
 * @retval NNP_EINVAL NULL required pointer, n = 0, x outside [0,1] or not finite, a label or
 *         target out of range, an option out of range (the message names the field)
 * @retval NNP_EVERSION opts->size larger than this library's struct with non-zero extra bytes
 * @retval NNP_ECANCELLED the progress callback asked to stop; results[i].finished tells which
 *         examples are complete; the others hold the latest successful iterate, else the
 *         latest complete iterate, else x
 * @retval NNP_ENOMEM out of memory
 * @retval NNP_ENUMERIC the logits of an example (clean or perturbed) are NaN or infinite: the
 *         message names the example (or the row of an internal batch) and the layer where the
 *         value first became non-finite; no such example is ever counted as a class
 * @par Thread safety Read-only on `net`.
 * @since 0.2.0
 */
NNP_API NNP_NODISCARD nnp_status nnp_attack_pgd(const nnp_net *net, const float *x,
                                                const int32_t *labels, const int32_t *targets,
                                                size_t n, const nnp_attack_pgd_opts *opts,
                                                float *x_adv, nnp_attack_result *results);

/**
 * @brief Options of nnp_attack_deepfool(). Initialise with nnp_attack_deepfool_opts_init().
 *
 * DeepFool (Moosavi-Dezfooli, Fawzi & Frossard 2016, Algorithm 2), L2. At the current point x_i
 * with logits z and true label y, for each candidate class k ≠ y: f_k = z_k − z_y and
 * w_k = ∇(z_k − z_y); the nearest boundary of the linearised classifier is
 * l = argmin_k |f_k| / ‖w_k‖₂ and the step r_i = (|f_l| / ‖w_l‖₂ + 10⁻⁴) · w_l / ‖w_l‖₂
 * (the 10⁻⁴, in L2 units, is the authors' published implementation's guard against stalling
 * exactly on a boundary). Then x_{i+1} = clip(x + (1 + overshoot)·Σ_{j≤i} r_j, 0, 1), until the
 * label changes or max_iterations steps. On an affine classifier, if the box does not clip,
 * the first step reaches the exact nearest boundary (times 1 + overshoot, plus 10⁻⁴).
 *
 * The candidates are the `candidates` − 1 classes other than y with the largest logits at x
 * (Foolbox's default considers 10 classes in all); each costs one backward pass per step.
 *
 * Targeted mode (not in the paper; the same linearised step towards one boundary): with c the
 * current arg-max class ≠ target t, f = z_t − z_c, w = ∇(z_t − z_c) and the same step; one
 * backward pass per step; `candidates` is not used.
 *
 * Returned: the first iterate that reaches the goal, else the last iterate. The result's `c`
 * is 0; `evaluations` counts backward passes of the example.
 */
typedef struct nnp_attack_deepfool_opts {
    size_t size;               /**< sizeof(nnp_attack_deepfool_opts), set by the init function */
    size_t max_iterations;     /**< steps per example, 1 … 10^6 (default 50) */
    double overshoot;          /**< η, finite and in [0, 1] (default 0.02, the paper's and
                                    Foolbox's) */
    size_t candidates;         /**< classes considered including the true label, ≥ 2, or 0 for
                                    all; more than the net has means all (default 10) */
    size_t batch_size;         /**< examples per batched pass, ≥ 1 (default 128) */
    nnp_progress_fn progress;  /**< called after each step with (steps done summed over examples,
                                    n·max_iterations; a finished example counts all its steps),
                                    or NULL; non-zero cancels */
    void *progress_user;       /**< passed to `progress` */
} nnp_attack_deepfool_opts;

/**
 * @brief Fills the caller's `size` bytes of `opts` with the defaults of
 * ::nnp_attack_deepfool_opts and sets `opts->size = size` (see "Conventions" in nnprobe.h).
 * @param[out] opts  the caller's struct
 * @param[in]  size  sizeof the caller's struct, ≥ sizeof(size_t)
 * @retval NNP_EINVAL `opts` is NULL or size < sizeof(size_t)
 * @par Thread safety Reentrant.
 * @since 0.2.0
 */
NNP_API NNP_NODISCARD nnp_status nnp_attack_deepfool_opts_init_sized(
    nnp_attack_deepfool_opts *opts, size_t size);
/** @brief nnp_attack_deepfool_opts_init_sized() with the size of the caller's struct. */
#define nnp_attack_deepfool_opts_init(opts) \
    nnp_attack_deepfool_opts_init_sized((opts), sizeof *(opts))

/**
 * @brief DeepFool (Moosavi-Dezfooli et al. 2016), L2, untargeted as in the paper or targeted;
 * see ::nnp_attack_deepfool_opts.
 *
 * Batched: each step is one forward pass and (candidates − 1) backward passes (targeted: one)
 * of the examples of a group still running; examples leave the group once they succeed.
 * @param[in]  net      classifier (its last layer gives the logits)
 * @param[in]  x        n × nnp_net_input_size() floats, each in [0,1]
 * @param[in]  labels   n true labels; required when `targets` is NULL, else may be NULL
 * @param[in]  targets  n target labels, or NULL for the untargeted attack
 * @param[in]  n        examples, ≥ 1
 * @param[in]  opts     options, or NULL for the defaults
 * @param[out] x_adv    n × nnp_net_input_size() floats, inside [0,1]; may not overlap x
 * @param[out] results  n results
 * @retval NNP_EINVAL NULL required pointer, n = 0, x outside [0,1] or not finite, a label or
 *         target out of range, an option out of range (the message names the field)
 * @retval NNP_EVERSION opts->size larger than this library's struct with non-zero extra bytes
 * @retval NNP_ECANCELLED the progress callback asked to stop; results[i].finished tells which
 *         examples are complete; the others hold their latest iterate (or x)
 * @retval NNP_ENOMEM out of memory
 * @retval NNP_ENUMERIC the logits of an example (clean or perturbed) are NaN or infinite: the
 *         message names the example (or the row of an internal batch) and the layer where the
 *         value first became non-finite; no such example is ever counted as a class
 * @par Thread safety Read-only on `net`.
 * @since 0.2.0
 */
NNP_API NNP_NODISCARD nnp_status nnp_attack_deepfool(const nnp_net *net, const float *x,
                                                     const int32_t *labels,
                                                     const int32_t *targets, size_t n,
                                                     const nnp_attack_deepfool_opts *opts,
                                                     float *x_adv, nnp_attack_result *results);

/**
 * @brief Options of nnp_attack_cw(). Initialise with nnp_attack_cw_opts_init().
 *
 * Carlini & Wagner's L2 attack (2017). With the change of variables x' = (tanh(w) + 1)/2,
 * which keeps x' inside [0,1] without constraints, each example minimises over w
 *
 *     ‖x' − x‖₂² + c · max(m(x'), −κ),
 *     m = max_{i≠t} Z_i − Z_t (targeted, target t),   m = Z_y − max_{i≠y} Z_i (untargeted, y)
 *
 * with Z the logits and κ = confidence, by Adam (β₁ = 0.9, β₂ = 0.999, ε̂ = 10⁻⁸) from
 * w₀ = atanh((2x − 1)·(1 − 10⁻⁶)), `steps` steps per value of c. An iterate succeeds when the
 * net's label reaches the goal and m ≤ −κ. The search over c is the paper's: start at c_init;
 * after a value of c with no successful iterate, c ← 10·c while no success has been seen,
 * else the midpoint of the bracket; after a success, c ← the midpoint of [largest failing c,
 * this c] (0 when none fails); binary_search_steps values of c in all. Each value of c starts
 * again from w₀ with a fresh Adam state.
 *
 * With abort_early, an example stops its current value of c when its objective has not fallen
 * below 0.9999 × its value at the previous check (every ⌈steps/10⌉ steps), as in the paper's
 * code; per example here, where the original checks the whole batch.
 *
 * Returned: the successful iterate of least L2 distortion over all values of c, and its c;
 * an example with no success gets the last iterate of the last c.
 */
typedef struct nnp_attack_cw_opts {
    size_t size;               /**< sizeof(nnp_attack_cw_opts), set by the init function */
    double c_init;             /**< first c, finite and > 0 (default 10⁻³, the paper's) */
    size_t binary_search_steps;/**< values of c per example, 1 … 1000 (default 9, the paper's) */
    size_t steps;              /**< Adam steps per value of c, 1 … 10^7 (default 1000; the
                                    paper's code uses 10000) */
    double learning_rate;      /**< Adam's step size on w, finite and > 0 (default 0.01) */
    double confidence;         /**< κ, finite and ≥ 0 (default 0) */
    int abort_early;           /**< 1 (default) or 0: see above */
    size_t batch_size;         /**< examples per batched pass, ≥ 1 (default 128) */
    nnp_progress_fn progress;  /**< called after each Adam step with (steps done summed over
                                    examples, n·binary_search_steps·steps; an aborted value of
                                    c counts all its steps), or NULL; non-zero cancels */
    void *progress_user;       /**< passed to `progress` */
} nnp_attack_cw_opts;

/**
 * @brief Fills the caller's `size` bytes of `opts` with the defaults of ::nnp_attack_cw_opts
 * and sets `opts->size = size` (see "Conventions" in nnprobe.h).
 * @param[out] opts  the caller's struct
 * @param[in]  size  sizeof the caller's struct, ≥ sizeof(size_t)
 * @retval NNP_EINVAL `opts` is NULL or size < sizeof(size_t)
 * @par Thread safety Reentrant.
 * @since 0.2.0
 */
NNP_API NNP_NODISCARD nnp_status nnp_attack_cw_opts_init_sized(nnp_attack_cw_opts *opts,
                                                               size_t size);
/** @brief nnp_attack_cw_opts_init_sized() with the size of the caller's struct. */
#define nnp_attack_cw_opts_init(opts) nnp_attack_cw_opts_init_sized((opts), sizeof *(opts))

/**
 * @brief Carlini–Wagner L2 (2017), targeted or untargeted, with its search over c; see
 * ::nnp_attack_cw_opts.
 *
 * Batched: each Adam step is one forward and one backward pass of the examples of a group
 * still running at the current c; `iterations` counts the example's Adam steps and
 * `evaluations` its forward/backward passes (one more than its steps for each value of c that
 * it left early).
 * @param[in]  net      classifier (its last layer gives the logits)
 * @param[in]  x        n × nnp_net_input_size() floats, each in [0,1]
 * @param[in]  labels   n true labels; required when `targets` is NULL, else may be NULL
 * @param[in]  targets  n target labels, or NULL for the untargeted attack
 * @param[in]  n        examples, ≥ 1
 * @param[in]  opts     options, or NULL for the defaults
 * @param[out] x_adv    n × nnp_net_input_size() floats, inside [0,1]; may not overlap x
 * @param[out] results  n results (`c` = the c of the returned iterate)
 * @retval NNP_EINVAL NULL required pointer, n = 0, x outside [0,1] or not finite, a label or
 *         target out of range, an option out of range (the message names the field)
 * @retval NNP_EVERSION opts->size larger than this library's struct with non-zero extra bytes
 * @retval NNP_ECANCELLED the progress callback asked to stop; results[i].finished tells which
 *         examples are complete; the others hold their best success so far, else the last
 *         iterate of the last completed value of c, else x
 * @retval NNP_ENOMEM out of memory
 * @retval NNP_ENUMERIC the logits of an example (clean or perturbed) are NaN or infinite: the
 *         message names the example (or the row of an internal batch) and the layer where the
 *         value first became non-finite; no such example is ever counted as a class
 * @par Thread safety Read-only on `net`.
 * @since 0.2.0
 */
NNP_API NNP_NODISCARD nnp_status nnp_attack_cw(const nnp_net *net, const float *x,
                                               const int32_t *labels, const int32_t *targets,
                                               size_t n, const nnp_attack_cw_opts *opts,
                                               float *x_adv, nnp_attack_result *results);

#ifdef __cplusplus
}
#endif
#endif
