/* bpt_attest and bpt_sim_init: the table of simulated providers and the hardware path. */
#include <blueprint-tee/attester.h>
#include <blueprint-tee/clock.h>
#include <blueprint-tee/sev_snp.h>
#include <blueprint-tee/tdx.h>

#include "attestation/model_internal.h"
#include "attester/nsm.h"
#include "attester/sim/aws_nitro.h"
#include "attester/sim/sev_snp.h"
#include "attester/sim/tdx.h"
#include "attester/sim/tokens.h"
#include "attester/attester_internal.h"
#include "attester/sim/x509.h"
#include "attester/snp_cert_table.h"
#include "attestation/pki/pki.h"

#include "core/codec.h"
#include "core/err.h"
#include "core/json.h"
#include "core/limits.h"
#include "core/util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define GCP_LAUNCHER_SOCKET "/run/container_launcher/teeserver.sock"

#include <openssl/pem.h>

/*
 * What evidence binds: 64 bytes of report data, or a nonce by the nonce rule (bpt_nonce_bind:
 * report-data providers get SHA-512(nonce) as report_data, Nitro the nonce in its nonce field).
 */
struct attest_in {
    uint8_t report_data[64];
    const uint8_t *nonce; /* NULL: report_data alone */
    size_t nonce_len;
    const char *audience; /* token providers: the audience asked for (NULL: none given) */
};

/* Each simulated provider: how to create its PKI, and how to attest with it. */
struct sim_provider {
    bpt_provider provider;
    const char *subdir;
    bool has_root; /* its root.pem goes to trust-roots.pem (token services publish a JWKS) */
    int (*init)(const char *dir);
    int (*attest)(bpt_report **out, const char *dir, const struct attest_in *in);
};

/* @p in for @p provider: the nonce (when given) bound by the nonce rule. */
static int bind_input(struct attest_in *in, bpt_provider provider)
{
    bpt_nonce_binding where;
    uint8_t rd[64];
    int rc;
    if (!in->nonce) {
        return 0;
    }
    BPT_CHECK(bpt_nonce_bind(&where, rd, provider, in->nonce, in->nonce_len));
    if (where == BPT_NONCE_IN_REPORT_DATA) {
        memcpy(in->report_data, rd, 64);
    }
out:
    return rc;
}

/* SEV-SNP collateral from the certificate table: VCEK/VLEK and ASK as PEM strings. */
static int cert_table_collateral(json_t **out, const bpt_buf *aux)
{
    struct bpt_snp_cert_entry certs[BPT_SNP_CERT_TABLE_MAX];
    size_t n = 0;
    json_t *list = NULL;
    int rc;

    *out = NULL;
    if (aux->len == 0) {
        return 0;
    }
    BPT_CHECK(bpt_snp_cert_table_parse(certs, &n, aux->data, aux->len));
    list = json_array();
    if (!list) {
        rc = bpt_err_nomem("collateral");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        X509 *c = NULL;
        BIO *bio = NULL;
        char *pem = NULL;
        long pem_len;
        if (certs[i].kind == BPT_SNP_CERT_ARK || certs[i].kind == BPT_SNP_CERT_OTHER) {
            continue; /* the ARK is pinned, never taken from the host */
        }
        BPT_CHECK(bpt_pki_parse_der(&c, certs[i].der, certs[i].len, "sev_snp cert table"));
        bio = BIO_new(BIO_s_mem());
        if (!bio || PEM_write_bio_X509(bio, c) != 1 ||
            (pem_len = BIO_get_mem_data(bio, &pem)) <= 0) {
            BIO_free(bio);
            X509_free(c);
            rc = bpt_err_ossl(BPT_ERROR, "sev_snp cert table: PEM");
            goto out;
        }
        json_array_append_new(list, json_stringn(pem, (size_t)pem_len));
        BIO_free(bio);
        X509_free(c);
    }
    *out = json_pack("{s:o}", "certificates", list);
    list = NULL;
    rc = *out ? 0 : bpt_err_nomem("collateral");
out:
    json_decref(list);
    return rc;
}

