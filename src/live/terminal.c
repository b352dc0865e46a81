/* SPDX-License-Identifier: MIT */
/*
 * A browser terminal attached to a terminal agent's run (moved from
 * src/api/terminal.c, which checks who may open the socket): raw output
 * out as binary frames (the recent output first), binary frames in as raw
 * input, text frames as control messages {"type":"resize","rows","cols"}
 * or {"type":"input","data"}. A viewer that cannot keep up is let go
 * (1008), the run's end closes with 1000, and the credential it came with
 * is watched: revoked, signed out or expired, no keystroke reaches the
 * shell and the socket closes with 4401.
 */
#include "live/live.h"
#include "run/run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    ad_runner_t *runner;
    ad_ws_t *ws;
    ad_runner_tap_t *tap;
    char agent_id[AD_ID_MAX];
    ad_auth_watch_t *watch; /* the credential it came with, checked again */
} term_t;

/* The credential was revoked, signed out, rotated or has expired: no
 * keystroke reaches the shell after that. */
static void cred_ended(void *ud)
{
    term_t *t = ud;
    ad_runner_untap(t->tap);
    t->tap = NULL; /* ad_live_terminal_message drops input from here on */
    ad_ws_close(t->ws, 4401, "unauthorized: the token or session has ended");
}

static void on_raw(const char *data, size_t len, void *ud)
{
    term_t *t = ud;
    if (data == NULL) {
        t->tap = NULL; /* the run ended and the tap is gone */
        ad_ws_close(t->ws, 1000, "agent exited");
        return;
    }
    ad_wsmsg_t *m = ad_wsmsg_new(data, len, true);
    int rc = ad_ws_send_msg(t->ws, m);
    ad_wsmsg_unref(m);
    if (rc == AD_ETOOBIG) {
        /* A viewer that cannot keep up is let go; the agent runs on. */
        ad_runner_untap(t->tap);
        t->tap = NULL;
        ad_ws_close(t->ws, 1008, "terminal output queue full");
    }
}

void ad_live_terminal_open(ad_ws_t *ws, ad_runner_t *runner, ad_auth_t *auth,
                           const ad_auth_cred_t *cred, const char *agent_id)
{
    term_t *t = ad_xcalloc(1, sizeof(*t));
    t->runner = runner;
    t->ws = ws;
    snprintf(t->agent_id, sizeof(t->agent_id), "%s", agent_id != NULL ? agent_id : "");
    ad_ws_set_data(ws, t);
    if (auth != NULL) {
        t->watch = ad_auth_watch(auth, cred, cred_ended, t);
    }
    int rc = ad_runner_tap(runner, t->agent_id, on_raw, t, &t->tap);
    if (rc == AD_ENOENT) {
        ad_ws_close(ws, 4404, "agent not running");
    } else if (rc != 0) {
        ad_ws_close(ws, 4409, "agent has no terminal");
    }
}

void ad_live_terminal_message(ad_ws_t *ws, const char *data, size_t len, bool binary)
{
    term_t *t = ad_ws_data(ws);
    if (t == NULL || t->tap == NULL) {
        return;
    }
    if (binary) {
        ad_runner_write_raw(t->runner, t->agent_id, data, len);
        return;
    }
    json_t *msg = json_loadb(data, len, 0, NULL);
    const char *type = json_string_value(json_object_get(msg, "type"));
    if (type != NULL && strcmp(type, "resize") == 0) {
        json_int_t rows = json_integer_value(json_object_get(msg, "rows"));
        json_int_t cols = json_integer_value(json_object_get(msg, "cols"));
        if (rows > 0 && rows <= 1000 && cols > 0 && cols <= 1000) {
            ad_runner_resize(t->runner, t->agent_id, (uint16_t)rows, (uint16_t)cols);
        }
    } else if (type != NULL && strcmp(type, "input") == 0) {
        json_t *d = json_object_get(msg, "data");
        if (json_is_string(d)) {
            ad_runner_write_raw(t->runner, t->agent_id, json_string_value(d),
                                json_string_length(d));
        }
    }
    json_decref(msg);
}

void ad_live_terminal_close(ad_ws_t *ws)
{
    term_t *t = ad_ws_data(ws);
    if (t == NULL) {
        return;
    }
    ad_runner_untap(t->tap);
    ad_auth_unwatch(t->watch);
    free(t);
    ad_ws_set_data(ws, NULL);
}
