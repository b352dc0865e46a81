/* SPDX-License-Identifier: MIT */
/*
 * The key that signs what goes over Redis (cluster.h, issue #73): read from
 * --redis-key-file, or from <data-dir>/redis.key, made there at the first
 * start (0600, a random secret). Every message a node publishes ends with
 * `"n":SEQ,"at":MS,"mac":"HEX"}`: the HMAC-SHA256, under the key, of the
 * channel, a newline and the message's text up to (not with) `,"mac"`; a
 * message without one, with a wrong one, whose `at` is more than
 * AD_CLUSTER_MAC_SKEW_MS away from this node's clock, or whose mac was
 * taken already within that time (a replay) is refused.
 */
#include "cluster/cluster.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KEY_TEXT_MIN 32
#define KEY_TEXT_MAX 4096
#define MAC_TAIL_LEN (sizeof(",\"mac\":\"\"}") - 1 + 64)

/* The file at path (opened, no link followed) into key: the SHA-256 of its
 * text without trailing white space. A file others may read or write, or
 * whose text is shorter than KEY_TEXT_MIN, is refused. */
static int key_from(const char *path, uint8_t key[32], char *err, size_t errsz)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        snprintf(err, errsz, "redis key %s: %s", path, strerror(errno));
        return errno == ENOENT ? AD_ENOENT : AD_EIO;
    }
    struct stat st;
    char *text = ad_xmalloc(KEY_TEXT_MAX + 1);
    ssize_t n = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? read(fd, text, KEY_TEXT_MAX + 1) : -1;
    close(fd);
    int rc = 0;
    if (n < 0) {
        snprintf(err, errsz, "redis key %s: not a file that can be read", path);
        rc = AD_EIO;
    } else if ((st.st_mode & 077) != 0) {
        snprintf(err, errsz, "redis key %s: others may read it (mode %03o): chmod 600 it", path,
                 (unsigned)(st.st_mode & 0777));
        rc = AD_EINVAL;
    } else {
        while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r' || text[n - 1] == ' ')) {
            n--;
        }
        if (n < KEY_TEXT_MIN || n > KEY_TEXT_MAX) {
            snprintf(err, errsz, "redis key %s: %d to %d characters of secret expected", path,
                     KEY_TEXT_MIN, KEY_TEXT_MAX);
            rc = AD_EINVAL;
        } else {
            ad_sha256(text, (size_t)n, key);
        }
    }
    explicit_bzero(text, KEY_TEXT_MAX + 1);
    free(text);
    return rc;
}

int ad_cluster_key(const char *data_dir, const char *file, uint8_t key[32], char *err, size_t errsz)
{
    if (file != NULL && file[0] != '\0') {
        return key_from(file, key, err, errsz);
    }
    char path[4200];
    snprintf(path, sizeof(path), "%s/redis.key", data_dir);
    int rc = key_from(path, key, err, errsz);
    if (rc != AD_ENOENT) {
        return rc;
    }
    char secret[AD_SECRET_MAX];
    if (ad_secret_new(secret) != 0) {
        snprintf(err, errsz, "redis key: no random bytes from the kernel");
        return AD_EIO;
    }
    /* O_EXCL: two starts at once keep the one that was made first */
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd >= 0) {
        size_t len = strlen(secret);
        bool ok = ad_write_all(fd, secret, len) == len && ad_write_all(fd, "\n", 1) == 1;
        ok = close(fd) == 0 && ok;
        if (!ok) {
            snprintf(err, errsz, "cannot write %s: %s", path, strerror(errno));
            unlink(path);
            explicit_bzero(secret, sizeof(secret));
            return AD_EIO;
        }
        /* the nodes sharing this Redis need the same file (--redis-key-file) */
        ad_log(AD_LOG_INFO, "cluster", "redis key made path=%s", path);
    } else if (errno != EEXIST) {
        snprintf(err, errsz, "cannot make %s: %s", path, strerror(errno));
        explicit_bzero(secret, sizeof(secret));
        return AD_EIO;
    }
    explicit_bzero(secret, sizeof(secret));
    return key_from(path, key, err, errsz);
}

static void mac_hex(const uint8_t key[32], const char *channel, const char *text, size_t len,
                    char hex[65])
{
    /* channel '\n' text: a message signed for one channel is refused on
     * another */
    size_t cl = strlen(channel);
    char *msg = ad_xmalloc(cl + 1 + len);
    memcpy(msg, channel, cl);
    msg[cl] = '\n';
    memcpy(msg + cl + 1, text, len);
    uint8_t mac[32];
    ad_hmac_sha256(key, 32, msg, cl + 1 + len, mac);
    free(msg);
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < 32; i++) {
        hex[2 * i] = digits[mac[i] >> 4];
        hex[2 * i + 1] = digits[mac[i] & 15];
    }
    hex[64] = '\0';
}

