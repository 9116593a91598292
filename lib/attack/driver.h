/* The one run loop of the attacks. Every public nnp_attack_<m>() hands its method table to
 * nnpi_attack_run(), which does what all attacks do the same way: copy and check the options,
 * check the arguments, make the workspace and one block for every per-group buffer, set up the
 * results, run the groups of batch_size examples with progress and cancellation, and finish
 * (labels and distortions of whatever x_adv holds). A method file holds only its defaults, its
 * option checks and its per-group algorithm. Shaped like the layer ops table of
 * net/net_internal.h. Internal. */
#ifndef NNP_ATTACK_DRIVER_H
#define NNP_ATTACK_DRIVER_H

#include <stddef.h>

#include "attack/common.h"

/* Progress in units the method chooses (its progress_each() per example); report() calls the
 * callback (if any) and turns a non-zero answer into NNP_ECANCELLED with a message naming
 * `func`. Methods add to `done` and report; the driver sets up total and func. */
typedef struct nnpi_progress {
    nnp_progress_fn fn;
    void *user;
    uint64_t done, total;
    const char *func;
} nnpi_progress;
nnp_status nnpi_progress_report(const nnpi_progress *p);

/* Sizes of one call, for laying out a method's buffers. */
typedef struct nnpi_attack_dims {
    size_t batch; /* examples per group: opts.batch_size clamped to n; the buffers' capacity */
    size_t d, k;  /* input values and classes per example */
} nnpi_attack_dims;

/* Cuts one block into pieces, each aligned for any type. The driver runs a method's layout()
 * twice: first measuring (base NULL, work NULL: pieces are NULL, `used` grows), then carving
 * the block it allocated, so the size asked for and the pieces used cannot drift apart. A size
 * that overflows saturates `used` at SIZE_MAX, which no allocation grants. */
typedef struct nnpi_carve {
    unsigned char *base;
    size_t used;
} nnpi_carve;
void *nnpi_carve_take(nnpi_carve *c, size_t count, size_t size);

/* In a layout(): w->field gets `count` elements of its type (w NULL: measures only). */
#define NNPI_CARVE(c, w, field, count)                                                       \
    do {                                                                                     \
        void *nnpi_piece_ = nnpi_carve_take((c), (count), sizeof *(w)->field);               \
        if ((w) != NULL) (w)->field = nnpi_piece_;                                           \
    } while (0)

/* In a layout(): each named field of w gets `count` elements of its type, in the order given
 * (1 to 8 fields), e.g. NNPI_CARVE_EACH(c, w, batch, loss, pred) for the per-example buffers. */
#define NNPI_CARVE_EACH(c, w, count, ...)                                                    \
    do {                                                                                     \
        NNPI_CARVE_CAT_(NNPI_CARVE_, NNPI_CARVE_NARGS_(__VA_ARGS__))(c, w, count, __VA_ARGS__) \
    } while (0)
#define NNPI_CARVE_NARGS_(...) NNPI_CARVE_NTH_(__VA_ARGS__, 8, 7, 6, 5, 4, 3, 2, 1, 0)
#define NNPI_CARVE_NTH_(a1, a2, a3, a4, a5, a6, a7, a8, N, ...) N
#define NNPI_CARVE_CAT_(a, b) NNPI_CARVE_CAT2_(a, b)
#define NNPI_CARVE_CAT2_(a, b) a##b
#define NNPI_CARVE_1(c, w, n, f) NNPI_CARVE(c, w, f, n);
#define NNPI_CARVE_2(c, w, n, f, ...) NNPI_CARVE(c, w, f, n); NNPI_CARVE_1(c, w, n, __VA_ARGS__)
#define NNPI_CARVE_3(c, w, n, f, ...) NNPI_CARVE(c, w, f, n); NNPI_CARVE_2(c, w, n, __VA_ARGS__)
#define NNPI_CARVE_4(c, w, n, f, ...) NNPI_CARVE(c, w, f, n); NNPI_CARVE_3(c, w, n, __VA_ARGS__)
#define NNPI_CARVE_5(c, w, n, f, ...) NNPI_CARVE(c, w, f, n); NNPI_CARVE_4(c, w, n, __VA_ARGS__)
#define NNPI_CARVE_6(c, w, n, f, ...) NNPI_CARVE(c, w, f, n); NNPI_CARVE_5(c, w, n, __VA_ARGS__)
#define NNPI_CARVE_7(c, w, n, f, ...) NNPI_CARVE(c, w, f, n); NNPI_CARVE_6(c, w, n, __VA_ARGS__)
#define NNPI_CARVE_8(c, w, n, f, ...) NNPI_CARVE(c, w, f, n); NNPI_CARVE_7(c, w, n, __VA_ARGS__)

/* One group of examples, as a method's run_group() sees it. Rows are the group's own: x[0] is
 * example `first` of the call. On entry x_adv holds x, every result is zero but for target and
 * clean_label (unless the method labels the clean examples itself, own_clean_labels). */
