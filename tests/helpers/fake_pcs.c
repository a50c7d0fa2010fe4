#include "helpers/fake_pcs.h"

#include "helpers/test.h"

#include "attester/sim/tdx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *field(const json_t *coll, const char *name)
{
    return json_string_value(json_object_get(coll, name));
}

static struct MHD_Response *text(const char *s)
{
    return MHD_create_response_from_buffer(strlen(s), (void *)s, MHD_RESPMEM_MUST_COPY);
}

static struct MHD_Response *der_of_hex(const char *hex)
{
    size_t n = 0;
    uint8_t *der = bpt_test_hex_bytes(hex, &n);
    return MHD_create_response_from_buffer(n, der, MHD_RESPMEM_MUST_FREE);
}

struct MHD_Response *bpt_fake_pcs_answer(unsigned *status, struct MHD_Connection *conn,
                                         const char *url, const json_t *coll, int faults)
{
    struct MHD_Response *resp;
    const char *chain_header = NULL, *chain = NULL;
    char body[65536];
    *status = MHD_HTTP_OK;
    if (strcmp(url, "/tdx/certification/v4/tcb") == 0) {
        const char *fmspc = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "fmspc");
        if (!fmspc || strcmp(fmspc, BPT_SIM_TDX_FMSPC) != 0) {
            resp = text("");
            MHD_add_response_header(resp, "Error-Code", "FmspcNotFound");
            *status = MHD_HTTP_NOT_FOUND;
            return resp;
        }
        snprintf(body, sizeof(body), "{\"tcbInfo\":%s,\"signature\":\"%s\"}",
                 field(coll, "tcb_info"),
                 faults & BPT_FAKE_PCS_BAD_SIGNATURE
                     ? "0101010101010101010101010101010101010101010101010101010"
                       "1010101010101010101010101010101010101010101010101010101"
                       "010101010101010101"
                     : field(coll, "tcb_info_signature"));
        resp = text(body);
        chain_header = "TCB-Info-Issuer-Chain";
        chain = field(coll, "tcb_info_issuer_chain");
    } else if (strcmp(url, "/tdx/certification/v4/qe/identity") == 0) {
        snprintf(body, sizeof(body), "{\"enclaveIdentity\":%s,\"signature\":\"%s\"}",
                 field(coll, "qe_identity"), field(coll, "qe_identity_signature"));
        resp = text(body);
        chain_header = "SGX-Enclave-Identity-Issuer-Chain";
        chain = field(coll, "qe_identity_issuer_chain");
    } else if (strcmp(url, "/sgx/certification/v4/pckcrl") == 0) {
        const char *ca = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "ca");
        if (!ca || strcmp(ca, "platform") != 0) {
            *status = MHD_HTTP_BAD_REQUEST;
            return text("");
        }
        resp = der_of_hex(field(coll, "pck_crl"));
        chain_header = "SGX-PCK-CRL-Issuer-Chain";
        chain = field(coll, "pck_crl_issuer_chain");
    } else if (strcmp(url, "/sgx/certification/v4/rootcacrl") == 0) {
        resp = faults & BPT_FAKE_PCS_ROOT_CRL_DER ? der_of_hex(field(coll, "root_ca_crl"))
                                                  : text(field(coll, "root_ca_crl")); /* PCCS */
    } else {
        return NULL;
    }
    if (chain_header && !(faults & BPT_FAKE_PCS_NO_CHAIN)) {
        char *enc = bpt_test_url_encode(chain);
        MHD_add_response_header(resp, chain_header, enc);
        free(enc);
    }
    return resp;
}
