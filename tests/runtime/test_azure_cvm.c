/*
 * The azure_cvm backend (src/runtime/remote/azure_cvm.c) against a loopback Azure that is both
 * the identity platform's token endpoint and ARM, answering in their JSON shapes with async
 * operation headers, checking the client secret or the client assertion's RS256 signature and
 * claims, and the bearer token on every ARM call (helpers/arm_server.h); the NIC's address
 * points at a `bpt serve --simulate azure-maa` on 127.0.0.1 (its MAA tokens verified with the
 * simulator's JWKS and issuer, the report data binding our nonce): deploy -> running -> attestation
 * verifies -> seal -> stop (deallocate) -> deploy again (start) -> destroy; idempotent deploy (one
 * VM per name); throttling (429/503 with Retry-After) retried within the deadline and refused past
 * it; refused credentials naming the identity platform's AADSTS code or ARM's code, a cached
 * token's expiry renewed once; the certificate credential; a create operation still in progress at
 * the deadline, then resumed; evidence that does not verify: nothing sealed; the config's checks;
 * `bpt deploy --backend azure_cvm`, stop and destroy as the CLI runs them.
 */
#include "helpers/test.h"

#include "helpers/arm_server.h"
#include "helpers/proc.h"
#include "helpers/remote_test.h"
#include "helpers/sim_fixture.h"

#include <stdlib.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "attester/sim/tokens.h"
#include "core/util.h"
#include "runtime/remote/remote.h"

#define TENANT "72f988bf-86f1-41af-91ab-2d7cd011db47"
#define CLIENT "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
#define SECRET "Xq8Q~bpt.test-secret~0123456789abcdefGHIJ"
#define SUB "00000000-1111-2222-3333-444444444444"
#define NIC                                                                                        \
    "/subscriptions/" SUB "/resourceGroups/bpt-rg/providers/Microsoft.Network/"                    \
    "networkInterfaces/bpt-nic"

struct fx {
    struct bpt_sim_fixture sim;
    struct bpt_test_proc serve;
    uint16_t plane_port;
    struct bpt_arm_server *arm;
    bpt_verifier *verifier; /* trusts the simulated MAA's JWKS and issuer */
    char *dir;
    char config[4300], state_dir[4300], plane_url[64], authority[64];
    char cert[4400], other_cert[4400]; /* PEM files: key + certificate */
    char *cert_pem;                    /* the registered certificate alone */
};

static struct bpt_arm_knobs knobs(const struct fx *f)
{
    struct bpt_arm_knobs k = {.tenant = TENANT, .client_id = CLIENT, .secret = SECRET};
    k.cert_pem = f->cert_pem;
    return k;
}

static void write_config_with(struct fx *f, unsigned deploy_s, unsigned request_s, const char *more)
{
    char arm[64];
    snprintf(arm, sizeof(arm), "http://127.0.0.1:%u/", bpt_arm_server_port(f->arm));
    json_t *o = json_pack(
        "{s:i, s:s, s:s, s:s, s:s, s:{s:s, s:s, s:s}, s:s, s:s, s:s, s:s, s:i, s:i, s:i, s:i, "
        "s:i}",
        "schema_version", 1, "subscription_id", SUB, "resource_group", "bpt-rg", "location",
        "westeurope", "vm_size", "Standard_DC4as_v5", "image", "publisher", "Canonical", "offer",
        "0001-com-ubuntu-confidential-vm-jammy", "sku", "22_04-lts-cvm", "ssh_public_key",
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA bpt@test", "network_interface_id", NIC,
        "arm_endpoint", arm, "plane_scheme", "http", "key_exchange_port", (int)f->plane_port,
        "deploy_timeout_s", (int)deploy_s, "request_timeout_s", (int)request_s, "poll_base_ms", 5,
        "poll_max_ms", 40);
    assert_non_null(o);
    if (more[0] != '\0') {
        json_t *m = json_loads(more, 0, NULL);
        assert_non_null(m);
        assert_int_equal(json_object_update(o, m), 0);
        json_decref(m);
    }
    char *text = json_dumps(o, JSON_COMPACT);
    assert_non_null(text);
    bpt_remote_test_write(f->config, text);
    free(text);
    json_decref(o);
}

static void write_config(struct fx *f, unsigned deploy_s, unsigned request_s)
{
    write_config_with(f, deploy_s, request_s, "");
}

/* An RSA key and a self-signed certificate for it, both in @p path; the certificate's PEM.
 * 1024 bits: the loopback platform does not ask for Azure's 2048 (two 2048-bit keys cost ~18 s
 * under valgrind). */
static char *make_cert(const char *path, const char *cn)
{
    EVP_PKEY *key = EVP_RSA_gen(1024);
    X509 *x = X509_new();
    assert_non_null(key);
    assert_non_null(x);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, key);
    X509_NAME *n = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(x, n);
    assert_true(X509_sign(x, key, EVP_sha256()) > 0);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    assert_true(PEM_write_PrivateKey(fp, key, NULL, NULL, 0, NULL, NULL) == 1);
    assert_true(PEM_write_X509(fp, x) == 1);
    fclose(fp);
    BIO *b = BIO_new(BIO_s_mem());
    assert_true(PEM_write_bio_X509(b, x) == 1);
    char *data = NULL;
    long len = BIO_get_mem_data(b, &data);
    char *pem = strndup(data, (size_t)len);
    BIO_free(b);
    X509_free(x);
    EVP_PKEY_free(key);
    return pem;
}

