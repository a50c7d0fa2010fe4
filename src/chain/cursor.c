/* The chain source's SQLite store (cursor.h). */
#include "chain/cursor.h"

#include "core/codec.h"
#include "core/err.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

struct bpt_chain_cursor {
    sqlite3 *db;
    pthread_mutex_t mu;
};

/* WAL with synchronous=NORMAL: a commit survives the process being killed (the case the
 * restart tests cover); a power loss may roll back the last commits, which makes the source read
 * those calls again and the sink meet JobAlreadyCompleted, detected as a repeat. FULL cost an
 * fsync per call taken and per state change (bench_chain_jobs). */
static const char SCHEMA[] =
    "PRAGMA journal_mode=WAL;"
    "PRAGMA synchronous=NORMAL;"
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS cursor(id INTEGER PRIMARY KEY CHECK(id = 1),"
    "  block INTEGER NOT NULL, log_index INTEGER NOT NULL, block_hash BLOB NOT NULL);"
    "CREATE TABLE IF NOT EXISTS jobs(call_id INTEGER PRIMARY KEY, state INTEGER NOT NULL,"
    "  tx_hash BLOB, block INTEGER, log_index INTEGER, block_hash BLOB, updated_at INTEGER);"
    "CREATE TABLE IF NOT EXISTS blocks(number INTEGER PRIMARY KEY, hash BLOB NOT NULL);";

static int db_err(struct bpt_chain_cursor *c, const char *what)
{
    return bpt_err(BPT_EIO, "chain cursor: %s: %s", what, sqlite3_errmsg(c->db));
}

/* Run @p sql with its parameters bound by @p bind; @p row is called per result row. */
typedef void (*row_fn)(sqlite3_stmt *st, void *ud);

static int run(struct bpt_chain_cursor *c, const char *sql, const int64_t *ints, size_t n_ints,
               const uint8_t *const *blobs, size_t n_blobs, row_fn row, void *ud)
{
    sqlite3_stmt *st = NULL;
    int rc = 0, s;
    if (sqlite3_prepare_v2(c->db, sql, -1, &st, NULL) != SQLITE_OK) {
        return db_err(c, "prepare");
    }
    for (size_t i = 0; i < n_ints; i++) {
        sqlite3_bind_int64(st, (int)i + 1, ints[i]);
    }
    for (size_t i = 0; i < n_blobs; i++) {
        if (blobs[i]) {
            sqlite3_bind_blob(st, (int)(n_ints + i) + 1, blobs[i], 32, SQLITE_TRANSIENT);
        } else {
            sqlite3_bind_null(st, (int)(n_ints + i) + 1);
        }
    }
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        if (row) {
            row(st, ud);
        }
    }
    if (s != SQLITE_DONE) {
        rc = db_err(c, "step");
    }
    sqlite3_finalize(st);
    return rc;
}

static void copy32(uint8_t out[32], sqlite3_stmt *st, int col)
{
    const void *b = sqlite3_column_blob(st, col);
    memset(out, 0, 32);
    if (b && sqlite3_column_bytes(st, col) == 32) {
        memcpy(out, b, 32);
    }
}

struct meta_row {
    char value[128];
    bool found;
};

static void meta_row(sqlite3_stmt *st, void *ud)
{
    struct meta_row *m = ud;
    snprintf(m->value, sizeof(m->value), "%s", (const char *)sqlite3_column_text(st, 0));
    m->found = true;
}

/* The store belongs to one contract and service. */
static int bind_identity(struct bpt_chain_cursor *c, const bpt_eth_address *tangle,
                         uint64_t service_id)
{
    char want[128];
    char addr[43];
    struct meta_row m = {{0}, false};
    sqlite3_stmt *st = NULL;
    int rc;
    bpt_eth_address_format(addr, tangle);
    snprintf(want, sizeof(want), "%s/%llu", addr, (unsigned long long)service_id);
    BPT_CHECK(
        run(c, "SELECT value FROM meta WHERE key = 'identity'", NULL, 0, NULL, 0, meta_row, &m));
    if (m.found) {
        if (strcmp(m.value, want) != 0) {
            return bpt_err(BPT_EINVAL,
                           "chain cursor: this store belongs to %s, not %s (tangle/service): use "
                           "another file",
                           m.value, want);
        }
        return 0;
    }
    if (sqlite3_prepare_v2(c->db, "INSERT INTO meta(key, value) VALUES('identity', ?)", -1, &st,
                           NULL) != SQLITE_OK) {
        return db_err(c, "prepare");
    }
    sqlite3_bind_text(st, 1, want, -1, SQLITE_TRANSIENT);
    rc = sqlite3_step(st) == SQLITE_DONE ? 0 : db_err(c, "identity");
    sqlite3_finalize(st);
out:
    return rc;
}

