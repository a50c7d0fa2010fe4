#include "core/cbor_check.h"
#include "core/err.h"
#include "core/reader.h"

static int head(struct bpt_reader *r, uint8_t *major, uint64_t *arg, const char *what)
{
    uint8_t ib, b8;
    uint16_t b16;
    uint32_t b32;
    uint64_t b64;
    int rc;

    BPT_CHECK(bpt_reader_u8(r, &ib, "cbor head"));
    *major = ib >> 5;
    switch (ib & 31) {
    case 24:
        BPT_CHECK(bpt_reader_u8(r, &b8, "cbor argument"));
        *arg = b8;
        break;
    case 25:
        BPT_CHECK(bpt_reader_u16be(r, &b16, "cbor argument"));
        *arg = b16;
        break;
    case 26:
        BPT_CHECK(bpt_reader_u32be(r, &b32, "cbor argument"));
        *arg = b32;
        break;
    case 27: {
        uint32_t hi, lo;
        BPT_CHECK(bpt_reader_u32be(r, &hi, "cbor argument"));
        BPT_CHECK(bpt_reader_u32be(r, &lo, "cbor argument"));
        b64 = (uint64_t)hi << 32 | lo;
        *arg = b64;
        break;
    }
    case 28:
    case 29:
    case 30:
    case 31:
        return bpt_err(BPT_EMALFORMED, "%s: CBOR indefinite length or reserved encoding", what);
    default:
        *arg = ib & 31;
    }
    rc = 0;
out:
    return rc;
}

static int item(struct bpt_reader *r, int depth, int max_depth, const char *what)
{
    uint8_t major = 0;
    uint64_t arg = 0;
    int rc;

    if (depth > max_depth) {
        return bpt_err(BPT_EMALFORMED, "%s: CBOR nested deeper than %d", what, max_depth);
    }
    BPT_CHECK(head(r, &major, &arg, what));
    switch (major) {
    case 2: /* byte string */
    case 3: /* text string */
        if (arg > bpt_reader_remaining(r)) {
            return bpt_err(BPT_EMALFORMED, "%s: CBOR string of %llu bytes, %zu left", what,
                           (unsigned long long)arg, bpt_reader_remaining(r));
        }
        BPT_CHECK(bpt_reader_skip(r, (size_t)arg, "cbor string"));
        break;
    case 4: /* array */
    case 5: /* map: twice the items */
        if (arg > bpt_reader_remaining(r) || (major == 5 && arg > bpt_reader_remaining(r) / 2)) {
            return bpt_err(BPT_EMALFORMED,
                           "%s: CBOR container declares %llu items, %zu bytes "
                           "left",
                           what, (unsigned long long)arg, bpt_reader_remaining(r));
        }
        for (uint64_t i = 0; i < (major == 5 ? 2 * arg : arg); i++) {
            BPT_CHECK(item(r, depth + 1, max_depth, what));
        }
        break;
    case 6: /* tag */
        BPT_CHECK(item(r, depth + 1, max_depth, what));
        break;
    default: /* integers, simple values, floats: the head was all */
        break;
    }
    rc = 0;
out:
    return rc;
}

int bpt_cbor_precheck(const uint8_t *p, size_t len, int max_depth, const char *what)
{
    struct bpt_reader r;
    int rc;
    bpt_reader_init(&r, p, len, what);
    BPT_CHECK(item(&r, 0, max_depth, what));
    BPT_CHECK(bpt_reader_end(&r, what));
out:
    return rc;
}
