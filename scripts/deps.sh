#!/bin/sh
# Installs the Debian packages agentd needs to build and test, only those
# missing. Idempotent; runs `apt-get update` once, only when it must.
# On a machine without apt it prints what to install and stops.
set -eu

PKGS="build-essential pkg-config git ca-certificates
libuv1-dev libhttp-parser-dev libwslay-dev libsqlite3-dev sqlite3 libjansson-dev
libgit2-dev libcurl4-openssl-dev libssl-dev libyaml-dev libcmocka-dev libhiredis-dev libpq-dev
libargon2-dev liburing-dev
redis-server postgresql
clang-format procps zlib1g-dev clang libclang-rt-14-dev chromium chromium-headless-shell
prometheus
libsecret-1-0 gnome-keyring dbus-daemon
bubblewrap coreutils
qpdf poppler-utils
zsh fish man-db
systemd libsystemd-dev dpkg-dev lintian"

missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
# Node.js and npm run the end-to-end tests; any install that provides them
# (Debian's nodejs/npm, or another) will do.
if ! command -v node >/dev/null 2>&1; then missing="$missing nodejs"; fi
if ! command -v npm >/dev/null 2>&1; then missing="$missing npm"; fi

if [ -z "$missing" ]; then
    echo "deps: all present"
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg-query >/dev/null 2>&1; then
    echo "deps: this machine has no apt; install these (Debian names):$missing" >&2
    exit 1
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
        echo "deps: run as root, or install:$missing" >&2
        exit 1
    fi
fi
echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
# A fresh machine has no package lists; update once before installing.
if ! $SUDO apt-get install -y -q --no-install-recommends $missing; then
    $SUDO apt-get update -q
    $SUDO apt-get install -y -q --no-install-recommends $missing
fi
