/*
 * The registry (src/runtime/runtime.c) with a plugin backend (sys/backend.h) that keeps its
 * "containers" in memory and, when it deploys, serves the real key exchange in-process on the
 * deployment's socket with the simulated SEV-SNP: dispatch and defaults (TEE_BACKEND, the
 * config), remote backends refused, the interface's checks, deploy idempotent by name and spec
 * (a changed spec refused), the sealed-only rule, stop / deploy again / destroy, reconciling each
 * disagreement, attestation over the plane (fresh nonce, exactly its binding, the digest in the
 * store, the cache across runtimes), the plane's error answers refused, the verified public key.
 */
#include "helpers/test.h"

#include "helpers/canned_http.h"
#include "helpers/sim_fixture.h"

#include <stddef.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <blueprint-tee/sys/backend.h>

#include "runtime/runtime_internal.h"
#include "runtime/store.h"

#define MAX_FAKE 8

struct fake_container {
    char id[17];
    bpt_backend_state state;
    bpt_kx_server *srv;
};

struct fake {
    struct bpt_sim_fixture *sim;
    bool wrong_binding; /* the workload binds another report_data */
    const bpt_verifier *verifier;
    struct fake_container c[MAX_FAKE];
    int deploys, stops, destroys;
    bpt_kx_service *svc;
    bpt_kx_store *store;
};

struct fx {
    struct bpt_sim_fixture sim;
    struct fake fake;
    bpt_verifier *verifier;
    char *dir;
    char state_dir[4200];
};

static int sim_attest(bpt_report **out, const uint8_t report_data[64], void *ud)
{
    struct fake *f = ud;
    uint8_t rd[64];
    memcpy(rd, report_data, 64);
    if (f->wrong_binding) {
        rd[63] ^= 1;
    }
    bpt_attester_opts o = BPT_ATTESTER_OPTS_INIT;
    o.simulate = BPT_PROVIDER_AMD_SEV_SNP;
    o.sim_dir = f->sim->dir;
    return bpt_attest(out, rd, &o);
}

static struct fake_container *find(struct fake *f, const char *id, bool make)
{
    for (size_t i = 0; i < MAX_FAKE; i++) {
        if (f->c[i].id[0] && strcmp(f->c[i].id, id) == 0) {
            return &f->c[i];
        }
    }
    for (size_t i = 0; make && i < MAX_FAKE; i++) {
        if (!f->c[i].id[0]) {
            snprintf(f->c[i].id, sizeof(f->c[i].id), "%s", id);
            return &f->c[i];
        }
    }
    return NULL;
}

static int fake_init(void **state, const bpt_backend_env *env, void *userdata)
{
    struct fake *f = userdata;
    f->verifier = env->verifier;
    *state = f;
    return 0;
}

static int fake_deploy(void *state, const bpt_backend_deployment *d)
{
    struct fake *f = state;
    struct fake_container *c = find(f, d->id, true);
    f->deploys++;
    if (c->srv == NULL) {
        bpt_kx_server_options o = BPT_KX_SERVER_OPTIONS_INIT;
        o.store = f->store;
        o.listen_unix = d->kx_socket;
        int rc = bpt_kx_server_start(&c->srv, f->svc, &o);
        if (rc < 0) {
            return rc;
        }
    }
    c->state = BPT_BACKEND_RUNNING;
    return 0;
}

static void stop_server(struct fake_container *c)
{
    bpt_kx_server_stop(c->srv);
    c->srv = NULL;
}

static int fake_attestation(bpt_verified **out, void *state, const bpt_backend_deployment *d,
                            const uint8_t *nonce, size_t nonce_len)
{
    struct fake *f = state;
    return bpt_runtime_attest_workload(out, d->kx_socket, f->verifier, nonce, nonce_len);
}

static int fake_public_key(bpt_kx_client_key *out, void *state, const bpt_backend_deployment *d)
{
    struct fake *f = state;
    bpt_kx_client_options co = BPT_KX_CLIENT_OPTIONS_INIT;
    co.unix_socket = d->kx_socket;
    return bpt_kx_client_session_key(out, "http://localhost", f->verifier, &co);
}

static int fake_status(bpt_backend_state *out, void *state, const bpt_backend_deployment *d)
{
    struct fake_container *c = find(state, d->id, false);
    *out = c ? c->state : BPT_BACKEND_ABSENT;
    return 0;
}

static int fake_stop(void *state, const bpt_backend_deployment *d)
{
    struct fake *f = state;
    struct fake_container *c = find(f, d->id, false);
    f->stops++;
    if (c != NULL) {
        stop_server(c);
        c->id[0] = '\0'; /* stopped and deleted, as the direct backend does */
    }
    return 0;
}

