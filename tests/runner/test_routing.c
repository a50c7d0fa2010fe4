/*
 * Hybrid routing: mode hybrid starts (auto's probe), the routing file (stricter, never looser
 * than the chain's rule), each rule's refusal naming itself, a tee_required job never run
 * plainly and a standard_required one never in a TEE, contract_driven without a chain source.
 * The chain's rule itself comes from runner/chain_run (ganache); here it is set through the
 * routing object the chain source uses. Where each rule places a job when the runner has a
 * runtime deployment (the placement itself runs on runc: runner/placement).
 */
#include "helpers/runner_job.h"
#include "helpers/sim_fixture.h"
#include "helpers/test.h"

#include "runner/routing.h"
#include "runner/runner_internal.h"

static struct bpt_sim_fixture sim;
static char *tmp;

static int setup(void **state)
{
    (void)state;
    tmp = bpt_test_tmpdir();
    return bpt_sim_fixture_init(&sim);
}

static int teardown(void **state)
{
    (void)state;
    bpt_sim_fixture_dispose(&sim);
    bpt_test_rmtree(tmp);
    free(tmp);
    return 0;
}

static void write_text(const char *path, const char *text)
{
    bpt_test_write_file(path, text, strlen(text));
}

static int echo(const bpt_job_call *call, bpt_job_result *result, const bpt_tee_context *tee,
                void *ud)
{
    size_t n;
    const uint8_t *b = bpt_job_call_body(call, &n);
    (void)tee;
    (void)ud;
    return bpt_job_result_set_body(result, b, n);
}

static bpt_config *hybrid(const char *routing_json)
{
    char text[8192];
    bpt_config *c = NULL;
    snprintf(text, sizeof(text), "{\"mode\":\"hybrid\",\"hybrid_routing_source\":%s}",
             routing_json);
    assert_ok(bpt_config_load_json(&c, text, strlen(text)));
    return c;
}

static bpt_runner *runner(const bpt_config *c, bpt_router *rt, bool tee)
{
    bpt_runner *r = NULL;
    bpt_runner_opts o = BPT_RUNNER_OPTS_INIT;
    o.root = tmp; /* no TEE device under it */
    if (tee) {
        o.simulate = BPT_PROVIDER_AMD_SEV_SNP;
        o.sim_dir = sim.dir;
    }
    assert_ok(bpt_runner_new(&r, c));
    assert_ok(bpt_runner_set_options(r, &o));
    assert_ok(bpt_runner_set_router(r, rt));
    return r;
}

static void test_routing_file_in_hybrid_mode(void **state)
{
    char file[4200], json[4300];
    bpt_router *rt = NULL;
    bpt_config *c;
    bpt_runner *r;
    struct bpt_test_job res;
    (void)state;
    snprintf(file, sizeof(file), "%s/routing.json", tmp);
    write_text(file, "{\"jobs\":{\"0\":\"tee\",\"1\":\"standard\"}}");
    snprintf(json, sizeof(json), "{\"policy_file\":\"%s\"}", file);
    c = hybrid(json);
    assert_ok(bpt_router_new(&rt));
    for (uint8_t i = 0; i < 3; i++) {
        assert_ok(bpt_router_route(rt, i, echo, NULL));
    }
    /* no TEE: job 0 (tee) refused, never run plainly; 1 and 2 run */
    r = runner(c, rt, false);
    assert_ok(bpt_runner_start(r));
    bpt_test_runner_job(r, 0, "x", &res);
    assert_string_equal(res.code, "routing_refused");
    assert_non_null(strstr(res.message, "job 0 is tee_required (the routing file"));
    bpt_test_runner_job(r, 1, "x", &res);
    assert_string_equal(res.code, "ok");
    bpt_test_runner_job(r, 2, "x", &res);
    assert_string_equal(res.code, "ok");
    bpt_runner_free(r);
    /* a TEE: job 0 runs in it, job 1 (standard) refused */
    r = runner(c, rt, true);
    assert_ok(bpt_runner_start(r));
    bpt_test_runner_job(r, 0, "x", &res);
    assert_string_equal(res.code, "ok");
    bpt_test_runner_job(r, 1, "x", &res);
    assert_string_equal(res.code, "routing_refused");
    assert_non_null(strstr(res.message, "job 1 is standard_required"));
    assert_non_null(strstr(res.message, "runs in a TEE"));
    bpt_runner_free(r);
    bpt_config_free(c);
    bpt_router_free(rt);
}

