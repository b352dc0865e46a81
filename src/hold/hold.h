/* SPDX-License-Identifier: MIT */
/*
 * hold: the per-agent holder process (`agentd hold`), its wire protocol
 * with the daemon, and its registry in the data dir. A holder owns one
 * agent's pipes or pty, appends every output byte to a spool file per
 * stream (the byte offset in that file is the offset everything else
 * speaks of), forwards input, signals and terminal sizes, reaps the agent
 * and keeps its exit status until a daemon has read the whole output. It
 * lets agents outlive the daemon (issue #15): a new daemon finds the
 * holders here, checks them by pid and process start time, reconnects and
 * asks for the output from the offset its store says it has.
 *
 * The registry: <data-dir>/hold/<run-id>/ (0700) holds
 *   info   "<holder pid> <holder start time> <agent pid> <pty 0|1>\n"
 *   out, err  the spools (append-only)
 *   exit   "<wait status>\n" once the agent has been reaped
 *   s      the holder's unix socket (0600; peers of another uid refused)
 *   log    the holder's own errors, one timestamped line each (its stderr
 *          is /dev/null); cut back to nothing past AD_HOLD_LOG_MAX
 * The daemon removes the directory once the run's end is stored.
 *
 * Threads: the holder is single-threaded; the registry helpers are plain
 * blocking file calls (small files, start-up and run end only).
 * Depends on core only.
 */
#ifndef AD_HOLD_H
#define AD_HOLD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* ---- the wire ------------------------------------------------------------
 * Frames both ways: an 8-byte header {u32 len (payload bytes), u8 type,
 * u8 stream (1 stdout, 2 stderr, else 0), u16 0} in host order (both ends
 * are on one machine), then len bytes.
 *
 * The compatibility rule, so that a daemon takes up the holders an older
 * (or newer) agentd left running, as an upgrade does: a frame type the
 * reader does not know is skipped whole (its length says how far); a
 * type's payload only grows at its end, and a reader takes the fields it
 * knows from the front and checks the length it needs; types are never
 * renumbered or reused. A holder that sends no HELLO is one from before
 * HELLO: it works as ever, its version unknown. */
#define AD_HOLD_HDR 8
/* The EXIT status of a replay holder whose agent's end nobody saw (the
 * holder was killed before it): not a wait status. */
#define AD_HOLD_STATUS_UNKNOWN (-1)
#define AD_HOLD_MAX_PAYLOAD (256u * 1024u)
/* What a spool keeps before an acknowledged offset: a terminal's
 * scrollback comes from there after a reattach. */
#define AD_HOLD_KEEP (64u * 1024u)
#define AD_HOLD_VERSION_MAX 63
/* The holder's log file stays below this (it starts over past it). */
#define AD_HOLD_LOG_MAX (64u * 1024u)

enum {
    /* holder -> daemon */
    AD_HOLD_DATA = 1,   /* u64 offset, then the bytes at that offset */
    AD_HOLD_SCROLL = 2, /* as DATA, terminal scrollback already stored */
    AD_HOLD_EOF = 3,    /* the stream has ended and every byte was sent */
    AD_HOLD_EXIT = 4,   /* i32 wait status; after both EOFs */
    /* A spool write failed (a full disk): the holder stopped reading the
     * agent's output, which now blocks on its write, and retries the write
     * on a timer; the bytes it read are kept, nothing is dropped. Payload:
     * i32 errno, then a short reason ("disk full"). Sent again to a daemon
     * that attaches while it lasts. An older daemon skips it. */
    AD_HOLD_STALL = 5,
    AD_HOLD_RESUME = 6, /* the spool takes writes again; reading goes on */
    /* The holder's agentd version (text, at most AD_HOLD_VERSION_MAX
     * bytes), the first frame after each ATTACH; `agentd version` lists
     * it. Holders from before it send none. */
    AD_HOLD_HELLO = 7,
    /* daemon -> holder */
    AD_HOLD_ATTACH = 16, /* u64 out offset, u64 err offset, u64 scrollback from */
    AD_HOLD_INPUT = 17,  /* bytes for the agent's stdin */
    AD_HOLD_CLOSE_IN = 18,
    AD_HOLD_SIGNAL = 19, /* i32 signal, to the agent's process group */
    AD_HOLD_RESIZE = 20, /* u16 rows, u16 cols */
    AD_HOLD_ACK = 21     /* u64 out, u64 err: stored up to there; the spool
                          * may drop what lies more than AD_HOLD_KEEP before */
};

