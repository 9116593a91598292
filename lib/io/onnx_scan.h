/* Internal: naming the first malformation of a protobuf message, for the ONNX reader's messages
 * (lib/io/onnx_scan.c). Not part of the public API. */
#ifndef NNP_IO_ONNX_SCAN_H
#define NNP_IO_ONNX_SCAN_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

/* Writes "onnx.GraphProto.node, field 1", or "onnx.GraphProto, unknown field 14", into buf. */
void nnpi_pb_field_name(const ProtobufCMessageDescriptor *desc, uint64_t id, char *buf, size_t cap);

/* Walks the wire format of `desc` over [p, end), recursing into sub-messages through the
 * generated descriptors (depth-limited), and stops at the first key, length or wire type that
 * cannot be right. Offsets are reported as base_off + (position − base), so a message copied
 * out of a file names offsets in the file. On a finding writes "<what> at byte <offset>
 * (<Message>.<field>)" into msg and returns 1; returns 0 when the bytes look well-formed (then
 * the cause is beyond what the wire format shows, e.g. a missing required field). Allocates
 * nothing; linear time. */
int nnpi_pb_scan(const ProtobufCMessageDescriptor *desc, const uint8_t *base, uint64_t base_off,
                 const uint8_t *p, const uint8_t *end, int depth, char *msg, size_t cap);

#endif
