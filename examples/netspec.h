/* Compact network specs shared by the example programs:
 *
 *   <input>-<layer>-...-<classes>
 *
 * where <input> is the number of values per example (checked against the data), each hidden
 * <layer> is one of
 *   <units><act>?                 dense layer, e.g. 100s
 *   c<k>x<channels>[p<pad>][s<stride>]<act>?   k×k convolution, e.g. c5x32p2r
 *   m<k>[s<stride>]               k×k max pooling (stride k unless given), e.g. m2
 *   a<k>[s<stride>]               k×k average pooling
 * <act> is s (sigmoid), r (relu), t (tanh) or p (softplus), and <classes> is a dense layer
 * giving the logits. Example: 784-c5x32p2r-m2-c5x64p2r-m2-1024r-10. */
#ifndef NNPROBE_EXAMPLES_NETSPEC_H
#define NNPROBE_EXAMPLES_NETSPEC_H

#include <stddef.h>
#include <stdint.h>

#include <nnprobe/nnprobe.h>

#define NETSPEC_MAX_LAYERS 64
#define NETSPEC_MAX_SIZE 16777216u /* units, channels; kernel, pad and stride up to 1024 */

typedef enum { NETSPEC_DENSE, NETSPEC_CONV, NETSPEC_MAXPOOL, NETSPEC_AVGPOOL } netspec_kind;

typedef struct netspec_layer {
    netspec_kind kind;
    size_t units;           /* dense units or convolution channels */
    size_t k, pad, stride;  /* convolution and pooling */
    nnp_layer_kind act;     /* NNP_LAYER_INPUT: none */
} netspec_layer;

typedef struct netspec {
    size_t input;
    size_t n_layers;
    netspec_layer layers[NETSPEC_MAX_LAYERS];
} netspec;

/* Parses `text`. `last_act` allows an activation on the last token (autoencoders). On error
 * writes a message naming the spec and the token into err and returns -1. */
int netspec_parse(const char *text, int last_act, netspec *sp, char *err, size_t errlen);

/* Writes the canonical text of a spec. */
void netspec_format(const netspec *sp, char *buf, size_t len);

/* Number of classes (the last layer's units). */
size_t netspec_classes(const netspec *sp);

/* Number of layers with weights (dense and convolution): the entries --lambda takes. */
size_t netspec_weight_layers(const netspec *sp);

/* Builds the net on c×h×w inputs and initialises it from `seed`; *out is NULL on failure. */
nnp_status netspec_build(const netspec *sp, size_t c, size_t h, size_t w, uint64_t seed,
                         nnp_net **out);

/* The paper's Table 1 models (docs/paper.md §3) and a small convnet. Training
 * hyperparameters are not published there; the programs use their own defaults. */
typedef struct netspec_preset {
    const char *name;
    const char *spec;     /* the classifier */
    const char *ae_spec;  /* autoencoder trained first (its last layer may have an activation),
                             or NULL */
    double lambda[3];     /* λ per dense or convolution layer of the classifier */
    size_t n_lambda;
    const char *help;
} netspec_preset;

extern const netspec_preset netspec_presets[];
extern const size_t netspec_preset_count;

/* The preset called `name` (case-insensitive), or NULL. */
const netspec_preset *netspec_find_preset(const char *name);

#endif
