/* bpt-test-labels: loopback */
/*
 * `bpt run` as a process: start-up by mode and requirement (required refuses without a TEE,
 * exit 1 naming why; preferred warns and runs unstamped), the exit classes of its flags and
 * files, and a service on the simulated SEV-SNP end to end: external handlers (an answer, a
 * crash, a time-out), a secret sealed with `bpt seal` reaching a handler by name and never
 * printed, the stamp equal to the SHA-256 of the evidence GET /v1/attestation serves, SIGTERM
 * letting the job in flight finish, and a port in use.
 */
#include "helpers/http_client.h"
#include "helpers/proc.h"
#include "helpers/test.h"

#include <openssl/sha.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#define SECRET "correct-horse-battery-staple"

struct fixture {
    char *dir;
    char sim[512], empty[512], required[512], preferred[512], auto_req[512], secret[512];
    char square[512], use_key[512], crash[512], slow[512], started[600];
    struct bpt_test_proc proc;
};

static void write_script(char *path, size_t len, const char *dir, const char *name,
                         const char *body)
{
    snprintf(path, len, "%s/%s", dir, name);
    bpt_test_write_file(path, body, strlen(body));
    assert_int_equal(chmod(path, 0755), 0);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    const char *sim_init[] = {"sim", "init", NULL, NULL};
    char cfg[512];
    *state = f;
    if (!f || !(f->dir = bpt_test_tmpdir())) {
        return -1;
    }
    snprintf(f->sim, sizeof(f->sim), "%s/sim", f->dir);
    snprintf(f->empty, sizeof(f->empty), "%s/empty-root", f->dir);
    mkdir(f->empty, 0755);
    sim_init[2] = f->sim;
    if (bpt_test_run_cli(NULL, sim_init) != 0) {
        return -1;
    }
#define CONFIG(field, name, json)                                                                  \
    snprintf(f->field, sizeof(f->field), "%s/%s", f->dir, name);                                   \
    bpt_test_write_file(f->field, json, strlen(json))
    CONFIG(required, "required.json", "{\"mode\":\"direct\",\"requirement\":\"required\"}");
    CONFIG(preferred, "preferred.json", "{\"mode\":\"auto\",\"requirement\":\"preferred\"}");
    CONFIG(auto_req, "auto.json", "{\"mode\":\"auto\",\"requirement\":\"required\"}");
    CONFIG(secret, "secret.txt", SECRET);
#undef CONFIG
    (void)cfg;
    write_script(f->square, sizeof(f->square), f->dir, "square.sh",
                 "#!/bin/sh\nread n\necho $((n * n))\n");
    /* Uses the secret by name; prints a digest of body and secret, never the secret. */
    write_script(f->use_key, sizeof(f->use_key), f->dir, "use_key.sh",
                 "#!/bin/sh\nk=$(cat \"$BPT_SECRETS_DIR/api_key\")\nb=$(cat)\n"
                 "printf '%s:%s' \"$b\" \"$k\" | sha256sum | cut -c1-64\n");
    write_script(f->crash, sizeof(f->crash), f->dir, "crash.sh",
                 "#!/bin/sh\necho 'starting' >&2\necho 'boom: no input' >&2\nexit 3\n");
    {
        char body[700];
        snprintf(f->started, sizeof(f->started), "%s/slow.started", f->dir);
        snprintf(body, sizeof(body), "#!/bin/sh\nn=$(cat)\ntouch %s\nsleep \"$n\"\necho done\n",
                 f->started);
        write_script(f->slow, sizeof(f->slow), f->dir, "slow.sh", body);
    }
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    if (f) {
        bpt_test_proc_kill(&f->proc);
        if (f->dir) {
            bpt_test_rmtree(f->dir);
            free(f->dir);
        }
        free(f);
    }
    return 0;
}

static int per_test_cleanup(void **state)
{
    struct fixture *f = *state;
    bpt_test_proc_kill(&f->proc);
    return 0;
}

/* The exit status of a `bpt run` that is expected to end by itself, and its stderr. */
static int run_once(struct fixture *f, const char *const *argv, char **err)
{
    int st;
    bpt_test_proc_start(&f->proc, argv);
    st = bpt_test_proc_wait(&f->proc, 0);
    *err = bpt_test_proc_stderr(&f->proc);
    bpt_test_proc_kill(&f->proc);
    return st;
}

