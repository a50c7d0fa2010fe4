/*
 * The deployment store: one SQLite database (WAL), one row per deployment. Safe across processes:
 * every change is one statement or one IMMEDIATE transaction, and a connection waits up to its
 * busy timeout for another process's transaction. The schema is versioned (PRAGMA user_version)
 * and migrated forward on open, each step in its own transaction; a database from a newer bpt
 * is refused.
 *
 * Threads: a store is one connection, used by one thread at a time (the runtime's mutex).
 */
#ifndef BPT_RUNTIME_STORE_H
#define BPT_RUNTIME_STORE_H

#include <blueprint-tee/runtime.h>

#include <stdint.h>
#include <sys/types.h>

/** The schema this bpt writes. */
#define BPT_STORE_SCHEMA_VERSION 2

typedef struct bpt_store bpt_store;

/** A row (strings owned; free with bpt_store_row_dispose()). */
struct bpt_store_row {
    char id[17];
    char name[BPT_DEPLOY_NAME_MAX + 1];
    char spec_hash[65];
    char backend[32];
    bpt_deploy_state state;
    int64_t created_at, updated_at, attested_at;
    char *host_dir;
    char *detail;             /* "" when none */
    char *attestation_digest; /* NULL when never attested */
    int64_t owner_pid;        /* the process deploying it (state creating), else 0 */
    int64_t owner_start;      /* that process's start time (clock ticks since boot) */
};

void bpt_store_row_dispose(struct bpt_store_row *r);

/** Open (create with mode 0600) the database at @p path and migrate it. */
BPT_MUST_USE int bpt_store_open(bpt_store **out, const char *path, unsigned busy_timeout_ms);
void bpt_store_close(bpt_store *st);

/** The schema version of the open database (BPT_STORE_SCHEMA_VERSION after a migration). */
unsigned bpt_store_schema(const bpt_store *st);

/** Who is deploying: this process, identified by pid and start time. */
struct bpt_store_owner {
    int64_t pid;
    int64_t start;
};

/**
 * In one IMMEDIATE transaction: the live (not destroyed) row named @p name into @p out
 * (*created false), or, when there is none, a new row (random id, state creating, owned by
 * @p me, host_dir = @p deployments_dir/ID/host) (*created true).
 */
BPT_MUST_USE int bpt_store_claim(struct bpt_store_row *out, bool *created, bpt_store *st,
                                 const char *name, const char *spec_hash, const char *backend,
                                 const char *deployments_dir, const struct bpt_store_owner *me,
                                 int64_t now);

/**
 * Compare and set: row @p id goes from @p from (with @p from_owner_pid as its owner when from is
 * creating) to @p to, owned by @p owner when @p to is creating (else no owner), with @p detail.
 * *changed says whether the row was in @p from (and changed).
 */
BPT_MUST_USE int bpt_store_transition(bool *changed, bpt_store *st, const char *id,
                                      bpt_deploy_state from, int64_t from_owner_pid,
                                      bpt_deploy_state to, const struct bpt_store_owner *owner,
                                      const char *detail, int64_t now);

/** Row by id, or the live row by name. BPT_ENOTFOUND when neither. */
BPT_MUST_USE int bpt_store_get(struct bpt_store_row *out, bpt_store *st, const char *id_or_name);

/** Every row (oldest first), destroyed ones only with @p with_destroyed. */
BPT_MUST_USE int bpt_store_list(struct bpt_store_row **out, size_t *n_out, bpt_store *st,
                                bool with_destroyed);
void bpt_store_list_free(struct bpt_store_row *rows, size_t n);

/** Record a verified attestation: its evidence digest, the report JSON, when. */
BPT_MUST_USE int bpt_store_set_attestation(bpt_store *st, const char *id, const char *digest,
                                           const char *report_json, int64_t at);

/** The last recorded report JSON (malloc'd) and when; BPT_ENOTFOUND when none. */
BPT_MUST_USE int bpt_store_get_attestation(char **report_json, int64_t *at, bpt_store *st,
                                           const char *id);

/** This process's start time in clock ticks since boot (/proc/self/stat), for ownership. */
BPT_MUST_USE int bpt_store_process_start(int64_t *out, pid_t pid);

/** Whether @p owner's process still runs (the same process: pid and start time). */
bool bpt_store_owner_alive(int64_t pid, int64_t start);

#endif
