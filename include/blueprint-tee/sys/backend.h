/**
 * @file sys/backend.h
 * The runtime backend interface (the Rust TeeRuntimeBackend): a versioned vtable a bpt_runtime
 * dispatches to by name. The built-in `direct` backend fills the same vtable; an application
 * adds its own with bpt_runtime_add_backend() (a name of its own, or a built-in's name to take
 * its place, e.g. a remote backend before this library has one).
 *
 * The runtime owns the store: it creates the deployment's row and directories, records every
 * state change, keeps the cache of verified attestations and reconciles; a backend only makes
 * the workload run, stop and go away, says what runs, and reaches the workload. A backend fails
 * like the library does: a negative code after bpt_error_set() (error.h).
 *
 * Threads: the runtime calls a backend from any thread that calls the runtime, never while it
 * holds its own lock, possibly concurrently for different deployments; every function must be
 * reentrant. Calls for one deployment are never concurrent within one runtime (other processes
 * sharing the store may call their own copy of the backend, hence the store's rules).
 */
#ifndef BPT_SYS_BACKEND_H
#define BPT_SYS_BACKEND_H

#include "../runtime.h"

BPT_BEGIN_DECLS

/** The interface version this library implements: 2 added plane_url; backends of version 1
 *  (without it) are still taken. */
#define BPT_RUNTIME_BACKEND_VERSION 2

/** What the runtime gives a backend for one deployment (borrowed for the call). */
typedef struct bpt_backend_deployment {
    const char *id;        /**< 16 lower-case hex digits */
    const char *name;      /**< the spec's name */
    const char *dir;       /**< the deployment's own directory (0700, created by the runtime) */
    const char *host_dir;  /**< dir/host: the workload's /run/bpt (0700, created by the runtime;
                                the backend gives it to the workload's user) */
    const char *kx_socket; /**< host_dir/kx.sock */
    const bpt_deploy_spec *spec; /**< deploy only; NULL otherwise */
} bpt_backend_deployment;

/** What the runtime was opened with, for a backend's init() (borrowed for the call). */
typedef struct bpt_backend_env {
    const char *state_dir;               /**< the runtime's state directory */
    const char *host_root;               /**< where host devices are looked up ("/") */
    const char *oci_runtime;             /**< the OCI runtime binary the caller named, or NULL */
    const struct bpt_verifier *verifier; /**< the runtime's verifier, or NULL (borrowed for the
                                              runtime's life) */
    unsigned stop_timeout_ms;  /**< how long stop() lets a workload end before killing it */
    unsigned ready_timeout_ms; /**< how long to wait for a just-started workload's plane */
} bpt_backend_env;

/** What a backend reports about a deployment it knows of. */
typedef enum bpt_backend_state {
    BPT_BACKEND_ABSENT = 0, /**< nothing of it exists in the backend */
    BPT_BACKEND_CREATED,    /**< made but never started (an interrupted deploy) */
    BPT_BACKEND_RUNNING,    /**< its workload runs (or is paused) */
    BPT_BACKEND_EXITED      /**< made and started, its workload has exited */
} bpt_backend_state;

/** list() calls this once per deployment the backend has; non-zero stops the walk. */
typedef int (*bpt_backend_list_fn)(const char *id, bpt_backend_state state, void *ud);

/** A backend. Functions not marked optional are required. */
typedef struct bpt_runtime_backend {
    unsigned version; /**< BPT_RUNTIME_BACKEND_VERSION */
    const char *name; /**< [a-z0-9_]{1,31}, e.g. "direct" */
    /** Optional: make the backend's state for one runtime; *state goes to every call. */
    int (*init)(void **state, const bpt_backend_env *env, void *userdata);
    /** Optional: release it. */
    void (*cleanup)(void *state);
    /** Make the workload of d->spec run (again, in place, when it was stopped or failed). On
     *  failure nothing of it may keep running. */
    int (*deploy)(void *state, const bpt_backend_deployment *d);
    /** Evidence from the running workload binding @p nonce, verified with the env's verifier
     *  (runtime.h, bpt_runtime_attestation(); bpt_runtime_attest_workload() does it for a
     *  workload that serves the key-exchange plane on d->kx_socket). */
    int (*attestation)(bpt_verified **out, void *state, const bpt_backend_deployment *d,
                       const uint8_t *nonce, size_t nonce_len);
    /** Optional: the last verified report, when the backend keeps one; NULL: the runtime's own
     *  cache and store answer (BPT_ENOTFOUND from here also falls back to them). */
    int (*cached_attestation)(bpt_report **out, int64_t *verified_at, void *state,
                              const bpt_backend_deployment *d);
    /** The workload's verified key-exchange key (bpt_runtime_public_key()). */
    int (*public_key)(bpt_kx_client_key *out, void *state, const bpt_backend_deployment *d);
    /** What runs of it now. */
    int (*status)(bpt_backend_state *out, void *state, const bpt_backend_deployment *d);
    /** Stop its workload; the deployment may be deployed (started) again. Nothing running: 0. */
    int (*stop)(void *state, const bpt_backend_deployment *d);
    /** Remove everything of it the backend made (not d->dir: the runtime removes that).
     *  Nothing left: 0. Also called with only d->id set for a deployment the store does not
     *  know (an orphan). */
    int (*destroy)(void *state, const bpt_backend_deployment *d);
    /** Every deployment the backend has (for reconciling), by id. */
    int (*list)(void *state, bpt_backend_list_fn fn, void *ud);
    /** Optional (version 2): the base URL of the running workload's key-exchange plane
     *  ("http(s)://ADDRESS:PORT", NUL-terminated in @p out of @p cap bytes) for a workload that
     *  is reached over the network rather than on d->kx_socket (a cloud TEE); what
     *  bpt_runtime_plane_url() answers and `bpt seal --deployment` seals to. */
    int (*plane_url)(char *out, size_t cap, void *state, const bpt_backend_deployment *d);
} bpt_runtime_backend;

/**
 * Register @p be (copied; its name must not be registered yet, except a built-in's, which it
 * replaces; userdata goes to init()). Runs init() now.
 * @return 0; BPT_EINVAL (NULL, a version this library does not implement, a bad name, a
 *         required function missing, the name registered already); init()'s code.
 * Threads: before the runtime is used from other threads.
 */
BPT_API BPT_MUST_USE int bpt_runtime_add_backend(bpt_runtime *rt, const bpt_runtime_backend *be,
                                                 void *userdata);

/**
 * For backends whose workload serves the key-exchange plane on a unix socket: GET
 * /v1/attestation?nonce=HEX on @p kx_socket, the report verified with @p verifier expecting
 * report_data = bpt_kx_attestation_report_data(nonce) exactly.
 * @return as bpt_runtime_attestation().
 */
BPT_API BPT_MUST_USE int bpt_runtime_attest_workload(bpt_verified **out, const char *kx_socket,
                                                     const struct bpt_verifier *verifier,
                                                     const uint8_t *nonce, size_t nonce_len);

BPT_END_DECLS

#endif
