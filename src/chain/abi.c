/*
 * The strict ABI codec (abi.h). Decoding walks the type tree over sub-readers of the input:
 * a tuple's head is read word by word; a dynamic item's offset is checked against the head and
 * the region before a sub-reader is made at it; counts are checked against the bytes left
 * before any allocation.
 */
#include <blueprint-tee/chain.h>

#include "chain/abi.h"
#include "chain/keccak.h"

#include "core/err.h"
#include "core/reader.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- types -------------------------------------------------------------------------------- */

struct parser {
    const char *s;
    size_t pos;
    unsigned depth;
};

static int parse_type(struct bpt_abi_type **out, struct parser *ps);

static int type_new(struct bpt_abi_type **out, enum bpt_abi_kind kind, size_t size)
{
    if (!(*out = calloc(1, sizeof(**out)))) {
        return bpt_err_nomem("abi type");
    }
    (*out)->kind = kind;
    (*out)->size = size;
    return 0;
}

void bpt_abi_type_free(struct bpt_abi_type *t)
{
    if (!t) {
        return;
    }
    bpt_abi_type_free(t->elem);
    for (size_t i = 0; t->items && i < t->size; i++) {
        bpt_abi_type_free(t->items[i]);
    }
    free(t->items);
    free(t);
}

/* Digits at ps->pos: the number (1..max), or 0 when there are none. */
static size_t parse_number(struct parser *ps, size_t max)
{
    size_t v = 0, start = ps->pos;
    while (ps->s[ps->pos] >= '0' && ps->s[ps->pos] <= '9') {
        v = v * 10 + (size_t)(ps->s[ps->pos++] - '0');
        if (v > max || ps->pos - start > 6) {
            return 0;
        }
    }
    return ps->pos == start || (ps->s[start] == '0') ? 0 : v;
}

static int parse_tuple(struct bpt_abi_type **out, struct parser *ps)
{
    struct bpt_abi_type *t = NULL, *item = NULL, **grown;
    size_t cap = 0;
    int rc;
    ps->pos++; /* '(' */
    BPT_CHECK(type_new(&t, BPT_ABI_TUPLE, 0));
    if (ps->s[ps->pos] == ')') {
        ps->pos++;
        *out = t;
        return 0;
    }
    for (;;) {
        BPT_CHECK(parse_type(&item, ps));
        if (t->size == cap) {
            cap = cap ? cap * 2 : 4;
            if (!(grown = realloc(t->items, cap * sizeof(*grown)))) {
                rc = bpt_err_nomem("abi type");
                goto out;
            }
            t->items = grown;
        }
        t->items[t->size++] = item;
        item = NULL;
        if (ps->s[ps->pos] == ',') {
            ps->pos++;
            continue;
        }
        if (ps->s[ps->pos] == ')') {
            ps->pos++;
            break;
        }
        rc = bpt_err(BPT_EINVAL, "abi: type: ',' or ')' expected at %zu", ps->pos);
        goto out;
    }
    *out = t;
    t = NULL;
    rc = 0;
out:
    bpt_abi_type_free(item);
    bpt_abi_type_free(t);
    return rc;
}

static int parse_base(struct bpt_abi_type **out, struct parser *ps)
{
    const char *s = ps->s + ps->pos;
    size_t n;
    if (*s == '(') {
        return parse_tuple(out, ps);
    }
    if (strncmp(s, "uint", 4) == 0) {
        ps->pos += 4;
        if (!(ps->s[ps->pos] >= '0' && ps->s[ps->pos] <= '9')) {
            return type_new(out, BPT_ABI_UINT, 256);
        }
        n = parse_number(ps, 256);
        if (n == 0 || n % 8) {
            return bpt_err(BPT_EINVAL, "abi: type: uintN with N in 8..256, a multiple of 8");
        }
        return type_new(out, BPT_ABI_UINT, n);
    }
    if (strncmp(s, "address", 7) == 0) {
        ps->pos += 7;
        return type_new(out, BPT_ABI_ADDRESS, 20);
    }
    if (strncmp(s, "bool", 4) == 0) {
        ps->pos += 4;
        return type_new(out, BPT_ABI_BOOL, 1);
    }
    if (strncmp(s, "string", 6) == 0) {
        ps->pos += 6;
        return type_new(out, BPT_ABI_STRING, 0);
    }
    if (strncmp(s, "bytes", 5) == 0) {
        ps->pos += 5;
        if (!(ps->s[ps->pos] >= '0' && ps->s[ps->pos] <= '9')) {
            return type_new(out, BPT_ABI_BYTES, 0);
        }
        n = parse_number(ps, 32);
        if (n == 0) {
            return bpt_err(BPT_EINVAL, "abi: type: bytesN with N in 1..32");
        }
        return type_new(out, BPT_ABI_FIXED_BYTES, n);
    }
    return bpt_err(BPT_EINVAL, "abi: type: unknown type at %zu ('%.16s')", ps->pos, s);
}

