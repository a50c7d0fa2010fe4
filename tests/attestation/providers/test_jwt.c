/* bpt-test-labels: unit loopback */
/*
 * Azure MAA and GCP Confidential Space tokens signed here with RSA and EC keys made by OpenSSL,
 * their JWKS served by a libmicrohttpd server on 127.0.0.1: every accepted algorithm verifies,
 * each check of docs/jwt.md is made to fail on its own, and the JWKS sources, the cache
 * (Cache-Control max-age, unknown-kid refetch, failures, offline), the size cap and a
 * time-out are exercised. The CLI verifies the same tokens with --jwks.
 *
 * With BPT_JWT_SEED_DIR set, main() also writes the fuzz seeds of fuzz/corpus/jwt there.
 */
#include "helpers/test.h"

#include "attester/sim/jwt.h"
#include "attester/sim/x509.h"

#include "attestation/collateral/jwks.h"
#include "attestation/context_internal.h"
#include "attestation/providers/jwt_internal.h"

#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define AT 1750000000
#define GCP "https://confidentialcomputing.googleapis.com"
#define DIGEST "sha256:5d6a4ae7b3b5f8a04a7ef9bbd6e9d3c1a5bca8a1c3d2ef0b1a2b3c4d5e6f7a8b"
#define ZERO32 "0000000000000000000000000000000000000000000000000000000000000000"
#define ZERO16 "00000000000000000000000000000000"
/* The report data of maa_claims(): 64 bytes of 0x11. */
#define ONES32 "11111111111111111111111111111111"
#define RD11 ONES32 ONES32 ONES32 ONES32
#define MEAS                                                                                       \
    "aabbccddeeff00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff0011223344556677" \
    "8899"

enum { NORMAL, OVERSIZED, FAIL_500, NOT_JSON };

struct server {
    struct MHD_Daemon *d;
    char url[64];
    char jwks[16384];
    char cache_control[64];
    atomic_int hits, mode;
    pthread_mutex_t lock; /* jwks and cache_control */
};

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_len, void **con_cls)
{
    static char big[300 * 1024];
    struct server *s = cls;
    struct MHD_Response *resp;
    unsigned status = MHD_HTTP_OK;
    enum MHD_Result r;
    (void)url;
    (void)method;
    (void)version;
    (void)upload;
    (void)upload_len;
    (void)con_cls;
    atomic_fetch_add(&s->hits, 1);
    switch (atomic_load(&s->mode)) {
    case OVERSIZED:
        resp = MHD_create_response_from_buffer(sizeof(big), big, MHD_RESPMEM_PERSISTENT);
        break;
    case FAIL_500:
        resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
        status = 500;
        break;
    case NOT_JSON:
        resp = MHD_create_response_from_buffer(9, (void *)"<html/>\r\n", MHD_RESPMEM_PERSISTENT);
        break;
    default:
        pthread_mutex_lock(&s->lock);
        resp = MHD_create_response_from_buffer(strlen(s->jwks), s->jwks, MHD_RESPMEM_MUST_COPY);
        if (s->cache_control[0]) {
            MHD_add_response_header(resp, "Cache-Control", s->cache_control);
        }
        pthread_mutex_unlock(&s->lock);
    }
    r = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return r;
}

struct fixture {
    struct server srv;
    EVP_PKEY *rsa, *ec, *ec384, *other;
    X509 *maa_cert;
    char *jwks; /* rsa-1, ec-1, ec384-1 */
    int hang_fd;
    char hang_url[64];
};

static void set_jwks(struct server *s, const char *jwks, const char *cc)
{
    pthread_mutex_lock(&s->lock);
    snprintf(s->jwks, sizeof(s->jwks), "%s", jwks);
    snprintf(s->cache_control, sizeof(s->cache_control), "%s", cc ? cc : "");
    pthread_mutex_unlock(&s->lock);
    atomic_store(&s->mode, NORMAL);
    atomic_store(&s->hits, 0);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    char *a = NULL, *b = NULL, *c = NULL;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof(sa);
    const union MHD_DaemonInfo *info;
    if (!f || bpt_sim_keygen(&f->rsa, "rsa") || bpt_sim_keygen(&f->ec, "P-256") ||
        bpt_sim_keygen(&f->ec384, "P-384") || bpt_sim_keygen(&f->other, "rsa") ||
        bpt_sim_jwk(&a, f->rsa, "rsa-1") || bpt_sim_jwk(&b, f->ec, "ec-1") ||
        bpt_sim_jwk(&c, f->ec384, "ec384-1") ||
        asprintf(&f->jwks, "{\"keys\":[%s,%s,%s]}", a, b, c) < 0 ||
        bpt_sim_make_cert(&f->maa_cert, f->rsa, "maa signing", NULL, NULL, -1,
                          BPT_SIM_SIG_RSA_PSS_SHA384, 7, NULL, NULL) != 0) {
        return -1;
    }
    bpt_free(a);
    bpt_free(b);
    bpt_free(c);
    pthread_mutex_init(&f->srv.lock, NULL);
    set_jwks(&f->srv, f->jwks, NULL);
    f->srv.d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0,
                                NULL, NULL, handle, &f->srv, MHD_OPTION_END);
    if (!f->srv.d) {
        return -1;
    }
    info = MHD_get_daemon_info(f->srv.d, MHD_DAEMON_INFO_BIND_PORT);
    snprintf(f->srv.url, sizeof(f->srv.url), "http://127.0.0.1:%u", info->port);
    /* A server that accepts connections (the kernel does) and never answers. */
    f->hang_fd = socket(AF_INET, SOCK_STREAM, 0);
    if (f->hang_fd < 0 || bind(f->hang_fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        listen(f->hang_fd, 8) != 0 || getsockname(f->hang_fd, (struct sockaddr *)&sa, &sl) != 0) {
        return -1;
    }
    snprintf(f->hang_url, sizeof(f->hang_url), "http://127.0.0.1:%u/jwks", ntohs(sa.sin_port));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    MHD_stop_daemon(f->srv.d);
    pthread_mutex_destroy(&f->srv.lock);
    close(f->hang_fd);
    EVP_PKEY_free(f->rsa);
    EVP_PKEY_free(f->ec);
    EVP_PKEY_free(f->ec384);
    EVP_PKEY_free(f->other);
    X509_free(f->maa_cert);
    free(f->jwks);
    free(f);
    return 0;
}

/* The result's warnings hold @p want (NULL: there are none). */
static void assert_warning(const bpt_verified *v, const char *want)
{
    char *text = NULL;
    json_t *o, *w;
    assert_ok(bpt_verified_to_json(&text, v));
    o = json_loads(text, 0, NULL);
    assert_non_null(o);
    w = json_object_get(o, "warnings");
    assert_true(json_is_array(w));
    if (!want) {
        assert_int_equal(json_array_size(w), 0);
    } else if (!strstr(text, want)) {
        fail_msg("warnings lack '%s': %s", want, text);
    }
    json_decref(o);
    bpt_free(text);
}

/* A token: header {"alg","kid","typ"} over @p claims, signed with @p key (NULL: unsigned). */
static char *token(const char *alg, const char *kid, EVP_PKEY *key, const char *claims)
{
    char *hdr = NULL, *out = NULL;
    assert_true(asprintf(&hdr, "{\"alg\":\"%s\",\"kid\":\"%s\",\"typ\":\"JWT\"}", alg, kid) > 0);
    assert_ok(bpt_sim_jwt_make(&out, hdr, claims, key));
    free(hdr);
    return out;
}

/* @p base with @p extra's members merged over it; a member whose value is "<delete>" is
 * removed instead. Returns JSON text (free()). */
static char *merge(json_t *base, const char *extra)
{
    json_t *over = extra ? json_loads(extra, 0, NULL) : json_object();
    const char *k;
    json_t *v;
    char *out;
    assert_non_null(base);
    assert_non_null(over);
    json_object_foreach(over, k, v)
    {
        if (json_is_string(v) && strcmp(json_string_value(v), "<delete>") == 0) {
            json_object_del(base, k);
        } else {
            json_object_set(base, k, v);
        }
    }
    out = json_dumps(base, JSON_COMPACT);
    json_decref(over);
    json_decref(base);
    return out;
}

/* Confidential Space claims (the shape of Google's token reference) issued at @p at - 10. */
static char *gcp_claims_at(int64_t at, const char *extra)
{
    return merge(json_pack("{s:s,s:s,s:s,s:I,s:I,s:I,s:s,s:s,s:s,s:[s],s:s,s:b,s:{s:{s:s,s:s,s:"
                           "s,s:s}},s:[s]}",
                           "iss", GCP, "sub",
                           "https://www.googleapis.com/compute/v1/projects/p/"
                           "zones/us-central1-a/instances/vm",
                           "aud", "bpt-test", "iat", (json_int_t)at - 10, "nbf",
                           (json_int_t)at - 10, "exp", (json_int_t)at + 3600, "eat_nonce",
                           "nonce-0123456789", "dbgstat", "disabled-since-boot", "swname",
                           "CONFIDENTIAL_SPACE", "swversion", "240500", "hwmodel", "GCP_AMD_SEV",
                           "secboot", 1, "submods", "container", "image_digest", DIGEST,
                           "image_reference", "us-docker.pkg.dev/p/r/app:1", "restart_policy",
                           "Never", "image_id", "sha256:1111", "google_service_accounts",
                           "wl@p.iam.gserviceaccount.com"),
                 extra);
}

static char *gcp_claims(const char *extra)
{
    return gcp_claims_at(AT, extra);
}

/* MAA claims for an SEV-SNP VM (x-ms-attestation-type sevsnpvm) from issuer @p iss. */
static char *maa_claims_at(int64_t at, const char *iss, const char *extra)
{
    char rd[129];
    memset(rd, '1', 128);
    rd[128] = '\0';
    return merge(json_pack("{s:s,s:s,s:I,s:I,s:I,s:s,s:b,s:s,s:s,s:s,s:s,s:{s:{s:s},s:s},s:i,"
                           "s:i,s:i,s:i}",
                           "iss", iss, "aud", "bpt-test", "iat", (json_int_t)at - 10, "nbf",
                           (json_int_t)at - 10, "exp", (json_int_t)at + 3600,
                           "x-ms-attestation-type", "sevsnpvm", "x-ms-sevsnpvm-is-debuggable", 0,
                           "x-ms-sevsnpvm-launchmeasurement", MEAS, "x-ms-sevsnpvm-reportdata", rd,
                           "x-ms-compliance-status", "azure-compliant-cvm", "nonce", "maa-nonce-1",
                           "x-ms-runtime", "client-payload", "nonce", "cGF5bG9hZC1ub25jZQ",
                           "image_digest", DIGEST, "x-ms-sevsnpvm-bootloader-svn", 3,
                           "x-ms-sevsnpvm-tee-svn", 0, "x-ms-sevsnpvm-snpfw-svn", 8,
                           "x-ms-sevsnpvm-microcode-svn", 115),
                 extra);
}

