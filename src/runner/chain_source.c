/*
 * The Tangle job source and result sink (runner.h bpt_source_tangle; DESIGN.md §12): a thread
 * polls eth_getLogs on the Tangle contract in bounded block windows behind the confirmation
 * depth, decodes JobSubmitted / JobSubmittedFromQuote, keeps this service's calls and submits
 * them to the runner with the SDK's X-TANGLE-* metadata; each ok result goes back on chain as
 * submitResult signed by the operator key (on the worker that ran the job: many results in
 * flight from one sender, the signer counting nonces).
 *
 * Durability (chain/cursor.h): every call taken is recorded (seen) before it runs, and done once
 * its result is on chain (or the job ended for good); the persisted cursor never passes a call
 * that is not done. After a crash the logs from the cursor are read again: done calls are
 * skipped, others run again, and a result that had reached the chain before the crash is met
 * by the contract's refusal (JobAlreadyCompleted / ResultAlreadySubmitted: BPT_EEXISTS), taken
 * as done — no job is lost and no result lands twice. A reorganisation below the cursor (the
 * cursor block's hash changed) rewinds to the newest remembered block whose hash still holds.
 *
 * Locks: `mu` guards the pending list and the scanned position; the cursor store has its own.
 */
#include <blueprint-tee/chain.h>
#include <blueprint-tee/runner.h>

#include "chain/chain_internal.h"
#include "chain/cursor.h"
#include "chain/tangle.h"
#include "core/codec.h"
#include "core/err.h"
#include "core/logging.h"
#include "core/util.h"
#include "runner/runner_internal.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#define DEFAULT_POLL_MS 2000L  /* the SDK's producer */
#define DEFAULT_WINDOW 10u     /* MAX_LOG_RANGE_BLOCKS */
#define WHOLE_BLOCK UINT64_MAX /* a cursor log index: every log of the block is handled */
#define REORG_FALLBACK 64u     /* blocks to rewind when no remembered block holds */
#define KEEP_BLOCKS 256u       /* remembered block hashes */
#define MAX_PENDING 4096
#define SUBMIT_TRIES 3

struct pending {
    uint64_t call_id, block, log_index;
};

struct tangle_source {
    bpt_tangle_source_opts o; /* strings below are our copies */
    char *rpc_url, *key_path, *password, *state_path;
    bpt_eth_address tangle, bsm;
    bool has_bsm;
    bpt_runner *runner;
    bpt_chain *chain;
    bpt_eth_key *key;
    bpt_chain_signer *signer;
    struct bpt_chain_cursor *cursor;
    pthread_t thread;
    bool thread_running;
    atomic_bool stopping;
    pthread_mutex_t mu;
    pthread_cond_t wake;
    struct pending pend[MAX_PENDING];
    size_t n_pend;
    struct bpt_chain_position scanned; /* read up to here (not persisted: the cursor is) */
    char *published;                   /* the attestation JSON last published (bsm) */
};

static void sleep_ms(struct tangle_source *ts, long ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&ts->mu);
    if (!atomic_load(&ts->stopping)) {
        pthread_cond_timedwait(&ts->wake, &ts->mu, &until);
    }
    pthread_mutex_unlock(&ts->mu);
}

/* Persist the cursor: just before the earliest call not done, else where reading reached.
 * Called with mu held. */
static bool pos_lt(const struct bpt_chain_position *a, const struct bpt_chain_position *b)
{
    return a->block < b->block || (a->block == b->block && a->log_index < b->log_index);
}

static void persist_cursor(struct tangle_source *ts)
{
    struct bpt_chain_position p = ts->scanned;
    if (!p.set) {
        return;
    }
    for (size_t i = 0; i < ts->n_pend && p.set; i++) {
        const struct pending *q = &ts->pend[i];
        struct bpt_chain_position before = {true, q->block, q->log_index - 1, {0}};
        if (q->log_index == 0) {
            before.block = q->block - 1;
            before.log_index = WHOLE_BLOCK;
            before.set = q->block > 0;
        }
        if (!before.set) {
            p.set = false; /* block 0, log 0 is not done: read from the very start */
        } else if (pos_lt(&before, &p)) {
            p = before; /* no hash: that block is not checked for a reorganisation */
        }
    }
    if (!p.set) {
        p = (struct bpt_chain_position){true, 0, 0, {0}};
        p.log_index = WHOLE_BLOCK; /* nearest expressible; block 0 holds no job in practice */
    }
    if (bpt_chain_cursor_set(ts->cursor, &p) < 0) {
        BPT_LOG(BPT_LOG_ERROR, "tangle", "cursor not saved: %s", bpt_error_last());
    }
}

