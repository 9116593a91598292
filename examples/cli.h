/* The command-line module shared by the example programs: messages in one format, checked
 * parsing of option values, the common options (data files, --seed, --quiet, --version), data
 * loading, one progress display, Ctrl-C handling and pieces of help text. Each program calls
 * cli_set_prog() first; the rest is what makes a program a thin main() over the library.
 *
 * Exit statuses are the same in every program: CLI_OK 0, CLI_FAILURE 1 (library or file
 * failure), CLI_USAGE 2 (bad command line), CLI_INTERRUPTED 130 (SIGINT; partial results are
 * still reported and written). */
#ifndef NNPROBE_EXAMPLES_CLI_H
#define NNPROBE_EXAMPLES_CLI_H

#include <getopt.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <nnprobe/nnprobe.h>

enum { CLI_OK = 0, CLI_FAILURE = 1, CLI_USAGE = 2, CLI_INTERRUPTED = 130 };

#define CLI_DEFAULT_DATA_DIR "/usr/share/datasets/fashion-mnist"
#define CLI_PATH_LEN 4096

/* ---- messages ---- */

/* Names the program in every message (a string literal or otherwise static). */
void cli_set_prog(const char *prog);

/* The name given to cli_set_prog(). */
const char *cli_prog(void);

/* "<prog>: <message>" and a hint to --help on stderr (the caller exits with status 2). */
void usage_error(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

/* "<prog>: <what>: <status name>: <nnp_last_error()>" on stderr. */
void lib_error(const char *what, nnp_status s);

/* The exit status for a library status: 0, 130 for NNP_ECANCELLED, else 1. */
int cli_status_rc(nnp_status s);

/* The one error facility of the programs, for a function with `int rc` and a label `done`
 * that frees everything: USAGE prints a usage error and exits 2; TRY exits 1 (130 when the
 * call was cancelled by Ctrl-C) after printing the library's message; RUN takes an exit status
 * from a helper that has printed its own message. */
#define USAGE(...)                                                                           \
    do {                                                                                     \
        usage_error(__VA_ARGS__);                                                            \
        rc = CLI_USAGE;                                                                      \
        goto done;                                                                           \
    } while (0)
#define TRY(what, call)                                                                      \
    do {                                                                                     \
        nnp_status s_ = (call);                                                              \
        if (s_ != NNP_OK) {                                                                  \
            lib_error(what, s_);                                                             \
            rc = cli_status_rc(s_);                                                          \
            goto done;                                                                       \
        }                                                                                    \
    } while (0)
#define RUN(call)                                                                            \
    do {                                                                                     \
        if ((rc = (call)) != CLI_OK) goto done;                                              \
    } while (0)

/* ---- option values ---- */

/* Parses a decimal integer ≥ min for option `opt`; on error prints a usage error, returns -1. */
int parse_size(const char *opt, const char *s, size_t min, size_t *out);

/* Parses a decimal integer in [0, 2^64) for option `opt`; on error prints a usage error,
 * returns -1. */
int parse_u64(const char *opt, const char *s, uint64_t *out);

/* Parses a finite number for option `opt` (the range is the caller's to check); on error
 * prints a usage error, returns -1. */
int parse_double(const char *opt, const char *s, double *out);

/* Parses a finite number ≥ lo for option `opt`; on error prints a usage error, returns -1. */
int parse_double_min(const char *opt, const char *s, double lo, double *out);

/* Parses a number in the interval from lo to hi, each end open (excluded) or closed, for
 * option `opt`; `range` names it in the message ("in (0, 1]"). Returns 0 or -1 after a usage
 * error. */
int parse_double_in(const char *opt, const char *s, double lo, int lo_open, double hi,
                    int hi_open, const char *range, double *out);

/* Parses up to `max` comma-separated numbers ≥ lo ("1e-4,0,1e-5") for option `opt` into out,
 * their count into *n; on error prints a usage error, returns -1. */
int parse_double_list(const char *opt, const char *s, size_t max, double lo, double *out,
                      size_t *n);

/* Parses up to `max` comma-separated indices ("3,0,7") for option `opt` into out, their count
 * into *n; on error prints a usage error, returns -1. */
int parse_index_list(const char *opt, const char *s, size_t max, size_t *out, size_t *n);

/* Parses "I/N" (shard I of N, 0 ≤ I < N) for option `opt`; on error prints a usage error,
 * returns -1. */
int cli_parse_shard(const char *opt, const char *s, size_t *index, size_t *count);

/* Index of `s` (case-insensitively) in the `n` names, or -1 after a usage error
 * "<opt>: '<s>' is not <a, b or c>". For option values such as --norm linf|l2. */
int parse_choice(const char *opt, const char *s, const char *const *names, int n);

/* A data-driven option table, for programs with many options that each set one or more
 * fields: the option's name, how its value is parsed, and up to CLI_MAX_FIELDS byte offsets
 * of fields (in a struct the caller passes) that all receive it. */
enum { CLI_MAX_FIELDS = 5 };
typedef enum cli_kind {
    CLI_SIZE,   /* size_t ≥ min */
    CLI_DOUBLE, /* double (finite) */
    CLI_FLAG,   /* no value: int fields set to `min` */
    CLI_STRING  /* const char * fields set to the argument */
} cli_kind;
typedef struct cli_table_opt {
    const char *name; /* without the leading "--" */
    cli_kind kind;
    size_t min;
    size_t n_fields;
    size_t field[CLI_MAX_FIELDS];
} cli_table_opt;

/* Fills `out` (room for n + 1) with the getopt_long entries of the table: entry i gets the
 * value base_val + i; the last one is the terminator. */
void cli_table_long_opts(const cli_table_opt *t, size_t n, int base_val, struct option *out);

/* Stores `arg` parsed by t->kind in every field of t (offsets into `base`); returns 0 or -1
 * after a usage error. */
int cli_table_set(const cli_table_opt *t, const char *arg, void *base);

/* ---- common options ---- */

/* getopt_long values of the common options (the programs' own start at CLI_OPT_OWN); the
 * data-format and normalisation options (cli-data.c) take 240.. */
enum {
    CLI_OPT_TRAIN_IMAGES = 200, CLI_OPT_TRAIN_LABELS, CLI_OPT_TEST_IMAGES, CLI_OPT_TEST_LABELS,
    CLI_OPT_DATA_DIR, CLI_OPT_SEED, CLI_OPT_QUIET, CLI_OPT_THREADS, CLI_OPT_SHARD, CLI_OPT_OWN = 256
};
enum { CLI_OPT_DATA = 240, CLI_OPT_LABELS, CLI_OPT_MEAN, CLI_OPT_STD, CLI_OPT_NORMALIZE };
enum { CLI_MAX_CHANNELS = 16 };

/* getopt_long entries of the four data files; --data-dir; --seed, --quiet, help and version
 * (what cli_next_option() adds to a program's own options). */
#define CLI_LONG_FILES                                                                       \
    {"train-images", required_argument, NULL, CLI_OPT_TRAIN_IMAGES},                         \
    {"train-labels", required_argument, NULL, CLI_OPT_TRAIN_LABELS},                         \
    {"test-images", required_argument, NULL, CLI_OPT_TEST_IMAGES},                           \
    {"test-labels", required_argument, NULL, CLI_OPT_TEST_LABELS}
#define CLI_LONG_DATA CLI_LONG_FILES, {"data-dir", required_argument, NULL, CLI_OPT_DATA_DIR}
#define CLI_LONG_COMMON                                                                      \
    {"seed", required_argument, NULL, CLI_OPT_SEED},                                         \
    {"quiet", no_argument, NULL, CLI_OPT_QUIET}, {"help", no_argument, NULL, 'h'},          \
    {"threads", required_argument, NULL, CLI_OPT_THREADS},                                   \
    {"version", no_argument, NULL, 'V'}

/* What the common options set; cli_common_init() gives the defaults (Fashion-MNIST in
 * CLI_DEFAULT_DATA_DIR, seed 1, progress shown). */
typedef struct cli_common {
    const char *data_dir;
    const char *file[4];           /* given files (NULL: data_dir/<Fashion-MNIST name>) */
    char path[4][CLI_PATH_LEN];    /* the files used: train images, labels, test images, labels */
    uint64_t seed;
    int quiet;
    int data_given;   /* a data option was given (else the default directory is used) */
    int data_optional; /* set by a program before cli_load_data: when no data option was given,
                        * a default data set that cannot be loaded is no error (test set NULL;
                        * cli_data_for_model() then draws random points) */
    int random_data;  /* cli_data_for_model() made random points */
    size_t n_mean, n_std; /* --mean, --std (or --normalize): per-channel values, 0 if not given */
    double mean[CLI_MAX_CHANNELS], std[CLI_MAX_CHANNELS];
    size_t shard_index, shard_count; /* --shard I/N (programs with cli_options.shard); count 0:
                                        the whole run */
} cli_common;

void cli_common_init(cli_common *c);

/* Handles one getopt_long() result `opt` (with its optarg) if it is a common one: returns
 * CLI_NOT_MINE when it is not (the program's own), CLI_NEXT when it was handled, else the
 * status to exit with at once: 0 after --version, 2 after a bad value or getopt's own
 * complaint ('?'). '-h' stays the program's (its help text). */
enum { CLI_NOT_MINE = -1, CLI_NEXT = -2 };
int cli_common_option(cli_common *c, int opt, const char *arg);

/* Which data options a program takes. */
enum { CLI_DATA_NONE, CLI_DATA_FILES, CLI_DATA_DIR };

/* A program's options besides the common ones: `table` rows are stored into the caller's
 * struct by cli_next_option() itself; `own` (NULL-terminated, values from CLI_OPT_OWN on, or
 * NULL) are handed back to the program. */
typedef struct cli_options {
    int data; /* CLI_DATA_NONE, CLI_DATA_FILES (the four files) or CLI_DATA_DIR (and --data-dir) */
    const cli_table_opt *table;
    size_t n_table;
    const struct option *own;
    int probe; /* 1: also --data, --labels, --mean, --std, --normalize (cli-data.c); the program
                * calls cli_normalize() and cli_data_for_model() */
} cli_options;

/* The getopt_long entry of --shard I/N, for a program's own options (those that write shard
 * files, shard-file.h); cli_next_option() handles it into cli_common. */
#define CLI_LONG_SHARD {"shard", required_argument, NULL, CLI_OPT_SHARD}

/* getopt_long() over the common options (--seed, --quiet, -V/--version, the data options
 * that o->data asks for), o's table and o's own options. Handles the common ones (into *cm)
 * and the table's (into *base) itself and returns the next of the program's own (or 'h'), or
 * -1 at the end of the options (positional arguments start at optind) or when the program is
 * to exit at once: then *exit_rc is the status (0 after --version, 2 after a bad option),
 * otherwise it is left -1. Pass the same `o` on every call. */
int cli_next_option(int argc, char **argv, const cli_options *o, cli_common *cm, void *base,
                    int *exit_rc);

/* ---- data ---- */

/* Loads the training set into *train and/or the test set into *test (either may be NULL: not
 * wanted) from the files given, else from <data_dir>/<Fashion-MNIST file name>; c->path names
 * the files. Each set is read by cli_load_set(). Returns an exit status after printing its own
 * message; what was loaded is the caller's to free on every path. */
int cli_load_data(cli_common *c, nnp_dataset **train, nnp_dataset **test);

/* ---- data formats, normalisation, data for a model (cli-data.c; docs/data.md) ---- */

/* Loads one set by the form of `images`: a directory of PNG images (imagedir.h), a NumPy file
 * ending in ".npy" or ".npy.gz" (nnp_dataset_load_npy), else IDX; `labels` (or NULL) is an IDX
 * or .npy label file. Returns the status; on failure `msg` (cap bytes) holds
 * "<status name>: <message>". */
nnp_status cli_load_set(const char *images, const char *labels, nnp_dataset **out, char *msg,
                        size_t cap);

/* Handles --data, --labels, --mean, --std and --normalize (CLI_NEXT, CLI_USAGE after a
 * message, or CLI_NOT_MINE). */
int cli_data_option(cli_common *c, int opt, const char *arg);

/* With --mean/--std: replaces *net (an ONNX model, `name`) by nnp_net_normalized() of it and
 * says so on stderr (the model's layer i becomes layer i + 1). Refused for a model trained
 * here (`onnx` 0), a value count that is neither 1 nor the input's channel count, a std ≤ 0.
 * Returns an exit status. */
int cli_normalize(cli_common *c, const char *name, int onnx, nnp_net **net);

/* The data a model is probed on: *test as loaded, unless no data option was given and the
 * default set is missing or does not match the net's input: then, when `need_labels`, a usage
 * error naming the fix; else *test becomes `n` random points uniform in [0,1] (from the seed)
 * in the net's input shape, unlabelled, with a note on stderr. When the given data are the
 * model's input shape rotated channel-last (H×W×C for C×H×W), refuses naming the transpose.
 * Returns an exit status. */
int cli_data_for_model(cli_common *c, const char *name, const nnp_net *net, size_t n,
                       int need_labels, nnp_dataset **test);

/* Writes n images (c×h×w floats in [0,1]) as float32 IDX to `images` and their labels to
 * `labels` (".gz" compresses); returns 0 or 1 after a message naming `what`. */
int cli_save_idx(const char *what, const char *images, const char *labels, const float *x,
                 const int32_t *y, size_t n, size_t c, size_t h, size_t w);

/* ---- output files ----
 * Every file the programs write goes through nnp_file_write(), the library's one safe-write
 * path (nnprobe/file.h): a regular file is replaced atomically (symlinks followed, mode kept),
 * a device or FIFO written in place, and nothing is left half-written or deleted on failure.
 * Text is composed in memory first (cli_out), PNGs too (figure.c). */

/* Checks before any long work that output paths can be written: `n` pairs (option name,
 * path or NULL when not given). Each must have an existing writable directory or be a writable
 * device. Returns CLI_OK, or CLI_USAGE after a message naming the option, path and reason. */
int cli_check_outputs(int n, ...);

/* A text file composed in memory: cli_out_open() gives the stream to print to, and
 * cli_out_commit() writes it all to `path` through nnp_file_write(). */
typedef struct cli_out {
    FILE *f;
    char *buf;
    size_t len;
} cli_out;

/* Returns the stream, or NULL after a message. */
FILE *cli_out_open(cli_out *o);

/* Closes the stream and writes it to `path`; returns 0, or -1 after a message. Frees the
 * buffer either way. */
int cli_out_commit(cli_out *o, const char *path);

/* ---- progress and Ctrl-C ---- */

/* Catches SIGINT: the first one only sets a flag the progress callback reads, so that the
 * library cancels the running call (NNP_ECANCELLED) and the program can report and write what
 * it has (nnprobe-attack, nnprobe-train) or exit 130 cleanly; a second one exits at once with
 * status 130. An ignored SIGINT (a background job) stays ignored. */
void cli_catch_sigint(void);

/* Whether SIGINT has arrived since cli_catch_sigint(). */
int cli_interrupted(void);

/* One progress display on stderr for every long library call: on a terminal a line redrawn
 * at most 10 times a second ("<phase>: 42%  3.1 s  ETA 4 s", the remaining time at the rate
 * so far), otherwise (a log) a line at each quarter;
 * nothing with --quiet. The callback returns 1, asking the library to cancel, after SIGINT. */
typedef struct cli_progress {
    const char *phase;
    int quiet, tty, drawn;
    size_t epochs; /* when not 0, a terminal line also shows the epoch (training) */
    double t0, last;
} cli_progress;

/* Starts timing `phase`; returns p, for `opts.progress_user`. */
cli_progress *cli_progress_start(cli_progress *p, const char *phase, int quiet);

/* The nnp_progress_fn: pass cli_progress_cb with a started cli_progress as its user pointer. */
int cli_progress_cb(uint64_t done, uint64_t total, void *user);

/* Ends the phase (the redrawn line gets its newline); returns the seconds since the start. */
double cli_progress_end(cli_progress *p);

/* ---- help text pieces ---- */

#define CLI_HELP_FILES                                                                       \
    "      --train-images FILE, --train-labels FILE, --test-images FILE, --test-labels FILE\n" \
    "                            one file each (overrides the directory)\n"
#define CLI_HELP_DATA                                                                        \
    "      --data-dir DIR        the four Fashion-MNIST-named IDX files in DIR, plain or\n"    \
    "                            gzipped (default " CLI_DEFAULT_DATA_DIR ")\n" CLI_HELP_FILES
#define CLI_HELP_QUIET                                                                       \
    "      --quiet               no progress display on stderr\n"                          \
    "      --threads N           threads of the library's passes (default: NNPROBE_THREADS,\n" \
    "                            else every CPU); with several processes per node, give\n"  \
    "                            each its share\n"
#define CLI_HELP_PROBE                                                                       \
    "      --data FILE|DIR       the images probed (as --test-images): IDX, NumPy .npy\n"     \
    "                            (N,C,H,W) or (N,H,W), or a directory of PNGs (docs/data.md)\n" \
    "      --labels FILE         their labels: IDX or .npy (int64/int32/uint8)\n"             \
    "      --mean a,b,c --std a,b,c  the ONNX model expects (x - mean)/std per channel; the\n" \
    "                            probes work on pixels in [0,1] (layer i becomes i+1)\n"     \
    "      --normalize imagenet  mean 0.485,0.456,0.406, std 0.229,0.224,0.225\n"            \
    "  Without data options, an ONNX model the default data do not fit is probed at random\n" \
    "  points in its input shape (a note says so).\n"
#define CLI_HELP_SHARD                                                                       \
    "      --shard I/N           run shard I (0-based) of N of the examples and write a partial\n" \
    "                            result that nnprobe-merge combines (docs/cluster.md)\n"
#define CLI_HELP_HELP                                                                        \
    "  -h, --help                show this help and exit\n"                                   \
    "  -V, --version             show the library version and exit\n"
#define CLI_HELP_PROGRESS                                                                    \
    "Progress goes to stderr (a redrawn line on a terminal, else a line per quarter), results\n" \
    "to stdout.\n"
#define CLI_HELP_EXIT "Exit status: 0 success, 1 failure, 2 bad usage, 130 interrupted (Ctrl-C).\n"

/* ---- time ---- */

/* Monotonic clock in seconds, for elapsed times. */
double now_seconds(void);

#endif
