/**
 * @file runner.h
 * The runner (DESIGN.md §10): a TeeConfig, a router, a bounded worker pool and queue, the
 * attestation it stamps results with (made and verified at start, refreshed on a schedule), the
 * sealed secrets its handlers read, metrics; and job handlers that are external programs (what
 * `bpt run --job INDEX=COMMAND` uses). Sources: the local HTTP source and the Tangle chain
 * (bpt_source_tangle()).
 *
 *   bpt_runner *run = NULL;
 *   bpt_runner_new(&run, config);                 // a TeeConfig
 *   bpt_runner_set_router(run, router);
 *   bpt_runner_add_source(run, bpt_source_http_local("127.0.0.1:8788"));
 *   return bpt_runner_run(run);                   // attests per mode and requirement, serves,
 *                                                 // drains on SIGTERM/SIGINT
 *
 * An external handler gets the call's body on stdin and answers with the result's body on
 * stdout; a non-zero exit is an error result carrying the last line the program wrote to stderr;
 * a program still running at its time limit is killed (its whole process group) and the result
 * is the error "job_timeout". The program runs with a clean environment (PATH, LANG=C,
 * BPT_JOB_INDEX, BPT_CALL_ID, BPT_SERVICE_ID, and BPT_SECRETS_DIR when it gets secrets), no
 * inherited file descriptors but 0, 1 and 2, and in its own process group.
 *
 * Secrets never travel in argv or the environment: the secrets a handler is given (by name) are
 * written, for the length of one call, as files of mode 0400 in a fresh directory of mode 0700
 * on a memory file system (tmpfs; /dev/shm by default — a directory on any other file system is
 * refused, so a secret never reaches a disk), named by the secret, and removed when the program
 * has exited. BPT_SECRETS_DIR names the directory.
 *
 * Threads: a handler object is immutable once made; bpt_exec_handler_run() may run on many
 * threads at once (each call its own process and directory).
 */
#ifndef BPT_RUNNER_H
#define BPT_RUNNER_H

#include "common.h"
#include "chain.h"
#include "config.h"
#include "context.h"
#include "middleware.h"
#include "policy.h"
#include "runtime.h"

BPT_BEGIN_DECLS

/** Options for bpt_exec_handler_new(). Initialise with BPT_EXEC_HANDLER_OPTS_INIT. */
typedef struct bpt_exec_handler_opts {
    unsigned version;             /**< BPT_EXEC_HANDLER_OPTS_VERSION */
    const char *command;          /**< the program (a path: no PATH search) and its arguments,
                                       split on spaces (no shell) */
    long timeout_ms;              /**< per call, 1..3600000; 0: 30000 */
    size_t max_output;            /**< stdout bytes kept, 1..BPT_JOB_BODY_MAX; 0: 1 MiB */
    const char *const *secrets;   /**< names of the sealed secrets this program gets */
    size_t n_secrets;             /**< 0..64 */
    const char *secrets_base_dir; /**< a tmpfs directory; NULL: /dev/shm */
} bpt_exec_handler_opts;

#define BPT_EXEC_HANDLER_OPTS_VERSION 1
#define BPT_EXEC_HANDLER_OPTS_INIT                                                                 \
    {                                                                                              \
        BPT_EXEC_HANDLER_OPTS_VERSION, NULL, 0, 0, NULL, 0, NULL                                   \
    }

typedef struct bpt_exec_handler bpt_exec_handler;

/**
 * A handler that runs @p o->command for every call (options copied).
 * @return 0; BPT_EINVAL (no command, an empty one, values out of range, a secret name that is
 *         not a key of middleware.h's rules); BPT_ENOMEM.
 */
BPT_API BPT_MUST_USE int bpt_exec_handler_new(bpt_exec_handler **out,
                                              const bpt_exec_handler_opts *o);
/** Free; NULL does nothing. */
BPT_API void bpt_exec_handler_free(bpt_exec_handler *h);

/**
 * The bpt_job_handler: route it with the handler object as userdata,
 * `bpt_router_route(r, index, bpt_exec_handler_run, h)`. Failures to run the program (it cannot be
 * started, the secrets directory is not on tmpfs, a secret is missing) are error results, like
 * the program's own failures.
 */
BPT_API int bpt_exec_handler_run(const bpt_job_call *call, bpt_job_result *result,
                                 const bpt_tee_context *tee, void *handler);

/* ---- the runner ------------------------------------------------------------------------- */

