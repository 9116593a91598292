/* Shared by search.c and optimise.c (and reached by tests/test_maxact.c): checks
 * of direction matrices and the image prior of the input optimisation. Not public. */
#ifndef NNP_PROBE_MAXACT_INTERNAL_H
#define NNP_PROBE_MAXACT_INTERNAL_H

#include <stddef.h>

#include "core/core.h"

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
