/*
 * The secret store: named bpt_secret entries under one mutex. Values never leave secure memory
 * except as copies into new bpt_secret objects.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <blueprint-tee/exchange.h>

#include "core/err.h"
#include "core/limits.h"
#include "core/util.h"

struct entry {
    char *name;
    bpt_secret *value;
};

struct bpt_kx_store {
    pthread_mutex_t mu;
    struct entry e[BPT_LIMIT_LIST_ENTRIES];
    size_t n;
};

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

int bpt_kx_store_put(bpt_kx_store *st, const char *name, bpt_secret *secret)
{
    int rc = BPT_ERROR;
    char *copy = NULL;

    if (st == NULL || name == NULL || name[0] == '\0' || secret == NULL) {
        return bpt_err(BPT_EINVAL, "kx: store_put: NULL argument or empty name");
    }
    BPT_CHECK(bpt_strdup(&copy, name));
    pthread_mutex_lock(&st->mu);
    size_t i = 0;
    while (i < st->n && strcmp(st->e[i].name, name) != 0) {
        i++;
    }
    if (i < st->n) {
        bpt_secret_free(st->e[i].value);
        free(st->e[i].name);
    } else if (st->n == BPT_LIMIT_LIST_ENTRIES) {
        pthread_mutex_unlock(&st->mu);
        rc = bpt_err(BPT_ELIMIT, "kx: secret store is full (%u names)", BPT_LIMIT_LIST_ENTRIES);
        goto out;
    } else {
        st->n++;
    }
    st->e[i].name = copy;
    st->e[i].value = secret;
    copy = NULL;
    pthread_mutex_unlock(&st->mu);
    rc = 0;
out:
    free(copy);
    return rc;
}

int bpt_kx_store_get(bpt_secret **out, bpt_kx_store *st, const char *name)
{
    int rc = BPT_ENOTFOUND;
    if (out == NULL || st == NULL || name == NULL) {
        return bpt_err(BPT_EINVAL, "kx: store_get: NULL argument");
    }
    *out = NULL;
    pthread_mutex_lock(&st->mu);
    for (size_t i = 0; i < st->n; i++) {
        if (strcmp(st->e[i].name, name) == 0) {
            rc = bpt_secret_from(out, bpt_secret_data(st->e[i].value),
                                 bpt_secret_len(st->e[i].value));
            break;
        }
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
