/*
 * The direct backend: the workload runs on this host under a real OCI runtime (runc; crun is
 * accepted), one container per deployment, named bpt-<id>, in a runtime root of the state
 * directory's own (state_dir/runc), so `runc list` there is exactly what this store may own.
 *
 * deploy: the image (a root file system directory used in place, read-only; or an OCI image
 * layout unpacked with umoci into the deployment's directory), the host's TEE devices and
 * configfs-tsm, the hardened config.json (oci.c) in dir/bundle, the host directory given to
 * the workload's user; then `runc create` (the workload's stdout and stderr go to
 * dir/workload.log, runc's own log to dir/runc.log) and `runc start`. A failure removes the
 * container again. stop: SIGTERM, SIGKILL after the stop timeout, `runc delete`. destroy:
 * `runc delete --force`. attestation and public_key reach the workload's key-exchange plane on
 * dir/host/kx.sock (the container's /run/bpt/kx.sock).
 */
#include "runtime/runtime_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "core/err.h"
#include "core/json.h"
#include "core/util.h"
#include "runtime/oci.h"
#include "runtime/proc.h"

#define RUNTIME_TIMEOUT_MS 60000L
#define UNPACK_TIMEOUT_MS 300000L
#define KILL_WAIT_MS 5000L
#define MAX_IMAGE_ARGS BPT_DEPLOY_MAX_ARGS
#define MAX_IMAGE_ENV 128

struct direct {
    char runtime[PATH_MAX]; /* "" when none was found */
    char root[PATH_MAX];    /* the OCI runtime's state root */
    char host_root[PATH_MAX];
    const bpt_verifier *verifier;
    unsigned stop_ms, ready_ms;
    bool sysfs_has_configfs;
};

static int direct_init(void **state, const bpt_backend_env *env, void *userdata)
{
    struct direct *st = calloc(1, sizeof(*st));
    struct stat sb;
    (void)userdata;
    if (st == NULL) {
        return bpt_err_nomem("direct backend");
    }
    if (env->oci_runtime != NULL) {
        snprintf(st->runtime, sizeof(st->runtime), "%s", env->oci_runtime);
    } else if (bpt_proc_find(st->runtime, sizeof(st->runtime), "runc") < 0 &&
               bpt_proc_find(st->runtime, sizeof(st->runtime), "crun") < 0) {
        /* sudo and cron often leave the sbin directories out of PATH */
        const char *const fallback[] = {"/usr/sbin/runc", "/usr/local/sbin/runc", "/usr/bin/crun",
                                        NULL};
        st->runtime[0] = '\0';
        for (size_t i = 0; fallback[i]; i++) {
            if (access(fallback[i], X_OK) == 0) {
                snprintf(st->runtime, sizeof(st->runtime), "%s", fallback[i]);
                break;
            }
        }
    }
    int n = snprintf(st->root, sizeof(st->root), "%s/runc", env->state_dir);
    snprintf(st->host_root, sizeof(st->host_root), "%s", env->host_root);
    if (n < 0 || (size_t)n >= sizeof(st->root)) {
        free(st);
        return bpt_err(BPT_EINVAL, "direct: state directory path too long");
    }
    st->verifier = env->verifier;
    st->stop_ms = env->stop_timeout_ms;
    st->ready_ms = env->ready_timeout_ms;
    /* the container's sysfs is this kernel's: does it have configfs's mount point? */
    st->sysfs_has_configfs = stat("/sys/kernel/config", &sb) == 0 && S_ISDIR(sb.st_mode);
    *state = st;
    return 0;
}

static void direct_cleanup(void *state)
{
    free(state);
}

static int need_runtime(const struct direct *st)
{
    if (st->runtime[0] == '\0') {
        return bpt_err(BPT_ENOTFOUND, "direct: no OCI runtime: install runc (Debian: apt install "
                                      "runc) or crun, or name one");
    }
    return 0;
}

