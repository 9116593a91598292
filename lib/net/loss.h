/* Losses on the net's output, shared by the gradient queries (lib/grad) and training. */
#ifndef NNP_LOSS_H
#define NNP_LOSS_H

#include <stddef.h>
#include <stdint.h>

/* Softmax cross-entropy per example: loss_i = logsumexp(z_i) − z_i[y_i] (double), and its
 * gradient dz_i = scale · (softmax(z_i) − onehot(y_i)) when dz is not NULL. Labels must be
 * valid (0 ≤ y < classes). Returns the sum of the losses; writes loss_i when `loss` is not
 * NULL. */
double nnpi_softmax_xent(const float *logits, const int32_t *labels, size_t n, size_t classes,
                         float scale, float *dz, float *loss);

/* Squared error ½ Σ_j (y_j − t_j)² per example, gradient dz = scale · (y − t). Returns the
 * sum over the batch. */
double nnpi_half_squared_error(const float *y, const float *target, size_t n, size_t size,
                               float scale, float *dz);

/* Index of the first checked label that lies outside [0, classes), or n if all are valid. */
size_t nnpi_first_bad_label(const int32_t *labels, size_t n, size_t classes);

#endif
