#!/bin/sh
# SPDX-License-Identifier: MIT
# Installs what `make bench` needs beyond `make deps`: the peer servers and
# load tools from Debian (only those missing) and the npm peers pinned by
# bench/package-lock.json. Bun comes from npm as a prebuilt binary; if it
# does not install, the benchmarks report it as unavailable.
set -eu
cd "$(dirname "$0")"

PKGS="nginx-light redis-server nats-server wrk hyperfine sqlite3 util-linux procps tmux"
missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
if [ -n "$missing" ]; then
    SUDO=""
    if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
    echo "bench-deps: installing$missing"
    export DEBIAN_FRONTEND=noninteractive
    if ! $SUDO apt-get install -y -q --no-install-recommends $missing; then
        $SUDO apt-get update -q
        $SUDO apt-get install -y -q --no-install-recommends $missing
    fi
    # Debian starts the packaged services; the benchmarks run their own.
    for svc in nginx redis-server nats-server; do
        if command -v service >/dev/null 2>&1; then $SUDO service "$svc" stop >/dev/null 2>&1 || true; fi
    done
fi

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    npm ci --no-audit --no-fund --loglevel=error
fi
if ! node_modules/.bin/bun --version >/dev/null 2>&1; then
    echo "bench-deps: bun did not install or does not run; Bun peers will be reported n/a" >&2
fi
echo "bench-deps: ok"
