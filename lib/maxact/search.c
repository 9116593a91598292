/* Maximum-activation search (Szegedy et al. 2013, §3): the top-k and bottom-k examples of a
 * data set by ⟨φ_l(x), v⟩ for many directions v in one streaming pass. Also the direction
 * helpers shared with the input optimisation. */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "net/net_internal.h"
#include "nnprobe/maxact.h"
#include "maxact/internal.h"

#define DEFAULT_BATCH 256

/* ---- directions ---- */

NNP_API nnp_status nnp_maxact_directions_unit(size_t dim, size_t unit, float *v)
{
    NNPI_CHECK_NULL(v);
    if (dim == 0) return nnpi_error(NNP_EINVAL, "nnp_maxact_directions_unit: dim is 0");
    if (unit >= dim)
        return nnpi_error(NNP_EINVAL, "nnp_maxact_directions_unit: unit %zu out of range (dim %zu)", unit, dim);
    memset(v, 0, dim * sizeof *v);
    v[unit] = 1.0f;
    return NNP_OK;
}

NNP_API nnp_status nnp_maxact_directions_random(size_t dim, size_t count, uint64_t seed, float *v)
{
    NNPI_CHECK_NULL(v);
    if (dim == 0) return nnpi_error(NNP_EINVAL, "nnp_maxact_directions_random: dim is 0");
    if (count == 0) return nnpi_error(NNP_EINVAL, "nnp_maxact_directions_random: count is 0");
    if (nnpi_mul(nnpi_mul(dim, count), sizeof(float)) == SIZE_MAX)
        return nnpi_error(NNP_EINVAL, "nnp_maxact_directions_random: count × dim = %zu × %zu overflows",
                          count, dim);
    nnpi_rng rng;
    nnpi_rng_seed(&rng, seed);
    for (size_t d = 0; d < count; d++) {
        float *row = v + d * dim;
        double norm2;
        do { /* a zero vector has probability 0; redraw rather than divide by zero */
            norm2 = 0.0;
            for (size_t j = 0; j < dim; j++) {
                double g = nnpi_rng_normal(&rng);
                row[j] = (float)g;
                norm2 += (double)row[j] * (double)row[j];
            }
        } while (!(norm2 > 0.0));
        double inv = 1.0 / sqrt(norm2);
        for (size_t j = 0; j < dim; j++) row[j] = (float)((double)row[j] * inv);
    }
    return NNP_OK;
}

nnp_status nnpi_maxact_check_directions(const float *v, size_t n_dir, size_t dim, const char *func)
{
    const size_t i = nnpi_first_nonfinite(v, n_dir * dim);
    if (i < n_dir * dim)
        return nnpi_error(NNP_EINVAL, "%s: directions[%zu][%zu] is not finite", func, i / dim,
                          i % dim);
    return NNP_OK;
}

/* ---- bounded heaps ---- */

typedef struct entry {
    float score;
    size_t index;
} entry;

#define ranks_before nnpi_maxact_ranks_before

/* A heap of at most k entries whose root is the entry ranked last (the first to go). */
typedef struct heap {
    entry *e;
    size_t n;
} heap;

static void sift_down(entry *e, size_t n, size_t i, int top)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, last = i;
        if (l < n && ranks_before(e[last].score, e[last].index, e[l].score, e[l].index, top)) last = l;
        if (r < n && ranks_before(e[last].score, e[last].index, e[r].score, e[r].index, top)) last = r;
        if (last == i) return;
        entry t = e[i];
        e[i] = e[last];
        e[last] = t;
        i = last;
    }
}

static void sift_up(entry *e, size_t i, int top)
{
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!ranks_before(e[p].score, e[p].index, e[i].score, e[i].index, top)) return;
        entry t = e[i];
        e[i] = e[p];
        e[p] = t;
        i = p;
    }
}

/* Offers the scores of examples first, first+1, … (n of them) to a heap of capacity k.
 * Indices arrive in increasing order, so an equal score never displaces a kept entry (the
 * smaller index ranks first). Once the heap is full almost every score is rejected by one
 * comparison with the root; only unordered pairs (a NaN) take the general rule. */
