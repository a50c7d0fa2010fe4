/* bpt-test-labels: loopback */
/*
 * The key exchange on a unix socket (bpt_kx_server_options.listen_unix, the runtime's plane at
 * /run/bpt/kx.sock): the socket file is 0600, a stale socket is replaced and anything else at
 * the path refused, stopping removes it; the client reaches it through
 * bpt_kx_client_options.unix_socket for a whole exchange, bpt_kx_client_session_key() returns
 * the session's real X25519 key (the one the service holds), and GET /v1/attestation?nonce binds
 * exactly bpt_kx_attestation_report_data() of the nonce.
 */
#include "helpers/test.h"

#include "helpers/sim_fixture.h"

#include <jansson.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/http.h"

struct fixture {
    struct bpt_sim_fixture sim;
    bpt_kx_service *svc;
    bpt_kx_store *store;
    bpt_kx_server *srv;
    bpt_verifier *verifier;
    char *tmp;
    char sock[100];
};

static int sim_attest(bpt_report **out, const uint8_t report_data[64], void *userdata)
{
    struct fixture *f = userdata;
    bpt_attester_opts o = BPT_ATTESTER_OPTS_INIT;
    o.simulate = BPT_PROVIDER_AMD_SEV_SNP;
    o.sim_dir = f->sim.dir;
    return bpt_attest(out, report_data, &o);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    bpt_verify_ctx *ctx = NULL;
    if (f == NULL) {
        return -1;
    }
    *state = f;
    if (bpt_sim_fixture_init(&f->sim) != 0 || !(ctx = bpt_sim_fixture_ctx(&f->sim, 0, NULL))) {
        return -1;
    }
    int rc = bpt_verifier_new(&f->verifier, ctx, NULL);
    bpt_verify_ctx_free(ctx);
    bpt_kx_service_options so = BPT_KX_SERVICE_OPTIONS_INIT;
    so.attest = sim_attest;
    so.attest_userdata = f;
    if (rc != 0 || bpt_kx_service_new(&f->svc, &so) != 0 || bpt_kx_store_new(&f->store) != 0) {
        return -1;
    }
    f->tmp = bpt_test_tmpdir();
    if (strlen(f->tmp) + 9 > sizeof(f->sock)) {
        return -1;
    }
    memcpy(f->sock, f->tmp, strlen(f->tmp));
    memcpy(f->sock + strlen(f->tmp), "/kx.sock", 9);
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
    if (f->tmp) {
        bpt_test_rmtree(f->tmp);
        free(f->tmp);
    }
    free(f);
    return 0;
}

static int start(struct fixture *f)
{
    bpt_kx_server_options o = BPT_KX_SERVER_OPTIONS_INIT;
    o.store = f->store;
    o.listen_unix = f->sock;
    return bpt_kx_server_start(&f->srv, f->svc, &o);
}

static bool all_zero(const uint8_t *p, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++) {
        acc |= p[i];
    }
    return acc == 0;
}

static const bpt_kx_client_secret SECRET = {"db_password", (const uint8_t *)"hunter2", 7};

