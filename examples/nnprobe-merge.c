/* nnprobe-merge: combines the shard files that `--shard I/N` runs of nnprobe-attack,
 * nnprobe-maxact and nnprobe-lipschitz write (shard-file.h, docs/cluster.md) into the result
 * of the single run.
 *
 * Checks before writing anything: every file is a shard file of the same program and run (the
 * hash of the command line), of the same N; each shard 0..N−1 is there exactly once, complete
 * (not interrupted) and of the size nnp_shard_range() gives. A missing, failed or foreign
 * shard is named by its index and the program exits 1 without writing: nothing is ever merged
 * silently.
 *
 * Exit status: 0 merged, 1 a shard missing, failed, of another run, or a file error, 2 bad
 * command line. */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nnprobe/nnprobe.h>

#include "cli.h"
#include "shard-file.h"

#define PROG "nnprobe-merge"

static void print_help(void)
{
    printf("Usage: " PROG " [OPTION]... SHARD-FILE...\n"
           "Combine the partial results of `--shard I/N` runs into the result of the single\n"
           "run (docs/cluster.md). Every shard 0..N-1 must be given once, complete, and from\n"
           "the same run (same command line apart from --shard and the output paths); a\n"
           "missing, interrupted or foreign shard is named by its index and nothing is\n"
           "written.\n"
           "\n"
           "  -o, --output FILE         the merged result: nnprobe-attack's --results CSV,\n"
           "                            nnprobe-maxact's --lists CSV or nnprobe-lipschitz's\n"
           "                            --norms CSV (default: stdout)\n"
           "      --out FILE            nnprobe-attack: also merge the shards' --out\n"
           "                            adversarial sets (IDX, + .labels) into FILE\n"
           "      --check               only check that the shards are complete; write nothing\n"
           CLI_HELP_HELP "\n"
           "Exit status: 0 merged, 1 a shard missing, failed or of another run (named), or a\n"
           "file error, 2 bad usage.\n");
}

/* One shard file, read whole: its header and the lines after it. */
typedef struct part {
    const char *path;
    shard_info info;
    char *text;        /* the whole file, NUL-terminated */
    const char *body;  /* the first line after the header */
} part;

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = NULL;
    size_t len = 0, cap = 0, got;
    char chunk[65536];
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (len + got + 1 > cap) {
            cap = 2 * (len + got + 1);
            char *nb = realloc(buf, cap);
            if (!nb) break;
            buf = nb;
        }
        memcpy(buf + len, chunk, got);
        len += got;
    }
    int bad = ferror(f) || got > 0;
    fclose(f);
    if (bad || buf == NULL) {
        free(buf);
        return bad ? NULL : calloc(1, 1);
    }
    buf[len] = '\0';
    return buf;
}

/* Reads and parses one shard file; returns 0, or 1 after a message. */
static int read_part(part *p)
{
    p->text = read_text(p->path);
    if (!p->text) {
        fprintf(stderr, PROG ": %s: cannot read it\n", p->path);
        return 1;
    }
    char *nl = strchr(p->text, '\n');
    if (nl) *nl = '\0';
    if (shard_header_parse(p->text, &p->info) != 0) {
        fprintf(stderr, PROG ": %s: not a shard file (no '#nnprobe-shard' first line)\n", p->path);
        return 1;
    }
    p->body = nl ? nl + 1 : p->text + strlen(p->text);
    return 0;
}

/* The checks of the file comment; by_index[i] gets the part of shard i. Returns 0, or 1 after
 * naming every problem found. */
