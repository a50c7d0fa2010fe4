/*
 * The gcp_confidential_space backend (src/runtime/remote/gcp_confidential_space.c) against a
 * loopback Google (helpers/gce_server.h): an OAuth2 token endpoint that verifies the service
 * account's RS256 JWT assertion, and Compute Engine v1 answering in its JSON shapes with
 * operations, every call's bearer token checked. Deploy -> running -> stop -> deploy again ->
 * destroy; the insert's body (Confidential VM, the launcher's metadata); idempotent deploy (the
 * requestId derived from the deployment id; a taken name adopted); throttling retried within the
 * deadline and refused past it; an expired token replaced once, refused tokens, a key the
 * server does not know, a wrong audience in the assertion; a deploy whose operation is still
 * running at the deadline, then resumed; the workload is `bpt serve --simulate gcp-confidential
 * --audience AUDIENCE` on 127.0.0.1 (the instances' networkIP): its Confidential Space token
 * verified with the config's audience and image digest before anything is sealed, and refused
 * (nothing sealed) for another image digest, another audience, another JWKS; `bpt deploy
 * --backend gcp_confidential_space`, status, attestation, pubkey, stop and destroy as the CLI
 * runs them, with no token or key in what it prints.
 */
#include "helpers/test.h"

#include "helpers/canned_http.h"
#include "helpers/gce_server.h"
#include "helpers/proc.h"
#include "helpers/remote_test.h"
#include "helpers/sim_fixture.h"

#include <stdlib.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "attester/sim/tokens.h"
#include "core/util.h"
#include "runtime/remote/remote.h"

#define AUDIENCE "https://bpt.example/gcp-test"
#define REPO "europe-docker.pkg.dev/" BPT_GCE_PROJECT "/bpt/"
#define DIGEST_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define DIGEST_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

struct fx {
    struct bpt_sim_fixture sim;
    struct bpt_test_proc serve; /* bpt serve --simulate gcp-confidential --audience AUDIENCE */
    struct bpt_gce_server *gce;
    bpt_verifier *verifier; /* the runtime's: the simulator's JWKS */
    bpt_verifier *sealer;   /* a sealing client's: also the audience and the image digest */
    char *dir;
    uint16_t plane_port;
    const char *digest;   /* the config's image_digest, or NULL */
    const char *audience; /* the config's audience */
    char config[4300], key[4300], state_dir[4300], policy[4300], jwks[4300], plane_url[64];
};

static const struct bpt_gce_knobs KNOBS = {.op_polls = 1, .staging_polls = 1};

static void write_config(struct fx *f, unsigned deploy_s, unsigned request_s, const char *extra)
{
    char text[6144];
    snprintf(text, sizeof(text),
             "{\"schema_version\":1,\"zone\":\"europe-west4-a\",\"machine_type\":"
             "\"n2d-standard-2\",\"audience\":\"%s\",\"credentials_file\":\"%s\","
             "\"endpoint\":\"http://127.0.0.1:%u/compute/v1\",\"plane_scheme\":\"http\","
             "\"key_exchange_port\":%u,\"deploy_timeout_s\":%u,\"request_timeout_s\":%u,"
             "\"poll_base_ms\":5,\"poll_max_ms\":40,\"image_repository\":\"" REPO "\"%s%s%s%s}",
             f->audience, f->key, bpt_gce_server_port(f->gce), f->plane_port, deploy_s, request_s,
             f->digest != NULL ? ",\"image_digest\":\"" : "", f->digest != NULL ? f->digest : "",
             f->digest != NULL ? "\"" : "", extra != NULL ? extra : "");
    bpt_remote_test_write(f->config, text);
}

/* A verifier trusting the simulator's JWKS @p jwks, with @p audience and @p digest if given. */
static bpt_verifier *verifier(struct fx *f, const char *jwks, const char *audience,
                              const char *digest)
{
    bpt_verify_ctx *ctx = bpt_sim_fixture_ctx(&f->sim, 0, NULL);
    bpt_policy *p = NULL;
    bpt_verifier *v = NULL;
    if (ctx == NULL || bpt_policy_new(&p) != 0 || bpt_policy_set_jwks_file(p, jwks) != 0 ||
        (audience != NULL && bpt_policy_set_expected_audience(p, audience) != 0) ||
        (digest != NULL && bpt_policy_set_expected_image_digest(p, digest) != 0) ||
        bpt_verifier_new(&v, ctx, p) != 0) {
        v = NULL;
    }
    bpt_policy_free(p);
    bpt_verify_ctx_free(ctx);
    return v;
}

static int group_setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    *state = f;
    if (f == NULL || bpt_sim_fixture_init(&f->sim) != 0) {
        return -1;
    }
    snprintf(f->jwks, sizeof(f->jwks), "%s/gcp-confidential/jwks.json", f->sim.dir);
    if ((f->verifier = verifier(f, f->jwks, NULL, NULL)) == NULL ||
        (f->sealer = verifier(f, f->jwks, AUDIENCE, BPT_SIM_GCP_IMAGE_DIGEST)) == NULL) {
        return -1;
    }
    /* the workload: the Confidential Space token from the simulated launcher, for AUDIENCE */
    const char *argv[] = {"serve",      "--simulate", "gcp-confidential", "--sim-dir",   f->sim.dir,
                          "--audience", AUDIENCE,     "--listen",         "127.0.0.1:0", NULL};
    if (bpt_remote_test_serve(&f->serve, argv, &f->plane_port, f->plane_url,
                              sizeof(f->plane_url)) != 0) {
        return -1;
    }
    if (bpt_gce_server_start(&f->gce, &KNOBS) != 0) {
        return -1;
    }
    f->dir = bpt_test_tmpdir();
    snprintf(f->config, sizeof(f->config), "%s/gcp.json", f->dir);
    snprintf(f->key, sizeof(f->key), "%s/sa-key.json", f->dir);
    snprintf(f->policy, sizeof(f->policy), "%s/policy.json", f->dir);
    char policy[4400];
    snprintf(policy, sizeof(policy), "{\"jwt\":{\"jwks_file\":\"%s\"}}", f->jwks);
    bpt_remote_test_write(f->policy, policy);
    setenv("BPT_GCP_CONFIDENTIAL_SPACE_CONFIG", f->config, 1);
    unsetenv("TEE_BACKEND");
    unsetenv("GOOGLE_APPLICATION_CREDENTIALS");
    unsetenv("CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE");
    return 0;
}

