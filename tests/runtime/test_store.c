/*
 * The deployment store (src/runtime/store.c): a file of mode 0600 in WAL mode at the current
 * schema; a schema-1 database migrated with its rows kept; a newer one refused; claims (one
 * live row per name, a destroyed name free again), compare-and-set transitions, lookups by id
 * and name, attestations, owners' liveness; and processes sharing one store at once (no busy
 * failure, one creator per name).
 */
#include "helpers/test.h"

#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runtime/store.h"

struct fx {
    char *dir;
    char db[4200];
    char deployments[4200];
    struct bpt_store_owner me;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    f->dir = bpt_test_tmpdir();
    snprintf(f->db, sizeof(f->db), "%s/state.db", f->dir);
    snprintf(f->deployments, sizeof(f->deployments), "%s/deployments", f->dir);
    f->me.pid = getpid();
    if (bpt_store_process_start(&f->me.start, getpid()) != 0) {
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    bpt_test_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static void sql(const char *db, const char *text)
{
    sqlite3 *h = NULL;
    assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
    char *err = NULL;
    if (sqlite3_exec(h, text, NULL, NULL, &err) != SQLITE_OK) {
        fail_msg("%s: %s", text, err);
    }
    sqlite3_close(h);
}

static void test_open_creates_wal_0600(void **state)
{
    struct fx *f = *state;
    bpt_store *st = NULL;
    struct stat sb;
    assert_ok(bpt_store_open(&st, f->db, 1000));
    assert_int_equal(bpt_store_schema(st), BPT_STORE_SCHEMA_VERSION);
    assert_int_equal(stat(f->db, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    bpt_store_close(st);
    /* the journal mode is stored in the file: WAL */
    sqlite3 *h = NULL;
    sqlite3_stmt *q = NULL;
    assert_int_equal(sqlite3_open(f->db, &h), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(h, "PRAGMA journal_mode", -1, &q, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(q, 0), "wal");
    sqlite3_finalize(q);
    sqlite3_close(h);
    /* a file that is no database */
    char junk[4300];
    snprintf(junk, sizeof(junk), "%s/junk.db", f->dir);
    bpt_test_write_file(junk, "this is not an SQLite database, not at all.........", 51);
    assert_rc_msg(bpt_store_open(&st, junk, 1000), BPT_EIO, "store");
    assert_null(st);
}

static void test_claims_and_transitions(void **state)
{
    struct fx *f = *state;
    bpt_store *st = NULL;
    struct bpt_store_row a, b, c;
    bool created = false, changed = false;
    assert_ok(bpt_store_open(&st, f->db, 1000));
    assert_ok(
        bpt_store_claim(&a, &created, st, "svc", "h1", "direct", f->deployments, &f->me, 100));
    assert_true(created);
    assert_int_equal(strlen(a.id), 16);
    assert_int_equal(a.state, BPT_DEPLOY_CREATING);
    assert_int_equal(a.owner_pid, f->me.pid);
    char want[4300];
    snprintf(want, sizeof(want), "%s/%s/host", f->deployments, a.id);
    assert_string_equal(a.host_dir, want);
    /* the same name: the same row, whatever hash the caller has (it compares) */
    assert_ok(
        bpt_store_claim(&b, &created, st, "svc", "h2", "direct", f->deployments, &f->me, 101));
    assert_false(created);
    assert_string_equal(b.id, a.id);
    assert_string_equal(b.spec_hash, "h1");
    bpt_store_row_dispose(&b);
    /* compare and set: only from the state (and owner) it is in */
    assert_ok(bpt_store_transition(&changed, st, a.id, BPT_DEPLOY_CREATING, f->me.pid + 1,
                                   BPT_DEPLOY_RUNNING, NULL, "", 102));
    assert_false(changed); /* another owner */
    assert_ok(bpt_store_transition(&changed, st, a.id, BPT_DEPLOY_CREATING, f->me.pid,
                                   BPT_DEPLOY_RUNNING, NULL, "", 102));
    assert_true(changed);
    assert_ok(bpt_store_transition(&changed, st, a.id, BPT_DEPLOY_CREATING, f->me.pid,
                                   BPT_DEPLOY_FAILED, NULL, "late", 103));
    assert_false(changed);
    assert_ok(bpt_store_get(&b, st, "svc"));
    assert_int_equal(b.state, BPT_DEPLOY_RUNNING);
    assert_int_equal(b.owner_pid, 0);
    assert_int_equal(b.updated_at, 102);
    assert_int_equal(b.created_at, 100);
    bpt_store_row_dispose(&b);
    /* destroyed: the name is free again, the old row stays (by id) */
    assert_ok(bpt_store_transition(&changed, st, a.id, BPT_DEPLOY_RUNNING, 0, BPT_DEPLOY_DESTROYED,
                                   NULL, "", 104));
    assert_rc_msg(bpt_store_get(&b, st, "svc"), BPT_ENOTFOUND, "no deployment svc");
    assert_ok(bpt_store_get(&b, st, a.id));
    assert_int_equal(b.state, BPT_DEPLOY_DESTROYED);
    bpt_store_row_dispose(&b);
    assert_ok(
        bpt_store_claim(&c, &created, st, "svc", "h2", "direct", f->deployments, &f->me, 105));
    assert_true(created);
    assert_string_not_equal(c.id, a.id);
    /* lists: oldest first; destroyed only when asked */
    struct bpt_store_row *rows = NULL;
    size_t n = 0;
    assert_ok(bpt_store_list(&rows, &n, st, false));
    assert_int_equal(n, 1);
    assert_string_equal(rows[0].id, c.id);
    bpt_store_list_free(rows, n);
    assert_ok(bpt_store_list(&rows, &n, st, true));
    assert_int_equal(n, 2);
    assert_string_equal(rows[0].id, a.id);
    bpt_store_list_free(rows, n);
    /* attestations */
    char *json = NULL;
    int64_t at = 0;
    assert_rc_msg(bpt_store_get_attestation(&json, &at, st, c.id), BPT_ENOTFOUND,
                  "no verified attestation");
    assert_ok(bpt_store_set_attestation(st, c.id, "ab", "{\"r\":1}", 77));
    assert_ok(bpt_store_get_attestation(&json, &at, st, c.id));
    assert_string_equal(json, "{\"r\":1}");
    assert_int_equal(at, 77);
    free(json);
    assert_ok(bpt_store_get(&b, st, c.id));
    assert_string_equal(b.attestation_digest, "ab");
    assert_int_equal(b.attested_at, 77);
    bpt_store_row_dispose(&b);
    bpt_store_row_dispose(&a);
    bpt_store_row_dispose(&c);
    bpt_store_close(st);
}

/* A schema-1 database (before attestation_report) is migrated; its rows stay. */
static void test_migration_from_schema_1(void **state)
{
    struct fx *f = *state;
    bpt_store *st = NULL;
    struct bpt_store_row r;
    sql(f->db, "CREATE TABLE deployments ("
               " id TEXT PRIMARY KEY NOT NULL, name TEXT NOT NULL, spec_hash TEXT NOT NULL,"
               " backend TEXT NOT NULL, state TEXT NOT NULL CHECK (state IN "
               "  ('creating','running','stopped','failed','destroyed')),"
               " created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, host_dir TEXT NOT NULL,"
               " detail TEXT NOT NULL DEFAULT '', attestation_digest TEXT,"
               " attested_at INTEGER NOT NULL DEFAULT 0, owner_pid INTEGER NOT NULL DEFAULT 0,"
               " owner_start INTEGER NOT NULL DEFAULT 0);"
               "CREATE UNIQUE INDEX deployments_live_name ON deployments(name) WHERE state <> "
               "'destroyed';"
               "INSERT INTO deployments (id, name, spec_hash, backend, state, created_at, "
               "updated_at, host_dir) VALUES ('0123456789abcdef', 'old', 'h', 'direct', "
               "'stopped', 1, 2, '/x/host');"
               "PRAGMA user_version = 1;");
    assert_ok(bpt_store_open(&st, f->db, 1000));
    assert_int_equal(bpt_store_schema(st), 2);
    assert_ok(bpt_store_get(&r, st, "old"));
    assert_string_equal(r.id, "0123456789abcdef");
    assert_int_equal(r.state, BPT_DEPLOY_STOPPED);
    assert_ok(bpt_store_set_attestation(st, r.id, "d", "{}", 3)); /* the new column */
    bpt_store_row_dispose(&r);
    bpt_store_close(st);
}

static void test_newer_schema_refused(void **state)
{
    struct fx *f = *state;
    bpt_store *st = NULL;
    sql(f->db, "PRAGMA user_version = 99;");
    assert_rc_msg(bpt_store_open(&st, f->db, 1000), BPT_ENOTSUP, "schema version 99 is newer");
    assert_null(st);
}

static void test_owner_liveness(void **state)
{
    struct fx *f = *state;
    assert_true(bpt_store_owner_alive(f->me.pid, f->me.start));
    assert_false(bpt_store_owner_alive(f->me.pid, f->me.start + 1)); /* a reused pid */
    assert_false(bpt_store_owner_alive(0, 0));
    pid_t child = fork();
    if (child == 0) {
        _exit(0);
    }
    int st = 0;
    waitpid(child, &st, 0);
    assert_false(bpt_store_owner_alive(child, 1));
}

#define PROCS 4
#define PER_PROC 25

/* Each child: PER_PROC names of its own (claim, run), and one shared name. Writes how many
 * rows it created to the pipe; exits non-zero on any failure. */
static int child_work(const struct fx *f, int k, int out_fd)
{
    bpt_store *st = NULL;
    struct bpt_store_row r;
    struct bpt_store_owner me = {getpid(), 0};
    bool created = false, changed = false;
    int made = 0;
    if (bpt_store_process_start(&me.start, getpid()) != 0 ||
        bpt_store_open(&st, f->db, 20000) != 0) {
        return 1;
    }
    for (int i = 0; i < PER_PROC; i++) {
        char name[32];
        snprintf(name, sizeof(name), "p%d-%d", k, i);
        if (bpt_store_claim(&r, &created, st, name, "h", "direct", f->deployments, &me, i) != 0 ||
            !created ||
            bpt_store_transition(&changed, st, r.id, BPT_DEPLOY_CREATING, me.pid,
                                 BPT_DEPLOY_RUNNING, NULL, "", i) != 0 ||
            !changed) {
            fprintf(stderr, "child %d: %s\n", k, bpt_error_last());
            return 1;
        }
        made++;
        bpt_store_row_dispose(&r);
    }
    if (bpt_store_claim(&r, &created, st, "shared", "h", "direct", f->deployments, &me, 0) != 0) {
        fprintf(stderr, "child %d shared: %s\n", k, bpt_error_last());
        return 1;
    }
    made += created ? 1000 : 0;
    bpt_store_row_dispose(&r);
    bpt_store_close(st);
    return write(out_fd, &made, sizeof(made)) == sizeof(made) ? 0 : 1;
}

static void test_processes_share_one_store(void **state)
{
    struct fx *f = *state;
    bpt_store *st = NULL;
    int p[2];
    pid_t kids[PROCS];
    assert_ok(bpt_store_open(&st, f->db, 1000)); /* created and migrated once, first */
    bpt_store_close(st);
    assert_int_equal(pipe(p), 0);
    for (int k = 0; k < PROCS; k++) {
        if ((kids[k] = fork()) == 0) {
            close(p[0]);
            _exit(child_work(f, k, p[1]));
        }
    }
    close(p[1]);
    int total = 0, v = 0;
    for (int k = 0; k < PROCS; k++) {
        int status = 0;
        assert_int_equal(waitpid(kids[k], &status, 0), kids[k]);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    while (read(p[0], &v, sizeof(v)) == sizeof(v)) {
        total += v;
    }
    close(p[0]);
    /* every own name made once, the shared one by exactly one process */
    assert_int_equal(total, PROCS * PER_PROC + 1000);
    struct bpt_store_row *rows = NULL;
    size_t n = 0;
    assert_ok(bpt_store_open(&st, f->db, 1000));
    assert_ok(bpt_store_list(&rows, &n, st, false));
    assert_int_equal(n, PROCS * PER_PROC + 1);
    bpt_store_list_free(rows, n);
    bpt_store_close(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_creates_wal_0600, setup, teardown),
        cmocka_unit_test_setup_teardown(test_claims_and_transitions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migration_from_schema_1, setup, teardown),
        cmocka_unit_test_setup_teardown(test_newer_schema_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_owner_liveness, setup, teardown),
        cmocka_unit_test_setup_teardown(test_processes_share_one_store, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
