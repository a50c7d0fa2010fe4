/*
 * External job handlers (runner.h): one process per call, started with posix_spawn (an argv
 * array, never a shell), the body on stdin, the result from stdout, the last stderr line as the
 * error message, one deadline for the whole call, and secrets only as 0400 files on tmpfs that
 * exist for the length of the call.
 */
#include <blueprint-tee/runner.h>

#include "core/err.h"
#include "core/util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#define MAX_ARGS 64
#define DEFAULT_TIMEOUT_MS 30000L
#define DEFAULT_MAX_OUTPUT (1024u * 1024u)
#define STDERR_TAIL 4096

struct bpt_exec_handler {
    char *command; /* the copy argv points into */
    char *argv[MAX_ARGS + 1];
    long timeout_ms;
    size_t max_output;
    char **secrets;
    size_t n_secrets;
    char base_dir[PATH_MAX];
};

static bool secret_name_ok(const char *n)
{
    size_t len = n ? strlen(n) : 0;
    if (len == 0 || len > BPT_JOB_META_KEY_MAX || n[0] == '.') {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        char c = n[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-')) {
            return false;
        }
    }
    return true;
}

void bpt_exec_handler_free(bpt_exec_handler *h)
{
    if (!h) {
        return;
    }
    for (size_t i = 0; i < h->n_secrets; i++) {
        free(h->secrets[i]);
    }
    free(h->secrets);
    free(h->command);
    free(h);
}

int bpt_exec_handler_new(bpt_exec_handler **out, const bpt_exec_handler_opts *o)
{
    bpt_exec_handler *h = NULL;
    size_t argc = 0;
    int rc;

    if (!out) {
        return bpt_err(BPT_EINVAL, "exec handler: no out pointer");
    }
    *out = NULL;
    if (!o || o->version != BPT_EXEC_HANDLER_OPTS_VERSION) {
        return bpt_err(BPT_EINVAL, "exec handler: options must come from "
                                   "BPT_EXEC_HANDLER_OPTS_INIT");
    }
    if (!o->command || o->timeout_ms < 0 || o->timeout_ms > 3600000 ||
        o->max_output > BPT_JOB_BODY_MAX || o->n_secrets > BPT_JOB_META_MAX_ENTRIES ||
        (o->n_secrets && !o->secrets)) {
        return bpt_err(BPT_EINVAL, "exec handler: a command, timeout_ms 0..3600000, max_output "
                                   "up to 16 MiB and at most 64 secrets");
    }
    if (!(h = calloc(1, sizeof(*h))) || !(h->command = strdup(o->command))) {
        rc = bpt_err_nomem("exec handler");
        goto out;
    }
    for (char *save = NULL, *tok = strtok_r(h->command, " ", &save); tok;
         tok = strtok_r(NULL, " ", &save)) {
        if (argc == MAX_ARGS) {
            rc = bpt_err(BPT_EINVAL, "exec handler: more than %d arguments", MAX_ARGS);
            goto out;
        }
        h->argv[argc++] = tok;
    }
    if (argc == 0) {
        rc = bpt_err(BPT_EINVAL, "exec handler: the command is empty");
        goto out;
    }
    /* Checked now so that a typo stops the service at start, not its first call (and again
     * at each call: the file may go). */
    if (h->argv[0][0] != '/') {
        rc = bpt_err(BPT_EINVAL,
                     "exec handler: program '%.200s': an absolute path (no PATH search, no "
                     "working directory)",
                     h->argv[0]);
        goto out;
    }
    if (access(h->argv[0], X_OK) != 0) {
        rc = bpt_err(BPT_EINVAL, "exec handler: program %.200s cannot be run: %s", h->argv[0],
                     strerror(errno));
        goto out;
    }
    h->timeout_ms = o->timeout_ms ? o->timeout_ms : DEFAULT_TIMEOUT_MS;
    h->max_output = o->max_output ? o->max_output : DEFAULT_MAX_OUTPUT;
    snprintf(h->base_dir, sizeof(h->base_dir), "%s",
             o->secrets_base_dir ? o->secrets_base_dir : "/dev/shm");
    if (o->n_secrets && !(h->secrets = calloc(o->n_secrets, sizeof(char *)))) {
        rc = bpt_err_nomem("exec handler");
        goto out;
    }
    for (size_t i = 0; i < o->n_secrets; i++) {
        if (!secret_name_ok(o->secrets[i])) {
            rc = bpt_err(BPT_EINVAL,
                         "exec handler: secret name '%.64s' (1..128 bytes of A-Z a-z "
                         "0-9 . _ -, not starting with '.')",
                         o->secrets[i] ? o->secrets[i] : "(null)");
            goto out;
        }
        if (!(h->secrets[i] = strdup(o->secrets[i]))) {
            rc = bpt_err_nomem("exec handler");
            goto out;
        }
        h->n_secrets++;
    }
    *out = h;
    h = NULL;
    rc = 0;
out:
    bpt_exec_handler_free(h);
    return rc;
}

