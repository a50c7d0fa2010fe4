/**
 * @file attester.h
 * Evidence generation inside a TEE, and the simulated TEE (DESIGN.md §7) for tests, demos and
 * machines without TEE hardware.
 *
 * The simulator makes test PKIs in the vendors' real shapes and evidence in the real binary
 * formats signed by them. Its roots are written to DIR/trust-roots.pem; verification accepts
 * simulated evidence only when those roots are passed as trust roots (the pinned vendor roots
 * refuse it). Nothing else in the library treats simulated evidence specially.
 *
 * Threads: reentrant; concurrent calls on one simulator directory are safe once it exists.
 */
#ifndef BPT_ATTESTER_H
#define BPT_ATTESTER_H

#include "attestation.h"

BPT_BEGIN_DECLS

/** Options for bpt_attest(). Initialise with BPT_ATTESTER_OPTS_INIT. */
typedef struct bpt_attester_opts {
    unsigned version;      /**< BPT_ATTESTER_OPTS_VERSION */
    bpt_provider simulate; /**< BPT_PROVIDER_UNKNOWN: real hardware; else that simulator */
    const char *sim_dir;   /**< the directory of bpt_sim_init(), with simulate */
    const char *root;      /**< filesystem root for the hardware interfaces; NULL = "/" */
    int privlevel;         /**< SEV-SNP VMPL to request through configfs-tsm; -1 = default */
    /** Version 2. Token providers: the audience to ask for (GCP Confidential Space's launcher,
     *  the simulated GCP launcher: NULL = "blueprint-tee-sim"; the simulated MAA: NULL = no
     *  aud claim). Evidence of other providers names no audience. */
    const char *audience;
} bpt_attester_opts;

/** 2 since the audience; callers built against version 1 keep working (no audience). */
#define BPT_ATTESTER_OPTS_VERSION 2
#define BPT_ATTESTER_OPTS_INIT                                                                     \
    {                                                                                              \
        BPT_ATTESTER_OPTS_VERSION, BPT_PROVIDER_UNKNOWN, NULL, NULL, -1, NULL                      \
    }

/**
 * Create the simulated TEEs' PKIs under @p dir (created if missing) and write every simulated
 * root to dir/trust-roots.pem. Providers simulated: SEV-SNP, TDX, AWS Nitro; and two token
 * services (GCP Confidential Space's launcher, Azure Attestation for a CVM) whose keys are
 * published as dir/gcp-confidential/jwks.json and dir/azure-maa/jwks.json (docs/jwt.md).
 * @return 0; BPT_EIO; BPT_EINVAL.
 */
BPT_API BPT_MUST_USE int bpt_sim_init(const char *dir);

/**
 * Produce evidence binding @p report_data (64 bytes) as a report (DESIGN.md §5): raw evidence
 * plus the collateral a verifier needs (e.g. the VCEK and ASK as "certificates").
 * Simulated providers: SEV-SNP, TDX (the quote with its simulated collateral), AWS Nitro, and
 * tokens of GCP Confidential Space and Azure MAA binding the report data as docs/jwt.md
 * "Report data in tokens" says.
 * Hardware: configfs-tsm (Linux 6.7+), for SEV-SNP (the VCEK and ASK from its certificate table
 * become "certificates" collateral) and TDX (the raw quote; its collateral is fetched by the
 * verifier), else /dev/sev-guest (SNP_GET_EXT_REPORT), else Nitro's /dev/nsm, else GCP
 * Confidential Space's launcher socket (a token for opts->audience, required). A TD with only
 * /dev/tdx_guest gets BPT_ENOTSUP naming configfs-tsm: its TDREPORT (bpt_attest_tdreport())
 * cannot be verified remotely.
 * @param[out] out free with bpt_report_free().
 * @return 0; BPT_ENOTSUP; BPT_ENOTFOUND (simulator not initialised); BPT_EINVAL; BPT_EIO;
 *         BPT_EBUSY (configfs-tsm request raced by another writer: retry).
 */
BPT_API BPT_MUST_USE int bpt_attest(bpt_report **out, const uint8_t report_data[64],
                                    const bpt_attester_opts *opts);

/**
 * Produce evidence binding @p nonce by the nonce rule that the verifiers check with the
 * policy's expected_nonce (bpt_nonce_bind(), attestation.h): SEV-SNP and TDX evidence carries
 * SHA-512(nonce) as its report data; a Nitro document carries the nonce's bytes in its nonce
 * field (and no user_data); a GCP token in eat_nonce (10..74 bytes of text), a simulated Azure
 * token in its nonce claim. Otherwise as bpt_attest().
 * @param nonce, nonce_len 1..BPT_NONCE_MAX_BYTES bytes (a text nonce: its bytes as given).
 * @return as bpt_attest(); BPT_EINVAL also for a nonce that is empty or too long.
 */
BPT_API BPT_MUST_USE int bpt_attest_nonce(bpt_report **out, const uint8_t *nonce, size_t nonce_len,
                                          const bpt_attester_opts *opts);

/**
 * This TD's TDREPORT for @p report_data, from /dev/tdx_guest under @p root (NULL: "/"), with
 * TDX_CMD_GET_REPORT0. Parse it with bpt_tdx_tdreport_parse() (tdx.h). A TDREPORT is not
 * remote evidence: bpt_attest() makes quotes through configfs-tsm.
 * @return 0; BPT_ENOTSUP (no /dev/tdx_guest); BPT_EIO; BPT_EINVAL.
 */
BPT_API BPT_MUST_USE int bpt_attest_tdreport(uint8_t out[1024], const uint8_t report_data[64],
                                             const char *root);

/**
 * On a GCP Confidential Space VM: ask the container launcher for an OIDC attestation token
 * naming @p audience and carrying @p nonces (its eat_nonce claim), over the launcher's unix
 * socket with POST /v1/token {"audience":..,"token_type":"OIDC","nonces":[..]}. Verify the
 * token with bpt_gcp_confidential_verify() (jwt.h). The request goes through libcurl over the
 * socket (Content-Length, chunked or until-close answers); the answer's body is capped at
 * 64 KiB.
 * @param[out] token the JWT text (NUL-terminated), free with bpt_free(); NULL on failure.
 * @param socket_path the launcher's socket; NULL: /run/container_launcher/teeserver.sock.
 * @param audience 1..512 bytes.
 * @param nonces, n_nonces at most 6 nonces of 10..74 bytes each (the launcher's limits).
 * @param timeout_ms one deadline for connecting, sending and the whole answer, 0..600000;
 *        0: 10000.
 * @return 0; BPT_EINVAL (arguments); BPT_ENOTSUP (no launcher socket: not Confidential Space);
 *         BPT_EIO (socket error, or no answer before the deadline); BPT_EPROTOCOL (not HTTP,
 *         damaged framing, a body shorter than announced, or the launcher refused: its status
 *         and message named); BPT_ELIMIT (answer over 64 KiB).
 * Threads: reentrant.
 */
BPT_API BPT_MUST_USE int bpt_attest_gcp_token(char **token, const char *socket_path,
                                              const char *audience, const char *const *nonces,
                                              size_t n_nonces, long timeout_ms);

BPT_END_DECLS

#endif
