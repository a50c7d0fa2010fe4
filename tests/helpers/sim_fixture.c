#include "helpers/sim_fixture.h"

#include "attester/sim/sev_snp.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void bpt_remove_tree(const char *dir)
{
    if (dir) {
        nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    }
}

static char *read_text(const char *path, size_t *len_out)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long n;
    if (!f) {
        return NULL;
    }
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (buf = malloc((size_t)n + 1)) && fread(buf, 1, (size_t)n, f) == (size_t)n) {
        buf[n] = '\0';
        *len_out = (size_t)n;
    } else {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    return buf;
}

/* Copy one entry of the template tree (nftw callback) below copy_root, keeping its mode. */
static char copy_from[4096], copy_root[4096];

static int copy_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    char dst[8300];
    FILE *in = NULL, *out = NULL;
    char buf[8192];
    size_t n;
    int rc = 0;
    (void)ftw;
    snprintf(dst, sizeof(dst), "%s%s", copy_root, path + strlen(copy_from));
    if (flag == FTW_D) {
        return strcmp(path, copy_from) == 0 || mkdir(dst, st->st_mode & 07777) == 0 ? 0 : -1;
    }
    if (flag != FTW_F) {
        return -1;
    }
    if (!(in = fopen(path, "rb")) || !(out = fopen(dst, "wb"))) {
        rc = -1;
    }
    while (rc == 0 && (n = fread(buf, 1, sizeof(buf), in)) > 0) {
        rc = fwrite(buf, 1, n, out) == n ? 0 : -1;
    }
    if (in) {
        fclose(in);
    }
    if (out && fclose(out) != 0) {
        rc = -1;
    }
    return rc == 0 ? chmod(dst, st->st_mode & 07777) : rc;
}

/* The simulator's PKIs in @p dir: a copy of $BPT_SIM_TEMPLATE when CTest made one (the
 * simulator's RSA-4096 key generation takes ~40 s under valgrind; bpt_sim_init itself is
 * tested on its own), else a fresh bpt_sim_init(). */
static int sim_into(const char *dir)
{
    const char *tmpl = getenv("BPT_SIM_TEMPLATE");
    char roots[4200];
    struct stat st;
    if (tmpl && *tmpl && strlen(tmpl) < sizeof(copy_from)) {
        snprintf(roots, sizeof(roots), "%s/trust-roots.pem", tmpl);
        if (stat(roots, &st) == 0) {
            snprintf(copy_from, sizeof(copy_from), "%s", tmpl);
            snprintf(copy_root, sizeof(copy_root), "%s", dir);
            if (nftw(tmpl, copy_one, 16, FTW_PHYS) != 0) {
                fprintf(stderr, "sim fixture: cannot copy %s: %s\n", tmpl, strerror(errno));
                return -1;
            }
            return 0;
        }
    }
    if (bpt_sim_init(dir) != 0) {
        fprintf(stderr, "sim fixture: simulator: %s\n", bpt_error_last());
        return -1;
    }
    return 0;
}

int bpt_sim_fixture_init(struct bpt_sim_fixture *f)
{
    const char *base = getenv("TMPDIR");
    char tmpl[4096], path[4200];

    memset(f, 0, sizeof(*f));
    snprintf(tmpl, sizeof(tmpl), "%s/bpt-sim-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tmpl) || !(f->dir = strdup(tmpl))) {
        fprintf(stderr, "sim fixture: mkdtemp: %s\n", strerror(errno));
        return -1;
    }
    if (sim_into(f->dir) != 0) {
        return -1;
    }
    snprintf(path, sizeof(path), "%s/trust-roots.pem", f->dir);
    if (!(f->roots = read_text(path, &f->roots_len))) {
        fprintf(stderr, "sim fixture: cannot read %s\n", path);
        return -1;
    }
    return 0;
}

void bpt_sim_fixture_dispose(struct bpt_sim_fixture *f)
{
    bpt_remove_tree(f->dir);
    free(f->dir);
    free(f->roots);
    memset(f, 0, sizeof(*f));
}

bpt_verify_ctx *bpt_sim_fixture_ctx(const struct bpt_sim_fixture *f, int64_t at,
                                    const bpt_verify_ctx_opts *opts)
{
    bpt_verify_ctx *c = NULL;
    if (bpt_verify_ctx_new(&c, opts) != 0 ||
        bpt_verify_ctx_add_trust_root_pem(c, f->roots, f->roots_len) != 0 ||
        (at && bpt_verify_ctx_set_at(c, at) != 0)) {
        fprintf(stderr, "sim fixture: context: %s\n", bpt_error_last());
        bpt_verify_ctx_free(c);
        return NULL;
    }
    return c;
}

int bpt_sim_fixture_add_snp_crl(const struct bpt_sim_fixture *f, bpt_verify_ctx *ctx)
{
    char path[4200];
    size_t len = 0;
    char *der;
    int rc;
    snprintf(path, sizeof(path), "%s/sev-snp/crl.der", f->dir);
    if (!(der = read_text(path, &len))) {
        fprintf(stderr, "sim fixture: cannot read %s\n", path);
        return -1;
    }
    rc = bpt_verify_ctx_add_crl(ctx, (const uint8_t *)der, len);
    free(der);
    if (rc != 0) {
        fprintf(stderr, "sim fixture: CRL: %s\n", bpt_error_last());
        return -1;
    }
    return 0;
}

int bpt_sim_fixture_setup(void **state)
{
    struct bpt_sim_fixture *f = calloc(1, sizeof(*f));
    *state = f;
    return f && bpt_sim_fixture_init(f) == 0 ? 0 : -1;
}

int bpt_sim_fixture_teardown(void **state)
{
    struct bpt_sim_fixture *f = *state;
    if (f) {
        bpt_sim_fixture_dispose(f);
        free(f);
    }
    return 0;
}

int bpt_sim_snp_fixture_setup(void **state)
{
    struct bpt_sim_snp_fixture *f = calloc(1, sizeof(*f));
    uint8_t rd[64];
    *state = f;
    for (int i = 0; i < 64; i++) {
        rd[i] = (uint8_t)i;
    }
    if (!f || bpt_sim_fixture_init(&f->sim) != 0) {
        return -1;
    }
    if (bpt_sim_sev_snp_attest(&f->report, &f->len, f->sim.dir, rd) != 0 ||
        bpt_sim_sev_snp_certs_pem(&f->certs, f->sim.dir) != 0) {
        fprintf(stderr, "sim fixture: SEV-SNP: %s\n", bpt_error_last());
        return -1;
    }
    return 0;
}

int bpt_sim_snp_fixture_teardown(void **state)
{
    struct bpt_sim_snp_fixture *f = *state;
    if (f) {
        bpt_sim_fixture_dispose(&f->sim);
        bpt_free(f->report);
        bpt_free(f->certs);
        free(f);
    }
    return 0;
}
