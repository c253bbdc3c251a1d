#!/bin/sh
# Run husk's cgroup integration tests on a pure cgroup v2 host: a small KVM
# guest (Debian's 6.1 kernel) that boots an initramfs, mounts this machine's
# root filesystem read-only over 9p, mounts cgroup2 on /sys/fs/cgroup with
# every controller enabled (no v1 hierarchies), and runs pytest there with
# the static husk build.  Prints the guest's pytest summary; exit status is
# pytest's.
#
#   tests/vm/cgroup-v2.sh [pytest args...]
#   HUSK=/abs/husk-static  VM_ACCEL=tcg|kvm  VM_TIMEOUT=1800  VM_MEM=2048
#   HUSK_SYSTEMD=/abs/husk (default build/husk when built): the dynamic
#   build for the systemd driver tests (a static build has no driver)
#   VM_KEEP=1 (keep the work dir)  VM_LOG=file (serial console log)
set -eu

REPO=$(cd "$(dirname "$0")/../.." && pwd)
cd "$REPO"

need() { command -v "$1" >/dev/null 2>&1; }
if ! need qemu-system-x86_64 || ! ls /boot/vmlinuz-6.1* >/dev/null 2>&1; then
	echo "cgroup-v2: installing qemu-system-x86 and linux-image-amd64" >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q qemu-system-x86 linux-image-amd64 >&2
fi
[ -x /bin/busybox ] && file -L /bin/busybox | grep -q 'statically linked' ||
	{ echo "cgroup-v2: needs busybox-static (/bin/busybox)" >&2; exit 2; }

if [ -z "${HUSK:-}" ]; then
	[ -f build-vm/build.ninja ] ||
		meson setup build-vm -Dprefer_static=true -Dbuildtype=release -Dwerror=true >&2
	ninja -C build-vm husk >&2
	HUSK=$REPO/build-vm/husk
