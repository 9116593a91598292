#include "net/loss.h"

#include <math.h>

double nnpi_softmax_xent(const float *logits, const int32_t *labels, size_t n, size_t classes,
                         float scale, float *dz, float *loss)
{
    double total = 0.0;
    for (size_t i = 0; i < n; i++) {
        const float *z = logits + i * classes;
        const size_t y = (size_t)labels[i];
        /* sums of exp shifted by the maximum, so no exp overflows */
        float zmax = z[0];
        for (size_t k = 1; k < classes; k++)
            if (z[k] > zmax) zmax = z[k];
        double s_other = 0.0;
        for (size_t k = 0; k < classes; k++)
            if (k != y) s_other += exp((double)z[k] - zmax);
        const double s_y = exp((double)z[y] - zmax), sum = s_y + s_other;
        /* loss = log(sum/s_y) = log1p(s_other/s_y): exact for confident examples, where
         * lse − z_y would cancel to 0; lse − z_y only when s_y underflows */
        const double li = s_y > 1e-300 ? log1p(s_other / s_y) : zmax + log(sum) - z[y];
        total += li;
        if (loss) loss[i] = (float)li;
        if (dz) {
            /* softmax − onehot; the true class's entry is −Σ_{k≠y} p_k rather than p_y − 1,
             * which would round to 0 once p_y rounds to 1 */
            float *d = dz + i * classes;
            for (size_t k = 0; k < classes; k++)
                d[k] = k == y ? (float)(-(double)scale * s_other / sum)
                              : (float)((double)scale * exp((double)z[k] - zmax) / sum);
        }
    }
    return total;
}

double nnpi_half_squared_error(const float *y, const float *target, size_t n, size_t size,
                               float scale, float *dz)
{
    double total = 0.0;
    const size_t m = n * size;
    for (size_t j = 0; j < m; j++) {
        float d = y[j] - target[j];
        total += 0.5 * (double)d * d;
        if (dz) dz[j] = scale * d;
    }
    return total;
}

size_t nnpi_first_bad_label(const int32_t *labels, size_t n, size_t classes)
{
    for (size_t i = 0; i < n; i++)
        if (labels[i] < 0 || (size_t)labels[i] >= classes) return i;
    return n;
}