static char *maa_claims(const char *iss, const char *extra)
{
    return maa_claims_at(AT, iss, extra);
}

/* A policy with audience bpt-test (unless workload-bound) and keys from the loopback server. */
static bpt_policy *policy(struct fixture *f, const char *json)
{
    bpt_policy *p = NULL;
    char url[96];
    assert_ok(json ? bpt_policy_load_json(&p, json, strlen(json)) : bpt_policy_new(&p));
    if (!bpt_policy_is_workload_bound(p)) {
        assert_ok(bpt_policy_set_expected_audience(p, "bpt-test"));
    }
    snprintf(url, sizeof(url), "%s/jwks", f->srv.url);
    assert_ok(bpt_policy_set_jwks_url(p, url));
    return p;
}

/* An Azure policy: the server is the MAA instance (keys from <issuer>/certs). */
static bpt_policy *maa_policy(struct fixture *f, const char *json)
{
    bpt_policy *p = NULL;
    assert_ok(json ? bpt_policy_load_json(&p, json, strlen(json)) : bpt_policy_new(&p));
    if (!bpt_policy_is_workload_bound(p)) {
        assert_ok(bpt_policy_set_expected_audience(p, "bpt-test"));
    }
    assert_ok(bpt_policy_add_jwt_issuer(p, f->srv.url));
    return p;
}

/* A context at AT made with @p opts (NULL: no JWKS cache, so one fetch per verification). */
static bpt_verify_ctx *context(const bpt_verify_ctx_opts *opts)
{
    bpt_verify_ctx_opts none = BPT_VERIFY_CTX_OPTS_INIT;
    bpt_verify_ctx *c = NULL;
    none.jwks_cache = false;
    assert_ok(bpt_verify_ctx_new(&c, opts ? opts : &none));
    assert_ok(bpt_verify_ctx_set_at(c, AT));
    return c;
}

/* A context at AT without a JWKS cache, offline or not. */
static bpt_verify_ctx *offline_context(bool offline)
{
    bpt_verify_ctx *c = context(NULL);
    assert_ok(bpt_verify_ctx_set_offline(c, offline));
    return c;
}

/* A context at AT without a JWKS cache whose keys are the JWK set @p jwks. */
static bpt_verify_ctx *jwks_context(const char *jwks)
{
    bpt_verify_ctx *c = context(NULL);
    assert_ok(bpt_verify_ctx_set_jwks_json(c, jwks, strlen(jwks)));
    return c;
}

static int verify(const char *tok, bpt_provider prov, const bpt_verify_ctx *c, const bpt_policy *p)
{
    bpt_verified *v = NULL;
    int rc = bpt_verify(&v, c, p, (const uint8_t *)tok, strlen(tok), prov);
    if (rc == 0) {
        assert_non_null(v);
    } else {
        assert_null(v);
    }
    bpt_verified_free(v);
    return rc;
}

static char *custom(const bpt_report *r, const char *key)
{
    char *c = NULL;
    assert_ok(bpt_claims_custom_json(&c, bpt_report_claims(r), key));
    return c;
}

static void assert_custom(const bpt_report *r, const char *key, const char *json)
{
    char *c = custom(r, key);
    assert_string_equal(c, json);
    bpt_free(c);
}

static void test_gcp_token_verifies_and_maps_claims(void **state)
{
    struct fixture *f = *state;
    char *claims = gcp_claims(NULL), *rs = token("RS256", "rsa-1", f->rsa, claims);
    bpt_policy *p = policy(f, NULL);
    bpt_verify_ctx *c = context(NULL);
    bpt_verified *v = NULL;
    const bpt_report *r;
    const uint8_t *rd;
    size_t rd_len = 0;

    assert_ok(bpt_policy_set_expected_nonce(p, "nonce-0123456789"));
    assert_ok(bpt_policy_set_expected_image_digest(p, DIGEST));
    assert_ok(bpt_policy_set_expected_measurement(p, DIGEST + 7));
    assert_ok(bpt_verify(&v, c, p, (const uint8_t *)rs, strlen(rs), BPT_PROVIDER_UNKNOWN));
    assert_int_equal(bpt_verified_provider(v), BPT_PROVIDER_GCP_CONFIDENTIAL);
    assert_int_equal(bpt_verified_level(v), BPT_VERIFICATION_CRYPTOGRAPHIC);
    r = bpt_verified_report(v);
    assert_int_equal(bpt_report_format(r), BPT_FORMAT_GCP_CONFIDENTIAL_TOKEN);
    assert_string_equal(bpt_report_measurement(r)->algorithm, "sha256");
    assert_string_equal(bpt_report_measurement(r)->digest, DIGEST + 7);
    assert_false(bpt_claims_debug_mode(bpt_report_claims(r)));
    assert_string_equal(bpt_claims_platform_version(bpt_report_claims(r)),
                        "CONFIDENTIAL_SPACE 240500 on GCP_AMD_SEV");
    assert_int_equal(bpt_report_issued_at(r), AT - 10);
    assert_custom(r, "image_reference", "\"us-docker.pkg.dev/p/r/app:1\"");
    assert_custom(r, "image_digest", "\"" DIGEST "\"");
    assert_custom(r, "restart_policy", "\"Never\"");
    assert_custom(r, "secboot", "true");
    assert_custom(r, "dbgstat", "\"disabled-since-boot\"");
    assert_custom(r, "eat_nonce", "\"nonce-0123456789\"");
    assert_custom(r, "swname", "\"CONFIDENTIAL_SPACE\"");
    assert_custom(r, "hwmodel", "\"GCP_AMD_SEV\"");
    assert_null(bpt_verified_report_data(v, &rd_len));
    bpt_verified_free(v);
    bpt_free(rs);
    free(claims);

    /* 64 bytes of report data as eat_nonce's first two values (docs/jwt.md). */
    claims = gcp_claims(
        "{\"eat_nonce\":[\"1111111111111111111111111111111111111111111111111111111111111111\","
        "\"2222222222222222222222222222222222222222222222222222222222222222\",\"nonce-0123456789\"]"
        "}");
    rs = token("RS256", "rsa-1", f->rsa, claims);
    assert_ok(bpt_policy_set_expected_report_data(
        p, "111111111111111111111111111111111111111111111111111111111111111122222222222222222222222"
           "22222222222222222222222222222222222222222"));
    assert_ok(bpt_verify(&v, c, p, (const uint8_t *)rs, strlen(rs), BPT_PROVIDER_UNKNOWN));
    rd = bpt_verified_report_data(v, &rd_len);
    assert_int_equal(rd_len, 64);
    assert_int_equal(rd[0], 0x11);
    assert_int_equal(rd[63], 0x22);
    bpt_verified_free(v);
    bpt_verify_ctx_free(c);
    bpt_policy_free(p);
    bpt_free(rs);
    free(claims);
}

/* A context with its JWKS cache keeps tokens parsed, by their bytes: the same token again shares
 * the parse; a token that shares only the signature's text is compared in full and parsed anew
 * (and its other payload fails the signature); a token that does not parse is not kept; a context
 * without the JWKS cache keeps none. */
static void test_parsed_tokens_kept_by_their_bytes(void **state)
{
    struct fixture *f = *state;
    char *claims = gcp_claims(NULL), *other = gcp_claims("{\"eat_nonce\":\"another\"}");
    char *rs = token("RS256", "rsa-1", f->rsa, claims),
         *rs2 = token("RS256", "rsa-1", f->rsa, other);
    char *forged = NULL, *nl = NULL;
    bpt_verify_ctx_opts o = BPT_VERIFY_CTX_OPTS_INIT;
    bpt_verify_ctx *c = context(&o), *none = context(NULL);
    bpt_policy *p = policy(f, NULL);
    struct bpt_jwt a, b, n;
    const char *d1 = strchr(rs, '.'), *d2 = strrchr(rs, '.');
    const char *e1 = strchr(rs2, '.'), *e2 = strrchr(rs2, '.');

    assert_ok(bpt_jwt_parse_cached(&a, c, (const uint8_t *)rs, strlen(rs), "t"));
    assert_true(asprintf(&nl, "%s\n", rs) > 0);
    assert_ok(bpt_jwt_parse_cached(&b, c, (const uint8_t *)nl, strlen(nl), "t"));
    assert_ptr_equal(a.claims, b.claims);  /* the second came from the context */
    assert_ptr_equal(b.signing_input, nl); /* ...signing the caller's bytes */
    assert_int_equal(b.signing_input_len, (size_t)(d2 - rs));
    assert_int_equal(b.signature_len, a.signature_len);
    assert_memory_equal(b.signature, a.signature, a.signature_len);
    assert_string_equal(b.kid, "rsa-1");
    bpt_jwt_dispose(&b);
    /* rs's header and signature around rs2's payload */
    assert_true(asprintf(&forged, "%.*s%.*s%s", (int)(d1 - rs), rs, (int)(e2 - e1), e1, d2) > 0);
    assert_ok(bpt_jwt_parse_cached(&n, c, (const uint8_t *)forged, strlen(forged), "t"));
    assert_ptr_not_equal(n.claims, a.claims);
    assert_string_equal(json_string_value(json_object_get(n.claims, "eat_nonce")), "another");
    bpt_jwt_dispose(&n);
    assert_rc_msg(verify(forged, BPT_PROVIDER_UNKNOWN, c, p), BPT_ESIGNATURE, "does not verify");
    assert_ok(verify(rs, BPT_PROVIDER_UNKNOWN, c, p));
    assert_ok(verify(rs, BPT_PROVIDER_UNKNOWN, c, p));
    /* refused tokens are not kept: the same refusal twice */
    forged[0] = '!';
    for (int i = 0; i < 2; i++) {
        assert_rc_msg(bpt_jwt_parse_cached(&n, c, (const uint8_t *)forged, strlen(forged), "t"),
                      BPT_EMALFORMED, "t: byte 0 is not base64url");
    }
    /* without the JWKS cache nothing is kept */
    assert_null(none->jwt_tokens);
    assert_ok(bpt_jwt_parse_cached(&b, none, (const uint8_t *)rs, strlen(rs), "t"));
    assert_ptr_not_equal(b.claims, a.claims);
    bpt_jwt_dispose(&b);
    bpt_jwt_dispose(&a);
    bpt_verify_ctx_free(c);
    bpt_verify_ctx_free(none);
    bpt_policy_free(p);
    bpt_free(rs);
    bpt_free(rs2);
    free(forged);
    free(nl);
    free(claims);
    free(other);
}