/** Options for bpt_runner_set_options(). Initialise with BPT_RUNNER_OPTS_INIT. */
typedef struct bpt_runner_opts {
    unsigned version;      /**< BPT_RUNNER_OPTS_VERSION */
    size_t workers;        /**< worker threads, 1..256; 0: 4 */
    size_t queue_depth;    /**< jobs waiting beyond the busy workers, 1..65536; 0: 256 */
    long drain_timeout_ms; /**< how long bpt_runner_stop() lets in-flight jobs finish; 0: 10 s */
    bpt_provider simulate; /**< attest with this simulated TEE (test services); UNKNOWN: hardware */
    const char *sim_dir;   /**< the simulator's directory (bpt_sim_init), with simulate */
    const char *root;      /**< filesystem root for TEE detection and devices; NULL: "/" */
    bpt_verify_ctx *verify_ctx; /**< verifies the runner's own evidence (a reference is taken);
                                     NULL: pinned roots, or the simulator's roots with simulate */
    const bpt_policy *policy;   /**< what its own evidence must satisfy (copied); NULL:
                                     production() */
    uint64_t reattest_secs;     /**< refresh the attestation this often; 0: as the config's
                                     attestation_freshness says (periodic: its interval;
                                     provision_time_only: never) */
} bpt_runner_opts;

#define BPT_RUNNER_OPTS_VERSION 1
#define BPT_RUNNER_OPTS_INIT                                                                       \
    {                                                                                              \
        BPT_RUNNER_OPTS_VERSION, 0, 0, 0, BPT_PROVIDER_UNKNOWN, NULL, NULL, NULL, NULL, 0          \
    }

typedef struct bpt_runner bpt_runner;

/**
 * A runner for @p config, with default options. The config is borrowed: it must outlive the
 * runner.
 * Mode hybrid probes for a TEE as auto does and routes each job by the chain's confidentiality
 * rule and the routing file (docs/chain.md); mode remote is not built.
 * @return 0; BPT_EINVAL (NULL); BPT_ENOTSUP (mode remote: not built yet); BPT_ENOMEM.
 */
BPT_API BPT_MUST_USE int bpt_runner_new(bpt_runner **out, const bpt_config *config);
/** Stop (if running) and free, with its sources, cleansing the sealed secrets; NULL does
 * nothing. */
BPT_API void bpt_runner_free(bpt_runner *r);

/**
 * Replace the options (copied; a reference to opts->verify_ctx is taken). Before start.
 * @return 0; BPT_EINVAL (out of range, unknown version, simulate without sim_dir); BPT_EBUSY
 *         (started).
 */
BPT_API BPT_MUST_USE int bpt_runner_set_options(bpt_runner *r, const bpt_runner_opts *opts);

/**
 * Place TEE jobs in a runtime deployment (docs/runner.md): when the runner has no attested TEE
 * of its own, a job the routing wants in a TEE (tee_required, or tee_preferred) goes to the
 * workload of deployment @p id (an id, or a live deployment's name) of @p rt (borrowed: it must
 * outlive the runner) as POST /v1/jobs/{index} over its unix socket; the workload runs
 * `bpt run ... --listen unix:/run/bpt/kx.sock`. Before the first such job, on the re-attestation
 * interval (reattest_secs, else the config's) and after a job could not reach it, the deployment
 * is attested with a fresh nonce and verified by @p rt's verifier; its provider must be one the
 * config allows. Results are stamped with that verified attestation (tee.attestation.digest is
 * SHA-256 of the evidence the runner verified), after the workload's own stamp was checked to
 * name the same provider and measurement. A deployment that is not running or whose attestation
 * does not verify gets no job: a tee_required job is then the error result "routing_refused"
 * naming the rule and the reason (never run plainly); a tee_preferred one runs here, unstamped.
 * standard_required jobs never go to the deployment. With a deployment every job index is
 * accepted by the sources (the workload answers unknown_job for its missing ones). Before start.
 * @return 0; BPT_EINVAL (NULL, an id of a wrong shape); BPT_EBUSY (started, or set already);
 *         BPT_ENOMEM.
 */
BPT_API BPT_MUST_USE int bpt_runner_set_deployment(bpt_runner *r, bpt_runtime *rt, const char *id);

/** The router jobs go to (borrowed; it must outlive the runner). Before bpt_runner_start(). */
BPT_API BPT_MUST_USE int bpt_runner_set_router(bpt_runner *r, bpt_router *router);

/* ---- job sources -------------------------------------------------------------------------- */

/**
 * A job source: where calls come from and where their results go (the local HTTP source, the
 * chain). It is started after the runner has attested and its workers run, and feeds calls with
 * bpt_runner_submit(). On stop the runner first refuses new submissions (the source answers
 * "try later"), drains, and only then stops the sources: every call a source submitted has had
 * its done call by then.
 */
typedef struct bpt_source_vtable {
    unsigned version; /**< BPT_SOURCE_VERSION */
    const char *name; /**< for messages and logs */
    /** Begin taking calls for @p runner (borrowed while started). @return 0; an error code. */
    int (*start)(void *state, bpt_runner *runner);
    /** Stop taking calls; results of calls already submitted may still arrive. */
    void (*stop)(void *state);
    /** Free the state (after stop); may be NULL. */
    void (*free)(void *state);
} bpt_source_vtable;