/* An RSA key encrypted with a pass phrase, alone in @p path. */
static void make_encrypted_key(const char *path)
{
    EVP_PKEY *key = EVP_RSA_gen(1024);
    FILE *fp = fopen(path, "w");
    assert_non_null(key);
    assert_non_null(fp);
    assert_true(PEM_write_PrivateKey(fp, key, EVP_aes_128_cbc(), (unsigned char *)"pass", 4, NULL,
                                     NULL) == 1);
    fclose(fp);
    EVP_PKEY_free(key);
}

/* A verifier of MAA tokens with the policy @p policy (its "@DIR@": the simulator's directory). */
static bpt_verifier *maa_verifier(const struct fx *f, const char *policy)
{
    char json[8192];
    bpt_policy *p = NULL;
    bpt_verify_ctx *c = NULL;
    bpt_verifier *v = NULL;
    const char *at = strstr(policy, "@DIR@");
    if (at == NULL) {
        return NULL;
    }
    snprintf(json, sizeof(json), "%.*s%s%s", (int)(at - policy), policy, f->sim.dir, at + 5);
    if (bpt_policy_load_json(&p, json, strlen(json)) != 0 || bpt_verify_ctx_new(&c, NULL) != 0 ||
        bpt_verifier_new(&v, c, p) != 0) {
        fprintf(stderr, "verifier: %s\n", bpt_error_last());
    }
    bpt_verify_ctx_free(c);
    bpt_policy_free(p);
    return v;
}

/* The user's policy: the simulated MAA's JWKS and issuer, the simulated VM's measurement. */
#define MAA_POLICY                                                                                 \
    "{\"jwt\":{\"jwks_file\":\"@DIR@/azure-maa/jwks.json\",\"issuers\":[\"" BPT_SIM_MAA_ISSUER     \
    "\"]},\"expected_measurement\":\"sha384:" BPT_SIM_MAA_MEASUREMENT "\"}"

static int group_setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    *state = f;
    if (f == NULL || bpt_sim_fixture_init(&f->sim) != 0 ||
        (f->verifier = maa_verifier(f, MAA_POLICY)) == NULL) {
        return -1;
    }
    const char *argv[] = {"serve",    "--simulate", "azure-maa",   "--sim-dir",
                          f->sim.dir, "--listen",   "127.0.0.1:0", NULL};
    if (bpt_remote_test_serve(&f->serve, argv, &f->plane_port, f->plane_url,
                              sizeof(f->plane_url)) != 0) {
        return -1;
    }
    f->dir = bpt_test_tmpdir();
    snprintf(f->cert, sizeof(f->cert), "%s/client.pem", f->dir);
    snprintf(f->other_cert, sizeof(f->other_cert), "%s/other.pem", f->dir);
    f->cert_pem = make_cert(f->cert, "bpt-test-client");
    free(make_cert(f->other_cert, "someone-else"));
    struct bpt_arm_knobs k = knobs(f);
    if (bpt_arm_server_start(&f->arm, &k) != 0) {
        return -1;
    }
    snprintf(f->config, sizeof(f->config), "%s/azure_cvm.json", f->dir);
    snprintf(f->authority, sizeof(f->authority), "http://127.0.0.1:%u",
             bpt_arm_server_port(f->arm));
    setenv("BPT_AZURE_CVM_CONFIG", f->config, 1);
    unsetenv("TEE_BACKEND");
    return 0;
}

static int group_teardown(void **state)
{
    struct fx *f = *state;
    bpt_test_proc_kill(&f->serve);
    bpt_arm_server_stop(f->arm);
    bpt_verifier_free(f->verifier);
    if (f->dir != NULL) {
        bpt_remove_tree(f->dir);
        free(f->dir);
    }
    free(f->cert_pem);
    bpt_sim_fixture_dispose(&f->sim);
    free(f);
    return 0;
}

static int each_setup(void **state)
{
    struct fx *f = *state;
    static unsigned n;
    snprintf(f->state_dir, sizeof(f->state_dir), "%s/state%u", f->dir, n++);
    struct bpt_arm_knobs k = knobs(f);
    bpt_arm_server_set(f->arm, &k);
    setenv("AZURE_AUTHORITY_HOST", f->authority, 1);
    setenv("AZURE_TENANT_ID", TENANT, 1);
    setenv("AZURE_CLIENT_ID", CLIENT, 1);
    setenv("AZURE_CLIENT_SECRET", SECRET, 1);
    unsetenv("AZURE_CLIENT_CERTIFICATE_PATH");
    write_config(f, 5, 5);
    return 0;
}

static bpt_deploy_spec *spec(void)
{
    static const char json[] = "{\"name\":\"svc\",\"image\":\"/opt/bpt/svc\","
                               "\"resources\":{\"cpus\":2,\"memory_mb\":1024},"
                               "\"secrets\":[\"db_password\"]}";
    bpt_deploy_spec *s = NULL;
    assert_ok(bpt_deploy_spec_load_json(&s, json, strlen(json)));
    return s;
}

