/*
 * TDX quote verification rate, on the simulator's quote and on the public phala-v4-uptodate quote
 * of ../shared/testdata, each beside its limit:
 *   (a) every signature of the chain and collateral checked on each call (11 ECDSA P-256: PCK
 *       certificate and PCK CA, root CA CRL, TCB signing certificate, TCB Info, QE Identity's
 *       signer, QE Identity, PCK CRL issuer, PCK CRL, QE report, quote);
 *   (b) the quote's own signatures only (collateral and PCK chain cached): QE report and quote.
 * Each limit is timed with raw OpenSSL on the same bytes and keys in the same run, in turns with
 * the case. Beside them: raw P-256 on both ECDSA backends, the cached path on N threads sharing one
 * context, and a fleet: N distinct chips (PCK certificates; default 100,000) verified round robin
 * through one context whose chain cache holds them all (--capacity, default 1,000,000).
 * Usage: bench_tdx [--seconds N] [--threads N] [--chips N] [--capacity N]
 */
#include "util.h"

#include <blueprint-tee/bpt.h>

#include "attester/sim/tdx.h"
#include "attester/sim/x509.h"

#include <jansson.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/pem.h>

#define SIM_AT 1750000000
#define REAL_AT 1750464000 /* the manifest's verify_at for phala-v4-uptodate */

struct ctx {
    const uint8_t *quote;
    size_t len;
    bpt_verify_ctx *vctx;
};

static bool verify_once(void *p)
{
    struct ctx *c = p;
    bpt_verified *v = NULL;
    int rc = bpt_tdx_verify(&v, c->vctx, NULL, c->quote, c->len);
    bpt_verified_free(v);
    if (rc != 0) {
        fprintf(stderr, "verify: %s\n", bpt_error_last());
    }
    return rc == 0;
}

static void die(const char *what)
{
    fprintf(stderr, "setup: %s: %s\n", what, bpt_error_last());
    exit(1);
}

/* What the limits point into, freed at the end. */
struct keep {
    X509 *x[16];
    X509_CRL *crl[4];
    EVP_PKEY *key;
    json_t *coll;
    uint8_t sigs[2][64];                               /* TCB Info's and QE Identity's r || s */
    uint8_t qe_report[384], qe_sig[64], quote_sig[64]; /* copies: the limits point into them */
    int nx, ncrl;
};

static void keep_dispose(struct keep *k)
{
    for (int i = 0; i < k->nx; i++) {
        X509_free(k->x[i]);
    }
    for (int i = 0; i < k->ncrl; i++) {
        X509_CRL_free(k->crl[i]);
    }
    EVP_PKEY_free(k->key);
    json_decref(k->coll);
    memset(k, 0, sizeof(*k));
}

