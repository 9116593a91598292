/* nnprobe-paper: the pieces of the program that reproduces Szegedy et al. (2013) in one
 * command. nnprobe-paper.c holds the options, the profiles and the flow; paper-models.c
 * trains and caches the nets; paper-tables.c Tables 1-4 and Figure 5; paper-probes.c Table 5,
 * the units of §3 and Zhang et al.'s random-label curves; paper-report.c the tables, findings
 * and report files (JSON, Markdown, HTML); paper-chart.c the gnuplot charts.
 *
 * Every step function returns an exit status (cli.h) after printing its own message. */
#ifndef NNPROBE_EXAMPLES_PAPER_H
#define NNPROBE_EXAMPLES_PAPER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <nnprobe/nnprobe.h>

#include "cli.h"

/* ---- profiles ---- */

/* What a profile sets; every number is in the report's settings. */
typedef struct paper_profile {
    const char *name;
    size_t train_limit;   /* training examples used (0: all) */
    size_t test_limit;    /* test examples for error rates (0: all) */
    size_t epochs;        /* epochs of the Table 1 and Table 3 nets */
    size_t attacked;      /* test examples attacked per model */
    size_t bisect_steps;  /* L-BFGS c bisection steps */
    const char *conv_spec;
    size_t conv_train, conv_epochs, lip_points;
    size_t maxact_dirs, maxact_k;
    size_t zhang_n, zhang_epochs;
    size_t figure_rows;
    size_t advtrain_epochs, advtrain_pool;
} paper_profile;

/* ---- results: tables of numbers, findings, figures ---- */

enum { PT_ROWS = 64, PT_COLS = 12, PT_TABLES = 16, PT_FINDINGS = 24, PT_FIGURES = 24 };

/* Cell formats: percent (value in [0,1]), a distortion (4 decimals), a general number. */
enum { PT_PCT = 'p', PT_DIST = 'd', PT_NUM = 'g' };

/* A table as every output shows it: our value of each cell and, where the paper has one,
 * the paper's (NAN: none). */
typedef struct ptable {
    char id[32], title[200], note[1200];
    size_t nr, nc;
    char col[PT_COLS][48];
    char fmt[PT_COLS];
    char row[PT_ROWS][80];
    double v[PT_ROWS][PT_COLS], paper[PT_ROWS][PT_COLS];
} ptable;

typedef struct pfinding {
    char text[200], detail[300];
    int held;
} pfinding;

typedef struct pfigure {
    char file[80], caption[1200];
} pfigure;

typedef struct paper_report {
    ptable tables[PT_TABLES];
    size_t n_tables;
    pfinding findings[PT_FINDINGS];
    size_t n_findings;
    pfigure figures[PT_FIGURES], charts[PT_FIGURES];
    size_t n_figures, n_charts;
    char chart_note[200];
    double seconds[8]; /* time per step, in step order */
    size_t n_seconds;
} paper_report;

/* Adds a table with the given columns ("name:f", f a format letter; NULL-terminated). */
ptable *ptab_add(paper_report *r, const char *id, const char *title, ...);
/* Adds a column. */
void ptab_col(ptable *t, const char *name, char fmt);
/* Adds a row (values and paper values NAN); returns its index. */
size_t ptab_row(ptable *t, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* The table with this id, or NULL. */
ptable *ptab_find(paper_report *r, const char *id);
/* Records a finding: `held` and what it rests on. */
void paper_finding(paper_report *r, int held, const char *text, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
/* Records a figure (a file in the output directory) with its caption. */
void paper_figure(paper_report *r, const char *file, const char *caption);

/* ---- the run ---- */

typedef struct paper_ctx {
    const paper_profile *pf;
    cli_common cm;
    const char *out, *cache;
    int fresh, charts;
    nnp_dataset *train, *test; /* train: the first train_limit examples; test: test_limit */
    uint64_t train_sum, test_sum;  /* FNV-1a of the images and labels as loaded */
    const char *const *class_names;
    paper_report *rep;
    size_t n_trained, n_cached;
    char phase[160];
} paper_ctx;

/* Starts a progress phase named by printf-style arguments (kept in c->phase). */
cli_progress *paper_progress(paper_ctx *c, cli_progress *p, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* "<out>/<name>" into buf. */
void paper_path(const paper_ctx *c, const char *name, char *buf, size_t len);

/* ---- models (paper-models.c) ---- */

/* A net to train: a spec (netspec.h), an autoencoder spec trained first whose encoder is
 * frozen under the classifier (or NULL), λ per weight layer; optionally (§4.2) a dropout
 * layer of ratio `dropout` after every hidden dense layer (dense specs only) trained with
 * dropout on, and a batch hook whose settings `variant` names (it enters the cache key). */
typedef struct paper_model {
    const char *name, *spec, *ae_spec;
    double lambda[3];
    size_t n_lambda;
    float dropout;
    nnp_train_batch_fn hook;
    void *hook_user;
    const char *variant;
} paper_model;

/* FNV-1a 64 of a data set's images and labels. */
uint64_t paper_checksum(const nnp_dataset *d);

/* Trains m on `data` for `epochs` from `seed`, or loads it from the cache when a net of the
 * same key (spec, λ, training settings, data checksum, seed) is there; saves what it trains
 * (unless the cache is off). */
int paper_get_model(paper_ctx *c, const paper_model *m, const nnp_dataset *data, size_t epochs,
                    uint64_t seed, nnp_net **out);

/* Builds a spec (last_act: an activation allowed on the last layer) for data's shape. */
int paper_build(const char *spec, int last_act, const nnp_dataset *data, uint64_t seed,
                nnp_net **out);

/* The training options every net of the report uses (SGD defaults, per-unit decay). */
int paper_train_opts(nnp_train_opts *o, const paper_model *m, size_t epochs, uint64_t seed);

/* Error rate of net on a data set (NAN never: returns an exit status). */
int paper_error(const nnp_net *net, const nnp_dataset *d, double *err);

/* Table 1's model i (0-5: FC10(1e-4), FC10(1e-2), FC10(1), FC100-100-10, FC200-200-10,
 * AE400-10), for the steps that probe the same nets (from the cache). */
const paper_model *paper_table1_model(size_t i);

/* ---- steps ---- */

int paper_tables_1_2(paper_ctx *c);  /* Table 1, Table 2, Figure 5 (paper-tables.c) */
int paper_tables_3_4(paper_ctx *c);  /* Tables 3 and 4 */
int paper_table_5(paper_ctx *c);     /* Table 5 analogue (paper-probes.c) */
int paper_units(paper_ctx *c);       /* §3: units vs random directions */
int paper_zhang(paper_ctx *c);       /* Zhang et al. 2017 (paper-zhang.c) */
int paper_advtrain(paper_ctx *c);    /* §4.2 adversarial training (paper-advtrain.c) */

/* ---- output (paper-report.c, paper-chart.c) ---- */

/* A cell's text in its format ("-" for NAN). */
void paper_cell(char fmt, double v, char *buf, size_t len);
/* The report's opening paragraph (profile, data, seed, time), as Markdown or as HTML. */
void paper_header(FILE *f, const paper_ctx *c, double seconds, int html);
/* report.html at path (paper-html.c); 0 or -1. */
int paper_write_html(const paper_ctx *c, double seconds, const char *path);

/* Writes report.json, report.md and report.html into c->out. */
int paper_write_reports(const paper_ctx *c, double seconds);

/* Draws the charts with gnuplot when it is installed (else records why not). */
void paper_charts(paper_ctx *c);

#endif
