/* The libFuzzer entry point every fuzz_<parser>.c defines. */
#ifndef BPT_FUZZ_H
#define BPT_FUZZ_H
#include <stddef.h>
#include <stdint.h>
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* The fixed verification time fuzz targets use (2024-01-01T00:00:00Z). */
#define BPT_FUZZ_AT 1704067200
#endif