static void test_lifecycle(void **state)
{
    struct fx *f = *state;
    struct bpt_arm_stats st;
    bpt_runtime *rt = bpt_remote_test_runtime(f->state_dir, "azure_cvm", f->verifier);
    bpt_deploy_spec *s = spec();
    bpt_deployment *d = NULL;

    assert_ok(bpt_runtime_deploy(&d, rt, s, NULL));
    char id[17];
    snprintf(id, sizeof(id), "%s", bpt_deployment_id(d));
    assert_string_equal(bpt_deployment_backend(d), "azure_cvm");
    assert_int_equal(bpt_deployment_state(d), BPT_DEPLOY_RUNNING);
    bpt_deployment_free(d);
    bpt_arm_server_stats(f->arm, &st);
    assert_int_equal(st.created, 1);
    assert_true(st.last_confidential);
    assert_string_equal(st.last_encryption, "VMGuestStateOnly");
    char want[128];
    snprintf(want, sizeof(want), "exec bpt serve --listen 0.0.0.0:%u\n", f->plane_port);
    assert_non_null(strstr(st.last_custom_data, want));
    assert_non_null(strstr(st.last_custom_data, "\"image\":\"/opt/bpt/svc\""));
    assert_non_null(strstr(st.last_custom_data, "bpt deploy --state-dir /var/lib/bpt --backend "
                                                "direct /var/lib/bpt/spec.json\n"));
    assert_int_equal(st.refused, 0);
    assert_int_equal(st.logins, 1); /* one token for the whole deploy */

    /* the evidence: our nonce, verified, its digest in the store; then a seal */
    bpt_remote_test_evidence(rt, id, f->plane_url, f->verifier, BPT_PROVIDER_AZURE_SNP);

    /* stop (deallocate), deploy again (start), destroy (DELETE) */
    assert_ok(bpt_runtime_stop(rt, id));
    assert_int_equal(bpt_remote_test_state(rt, id), BPT_DEPLOY_STOPPED);
    bpt_arm_server_stats(f->arm, &st);
    assert_int_equal(st.deallocates, 1);
    assert_string_equal(st.last_power, "deallocated");
    assert_ok(bpt_runtime_deploy(&d, rt, s, NULL));
    assert_string_equal(bpt_deployment_id(d), id);
    bpt_deployment_free(d);
    bpt_arm_server_stats(f->arm, &st);
    assert_int_equal(st.starts, 1);
    assert_int_equal(st.created, 1);
    assert_int_equal(bpt_remote_test_state(rt, id), BPT_DEPLOY_RUNNING);
    assert_ok(bpt_runtime_destroy(rt, id));
    bpt_arm_server_stats(f->arm, &st);
    assert_int_equal(st.deletes, 1);
    assert_int_equal(st.live, 0);
    assert_int_equal(bpt_remote_test_state(rt, id), BPT_DEPLOY_DESTROYED);
    assert_int_equal(st.refused, 0);
    bpt_deploy_spec_free(s);
    bpt_runtime_free(rt);
}

static void test_idempotent_and_resumed(void **state)
{
    struct fx *f = *state;
    struct bpt_arm_stats before, st;
    struct bpt_arm_knobs k = knobs(f);
    bpt_deploy_spec *s = spec();
    bpt_deployment *d = NULL;

    bpt_arm_server_stats(f->arm, &before);
    /* half-finished: the create operation is still in progress at the deploy deadline */
    k.pending_polls = 100000;
    bpt_arm_server_set(f->arm, &k);
    write_config(f, 1, 5);
    bpt_runtime *rt = bpt_remote_test_runtime(f->state_dir, "azure_cvm", f->verifier);
    assert_rc_msg(bpt_runtime_deploy(&d, rt, s, NULL), BPT_EBUSY,
                  "azure_cvm: create VM: the operation still InProgress when the deadline "
                  "passed; it goes on in Azure: deploy the same spec again to resume");
    bpt_deployment **list = NULL;
    size_t n = 0;
    assert_ok(bpt_runtime_list(&list, &n, rt, false));
    assert_int_equal(n, 1);
    assert_int_equal(bpt_deployment_state(list[0]), BPT_DEPLOY_FAILED);
    char id[17];
    snprintf(id, sizeof(id), "%s", bpt_deployment_id(list[0]));
    bpt_deployment_list_free(list, n);
    bpt_arm_server_stats(f->arm, &st);
    assert_int_equal(st.created - before.created, 1);
    assert_int_equal(st.live - before.live, 1);

    /* resumed: the same deployment, the same VM (its name), now running; no second PUT */
    k.pending_polls = 2;
    bpt_arm_server_set(f->arm, &k);
    write_config(f, 5, 5);
    assert_ok(bpt_runtime_deploy(&d, rt, s, NULL));
    assert_string_equal(bpt_deployment_id(d), id);
    assert_int_equal(bpt_deployment_state(d), BPT_DEPLOY_RUNNING);
    bpt_deployment_free(d);
    /* idempotent: deploying the same spec again makes nothing new */
    assert_ok(bpt_runtime_deploy(&d, rt, s, NULL));
    assert_string_equal(bpt_deployment_id(d), id);
    bpt_deployment_free(d);
    bpt_arm_server_stats(f->arm, &st);
    assert_int_equal(st.created - before.created, 1);
    assert_int_equal(st.puts - before.puts, 1);
    assert_ok(bpt_runtime_destroy(rt, id));

    /* a create operation that ends Failed carries ARM's code and message */
    k.pending_polls = 0;
    k.fail_create = true;
    bpt_arm_server_set(f->arm, &k);
    assert_rc_msg(bpt_runtime_deploy(&d, rt, s, NULL), BPT_EINVAL,
                  "azure_cvm: create VM: OSProvisioningTimedOut: the operation Failed: OS "
                  "Provisioning for VM did not finish");
    assert_ok(bpt_runtime_list(&list, &n, rt, false));
    assert_int_equal(n, 1);
    assert_ok(bpt_runtime_destroy(rt, bpt_deployment_id(list[0])));
    bpt_deployment_list_free(list, n);
    bpt_deploy_spec_free(s);
    bpt_runtime_free(rt);
}

