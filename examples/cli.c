/* The command-line module of the example programs (see cli.h): messages and option parsing;
 * cli-run.c holds data loading, progress, Ctrl-C and the clock. */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *prog_name = "nnprobe";

void cli_set_prog(const char *prog) { prog_name = prog; }

const char *cli_prog(void) { return prog_name; }

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

int cli_status_rc(nnp_status s)
{
    return s == NNP_OK ? CLI_OK : s == NNP_ECANCELLED ? CLI_INTERRUPTED : CLI_FAILURE;
}

/* ---- option values ---- */

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

int parse_double_min(const char *opt, const char *s, double lo, double *out)
{
    double v;
    if (parse_double(opt, s, &v)) return -1;
    if (v < lo) {
        usage_error("%s: '%s' is not a finite number >= %g", opt, s, lo);
        return -1;
    }
    *out = v;
    return 0;
}

int parse_double_in(const char *opt, const char *s, double lo, int lo_open, double hi,
                    int hi_open, const char *range, double *out)
{
    double v;
    if (parse_double(opt, s, &v)) return -1;
    if ((lo_open ? !(v > lo) : !(v >= lo)) || (hi_open ? !(v < hi) : !(v <= hi))) {
        usage_error("%s: must be %s, got %s", opt, range, s);
        return -1;
    }
    *out = v;
    return 0;
}

