/*
 * External job handlers: body in on stdin, result out on stdout, failures with stderr's last
 * line, the time limit (process group killed), the output limit, a clean environment and no
 * inherited descriptors, and sealed secrets only as 0400 files on tmpfs for the call's length —
 * never in the program's argv or environment (read back from /proc).
 */
#include "helpers/test.h"

#include <signal.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <linux/magic.h>
#include <time.h>
#include <unistd.h>

static char *dir; /* the test's scratch directory (for scripts) */

static int setup(void **state)
{
    (void)state;
    dir = bpt_test_tmpdir();
    setenv("BPT_TEST_PARENT_MARKER", "leaked", 1); /* must not reach a handler */
    return dir ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    bpt_test_rmtree(dir);
    free(dir);
    return 0;
}

static char *script(const char *name, const char *body)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    bpt_test_write_file(path, body, strlen(body));
    chmod(path, 0700);
    return strdup(path);
}

static bpt_exec_handler *handler(const char *command, long timeout_ms, size_t max_output,
                                 const char *const *secrets, size_t n)
{
    bpt_exec_handler_opts o = BPT_EXEC_HANDLER_OPTS_INIT;
    bpt_exec_handler *h = NULL;
    o.command = command;
    o.timeout_ms = timeout_ms;
    o.max_output = max_output;
    o.secrets = secrets;
    o.n_secrets = n;
    assert_ok(bpt_exec_handler_new(&h, &o));
    return h;
}

static bpt_job_result *call(bpt_exec_handler *h, const char *body, const bpt_tee_context *tee)
{
    bpt_job_call *c = NULL;
    bpt_job_result *r = NULL;
    assert_ok(bpt_job_call_new(&c, 7, 42, 3, (const uint8_t *)body, strlen(body)));
    assert_ok(bpt_job_result_new(&r));
    assert_int_equal(bpt_exec_handler_run(c, r, tee, h), 0);
    bpt_job_call_free(c);
    return r;
}

static void test_body_in_result_out(void **state)
{
    bpt_exec_handler *h = handler("/bin/cat", 0, 0, NULL, 0);
    bpt_job_result *r;
    size_t n = 0;
    (void)state;
    r = call(h, "hello, job", NULL);
    assert_true(bpt_job_result_is_ok(r));
    assert_memory_equal(bpt_job_result_body(r, &n), "hello, job", 10);
    assert_int_equal(n, 10);
    bpt_job_result_free(r);
    /* A large body both ways (no deadlock between stdin and stdout). */
    {
        char *big = malloc(300001);
        memset(big, 'x', 300000);
        big[300000] = '\0';
        r = call(h, big, NULL);
        assert_true(bpt_job_result_is_ok(r));
        assert_non_null(bpt_job_result_body(r, &n));
        assert_int_equal(n, 300000);
        bpt_job_result_free(r);
        free(big);
    }
    bpt_exec_handler_free(h);
}

static void test_failures(void **state)
{
    char *fail =
        script("fail.sh", "#!/bin/sh\necho working >&2\necho 'bad input: want 4 bytes' >&2\n"
                          "exit 3\n");
    char *loud = script("loud.sh", "#!/bin/sh\nhead -c 5000 /dev/zero\n");
    bpt_exec_handler *h;
    bpt_job_result *r;
    (void)state;
    h = handler(fail, 0, 0, NULL, 0);
    r = call(h, "", NULL);
    assert_string_equal(bpt_job_result_error_code(r), "job_failed");
    assert_string_equal(bpt_job_result_error_message(r), "exit 3: bad input: want 4 bytes");
    bpt_job_result_free(r);
    bpt_exec_handler_free(h);

    h = handler(loud, 0, 4096, NULL, 0);
    r = call(h, "", NULL);
    assert_string_equal(bpt_job_result_error_code(r), "output_too_large");
    assert_non_null(strstr(bpt_job_result_error_message(r), "more than 4096 bytes of output"));
    bpt_job_result_free(r);
    bpt_exec_handler_free(h);

    /* A program that is not there, or not named by an absolute path, is refused when the
     * handler is made; one removed later fails its calls. */
    {
        bpt_exec_handler_opts o = BPT_EXEC_HANDLER_OPTS_INIT;
        o.command = "/nonexistent/handler";
        assert_rc_msg(bpt_exec_handler_new(&h, &o), BPT_EINVAL,
                      "program /nonexistent/handler cannot be run: No such file");
        o.command = "handler.sh arg";
        assert_rc_msg(bpt_exec_handler_new(&h, &o), BPT_EINVAL, "an absolute path");
    }
    h = handler(loud, 0, 0, NULL, 0);
    assert_int_equal(unlink(loud), 0);
    r = call(h, "", NULL);
    assert_string_equal(bpt_job_result_error_code(r), "exec_failed");
    assert_non_null(strstr(bpt_job_result_error_message(r), "cannot start"));
    bpt_job_result_free(r);
    bpt_exec_handler_free(h);
    free(fail);
    free(loud);
}

