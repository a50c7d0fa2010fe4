/*
 * Sending transactions (chain.h bpt_chain_transact): gas from eth_estimateGas × 1.3 with the
 * SDK's floor, fees from the node, nonces counted here after one read of the pending count, the
 * receipt waited for, and a revert's reason found by replaying the call at its block.
 *
 * Nonces: `mu` guards next_nonce and in_flight. A nonce is taken only right before signing
 * (never for a call that estimation already refused), and given back when sending fails and
 * nothing else took a later one; otherwise the count is re-read from the node at the next
 * transaction, so a gap is filled rather than left to block the transactions behind it. When
 * nothing of ours is in flight the node's pending count is read again (a reorganisation may
 * have dropped our transactions); a transaction whose nonce the node does not count for a
 * second is stranded and signed again.
 */
#include <blueprint-tee/chain.h>

#include "chain/chain_internal.h"

#include "core/err.h"
#include "core/logging.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_RECEIPT_TIMEOUT_MS 120000L
#define DEFAULT_POLL_MS 200L
/* What a legacy node answers for eth_maxPriorityFeePerGas's absence: a 1 gwei tip. */
#define FALLBACK_TIP_WEI 1000000000ULL

struct bpt_chain_signer {
    bpt_chain *chain;
    const bpt_eth_key *key;
    uint64_t chain_id;
    pthread_mutex_t mu;
    pthread_mutex_t send_mu; /* nonce taken, signed and handed to the node in nonce order */
    bool nonce_known;
    uint64_t next_nonce;
    size_t in_flight; /* transactions sent and not yet settled */
};

int bpt_chain_signer_new(bpt_chain_signer **out, bpt_chain *chain, const bpt_eth_key *key)
{
    bpt_chain_signer *s;
    uint64_t id = 0;
    int rc;
    if (!out || !chain || !key) {
        return bpt_err(BPT_EINVAL, "chain signer: NULL argument");
    }
    *out = NULL;
    if ((rc = bpt_chain_chain_id(&id, chain)) < 0) {
        return rc;
    }
    if (!(s = calloc(1, sizeof(*s)))) {
        return bpt_err_nomem("chain signer");
    }
    s->chain = chain;
    s->key = key;
    s->chain_id = id;
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->send_mu, NULL);
    *out = s;
    return 0;
}

