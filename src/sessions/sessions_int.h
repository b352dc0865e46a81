/* SPDX-License-Identifier: MIT */
/*
 * What the files of src/sessions share: the engine's state as watch.c
 * keeps it (the files themselves are src/sessfile's).
 */
#ifndef AD_SESSIONS_INT_H
#define AD_SESSIONS_INT_H

#include "sessions/sessions.h"

/* ---- watch.c ---------------------------------------------------------------------- */
/* The scan's list {sessions: […]} (ad_sessions_list without the agents
 * that hold them). Loop thread. */
void sess_list_scan(ad_sessions_t *S, ad_sessions_cb cb, void *ud);
ad_store_t *sess_store(const ad_sessions_t *S);
/* A step that waits on another subsystem holds S (sess_hold) and lets go
 * when it comes back (sess_release: true when S was closed meanwhile, and
 * may be gone now: the step then ends with AD_ECLOSED). */
void sess_hold(ad_sessions_t *S);
bool sess_release(ad_sessions_t *S);

#endif
