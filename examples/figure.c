/* Grey-scale canvas and its PNG writer (libpng's simplified "png_image" write API). */
#include "figure.h"

#include <nnprobe/nnprobe.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int figure_init(figure *f, size_t width, size_t height, float background)
{
    f->width = width;
    f->height = height;
    f->px = NULL;
    if (width == 0 || height == 0 || height > (size_t)-1 / sizeof(float) / width) {
        fprintf(stderr, "figure: bad canvas size %zux%zu\n", width, height);
        return -1;
    }
    f->px = malloc(width * height * sizeof(float));
    if (f->px == NULL) {
        fprintf(stderr, "figure: out of memory for a %zux%zu canvas\n", width, height);
        return -1;
    }
    for (size_t i = 0; i < width * height; i++) f->px[i] = background;
    return 0;
}

void figure_free(figure *f)
{
    free(f->px);
    f->px = NULL;
    f->width = f->height = 0;
}

void figure_put(figure *f, size_t x0, size_t y0, const float *tile, size_t tw, size_t th,
                size_t scale, float gain, float offset)
{
    for (size_t ty = 0; ty < th; ty++)
        for (size_t tx = 0; tx < tw; tx++) {
            float v = offset + gain * tile[ty * tw + tx];
            for (size_t dy = 0; dy < scale; dy++) {
                size_t y = y0 + ty * scale + dy;
                if (y >= f->height) break;
                for (size_t dx = 0; dx < scale; dx++) {
                    size_t x = x0 + tx * scale + dx;
                    if (x >= f->width) break;
                    f->px[y * f->width + x] = v;
                }
            }
        }
}

int figure_write_png(const figure *f, const char *path)
{
    size_t n = f->width * f->height;
    unsigned char *bytes = malloc(n);
    if (bytes == NULL) {
        fprintf(stderr, "figure: out of memory writing '%s'\n", path);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        float v = f->px[i];
        v = v != v ? 0.0f : v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v; /* NaN shows as black */
        bytes[i] = (unsigned char)(v * 255.0f + 0.5f);
    }
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    img.width = (png_uint_32)f->width;
    img.height = (png_uint_32)f->height;
    img.format = PNG_FORMAT_GRAY;
    /* Into memory, then through the library's safe-write path: a failed write leaves an
     * existing file whole, and nothing of the caller's is ever deleted (libpng's own
     * png_image_write_to_file removes the path it failed to write, whatever it was). */
    png_alloc_size_t size = 0;
    int ok = png_image_write_get_memory_size(img, size, 0, bytes, (png_int_32)f->width, NULL);
    void *png = ok ? malloc(size) : NULL;
    ok = png != NULL &&
         png_image_write_to_memory(&img, png, &size, 0, bytes, (png_int_32)f->width, NULL);
    free(bytes);
    if (!ok) {
        fprintf(stderr, "figure: cannot encode '%s': %s\n", path,
                png ? img.message : "out of memory");
        free(png);
        png_image_free(&img);
        return -1;
    }
    nnp_status s = nnp_file_write(path, png, size);
    free(png);
    if (s != NNP_OK) {
        fprintf(stderr, "figure: cannot write '%s': %s\n", path, nnp_last_error());
        return -1;
    }
    return 0;
}