static int parse_type(struct bpt_abi_type **out, struct parser *ps)
{
    struct bpt_abi_type *t = NULL, *arr = NULL;
    int rc;
    unsigned entry_depth;
    if (++ps->depth > BPT_ABI_MAX_DEPTH) {
        return bpt_err(BPT_EINVAL, "abi: type: nested deeper than %d", BPT_ABI_MAX_DEPTH);
    }
    entry_depth = ps->depth;
    BPT_CHECK(parse_base(&t, ps));
    while (ps->s[ps->pos] == '[') {
        size_t k = 0;
        ps->pos++;
        if (ps->s[ps->pos] != ']' && (k = parse_number(ps, 65536)) == 0) {
            rc = bpt_err(BPT_EINVAL, "abi: type: array length 1..65536 at %zu", ps->pos);
            goto out;
        }
        if (ps->s[ps->pos] != ']') {
            rc = bpt_err(BPT_EINVAL, "abi: type: ']' expected at %zu", ps->pos);
            goto out;
        }
        ps->pos++;
        if (++ps->depth > BPT_ABI_MAX_DEPTH) {
            rc = bpt_err(BPT_EINVAL, "abi: type: nested deeper than %d", BPT_ABI_MAX_DEPTH);
            goto out;
        }
        BPT_CHECK(type_new(&arr, k ? BPT_ABI_FIXED_ARRAY : BPT_ABI_ARRAY, k));
        arr->elem = t;
        t = arr;
        arr = NULL;
    }
    *out = t;
    t = NULL;
    rc = 0;
out:
    ps->depth = entry_depth - 1; /* this level is done: depth is nesting, not a count */
    bpt_abi_type_free(t);
    return rc;
}

int bpt_abi_type_parse(struct bpt_abi_type **out, const char *text)
{
    struct parser ps = {text, 0, 0};
    struct bpt_abi_type *t = NULL;
    int rc;
    *out = NULL;
    if (!text || strlen(text) > BPT_ABI_MAX_TYPE_TEXT) {
        return bpt_err(BPT_EINVAL, "abi: type text missing or over %d bytes",
                       BPT_ABI_MAX_TYPE_TEXT);
    }
    BPT_CHECK(parse_type(&t, &ps));
    if (text[ps.pos]) {
        rc = bpt_err(BPT_EINVAL, "abi: type: unexpected '%c' at %zu", text[ps.pos], ps.pos);
        goto out;
    }
    *out = t;
    t = NULL;
    rc = 0;
out:
    bpt_abi_type_free(t);
    return rc;
}

bool bpt_abi_type_is_dynamic(const struct bpt_abi_type *t)
{
    switch (t->kind) {
    case BPT_ABI_BYTES:
    case BPT_ABI_STRING:
    case BPT_ABI_ARRAY:
        return true;
    case BPT_ABI_FIXED_ARRAY:
        return bpt_abi_type_is_dynamic(t->elem);
    case BPT_ABI_TUPLE:
        for (size_t i = 0; i < t->size; i++) {
            if (bpt_abi_type_is_dynamic(t->items[i])) {
                return true;
            }
        }
        return false;
    default:
        return false;
    }
}

/* Bytes a static type takes in its enclosing head; 32 for a dynamic one (its offset). Types
 * come from the parser (at most 65536 per array level, 16 levels): the product is bounded by
 * saturating at SIZE_MAX. */
static size_t head_size(const struct bpt_abi_type *t)
{
    size_t n = 0, one;
    if (bpt_abi_type_is_dynamic(t)) {
        return 32;
    }
    switch (t->kind) {
    case BPT_ABI_FIXED_ARRAY:
        one = head_size(t->elem);
        return __builtin_mul_overflow(one, t->size, &n) ? SIZE_MAX : n;
    case BPT_ABI_TUPLE:
        for (size_t i = 0; i < t->size; i++) {
            if (__builtin_add_overflow(n, head_size(t->items[i]), &n)) {
                return SIZE_MAX;
            }
        }
        return n;
    default:
        return 32;
    }
}

