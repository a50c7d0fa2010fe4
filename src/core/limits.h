/*
 * Named limits on every size that can come from outside. Each is checked before allocating,
 * and tested at the limit and one past it.
 */
#ifndef BPT_CORE_LIMITS_H
#define BPT_CORE_LIMITS_H

/** Raw evidence (report, quote, COSE document, JWT) accepted by a verifier. */
#define BPT_LIMIT_EVIDENCE_BYTES (1024u * 1024u)
/** Any file the CLI or library reads whole (evidence, policy, config, collateral, PEM). */
#define BPT_LIMIT_FILE_BYTES (8u * 1024u * 1024u)
/** A JSON document parsed from outside. */
#define BPT_LIMIT_JSON_BYTES (4u * 1024u * 1024u)
/** Nesting depth of a JSON document parsed from outside. */
#define BPT_LIMIT_JSON_DEPTH 64
/** A PEM/DER certificate chain. */
#define BPT_LIMIT_CERT_CHAIN_BYTES (256u * 1024u)
/** Certificates in one chain or bundle. */
#define BPT_LIMIT_CERTS_IN_CHAIN 16
/** An HTTP request or response body handled by the library. */
#define BPT_LIMIT_HTTP_BODY_BYTES (64u * 1024u)
/** A fetched collateral document (VCEK, TCB info, CRL). */
#define BPT_LIMIT_COLLATERAL_BYTES (1024u * 1024u)
/** A JWKS document. */
#define BPT_LIMIT_JWKS_BYTES (256u * 1024u)
/** Entries in a claims custom map or a policy list. */
#define BPT_LIMIT_LIST_ENTRIES 256
/** A single text field (names, URLs, provider names). */
#define BPT_LIMIT_TEXT_BYTES 4096

#endif
