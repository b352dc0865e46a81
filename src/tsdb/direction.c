/* SPDX-License-Identifier: MIT */
/*
 * Which way a training metric improves, from its name (issue #74: the
 * dashboard's "Best loss" showed the highest loss). The name is cut into
 * words (at anything not a letter or digit, and where a lower-case letter
 * meets an upper-case one: "valLoss" is "val loss"); the last word that is
 * a known quantity decides ("error_rate" is an error, "success_rate" a
 * success). A name with none of them counts as higher-is-better, as the
 * runs table always did. The user's setting (metric_directions, read by
 * src/tables/metricdir.c) comes before this rule.
 */
#include "tsdb/tsdb.h"

#include <ctype.h>
#include <string.h>

static const char *const LOWER[] = {"loss", "losses", "error",   "errors", "err",      "perplexity",
                                    "ppl",  "mse",    "mae",     "rmse",   "wer",      "cer",
                                    "nll",  "regret", "latency", "cost",   "distance", "divergence",
                                    "kl",   "mape",   "smape",   "entropy"};
static const char *const HIGHER[] = {
    "reward",  "rewards", "acc",   "accuracy", "success", "f1",   "precision",  "recall",
    "auc",     "auroc",   "score", "bleu",     "rouge",   "fps",  "throughput", "return",
    "returns", "map",     "iou",   "dice",     "r2",      "ndcg", "mrr",        "hit",
    "hits",    "win",     "wins",  "sps",      "tps"};

static int listed(const char *const *list, size_t n, const char *w)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(list[i], w) == 0) {
            return 1;
        }
    }
    return 0;
}

bool tsdb_lower_is_better(const char *name, bool *known)
{
    char words[16][32];
    size_t nw = 0, len = 0;
    bool prev_lower = false;
    for (const char *p = name != NULL ? name : "";; p++) {
        unsigned char ch = (unsigned char)*p;
        bool alnum = ch != '\0' && isalnum(ch);
        bool camel = alnum && isupper(ch) && prev_lower;
        if ((!alnum || camel) && len > 0) {
            words[nw % 16][len < 31 ? len : 31] = '\0';
            nw++;
            len = 0;
        }
        if (ch == '\0') {
            break;
        }
        if (alnum) {
            if (len < 31) {
                words[nw % 16][len] = (char)tolower(ch);
            }
            len++;
        }
        prev_lower = alnum && (islower(ch) || isdigit(ch));
    }
    /* the last 16 words, newest last */
    size_t have = nw < 16 ? nw : 16;
    for (size_t k = 0; k < have; k++) {
        const char *w = words[(nw - 1 - k) % 16];
        if (listed(LOWER, sizeof(LOWER) / sizeof(LOWER[0]), w)) {
            *known = true;
            return true;
        }
        if (listed(HIGHER, sizeof(HIGHER) / sizeof(HIGHER[0]), w)) {
            *known = true;
            return false;
        }
    }
    *known = false;
    return false;
}
