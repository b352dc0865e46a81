#!/bin/sh
# Builds agentd's Debian package from a build folder, with dpkg-deb:
#   sh scripts/deb.sh BUILD_DIR VERSION OUT_DIR
# BUILD_DIR holds the binaries and share/ (`make` wrote them: the manual
# pages and completion scripts the binary makes from its own tables); the
# systemd units come from `agentd service units`, so nothing here is a
# second copy. Depends is computed by dpkg-shlibdeps from the libraries
# the binaries link. Prints the .deb's path. `make deb` runs it;
# tests/e2e/package.test.js builds, lints and installs the result.
set -eu

O=$1
VERSION=$2
OUT=$3
ARCH=$(dpkg --print-architecture)
TOP=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/agentd-deb.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
R=$WORK/agentd
MAINT="agentd developers <agentd@users.noreply.github.com>"

# binaries: together in /usr/lib/agentd (agentd finds agentd-hold,
# agentd-git.so and agentd-tls.so beside itself), agentd on PATH through a link
install -d -m 755 "$R/usr/lib/agentd" "$R/usr/bin"
BINS="agentd agentd-hold agentd-git.so agentd-tls.so"
[ -f "$O/agentd-tray" ] && BINS="$BINS agentd-tray"
for b in $BINS; do
    install -m 755 "$O/$b" "$R/usr/lib/agentd/$b"
    strip --remove-section=.comment --remove-section=.note --strip-unneeded \
        "$R/usr/lib/agentd/$b"
done
chmod 644 "$R/usr/lib/agentd/agentd-git.so" "$R/usr/lib/agentd/agentd-tls.so"
ln -s ../lib/agentd/agentd "$R/usr/bin/agentd"