static void test_throttling(void **state)
{
    struct fx *f = *state;
    struct bpt_arm_stats before, st;
    struct bpt_arm_knobs k = knobs(f);
    bpt_deploy_spec *s = spec();
    bpt_deployment *d = NULL;

    /* 429 with Retry-After: 0, 503 with Retry-After: 1: retried */
    k.throttle_429 = 2;
    k.throttle_503 = 1;
    k.pending_polls = 2;
    bpt_arm_server_set(f->arm, &k);
    bpt_arm_server_stats(f->arm, &before);
    bpt_runtime *rt = bpt_remote_test_runtime(f->state_dir, "azure_cvm", f->verifier);
    int64_t t0 = bpt_mono_ms();
    assert_ok(bpt_runtime_deploy(&d, rt, s, NULL));
    int64_t took = bpt_mono_ms() - t0;
    assert_true(took >= 1000); /* the Retry-After: 1 was honoured */
    bpt_arm_server_stats(f->arm, &st);
    assert_int_equal(st.throttled - before.throttled, 3);
    assert_int_equal(st.created - before.created, 1);
    assert_true(st.op_polls - before.op_polls >= 3);
    char id[17];
    snprintf(id, sizeof(id), "%s", bpt_deployment_id(d));
    bpt_deployment_free(d);

    /* throttled until the request deadline: refused naming ARM's code */
    k.throttle_429 = k.throttle_503 = 0;
    k.throttle_forever = true;
    bpt_arm_server_set(f->arm, &k);
    write_config(f, 5, 1);
    assert_rc_msg(bpt_runtime_stop(rt, id), BPT_EBUSY,
                  "azure_cvm: get VM: TooManyRequests: The request is being throttled as the "
                  "limit has been reached for operation type - Read_30Min. (still refused when "
                  "the request deadline passed)");
    k.throttle_forever = false;
    bpt_arm_server_set(f->arm, &k);
    assert_ok(bpt_runtime_destroy(rt, id));
    bpt_deploy_spec_free(s);
    bpt_runtime_free(rt);
}

/* Operations that name only a Location (202 until done); one that names another host. */
static void test_location_and_foreign_host(void **state)
{
    struct fx *f = *state;
    struct bpt_arm_stats before, st;
    struct bpt_arm_knobs k = knobs(f);
    bpt_deploy_spec *s = spec();
    bpt_deployment *d = NULL;

    k.location_only = true;
    k.pending_polls = 2;
    bpt_arm_server_set(f->arm, &k);
    bpt_arm_server_stats(f->arm, &before);
    bpt_runtime *rt = bpt_remote_test_runtime(f->state_dir, "azure_cvm", f->verifier);
    assert_ok(bpt_runtime_deploy(&d, rt, s, NULL));
    char id[17];
    snprintf(id, sizeof(id), "%s", bpt_deployment_id(d));
    bpt_deployment_free(d);
    assert_ok(bpt_runtime_stop(rt, id));
    assert_int_equal(bpt_remote_test_state(rt, id), BPT_DEPLOY_STOPPED);
    bpt_arm_server_stats(f->arm, &st);
    assert_true(st.op_polls - before.op_polls >= 2);
    assert_string_equal(st.last_power, "deallocated");

    /* the bearer token never goes to another host than the ARM endpoint */
    k.location_only = false;
    k.foreign_async = true;
    bpt_arm_server_set(f->arm, &k);
    assert_rc_msg(bpt_runtime_deploy(&d, rt, s, NULL), BPT_EPROTOCOL,
                  "azure_cvm: start: a URL outside the ARM endpoint http://127.0.0.1:");
    k.foreign_async = false;
    bpt_arm_server_set(f->arm, &k);
    assert_ok(bpt_runtime_destroy(rt, id));

    /* an operation answer that is no JSON never counts as Succeeded */
    k.garbled_ops = true;
    k.pending_polls = 0;
    bpt_arm_server_set(f->arm, &k);
    assert_rc_msg(bpt_runtime_deploy(&d, rt, s, NULL), BPT_EPROTOCOL,
                  "azure_cvm: create VM: the operation's answer has no status");
    k.garbled_ops = false;
    bpt_arm_server_set(f->arm, &k);
    bpt_deployment **list = NULL;
    size_t n = 0;
    assert_ok(bpt_runtime_list(&list, &n, rt, false));
    assert_int_equal(n, 1);
    assert_int_equal(bpt_deployment_state(list[0]), BPT_DEPLOY_FAILED);
    assert_ok(bpt_runtime_destroy(rt, bpt_deployment_id(list[0])));
    bpt_deployment_list_free(list, n);
    bpt_deploy_spec_free(s);
    bpt_runtime_free(rt);
}

