/* Command-line helpers shared by the example programs: messages in one format and checked
 * parsing of option values. Each program calls cli_set_prog() first. */
#ifndef NNPROBE_EXAMPLES_CLI_H
#define NNPROBE_EXAMPLES_CLI_H

#include <stddef.h>
#include <stdint.h>

#include <nnprobe/nnprobe.h>

/* Names the program in every message (a string literal or otherwise static). */
void cli_set_prog(const char *prog);

/* "<prog>: <message>" and a hint to --help on stderr (the caller exits with status 2). */
void usage_error(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

/* "<prog>: <what>: <status name>: <nnp_last_error()>" on stderr. */
void lib_error(const char *what, nnp_status s);

/* Parses a decimal integer ≥ min for option `opt`; on error prints a usage error, returns -1. */
int parse_size(const char *opt, const char *s, size_t min, size_t *out);

/* Parses a decimal integer in [0, 2^64) for option `opt`; on error prints a usage error,
 * returns -1. */
int parse_u64(const char *opt, const char *s, uint64_t *out);

/* Parses a finite number for option `opt` (the range is the caller's to check); on error
 * prints a usage error, returns -1. */
int parse_double(const char *opt, const char *s, double *out);

/* Parses up to `max` comma-separated indices ("3,0,7") for option `opt` into out, their count
 * into *n; on error prints a usage error, returns -1. */
int parse_index_list(const char *opt, const char *s, size_t max, size_t *out, size_t *n);

/* Monotonic clock in seconds, for elapsed times. */
double now_seconds(void);

#endif
