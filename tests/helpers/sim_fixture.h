/*
 * The simulated TEEs as tests and benches use them: a fresh directory with the simulator's PKIs
 * (bpt_sim_init), its trust roots read once, and a verification context that trusts them. No
 * cmocka here: benches link this file too. Failures print the library's message and return an
 * error, so callers stop at once.
 */
#ifndef BPT_TEST_SIM_FIXTURE_H
#define BPT_TEST_SIM_FIXTURE_H

#include <blueprint-tee/bpt.h>

struct bpt_sim_fixture {
    char *dir;   /* the simulator directory (malloc'd) */
    char *roots; /* dir/trust-roots.pem, NUL-terminated */
    size_t roots_len;
};

/** Make a temporary directory under $TMPDIR (or /tmp), put the simulator's PKIs in it (a copy of
 * $BPT_SIM_TEMPLATE, the one `bpt sim init` CTest runs first, when set; else bpt_sim_init()),
 * read the trust roots. @return 0, or -1 after printing why. */
int bpt_sim_fixture_init(struct bpt_sim_fixture *f);

/** Remove the directory tree and free everything; a zeroed fixture is fine. */
void bpt_sim_fixture_dispose(struct bpt_sim_fixture *f);

/**
 * A context that trusts the simulator's roots instead of the pinned ones and verifies at
 * @p at (0: the present), made with @p opts (NULL: BPT_VERIFY_CTX_OPTS_INIT). Not frozen: the
 * caller may add certificates, collateral, ... NULL (after printing why) on failure.
 */
bpt_verify_ctx *bpt_sim_fixture_ctx(const struct bpt_sim_fixture *f, int64_t at,
                                    const bpt_verify_ctx_opts *opts);

/**
 * Give @p ctx the simulated ARK's CRL (DIR/sev-snp/crl.der), as a relying party would fetch it
 * from AMD KDS for hardware evidence. @return 0, or -1 after printing why.
 */
int bpt_sim_fixture_add_snp_crl(const struct bpt_sim_fixture *f, bpt_verify_ctx *ctx);

/** The fixture with a simulated SEV-SNP report (report_data 0, 1, ..., 63) and its VCEK chain. */
struct bpt_sim_snp_fixture {
    struct bpt_sim_fixture sim;
    uint8_t *report;
    size_t len;
    char *certs; /* the VCEK and the ASK, PEM */
};

/**
 * cmocka-shaped group setup / teardown for a struct bpt_sim_fixture in *state.
 * @return 0, or -1 after printing why.
 */
int bpt_sim_fixture_setup(void **state);
int bpt_sim_fixture_teardown(void **state);

/**
 * cmocka-shaped group setup / teardown for a struct bpt_sim_snp_fixture in *state.
 * @return 0, or -1 after printing why.
 */
int bpt_sim_snp_fixture_setup(void **state);
int bpt_sim_snp_fixture_teardown(void **state);

/** Remove a directory tree (a fixture's, or any a test or bench made). */
void bpt_remove_tree(const char *dir);

#endif
