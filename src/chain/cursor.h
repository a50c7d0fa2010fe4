/*
 * The chain source's durable state in SQLite (WAL, synchronous FULL): where it has read up to
 * (block, log index and that block's hash), the state of every job it took (seen -> sent with
 * its transaction hash -> done), and the hashes of recent blocks it read logs from, to detect a
 * reorganisation below the cursor. The store is bound to one Tangle address and service id:
 * opening it for another is refused.
 *
 * Threads: safe from any thread (one connection, one mutex).
 */
#ifndef BPT_CHAIN_CURSOR_H
#define BPT_CHAIN_CURSOR_H

#include <blueprint-tee/chain.h>

struct bpt_chain_cursor;

struct bpt_chain_position {
    bool set; /* false: nothing read yet */
    uint64_t block, log_index;
    uint8_t block_hash[32];
};

enum bpt_chain_job_state {
    BPT_CHAIN_JOB_NONE = 0, /* never seen */
    BPT_CHAIN_JOB_SEEN,     /* taken from a log, no result sent yet */
    BPT_CHAIN_JOB_SENT,     /* a result transaction was sent (tx_hash) */
    BPT_CHAIN_JOB_DONE,     /* its result is on chain, or it ended for good */
};

/** Open or create @p path. @return 0; BPT_EIO (SQLite's message); BPT_EINVAL (the store belongs
 *  to another Tangle address or service). */
BPT_MUST_USE int bpt_chain_cursor_open(struct bpt_chain_cursor **out, const char *path,
                                       const bpt_eth_address *tangle, uint64_t service_id);
void bpt_chain_cursor_close(struct bpt_chain_cursor *c);

BPT_MUST_USE int bpt_chain_cursor_get(struct bpt_chain_position *out, struct bpt_chain_cursor *c);
BPT_MUST_USE int bpt_chain_cursor_set(struct bpt_chain_cursor *c,
                                      const struct bpt_chain_position *p);

/** The state of call @p call_id (NONE when unknown), its result transaction and the hash of the
 *  block its log was in. */
BPT_MUST_USE int bpt_chain_cursor_job(enum bpt_chain_job_state *state, uint8_t tx_hash[32],
                                      uint8_t block_hash[32], struct bpt_chain_cursor *c,
                                      uint64_t call_id);
/** Record call @p call_id's state (tx_hash may be NULL: kept as it was). */
BPT_MUST_USE int bpt_chain_cursor_job_set(struct bpt_chain_cursor *c, uint64_t call_id,
                                          enum bpt_chain_job_state state, const uint8_t *tx_hash,
                                          const struct bpt_chain_position *where);
/** Calls in state @p state (at most @p max, oldest first). */
BPT_MUST_USE int bpt_chain_cursor_jobs_in(uint64_t *calls, size_t *n, size_t max,
                                          struct bpt_chain_cursor *c,
                                          enum bpt_chain_job_state state);

/** Remember block @p number's hash; forget blocks older than @p keep_from. */
BPT_MUST_USE int bpt_chain_cursor_checkpoint(struct bpt_chain_cursor *c, uint64_t number,
                                             const uint8_t hash[32], uint64_t keep_from);
/** The newest remembered block at or below @p at_most: *found false when none. */
BPT_MUST_USE int bpt_chain_cursor_checkpoint_below(bool *found, uint64_t *number, uint8_t hash[32],
                                                   struct bpt_chain_cursor *c, uint64_t at_most);
/** Forget remembered blocks at or above @p from (after a reorganisation). */
BPT_MUST_USE int bpt_chain_cursor_forget_from(struct bpt_chain_cursor *c, uint64_t from);

#endif