/* A report for SEV-SNP evidence, with the certificate table (may be empty) as collateral. */
static int snp_report(bpt_report **out, const bpt_buf *evidence, const bpt_buf *aux)
{
    bpt_snp_report rep = BPT_SNP_REPORT_INIT;
    bpt_measurement m;
    bpt_report *r = NULL;
    json_t *coll = NULL;
    int rc;

    *out = NULL;
    BPT_CHECK(bpt_sev_snp_parse(&rep, evidence->data, evidence->len));
    BPT_CHECK(bpt_report_new(&r, BPT_PROVIDER_AMD_SEV_SNP, BPT_FORMAT_SEV_SNP_REPORT));
    BPT_CHECK(bpt_report_set_evidence(r, evidence->data, evidence->len));
    BPT_CHECK(bpt_measurement_set_bytes(&m, "sha384", rep.measurement, 48));
    bpt_report_set_measurement(r, &m);
    BPT_CHECK(bpt_claims_set_user_data(bpt_report_claims_mut(r), rep.report_data, 64));
    BPT_CHECK(cert_table_collateral(&coll, aux));
    if (coll) {
        bpt_report_set_collateralv(r, coll);
    }
    *out = r;
    r = NULL;
    rc = 0;
out:
    bpt_report_free(r);
    return rc;
}

/* The PEM blocks of @p text, one JSON string each. */
static json_t *pem_blocks(const char *text)
{
    static const char begin[] = "-----BEGIN ";
    json_t *list = json_array();
    const char *p = strstr(text, begin);
    while (list && p) {
        const char *next = strstr(p + 1, begin);
        size_t n = next ? (size_t)(next - p) : strlen(p);
        if (json_array_append_new(list, json_stringn(p, n)) != 0) {
            json_decref(list);
            return NULL;
        }
        p = next;
    }
    return list;
}

/* The simulator: the report plus the simulated VCEK, ASK and the ARK's CRL (PEM) as
 * "certificates" collateral. */
static int sev_snp_attest(bpt_report **out, const char *dir, const struct attest_in *in)
{
    const uint8_t *report_data = in->report_data;
    bpt_buf ev = BPT_BUF_INIT(BPT_LIMIT_EVIDENCE_BYTES), none = BPT_BUF_INIT(0);
    uint8_t *raw = NULL;
    size_t raw_len = 0;
    char *certs = NULL;
    json_t *list = NULL;
    int rc;

    *out = NULL;
    BPT_CHECK(bpt_sim_sev_snp_attest(&raw, &raw_len, dir, report_data));
    BPT_CHECK(bpt_buf_append(&ev, raw, raw_len));
    BPT_CHECK(bpt_sim_sev_snp_certs_pem(&certs, dir));
    list = pem_blocks(certs); /* the VCEK, the ASK, the CRL */
    if (!list || json_array_size(list) < 2) {
        rc = bpt_err(BPT_ERROR, "sim: unexpected certificate file");
        goto out;
    }
    BPT_CHECK(snp_report(out, &ev, &none));
    bpt_report_set_collateralv(*out, json_pack("{s:o}", "certificates", list));
    list = NULL;
    rc = 0;
out:
    json_decref(list);
    bpt_buf_dispose(&ev);
    bpt_free(certs);
    bpt_free(raw);
    return rc;
}

/* The Nitro Secure Module: report data travels as the document's user_data, a nonce (the nonce
 * rule) in its nonce field. */
static int nsm_report(bpt_report **out, const struct attest_in *in, const char *root,
                      const struct bpt_dev_ops *nsm_ops)
{
    bpt_buf doc = BPT_BUF_INIT(BPT_LIMIT_EVIDENCE_BYTES);
    int rc;

    *out = NULL;
    if (in->nonce) {
        BPT_CHECK(
            bpt_nsm_attestation(&doc, root, NULL, 0, in->nonce, in->nonce_len, NULL, 0, nsm_ops));
    } else {
        BPT_CHECK(bpt_nsm_attestation(&doc, root, in->report_data, 64, NULL, 0, NULL, 0, nsm_ops));
    }
    BPT_CHECK(bpt_report_new(out, BPT_PROVIDER_AWS_NITRO, BPT_FORMAT_NITRO_DOCUMENT));
    BPT_CHECK(bpt_report_set_evidence(*out, doc.data, doc.len));
    if (!in->nonce) {
        BPT_CHECK(bpt_claims_set_user_data(bpt_report_claims_mut(*out), in->report_data, 64));
    }
out:
    if (rc < 0) {
        bpt_report_free(*out);
        *out = NULL;
    }
    bpt_buf_dispose(&doc);
    return rc;
}