void bpt_chain_signer_free(bpt_chain_signer *s)
{
    if (!s) {
        return;
    }
    pthread_mutex_destroy(&s->mu);
    pthread_mutex_destroy(&s->send_mu);
    free(s);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

static json_t *call_object(const bpt_chain_signer *s, const bpt_eth_address *to,
                           const uint8_t *data, size_t len)
{
    return json_pack("{s:o,s:o,s:o}", "from", bpt_chain_json_address(&s->key->addr), "to",
                     bpt_chain_json_address(to), "data", bpt_chain_json_data(data, len));
}

/* gas = estimate × 13 / 10, at least the floor; the floor alone when the node cannot estimate
 * for a reason other than a revert (as the SDK). A revert is returned with its reason. */
static int estimate_gas(uint64_t *gas, bpt_chain_receipt *out, bpt_chain_signer *s,
                        const bpt_eth_address *to, const uint8_t *data, size_t len, uint64_t floor)
{
    struct bpt_chain_node_error ne;
    json_t *res = NULL;
    uint64_t est = 0;
    int rc = bpt_chain_rpc(&res, &ne, s->chain, "eth_estimateGas",
                           json_pack("[o]", call_object(s, to, data, len)));
    if (rc == BPT_EPROTOCOL && ne.set && (ne.has_revert || strstr(ne.message, "revert"))) {
        if (ne.has_revert) {
            bpt_chain_revert_reason(out->reason, sizeof(out->reason), ne.revert, ne.revert_len);
        } else {
            snprintf(out->reason, sizeof(out->reason), "%s", ne.message);
        }
        rc = bpt_err(BPT_EPROTOCOL, "chain: the transaction would revert: %s", out->reason);
        goto out;
    }
    if (rc < 0 || bpt_chain_quantity(&est, res, "eth_estimateGas") < 0) {
        BPT_LOG(BPT_LOG_WARN, "chain", "gas estimate failed, using the floor %llu: %s",
                (unsigned long long)floor, bpt_error_last());
        *gas = floor;
        rc = rc == BPT_EFETCH ? rc : 0; /* an unreachable node fails the send anyway */
        goto out;
    }
    *gas = est > UINT64_MAX / 13 ? UINT64_MAX : est * 13 / 10;
    if (*gas < floor) {
        *gas = floor;
    }
    rc = 0;
out:
    json_decref(res);
    return rc;
}

/* Fees: the node's suggested tip and twice the latest base fee above it (room for six full
 * blocks of base-fee growth). A node without eth_maxPriorityFeePerGas: eth_feeHistory's reward,
 * else 1 gwei. */
static int fees(uint64_t *tip, uint64_t *max_fee, bpt_chain *c)
{
    json_t *res = NULL, *block = NULL;
    uint64_t base = 0;
    int rc = bpt_chain_rpc(&res, NULL, c, "eth_maxPriorityFeePerGas", json_array());
    if (rc == 0) {
        BPT_CHECK(bpt_chain_quantity(tip, res, "eth_maxPriorityFeePerGas"));
    } else if (rc == BPT_EPROTOCOL) {
        json_t *r, *first;
        json_decref(res);
        res = NULL;
        rc =
            bpt_chain_rpc(&res, NULL, c, "eth_feeHistory", json_pack("[i,s,[i]]", 1, "latest", 50));
        r = json_object_get(res, "reward");
        first = json_array_get(json_array_get(r, 0), 0);
        if (rc < 0 || !first || bpt_chain_quantity(tip, first, "feeHistory reward") < 0) {
            *tip = FALLBACK_TIP_WEI;
        }
    } else {
        goto out;
    }
    BPT_CHECK(
        bpt_chain_rpc(&block, NULL, c, "eth_getBlockByNumber", json_pack("[s,b]", "latest", 0)));
    if (!json_is_object(block)) {
        rc = bpt_err(BPT_EPROTOCOL, "chain: eth_getBlockByNumber(latest) gave no block");
        goto out;
    }
    if (json_object_get(block, "baseFeePerGas")) {
        BPT_CHECK(
            bpt_chain_quantity(&base, json_object_get(block, "baseFeePerGas"), "baseFeePerGas"));
    }
    *max_fee = base * 2 + *tip;
    rc = 0;
out:
    json_decref(res);
    json_decref(block);
    return rc;
}

static int read_nonce(uint64_t *out, bpt_chain_signer *s)
{
    json_t *res = NULL;
    int rc = bpt_chain_rpc(&res, NULL, s->chain, "eth_getTransactionCount",
                           json_pack("[o,s]", bpt_chain_json_address(&s->key->addr), "pending"));
    if (rc == 0) {
        rc = bpt_chain_quantity(out, res, "eth_getTransactionCount");
    }
    json_decref(res);
    return rc;
}

static int take_nonce(uint64_t *nonce, bpt_chain_signer *s)
{
    int rc = 0;
    pthread_mutex_lock(&s->mu);
    /* Idle (nothing of ours in flight): the node's count is the truth, whatever happened since
     * (a reorganisation that dropped our transactions, another sender with this key). */
    if (!s->nonce_known || s->in_flight == 0) {
        if ((rc = read_nonce(&s->next_nonce, s)) == 0) {
            s->nonce_known = true;
        }
    }
    if (rc == 0) {
        *nonce = s->next_nonce++;
        s->in_flight++;
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

static void settled(bpt_chain_signer *s)
{
    pthread_mutex_lock(&s->mu);
    s->in_flight--;
    pthread_mutex_unlock(&s->mu);
}

/* Sending failed: give the nonce back if it was the last one taken, else re-read the count. */
static void return_nonce(bpt_chain_signer *s, uint64_t nonce)
{
    pthread_mutex_lock(&s->mu);
    s->in_flight--;
    if (s->nonce_known && s->next_nonce == nonce + 1) {
        s->next_nonce = nonce;
    } else {
        s->nonce_known = false;
    }
    pthread_mutex_unlock(&s->mu);
}

static bool nonce_trouble(const char *msg)
{
    return strstr(msg, "nonce too low") || strstr(msg, "already known") ||
           strstr(msg, "replacement transaction") || strstr(msg, "Nonce too low") ||
           strstr(msg, "the tx doesn't have the correct nonce") || strstr(msg, "already imported");
}

static int send_signed(bpt_chain_receipt *out, bpt_chain_signer *s, struct bpt_eth_tx *tx)
{
    bpt_buf raw = BPT_BUF_INIT(17u * 1024u * 1024u);
    struct bpt_chain_node_error ne;
    json_t *res = NULL;
    int rc;
    /* One at a time per sender, so the node sees our nonces in order: a transaction whose
     * nonce arrives before its predecessor's is queued (some nodes hold the request until the
     * gap fills). Receipts are still awaited concurrently. */
    pthread_mutex_lock(&s->send_mu);
    for (int attempt = 0;; attempt++) {
        bpt_buf_reset(&raw);
        BPT_CHECK(take_nonce(&tx->nonce, s));
        if ((rc = bpt_eth_tx_sign(&raw, out->tx_hash, tx, s->key)) < 0) {
            return_nonce(s, tx->nonce);
            goto out;
        }
        rc = bpt_chain_rpc(&res, &ne, s->chain, "eth_sendRawTransaction",
                           json_pack("[o]", bpt_chain_json_data(raw.data, raw.len)));
        if (rc == 0) {
            break;
        }
        return_nonce(s, tx->nonce);
        if (rc == BPT_EPROTOCOL && ne.set && nonce_trouble(ne.message) && attempt == 0) {
            pthread_mutex_lock(&s->mu);
            s->nonce_known = false; /* someone else sent from this key: read it again */
            pthread_mutex_unlock(&s->mu);
            continue;
        }
        goto out;
    }
    rc = 0;
out:
    pthread_mutex_unlock(&s->send_mu);
    json_decref(res);
    bpt_buf_dispose(&raw);
    return rc;
}

/* A transaction the node will not mine: its nonce is past what the node counts for us (a
 * reorganisation dropped our earlier transactions, or one was never accepted). Returned by
 * wait_receipt() after two such readings a second apart, so the caller signs again. */
#define STRANDED 1

static int wait_receipt(bpt_chain_receipt *out, bpt_chain_signer *s, uint64_t nonce,
                        long timeout_ms, long poll_ms)
{
    struct timespec t0, now, last_check;
    json_t *rec = NULL;
    uint64_t status = 0;
    int rc, stranded = 0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    last_check = t0;
    for (;;) {
        json_decref(rec);
        rec = NULL;
        BPT_CHECK(bpt_chain_rpc(&rec, NULL, s->chain, "eth_getTransactionReceipt",
                                json_pack("[o]", bpt_chain_json_data(out->tx_hash, 32))));
        if (json_is_object(rec)) {
            break;
        }
        clock_gettime(CLOCK_MONOTONIC, &now);
        if ((now.tv_sec - last_check.tv_sec) * 1000 +
                (now.tv_nsec - last_check.tv_nsec) / 1000000 >=
            1000) {
            uint64_t pending = 0;
            last_check = now;
            if (read_nonce(&pending, s) == 0 && pending <= nonce) {
                if (++stranded == 2) {
                    pthread_mutex_lock(&s->mu);
                    s->nonce_known = false;
                    pthread_mutex_unlock(&s->mu);
                    BPT_LOG(BPT_LOG_WARN, "chain",
                            "transaction nonce=%llu stranded (the node counts %llu): sending again",
                            (unsigned long long)nonce, (unsigned long long)pending);
                    rc = STRANDED;
                    goto out;
                }
            } else {
                stranded = 0;
            }
        }
        if ((now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000 > timeout_ms) {
            rc = bpt_err(BPT_EEXPIRED, "chain: no receipt within %ld ms (it may still be mined)",
                         timeout_ms);
            goto out;
        }
        sleep_ms(poll_ms);
    }
    BPT_CHECK(bpt_chain_quantity(&out->block_number, json_object_get(rec, "blockNumber"),
                                 "receipt blockNumber"));
    BPT_CHECK(
        bpt_chain_quantity(&out->gas_used, json_object_get(rec, "gasUsed"), "receipt gasUsed"));
    BPT_CHECK(bpt_chain_quantity(&status, json_object_get(rec, "status"), "receipt status"));
    out->success = status == 1;
    rc = 0;
out:
    json_decref(rec);
    return rc;
}

int bpt_chain_transact(bpt_chain_receipt *out, bpt_chain_signer *s, const bpt_eth_address *to,
                       const uint8_t *data, size_t len, const bpt_chain_tx_opts *o)
{
    static const bpt_chain_tx_opts defaults = BPT_CHAIN_TX_OPTS_INIT;
    struct bpt_eth_tx tx;
    char block[24];
    int rc;

    if (!out || !s || !to || (!data && len)) {
        return bpt_err(BPT_EINVAL, "chain: transact: NULL argument");
    }
    o = o ? o : &defaults;
    if (o->version != BPT_CHAIN_TX_OPTS_VERSION) {
        return bpt_err(BPT_EINVAL,
                       "chain: transact options: version %u, want %u (from BPT_CHAIN_TX_OPTS_INIT)",
                       o->version, (unsigned)BPT_CHAIN_TX_OPTS_VERSION);
    }
    if (o->receipt_timeout_ms < 0 || o->poll_ms < 0) {
        return bpt_err(BPT_EINVAL,
                       "chain: transact options: receipt_timeout_ms %ld, poll_ms %ld: want >= 0 "
                       "(0: the default)",
                       o->receipt_timeout_ms, o->poll_ms);
    }
    memset(out, 0, sizeof(*out));
    memset(&tx, 0, sizeof(tx));
    tx.chain_id = s->chain_id;
    tx.to = *to;
    tx.data = data;
    tx.len = len;
    if (o->gas_limit) {
        tx.gas = o->gas_limit;
    } else {
        BPT_CHECK(estimate_gas(&tx.gas, out, s, to, data, len,
                               o->gas_floor ? o->gas_floor : BPT_CHAIN_DEFAULT_GAS_FLOOR));
    }
    BPT_CHECK(fees(&tx.max_priority_fee, &tx.max_fee, s->chain));
    for (int attempt = 0;; attempt++) {
        BPT_CHECK(send_signed(out, s, &tx));
        rc =
            wait_receipt(out, s, tx.nonce,
                         o->receipt_timeout_ms ? o->receipt_timeout_ms : DEFAULT_RECEIPT_TIMEOUT_MS,
                         o->poll_ms ? o->poll_ms : DEFAULT_POLL_MS);
        settled(s);
        BPT_CHECK(rc);
        if (rc != STRANDED) {
            break;
        }
        if (attempt == 2) {
            rc = bpt_err(BPT_EEXPIRED, "chain: the transaction stays stranded (nonce %llu)",
                         (unsigned long long)tx.nonce);
            goto out;
        }
    }
    if (!out->success) {
        /* The receipt has no reason: the call replayed on the state before its block gives it. */
        bpt_buf ret = BPT_BUF_INIT(1024 * 1024);
        snprintf(block, sizeof(block), "0x%llx",
                 (unsigned long long)(out->block_number ? out->block_number - 1 : 0));
        if (bpt_chain_eth_call(&ret, out->reason, s->chain, &s->key->addr, to, data, len, block) ==
                0 ||
            !out->reason[0]) {
            snprintf(out->reason, sizeof(out->reason), "reverted (no reason on replay)");
        }
        bpt_buf_dispose(&ret);
        rc = bpt_err(BPT_EPROTOCOL, "chain: transaction reverted in block %llu: %s",
                     (unsigned long long)out->block_number, out->reason);
        goto out;
    }
    rc = 0;
out:
    return rc;
}
