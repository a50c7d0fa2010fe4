/* bpt-test-labels: loopback */
/*
 * `bpt serve` as a process (issue 13): before it serves it has made itself non-dumpable with
 * no core files (live session keys sit in its memory), which /proc/PID/limits shows; it takes
 * the key_exchange limits from its config, and a config with a limit out of range or an
 * unknown key is refused before it listens.
 */
#include "helpers/test.h"

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* The serve process of the running test, killed by teardown if the test failed before. */
static pid_t running;

static int kill_running(void **state)
{
    (void)state;
    if (running > 0) {
        kill(running, SIGKILL);
        waitpid(running, NULL, 0);
        running = 0;
    }
    return 0;
}

/* A /proc file read whole (its size is not known in advance); malloc'd, NUL-terminated. */
static char *read_proc(const char *path)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char *buf = calloc(1, 16384);
    assert_non_null(buf);
    size_t n = fread(buf, 1, 16383, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

struct serve {
    pid_t pid;
    FILE *out;
    unsigned port;
};

/* Start `bpt serve --listen 127.0.0.1:0 --config @p config` with stdout on a pipe. */
static void serve_start(struct serve *s, const char *config)
{
    const char *bin = getenv("BPT_BIN");
    assert_non_null(bin);
    int p[2];
    assert_int_equal(pipe(p), 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, p[1], 1);
    posix_spawn_file_actions_addclose(&fa, p[0]);
    char *argv[] = {(char *)bin, "serve",        "--listen", "127.0.0.1:0",
                    "--config",  (char *)config, NULL};
    assert_int_equal(posix_spawn(&s->pid, bin, &fa, NULL, argv, environ), 0);
    running = s->pid;
    posix_spawn_file_actions_destroy(&fa);
    close(p[1]);
    s->out = fdopen(p[0], "r");
    assert_non_null(s->out);
    s->port = 0;
}

/* The exit status of the serve process after SIGTERM (or of its own exit). */
static int serve_stop(struct serve *s, bool term)
{
    int st = 0;
    if (term) {
        kill(s->pid, SIGTERM);
    }
    assert_int_equal(waitpid(s->pid, &st, 0), s->pid);
    running = 0;
    fclose(s->out);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void test_serve_is_not_dumpable(void **state)
{
    (void)state;
    char *dir = bpt_test_tmpdir(), cfg[512], line[512], path[64];
    snprintf(cfg, sizeof(cfg), "%s/config.json", dir);
    static const char config[] =
        "{\"key_exchange\":{\"max_sessions\":1000000,\"max_sessions_per_client\":4,"
        "\"first_use_secs\":20,\"max_connections\":64,\"max_connections_per_client\":8,"
        "\"request_deadline_secs\":5,\"secret_store\":\"first_writer\"}}";
    bpt_test_write_file(cfg, config, sizeof(config) - 1);
    struct serve s;
    serve_start(&s, cfg);
    /* the first line says it listens: by then the process is protected */
    assert_non_null(fgets(line, sizeof(line), s.out));
    if (sscanf(line, "serve: listening on http://127.0.0.1:%u", &s.port) != 1) {
        fail_msg("unexpected first line: %s", line);
    }
    snprintf(path, sizeof(path), "/proc/%d/limits", (int)s.pid);
    char *limits = read_proc(path);
    const char *core = strstr(limits, "Max core file size");
    assert_non_null(core);
    unsigned long soft = 9, hard = 9;
    if (sscanf(core, "Max core file size %lu %lu", &soft, &hard) != 2 || soft != 0 || hard != 0) {
        fail_msg("core limit of bpt serve: %.60s", core);
    }
    free(limits);
    assert_int_equal(serve_stop(&s, true), 0);
    bpt_test_rmtree(dir);
    free(dir);
}

static void test_serve_refuses_bad_limits(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "{\"key_exchange\":{\"max_connections\":0}}",
        "{\"key_exchange\":{\"request_deadline_secs\":0}}",
        "{\"key_exchange\":{\"secret_store\":\"last_writer\"}}",
        "{\"key_exchange\":{\"authorized_senders\":[{\"key_type\":\"ed25519\","
        "\"public_key\":\"00\"}]}}",
        "{\"key_exchange\":{\"max_body\":1}}",
    };
    char *dir = bpt_test_tmpdir(), cfg[512];
    snprintf(cfg, sizeof(cfg), "%s/config.json", dir);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        bpt_test_write_file(cfg, bad[i], strlen(bad[i]));
        struct serve s;
        serve_start(&s, cfg);
        char line[512];
        if (fgets(line, sizeof(line), s.out) != NULL) {
            fail_msg("case %zu: bpt serve started: %s", i, line);
        }
        int ex = serve_stop(&s, false);
        if (ex == 0) {
            fail_msg("case %zu: bpt serve exited 0 on a bad config", i);
        }
    }
    bpt_test_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_serve_is_not_dumpable, kill_running),
        cmocka_unit_test_teardown(test_serve_refuses_bad_limits, kill_running),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