static void assert_no_secret(void)
{
    assert_null(strstr(bpt_error_last(), SECRET));
    assert_null(strstr(bpt_error_last(), "azsim-tok"));
}

static void test_credentials(void **state)
{
    struct fx *f = *state;
    struct bpt_arm_stats before, st;
    struct bpt_arm_knobs k = knobs(f);
    bpt_deploy_spec *s = spec();
    bpt_deployment *d = NULL;
    bpt_runtime *rt = bpt_remote_test_runtime(f->state_dir, "azure_cvm", f->verifier);

    bpt_arm_server_stats(f->arm, &before);
    /* a wrong secret; an expired one; a tenant the platform does not know */
    setenv("AZURE_CLIENT_SECRET", "not-the-secret", 1);
    assert_rc_msg(bpt_runtime_deploy(&d, rt, s, NULL), BPT_EINVAL,
                  "azure_cvm: login: invalid_client: AADSTS7000215: Invalid client secret "
                  "provided.");
    assert_null(strstr(bpt_error_last(), "Trace ID")); /* the description's first line only */
    assert_null(strstr(bpt_error_last(), "not-the-secret"));
    setenv("AZURE_CLIENT_SECRET", SECRET, 1);
    k.secret_expired = true;
    bpt_arm_server_set(f->arm, &k);
    assert_rc_msg(bpt_runtime_deploy(&d, rt, s, NULL), BPT_EEXPIRED,
                  "login: invalid_client: AADSTS7000222: The provided client secret keys");
    assert_no_secret();
    k.secret_expired = false;
    bpt_arm_server_set(f->arm, &k);
    setenv("AZURE_TENANT_ID", "contoso.onmicrosoft.com", 1);
    assert_rc_msg(bpt_runtime_deploy(&d, rt, s, NULL), BPT_EINVAL,
                  "invalid_request: AADSTS90002: Tenant not found.");
    setenv("AZURE_TENANT_ID", TENANT, 1);
    unsetenv("AZURE_CLIENT_SECRET");
    assert_rc_msg(bpt_runtime_deploy(&d, rt, s, NULL), BPT_EINVAL,
                  "no client credential: set AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH");
    bpt_arm_server_stats(f->arm, &st);
    assert_int_equal(st.logins_refused - before.logins_refused, 3);
    assert_int_equal(st.requests - before.requests, 0); /* ARM never asked */

    /* the certificate: an assertion the server verifies; another key's is refused */
    setenv("AZURE_CLIENT_CERTIFICATE_PATH", f->other_cert, 1);
    assert_rc_msg(bpt_runtime_deploy(&d, rt, s, NULL), BPT_EINVAL,
                  "login: invalid_client: AADSTS700027: Client assertion failed signature "
                  "validation.");
    /* an encrypted key: refused (no pass phrase is ever asked for on the terminal) */
    char enc[4400];
    snprintf(enc, sizeof(enc), "%s/encrypted.pem", f->dir);
    make_encrypted_key(enc);
    setenv("AZURE_CLIENT_CERTIFICATE_PATH", enc, 1);
    assert_rc_msg(bpt_runtime_deploy(&d, rt, s, NULL), BPT_EINVAL,
                  "AZURE_CLIENT_CERTIFICATE_PATH: a PEM file with an unencrypted private key");
    setenv("AZURE_CLIENT_CERTIFICATE_PATH", f->cert, 1);
    assert_ok(bpt_runtime_deploy(&d, rt, s, NULL));
    char id[17];
    snprintf(id, sizeof(id), "%s", bpt_deployment_id(d));
    bpt_deployment_free(d);
    bpt_arm_server_stats(f->arm, &st);
    assert_true(st.assertions - before.assertions >= 1);
    assert_int_equal(st.refused - before.refused, 0);

    /* the assertion's audience is the token endpoint the server is reached at */
    char other[64];
    snprintf(other, sizeof(other), "http://localhost:%u", bpt_arm_server_port(f->arm));
    setenv("AZURE_AUTHORITY_HOST", other, 1);
    assert_rc_msg(bpt_runtime_stop(rt, id), BPT_EINVAL,
                  "login: invalid_client: AADSTS700212: No matching federated identity record "
                  "found for presented assertion audience.");
    setenv("AZURE_AUTHORITY_HOST", f->authority, 1);
    /* a token answer that is not a Bearer token */
    k.mac_token = true;
    bpt_arm_server_set(f->arm, &k);
    assert_rc_msg(bpt_runtime_stop(rt, id), BPT_EPROTOCOL,
                  "login: the answer holds no Bearer access_token");
    k.mac_token = false;
    /* a VM of the deployment's name that another deployment tagged is not touched */
    k.foreign_tag = true;
    bpt_arm_server_set(f->arm, &k);
    assert_rc_msg(bpt_runtime_stop(rt, id), BPT_EINVAL,
                  "exists without this deployment's tag (bpt-deployment): not touched");
    bpt_arm_server_stats(f->arm, &before);
    assert_rc_msg(bpt_runtime_destroy(rt, id), BPT_EINVAL,
                  "exists without this deployment's tag (bpt-deployment): not touched");
    bpt_arm_server_stats(f->arm, &st);
    assert_int_equal(st.deletes - before.deletes, 0);
    assert_int_equal(st.live - before.live, 0);
    k.foreign_tag = false;
    /* ours by its tag but no confidential VM (TrustedLaunch): neither stopped nor deleted */
    k.trusted_launch = true;
    bpt_arm_server_set(f->arm, &k);
    bpt_arm_server_stats(f->arm, &before);
    assert_rc_msg(bpt_runtime_stop(rt, id), BPT_EINVAL,
                  "is not a confidential VM (securityType TrustedLaunch): not touched");
    assert_rc_msg(bpt_runtime_destroy(rt, id), BPT_EINVAL,
                  "is not a confidential VM (securityType TrustedLaunch): not touched");
    bpt_arm_server_stats(f->arm, &st);
    assert_int_equal(st.deallocates - before.deallocates, 0);
    assert_int_equal(st.deletes - before.deletes, 0);
    k.trusted_launch = false;
    /* a resource group ARM does not know (a config's typo): refused, the VM never "gone" */
    k.no_group = true;
    bpt_arm_server_set(f->arm, &k);
    assert_int_equal(bpt_remote_test_state(rt, id), BPT_DEPLOY_RUNNING); /* the store's */
    assert_rc_msg(bpt_runtime_destroy(rt, id), BPT_EINVAL,
                  "azure_cvm: get VM: ResourceGroupNotFound: Resource group 'bpt-rg' could not "
                  "be found.");
    k.no_group = false;
    bpt_arm_server_set(f->arm, &k);
    assert_int_equal(bpt_remote_test_state(rt, id), BPT_DEPLOY_RUNNING);
    bpt_arm_server_set(f->arm, &k);

    /* a cached token's end: ARM's 401 ExpiredAuthenticationToken, a new token, once */
    bpt_arm_server_stats(f->arm, &before);
    k.expire_now = 1;
    bpt_arm_server_set(f->arm, &k);
    assert_int_equal(bpt_remote_test_state(rt, id), BPT_DEPLOY_RUNNING);
    bpt_arm_server_stats(f->arm, &st);
    assert_int_equal(st.refused - before.refused, 0); /* a new token per operation */
    /* tokens that are expired when issued: refused after the one renewal */
    k.tokens_expire = true;
    bpt_arm_server_set(f->arm, &k);
    bpt_arm_server_stats(f->arm, &before);
    assert_rc_msg(bpt_runtime_stop(rt, id), BPT_EEXPIRED,
                  "azure_cvm: get VM: ExpiredAuthenticationToken: The access token expiry UTC "
                  "time");
    bpt_arm_server_stats(f->arm, &st);
    assert_int_equal(st.refused - before.refused, 2);
    assert_int_equal(st.logins - before.logins, 2);
    assert_no_secret();
    k.tokens_expire = false;
    bpt_arm_server_set(f->arm, &k);
    assert_ok(bpt_runtime_destroy(rt, id));
    bpt_deploy_spec_free(s);
    bpt_runtime_free(rt);
}

