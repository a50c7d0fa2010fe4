/*
 * The aws_nitro backend (src/runtime/remote/aws_nitro.c) against a loopback EC2 that answers in
 * the Query API's XML and recomputes every SigV4 signature (helpers/ec2_server.h), its instances'
 * address pointing at a `bpt serve --simulate aws-nitro` on 127.0.0.1: deploy -> running ->
 * attestation verifies -> seal -> stop -> deploy again -> destroy; idempotent deploy (one
 * instance per client token); throttling retried within the deadline and refused past it;
 * refused credentials naming EC2's code (ExpiredToken, AuthFailure, SignatureDoesNotMatch); the
 * shared credentials file; a deploy left pending past its deadline, then resumed; evidence that
 * does not verify (a wrong PCR0, a wrong root): nothing sealed; `bpt deploy --backend aws_nitro`,
 * stop and destroy as the CLI runs them. Also the XML reader's refusals.
 */
#include "helpers/test.h"

#include "helpers/ec2_server.h"
#include "helpers/proc.h"
#include "helpers/remote_test.h"
#include "helpers/sim_fixture.h"

#include <stdlib.h>
#include <unistd.h>

#include "core/util.h"
#include "runtime/remote/remote.h"

#define KEY_ID "AKIDEXAMPLE0000BPT01"
#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"

struct fx {
    struct bpt_sim_fixture sim;
    struct bpt_test_proc serve;
    uint16_t plane_port;
    struct bpt_ec2_server *ec2;
    bpt_verifier *verifier; /* trusts the simulator's root */
    char *dir;
    char config[4300], state_dir[4300], plane_url[64];
};

static const struct bpt_ec2_knobs KNOBS = {.key_id = KEY_ID, .secret = SECRET};

static void write_config(struct fx *f, unsigned deploy_s, unsigned request_s)
{
    char text[1024];
    snprintf(text, sizeof(text),
             "{\"schema_version\":1,\"region\":\"us-east-1\",\"instance_type\":\"m5.xlarge\","
             "\"image_id\":\"ami-0abcdef1234567890\",\"endpoint\":\"http://127.0.0.1:%u/\","
             "\"subnet_id\":\"subnet-0123\",\"security_group_ids\":[\"sg-1a2b3c4d\"],"
             "\"plane_scheme\":\"http\",\"key_exchange_port\":%u,\"deploy_timeout_s\":%u,"
             "\"request_timeout_s\":%u,\"poll_base_ms\":5,\"poll_max_ms\":40}",
             bpt_ec2_server_port(f->ec2), f->plane_port, deploy_s, request_s);
    bpt_remote_test_write(f->config, text);
}

static int group_setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    bpt_verify_ctx *ctx = NULL;
    *state = f;
    if (f == NULL || bpt_sim_fixture_init(&f->sim) != 0 ||
        !(ctx = bpt_sim_fixture_ctx(&f->sim, 0, NULL)) ||
        bpt_verifier_new(&f->verifier, ctx, NULL) != 0) {
        return -1;
    }
    bpt_verify_ctx_free(ctx);
    const char *argv[] = {"serve",    "--simulate", "aws-nitro",   "--sim-dir",
                          f->sim.dir, "--listen",   "127.0.0.1:0", NULL};
    if (bpt_remote_test_serve(&f->serve, argv, &f->plane_port, f->plane_url,
                              sizeof(f->plane_url)) != 0) {
        return -1;
    }
    if (bpt_ec2_server_start(&f->ec2, &KNOBS) != 0) {
        return -1;
    }
    f->dir = bpt_test_tmpdir();
    snprintf(f->config, sizeof(f->config), "%s/aws_nitro.json", f->dir);
    setenv("BPT_AWS_NITRO_CONFIG", f->config, 1);
    unsetenv("TEE_BACKEND");
    unsetenv("AWS_ENDPOINT_URL_EC2");
    unsetenv("AWS_ENDPOINT_URL");
    return 0;
}