static void heap_offer_run(heap *h, size_t k, const float *score, size_t n, size_t first, int top)
{
    size_t i = 0;
    for (; i < n && h->n < k; i++) {
        h->e[h->n] = (entry){score[i], first + i};
        sift_up(h->e, h->n++, top);
    }
    float root = h->e[0].score;
    for (; i < n; i++) {
        const float s = score[i];
        if (top ? s <= root : s >= root) continue;       /* common case: not good enough */
        if (!(top ? s > root : s < root) &&              /* a NaN on either side */
            !ranks_before(s, first + i, root, h->e[0].index, top))
            continue;
        h->e[0] = (entry){s, first + i};
        sift_down(h->e, h->n, 0, top);
        root = h->e[0].score;
    }
}

/* Sorts a heap in place into ranking order (heap sort: repeatedly move the last-ranked root
 * to the end). */
static void heap_sort(heap *h, int top)
{
    for (size_t n = h->n; n > 1; n--) {
        entry t = h->e[0];
        h->e[0] = h->e[n - 1];
        h->e[n - 1] = t;
        sift_down(h->e, n - 1, 0, top);
    }
}

static void write_list(const heap *h, size_t k, size_t *index, float *score)
{
    for (size_t j = 0; j < k; j++) {
        int have = j < h->n;
        if (index) index[j] = have ? h->e[j].index : SIZE_MAX;
        if (score) score[j] = have ? h->e[j].score : NAN;
    }
}

/* ---- options ---- */

static void default_search_opts(nnp_maxact_search_opts *o)
{
    memset(o, 0, sizeof *o);
    o->size = sizeof *o;
    o->batch_size = DEFAULT_BATCH;
}

NNP_API nnp_status nnp_maxact_search_opts_init_sized(nnp_maxact_search_opts *opts, size_t size)
{
    nnp_maxact_search_opts d;
    default_search_opts(&d);
    return nnpi_opts_init(opts, size, &d, sizeof d, "nnp_maxact_search_opts_init");
}

/* ---- the search ---- */

typedef struct search_buffers {
    nnp_workspace *ws, *owned; /* the pass's workspace; the one made here, if any */
    float *scores;    /* n_dir × batch */
    entry *entries;   /* n_dir × k (top) followed by n_dir × k (bottom) */
    heap *heaps;      /* n_dir (top) followed by n_dir (bottom) */
} search_buffers;

static void free_search(search_buffers *b)
{
    nnp_workspace_free(b->owned);
    nnpi_free(b->scores);
    nnpi_free(b->entries);
    nnpi_free(b->heaps);
}