static void test_routing_file_refusals(void **state)
{
    static const struct {
        const char *text, *msg;
        int code;
    } cases[] = {
        {"{\"jobs\":{\"300\":\"tee\"}}", "not an index 0..255", BPT_EINVAL},
        {"{\"jobs\":{\"0\":\"gpu\"}}", "want tee or standard", BPT_EINVAL},
        {"{\"jobs\":{\"+1\":\"tee\"}}", "'+1' is not an index 0..255", BPT_EINVAL},
        {"{\"jobs\":{\" 1\":\"tee\"}}", "' 1' is not an index 0..255", BPT_EINVAL},
        {"{\"jobs\":{\"0\":1}}", "job 0: not a string, want tee or standard", BPT_EINVAL},
        {"{\"jobs\":{},\"default\":\"tee\"}", "default", BPT_EINVAL},
        {"[]", "routing", BPT_EINVAL},
    };
    char file[4200], json[4300];
    bpt_router *rt = NULL;
    (void)state;
    assert_ok(bpt_router_new(&rt));
    assert_ok(bpt_router_route(rt, 0, echo, NULL));
    snprintf(file, sizeof(file), "%s/bad-routing.json", tmp);
    snprintf(json, sizeof(json), "{\"policy_file\":\"%s\"}", file);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bpt_config *c = hybrid(json);
        bpt_runner *r = runner(c, rt, false);
        int rc;
        bpt_test_write_file(file, cases[i].text, strlen(cases[i].text));
        rc = bpt_runner_start(r);
        if (rc >= 0 || !strstr(bpt_error_last(), cases[i].msg)) {
            fail_msg("%s: rc %d '%s', want '%s'", cases[i].text, rc, bpt_error_last(),
                     cases[i].msg);
        }
        bpt_runner_free(r);
        bpt_config_free(c);
    }
    /* a missing file: hybrid routing from a file that is not there fails closed */
    {
        bpt_config *c = hybrid("{\"policy_file\":\"/no/such/routing.json\"}");
        bpt_runner *r = runner(c, rt, false);
        assert_rc_msg(bpt_runner_start(r), BPT_ENOTFOUND, "routing");
        bpt_runner_free(r);
        bpt_config_free(c);
    }
    /* contract_driven without a chain source */
    {
        bpt_config *c = hybrid("\"contract_driven\"");
        bpt_runner *r = runner(c, rt, false);
        assert_rc_msg(bpt_runner_start(r), BPT_EINVAL, "no chain source");
        bpt_runner_free(r);
        bpt_config_free(c);
    }
    bpt_router_free(rt);
}

