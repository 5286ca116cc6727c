"""The script that turns a fresh set of namespaces into the device's root, then execs the device.

It runs as the first process of new user, mount, UTS, IPC and PID namespaces (`unshare -Urm...
--fork`), still seeing the host's file tree, and reads the mount plan that rootfs.build_rootfs wrote.

Why a private root with pivot_root rather than bind mounts over the host's /: paths such as /system,
/vendor and /data do not exist on the host and cannot be created in the host's / by an unprivileged
user (nor should root create them there), and a device must not see the host's /etc, /home or /work
at all. So the device's folder becomes /, the host's /usr comes in read-only for the programs, and
pivot_root (not chroot) detaches the old root entirely, so nothing inside can climb back out to it.

Any failed step prints what failed and exits 125 before the device command is ever exec'd: a sandbox
that cannot be built never runs the command on the host instead."""

SETUP_EXIT = 125

SETUP_SCRIPT = r"""
R=$1; H=$2; shift 2
fail() { echo "sandbox setup failed: $*" >&2; exit 125; }
step() { what=$1; shift; "$@" || fail "$what"; }
ro_bind() {  # source target what-the-device-sees
    step "bind $3 read-only" mount --rbind "$1" "$2"
    step "make $3 read-only" mount -o remount,bind,ro "$2"
}

step "make the device folder $R a mount point" mount --bind "$R" "$R"
for n in null zero full random urandom tty; do step "bind /dev/$n" mount --bind "/dev/$n" "$R/dev/$n"; done
step "bind /dev/pts" mount --bind /dev/pts "$R/dev/pts"
step "mount a tmpfs on /dev/shm" mount -t tmpfs -o nosuid,nodev,size=16m shm "$R/dev/shm"
step "mount a fresh /proc for the device's PID namespace" mount -t proc -o nosuid,nodev,noexec proc "$R/proc"
# Every boot its own boot id, as the kernel gives a real device (the host's would survive a reboot).
cat /proc/sys/kernel/random/uuid > "$R/.sim/boot_id" || fail "draw the boot id"
step "give the boot its id" mount --bind "$R/.sim/boot_id" "$R/proc/sys/kernel/random/boot_id"
while read -r kind path; do
    case $kind in
        host) ro_bind "$path" "$R$path" "the host's $path" ;;
        overlay) ro_bind "$R/.persona/overlay$path" "$R$path" "the persona's $path" ;;
        readonly) ro_bind "$R$path" "$R$path" "$path" ;;
        *) fail "unknown mount plan entry '$kind $path'" ;;
    esac
done < "$R/.persona/mounts"
step "set the hostname" hostname "$H"
# The device's own network namespace: only its loopback, so its listening sockets are its own and
# never the host's (a port inventory on the device must not see the lab machine's services).
# Its NIC is a veth pair kept inside the namespace (a user namespace may create veth, not move it out):
# eth0 is up with a QEMU-style address, and a unique-local IPv6 one (RFC 4193; not QEMU's fec0::, a
# deprecated site-local prefix) with a default route, as a device on an IPv6 network has; nodad: no
# neighbour could answer the duplicate check. A kernel without veth leaves the device with loopback only.
if command -v ip >/dev/null 2>&1; then
    step "bring up the device's loopback" ip link set lo up
    if ip link add eth0 type veth peer name lab0 2>/dev/null; then
        ip link set lab0 up && ip link set eth0 up && ip addr add 10.0.2.15/24 dev eth0 &&
            ip -6 addr add fd00:10:0:2::15/64 dev eth0 nodad 2>/dev/null &&
            ip -6 route add default via fd00:10:0:2::2 dev eth0 onlink 2>/dev/null
    fi
fi
step "enter $R" cd "$R"
step "prepare the old-root mount point" mkdir -p .oldroot
step "pivot_root into $R" pivot_root . .oldroot
cd /
step "detach the host's root" umount -l /.oldroot
rmdir /.oldroot
exec "$@"
"""
