/*
 * The chain module against a real EVM node (ganache on loopback, one per program) and the test
 * contracts of tests/evm/contracts compiled by solc: JSON-RPC (methods, node errors, an
 * unreachable node with retries, the answer size limit), the execution profile and the service
 * read from the contract, job events decoded from eth_getLogs (the real 3-topic JobSubmitted and
 * JobSubmittedFromQuote), submitResult signed by the operator key (receipt, reverts with their
 * decoded reasons, a result sent twice, many results in flight from one sender), and the
 * dual-path hash (reportProvisioned, getAttestationHash, a changed attestation, nothing
 * published, an unreachable chain).
 */
/* bpt-test-labels: loopback evm */
#include "helpers/evm.h"
#include "helpers/sim_fixture.h"
#include "helpers/test.h"

#include "chain/abi.h"
#include "chain/chain_internal.h"
#include "chain/tangle.h"

#include <pthread.h>

#define SERVICE 7
#define TEE_PROFILE                                                                                \
    "{\"schema\":\"tangle.blueprint.metadata.v1\",\"execution_profile\":{\"confidentiality\":"     \
    "\"tee_required\",\"gpu\":{\"policy\":\"preferred\",\"min_vram_gb\":24}},"                     \
    "\"job_profiles_b64_gzip\":\"H4sI\"}"

static struct bpt_test_evm evm;
static bool up;
static char why[512];
static bpt_eth_address tangle, bsm;
static bpt_eth_key *op_key, *stranger_key;

static void calldata(bpt_buf *out, const char *sig, struct bpt_abi_value *args, size_t n)
{
    bpt_buf_reset(out);
    assert_ok(bpt_abi_calldata(out, sig, args, n));
}

static bpt_eth_key *key(unsigned i)
{
    size_t n;
    uint8_t *s = bpt_test_hex_bytes(BPT_TEST_EVM_KEYS[i], &n);
    bpt_eth_key *k = NULL;
    assert_ok(bpt_eth_key_from_bytes(&k, s));
    free(s);
    return k;
}

static int setup(void **state)
{
    bpt_buf d = BPT_BUF_INIT(1 << 20);
    struct bpt_abi_value a[5], ops[1], callers[1], one;
    (void)state;
    if (!(up = bpt_test_evm_start(&evm, why, sizeof(why)))) {
        return 0;
    }
    tangle = bpt_test_evm_deploy(&evm, "MockTangle", NULL, 0);
    bpt_abi_set_bool(&one, true);
    {
        struct bpt_abi_type *t = NULL;
        assert_ok(bpt_abi_type_parse(&t, "(bool)"));
        struct bpt_abi_value tuple;
        bpt_abi_set_list(&tuple, &one, 1);
        assert_ok(bpt_abi_encode(&d, t, &tuple));
        bpt_abi_type_free(t);
    }
    bsm = bpt_test_evm_deploy(&evm, "MockSandboxBsm", d.data, d.len);
    bpt_abi_set_uint(&a[0], 1);
    bpt_abi_set_bytes(&a[1], "confidential-bp", 15);
    bpt_abi_set_bytes(&a[2], TEE_PROFILE, strlen(TEE_PROFILE));
    calldata(&d, "setBlueprint(uint64,string,string)", a, 3);
    assert_int_equal(bpt_test_evm_send(&evm, 0, &tangle, d.data, d.len, NULL), 0);
    bpt_abi_set_uint(&a[0], SERVICE);
    bpt_abi_set_uint(&a[1], 1);
    bpt_abi_set_uint(&a[2], 3); /* tee_preferred on the service */
    bpt_abi_set_address(&ops[0], evm.accounts[1].bytes);
    bpt_abi_set_list(&a[3], ops, 1);
    bpt_abi_set_address(&callers[0], evm.accounts[2].bytes);
    bpt_abi_set_list(&a[4], callers, 1);
    calldata(&d, "setService(uint64,uint64,uint8,address[],address[])", a, 5);
    assert_int_equal(bpt_test_evm_send(&evm, 0, &tangle, d.data, d.len, NULL), 0);
    op_key = key(1);
    stranger_key = key(3);
    bpt_buf_dispose(&d);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    bpt_eth_key_free(op_key);
    bpt_eth_key_free(stranger_key);
    bpt_test_evm_stop(&evm);
    return 0;
}

