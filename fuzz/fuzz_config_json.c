/* TeeConfig and TeeRequirements JSON: load, dump, load again; the dumps agree. */
#include "fuzz.h"

#include <stdlib.h>
#include <string.h>

#include <blueprint-tee/bpt.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bpt_config *c = NULL, *c2 = NULL;
    bpt_tee_requirements r;
    char *a = NULL, *b = NULL;
    if (bpt_config_load_json(&c, (const char *)data, size) == 0) {
        if (bpt_config_validate(c) != 0 || bpt_config_to_json(&a, c) != 0 ||
            bpt_config_load_json(&c2, a, strlen(a)) != 0 || bpt_config_to_json(&b, c2) != 0 ||
            strcmp(a, b) != 0) {
            abort();
        }
    }
    if (bpt_tee_requirements_load_json(&r, (const char *)data, size) == 0) {
        bpt_free(a);
        a = NULL;
        if (bpt_tee_requirements_to_json(&a, &r) != 0) {
            abort();
        }
    }
    bpt_free(a);
    bpt_free(b);
    bpt_config_free(c);
    bpt_config_free(c2);
    return 0;
}