static int group_teardown(void **state)
{
    struct fx *f = *state;
    bpt_test_proc_kill(&f->serve);
    bpt_ec2_server_stop(f->ec2);
    bpt_verifier_free(f->verifier);
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
    bpt_ec2_server_set(f->ec2, &KNOBS);
    setenv("AWS_ACCESS_KEY_ID", KEY_ID, 1);
    setenv("AWS_SECRET_ACCESS_KEY", SECRET, 1);
    unsetenv("AWS_SESSION_TOKEN");
    unsetenv("AWS_SHARED_CREDENTIALS_FILE");
    unsetenv("AWS_PROFILE");
    write_config(f, 5, 5);
    return 0;
}

static bpt_deploy_spec *spec(void)
{
    static const char json[] = "{\"name\":\"svc\",\"image\":\"/opt/bpt/svc.eif\","
                               "\"resources\":{\"cpus\":2,\"memory_mb\":1024},"
                               "\"secrets\":[\"db_password\"]}";
    bpt_deploy_spec *s = NULL;
    assert_ok(bpt_deploy_spec_load_json(&s, json, strlen(json)));
    return s;
}

static void test_lifecycle(void **state)
{
    struct fx *f = *state;
    struct bpt_ec2_stats st;
    bpt_runtime *rt = bpt_remote_test_runtime(f->state_dir, "aws_nitro", f->verifier);
    bpt_deploy_spec *s = spec();
    bpt_deployment *d = NULL;

    assert_ok(bpt_runtime_deploy(&d, rt, s, NULL));
    char id[17];
    snprintf(id, sizeof(id), "%s", bpt_deployment_id(d));
    assert_string_equal(bpt_deployment_backend(d), "aws_nitro");
    assert_int_equal(bpt_deployment_state(d), BPT_DEPLOY_RUNNING);
    bpt_deployment_free(d);
    bpt_ec2_server_stats(f->ec2, &st);
    assert_int_equal(st.created, 1);
    assert_true(st.last_enclave);
    assert_non_null(strstr(st.last_user_data, "nitro-cli run-enclave --eif-path "
                                              "'/opt/bpt/svc.eif' --cpu-count 2 --memory 1024"));
    assert_non_null(strstr(st.last_user_data, "VSOCK-CONNECT:16:"));
    assert_int_equal(st.refused, 0);

    /* the evidence: our nonce, verified, its digest in the store; then a seal */
    bpt_remote_test_evidence(rt, id, f->plane_url, f->verifier, BPT_PROVIDER_AWS_NITRO);

    /* stop, deploy again (StartInstances), destroy (TerminateInstances) */
    assert_ok(bpt_runtime_stop(rt, id));
    assert_int_equal(bpt_remote_test_state(rt, id), BPT_DEPLOY_STOPPED);
    bpt_ec2_server_stats(f->ec2, &st);
    assert_int_equal(st.stops, 1);
    assert_string_equal(st.last_state, "stopped");
    assert_ok(bpt_runtime_deploy(&d, rt, s, NULL));
    assert_string_equal(bpt_deployment_id(d), id);
    bpt_deployment_free(d);
    bpt_ec2_server_stats(f->ec2, &st);
    assert_int_equal(st.starts, 1);
    assert_int_equal(st.created, 1);
    assert_int_equal(bpt_remote_test_state(rt, id), BPT_DEPLOY_RUNNING);
    assert_ok(bpt_runtime_destroy(rt, id));
    bpt_ec2_server_stats(f->ec2, &st);
    assert_int_equal(st.terminates, 1);
    assert_int_equal(st.live, 0);
    assert_int_equal(bpt_remote_test_state(rt, id), BPT_DEPLOY_DESTROYED);
    bpt_deploy_spec_free(s);
    bpt_runtime_free(rt);
}