/* A token as a report: the JWT is the evidence; the verifier reads everything from it. */
static int token_report(bpt_report **out, char *token, bpt_provider provider, bpt_format format)
{
    int rc;
    *out = NULL;
    BPT_CHECK(bpt_report_new(out, provider, format));
    BPT_CHECK(bpt_report_set_evidence(*out, (const uint8_t *)token, strlen(token)));
out:
    if (rc < 0) {
        bpt_report_free(*out);
        *out = NULL;
    }
    bpt_free(token);
    return rc;
}

/*
 * GCP Confidential Space: the container launcher's token (its socket under @p root), binding
 * the report data as two nonces of 32 bytes in hex, or the nonce (the nonce rule) as its text;
 * BPT_ENOTSUP when there is no launcher socket.
 */
static int launcher_report(bpt_report **out, const struct attest_in *in, const char *root)
{
    char sock[4096], half[2][65], *nonce = NULL, *token = NULL;
    const char *nonces[2] = {half[0], half[1]};
    struct stat st;
    int rc;

    *out = NULL;
    snprintf(sock, sizeof(sock), "%s%s", root && *root ? root : "", GCP_LAUNCHER_SOCKET);
    if (stat(sock, &st) != 0 || !S_ISSOCK(st.st_mode)) {
        return BPT_ENOTSUP;
    }
    if (!in->audience) {
        return bpt_err(BPT_EINVAL, "attest: a Confidential Space token needs an audience "
                                   "(bpt_attester_opts.audience)");
    }
    if (in->nonce) {
        if (!(nonce = strndup((const char *)in->nonce, in->nonce_len)) ||
            strlen(nonce) != in->nonce_len) {
            rc = nonce ? bpt_err(BPT_EINVAL,
                                 "attest: a Confidential Space nonce is text: it has a NUL byte "
                                 "at offset %zu of its %zu bytes",
                                 strlen(nonce), in->nonce_len)
                       : bpt_err_nomem("attest: nonce");
            goto out;
        }
        nonces[0] = nonce;
    } else {
        bpt_hex_encode_to(half[0], in->report_data, 32);
        bpt_hex_encode_to(half[1], in->report_data + 32, 32);
    }
    BPT_CHECK(bpt_attest_gcp_token(&token, sock, in->audience, nonces, in->nonce ? 1 : 2, 0));
    rc = token_report(out, token, BPT_PROVIDER_GCP_CONFIDENTIAL, BPT_FORMAT_GCP_CONFIDENTIAL_TOKEN);
    token = NULL;
out:
    bpt_free(token);
    free(nonce);
    return rc;
}

/* The hardware path for @p in: its report data is already the SNP/TDX binding of a nonce (the
 * rule gives SEV-SNP and TDX the same one); a nonce, if any, goes to Nitro's nonce field. */
