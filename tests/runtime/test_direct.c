/* bpt-test-labels: runtime */
/*
 * The direct backend on the real runc, through the bpt CLI (skipped, saying why, where runc
 * cannot run a container: not root, no runc, a probe container under runc's own config fails):
 * - deploy -> running -> attestation verifies (the simulated TEE inside the container, a nonce
 *   of ours, exactly its binding) -> pubkey -> seal a secret -> stop -> destroy; a link the
 *   workload puts at its socket's path is not followed;
 * - inside, the workload writes to /run/bpt what the kernel says about it, and the test asserts:
 *   every capability set 0, NoNewPrivs 1, Seccomp 2, a write to / fails, uid/gid 65534, /dev
 *   holds the defaults and the one TEE device of the (fake, mknod'd) host with its numbers, the
 *   memory and pids limits, loopback only, configfs-tsm (a fake tree) passed through, unshare
 *   refused;
 * - a secret value in a TEE mode refused (none deployed), taken without one (in the env);
 * - idempotent deploy, a changed spec refused;
 * - the bpt process killed between "created" and "started" (an OCI runtime wrapper SIGKILLs it
 *   at `start`), then reconciled: the half-made container removed, the deployment failed, and
 *   deployed again in place;
 * - changes behind the store's back with runc itself (a workload killed, a container deleted, a
 *   container of no deployment in the store's runc root), reconciled by the next bpt;
 * - two bpt processes deploying one spec at once: one container, one id;
 * - an OCI image layout (umoci) as the image.
 */
#include "helpers/test.h"

#include "helpers/runtime_fixture.h"
#include "helpers/sim_fixture.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/codec.h"
#include "core/util.h"

extern char **environ;

/* Why containers cannot run here (empty when they can): main() then exits 77, which ctest
 * reports as skipped (SKIP_RETURN_CODE, tests/CMakeLists.txt), not passed. */
static char skipped_why[1024];

struct env {
    struct bpt_sim_fixture sim;
    struct bpt_runtime_fixture rtf;
    char state[4300], fake_root[4300], roots[4300], tmp[4300];
};

static int group_setup(void **state)
{
    struct env *e = calloc(1, sizeof(*e));
    *state = e;
    if (e == NULL || bpt_sim_fixture_init(&e->sim) != 0 ||
        bpt_runtime_fixture_init(&e->rtf, getenv("BPT_BIN"), e->sim.dir) != 0) {
        return -1;
    }
    if (!e->rtf.usable) {
        snprintf(skipped_why, sizeof(skipped_why), "%s", e->rtf.why);
        return 0;
    }
    snprintf(e->state, sizeof(e->state), "%s/state", e->rtf.dir);
    snprintf(e->roots, sizeof(e->roots), "%s/trust-roots.pem", e->sim.dir);
    snprintf(e->tmp, sizeof(e->tmp), "%s/tmp", e->rtf.dir);
    mkdir(e->tmp, 0700);
    /* a fake host: one TEE device (the numbers of /dev/null, so writing to it works) and a
     * configfs-tsm tree */
    snprintf(e->fake_root, sizeof(e->fake_root), "%s/host", e->rtf.dir);
    char p[4400];
    snprintf(p, sizeof(p), "%s/sys/kernel/config/tsm/report/e1/provider", e->fake_root);
    bpt_test_write_file(p, "sev_guest\n", 10);
    snprintf(p, sizeof(p), "%s/dev", e->fake_root);
    mkdir(p, 0755);
    snprintf(p, sizeof(p), "%s/dev/sev-guest", e->fake_root);
    if (mknod(p, S_IFCHR | 0600, makedev(1, 3)) != 0) {
        fprintf(stderr, "mknod %s: %s\n", p, strerror(errno));
        return -1;
    }
    setenv("BPT_STATE_DIR", e->state, 1);
    unsetenv("TEE_BACKEND");
    return 0;
}

static int group_teardown(void **state)
{
    struct env *e = *state;
    if (e->rtf.usable) {
        bpt_runtime_fixture_remove_containers(&e->rtf, e->state); /* what a failed test left */
    }
    bpt_runtime_fixture_dispose(&e->rtf);
    bpt_sim_fixture_dispose(&e->sim);
    free(e);
    return 0;
}

/* After each test: every deployment destroyed, so that a failed test leaves nothing to the
 * next one's counts. */
