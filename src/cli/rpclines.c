/* SPDX-License-Identifier: MIT */
/*
 * The stdin side of the client's JSON-RPC servers (agentd acp, agentd
 * mcp): one JSON object a line, each line bounded; what is not one is
 * answered with JSON-RPC's parse error (-32700) through the caller's put.
 */
#include "cli/cli_int.h"

void ad_cli_rpc_lines(size_t max, ad_cli_rpc_fn on_msg, ad_cli_rpc_put_fn put, void *ud)
{
    ad_buf_t line;
    ad_buf_init(&line, max);
    int ch;
    bool too_long = false;
    while ((ch = getchar()) != EOF) {
        if (ch != '\n') {
            too_long |= ad_buf_putc(&line, (char)ch) != 0;
            continue;
        }
        json_t *msg = !too_long && line.len > 0 ? json_loadb(line.data, line.len, 0, NULL) : NULL;
        if (json_is_object(msg)) {
            on_msg(msg, ud);
        } else if (line.len > 0) {
            put(json_pack("{s:n, s:{s:i, s:s}}", "id", "error", "code", -32700, "message",
                          too_long ? "a line over the bound" : "not JSON"),
                ud);
        }
        json_decref(msg);
        ad_buf_reset(&line);
        too_long = false;
    }
    ad_buf_cleanup(&line);
}
