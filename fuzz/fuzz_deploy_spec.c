/* The deployment spec (docs/runtime.md): load, the canonical JSON loads again to the same
 * canonical JSON and hash; the sealed-only rule and the accessors on what loaded. */
#include "fuzz.h"

#include <stdlib.h>
#include <string.h>

#include <blueprint-tee/bpt.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bpt_deploy_spec *s = NULL, *s2 = NULL;
    char *a = NULL, *b = NULL;
    if (bpt_deploy_spec_load_json(&s, (const char *)data, size) == 0) {
        if (bpt_deploy_spec_to_json(&a, s) != 0 ||
            bpt_deploy_spec_load_json(&s2, a, strlen(a)) != 0 ||
            bpt_deploy_spec_to_json(&b, s2) != 0 || strcmp(a, b) != 0 ||
            strcmp(bpt_deploy_spec_hash(s), bpt_deploy_spec_hash(s2)) != 0) {
            abort();
        }
        /* a value makes the sealed-only rule refuse; the canonical JSON has none */
        bool has_value = false;
        for (size_t i = 0; i < bpt_deploy_spec_secret_count(s); i++) {
            has_value = has_value || bpt_deploy_spec_secret_value(s, i) != NULL;
        }
        if ((bpt_deploy_spec_check_injection(s, BPT_SECRETS_SEALED_ONLY) == 0) == has_value ||
            bpt_deploy_spec_check_injection(s2, BPT_SECRETS_SEALED_ONLY) != 0 ||
            bpt_deploy_spec_name(s) == NULL || bpt_deploy_spec_image(s) == NULL ||
            bpt_deploy_spec_uid(s) == 0 || bpt_deploy_spec_gid(s) == 0) {
            abort();
        }
    }
    bpt_free(a);
    bpt_free(b);
    bpt_deploy_spec_free(s);
    bpt_deploy_spec_free(s2);
    return 0;
}
