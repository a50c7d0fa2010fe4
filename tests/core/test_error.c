/*
 * Error codes and the thread-local message: bpt_err, bpt_err_prefix, bpt_err_ossl,
 * truncation at BPT_ERROR_MSG_MAX - 1 characters, and agreement between the header's enum,
 * bpt_error_name() and docs/errors.md (the curl test1477 idea).
 */
#include "helpers/test.h"

#include "core/err.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include <openssl/err.h>
#include <openssl/evp.h>

static void test_err_sets_message_and_returns_code(void **state)
{
    (void)state;
    bpt_error_clear();
    assert_string_equal(bpt_error_last(), "");
    assert_int_equal(bpt_err(BPT_ECLAIM, "sev_snp: vmpl %d != policy vmpl %d", 2, 0), BPT_ECLAIM);
    assert_string_equal(bpt_error_last(), "sev_snp: vmpl 2 != policy vmpl 0");
    bpt_error_clear();
    assert_string_equal(bpt_error_last(), "");
}

static void test_err_argument_may_be_the_last_message(void **state)
{
    (void)state;
    bpt_err(BPT_EIO, "inner problem");
    /* An argument pointing into the message buffer itself must not corrupt the result. */
    assert_int_equal(bpt_err(BPT_EIO, "outer: %s (again: %s)", bpt_error_last(), bpt_error_last()),
                     BPT_EIO);
    assert_string_equal(bpt_error_last(), "outer: inner problem (again: inner problem)");
}

static void test_err_prefix(void **state)
{
    (void)state;
    bpt_err(BPT_ESIGNATURE, "ASK signature invalid");
    assert_int_equal(bpt_err_prefix(BPT_ESIGNATURE, "sev_snp: %s chain", "VCEK"), BPT_ESIGNATURE);
    assert_string_equal(bpt_error_last(), "sev_snp: VCEK chain: ASK signature invalid");
    /* Without a current message the context alone becomes the message. */
    bpt_error_clear();
    assert_int_equal(bpt_err_prefix(BPT_EIO, "reading %s", "x.bin"), BPT_EIO);
    assert_string_equal(bpt_error_last(), "reading x.bin");
    /* The code passed is returned, whatever the earlier one was. */
    bpt_err(BPT_EINVAL, "a");
    assert_int_equal(bpt_err_prefix(BPT_EMALFORMED, "b"), BPT_EMALFORMED);
    assert_string_equal(bpt_error_last(), "b: a");
    /* A message that already carries the context keeps one copy of it. */
    bpt_err(BPT_EKEYS, "sev_snp: certificate: not a DER certificate");
    assert_int_equal(bpt_err_prefix(BPT_EKEYS, "sev_snp"), BPT_EKEYS);
    assert_string_equal(bpt_error_last(), "sev_snp: certificate: not a DER certificate");
    bpt_err(BPT_EIO, "attest");
    bpt_err_prefix(BPT_EIO, "attest");
    assert_string_equal(bpt_error_last(), "attest");
    /* Only a whole leading segment counts: "sev" is not "sev_snp". */
    bpt_err(BPT_EKEYS, "sev_snp: x");
    bpt_err_prefix(BPT_EKEYS, "sev");
    assert_string_equal(bpt_error_last(), "sev: sev_snp: x");
}

