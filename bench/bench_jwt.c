/*
 * JWT attestation tokens per second with the keys cached, for RS256 (RSA-2048) and ES256 (P-256)
 * GCP Confidential Space tokens, next to OpenSSL's raw RSA-2048 and ECDSA P-256 verify of the
 * same signing input in the same run. Keys are cached two ways: a JWK set given to the policy
 * (parsed once), and a bpt_jwks_cache filled once from a JWKS server on 127.0.0.1.
 * Usage: bench_jwt [--seconds N]
 */
#include "util.h"

#include <blueprint-tee/bpt.h>

#include "attester/sim_jwt.h"
#include "attester/sim_x509.h"

#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#define AT 1750000000

struct ctx {
    const char *token;
    bpt_policy *policy;
    EVP_PKEY *key;
    const char *md;
    uint8_t sig[512];
    size_t sig_len;
};

static bool verify_once(void *p)
{
    struct ctx *c = p;
    bpt_verified *v = NULL;
    int rc =
        bpt_gcp_confidential_verify(&v, (const uint8_t *)c->token, strlen(c->token), c->policy);
    bpt_verified_free(v);
    if (rc != 0) {
        fprintf(stderr, "verify: %s\n", bpt_error_last());
    }
    return rc == 0;
}

static bool raw_once(void *p)
{
    struct ctx *c = p;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    bool ok = md && EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, c->key) == 1 &&
              EVP_DigestVerify(md, c->sig, c->sig_len, (const uint8_t *)c->token,
                               (size_t)(strrchr(c->token, '.') - c->token)) == 1;
    EVP_MD_CTX_free(md);
    return ok;
}

static char served[8192];

static enum MHD_Result serve(void *cls, struct MHD_Connection *conn, const char *url,
                             const char *method, const char *version, const char *upload,
                             size_t *upload_len, void **con_cls)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(served), served, MHD_RESPMEM_PERSISTENT);
    enum MHD_Result q;
    (void)cls;
    (void)url;
    (void)method;
    (void)version;
    (void)upload;
    (void)upload_len;
    (void)con_cls;
    MHD_add_response_header(r, "Cache-Control", "max-age=3600");
    q = MHD_queue_response(conn, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return q;
}

static void setup(struct ctx *c, EVP_PKEY *key, const char *alg, const char *kid)
{
    static const char claims[] =
        "{\"iss\":\"https://confidentialcomputing.googleapis.com\",\"aud\":\"bench\","
        "\"iat\":1749999990,\"exp\":1750003600,\"dbgstat\":\"disabled-since-boot\","
        "\"swname\":\"CONFIDENTIAL_SPACE\",\"hwmodel\":\"GCP_AMD_SEV\",\"eat_nonce\":"
        "\"nonce-0123456789\",\"submods\":{\"container\":{\"image_digest\":\"sha256:"
        "5d6a4ae7b3b5f8a04a7ef9bbd6e9d3c1a5bca8a1c3d2ef0b1a2b3c4d5e6f7a8b\"}}}";
    char hdr[128], *tok = NULL, *jwk = NULL, jwks[4096];
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    snprintf(hdr, sizeof(hdr), "{\"alg\":\"%s\",\"kid\":\"%s\"}", alg, kid);
    if (bpt_sim_jwt_make(&tok, hdr, claims, key) != 0 || bpt_sim_jwk(&jwk, key, kid) != 0 ||
        bpt_policy_new(&c->policy) != 0) {
        fprintf(stderr, "setup: %s\n", bpt_error_last());
        exit(1);
    }
    snprintf(jwks, sizeof(jwks), "{\"keys\":[%s]}", jwk);
    /* The server's set holds both benches' keys. */
    if (!served[0]) {
        snprintf(served, sizeof(served), "{\"keys\":[%s", jwk);
    } else {
        size_t n = strlen(served);
        snprintf(served + n, sizeof(served) - n, ",%s]}", jwk);
    }
    bpt_policy_set_at(c->policy, AT);
    bpt_policy_set_offline(c->policy, true);
    if (bpt_policy_set_jwks_json(c->policy, jwks, strlen(jwks)) != 0 ||
        bpt_policy_set_expected_audience(c->policy, "bench") != 0 ||
        bpt_policy_set_expected_nonce(c->policy, "nonce-0123456789") != 0) {
        exit(1);
    }
    c->token = tok;
    c->key = key;
    /* The baseline's signature: the same input, signed the way OpenSSL verifies (DER for EC). */
    c->sig_len = sizeof(c->sig);
    if (!md || EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) != 1 ||
        EVP_DigestSign(md, c->sig, &c->sig_len, (const uint8_t *)tok,
                       (size_t)(strrchr(tok, '.') - tok)) != 1) {
        exit(1);
    }
    EVP_MD_CTX_free(md);
    bpt_free(jwk);
}