static void pending_remove(struct tangle_source *ts, uint64_t call_id)
{
    pthread_mutex_lock(&ts->mu);
    for (size_t i = 0; i < ts->n_pend; i++) {
        if (ts->pend[i].call_id == call_id) {
            ts->pend[i] = ts->pend[--ts->n_pend];
            break;
        }
    }
    persist_cursor(ts);
    pthread_mutex_unlock(&ts->mu);
}

/* ---- the sink: a worker's result goes on chain ------------------------------------------- */

/* Worth another try: the node unreachable or slow, or refusing the transaction itself (not a
 * revert: a revert carries its reason and is the contract's final word). */
static bool transient(int rc, const bpt_chain_receipt *r)
{
    return rc == BPT_EFETCH || rc == BPT_EEXPIRED || (rc == BPT_EPROTOCOL && !r->reason[0]);
}

static void on_done(const bpt_job_call *call, const bpt_job_result *res, void *ud)
{
    struct tangle_source *ts = ud;
    uint64_t call_id = bpt_job_call_id(call);
    bpt_chain_receipt r;
    int rc = 0;

    memset(&r, 0, sizeof(r));
    if (!bpt_job_result_is_ok(res)) {
        /* as the SDK's consumer: only ok results are submitted */
        BPT_LOG(BPT_LOG_WARN, "tangle", "call=%llu error result not submitted: %s: %s",
                (unsigned long long)call_id, bpt_job_result_error_code(res),
                bpt_job_result_error_message(res));
    } else {
        size_t len = 0;
        const uint8_t *body = bpt_job_result_body(res, &len);
        for (int attempt = 1; attempt <= SUBMIT_TRIES; attempt++) {
            rc = bpt_chain_submit_result(&r, ts->signer, &ts->tangle, ts->o.service_id, call_id,
                                         body, len, NULL);
            if (!transient(rc, &r)) {
                break;
            }
            BPT_LOG(BPT_LOG_WARN, "tangle", "call=%llu submit attempt %d failed: %s",
                    (unsigned long long)call_id, attempt, bpt_error_last());
        }
        if (rc == 0) {
            if (bpt_chain_cursor_job_set(ts->cursor, call_id, BPT_CHAIN_JOB_SENT, r.tx_hash, NULL) <
                0) {
                BPT_LOG(BPT_LOG_ERROR, "tangle", "call=%llu state not saved: %s",
                        (unsigned long long)call_id, bpt_error_last());
            }
            BPT_LOG(BPT_LOG_INFO, "tangle", "call=%llu result on chain block=%llu",
                    (unsigned long long)call_id, (unsigned long long)r.block_number);
        } else if (rc == BPT_EEXISTS) {
            BPT_LOG(BPT_LOG_INFO, "tangle", "call=%llu %s", (unsigned long long)call_id,
                    bpt_error_last());
        } else {
            BPT_LOG(BPT_LOG_ERROR, "tangle", "call=%llu result not on chain: %s",
                    (unsigned long long)call_id, bpt_error_last());
        }
    }
    /* a failure that is not the contract's verdict leaves the call seen: the next start runs it
     * again */
    if (!transient(rc, &r)) {
        if (bpt_chain_cursor_job_set(ts->cursor, call_id, BPT_CHAIN_JOB_DONE, NULL, NULL) < 0) {
            BPT_LOG(BPT_LOG_ERROR, "tangle", "call=%llu state not saved: %s",
                    (unsigned long long)call_id, bpt_error_last());
        }
    }
    pending_remove(ts, call_id);
}

/* ---- the source: logs -> calls ----------------------------------------------------------- */