static int group_teardown(void **state)
{
    struct fx *f = *state;
    bpt_test_proc_kill(&f->serve);
    bpt_gce_server_stop(f->gce);
    bpt_verifier_free(f->verifier);
    bpt_verifier_free(f->sealer);
    if (f->dir != NULL) {
        bpt_remove_tree(f->dir);
        free(f->dir);
    }
    bpt_sim_fixture_dispose(&f->sim);
    free(f);
    return 0;
}

static int each_setup(void **state)
{
    struct fx *f = *state;
    static unsigned n;
    snprintf(f->state_dir, sizeof(f->state_dir), "%s/state%u", f->dir, n++);
    bpt_gce_server_set(f->gce, &KNOBS);
    f->digest = BPT_SIM_GCP_IMAGE_DIGEST;
    f->audience = AUDIENCE;
    if (bpt_gce_server_write_key(f->gce, f->key, false, NULL) != 0) {
        return -1;
    }
    write_config(f, 5, 5, NULL);
    return 0;
}

static bpt_runtime *open_rt(struct fx *f, const bpt_verifier *v)
{
    return bpt_remote_test_runtime(f->state_dir, "gcp_confidential_space", v);
}

static bpt_deploy_spec *spec(void)
{
    static const char json[] =
        "{\"name\":\"svc\",\"image\":\"/svc@sha256:"
        "1111111111111111111111111111111111111111111111111111111111111111\","
        "\"resources\":{\"cpus\":2,\"memory_mb\":1024},\"secrets\":[\"db_password\"]}";
    bpt_deploy_spec *s = NULL;
    assert_ok(bpt_deploy_spec_load_json(&s, json, strlen(json)));
    return s;
}

/* Deploy @p s (it must run) and destroy it. */
static void deploy_destroy(bpt_runtime *rt, const bpt_deploy_spec *s)
{
    bpt_deployment *d = NULL;
    assert_ok(bpt_runtime_deploy(&d, rt, s, NULL));
    assert_ok(bpt_runtime_destroy(rt, bpt_deployment_id(d)));
    bpt_deployment_free(d);
}

static void test_lifecycle(void **state)
{
    struct fx *f = *state;
    struct bpt_gce_stats st;
    bpt_runtime *rt = open_rt(f, f->verifier);
    bpt_deploy_spec *s = spec();
    bpt_deployment *d = NULL;

    assert_ok(bpt_runtime_deploy(&d, rt, s, NULL));
    char id[17], name[32], want[512];
    snprintf(id, sizeof(id), "%s", bpt_deployment_id(d));
    snprintf(name, sizeof(name), "bpt-%s", id);
    assert_string_equal(bpt_deployment_backend(d), "gcp_confidential_space");
    assert_int_equal(bpt_deployment_state(d), BPT_DEPLOY_RUNNING);
    bpt_deployment_free(d);
    bpt_gce_server_stats(f->gce, &st);
    assert_int_equal(st.created, 1);
    assert_int_equal(st.unauthenticated, 0);
    assert_int_equal(st.token_refused, 0);
    assert_string_equal(st.last_name, name);
    assert_string_equal(st.last_machine_type, "zones/europe-west4-a/machineTypes/n2d-standard-2");
    assert_string_equal(st.last_confidential, "SEV_SNP");
    assert_string_equal(st.last_source_image, "projects/confidential-space-images/global/images/"
                                              "family/confidential-space");
    assert_string_equal(st.last_image,
                        "europe-docker.pkg.dev/" BPT_GCE_PROJECT "/bpt/svc@sha256:"
                        "1111111111111111111111111111111111111111111111111111111111111111");
    assert_string_equal(st.last_restart, "Never");
    assert_string_equal(st.last_service_account, BPT_GCE_EMAIL);
    assert_true(st.last_secure_boot);
    assert_true(st.last_terminate);
    assert_false(st.last_public);
    snprintf(want, sizeof(want),
             "[\"bpt\",\"serve\",\"--audience\",\"" AUDIENCE "\",\"--listen\",\"0.0.0.0:%u\"]",
             f->plane_port);
    assert_string_equal(st.last_cmd, want);
    /* a UUID: 8-4-4-4-12 lowercase hex */
    assert_int_equal(strlen(st.last_request_id), 36);
    assert_true(st.last_request_id[8] == '-' && st.last_request_id[13] == '-' &&
                st.last_request_id[18] == '-' && st.last_request_id[23] == '-');

    /* the evidence: the token binds our nonce, names the audience and the image, verified */
    uint8_t nonce[32];
    memset(nonce, 0x5a, sizeof(nonce));
    bpt_verified *v = NULL;
    assert_ok(bpt_runtime_attestation(&v, rt, id, nonce, sizeof(nonce)));
    assert_int_equal(bpt_verified_provider(v), BPT_PROVIDER_GCP_CONFIDENTIAL);
    bpt_verified_free(v);
    assert_ok(bpt_runtime_status(&d, rt, id));
    assert_non_null(bpt_deployment_attestation_digest(d));
    bpt_deployment_free(d);
    bpt_kx_client_key key = BPT_KX_CLIENT_KEY_INIT;
    assert_ok(bpt_runtime_public_key(&key, rt, id));
    assert_string_equal(key.key_type, "x25519");
    /* sealed only after the evidence verified and bound the key */
    size_t stored = 0;
    assert_ok(bpt_remote_test_seal(f->plane_url, f->sealer, "db_password", &stored));
    assert_true(stored >= 1);

    /* stop (instances.stop, then TERMINATED), deploy again (instances.start), destroy */
    assert_ok(bpt_runtime_stop(rt, id));
    assert_int_equal(bpt_remote_test_state(rt, id), BPT_DEPLOY_STOPPED);
    bpt_gce_server_stats(f->gce, &st);
    assert_int_equal(st.stops, 1);
    assert_string_equal(st.last_status, "TERMINATED");
    assert_ok(bpt_runtime_deploy(&d, rt, s, NULL));
    assert_string_equal(bpt_deployment_id(d), id);
    bpt_deployment_free(d);
    bpt_gce_server_stats(f->gce, &st);
    assert_int_equal(st.starts, 1);
    assert_int_equal(st.created, 1);
    assert_string_equal(st.last_status, "RUNNING");
    assert_int_equal(bpt_remote_test_state(rt, id), BPT_DEPLOY_RUNNING);
    assert_ok(bpt_runtime_destroy(rt, id));
    bpt_gce_server_stats(f->gce, &st);
    assert_int_equal(st.deletes, 1);
    assert_int_equal(st.live, 0);
    assert_int_equal(bpt_remote_test_state(rt, id), BPT_DEPLOY_DESTROYED);
    bpt_deploy_spec_free(s);
    bpt_runtime_free(rt);
}

