/*
 * Shared test helpers: cmocka plus assertions that check a return code *and* a substring of
 * the error message, and access to ../shared/testdata (skip, never silently pass, when absent).
 */
#ifndef BPT_TEST_H
#define BPT_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <blueprint-tee/bpt.h>

/** Assert that @p expr returns @p code and that bpt_error_last() contains @p substr. */
#define assert_rc_msg(expr, code, substr)                                                          \
    do {                                                                                           \
        int rc_ = (expr);                                                                          \
        if (rc_ != (code)) {                                                                       \
            fail_msg("%s: got %d (%s), want %d (%s); message: %s", #expr, rc_,                     \
                     bpt_error_name(rc_), (int)(code), bpt_error_name(code), bpt_error_last());    \
        }                                                                                          \
        if ((substr) != NULL && strstr(bpt_error_last(), (substr)) == NULL) {                      \
            fail_msg("%s: message '%s' lacks '%s'", #expr, bpt_error_last(),                       \
                     (const char *)(substr));                                                      \
        }                                                                                          \
    } while (0)

/** Assert success, printing the error message on failure. */
#define assert_ok(expr)                                                                            \
    do {                                                                                           \
        int rc_ = (expr);                                                                          \
        if (rc_ != 0) {                                                                            \
            fail_msg("%s: got %d (%s): %s", #expr, rc_, bpt_error_name(rc_), bpt_error_last());    \
        }                                                                                          \
    } while (0)

/**
 * Path of @p rel under $BPT_TESTDATA into @p out (size 4096). Returns false when the test
 * data folder is absent, after which the test must call skip().
 */
bool bpt_test_data_path(char *out, size_t out_len, const char *rel);

/** Read a test data file into a malloc'd buffer (free with free()); NULL if absent. */
uint8_t *bpt_test_data_read(const char *rel, size_t *len_out);

/** Read any file whole; NULL on failure. */
uint8_t *bpt_test_read_file(const char *path, size_t *len_out);

/** A fresh empty temporary directory (mkdtemp under $TMPDIR); the path is malloc'd. */
char *bpt_test_tmpdir(void);

/** Remove a directory tree made by a test. */
void bpt_test_rmtree(const char *path);

/** Write @p len bytes to @p path, creating parent directories; asserts on failure. */
void bpt_test_write_file(const char *path, const void *p, size_t len);

/**
 * Run the bpt CLI ($BPT_BIN) with @p argv (NULL-terminated, without argv[0]); capture
 * stdout (malloc'd, NUL-terminated) into *out_stdout if non-NULL. Returns the exit status.
 */
int bpt_test_run_cli(char **out_stdout, const char *const *argv);

/** @p s percent-encoded (every byte but ASCII letters and digits), as HTTP headers carry
 * Intel's issuer chains. malloc'd (free()). */
char *bpt_test_url_encode(const char *s);

/** The bytes of hex text @p hex (malloc'd, free()), their count in *len_out. */
uint8_t *bpt_test_hex_bytes(const char *hex, size_t *len_out);

/** As bpt_test_run_cli(), also capturing stderr into *out_stderr (malloc'd) if non-NULL. */
int bpt_test_run_cli_err(char **out_stdout, char **out_stderr, const char *const *argv);

#endif