static void test_err_truncates_at_511(void **state)
{
    char big[2000];
    (void)state;
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(BPT_ERROR_MSG_MAX, 512);

    assert_int_equal(bpt_err(BPT_EINVAL, "%s", big), BPT_EINVAL);
    assert_int_equal(strlen(bpt_error_last()), BPT_ERROR_MSG_MAX - 1);

    /* Exactly 511 characters fit; 512 lose the last one. */
    big[511] = '\0';
    bpt_err(BPT_EINVAL, "%s", big);
    assert_int_equal(strlen(bpt_error_last()), 511);
    big[511] = 'y';
    big[512] = '\0';
    bpt_err(BPT_EINVAL, "%s", big);
    assert_int_equal(strlen(bpt_error_last()), 511);
    assert_null(strchr(bpt_error_last(), 'y'));
    big[511] = 'x';
    big[512] = 'x';

    /* A long context on a long message: still 511 and starts with the context. */
    bpt_err(BPT_EINVAL, "%.500s", big);
    assert_int_equal(bpt_err_prefix(BPT_EINVAL, "ctx-%.400s", big), BPT_EINVAL);
    assert_int_equal(strlen(bpt_error_last()), 511);
    assert_memory_equal(bpt_error_last(), "ctx-", 4);

    /* A context longer than the buffer on its own. */
    bpt_err(BPT_EINVAL, "short");
    bpt_err_prefix(BPT_EINVAL, "%s", big);
    assert_int_equal(strlen(bpt_error_last()), 511);

    /* The OpenSSL reason appended to a full message does not overflow. */
    ERR_raise(ERR_LIB_EVP, EVP_R_UNSUPPORTED_ALGORITHM);
    assert_int_equal(bpt_err_ossl(BPT_ESIGNATURE, "%s", big), BPT_ESIGNATURE);
    assert_int_equal(strlen(bpt_error_last()), 511);
    assert_int_equal(ERR_peek_error(), 0);
}

static void test_err_ossl_appends_reason_and_clears_queue(void **state)
{
    (void)state;
    ERR_clear_error();
    ERR_raise(ERR_LIB_EVP, EVP_R_UNSUPPORTED_ALGORITHM);
    assert_int_not_equal(ERR_peek_error(), 0);
    assert_int_equal(bpt_err_ossl(BPT_ESIGNATURE, "sev_snp: %s", "report signature"),
                     BPT_ESIGNATURE);
    assert_memory_equal(bpt_error_last(), "sev_snp: report signature: ", 27);
    assert_non_null(strstr(bpt_error_last(), "unsupported"));
    assert_int_equal(ERR_peek_error(), 0);

    /* With an empty queue the message is just the format. */
    assert_int_equal(bpt_err_ossl(BPT_EKEYS, "no reason"), BPT_EKEYS);
    assert_string_equal(bpt_error_last(), "no reason");
}

struct thread_arg {
    int code;
    char seen[64];
    pthread_barrier_t *barrier;
};

static void *thread_main(void *p)
{
    struct thread_arg *a = p;
    bpt_err(a->code, "thread %d", a->code);
    /* Both threads have set their message before either reads it back. */
    pthread_barrier_wait(a->barrier);
    snprintf(a->seen, sizeof(a->seen), "%s", bpt_error_last());
    return NULL;
}

/* The message is per thread: another thread's failure does not overwrite this one's. */
static void test_message_is_per_thread(void **state)
{
    pthread_barrier_t barrier;
    pthread_t t1, t2;
    struct thread_arg a1 = {BPT_EIO, "", &barrier}, a2 = {BPT_ECLAIM, "", &barrier};
    (void)state;
    bpt_err(BPT_EINVAL, "main thread");
    assert_int_equal(pthread_barrier_init(&barrier, NULL, 2), 0);
    assert_int_equal(pthread_create(&t1, NULL, thread_main, &a1), 0);
    assert_int_equal(pthread_create(&t2, NULL, thread_main, &a2), 0);
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    pthread_barrier_destroy(&barrier);
    assert_string_equal(a1.seen, "thread -11");
    assert_string_equal(a2.seen, "thread -7");
    assert_string_equal(bpt_error_last(), "main thread");
}

static void test_err_nomem(void **state)
{
    (void)state;
    assert_int_equal(bpt_err_nomem("buffer"), BPT_ENOMEM);
    assert_string_equal(bpt_error_last(), "out of memory: buffer");
    assert_int_equal(bpt_err_nomem(NULL), BPT_ENOMEM);
    assert_string_equal(bpt_error_last(), "out of memory: allocation");
}

