/* Report JSON (DESIGN.md §5): parse, serialise, parse again; the two serialisations agree. */
#include "fuzz.h"

#include <stdlib.h>
#include <string.h>

#include <blueprint-tee/bpt.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bpt_report *r = NULL, *r2 = NULL;
    char *a = NULL, *b = NULL;
    if (bpt_report_from_json(&r, (const char *)data, size) == 0) {
        if (bpt_report_to_json(&a, r) == 0 && bpt_report_from_json(&r2, a, strlen(a)) == 0 &&
            bpt_report_to_json(&b, r2) == 0 && strcmp(a, b) != 0) {
            abort();
        }
    }
    bpt_free(a);
    bpt_free(b);
    bpt_report_free(r);
    bpt_report_free(r2);
    return 0;
}
