/*
 * Internal to the exchange module and its tests.
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
int bpt_kx_service_attest(bpt_report **out, bpt_kx_service *svc, const uint8_t report_data[64]);

/** Parse 32 hex digits into a raw id. */
int bpt_kx_id_parse(uint8_t out[BPT_KX_SESSION_ID_LEN], const char *id_hex);

#endif
