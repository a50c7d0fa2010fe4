/*
 * How the library's verifiers hand back a result. Only code inside the library can make a
 * bpt_verified: bpt_verified_build() is not exported.
 *
 *   struct bpt_verify_details d = {.level = BPT_VERIFICATION_CRYPTOGRAPHIC, .at = at};
 *   memcpy(d.report_data, rep.report_data, 64); d.report_data_len = 64;
 *   d.tcb = json_pack("{s:s}", "status", "up_to_date");   // ownership passes on success
 *   rc = bpt_verified_build(out, report, &d);             // takes report on success
 */
#ifndef BPT_ATTESTATION_VERIFIED_INTERNAL_H
#define BPT_ATTESTATION_VERIFIED_INTERNAL_H

#include <jansson.h>

#include <blueprint-tee/verify.h>

struct bpt_verify_details {
    bpt_verification_level level;
    int64_t at;              /* verification time used */
    uint8_t report_data[64]; /* report_data / user data bound into the evidence */
    size_t report_data_len;
    json_t *tcb;      /* object for the result's "tcb" field, or NULL */
    json_t *warnings; /* array of strings, or NULL */
};

/**
 * Make a bpt_verified from a report the verifier built and the details. On success takes
 * ownership of @p report and of d->tcb / d->warnings (set to NULL); on failure the caller
 * still owns them.
 */
int bpt_verified_build(bpt_verified **out, bpt_report *report, struct bpt_verify_details *d);

/** Release the JSON held by a details struct (for error paths). */
void bpt_verify_details_dispose(struct bpt_verify_details *d);

#endif
