/* Merging error rates of shards (nnp_eval_merge_rates, eval.h): back to counts, summed. */
#include <math.h>

#include "core/core.h"
#include "nnprobe/eval.h"

NNP_API nnp_status nnp_eval_merge_rates(const double *rates, const size_t *counts,
                                        size_t n_parts, size_t cells, double *merged)
{
    const char *f = "nnp_eval_merge_rates";
    NNPI_CHECK_NULL(rates);
    NNPI_CHECK_NULL(counts);
    NNPI_CHECK_NULL(merged);
    if (n_parts == 0 || cells == 0)
        return nnpi_error(NNP_EINVAL, "%s: n_parts = %zu, cells = %zu: each must be >= 1", f,
                          n_parts, cells);
    size_t total = 0;
    for (size_t p = 0; p < n_parts; p++) {
        if (counts[p] == 0) return nnpi_error(NNP_EINVAL, "%s: counts[%zu] is 0", f, p);
        if (counts[p] > (size_t)1 << 52 || total > ((size_t)1 << 52) - counts[p])
            return nnpi_error(NNP_EINVAL, "%s: more than 2^52 examples", f);
        total += counts[p];
    }
    for (size_t c = 0; c < cells; c++) {
        size_t wrong = 0;
        for (size_t p = 0; p < n_parts; p++) {
            const double r = rates[p * cells + c], e = r * (double)counts[p];
            /* r = fl(w/n): r·n is within a few ulps of the integer w */
            const double w = nearbyint(e);
            if (!(r >= 0.0 && r <= 1.0) || fabs(e - w) > 1e-6)
                return nnpi_error(NNP_EINVAL, "%s: rates[%zu] = %.17g (part %zu, cell %zu) is not "
                                  "a whole number of errors out of %zu examples", f,
                                  p * cells + c, r, p, c, counts[p]);
            wrong += (size_t)w;
        }
        merged[c] = (double)wrong / (double)total;
    }
    return NNP_OK;
}
