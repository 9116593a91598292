/* Shard ranges (include/nnprobe/shard.h): contiguous runs of whole blocks of `granule`
 * examples, dealt out in order. */
#include "core.h"
#include "nnprobe/shard.h"

NNP_API nnp_status nnp_shard_range(size_t n, size_t index, size_t count, size_t granule,
                                   size_t *first, size_t *length)
{
    NNPI_CHECK_NULL(first);
    NNPI_CHECK_NULL(length);
    if (n == 0 || count == 0 || granule == 0)
        return nnpi_error(NNP_EINVAL, "nnp_shard_range: n = %zu, count = %zu, granule = %zu: "
                          "each must be >= 1", n, count, granule);
    if (index >= count)
        return nnpi_error(NNP_EINVAL, "nnp_shard_range: index %zu is not a shard 0..%zu", index,
                          count - 1);
    const size_t blocks = n / granule + (n % granule != 0);
    /* ⌊i·B/count⌋ without overflowing i·B: B = q·count + r */
    const size_t q = blocks / count, r = blocks % count;
    const size_t b0 = index * q + index * r / count;
    const size_t b1 = (index + 1) * q + (index + 1) * r / count;
    const size_t s = b0 * granule < n && b0 <= SIZE_MAX / granule ? b0 * granule : n;
    const size_t e = b1 <= SIZE_MAX / granule && b1 * granule < n ? b1 * granule : n;
    *first = s;
    *length = e - s;
    return NNP_OK;
}