/*
 * A half-finished deploy (the insert's operation still RUNNING at the deadline, the instance
 * not listed yet: left as it is), resumed by deploying again: instances.get is still 404, so
 * the insert again. Compute remembers the requestId (the same operation answers, and
 * finishes), or, with @p forgot (as after its hour), finds the name taken: 409 alreadyExists,
 * the instance adopted. Either way one instance; deploying once more makes nothing new.
 */
static void half_finished_then_resumed(struct fx *f, bool forgot)
{
    struct bpt_gce_stats before, st;
    struct bpt_gce_knobs k = KNOBS;
    bpt_deploy_spec *s = spec();
    bpt_deployment *d = NULL;

    bpt_gce_server_stats(f->gce, &before);
    k.op_polls = 100000;
    k.hidden_gets = 100000;
    bpt_gce_server_set(f->gce, &k);
    write_config(f, 1, 5, NULL);
    bpt_runtime *rt = open_rt(f, f->verifier);
    assert_rc_msg(bpt_runtime_deploy(&d, rt, s, NULL), BPT_EBUSY,
                  "instances.insert: operation operation-");
    assert_non_null(strstr(bpt_error_last(), "still RUNNING when the deadline passed"));
    bpt_deployment **list = NULL;
    size_t n = 0;
    assert_ok(bpt_runtime_list(&list, &n, rt, false));
    assert_int_equal(n, 1);
    assert_int_equal(bpt_deployment_state(list[0]), BPT_DEPLOY_FAILED);
    char id[17], rid[64];
    snprintf(id, sizeof(id), "%s", bpt_deployment_id(list[0]));
    bpt_deployment_list_free(list, n);
    bpt_gce_server_stats(f->gce, &st);
    assert_int_equal(st.created - before.created, 1);
    snprintf(rid, sizeof(rid), "%s", st.last_request_id);

    k.op_polls = 2;
    k.hidden_gets = 1;
    k.forget_request_ids = forgot;
    bpt_gce_server_set(f->gce, &k);
    write_config(f, 5, 5, NULL);
    assert_ok(bpt_runtime_deploy(&d, rt, s, NULL));
    assert_string_equal(bpt_deployment_id(d), id);
    assert_int_equal(bpt_deployment_state(d), BPT_DEPLOY_RUNNING);
    bpt_deployment_free(d);
    bpt_gce_server_stats(f->gce, &st);
    assert_string_equal(st.last_request_id, rid);
    assert_int_equal(st.deduped - before.deduped, forgot ? 0 : 1);
    assert_int_equal(st.conflicts - before.conflicts, forgot ? 1 : 0);
    assert_int_equal(st.inserts - before.inserts, 2);
    assert_ok(bpt_runtime_deploy(&d, rt, s, NULL));
    assert_string_equal(bpt_deployment_id(d), id);
    bpt_deployment_free(d);
    bpt_gce_server_stats(f->gce, &st);
    assert_int_equal(st.inserts - before.inserts, 2);
    assert_int_equal(st.created - before.created, 1);
    assert_ok(bpt_runtime_destroy(rt, id));
    bpt_deploy_spec_free(s);
    bpt_runtime_free(rt);
}

static void test_resumed_by_request_id(void **state)
{
    half_finished_then_resumed(*state, false);
}

static void test_resumed_name_taken(void **state)
{
    half_finished_then_resumed(*state, true);
}

/* A stop whose operation is still running at the deadline (the instance STOPPING, or with
 * @p deprovisioning DEPROVISIONING); deploying again waits for the instance to be TERMINATED,
 * then starts it. */
static void stop_half_finished(struct fx *f, bool deprovisioning)
{
    struct bpt_gce_stats before, st;
    struct bpt_gce_knobs k = KNOBS;
    bpt_deploy_spec *s = spec();
    bpt_deployment *d = NULL;
    bpt_runtime *rt = open_rt(f, f->verifier);

    assert_ok(bpt_runtime_deploy(&d, rt, s, NULL));
    char id[17];
    snprintf(id, sizeof(id), "%s", bpt_deployment_id(d));
    bpt_deployment_free(d);
    bpt_gce_server_stats(f->gce, &before);
    k.op_polls = 100000;
    k.deprovisioning = deprovisioning;
    bpt_gce_server_set(f->gce, &k);
    write_config(f, 1, 5, NULL);
    assert_rc_msg(bpt_runtime_stop(rt, id), BPT_EBUSY, "instances.stop: operation operation-");
    bpt_gce_server_stats(f->gce, &st);
    assert_string_equal(st.last_status, deprovisioning ? "DEPROVISIONING" : "STOPPING");
    /* a second stop does not ask again: it waits */
    assert_rc_msg(bpt_runtime_stop(rt, id), BPT_EBUSY, "still");
    bpt_gce_server_stats(f->gce, &st);
    assert_int_equal(st.stops - before.stops, 1);
    k.op_polls = 2;
    bpt_gce_server_set(f->gce, &k);
    write_config(f, 5, 5, NULL);
    assert_ok(bpt_runtime_deploy(&d, rt, s, NULL));
    assert_string_equal(bpt_deployment_id(d), id);
    assert_int_equal(bpt_deployment_state(d), BPT_DEPLOY_RUNNING);
    bpt_deployment_free(d);
    bpt_gce_server_stats(f->gce, &st);
    assert_int_equal(st.stops - before.stops, 1);
    assert_int_equal(st.starts - before.starts, 1);
    assert_string_equal(st.last_status, "RUNNING");
    assert_ok(bpt_runtime_destroy(rt, id));
    bpt_deploy_spec_free(s);
    bpt_runtime_free(rt);
}