/* The timestamp of the block @p hash (number @p number): the block the log came from, even if
 * the chain reorganised since eth_getLogs answered (then the block is gone: an error, and the
 * window is read again). */
static int block_time(uint64_t *timestamp, struct tangle_source *ts, const uint8_t hash[32],
                      uint64_t number)
{
    json_t *b = NULL;
    uint64_t n = 0;
    int rc;
    BPT_CHECK(bpt_chain_rpc(&b, NULL, ts->chain, "eth_getBlockByHash",
                            json_pack("[o,b]", bpt_chain_json_data(hash, 32), 0)));
    if (!json_is_object(b)) {
        rc = bpt_err(BPT_EPROTOCOL, "tangle: block %llu of a log is gone (reorganised)",
                     (unsigned long long)number);
        goto out;
    }
    BPT_CHECK(bpt_chain_quantity(&n, json_object_get(b, "number"), "block number"));
    if (n != number) {
        rc = bpt_err(BPT_EPROTOCOL, "tangle: the log's block hash names block %llu, not %llu",
                     (unsigned long long)n, (unsigned long long)number);
        goto out;
    }
    BPT_CHECK(bpt_chain_quantity(timestamp, json_object_get(b, "timestamp"), "timestamp"));
out:
    json_decref(b);
    return rc;
}

static int block_header(uint8_t hash[32], uint64_t *timestamp, struct tangle_source *ts,
                        uint64_t number)
{
    json_t *b = NULL;
    int rc;
    BPT_CHECK(bpt_chain_rpc(&b, NULL, ts->chain, "eth_getBlockByNumber",
                            json_pack("[o,b]", bpt_chain_json_quantity(number), 0)));
    if (!json_is_object(b)) {
        rc = bpt_err(BPT_EPROTOCOL, "tangle: no block %llu", (unsigned long long)number);
        goto out;
    }
    BPT_CHECK(bpt_chain_data_exact(hash, 32, json_object_get(b, "hash"), "block hash"));
    if (timestamp) {
        BPT_CHECK(bpt_chain_quantity(timestamp, json_object_get(b, "timestamp"), "timestamp"));
    }
out:
    json_decref(b);
    return rc;
}

static int meta_u64(bpt_job_call *c, const char *k, uint64_t v)
{
    char s[24];
    snprintf(s, sizeof(s), "%llu", (unsigned long long)v);
    return bpt_job_call_meta_set(c, k, s);
}

/* One decoded job for this service: record it, hand it to the runner. 0; or < 0 to stop the
 * window (the runner is stopping). */