static int fake_destroy(void *state, const bpt_backend_deployment *d)
{
    struct fake *f = state;
    struct fake_container *c = find(f, d->id, false);
    f->destroys++;
    if (c != NULL) {
        stop_server(c);
        c->id[0] = '\0';
    }
    return 0;
}

static int fake_list(void *state, bpt_backend_list_fn fn, void *ud)
{
    struct fake *f = state;
    for (size_t i = 0; i < MAX_FAKE; i++) {
        if (f->c[i].id[0] && fn(f->c[i].id, f->c[i].state, ud) != 0) {
            break;
        }
    }
    return 0;
}

static const bpt_runtime_backend FAKE = {
    .version = BPT_RUNTIME_BACKEND_VERSION,
    .name = "fake",
    .init = fake_init,
    .deploy = fake_deploy,
    .attestation = fake_attestation,
    .public_key = fake_public_key,
    .status = fake_status,
    .stop = fake_stop,
    .destroy = fake_destroy,
    .list = fake_list,
};

/* Once: the simulator, the verifier, the workload's key-exchange service. */
static int group_setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    bpt_verify_ctx *ctx = NULL;
    *state = f;
    if (f == NULL || bpt_sim_fixture_init(&f->sim) != 0 ||
        !(ctx = bpt_sim_fixture_ctx(&f->sim, 0, NULL))) {
        return -1;
    }
    int rc = bpt_verifier_new(&f->verifier, ctx, NULL);
    bpt_verify_ctx_free(ctx);
    bpt_kx_service_options so = BPT_KX_SERVICE_OPTIONS_INIT;
    so.attest = sim_attest;
    so.attest_userdata = &f->fake;
    f->fake.sim = &f->sim;
    if (rc != 0 || bpt_kx_service_new(&f->fake.svc, &so) != 0 ||
        bpt_kx_store_new(&f->fake.store) != 0) {
        return -1;
    }
    unsetenv("TEE_BACKEND");
    return 0;
}

static int group_teardown(void **state)
{
    struct fx *f = *state;
    bpt_kx_service_free(f->fake.svc);
    bpt_kx_store_free(f->fake.store);
    bpt_verifier_free(f->verifier);
    bpt_sim_fixture_dispose(&f->sim);
    free(f);
    return 0;
}

/* Each test: a fresh state directory, a fake backend with nothing in it. */
static int setup(void **state)
{
    struct fx *f = *state;
    memset(f->fake.c, 0, sizeof(f->fake.c));
    f->fake.deploys = f->fake.stops = f->fake.destroys = 0;
    f->fake.wrong_binding = false;
    f->dir = bpt_test_tmpdir();
    snprintf(f->state_dir, sizeof(f->state_dir), "%s/state", f->dir);
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    for (size_t i = 0; i < MAX_FAKE; i++) {
        stop_server(&f->fake.c[i]);
    }
    bpt_test_rmtree(f->dir);
    free(f->dir);
    f->dir = NULL;
    return 0;
}

/* A runtime over the fixture's store with the fake backend as the default. */
static bpt_runtime *open_rt(struct fx *f, const bpt_config *cfg)
{
    bpt_runtime_options o = BPT_RUNTIME_OPTIONS_INIT;
    bpt_runtime *rt = NULL;
    o.state_dir = f->state_dir;
    o.backend = "fake";
    o.verifier = f->verifier;
    o.config = cfg;
    o.oci_runtime = "/nonexistent/runc"; /* the direct backend has nothing to say here */
    o.ready_timeout_ms = 2000;
    assert_ok(bpt_runtime_new(&rt, &o));
    assert_ok(bpt_runtime_add_backend(rt, &FAKE, &f->fake));
    return rt;
}

static bpt_deploy_spec *spec(const char *json)
{
    bpt_deploy_spec *s = NULL;
    assert_ok(bpt_deploy_spec_load_json(&s, json, strlen(json)));
    return s;
}

static bpt_config *config(const char *json)
{
    bpt_config *c = NULL;
    assert_ok(bpt_config_load_json(&c, json, strlen(json)));
    return c;
}

