/*
 * Internal to the exchange module and its tests. The protocol's own declarations (outcomes,
 * answers, the secrets-body parser) are in protocol.h.
 */
#ifndef BPT_EXCHANGE_INTERNAL_H
#define BPT_EXCHANGE_INTERNAL_H

#include <openssl/evp.h>

#include <blueprint-tee/exchange.h>

/** The session's private key object, NULL once consumed (tests prove the key is gone). */
const EVP_PKEY *bpt_kx_session_pkey(const bpt_kx_session *s);

/** Record the hex evidence digest of the session's report. */
void bpt_kx_session_set_attestation_digest(bpt_kx_session *s, const char digest[65]);

/** Run the service's attester on @p report_data; BPT_ENOTSUP when it has none. */
BPT_MUST_USE int bpt_kx_service_attest(bpt_report **out, bpt_kx_service *svc,
                                       const uint8_t report_data[64]);

/** SHA-256(BPT_KX_SERVICE_KEY_CONTEXT || ed25519 public key) || 32 zero bytes. */
BPT_MUST_USE int bpt_kx_service_key_report_data(uint8_t out[64],
                                                const uint8_t service_public_key[32]);

/**
 * The service_key binding check a client makes: @p signature (Ed25519 by @p service_public_key)
 * over BPT_KX_SESSION_KEY_CONTEXT || bpt_kx_report_data(session key, id, nonce).
 * @return 0; BPT_ECLAIM when the signature does not bind this session.
 */
BPT_MUST_USE int bpt_kx_check_session_signature(const uint8_t service_public_key[32],
                                                const uint8_t signature[64],
                                                const uint8_t session_rd[64]);

/** Parse 32 hex digits into a raw id. */
BPT_MUST_USE int bpt_kx_id_parse(uint8_t out[BPT_KX_SESSION_ID_LEN], const char *id_hex);

#endif
