/* bpt-test-labels: loopback cli */
/*
 * The CLI contract of docs/cli.md, on the real bpt binary:
 * - every command exits by class (0 ok, 1 refused, 2 usage, 3 input, 4 network): one case per
 *   class each command produces, and the classes tested are exactly those its --help lists;
 * - with --json, stdout is exactly one JSON object, whatever failed, with "schema_version"; an
 *   error's object carries "exit_code"/"exit_class"; verify and attest output validates against
 *   docs/schemas/ (and a refusal carries what was known: format, evidence_sha256, tcb);
 * - with --quiet, nothing on stdout or stderr;
 * - serve refuses to start without a TEE unless the config allows it; seal classifies what a
 *   service answers (a wrongly typed field is a refusal, a 500 is the network class);
 * - the messages name things once (no "attest: attest:", no path twice).
 * Servers run on 127.0.0.1: `bpt serve --simulate`, canned HTTP answers, a closed port.
 * The runtime commands (deploy, status, attestation, pubkey, stop, destroy, seal --deployment)
 * run on the real runc with the test image (tests/helpers/runtime_fixture.h); the cases that
 * need a container are skipped where runc cannot run one.
 */
#include "helpers/test.h"

#include "helpers/canned_http.h"
#include "helpers/json_schema.h"
#include "helpers/runtime_fixture.h"
#include "helpers/sim_fixture.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* ---- a running `bpt serve` ----------------------------------------------------------------- */

struct serve_proc {
    pid_t pid;
    int out, err; /* its stdout and stderr */
    char url[64];
    char log[8192]; /* what it printed (stdout, then stderr), while starting */
};

/* Read @p fd into @p buf (appending) until @p want appears or it ends; 10 s at most. */
static bool read_until(int fd, char *buf, size_t len, const char *want)
{
    size_t used = strlen(buf);
    for (int waited = 0; !strstr(buf, want) && waited < 10000;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int r = poll(&p, 1, 100);
        waited += 100;
        if (r <= 0) {
            continue;
        }
        ssize_t n = read(fd, buf + used, len - 1 - used);
        if (n <= 0) {
            break;
        }
        used += (size_t)n;
        buf[used] = '\0';
    }
    return strstr(buf, want) != NULL;
}

