/* bpt-test-labels: unit loopback */
/*
 * Evidence refusal in both binding modes, and the "service_key" binding: one Ed25519 key attested
 * once signs every session key; clients verify the evidence, that it binds the service key, and the
 * signature over the session.
 */
#include "helpers/test.h"

#include "helpers/sim_fixture.h"

#include "core/err.h"
#include "exchange/exchange_internal.h"

#include <stdio.h>

struct fixture {
    struct bpt_sim_fixture sim;
    int attest_calls;
    bpt_attester_opts ao;
    bpt_verifier *verifier; /* trusts the simulator's roots */
};

/* The simulator, SEV-SNP attestation from it, and a verifier that trusts its roots. */
static void fixture_init(struct fixture *f)
{
    bpt_verify_ctx *ctx = NULL;
    assert_int_equal(bpt_sim_fixture_init(&f->sim), 0);
    f->ao.simulate = BPT_PROVIDER_AMD_SEV_SNP;
    f->ao.sim_dir = f->sim.dir;
    ctx = bpt_sim_fixture_ctx(&f->sim, 0, NULL);
    assert_non_null(ctx);
    assert_ok(bpt_verifier_new(&f->verifier, ctx, NULL));
    bpt_verify_ctx_free(ctx); /* the verifier holds its own reference */
}

static void fixture_dispose(struct fixture *f)
{
    bpt_verifier_free(f->verifier);
    bpt_sim_fixture_dispose(&f->sim);
}

static int attest(bpt_report **out, const uint8_t rd[64], void *ud)
{
    struct fixture *f = ud;
    f->attest_calls++;
    return bpt_attest(out, rd, &f->ao);
}

/* Evidence with one byte of its signed part (the measurement) changed after signing. */
static int tampering_attest(bpt_report **out, const uint8_t rd[64], void *ud)
{
    int rc = attest(out, rd, ud);
    if (rc == 0) {
        size_t n = 0;
        const uint8_t *ev = bpt_report_evidence(*out, &n);
        uint8_t *copy = malloc(n);
        memcpy(copy, ev, n);
        copy[0x90] ^= 1;
        rc = bpt_report_set_evidence(*out, copy, n);
        free(copy);
    }
    return rc;
}

static int failing_attest(bpt_report **out, const uint8_t rd[64], void *ud)
{
    (void)rd;
    (void)ud;
    *out = NULL;
    return bpt_err(BPT_EIO, "no TEE here");
}

static void test_service_key_round_trip(void **state)
{
    struct fixture f = {.ao = BPT_ATTESTER_OPTS_INIT};
    bpt_kx_service_options so = BPT_KX_SERVICE_OPTIONS_INIT;
    bpt_kx_server_options ho = BPT_KX_SERVER_OPTIONS_INIT;
    bpt_kx_service *svc = NULL;
    bpt_kx_store *store = NULL;
    bpt_kx_server *srv = NULL;
    bpt_kx_client_result r = BPT_KX_CLIENT_RESULT_INIT;
    char url[64];
    static const bpt_kx_client_secret secret = {"api_token", (const uint8_t *)"s3cr3t", 6};
    (void)state;

    fixture_init(&f);

    so.binding = BPT_KX_BINDING_SERVICE_KEY;
    so.attest = attest;
    so.attest_userdata = &f;
    assert_ok(bpt_kx_service_new(&svc, &so));
    assert_int_equal(f.attest_calls, 1); /* attested once, up front */
    assert_ok(bpt_kx_store_new(&store));
    bpt_kx_store_set_policy(store, BPT_KX_STORE_REPLACE); /* the same name is sent 3 times */
    ho.store = store;
    assert_ok(bpt_kx_server_start(&srv, svc, &ho));
    snprintf(url, sizeof(url), "http://127.0.0.1:%u", bpt_kx_server_port(srv));

    for (int i = 0; i < 3; i++) {
        assert_ok(bpt_kx_client_send(&r, url, f.verifier, &secret, 1));
        assert_int_equal(r.stored, 1);
    }
    assert_int_equal(f.attest_calls, 1); /* no evidence per session */

    /* The signature binds exactly one session key, id and nonce. */
    bpt_kx_session_info info = BPT_KX_SESSION_INFO_INIT;
    uint8_t nonce[16] = {1}, rd[64];
    assert_ok(bpt_kx_service_create(&info, NULL, svc, nonce, sizeof(nonce)));
    assert_true(info.service_key);
    assert_ok(bpt_kx_report_data(rd, info.public_key, info.id, nonce, sizeof(nonce)));
    assert_ok(bpt_kx_check_session_signature(info.service_public_key, info.signature, rd));
    rd[63] ^= 1; /* another nonce */
    assert_rc_msg(bpt_kx_check_session_signature(info.service_public_key, info.signature, rd),
                  BPT_ECLAIM, "does not bind");
    rd[63] ^= 1;
    info.signature[0] ^= 1;
    assert_rc_msg(bpt_kx_check_session_signature(info.service_public_key, info.signature, rd),
                  BPT_ECLAIM, "does not bind");

    /* Under the pinned AMD roots the service key's evidence is refused. */
    bpt_verifier *pinned = NULL;
    assert_ok(bpt_verifier_new(&pinned, NULL, NULL));
    int rc = bpt_kx_client_send(&r, url, pinned, &secret, 1);
    assert_true(bpt_error_is_attestation(rc));
    bpt_verifier_free(pinned);

    bpt_kx_server_stop(srv);
    bpt_kx_service_free(svc);
    bpt_kx_store_free(store);
    fixture_dispose(&f);
}

