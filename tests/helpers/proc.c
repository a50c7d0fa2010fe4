/* Long-running CLI processes in tests (proc.h). */
#include "helpers/proc.h"
#include "helpers/test.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

void bpt_test_proc_start(struct bpt_test_proc *p, const char *const *argv)
{
    const char *bin = getenv("BPT_BIN");
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    char *args[64];
    size_t n = 0;
    int fds[2], efd;
    posix_spawn_file_actions_t fa;

    memset(p, 0, sizeof(*p));
    assert_non_null(bin);
    args[n++] = (char *)bin;
    for (; argv[n - 1] && n < 63; n++) {
        args[n] = (char *)argv[n - 1];
    }
    args[n] = NULL;
    p->err = malloc(strlen(tmp) + 32);
    assert_non_null(p->err);
    sprintf(p->err, "%s/bpt-proc-XXXXXX", tmp);
    assert_true((efd = mkstemp(p->err)) >= 0);
    assert_int_equal(pipe(fds), 0);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_adddup2(&fa, efd, 2);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    assert_int_equal(posix_spawn(&p->pid, bin, &fa, NULL, args, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    close(efd);
    p->out = fdopen(fds[0], "r");
    assert_non_null(p->out);
}

bool bpt_test_proc_line(struct bpt_test_proc *p, const char *prefix, char *line, size_t len)
{
    while (fgets(line, (int)len, p->out)) {
        if (strncmp(line, prefix, strlen(prefix)) == 0) {
            return true;
        }
    }
    return false;
}

int bpt_test_proc_wait(struct bpt_test_proc *p, int sig)
{
    int st = 0;
    if (p->pid <= 0) {
        return -1;
    }
    if (sig) {
        kill(p->pid, sig);
    }
    if (waitpid(p->pid, &st, 0) != p->pid) {
        return -1;
    }
    p->pid = 0;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

char *bpt_test_proc_stderr(const struct bpt_test_proc *p)
{
    size_t n = 0;
    char *s = p->err ? (char *)bpt_test_read_file(p->err, &n) : NULL;
    return s ? s : strdup("");
}

void bpt_test_proc_kill(struct bpt_test_proc *p)
{
    if (p->pid > 0) {
        kill(p->pid, SIGKILL);
        waitpid(p->pid, NULL, 0);
        p->pid = 0;
    }
    if (p->out) {
        fclose(p->out);
        p->out = NULL;
    }
    if (p->err) {
        unlink(p->err);
        free(p->err);
        p->err = NULL;
    }
}
