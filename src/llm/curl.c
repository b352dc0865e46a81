/* SPDX-License-Identifier: MIT */
/*
 * libcurl through dlopen: loaded on the first model call and kept for the
 * daemon's life (never dlclosed: its TLS stack keeps global state). Linking
 * it would map libcurl and its dependencies (~3.6 MB resident) in every
 * daemon, including those that never call a model (bench/README.md, S2).
 */
#include "llm/llm_int.h"

#include <dlfcn.h>
#include <stdio.h>

static ad_curl_t fns;
static int state; /* 0 not tried, 1 loaded, -1 failed */
static char why[256];

#define LOAD(field, sym)                                                                           \
    do {                                                                                           \
        *(void **)&fns.field = dlsym(h, #sym);                                                     \
        if (fns.field == NULL) {                                                                   \
            snprintf(why, sizeof(why), "libcurl has no %s", #sym);                                 \
            return -1;                                                                             \
        }                                                                                          \
    } while (0)

static int load(void *h)
{
    LOAD(global_init, curl_global_init);
    LOAD(easy_init, curl_easy_init);
    LOAD(easy_setopt, curl_easy_setopt);
    LOAD(easy_getinfo, curl_easy_getinfo);
    LOAD(easy_cleanup, curl_easy_cleanup);
    LOAD(easy_perform, curl_easy_perform);
    LOAD(easy_strerror, curl_easy_strerror);
    LOAD(slist_append, curl_slist_append);
    LOAD(slist_free_all, curl_slist_free_all);
    LOAD(multi_init, curl_multi_init);
    LOAD(multi_setopt, curl_multi_setopt);
    LOAD(multi_add_handle, curl_multi_add_handle);
    LOAD(multi_remove_handle, curl_multi_remove_handle);
    LOAD(multi_socket_action, curl_multi_socket_action);
    LOAD(multi_info_read, curl_multi_info_read);
    LOAD(multi_assign, curl_multi_assign);
    LOAD(multi_cleanup, curl_multi_cleanup);
    return 0;
}

const ad_curl_t *ad_curl_get(char *err, size_t errsz)
{
    if (state == 0) {
        state = -1;
        void *h = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
        if (h == NULL) {
            snprintf(why, sizeof(why), "cannot load libcurl.so.4: %s", dlerror());
        } else if (load(h) == 0) {
            if (fns.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
                snprintf(why, sizeof(why), "libcurl failed to initialise");
            } else {
                state = 1;
            }
        }
        if (state != 1) {
            ad_log(AD_LOG_WARN, "llm", "libcurl unavailable reason=\"%s\"", why);
        }
    }
    if (state != 1) {
        snprintf(err, errsz, "%s", why);
        return NULL;
    }
    return &fns;
}
