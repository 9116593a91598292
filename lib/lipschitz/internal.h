/* Shared by the Lipschitz module's files (bounds.c: options and nnp_lipschitz_bounds;
 * lower.c: the empirical lower bound; clever.c: the CLEVER-style estimate). The per-kind
 * rules are not here: each layer kind's ops entry gives them (lib/net, net_internal.h).
 * Internal. */
#ifndef NNP_PROBE_LIP_INTERNAL_H
#define NNP_PROBE_LIP_INTERNAL_H

#include "core/spectral.h"
#include "net/net_internal.h"
#include "nnprobe/lipschitz.h"

/* The defaults of nnp_lipschitz_opts (documented there). */
void nnpi_lip_default_opts(nnp_lipschitz_opts *o);

/* Range checks of the options every entry point uses; `f` names the function in messages. */
nnp_status nnpi_lip_check_opts(const nnp_lipschitz_opts *o, const char *f);

#endif
