/**
 * @file nnprobe.h
 * @brief libnnprobe: probe trained neural networks as in Szegedy et al. (2013), "Intriguing
 * properties of neural networks". Include this header to get the whole public API.
 */
#ifndef NNPROBE_NNPROBE_H
#define NNPROBE_NNPROBE_H

#include "nnprobe/version.h" /* generated: found through the include path */
#include "status.h"
#include "net.h"
#include "grad.h"
#include "dataset.h"
#include "train.h"
#include "attack.h"
#include "onnx.h"
#include "maxact.h"
#include "lipschitz.h"

#endif