#define NEED_NODE() BPT_TEST_EVM_NEED(up, why)

/* The caller (account 2) submits job @p index with @p body; its call id. */
static uint64_t submit_job(uint8_t index, const char *body)
{
    bpt_buf d = BPT_BUF_INIT(1 << 20);
    struct bpt_abi_value a[3];
    bpt_buf ret = BPT_BUF_INIT(64);
    uint64_t id;
    struct bpt_abi_value *v = NULL;
    bpt_abi_set_uint(&a[0], SERVICE);
    bpt_abi_set_uint(&a[1], index);
    bpt_abi_set_bytes(&a[2], body, strlen(body));
    calldata(&d, "submitJob(uint64,uint8,bytes)", a, 3);
    /* the call id it will get: what an eth_call from the caller returns now */
    assert_ok(bpt_chain_eth_call(&ret, NULL, evm.chain, &evm.accounts[2], &tangle, d.data, d.len,
                                 "latest"));
    assert_ok(bpt_abi_decode_text(&v, "(uint64)", ret.data, ret.len));
    assert_ok(bpt_abi_get_u64(&id, &v->items[0], "callId"));
    assert_int_equal(bpt_test_evm_send(&evm, 2, &tangle, d.data, d.len, NULL), 0);
    bpt_abi_value_free(v);
    bpt_buf_dispose(&ret);
    bpt_buf_dispose(&d);
    return id;
}

static void test_rpc(void **state)
{
    uint64_t id = 0, n = 0;
    char *res = NULL;
    bpt_chain *dead = NULL, *small = NULL;
    bpt_chain_opts o = BPT_CHAIN_OPTS_INIT;
    (void)state;
    NEED_NODE();
    assert_ok(bpt_chain_chain_id(&id, evm.chain));
    assert_int_equal(id, 1337);
    assert_ok(bpt_chain_block_number(&n, evm.chain));
    assert_true(n >= 4);
    assert_ok(bpt_chain_call(&res, evm.chain, "eth_getBalance",
                             "[\"0x0000000000000000000000000000000000000000\",\"latest\"]"));
    assert_non_null(strstr(res, "0x"));
    bpt_free(res);
    assert_rc_msg(bpt_chain_call(&res, evm.chain, "eth_noSuchMethod", "[]"), BPT_EPROTOCOL,
                  "chain: eth_noSuchMethod: node error");
    assert_rc_msg(bpt_chain_call(&res, evm.chain, "eth_chainId", "{}"), BPT_EINVAL,
                  "params must be a JSON array");
    /* nothing listens there: retried with back-off, then BPT_EFETCH */
    o.rpc_url = "http://127.0.0.1:1";
    o.retries = 2;
    o.backoff_ms = 10;
    assert_ok(bpt_chain_new(&dead, &o));
    assert_rc_msg(bpt_chain_chain_id(&id, dead), BPT_EFETCH, "eth_chainId");
    bpt_chain_free(dead);
    /* an answer past the limit */
    o.rpc_url = evm.url;
    o.max_response_bytes = 64;
    assert_ok(bpt_chain_new(&small, &o));
    assert_rc_msg(bpt_chain_call(&res, small, "eth_getBlockByNumber", "[\"latest\",true]"),
                  BPT_ELIMIT, "");
    bpt_chain_free(small);
    o.rpc_url = "http://example.com:8545";
    assert_rc_msg(bpt_chain_new(&small, &o), BPT_EINVAL, "loopback");
}

static void test_profile_and_service(void **state)
{
    bpt_execution_profile p;
    bpt_chain_service s;
    bpt_confidentiality c;
    char name[128];
    (void)state;
    NEED_NODE();
    assert_ok(bpt_chain_blueprint_profile(&p, name, evm.chain, &tangle, 1));
    assert_string_equal(name, "confidential-bp");
    assert_true(p.present);
    assert_int_equal(p.confidentiality, BPT_CONFIDENTIALITY_TEE_REQUIRED);
    assert_int_equal(p.gpu, BPT_GPU_PREFERRED);
    assert_int_equal(p.gpu_min_count, 1);
    assert_int_equal(p.gpu_min_vram_gb, 24);
    assert_rc_msg(bpt_chain_blueprint_profile(&p, NULL, evm.chain, &tangle, 99), BPT_EPROTOCOL,
                  "BlueprintNotFound(99)");
    assert_ok(bpt_chain_service_get(&s, evm.chain, &tangle, SERVICE));
    assert_int_equal(s.blueprint_id, 1);
    assert_int_equal(s.confidentiality, BPT_CONFIDENTIALITY_TEE_PREFERRED);
    assert_int_equal(s.operator_count, 1);
    assert_ok(bpt_confidentiality_combine(&c, p.confidentiality, s.confidentiality));
    assert_int_equal(c, BPT_CONFIDENTIALITY_TEE_REQUIRED);
    assert_rc_msg(bpt_chain_service_get(&s, evm.chain, &tangle, 12345), BPT_EPROTOCOL,
                  "ServiceNotFound(12345)");
    /* no contract at the address: nothing comes back */
    assert_rc_msg(bpt_chain_service_get(&s, evm.chain, &evm.accounts[3], SERVICE), BPT_EPROTOCOL,
                  "returned nothing");
}

