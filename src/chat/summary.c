/* SPDX-License-Identifier: MIT */
/*
 * Agents' one-line summaries (issue #76): when an agent's turn ends, or it
 * starts waiting for an approval or an answer (agent_status: waiting,
 * finished, error), and the summary_model setting names a model, the
 * model is asked for one line saying what the agent is doing and what it
 * needs, from the transcript of its last turn (sumtext.c), with the
 * agent's organisation's own key. The line is stored with its cost
 * (src/tables/summaries.c: the usage tables and the org's credits count
 * it) and published as agent_summary on the agent's and the org's topics.
 *
 * A turn already summarized (the newest message is the stored line's
 * turn) is not asked again. A model that fails (down, 429, 5xx, a stall)
 * only costs a log line: the agent is never touched, the last line stays.
 * At most SUM_AGENTS_MAX agents wait or are being summarized at once.
 *
 * Threads: loop thread only.
 */
#include "chat/chat.h"

#include "store/store.h"
#include "tables/settings.h"
#include "tables/summaries.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SUM_AGENTS_MAX 256  /* agents waiting for or in a summary at once */
#define SUM_DELAY_MS 400    /* after the event: the turn's last rows are written */
#define SUM_TRIES_MAX 25    /* waits for the turn's result message to be stored */
#define SUM_PAGE 40         /* messages read back */
#define SUM_ANSWER_MAX 4096 /* the model's answer kept (one line is taken) */
#define SUM_MAX_TOKENS 120
#define SUM_STALL_MS 30000
#define SUM_CONNECT_MS 10000

typedef struct job {
    struct job *next;
    ad_chat_sum_t *sum;
    char agent[AD_ID_MAX];
    char org[AD_ID_MAX];
    char ref[AD_ID_MAX];  /* the turn's result message, when the event named it */
    char turn[AD_ID_MAX]; /* the newest message the model is shown */
    char model[128];
    int64_t due;
    int tries;
    bool busy;  /* a request or its write is under way */
    bool again; /* another turn ended meanwhile */
    ad_llm_req_t *rq;
    ad_buf_t text;
} job_t;

struct ad_chat_sum {
    ad_chat_t *chat;
    uv_loop_t *loop;
    struct ad_store *st;
    ad_bus_t *bus;
    ad_creds_t *creds;
    ad_bus_sub_t *sub;
    uv_timer_t *timer;
    job_t *jobs;
    size_t n;
    ad_chat_sum_stats_t stats;
    bool stopped;
};

static const char *jstr(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s != NULL ? s : "";
}

/* The summary_model and summary_provider settings; false when off. */
static bool settings_of(ad_chat_sum_t *s, char *model, size_t msz, char *provider, size_t psz)
{
    json_t *all = NULL;
    if (ad_store_settings_get(s->st, &all) != 0) {
        return false;
    }
    snprintf(model, msz, "%s", jstr(all, "summary_model"));
    snprintf(provider, psz, "%s", jstr(all, "summary_provider"));
    json_decref(all);
    if (provider[0] == '\0') {
        snprintf(provider, psz, "anthropic");
    }
    return model[0] != '\0' && ad_chat_summary_model_ok(model);
}

static void job_free(ad_chat_sum_t *s, job_t *j)
{
    for (job_t **p = &s->jobs; *p != NULL; p = &(*p)->next) {
        if (*p == j) {
            *p = j->next;
            s->n--;
            break;
        }
    }
    ad_buf_cleanup(&j->text);
    free(j);
}

static void arm(ad_chat_sum_t *s);

/* The job's request and write are over: again if another turn ended. */
static void finish(job_t *j)
{
    ad_chat_sum_t *s = j->sum;
    j->busy = false;
    j->rq = NULL;
    if (j->again && !s->stopped) {
        j->again = false;
        j->tries = 0;
        j->due = (int64_t)ad_wall_ms() + SUM_DELAY_MS;
        arm(s);
        return;
    }
    job_free(s, j);
}

