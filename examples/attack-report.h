/* The outputs of nnprobe-attack: the printed summary and evaluation table (the paper's Tables
 * 2 and 4), the per-example results file (CSV or JSON) and the figure (the paper's Figure 5
 * layout). Kept apart from the program so that nnprobe-attack.c stays its options and flow. */
#ifndef NNPROBE_EXAMPLES_ATTACK_REPORT_H
#define NNPROBE_EXAMPLES_ATTACK_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include <nnprobe/nnprobe.h>

#include "shard-file.h"

/* Prints success, distortion (RMS mean and median over the changed successes, L2, Linf),
 * error rates and cost of the n results. */
void report_summary(const nnp_attack_result *r, size_t n, double seconds, double clean_err,
                    double adv_err);

/* Per-example results as CSV, or as a JSON array of objects when the path ends in ".json";
 * the same fields either way. With `shard` (CSV only) the file is a shard file: its first
 * line is the shard header (shard-file.h). Returns 0, or -1 after a message. */
int report_results(const char *path, const nnp_attack_result *r, const int32_t *labels,
                   size_t first, size_t n, const shard_info *shard);

/* The adversarial set as float32 IDX images (path) and labels (path + ".labels"). Returns 0,
 * or -1 after a message. */
int report_adversarial(const char *path, const float *xa, const int32_t *labels, size_t n,
                       size_t c, size_t h, size_t w);

/* The paper's Figure 5 layout: original | (x' − x)·10 + ½ | adversarial, one row each of n
 * h×w images. Returns 0, or -1 after a message. */
int report_figure(const char *path, const float *x, const float *xa, size_t n, size_t h,
                  size_t w);

/* The error of every net (columns: the attacked one, then the others) on every set (rows:
 * clean, adversarial, then Gaussian noise of stddev `noise` and the perturbation rescaled to
 * RMS `amplify`, each when ≥ 0) in one nnp_eval_transfer_matrix() call; `names` label the
 * nets. Returns 0, or -1 after a message. */
int report_evaluation(const nnp_net *const *nets, const char *const *names, size_t n_nets,
                      const float *x, const float *xa, const int32_t *y, size_t n, double noise,
                      double amplify, uint64_t seed);

#endif