static int check_parts(part *parts, size_t n, part **by_index)
{
    const shard_info *a = &parts[0].info;
    int bad = 0;
    for (size_t j = 0; j < n; j++) {
        const shard_info *s = &parts[j].info;
        if (strcmp(s->program, a->program) != 0 || s->run != a->run || s->count != a->count ||
            s->total != a->total || s->granule != a->granule) {
            fprintf(stderr, PROG ": shard %zu (%s) is of another run than %s: %s run %016llx of "
                    "%zu shards, not %s run %016llx of %zu\n", s->index, parts[j].path,
                    parts[0].path, s->program, (unsigned long long)s->run, s->count, a->program,
                    (unsigned long long)a->run, a->count);
            bad = 1;
            continue;
        }
        if (by_index[s->index]) {
            fprintf(stderr, PROG ": shard %zu is given twice: %s and %s\n", s->index,
                    by_index[s->index]->path, parts[j].path);
            bad = 1;
            continue;
        }
        by_index[s->index] = &parts[j];
        size_t first, length;
        if (nnp_shard_range(s->total, s->index, s->count, s->granule, &first, &length) !=
                NNP_OK || first != s->first || length != s->length) {
            fprintf(stderr, PROG ": shard %zu (%s) covers %zu+%zu, not the shard's examples\n",
                    s->index, parts[j].path, s->first, s->length);
            bad = 1;
        }
        if (!s->complete) {
            fprintf(stderr, PROG ": shard %zu (%s) failed: it was interrupted; run it again\n",
                    s->index, parts[j].path);
            bad = 1;
        }
    }
    for (size_t i = 0; i < a->count; i++)
        if (!by_index[i]) {
            fprintf(stderr, PROG ": shard %zu of %zu is missing\n", i, a->count);
            bad = 1;
        }
    return bad;
}

/* The number of lines in s (a last line without its newline counts). */
static size_t count_lines(const char *s)
{
    size_t n = 0, len = strlen(s);
    for (size_t i = 0; i < len; i++) n += s[i] == '\n';
    return n + (len > 0 && s[len - 1] != '\n');
}

/* A shard's error rates from its rows (columns true_label, clean_label, adv_label: 1, 2, 4):
 * rates[0] on the clean examples, rates[1] on the adversarial ones. Returns 0, or -1 when a
 * row does not parse. */
static int shard_error_rates(const char *rows, size_t n, double *rates)
{
    size_t wrong[2] = {0, 0};
    for (size_t r = 0; r < n; r++) {
        int y, clean, target, adv;
        size_t index;
        if (sscanf(rows, "%zu,%d,%d,%d,%d,", &index, &y, &clean, &target, &adv) != 5) return -1;
        wrong[0] += clean != y;
        wrong[1] += adv != y;
        rows = strchr(rows, '\n');
        if (!rows) return r + 1 == n ? 0 : -1;
        rows++;
    }
    rates[0] = (double)wrong[0] / (double)n; /* as nnp_eval_error_rate() computes a rate */
    rates[1] = (double)wrong[1] / (double)n;
    return 0;
}

/* nnprobe-attack: the CSV header line of every shard must agree; rows are concatenated in
 * shard order, and there must be `length` of them. The error rates of the whole run (the
 * single run's "error" line) are merged from the shards' with nnp_eval_merge_rates(). */
static int merge_attack(part **by, size_t count, FILE *out)
{
    const char *head = by[0]->body, *head_end = strchr(head, '\n');
    if (!head_end) {
        fprintf(stderr, PROG ": shard 0 (%s): no CSV header line\n", by[0]->path);
        return 1;
    }
    const size_t head_len = (size_t)(head_end - head) + 1;
    double *rates = malloc(2 * count * sizeof *rates);
    size_t *counts = malloc(count * sizeof *counts), used = 0;
    int bad = !rates || !counts;
    for (size_t i = 0; !bad && i < count; i++) {
        const char *b = by[i]->body;
        const size_t len = by[i]->info.length;
        if (strncmp(b, head, head_len) != 0) {
            fprintf(stderr, PROG ": shard %zu (%s): its CSV columns differ from shard 0's\n", i,
                    by[i]->path);
            bad = 1;
        } else if (count_lines(b + head_len) != len ||
                   (len && shard_error_rates(b + head_len, len, rates + 2 * used))) {
            fprintf(stderr, PROG ": shard %zu (%s) failed: %zu result rows, expected %zu\n", i,
                    by[i]->path, count_lines(b + head_len), len);
            bad = 1;
        } else if (len) {
            counts[used++] = len;
        }
    }
    double err[2];
    if (!bad && used) {
        nnp_status st = nnp_eval_merge_rates(rates, counts, used, 2, err);
        if (st != NNP_OK) lib_error("nnp_eval_merge_rates", st);
        else
            fprintf(stderr, "error        %.1f%% on the clean examples, %.1f%% on the "
                    "adversarial ones\n", 100 * err[0], 100 * err[1]);
        bad = st != NNP_OK;
    }
    free(rates);
    free(counts);
    if (bad || out == NULL) return bad;
    fwrite(head, 1, head_len, out);
    for (size_t i = 0; i < count; i++) fputs(by[i]->body + head_len, out);
    return 0;
}