/* PEM certificates; returns the index of the first in k->x. */
static int pem_certs(struct keep *k, const char *pem, size_t len, int want)
{
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    int first = k->nx;
    X509 *x;
    while (bio && k->nx < 16 && (x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
        k->x[k->nx++] = x;
    }
    BIO_free(bio);
    if (k->nx - first < want) {
        fprintf(stderr, "setup: %d certificates expected\n", want);
        exit(1);
    }
    return first;
}

static X509_CRL *hex_crl(struct keep *k, const char *hex)
{
    size_t n = strlen(hex) / 2;
    uint8_t *der = malloc(n ? n : 1);
    const unsigned char *q = der;
    X509_CRL *crl;
    for (size_t i = 0; der && i < n; i++) {
        unsigned v = 0;
        sscanf(hex + 2 * i, "%2x", &v);
        der[i] = (uint8_t)v;
    }
    crl = der ? d2i_X509_CRL(NULL, &q, (long)n) : NULL;
    free(der);
    if (!crl || k->ncrl == 4) {
        fprintf(stderr, "setup: a collateral CRL\n");
        exit(1);
    }
    return k->crl[k->ncrl++] = crl;
}

static const char *field(const json_t *o, const char *name)
{
    const char *s = json_string_value(json_object_get(o, name));
    if (!s) {
        fprintf(stderr, "setup: collateral field %s\n", name);
        exit(1);
    }
    return s;
}

/* A document's r || s signature, hex. */
static const uint8_t *hex_sig(uint8_t out[64], const char *hex)
{
    for (int i = 0; i < 64; i++) {
        unsigned v = 0;
        sscanf(hex + 2 * i, "%2x", &v);
        out[i] = (uint8_t)v;
    }
    return out;
}

/* The signatures a TDX verification checks (see the top of the file), in its order. */
static void tdx_limits(struct bench_sigs *all, struct bench_sigs *own, struct keep *k,
                       const uint8_t *quote, size_t len, const char *collateral)
{
    bpt_tdx_quote q = BPT_TDX_QUOTE_INIT;
    uint8_t point[65], *tcb_sig = k->sigs[0], *qe_sig = k->sigs[1];
    OSSL_PARAM params[3];
    EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    json_error_t jerr;
    int pck, tcb, qe, crl_ca;
    const char *s;

    if (bpt_tdx_parse(&q, quote, len) != 0 ||
        !(k->coll = json_loads(collateral, JSON_REJECT_DUPLICATES, &jerr))) {
        die("the quote or its collateral");
    }
    pck = pem_certs(k, (const char *)quote + q.pck_chain_off, q.pck_chain_len, 3);
    bench_sigs_cert(all, k->x[pck], k->x[pck + 1]);
    bench_sigs_cert(all, k->x[pck + 1], k->x[pck + 2]);
    bench_sigs_crl(all, hex_crl(k, field(k->coll, "root_ca_crl")), k->x[pck + 2]);
    s = field(k->coll, "tcb_info_issuer_chain");
    tcb = pem_certs(k, s, strlen(s), 2);
    bench_sigs_cert(all, k->x[tcb], k->x[tcb + 1]);
    bench_sigs_ecdsa(all, X509_get0_pubkey(k->x[tcb]),
                     hex_sig(tcb_sig, field(k->coll, "tcb_info_signature")), tcb_sig + 32, 32,
                     field(k->coll, "tcb_info"), strlen(field(k->coll, "tcb_info")));
    s = field(k->coll, "qe_identity_issuer_chain");
    qe = pem_certs(k, s, strlen(s), 2);
    bench_sigs_cert(all, k->x[qe], k->x[qe + 1]);
    bench_sigs_ecdsa(all, X509_get0_pubkey(k->x[qe]),
                     hex_sig(qe_sig, field(k->coll, "qe_identity_signature")), qe_sig + 32, 32,
                     field(k->coll, "qe_identity"), strlen(field(k->coll, "qe_identity")));
    s = field(k->coll, "pck_crl_issuer_chain");
    crl_ca = pem_certs(k, s, strlen(s), 2);
    bench_sigs_cert(all, k->x[crl_ca], k->x[crl_ca + 1]);
    bench_sigs_crl(all, hex_crl(k, field(k->coll, "pck_crl")), k->x[crl_ca]);
    /* the quote's own: QE report by the PCK key, the quote by the attestation key */
    point[0] = 0x04;
    memcpy(point + 1, q.attestation_key, 64);
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, "P-256", 0);
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, point, 65);
    params[2] = OSSL_PARAM_construct_end();
    if (!pc || EVP_PKEY_fromdata_init(pc) != 1 ||
        EVP_PKEY_fromdata(pc, &k->key, EVP_PKEY_PUBLIC_KEY, params) != 1) {
        die("attestation key");
    }
    EVP_PKEY_CTX_free(pc);
    memcpy(k->qe_report, q.qe_report_raw, sizeof(k->qe_report));
    memcpy(k->qe_sig, q.qe_report_signature, 64);
    memcpy(k->quote_sig, q.signature, 64);
    for (int i = 0; i < 2; i++) {
        struct bench_sigs *b = i ? own : all;
        bench_sigs_ecdsa(b, X509_get0_pubkey(k->x[pck]), k->qe_sig, k->qe_sig + 32, 32,
                         k->qe_report, sizeof(k->qe_report));
        bench_sigs_ecdsa(b, k->key, k->quote_sig, k->quote_sig + 32, 32, quote, q.signed_len);
    }
}

/* A context trusting the simulator's roots (or the pinned ones), with the collateral, offline. */
static bpt_verify_ctx *make_ctx(const struct bpt_sim_fixture *fx, int64_t at, const char *coll,
                                const bpt_verify_ctx_opts *opts)
{
    bpt_verify_ctx *c = NULL;
    if (fx) {
        c = bpt_sim_fixture_ctx(fx, at, opts);
    } else if (bpt_verify_ctx_new(&c, opts) != 0 || bpt_verify_ctx_set_at(c, at) != 0) {
        c = NULL;
    }
    if (!c || bpt_verify_ctx_set_collateral_json(c, coll, strlen(coll)) != 0 ||
        bpt_verify_ctx_set_offline(c, true) != 0) {
        die("context");
    }
    return c;
}