static int take_job(struct tangle_source *ts, const struct bpt_tangle_job *j, uint64_t block,
                    uint64_t log_index, const uint8_t block_hash[32], uint64_t timestamp)
{
    enum bpt_chain_job_state st;
    uint8_t seen_in[32];
    struct bpt_chain_position where = {true, block, log_index, {0}};
    bpt_job_call *call = NULL;
    char hex[67], caller[43];
    int rc;

    BPT_CHECK(bpt_chain_cursor_job(&st, NULL, seen_in, ts->cursor, j->call_id));
    if (st == BPT_CHAIN_JOB_DONE && memcmp(seen_in, block_hash, 32) == 0) {
        return 0;
    }
    if (st != BPT_CHAIN_JOB_NONE && memcmp(seen_in, block_hash, 32) != 0) {
        /* the call id came back in another block: a reorganisation dropped the first one (and
         * its result); this is a new call */
        BPT_LOG(BPT_LOG_WARN, "tangle",
                "call=%llu reappears in block %llu after a "
                "reorganisation: running it again",
                (unsigned long long)j->call_id, (unsigned long long)block);
    }
    memcpy(where.block_hash, block_hash, 32);
    BPT_CHECK(bpt_chain_cursor_job_set(ts->cursor, j->call_id, BPT_CHAIN_JOB_SEEN, NULL, &where));
    BPT_CHECK(
        bpt_job_call_new(&call, j->service_id, j->call_id, j->job_index, j->inputs, j->inputs_len));
    BPT_CHECK(bpt_job_call_set_caller(call, j->caller.bytes));
    hex[0] = '0';
    hex[1] = 'x';
    bpt_hex_encode_to(hex + 2, block_hash, 32);
    bpt_eth_address_format(caller, &j->caller);
    BPT_CHECK(meta_u64(call, "X-TANGLE-CALL-ID", j->call_id));
    BPT_CHECK(meta_u64(call, "X-TANGLE-SERVICE-ID", j->service_id));
    BPT_CHECK(meta_u64(call, "X-TANGLE-JOB-INDEX", j->job_index));
    BPT_CHECK(meta_u64(call, "X-TANGLE-BLOCK-NUMBER", block));
    BPT_CHECK(bpt_job_call_meta_set(call, "X-TANGLE-BLOCK-HASH", hex));
    BPT_CHECK(meta_u64(call, "X-TANGLE-TIMESTAMP", timestamp));
    BPT_CHECK(bpt_job_call_meta_set(call, "X-TANGLE-CALLER", caller));
    pthread_mutex_lock(&ts->mu);
    if (ts->n_pend == MAX_PENDING) {
        pthread_mutex_unlock(&ts->mu);
        rc = BPT_EBUSY;
        goto out;
    }
    ts->pend[ts->n_pend++] = (struct pending){j->call_id, block, log_index};
    pthread_mutex_unlock(&ts->mu);
    for (;;) { /* back-pressure: wait while the queue is full */
        rc = bpt_runner_submit(ts->runner, call, on_done, ts);
        if (rc == 0) {
            call = NULL;
            break;
        }
        if (rc != BPT_EBUSY || atomic_load(&ts->stopping)) {
            pending_remove(ts, j->call_id);
            goto out;
        }
        sleep_ms(ts, 50);
    }
    BPT_LOG(BPT_LOG_DEBUG, "tangle", "call=%llu job=%u block=%llu taken",
            (unsigned long long)j->call_id, j->job_index, (unsigned long long)block);
    rc = 0;
out:
    bpt_job_call_free(call);
    return rc;
}

static bool after(uint64_t block, uint64_t idx, const struct bpt_chain_position *p)
{
    if (!p->set) {
        return true;
    }
    if (p->log_index == WHOLE_BLOCK) {
        return block > p->block;
    }
    return block > p->block || (block == p->block && idx > p->log_index);
}

/* The logs (not removed ones) strictly in (block, log index) order. */
static int check_order(const json_t *logs)
{
    uint64_t pb = 0, pi = 0;
    bool first = true;
    int rc = 0;
    for (size_t i = 0; i < json_array_size(logs); i++) {
        const json_t *l = json_array_get(logs, i);
        uint64_t block = 0, idx = 0;
        if (json_is_true(json_object_get(l, "removed"))) {
            continue;
        }
        BPT_CHECK(bpt_chain_quantity(&block, json_object_get(l, "blockNumber"), "blockNumber"));
        BPT_CHECK(bpt_chain_quantity(&idx, json_object_get(l, "logIndex"), "logIndex"));
        if (!first && (block < pb || (block == pb && idx <= pi))) {
            return bpt_err(BPT_EPROTOCOL,
                           "tangle: eth_getLogs answered out of order (block %llu log %llu after "
                           "block %llu log %llu): nothing taken from it",
                           (unsigned long long)block, (unsigned long long)idx,
                           (unsigned long long)pb, (unsigned long long)pi);
        }
        first = false;
        pb = block;
        pi = idx;
    }
out:
    return rc;
}

