/*
 * JWT and JWKS parsing: the input as a compact token (structure, header, claims), as a JWK set,
 * and through both JWT verifiers offline with a fixed JWK set (no network).
 */
#include "fuzz.h"

#include <blueprint-tee/bpt.h>

#include "attestation/providers/jwt_internal.h"

#include <string.h>

/* One RSA and one EC signing key, as a service would publish them. */
static const char jwks[] = "{\"keys\":[{\"kty\":\"EC\",\"kid\":\"ec-1\",\"crv\":\"P-256\","
                           "\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
                           "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"}]}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct bpt_jwt t;
    struct bpt_jwks *set = NULL;
    bpt_policy *p = NULL;
    bpt_verified *v = NULL;

    if (bpt_jwt_parse(&t, data, size, "fuzz") == 0) {
        EVP_PKEY *k = NULL;
        if (bpt_jwks_parse(&set, jwks, strlen(jwks), "fuzz") == 0 &&
            (k = bpt_jwks_find(set, t.kid, &t)) != NULL) {
            (void)bpt_jwt_verify_signature(&t, k, "fuzz");
            EVP_PKEY_free(k);
        }
        bpt_jwks_free(set);
        set = NULL;
        bpt_jwt_dispose(&t);
    }
    if (bpt_jwks_parse(&set, (const char *)data, size, "fuzz") == 0) {
        bpt_jwks_free(set);
    }
    if (bpt_policy_new(&p) == 0) {
        bpt_policy_set_at(p, BPT_FUZZ_AT);
        bpt_policy_set_offline(p, true);
        if (bpt_policy_set_jwks_json(p, jwks, strlen(jwks)) == 0 &&
            bpt_policy_set_expected_audience(p, "fuzz") == 0) {
            if (bpt_gcp_confidential_verify(&v, data, size, p) == 0) {
                bpt_verified_free(v);
            }
            if (bpt_azure_maa_verify(&v, data, size, p) == 0) {
                bpt_verified_free(v);
            }
        }
        bpt_policy_free(p);
    }
    return 0;
}