/* ---- decoding ----------------------------------------------------------------------------- */

struct dec {
    size_t values; /* made so far */
    size_t end;    /* the furthest byte any value reached */
};

static void free_items(struct bpt_abi_value *v)
{
    for (size_t i = 0; i < v->n; i++) {
        free_items(&v->items[i]);
    }
    free(v->items);
    v->items = NULL;
    v->n = 0;
}

void bpt_abi_value_free(struct bpt_abi_value *v)
{
    if (!v) {
        return;
    }
    free_items(v);
    free(v);
}

static void reached(struct dec *d, const struct bpt_reader *r)
{
    size_t at = r->base + r->off;
    if (at > d->end) {
        d->end = at;
    }
}

static int count_values(struct dec *d, size_t n)
{
    if (n > BPT_ABI_MAX_VALUES - d->values) {
        return bpt_err(BPT_ELIMIT, "abi: more than %d values", BPT_ABI_MAX_VALUES);
    }
    d->values += n;
    return 0;
}

static bool utf8_valid(const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = p[i];
        size_t k;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF) {
            k = 1;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            k = 2;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            k = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (n - i <= k) {
            return false;
        }
        for (size_t j = 1; j <= k; j++) {
            if ((p[i + j] & 0xC0) != 0x80) {
                return false;
            }
            cp = (cp << 6) | (p[i + j] & 0x3F);
        }
        if ((k == 2 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
            (k == 3 && (cp < 0x10000 || cp > 0x10FFFF))) {
            return false;
        }
        i += k + 1;
    }
    return true;
}

static int read_word(struct bpt_reader *r, uint8_t w[32], const char *what)
{
    return bpt_reader_copy(r, w, 32, what);
}

/* A word that must hold a count or an offset: at most 2^32 (larger cannot fit any input). */
static int read_size(struct bpt_reader *r, size_t *out, const char *what)
{
    uint8_t w[32];
    uint64_t v = 0;
    size_t off = bpt_reader_offset(r);
    int rc = read_word(r, w, what);
    if (rc < 0) {
        return rc;
    }
    for (unsigned i = 0; i < 28; i++) {
        if (w[i]) {
            return bpt_err(BPT_EMALFORMED, "abi: %s at %zu: %s too large", r->ctx ? r->ctx : "",
                           off, what);
        }
    }
    for (unsigned i = 28; i < 32; i++) {
        v = (v << 8) | w[i];
    }
    *out = (size_t)v;
    return 0;
}

static int decode_value(struct dec *d, struct bpt_abi_value *v, const struct bpt_abi_type *t,
                        const struct bpt_reader *region, size_t at);

/* A list of @p n items of the given types (tuple items or array elements) whose head starts at
 * @p base of @p region; offsets of dynamic items are relative to base. */
static int decode_list(struct dec *d, struct bpt_abi_value *v,
                       const struct bpt_abi_type *const *types, const struct bpt_abi_type *elem,
                       size_t n, const struct bpt_reader *region, size_t base)
{
    struct bpt_reader area;
    size_t pos = 0, next = 0;
    int rc;
    /* the items' own region: from base to the end */
    area = *region;
    area.off = 0;
    if (base > region->len) {
        return bpt_err(BPT_EMALFORMED, "abi: offset %zu past the end (%zu)", base, region->len);
    }
    area.p = region->p + base;
    area.len = region->len - base;
    area.base = region->base + base;
    {
        /* Every item needs at least its head in the region: checked before allocating. */
        size_t per = elem ? head_size(elem) : 0, need = 0;
        if (elem && (__builtin_mul_overflow(per, n, &need) || need > area.len)) {
            return bpt_err(BPT_EMALFORMED, "abi: %zu items of %zu bytes do not fit in %zu at %zu",
                           n, per, area.len, area.base);
        }
    }
    /* The tails follow the heads in item order, each where the previous one ended (as every
     * encoder writes them): a tail inside the heads, overlapping another or out of order is
     * refused, so a value decodes from one encoding only. */
    for (size_t i = 0; i < n; i++) {
        if (__builtin_add_overflow(next, head_size(elem ? elem : types[i]), &next)) {
            next = SIZE_MAX;
            break;
        }
    }
    BPT_CHECK(count_values(d, n));
    if (n && !(v->items = calloc(n, sizeof(*v->items)))) {
        return bpt_err_nomem("abi");
    }
    v->n = n;
    for (size_t i = 0; i < n; i++) {
        const struct bpt_abi_type *t = elem ? elem : types[i];
        size_t hs = head_size(t);
        if (hs > area.len || pos > area.len - hs) {
            return bpt_err(BPT_EMALFORMED, "abi: item %zu's head at %zu is past the end (%zu)", i,
                           area.base + pos, area.base + area.len);
        }
        if (bpt_abi_type_is_dynamic(t)) {
            struct bpt_reader r = area;
            size_t off;
            r.off = pos;
            BPT_CHECK(read_size(&r, &off, "offset"));
            if (off > area.len) {
                return bpt_err(BPT_EMALFORMED, "abi: item %zu's offset %zu at %zu is past the end",
                               i, off, area.base + pos);
            }
            if (off != next) {
                return bpt_err(BPT_EMALFORMED,
                               "abi: item %zu's offset %zu at %zu is not where its tail starts "
                               "(%zu): tails inside the head, overlapping or out of order",
                               i, off, area.base + pos, next);
            }
            BPT_CHECK(decode_value(d, &v->items[i], t, &area, off));
            next = d->end > area.base + off ? d->end - area.base : off;
        } else {
            BPT_CHECK(decode_value(d, &v->items[i], t, &area, pos));
        }
        pos += hs;
    }
    rc = 0;
out:
    return rc;
}