/* Read logs of blocks [from, to], take this service's jobs after the scanned position. */
static int scan_window(struct tangle_source *ts, uint64_t from, uint64_t to)
{
    json_t *logs = NULL, *filter;
    char addr[43];
    uint8_t last_hash[32] = {0}, hash[32];
    uint64_t last_block = UINT64_MAX, ts_block = 0;
    bpt_buf data = BPT_BUF_INIT(BPT_JOB_BODY_MAX + 4096);
    int rc;

    bpt_eth_address_format(addr, &ts->tangle);
    filter = json_pack("{s:s,s:o,s:o,s:[[o,o]]}", "address", addr, "fromBlock",
                       bpt_chain_json_quantity(from), "toBlock", bpt_chain_json_quantity(to),
                       "topics", bpt_chain_json_data(bpt_tangle_topic_job_submitted, 32),
                       bpt_chain_json_data(bpt_tangle_topic_job_submitted_from_quote, 32));
    BPT_CHECK(bpt_chain_rpc(&logs, NULL, ts->chain, "eth_getLogs", json_pack("[o]", filter)));
    if (!json_is_array(logs)) {
        rc = bpt_err(BPT_EPROTOCOL, "tangle: eth_getLogs did not answer a list");
        goto out;
    }
    /* nodes answer in (block, log index) order; checked before anything is taken, since the
     * cursor depends on it (a log out of order would be skipped for good) */
    BPT_CHECK(check_order(logs));
    for (size_t i = 0; i < json_array_size(logs) && !atomic_load(&ts->stopping); i++) {
        json_t *l = json_array_get(logs, i), *t = json_object_get(l, "topics");
        uint8_t topics[4][32];
        uint64_t block = 0, idx = 0;
        size_t nt = json_array_size(t);
        struct bpt_tangle_job j;
        if (json_is_true(json_object_get(l, "removed"))) {
            continue;
        }
        BPT_CHECK(bpt_chain_quantity(&block, json_object_get(l, "blockNumber"), "blockNumber"));
        BPT_CHECK(bpt_chain_quantity(&idx, json_object_get(l, "logIndex"), "logIndex"));
        if (!after(block, idx, &ts->scanned) || nt > 4 || nt == 0) {
            continue;
        }
        for (size_t k = 0; k < nt; k++) {
            BPT_CHECK(bpt_chain_data_exact(topics[k], 32, json_array_get(t, k), "topic"));
        }
        bpt_buf_reset(&data);
        BPT_CHECK(bpt_chain_data(&data, json_object_get(l, "data"), "log data"));
        rc = bpt_tangle_job_decode(&j, (const uint8_t(*)[32])topics, nt, data.data, data.len);
        if (rc < 0) {
            BPT_LOG(BPT_LOG_WARN, "tangle", "block=%llu log=%llu skipped: %s",
                    (unsigned long long)block, (unsigned long long)idx, bpt_error_last());
        }
        if (rc == 1 && j.service_id == ts->o.service_id) {
            /* the block the log names, by hash: its timestamp is that block's */
            BPT_CHECK(bpt_chain_data_exact(hash, 32, json_object_get(l, "blockHash"), "blockHash"));
            if (block != last_block || memcmp(hash, last_hash, 32) != 0) {
                BPT_CHECK(block_time(&ts_block, ts, hash, block));
                memcpy(last_hash, hash, 32);
                last_block = block;
            }
            BPT_CHECK(take_job(ts, &j, block, idx, last_hash, ts_block));
        }
        pthread_mutex_lock(&ts->mu);
        ts->scanned = (struct bpt_chain_position){true, block, idx, {0}};
        pthread_mutex_unlock(&ts->mu);
    }
    if (atomic_load(&ts->stopping)) {
        rc = 0;
        goto out;
    }
    /* the whole window is read: remember its last block (its hash for reorg checks) */
    BPT_CHECK(block_header(hash, NULL, ts, to));
    BPT_CHECK(
        bpt_chain_cursor_checkpoint(ts->cursor, to, hash, to > KEEP_BLOCKS ? to - KEEP_BLOCKS : 0));
    pthread_mutex_lock(&ts->mu);
    ts->scanned = (struct bpt_chain_position){true, to, WHOLE_BLOCK, {0}};
    memcpy(ts->scanned.block_hash, hash, 32);
    persist_cursor(ts);
    pthread_mutex_unlock(&ts->mu);
    rc = 0;
out:
    bpt_buf_dispose(&data);
    json_decref(logs);
    return rc;
}

/* The scanned block's hash still holds (and the block still exists, @p head)? Else rewind to
 * the newest remembered block that does. */