static void test_timeout_kills_the_group(void **state)
{
    /* A program that starts a grandchild holding a pid file, then hangs. */
    char pidfile[4200], *hang;
    char body[4400];
    struct timespec a, b;
    bpt_exec_handler *h;
    bpt_job_result *r;
    FILE *f;
    int gpid = 0;
    (void)state;
    snprintf(pidfile, sizeof(pidfile), "%s/grandchild.pid", dir);
    snprintf(body, sizeof(body), "#!/bin/sh\nsleep 100 &\necho $! > %s\nsleep 100\n", pidfile);
    hang = script("hang.sh", body);
    h = handler(hang, 300, 0, NULL, 0);
    clock_gettime(CLOCK_MONOTONIC, &a);
    r = call(h, "", NULL);
    clock_gettime(CLOCK_MONOTONIC, &b);
    assert_string_equal(bpt_job_result_error_code(r), "job_timeout");
    assert_non_null(strstr(bpt_job_result_error_message(r), "within 300 ms"));
    assert_true(b.tv_sec - a.tv_sec < 5);
    bpt_job_result_free(r);
    f = fopen(pidfile, "r");
    assert_non_null(f);
    assert_int_equal(fscanf(f, "%d", &gpid), 1);
    fclose(f);
    /* The grandchild went with the group (it may linger a moment as a zombie of init). */
    for (int i = 0; i < 200 && kill(gpid, 0) == 0; i++) {
        char st[64], path[64];
        FILE *s;
        snprintf(path, sizeof(path), "/proc/%d/stat", gpid);
        if ((s = fopen(path, "r")) && fgets(st, sizeof(st), s) && strstr(st, ") Z")) {
            fclose(s);
            break;
        }
        if (s) {
            fclose(s);
        }
        usleep(10000);
    }
    {
        char path[64], st[256] = "";
        FILE *s;
        snprintf(path, sizeof(path), "/proc/%d/stat", gpid);
        s = fopen(path, "r");
        if (s) {
            assert_non_null(fgets(st, sizeof(st), s));
            fclose(s);
            assert_non_null(strstr(st, ") Z")); /* dead, not yet reaped by init */
        }
    }
    bpt_exec_handler_free(h);
    free(hang);
}

static void test_environment_and_descriptors(void **state)
{
    char *envs = script("env.sh", "#!/bin/sh\nenv | sort\nls /proc/self/fd | wc -l\n");
    bpt_exec_handler *h = handler(envs, 0, 0, NULL, 0);
    bpt_job_result *r;
    size_t n = 0;
    const char *body;
    char *out;
    (void)state;
    r = call(h, "", NULL);
    assert_true(bpt_job_result_is_ok(r));
    body =
        (const char *)bpt_job_result_body(r, &n); /* n is set by this call: not in one expression */
    out = strndup(body, n);
    assert_non_null(strstr(out, "BPT_JOB_INDEX=3\n"));
    assert_non_null(strstr(out, "BPT_CALL_ID=42\n"));
    assert_non_null(strstr(out, "BPT_SERVICE_ID=7\n"));
    assert_null(strstr(out, "BPT_TEST_PARENT_MARKER"));
    assert_null(strstr(out, "BPT_SECRETS_DIR")); /* no secrets named, no directory */
    /* 0, 1, 2 and the descriptor ls itself opens to list the directory. */
    assert_non_null(strstr(out, "\n4\n"));
    free(out);
    bpt_job_result_free(r);
    bpt_exec_handler_free(h);
    free(envs);
}

