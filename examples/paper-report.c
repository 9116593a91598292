/* nnprobe-paper: the results (tables of our numbers beside the paper's, findings, figures)
 * and the report files written from them: report.json (every number and setting) and
 * report.md here, report.html in paper-html.c. */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "paper.h"

ptable *ptab_add(paper_report *r, const char *id, const char *title, ...)
{
    if (r->n_tables == PT_TABLES) return &r->tables[PT_TABLES - 1]; /* never: fixed set */
    ptable *t = &r->tables[r->n_tables++];
    memset(t, 0, sizeof *t);
    snprintf(t->id, sizeof t->id, "%s", id);
    snprintf(t->title, sizeof t->title, "%s", title);
    va_list ap;
    va_start(ap, title);
    for (const char *c; (c = va_arg(ap, const char *)) != NULL;) {
        const char *colon = strrchr(c, ':');
        char name[48];
        snprintf(name, sizeof name, "%.*s", (int)(colon ? (size_t)(colon - c) : strlen(c)), c);
        ptab_col(t, name, colon ? colon[1] : PT_NUM);
    }
    va_end(ap);
    return t;
}

void ptab_col(ptable *t, const char *name, char fmt)
{
    if (t->nc == PT_COLS) return;
    snprintf(t->col[t->nc], sizeof t->col[0], "%s", name);
    t->fmt[t->nc++] = fmt;
}

size_t ptab_row(ptable *t, const char *fmt, ...)
{
    size_t r = t->nr < PT_ROWS ? t->nr++ : PT_ROWS - 1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->row[r], sizeof t->row[r], fmt, ap);
    va_end(ap);
    for (size_t k = 0; k < PT_COLS; k++) t->v[r][k] = t->paper[r][k] = NAN;
    return r;
}

ptable *ptab_find(paper_report *r, const char *id)
{
    for (size_t i = 0; i < r->n_tables; i++)
        if (strcmp(r->tables[i].id, id) == 0) return &r->tables[i];
    return NULL;
}

void paper_finding(paper_report *r, int held, const char *text, const char *fmt, ...)
{
    if (r->n_findings == PT_FINDINGS) return;
    pfinding *f = &r->findings[r->n_findings++];
    f->held = held;
    snprintf(f->text, sizeof f->text, "%s", text);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->detail, sizeof f->detail, fmt, ap);
    va_end(ap);
}

void paper_figure(paper_report *r, const char *file, const char *caption)
{
    if (r->n_figures == PT_FIGURES) return;
    pfigure *f = &r->figures[r->n_figures++];
    snprintf(f->file, sizeof f->file, "%s", file);
    snprintf(f->caption, sizeof f->caption, "%s", caption);
}

/* ---- cells ---- */

void paper_cell(char fmt, double v, char *buf, size_t len)
{
    if (isnan(v)) snprintf(buf, len, "-");
    else if (fmt == PT_PCT) snprintf(buf, len, "%.1f%%", 100 * v);
    else if (fmt == PT_DIST) snprintf(buf, len, "%.4f", v);
    else snprintf(buf, len, "%.4g", v);
}

/* ---- JSON ---- */

static void jstr(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') fprintf(f, "\\%c", ch);
        else if (ch < 0x20) fprintf(f, "\\u%04x", ch);
        else fputc(ch, f);
    }
    fputc('"', f);
}

static void jnum(FILE *f, double v)
{
    if (isfinite(v)) fprintf(f, "%.17g", v);
    else fputs("null", f);
}

static void json_table(FILE *f, const ptable *t)
{
    fprintf(f, "    ");
    jstr(f, t->id);
    fprintf(f, ": {\"title\": ");
    jstr(f, t->title);
    fprintf(f, ", \"note\": ");
    jstr(f, t->note);
    fprintf(f, ",\n      \"columns\": [");
    for (size_t k = 0; k < t->nc; k++) {
        fputs(k ? ", " : "", f);
        jstr(f, t->col[k]);
    }
    fprintf(f, "], \"formats\": \"%.*s\",\n      \"rows\": [", (int)t->nc, t->fmt);
    for (size_t r = 0; r < t->nr; r++) {
        fputs(r ? ", " : "", f);
        jstr(f, t->row[r]);
    }
    for (int pass = 0; pass < 2; pass++) {
        fprintf(f, "],\n      \"%s\": [", pass ? "paper" : "values");
        for (size_t r = 0; r < t->nr; r++) {
            fprintf(f, "%s[", r ? ", " : "");
            for (size_t k = 0; k < t->nc; k++) {
                fputs(k ? ", " : "", f);
                jnum(f, pass ? t->paper[r][k] : t->v[r][k]);
            }
            fputc(']', f);
        }
    }
    fprintf(f, "]}");
}

