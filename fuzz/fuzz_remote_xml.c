/*
 * The remote backends' XML reader (src/runtime/remote/remote.h), which reads EC2's answers:
 * any input is walked or refused with a message, every leaf's path is within the depth limit
 * and its text within its bound, and walking again gives the same result.
 */
#include "fuzz.h"

#include <stdlib.h>
#include <string.h>

#include "runtime/remote/remote.h"

struct seen {
    size_t leaves;
    size_t text_bytes;
};

static int on_leaf(const char *const *path, size_t depth, const char *text, void *ud)
{
    struct seen *s = ud;
    if (depth == 0 || depth > BPT_REMOTE_XML_DEPTH || strlen(path[depth - 1]) == 0 ||
        strlen(path[depth - 1]) > BPT_REMOTE_XML_NAME_MAX || strlen(text) > 4096) {
        abort();
    }
    (void)bpt_remote_xml_path_ends(path, depth, "instancesSet/item/instanceState/name");
    s->leaves++;
    s->text_bytes += strlen(text);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct seen a = {0, 0}, b = {0, 0};
    int rc1 = bpt_remote_xml_walk((const char *)data, size, on_leaf, &a);
    int rc2 = bpt_remote_xml_walk((const char *)data, size, on_leaf, &b);
    if (rc1 != rc2 || (rc1 == 0 && (a.leaves != b.leaves || a.text_bytes != b.text_bytes)) ||
        rc1 > 0) {
        abort();
    }
    return 0;
}
