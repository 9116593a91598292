/* The classifier an example program probes: an ONNX file, or a preset or a spec
 * (examples/netspec.h) built and trained on the fly on IDX data, with the library's default
 * training options and the preset's λ (the choices nnprobe-train makes too), or built without
 * training. Every function prints its own message and returns an exit status (cli.h). */
#ifndef NNPROBE_EXAMPLES_MODEL_H
#define NNPROBE_EXAMPLES_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include <nnprobe/nnprobe.h>

/* Builds `name` (a preset or a spec) for the shape of `train` and trains it for `epochs`
 * epochs (0: the library's default) from `seed`, with the progress display of cli.h (phase
 * "training") unless `quiet`. Autoencoder presets are refused (train them with nnprobe-train).
 * Returns 0, 1 library failure, 2 bad usage or 130 interrupted (Ctrl-C, cli_catch_sigint());
 * *out is the trained net on success, else NULL. */
int model_train(const char *name, const nnp_dataset *train, size_t epochs, uint64_t seed,
                int quiet, nnp_net **out);

/* Builds `name` (a preset or a spec) without training, its weights from `seed`, for inputs of
 * 1×s×s when the spec's input size is a square s², else 1×1×n (no data set gives a shape).
 * Returns 0, 1 or 2; *out is the net on success, else NULL. */
int model_build(const char *name, uint64_t seed, nnp_net **out);

/* The model a probing program works on: `name` loaded when an ONNX file, else trained as by
 * model_train() (`train` is only read then), and checked against `test`: input size and
 * enough outputs for its labels. Returns 0, 1, 2 or 130; *out is the net on success, else
 * NULL. */
int model_get(const char *name, const nnp_dataset *train, const nnp_dataset *test,
              size_t epochs, uint64_t seed, int quiet, nnp_net **out);

/* Checks `net` (the model `name`) against `test`: input size and enough outputs for its
 * labels. Returns 0 or 2 after a message. */
int model_check(const char *name, const nnp_dataset *test, const nnp_net *net);

/* Whether `name` names an ONNX file (ends in ".onnx") rather than a preset or spec. */
int model_is_onnx(const char *name);

/* Loads an ONNX model; returns 0 or 1. */
int model_load_onnx(const char *path, nnp_net **out);

/* Copies the weights and biases of layer `layer` of `from` into the same layer of `to` (which
 * must have the same shape there): the autoencoder's encoder into a classifier (nnprobe-train's
 * AE presets). Returns 0 or 1. */
int model_copy_layer(const nnp_net *from, nnp_net *to, size_t layer);

#endif