static void test_file_stricter_never_looser(void **state)
{
    struct bpt_routing rt;
    char file[4200];
    (void)state;
    snprintf(file, sizeof(file), "%s/r.json", tmp);
    write_text(file, "{\"jobs\":{\"0\":\"tee\",\"1\":\"standard\"}}");
    /* standard on a job the chain wants in a TEE: looser, refused */
    bpt_routing_init(&rt);
    assert_ok(bpt_routing_load_file(&rt, file));
    assert_rc_msg(bpt_routing_set_chain(&rt, BPT_CONFIDENTIALITY_TEE_PREFERRED, "the chain"),
                  BPT_EUNSATISFIABLE, "stricter, never looser");
    assert_rc_msg(bpt_routing_set_chain(&rt, BPT_CONFIDENTIALITY_TEE_REQUIRED, "the chain"),
                  BPT_EUNSATISFIABLE, "says standard for job 1");
    assert_rc_msg(bpt_routing_set_chain(&rt, BPT_CONFIDENTIALITY_STANDARD_REQUIRED, "the chain"),
                  BPT_EUNSATISFIABLE, "says tee for job 0 but the chain says standard_required");
    /* any: the file tightens */
    assert_ok(bpt_routing_set_chain(&rt, BPT_CONFIDENTIALITY_ANY, "the chain"));
    assert_rc_msg(bpt_routing_decide(&rt, 0, false, false, NULL, 0), BPT_EUNSATISFIABLE,
                  "job 0 is tee_required");
    assert_ok(bpt_routing_decide(&rt, 0, true, false, NULL, 0));
    assert_ok(bpt_routing_decide(&rt, 2, false, false, NULL, 0));
    assert_ok(bpt_routing_decide(&rt, 2, true, false, NULL, 0));
    bpt_routing_dispose(&rt);
    /* the chain alone */
    bpt_routing_init(&rt);
    assert_ok(bpt_routing_set_chain(&rt, BPT_CONFIDENTIALITY_TEE_REQUIRED, "blueprint 4"));
    assert_rc_msg(bpt_routing_decide(&rt, 9, false, false, NULL, 0), BPT_EUNSATISFIABLE,
                  "job 9 is tee_required (blueprint 4)");
    assert_ok(bpt_routing_decide(&rt, 9, true, false, NULL, 0));
    assert_ok(bpt_routing_set_chain(&rt, BPT_CONFIDENTIALITY_STANDARD_REQUIRED, "blueprint 5"));
    assert_rc_msg(bpt_routing_decide(&rt, 9, true, false, NULL, 0), BPT_EUNSATISFIABLE,
                  "job 9 is standard_required (blueprint 5)");
    assert_ok(bpt_routing_set_chain(&rt, BPT_CONFIDENTIALITY_TEE_PREFERRED, "blueprint 6"));
    assert_ok(bpt_routing_decide(&rt, 9, false, false, NULL, 0));
    assert_ok(bpt_routing_decide(&rt, 9, true, false, NULL, 0));
    bpt_routing_dispose(&rt);
}

/* With a runtime deployment: where each rule places a job, and what never moves. */
static void test_deployment_placement(void **state)
{
    struct bpt_routing rt;
    char file[4200], why[320];
    (void)state;
    snprintf(file, sizeof(file), "%s/r2.json", tmp);
    write_text(file, "{\"jobs\":{\"0\":\"tee\",\"1\":\"standard\"}}");
    bpt_routing_init(&rt);
    assert_ok(bpt_routing_load_file(&rt, file));
    /* tee (the file): the deployment without a TEE here; here with one */
    assert_int_equal(bpt_routing_decide(&rt, 0, false, true, why, sizeof(why)),
                     BPT_PLACE_DEPLOYMENT);
    assert_non_null(strstr(why, "the routing file"));
    assert_int_equal(bpt_routing_decide(&rt, 0, true, true, NULL, 0), BPT_PLACE_HERE);
    /* no deployment and no TEE: refused, saying there is neither */
    assert_rc_msg(bpt_routing_decide(&rt, 0, false, false, NULL, 0), BPT_EUNSATISFIABLE,
                  "no attested TEE and no runtime deployment");
    /* standard: never the deployment; refused in a TEE */
    assert_int_equal(bpt_routing_decide(&rt, 1, false, true, NULL, 0), BPT_PLACE_HERE);
    assert_rc_msg(bpt_routing_decide(&rt, 1, true, true, NULL, 0), BPT_EUNSATISFIABLE,
                  "job 1 is standard_required");
    /* any: here */
    assert_int_equal(bpt_routing_decide(&rt, 2, false, true, NULL, 0), BPT_PLACE_HERE);
    bpt_routing_dispose(&rt);
    /* the chain's rules */
    bpt_routing_init(&rt);
    assert_ok(bpt_routing_set_chain(&rt, BPT_CONFIDENTIALITY_TEE_REQUIRED, "blueprint 4"));
    assert_int_equal(bpt_routing_decide(&rt, 9, false, true, why, sizeof(why)),
                     BPT_PLACE_DEPLOYMENT);
    assert_string_equal(why, "blueprint 4");
    assert_ok(bpt_routing_set_chain(&rt, BPT_CONFIDENTIALITY_TEE_PREFERRED, "blueprint 6"));
    assert_int_equal(bpt_routing_decide(&rt, 9, false, true, NULL, 0),
                     BPT_PLACE_DEPLOYMENT_PREFERRED);
    assert_int_equal(bpt_routing_decide(&rt, 9, true, true, NULL, 0), BPT_PLACE_HERE);
    assert_int_equal(bpt_routing_decide(&rt, 9, false, false, NULL, 0), BPT_PLACE_HERE);
    assert_ok(bpt_routing_set_chain(&rt, BPT_CONFIDENTIALITY_STANDARD_REQUIRED, "blueprint 5"));
    assert_int_equal(bpt_routing_decide(&rt, 9, false, true, NULL, 0), BPT_PLACE_HERE);
    assert_ok(bpt_routing_set_chain(&rt, BPT_CONFIDENTIALITY_ANY, "blueprint 7"));
    assert_int_equal(bpt_routing_decide(&rt, 9, false, true, NULL, 0), BPT_PLACE_HERE);
    bpt_routing_dispose(&rt);
}

