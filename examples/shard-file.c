/* Shard files (see shard-file.h). */
#include "shard-file.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* FNV-1a, 64 bits (Fowler, Noll, Vo; the constants of draft-eastlake-fnv). */
static uint64_t fnv(uint64_t h, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 0x100000001b3u;
    return h;
}

/* Whether argument a is option `name` with its value attached ("--name=v"), 2; alone, 1. */
static int is_option(const char *a, const char *name)
{
    size_t n = strlen(name);
    if (strncmp(a, name, n) != 0) return 0;
    return a[n] == '=' ? 2 : a[n] == '\0';
}

uint64_t shard_run_hash(int argc, char **argv, const char *const *outputs)
{
    uint64_t h = 0xcbf29ce484222325u;
    for (int i = 1; i < argc; i++) {
        int skip = is_option(argv[i], "--shard");
        for (size_t k = 0; outputs && outputs[k] && !skip; k++)
            skip = is_option(argv[i], outputs[k]);
        if (skip == 1) i++; /* the value is the next argument */
        if (skip) continue;
        h = fnv(h, argv[i], strlen(argv[i]) + 1); /* with the NUL: "a b" ≠ "ab" */
    }
    return h;
}

int shard_locate(shard_info *s)
{
    nnp_status st = nnp_shard_range(s->total, s->index, s->count, s->granule, &s->first,
                                    &s->length);
    if (st != NNP_OK) lib_error("--shard", st);
    return st != NNP_OK;
}

void shard_header_print(FILE *f, const shard_info *s)
{
    fprintf(f, "#nnprobe-shard program=%s shard=%zu/%zu first=%zu length=%zu total=%zu "
            "granule=%zu run=%016" PRIx64 " status=%s out=%s\n", s->program, s->index, s->count,
            s->first, s->length, s->total, s->granule, s->run,
            s->complete ? "complete" : "interrupted", s->out);
}

int shard_header_parse(const char *line, shard_info *s)
{
    char status[16];
    int out_at = -1;
    memset(s, 0, sizeof *s);
    if (sscanf(line, "#nnprobe-shard program=%31s shard=%zu/%zu first=%zu length=%zu total=%zu "
               "granule=%zu run=%" SCNx64 " status=%15s out=%n", s->program, &s->index,
               &s->count, &s->first, &s->length, &s->total, &s->granule, &s->run, status,
               &out_at) != 9 || out_at < 0)
        return -1;
    if (strcmp(status, "complete") != 0 && strcmp(status, "interrupted") != 0) return -1;
    s->complete = strcmp(status, "complete") == 0;
    if (strlen(line + out_at) >= sizeof s->out) return -1;
    strcpy(s->out, line + out_at);
    return s->count == 0 || s->index >= s->count ? -1 : 0;
}
