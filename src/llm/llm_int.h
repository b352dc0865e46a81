/* SPDX-License-Identifier: MIT */
/*
 * Private to src/llm: libcurl's functions, loaded with dlopen (curl.c) so
 * the daemon maps libcurl and its TLS stack only once a model is called.
 */
#ifndef AD_LLM_INT_H
#define AD_LLM_INT_H

#include <curl/curl.h>

#include "llm/llm.h"

typedef struct {
    __typeof__(curl_global_init) *global_init;
    __typeof__(curl_easy_init) *easy_init;
    __typeof__(curl_easy_setopt) *easy_setopt;
    __typeof__(curl_easy_getinfo) *easy_getinfo;
    __typeof__(curl_easy_cleanup) *easy_cleanup;
    __typeof__(curl_easy_perform) *easy_perform;
    __typeof__(curl_easy_strerror) *easy_strerror;
    __typeof__(curl_slist_append) *slist_append;
    __typeof__(curl_slist_free_all) *slist_free_all;
    __typeof__(curl_multi_init) *multi_init;
    __typeof__(curl_multi_setopt) *multi_setopt;
    __typeof__(curl_multi_add_handle) *multi_add_handle;
    __typeof__(curl_multi_remove_handle) *multi_remove_handle;
    __typeof__(curl_multi_socket_action) *multi_socket_action;
    __typeof__(curl_multi_info_read) *multi_info_read;
    __typeof__(curl_multi_assign) *multi_assign;
    __typeof__(curl_multi_cleanup) *multi_cleanup;
} ad_curl_t;

/* The loaded functions, or NULL with a reason in err (libcurl.so.4 absent
 * or too old). The first call loads and initialises; loop thread. */
const ad_curl_t *ad_curl_get(char *err, size_t errsz);

#endif