static void written(int rc, json_t *result, void *ud)
{
    job_t *j = ud;
    ad_chat_sum_t *s = j->sum;
    if (rc != 0) {
        s->stats.skipped++;
        ad_log(AD_LOG_WARN, "llm", "an agent's summary was not saved agent=%s err=%s", j->agent,
               ad_errname(rc));
    } else if (!s->stopped) {
        s->stats.made++;
        json_t *ev = json_pack("{s:s, s:s, s:O}", "agentId", j->agent, "orgId", j->org, "summary",
                               json_object_get(result, "summary"));
        ad_bus_publish_to(s->bus, "agent_summary", ev, "agent", j->agent, "org", j->org, NULL);
        json_decref(ev);
    }
    json_decref(result);
    finish(j);
}

static void on_delta(void *ud, ad_llm_delta_t kind, const char *text, size_t len)
{
    job_t *j = ud;
    if (kind == AD_LLM_TEXT && ad_buf_append(&j->text, text, len) != 0) {
        ad_llm_cancel(j->rq); /* longer than any line: what came is enough */
    }
}

static void on_end(void *ud, const ad_llm_result_t *res)
{
    job_t *j = ud;
    ad_chat_sum_t *s = j->sum;
    char line[AD_SUMMARY_TEXT_MAX + 1];
    bool cut = res->rc == AD_ECLOSED && j->text.len > 0 && !s->stopped;
    if (res->rc != 0 && !cut) {
        if (res->rc != AD_ECLOSED) {
            s->stats.failed++;
            ad_log(AD_LOG_WARN, "llm",
                   "an agent's summary failed; its last one stays agent=%s status=%d type=%s "
                   "attempts=%d",
                   j->agent, res->http_status, res->error_type, res->attempts);
        }
        finish(j);
        return;
    }
    ad_chat_summary_clean(j->text.data, line, sizeof(line));
    if (line[0] == '\0') {
        s->stats.failed++;
        ad_log(AD_LOG_WARN, "llm", "an agent's summary came back empty agent=%s", j->agent);
        finish(j);
        return;
    }
    const ad_llm_stream_t *st = res->stream;
    const char *model = st->model[0] != '\0' ? st->model : j->model;
    double cost = ad_chat_cost(s->chat, model, &st->usage);
    json_t *args = json_pack(
        "{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:f, s:I}", "agentId", j->agent, "text", line,
        "turn", j->turn, "model", model, "inputTokens", (json_int_t)st->usage.input_tokens,
        "outputTokens", (json_int_t)st->usage.output_tokens, "cacheReadTokens",
        (json_int_t)st->usage.cache_read_tokens, "cacheWriteTokens",
        (json_int_t)st->usage.cache_write_tokens, "costUsd", cost, "now", (json_int_t)ad_wall_ms());
    j->rq = NULL;
    ad_store_write(s->st, ad_store_op_agent_summary_set, args, written, j);
}

/* The request for job j's transcript: 0 and j busy, or why not (j stays
 * for the caller to free). */
static int ask(ad_chat_sum_t *s, job_t *j, const char *provider, const char *transcript)
{
    const char *key = ad_creds_key(s->creds, j->org, provider);
    if (key == NULL) {
        ad_log(AD_LOG_WARN, "llm", "no summary: the organisation has no key org=%s provider=%s",
               j->org, provider);
        return AD_EPERM;
    }
    char base[600], err[256] = "";
    ad_creds_base_url(s->creds, j->org, provider, base, sizeof(base));
    ad_llm_provider_t kind = AD_LLM_ANTHROPIC;
    ad_llm_provider_parse(provider, &kind);
    json_t *msgs = json_pack("[{s:s, s:s}]", "role", "user", "content", transcript);
    ad_llm_body_t b = {.provider = kind,
                       .model = j->model,
                       .system = ad_chat_summary_system,
                       .messages = msgs,
                       .temperature = 0,
                       .has_temperature = true,
                       .max_tokens = SUM_MAX_TOKENS};
    json_t *body = kind == AD_LLM_OPENAI ? ad_llm_request_body_openai(&b) : ad_llm_request_body(&b);
    json_decref(msgs);
    ad_llm_spec_t spec = {.provider = kind,
                          .base_url = base,
                          .api_key = key,
                          .body = body,
                          .max_retries = 1,
                          .stall_ms = SUM_STALL_MS,
                          .connect_ms = SUM_CONNECT_MS};
    ad_llm_cbs_t cbs = {.on_delta = on_delta, .on_end = on_end};
    ad_buf_reset(&j->text);
    j->busy = true;
    int rc = ad_llm_start(ad_chat_llm(s->chat), &spec, &cbs, j, &j->rq, err, sizeof(err));
    json_decref(body);
    if (rc != 0) {
        j->busy = false;
        ad_log(AD_LOG_WARN, "llm", "an agent's summary was not asked agent=%s err=%s", j->agent,
               err);
    }
    return rc;
}

