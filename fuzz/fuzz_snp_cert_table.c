/* The SEV-SNP certificate table (configfs-tsm auxblob / SNP_GET_EXT_REPORT). */
#include "fuzz.h"

#include "attester/snp_cert_table.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct bpt_snp_cert_entry e[BPT_SNP_CERT_TABLE_MAX];
    size_t n = 0;
    if (bpt_snp_cert_table_parse(e, &n, data, size) == 0) {
        for (size_t i = 0; i < n; i++) {
            volatile uint8_t last = e[i].der[e[i].len - 1]; /* every entry lies inside */
            (void)last;
        }
    }
    return 0;
}
