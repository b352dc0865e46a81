/* SPDX-License-Identifier: MIT */
/*
 * /ws/agents/:id/terminal: a browser terminal attached to a terminal agent.
 * Server to client: binary frames of raw terminal output (the recent output
 * first, so a viewer that attaches late sees the screen). Client to server:
 * binary frames are raw input; text frames are control messages,
 * {"type":"resize","rows":R,"cols":C} or {"type":"input","data":"…"}. The
 * socket closes with 1000 when the run ends, 4404 when the agent is not
 * running (or not the caller's), 4409 when it has no terminal, 4401/4403
 * without credentials or scope, and 4401 the moment its credential is
 * revoked, signed out or expires. Detaching leaves the agent running.
 */
#include "run/run.h"
#include "api/api_int.h"
#include "ws/ws.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
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
    t->tap = NULL; /* on_message drops input from here on */
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

static void on_open(ad_ws_t *ws, ad_req_t *upgrade, void *ud)
{
    ad_app_t *app = ud;
    const char *id = ad_ws_param(ws, "id");
    const char *reason = NULL;
    int code = ad_auth_ws_refusal(upgrade, &reason);
    if (code == 0 && ad_api_row_org(app, ad_api_who(upgrade), AD_API_AGENT, id, NULL) != 0) {
        code = 4404; /* another org's agent is answered like a missing one */
        reason = "agent not running";
    }
    if (code != 0) {
        ad_ws_close(ws, code, reason);
        return;
    }
    term_t *t = ad_xcalloc(1, sizeof(*t));
    t->ws = ws;
    snprintf(t->agent_id, sizeof(t->agent_id), "%s", id != NULL ? id : "");
    ad_ws_set_data(ws, t);
    if (app->auth != NULL) {
        ad_auth_cred_t cred;
        ad_auth_credential(upgrade, &cred);
        t->watch = ad_auth_watch(app->auth, &cred, cred_ended, t);
    }
    int rc = ad_runner_tap(app->runner, t->agent_id, on_raw, t, &t->tap);
    if (rc == AD_ENOENT) {
        ad_ws_close(ws, 4404, "agent not running");
    } else if (rc != 0) {
        ad_ws_close(ws, 4409, "agent has no terminal");
    }
}

static void on_message(ad_ws_t *ws, const char *data, size_t len, bool binary, void *ud)
{
    ad_app_t *app = ud;
    term_t *t = ad_ws_data(ws);
    if (t == NULL || t->tap == NULL) {
        return;
    }
    if (binary) {
        ad_runner_write_raw(app->runner, t->agent_id, data, len);
        return;
    }
    json_t *msg = json_loadb(data, len, 0, NULL);
    const char *type = json_string_value(json_object_get(msg, "type"));
    if (type != NULL && strcmp(type, "resize") == 0) {
        json_int_t rows = json_integer_value(json_object_get(msg, "rows"));
        json_int_t cols = json_integer_value(json_object_get(msg, "cols"));
        if (rows > 0 && rows <= 1000 && cols > 0 && cols <= 1000) {
            ad_runner_resize(app->runner, t->agent_id, (uint16_t)rows, (uint16_t)cols);
        }
    } else if (type != NULL && strcmp(type, "input") == 0) {
        json_t *d = json_object_get(msg, "data");
        if (json_is_string(d)) {
            ad_runner_write_raw(app->runner, t->agent_id, json_string_value(d),
                                json_string_length(d));
        }
    }
    json_decref(msg);
}

static void on_close(ad_ws_t *ws, int code, void *ud)
{
    AD_UNUSED(code);
    AD_UNUSED(ud);
    term_t *t = ad_ws_data(ws);
    if (t == NULL) {
        return;
    }
    ad_runner_untap(t->tap);
    ad_auth_unwatch(t->watch);
    free(t);
    ad_ws_set_data(ws, NULL);
}

static const ad_ws_handler_t handler = {on_open, on_message, on_close};

void ad_api_terminal_register(ad_app_t *app)
{
    if (app->runner == NULL) {
        return;
    }
    static const char *const protocols[] = {"bearer", NULL};
    ad_server_route_ws(app->server, "/ws/agents/:id/terminal", AD_ACCESS_ADMIN, protocols, &handler,
                       app);
}
