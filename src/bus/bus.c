/* SPDX-License-Identifier: MIT */
/*
 * Placeholder bus: assigns sequence numbers and delivers to nobody. It lets
 * the Store issue publish its events through the final signature; the Event
 * bus issue replaces this file with the real fan-out, ring and persistence.
 */
#include "bus/bus.h"

#include <stdlib.h>

struct ad_bus {
    uint64_t seq;
};

ad_bus_t *ad_bus_new(uv_loop_t *loop, const ad_config_t *cfg)
{
    AD_UNUSED(loop);
    AD_UNUSED(cfg);
    return ad_xcalloc(1, sizeof(ad_bus_t));
}

void ad_bus_free(ad_bus_t *bus)
{
    free(bus);
}

uint64_t ad_bus_publish(ad_bus_t *bus, const char *type, const char *const *topics,
                        size_t ntopics, json_t *payload)
{
    AD_UNUSED(type);
    AD_UNUSED(topics);
    AD_UNUSED(ntopics);
    AD_UNUSED(payload);
    return bus ? ++bus->seq : 0;
}

uint64_t ad_bus_seq(const ad_bus_t *bus)
{
    return bus->seq;
}
