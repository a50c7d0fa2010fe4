/* bpt_attest and bpt_sim_init: the table of simulated providers and the hardware path. */
#include <blueprint-tee/attester.h>
#include <blueprint-tee/sev_snp.h>

#include "attestation/model_internal.h"
#include "attester/sim_sev_snp.h"
#include "attester/sim_x509.h"

#include "core/err.h"
#include "core/limits.h"
#include "core/util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Each simulated provider: how to create its PKI, and how to attest with it. */
struct sim_provider {
    bpt_provider provider;
    const char *subdir;
    int (*init)(const char *dir);
    int (*attest)(bpt_report **out, const char *dir, const uint8_t report_data[64]);
};

static int sev_snp_attest(bpt_report **out, const char *dir, const uint8_t report_data[64])
{
    uint8_t *ev = NULL;
    size_t ev_len = 0;
    char *certs = NULL;
    bpt_report *r = NULL;
    bpt_snp_report rep;
    bpt_measurement m;
    json_t *coll = NULL, *list;
    char *split;
    int rc;

    *out = NULL;
    BPT_CHECK(bpt_sim_sev_snp_attest(&ev, &ev_len, dir, report_data));
    BPT_CHECK(bpt_sev_snp_parse(&rep, ev, ev_len));
    BPT_CHECK(bpt_sim_sev_snp_certs_pem(&certs, dir));
    BPT_CHECK(bpt_report_new(&r, BPT_PROVIDER_AMD_SEV_SNP, BPT_FORMAT_SEV_SNP_REPORT));
    BPT_CHECK(bpt_report_set_evidence(r, ev, ev_len));
    BPT_CHECK(bpt_measurement_set_bytes(&m, "sha384", rep.measurement, 48));
    bpt_report_set_measurement(r, &m);
    BPT_CHECK(bpt_claims_set_user_data(bpt_report_claims_mut(r), rep.report_data, 64));
    /* certificates: [VCEK PEM, ASK PEM] */
    split = strstr(certs + 1, "-----BEGIN CERTIFICATE-----");
    coll = json_object();
    list = json_array();
    if (!coll || !list || !split) {
        json_decref(list);
        rc = bpt_err_nomem("collateral");
        goto out;
    }
    json_array_append_new(list, json_stringn(certs, (size_t)(split - certs)));
    json_array_append_new(list, json_string(split));
    json_object_set_new(coll, "certificates", list);
    bpt_report_set_collateralv(r, coll);
    coll = NULL;
    *out = r;
    r = NULL;
    rc = 0;
out:
    json_decref(coll);
    bpt_report_free(r);
    bpt_free(certs);
    bpt_free(ev);
    return rc;
}

static const struct sim_provider sims[] = {
    {BPT_PROVIDER_AMD_SEV_SNP, "sev-snp", bpt_sim_sev_snp_init, sev_snp_attest},
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

int bpt_attest(bpt_report **out, const uint8_t report_data[64], const bpt_attester_opts *opts)
{
    *out = NULL;
    if (!opts || opts->version != BPT_ATTESTER_OPTS_VERSION || !report_data) {
        return bpt_err(BPT_EINVAL, "attest: options must be initialised with "
                                   "BPT_ATTESTER_OPTS_INIT and report_data given");
    }
    if (opts->simulate == BPT_PROVIDER_UNKNOWN) {
        return bpt_err(BPT_ENOTSUP, "attest: evidence from TEE hardware (configfs-tsm, "
                                    "/dev/sev-guest, /dev/tdx_guest, /dev/nsm) is not supported "
                                    "yet; use the simulator");
    }
    if (!opts->sim_dir) {
        return bpt_err(BPT_EINVAL, "attest: the simulator needs its directory (bpt sim init)");
    }
    for (size_t i = 0; i < sizeof(sims) / sizeof(sims[0]); i++) {
        if (sims[i].provider == opts->simulate) {
            return sims[i].attest(out, opts->sim_dir, report_data);
        }
    }
    return bpt_err(BPT_ENOTSUP, "attest: no simulator for %s yet (simulated: amd_sev_snp)",
                   bpt_provider_name(opts->simulate));
}
