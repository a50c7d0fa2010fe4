/* bpt config check FILE: load a TeeConfig JSON with the library's validation. */
#include "cli.h"

#include <string.h>

#include "core/limits.h"

int cmd_config(int argc, char **argv)
{
    const char *file = NULL;
    bpt_config *c = NULL;
    char *text = NULL, *out = NULL;
    size_t len = 0;
    int rc, ex = BPT_EXIT_USAGE;

    if (cli_wants_help(argc, argv)) {
        printf("usage: bpt config check [--json | --quiet] FILE\n"
               "\n"
               "Validate a TeeConfig JSON file (see docs/config.md): unknown keys, wrong types\n"
               "and broken invariants are refused with the field named. On success prints a\n"
               "summary, or with --json the normalised config with every default (which\n"
               "'bpt config check' reads back).\n"
               "  --json   one JSON object on stdout: the normalised config, or the error\n"
               "  --quiet  print nothing: the exit status only\n");
        cli_help_exit(
            stdout, "the config is valid",
            "the check refused the config (an unknown key, a wrong type, a broken invariant)",
            "FILE is missing, unreadable, too large or not JSON", NULL);
        return BPT_EXIT_OK;
    }
    if (argc < 2 || strcmp(argv[1], "check") != 0) {
        return cli_usage_error("config", "expected 'bpt config check [--json] FILE'");
    }
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0 || strcmp(argv[i], "--quiet") == 0) {
            continue; /* acted on by main.c */
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            return cli_usage_error("config", "unknown option '%s'", argv[i]);
        } else if (file) {
            return cli_usage_error("config", "exactly one FILE is expected");
        } else {
            file = argv[i];
        }
    }
    if (!file) {
        return cli_usage_error("config", "FILE is required");
    }
    cli_note("file", json_string(file));
    if ((rc = cli_read_file(&text, &len, file, BPT_LIMIT_JSON_BYTES)) < 0) {
        return cli_fail(rc, CLI_AT_FILE, file);
    }
    if ((rc = bpt_config_load_json(&c, text, len)) < 0) {
        ex = cli_fail(rc, CLI_AT_CHECK, file);
        goto out;
    }
    if (cli_json()) {
        if ((rc = bpt_config_to_json(&out, c)) < 0) {
            ex = cli_fail(rc, CLI_AT_OUTPUT, "config JSON");
            goto out;
        }
        if ((ex = cli_print_json(out, NULL)) != 0) {
            goto out;
        }
    } else {
        size_t n = 0;
        const bpt_provider *ps = bpt_config_allowed_providers(c, &n);
        printf("%s: valid: mode %s, requirement %s, secret injection %s, providers ", file,
               bpt_tee_mode_name(bpt_config_mode(c)),
               bpt_tee_requirement_name(bpt_config_requirement(c)),
               bpt_secret_injection_name(bpt_config_secret_injection(c)));
        if (!ps) {
            printf("any");
        }
        for (size_t i = 0; i < n; i++) {
            printf("%s%s", i ? "," : "", bpt_provider_name(ps[i]));
        }
        printf("\n");
    }
    ex = BPT_EXIT_OK;
out:
    bpt_free(out);
    bpt_free(text);
    bpt_config_free(c);
    return ex;
}
