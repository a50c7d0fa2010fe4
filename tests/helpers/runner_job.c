/* One job through a runner, waited for (runner_job.h). */
#include "helpers/runner_job.h"

#include "helpers/test.h"

#include <pthread.h>

struct waiter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
    struct bpt_test_job *out;
};

static void on_done(const bpt_job_call *call, const bpt_job_result *res, void *ud)
{
    struct waiter *w = ud;
    struct bpt_test_job *r = w->out;
    const char *d = bpt_job_result_meta_get(res, "tee.attestation.digest");
    const char *p = bpt_job_result_meta_get(res, "tee.provider");
    size_t n = 0;
    const uint8_t *b = bpt_job_result_body(res, &n);
    (void)call;
    pthread_mutex_lock(&w->mu);
    snprintf(r->code, sizeof(r->code), "%s",
             bpt_job_result_is_ok(res) ? "ok" : bpt_job_result_error_code(res));
    snprintf(r->message, sizeof(r->message), "%s",
             bpt_job_result_is_ok(res) ? "" : bpt_job_result_error_message(res));
    snprintf(r->body, sizeof(r->body), "%.*s", (int)(n < 200 ? n : 200), b ? (const char *)b : "");
    snprintf(r->digest, sizeof(r->digest), "%s", d ? d : "");
    snprintf(r->provider, sizeof(r->provider), "%s", p ? p : "");
    w->done = 1;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

void bpt_test_runner_job(bpt_runner *run, uint8_t index, const char *body, struct bpt_test_job *out)
{
    struct waiter w = {.out = out};
    bpt_job_call *c = NULL;
    memset(out, 0, sizeof(*out));
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cv, NULL);
    assert_ok(bpt_job_call_new(&c, 1, 1, index, (const uint8_t *)body, strlen(body)));
    assert_ok(bpt_runner_submit(run, c, on_done, &w));
    pthread_mutex_lock(&w.mu);
    while (!w.done) {
        pthread_cond_wait(&w.cv, &w.mu);
    }
    pthread_mutex_unlock(&w.mu);
    pthread_mutex_destroy(&w.mu);
    pthread_cond_destroy(&w.cv);
}