static void run(const char *name_prefix, const uint8_t *quote, size_t len, const char *coll,
                const struct bpt_sim_fixture *fx, int64_t at, double secs, int threads)
{
    struct bpt_verify_ctx_opts bare = bench_no_caches();
    struct ctx c = {quote, len, make_ctx(fx, at, coll, &bare)};
    struct ctx cc = {quote, len, make_ctx(fx, at, coll, NULL)};
    struct bench_sigs all = {0}, own = {0};
    struct bench_ecdsa_rates raw;
    struct keep k = {0};
    bpt_tdx_quote q = BPT_TDX_QUOTE_INIT;
    char name[128], desc[160];
    double full, cached, lim_a, lim_b, one, many, raw_one, raw_many;
    uint64_t hits = 0, misses = 0;

    if (!verify_once(&c) || !verify_once(&cc) || bpt_tdx_parse(&q, quote, len) != 0) {
        exit(1);
    }
    tdx_limits(&all, &own, &k, quote, len, coll);
    bench_rate_pair(&full, verify_once, &c, &lim_a, bench_sigs_once, &all, 2 * secs);
    bench_rate_pair(&cached, verify_once, &cc, &lim_b, bench_sigs_once, &own, 2 * secs);
    bench_ecdsa_rates(&raw, k.key, k.quote_sig, k.quote_sig + 32, 32, quote, q.signed_len, secs);
    bpt_verify_ctx_cache_stats(cc.vctx, BPT_CACHE_COLLATERAL, &hits, &misses);

    snprintf(name, sizeof(name), "%s_verify_collateral_every_time", name_prefix);
    bench_report_limit(name, full, "limit_a_every_signature", lim_a);
    snprintf(name, sizeof(name), "%s_verify_cached_collateral_and_pck_chain", name_prefix);
    bench_report_limit(name, cached, "limit_b_quote_signatures", lim_b);
    printf("# %s: limit (a) %s; limit (b) %s\n", name_prefix,
           bench_sigs_describe(&all, desc, sizeof(desc)),
           bench_sigs_describe(&own, desc + 80, sizeof(desc) - 80));
    bench_report_ecdsa_rates(name_prefix, "p256", &raw);
    printf("# %s: full = %.0f%% of (a), cached = %.0f%% of (b); P-256 stays on OpenSSL (nettle "
           "%.2fx); collateral cache hits %llu of %llu\n",
           name_prefix, lim_a > 0 ? 100.0 * full / lim_a : 0.0,
           lim_b > 0 ? 100.0 * cached / lim_b : 0.0,
           raw.openssl > 0 ? raw.nettle / raw.openssl : 0.0, (unsigned long long)hits,
           (unsigned long long)(hits + misses));

    bench_rate_shared(&one, &many, verify_once, &cc, threads, secs);
    bench_ecdsa_threads(&raw_one, &raw_many, k.key, k.quote_sig, k.quote_sig + 32, 32, quote,
                        q.signed_len, threads, secs);
    snprintf(name, sizeof(name), "%s_verify_cached_%d_threads", name_prefix, threads);
    bench_report_threads(name, name_prefix, "P-256", threads, one, many, raw_one, raw_many);
    bench_sigs_dispose(&all);
    bench_sigs_dispose(&own);
    keep_dispose(&k);
    bpt_verify_ctx_free(c.vctx);
    bpt_verify_ctx_free(cc.vctx);
}

/* ---- a fleet: distinct chips round robin -------------------------------------------------- */

/*
 * N chips: the simulator's PCK certificate issued again for each, with its own notBefore (one
 * second apart: distinct certificates of the same length), re-signed by the simulated PCK CA until
 * its DER has the first one's length. The QE report and the quote stay valid (same PCK key, same
 * attestation key), so a chip's quote is the template with its PCK certificate's PEM patched in.
 */
struct fleet {
    uint8_t *quote;
    size_t len, pem_off, pem_len;
    char *pems; /* n PEMs of pem_len bytes */
    long n, next;
    bpt_verify_ctx *vctx;
};

