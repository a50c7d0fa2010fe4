#include "attester/snp_cert_table.h"

#include "core/err.h"
#include "core/reader.h"

#include <string.h>

static const struct {
    enum bpt_snp_cert_kind kind;
    uint8_t guid[16];
} guids[] = {
    /* 63da758d-e664-4564-adc5-f4b93be8accd */
    {BPT_SNP_CERT_VCEK,
     {0x63, 0xda, 0x75, 0x8d, 0xe6, 0x64, 0x45, 0x64, 0xad, 0xc5, 0xf4, 0xb9, 0x3b, 0xe8, 0xac,
      0xcd}},
    /* a8074bc2-a25a-483e-aae6-39c045a0b8a1 */
    {BPT_SNP_CERT_VLEK,
     {0xa8, 0x07, 0x4b, 0xc2, 0xa2, 0x5a, 0x48, 0x3e, 0xaa, 0xe6, 0x39, 0xc0, 0x45, 0xa0, 0xb8,
      0xa1}},
    /* 4ab7b379-bbac-4fe4-a02f-05aef327c782 */
    {BPT_SNP_CERT_ASK,
     {0x4a, 0xb7, 0xb3, 0x79, 0xbb, 0xac, 0x4f, 0xe4, 0xa0, 0x2f, 0x05, 0xae, 0xf3, 0x27, 0xc7,
      0x82}},
    /* c0b406a4-a803-4952-9743-3fb6014cd0ae */
    {BPT_SNP_CERT_ARK,
     {0xc0, 0xb4, 0x06, 0xa4, 0xa8, 0x03, 0x49, 0x52, 0x97, 0x43, 0x3f, 0xb6, 0x01, 0x4c, 0xd0,
      0xae}},
};

int bpt_snp_cert_table_parse(struct bpt_snp_cert_entry *out, size_t *n, const uint8_t *table,
                             size_t len)
{
    struct bpt_reader r;
    int rc;

    *n = 0;
    bpt_reader_init(&r, table, len, "sev_snp cert table");
    for (;;) {
        uint8_t guid[16];
        uint32_t off, sz;
        static const uint8_t zero[16];
        BPT_CHECK(bpt_reader_copy(&r, guid, 16, "guid"));
        BPT_CHECK(bpt_reader_u32le(&r, &off, "offset"));
        BPT_CHECK(bpt_reader_u32le(&r, &sz, "length"));
        if (memcmp(guid, zero, 16) == 0) {
            return 0; /* terminator */
        }
        if (*n == BPT_SNP_CERT_TABLE_MAX) {
            return bpt_err(BPT_EMALFORMED, "sev_snp cert table: more than %d entries",
                           BPT_SNP_CERT_TABLE_MAX);
        }
        if (off > len || sz > len - off || sz == 0) {
            return bpt_err(BPT_EMALFORMED,
                           "sev_snp cert table: entry %zu (offset %u, length %u) lies outside "
                           "the %zu-byte table",
                           *n, off, sz, len);
        }
        out[*n].kind = BPT_SNP_CERT_OTHER;
        for (size_t i = 0; i < sizeof(guids) / sizeof(guids[0]); i++) {
            if (memcmp(guid, guids[i].guid, 16) == 0) {
                out[*n].kind = guids[i].kind;
            }
        }
        {
            struct bpt_reader body;
            bpt_reader_init(&body, table, len, "sev_snp cert table");
            BPT_CHECK(bpt_reader_skip(&body, off, "entry offset"));
            BPT_CHECK(bpt_reader_view(&body, &out[*n].der, sz, "certificate"));
        }
        out[*n].len = sz;
        (*n)++;
    }
out:
    return rc;
}
