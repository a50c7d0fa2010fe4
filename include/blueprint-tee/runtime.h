/**
 * @file runtime.h
 * Runtime backends (DESIGN.md §11): deploy a workload, attest it, reach its key-exchange plane,
 * stop and destroy it. A bpt_runtime is the registry: backends by name over one deployment
 * store (SQLite). The built-in `direct` backend runs the workload under a real OCI runtime
 * (runc, or crun) with a hardened config.json and the host's TEE devices passed through
 * (docs/runtime.md); the remote backends (DESIGN.md §13; docs/runtime.md, "Remote backends")
 * run it in the clouds' TEEs through their APIs: `aws_nitro` in an AWS Nitro Enclave on EC2,
 * `azure_cvm` on an Azure confidential VM, `gcp_confidential_space` in GCP Confidential Space.
 * Others plug in through sys/backend.h.
 *
 *   bpt_deploy_spec *spec = NULL;  bpt_deploy_spec_load_json(&spec, json, len);
 *   bpt_runtime *rt = NULL;        bpt_runtime_new(&rt, &opts);     // opens, reconciles
 *   bpt_deployment *d = NULL;      bpt_runtime_deploy(&d, rt, spec, NULL);
 *   bpt_verified *v = NULL;        bpt_runtime_attestation(&v, rt, bpt_deployment_id(d), NULL, 0);
 *   ...                            bpt_runtime_stop(rt, id); bpt_runtime_destroy(rt, id);
 *
 * The workload's key-exchange plane (DESIGN.md §6) is a unix socket in its deployment's host
 * directory, bind-mounted at /run/bpt in the container: the workload serves on
 * /run/bpt/kx.sock (`bpt serve --listen unix:/run/bpt/kx.sock`), $BPT_KX_SOCKET names it. The
 * runtime asks it for evidence binding a fresh nonce and reaches it to seal secrets.
 *
 * Threads: a bpt_runtime is safe from any thread (one mutex over its store connection and
 * caches; runc runs outside it); different processes may share one store (transactions, a busy
 * timeout). A spec and a deployment are immutable: share them freely.
 */
#ifndef BPT_RUNTIME_H
#define BPT_RUNTIME_H

#include "common.h"
#include "config.h"
#include "exchange.h"
#include "verified.h"
#include "verify.h"

BPT_BEGIN_DECLS

/* ---- the deployment spec (DESIGN.md §11) --------------------------------------------------- */

/** A validated deployment spec (immutable). */
typedef struct bpt_deploy_spec bpt_deploy_spec;

/** Limits of a spec. */
#define BPT_DEPLOY_NAME_MAX 63    /**< a name is 1..63 bytes of [a-z0-9][a-z0-9_.-]* */
#define BPT_DEPLOY_MAX_ARGS 64    /**< entries of "args" */
#define BPT_DEPLOY_MAX_ENV 64     /**< entries of "env" */
#define BPT_DEPLOY_MAX_SECRETS 64 /**< entries of "secrets" */
#define BPT_DEPLOY_MAX_DEVICES 4  /**< entries of a "devices" list */
#define BPT_DEPLOY_SPEC_MAX_BYTES (256u * 1024u) /**< a spec's JSON text */

/** Where the workload's network lives. */
typedef enum bpt_deploy_network {
    BPT_DEPLOY_NETWORK_NONE = 0, /**< "none": its own network namespace, loopback only */
    BPT_DEPLOY_NETWORK_HOST      /**< "host": the host's network */
} bpt_deploy_network;

/** Cgroup limits ("resources"); defaults apply to every field the spec leaves out. */
typedef struct bpt_deploy_resources {
    double cpus;        /**< CPU time as a number of CPUs, 0.01..1024 (default 1) */
    uint64_t memory_mb; /**< memory limit in MiB, 4..1048576 (default 512) */
    uint64_t pids;      /**< process limit, 1..65536 (default 256) */
} bpt_deploy_resources;