static void test_idempotent_and_resumed(void **state)
{
    struct fx *f = *state;
    struct bpt_ec2_stats before, st;
    struct bpt_ec2_knobs k = KNOBS;
    bpt_deploy_spec *s = spec();
    bpt_deployment *d = NULL;

    bpt_ec2_server_stats(f->ec2, &before);
    /* half-finished: the instance stays pending past the deploy deadline, and is left */
    k.pending_polls = 100000;
    bpt_ec2_server_set(f->ec2, &k);
    write_config(f, 1, 5);
    bpt_runtime *rt = bpt_remote_test_runtime(f->state_dir, "aws_nitro", f->verifier);
    assert_rc_msg(bpt_runtime_deploy(&d, rt, s, NULL), BPT_EBUSY,
                  "still pending, not running, when the deadline passed");
    bpt_deployment **list = NULL;
    size_t n = 0;
    assert_ok(bpt_runtime_list(&list, &n, rt, false));
    assert_int_equal(n, 1);
    assert_int_equal(bpt_deployment_state(list[0]), BPT_DEPLOY_FAILED);
    char id[17];
    snprintf(id, sizeof(id), "%s", bpt_deployment_id(list[0]));
    bpt_deployment_list_free(list, n);
    bpt_ec2_server_stats(f->ec2, &st);
    assert_int_equal(st.created - before.created, 1);
    assert_int_equal(st.live - before.live, 1);

    /* resumed: the same deployment, the same instance (its client token), now running */
    k.pending_polls = 1;
    bpt_ec2_server_set(f->ec2, &k);
    write_config(f, 5, 5);
    assert_ok(bpt_runtime_deploy(&d, rt, s, NULL));
    assert_string_equal(bpt_deployment_id(d), id);
    assert_int_equal(bpt_deployment_state(d), BPT_DEPLOY_RUNNING);
    bpt_deployment_free(d);
    /* idempotent: deploying the same spec again makes nothing new */
    assert_ok(bpt_runtime_deploy(&d, rt, s, NULL));
    assert_string_equal(bpt_deployment_id(d), id);
    bpt_deployment_free(d);
    bpt_ec2_server_stats(f->ec2, &st);
    assert_int_equal(st.created - before.created, 1);
    assert_int_equal(st.runs - before.runs, 1);
    assert_ok(bpt_runtime_destroy(rt, id));
    bpt_deploy_spec_free(s);
    bpt_runtime_free(rt);
}

static void test_throttling(void **state)
{
    struct fx *f = *state;
    struct bpt_ec2_stats before, st;
    struct bpt_ec2_knobs k = KNOBS;
    bpt_deploy_spec *s = spec();
    bpt_deployment *d = NULL;

    /* 503 with Retry-After: 1, 429 with Retry-After: 0, RequestLimitExceeded: all retried */
    k.throttle_503 = 1;
    k.throttle_429 = 2;
    k.throttle_limit = 2;
    k.unlisted_polls = 2; /* and the new instance is not listed at once: polled, not re-run */
    bpt_ec2_server_set(f->ec2, &k);
    bpt_ec2_server_stats(f->ec2, &before);
    bpt_runtime *rt = bpt_remote_test_runtime(f->state_dir, "aws_nitro", f->verifier);
    int64_t t0 = bpt_mono_ms();
    assert_ok(bpt_runtime_deploy(&d, rt, s, NULL));
    int64_t took = bpt_mono_ms() - t0;
    assert_true(took >= 1000); /* the Retry-After: 1 was honoured */
    bpt_ec2_server_stats(f->ec2, &st);
    assert_int_equal(st.throttled - before.throttled, 5);
    assert_int_equal(st.created - before.created, 1);
    assert_int_equal(st.runs - before.runs, 1);
    assert_true(st.describes - before.describes >= 4);
    char id[17];
    snprintf(id, sizeof(id), "%s", bpt_deployment_id(d));
    bpt_deployment_free(d);

    /* throttled until the request deadline: refused naming EC2's code */
    k.throttle_503 = k.throttle_429 = 0;
    k.throttle_limit = 1000000;
    bpt_ec2_server_set(f->ec2, &k);
    write_config(f, 5, 1);
    assert_rc_msg(bpt_runtime_stop(rt, id), BPT_EBUSY,
                  "aws_nitro: DescribeInstances: RequestLimitExceeded: Request limit exceeded. "
                  "(still refused when the request deadline passed)");
    k.throttle_limit = 0;
    bpt_ec2_server_set(f->ec2, &k);
    assert_ok(bpt_runtime_destroy(rt, id));
    bpt_deploy_spec_free(s);
    bpt_runtime_free(rt);
}