static int decode_value(struct dec *d, struct bpt_abi_value *v, const struct bpt_abi_type *t,
                        const struct bpt_reader *region, size_t at)
{
    struct bpt_reader r = *region;
    size_t n, padded;
    const uint8_t *view;
    uint8_t pad[32];
    int rc;

    r.off = at;
    switch (t->kind) {
    case BPT_ABI_UINT:
        BPT_CHECK(read_word(&r, v->word, "uint"));
        for (size_t i = 0; i < (256 - t->size) / 8; i++) {
            if (v->word[i]) {
                return bpt_err(BPT_EMALFORMED, "abi: uint%zu at %zu has bits set above its size",
                               t->size, r.base + at);
            }
        }
        reached(d, &r);
        return 0;
    case BPT_ABI_ADDRESS:
    case BPT_ABI_BOOL:
        BPT_CHECK(read_word(&r, v->word, t->kind == BPT_ABI_BOOL ? "bool" : "address"));
        for (size_t i = 0; i < (t->kind == BPT_ABI_BOOL ? 31u : 12u); i++) {
            if (v->word[i]) {
                return bpt_err(BPT_EMALFORMED, "abi: %s at %zu is not clean",
                               t->kind == BPT_ABI_BOOL ? "bool" : "address", r.base + at);
            }
        }
        if (t->kind == BPT_ABI_BOOL && v->word[31] > 1) {
            return bpt_err(BPT_EMALFORMED, "abi: bool at %zu is %u", r.base + at, v->word[31]);
        }
        reached(d, &r);
        return 0;
    case BPT_ABI_FIXED_BYTES:
        BPT_CHECK(read_word(&r, v->word, "bytesN"));
        for (size_t i = t->size; i < 32; i++) {
            if (v->word[i]) {
                return bpt_err(BPT_EMALFORMED, "abi: bytes%zu at %zu has dirty padding", t->size,
                               r.base + at);
            }
        }
        reached(d, &r);
        return 0;
    case BPT_ABI_BYTES:
    case BPT_ABI_STRING:
        BPT_CHECK(read_size(&r, &n, "length"));
        padded = (n + 31) / 32 * 32;
        if (padded > bpt_reader_remaining(&r)) {
            return bpt_err(BPT_EMALFORMED, "abi: %s of %zu bytes at %zu runs past the end (%zu)",
                           t->kind == BPT_ABI_BYTES ? "bytes" : "string", n, r.base + at,
                           r.base + r.len);
        }
        BPT_CHECK(bpt_reader_view(&r, &view, n, "data"));
        memset(pad, 0, sizeof(pad));
        if (padded > n) {
            const uint8_t *tail;
            BPT_CHECK(bpt_reader_view(&r, &tail, padded - n, "padding"));
            if (memcmp(tail, pad, padded - n) != 0) {
                return bpt_err(BPT_EMALFORMED, "abi: padding after %zu bytes at %zu is not zero", n,
                               r.base + at);
            }
        }
        if (t->kind == BPT_ABI_STRING && !utf8_valid(view, n)) {
            return bpt_err(BPT_EMALFORMED, "abi: string at %zu is not UTF-8", r.base + at);
        }
        v->data = view;
        v->len = n;
        reached(d, &r);
        return 0;
    case BPT_ABI_ARRAY:
        BPT_CHECK(read_size(&r, &n, "array length"));
        reached(d, &r);
        return decode_list(d, v, NULL, t->elem, n, region, at + 32);
    case BPT_ABI_FIXED_ARRAY:
        return decode_list(d, v, NULL, t->elem, t->size, region, at);
    case BPT_ABI_TUPLE:
        return decode_list(d, v, (const struct bpt_abi_type *const *)t->items, NULL, t->size,
                           region, at);
    }
    return bpt_err(BPT_EINVAL, "abi: unknown kind");
out:
    return rc;
}