static void test_evidence_refused(void **state)
{
    struct fx *f = *state;
    bpt_deploy_spec *s = spec();
    bpt_deployment *d = NULL;
    size_t stored = 0;

    /* a measurement the VM does not have; the JWKS of another service's key */
    bpt_verifier *v_meas = maa_verifier(
        f,
        "{\"jwt\":{\"jwks_file\":\"@DIR@/azure-maa/jwks.json\",\"issuers\":[\"" BPT_SIM_MAA_ISSUER
        "\"]},\"expected_measurement\":\"sha384:"
        "000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
        "000000000000\"}");
    bpt_verifier *v_keys =
        maa_verifier(f, "{\"jwt\":{\"jwks_file\":\"@DIR@/gcp-confidential/"
                        "jwks.json\",\"issuers\":[\"" BPT_SIM_MAA_ISSUER "\"]}}");
    assert_non_null(v_meas);
    assert_non_null(v_keys);

    bpt_runtime *rt = bpt_remote_test_runtime(f->state_dir, "azure_cvm", v_meas);
    assert_ok(bpt_runtime_deploy(&d, rt, s, NULL));
    char id[17];
    snprintf(id, sizeof(id), "%s", bpt_deployment_id(d));
    bpt_deployment_free(d);
    bpt_verified *v = NULL;
    assert_rc_msg(bpt_runtime_attestation(&v, rt, id, NULL, 0), BPT_ECLAIM,
                  "azure_maa: measurement");
    bpt_kx_client_key key = BPT_KX_CLIENT_KEY_INIT;
    assert_rc_msg(bpt_runtime_public_key(&key, rt, id), BPT_ECLAIM, "azure_maa: measurement");
    assert_ok(bpt_runtime_status(&d, rt, id));
    assert_null(bpt_deployment_attestation_digest(d));
    bpt_deployment_free(d);
    bpt_runtime_free(rt);
    rt = bpt_remote_test_runtime(f->state_dir, "azure_cvm", v_keys);
    assert_rc_msg(bpt_runtime_attestation(&v, rt, id, NULL, 0), BPT_EKEYS, "no key with kid");

    /* nothing sealed: the names the refused seals used are still free for the trusting client */
    assert_rc_msg(bpt_remote_test_seal(f->plane_url, v_meas, "az_leak_one", &stored), BPT_ECLAIM,
                  "azure_maa: measurement");
    assert_rc_msg(bpt_remote_test_seal(f->plane_url, v_keys, "az_leak_two", &stored), BPT_EKEYS,
                  "no key with kid");
    assert_ok(bpt_remote_test_seal(f->plane_url, f->verifier, "az_leak_one", &stored));
    assert_int_equal(stored, 1);
    assert_ok(bpt_remote_test_seal(f->plane_url, f->verifier, "az_leak_two", &stored));
    assert_int_equal(stored, 1);
    assert_ok(bpt_runtime_destroy(rt, id));
    bpt_runtime_free(rt);
    bpt_verifier_free(v_meas);
    bpt_verifier_free(v_keys);
    bpt_deploy_spec_free(s);
}