/* eth_getLogs from @p from: every job event of the Tangle contract, decoded. */
static size_t job_logs(struct bpt_tangle_job *jobs, size_t max, uint64_t from, bpt_buf *keep)
{
    char params[256], addr[43], *res = NULL;
    json_t *logs;
    size_t n = 0;
    bpt_eth_address_format(addr, &tangle);
    snprintf(params, sizeof(params), "[{\"address\":\"%s\",\"fromBlock\":\"0x%llx\"}]", addr,
             (unsigned long long)from);
    assert_ok(bpt_chain_call(&res, evm.chain, "eth_getLogs", params));
    logs = json_loads(res, 0, NULL);
    for (size_t i = 0; i < json_array_size(logs) && n < max; i++) {
        json_t *l = json_array_get(logs, i), *t = json_object_get(l, "topics");
        uint8_t topics[4][32];
        size_t nt = json_array_size(t), at = keep->len;
        for (size_t k = 0; k < nt && k < 4; k++) {
            assert_ok(bpt_chain_data_exact(topics[k], 32, json_array_get(t, k), "topic"));
        }
        assert_ok(bpt_chain_data(keep, json_object_get(l, "data"), "data"));
        if (bpt_tangle_job_decode(&jobs[n], (const uint8_t(*)[32])topics, nt, keep->data + at,
                                  keep->len - at) == 1) {
            n++;
        }
    }
    json_decref(logs);
    bpt_free(res);
    return n;
}

static void test_job_events(void **state)
{
    struct bpt_tangle_job jobs[8];
    bpt_buf keep = BPT_BUF_INIT(1 << 20), d = BPT_BUF_INIT(4096);
    struct bpt_abi_value a[5], quoted[1];
    uint64_t from = 0, id;
    size_t n;
    (void)state;
    NEED_NODE();
    assert_ok(bpt_chain_block_number(&from, evm.chain));
    id = submit_job(3, "payload-3");
    bpt_abi_set_uint(&a[0], SERVICE);
    bpt_abi_set_uint(&a[1], 4);
    bpt_abi_set_address(&quoted[0], evm.accounts[1].bytes);
    bpt_abi_set_list(&a[2], quoted, 1);
    bpt_abi_set_uint(&a[3], 1000);
    bpt_abi_set_bytes(&a[4], "quoted", 6);
    calldata(&d, "emitQuoteJob(uint64,uint8,address[],uint256,bytes)", a, 5);
    assert_int_equal(bpt_test_evm_send(&evm, 2, &tangle, d.data, d.len, NULL), 0);
    /* keep stays big enough: views into it stay valid (no realloc past 1 MiB reserved) */
    assert_ok(bpt_buf_append(&keep, "", 0));
    n = job_logs(jobs, 8, from + 1, &keep);
    assert_int_equal(n, 2);
    assert_false(jobs[0].from_quote);
    assert_int_equal(jobs[0].service_id, SERVICE);
    assert_int_equal(jobs[0].call_id, id);
    assert_int_equal(jobs[0].job_index, 3);
    assert_memory_equal(jobs[0].caller.bytes, evm.accounts[2].bytes, 20);
    assert_true(jobs[1].from_quote);
    assert_int_equal(jobs[1].job_index, 4);
    assert_int_equal(jobs[1].inputs_len, 6);
    assert_memory_equal(jobs[1].inputs, "quoted", 6);
    bpt_buf_dispose(&keep);
    bpt_buf_dispose(&d);
}

