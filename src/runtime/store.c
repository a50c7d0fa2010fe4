/*
 * The deployment store over SQLite (store.h). WAL mode (readers never wait for a writer),
 * synchronous=NORMAL, a busy timeout for writers, and the schema in PRAGMA user_version:
 *
 *   1  deployments(id, name, spec_hash, backend, state, created_at, updated_at, host_dir,
 *      detail, attestation_digest, attested_at, owner_pid, owner_start); a live name is unique
 *   2  + attestation_report (the report JSON of the last verified attestation)
 *
 * Each migration runs in an IMMEDIATE transaction that first reads the version again, so two
 * processes opening an old database at once migrate it once.
 */
#include "runtime/store.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/rand.h>
#include <sqlite3.h>

#include "core/codec.h"
#include "core/err.h"
#include "core/util.h"

struct bpt_store {
    sqlite3 *db;
    int schema;
};

static const char *const STATE_NAMES[] = {"creating", "running", "stopped", "failed", "destroyed"};

static const char *const MIGRATIONS[] = {
    /* 1 */
    "CREATE TABLE deployments ("
    " id TEXT PRIMARY KEY NOT NULL,"
    " name TEXT NOT NULL,"
    " spec_hash TEXT NOT NULL,"
    " backend TEXT NOT NULL,"
    " state TEXT NOT NULL CHECK (state IN "
    "  ('creating','running','stopped','failed','destroyed')),"
    " created_at INTEGER NOT NULL,"
    " updated_at INTEGER NOT NULL,"
    " host_dir TEXT NOT NULL,"
    " detail TEXT NOT NULL DEFAULT '',"
    " attestation_digest TEXT,"
    " attested_at INTEGER NOT NULL DEFAULT 0,"
    " owner_pid INTEGER NOT NULL DEFAULT 0,"
    " owner_start INTEGER NOT NULL DEFAULT 0);"
    "CREATE UNIQUE INDEX deployments_live_name ON deployments(name) WHERE state <> 'destroyed';",
    /* 2 */
    "ALTER TABLE deployments ADD COLUMN attestation_report TEXT;",
};

#define N_MIGRATIONS (sizeof(MIGRATIONS) / sizeof(MIGRATIONS[0]))

_Static_assert(N_MIGRATIONS == BPT_STORE_SCHEMA_VERSION, "one migration per schema version");

/* An SQLite failure as a library error: busy is BPT_EBUSY, the rest BPT_EIO. */
static int db_err(const bpt_store *st, int src, const char *what)
{
    int code = (src & 0xff) == SQLITE_BUSY || (src & 0xff) == SQLITE_LOCKED ? BPT_EBUSY : BPT_EIO;
    return bpt_err(code, "store: %s: %s%s", what, st->db ? sqlite3_errmsg(st->db) : "no database",
                   code == BPT_EBUSY ? " (another bpt process held the store too long)" : "");
}

static int exec(bpt_store *st, const char *sql, const char *what)
{
    int src = sqlite3_exec(st->db, sql, NULL, NULL, NULL);
    return src == SQLITE_OK ? 0 : db_err(st, src, what);
}

static int read_version(int *out, bpt_store *st)
{
    sqlite3_stmt *q = NULL;
    int src = sqlite3_prepare_v2(st->db, "PRAGMA user_version", -1, &q, NULL);
    if (src == SQLITE_OK && (src = sqlite3_step(q)) == SQLITE_ROW) {
        *out = sqlite3_column_int(q, 0);
        src = SQLITE_OK;
    }
    sqlite3_finalize(q);
    return src == SQLITE_OK ? 0 : db_err(st, src, "reading the schema version");
}

