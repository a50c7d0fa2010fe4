/*
 * One bpt_runtime shared by threads (runtime.h: "safe from any thread"), with a plugin backend
 * that keeps its containers in memory under its own lock: every thread deploys the same spec
 * (one deployment, one backend deploy, one id for all), and its own names through deploy,
 * status, list, stop, deploy again in place, destroy. Runs under TSan (Makefile's tsan target).
 */
#include "helpers/test.h"

#include <pthread.h>

#include <blueprint-tee/sys/backend.h>

#define THREADS 4
#define ROUNDS 6
#define MAX_MEM 64

struct mem_backend {
    pthread_mutex_t mu;
    char ids[MAX_MEM][17];
    bpt_backend_state states[MAX_MEM];
    int deploys_of_shared;
};

static int mem_slot(struct mem_backend *m, const char *id, bool make)
{
    for (int i = 0; i < MAX_MEM; i++) {
        if (strcmp(m->ids[i], id) == 0) {
            return i;
        }
    }
    for (int i = 0; make && i < MAX_MEM; i++) {
        if (m->ids[i][0] == '\0') {
            snprintf(m->ids[i], sizeof(m->ids[i]), "%s", id);
            return i;
        }
    }
    return -1;
}

static int mem_init(void **state, const bpt_backend_env *env, void *userdata)
{
    (void)env;
    *state = userdata;
    return 0;
}

static int mem_deploy(void *state, const bpt_backend_deployment *d)
{
    struct mem_backend *m = state;
    pthread_mutex_lock(&m->mu);
    int i = mem_slot(m, d->id, true);
    if (i >= 0) {
        m->states[i] = BPT_BACKEND_RUNNING;
        m->deploys_of_shared += strcmp(d->name, "shared") == 0;
    }
    pthread_mutex_unlock(&m->mu);
    return i >= 0 ? 0 : bpt_error_set(BPT_ELIMIT, "mem backend: full");
}

static int mem_gone(void *state, const bpt_backend_deployment *d)
{
    struct mem_backend *m = state;
    pthread_mutex_lock(&m->mu);
    int i = mem_slot(m, d->id, false);
    if (i >= 0) {
        m->ids[i][0] = '\0';
    }
    pthread_mutex_unlock(&m->mu);
    return 0;
}

static int mem_status(bpt_backend_state *out, void *state, const bpt_backend_deployment *d)
{
    struct mem_backend *m = state;
    pthread_mutex_lock(&m->mu);
    int i = mem_slot(m, d->id, false);
    *out = i >= 0 ? m->states[i] : BPT_BACKEND_ABSENT;
    pthread_mutex_unlock(&m->mu);
    return 0;
}

static int mem_list(void *state, bpt_backend_list_fn fn, void *ud)
{
    struct mem_backend *m = state;
    char ids[MAX_MEM][17];
    bpt_backend_state states[MAX_MEM];
    pthread_mutex_lock(&m->mu);
    memcpy(ids, m->ids, sizeof(ids));
    memcpy(states, m->states, sizeof(states));
    pthread_mutex_unlock(&m->mu);
    for (int i = 0; i < MAX_MEM; i++) {
        if (ids[i][0] && fn(ids[i], states[i], ud) != 0) {
            break;
        }
    }
    return 0;
}

static int mem_attestation(bpt_verified **out, void *state, const bpt_backend_deployment *d,
                           const uint8_t *nonce, size_t nonce_len)
{
    (void)out;
    (void)state;
    (void)d;
    (void)nonce;
    (void)nonce_len;
    return bpt_error_set(BPT_ENOTSUP, "mem backend: no workload");
}

static int mem_public_key(bpt_kx_client_key *out, void *state, const bpt_backend_deployment *d)
{
    (void)out;
    (void)state;
    (void)d;
    return bpt_error_set(BPT_ENOTSUP, "mem backend: no workload");
}

static const bpt_runtime_backend MEM = {
    .version = BPT_RUNTIME_BACKEND_VERSION,
    .name = "mem",
    .init = mem_init,
    .deploy = mem_deploy,
    .attestation = mem_attestation,
    .public_key = mem_public_key,
    .status = mem_status,
    .stop = mem_gone,
    .destroy = mem_gone,
    .list = mem_list,
};

struct worker {
    bpt_runtime *rt;
    int n;
    char shared_id[17];
    char error[512]; /* the first failure, empty when none */
};