static void test_exchange_over_unix_socket(void **state)
{
    struct fixture *f = *state;
    struct stat st;
    assert_ok(start(f));
    assert_int_equal(bpt_kx_server_port(f->srv), 0);
    assert_int_equal(lstat(f->sock, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0600);

    bpt_kx_client_options co = BPT_KX_CLIENT_OPTIONS_INIT;
    co.unix_socket = f->sock;
    bpt_kx_client_result r = BPT_KX_CLIENT_RESULT_INIT;
    assert_ok(bpt_kx_client_send_with(&r, "http://localhost", f->verifier, &SECRET, 1, &co));
    assert_int_equal(r.stored, 1);
    bpt_secret *v = NULL;
    assert_ok(bpt_kx_store_get(&v, f->store, "db_password"));
    assert_memory_equal(bpt_secret_data(v), "hunter2", 7);
    bpt_secret_free(v);

    /* stopping removes the socket file */
    bpt_kx_server_stop(f->srv);
    f->srv = NULL;
    assert_int_not_equal(lstat(f->sock, &st), 0);
    /* nobody listening: a connection failure, as for TCP */
    assert_rc_msg(bpt_kx_client_send_with(&r, "http://localhost", f->verifier, &SECRET, 1, &co),
                  BPT_EFETCH, "unix:");
}

/* An old server's socket file is replaced; a regular file at the path is not. */
static void test_stale_socket_and_other_files(void **state)
{
    struct fixture *f = *state;
    struct sockaddr_un su = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    snprintf(su.sun_path, sizeof(su.sun_path), "%s", f->sock);
    assert_int_equal(bind(fd, (struct sockaddr *)&su, sizeof(su)), 0);
    close(fd); /* the file stays: a crashed server's */
    assert_ok(start(f));
    bpt_kx_server_stop(f->srv);
    f->srv = NULL;

    bpt_test_write_file(f->sock, "x", 1);
    assert_rc_msg(start(f), BPT_EINVAL, "is not a socket");
    assert_null(f->srv);
    unlink(f->sock);

    /* a path longer than sun_path */
    char longp[200];
    memset(longp, 'a', sizeof(longp) - 1);
    longp[0] = '/';
    longp[sizeof(longp) - 1] = '\0';
    bpt_kx_server_options o = BPT_KX_SERVER_OPTIONS_INIT;
    o.store = f->store;
    o.listen_unix = longp;
    assert_rc_msg(bpt_kx_server_start(&f->srv, f->svc, &o), BPT_EINVAL, "unix socket path");
}

/* The key a client learns is the session key the service holds, verified before it is given. */
static void test_session_key(void **state)
{
    struct fixture *f = *state;
    assert_ok(start(f));
    bpt_kx_client_options co = BPT_KX_CLIENT_OPTIONS_INIT;
    co.unix_socket = f->sock;
    bpt_kx_client_key k = BPT_KX_CLIENT_KEY_INIT;
    assert_ok(bpt_kx_client_session_key(&k, "http://localhost", f->verifier, &co));
    assert_string_equal(k.key_type, "x25519");
    assert_false(k.has_service_key);
    assert_int_equal(strlen(k.attestation_digest), 64);
    bpt_kx_session *s = NULL;
    assert_ok(bpt_kx_service_consume(&s, f->svc, k.session_id));
    assert_memory_equal(bpt_kx_session_public_key(s), k.public_key, 32);
    bpt_kx_session_free(s);

    /* a verifier that trusts other roots (the pinned ones) gets no key */
    bpt_verifier *pinned = NULL;
    assert_ok(bpt_verifier_new(&pinned, NULL, NULL));
    bpt_kx_client_key k2 = BPT_KX_CLIENT_KEY_INIT;
    int rc = bpt_kx_client_session_key(&k2, "http://localhost", pinned, &co);
    assert_int_equal(rc, BPT_ESIGNATURE);
    assert_int_equal(k2.public_key[0] | k2.public_key[31], 0);
    bpt_verifier_free(pinned);
}

/* GET /v1/attestation?nonce=HEX binds 32 zero bytes || SHA-256(nonce). */
static void test_attestation_nonce_binding(void **state)
{
    struct fixture *f = *state;
    uint8_t nonce[32], want[64];
    char url[128] = "http://localhost/v1/attestation?nonce=";
    for (size_t i = 0; i < sizeof(nonce); i++) {
        nonce[i] = (uint8_t)(i * 7 + 1);
        snprintf(url + strlen(url), sizeof(url) - strlen(url), "%02x", nonce[i]);
    }
    assert_ok(start(f));
    bpt_buf body = BPT_BUF_INIT(1024 * 1024);
    struct bpt_http_request req = {
        .method = BPT_HTTP_GET, .url = url, .unix_socket = f->sock, .timeout_ms = 10000};
    struct bpt_http_response resp = {.body = &body};
    assert_ok(bpt_http_send(&resp, &req));
    assert_int_equal(resp.status, 200);
    json_t *j = json_loadb((const char *)body.data, body.len, 0, NULL);
    char *att = json_dumps(json_object_get(j, "attestation"), JSON_COMPACT);
    bpt_report *rep = NULL;
    assert_ok(bpt_report_from_json(&rep, att, strlen(att)));
    bpt_verified *v = NULL;
    assert_ok(bpt_verifier_verify_report(&v, f->verifier, rep));
    size_t rdl = 0;
    const uint8_t *rd = bpt_verified_report_data(v, &rdl);
    assert_ok(bpt_kx_attestation_report_data(want, nonce, sizeof(nonce)));
    assert_int_equal(rdl, 64);
    assert_memory_equal(rd, want, 64);
    assert_true(all_zero(want, 32));
    bpt_verified_free(v);
    bpt_report_free(rep);
    free(att);
    json_decref(j);
    bpt_buf_dispose(&body);

    /* the function's own limits: no nonce is all zeros, a short one is refused */
    assert_ok(bpt_kx_attestation_report_data(want, NULL, 0));
    assert_true(all_zero(want, 64));
    assert_rc_msg(bpt_kx_attestation_report_data(want, nonce, 8), BPT_EINVAL, "8 bytes");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_exchange_over_unix_socket, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_socket_and_other_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_session_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_attestation_nonce_binding, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
