/*
 * The Tangle contract's events as the job source reads them (reference: tangle-chain.md §1a,
 * §4): JobSubmitted (3 topics, data = abi.encode(uint8 jobIndex, address caller, bytes
 * inputs); a 4-topic form with jobIndex indexed is accepted too, its data then (address,
 * bytes)) and JobSubmittedFromQuote (data = (uint8, address, address[], uint256, bytes)).
 */
#ifndef BPT_CHAIN_TANGLE_H
#define BPT_CHAIN_TANGLE_H

#include <blueprint-tee/chain.h>

/** topic0 of the two events (keccak256 of their signatures). */
extern const uint8_t bpt_tangle_topic_job_submitted[32];
extern const uint8_t bpt_tangle_topic_job_submitted_from_quote[32];

/** One decoded job event. */
struct bpt_tangle_job {
    uint64_t service_id, call_id;
    uint8_t job_index;
    bpt_eth_address caller;
    bool from_quote;
    const uint8_t *inputs; /* borrowed from the data given to decode */
    size_t inputs_len;
};

/**
 * Decode a log's topics (n_topics × 32 bytes) and data.
 * @return 1 (a job event, decoded); 0 (another event: ignore it); BPT_EMALFORMED (a job event
 *         whose topics or data are wrong: the message says which).
 */
BPT_MUST_USE int bpt_tangle_job_decode(struct bpt_tangle_job *out, const uint8_t (*topics)[32],
                                       size_t n_topics, const uint8_t *data, size_t len);

#endif