static int attest_hw(bpt_report **out, const struct attest_in *in, const char *root, int privlevel,
                     const struct bpt_tsm_hooks *hooks, const struct bpt_dev_ops *sev_guest_ops,
                     const struct bpt_dev_ops *nsm_ops)
{
    const uint8_t *report_data = in->report_data;
    struct bpt_tsm_result res;
    bpt_report *r = NULL;
    int rc;

    *out = NULL;
    bpt_tsm_result_init(&res);
    rc = bpt_tsm_report(&res, root, report_data, privlevel, hooks);
    if (rc == BPT_ENOTSUP) {
        /* No configfs-tsm: the SEV-SNP guest device, asking for the host's certificates. */
        rc = bpt_sev_guest_report(&res.outblob, &res.auxblob, root, privlevel, report_data,
                                  sev_guest_ops);
        if (rc == BPT_ENOTSUP) {
            rc = nsm_report(out, in, root, nsm_ops);
            if (rc == BPT_ENOTSUP) {
                rc = launcher_report(out, in, root);
            }
            if (rc == BPT_ENOTSUP) {
                char tdx[4096];
                struct stat st;
                snprintf(tdx, sizeof(tdx), "%s/dev/tdx_guest", root && *root ? root : "");
                if (stat(tdx, &st) == 0 && S_ISCHR(st.st_mode)) {
                    rc = bpt_err(BPT_ENOTSUP,
                                 "attest: this TD has /dev/tdx_guest but no configfs-tsm: its "
                                 "TDREPORT (bpt_attest_tdreport) is not remote evidence; TDX "
                                 "quotes need configfs-tsm (Linux 6.7+) and a quote service");
                } else {
                    rc =
                        bpt_err(BPT_ENOTSUP, "attest: no configfs-tsm, /dev/sev-guest, /dev/nsm or "
                                             "/dev/tdx_guest on this host; use the simulator "
                                             "(bpt_attester_opts.simulate)");
                }
            }
            goto out;
        }
        BPT_CHECK(rc);
        snprintf(res.provider, sizeof(res.provider), "sev_guest");
    }
    BPT_CHECK(rc);
    if (strcmp(res.provider, "sev_guest") == 0) {
        BPT_CHECK(snp_report(&r, &res.outblob, &res.auxblob));
    } else if (strcmp(res.provider, "tdx_guest") == 0) {
        bpt_tdx_quote q = BPT_TDX_QUOTE_INIT;
        bpt_measurement m;
        BPT_CHECK(bpt_tdx_parse(&q, res.outblob.data, res.outblob.len));
        BPT_CHECK(bpt_report_new(&r, BPT_PROVIDER_INTEL_TDX, BPT_FORMAT_TDX_QUOTE));
        BPT_CHECK(bpt_report_set_evidence(r, res.outblob.data, res.outblob.len));
        BPT_CHECK(bpt_measurement_set_bytes(&m, "sha384", q.body.mr_td, 48));
        bpt_report_set_measurement(r, &m);
        BPT_CHECK(bpt_claims_set_user_data(bpt_report_claims_mut(r), report_data, 64));
    } else {
        rc = bpt_err(BPT_ENOTSUP,
                     "attest: configfs-tsm provider '%.31s' is not supported "
                     "(expected sev_guest or tdx_guest)",
                     res.provider);
        goto out;
    }
    *out = r;
    r = NULL;
    rc = 0;
out:
    bpt_report_free(r);
    bpt_tsm_result_dispose(&res);
    return rc;
}

int bpt_attest_hw(bpt_report **out, const uint8_t report_data[64], const char *root, int privlevel,
                  const struct bpt_tsm_hooks *hooks, const struct bpt_dev_ops *sev_guest_ops,
                  const struct bpt_dev_ops *nsm_ops)
{
    struct attest_in in = {.nonce = NULL};
    memcpy(in.report_data, report_data, 64);
    return attest_hw(out, &in, root, privlevel, hooks, sev_guest_ops, nsm_ops);
}

int bpt_attest_hw_nonce(bpt_report **out, const uint8_t *nonce, size_t nonce_len, const char *root,
                        int privlevel, const struct bpt_tsm_hooks *hooks,
                        const struct bpt_dev_ops *sev_guest_ops, const struct bpt_dev_ops *nsm_ops)
{
    struct attest_in in = {.nonce = nonce, .nonce_len = nonce_len};
    int rc;
    *out = NULL;
    /* SEV-SNP and TDX share the rule's report data; which one this host has is found later. */
    BPT_CHECK(bind_input(&in, BPT_PROVIDER_AMD_SEV_SNP));
    rc = attest_hw(out, &in, root, privlevel, hooks, sev_guest_ops, nsm_ops);
out:
    return rc;
}

/* The simulated Nitro document binds the report data as user_data, a nonce in its nonce field. */
static int aws_nitro_attest(bpt_report **out, const char *dir, const struct attest_in *in)
{
    struct bpt_sim_nitro_opts o = {.user_data = in->nonce ? NULL : in->report_data,
                                   .user_data_len = in->nonce ? 0 : 64,
                                   .nonce = in->nonce,
                                   .nonce_len = in->nonce_len,
                                   .timestamp_ms = (uint64_t)bpt_time_now() * 1000};
    uint8_t *ev = NULL;
    size_t ev_len = 0;
    int rc;

    *out = NULL;
    BPT_CHECK(bpt_sim_aws_nitro_build(&ev, &ev_len, dir, &o));
    BPT_CHECK(bpt_report_new(out, BPT_PROVIDER_AWS_NITRO, BPT_FORMAT_NITRO_DOCUMENT));
    BPT_CHECK(bpt_report_set_evidence(*out, ev, ev_len));
    if (!in->nonce) {
        BPT_CHECK(bpt_claims_set_user_data(bpt_report_claims_mut(*out), in->report_data, 64));
    }
    bpt_report_set_issued_at(*out, o.timestamp_ms / 1000);
out:
    if (rc < 0) {
        bpt_report_free(*out);
        *out = NULL;
    }
    bpt_free(ev);
    return rc;
}

