/* bpt-test-labels: unit loopback */
/*
 * The simulated token services (attester/sim/tokens.h) as a remote workload serves them: `bpt
 * serve --simulate gcp-confidential|azure-maa` answers GET /v1/attestation?nonce= with a token
 * binding the plane's report data (GCP: eat_nonce's first two values; Azure CVM: the client
 * payload), which the runtime's plane check verifies with the simulator's JWKS; a sealing client
 * opens a session bound into such a token and seals; a JWKS of another key, another audience or
 * another image digest refuses before anything is sealed. Also bpt_attest_nonce's tokens, and
 * bpt_attest on a Confidential Space VM: the launcher's socket under the root.
 */
#include "helpers/test.h"

#include "helpers/proc.h"
#include "helpers/remote_test.h"
#include "helpers/sim_fixture.h"

#include "attester/sim/tokens.h"
#include "runtime/runtime_internal.h"

#include <jansson.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <pthread.h>
#include <unistd.h>

struct fx {
    struct bpt_sim_fixture sim;
    struct bpt_test_proc gcp, maa;
    char gcp_url[64], maa_url[64];
};

static int group_setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    uint16_t port;
    *state = f;
    if (!f || bpt_sim_fixture_init(&f->sim) != 0) {
        return -1;
    }
    const char *gcp[] = {"serve",       "--simulate", "gcp-confidential",           "--sim-dir",
                         f->sim.dir,    "--audience", "https://relying.example/kx", "--listen",
                         "127.0.0.1:0", NULL};
    const char *maa[] = {"serve",    "--simulate", "azure-maa",   "--sim-dir",
                         f->sim.dir, "--listen",   "127.0.0.1:0", NULL};
    return bpt_remote_test_serve(&f->gcp, gcp, &port, f->gcp_url, sizeof(f->gcp_url)) != 0 ||
                   bpt_remote_test_serve(&f->maa, maa, &port, f->maa_url, sizeof(f->maa_url)) != 0
               ? -1
               : 0;
}

static int group_teardown(void **state)
{
    struct fx *f = *state;
    bpt_test_proc_kill(&f->gcp);
    bpt_test_proc_kill(&f->maa);
    bpt_sim_fixture_dispose(&f->sim);
    free(f);
    return 0;
}

/* A verifier with @p policy, its "@DIR@" replaced by the simulator's directory. */
static bpt_verifier *verifier(struct fx *f, const char *policy)
{
    char json[8192];
    const char *at = strstr(policy, "@DIR@");
    bpt_policy *p = NULL;
    bpt_verify_ctx *c = NULL;
    bpt_verifier *v = NULL;
    assert_non_null(at);
    snprintf(json, sizeof(json), "%.*s%s%s", (int)(at - policy), policy, f->sim.dir, at + 5);
    assert_ok(bpt_policy_load_json(&p, json, strlen(json)));
    assert_ok(bpt_verify_ctx_new(&c, NULL));
    assert_ok(bpt_verifier_new(&v, c, p));
    bpt_verify_ctx_free(c);
    bpt_policy_free(p);
    return v;
}

#define GCP_POLICY                                                                                 \
    "{\"jwt\":{\"jwks_file\":\"@DIR@/gcp-confidential/jwks.json\"},"                               \
    "\"expected_audience\":\"https://relying.example/"                                             \
    "kx\",\"expected_image_digest\":\"" BPT_SIM_GCP_IMAGE_DIGEST "\"}"
#define MAA_POLICY                                                                                 \
    "{\"jwt\":{\"jwks_file\":\"@DIR@/azure-maa/jwks.json\",\"issuers\":[\"" BPT_SIM_MAA_ISSUER     \
    "\"]},\"expected_measurement\":\"sha384:" BPT_SIM_MAA_MEASUREMENT "\"}"

static int seal(const char *url, const bpt_verifier *v, const char *name)
{
    size_t stored = 0;
    int rc = bpt_remote_test_seal(url, v, name, &stored);
    if (rc == 0) {
        assert_int_equal(stored, 1);
    }
    return rc;
}

