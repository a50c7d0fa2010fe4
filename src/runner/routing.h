/*
 * Hybrid routing (DESIGN.md §12): which placement each job may run in. The chain's rule (the
 * blueprint's execution profile with the service's confidentiality, bpt_confidentiality_combine)
 * applies to every job of the service; a local routing file (hybrid mode, hybrid_routing_source
 * policy_file: {"jobs":{"<index>":"tee"|"standard"}}) may make a job's routing stricter, never
 * looser: "tee" on a job the chain says any/tee_preferred makes it tee_required; "standard" is
 * taken only where the chain says any or standard_required. A contradiction is refused when the
 * two meet (the runner does not start), naming both rules.
 *
 * Placement: the runner's own TEE (its snapshot), a runtime deployment (DESIGN §11,
 * placement.h: `bpt run --deployment ID`), or plainly here. A tee_required job runs in the
 * runner's TEE when it attested, else in the deployment, else nowhere; a tee_preferred one in
 * the runner's TEE, else in the deployment (plainly here when the deployment cannot take it);
 * a standard_required one only plainly here (never in the deployment, refused in a TEE); any
 * runs here.
 */
#ifndef BPT_RUNNER_ROUTING_H
#define BPT_RUNNER_ROUTING_H

#include <blueprint-tee/chain.h>

#include <pthread.h>

struct bpt_routing {
    pthread_mutex_t mu;
    bool chain_set;
    bpt_confidentiality chain;
    char chain_why[192];
    uint8_t file[256]; /* 0: nothing, 1: tee, 2: standard */
    char file_path[256];
};

void bpt_routing_init(struct bpt_routing *rt);
void bpt_routing_dispose(struct bpt_routing *rt);
/** Read the routing file. @return 0; BPT_ENOTFOUND/BPT_EIO; BPT_EINVAL (its shape). */
BPT_MUST_USE int bpt_routing_load_file(struct bpt_routing *rt, const char *path);
/** The chain's rule, and where it comes from (for messages). @return 0; BPT_EUNSATISFIABLE when
 *  the routing file contradicts it. */
BPT_MUST_USE int bpt_routing_set_chain(struct bpt_routing *rt, bpt_confidentiality rule,
                                       const char *why);
/** Where a job runs (bpt_routing_decide()). */
enum bpt_place {
    BPT_PLACE_HERE = 0,            /* in the runner: its TEE when it has one, else plainly */
    BPT_PLACE_DEPLOYMENT = 1,      /* tee_required: the deployment, or refused */
    BPT_PLACE_DEPLOYMENT_PREFERRED /* tee_preferred: the deployment, else here */
};

/** Where may job @p index run (@p in_tee: the runner has an attested TEE; @p deployment: it
 *  has a runtime deployment to place TEE jobs in)? @p why (may be NULL) gets where the job's
 *  rule comes from, for messages. @return an enum bpt_place; BPT_EUNSATISFIABLE with the rule
 *  that refused in the message. */
BPT_MUST_USE int bpt_routing_decide(struct bpt_routing *rt, uint8_t index, bool in_tee,
                                    bool deployment, char *why, size_t why_len);

#endif
