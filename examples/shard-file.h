/* Shard files: the partial result of one `--shard I/N` run of an example program, and what
 * nnprobe-merge needs to combine them (docs/cluster.md). A shard file is the program's usual
 * text result (CSV) after one first line
 *
 *   #nnprobe-shard program=P shard=I/N first=F length=L total=T granule=G run=H status=S out=O
 *
 * F and L: the shard's examples, positions F … F+L−1 of the run's T (nnp_shard_range() with
 * granule G); H: a hash of the command line without --shard and the output paths, so shards of
 * different runs are never merged; S: complete, or interrupted (a shard that must be run
 * again); O: the shard's --out file (the rest of the line; empty when none). */
#ifndef NNPROBE_EXAMPLES_SHARD_FILE_H
#define NNPROBE_EXAMPLES_SHARD_FILE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cli.h"

typedef struct shard_info {
    char program[32];
    size_t index, count;         /* shard I of N */
    size_t first, length, total; /* the shard's positions in the run */
    size_t granule;
    uint64_t run;
    int complete;                /* 0: interrupted */
    char out[CLI_PATH_LEN];      /* the shard's --out file, or "" */
} shard_info;

/* FNV-1a hash of argv[1..argc) without the value of --shard and of each option named in
 * `outputs` (NULL-terminated, e.g. "--results"); "--opt=value" and "--opt value" both. */
uint64_t shard_run_hash(int argc, char **argv, const char *const *outputs);

/* Fills s->first and s->length from total, index, count and granule (nnp_shard_range). Returns
 * 0, or 1 after a message. */
int shard_locate(shard_info *s);

/* Prints the first line of a shard file (with its newline). */
void shard_header_print(FILE *f, const shard_info *s);

/* Parses a first line (without its newline); returns 0, or -1 when it is not one. */
int shard_header_parse(const char *line, shard_info *s);

#endif
