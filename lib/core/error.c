/* Status names and the thread-local error message. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core.h"
#include "nnprobe/status.h"

#define NNPI_MSG_CAP 1024

static _Thread_local char last_error[NNPI_MSG_CAP];

static const struct {
    const char *name;
    const char *text;
} status_table[] = {
    {"NNP_OK", "success"},
    {"NNP_EINVAL", "invalid argument"},
    {"NNP_ENOMEM", "out of memory"},
    {"NNP_EIO", "input/output error"},
    {"NNP_EFORMAT", "malformed input"},
    {"NNP_EVERSION", "options struct newer than the library"},
    {"NNP_ECANCELLED", "cancelled by the progress callback"},
    {"NNP_EUNSUPPORTED", "not supported"},
    {"NNP_ENUMERIC", "non-finite value in a computation"},
};
#define STATUS_COUNT ((int)(sizeof status_table / sizeof status_table[0]))

NNP_API int nnp_status_count(void) { return STATUS_COUNT; }

NNP_API const char *nnp_status_str(nnp_status status)
{
    int s = (int)status;
    return (s >= 0 && s < STATUS_COUNT) ? status_table[s].text : "unknown status";
}

NNP_API const char *nnp_status_name(nnp_status status)
{
    int s = (int)status;
    return (s >= 0 && s < STATUS_COUNT) ? status_table[s].name : "NNP_UNKNOWN";
}

NNP_API const char *nnp_last_error(void) { return last_error; }

nnp_status nnpi_error(nnp_status status, const char *fmt, ...)
{
    /* formatted, then escaped: the arguments often hold names or paths taken from files, and
     * escaping here, once, covers every message (nnpi_error_prefix keeps the escaped text) */
    char raw[NNPI_MSG_CAP];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    nnpi_escape(last_error, sizeof last_error, raw);
    return status;
}

nnp_status nnpi_error_prefix(nnp_status status, const char *fmt, ...)
{
    char prefix[256];
    char old[NNPI_MSG_CAP];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(old, sizeof old, fmt, ap); /* `old` as scratch until the copy below */
    va_end(ap);
    nnpi_escape(prefix, sizeof prefix, old);
    memcpy(old, last_error, sizeof old);
    /* "<prefix>: <old>", cut at the buffer's end (by hand: snprintf would warn about it) */
    size_t len = strlen(prefix);
    memcpy(last_error, prefix, len + 1);
    if (len + 2 < sizeof last_error) {
        memcpy(last_error + len, ": ", 3);
        len += 2;
        size_t room = sizeof last_error - 1 - len, olen = strlen(old);
        if (olen > room) olen = room;
        memcpy(last_error + len, old, olen);
        last_error[len + olen] = '\0';
    }
    return status;
}
