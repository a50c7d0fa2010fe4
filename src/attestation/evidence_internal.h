/*
 * The evidence view a verification hands to verifiers (evidence.h is the public side): the
 * bytes, the kind recognised once, what came with them (a report JSON's collateral and
 * certificates), the time of this verification, and for a JWT the token parsed once by the
 * dispatcher to choose between the JWT providers.
 */
#ifndef BPT_ATTESTATION_EVIDENCE_INTERNAL_H
#define BPT_ATTESTATION_EVIDENCE_INTERNAL_H

#include <blueprint-tee/buf.h>
#include <blueprint-tee/evidence.h>

#include <jansson.h>

struct bpt_jwt;

struct bpt_evidence {
    const uint8_t *bytes; /* borrowed */
    size_t len;
    bpt_evidence_kind kind;
    int64_t at;                /* the verification time, read once */
    const json_t *collateral;  /* borrowed: the report's "collateral" object, or NULL */
    char *collateral_text;     /* that object as JSON text (owned), or NULL */
    bpt_buf certs;             /* its "certificates" as blobs (see bpt_cert_blobs_append) */
    const struct bpt_jwt *jwt; /* kind JWT: the token parsed by the dispatcher, or NULL */
};

/** A view of @p bytes (borrowed) of @p kind at @p at, with nothing carried. */
void bpt_evidence_init(struct bpt_evidence *ev, const uint8_t *bytes, size_t len,
                       bpt_evidence_kind kind, int64_t at);

/**
 * Take the collateral a report carries (borrowed: the report must outlive @p ev): its text
 * and its "certificates" (PEM strings).
 * @return 0; BPT_EMALFORMED (a certificate that is not PEM text); BPT_ENOMEM; BPT_ELIMIT.
 */
BPT_MUST_USE int bpt_evidence_set_collateral(struct bpt_evidence *ev, const json_t *collateral);

void bpt_evidence_dispose(struct bpt_evidence *ev);

/**
 * Certificate lists (the context's, a report's) are kept as blobs: append one, a u32le length
 * and then its DER or PEM bytes. @return 0; BPT_EINVAL (empty or over the chain limit);
 * BPT_ELIMIT.
 */
BPT_MUST_USE int bpt_cert_blobs_append(bpt_buf *blobs, const uint8_t *p, size_t len);

#endif