static bool fleet_once(void *p)
{
    struct fleet *f = p;
    struct ctx c = {f->quote, f->len, f->vctx};
    memcpy(f->quote + f->pem_off, f->pems + (size_t)f->next * f->pem_len, f->pem_len);
    f->next = (f->next + 1) % f->n;
    return verify_once(&c);
}

static void fleet_build(struct fleet *f, const char *dir, const uint8_t *quote, size_t len)
{
    bpt_tdx_quote q = BPT_TDX_QUOTE_INIT;
    char path[4096], *pem = NULL;
    X509 *tmpl = NULL;
    EVP_PKEY *ca_key = NULL;
    const char *end;
    int der_len;

    if (bpt_tdx_parse(&q, quote, len) != 0 || !(f->quote = malloc(len))) {
        die("fleet template");
    }
    memcpy(f->quote, quote, len);
    f->len = len;
    f->pem_off = q.pck_chain_off;
    end = strstr((const char *)quote + q.pck_chain_off, "-----END CERTIFICATE-----\n");
    f->pem_len = (size_t)(end - ((const char *)quote + q.pck_chain_off)) + 26;
    snprintf(path, sizeof(path), "%s/tdx/pck.pem", dir);
    if (bpt_sim_read_cert(&tmpl, path) != 0) {
        die("fleet: PCK certificate");
    }
    snprintf(path, sizeof(path), "%s/tdx/pck-ca-key.pem", dir);
    if (bpt_sim_read_key(&ca_key, path) != 0) {
        die("fleet: PCK CA key");
    }
    der_len = i2d_X509(tmpl, NULL);
    if (!(f->pems = malloc((size_t)f->n * f->pem_len))) {
        die("fleet: memory");
    }
    for (long i = 0; i < f->n; i++) {
        X509 *x = X509_dup(tmpl);
        ASN1_TIME *nb = ASN1_TIME_set(NULL, (time_t)(BPT_SIM_NOT_BEFORE + i));
        int tries = 0;
        if (!x || !nb || X509_set1_notBefore(x, nb) != 1) {
            die("fleet: a chip's certificate");
        }
        do {
            if (X509_sign(x, ca_key, EVP_sha256()) <= 0 || ++tries > 64) {
                die("fleet: signing a chip's certificate");
            }
        } while (i2d_X509(x, NULL) != der_len);
        if (bpt_sim_cert_pem(&pem, x) != 0 || strlen(pem) != f->pem_len) {
            die("fleet: a chip's PEM");
        }
        memcpy(f->pems + (size_t)i * f->pem_len, pem, f->pem_len);
        bpt_free(pem);
        ASN1_TIME_free(nb);
        X509_free(x);
    }
    X509_free(tmpl);
    EVP_PKEY_free(ca_key);
}