static void test_every_accepted_alg_verifies(void **state)
{
    struct fixture *f = *state;
    static const char *const algs[] = {"RS256", "RS384", "RS512", "PS256",
                                       "PS384", "PS512", "ES256", "ES384"};
    char *claims = gcp_claims(NULL);
    bpt_policy *p = policy(f, NULL);
    bpt_verify_ctx *c = context(NULL);
    for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
        bool es = algs[i][0] == 'E', big = strcmp(algs[i], "ES384") == 0;
        char *tok = token(algs[i], es ? (big ? "ec384-1" : "ec-1") : "rsa-1",
                          es ? (big ? f->ec384 : f->ec) : f->rsa, claims);
        int rc = verify(tok, BPT_PROVIDER_GCP_CONFIDENTIAL, c, p);
        if (rc != 0) {
            fail_msg("%s: %s", algs[i], bpt_error_last());
        }
        bpt_free(tok);
    }
    bpt_verify_ctx_free(c);
    bpt_policy_free(p);
    free(claims);
}

static void test_azure_tokens_verify_with_keys_from_the_issuer(void **state)
{
    struct fixture *f = *state;
    char *claims = maa_claims(f->srv.url, NULL), *rs = token("RS256", "rsa-1", f->rsa, claims),
         *es = token("ES256", "ec-1", f->ec, claims);
    bpt_policy *p = maa_policy(f, NULL);
    bpt_verify_ctx *c = context(NULL);
    bpt_verified *v = NULL;
    const bpt_report *r;
    size_t n = 0;

    set_jwks(&f->srv, f->jwks, NULL);
    assert_ok(bpt_policy_set_expected_measurement(p, MEAS));
    assert_ok(bpt_policy_set_expected_nonce(p, "maa-nonce-1"));
    assert_ok(bpt_policy_set_expected_image_digest(p, DIGEST));
    assert_ok(bpt_verify(&v, c, p, (const uint8_t *)rs, strlen(rs), BPT_PROVIDER_UNKNOWN));
    assert_int_equal(bpt_verified_provider(v), BPT_PROVIDER_AZURE_SNP);
    assert_int_equal(bpt_verified_level(v), BPT_VERIFICATION_CRYPTOGRAPHIC);
    r = bpt_verified_report(v);
    assert_int_equal(bpt_report_format(r), BPT_FORMAT_AZURE_MAA_TOKEN);
    assert_string_equal(bpt_report_measurement(r)->algorithm, "sha384");
    assert_string_equal(bpt_report_measurement(r)->digest, MEAS);
    assert_false(bpt_claims_debug_mode(bpt_report_claims(r)));
    assert_string_equal(bpt_claims_platform_version(bpt_report_claims(r)),
                        "sevsnpvm bootloader 3 tee 0 snp 8 microcode 115");
    assert_non_null(bpt_verified_report_data(v, &n));
    assert_int_equal(n, 64);
    assert_custom(r, "x-ms-compliance-status", "\"azure-compliant-cvm\"");
    assert_custom(r, "x-ms-sevsnpvm-is-debuggable", "false");
    assert_custom(r, "nonce", "\"maa-nonce-1\"");
    bpt_verified_free(v);
    assert_int_equal(atomic_load(&f->srv.hits), 1);
    assert_ok(verify(es, BPT_PROVIDER_AZURE_SNP, c, p));
    bpt_free(rs);
    bpt_free(es);
    free(claims);

    /* No nonce claim: the guest attestation client's x-ms-runtime.client-payload.nonce. */
    claims = maa_claims(f->srv.url, "{\"nonce\":\"<delete>\"}");
    rs = token("RS256", "rsa-1", f->rsa, claims);
    assert_ok(bpt_policy_set_expected_nonce(p, "cGF5bG9hZC1ub25jZQ"));
    assert_ok(verify(rs, BPT_PROVIDER_AZURE_SNP, c, p));
    bpt_free(rs);
    free(claims);
    bpt_policy_free(p);

    /* An Azure CVM token: the TEE's claims under x-ms-isolation-tee (here a TDX VM). */
    p = maa_policy(f, NULL);
    claims = maa_claims(f->srv.url,
                        "{\"x-ms-attestation-type\":\"azurevm\",\"x-ms-isolation-tee\":{"
                        "\"x-ms-attestation-type\":\"tdxvm\",\"tdx_td_attributes_debug\":false,"
                        "\"tdx_mrtd\":\"" MEAS "\"}}");
    rs = token("PS256", "rsa-1", f->rsa, claims);
    assert_ok(bpt_verify(&v, c, p, (const uint8_t *)rs, strlen(rs), BPT_PROVIDER_AZURE_SNP));
    assert_string_equal(bpt_claims_platform_version(bpt_report_claims(bpt_verified_report(v))),
                        "tdxvm");
    assert_custom(bpt_verified_report(v), "tdx_mrtd", "\"" MEAS "\"");
    bpt_verified_free(v);
    bpt_free(rs);
    free(claims);
    /* Its report data: the client payload's, not the TEE's hash of the runtime data. */
    claims = maa_claims(
        f->srv.url, "{\"x-ms-attestation-type\":\"azurevm\",\"x-ms-isolation-tee\":{"
                    "\"x-ms-attestation-type\":\"sevsnpvm\",\"x-ms-sevsnpvm-is-debuggable\":"
                    "false,\"x-ms-sevsnpvm-launchmeasurement\":\"" MEAS "\","
                    "\"x-ms-sevsnpvm-reportdata\":"
                    "\"1111111111111111111111111111111111111111111111111111111111111111111111111111"
                    "1111111111111111111111111111111111111111111111111111\"},\"x-ms-runtime\":{"
                    "\"client-payload\":{\"report_data\":"
                    "\"2222222222222222222222222222222222222222222222222222222222222222222222222222"
                    "2222222222222222222222222222222222222222222222222222\"}}}");
    rs = token("RS256", "rsa-1", f->rsa, claims);
    assert_ok(bpt_verify(&v, c, p, (const uint8_t *)rs, strlen(rs), BPT_PROVIDER_AZURE_SNP));
    {
        size_t rd_len = 0;
        const uint8_t *rd = bpt_verified_report_data(v, &rd_len);
        assert_int_equal(rd_len, 64);
        assert_int_equal(rd[0], 0x22);
        assert_int_equal(rd[63], 0x22);
    }
    bpt_verified_free(v);
    bpt_free(rs);
    free(claims);
    bpt_policy_free(p);
    bpt_verify_ctx_free(c);
}

static void test_azure_keys_published_as_x5c(void **state)
{
    struct fixture *f = *state;
    char *jwk = NULL, *jwks = NULL, *claims = maa_claims(f->srv.url, NULL),
         *tok = token("RS256", "maa-1", f->rsa, claims);
    bpt_policy *p = maa_policy(f, NULL);
    bpt_verify_ctx *c = context(NULL);
    assert_ok(bpt_sim_jwk_x5c(&jwk, f->maa_cert, "maa-1"));
    assert_true(asprintf(&jwks, "{\"keys\":[%s]}", jwk) > 0);
    set_jwks(&f->srv, jwks, NULL);
    assert_ok(verify(tok, BPT_PROVIDER_AZURE_SNP, c, p));
    set_jwks(&f->srv, f->jwks, NULL);
    bpt_verify_ctx_free(c);
    bpt_policy_free(p);
    free(jwks);
    bpt_free(jwk);
    bpt_free(tok);
    free(claims);
}

struct refusal {
    const char *name;
    bool azure;
    const char *alg, *kid; /* NULL: RS256 rsa-1 */
    int key;               /* 0 rsa, 1 ec, 2 other, 3 none */
    const char *extra;     /* claims merged over the base */
    const char *policy;    /* policy JSON (audience bpt-test added unless workload-bound) */
    int code;
    const char *msg;
};

#define AUD ",\"expected_audience\":\"bpt-test\""

