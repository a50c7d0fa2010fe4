/* The ganache node of the chain tests and benches (evm.h): no cmocka here (benches link it);
 * a failure prints why and aborts, which a test reports as its failure. */
#include "helpers/evm.h"

#include <blueprint-tee/error.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

extern char **environ;

__attribute__((noreturn, format(printf, 1, 2))) static void evm_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "evm: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    abort();
}

#define EVM_OK(expr)                                                                               \
    do {                                                                                           \
        if ((expr) != 0) {                                                                         \
            evm_fail("%s: %s", #expr, bpt_error_last());                                           \
        }                                                                                          \
    } while (0)

/* 32 bytes of hex (no 0x) into @p out. */
static void hex32(uint8_t out[32], const char *hex)
{
    for (int i = 0; i < 32; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1) {
            evm_fail("bad key hex");
        }
        out[i] = (uint8_t)v;
    }
}

const char *const BPT_TEST_EVM_KEYS[4] = {
    "4f3edf983ac636a65a842ce7c78d9aa706d3b113bce9c46f30d7d21715b23b1d",
    "6cbed15c793ce57650b9877cf6fa156fbef513c4e6134f022a85b1ffdd59b2a1",
    "6370fd033278c143179d81c5526140625662b8daa446c22ee2d73db3707e620c",
    "646f1ce2fdad0e6deeeb5c7e8e5543bdde65e86029e2fd9fc169899c440a7913",
};

static uint16_t free_port(void)
{
    struct sockaddr_in a;
    socklen_t l = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    uint16_t port;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &l) != 0) {
        evm_fail("no free port");
    }
    port = ntohs(a.sin_port);
    close(fd);
    return port;
}

static bool node_on_path(void)
{
    return system("command -v node >/dev/null 2>&1") == 0; /* tests only */
}

/* Run a program, its stdout into a malloc'd string; the exit status in *status. */
static char *capture(const char *const *argv, int *status)
{
    int fds[2];
    pid_t pid;
    posix_spawn_file_actions_t fa;
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    ssize_t n;
    if (pipe(fds) != 0) {
        evm_fail("pipe");
    }
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    if (posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv, environ) != 0) {
        evm_fail("cannot run %s", argv[0]);
    }
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    while ((n = read(fds[0], buf + len, cap - len - 1)) > 0) {
        len += (size_t)n;
        if (cap - len < 1024) {
            buf = realloc(buf, cap *= 2);
        }
    }
    close(fds[0]);
    buf[len] = 0;
    waitpid(pid, status, 0);
    return buf;
}

static json_t *rpc(struct bpt_test_evm *e, const char *method, json_t *params)
{
    char *p = json_dumps(params, JSON_COMPACT), *res = NULL;
    json_t *j;
    json_decref(params);
    if (bpt_chain_call(&res, e->chain, method, p) < 0) {
        free(p);
        return NULL;
    }
    free(p);
    j = json_loads(res, JSON_DECODE_ANY, NULL);
    bpt_free(res);
    return j;
}

