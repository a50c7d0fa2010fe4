/*
 * The secret store: named bpt_secret entries under one mutex. Values never leave secure memory
 * except as copies into new bpt_secret objects. The first writer of a name wins unless the
 * store was told to replace; a batch is checked whole before any of it is stored, so a
 * delivery is stored all or nothing.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <blueprint-tee/exchange.h>

#include "core/err.h"
#include "core/util.h"

struct entry {
    char *name;
    bpt_secret *value;
};

struct bpt_kx_store {
    pthread_mutex_t mu;
    bpt_kx_store_policy policy;
    struct entry e[BPT_KX_STORE_MAX_NAMES];
    size_t n;
};

bool bpt_kx_name_is_valid(const char *name)
{
    size_t n = 0;
    if (name == NULL) {
        return false;
    }
    for (; name[n] != '\0'; n++) {
        char c = name[n];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        if (!ok || n >= BPT_KX_NAME_MAX) {
            return false;
        }
    }
    return n > 0;
}

int bpt_kx_store_new(bpt_kx_store **out)
{
    if (out == NULL) {
        return bpt_err(BPT_EINVAL, "kx: store_new: NULL out");
    }
    *out = calloc(1, sizeof(**out));
    if (*out == NULL) {
        return bpt_err_nomem("kx: store");
    }
    pthread_mutex_init(&(*out)->mu, NULL);
    return 0;
}

void bpt_kx_store_free(bpt_kx_store *st)
{
    if (st == NULL) {
        return;
    }
    for (size_t i = 0; i < st->n; i++) {
        free(st->e[i].name);
        bpt_secret_free(st->e[i].value);
    }
    pthread_mutex_destroy(&st->mu);
    free(st);
}

void bpt_kx_store_set_policy(bpt_kx_store *st, bpt_kx_store_policy policy)
{
    if (st == NULL) {
        return;
    }
    pthread_mutex_lock(&st->mu);
    st->policy = policy == BPT_KX_STORE_REPLACE ? BPT_KX_STORE_REPLACE : BPT_KX_STORE_FIRST_WRITER;
    pthread_mutex_unlock(&st->mu);
}

/* Index of @p name (lock held), st->n when absent. */
static size_t find_locked(const bpt_kx_store *st, const char *name)
{
    size_t i = 0;
    while (i < st->n && strcmp(st->e[i].name, name) != 0) {
        i++;
    }
    return i;
}

int bpt_kx_store_put_all(bpt_kx_store *st, const char *const *names, bpt_secret **secrets, size_t n)
{
    int rc = BPT_ERROR;
    char **copies = NULL;
    size_t fresh = 0;
    bool locked = false;

    if (st == NULL || (n > 0 && (names == NULL || secrets == NULL))) {
        return bpt_err(BPT_EINVAL, "kx: store_put: NULL argument");
    }
    if (n > BPT_KX_STORE_MAX_NAMES) {
        return bpt_err(BPT_ELIMIT, "kx: secret store is full (%d names)", BPT_KX_STORE_MAX_NAMES);
    }
    for (size_t i = 0; i < n; i++) {
        if (secrets[i] == NULL || !bpt_kx_name_is_valid(names[i])) {
            return bpt_err(BPT_EINVAL,
                           "kx: store_put: entry %zu: a name is 1..%d bytes of [A-Za-z0-9._-] "
                           "with a value",
                           i, BPT_KX_NAME_MAX);
        }
        for (size_t k = 0; k < i; k++) {
            if (strcmp(names[k], names[i]) == 0) {
                return bpt_err(BPT_EINVAL, "kx: store_put: name '%s' repeats", names[i]);
            }
        }
    }
    copies = calloc(n > 0 ? n : 1, sizeof(*copies));
    if (copies == NULL) {
        return bpt_err_nomem("kx: store");
    }
    for (size_t i = 0; i < n; i++) {
        BPT_CHECK(bpt_strdup(&copies[i], names[i]));
    }
    pthread_mutex_lock(&st->mu);
    locked = true;
    /* check everything first: nothing is stored unless all of it can be */
    for (size_t i = 0; i < n; i++) {
        if (find_locked(st, names[i]) == st->n) {
            fresh++;
        } else if (st->policy != BPT_KX_STORE_REPLACE) {
            rc = bpt_err(BPT_EEXISTS,
                         "kx: a secret named '%s' is stored already (first writer "
                         "wins)",
                         names[i]);
            goto out;
        }
    }
    if (fresh > BPT_KX_STORE_MAX_NAMES - st->n) {
        rc = bpt_err(BPT_ELIMIT, "kx: secret store is full (%d names)", BPT_KX_STORE_MAX_NAMES);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        size_t k = find_locked(st, names[i]);
        if (k < st->n) {
            bpt_secret_free(st->e[k].value);
            free(st->e[k].name);
        } else {
            st->n++;
        }
        st->e[k].name = copies[i];
        st->e[k].value = secrets[i];
        copies[i] = NULL;
        secrets[i] = NULL;
    }
    rc = 0;
out:
    if (locked) {
        pthread_mutex_unlock(&st->mu);
    }
    for (size_t i = 0; i < n; i++) {
        free(copies[i]);
    }
    free(copies);
    return rc;
}

int bpt_kx_store_put(bpt_kx_store *st, const char *name, bpt_secret *secret)
{
    if (st == NULL || name == NULL || secret == NULL) {
        return bpt_err(BPT_EINVAL, "kx: store_put: NULL argument");
    }
    return bpt_kx_store_put_all(st, &name, &secret, 1);
}

int bpt_kx_store_get(bpt_secret **out, bpt_kx_store *st, const char *name)
{
    int rc = BPT_ENOTFOUND;
    if (out == NULL || st == NULL || name == NULL) {
        return bpt_err(BPT_EINVAL, "kx: store_get: NULL argument");
    }
    *out = NULL;
    pthread_mutex_lock(&st->mu);
    size_t i = find_locked(st, name);
    if (i < st->n) {
        rc = bpt_secret_from(out, bpt_secret_data(st->e[i].value), bpt_secret_len(st->e[i].value));
    }
    pthread_mutex_unlock(&st->mu);
    if (rc == BPT_ENOTFOUND) {
        return bpt_err(BPT_ENOTFOUND, "kx: no secret named '%s'", name);
    }
    return rc;
}

size_t bpt_kx_store_count(bpt_kx_store *st)
{
    pthread_mutex_lock(&st->mu);
    size_t n = st->n;
    pthread_mutex_unlock(&st->mu);
    return n;
}
