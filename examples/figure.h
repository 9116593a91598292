/* Grey-scale figures for the example programs: a canvas of floats in [0,1] that tiles (e.g.
 * 28×28 images, magnified) are pasted on, written as an 8-bit PNG with libpng. Used for the
 * adversarial-example figures and the maximum-activation montages. */
#ifndef NNPROBE_EXAMPLES_FIGURE_H
#define NNPROBE_EXAMPLES_FIGURE_H

#include <stddef.h>

typedef struct figure {
    size_t width, height; /* pixels */
    float *px;            /* width × height, row-major, 0 = black, 1 = white */
} figure;

/* Allocates a width × height canvas filled with `background`; returns 0, or -1 (message on
 * stderr) when out of memory or a side is 0. */
int figure_init(figure *f, size_t width, size_t height, float background);

/* Frees the canvas (a zeroed or already freed figure is fine). */
void figure_free(figure *f);

/* Pastes a tw × th tile (row-major) with its top-left corner at (x0, y0), each tile pixel
 * magnified to a scale × scale block; values map through v ↦ offset + gain·v and are clamped
 * to [0,1] when written. Parts falling outside the canvas are cut off. */
void figure_put(figure *f, size_t x0, size_t y0, const float *tile, size_t tw, size_t th,
                size_t scale, float gain, float offset);

/* Writes the canvas as an 8-bit grey PNG; returns 0, or -1 with a message on stderr. */
int figure_write_png(const figure *f, const char *path);

#endif