/* Bring the schema from its version to BPT_STORE_SCHEMA_VERSION, one step per transaction. */
static int migrate(bpt_store *st)
{
    int v = 0, rc;
    char sql[64];
    for (;;) {
        if ((rc = exec(st, "BEGIN IMMEDIATE", "migration")) < 0) {
            return rc;
        }
        if ((rc = read_version(&v, st)) < 0) {
            goto fail;
        }
        if (v > BPT_STORE_SCHEMA_VERSION) {
            rc = bpt_err(BPT_ENOTSUP,
                         "store: schema version %d is newer than this bpt's (%d): use a newer "
                         "bpt",
                         v, BPT_STORE_SCHEMA_VERSION);
            goto fail;
        }
        if (v == BPT_STORE_SCHEMA_VERSION) {
            st->schema = v;
            return exec(st, "COMMIT", "migration");
        }
        snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", v + 1);
        if ((rc = exec(st, MIGRATIONS[v], "migration")) < 0 ||
            (rc = exec(st, sql, "migration")) < 0 || (rc = exec(st, "COMMIT", "migration")) < 0) {
            bpt_err_prefix(rc, "store: migrating to schema %d", v + 1);
            goto fail;
        }
    }
fail:
    (void)sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

int bpt_store_open(bpt_store **out, const char *path, unsigned busy_timeout_ms)
{
    bpt_store *st = NULL;
    int rc = BPT_ERROR, fd;
    char *mode = NULL;

    *out = NULL;
    /* the file exists with mode 0600 before SQLite opens it (its -wal and -shm copy the mode) */
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        return bpt_err(BPT_EIO, "store: cannot open %s: %s", path, strerror(errno));
    }
    close(fd);
    if ((st = calloc(1, sizeof(*st))) == NULL) {
        return bpt_err_nomem("store");
    }
    int src = sqlite3_open_v2(
        path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW, NULL);
    if (src != SQLITE_OK) {
        rc = db_err(st, src, path);
        goto out;
    }
    sqlite3_busy_timeout(st->db, (int)(busy_timeout_ms ? busy_timeout_ms : 10000));
    /* journal_mode answers the mode it is in now: WAL or the refusal */
    sqlite3_stmt *q = NULL;
    src = sqlite3_prepare_v2(st->db, "PRAGMA journal_mode=WAL", -1, &q, NULL);
    if (src == SQLITE_OK && (src = sqlite3_step(q)) == SQLITE_ROW) {
        const unsigned char *m = sqlite3_column_text(q, 0);
        rc = bpt_strdup(&mode, m ? (const char *)m : "");
        src = SQLITE_OK;
    }
    sqlite3_finalize(q);
    if (src != SQLITE_OK) {
        rc = db_err(st, src, "journal mode");
        goto out;
    }
    if (rc < 0) {
        goto out;
    }
    if (strcmp(mode, "wal") != 0) {
        rc = bpt_err(BPT_EIO, "store: %s stays in journal mode %s, not WAL", path, mode);
        goto out;
    }
    BPT_CHECK(exec(st, "PRAGMA synchronous=NORMAL", "synchronous"));
    BPT_CHECK(migrate(st));
    *out = st;
    st = NULL;
    rc = 0;
out:
    free(mode);
    bpt_store_close(st);
    return rc;
}

void bpt_store_close(bpt_store *st)
{
    if (st != NULL) {
        sqlite3_close(st->db);
        free(st);
    }
}

unsigned bpt_store_schema(const bpt_store *st)
{
    return (unsigned)st->schema;
}

void bpt_store_row_dispose(struct bpt_store_row *r)
{
    if (r != NULL) {
        free(r->host_dir);
        free(r->detail);
        free(r->attestation_digest);
        memset(r, 0, sizeof(*r));
    }
}

#define COLUMNS                                                                                    \
    "id, name, spec_hash, backend, state, created_at, updated_at, host_dir, detail, "              \
    "attestation_digest, attested_at, owner_pid, owner_start"

static int copy_text(char *dst, size_t max, sqlite3_stmt *q, int col)
{
    const unsigned char *t = sqlite3_column_text(q, col);
    if (t == NULL || strlen((const char *)t) >= max) {
        return bpt_err(BPT_EIO, "store: column %d is missing or too long", col);
    }
    memcpy(dst, t, strlen((const char *)t) + 1);
    return 0;
}