int parse_double_list(const char *opt, const char *s, size_t max, double lo, double *out,
                      size_t *n)
{
    char buf[64];
    for (*n = 0;; s++) {
        size_t len = strcspn(s, ",");
        if (*n == max) {
            usage_error("%s: more than %zu values", opt, max);
            return -1;
        }
        if (len == 0 || len >= sizeof buf) {
            usage_error("%s: not a comma-separated list of numbers", opt);
            return -1;
        }
        memcpy(buf, s, len);
        buf[len] = '\0';
        if (parse_double(opt, buf, &out[*n])) return -1;
        if (out[(*n)++] < lo) {
            usage_error("%s: each value must be >= %g, got %s", opt, lo, buf);
            return -1;
        }
        s += len;
        if (*s == '\0') return 0;
    }
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

int cli_parse_shard(const char *opt, const char *s, size_t *index, size_t *count)
{
    const char *slash = strchr(s, '/');
    char head[32];
    if (slash == NULL || (size_t)(slash - s) >= sizeof head) {
        usage_error("%s: '%s' is not I/N (shard I of N, 0 <= I < N)", opt, s);
        return -1;
    }
    memcpy(head, s, (size_t)(slash - s));
    head[slash - s] = '\0';
    if (parse_size(opt, head, 0, index) || parse_size(opt, slash + 1, 1, count)) return -1;
    if (*index >= *count) {
        usage_error("%s: shard %zu of %zu: shards are numbered 0..%zu", opt, *index, *count,
                    *count - 1);
        return -1;
    }
    return 0;
}

int parse_choice(const char *opt, const char *s, const char *const *names, int n)
{
    char list[256] = "";
    for (int i = 0; i < n; i++) {
        if (strcasecmp(s, names[i]) == 0) return i;
        size_t len = strlen(list);
        snprintf(list + len, sizeof list - len, "%s%s", i == 0 ? "" : i + 1 < n ? ", " : " or ",
                 names[i]);
    }
    usage_error("%s: '%s' is not %s", opt, s, list);
    return -1;
}

void cli_table_long_opts(const cli_table_opt *t, size_t n, int base_val, struct option *out)
{
    for (size_t i = 0; i < n; i++)
        out[i] = (struct option){t[i].name, t[i].kind == CLI_FLAG ? no_argument : required_argument,
                                 NULL, base_val + (int)i};
    out[n] = (struct option){NULL, 0, NULL, 0};
}

int cli_table_set(const cli_table_opt *t, const char *arg, void *base)
{
    char opt[64];
    snprintf(opt, sizeof opt, "--%s", t->name);
    size_t z = 0;
    double d = 0;
    if (t->kind == CLI_SIZE && parse_size(opt, arg, t->min, &z)) return -1;
    if (t->kind == CLI_DOUBLE && parse_double(opt, arg, &d)) return -1;
    for (size_t f = 0; f < t->n_fields; f++) {
        char *p = (char *)base + t->field[f];
        switch (t->kind) { /* memcpy: the fields need not be aligned for these types' pointers */
        case CLI_SIZE: memcpy(p, &z, sizeof z); break;
        case CLI_DOUBLE: memcpy(p, &d, sizeof d); break;
        case CLI_FLAG: {
            int v = (int)t->min;
            memcpy(p, &v, sizeof v);
            break;
        }
        case CLI_STRING: memcpy(p, &arg, sizeof arg); break;
        }
    }
    return 0;
}

/* ---- common options and data ---- */

void cli_common_init(cli_common *c)
{
    memset(c, 0, sizeof *c);
    c->data_dir = CLI_DEFAULT_DATA_DIR;
    c->seed = 1;
}

int cli_common_option(cli_common *c, int opt, const char *arg)
{
    switch (opt) {
    case CLI_OPT_TRAIN_IMAGES: case CLI_OPT_TRAIN_LABELS: case CLI_OPT_TEST_IMAGES:
    case CLI_OPT_TEST_LABELS:
        c->file[opt - CLI_OPT_TRAIN_IMAGES] = arg;
        c->data_given = 1;
        return CLI_NEXT;
    case CLI_OPT_DATA_DIR: c->data_dir = arg; c->data_given = 1; return CLI_NEXT;
    case CLI_OPT_SEED: return parse_u64("--seed", arg, &c->seed) ? CLI_USAGE : CLI_NEXT;
    case CLI_OPT_QUIET: c->quiet = 1; return CLI_NEXT;
    case CLI_OPT_SHARD: return cli_parse_shard("--shard", arg, &c->shard_index, &c->shard_count)
                                   ? CLI_USAGE : CLI_NEXT;
    case CLI_OPT_THREADS: {
        uint64_t n;
        if (parse_u64("--threads", arg, &n)) return CLI_USAGE;
        if (n == 0 || n > 1024 || nnp_threads_set((size_t)n) != NNP_OK) {
            fprintf(stderr, "%s: --threads must be 1 to 1024, not %s\n", prog_name, arg);
            return CLI_USAGE;
        }
        return CLI_NEXT;
    }
    case 'V':
        printf("%s (libnnprobe) %s (threads %zu)\n", prog_name, nnp_version_string(),
               nnp_threads_get());
        return CLI_OK;
    case '?': /* getopt_long has said what is wrong */
        fprintf(stderr, "Try '%s --help' for more information.\n", prog_name);
        return CLI_USAGE;
    default: return cli_data_option(c, opt, arg);
    }
}

int cli_next_option(int argc, char **argv, const cli_options *o, cli_common *cm, void *base,
                    int *exit_rc)
{
    enum { TABLE = 1000, MAX_OPTS = 96 };
    static const struct option files[] = {CLI_LONG_FILES}, dir[] = {
        {"data-dir", required_argument, NULL, CLI_OPT_DATA_DIR}}, common[] = {CLI_LONG_COMMON},
        probe[] = {{"data", required_argument, NULL, CLI_OPT_DATA},
                   {"labels", required_argument, NULL, CLI_OPT_LABELS},
                   {"mean", required_argument, NULL, CLI_OPT_MEAN},
                   {"std", required_argument, NULL, CLI_OPT_STD},
                   {"normalize", required_argument, NULL, CLI_OPT_NORMALIZE}};
    /* getopt_long wants one array; built on the first call (each program has one `o`) */
    static struct option all[MAX_OPTS];
    static const cli_options *built = NULL;
    if (built != o) {
        size_t n = 0, n_own = 0;
        while (o->own && o->own[n_own].name) n_own++;
        memcpy(all, common, sizeof common);
        n += sizeof common / sizeof *common;
        if (o->data >= CLI_DATA_FILES) memcpy(all + n, files, sizeof files), n += 4;
        if (o->data == CLI_DATA_DIR) all[n++] = dir[0];
        if (o->probe) memcpy(all + n, probe, sizeof probe), n += sizeof probe / sizeof *probe;
        if (n + n_own + o->n_table >= MAX_OPTS) abort(); /* a programming error */
        if (n_own) memcpy(all + n, o->own, n_own * sizeof *all);
        cli_table_long_opts(o->table, o->n_table, TABLE, all + n + n_own);
        built = o;
    }
    int c;
    while ((c = getopt_long(argc, argv, "hV", all, NULL)) != -1) {
        int r = cli_common_option(cm, c, optarg);
        if (r >= 0) {
            *exit_rc = r;
            return -1;
        }
        if (r == CLI_NEXT) continue;
        if (c < TABLE) return c;
        if (cli_table_set(&o->table[c - TABLE], optarg, base)) {
            *exit_rc = CLI_USAGE;
            return -1;
        }
    }
    return -1;
}