static void test_submit_result(void **state)
{
    bpt_chain_signer *s = NULL, *other = NULL;
    bpt_chain_receipt r;
    bpt_buf d = BPT_BUF_INIT(4096), ret = BPT_BUF_INIT(4096);
    struct bpt_abi_value a[2], *v = NULL;
    uint64_t id;
    (void)state;
    NEED_NODE();
    id = submit_job(0, "square 7");
    assert_ok(bpt_chain_signer_new(&s, evm.chain, op_key));
    assert_ok(bpt_chain_submit_result(&r, s, &tangle, SERVICE, id, (const uint8_t *)"49", 2, NULL));
    assert_true(r.success);
    assert_true(r.block_number > 0);
    /* what landed: results(service, call) */
    bpt_abi_set_uint(&a[0], SERVICE);
    bpt_abi_set_uint(&a[1], id);
    calldata(&d, "results(uint64,uint64)", a, 2);
    assert_ok(bpt_chain_eth_call(&ret, NULL, evm.chain, NULL, &tangle, d.data, d.len, "latest"));
    assert_ok(bpt_abi_decode_text(&v, "(bytes)", ret.data, ret.len));
    assert_int_equal(v->items[0].len, 2);
    assert_memory_equal(v->items[0].data, "49", 2);
    bpt_abi_value_free(v);
    /* the same result again: the contract says the job is done (with one required result it
     * checks completion before this operator's earlier result) */
    assert_rc_msg(
        bpt_chain_submit_result(&r, s, &tangle, SERVICE, id, (const uint8_t *)"49", 2, NULL),
        BPT_EEXISTS, "already completed on chain");
    assert_non_null(strstr(r.reason, "JobAlreadyCompleted(7,"));
    /* not an operator of the service */
    id = submit_job(0, "square 8");
    assert_ok(bpt_chain_signer_new(&other, evm.chain, stranger_key));
    assert_rc_msg(bpt_chain_submit_result(&r, other, &tangle, SERVICE, id, NULL, 0, NULL),
                  BPT_EPROTOCOL,
                  "OperatorNotInService(7, 0xE11BA2b4D45Eaed5996Cd0823791E0C93114882d)");
    /* an Error(string) revert, decoded; and one mined with a fixed gas that then reverts */
    {
        struct bpt_abi_value why_arg;
        bpt_chain_tx_opts o = BPT_CHAIN_TX_OPTS_INIT;
        bpt_abi_set_bytes(&why_arg, "not today", 9);
        calldata(&d, "failWith(string)", &why_arg, 1);
        assert_rc_msg(bpt_chain_transact(&r, s, &tangle, d.data, d.len, NULL), BPT_EPROTOCOL,
                      "would revert: not today");
        /* options not from BPT_CHAIN_TX_OPTS_INIT, or with a negative time: refused before
         * anything is sent */
        o.version++;
        assert_rc_msg(bpt_chain_transact(&r, s, &tangle, d.data, d.len, &o), BPT_EINVAL,
                      "BPT_CHAIN_TX_OPTS_INIT");
        o.version--;
        o.poll_ms = -1;
        assert_rc_msg(bpt_chain_transact(&r, s, &tangle, d.data, d.len, &o), BPT_EINVAL,
                      "poll_ms -1: want >= 0");
        o.poll_ms = 0;
        o.gas_limit = 100000;
        assert_rc_msg(bpt_chain_transact(&r, s, &tangle, d.data, d.len, &o), BPT_EPROTOCOL,
                      "reverted in block");
        assert_false(r.success);
        assert_string_equal(r.reason, "not today");
    }
    /* the nonces survived the refusals: a later result still goes through */
    assert_ok(bpt_chain_submit_result(&r, s, &tangle, SERVICE, id, (const uint8_t *)"64", 2, NULL));
    bpt_chain_signer_free(other);
    bpt_chain_signer_free(s);
    bpt_buf_dispose(&d);
    bpt_buf_dispose(&ret);
}

struct flight {
    bpt_chain_signer *s;
    uint64_t call;
    int rc;
    char why[512];
};

static void *send_one(void *arg)
{
    struct flight *f = arg;
    bpt_chain_receipt r;
    char body[32];
    snprintf(body, sizeof(body), "result %llu", (unsigned long long)f->call);
    f->rc = bpt_chain_submit_result(&r, f->s, &tangle, SERVICE, f->call, (const uint8_t *)body,
                                    strlen(body), NULL);
    snprintf(f->why, sizeof(f->why), "%s", f->rc ? bpt_error_last() : "");
    return NULL;
}

