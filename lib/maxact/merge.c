/* Merging the max-activation lists of shards (nnp_maxact_merge, maxact.h): per direction, the
 * filled entries of every part, sorted by the search's own ranking, the first k kept. */
#include <stdlib.h>

#include "maxact/internal.h"
#include "nnprobe/maxact.h"

typedef struct merge_entry {
    float score;
    size_t index, part;
} merge_entry;

/* qsort orders: the search's ranking, then (only for a repeated index) the part */
static int order(const merge_entry *x, const merge_entry *y, int top)
{
    if (nnpi_maxact_ranks_before(x->score, x->index, y->score, y->index, top)) return -1;
    if (nnpi_maxact_ranks_before(y->score, y->index, x->score, x->index, top)) return 1;
    return (x->part > y->part) - (x->part < y->part);
}
static int before_top(const void *a, const void *b) { return order(a, b, 1); }
static int before_bottom(const void *a, const void *b) { return order(a, b, 0); }

static int by_index(const void *a, const void *b)
{
    const merge_entry *x = a, *y = b;
    if (x->index != y->index) return (x->index > y->index) - (x->index < y->index);
    return (x->part > y->part) - (x->part < y->part);
}

/* The filled entries of row d of every part into e; returns how many. */
static size_t gather_row(const size_t *const *index, const float *const *score, size_t n_parts,
                         size_t k, size_t d, merge_entry *e)
{
    size_t m = 0;
    for (size_t p = 0; p < n_parts; p++)
        for (size_t j = 0; j < k; j++) {
            const size_t i = index[p][d * k + j];
            if (i != SIZE_MAX) e[m++] = (merge_entry){score[p][d * k + j], i, p};
        }
    return m;
}

NNP_API nnp_status nnp_maxact_merge(const size_t *const *index, const float *const *score,
                                    size_t n_parts, size_t n_dir, size_t k, int top,
                                    size_t *out_index, float *out_score, size_t *found)
{
    static const char *const F = "nnp_maxact_merge";
    NNPI_CHECK_NULL(index);
    NNPI_CHECK_NULL(score);
    NNPI_CHECK_NULL(out_index);
    NNPI_CHECK_NULL(out_score);
    if (n_parts == 0 || n_dir == 0 || k == 0)
        return nnpi_error(NNP_EINVAL, "%s: n_parts = %zu, n_dir = %zu, k = %zu: each must be >= 1",
                          F, n_parts, n_dir, k);
    if (top != 0 && top != 1) return nnpi_error(NNP_EINVAL, "%s: top = %d must be 0 or 1", F, top);
    for (size_t p = 0; p < n_parts; p++)
        if (index[p] == NULL || score[p] == NULL)
            return nnpi_error(NNP_EINVAL, "%s: index[%zu] or score[%zu] is NULL", F, p, p);
    merge_entry *e = nnpi_malloc(nnpi_mul(nnpi_mul(n_parts, k), sizeof *e));
    if (e == NULL)
        return nnpi_error(NNP_ENOMEM, "%s: out of memory for %zu parts of %zu entries", F,
                          n_parts, k);
    nnp_status st = NNP_OK;
    size_t filled = 0;
    for (size_t d = 0; d < n_dir && st == NNP_OK; d++) {
        const size_t m = gather_row(index, score, n_parts, k, d, e);
        qsort(e, m, sizeof *e, by_index); /* a repeated index sorts side by side */
        for (size_t j = 1; j < m && st == NNP_OK; j++)
            if (e[j].index == e[j - 1].index)
                st = nnpi_error(NNP_EINVAL, "%s: example %zu appears in part %zu and part %zu "
                                "(row %zu): the shards overlap", F, e[j].index, e[j - 1].part,
                                e[j].part, d);
        qsort(e, m, sizeof *e, top ? before_top : before_bottom);
        if (st == NNP_OK && d > 0 && (m < k ? m : k) != filled)
            st = nnpi_error(NNP_EINVAL, "%s: row %zu has %zu filled entries, row 0 %zu", F, d,
                            m < k ? m : k, filled);
        if (d == 0) filled = m < k ? m : k;
        for (size_t j = 0; st == NNP_OK && j < k; j++) {
            out_index[d * k + j] = j < m ? e[j].index : SIZE_MAX;
            out_score[d * k + j] = j < m ? e[j].score : NAN;
        }
    }
    nnpi_free(e);
    if (st == NNP_OK && found) *found = filled;
    return st;
}