int main(int argc, char **argv)
{
    double secs = bench_seconds(argc, argv);
    struct ctx rs = {0}, es = {0};
    EVP_PKEY *rsa = NULL, *ec = NULL;
    if (bpt_sim_keygen(&rsa, "rsa") != 0 || bpt_sim_keygen(&ec, "P-256") != 0) {
        return 1;
    }
    setup(&rs, rsa, "RS256", "rsa-1");
    setup(&es, ec, "ES256", "ec-1");
    double rs_tok = bench_rate(verify_once, &rs, secs), rs_raw = bench_rate(raw_once, &rs, secs);
    double es_tok = bench_rate(verify_once, &es, secs), es_raw = bench_rate(raw_once, &es, secs);
    bench_report("gcp_token_rs256_cached_keys", rs_tok, "openssl_rsa2048_verify", rs_raw);
    bench_report("gcp_token_es256_cached_keys", es_tok, "openssl_ecdsa_p256_verify", es_raw);

    /* The same through a JWKS cache filled once over HTTP from 127.0.0.1. */
    struct MHD_Daemon *d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, serve,
                                            NULL, MHD_OPTION_END);
    bpt_jwks_cache_opts o = BPT_JWKS_CACHE_OPTS_INIT;
    bpt_jwks_cache *cache = NULL;
    uint64_t fetches = 0, hits = 0;
    char url[64];
    if (!d || bpt_jwks_cache_new(&cache, &o) != 0) {
        return 1;
    }
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/jwks",
             MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT)->port);
    struct ctx *both[] = {&rs, &es};
    for (int i = 0; i < 2; i++) {
        if (bpt_policy_set_jwks_json(both[i]->policy, NULL, 0) != 0 ||
            bpt_policy_set_jwks_url(both[i]->policy, url) != 0) {
            return 1;
        }
        bpt_policy_set_offline(both[i]->policy, false);
        bpt_policy_set_jwks_cache(both[i]->policy, cache);
    }
    double rs_c = bench_rate(verify_once, &rs, secs), es_c = bench_rate(verify_once, &es, secs);
    bench_report("gcp_token_rs256_jwks_cache", rs_c, "openssl_rsa2048_verify", rs_raw);
    bench_report("gcp_token_es256_jwks_cache", es_c, "openssl_ecdsa_p256_verify", es_raw);
    bpt_jwks_cache_stats(cache, &fetches, &hits);
    printf("# jwks cache: %llu fetch(es), %llu hits\n", (unsigned long long)fetches,
           (unsigned long long)hits);
    printf("# policy JWKS: rs256 = %.0f%% of raw, es256 = %.0f%% of raw; jwks cache: %.0f%%, "
           "%.0f%% (one signature per token)\n",
           100.0 * rs_tok / rs_raw, 100.0 * es_tok / es_raw, 100.0 * rs_c / rs_raw,
           100.0 * es_c / es_raw);
    bpt_policy_free(rs.policy);
    bpt_policy_free(es.policy);
    bpt_jwks_cache_free(cache);
    MHD_stop_daemon(d);
    bpt_free((char *)rs.token);
    bpt_free((char *)es.token);
    EVP_PKEY_free(rsa);
    EVP_PKEY_free(ec);
    return 0;
}
