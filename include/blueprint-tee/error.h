/**
 * @file error.h
 * Error codes and the thread-local last-error message.
 *
 * Every fallible function returns an int: 0 on success, a negative BPT_E* code on failure.
 * After a failure, bpt_error_last() on the same thread gives a message that says what was
 * wrong, where, and the public values involved (never key bytes, plaintext or tokens).
 * Success does not promise to clear the message: read it only right after a failure.
 *
 * Threads: the message is per thread; every function here is safe from any thread.
 */
#ifndef BPT_ERROR_H
#define BPT_ERROR_H

#include "common.h"

BPT_BEGIN_DECLS

/** Error codes. The attestation kinds mirror the Rust crate's AttestationError. */
typedef enum bpt_error_code {
    BPT_OK = 0,
    BPT_ERROR = -1,           /**< unspecified failure (the fail-closed default) */
    BPT_EINVAL = -2,          /**< invalid argument or invalid configuration */
    BPT_ENOMEM = -3,          /**< out of memory */
    BPT_ENOTSUP = -4,         /**< not supported: not built, not implemented, or no such hardware */
    BPT_EMALFORMED = -5,      /**< attestation: evidence or input could not be parsed */
    BPT_ESIGNATURE = -6,      /**< attestation: a signature or certificate chain did not verify */
    BPT_ECLAIM = -7,          /**< attestation: a claim was refused by the policy */
    BPT_EKEYS = -8,           /**< attestation: a key or collateral needed to verify is missing */
    BPT_EFETCH = -9,          /**< attestation: fetching keys or collateral failed */
    BPT_EUNSATISFIABLE = -10, /**< attestation: no verifier can satisfy the request */
    BPT_EIO = -11,            /**< file or device I/O failed */
    BPT_ENOTFOUND = -12,      /**< a named thing (session, file, key) does not exist */
    BPT_EEXPIRED = -13,       /**< a session or object has expired */
    BPT_ELIMIT = -14,         /**< a size, count or rate limit was exceeded */
    BPT_EBUSY = -15,          /**< the object is in use or at capacity */
    BPT_EDECRYPT = -16,       /**< authenticated decryption failed */
    BPT_EPROTOCOL = -17,      /**< a peer broke the protocol (bad status, bad body) */
    BPT_EEXISTS = -18,        /**< a named thing (stored secret) already exists */
} bpt_error_code;

/** The lowest (most negative) defined code; codes in [BPT_ERROR_CODE_MIN, 0] are defined. */
#define BPT_ERROR_CODE_MIN BPT_EEXISTS

/**
 * This thread's last error message. Never NULL; "" when nothing was recorded.
 * The pointer is valid until the next library call on this thread.
 */
BPT_API const char *bpt_error_last(void);

/**
 * Set this thread's message (printf-style, cut at 511 bytes) and return @p code: what a
 * verifier plugin (sys/verifier.h) or another extension calls to fail with a kind and a
 * message, as the library's own functions do. A @p code that is not a defined negative code
 * becomes BPT_ERROR, so a plugin cannot turn a failure into success.
 * @return @p code, or BPT_ERROR.
 */
BPT_API int bpt_error_set(int code, const char *fmt, ...) BPT_PRINTF(2, 3);

/** Forget this thread's last error message. */
BPT_API void bpt_error_clear(void);

/** A short static description of @p code ("signature verification failed"); never NULL. */
BPT_API const char *bpt_strerror(int code);

/**
 * The stable snake_case name of @p code: for the attestation kinds the Rust crate's names
 * ("malformed", "signature", "claim", "keys", "fetch", "unsatisfiable"); for the others
 * "invalid_argument", "out_of_memory", ... ; never NULL ("unknown" for an undefined code).
 */
BPT_API const char *bpt_error_name(int code);

/** true if @p code is one of the six attestation kinds. */
BPT_API bool bpt_error_is_attestation(int code);

BPT_END_DECLS

#endif