/* ---- the secrets directory ------------------------------------------------------------------ */

/* Overwrite then remove each file, then the directory. */
static void remove_secrets(const char *dir, char *const *names, size_t n)
{
    char path[PATH_MAX + 256];
    for (size_t i = 0; i < n; i++) {
        struct stat st;
        int fd;
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 && errno == EACCES && chmod(path, 0600) == 0) {
            fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
        }
        if (fd >= 0 && fstat(fd, &st) == 0) {
            static const uint8_t zeros[4096];
            for (off_t done = 0; done < st.st_size;) {
                size_t chunk = (size_t)(st.st_size - done) < sizeof(zeros)
                                   ? (size_t)(st.st_size - done)
                                   : sizeof(zeros);
                ssize_t w = write(fd, zeros, chunk);
                if (w <= 0) {
                    break;
                }
                done += w;
            }
        }
        if (fd >= 0) {
            close(fd);
        }
        unlink(path);
    }
    rmdir(dir);
}

/* A fresh 0700 directory on tmpfs with one 0400 file per secret. */
static int write_secrets(char dir[PATH_MAX], const bpt_exec_handler *h, const bpt_tee_context *tee,
                         size_t *written)
{
    struct statfs fs;
    char path[PATH_MAX + 256];
    bpt_secret *s = NULL;
    int rc = 0;

    *written = 0;
    if (snprintf(dir, PATH_MAX, "%s/bpt-job-XXXXXX", h->base_dir) >= PATH_MAX || !mkdtemp(dir)) {
        return bpt_err(BPT_EIO, "exec handler: cannot make a secrets directory under %.200s: %s",
                       h->base_dir, strerror(errno));
    }
    if (statfs(dir, &fs) != 0 || fs.f_type != TMPFS_MAGIC) {
        rmdir(dir);
        return bpt_err(BPT_EINVAL,
                       "exec handler: %.200s is not on tmpfs, a memory file system: secrets are "
                       "never written to a disk",
                       h->base_dir);
    }
    for (size_t i = 0; i < h->n_secrets; i++) {
        int fd;
        size_t off = 0, len;
        const uint8_t *p;
        BPT_CHECK(bpt_tee_context_secret(&s, tee, h->secrets[i]));
        snprintf(path, sizeof(path), "%s/%s", dir, h->secrets[i]);
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0400);
        if (fd < 0) {
            rc = bpt_err(BPT_EIO, "exec handler: secret file %s: %s", h->secrets[i],
                         strerror(errno));
            goto out;
        }
        (*written)++;
        p = bpt_secret_data(s);
        len = bpt_secret_len(s);
        while (off < len) {
            ssize_t w = write(fd, p + off, len - off);
            if (w <= 0 && errno != EINTR) {
                close(fd);
                rc = bpt_err(BPT_EIO, "exec handler: writing secret %s: %s", h->secrets[i],
                             strerror(errno));
                goto out;
            }
            off += w > 0 ? (size_t)w : 0;
        }
        close(fd);
        bpt_secret_free(s);
        s = NULL;
    }
out:
    bpt_secret_free(s);
    return rc;
}

/* ---- the process ------------------------------------------------------------------------------
 */

struct io {
    const uint8_t *in;
    size_t in_len, in_off;
    uint8_t *out;
    size_t out_len, out_cap, out_max;
    bool out_over;
    char err[STDERR_TAIL];
    size_t err_len;
};

static void keep_stderr(struct io *io, const char *p, size_t n)
{
    if (n >= sizeof(io->err)) {
        p += n - sizeof(io->err);
        n = sizeof(io->err);
    }
    if (io->err_len + n > sizeof(io->err)) {
        size_t drop = io->err_len + n - sizeof(io->err);
        memmove(io->err, io->err + drop, io->err_len - drop);
        io->err_len -= drop;
    }
    memcpy(io->err + io->err_len, p, n);
    io->err_len += n;
}

/* The last non-empty line of the program's error output, into @p out. */
static void last_line(const struct io *io, char *out, size_t len)
{
    size_t end = io->err_len, start;
    while (end > 0 && (io->err[end - 1] == '\n' || io->err[end - 1] == '\r')) {
        end--;
    }
    start = end;
    while (start > 0 && io->err[start - 1] != '\n') {
        start--;
    }
    snprintf(out, len, "%.*s", (int)(end - start), io->err + start);
}