static int clean(void **state)
{
    struct env *e = *state;
    char *out = NULL;
    if (!e->rtf.usable) {
        return 0;
    }
    const char *status[] = {"status", "--json", NULL};
    if (bpt_test_run_cli_err(&out, NULL, status) != 0) {
        free(out);
        return -1;
    }
    json_t *j = json_loads(out, 0, NULL), *d;
    size_t i;
    free(out);
    json_array_foreach(json_object_get(j, "deployments"), i, d)
    {
        const char *destroy[] = {"destroy", json_string_value(json_object_get(d, "id")), NULL};
        char *o = NULL, *err = NULL;
        (void)bpt_test_run_cli_err(&o, &err, destroy);
        free(o);
        free(err);
    }
    json_decref(j);
    return 0;
}

static void need_runc(const struct env *e)
{
    if (!e->rtf.usable) {
        skip();
    }
}

/* Run bpt; its stdout (malloc'd) into *out when not NULL; the exit status. */
static int bpt(char **out, char **err, const char *const *argv)
{
    return bpt_test_run_cli_err(out, err, argv);
}

/* Write a spec: @p name, the image, args, and more JSON members (without braces) or "". */
static void write_spec(const struct env *e, const char *path, const char *name, const char *image,
                       const char *script, const char *more)
{
    json_t *o = json_pack("{s:s,s:s,s:[sss]}", "name", name, "image", image ? image : e->rtf.image,
                          "args", "/bin/sh", "-c", script);
    char *t = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    char text[16384];
    size_t n = strlen(t);
    snprintf(text, sizeof(text), "%.*s%s%s}", (int)(n - 1), t, more[0] ? "," : "", more);
    free(t);
    bpt_test_write_file(path, text, strlen(text));
}

static json_t *json_of(const char *out)
{
    json_t *j = json_loads(out, 0, NULL);
    if (!json_is_object(j)) {
        fail_msg("not a JSON object: %s", out);
    }
    return j;
}

static const char *str(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    if (s == NULL) {
        fail_msg("no string '%s'", k);
    }
    return s ? s : "";
}

/* What the workload wrote to its /run/bpt/NAME (malloc'd, NUL-terminated). */
static char *host_file(const char *host_dir, const char *name)
{
    char p[4400];
    size_t n = 0;
    snprintf(p, sizeof(p), "%s/%s", host_dir, name);
    char *s = (char *)bpt_test_read_file(p, &n);
    if (s == NULL) {
        fail_msg("the workload wrote no %s", p);
    }
    return s;
}

/* How many containers the store's runc root has. */
static int containers(const struct env *e)
{
    char out[8192], root[4400];
    snprintf(root, sizeof(root), "%s/runc", e->state);
    const char *argv[] = {e->rtf.runc, "--root", root, "list", "-q", NULL};
    assert_int_equal(bpt_runtime_fixture_run(out, sizeof(out), argv), 0);
    int n = 0;
    for (char *p = out; *p; p++) {
        n += *p == '\n';
    }
    return n;
}

/* The workload: report what the kernel says about it, then serve the key exchange. */
static const char PROBE[] =
    "d=/run/bpt; "
    "grep -E '^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):' /proc/self/status > "
    "$d/status; "
    "id -u > $d/uid; id -g > $d/gid; "
    "touch /rootwrite 2> $d/rootwrite && echo writable >> $d/rootwrite; "
    "ls /dev > $d/dev; "
    "ls -ln /dev/sev-guest > $d/sevdev 2>&1; echo probe > /dev/sev-guest; echo $? > $d/sevwrite; "
    "cat /sys/fs/cgroup/memory/memory.limit_in_bytes > $d/mem 2>/dev/null || "
    "cat /sys/fs/cgroup/memory.max > $d/mem; "
    "cat /sys/fs/cgroup/pids/pids.max > $d/pids 2>/dev/null || "
    "cat /sys/fs/cgroup/pids.max > $d/pids; "
    "ls /sys/class/net > $d/net; "
    "cat /sys/kernel/config/tsm/report/e1/provider > $d/tsm 2>&1; "
    "unshare -n true 2> $d/unshare; "
    "{ echo 1 > /proc/sys/kernel/ns_last_pid; } 2> $d/procsys; "
    "env > $d/env; "
    "exec /usr/bin/bpt serve --simulate sev-snp --sim-dir /etc/bpt/sim --listen "
    "unix:/run/bpt/kx.sock";

