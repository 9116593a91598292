/* CLEVER-style local Lipschitz estimate (lib/lipschitz/clever.c): the reverse Weibull fit of
 * batch maxima of sampled gradient norms. Internal; the public entry point is
 * nnp_lipschitz_clever() in lipschitz.h. */
#ifndef NNP_PROBE_LIP_CLEVER_H
#define NNP_PROBE_LIP_CLEVER_H

#include <stddef.h>

#include "core/core.h"

/* Maximum-likelihood fit of the reverse Weibull distribution
 * F(y) = exp(−((μ − y)/σ)^k), y < μ, to n ≥ 1 samples, with the shape restricted to
 * 1 ≤ k ≤ 1000 (for k < 1 the likelihood is unbounded as μ → max y). σ is profiled out
 * (σ^k = mean (μ − y_i)^k); (μ, k) by a grid over log(μ − max y) and log k refined by golden
 * section. All samples equal: μ = that value. Writes μ, k, σ (any may be NULL but mu). */
void nnpi_reverse_weibull_fit(const double *y, size_t n, double *mu, double *k, double *sigma);

#endif