/* Run the OCI runtime with its root and @p args (NULL-terminated). */
static int run_rt(struct bpt_proc_result *r, const struct direct *st, const char *const *args,
                  int out_fd, int err_fd)
{
    const char *argv[24];
    size_t n = 0;
    argv[n++] = st->runtime;
    argv[n++] = "--root";
    argv[n++] = st->root;
    for (size_t i = 0; args[i] != NULL && n < 23; i++) {
        argv[n++] = args[i];
    }
    argv[n] = NULL;
    return bpt_proc_run(r, argv, out_fd, err_fd, RUNTIME_TIMEOUT_MS);
}

/* The last line of @p text (trimmed), for a message; "" when none. */
static void last_line(char *out, size_t len, const char *text)
{
    size_t n = text ? strlen(text) : 0;
    while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == ' ' || text[n - 1] == '\r')) {
        n--;
    }
    size_t start = n;
    while (start > 0 && text[start - 1] != '\n') {
        start--;
    }
    char raw[512];
    snprintf(raw, sizeof(raw), "%.*s", (int)(n - start), n ? text + start : "");
    bpt_escape_text(out, len, raw);
}

/* The message of the last error runc logged (JSON lines), or "" . */
static void runc_log_error(char *out, size_t len, const char *log_path)
{
    bpt_buf b = BPT_BUF_INIT(BPT_PROC_OUTPUT_MAX);
    out[0] = '\0';
    if (bpt_file_read(&b, log_path) < 0 || b.len == 0) {
        bpt_buf_dispose(&b);
        return;
    }
    char *text = (char *)b.data;
    for (char *line = text, *nl; line && *line; line = nl ? nl + 1 : NULL) {
        nl = strchr(line, '\n');
        if (nl) {
            *nl = '\0';
        }
        json_t *j = json_loads(line, 0, NULL);
        const char *lvl = json_string_value(json_object_get(j, "level"));
        const char *msg = json_string_value(json_object_get(j, "msg"));
        if (lvl && msg && (strcmp(lvl, "error") == 0 || strcmp(lvl, "fatal") == 0)) {
            char raw[512];
            snprintf(raw, sizeof(raw), "%s", msg);
            bpt_escape_text(out, len, raw);
        }
        json_decref(j);
    }
    bpt_buf_dispose(&b);
}

static int rt_failed(const struct bpt_proc_result *r, const char *what, const char *log_path)
{
    char msg[600] = "";
    if (log_path != NULL) {
        runc_log_error(msg, sizeof(msg), log_path);
    }
    if (msg[0] == '\0') {
        last_line(msg, sizeof(msg), r->err);
    }
    return bpt_err(BPT_EIO, "direct: %s exited %d: %s%s", what, r->status,
                   msg[0] ? msg : "(no message)",
                   geteuid() != 0 ? " (the direct backend runs containers as root only)" : "");
}

static bpt_backend_state state_of(const char *status)
{
    if (status == NULL) {
        return BPT_BACKEND_ABSENT;
    }
    if (strcmp(status, "created") == 0) {
        return BPT_BACKEND_CREATED;
    }
    if (strcmp(status, "stopped") == 0) {
        return BPT_BACKEND_EXITED;
    }
    return BPT_BACKEND_RUNNING; /* running, paused, creating */
}

/* Every container of the root: (id without "bpt-", state) to @p fn. */
static int direct_list(void *state, bpt_backend_list_fn fn, void *ud)
{
    struct direct *st = state;
    struct bpt_proc_result r;
    static const char *const args[] = {"list", "--format", "json", NULL};
    json_t *j = NULL, *e;
    size_t i;
    int rc = BPT_ERROR;

    BPT_CHECK(need_runtime(st));
    BPT_CHECK(run_rt(&r, st, args, -1, -1));
    if (r.status != 0) {
        rc = rt_failed(&r, "list", NULL);
        bpt_proc_result_dispose(&r);
        goto out;
    }
    rc = bpt_json_parse(&j, r.out, strlen(r.out), "runc list");
    bpt_proc_result_dispose(&r);
    BPT_CHECK(rc);
    if (json_is_null(j)) {
        rc = 0;
        goto out;
    }
    if (!json_is_array(j)) {
        rc = bpt_err(BPT_EIO, "direct: runc list did not answer a list");
        goto out;
    }
    json_array_foreach(j, i, e)
    {
        const char *id = json_string_value(json_object_get(e, "id"));
        if (id != NULL && strncmp(id, "bpt-", 4) == 0 &&
            fn(id + 4, state_of(json_string_value(json_object_get(e, "status"))), ud) != 0) {
            break;
        }
    }
    rc = 0;
out:
    json_decref(j);
    return rc;
}

