/**
 * @file shard.h
 * @brief Shards: one slice of a data-set-wide probe, so that a cluster scheduler (Slurm array
 * jobs) or MPI ranks can run the slices apart and the partial results merge **exactly** into
 * the single-process result (docs/cluster.md).
 *
 * Shard i of n is a contiguous run of examples. The examples are cut into blocks of `granule`
 * examples (the last block may be shorter) and the blocks are dealt out in order, shard i
 * getting blocks ⌊i·B/n⌋ … ⌊(i+1)·B/n⌋ − 1 of B. Pass the probe's `batch_size` as the
 * granule: every batch a shard runs is then a batch the single-process run runs too, so
 * whatever depends on the batch (a GEMM's blocking, the lower bound's per-batch stopping
 * rule) is the same and per-example results agree bit for bit. A shard may be empty (more
 * shards than blocks).
 *
 * How each probe shards (its first example's global index is what makes random streams and
 * reported indices global):
 * - attacks: run on the slice; per-example results concatenate. PGD's random start takes the
 *   global index from nnp_attack_pgd_opts::first_index.
 * - error rates, transfer matrix: run on the slice, merge with nnp_eval_merge_rates().
 * - max-activation search: nnp_maxact_search_opts::first_index, merge with
 *   nnp_maxact_merge().
 * - Lipschitz lower bound: nnp_lipschitz_opts::first_index, merge with
 *   nnp_lipschitz_lower_merge().
 *
 * @par Thread safety
 * Reentrant.
 */
#ifndef NNPROBE_SHARD_H
#define NNPROBE_SHARD_H

#include <stddef.h>

#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * @brief The examples of shard `index` of `count` over n examples: [*first, *first + *length).
 * @param[in]  n        examples in the whole run, ≥ 1
 * @param[in]  index    0 … count−1
 * @param[in]  count    shards, ≥ 1
 * @param[in]  granule  block size, ≥ 1: shard boundaries fall on multiples of it (pass the
 *                      probe's batch_size, or 1)
 * @param[out] first    global index of the shard's first example (n when it is empty)
 * @param[out] length   examples in the shard, possibly 0
 * @retval NNP_EINVAL NULL output, n, count or granule 0, index ≥ count
 * @par Thread safety Reentrant.
 * @since 0.2.0
 */
NNP_API NNP_NODISCARD nnp_status nnp_shard_range(size_t n, size_t index, size_t count,
                                                 size_t granule, size_t *first,
                                                 size_t *length);

#ifdef __cplusplus
}
#endif
#endif
