/*
 * The registry (runtime.h): backends by name over one deployment store. It owns the store, the
 * deployment directories and the cache of verified attestations; backends (sys/backend.h) only
 * make workloads run, stop and go away, and say what runs.
 *
 * Deploy is idempotent by name and spec hash: the store's claim (one IMMEDIATE transaction)
 * either makes a new row owned by this process (state creating) or returns the live row of that
 * name, which is then returned (running), waited for (another live process is deploying it),
 * settled (its deploying process died), or started again in place (stopped, failed: a compare
 * and set takes it over). A live row of that name with another spec is a refusal.
 *
 * Reconciling compares every row with what its backend runs (listed first, rows read second: a
 * container that exists when the list is taken had its row inserted before, so it is never
 * mistaken for an orphan) and settles each one (apply()).
 *
 * Threads: one mutex over the store connection and the cache; no backend call is made under
 * it.
 */
#include "runtime/runtime_internal.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/rand.h>

#include <blueprint-tee/verify.h>

#include "core/err.h"
#include "core/json.h"
#include "core/logging.h"
#include "core/util.h"
#include "runtime/store.h"

#define MAX_BACKENDS 16
#define CACHE_MAX 32
#define DEFAULT_TIMEOUT_MS 10000u
/** Sockets bpt_runtime_kx_socket() keeps open for the paths it returned. */
#define HELD_MAX 64
/** How long deploy waits for another process deploying the same spec. */
#define DEPLOY_WAIT_MS 120000L

struct entry {
    bpt_runtime_backend vt;
    void *state;
    bool builtin; /* one of the library's: a plugin of the same name takes its place */
};

struct cached {
    char id[17];
    bpt_report *report;
    int64_t at;
};

struct bpt_runtime {
    pthread_mutex_t mu;
    bpt_store *store;
    char state_dir[PATH_MAX], deployments_dir[PATH_MAX], host_root[PATH_MAX], oci_runtime[PATH_MAX];
    char default_backend[32];
    bpt_secret_injection injection;
    bpt_backend_env env;
    unsigned busy_ms;
    struct entry backends[MAX_BACKENDS];
    size_t n_backends;
    struct cached cache[CACHE_MAX];
    size_t cache_next;
    struct bpt_store_owner me;
    int held[HELD_MAX]; /* sockets named by bpt_runtime_kx_socket()'s paths */
    size_t n_held;
};

struct bpt_deployment {
    struct bpt_store_row row;
    char *kx_socket;
};

/* ---- names ------------------------------------------------------------------------------- */

const char *bpt_deploy_state_name(bpt_deploy_state s)
{
    static const char *const names[] = {"creating", "running", "stopped", "failed", "destroyed"};
    return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "unknown";
}

const char *bpt_runtime_backend_for_config(const bpt_config *c)
{
    if (c == NULL || bpt_config_mode(c) != BPT_MODE_REMOTE) {
        return "direct";
    }
    size_t n = 0;
    const bpt_provider *p = bpt_config_allowed_providers(c, &n);
    for (size_t i = 0; p != NULL && i < n; i++) {
        switch (p[i]) {
        case BPT_PROVIDER_AWS_NITRO:
            return "aws_nitro";
        case BPT_PROVIDER_AZURE_SNP:
            return "azure_cvm";
        case BPT_PROVIDER_GCP_CONFIDENTIAL:
            return "gcp_confidential_space";
        default:
            break;
        }
    }
    return NULL;
}

int bpt_runtime_default_state_dir(char *out, size_t len)
{
    const char *xdg = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
    int n;
    if (geteuid() == 0) {
        n = snprintf(out, len, "/var/lib/bpt");
    } else if (xdg != NULL && xdg[0] == '/') {
        n = snprintf(out, len, "%s/bpt", xdg);
    } else if (home != NULL && home[0] == '/') {
        n = snprintf(out, len, "%s/.local/state/bpt", home);
    } else {
        return bpt_err(BPT_ENOTFOUND, "no state directory: set XDG_STATE_HOME or HOME, or name "
                                      "one");
    }
    if (n < 0 || (size_t)n >= len) {
        return bpt_err(BPT_ELIMIT, "state directory path longer than %zu bytes", len);
    }
    return 0;
}

static bool backend_name_ok(const char *n)
{
    size_t len = n ? strlen(n) : 0;
    if (len == 0 || len > 31) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if (!((n[i] >= 'a' && n[i] <= 'z') || (n[i] >= '0' && n[i] <= '9') || n[i] == '_')) {
            return false;
        }
    }
    return true;
}

/* ---- deployments (public snapshots) ------------------------------------------------------ */

void bpt_deployment_free(bpt_deployment *d)
{
    if (d != NULL) {
        bpt_store_row_dispose(&d->row);
        free(d->kx_socket);
        free(d);
    }
}

void bpt_deployment_list_free(bpt_deployment **list, size_t n)
{
    for (size_t i = 0; list != NULL && i < n; i++) {
        bpt_deployment_free(list[i]);
    }
    free(list);
}

/* A snapshot taking @p row's strings (the row is left empty). */
static int make_deployment(bpt_deployment **out, struct bpt_store_row *row)
{
    bpt_deployment *d = calloc(1, sizeof(*d));
    size_t n = strlen(row->host_dir) + sizeof("/kx.sock");
    if (d == NULL || (d->kx_socket = malloc(n)) == NULL) {
        free(d);
        return bpt_err_nomem("deployment");
    }
    snprintf(d->kx_socket, n, "%s/kx.sock", row->host_dir);
    d->row = *row;
    memset(row, 0, sizeof(*row));
    *out = d;
    return 0;
}

const char *bpt_deployment_id(const bpt_deployment *d)
{
    return d->row.id;
}

const char *bpt_deployment_name(const bpt_deployment *d)
{
    return d->row.name;
}

const char *bpt_deployment_backend(const bpt_deployment *d)
{
    return d->row.backend;
}

const char *bpt_deployment_spec_hash(const bpt_deployment *d)
{
    return d->row.spec_hash;
}

bpt_deploy_state bpt_deployment_state(const bpt_deployment *d)
{
    return d->row.state;
}

const char *bpt_deployment_host_dir(const bpt_deployment *d)
{
    return d->row.host_dir;
}

const char *bpt_deployment_kx_socket(const bpt_deployment *d)
{
    return d->kx_socket;
}