/* A runner with a deployment: tee_required from the chain is served (not refused at start);
 * set_deployment's own checks. */
static void test_runner_with_deployment(void **state)
{
    bpt_runtime_options o = BPT_RUNTIME_OPTIONS_INIT;
    bpt_runtime *rtm = NULL;
    bpt_router *router = NULL;
    bpt_config *c = NULL;
    bpt_runner *r = NULL;
    char dir[4200];
    (void)state;
    snprintf(dir, sizeof(dir), "%s/state", tmp);
    o.state_dir = dir;
    o.oci_runtime = "/bin/true"; /* nothing is deployed here */
    assert_ok(bpt_runtime_new(&rtm, &o));
    {
        char file[4200], json[4300];
        snprintf(file, sizeof(file), "%s/empty-routing.json", tmp);
        write_text(file, "{\"jobs\":{}}");
        snprintf(json, sizeof(json), "{\"policy_file\":\"%s\"}", file);
        c = hybrid(json);
    }
    assert_ok(bpt_router_new(&router));
    assert_ok(bpt_router_route(router, 0, echo, NULL));
    /* without a deployment the chain's tee_required is refused (no TEE here) */
    r = runner(c, router, false);
    assert_ok(bpt_runner_start(r));
    assert_rc_msg(bpt_runner_require(r, BPT_CONFIDENTIALITY_TEE_REQUIRED, "blueprint 4"),
                  BPT_EUNSATISFIABLE, "no runtime deployment (--deployment)");
    bpt_runner_free(r);
    r = runner(c, router, false);
    assert_rc_msg(bpt_runner_set_deployment(r, rtm, "Not/An/Id"), BPT_EINVAL, "deployment id");
    assert_rc_msg(bpt_runner_set_deployment(NULL, rtm, "x"), BPT_EINVAL, "NULL");
    assert_ok(bpt_runner_set_deployment(r, rtm, "0123456789abcdef"));
    assert_rc_msg(bpt_runner_set_deployment(r, rtm, "0123456789abcdef"), BPT_EBUSY, "already");
    assert_ok(bpt_runner_start(r));
    assert_rc_msg(bpt_runner_set_deployment(r, rtm, "x"), BPT_EBUSY, "before the runner starts");
    assert_ok(bpt_runner_require(r, BPT_CONFIDENTIALITY_TEE_REQUIRED, "blueprint 4"));
    bpt_runner_free(r);
    bpt_router_free(router);
    bpt_config_free(c);
    bpt_runtime_free(rtm);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_routing_file_in_hybrid_mode),
        cmocka_unit_test(test_routing_file_refusals),
        cmocka_unit_test(test_file_stricter_never_looser),
        cmocka_unit_test(test_deployment_placement),
        cmocka_unit_test(test_runner_with_deployment),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
