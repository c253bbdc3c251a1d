#!/bin/sh
# Start of a box from an image: --storage vfs (the layers copied into the
# state directory) next to --storage overlay, on each filesystem this host
# can make: xfs (reflink=1 and reflink=0) and btrfs where mkfs.xfs and
# mkfs.btrfs exist (a reflink shares the extents: no data copied), ext4
# (copy_file_range copies in the kernel) and tmpfs; store and state root on
# the same filesystem.  Loop filesystems are mounted in a private mount
# namespace of this script only.  The image: busybox plus many small and
# four large files (SIZE_MB in all, default 200).
#   sh bench/vfs.sh [HUSK]        (default build/husk; run as root)
set -eu
HUSK=$(realpath "${1:-build/husk}")
SIZE_MB=${SIZE_MB:-200}
here=$(cd "$(dirname "$0")/.." && pwd)
if [ -z "${HUSK_BENCH_NS:-}" ]; then
	HUSK_BENCH_NS=1 exec unshare -m --propagation private sh "$0" "$HUSK"
fi
work=$(mktemp -d /var/tmp/husk-bench-vfs-XXXXXX)
cleanup() {
	for m in "$work"/fs/*; do umount "$m" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT
PYTHONPATH="$here/tests/integration" /usr/bin/python3 - "$work/oci" "$SIZE_MB" <<'PY'
import os, sys
from images import Image, Layer, busybox_layer
out, size = sys.argv[1], int(sys.argv[2]) << 20
small, large = Layer(), Layer()
for n in range(size // 2 // 4096):         # half in 4 KiB files
    small.file(f"small/{n // 500}/{n}", os.urandom(2048) * 2)
for i in range(4):                          # half in four large files
    large.file(f"large/{i}", os.urandom(size // 8))
Image([busybox_layer(), small, large], compression="none").write_oci_dir(out)
PY
mkdir -p "$work/fs"
mkfs_loop() { # name mkfs-command...
	name=$1; shift
	truncate -s $((SIZE_MB * 3 + 512))M "$work/$name.img"
	"$@" "$work/$name.img" >/dev/null 2>&1 || return 1
	mkdir -p "$work/fs/$name"
	mount -o loop "$work/$name.img" "$work/fs/$name"
}
command -v mkfs.xfs >/dev/null && mkfs_loop xfs-reflink mkfs.xfs -q -m reflink=1 || true
command -v mkfs.xfs >/dev/null && mkfs_loop xfs-noreflink mkfs.xfs -q -m reflink=0 || true
command -v mkfs.btrfs >/dev/null && mkfs_loop btrfs mkfs.btrfs -q || true
mkfs_loop ext4 mkfs.ext4 -q -F || true
mkdir -p "$work/fs/tmpfs" && mount -t tmpfs -o size=$((SIZE_MB * 3))m tmpfs "$work/fs/tmpfs"
now() { date +%s.%N; }
printf "%-14s %10s %10s   (%d MiB image)\n" filesystem overlay vfs "$SIZE_MB"
for d in "$work"/fs/*; do
	"$HUSK" image import -q --storage-root "$d/store" --name bench:1 "$work/oci" >/dev/null
	t=""
	for s in overlay vfs; do
		sync
		t0=$(now)
		"$HUSK" --root "$d/state" box --storage "$s" --storage-root "$d/store" bench:1 true
		t1=$(now)
		t="$t $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')"
	done
	# shellcheck disable=SC2086
	printf "%-14s %9ss %9ss\n" "$(basename "$d")" $t
done
