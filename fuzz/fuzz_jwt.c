/*
 * JWS compact tokens and JWK sets: the parsers, the key lookup and the signature check, then
 * the whole GCP Confidential Space and Azure MAA verifiers with the input's own JWKS (offline,
 * at BPT_FUZZ_AT, expecting the seeds' audience "bpt-test" so that a token bound to no relying
 * party is not refused before its keys and claims are). Input: a JWKS document, a NUL byte,
 * then the token; without a NUL the
 * whole input is tried as both. Seeds come from tests/attestation/providers/test_jwt.c
 * (BPT_JWT_SEED_DIR).
 */
#include "fuzz.h"

#include <blueprint-tee/bpt.h>

#include "attestation/providers/jwt_internal.h"

#include <string.h>

static void parsers(const char *jwks, size_t jwks_len, const uint8_t *tok, size_t tok_len)
{
    struct bpt_jwks *set = NULL;
    struct bpt_jwt t;
    EVP_PKEY *key = NULL;
    if (bpt_jwks_parse(&set, jwks, jwks_len, "fuzz") != 0) {
        set = NULL;
    }
    if (bpt_jwt_parse(&t, tok, tok_len, "fuzz") == 0) {
        if (set && bpt_jwks_lookup(&key, set, t.kid, t.alg_name, "fuzz", "fuzz") == 0) {
            bpt_fuzz_ignore(bpt_jwt_verify_signature(&t, key, "fuzz"));
            EVP_PKEY_free(key);
        }
        bpt_jwt_dispose(&t);
    }
    bpt_jwks_free(set);
}

static void verifiers(const char *jwks, size_t jwks_len, const uint8_t *tok, size_t tok_len)
{
    bpt_verify_ctx *ctx = bpt_fuzz_ctx(true);
    bpt_policy *p = NULL;
    bpt_verified *v = NULL;
    if (!ctx || bpt_policy_new(&p) != 0 || bpt_policy_set_expected_audience(p, "bpt-test") != 0) {
        bpt_policy_free(p);
        bpt_verify_ctx_free(ctx);
        return;
    }
    if (jwks_len == 0 || bpt_verify_ctx_set_jwks_json(ctx, jwks, jwks_len) == 0) {
        if (bpt_gcp_confidential_verify(&v, ctx, p, tok, tok_len) == 0) {
            bpt_verified_free(v);
        }
        if (bpt_azure_maa_verify(&v, ctx, p, tok, tok_len) == 0) {
            bpt_verified_free(v);
        }
    }
    bpt_policy_free(p);
    bpt_verify_ctx_free(ctx);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = size ? memchr(data, 0, size) : NULL;
    const char *jwks = (const char *)data;
    size_t jwks_len = size;
    const uint8_t *tok = data;
    size_t tok_len = size;
    if (nul) {
        jwks_len = (size_t)(nul - data);
        tok = nul + 1;
        tok_len = size - jwks_len - 1;
    }
    parsers(jwks, jwks_len, tok, tok_len);
    verifiers(jwks, nul ? jwks_len : 0, tok, tok_len);
    return 0;
}
