/* SPDX-License-Identifier: MIT */
/*
 * The terminal feature (issue #79): a run in a terminal (state.terminal,
 * run->how.pty) has its raw output kept for viewers: the last
 * AD_RUN_REPLAY_BYTES for one that attaches later, and the live bytes to
 * every viewer attached now (ad_runner_tap, `agentd logs` on a terminal,
 * the dashboard's terminal).
 *
 * Owns (its state, allocated at the run's first bytes or first viewer):
 * the replay buffer and the viewers. Hooks: exit (each viewer is told the
 * end), free (viewers left are dropped untold: the runner closes).
 */
#include "run/features.h"

#include <stdlib.h>

typedef struct {
    ad_buf_t replay;       /* the last raw terminal output, for new viewers */
    ad_runner_tap_t *taps; /* the viewers attached now */
} tty_t;

static tty_t *tty_of(ad_run_t *run)
{
    tty_t *tty = ad_run_ctx_peek(run, AD_RUN_FEAT_TTY);
    if (tty == NULL) {
        tty = ad_run_ctx(run, AD_RUN_FEAT_TTY);
        ad_buf_init(&tty->replay, AD_RUN_REPLAY_BYTES);
    }
    return tty;
}

void ad_run_on_data(ad_proc_t *p, ad_proc_stream_t stream, const char *data, size_t len, void *ud)
{
    AD_UNUSED(p);
    AD_UNUSED(stream);
    ad_run_t *run = ud;
    tty_t *tty = tty_of(run);
    if (len >= AD_RUN_REPLAY_BYTES) {
        ad_buf_reset(&tty->replay);
        /* Its cap is AD_RUN_REPLAY_BYTES: exactly that fits an empty buffer. */
        AD_DISCARD(
            ad_buf_append(&tty->replay, data + len - AD_RUN_REPLAY_BYTES, AD_RUN_REPLAY_BYTES));
    } else {
        if (tty->replay.len + len > AD_RUN_REPLAY_BYTES) {
            ad_buf_consume(&tty->replay, tty->replay.len + len - AD_RUN_REPLAY_BYTES);
        }
        /* Room was made above: the tail always fits the cap. */
        AD_DISCARD(ad_buf_append(&tty->replay, data, len));
    }
    for (ad_runner_tap_t *t = tty->taps, *next; t != NULL; t = next) {
        next = t->next; /* a viewer may detach itself */
        t->cb(data, len, t->ud);
    }
}

int ad_runner_tap(ad_runner_t *r, const char *agent_id, ad_runner_raw_cb cb, void *ud,
                  ad_runner_tap_t **out)
{
    ad_run_t *run = ad_run_find(r, agent_id);
    if (run == NULL || run->proc == NULL) {
        return AD_ENOENT;
    }
    if (!run->how.pty) {
        return AD_ESTATE;
    }
    tty_t *tty = tty_of(run);
    ad_runner_tap_t *t = ad_xcalloc(1, sizeof(*t));
    t->run = run;
    t->cb = cb;
    t->ud = ud;
    t->next = tty->taps;
    if (tty->taps != NULL) {
        tty->taps->prev = t;
    }
    tty->taps = t;
    *out = t;
    if (tty->replay.len > 0) {
        cb(tty->replay.data, tty->replay.len, ud);
    }
    return 0;
}

void ad_runner_untap(ad_runner_tap_t *t)
{
    if (t == NULL) {
        return;
    }
    if (t->prev != NULL) {
        t->prev->next = t->next;
    } else {
        tty_of(t->run)->taps = t->next;
    }
    if (t->next != NULL) {
        t->next->prev = t->prev;
    }
    free(t);
}

/* The process ended: each viewer is told (cb with no bytes) and let go. */
static void tty_exit(ad_run_t *run, const ad_proc_exit_t *ex)
{
    AD_UNUSED(ex);
    tty_t *tty = ad_run_ctx_peek(run, AD_RUN_FEAT_TTY);
    while (tty != NULL && tty->taps != NULL) {
        ad_runner_tap_t *t = tty->taps;
        tty->taps = t->next;
        t->cb(NULL, 0, t->ud);
        free(t);
    }
}

static void tty_free(ad_run_t *run, void *ctx)
{
    AD_UNUSED(run);
    tty_t *tty = ctx;
    while (tty->taps != NULL) {
        ad_runner_tap_t *t = tty->taps;
        tty->taps = t->next;
        free(t);
    }
    ad_buf_cleanup(&tty->replay);
}

const ad_run_feature_t ad_run_feat_tty = {
    .name = "tty",
    .ctx_size = sizeof(tty_t),
    .exit = tty_exit,
    .free = tty_free,
};