static void assert_has_line(const char *text, const char *line, const char *what)
{
    size_t n = strlen(line);
    for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (strncmp(p, line, n) == 0 && (p[n] == '\n' || p[n] == '\0')) {
            return;
        }
    }
    fail_msg("%s: no line '%s' in:\n%s", what, line, text);
}

static void test_deploy_attest_seal_stop_destroy(void **state)
{
    struct env *e = *state;
    need_runc(e);
    char spec[4400], *out = NULL, *err = NULL;
    snprintf(spec, sizeof(spec), "%s/probe.json", e->tmp);
    write_spec(e, spec, "probe", NULL, PROBE,
               "\"resources\":{\"memory_mb\":64,\"pids\":32,\"cpus\":0.5},\"secrets\":[\"db\"]");

    const char *deploy[] = {"deploy", "--json", "--device-root", e->fake_root, spec, NULL};
    if (bpt(&out, &err, deploy) != 0) {
        fail_msg("deploy: %s %s", out, err);
    }
    free(err);
    json_t *d = json_of(out);
    free(out);
    char id[17], host[4200];
    snprintf(id, sizeof(id), "%s", str(d, "id"));
    snprintf(host, sizeof(host), "%s", str(d, "host_dir"));
    assert_string_equal(str(d, "state"), "running");
    assert_string_equal(str(d, "backend"), "direct");
    json_decref(d);
    assert_int_equal(containers(e), 1);
    /* the host directory is the workload's user's, nobody else's */
    struct stat sb;
    assert_int_equal(stat(host, &sb), 0);
    assert_int_equal(sb.st_uid, 65534);
    assert_int_equal(sb.st_mode & 0777, 0700);

    /* attestation with our nonce: verified, binding exactly 0^32 || SHA-256(nonce) */
    const char *nonce = "00112233445566778899aabbccddeeff";
    const char *att[] = {"attestation",  "--json", "--nonce", nonce,
                         "--trust-root", e->roots, id,        NULL};
    if (bpt(&out, &err, att) != 0) {
        fail_msg("attestation: %s %s", out, err);
    }
    free(err);
    json_t *a = json_of(out);
    free(out);
    assert_true(json_is_true(json_object_get(a, "verified")));
    assert_string_equal(str(a, "provider"), "amd_sev_snp");
    assert_string_equal(str(a, "nonce"), nonce);
    uint8_t n16[16], rd[64];
    char rd_hex[129];
    assert_ok(bpt_hex_decode_exact(n16, 16, nonce, 32, "nonce"));
    assert_ok(bpt_kx_attestation_report_data(rd, n16, 16));
    bpt_hex_encode_to(rd_hex, rd, 64);
    assert_string_equal(str(a, "report_data"), rd_hex);
    char evidence[65];
    snprintf(evidence, sizeof(evidence), "%s", str(a, "evidence_sha256"));
    json_decref(a);
    /* its digest is in the store */
    const char *status[] = {"status", "--json", id, NULL};
    assert_int_equal(bpt(&out, NULL, status), 0);
    d = json_of(out);
    free(out);
    assert_string_equal(str(d, "attestation_digest"), evidence);
    json_decref(d);
    /* the pinned vendor roots refuse the simulator's evidence */
    const char *pinned[] = {"attestation", id, NULL};
    assert_int_equal(bpt(&out, &err, pinned), 1);
    assert_non_null(strstr(err, "sev_snp"));
    free(out);
    free(err);

    /* what the kernel says inside */
    char *s = host_file(host, "status");
    const char *zero[] = {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"};
    for (size_t i = 0; i < 5; i++) {
        char line[64];
        snprintf(line, sizeof(line), "%s:\t0000000000000000", zero[i]);
        assert_has_line(s, line, "/proc/self/status");
    }
    assert_has_line(s, "NoNewPrivs:\t1", "/proc/self/status");
    assert_has_line(s, "Seccomp:\t2", "/proc/self/status");
    free(s);
    s = host_file(host, "rootwrite");
    assert_non_null(strstr(s, "Read-only file system"));
    assert_null(strstr(s, "writable"));
    free(s);
    s = host_file(host, "uid");
    assert_string_equal(s, "65534\n");
    free(s);
    s = host_file(host, "gid");
    assert_string_equal(s, "65534\n");
    free(s);
    /* /dev: runc's defaults and the host's one TEE device, nothing else */
    s = host_file(host, "dev");
    const char *expected[] = {"fd",     "full",   "mqueue",  "null",   "ptmx",
                              "pts",    "random", "shm",     "stderr", "stdin",
                              "stdout", "tty",    "urandom", "zero",   "sev-guest"};
    size_t lines = 0;
    for (const char *p = s; *p; p++) {
        lines += *p == '\n';
    }
    for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++) {
        assert_has_line(s, expected[i], "/dev");
    }
    if (lines != sizeof(expected) / sizeof(expected[0])) {
        fail_msg("/dev holds more than expected:\n%s", s);
    }
    free(s);
    s = host_file(host, "sevdev");
    assert_non_null(strstr(s, "65534"));
    assert_non_null(strstr(s, "1,   3"));
    free(s);
    s = host_file(host, "sevwrite"); /* its cgroup rule lets it be used */
    assert_string_equal(s, "0\n");
    free(s);
    s = host_file(host, "mem");
    assert_string_equal(s, "67108864\n");
    free(s);
    s = host_file(host, "pids");
    assert_string_equal(s, "32\n");
    free(s);
    s = host_file(host, "net");
    assert_string_equal(s, "lo\n");
    free(s);
    s = host_file(host, "tsm");
    assert_string_equal(s, "sev_guest\n");
    free(s);
    s = host_file(host, "unshare");
    assert_non_null(strstr(s, "Operation not permitted"));
    free(s);
    s = host_file(host, "procsys");
    assert_non_null(strstr(s, "Read-only file system"));
    free(s);
    s = host_file(host, "env");
    assert_has_line(s, "BPT_KX_SOCKET=/run/bpt/kx.sock", "env");
    free(s);

    /* the real key, verified; then a secret sealed to the deployment */
    const char *pk[] = {"pubkey", "--json", "--trust-root", e->roots, id, NULL};
    assert_int_equal(bpt(&out, NULL, pk), 0);
    d = json_of(out);
    free(out);
    assert_string_equal(str(d, "key_type"), "x25519");
    assert_int_equal(strlen(str(d, "public_key")), 64);
    json_decref(d);
    char secret[4400];
    snprintf(secret, sizeof(secret), "%s/secret", e->tmp);
    bpt_test_write_file(secret, "hunter2", 7);
    const char *seal[] = {
        "seal",          "--deployment", id,  "--trust-root", e->roots, "--name", "db",
        "--secret-file", secret,         NULL};
    if (bpt(&out, &err, seal) != 0) {
        fail_msg("seal: %s %s", out, err);
    }
    assert_non_null(strstr(out, "stored by the service (1 stored)"));
    free(out);
    free(err);

    /* the workload owns its directory: a link it puts at kx.sock is never followed */
    char real[4400], link[4400];
    snprintf(real, sizeof(real), "%s/kx.real", host);
    snprintf(link, sizeof(link), "%s/kx.sock", host);
    assert_int_equal(rename(link, real), 0);
    assert_int_equal(symlink(real, link), 0);
    const char *pk2[] = {"pubkey", "--trust-root", e->roots, "--wait", "0", id, NULL};
    assert_int_equal(bpt(&out, &err, pk2), 1);
    assert_non_null(strstr(err, "is not a socket"));
    free(out);
    free(err);
    const char *att3[] = {"attestation", "--trust-root", e->roots, "--wait", "0", id, NULL};
    assert_int_equal(bpt(&out, &err, att3), 1);
    assert_non_null(strstr(err, "is not a socket"));
    free(out);
    free(err);
    unlink(link);
    assert_int_equal(rename(real, link), 0);

    /* stop: the workload ends on SIGTERM; the container is gone, the directories stay */
    const char *stop[] = {"stop", "--json", id, NULL};
    assert_int_equal(bpt(&out, NULL, stop), 0);
    d = json_of(out);
    free(out);
    assert_string_equal(str(d, "state"), "stopped");
    json_decref(d);
    assert_int_equal(containers(e), 0);
    char log[4400];
    snprintf(log, sizeof(log), "%s/../workload.log", host);
    s = (char *)bpt_test_read_file(log, &(size_t){0});
    assert_non_null(s);
    assert_non_null(strstr(s, "delivered secret 'db'"));
    assert_non_null(strstr(s, "stopping on signal 15"));
    assert_null(strstr(s, "hunter2"));
    free(s);
    assert_int_equal(stat(host, &sb), 0);
    /* a stopped deployment attests nothing */
    const char *att2[] = {"attestation", "--trust-root", e->roots, id, NULL};
    assert_int_equal(bpt(&out, &err, att2), 1);
    assert_non_null(strstr(err, "not running"));
    free(out);
    free(err);
    /* destroy: directories gone, the row says destroyed */
    const char *destroy[] = {"destroy", "--json", id, NULL};
    assert_int_equal(bpt(&out, NULL, destroy), 0);
    d = json_of(out);
    free(out);
    assert_string_equal(str(d, "state"), "destroyed");
    json_decref(d);
    assert_int_not_equal(stat(host, &sb), 0);
}