/**
 * Parse and validate a spec:
 *
 *   {"name":"svc", "image":"/abs/rootfs-or-oci-layout[:tag]", "args":["/bin/bpt","serve",..],
 *    "env":{"K":"v"}, "secrets":["db_password", {"name":"n","value":"v"}],
 *    "resources":{"cpus":1,"memory_mb":512,"pids":256}, "devices":"auto" | ["/dev/sev-guest"],
 *    "network":"none"|"host", "user":{"uid":65534,"gid":65534}, "schema_version":1}
 *
 * name and image are required; unknown keys (at any level) and duplicate keys are refused.
 * image is an absolute path: a root file system directory, or an OCI image layout directory
 * (it holds `oci-layout`) with an optional ":tag". env names are [A-Za-z_][A-Za-z0-9_]*, not
 * BPT_* (the runtime's own) nor a declared secret. secrets are names (bpt_kx_name_is_valid())
 * the workload expects through the sealed exchange; an entry with a "value" carries the secret
 * itself, which only a non-TEE deployment may do (bpt_deploy_spec_check_injection()). devices
 * names TEE devices only (/dev/sev-guest, /dev/tdx_guest, /dev/tdx-guest, /dev/nsm); "auto"
 * (the default) passes those the host has. user is a non-root uid and gid (default
 * 65534:65534, nobody).
 * @param[out] out free with bpt_deploy_spec_free(); NULL on failure.
 * @return 0; BPT_EMALFORMED (not JSON, or a duplicate key); BPT_EINVAL naming the field;
 *         BPT_ELIMIT (text over BPT_DEPLOY_SPEC_MAX_BYTES).
 */
BPT_API BPT_MUST_USE int bpt_deploy_spec_load_json(bpt_deploy_spec **out, const char *json,
                                                   size_t len);

/** Free (secret values are cleansed); NULL does nothing. */
BPT_API void bpt_deploy_spec_free(bpt_deploy_spec *s);

/**
 * The sealed-only rule: under BPT_SECRETS_SEALED_ONLY (every TEE mode: direct, remote, hybrid)
 * a spec may not carry secret values: secrets reach a TEE only through the sealed exchange
 * (`bpt seal --deployment ID`), and a deployment is never recreated to change them.
 * @return 0; BPT_EINVAL naming the first secret that carries a value.
 */
BPT_API BPT_MUST_USE int bpt_deploy_spec_check_injection(const bpt_deploy_spec *s,
                                                         bpt_secret_injection injection);

/**
 * Hex SHA-256 of the spec's canonical JSON (defaults filled in, keys sorted, compact), without
 * secret values: what deploy compares to be idempotent. Borrowed from @p s.
 */
BPT_API const char *bpt_deploy_spec_hash(const bpt_deploy_spec *s);

/** The canonical JSON (secret values left out). Free with bpt_free(). */
BPT_API BPT_MUST_USE int bpt_deploy_spec_to_json(char **out, const bpt_deploy_spec *s);