/* The plane's report data for a nonce, verified; then a sealed secret. */
static void plane_verifies_and_seals(const char *url, const bpt_verifier *v, bpt_provider want)
{
    uint8_t nonce[32], rd[64];
    size_t rd_len = 0;
    bpt_verified *out = NULL;
    memset(nonce, 0x5a, sizeof(nonce));
    assert_ok(bpt_runtime_attest_plane(&out, url, NULL, v, nonce, sizeof(nonce)));
    assert_int_equal(bpt_verified_provider(out), want);
    assert_ok(bpt_kx_attestation_report_data(rd, nonce, sizeof(nonce)));
    const uint8_t *got = bpt_verified_report_data(out, &rd_len);
    assert_int_equal(rd_len, 64);
    assert_memory_equal(got, rd, 64);
    bpt_verified_free(out);
    assert_ok(seal(url, v, want == BPT_PROVIDER_AZURE_SNP ? "maa_secret" : "gcp_secret"));
}

static void test_gcp_plane_verifies_and_seals(void **state)
{
    struct fx *f = *state;
    bpt_verifier *v = verifier(f, GCP_POLICY);
    plane_verifies_and_seals(f->gcp_url, v, BPT_PROVIDER_GCP_CONFIDENTIAL);
    bpt_verifier_free(v);
}

static void test_azure_plane_verifies_and_seals(void **state)
{
    struct fx *f = *state;
    bpt_verifier *v = verifier(f, MAA_POLICY);
    plane_verifies_and_seals(f->maa_url, v, BPT_PROVIDER_AZURE_SNP);
    bpt_verifier_free(v);
}

/* Evidence that does not verify: refused, and nothing is sealed. */
static void test_tokens_that_do_not_verify_seal_nothing(void **state)
{
    struct fx *f = *state;
    static const struct {
        int gcp;
        const char *policy, *msg;
        int code;
    } cases[] = {
        {1,
         "{\"jwt\":{\"jwks_file\":\"@DIR@/azure-maa/jwks.json\"},\"expected_audience\":"
         "\"https://relying.example/kx\"}",
         "no key with kid 'bpt-sim-gcp-1'", BPT_EKEYS},
        {1,
         "{\"jwt\":{\"jwks_file\":\"@DIR@/gcp-confidential/jwks.json\"},\"expected_audience\":"
         "\"https://someone.else\"}",
         "the audience is not the expected 'https://someone.else'", BPT_ECLAIM},
        {1,
         "{\"jwt\":{\"jwks_file\":\"@DIR@/gcp-confidential/jwks.json\"},\"expected_audience\":"
         "\"https://relying.example/kx\",\"expected_image_digest\":\"sha256:"
         "0000000000000000000000000000000000000000000000000000000000000000\"}",
         "image digest " BPT_SIM_GCP_IMAGE_DIGEST " is not the expected", BPT_ECLAIM},
        {0,
         "{\"jwt\":{\"jwks_file\":\"@DIR@/azure-maa/jwks.json\"},\"expected_measurement\":\"sha384:"
         "000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
         "000000000000\"}",
         "azure_maa: measurement", BPT_ECLAIM},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bpt_verifier *v = verifier(f, cases[i].policy);
        const char *url = cases[i].gcp ? f->gcp_url : f->maa_url;
        bpt_verified *out = NULL;
        uint8_t nonce[16] = {1};
        int rc = bpt_runtime_attest_plane(&out, url, NULL, v, nonce, sizeof(nonce));
        if (rc != cases[i].code || !strstr(bpt_error_last(), cases[i].msg)) {
            fail_msg("case %zu: got %d (%s), want %d with '%s'", i, rc, bpt_error_last(),
                     cases[i].code, cases[i].msg);
        }
        assert_null(out);
        rc = seal(url, v, "never_sealed");
        if (rc != cases[i].code || !strstr(bpt_error_last(), cases[i].msg)) {
            fail_msg("seal case %zu: got %d (%s)", i, rc, bpt_error_last());
        }
        bpt_verifier_free(v);
    }
}