static int check_macro_helper(int first, int second, int *reached)
{
    int rc = BPT_ERROR;
    BPT_CHECK(first);
    *reached = 1;
    BPT_CHECK(second);
    rc = 0;
out:
    return rc;
}

static void test_check_macro(void **state)
{
    int reached = 0;
    (void)state;
    assert_int_equal(check_macro_helper(BPT_EIO, 0, &reached), BPT_EIO);
    assert_int_equal(reached, 0);
    assert_int_equal(check_macro_helper(0, BPT_ECLAIM, &reached), BPT_ECLAIM);
    assert_int_equal(reached, 1);
    assert_int_equal(check_macro_helper(0, 1, &reached), 0);
}

static void test_every_code_has_name_and_text(void **state)
{
    (void)state;
    for (int c = BPT_ERROR_CODE_MIN; c <= 0; c++) {
        const char *name = bpt_error_name(c), *text = bpt_strerror(c);
        if (strcmp(name, "unknown") == 0 || name[0] == '\0') {
            fail_msg("code %d has no name", c);
        }
        if (strcmp(text, "unknown error code") == 0 || text[0] == '\0') {
            fail_msg("code %d has no text", c);
        }
        /* Names are distinct. */
        for (int d = c + 1; d <= 0; d++) {
            if (strcmp(name, bpt_error_name(d)) == 0) {
                fail_msg("codes %d and %d share the name %s", c, d, name);
            }
        }
    }
    assert_string_equal(bpt_error_name(BPT_ERROR_CODE_MIN - 1), "unknown");
    assert_string_equal(bpt_error_name(1), "unknown");
    assert_string_equal(bpt_strerror(BPT_ERROR_CODE_MIN - 1), "unknown error code");
    /* The attestation kinds keep the Rust crate's names. */
    assert_string_equal(bpt_error_name(BPT_EMALFORMED), "malformed");
    assert_string_equal(bpt_error_name(BPT_ESIGNATURE), "signature");
    assert_string_equal(bpt_error_name(BPT_ECLAIM), "claim");
    assert_string_equal(bpt_error_name(BPT_EKEYS), "keys");
    assert_string_equal(bpt_error_name(BPT_EFETCH), "fetch");
    assert_string_equal(bpt_error_name(BPT_EUNSATISFIABLE), "unsatisfiable");
}

static void test_is_attestation(void **state)
{
    (void)state;
    for (int c = BPT_ERROR_CODE_MIN - 2; c <= 2; c++) {
        bool want = c <= BPT_EMALFORMED && c >= BPT_EUNSATISFIABLE;
        if (bpt_error_is_attestation(c) != want) {
            fail_msg("bpt_error_is_attestation(%d) != %d", c, want);
        }
    }
}

static char *read_source(const char *rel)
{
    const char *dir = getenv("BPT_SOURCE_DIR");
    char path[4096];
    size_t len;
    char *text;
    if (!dir) {
        fail_msg("BPT_SOURCE_DIR is not set");
    }
    snprintf(path, sizeof(path), "%s/%s", dir, rel);
    text = (char *)bpt_test_read_file(path, &len);
    if (!text) {
        fail_msg("cannot read %s", path);
    }
    return text;
}

#define NCODES (1 - BPT_ERROR_CODE_MIN)

