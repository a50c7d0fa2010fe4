/* bpt-test-labels: unit loopback */
/*
 * Azure MAA and GCP Confidential Space tokens signed here with RSA and EC keys, their JWKS
 * served by a libmicrohttpd server on 127.0.0.1: each check of docs/jwt.md is made to fail on
 * its own, and the JWKS cache's max-age, unknown-kid refetch, size cap and time-out.
 */
#include "helpers/test.h"

#include "attester/sim_jwt.h"
#include "attester/sim_x509.h"

#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#define AT 1750000000
#define GCP "https://confidentialcomputing.googleapis.com"
#define DIGEST "sha256:5d6a4ae7b3b5f8a04a7ef9bbd6e9d3c1a5bca8a1c3d2ef0b1a2b3c4d5e6f7a8b"
#define MEAS                                                                                       \
    "aabbccddeeff00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff0011223344556677" \
    "8899"

enum { NORMAL, OVERSIZED, FAIL_500 };

struct server {
    struct MHD_Daemon *d;
    char url[64];
    char jwks[8192];
    char cache_control[64];
    atomic_int hits, mode;
};

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_len, void **con_cls)
{
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
    if (atomic_load(&s->mode) == OVERSIZED) {
        static char big[300 * 1024];
        memset(big, ' ', sizeof(big));
        resp = MHD_create_response_from_buffer(sizeof(big), big, MHD_RESPMEM_PERSISTENT);
    } else if (atomic_load(&s->mode) == FAIL_500) {
        resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
        status = 500;
    } else {
        resp = MHD_create_response_from_buffer(strlen(s->jwks), s->jwks, MHD_RESPMEM_MUST_COPY);
        if (s->cache_control[0]) {
            MHD_add_response_header(resp, "Cache-Control", s->cache_control);
        }
    }
    r = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return r;
}

struct fixture {
    struct server srv;
    EVP_PKEY *rsa, *ec, *other;
    char *jwks; /* rsa-1 and ec-1 */
    int hang_fd;
    char hang_url[64];
};

static void set_jwks(struct server *s, const char *jwks, const char *cc)
{
    snprintf(s->jwks, sizeof(s->jwks), "%s", jwks);
    snprintf(s->cache_control, sizeof(s->cache_control), "%s", cc ? cc : "");
    atomic_store(&s->mode, NORMAL);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    char *a = NULL, *b = NULL;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof(sa);
    const union MHD_DaemonInfo *info;
    if (bpt_sim_keygen(&f->rsa, "rsa") || bpt_sim_keygen(&f->ec, "P-256") ||
        bpt_sim_keygen(&f->other, "rsa") || bpt_sim_jwk(&a, f->rsa, "rsa-1") ||
        bpt_sim_jwk(&b, f->ec, "ec-1") || asprintf(&f->jwks, "{\"keys\":[%s,%s]}", a, b) < 0) {
        return -1;
    }
    bpt_free(a);
    bpt_free(b);
    set_jwks(&f->srv, f->jwks, NULL);
    f->srv.d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, handle, &f->srv,
                                MHD_OPTION_END);
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
    close(f->hang_fd);
    EVP_PKEY_free(f->rsa);
    EVP_PKEY_free(f->ec);
    EVP_PKEY_free(f->other);
    free(f->jwks);
    free(f);
    return 0;
}

/* A token: header {"alg","kid","typ"} over @p claims, signed with @p key (NULL: unsigned). */
static char *token(const char *alg, const char *kid, EVP_PKEY *key, const char *claims)
{
    char hdr[256], *out = NULL;
    snprintf(hdr, sizeof(hdr), "{\"alg\":\"%s\",\"kid\":\"%s\",\"typ\":\"JWT\"}", alg, kid);
    assert_ok(bpt_sim_jwt_make(&out, hdr, claims, key));
    return out;
}

/* GCP claims with @p extra JSON members spliced in first (later duplicates are not allowed,
 * so the base leaves out what a case overrides via @p skip). */
