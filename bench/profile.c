/*
 * One verification path run N times, for a profiler (docs/performance.md "Where the time goes"):
 *   valgrind --tool=callgrind --toggle-collect=profile_loop build/release/bench/bpt_profile PATH N
 *   callgrind_annotate --inclusive=yes callgrind.out.<pid>
 * PATH: sev_snp_real_full, sev_snp_real_cached, tdx_real_full, tdx_real_cached, nitro_real_full,
 * nitro_real_cached (the public vectors of ../shared/testdata), jwt_rs256, jwt_es256 (simulated
 * GCP tokens, keys from a JWKS document on the context; with _cached, a context with its caches,
 * which keeps parsed tokens).
 */
#include "util.h"

#include <blueprint-tee/bpt.h>

#include "attester/sim/jwt.h"
#include "attester/sim/x509.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct path {
    const uint8_t *ev;
    size_t len;
    bpt_verify_ctx *ctx;
    bpt_policy *policy;
    bpt_provider provider;
};

static uint8_t *read_file(const char *rel, size_t *len)
{
    uint8_t *buf = bench_read_data(rel, len);
    if (!buf) {
        fprintf(stderr, "profile: %s not found (BPT_TESTDATA)\n", rel);
        exit(1);
    }
    return buf;
}

static void check(int rc, const char *what)
{
    if (rc != 0) {
        fprintf(stderr, "profile: %s: %s\n", what, bpt_error_last());
        exit(1);
    }
}

/* Kept out of line so that callgrind's --toggle-collect can name it. */
__attribute__((noinline)) void profile_loop(const struct path *p, long n);
__attribute__((noinline)) void profile_loop(const struct path *p, long n)
{
    for (long i = 0; i < n; i++) {
        bpt_verified *v = NULL;
        check(bpt_verify(&v, p->ctx, p->policy, p->ev, p->len, p->provider), "verify");
        bpt_verified_free(v);
    }
}

int main(int argc, char **argv)
{
    bpt_verify_ctx_opts bare = bench_no_caches();
    const char *name = argc > 1 ? argv[1] : "";
    long n = argc > 2 ? strtol(argv[2], NULL, 10) : 100;
    bool cached = strstr(name, "_cached") != NULL;
    struct path p = {0};
    uint8_t *aux = NULL;
    size_t aux_len = 0;
    EVP_PKEY *key = NULL;
    char *jwk = NULL, *jwks = NULL, *tok = NULL;

    check(bpt_verify_ctx_new(&p.ctx, cached ? NULL : &bare), "context");
    check(bpt_policy_new(&p.policy), "policy");
    if (strncmp(name, "sev_snp_real", 12) == 0) {
        p.ev = read_file("sev-snp/milan-virtee/report.bin", &p.len);
        aux = read_file("sev-snp/milan-virtee/vcek.der", &aux_len);
        check(bpt_verify_ctx_set_at(p.ctx, 1680652800), "at");
        check(bpt_verify_ctx_set_revocation_check(p.ctx, false), "revocation");
        check(bpt_verify_ctx_add_certs(p.ctx, aux, aux_len), "certs");
        p.provider = BPT_PROVIDER_AMD_SEV_SNP;
    } else if (strncmp(name, "tdx_real", 8) == 0) {
        p.ev = read_file("tdx/phala-v4-uptodate/quote.bin", &p.len);
        aux = read_file("tdx/phala-v4-uptodate/collateral.json", &aux_len);
        check(bpt_verify_ctx_set_at(p.ctx, 1750464000), "at");
        check(bpt_verify_ctx_set_collateral_json(p.ctx, (const char *)aux, aux_len), "coll");
        check(bpt_verify_ctx_set_offline(p.ctx, true), "offline");
        p.provider = BPT_PROVIDER_INTEL_TDX;
    } else if (strncmp(name, "nitro_real", 10) == 0) {
        p.ev = read_file("nitro/evervault-ga/attestation-doc.cbor", &p.len);
        check(bpt_verify_ctx_set_at(p.ctx, 1695049470), "at");
        bpt_policy_set_allow_debug(p.policy, true);
        p.provider = BPT_PROVIDER_AWS_NITRO;
    } else if (strncmp(name, "jwt_rs256", 9) == 0 || strncmp(name, "jwt_es256", 9) == 0) {
        bool rsa = strncmp(name, "jwt_rs256", 9) == 0;
        char claims[512];
        snprintf(claims, sizeof(claims),
                 "{\"iss\":\"https://confidentialcomputing.googleapis.com\",\"aud\":\"bench\","
                 "\"iat\":1749999990,\"nbf\":1749999990,\"exp\":1750003600,"
                 "\"eat_nonce\":\"nonce-0123456789\",\"dbgstat\":\"disabled-since-boot\","
                 "\"swname\":\"CONFIDENTIAL_SPACE\",\"swversion\":[\"240500\"],"
                 "\"hwmodel\":\"GCP_AMD_SEV\",\"secboot\":true,\"submods\":{\"container\":{"
                 "\"image_digest\":\"sha256:5d6a4ae7b3b5f8a04a7ef9bbd6e9d3c1a5bca8a1c3d2ef0b1a2b3c"
                 "4d5e6f7a8b\",\"restart_policy\":\"Never\"}}}");
        check(bpt_sim_keygen(&key, rsa ? "rsa" : "P-256"), "key");
        check(bpt_sim_jwk(&jwk, key, "k1"), "jwk");
        if (asprintf(&jwks, "{\"keys\":[%s]}", jwk) < 0) {
            return 1;
        }
        check(bpt_sim_jwt_make(&tok,
                               rsa ? "{\"alg\":\"RS256\",\"kid\":\"k1\",\"typ\":\"JWT\"}"
                                   : "{\"alg\":\"ES256\",\"kid\":\"k1\",\"typ\":\"JWT\"}",
                               claims, key),
              "token");
        check(bpt_verify_ctx_set_at(p.ctx, 1750000000), "at");
        check(bpt_verify_ctx_set_jwks_json(p.ctx, jwks, strlen(jwks)), "jwks");
        check(bpt_policy_set_expected_audience(p.policy, "bench"), "audience");
        p.ev = (const uint8_t *)tok;
        p.len = strlen(tok);
        p.provider = BPT_PROVIDER_GCP_CONFIDENTIAL;
    } else {
        fprintf(stderr, "usage: bpt_profile sev_snp_real_full|sev_snp_real_cached|tdx_real_full|"
                        "tdx_real_cached|nitro_real_full|nitro_real_cached|jwt_rs256[_cached]|"
                        "jwt_es256[_cached] "
                        "[N]\n");
        return 2;
    }
    profile_loop(&p, 1); /* warm: caches filled, the context frozen */
    profile_loop(&p, n);
    if (tok) {
        bpt_free(tok);
    } else {
        free((void *)p.ev);
    }
    free(aux);
    free(jwks);
    bpt_free(jwk);
    EVP_PKEY_free(key);
    bpt_policy_free(p.policy);
    bpt_verify_ctx_free(p.ctx);
    return 0;
}
