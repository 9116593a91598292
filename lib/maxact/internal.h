/* Shared by search.c and optimise.c (and reached by tests/test_maxact.c): checks
 * of direction matrices and the image prior of the input optimisation. Not public. */
#ifndef NNP_PROBE_MAXACT_INTERNAL_H
#define NNP_PROBE_MAXACT_INTERNAL_H

#include <math.h>
#include <stddef.h>

#include "core/core.h"

/* The ranking of nnp_maxact_search() (maxact.h): whether (as, ai) ranks before (bs, bi) — in
 * the top list a larger score, in the bottom list a smaller one; NaN after every number; equal
 * scores (and two NaNs) by the smaller example index. search.c's heaps and merge.c share it,
 * so merged shard lists order ties as the single pass does. */
static inline int nnpi_maxact_ranks_before(float as, size_t ai, float bs, size_t bi, int top)
{
    int an = isnan(as), bn = isnan(bs);
    if (an != bn) return bn;
    if (!an && as != bs) return top ? as > bs : as < bs;
    return ai < bi;
}

/* NNP_EINVAL naming `func`, the row and the column of the first non-finite value of the
 * n_dir × dim matrix `v`. */
nnp_status nnpi_maxact_check_directions(const float *v, size_t n_dir, size_t dim,
                                        const char *func);

/* Penalty P(x) = l2 Σ x² + tv Σ_c Σ_{i,j} (sqrt(dv² + dh² + eps²) − eps) of one c×h×w image
 * (dv, dh: forward differences down and right, 0 past the last row/column), in double.
 * When grad is not NULL it receives dP/dx (c·h·w floats, overwritten). */
double nnpi_maxact_penalty(const float *x, size_t c, size_t h, size_t w, double l2, double tv,
                           double eps, float *grad);

#endif