static void test_config(void **state)
{
    struct fx *f = *state;
    bpt_deploy_spec *s = spec();
    bpt_deployment *d = NULL;
    bpt_runtime *rt = bpt_remote_test_runtime(f->state_dir, "azure_cvm", f->verifier);
    static const struct {
        const char *more, *msg;
    } bad[] = {
        {"{\"bogus\":1}", "unknown key 'bogus'"},
        {"{\"schema_version\":2}", "schema_version 2 is not one this version reads"},
        {"{\"client_secret\":\"x\"}", "\"client_secret\" is never read from a config file"},
        {"{\"arm_endpoint\":\"http://management.example.com/\"}", "ARM endpoint URL refused"},
        {"{\"network_interface_id\":\"bpt-nic\"}", "is no network interface's resource id"},
        {"{\"resource_group\":\"bpt rg\"}",
         "\"resource_group\" must be a string of 1..95 bytes of [A-Za-z0-9._-()]"},
        {"{\"image\":{\"id\":\"/subscriptions/x/img\",\"publisher\":\"p\",\"offer\":\"o\","
         "\"sku\":\"s\"}}",
         "\"image\" has an id or publisher/offer/sku, not both"},
        {"{\"image\":{\"publisher\":\"p\"}}", "\"offer\" is required"},
        {"{\"os_disk_security_encryption_type\":\"None\"}", "is VMGuestStateOnly"},
        {"{\"ssh_public_key\":\"hunter2\"}", "no OpenSSH public key line"},
        {"{\"address\":\"both\"}", "\"address\" is \"public\" or \"private\""},
        {"{\"key_exchange_port\":0}", "\"key_exchange_port\" must be an integer 1..65535"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        write_config_with(f, 5, 5, bad[i].more);
        assert_rc_msg(bpt_runtime_deploy(&d, rt, s, NULL), BPT_EINVAL, bad[i].msg);
    }
    bpt_remote_test_write(f->config, "{\"schema_version\":1}");
    assert_rc_msg(bpt_runtime_deploy(&d, rt, s, NULL), BPT_EINVAL,
                  "\"subscription_id\" is required");
    /* the authority from AZURE_AUTHORITY_HOST: refused unless https or loopback */
    write_config(f, 5, 5);
    setenv("AZURE_AUTHORITY_HOST", "http://login.example.com/", 1);
    assert_rc_msg(bpt_runtime_deploy(&d, rt, s, NULL), BPT_EINVAL,
                  "authority (AZURE_AUTHORITY_HOST) URL refused");
    setenv("AZURE_AUTHORITY_HOST", f->authority, 1);
    /* the config's tenant and client win over the environment's; the public address */
    setenv("AZURE_TENANT_ID", "not-this-tenant", 1);
    setenv("AZURE_CLIENT_ID", "not-this-client", 1);
    write_config_with(f, 5, 5,
                      "{\"tenant_id\":\"" TENANT "\",\"client_id\":\"" CLIENT
                      "\",\"address\":\"public\",\"image\":{\"id\":\"/subscriptions/" SUB
                      "/resourceGroups/img/providers/Microsoft.Compute/galleries/g/images/cvm/"
                      "versions/1.0.0\"}}");
    assert_ok(bpt_runtime_deploy(&d, rt, s, NULL));
    bpt_verified *v = NULL;
    assert_ok(bpt_runtime_attestation(&v, rt, bpt_deployment_id(d), NULL, 0));
    bpt_verified_free(v);
    assert_ok(bpt_runtime_destroy(rt, bpt_deployment_id(d)));
    bpt_deployment_free(d);
    bpt_deploy_spec_free(s);
    bpt_runtime_free(rt);
}

/* The CLI: `bpt deploy --backend azure_cvm` with its configuration, stop, destroy. */
static void test_cli(void **state)
{
    struct fx *f = *state;
    char spec_path[4400], *out = NULL, *err = NULL, id[17] = "";
    struct bpt_arm_stats before, st;
    snprintf(spec_path, sizeof(spec_path), "%s/cli-spec.json", f->dir);
    bpt_remote_test_write(spec_path, "{\"name\":\"cli\",\"image\":\"/opt/bpt/cli\"}");
    bpt_arm_server_stats(f->arm, &before);
    setenv("BPT_LOG", "debug", 1); /* nothing secret in the most verbose log either */
    {
        const char *argv[] = {"deploy",    "--json",    "--state-dir", f->state_dir,
                              "--backend", "azure_cvm", spec_path,     NULL};
        assert_int_equal(bpt_test_run_cli_err(&out, &err, argv), 0);
    }
    const char *p = strstr(out, "\"id\":\"");
    assert_non_null(p);
    memcpy(id, p + 6, 16);
    assert_non_null(strstr(out, "\"backend\":\"azure_cvm\""));
    assert_non_null(strstr(out, "\"state\":\"running\""));
    assert_null(strstr(err, SECRET));
    assert_null(strstr(err, "azsim-tok"));
    assert_null(strstr(err, "client_assertion"));
    assert_non_null(strstr(err, "azure_cvm: VM bpt-")); /* the log was on */
    unsetenv("BPT_LOG");
    free(out);
    free(err);
    bpt_arm_server_stats(f->arm, &st);
    assert_int_equal(st.created - before.created, 1);
    /* status, attestation and pubkey under the user's policy (the MAA JWKS and issuer) */
    char policy_path[4400], policy[8192];
    snprintf(policy_path, sizeof(policy_path), "%s/maa-policy.json", f->dir);
    snprintf(policy, sizeof(policy),
             "{\"jwt\":{\"jwks_file\":\"%s/azure-maa/jwks.json\",\"issuers\":[\"" BPT_SIM_MAA_ISSUER
             "\"]}}",
             f->sim.dir);
    bpt_remote_test_write(policy_path, policy);
    {
        const char *argv[] = {"status", "--json", "--state-dir", f->state_dir, id, NULL};
        assert_int_equal(bpt_test_run_cli_err(&out, NULL, argv), 0);
        assert_non_null(strstr(out, "\"state\":\"running\""));
        free(out);
    }
    {
        const char *argv[] = {
            "attestation", "--state-dir", f->state_dir, "--policy", policy_path, id, NULL};
        assert_int_equal(bpt_test_run_cli_err(NULL, NULL, argv), 0);
    }
    {
        char bad_path[4400];
        snprintf(bad_path, sizeof(bad_path), "%s/maa-wrong.json", f->dir);
        snprintf(policy, sizeof(policy),
                 "{\"jwt\":{\"jwks_file\":\"%s/gcp-confidential/"
                 "jwks.json\",\"issuers\":[\"" BPT_SIM_MAA_ISSUER "\"]}}",
                 f->sim.dir);
        bpt_remote_test_write(bad_path, policy);
        const char *argv[] = {"pubkey", "--state-dir", f->state_dir, "--policy", bad_path,
                              id,       NULL};
        assert_int_equal(bpt_test_run_cli_err(NULL, &err, argv), 1); /* refused */
        assert_non_null(strstr(err, "no key with kid"));
        free(err);
    }
    {
        const char *argv[] = {"pubkey", "--state-dir", f->state_dir, "--policy", policy_path,
                              id,       NULL};
        assert_int_equal(bpt_test_run_cli_err(&out, NULL, argv), 0);
        assert_non_null(strstr(out, "x25519 "));
        free(out);
    }
    /* seal to it by its id (the plane's URL from the network interface), the MAA token verified
     * first; under a policy trusting another key set nothing is sealed */
    {
        assert_int_equal(bpt_remote_test_seal_cli(&out, &err, f->state_dir, id, "--policy",
                                                  policy_path, "az_cli_secret"),
                         0);
        assert_non_null(strstr(out, "seal: secret 'az_cli_secret' sealed"));
        free(out);
        free(err);
        char bad_path[4400];
        snprintf(bad_path, sizeof(bad_path), "%s/maa-wrong.json", f->dir);
        assert_int_equal(bpt_remote_test_seal_cli(&out, &err, f->state_dir, id, "--policy",
                                                  bad_path, "az_never"),
                         1);
        assert_non_null(strstr(err, "no key with kid"));
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
    bpt_arm_server_stats(f->arm, &st);
    assert_int_equal(st.deallocates - before.deallocates, 1);
    assert_int_equal(st.deletes - before.deletes, 1);
    /* refused credentials: exit 1 (refused), the AADSTS code in the message, not the secret */
    setenv("AZURE_CLIENT_SECRET", "wrong-secret-value", 1);
    {
        const char *argv[] = {"deploy",    "--state-dir", f->state_dir, "--backend",
                              "azure_cvm", spec_path,     NULL};
        int ex = bpt_test_run_cli_err(NULL, &err, argv);
        assert_non_null(strstr(err, "AADSTS7000215"));
        assert_null(strstr(err, "wrong-secret-value"));
        assert_int_equal(ex, 1);
        free(err);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_lifecycle, each_setup),
        cmocka_unit_test_setup(test_idempotent_and_resumed, each_setup),
        cmocka_unit_test_setup(test_throttling, each_setup),
        cmocka_unit_test_setup(test_location_and_foreign_host, each_setup),
        cmocka_unit_test_setup(test_credentials, each_setup),
        cmocka_unit_test_setup(test_evidence_refused, each_setup),
        cmocka_unit_test_setup(test_config, each_setup),
        cmocka_unit_test_setup(test_cli, each_setup),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