static void json_profile(FILE *f, const paper_profile *p)
{
    fprintf(f, "  \"settings\": {\"profile\": \"%s\", \"train_limit\": %zu, \"test_limit\": %zu, "
            "\"epochs\": %zu, \"attacked\": %zu, \"lbfgs_bisect_steps\": %zu,\n"
            "    \"conv_spec\": \"%s\", \"conv_train\": %zu, \"conv_epochs\": %zu, "
            "\"lipschitz_points\": %zu, \"maxact_directions\": %zu, \"maxact_top\": %zu,\n"
            "    \"zhang_examples\": %zu, \"zhang_epochs\": %zu, \"figure_rows\": %zu, "
            "\"advtrain_epochs\": %zu, \"advtrain_pool\": %zu,\n"
            "    \"attack\": \"box-constrained L-BFGS, untargeted, library defaults except "
            "c_bisect_steps\", \"distortion\": \"RMS per pixel, pixels in [0,1]\",\n"
            "    \"decay_mode\": \"per-unit\", \"noise_sigmas\": [0.1, 0.3], "
            "\"noise_sigma_table4\": [0.06, 0.1], \"amplify_rms\": 0.1, \"noise_clipped\": true",
            p->name, p->train_limit, p->test_limit, p->epochs, p->attacked, p->bisect_steps,
            p->conv_spec, p->conv_train, p->conv_epochs, p->lip_points, p->maxact_dirs,
            p->maxact_k, p->zhang_n, p->zhang_epochs, p->figure_rows, p->advtrain_epochs,
            p->advtrain_pool);
}

static int write_json(const paper_ctx *c, double seconds, const char *path)
{
    cli_out o;
    FILE *f = cli_out_open(&o);
    if (!f) return -1;
    const paper_report *r = c->rep;
    fprintf(f, "{\n  \"program\": \"nnprobe-paper\", \"library_version\": \"%s\",\n",
            nnp_version_string());
    fprintf(f, "  \"paper\": \"Szegedy et al. 2013, Intriguing properties of neural networks\","
            "\n  \"paper_numbers\": \"MNIST, docs/paper.md\",\n");
    json_profile(f, c->pf);
    fprintf(f, ", \"seed\": %" PRIu64 ", \"cache\": ", c->cm.seed);
    jstr(f, c->cache ? c->cache : "");
    fprintf(f, "},\n  \"data\": {\"train_images\": ");
    jstr(f, c->cm.path[0]);
    fprintf(f, ", \"test_images\": ");
    jstr(f, c->cm.path[2]);
    fprintf(f, ", \"train_examples\": %zu, \"test_examples\": %zu, \"train_checksum\": "
            "\"fnv1a64:%016" PRIx64 "\", \"test_checksum\": \"fnv1a64:%016" PRIx64 "\", "
            "\"classes\": [", nnp_dataset_count(c->train), nnp_dataset_count(c->test),
            c->train_sum, c->test_sum);
    for (size_t k = 0; k < 10; k++) {
        fputs(k ? ", " : "", f);
        jstr(f, c->class_names[k]);
    }
    fprintf(f, "]},\n  \"models\": {\"trained\": %zu, \"from_cache\": %zu},\n"
            "  \"seconds\": %.3f, \"step_seconds\": [", c->n_trained, c->n_cached, seconds);
    for (size_t i = 0; i < r->n_seconds; i++) fprintf(f, "%s%.3f", i ? ", " : "", r->seconds[i]);
    fprintf(f, "],\n  \"tables\": {\n");
    for (size_t i = 0; i < r->n_tables; i++) {
        json_table(f, &r->tables[i]);
        fputs(i + 1 < r->n_tables ? ",\n" : "\n", f);
    }
    fprintf(f, "  },\n  \"findings\": [");
    for (size_t i = 0; i < r->n_findings; i++) {
        fprintf(f, "%s\n    {\"text\": ", i ? "," : "");
        jstr(f, r->findings[i].text);
        fprintf(f, ", \"held\": %s, \"detail\": ", r->findings[i].held ? "true" : "false");
        jstr(f, r->findings[i].detail);
        fputc('}', f);
    }
    for (int pass = 0; pass < 2; pass++) {
        const pfigure *fig = pass ? r->charts : r->figures;
        size_t n = pass ? r->n_charts : r->n_figures;
        fprintf(f, "],\n  \"%s\": [", pass ? "charts" : "figures");
        for (size_t i = 0; i < n; i++) {
            fprintf(f, "%s\n    {\"file\": ", i ? "," : "");
            jstr(f, fig[i].file);
            fprintf(f, ", \"caption\": ");
            jstr(f, fig[i].caption);
            fputc('}', f);
        }
    }
    fprintf(f, "],\n  \"chart_note\": ");
    jstr(f, r->chart_note);
    fprintf(f, "\n}\n");
    return cli_out_commit(&o, path);
}