const char *bpt_deployment_detail(const bpt_deployment *d)
{
    return d->row.detail;
}

const char *bpt_deployment_attestation_digest(const bpt_deployment *d)
{
    return d->row.attestation_digest;
}

int64_t bpt_deployment_created_at(const bpt_deployment *d)
{
    return d->row.created_at;
}

int64_t bpt_deployment_updated_at(const bpt_deployment *d)
{
    return d->row.updated_at;
}

int64_t bpt_deployment_attested_at(const bpt_deployment *d)
{
    return d->row.attested_at;
}

int bpt_deployment_to_json(char **out, const bpt_deployment *d)
{
    const struct bpt_store_row *r = &d->row;
    json_t *o = json_pack(
        "{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:I,s:o,s:I}", "id", r->id, "name", r->name,
        "backend", r->backend, "state", bpt_deploy_state_name(r->state), "spec_hash", r->spec_hash,
        "host_dir", r->host_dir, "kx_socket", d->kx_socket, "detail", r->detail, "created_at",
        (json_int_t)r->created_at, "updated_at", (json_int_t)r->updated_at, "attestation_digest",
        r->attestation_digest ? json_string(r->attestation_digest) : json_null(), "attested_at",
        (json_int_t)r->attested_at);
    *out = NULL;
    if (o == NULL) {
        return bpt_err_nomem("deployment json");
    }
    int rc = bpt_json_dump(out, o);
    json_decref(o);
    return rc;
}

/* ---- backends ---------------------------------------------------------------------------- */

static struct entry *find_backend(bpt_runtime *rt, const char *name)
{
    for (size_t i = 0; name != NULL && i < rt->n_backends; i++) {
        if (strcmp(rt->backends[i].vt.name, name) == 0) {
            return &rt->backends[i];
        }
    }
    return NULL;
}

static int add_backend(bpt_runtime *rt, const bpt_runtime_backend *be, void *userdata, bool builtin)
{
    if (be == NULL || be->version < 1 || be->version > BPT_RUNTIME_BACKEND_VERSION) {
        return bpt_err(BPT_EINVAL,
                       "runtime: backend interface version %u, this library "
                       "implements 1..%d",
                       be ? be->version : 0, BPT_RUNTIME_BACKEND_VERSION);
    }
    if (!backend_name_ok(be->name)) {
        return bpt_err(BPT_EINVAL, "runtime: a backend name is 1..31 bytes of [a-z0-9_]");
    }
    if (!be->deploy || !be->attestation || !be->public_key || !be->status || !be->stop ||
        !be->destroy || !be->list) {
        return bpt_err(BPT_EINVAL, "runtime: backend '%s' lacks a required function", be->name);
    }
    struct entry *e = find_backend(rt, be->name);
    if (e != NULL && !e->builtin) {
        return bpt_err(BPT_EINVAL, "runtime: backend '%s' is registered already", be->name);
    }
    if (e == NULL && rt->n_backends == MAX_BACKENDS) {
        return bpt_err(BPT_ELIMIT, "runtime: at most %d backends", MAX_BACKENDS);
    }
    void *state = NULL;
    if (be->init != NULL) {
        int rc = be->init(&state, &rt->env, userdata);
        if (rc < 0) {
            return bpt_err_prefix(rc, "runtime: backend '%s'", be->name);
        }
    }
    if (e != NULL) { /* a built-in's place taken */
        if (e->vt.cleanup != NULL) {
            e->vt.cleanup(e->state);
        }
    } else {
        e = &rt->backends[rt->n_backends++];
    }
    if (be->version == 1) { /* no plane_url: its struct ends before it */
        memset(&e->vt, 0, sizeof(e->vt));
        memcpy(&e->vt, be, offsetof(bpt_runtime_backend, plane_url));
    } else {
        e->vt = *be;
    }
    e->state = state;
    e->builtin = builtin;
    return 0;
}

int bpt_runtime_add_backend(bpt_runtime *rt, const bpt_runtime_backend *be, void *userdata)
{
    if (rt == NULL) {
        return bpt_err(BPT_EINVAL, "runtime: NULL argument");
    }
    return add_backend(rt, be, userdata, false);
}

const char *bpt_runtime_default_backend(const bpt_runtime *rt)
{
    return rt->default_backend;
}

/* ---- the store under the lock -------------------------------------------------------------- */

static int64_t now_s(void)
{
    return (int64_t)time(NULL);
}

static int get_row(struct bpt_store_row *row, bpt_runtime *rt, const char *id)
{
    pthread_mutex_lock(&rt->mu);
    int rc = bpt_store_get(row, rt->store, id);
    pthread_mutex_unlock(&rt->mu);
    return rc;
}

/* Row @p r from its state (and owner) to @p to; *changed when it was still in that state. */
static int transition(bool *changed, bpt_runtime *rt, const struct bpt_store_row *r,
                      bpt_deploy_state to, const char *detail)
{
    bool dummy = false;
    pthread_mutex_lock(&rt->mu);
    int rc =
        bpt_store_transition(changed ? changed : &dummy, rt->store, r->id, r->state, r->owner_pid,
                             to, to == BPT_DEPLOY_CREATING ? &rt->me : NULL, detail, now_s());
    pthread_mutex_unlock(&rt->mu);
    return rc;
}

static void cache_drop(bpt_runtime *rt, const char *id)
{
    for (size_t i = 0; i < CACHE_MAX; i++) {
        if (rt->cache[i].report != NULL && strcmp(rt->cache[i].id, id) == 0) {
            bpt_report_free(rt->cache[i].report);
            rt->cache[i].report = NULL;
        }
    }
}

/* What the backend is given for row @p r (pointing into @p dir_buf and @p sock_buf). */
static int backend_view(bpt_backend_deployment *d, char *dir_buf, char *sock_buf, size_t len,
                        const bpt_runtime *rt, const struct bpt_store_row *r,
                        const bpt_deploy_spec *spec)
{
    int n1 = snprintf(dir_buf, len, "%s/%s", rt->deployments_dir, r->id);
    int n2 = snprintf(sock_buf, len, "%s/kx.sock", r->host_dir);
    if (n1 < 0 || (size_t)n1 >= len || n2 < 0 || (size_t)n2 >= len) {
        return bpt_err(BPT_EINVAL, "runtime: deployment path too long");
    }
    memset(d, 0, sizeof(*d));
    d->id = r->id;
    d->name = r->name;
    d->dir = dir_buf;
    d->host_dir = r->host_dir;
    d->kx_socket = sock_buf;
    d->spec = spec;
    return 0;
}

