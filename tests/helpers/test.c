#include "helpers/test.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

bool bpt_test_data_path(char *out, size_t out_len, const char *rel)
{
    const char *dir = getenv("BPT_TESTDATA");
    struct stat st;
    if (!dir || !*dir || stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        return false;
    }
    snprintf(out, out_len, "%s/%s", dir, rel);
    return stat(out, &st) == 0;
}

uint8_t *bpt_test_read_file(const char *path, size_t *len_out)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    long n;
    if (!f) {
        return NULL;
    }
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
        buf = malloc((size_t)n + 1);
        if (buf && fread(buf, 1, (size_t)n, f) == (size_t)n) {
            buf[n] = 0;
            *len_out = (size_t)n;
        } else {
            free(buf);
            buf = NULL;
        }
    }
    fclose(f);
    return buf;
}

uint8_t *bpt_test_data_read(const char *rel, size_t *len_out)
{
    char p[4096];
    if (!bpt_test_data_path(p, sizeof(p), rel)) {
        return NULL;
    }
    return bpt_test_read_file(p, len_out);
}

char *bpt_test_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    char tmpl[4096];
    snprintf(tmpl, sizeof(tmpl), "%s/bpt-test-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tmpl)) {
        fail_msg("mkdtemp: %s", strerror(errno));
    }
    return strdup(tmpl);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void bpt_test_rmtree(const char *path)
{
    if (path) {
        nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    }
}

static void mkparents(const char *path)
{
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = 0;
            mkdir(tmp, 0755);
            *p = '/';
        }
    }
}

void bpt_test_write_file(const char *path, const void *p, size_t len)
{
    FILE *f;
    mkparents(path);
    f = fopen(path, "wb");
    if (!f) {
        fail_msg("cannot write %s: %s", path, strerror(errno));
    }
    if (len && fwrite(p, 1, len, f) != len) {
        fclose(f);
        fail_msg("short write to %s", path);
    }
    fclose(f);
}

/* Read what is left on @p fd into @p b (poll said it is readable); false at its end. */
static bool drain(int fd, bpt_buf *b)
{
    char chunk[4096];
    ssize_t r;
    do {
        r = read(fd, chunk, sizeof(chunk));
    } while (r < 0 && errno == EINTR);
    if (r <= 0) {
        return false;
    }
    if (bpt_buf_append(b, chunk, (size_t)r) != 0) {
        fail_msg("CLI output too large");
    }
    return true;
}

static void take(char **out, bpt_buf *b)
{
    if (out) {
        uint8_t *s;
        if (bpt_buf_detach(&s, NULL, b) != 0) {
            fail_msg("out of memory");
        }
        *out = (char *)s;
    }
    bpt_buf_dispose(b);
}

int bpt_test_run_cli_err(char **out_stdout, char **out_stderr, const char *const *argv)
{
    const char *bin = getenv("BPT_BIN");
    const char *args[64];
    int outp[2], errp[2], status = -1;
    size_t n = 0;
    pid_t pid;
    posix_spawn_file_actions_t fa;
    bpt_buf out = BPT_BUF_INIT(16 * 1024 * 1024), err = BPT_BUF_INIT(16 * 1024 * 1024);

    if (!bin) {
        fail_msg("BPT_BIN is not set");
    }
    args[n++] = bin;
    for (size_t i = 0; argv[i] && n < 63; i++) {
        args[n++] = argv[i];
    }
    args[n] = NULL;
    if (pipe(outp) != 0 || pipe(errp) != 0) {
        fail_msg("pipe failed");
    }
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, outp[1], STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&fa, errp[1], STDERR_FILENO);
    posix_spawn_file_actions_addclose(&fa, outp[0]);
    posix_spawn_file_actions_addclose(&fa, errp[0]);
    if (posix_spawn(&pid, bin, &fa, NULL, (char *const *)args, environ) != 0) {
        fail_msg("cannot run %s", bin);
    }
    posix_spawn_file_actions_destroy(&fa);
    close(outp[1]);
    close(errp[1]);
    struct pollfd fds[2] = {{.fd = outp[0], .events = POLLIN}, {.fd = errp[0], .events = POLLIN}};
    while (fds[0].fd >= 0 || fds[1].fd >= 0) {
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR) {
                continue;
            }
            fail_msg("poll failed");
        }
        for (int i = 0; i < 2; i++) {
            if (fds[i].fd >= 0 && fds[i].revents && !drain(fds[i].fd, i == 0 ? &out : &err)) {
                close(fds[i].fd);
                fds[i].fd = -1;
            }
        }
    }
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    take(out_stdout, &out);
    if (out_stderr) {
        take(out_stderr, &err);
    } else {
        /* not captured by the caller: shown, as it was when it went to the test's stderr */
        if (err.len) {
            fwrite(err.data, 1, err.len, stderr);
        }
        bpt_buf_dispose(&err);
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

char *bpt_test_url_encode(const char *s)
{
    char *out = malloc(strlen(s) * 3 + 1), *p = out;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
            *p++ = (char)c;
        } else {
            p += snprintf(p, 4, "%%%02X", c);
        }
    }
    *p = '\0';
    return out;
}

uint8_t *bpt_test_hex_bytes(const char *hex, size_t *len_out)
{
    size_t n = strlen(hex) / 2;
    uint8_t *b = malloc(n ? n : 1);
    for (size_t i = 0; i < n; i++) {
        unsigned v = 0;
        sscanf(hex + 2 * i, "%2x", &v);
        b[i] = (uint8_t)v;
    }
    *len_out = n;
    return b;
}

int bpt_test_run_cli(char **out_stdout, const char *const *argv)
{
    return bpt_test_run_cli_err(out_stdout, NULL, argv);
}