int bpt_abi_decode(struct bpt_abi_value **out, const struct bpt_abi_type *t, const uint8_t *p,
                   size_t len)
{
    struct bpt_reader r;
    struct dec d = {0, 0};
    struct bpt_abi_value *v = NULL;
    int rc;
    *out = NULL;
    if (!(v = calloc(1, sizeof(*v)))) {
        return bpt_err_nomem("abi");
    }
    bpt_reader_init(&r, p, len, "abi");
    BPT_CHECK(decode_value(&d, v, t, &r, 0));
    if (d.end != len) {
        rc = bpt_err(BPT_EMALFORMED, "abi: %zu bytes after the encoding's end at %zu", len - d.end,
                     d.end);
        goto out;
    }
    *out = v;
    v = NULL;
    rc = 0;
out:
    bpt_abi_value_free(v);
    return rc;
}

int bpt_abi_decode_text(struct bpt_abi_value **out, const char *types, const uint8_t *p, size_t len)
{
    struct bpt_abi_type *t = NULL;
    int rc;
    *out = NULL;
    BPT_CHECK(bpt_abi_type_parse(&t, types));
    BPT_CHECK(bpt_abi_decode(out, t, p, len));
out:
    bpt_abi_type_free(t);
    return rc;
}

/* ---- encoding ----------------------------------------------------------------------------- */

static int encode_value(bpt_buf *out, const struct bpt_abi_type *t, const struct bpt_abi_value *v);

/* Items as a tuple: heads (static inline, dynamic as offsets), then the tails. */
static int encode_list(bpt_buf *out, const struct bpt_abi_type *const *types,
                       const struct bpt_abi_type *elem, const struct bpt_abi_value *items, size_t n)
{
    bpt_buf tail = BPT_BUF_INIT(out->max);
    size_t head = 0;
    uint8_t w[32];
    int rc;
    for (size_t i = 0; i < n; i++) {
        head += head_size(elem ? elem : types[i]);
    }
    for (size_t i = 0; i < n; i++) {
        const struct bpt_abi_type *t = elem ? elem : types[i];
        if (bpt_abi_type_is_dynamic(t)) {
            uint64_t off = head + tail.len;
            memset(w, 0, sizeof(w));
            for (unsigned b = 0; b < 8; b++) {
                w[31 - b] = (uint8_t)(off >> (8 * b));
            }
            BPT_CHECK(bpt_buf_append(out, w, 32));
            BPT_CHECK(encode_value(&tail, t, &items[i]));
        } else {
            BPT_CHECK(encode_value(out, t, &items[i]));
        }
    }
    BPT_CHECK(bpt_buf_append(out, tail.data, tail.len));
out:
    bpt_buf_dispose(&tail);
    return rc;
}

static int encode_value(bpt_buf *out, const struct bpt_abi_type *t, const struct bpt_abi_value *v)
{
    uint8_t w[32], zero[32] = {0};
    int rc = 0;
    switch (t->kind) {
    case BPT_ABI_UINT:
        for (size_t i = 0; i < (256 - t->size) / 8; i++) {
            if (v->word[i]) {
                return bpt_err(BPT_EINVAL, "abi: value does not fit uint%zu", t->size);
            }
        }
        return bpt_buf_append(out, v->word, 32);
    case BPT_ABI_ADDRESS:
    case BPT_ABI_BOOL:
    case BPT_ABI_FIXED_BYTES:
        return bpt_buf_append(out, v->word, 32);
    case BPT_ABI_BYTES:
    case BPT_ABI_STRING:
        memset(w, 0, sizeof(w));
        for (unsigned b = 0; b < 8; b++) {
            w[31 - b] = (uint8_t)((uint64_t)v->len >> (8 * b));
        }
        BPT_CHECK(bpt_buf_append(out, w, 32));
        BPT_CHECK(bpt_buf_append(out, v->data, v->len));
        BPT_CHECK(bpt_buf_append(out, zero, (32 - v->len % 32) % 32));
        return 0;
    case BPT_ABI_ARRAY:
        memset(w, 0, sizeof(w));
        for (unsigned b = 0; b < 8; b++) {
            w[31 - b] = (uint8_t)((uint64_t)v->n >> (8 * b));
        }
        BPT_CHECK(bpt_buf_append(out, w, 32));
        return encode_list(out, NULL, t->elem, v->items, v->n);
    case BPT_ABI_FIXED_ARRAY:
    case BPT_ABI_TUPLE:
        if (v->n != t->size) {
            return bpt_err(BPT_EINVAL, "abi: %zu values for %zu items", v->n, t->size);
        }
        return encode_list(out, (const struct bpt_abi_type *const *)t->items,
                           t->kind == BPT_ABI_FIXED_ARRAY ? t->elem : NULL, v->items, v->n);
    }
    return bpt_err(BPT_EINVAL, "abi: unknown kind");
out:
    return rc;
}