static bool deploy_json(struct worker *w, const char *json, char id[17])
{
    bpt_deploy_spec *s = NULL;
    bpt_deployment *d = NULL;
    int rc = bpt_deploy_spec_load_json(&s, json, strlen(json));
    if (rc == 0) {
        rc = bpt_runtime_deploy(&d, w->rt, s, NULL);
    }
    if (rc == 0 && bpt_deployment_state(d) != BPT_DEPLOY_RUNNING) {
        rc = BPT_ERROR;
        bpt_error_set(rc, "deployed but %s", bpt_deploy_state_name(bpt_deployment_state(d)));
    }
    if (rc == 0) {
        memcpy(id, bpt_deployment_id(d), 17);
    } else {
        snprintf(w->error, sizeof(w->error), "deploy %s: %s", json, bpt_error_last());
    }
    bpt_deployment_free(d);
    bpt_deploy_spec_free(s);
    return rc == 0;
}

static bool step(struct worker *w, int rc, const char *what)
{
    if (rc != 0) {
        snprintf(w->error, sizeof(w->error), "thread %d: %s: %s", w->n, what, bpt_error_last());
    }
    return rc == 0;
}

static void *work(void *p)
{
    struct worker *w = p;
    char json[128], id[17], again[17];
    if (!deploy_json(w, "{\"name\":\"shared\",\"image\":\"/img\"}", w->shared_id)) {
        return NULL;
    }
    for (int r = 0; r < ROUNDS; r++) {
        bpt_deployment *d = NULL, **list = NULL;
        size_t n = 0;
        snprintf(json, sizeof(json), "{\"name\":\"t%d-%d\",\"image\":\"/img\"}", w->n, r);
        if (!deploy_json(w, json, id) || !step(w, bpt_runtime_status(&d, w->rt, id), "status")) {
            return NULL;
        }
        bpt_deployment_free(d);
        if (!step(w, bpt_runtime_list(&list, &n, w->rt, false), "list")) {
            return NULL;
        }
        bpt_deployment_list_free(list, n);
        if (!step(w, bpt_runtime_stop(w->rt, id), "stop") || !deploy_json(w, json, again)) {
            return NULL;
        }
        if (strcmp(id, again) != 0) {
            snprintf(w->error, sizeof(w->error), "deployed again as %s, not in place (%s)", again,
                     id);
            return NULL;
        }
        if (!step(w, bpt_runtime_destroy(w->rt, id), "destroy")) {
            return NULL;
        }
    }
    return NULL;
}

static void test_threads_share_a_runtime(void **state)
{
    (void)state;
    struct mem_backend m;
    struct worker w[THREADS];
    pthread_t t[THREADS];
    bpt_runtime_options o = BPT_RUNTIME_OPTIONS_INIT;
    bpt_runtime *rt = NULL;
    char *dir = bpt_test_tmpdir(), state_dir[4200];

    memset(&m, 0, sizeof(m));
    pthread_mutex_init(&m.mu, NULL);
    snprintf(state_dir, sizeof(state_dir), "%s/state", dir);
    o.state_dir = state_dir;
    o.backend = "mem";
    o.oci_runtime = "/nonexistent/runc"; /* the direct backend has nothing to say here */
    assert_ok(bpt_runtime_new(&rt, &o));
    assert_ok(bpt_runtime_add_backend(rt, &MEM, &m));
    for (int i = 0; i < THREADS; i++) {
        memset(&w[i], 0, sizeof(w[i]));
        w[i].rt = rt;
        w[i].n = i;
        assert_int_equal(pthread_create(&t[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        if (w[i].error[0]) {
            fail_msg("%s", w[i].error);
        }
        assert_string_equal(w[i].shared_id, w[0].shared_id);
    }
    /* one deployment of the shared spec, deployed once; the threads' own all destroyed */
    assert_int_equal(m.deploys_of_shared, 1);
    bpt_deployment **list = NULL;
    size_t n = 0;
    assert_ok(bpt_runtime_list(&list, &n, rt, false));
    assert_int_equal(n, 1);
    assert_string_equal(bpt_deployment_name(list[0]), "shared");
    bpt_deployment_list_free(list, n);
    assert_ok(bpt_runtime_list(&list, &n, rt, true));
    assert_int_equal(n, 1 + THREADS * ROUNDS);
    bpt_deployment_list_free(list, n);
    bpt_runtime_free(rt);
    pthread_mutex_destroy(&m.mu);
    bpt_test_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_threads_share_a_runtime),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