static void test_credentials(void **state)
{
    struct fx *f = *state;
    struct bpt_ec2_stats before, st;
    struct bpt_ec2_knobs k = KNOBS;
    bpt_deploy_spec *s = spec();
    bpt_deployment *d = NULL;
    bpt_runtime *rt = bpt_remote_test_runtime(f->state_dir, "aws_nitro", f->verifier);

    bpt_ec2_server_stats(f->ec2, &before);
    /* an expired session token */
    k.token = "FwoGZXIvYXdzEXAMPLETOKEN";
    k.token_expired = true;
    bpt_ec2_server_set(f->ec2, &k);
    setenv("AWS_SESSION_TOKEN", k.token, 1);
    assert_rc_msg(bpt_runtime_deploy(&d, rt, s, NULL), BPT_EEXPIRED,
                  "aws_nitro: DescribeInstances: ExpiredToken: The security token included in "
                  "the request is expired");
    /* no token where the server wants one */
    k.token_expired = false;
    bpt_ec2_server_set(f->ec2, &k);
    unsetenv("AWS_SESSION_TOKEN");
    assert_rc_msg(bpt_runtime_deploy(&d, rt, s, NULL), BPT_EINVAL, "AuthFailure");
    /* a key the server does not know; a wrong secret */
    bpt_ec2_server_set(f->ec2, &KNOBS);
    setenv("AWS_ACCESS_KEY_ID", "AKIDUNKNOWN000000000", 1);
    assert_rc_msg(bpt_runtime_deploy(&d, rt, s, NULL), BPT_EINVAL,
                  "AuthFailure: AWS was not able to validate the provided access credentials");
    setenv("AWS_ACCESS_KEY_ID", KEY_ID, 1);
    setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret", 1);
    assert_rc_msg(bpt_runtime_deploy(&d, rt, s, NULL), BPT_EINVAL, "SignatureDoesNotMatch");
    bpt_ec2_server_stats(f->ec2, &st);
    assert_int_equal(st.refused - before.refused, 4);
    assert_int_equal(st.created - before.created, 0);

    /* the shared credentials file, a named profile, a session token from it */
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    char path[4400];
    snprintf(path, sizeof(path), "%s/credentials", f->dir);
    bpt_remote_test_write(path,
                          "[default]\naws_access_key_id = AKIDWRONG\naws_secret_access_key = x\n\n"
                          "# the one the test uses\n[bpt-test]\naws_access_key_id = " KEY_ID
                          "\naws_secret_access_key = " SECRET "\naws_session_token = tok-123\n");
    k = KNOBS;
    k.token = "tok-123";
    bpt_ec2_server_set(f->ec2, &k);
    setenv("AWS_SHARED_CREDENTIALS_FILE", path, 1);
    setenv("AWS_PROFILE", "nope", 1);
    assert_rc_msg(bpt_runtime_deploy(&d, rt, s, NULL), BPT_EINVAL, "profile 'nope' in");
    setenv("AWS_PROFILE", "bpt-test", 1);
    assert_ok(bpt_runtime_deploy(&d, rt, s, NULL));
    assert_ok(bpt_runtime_destroy(rt, bpt_deployment_id(d)));
    bpt_deployment_free(d);
    bpt_deploy_spec_free(s);
    bpt_runtime_free(rt);
}