/* In a TEE mode a spec may not carry secret values; without one, they reach the env. */
static void test_secret_values(void **state)
{
    struct env *e = *state;
    need_runc(e);
    char spec[4400], cfg[4400], *out = NULL, *err = NULL;
    snprintf(spec, sizeof(spec), "%s/valued.json", e->tmp);
    snprintf(cfg, sizeof(cfg), "%s/disabled.json", e->tmp);
    write_spec(e, spec, "valued", NULL,
               "env > /run/bpt/env; exec /usr/bin/bpt serve --simulate sev-snp --sim-dir "
               "/etc/bpt/sim --listen unix:/run/bpt/kx.sock",
               "\"secrets\":[{\"name\":\"API_TOKEN\",\"value\":\"tok-123\"}]");
    bpt_test_write_file(cfg, "{\"mode\":\"disabled\"}", 19);
    const char *tee[] = {"deploy", spec, NULL};
    assert_int_equal(bpt(&out, &err, tee), 1);
    assert_non_null(strstr(err, "secret 'API_TOKEN' carries a value"));
    assert_null(strstr(err, "tok-123"));
    free(out);
    free(err);
    const char *status[] = {"status", "valued", NULL};
    assert_int_equal(bpt(&out, &err, status), 3); /* nothing was deployed */
    free(out);
    free(err);
    assert_int_equal(containers(e), 0);

    const char *plain[] = {"deploy", "--json", "--config", cfg, spec, NULL};
    assert_int_equal(bpt(&out, NULL, plain), 0);
    json_t *d = json_of(out);
    free(out);
    char id[17], host[4200];
    snprintf(id, sizeof(id), "%s", str(d, "id"));
    snprintf(host, sizeof(host), "%s", str(d, "host_dir"));
    json_decref(d);
    const char *att[] = {"attestation", "--trust-root", e->roots, id, NULL}; /* ready */
    assert_int_equal(bpt(NULL, NULL, att), 0);
    char *s = host_file(host, "env");
    assert_has_line(s, "API_TOKEN=tok-123", "env");
    free(s);
    const char *destroy[] = {"destroy", id, NULL};
    assert_int_equal(bpt(NULL, NULL, destroy), 0);
}