/* nnprobe-attack --out: the shards' adversarial sets, in order, into one IDX set. */
static int merge_adversarial(part **by, size_t count, const char *path)
{
    nnp_dataset **sets = calloc(count, sizeof *sets);
    size_t total = 0, c = 0, h = 0, w = 0, done = 0;
    int rc = 1;
    float *x = NULL;
    int32_t *y = NULL;
    if (!sets) goto out;
    for (size_t i = 0; i < count; i++) {
        const shard_info *s = &by[i]->info;
        if (s->length == 0) continue;
        char labels[CLI_PATH_LEN + 8];
        snprintf(labels, sizeof labels, "%s.labels", s->out);
        if (s->out[0] == '\0') {
            fprintf(stderr, PROG ": --out: shard %zu (%s) was run without --out\n", i, by[i]->path);
            goto out;
        }
        nnp_status st = nnp_dataset_load_idx(s->out, labels, &sets[i]);
        if (st != NNP_OK) {
            fprintf(stderr, PROG ": --out: shard %zu's adversarial set %s: %s\n", i, s->out,
                    nnp_last_error());
            goto out;
        }
        size_t ci, hi, wi;
        if (nnp_dataset_shape(sets[i], &ci, &hi, &wi) != NNP_OK ||
            nnp_dataset_count(sets[i]) != s->length || (total && (ci != c || hi != h || wi != w))) {
            fprintf(stderr, PROG ": --out: shard %zu's adversarial set %s has %zu examples "
                    "(expected %zu) or another shape\n", i, s->out, nnp_dataset_count(sets[i]),
                    s->length);
            goto out;
        }
        c = ci, h = hi, w = wi;
        total += s->length;
    }
    const size_t d = c * h * w;
    x = malloc(total * d * sizeof *x);
    y = malloc(total * sizeof *y);
    if (!x || !y) goto out;
    for (size_t i = 0; i < count; i++) {
        if (!sets[i]) continue;
        const size_t m = nnp_dataset_count(sets[i]);
        memcpy(x + done * d, nnp_dataset_images(sets[i]), m * d * sizeof *x);
        memcpy(y + done, nnp_dataset_labels(sets[i]), m * sizeof *y);
        done += m;
    }
    char labels[CLI_PATH_LEN + 8];
    snprintf(labels, sizeof labels, "%s.labels", path);
    rc = total ? cli_save_idx("writing the merged adversarial set", path, labels, x, y, total, c,
                              h, w) : 0;
out:
    if (sets)
        for (size_t i = 0; i < count; i++) nnp_dataset_free(sets[i]);
    free(sets);
    free(x);
    free(y);
    return rc;
}

/* nnprobe-maxact --lists: each shard file has all k entries of every row; `n_dir` and `k`
 * come from shard 0 and every shard must have the same. Parses part p into idx/score (n_dir × k
 * each); returns 0, or 1 after a message. */
static const char LISTS_HEAD[] = "direction,rank,index,score\n";

static int parse_lists(const part *p, size_t i, size_t n_dir, size_t k, size_t *idx, float *sc)
{
    const char *b = p->body + strlen(LISTS_HEAD);
    for (size_t r = 0; r < n_dir * k; r++) {
        size_t d, j;
        char ibuf[32], sbuf[64];
        if (sscanf(b, "%zu,%zu,%31[^,],%63[^\n]", &d, &j, ibuf, sbuf) != 4 || d != r / k ||
            j != r % k) {
            fprintf(stderr, PROG ": shard %zu (%s) failed: row %zu of its lists is missing or "
                    "out of order\n", i, p->path, r);
            return 1;
        }
        char *end;
        idx[r] = strcmp(ibuf, "-") == 0 ? SIZE_MAX : (size_t)strtoull(ibuf, &end, 10);
        sc[r] = strtof(sbuf, &end);
        const char *nl = strchr(b, '\n');
        b = nl ? nl + 1 : b + strlen(b);
    }
    if (*b != '\0') {
        fprintf(stderr, PROG ": shard %zu (%s): more rows than %zu directions x %zu\n", i,
                p->path, n_dir, k);
        return 1;
    }
    return 0;
}

