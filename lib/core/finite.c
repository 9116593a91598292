/* The finiteness scan every query runs over its input (see core.h). */
#include <math.h>
#include <string.h>

#include "core/core.h"

/* Values per block of the fast scan: the OR over a block's exponent tests is a vectorisable
 * integer reduction (a float sum or isfinite() calls would not vectorise without fast-math),
 * and the exact index is searched only inside a block that failed. */
enum { FINITE_BLOCK = 1024 };

size_t nnpi_first_nonfinite(const float *v, size_t m)
{
    for (size_t s = 0; s < m; s += FINITE_BLOCK) {
        const size_t e = m - s < FINITE_BLOCK ? m - s : FINITE_BLOCK;
        uint32_t bad = 0;
        for (size_t j = 0; j < e; j++) {
            uint32_t bits;
            memcpy(&bits, &v[s + j], sizeof bits);
            /* exponent all ones: infinity or NaN */
            bad |= (uint32_t)((bits & 0x7f800000u) == 0x7f800000u);
        }
        if (bad)
            for (size_t j = 0; j < e; j++)
                if (!isfinite(v[s + j])) return s + j;
    }
    return m;
}

double nnpi_msg_value(float v) { return isnan(v) ? (double)NAN : (double)v; }

nnp_status nnpi_check_finite_input(const float *x, size_t n, size_t d, const char *func,
                                   const char *what)
{
    const size_t m = nnpi_mul(n, d);
    const size_t i = nnpi_first_nonfinite(x, m);
    if (i == m) return NNP_OK;
    return nnpi_error(NNP_EINVAL, "%s: %s[%zu] = %g (example %zu, index %zu) is not finite", func,
                      what, i, nnpi_msg_value(x[i]), i / d, i % d);
}
