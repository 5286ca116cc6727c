#!/bin/sh
# Installs the system programs the real-peer tests and the simulated lab need (Debian/Ubuntu).
# As root it installs them with apt; otherwise it says which are missing and how to get them.
set -eu
need=""
command -v python3 >/dev/null 2>&1 || need="$need python3"
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || need="$need python3-venv"
[ -x /usr/sbin/sshd ] || need="$need openssh-server"
command -v ssh >/dev/null 2>&1 || need="$need openssh-client"
command -v socat >/dev/null 2>&1 || need="$need socat"
command -v ser2net >/dev/null 2>&1 || need="$need ser2net"
command -v unshare >/dev/null 2>&1 || need="$need util-linux"
command -v busybox >/dev/null 2>&1 || need="$need busybox-static"
# The QEMU tier (emulated arm64 boards) and its tests.
command -v qemu-system-aarch64 >/dev/null 2>&1 || need="$need qemu-system-arm"
command -v openssl >/dev/null 2>&1 || need="$need openssl"
# dropbear, the tests' second SSH server: trixie's build, fetched with a private apt and given trixie's
# C library with patchelf (harness/lab/peers/dropbear_build.py).
command -v patchelf >/dev/null 2>&1 || need="$need patchelf"
# The report tests: a real browser (headless Chromium) and the Nu HTML checker (npm vnu-jar on Java).
[ -x /usr/bin/chromium ] || need="$need chromium"
command -v java >/dev/null 2>&1 || need="$need default-jre-headless"
command -v npm >/dev/null 2>&1 || need="$need npm"
# A CJK font, so the Chinese report renders as glyphs in the browser (not as boxes).
ls /usr/share/fonts/opentype/noto/NotoSansCJK-* >/dev/null 2>&1 || need="$need fonts-noto-cjk"
# The platform's tests and benchmark: a private PostgreSQL cluster (initdb/pg_ctl; the server is not started).
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need="$need postgresql"
# OpenHarmony's real hdc and hdcd, built from source by harness.lab.hdc.build for the lab and the tests.
command -v g++ >/dev/null 2>&1 || need="$need g++"
command -v make >/dev/null 2>&1 || need="$need make"
for h in uv.h:libuv1-dev openssl/ssl.h:libssl-dev lz4.h:liblz4-dev libusb-1.0/libusb.h:libusb-1.0-0-dev; do
    [ -f "/usr/include/${h%%:*}" ] || need="$need ${h#*:}"
done
[ -z "$need" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing system packages:$need"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $need >/dev/null
else
    echo "missing system packages:$need (install them: sudo apt-get install$need)" >&2
fi