static char *gcp_claims(const char *extra)
{
    char *out = NULL;
    json_t *base = json_pack(
        "{s:s,s:s,s:I,s:I,s:I,s:s,s:s,s:s,s:[s],s:s,s:b,s:{s:{s:s,s:s,s:s}}}", "iss", GCP, "aud",
        "bpt-test", "iat", (json_int_t)AT - 10, "nbf", (json_int_t)AT - 10, "exp",
        (json_int_t)AT + 3600, "eat_nonce", "nonce-0123456789", "dbgstat", "disabled-since-boot",
        "swname", "CONFIDENTIAL_SPACE", "swversion", "240500", "hwmodel", "GCP_AMD_SEV", "secboot",
        1, "submods", "container", "image_digest", DIGEST, "image_reference",
        "us-docker.pkg.dev/p/r/app:1", "restart_policy", "Never");
    json_t *over = extra ? json_loads(extra, 0, NULL) : json_object();
    assert_non_null(over);
    json_object_update(base, over);
    out = json_dumps(base, JSON_COMPACT);
    json_decref(over);
    json_decref(base);
    return out;
}

static char *maa_claims(const char *iss, const char *extra)
{
    char *out = NULL, rd[129];
    memset(rd, '1', 128);
    rd[128] = '\0';
    json_t *base =
        json_pack("{s:s,s:s,s:I,s:I,s:I,s:s,s:b,s:s,s:s,s:s,s:s,s:{s:s}}", "iss", iss, "aud",
                  "bpt-test", "iat", (json_int_t)AT - 10, "nbf", (json_int_t)AT - 10, "exp",
                  (json_int_t)AT + 3600, "x-ms-attestation-type", "sevsnpvm",
                  "x-ms-sevsnpvm-is-debuggable", 0, "x-ms-sevsnpvm-launchmeasurement", MEAS,
                  "x-ms-sevsnpvm-reportdata", rd, "x-ms-compliance-status", "azure-compliant-cvm",
                  "nonce", "maa-nonce-1", "x-ms-runtime", "keys", "[]");
    json_t *over = extra ? json_loads(extra, 0, NULL) : json_object();
    assert_non_null(over);
    json_object_update(base, over);
    out = json_dumps(base, JSON_COMPACT);
    json_decref(over);
    json_decref(base);
    return out;
}

/* A policy at AT, audience bpt-test, keys from the loopback server through @p cache. */
static bpt_policy *policy(struct fixture *f, const char *json, bpt_jwks_cache *cache)
{
    bpt_policy *p = NULL;
    char url[96];
    assert_ok(json ? bpt_policy_load_json(&p, json, strlen(json)) : bpt_policy_new(&p));
    bpt_policy_set_at(p, AT);
    if (!bpt_policy_is_workload_bound(p)) {
        assert_ok(bpt_policy_set_expected_audience(p, "bpt-test"));
    }
    snprintf(url, sizeof(url), "%s/jwks", f->srv.url);
    assert_ok(bpt_policy_set_jwks_url(p, url));
    bpt_policy_set_jwks_cache(p, cache);
    return p;
}

static int verify(const char *tok, bpt_provider prov, const bpt_policy *p)
{
    bpt_verified *v = NULL;
    int rc = bpt_verify(&v, (const uint8_t *)tok, strlen(tok), prov, p);
    bpt_verified_free(v);
    return rc;
}

static void test_gcp_tokens_verify_rs256_and_es256(void **state)
{
    struct fixture *f = *state;
    char *claims = gcp_claims(NULL), *rs = token("RS256", "rsa-1", f->rsa, claims),
         *es = token("ES256", "ec-1", f->ec, claims), *c = NULL;
    bpt_policy *p = policy(f, NULL, NULL);
    bpt_verified *v = NULL;
    assert_ok(bpt_verify(&v, (const uint8_t *)rs, strlen(rs), BPT_PROVIDER_UNKNOWN, p));
    assert_int_equal(bpt_verified_provider(v), BPT_PROVIDER_GCP_CONFIDENTIAL);
    const bpt_report *r = bpt_verified_report(v);
    assert_int_equal(bpt_report_format(r), BPT_FORMAT_GCP_CONFIDENTIAL_TOKEN);
    assert_string_equal(bpt_report_measurement(r)->algorithm, "sha256");
    assert_string_equal(bpt_report_measurement(r)->digest, DIGEST + 7);
    assert_false(bpt_claims_debug_mode(bpt_report_claims(r)));
    assert_int_equal(bpt_report_issued_at(r), AT - 10);
    assert_ok(bpt_claims_custom_json(&c, bpt_report_claims(r), "image_reference"));
    assert_string_equal(c, "\"us-docker.pkg.dev/p/r/app:1\"");
    bpt_free(c);
    bpt_verified_free(v);
    assert_ok(verify(es, BPT_PROVIDER_GCP_CONFIDENTIAL, p));
    bpt_policy_free(p);
    bpt_free(rs);
    bpt_free(es);
    free(claims);
}