static void test_stop_half_finished(void **state)
{
    stop_half_finished(*state, false);
}

static void test_stop_deprovisioning(void **state)
{
    stop_half_finished(*state, true);
}

static void test_throttling(void **state)
{
    struct fx *f = *state;
    struct bpt_gce_stats before, st;
    struct bpt_gce_knobs k = KNOBS;
    bpt_deploy_spec *s = spec();
    bpt_deployment *d = NULL;

    /* 503 + Retry-After: 1, 429 + Retry-After: 0, 403 rateLimitExceeded, a token 503: retried */
    k.throttle_503 = 1;
    k.throttle_429 = 2;
    k.throttle_quota = 1;
    k.token_503 = 1;
    bpt_gce_server_set(f->gce, &k);
    bpt_gce_server_stats(f->gce, &before);
    bpt_runtime *rt = open_rt(f, f->verifier);
    int64_t t0 = bpt_mono_ms();
    assert_ok(bpt_runtime_deploy(&d, rt, s, NULL));
    int64_t took = bpt_mono_ms() - t0;
    assert_true(took >= 1000); /* the Retry-After: 1 was honoured */
    bpt_gce_server_stats(f->gce, &st);
    assert_int_equal(st.throttled - before.throttled, 5);
    assert_int_equal(st.created - before.created, 1);
    char id[17];
    snprintf(id, sizeof(id), "%s", bpt_deployment_id(d));
    bpt_deployment_free(d);

    /* throttled until the request deadline: refused naming Google's status and reason */
    k = KNOBS;
    k.throttle_quota = 1000000;
    bpt_gce_server_set(f->gce, &k);
    write_config(f, 5, 1, NULL);
    assert_rc_msg(bpt_runtime_stop(rt, id), BPT_EBUSY,
                  "gcp_confidential_space: instances.get: PERMISSION_DENIED/rateLimitExceeded: "
                  "Rate Limit Exceeded (still refused when the request deadline passed)");
    bpt_gce_server_set(f->gce, &KNOBS);
    assert_ok(bpt_runtime_destroy(rt, id));
    bpt_deploy_spec_free(s);
    bpt_runtime_free(rt);
}

/* Rewrite the key file at @p path with its private key encrypted under a passphrase. */
static void encrypt_key_file(const char *path)
{
    json_t *j = json_load_file(path, 0, NULL);
    const char *pem = json_string_value(json_object_get(j, "private_key"));
    assert_non_null(pem);
    BIO *in = BIO_new_mem_buf(pem, -1), *out = BIO_new(BIO_s_mem());
    EVP_PKEY *k = PEM_read_bio_PrivateKey(in, NULL, NULL, NULL);
    char *text = NULL;
    assert_non_null(k);
    assert_int_equal(
        PEM_write_bio_PKCS8PrivateKey(out, k, EVP_aes_128_cbc(), "pass", 4, NULL, NULL), 1);
    long n = BIO_get_mem_data(out, &text);
    assert_true(n > 0);
    assert_int_equal(json_object_set_new(j, "private_key", json_stringn(text, (size_t)n)), 0);
    assert_int_equal(json_dump_file(j, path, 0), 0);
    EVP_PKEY_free(k);
    BIO_free(in);
    BIO_free(out);
    json_decref(j);
}

static void test_credentials(void **state)
{
    struct fx *f = *state;
    struct bpt_gce_stats before, st;
    struct bpt_gce_knobs k = KNOBS;
    bpt_deploy_spec *s = spec();
    bpt_deployment *d = NULL;
    bpt_runtime *rt = open_rt(f, f->verifier);
    char text[4600];

    /* tokens that expire after two calls: each 401 gets one fresh token */
    bpt_gce_server_stats(f->gce, &before);
    k.token_uses = 2;
    bpt_gce_server_set(f->gce, &k);
    assert_ok(bpt_runtime_deploy(&d, rt, s, NULL));
    bpt_gce_server_stats(f->gce, &st);
    assert_true(st.unauthenticated - before.unauthenticated >= 1);
    assert_true(st.tokens - before.tokens >= 2);
    assert_ok(bpt_runtime_destroy(rt, bpt_deployment_id(d)));
    bpt_deployment_free(d);

    /* every token refused: one fresh token, then refusal naming Google's status */
    bpt_gce_server_stats(f->gce, &before);
    k = KNOBS;
    k.refuse_tokens = true;
    bpt_gce_server_set(f->gce, &k);
    assert_rc_msg(bpt_runtime_deploy(&d, rt, s, NULL), BPT_EEXPIRED,
                  "gcp_confidential_space: instances.get: UNAUTHENTICATED/authError: Request had "
                  "invalid authentication credentials");
    bpt_gce_server_stats(f->gce, &st);
    assert_int_equal(st.unauthenticated - before.unauthenticated, 2);
    assert_int_equal(st.tokens - before.tokens, 2);
    bpt_gce_server_set(f->gce, &KNOBS);

    /* a key the server does not know (its signature does not verify) */
    assert_int_equal(bpt_gce_server_write_key(f->gce, f->key, true, NULL), 0);
    assert_rc_msg(bpt_runtime_deploy(&d, rt, s, NULL), BPT_EINVAL,
                  "gcp_confidential_space: OAuth2 token: invalid_grant: Invalid JWT Signature.");
    /* a token_uri the server is not at under that name: the assertion's aud is refused */
    char uri[64];
    snprintf(uri, sizeof(uri), "http://localhost:%u/token", bpt_gce_server_port(f->gce));
    assert_int_equal(bpt_gce_server_write_key(f->gce, f->key, false, uri), 0);
    assert_rc_msg(bpt_runtime_deploy(&d, rt, s, NULL), BPT_EINVAL,
                  "invalid_grant: Invalid JWT audience.");
    /* a token_uri that is not https (nor loopback) */
    assert_int_equal(bpt_gce_server_write_key(f->gce, f->key, false, "http://oauth2.example/t"), 0);
    assert_rc_msg(bpt_runtime_deploy(&d, rt, s, NULL), BPT_EINVAL, "token_uri refused");
    bpt_gce_server_stats(f->gce, &st);
    assert_int_equal(st.created - before.created, 0);
    /* a token endpoint that does not answer: retried until the request deadline */
    snprintf(uri, sizeof(uri), "http://127.0.0.1:%u/token", bpt_closed_port());
    assert_int_equal(bpt_gce_server_write_key(f->gce, f->key, false, uri), 0);
    write_config(f, 5, 1, NULL);
    assert_rc_msg(bpt_runtime_deploy(&d, rt, s, NULL), BPT_EFETCH,
                  "gcp_confidential_space: OAuth2 token: unreachable until the deadline");
    /* an encrypted private key: refused, no passphrase asked for on the terminal */
    assert_int_equal(bpt_gce_server_write_key(f->gce, f->key, false, NULL), 0);
    encrypt_key_file(f->key);
    assert_rc_msg(bpt_runtime_deploy(&d, rt, s, NULL), BPT_EINVAL,
                  "\"private_key\" is encrypted (no passphrase is asked for");
    /* not a service account key */
    bpt_remote_test_write(f->key, "{\"type\":\"authorized_user\",\"client_id\":\"x\"}");
    assert_rc_msg(bpt_runtime_deploy(&d, rt, s, NULL), BPT_EINVAL,
                  "\"type\" is \"authorized_user\", not \"service_account\"");

    /* GOOGLE_APPLICATION_CREDENTIALS when the config names no file */
    char other[4400];
    snprintf(other, sizeof(other), "%s/adc.json", f->dir);
    assert_int_equal(bpt_gce_server_write_key(f->gce, other, false, NULL), 0);
    snprintf(text, sizeof(text),
             "{\"zone\":\"europe-west4-a\",\"machine_type\":\"n2d-standard-2\",\"audience\":"
             "\"" AUDIENCE "\",\"endpoint\":\"http://127.0.0.1:%u/compute/v1/\","
             "\"poll_base_ms\":5,\"image_repository\":\"" REPO "\"}",
             bpt_gce_server_port(f->gce));
    bpt_remote_test_write(f->config, text);
    assert_rc_msg(bpt_runtime_deploy(&d, rt, s, NULL), BPT_EINVAL,
                  "no credentials: name a service account key file");
    setenv("GOOGLE_APPLICATION_CREDENTIALS", other, 1);
    deploy_destroy(rt, s);
    unsetenv("GOOGLE_APPLICATION_CREDENTIALS");
    bpt_deploy_spec_free(s);
    bpt_runtime_free(rt);
}

