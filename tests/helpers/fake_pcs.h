/*
 * Intel PCS (and PCCS) as a loopback libmicrohttpd server answers, for tests: TDX TCB info, the
 * QE identity, the PCK CRL and the root CA CRL from a collateral JSON (the shape the simulator
 * writes: tcb_info, tcb_info_signature, tcb_info_issuer_chain, qe_identity, ...), each with its
 * issuer-chain header URL-encoded as PCS sends it.
 */
#ifndef BPT_TEST_FAKE_PCS_H
#define BPT_TEST_FAKE_PCS_H

#include <jansson.h>
#include <microhttpd.h>
#include <stdbool.h>

/** How the answer departs from PCS's (0: as PCS). */
enum bpt_fake_pcs_fault {
    BPT_FAKE_PCS_OK = 0,
    BPT_FAKE_PCS_BAD_SIGNATURE = 1, /* TCB info signed by nobody (well-formed signature) */
    BPT_FAKE_PCS_NO_CHAIN = 2,      /* no issuer-chain header */
    BPT_FAKE_PCS_ROOT_CRL_DER = 4,  /* the root CA CRL as DER (Intel PCS) instead of hex (PCCS) */
};

/**
 * The answer for @p url when it is one of PCS's paths (its status in *status: 200, 404 for an
 * unknown FMSPC with Error-Code FmspcNotFound, 400 for a PCK CRL of another CA); NULL when
 * @p url is not PCS's (the caller answers it).
 */
struct MHD_Response *bpt_fake_pcs_answer(unsigned *status, struct MHD_Connection *conn,
                                         const char *url, const json_t *coll, int faults);

#endif