/* Accessors (borrowed strings; an index past the end gives NULL). */
BPT_API const char *bpt_deploy_spec_name(const bpt_deploy_spec *s);
BPT_API const char *bpt_deploy_spec_image(const bpt_deploy_spec *s);
BPT_API size_t bpt_deploy_spec_arg_count(const bpt_deploy_spec *s);
BPT_API const char *bpt_deploy_spec_arg(const bpt_deploy_spec *s, size_t i);
BPT_API size_t bpt_deploy_spec_env_count(const bpt_deploy_spec *s);
BPT_API const char *bpt_deploy_spec_env_name(const bpt_deploy_spec *s, size_t i);
BPT_API const char *bpt_deploy_spec_env_value(const bpt_deploy_spec *s, size_t i);
BPT_API size_t bpt_deploy_spec_secret_count(const bpt_deploy_spec *s);
BPT_API const char *bpt_deploy_spec_secret_name(const bpt_deploy_spec *s, size_t i);
/** The value a non-TEE spec carries for secret @p i, or NULL (the sealed exchange delivers it). */
BPT_API const char *bpt_deploy_spec_secret_value(const bpt_deploy_spec *s, size_t i);
BPT_API void bpt_deploy_spec_resources(const bpt_deploy_spec *s, bpt_deploy_resources *out);
/** true for "devices":"auto"; else the list (possibly empty) below. */
BPT_API bool bpt_deploy_spec_devices_auto(const bpt_deploy_spec *s);
BPT_API size_t bpt_deploy_spec_device_count(const bpt_deploy_spec *s);
BPT_API const char *bpt_deploy_spec_device(const bpt_deploy_spec *s, size_t i);
BPT_API bpt_deploy_network bpt_deploy_spec_network(const bpt_deploy_spec *s);
BPT_API uint32_t bpt_deploy_spec_uid(const bpt_deploy_spec *s);
BPT_API uint32_t bpt_deploy_spec_gid(const bpt_deploy_spec *s);

/* ---- deployments ------------------------------------------------------------------------- */

/** A deployment's state in the store. */
typedef enum bpt_deploy_state {
    BPT_DEPLOY_CREATING = 0, /**< "creating": a bpt process is deploying it */
    BPT_DEPLOY_RUNNING,      /**< "running" */
    BPT_DEPLOY_STOPPED,      /**< "stopped": stopped, or its workload exited */
    BPT_DEPLOY_FAILED,       /**< "failed": deploying failed or was interrupted, or it vanished */
    BPT_DEPLOY_DESTROYED     /**< "destroyed": gone; the row is kept */
} bpt_deploy_state;

/** "creating", "running", ...; "unknown" for a value out of range. */
BPT_API const char *bpt_deploy_state_name(bpt_deploy_state s);

/** One deployment as the store last knew it (a snapshot; immutable). */
typedef struct bpt_deployment bpt_deployment;

/** Free; NULL does nothing. */
BPT_API void bpt_deployment_free(bpt_deployment *d);
/** Free a list from bpt_runtime_list() and its elements; NULL does nothing. */
BPT_API void bpt_deployment_list_free(bpt_deployment **list, size_t n);

/** The id: 16 lower-case hex digits. */
BPT_API const char *bpt_deployment_id(const bpt_deployment *d);
BPT_API const char *bpt_deployment_name(const bpt_deployment *d);
BPT_API const char *bpt_deployment_backend(const bpt_deployment *d);
BPT_API const char *bpt_deployment_spec_hash(const bpt_deployment *d);
BPT_API bpt_deploy_state bpt_deployment_state(const bpt_deployment *d);
/** The host directory (the workload's /run/bpt), writable by the workload's user. */
BPT_API const char *bpt_deployment_host_dir(const bpt_deployment *d);
/** The workload's key-exchange socket: host_dir/kx.sock. */
BPT_API const char *bpt_deployment_kx_socket(const bpt_deployment *d);
/** Why it is in its state ("the workload exited", a failure's message), or "" . */
BPT_API const char *bpt_deployment_detail(const bpt_deployment *d);
/** Hex SHA-256 of the evidence of its last verified attestation, or NULL. */
BPT_API const char *bpt_deployment_attestation_digest(const bpt_deployment *d);
/** Unix seconds: created, last changed, last attested (0: never). */
BPT_API int64_t bpt_deployment_created_at(const bpt_deployment *d);
BPT_API int64_t bpt_deployment_updated_at(const bpt_deployment *d);
BPT_API int64_t bpt_deployment_attested_at(const bpt_deployment *d);

/**
 * {"id","name","backend","state","spec_hash","host_dir","kx_socket","detail","created_at",
 *  "updated_at","attestation_digest" (null when never),"attested_at"} (docs/schemas/
 * deployment.schema.json). Free with bpt_free().
 */
