/*
 * JWT attestation token verification rate (GCP Confidential Space tokens, the whole verifier:
 * parse, key, signature, time, audience, claims, report) with the keys held by a JWKS cache
 * (fetched once from a loopback server), for RS256 with RSA-2048 and ES256 with P-256, beside
 * OpenSSL's raw verify of the same signing input with the same key (the limit: a token's one
 * signature; timed in turns with the case). A third case takes the keys from a JWKS document set
 * on the context (parsed once, when set: no cache, no network), and a fourth a context that keeps
 * no parsed tokens (every token a first sight). ../shared/testdata holds no
 * attestation tokens, so these are the simulator's GCP tokens only.
 * Usage: bench_jwt [--seconds N]
 */
#include "util.h"

#include <blueprint-tee/bpt.h>

#include "attester/sim/jwt.h"
#include "attester/sim/x509.h"

#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#define AT 1750000000

struct ctx {
    char *tok;
    const bpt_verify_ctx *vctx;
    const bpt_policy *policy;
    EVP_PKEY *key;
    const EVP_MD *md;
    const uint8_t *tbs;
    size_t tbs_len;
    uint8_t sig[512];
    size_t sig_len;
};

static const char *jwks_text;

static enum MHD_Result serve(void *cls, struct MHD_Connection *conn, const char *url,
                             const char *method, const char *version, const char *upload,
                             size_t *upload_len, void **con_cls)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(jwks_text), (void *)jwks_text,
                                                             MHD_RESPMEM_PERSISTENT);
    enum MHD_Result q;
    (void)cls;
    (void)url;
    (void)method;
    (void)version;
    (void)upload;
    (void)upload_len;
    (void)con_cls;
    MHD_add_response_header(r, "Cache-Control", "public, max-age=3600");
    q = MHD_queue_response(conn, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return q;
}

static bool verify_once(void *p)
{
    struct ctx *c = p;
    bpt_verified *v = NULL;
    int rc = bpt_gcp_confidential_verify(&v, c->vctx, c->policy, (const uint8_t *)c->tok,
                                         strlen(c->tok));
    bpt_verified_free(v);
    if (rc != 0) {
        fprintf(stderr, "verify: %s\n", bpt_error_last());
    }
    return rc == 0;
}

/* The same work OpenSSL does for the token's signature: a DigestVerify over header.payload
 * (for ES256 the DER signature, made once here). */
static bool raw_once(void *p)
{
    struct ctx *c = p;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    bool ok = md && EVP_DigestVerifyInit(md, NULL, c->md, NULL, c->key) == 1 &&
              EVP_DigestVerify(md, c->sig, c->sig_len, c->tbs, c->tbs_len) == 1;
    EVP_MD_CTX_free(md);
    return ok;
}

static bool raw_setup(struct ctx *c)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    bool ok;
    c->md = EVP_sha256();
    c->tbs = (const uint8_t *)c->tok;
    c->tbs_len = (size_t)(strrchr(c->tok, '.') - c->tok);
    c->sig_len = sizeof(c->sig);
    ok = md && EVP_DigestSignInit(md, NULL, c->md, NULL, c->key) == 1 &&
         EVP_DigestSign(md, c->sig, &c->sig_len, c->tbs, c->tbs_len) == 1;
    EVP_MD_CTX_free(md);
    return ok;
}

static char *make_token(const char *alg, const char *kid, EVP_PKEY *key)
{
    char claims[1024], hdr[128], *tok = NULL;
    snprintf(claims, sizeof(claims),
             "{\"iss\":\"https://confidentialcomputing.googleapis.com\",\"aud\":\"bench\","
             "\"iat\":%d,\"nbf\":%d,\"exp\":%d,\"eat_nonce\":\"nonce-0123456789\","
             "\"dbgstat\":\"disabled-since-boot\",\"swname\":\"CONFIDENTIAL_SPACE\","
             "\"swversion\":[\"240500\"],\"hwmodel\":\"GCP_AMD_SEV\",\"secboot\":true,"
             "\"submods\":{\"container\":{\"image_digest\":\"sha256:"
             "5d6a4ae7b3b5f8a04a7ef9bbd6e9d3c1a5bca8a1c3d2ef0b1a2b3c4d5e6f7a8b\","
             "\"image_reference\":\"us-docker.pkg.dev/p/r/app:1\",\"restart_policy\":\"Never\"}}}",
             AT - 10, AT - 10, AT + 3600);
    snprintf(hdr, sizeof(hdr), "{\"alg\":\"%s\",\"kid\":\"%s\",\"typ\":\"JWT\"}", alg, kid);
    if (bpt_sim_jwt_make(&tok, hdr, claims, key) != 0) {
        return NULL;
    }
    return tok;
}