/* Whether the page holds the message id. */
static bool page_has(const json_t *msgs, const char *id)
{
    size_t i;
    json_t *m;
    json_array_foreach(msgs, i, m)
    {
        if (strcmp(jstr(m, "id"), id) == 0) {
            return true;
        }
    }
    return false;
}

/* A job whose time came: 1 when it waits on (a later try), 0 when it was
 * started, else it is over (the caller frees it). */
static int run(ad_chat_sum_t *s, job_t *j)
{
    char provider[16], stored[AD_SUMMARY_TURN_MAX + 1];
    if (!settings_of(s, j->model, sizeof(j->model), provider, sizeof(provider))) {
        return AD_ENOENT; /* turned off meanwhile */
    }
    /* the key is the agent's own org's, as its row says (not the event's word) */
    if (ad_store_agent_summary_org(s->st, j->agent, j->org) != 0) {
        return AD_ENOENT; /* gone or archived */
    }
    json_t *msgs = NULL;
    if (ad_store_agent_summary_input(s->st, j->agent, SUM_PAGE, &msgs) != 0) {
        return AD_EIO;
    }
    if (j->ref[0] != '\0' && !page_has(msgs, j->ref) && ++j->tries < SUM_TRIES_MAX) {
        json_decref(msgs); /* the turn's result is not stored yet */
        j->due = (int64_t)ad_wall_ms() + SUM_DELAY_MS;
        return 1;
    }
    ad_buf_t tx;
    ad_buf_init(&tx, AD_CHAT_SUMMARY_INPUT_MAX);
    int rc = ad_chat_summary_transcript(msgs, &tx, j->turn);
    json_decref(msgs);
    if (rc == 0 && ad_store_agent_summary_turn(s->st, j->agent, stored) == 0 &&
        strcmp(stored, j->turn) == 0) {
        rc = AD_EEXIST; /* this turn has its line: not asked again */
        s->stats.cached++;
    }
    if (rc == 0 && (rc = ask(s, j, provider, tx.data)) != 0) {
        s->stats.skipped++;
    }
    ad_buf_cleanup(&tx);
    return rc;
}

static void on_timer(uv_timer_t *t)
{
    ad_chat_sum_t *s = t->data;
    int64_t now = (int64_t)ad_wall_ms();
    job_t *j = s->jobs;
    while (j != NULL && !s->stopped) {
        job_t *next = j->next;
        if (!j->busy && j->due <= now && run(s, j) < 0) {
            job_free(s, j);
        }
        j = next;
    }
    arm(s);
}

/* The timer set to the soonest job that waits. */
static void arm(ad_chat_sum_t *s)
{
    int64_t soonest = -1, now = (int64_t)ad_wall_ms();
    for (job_t *j = s->jobs; j != NULL; j = j->next) {
        if (!j->busy && (soonest < 0 || j->due < soonest)) {
            soonest = j->due;
        }
    }
    if (soonest < 0 || s->stopped) {
        uv_timer_stop(s->timer);
        return;
    }
    uv_timer_start(s->timer, on_timer, (uint64_t)(soonest > now ? soonest - now : 0), 0);
}

