/* nnprobe-paper: report.html, self-contained: the findings, every table with the paper's
 * numbers beside ours, and the figures and charts embedded as base64 PNG. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "paper.h"

static void html_text(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '<') fputs("&lt;", f);
        else if (*s == '>') fputs("&gt;", f);
        else if (*s == '&') fputs("&amp;", f);
        else fputc(*s, f);
    }
}

/* Embeds <out>/<file> as a base64 data URI image; 0, or -1 if it cannot be read. */
static int html_image(FILE *f, const paper_ctx *c, const pfigure *fig)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char path[CLI_PATH_LEN];
    paper_path(c, fig->file, path, sizeof path);
    FILE *in = fopen(path, "rb");
    if (!in) return -1;
    fprintf(f, "<figure><img alt=\"%s\" src=\"data:image/png;base64,", fig->file);
    unsigned char b[3];
    size_t n;
    while ((n = fread(b, 1, 3, in)) > 0) {
        unsigned v = (unsigned)b[0] << 16 | (n > 1 ? (unsigned)b[1] << 8 : 0) | (n > 2 ? b[2] : 0);
        char o[4] = {b64[v >> 18], b64[v >> 12 & 63], n > 1 ? b64[v >> 6 & 63] : '=',
                     n > 2 ? b64[v & 63] : '='};
        fwrite(o, 1, 4, f);
    }
    fclose(in);
    fputs("\"><figcaption>", f);
    html_text(f, fig->caption);
    fputs("</figcaption></figure>\n", f);
    return 0;
}

int paper_write_html(const paper_ctx *c, double seconds, const char *path)
{
    cli_out o;
    FILE *f = cli_out_open(&o);
    if (!f) return -1;
    const paper_report *r = c->rep;
    int rc = 0;
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>nnprobe-paper"
          " report</title>\n<style>body{font-family:sans-serif;max-width:70em;margin:1em auto;"
          "padding:0 1em}table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid "
          "#bbb;padding:.2em .5em;text-align:right}td:first-child{text-align:left}.p{color:#777;"
          "font-size:85%}.held{color:#070}.not{color:#b00}img{image-rendering:pixelated;"
          "max-width:100%}figure{margin:1em 0}</style></head><body>\n"
          "<h1>Intriguing properties of neural networks: reproduction report</h1>\n<p>", f);
    paper_header(f, c, seconds, 1);
    fputs("</p>\n<h2>Findings</h2>\n<ul>\n", f);
    for (size_t i = 0; i < r->n_findings; i++) {
        fprintf(f, "<li><b class=\"%s\">%s</b>: ", r->findings[i].held ? "held" : "not",
                r->findings[i].held ? "held" : "did not hold");
        html_text(f, r->findings[i].text);
        fputs(" <span class=\"p\">(", f);
        html_text(f, r->findings[i].detail);
        fputs(")</span></li>\n", f);
    }
    fputs("</ul>\n", f);
    for (size_t i = 0; i < r->n_tables; i++) {
        const ptable *t = &r->tables[i];
        fprintf(f, "<h2 id=\"%s\">", t->id);
        html_text(f, t->title);
        fputs("</h2>\n<table><tr><th></th>", f);
        for (size_t k = 0; k < t->nc; k++) fprintf(f, "<th>%s</th>", t->col[k]);
        fputs("</tr>\n", f);
        for (size_t row = 0; row < t->nr; row++) {
            fputs("<tr><td>", f);
            html_text(f, t->row[row]);
            fputs("</td>", f);
            for (size_t k = 0; k < t->nc; k++) {
                char a[32], b[32];
                paper_cell(t->fmt[k], t->v[row][k], a, sizeof a);
                paper_cell(t->fmt[k], t->paper[row][k], b, sizeof b);
                fprintf(f, isnan(t->paper[row][k]) ? "<td>%s</td>"
                                                   : "<td>%s <span class=\"p\">(%s)</span></td>",
                        a, b);
            }
            fputs("</tr>\n", f);
        }
        fputs("</table>\n<p>", f);
        html_text(f, t->note);
        fputs("</p>\n", f);
    }
    fputs("<h2>Figures</h2>\n", f);
    for (size_t i = 0; i < r->n_figures; i++) rc |= html_image(f, c, &r->figures[i]);
    fputs("<h2>Charts</h2>\n", f);
    for (size_t i = 0; i < r->n_charts; i++) rc |= html_image(f, c, &r->charts[i]);
    if (r->chart_note[0]) {
        fputs("<p>", f);
        html_text(f, r->chart_note);
        fputs("</p>\n", f);
    }
    fputs("</body></html>\n", f);
    return cli_out_commit(&o, path) == 0 && rc == 0 ? 0 : -1;
}

