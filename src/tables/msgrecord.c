/* SPDX-License-Identifier: MIT */
/*
 * A message a client records for an agent (POST /api/agents/:id/messages):
 * its body checked into a typed row (messages.c's ad_store_message_from),
 * given an id and inserted by one writer job; after the commit it is
 * published as message_created and the caller gets its JSON text on the
 * loop. Also the page size of a message read.
 */
#include "bus/bus.h"
#include "store/table.h"
#include "tables/messages.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAGE_DEFAULT 50
#define PAGE_MAX 200

int ad_store_message_limit(const char *s, int *limit, ad_field_err_t *e)
{
    *limit = PAGE_DEFAULT;
    if (s == NULL || s[0] == '\0') {
        return 0;
    }
    long v = 0;
    size_t n = strlen(s);
    if (n > 6 || strspn(s, "0123456789") != n) {
        return ad_field_fail(e, "limit", "must be a whole number from 1 to 200");
    }
    for (size_t i = 0; i < n; i++) {
        v = v * 10 + (s[i] - '0');
    }
    if (v < 1 || v > PAGE_MAX) {
        return ad_field_fail(e, "limit", "must be a whole number from 1 to 200");
    }
    *limit = (int)v;
    return 0;
}

/* One message write in flight: the typed row, the request body its strings
 * point into, and the texts made for non-string tool fields. */
typedef struct {
    json_t *body;
    char *tool_text[2];
    char id[AD_ID_MAX];
    char agent_id[AD_ID_MAX];
    char org[AD_ID_MAX]; /* the agent's organisation, for the event */
    ad_store_message_t m;
    struct ad_bus *bus;
    ad_store_message_cb cb;
    void *ud;
} msg_write_t;

static void msg_write_free(msg_write_t *w)
{
    free(w->tool_text[0]);
    free(w->tool_text[1]);
    json_decref(w->body);
    free(w);
}

/* Writer thread. */
static int msg_job(ad_store_tx_t *tx, void *ctx)
{
    msg_write_t *w = ctx;
    return ad_store_message_insert(tx, &w->m);
}

/* Loop thread, after the commit: publish, then hand the text over. The
 * message is serialized once: the event's payload {"message": m} and the
 * caller's m are slices of the same text, built in a buffer kept between
 * writes (loop thread only; let go of when a big one grew it). */
static void msg_done(int rc, void *ctx)
{
    msg_write_t *w = ctx;
    static ad_buf_t text = {.max = (size_t)AD_STORE_MESSAGE_MAX * 7 + 64 * 1024};
    const ad_store_message_t *m = &w->m;
    if (rc != 0) {
        w->cb(rc, NULL, 0, w->ud);
        msg_write_free(w);
        return;
    }
    ad_buf_reset(&text);
    int e = ad_buf_puts(&text, "{\"message\":");
    size_t off = text.len;
    e = e ? e : ad_store_message_text(m, &text);
    e = e ? e : ad_buf_putc(&text, '}');
    if (e == 0) {
        ad_bus_publish_text_to(w->bus, "message_created", text.data, text.len, "agent", m->agent_id,
                               "worktree", m->worktree_id, "workspace", m->workspace_id, "org",
                               w->org, NULL);
        w->cb(0, text.data + off, text.len - off - 1, w->ud);
    } else {
        w->cb(AD_EINTERNAL, NULL, 0, w->ud);
    }
    if (text.cap > 64 * 1024) {
        ad_buf_cleanup(&text);
    }
    msg_write_free(w);
}

int ad_store_message_record(ad_store_t *st, struct ad_bus *bus, json_t *body, const char *agent_id,
                            const char *org, ad_store_message_cb cb, void *ud, ad_field_err_t *e)
{
    msg_write_t *w = ad_xcalloc(1, sizeof(*w));
    if (ad_store_message_from(body, &w->m, w->tool_text, e) != 0) {
        msg_write_free(w);
        return AD_EINVAL;
    }
    if (strlen(agent_id) >= sizeof(w->agent_id)) {
        /* Longer than any id: no such agent (what the insert would say). */
        msg_write_free(w);
        return AD_ENOENT;
    }
    w->body = json_incref(body);
    w->bus = bus;
    snprintf(w->org, sizeof(w->org), "%s", org);
    w->cb = cb;
    w->ud = ud;
    memcpy(w->agent_id, agent_id, strlen(agent_id) + 1);
    ad_id_new("msg", w->id);
    w->m.id = w->id;
    w->m.agent_id = w->agent_id;
    w->m.now = ad_wall_ms();
    ad_store_submit(st, msg_job, msg_done, w);
    return 0;
}
