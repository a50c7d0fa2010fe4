/*
 * Internal to the exchange module and its tests.
 */
#ifndef BPT_EXCHANGE_INTERNAL_H
#define BPT_EXCHANGE_INTERNAL_H

#include <openssl/evp.h>

#include <blueprint-tee/exchange.h>

/** The session's private key object, NULL once consumed (tests prove the key is gone). */
const EVP_PKEY *bpt_kx_session_pkey(const bpt_kx_session *s);

/** Parse 32 hex digits into a raw id. */
int bpt_kx_id_parse(uint8_t out[BPT_KX_SESSION_ID_LEN], const char *id_hex);

#endif
