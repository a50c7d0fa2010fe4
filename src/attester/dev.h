/* A device layer (open, ioctl, close) that tests replace to stand in for a TEE driver. */
#ifndef BPT_ATTESTER_DEV_H
#define BPT_ATTESTER_DEV_H

struct bpt_dev_ops {
    int (*open)(const char *path, void *ud);
    int (*ioctl)(int fd, unsigned long req, void *arg, void *ud);
    void (*close)(int fd, void *ud);
    void *ud;
};

/** The real device: open(O_RDWR|O_CLOEXEC), ioctl(), close(). */
extern const struct bpt_dev_ops bpt_dev_real_ops;

#endif
