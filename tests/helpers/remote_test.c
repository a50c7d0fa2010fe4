/* What the remote backends' tests share (remote_test.h). */
#include "helpers/remote_test.h"

#include "helpers/test.h"

int bpt_remote_test_serve(struct bpt_test_proc *p, const char *const *argv, uint16_t *port,
                          char *url, size_t url_cap)
{
    char line[256] = "";
    unsigned n = 0;
    const char *at;
    bpt_test_proc_start(p, argv);
    if (!bpt_test_proc_line(p, "serve: listening on", line, sizeof(line)) ||
        (at = strstr(line, "127.0.0.1:")) == NULL || sscanf(at, "127.0.0.1:%u", &n) != 1) {
        fprintf(stderr, "bpt serve did not start: %s\n", line);
        return -1;
    }
    *port = (uint16_t)n;
    snprintf(url, url_cap, "http://127.0.0.1:%u", n);
    return 0;
}

bpt_runtime *bpt_remote_test_runtime(const char *state_dir, const char *backend,
                                     const bpt_verifier *v)
{
    bpt_runtime_options o = BPT_RUNTIME_OPTIONS_INIT;
    bpt_runtime *rt = NULL;
    o.state_dir = state_dir;
    o.backend = backend;
    o.verifier = v;
    assert_ok(bpt_runtime_new(&rt, &o));
    return rt;
}

bpt_deploy_state bpt_remote_test_state(bpt_runtime *rt, const char *id)
{
    bpt_deployment *d = NULL;
    assert_ok(bpt_runtime_status(&d, rt, id));
    bpt_deploy_state s = bpt_deployment_state(d);
    bpt_deployment_free(d);
    return s;
}

int bpt_remote_test_seal(const char *url, const bpt_verifier *v, const char *name, size_t *stored)
{
    bpt_kx_client_result res = BPT_KX_CLIENT_RESULT_INIT;
    bpt_kx_client_secret s = {name, (const uint8_t *)"s3cret", 6};
    int rc = bpt_kx_client_send_with(&res, url, v, &s, 1, NULL);
    *stored = res.stored;
    return rc;
}

void bpt_remote_test_evidence(bpt_runtime *rt, const char *id, const char *plane_url,
                              const bpt_verifier *sealer, bpt_provider want)
{
    uint8_t nonce[32], rd[64];
    size_t rd_len = 0, stored = 0;
    bpt_verified *v = NULL;
    bpt_deployment *d = NULL;
    bpt_kx_client_key key = BPT_KX_CLIENT_KEY_INIT;
    memset(nonce, 0x5a, sizeof(nonce));
    assert_ok(bpt_runtime_attestation(&v, rt, id, nonce, sizeof(nonce)));
    assert_int_equal(bpt_verified_provider(v), want);
    assert_ok(bpt_kx_attestation_report_data(rd, nonce, sizeof(nonce)));
    const uint8_t *got = bpt_verified_report_data(v, &rd_len);
    assert_int_equal(rd_len, 64);
    assert_memory_equal(got, rd, 64); /* our nonce, bound */
    bpt_verified_free(v);
    assert_ok(bpt_runtime_status(&d, rt, id));
    assert_non_null(bpt_deployment_attestation_digest(d));
    bpt_deployment_free(d);
    assert_ok(bpt_runtime_public_key(&key, rt, id));
    assert_string_equal(key.key_type, "x25519");
    /* sealed only after the evidence verified and bound the key */
    assert_ok(bpt_remote_test_seal(plane_url, sealer, "db_password", &stored));
    assert_true(stored >= 1);
}

void bpt_remote_test_write(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

int bpt_remote_test_seal_cli(char **out, char **err, const char *state_dir, const char *id,
                             const char *flag, const char *value, const char *name)
{
    const char *argv[] = {"seal",   "--deployment", id,   "--state-dir", state_dir,
                          "--name", name,           flag, value,         NULL};
    const char *tail[] = {"--secret-env", "BPT_TEST_SEAL_SECRET"};
    const char *full[12];
    size_t n = 0;
    for (size_t i = 0; i < 9 && argv[i] != NULL; i++) {
        full[n++] = argv[i];
    }
    full[n++] = tail[0];
    full[n++] = tail[1];
    full[n] = NULL;
    setenv("BPT_TEST_SEAL_SECRET", "s3cret", 1);
    int ex = bpt_test_run_cli_err(out, err, full);
    unsetenv("BPT_TEST_SEAL_SECRET");
    return ex;
}