/* Header enum, bpt_error_name() and docs/errors.md agree on every code. */
static void test_header_names_and_doc_agree(void **state)
{
    char *hdr = read_source("include/blueprint-tee/error.h");
    char *doc = read_source("docs/errors.md");
    char hdr_const[NCODES][80] = {{0}}, doc_const[NCODES][80] = {{0}};
    int n_hdr = 0, n_doc = 0;
    char *save = NULL;
    (void)state;

    for (char *line = strtok_r(hdr, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char name[64];
        int v;
        if (sscanf(line, " BPT_%62[A-Z0-9_] = %d", name, &v) != 2) {
            continue;
        }
        if (v > 0 || v < BPT_ERROR_CODE_MIN) {
            fail_msg("header code BPT_%s = %d outside [BPT_ERROR_CODE_MIN, 0]", name, v);
        }
        if (hdr_const[-v][0]) {
            fail_msg("header defines %d twice", v);
        }
        snprintf(hdr_const[-v], sizeof(hdr_const[0]), "BPT_%s", name);
        n_hdr++;
    }
    save = NULL;
    for (char *line = strtok_r(doc, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char cname[64], name[64];
        int v;
        if (sscanf(line, "| %d | `%63[^`]` | `%63[^`]` |", &v, cname, name) != 3) {
            continue;
        }
        if (v > 0 || v < BPT_ERROR_CODE_MIN) {
            fail_msg("docs/errors.md lists %d, outside [BPT_ERROR_CODE_MIN, 0]", v);
        }
        if (doc_const[-v][0]) {
            fail_msg("docs/errors.md lists %d twice", v);
        }
        if (strcmp(name, bpt_error_name(v)) != 0) {
            fail_msg("docs/errors.md names %d '%s', bpt_error_name() says '%s'", v, name,
                     bpt_error_name(v));
        }
        /* A row has a meaning and a "when returned" column after the name. */
        const char *rest = strstr(line, name);
        int bars = 0;
        for (const char *p = rest; *p; p++) {
            bars += *p == '|';
        }
        if (bars < 3) {
            fail_msg("docs/errors.md row for %d lacks meaning or when-returned: %s", v, line);
        }
        snprintf(doc_const[-v], sizeof(doc_const[0]), "%s", cname);
        n_doc++;
    }
    assert_int_equal(n_hdr, NCODES);
    assert_int_equal(n_doc, NCODES);
    for (int i = 0; i < NCODES; i++) {
        if (strcmp(hdr_const[i], doc_const[i]) != 0) {
            fail_msg("code %d: header says %s, docs/errors.md says %s", -i, hdr_const[i],
                     doc_const[i]);
        }
    }
    free(hdr);
    free(doc);
}

/* The public setter extensions use: the message is set, the code returned; anything that is not
 * a defined failure code comes back as BPT_ERROR (a plugin cannot fail open). */
static void test_error_set(void **state)
{
    char big[700];
    (void)state;
    assert_int_equal(bpt_error_set(BPT_ECLAIM, "acme.tee: firmware %u below %u", 3u, 5u),
                     BPT_ECLAIM);
    assert_string_equal(bpt_error_last(), "acme.tee: firmware 3 below 5");
    assert_int_equal(bpt_error_set(0, "not a failure"), BPT_ERROR);
    assert_int_equal(bpt_error_set(7, "positive"), BPT_ERROR);
    assert_int_equal(bpt_error_set(BPT_ERROR_CODE_MIN - 1, "below the range"), BPT_ERROR);
    assert_string_equal(bpt_error_last(), "below the range");
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(bpt_error_set(BPT_EINVAL, "%s", big), BPT_EINVAL);
    assert_int_equal(strlen(bpt_error_last()), 511);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error_set),
        cmocka_unit_test(test_err_sets_message_and_returns_code),
        cmocka_unit_test(test_err_argument_may_be_the_last_message),
        cmocka_unit_test(test_err_prefix),
        cmocka_unit_test(test_err_truncates_at_511),
        cmocka_unit_test(test_err_ossl_appends_reason_and_clears_queue),
        cmocka_unit_test(test_message_is_per_thread),
        cmocka_unit_test(test_err_nomem),
        cmocka_unit_test(test_check_macro),
        cmocka_unit_test(test_every_code_has_name_and_text),
        cmocka_unit_test(test_is_attestation),
        cmocka_unit_test(test_header_names_and_doc_agree),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