/* Google's refusals carried: a permission the account lacks, an operation that failed. */
static void test_cloud_errors(void **state)
{
    struct fx *f = *state;
    struct bpt_gce_knobs k = KNOBS;
    bpt_deploy_spec *s = spec();
    bpt_deployment *d = NULL;
    bpt_runtime *rt = open_rt(f, f->verifier);

    k.deny_insert = true;
    bpt_gce_server_set(f->gce, &k);
    assert_rc_msg(bpt_runtime_deploy(&d, rt, s, NULL), BPT_EINVAL,
                  "gcp_confidential_space: instances.insert: PERMISSION_DENIED/forbidden: "
                  "Required 'compute.instances.create' permission");
    k = KNOBS;
    k.insert_fails = true;
    bpt_gce_server_set(f->gce, &k);
    assert_rc_msg(bpt_runtime_deploy(&d, rt, s, NULL), BPT_EBUSY,
                  "instances.insert: ZONE_RESOURCE_POOL_EXHAUSTED: The zone");
    bpt_gce_server_set(f->gce, &KNOBS);
    /* the failed insert is finished: the next deploy is a new request (another requestId) */
    struct bpt_gce_stats st;
    char failed_rid[64];
    bpt_gce_server_stats(f->gce, &st);
    snprintf(failed_rid, sizeof(failed_rid), "%s", st.last_request_id);
    /* the config's choices reach the insert: TDX, a public address, the restart policy */
    write_config(f, 5, 5,
                 ",\"confidential_instance_type\":\"TDX\",\"address\":\"public\","
                 "\"restart_policy\":\"OnFailure\",\"serve_command\":[\"serve\"],"
                 "\"project\":\"" BPT_GCE_PROJECT "\"");
    assert_ok(bpt_runtime_deploy(&d, rt, s, NULL));
    bpt_gce_server_stats(f->gce, &st);
    assert_string_not_equal(st.last_request_id, failed_rid);
    assert_string_equal(st.last_confidential, "TDX");
    assert_true(st.last_public);
    assert_string_equal(st.last_restart, "OnFailure");
    assert_non_null(strstr(st.last_cmd, "[\"serve\",\"--audience\""));
    assert_ok(bpt_runtime_destroy(rt, bpt_deployment_id(d)));
    bpt_deployment_free(d);
    bpt_deploy_spec_free(s);
    bpt_runtime_free(rt);
}

/* Deploy with the server answering out of shape (@p odd): refused with @p code naming @p msg,
 * nothing taken for success; then the deployment (if any) destroyed with sane answers. */
static void odd_deploy(struct fx *f, bpt_runtime *rt, unsigned odd, int code, const char *msg,
                       bool destroy)
{
    struct bpt_gce_knobs k = KNOBS;
    bpt_deploy_spec *s = spec();
    bpt_deployment *d = NULL, **list = NULL;
    size_t n = 0;
    k.odd = odd;
    bpt_gce_server_set(f->gce, &k);
    assert_rc_msg(bpt_runtime_deploy(&d, rt, s, NULL), code, msg);
    bpt_gce_server_set(f->gce, &KNOBS);
    assert_ok(bpt_runtime_list(&list, &n, rt, false));
    assert_int_equal(n, 1);
    assert_int_equal(bpt_deployment_state(list[0]), BPT_DEPLOY_FAILED);
    if (destroy) {
        assert_ok(bpt_runtime_destroy(rt, bpt_deployment_id(list[0])));
    }
    bpt_deployment_list_free(list, n);
    bpt_deploy_spec_free(s);
}

