/*
 * Hybrid routing (DESIGN.md §12): which placement each job may run in. The chain's rule (the
 * blueprint's execution profile with the service's confidentiality, bpt_confidentiality_combine)
 * applies to every job of the service; a local routing file (hybrid mode, hybrid_routing_source
 * policy_file: {"jobs":{"<index>":"tee"|"standard"}}) may make a job's routing stricter, never
 * looser: "tee" on a job the chain says any/tee_preferred makes it tee_required; "standard" is
 * taken only where the chain says any or standard_required. A contradiction is refused when the
 * two meet (the runner does not start), naming both rules.
 *
 * Placement today is the runner's own TEE or none: a tee_required job runs only when the runner
 * attested (its snapshot), a standard_required job only when it did not. A runtime deployment
 * (DESIGN §11) is not a placement yet.
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
/** May job @p index run here (@p in_tee: the runner has an attested TEE)? @return 0;
 *  BPT_EUNSATISFIABLE with the rule that refused in the message. */
BPT_MUST_USE int bpt_routing_decide(struct bpt_routing *rt, uint8_t index, bool in_tee);

#endif