static void test_idempotent_and_changed_spec(void **state)
{
    struct env *e = *state;
    need_runc(e);
    char spec[4400], spec2[4400], *out = NULL, *err = NULL;
    const char *serve = "exec /usr/bin/bpt serve --simulate sev-snp --sim-dir /etc/bpt/sim "
                        "--listen unix:/run/bpt/kx.sock";
    snprintf(spec, sizeof(spec), "%s/same.json", e->tmp);
    snprintf(spec2, sizeof(spec2), "%s/changed.json", e->tmp);
    write_spec(e, spec, "same", NULL, serve, "");
    write_spec(e, spec2, "same", NULL, serve, "\"resources\":{\"memory_mb\":128}");
    const char *deploy[] = {"deploy", "--json", spec, NULL};
    assert_int_equal(bpt(&out, NULL, deploy), 0);
    json_t *a = json_of(out);
    free(out);
    assert_int_equal(bpt(&out, NULL, deploy), 0);
    json_t *b = json_of(out);
    free(out);
    assert_string_equal(str(a, "id"), str(b, "id"));
    assert_int_equal(json_integer_value(json_object_get(a, "created_at")),
                     json_integer_value(json_object_get(b, "created_at")));
    assert_int_equal(containers(e), 1);
    const char *changed[] = {"deploy", spec2, NULL};
    assert_int_equal(bpt(&out, &err, changed), 1);
    assert_non_null(strstr(err, "exists with another spec"));
    assert_non_null(strstr(err, "bpt destroy"));
    free(out);
    free(err);
    assert_int_equal(containers(e), 1);
    const char *destroy[] = {"destroy", str(a, "id"), NULL};
    assert_int_equal(bpt(NULL, NULL, destroy), 0);
    json_decref(a);
    json_decref(b);
}

