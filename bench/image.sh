#!/bin/sh
# Import throughput of `husk image import` next to `tar -x` of the same
# layers (what extraction alone costs).  An OCI layout is built with
# tests/integration/images.py: busybox plus two layers of many small and a
# few large files (SIZE_MB in all, default 200), gzip (COMPRESSION=zstd|none).
#   sh bench/image.sh [HUSK]        (default build/husk; run as root)
set -eu
HUSK=${1:-build/husk}
SIZE_MB=${SIZE_MB:-200}
COMPRESSION=${COMPRESSION:-gzip}
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /var/tmp/husk-bench-image-XXXXXX)
trap 'rm -rf "$work"' EXIT
PYTHONPATH="$here/tests/integration" /usr/bin/python3 - "$work/oci" "$SIZE_MB" "$COMPRESSION" <<'PY'
import os, sys
from images import Image, Layer, busybox_layer
out, size, comp = sys.argv[1], int(sys.argv[2]) << 20, sys.argv[3]
small = Layer()
n = 0
while n < size // 2:                      # half in 4 KiB files
    small.file(f"small/{n // 4096 // 500}/{n // 4096}", os.urandom(2048) * 2)
    n += 4096
large = Layer()
for i in range(4):                        # half in four large files
    large.file(f"large/{i}", os.urandom(size // 8))
Image([busybox_layer(), small, large], compression=comp).write_oci_dir(out)
PY
now() { date +%s.%N; }
layers=$(ls -S "$work/oci/blobs/sha256")
t0=$(now)
for l in $layers; do
	mkdir -p "$work/tar/$l"
	tar -xf "$work/oci/blobs/sha256/$l" -C "$work/tar/$l" 2>/dev/null || true
done
sync
t1=$(now)
"$HUSK" image import -q --storage-root "$work/store" "$work/oci" >/dev/null
sync
t2=$(now)
mb=$(du -sm "$work/tar" | cut -f1)
awk -v a="$t0" -v b="$t1" -v c="$t2" -v mb="$mb" -v comp="$COMPRESSION" 'BEGIN {
	printf "%d MiB of files, %s layers\n", mb, comp
	printf "tar -x:            %6.2f s  %6.0f MiB/s\n", b - a, mb / (b - a)
	printf "husk image import: %6.2f s  %6.0f MiB/s (digests verified)\n", c - b, mb / (c - b)
}'
