#!/bin/sh
# Installs what the QEMU tier (`harness lab up --qemu`, tests marked qemu) needs on Debian/Ubuntu:
# qemu-system-aarch64 (package qemu-system-arm) and openssl (hashes the board's root password).
# The board image itself needs no package on the host: it is built from arm64 .debs that apt downloads
# into the QEMU state folder, with apt-get/apt-cache/dpkg-deb, which every Debian system has.
# Idempotent: does nothing when everything is there. As root it installs with apt; otherwise it says
# which packages are missing.
set -eu
need=""
command -v qemu-system-aarch64 >/dev/null 2>&1 || need="$need qemu-system-arm"
command -v openssl >/dev/null 2>&1 || need="$need openssl"
for tool in apt-get apt-cache dpkg-deb; do
    command -v "$tool" >/dev/null 2>&1 || { echo "the QEMU tier needs $tool (a Debian-based system)" >&2; exit 1; }
done
[ -z "$need" ] && exit 0
if [ "$(id -u)" = 0 ]; then
    echo "installing system packages:$need"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $need >/dev/null
else
    echo "missing system packages:$need (install them: sudo apt-get install --no-install-recommends$need)" >&2
    exit 1
fi
