/*
 * Jobs/s end to end on ganache (loopback): N jobs are on chain (submitJob by a caller), the
 * runner starts, its Tangle source reads them (poll every 20 ms), a C handler echoes each body
 * and the sink lands each result with submitResult signed by the operator key (nonces, gas
 * estimate, fees, receipt, the SQLite cursor); the clock runs from the start to the last result
 * on chain. Baseline: the same N results with nothing of ours in between: eth_estimateGas
 * (which the SDK's sink and ours both ask for) and eth_sendTransaction from ganache's own
 * unlocked account (which waits for the block: ganache mines each transaction at once), one
 * after the other.
 * BENCH_WORKERS=N sets the runner's workers (default 4). Needs node and
 * scripts/install-evm.sh (else it says so and exits 0). Run: bench_chain_jobs --seconds N (N × 10
 * jobs, at least 10).
 */
#include "util.h"

#include "helpers/evm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <blueprint-tee/bpt.h>

#include "chain/abi.h"
#include "chain/chain_internal.h"

#define SERVICE 11

static struct bpt_test_evm evm;
static bpt_eth_address tangle;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int send(unsigned from, const char *sig, struct bpt_abi_value *a, size_t n)
{
    bpt_buf d = BPT_BUF_INIT(1 << 20);
    int rc = bpt_abi_calldata(&d, sig, a, n);
    if (rc == 0) {
        rc = bpt_test_evm_send(&evm, from, &tangle, d.data, d.len, NULL);
    }
    bpt_buf_dispose(&d);
    return rc;
}

/* eth_estimateGas of the call from account @p from (the baseline asks it as both sinks do). */
static int estimate(unsigned from, const char *sig, struct bpt_abi_value *a, size_t n)
{
    bpt_buf d = BPT_BUF_INIT(1 << 20);
    json_t *res = NULL;
    int rc = bpt_abi_calldata(&d, sig, a, n);
    if (rc == 0) {
        rc = bpt_chain_rpc(
            &res, NULL, evm.chain, "eth_estimateGas",
            json_pack("[{s:o,s:o,s:o}]", "from", bpt_chain_json_address(&evm.accounts[from]), "to",
                      bpt_chain_json_address(&tangle), "data", bpt_chain_json_data(d.data, d.len)));
    }
    json_decref(res);
    bpt_buf_dispose(&d);
    return rc;
}

static int submit_job(uint64_t service, const char *body)
{
    struct bpt_abi_value a[3];
    bpt_abi_set_uint(&a[0], service);
    bpt_abi_set_uint(&a[1], 0);
    bpt_abi_set_bytes(&a[2], body, strlen(body));
    return send(2, "submitJob(uint64,uint8,bytes)", a, 3);
}

