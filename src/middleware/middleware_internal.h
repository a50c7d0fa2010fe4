/* The middleware's structs, shared by its files (middleware.h is the public side). */
#ifndef BPT_MIDDLEWARE_INTERNAL_H
#define BPT_MIDDLEWARE_INTERNAL_H

#include <blueprint-tee/middleware.h>

#include <stdarg.h>

/* Grown on demand (most results carry none): keys[i] / values[i] for i < n. */
struct bpt_job_meta {
    char **keys, **values;
    size_t n, cap;
};

struct bpt_job_call {
    uint64_t service_id, call_id;
    uint8_t job_index;
    bool has_caller;
    uint8_t caller[20];
    uint8_t *body;
    size_t body_len;
    struct bpt_job_meta meta;
};

/* The TeeLayer's three entries, kept apart from the handler's metadata and read as if they
 * followed it: copied in one go from a snapshot, so a result holds all three or none. */
#define BPT_STAMP_KEYS 3
struct bpt_job_stamp {
    bool set;
    char digest[65];
    char provider[64];
    char measurement[16 + 1 + 2 * BPT_MEASUREMENT_MAX_BYTES + 1];
};

struct bpt_job_result {
    bool is_error;
    uint8_t *body;
    size_t body_len;
    struct bpt_job_meta meta;
    struct bpt_job_stamp stamp;
    char code[65];
    char *message; /* error results only */
};

BPT_MUST_USE int bpt_job_meta_set(struct bpt_job_meta *m, const char *key, const char *value);
const char *bpt_job_meta_get(const struct bpt_job_meta *m, const char *key);
bool bpt_job_meta_at(const struct bpt_job_meta *m, size_t i, const char **key, const char **value);
void bpt_job_meta_clear(struct bpt_job_meta *m);
/** Drop every entry whose key starts with @p prefix (the reserved "tee."). */
void bpt_job_meta_drop_prefix(struct bpt_job_meta *m, const char *prefix);

/** Make @p r an error result (code checked; "internal" when it is not a code). */
void bpt_job_result_error(bpt_job_result *r, const char *code, const char *fmt, ...)
    BPT_PRINTF(3, 4);
void bpt_job_result_error_v(bpt_job_result *r, const char *code, const char *fmt, va_list ap)
    BPT_PRINTF(3, 0);

#endif