NNP_API nnp_status nnp_maxact_search(const nnp_net *net, nnp_workspace *ws, const nnp_dataset *data,
                                     size_t layer, const float *directions, size_t n_dir, size_t k,
                                     const nnp_maxact_search_opts *opts, size_t *top_index,
                                     float *top_score, size_t *bottom_index, float *bottom_score,
                                     size_t *found)
{
    static const char *const F = "nnp_maxact_search";
    NNPI_CHECK_NULL(net);
    NNPI_CHECK_NULL(data);
    NNPI_CHECK_NULL(directions);
    NNPI_TRY(nnpi_check_layer(net, layer, F));
    if (n_dir == 0) return nnpi_error(NNP_EINVAL, "%s: n_dir is 0", F);
    if (n_dir > INT_MAX)
        return nnpi_error(NNP_EINVAL, "%s: n_dir = %zu exceeds %d", F, n_dir, INT_MAX);
    if (k == 0) return nnpi_error(NNP_EINVAL, "%s: k is 0", F);
    if (!top_index && !top_score && !bottom_index && !bottom_score)
        return nnpi_error(NNP_EINVAL, "%s: all four outputs (top_index, top_score, bottom_index, "
                          "bottom_score) are NULL", F);
    nnp_maxact_search_opts o;
    default_search_opts(&o);
    NNPI_TRY(nnpi_opts_copy(&o, sizeof o, opts, "nnp_maxact_search: opts"));
    if (o.batch_size == 0) return nnpi_error(NNP_EINVAL, "%s: opts.batch_size is 0", F);
    const size_t D = nnp_net_input_size(net), N = nnp_dataset_count(data);
    if (o.first_index > SIZE_MAX - 1 - N) /* SIZE_MAX stays the "empty entry" index */
        return nnpi_error(NNP_EINVAL, "%s: opts.first_index = %zu plus %zu examples overflows",
                          F, o.first_index, N);
    if (nnp_dataset_example_size(data) != D)
        return nnpi_error(NNP_EINVAL, "%s: data examples have %zu values, the net's input has %zu",
                          F, nnp_dataset_example_size(data), D);
    const size_t dim = net->nodes[layer].out_size;
    NNPI_TRY(nnpi_maxact_check_directions(directions, n_dir, dim, F));

    const int want_top = top_index || top_score, want_bottom = bottom_index || bottom_score;
    const size_t keep = k < N ? k : N; /* heap capacity: O(k) per direction, never more than N */
    const size_t B = o.batch_size < N ? o.batch_size : N;
    search_buffers b = {0};
    NNPI_TRY(nnpi_workspace_prepare(net, ws, B, &b.ws, &b.owned));
    b.scores = nnpi_malloc(nnpi_mul(nnpi_mul(B, n_dir), sizeof(float)));
    b.entries = nnpi_malloc(nnpi_mul(nnpi_mul(2 * n_dir, keep), sizeof(entry)));
    b.heaps = nnpi_calloc(2 * n_dir, sizeof(heap));
    if (!b.scores || !b.entries || !b.heaps) {
        free_search(&b);
        return nnpi_error(NNP_ENOMEM, "%s: out of memory (%zu directions, k = %zu, batch %zu)", F,
                          n_dir, k, B);
    }
    for (size_t h = 0; h < 2 * n_dir; h++) b.heaps[h].e = b.entries + h * keep;
    heap *tops = b.heaps, *bottoms = b.heaps + n_dir;

    const float *images = nnp_dataset_images(data);
    /* no input check: a data set's images are finite (refused at creation, never writable) */
    nnp_status st = NNP_OK;
    for (size_t start = 0; start < N; start += B) {
        const size_t n = N - start < B ? N - start : B;
        const float *x = images + start * D;
        nnpi_forward(net, b.ws, x, n, layer);
        if ((st = nnpi_check_output(net, b.ws, x, n, layer, o.first_index + start, F)) !=
            NNP_OK) {
            free_search(&b);
            return st;
        }
        const float *phi = nnpi_node_output(b.ws, x, layer);
        /* scores (n_dir × n) = directions (n_dir × dim) · φᵀ (dim × n): one GEMM per batch,
         * laid out so that each direction's scores are contiguous for its heaps */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n_dir, (int)n, (int)dim, 1.0f,
                    directions, (int)dim, phi, (int)dim, 0.0f, b.scores, (int)n);
        for (size_t d = 0; d < n_dir; d++) {
            const float *row = b.scores + d * n;
            const size_t g = o.first_index + start; /* global index of the batch's first */
            if (want_top) heap_offer_run(&tops[d], keep, row, n, g, 1);
            if (want_bottom) heap_offer_run(&bottoms[d], keep, row, n, g, 0);
        }
        if (o.progress && o.progress(start + n, N, o.progress_user) != 0) {
            free_search(&b);
            return nnpi_error(NNP_ECANCELLED, "%s: cancelled after %zu of %zu examples", F,
                              start + n, N);
        }
    }
    for (size_t d = 0; d < n_dir; d++) {
        if (want_top) {
            heap_sort(&tops[d], 1);
            write_list(&tops[d], k, top_index ? top_index + d * k : NULL,
                       top_score ? top_score + d * k : NULL);
        }
        if (want_bottom) {
            heap_sort(&bottoms[d], 0);
            write_list(&bottoms[d], k, bottom_index ? bottom_index + d * k : NULL,
                       bottom_score ? bottom_score + d * k : NULL);
        }
    }
    if (found) *found = keep;
    free_search(&b);
    return NNP_OK;
}
