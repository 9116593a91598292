/**
 * @file file.h
 * @brief Writing files safely: the one write path of the library, offered to callers.
 *
 * Every file the library writes (nnp_dataset_save_idx(), nnp_net_save_onnx()) and every file
 * the example programs write (PNG figures, CSV/JSON results, reports) goes through the same
 * code, which nnp_file_write() exposes:
 *
 * - A regular file, a symbolic link that ends (through any chain) at one, or a path that does
 *   not exist yet is **replaced atomically**: the data goes to a new temporary file
 *   `<target>.tmp<pid>.<n>` created exclusively in the final target's directory, every byte
 *   written is checked (short writes and EINTR retried), the file is fsync'ed and renamed over
 *   the target. A symlink stays a symlink; its target gets the new content. An existing file
 *   keeps its permission bits (and its group/owner where the caller may set them); a new file
 *   gets 0666 less the umask, as fopen() gives. On any failure the old file is intact and the
 *   temporary file removed.
 * - Anything else that exists — a character device (`/dev/null`, `/dev/full`), a FIFO, a
 *   socket, `/dev/stdout` and other `/dev/fd/N` names — is **written in place**: opened for
 *   writing without O_CREAT or O_TRUNC, never renamed over and never removed.
 * - A directory is refused.
 *
 * Error messages carry the function, the path and `strerror(errno)`.
 */
#ifndef NNPROBE_FILE_H
#define NNPROBE_FILE_H

#include <stddef.h>

#include "export.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * @brief Writes `size` bytes to `path` as described in file.h: an atomic replacement for a
 * regular file (or a symlink to one, or a new file), in place for a device or FIFO.
 * @param[in] path  file to write
 * @param[in] data  the bytes (may be NULL when `size` is 0)
 * @param[in] size  number of bytes
 * @retval NNP_EINVAL NULL path, NULL data with size > 0, or an empty path
 * @retval NNP_EIO    the path cannot be written (message: path, step and strerror); a regular
 *                    file that was there is unchanged
 * @retval NNP_ENOMEM out of memory
 * @par Thread safety Safe to call concurrently, also for the same path (each call has its own
 * temporary file; the last rename wins).
 * @since 0.2.0
 */
NNP_API NNP_NODISCARD nnp_status nnp_file_write(const char *path, const void *data, size_t size);

/**
 * @brief Checks, before any long work, that nnp_file_write() could write `path`: for a file
 * to be replaced or created, that its directory exists and is writable; for a device or FIFO,
 * that it is writable. Nothing is created. A later write can still fail (disk full, the
 * directory removed meanwhile); this only catches a wrong path early.
 * @retval NNP_EINVAL NULL or empty path
 * @retval NNP_EIO    it could not be written (message: path, reason, strerror)
 * @retval NNP_ENOMEM out of memory
 * @par Thread safety Safe to call concurrently.
 * @since 0.2.0
 */
NNP_API NNP_NODISCARD nnp_status nnp_file_check_writable(const char *path);

#ifdef __cplusplus
}
#endif
#endif
