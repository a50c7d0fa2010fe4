/* bpt-test-labels: loopback */
/*
 * The client against the real server on 127.0.0.1, with evidence from the SEV-SNP simulator
 * verified by a verifier that trusts the simulator's roots: a full exchange, then
 * one refusal per client check (report_data not binding the session, untrusted evidence, no
 * attestation, error statuses, connection failure, answers that break the protocol). Nothing is
 * sealed or stored after a refusal.
 */
#include "helpers/test.h"

#include "helpers/canned_http.h"
#include "helpers/sim_fixture.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <curl/curl.h>

#include "core/err.h"
#include "exchange/exchange_internal.h"

enum mode { HONEST, WRONG_REPORT_DATA, NO_REPORT_KEY };

struct fixture {
    struct bpt_sim_fixture sim;
    enum mode mode;
    bpt_kx_service *svc;
    bpt_kx_store *store;
    bpt_kx_server *srv;
    bpt_verifier *verifier; /* trusts the simulator's roots */
    char url[64];
};

static int sim_attest(bpt_report **out, const uint8_t report_data[64], void *userdata)
{
    struct fixture *f = userdata;
    uint8_t rd[64];
    memcpy(rd, report_data, 64);
    if (f->mode == WRONG_REPORT_DATA) {
        rd[40] ^= 1; /* evidence for a different nonce */
    }
    bpt_attester_opts o = BPT_ATTESTER_OPTS_INIT;
    o.simulate = BPT_PROVIDER_AMD_SEV_SNP;
    o.sim_dir = f->sim.dir;
    return bpt_attest(out, rd, &o);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    bpt_verify_ctx *ctx = NULL;
    int rc;
    if (f == NULL) {
        return -1;
    }
    *state = f;
    if (bpt_sim_fixture_init(&f->sim) != 0 || !(ctx = bpt_sim_fixture_ctx(&f->sim, 0, NULL))) {
        return -1;
    }
    rc = bpt_verifier_new(&f->verifier, ctx, NULL);
    bpt_verify_ctx_free(ctx); /* the verifier holds its own reference */
    if (rc != 0) {
        fprintf(stderr, "verifier: %s\n", bpt_error_last());
        return -1;
    }
    bpt_kx_service_options so = BPT_KX_SERVICE_OPTIONS_INIT;
    so.attest = sim_attest;
    so.attest_userdata = f;
    so.max_sessions = 4;
    bpt_kx_server_options o = BPT_KX_SERVER_OPTIONS_INIT;
    if (bpt_kx_service_new(&f->svc, &so) != 0 || bpt_kx_store_new(&f->store) != 0) {
        return -1;
    }
    o.store = f->store;
    if (bpt_kx_server_start(&f->srv, f->svc, &o) != 0) {
        fprintf(stderr, "server: %s\n", bpt_error_last());
        return -1;
    }
    snprintf(f->url, sizeof(f->url), "http://127.0.0.1:%u/", bpt_kx_server_port(f->srv));
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    bpt_kx_server_stop(f->srv);
    bpt_kx_store_free(f->store);
    bpt_kx_service_free(f->svc);
    bpt_verifier_free(f->verifier);
    bpt_sim_fixture_dispose(&f->sim);
    free(f);
    return 0;
}

static const bpt_kx_client_secret SECRETS[] = {
    {"db_password", (const uint8_t *)"hunter2", 7},
    {"api_token", (const uint8_t *)"tok-123", 7},
};

static void test_exchange(void **state)
{
    struct fixture *f = *state;
    f->mode = HONEST;
    bpt_kx_client_result r = BPT_KX_CLIENT_RESULT_INIT;
    assert_ok(bpt_kx_client_send(&r, f->url, f->verifier, SECRETS, 2));
    assert_int_equal(r.stored, 2);
    assert_int_equal(strlen(r.session_id), 32);
    assert_int_equal(strlen(r.key_fingerprint), 64);
    assert_int_equal(strlen(r.attestation_digest), 64);
    bpt_secret *v = NULL;
    assert_ok(bpt_kx_store_get(&v, f->store, "api_token"));
    assert_memory_equal(bpt_secret_data(v), "tok-123", 7);
    bpt_secret_free(v);
    assert_ok(bpt_kx_store_get(&v, f->store, "db_password"));
    assert_memory_equal(bpt_secret_data(v), "hunter2", 7);
    bpt_secret_free(v);
    assert_int_equal(bpt_kx_service_active_count(f->svc), 0);
}