static void run_fleet(const struct bpt_sim_fixture *fx, const uint8_t *quote, size_t len,
                      const char *coll, long chips, long capacity, double secs)
{
    bpt_verify_ctx_opts o = BPT_VERIFY_CTX_OPTS_INIT;
    struct fleet f = {.n = chips};
    struct mallinfo2 m0, m1;
    uint64_t h0 = 0, n0 = 0, h1 = 0, n1 = 0;
    double first, steady;
    char name[128];

    fleet_build(&f, fx->dir, quote, len);
    o.chain_cache_entries = (size_t)capacity;
    if (!(f.vctx = bpt_sim_fixture_ctx(fx, SIM_AT, &o))) {
        /* a build whose caches take no more than 4,096 entries */
        printf("# tdx_fleet: a chain cache of %ld entries is refused by this build (%s); 4096 "
               "used\n",
               capacity, bpt_error_last());
        capacity = 4096;
        o.chain_cache_entries = 4096;
        f.vctx = bpt_sim_fixture_ctx(fx, SIM_AT, &o);
    }
    if (!f.vctx || bpt_verify_ctx_set_collateral_json(f.vctx, coll, strlen(coll)) != 0 ||
        bpt_verify_ctx_set_offline(f.vctx, true) != 0) {
        die("fleet context");
    }
    /* The first lap: every chip's chain verified and cached (misses). */
    m0 = mallinfo2();
    if (!fleet_once(&f)) {
        exit(1);
    }
    {
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        for (long i = 1; i < chips; i++) {
            if (!fleet_once(&f)) {
                exit(1);
            }
        }
        clock_gettime(CLOCK_MONOTONIC, &b);
        first = (double)(chips - 1) /
                ((double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9);
    }
    m1 = mallinfo2();
    bpt_verify_ctx_cache_stats(f.vctx, BPT_CACHE_CHAIN, &h0, &n0);
    /* Then round robin again: with the cache holding every chip, every lookup hits. */
    steady = bench_rate(fleet_once, &f, secs);
    bpt_verify_ctx_cache_stats(f.vctx, BPT_CACHE_CHAIN, &h1, &n1);
    snprintf(name, sizeof(name), "tdx_fleet_%ld_chips_first_lap", chips);
    bench_report(name, first, "tdx_verify_collateral_every_time", 0);
    snprintf(name, sizeof(name), "tdx_fleet_%ld_chips_round_robin", chips);
    bench_report(name, steady, "tdx_fleet_first_lap", first);
    printf("# tdx_fleet: %ld chips round robin, chain cache of %ld entries: %.1f%% of lookups hit "
           "after the first lap (%llu of %llu); cache growth over the first lap %.0f bytes per "
           "chip (PCK certificate and CA kept for the CRL checks, key, facts, node, bucket)\n",
           chips, capacity,
           (n1 + h1 - n0 - h0) ? 100.0 * (double)(h1 - h0) / (double)(n1 + h1 - n0 - h0) : 0.0,
           (unsigned long long)(h1 - h0), (unsigned long long)(n1 + h1 - n0 - h0),
           (double)(m1.uordblks - m0.uordblks) / (double)chips);
    bpt_verify_ctx_free(f.vctx);
    free(f.pems);
    free(f.quote);
}

static char *read_text(const char *path)
{
    FILE *fp = fopen(path, "rb");
    char *buf = NULL;
    long n;
    if (fp && fseek(fp, 0, SEEK_END) == 0 && (n = ftell(fp)) > 0 && fseek(fp, 0, SEEK_SET) == 0 &&
        (buf = malloc((size_t)n + 1)) && fread(buf, 1, (size_t)n, fp) == (size_t)n) {
        buf[n] = '\0';
    } else {
        free(buf);
        buf = NULL;
    }
    if (fp) {
        fclose(fp);
    }
    return buf;
}

int main(int argc, char **argv)
{
    double secs = bench_seconds(argc, argv);
    int threads = bench_threads(argc, argv);
    long chips = bench_flag_long(argc, argv, "--chips", 100000);
    long capacity = bench_flag_long(argc, argv, "--capacity", 1000000);
    struct bpt_sim_fixture fx;
    struct bpt_sim_tdx_opts o = {.now = SIM_AT};
    uint8_t *quote = NULL, *real = NULL;
    char *coll = NULL, *real_coll = NULL, path[4096];
    size_t len = 0, real_len = 0;

    if (bpt_sim_fixture_init(&fx) != 0 || bpt_sim_tdx_quote(&quote, &len, fx.dir, &o) != 0 ||
        bpt_sim_tdx_collateral(&coll, fx.dir, &o) != 0) {
        die("simulator");
    }
    run("tdx", quote, len, coll, &fx, SIM_AT, secs, threads);
    if (bench_data_path(path, sizeof(path), "tdx/phala-v4-uptodate/quote.bin") &&
        (real = (uint8_t *)read_text(path)) &&
        bench_data_path(path, sizeof(path), "tdx/phala-v4-uptodate/collateral.json") &&
        (real_coll = read_text(path))) {
        FILE *fp;
        bench_data_path(path, sizeof(path), "tdx/phala-v4-uptodate/quote.bin");
        fp = fopen(path, "rb");
        fseek(fp, 0, SEEK_END);
        real_len = (size_t)ftell(fp);
        fclose(fp);
        run("tdx_real", real, real_len, real_coll, NULL, REAL_AT, secs, threads);
    } else {
        printf("# tdx_real: ../shared/testdata not found (BPT_TESTDATA): skipped\n");
    }
    if (chips > 0) {
        run_fleet(&fx, quote, len, coll, chips, capacity, secs);
    }
    free(real);
    free(real_coll);
    bpt_free(quote);
    bpt_free(coll);
    bpt_sim_fixture_dispose(&fx);
    return 0;
}
