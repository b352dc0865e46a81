/* SPDX-License-Identifier: MIT */
/*
 * Test builds only: behaviour the end-to-end tests switch on with
 * AGENTD_TEST_* variables when the store opens.
 */
#include "store/store_int.h"

#ifdef AD_TEST_BUILD
#include <stdio.h>
#include <stdlib.h>

int ad_store_test_hooks(ad_store_t *st, char *err, size_t errsz)
{
    /* AGENTD_TEST_DB_FULL=1 caps the file at its current size
     * (max_page_count never goes below it), so writes that grow it fail
     * with SQLITE_FULL as on a full disk. */
    const char *cap = getenv("AGENTD_TEST_DB_FULL");
    if (cap != NULL && cap[0] == '1' && st->url != NULL) {
        snprintf(err, errsz, "AGENTD_TEST_DB_FULL caps a SQLite file: not on PostgreSQL");
        return AD_EINVAL;
    }
    if (cap != NULL && cap[0] == '1') {
        int e = ad_store_exec_raw(st->wdb, "PRAGMA max_page_count = 1", err, errsz, st->path,
                                  "test hook");
        ad_log(AD_LOG_WARN, "store", "test hook: database capped at its current size");
        return e;
    }
    return 0;
}
#endif