/* Answers that cannot be read as success are refused: the token's type, a page for JSON, an
 * operation's name (never a path), an unknown operation status, an error without errors[], an
 * instance without an IP address; control bytes in the cloud's error. */
static void test_odd_answers(void **state)
{
    struct fx *f = *state;
    struct bpt_gce_stats before, st;
    bpt_runtime *rt = open_rt(f, f->verifier);

    bpt_gce_server_stats(f->gce, &before);
    odd_deploy(f, rt, BPT_GCE_ODD_TOKEN, BPT_EPROTOCOL,
               "OAuth2 token: the answer holds no Bearer access_token", false);
    bpt_gce_server_stats(f->gce, &st);
    assert_int_equal(st.requests - before.requests, 1);
    /* the cloud's error code and message reach ours without their control bytes */
    odd_deploy(f, rt, BPT_GCE_ODD_ESCAPES, BPT_EINVAL,
               "OAuth2 token: invalid_grant [2J : refused ]0;title ", false);
    odd_deploy(f, rt, BPT_GCE_ODD_OP_NAME, BPT_EPROTOCOL,
               "instances.insert: the answer is no operation with a name of 1..127 bytes of "
               "[a-z0-9-]",
               false);
    bpt_gce_server_stats(f->gce, &st);
    assert_int_equal(st.op_gets - before.op_gets, 0);
    odd_deploy(f, rt, BPT_GCE_ODD_NOT_JSON, BPT_EPROTOCOL, "gcp_confidential_space: instances.get",
               true);
    odd_deploy(f, rt, BPT_GCE_ODD_OP_STATUS, BPT_EPROTOCOL, "has status 'ABORTING'", true);
    odd_deploy(f, rt, BPT_GCE_ODD_OP_ERROR, BPT_EPROTOCOL,
               "is DONE with an \"error\" that holds no errors[0] {code, message}: taken as "
               "failed",
               true);
    /* a running instance without the address the config names: no plane, no key */
    bpt_deploy_spec *s = spec();
    bpt_deployment *d = NULL;
    bpt_verified *v = NULL;
    bpt_kx_client_key key = BPT_KX_CLIENT_KEY_INIT;
    struct bpt_gce_knobs k = KNOBS;
    assert_ok(bpt_runtime_deploy(&d, rt, s, NULL));
    k.no_address = true;
    bpt_gce_server_set(f->gce, &k);
    assert_rc_msg(bpt_runtime_attestation(&v, rt, bpt_deployment_id(d), NULL, 0), BPT_EPROTOCOL,
                  "reports no private (networkIP) IP address");
    assert_rc_msg(bpt_runtime_public_key(&key, rt, bpt_deployment_id(d)), BPT_EPROTOCOL,
                  "reports no private (networkIP) IP address");
    bpt_gce_server_set(f->gce, &KNOBS);
    assert_ok(bpt_runtime_destroy(rt, bpt_deployment_id(d)));
    bpt_deployment_free(d);
    bpt_deploy_spec_free(s);
    bpt_gce_server_stats(f->gce, &st);
    assert_int_equal(st.live, before.live);
    bpt_runtime_free(rt);
}

static void test_config_refused(void **state)
{
    struct fx *f = *state;
    bpt_deploy_spec *s = spec();
    bpt_deployment *d = NULL;
    bpt_runtime *rt = open_rt(f, f->verifier);
    static const struct {
        const char *extra, *msg;
    } bad[] = {
        {",\"bogus\":1", "unknown key 'bogus'"},
        {",\"schema_version\":2", "schema_version 2 is not one this version reads"},
        {",\"confidential_instance_type\":\"SEV\"",
         "\"confidential_instance_type\" is one of SEV_SNP, TDX"},
        {",\"image_digest\":\"sha256:abc\"", "\"image_digest\" must be sha256: and 64"},
        {",\"project\":\"Bad_Project\"", "\"project\" must be 1..63 bytes of [a-z0-9] and '-'"},
        {",\"key_exchange_port\":0", "\"key_exchange_port\" must be an integer 1..65535"},
        {",\"serve_command\":[]", "\"serve_command\" must hold 1..8 strings"},
        {",\"address\":\"both\"", "\"address\" is one of private, public"},
        {",\"endpoint\":\"http://compute.example/\"", "endpoint refused"},
    };
    char text[6144];
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(text, sizeof(text),
                 "{\"zone\":\"europe-west4-a\",\"machine_type\":\"n2d-standard-2\",\"audience\":"
                 "\"a\",\"image_repository\":\"r\",\"credentials_file\":\"%s\"%s}",
                 f->key, bad[i].extra);
        bpt_remote_test_write(f->config, text);
        assert_rc_msg(bpt_runtime_deploy(&d, rt, s, NULL), BPT_EINVAL, bad[i].msg);
    }
    bpt_remote_test_write(f->config,
                          "{\"zone\":\"europe-west4-a\",\"machine_type\":\"n2d-standard-2\","
                          "\"image_repository\":\"r\"}");
    assert_rc_msg(bpt_runtime_deploy(&d, rt, s, NULL), BPT_EINVAL, "missing field 'audience'");
    /* the endpoint from gcloud's override when the config has none */
    snprintf(text, sizeof(text),
             "{\"zone\":\"europe-west4-a\",\"machine_type\":\"n2d-standard-2\",\"audience\":\"a\","
             "\"image_repository\":\"r\",\"credentials_file\":\"%s\",\"poll_base_ms\":5}",
             f->key);
    bpt_remote_test_write(f->config, text);
    char ep[64];
    snprintf(ep, sizeof(ep), "http://127.0.0.1:%u/compute/v1/", bpt_gce_server_port(f->gce));
    setenv("CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE", ep, 1);
    deploy_destroy(rt, s);
    unsetenv("CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE");
    bpt_deploy_spec_free(s);
    bpt_runtime_free(rt);
}

