/* SPDX-License-Identifier: MIT */
/*
 * The node's fence (issue #77, docs/nodes.md "Fencing"): every message a
 * control plane sends for a run carries the run's lease epoch, and the node
 * keeps the highest it has seen per run (wrun_t.lease, saved in the run's
 * record). A lower one comes from a plane that lost the run: refused, and
 * that plane told (`fenced` with the epoch seen) so it lets the run go.
 * Loop thread.
 */
#include "node/node_int.h"

bool ad_worker_lease_ok(worker_t *w, wrun_t *r, json_int_t lease, const char *what)
{
    uint32_t was = r->lease;
    uint32_t got = lease > 0 && lease <= UINT32_MAX ? (uint32_t)lease : 0;
    if (!ad_link_lease_ok(&r->lease, got)) {
        ad_log(AD_LOG_WARN, "node",
               "refused a message of a control plane that lost the run run=%s what=%s "
               "lease=%u seen=%u",
               r->id, what, got, r->lease);
        ad_worker_send(w, json_pack("{s:s, s:s, s:I}", "t", "fenced", "run", r->id, "lease",
                                    (json_int_t)r->lease));
        return false;
    }
    if (r->lease > was && was > 0) {
        ad_log(AD_LOG_INFO, "node", "run has a new owner run=%s lease=%u", r->id, r->lease);
    }
    if (r->lease > was && r->cwd[0] != '\0') { /* (a run whose spawn is done saves it then) */
        ad_worker_run_save(w, r);
    }
    return true;
}
