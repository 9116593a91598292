/* Internal: the one way the library writes a file (IDX, ONNX, and through nnp_file_write()
 * everything the example programs write). Not part of the public API.
 *
 * What is written to depends on what the path names, found when the file is opened:
 * - a regular file, a symbolic link (chain) ending at one, or nothing yet: the data goes to a
 *   new temporary file "<target>.tmp<pid>.<n>" (O_EXCL) in the final target's directory, which
 *   nnpi_wfile_commit() flushes, fsyncs and renames over the target. The target of a symlink
 *   is replaced, the link itself kept. An existing file's permission bits are kept; a new file
 *   gets 0666 less the umask, as fopen() would give it. Until the rename the old file is
 *   untouched; on any failure the temporary file is removed.
 * - anything else that exists (character device, FIFO, socket, /dev/stdout and other /proc
 *   magic links): opened for writing in place (no O_CREAT, no O_TRUNC) and written; such a
 *   path is never renamed over or removed.
 * A directory is refused. Every error message is "<who>: <path>: <what>: <strerror>". */
#ifndef NNP_IO_SAFEWRITE_H
#define NNP_IO_SAFEWRITE_H

#include <stddef.h>

#include "nnprobe/status.h"

typedef struct nnpi_wfile nnpi_wfile;

/* NNP_EIO with the message "<who>: <path>: <what>: <strerror(err)>" ("unknown error" for
 * err 0): the one form of every file error of lib/io, reading or writing. */
nnp_status nnpi_io_error(const char *who, const char *path, const char *what, int err);

/* Opens `path` for writing as above; `who` (static string) starts every message. */
nnp_status nnpi_wfile_open(const char *who, const char *path, nnpi_wfile **out);

/* Writes all `n` bytes (retrying short writes and EINTR). */
nnp_status nnpi_wfile_write(nnpi_wfile *w, const void *data, size_t n);

/* Flushes to disk and gives the data its final name; frees `w` whatever happens. On failure
 * the temporary file is removed and the target is as it was. */
nnp_status nnpi_wfile_commit(nnpi_wfile *w);

/* Closes and removes the temporary file (never the target); frees `w`. NULL is a no-op. */
void nnpi_wfile_abort(nnpi_wfile *w);

/* Whether `path` could be opened by nnpi_wfile_open(): for a replaced file its directory
 * exists and is writable, for an in-place one it is writable. NNP_EIO with the reason. */
nnp_status nnpi_wfile_check(const char *who, const char *path);

#endif
