#!/bin/sh
# A tarball of agentd for machines without dpkg:
#   sh scripts/dist.sh BUILD_DIR VERSION OUT_DIR
# agentd-VERSION-ARCH/ holds the binaries side by side (agentd finds
# agentd-hold, agentd-git.so and agentd-tls.so beside itself), share/ (manual pages and
# completion scripts, as `make` wrote them), the systemd units `agentd
# service units` writes, the copyright and a VERSION file. Prints its path.
set -eu

O=$1
VERSION=$2
OUT=$3
ARCH=$(uname -m)
TOP=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/agentd-dist.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
NAME=agentd-$VERSION-linux-$ARCH
D=$WORK/$NAME

mkdir -p "$D"
for b in agentd agentd-hold agentd-git.so agentd-tls.so agentd-tray; do
    [ -f "$O/$b" ] || continue
    cp "$O/$b" "$D/$b"
done
# agentd itself: the static-enough link (make's $(O)/dist/agentd)
cp "$O/dist/agentd" "$D/agentd"
for b in "$D"/agentd*; do strip --strip-unneeded "$b"; done
cp -R "$O/share" "$D/share"
rm -f "$D/share/.stamp"
"$O/agentd" service units "$D/systemd/user" >/dev/null
"$O/agentd" service units --system "$D/systemd/system" >/dev/null
cp "$TOP/scripts/copyright" "$D/COPYRIGHT"
echo "$VERSION" > "$D/VERSION"
cat > "$D/README" <<EOT
agentd $VERSION: the local control plane for AI agents.

Keep agentd, agentd-hold, agentd-git.so and agentd-tls.so together in one
folder, then:
  ./agentd serve                 # or: ./agentd service install (systemd user units)
  man -l share/man/man1/agentd.1
Completion: share/bash-completion, share/zsh, share/fish (copy them where
your shell looks, or: source <(./agentd completion bash)).
agentd needs glibc 2.34 or later and libwslay (Debian: libwslay1); every
other library it uses is linked in. agentd-git.so (worktrees, diffs,
merges) needs libgit2 1.5 (libgit2-1.5), agentd-tls.so (https, wss, JWT
public keys) OpenSSL 3 (libssl3), agentd-tray libsystemd0.
EOT
mkdir -p "$OUT"
TAR=$OUT/$NAME.tar.gz
tar -C "$WORK" --owner=0 --group=0 --numeric-owner --sort=name -czf "$TAR" "$NAME"
echo "$TAR"