int bpt_chain_cursor_open(struct bpt_chain_cursor **out, const char *path,
                          const bpt_eth_address *tangle, uint64_t service_id)
{
    struct bpt_chain_cursor *c;
    char *msg = NULL;
    int rc;
    *out = NULL;
    if (!(c = calloc(1, sizeof(*c)))) {
        return bpt_err_nomem("chain cursor");
    }
    pthread_mutex_init(&c->mu, NULL);
    if (sqlite3_open_v2(path, &c->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                        NULL) != SQLITE_OK) {
        rc = bpt_err(BPT_EIO, "chain cursor: %s: %s", path,
                     c->db ? sqlite3_errmsg(c->db) : "out of memory");
        goto out;
    }
    sqlite3_busy_timeout(c->db, 5000);
    if (sqlite3_exec(c->db, SCHEMA, NULL, NULL, &msg) != SQLITE_OK) {
        rc = bpt_err(BPT_EIO, "chain cursor: %s: %s", path, msg ? msg : "schema");
        sqlite3_free(msg);
        goto out;
    }
    BPT_CHECK(bind_identity(c, tangle, service_id));
    *out = c;
    c = NULL;
    rc = 0;
out:
    bpt_chain_cursor_close(c);
    return rc;
}

void bpt_chain_cursor_close(struct bpt_chain_cursor *c)
{
    if (!c) {
        return;
    }
    sqlite3_close(c->db);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

static void pos_row(sqlite3_stmt *st, void *ud)
{
    struct bpt_chain_position *p = ud;
    p->set = true;
    p->block = (uint64_t)sqlite3_column_int64(st, 0);
    p->log_index = (uint64_t)sqlite3_column_int64(st, 1);
    copy32(p->block_hash, st, 2);
}

int bpt_chain_cursor_get(struct bpt_chain_position *out, struct bpt_chain_cursor *c)
{
    int rc;
    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&c->mu);
    rc = run(c, "SELECT block, log_index, block_hash FROM cursor WHERE id = 1", NULL, 0, NULL, 0,
             pos_row, out);
    pthread_mutex_unlock(&c->mu);
    return rc;
}

int bpt_chain_cursor_set(struct bpt_chain_cursor *c, const struct bpt_chain_position *p)
{
    int64_t ints[2] = {(int64_t)p->block, (int64_t)p->log_index};
    const uint8_t *blobs[1] = {p->block_hash};
    int rc;
    pthread_mutex_lock(&c->mu);
    rc = run(c,
             "INSERT INTO cursor(id, block, log_index, block_hash) VALUES(1, ?, ?, ?) "
             "ON CONFLICT(id) DO UPDATE SET block = excluded.block, log_index = "
             "excluded.log_index, block_hash = excluded.block_hash",
             ints, 2, blobs, 1, NULL, NULL);
    pthread_mutex_unlock(&c->mu);
    return rc;
}

struct job_row {
    enum bpt_chain_job_state state;
    uint8_t *tx_hash, *block_hash;
};

static void job_row(sqlite3_stmt *st, void *ud)
{
    struct job_row *j = ud;
    j->state = (enum bpt_chain_job_state)sqlite3_column_int(st, 0);
    if (j->tx_hash) {
        copy32(j->tx_hash, st, 1);
    }
    if (j->block_hash) {
        copy32(j->block_hash, st, 2);
    }
}

int bpt_chain_cursor_job(enum bpt_chain_job_state *state, uint8_t tx_hash[32],
                         uint8_t block_hash[32], struct bpt_chain_cursor *c, uint64_t call_id)
{
    struct job_row j = {BPT_CHAIN_JOB_NONE, tx_hash, block_hash};
    int64_t ints[1] = {(int64_t)call_id};
    int rc;
    if (tx_hash) {
        memset(tx_hash, 0, 32);
    }
    if (block_hash) {
        memset(block_hash, 0, 32);
    }
    pthread_mutex_lock(&c->mu);
    rc = run(c, "SELECT state, tx_hash, block_hash FROM jobs WHERE call_id = ?", ints, 1, NULL, 0,
             job_row, &j);
    pthread_mutex_unlock(&c->mu);
    *state = j.state;
    return rc;
}