static void test_report_data_mismatch(void **state)
{
    struct fixture *f = *state;
    f->mode = WRONG_REPORT_DATA;
    size_t before = bpt_kx_store_count(f->store);
    bpt_kx_client_result r = BPT_KX_CLIENT_RESULT_INIT;
    /* The evidence's report data is not the session's: the client verifies with a policy that
     * expects exactly the session's report data, so the verifier itself refuses it (before the
     * report JSON's public_key_binding or the client's own report_data check). */
    assert_rc_msg(bpt_kx_client_send(&r, f->url, f->verifier, SECRETS, 1), BPT_ECLAIM,
                  "kx client: attestation: sev_snp: report_data differs from the expected 64 "
                  "bytes");
    assert_int_equal(bpt_kx_store_count(f->store), before);
    /* nothing was submitted: the session is still there */
    assert_int_equal(bpt_kx_service_active_count(f->svc), 1);
    bpt_kx_service_free(f->svc);
    bpt_kx_server_stop(f->srv);
    f->mode = HONEST;
    /* restart clean for the next tests */
    bpt_kx_service_options so = BPT_KX_SERVICE_OPTIONS_INIT;
    so.attest = sim_attest;
    so.attest_userdata = f;
    so.max_sessions = 1;
    assert_ok(bpt_kx_service_new(&f->svc, &so));
    bpt_kx_server_options o = BPT_KX_SERVER_OPTIONS_INIT;
    o.store = f->store;
    assert_ok(bpt_kx_server_start(&f->srv, f->svc, &o));
    snprintf(f->url, sizeof(f->url), "http://127.0.0.1:%u", bpt_kx_server_port(f->srv));
}

static void test_untrusted_evidence(void **state)
{
    struct fixture *f = *state;
    bpt_verifier *pinned = NULL; /* the pinned AMD roots refuse simulated evidence */
    assert_ok(bpt_verifier_new(&pinned, NULL, NULL));
    bpt_kx_client_result r = BPT_KX_CLIENT_RESULT_INIT;
    int rc = bpt_kx_client_send(&r, f->url, pinned, SECRETS, 1);
    if (!bpt_error_is_attestation(rc) || strstr(bpt_error_last(), "attestation") == NULL) {
        fail_msg("got %d: %s", rc, bpt_error_last());
    }
    bpt_verifier_free(pinned);
    /* the abandoned session fills the one slot: the next client sees 503 capacity, a service
     * that is unavailable for now (BPT_EFETCH, as an unreachable one: retrying may help) */
    assert_rc_msg(bpt_kx_client_send(&r, f->url, f->verifier, SECRETS, 1), BPT_EFETCH,
                  "HTTP 503 capacity");
    assert_int_equal(bpt_kx_service_cleanup(f->svc), 0);
}

static void test_no_attestation_and_transport(void **state)
{
    struct fixture *f = *state;
    bpt_kx_service *svc = NULL;
    bpt_kx_server *srv = NULL;
    bpt_kx_server_options o = BPT_KX_SERVER_OPTIONS_INIT;
    o.store = f->store;
    assert_ok(bpt_kx_service_new(&svc, NULL));
    assert_ok(bpt_kx_server_start(&srv, svc, &o));
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%u", bpt_kx_server_port(srv));
    bpt_kx_client_result r = BPT_KX_CLIENT_RESULT_INIT;
    assert_rc_msg(bpt_kx_client_send(&r, url, f->verifier, SECRETS, 1), BPT_EPROTOCOL,
                  "no attestation");
    uint16_t port = bpt_kx_server_port(srv);
    bpt_kx_server_stop(srv);
    bpt_kx_service_free(svc);
    snprintf(url, sizeof(url), "http://127.0.0.1:%u", port);
    assert_rc_msg(bpt_kx_client_send(&r, url, f->verifier, SECRETS, 1), BPT_EFETCH, "127.0.0.1");
    assert_rc_msg(bpt_kx_client_send(&r, url, f->verifier, SECRETS, 0), BPT_EINVAL, "secrets");
    assert_rc_msg(bpt_kx_client_send(&r, url, NULL, SECRETS, 1), BPT_EINVAL, "NULL");
    /* A result whose size was not set is refused before anything is sent. */
    bpt_kx_client_result unsized;
    memset(&unsized, 0, sizeof(unsized));
    assert_rc_msg(bpt_kx_client_send(&unsized, url, f->verifier, SECRETS, 1), BPT_EINVAL,
                  "bpt_kx_client_result: the struct's size is smaller than its first version");
    /* Plain http only to loopback: refused before any connection. */
    assert_rc_msg(bpt_kx_client_send(&r, "http://192.0.2.1:8787", f->verifier, SECRETS, 1),
                  BPT_EINVAL, "kx client: http: http://192.0.2.1 refused (https only");
}

