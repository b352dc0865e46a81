/* SPDX-License-Identifier: MIT */
/*
 * What the fleet engine's files share (fleet.h is its interface). The
 * engine's state is owned by plugin.c: made at open, freed once closed and
 * its hook's process (if any) and timers have ended.
 */
#ifndef AD_FLEET_INT_H
#define AD_FLEET_INT_H

#include "auth/auth.h"
#include "engine/engine.h"
#include "fleet/fleet.h"
#include "http/http.h"
#include "node/node.h"
#include "proc/proc.h"
#include "tables/fleet.h"
#include "ws/ws.h"

#include <jansson.h>
#include <uv.h>

/* A registration token's text: "<id>.<secret>", id "nrt_…" (AD_ID_MAX),
 * the secret 43 base64url characters. */
#define AD_FLEET_REG_PREFIX "nrt"
#define AD_FLEET_REG_TTL_DEFAULT 600     /* seconds */
#define AD_FLEET_REG_TTL_MAX (7 * 86400) /* seconds */
#define AD_FLEET_REG_USES_MAX 1000
#define AD_FLEET_OUT_MAX 8192 /* a hook's output kept (log, audit, lastRun) */

typedef struct ad_autoscale ad_autoscale_t;

typedef struct ad_fleet {
    ad_app_t *app;
    bool closed;
    ad_autoscale_t *as; /* NULL: no hook configured */
} ad_fleet_t;

/* Shared answers (plugin.c). */
const ad_principal_t *ad_fleet_who(const ad_req_t *r);
void ad_fleet_fail(ad_req_t *r, int rc, const char *what, const char *id);
void ad_fleet_invalid(ad_req_t *r, const ad_field_err_t *e);
/* An audit row for what a request does not record itself (a WebSocket's
 * trade, a refusal the guard would count as noise). */
void ad_fleet_audit(ad_fleet_t *f, const char *who, const char *remote, const char *org,
                    const char *method, const char *route, const char *target, int status,
                    const char *detail);

/* regs.c: /api/nodes/registration-tokens (admin). */
void ad_fleet_regs_routes(ad_fleet_t *f);
/* trade.c: POST /api/nodes/register and its WebSocket (public: the token is
 * the credential). */
void ad_fleet_trade_routes(ad_fleet_t *f);
/* events.c: GET /api/nodes/:id/events. */
void ad_fleet_events_routes(ad_fleet_t *f);
/* autoscale.c: the hook read from --node-autoscale (NULL: none; -1 and
 * why for a file that does not read), its state, its route. */
int ad_autoscale_open(ad_fleet_t *f, const char *path, char *why, size_t whysz);
void ad_autoscale_stop(ad_autoscale_t *a);
void ad_autoscale_routes(ad_fleet_t *f);

#endif