/* Start `bpt serve ARGS... --listen 127.0.0.1:0` and wait for its "listening" line. */
static void serve_start(struct serve_proc *s, const char *const *args)
{
    const char *argv[32];
    int op[2], ep[2];
    size_t n = 0;
    posix_spawn_file_actions_t fa;

    memset(s, 0, sizeof(*s));
    argv[n++] = getenv("BPT_BIN");
    argv[n++] = "serve";
    for (size_t i = 0; args[i] && n < 28; i++) {
        argv[n++] = args[i];
    }
    argv[n++] = "--listen";
    argv[n++] = "127.0.0.1:0";
    argv[n] = NULL;
    assert_int_equal(pipe(op), 0);
    assert_int_equal(pipe(ep), 0);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, op[1], STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&fa, ep[1], STDERR_FILENO);
    posix_spawn_file_actions_addclose(&fa, op[0]);
    posix_spawn_file_actions_addclose(&fa, ep[0]);
    assert_int_equal(posix_spawn(&s->pid, argv[0], &fa, NULL, (char *const *)argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    close(op[1]);
    close(ep[1]);
    s->out = op[0];
    s->err = ep[0];
    if (!read_until(s->out, s->log, sizeof(s->log), "\n")) {
        fail_msg("bpt serve did not start: %s", s->log);
    }
    const char *u = strstr(s->log, "http://");
    assert_non_null(u);
    snprintf(s->url, sizeof(s->url), "%.*s", (int)strcspn(u, " \n"), u);
}

/* SIGTERM, and its exit status; the rest of what it printed is appended to s->log. */
static int serve_stop(struct serve_proc *s)
{
    int status = 0;
    kill(s->pid, SIGTERM);
    read_until(s->out, s->log, sizeof(s->log), "stopping on signal");
    while (waitpid(s->pid, &status, 0) < 0 && errno == EINTR) {
    }
    close(s->out);
    close(s->err);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* ---- the fixture: simulated TEEs, files, servers ------------------------------------------- */

struct env {
    struct bpt_sim_fixture sim;
    char *tmp;
    bool has_tee; /* this host has a TEE: the "no TEE" cases are skipped */
    struct serve_proc serve;
    struct bpt_canned_http *c500, *ctype, *chtml;
    int busy_fd;
    char busy_port[8], closed_port[8];
    char schemas[4096];
    struct bpt_runtime_fixture rtf; /* the workload image, and whether containers run here */
    char vars[40][2][4200];         /* @NAME -> value */
    size_t n_vars;
};

static void set_var(struct env *e, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_var(struct env *e, const char *name, const char *fmt, ...)
{
    va_list ap;
    assert_true(e->n_vars < sizeof(e->vars) / sizeof(e->vars[0]));
    snprintf(e->vars[e->n_vars][0], sizeof(e->vars[0][0]), "@%s", name);
    va_start(ap, fmt);
    vsnprintf(e->vars[e->n_vars][1], sizeof(e->vars[0][1]), fmt, ap);
    va_end(ap);
    e->n_vars++;
}

static const char *var(const struct env *e, const char *name)
{
    for (size_t i = 0; i < e->n_vars; i++) {
        if (strcmp(e->vars[i][0] + 1, name) == 0) {
            return e->vars[i][1];
        }
    }
    fail_msg("no variable %s", name);
    return NULL;
}

static void write_text(const char *path, const char *text)
{
    bpt_test_write_file(path, text, strlen(text));
}

/* ---- deployments for the runtime commands ------------------------------------------------- */

#define SERVE_SCRIPT                                                                               \
    "exec /usr/bin/bpt serve --simulate sev-snp --sim-dir /etc/bpt/sim --listen "                  \
    "unix:/run/bpt/kx.sock"

/* A spec at var @p path named @p name with the image, running /bin/sh -c @p script. */
static void write_spec(const struct env *e, const char *path, const char *name, const char *script,
                       const char *more)
{
    json_t *o = json_pack("{s:s,s:s,s:[sss]}", "name", name, "image", e->rtf.image, "args",
                          "/bin/sh", "-c", script);
    char *t = json_dumps(o, JSON_COMPACT), text[8192];
    size_t n = strlen(t);
    snprintf(text, sizeof(text), "%.*s%s%s}", (int)(n - 1), t, more[0] ? "," : "", more);
    free(t);
    json_decref(o);
    bpt_test_write_file(path, text, strlen(text));
}

/* `bpt deploy --json --state-dir @STATE SPEC`: the id, into variable @p var. */
static int deploy_into(struct env *e, const char *var_name, const char *spec)
{
    char *out = NULL;
    const char *argv[] = {"deploy", "--json", "--state-dir", NULL, spec, NULL};
    argv[3] = e->vars[0][1]; /* STATE is the first variable */
    int rc = bpt_test_run_cli(&out, argv);
    json_t *j = rc == 0 ? json_loads(out, 0, NULL) : NULL;
    const char *id = json_string_value(json_object_get(j, "id"));
    if (id != NULL) {
        set_var(e, var_name, "%s", id);
    } else {
        fprintf(stderr, "deploy %s: exit %d: %s\n", spec, rc, out);
    }
    json_decref(j);
    free(out);
    return id != NULL ? 0 : -1;
}

/* The store and, where containers run, the deployments the runtime cases use: DEP serves the
 * key exchange, MUTE runs but never opens its socket, STOPPED is stopped, GONE destroyed. */
static int runtime_setup(struct env *e)
{
    char *out = NULL;
    set_var(e, "SPEC", "%s/spec.json", e->tmp);
    set_var(e, "SPEC_CHANGED", "%s/spec-changed.json", e->tmp);
    set_var(e, "SPEC_VALUE", "%s/spec-value.json", e->tmp);
    set_var(e, "SPEC_BAD", "%s/spec-bad.json", e->tmp);
    write_text(var(e, "SPEC_BAD"), "{\"name\":\"x\",\"image\":\"/i\",\"privileged\":true}");
    if (bpt_runtime_fixture_init(&e->rtf, getenv("BPT_BIN"), e->sim.dir) != 0) {
        return -1;
    }
    write_spec(e, var(e, "SPEC"), "dep", SERVE_SCRIPT, "");
    write_spec(e, var(e, "SPEC_CHANGED"), "dep", SERVE_SCRIPT, "\"network\":\"host\"");
    write_spec(e, var(e, "SPEC_VALUE"), "valued", SERVE_SCRIPT,
               "\"secrets\":[{\"name\":\"k\",\"value\":\"v\"}]");
    const char *placeholders[] = {"DEP", "MUTE", "STOPPED", "GONE"};
    if (!e->rtf.usable) {
        fprintf(stderr, "tools/cli: runtime cases that need a container are skipped: %s\n",
                e->rtf.why);
        for (size_t i = 0; i < 4; i++) {
            set_var(e, placeholders[i], "0000000000000000");
        }
        return 0;
    }
    char spec[4200];
    snprintf(spec, sizeof(spec), "%s/mute.json", e->tmp);
    write_spec(e, spec, "mute", "trap 'exit 0' TERM; while :; do sleep 1; done", "");
    if (deploy_into(e, "DEP", var(e, "SPEC")) != 0 || deploy_into(e, "MUTE", spec) != 0) {
        return -1;
    }
    snprintf(spec, sizeof(spec), "%s/stopped.json", e->tmp);
    write_spec(e, spec, "stopped", SERVE_SCRIPT, "");
    if (deploy_into(e, "STOPPED", spec) != 0) {
        return -1;
    }
    snprintf(spec, sizeof(spec), "%s/gone.json", e->tmp);
    write_spec(e, spec, "gone", SERVE_SCRIPT, "");
    if (deploy_into(e, "GONE", spec) != 0) {
        return -1;
    }
    const char *stop[] = {"stop", "--state-dir", var(e, "STATE"), var(e, "STOPPED"), NULL};
    const char *destroy[] = {"destroy", "--state-dir", var(e, "STATE"), var(e, "GONE"), NULL};
    if (bpt_test_run_cli(&out, stop) != 0) {
        return -1;
    }
    free(out);
    if (bpt_test_run_cli(&out, destroy) != 0) {
        return -1;
    }
    free(out);
    return 0;
}

static void runtime_teardown(struct env *e)
{
    if (!e->rtf.usable) {
        bpt_runtime_fixture_dispose(&e->rtf);
        return;
    }
    const char *ids[] = {"DEP", "MUTE", "STOPPED"};
    for (size_t i = 0; i < 3; i++) {
        char *out = NULL;
        const char *argv[] = {"destroy", "--state-dir", var(e, "STATE"), var(e, ids[i]), NULL};
        (void)bpt_test_run_cli(&out, argv);
        free(out);
    }
    bpt_runtime_fixture_dispose(&e->rtf);
}

static int setup(void **state)
{
    struct env *e = calloc(1, sizeof(*e));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof(a);
    char path[4200], *out = NULL;

    *state = e;
    if (!e || bpt_sim_fixture_init(&e->sim) != 0) {
        return -1;
    }
    e->tmp = bpt_test_tmpdir();
    snprintf(e->schemas, sizeof(e->schemas), "%s/docs/schemas", getenv("BPT_SOURCE_DIR"));
    set_var(e, "STATE", "%s/state", e->tmp); /* the first variable (deploy_into) */
    set_var(e, "SIM", "%s", e->sim.dir);
    set_var(e, "TMP", "%s", e->tmp);
    set_var(e, "ROOTS", "%s/trust-roots.pem", e->sim.dir);
    set_var(e, "COLL", "%s/tdx/collateral.json", e->sim.dir);
    set_var(e, "SNP", "%s/snp.json", e->tmp);
    set_var(e, "TDX", "%s/tdx.quote", e->tmp);
    set_var(e, "NOTJSON", "%s/not.json", e->tmp);
    set_var(e, "NOTPEM", "%s/not.pem", e->tmp);
    set_var(e, "JUNK", "%s/junk.bin", e->tmp);
    set_var(e, "CFG_GOOD", "%s/good.json", e->tmp);
    set_var(e, "CFG_BAD", "%s/bad.json", e->tmp);
    set_var(e, "CFG_REQUIRED", "%s/required.json", e->tmp);
    set_var(e, "CFG_PREFERRED", "%s/preferred.json", e->tmp);
    set_var(e, "SECRET", "%s/secret.txt", e->tmp);
    set_var(e, "EMPTY", "%s/empty", e->tmp);
    set_var(e, "UNDERFILE", "%s/not.json/sub", e->tmp); /* a path below a regular file */
    set_var(e, "POLICY_EXAMPLE", "%s/policy.example.json", e->schemas);
    write_text(var(e, "NOTJSON"), "{ not json");
    write_text(var(e, "NOTPEM"), "hello, not a certificate\n");
    write_text(var(e, "JUNK"), "0123456789 these are no evidence bytes 0123456789");
    write_text(var(e, "CFG_GOOD"), "{\"mode\":\"remote\",\"requirement\":\"required\"}");
    write_text(var(e, "CFG_BAD"), "{\"mode\":\"direct\",\"secret_injection\":\"env_or_sealed\"}");
    write_text(var(e, "CFG_REQUIRED"), "{\"requirement\":\"required\"}");
    write_text(var(e, "CFG_PREFERRED"), "{\"mode\":\"disabled\",\"requirement\":\"preferred\"}");
    write_text(var(e, "SECRET"), "correct horse battery staple");
    snprintf(path, sizeof(path), "%s/keep", var(e, "EMPTY"));
    write_text(path, ""); /* the directory exists (empty of anything a probe looks for) */

    const char *snp[] = {"attest", "--simulate", "sev-snp",     "--sim-dir", e->sim.dir,
                         "--json", "-o",         var(e, "SNP"), NULL};
    const char *tdx[] = {"attest",   "--simulate", "tdx",         "--sim-dir",
                         e->sim.dir, "-o",         var(e, "TDX"), NULL};
    if (bpt_test_run_cli(NULL, snp) != 0 || bpt_test_run_cli(NULL, tdx) != 0) {
        return -1;
    }
    const char *detect[] = {"detect", "--json", NULL};
    if (bpt_test_run_cli(&out, detect) != 0) {
        return -1;
    }
    e->has_tee = strstr(out, "\"provider\":\"none\"") == NULL;
    free(out);

    /* A port nobody listens on, and one somebody does (serve cannot bind it). */
    snprintf(e->closed_port, sizeof(e->closed_port), "%u", bpt_closed_port());
    set_var(e, "CLOSED", "%s", e->closed_port);
    e->busy_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (e->busy_fd < 0 || bind(e->busy_fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        listen(e->busy_fd, 1) != 0 || getsockname(e->busy_fd, (struct sockaddr *)&a, &al) != 0) {
        return -1;
    }
    set_var(e, "BUSY", "%u", ntohs(a.sin_port));

    /* Services: the simulated TEE service, and canned answers a real one never gives. */
    const char *sargs[] = {"--simulate", "sev-snp", "--sim-dir", e->sim.dir, NULL};
    serve_start(&e->serve, sargs);
    set_var(e, "URL", "%s", e->serve.url);
    if (bpt_canned_http_start(&e->c500, 500,
                              "{\"error\":{\"code\":\"internal\",\"message\":\"\"}}") ||
        bpt_canned_http_start(&e->ctype, 201,
                              "{\"session_id\":7,\"public_key\":\"00\",\"suite\":\"x\","
                              "\"key_type\":\"x25519\"}") ||
        bpt_canned_http_start(&e->chtml, 201, "<html>it works</html>")) {
        return -1;
    }
    set_var(e, "C500", "http://127.0.0.1:%u", bpt_canned_http_port(e->c500));
    set_var(e, "CTYPE", "http://127.0.0.1:%u", bpt_canned_http_port(e->ctype));
    set_var(e, "CHTML", "http://127.0.0.1:%u", bpt_canned_http_port(e->chtml));
    return runtime_setup(e);
}

static int teardown(void **state)
{
    struct env *e = *state;
    runtime_teardown(e);
    if (e->serve.pid > 0) {
        serve_stop(&e->serve);
    }
    bpt_canned_http_stop(e->c500);
    bpt_canned_http_stop(e->ctype);
    bpt_canned_http_stop(e->chtml);
    if (e->busy_fd > 0) {
        close(e->busy_fd);
    }
    if (e->tmp) {
        bpt_test_rmtree(e->tmp);
        free(e->tmp);
    }
    bpt_sim_fixture_dispose(&e->sim);
    free(e);
    return 0;
}

/* ---- running a case ------------------------------------------------------------------------ */

#define NO_TEE 1u /* only on a host without a TEE (skipped elsewhere) */
#define RUNC 2u   /* only where runc runs containers (skipped elsewhere) */

struct cli_case {
    int want;
    unsigned flags;
    const char *schema; /* docs/schemas file stdout must validate against, or NULL */
    const char *args[24];
};

/* argv with every @NAME replaced by its value (within an argument too: "127.0.0.1:@BUSY"). */
static void expand(const struct env *e, const char *const *args, const char **argv,
                   char store[][4200], size_t max)
{
    size_t i;
    for (i = 0; args[i] && i + 1 < max; i++) {
        const char *at = strchr(args[i], '@');
        if (!at) {
            argv[i] = args[i];
            continue;
        }
        size_t n = strspn(at + 1, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_");
        char name[64];
        snprintf(name, sizeof(name), "%.*s", (int)n, at + 1);
        snprintf(store[i], 4200, "%.*s%s%s", (int)(at - args[i]), args[i], var(e, name),
                 at + 1 + n);
        argv[i] = store[i];
    }
    argv[i] = NULL;
}

static bool has_arg(const char *const *argv, const char *a)
{
    for (size_t i = 0; argv[i]; i++) {
        if (strcmp(argv[i], a) == 0) {
            return true;
        }
    }
    return false;
}

static const char *const class_names[] = {"ok", "refused", "usage", "input", "network"};

/* The one JSON object a --json run printed: one line, an object, schema_version 1, and for a
 * failure the exit status in exit_code/exit_class. Returns it (json_decref it). */
static json_t *one_json_object(const char *out, int code, const char *label)
{
    json_error_t jerr;
    size_t len = strlen(out);
    if (len == 0 || out[len - 1] != '\n' || strchr(out, '\n') != out + len - 1) {
        fail_msg("%s: stdout is not exactly one line: '%s'", label, out);
    }
    json_t *j = json_loads(out, 0, &jerr);
    if (!json_is_object(j)) {
        fail_msg("%s: stdout is not one JSON object (%s): %s", label, jerr.text, out);
    }
    if (json_integer_value(json_object_get(j, "schema_version")) != 1) {
        fail_msg("%s: no schema_version 1: %s", label, out);
    }
    const char *cls = json_string_value(json_object_get(j, "exit_class"));
    if (code != 0 && (json_integer_value(json_object_get(j, "exit_code")) != code || !cls ||
                      strcmp(cls, class_names[code]) != 0)) {
        fail_msg("%s: exit_code/exit_class do not say %d/%s: %s", label, code, class_names[code],
                 out);
    }
    return j;
}

static void check_schema(const struct env *e, const char *schema, const char *out,
                         const char *label)
{
    char path[4200], why[1024];
    snprintf(path, sizeof(path), "%s/%s", e->schemas, schema);
    if (!bpt_json_schema_check_text(path, out, why, sizeof(why))) {
        fail_msg("%s: output does not validate against %s: %s\n%s", label, schema, why, out);
    }
}

/* Run one case; stdout (malloc'd) into *out when not NULL. false when skipped. */
static bool run_case(const struct env *e, const struct cli_case *c, char **out_keep)
{
    static char store[24][4200];
    const char *argv[24];
    char label[512] = "bpt", *out = NULL, *err = NULL;

    expand(e, c->args, argv, store, 24);
    for (size_t i = 0; argv[i]; i++) {
        snprintf(label + strlen(label), sizeof(label) - strlen(label), " %s", c->args[i]);
    }
    if (((c->flags & NO_TEE) && e->has_tee) || ((c->flags & RUNC) && !e->rtf.usable)) {
        return false;
    }
    int got = bpt_test_run_cli_err(&out, &err, argv);
    if (got != c->want) {
        fail_msg("%s: exit %d, want %d\nstdout: %s\nstderr: %s", label, got, c->want, out, err);
    }
    if (has_arg(argv, "--quiet") && (out[0] || err[0])) {
        fail_msg("%s: --quiet printed stdout '%s' stderr '%s'", label, out, err);
    }
    if (has_arg(argv, "--json") && !has_arg(argv, "--help")) {
        json_decref(one_json_object(out, got, label));
    }
    if (c->schema) {
        check_schema(e, c->schema, out, label);
    }
    if (out_keep) {
        *out_keep = out;
    } else {
        free(out);
    }
    free(err);
    return true;
}

/* ---- the exit-code table, per command ------------------------------------------------------ */

/* A command's cases, and that they (with @p elsewhere, a bit per class tested by another test)
 * cover exactly the classes its --help lists. */
static void run_table(const struct env *e, const char *cmd, const struct cli_case *cases, size_t n,
                      unsigned elsewhere)
{
    bool covered[5] = {false}, listed[5] = {false};
    char *help = NULL;
    const char *argv[] = {cmd, "--help", NULL};

    for (size_t i = 0; i < n; i++) {
        if (strcmp(cases[i].args[0], cmd) != 0) {
            fail_msg("case %zu of %s runs %s", i, cmd, cases[i].args[0]);
        }
        run_case(e, &cases[i], NULL);
        covered[cases[i].want] = true;
    }
    for (int k = 0; k < 5; k++) {
        covered[k] = covered[k] || (elsewhere & (1u << k));
    }
    assert_int_equal(bpt_test_run_cli(&help, argv), 0);
    const char *sec = strstr(help, "\nexit status:\n");
    if (!sec) {
        fail_msg("bpt %s --help has no exit status section", cmd);
    }
    for (int k = 0; k < 5; k++) {
        char line[32];
        snprintf(line, sizeof(line), "\n  %d  %s", k, class_names[k]);
        listed[k] = strstr(sec, line) != NULL;
        if (listed[k] != covered[k]) {
            fail_msg("bpt %s: exit %d (%s) is %s by --help but %s by the tests", cmd, k,
                     class_names[k], listed[k] ? "listed" : "not listed",
                     covered[k] ? "tested" : "not tested");
        }
    }
    free(help);
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void test_verify_exit_codes(void **state)
{
    static const struct cli_case cases[] = {
        {0, 0, NULL, {"verify", "--trust-root", "@ROOTS", "@SNP"}},
        {0, 0, "verify.schema.json", {"verify", "--trust-root", "@ROOTS", "--json", "@SNP"}},
        {0,
         0,
         "verify.schema.json",
         {"verify", "--trust-root", "@ROOTS", "--collateral", "@COLL", "--json", "@TDX"}},
        {0, 0, NULL, {"verify", "--quiet", "--trust-root", "@ROOTS", "@SNP"}},
        {0, 0, NULL, {"verify", "--provider", "sev_snp", "--trust-root", "@ROOTS", "@SNP"}},
        {0, 0, NULL, {"verify", "--provider", "amd_sev_snp", "--trust-root", "@ROOTS", "@SNP"}},
        /* SEV-SNP revocation: AMD's CRL given; the opt-out's result carries its warning */
        {0,
         0,
         NULL,
         {"verify", "--offline", "--trust-root", "@ROOTS", "--crl", "@SIM/sev-snp/crl.der",
          "@SNP"}},
        {0,
         0,
         "verify.schema.json",
         {"verify", "--json", "--no-revocation-check", "--trust-root", "@ROOTS", "@SNP"}},
        /* refused: the pinned AMD roots refuse simulated evidence; a policy; random bytes */
        {1, 0, NULL, {"verify", "@SNP"}},
        {1, 0, "verify.schema.json", {"verify", "--json", "@SNP"}},
        {1, 0, NULL, {"verify", "--quiet", "@SNP"}},
        {1, 0, "verify.schema.json", {"verify", "--json", "@JUNK"}},
        {1,
         0,
         "verify.schema.json",
         {"verify", "--trust-root", "@ROOTS", "--collateral", "@COLL", "--accept-tcb", "revoked",
          "--json", "@TDX"}},
        {1, 0, NULL, {"verify", "--policy", "@POLICY_EXAMPLE", "--trust-root", "@ROOTS", "@SNP"}},
        /* an SEV-SNP rule of the policy (a --snp-* flag) */
        {1,
         0,
         "verify.schema.json",
         {"verify", "--json", "--trust-root", "@ROOTS", "--snp-min-build", "255", "@SNP"}},
        {1, 0, NULL, {"verify", "--quiet", "--trust-root", "@ROOTS", "--snp-no-smt", "@SNP"}},
        /* usage */
        {2, 0, NULL, {"verify", "--bogus", "@SNP"}},
        {2, 0, "verify.schema.json", {"verify", "--json", "--bogus", "@SNP"}},
        {2, 0, "verify.schema.json", {"verify", "--json"}},
        {2, 0, "verify.schema.json", {"verify", "--json", "--at", "yesterday", "@SNP"}},
        {2, 0, NULL, {"verify", "--provider", "sgx", "@SNP"}},
        /* numbers are digits only: no sign, no space, no overflow */
        {2, 0, NULL, {"verify", "--max-age", "+60", "@SNP"}},
        {2, 0, NULL, {"verify", "--max-age", " 60", "@SNP"}},
        {2, 0, NULL, {"verify", "--max-age", "18446744073709551616", "@SNP"}},
        {2, 0, NULL, {"verify", "--snp-min-build", "256", "@SNP"}},
        {2, 0, NULL, {"verify", "--quiet", "--expect-report-data", "zz", "@SNP"}},
        /* a --snp-* value the CLI refuses; one the policy setter refuses */
        {2, 0, "verify.schema.json", {"verify", "--json", "--snp-min-tcb", "sev=1", "@SNP"}},
        {2, 0, "verify.schema.json", {"verify", "--json", "--snp-family-id", "00", "@SNP"}},
        {2, 0, NULL, {"verify", "--snp-platform-smt", "on", "@SNP"}},
        /* local input: missing or wrongly formatted files the user named */
        {3, 0, NULL, {"verify", "/no/such/evidence"}},
        {3, 0, "verify.schema.json", {"verify", "--json", "/no/such/evidence"}},
        {3,
         0,
         "verify.schema.json",
         {"verify", "--json", "--collateral", "@NOTJSON", "--trust-root", "@ROOTS", "@TDX"}},
        {3, 0, NULL, {"verify", "--certs", "@NOTPEM", "--trust-root", "@ROOTS", "@SNP"}},
        {3, 0, NULL, {"verify", "--trust-root", "@NOTPEM", "@SNP"}},
        {3, 0, NULL, {"verify", "--policy", "@NOTJSON", "@SNP"}},
        {3, 0, NULL, {"verify", "--quiet", "--jwks", "@NOTJSON", "@SNP"}},
        /* --crl FILE: missing, not a CRL, certificates instead of a CRL */
        {3, 0, "verify.schema.json", {"verify", "--json", "--crl", "/no/such/crl", "@SNP"}},
        {3, 0, NULL, {"verify", "--crl", "@NOTPEM", "@SNP"}},
        {3, 0, NULL, {"verify", "--crl", "@ROOTS", "--trust-root", "@ROOTS", "@SNP"}},
        /* network: the collateral service does not answer */
        {4,
         0,
         NULL,
         {"verify", "--trust-root", "@ROOTS", "--pccs-url", "http://127.0.0.1:@CLOSED", "@TDX"}},
        {4,
         0,
         "verify.schema.json",
         {"verify", "--json", "--trust-root", "@ROOTS", "--pccs-url", "http://127.0.0.1:@CLOSED",
          "@TDX"}},
        {4,
         0,
         NULL,
         {"verify", "--quiet", "--trust-root", "@ROOTS", "--pccs-url", "http://127.0.0.1:@CLOSED",
          "@TDX"}},
    };
    run_table(*state, "verify", cases, N(cases), 0);
}

static void test_attest_exit_codes(void **state)
{
    static const struct cli_case cases[] = {
        {0, 0, NULL, {"attest", "--simulate", "sev-snp", "--sim-dir", "@SIM", "-o", "@TMP/a.bin"}},
        {0,
         0,
         "attest.schema.json",
         {"attest", "--simulate", "sev-snp", "--sim-dir", "@SIM", "--json"}},
        {0,
         0,
         "report.schema.json",
         {"attest", "--simulate", "tdx", "--sim-dir", "@SIM", "--json", "--nonce", "n"}},
        {0,
         0,
         "attest.schema.json",
         {"attest", "--simulate", "aws-nitro", "--sim-dir", "@SIM", "--json"}},
        {0,
         0,
         "attest.schema.json",
         {"attest", "--simulate", "sev_snp", "--sim-dir", "@SIM", "--json", "-o", "@TMP/r.json"}},
        /* refused: this host has no TEE that makes remote evidence */
        {1, NO_TEE, NULL, {"attest"}},
        {1, NO_TEE, "attest.schema.json", {"attest", "--json"}},
        /* tokens of the simulated GCP launcher and MAA */
        {0, 0, NULL, {"attest", "--simulate", "azure-maa", "--sim-dir", "@SIM", "--nonce", "n-1"}},
        {0,
         0,
         "attest.schema.json",
         {"attest", "--json", "--simulate", "gcp-confidential", "--sim-dir", "@SIM", "--audience",
          "https://rp.example"}},
        /* usage: a provider the simulator does not have, an empty audience */
        {2, 0, NULL, {"attest", "--bogus"}},
        {2, 0, NULL, {"attest", "--simulate", "sgx", "--sim-dir", "@SIM"}},
        {2,
         0,
         "attest.schema.json",
         {"attest", "--json", "--simulate", "sgx", "--sim-dir", "@SIM"}},
        {2,
         0,
         NULL,
         {"attest", "--simulate", "gcp-confidential", "--sim-dir", "@SIM", "--audience", ""}},
        {2, 0, NULL, {"attest", "--report-data", "zz", "--simulate", "tdx", "--sim-dir", "@SIM"}},
        /* local input: a simulator directory never initialised, an output that cannot be made */
        {3, 0, NULL, {"attest", "--simulate", "sev-snp", "--sim-dir", "@EMPTY"}},
        {3,
         0,
         "attest.schema.json",
         {"attest", "--json", "--simulate", "tdx", "--sim-dir", "@EMPTY"}},
        {3,
         0,
         NULL,
         {"attest", "--simulate", "sev-snp", "--sim-dir", "@SIM", "-o", "@UNDERFILE/x.bin"}},
    };
    run_table(*state, "attest", cases, N(cases), 0);
}

static void test_config_exit_codes(void **state)
{
    static const struct cli_case cases[] = {
        {0, 0, NULL, {"config", "check", "@CFG_GOOD"}},
        {0, 0, NULL, {"config", "check", "--json", "@CFG_GOOD"}},
        {0, 0, NULL, {"config", "check", "--quiet", "@CFG_GOOD"}},
        /* refused: the check said no (an invariant, an unknown key, not an object) */
        {1, 0, NULL, {"config", "check", "@CFG_BAD"}},
        {1, 0, "error.schema.json", {"config", "check", "--json", "@CFG_BAD"}},
        {1, 0, NULL, {"config", "check", "--quiet", "@POLICY_EXAMPLE"}},
        {2, 0, NULL, {"config", "check"}},
        {2, 0, NULL, {"config", "lint", "@CFG_GOOD"}},
        {2, 0, "error.schema.json", {"config", "check", "--json", "--bogus", "@CFG_GOOD"}},
        /* local input: missing, not JSON */
        {3, 0, NULL, {"config", "check", "/no/such/config.json"}},
        {3, 0, "error.schema.json", {"config", "check", "--json", "@NOTJSON"}},
        {3, 0, NULL, {"config", "check", "--quiet", "@NOTJSON"}},
    };
    run_table(*state, "config", cases, N(cases), 0);
}

static void test_detect_exit_codes(void **state)
{
    static const struct cli_case cases[] = {
        {0, 0, NULL, {"detect", "--root", "@EMPTY"}},
        {0, 0, NULL, {"detect", "--json", "--root", "@EMPTY"}},
        {2, 0, NULL, {"detect", "--bogus"}},
        {2, 0, "error.schema.json", {"detect", "--json", "--root"}},
        {3, 0, NULL, {"detect", "--root", "/no/such/root"}},
        {3, 0, "error.schema.json", {"detect", "--json", "--root", "@UNDERFILE"}},
    };
    run_table(*state, "detect", cases, N(cases), 0);
}

static void test_inspect_exit_codes(void **state)
{
    static const struct cli_case cases[] = {
        {0, 0, NULL, {"inspect", "@SNP"}},
        {0, 0, NULL, {"inspect", "--json", "@TDX"}},
        {2, 0, NULL, {"inspect"}},
        {2, 0, "error.schema.json", {"inspect", "--json", "--bogus", "@SNP"}},
        {3, 0, NULL, {"inspect", "@JUNK"}},
        {3, 0, "error.schema.json", {"inspect", "--json", "/no/such/evidence"}},
    };
    run_table(*state, "inspect", cases, N(cases), 0);
}

static void test_fetch_exit_codes(void **state)
{
    static const struct cli_case cases[] = {
        /* The report carries its VCEK and ASK: nothing to fetch. */
        {0, 0, NULL, {"fetch", "--out", "@TMP/cache", "@SNP"}},
        {0, 0, NULL, {"fetch", "--json", "--out", "@TMP/cache", "@SNP"}},
        {1, 0, NULL, {"fetch", "--out", "@TMP/cache", "@JUNK"}},
        {2, 0, NULL, {"fetch", "@SNP"}},
        {2, 0, "error.schema.json", {"fetch", "--json", "--out", "@TMP/cache"}},
        {3, 0, NULL, {"fetch", "--out", "@TMP/cache", "/no/such/evidence"}},
        {3, 0, NULL, {"fetch", "--out", "@TMP/cache", "--policy", "@NOTJSON", "@SNP"}},
        /* A raw quote's collateral from a PCCS nobody serves. */
        {4,
         0,
         NULL,
         {"fetch", "--out", "@TMP/cache", "--pccs-url", "http://127.0.0.1:@CLOSED", "@TDX"}},
        {4,
         0,
         NULL,
         {"fetch", "--json", "--out", "@TMP/cache", "--pccs-url", "http://127.0.0.1:@CLOSED",
          "@TDX"}},
    };
    run_table(*state, "fetch", cases, N(cases), 0);
}

/* bpt chain: usage, local input and network here; ok and refused need an EVM node and are
 * tested against ganache by runner/chain_run (which also checks their --json schemas). */
static void test_chain_exit_codes(void **state)
{
#define ADDR "0x00000000000000000000000000000000000000aa"
    static const struct cli_case cases[] = {
        {2, 0, NULL, {"chain"}},
        {2, 0, NULL, {"chain", "profile", "--rpc", "http://127.0.0.1:@CLOSED"}},
        {2,
         0,
         "error.schema.json",
         {"chain", "profile", "--json", "--rpc", "http://127.0.0.1:@CLOSED", "--tangle", "0xnot",
          "--blueprint", "1"}},
        {2,
         0,
         NULL,
         {"chain", "attestation-hash", "--rpc", "http://192.0.2.1:8545", "--bsm", ADDR, "--service",
          "1", "--operator", ADDR}},
        {3,
         0,
         NULL,
         {"chain", "attestation-hash", "--rpc", "http://127.0.0.1:@CLOSED", "--bsm", ADDR,
          "--service", "1", "--operator", ADDR, "--attestation", "/no/such/report.json"}},
        {3,
         0,
         "error.schema.json",
         {"chain", "attestation-hash", "--json", "--rpc", "http://127.0.0.1:@CLOSED", "--bsm", ADDR,
          "--service", "1", "--operator", ADDR, "--attestation", "@NOTJSON"}},
        {4,
         0,
         NULL,
         {"chain", "profile", "--rpc", "http://127.0.0.1:@CLOSED", "--tangle", ADDR, "--blueprint",
          "1"}},
        {4,
         0,
         "error.schema.json",
         {"chain", "attestation-hash", "--json", "--rpc", "@C500", "--bsm", ADDR, "--service", "1",
          "--operator", ADDR}},
    };
#undef ADDR
    run_table(*state, "chain", cases, N(cases), (1u << 0) | (1u << 1));
}

static void test_sim_and_version_exit_codes(void **state)
{
    static const struct cli_case sim[] = {
        {0, 0, NULL, {"sim", "init", "@TMP/sim2"}},
        {2, 0, NULL, {"sim"}},
        {2, 0, NULL, {"sim", "make", "@TMP/sim3"}},
        {3, 0, NULL, {"sim", "init", "@UNDERFILE"}},
    };
    static const struct cli_case version[] = {
        {0, 0, NULL, {"version"}},
        {2, 0, NULL, {"version", "extra"}},
    };
    run_table(*state, "sim", sim, N(sim), 0);
    run_table(*state, "version", version, N(version), 0);
}

static void test_serve_exit_codes(void **state)
{
    struct env *e = *state;
    /* exit 0 (a service stopped by a signal) is test_serve_starts_and_stops */
    static const struct cli_case cases[] = {
        {1, NO_TEE, NULL, {"serve", "--listen", "127.0.0.1:0"}},
        {1, NO_TEE, NULL, {"serve", "--config", "@CFG_REQUIRED", "--listen", "127.0.0.1:0"}},
        {2, 0, NULL, {"serve", "--bogus"}},
        {2, 0, NULL, {"serve", "--simulate", "sgx", "--sim-dir", "@SIM"}},
        {2,
         0,
         NULL,
         {"serve", "--simulate", "gcp-confidential", "--sim-dir", "@SIM", "--audience", ""}},
        {2, 0, NULL, {"serve", "--listen", "localhost"}},
        {3, 0, NULL, {"serve", "--config", "/no/such/config.json"}},
        {3, 0, NULL, {"serve", "--config", "@CFG_BAD"}},
        {3, 0, NULL, {"serve", "--simulate", "sev-snp", "--sim-dir", "@EMPTY"}},
        {4,
         0,
         NULL,
         {"serve", "--simulate", "sev-snp", "--sim-dir", "@SIM", "--listen", "127.0.0.1:@BUSY"}},
    };
    char *out = NULL, *err = NULL;

    run_table(e, "serve", cases, N(cases), 1u << 0);
    /* The refusal says why and what to do. */
    if (!e->has_tee) {
        const char *argv[] = {"serve", NULL};
        assert_int_equal(bpt_test_run_cli_err(&out, &err, argv), 1);
        assert_string_equal(out, "");
        assert_non_null(strstr(err, "no TEE found"));
        assert_non_null(strstr(err, "--simulate"));
        assert_null(strstr(err, "listening"));
        free(out);
        free(err);
    }
}

/* serve exits 0 when stopped; without a TEE it starts only when the config allows it. */
static void test_serve_starts_and_stops(void **state)
{
    struct env *e = *state;
    struct serve_proc s;
    const char *sim[] = {"--simulate", "tdx", "--sim-dir", e->sim.dir, NULL};
    serve_start(&s, sim);
    assert_non_null(strstr(s.log, "serve: listening on http://127.0.0.1:"));
    assert_int_equal(serve_stop(&s), 0);
    if (e->has_tee) {
        return;
    }
    const char *preferred[] = {"--config", var(e, "CFG_PREFERRED"), NULL};
    serve_start(&s, preferred);
    read_until(s.err, s.log, sizeof(s.log), "warning");
    assert_non_null(strstr(s.log, "warning: no TEE found"));
    assert_non_null(strstr(s.log, "listening"));
    assert_int_equal(serve_stop(&s), 0);
}

static void test_seal_exit_codes(void **state)
{
    static const struct cli_case cases[] = {
        {0,
         0,
         NULL,
         {"seal", "--url", "@URL", "--trust-root", "@ROOTS", "--name", "a", "--secret-file",
          "@SECRET"}},
        {0,
         0,
         NULL,
         {"seal", "--quiet", "--url", "@URL", "--trust-root", "@ROOTS", "--name", "b",
          "--secret-file", "@SECRET"}},
        /* refused: pinned roots; an answer with a wrongly typed field; one that is not JSON */
        {1, 0, NULL, {"seal", "--url", "@URL", "--name", "c", "--secret-file", "@SECRET"}},
        {1,
         0,
         NULL,
         {"seal", "--quiet", "--url", "@URL", "--name", "c", "--secret-file", "@SECRET"}},
        {1,
         0,
         NULL,
         {"seal", "--url", "@CTYPE", "--trust-root", "@ROOTS", "--name", "d", "--secret-file",
          "@SECRET"}},
        {1,
         0,
         NULL,
         {"seal", "--url", "@CHTML", "--trust-root", "@ROOTS", "--name", "d", "--secret-file",
          "@SECRET"}},
        /* usage */
        {2, 0, NULL, {"seal", "--url", "@URL"}},
        /* the on-chain check needs all four flags, and a URL to fetch the attestation from */
        {2,
         0,
         NULL,
         {"seal", "--deployment", "d1", "--name", "e", "--secret-file", "@SECRET", "--onchain-rpc",
          "http://127.0.0.1:1", "--bsm", "0x0000000000000000000000000000000000000001", "--service",
          "1", "--operator", "0x0000000000000000000000000000000000000002"}},
        {2,
         0,
         NULL,
         {"seal", "--url", "@URL", "--name", "e", "--secret-file", "@SECRET", "--onchain-rpc",
          "http://127.0.0.1:1", "--service", "1"}},
        {2,
         0,
         NULL,
         {"seal", "--url", "http://192.0.2.1:8787", "--name", "e", "--secret-file", "@SECRET"}},
        /* local input */
        {3, 0, NULL, {"seal", "--url", "@URL", "--name", "f", "--secret-file", "/no/such/secret"}},
        {3,
         0,
         NULL,
         {"seal", "--url", "@URL", "--trust-root", "@NOTPEM", "--name", "f", "--secret-file",
          "@SECRET"}},
        {3,
         0,
         NULL,
         {"seal", "--url", "@URL", "--policy", "@NOTJSON", "--name", "f", "--secret-file",
          "@SECRET"}},
        /* network: nobody listens; the service answers 500 */
        {4,
         0,
         NULL,
         {"seal", "--url", "http://127.0.0.1:@CLOSED", "--name", "g", "--secret-file", "@SECRET"}},
        {4,
         0,
         NULL,
         {"seal", "--url", "@C500", "--trust-root", "@ROOTS", "--name", "g", "--secret-file",
          "@SECRET"}},
        {4,
         0,
         NULL,
         {"seal", "--quiet", "--url", "@C500", "--name", "g", "--secret-file", "@SECRET"}},
        /* to a deployment, through its socket */
        {0,
         RUNC,
         NULL,
         {"seal", "--deployment", "@DEP", "--state-dir", "@STATE", "--trust-root", "@ROOTS",
          "--name", "z", "--secret-file", "@SECRET"}},
        {1,
         RUNC,
         NULL,
         {"seal", "--deployment", "@STOPPED", "--state-dir", "@STATE", "--trust-root", "@ROOTS",
          "--name", "z", "--secret-file", "@SECRET"}},
        {2,
         0,
         NULL,
         {"seal", "--url", "@URL", "--deployment", "x", "--name", "z", "--secret-file", "@SECRET"}},
        {3,
         0,
         NULL,
         {"seal", "--deployment", "nope", "--state-dir", "@STATE", "--name", "z", "--secret-file",
          "@SECRET"}},
        /* network: the workload never opens its socket */
        {4,
         RUNC,
         NULL,
         {"seal", "--deployment", "@MUTE", "--state-dir", "@STATE", "--wait", "0", "--trust-root",
          "@ROOTS", "--name", "z", "--secret-file", "@SECRET"}},
    };
    run_table(*state, "seal", cases, N(cases), 0);
}

static void test_deploy_exit_codes(void **state)
{
    static const struct cli_case cases[] = {
        /* the same spec as the running DEP: the same deployment */
        {0, RUNC, "deployment.schema.json", {"deploy", "--json", "--state-dir", "@STATE", "@SPEC"}},
        {0, RUNC, NULL, {"deploy", "--state-dir", "@STATE", "@SPEC"}},
        /* refused: another spec under the name; a secret value under sealed_only; remote */
        {1, RUNC, NULL, {"deploy", "--state-dir", "@STATE", "@SPEC_CHANGED"}},
        {1,
         RUNC,
         "error.schema.json",
         {"deploy", "--json", "--state-dir", "@STATE", "@SPEC_CHANGED"}},
        {1, 0, "error.schema.json", {"deploy", "--json", "--state-dir", "@STATE", "@SPEC_VALUE"}},
        {1, 0, NULL, {"deploy", "--state-dir", "@STATE", "--backend", "azure_cvm", "@SPEC"}},
        {2, 0, NULL, {"deploy", "--bogus", "@SPEC"}},
        {2, 0, "error.schema.json", {"deploy", "--json"}},
        {3, 0, NULL, {"deploy", "--state-dir", "@STATE", "/no/such/spec.json"}},
        {3, 0, "error.schema.json", {"deploy", "--json", "--state-dir", "@STATE", "@SPEC_BAD"}},
        {3, 0, NULL, {"deploy", "--state-dir", "@STATE", "--config", "@NOTJSON", "@SPEC"}},
    };
    run_table(*state, "deploy", cases, N(cases), 0);
}

static void test_status_exit_codes(void **state)
{
    static const struct cli_case cases[] = {
        {0, 0, "status.schema.json", {"status", "--json", "--state-dir", "@STATE"}},
        {0, 0, NULL, {"status", "--state-dir", "@STATE"}},
        {0, RUNC, "status.schema.json", {"status", "--json", "--state-dir", "@STATE", "@DEP"}},
        {0, RUNC, "status.schema.json", {"status", "--json", "--state-dir", "@STATE", "@GONE"}},
        {2, 0, NULL, {"status", "--bogus"}},
        {2, 0, "error.schema.json", {"status", "--json", "a", "b"}},
        {3, 0, NULL, {"status", "--state-dir", "@STATE", "0000000000000000"}},
        {3, 0, "error.schema.json", {"status", "--json", "--state-dir", "@STATE", "nope"}},
        {3, 0, NULL, {"status", "--state-dir", "@UNDERFILE"}},
    };
    run_table(*state, "status", cases, N(cases), 0);
}

static void test_attestation_exit_codes(void **state)
{
    static const struct cli_case cases[] = {
        {0,
         RUNC,
         "attestation.schema.json",
         {"attestation", "--json", "--state-dir", "@STATE", "--trust-root", "@ROOTS", "@DEP"}},
        {0,
         RUNC,
         NULL,
         {"attestation", "--state-dir", "@STATE", "--trust-root", "@ROOTS", "--nonce",
          "000102030405060708090a0b0c0d0e0f", "@DEP"}},
        /* refused: the pinned roots; a stopped deployment */
        {1, RUNC, NULL, {"attestation", "--state-dir", "@STATE", "@DEP"}},
        {1,
         RUNC,
         "attestation.schema.json",
         {"attestation", "--json", "--state-dir", "@STATE", "--trust-root", "@ROOTS", "@STOPPED"}},
        {2, 0, NULL, {"attestation", "--nonce", "zz", "x"}},
        {2, 0, "error.schema.json", {"attestation", "--json"}},
        {2, 0, NULL, {"attestation", "--wait", "soon", "x"}},
        {3, 0, NULL, {"attestation", "--state-dir", "@STATE", "nope"}},
        {3,
         0,
         "attestation.schema.json",
         {"attestation", "--json", "--state-dir", "@STATE", "--trust-root", "@NOTPEM", "x"}},
        /* network: the workload never opens its socket */
        {4,
         RUNC,
         NULL,
         {"attestation", "--state-dir", "@STATE", "--wait", "0", "--trust-root", "@ROOTS",
          "@MUTE"}},
        {4,
         RUNC,
         "attestation.schema.json",
         {"attestation", "--json", "--state-dir", "@STATE", "--wait", "0", "--trust-root", "@ROOTS",
          "@MUTE"}},
    };
    run_table(*state, "attestation", cases, N(cases), 0);
}

static void test_pubkey_exit_codes(void **state)
{
    static const struct cli_case cases[] = {
        {0,
         RUNC,
         "pubkey.schema.json",
         {"pubkey", "--json", "--state-dir", "@STATE", "--trust-root", "@ROOTS", "@DEP"}},
        {0, RUNC, NULL, {"pubkey", "--state-dir", "@STATE", "--trust-root", "@ROOTS", "@DEP"}},
        {1, RUNC, NULL, {"pubkey", "--state-dir", "@STATE", "@DEP"}},
        {1,
         RUNC,
         "pubkey.schema.json",
         {"pubkey", "--json", "--state-dir", "@STATE", "--trust-root", "@ROOTS", "@STOPPED"}},
        {2, 0, NULL, {"pubkey"}},
        {2, 0, "error.schema.json", {"pubkey", "--json", "--bogus", "x"}},
        {3, 0, NULL, {"pubkey", "--state-dir", "@STATE", "nope"}},
        {3, 0, NULL, {"pubkey", "--state-dir", "@STATE", "--policy", "@NOTJSON", "x"}},
        {4,
         RUNC,
         NULL,
         {"pubkey", "--state-dir", "@STATE", "--wait", "0", "--trust-root", "@ROOTS", "@MUTE"}},
    };
    run_table(*state, "pubkey", cases, N(cases), 0);
}

static void test_stop_and_destroy_exit_codes(void **state)
{
    static const struct cli_case stop[] = {
        {0,
         RUNC,
         "deployment.schema.json",
         {"stop", "--json", "--state-dir", "@STATE", "@STOPPED"}},
        {0, RUNC, NULL, {"stop", "--state-dir", "@STATE", "--timeout", "1", "@STOPPED"}},
        {1, RUNC, NULL, {"stop", "--state-dir", "@STATE", "@GONE"}},
        {1, RUNC, "deployment.schema.json", {"stop", "--json", "--state-dir", "@STATE", "@GONE"}},
        {2, 0, NULL, {"stop"}},
        {2, 0, "error.schema.json", {"stop", "--json", "--timeout", "x", "a"}},
        {3, 0, NULL, {"stop", "--state-dir", "@STATE", "nope"}},
        {3, 0, "deployment.schema.json", {"stop", "--json", "--state-dir", "@STATE", "nope"}},
    };
    static const struct cli_case destroy[] = {
        {0,
         RUNC,
         "deployment.schema.json",
         {"destroy", "--json", "--state-dir", "@STATE", "@GONE"}},
        {0, RUNC, NULL, {"destroy", "--state-dir", "@STATE", "@GONE"}},
        {2, 0, NULL, {"destroy"}},
        {2, 0, "error.schema.json", {"destroy", "--json", "a", "b"}},
        {3, 0, NULL, {"destroy", "--state-dir", "@STATE", "nope"}},
        {3, 0, "deployment.schema.json", {"destroy", "--json", "--state-dir", "@STATE", "nope"}},
    };
    run_table(*state, "stop", stop, N(stop), 0);
    run_table(*state, "destroy", destroy, N(destroy), 0);
}

/* ---- JSON: what a refusal carries, round trips -------------------------------------------- */

static json_t *run_json(const struct env *e, int want, const char *const *args)
{
    struct cli_case c = {want, 0, NULL, {NULL}};
    char *out = NULL;
    for (size_t i = 0; args[i]; i++) {
        c.args[i] = args[i];
    }
    run_case(e, &c, &out);
    json_t *j = json_loads(out, 0, NULL);
    free(out);
    assert_non_null(j);
    return j;
}

static const char *str(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    if (!s) {
        fail_msg("no string member '%s'", k);
    }
    return s;
}

static void test_refusal_json_carries_what_is_known(void **state)
{
    struct env *e = *state;
    const char *ok_snp[] = {"verify", "--json", "--trust-root", "@ROOTS", "@SNP", NULL};
    const char *pinned[] = {"verify", "--json", "@SNP", NULL};
    const char *ok_tdx[] = {"verify",       "--json", "--trust-root", "@ROOTS",
                            "--collateral", "@COLL",  "@TDX",         NULL};
    const char *tcb[] = {"verify", "--json",       "--trust-root", "@ROOTS", "--collateral",
                         "@COLL",  "--accept-tcb", "revoked",      "@TDX",   NULL};
    const char *missing[] = {"verify", "--json", "/no/such/evidence", NULL};
    const char *snp_tcb[] = {"verify",        "--json",         "--trust-root", "@ROOTS",
                             "--snp-min-tcb", "bootloader=255", "@SNP",         NULL};

    json_t *good = run_json(e, 0, ok_snp), *bad = run_json(e, 1, pinned);
    assert_string_equal(str(bad, "format"), "sev_snp_report");
    assert_string_equal(str(bad, "provider"), "amd_sev_snp");
    assert_string_equal(str(bad, "evidence_sha256"), str(good, "evidence_sha256"));
    assert_string_equal(str(json_object_get(bad, "error"), "kind"), "signature");
    json_decref(good);
    json_decref(bad);

    good = run_json(e, 0, ok_tdx);
    bad = run_json(e, 1, tcb);
    assert_string_equal(str(bad, "format"), "tdx_quote");
    assert_string_equal(str(bad, "evidence_sha256"), str(good, "evidence_sha256"));
    assert_string_equal(str(json_object_get(bad, "tcb"), "status"), "up_to_date");
    assert_string_equal(str(json_object_get(bad, "error"), "kind"), "claim");
    json_decref(good);
    json_decref(bad);

    /* an SEV-SNP report refused by the policy (its TCB, after the signature) says which TCB it
     * had, as the verified result would */
    good = run_json(e, 0, ok_snp);
    bad = run_json(e, 1, snp_tcb);
    assert_string_equal(str(bad, "format"), "sev_snp_report");
    assert_non_null(json_object_get(bad, "tcb"));
    assert_true(json_equal(json_object_get(bad, "tcb"), json_object_get(good, "tcb")));
    assert_string_equal(str(json_object_get(bad, "tcb"), "product"), "Milan");
    assert_non_null(json_object_get(json_object_get(bad, "tcb"), "reported"));
    assert_string_equal(str(json_object_get(bad, "error"), "kind"), "claim");
    json_decref(good);
    json_decref(bad);

    /* before any evidence was read, nothing about it is claimed */
    bad = run_json(e, 3, missing);
    assert_null(json_object_get(bad, "format"));
    assert_null(json_object_get(bad, "evidence_sha256"));
    assert_false(json_boolean_value(json_object_get(bad, "verified")));
    assert_string_equal(str(json_object_get(bad, "error"), "kind"), "not_found");
    json_decref(bad);
}

/* Output fed back: config check --json reads back; attest --json verifies (schema_version). */
static void test_json_round_trips(void **state)
{
    struct env *e = *state;
    char norm[4200], *out = NULL;
    const char *check[] = {"config", "check", "--json", var(e, "CFG_GOOD"), NULL};
    assert_int_equal(bpt_test_run_cli(&out, check), 0);
    snprintf(norm, sizeof(norm), "%s/normalised.json", e->tmp);
    write_text(norm, out);
    free(out);
    const char *again[] = {"config", "check", "--json", norm, NULL};
    assert_int_equal(bpt_test_run_cli(&out, again), 0);
    free(out);
    /* the -o report carries schema_version and verifies */
    const char *v[] = {"verify", "--trust-root", var(e, "ROOTS"), var(e, "SNP"), NULL};
    size_t rep_len = 0;
    uint8_t *rep = bpt_test_read_file(var(e, "SNP"), &rep_len);
    assert_non_null(strstr((char *)rep, "\"schema_version\":1"));
    free(rep);
    assert_int_equal(bpt_test_run_cli(NULL, v), 0);
    /* detect --json: one object with schema_version, the probe list as before */
    const char *d[] = {"detect", "--json", "--root", var(e, "EMPTY"), NULL};
    assert_int_equal(bpt_test_run_cli(&out, d), 0);
    json_decref(one_json_object(out, 0, "detect --json"));
    assert_memory_equal(out, "{\"provider\":\"none\",", 19);
    free(out);
}

/* The policy file of docs/schemas/policy.example.json: valid by its schema, loaded by bpt. */
static void test_policy_schema(void **state)
{
    struct env *e = *state;
    char path[4200], why[1024];
    json_t *doc;
    snprintf(path, sizeof(path), "%s/policy.schema.json", e->schemas);
    doc = json_load_file(var(e, "POLICY_EXAMPLE"), 0, NULL);
    assert_non_null(doc);
    if (!bpt_json_schema_check(path, doc, why, sizeof(why))) {
        fail_msg("policy.example.json: %s", why);
    }
    /* a typo is refused by the schema as by the loader */
    json_object_set_new(doc, "alow_debug", json_true());
    assert_false(bpt_json_schema_check(path, doc, why, sizeof(why)));
    assert_non_null(strstr(why, "alow_debug"));
    json_decref(doc);
    /* the checker itself refuses what it cannot check, and a document that breaks a rule */
    assert_false(bpt_json_schema_check_text(path, "{\"tdx\":{\"xfam\":\"00\"}}", why, sizeof(why)));
    assert_non_null(strstr(why, "$.tdx.xfam"));
    assert_false(bpt_json_schema_check_text(path, "{\"max_age_secs\":-1}", why, sizeof(why)));
    /* every key the loader takes and the writer writes is in the schema: the measurement as
     * printed (alg:hex) and the audience opt-out (cli-semantics), the SEV-SNP rules */
    {
        static const char pol[] =
            "{\"expected_measurement\":\"sha384:"
            "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
            "202122232425262728292a2b2c2d2e2f\",\"insecure_any_audience\":true,"
            "\"sev_snp\":{\"allow_smt\":false,\"min_abi\":\"1.51\"}}";
        bpt_policy *p = NULL;
        char *written = NULL;
        if (!bpt_json_schema_check_text(path, pol, why, sizeof(why))) {
            fail_msg("policy: %s", why);
        }
        assert_ok(bpt_policy_load_json(&p, pol, sizeof(pol) - 1));
        assert_ok(bpt_policy_to_json(&written, p));
        if (!bpt_json_schema_check_text(path, written, why, sizeof(why))) {
            fail_msg("written policy %s: %s", written, why);
        }
        assert_non_null(strstr(written, "\"insecure_any_audience\":true"));
        assert_non_null(strstr(written, "sha384:000102"));
        bpt_free(written);
        bpt_policy_free(p);
        assert_false(bpt_json_schema_check_text(path, "{\"expected_measurement\":\"md5:00\"}", why,
                                                sizeof(why)));
    }
}

/* ---- messages ------------------------------------------------------------------------------ */

static void test_messages_name_things_once(void **state)
{
    struct env *e = *state;
    char *out = NULL, *err = NULL;
    {
        const char *argv[] = {"verify", "/no/such/evidence", NULL};
        assert_int_equal(bpt_test_run_cli_err(&out, &err, argv), 3);
        const char *first = strstr(err, "/no/such/evidence");
        assert_non_null(first);
        assert_null(strstr(first + 1, "/no/such/evidence")); /* the path once */
        free(out);
        free(err);
    }
    if (!e->has_tee) {
        const char *argv[] = {"attest", NULL};
        assert_int_equal(bpt_test_run_cli_err(&out, &err, argv), 1);
        assert_null(strstr(err, "attest: attest:"));
        assert_non_null(strstr(err, "bpt attest: no configfs-tsm"));
        free(out);
        free(err);
    }
    {
        const char *argv[] = {"attest", "--simulate", "sgx", "--sim-dir", e->sim.dir, NULL};
        assert_int_equal(bpt_test_run_cli_err(&out, &err, argv), 2);
        assert_non_null(strstr(err, "the simulator has sev-snp, tdx, aws-nitro, gcp-confidential, "
                                    "azure-maa"));
        free(out);
        free(err);
    }
    {
        const char *argv[] = {"sim", "--help", NULL};
        assert_int_equal(bpt_test_run_cli(&out, argv), 0);
        assert_non_null(strstr(out, "SEV-SNP"));
        assert_non_null(strstr(out, "TDX"));
        assert_non_null(strstr(out, "AWS Nitro"));
        assert_non_null(strstr(out, "GCP Confidential"));
        assert_non_null(strstr(out, "Azure"));
        free(out);
    }
}

/* ---- the top level ------------------------------------------------------------------------- */

static void test_top_level(void **state)
{
    char *out = NULL;
    (void)state;
    const char *help[] = {"--help", NULL};
    assert_int_equal(bpt_test_run_cli(&out, help), 0);
    for (int k = 0; k < 5; k++) {
        char line[32];
        snprintf(line, sizeof(line), "\n  %d  %s", k, class_names[k]);
        assert_non_null(strstr(out, line));
    }
    free(out);
    const char *none[] = {NULL};
    assert_int_equal(bpt_test_run_cli(NULL, none), 2);
    const char *unknown[] = {"frobnicate", NULL};
    assert_int_equal(bpt_test_run_cli(NULL, unknown), 2);
    /* --quiet is a flag of the commands that list it, not of the others */
    const char *sim_quiet[] = {"version", "--quiet", NULL};
    assert_int_equal(bpt_test_run_cli(NULL, sim_quiet), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_verify_exit_codes),
        cmocka_unit_test(test_attest_exit_codes),
        cmocka_unit_test(test_config_exit_codes),
        cmocka_unit_test(test_detect_exit_codes),
        cmocka_unit_test(test_inspect_exit_codes),
        cmocka_unit_test(test_fetch_exit_codes),
        cmocka_unit_test(test_sim_and_version_exit_codes),
        cmocka_unit_test(test_serve_exit_codes),
        cmocka_unit_test(test_serve_starts_and_stops),
        cmocka_unit_test(test_seal_exit_codes),
        cmocka_unit_test(test_deploy_exit_codes),
        cmocka_unit_test(test_status_exit_codes),
        cmocka_unit_test(test_attestation_exit_codes),
        cmocka_unit_test(test_pubkey_exit_codes),
        cmocka_unit_test(test_stop_and_destroy_exit_codes),
        cmocka_unit_test(test_chain_exit_codes),
        cmocka_unit_test(test_refusal_json_carries_what_is_known),
        cmocka_unit_test(test_json_round_trips),
        cmocka_unit_test(test_policy_schema),
        cmocka_unit_test(test_messages_name_things_once),
        cmocka_unit_test(test_top_level),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
