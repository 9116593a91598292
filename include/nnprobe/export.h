/**
 * @file export.h
 * @brief Symbol export and attribute macros used by every public header.
 *
 * `NNP_API` marks a function as part of the exported ABI. The library is built with
 * hidden visibility, so anything not marked stays internal.
 */
#ifndef NNPROBE_EXPORT_H
#define NNPROBE_EXPORT_H

/** @def NNP_EXPORT_ATTRIBUTE_
 *  The platform's way to export a symbol, chosen once; use NNP_API, which names it. */
#if defined(_WIN32) && defined(NNP_BUILDING) && defined(NNP_STATIC)
#  error "NNP_BUILDING and NNP_STATIC must not both be defined"
#elif defined(_WIN32) && defined(NNP_BUILDING)
#  define NNP_EXPORT_ATTRIBUTE_ __declspec(dllexport)
#elif defined(_WIN32) && !defined(NNP_STATIC)
#  define NNP_EXPORT_ATTRIBUTE_ __declspec(dllimport)
#elif !defined(_WIN32) && (defined(__GNUC__) || defined(__clang__))
#  define NNP_EXPORT_ATTRIBUTE_ __attribute__((visibility("default")))
#else
#  define NNP_EXPORT_ATTRIBUTE_
#endif

/** @def NNP_API
 *  Marks a declaration as part of the exported ABI (visibility "default"; dllexport or
 *  dllimport on Windows; nothing for the static library, which defines NNP_STATIC). */
#define NNP_API NNP_EXPORT_ATTRIBUTE_

/** @def NNP_NODISCARD
 *  Fallible functions warn when their status is ignored. No `nonnull`: functions promise
 *  NNP_EINVAL for NULL, and `nonnull` would let the compiler delete that check. */
#if defined(__GNUC__) || defined(__clang__)
#  define NNP_NODISCARD __attribute__((warn_unused_result))
#else
#  define NNP_NODISCARD
#endif

#endif
