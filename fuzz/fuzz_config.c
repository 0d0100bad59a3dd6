/* libFuzzer target: the config parser (core/config) on arbitrary YAML. The loader reads a path,
 * so each input is written to one temp file; every input must either load or fail with a
 * message, never crash or leak. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "config/config.h"
#include "log/log.h"

static char path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    snprintf(path, sizeof path, "/tmp/ztpd-fuzz-config-%ld.yml", (long)getpid());
    ztpd_log_init(ZTPD_LOG_ERROR, NULL); /* quiet: failing inputs are the common case */
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        abort();
    fwrite(data, 1, size, f);
    fclose(f);
    struct ztpd_config *cfg = NULL;
    char err[512];
    if (ztpd_config_load(&cfg, path, err, sizeof err) == 0) {
        /* exercise the lookup table on a loaded config */
        (void)ztpd_config_lookup(cfg, "http.listen");
        (void)ztpd_config_lookup(cfg, "storage.sqlite.path");
        ztpd_config_free(cfg);
    }
    return 0;
}