/* @p key as PKCS#8 PEM text (malloc'd). */
static char *pem_of(EVP_PKEY *key, size_t *len)
{
    BIO *b = BIO_new(BIO_s_mem());
    assert_non_null(b);
    assert_int_equal(PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL), 1);
    char *data = NULL;
    long n = BIO_get_mem_data(b, &data);
    char *out = malloc((size_t)n + 1);
    assert_non_null(out);
    memcpy(out, data, (size_t)n);
    out[n] = '\0';
    *len = (size_t)n;
    BIO_free(b);
    return out;
}

/* A second server over the fixture's service that takes deliveries signed by @p pub only,
 * with its own *@p store; its URL in @p url. */
static bpt_kx_server *sender_server(struct fixture *f, const uint8_t pub[32], bpt_kx_store **store,
                                    char url[64])
{
    bpt_kx_server *srv = NULL;
    assert_ok(bpt_kx_store_new(store));
    bpt_kx_server_options o = BPT_KX_SERVER_OPTIONS_INIT;
    o.store = *store;
    o.authorized_senders = pub;
    o.n_authorized_senders = 1;
    assert_ok(bpt_kx_server_start(&srv, f->svc, &o));
    snprintf(url, 64, "http://127.0.0.1:%u", bpt_kx_server_port(srv));
    return srv;
}

/* Authorized senders end to end: the client signs with --sign-key's key; unsigned, unknown
 * and wrong-type keys are refused (the last before a byte is sent); a stored name is 409. */
