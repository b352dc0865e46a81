/* SPDX-License-Identifier: MIT */
/* libFuzzer harness for src/otel's OTLP receiver: the input is what a run
 * may post to /v1/traces; each span of it is checked and cut into the
 * store's form (ids, times, name, attributes, status) as ad_otel_ingest
 * does. Nothing may crash or leak, and every span kept has valid ids. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "otel/otel.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *req = json_loadb((const char *)data, size, 0, NULL);
    size_t i, j, k;
    json_t *r, *ss, *sp;
    json_array_foreach(json_object_get(req, "resourceSpans"), i, r)
    {
        json_array_foreach(json_object_get(r, "scopeSpans"), j, ss)
        {
            json_array_foreach(json_object_get(ss, "spans"), k, sp)
            {
                json_t *form = ad_otel_store_form(sp, "fuzz");
                if (form != NULL) {
                    const char *id = json_string_value(json_object_get(form, "spanId"));
                    if (id == NULL || strlen(id) != 16) {
                        abort();
                    }
                    char *text = json_dumps(form, JSON_COMPACT);
                    if (text == NULL) {
                        abort(); /* what is kept must serialize */
                    }
                    free(text);
                }
                json_decref(form);
            }
        }
    }
    json_decref(req);
    return 0;
}
