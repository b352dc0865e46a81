#!/bin/sh
# SPDX-License-Identifier: MIT
# Builds REF's release binaries (default: main) from an export of its tree
# (git archive: no worktree is registered) and prints the path of its
# agentd, for the rows that set a change against the code before it in the
# same run (SP1: AGENTD_BASE_BIN=$(bench/base.sh integ4)). The tree stays
# under ${TMPDIR:-/tmp}/agentd-base-REF until removed; a second call
# reuses it (and rebuilds nothing when REF has not moved).
set -eu
ref="${1:-main}"
commit="$(git rev-parse --verify "$ref^{commit}")"
dir="${TMPDIR:-/tmp}/agentd-base-$(printf '%s' "$ref" | tr -c 'A-Za-z0-9._-' '_')"
if [ ! -f "$dir/.commit" ] || [ "$(cat "$dir/.commit")" != "$commit" ]; then
    rm -rf "$dir"
    mkdir -p "$dir"
    git archive "$commit" | tar -x -C "$dir"
    echo "$commit" >"$dir/.commit"
fi
# agentd-tls.so (OpenSSL, src/tls) where REF has it, as agentd loads it from beside itself
tls=""
if grep -q 'agentd-tls.so:' "$dir/Makefile"; then tls=build/release/agentd-tls.so; fi
make -C "$dir" BUILD=release -j"$(nproc)" build/release/agentd build/release/agentd-hold \
    build/release/agentd-git.so $tls >&2
echo "$dir/build/release/agentd"