static int merge_maxact(part **by, size_t count, FILE *out)
{
    for (size_t i = 0; i < count; i++)
        if (strncmp(by[i]->body, LISTS_HEAD, strlen(LISTS_HEAD)) != 0) {
            fprintf(stderr, PROG ": shard %zu (%s): not --lists CSV\n", i, by[i]->path);
            return 1;
        }
    /* n_dir and k from shard 0's last row */
    size_t n_dir = 0, k = 0, d, j;
    for (const char *l = by[0]->body + strlen(LISTS_HEAD); *l; l = strchr(l, '\n') + 1) {
        if (sscanf(l, "%zu,%zu,", &d, &j) == 2) {
            if (d + 1 > n_dir) n_dir = d + 1;
            if (j + 1 > k) k = j + 1;
        }
        if (!strchr(l, '\n')) break;
    }
    if (n_dir == 0 || k == 0) {
        fprintf(stderr, PROG ": shard 0 (%s) failed: no lists\n", by[0]->path);
        return 1;
    }
    size_t *idx = malloc(count * n_dir * k * sizeof *idx), *mi = malloc(n_dir * k * sizeof *mi);
    float *sc = malloc(count * n_dir * k * sizeof *sc), *ms = malloc(n_dir * k * sizeof *ms);
    const size_t **pi = malloc(count * sizeof *pi);
    const float **ps = malloc(count * sizeof *ps);
    int bad = !idx || !mi || !sc || !ms || !pi || !ps;
    if (bad) fprintf(stderr, PROG ": out of memory\n");
    for (size_t i = 0; !bad && i < count; i++) {
        pi[i] = idx + i * n_dir * k;
        ps[i] = sc + i * n_dir * k;
        bad = parse_lists(by[i], i, n_dir, k, idx + i * n_dir * k, sc + i * n_dir * k);
    }
    size_t found = 0;
    nnp_status st = bad ? NNP_OK : nnp_maxact_merge(pi, ps, count, n_dir, k, 1, mi, ms, &found);
    if (st != NNP_OK) {
        lib_error("nnp_maxact_merge", st);
        bad = 1;
    }
    if (!bad && out) { /* as the single run writes them: the filled entries only */
        fputs(LISTS_HEAD, out);
        for (d = 0; d < n_dir; d++)
            for (j = 0; j < found; j++)
                fprintf(out, "%zu,%zu,%zu,%.9g\n", d, j, mi[d * k + j], (double)ms[d * k + j]);
    }
    free(idx), free(mi), free(sc), free(ms), free(pi), free(ps);
    return bad;
}

/* nnprobe-lipschitz --norms: rows "index,norm" concatenated in shard order, `length` per shard
 * with consecutive global indices; the lower bound (the largest norm, the first on ties) by
 * nnp_lipschitz_lower_merge() of the shards' own maxima, reported on stderr. */
static const char NORMS_HEAD[] = "index,norm\n";

static int merge_norms(part **by, size_t count, FILE *out)
{
    double *lows = malloc(count * sizeof *lows);
    size_t *args = malloc(count * sizeof *args), used = 0;
    int bad = !lows || !args;
    for (size_t i = 0; !bad && i < count; i++) {
        const shard_info *s = &by[i]->info;
        const char *b = by[i]->body;
        if (strncmp(b, NORMS_HEAD, strlen(NORMS_HEAD)) != 0) {
            fprintf(stderr, PROG ": shard %zu (%s): not --norms CSV\n", i, by[i]->path);
            bad = 1;
            break;
        }
        b += strlen(NORMS_HEAD);
        double best = -1.0;
        size_t best_i = 0, rows = 0, at;
        double v;
        for (; *b; rows++) {
            if (sscanf(b, "%zu,%lf", &at, &v) != 2 || at != s->first + rows) break;
            if (v > best) best = v, best_i = at;
            const char *nl = strchr(b, '\n');
            b = nl ? nl + 1 : b + strlen(b);
        }
        if (*b || rows != s->length) {
            fprintf(stderr, PROG ": shard %zu (%s) failed: %zu norms in order, expected %zu\n", i,
                    by[i]->path, rows, s->length);
            bad = 1;
        } else if (rows) {
            lows[used] = best;
            args[used++] = best_i;
        }
    }
    double lower = 0.0;
    size_t argmax = 0;
    nnp_status st = bad || used == 0 ? NNP_OK
                                     : nnp_lipschitz_lower_merge(lows, args, used, &lower, &argmax);
    if (st != NNP_OK) {
        lib_error("nnp_lipschitz_lower_merge", st);
        bad = 1;
    }
    if (!bad && out) {
        fputs(NORMS_HEAD, out);
        for (size_t i = 0; i < count; i++) fputs(by[i]->body + strlen(NORMS_HEAD), out);
    }
    if (!bad && used)
        fprintf(stderr, PROG ": lower bound max ||J(x)||_2 = %.17g (point %zu)\n", lower, argmax);
    free(lows);
    free(args);
    return bad;
}