int main(int argc, char **argv)
{
    double secs = bench_seconds(argc, argv), rs, es, rs_raw, es_raw, rs_doc, rs_fresh, rs_raw2;
    bpt_verify_ctx_opts no_tokens = BPT_VERIFY_CTX_OPTS_INIT;
    bpt_verify_ctx *fresh = NULL;
    EVP_PKEY *rsa = NULL, *ec = NULL;
    char *a = NULL, *b = NULL, *jwks = NULL, url[96];
    struct MHD_Daemon *d;
    bpt_verify_ctx *cached = NULL, *doc = NULL;
    bpt_policy *policy = NULL;
    struct ctx r = {0}, e = {0};
    uint64_t fetches = 0, hits = 0;

    if (bpt_sim_keygen(&rsa, "rsa") || bpt_sim_keygen(&ec, "P-256") ||
        bpt_sim_jwk(&a, rsa, "rsa-1") || bpt_sim_jwk(&b, ec, "ec-1") ||
        asprintf(&jwks, "{\"keys\":[%s,%s]}", a, b) < 0) {
        fprintf(stderr, "setup: %s\n", bpt_error_last());
        return 1;
    }
    jwks_text = jwks;
    d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, serve, NULL,
                         MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "setup: loopback JWKS server\n");
        return 1;
    }
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/jwks",
             MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT)->port);
    /* One policy; a context whose keys come from the URL through its JWKS cache, and one with
     * the JWKS document (parsed once, when set). */
    if (bpt_policy_new(&policy) || bpt_policy_set_expected_audience(policy, "bench") ||
        bpt_verify_ctx_new(&cached, NULL) || bpt_verify_ctx_set_at(cached, AT) ||
        bpt_verify_ctx_set_jwks_url(cached, url) || bpt_verify_ctx_new(&doc, NULL) ||
        bpt_verify_ctx_set_at(doc, AT) || bpt_verify_ctx_set_jwks_json(doc, jwks, strlen(jwks)) ||
        (no_tokens.jwks_cache = false, bpt_verify_ctx_new(&fresh, &no_tokens)) ||
        bpt_verify_ctx_set_at(fresh, AT) ||
        bpt_verify_ctx_set_jwks_json(fresh, jwks, strlen(jwks))) {
        fprintf(stderr, "setup: %s\n", bpt_error_last());
        return 1;
    }
    r = (struct ctx){
        .tok = make_token("RS256", "rsa-1", rsa), .vctx = cached, .policy = policy, .key = rsa};
    e = (struct ctx){
        .tok = make_token("ES256", "ec-1", ec), .vctx = cached, .policy = policy, .key = ec};
    if (!r.tok || !e.tok || !raw_setup(&r) || !raw_setup(&e) || !verify_once(&r)) {
        fprintf(stderr, "tokens: %s\n", bpt_error_last());
        return 1;
    }
    /* each case in turns with raw OpenSSL on the same bytes: its limit (b), the token's one
     * signature (a JWT has no chain: keys come from the JWKS) */
    bench_rate_pair(&rs, verify_once, &r, &rs_raw, raw_once, &r, 2 * secs);
    bench_rate_pair(&es, verify_once, &e, &es_raw, raw_once, &e, 2 * secs);
    r.vctx = doc;
    rs_doc = bench_rate(verify_once, &r, secs);
    /* Every token new: a context that keeps no parsed tokens (its JWKS cache off; the keys from
     * the JWKS document), so each verification decodes and parses the token as a first sight. */
    r.vctx = fresh;
    bench_rate_pair(&rs_fresh, verify_once, &r, &rs_raw2, raw_once, &r, 2 * secs);
    bench_report_limit("jwt_gcp_rs256_cached_keys", rs, "limit_b_openssl_rsa2048_sha256_verify",
                       rs_raw);
    bench_report_limit("jwt_gcp_es256_cached_keys", es, "limit_b_openssl_ecdsa_p256_sha256_verify",
                       es_raw);
    bench_report_limit("jwt_gcp_rs256_given_jwks", rs_doc, "limit_b_openssl_rsa2048_sha256_verify",
                       rs_raw);
    bench_report_limit("jwt_gcp_rs256_every_token_new", rs_fresh,
                       "limit_b_openssl_rsa2048_sha256_verify", rs_raw2);
    bpt_verify_ctx_cache_stats(cached, BPT_CACHE_JWKS, &hits, &fetches);
    printf("# rs256 cached/raw = %.0f%%, es256 cached/raw = %.0f%%; JWKS fetches %llu, cache "
           "hits %llu\n",
           rs_raw > 0 ? 100.0 * rs / rs_raw : 0.0, es_raw > 0 ? 100.0 * es / es_raw : 0.0,
           (unsigned long long)fetches, (unsigned long long)hits);
    bpt_verify_ctx_free(cached);
    bpt_verify_ctx_free(doc);
    bpt_verify_ctx_free(fresh);
    bpt_policy_free(policy);
    MHD_stop_daemon(d);
    EVP_PKEY_free(rsa);
    EVP_PKEY_free(ec);
    bpt_free(r.tok);
    bpt_free(e.tok);
    bpt_free(a);
    bpt_free(b);
    free(jwks);
    return 0;
}
