/* The router: routes, layers in order around the handler, and every failure as an error result. */
#include "helpers/test.h"

static int echo(const bpt_job_call *call, bpt_job_result *res, const bpt_tee_context *tee, void *ud)
{
    size_t n = 0;
    const uint8_t *b = bpt_job_call_body(call, &n);
    (void)tee;
    (void)ud;
    return bpt_job_result_set_body(res, b, n);
}

static int fails(const bpt_job_call *call, bpt_job_result *res, const bpt_tee_context *tee,
                 void *ud)
{
    (void)call, (void)res, (void)tee, (void)ud;
    return bpt_error_set(BPT_EINVAL, "input must be 4 bytes");
}

/* A layer that records its name around the rest of the chain into the result's metadata. */
struct trace {
    const char *name;
};

static int tracing(const bpt_job_call *call, bpt_job_result *res, const bpt_tee_context *tee,
                   const bpt_job_next *next, void *state)
{
    struct trace *t = state;
    char key[32];
    int rc;
    rc = bpt_job_next_call(next, call, res, tee);
    if (rc == 0 && bpt_job_result_is_ok(res)) {
        snprintf(key, sizeof(key), "order.%zu", bpt_job_result_meta_count(res));
        rc = bpt_job_result_meta_set(res, key, t->name);
    }
    return rc;
}

static int refusing(const bpt_job_call *call, bpt_job_result *res, const bpt_tee_context *tee,
                    const bpt_job_next *next, void *state)
{
    (void)call, (void)res, (void)tee, (void)next, (void)state;
    return bpt_error_set(BPT_EBUSY, "concurrency limit reached");
}

static void test_routes_and_layers(void **state)
{
    bpt_router *r = NULL;
    bpt_job_call *c = NULL;
    bpt_job_result *res = NULL;
    struct trace inner = {"inner"}, outer = {"outer"};
    bpt_layer lo = {BPT_LAYER_VERSION, "outer", tracing, &outer};
    bpt_layer li = {BPT_LAYER_VERSION, "inner", tracing, &inner};
    size_t n = 0;
    (void)state;
    assert_ok(bpt_router_new(&r));
    assert_ok(bpt_router_route(r, 1, echo, NULL));
    assert_ok(bpt_router_route(r, 2, fails, NULL));
    assert_true(bpt_router_has_route(r, 1));
    assert_false(bpt_router_has_route(r, 3));
    assert_ok(bpt_router_add_layer(r, &lo));
    assert_ok(bpt_router_add_layer(r, &li));

    assert_ok(bpt_job_call_new(&c, 1, 1, 1, (const uint8_t *)"abcd", 4));
    assert_ok(bpt_job_result_new(&res));
    assert_ok(bpt_router_dispatch(r, c, res, NULL));
    assert_true(bpt_job_result_is_ok(res));
    assert_memory_equal(bpt_job_result_body(res, &n), "abcd", 4);
    /* The first layer added is the outermost: the inner one finishes first. */
    assert_string_equal(bpt_job_result_meta_get(res, "order.0"), "inner");
    assert_string_equal(bpt_job_result_meta_get(res, "order.1"), "outer");
    bpt_job_call_free(c);
    bpt_job_result_free(res);

    /* A handler's failure is an error result with its code's name and message. */
    assert_ok(bpt_job_call_new(&c, 1, 2, 2, NULL, 0));
    assert_ok(bpt_job_result_new(&res));
    assert_ok(bpt_router_dispatch(r, c, res, NULL));
    assert_string_equal(bpt_job_result_error_code(res), "invalid_argument");
    assert_non_null(strstr(bpt_job_result_error_message(res), "input must be 4 bytes"));
    bpt_job_call_free(c);
    bpt_job_result_free(res);

    /* An unknown job index is an error result, never a crash. */
    assert_ok(bpt_job_call_new(&c, 1, 3, 200, NULL, 0));
    assert_ok(bpt_job_result_new(&res));
    assert_ok(bpt_router_dispatch(r, c, res, NULL));
    assert_string_equal(bpt_job_result_error_code(res), "unknown_job");
    assert_non_null(strstr(bpt_job_result_error_message(res), "job 200"));
    bpt_job_call_free(c);
    bpt_job_result_free(res);

    /* Frozen by dispatch. */
    assert_rc_msg(bpt_router_route(r, 4, echo, NULL), BPT_EBUSY, "before the first dispatch");
    assert_rc_msg(bpt_router_add_layer(r, &lo), BPT_EBUSY, "before the first dispatch");
    assert_rc_msg(bpt_router_dispatch(r, NULL, NULL, NULL), BPT_EINVAL, "dispatch needs");
    bpt_router_free(r);
    bpt_router_free(NULL);
}

static void test_layer_failure_and_rules(void **state)
{
    bpt_router *r = NULL;
    bpt_job_call *c = NULL;
    bpt_job_result *res = NULL;
    bpt_layer bad = {BPT_LAYER_VERSION + 1, "bad", refusing, NULL};
    bpt_layer busy = {BPT_LAYER_VERSION, "limit", refusing, NULL};
    (void)state;
    assert_ok(bpt_router_new(&r));
    assert_rc_msg(bpt_router_route(r, 0, NULL, NULL), BPT_EINVAL, "no handler");
    assert_rc_msg(bpt_router_add_layer(r, &bad), BPT_EINVAL, "version");
    for (int i = 0; i < 16; i++) {
        assert_ok(bpt_router_add_layer(r, &busy));
    }
    assert_rc_msg(bpt_router_add_layer(r, &busy), BPT_ELIMIT, "at most 16 layers");
    assert_ok(bpt_router_route(r, 0, echo, NULL));
    assert_ok(bpt_job_call_new(&c, 1, 1, 0, NULL, 0));
    assert_ok(bpt_job_result_new(&res));
    assert_ok(bpt_router_dispatch(r, c, res, NULL));
    assert_string_equal(bpt_job_result_error_code(res), "busy");
    assert_non_null(strstr(bpt_job_result_error_message(res), "limit: concurrency limit"));
    bpt_job_call_free(c);
    bpt_job_result_free(res);
    bpt_router_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_routes_and_layers),
        cmocka_unit_test(test_layer_failure_and_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
