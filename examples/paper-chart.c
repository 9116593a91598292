/* nnprobe-paper: the report's charts, drawn by gnuplot (Debian gnuplot-nox) through a pipe:
 * the transfer matrix of Table 2 as a heat map, the distortion distributions per model, the
 * per-block Lipschitz bounds of Table 5 as bars and Zhang et al.'s training curves. Without
 * gnuplot the report says that the charts were skipped; every number is in the tables. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "paper.h"

/* Writes the columns of t (row index first) to <out>/<name>.dat; its path into dat. */
static int write_data(const paper_ctx *c, const ptable *t, const char *name, char *dat,
                      size_t len)
{
    char file[64];
    snprintf(file, sizeof file, "%s.dat", name);
    paper_path(c, file, dat, len);
    cli_out o;
    FILE *f = cli_out_open(&o);
    if (!f) return -1;
    for (size_t r = 0; r < t->nr; r++) {
        fprintf(f, "%zu", r);
        for (size_t k = 0; k < t->nc; k++) fprintf(f, " %.9g", t->v[r][k]);
        fputc('\n', f);
    }
    return cli_out_commit(&o, dat);
}

/* Tic labels "('name' 0, 'name' 1, ...)" of the rows or columns of t. */
static void tics(const ptable *t, int rows, char *buf, size_t len)
{
    size_t n = rows ? t->nr : t->nc, k = (size_t)snprintf(buf, len, "(");
    for (size_t i = 0; i < n && k < len; i++)
        k += (size_t)snprintf(buf + k, len - k, "%s\"%s\" %zu", i ? ", " : "",
                              rows ? t->row[i] : t->col[i], i);
    if (k < len) snprintf(buf + k, len - k, ")");
}

/* Reads the whole file (malloc) into *buf; 0 or -1. */
static int read_all(const char *path, char **buf, size_t *len)
{
    cli_out o;
    FILE *in = fopen(path, "rb"), *f = in ? cli_out_open(&o) : NULL;
    int c;
    if (f) while ((c = getc(in)) != EOF) putc(c, f);
    int ok = f && !ferror(in) && fclose(f) == 0;
    if (in) fclose(in);
    *buf = f ? o.buf : NULL;
    *len = f ? o.len : 0;
    return ok ? 0 : -1;
}

/* Runs gnuplot on `script` (the terminal line first), pngcairo or else png; 0 if the PNG was
 * written. gnuplot draws into our own temporary file, which then goes to `png` through
 * nnp_file_write like every other output (a failed run never touches `png`). */
static int gnuplot(const char *png, const char *script)
{
    static const char *const term[] = {"pngcairo size 900,560 font 'sans,10'", "png size 900,560"};
    char tmp[CLI_PATH_LEN + 32];
    snprintf(tmp, sizeof tmp, "%s.gnuplot%ld", png, (long)getpid());
    int rc = -1;
    for (size_t i = 0; i < 2 && rc != 0; i++) {
        FILE *p = popen("gnuplot 2>/dev/null", "w");
        if (!p) break;
        fprintf(p, "set terminal %s\nset output '%s'\n%s\nset output\n", term[i], tmp, script);
        char *buf = NULL;
        size_t len = 0;
        nnp_status s = NNP_OK;
        if (pclose(p) == 0 && read_all(tmp, &buf, &len) == 0 && len > 0 &&
            (s = nnp_file_write(png, buf, len)) == NNP_OK)
            rc = 0;
        if (s != NNP_OK) { /* drawn but not written: another terminal would not help */
            lib_error("writing a chart", s);
            i = 2;
        }
        free(buf);
        unlink(tmp); /* only ever our own temporary file */
    }
    return rc;
}

/* Copies `tmpl` into out, replacing @DATA@, @COLS@ (column tics), @ROWS@ (row tics) and
 * @NAMES@ (the column names, space-separated, for gnuplot's word()). */
static void expand(const char *tmpl, const char *const *val, char *out, size_t len)
{
    static const char *const key[] = {"@DATA@", "@COLS@", "@ROWS@", "@NAMES@"};
    size_t k = 0;
    while (*tmpl && k + 1 < len) {
        size_t i = 0;
        while (i < 4 && strncmp(tmpl, key[i], strlen(key[i])) != 0) i++;
        if (i < 4) {
            k += (size_t)snprintf(out + k, len - k, "%s", val[i]);
            tmpl += strlen(key[i]);
        } else {
            out[k++] = *tmpl++;
        }
    }
    out[k < len ? k : len - 1] = 0;
}