static const struct refusal refusals[] = {
    /* The JWS itself. */
    {"alg none", false, "none", NULL, 3, NULL, NULL, BPT_ESIGNATURE, "alg 'none' refused"},
    {"HS256", false, "HS256", NULL, 3, NULL, NULL, BPT_ESIGNATURE, "alg 'HS256' refused"},
    {"EdDSA", false, "EdDSA", NULL, 3, NULL, NULL, BPT_ESIGNATURE, "alg 'EdDSA' refused"},
    {"unknown kid", false, NULL, "rsa-9", 0, NULL, NULL, BPT_EKEYS, "no key with kid 'rsa-9'"},
    {"wrong key", false, NULL, NULL, 2, NULL, NULL, BPT_ESIGNATURE,
     "RS256 signature does not verify with kid 'rsa-1'"},
    {"EC kid with an RSA alg", false, "RS256", "ec-1", 0, NULL, NULL, BPT_ESIGNATURE,
     "does not suit RS256"},
    {"P-256 kid with ES384", false, "ES384", "ec-1", 1, NULL, NULL, BPT_ESIGNATURE,
     "does not suit ES384"},
    /* Time. */
    {"expired", false, NULL, NULL, 0, "{\"exp\":1749990000}", NULL, BPT_ECLAIM,
     "expired at 2025-06-15T"},
    {"expired past the leeway", false, NULL, NULL, 0, "{\"exp\":1749999939}", NULL, BPT_ECLAIM,
     "leeway 60s"},
    {"no exp", false, NULL, NULL, 0, "{\"exp\":\"<delete>\"}", NULL, BPT_ECLAIM,
     "the token has no exp"},
    {"exp not a number", false, NULL, NULL, 0, "{\"exp\":\"soon\"}", NULL, BPT_EMALFORMED,
     "exp is not a number"},
    {"exp out of range", false, NULL, NULL, 0, "{\"exp\":1e300}", NULL, BPT_EMALFORMED,
     "exp is out of range"},
    {"nbf in the future", false, NULL, NULL, 0, "{\"nbf\":1750009999}", NULL, BPT_ECLAIM,
     "not valid before"},
    {"issued in the future", false, NULL, NULL, 0, "{\"iat\":1750009999}", NULL, BPT_ECLAIM,
     "issued in the future"},
    {"too old for max_age", false, NULL, NULL, 0, "{\"iat\":1749990000}",
     "{\"max_age_secs\":600" AUD "}", BPT_ECLAIM, "before the verification time (max age 600s)"},
    {"no iat with max_age", false, NULL, NULL, 0, "{\"iat\":\"<delete>\"}", NULL, BPT_ECLAIM,
     "the token has no iat"},
    /* Issuer and audience. */
    {"wrong issuer (GCP named)", false, NULL, NULL, 0, "{\"iss\":\"https://evil.example\"}", NULL,
     BPT_ECLAIM, "issuer 'https://evil.example' is not " GCP},
    {"GCP issuer outside the allow-list", false, NULL, NULL, 0, NULL,
     "{\"jwt\":{\"issuers\":[\"https://other.example\"]}" AUD "}", BPT_ECLAIM,
     "is not in the policy's jwt.issuers"},
    {"wrong audience", false, NULL, NULL, 0, "{\"aud\":\"someone-else\"}", NULL, BPT_ECLAIM,
     "the audience is not the expected 'bpt-test'"},
    {"wrong audience (array)", false, NULL, NULL, 0, "{\"aud\":[\"a\",\"b\"]}", NULL, BPT_ECLAIM,
     "the audience is not the expected 'bpt-test'"},
    {"missing audience", false, NULL, NULL, 0, "{\"aud\":\"<delete>\"}", NULL, BPT_ECLAIM,
     "the audience is not the expected 'bpt-test'"},
    /* Bound to this relying party (issue 12): GCP needs an expected audience; Azure one when
     * the token has aud, else an expected nonce or report data. */
    {"GCP without an expected audience", false, NULL, NULL, 0, NULL,
     "{\"expected_image_digest\":\"" DIGEST "\"}", BPT_EUNSATISFIABLE,
     "gcp_confidential: the token is not bound to this relying party: the policy names no "
     "expected_audience"},
    {"GCP without aud nor an expected audience", false, NULL, NULL, 0, "{\"aud\":\"<delete>\"}",
     "{\"expected_image_digest\":\"" DIGEST "\",\"expected_nonce\":\"nonce-0123456789\"}",
     BPT_EUNSATISFIABLE, "the policy names no expected_audience"},
    {"Azure with aud and only a nonce expected", true, NULL, NULL, 0, NULL,
     "{\"expected_image_digest\":\"" DIGEST "\",\"expected_nonce\":\"maa-nonce-1\"}",
     BPT_EUNSATISFIABLE,
     "azure_maa: the token is not bound to this relying party: the policy names no "
     "expected_audience"},
    {"Azure without aud, nonce or report data expected", true, NULL, NULL, 0,
     "{\"aud\":\"<delete>\"}", "{\"expected_image_digest\":\"" DIGEST "\"}", BPT_EUNSATISFIABLE,
     "azure_maa: the token names no audience and the policy expects neither a nonce nor report "
     "data"},
    {"aud of the wrong type", false, NULL, NULL, 0, "{\"aud\":7}", NULL, BPT_EMALFORMED,
     "aud is neither a string nor an array of strings"},
    /* GCP claims. */
    {"nonce mismatch (string)", false, NULL, NULL, 0, NULL,
     "{\"expected_nonce\":\"nonce-9999999999\"" AUD "}", BPT_ECLAIM,
     "expected nonce is not in eat_nonce"},
    {"nonce mismatch (array)", false, NULL, NULL, 0,
     "{\"eat_nonce\":[\"nonce-aaaaaaaaaa\",\"nonce-bbbbbbbbbb\"]}",
     "{\"expected_nonce\":\"nonce-cccccccccc\"" AUD "}", BPT_ECLAIM,
     "expected nonce is not in eat_nonce"},
    {"no nonce", false, NULL, NULL, 0, "{\"eat_nonce\":\"<delete>\"}",
     "{\"expected_nonce\":\"nonce-0123456789\"" AUD "}", BPT_ECLAIM, "(the token has none)"},
    {"GCP debug", false, NULL, NULL, 0, "{\"dbgstat\":\"enabled\"}", NULL, BPT_ECLAIM,
     "dbgstat is 'enabled'"},
    {"GCP dbgstat absent", false, NULL, NULL, 0, "{\"dbgstat\":\"<delete>\"}", NULL, BPT_ECLAIM,
     "dbgstat is '(absent)'"},
    {"GCP image digest", false, NULL, NULL, 0, NULL,
     "{\"expected_image_digest\":\"sha256:" ZERO32 "\"" AUD "}", BPT_ECLAIM,
     "image digest " DIGEST " is not the expected"},
    {"GCP image digest absent", false, NULL, NULL, 0, "{\"submods\":{}}",
     "{\"expected_image_digest\":\"" DIGEST "\"" AUD "}", BPT_ECLAIM,
     "image digest (absent) is not the expected"},
    {"GCP measurement", false, NULL, NULL, 0, NULL,
     "{\"expected_measurement\":\"" ZERO32 "\"" AUD "}", BPT_ECLAIM, "measurement (image digest)"},
    /* Report data: eat_nonce's first two values, 32 bytes each in hex (docs/jwt.md). */
    {"GCP report_data absent", false, NULL, NULL, 0, NULL,
     "{\"expected_report_data\":\"00\"" AUD "}", BPT_ECLAIM,
     "gcp_confidential: the token carries no report data (eat_nonce's first two values"},
    {"GCP report_data half not hex", false, NULL, NULL, 0,
     "{\"eat_nonce\":[\"1111111111111111111111111111111111111111111111111111111111111111\","
     "\"zz22222222222222222222222222222222222222222222222222222222222222\"]}",
     "{\"expected_report_data\":\"00\"" AUD "}", BPT_ECLAIM, "the token carries no report data"},
    {"GCP report_data differs", false, NULL, NULL, 0,
     "{\"eat_nonce\":[\"1111111111111111111111111111111111111111111111111111111111111111\","
     "\"2222222222222222222222222222222222222222222222222222222222222222\"]}",
     "{\"expected_report_data\":"
     "\"2222222222222222222222222222222222222222222222222222222222222222\"" AUD "}",
     BPT_ECLAIM, "gcp_confidential: report_data differs from the expected 32 bytes"},
    /* Azure claims. */
    {"Azure issuer outside the allow-list", true, NULL, NULL, 0,
     "{\"iss\":\"https://evil.attest.azure.net\"}", NULL, BPT_ECLAIM,
     "issuer 'https://evil.attest.azure.net' is not in the policy's jwt.issuers"},
    {"Azure expired", true, NULL, NULL, 0, "{\"exp\":1749990000}", NULL, BPT_ECLAIM,
     "azure_maa: expired at"},
    {"Azure wrong audience", true, NULL, NULL, 0, "{\"aud\":\"x\"}", NULL, BPT_ECLAIM,
     "azure_maa: the audience is not the expected"},
    {"Azure debug", true, NULL, NULL, 0, "{\"x-ms-sevsnpvm-is-debuggable\":true}", NULL, BPT_ECLAIM,
     "x-ms-sevsnpvm-is-debuggable is true"},
    {"Azure debug claim absent", true, NULL, NULL, 0,
     "{\"x-ms-sevsnpvm-is-debuggable\":\"<delete>\"}", NULL, BPT_EMALFORMED,
     "x-ms-sevsnpvm-is-debuggable is missing or not a boolean"},
    /* An Azure CVM binds the workload's report data in its client payload (docs/jwt.md). */
    {"Azure CVM client payload report_data not hex", true, NULL, NULL, 0,
     "{\"x-ms-attestation-type\":\"azurevm\",\"x-ms-isolation-tee\":{\"x-ms-attestation-type\":"
     "\"tdxvm\",\"tdx_td_attributes_debug\":false,\"tdx_mrtd\":\"" MEAS "\"},"
     "\"x-ms-runtime\":{\"client-payload\":{\"report_data\":\"zz\"}}}",
     NULL, BPT_EMALFORMED, "azure_maa: x-ms-runtime.client-payload.report_data is not 64 bytes"},
    {"Azure CVM client payload report_data differs", true, NULL, NULL, 0,
     "{\"x-ms-attestation-type\":\"azurevm\",\"x-ms-isolation-tee\":{\"x-ms-attestation-type\":"
     "\"tdxvm\",\"tdx_td_attributes_debug\":false,\"tdx_mrtd\":\"" MEAS "\"},"
     "\"x-ms-runtime\":{\"client-payload\":{\"report_data\":"
     "\"2222222222222222222222222222222222222222222222222222222222222222222222222222222222222222222"
     "2222222222222222222222222222222222222\"}}}",
     "{\"expected_report_data\":"
     "\"1111111111111111111111111111111111111111111111111111111111111111\"" AUD "}",
     BPT_ECLAIM, "azure_maa: report_data differs from the expected 32 bytes"},
    {"Azure TDX debug", true, NULL, NULL, 0,
     "{\"x-ms-attestation-type\":\"azurevm\",\"x-ms-isolation-tee\":{\"x-ms-attestation-type\":"
     "\"tdxvm\",\"tdx_td_attributes_debug\":true,\"tdx_mrtd\":\"" MEAS "\"}}",
     NULL, BPT_ECLAIM, "tdx_td_attributes_debug is true"},
    {"Azure measurement", true, NULL, NULL, 0, NULL,
     "{\"expected_measurement\":\"" ZERO32 ZERO16 "\"" AUD "}", BPT_ECLAIM,
     "azure_maa: measurement " MEAS " != expected"},
    /* Measurements of another algorithm or length can never match (issue 12). */
    {"Azure measurement of another length", true, NULL, NULL, 0, NULL,
     "{\"expected_measurement\":\"" ZERO32 ZERO32 "\"" AUD "}", BPT_EUNSATISFIABLE,
     "azure_maa: measurement: the policy expects a measurement of 64 bytes, and these are 48 "
     "bytes (sha384)"},
    {"GCP measurement of another algorithm", false, NULL, NULL, 0, NULL,
     "{\"expected_measurement\":\"sha384:" ZERO32 ZERO16 "\"" AUD "}", BPT_EUNSATISFIABLE,
     "gcp_confidential: measurement (image digest): the policy expects a sha384 measurement, and "
     "these are sha256 (32 bytes)"},
    {"Azure measurement not hex", true, NULL, NULL, 0,
     "{\"x-ms-sevsnpvm-launchmeasurement\":\"zz\"}", NULL, BPT_EMALFORMED,
     "x-ms-sevsnpvm-launchmeasurement is not 48 bytes of hex"},
    {"Azure report_data", true, NULL, NULL, 0, NULL, "{\"expected_report_data\":\"22\"" AUD "}",
     BPT_ECLAIM, "report_data differs"},
    {"Azure nonce", true, NULL, NULL, 0, NULL, "{\"expected_nonce\":\"other\"" AUD "}", BPT_ECLAIM,
     "the token's nonce differs from the expected nonce"},
    {"Azure no nonce", true, NULL, NULL, 0, "{\"nonce\":\"<delete>\",\"x-ms-runtime\":{}}",
     "{\"expected_nonce\":\"maa-nonce-1\"" AUD "}", BPT_ECLAIM, "the token has no nonce"},
    {"Azure image digest", true, NULL, NULL, 0, NULL,
     "{\"expected_image_digest\":\"sha256:" ZERO32 "\"" AUD "}", BPT_ECLAIM,
     "(x-ms-runtime) is not the expected"},
    {"Azure attestation type", true, NULL, NULL, 0, "{\"x-ms-attestation-type\":\"sgx\"}", NULL,
     BPT_EUNSATISFIABLE, "attestation type 'sgx' is not supported"},
};

