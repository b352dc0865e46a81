/* SPDX-License-Identifier: MIT */
/*
 * Error codes: their names and descriptions, and AD_BUG(). Subsystems
 * translate library errors into these codes; this file only names them.
 */
#include "core.h"

#include <stdio.h>
#include <stdlib.h>

static const struct {
    const char *name;
    const char *text;
} errors[] = {
    [0] = {"OK", "success"},
    [1] = {"ENOMEM", "out of memory"},
    [2] = {"EINVAL", "invalid argument"},
    [3] = {"ENOENT", "not found"},
    [4] = {"EEXIST", "already exists"},
    [5] = {"ETOOBIG", "size limit exceeded"},
    [6] = {"EIO", "input/output error"},
    [7] = {"EBUSY", "resource busy"},
    [8] = {"ECONSTRAINT", "constraint violated"},
    [9] = {"EFULL", "storage full"},
    [10] = {"ECORRUPT", "data corrupt"},
    [11] = {"EAGAIN", "try again"},
    [12] = {"ECLOSED", "closed"},
    [13] = {"ETIMEDOUT", "timed out"},
    [14] = {"EPERM", "not permitted"},
    [15] = {"ESTATE", "not allowed in the current state"},
    [16] = {"EINTERNAL", "internal error"},
};

static int index_of(int err)
{
    if (err > 0 || err <= AD_ERR_MIN_) {
        return -1;
    }
    return -err;
}

const char *ad_strerror(int err)
{
    int i = index_of(err);
    return i < 0 ? "unknown error" : errors[i].text;
}

const char *ad_errname(int err)
{
    int i = index_of(err);
    return i < 0 ? "EUNKNOWN" : errors[i].name;
}

void ad_bug_(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "BUG: %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}