static void test_defaults_and_remote_backends(void **state)
{
    struct fx *f = *state;
    bpt_runtime_options o = BPT_RUNTIME_OPTIONS_INIT;
    bpt_runtime *rt = NULL;
    bpt_deployment *d = NULL;
    o.state_dir = f->state_dir;
    o.oci_runtime = "/nonexistent/runc";
    assert_ok(bpt_runtime_new(&rt, &o));
    assert_string_equal(bpt_runtime_default_backend(rt), "direct");
    /* the remote backends are built (test_aws_nitro.c, test_azure_cvm.c,
     * test_gcp_confidential_space.c): without their configuration they refuse */
    bpt_deploy_spec *s = spec("{\"name\":\"a\",\"image\":\"/i\"}");
    unsetenv("BPT_AWS_NITRO_CONFIG");
    unsetenv("BPT_AZURE_CVM_CONFIG");
    bpt_deploy_spec *sa = spec("{\"name\":\"az\",\"image\":\"/i\"}");
    assert_rc_msg(bpt_runtime_deploy(&d, rt, sa, "azure_cvm"), BPT_EINVAL,
                  "azure_cvm: configuration: ");
    assert_rc_msg(bpt_runtime_deploy(&d, rt, s, "aws_nitro"), BPT_EINVAL,
                  "aws_nitro: configuration: ");
    unsetenv("BPT_GCP_CONFIDENTIAL_SPACE_CONFIG");
    bpt_deploy_spec *g = spec("{\"name\":\"g\",\"image\":\"/i\"}");
    assert_rc_msg(bpt_runtime_deploy(&d, rt, g, "gcp_confidential_space"), BPT_EINVAL,
                  "gcp_confidential_space: configuration: ");
    bpt_deploy_spec_free(g);
    assert_rc_msg(bpt_runtime_deploy(&d, rt, s, "nope"), BPT_ENOTFOUND, "no backend 'nope'");
    /* the direct backend with an OCI runtime that is not there */
    char json[4300];
    snprintf(json, sizeof(json), "{\"name\":\"b\",\"image\":\"%s\",\"args\":[\"/x\"]}", f->dir);
    bpt_deploy_spec *real = spec(json);
    assert_rc_msg(bpt_runtime_deploy(&d, rt, real, NULL), BPT_EIO, "/nonexistent/runc");
    assert_null(d);
    bpt_deploy_spec_free(real);
    assert_ok(bpt_runtime_status(&d, rt, "b"));
    assert_int_equal(bpt_deployment_state(d), BPT_DEPLOY_FAILED);
    assert_non_null(strstr(bpt_deployment_detail(d), "/nonexistent/runc"));
    bpt_deployment_free(d);
    d = NULL;
    bpt_runtime_free(rt);

    /* TEE_BACKEND, then the config */
    setenv("TEE_BACKEND", "azure_cvm", 1);
    assert_ok(bpt_runtime_new(&rt, &o));
    assert_string_equal(bpt_runtime_default_backend(rt), "azure_cvm");
    assert_rc_msg(bpt_runtime_deploy(&d, rt, sa, NULL), BPT_EINVAL, "azure_cvm: configuration");
    bpt_deploy_spec_free(sa);
    bpt_runtime_free(rt);
    unsetenv("TEE_BACKEND");
    bpt_config *remote = config("{\"mode\":\"remote\",\"provider_selector\":{\"allow_list\":"
                                "[\"intel_tdx\",\"gcp_confidential\"]}}");
    bpt_config *any = config("{\"mode\":\"remote\"}"), *direct = config("{\"mode\":\"direct\"}");
    assert_string_equal(bpt_runtime_backend_for_config(remote), "gcp_confidential_space");
    assert_string_equal(bpt_runtime_backend_for_config(direct), "direct");
    assert_null(bpt_runtime_backend_for_config(any));
    o.config = remote;
    assert_ok(bpt_runtime_new(&rt, &o));
    assert_string_equal(bpt_runtime_default_backend(rt), "gcp_confidential_space");
    bpt_runtime_free(rt);
    o.config = any;
    assert_rc_msg(bpt_runtime_new(&rt, &o), BPT_EINVAL, "set TEE_BACKEND");
    assert_null(rt);
    bpt_config_free(remote);
    bpt_config_free(any);
    bpt_config_free(direct);
    bpt_deploy_spec_free(s);
}

static void test_backend_interface_checks(void **state)
{
    struct fx *f = *state;
    bpt_runtime *rt = open_rt(f, NULL);
    bpt_runtime_backend be = FAKE;
    be.version = 3;
    assert_rc_msg(bpt_runtime_add_backend(rt, &be, &f->fake), BPT_EINVAL,
                  "backend interface version 3, this library implements 1..2");
    be.version = 0;
    assert_rc_msg(bpt_runtime_add_backend(rt, &be, &f->fake), BPT_EINVAL, "version 0");
    be = FAKE;
    be.name = "Bad-Name";
    assert_rc_msg(bpt_runtime_add_backend(rt, &be, &f->fake), BPT_EINVAL, "[a-z0-9_]");
    be = FAKE;
    be.name = "other";
    be.list = NULL;
    assert_rc_msg(bpt_runtime_add_backend(rt, &be, &f->fake), BPT_EINVAL,
                  "lacks a required function");
    assert_rc_msg(bpt_runtime_add_backend(rt, &FAKE, &f->fake), BPT_EINVAL, "registered already");
    /* a built-in's place may be taken */
    be = FAKE;
    be.name = "aws_nitro";
    assert_ok(bpt_runtime_add_backend(rt, &be, &f->fake));
    /* a version-1 backend: its struct ends before plane_url, which is never read */
    {
        struct {
            unsigned char v1[offsetof(bpt_runtime_backend, plane_url)];
        } old;
        be = FAKE;
        be.version = 1;
        be.name = "old_one";
        memcpy(old.v1, &be, sizeof(old.v1));
        bpt_runtime_backend *p = malloc(sizeof(old)); /* exactly v1's size: ASan sees a read past */
        memcpy(p, &old, sizeof(old));
        assert_ok(bpt_runtime_add_backend(rt, p, &f->fake));
        free(p);
    }
    bpt_runtime_free(rt);
}

