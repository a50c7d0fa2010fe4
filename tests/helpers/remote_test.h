/*
 * What the remote backends' tests share (test_aws_nitro.c, test_azure_cvm.c,
 * test_gcp_confidential_space.c, test_sim_tokens.c): the simulated
 * workload's plane (`bpt serve --simulate ... --listen 127.0.0.1:0`), a runtime on one backend,
 * a deployment's state, one secret sealed to a plane, a small file written.
 */
#ifndef BPT_TEST_REMOTE_TEST_H
#define BPT_TEST_REMOTE_TEST_H

#include <blueprint-tee/bpt.h>

#include <stddef.h>
#include <stdint.h>

#include "helpers/proc.h"

/** Start `bpt serve` with @p argv (ending "--listen", "127.0.0.1:0", NULL) and read its port
 *  and URL ("http://127.0.0.1:PORT"). @return 0, or -1 after printing why. */
int bpt_remote_test_serve(struct bpt_test_proc *p, const char *const *argv, uint16_t *port,
                          char *url, size_t url_cap);

/** A runtime at @p state_dir whose default backend is @p backend, verifying with @p v. */
bpt_runtime *bpt_remote_test_runtime(const char *state_dir, const char *backend,
                                     const bpt_verifier *v);

/** The deployment's state (asserted to be found). */
bpt_deploy_state bpt_remote_test_state(bpt_runtime *rt, const char *id);

/** Seal the secret @p name (value "s3cret") to the plane at @p url after @p v verified it;
 *  *stored gets the plane's count (the workload keeps the first value of a name). */
int bpt_remote_test_seal(const char *url, const bpt_verifier *v, const char *name, size_t *stored);

/**
 * The running deployment @p id's evidence as a remote test checks it: attestation with a fresh
 * nonce verified (provider @p want, the report data binding the nonce), its digest in the
 * store, the verified X25519 key, then the secret "db_password" sealed to @p plane_url after
 * @p sealer verified the plane (asserted).
 */
void bpt_remote_test_evidence(bpt_runtime *rt, const char *id, const char *plane_url,
                              const bpt_verifier *sealer, bpt_provider want);

/**
 * `bpt seal --deployment ID --state-dir DIR [FLAG VALUE] --name NAME` with the secret "s3cret"
 * from the environment: its exit code; *out and *err its output (free()). @p flag NULL: none.
 */
int bpt_remote_test_seal_cli(char **out, char **err, const char *state_dir, const char *id,
                             const char *flag, const char *value, const char *name);

/** Write @p text to @p path (asserted). */
void bpt_remote_test_write(const char *path, const char *text);

#endif