static void test_service_key_needs_its_evidence(void **state)
{
    bpt_kx_service_options so = BPT_KX_SERVICE_OPTIONS_INIT;
    bpt_kx_service *svc = NULL;
    (void)state;
    so.binding = BPT_KX_BINDING_SERVICE_KEY;
    so.attest = failing_attest;
    assert_rc_msg(bpt_kx_service_new(&svc, &so), BPT_EIO, "attesting the service key");
    assert_null(svc);
    so.binding = (bpt_kx_binding)7;
    assert_rc_msg(bpt_kx_service_new(&svc, &so), BPT_EINVAL, "binding 7");
}

static void test_tampered_evidence_is_refused(void **state)
{
    struct fixture f = {.ao = BPT_ATTESTER_OPTS_INIT};
    bpt_kx_service_options so = BPT_KX_SERVICE_OPTIONS_INIT;
    bpt_kx_server_options ho = BPT_KX_SERVER_OPTIONS_INIT;
    bpt_kx_service *svc = NULL;
    bpt_kx_store *store = NULL;
    bpt_kx_server *srv = NULL;
    bpt_kx_client_result r = BPT_KX_CLIENT_RESULT_INIT;
    char url[64];
    static const bpt_kx_client_secret secret = {"api_token", (const uint8_t *)"s3cr3t", 6};
    (void)state;

    fixture_init(&f);
    for (int mode = 0; mode < 2; mode++) { /* per-session evidence, then service_key */
        so.binding = mode ? BPT_KX_BINDING_SERVICE_KEY : BPT_KX_BINDING_SESSION;
        so.attest = tampering_attest;
        so.attest_userdata = &f;
        assert_ok(bpt_kx_service_new(&svc, &so));
        assert_ok(bpt_kx_store_new(&store));
        ho.store = store;
        assert_ok(bpt_kx_server_start(&srv, svc, &ho));
        snprintf(url, sizeof(url), "http://127.0.0.1:%u", bpt_kx_server_port(srv));
        assert_rc_msg(bpt_kx_client_send(&r, url, f.verifier, &secret, 1), BPT_ESIGNATURE,
                      "report signature");
        assert_int_equal(bpt_kx_store_count(store), 0); /* nothing was sent */
        bpt_kx_server_stop(srv);
        bpt_kx_service_free(svc);
        bpt_kx_store_free(store);
    }
    fixture_dispose(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_service_key_round_trip),
        cmocka_unit_test(test_service_key_needs_its_evidence),
        cmocka_unit_test(test_tampered_evidence_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
