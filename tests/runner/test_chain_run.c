/*
 * `bpt run` with the Tangle source and sink, end to end against a real EVM node (ganache on
 * loopback, the Solidity stand-ins compiled by solc): jobs submitted on chain by a caller
 * account are picked up, run by an external handler, and their results land on chain through
 * submitResult signed by the operator key; `bpt run` killed (SIGKILL) mid-way and restarted
 * loses no job and lands no result twice; a blueprint whose profile says tee_required is refused
 * by a runner without a TEE (exit 1, naming the rule) and served by one with a (simulated) TEE,
 * which publishes its attestation to the service manager; `bpt chain profile` and `bpt chain
 * attestation-hash` read them back (the right attestation matches, a changed one exits 1).
 */
/* bpt-test-labels: loopback evm */
#include "helpers/evm.h"
#include "helpers/http_client.h"
#include "helpers/json_schema.h"
#include "helpers/proc.h"
#include "helpers/sim_fixture.h"
#include "helpers/test.h"

#include "chain/abi.h"
#include "chain/chain_internal.h"

#include <microhttpd.h>
#include <stdatomic.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define TEE_PROFILE "{\"execution_profile\":{\"confidentiality\":\"tee_required\"}}"

static struct bpt_test_evm evm;
static bool up;
static char why[512], *dir, key_file[4200], plain_cfg[4200], tee_cfg[4200], tangle_text[43],
    bsm_text[43], op_text[43];
static bpt_eth_address tangle, bsm;
static struct bpt_sim_fixture sim;

static void send_tx(const bpt_eth_address *to, unsigned from, const char *sig,
                    struct bpt_abi_value *a, size_t n)
{
    bpt_buf d = BPT_BUF_INIT(1 << 20);
    assert_ok(bpt_abi_calldata(&d, sig, a, n));
    assert_int_equal(bpt_test_evm_send(&evm, from, to, d.data, d.len, NULL), 0);
    bpt_buf_dispose(&d);
}

static void service(uint64_t id, uint64_t blueprint)
{
    struct bpt_abi_value a[5], ops[1], callers[1];
    bpt_abi_set_uint(&a[0], id);
    bpt_abi_set_uint(&a[1], blueprint);
    bpt_abi_set_uint(&a[2], 0);
    bpt_abi_set_address(&ops[0], evm.accounts[1].bytes);
    bpt_abi_set_list(&a[3], ops, 1);
    bpt_abi_set_address(&callers[0], evm.accounts[2].bytes);
    bpt_abi_set_list(&a[4], callers, 1);
    send_tx(&tangle, 0, "setService(uint64,uint64,uint8,address[],address[])", a, 5);
}

static void blueprint(uint64_t id, const char *profile)
{
    struct bpt_abi_value a[3];
    bpt_abi_set_uint(&a[0], id);
    bpt_abi_set_bytes(&a[1], "bp", 2);
    bpt_abi_set_bytes(&a[2], profile, strlen(profile));
    send_tx(&tangle, 0, "setBlueprint(uint64,string,string)", a, 3);
}

