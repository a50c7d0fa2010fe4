/*
 * One verification context shared by threads. The context is made and configured once (time,
 * certificates, and its caches of verified certificate chains); a verifier pairs it with the
 * policy; then any number of threads verify through the same verifier at once, and the chain
 * verified by the first is a cache hit for the rest.
 *
 * Build against an installed library:
 *   cc -std=c11 shared_context.c $(pkg-config --cflags --libs blueprint-tee) -lpthread \
 *      -o shared_context
 * Usage: shared_context EVIDENCE UNIX_TIME [CERT] [THREADS] [ROUNDS] [CRL|none]
 *   e.g. shared_context report.bin 1680652800 vcek.der 2 50 none   (a real SEV-SNP report and
 *   VCEK of 2023; "none": no AMD CRL of that time at hand, so revocation is not checked)
 * Exit: 0 when every verification in every thread succeeded, 1 when one was refused, 2 usage.
 */
#include <blueprint-tee/bpt.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct job {
    const bpt_verifier *verifier; /* shared, read-only */
    const unsigned char *ev;      /* shared, read-only */
    size_t ev_len;
    int rounds;
    int verified;      /* this thread's count */
    char refusal[512]; /* this thread's first refusal, if any */
};

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf = NULL;
    long n;
    if (!f || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0 ||
        !(buf = malloc((size_t)n + 1)) || fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    } else {
        *len = (size_t)n;
    }
    if (f) {
        fclose(f);
    }
    return buf;
}

/* An SEV-SNP CRL file for the context, or "none" to turn revocation checking off. */
static int add_crl(bpt_verify_ctx *ctx, const char *arg)
{
    unsigned char *crl;
    size_t len = 0;
    int rc;
    if (strcmp(arg, "none") == 0) {
        return bpt_verify_ctx_set_revocation_check(ctx, false);
    }
    if (!(crl = slurp(arg, &len))) {
        fprintf(stderr, "cannot read %s\n", arg);
        return -1;
    }
    rc = bpt_verify_ctx_add_crl(ctx, crl, len);
    free(crl);
    return rc;
}

static void *run(void *arg)
{
    struct job *j = arg;
    for (int i = 0; i < j->rounds; i++) {
        bpt_verified *v = NULL;
        int rc = bpt_verifier_verify(&v, j->verifier, j->ev, j->ev_len, BPT_PROVIDER_UNKNOWN);
        if (rc < 0) {
            /* The error message is per thread: read it here, on the thread that failed. */
            snprintf(j->refusal, sizeof(j->refusal), "%s: %s", bpt_error_name(rc),
                     bpt_error_last());
            break;
        }
        j->verified++;
        bpt_verified_free(v);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    bpt_verify_ctx *ctx = NULL;
    bpt_policy *policy = NULL;
    bpt_verifier *verifier = NULL;
    unsigned char *ev = NULL, *cert = NULL;
    size_t ev_len = 0, cert_len = 0;
    int threads = argc > 4 ? atoi(argv[4]) : 2, rounds = argc > 5 ? atoi(argv[5]) : 20, ex = 2;
    struct job jobs[16];
    pthread_t tid[16];
    uint64_t hits = 0, misses = 0;

    if (argc < 3 || threads < 1 || threads > 16 || rounds < 1 || !(ev = slurp(argv[1], &ev_len))) {
        fprintf(stderr, "usage: shared_context EVIDENCE UNIX_TIME [CERT] [THREADS 1..16] [ROUNDS] "
                        "[CRL|none]\n");
        return 2;
    }
    /* Configure once, on one thread: after the verifier is made the context is frozen. */
    if (bpt_verify_ctx_new(&ctx, NULL) < 0 ||
        bpt_verify_ctx_set_at(ctx, strtoll(argv[2], NULL, 10)) < 0 ||
        (argc > 3 && (!(cert = slurp(argv[3], &cert_len)) ||
                      bpt_verify_ctx_add_certs(ctx, cert, cert_len) < 0)) ||
        (argc > 6 && add_crl(ctx, argv[6]) < 0) || bpt_policy_new(&policy) < 0 ||
        bpt_verifier_new(&verifier, ctx, policy) < 0) {
        fprintf(stderr, "setup: %s\n", bpt_error_last());
        goto out;
    }
    /* The verifier holds its own references: the caller's may go now. */
    bpt_verify_ctx_free(ctx);
    ctx = NULL;
    bpt_policy_free(policy);
    policy = NULL;

    for (int i = 0; i < threads; i++) {
        jobs[i] = (struct job){.verifier = verifier, .ev = ev, .ev_len = ev_len, .rounds = rounds};
        if (pthread_create(&tid[i], NULL, run, &jobs[i]) != 0) {
            fprintf(stderr, "pthread_create failed\n");
            threads = i;
            break;
        }
    }
    ex = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(tid[i], NULL);
        printf("thread %d: %d of %d verified%s%s\n", i, jobs[i].verified, rounds,
               jobs[i].refusal[0] ? "; refused: " : "", jobs[i].refusal);
        if (jobs[i].verified != rounds) {
            ex = 1;
        }
    }
    bpt_verify_ctx_cache_stats(bpt_verifier_ctx(verifier), BPT_CACHE_CHAIN, &hits, &misses);
    printf("shared context: chain cache %llu hits, %llu misses\n", (unsigned long long)hits,
           (unsigned long long)misses);
out:
    bpt_verifier_free(verifier);
    bpt_verify_ctx_free(ctx);
    bpt_policy_free(policy);
    free(ev);
    free(cert);
    return ex;
}
