/* The public face of the safe-write path (nnprobe/file.h): one call for a whole buffer, so
 * that the example programs (which may use only the public API) write through the same code
 * as the library's own savers. */
#include "nnprobe/file.h"

#include "core/core.h"
#include "safewrite.h"

NNP_API nnp_status nnp_file_write(const char *path, const void *data, size_t size)
{
    NNPI_CHECK_NULL(path);
    if (data == NULL && size > 0)
        return nnpi_error(NNP_EINVAL, "%s: data is NULL with size %zu", __func__, size);
    nnpi_wfile *w;
    NNPI_TRY(nnpi_wfile_open(__func__, path, &w));
    nnp_status s = nnpi_wfile_write(w, data, size);
    if (s != NNP_OK) {
        nnpi_wfile_abort(w);
        return s;
    }
    return nnpi_wfile_commit(w);
}

NNP_API nnp_status nnp_file_check_writable(const char *path)
{
    NNPI_CHECK_NULL(path);
    return nnpi_wfile_check(__func__, path);
}