static int setup(void **state)
{
    struct bpt_abi_value arg, tuple;
    struct bpt_abi_type *t = NULL;
    bpt_buf d = BPT_BUF_INIT(64);
    (void)state;
    if (!(up = bpt_test_evm_start(&evm, why, sizeof(why)))) {
        return 0;
    }
    tangle = bpt_test_evm_deploy(&evm, "MockTangle", NULL, 0);
    bpt_abi_set_bool(&arg, true);
    bpt_abi_set_list(&tuple, &arg, 1);
    assert_ok(bpt_abi_type_parse(&t, "(bool)"));
    assert_ok(bpt_abi_encode(&d, t, &tuple));
    bpt_abi_type_free(t);
    bsm = bpt_test_evm_deploy(&evm, "MockSandboxBsm", d.data, d.len);
    bpt_buf_dispose(&d);
    blueprint(1, "");
    blueprint(2, TEE_PROFILE);
    service(7, 1);
    service(8, 2);
    service(10, 1);
    bpt_eth_address_format(tangle_text, &tangle);
    bpt_eth_address_format(bsm_text, &bsm);
    bpt_eth_address_format(op_text, &evm.accounts[1]);
    dir = bpt_test_tmpdir();
    snprintf(key_file, sizeof(key_file), "%s/operator.key", dir);
    bpt_test_write_file(key_file, BPT_TEST_EVM_KEYS[1], 64);
    chmod(key_file, 0600);
    snprintf(plain_cfg, sizeof(plain_cfg), "%s/plain.json", dir);
    bpt_test_write_file(plain_cfg, "{\"mode\":\"disabled\"}", 19);
    snprintf(tee_cfg, sizeof(tee_cfg), "%s/tee.json", dir);
    bpt_test_write_file(tee_cfg, "{\"mode\":\"direct\",\"requirement\":\"required\"}", 42);
    assert_int_equal(bpt_sim_fixture_init(&sim), 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (up) {
        bpt_test_evm_stop(&evm);
        bpt_test_rmtree(dir);
        free(dir);
        bpt_sim_fixture_dispose(&sim);
    }
    return 0;
}

static void schema(const char *name, const char *out)
{
    char path[4200], why_not[1024];
    snprintf(path, sizeof(path), "%s/docs/schemas/%s", getenv("BPT_SOURCE_DIR"), name);
    if (!bpt_json_schema_check_text(path, out, why_not, sizeof(why_not))) {
        fail_msg("%s: %s\n%s", name, why_not, out);
    }
}

#define NEED_NODE() BPT_TEST_EVM_NEED(up, why)

static void submit_job(uint64_t service_id, const char *body)
{
    struct bpt_abi_value a[3];
    bpt_abi_set_uint(&a[0], service_id);
    bpt_abi_set_uint(&a[1], 0);
    bpt_abi_set_bytes(&a[2], body, strlen(body));
    send_tx(&tangle, 2, "submitJob(uint64,uint8,bytes)", a, 3);
}

/* results(service, call) as text ("" while none). */
static char *result_of(uint64_t service_id, uint64_t call)
{
    struct bpt_abi_value a[2], *v = NULL;
    bpt_buf d = BPT_BUF_INIT(4096), ret = BPT_BUF_INIT(1 << 20);
    char *s;
    bpt_abi_set_uint(&a[0], service_id);
    bpt_abi_set_uint(&a[1], call);
    assert_ok(bpt_abi_calldata(&d, "results(uint64,uint64)", a, 2));
    assert_ok(bpt_chain_eth_call(&ret, NULL, evm.chain, NULL, &tangle, d.data, d.len, "latest"));
    assert_ok(bpt_abi_decode_text(&v, "(bytes)", ret.data, ret.len));
    s = strndup((const char *)v->items[0].data, v->items[0].len);
    bpt_abi_value_free(v);
    bpt_buf_dispose(&d);
    bpt_buf_dispose(&ret);
    return s;
}

/* JobResultSubmitted logs for (service, call): how many results landed. */
static size_t results_landed(uint64_t service_id, uint64_t call)
{
    char params[512], *res = NULL;
    json_t *logs;
    size_t n;
    snprintf(params, sizeof(params),
             "[{\"address\":\"%s\",\"fromBlock\":\"0x0\",\"topics\":[\"0x8a04f99fe23284e874e8dd01"
             "7345248279cc59701695e73bcdbeb6241bcd2ac6\",\"0x%064llx\",\"0x%064llx\"]}]",
             tangle_text, (unsigned long long)service_id, (unsigned long long)call);
    assert_ok(bpt_chain_call(&res, evm.chain, "eth_getLogs", params));
    logs = json_loads(res, 0, NULL);
    n = json_array_size(logs);
    json_decref(logs);
    bpt_free(res);
    return n;
}

static bool wait_result(uint64_t service_id, uint64_t call, int secs)
{
    for (int i = 0; i < secs * 20; i++) {
        char *r = result_of(service_id, call);
        bool done = r[0] != 0;
        struct timespec ts = {0, 50 * 1000000};
        free(r);
        if (done) {
            return true;
        }
        nanosleep(&ts, NULL);
    }
    return false;
}

/* Start bpt run against @p rpc (NULL: the node); the port it listens on. */
static unsigned start_run_via(struct bpt_test_proc *p, const char *rpc, const char *cfg,
                              const char *service_id, const char *state_file, bool tee,
                              const char *start_block)
{
    char line[512];
    unsigned port = 0;
    const char *argv[] = {"run", "--config", cfg, "--job", "0=/bin/cat", "--listen", "127.0.0.1:0",
                          "--tangle-rpc", rpc ? rpc : evm.url, "--tangle-address", tangle_text,
                          "--service-id", service_id, "--operator-key", key_file, "--chain-state",
                          state_file, "--poll-ms", "100", "--start-block", start_block,
                          /* with a TEE: the dual path, on the simulated SEV-SNP */
                          tee ? "--bsm" : NULL, bsm_text, "--simulate", "sev-snp", "--sim-dir",
                          sim.dir, NULL};
    bpt_test_proc_start(p, argv);
    if (!bpt_test_proc_line(p, "run: listening on", line, sizeof(line))) {
        char *err = bpt_test_proc_stderr(p);
        fail_msg("bpt run did not start: %s", err);
    }
    assert_int_equal(sscanf(line, "run: listening on http://127.0.0.1:%u", &port), 1);
    return port;
}

static unsigned start_run(struct bpt_test_proc *p, const char *cfg, const char *service_id,
                          const char *state_file, bool tee)
{
    return start_run_via(p, NULL, cfg, service_id, state_file, tee, "1");
}

/* A JSON-RPC proxy in front of the node that answers eth_getLogs with its logs reversed (a
 * node that breaks the (block, log index) order the cursor depends on). */
struct proxy {
    struct MHD_Daemon *d;
    char url[64];
    atomic_uint reversed; /* answers with two logs or more, reversed */
};

static enum MHD_Result proxy_handle(void *cls, struct MHD_Connection *c, const char *url,
                                    const char *method, const char *version,
                                    const char *upload_data, size_t *upload_size, void **con_cls)
{
    struct proxy *px = cls;
    bpt_buf *body = *con_cls;
    struct bpt_test_http_answer a = {0};
    struct MHD_Response *r;
    const char *const headers[] = {"Content-Type: application/json", NULL};
    char *out;
    enum MHD_Result ret;
    (void)url;
    (void)method;
    (void)version;
    if (body == NULL) {
        body = calloc(1, sizeof(*body));
        bpt_buf_init(body, 1 << 20);
        *con_cls = body;
        return MHD_YES;
    }
    if (*upload_size > 0) {
        if (bpt_buf_append(body, upload_data, *upload_size) != 0) {
            return MHD_NO;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    bpt_test_http(&a, "POST", evm.url, headers, body->data, body->len);
    if (a.json && strstr((const char *)body->data, "\"eth_getLogs\"")) {
        json_t *res = json_object_get(a.json, "result"), *rev = json_array();
        for (size_t i = json_array_size(res); i > 0; i--) {
            json_array_append(rev, json_array_get(res, i - 1));
        }
        if (json_array_size(res) >= 2) {
            atomic_fetch_add(&px->reversed, 1);
        }
        json_object_set_new(a.json, "result", rev);
    }
    out = a.json ? json_dumps(a.json, JSON_COMPACT) : strdup((const char *)a.body.data);
    r = MHD_create_response_from_buffer(strlen(out), out, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(r, "Content-Type", "application/json");
    ret = MHD_queue_response(c, a.status ? (unsigned)a.status : 502, r);
    MHD_destroy_response(r);
    bpt_test_http_dispose(&a);
    return ret;
}

static void proxy_done(void *cls, struct MHD_Connection *c, void **con_cls,
                       enum MHD_RequestTerminationCode toe)
{
    bpt_buf *body = *con_cls;
    (void)cls;
    (void)c;
    (void)toe;
    if (body) {
        bpt_buf_dispose(body);
        free(body);
        *con_cls = NULL;
    }
}

static void test_logs_out_of_order_take_nothing(void **state)
{
    struct proxy px = {0};
    struct bpt_test_proc p = {0};
    char st[4200], from[24];
    uint64_t head = 0;
    (void)state;
    NEED_NODE();
    px.d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, proxy_handle, &px,
                            MHD_OPTION_NOTIFY_COMPLETED, proxy_done, NULL, MHD_OPTION_END);
    assert_non_null(px.d);
    snprintf(px.url, sizeof(px.url), "http://127.0.0.1:%u",
             MHD_get_daemon_info(px.d, MHD_DAEMON_INFO_BIND_PORT)->port);
    /* two jobs before the runner starts: one eth_getLogs answer holds both */
    assert_ok(bpt_chain_block_number(&head, evm.chain));
    submit_job(10, "first");
    submit_job(10, "second");
    snprintf(from, sizeof(from), "%llu", (unsigned long long)head + 1);
    snprintf(st, sizeof(st), "%s/run10.sqlite", dir);
    (void)start_run_via(&p, px.url, plain_cfg, "10", st, false, from);
    {
        struct timespec ts = {0, 100 * 1000000};
        for (int i = 0; i < 100 && atomic_load(&px.reversed) < 3; i++) {
            nanosleep(&ts, NULL);
        }
    }
    assert_true(atomic_load(&px.reversed) >= 3); /* polled again and again: nothing skipped */
    assert_int_equal(bpt_test_proc_wait(&p, SIGTERM), 0);
    {
        char *err = bpt_test_proc_stderr(&p);
        assert_non_null(strstr(err, "tangle: eth_getLogs answered out of order (block"));
        free(err);
    }
    bpt_test_proc_kill(&p);
    MHD_stop_daemon(px.d);
    assert_int_equal(results_landed(10, 0), 0);
    assert_int_equal(results_landed(10, 1), 0);
    /* the same state against an honest node: both jobs, nothing lost */
    (void)start_run_via(&p, NULL, plain_cfg, "10", st, false, from);
    assert_true(wait_result(10, 0, 30));
    assert_true(wait_result(10, 1, 30));
    assert_int_equal(bpt_test_proc_wait(&p, SIGTERM), 0);
    bpt_test_proc_kill(&p);
    char *r = result_of(10, 1);
    assert_string_equal(r, "second");
    free(r);
}

static void test_jobs_land_and_survive_a_kill(void **state)
{
    struct bpt_test_proc p = {0};
    char st[4200], want[32];
    (void)state;
    NEED_NODE();
    snprintf(st, sizeof(st), "%s/run7.sqlite", dir);
    submit_job(7, "job-0"); /* before the runner starts: read from --start-block */
    (void)start_run(&p, plain_cfg, "7", st, false);
    assert_true(wait_result(7, 0, 30));
    for (int i = 1; i <= 6; i++) {
        snprintf(want, sizeof(want), "job-%d", i);
        submit_job(7, want);
    }
    assert_true(wait_result(7, 1, 30));
    /* killed without a chance to clean up, some calls maybe half done */
    assert_int_equal(bpt_test_proc_wait(&p, SIGKILL), 128 + SIGKILL);
    bpt_test_proc_kill(&p);
    submit_job(7, "job-7");
    (void)start_run(&p, plain_cfg, "7", st, false);
    for (uint64_t c = 0; c <= 7; c++) {
        char *r;
        if (!wait_result(7, c, 30)) {
            fail_msg("call %llu: no result after the restart", (unsigned long long)c);
        }
        r = result_of(7, c);
        snprintf(want, sizeof(want), "job-%llu", (unsigned long long)c);
        assert_string_equal(r, want); /* /bin/cat: the body back */
        free(r);
    }
    /* let a few polls pass: nothing is sent again */
    {
        struct timespec ts = {0, 500 * 1000000};
        nanosleep(&ts, NULL);
    }
    for (uint64_t c = 0; c <= 7; c++) {
        assert_int_equal(results_landed(7, c), 1);
    }
    assert_int_equal(bpt_test_proc_wait(&p, SIGTERM), 0);
    bpt_test_proc_kill(&p);
}

static void test_tee_required_refused_without_tee(void **state)
{
    char st[4200], *out = NULL, *err = NULL;
    const char *argv[] = {"run",
                          "--config",
                          plain_cfg,
                          "--job",
                          "0=/bin/cat",
                          "--listen",
                          "127.0.0.1:0",
                          "--tangle-rpc",
                          evm.url,
                          "--tangle-address",
                          tangle_text,
                          "--service-id",
                          "8",
                          "--operator-key",
                          key_file,
                          "--chain-state",
                          st,
                          NULL};
    (void)state;
    NEED_NODE();
    snprintf(st, sizeof(st), "%s/run8-plain.sqlite", dir);
    assert_int_equal(bpt_test_run_cli_err(&out, &err, argv), 1);
    if (!strstr(err, "tee_required") || !strstr(err, "blueprint 2")) {
        fail_msg("stderr: %s", err);
    }
    free(out);
    free(err);
}

static void test_tee_runner_serves_and_publishes(void **state)
{
    struct bpt_test_proc p = {0};
    char st[4200], att[4200], bad[4200], *out = NULL, *err = NULL;
    (void)state;
    NEED_NODE();
    snprintf(st, sizeof(st), "%s/run8.sqlite", dir);
    unsigned port = start_run(&p, tee_cfg, "8", st, true);
    submit_job(8, "secret work");
    assert_true(wait_result(8, 0, 30));
    /* the attestation it serves (and published): its keccak256 is the on-chain hash */
    {
        struct bpt_test_http_answer a;
        char url[128];
        json_t *j;
        char *report;
        const char *hash[] = {
            "chain", "attestation-hash", "--rpc", evm.url,         "--bsm", bsm_text, "--service",
            "8",     "--operator",       op_text, "--attestation", att,     NULL};
        snprintf(url, sizeof(url), "http://127.0.0.1:%u/v1/attestation", port);
        bpt_test_http(&a, "GET", url, NULL, NULL, 0);
        assert_int_equal(a.status, 200);
        j = json_incref(a.json);
        report = json_dumps(json_object_get(j, "attestation"), JSON_COMPACT);
        snprintf(att, sizeof(att), "%s/att.json", dir);
        bpt_test_write_file(att, report, strlen(report));
        const char *hash_json[] = {"chain", "attestation-hash", "--json",    "--rpc", evm.url,
                                   "--bsm", bsm_text,           "--service", "8",     "--operator",
                                   op_text, "--attestation",    att,         NULL};
        assert_int_equal(bpt_test_run_cli(&out, hash), 0);
        assert_non_null(strstr(out, "(match)"));
        free(out);
        out = NULL;
        assert_int_equal(bpt_test_run_cli(&out, hash_json), 0);
        assert_non_null(strstr(out, "\"match\":true"));
        schema("chain-attestation-hash.schema.json", out);
        free(out);
        out = NULL;
        free(report);
        json_decref(j);
        bpt_test_http_dispose(&a);
    }
    {
        const char *profile[] = {"chain",     "profile",     "--rpc", evm.url,  "--tangle",
                                 tangle_text, "--blueprint", "2",     "--json", NULL};
        assert_int_equal(bpt_test_run_cli(&out, profile), 0);
        assert_non_null(strstr(out, "\"confidentiality\":\"tee_required\""));
        schema("chain-profile.schema.json", out);
        free(out);
        out = NULL;
    }
    {
        const char *hash[] = {"chain",  "attestation-hash", "--rpc", evm.url,      "--bsm",
                              bsm_text, "--service",        "8",     "--operator", op_text,
                              NULL};
        assert_int_equal(bpt_test_run_cli(&out, hash), 0);
        assert_null(
            strstr(out, "0x0000000000000000000000000000000000000000000000000000000000000000"));
        free(out);
        out = NULL;
    }
    /* a changed attestation does not match: exit 1 */
    {
        bpt_attester_opts ao = BPT_ATTESTER_OPTS_INIT;
        bpt_report *rep = NULL;
        uint8_t rd[64] = {9};
        char *json = NULL;
        const char *hash[] = {
            "chain", "attestation-hash", "--rpc", evm.url,         "--bsm", bsm_text, "--service",
            "8",     "--operator",       op_text, "--attestation", bad,     NULL};
        ao.simulate = BPT_PROVIDER_AMD_SEV_SNP;
        ao.sim_dir = sim.dir;
        assert_ok(bpt_attest(&rep, rd, &ao));
        assert_ok(bpt_report_to_json(&json, rep));
        snprintf(bad, sizeof(bad), "%s/other.json", dir);
        bpt_test_write_file(bad, json, strlen(json));
        const char *hash_json[] = {"chain", "attestation-hash", "--json",    "--rpc", evm.url,
                                   "--bsm", bsm_text,           "--service", "8",     "--operator",
                                   op_text, "--attestation",    bad,         NULL};
        assert_int_equal(bpt_test_run_cli_err(&out, &err, hash), 1);
        assert_non_null(strstr(out, "MISMATCH"));
        free(out);
        free(err);
        out = err = NULL;
        assert_int_equal(bpt_test_run_cli_err(&out, &err, hash_json), 1);
        assert_non_null(strstr(out, "\"match\":false"));
        assert_non_null(strstr(out, "\"published\":true"));
        schema("chain-attestation-hash.schema.json", out);
        free(out);
        free(err);
        out = err = NULL;
        /* an operator that published nothing: a zero hash is "none published", never a
         * mismatch with a hash */
        char other_op[43];
        bpt_eth_address_format(other_op, &evm.accounts[3]);
        hash[9] = other_op;
        hash_json[10] = other_op;
        assert_int_equal(bpt_test_run_cli_err(&out, &err, hash), 1);
        assert_non_null(strstr(out, "on-chain attestation hash: none published"));
        assert_non_null(strstr(out, "(nothing to match)"));
        assert_non_null(strstr(err, "published no attestation for service 8"));
        free(out);
        free(err);
        out = err = NULL;
        assert_int_equal(bpt_test_run_cli_err(&out, &err, hash_json), 1);
        assert_non_null(strstr(out, "\"published\":false"));
        assert_non_null(strstr(out, "\"match\":false"));
        schema("chain-attestation-hash.schema.json", out);
        bpt_free(json);
        bpt_report_free(rep);
        free(out);
        free(err);
        out = err = NULL;
    }
    /* bpt seal with the dual-path check: the right operator matches; one that published
     * nothing, and an unreachable chain, refuse before anything is sealed */
    {
        char url[64], roots[4200], secret[4200], closed[64];
        const char *onchain_op[] = {NULL, NULL, NULL};
        snprintf(url, sizeof(url), "http://127.0.0.1:%u", port);
        snprintf(roots, sizeof(roots), "%s/trust-roots.pem", sim.dir);
        snprintf(secret, sizeof(secret), "%s/secret.txt", dir);
        snprintf(closed, sizeof(closed), "http://127.0.0.1:1");
        bpt_test_write_file(secret, "s3cret", 6);
        char other_op[43];
        bpt_eth_address_format(other_op, &evm.accounts[3]);
        const char *ok[] = {"seal",    "--url",         url,    "--trust-root",  roots,   "--name",
                            "api-key", "--secret-file", secret, "--onchain-rpc", evm.url, "--bsm",
                            bsm_text,  "--service",     "8",    "--operator",    op_text, NULL};
        const char *none[] = {
            "seal",    "--url",         url,    "--trust-root",  roots,    "--name",
            "api-key", "--secret-file", secret, "--onchain-rpc", evm.url,  "--bsm",
            bsm_text,  "--service",     "8",    "--operator",    other_op, NULL};
        const char *dead[] = {
            "seal",    "--url",         url,    "--trust-root",  roots,   "--name",
            "api-key", "--secret-file", secret, "--onchain-rpc", closed,  "--bsm",
            bsm_text,  "--service",     "8",    "--operator",    op_text, NULL};
        (void)onchain_op;
        assert_int_equal(bpt_test_run_cli_err(&out, &err, ok), 0);
        assert_non_null(strstr(out, "on-chain attestation hash matches"));
        assert_non_null(strstr(out, "sealed to session"));
        free(out);
        free(err);
        assert_int_equal(bpt_test_run_cli_err(&out, &err, none), 1);
        if (!strstr(err, "published no attestation")) {
            fail_msg("stderr: %s", err);
        }
        free(out);
        free(err);
        assert_int_equal(bpt_test_run_cli_err(&out, &err, dead), 4);
        if (!strstr(err, "the chain is unreachable")) {
            fail_msg("stderr: %s", err);
        }
        free(out);
        free(err);
        out = err = NULL;
    }
    assert_int_equal(bpt_test_proc_wait(&p, SIGTERM), 0);
    bpt_test_proc_kill(&p);
}

/* A reorganisation below the cursor: the block that carried a job (and its result) is replaced
 * (evm_revert, then another job that gets the same call id in a new block). The source sees
 * the cursor block's hash change, rewinds, and runs the new call; the signer's transaction that
 * the reorganisation stranded (its nonce past the node's count) is signed again. */
static void test_reorg_replayed(void **state)
{
    struct bpt_test_proc p = {0};
    char st[4200], start[24], *snap, *r;
    uint64_t head = 0, call;
    (void)state;
    NEED_NODE();
    snprintf(st, sizeof(st), "%s/reorg.sqlite", dir);
    assert_ok(bpt_chain_block_number(&head, evm.chain));
    snprintf(start, sizeof(start), "%llu", (unsigned long long)head + 1);
    service(9, 1);
    (void)start_run_via(&p, NULL, plain_cfg, "9", st, false, start);
    snap = bpt_test_evm_snapshot(&evm);
    submit_job(9, "fork-a");
    call = 0; /* service 9's first call */
    assert_true(wait_result(9, call, 30));
    r = result_of(9, call);
    assert_string_equal(r, "fork-a");
    free(r);
    bpt_test_evm_revert(&evm, snap);
    free(snap);
    r = result_of(9, call);
    assert_string_equal(r, ""); /* the result went with the replaced blocks */
    free(r);
    bpt_test_evm_mine(&evm, 1); /* another block at the old height */
    submit_job(9, "fork-b");    /* the same call id, in a new block */
    if (!wait_result(9, call, 30)) {
        char *err = bpt_test_proc_stderr(&p);
        fail_msg("the call after the reorganisation never ran: %s", err);
    }
    r = result_of(9, call);
    assert_string_equal(r, "fork-b");
    free(r);
    assert_int_equal(bpt_test_proc_wait(&p, SIGTERM), 0);
    bpt_test_proc_kill(&p);
}

/* Flags and failures of the chain source in bpt run: the four flags go together (usage); an
 * unreachable node is the network class; with on_chain_verification on (the default) a service
 * manager that cannot answer refuses the start, off it only warns. */
static void test_run_chain_flags_and_dual_path_switch(void **state)
{
    char st[4200], cfg_off[4200], cfg_on[4200], *out = NULL, *err = NULL;
    const char *partial[] = {"run",        "--config",     plain_cfg, "--job",
                             "0=/bin/cat", "--tangle-rpc", evm.url,   NULL};
    const char *dead[] = {"run",
                          "--config",
                          plain_cfg,
                          "--job",
                          "0=/bin/cat",
                          "--listen",
                          "127.0.0.1:0",
                          "--tangle-rpc",
                          "http://127.0.0.1:1",
                          "--tangle-address",
                          tangle_text,
                          "--service-id",
                          "7",
                          "--operator-key",
                          key_file,
                          "--chain-state",
                          st,
                          NULL};
    const char *on[] = {"run",
                        "--config",
                        cfg_on,
                        "--job",
                        "0=/bin/cat",
                        "--listen",
                        "127.0.0.1:0",
                        "--tangle-rpc",
                        evm.url,
                        "--tangle-address",
                        tangle_text,
                        "--service-id",
                        "8",
                        "--operator-key",
                        key_file,
                        "--chain-state",
                        st,
                        "--bsm",
                        tangle_text,
                        "--simulate",
                        "sev-snp",
                        "--sim-dir",
                        sim.dir,
                        NULL};
    struct bpt_test_proc p = {0};
    char line[512];
    (void)state;
    NEED_NODE();
    snprintf(st, sizeof(st), "%s/flags.sqlite", dir);
    assert_int_equal(bpt_test_run_cli_err(&out, &err, partial), 2);
    assert_non_null(strstr(err, "--tangle-rpc, --tangle-address, --service-id and --operator-key"));
    free(out);
    free(err);
    assert_int_equal(bpt_test_run_cli_err(&out, &err, dead), 4);
    free(out);
    free(err);
    /* the service manager is the Tangle contract here: getAttestationHash does not exist */
    snprintf(cfg_on, sizeof(cfg_on), "%s/on.json", dir);
    bpt_test_write_file(cfg_on, "{\"mode\":\"direct\",\"requirement\":\"required\"}", 42);
    assert_int_equal(bpt_test_run_cli_err(&out, &err, on), 1);
    if (!strstr(err, "on_chain_verification is on")) {
        fail_msg("stderr: %s", err);
    }
    free(out);
    free(err);
    snprintf(cfg_off, sizeof(cfg_off), "%s/off.json", dir);
    bpt_test_write_file(cfg_off,
                        "{\"mode\":\"direct\",\"requirement\":\"required\",\"key_exchange\":"
                        "{\"on_chain_verification\":false}}",
                        strlen("{\"mode\":\"direct\",\"requirement\":\"required\",\"key_exchange\":"
                               "{\"on_chain_verification\":false}}"));
    on[2] = cfg_off;
    bpt_test_proc_start(&p, on);
    assert_true(bpt_test_proc_line(&p, "run: listening on", line, sizeof(line)));
    assert_int_equal(bpt_test_proc_wait(&p, SIGTERM), 0);
    bpt_test_proc_kill(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jobs_land_and_survive_a_kill),
        cmocka_unit_test(test_logs_out_of_order_take_nothing),
        cmocka_unit_test(test_tee_required_refused_without_tee),
        cmocka_unit_test(test_tee_runner_serves_and_publishes),
        cmocka_unit_test(test_run_chain_flags_and_dual_path_switch),
        cmocka_unit_test(test_reorg_replayed),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
