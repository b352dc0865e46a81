/* SPDX-License-Identifier: MIT */
/*
 * `agentd version`: this program's version and, when a daemon runs on the
 * data dir, the daemon's and each live holder's (GET /api/health,
 * processes.holders). After an upgrade the daemon is the new one while
 * holders started before it go on with the version they were started with
 * until their agents end; the holder wire's compatibility rule
 * (src/hold/hold.h) is what lets them. Nothing here or anywhere in agentd
 * asks the network for a newer version.
 */
#include "cli/cli.h"
#include "cli/cli_int.h"

#include <stdio.h>
#include <string.h>

static bool collect(const char *p, size_t n, void *ud)
{
    return ad_buf_append(ud, p, n) == 0;
}

/* GET /api/health when a daemon answers on the data dir (NULL, and
 * nothing said, when none does). New reference. */
static json_t *health(ad_cli_t *c)
{
    if (c->cfg->data_dir[0] == '\0') {
        return NULL;
    }
    ad_buf_t b;
    ad_buf_init(&b, 1u << 20);
    long status = 0;
    char err[200];
    int rc = ad_cli_http(ad_cli_sock(c), c->cfg->token, "GET", "/api/health", "application/json",
                         NULL, 0, 10000, collect, &b, &status, err, sizeof(err));
    json_t *j = rc == 0 && status == 200 ? json_loadb(b.data ? b.data : "", b.len, 0, NULL) : NULL;
    ad_buf_cleanup(&b);
    return j;
}

int ad_cli_version(ad_cli_t *c, int argc, char **argv)
{
    ad_cli_flag_t flags[] = {{"--json", false, NULL, &c->json}};
    int npos, rc = ad_cli_parse(c, argc, argv, flags, AD_ARRAY_LEN(flags), NULL, 0, &npos);
    if (rc != 0) {
        return rc;
    }
    json_t *h = health(c);
    bool up = h != NULL;
    json_t *holders = up ? json_object_get(json_object_get(h, "processes"), "holders") : NULL;
    if (c->json) {
        json_t *out =
            json_pack("{s:s, s:s?, s:O?}", "client", AD_VERSION, "daemon",
                      up ? ad_cli_str(h, "version", "?") : NULL, "holders", up ? holders : NULL);
        ad_cli_print_json(out);
        json_decref(out);
        json_decref(h);
        return 0;
    }
    printf("agentd %s\n", AD_VERSION);
    if (!up) {
        printf("daemon: not running on %s\n",
               c->cfg->data_dir[0] ? c->cfg->data_dir : "(no data dir)");
        json_decref(h);
        return 0;
    }
    const char *dv = ad_cli_str(h, "version", "?");
    printf("daemon: %s%s\n", dv, strcmp(dv, AD_VERSION) == 0 ? "" : " (not this program's)");
    size_t i;
    json_t *x;
    json_array_foreach(holders, i, x)
    {
        const char *v = ad_cli_str(x, "version", "");
        printf("holder: %s  pid %lld  run %s  agent %s%s\n",
               v[0] ? v : "older (it does not say its version)",
               (long long)json_integer_value(json_object_get(x, "pid")),
               ad_cli_str(x, "runId", "?"), ad_cli_str(x, "agentId", "?"),
               v[0] && strcmp(v, dv) != 0 ? " (started by an earlier agentd)" : "");
    }
    json_decref(h);
    return 0;
}
