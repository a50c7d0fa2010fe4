/* The decoded Nitro COSE_Sign1 and attestation document, for the verifier, tests and fuzzing. */
#ifndef BPT_ATTESTATION_PROVIDERS_AWS_NITRO_INTERNAL_H
#define BPT_ATTESTATION_PROVIDERS_AWS_NITRO_INTERNAL_H

#include <blueprint-tee/common.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cbor.h>

#define BPT_NITRO_MAX_PCRS 32
#define BPT_NITRO_MAX_CABUNDLE 16
#define BPT_NITRO_MAX_CERT 1024 /* NSM API: certificate and each cabundle entry */
#define BPT_NITRO_MAX_PUBLIC_KEY 1024
#define BPT_NITRO_MAX_USER_DATA 512
#define BPT_NITRO_MAX_NONCE 512
#define BPT_NITRO_MAX_MODULE_ID 256

/* Views point into the COSE item tree (valid while `root` lives). */
struct bpt_nitro_doc {
    cbor_item_t *root;
    const uint8_t *protected_hdr;
    size_t protected_len;
    const uint8_t *payload;
    size_t payload_len;
    const uint8_t *signature;
    size_t signature_len;
    cbor_item_t *doc; /* the decoded payload */

    char module_id[BPT_NITRO_MAX_MODULE_ID + 1];
    uint64_t timestamp_ms;
    bool has_pcr[BPT_NITRO_MAX_PCRS];
    const uint8_t *pcr[BPT_NITRO_MAX_PCRS];
    size_t pcr_len[BPT_NITRO_MAX_PCRS];
    const uint8_t *certificate;
    size_t certificate_len;
    const uint8_t *cabundle[BPT_NITRO_MAX_CABUNDLE];
    size_t cabundle_len[BPT_NITRO_MAX_CABUNDLE];
    size_t n_cabundle;
    const uint8_t *public_key, *user_data, *nonce; /* NULL when absent or null */
    size_t public_key_len, user_data_len, nonce_len;
};

/** Decode and type-check. @return 0; BPT_EMALFORMED naming the field. */
BPT_MUST_USE int bpt_nitro_parse(struct bpt_nitro_doc *d, const uint8_t *ev, size_t len);
void bpt_nitro_doc_dispose(struct bpt_nitro_doc *d);

/** Sig_structure ["Signature1", protected, h'', payload] as CBOR; free with free(). */
BPT_MUST_USE int bpt_nitro_sig_structure(uint8_t **out, size_t *out_len,
                                         const struct bpt_nitro_doc *d);

#endif
