/* Child processes of the runtime: see proc.h. */
#include "runtime/proc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/err.h"
#include "core/util.h"

extern char **environ;

void bpt_proc_result_dispose(struct bpt_proc_result *r)
{
    if (r != NULL) {
        free(r->out);
        free(r->err);
        r->out = r->err = NULL;
    }
}

struct sink {
    int fd; /* the read end, -1 once at its end */
    char *buf;
    size_t len;
};

/* Read what is there; keep up to BPT_PROC_OUTPUT_MAX bytes. */
static void drain(struct sink *s)
{
    char tmp[4096];
    ssize_t n = read(s->fd, tmp, sizeof(tmp));
    if (n <= 0) {
        if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
            close(s->fd);
            s->fd = -1;
        }
        return;
    }
    size_t keep = (size_t)n;
    if (s->len + keep > BPT_PROC_OUTPUT_MAX) {
        keep = BPT_PROC_OUTPUT_MAX - s->len;
    }
    memcpy(s->buf + s->len, tmp, keep);
    s->len += keep;
    s->buf[s->len] = '\0';
}

int bpt_proc_run(struct bpt_proc_result *r, const char *const *argv, int out_fd, int err_fd,
                 long timeout_ms)
{
    int rc = BPT_ERROR, null_fd = -1, op[2] = {-1, -1}, ep[2] = {-1, -1}, status = 0;
    struct sink sinks[2] = {{-1, NULL, 0}, {-1, NULL, 0}};
    posix_spawn_file_actions_t fa;
    bool fa_init = false;
    pid_t pid = 0;

    memset(r, 0, sizeof(*r));
    /* posix_spawn reports a failed exec, but not everywhere (valgrind, some emulations): say
     * why a program cannot start before trying */
    if (access(argv[0], X_OK) != 0) {
        return bpt_err(BPT_EIO, "cannot run %s: %s", argv[0], strerror(errno));
    }
    for (int i = 0; i < 2; i++) {
        if ((sinks[i].buf = calloc(1, BPT_PROC_OUTPUT_MAX + 1)) == NULL) {
            rc = bpt_err_nomem("process output");
            goto out;
        }
    }
    if ((null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0 ||
        (out_fd < 0 && pipe2(op, O_CLOEXEC) != 0) || (err_fd < 0 && pipe2(ep, O_CLOEXEC) != 0) ||
        posix_spawn_file_actions_init(&fa) != 0) {
        rc = bpt_err(BPT_EIO, "%s: cannot set up its input and output: %s", argv[0],
                     strerror(errno));
        goto out;
    }
    fa_init = true;
    if (posix_spawn_file_actions_adddup2(&fa, null_fd, 0) != 0 ||
        posix_spawn_file_actions_adddup2(&fa, out_fd >= 0 ? out_fd : op[1], 1) != 0 ||
        posix_spawn_file_actions_adddup2(&fa, err_fd >= 0 ? err_fd : ep[1], 2) != 0 ||
        posix_spawn_file_actions_addclosefrom_np(&fa, 3) != 0) {
        rc = bpt_err(BPT_EIO, "%s: cannot set up its descriptors", argv[0]);
        goto out;
    }
    int e = posix_spawn(&pid, argv[0], &fa, NULL, (char *const *)argv, environ);
    if (e != 0) {
        pid = 0;
        rc = bpt_err(BPT_EIO, "cannot run %s: %s", argv[0], strerror(e));
        goto out;
    }
    if (op[1] >= 0) {
        close(op[1]);
        op[1] = -1;
        sinks[0].fd = op[0];
        op[0] = -1;
    }
    if (ep[1] >= 0) {
        close(ep[1]);
        ep[1] = -1;
        sinks[1].fd = ep[0];
        ep[0] = -1;
    }
    int64_t deadline = bpt_mono_ms() + timeout_ms;
    bool exited = false, killed = false;
    while (!exited) {
        struct pollfd p[2];
        nfds_t np = 0;
        for (int i = 0; i < 2; i++) {
            if (sinks[i].fd >= 0) {
                p[np].fd = sinks[i].fd;
                p[np].events = POLLIN;
                p[np].revents = 0;
                np++;
            }
        }
        int64_t left = deadline - bpt_mono_ms();
        if (left <= 0 && !killed) {
            kill(pid, SIGKILL);
            killed = true;
        }
        if (killed && left < -1000) {
            /* a descendant still holds a pipe: stop reading, reap the child */
            for (int i = 0; i < 2; i++) {
                if (sinks[i].fd >= 0) {
                    close(sinks[i].fd);
                    sinks[i].fd = -1;
                }
            }
            np = 0;
        }
        if (np > 0) {
            int wait = left <= 0 ? 50 : (left > 50 ? 50 : (int)left);
            if (poll(p, np, wait) > 0) {
                for (nfds_t k = 0; k < np; k++) {
                    if (p[k].revents != 0) {
                        drain(p[k].fd == sinks[0].fd ? &sinks[0] : &sinks[1]);
                    }
                }
            }
            continue; /* reap once the pipes have ended */
        }
        pid_t w = waitpid(pid, &status, left <= 0 || killed ? 0 : WNOHANG);
        if (w == pid) {
            exited = true;
        } else if (w < 0 && errno != EINTR) {
            rc = bpt_err(BPT_EIO, "%s: waitpid: %s", argv[0], strerror(errno));
            pid = 0;
            goto out;
        } else if (w == 0) {
            struct timespec ts = {0, 5 * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    pid = 0;
    r->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (killed) {
        rc = bpt_err(BPT_EIO, "%s did not finish within %ld ms: killed", argv[0], timeout_ms);
        goto out;
    }
    r->out = sinks[0].buf;
    r->err = sinks[1].buf;
    sinks[0].buf = sinks[1].buf = NULL;
    rc = 0;
out:
    if (pid > 0) {
        kill(pid, SIGKILL);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
    }
    for (int i = 0; i < 2; i++) {
        if (sinks[i].fd >= 0) {
            close(sinks[i].fd);
        }
        free(sinks[i].buf);
    }
    for (int i = 0; i < 2; i++) {
        if (op[i] >= 0) {
            close(op[i]);
        }
        if (ep[i] >= 0) {
            close(ep[i]);
        }
    }
    if (fa_init) {
        posix_spawn_file_actions_destroy(&fa);
    }
    if (null_fd >= 0) {
        close(null_fd);
    }
    return rc;
}

int bpt_proc_find(char *out, size_t len, const char *name)
{
    const char *path = getenv("PATH");
    if (path == NULL || *path == '\0') {
        path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    }
    for (const char *p = path; *p;) {
        size_t n = strcspn(p, ":");
        if (n > 0 && p[0] == '/') {
            int w = snprintf(out, len, "%.*s/%s", (int)n, p, name);
            struct stat st;
            if (w > 0 && (size_t)w < len && stat(out, &st) == 0 && S_ISREG(st.st_mode) &&
                access(out, X_OK) == 0) {
                return 0;
            }
        }
        p += n + (p[n] == ':');
    }
    return bpt_err(BPT_ENOTFOUND, "%s not found in $PATH", name);
}