/* bpt_attest_nonce: the nonce rule's fields (GCP eat_nonce, Azure nonce), the launcher's
 * limits, and the audience asked for. */
static void test_nonce_tokens(void **state)
{
    struct fx *f = *state;
    bpt_attester_opts ao = BPT_ATTESTER_OPTS_INIT;
    bpt_report *r = NULL;
    bpt_verified *out = NULL;
    bpt_verifier *v = NULL;
    const char *n = "nonce-0123456789";
    ao.simulate = BPT_PROVIDER_GCP_CONFIDENTIAL;
    ao.sim_dir = f->sim.dir;
    ao.audience = "https://relying.example/kx";
    assert_ok(bpt_attest_nonce(&r, (const uint8_t *)n, strlen(n), &ao));
    v = verifier(f, "{\"jwt\":{\"jwks_file\":\"@DIR@/gcp-confidential/jwks.json\"},"
                    "\"expected_audience\":\"https://relying.example/kx\","
                    "\"expected_nonce\":\"nonce-0123456789\"}");
    assert_ok(bpt_verifier_verify_report(&out, v, r));
    bpt_verified_free(out);
    bpt_verifier_free(v);
    bpt_report_free(r);
    assert_rc_msg(bpt_attest_nonce(&r, (const uint8_t *)"short", 5, &ao), BPT_EINVAL,
                  "sim: the Confidential Space launcher takes nonces of 10..74 bytes, not 5");

    ao.simulate = BPT_PROVIDER_AZURE_SNP;
    ao.audience = NULL;
    assert_ok(bpt_attest_nonce(&r, (const uint8_t *)n, strlen(n), &ao));
    v = verifier(f, "{\"jwt\":{\"jwks_file\":\"@DIR@/azure-maa/jwks.json\"},"
                    "\"expected_nonce\":\"nonce-0123456789\"}");
    assert_ok(bpt_verifier_verify_report(&out, v, r));
    bpt_verified_free(out);
    bpt_verifier_free(v);
    bpt_report_free(r);
    v = verifier(f, "{\"jwt\":{\"jwks_file\":\"@DIR@/azure-maa/jwks.json\"},"
                    "\"expected_nonce\":\"another-nonce-1\"}");
    assert_ok(bpt_attest_nonce(&r, (const uint8_t *)n, strlen(n), &ao));
    assert_rc_msg(bpt_verifier_verify_report(&out, v, r), BPT_ECLAIM,
                  "azure_maa: the token's nonce differs from the expected nonce");
    bpt_verifier_free(v);
    bpt_report_free(r);
}

/* A Confidential Space VM: a launcher on ROOT/run/container_launcher/teeserver.sock answers
 * with the simulator's token for the nonces and audience asked for. */
struct launcher {
    int fd;
    const char *sim_dir;
    char request[8192];
};

static void *launcher_one(void *arg)
{
    struct launcher *l = arg;
    int c = accept(l->fd, NULL, NULL);
    size_t n = 0;
    char *body, *tok = NULL, head[160];
    uint8_t rd[64];
    if (c < 0) {
        return NULL;
    }
    while (n < sizeof(l->request) - 1) {
        ssize_t r = recv(c, l->request + n, sizeof(l->request) - 1 - n, 0);
        if (r <= 0) {
            break;
        }
        n += (size_t)r;
        l->request[n] = '\0';
        if ((body = strstr(l->request, "\r\n\r\n")) && strchr(body, '}')) {
            break;
        }
    }
    /* the nonces asked for: two halves of report data; sign as the simulator would */
    json_t *req = (body = strstr(l->request, "\r\n\r\n")) ? json_loads(body + 4, 0, NULL) : NULL;
    const char *a = json_string_value(json_array_get(json_object_get(req, "nonces"), 0));
    const char *b = json_string_value(json_array_get(json_object_get(req, "nonces"), 1));
    char hex[129];
    if (a && b && strlen(a) == 64 && strlen(b) == 64) {
        snprintf(hex, sizeof(hex), "%s%s", a, b);
        for (int i = 0; i < 64; i++) {
            unsigned v = 0;
            sscanf(hex + 2 * i, "%2x", &v);
            rd[i] = (uint8_t)v;
        }
        struct bpt_sim_token_opts o = {.report_data = rd,
                                       .audience =
                                           json_string_value(json_object_get(req, "audience")),
                                       .issued_at = bpt_time_now()};
        if (bpt_sim_gcp_token(&tok, l->sim_dir, &o) != 0) {
            tok = NULL;
        }
    }
    snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n",
             tok ? strlen(tok) : 0);
    send(c, head, strlen(head), MSG_NOSIGNAL);
    if (tok) {
        send(c, tok, strlen(tok), MSG_NOSIGNAL);
    }
    close(c);
    bpt_free(tok);
    json_decref(req);
    return NULL;
}

