/*
 * Shared by the cloud backends (remote.h): back-off over a deadline, Retry-After, the cloud's
 * error in ours, and the bounded XML reader.
 */
#include "runtime/remote/remote.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "core/codec.h"
#include "core/err.h"
#include "core/http.h"
#include "core/json.h"
#include "core/util.h"

#define XML_TEXT_MAX 4096

int bpt_remote_read_text(bpt_buf *b, const char *path)
{
    int rc = bpt_file_read(b, path);
    if (rc < 0) {
        return rc;
    }
    if (b->len == 0 || memchr(b->data, '\0', b->len) != NULL) {
        return bpt_err(BPT_EINVAL, "%s: empty, or holds a NUL byte", path);
    }
    return 0;
}

bool bpt_remote_id_chars(const char *s, const char *extra)
{
    for (; *s != '\0'; s++) {
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              strchr(extra, *s) != NULL)) {
            return false;
        }
    }
    return true;
}

int bpt_remote_cfg_string(const char *cloud, char *out, size_t cap, json_t *o, const char *key,
                          bool required, const char *extra, const char *path)
{
    json_t *v = json_object_get(o, key);
    if (v == NULL) {
        return required ? bpt_err(BPT_EINVAL, "%s: %s: \"%s\" is required", cloud, path, key) : 0;
    }
    const char *s = json_string_value(v);
    if (s == NULL || s[0] == '\0' || strlen(s) >= cap ||
        (extra != NULL && !bpt_remote_id_chars(s, extra))) {
        char set[48] = "";
        if (extra != NULL) {
            snprintf(set, sizeof(set), " of [A-Za-z0-9%.24s]", extra);
        }
        return bpt_err(BPT_EINVAL, "%s: %s: \"%s\" must be a string of 1..%zu bytes%s", cloud, path,
                       key, cap - 1, set);
    }
    snprintf(out, cap, "%s", s);
    return 0;
}

int bpt_remote_cfg_int(const char *cloud, long *out, json_t *o, const char *key, long lo, long hi,
                       const char *path)
{
    json_t *v = json_object_get(o, key);
    if (v == NULL) {
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
        return bpt_err(BPT_EINVAL, "%s: %s: \"%s\" must be an integer %ld..%ld", cloud, path, key,
                       lo, hi);
    }
    *out = (long)json_integer_value(v);
    return 0;
}

int bpt_remote_form_param(bpt_buf *q, const char *key, const char *value)
{
    static const char hex[] = "0123456789ABCDEF";
    int rc = bpt_buf_append(q, "&", q->len ? 1 : 0);
    if (rc == 0) {
        rc = bpt_buf_append_str(q, key);
    }
    if (rc == 0) {
        rc = bpt_buf_append(q, "=", 1);
    }
    for (const unsigned char *p = (const unsigned char *)value; rc == 0 && *p != '\0'; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '_' || *p == '.' || *p == '~') {
            rc = bpt_buf_append(q, p, 1);
        } else {
            uint8_t enc[3] = {'%', (uint8_t)hex[*p >> 4], (uint8_t)hex[*p & 15]};
            rc = bpt_buf_append(q, enc, 3);
        }
    }
    return rc;
}

void bpt_remote_backoff_init(struct bpt_remote_backoff *b, long budget_ms, long base_ms,
                             long max_ms)
{
    b->deadline_ms = bpt_mono_ms() + budget_ms;
    b->base_ms = base_ms > 0 ? base_ms : 1;
    b->max_ms = max_ms >= b->base_ms ? max_ms : b->base_ms;
    b->attempt = 0;
}