static void test_deploy_idempotent_and_refusals(void **state)
{
    struct fx *f = *state;
    bpt_runtime *rt = open_rt(f, NULL);
    bpt_deployment *a = NULL, *b = NULL, *c = NULL;
    bpt_deploy_spec *s1 = spec("{\"name\":\"svc\",\"image\":\"/i\",\"args\":[\"/x\"]}");
    bpt_deploy_spec *s1b = spec("{\"args\":[\"/x\"],\"image\":\"/i\",\"name\":\"svc\","
                                "\"network\":\"none\"}");
    bpt_deploy_spec *s2 = spec("{\"name\":\"svc\",\"image\":\"/i\",\"args\":[\"/y\"]}");
    bpt_deploy_spec *valued = spec("{\"name\":\"v\",\"image\":\"/i\",\"secrets\":[{\"name\":"
                                   "\"k\",\"value\":\"hunter2\"}]}");

    assert_ok(bpt_runtime_deploy(&a, rt, s1, NULL));
    assert_int_equal(bpt_deployment_state(a), BPT_DEPLOY_RUNNING);
    assert_string_equal(bpt_deployment_backend(a), "fake");
    assert_string_equal(bpt_deployment_name(a), "svc");
    assert_string_equal(bpt_deployment_spec_hash(a), bpt_deploy_spec_hash(s1));
    struct stat sb;
    assert_int_equal(stat(bpt_deployment_host_dir(a), &sb), 0);
    assert_true(S_ISDIR(sb.st_mode));
    assert_int_equal(f->fake.deploys, 1);
    /* the same spec (another spelling): the same deployment, nothing deployed again */
    assert_ok(bpt_runtime_deploy(&b, rt, s1b, NULL));
    assert_string_equal(bpt_deployment_id(b), bpt_deployment_id(a));
    assert_int_equal(f->fake.deploys, 1);
    /* a changed spec under the name: refused, saying what to do; nothing changed */
    assert_rc_msg(bpt_runtime_deploy(&c, rt, s2, NULL), BPT_EEXISTS, "destroy it first");
    assert_non_null(strstr(bpt_error_last(), bpt_deployment_id(a)));
    assert_null(c);
    assert_int_equal(f->fake.deploys, 1);
    bpt_deployment_free(b);
    assert_ok(bpt_runtime_status(&b, rt, "svc"));
    assert_string_equal(bpt_deployment_spec_hash(b), bpt_deploy_spec_hash(s1));
    assert_int_equal(bpt_deployment_state(b), BPT_DEPLOY_RUNNING);
    bpt_deployment_free(b);
    /* a secret value: refused under sealed_only (no config: every deployment is a TEE's) */
    assert_rc_msg(bpt_runtime_deploy(&c, rt, valued, NULL), BPT_EINVAL,
                  "secret 'k' carries a value");
    assert_null(strstr(bpt_error_last(), "hunter2"));
    assert_int_equal(f->fake.deploys, 1);
    bpt_runtime_free(rt);
    /* ... and taken when the config says env_or_sealed (a non-TEE deployment) */
    bpt_config *plain = config("{\"mode\":\"disabled\"}");
    rt = open_rt(f, plain);
    assert_ok(bpt_runtime_deploy(&c, rt, valued, NULL));
    assert_int_equal(f->fake.deploys, 2);
    bpt_deployment_free(c);
    bpt_runtime_free(rt);
    bpt_config_free(plain);
    bpt_deployment_free(a);
    bpt_deploy_spec_free(s1);
    bpt_deploy_spec_free(s1b);
    bpt_deploy_spec_free(s2);
    bpt_deploy_spec_free(valued);
}

