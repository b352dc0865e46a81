/* SPDX-License-Identifier: MIT */
/*
 * The node link's WebSocket (node.h, "the link's socket"): once src/api
 * has checked the upgrade is a node token's, the socket carries the link
 * (its messages to the plane) and the token is watched: the link closes
 * 4401 the moment the token is revoked or expires. Moved from
 * src/api/nodes.c.
 *
 * Threads: loop thread only.
 */
#include "node/node.h"

#include <stdlib.h>

/* What a link's socket holds (its ad_ws_set_data): owned by the socket,
 * freed when it closes. */
typedef struct {
    ad_plane_link_t *link;
    ad_auth_watch_t *watch;
    ad_ws_t *ws;
} ws_link_t;

static void cred_ended(void *ud)
{
    ws_link_t *c = ud;
    ad_ws_close(c->ws, 4401, "unauthorized: the node's token has ended");
}

void ad_plane_ws_open(ad_plane_t *p, ad_auth_t *auth, ad_ws_t *ws, const ad_auth_cred_t *cred,
                      const char *token_id, const char *org_id)
{
    ws_link_t *c = ad_xcalloc(1, sizeof(*c));
    c->ws = ws;
    c->link = ad_plane_link_open(p, ws, token_id, org_id);
    ad_ws_set_data(ws, c);
    c->watch = ad_auth_watch(auth, cred, cred_ended, c);
}

void ad_plane_ws_message(ad_ws_t *ws, const char *data, size_t len, bool binary)
{
    ws_link_t *c = ad_ws_data(ws);
    if (c != NULL) {
        ad_plane_link_message(c->link, data, len, binary);
    }
}

void ad_plane_ws_closed(ad_ws_t *ws, int code)
{
    ws_link_t *c = ad_ws_data(ws);
    if (c == NULL) {
        return;
    }
    ad_plane_link_closed(c->link, code);
    ad_auth_unwatch(c->watch);
    free(c);
    ad_ws_set_data(ws, NULL);
}