static void test_each_check_refuses(void **state)
{
    struct fixture *f = *state;
    for (size_t i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++) {
        const struct refusal *r = &refusals[i];
        EVP_PKEY *keys[] = {f->rsa, f->ec, f->other, NULL};
        char *claims = r->azure ? maa_claims(f->srv.url, r->extra) : gcp_claims(r->extra);
        char *tok =
            token(r->alg ? r->alg : "RS256", r->kid ? r->kid : "rsa-1", keys[r->key], claims);
        bpt_policy *p = r->azure ? maa_policy(f, r->policy) : policy(f, r->policy);
        bpt_verify_ctx *c = context(NULL);
        int rc =
            verify(tok, r->azure ? BPT_PROVIDER_AZURE_SNP : BPT_PROVIDER_GCP_CONFIDENTIAL, c, p);
        if (rc != r->code || !strstr(bpt_error_last(), r->msg)) {
            fail_msg("%s: got %d (%s), want %d with '%s'", r->name, rc, bpt_error_last(), r->code,
                     r->msg);
        }
        /* Messages never carry the token or its signature. */
        if (strstr(bpt_error_last(), strrchr(tok, '.') + 1) || strstr(bpt_error_last(), "eyJ")) {
            fail_msg("%s: the message shows token bytes: %s", r->name, bpt_error_last());
        }
        bpt_verify_ctx_free(c);
        bpt_policy_free(p);
        bpt_free(tok);
        free(claims);
    }
}

static void test_leeway_debug_and_audience_rules(void **state)
{
    struct fixture *f = *state;
    char *claims = gcp_claims("{\"dbgstat\":\"enabled\"}"),
         *tok = token("RS256", "rsa-1", f->rsa, claims);
    bpt_policy *p = policy(f, "{\"allow_debug\":true}");
    bpt_verify_ctx *c = context(NULL);
    bpt_verified *v = NULL;

    /* Debug accepted when the policy allows it, and reported. */
    assert_ok(bpt_verify(&v, c, p, (const uint8_t *)tok, strlen(tok), BPT_PROVIDER_UNKNOWN));
    assert_true(bpt_claims_debug_mode(bpt_report_claims(bpt_verified_report(v))));
    bpt_verified_free(v);
    bpt_policy_free(p);
    bpt_free(tok);
    free(claims);

    /* exp 50 s before the verification time: inside the default 60 s leeway, outside 10 s. */
    claims = gcp_claims("{\"exp\":1749999950}");
    tok = token("ES256", "ec-1", f->ec, claims);
    p = policy(f, NULL);
    assert_ok(verify(tok, BPT_PROVIDER_GCP_CONFIDENTIAL, c, p));
    assert_ok(bpt_policy_set_jwt_leeway(p, 10));
    assert_rc_msg(verify(tok, BPT_PROVIDER_GCP_CONFIDENTIAL, c, p), BPT_ECLAIM, "leeway 10s");
    assert_rc_msg(bpt_policy_set_jwt_leeway(p, 301), BPT_EINVAL, "exceeds 300 s");
    bpt_policy_free(p);
    bpt_free(tok);
    free(claims);

    /* The token names an audience and the policy none: refused as unbound (issue 12; the Rust
     * crate accepted it), accepted with a warning after the opt-out; a policy audience found in
     * an array aud. */
    claims = gcp_claims("{\"aud\":[\"a\",\"bpt-test\"]}");
    tok = token("RS256", "rsa-1", f->rsa, claims);
    p = policy(f, "{\"expected_image_digest\":\"" DIGEST "\"}");
    assert_rc_msg(verify(tok, BPT_PROVIDER_GCP_CONFIDENTIAL, c, p), BPT_EUNSATISFIABLE,
                  "not bound to this relying party");
    bpt_policy_set_insecure_any_audience(p, true);
    assert_true(bpt_policy_insecure_any_audience(p));
    assert_ok(bpt_verify(&v, c, p, (const uint8_t *)tok, strlen(tok), BPT_PROVIDER_UNKNOWN));
    assert_warning(v, "insecure_any_audience: the token is not bound to this relying party");
    bpt_verified_free(v);
    bpt_policy_set_insecure_any_audience(p, false);
    assert_ok(bpt_policy_set_expected_audience(p, "bpt-test"));
    assert_ok(bpt_verify(&v, c, p, (const uint8_t *)tok, strlen(tok), BPT_PROVIDER_UNKNOWN));
    assert_warning(v, NULL); /* bound: no warning */
    bpt_verified_free(v);
    bpt_policy_free(p);
    bpt_free(tok);
    free(claims);

    /* Azure: without aud, an expected nonce or expected report data binds the token; the
     * opt-out from the policy file accepts it with neither, with a warning. */
    claims = maa_claims(f->srv.url, "{\"aud\":\"<delete>\"}");
    tok = token("RS256", "rsa-1", f->rsa, claims);
    p = maa_policy(f,
                   "{\"expected_image_digest\":\"" DIGEST "\",\"expected_nonce\":\"maa-nonce-1\"}");
    assert_ok(verify(tok, BPT_PROVIDER_AZURE_SNP, c, p));
    bpt_policy_free(p);
    p = maa_policy(f, "{\"expected_image_digest\":\"" DIGEST "\",\"expected_report_data\":\"11\"}");
    assert_rc_msg(verify(tok, BPT_PROVIDER_AZURE_SNP, c, p), BPT_ECLAIM, "report_data differs");
    bpt_policy_free(p);
    p = maa_policy(f, "{\"expected_image_digest\":\"" DIGEST "\",\"expected_report_data\":\"" RD11
                      "\"}");
    assert_ok(verify(tok, BPT_PROVIDER_AZURE_SNP, c, p));
    bpt_policy_free(p);
    p = maa_policy(f, "{\"expected_image_digest\":\"" DIGEST "\",\"insecure_any_audience\":true}");
    assert_ok(bpt_verify(&v, c, p, (const uint8_t *)tok, strlen(tok), BPT_PROVIDER_AZURE_SNP));
    assert_warning(v, "insecure_any_audience");
    bpt_verified_free(v);
    bpt_policy_free(p);
    bpt_free(tok);
    free(claims);

    /* max_age 0 (not enforced): no iat needed. */
    claims = gcp_claims("{\"iat\":\"<delete>\"}");
    tok = token("RS256", "rsa-1", f->rsa, claims);
    p = policy(f, "{\"max_age_secs\":0}");
    assert_ok(verify(tok, BPT_PROVIDER_GCP_CONFIDENTIAL, c, p));
    bpt_verify_ctx_free(c);
    bpt_policy_free(p);
    bpt_free(tok);
    free(claims);
}

