/**
 * @file bpt.h
 * libblueprint-tee: Trusted Execution Environment support for job services.
 * Include this umbrella header, or the module headers it lists.
 */
#ifndef BPT_H
#define BPT_H

#include "common.h"
#include "error.h"
#include "log.h"
#include "buf.h"
#include "secret.h"
#include "clock.h"
#include "provider.h"
#include "config.h"
#include "attestation.h"
#include "policy.h"
#include "verify.h"
#include "sev_snp.h"
#include "aws_nitro.h"
#include "tdx.h"
#include "jwt.h"
#include "attester.h"
#include "detect.h"
#include "hpke.h"
#include "exchange.h"
#include "middleware.h"
#include "runtime.h"
#include "runner.h"

#endif
