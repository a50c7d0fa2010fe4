/*
 * A Tangle log as the job source reads it: the first byte picks the topic count (1..4), then
 * the topics (32 bytes each, the first one forced to a job event), then the data. Any input is
 * decoded, ignored or refused with a message; inputs views stay inside the data.
 */
#include "fuzz.h"

#include <blueprint-tee/error.h>

#include <stdlib.h>
#include <string.h>

#include "chain/tangle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t topics[4][32];
    struct bpt_tangle_job j;
    size_t n, need;
    int rc;
    if (size < 1) {
        return 0;
    }
    n = (size_t)(data[0] % 4) + 1;
    need = 1 + 32 * n;
    if (size < need) {
        return 0;
    }
    memcpy(topics, data + 1, 32 * n);
    memcpy(topics[0],
           data[1] & 1 ? bpt_tangle_topic_job_submitted : bpt_tangle_topic_job_submitted_from_quote,
           32);
    rc = bpt_tangle_job_decode(&j, (const uint8_t(*)[32])topics, n, data + need, size - need);
    if (rc < 0 && !bpt_error_last()[0]) {
        abort();
    }
    if (rc == 1 && j.inputs_len &&
        (j.inputs < data + need || j.inputs + j.inputs_len > data + size)) {
        abort();
    }
    return 0;
}
