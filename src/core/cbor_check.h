/*
 * A structural pre-check of untrusted CBOR before it reaches libcbor. libcbor allocates a
 * container for the element count a header declares before reading the elements, so a few
 * bytes could ask for gigabytes. This walk (through the bounded reader) refuses any array or
 * map that declares more elements than bytes remain, any string longer than the input,
 * indefinite lengths, reserved encodings and nesting deeper than @p max_depth.
 */
#ifndef BPT_CORE_CBOR_CHECK_H
#define BPT_CORE_CBOR_CHECK_H

#include <blueprint-tee/common.h>

#include <stddef.h>
#include <stdint.h>

/** @return 0 when @p p holds exactly one well-formed definite-length item; BPT_EMALFORMED. */
BPT_MUST_USE int bpt_cbor_precheck(const uint8_t *p, size_t len, int max_depth, const char *what);

#endif
