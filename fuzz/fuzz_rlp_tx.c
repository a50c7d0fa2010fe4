/*
 * RLP and signed EIP-1559 transactions: the strict decoder with sender recovery; any input is
 * accepted or refused with a message, and a transaction that decodes has canonical fields.
 */
#include "fuzz.h"

#include <blueprint-tee/error.h>

#include <stdlib.h>

#include "chain/chain_internal.h"
#include "chain/rlp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct bpt_eth_tx tx;
    bpt_eth_address from;
    struct bpt_reader r;
    struct bpt_rlp_item it;
    if (bpt_eth_tx_decode(&tx, &from, data, size) != 0 && !bpt_error_last()[0]) {
        abort();
    }
    bpt_reader_init(&r, data, size, "fuzz");
    for (int i = 0; i < 64 && bpt_reader_remaining(&r) > 0; i++) {
        if (bpt_rlp_next(&it, &r, "item") != 0) {
            break;
        }
        if (it.len > size) {
            abort();
        }
    }
    return 0;
}
