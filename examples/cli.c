#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static const char *prog_name = "nnprobe";

void cli_set_prog(const char *prog) { prog_name = prog; }

void usage_error(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", prog_name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry '%s --help' for more information.\n", prog_name);
}

void lib_error(const char *what, nnp_status s)
{
    fprintf(stderr, "%s: %s: %s: %s\n", prog_name, what, nnp_status_name(s), nnp_last_error());
}

int parse_size(const char *opt, const char *s, size_t min, size_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = (s[0] >= '0' && s[0] <= '9') ? strtoull(s, &end, 10) : 0;
    if (s[0] < '0' || s[0] > '9' || *end != '\0') {
        usage_error("%s: '%s' is not a non-negative integer", opt, s);
        return -1;
    }
    if (errno == ERANGE || v > SIZE_MAX) {
        usage_error("%s: '%s' is too large", opt, s);
        return -1;
    }
    if (v < min) {
        usage_error("%s: must be at least %zu, got %s", opt, min, s);
        return -1;
    }
    *out = (size_t)v;
    return 0;
}