bool bpt_test_evm_start(struct bpt_test_evm *e, char *why, size_t why_len)
{
    const char *dir = getenv("BPT_EVM_DIR"), *src = getenv("BPT_SOURCE_DIR");
    char cli[4096], contracts[4096], compile[4096], port[16], node_path[4096];
    bpt_chain_opts o = BPT_CHAIN_OPTS_INIT;
    struct stat st;
    int status;
    char *out;

    memset(e, 0, sizeof(*e));
    snprintf(cli, sizeof(cli), "%s/node_modules/ganache/dist/node/cli.js", dir ? dir : "");
    if (!node_on_path() || !dir || stat(cli, &st) != 0) {
        const char *ci = getenv("CI");
        if (ci && strcmp(ci, "true") == 0 && node_on_path()) {
            /* CI installs them (make check -> install-deps.sh -> install-evm.sh): a skip there
             * would hide a broken install step */
            evm_fail("CI=true with node on PATH but no ganache under BPT_EVM_DIR=%s: "
                     "scripts/install-evm.sh did not install it",
                     dir ? dir : "(unset)");
        }
        snprintf(why, why_len,
                 "ganache/solc are not installed (node on PATH and scripts/install-evm.sh; "
                 "BPT_EVM_DIR=%s): the EVM tests are skipped",
                 dir ? dir : "(unset)");
        return false;
    }
    snprintf(node_path, sizeof(node_path), "%s/node_modules", dir);
    setenv("NODE_PATH", node_path, 1); /* copied (putenv would keep a leaked string) */
    snprintf(compile, sizeof(compile), "%s/tests/evm/compile.js", src);
    snprintf(contracts, sizeof(contracts), "%s/tests/evm/contracts", src);
    {
        const char *argv[] = {"node", compile, contracts, NULL};
        out = capture(argv, &status);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
            !(e->contracts = json_loads(out, 0, NULL))) {
            evm_fail("solc failed to compile %s", contracts);
        }
        free(out);
    }
    e->port = free_port();
    snprintf(port, sizeof(port), "%u", e->port);
    {
        const char *argv[] = {"node",
                              cli,
                              "--server.host",
                              "127.0.0.1",
                              "--server.port",
                              port,
                              "--wallet.deterministic",
                              "--wallet.totalAccounts",
                              "4",
                              "--chain.chainId",
                              "1337",
                              "--logging.quiet",
                              "--chain.asyncRequestProcessing",
                              "false",
                              NULL};
        /* fork + exec rather than posix_spawn: the node must die with this process, even when
         * a test crashes (PR_SET_PDEATHSIG), and its output must not hold our pipes open */
        pid_t parent = getpid();
        e->pid = fork();
        if (e->pid < 0) {
            evm_fail("cannot start ganache: fork");
        }
        if (e->pid == 0) {
            int null = open("/dev/null", O_WRONLY);
            setpgid(0, 0);
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (getppid() != parent) {
                _exit(1);
            }
            dup2(null, 1);
            dup2(null, 2);
            execvp("node", (char *const *)argv);
            _exit(127);
        }
    }
    snprintf(e->url, sizeof(e->url), "http://127.0.0.1:%u", e->port);
    o.rpc_url = e->url;
    o.retries = BPT_CHAIN_NO_RETRY;
    /* ganache answers one request at a time: with several results in flight (an estimate
     * takes ~0.5 s) and a loaded CI machine, 5 s was seen to run out under ASan */
    o.timeout_ms = 30000;
    EVM_OK(bpt_chain_new(&e->chain, &o));
    for (int i = 0;; i++) { /* until it answers (start-up takes seconds) */
        uint64_t id = 0;
        struct timespec ts = {0, 100 * 1000000};
        if (bpt_chain_chain_id(&id, e->chain) == 0) {
            if (id != 1337) {
                evm_fail("chain id %llu", (unsigned long long)id);
            }
            break;
        }
        if (i > 600) {
            evm_fail("ganache did not answer on %s within 60 s", e->url);
        }
        nanosleep(&ts, NULL);
    }
    for (int i = 0; i < 4; i++) {
        uint8_t k[32];
        bpt_eth_key *key = NULL;
        hex32(k, BPT_TEST_EVM_KEYS[i]);
        EVM_OK(bpt_eth_key_from_bytes(&key, k));
        e->accounts[i] = *bpt_eth_key_address(key);
        bpt_eth_key_free(key);
    }
    return true;
}

void bpt_test_evm_stop(struct bpt_test_evm *e)
{
    if (e->pid > 0) {
        kill(-e->pid, SIGTERM);
        waitpid(e->pid, NULL, 0);
        e->pid = 0;
    }
    bpt_chain_free(e->chain);
    e->chain = NULL;
    json_decref(e->contracts);
    e->contracts = NULL;
}

static json_t *addr_json(const bpt_eth_address *a)
{
    char t[43];
    bpt_eth_address_format(t, a);
    return json_string(t);
}

static json_t *data_json(const uint8_t *p, size_t n)
{
    char *s = malloc(2 * n + 3);
    json_t *j;
    s[0] = '0';
    s[1] = 'x';
    for (size_t i = 0; i < n; i++) {
        snprintf(s + 2 + 2 * i, 3, "%02x", p[i]);
    }
    s[2 + 2 * n] = 0;
    j = json_string(s);
    free(s);
    return j;
}