static int read_row(struct bpt_store_row *r, sqlite3_stmt *q)
{
    int rc = BPT_ERROR;
    const unsigned char *state = sqlite3_column_text(q, 4), *t;
    memset(r, 0, sizeof(*r));
    BPT_CHECK(copy_text(r->id, sizeof(r->id), q, 0));
    BPT_CHECK(copy_text(r->name, sizeof(r->name), q, 1));
    BPT_CHECK(copy_text(r->spec_hash, sizeof(r->spec_hash), q, 2));
    BPT_CHECK(copy_text(r->backend, sizeof(r->backend), q, 3));
    r->state = BPT_DEPLOY_FAILED;
    for (size_t i = 0; state && i < sizeof(STATE_NAMES) / sizeof(STATE_NAMES[0]); i++) {
        if (strcmp((const char *)state, STATE_NAMES[i]) == 0) {
            r->state = (bpt_deploy_state)i;
        }
    }
    r->created_at = sqlite3_column_int64(q, 5);
    r->updated_at = sqlite3_column_int64(q, 6);
    BPT_CHECK(bpt_strdup(&r->host_dir, (const char *)sqlite3_column_text(q, 7)));
    t = sqlite3_column_text(q, 8);
    BPT_CHECK(bpt_strdup(&r->detail, t ? (const char *)t : ""));
    BPT_CHECK(bpt_strdup(&r->attestation_digest, (const char *)sqlite3_column_text(q, 9)));
    r->attested_at = sqlite3_column_int64(q, 10);
    r->owner_pid = sqlite3_column_int64(q, 11);
    r->owner_start = sqlite3_column_int64(q, 12);
    if (r->host_dir == NULL) {
        rc = bpt_err(BPT_EIO, "store: row %s has no host_dir", r->id);
        goto out;
    }
    rc = 0;
out:
    if (rc < 0) {
        bpt_store_row_dispose(r);
    }
    return rc;
}

/* Run @p q (bound) expecting at most one row. BPT_ENOTFOUND when there is none. */
static int one_row(struct bpt_store_row *out, bpt_store *st, sqlite3_stmt *q, const char *what)
{
    int src = sqlite3_step(q);
    if (src == SQLITE_ROW) {
        return read_row(out, q);
    }
    if (src == SQLITE_DONE) {
        return bpt_err(BPT_ENOTFOUND, "no deployment %s", what);
    }
    return db_err(st, src, what);
}

static int prepare(sqlite3_stmt **q, bpt_store *st, const char *sql)
{
    int src = sqlite3_prepare_v2(st->db, sql, -1, q, NULL);
    return src == SQLITE_OK ? 0 : db_err(st, src, "statement");
}

static int new_id(char out[17])
{
    uint8_t b[8];
    if (RAND_bytes(b, sizeof(b)) != 1) {
        return bpt_err_ossl(BPT_ERROR, "store: id randomness");
    }
    bpt_hex_encode_to(out, b, sizeof(b));
    return 0;
}

int bpt_store_claim(struct bpt_store_row *out, bool *created, bpt_store *st, const char *name,
                    const char *spec_hash, const char *backend, const char *deployments_dir,
                    const struct bpt_store_owner *me, int64_t now)
{
    sqlite3_stmt *q = NULL;
    char id[17], host_dir[4096];
    int rc = BPT_ERROR, src;
    bool open_tx = false;

    *created = false;
    BPT_CHECK(exec(st, "BEGIN IMMEDIATE", "deploy"));
    open_tx = true;
    BPT_CHECK(prepare(
        &q, st, "SELECT " COLUMNS " FROM deployments WHERE name = ?1 AND state <> 'destroyed'"));
    sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
    rc = one_row(out, st, q, name);
    sqlite3_finalize(q);
    q = NULL;
    if (rc != BPT_ENOTFOUND) {
        if (rc == 0) {
            BPT_CHECK(exec(st, "COMMIT", "deploy"));
            open_tx = false;
        }
        goto out;
    }
    BPT_CHECK(new_id(id));
    int n = snprintf(host_dir, sizeof(host_dir), "%s/%s/host", deployments_dir, id);
    if (n < 0 || (size_t)n >= sizeof(host_dir)) {
        rc = bpt_err(BPT_EINVAL, "store: deployments directory path too long");
        goto out;
    }
    BPT_CHECK(prepare(&q, st,
                      "INSERT INTO deployments (id, name, spec_hash, backend, state, created_at, "
                      "updated_at, host_dir, owner_pid, owner_start) "
                      "VALUES (?1, ?2, ?3, ?4, 'creating', ?5, ?5, ?6, ?7, ?8)"));
    sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 3, spec_hash, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 4, backend, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 5, now);
    sqlite3_bind_text(q, 6, host_dir, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 7, me->pid);
    sqlite3_bind_int64(q, 8, me->start);
    if ((src = sqlite3_step(q)) != SQLITE_DONE) {
        rc = db_err(st, src, "recording the deployment");
        goto out;
    }
    BPT_CHECK(exec(st, "COMMIT", "deploy"));
    open_tx = false;
    sqlite3_finalize(q);
    q = NULL;
    BPT_CHECK(bpt_store_get(out, st, id));
    *created = true;
    rc = 0;
