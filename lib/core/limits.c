/* Caps on what a file may make the library read or allocate, and the escaping of untrusted
 * text in messages. Both exist because a model or data file is input from anyone: its header
 * must not be able to make us read without end, allocate without bound, or write terminal
 * control sequences through nnp_last_error(). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

nnp_status nnpi_limit(const char *env, uint64_t dflt, uint64_t *out)
{
    *out = dflt;
    /* getenv has no thread-safe alternative in C11; the library never calls setenv, so a race
     * is only possible with a caller changing the environment while it calls us, which POSIX
     * already forbids */
    const char *v = getenv(env);
    if (v == NULL || v[0] == '\0') return NNP_OK;
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    uint64_t mul = 1;
    switch (*end) {
    case 'k': case 'K': mul = (uint64_t)1 << 10; end++; break;
    case 'm': case 'M': mul = (uint64_t)1 << 20; end++; break;
    case 'g': case 'G': mul = (uint64_t)1 << 30; end++; break;
    case 't': case 'T': mul = (uint64_t)1 << 40; end++; break;
    default: break;
    }
    /* a typo must not silently lift or lower a safety cap: refuse it, naming the variable */
    if (end == v || *end != '\0' || errno == ERANGE || v[0] == '-' || x == 0 ||
        x > UINT64_MAX / mul)
        return nnpi_error(NNP_EINVAL,
                          "environment variable %s=\"%.40s\" is not a positive byte count "
                          "(digits with an optional K, M, G or T suffix)",
                          env, v);
    *out = (uint64_t)x * mul;
    return NNP_OK;
}

/* Length of the valid UTF-8 sequence at s (1 to 4) that encodes a printable code point, or 0
 * for an invalid sequence or a C1 control (U+0080..U+009F: some terminals act on those too). */
static size_t utf8_printable_len(const unsigned char *s)
{
    unsigned c = s[0];
    size_t len;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) len = 2, cp = c & 0x1Fu;
    else if (c >= 0xE0 && c <= 0xEF) len = 3, cp = c & 0x0Fu;
    else if (c >= 0xF0 && c <= 0xF4) len = 4, cp = c & 0x07u;
    else return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0u) != 0x80u) return 0; /* also stops at the terminating NUL */
        cp = cp << 6 | (s[i] & 0x3Fu);
    }
    static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min_cp[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    if (cp <= 0x9F) return 0;
    return len;
}

size_t nnpi_escape(char *dst, size_t cap, const char *src)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)src;
    size_t o = 0;
    if (cap == 0) return 0;
    while (*s) {
        size_t k = *s >= 0x20 && *s < 0x7F ? 1 : *s >= 0x80 ? utf8_printable_len(s) : 0;
        if (k > 0) {
            if (o + k >= cap) break; /* never cut a sequence in half */
            memcpy(dst + o, s, k);
            o += k;
            s += k;
        } else {
            if (o + 4 >= cap) break;
            dst[o++] = '\\';
            dst[o++] = 'x';
            dst[o++] = hex[*s >> 4];
            dst[o++] = hex[*s & 15];
            s++;
        }
    }
    dst[o] = '\0';
    return o;
}