static void test_stop_deploy_again_destroy(void **state)
{
    struct fx *f = *state;
    bpt_runtime *rt = open_rt(f, NULL);
    bpt_deployment *a = NULL, *b = NULL;
    bpt_deploy_spec *s = spec("{\"name\":\"svc\",\"image\":\"/i\"}");
    bpt_deploy_spec *s2 = spec("{\"name\":\"svc\",\"image\":\"/j\"}");
    assert_ok(bpt_runtime_deploy(&a, rt, s, NULL));
    char id[17];
    snprintf(id, sizeof(id), "%s", bpt_deployment_id(a));
    assert_ok(bpt_runtime_stop(rt, id));
    assert_ok(bpt_runtime_stop(rt, "svc")); /* by name; stopping a stopped one does nothing */
    assert_int_equal(f->fake.stops, 1);
    assert_ok(bpt_runtime_status(&b, rt, id));
    assert_int_equal(bpt_deployment_state(b), BPT_DEPLOY_STOPPED);
    bpt_deployment_free(b);
    /* the same spec starts it again, in place */
    assert_ok(bpt_runtime_deploy(&b, rt, s, NULL));
    assert_string_equal(bpt_deployment_id(b), id);
    assert_int_equal(bpt_deployment_state(b), BPT_DEPLOY_RUNNING);
    assert_int_equal(f->fake.deploys, 2);
    bpt_deployment_free(b);
    /* destroy: directories gone, the row kept, the name free */
    char dir[4300];
    snprintf(dir, sizeof(dir), "%s/deployments/%s", f->state_dir, id);
    assert_ok(bpt_runtime_destroy(rt, id));
    assert_ok(bpt_runtime_destroy(rt, id)); /* again: nothing to do */
    assert_int_equal(f->fake.destroys, 1);
    struct stat sb;
    assert_int_not_equal(stat(dir, &sb), 0);
    assert_ok(bpt_runtime_status(&b, rt, id));
    assert_int_equal(bpt_deployment_state(b), BPT_DEPLOY_DESTROYED);
    bpt_deployment_free(b);
    assert_rc_msg(bpt_runtime_stop(rt, id), BPT_EINVAL, "destroyed");
    assert_rc_msg(bpt_runtime_status(&b, rt, "svc"), BPT_ENOTFOUND, "no deployment svc");
    assert_ok(bpt_runtime_deploy(&b, rt, s2, NULL)); /* another spec, now the name is free */
    assert_string_not_equal(bpt_deployment_id(b), id);
    bpt_deployment_free(b);
    bpt_deployment **list = NULL;
    size_t n = 0;
    assert_ok(bpt_runtime_list(&list, &n, rt, false));
    assert_int_equal(n, 1);
    bpt_deployment_list_free(list, n);
    assert_ok(bpt_runtime_list(&list, &n, rt, true));
    assert_int_equal(n, 2);
    bpt_deployment_list_free(list, n);
    assert_rc_msg(bpt_runtime_stop(rt, "0000000000000000"), BPT_ENOTFOUND, "no deployment");
    bpt_deployment_free(a);
    bpt_deploy_spec_free(s);
    bpt_deploy_spec_free(s2);
    bpt_runtime_free(rt);
}