static void test_azure_tokens_verify_with_keys_from_the_issuer(void **state)
{
    struct fixture *f = *state;
    char *claims = maa_claims(f->srv.url, NULL), *rs = token("RS256", "rsa-1", f->rsa, claims),
         *es = token("ES256", "ec-1", f->ec, claims), *c = NULL;
    bpt_policy *p = NULL;
    bpt_verified *v = NULL;
    assert_ok(bpt_policy_new(&p));
    bpt_policy_set_at(p, AT);
    assert_ok(bpt_policy_set_expected_audience(p, "bpt-test"));
    assert_ok(bpt_policy_add_jwt_issuer(p, f->srv.url)); /* keys from <issuer>/certs */
    assert_ok(bpt_policy_set_expected_measurement(p, MEAS));
    assert_ok(bpt_policy_set_expected_nonce(p, "maa-nonce-1"));
    assert_ok(bpt_verify(&v, (const uint8_t *)rs, strlen(rs), BPT_PROVIDER_UNKNOWN, p));
    assert_int_equal(bpt_verified_provider(v), BPT_PROVIDER_AZURE_SNP);
    const bpt_report *r = bpt_verified_report(v);
    assert_string_equal(bpt_report_measurement(r)->digest, MEAS);
    size_t n = 0;
    assert_non_null(bpt_verified_report_data(v, &n));
    assert_int_equal(n, 64);
    assert_ok(bpt_claims_custom_json(&c, bpt_report_claims(r), "x-ms-compliance-status"));
    assert_string_equal(c, "\"azure-compliant-cvm\"");
    bpt_free(c);
    bpt_verified_free(v);
    assert_ok(verify(es, BPT_PROVIDER_AZURE_SNP, p));
    bpt_free(rs);
    free(claims);

    /* An Azure CVM token: the TEE's claims under x-ms-isolation-tee. */
    claims = maa_claims(f->srv.url,
                        "{\"x-ms-attestation-type\":\"azurevm\",\"x-ms-isolation-tee\":{"
                        "\"x-ms-attestation-type\":\"tdxvm\",\"tdx_td_attributes_debug\":false,"
                        "\"tdx_mrtd\":\"" MEAS "\"}}");
    rs = token("PS256", "rsa-1", f->rsa, claims);
    assert_ok(verify(rs, BPT_PROVIDER_AZURE_SNP, p));
    bpt_free(rs);
    free(claims);
    bpt_free(es);
    bpt_policy_free(p);
}

struct refusal {
    const char *name;
    bool azure;
    const char *alg, *kid; /* NULL: RS256 rsa-1 */
    int key;               /* 0 rsa, 1 ec, 2 other, 3 none */
    const char *extra;     /* claims merged over the base */
    const char *policy;
    int code;
    const char *msg;
};

