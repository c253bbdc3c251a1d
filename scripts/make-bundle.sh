#!/bin/sh
# Make an OCI bundle with a busybox-static rootfs:  make-bundle.sh DIR HUSK
# The config is husk's default spec with terminal off and an absolute
# cgroupsPath (so nothing nests below the caller's own cgroup).
set -eu
dir=$1
husk=$2
rm -rf "$dir"
mkdir -p "$dir/rootfs/bin" "$dir/rootfs/etc" "$dir/rootfs/proc" "$dir/rootfs/sys" "$dir/rootfs/dev" "$dir/rootfs/tmp"
cp /bin/busybox "$dir/rootfs/bin/busybox"
for a in $(/bin/busybox --list); do
	[ "$a" = busybox ] || ln -sf busybox "$dir/rootfs/bin/$a"
done
printf 'root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\n' >"$dir/rootfs/etc/passwd"
printf 'root:x:0:\nuser:x:1000:\n' >"$dir/rootfs/etc/group"
"$husk" spec --bundle "$dir"