static int check_reorg(struct tangle_source *ts, uint64_t head)
{
    struct bpt_chain_position p;
    uint8_t now[32], cp[32];
    uint64_t at;
    bool found;
    int rc;
    pthread_mutex_lock(&ts->mu);
    p = ts->scanned;
    pthread_mutex_unlock(&ts->mu);
    if (!p.set || bpt_all_zero(p.block_hash, 32)) { /* no hash: not checkable */
        return 0;
    }
    if (p.block <= head) {
        BPT_CHECK(block_header(now, NULL, ts, p.block));
        if (memcmp(now, p.block_hash, 32) == 0) {
            return 0;
        }
    }
    at = p.block > head + 1 ? head + 1 : p.block;
    for (;;) {
        BPT_CHECK(bpt_chain_cursor_checkpoint_below(&found, &at, cp, ts->cursor, at ? at - 1 : 0));
        if (!found) {
            at = p.block > REORG_FALLBACK ? p.block - REORG_FALLBACK : 0;
            memset(cp, 0, 32);
            break;
        }
        if (at <= head) {
            BPT_CHECK(block_header(now, NULL, ts, at));
            if (memcmp(now, cp, 32) == 0) {
                break;
            }
        }
        if (at == 0) {
            break;
        }
    }
    BPT_LOG(BPT_LOG_WARN, "tangle",
            "reorganisation below the cursor: block %llu changed its hash; replaying from block "
            "%llu",
            (unsigned long long)p.block, (unsigned long long)at + 1);
    BPT_CHECK(bpt_chain_cursor_forget_from(ts->cursor, at + 1));
    pthread_mutex_lock(&ts->mu);
    ts->scanned = (struct bpt_chain_position){true, at, WHOLE_BLOCK, {0}};
    memcpy(ts->scanned.block_hash, cp, 32);
    persist_cursor(ts);
    pthread_mutex_unlock(&ts->mu);
    rc = 0;
out:
    return rc;
}

/* When the service's attestation changed (re-attested), publish it again (bsm given). */
static void republish(struct tangle_source *ts);

static void *poll_loop(void *arg)
{
    struct tangle_source *ts = arg;
    while (!atomic_load(&ts->stopping)) {
        uint64_t head = 0, from, to, safe;
        int rc = bpt_chain_block_number(&head, ts->chain);
        if (rc == 0) {
            rc = check_reorg(ts, head);
        }
        if (rc == 0 && head >= ts->o.confirmations) {
            safe = head - ts->o.confirmations;
            pthread_mutex_lock(&ts->mu);
            from = !ts->scanned.set                       ? 0
                   : ts->scanned.log_index == WHOLE_BLOCK ? ts->scanned.block + 1
                                                          : ts->scanned.block;
            pthread_mutex_unlock(&ts->mu);
            while (rc == 0 && from <= safe && !atomic_load(&ts->stopping)) {
                to = safe - from >= ts->o.window ? from + ts->o.window - 1 : safe;
                rc = scan_window(ts, from, to);
                from = to + 1;
            }
        }
        if (rc < 0) {
            BPT_LOG(BPT_LOG_WARN, "tangle", "poll: %s", bpt_error_last());
        }
        republish(ts);
        sleep_ms(ts, ts->o.poll_ms);
    }
    return NULL;
}

/* ---- the dual path: publish and check this runner's attestation ---------------------------- */

static int publish_and_check(struct tangle_source *ts, bool *changed)
{
    bpt_report *rep = NULL;
    bpt_chain_receipt r;
    char *json = NULL, url[64];
    int rc;
    *changed = false;
    if ((rc = bpt_runner_report_json(&json, ts->runner)) < 0) {
        return rc; /* no attestation: nothing to publish */
    }
    if (ts->published && strcmp(ts->published, json) == 0) {
        rc = 0;
        goto out;
    }
    BPT_CHECK(bpt_report_from_json(&rep, json, strlen(json)));
    rc = bpt_chain_attestation_check(ts->chain, &ts->bsm, ts->o.service_id, &ts->key->addr, rep);
    if (rc == BPT_ECLAIM || rc == BPT_ENOTFOUND) {
        snprintf(url, sizeof(url), "http://127.0.0.1:%u", bpt_runner_http_port(ts->runner));
        BPT_CHECK(bpt_chain_report_provisioned(&r, ts->signer, &ts->bsm, ts->o.service_id,
                                               "bpt-run", url, 0, rep, NULL));
        BPT_LOG(BPT_LOG_INFO, "tangle", "attestation published block=%llu",
                (unsigned long long)r.block_number);
        rc =
            bpt_chain_attestation_check(ts->chain, &ts->bsm, ts->o.service_id, &ts->key->addr, rep);
    }
    BPT_CHECK(rc);
    *changed = true;
    bpt_free(ts->published);
    ts->published = json;
    json = NULL;
out:
    bpt_report_free(rep);
    bpt_free(json);
    return rc;
}