static bool owner_alive(const bpt_runtime *rt, const struct bpt_store_row *r)
{
    if (r->owner_pid == rt->me.pid && r->owner_start == rt->me.start) {
        return true;
    }
    return bpt_store_owner_alive(r->owner_pid, r->owner_start);
}

/* ---- settling a row with what its backend runs ------------------------------------------- */

/*
 * Make row @p r agree with @p bs, what its backend has of it (reconcile's rules, runtime.h).
 * Counts into @p st. A row being deployed by a live process is left alone.
 */
static int apply(bpt_runtime *rt, struct entry *e, const struct bpt_store_row *r,
                 bpt_backend_state bs, bpt_runtime_reconcile_stats *st)
{
    char dir[PATH_MAX], sock[PATH_MAX];
    bpt_backend_deployment d;
    bpt_deploy_state to = r->state;
    const char *detail = NULL;
    bool clean = false, changed = false;
    int rc;

    if (r->state == BPT_DEPLOY_CREATING && owner_alive(rt, r)) {
        return 0;
    }
    st->checked++;
    switch (r->state) {
    case BPT_DEPLOY_CREATING: /* its deploying process died */
        if (bs == BPT_BACKEND_RUNNING) {
            to = BPT_DEPLOY_RUNNING;
            detail = "its deploying bpt process died after starting it";
        } else {
            to = BPT_DEPLOY_FAILED;
            clean = bs != BPT_BACKEND_ABSENT;
            detail = bs == BPT_BACKEND_CREATED
                         ? "interrupted between create and start: removed; deploy it again"
                         : "its deploying bpt process died: deploy it again";
        }
        break;
    case BPT_DEPLOY_RUNNING:
        if (bs == BPT_BACKEND_EXITED) {
            to = BPT_DEPLOY_STOPPED;
            clean = true;
            detail = "the workload exited";
        } else if (bs != BPT_BACKEND_RUNNING) {
            to = BPT_DEPLOY_FAILED;
            clean = bs != BPT_BACKEND_ABSENT;
            detail = bs == BPT_BACKEND_ABSENT ? "its container is gone" : "found not started";
        }
        break;
    case BPT_DEPLOY_STOPPED:
    case BPT_DEPLOY_FAILED:
        if (bs == BPT_BACKEND_RUNNING) {
            to = BPT_DEPLOY_RUNNING;
            detail = "found running";
        } else {
            clean = bs != BPT_BACKEND_ABSENT; /* leftovers of an exited workload */
        }
        break;
    case BPT_DEPLOY_DESTROYED:
        clean = bs != BPT_BACKEND_ABSENT;
        break;
    }
    if (clean) {
        if ((rc = backend_view(&d, dir, sock, sizeof(dir), rt, r, NULL)) < 0 ||
            (rc = r->state == BPT_DEPLOY_DESTROYED ? e->vt.destroy(e->state, &d)
                                                   : e->vt.stop(e->state, &d)) < 0) {
            return bpt_err_prefix(rc, "reconcile %s", r->id);
        }
        if (r->state == BPT_DEPLOY_DESTROYED) {
            st->orphans++;
        } else {
            st->cleaned++;
        }
    }
    if (to != r->state) {
        if ((rc = transition(&changed, rt, r, to, detail)) < 0) {
            return rc;
        }
        if (changed) {
            st->updated++;
            BPT_LOG(BPT_LOG_INFO, "runtime", "reconciled id=%s %s -> %s (%s)", r->id,
                    bpt_deploy_state_name(r->state), bpt_deploy_state_name(to), detail);
        }
    }
    return 0;
}

/* One row with its backend's status now; counts into @p st (NULL: not counted). */
static int settle(bpt_runtime *rt, struct entry *e, const struct bpt_store_row *r,
                  bpt_runtime_reconcile_stats *st)
{
    char dir[PATH_MAX], sock[PATH_MAX];
    bpt_backend_deployment d;
    bpt_backend_state bs = BPT_BACKEND_ABSENT;
    bpt_runtime_reconcile_stats ignored = {0, 0, 0, 0};
    int rc;
    if (e == NULL || (r->state == BPT_DEPLOY_CREATING && owner_alive(rt, r))) {
        return 0;
    }
    if ((rc = backend_view(&d, dir, sock, sizeof(dir), rt, r, NULL)) < 0 ||
        (rc = e->vt.status(&bs, e->state, &d)) < 0) {
        return rc;
    }
    return apply(rt, e, r, bs, st ? st : &ignored);
}

/* Whether row @p r and what a listing said of it agree (nothing to do). */
static bool agrees(const bpt_runtime *rt, const struct bpt_store_row *r, bpt_backend_state bs)
{
    switch (r->state) {
    case BPT_DEPLOY_RUNNING:
        return bs == BPT_BACKEND_RUNNING;
    case BPT_DEPLOY_CREATING:
        return owner_alive(rt, r);
    default:
        return bs == BPT_BACKEND_ABSENT;
    }
}

struct listed {
    char id[17];
    bpt_backend_state state;
    size_t backend;
    bool matched;
};

struct list_ctx {
    struct listed *items;
    size_t n, cap;
    size_t backend;
    int rc;
};

static int collect(const char *id, bpt_backend_state state, void *ud)
{
    struct list_ctx *c = ud;
    if (strlen(id) != 16) {
        return 0; /* not one of ours */
    }
    if (c->n == c->cap) {
        size_t nc = c->cap ? c->cap * 2 : 16;
        struct listed *ni = realloc(c->items, nc * sizeof(*ni));
        if (ni == NULL) {
            c->rc = bpt_err_nomem("reconcile");
            return 1;
        }
        c->items = ni;
        c->cap = nc;
    }
    struct listed *l = &c->items[c->n++];
    memcpy(l->id, id, 17);
    l->state = state;
    l->backend = c->backend;
    l->matched = false;
    return 0;
}