BPT_API BPT_MUST_USE int bpt_deployment_to_json(char **out, const bpt_deployment *d);

/* ---- the runtime (registry + store) ------------------------------------------------------ */

typedef struct bpt_runtime bpt_runtime;

/** Options of bpt_runtime_new(); initialise with BPT_RUNTIME_OPTIONS_INIT. */
typedef struct bpt_runtime_options {
    unsigned version;         /**< BPT_RUNTIME_OPTIONS_VERSION */
    const char *state_dir;    /**< the store (state.db), deployments/, runc/; NULL: the default,
                                 bpt_runtime_default_state_dir() */
    const char *backend;      /**< the default backend's name; NULL: $TEE_BACKEND, else from the
                                   config (bpt_runtime_backend_for_config()), else "direct" */
    const bpt_config *config; /**< NULL: none (secret injection sealed_only); read during
                                   bpt_runtime_new() only */
    const struct bpt_verifier *verifier; /**< how attestations are verified (borrowed: must
                                              outlive the runtime); NULL: attestation and
                                              public_key refuse with BPT_EINVAL */
    const char *host_root;     /**< where TEE devices and configfs-tsm are looked up; NULL: "/" */
    const char *oci_runtime;   /**< the OCI runtime binary; NULL: runc, else crun, from $PATH */
    unsigned busy_timeout_ms;  /**< how long to wait for another process's transaction (0: 10000) */
    unsigned stop_timeout_ms;  /**< stop: SIGTERM, then SIGKILL after this (0: 10000) */
    unsigned ready_timeout_ms; /**< attestation, public key, kx socket: how long a workload's
                                    plane may take to accept (0: 10000) */
} bpt_runtime_options;

#define BPT_RUNTIME_OPTIONS_VERSION 1
#define BPT_RUNTIME_OPTIONS_INIT                                                                   \
    {                                                                                              \
        BPT_RUNTIME_OPTIONS_VERSION, NULL, NULL, NULL, NULL, NULL, NULL, 0, 0, 0                   \
    }

/**
 * The default state directory: $XDG_STATE_HOME/bpt (else ~/.local/state/bpt), or /var/lib/bpt
 * as root (DESIGN.md §11). @return 0; BPT_ELIMIT (longer than @p len); BPT_ENOTFOUND (no home).
 */
BPT_API BPT_MUST_USE int bpt_runtime_default_state_dir(char *out, size_t len);

/**
 * The backend a TeeConfig implies: "direct" for the modes auto, disabled, direct and hybrid
 * (the workloads run on this host); for remote, the cloud backend of the first provider the
 * selector allows that has one (aws_nitro -> "aws_nitro", azure_snp -> "azure_cvm",
 * gcp_confidential -> "gcp_confidential_space").
 * @return the name (static); NULL for remote with no such provider ("any" names none).
 */
BPT_API const char *bpt_runtime_backend_for_config(const bpt_config *c);

/**
 * Open (creating it and its directory, 0700) the store under the state directory, register the
 * built-in backends, and reconcile the store with what the OCI runtime runs (as
 * bpt_runtime_reconcile()).
 * @return 0; BPT_EINVAL (options, an unknown default backend, remote mode naming none);
 *         BPT_EIO (the directory or the database cannot be opened or migrated); BPT_ENOTSUP
 *         (a store written by a newer bpt); BPT_EBUSY (another process held the store past the
 *         busy timeout).
 */
BPT_API BPT_MUST_USE int bpt_runtime_new(bpt_runtime **out, const bpt_runtime_options *opts);

/** Close the store and free; NULL does nothing. Deployments keep running. */
BPT_API void bpt_runtime_free(bpt_runtime *rt);

/** The default backend's name (borrowed). */
BPT_API const char *bpt_runtime_default_backend(const bpt_runtime *rt);