/* Reconciling: each disagreement between a row and its backend, settled. */
static void test_reconcile(void **state)
{
    struct fx *f = *state;
    bpt_runtime *rt = open_rt(f, NULL);
    bpt_deployment *gone = NULL, *exited = NULL, *ok = NULL, *d = NULL;
    bpt_deploy_spec *s1 = spec("{\"name\":\"gone\",\"image\":\"/i\"}");
    bpt_deploy_spec *s2 = spec("{\"name\":\"exited\",\"image\":\"/i\"}");
    bpt_deploy_spec *s3 = spec("{\"name\":\"ok\",\"image\":\"/i\"}");
    assert_ok(bpt_runtime_deploy(&gone, rt, s1, NULL));
    assert_ok(bpt_runtime_deploy(&exited, rt, s2, NULL));
    assert_ok(bpt_runtime_deploy(&ok, rt, s3, NULL));
    /* the backend's truth changes behind the store's back */
    struct fake_container *c = find(&f->fake, bpt_deployment_id(gone), false);
    stop_server(c);
    c->id[0] = '\0';
    find(&f->fake, bpt_deployment_id(exited), false)->state = BPT_BACKEND_EXITED;
    find(&f->fake, "00000000000000aa", true)->state = BPT_BACKEND_RUNNING; /* an orphan */
    /* an interrupted deploy: a row owned by a process that is gone, its container created */
    pid_t dead = fork();
    if (dead == 0) {
        _exit(0);
    }
    waitpid(dead, NULL, 0);
    bpt_store *st = NULL;
    struct bpt_store_row row;
    bool created = false;
    char db[4300], deps[4300];
    snprintf(db, sizeof(db), "%s/state.db", f->state_dir);
    snprintf(deps, sizeof(deps), "%s/deployments", f->state_dir);
    struct bpt_store_owner ghost = {dead, 12345};
    assert_ok(bpt_store_open(&st, db, 1000));
    assert_ok(bpt_store_claim(&row, &created, st, "half", "h", "fake", deps, &ghost, 1));
    bpt_store_close(st);
    find(&f->fake, row.id, true)->state = BPT_BACKEND_CREATED;
    int stops = f->fake.stops, destroys = f->fake.destroys;

    bpt_runtime_reconcile_stats rs;
    assert_ok(bpt_runtime_reconcile(&rs, rt));
    assert_int_equal(rs.updated, 3);
    assert_int_equal(rs.cleaned, 2); /* the exited container, the half-made one */
    assert_int_equal(rs.orphans, 1);
    assert_int_equal(f->fake.stops, stops + 2);
    assert_int_equal(f->fake.destroys, destroys + 1);
    assert_null(find(&f->fake, "00000000000000aa", false));
    assert_null(find(&f->fake, row.id, false));

    assert_ok(bpt_runtime_status(&d, rt, bpt_deployment_id(gone)));
    assert_int_equal(bpt_deployment_state(d), BPT_DEPLOY_FAILED);
    assert_string_equal(bpt_deployment_detail(d), "its container is gone");
    bpt_deployment_free(d);
    assert_ok(bpt_runtime_status(&d, rt, bpt_deployment_id(exited)));
    assert_int_equal(bpt_deployment_state(d), BPT_DEPLOY_STOPPED);
    assert_string_equal(bpt_deployment_detail(d), "the workload exited");
    bpt_deployment_free(d);
    assert_ok(bpt_runtime_status(&d, rt, row.id));
    assert_int_equal(bpt_deployment_state(d), BPT_DEPLOY_FAILED);
    assert_non_null(strstr(bpt_deployment_detail(d), "interrupted between create and start"));
    bpt_deployment_free(d);
    assert_ok(bpt_runtime_status(&d, rt, bpt_deployment_id(ok)));
    assert_int_equal(bpt_deployment_state(d), BPT_DEPLOY_RUNNING);
    bpt_deployment_free(d);
    /* agreed now: a second pass changes nothing */
    assert_ok(bpt_runtime_reconcile(&rs, rt));
    assert_int_equal(rs.updated + rs.cleaned + rs.orphans, 0);
    bpt_store_row_dispose(&row);
    bpt_deployment_free(gone);
    bpt_deployment_free(exited);
    bpt_deployment_free(ok);
    bpt_deploy_spec_free(s1);
    bpt_deploy_spec_free(s2);
    bpt_deploy_spec_free(s3);
    bpt_runtime_free(rt);
}

static void test_attestation_over_the_plane(void **state)
{
    struct fx *f = *state;
    bpt_runtime *rt = open_rt(f, NULL);
    bpt_deployment *d = NULL, *again = NULL;
    bpt_verified *v = NULL;
    bpt_deploy_spec *s = spec("{\"name\":\"svc\",\"image\":\"/i\"}");
    uint8_t nonce[24], want[64];
    memset(nonce, 7, sizeof(nonce));
    assert_ok(bpt_runtime_deploy(&d, rt, s, NULL));
    const char *id = bpt_deployment_id(d);
    assert_null(bpt_deployment_attestation_digest(d));
    bpt_report *cached = NULL;
    assert_rc_msg(bpt_runtime_cached_attestation(&cached, NULL, rt, id), BPT_ENOTFOUND,
                  "no verified attestation yet");

    assert_ok(bpt_runtime_attestation(&v, rt, id, nonce, sizeof(nonce)));
    assert_ok(bpt_kx_attestation_report_data(want, nonce, sizeof(nonce)));
    size_t rdl = 0;
    assert_memory_equal(bpt_verified_report_data(v, &rdl), want, 64);
    char digest[65];
    bpt_report_evidence_digest(digest, bpt_verified_report(v));
    bpt_verified_free(v);
    /* the digest is in the store; another runtime gets the cached report from there */
    assert_ok(bpt_runtime_status(&again, rt, id));
    assert_string_equal(bpt_deployment_attestation_digest(again), digest);
    assert_true(bpt_deployment_attested_at(again) > 0);
    bpt_deployment_free(again);
    bpt_runtime *rt2 = open_rt(f, NULL);
    int64_t at = 0;
    char d2[65];
    assert_ok(bpt_runtime_cached_attestation(&cached, &at, rt2, id));
    bpt_report_evidence_digest(d2, cached);
    assert_string_equal(d2, digest);
    assert_true(at > 0);
    bpt_report_free(cached);
    bpt_runtime_free(rt2);
    assert_ok(bpt_runtime_cached_attestation(&cached, NULL, rt, id)); /* its own cache */
    bpt_report_free(cached);
    /* a fresh nonce when none is given */
    assert_ok(bpt_runtime_attestation(&v, rt, id, NULL, 0));
    bpt_verified_free(v);
    /* the workload binding another report_data: refused, and the store keeps the old one */
    f->fake.wrong_binding = true;
    assert_rc_msg(bpt_runtime_attestation(&v, rt, id, nonce, sizeof(nonce)), BPT_ECLAIM,
                  "report_data");
    assert_null(v);
    f->fake.wrong_binding = false;
    assert_rc_msg(bpt_runtime_attestation(&v, rt, id, nonce, 8), BPT_EINVAL, "not 8");
    /* the verified public key is the session key the workload holds */
    bpt_kx_client_key k = BPT_KX_CLIENT_KEY_INIT;
    assert_ok(bpt_runtime_public_key(&k, rt, id));
    bpt_kx_session *sess = NULL;
    assert_ok(bpt_kx_service_consume(&sess, f->fake.svc, k.session_id));
    assert_memory_equal(bpt_kx_session_public_key(sess), k.public_key, 32);
    bpt_kx_session_free(sess);
    char sock[4096];
    assert_ok(bpt_runtime_kx_socket(sock, sizeof(sock), rt, id));
    assert_memory_equal(sock, "/proc/self/fd/", 14); /* exactly that socket, held open */
    bpt_kx_client_options co = BPT_KX_CLIENT_OPTIONS_INIT;
    co.unix_socket = sock;
    bpt_kx_client_key k2 = BPT_KX_CLIENT_KEY_INIT;
    assert_ok(bpt_kx_client_session_key(&k2, "http://localhost", f->verifier, &co));
    /* not running: nothing to attest */
    assert_ok(bpt_runtime_stop(rt, id));
    assert_rc_msg(bpt_runtime_attestation(&v, rt, id, nonce, sizeof(nonce)), BPT_EINVAL,
                  "is stopped, not running");
    assert_rc_msg(bpt_runtime_public_key(&k, rt, id), BPT_EINVAL, "not running");
    assert_rc_msg(bpt_runtime_kx_socket(sock, sizeof(sock), rt, id), BPT_EINVAL, "not running");
    bpt_deployment_free(d);
    bpt_deploy_spec_free(s);
    bpt_runtime_free(rt);
}