int main(int argc, char **argv)
{
    cli_set_prog(PROG);
    static const struct option opts[] = {
        {"output", required_argument, NULL, 'o'}, {"out", required_argument, NULL, 'O'},
        {"check", no_argument, NULL, 'c'},         {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},       {NULL, 0, NULL, 0}};
    const char *output = NULL, *adv = NULL;
    int check_only = 0, c, rc = CLI_FAILURE;
    while ((c = getopt_long(argc, argv, "o:hV", opts, NULL)) != -1) {
        switch (c) {
        case 'o': output = optarg; break;
        case 'O': adv = optarg; break;
        case 'c': check_only = 1; break;
        case 'h': print_help(); return CLI_OK;
        case 'V': printf(PROG " (libnnprobe) %s\n", nnp_version_string()); return CLI_OK;
        default: fprintf(stderr, "Try '" PROG " --help' for more information.\n"); return CLI_USAGE;
        }
    }
    const size_t n = (size_t)(argc - optind);
    if (n == 0) {
        usage_error("no shard files given");
        return CLI_USAGE;
    }
    if (cli_check_outputs(2, "--output", output, "--out", adv)) return CLI_USAGE;
    part *parts = calloc(n, sizeof *parts);
    part **by = NULL;
    cli_out o = {0};
    if (!parts) {
        fprintf(stderr, PROG ": out of memory\n");
        goto done;
    }
    for (size_t j = 0; j < n; j++) {
        parts[j].path = argv[optind + (int)j];
        if (read_part(&parts[j])) goto done;
    }
    const shard_info *a = &parts[0].info;
    by = calloc(a->count, sizeof *by);
    if (!by) {
        fprintf(stderr, PROG ": %s: out of memory for %zu shards\n", parts[0].path, a->count);
        goto done;
    }
    if (check_parts(parts, n, by)) goto done;
    const int attack = strcmp(a->program, "nnprobe-attack") == 0;
    const int lipschitz = strcmp(a->program, "nnprobe-lipschitz") == 0;
    if (!attack && !lipschitz && strcmp(a->program, "nnprobe-maxact") != 0) {
        fprintf(stderr, PROG ": %s: shards of %s cannot be merged here\n", parts[0].path,
                a->program);
        goto done;
    }
    if (adv && !attack) {
        usage_error("--out: only nnprobe-attack shards have adversarial sets");
        rc = CLI_USAGE;
        goto done;
    }
    FILE *f = check_only ? NULL : output ? cli_out_open(&o) : stdout;
    if (!check_only && !f) goto done;
    int bad = attack      ? merge_attack(by, a->count, f)
              : lipschitz ? merge_norms(by, a->count, f)
                          : merge_maxact(by, a->count, f);
    if (o.f) {
        if (bad) {
            fclose(o.f);
            free(o.buf);
        } else if (cli_out_commit(&o, output)) {
            bad = 1;
        }
    }
    if (!bad && adv && !check_only) bad = merge_adversarial(by, a->count, adv);
    if (!bad)
        fprintf(stderr, PROG ": %zu shards of %s run %016llx, %zu examples: %s\n", a->count,
                a->program, (unsigned long long)a->run, a->total,
                check_only ? "complete" : "merged");
    rc = bad ? CLI_FAILURE : CLI_OK;
done:
    for (size_t j = 0; parts && j < n; j++) free(parts[j].text);
    free(parts);
    free(by);
    return rc;
}