int bpt_runtime_reconcile(bpt_runtime_reconcile_stats *out, bpt_runtime *rt)
{
    bpt_runtime_reconcile_stats st = {0, 0, 0, 0};
    struct list_ctx c = {NULL, 0, 0, 0, 0};
    bool listed[MAX_BACKENDS] = {false};
    struct bpt_store_row *rows = NULL;
    size_t n_rows = 0;
    int rc = BPT_ERROR;

    if (rt == NULL) {
        return bpt_err(BPT_EINVAL, "runtime: NULL argument");
    }
    /* 1. what runs, per backend (before the rows: see the top of this file) */
    for (size_t b = 0; b < rt->n_backends; b++) {
        struct entry *e = &rt->backends[b];
        c.backend = b;
        c.rc = 0;
        rc = e->vt.list(e->state, collect, &c);
        if (c.rc < 0) {
            rc = c.rc;
            goto out;
        }
        if (rc < 0) {
            /* a backend that cannot say (no runc here): its rows are left as they are */
            if (rc == BPT_ENOTFOUND) {
                BPT_LOG(BPT_LOG_DEBUG, "runtime", "not reconciling backend %s: %s", e->vt.name,
                        bpt_error_last());
            } else {
                BPT_LOG(BPT_LOG_WARN, "runtime", "not reconciling backend %s: %s", e->vt.name,
                        bpt_error_last());
            }
            continue;
        }
        listed[b] = true;
    }
    /* 2. the rows */
    pthread_mutex_lock(&rt->mu);
    rc = bpt_store_list(&rows, &n_rows, rt->store, true);
    pthread_mutex_unlock(&rt->mu);
    BPT_CHECK(rc);
    for (size_t i = 0; i < n_rows; i++) {
        struct entry *e = find_backend(rt, rows[i].backend);
        size_t b = e ? (size_t)(e - rt->backends) : 0;
        if (e == NULL || !listed[b]) {
            continue;
        }
        bpt_backend_state bs = BPT_BACKEND_ABSENT;
        for (size_t k = 0; k < c.n; k++) {
            if (c.items[k].backend == b && strcmp(c.items[k].id, rows[i].id) == 0) {
                bs = c.items[k].state;
                c.items[k].matched = true;
            }
        }
        if (agrees(rt, &rows[i], bs)) {
            st.checked++;
            continue;
        }
        /* the listing is older than the row (a deploy may have finished since): act on what
         * the backend says now */
        BPT_CHECK(settle(rt, e, &rows[i], &st));
    }
    /* 3. what runs that the store does not know */
    for (size_t k = 0; k < c.n; k++) {
        if (c.items[k].matched) {
            continue;
        }
        struct entry *e = &rt->backends[c.items[k].backend];
        bpt_backend_deployment d;
        memset(&d, 0, sizeof(d));
        d.id = c.items[k].id;
        BPT_LOG(BPT_LOG_WARN, "runtime", "removing container of unknown deployment id=%s", d.id);
        BPT_CHECK(e->vt.destroy(e->state, &d));
        st.orphans++;
    }
    rc = 0;
out:
    bpt_store_list_free(rows, n_rows);
    free(c.items);
    if (out != NULL) {
        *out = st;
    }
    return rc;
}

/* ---- open, free ---------------------------------------------------------------------------- */

/* mkdir -p with mode 0700 for what it creates. */
static int mkdir_p(const char *path)
{
    char tmp[PATH_MAX];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof(tmp)) {
        return bpt_err(BPT_EINVAL, "runtime: state directory path of %zu bytes", n);
    }
    memcpy(tmp, path, n + 1);
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, 0700) != 0 && errno != EEXIST) {
                return bpt_err(BPT_EIO, "cannot create %s: %s", tmp, strerror(errno));
            }
            *p = '/';
        }
    }
    if (mkdir(tmp, 0700) != 0 && errno != EEXIST) {
        return bpt_err(BPT_EIO, "cannot create %s: %s", tmp, strerror(errno));
    }
    struct stat sb;
    if (stat(tmp, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        return bpt_err(BPT_EIO, "%s is not a directory", tmp);
    }
    return 0;
}

