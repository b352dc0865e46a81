/* SPDX-License-Identifier: MIT */
/*
 * Error codes: their names and descriptions, and AD_BUG(). Subsystems
 * translate library errors into these codes; this file only names them.
 */
#define _GNU_SOURCE /* strerrordesc_np, strerrorname_np */
#include "core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    [17] = {"EUNAVAIL", "the database is unreachable"},
};

/* The index of an AD_E* code in errors[] (0 for AD_OK), or -1. */
static int index_of(int err)
{
    if (err == AD_OK) {
        return 0;
    }
    if (!AD_IS_ERR(err)) {
        return -1;
    }
    return AD_ERR_BASE_ - err;
}

/* A -errno (errno values are below 200 on Linux; ours start at -1000), or 0. */
static int errno_of(int err)
{
    return err < 0 && err > AD_ERR_BASE_ ? -err : 0;
}

const char *ad_strerror(int err)
{
    int i = index_of(err);
    if (i >= 0) {
        return errors[i].text;
    }
    /* strerrordesc_np: static text, unlike strerror safe on any thread. */
    const char *t = errno_of(err) != 0 ? strerrordesc_np(errno_of(err)) : NULL;
    return t != NULL ? t : "unknown error";
}

const char *ad_errname(int err)
{
    int i = index_of(err);
    if (i >= 0) {
        return errors[i].name;
    }
    const char *n = errno_of(err) != 0 ? strerrorname_np(errno_of(err)) : NULL;
    return n != NULL ? n : "EUNKNOWN";
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

void ad_err_about(int err, const char *what, char *out, size_t outsz)
{
    switch (err) {
    case AD_ENOENT:
        snprintf(out, outsz, "%s not found", what);
        break;
    case AD_EEXIST:
        snprintf(out, outsz, "%s already exists", what);
        break;
    case AD_ECONSTRAINT:
        snprintf(out, outsz, "%s violates a constraint", what);
        break;
    case AD_EFULL:
        snprintf(out, outsz, "the disk is full: %s was not saved", what);
        break;
    case AD_EBUSY:
        snprintf(out, outsz, "the database is busy; try again");
        break;
    case AD_EUNAVAIL:
        snprintf(out, outsz, "the database is unreachable: %s was not read or saved", what);
        break;
    default:
        snprintf(out, outsz, "%s: %s", what, ad_strerror(err));
        break;
    }
}