/* The simulated quote, with its collateral (signed by the simulated Intel PKI) attached. */
static int tdx_attest(bpt_report **out, const char *dir, const struct attest_in *in)
{
    const uint8_t *report_data = in->report_data;
    struct bpt_sim_tdx_opts o = {.version = 4};
    uint8_t *ev = NULL;
    size_t ev_len = 0;
    char *coll = NULL;
    json_t *cj = NULL;
    bpt_tdx_quote q = BPT_TDX_QUOTE_INIT;
    bpt_measurement m;
    int rc;

    *out = NULL;
    memcpy(o.report_data, report_data, 64);
    BPT_CHECK(bpt_sim_tdx_quote(&ev, &ev_len, dir, &o));
    BPT_CHECK(bpt_sim_tdx_collateral(&coll, dir, &o));
    BPT_CHECK(bpt_json_parse(&cj, coll, strlen(coll), "sim: collateral"));
    BPT_CHECK(bpt_tdx_parse(&q, ev, ev_len));
    BPT_CHECK(bpt_report_new(out, BPT_PROVIDER_INTEL_TDX, BPT_FORMAT_TDX_QUOTE));
    BPT_CHECK(bpt_report_set_evidence(*out, ev, ev_len));
    BPT_CHECK(bpt_measurement_set_bytes(&m, "sha384", q.body.mr_td, 48));
    bpt_report_set_measurement(*out, &m);
    BPT_CHECK(bpt_claims_set_user_data(bpt_report_claims_mut(*out), report_data, 64));
    bpt_report_set_collateralv(*out, cj); /* takes the reference */
    cj = NULL;
out:
    if (rc < 0) {
        bpt_report_free(*out);
        *out = NULL;
    }
    json_decref(cj);
    bpt_free(coll);
    bpt_free(ev);
    return rc;
}

/* A simulated token service's token for @p in (tokens.h: what it binds), as a report. */
static int sim_token(bpt_report **out, const char *dir, const struct attest_in *in,
                     int (*make)(char **, const char *, const struct bpt_sim_token_opts *),
                     bpt_provider provider, bpt_format format)
{
    struct bpt_sim_token_opts o = {.report_data = in->nonce ? NULL : in->report_data,
                                   .nonce = in->nonce,
                                   .nonce_len = in->nonce_len,
                                   .audience = in->audience,
                                   .issued_at = bpt_time_now()};
    char *token = NULL;
    int rc;
    *out = NULL;
    BPT_CHECK(make(&token, dir, &o));
    rc = token_report(out, token, provider, format);
out:
    return rc;
}

/* The simulated Confidential Space launcher's token. */
static int gcp_attest(bpt_report **out, const char *dir, const struct attest_in *in)
{
    return sim_token(out, dir, in, bpt_sim_gcp_token, BPT_PROVIDER_GCP_CONFIDENTIAL,
                     BPT_FORMAT_GCP_CONFIDENTIAL_TOKEN);
}

/* The simulated MAA's token for an Azure confidential VM. */
static int maa_attest(bpt_report **out, const char *dir, const struct attest_in *in)
{
    return sim_token(out, dir, in, bpt_sim_maa_token, BPT_PROVIDER_AZURE_SNP,
                     BPT_FORMAT_AZURE_MAA_TOKEN);
}

static const struct sim_provider sims[] = {
    {BPT_PROVIDER_AMD_SEV_SNP, "sev-snp", true, bpt_sim_sev_snp_init, sev_snp_attest},
    {BPT_PROVIDER_AWS_NITRO, "aws-nitro", true, bpt_sim_aws_nitro_init, aws_nitro_attest},
    {BPT_PROVIDER_INTEL_TDX, "tdx", true, bpt_sim_tdx_init, tdx_attest},
    {BPT_PROVIDER_GCP_CONFIDENTIAL, "gcp-confidential", false, bpt_sim_gcp_init, gcp_attest},
    {BPT_PROVIDER_AZURE_SNP, "azure-maa", false, bpt_sim_maa_init, maa_attest},
};