/* bpt killed between "created" and "started", then reconciled and deployed again. */
static void test_crash_between_create_and_start(void **state)
{
    struct env *e = *state;
    need_runc(e);
    char spec[4400], wrapper[4400], text[8800], *out = NULL, *err = NULL;
    snprintf(spec, sizeof(spec), "%s/crash.json", e->tmp);
    write_spec(e, spec, "crash", NULL,
               "exec /usr/bin/bpt serve --simulate sev-snp --sim-dir /etc/bpt/sim --listen "
               "unix:/run/bpt/kx.sock",
               "");
    /* an OCI runtime that is runc, except that `start` SIGKILLs the bpt that runs it */
    snprintf(wrapper, sizeof(wrapper), "%s/killing-runc", e->tmp);
    snprintf(text, sizeof(text),
             "#!/bin/sh\nfor a in \"$@\"; do [ \"$a\" = start ] && { kill -KILL $PPID; exit 1; "
             "}; done\nexec %s \"$@\"\n",
             e->rtf.runc);
    bpt_test_write_file(wrapper, text, strlen(text));
    chmod(wrapper, 0700);
    const char *deploy_k[] = {"deploy", "--runtime", wrapper, spec, NULL};
    assert_int_equal(bpt(&out, &err, deploy_k), 128 + SIGKILL);
    free(out);
    free(err);
    /* left behind: a row "creating" owned by a dead process, a container "created" */
    char root[4400], list[8192];
    snprintf(root, sizeof(root), "%s/runc", e->state);
    const char *rl[] = {e->rtf.runc, "--root", root, "list", NULL};
    assert_int_equal(bpt_runtime_fixture_run(list, sizeof(list), rl), 0);
    assert_non_null(strstr(list, "created"));
    /* any bpt opening the store reconciles: the container removed, the deployment failed */
    const char *status[] = {"status", "--json", "crash", NULL};
    assert_int_equal(bpt(&out, NULL, status), 0);
    json_t *d = json_of(out);
    free(out);
    assert_string_equal(str(d, "state"), "failed");
    assert_non_null(strstr(str(d, "detail"), "interrupted between create and start"));
    char id[17];
    snprintf(id, sizeof(id), "%s", str(d, "id"));
    json_decref(d);
    assert_int_equal(containers(e), 0);
    /* deployed again, in place */
    const char *deploy[] = {"deploy", "--json", spec, NULL};
    assert_int_equal(bpt(&out, NULL, deploy), 0);
    d = json_of(out);
    free(out);
    assert_string_equal(str(d, "id"), id);
    assert_string_equal(str(d, "state"), "running");
    json_decref(d);
    assert_int_equal(containers(e), 1);
    const char *destroy[] = {"destroy", id, NULL};
    assert_int_equal(bpt(NULL, NULL, destroy), 0);
}

/* Run the store's runc with @p args (shell words) through sh, its output dropped
 * (a detached container keeps its stdio); the exit status. */
static int store_runc(const struct env *e, const char *args)
{
    char cmd[14000], out[1024];
    snprintf(cmd, sizeof(cmd), "'%s' --root '%s/runc' %s </dev/null >/dev/null 2>&1", e->rtf.runc,
             e->state, args);
    const char *argv[] = {"/bin/sh", "-c", cmd, NULL};
    return bpt_runtime_fixture_run(out, sizeof(out), argv);
}

/* The state `bpt status --json` gives deployment @p id (after reconciling), with its detail. */
static void status_of(const char *id, const char *state, const char *detail)
{
    char *out = NULL;
    const char *status[] = {"status", "--json", id, NULL};
    assert_int_equal(bpt(&out, NULL, status), 0);
    json_t *d = json_of(out);
    free(out);
    assert_string_equal(str(d, "state"), state);
    if (detail != NULL && strstr(str(d, "detail"), detail) == NULL) {
        fail_msg("deployment %s: detail '%s', not '%s'", id, str(d, "detail"), detail);
    }
    json_decref(d);
}

/* Changes made behind the store's back with runc itself, reconciled by the next bpt: a workload
 * killed (stopped, its container removed), a container deleted (failed), a container the store
 * does not know in its runc root (removed). */