/* ---- Markdown ---- */

void paper_header(FILE *f, const paper_ctx *c, double seconds, int html)
{
    const char *b = html ? "<b>" : "**", *eb = html ? "</b>" : "**", *k = html ? "<code>" : "`",
               *ek = html ? "</code>" : "`";
    fprintf(f, "Profile %s%s%s, seed %" PRIu64 ", libnnprobe %s, data %s", b, c->pf->name, eb,
            c->cm.seed, nnp_version_string(), k);
    for (const char *p = c->cm.path[0]; *p; p++) { /* the path, HTML-escaped in HTML */
        if (html && (*p == '<' || *p == '>' || *p == '&'))
            fputs(*p == '<' ? "&lt;" : *p == '>' ? "&gt;" : "&amp;", f);
        else
            fputc(*p, f);
    }
    fprintf(f, "%s (%zu training, %zu test examples), %.0f s (%zu nets trained, %zu from the "
            "cache).%sThe paper's numbers (in parentheses) are its MNIST results "
            "(docs/paper.md); ours are analogues on the data above. Distortion = RMS per pixel "
            "in [0,1].\n", ek, nnp_dataset_count(c->train), nnp_dataset_count(c->test), seconds,
            c->n_trained, c->n_cached, html ? " " : "\n\n");
}

static int write_md(const paper_ctx *c, double seconds, const char *path)
{
    cli_out o;
    FILE *f = cli_out_open(&o);
    if (!f) return -1;
    const paper_report *r = c->rep;
    fprintf(f, "# Intriguing properties of neural networks: reproduction report\n\n");
    paper_header(f, c, seconds, 0);
    fprintf(f, "\n## Findings\n\n");
    for (size_t i = 0; i < r->n_findings; i++)
        fprintf(f, "- **%s**: %s (%s)\n", r->findings[i].held ? "held" : "did not hold",
                r->findings[i].text, r->findings[i].detail);
    for (size_t i = 0; i < r->n_tables; i++) {
        const ptable *t = &r->tables[i];
        fprintf(f, "\n## %s\n\n|  |", t->title);
        for (size_t k = 0; k < t->nc; k++) fprintf(f, " %s |", t->col[k]);
        fprintf(f, "\n|---|");
        for (size_t k = 0; k < t->nc; k++) fprintf(f, "---|");
        for (size_t row = 0; row < t->nr; row++) {
            fprintf(f, "\n| %s |", t->row[row]);
            for (size_t k = 0; k < t->nc; k++) {
                char a[32], b[32];
                paper_cell(t->fmt[k], t->v[row][k], a, sizeof a);
                paper_cell(t->fmt[k], t->paper[row][k], b, sizeof b);
                fprintf(f, isnan(t->paper[row][k]) ? " %s |" : " %s (%s) |", a, b);
            }
        }
        fprintf(f, "\n%s%s\n", t->note[0] ? "\n" : "", t->note);
    }
    fprintf(f, "\n## Figures\n\n");
    for (size_t i = 0; i < r->n_figures; i++)
        fprintf(f, "![%s](%s)\n\n%s\n\n", r->figures[i].file, r->figures[i].file,
                r->figures[i].caption);
    for (size_t i = 0; i < r->n_charts; i++)
        fprintf(f, "![%s](%s)\n\n%s\n\n", r->charts[i].file, r->charts[i].file,
                r->charts[i].caption);
    if (r->chart_note[0]) fprintf(f, "%s\n", r->chart_note);
    return cli_out_commit(&o, path);
}

int paper_write_reports(const paper_ctx *c, double seconds)
{
    static const char *const names[] = {"report.json", "report.md", "report.html"};
    int (*const writers[])(const paper_ctx *, double, const char *) = {write_json, write_md,
                                                                       paper_write_html};
    for (size_t i = 0; i < 3; i++) {
        char path[CLI_PATH_LEN];
        paper_path(c, names[i], path, sizeof path);
        if (writers[i](c, seconds, path) != 0) {
            fprintf(stderr, "nnprobe-paper: cannot write %s\n", path);
            return CLI_FAILURE;
        }
        if (!c->cm.quiet) fprintf(stderr, "wrote %s\n", path);
    }
    return CLI_OK;
}
