/*
 * EIP-1559 (type 2) transactions with EIP-155 chain ids: build, sign with libsecp256k1
 * (recoverable signatures; libsecp256k1 signs with RFC 6979 nonces and always a low s),
 * decode and recover (tests, fuzzing).
 */
#include "chain/chain_internal.h"
#include "chain/keccak.h"
#include "chain/rlp.h"

#include "core/err.h"
#include "core/reader.h"

#include <string.h>

#include <openssl/crypto.h>

#include <secp256k1.h>
#include <secp256k1_recovery.h>

/* A transaction's bytes at most: a 16 MiB job result and the fields around it. */
#define TX_MAX (16u * 1024u * 1024u + 4096u)

/* rlp([chain_id, nonce, tip, max_fee, gas, to, value, data, access_list]) payload items. */
static int put_fields(bpt_buf *b, const struct bpt_eth_tx *tx)
{
    int rc;
    BPT_CHECK(bpt_rlp_uint(b, tx->chain_id));
    BPT_CHECK(bpt_rlp_uint(b, tx->nonce));
    BPT_CHECK(bpt_rlp_uint(b, tx->max_priority_fee));
    BPT_CHECK(bpt_rlp_uint(b, tx->max_fee));
    BPT_CHECK(bpt_rlp_uint(b, tx->gas));
    BPT_CHECK(bpt_rlp_bytes(b, tx->to.bytes, 20));
    BPT_CHECK(bpt_rlp_uint256(b, tx->value));
    BPT_CHECK(bpt_rlp_bytes(b, tx->data, tx->len));
    BPT_CHECK(bpt_rlp_list(b, NULL, 0)); /* no access list */
out:
    return rc;
}

/* 0x02 || rlp(list of @p payload) */
static int typed(bpt_buf *out, const bpt_buf *payload)
{
    static const uint8_t type2 = 0x02;
    int rc;
    BPT_CHECK(bpt_buf_append(out, &type2, 1));
    BPT_CHECK(bpt_rlp_list(out, payload->data, payload->len));
out:
    return rc;
}

int bpt_eth_tx_sign(bpt_buf *raw, uint8_t hash[32], const struct bpt_eth_tx *tx,
                    const bpt_eth_key *k)
{
    bpt_buf fields = BPT_BUF_INIT(TX_MAX), unsigned_tx = BPT_BUF_INIT(TX_MAX);
    secp256k1_ecdsa_recoverable_signature sig;
    uint8_t digest[32], rs[64];
    int recid = 0, rc;

    BPT_CHECK(put_fields(&fields, tx));
    BPT_CHECK(typed(&unsigned_tx, &fields));
    bpt_keccak256(digest, unsigned_tx.data, unsigned_tx.len);
    if (!secp256k1_ecdsa_sign_recoverable((const secp256k1_context *)k->ctx, &sig, digest,
                                          bpt_secret_data(k->secret), NULL, NULL)) {
        rc = bpt_err(BPT_ERROR, "eth tx: signing failed");
        goto out;
    }
    secp256k1_ecdsa_recoverable_signature_serialize_compact(secp256k1_context_static, rs, &recid,
                                                            &sig);
    BPT_CHECK(bpt_rlp_uint(&fields, (uint64_t)recid));
    BPT_CHECK(bpt_rlp_uint256(&fields, rs));
    BPT_CHECK(bpt_rlp_uint256(&fields, rs + 32));
    BPT_CHECK(typed(raw, &fields));
    bpt_keccak256(hash, raw->data, raw->len);
    rc = 0;
out:
    bpt_buf_dispose(&fields);
    bpt_buf_dispose(&unsigned_tx);
    return rc;
}

static int item_word(uint8_t w[32], const struct bpt_rlp_item *it, const char *what)
{
    if (it->list || it->len > 32 || (it->len && it->p[0] == 0)) {
        return bpt_err(BPT_EMALFORMED, "eth tx: %s is not a canonical integer", what);
    }
    memset(w, 0, 32);
    memcpy(w + 32 - it->len, it->p, it->len);
    return 0;
}

