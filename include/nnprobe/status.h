/**
 * @file status.h
 * @brief Status codes, the thread-local error message, progress callbacks, memory release.
 *
 * Every fallible function returns an ::nnp_status. On failure it also sets a message for the
 * calling thread, read with nnp_last_error(). Success leaves the message untouched, so check
 * the status first.
 */
#ifndef NNPROBE_STATUS_H
#define NNPROBE_STATUS_H

#include <stddef.h>
#include <stdint.h>
#include "export.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * @brief Result of every fallible call. Values are pinned and never reused; new codes are
 * only appended.
 */
typedef enum nnp_status {
    NNP_OK = 0,           /**< success */
    NNP_EINVAL = 1,       /**< invalid argument: NULL pointer, index or value out of range */
    NNP_ENOMEM = 2,       /**< memory allocation failed */
    NNP_EIO = 3,          /**< a file could not be opened, read or written */
    NNP_EFORMAT = 4,      /**< malformed input file or buffer */
    NNP_EVERSION = 5,     /**< options struct from a newer header with non-zero extra fields */
    NNP_ECANCELLED = 6,   /**< a progress callback asked to stop */
    NNP_EUNSUPPORTED = 7, /**< valid request the library does not implement */
    NNP_ENUMERIC = 8      /**< a computation produced NaN or infinity */
} nnp_status;

/** @brief Number of status codes (one past the largest value), for FFI callers.
 *  @since 0.2.0 */
NNP_API int nnp_status_count(void);

/**
 * @brief Human-readable description of a status code, e.g. "invalid argument".
 * @param[in] status any value; unknown values give "unknown status".
 * @par Ownership Static storage; never free it.
 * @par Thread safety Safe from any thread.
 * @since 0.2.0
 */
NNP_API const char *nnp_status_str(nnp_status status);

/**
 * @brief Symbolic name of a status code, e.g. "NNP_EINVAL" (handy in logs and tests).
 * @param[in] status any value; unknown values give "NNP_UNKNOWN".
 * @par Ownership Static storage; never free it.
 * @par Thread safety Safe from any thread.
 * @since 0.2.0
 */
NNP_API const char *nnp_status_name(nnp_status status);

/**
 * @brief Message describing the last failure on the calling thread, with context
 * (e.g. `idx: images.idx: file truncated: expected 47040016 bytes, got 1000`).
 *
 * Empty string if no call has failed on this thread yet.
 * @par Ownership Owned by the library, valid until the next nnp_ call on the same thread;
 * never free it.
 * @par Thread safety Each thread has its own message.
 * @since 0.2.0
 */
NNP_API const char *nnp_last_error(void);

/**
 * @brief Progress callback for long operations.
 * @param done   units of work finished so far
 * @param total  units of work in all (constant during one operation)
 * @param user   the pointer the caller gave together with the callback
 * @return 0 to continue, non-zero to cancel: the operation stops as soon as it can and
 *         returns ::NNP_ECANCELLED, leaving its outputs in the consistent state it documents.
 */
typedef int (*nnp_progress_fn)(uint64_t done, uint64_t total, void *user);

#ifdef __cplusplus
}
#endif
#endif