/**
 * Deploy @p spec with @p backend (NULL: the default): idempotent by name and spec hash. No live
 * deployment of that name: a new one (state creating, then running). One with the same spec
 * hash: that deployment (started again in place when stopped or failed; waited for while
 * another process is deploying it). One with another spec: refused, nothing changes (destroy it
 * first: a deployment is never recreated in place, so its secrets are never changed by one).
 * The spec must pass bpt_deploy_spec_check_injection() under the config's secret injection.
 * @param[out] out the deployment after the call; NULL on failure.
 * @return 0; BPT_EEXISTS (the name is deployed with another spec); BPT_EINVAL (the sealed-only
 *         rule, a device the host does not have, an image that is not one); BPT_ENOTSUP (a
 *         remote backend); BPT_ENOTFOUND (no OCI runtime; an unknown backend); BPT_EIO (the
 *         OCI runtime failed: its message); BPT_EBUSY.
 */
BPT_API BPT_MUST_USE int bpt_runtime_deploy(bpt_deployment **out, bpt_runtime *rt,
                                            const bpt_deploy_spec *spec, const char *backend);

/**
 * One deployment by id (or by name, for a live one), its state checked with its backend first
 * (as reconciling does for one row).
 * @return 0; BPT_ENOTFOUND; BPT_EIO; BPT_EBUSY.
 */
BPT_API BPT_MUST_USE int bpt_runtime_status(bpt_deployment **out, bpt_runtime *rt, const char *id);

/**
 * Every deployment in the store, oldest first (destroyed ones only with @p with_destroyed).
 * @param[out] out free with bpt_deployment_list_free(*out, *n_out).
 */
BPT_API BPT_MUST_USE int bpt_runtime_list(bpt_deployment ***out, size_t *n_out, bpt_runtime *rt,
                                          bool with_destroyed);

/**
 * Attest a running deployment now: its backend asks the workload for evidence binding @p nonce
 * (`GET /v1/attestation?nonce=HEX` on its key-exchange plane, report_data =
 * bpt_kx_attestation_report_data(nonce)), and verifies it with the runtime's verifier expecting
 * exactly that report_data. What verified is cached (bpt_runtime_cached_attestation()) and its
 * evidence digest recorded in the store.
 * @param nonce, nonce_len BPT_KX_NONCE_MIN..MAX bytes, or NULL with 0 for a fresh random 32.
 * @return 0; BPT_ENOTFOUND; BPT_EINVAL (not running, a nonce of another length, no verifier);
 *         BPT_EFETCH (the workload does not answer); BPT_EPROTOCOL (an answer that is not the
 *         protocol's); the attestation kinds (BPT_ESIGNATURE, BPT_ECLAIM: e.g. report_data not
 *         binding the nonce, ...); BPT_ENOTSUP (a remote backend).
 */
BPT_API BPT_MUST_USE int bpt_runtime_attestation(bpt_verified **out, bpt_runtime *rt,
                                                 const char *id, const uint8_t *nonce,
                                                 size_t nonce_len);

/**
 * The report of the deployment's last attestation that verified (from this runtime's cache,
 * else from the store, where any bpt process that attested it left it), without asking the
 * workload. @param[out] verified_at when it verified (unix seconds); may be NULL.
 * @param[out] out free with bpt_report_free().
 * @return 0; BPT_ENOTFOUND (no such deployment, or never attested).
 */
BPT_API BPT_MUST_USE int bpt_runtime_cached_attestation(bpt_report **out, int64_t *verified_at,
                                                        bpt_runtime *rt, const char *id);

/**
 * The workload's real key-exchange key: a session opened on its plane with a fresh nonce and
 * verified as a sealing client does (bpt_kx_client_session_key()): the session's X25519 key,
 * bound by evidence the verifier accepted (and the attested service key, when the workload
 * uses that binding). Never a hash standing in for a key.
 * @return as bpt_runtime_attestation().
 */
BPT_API BPT_MUST_USE int bpt_runtime_public_key(bpt_kx_client_key *out, bpt_runtime *rt,
                                                const char *id);