static const struct refusal refusals[] = {
    {"alg none", false, "none", NULL, 3, NULL, NULL, BPT_ESIGNATURE, "alg 'none' refused"},
    {"HS256", false, "HS256", NULL, 3, NULL, NULL, BPT_ESIGNATURE, "alg 'HS256' refused"},
    {"unknown kid", false, NULL, "rsa-9", 0, NULL, NULL, BPT_EKEYS, "no key with kid 'rsa-9'"},
    {"wrong key", false, NULL, NULL, 2, NULL, NULL, BPT_ESIGNATURE,
     "RS256 signature does not verify with kid 'rsa-1'"},
    {"EC kid with an RSA alg", false, "RS256", "ec-1", 0, NULL, NULL, BPT_ESIGNATURE,
     "does not suit RS256"},
    {"expired", false, NULL, NULL, 0, "{\"exp\":1749990000}", NULL, BPT_ECLAIM, "expired at"},
    {"nbf in the future", false, NULL, NULL, 0, "{\"nbf\":1750009999}", NULL, BPT_ECLAIM,
     "not valid before"},
    {"issued in the future", false, NULL, NULL, 0, "{\"iat\":1750009999}", NULL, BPT_ECLAIM,
     "issued in the future"},
    {"too old for max_age", false, NULL, NULL, 0, "{\"iat\":1749990000}",
     "{\"max_age_secs\":600,\"expected_audience\":\"bpt-test\"}", BPT_ECLAIM,
     "before the verification time (max age 600s)"},
    {"no exp", false, NULL, NULL, 0, "{\"exp\":null}", NULL, BPT_EMALFORMED, "exp is not a number"},
    {"wrong issuer (GCP named)", false, NULL, NULL, 0, "{\"iss\":\"https://evil.example\"}", NULL,
     BPT_ECLAIM, "issuer 'https://evil.example' is not " GCP},
    {"issuer outside the allow-list", false, NULL, NULL, 0, NULL,
     "{\"jwt\":{\"issuers\":[\"https://other.example\"]},\"expected_audience\":\"bpt-test\"}",
     BPT_ECLAIM, "is not in the policy's jwt.issuers"},
    {"wrong audience", false, NULL, NULL, 0, "{\"aud\":\"someone-else\"}", NULL, BPT_ECLAIM,
     "audience is not the expected 'bpt-test'"},
    {"nonce mismatch (string)", false, NULL, NULL, 0, NULL,
     "{\"expected_nonce\":\"nonce-9999999999\",\"expected_audience\":\"bpt-test\"}", BPT_ECLAIM,
     "expected nonce is not in eat_nonce"},
    {"nonce mismatch (array)", false, NULL, NULL, 0,
     "{\"eat_nonce\":[\"nonce-aaaaaaaaaa\",\"nonce-bbbbbbbbbb\"]}",
     "{\"expected_nonce\":\"nonce-cccccccccc\",\"expected_audience\":\"bpt-test\"}", BPT_ECLAIM,
     "expected nonce is not in eat_nonce"},
    {"GCP debug", false, NULL, NULL, 0, "{\"dbgstat\":\"enabled\"}", NULL, BPT_ECLAIM,
     "dbgstat is 'enabled'"},
    {"GCP image digest", false, NULL, NULL, 0, NULL,
     "{\"expected_image_digest\":\"sha256:"
     "0000000000000000000000000000000000000000000000000000000000000000\"}",
     BPT_ECLAIM, "image digest " DIGEST " is not the expected"},
    {"GCP measurement", false, NULL, NULL, 0, NULL,
     "{\"expected_measurement\":"
     "\"0000000000000000000000000000000000000000000000000000000000000000\","
     "\"expected_audience\":\"bpt-test\"}",
     BPT_ECLAIM, "measurement (image digest)"},
    {"GCP report_data", false, NULL, NULL, 0, NULL,
     "{\"expected_report_data\":\"00\",\"expected_audience\":\"bpt-test\"}", BPT_EUNSATISFIABLE,
     "tokens carry no report_data"},
    {"Azure debug", true, NULL, NULL, 0, "{\"x-ms-sevsnpvm-is-debuggable\":true}", NULL, BPT_ECLAIM,
     "x-ms-sevsnpvm-is-debuggable is true"},
    {"Azure measurement", true, NULL, NULL, 0, NULL,
     "{\"expected_measurement\":"
     "\"0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
     "00000\","
     "\"expected_audience\":\"bpt-test\"}",
     BPT_ECLAIM, "azure_maa: measurement " MEAS " != expected"},
    {"Azure nonce", true, NULL, NULL, 0, NULL,
     "{\"expected_nonce\":\"other\",\"expected_audience\":\"bpt-test\"}", BPT_ECLAIM,
     "nonce differs from the expected nonce"},
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
        bpt_policy *p = policy(f, r->policy, NULL);
        int rc;
        if (r->azure) {
            assert_ok(bpt_policy_add_jwt_issuer(p, f->srv.url));
        }
        rc = verify(tok, r->azure ? BPT_PROVIDER_AZURE_SNP : BPT_PROVIDER_GCP_CONFIDENTIAL, p);
        if (rc != r->code || !strstr(bpt_error_last(), r->msg)) {
            fail_msg("%s: got %d (%s), want %d with '%s'", r->name, rc, bpt_error_last(), r->code,
                     r->msg);
        }
        bpt_policy_free(p);
        bpt_free(tok);
        free(claims);
    }
}