/* The workload owns its directory: a link it puts at kx.sock (to another socket of the host's)
 * is never followed by the runtime's attestation or its socket path (the direct backend's
 * public key: tests/runtime/test_direct.c). */
static void test_socket_link_not_followed(void **state)
{
    struct fx *f = *state;
    bpt_runtime *rt = open_rt(f, NULL);
    bpt_deployment *d = NULL;
    bpt_verified *v = NULL;
    bpt_deploy_spec *s = spec("{\"name\":\"svc\",\"image\":\"/i\"}");
    assert_ok(bpt_runtime_deploy(&d, rt, s, NULL));
    const char *id = bpt_deployment_id(d);
    /* the workload's socket replaced by a link to a live socket elsewhere (one that would
     * answer: another key-exchange server) */
    struct fake_container *c = find(&f->fake, id, false);
    stop_server(c);
    char other[4300];
    snprintf(other, sizeof(other), "%s/other.sock", f->dir);
    bpt_kx_server *srv = NULL;
    bpt_kx_server_options o = BPT_KX_SERVER_OPTIONS_INIT;
    o.store = f->fake.store;
    o.listen_unix = other;
    assert_ok(bpt_kx_server_start(&srv, f->fake.svc, &o));
    assert_int_equal(symlink(other, bpt_deployment_kx_socket(d)), 0);
    assert_rc_msg(bpt_runtime_attestation(&v, rt, id, NULL, 0), BPT_EPROTOCOL, "is not a socket");
    char sock[4096];
    assert_rc_msg(bpt_runtime_kx_socket(sock, sizeof(sock), rt, id), BPT_EPROTOCOL,
                  "is not a socket");
    bpt_kx_server_stop(srv);
    bpt_deployment_free(d);
    bpt_deploy_spec_free(s);
    bpt_runtime_free(rt);
}

/* The plane's answers that carry no evidence: an error (its code and message, unavailable or
 * refused by its status) and a 200 without an attestation, each refused before verifying. */