#define BPT_SOURCE_VERSION 1

typedef struct bpt_source bpt_source;

/**
 * A source made of @p vt (borrowed: static storage) and @p state (owned: vt->free frees it).
 * NULL (with the error message set) when @p vt is not version BPT_SOURCE_VERSION with start and
 * stop, or out of memory; @p state is then freed.
 */
BPT_API bpt_source *bpt_source_new(const bpt_source_vtable *vt, void *state);

/**
 * The local HTTP source (DESIGN.md §10): one listener on @p listen ("HOST:PORT", a numeric
 * address; port 0 picks one) serving POST /v1/jobs/{job_index}, the key-exchange endpoints
 * whose secrets reach the handlers' TeeContext, GET /v1/attestation, /healthz and /metrics.
 * "unix:/ABSOLUTE/PATH" listens on that unix socket instead (mode 0600; an old socket there is
 * replaced; removed at stop): a workload in a runtime deployment serves on
 * unix:/run/bpt/kx.sock, where the runtime attests it and a runner places jobs
 * (bpt_runner_set_deployment()); bpt_runner_http_port() is then 0.
 * NULL (with the error message set) when @p listen is not such an address.
 */
BPT_API bpt_source *bpt_source_http_local(const char *listen);

/** Options for bpt_source_tangle(). Initialise with BPT_TANGLE_SOURCE_OPTS_INIT. */
typedef struct bpt_tangle_source_opts {
    unsigned version;         /**< BPT_TANGLE_SOURCE_OPTS_VERSION */
    const char *rpc_url;      /**< the node (https://, or http:// to loopback) */
    const char *tangle;       /**< the Tangle contract's address ("0x" + 40 hex digits) */
    uint64_t service_id;      /**< the service whose jobs this runner serves */
    const char *operator_key; /**< the operator key file (bpt_eth_key_load()) */
    const char *key_password; /**< for a keystore file; NULL for a hex key file (copied,
                                   cleansed at free) */
    const char *state_path;   /**< the SQLite file that keeps the cursor and the calls taken */
    uint64_t start_block;     /**< where a new state file starts reading; 0: latest - 9 (the
                                   SDK's first poll) */
    uint32_t confirmations;   /**< read only blocks this deep below the head; 0: none */
    long poll_ms;             /**< between polls; 0: 2000 (the SDK's) */
    uint32_t window;          /**< blocks per eth_getLogs; 0: 10 (the SDK's) */
    const char *bsm;          /**< the blueprint's service manager: publish this runner's
                                   attestation there (reportProvisioned) and check it
                                   (getAttestationHash); NULL: no dual-path check */
} bpt_tangle_source_opts;

#define BPT_TANGLE_SOURCE_OPTS_VERSION 1
#define BPT_TANGLE_SOURCE_OPTS_INIT                                                                \
    {                                                                                              \
        BPT_TANGLE_SOURCE_OPTS_VERSION, NULL, NULL, 0, NULL, NULL, NULL, 0, 0, 0, 0, NULL          \
    }

/**
 * The Tangle chain source and result sink (DESIGN.md §12, docs/chain.md): polls eth_getLogs on
 * the Tangle contract in windows of @p o->window blocks @p o->confirmations below the head,
 * takes this service's JobSubmitted / JobSubmittedFromQuote calls (metadata X-TANGLE-CALL-ID,
 * -SERVICE-ID, -JOB-INDEX, -BLOCK-NUMBER, -BLOCK-HASH, -TIMESTAMP, -CALLER, as the SDK's
 * producer), and sends every ok result back as submitResult signed by the operator key. The
 * cursor and the calls taken persist in @p o->state_path: a restart neither loses nor repeats a
 * job; a reorganisation below the cursor is detected by block hash and replayed.
 * At start it reads the blueprint's execution profile and the service's confidentiality: a
 * runner that may not serve under that rule does not start (tee_required without an attested
 * TEE: BPT_EUNSATISFIABLE). With @p o->bsm it publishes the runner's attestation and compares
 * the on-chain hash; a failure refuses the start when the config's on_chain_verification is
 * on, else it is logged. Options are copied. NULL (message set) for bad options.
 */
BPT_API bpt_source *bpt_source_tangle(const bpt_tangle_source_opts *o);

/** Free a source never added to a runner; NULL does nothing. */
BPT_API void bpt_source_free(bpt_source *s);

/**
 * Add @p source (taken over, also on failure: freed then). Before start; at most 8.
 * @return 0; BPT_EINVAL (NULL: the message carries the source constructor's reason);
 *         BPT_EBUSY (started); BPT_ELIMIT (8 sources).
 */