static inline void ad_hold_hdr(unsigned char h[AD_HOLD_HDR], uint32_t len, unsigned type,
                               unsigned stream)
{
    h[0] = (unsigned char)(len & 0xff);
    h[1] = (unsigned char)((len >> 8) & 0xff);
    h[2] = (unsigned char)((len >> 16) & 0xff);
    h[3] = (unsigned char)((len >> 24) & 0xff);
    h[4] = (unsigned char)type;
    h[5] = (unsigned char)stream;
    h[6] = 0;
    h[7] = 0;
}

static inline uint32_t ad_hold_len(const unsigned char h[AD_HOLD_HDR])
{
    return (uint32_t)h[0] | (uint32_t)h[1] << 8 | (uint32_t)h[2] << 16 | (uint32_t)h[3] << 24;
}

/* ---- the holder ---------------------------------------------------------- */

/* `agentd hold DIR AGENT_PID PTY [WAIT_SEC]`, exec'd by the supervisor
 * (src/proc/spawn.c) between its fork of the agent and anything else:
 * fd 3 is the first daemon connection, fd 4 the agent's stdout (or the pty
 * master), fd 5 its stderr and fd 6 its stdin (-1 / closed with a pty).
 * `agentd hold --replay DIR` serves a dead holder's spool and exit file
 * on fd 3 (no agent). Returns the process exit status. */
int ad_hold_main(int argc, char **argv);
/* A sandboxed program's network (issue #80): one proxy per data dir,
 * `agentd hold --net-proxyd <data-dir>/proxy` (netproxyd.c; agentd itself
 * dispatches it, src/main.c: it resolves names, which the static
 * agentd-hold cannot), `--net-register FOLDER POLICY -- CMD...` around
 * bwrap, outside (netreg.c: the program's socket served, then CMD
 * exec'd), and `--net-bridge SOCK PORT -- CMD...` inside (netserve.c),
 * both from ad_hold_main; argv after the flag. Return an exit status
 * (the bridge: CMD's). */
int ad_hold_net_proxyd(int argc, char **argv);
int ad_hold_net_register(int argc, char **argv);
int ad_hold_net_bridge(int argc, char **argv);
/* reap.c: `--reap FILE ARGV0 ARGS...` runs FILE and exits as it did, and
 * kills everything below it when it ends or when agentd does (a child
 * that dies with the daemon: src/proc/spawn.c). argv after the flag. */
int ad_hold_reap(int argc, char **argv);

/* ---- the registry -------------------------------------------------------- */

typedef struct {
    pid_t pid;      /* the holder */
    uint64_t start; /* its start time (clock ticks since boot, /proc/PID/stat) */
    pid_t agent;    /* the agent: its process group leader */
    bool pty;
} ad_hold_info_t;

/* <data_dir>/hold (root) and <data_dir>/hold/<run_id>. 0, or AD_ETOOBIG. */
int ad_hold_root(const char *data_dir, char *out, size_t outsz);
int ad_hold_dir(const char *data_dir, const char *run_id, char *out, size_t outsz);
/* The start time of pid (field 22 of /proc/PID/stat); false when there is
 * no such process or it is a zombie. */
bool ad_hold_proc_start(pid_t pid, uint64_t *start);
/* Reads dir/info. 0, AD_ENOENT, AD_EINVAL (malformed). */
int ad_hold_info_read(const char *dir, ad_hold_info_t *info);
/* True when the holder of info still runs: its pid exists and started at
 * the recorded time (a reused pid is never taken for it). */
bool ad_hold_alive(const ad_hold_info_t *info);
/* The agent's wait status from dir/exit: 0, or AD_ENOENT before the exit. */
int ad_hold_exit_read(const char *dir, int *status);
/* Bytes in the spool of stream (1 stdout, 2 stderr); 0 when missing. */
uint64_t ad_hold_spool_size(const char *dir, int stream);
/* The end of dir/log (the holder's own errors): at most bufsz - 1 bytes,
 * NUL-terminated in buf; the count (0: none). */
size_t ad_hold_log_read(const char *dir, char *buf, size_t bufsz);
/* Removes dir and what a holder puts in it. */
void ad_hold_remove(const char *dir);

#endif