int ad_cluster_sign(const uint8_t key[32], const char *channel, uint64_t seq, uint64_t now_ms,
                    ad_buf_t *b)
{
    if (b->len < 2 || b->data[b->len - 1] != '}') {
        return AD_EINVAL;
    }
    b->len--; /* its '}' */
    char at[80];
    snprintf(at, sizeof(at), "%s\"n\":%llu,\"at\":%llu", b->len > 1 ? "," : "",
             (unsigned long long)seq, (unsigned long long)now_ms);
    int rc = ad_buf_puts(b, at);
    char hex[65];
    if (rc == 0) {
        mac_hex(key, channel, b->data, b->len, hex);
        rc = ad_buf_puts(b, ",\"mac\":\"");
    }
    rc = rc != 0 ? rc : ad_buf_puts(b, hex);
    rc = rc != 0 ? rc : ad_buf_puts(b, "\"}");
    return rc;
}

/* The number after `"at":` in text[0..len), or -1. Read from the signed
 * text itself, which ends with it. */
static int64_t at_of(const char *text, size_t len)
{
    static const char tag[] = "\"at\":";
    size_t i = len;
    while (i > 0 && text[i - 1] >= '0' && text[i - 1] <= '9') {
        i--;
    }
    if (i == len || len - i > 18 || i < sizeof(tag) - 1 ||
        memcmp(text + i - (sizeof(tag) - 1), tag, sizeof(tag) - 1) != 0) {
        return -1;
    }
    int64_t v = 0;
    for (size_t k = i; k < len; k++) {
        v = v * 10 + (text[k] - '0');
    }
    return v;
}

/* Whether tag (a mac's first bytes) was taken within the skew; else it is
 * kept, over a slot whose message is older than the skew, or the oldest of
 * its probe. Only verified messages get in. */
static bool seen_before(ad_cluster_seen_t *tab, size_t n, uint64_t tag, int64_t at, int64_t now)
{
    enum { PROBE = 8 };
    size_t home = (size_t)(tag % n), victim = home;
    bool free_found = false;
    int64_t oldest = INT64_MAX;
    tag |= 1; /* 0 is an empty slot */
    for (size_t k = 0; k < PROBE; k++) {
        ad_cluster_seen_t *e = &tab[(home + k) % n];
        bool live = e->tag != 0 && e->at >= now - AD_CLUSTER_MAC_SKEW_MS;
        if (live && e->tag == tag) {
            return true;
        }
        if (!live && !free_found) {
            free_found = true;
            victim = (home + k) % n;
        } else if (live && !free_found && e->at < oldest) {
            oldest = e->at;
            victim = (home + k) % n;
        }
    }
    tab[victim] = (ad_cluster_seen_t){.tag = tag, .at = at};
    return false;
}

const char *ad_cluster_verify(const uint8_t key[32], const char *channel, const char *data,
                              size_t len, uint64_t now_ms, ad_cluster_seen_t *seen, size_t nseen,
                              size_t *signed_len)
{
    static const char open[] = ",\"mac\":\"";
    if (len < MAC_TAIL_LEN + 2 || data[len - 1] != '}' || data[len - 2] != '"' ||
        memcmp(data + len - MAC_TAIL_LEN, open, sizeof(open) - 1) != 0) {
        return "not signed (no mac)";
    }
    size_t body = len - MAC_TAIL_LEN;
    char want[65];
    mac_hex(key, channel, data, body, want);
    const char *got = data + body + sizeof(open) - 1;
    unsigned diff = 0;
    for (size_t i = 0; i < 64; i++) {
        diff |= (unsigned)(want[i] ^ got[i]);
    }
    if (diff != 0) {
        return "a mac that is not the key's (another --redis-key-file, or forged)";
    }
    int64_t at = at_of(data, body);
    int64_t skew = at < 0 ? -1 : at - (int64_t)now_ms;
    if (at < 0 || skew > AD_CLUSTER_MAC_SKEW_MS || skew < -AD_CLUSTER_MAC_SKEW_MS) {
        return "signed too long ago or ahead (at: a replay, or clocks apart)";
    }
    uint64_t tag = 0;
    for (size_t i = 0; i < 16; i++) {
        char ch = want[i];
        tag = tag << 4 | (uint64_t)(ch <= '9' ? ch - '0' : ch - 'a' + 10);
    }
    if (seen != NULL && nseen > 0 && seen_before(seen, nseen, tag, at, (int64_t)now_ms)) {
        return "a message taken already (a replay)";
    }
    *signed_len = body;
    return NULL;
}