static void test_malformed_tokens(void **state)
{
    struct fixture *f = *state;
    bpt_policy *p = policy(f, NULL);
    bpt_verify_ctx *c = context(NULL);
    char long_kid[400], *tok;
    static const char *const cases[][2] = {
        {"abc.def", "expected three non-empty segments"},
        {"a.b.c.d", "expected three non-empty segments"},
        {"..sig", "expected three non-empty segments"},
        {"eyJhbGciOiJSUzI1NiJ9.e30.", "expected three non-empty segments"},
        {"eyJhbGciOiJSUzI1NiJ9.e30.c2ln%", "byte 29 is not base64url"},
        {"eyJhbGciOiJSUzI1NiJ9.e30.c2l=", "byte 28 is not base64url"},
        {"e.e30.c2ln", "the header is not base64url"},
        {"bm90IGpzb24.e30.c2ln", "the header is not a JSON object"},
        {"WzFd.e30.c2ln", "the header is not a JSON object"},
        {"eyJraWQiOiJ4In0.e30.c2ln", "the header has no alg"},
        {"eyJhbGciOiJSUzI1NiIsImtpZCI6InJzYS0xIn0.WzFd.c2ln", "the payload is not a JSON object"},
        {"eyJhbGciOiJSUzI1NiIsImtpZCI6InJzYS0xIn0.e30.c", "the signature is not base64url"},
        {"eyJhbGciOiJSUzI1NiJ9.e30.c2ln", "the header has no usable kid"},
        {"eyJhbGciOiJSUzI1NiIsImtpZCI6IiJ9.e30.c2ln", "the header has no usable kid"},
        {"eyJhbGciOiJSUzI1NiIsImtpZCI6InJzYS0xIiwiY3JpdCI6WyJ4Il19.e30.c2ln", "crit"},
        /* {"alg":"RS256","kid":"a","kid":"b"}: duplicate keys */
        {"eyJhbGciOiJSUzI1NiIsImtpZCI6ImEiLCJraWQiOiJiIn0.e30.c2ln",
         "the header is not a JSON object"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bpt_verified *v = NULL;
        int rc = bpt_gcp_confidential_verify(&v, c, p, (const uint8_t *)cases[i][0],
                                             strlen(cases[i][0]));
        if (rc != BPT_EMALFORMED || !strstr(bpt_error_last(), cases[i][1])) {
            fail_msg("%s: got %d (%s), want '%s'", cases[i][0], rc, bpt_error_last(), cases[i][1]);
        }
        assert_null(v);
    }
    /* A kid past 255 bytes, an ES256 signature of the wrong length, an oversized token. */
    memset(long_kid, 'k', sizeof(long_kid) - 1);
    long_kid[sizeof(long_kid) - 1] = '\0';
    tok = token("RS256", long_kid, f->rsa, "{}");
    assert_rc_msg(verify(tok, BPT_PROVIDER_GCP_CONFIDENTIAL, c, p), BPT_EMALFORMED,
                  "no usable kid");
    bpt_free(tok);
    {
        char *claims = gcp_claims(NULL), *es = token("ES256", "ec-1", f->ec, claims), *cut;
        char zeros[81];
        memset(zeros, 'A', 80); /* 60 zero bytes */
        zeros[80] = '\0';
        assert_true(asprintf(&cut, "%.*s%s", (int)(strrchr(es, '.') + 1 - es), es, zeros) > 0);
        assert_rc_msg(verify(cut, BPT_PROVIDER_GCP_CONFIDENTIAL, c, p), BPT_ESIGNATURE,
                      "the ES256 signature is 60 bytes, not 64");
        free(cut);
        bpt_free(es);
        free(claims);
    }
    {
        size_t n = 64 * 1024 + 1;
        char *big = malloc(n + 1);
        memset(big, 'a', n);
        big[10] = '.';
        big[20] = '.';
        big[n] = '\0';
        bpt_verified *v = NULL;
        assert_rc_msg(bpt_gcp_confidential_verify(&v, c, p, (const uint8_t *)big, n),
                      BPT_EMALFORMED, "a token of 65537 bytes");
        assert_rc_msg(bpt_verify(&v, c, p, (const uint8_t *)big, n, BPT_PROVIDER_GCP_CONFIDENTIAL),
                      BPT_EMALFORMED, "not gcp_confidential evidence");
        assert_null(v);
        free(big);
    }
    bpt_verify_ctx_free(c);
    bpt_policy_free(p);
}

static void test_jwks_sources_and_refusals(void **state)
{
    struct fixture *f = *state;
    char *claims = gcp_claims(NULL), *tok = token("ES256", "ec-1", f->ec, claims);
    char *dir = bpt_test_tmpdir(), path[4096], json[4300];
    bpt_verify_ctx *c;
    bpt_policy *p;

    /* Offline with only a URL: fails closed (keys); from the context's JWKS text it verifies
     * without the server. */
    p = policy(f, NULL);
    c = offline_context(true);
    assert_rc_msg(verify(tok, BPT_PROVIDER_GCP_CONFIDENTIAL, c, p), BPT_EKEYS,
                  "the context is offline (no fetching); give the context a JWKS document");
    assert_null(strstr(bpt_error_last(), "--")); /* no CLI words in the library (issue 12) */
    bpt_verify_ctx_free(c);
    c = offline_context(true);
    assert_ok(bpt_verify_ctx_set_jwks_json(c, f->jwks, strlen(f->jwks)));
    atomic_store(&f->srv.hits, 0);
    assert_ok(verify(tok, BPT_PROVIDER_GCP_CONFIDENTIAL, c, p));
    assert_int_equal(atomic_load(&f->srv.hits), 0);
    bpt_verify_ctx_free(c);
    bpt_policy_free(p);

    /* From a file named in the policy (jwt.jwks_file), offline. */
    snprintf(path, sizeof(path), "%s/jwks.json", dir);
    bpt_test_write_file(path, f->jwks, strlen(f->jwks));
    snprintf(json, sizeof(json), "{\"jwt\":{\"jwks_file\":\"%s\"}" AUD "}", path);
    p = policy(f, json);
    c = offline_context(true);
    assert_ok(verify(tok, BPT_PROVIDER_GCP_CONFIDENTIAL, c, p));
    bpt_verify_ctx_free(c);
    bpt_policy_free(p);
    snprintf(json, sizeof(json), "{\"jwt\":{\"jwks_file\":\"%s/none.json\"}" AUD "}", dir);
    p = policy(f, json);
    c = offline_context(false);
    assert_rc_msg(verify(tok, BPT_PROVIDER_GCP_CONFIDENTIAL, c, p), BPT_EKEYS, "jwks_file");
    bpt_verify_ctx_free(c);
    bpt_policy_free(p);

    /* A 1024-bit RSA key is unusable (a token naming it is told why) while the set's other
     * keys still work; a duplicate kid refuses the set; a JWK alg other than the token's. */
    {
        EVP_PKEY *small = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
        char *a = NULL, *b = NULL, *bad = NULL, *first = NULL, *rs;
        assert_ok(bpt_sim_jwk(&a, small, "rsa-1"));
        assert_ok(bpt_sim_jwk(&b, f->ec, "ec-1"));
        assert_true(asprintf(&first, "{\"keys\":[%s,%s]}", a, b) > 0);
        p = policy(f, NULL);
        c = jwks_context(first);
        rs = token("RS256", "rsa-1", f->rsa, claims);
        assert_rc_msg(
            verify(rs, BPT_PROVIDER_GCP_CONFIDENTIAL, c, p), BPT_EKEYS,
            "kid 'rsa-1' in the given JWKS is unusable: verify context: jwks: keys[0]: RSA key "
            "of 1024 bits");
        assert_ok(verify(tok, BPT_PROVIDER_GCP_CONFIDENTIAL, c, p));
        bpt_verify_ctx_free(c);
        assert_true(asprintf(&bad, "{\"keys\":[%s,%s]}", b, b) > 0);
        /* A set is parsed when the context takes it: a bad one is refused there, and the
         * context keeps its previous set. */
        c = jwks_context(first);
        assert_rc_msg(bpt_verify_ctx_set_jwks_json(c, bad, strlen(bad)), BPT_EMALFORMED,
                      "kid 'ec-1' appears twice");
        assert_ok(verify(tok, BPT_PROVIDER_GCP_CONFIDENTIAL, c, p));
        bpt_verify_ctx_free(c);
        free(bad);
        bad = strdup(b);
        bad[strlen(bad) - 1] = '\0';
        {
            char *withalg = NULL;
            assert_true(asprintf(&withalg, "{\"keys\":[%s,\"alg\":\"ES384\"}]}", bad) > 0);
            c = jwks_context(withalg);
            assert_rc_msg(verify(tok, BPT_PROVIDER_GCP_CONFIDENTIAL, c, p), BPT_ESIGNATURE,
                          "the key with kid 'ec-1' is for ES384, the token says ES256");
            bpt_verify_ctx_free(c);
            free(withalg);
        }
        /* Encryption keys, keys without kid and other key types are passed over. */
        {
            char *mixed = NULL;
            assert_true(asprintf(&mixed,
                                 "{\"keys\":[{\"kty\":\"OKP\",\"kid\":\"ed\",\"crv\":\"Ed25519\","
                                 "\"x\":\"AA\"},{\"kty\":\"RSA\",\"use\":\"enc\",\"kid\":\"e\"},"
                                 "{\"kty\":\"EC\"},%s]}",
                                 b) > 0);
            c = jwks_context(mixed);
            assert_ok(verify(tok, BPT_PROVIDER_GCP_CONFIDENTIAL, c, p));
            bpt_verify_ctx_free(c);
            free(mixed);
        }
        /* A point off the curve is unusable. */
        {
            static const char off[] =
                "{\"keys\":[{\"kty\":\"EC\",\"kid\":\"ec-1\",\"crv\":\"P-256\","
                "\"x\":\"AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE\","
                "\"y\":\"AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE\"}]}";
            c = jwks_context(off);
            assert_rc_msg(verify(tok, BPT_PROVIDER_GCP_CONFIDENTIAL, c, p), BPT_EKEYS,
                          "is unusable: verify context: jwks: keys[0]: not a P-256 public key");
            bpt_verify_ctx_free(c);
        }
        c = context(NULL);
        assert_rc_msg(bpt_verify_ctx_set_jwks_json(c, "{\"keys\":{}}", 11), BPT_EMALFORMED,
                      "verify context: jwks: not a JWK set");
        bpt_verify_ctx_free(c);
        free(bad);
        free(first);
        bpt_free(a);
        bpt_free(b);
        bpt_free(rs);
        EVP_PKEY_free(small);
        bpt_policy_free(p);
    }

    /* Azure with neither an issuer allow-list nor a JWKS: unsatisfiable; with the caller's
     * JWKS URL and no issuer list, the keys decide. */
    free(claims);
    claims = maa_claims(f->srv.url, NULL);
    bpt_free(tok);
    tok = token("RS256", "rsa-1", f->rsa, claims);
    assert_ok(bpt_policy_new(&p));
    c = context(NULL);
    assert_ok(bpt_policy_set_expected_audience(p, "bpt-test"));
    assert_rc_msg(verify(tok, BPT_PROVIDER_AZURE_SNP, c, p), BPT_EUNSATISFIABLE,
                  "name the MAA instance in jwt.issuers");
    snprintf(json, sizeof(json), "%s/certs", f->srv.url);
    assert_ok(bpt_policy_set_jwks_url(p, json));
    assert_ok(verify(tok, BPT_PROVIDER_AZURE_SNP, c, p));
    assert_rc_msg(bpt_policy_set_jwks_url(p, "http://example.com/jwks"), BPT_EINVAL,
                  "https, or http to a loopback address");
    bpt_verify_ctx_free(c);
    bpt_policy_free(p);

    /* Policy JSON: the jwt block round-trips and refuses what it cannot hold. */
    {
        static const char good[] = "{\"jwt\":{\"issuers\":[\"https://a.attest.azure.net\"],"
                                   "\"jwks_url\":\"https://a.attest.azure.net/certs\","
                                   "\"leeway_secs\":30}}";
        char *out = NULL;
        assert_ok(bpt_policy_load_json(&p, good, strlen(good)));
        assert_ok(bpt_policy_to_json(&out, p));
        assert_non_null(strstr(out, "\"leeway_secs\":30"));
        assert_non_null(strstr(out, "\"issuers\":[\"https://a.attest.azure.net\"]"));
        bpt_free(out);
        bpt_policy_free(p);
        static const char *const bad[][2] = {
            {"{\"jwt\":{\"leeway_secs\":301}}", "exceeds 300 s"},
            {"{\"jwt\":{\"jwks_url\":\"ftp://x\"}}", "jwks_url 'ftp://x' refused"},
            {"{\"jwt\":{\"issuers\":[\"\"]}}", "issuers[0]"},
            {"{\"jwt\":{\"issuer\":[\"x\"]}}", "issuer"},
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
            assert_rc_msg(bpt_policy_load_json(&p, bad[i][0], strlen(bad[i][0])), BPT_EINVAL,
                          bad[i][1]);
            assert_null(p);
        }
    }
    bpt_test_rmtree(dir);
    free(dir);
    bpt_free(tok);
    free(claims);
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void test_jwks_server_refusals(void **state)
{
    struct fixture *f = *state;
    char *claims = gcp_claims(NULL), *tok = token("RS256", "rsa-1", f->rsa, claims);
    bpt_verify_ctx_opts o = BPT_VERIFY_CTX_OPTS_INIT;
    bpt_verify_ctx *c = context(NULL);
    bpt_policy *p = policy(f, NULL);
    int64_t t0;

    atomic_store(&f->srv.mode, OVERSIZED);
    assert_rc_msg(verify(tok, BPT_PROVIDER_GCP_CONFIDENTIAL, c, p), BPT_EFETCH,
                  "larger than 262144 bytes");
    atomic_store(&f->srv.mode, FAIL_500);
    assert_rc_msg(verify(tok, BPT_PROVIDER_GCP_CONFIDENTIAL, c, p), BPT_EFETCH,
                  "answered HTTP 500");
    atomic_store(&f->srv.mode, NOT_JSON);
    assert_rc_msg(verify(tok, BPT_PROVIDER_GCP_CONFIDENTIAL, c, p), BPT_EMALFORMED,
                  "not a JWK set");
    atomic_store(&f->srv.mode, NORMAL);
    bpt_verify_ctx_free(c);

    /* A server that never answers: the JWKS cache's time-out (1 s) ends the wait. */
    o.jwks_timeout_ms = 1000;
    c = context(&o);
    assert_ok(bpt_policy_set_jwks_url(p, f->hang_url));
    t0 = mono_ms();
    assert_rc_msg(verify(tok, BPT_PROVIDER_GCP_CONFIDENTIAL, c, p), BPT_EFETCH, "imeout");
    assert_true(mono_ms() - t0 < 10000);
    bpt_policy_free(p);
    bpt_verify_ctx_free(c);
    c = NULL;
    o.jwks_timeout_ms = -1;
    assert_rc_msg(bpt_verify_ctx_new(&c, &o), BPT_EINVAL, "timeout_ms");
    assert_null(c);
    o.jwks_timeout_ms = 0;
    o.version = 99;
    assert_rc_msg(bpt_verify_ctx_new(&c, &o), BPT_EINVAL, "BPT_VERIFY_CTX_OPTS_INIT");
    assert_null(c);
    bpt_verify_ctx_free(NULL);
    bpt_free(tok);
    free(claims);
}

static void test_jwks_cache_max_age_and_refetch(void **state)
{
    struct fixture *f = *state;
    int64_t now = 1000000;
    bpt_clock clk = bpt_clock_fixed(&now);
    bpt_verify_ctx_opts o = BPT_VERIFY_CTX_OPTS_INIT;
    bpt_verify_ctx *c = NULL;
    char *claims = gcp_claims(NULL), *rs = token("RS256", "rsa-1", f->rsa, claims);
    char *es2 = token("ES256", "ec-2", f->ec, claims), *jwk = NULL, *more = NULL;
    char url[96];
    uint64_t fetches = 0, hits = 0;
    EVP_PKEY *key = NULL;
    bpt_policy *p;

    o.jwks_clock = &clk;
    c = context(&o);
    p = policy(f, NULL);
    snprintf(url, sizeof(url), "%s/jwks", f->srv.url);
    set_jwks(&f->srv, f->jwks, "public, max-age=100, must-revalidate");
    assert_ok(verify(rs, BPT_PROVIDER_GCP_CONFIDENTIAL, c, p));
    assert_ok(verify(rs, BPT_PROVIDER_GCP_CONFIDENTIAL, c, p));
    assert_int_equal(atomic_load(&f->srv.hits), 1);
    now += 99; /* still fresh */
    assert_ok(verify(rs, BPT_PROVIDER_GCP_CONFIDENTIAL, c, p));
    assert_int_equal(atomic_load(&f->srv.hits), 1);
    now += 2; /* max-age passed */
    assert_ok(verify(rs, BPT_PROVIDER_GCP_CONFIDENTIAL, c, p));
    assert_int_equal(atomic_load(&f->srv.hits), 2);

    /* A rotated-in key: unknown at first, refetched only once the minute has passed. */
    assert_ok(bpt_sim_jwk(&jwk, f->ec, "ec-2"));
    assert_true(asprintf(&more, "{\"keys\":[%s]}", jwk) > 0);
    set_jwks(&f->srv, more, "max-age=3600");
    assert_rc_msg(verify(es2, BPT_PROVIDER_GCP_CONFIDENTIAL, c, p), BPT_EKEYS,
                  "no key with kid 'ec-2'");
    assert_rc_msg(verify(es2, BPT_PROVIDER_GCP_CONFIDENTIAL, c, p), BPT_EKEYS,
                  "refetched at most every 60s");
    assert_int_equal(atomic_load(&f->srv.hits), 0);
    now += 59;
    assert_rc_msg(verify(es2, BPT_PROVIDER_GCP_CONFIDENTIAL, c, p), BPT_EKEYS, "fetched 59s ago");
    assert_int_equal(atomic_load(&f->srv.hits), 0);
    now += 1;
    assert_ok(verify(es2, BPT_PROVIDER_GCP_CONFIDENTIAL, c, p));
    assert_int_equal(atomic_load(&f->srv.hits), 1);
    assert_rc_msg(verify(rs, BPT_PROVIDER_GCP_CONFIDENTIAL, c, p), BPT_EKEYS, "rsa-1");
    assert_int_equal(atomic_load(&f->srv.hits), 1); /* rotated out, and no refetch storm */

    /* Offline: the fresh cached set still answers; nothing is fetched. A context's offline
     * setting is fixed once it verifies, so the context's cache is asked directly, as an
     * offline verification through it asks. */
    assert_ok(
        bpt_jwks_cache_key(&key, c->jwks_cache, url, "ec-2", "ES256", false, "gcp_confidential"));
    EVP_PKEY_free(key);
    key = NULL;
    now += 120;
    assert_rc_msg(
        bpt_jwks_cache_key(&key, c->jwks_cache, url, "rsa-1", "RS256", false, "gcp_confidential"),
        BPT_EKEYS, "the cached JWKS has no key for kid 'rsa-1'");
    assert_null(key);
    assert_int_equal(atomic_load(&f->srv.hits), 1);

    /* no-store: nothing is kept. */
    set_jwks(&f->srv, f->jwks, "no-store");
    now += 7200;
    assert_ok(verify(rs, BPT_PROVIDER_GCP_CONFIDENTIAL, c, p));
    assert_ok(verify(rs, BPT_PROVIDER_GCP_CONFIDENTIAL, c, p));
    assert_int_equal(atomic_load(&f->srv.hits), 2);
    bpt_verify_ctx_cache_stats(c, BPT_CACHE_JWKS, &hits, &fetches);
    assert_int_equal(fetches, 5);
    assert_int_equal(hits, 3);

    /* A failing server is asked again only after the refetch interval. */
    now += 7200;
    set_jwks(&f->srv, f->jwks, NULL);
    atomic_store(&f->srv.mode, FAIL_500);
    assert_rc_msg(verify(rs, BPT_PROVIDER_GCP_CONFIDENTIAL, c, p), BPT_EFETCH, "answered HTTP 500");
    atomic_store(&f->srv.mode, NORMAL);
    assert_rc_msg(verify(rs, BPT_PROVIDER_GCP_CONFIDENTIAL, c, p), BPT_EFETCH,
                  "the last fetch failed 0s ago");
    assert_int_equal(atomic_load(&f->srv.hits), 1);
    now += 60;
    assert_ok(verify(rs, BPT_PROVIDER_GCP_CONFIDENTIAL, c, p));
    assert_int_equal(atomic_load(&f->srv.hits), 2);

    /* No Cache-Control: the default TTL (300 s). */
    now += 299;
    assert_ok(verify(rs, BPT_PROVIDER_GCP_CONFIDENTIAL, c, p));
    assert_int_equal(atomic_load(&f->srv.hits), 2);
    now += 1;
    assert_ok(verify(rs, BPT_PROVIDER_GCP_CONFIDENTIAL, c, p));
    assert_int_equal(atomic_load(&f->srv.hits), 3);

    /* An empty cache offline: nothing to answer with. */
    bpt_verify_ctx_free(c);
    c = context(&o);
    assert_ok(bpt_verify_ctx_set_offline(c, true));
    assert_rc_msg(verify(rs, BPT_PROVIDER_GCP_CONFIDENTIAL, c, p), BPT_EKEYS, "no cached JWKS");
    bpt_verify_ctx_free(c);
    bpt_policy_free(p);
    free(more);
    bpt_free(jwk);
    bpt_free(rs);
    bpt_free(es2);
    free(claims);
}

struct worker {
    const char *tok;
    const bpt_verify_ctx *c;
    const bpt_policy *p;
    int failures;
};

static void *verify_many(void *arg)
{
    struct worker *w = arg;
    for (int i = 0; i < 40; i++) {
        bpt_verified *v = NULL;
        if (bpt_verify(&v, w->c, w->p, (const uint8_t *)w->tok, strlen(w->tok),
                       BPT_PROVIDER_UNKNOWN)) {
            w->failures++;
        }
        bpt_verified_free(v);
    }
    return NULL;
}

/* Threads share one policy and one context (with its JWKS cache): one fetch serves them all. */
static void test_threads_share_policy_and_context(void **state)
{
    struct fixture *f = *state;
    bpt_verify_ctx_opts o = BPT_VERIFY_CTX_OPTS_INIT;
    char *claims = gcp_claims(NULL), *rs = token("RS256", "rsa-1", f->rsa, claims),
         *es = token("ES256", "ec-1", f->ec, claims);
    pthread_t th[4];
    struct worker w[4];
    uint64_t fetches = 0, hits = 0;
    bpt_verify_ctx *c;
    bpt_policy *p;

    set_jwks(&f->srv, f->jwks, "max-age=3600");
    c = context(&o);
    p = policy(f, NULL);
    for (int i = 0; i < 4; i++) {
        w[i] = (struct worker){i % 2 ? rs : es, c, p, 0};
        assert_int_equal(pthread_create(&th[i], NULL, verify_many, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].failures, 0);
    }
    bpt_verify_ctx_cache_stats(c, BPT_CACHE_JWKS, &hits, &fetches);
    assert_int_equal(fetches, 1);
    assert_int_equal(hits, 159);
    assert_int_equal(atomic_load(&f->srv.hits), 1);
    set_jwks(&f->srv, f->jwks, NULL);
    bpt_policy_free(p);
    bpt_verify_ctx_free(c);
    bpt_free(rs);
    bpt_free(es);
    free(claims);
}

static void test_cli_verifies_tokens_with_a_jwks_file(void **state)
{
    struct fixture *f = *state;
    char *dir = bpt_test_tmpdir(), jwks[4096], tokf[4096], maaf[4096], *out = NULL;
    char *claims = gcp_claims(NULL), *tok = token("RS256", "rsa-1", f->rsa, claims);
    char *mclaims = maa_claims(f->srv.url, NULL), *mtok = token("ES256", "ec-1", f->ec, mclaims);
    char at[32];

    snprintf(at, sizeof(at), "%d", AT);
    snprintf(jwks, sizeof(jwks), "%s/jwks.json", dir);
    snprintf(tokf, sizeof(tokf), "%s/gcp.jwt", dir);
    snprintf(maaf, sizeof(maaf), "%s/maa.jwt", dir);
    bpt_test_write_file(jwks, f->jwks, strlen(f->jwks));
    bpt_test_write_file(tokf, tok, strlen(tok));
    bpt_test_write_file(maaf, mtok, strlen(mtok));
    {
        const char *argv[] = {"verify",
                              "--jwks",
                              jwks,
                              "--expect-audience",
                              "bpt-test",
                              "--at",
                              at,
                              "--expect-image-digest",
                              DIGEST,
                              "--expect-nonce",
                              "nonce-0123456789",
                              "--json",
                              tokf,
                              NULL};
        assert_int_equal(bpt_test_run_cli(&out, argv), 0);
        assert_non_null(strstr(out, "\"verified\":true"));
        assert_non_null(strstr(out, "\"provider\":\"gcp_confidential\""));
        free(out);
    }
    {
        const char *argv[] = {"verify",
                              "--jwks",
                              jwks,
                              "--at",
                              at,
                              "--expect-audience",
                              "bpt-test",
                              "--expect-image-digest",
                              "sha256:" ZERO32,
                              "--json",
                              tokf,
                              NULL};
        assert_int_equal(bpt_test_run_cli(&out, argv), 1);
        assert_non_null(strstr(out, "\"kind\":\"claim\""));
        free(out);
    }
    {
        const char *argv[] = {"verify",   "--offline", "--at", at,  "--expect-audience",
                              "bpt-test", "--json",    tokf,   NULL};
        assert_int_equal(bpt_test_run_cli(&out, argv), 1);
        assert_non_null(strstr(out, "\"kind\":\"keys\""));
        free(out);
    }
    {
        const char *argv[] = {"verify",    "--provider",
                              "azure-maa", "--issuer",
                              f->srv.url,  "--expect-audience",
                              "bpt-test",  "--expect-measurement",
                              MEAS,        "--at",
                              at,          "--json",
                              maaf,        NULL};
        assert_int_equal(bpt_test_run_cli(&out, argv), 0);
        assert_non_null(strstr(out, "\"provider\":\"azure_snp\""));
        free(out);
    }
    {
        const char *argv[] = {"verify", "--at", at, "--json", maaf, NULL};
        assert_int_equal(bpt_test_run_cli(&out, argv), 1);
        assert_non_null(strstr(out, "\"kind\":\"unsatisfiable\""));
        free(out);
    }
    {
        /* Bound to no relying party (issue 12): refused, naming the flags that bind it; with
         * --insecure-any-audience accepted, with a warning in text and JSON. */
        char *err = NULL;
        const char *argv[] = {"verify", "--jwks", jwks, "--at", at, "--json", tokf, NULL};
        assert_int_equal(bpt_test_run_cli(&out, argv), 1);
        assert_non_null(strstr(out, "\"kind\":\"unsatisfiable\""));
        assert_non_null(strstr(out, "not bound to this relying party"));
        assert_non_null(strstr(out, "--expect-audience S binds the token; "
                                    "--insecure-any-audience accepts it unbound"));
        free(out);
        const char *optout[] = {"verify", "--jwks", jwks, "--at", at, "--insecure-any-audience",
                                tokf,     NULL};
        assert_int_equal(bpt_test_run_cli_err(&out, &err, optout), 0);
        assert_non_null(strstr(out, "verified: gcp_confidential"));
        assert_non_null(strstr(out, "warning:     insecure_any_audience: the token is not bound"));
        free(out);
        free(err);
        const char *optout_json[] = {
            "verify", "--jwks", jwks, "--at", at, "--insecure-any-audience", "--json", tokf, NULL};
        assert_int_equal(bpt_test_run_cli(&out, optout_json), 0);
        assert_non_null(strstr(out, "\"warnings\":[\"insecure_any_audience:"));
        free(out);
        /* Azure without aud: an expected nonce binds it. */
        char *nclaims = maa_claims(f->srv.url, "{\"aud\":\"<delete>\"}");
        char *ntok = token("ES256", "ec-1", f->ec, nclaims), nf[4200];
        snprintf(nf, sizeof(nf), "%s/maa-noaud.jwt", dir);
        bpt_test_write_file(nf, ntok, strlen(ntok));
        const char *noaud[] = {"verify", "--issuer", f->srv.url, "--at", at, "--json", nf, NULL};
        assert_int_equal(bpt_test_run_cli(&out, noaud), 1);
        assert_non_null(strstr(out, "--expect-nonce S or --expect-report-data HEX"));
        free(out);
        const char *nonce[] = {"verify",         "--issuer",    f->srv.url, "--at", at,
                               "--expect-nonce", "maa-nonce-1", nf,         NULL};
        assert_int_equal(bpt_test_run_cli(NULL, nonce), 0);
        bpt_free(ntok);
        free(nclaims);
    }
    {
        const char *argv[] = {"verify", "--help", NULL};
        assert_int_equal(bpt_test_run_cli(&out, argv), 0);
        assert_non_null(strstr(out, "--expect-audience"));
        assert_non_null(strstr(out, "--insecure-any-audience"));
        assert_non_null(strstr(out, "--jwks-url"));
        assert_non_null(strstr(out, "--issuer"));
        free(out);
    }
    bpt_test_rmtree(dir);
    free(dir);
    bpt_free(tok);
    bpt_free(mtok);
    free(claims);
    free(mclaims);
}

/* ---- fuzz seeds: JWKS, a NUL, then the token (see fuzz/fuzz_jwt.c) ------------------------ */

#define FUZZ_AT 1704067200 /* BPT_FUZZ_AT */

static void write_seed(const char *dir, const char *name, const char *jwks, const char *tok)
{
    char path[4096];
    size_t a = jwks ? strlen(jwks) + 1 : 0, b = tok ? strlen(tok) : 0;
    char *buf = malloc(a + b + 1);
    if (jwks) {
        memcpy(buf, jwks, a); /* with its NUL */
    }
    if (tok) {
        memcpy(buf + a, tok, b);
    }
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    bpt_test_write_file(path, buf, a + b);
    free(buf);
}

static void write_fuzz_seeds(struct fixture *f, const char *dir)
{
    char *jwk = NULL, *x5c = NULL;
    char *gcp = gcp_claims_at(FUZZ_AT, NULL);
    char *gcp_arr = gcp_claims_at(FUZZ_AT, "{\"eat_nonce\":[\"nonce-aaaaaaaaaa\",\"n2\"]}");
    char *maa = maa_claims_at(FUZZ_AT, "https://maa.example.attest.azure.net", NULL);
    char *t1 = token("RS256", "rsa-1", f->rsa, gcp), *t2 = token("ES256", "ec-1", f->ec, gcp_arr),
         *t3 = token("ES384", "ec384-1", f->ec384, maa), *t4 = token("PS256", "maa-1", f->rsa, maa);
    assert_ok(bpt_sim_jwk_x5c(&jwk, f->maa_cert, "maa-1"));
    assert_true(asprintf(&x5c, "{\"keys\":[%s]}", jwk) > 0);
    write_seed(dir, "gcp_rs256", f->jwks, t1);
    write_seed(dir, "gcp_es256_nonce_array", f->jwks, t2);
    write_seed(dir, "maa_es384", f->jwks, t3);
    write_seed(dir, "maa_ps256_x5c", x5c, t4);
    write_seed(dir, "token_only", NULL, t1);
    write_seed(dir, "jwks_only", f->jwks, NULL);
    free(x5c);
    bpt_free(jwk);
    bpt_free(t1);
    bpt_free(t2);
    bpt_free(t3);
    bpt_free(t4);
    free(gcp);
    free(gcp_arr);
    free(maa);
}

static void test_write_fuzz_seeds(void **state)
{
    const char *dir = getenv("BPT_JWT_SEED_DIR");
    if (!dir) {
        skip();
    }
    write_fuzz_seeds(*state, dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gcp_token_verifies_and_maps_claims),
        cmocka_unit_test(test_every_accepted_alg_verifies),
        cmocka_unit_test(test_parsed_tokens_kept_by_their_bytes),
        cmocka_unit_test(test_azure_tokens_verify_with_keys_from_the_issuer),
        cmocka_unit_test(test_azure_keys_published_as_x5c),
        cmocka_unit_test(test_each_check_refuses),
        cmocka_unit_test(test_leeway_debug_and_audience_rules),
        cmocka_unit_test(test_malformed_tokens),
        cmocka_unit_test(test_jwks_sources_and_refusals),
        cmocka_unit_test(test_jwks_server_refusals),
        cmocka_unit_test(test_jwks_cache_max_age_and_refetch),
        cmocka_unit_test(test_threads_share_policy_and_context),
        cmocka_unit_test(test_cli_verifies_tokens_with_a_jwks_file),
    };
    if (getenv("BPT_JWT_SEED_DIR")) {
        const struct CMUnitTest seeds[] = {cmocka_unit_test(test_write_fuzz_seeds)};
        return cmocka_run_group_tests(seeds, setup, teardown);
    }
    return cmocka_run_group_tests(tests, setup, teardown);
}
