#!/bin/sh
# SPDX-License-Identifier: MIT
# `make install [PREFIX=~/.local] [DESTDIR=]`: a build's binaries into
# PREFIX/lib/agentd, together (agentd finds agentd-hold, agentd-git.so and
# agentd-tls.so beside itself, through the link too), agentd on PATH as a
# link in PREFIX/bin, the manual pages and completion scripts under
# PREFIX/share: the layout of the Debian package (scripts/deb.sh) under
# another prefix. Usage: scripts/install.sh BUILD_DIR PREFIX
set -eu
O=${1:?usage: install.sh BUILD_DIR PREFIX}
PREFIX=${2:?usage: install.sh BUILD_DIR PREFIX}
R="${DESTDIR:-}$PREFIX"
BINS="agentd agentd-hold agentd-git.so agentd-tls.so"
[ -f "$O/agentd-tray" ] && BINS="$BINS agentd-tray"
install -d -m 755 "$R/lib/agentd" "$R/bin" "$R/share/man/man1"
for b in $BINS; do
    install -m 755 "$O/$b" "$R/lib/agentd/$b.new"
    mv -f "$R/lib/agentd/$b.new" "$R/lib/agentd/$b" # a running agentd keeps its file
done
chmod 644 "$R/lib/agentd/agentd-git.so" "$R/lib/agentd/agentd-tls.so"
ln -sfn ../lib/agentd/agentd "$R/bin/agentd"
install -m 644 "$O"/share/man/man1/*.1 "$R/share/man/man1/"
install -D -m 644 "$O/share/bash-completion/completions/agentd" \
    "$R/share/bash-completion/completions/agentd"
install -D -m 644 "$O/share/zsh/vendor-completions/_agentd" "$R/share/zsh/site-functions/_agentd"
install -D -m 644 "$O/share/fish/vendor_completions.d/agentd.fish" \
    "$R/share/fish/vendor_completions.d/agentd.fish"
echo "agentd installed in $R/lib/agentd, on PATH as $R/bin/agentd"
case ":$PATH:" in
*":$PREFIX/bin:"*) ;;
*) echo "add $PREFIX/bin to your PATH (e.g. in ~/.profile: PATH=\"$PREFIX/bin:\$PATH\")" ;;
esac