/* The verifier the backend makes: the config's audience and image digest, or refusals. */
static void test_verifier_refused(void **state)
{
    struct fx *f = *state;
    bpt_deploy_spec *s = spec();
    bpt_deployment *d = NULL;
    bpt_verified *v = NULL;
    bpt_kx_client_key key = BPT_KX_CLIENT_KEY_INIT;
    bpt_policy *other_aud = NULL, *other_digest = NULL;
    bpt_verify_ctx *ctx = NULL;
    bpt_verifier *v_aud = NULL, *v_digest = NULL;

    /* no image digest anywhere: any container could answer for the audience */
    f->digest = NULL;
    write_config(f, 5, 5, NULL);
    bpt_runtime *rt = open_rt(f, f->verifier);
    assert_ok(bpt_runtime_deploy(&d, rt, s, NULL));
    char id[17];
    snprintf(id, sizeof(id), "%s", bpt_deployment_id(d));
    bpt_deployment_free(d);
    assert_rc_msg(bpt_runtime_attestation(&v, rt, id, NULL, 0), BPT_EINVAL,
                  "no image digest to expect");
    assert_rc_msg(bpt_runtime_public_key(&key, rt, id), BPT_EINVAL, "no image digest to expect");
    bpt_runtime_free(rt);

    /* the policy's audience or digest differs from the config's: refused naming both */
    write_config(f, 5, 5, ",\"image_digest\":\"sha256:" DIGEST_A "\"");
    assert_ok(bpt_policy_new(&other_aud));
    assert_ok(bpt_policy_set_expected_audience(other_aud, "https://other.example"));
    assert_ok(bpt_policy_new(&other_digest));
    assert_ok(bpt_policy_set_expected_image_digest(other_digest, "sha256:" DIGEST_B));
    assert_non_null(ctx = bpt_sim_fixture_ctx(&f->sim, 0, NULL));
    assert_ok(bpt_verifier_new(&v_aud, ctx, other_aud));
    assert_ok(bpt_verifier_new(&v_digest, ctx, other_digest));
    rt = open_rt(f, v_aud);
    assert_rc_msg(bpt_runtime_attestation(&v, rt, id, NULL, 0), BPT_EINVAL,
                  "the config's audience '" AUDIENCE "' and the policy's expected_audience "
                  "'https://other.example' differ");
    bpt_runtime_free(rt);
    rt = open_rt(f, v_digest);
    assert_rc_msg(bpt_runtime_public_key(&key, rt, id), BPT_EINVAL,
                  "the config's image_digest sha256:" DIGEST_A " and the policy's "
                  "expected_image_digest sha256:" DIGEST_B " differ");
    /* no verifier at all: no key */
    bpt_runtime_free(rt);
    rt = open_rt(f, NULL);
    assert_rc_msg(bpt_runtime_public_key(&key, rt, id), BPT_EINVAL, "the runtime has no verifier");
    assert_ok(bpt_runtime_destroy(rt, id));
    bpt_runtime_free(rt);
    bpt_verifier_free(v_aud);
    bpt_verifier_free(v_digest);
    bpt_verify_ctx_free(ctx);
    bpt_policy_free(other_aud);
    bpt_policy_free(other_digest);
    bpt_deploy_spec_free(s);
}

/* Evidence that does not verify: nothing sealed, no key given. */
static void test_evidence_refused(void **state)
{
    struct fx *f = *state;
    bpt_deploy_spec *s = spec();
    bpt_deployment *d = NULL;
    bpt_verified *v = NULL;
    bpt_kx_client_key key = BPT_KX_CLIENT_KEY_INIT;
    size_t stored = 0;
    char maa_jwks[4400];

    bpt_runtime *rt = open_rt(f, f->verifier);
    assert_ok(bpt_runtime_deploy(&d, rt, s, NULL));
    char id[17];
    snprintf(id, sizeof(id), "%s", bpt_deployment_id(d));
    bpt_deployment_free(d);
    /* another image than the workload's */
    f->digest = "sha256:" DIGEST_A;
    write_config(f, 5, 5, NULL);
    assert_rc_msg(bpt_runtime_attestation(&v, rt, id, NULL, 0), BPT_ECLAIM, "image");
    assert_rc_msg(bpt_runtime_public_key(&key, rt, id), BPT_ECLAIM, "image");
    assert_ok(bpt_runtime_status(&d, rt, id));
    assert_null(bpt_deployment_attestation_digest(d));
    bpt_deployment_free(d);
    /* another audience than the workload's tokens name */
    f->digest = BPT_SIM_GCP_IMAGE_DIGEST;
    f->audience = "https://other.example";
    write_config(f, 5, 5, NULL);
    assert_rc_msg(bpt_runtime_attestation(&v, rt, id, NULL, 0), BPT_ECLAIM, "aud");
    bpt_runtime_free(rt);
    /* the JWKS of another key: the simulated MAA's, under the GCP key's kid */
    f->audience = AUDIENCE;
    write_config(f, 5, 5, NULL);
    char path[4400], *text = NULL, *kid = NULL;
    size_t len = 0;
    snprintf(path, sizeof(path), "%s/azure-maa/jwks.json", f->sim.dir);
    assert_non_null(text = (char *)bpt_test_read_file(path, &len));
    assert_non_null(kid = strstr(text, "bpt-sim-maa-1"));
    memcpy(kid, "bpt-sim-gcp-1", 13);
    snprintf(maa_jwks, sizeof(maa_jwks), "%s/other-jwks.json", f->dir);
    bpt_remote_test_write(maa_jwks, text);
    free(text);
    bpt_verifier *other = verifier(f, maa_jwks, AUDIENCE, BPT_SIM_GCP_IMAGE_DIGEST);
    bpt_verifier *wrong_digest = verifier(f, f->jwks, AUDIENCE, "sha256:" DIGEST_A);
    assert_non_null(other);
    assert_non_null(wrong_digest);
    rt = open_rt(f, other);
    assert_rc_msg(bpt_runtime_attestation(&v, rt, id, NULL, 0), BPT_ESIGNATURE, "signature");
    assert_rc_msg(bpt_runtime_public_key(&key, rt, id), BPT_ESIGNATURE, "signature");

    /* nothing sealed: the workload keeps the first value of a name, and the names the refused
     * seals used are still free for the trusting client */
    assert_rc_msg(bpt_remote_test_seal(f->plane_url, wrong_digest, "leak_one", &stored), BPT_ECLAIM,
                  "image");
    assert_rc_msg(bpt_remote_test_seal(f->plane_url, other, "leak_two", &stored), BPT_ESIGNATURE,
                  "signature");
    assert_ok(bpt_remote_test_seal(f->plane_url, f->sealer, "leak_one", &stored));
    assert_int_equal(stored, 1);
    assert_ok(bpt_remote_test_seal(f->plane_url, f->sealer, "leak_two", &stored));
    assert_int_equal(stored, 1);
    assert_ok(bpt_runtime_destroy(rt, id));
    bpt_runtime_free(rt);
    bpt_verifier_free(other);
    bpt_verifier_free(wrong_digest);
    bpt_deploy_spec_free(s);
}