static void test_evidence_refused(void **state)
{
    struct fx *f = *state;
    bpt_deploy_spec *s = spec();
    bpt_deployment *d = NULL;
    bpt_policy *wrong_pcr = NULL;
    bpt_verify_ctx *ctx = NULL, *real = NULL;
    bpt_verifier *v_pcr = NULL, *v_root = NULL;
    size_t stored = 0;

    /* a PCR0 the workload does not have; the pinned AWS root, not the simulator's */
    assert_ok(bpt_policy_new(&wrong_pcr));
    char pcr0[97];
    memset(pcr0, 'a', 96);
    pcr0[96] = '\0';
    assert_ok(bpt_policy_set_expected_measurement(wrong_pcr, pcr0));
    assert_non_null(ctx = bpt_sim_fixture_ctx(&f->sim, 0, NULL));
    assert_ok(bpt_verifier_new(&v_pcr, ctx, wrong_pcr));
    bpt_verify_ctx_opts vo = BPT_VERIFY_CTX_OPTS_INIT;
    assert_ok(bpt_verify_ctx_new(&real, &vo));
    assert_ok(bpt_verifier_new(&v_root, real, NULL));

    bpt_runtime *rt = bpt_remote_test_runtime(f->state_dir, "aws_nitro", v_pcr);
    assert_ok(bpt_runtime_deploy(&d, rt, s, NULL));
    char id[17];
    snprintf(id, sizeof(id), "%s", bpt_deployment_id(d));
    bpt_deployment_free(d);
    bpt_verified *v = NULL;
    assert_rc_msg(bpt_runtime_attestation(&v, rt, id, NULL, 0), BPT_ECLAIM, "PCR0");
    bpt_kx_client_key key = BPT_KX_CLIENT_KEY_INIT;
    assert_rc_msg(bpt_runtime_public_key(&key, rt, id), BPT_ECLAIM, "PCR0");
    assert_ok(bpt_runtime_status(&d, rt, id));
    assert_null(bpt_deployment_attestation_digest(d));
    bpt_deployment_free(d);
    /* a runtime without a verifier: neither evidence nor a key, refused before the plane is
     * reached (once, in the runtime, for every library backend) */
    {
        bpt_runtime *bare = bpt_remote_test_runtime(f->state_dir, "aws_nitro", NULL);
        assert_rc_msg(bpt_runtime_attestation(&v, bare, id, NULL, 0), BPT_EINVAL,
                      "aws_nitro: the runtime has no verifier: evidence is only given once it "
                      "verified (bpt_runtime_options.verifier)");
        assert_rc_msg(bpt_runtime_public_key(&key, bare, id), BPT_EINVAL,
                      "aws_nitro: the runtime has no verifier: a key is only given once its "
                      "evidence verified");
        bpt_runtime_free(bare);
    }

    /* nothing sealed: the workload keeps the first value of a name, and the names the refused
     * seals used are still free for the trusting client */
    assert_rc_msg(bpt_remote_test_seal(f->plane_url, v_pcr, "leak_one", &stored), BPT_ECLAIM,
                  "PCR0");
    assert_rc_msg(bpt_remote_test_seal(f->plane_url, v_root, "leak_two", &stored), BPT_ESIGNATURE,
                  "root");
    assert_ok(bpt_remote_test_seal(f->plane_url, f->verifier, "leak_one", &stored));
    assert_int_equal(stored, 1);
    assert_ok(bpt_remote_test_seal(f->plane_url, f->verifier, "leak_two", &stored));
    assert_int_equal(stored, 1);
    assert_ok(bpt_runtime_destroy(rt, id));
    bpt_runtime_free(rt);
    bpt_verifier_free(v_pcr);
    bpt_verifier_free(v_root);
    bpt_verify_ctx_free(ctx);
    bpt_verify_ctx_free(real);
    bpt_policy_free(wrong_pcr);
    bpt_deploy_spec_free(s);
}

