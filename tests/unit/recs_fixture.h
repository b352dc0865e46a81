/* SPDX-License-Identifier: MIT */
/*
 * Shared by the parser tests (test-agent-parser.c, test-agent-recorded.c):
 * transcripts under tests/fixtures/transcripts/ fed into a parser line by
 * line, and lookups in the records it gave. Run from the repository root.
 * Include after cmocka.h.
 */
#ifndef AD_TEST_RECS_FIXTURE_H
#define AD_TEST_RECS_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>

#include "agent/agent.h"

/* Not every test file uses every helper. */
#pragma GCC diagnostic ignored "-Wunused-function"

#define FIX "tests/fixtures/transcripts/"

/* Feeds a whole file, line i at time 1000 + i*10 ms, into p. */
static void feed_into(ad_parser_t *p, const char *name, ad_recs_t *out)
{
    char path[512];
    snprintf(path, sizeof(path), FIX "%s", name);
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        fail_msg("cannot open %s (run the tests from the repository root)", path);
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    uint64_t now = 1000;
    while ((n = getline(&line, &cap, f)) >= 0) {
        if (n > 0 && line[n - 1] == '\n') {
            n--;
        }
        ad_parser_feed(p, line, (size_t)n, now, out);
        now += 10;
    }
    free(line);
    fclose(f);
}

/* A new parser of kind fed the whole file. Returns it (owned). */
static ad_parser_t *feed_file(ad_executor_t kind, const char *name, ad_recs_t *out)
{
    ad_parser_t *p = ad_parser_new(kind);
    feed_into(p, name, out);
    return p;
}

static size_t count(const ad_recs_t *r, ad_rec_type_t t)
{
    size_t c = 0;
    for (size_t i = 0; i < r->n; i++) {
        c += r->v[i].type == t;
    }
    return c;
}

/* The nth record of type t (0-based), or fail. */
static const ad_rec_t *nth(const ad_recs_t *r, ad_rec_type_t t, size_t k)
{
    for (size_t i = 0; i < r->n; i++) {
        if (r->v[i].type == t && k-- == 0) {
            return &r->v[i];
        }
    }
    fail_msg("record type %d #%zu missing", (int)t, k);
    return NULL;
}

#endif
