/* What the runner's sources read of it (runner.h is the public side). */
#ifndef BPT_RUNNER_INTERNAL_H
#define BPT_RUNNER_INTERNAL_H

#include <blueprint-tee/attester.h>
#include <blueprint-tee/chain.h>
#include <blueprint-tee/runner.h>

/** The config the runner was made with. */
const bpt_config *bpt_runner_config(const bpt_runner *r);
/** The attester options the runner attests with (the simulator, the root). */
void bpt_runner_attester(const bpt_runner *r, bpt_attester_opts *ao);
/** Whether the caller's router has a handler for @p index. */
bool bpt_runner_has_job(const bpt_runner *r, uint8_t index);
/** A copy of the report (JSON, with its evidence) results are stamped with.
 * @return 0; BPT_ENOTFOUND (none: unstamped); BPT_ENOMEM. */
BPT_MUST_USE int bpt_runner_report_json(char **out, bpt_runner *r);
/**
 * A source tells the runner the chain's confidentiality rule for its service (@p why names
 * where it comes from). @return 0; BPT_EUNSATISFIABLE when this runner may not serve under it
 * (tee_required without an attested TEE, standard_required inside one) or the routing file
 * contradicts it.
 */
BPT_MUST_USE int bpt_runner_require(bpt_runner *r, bpt_confidentiality rule, const char *why);
/** The HTTP source says where it listens (0: it stopped). */
void bpt_runner_set_http_port(bpt_runner *r, uint16_t port);

#endif