static void test_config_refused(void **state)
{
    struct fx *f = *state;
    bpt_deploy_spec *s = spec();
    bpt_deployment *d = NULL;
    bpt_runtime *rt = bpt_remote_test_runtime(f->state_dir, "aws_nitro", f->verifier);
    bpt_remote_test_write(f->config, "{\"region\":\"us-east-1\",\"instance_type\":\"m5.xlarge\"}");
    assert_rc_msg(bpt_runtime_deploy(&d, rt, s, NULL), BPT_EINVAL, "\"image_id\" is required");
    bpt_remote_test_write(f->config, "{\"region\":\"us-east-1\",\"instance_type\":\"m5.xlarge\","
                                     "\"image_id\":\"ami-1\",\"bogus\":1}");
    assert_rc_msg(bpt_runtime_deploy(&d, rt, s, NULL), BPT_EINVAL, "unknown key 'bogus'");
    bpt_remote_test_write(f->config,
                          "{\"schema_version\":2,\"region\":\"us-east-1\",\"instance_type\":"
                          "\"m5.xlarge\",\"image_id\":\"ami-1\"}");
    assert_rc_msg(bpt_runtime_deploy(&d, rt, s, NULL), BPT_EINVAL,
                  "schema_version 2 is not one this version reads");
    bpt_remote_test_write(f->config,
                          "{\"region\":\"us-east-1\",\"instance_type\":\"m5.xlarge\","
                          "\"image_id\":\"ami-1\",\"endpoint\":\"http://ec2.example.com/\"}");
    assert_rc_msg(bpt_runtime_deploy(&d, rt, s, NULL), BPT_EINVAL, "endpoint refused");
    /* the endpoint from AWS_ENDPOINT_URL_EC2 when the config has none */
    char text[512];
    snprintf(text, sizeof(text),
             "{\"region\":\"us-east-1\",\"instance_type\":\"m5.xlarge\",\"image_id\":\"ami-1\","
             "\"plane_scheme\":\"http\",\"key_exchange_port\":%u,\"poll_base_ms\":5}",
             f->plane_port);
    bpt_remote_test_write(f->config, text);
    char ep[64];
    snprintf(ep, sizeof(ep), "http://127.0.0.1:%u/", bpt_ec2_server_port(f->ec2));
    setenv("AWS_ENDPOINT_URL_EC2", ep, 1);
    setenv("AWS_ENDPOINT_URL", "http://ec2.example.com/", 1);
    assert_ok(bpt_runtime_deploy(&d, rt, s, NULL));
    assert_ok(bpt_runtime_destroy(rt, bpt_deployment_id(d)));
    bpt_deployment_free(d);
    unsetenv("AWS_ENDPOINT_URL_EC2");
    unsetenv("AWS_ENDPOINT_URL");
    bpt_deploy_spec_free(s);
    bpt_runtime_free(rt);
}

/* The CLI: `bpt deploy --backend aws_nitro` with its configuration, status, stop, destroy. */
static void test_cli(void **state)
{
    struct fx *f = *state;
    char spec_path[4400], *out = NULL, *err = NULL, id[17] = "";
    struct bpt_ec2_stats before, st;
    snprintf(spec_path, sizeof(spec_path), "%s/cli-spec.json", f->dir);
    bpt_remote_test_write(spec_path, "{\"name\":\"cli\",\"image\":\"/opt/bpt/cli.eif\"}");
    bpt_ec2_server_stats(f->ec2, &before);
    {
        const char *argv[] = {"deploy",    "--json",    "--state-dir", f->state_dir,
                              "--backend", "aws_nitro", spec_path,     NULL};
        assert_int_equal(bpt_test_run_cli_err(&out, &err, argv), 0);
    }
    const char *p = strstr(out, "\"id\":\"");
    assert_non_null(p);
    memcpy(id, p + 6, 16);
    assert_non_null(strstr(out, "\"backend\":\"aws_nitro\""));
    assert_non_null(strstr(out, "\"state\":\"running\""));
    free(out);
    free(err);
    bpt_ec2_server_stats(f->ec2, &st);
    assert_int_equal(st.created - before.created, 1);
    /* seal to it by its id: the plane's URL from EC2, the evidence verified here; with the
     * pinned roots (which refuse simulated evidence) nothing is sealed */
    {
        char roots[4300];
        snprintf(roots, sizeof(roots), "%s/trust-roots.pem", f->sim.dir);
        assert_int_equal(bpt_remote_test_seal_cli(&out, &err, f->state_dir, id, "--trust-root",
                                                  roots, "cli_secret"),
                         0);
        assert_non_null(strstr(out, "seal: secret 'cli_secret' sealed"));
        free(out);
        free(err);
        assert_int_equal(
            bpt_remote_test_seal_cli(&out, &err, f->state_dir, id, NULL, NULL, "pinned"), 1);
        assert_null(strstr(out, "sealed"));
        free(out);
        free(err);
    }
    {
        char url[160];
        bpt_runtime *rt = bpt_remote_test_runtime(f->state_dir, "aws_nitro", f->verifier);
        assert_ok(bpt_runtime_plane_url(url, sizeof(url), rt, id));
        assert_string_equal(url, f->plane_url);
        assert_rc_msg(bpt_runtime_plane_url(url, 8, rt, id), BPT_ELIMIT, "the plane's URL");
        bpt_runtime_free(rt);
    }
    {
        const char *argv[] = {"stop", "--state-dir", f->state_dir, id, NULL};
        assert_int_equal(bpt_test_run_cli_err(NULL, NULL, argv), 0);
    }
    {
        const char *argv[] = {"destroy", "--state-dir", f->state_dir, id, NULL};
        assert_int_equal(bpt_test_run_cli_err(NULL, NULL, argv), 0);
    }
    bpt_ec2_server_stats(f->ec2, &st);
    assert_int_equal(st.terminates - before.terminates, 1);
    /* refused credentials: exit 1 (refused), EC2's code in the message */
    setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret", 1);
    {
        const char *argv[] = {"deploy",    "--state-dir", f->state_dir, "--backend",
                              "aws_nitro", spec_path,     NULL};
        int ex = bpt_test_run_cli_err(NULL, &err, argv);
        assert_non_null(strstr(err, "SignatureDoesNotMatch"));
        assert_int_equal(ex, 1);
        free(err);
    }
}