out:
    sqlite3_finalize(q);
    if (open_tx) {
        (void)sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    }
    return rc;
}

int bpt_store_transition(bool *changed, bpt_store *st, const char *id, bpt_deploy_state from,
                         int64_t from_owner_pid, bpt_deploy_state to,
                         const struct bpt_store_owner *owner, const char *detail, int64_t now)
{
    sqlite3_stmt *q = NULL;
    int rc = BPT_ERROR, src;

    *changed = false;
    BPT_CHECK(prepare(&q, st,
                      "UPDATE deployments SET state = ?1, detail = ?2, updated_at = ?3, "
                      "owner_pid = ?4, owner_start = ?5 "
                      "WHERE id = ?6 AND state = ?7 AND (?7 <> 'creating' OR owner_pid = ?8)"));
    sqlite3_bind_text(q, 1, STATE_NAMES[to], -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, detail ? detail : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 3, now);
    sqlite3_bind_int64(q, 4, to == BPT_DEPLOY_CREATING && owner ? owner->pid : 0);
    sqlite3_bind_int64(q, 5, to == BPT_DEPLOY_CREATING && owner ? owner->start : 0);
    sqlite3_bind_text(q, 6, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 7, STATE_NAMES[from], -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 8, from_owner_pid);
    if ((src = sqlite3_step(q)) != SQLITE_DONE) {
        rc = db_err(st, src, "updating a deployment");
        goto out;
    }
    *changed = sqlite3_changes(st->db) == 1;
    rc = 0;
out:
    sqlite3_finalize(q);
    return rc;
}

int bpt_store_get(struct bpt_store_row *out, bpt_store *st, const char *id_or_name)
{
    sqlite3_stmt *q = NULL;
    int rc = BPT_ERROR;
    /* an id first; else the live deployment of that name */
    BPT_CHECK(prepare(&q, st,
                      "SELECT " COLUMNS " FROM deployments WHERE id = ?1 UNION ALL "
                      "SELECT " COLUMNS
                      " FROM deployments WHERE name = ?1 AND state <> 'destroyed' AND "
                      "NOT EXISTS (SELECT 1 FROM deployments WHERE id = ?1)"));
    sqlite3_bind_text(q, 1, id_or_name, -1, SQLITE_STATIC);
    rc = one_row(out, st, q, id_or_name);
out:
    sqlite3_finalize(q);
    return rc;
}

void bpt_store_list_free(struct bpt_store_row *rows, size_t n)
{
    for (size_t i = 0; rows != NULL && i < n; i++) {
        bpt_store_row_dispose(&rows[i]);
    }
    free(rows);
}

