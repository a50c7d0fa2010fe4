/*
 * JSON helpers over jansson for untrusted documents: a size cap, a depth cap, duplicate keys
 * refused, a type check on every field, unknown keys refused where a schema is closed.
 * Every getter names the field (with @p ctx) in its error. Missing optional fields leave
 * the output untouched and return 0; getters return 1 when the field was present.
 */
#ifndef BPT_CORE_JSON_H
#define BPT_CORE_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include <blueprint-tee/buf.h>

/** Parse @p len bytes of JSON text (not necessarily NUL-terminated). */
BPT_MUST_USE int bpt_json_parse(json_t **out, const char *text, size_t len, const char *what);

/** Refuse keys of @p obj not in the NULL-terminated @p allowed list. */
BPT_MUST_USE int bpt_json_check_keys(const json_t *obj, const char *const *allowed,
                                     const char *ctx);

/** Serialise compactly (sorted keys); free with bpt_free(). */
BPT_MUST_USE int bpt_json_dump(char **out, const json_t *v);

/* Field getters: return 1 if present and valid, 0 if absent (and !required), <0 on error.
 * A JSON null counts as absent. */
BPT_MUST_USE int bpt_json_get_str(const json_t *obj, const char *key, const char **out,
                                  bool required, const char *ctx);
BPT_MUST_USE int bpt_json_get_bool(const json_t *obj, const char *key, bool *out, bool required,
                                   const char *ctx);
BPT_MUST_USE int bpt_json_get_i64(const json_t *obj, const char *key, int64_t *out, bool required,
                                  const char *ctx);
BPT_MUST_USE int bpt_json_get_u64(const json_t *obj, const char *key, uint64_t *out, bool required,
                                  const char *ctx);
BPT_MUST_USE int bpt_json_get_obj(const json_t *obj, const char *key, json_t **out, bool required,
                                  const char *ctx);
BPT_MUST_USE int bpt_json_get_arr(const json_t *obj, const char *key, json_t **out, bool required,
                                  const char *ctx);

/**
 * Byte field as a string (base64 when @p base64_strings, else hex) or as an array of integers
 * 0..255 (what Rust's serde emits for Vec<u8>). Appends to @p out (whose max bounds the size).
 */
BPT_MUST_USE int bpt_json_get_bytes(const json_t *obj, const char *key, bpt_buf *out,
                                    bool base64_strings, bool required, const char *ctx);

/**
 * The optional "schema_version" member of a document the CLI wrote (BPT_JSON_SCHEMA_VERSION):
 * absent or that integer is accepted, anything else refused naming the version read.
 * @return 0; BPT_EINVAL.
 */
BPT_MUST_USE int bpt_json_check_schema_version(const json_t *obj, const char *ctx);

/** A JSON string of the lowercase hex of @p n bytes (n <= 64); NULL on allocation failure. */
json_t *bpt_json_hex(const uint8_t *p, size_t n);

/** Decode one JSON value (string or int array) as bytes; rules as bpt_json_get_bytes(). */
BPT_MUST_USE int bpt_json_value_bytes(const json_t *v, bpt_buf *out, bool base64_strings,
                                      const char *ctx);

#endif
