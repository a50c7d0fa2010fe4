/*
 * The bpt CLI as a long-running process in a test (bpt serve, bpt run): started with its stdout
 * on a pipe, its lines read as they come, signalled, and waited for. A test's teardown calls
 * bpt_test_proc_kill() so that a failed test leaves no process behind.
 */
#ifndef BPT_TEST_PROC_H
#define BPT_TEST_PROC_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

struct bpt_test_proc {
    pid_t pid; /* 0: not running */
    FILE *out; /* its stdout */
    char *err; /* its stderr goes to this file (malloc'd path) */
};

/** Start $BPT_BIN with @p argv (NULL-terminated, without argv[0]). Asserts on failure. */
void bpt_test_proc_start(struct bpt_test_proc *p, const char *const *argv);

/** Read stdout lines until one starts with @p prefix (copied into @p line); false at EOF. */
bool bpt_test_proc_line(struct bpt_test_proc *p, const char *prefix, char *line, size_t len);

/** Send @p sig (0: none) and wait: the exit status, or 128 + the signal that ended it. */
int bpt_test_proc_wait(struct bpt_test_proc *p, int sig);

/** Its stderr so far (malloc'd, NUL-terminated). */
char *bpt_test_proc_stderr(const struct bpt_test_proc *p);

/** SIGKILL and reap if still running; release everything. */
void bpt_test_proc_kill(struct bpt_test_proc *p);

#endif
