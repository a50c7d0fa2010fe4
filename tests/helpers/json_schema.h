/*
 * A small JSON Schema (draft 2020-12) validator for the subset docs/schemas/ uses, so tests can
 * check real CLI output against the shipped schemas without a Python package. Keywords:
 * type, enum, const, properties, required, additionalProperties, patternProperties, items,
 * minItems, maxItems, minLength, maxLength, pattern (POSIX extended regex: write patterns that
 * mean the same in ECMA-262), minimum, maximum, oneOf, anyOf, allOf, $ref ("#/$defs/name",
 * "file.json" or "file.json#/$defs/name", files beside the schema), and the annotations
 * $schema, $id, $comment, title, description, examples, default, $defs. Any other keyword
 * fails the validation, so a schema cannot lean on a keyword this checker ignores.
 */
#ifndef BPT_TEST_JSON_SCHEMA_H
#define BPT_TEST_JSON_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/**
 * Validate @p doc against the schema file @p schema_path. On failure writes where and why into
 * @p why (e.g. "$.error.kind: not in enum") and returns false.
 */
bool bpt_json_schema_check(const char *schema_path, const json_t *doc, char *why, size_t why_len);

/** As bpt_json_schema_check() for JSON text (which must parse). */
bool bpt_json_schema_check_text(const char *schema_path, const char *text, char *why,
                                size_t why_len);

#endif