int bpt_remote_backoff_wait(struct bpt_remote_backoff *b, long retry_after_ms, const char *what)
{
    long wait = b->base_ms;
    for (unsigned i = 0; i < b->attempt && wait < b->max_ms; i++) {
        wait *= 2;
    }
    if (wait > b->max_ms) {
        wait = b->max_ms;
    }
    if (retry_after_ms >= 0) {
        wait = retry_after_ms;
    }
    int64_t now = bpt_mono_ms();
    if (now + wait > b->deadline_ms) {
        return bpt_err(BPT_EBUSY, "%s: the deadline passed after %u attempt(s)", what,
                       b->attempt + 1);
    }
    b->attempt++;
    struct timespec ts = {.tv_sec = wait / 1000, .tv_nsec = (wait % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
    return 0;
}

long bpt_remote_retry_after_ms(const char *value)
{
    if (value == NULL || value[0] < '0' || value[0] > '9') {
        return -1;
    }
    long s = 0;
    for (const char *p = value; *p != '\0'; p++) {
        if (*p < '0' || *p > '9') {
            return -1;
        }
        if (s <= BPT_REMOTE_RETRY_AFTER_MAX_MS / 1000) {
            s = s * 10 + (*p - '0');
        }
    }
    long ms = s * 1000;
    return ms > BPT_REMOTE_RETRY_AFTER_MAX_MS ? BPT_REMOTE_RETRY_AFTER_MAX_MS : ms;
}

static void blank_controls(char *s)
{
    for (; *s != '\0'; s++) {
        if ((unsigned char)*s < 0x20 || *s == 0x7f) {
            *s = ' ';
        }
    }
}

int bpt_remote_cloud_error(int rc, const char *cloud, const char *what, const char *code,
                           const char *message)
{
    char msg[301], c[65];
    snprintf(msg, sizeof(msg), "%s", message != NULL ? message : "");
    snprintf(c, sizeof(c), "%s", code != NULL && code[0] != '\0' ? code : "(no code)");
    /* both come from the cloud's answer: no control characters into messages and terminals */
    blank_controls(msg);
    blank_controls(c);
    return bpt_err(rc, "%s: %s: %s: %s", cloud, what, c, msg);
}

bool bpt_remote_plane_url(char *out, size_t cap, bool https, const char *addr, unsigned port)
{
    uint8_t bin[16];
    bool v6 = inet_pton(AF_INET6, addr, bin) == 1;
    if (!v6 && inet_pton(AF_INET, addr, bin) != 1) {
        return false;
    }
    snprintf(out, cap, "%s://%s%s%s:%u", https ? "https" : "http", v6 ? "[" : "", addr,
             v6 ? "]" : "", port);
    return true;
}

bool bpt_remote_xml_path_ends(const char *const *path, size_t depth, const char *suffix)
{
    size_t n = strlen(suffix);
    size_t i = depth;
    while (n > 0) {
        size_t start = n;
        while (start > 0 && suffix[start - 1] != '/') {
            start--;
        }
        if (i == 0) {
            return false;
        }
        i--;
        if (strlen(path[i]) != n - start || memcmp(path[i], suffix + start, n - start) != 0) {
            return false;
        }
        n = start > 0 ? start - 1 : 0;
    }
    return true;
}

/* ---- the XML reader ------------------------------------------------------------------------ */

struct xml {
    const char *s;
    size_t len, pos;
    char names[BPT_REMOTE_XML_DEPTH][BPT_REMOTE_XML_NAME_MAX + 1];
    const char *path[BPT_REMOTE_XML_DEPTH];
    bool had_child[BPT_REMOTE_XML_DEPTH];
    size_t depth;
    char text[XML_TEXT_MAX + 1];
    size_t text_len;
};

static int bad(const struct xml *x, const char *why)
{
    return bpt_err(BPT_EMALFORMED, "XML answer: %s at byte %zu", why, x->pos);
}

static bool name_start(char c)
{
    return isalpha((unsigned char)c) || c == '_';
}

static bool name_char(char c)
{
    return isalnum((unsigned char)c) || c == '_' || c == '.' || c == ':' || c == '-';
}

static int read_name(struct xml *x, char out[BPT_REMOTE_XML_NAME_MAX + 1])
{
    size_t n = 0;
    if (x->pos >= x->len || !name_start(x->s[x->pos])) {
        return bad(x, "an element name expected");
    }
    while (x->pos < x->len && name_char(x->s[x->pos])) {
        if (n == BPT_REMOTE_XML_NAME_MAX) {
            return bad(x, "an element name too long");
        }
        out[n++] = x->s[x->pos++];
    }
    out[n] = '\0';
    return 0;
}

static void skip_space(struct xml *x)
{
    while (x->pos < x->len && strchr(" \t\r\n", x->s[x->pos]) != NULL && x->s[x->pos] != '\0') {
        x->pos++;
    }
}

static int text_add(struct xml *x, char c)
{
    if (x->text_len == XML_TEXT_MAX) {
        return bpt_err(BPT_ELIMIT, "XML answer: an element's text over %d bytes", XML_TEXT_MAX);
    }
    x->text[x->text_len++] = c;
    return 0;
}

static int read_entity(struct xml *x)
{
    static const struct {
        const char *name;
        char c;
    } ents[] = {{"amp;", '&'}, {"lt;", '<'}, {"gt;", '>'}, {"quot;", '"'}, {"apos;", '\''}};
    x->pos++; /* & */
    for (size_t i = 0; i < sizeof(ents) / sizeof(ents[0]); i++) {
        size_t n = strlen(ents[i].name);
        if (x->len - x->pos >= n && memcmp(x->s + x->pos, ents[i].name, n) == 0) {
            x->pos += n;
            return text_add(x, ents[i].c);
        }
    }
    if (x->pos < x->len && x->s[x->pos] == '#') {
        unsigned long v = 0;
        int base = 10, digits = 0;
        x->pos++;
        if (x->pos < x->len && x->s[x->pos] == 'x') {
            base = 16;
            x->pos++;
        }
        while (x->pos < x->len && x->s[x->pos] != ';' && digits < 6) {
            char c = x->s[x->pos++];
            int d = isdigit((unsigned char)c) ? c - '0'
                    : base == 16 && isxdigit((unsigned char)c)
                        ? tolower((unsigned char)c) - 'a' + 10
                        : -1;
            if (d < 0) {
                return bad(x, "a bad character reference");
            }
            v = v * (unsigned long)base + (unsigned long)d;
            digits++;
        }
        if (digits == 0 || x->pos >= x->len || x->s[x->pos] != ';' || v == 0 || v > 0x7e ||
            (v < 0x20 && v != '\t' && v != '\n' && v != '\r')) {
            return bad(x, "a character reference outside printable ASCII");
        }
        x->pos++;
        return text_add(x, (char)v);
    }
    return bad(x, "an entity other than the predefined ones");
}

static int skip_attributes(struct xml *x, bool *empty)
{
    char name[BPT_REMOTE_XML_NAME_MAX + 1];
    for (;;) {
        skip_space(x);
        if (x->pos >= x->len) {
            return bad(x, "the answer ends inside a tag");
        }
        if (x->s[x->pos] == '>') {
            x->pos++;
            *empty = false;
            return 0;
        }
        if (x->s[x->pos] == '/') {
            if (x->pos + 1 >= x->len || x->s[x->pos + 1] != '>') {
                return bad(x, "'/' not followed by '>'");
            }
            x->pos += 2;
            *empty = true;
            return 0;
        }
        int rc = read_name(x, name);
        if (rc < 0) {
            return rc;
        }
        skip_space(x);
        if (x->pos >= x->len || x->s[x->pos] != '=') {
            return bad(x, "an attribute without a value");
        }
        x->pos++;
        skip_space(x);
        if (x->pos >= x->len || (x->s[x->pos] != '"' && x->s[x->pos] != '\'')) {
            return bad(x, "an attribute value not quoted");
        }
        char q = x->s[x->pos++];
        while (x->pos < x->len && x->s[x->pos] != q) {
            if (x->s[x->pos] == '<') {
                return bad(x, "'<' in an attribute value");
            }
            x->pos++;
        }
        if (x->pos >= x->len) {
            return bad(x, "the answer ends inside an attribute value");
        }
        x->pos++;
    }
}

static int close_element(struct xml *x, bpt_remote_xml_fn fn, void *ud)
{
    int rc = 0;
    if (!x->had_child[x->depth - 1]) {
        x->text[x->text_len] = '\0';
        rc = fn(x->path, x->depth, x->text, ud);
    }
    x->depth--;
    if (x->depth > 0) {
        x->had_child[x->depth - 1] = true;
    }
    x->text_len = 0;
    return rc;
}

int bpt_remote_xml_walk(const char *xml, size_t len, bpt_remote_xml_fn fn, void *ud)
{
    struct xml *x;
    int rc = 0;
    bool seen_root = false;

    if (len > BPT_REMOTE_XML_MAX) {
        return bpt_err(BPT_ELIMIT, "XML answer: %zu bytes, over %u", len, BPT_REMOTE_XML_MAX);
    }
    if ((x = calloc(1, sizeof(*x))) == NULL) {
        return bpt_err_nomem("XML answer");
    }
    x->s = xml;
    x->len = len;
    for (size_t i = 0; i < BPT_REMOTE_XML_DEPTH; i++) {
        x->path[i] = x->names[i];
    }
    if (len >= 5 && memcmp(xml, "<?xml", 5) == 0) {
        const char *end = memchr(xml, '>', len);
        if (end == NULL || end == xml || end[-1] != '?') {
            rc = bad(x, "an unterminated XML declaration");
            goto out;
        }
        x->pos = (size_t)(end - xml) + 1;
    }
    while (rc == 0 && x->pos < x->len) {
        char c = x->s[x->pos];
        if (c == '\0') {
            rc = bad(x, "a NUL byte");
        } else if (c != '<') {
            if (x->depth == 0) {
                if (strchr(" \t\r\n", c) == NULL) {
                    rc = bad(x, "text outside the root element");
                }
                x->pos++;
            } else if (c == '&') {
                rc = read_entity(x);
            } else if (c == '>') {
                rc = bad(x, "a stray '>'");
            } else {
                rc = text_add(x, c);
                x->pos++;
            }
        } else if (x->len - x->pos >= 4 && memcmp(x->s + x->pos, "<!--", 4) == 0) {
            const char *p = x->s + x->pos + 4, *end = NULL;
            for (; p + 3 <= x->s + x->len; p++) {
                if (memcmp(p, "-->", 3) == 0) {
                    end = p;
                    break;
                }
            }
            if (end == NULL) {
                rc = bad(x, "an unterminated comment");
            } else {
                x->pos = (size_t)(end - x->s) + 3;
            }
        } else if (x->pos + 1 < x->len && (x->s[x->pos + 1] == '!' || x->s[x->pos + 1] == '?')) {
            rc = bad(x, "a DTD, CDATA section or processing instruction");
        } else if (x->pos + 1 < x->len && x->s[x->pos + 1] == '/') {
            char name[BPT_REMOTE_XML_NAME_MAX + 1];
            x->pos += 2;
            if ((rc = read_name(x, name)) < 0) {
                break;
            }
            skip_space(x);
            if (x->depth == 0 || strcmp(name, x->names[x->depth - 1]) != 0) {
                rc = bad(x, "a closing tag that does not match");
            } else if (x->pos >= x->len || x->s[x->pos] != '>') {
                rc = bad(x, "a closing tag without '>'");
            } else {
                x->pos++;
                rc = close_element(x, fn, ud);
            }
        } else {
            bool empty = false;
            if (x->depth == 0 && seen_root) {
                rc = bad(x, "a second root element");
                break;
            }
            if (x->depth == BPT_REMOTE_XML_DEPTH) {
                rc = bpt_err(BPT_ELIMIT, "XML answer: nested deeper than %d", BPT_REMOTE_XML_DEPTH);
                break;
            }
            x->pos++;
            if ((rc = read_name(x, x->names[x->depth])) < 0 ||
                (rc = skip_attributes(x, &empty)) < 0) {
                break;
            }
            if (x->depth > 0) {
                x->had_child[x->depth - 1] = true;
            }
            x->had_child[x->depth] = false;
            x->depth++;
            x->text_len = 0;
            seen_root = true;
            if (empty) {
                rc = close_element(x, fn, ud);
            }
        }
    }
    if (rc == 0 && (x->depth != 0 || !seen_root)) {
        rc = bad(x, seen_root ? "the answer ends inside an element" : "no root element");
    }
out:
    free(x);
    return rc;
}

int bpt_remote_init(void **state, const bpt_backend_env *env, const char *env_var, const char *file)
{
    struct bpt_remote_state *r = calloc(1, sizeof(*r));
    const char *p = getenv(env_var);
    if (r == NULL) {
        return bpt_err_nomem("remote backend");
    }
    if (p != NULL && p[0] != '\0') {
        snprintf(r->config_path, sizeof(r->config_path), "%s", p);
    } else if (env->state_dir != NULL) {
        snprintf(r->config_path, sizeof(r->config_path), "%s/%s", env->state_dir, file);
    }
    r->verifier = env->verifier;
    *state = r;
    return 0;
}

void bpt_remote_cleanup(void *state)
{
    free(state);
}

/* base64url of @p text appended to @p out. */
static int append_b64url(bpt_buf *out, const void *p, size_t n)
{
    char *e = NULL;
    int rc = bpt_base64url_encode(&e, p, n);
    if (rc == 0) {
        rc = bpt_buf_append_str(out, e);
        OPENSSL_cleanse(e, strlen(e));
    }
    bpt_free(e);
    return rc;
}

int bpt_remote_jwt_rs256(bpt_buf *out, const json_t *header, const json_t *claims, EVP_PKEY *key,
                         const char *what)
{
    char *h = NULL, *c = NULL;
    uint8_t sig[1024];
    size_t sig_len = sizeof(sig);
    EVP_MD_CTX *md = NULL;
    int rc;

    bpt_buf_reset(out);
    BPT_CHECK(bpt_json_dump(&h, header));
    BPT_CHECK(bpt_json_dump(&c, claims));
    BPT_CHECK(append_b64url(out, h, strlen(h)));
    BPT_CHECK(bpt_buf_append(out, ".", 1));
    BPT_CHECK(append_b64url(out, c, strlen(c)));
    if ((md = EVP_MD_CTX_new()) == NULL ||
        EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) != 1 ||
        EVP_DigestSign(md, sig, &sig_len, out->data, out->len) != 1) {
        ERR_clear_error();
        rc = bpt_err(BPT_EINVAL, "%s could not be signed (RS256)", what);
        goto out;
    }
    BPT_CHECK(bpt_buf_append(out, ".", 1));
    BPT_CHECK(append_b64url(out, sig, sig_len));
out:
    OPENSSL_cleanse(sig, sizeof(sig)); /* with the public header and claims, a credential */
    EVP_MD_CTX_free(md);
    bpt_free(h);
    bpt_free(c);
    return rc;
}

int bpt_remote_send(bool *again, struct bpt_http_response *resp, const struct bpt_http_request *req,
                    struct bpt_remote_backoff *b, const char *cloud, const char *what)
{
    char why[256];
    int rc;
    *again = false;
    if ((rc = bpt_http_send(resp, req)) != BPT_EFETCH) {
        return rc < 0 ? bpt_err_prefix(rc, "%s: %s", cloud, what) : 0;
    }
    snprintf(why, sizeof(why), "%s", bpt_error_last());
    if (bpt_remote_backoff_wait(b, -1, what) < 0) {
        return bpt_err(BPT_EFETCH, "%s: %s: unreachable until the deadline: %s", cloud, what, why);
    }
    *again = true;
    return 0;
}

void bpt_remote_header_text(char *out, size_t cap, const bpt_buf *value)
{
    out[0] = '\0';
    if (value->data != NULL && value->len < cap) {
        memcpy(out, value->data, value->len);
        out[value->len] = '\0';
    }
}

int bpt_remote_throttled(struct bpt_remote_backoff *b, const bpt_buf *retry_after,
                         const char *cloud, const char *what, const char *code, const char *message)
{
    char ra[64], msg[600];
    bpt_remote_header_text(ra, sizeof(ra), retry_after);
    if (bpt_remote_backoff_wait(b, bpt_remote_retry_after_ms(ra), what) == 0) {
        return 0;
    }
    snprintf(msg, sizeof(msg), "%s (still refused when the request deadline passed)", message);
    return bpt_remote_cloud_error(BPT_EBUSY, cloud, what, code, msg);
}
