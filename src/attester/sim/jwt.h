/*
 * Test tokens: JWS compact tokens signed with a given key, and JWKs for public keys, as an
 * attestation service would publish them. For tests, benches and fuzz seeds; not a simulator
 * the verifier trusts in any way (it checks these like any token).
 */
#ifndef BPT_ATTESTER_SIM_JWT_H
#define BPT_ATTESTER_SIM_JWT_H

#include <blueprint-tee/common.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

/**
 * header.payload.signature from the two JSON texts. With @p key, the signature is made as the
 * header's alg says (RS256/384/512, PS256/384/512, ES256/384); without, it is "c2ln".
 * *out is malloc'd (free with bpt_free()).
 */
BPT_MUST_USE int bpt_sim_jwt_make(char **out, const char *header_json, const char *claims_json,
                                  EVP_PKEY *key);

/** The public JWK of @p key (RSA n/e or EC crv/x/y) with @p kid, as JSON text (bpt_free()). */
BPT_MUST_USE int bpt_sim_jwk(char **out, EVP_PKEY *key, const char *kid);

/**
 * A JWK in the shape MAA's <instance>/certs publishes: kty, kid and x5c holding @p cert
 * (standard base64 DER), no n/e. JSON text (bpt_free()).
 */
BPT_MUST_USE int bpt_sim_jwk_x5c(char **out, X509 *cert, const char *kid);

#endif
