/* What the verify module's files share (dispatch, inspection, prefetching). */
#ifndef BPT_ATTESTATION_VERIFY_INTERNAL_H
#define BPT_ATTESTATION_VERIFY_INTERNAL_H

#include <blueprint-tee/attestation.h>

/**
 * Report JSON handed in as evidence: the report it holds, whose evidence must not itself be
 * report JSON. Messages start with @p what; a field the report parser calls invalid is
 * malformed evidence here.
 * @param[out] out free with bpt_report_free(); NULL on failure.
 * @return 0; BPT_EMALFORMED; BPT_ELIMIT; BPT_ENOMEM.
 */
BPT_MUST_USE int bpt_report_json_evidence(bpt_report **out, const uint8_t *bytes, size_t len,
                                          const char *what);

#endif
