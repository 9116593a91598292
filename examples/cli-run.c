/* The command-line module of the example programs, its run-time half (see cli.h): data
 * loading and saving, the progress display, Ctrl-C and the clock. cli.c holds the messages and
 * the option parsing. */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"

#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int cli_load_data(cli_common *c, nnp_dataset **train, nnp_dataset **test)
{
    static const char *const names[4] = {"train-images-idx3-ubyte.gz",
                                         "train-labels-idx1-ubyte.gz",
                                         "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"};
    for (int i = 0; i < 4; i++) {
        int n = c->file[i] ? snprintf(c->path[i], CLI_PATH_LEN, "%s", c->file[i])
                           : snprintf(c->path[i], CLI_PATH_LEN, "%s/%s", c->data_dir, names[i]);
        if (n < 0 || n >= CLI_PATH_LEN) {
            usage_error("path of %s too long", c->file[i] ? c->file[i] : "the data directory");
            return CLI_USAGE;
        }
    }
    char msg[1280];
    if (train && cli_load_set(c->path[0], c->path[1], train, msg, sizeof msg) != NNP_OK) {
        fprintf(stderr, "%s: loading the training set: %s\n", cli_prog(), msg);
        return CLI_FAILURE;
    }
    /* --data without --labels: an unlabelled set (cli_data_option marks it with "") */
    if (test && cli_load_set(c->path[2], c->path[3][0] ? c->path[3] : NULL, test, msg,
                             sizeof msg) != NNP_OK) {
        if (c->data_optional && !c->data_given) return CLI_OK; /* cli_data_for_model decides */
        fprintf(stderr, "%s: loading the test set: %s\n", cli_prog(), msg);
        return CLI_FAILURE;
    }
    return CLI_OK;
}

int cli_save_idx(const char *what, const char *images, const char *labels, const float *x,
                 const int32_t *y, size_t n, size_t c, size_t h, size_t w)
{
    nnp_dataset *ds = NULL;
    nnp_status s = nnp_dataset_create(n, c, h, w, x, y, &ds);
    if (s == NNP_OK) s = nnp_dataset_save_idx(ds, images, labels, NNP_IDX_FLOAT);
    nnp_dataset_free(ds);
    if (s != NNP_OK) lib_error(what, s);
    return cli_status_rc(s);
}

/* ---- output files ---- */

int cli_check_outputs(int n, ...)
{
    va_list ap;
    int rc = CLI_OK;
    va_start(ap, n);
    for (int i = 0; i < n && rc == CLI_OK; i++) {
        const char *opt = va_arg(ap, const char *), *path = va_arg(ap, const char *);
        if (path != NULL && nnp_file_check_writable(path) != NNP_OK) {
            usage_error("%s: cannot write there: %s", opt, nnp_last_error());
            rc = CLI_USAGE;
        }
    }
    va_end(ap);
    return rc;
}

FILE *cli_out_open(cli_out *o)
{
    o->buf = NULL;
    o->len = 0;
    o->f = open_memstream(&o->buf, &o->len);
    if (o->f == NULL) lib_error("composing an output file", NNP_ENOMEM);
    return o->f;
}

int cli_out_commit(cli_out *o, const char *path)
{
    int closed = fclose(o->f) == 0; /* the buffer is complete only after fclose */
    nnp_status s = closed ? nnp_file_write(path, o->buf, o->len) : NNP_ENOMEM;
    free(o->buf);
    o->buf = NULL;
    if (!closed) fprintf(stderr, "%s: cannot compose '%s': out of memory\n", cli_prog(), path);
    else if (s != NNP_OK) lib_error("writing a file", s);
    return s == NNP_OK ? 0 : -1;
}

/* ---- progress and Ctrl-C ---- */

static volatile sig_atomic_t g_interrupted = 0;

/* The first SIGINT asks the running call to stop (the program then reports and writes what it
 * has); a second one, for a user who will not wait, ends the program at once with status 130.
 * Files are never left half-written by that: nnp_file_write renames only complete ones. */
static void on_sigint(int sig)
{
    (void)sig;
    if (g_interrupted) {
        static const char msg[] = "\ninterrupted again: exiting now\n";
        (void)!write(STDERR_FILENO, msg, sizeof msg - 1); /* async-signal-safe, unlike stdio */
        _exit(CLI_INTERRUPTED);
    }
    g_interrupted = 1;
}

void cli_catch_sigint(void)
{
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* the handler stays: a second Ctrl-C exits with 130 (on_sigint) */
    if (sigaction(SIGINT, &sa, &old) == 0 && old.sa_handler == SIG_IGN)
        sigaction(SIGINT, &old, NULL);
}

int cli_interrupted(void) { return g_interrupted != 0; }

cli_progress *cli_progress_start(cli_progress *p, const char *phase, int quiet)
{
    *p = (cli_progress){.phase = phase, .quiet = quiet, .tty = isatty(STDERR_FILENO),
                        .t0 = now_seconds()};
    return p;
}

int cli_progress_cb(uint64_t done, uint64_t total, void *user)
{
    cli_progress *p = user;
    if (g_interrupted) return 1;
    if (p->quiet || total == 0) return 0;
    double now = now_seconds();
    int pct = (int)(100 * done / total);
    char eta[48] = ""; /* remaining time at the rate so far */
    if (done > 0 && done < total)
        snprintf(eta, sizeof eta, "  ETA %.0f s",
                 (now - p->t0) * (double)(total - done) / (double)done);
    if (!p->tty) { /* a log: one line at each quarter */
        if (done == total || (total >= 4 && done % (total / 4) == 0))
            fprintf(stderr, "%s: %3d%%  %.1f s%s\n", p->phase, pct, now - p->t0, eta);
        return 0;
    }
    if (done != total && now - p->last < 0.1) return 0;
    fprintf(stderr, "\r%s: %3d%%  %.1f s%s ", p->phase, pct, now - p->t0, eta);
    if (p->epochs && total % p->epochs == 0) {
        uint64_t per = total / p->epochs;
        fprintf(stderr, " epoch %" PRIu64 "/%zu ", (done + per - 1) / per, p->epochs);
    }
    fflush(stderr);
    p->last = now;
    p->drawn = 1;
    return 0;
}

double cli_progress_end(cli_progress *p)
{
    if (p->drawn) fputc('\n', stderr);
    p->drawn = 0;
    return now_seconds() - p->t0;
}

double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