/* One container's state (`runc state`): absent when the runtime does not know it. */
static int container_state(bpt_backend_state *out, const struct direct *st, const char *cid)
{
    struct bpt_proc_result r;
    const char *args[] = {"state", cid, NULL};
    json_t *j = NULL;
    int rc = BPT_ERROR;

    BPT_CHECK(need_runtime(st));
    BPT_CHECK(run_rt(&r, st, args, -1, -1));
    if (r.status != 0) {
        if (strstr(r.err, "does not exist") != NULL || strstr(r.err, "not exist") != NULL) {
            *out = BPT_BACKEND_ABSENT;
            rc = 0;
        } else {
            rc = rt_failed(&r, "state", NULL);
        }
        bpt_proc_result_dispose(&r);
        goto out;
    }
    rc = bpt_json_parse(&j, r.out, strlen(r.out), "runc state");
    bpt_proc_result_dispose(&r);
    BPT_CHECK(rc);
    *out = state_of(json_string_value(json_object_get(j, "status")));
    rc = 0;
out:
    json_decref(j);
    return rc;
}

static int direct_status(bpt_backend_state *out, void *state, const bpt_backend_deployment *d)
{
    char cid[32];
    snprintf(cid, sizeof(cid), "bpt-%s", d->id);
    return container_state(out, state, cid);
}

