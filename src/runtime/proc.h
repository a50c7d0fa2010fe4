/*
 * Child processes of the runtime (runc, crun, umoci): posix_spawn with an argv array (no shell,
 * no PATH search: the binary is a path), stdin from /dev/null, no inherited descriptors but
 * 0-2, one deadline for the whole run (then SIGKILL). stdout and stderr are captured (bounded)
 * or go to a file descriptor the caller gives (runc create: the container keeps them).
 */
#ifndef BPT_RUNTIME_PROC_H
#define BPT_RUNTIME_PROC_H

#include <blueprint-tee/common.h>

#include <stddef.h>

/** Captured output kept at most (the rest is read and dropped). */
#define BPT_PROC_OUTPUT_MAX (1024u * 1024u)

struct bpt_proc_result {
    int status; /* exit status, or 128 + the signal that ended it */
    char *out;  /* stdout, NUL-terminated (malloc'd; "" when it went to a descriptor) */
    char *err;  /* stderr, likewise */
};

void bpt_proc_result_dispose(struct bpt_proc_result *r);

/**
 * Run @p argv (argv[0] an absolute path) to its end. @p out_fd / @p err_fd: -1 to capture, else
 * the descriptor the child gets as stdout / stderr.
 * @return 0 (whatever the exit status: r->status says); BPT_EIO (cannot start it, or it was
 *         killed at the deadline, @p timeout_ms); BPT_ENOMEM.
 */
BPT_MUST_USE int bpt_proc_run(struct bpt_proc_result *r, const char *const *argv, int out_fd,
                              int err_fd, long timeout_ms);

/** The first executable file named @p name in $PATH, copied into @p out. BPT_ENOTFOUND if none. */
BPT_MUST_USE int bpt_proc_find(char *out, size_t len, const char *name);

#endif