/* An agent's turn ended or it waits for somebody: its job (re)started. */
static void wanted(ad_chat_sum_t *s, const char *org, const char *agent, const json_t *why)
{
    char model[128], provider[16];
    if (strlen(agent) == 0 || strlen(agent) >= AD_ID_MAX ||
        !settings_of(s, model, sizeof(model), provider, sizeof(provider))) {
        return;
    }
    job_t *j = s->jobs;
    while (j != NULL && strcmp(j->agent, agent) != 0) {
        j = j->next;
    }
    if (j == NULL) {
        if (s->n >= SUM_AGENTS_MAX) {
            s->stats.skipped++;
            ad_log(AD_LOG_WARN, "llm", "too many summaries waiting; one skipped agent=%s", agent);
            return;
        }
        j = ad_xcalloc(1, sizeof(*j));
        j->sum = s;
        snprintf(j->agent, sizeof(j->agent), "%s", agent);
        ad_buf_init(&j->text, SUM_ANSWER_MAX);
        j->next = s->jobs;
        s->jobs = j;
        s->n++;
    }
    snprintf(j->org, sizeof(j->org), "%s", org);
    const char *code = jstr(why, "code");
    bool turn = strcmp(code, "turn_ended") == 0 || strcmp(code, "turn_failed") == 0;
    snprintf(j->ref, sizeof(j->ref), "%s", turn ? jstr(why, "ref") : "");
    if (j->busy) {
        j->again = true;
        return;
    }
    j->tries = 0;
    j->due = (int64_t)ad_wall_ms() + SUM_DELAY_MS;
    arm(s);
}

static int on_event(void *ud, const ad_bus_event_t *ev)
{
    ad_chat_sum_t *s = ud;
    char org[AD_ID_MAX];
    if (s->stopped || strcmp(ad_bus_event_type(ev), "agent_status") != 0 ||
        ad_bus_event_remote(ev) || !ad_bus_event_org(ev, org)) {
        return 0; /* another plane's agent: that plane summarizes it */
    }
    size_t len = 0;
    const char *text = ad_bus_event_payload_text(ev, &len);
    json_t *pl = json_loadb(text, len, 0, NULL);
    const char *status = jstr(pl, "status");
    if (strcmp(status, "waiting") == 0 || strcmp(status, "finished") == 0 ||
        strcmp(status, "error") == 0) {
        wanted(s, org, jstr(pl, "agentId"), json_object_get(pl, "statusReason"));
    }
    json_decref(pl);
    return 0;
}

static const ad_bus_sub_ops_t sub_ops = {.deliver = on_event};

ad_chat_sum_t *ad_chat_sum_new(ad_chat_t *c, uv_loop_t *loop, struct ad_store *st, ad_bus_t *bus,
                               ad_creds_t *creds)
{
    ad_chat_sum_t *s = ad_xcalloc(1, sizeof(*s));
    *s = (ad_chat_sum_t){.chat = c, .loop = loop, .st = st, .bus = bus, .creds = creds};
    s->timer = ad_xcalloc(1, sizeof(*s->timer));
    uv_timer_init(loop, s->timer);
    s->timer->data = s;
    uv_unref((uv_handle_t *)s->timer);
    if (bus != NULL) {
        s->sub = ad_bus_sub_new(bus, &sub_ops, s, 0);
        const char *topics[1] = {"agent:*"};
        ad_bus_subscribe(s->sub, topics, 1, false, 0);
    }
    return s;
}

void ad_chat_sum_stop(ad_chat_sum_t *s)
{
    if (s == NULL || s->stopped) {
        return;
    }
    s->stopped = true;
    if (s->sub != NULL) {
        ad_bus_sub_free(s->sub);
        s->sub = NULL;
    }
    uv_timer_stop(s->timer);
    job_t *j = s->jobs;
    while (j != NULL) {
        job_t *next = j->next;
        if (j->rq != NULL) {
            ad_llm_cancel(j->rq); /* on_end: finish frees it */
        } else if (!j->busy) {
            job_free(s, j);
        } /* else its write is under way: freed when it comes back */
        j = next;
    }
}

static void timer_closed(uv_handle_t *h)
{
    free(h);
}

void ad_chat_sum_free(ad_chat_sum_t *s)
{
    if (s == NULL) {
        return;
    }
    ad_chat_sum_stop(s);
    while (s->jobs != NULL) {
        job_free(s, s->jobs); /* writes the store never answered (it is closed) */
    }
    uv_close((uv_handle_t *)s->timer, timer_closed);
    free(s);
}

void ad_chat_sum_stats(const ad_chat_sum_t *s, ad_chat_sum_stats_t *out)
{
    if (s != NULL) {
        *out = s->stats;
    }
}