static void test_secrets_never_in_argv_or_environ(void **state)
{
    static const char secret[] = "s3cr3t-value-4711";
    static const char *const names[] = {"db_password"};
    char proof[4200], body[9000], *show;
    bpt_kx_store *st = NULL;
    bpt_secret *s = NULL;
    bpt_tee_context *tee = NULL;
    bpt_exec_handler *h;
    bpt_job_result *r;
    size_t n = 0, len = 0;
    uint8_t *environ_copy, *cmdline_copy;
    const char *result_body;
    char *out, secdir[4200] = "";
    struct stat sb;
    (void)state;
    snprintf(proof, sizeof(proof), "%s/proof", dir);
    /* The program copies what the kernel shows of it, then prints the secret file's mode, its
     * directory's mode and file system, and the secret itself. */
    snprintf(body, sizeof(body),
             "#!/bin/sh\ncat /proc/$$/environ > %s.environ\ncat /proc/$$/cmdline > %s.cmdline\n"
             "stat -c '%%a' \"$BPT_SECRETS_DIR/db_password\"\nstat -c '%%a' \"$BPT_SECRETS_DIR\"\n"
             "stat -f -c '%%T' \"$BPT_SECRETS_DIR\"\necho \"$BPT_SECRETS_DIR\"\n"
             "cat \"$BPT_SECRETS_DIR/db_password\"\n",
             proof, proof);
    show = script("show.sh", body);
    assert_ok(bpt_kx_store_new(&st));
    assert_ok(bpt_secret_from(&s, (const uint8_t *)secret, strlen(secret)));
    assert_ok(bpt_kx_store_put(st, "db_password", s));
    assert_ok(bpt_tee_context_new(&tee, NULL, st, NULL));
    h = handler(show, 0, 0, names, 1);
    r = call(h, "", tee);
    assert_true(bpt_job_result_is_ok(r));
    result_body = (const char *)bpt_job_result_body(r, &n); /* sets n: not in one expression */
    out = strndup(result_body, n);
    assert_non_null(strstr(out, "400\n700\ntmpfs\n"));
    assert_non_null(strstr(out, secret)); /* the program got it */
    assert_int_equal(sscanf(strstr(out, "tmpfs\n") + 6, "%4199s", secdir), 1);
    assert_int_not_equal(stat(secdir, &sb), 0); /* removed after the call */
    free(out);
    bpt_job_result_free(r);

    snprintf(body, sizeof(body), "%s.environ", proof);
    environ_copy = bpt_test_read_file(body, &len);
    assert_non_null(environ_copy);
    assert_null(memmem(environ_copy, len, secret, strlen(secret)));
    assert_non_null(memmem(environ_copy, len, "BPT_SECRETS_DIR=", 16));
    free(environ_copy);
    snprintf(body, sizeof(body), "%s.cmdline", proof);
    cmdline_copy = bpt_test_read_file(body, &len);
    assert_non_null(cmdline_copy);
    assert_null(memmem(cmdline_copy, len, secret, strlen(secret)));
    free(cmdline_copy);
    bpt_exec_handler_free(h);

    /* A secret the store does not have: the call fails before the program starts. */
    {
        static const char *const other[] = {"api_key"};
        h = handler(show, 0, 0, other, 1);
        r = call(h, "", tee);
        assert_string_equal(bpt_job_result_error_code(r), "secret_missing");
        assert_non_null(strstr(bpt_job_result_error_message(r), "'api_key'"));
        bpt_job_result_free(r);
        bpt_exec_handler_free(h);
    }
    bpt_tee_context_free(tee);
    bpt_kx_store_free(st);
    free(show);
}

static void test_secrets_need_tmpfs(void **state)
{
    static const char *const names[] = {"db_password"};
    bpt_exec_handler_opts o = BPT_EXEC_HANDLER_OPTS_INIT;
    bpt_exec_handler *h = NULL;
    bpt_job_result *r;
    struct statfs fs;
    const char *disk = getenv("BPT_SOURCE_DIR"); /* the checkout: a disk file system */
    (void)state;
    if (!disk || statfs(disk, &fs) != 0 || fs.f_type == TMPFS_MAGIC) {
        skip();
    }
    o.command = "/bin/true";
    o.secrets = names;
    o.n_secrets = 1;
    o.secrets_base_dir = disk;
    assert_ok(bpt_exec_handler_new(&h, &o));
    r = call(h, "", NULL);
    assert_string_equal(bpt_job_result_error_code(r), "exec_failed");
    assert_non_null(strstr(bpt_job_result_error_message(r), "not on tmpfs"));
    bpt_job_result_free(r);
    bpt_exec_handler_free(h);
}

static void test_options(void **state)
{
    bpt_exec_handler_opts o = BPT_EXEC_HANDLER_OPTS_INIT;
    static const char *const bad[] = {"../etc/passwd"};
    bpt_exec_handler *h = NULL;
    (void)state;
    assert_rc_msg(bpt_exec_handler_new(&h, &o), BPT_EINVAL, "a command");
    o.command = "   ";
    assert_rc_msg(bpt_exec_handler_new(&h, &o), BPT_EINVAL, "empty");
    o.command = "/bin/true";
    o.secrets = bad;
    o.n_secrets = 1;
    assert_rc_msg(bpt_exec_handler_new(&h, &o), BPT_EINVAL, "secret name '../etc/passwd'");
    o.n_secrets = 0;
    o.timeout_ms = -1;
    assert_rc_msg(bpt_exec_handler_new(&h, &o), BPT_EINVAL, "timeout_ms");
    o.version = 99;
    assert_rc_msg(bpt_exec_handler_new(&h, &o), BPT_EINVAL, "BPT_EXEC_HANDLER_OPTS_INIT");
    assert_null(h);
    bpt_exec_handler_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_body_in_result_out),
        cmocka_unit_test(test_failures),
        cmocka_unit_test(test_timeout_kills_the_group),
        cmocka_unit_test(test_environment_and_descriptors),
        cmocka_unit_test(test_secrets_never_in_argv_or_environ),
        cmocka_unit_test(test_secrets_need_tmpfs),
        cmocka_unit_test(test_options),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
