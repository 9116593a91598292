/* Internal: reading an ONNX ModelProto without holding the file twice (lib/io/onnx_read.c).
 * Not part of the public API.
 *
 * The reader walks the protobuf wire format of ModelProto and its GraphProto itself, hands
 * each small message (nodes, graph inputs/outputs/value_info, opset imports, the header fields
 * of every initializer) to protobuf-c's unpack one at a time, and leaves the data of large
 * initializers (raw_data above NNPI_ONNX_INLINE_MAX bytes) where it is, in the caller's memory
 * or in the file, recording only where. The loader then copies those bytes once, straight
 * into the net's parameters (nnpi_onnx_raw_data). The result is an ordinary Onnx__ModelProto,
 * so the operator code reads it as protobuf-c would have unpacked it, with one difference:
 * a large initializer has has_raw_data = 1, raw_data.len = its length and raw_data.data =
 * NULL; its bytes are read only through nnpi_onnx_raw_data(). */
#ifndef NNP_IO_ONNX_READ_H
#define NNP_IO_ONNX_READ_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "nnprobe/status.h"
#include "onnx.pb-c.h"

/* raw_data of at most this many bytes is copied into the tensor as protobuf-c would: small
 * constants (shapes, scalars, biases) stay directly readable; anything larger is deferred. */
#define NNPI_ONNX_INLINE_MAX ((size_t)1 << 16)
/* Read-ahead of the walk over a file, in bytes. */
#define NNPI_ONNX_WINDOW ((size_t)1 << 16)

typedef struct nnpi_onnx_deferred nnpi_onnx_deferred;

/* One model being read. Set up with nnpi_onnx_reader_memory or _file (which also set the
 * protobuf-c allocator to point at the struct: do not move it afterwards), read with
 * nnpi_onnx_read, released with nnpi_onnx_reader_free. */
typedef struct nnpi_onnx_reader {
    Onnx__ModelProto *model;  /* after nnpi_onnx_read: the model (graph NULL when it has none) */
    /* where the bytes are: `mem` (size bytes), or the regular file `fd` read with pread */
    const unsigned char *mem;
    int fd;
    uint64_t size;
    unsigned char *win;       /* fd: a window of the file, the walk's read-ahead */
    uint64_t win_off;
    size_t win_len, win_cap;
    size_t inline_max;        /* NNPI_ONNX_INLINE_MAX unless a test changed it */
    ProtobufCAllocator alloc; /* the library's allocator (failure injection reaches it) */
    int alloc_failed;
    nnpi_onnx_deferred *deferred; /* large raw_data: tensor → offset, sorted by tensor */
    size_t n_deferred, cap_deferred;
} nnpi_onnx_reader;

/* Reads the model from `size` bytes at `data` (the caller keeps them alive and unchanged
 * until nnpi_onnx_reader_free). */
void nnpi_onnx_reader_memory(nnpi_onnx_reader *r, const void *data, size_t size);

/* Reads the model from the first `size` bytes of the regular file open at `fd` (positioned
 * reads: the file offset is not used; the caller closes fd after nnpi_onnx_reader_free). A
 * file that shrinks while it is read is refused with NNP_EIO. */
void nnpi_onnx_reader_file(nnpi_onnx_reader *r, int fd, uint64_t size);

/* Parses the ModelProto into r->model. Malformed wire format: NNP_EFORMAT "onnx: not a valid
 * ONNX model (protobuf: <what> at byte <offset> (<Message>.<field>))"; NNP_ENOMEM; NNP_EIO
 * for read errors. On failure r->model may hold part of the model: nnpi_onnx_reader_free
 * releases it either way. */
nnp_status nnpi_onnx_read(nnpi_onnx_reader *r);

/* Copies the raw_data bytes of tensor `t` (t->raw_data.len of them) to `dst`, from the tensor
 * itself when they are inline, else from where they lie in the memory or file. `t` must be a
 * tensor of r->model (initializer or attribute). NNP_EIO if the file cannot be read. */
nnp_status nnpi_onnx_raw_data(const nnpi_onnx_reader *r, const Onnx__TensorProto *t, void *dst);

/* Frees the model and the reader's buffers (not the caller's memory, not fd). */
void nnpi_onnx_reader_free(nnpi_onnx_reader *r);

/* Test hook (not thread-safe, not exported): readers set up from now on defer raw_data above
 * `inline_max` bytes and read files through a window of `window` bytes (each ≥ 1; 0 restores
 * the default), so that tests and the fuzzer reach the deferred and windowed paths with
 * small inputs. */
void nnpi_onnx_read_test_sizes(size_t inline_max, size_t window);

#endif
