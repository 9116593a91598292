/* Box-constrained limited-memory BFGS, batched: many independent problems min f_i(x_i) subject
 * to lo <= x_i <= hi are optimised together; every round evaluates all still-active problems'
 * trial points in ONE callback (one batched forward/backward pass in the attacks). Internal:
 * the attack module wraps it; no public header.
 *
 * Method (projected quasi-Newton with an active set, see lbfgs.c for the sources):
 *  - bounds are kept exactly: every trial point is P[x + t·p], P the projection on the box;
 *    the start is projected too, so f is never evaluated outside the box;
 *  - variables at a bound with the gradient pushing outward form the active set of the step
 *    and stay fixed; the two-loop L-BFGS recursion acts on the free variables only (an
 *    active-set step, not L-BFGS-B's generalized Cauchy point + subspace minimisation);
 *  - projected backtracking (Armijo) line search along the projected path;
 *  - curvature pairs are kept only when s'y > eps·y'y; steepest-descent restart (history
 *    cleared) when the direction is not a descent direction or the line search stalls;
 *  - objective values and all dot products in double; x and gradients in float.
 * Problems are independent: solving them together or one at a time gives bitwise the same
 * result, provided the callback evaluates each problem independently of the others. */
#ifndef NNP_PROBE_OPTIM_LBFGS_H
#define NNP_PROBE_OPTIM_LBFGS_H

#include <stddef.h>

#include "core/core.h"

/* Evaluates f and its gradient for the `n_active` problems listed in `ids` (increasing problem
 * indices, 0-based): x is n_active × d (row k belongs to problem ids[k]), f receives n_active
 * values, g n_active × d. Returning anything but NNP_OK aborts the optimisation with that status
 * (the callback sets the message). A non-finite f or g counts as a failed trial point. */
typedef nnp_status (*nnpi_batch_fg)(void *ctx, size_t n_active, const size_t *ids,
                                    const float *x, double *f, float *g);

typedef struct nnpi_lbfgs_opts {
    size_t m;         /* history size (curvature pairs kept), >= 1; default 10 */
    size_t max_iter;  /* accepted steps per problem, >= 1; default 15000 */
    size_t max_evals; /* f/g evaluations per problem (the start included), >= 1; default 15000 */
    double pgtol;     /* stop when ||P[x - g] - x||_inf <= pgtol, >= 0; default 1e-5 */
    double ftol;      /* stop when (f_old - f_new) <= ftol·max(|f_old|, |f_new|, 1), >= 0;
                         default 2.2e-9 (SciPy's factr 1e7 × machine epsilon); with 0 it
                         stops only on a step that leaves f unchanged in double */
} nnpi_lbfgs_opts;

/* Why a problem stopped. */
typedef enum nnpi_lbfgs_stop {
    NNPI_LBFGS_RUNNING = 0,  /* not finished (the run was aborted by the callback) */
    NNPI_LBFGS_PGTOL,        /* projected gradient small: converged */
    NNPI_LBFGS_FTOL,         /* relative decrease of f small: converged */
    NNPI_LBFGS_MAX_ITER,     /* iteration budget spent */
    NNPI_LBFGS_MAX_EVALS,    /* evaluation budget spent */
    NNPI_LBFGS_STALLED,      /* no decrease even along steepest descent (float resolution) */
    NNPI_LBFGS_NONFINITE     /* f or g at the start point is NaN or infinite */
} nnpi_lbfgs_stop;

typedef struct nnpi_lbfgs_result {
    double f;               /* objective at the returned x */
    size_t iterations;      /* accepted steps */
    size_t evaluations;     /* f/g evaluations, the start point included */
    int converged;          /* stop is PGTOL or FTOL */
    nnpi_lbfgs_stop stop;
} nnpi_lbfgs_result;

void nnpi_lbfgs_opts_default(nnpi_lbfgs_opts *o);

/* Minimises n problems of dimension d. x (n × d) holds the start points on entry and the
 * solutions on return; lo and hi (d each, shared by all problems; -INFINITY/INFINITY allowed)
 * bound every problem. `o` NULL means defaults. `res` (n entries) may be NULL.
 * Returns NNP_EINVAL (with a message) for bad arguments, NNP_ENOMEM, or the callback's status;
 * in the last case x holds each problem's last accepted iterate and res its state so far.
 * All memory is allocated before the first evaluation. */
nnp_status nnpi_lbfgsb_minimize(size_t n, size_t d, float *x, const float *lo, const float *hi,
                                nnpi_batch_fg fg, void *ctx, const nnpi_lbfgs_opts *o,
                                nnpi_lbfgs_result *res);

#endif