static void republish(struct tangle_source *ts)
{
    bool changed;
    if (ts->has_bsm && publish_and_check(ts, &changed) < 0 &&
        bpt_error_last()[0]) { /* a background refresh: logged, not returned */
        BPT_LOG(BPT_LOG_ERROR, "tangle", "on-chain attestation: %s", bpt_error_last());
    }
}

/* ---- start / stop ------------------------------------------------------------------------- */

/* The chain's rule for this service: the blueprint's profile with the service's byte. */
static int read_rule(struct tangle_source *ts)
{
    bpt_chain_service svc;
    bpt_execution_profile prof;
    bpt_confidentiality rule;
    char why[192];
    int rc;
    BPT_CHECK(bpt_chain_service_get(&svc, ts->chain, &ts->tangle, ts->o.service_id));
    BPT_CHECK(bpt_chain_blueprint_profile(&prof, NULL, ts->chain, &ts->tangle, svc.blueprint_id));
    BPT_CHECK(bpt_confidentiality_combine(&rule, prof.confidentiality, svc.confidentiality));
    snprintf(why, sizeof(why),
             "the chain (blueprint %llu's execution profile: %s, service %llu: %s)",
             (unsigned long long)svc.blueprint_id,
             prof.present ? bpt_confidentiality_name(prof.confidentiality) : "none",
             (unsigned long long)ts->o.service_id, bpt_confidentiality_name(svc.confidentiality));
    BPT_CHECK(bpt_runner_require(ts->runner, rule, why));
out:
    return rc;
}

static void source_stop(void *state)
{
    struct tangle_source *ts = state;
    atomic_store(&ts->stopping, true);
    pthread_mutex_lock(&ts->mu);
    pthread_cond_broadcast(&ts->wake);
    pthread_mutex_unlock(&ts->mu);
    if (ts->thread_running) {
        pthread_join(ts->thread, NULL);
        ts->thread_running = false;
    }
    bpt_chain_signer_free(ts->signer);
    ts->signer = NULL;
    bpt_chain_cursor_close(ts->cursor);
    ts->cursor = NULL;
    bpt_eth_key_free(ts->key);
    ts->key = NULL;
    bpt_chain_free(ts->chain);
    ts->chain = NULL;
    bpt_free(ts->published);
    ts->published = NULL;
    ts->runner = NULL;
}