static int add_out(struct io *io, const uint8_t *p, size_t n)
{
    if (io->out_len + n > io->out_max) {
        io->out_over = true;
        return -1;
    }
    if (io->out_len + n > io->out_cap) {
        size_t cap = io->out_cap ? io->out_cap : 4096;
        uint8_t *grown;
        while (cap < io->out_len + n) {
            cap *= 2;
        }
        if (!(grown = realloc(io->out, cap))) {
            return -1;
        }
        io->out = grown;
        io->out_cap = cap;
    }
    memcpy(io->out + io->out_len, p, n);
    io->out_len += n;
    return 0;
}

/*
 * Feed stdin, drain stdout and stderr until both close, within @p deadline. Returns 0, 1 on the
 * deadline, 2 when stdout went over its limit.
 */
static int pump(int in_fd, int out_fd, int err_fd, struct io *io, int64_t deadline)
{
    int fds[3] = {in_fd, out_fd, err_fd};
    uint8_t buf[16384];

    while (fds[1] >= 0 || fds[2] >= 0) {
        struct pollfd p[3];
        int n = 0, idx[3], r;
        int64_t left = deadline - bpt_mono_ms();
        if (left <= 0) {
            return 1;
        }
        for (int i = 0; i < 3; i++) {
            if (fds[i] >= 0) {
                p[n] = (struct pollfd){.fd = fds[i], .events = i == 0 ? POLLOUT : POLLIN};
                idx[n++] = i;
            }
        }
        r = poll(p, (nfds_t)n, left > 1000 ? 1000 : (int)left);
        if (r < 0 && errno != EINTR) {
            return 1;
        }
        for (int k = 0; r > 0 && k < n; k++) {
            int i = idx[k];
            if (!p[k].revents) {
                continue;
            }
            if (i == 0) {
                ssize_t w = io->in_off < io->in_len
                                ? send(fds[0], io->in + io->in_off, io->in_len - io->in_off,
                                       MSG_NOSIGNAL | MSG_DONTWAIT)
                                : 0;
                if (w > 0) {
                    io->in_off += (size_t)w;
                }
                if (io->in_off == io->in_len || (w < 0 && errno != EAGAIN && errno != EINTR)) {
                    close(fds[0]); /* all sent, or the program stopped reading: EOF either way */
                    fds[0] = -1;
                }
                continue;
            }
            ssize_t got = read(fds[i], buf, sizeof(buf));
            if (got > 0) {
                if (i == 1 && add_out(io, buf, (size_t)got) < 0) {
                    return 2;
                }
                if (i == 2) {
                    keep_stderr(io, (const char *)buf, (size_t)got);
                }
            } else if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
                close(fds[i]);
                fds[i] = -1;
            }
        }
    }
    if (fds[0] >= 0) {
        close(fds[0]);
    }
    return 0;
}

static void set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0) {
        fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    }
}