int bpt_sim_init(const char *dir)
{
    char path[4096];
    bpt_buf roots = BPT_BUF_INIT(BPT_LIMIT_CERT_CHAIN_BYTES);
    int rc;

    if (!dir || !*dir) {
        return bpt_err(BPT_EINVAL, "sim: a directory is required");
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        return bpt_err(BPT_EIO, "sim: cannot create %s: %s", dir, strerror(errno));
    }
    for (size_t i = 0; i < sizeof(sims) / sizeof(sims[0]); i++) {
        char rel[64];
        rc = sims[i].init(dir);
        if (rc < 0) {
            rc = bpt_err_prefix(rc, "sim: %s", bpt_provider_name(sims[i].provider));
            goto out;
        }
        if (!sims[i].has_root) {
            continue;
        }
        snprintf(rel, sizeof(rel), "%s/root.pem", sims[i].subdir);
        BPT_CHECK(bpt_sim_path(path, sizeof(path), dir, rel));
        BPT_CHECK(bpt_file_read(&roots, path));
    }
    BPT_CHECK(bpt_sim_path(path, sizeof(path), dir, "trust-roots.pem"));
    BPT_CHECK(bpt_file_write(path, roots.data, roots.len, false));
    rc = 0;
out:
    bpt_buf_dispose(&roots);
    return rc;
}

/* bpt_attest and bpt_attest_nonce: the simulator named in @p opts, else the hardware. */
static int attest(bpt_report **out, struct attest_in *in, const bpt_attester_opts *opts)
{
    int rc;
    in->audience = opts->version >= 2 ? opts->audience : NULL;
    if (opts->simulate == BPT_PROVIDER_UNKNOWN) {
        BPT_CHECK(bind_input(in, BPT_PROVIDER_AMD_SEV_SNP)); /* SNP and TDX share the rule */
        return attest_hw(out, in, opts->root, opts->privlevel, NULL, NULL, NULL);
    }
    if (!opts->sim_dir) {
        return bpt_err(BPT_EINVAL, "attest: the simulator needs its directory (bpt sim init)");
    }
    for (size_t i = 0; i < sizeof(sims) / sizeof(sims[0]); i++) {
        if (sims[i].provider == opts->simulate) {
            BPT_CHECK(bind_input(in, sims[i].provider));
            return sims[i].attest(out, opts->sim_dir, in);
        }
    }
    rc = bpt_err(BPT_ENOTSUP,
                 "attest: no simulator for %s (simulated: amd_sev_snp, intel_tdx, aws_nitro, "
                 "gcp_confidential, azure_snp)",
                 bpt_provider_name(opts->simulate));
out:
    return rc;
}

int bpt_attest(bpt_report **out, const uint8_t report_data[64], const bpt_attester_opts *opts)
{
    struct attest_in in = {.nonce = NULL};
    if (!out) {
        return bpt_err(BPT_EINVAL, "attest: no out pointer");
    }
    *out = NULL;
    if (!opts || opts->version < 1 || opts->version > BPT_ATTESTER_OPTS_VERSION || !report_data) {
        return bpt_err(BPT_EINVAL, "attest: options must be initialised with "
                                   "BPT_ATTESTER_OPTS_INIT and report_data given");
    }
    memcpy(in.report_data, report_data, 64);
    return attest(out, &in, opts);
}

int bpt_attest_nonce(bpt_report **out, const uint8_t *nonce, size_t nonce_len,
                     const bpt_attester_opts *opts)
{
    struct attest_in in = {.nonce = nonce, .nonce_len = nonce_len};
    if (!out) {
        return bpt_err(BPT_EINVAL, "attest: no out pointer");
    }
    *out = NULL;
    if (!opts || opts->version < 1 || opts->version > BPT_ATTESTER_OPTS_VERSION) {
        return bpt_err(BPT_EINVAL, "attest: options must be initialised with "
                                   "BPT_ATTESTER_OPTS_INIT");
    }
    if (!nonce || nonce_len == 0 || nonce_len > BPT_NONCE_MAX_BYTES) {
        return bpt_err(BPT_EINVAL, "attest: a nonce of %zu bytes (1..%d)", nonce ? nonce_len : 0,
                       BPT_NONCE_MAX_BYTES);
    }
    return attest(out, &in, opts);
}