static void test_reconcile_behind_the_stores_back(void **state)
{
    struct env *e = *state;
    need_runc(e);
    char spec[4400], id_k[17], id_g[17], args[4600], *out = NULL;
    const char *names[] = {"killed", "deleted"};
    char *ids[] = {id_k, id_g};
    for (int i = 0; i < 2; i++) {
        snprintf(spec, sizeof(spec), "%s/%s.json", e->tmp, names[i]);
        write_spec(e, spec, names[i], NULL, "exec sleep 1000", "");
        const char *deploy[] = {"deploy", "--json", spec, NULL};
        assert_int_equal(bpt(&out, NULL, deploy), 0);
        json_t *d = json_of(out);
        free(out);
        snprintf(ids[i], 17, "%s", str(d, "id"));
        json_decref(d);
    }
    assert_int_equal(containers(e), 2);
    /* the workload killed: runc says stopped */
    snprintf(args, sizeof(args), "kill bpt-%s KILL", id_k);
    assert_int_equal(store_runc(e, args), 0);
    snprintf(args, sizeof(args), "state bpt-%s | grep -q stopped", id_k);
    for (int i = 0; i < 100 && store_runc(e, args) != 0; i++) {
        usleep(20000);
    }
    /* the other's container deleted */
    snprintf(args, sizeof(args), "delete --force bpt-%s", id_g);
    assert_int_equal(store_runc(e, args), 0);
    /* a container of no deployment, in the store's runc root */
    char bundle[4400], cfg[4500];
    snprintf(bundle, sizeof(bundle), "%s/orphan", e->tmp);
    snprintf(cfg, sizeof(cfg), "%s/config.json", bundle);
    mkdir(bundle, 0700);
    snprintf(args, sizeof(args), "spec --bundle '%s'", bundle);
    assert_int_equal(store_runc(e, args), 0);
    json_t *c = json_load_file(cfg, 0, NULL);
    assert_non_null(c);
    json_t *p = json_object_get(c, "process");
    json_object_set_new(p, "terminal", json_false());
    json_object_set_new(p, "args", json_pack("[ss]", "/bin/sleep", "1000"));
    json_object_set_new(json_object_get(c, "root"), "path", json_string(e->rtf.image));
    assert_int_equal(json_dump_file(c, cfg, 0), 0);
    json_decref(c);
    snprintf(args, sizeof(args), "run -d --bundle '%s' bpt-00000000000000ab", bundle);
    assert_int_equal(store_runc(e, args), 0);
    assert_int_equal(containers(e), 2); /* the stopped one, the orphan */

    /* the next bpt reconciles: nothing runs that the store does not know, nothing in the store
     * claims to run that does not */
    status_of(id_k, "stopped", "the workload exited");
    status_of(id_g, "failed", "its container is gone");
    assert_int_equal(containers(e), 0);
    assert_int_not_equal(store_runc(e, "state bpt-00000000000000ab"), 0);
    /* both deploy again in place */
    for (int i = 0; i < 2; i++) {
        snprintf(spec, sizeof(spec), "%s/%s.json", e->tmp, names[i]);
        const char *deploy[] = {"deploy", "--json", spec, NULL};
        assert_int_equal(bpt(&out, NULL, deploy), 0);
        json_t *d = json_of(out);
        free(out);
        assert_string_equal(str(d, "id"), ids[i]);
        assert_string_equal(str(d, "state"), "running");
        json_decref(d);
    }
    assert_int_equal(containers(e), 2);
}

