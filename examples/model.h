/* The classifier an example program probes: an ONNX file, or a preset or a spec
 * (examples/netspec.h) built and trained on the fly on IDX data, with the library's default
 * training options and the preset's λ (the choices nnprobe-train makes too). */
#ifndef NNPROBE_EXAMPLES_MODEL_H
#define NNPROBE_EXAMPLES_MODEL_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include <nnprobe/nnprobe.h>

/* Builds `name` (a preset or a spec) for the shape of `train` and trains it for `epochs`
 * epochs (0: the library's default) from `seed`, drawing progress on stderr unless `quiet`.
 * Autoencoder presets are refused (train them with nnprobe-train). Returns an exit status (0,
 * 1 library failure, 2 bad usage, 130 interrupted when `cancel` became non-zero) after printing
 * its own message; *out is the trained net on success, else NULL. */
int model_train(const char *name, const nnp_dataset *train, size_t epochs, uint64_t seed,
                int quiet, volatile const sig_atomic_t *cancel, nnp_net **out);

/* Whether `name` names an ONNX file (ends in ".onnx") rather than a preset or spec. */
int model_is_onnx(const char *name);

/* Loads an ONNX model, printing its own message on failure; returns an exit status (0 or 1). */
int model_load_onnx(const char *path, nnp_net **out);

#endif
