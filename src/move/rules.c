/* SPDX-License-Identifier: MIT */
/*
 * What a move decides without asking anything (move_int.h): whether the
 * agent may move now, and the words of its transcript's note. Pure.
 */
#include "move/move_int.h"

#include <stdio.h>
#include <string.h>

const char *ad_move_refusal(const ad_move_state_t *s, const char **why)
{
    const char *reason = NULL;
    *why = NULL;
    if (s->moving) {
        reason = "moving", *why = "the agent is being moved already";
    } else if (s->archived) {
        reason = "archived", *why = "the agent is archived";
    } else if (s->stopping) {
        reason = "stopping", *why = "the agent is stopping";
    } else if (s->queued) {
        reason = "queued", *why = "the agent has a start queued for a node: cancel it (stop the "
                                  "agent) first, then move it";
    } else if (s->running && s->approval) {
        reason = "approval_pending",
        *why = "the agent waits on an approval: answer it first, then move it";
    } else if (strcmp(s->from, s->to) == 0) {
        reason = "same_place", *why = "the agent is there already";
    } else if (s->running && s->from[0] != '\0' && !s->from_linked) {
        reason = "node_away",
        *why = "the node the agent runs on is not connected: its work and session cannot leave it "
               "now";
    }
    return reason;
}

void ad_move_note_text(const char *from_name, const char *to_name, bool running, char *out,
                       size_t outsz)
{
    snprintf(out, outsz, "moved from %s%s to %s%s%s", from_name != NULL ? "node " : "",
             from_name != NULL ? from_name : "the control plane", to_name != NULL ? "node " : "",
             to_name != NULL ? to_name : "the control plane",
             running ? "; it goes on there" : "; it runs there from its next start");
}