BPT_API BPT_MUST_USE int bpt_runner_add_source(bpt_runner *r, bpt_source *source);

/** The port the local HTTP source listens on once started (the one picked for port 0); 0 when
 * the runner has none or it is not started. */
BPT_API uint16_t bpt_runner_http_port(const bpt_runner *r);

/* ---- running ------------------------------------------------------------------------------ */

/**
 * Start: by the config's mode and requirement (DESIGN.md §10) — `disabled` runs plain (results
 * unstamped); `auto` looks for a TEE (bpt_detect) and attests when it finds one (or simulates);
 * `direct` attests. Jobs run through the runner's TeeLayer, outside every layer of the router
 * (the router itself is not changed): it stamps ok results with the current snapshot and drops
 * any tee.* entry a handler or layer wrote, in every mode.
 * Attesting means: evidence binding a fresh random nonce, verified by the runner's own context
 * and policy, the nonce checked, and the snapshot results are stamped with. When that fails,
 * `required` refuses to start (the message names why) and `preferred` logs a warning and runs
 * without stamps. Then the workers, the re-attestation schedule and the sources.
 * @return 0; BPT_EUNSATISFIABLE (required, and no TEE or its evidence did not verify: the
 *         message says which); BPT_EINVAL (no router); BPT_EBUSY (already started); a source's
 *         error (e.g. BPT_EIO: its port is in use), everything started stopped again.
 */
BPT_API BPT_MUST_USE int bpt_runner_start(bpt_runner *r);

/**
 * Start, then bpt_runner_wait(). SIGTERM and SIGINT are blocked in the calling thread before
 * anything starts, so the runner's threads inherit the mask and the signal is taken here; call
 * it from the main thread before other threads exist, or block the two signals in them. The
 * signal mask is restored on return.
 * @return 0 after a signal or bpt_runner_shutdown(); bpt_runner_start()'s error.
 */
BPT_API BPT_MUST_USE int bpt_runner_run(bpt_runner *r);

/**
 * Block until SIGTERM or SIGINT arrives (taken with sigtimedwait: every thread of the process
 * must have the two blocked, which bpt_runner_run() arranges for the runner's own) or
 * bpt_runner_shutdown() is called; then stop (bpt_runner_stop()) and cleanse the sealed
 * secrets the run received. For a caller that starts the runner itself (to print where it
 * listens, say).
 */
BPT_API void bpt_runner_wait(bpt_runner *r);

/** Make bpt_runner_run() / bpt_runner_wait() return (any thread; not from a signal handler). */
BPT_API void bpt_runner_shutdown(bpt_runner *r);

/** Called when a submitted job is done, on the worker thread that ran it; @p result is borrowed
 * for the call. */
typedef void (*bpt_runner_done_fn)(const bpt_job_call *call, const bpt_job_result *result,
                                   void *userdata);

/**
 * Queue @p call (taken over on success) for a worker; @p done gets its result.
 * @return 0; BPT_EBUSY (the queue is full: back-pressure, retry later); BPT_EINVAL (not
 *         started, or stopping). Threads: any.
 */
BPT_API BPT_MUST_USE int bpt_runner_submit(bpt_runner *r, bpt_job_call *call,
                                           bpt_runner_done_fn done, void *userdata);

/**
 * Stop taking jobs, let queued and in-flight ones finish within the drain deadline (jobs still
 * queued then are answered with the error "shutting_down"), join the workers, stop the
 * sources. The sealed secrets stay until bpt_runner_free() (a restart keeps them). Threads: any
 * one thread; idempotent.
 */
BPT_API void bpt_runner_stop(bpt_runner *r);

/** The sealed-secret store handlers read through their TeeContext (borrowed; for the
 * key-exchange plane that fills it). */
BPT_API bpt_kx_store *bpt_runner_store(bpt_runner *r);
/** The current attestation snapshot (a new reference), or NULL when results are unstamped. */
BPT_API bpt_tee_snapshot *bpt_runner_snapshot(bpt_runner *r);
/**
 * Attest again now (what the schedule does): a new snapshot on success; on failure the old one
 * stays while it is younger than max_attestation_age_secs. @return 0; the attestation's error.
 */
BPT_API BPT_MUST_USE int bpt_runner_reattest(bpt_runner *r);

/**
 * Prometheus text: jobs by index and outcome, a latency histogram, queue depth, in-flight
 * jobs, refused submissions, the attestation's age, the stamping refusals.
 * @param[out] out free with bpt_free(). @return 0; BPT_ENOMEM.
 */
BPT_API BPT_MUST_USE int bpt_runner_metrics(char **out, bpt_runner *r);

BPT_END_DECLS

#endif
