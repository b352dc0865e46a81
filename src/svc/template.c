/* SPDX-License-Identifier: MIT */
/*
 * Built-in service templates: a service the training seed knows by name,
 * with its config schema written here so the user gives only the program
 * to run. One for now: the seed's Synthetic Eye (a zero-copy observation
 * compositor), with the fields its Settings form has: resolution,
 * lockstep, buffer pool size, socket path, and the read-only GPU device and
 * disabled pixel format of its Advanced Options. Built once; any thread
 * after the first call (make it from the loop thread at start).
 */
#include "svc/svc_int.h"

#include <string.h>

static json_t *templates;

static json_t *synthetic_eye(void)
{
    json_t *res = json_pack("[s,s,s,s]", "1280x720", "1920x1080", "2560x1440", "3840x2160");
    json_t *fields =
        json_pack("{s:{s:s, s:s, s:s, s:o, s:s}, s:{s:s, s:s, s:s, s:b},"
                  " s:{s:s, s:s, s:s, s:i, s:i, s:i}, s:{s:s, s:s, s:s, s:i, s:s},"
                  " s:{s:s, s:s, s:s, s:s, s:b}, s:{s:s, s:s, s:s, s:[s], s:s, s:b}}",
                  "resolution", "type", "string", "label", "Resolution", "description",
                  "Observation resolution (higher = more detail, lower = faster)", "enum", res,
                  "default", "1920x1080", "lockstep", "type", "boolean", "label", "Lockstep Mode",
                  "description", "Agent controls frame timing for deterministic training",
                  "default", 0, "bufferCount", "type", "integer", "label", "Buffer Pool Size",
                  "description", "Number of frame buffers for triple buffering (default 3)", "min",
                  2, "max", 5, "default", 3, "socketPath", "type", "string", "label", "Socket Path",
                  "description", "Unix domain socket for IPC", "maxLength", 107, "default",
                  "/tmp/synthetic-eye.sock", "drmDevice", "type", "string", "label", "GPU Device",
                  "description", "DRM device path", "default", "/dev/dri/card0", "readOnly", 1,
                  "format", "type", "string", "label", "Pixel Format", "description",
                  "GPU buffer format", "enum", "ARGB8888", "default", "ARGB8888", "disabled", 1);
    return json_pack("{s:s, s:s, s:s, s:{s:o}}", "id", "synthetic-eye", "name", "Synthetic Eye",
                     "description", "Zero-copy observation pipeline for training", "schema",
                     "fields", fields);
}

json_t *ad_svc_templates(void)
{
    if (templates == NULL) {
        templates = json_pack("[o]", synthetic_eye());
    }
    return templates;
}

json_t *ad_svc_template(const char *id)
{
    size_t i;
    json_t *t;
    json_array_foreach(ad_svc_templates(), i, t)
    {
        if (id != NULL && strcmp(json_string_value(json_object_get(t, "id")), id) == 0) {
            return t;
        }
    }
    return NULL;
}