# manual pages, gzipped; agentd-COMMAND(1) links to its group's page
install -d -m 755 "$R/usr/share/man/man1"
for f in "$O"/share/man/man1/*.1; do
    gzip -9n < "$f" > "$R/usr/share/man/man1/$(basename "$f").gz"
done
"$O/agentd" help --man-pages | while read -r page cmds; do
    for c in $cmds; do
        [ -e "$R/usr/share/man/man1/agentd-$c.1.gz" ] ||
            ln -s "$page.1.gz" "$R/usr/share/man/man1/agentd-$c.1.gz"
    done
done

# completion
install -D -m 644 "$O/share/bash-completion/completions/agentd" \
    "$R/usr/share/bash-completion/completions/agentd"
install -D -m 644 "$O/share/zsh/vendor-completions/_agentd" \
    "$R/usr/share/zsh/vendor-completions/_agentd"
install -D -m 644 "$O/share/fish/vendor_completions.d/agentd.fish" \
    "$R/usr/share/fish/vendor_completions.d/agentd.fish"

# systemd: the user units (each user enables them: agentd service install,
# or systemctl --user enable --now agentd.socket) and the server's (the
# user agentd on /var/lib/agentd; installed disabled)
"$O/agentd" service units "$R/usr/lib/systemd/user" >/dev/null
"$O/agentd" service units --system "$R/lib/systemd/system" >/dev/null
chmod 644 "$R"/usr/lib/systemd/user/* "$R"/lib/systemd/system/*
install -d -m 755 "$R/usr/lib/sysusers.d" "$R/usr/lib/tmpfiles.d"
printf 'u agentd - "agentd, the control plane for AI agents" /var/lib/agentd\n' \
    > "$R/usr/lib/sysusers.d/agentd.conf"
printf 'd /var/lib/agentd 0700 agentd agentd -\n' > "$R/usr/lib/tmpfiles.d/agentd.conf"
chmod 644 "$R/usr/lib/sysusers.d/agentd.conf" "$R/usr/lib/tmpfiles.d/agentd.conf"

# the desktop: the tray helper starts at login when it is installed
if [ -f "$O/agentd-tray" ]; then
    install -d -m 755 "$R/etc/xdg/autostart"
    cat > "$R/etc/xdg/autostart/agentd-tray.desktop" <<EOF
[Desktop Entry]
Type=Application
Name=agentd tray
Comment=Agents that need you, approvals from notifications
Exec=agentd tray
Icon=utilities-terminal
NoDisplay=true
X-GNOME-Autostart-enabled=true
EOF
    chmod 644 "$R/etc/xdg/autostart/agentd-tray.desktop"
fi

# documentation: copyright, and the changelog of a native package
DOC=$R/usr/share/doc/agentd
install -d -m 755 "$DOC"
install -m 644 "$TOP/scripts/copyright" "$DOC/copyright"
COMMIT=$(git -C "$TOP" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
WHEN=$(git -C "$TOP" log -1 --format=%cD 2>/dev/null || date -R)
{
    printf 'agentd (%s) unstable; urgency=medium\n\n' "$VERSION"
    printf '  * Built from commit %s of the agentd repository; what changed is\n' "$COMMIT"
    printf '    in its history (git log) and its docs/.\n\n'
    printf ' -- %s  %s\n' "$MAINT" "$WHEN"
} | gzip -9n > "$DOC/changelog.gz"
chmod 644 "$DOC/changelog.gz"

# control: Depends from the libraries the binaries link
install -d -m 755 "$R/DEBIAN"
mkdir -p "$WORK/src/debian"
printf 'Source: agentd\n\nPackage: agentd\nArchitecture: any\n' > "$WORK/src/debian/control"
# (agentd-git.so's and agentd-tls.so's ad_* symbols are agentd's own: dpkg-shlibdeps warns
# that no library has them, which is right)
SHLIBS=$(cd "$WORK/src" && dpkg-shlibdeps -O $(for b in $BINS; do printf -- '-e%s ' "$R/usr/lib/agentd/$b"; done) \
    2>"$WORK/shlibdeps.log" | sed -n 's/^shlibs:Depends=//p')
if [ -z "$SHLIBS" ]; then
    cat "$WORK/shlibdeps.log" >&2
    echo "deb: dpkg-shlibdeps found no dependencies" >&2
    exit 1
fi
# agentd-hold is linked statically (one runs beside every agent: the
# Makefile says why), so the package names the glibc it carries, and
# lintian is told that the static binary is meant
BUILT_USING=
if ! readelf -l "$R/usr/lib/agentd/agentd-hold" | grep -q 'Requesting program interpreter'; then
    BUILT_USING="Built-Using: $(dpkg-query -W -f='${source:Package} (= ${source:Version})' libc6-dev)
"
    install -d -m 755 "$R/usr/share/lintian/overrides"
    printf '%s\n' '# agentd-hold runs beside every agent for its whole life: static for its memory' \
        'agentd: statically-linked-binary [usr/lib/agentd/agentd-hold]' \
        > "$R/usr/share/lintian/overrides/agentd"
    chmod 644 "$R/usr/share/lintian/overrides/agentd"
fi
SIZE=$(du -sk --exclude=DEBIAN "$R" | cut -f1)
cat > "$R/DEBIAN/control" <<EOF
Package: agentd
Version: $VERSION
Architecture: $ARCH
Maintainer: $MAINT
Installed-Size: $SIZE
Depends: $SHLIBS
${BUILT_USING}Recommends: git, bubblewrap
Suggests: chromium, libpq5
Section: devel
Priority: optional
Description: local control plane for AI agents
 One daemon that starts and supervises agent processes (the Claude Code,
 Codex and Gemini command-line agents, ACP agents, training runs, any
 command) in git worktrees, records what they do, and streams it to a web
 dashboard served from the same binary and to clients over HTTP, WebSocket
 and Server-Sent Events.
 .
 Agents run under small holder processes, so they outlive a restart or an
 upgrade of the daemon. The package ships systemd user units for socket
 activation (agentd service install enables them), system units for a
 server (disabled), manual pages, shell completion, and a tray helper that
 shows the agents waiting for the user and asks for approvals through
 desktop notifications.
EOF

cat > "$R/DEBIAN/postinst" <<'EOF'
#!/bin/sh
# The server's user and data dir (for the system units, which stay
# disabled until an admin enables them), then every running agentd
# restarted on the new binary: KillMode=process keeps its agents.
set -e
if [ "$1" = configure ]; then
    if command -v systemd-sysusers >/dev/null 2>&1; then
        systemd-sysusers agentd.conf || true
    fi
    if command -v systemd-tmpfiles >/dev/null 2>&1; then
        systemd-tmpfiles --create agentd.conf || true
    fi
    if [ -d /run/systemd/system ]; then
        systemctl --system daemon-reload >/dev/null || true
        # running ones only (disabled and stopped ones stay so), the
        # system's and each user manager's
        deb-systemd-invoke restart agentd.service >/dev/null || true
        deb-systemd-invoke --user restart agentd.service >/dev/null || true
    fi
fi
exit 0
EOF
cat > "$R/DEBIAN/prerm" <<'EOF'
#!/bin/sh
# Removal (not an upgrade) stops the server units; agents their holders
# keep go on until they end. Users' own units stop with their files.
set -e
if [ "$1" = remove ] && [ -d /run/systemd/system ]; then
    deb-systemd-invoke stop agentd.socket agentd.service >/dev/null || true
fi
exit 0
EOF
cat > "$R/DEBIAN/postrm" <<'EOF'
#!/bin/sh
# The data (users' data dirs, /var/lib/agentd) is never removed here: it
# holds transcripts and credentials.
set -e
if [ -d /run/systemd/system ]; then
    systemctl --system daemon-reload >/dev/null || true
fi
exit 0
EOF
chmod 755 "$R/DEBIAN/postinst" "$R/DEBIAN/prerm" "$R/DEBIAN/postrm"
if [ -f "$R/etc/xdg/autostart/agentd-tray.desktop" ]; then
    echo /etc/xdg/autostart/agentd-tray.desktop > "$R/DEBIAN/conffiles"
    chmod 644 "$R/DEBIAN/conffiles"
fi
(cd "$R" && find . -type f ! -path './DEBIAN/*' -printf '%P\n' | LC_ALL=C sort |
    xargs md5sum > DEBIAN/md5sums)
chmod 644 "$R/DEBIAN/md5sums"
find "$R" -type d -exec chmod 755 {} +

mkdir -p "$OUT"
DEB=$OUT/agentd_${VERSION}_${ARCH}.deb
dpkg-deb --build --root-owner-group "-Z${DEB_Z:-xz}" "$R" "$DEB" >/dev/null
echo "$DEB"