int bpt_exec_handler_run(const bpt_job_call *call, bpt_job_result *result,
                         const bpt_tee_context *tee, void *handler)
{
    const bpt_exec_handler *h = handler;
    char dir[PATH_MAX] = "", env_index[32], env_call[48], env_service[48];
    char env_secrets[PATH_MAX + 32], line[600];
    char *envp[8];
    int in_pair[2] = {-1, -1}, out_pipe[2] = {-1, -1}, err_pipe[2] = {-1, -1};
    int ne = 0, status = 0, pumped = 0, rc;
    int64_t deadline;
    size_t written = 0;
    struct io io = {0};
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    sigset_t all, none;
    pid_t pid = -1;
    bool fa_made = false, attr_made = false;

    if (!h || !call || !result) {
        return bpt_err(BPT_EINVAL, "exec handler: NULL argument");
    }
    io.in = bpt_job_call_body(call, &io.in_len);
    io.out_max = h->max_output;
    /* posix_spawn reports a failed exec, but not everywhere (valgrind, some emulations): say why
     * a program cannot start before trying. */
    if (access(h->argv[0], X_OK) != 0) {
        bpt_job_result_set_error(result, "exec_failed", "cannot start %.200s: %s", h->argv[0],
                                 strerror(errno));
        return 0;
    }
    if (h->n_secrets && (rc = write_secrets(dir, h, tee, &written)) < 0) {
        bpt_job_result_set_error(result, rc == BPT_ENOTFOUND ? "secret_missing" : "exec_failed",
                                 "%s", bpt_error_last());
        if (dir[0]) {
            remove_secrets(dir, h->secrets, written);
        }
        return 0;
    }
    snprintf(env_index, sizeof(env_index), "BPT_JOB_INDEX=%u", bpt_job_call_index(call));
    snprintf(env_call, sizeof(env_call), "BPT_CALL_ID=%llu",
             (unsigned long long)bpt_job_call_id(call));
    snprintf(env_service, sizeof(env_service), "BPT_SERVICE_ID=%llu",
             (unsigned long long)bpt_job_call_service_id(call));
    envp[ne++] = "PATH=/usr/local/bin:/usr/bin:/bin";
    envp[ne++] = "LANG=C";
    envp[ne++] = env_index;
    envp[ne++] = env_call;
    envp[ne++] = env_service;
    if (dir[0]) {
        snprintf(env_secrets, sizeof(env_secrets), "BPT_SECRETS_DIR=%s", dir);
        envp[ne++] = env_secrets;
    }
    envp[ne] = NULL;

    /* stdin is a socket so that a program that stops reading gives EPIPE, not SIGPIPE. */
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in_pair) != 0 ||
        pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0 ||
        posix_spawn_file_actions_init(&fa) != 0) {
        bpt_job_result_set_error(result, "exec_failed", "pipes: %s", strerror(errno));
        goto out;
    }
    fa_made = true;
    if (posix_spawnattr_init(&attr) != 0) {
        bpt_job_result_set_error(result, "exec_failed", "spawn attributes");
        goto out;
    }
    attr_made = true;
    sigfillset(&all);
    sigemptyset(&none);
    if (posix_spawn_file_actions_adddup2(&fa, in_pair[1], 0) != 0 ||
        posix_spawn_file_actions_adddup2(&fa, out_pipe[1], 1) != 0 ||
        posix_spawn_file_actions_adddup2(&fa, err_pipe[1], 2) != 0 ||
        posix_spawn_file_actions_addclosefrom_np(&fa, 3) != 0 ||
        posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF |
                                            POSIX_SPAWN_SETSIGMASK) != 0 ||
        posix_spawnattr_setpgroup(&attr, 0) != 0 || posix_spawnattr_setsigdefault(&attr, &all) ||
        posix_spawnattr_setsigmask(&attr, &none) != 0) {
        bpt_job_result_set_error(result, "exec_failed", "spawn set-up");
        goto out;
    }
    rc = posix_spawn(&pid, h->argv[0], &fa, &attr, h->argv, envp);
    if (rc != 0) {
        pid = -1;
        bpt_job_result_set_error(result, "exec_failed", "cannot start %.200s: %s", h->argv[0],
                                 strerror(rc));
        goto out;
    }
    close(in_pair[1]);
    close(out_pipe[1]);
    close(err_pipe[1]);
    in_pair[1] = out_pipe[1] = err_pipe[1] = -1;
    set_nonblock(out_pipe[0]);
    set_nonblock(err_pipe[0]);
    deadline = bpt_mono_ms() + h->timeout_ms;
    pumped = pump(in_pair[0], out_pipe[0], err_pipe[0], &io, deadline);
    in_pair[0] = out_pipe[0] = err_pipe[0] = -1; /* pump closed them */
    /* Wait for the program to exit (without reaping it yet, so its process group id stays
     * its own), still within the deadline. */
    while (pumped == 0) {
        siginfo_t si = {0};
        if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == pid) {
            break;
        }
        if (bpt_mono_ms() >= deadline) {
            pumped = 1;
            break;
        }
        poll(NULL, 0, 5);
    }
    /* Nothing the program started outlives the call: its whole group goes, then it is reaped. */
    kill(-pid, SIGKILL);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (pumped == 1) {
        bpt_job_result_set_error(result, "job_timeout", "%.200s did not finish within %ld ms",
                                 h->argv[0], h->timeout_ms);
    } else if (pumped == 2) {
        bpt_job_result_set_error(result, "output_too_large",
                                 "%.200s wrote more than %zu bytes of output", h->argv[0],
                                 h->max_output);
    } else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        if (bpt_job_result_set_body(result, io.out, io.out_len) < 0) {
            bpt_job_result_set_error(result, "internal", "%s", bpt_error_last());
        }
    } else {
        last_line(&io, line, sizeof(line));
        if (WIFSIGNALED(status)) {
            bpt_job_result_set_error(result, "job_failed", "killed by signal %d%s%s",
                                     WTERMSIG(status), line[0] ? ": " : "", line);
        } else {
            bpt_job_result_set_error(result, "job_failed", "exit %d%s%s", WEXITSTATUS(status),
                                     line[0] ? ": " : "", line);
        }
    }
out:
    for (int i = 0; i < 2; i++) {
        if (in_pair[i] >= 0) {
            close(in_pair[i]);
        }
        if (out_pipe[i] >= 0) {
            close(out_pipe[i]);
        }
        if (err_pipe[i] >= 0) {
            close(err_pipe[i]);
        }
    }
    if (fa_made) {
        posix_spawn_file_actions_destroy(&fa);
    }
    if (attr_made) {
        posix_spawnattr_destroy(&attr);
    }
    if (dir[0]) {
        remove_secrets(dir, h->secrets, written);
    }
    OPENSSL_cleanse(io.err, sizeof(io.err));
    free(io.out);
    return 0;
}
