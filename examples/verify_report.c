/*
 * Verify attestation evidence from a file under the production policy, at an optional fixed
 * time, and print the verdict: the policy says what is acceptable, the verification context how
 * to verify (time, certificates; pinned vendor roots by default). Build against an installed
 * library: cc verify_report.c $(pkg-config --cflags --libs blueprint-tee) -o verify_report Usage:
 * verify_report EVIDENCE [UNIX_TIME] [CERT] [CRL|none]
 * SEV-SNP revocation is checked by default (AMD's CRL is fetched from AMD KDS); CRL gives it
 * from a file, "none" turns the check off (for old evidence: no CRL of its time is at hand).
 */
#include <blueprint-tee/bpt.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf = NULL;
    long n;
    if (!f || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0 ||
        !(buf = malloc((size_t)n + 1)) || fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    } else {
        *len = (size_t)n;
    }
    if (f) {
        fclose(f);
    }
    return buf;
}

int main(int argc, char **argv)
{
    bpt_policy *policy = NULL;
    bpt_verify_ctx *ctx = NULL;
    bpt_verified *v = NULL;
    unsigned char *ev, *cert = NULL;
    size_t ev_len = 0, cert_len = 0;
    int rc;

    if (argc < 2 || !(ev = slurp(argv[1], &ev_len))) {
        fprintf(stderr, "usage: verify_report EVIDENCE [UNIX_TIME] [CERT] [CRL|none]\n");
        return 2;
    }
    if (bpt_policy_new(&policy) < 0 || bpt_verify_ctx_new(&ctx, NULL) < 0) {
        fprintf(stderr, "setup: %s\n", bpt_error_last());
        return 2;
    }
    if (argc > 2 && bpt_verify_ctx_set_at(ctx, strtoll(argv[2], NULL, 10)) < 0) {
        fprintf(stderr, "time: %s\n", bpt_error_last());
        return 2;
    }
    if (argc > 3 && (!(cert = slurp(argv[3], &cert_len)) ||
                     bpt_verify_ctx_add_certs(ctx, cert, cert_len) < 0)) {
        fprintf(stderr, "certificate: %s\n", bpt_error_last());
        return 2;
    }
    if (argc > 4 && strcmp(argv[4], "none") == 0) {
        rc = bpt_verify_ctx_set_revocation_check(ctx, false);
    } else if (argc > 4) {
        free(cert);
        rc = (cert = slurp(argv[4], &cert_len)) ? bpt_verify_ctx_add_crl(ctx, cert, cert_len) : -1;
    } else {
        rc = 0;
    }
    if (rc < 0) {
        fprintf(stderr, "CRL: %s\n", bpt_error_last());
        return 2;
    }
    rc = bpt_verify(&v, ctx, policy, ev, ev_len, BPT_PROVIDER_UNKNOWN);
    if (rc < 0) {
        printf("refused (%s): %s\n", bpt_error_name(rc), bpt_error_last());
    } else {
        printf("verified %s, measurement %s\n", bpt_provider_name(bpt_verified_provider(v)),
               bpt_report_measurement(bpt_verified_report(v))->digest);
    }
    bpt_verified_free(v);
    bpt_verify_ctx_free(ctx);
    bpt_policy_free(policy);
    free(ev);
    free(cert);
    return rc < 0 ? 1 : 0;
}
