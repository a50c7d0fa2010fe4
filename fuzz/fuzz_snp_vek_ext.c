/* The VCEK/VLEK certificate-extension parser on arbitrary DER (after X.509 parsing). */
#include "fuzz.h"

#include "attestation/pki/pki.h"
#include "attestation/providers/sev_snp_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    X509 *c = NULL;
    struct bpt_snp_vek_ext ext;
    if (bpt_pki_parse_der(&c, data, size, "fuzz") == 0) {
        bpt_fuzz_ignore(bpt_snp_vek_extensions(&ext, c));
        X509_free(c);
    }
    return 0;
}