static void test_signed_delivery(void **state)
{
    struct fixture *f = *state;
    f->mode = HONEST;
    EVP_PKEY *good = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    EVP_PKEY *other = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    assert_non_null(good);
    assert_non_null(other);
    assert_non_null(ec);
    uint8_t pub[32];
    size_t pl = sizeof(pub);
    assert_int_equal(EVP_PKEY_get_raw_public_key(good, pub, &pl), 1);
    bpt_kx_store *store = NULL;
    char url[64];
    bpt_kx_server *srv = sender_server(f, pub, &store, url);

    bpt_kx_client_result r = BPT_KX_CLIENT_RESULT_INIT;
    bpt_kx_client_options co = BPT_KX_CLIENT_OPTIONS_INIT;
    assert_rc_msg(bpt_kx_client_send(&r, url, f->verifier, SECRETS, 1), BPT_EPROTOCOL,
                  "403 sender_not_authorized");
    size_t n_other = 0, n_good = 0, n_ec = 0;
    char *pem_other = pem_of(other, &n_other), *pem_good = pem_of(good, &n_good),
         *pem_ec = pem_of(ec, &n_ec);
    co.sign_key_pem = pem_other;
    co.sign_key_pem_len = n_other;
    assert_rc_msg(bpt_kx_client_send_with(&r, url, f->verifier, SECRETS, 1, &co), BPT_EPROTOCOL,
                  "not an authorized sender");

    bpt_kx_service_stats before = BPT_KX_SERVICE_STATS_INIT, after = BPT_KX_SERVICE_STATS_INIT;
    bpt_kx_service_get_stats(&before, f->svc);
    co.sign_key_pem = pem_ec;
    co.sign_key_pem_len = n_ec;
    assert_rc_msg(bpt_kx_client_options_check(&co), BPT_EINVAL, "not Ed25519");
    assert_rc_msg(bpt_kx_client_send_with(&r, url, f->verifier, SECRETS, 1, &co), BPT_EINVAL,
                  "not Ed25519");
    co.sign_key_pem = "not a key";
    co.sign_key_pem_len = 9;
    assert_rc_msg(bpt_kx_client_options_check(&co), BPT_EINVAL, "not a PEM private key");
    /* an encrypted key: refused, never a passphrase prompt on the terminal */
    {
        BIO *b = BIO_new(BIO_s_mem());
        char *data = NULL;
        assert_int_equal(PEM_write_bio_PKCS8PrivateKey(b, good, EVP_aes_256_cbc(), NULL, 0, NULL,
                                                       (void *)"passphrase"),
                         1);
        long n = BIO_get_mem_data(b, &data);
        co.sign_key_pem = data;
        co.sign_key_pem_len = (size_t)n;
        assert_rc_msg(bpt_kx_client_options_check(&co), BPT_EINVAL,
                      "kx client: the signing key is encrypted (no passphrase is asked for");
        BIO_free(b);
    }
    static const bpt_kx_client_secret bad_name = {"db password", (const uint8_t *)"x", 1};
    co.sign_key_pem = pem_good;
    co.sign_key_pem_len = n_good;
    assert_rc_msg(bpt_kx_client_send_with(&r, url, f->verifier, &bad_name, 1, &co), BPT_EINVAL,
                  "[A-Za-z0-9._-]");
    bpt_kx_service_get_stats(&after, f->svc);
    assert_int_equal(after.created, before.created); /* refused before any request */

    assert_ok(bpt_kx_client_send_with(&r, url, f->verifier, SECRETS, 2, &co));
    assert_int_equal(r.stored, 2);
    assert_int_equal(bpt_kx_store_count(store), 2);
    /* first writer wins: the same name again is 409 conflict */
    assert_rc_msg(bpt_kx_client_send_with(&r, url, f->verifier, SECRETS, 1, &co), BPT_EPROTOCOL,
                  "409 conflict");

    free(pem_other);
    free(pem_good);
    free(pem_ec);
    EVP_PKEY_free(good);
    EVP_PKEY_free(other);
    EVP_PKEY_free(ec);
    bpt_kx_server_stop(srv);
    bpt_kx_store_free(store);
}

/* `bpt seal --sign-key FILE` against a service that takes authorized senders only: with the
 * key the secret is stored; without it the service refuses (exit 1); a key file that is no
 * Ed25519 key fails before a session is made. */
static void test_cli_seal_sign_key(void **state)
{
    struct fixture *f = *state;
    f->mode = HONEST;
    EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    assert_non_null(key);
    assert_non_null(ec);
    uint8_t pub[32];
    size_t pl = sizeof(pub), n_key = 0, n_ec = 0;
    assert_int_equal(EVP_PKEY_get_raw_public_key(key, pub, &pl), 1);
    bpt_kx_store *store = NULL;
    char url[64], key_file[512], ec_file[512], secret_file[512], roots[512];
    bpt_kx_server *srv = sender_server(f, pub, &store, url);
    snprintf(key_file, sizeof(key_file), "%s/sender.pem", f->sim.dir);
    snprintf(ec_file, sizeof(ec_file), "%s/not-ed25519.pem", f->sim.dir);
    snprintf(secret_file, sizeof(secret_file), "%s/secret.txt", f->sim.dir);
    snprintf(roots, sizeof(roots), "%s/trust-roots.pem", f->sim.dir);
    char *pem = pem_of(key, &n_key), *pem_ec = pem_of(ec, &n_ec);
    bpt_test_write_file(key_file, pem, n_key);
    bpt_test_write_file(ec_file, pem_ec, n_ec);
    bpt_test_write_file(secret_file, "s3cret", 6);

    const char *unsigned_argv[] = {
        "seal",          "--url",     url, "--trust-root", roots, "--name", "signed.secret",
        "--secret-file", secret_file, NULL};
    assert_int_equal(bpt_test_run_cli(NULL, unsigned_argv), 1);
    assert_int_equal(bpt_kx_store_count(store), 0);

    bpt_kx_service_stats before = BPT_KX_SERVICE_STATS_INIT, after = BPT_KX_SERVICE_STATS_INIT;
    bpt_kx_service_get_stats(&before, f->svc);
    const char *ec_argv[] = {
        "seal",          "--url",         url,         "--trust-root", roots,   "--name",
        "signed.secret", "--secret-file", secret_file, "--sign-key",   ec_file, NULL};
    assert_int_equal(bpt_test_run_cli(NULL, ec_argv), 3); /* local input: not an Ed25519 key */
    bpt_kx_service_get_stats(&after, f->svc);
    assert_int_equal(after.created, before.created); /* no session was asked for */

    const char *argv[] = {
        "seal",          "--url",         url,         "--trust-root", roots,    "--name",
        "signed.secret", "--secret-file", secret_file, "--sign-key",   key_file, NULL};
    char *out = NULL;
    assert_int_equal(bpt_test_run_cli(&out, argv), 0);
    assert_non_null(strstr(out, "secret 'signed.secret' sealed to session"));
    free(out);
    bpt_secret *v = NULL;
    assert_ok(bpt_kx_store_get(&v, store, "signed.secret"));
    assert_memory_equal(bpt_secret_data(v), "s3cret", 6);
    bpt_secret_free(v);

    free(pem);
    free(pem_ec);
    EVP_PKEY_free(key);
    EVP_PKEY_free(ec);
    bpt_kx_server_stop(srv);
    bpt_kx_store_free(store);
}