static void test_attest_on_a_confidential_space_vm(void **state)
{
    struct fx *f = *state;
    char *root = bpt_test_tmpdir(), path[4200];
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    struct launcher l = {.sim_dir = f->sim.dir};
    bpt_attester_opts ao = BPT_ATTESTER_OPTS_INIT;
    bpt_report *r = NULL;
    uint8_t rd[64];
    pthread_t th;

    snprintf(path, sizeof(path), "%s/run", root);
    assert_int_equal(mkdir(path, 0700), 0);
    snprintf(path, sizeof(path), "%s/run/container_launcher", root);
    assert_int_equal(mkdir(path, 0700), 0);
    snprintf(path, sizeof(path), "%s/run/container_launcher/teeserver.sock", root);
    assert_true(strlen(path) < sizeof(a.sun_path));
    memcpy(a.sun_path, path, strlen(path) + 1);
    l.fd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_int_equal(bind(l.fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(l.fd, 2), 0);
    ao.root = root;

    /* without an audience: refused before asking */
    for (int i = 0; i < 64; i++) {
        rd[i] = (uint8_t)i;
    }
    assert_rc_msg(bpt_attest(&r, rd, &ao), BPT_EINVAL,
                  "a Confidential Space token needs an audience");

    ao.audience = "https://relying.example/kx";
    /* a nonce that is not text: refused before asking */
    assert_rc_msg(bpt_attest_nonce(&r, (const uint8_t *)"nonce-01\0-rest", 14, &ao), BPT_EINVAL,
                  "a Confidential Space nonce is text: it has a NUL byte at offset 8 of its 14");
    assert_null(r);
    assert_int_equal(pthread_create(&th, NULL, launcher_one, &l), 0);
    assert_ok(bpt_attest(&r, rd, &ao));
    pthread_join(th, NULL);
    assert_non_null(strstr(l.request, "POST /v1/token"));
    assert_non_null(strstr(l.request, "\"audience\":\"https://relying.example/kx\""));
    assert_non_null(strstr(l.request, "\"nonces\":[\"000102030405060708090a0b0c0d0e0f1011121314"
                                      "15161718191a1b1c1d1e1f\",\"202122232425262728292a2b2c2d2e2f"
                                      "303132333435363738393a3b3c3d3e3f\"]"));
    assert_int_equal(bpt_report_provider(r), BPT_PROVIDER_GCP_CONFIDENTIAL);
    bpt_verifier *v = verifier(f, GCP_POLICY);
    bpt_verified *out = NULL;
    size_t rd_len = 0;
    assert_ok(bpt_verifier_verify_report(&out, v, r));
    assert_memory_equal(bpt_verified_report_data(out, &rd_len), rd, 64);
    bpt_verified_free(out);
    bpt_verifier_free(v);
    bpt_report_free(r);
    close(l.fd);
    bpt_test_rmtree(root);
    free(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gcp_plane_verifies_and_seals),
        cmocka_unit_test(test_azure_plane_verifies_and_seals),
        cmocka_unit_test(test_tokens_that_do_not_verify_seal_nothing),
        cmocka_unit_test(test_nonce_tokens),
        cmocka_unit_test(test_attest_on_a_confidential_space_vm),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
