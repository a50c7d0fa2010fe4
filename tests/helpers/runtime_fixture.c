/* The real runc for the direct backend's tests (runtime_fixture.h). */
#include "helpers/runtime_fixture.h"

#include "helpers/sim_fixture.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

extern char **environ;

int bpt_runtime_fixture_run(char *out, size_t len, const char *const *argv)
{
    int p[2], status = 0, null_fd;
    size_t used = 0;
    pid_t pid;
    posix_spawn_file_actions_t fa;
    if (len) {
        out[0] = '\0';
    }
    if (pipe(p) != 0 || (null_fd = open("/dev/null", O_RDONLY)) < 0) {
        return -1;
    }
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, null_fd, 0);
    posix_spawn_file_actions_adddup2(&fa, p[1], 1);
    posix_spawn_file_actions_adddup2(&fa, p[1], 2);
    posix_spawn_file_actions_addclose(&fa, p[0]);
    int e = posix_spawn(&pid, argv[0], &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(p[1]);
    close(null_fd);
    if (e != 0) {
        close(p[0]);
        snprintf(out, len, "cannot run %s: %s", argv[0], strerror(e));
        return -1;
    }
    char buf[4096];
    ssize_t n;
    while ((n = read(p[0], buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR)) {
        if (n > 0 && used + 1 < len) {
            size_t k = (size_t)n < len - 1 - used ? (size_t)n : len - 1 - used;
            memcpy(out + used, buf, k);
            used += k;
            out[used] = '\0';
        }
    }
    close(p[0]);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static bool find_runc(char *out, size_t len)
{
    const char *const candidates[] = {"/usr/sbin/runc", "/usr/bin/runc", "/usr/local/sbin/runc",
                                      "/usr/local/bin/runc", NULL};
    for (size_t i = 0; candidates[i]; i++) {
        if (access(candidates[i], X_OK) == 0) {
            snprintf(out, len, "%s", candidates[i]);
            return true;
        }
    }
    return false;
}

/* runc's own default config, with our image and /bin/true: can runc run anything here? */
static void probe(struct bpt_runtime_fixture *f)
{
    char bundle[4300], cfg[4400], root[4300], id[64], out[800];
    snprintf(bundle, sizeof(bundle), "%s/probe", f->dir);
    snprintf(root, sizeof(root), "%s/probe-root", f->dir);
    snprintf(cfg, sizeof(cfg), "%s/config.json", bundle);
    snprintf(id, sizeof(id), "bpt-probe-%d", (int)getpid());
    mkdir(bundle, 0700);
    const char *spec[] = {f->runc, "spec", "--bundle", bundle, NULL};
    if (bpt_runtime_fixture_run(out, sizeof(out), spec) != 0) {
        snprintf(f->why, sizeof(f->why), "runc spec failed: %s", out);
        return;
    }
    json_t *c = json_load_file(cfg, 0, NULL);
    json_t *p = json_object_get(c, "process");
    json_object_set_new(p, "terminal", json_false());
    json_object_set_new(p, "args", json_pack("[s]", "/bin/true"));
    json_object_set_new(json_object_get(c, "root"), "path", json_string(f->image));
    if (c == NULL || json_dump_file(c, cfg, 0) != 0) {
        json_decref(c);
        snprintf(f->why, sizeof(f->why), "cannot write the probe's config.json");
        return;
    }
    json_decref(c);
    const char *run[] = {f->runc, "--root", root, "run", "--bundle", bundle, id, NULL};
    int st = bpt_runtime_fixture_run(out, sizeof(out), run);
    if (st != 0) {
        snprintf(f->why, sizeof(f->why), "runc cannot run a container here (exit %d): %.900s", st,
                 out);
        return;
    }
    f->usable = true;
}

static int init(struct bpt_runtime_fixture *f, const char *bpt, const char *sim_dir)
{
    const char *src = getenv("BPT_SOURCE_DIR");
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    char script[4200], out[8192];

    memset(f, 0, sizeof(*f));
    if (geteuid() != 0) {
        snprintf(f->why, sizeof(f->why), "not root: runc, device nodes and cgroups need root");
        return 0;
    }
    if (!find_runc(f->runc, sizeof(f->runc))) {
        snprintf(f->why, sizeof(f->why), "runc is not installed (scripts/install-deps.sh)");
        return 0;
    }
    if (src == NULL || bpt == NULL) {
        fprintf(stderr, "runtime fixture: BPT_SOURCE_DIR or the bpt binary is not set\n");
        return -1;
    }
    /* short: the workload's socket path (state/deployments/ID/host/kx.sock) must fit sun_path */
    size_t n = strlen(tmp) + 16;
    f->dir = malloc(n);
    snprintf(f->dir, n, "%s/bpt-rt.XXXXXX", tmp);
    if (mkdtemp(f->dir) == NULL) {
        fprintf(stderr, "runtime fixture: mkdtemp: %s\n", strerror(errno));
        return -1;
    }
    snprintf(f->image, sizeof(f->image), "%s/image", f->dir);
    snprintf(script, sizeof(script), "%s/scripts/build-test-image.sh", src);
    const char *build[] = {"/bin/bash", script, f->image, "--bpt", bpt, "--sim-dir", sim_dir, NULL};
    if (bpt_runtime_fixture_run(out, sizeof(out), build) != 0) {
        fprintf(stderr, "runtime fixture: building the image failed: %s\n", out);
        return -1;
    }
    probe(f);
    return 0;
}

/* Where containers must run (a CI runner known to allow them), not running them fails. */
static int required(const struct bpt_runtime_fixture *f)
{
    const char *req = getenv("BPT_REQUIRE_CONTAINERS");
    if (!f->usable && req != NULL && strcmp(req, "1") == 0) {
        fprintf(stderr, "runtime fixture: BPT_REQUIRE_CONTAINERS=1 but containers cannot run: %s\n",
                f->why);
        return -1;
    }
    return 0;
}

void bpt_runtime_fixture_remove_containers(const struct bpt_runtime_fixture *f,
                                           const char *state_dir)
{
    char out[4096], root[4400];
    if (!f->usable) {
        return;
    }
    snprintf(root, sizeof(root), "%s/runc", state_dir);
    const char *argv[] = {f->runc, "--root", root, "list", "-q", NULL};
    if (bpt_runtime_fixture_run(out, sizeof(out), argv) == 0) {
        char *save = NULL;
        for (char *id = strtok_r(out, "\n", &save); id; id = strtok_r(NULL, "\n", &save)) {
            const char *del[] = {f->runc, "--root", root, "delete", "--force", id, NULL};
            char o2[512];
            (void)bpt_runtime_fixture_run(o2, sizeof(o2), del);
        }
    }
}

void bpt_runtime_fixture_dispose(struct bpt_runtime_fixture *f)
{
    if (f->dir != NULL) {
        bpt_remove_tree(f->dir);
        free(f->dir);
    }
    memset(f, 0, sizeof(*f));
}

int bpt_runtime_fixture_init(struct bpt_runtime_fixture *f, const char *bpt, const char *sim_dir)
{
    int rc = init(f, bpt, sim_dir);
    return rc == 0 ? required(f) : rc;
}
