/*
 * A runtime deployment as the place where a runner without a TEE of its own runs its TEE jobs
 * (docs/runner.md "Placing TEE jobs in a deployment"; `bpt run --deployment ID`).
 *
 * Before the first job, and again when the last verified attestation is older than the
 * interval (or an exchange with the workload failed), the deployment is attested through the
 * runtime with a fresh random nonce and verified by the runtime's verifier
 * (bpt_runtime_attestation()); its provider must be one the runner's config allows. The
 * workload's socket is opened the runtime's way (its host directory's kx.sock, no link
 * followed) and held with that attestation. A job then goes as POST /v1/jobs/{index}?format=json
 * to the workload (`bpt run ... --listen unix:/run/bpt/kx.sock`). Its answer must carry the
 * workload's own stamp with the provider and measurement of the attestation the runner verified;
 * the result is then stamped (by the runner's TeeLayer, through the TeeContext) with that
 * verified attestation: tee.attestation.digest is SHA-256 of the evidence the runner verified
 * itself, not the workload's word. A deployment that is not running, or whose attestation does
 * not verify, gets no job: the caller refuses it (BPT_EUNSATISFIABLE, the reason in the message).
 *
 * Threads: any; one attestation at a time (a lock), jobs in parallel (each holds a reference
 * to the attestation and socket it was sent with).
 */
#ifndef BPT_RUNNER_PLACEMENT_H
#define BPT_RUNNER_PLACEMENT_H

#include <blueprint-tee/config.h>
#include <blueprint-tee/middleware.h>
#include <blueprint-tee/runtime.h>

struct bpt_placement;

/** A placement in deployment @p id of @p rt (borrowed: it must outlive the placement), held
 *  to @p config's providers (borrowed), re-attested every @p every_secs (0: only after a
 *  failure). @return 0; BPT_EINVAL (an id that is no deployment id's shape); BPT_ENOMEM. */
BPT_MUST_USE int bpt_placement_new(struct bpt_placement **out, bpt_runtime *rt, const char *id,
                                   const bpt_config *config, uint64_t every_secs);
/** Free; NULL does nothing. */
void bpt_placement_free(struct bpt_placement *p);
/** The deployment id or name as given (borrowed). */
const char *bpt_placement_id(const struct bpt_placement *p);
/** Re-attest every @p every_secs (0: only after a failure). */
void bpt_placement_set_interval(struct bpt_placement *p, uint64_t every_secs);

/**
 * Run @p call in the deployment through @p router (whose handler for every index is
 * bpt_placement_handler() with @p p, inside the runner's TeeLayer), with a TeeContext holding
 * the deployment's verified attestation and @p store.
 * @return 0 (the job was sent: @p result holds the workload's answer or its error);
 *         BPT_EUNSATISFIABLE (not sent: the deployment is not running, or its attestation did
 *         not verify; the message says which).
 */
BPT_MUST_USE int bpt_placement_run(struct bpt_placement *p, bpt_router *router,
                                   const bpt_job_call *call, bpt_job_result *result,
                                   bpt_kx_store *store);

/** The bpt_job_handler that sends the call to the workload (only under bpt_placement_run()). */
BPT_MUST_USE int bpt_placement_handler(const bpt_job_call *call, bpt_job_result *result,
                                       const bpt_tee_context *tee, void *placement);

/**
 * The workload's answer to POST /v1/jobs/{index}?format=json (200: {"body_b64","metadata"}) into
 * @p result: its own stamp (tee.provider, tee.measurement) must name the provider and
 * measurement of @p snap, the attestation the runner verified (else the error
 * deployment_mismatch; no stamp: deployment_unstamped; not that shape: deployment_protocol);
 * its tee.* entries are dropped (the runner's TeeLayer stamps with @p snap), the rest kept.
 */
void bpt_placement_take_answer(bpt_job_result *result, const char *id, const bpt_tee_snapshot *snap,
                               const uint8_t *body, size_t len);

/** The evidence digest of the attestation jobs are sent with now ("" when none). */
void bpt_placement_digest(struct bpt_placement *p, char *out, size_t len);

/** For metrics: jobs sent to the deployment, jobs it could not be given (not running, not
 *  verified, not accepting), and the age of the attestation jobs are sent with (-1: none). */
void bpt_placement_stats(struct bpt_placement *p, uint64_t *sent, uint64_t *refused,
                         int64_t *age_secs);

#endif