/* The CLI: `bpt deploy --backend gcp_confidential_space`, stop, destroy; nothing secret said. */
static void test_cli(void **state)
{
    struct fx *f = *state;
    char spec_path[4400], *out = NULL, *err = NULL, id[17] = "";
    struct bpt_gce_stats before, st;
    snprintf(spec_path, sizeof(spec_path), "%s/cli-spec.json", f->dir);
    bpt_remote_test_write(spec_path, "{\"name\":\"cli\",\"image\":\"/cli:1\"}");
    bpt_gce_server_stats(f->gce, &before);
    setenv("BPT_LOG", "debug", 1);
    {
        const char *argv[] = {"deploy",     "--json",    "--state-dir",
                              f->state_dir, "--backend", "gcp_confidential_space",
                              spec_path,    NULL};
        assert_int_equal(bpt_test_run_cli_err(&out, &err, argv), 0);
    }
    const char *p = strstr(out, "\"id\":\"");
    assert_non_null(p);
    memcpy(id, p + 6, 16);
    assert_non_null(strstr(out, "\"backend\":\"gcp_confidential_space\""));
    assert_non_null(strstr(out, "\"state\":\"running\""));
    bpt_gce_server_stats(f->gce, &st);
    assert_int_equal(st.created - before.created, 1);
    /* neither the token, nor the key, nor an assertion in what it printed */
    assert_null(strstr(out, st.last_token));
    assert_null(strstr(err, st.last_token));
    assert_null(strstr(err, "PRIVATE KEY"));
    assert_null(strstr(err, "eyJ"));
    free(out);
    free(err);
    {
        const char *argv[] = {"status", "--state-dir", f->state_dir, id, NULL};
        assert_int_equal(bpt_test_run_cli_err(NULL, NULL, argv), 0);
    }
    {
        const char *argv[] = {"attestation", "--state-dir", f->state_dir, "--policy", f->policy, id,
                              NULL};
        assert_int_equal(bpt_test_run_cli_err(NULL, NULL, argv), 0);
    }
    {
        const char *argv[] = {"pubkey", "--state-dir", f->state_dir, "--policy", f->policy,
                              id,       NULL};
        assert_int_equal(bpt_test_run_cli_err(&out, NULL, argv), 0);
        assert_non_null(strstr(out, "x25519 "));
        free(out);
    }
    /* seal to it by its id (the plane's URL from Compute): with a policy naming the audience
     * and image digest; with one naming neither, refused before anything is sent */
    {
        char bound[4400], text[4800];
        snprintf(bound, sizeof(bound), "%s/seal-policy.json", f->dir);
        snprintf(text, sizeof(text),
                 "{\"jwt\":{\"jwks_file\":\"%s\"},\"expected_audience\":\"" AUDIENCE "\","
                 "\"expected_image_digest\":\"" BPT_SIM_GCP_IMAGE_DIGEST "\"}",
                 f->jwks);
        bpt_remote_test_write(bound, text);
        assert_int_equal(bpt_remote_test_seal_cli(&out, &err, f->state_dir, id, "--policy", bound,
                                                  "gcp_cli_secret"),
                         0);
        assert_non_null(strstr(out, "seal: secret 'gcp_cli_secret' sealed"));
        free(out);
        free(err);
        assert_int_equal(bpt_remote_test_seal_cli(&out, &err, f->state_dir, id, "--policy",
                                                  f->policy, "gcp_unbound"),
                         1);
        assert_non_null(strstr(err, "not bound to this relying party"));
        free(out);
        free(err);
    }
    {
        const char *argv[] = {"stop", "--state-dir", f->state_dir, id, NULL};
        assert_int_equal(bpt_test_run_cli_err(NULL, NULL, argv), 0);
    }
    {
        const char *argv[] = {"destroy", "--state-dir", f->state_dir, id, NULL};
        assert_int_equal(bpt_test_run_cli_err(NULL, NULL, argv), 0);
    }
    bpt_gce_server_stats(f->gce, &st);
    assert_int_equal(st.deletes - before.deletes, 1);
    /* refused credentials: exit 1 (refused), Google's error in the message */
    assert_int_equal(bpt_gce_server_write_key(f->gce, f->key, true, NULL), 0);
    {
        const char *argv[] = {
            "deploy",  "--state-dir", f->state_dir, "--backend", "gcp_confidential_space",
            spec_path, NULL};
        int ex = bpt_test_run_cli_err(NULL, &err, argv);
        assert_non_null(strstr(err, "invalid_grant: Invalid JWT Signature."));
        assert_null(strstr(err, "eyJ"));
        assert_int_equal(ex, 1);
        free(err);
    }
    unsetenv("BPT_LOG");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_lifecycle, each_setup),
        cmocka_unit_test_setup(test_resumed_by_request_id, each_setup),
        cmocka_unit_test_setup(test_resumed_name_taken, each_setup),
        cmocka_unit_test_setup(test_stop_half_finished, each_setup),
        cmocka_unit_test_setup(test_stop_deprovisioning, each_setup),
        cmocka_unit_test_setup(test_throttling, each_setup),
        cmocka_unit_test_setup(test_credentials, each_setup),
        cmocka_unit_test_setup(test_cloud_errors, each_setup),
        cmocka_unit_test_setup(test_odd_answers, each_setup),
        cmocka_unit_test_setup(test_config_refused, each_setup),
        cmocka_unit_test_setup(test_verifier_refused, each_setup),
        cmocka_unit_test_setup(test_evidence_refused, each_setup),
        cmocka_unit_test_setup(test_cli, each_setup),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