static void test_results_in_flight(void **state)
{
    enum { N = 6 };
    struct flight f[N];
    pthread_t t[N];
    bpt_chain_signer *s = NULL;
    (void)state;
    NEED_NODE();
    assert_ok(bpt_chain_signer_new(&s, evm.chain, op_key));
    for (int i = 0; i < N; i++) {
        f[i].s = s;
        f[i].call = submit_job(1, "job");
    }
    for (int i = 0; i < N; i++) {
        assert_int_equal(pthread_create(&t[i], NULL, send_one, &f[i]), 0);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        if (f[i].rc != 0) {
            fail_msg("call %llu: %d %s", (unsigned long long)f[i].call, f[i].rc, f[i].why);
        }
    }
    bpt_chain_signer_free(s);
}

static void test_attestation_hash(void **state)
{
    struct bpt_sim_fixture sim = {0};
    bpt_attester_opts ao = BPT_ATTESTER_OPTS_INIT;
    bpt_report *rep = NULL, *other = NULL;
    uint8_t rd[64] = {1}, h[32], local[32];
    bpt_chain_signer *s = NULL;
    bpt_chain_receipt r;
    bpt_chain *dead = NULL;
    bpt_chain_opts o = BPT_CHAIN_OPTS_INIT;
    char *json = NULL;
    (void)state;
    NEED_NODE();
    assert_int_equal(bpt_sim_fixture_init(&sim), 0);
    ao.simulate = BPT_PROVIDER_AMD_SEV_SNP;
    ao.sim_dir = sim.dir;
    assert_ok(bpt_attest(&rep, rd, &ao));
    rd[0] = 2;
    assert_ok(bpt_attest(&other, rd, &ao));
    /* nothing published yet */
    assert_ok(bpt_chain_attestation_hash(h, evm.chain, &bsm, SERVICE, &evm.accounts[1]));
    assert_rc_msg(bpt_chain_attestation_check(evm.chain, &bsm, SERVICE, &evm.accounts[1], rep),
                  BPT_ENOTFOUND, "published no attestation");
    assert_ok(bpt_chain_signer_new(&s, evm.chain, op_key));
    assert_ok(bpt_chain_report_provisioned(&r, s, &bsm, SERVICE, "sandbox-1", "http://127.0.0.1:1",
                                           0, rep, NULL));
    assert_ok(bpt_chain_attestation_hash(h, evm.chain, &bsm, SERVICE, &evm.accounts[1]));
    assert_ok(bpt_chain_attestation_digest(local, &json, rep));
    assert_memory_equal(h, local, 32);
    /* the bytes hashed are a fixed point of parsing and writing the report */
    {
        bpt_report *again = NULL;
        char *json2 = NULL;
        assert_ok(bpt_report_from_json(&again, json, strlen(json)));
        assert_ok(bpt_report_to_json(&json2, again));
        assert_string_equal(json, json2);
        bpt_free(json2);
        bpt_report_free(again);
    }
    assert_ok(bpt_chain_attestation_check(evm.chain, &bsm, SERVICE, &evm.accounts[1], rep));
    assert_rc_msg(bpt_chain_attestation_check(evm.chain, &bsm, SERVICE, &evm.accounts[1], other),
                  BPT_ECLAIM, "mismatch: keccak256 of the attestation is 0x");
    o.rpc_url = "http://127.0.0.1:1";
    o.retries = BPT_CHAIN_NO_RETRY;
    assert_ok(bpt_chain_new(&dead, &o));
    assert_rc_msg(bpt_chain_attestation_check(dead, &bsm, SERVICE, &evm.accounts[1], rep),
                  BPT_EFETCH, "the chain is unreachable");
    bpt_chain_free(dead);
    bpt_free(json);
    bpt_chain_signer_free(s);
    bpt_report_free(rep);
    bpt_report_free(other);
    bpt_sim_fixture_dispose(&sim);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rpc),
        cmocka_unit_test(test_profile_and_service),
        cmocka_unit_test(test_job_events),
        cmocka_unit_test(test_submit_result),
        cmocka_unit_test(test_results_in_flight),
        cmocka_unit_test(test_attestation_hash),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
