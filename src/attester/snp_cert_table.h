/*
 * The SEV-SNP certificate table (configfs-tsm auxblob, SNP_GET_EXT_REPORT): entries of
 * {GUID (16 bytes, RFC 4122 order), offset u32le, length u32le}, ended by an all-zero entry;
 * offsets count from the table's start. Known GUIDs: VCEK, VLEK, ASK, ARK.
 */
#ifndef BPT_ATTESTER_SNP_CERT_TABLE_H
#define BPT_ATTESTER_SNP_CERT_TABLE_H

#include <blueprint-tee/common.h>

#include <stddef.h>
#include <stdint.h>

#define BPT_SNP_CERT_TABLE_MAX 16

enum bpt_snp_cert_kind {
    BPT_SNP_CERT_VCEK,
    BPT_SNP_CERT_VLEK,
    BPT_SNP_CERT_ASK,
    BPT_SNP_CERT_ARK,
    BPT_SNP_CERT_OTHER
};

struct bpt_snp_cert_entry {
    enum bpt_snp_cert_kind kind;
    const uint8_t *der; /* borrowed from the table */
    size_t len;
};

/**
 * Parse @p table into at most BPT_SNP_CERT_TABLE_MAX entries (*n set).
 * @return 0; BPT_EMALFORMED (no terminator, an entry outside the table, too many entries).
 */
BPT_MUST_USE int bpt_snp_cert_table_parse(struct bpt_snp_cert_entry *out, size_t *n,
                                          const uint8_t *table, size_t len);

#endif