/**
 * A path to the unix socket of a running deployment's key-exchange plane (its host directory's
 * kx.sock), once it accepts connections (waiting up to the ready timeout): what a sealing
 * client connects to (bpt_kx_client_options.unix_socket; `bpt seal --deployment ID`). The path
 * is "/proc/self/fd/N", a descriptor of exactly that socket opened without following links and
 * kept open until bpt_runtime_free(): the workload owns its directory, and a link it puts at
 * kx.sock (to a socket of the host's) cannot redirect the connection. For backends that give
 * the workload a host directory (direct).
 * @return 0; BPT_ENOTFOUND; BPT_EINVAL (not running); BPT_ELIMIT (@p len too small, or 64
 *         paths handed out by this runtime already); BPT_EFETCH (the workload does not accept
 *         in time); BPT_EPROTOCOL (kx.sock is no socket: a link, a file).
 */
BPT_API BPT_MUST_USE int bpt_runtime_kx_socket(char *out, size_t len, bpt_runtime *rt,
                                               const char *id);

/**
 * The base URL of a running deployment's key-exchange plane, for backends that reach their
 * workload over the network (the remote ones: "http(s)://ADDRESS:PORT" from the cloud's view of
 * the instance): what a sealing client sends to, verifying the workload's evidence itself
 * (`bpt seal --deployment ID`). Nothing is trusted for being named here: the session's evidence
 * is what a client verifies.
 * @return 0; BPT_ENOTFOUND; BPT_EINVAL (not running); BPT_ENOTSUP (the backend serves its plane
 *         on the deployment's unix socket: bpt_runtime_kx_socket()); BPT_ELIMIT (@p len too
 *         small); the backend's code (its cloud unreachable, ...).
 */
BPT_API BPT_MUST_USE int bpt_runtime_plane_url(char *out, size_t len, bpt_runtime *rt,
                                               const char *id);

/**
 * Stop a deployment's workload (SIGTERM, then SIGKILL after the stop timeout, 10 s by default); its
 * directories stay, and deploying the same spec starts it again. Stopping a stopped or failed one
 * does nothing.
 * @return 0; BPT_ENOTFOUND; BPT_EINVAL (destroyed); BPT_EBUSY (being deployed by another
 *         process); BPT_EIO.
 */
BPT_API BPT_MUST_USE int bpt_runtime_stop(bpt_runtime *rt, const char *id);

/**
 * Destroy a deployment: its workload is killed, its container and directories (host directory
 * included) removed; the row stays, state destroyed. Destroying a destroyed one does nothing.
 * @return 0; BPT_ENOTFOUND; BPT_EBUSY (being deployed by another process); BPT_EIO.
 */
BPT_API BPT_MUST_USE int bpt_runtime_destroy(bpt_runtime *rt, const char *id);

/** What bpt_runtime_reconcile() changed. */
typedef struct bpt_runtime_reconcile_stats {
    size_t checked; /**< deployments compared with their backend */
    size_t updated; /**< rows whose state changed to what the backend says */
    size_t cleaned; /**< half-made containers of interrupted deploys removed */
    size_t orphans; /**< containers the store does not know (or destroyed), removed */
} bpt_runtime_reconcile_stats;

/**
 * Make the store and the backends agree: nothing runs that the store does not know, and
 * nothing in the store claims to run that does not. A row being deployed by a live bpt process
 * is left alone; one whose process died is settled: a container it created but never started is
 * removed and the row marked failed, one that runs is recorded as running. A running row whose
 * container is gone becomes failed, one whose workload exited stopped. A container the store
 * does not know (or knows as destroyed) is removed. Runs in bpt_runtime_new().
 * @param[out] out may be NULL.
 * @return 0; BPT_EIO; BPT_EBUSY.
 */
BPT_API BPT_MUST_USE int bpt_runtime_reconcile(bpt_runtime_reconcile_stats *out, bpt_runtime *rt);

BPT_END_DECLS

#endif