static json_t *wait_receipt(struct bpt_test_evm *e, json_t *hash)
{
    for (int i = 0; i < 300; i++) {
        json_t *r = rpc(e, "eth_getTransactionReceipt", json_pack("[O]", hash));
        struct timespec ts = {0, 50 * 1000000};
        if (json_is_object(r)) {
            return r;
        }
        json_decref(r);
        nanosleep(&ts, NULL);
    }
    evm_fail("no receipt");
}

bpt_eth_address bpt_test_evm_deploy(struct bpt_test_evm *e, const char *name, const uint8_t *args,
                                    size_t len)
{
    const char *bin =
        json_string_value(json_object_get(json_object_get((json_t *)e->contracts, name), "bin"));
    size_t bl;
    char *code;
    json_t *tx, *hash, *rec;
    bpt_eth_address out;
    const char *addr;
    if (!bin) {
        evm_fail("no contract %s", name);
    }
    bl = strlen(bin);
    code = malloc(bl + 2 * len + 3);
    snprintf(code, bl + 3, "0x%s", bin);
    for (size_t i = 0; i < len; i++) {
        snprintf(code + 2 + bl + 2 * i, 3, "%02x", args[i]);
    }
    tx = json_pack("{s:o,s:s,s:s}", "from", addr_json(&e->accounts[0]), "data", code, "gas",
                   "0x1c9c380");
    free(code);
    hash = rpc(e, "eth_sendTransaction", json_pack("[o]", tx));
    if (!hash) {
        evm_fail("deploy %s: %s", name, bpt_error_last());
    }
    rec = wait_receipt(e, hash);
    addr = json_string_value(json_object_get(rec, "contractAddress"));
    if (!addr || bpt_eth_address_parse(&out, addr) != 0) {
        evm_fail("deploy %s: no contract address", name);
    }
    json_decref(rec);
    json_decref(hash);
    return out;
}

int bpt_test_evm_send(struct bpt_test_evm *e, unsigned from_index, const bpt_eth_address *to,
                      const uint8_t *data, size_t len, uint64_t *block)
{
    json_t *hash = NULL, *rec;
    int ok;
    /* ganache picks an unlocked account's nonce itself and, with other senders' transactions
     * arriving at the same time, now and then picks a stale one ("the tx doesn't have the
     * correct nonce"): sent again */
    for (int attempt = 0; attempt < 5 && !hash; attempt++) {
        json_t *tx =
            json_pack("{s:o,s:o,s:o,s:s}", "from", addr_json(&e->accounts[from_index]), "to",
                      addr_json(to), "data", data_json(data, len), "gas", "0x7a1200");
        hash = rpc(e, "eth_sendTransaction", json_pack("[o]", tx));
        if (!hash && !strstr(bpt_error_last(), "correct nonce")) {
            return -1;
        }
    }
    if (!hash) {
        return -1;
    }
    rec = wait_receipt(e, hash);
    ok = strcmp(json_string_value(json_object_get(rec, "status")), "0x1") == 0;
    if (block) {
        *block = strtoull(json_string_value(json_object_get(rec, "blockNumber")) + 2, NULL, 16);
    }
    json_decref(rec);
    json_decref(hash);
    return ok ? 0 : -1;
}

void bpt_test_evm_mine(struct bpt_test_evm *e, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        json_decref(rpc(e, "evm_mine", json_array()));
    }
}

char *bpt_test_evm_snapshot(struct bpt_test_evm *e)
{
    json_t *id = rpc(e, "evm_snapshot", json_array());
    char *s = strdup(json_string_value(id));
    json_decref(id);
    return s;
}

void bpt_test_evm_revert(struct bpt_test_evm *e, const char *id)
{
    json_t *r = rpc(e, "evm_revert", json_pack("[s]", id));
    if (!json_is_true(r)) {
        evm_fail("evm_revert %s", id);
    }
    json_decref(r);
}
