#define _POSIX_C_SOURCE 200809L
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

int parse_u64(const char *opt, const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    if (s[0] < '0' || s[0] > '9') {
        usage_error("%s: '%s' is not a non-negative integer", opt, s);
        return -1;
    }
    unsigned long long v = strtoull(s, &end, 10);
    if (*end != '\0' || errno == ERANGE) {
        usage_error("%s: '%s' is not an integer in [0, 2^64)", opt, s);
        return -1;
    }
    *out = (uint64_t)v;
    return 0;
}

int parse_double(const char *opt, const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || !isfinite(v)) {
        usage_error("%s: '%s' is not a finite number", opt, s);
        return -1;
    }
    *out = v;
    return 0;
}

double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int parse_index_list(const char *opt, const char *s, size_t max, size_t *out, size_t *n)
{
    char buf[32];
    for (*n = 0;; s++) {
        size_t len = strcspn(s, ",");
        if (*n == max || len == 0 || len >= sizeof buf) {
            usage_error("%s: expected up to %zu comma-separated indices", opt, max);
            return -1;
        }
        memcpy(buf, s, len);
        buf[len] = '\0';
        if (parse_size(opt, buf, 0, &out[(*n)++])) return -1;
        s += len;
        if (*s == '\0') return 0;
    }
}