int bpt_eth_tx_decode(struct bpt_eth_tx *tx, bpt_eth_address *from, const uint8_t *raw, size_t len)
{
    static const char *const names[] = {"chain_id", "nonce", "max_priority_fee", "max_fee", "gas"};
    static const uint8_t half_n[32] = {0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                       0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                       0x5d, 0x57, 0x6e, 0x73, 0x57, 0xa4, 0x50, 0x1d,
                                       0xdf, 0xe9, 0x2f, 0x46, 0x68, 0x1b, 0x20, 0xa0};
    struct bpt_reader r, list;
    struct bpt_rlp_item it, outer;
    uint64_t *ints[5] = {&tx->chain_id, &tx->nonce, &tx->max_priority_fee, &tx->max_fee, &tx->gas};
    uint8_t type, rs[64], digest[32];
    uint64_t parity;
    bpt_buf fields = BPT_BUF_INIT(TX_MAX), unsigned_tx = BPT_BUF_INIT(TX_MAX);
    secp256k1_ecdsa_recoverable_signature sig;
    secp256k1_pubkey pub;
    int rc;

    memset(tx, 0, sizeof(*tx));
    bpt_reader_init(&r, raw, len, "eth tx");
    BPT_CHECK(bpt_reader_u8(&r, &type, "type"));
    if (type != 0x02) {
        rc = bpt_err(BPT_EMALFORMED, "eth tx: type 0x%02x, want 0x02 (EIP-1559)", type);
        goto out;
    }
    BPT_CHECK(bpt_rlp_next(&outer, &r, "transaction"));
    BPT_CHECK(bpt_reader_end(&r, "eth tx"));
    if (!outer.list) {
        rc = bpt_err(BPT_EMALFORMED, "eth tx: not a list");
        goto out;
    }
    bpt_reader_init(&list, outer.p, outer.len, "eth tx fields");
    for (int i = 0; i < 5; i++) {
        BPT_CHECK(bpt_rlp_next(&it, &list, names[i]));
        BPT_CHECK(bpt_rlp_item_u64(ints[i], &it, names[i]));
    }
    BPT_CHECK(bpt_rlp_next(&it, &list, "to"));
    if (it.list || it.len != 20) {
        rc = bpt_err(BPT_EMALFORMED, "eth tx: 'to' is not 20 bytes");
        goto out;
    }
    memcpy(tx->to.bytes, it.p, 20);
    BPT_CHECK(bpt_rlp_next(&it, &list, "value"));
    BPT_CHECK(item_word(tx->value, &it, "value"));
    BPT_CHECK(bpt_rlp_next(&it, &list, "data"));
    if (it.list) {
        rc = bpt_err(BPT_EMALFORMED, "eth tx: data is a list");
        goto out;
    }
    tx->data = it.p;
    tx->len = it.len;
    BPT_CHECK(bpt_rlp_next(&it, &list, "access_list"));
    if (!it.list || it.len != 0) {
        rc = bpt_err(BPT_EMALFORMED, "eth tx: an access list that is not empty");
        goto out;
    }
    BPT_CHECK(bpt_rlp_next(&it, &list, "y_parity"));
    BPT_CHECK(bpt_rlp_item_u64(&parity, &it, "y_parity"));
    BPT_CHECK(bpt_rlp_next(&it, &list, "r"));
    BPT_CHECK(item_word(rs, &it, "r"));
    BPT_CHECK(bpt_rlp_next(&it, &list, "s"));
    BPT_CHECK(item_word(rs + 32, &it, "s"));
    BPT_CHECK(bpt_reader_end(&list, "eth tx fields"));
    if (parity > 1) {
        rc = bpt_err(BPT_ESIGNATURE, "eth tx: y_parity %llu, want 0 or 1",
                     (unsigned long long)parity);
        goto out;
    }
    if (memcmp(rs + 32, half_n, 32) > 0) {
        rc =
            bpt_err(BPT_ESIGNATURE, "eth tx: a high s (above n/2), want a low-s signature (EIP-2)");
        goto out;
    }
    BPT_CHECK(put_fields(&fields, tx));
    BPT_CHECK(typed(&unsigned_tx, &fields));
    bpt_keccak256(digest, unsigned_tx.data, unsigned_tx.len);
    if (!secp256k1_ecdsa_recoverable_signature_parse_compact(secp256k1_context_static, &sig, rs,
                                                             (int)parity) ||
        !secp256k1_ecdsa_recover(secp256k1_context_static, &pub, &sig, digest)) {
        rc = bpt_err(BPT_ESIGNATURE, "eth tx: no sender recovers from the signature");
        goto out;
    }
    {
        uint8_t ser[65], h[32];
        size_t n = sizeof(ser);
        secp256k1_ec_pubkey_serialize(secp256k1_context_static, ser, &n, &pub,
                                      SECP256K1_EC_UNCOMPRESSED);
        bpt_keccak256(h, ser + 1, 64);
        memcpy(from->bytes, h + 12, 20);
    }
    rc = 0;
out:
    bpt_buf_dispose(&fields);
    bpt_buf_dispose(&unsigned_tx);
    return rc;
}
