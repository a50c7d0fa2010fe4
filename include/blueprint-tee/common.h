/**
 * @file common.h
 * Macros and helpers shared by every public header of libblueprint-tee.
 *
 * Threads: everything here is reentrant.
 */
#ifndef BPT_COMMON_H
#define BPT_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#ifdef __cplusplus
#define BPT_BEGIN_DECLS extern "C" {
#define BPT_END_DECLS }
#else
#define BPT_BEGIN_DECLS
#define BPT_END_DECLS
#endif

#if defined(__GNUC__) || defined(__clang__)
#define BPT_API __attribute__((visibility("default")))
#define BPT_MUST_USE __attribute__((warn_unused_result))
#define BPT_PRINTF(fmt_idx, arg_idx) __attribute__((format(printf, fmt_idx, arg_idx)))
#else
#define BPT_API
#define BPT_MUST_USE
#define BPT_PRINTF(fmt_idx, arg_idx)
#endif

#define BPT_VERSION_MAJOR 0
#define BPT_VERSION_MINOR 1
#define BPT_VERSION_PATCH 0
#define BPT_VERSION_STRING "0.1.0"

/**
 * The "schema_version" of every JSON document the bpt CLI emits (docs/schemas/). The report and
 * TeeConfig loaders accept the member with this value (so output can be fed back) and refuse
 * any other. Raised when a document changes incompatibly.
 */
#define BPT_JSON_SCHEMA_VERSION 1

BPT_BEGIN_DECLS

/** The library's version string ("0.1.0"); static storage. */
BPT_API const char *bpt_version(void);

/**
 * Release memory that the library allocated and documented as "free with bpt_free()"
 * (strings such as JSON text). NULL does nothing.
 */
BPT_API void bpt_free(void *p);

BPT_END_DECLS

#endif