int bpt_chain_cursor_job_set(struct bpt_chain_cursor *c, uint64_t call_id,
                             enum bpt_chain_job_state state, const uint8_t *tx_hash,
                             const struct bpt_chain_position *where)
{
    int64_t ints[5] = {(int64_t)call_id, (int64_t)state, where ? (int64_t)where->block : -1,
                       where ? (int64_t)where->log_index : -1, (int64_t)time(NULL)};
    const uint8_t *blobs[2] = {tx_hash, where ? where->block_hash : NULL};
    int rc;
    pthread_mutex_lock(&c->mu);
    rc = run(c,
             "INSERT INTO jobs(call_id, state, block, log_index, updated_at, tx_hash, block_hash) "
             "VALUES(?, ?, ?, ?, ?, ?, ?) ON CONFLICT(call_id) DO UPDATE SET "
             "state = excluded.state, updated_at = excluded.updated_at, "
             "tx_hash = COALESCE(excluded.tx_hash, jobs.tx_hash), "
             "block = CASE WHEN excluded.block >= 0 THEN excluded.block ELSE jobs.block END, "
             "log_index = CASE WHEN excluded.block >= 0 THEN excluded.log_index ELSE "
             "jobs.log_index END, block_hash = COALESCE(excluded.block_hash, jobs.block_hash)",
             ints, 5, blobs, 2, NULL, NULL);
    pthread_mutex_unlock(&c->mu);
    return rc;
}

struct list_row {
    uint64_t *calls;
    size_t n, max;
};

static void list_row(sqlite3_stmt *st, void *ud)
{
    struct list_row *l = ud;
    if (l->n < l->max) {
        l->calls[l->n++] = (uint64_t)sqlite3_column_int64(st, 0);
    }
}

int bpt_chain_cursor_jobs_in(uint64_t *calls, size_t *n, size_t max, struct bpt_chain_cursor *c,
                             enum bpt_chain_job_state state)
{
    struct list_row l = {calls, 0, max};
    int64_t ints[1] = {(int64_t)state};
    int rc;
    pthread_mutex_lock(&c->mu);
    rc = run(c, "SELECT call_id FROM jobs WHERE state = ? ORDER BY block, log_index", ints, 1, NULL,
             0, list_row, &l);
    pthread_mutex_unlock(&c->mu);
    *n = l.n;
    return rc;
}

int bpt_chain_cursor_checkpoint(struct bpt_chain_cursor *c, uint64_t number, const uint8_t hash[32],
                                uint64_t keep_from)
{
    int64_t ints[1] = {(int64_t)number}, old[1] = {(int64_t)keep_from};
    const uint8_t *blobs[1] = {hash};
    int rc;
    pthread_mutex_lock(&c->mu);
    rc = run(c, "INSERT OR REPLACE INTO blocks(number, hash) VALUES(?, ?)", ints, 1, blobs, 1, NULL,
             NULL);
    if (rc == 0) {
        rc = run(c, "DELETE FROM blocks WHERE number < ?", old, 1, NULL, 0, NULL, NULL);
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

struct cp_row {
    bool found;
    uint64_t number;
    uint8_t *hash;
};

static void cp_row(sqlite3_stmt *st, void *ud)
{
    struct cp_row *r = ud;
    r->found = true;
    r->number = (uint64_t)sqlite3_column_int64(st, 0);
    copy32(r->hash, st, 1);
}

int bpt_chain_cursor_checkpoint_below(bool *found, uint64_t *number, uint8_t hash[32],
                                      struct bpt_chain_cursor *c, uint64_t at_most)
{
    struct cp_row r = {false, 0, hash};
    int64_t ints[1] = {(int64_t)at_most};
    int rc;
    pthread_mutex_lock(&c->mu);
    rc = run(c, "SELECT number, hash FROM blocks WHERE number <= ? ORDER BY number DESC LIMIT 1",
             ints, 1, NULL, 0, cp_row, &r);
    pthread_mutex_unlock(&c->mu);
    *found = r.found;
    *number = r.number;
    return rc;
}

int bpt_chain_cursor_forget_from(struct bpt_chain_cursor *c, uint64_t from)
{
    int64_t ints[1] = {(int64_t)from};
    int rc;
    pthread_mutex_lock(&c->mu);
    rc = run(c, "DELETE FROM blocks WHERE number >= ?", ints, 1, NULL, 0, NULL, NULL);
    pthread_mutex_unlock(&c->mu);
    return rc;
}