int bpt_store_list(struct bpt_store_row **out, size_t *n_out, bpt_store *st, bool with_destroyed)
{
    sqlite3_stmt *q = NULL;
    struct bpt_store_row *rows = NULL;
    size_t n = 0, cap = 0;
    int rc = BPT_ERROR, src;

    *out = NULL;
    *n_out = 0;
    BPT_CHECK(prepare(&q, st,
                      with_destroyed
                          ? "SELECT " COLUMNS " FROM deployments ORDER BY created_at, rowid"
                          : "SELECT " COLUMNS " FROM deployments WHERE state <> 'destroyed' "
                            "ORDER BY created_at, rowid"));
    while ((src = sqlite3_step(q)) == SQLITE_ROW) {
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 8;
            struct bpt_store_row *nr = realloc(rows, nc * sizeof(*rows));
            if (nr == NULL) {
                rc = bpt_err_nomem("store: list");
                goto out;
            }
            rows = nr;
            cap = nc;
        }
        BPT_CHECK(read_row(&rows[n], q));
        n++;
    }
    if (src != SQLITE_DONE) {
        rc = db_err(st, src, "listing deployments");
        goto out;
    }
    *out = rows;
    *n_out = n;
    rows = NULL;
    n = 0;
    rc = 0;
out:
    sqlite3_finalize(q);
    bpt_store_list_free(rows, n);
    return rc;
}

int bpt_store_set_attestation(bpt_store *st, const char *id, const char *digest,
                              const char *report_json, int64_t at)
{
    sqlite3_stmt *q = NULL;
    int rc = BPT_ERROR, src;
    BPT_CHECK(prepare(&q, st,
                      "UPDATE deployments SET attestation_digest = ?1, attestation_report = ?2, "
                      "attested_at = ?3 WHERE id = ?4"));
    sqlite3_bind_text(q, 1, digest, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, report_json, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 3, at);
    sqlite3_bind_text(q, 4, id, -1, SQLITE_STATIC);
    if ((src = sqlite3_step(q)) != SQLITE_DONE) {
        rc = db_err(st, src, "recording the attestation");
        goto out;
    }
    rc = 0;
out:
    sqlite3_finalize(q);
    return rc;
}

int bpt_store_get_attestation(char **report_json, int64_t *at, bpt_store *st, const char *id)
{
    sqlite3_stmt *q = NULL;
    int rc = BPT_ERROR, src;
    *report_json = NULL;
    BPT_CHECK(
        prepare(&q, st, "SELECT attestation_report, attested_at FROM deployments WHERE id = ?1"));
    sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
    src = sqlite3_step(q);
    if (src != SQLITE_ROW && src != SQLITE_DONE) {
        rc = db_err(st, src, "reading the attestation");
        goto out;
    }
    if (src == SQLITE_DONE || sqlite3_column_type(q, 0) == SQLITE_NULL) {
        rc = bpt_err(BPT_ENOTFOUND,
                     "deployment %s has no verified attestation yet (bpt "
                     "attestation %s)",
                     id, id);
        goto out;
    }
    *at = sqlite3_column_int64(q, 1);
    BPT_CHECK(bpt_strdup(report_json, (const char *)sqlite3_column_text(q, 0)));
    rc = 0;
out:
    sqlite3_finalize(q);
    return rc;
}

int bpt_store_process_start(int64_t *out, pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "re");
    if (f == NULL) {
        return bpt_err(BPT_ENOTFOUND, "no process %d", (int)pid);
    }
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* "pid (comm) state ..." : comm may hold spaces and parentheses; fields after the last ')' */
    char *p = strrchr(buf, ')');
    long long start = -1;
    if (p == NULL) {
        return bpt_err(BPT_EIO, "cannot read %s", path);
    }
    p++;
    /* field 22 (starttime) is the 20th after the state */
    for (int field = 3; field < 22 && p != NULL; field++) {
        p = strchr(p + 1, ' ');
    }
    if (p == NULL || sscanf(p, " %lld", &start) != 1 || start < 0) {
        return bpt_err(BPT_EIO, "cannot read the start time in %s", path);
    }
    *out = start;
    return 0;
}

bool bpt_store_owner_alive(int64_t pid, int64_t start)
{
    int64_t now_start = 0;
    if (pid <= 0) {
        return false;
    }
    if (kill((pid_t)pid, 0) != 0 && errno != EPERM) { /* EPERM: it exists, another user's */
        return false;
    }
    return bpt_store_process_start(&now_start, (pid_t)pid) == 0 && now_start == start;
}