static bool landed(uint64_t service, uint64_t call)
{
    struct bpt_abi_value a[2], *v = NULL;
    bpt_buf d = BPT_BUF_INIT(4096), ret = BPT_BUF_INIT(1 << 20);
    bool yes = false;
    bpt_abi_set_uint(&a[0], service);
    bpt_abi_set_uint(&a[1], call);
    if (bpt_abi_calldata(&d, "results(uint64,uint64)", a, 2) == 0 &&
        bpt_chain_eth_call(&ret, NULL, evm.chain, NULL, &tangle, d.data, d.len, "latest") == 0 &&
        bpt_abi_decode_text(&v, "(bytes)", ret.data, ret.len) == 0) {
        yes = v->items[0].len > 0;
    }
    bpt_abi_value_free(v);
    bpt_buf_dispose(&d);
    bpt_buf_dispose(&ret);
    return yes;
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

static int set_service(uint64_t id)
{
    struct bpt_abi_value a[5], ops[2], callers[1];
    bpt_abi_set_uint(&a[0], id);
    bpt_abi_set_uint(&a[1], 1);
    bpt_abi_set_uint(&a[2], 0);
    bpt_abi_set_address(&ops[0], evm.accounts[1].bytes);
    bpt_abi_set_address(&ops[1], evm.accounts[3].bytes);
    bpt_abi_set_list(&a[3], ops, 2);
    bpt_abi_set_address(&callers[0], evm.accounts[2].bytes);
    bpt_abi_set_list(&a[4], callers, 1);
    return send(0, "setService(uint64,uint64,uint8,address[],address[])", a, 5);
}

static void sink(bpt_log_level l, const char *m, const char *msg, void *ud)
{
    (void)l;
    (void)ud;
    fprintf(stderr, "%.3f %s: %s\n", now_s(), m, msg);
}

int main(int argc, char **argv)
{
    if (getenv("BENCH_DEBUG")) {
        bpt_log_set_sink(sink, NULL, BPT_LOG_DEBUG);
    }
    double secs = bench_seconds(argc, argv), t0, ours, base;
    size_t n = (size_t)(secs * 10) < 10 ? 10 : (size_t)(secs * 10);
    char why[512], dir[] = "/tmp/bpt-bench-chain-XXXXXX", key[256], state[256], addr[43];
    bpt_tangle_source_opts to = BPT_TANGLE_SOURCE_OPTS_INIT;
    bpt_runner_opts ro = BPT_RUNNER_OPTS_INIT;
    bpt_config *cfg = NULL;
    bpt_router *rt = NULL;
    bpt_runner *run = NULL;
    uint64_t head = 0;
    struct bpt_abi_value a[3];
    FILE *f;

    if (!bpt_test_evm_start(&evm, why, sizeof(why))) {
        printf("bench_chain_jobs: %s\n", why);
        return 0;
    }
    tangle = bpt_test_evm_deploy(&evm, "MockTangle", NULL, 0);
    bpt_abi_set_uint(&a[0], 1);
    bpt_abi_set_bytes(&a[1], "bench", 5);
    bpt_abi_set_bytes(&a[2], "", 0);
    if (send(0, "setBlueprint(uint64,string,string)", a, 3) || set_service(SERVICE) ||
        set_service(SERVICE + 1) || !mkdtemp(dir)) {
        fprintf(stderr, "bench_chain_jobs: setup failed\n");
        return 1;
    }
    snprintf(key, sizeof(key), "%s/op.key", dir);
    snprintf(state, sizeof(state), "%s/state.sqlite", dir);
    f = fopen(key, "w");
    fputs(BPT_TEST_EVM_KEYS[1], f);
    fclose(f);
    chmod(key, 0600);
    bpt_eth_address_format(addr, &tangle);
    if (bpt_chain_block_number(&head, evm.chain) != 0) {
        return 1;
    }
    to.rpc_url = evm.url;
    to.tangle = addr;
    to.service_id = SERVICE;
    to.operator_key = key;
    to.state_path = state;
    to.start_block = head + 1;
    to.poll_ms = 20;
    ro.workers = getenv("BENCH_WORKERS") ? (size_t)atoi(getenv("BENCH_WORKERS")) : 4;
    /* the jobs first (ganache mixes up concurrent senders' nonces now and then), then the
     * runner from their first block: the clock runs from start to the last result on chain */
    for (size_t i = 0; i < n; i++) {
        if (submit_job(SERVICE, "bench job") != 0) {
            fprintf(stderr, "bench_chain_jobs: submitJob %zu: %s\n", i, bpt_error_last());
            return 1;
        }
    }
    t0 = now_s();
    if (bpt_config_load_json(&cfg, "{\"mode\":\"disabled\"}", 19) != 0 ||
        bpt_router_new(&rt) != 0 || bpt_router_route(rt, 0, echo, NULL) != 0 ||
        bpt_runner_new(&run, cfg) != 0 || bpt_runner_set_options(run, &ro) != 0 ||
        bpt_runner_set_router(run, rt) != 0 ||
        bpt_runner_add_source(run, bpt_source_tangle(&to)) != 0 || bpt_runner_start(run) != 0) {
        fprintf(stderr, "bench_chain_jobs: runner: %s\n", bpt_error_last());
        return 1;
    }
    while (!landed(SERVICE, n - 1)) {
        usleep(2000);
    }
    ours = (double)n / (now_s() - t0);
    bpt_runner_free(run);
    /* baseline: the same results sent by ganache's unlocked account, nothing of ours */
    for (size_t i = 0; i < n; i++) {
        if (submit_job(SERVICE + 1, "bench job") != 0) {
            return 1;
        }
    }
    t0 = now_s();
    for (size_t i = 0; i < n; i++) {
        struct bpt_abi_value r[3];
        bpt_abi_set_uint(&r[0], SERVICE + 1);
        bpt_abi_set_uint(&r[1], i);
        bpt_abi_set_bytes(&r[2], "bench job", 9);
        if (estimate(3, "submitResult(uint64,uint64,bytes)", r, 3) != 0 ||
            send(3, "submitResult(uint64,uint64,bytes)", r, 3) != 0) {
            return 1;
        }
    }
    base = (double)n / (now_s() - t0);
    bench_report("chain_jobs_end_to_end_ganache", ours, "ganache_send_transaction_same_work", base);
    bpt_router_free(rt);
    bpt_config_free(cfg);
    bpt_test_evm_stop(&evm);
    unlink(key);
    unlink(state);
    snprintf(key, sizeof(key), "%s/state.sqlite-wal", dir);
    unlink(key);
    snprintf(key, sizeof(key), "%s/state.sqlite-shm", dir);
    unlink(key);
    rmdir(dir);
    return 0;
}