static int source_start(void *state, bpt_runner *runner)
{
    struct tangle_source *ts = state;
    bpt_chain_opts co = BPT_CHAIN_OPTS_INIT;
    struct bpt_chain_position cur;
    uint64_t head = 0;
    int rc;

    ts->runner = runner;
    atomic_store(&ts->stopping, false);
    ts->n_pend = 0;
    co.rpc_url = ts->rpc_url;
    BPT_CHECK(bpt_chain_new(&ts->chain, &co));
    BPT_CHECK(bpt_eth_key_load(&ts->key, ts->key_path, ts->password));
    BPT_CHECK(bpt_chain_signer_new(&ts->signer, ts->chain, ts->key));
    BPT_CHECK(bpt_chain_cursor_open(&ts->cursor, ts->state_path, &ts->tangle, ts->o.service_id));
    BPT_CHECK(read_rule(ts));
    if (ts->has_bsm) {
        bool changed;
        rc = publish_and_check(ts, &changed);
        if (rc < 0 && bpt_config_on_chain_verification(bpt_runner_config(runner))) {
            rc = bpt_err_prefix(rc, "tangle: on_chain_verification is on and the dual-path check "
                                    "failed");
            goto out;
        }
        if (rc < 0) {
            BPT_LOG(BPT_LOG_WARN, "tangle", "on-chain attestation (on_chain_verification off): %s",
                    bpt_error_last());
        }
    }
    BPT_CHECK(bpt_chain_cursor_get(&cur, ts->cursor));
    if (!cur.set) { /* a new store: the given block, else the SDK's latest - 9 */
        BPT_CHECK(bpt_chain_block_number(&head, ts->chain));
        cur.set = true;
        cur.block = ts->o.start_block ? ts->o.start_block : head > 9 ? head - 9 : 0;
        if (cur.block == 0) {
            cur.set = false; /* from block 0 */
        } else {
            cur.block--;
            cur.log_index = WHOLE_BLOCK;
        }
    }
    ts->scanned = cur;
    if (pthread_create(&ts->thread, NULL, poll_loop, ts) != 0) {
        rc = bpt_err(BPT_ERROR, "tangle: cannot start the poll thread");
        goto out;
    }
    ts->thread_running = true;
    BPT_LOG(BPT_LOG_INFO, "tangle", "polling service=%llu from block=%llu confirmations=%u",
            (unsigned long long)ts->o.service_id, (unsigned long long)(cur.set ? cur.block : 0),
            ts->o.confirmations);
    rc = 0;
out:
    if (rc < 0) {
        rc = bpt_err_prefix(rc, "tangle");
        source_stop(ts);
    }
    return rc;
}

static void source_free(void *state)
{
    struct tangle_source *ts = state;
    if (!ts) {
        return;
    }
    pthread_mutex_destroy(&ts->mu);
    pthread_cond_destroy(&ts->wake);
    bpt_free(ts->rpc_url);
    bpt_free(ts->key_path);
    if (ts->password) {
        OPENSSL_cleanse(ts->password, strlen(ts->password));
        bpt_free(ts->password);
    }
    bpt_free(ts->state_path);
    free(ts);
}

static const bpt_source_vtable TANGLE_SOURCE = {BPT_SOURCE_VERSION, "tangle", source_start,
                                                source_stop, source_free};

bpt_source *bpt_source_tangle(const bpt_tangle_source_opts *o)
{
    struct tangle_source *ts;
    if (!o || o->version != BPT_TANGLE_SOURCE_OPTS_VERSION || !o->rpc_url || !o->tangle ||
        !o->operator_key || !o->state_path) {
        (void)bpt_err(BPT_EINVAL, "tangle source: options from BPT_TANGLE_SOURCE_OPTS_INIT with "
                                  "rpc_url, tangle, operator_key and state_path");
        return NULL;
    }
    if (!(ts = calloc(1, sizeof(*ts)))) {
        (void)bpt_err_nomem("tangle source");
        return NULL;
    }
    pthread_mutex_init(&ts->mu, NULL);
    pthread_cond_init(&ts->wake, NULL);
    ts->o = *o;
    ts->o.poll_ms = o->poll_ms > 0 ? o->poll_ms : DEFAULT_POLL_MS;
    ts->o.window = o->window ? o->window : DEFAULT_WINDOW;
    if (bpt_eth_address_parse(&ts->tangle, o->tangle) < 0 ||
        (o->bsm && bpt_eth_address_parse(&ts->bsm, o->bsm) < 0) ||
        bpt_strdup(&ts->rpc_url, o->rpc_url) < 0 ||
        bpt_strdup(&ts->key_path, o->operator_key) < 0 ||
        bpt_strdup(&ts->state_path, o->state_path) < 0 ||
        (o->key_password && bpt_strdup(&ts->password, o->key_password) < 0)) {
        (void)bpt_err_prefix(BPT_EINVAL, "tangle source");
        source_free(ts);
        return NULL;
    }
    ts->has_bsm = o->bsm != NULL;
    ts->o.rpc_url = ts->o.tangle = ts->o.operator_key = ts->o.key_password = ts->o.state_path =
        ts->o.bsm = NULL;
    return bpt_source_new(&TANGLE_SOURCE, ts);
}