int bpt_abi_encode(bpt_buf *out, const struct bpt_abi_type *t, const struct bpt_abi_value *v)
{
    size_t before = out->len;
    int rc = encode_value(out, t, v);
    if (rc < 0) {
        out->len = before;
    }
    return rc;
}

void bpt_abi_set_uint(struct bpt_abi_value *v, uint64_t x)
{
    memset(v, 0, sizeof(*v));
    for (unsigned b = 0; b < 8; b++) {
        v->word[31 - b] = (uint8_t)(x >> (8 * b));
    }
}

void bpt_abi_set_address(struct bpt_abi_value *v, const uint8_t addr[20])
{
    memset(v, 0, sizeof(*v));
    memcpy(v->word + 12, addr, 20);
}

void bpt_abi_set_bool(struct bpt_abi_value *v, bool b)
{
    memset(v, 0, sizeof(*v));
    v->word[31] = b ? 1 : 0;
}

void bpt_abi_set_bytes(struct bpt_abi_value *v, const void *p, size_t n)
{
    memset(v, 0, sizeof(*v));
    v->data = p;
    v->len = n;
}

void bpt_abi_set_list(struct bpt_abi_value *v, struct bpt_abi_value *items, size_t n)
{
    memset(v, 0, sizeof(*v));
    v->items = items;
    v->n = n;
}

bool bpt_abi_word_u64(uint64_t *out, const uint8_t w[32])
{
    uint64_t x = 0;
    for (unsigned i = 0; i < 24; i++) {
        if (w[i]) {
            return false;
        }
    }
    for (unsigned i = 24; i < 32; i++) {
        x = (x << 8) | w[i];
    }
    *out = x;
    return true;
}

int bpt_abi_get_u64(uint64_t *out, const struct bpt_abi_value *v, const char *what)
{
    if (!bpt_abi_word_u64(out, v->word)) {
        return bpt_err(BPT_EMALFORMED, "abi: %s does not fit 64 bits", what);
    }
    return 0;
}

void bpt_abi_get_address(uint8_t out[20], const struct bpt_abi_value *v)
{
    memcpy(out, v->word + 12, 20);
}

void bpt_abi_selector(uint8_t out[4], const char *signature)
{
    uint8_t h[32];
    bpt_keccak256(h, signature, strlen(signature));
    memcpy(out, h, 4);
}

int bpt_abi_calldata(bpt_buf *out, const char *signature, struct bpt_abi_value *args, size_t n)
{
    const char *open = strchr(signature, '(');
    struct bpt_abi_type *t = NULL;
    struct bpt_abi_value tuple;
    uint8_t sel[4];
    size_t before = out->len;
    int rc;
    if (!open) {
        return bpt_err(BPT_EINVAL, "abi: '%.80s' is not a function signature", signature);
    }
    BPT_CHECK(bpt_abi_type_parse(&t, open));
    if (t->kind != BPT_ABI_TUPLE) {
        rc = bpt_err(BPT_EINVAL, "abi: '%.80s' is not a function signature", signature);
        goto out;
    }
    bpt_abi_selector(sel, signature);
    bpt_abi_set_list(&tuple, args, n);
    BPT_CHECK(bpt_buf_append(out, sel, 4));
    BPT_CHECK(bpt_abi_encode(out, t, &tuple));
out:
    if (rc < 0) {
        out->len = before;
    }
    bpt_abi_type_free(t);
    return rc;
}
