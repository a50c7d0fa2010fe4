#include "core/util.h"
#include "core/err.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/err.h>
#include <openssl/pem.h>

int bpt_file_read(bpt_buf *out, const char *path)
{
    int fd, rc = 0;
    uint8_t chunk[16384];
    bool is_stdin = strcmp(path, "-") == 0;

    fd = is_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return bpt_err(errno == ENOENT ? BPT_ENOTFOUND : BPT_EIO, "%s: cannot open: %s", path,
                       strerror(errno));
    }
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            rc = bpt_err(BPT_EIO, "%s: read failed: %s", path, strerror(errno));
            break;
        }
        if (n == 0) {
            break;
        }
        rc = bpt_buf_append(out, chunk, (size_t)n);
        if (rc < 0) {
            rc = bpt_err(rc, "%s: larger than the limit of %zu bytes", path, out->max);
            break;
        }
    }
    if (!is_stdin) {
        close(fd);
    }
    return rc;
}

int bpt_file_write(const char *path, const void *p, size_t n, bool private_file)
{
    char tmp[4096];
    int fd;
    const uint8_t *b = p;

    if (snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", path) >= (int)sizeof(tmp)) {
        return bpt_err(BPT_EINVAL, "%s: path too long", path);
    }
    /* A fresh, uniquely named temporary file (mode 0600 from the start): a stale one left by
     * an earlier crash cannot lend its wider mode to private data, and two writers of the same
     * path in one process do not share a temporary name. */
    fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        return bpt_err(BPT_EIO, "%s: cannot create a temporary file: %s", path, strerror(errno));
    }
    if (!private_file && fchmod(fd, 0644) != 0) {
        int e = errno;
        close(fd);
        unlink(tmp);
        return bpt_err(BPT_EIO, "%s: cannot set mode: %s", path, strerror(e));
    }
    while (n > 0) {
        ssize_t w = write(fd, b, n);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            int e = errno;
            close(fd);
            unlink(tmp);
            return bpt_err(BPT_EIO, "%s: write failed: %s", path, strerror(e));
        }
        b += w;
        n -= (size_t)w;
    }
    int sync_rc = fsync(fd), e = errno;
    if (close(fd) != 0 && sync_rc == 0) {
        sync_rc = -1;
        e = errno;
    }
    if (sync_rc != 0) {
        unlink(tmp);
        return bpt_err(BPT_EIO, "%s: cannot write: %s", path, strerror(e));
    }
    if (rename(tmp, path) != 0) {
        e = errno;
        unlink(tmp);
        return bpt_err(BPT_EIO, "%s: cannot write: %s", path, strerror(e));
    }
    return 0;
}

int bpt_strdup(char **out, const char *s)
{
    *out = NULL;
    if (!s) {
        return 0;
    }
    *out = strdup(s);
    return *out ? 0 : bpt_err_nomem("string");
}

static int digest(const EVP_MD *md, uint8_t *out, const void *p, size_t n)
{
    unsigned int len = 0;
    if (EVP_Digest(p, n, out, &len, md, NULL) != 1) {
        return bpt_err_ossl(BPT_ERROR, "digest");
    }
    return 0;
}

int bpt_sha256(uint8_t md[BPT_SHA256_LEN], const void *p, size_t n)
{
    return digest(EVP_sha256(), md, p, n);
}

int bpt_sha384(uint8_t md[BPT_SHA384_LEN], const void *p, size_t n)
{
    return digest(EVP_sha384(), md, p, n);
}

bool bpt_all_zero(const void *p, size_t n)
{
    const uint8_t *b = p;
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++) {
        acc |= b[i];
    }
    return acc == 0;
}

bool bpt_str_eq(const char *a, const char *b)
{
    if (!a || !b) {
        return a == b;
    }
    return strcmp(a, b) == 0;
}

const char *bpt_version(void)
{
    return BPT_VERSION_STRING;
}

int bpt_sized_check(const void *out, size_t v1_size, const char *type)
{
    uint32_t size = 0;
    if (out) {
        memcpy(&size, out, sizeof(size));
    }
    if (!out || size < v1_size) {
        return bpt_err(
            BPT_EINVAL, "%s: %s (set its first field, size, to sizeof(%s), or use its _INIT macro)",
            type, out ? "the struct's size is smaller than its first version" : "NULL", type);
    }
    return 0;
}

void bpt_sized_out(void *out, const void *full, size_t full_size)
{
    uint32_t size;
    memcpy(&size, out, sizeof(size));
    memcpy(out, full, size < full_size ? size : full_size);
    memcpy(out, &size, sizeof(size));
}

char *bpt_escape_text(char *out, size_t out_len, const char *in)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    if (out_len == 0) {
        return out;
    }
    for (const unsigned char *p = (const unsigned char *)(in != NULL ? in : ""); *p != '\0'; p++) {
        bool plain = *p >= 0x20 && *p <= 0x7e && *p != '\\';
        size_t need = plain ? 1 : 4;
        if (o + need >= out_len) {
            break;
        }
        if (plain) {
            out[o++] = (char)*p;
        } else {
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hex[*p >> 4];
            out[o++] = hex[*p & 15];
        }
    }
    out[o] = '\0';
    return out;
}

/* PEM's passphrase callback: none is given; note that one was asked for. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    *(bool *)u = true;
    return 0;
}

int bpt_pem_private_key(EVP_PKEY **out, const void *pem, size_t len, const char *what)
{
    bool encrypted = false;
    BIO *bio = len <= INT32_MAX ? BIO_new_mem_buf(pem, (int)len) : NULL;
    *out = bio != NULL ? PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, &encrypted) : NULL;
    BIO_free(bio);
    if (*out == NULL) {
        ERR_clear_error();
        return encrypted ? bpt_err(BPT_EINVAL,
                                   "%s is encrypted (no passphrase is asked for: give the key "
                                   "unencrypted, e.g. 'openssl pkey -in K -out K2')",
                                   what)
                         : bpt_err(BPT_EINVAL, "%s is not a PEM private key", what);
    }
    return 0;
}

int64_t bpt_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