int bpt_runtime_new(bpt_runtime **out, const bpt_runtime_options *opts)
{
    bpt_runtime_options defaults = BPT_RUNTIME_OPTIONS_INIT;
    bpt_runtime *rt = NULL;
    char db[PATH_MAX + 16];
    int rc = BPT_ERROR;

    if (out == NULL) {
        return bpt_err(BPT_EINVAL, "runtime: NULL argument");
    }
    *out = NULL;
    if (opts == NULL) {
        opts = &defaults;
    }
    if (opts->version != BPT_RUNTIME_OPTIONS_VERSION) {
        return bpt_err(BPT_EINVAL, "runtime: options version %u, want %d", opts->version,
                       BPT_RUNTIME_OPTIONS_VERSION);
    }
    if ((rt = calloc(1, sizeof(*rt))) == NULL) {
        return bpt_err_nomem("runtime");
    }
    pthread_mutex_init(&rt->mu, NULL);
    if (opts->state_dir != NULL) {
        if (strlen(opts->state_dir) + 32 >= sizeof(rt->state_dir) || opts->state_dir[0] == '\0') {
            rc = bpt_err(BPT_EINVAL, "runtime: state directory path of %zu bytes",
                         strlen(opts->state_dir));
            goto out;
        }
        snprintf(rt->state_dir, sizeof(rt->state_dir), "%s", opts->state_dir);
    } else {
        BPT_CHECK(bpt_runtime_default_state_dir(rt->state_dir, sizeof(rt->state_dir) - 32));
    }
    if (snprintf(rt->deployments_dir, sizeof(rt->deployments_dir), "%s/deployments",
                 rt->state_dir) >= (int)sizeof(rt->deployments_dir) ||
        snprintf(db, sizeof(db), "%s/state.db", rt->state_dir) >= (int)sizeof(db)) {
        rc = bpt_err(BPT_EINVAL, "runtime: state directory path too long");
        goto out;
    }
    snprintf(rt->host_root, sizeof(rt->host_root), "%s",
             opts->host_root != NULL ? opts->host_root : "/");
    /* the default backend: the caller's, $TEE_BACKEND, the config's, direct */
    const char *be = opts->backend, *env_be = getenv("TEE_BACKEND");
    if (be == NULL && env_be != NULL && env_be[0] != '\0') {
        be = env_be;
    }
    if (be == NULL && opts->config != NULL &&
        !(be = bpt_runtime_backend_for_config(opts->config))) {
        rc = bpt_err(BPT_EINVAL, "runtime: the config's mode is remote and its provider_selector "
                                 "names no provider with a cloud backend: set TEE_BACKEND "
                                 "(aws_nitro, azure_cvm, gcp_confidential_space)");
        goto out;
    }
    if (be == NULL) {
        be = "direct";
    }
    if (!backend_name_ok(be)) {
        rc = bpt_err(BPT_EINVAL, "runtime: backend name '%.40s' is not 1..31 bytes of [a-z0-9_]",
                     be);
        goto out;
    }
    snprintf(rt->default_backend, sizeof(rt->default_backend), "%s", be);
    rt->injection =
        opts->config != NULL ? bpt_config_secret_injection(opts->config) : BPT_SECRETS_SEALED_ONLY;
    rt->busy_ms = opts->busy_timeout_ms ? opts->busy_timeout_ms : DEFAULT_TIMEOUT_MS;
    rt->env.state_dir = rt->state_dir;
    rt->env.host_root = rt->host_root;
    if (opts->oci_runtime != NULL) {
        snprintf(rt->oci_runtime, sizeof(rt->oci_runtime), "%s", opts->oci_runtime);
        rt->env.oci_runtime = rt->oci_runtime;
    }
    rt->env.verifier = opts->verifier;
    rt->env.stop_timeout_ms = opts->stop_timeout_ms ? opts->stop_timeout_ms : DEFAULT_TIMEOUT_MS;
    rt->env.ready_timeout_ms = opts->ready_timeout_ms ? opts->ready_timeout_ms : DEFAULT_TIMEOUT_MS;
    rt->me.pid = (int64_t)getpid();
    BPT_CHECK(bpt_store_process_start(&rt->me.start, getpid()));
    BPT_CHECK(mkdir_p(rt->state_dir));
    BPT_CHECK(bpt_runtime_mkdir(rt->deployments_dir, 0700));
    BPT_CHECK(bpt_store_open(&rt->store, db, rt->busy_ms));
    BPT_CHECK(add_backend(rt, bpt_runtime_direct_backend(), NULL, true));
    BPT_CHECK(add_backend(rt, bpt_runtime_aws_nitro_backend(), NULL, true));
    BPT_CHECK(add_backend(rt, bpt_runtime_azure_cvm_backend(), NULL, true));
    BPT_CHECK(add_backend(rt, bpt_runtime_gcp_confidential_space_backend(), NULL, true));
    BPT_CHECK(bpt_runtime_reconcile(NULL, rt));
    *out = rt;
    rt = NULL;
    rc = 0;
out:
    bpt_runtime_free(rt);
    return rc;
}

void bpt_runtime_free(bpt_runtime *rt)
{
    if (rt == NULL) {
        return;
    }
    for (size_t i = 0; i < rt->n_backends; i++) {
        if (rt->backends[i].vt.cleanup != NULL) {
            rt->backends[i].vt.cleanup(rt->backends[i].state);
        }
    }
    for (size_t i = 0; i < CACHE_MAX; i++) {
        bpt_report_free(rt->cache[i].report);
    }
    for (size_t i = 0; i < rt->n_held; i++) {
        close(rt->held[i]);
    }
    bpt_store_close(rt->store);
    pthread_mutex_destroy(&rt->mu);
    free(rt);
}

/* ---- operations ---------------------------------------------------------------------------- */

/* The backend of row @p r, or an error naming it. */
static int backend_of(struct entry **out, bpt_runtime *rt, const struct bpt_store_row *r)
{
    *out = find_backend(rt, r->backend);
    if (*out == NULL) {
        return bpt_err(BPT_ENOTFOUND, "deployment %s: its backend '%s' is not registered here",
                       r->id, r->backend);
    }
    return 0;
}