/* One chart from table `id` drawn by the gnuplot script template. */
static void chart(paper_ctx *c, const char *id, const char *name, const char *caption,
                  const char *tmpl)
{
    ptable *t = ptab_find(c->rep, id);
    char dat[CLI_PATH_LEN], png[CLI_PATH_LEN], file[64], script[8192], ctics[2048], rtics[2048];
    char names[1024] = "";
    if (!t || t->nr == 0) return;
    if (write_data(c, t, name, dat, sizeof dat) != 0) return;
    snprintf(file, sizeof file, "%s.png", name);
    paper_path(c, file, png, sizeof png);
    tics(t, 0, ctics, sizeof ctics);
    tics(t, 1, rtics, sizeof rtics);
    for (size_t k = 0; k < t->nc; k++) {
        size_t l = strlen(names);
        snprintf(names + l, sizeof names - l, "%s%s", k ? " " : "", t->col[k]);
    }
    const char *val[4] = {dat, ctics, rtics, names};
    expand(tmpl, val, script, sizeof script);
    if (gnuplot(png, script) == 0 && c->rep->n_charts < PT_FIGURES) {
        pfigure *f = &c->rep->charts[c->rep->n_charts++];
        snprintf(f->file, sizeof f->file, "%s", file);
        snprintf(f->caption, sizeof f->caption, "%s", caption);
    }
    unlink(dat);
}

void paper_charts(paper_ctx *c)
{
    if (system("command -v gnuplot >/dev/null 2>&1") != 0) {
        snprintf(c->rep->chart_note, sizeof c->rep->chart_note, "Charts skipped: gnuplot is "
                 "not installed (Debian: apt-get install gnuplot-nox).");
        if (!c->cm.quiet) fprintf(stderr, "nnprobe-paper: gnuplot not found: no charts\n");
        return;
    }
    chart(c, "table2", "chart-transfer", "Table 2 as a heat map: error of each model (column) "
          "on each set (row).",
          "set title 'Transfer matrix: error rate'\nset xtics @COLS@ rotate by 30 right\n"
          "set ytics @ROWS@\nset yrange [7.5:-0.5]\nset xrange [-0.5:5.5]\nset cbrange [0:1]\n"
          "set palette defined (0 'white', 1 'dark-red')\nset lmargin 28\nset bmargin 7\n"
          "plot '@DATA@' matrix every 1:1:1:0:6:7 using ($1-1):2:3 with image notitle, "
          "'' matrix every 1:1:1:0:6:7 using ($1-1):2:(sprintf('%.0f%%', 100*$3)) "
          "with labels notitle");
    chart(c, "distortion_hist", "chart-distortion", "Distribution of the minimum L-BFGS "
          "distortion (RMS) per model: fraction of the changed examples per bin of 0.02.",
          "set title 'Minimum distortion per model'\nset xlabel 'RMS distortion (bin start)'\n"
          "set ylabel 'fraction of examples'\nset key top right\n"
          "set xtics @ROWS@ rotate by 30 right\n"
          "plot for [k=2:7] '@DATA@' using 1:k with linespoints title word('@NAMES@', k-1) "
          "noenhanced, 1/0 notitle");
    chart(c, "table5", "chart-lipschitz", "Table 5 analogue: per-block upper bound (the "
          "paper's formula), exact norm and empirical lower bound, log scale.",
          "set title 'Lipschitz bounds per block'\nset logscale y\nset lmargin 16\n"
          "set style data histograms\n"
          "set style histogram clustered\nset style fill solid 0.8\nset xtics @ROWS@ rotate by 20 "
          "right noenhanced\nset bmargin 9\nset key top left\n"
          "plot '@DATA@' using 2 title 'bound (paper)', '' using 3 title 'exact', '' using 4 "
          "title 'lower'");
    chart(c, "zhang", "chart-zhang", "Zhang et al. (2017): training error per epoch on true "
          "labels, random labels and random pixels.",
          "set title 'Training error per epoch'\nset xlabel 'row (epochs as in the table)'\n"
          "set ylabel 'training error'\nset yrange [0:1]\nunset xtics\nset xtics @ROWS@ rotate "
          "by 90 right\nset key top right\nplot '@DATA@' using 1:2 with lines lw 2 title 'true "
          "labels', '' using 1:3 with lines lw 2 title 'random labels', '' using 1:4 with lines "
          "lw 2 title 'random pixels'");
    if (c->rep->n_charts < 4)
        snprintf(c->rep->chart_note, sizeof c->rep->chart_note, "%zu of 4 charts drawn "
                 "(gnuplot failed on the others).", c->rep->n_charts);
    else
        snprintf(c->rep->chart_note, sizeof c->rep->chart_note, "Charts drawn by gnuplot.");
}