/* Start `bpt deploy --json SPEC` with stdout to @p out_path. */
static pid_t spawn_deploy(const char *spec, const char *out_path)
{
    const char *argv[] = {getenv("BPT_BIN"), "deploy", "--json", spec, NULL};
    posix_spawn_file_actions_t fa;
    pid_t pid = 0;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_int_equal(posix_spawn(&pid, argv[0], &fa, NULL, (char *const *)argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    return pid;
}

static void test_two_processes_deploying_at_once(void **state)
{
    struct env *e = *state;
    need_runc(e);
    char spec[4400], o1[4400], o2[4400];
    snprintf(spec, sizeof(spec), "%s/twin.json", e->tmp);
    snprintf(o1, sizeof(o1), "%s/twin1.out", e->tmp);
    snprintf(o2, sizeof(o2), "%s/twin2.out", e->tmp);
    write_spec(e, spec, "twin", NULL,
               "exec /usr/bin/bpt serve --simulate sev-snp --sim-dir /etc/bpt/sim --listen "
               "unix:/run/bpt/kx.sock",
               "");
    pid_t a = spawn_deploy(spec, o1), b = spawn_deploy(spec, o2);
    int sa = 0, sb = 0;
    assert_int_equal(waitpid(a, &sa, 0), a);
    assert_int_equal(waitpid(b, &sb, 0), b);
    assert_true(WIFEXITED(sa) && WEXITSTATUS(sa) == 0);
    assert_true(WIFEXITED(sb) && WEXITSTATUS(sb) == 0);
    size_t n = 0;
    char *t1 = (char *)bpt_test_read_file(o1, &n), *t2 = (char *)bpt_test_read_file(o2, &n);
    json_t *j1 = json_of(t1), *j2 = json_of(t2);
    assert_string_equal(str(j1, "id"), str(j2, "id"));
    assert_string_equal(str(j1, "state"), "running");
    assert_string_equal(str(j2, "state"), "running");
    assert_int_equal(containers(e), 1);
    const char *destroy[] = {"destroy", str(j1, "id"), NULL};
    assert_int_equal(bpt(NULL, NULL, destroy), 0);
    json_decref(j1);
    json_decref(j2);
    free(t1);
    free(t2);
}

/* An OCI image layout (umoci) as the image: unpacked into the deployment, attested. */
static void test_oci_image_layout(void **state)
{
    struct env *e = *state;
    need_runc(e);
    if (access("/usr/bin/umoci", X_OK) != 0) {
        fprintf(stderr, "runtime/direct: umoci is not installed: OCI layout case skipped\n");
        skip();
    }
    char layout[4400], img[4400], script[4400], spec[4400], image[4500], out[8192];
    snprintf(layout, sizeof(layout), "%s/layout", e->tmp);
    snprintf(img, sizeof(img), "%s/oci-rootfs", e->tmp);
    snprintf(script, sizeof(script), "%s/scripts/build-test-image.sh", getenv("BPT_SOURCE_DIR"));
    const char *build[] = {"/bin/bash", script,     img,     "--bpt", getenv("BPT_BIN"),
                           "--sim-dir", e->sim.dir, "--oci", layout,  NULL};
    if (bpt_runtime_fixture_run(out, sizeof(out), build) != 0) {
        fail_msg("building the OCI layout: %s", out);
    }
    snprintf(image, sizeof(image), "%s:latest", layout);
    snprintf(spec, sizeof(spec), "%s/oci.json", e->tmp);
    write_spec(e, spec, "oci", image,
               "exec /usr/bin/bpt serve --simulate sev-snp --sim-dir /etc/bpt/sim --listen "
               "unix:/run/bpt/kx.sock",
               "");
    char *o = NULL, *err = NULL;
    const char *deploy[] = {"deploy", "--json", spec, NULL};
    if (bpt(&o, &err, deploy) != 0) {
        fail_msg("deploy: %s %s", o, err);
    }
    free(err);
    json_t *d = json_of(o);
    free(o);
    char id[17];
    snprintf(id, sizeof(id), "%s", str(d, "id"));
    json_decref(d);
    const char *att[] = {"attestation", "--trust-root", e->roots, id, NULL};
    assert_int_equal(bpt(NULL, NULL, att), 0);
    char rootfs[4500];
    struct stat sb;
    snprintf(rootfs, sizeof(rootfs), "%s/deployments/%s/image/rootfs/usr/bin/bpt", e->state, id);
    assert_int_equal(stat(rootfs, &sb), 0); /* unpacked into the deployment */
    const char *destroy[] = {"destroy", id, NULL};
    assert_int_equal(bpt(NULL, NULL, destroy), 0);
    assert_int_not_equal(stat(rootfs, &sb), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_deploy_attest_seal_stop_destroy, clean),
        cmocka_unit_test_teardown(test_secret_values, clean),
        cmocka_unit_test_teardown(test_idempotent_and_changed_spec, clean),
        cmocka_unit_test_teardown(test_crash_between_create_and_start, clean),
        cmocka_unit_test_teardown(test_reconcile_behind_the_stores_back, clean),
        cmocka_unit_test_teardown(test_two_processes_deploying_at_once, clean),
        cmocka_unit_test_teardown(test_oci_image_layout, clean),
    };
    int failed = cmocka_run_group_tests(tests, group_setup, group_teardown);
    if (failed == 0 && skipped_why[0] != '\0') {
        fprintf(stderr, "runtime/direct: SKIPPED, containers cannot run here: %s\n", skipped_why);
        return 77;
    }
    return failed;
}
