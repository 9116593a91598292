#include "net/loss.h"

#include <math.h>

double nnpi_softmax_xent(const float *logits, const int32_t *labels, size_t n, size_t classes,
                         float scale, float *dz, float *loss)
{
    double total = 0.0;
    for (size_t i = 0; i < n; i++) {
        const float *z = logits + i * classes;
        /* log-sum-exp shifted by the maximum so no exp overflows */
        float zmax = z[0];
        for (size_t k = 1; k < classes; k++)
            if (z[k] > zmax) zmax = z[k];
        double sum = 0.0;
        for (size_t k = 0; k < classes; k++) sum += exp((double)z[k] - zmax);
        double lse = zmax + log(sum);
        double li = lse - z[labels[i]];
        total += li;
        if (loss) loss[i] = (float)li;
        if (dz) {
            float *d = dz + i * classes;
            for (size_t k = 0; k < classes; k++)
                d[k] = scale * (float)exp((double)z[k] - lse);
            d[labels[i]] -= scale;
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
