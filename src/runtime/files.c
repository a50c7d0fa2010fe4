/* Small file-system helpers of the runtime (runtime_internal.h). */
#include "runtime/runtime_internal.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/err.h"

static int remove_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    int r = flag == FTW_DP ? rmdir(path) : unlink(path);
    return r == 0 || errno == ENOENT ? 0 : -1;
}

int bpt_runtime_rmtree(const char *path)
{
    struct stat sb;
    if (lstat(path, &sb) != 0) {
        return errno == ENOENT ? 0
                               : bpt_err(BPT_EIO, "cannot remove %s: %s", path, strerror(errno));
    }
    /* depth first, never following a symbolic link, never leaving this file system */
    if (nftw(path, remove_one, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) != 0) {
        return bpt_err(BPT_EIO, "cannot remove %s: %s", path, strerror(errno));
    }
    return 0;
}

int bpt_runtime_mkdir(const char *path, unsigned mode)
{
    struct stat sb;
    if (mkdir(path, (mode_t)mode) != 0 && errno != EEXIST) {
        return bpt_err(BPT_EIO, "cannot create %s: %s", path, strerror(errno));
    }
    if (lstat(path, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        return bpt_err(BPT_EIO, "%s is not a directory", path);
    }
    if ((sb.st_mode & 07777) != mode && chmod(path, (mode_t)mode) != 0) {
        return bpt_err(BPT_EIO, "cannot set the mode of %s: %s", path, strerror(errno));
    }
    return 0;
}