static void test_debug_accepted_when_allowed_and_audience_rules(void **state)
{
    struct fixture *f = *state;
    char *claims = gcp_claims("{\"dbgstat\":\"enabled\"}"),
         *tok = token("RS256", "rsa-1", f->rsa, claims);
    bpt_policy *p = policy(f, "{\"allow_debug\":true,\"expected_audience\":\"bpt-test\"}", NULL);
    assert_ok(verify(tok, BPT_PROVIDER_GCP_CONFIDENTIAL, p));
    bpt_policy_free(p);
    bpt_free(tok);
    free(claims);

    /* Neither the policy nor the token names an audience: refused. */
    claims = gcp_claims("{\"aud\":null}");
    tok = token("RS256", "rsa-1", f->rsa, claims);
    p = policy(f, "{\"expected_image_digest\":\"" DIGEST "\"}", NULL);
    assert_rc_msg(verify(tok, BPT_PROVIDER_GCP_CONFIDENTIAL, p), BPT_ECLAIM,
                  "neither the policy nor the token names an audience");
    bpt_policy_free(p);
    bpt_free(tok);
    free(claims);

    /* The token names one and the policy none: accepted (the Rust rule); an array aud too. */
    claims = gcp_claims("{\"aud\":[\"a\",\"bpt-test\"]}");
    tok = token("RS256", "rsa-1", f->rsa, claims);
    p = policy(f, "{\"expected_image_digest\":\"" DIGEST "\"}", NULL);
    assert_ok(verify(tok, BPT_PROVIDER_GCP_CONFIDENTIAL, p));
    assert_ok(bpt_policy_set_expected_audience(p, "bpt-test"));
    assert_ok(verify(tok, BPT_PROVIDER_GCP_CONFIDENTIAL, p));
    bpt_policy_free(p);
    bpt_free(tok);
    free(claims);
}

