#!/bin/sh
# Runs a command with a throwaway PostgreSQL 15 (issue #39), as
# tests/e2e/lib/pg.js starts one: initdb into a temporary folder (as the
# user postgres when run as root, which initdb refuses), listening only on a
# unix socket in that folder, on a free port number; stopped and removed
# when the command ends, however it ends. The command gets
# AGENTD_TEST_PG_URL, a database its store tests may empty and fill
# (tests/unit/store_fixture.h); the e2e files (make e2e-pg) take the server
# it names and make a database per daemon on it (tests/e2e/lib/daemon.js),
# hence room for 300 connections. AGENTD_TEST_PG_LOG=DIR keeps the server's
# log (each failed statement with its text) as DIR/pg-unit.log;
# AGENTD_TEST_PG_OPTS adds server settings ("-c log_statement=all": what
# scripts/pg-pick.mjs reads).
# Usage: sh tests/unit/with-pg.sh CMD [ARG...]
set -eu
PG_BIN=${AGENTD_PG_BIN:-/usr/lib/postgresql/15/bin}
for b in initdb pg_ctl psql; do
    if [ ! -x "$PG_BIN/$b" ] && [ ! -x "/usr/bin/$b" ]; then
        echo "with-pg: PostgreSQL 15 is not installed ($PG_BIN/$b is missing):" \
            "install the Debian package postgresql (make deps does)" >&2
        exit 2
    fi
done
PSQL=/usr/bin/psql
[ -x "$PSQL" ] || PSQL=$PG_BIN/psql

# The server's folder goes on a tmpfs (/dev/shm) where there is one, or
# AGENTD_TEST_PG_TMP names: every database a test makes is ~1,000 files, and
# on an ext4 without a journal (this project's VMs) each new inode costs a
# scan for recently deleted ones: a CREATE DATABASE took 0.5-0.9 s of system
# CPU there against 0.08-0.11 s on a tmpfs (tests/e2e/lib/pg.js says the same).
base=${AGENTD_TEST_PG_TMP:-}
if [ -z "$base" ]; then
    base=/tmp
    if [ "$(stat -f -c %T /dev/shm 2>/dev/null)" = tmpfs ] && [ -w /dev/shm ]; then
        base=/dev/shm
    fi
fi
dir=$(mktemp -d "$base/agentd-unit-pg-XXXXXX")
as=""
if [ "$(id -u)" = 0 ]; then
    if ! id -u postgres >/dev/null 2>&1; then
        echo "with-pg: running as root and there is no user postgres to run PostgreSQL as" >&2
        rmdir "$dir"
        exit 2
    fi
    chown postgres:postgres "$dir"
    as="runuser -u postgres --"
fi
stop() {
    $as "$PG_BIN/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    if [ -n "${AGENTD_TEST_PG_LOG:-}" ] && [ -f "$dir/log" ]; then
        cp "$dir/log" "$AGENTD_TEST_PG_LOG/pg-unit.log" || true
    fi
    rm -rf "$dir"
}
trap stop EXIT
trap 'exit 130' INT TERM HUP

# A port number nothing listens on (the socket file is named after it).
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
$as "$PG_BIN/initdb" -D "$dir/data" -U agentd -E UTF8 --no-sync --auth-local=trust \
    --no-instructions >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
$as "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 120 \
    -o "-k $dir -p $port -c listen_addresses= -c fsync=off -c max_connections=300 ${AGENTD_TEST_PG_OPTS:-}" start >/dev/null ||
    { cat "$dir/log" >&2; exit 1; }
"$PSQL" -X -q -h "$dir" -p "$port" -U agentd -d postgres -c 'CREATE DATABASE agentd_unit'
export AGENTD_TEST_PG_URL="postgres://agentd@/agentd_unit?host=$dir&port=$port"
set +e
"$@"
rc=$?
set -e
exit $rc