/*
 * Answers a real service never gives, each classified: a field of the wrong type and a body
 * that is not JSON break the protocol (EPROTOCOL, as an unknown suite does); 5xx and 429 say the
 * service is unavailable (EFETCH, as a refused connection: retrying may help); another error
 * status is the service refusing (EPROTOCOL). Nothing is sealed or sent after any of them.
 */
static void test_answers_that_break_the_protocol(void **state)
{
    struct fixture *f = *state;
    static const struct {
        int status;
        const char *body;
        int want;
        const char *msg;
    } cases[] = {
        {201, "{\"session_id\":5,\"public_key\":\"00\",\"suite\":\"x\",\"key_type\":\"x25519\"}",
         BPT_EPROTOCOL, "session response: field 'session_id' must be a string"},
        {201, "<html>not json</html>", BPT_EPROTOCOL, "session response: invalid JSON"},
        {201, "[1,2]", BPT_EPROTOCOL, "session response"},
        {500, "{\"error\":{\"code\":\"internal\",\"message\":\"boom\"}}", BPT_EFETCH,
         "HTTP 500 internal: boom (the service is unavailable)"},
        {429, "{}", BPT_EFETCH, "HTTP 429"},
        {404, "{\"error\":{\"code\":\"session_not_found\",\"message\":\"\"}}", BPT_EPROTOCOL,
         "HTTP 404 session_not_found"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct bpt_canned_http *srv = NULL;
        char url[64];
        bpt_kx_client_result r = BPT_KX_CLIENT_RESULT_INIT;
        assert_int_equal(bpt_canned_http_start(&srv, cases[i].status, cases[i].body), 0);
        snprintf(url, sizeof(url), "http://127.0.0.1:%u", bpt_canned_http_port(srv));
        int rc = bpt_kx_client_send(&r, url, f->verifier, SECRETS, 1);
        if (rc != cases[i].want || !strstr(bpt_error_last(), cases[i].msg)) {
            fail_msg("HTTP %d %s: got %d (%s), want %d (%s)", cases[i].status, cases[i].body, rc,
                     bpt_error_last(), cases[i].want, cases[i].msg);
        }
        assert_int_equal(bpt_canned_http_requests(srv), 1); /* nothing was submitted */
        bpt_canned_http_stop(srv);
    }
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exchange),
        cmocka_unit_test(test_signed_delivery),
        cmocka_unit_test(test_cli_seal_sign_key),
        cmocka_unit_test(test_report_data_mismatch),
        cmocka_unit_test(test_untrusted_evidence),
        cmocka_unit_test(test_no_attestation_and_transport),
        cmocka_unit_test(test_answers_that_break_the_protocol),
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    curl_global_cleanup();
    return rc;
}