static void test_plane_answers_refused(void **state)
{
    struct fx *f = *state;
    static const struct {
        int status;
        const char *body;
        int code;
        const char *msg;
    } CASES[] = {
        {503, "{\"error\":{\"code\":\"busy\",\"message\":\"later\"}}", BPT_EFETCH,
         "HTTP 503 busy: later"},
        {429, "{}", BPT_EFETCH, "HTTP 429 ?"},
        {400, "{\"error\":{\"code\":\"bad_nonce\",\"message\":\"odd\"}}", BPT_EPROTOCOL,
         "HTTP 400 bad_nonce: odd"},
        {200, "{\"evidence\":{}}", BPT_EPROTOCOL, "the answer has no attestation"},
        {200, "{\"attestation\":{\"format\":7}}", BPT_EPROTOCOL, "missing field 'provider'"},
    };
    for (size_t i = 0; i < sizeof(CASES) / sizeof(CASES[0]); i++) {
        struct bpt_canned_http *srv = NULL;
        bpt_verified *v = (bpt_verified *)1;
        char url[64];
        assert_int_equal(bpt_canned_http_start(&srv, CASES[i].status, CASES[i].body), 0);
        snprintf(url, sizeof(url), "http://127.0.0.1:%u", bpt_canned_http_port(srv));
        assert_rc_msg(bpt_runtime_attest_plane(&v, url, NULL, f->verifier, NULL, 0), CASES[i].code,
                      CASES[i].msg);
        assert_null(v);
        assert_int_equal(bpt_canned_http_requests(srv), 1);
        bpt_canned_http_stop(srv);
    }
}

/* A runtime opened without a verifier attests nothing. */
static void test_no_verifier(void **state)
{
    struct fx *f = *state;
    bpt_runtime_options o = BPT_RUNTIME_OPTIONS_INIT;
    bpt_runtime *rt = NULL;
    bpt_deployment *d = NULL;
    bpt_verified *v = NULL;
    o.state_dir = f->state_dir;
    o.backend = "fake";
    o.oci_runtime = "/nonexistent/runc";
    assert_ok(bpt_runtime_new(&rt, &o));
    assert_ok(bpt_runtime_add_backend(rt, &FAKE, &f->fake));
    bpt_deploy_spec *s = spec("{\"name\":\"svc\",\"image\":\"/i\"}");
    assert_ok(bpt_runtime_deploy(&d, rt, s, NULL));
    assert_rc_msg(bpt_runtime_attestation(&v, rt, bpt_deployment_id(d), NULL, 0), BPT_EINVAL,
                  "no verifier");
    /* no plane URL: the backend has none (its workload's plane is its socket) */
    char url[128];
    assert_rc_msg(bpt_runtime_plane_url(url, sizeof(url), rt, bpt_deployment_id(d)), BPT_ENOTSUP,
                  "backend fake serves the workload's plane on its unix socket");
    bpt_deployment_free(d);
    bpt_deploy_spec_free(s);
    bpt_runtime_free(rt);
}

/* A backend's plane URL: copied out whole, or refused when it does not fit (the caller's buffer,
 * or a backend that filled its buffer without a NUL). */
static bool plane_url_unterminated;

static int fake_plane_url(char *out, size_t cap, void *state, const bpt_backend_deployment *d)
{
    (void)state;
    (void)d;
    if (plane_url_unterminated) {
        memset(out, 'a', cap);
    } else {
        snprintf(out, cap, "http://10.0.0.7:8787");
    }
    return 0;
}

static void test_plane_url(void **state)
{
    struct fx *f = *state;
    bpt_runtime_options o = BPT_RUNTIME_OPTIONS_INIT;
    bpt_runtime_backend be = FAKE;
    bpt_runtime *rt = NULL;
    bpt_deployment *d = NULL;
    char url[64];
    be.plane_url = fake_plane_url;
    o.state_dir = f->state_dir;
    o.backend = "fake";
    o.oci_runtime = "/nonexistent/runc";
    assert_ok(bpt_runtime_new(&rt, &o));
    assert_ok(bpt_runtime_add_backend(rt, &be, &f->fake));
    bpt_deploy_spec *s = spec("{\"name\":\"svc\",\"image\":\"/i\"}");
    assert_ok(bpt_runtime_deploy(&d, rt, s, NULL));
    assert_ok(bpt_runtime_plane_url(url, sizeof(url), rt, bpt_deployment_id(d)));
    assert_string_equal(url, "http://10.0.0.7:8787");
    assert_rc_msg(bpt_runtime_plane_url(url, 8, rt, bpt_deployment_id(d)), BPT_ELIMIT,
                  "8 bytes for the plane's URL, more needed");
    plane_url_unterminated = true;
    assert_rc_msg(bpt_runtime_plane_url(url, sizeof(url), rt, bpt_deployment_id(d)), BPT_ELIMIT,
                  "bytes for the plane's URL, more needed");
    plane_url_unterminated = false;
    bpt_deployment_free(d);
    bpt_deploy_spec_free(s);
    bpt_runtime_free(rt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_defaults_and_remote_backends, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backend_interface_checks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deploy_idempotent_and_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_deploy_again_destroy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reconcile, setup, teardown),
        cmocka_unit_test_setup_teardown(test_attestation_over_the_plane, setup, teardown),
        cmocka_unit_test_setup_teardown(test_socket_link_not_followed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_verifier, setup, teardown),
        cmocka_unit_test_setup_teardown(test_plane_url, setup, teardown),
        cmocka_unit_test(test_plane_answers_refused),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