/* Deploy row @p r (state creating, owned by this process) with @p e; record the outcome. */
static int run_deploy(bpt_runtime *rt, struct entry *e, const struct bpt_store_row *r,
                      const bpt_deploy_spec *spec)
{
    char dir[PATH_MAX], sock[PATH_MAX];
    bpt_backend_deployment d;
    struct bpt_store_row mine = *r;
    int rc;

    mine.owner_pid = rt->me.pid;
    mine.state = BPT_DEPLOY_CREATING;
    rc = backend_view(&d, dir, sock, sizeof(dir), rt, r, spec);
    if (rc == 0 && (rc = bpt_runtime_mkdir(dir, 0700)) == 0) {
        rc = bpt_runtime_mkdir(r->host_dir, 0700);
    }
    if (rc == 0) {
        rc = e->vt.deploy(e->state, &d);
    }
    if (rc == 0) {
        return transition(NULL, rt, &mine, BPT_DEPLOY_RUNNING, "");
    }
    char msg[BPT_ERROR_MSG_MAX];
    snprintf(msg, sizeof(msg), "%s", bpt_error_last());
    (void)transition(NULL, rt, &mine, BPT_DEPLOY_FAILED, msg);
    return bpt_err(rc, "%s", msg);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

int bpt_runtime_deploy(bpt_deployment **out, bpt_runtime *rt, const bpt_deploy_spec *spec,
                       const char *backend)
{
    struct bpt_store_row row;
    struct entry *e;
    const char *name = backend != NULL ? backend : (rt ? rt->default_backend : NULL);
    int rc = BPT_ERROR;

    memset(&row, 0, sizeof(row));
    if (out == NULL || rt == NULL || spec == NULL) {
        return bpt_err(BPT_EINVAL, "runtime: NULL argument");
    }
    *out = NULL;
    BPT_CHECK(bpt_deploy_spec_check_injection(spec, rt->injection));
    if ((e = find_backend(rt, name)) == NULL) {
        rc = bpt_err(BPT_ENOTFOUND,
                     "runtime: no backend '%.40s' (direct, aws_nitro, azure_cvm, "
                     "gcp_confidential_space, or one registered)",
                     name);
        goto out;
    }
    for (long waited = 0;;) {
        bool created = false, changed = false;
        bpt_store_row_dispose(&row);
        pthread_mutex_lock(&rt->mu);
        rc = bpt_store_claim(&row, &created, rt->store, bpt_deploy_spec_name(spec),
                             bpt_deploy_spec_hash(spec), name, rt->deployments_dir, &rt->me,
                             now_s());
        pthread_mutex_unlock(&rt->mu);
        BPT_CHECK(rc);
        if (created) {
            BPT_CHECK(run_deploy(rt, e, &row, spec));
            break;
        }
        if (strcmp(row.spec_hash, bpt_deploy_spec_hash(spec)) != 0 ||
            strcmp(row.backend, name) != 0) {
            rc = bpt_err(BPT_EEXISTS,
                         "deployment '%s' (id %s) exists with another spec (%.12s..., this one "
                         "%.12s...%s%s): destroy it first (bpt destroy %s); a deployment is never "
                         "recreated in place",
                         row.name, row.id, row.spec_hash, bpt_deploy_spec_hash(spec),
                         strcmp(row.backend, name) != 0 ? ", backend " : "",
                         strcmp(row.backend, name) != 0 ? row.backend : "", row.id);
            goto out;
        }
        if (row.state == BPT_DEPLOY_RUNNING) {
            struct bpt_store_row again;
            BPT_CHECK(settle(rt, e, &row, NULL));
            BPT_CHECK(get_row(&again, rt, row.id));
            bool running = again.state == BPT_DEPLOY_RUNNING;
            bpt_store_row_dispose(&row);
            row = again;
            if (running) {
                break; /* the same deployment */
            }
            continue;
        }
        if (row.state == BPT_DEPLOY_CREATING) {
            if (!owner_alive(rt, &row)) {
                BPT_CHECK(settle(rt, e, &row, NULL));
                continue;
            }
            if (waited >= DEPLOY_WAIT_MS) {
                rc = bpt_err(BPT_EBUSY,
                             "deployment '%s' (id %s) is being deployed by process "
                             "%lld",
                             row.name, row.id, (long long)row.owner_pid);
                goto out;
            }
            sleep_ms(50);
            waited += 50;
            continue;
        }
        /* stopped or failed: start it again in place, if nobody else is */
        BPT_CHECK(transition(&changed, rt, &row, BPT_DEPLOY_CREATING, "deploying again"));
        if (changed) {
            BPT_CHECK(run_deploy(rt, e, &row, spec));
            break;
        }
    }
    pthread_mutex_lock(&rt->mu);
    cache_drop(rt, row.id);
    pthread_mutex_unlock(&rt->mu);
    {
        char id[17];
        memcpy(id, row.id, sizeof(id));
        bpt_store_row_dispose(&row);
        BPT_CHECK(get_row(&row, rt, id));
    }
    BPT_CHECK(make_deployment(out, &row));
    rc = 0;
out:
    bpt_store_row_dispose(&row);
    return rc;
}

int bpt_runtime_status(bpt_deployment **out, bpt_runtime *rt, const char *id)
{
    struct bpt_store_row row;
    int rc = BPT_ERROR;
    memset(&row, 0, sizeof(row));
    if (out == NULL || rt == NULL || id == NULL) {
        return bpt_err(BPT_EINVAL, "runtime: NULL argument");
    }
    *out = NULL;
    BPT_CHECK(get_row(&row, rt, id));
    if (row.state != BPT_DEPLOY_DESTROYED) {
        char real_id[17];
        memcpy(real_id, row.id, sizeof(real_id));
        rc = settle(rt, find_backend(rt, row.backend), &row, NULL);
        if (rc == BPT_EBUSY) {
            goto out;
        }
        if (rc < 0) { /* the backend cannot say now: what the store knows */
            BPT_LOG(BPT_LOG_WARN, "runtime", "status of %s not checked with its backend: %s",
                    real_id, bpt_error_last());
        }
        bpt_store_row_dispose(&row);
        BPT_CHECK(get_row(&row, rt, real_id));
    }
    BPT_CHECK(make_deployment(out, &row));
    rc = 0;
out:
    bpt_store_row_dispose(&row);
    return rc;
}

int bpt_runtime_list(bpt_deployment ***out, size_t *n_out, bpt_runtime *rt, bool with_destroyed)
{
    struct bpt_store_row *rows = NULL;
    bpt_deployment **list = NULL;
    size_t n = 0;
    int rc = BPT_ERROR;
    if (out == NULL || n_out == NULL || rt == NULL) {
        return bpt_err(BPT_EINVAL, "runtime: NULL argument");
    }
    *out = NULL;
    *n_out = 0;
    pthread_mutex_lock(&rt->mu);
    rc = bpt_store_list(&rows, &n, rt->store, with_destroyed);
    pthread_mutex_unlock(&rt->mu);
    BPT_CHECK(rc);
    if (n > 0 && (list = calloc(n, sizeof(*list))) == NULL) {
        rc = bpt_err_nomem("runtime: list");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        BPT_CHECK(make_deployment(&list[i], &rows[i]));
    }
    *out = list;
    *n_out = n;
    list = NULL;
    rc = 0;
out:
    bpt_deployment_list_free(list, n);
    bpt_store_list_free(rows, n);
    return rc;
}

/* Row @p id, which must be running; its backend. */
static int running_row(struct bpt_store_row *row, struct entry **e, bpt_runtime *rt, const char *id)
{
    int rc = BPT_ERROR;
    BPT_CHECK(get_row(row, rt, id));
    BPT_CHECK(backend_of(e, rt, row));
    if (row->state != BPT_DEPLOY_RUNNING) {
        rc = bpt_err(BPT_EINVAL, "deployment %s is %s, not running", row->id,
                     bpt_deploy_state_name(row->state));
        goto out;
    }
    rc = 0;
out:
    if (rc < 0) {
        bpt_store_row_dispose(row);
    }
    return rc;
}

/*
 * The library's backends verify a workload's evidence with the runtime's verifier, and give a
 * key only once it verified: without one they are refused here, once, before any backend waits
 * for or reaches the workload. (A plugin backend decides for itself.)
 */
static int need_verifier(const bpt_runtime *rt, const struct entry *e, const char *what)
{
    if (e->builtin && rt->env.verifier == NULL) {
        return bpt_err(BPT_EINVAL,
                       "%s: the runtime has no verifier: %s (bpt_runtime_options.verifier)",
                       e->vt.name, what);
    }
    return 0;
}

int bpt_runtime_attestation(bpt_verified **out, bpt_runtime *rt, const char *id,
                            const uint8_t *nonce, size_t nonce_len)
{
    struct bpt_store_row row;
    struct entry *e = NULL;
    char dir[PATH_MAX], sock[PATH_MAX], digest[65];
    bpt_backend_deployment d;
    uint8_t fresh[32];
    char *json = NULL;
    bpt_report *copy = NULL;
    int rc = BPT_ERROR;

    memset(&row, 0, sizeof(row));
    if (out == NULL || rt == NULL || id == NULL) {
        return bpt_err(BPT_EINVAL, "runtime: NULL argument");
    }
    *out = NULL;
    if (nonce == NULL) { /* fresh for every attestation, whatever the backend does */
        if (RAND_bytes(fresh, sizeof(fresh)) != 1) {
            return bpt_err_ossl(BPT_ERROR, "runtime: nonce randomness");
        }
        nonce = fresh;
        nonce_len = sizeof(fresh);
    }
    if (nonce_len < BPT_KX_NONCE_MIN || nonce_len > BPT_KX_NONCE_MAX) {
        return bpt_err(BPT_EINVAL, "runtime: a nonce is %d..%d bytes, not %zu", BPT_KX_NONCE_MIN,
                       BPT_KX_NONCE_MAX, nonce_len);
    }
    BPT_CHECK(running_row(&row, &e, rt, id));
    BPT_CHECK(need_verifier(rt, e, "evidence is only given once it verified"));
    BPT_CHECK(backend_view(&d, dir, sock, sizeof(dir), rt, &row, NULL));
    rc = e->vt.attestation(out, e->state, &d, nonce, nonce_len);
    if (rc < 0) {
        bpt_err_prefix(rc, "deployment %s", row.id);
        goto out;
    }
    if (*out == NULL) {
        rc = bpt_err(BPT_ERROR, "deployment %s: backend %s returned no attestation", row.id,
                     row.backend);
        goto out;
    }
    const bpt_report *rep = bpt_verified_report(*out);
    bpt_report_evidence_digest(digest, rep);
    BPT_CHECK(bpt_report_to_json(&json, rep));
    BPT_CHECK(bpt_report_clone(&copy, rep));
    pthread_mutex_lock(&rt->mu);
    rc = bpt_store_set_attestation(rt->store, row.id, digest, json, now_s());
    if (rc == 0) {
        cache_drop(rt, row.id);
        struct cached *c = &rt->cache[rt->cache_next++ % CACHE_MAX];
        bpt_report_free(c->report);
        memcpy(c->id, row.id, sizeof(c->id));
        c->report = copy;
        c->at = bpt_verified_at(*out);
        copy = NULL;
    }
    pthread_mutex_unlock(&rt->mu);
    BPT_CHECK(rc);
    rc = 0;
out:
    if (rc < 0) {
        bpt_verified_free(*out);
        *out = NULL;
    }
    bpt_report_free(copy);
    bpt_free(json);
    bpt_store_row_dispose(&row);
    return rc;
}

int bpt_runtime_cached_attestation(bpt_report **out, int64_t *verified_at, bpt_runtime *rt,
                                   const char *id)
{
    struct bpt_store_row row;
    struct entry *e = NULL;
    char *json = NULL;
    int64_t at = 0;
    int rc = BPT_ERROR;

    memset(&row, 0, sizeof(row));
    if (out == NULL || rt == NULL || id == NULL) {
        return bpt_err(BPT_EINVAL, "runtime: NULL argument");
    }
    *out = NULL;
    BPT_CHECK(get_row(&row, rt, id));
    if ((e = find_backend(rt, row.backend)) != NULL && e->vt.cached_attestation != NULL) {
        char dir[PATH_MAX], sock[PATH_MAX];
        bpt_backend_deployment d;
        BPT_CHECK(backend_view(&d, dir, sock, sizeof(dir), rt, &row, NULL));
        rc = e->vt.cached_attestation(out, &at, e->state, &d);
        if (rc != BPT_ENOTFOUND) {
            BPT_CHECK(rc);
            goto done;
        }
    }
    pthread_mutex_lock(&rt->mu);
    rc = BPT_ENOTFOUND;
    for (size_t i = 0; i < CACHE_MAX; i++) {
        if (rt->cache[i].report != NULL && strcmp(rt->cache[i].id, row.id) == 0) {
            rc = bpt_report_clone(out, rt->cache[i].report);
            at = rt->cache[i].at;
            break;
        }
    }
    if (rc == BPT_ENOTFOUND) {
        rc = bpt_store_get_attestation(&json, &at, rt->store, row.id);
    }
    pthread_mutex_unlock(&rt->mu);
    BPT_CHECK(rc);
    if (json != NULL) {
        BPT_CHECK(bpt_report_from_json(out, json, strlen(json)));
    }
done:
    if (verified_at != NULL) {
        *verified_at = at;
    }
    rc = 0;
out:
    free(json);
    bpt_store_row_dispose(&row);
    return rc;
}

int bpt_runtime_public_key(bpt_kx_client_key *out, bpt_runtime *rt, const char *id)
{
    struct bpt_store_row row;
    struct entry *e = NULL;
    char dir[PATH_MAX], sock[PATH_MAX];
    bpt_backend_deployment d;
    int rc = BPT_ERROR;

    memset(&row, 0, sizeof(row));
    if (out == NULL || rt == NULL || id == NULL) {
        return bpt_err(BPT_EINVAL, "runtime: NULL argument");
    }
    BPT_CHECK(running_row(&row, &e, rt, id));
    BPT_CHECK(need_verifier(rt, e, "a key is only given once its evidence verified"));
    BPT_CHECK(backend_view(&d, dir, sock, sizeof(dir), rt, &row, NULL));
    rc = e->vt.public_key(out, e->state, &d);
    if (rc < 0) {
        bpt_err_prefix(rc, "deployment %s", row.id);
    }
out:
    bpt_store_row_dispose(&row);
    return rc;
}

int bpt_runtime_plane_url(char *out, size_t len, bpt_runtime *rt, const char *id)
{
    struct bpt_store_row row;
    struct entry *e = NULL;
    char dir[PATH_MAX], sock[PATH_MAX], url[512];
    bpt_backend_deployment d;
    int rc = BPT_ERROR;
    memset(&row, 0, sizeof(row));
    if (out == NULL || rt == NULL || id == NULL) {
        return bpt_err(BPT_EINVAL, "runtime: NULL argument");
    }
    BPT_CHECK(running_row(&row, &e, rt, id));
    if (e->vt.plane_url == NULL) {
        rc = bpt_err(BPT_ENOTSUP,
                     "deployment %s: backend %s serves the workload's plane on its unix socket "
                     "(bpt_runtime_kx_socket), not at a URL",
                     row.id, row.backend);
        goto out;
    }
    BPT_CHECK(backend_view(&d, dir, sock, sizeof(dir), rt, &row, NULL));
    url[0] = '\0';
    if ((rc = e->vt.plane_url(url, sizeof(url), e->state, &d)) < 0) {
        bpt_err_prefix(rc, "deployment %s", row.id);
        goto out;
    }
    if (memchr(url, '\0', sizeof(url)) == NULL || strlen(url) >= len) {
        rc = bpt_err(BPT_ELIMIT, "runtime: %zu bytes for the plane's URL, more needed", len);
        goto out;
    }
    memcpy(out, url, strlen(url) + 1);
    rc = 0;
out:
    bpt_store_row_dispose(&row);
    return rc;
}

int bpt_runtime_kx_socket(char *out, size_t len, bpt_runtime *rt, const char *id)
{
    struct bpt_store_row row;
    struct entry *e = NULL;
    int rc = BPT_ERROR;
    memset(&row, 0, sizeof(row));
    if (out == NULL || rt == NULL || id == NULL) {
        return bpt_err(BPT_EINVAL, "runtime: NULL argument");
    }
    BPT_CHECK(running_row(&row, &e, rt, id));
    char path[PATH_MAX], via[BPT_RUNTIME_VIA_MAX];
    int fd = -1;
    if (snprintf(path, sizeof(path), "%s/kx.sock", row.host_dir) >= (int)sizeof(path)) {
        rc = bpt_err(BPT_ELIMIT, "runtime: socket path too long");
        goto out;
    }
    rc = bpt_runtime_wait_socket(path, (long)rt->env.ready_timeout_ms);
    if (rc == 0) {
        rc = bpt_runtime_socket_open(&fd, via, path);
    }
    if (rc < 0) {
        bpt_err_prefix(rc, "deployment %s", row.id);
        goto out;
    }
    if (strlen(via) >= len) {
        close(fd);
        rc = bpt_err(BPT_ELIMIT, "runtime: %zu bytes for the socket path, %zu needed", len,
                     strlen(via) + 1);
        goto out;
    }
    /* the descriptor stays open as long as the runtime: the path names it */
    pthread_mutex_lock(&rt->mu);
    if (rt->n_held == HELD_MAX) {
        pthread_mutex_unlock(&rt->mu);
        close(fd);
        rc = bpt_err(BPT_ELIMIT, "runtime: %d sockets held already", HELD_MAX);
        goto out;
    }
    rt->held[rt->n_held++] = fd;
    pthread_mutex_unlock(&rt->mu);
    memcpy(out, via, strlen(via) + 1);
    rc = 0;
out:
    bpt_store_row_dispose(&row);
    return rc;
}

/* Row @p id for a change: not being deployed by another live process. */
static int row_for_change(struct bpt_store_row *row, struct entry **e, bpt_runtime *rt,
                          const char *id)
{
    int rc = BPT_ERROR;
    BPT_CHECK(get_row(row, rt, id));
    BPT_CHECK(backend_of(e, rt, row));
    if (row->state == BPT_DEPLOY_CREATING && owner_alive(rt, row)) {
        rc = bpt_err(BPT_EBUSY, "deployment %s is being deployed by process %lld", row->id,
                     (long long)row->owner_pid);
        goto out;
    }
    rc = 0;
out:
    if (rc < 0) {
        bpt_store_row_dispose(row);
    }
    return rc;
}

/* stop (to BPT_DEPLOY_STOPPED) or destroy (to BPT_DEPLOY_DESTROYED): the backend's work, then a
 * compare-and-set from the state it was done in, again when another process changed it. */
static int stop_or_destroy(bpt_runtime *rt, const char *id, bpt_deploy_state to)
{
    struct bpt_store_row row;
    struct entry *e = NULL;
    char dir[PATH_MAX], sock[PATH_MAX];
    bpt_backend_deployment d;
    bool destroy = to == BPT_DEPLOY_DESTROYED;
    int rc = BPT_ERROR;

    memset(&row, 0, sizeof(row));
    if (rt == NULL || id == NULL) {
        return bpt_err(BPT_EINVAL, "runtime: NULL argument");
    }
    for (int attempt = 0; attempt < 3; attempt++) {
        bool changed = false;
        bpt_store_row_dispose(&row);
        BPT_CHECK(row_for_change(&row, &e, rt, id));
        if (row.state == BPT_DEPLOY_DESTROYED) {
            rc = destroy ? 0 : bpt_err(BPT_EINVAL, "deployment %s is destroyed", row.id);
            goto out;
        }
        if (!destroy && (row.state == BPT_DEPLOY_STOPPED || row.state == BPT_DEPLOY_FAILED)) {
            rc = 0;
            goto out;
        }
        BPT_CHECK(backend_view(&d, dir, sock, sizeof(dir), rt, &row, NULL));
        rc = destroy ? e->vt.destroy(e->state, &d) : e->vt.stop(e->state, &d);
        if (rc < 0) {
            bpt_err_prefix(rc, "deployment %s", row.id);
            goto out;
        }
        if (destroy) {
            BPT_CHECK(bpt_runtime_rmtree(dir));
        }
        BPT_CHECK(transition(&changed, rt, &row, to, ""));
        if (changed) {
            if (destroy) {
                pthread_mutex_lock(&rt->mu);
                cache_drop(rt, row.id);
                pthread_mutex_unlock(&rt->mu);
            }
            rc = 0;
            goto out;
        }
    }
    rc = bpt_err(BPT_EBUSY, "deployment %s kept changing while being %s", id,
                 destroy ? "destroyed" : "stopped");
out:
    bpt_store_row_dispose(&row);
    return rc;
}

int bpt_runtime_stop(bpt_runtime *rt, const char *id)
{
    return stop_or_destroy(rt, id, BPT_DEPLOY_STOPPED);
}

int bpt_runtime_destroy(bpt_runtime *rt, const char *id)
{
    return stop_or_destroy(rt, id, BPT_DEPLOY_DESTROYED);
}
