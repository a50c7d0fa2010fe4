/* Policy JSON: load, dump, load again; the dumps agree. */
#include "fuzz.h"

#include <stdlib.h>
#include <string.h>

#include <blueprint-tee/bpt.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bpt_policy *p = NULL, *p2 = NULL;
    char *a = NULL, *b = NULL;
    if (bpt_policy_load_json(&p, (const char *)data, size) == 0) {
        if (bpt_policy_to_json(&a, p) == 0 && bpt_policy_load_json(&p2, a, strlen(a)) == 0 &&
            bpt_policy_to_json(&b, p2) == 0 && strcmp(a, b) != 0) {
            abort();
        }
    }
    bpt_free(a);
    bpt_free(b);
    bpt_policy_free(p);
    bpt_policy_free(p2);
    return 0;
}
