/* SPDX-License-Identifier: MIT */
/*
 * Output another control plane streamed already (issue #77: "a line is
 * never delivered twice under two seqs"). With several planes on Redis, a
 * held run's plain output goes live on its plane's bus with `at`, the spool
 * offset past its lines (output.c), and reaches this plane's clients over
 * Redis under this plane's seqs. When this plane takes the run over, it
 * reads the spool again from the offset that plane had stored, which is
 * behind what it had streamed: those lines are stored here (they were not
 * stored there) but not streamed again, so a client never sees one line
 * under two seqs.
 *
 * A subscriber of the events that came over Redis (topic from:redis) keeps
 * the highest `at` per run and stream in a direct-mapped table of
 * SEEN_SLOTS runs (a run pushed out by another is streamed again whole, as
 * before). Loop thread; owned by the runner (ad_run_seen_start, _free).
 */
#include "run/run_int.h"

#include <stdlib.h>
#include <string.h>

#define SEEN_SLOTS 1024

typedef struct {
    char run_id[AD_ID_MAX];
    uint64_t at[2]; /* stdout, stderr */
} seen_slot_t;

struct ad_run_seen {
    ad_bus_sub_t *sub;
    seen_slot_t slots[SEEN_SLOTS];
};

static seen_slot_t *slot_of(ad_run_seen_t *s, const char *run_id)
{
    return &s->slots[ad_hash_str(run_id) % SEEN_SLOTS];
}

static int on_remote(void *ud, const ad_bus_event_t *ev)
{
    ad_run_seen_t *s = ud;
    if (strcmp(ad_bus_event_type(ev), "agent_output") != 0) {
        return 0;
    }
    size_t len = 0;
    const char *text = ad_bus_event_payload_text(ev, &len);
    json_t *p = text != NULL ? json_loadb(text, len, 0, NULL) : NULL;
    const char *run = json_string_value(json_object_get(p, "runId"));
    const char *stream = json_string_value(json_object_get(p, "stream"));
    json_int_t at = json_integer_value(json_object_get(p, "at"));
    if (run != NULL && strlen(run) < AD_ID_MAX && stream != NULL && at > 0 &&
        (strcmp(stream, "stdout") == 0 || strcmp(stream, "stderr") == 0)) {
        seen_slot_t *x = slot_of(s, run);
        if (strcmp(x->run_id, run) != 0) {
            memset(x, 0, sizeof(*x));
            snprintf(x->run_id, sizeof(x->run_id), "%s", run);
        }
        int i = stream[3] == 'o' ? 0 : 1;
        x->at[i] = (uint64_t)at > x->at[i] ? (uint64_t)at : x->at[i];
    }
    json_decref(p);
    return 0;
}

static void on_overflow(void *ud, uint64_t last_seq)
{
    AD_UNUSED(ud);
    AD_UNUSED(last_seq);
}

static const ad_bus_sub_ops_t seen_ops = {.deliver = on_remote, .overflow = on_overflow};

ad_run_seen_t *ad_run_seen_start(ad_bus_t *bus)
{
    ad_run_seen_t *s = ad_xcalloc(1, sizeof(*s));
    s->sub = ad_bus_sub_new(bus, &seen_ops, s, 0);
    const char *topics[] = {"from:redis"};
    if (s->sub == NULL || ad_bus_subscribe(s->sub, topics, 1, false, 0) != 0) {
        ad_run_seen_free(s);
        return NULL;
    }
    return s;
}

void ad_run_seen_free(ad_run_seen_t *s)
{
    if (s != NULL) {
        ad_bus_sub_free(s->sub);
        free(s);
    }
}

uint64_t ad_run_seen_at(ad_run_seen_t *s, const char *run_id, int stream)
{
    if (s == NULL || stream < 0 || stream > 1) {
        return 0;
    }
    seen_slot_t *x = slot_of(s, run_id);
    return strcmp(x->run_id, run_id) == 0 ? x->at[stream] : 0;
}
