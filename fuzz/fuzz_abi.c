/*
 * The strict ABI decoder over the types the Tangle contracts return and emit: any input is
 * accepted or refused with a message; what decodes re-encodes to the same bytes for canonical
 * encodings of static and dynamic types alike (the decoder refuses trailing bytes, so the
 * re-encoding can only be shorter when offsets were not canonical).
 */
#include "fuzz.h"

#include <blueprint-tee/error.h>

#include <stdlib.h>
#include <string.h>

#include "chain/abi.h"

static const char *const TYPES[] = {
    "(uint8,address,bytes)",
    "(uint8,address,address[],uint256,bytes)",
    "((uint64,address,uint64,uint64,uint64,uint64,uint32,uint32,uint32,uint8,uint8,uint8,uint8))",
    "((string,bytes32,address,uint32,bool,(uint8,uint8,uint32,uint32,uint256,uint64,uint256),"
    "(string,string,string,string,string,string,string,string,string),"
    "(string,string,string,bytes,bytes)[],bytes,bytes,"
    "(uint8,(string,string,string),(uint8,uint8,string,string),(uint8,string,string),"
    "(string,string,string),(uint8,uint8,string,bytes32)[])[],uint8[]))",
    "(string)",
    "(uint256[2],bool[])",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct bpt_abi_type *t = NULL;
    struct bpt_abi_value *v = NULL;
    bpt_buf again = BPT_BUF_INIT(1u << 24);
    if (size < 1) {
        return 0;
    }
    if (bpt_abi_type_parse(&t, TYPES[data[0] % (sizeof(TYPES) / sizeof(TYPES[0]))]) != 0) {
        abort();
    }
    if (bpt_abi_decode(&v, t, data + 1, size - 1) == 0) {
        if (bpt_abi_encode(&again, t, v) != 0 || again.len > size - 1) {
            abort();
        }
    } else if (!bpt_error_last()[0]) {
        abort();
    }
    bpt_abi_value_free(v);
    bpt_abi_type_free(t);
    bpt_buf_dispose(&again);
    return 0;
}