/* ---- the XML reader ------------------------------------------------------------------------ */

static int collect(const char *const *path, size_t depth, const char *text, void *ud)
{
    if (bpt_remote_xml_path_ends(path, depth, "a/b")) {
        snprintf(ud, 64, "%s", text);
    }
    return 0;
}

static void test_xml(void **state)
{
    (void)state;
    char got[64] = "";
    const char ok[] = "<?xml version=\"1.0\"?>\n<r x='1'><!-- c --><a><b>1 &lt; 2 &#x41;</b></a>"
                      "<e/></r>";
    assert_ok(bpt_remote_xml_walk(ok, strlen(ok), collect, got));
    assert_string_equal(got, "1 < 2 A");
    static const struct {
        const char *xml, *msg;
    } bad[] = {
        {"<r><a></b></r>", "a closing tag that does not match"},
        {"<r><a>", "ends inside an element"},
        {"<r/><s/>", "a second root element"},
        {"<!DOCTYPE r [<!ENTITY x \"y\">]><r>&x;</r>", "a DTD"},
        {"<r>&x;</r>", "an entity other than the predefined ones"},
        {"<r>&#0;</r>", "outside printable ASCII"},
        {"<r><![CDATA[x]]></r>", "CDATA"},
        {"text", "text outside the root element"},
        {"", "no root element"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_rc_msg(bpt_remote_xml_walk(bad[i].xml, strlen(bad[i].xml), collect, got),
                      BPT_EMALFORMED, bad[i].msg);
    }
    char deep[BPT_REMOTE_XML_DEPTH * 8 + 8] = "";
    for (int i = 0; i <= BPT_REMOTE_XML_DEPTH; i++) {
        strcat(deep, "<a>");
    }
    assert_rc_msg(bpt_remote_xml_walk(deep, strlen(deep), collect, got), BPT_ELIMIT,
                  "nested deeper");
    assert_rc_msg(bpt_remote_xml_walk(ok, BPT_REMOTE_XML_MAX + 1, collect, got), BPT_ELIMIT,
                  "over");
    assert_int_equal(bpt_remote_retry_after_ms("2"), 2000);
    assert_int_equal(bpt_remote_retry_after_ms("999999"), BPT_REMOTE_RETRY_AFTER_MAX_MS);
    assert_int_equal(bpt_remote_retry_after_ms("Wed, 21 Oct 2015 07:28:00 GMT"), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_xml),
        cmocka_unit_test_setup(test_lifecycle, each_setup),
        cmocka_unit_test_setup(test_idempotent_and_resumed, each_setup),
        cmocka_unit_test_setup(test_throttling, each_setup),
        cmocka_unit_test_setup(test_credentials, each_setup),
        cmocka_unit_test_setup(test_evidence_refused, each_setup),
        cmocka_unit_test_setup(test_config_refused, each_setup),
        cmocka_unit_test_setup(test_cli, each_setup),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