fi
case "$HUSK" in /*) ;; *) HUSK=$PWD/$HUSK ;; esac
file -L "$HUSK" | grep -Eq 'statically linked|static-pie' ||
	echo "cgroup-v2: warning: $HUSK is not a static binary" >&2

KVER=$(ls -d /lib/modules/6.1* | sort -V | tail -n1 | xargs basename)
KERNEL=/boot/vmlinuz-$KVER
[ -f "$KERNEL" ] || { echo "cgroup-v2: no $KERNEL" >&2; exit 2; }

if [ $# -eq 0 ]; then
	set -- tests/integration/test_cgroup_resources.py tests/integration/test_cgroup_commands.py \
		tests/integration/test_cgroups.py tests/integration/test_cgroup_v2.py \
		tests/integration/test_exec.py tests/integration/test_lifecycle.py \
		tests/integration/test_systemd_cgroup.py tests/integration/test_box_rootless.py
fi
[ -n "${HUSK_SYSTEMD:-}" ] || { [ -x "$REPO/build/husk" ] && HUSK_SYSTEMD=$REPO/build/husk; } || HUSK_SYSTEMD=$HUSK

WORK=$(mktemp -d /tmp/husk-vm.XXXXXX)
[ -n "${VM_KEEP:-}" ] || trap 'rm -rf "$WORK"' EXIT
INITRD=$WORK/initrd
mkdir -p "$INITRD/bin" "$INITRD/mod" "$INITRD/newroot" "$INITRD/proc" "$INITRD/sys" "$INITRD/dev"
cp /bin/busybox "$INITRD/bin/busybox"
for a in sh mount umount mkdir insmod switch_root poweroff cat echo sleep; do
	ln -s busybox "$INITRD/bin/$a"
done

# 9p over virtio and everything it needs, in load order (dependencies first).
ORDER=
add_mod() {
	case " $ORDER " in *" $1 "*) return ;; esac
	for d in $(modinfo -k "$KVER" -F depends "$1" | tr , ' '); do add_mod "$d"; done
	ORDER="$ORDER $1"
}
for m in virtio_pci 9pnet_virtio 9p virtio_blk; do add_mod "$m"; done
for m in $ORDER; do
	cp "$(modinfo -k "$KVER" -n "$m")" "$INITRD/mod/$m.ko"
done

# A scratch disk: a block device for the io.max tests.
truncate -s 16M "$WORK/disk.img"

# What the guest runs, after switch_root into the read-only host root.
ARGS=
for a in "$@"; do ARGS="$ARGS '$(printf %s "$a" | sed "s/'/'\\\\''/g")'"; done
cat > "$INITRD/stage2.sh" <<STAGE2
#!/bin/busybox sh
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root HUSK='$HUSK' HUSK_SYSTEMD='$HUSK_SYSTEMD' PYTHONDONTWRITEBYTECODE=1 PY_COLORS=0 LANG=C.UTF-8
modprobe fuse 2>/dev/null  # /dev/fuse for the device rule tests
# The rootless tests create a user: /etc and /home writable in the guest,
# copies on its tmpfs.
mkdir -p /run/vm/etc && cp -a /etc/. /run/vm/etc/ && mount --bind /run/vm/etc /etc
mount -t tmpfs -o mode=0755 tmpfs /home
cd '$REPO'
echo "HUSK-VM: kernel \$(uname -r), \$(grep " /sys/fs/cgroup" /proc/mounts | tr "\\n" " ")"
echo "HUSK-VM: controllers: \$(cat /sys/fs/cgroup/cgroup.subtree_control)"
echo "HUSK-VM: husk: \$(\$HUSK --version | head -n1)"
# a hang: show what everything waits on, then power off
( sleep ${VM_WATCHDOG:-1200}; echo "HUSK-VM: watchdog after ${VM_WATCHDOG:-1200}s"
  ps -eo pid,ppid,stat,wchan:32,args
  for p in /proc/[0-9]*; do
	grep -q '^State:.*[DZ]' \$p/status 2>/dev/null && { echo "== \$p"; cat \$p/stack; }
  done
  echo o > /proc/sysrq-trigger ) &
/usr/bin/python3 -m pytest -q -p no:cacheprovider -rfEs $ARGS
echo "HUSK-VM-RC=\$?"
sync
echo o > /proc/sysrq-trigger
sleep 10
STAGE2

cat > "$INITRD/init" <<'INIT'
#!/bin/sh
mount -t proc proc /proc
mount -t devtmpfs dev /dev
for m in $(cat /mod/order); do insmod /mod/$m.ko || echo "HUSK-VM: insmod $m failed"; done
mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose,msize=262144 hostroot /newroot ||
	{ echo "HUSK-VM: 9p mount failed"; echo o > /proc/sysrq-trigger; sleep 10; }
mount -t proc proc /newroot/proc
mount -t sysfs sys /newroot/sys
mount -t devtmpfs dev /newroot/dev
mkdir -p /newroot/dev/pts /newroot/dev/shm /newroot/dev/mqueue
mount -t devpts -o newinstance,ptmxmode=0666 devpts /newroot/dev/pts
mount -t tmpfs shm /newroot/dev/shm
mount -t mqueue mqueue /newroot/dev/mqueue
for d in tmp run var/tmp root var/lib var/log; do
	mount -t tmpfs -o mode=1777 tmpfs /newroot/$d
done
chmod 0700 /newroot/root
mount -t cgroup2 cgroup2 /newroot/sys/fs/cgroup
ctl=
for c in $(cat /newroot/sys/fs/cgroup/cgroup.controllers); do ctl="$ctl +$c"; done
echo "$ctl" > /newroot/sys/fs/cgroup/cgroup.subtree_control
mkdir -p /newroot/run/vm
cp /stage2.sh /newroot/run/vm/stage2.sh
umount /proc
exec switch_root /newroot /bin/busybox sh /run/vm/stage2.sh
INIT
chmod +x "$INITRD/init" "$INITRD/stage2.sh"
echo "$ORDER" > "$INITRD/mod/order"
(cd "$INITRD" && find . | cpio -o -H newc --quiet | gzip -1) > "$WORK/initrd.gz"

LOG=${VM_LOG:-$WORK/console.log}
# TCG by default: nested KVM hangs this kernel before its first printk on
# some hosts (this project's VM among them).  VM_ACCEL=kvm where it works.
case "${VM_ACCEL:-tcg}" in
kvm) ACCEL="-enable-kvm -cpu ${VM_CPU:-host}" ;;
*) ACCEL="-accel tcg,thread=multi -cpu ${VM_CPU:-max}" ;;
esac
echo "cgroup-v2: booting $KERNEL with $HUSK (log: $LOG)" >&2
rc=0
timeout "${VM_TIMEOUT:-1800}" qemu-system-x86_64 $ACCEL -m "${VM_MEM:-2048}" -smp 2 \
	-nographic -no-reboot -nic none \
	-kernel "$KERNEL" -initrd "$WORK/initrd.gz" \
	-append "console=ttyS0 quiet panic=-1 rdinit=/init" \
	-drive file="$WORK/disk.img",if=virtio,format=raw \
	-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
	</dev/null >"$LOG" 2>&1 || rc=$?
tr -d '\r' < "$LOG" | grep -v '^HUSK-VM-RC=' || true
[ $rc -eq 0 ] || { echo "cgroup-v2: qemu exited $rc" >&2; exit 1; }
vmrc=$(tr -d '\r' < "$LOG" | sed -n 's/^HUSK-VM-RC=\([0-9]*\).*/\1/p' | tail -n1)
[ -n "$vmrc" ] || { echo "cgroup-v2: the guest did not finish the tests" >&2; exit 1; }
exit "$vmrc"
