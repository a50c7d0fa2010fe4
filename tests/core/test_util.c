/* util: bounded whole-file reads (exactly the limit and one past), atomic writes and their
 * modes, digests (FIPS 180 vectors), strdup, str_eq. */
#include "helpers/test.h"

#include "core/codec.h"
#include "core/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char *join(const char *dir, const char *name)
{
    char *p = malloc(strlen(dir) + strlen(name) + 2);
    assert_non_null(p);
    memcpy(p, dir, strlen(dir));
    p[strlen(dir)] = '/';
    memcpy(p + strlen(dir) + 1, name, strlen(name) + 1);
    return p;
}

static void test_file_read_limit(void **state)
{
    char *dir = bpt_test_tmpdir();
    char *path = join(dir, "f.bin");
    uint8_t data[40000];
    bpt_buf b;
    (void)state;
    for (size_t i = 0; i < sizeof(data); i++) {
        data[i] = (uint8_t)(i * 7);
    }
    /* Larger than one internal read chunk (16 KiB). */
    bpt_test_write_file(path, data, sizeof(data));
    bpt_buf_init(&b, sizeof(data));
    assert_ok(bpt_file_read(&b, path));
    assert_int_equal(b.len, sizeof(data));
    assert_memory_equal(b.data, data, sizeof(data));
    bpt_buf_dispose(&b);
    bpt_buf_init(&b, sizeof(data) - 1);
    assert_rc_msg(bpt_file_read(&b, path), BPT_ELIMIT, "larger than the limit of 39999 bytes");
    assert_non_null(strstr(bpt_error_last(), path));
    bpt_buf_dispose(&b);
    /* Missing file: not found, naming the path. */
    char *missing = join(dir, "missing");
    bpt_buf_init(&b, 10);
    assert_rc_msg(bpt_file_read(&b, missing), BPT_ENOTFOUND, "missing: cannot open");
    /* A directory cannot be read as a file. */
    assert_rc_msg(bpt_file_read(&b, dir), BPT_EIO, dir);
    bpt_buf_dispose(&b);
    free(missing);
    bpt_test_rmtree(dir);
    free(dir);
    free(path);
}

static void test_file_write(void **state)
{
    char *dir = bpt_test_tmpdir();
    char *path = join(dir, "out.json");
    struct stat st;
    bpt_buf b = BPT_BUF_INIT(100);
    (void)state;
    assert_ok(bpt_file_write(path, "{\"a\":1}", 7, false));
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);
    assert_ok(bpt_file_read(&b, path));
    assert_string_equal((char *)b.data, "{\"a\":1}");
    bpt_buf_reset(&b);

    /* Replacing an existing file with a private one: the new file is 0600, old content gone. */
    assert_ok(bpt_file_write(path, "secret", 6, true));
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_ok(bpt_file_read(&b, path));
    assert_string_equal((char *)b.data, "secret");
    bpt_buf_reset(&b);

    /* Empty content. */
    assert_ok(bpt_file_write(path, NULL, 0, true));
    assert_ok(bpt_file_read(&b, path));
    assert_int_equal(b.len, 0);
    bpt_buf_dispose(&b);

    /* No temporary file is left behind, on success or failure. */
    char *bad = join(dir, "no/such/dir/x");
    assert_rc_msg(bpt_file_write(bad, "x", 1, false), BPT_EIO, "cannot create a temporary file");
    free(bad);
    bpt_test_rmtree(path); /* remove the file so the directory must be empty */
    assert_int_equal(rmdir(dir), 0);
    free(dir);
    free(path);
}

static void hex_of(char *out, const uint8_t *md, size_t n)
{
    bpt_hex_encode_to(out, md, n);
}

static void test_digests(void **state)
{
    uint8_t md256[BPT_SHA256_LEN], md384[BPT_SHA384_LEN];
    char hex[2 * BPT_SHA384_LEN + 1];
    (void)state;
    assert_ok(bpt_sha256(md256, "abc", 3));
    hex_of(hex, md256, sizeof(md256));
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_ok(bpt_sha256(md256, "", 0));
    hex_of(hex, md256, sizeof(md256));
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    assert_ok(bpt_sha384(md384, "abc", 3));
    hex_of(hex, md384, sizeof(md384));
    assert_string_equal(hex, "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed"
                             "8086072ba1e7cc2358baeca134c825a7");
}

static void test_strings(void **state)
{
    char *s = (char *)(uintptr_t)1;
    (void)state;
    assert_ok(bpt_strdup(&s, "abc"));
    assert_string_equal(s, "abc");
    bpt_free(s);
    assert_ok(bpt_strdup(&s, NULL));
    assert_null(s);
    assert_true(bpt_str_eq("a", "a"));
    assert_false(bpt_str_eq("a", "b"));
    assert_true(bpt_str_eq(NULL, NULL));
    assert_false(bpt_str_eq("a", NULL));
    assert_false(bpt_str_eq(NULL, "a"));
    assert_string_equal(bpt_version(), BPT_VERSION_STRING);
}

/* Text from the network is escaped before it reaches a log or a terminal (issue 13). */
static void test_escape_text(void **state)
{
    (void)state;
    char out[64];
    assert_string_equal(bpt_escape_text(out, sizeof(out), "db.password_1-A"), "db.password_1-A");
    assert_string_equal(bpt_escape_text(out, sizeof(out), "a\nserve: forged"),
                        "a\\x0aserve: forged");
    assert_string_equal(bpt_escape_text(out, sizeof(out), "\x1b[31mred\\"), "\\x1b[31mred\\x5c");
    assert_string_equal(bpt_escape_text(out, sizeof(out), "\xc3\xa4"), "\\xc3\\xa4");
    assert_string_equal(bpt_escape_text(out, sizeof(out), NULL), "");
    /* cut short when full, never in the middle of an escape */
    assert_string_equal(bpt_escape_text(out, 6, "ab\ncd"), "ab");
    assert_string_equal(bpt_escape_text(out, 4, "abcdef"), "abc");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_file_read_limit), cmocka_unit_test(test_file_write),
        cmocka_unit_test(test_escape_text),     cmocka_unit_test(test_digests),
        cmocka_unit_test(test_strings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