static void test_malformed_tokens(void **state)
{
    struct fixture *f = *state;
    bpt_policy *p = policy(f, NULL, NULL);
    static const char *const cases[][2] = {
        {"abc.def", "expected three non-empty segments"},
        {"a.b.c.d", "expected three non-empty segments"},
        {"..sig", "expected three non-empty segments"},
        {"eyJhbGciOiJSUzI1NiJ9.e30.c2ln%", "byte 29 is not base64url"},
        {"bm90IGpzb24.e30.c2ln", "the header is not a JSON object"},
        {"eyJhbGciOiJSUzI1NiIsImtpZCI6InJzYS0xIn0.WzFd.c2ln", "the payload is not a JSON object"},
        {"eyJhbGciOiJSUzI1NiJ9.e30.c2ln", "the header has no usable kid"},
        {"eyJhbGciOiJSUzI1NiIsImtpZCI6InJzYS0xIiwiY3JpdCI6WyJ4Il19.e30.c2ln", "crit"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bpt_verified *v = NULL;
        int rc =
            bpt_gcp_confidential_verify(&v, (const uint8_t *)cases[i][0], strlen(cases[i][0]), p);
        if (rc != BPT_EMALFORMED || !strstr(bpt_error_last(), cases[i][1])) {
            fail_msg("%s: got %d (%s), want '%s'", cases[i][0], rc, bpt_error_last(), cases[i][1]);
        }
    }
    bpt_policy_free(p);
}

static void test_jwks_sources_and_refusals(void **state)
{
    struct fixture *f = *state;
    char *claims = gcp_claims(NULL), *tok = token("ES256", "ec-1", f->ec, claims);
    char *dir = bpt_test_tmpdir(), path[4096], json[4200];
    bpt_policy *p;

    /* From the policy's JWKS text, and from a file, offline. */
    p = policy(f, NULL, NULL);
    bpt_policy_set_offline(p, true);
    assert_rc_msg(verify(tok, BPT_PROVIDER_GCP_CONFIDENTIAL, p), BPT_EKEYS,
                  "fetching is off (--offline)");
    assert_ok(bpt_policy_set_jwks_json(p, f->jwks, strlen(f->jwks)));
    assert_ok(verify(tok, BPT_PROVIDER_GCP_CONFIDENTIAL, p));
    bpt_policy_free(p);
    snprintf(path, sizeof(path), "%s/jwks.json", dir);
    bpt_test_write_file(path, f->jwks, strlen(f->jwks));
    snprintf(json, sizeof(json), "{\"jwt\":{\"jwks_file\":\"%s\"},\"expected_audience\":\"x\"}",
             path);
    p = policy(f, json, NULL);
    bpt_policy_set_offline(p, true);
    assert_rc_msg(verify(tok, BPT_PROVIDER_GCP_CONFIDENTIAL, p), BPT_ECLAIM, "audience");
    assert_ok(bpt_policy_set_expected_audience(p, "bpt-test"));
    assert_ok(verify(tok, BPT_PROVIDER_GCP_CONFIDENTIAL, p));
    bpt_policy_free(p);

    /* A JWKS with a 1024-bit RSA key, or a duplicate kid, is refused. */
    {
        EVP_PKEY *small = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
        char *jwk = NULL, *bad = NULL;
        assert_ok(bpt_sim_jwk(&jwk, small, "rsa-1"));
        assert_true(asprintf(&bad, "{\"keys\":[%s]}", jwk) > 0);
        p = policy(f, NULL, NULL);
        assert_rc_msg(bpt_policy_set_jwks_json(p, bad, strlen(bad)), BPT_EMALFORMED,
                      "RSA key of 1024 bits");
        bpt_free(tok);
        tok = token("RS256", "rsa-1", f->rsa, claims);
        free(bad);
        bpt_free(jwk);
        assert_ok(bpt_sim_jwk(&jwk, f->rsa, "rsa-1"));
        assert_true(asprintf(&bad, "{\"keys\":[%s,%s]}", jwk, jwk) > 0);
        assert_rc_msg(bpt_policy_set_jwks_json(p, bad, strlen(bad)), BPT_EMALFORMED,
                      "kid 'rsa-1' appears twice");
        /* A JWKS file is read at verification time, and refused then. */
        bpt_test_write_file(path, bad, strlen(bad));
        snprintf(json, sizeof(json), "{\"jwt\":{\"jwks_file\":\"%s\"}}", path);
        bpt_policy_free(p);
        p = policy(f, json, NULL);
        assert_rc_msg(verify(tok, BPT_PROVIDER_GCP_CONFIDENTIAL, p), BPT_EMALFORMED,
                      "kid 'rsa-1' appears twice");
        free(bad);
        bpt_free(jwk);
        EVP_PKEY_free(small);
        bpt_policy_free(p);
    }

    /* Azure with neither an issuer allow-list nor a JWKS: unsatisfiable. */
    free(claims);
    claims = maa_claims(f->srv.url, NULL);
    bpt_free(tok);
    tok = token("RS256", "rsa-1", f->rsa, claims);
    assert_ok(bpt_policy_new(&p));
    bpt_policy_set_at(p, AT);
    assert_rc_msg(verify(tok, BPT_PROVIDER_AZURE_SNP, p), BPT_EUNSATISFIABLE,
                  "name the MAA instance in jwt.issuers");
    bpt_policy_free(p);
    bpt_test_rmtree(dir);
    free(dir);
    bpt_free(tok);
    free(claims);
}

static void test_jwks_server_refusals(void **state)
{
    struct fixture *f = *state;
    char *claims = gcp_claims(NULL), *tok = token("RS256", "rsa-1", f->rsa, claims);
    bpt_jwks_cache_opts o = BPT_JWKS_CACHE_OPTS_INIT;
    bpt_jwks_cache *cache = NULL;
    bpt_policy *p = policy(f, NULL, NULL);

    atomic_store(&f->srv.mode, OVERSIZED);
    assert_rc_msg(verify(tok, BPT_PROVIDER_GCP_CONFIDENTIAL, p), BPT_EFETCH,
                  "larger than 262144 bytes");
    atomic_store(&f->srv.mode, FAIL_500);
    assert_rc_msg(verify(tok, BPT_PROVIDER_GCP_CONFIDENTIAL, p), BPT_EFETCH, "answered HTTP 500");
    atomic_store(&f->srv.mode, NORMAL);

    /* A server that never answers: the cache's time-out (1 s) ends the wait. */
    o.timeout_ms = 1000;
    assert_ok(bpt_jwks_cache_new(&cache, &o));
    assert_ok(bpt_policy_set_jwks_url(p, f->hang_url));
    bpt_policy_set_jwks_cache(p, cache);
    int64_t t0 = bpt_time_now();
    assert_rc_msg(verify(tok, BPT_PROVIDER_GCP_CONFIDENTIAL, p), BPT_EFETCH, "imeout");
    assert_true(bpt_time_now() - t0 <= 5);
    bpt_policy_free(p);
    bpt_jwks_cache_free(cache);
    bpt_free(tok);
    free(claims);
}

static void test_jwks_cache_max_age_and_refetch(void **state)
{
    struct fixture *f = *state;
    int64_t now = 1000000;
    bpt_clock clk = bpt_clock_fixed(&now);
    bpt_jwks_cache_opts o = BPT_JWKS_CACHE_OPTS_INIT;
    bpt_jwks_cache *cache = NULL;
    char *claims = gcp_claims(NULL), *rs = token("RS256", "rsa-1", f->rsa, claims);
    char *es2 = token("ES256", "ec-2", f->ec, claims), *jwk = NULL, *more = NULL;
    uint64_t fetches = 0, hits = 0;
    bpt_policy *p;

    o.clock = &clk;
    assert_ok(bpt_jwks_cache_new(&cache, &o));
    p = policy(f, NULL, cache);
    set_jwks(&f->srv, f->jwks, "public, max-age=100");
    atomic_store(&f->srv.hits, 0);
    assert_ok(verify(rs, BPT_PROVIDER_GCP_CONFIDENTIAL, p));
    assert_ok(verify(rs, BPT_PROVIDER_GCP_CONFIDENTIAL, p));
    assert_int_equal(atomic_load(&f->srv.hits), 1);
    now += 101; /* max-age passed */
    assert_ok(verify(rs, BPT_PROVIDER_GCP_CONFIDENTIAL, p));
    assert_int_equal(atomic_load(&f->srv.hits), 2);

    /* A rotated-in key: unknown at first, refetched only once a minute has passed. */
    assert_ok(bpt_sim_jwk(&jwk, f->ec, "ec-2"));
    assert_true(asprintf(&more, "{\"keys\":[%s]}", jwk) > 0);
    set_jwks(&f->srv, more, "max-age=3600");
    assert_rc_msg(verify(es2, BPT_PROVIDER_GCP_CONFIDENTIAL, p), BPT_EKEYS,
                  "refetched less than 60s ago");
    assert_int_equal(atomic_load(&f->srv.hits), 2);
    now += 61;
    assert_ok(verify(es2, BPT_PROVIDER_GCP_CONFIDENTIAL, p));
    assert_int_equal(atomic_load(&f->srv.hits), 3);
    assert_rc_msg(verify(rs, BPT_PROVIDER_GCP_CONFIDENTIAL, p), BPT_EKEYS, "rsa-1");
    assert_int_equal(atomic_load(&f->srv.hits), 3); /* rotated out, and no refetch storm */

    /* no-store: nothing is kept. */
    set_jwks(&f->srv, f->jwks, "no-store");
    now += 7200;
    assert_ok(verify(rs, BPT_PROVIDER_GCP_CONFIDENTIAL, p));
    assert_ok(verify(rs, BPT_PROVIDER_GCP_CONFIDENTIAL, p));
    assert_int_equal(atomic_load(&f->srv.hits), 5);
    bpt_jwks_cache_stats(cache, &fetches, &hits);
    assert_int_equal(fetches, 5);
    assert_int_equal(hits, 1);
    set_jwks(&f->srv, f->jwks, NULL);
    bpt_policy_free(p);
    bpt_jwks_cache_free(cache);
    free(more);
    bpt_free(jwk);
    bpt_free(rs);
    bpt_free(es2);
    free(claims);
}

/* The CLI: --jwks, --expect-audience, --at, --offline, --expect-image-digest. */
static void test_cli_verifies_a_token(void **state)
{
    struct fixture *f = *state;
    char *dir = bpt_test_tmpdir(), jwks[4096], tokf[4096], *out = NULL;
    char *claims = gcp_claims(NULL), *tok = token("ES256", "ec-1", f->ec, claims);
    snprintf(jwks, sizeof(jwks), "%s/jwks.json", dir);
    snprintf(tokf, sizeof(tokf), "%s/token.jwt", dir);
    bpt_test_write_file(jwks, f->jwks, strlen(f->jwks));
    bpt_test_write_file(tokf, tok, strlen(tok));
    const char *ok[] = {"verify",   "--jwks", jwks,         "--expect-audience",
                        "bpt-test", "--at",   "1750000000", "--offline",
                        "--json",   tokf,     NULL};
    assert_int_equal(bpt_test_run_cli(&out, ok), 0);
    assert_non_null(strstr(out, "\"provider\":\"gcp_confidential\""));
    free(out);
    const char *bad[] = {"verify",    "--jwks", jwks,         "--expect-image-digest",
                         "sha256:00", "--at",   "1750000000", "--offline",
                         tokf,        NULL};
    assert_int_equal(bpt_test_run_cli(NULL, bad), 1);
    bpt_test_rmtree(dir);
    free(dir);
    bpt_free(tok);
    free(claims);
}

struct worker {
    const char *tok;
    const bpt_policy *p;
    int failures;
};

static void *verify_many(void *arg)
{
    struct worker *w = arg;
    for (int i = 0; i < 100; i++) {
        w->failures += verify(w->tok, BPT_PROVIDER_GCP_CONFIDENTIAL, w->p) != 0;
    }
    return NULL;
}

/* Threads sharing one policy and one JWKS cache (also run under TSan). */
static void test_shared_cache_across_threads(void **state)
{
    struct fixture *f = *state;
    bpt_jwks_cache_opts o = BPT_JWKS_CACHE_OPTS_INIT;
    bpt_jwks_cache *cache = NULL;
    char *claims = gcp_claims(NULL);
    char *toks[2] = {token("RS256", "rsa-1", f->rsa, claims),
                     token("ES256", "ec-1", f->ec, claims)};
    struct worker w[4];
    pthread_t t[4];
    uint64_t fetches = 0, hits = 0;
    bpt_policy *p;
    assert_ok(bpt_jwks_cache_new(&cache, &o));
    p = policy(f, NULL, cache);
    set_jwks(&f->srv, f->jwks, "max-age=600");
    for (int i = 0; i < 4; i++) {
        w[i] = (struct worker){toks[i % 2], p, 0};
        assert_int_equal(pthread_create(&t[i], NULL, verify_many, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(w[i].failures, 0);
    }
    bpt_jwks_cache_stats(cache, &fetches, &hits);
    assert_int_equal(fetches, 1);
    assert_int_equal(hits, 399);
    bpt_policy_free(p);
    bpt_jwks_cache_free(cache);
    bpt_free(toks[0]);
    bpt_free(toks[1]);
    free(claims);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gcp_tokens_verify_rs256_and_es256),
        cmocka_unit_test(test_azure_tokens_verify_with_keys_from_the_issuer),
        cmocka_unit_test(test_each_check_refuses),
        cmocka_unit_test(test_debug_accepted_when_allowed_and_audience_rules),
        cmocka_unit_test(test_malformed_tokens),
        cmocka_unit_test(test_jwks_sources_and_refusals),
        cmocka_unit_test(test_jwks_server_refusals),
        cmocka_unit_test(test_jwks_cache_max_age_and_refetch),
        cmocka_unit_test(test_shared_cache_across_threads),
        cmocka_unit_test(test_cli_verifies_a_token),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