/* `delete --force`: gone whatever it was doing; absent is fine. */
static int delete_container(const struct direct *st, const char *cid)
{
    struct bpt_proc_result r;
    const char *args[] = {"delete", "--force", cid, NULL};
    int rc = run_rt(&r, st, args, -1, -1);
    if (rc == 0 && r.status != 0 && strstr(r.err, "not exist") == NULL) {
        rc = rt_failed(&r, "delete", NULL);
    }
    bpt_proc_result_dispose(&r);
    return rc;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Wait until the container is no longer running; *gone true when it stopped in time. */
static int wait_exit(bool *gone, const struct direct *st, const char *cid, long timeout_ms)
{
    bpt_backend_state s = BPT_BACKEND_RUNNING;
    int rc;
    for (long waited = 0;; waited += 20) {
        if ((rc = container_state(&s, st, cid)) < 0) {
            return rc;
        }
        if (s != BPT_BACKEND_RUNNING || waited >= timeout_ms) {
            break;
        }
        sleep_ms(20);
    }
    *gone = s != BPT_BACKEND_RUNNING;
    return 0;
}

static int direct_stop(void *state, const bpt_backend_deployment *d)
{
    struct direct *st = state;
    char cid[32];
    bpt_backend_state s;
    bool gone = false;
    int rc = BPT_ERROR;
    snprintf(cid, sizeof(cid), "bpt-%s", d->id);
    BPT_CHECK(container_state(&s, st, cid));
    if (s == BPT_BACKEND_ABSENT) {
        return 0;
    }
    if (s == BPT_BACKEND_RUNNING) {
        const char *term[] = {"kill", cid, "TERM", NULL}, *kill9[] = {"kill", cid, "KILL", NULL};
        struct bpt_proc_result r;
        BPT_CHECK(run_rt(&r, st, term, -1, -1));
        bpt_proc_result_dispose(&r); /* it may have ended meanwhile: the state says */
        BPT_CHECK(wait_exit(&gone, st, cid, st->stop_ms));
        if (!gone) {
            BPT_CHECK(run_rt(&r, st, kill9, -1, -1));
            bpt_proc_result_dispose(&r);
            BPT_CHECK(wait_exit(&gone, st, cid, KILL_WAIT_MS));
        }
    }
    rc = delete_container(st, cid);
out:
    return rc;
}

static int direct_destroy(void *state, const bpt_backend_deployment *d)
{
    struct direct *st = state;
    char cid[32];
    int rc = need_runtime(st);
    if (rc < 0) {
        return rc;
    }
    snprintf(cid, sizeof(cid), "bpt-%s", d->id);
    return delete_container(st, cid);
}

/* ---- images --------------------------------------------------------------------------- */

/* @p a + @p b into @p out; BPT_EINVAL when it does not fit. */
static int join(char *out, size_t len, const char *a, const char *b)
{
    int n = snprintf(out, len, "%s%s", a, b);
    if (n < 0 || (size_t)n >= len) {
        return bpt_err(BPT_EINVAL, "direct: path %s%s is too long", a, b);
    }
    return 0;
}

struct image {
    char rootfs[PATH_MAX];
    json_t *config; /* an OCI image's runtime config (umoci's config.json), or NULL */
};

/* The one tag of an OCI layout's index.json, else "latest". */
static void default_tag(char *out, size_t len, const char *layout)
{
    char path[PATH_MAX];
    snprintf(out, len, "latest");
    if (join(path, sizeof(path), layout, "/index.json") < 0) {
        return;
    }
    json_t *idx = json_load_file(path, JSON_REJECT_DUPLICATES, NULL);
    json_t *m = json_object_get(idx, "manifests");
    if (json_is_array(m) && json_array_size(m) == 1) {
        const char *ref =
            json_string_value(json_object_get(json_object_get(json_array_get(m, 0), "annotations"),
                                              "org.opencontainers.image.ref.name"));
        if (ref != NULL && strlen(ref) < len) {
            snprintf(out, len, "%s", ref);
        }
    }
    json_decref(idx);
}

static bool is_dir(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static int resolve_image(struct image *img, const struct direct *st,
                         const bpt_backend_deployment *d)
{
    const char *spec_image = bpt_deploy_spec_image(d->spec);
    char path[PATH_MAX], tag[256] = "", marker[PATH_MAX], unpack[PATH_MAX], cfg[PATH_MAX];
    int rc = BPT_ERROR;

    (void)st;
    memset(img, 0, sizeof(*img));
    BPT_CHECK(join(path, sizeof(path), spec_image, ""));
    if (!is_dir(path)) {
        char *colon = strrchr(path, ':');
        if (colon != NULL && strchr(colon, '/') == NULL) {
            snprintf(tag, sizeof(tag), "%s", colon + 1);
            *colon = '\0';
        }
    }
    if (!is_dir(path)) {
        return bpt_err(BPT_EINVAL,
                       "direct: image %s is not a directory (a root file system or "
                       "an OCI image layout)",
                       path);
    }
    BPT_CHECK(join(marker, sizeof(marker), path, "/oci-layout"));
    if (access(marker, F_OK) != 0) {
        if (tag[0] != '\0') {
            return bpt_err(BPT_EINVAL, "direct: image %s is a root file system: it has no tag '%s'",
                           path, tag);
        }
        if (realpath(path, img->rootfs) == NULL) {
            return bpt_err(BPT_EIO, "direct: image %s: %s", path, strerror(errno));
        }
        return 0;
    }
    /* an OCI image layout: unpacked once into the deployment's directory */
    if (tag[0] == '\0') {
        default_tag(tag, sizeof(tag), path);
    }
    BPT_CHECK(join(unpack, sizeof(unpack), d->dir, "/image"));
    BPT_CHECK(join(img->rootfs, sizeof(img->rootfs), unpack, "/rootfs"));
    BPT_CHECK(join(cfg, sizeof(cfg), unpack, "/config.json"));
    if (!is_dir(img->rootfs) || access(cfg, R_OK) != 0) {
        char umoci[PATH_MAX], ref[PATH_MAX + 300];
        struct bpt_proc_result r;
        if (bpt_proc_find(umoci, sizeof(umoci), "umoci") < 0) {
            return bpt_err(BPT_ENOTFOUND, "direct: umoci not found: it unpacks OCI image layouts "
                                          "(Debian: apt install umoci)");
        }
        BPT_CHECK(bpt_runtime_rmtree(unpack)); /* what an interrupted unpack left */
        snprintf(ref, sizeof(ref), "%s:%s", path, tag);
        const char *argv[] = {umoci, "unpack", "--image", ref, unpack, NULL};
        BPT_CHECK(bpt_proc_run(&r, argv, -1, -1, UNPACK_TIMEOUT_MS));
        if (r.status != 0) {
            char msg[600];
            last_line(msg, sizeof(msg), r.err);
            rc = bpt_err(BPT_EINVAL, "direct: umoci could not unpack %s: %s", ref, msg);
            bpt_proc_result_dispose(&r);
            goto out;
        }
        bpt_proc_result_dispose(&r);
    }
    img->config = json_load_file(cfg, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(img->config)) {
        json_decref(img->config);
        img->config = NULL;
        rc = bpt_err(BPT_EIO, "direct: %s is not the unpacked image's config", cfg);
        goto out;
    }
    rc = 0;
out:
    return rc;
}

/* The process's args: the spec's, else the image's; and the image's environment. */
static int process_of(const char **args, size_t *n_args, const char **env, size_t *n_env,
                      const bpt_deploy_spec *spec, const struct image *img)
{
    json_t *p = json_object_get(img->config, "process");
    json_t *a = json_object_get(p, "args"), *e = json_object_get(p, "env"), *v;
    size_t i;
    *n_args = *n_env = 0;
    json_array_foreach(e, i, v)
    {
        if (json_is_string(v) && *n_env < MAX_IMAGE_ENV) {
            env[(*n_env)++] = json_string_value(v);
        }
    }
    for (i = 0; i < bpt_deploy_spec_arg_count(spec); i++) {
        args[(*n_args)++] = bpt_deploy_spec_arg(spec, i);
    }
    if (*n_args == 0) {
        json_array_foreach(a, i, v)
        {
            if (json_is_string(v) && *n_args < MAX_IMAGE_ARGS) {
                args[(*n_args)++] = json_string_value(v);
            }
        }
    }
    if (*n_args == 0) {
        return bpt_err(BPT_EINVAL, "direct: spec '%s' has no args and its image no command",
                       bpt_deploy_spec_name(spec));
    }
    return 0;
}

static int direct_deploy(void *state, const bpt_backend_deployment *d)
{
    struct direct *st = state;
    struct image img;
    struct bpt_oci_device devs[BPT_DEPLOY_MAX_DEVICES];
    const char *args[MAX_IMAGE_ARGS], *env[MAX_IMAGE_ENV];
    size_t n_devs = 0, n_args = 0, n_env = 0;
    char bundle[PATH_MAX], path[PATH_MAX], tsm[PATH_MAX], cid[32], runc_log[PATH_MAX],
        pid_file[PATH_MAX];
    json_t *config = NULL;
    char *text = NULL;
    int rc = BPT_ERROR, log_fd = -1;
    bool created = false;
    struct bpt_proc_result r = {0, NULL, NULL};

    memset(&img, 0, sizeof(img));
    snprintf(cid, sizeof(cid), "bpt-%s", d->id);
    BPT_CHECK(need_runtime(st));
    BPT_CHECK(resolve_image(&img, st, d));
    BPT_CHECK(process_of(args, &n_args, env, &n_env, d->spec, &img));
    BPT_CHECK(bpt_oci_devices(devs, &n_devs, BPT_DEPLOY_MAX_DEVICES, d->spec, st->host_root));
    bpt_oci_tsm_dir(tsm, sizeof(tsm), st->host_root);
    struct bpt_oci_input in = {.spec = d->spec,
                               .id = d->id,
                               .rootfs = img.rootfs,
                               .host_dir = d->host_dir,
                               .args = args,
                               .n_args = n_args,
                               .image_env = env,
                               .n_image_env = n_env,
                               .devices = devs,
                               .n_devices = n_devs,
                               .tsm_dir = tsm[0] ? tsm : NULL,
                               .sysfs_has_configfs = st->sysfs_has_configfs};
    BPT_CHECK(bpt_oci_config(&config, &in));
    BPT_CHECK(bpt_json_dump(&text, config));
    BPT_CHECK(join(bundle, sizeof(bundle), d->dir, "/bundle"));
    BPT_CHECK(join(path, sizeof(path), bundle, "/config.json"));
    BPT_CHECK(join(runc_log, sizeof(runc_log), d->dir, "/runc.log"));
    BPT_CHECK(join(pid_file, sizeof(pid_file), d->dir, "/pid"));
    BPT_CHECK(bpt_runtime_mkdir(bundle, 0700));
    BPT_CHECK(bpt_file_write(path, text, strlen(text), true));
    /* the workload's /run/bpt: its own, nobody else's (the directory above is root's 0700) */
    if (chown(d->host_dir, bpt_deploy_spec_uid(d->spec), bpt_deploy_spec_gid(d->spec)) != 0 ||
        chmod(d->host_dir, 0700) != 0) {
        rc = bpt_err(BPT_EIO, "direct: cannot give %s to uid %u: %s", d->host_dir,
                     (unsigned)bpt_deploy_spec_uid(d->spec), strerror(errno));
        goto out;
    }
    BPT_CHECK(delete_container(st, cid)); /* what a crashed deploy may have left */
    (void)unlink(runc_log);
    BPT_CHECK(join(path, sizeof(path), d->dir, "/workload.log"));
    log_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (log_fd < 0) {
        rc = bpt_err(BPT_EIO, "direct: cannot open %s: %s", path, strerror(errno));
        goto out;
    }
    const char *create[] = {"--log", runc_log,     "--log-format", "json", "create", "--bundle",
                            bundle,  "--pid-file", pid_file,       cid,    NULL};
    BPT_CHECK(run_rt(&r, st, create, log_fd, log_fd));
    created = true;
    if (r.status != 0) {
        rc = rt_failed(&r, "create", runc_log);
        goto out;
    }
    bpt_proc_result_dispose(&r);
    const char *start[] = {"--log", runc_log, "--log-format", "json", "start", cid, NULL};
    BPT_CHECK(run_rt(&r, st, start, -1, -1));
    if (r.status != 0) {
        rc = rt_failed(&r, "start", runc_log);
        goto out;
    }
    rc = 0;
out:
    bpt_proc_result_dispose(&r);
    if (rc < 0 && created) {
        int keep = rc;
        char msg[BPT_ERROR_MSG_MAX];
        snprintf(msg, sizeof(msg), "%s", bpt_error_last());
        (void)delete_container(st, cid); /* nothing of a failed deploy keeps running */
        rc = bpt_err(keep, "%s", msg);
    }
    if (log_fd >= 0) {
        close(log_fd);
    }
    bpt_free(text);
    json_decref(config);
    json_decref(img.config);
    return rc;
}

/* ---- the workload's plane --------------------------------------------------------------- */

static int direct_attestation(bpt_verified **out, void *state, const bpt_backend_deployment *d,
                              const uint8_t *nonce, size_t nonce_len)
{
    struct direct *st = state; /* its verifier: runtime.c refused already without one */
    int rc = bpt_runtime_wait_socket(d->kx_socket, (long)st->ready_ms);
    if (rc < 0) {
        return rc;
    }
    return bpt_runtime_attest_workload(out, d->kx_socket, st->verifier, nonce, nonce_len);
}

static int direct_public_key(bpt_kx_client_key *out, void *state, const bpt_backend_deployment *d)
{
    struct direct *st = state;
    bpt_kx_client_options co = BPT_KX_CLIENT_OPTIONS_INIT;
    int rc = bpt_runtime_wait_socket(d->kx_socket, (long)st->ready_ms);
    if (rc < 0) {
        return rc;
    }
    char via[BPT_RUNTIME_VIA_MAX];
    int fd = -1;
    if ((rc = bpt_runtime_socket_open(&fd, via, d->kx_socket)) < 0) {
        return rc;
    }
    co.unix_socket = via;
    rc = bpt_kx_client_session_key(out, "http://localhost", st->verifier, &co);
    close(fd);
    return rc;
}

static const bpt_runtime_backend DIRECT = {
    .version = BPT_RUNTIME_BACKEND_VERSION,
    .name = "direct",
    .init = direct_init,
    .cleanup = direct_cleanup,
    .deploy = direct_deploy,
    .attestation = direct_attestation,
    .cached_attestation = NULL,
    .public_key = direct_public_key,
    .status = direct_status,
    .stop = direct_stop,
    .destroy = direct_destroy,
    .list = direct_list,
};

const bpt_runtime_backend *bpt_runtime_direct_backend(void)
{
    return &DIRECT;
}