static void test_refuses_without_tee(void **state)
{
    struct fixture *f = *state;
    char job[600], *err = NULL;
    snprintf(job, sizeof(job), "0=%s", f->square);
    {
        const char *argv[] = {"run",    "--config", f->auto_req, "--job",       job,
                              "--root", f->empty,   "--listen",  "127.0.0.1:0", NULL};
        assert_int_equal(run_once(f, argv, &err), 1);
        assert_non_null(strstr(err, "'required'"));
        assert_non_null(strstr(err, "no TEE found on this host"));
        free(err);
    }
    {
        const char *argv[] = {"run",    "--config", f->required, "--job",       job,
                              "--root", f->empty,   "--listen",  "127.0.0.1:0", NULL};
        assert_int_equal(run_once(f, argv, &err), 1);
        assert_non_null(strstr(err, "refusing to start"));
        free(err);
    }
}

static void test_exit_classes(void **state)
{
    struct fixture *f = *state;
    char job[600], missing[600], uninit[600], bad_json[600], *err = NULL;
    snprintf(job, sizeof(job), "0=%s", f->square);
    snprintf(missing, sizeof(missing), "%s/nope.json", f->dir);
    snprintf(uninit, sizeof(uninit), "%s/empty-root", f->dir);
    snprintf(bad_json, sizeof(bad_json), "%s/square.sh", f->dir);
    struct {
        const char *argv[12];
        int status;
        const char *says;
    } cases[] = {
        {{"run", "--job", job, NULL}, 2, "--config FILE is required"},
        {{"run", "--config", f->required, NULL}, 2, "no job"},
        {{"run", "--config", f->required, "--job", "300=/bin/true", NULL}, 2, "INDEX 0..255"},
        {{"run", "--config", f->required, "--job", "+1=/bin/true", NULL}, 2, "INDEX 0..255"},
        {{"run", "--config", f->required, "--job", " 1=/bin/true", NULL}, 2, "INDEX 0..255"},
        {{"run", "--config", f->required, "--job", job, "--job", job, NULL}, 2, "given twice"},
        {{"run", "--config", f->required, "--job", job, "--job-secret", "1=k", NULL},
         2,
         "there is no --job 1"},
        {{"run", "--config", f->required, "--job", job, "--simulate", "sev-snp", NULL},
         2,
         "--sim-dir"},
        {{"run", "--config", f->required, "--job", job, "--listen", "localhost:1", NULL},
         2,
         "numeric address"},
        {{"run", "--config", f->required, "--job", "0=relative/prog", NULL}, 2, "--job 0"},
        {{"run", "--config", f->required, "--job", job, "--service-id", "18446744073709551616",
          NULL},
         2,
         "--service-id '18446744073709551616': a number"},
        {{"run", "--config", f->required, "--job", job, "--workers", "0", NULL}, 2, "1..256"},
        {{"run", "--config", f->required, "--job", job, "--workers", "+2", NULL}, 2, "1..256"},
        {{"run", "--config", f->required, "--job", job, "--state-dir", "/tmp", NULL},
         2,
         "go with --deployment ID"},
        {{"run", "--config", f->required, "--deployment", "Bad/Id", "--state-dir", f->dir, NULL},
         2,
         "a deployment id or name"},
        {{"run", "--config", f->required, "--job", job, "--listen", "unix:rel", NULL},
         2,
         "unix:/ABSOLUTE/PATH"},
        {{"run", "--config", missing, "--job", job, NULL}, 3, "nope.json"},
        {{"run", "--config", bad_json, "--job", job, NULL}, 3, "square.sh"},
        {{"run", "--config", f->required, "--job", job, "--simulate", "tdx", "--sim-dir", uninit,
          NULL},
         3,
         "empty-root"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int st = run_once(f, cases[i].argv, &err);
        if (st != cases[i].status || !strstr(err, cases[i].says)) {
            fail_msg("case %zu: exit %d (want %d), stderr lacks '%s': %s", i, st, cases[i].status,
                     cases[i].says, err);
        }
        free(err);
    }
}

/* Start a service; its port. */
static unsigned start_service(struct fixture *f, const char *const *argv)
{
    char line[512];
    unsigned port = 0;
    bpt_test_proc_start(&f->proc, argv);
    if (!bpt_test_proc_line(&f->proc, "run: listening on", line, sizeof(line)) ||
        sscanf(line, "run: listening on http://127.0.0.1:%u", &port) != 1) {
        char *err = bpt_test_proc_stderr(&f->proc);
        fail_msg("bpt run did not start: %s", err);
    }
    return port;
}

static void job(struct bpt_test_http_answer *a, unsigned port, int index, const char *body)
{
    static const char *const hdr[] = {"Content-Type: application/octet-stream", NULL};
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/v1/jobs/%d", port, index);
    bpt_test_http(a, "POST", url, hdr, body, strlen(body));
    if (a->status == 0) {
        fail_msg("%s", a->curl_error);
    }
}

static void test_preferred_runs_unstamped(void **state)
{
    struct fixture *f = *state;
    struct bpt_test_http_answer a;
    char job0[600], v[128], *err;
    snprintf(job0, sizeof(job0), "0=%s", f->square);
    const char *argv[] = {"run",    "--config", f->preferred, "--job",       job0,
                          "--root", f->empty,   "--listen",   "127.0.0.1:0", NULL};
    unsigned port = start_service(f, argv);
    job(&a, port, 0, "12");
    assert_int_equal(a.status, 200);
    assert_string_equal((const char *)a.body.data, "144\n");
    assert_false(bpt_test_http_header(&a, "X-Bpt-Meta-tee.attestation.digest", v, sizeof(v)));
    bpt_test_http_dispose(&a);
    assert_int_equal(bpt_test_proc_wait(&f->proc, SIGTERM), 0);
    err = bpt_test_proc_stderr(&f->proc);
    assert_non_null(strstr(err, "running without a TEE"));
    free(err);
    bpt_test_proc_kill(&f->proc);
}

struct slow_call {
    unsigned port;
    struct bpt_test_http_answer a;
};

static void *slow_call_main(void *arg)
{
    static const char *const hdr[] = {"Content-Type: application/octet-stream", NULL};
    struct slow_call *c = arg;
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/v1/jobs/3", c->port);
    bpt_test_http(&c->a, "POST", url, hdr, "1", 1); /* no assertion off the test's thread */
    return NULL;
}

static void test_service_end_to_end(void **state)
{
    struct fixture *f = *state;
    struct bpt_test_http_answer a;
    char j0[600], j1[600], j2[600], j3[600], url[128], v[128], roots[600], expect[65];
    char *out = NULL, *err;
    uint8_t md[32];
    snprintf(j0, sizeof(j0), "0=%s", f->square);
    snprintf(j1, sizeof(j1), "1=%s", f->use_key);
    snprintf(j2, sizeof(j2), "2=%s", f->crash);
    snprintf(j3, sizeof(j3), "3=%s", f->slow);
    snprintf(roots, sizeof(roots), "%s/trust-roots.pem", f->sim);
    const char *argv[] = {
        "run",  "--config",      f->required,   "--job",      j0,        "--job",
        j1,     "--job-secret",  "1=api_key",   "--job",      j2,        "--job",
        j3,     "--job-timeout", "2",           "--simulate", "sev-snp", "--sim-dir",
        f->sim, "--listen",      "127.0.0.1:0", NULL};
    unsigned port = start_service(f, argv);

    /* Sealed secrets will sit in it: no core file, not dumpable (issue 13, point 6). */
    {
        char path[64], limits[8192];
        unsigned long soft = 9, hard = 9;
        const char *core;
        FILE *pf;
        size_t n;
        snprintf(path, sizeof(path), "/proc/%d/limits", (int)f->proc.pid);
        assert_non_null(pf = fopen(path, "r")); /* /proc files have no size: read, not seek */
        n = fread(limits, 1, sizeof(limits) - 1, pf);
        limits[n] = 0;
        fclose(pf);
        core = strstr(limits, "Max core file size");
        assert_non_null(core);
        assert_int_equal(sscanf(core, "Max core file size %lu %lu", &soft, &hard), 2);
        assert_int_equal(soft, 0);
        assert_int_equal(hard, 0);
    }

    /* A job, stamped; the stamp is the SHA-256 of the evidence /v1/attestation serves. */
    job(&a, port, 0, "7");
    assert_int_equal(a.status, 200);
    assert_string_equal((const char *)a.body.data, "49\n");
    assert_true(bpt_test_http_header(&a, "X-Bpt-Meta-tee.attestation.digest", v, sizeof(v)));
    assert_true(bpt_test_http_header(&a, "X-Bpt-Meta-tee.provider", expect, sizeof(expect)));
    assert_string_equal(expect, "amd_sev_snp");
    bpt_test_http_dispose(&a);
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/v1/attestation", port);
    bpt_test_http(&a, "GET", url, NULL, NULL, 0);
    assert_int_equal(a.status, 200);
    {
        char *report = json_dumps(json_object_get(a.json, "attestation"), JSON_COMPACT);
        char path[600];
        const char *verify[] = {"verify", "--json", "--trust-root", roots, path, NULL};
        json_t *vj;
        assert_non_null(report);
        snprintf(path, sizeof(path), "%s/attestation.json", f->dir);
        bpt_test_write_file(path, report, strlen(report));
        free(report);
        assert_int_equal(bpt_test_run_cli(&out, verify), 0);
        vj = json_loads(out, 0, NULL);
        assert_string_equal(json_string_value(json_object_get(vj, "evidence_sha256")), v);
        json_decref(vj);
        free(out);
    }
    bpt_test_http_dispose(&a);

    /* The handler that needs the secret fails until it is sealed, then gets it by name. */
    job(&a, port, 1, "body");
    assert_int_equal(a.status, 422);
    assert_non_null(strstr((const char *)a.body.data, "api_key"));
    bpt_test_http_dispose(&a);
    {
        char base[64];
        snprintf(base, sizeof(base), "http://127.0.0.1:%u", port);
        const char *seal[] = {"seal", "--url",  base,      "--trust-root",
                              roots,  "--name", "api_key", "--secret-file",
                              NULL,   NULL};
        char secret_path[600];
        snprintf(secret_path, sizeof(secret_path), "%s/secret.txt", f->dir);
        seal[8] = secret_path;
        assert_int_equal(bpt_test_run_cli(&out, seal), 0);
        assert_null(strstr(out, SECRET));
        free(out);
    }
    job(&a, port, 1, "body");
    assert_int_equal(a.status, 200);
    SHA256((const uint8_t *)"body:" SECRET, strlen("body:" SECRET), md);
    for (int i = 0; i < 32; i++) {
        snprintf(expect + 2 * i, 3, "%02x", md[i]);
    }
    assert_memory_equal(a.body.data, expect, 64);
    bpt_test_http_dispose(&a);

    /* A crash is an error result with the program's last stderr line; a time-out too. */
    job(&a, port, 2, "");
    assert_int_equal(a.status, 422);
    assert_non_null(strstr((const char *)a.body.data, "boom: no input"));
    bpt_test_http_dispose(&a);
    job(&a, port, 3, "10");
    assert_int_equal(a.status, 422);
    assert_string_equal(bpt_test_http_error_code(&a), "job_timeout");
    bpt_test_http_dispose(&a);

    /* SIGTERM with a job in flight: it finishes (200), then the process exits 0. */
    {
        struct slow_call c = {port, {0}};
        pthread_t t;
        unlink(f->started);
        assert_int_equal(pthread_create(&t, NULL, slow_call_main, &c), 0);
        for (int i = 0; i < 1000 && access(f->started, F_OK) != 0; i++) { /* until it runs */
            usleep(10000);
        }
        assert_int_equal(access(f->started, F_OK), 0);
        assert_int_equal(bpt_test_proc_wait(&f->proc, SIGTERM), 0);
        pthread_join(t, NULL);
        if (c.a.status != 200) {
            fail_msg("the job in flight at SIGTERM: status %ld %s", c.a.status, c.a.curl_error);
        }
        assert_string_equal((const char *)c.a.body.data, "done\n");
        bpt_test_http_dispose(&c.a);
    }
    /* Nothing it printed carries the secret. */
    {
        char rest[4096] = "";
        size_t n = fread(rest, 1, sizeof(rest) - 1, f->proc.out);
        rest[n] = 0;
        assert_non_null(strstr(rest, "run: stopped"));
        assert_null(strstr(rest, SECRET));
        err = bpt_test_proc_stderr(&f->proc);
        assert_null(strstr(err, SECRET));
        free(err);
    }
    bpt_test_proc_kill(&f->proc);
}

static void test_port_in_use(void **state)
{
    struct fixture *f = *state;
    struct bpt_test_proc other;
    char j0[600], listen[64], line[512], *err = NULL;
    unsigned port = 0;
    snprintf(j0, sizeof(j0), "0=%s", f->square);
    const char *first[] = {"run",    "--config", f->preferred, "--job",       j0,
                           "--root", f->empty,   "--listen",   "127.0.0.1:0", NULL};
    bpt_test_proc_start(&other, first);
    assert_true(bpt_test_proc_line(&other, "run: listening on", line, sizeof(line)));
    assert_int_equal(sscanf(line, "run: listening on http://127.0.0.1:%u", &port), 1);
    snprintf(listen, sizeof(listen), "127.0.0.1:%u", port);
    const char *second[] = {"run",    "--config", f->preferred, "--job", j0,
                            "--root", f->empty,   "--listen",   listen,  NULL};
    assert_int_equal(run_once(f, second, &err), 4);
    assert_non_null(strstr(err, "cannot listen"));
    free(err);
    assert_int_equal(bpt_test_proc_wait(&other, SIGINT), 0);
    bpt_test_proc_kill(&other);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_refuses_without_tee, per_test_cleanup),
        cmocka_unit_test_teardown(test_exit_classes, per_test_cleanup),
        cmocka_unit_test_teardown(test_preferred_runs_unstamped, per_test_cleanup),
        cmocka_unit_test_teardown(test_service_end_to_end, per_test_cleanup),
        cmocka_unit_test_teardown(test_port_in_use, per_test_cleanup),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
