/* SPDX-License-Identifier: MIT */
/*
 * Topic index: exact topics in a hash table, prefix patterns ("agent:*") in
 * a list with one node per distinct prefix. Each node holds the entries of
 * the subscribers that hold it; bus.c owns the entries and subscribers.
 */
#include "bus/bus_int.h"

#include <stdlib.h>
#include <string.h>

static uint32_t hash_bytes(const char *s, size_t n)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 16777619u;
    }
    return h;
}

void ad_bus_index_init(bus_index_t *ix)
{
    memset(ix, 0, sizeof(*ix));
    ix->nbuckets = 64;
    ix->buckets = ad_xcalloc(ix->nbuckets, sizeof(bus_node_t *));
}

void ad_bus_index_cleanup(bus_index_t *ix)
{
    for (size_t i = 0; i < ix->nbuckets; i++) {
        bus_node_t *n = ix->buckets[i];
        while (n != NULL) {
            bus_node_t *next = n->next;
            free(n);
            n = next;
        }
    }
    bus_node_t *p = ix->prefixes;
    while (p != NULL) {
        bus_node_t *next = p->next;
        free(p);
        p = next;
    }
    free(ix->buckets);
    memset(ix, 0, sizeof(*ix));
}

static void grow(bus_index_t *ix)
{
    size_t nb = ix->nbuckets * 2;
    bus_node_t **b = ad_xcalloc(nb, sizeof(bus_node_t *));
    for (size_t i = 0; i < ix->nbuckets; i++) {
        bus_node_t *n = ix->buckets[i];
        while (n != NULL) {
            bus_node_t *next = n->next;
            size_t k = n->hash & (nb - 1);
            n->next = b[k];
            b[k] = n;
            n = next;
        }
    }
    free(ix->buckets);
    ix->buckets = b;
    ix->nbuckets = nb;
}

bus_node_t *ad_bus_index_exact(const bus_index_t *ix, const char *topic, size_t len)
{
    uint32_t h = hash_bytes(topic, len);
    for (bus_node_t *n = ix->buckets[h & (ix->nbuckets - 1)]; n != NULL; n = n->next) {
        if (n->hash == h && n->len == len && memcmp(n->key, topic, len) == 0) {
            return n;
        }
    }
    return NULL;
}

static bus_node_t *node_new(const char *key, size_t len, bool prefix)
{
    bus_node_t *n = ad_xcalloc(1, sizeof(*n) + len + 1);
    memcpy(n->key, key, len);
    n->len = len;
    n->prefix = prefix;
    n->hash = hash_bytes(key, len);
    return n;
}

bus_node_t *ad_bus_index_node(bus_index_t *ix, const char *pattern, bool create)
{
    size_t len = strlen(pattern);
    if (len > 0 && pattern[len - 1] == '*') {
        len--;
        for (bus_node_t *p = ix->prefixes; p != NULL; p = p->next) {
            if (p->len == len && memcmp(p->key, pattern, len) == 0) {
                return p;
            }
        }
        if (!create) {
            return NULL;
        }
        bus_node_t *n = node_new(pattern, len, true);
        n->next = ix->prefixes;
        ix->prefixes = n;
        ix->nprefixes++;
        return n;
    }
    bus_node_t *n = ad_bus_index_exact(ix, pattern, len);
    if (n != NULL || !create) {
        return n;
    }
    if (ix->count >= ix->nbuckets) {
        grow(ix);
    }
    n = node_new(pattern, len, false);
    size_t k = n->hash & (ix->nbuckets - 1);
    n->next = ix->buckets[k];
    ix->buckets[k] = n;
    ix->count++;
    return n;
}

void ad_bus_index_release(bus_index_t *ix, bus_node_t *node)
{
    if (node->entries != NULL) {
        return;
    }
    bus_node_t **pp = node->prefix ? &ix->prefixes : &ix->buckets[node->hash & (ix->nbuckets - 1)];
    while (*pp != NULL && *pp != node) {
        pp = &(*pp)->next;
    }
    if (*pp == NULL) {
        AD_BUG("topic node not in its index");
    }
    *pp = node->next;
    if (node->prefix) {
        ix->nprefixes--;
    } else {
        ix->count--;
    }
    free(node);
}

bool ad_bus_pattern_match(const char *pattern, const char *topic)
{
    size_t len = strlen(pattern);
    if (len > 0 && pattern[len - 1] == '*') {
        return strncmp(pattern, topic, len - 1) == 0;
    }
    return strcmp(pattern, topic) == 0;
}

bool ad_bus_node_match(const bus_node_t *node, const char *topic, size_t len)
{
    if (node->prefix) {
        return len >= node->len && memcmp(node->key, topic, node->len) == 0;
    }
    return len == node->len && memcmp(node->key, topic, len) == 0;
}

bool ad_bus_topic_valid(const char *topic)
{
    size_t len = strlen(topic);
    if (len == 0 || len > AD_BUS_TOPIC_MAX) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)topic[i];
        if (c <= 0x20 || c >= 0x7f || c == '"' || c == '\\') {
            return false;
        }
        if (c == '*' && i != len - 1) {
            return false;
        }
    }
    return true;
}