typedef struct nnpi_attack_group {
    const nnp_net *net;
    nnp_workspace *ws;         /* capacity dims.batch */
    const void *opts;          /* the method's options struct, copied and checked */
    nnpi_attack_dims dims;
    void *work;                /* the method's work struct, its buffers laid out by layout() */
    size_t first, g;           /* index of the first example in the call; examples, ≤ batch */
    const float *x;            /* g × d */
    const int32_t *labels;     /* g, or NULL (targeted only) */
    const int32_t *targets;    /* g, or NULL (untargeted) */
    float *x_adv;              /* g × d */
    nnp_attack_result *res;    /* g */
    nnpi_progress *progress;
} nnpi_attack_group;

/* Whether `predicted` reaches the goal of example e of the group. */
static inline int nnpi_group_goal(const nnpi_attack_group *gr, size_t e, int32_t predicted)
{
    return nnpi_goal_reached(predicted, gr->labels ? gr->labels[e] : -1, gr->res[e].target);
}

/* Where the driver finds the fields every attack's options struct has. */
typedef struct nnpi_attack_opts_layout {
    size_t size;               /* sizeof the struct */
    size_t batch_size_at;      /* offsetof(…, batch_size): size_t */
    size_t progress_at;        /* offsetof(…, progress): nnp_progress_fn */
    size_t progress_user_at;   /* offsetof(…, progress_user): void * */
} nnpi_attack_opts_layout;
#define NNPI_ATTACK_OPTS_LAYOUT(type)                                                  \
    {sizeof(type), offsetof(type, batch_size), offsetof(type, progress),               \
     offsetof(type, progress_user)}

/* What an attack is. */
typedef struct nnpi_attack_method {
    const char *name;          /* the public entry point, "nnp_attack_<m>": prefix of messages */
    nnpi_attack_opts_layout opts;
    const void *defaults;      /* the options struct with every default, size set */
    /* NNP_EINVAL naming "<what>.<field>" for a field out of range; batch_size is the
     * driver's (checked after this) */
    nnp_status (*check)(const void *opts, const char *what);
    /* progress units of one example (the total is n times this) */
    uint64_t (*progress_each)(const void *opts);
    /* the method's work struct (sizeof) and its buffers for a group of dims->batch examples:
     * one NNPI_CARVE per buffer; with w NULL it only measures */
    size_t work_size;
    void (*layout)(void *w, const void *opts, const nnpi_attack_dims *dims, nnpi_carve *c);
    /* Attacks one group: writes x_adv and the results' c, iterations, evaluations, finished
     * (and success where it decides it early; the driver's finish sets label, success and the
     * distortions of every example afterwards). On NNP_ECANCELLED its rows must already be
     * what attack.h promises for a cancellation; other errors end the call. */
    nnp_status (*run_group)(const nnpi_attack_group *gr);
    /* 1: run_group sets clean_label and label of its examples from its own first forward pass
     * at x (FGSM), so the driver skips its classification of the group */
    int own_clean_labels;
} nnpi_attack_method;

/* nnp_attack_<m>_opts_init_sized(): the defaults into the caller's `size` bytes. */
nnp_status nnpi_attack_opts_init(const nnpi_attack_method *m, void *opts, size_t size);

/* nnp_attack_<m>(): runs method m. `o` is the caller's storage for the options copy
 * (m->opts.size bytes); `opts` the caller's options or NULL. */
nnp_status nnpi_attack_run(const nnpi_attack_method *m, void *o, const void *opts,
                           const nnp_net *net, const float *x, const int32_t *labels,
                           const int32_t *targets, size_t n, float *x_adv,
                           nnp_attack_result *results);

/* Defines the two public functions of attack m (nnp_attack_<m>_opts_init_sized() and
 * nnp_attack_<m>(), declared in attack.h) over the method table `method`: every attack's are
 * the same two calls, so they are written once, here. */
#define NNPI_ATTACK_ENTRY_POINTS(m, method)                                                  \
    NNP_API nnp_status nnp_attack_##m##_opts_init_sized(nnp_attack_##m##_opts *opts,         \
                                                        size_t size)                         \
    {                                                                                        \
        return nnpi_attack_opts_init((method), opts, size);                                  \
    }                                                                                        \
    NNP_API nnp_status nnp_attack_##m(const nnp_net *net, const float *x,                    \
                                      const int32_t *labels, const int32_t *targets,         \
                                      size_t n, const nnp_attack_##m##_opts *opts,           \
                                      float *x_adv, nnp_attack_result *results)              \
    {                                                                                        \
        nnp_attack_##m##_opts o; /* the driver's copy of *opts */                            \
        return nnpi_attack_run((method), &o, opts, net, x, labels, targets, n, x_adv,        \
                               results);                                                     \
    }

/* Range checks for the methods' check(): NNP_OK, or NNP_EINVAL with the message
 * "<what>.<field> = <v> must be …" saying which of: finite and > lo (above), finite and ≥ lo
 * (at_least), in lo..hi (count), 0 or 1 (flag). */
nnp_status nnpi_opt_above(double v, double lo, const char *what, const char *field);
nnp_status nnpi_opt_at_least(double v, double lo, const char *what, const char *field);
nnp_status nnpi_opt_count(size_t v, size_t lo, size_t hi, const char *what, const char *field);
nnp_status nnpi_opt_flag(int v, const char *what, const char *field);

#endif
