#!/bin/sh
# SPDX-License-Identifier: MIT
# Two agentd builds side by side, taking turns on H1's load: `wrk -t1` on
# /healthz for 3 s each, requests per CPU-second from each server's
# utime+stime in /proc. On a noisy VM, where one build's H1 moves by a third
# between runs minutes apart, turns tell two builds apart where two
# bench/run.sh runs cannot.
# Usage: bench/h1-ab.sh OLD_BIN NEW_BIN [turns=6] [connections=16]
set -eu
A=$1; B=$2; TURNS=${3:-6}; C=${4:-16}
command -v wrk >/dev/null || { echo "h1-ab: wrk is missing (make bench-deps)" >&2; exit 2; }
DIR=$(mktemp -d /tmp/agentd-h1ab-XXXXXX)
PIDS=""
cleanup() { for p in $PIDS; do kill "$p" 2>/dev/null || true; done; sleep 0.3; rm -rf "$DIR"; }
trap cleanup EXIT INT TERM
head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$DIR/token"
chmod 600 "$DIR/token"
start() { # bin port -> pid
    mkdir -p "$DIR/d$2"
    "$1" serve --listen "127.0.0.1:$2" --data-dir "$DIR/d$2" --max-connections 30000 \
        --max-connections-per-token 0 --max-websockets-per-token 0 \
        --max-connections-per-address 30000 --log-level warn --token-file "$DIR/token" \
        >"$DIR/log$2" 2>&1 </dev/null &
    echo $!
}
PA=18082; PB=18083
while ss -ltn | grep -q ":$PA "; do PA=$((PA + 2)); done
PB=$((PA + 1))
ida=$(start "$A" $PA); idb=$(start "$B" $PB); PIDS="$ida $idb"
for port in $PA $PB; do
    i=0
    until curl -sf "http://127.0.0.1:$port/healthz" >/dev/null; do
        i=$((i + 1)); [ $i -lt 500 ] || { echo "h1-ab: no answer on $port" >&2; exit 1; }
        sleep 0.02
    done
done
HZ=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
turn() { # label port pid
    c0=$(cpu "$3")
    n=$(wrk -t1 -c"$C" -d3s "http://127.0.0.1:$2/healthz" | awk '/requests in/ {print $1}')
    c1=$(cpu "$3")
    echo "$1 $n $((c1 - c0)) $HZ" | awk '{ printf "%s %.1fk req/CPU-s   ", $1, $2 / ($3 / $4) / 1000 }'
}
wrk -t1 -c"$C" -d1s "http://127.0.0.1:$PA/healthz" >/dev/null
wrk -t1 -c"$C" -d1s "http://127.0.0.1:$PB/healthz" >/dev/null
t=0
while [ $t -lt "$TURNS" ]; do
    t=$((t + 1))
    turn old $PA "$ida"; turn new $PB "$idb"; echo
done
