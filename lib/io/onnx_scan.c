/* Naming the first malformation of a protobuf message (onnx_scan.h): protobuf-c's unpack
 * says only "failed". Wire format as in onnx_read.c (protobuf.dev, "Encoding"). */
#include "onnx_scan.h"

#include <stdio.h>

void nnpi_pb_field_name(const ProtobufCMessageDescriptor *desc, uint64_t id, char *buf, size_t cap)
{
    const ProtobufCFieldDescriptor *f =
        id > 0 && id <= UINT32_MAX ? protobuf_c_message_descriptor_get_field(desc, (unsigned)id)
                                   : NULL;
    if (f)
        snprintf(buf, cap, "%s.%s, field %llu", desc->name, f->name, (unsigned long long)id);
    else
        snprintf(buf, cap, "%s, unknown field %llu", desc->name, (unsigned long long)id);
}

int nnpi_pb_scan(const ProtobufCMessageDescriptor *desc, const uint8_t *base, uint64_t base_off,
                 const uint8_t *p, const uint8_t *end, int depth, char *msg, size_t cap)
{
    while (p < end) {
        unsigned long long off = (unsigned long long)(base_off + (uint64_t)(p - base));
        uint64_t key = 0, len = 0;
        unsigned shift = 0;
        for (;;) {
            if (p >= end || shift > 63) {
                snprintf(msg, cap, "truncated or overlong field key at byte %llu (in %s)", off,
                         desc->name);
                return 1;
            }
            key |= (uint64_t)(*p & 0x7f) << shift;
            shift += 7;
            if (!(*p++ & 0x80)) break;
        }
        unsigned wt = (unsigned)(key & 7);
        uint64_t id = key >> 3;
        const ProtobufCFieldDescriptor *f =
            id > 0 && id <= UINT32_MAX ? protobuf_c_message_descriptor_get_field(desc, (unsigned)id)
                                       : NULL;
        char fname[160];
        nnpi_pb_field_name(desc, id, fname, sizeof fname);
        if (id == 0) {
            snprintf(msg, cap, "field number 0 at byte %llu (in %s)", off, desc->name);
            return 1;
        }
        int expect = -1; /* wire type the field's type takes, -1 when unknown */
        if (f) {
            switch (f->type) {
            case PROTOBUF_C_TYPE_FLOAT: case PROTOBUF_C_TYPE_FIXED32: case PROTOBUF_C_TYPE_SFIXED32:
                expect = 5; break;
            case PROTOBUF_C_TYPE_DOUBLE: case PROTOBUF_C_TYPE_FIXED64: case PROTOBUF_C_TYPE_SFIXED64:
                expect = 1; break;
            case PROTOBUF_C_TYPE_STRING: case PROTOBUF_C_TYPE_BYTES: case PROTOBUF_C_TYPE_MESSAGE:
                expect = 2; break;
            default: expect = 0; break;
            }
        }
        /* a repeated number may also come packed (wire type 2) */
        int ok = expect < 0 ? (wt == 0 || wt == 1 || wt == 2 || wt == 5)
                            : ((int)wt == expect ||
                               (wt == 2 && f->label == PROTOBUF_C_LABEL_REPEATED));
        if (!ok) {
            snprintf(msg, cap, "wire type %u at byte %llu (%s) is wrong for its type", wt, off,
                     fname);
            return 1;
        }
        switch (wt) {
        case 0:
            for (shift = 0;; shift += 7) {
                if (p >= end || shift > 63) {
                    snprintf(msg, cap, "truncated varint value at byte %llu (%s)", off, fname);
                    return 1;
                }
                if (!(*p++ & 0x80)) break;
            }
            break;
        case 1:
        case 5: {
            size_t k = wt == 1 ? 8 : 4;
            if ((size_t)(end - p) < k) {
                snprintf(msg, cap, "truncated %zu-byte value at byte %llu (%s)", k, off, fname);
                return 1;
            }
            p += k;
            break;
        }
        default: /* 2 */
            for (shift = 0;; shift += 7) {
                if (p >= end || shift > 63) {
                    snprintf(msg, cap, "truncated length at byte %llu (%s)", off, fname);
                    return 1;
                }
                len |= (uint64_t)(*p & 0x7f) << shift;
                if (!(*p++ & 0x80)) break;
            }
            if (len > (uint64_t)(end - p)) {
                snprintf(msg, cap,
                         "length %llu at byte %llu (%s) runs past the end of its enclosing "
                         "message (%zu bytes left)",
                         (unsigned long long)len, off, fname, (size_t)(end - p));
                return 1;
            }
            if (f && f->type == PROTOBUF_C_TYPE_MESSAGE && depth < 16 &&
                nnpi_pb_scan(f->descriptor, base, base_off, p, p + len, depth + 1, msg, cap))
                return 1;
            p += len;
            break;
        }
    }
    return 0;
}
