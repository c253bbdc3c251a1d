#!/bin/sh
# Run one container from a busybox bundle and show that it is isolated.
set -eu
husk=$(realpath "${1:-build/husk}")
bundle=$(realpath -m build/demo-bundle)
sh scripts/make-bundle.sh "$bundle" "$husk"
python3 - "$bundle/config.json" <<'PY'
import json, sys
p = sys.argv[1]
c = json.load(open(p))
c["process"]["terminal"] = False
c["process"]["args"] = ["sh", "-c",
    "echo \"hostname:  $(hostname)\"; echo \"my pid:    $$\"; "
    "echo \"processes: $(ls -d /proc/[0-9]* | wc -l)\"; echo \"user:      $(id)\"; "
    "echo 'mounts:'; cat /proc/self/mounts | sed 's/^/  /'; "
    "echo 'network:'; cat /proc/net/dev | tail -n +3 | sed 's/^/  /'"]
c["hostname"] = "husk-demo"
c["linux"]["cgroupsPath"] = "/husk-demo"
json.dump(c, open(p, "w"), indent=2)
PY
echo "== husk run demo (bundle $bundle)"
"$husk" --root "$bundle/state" run --bundle "$bundle" husk-demo-$$

# The same rootfs, no bundle: husk box builds the config itself and keeps
# the container's writes in an overlay, so the rootfs stays as it was.
echo
echo "== husk box demo (rootfs $bundle/rootfs, never written)"
"$husk" --root "$bundle/state" box --hostname husk-box "$bundle/rootfs" sh -c \
	'echo "hostname:  $(hostname)"; echo "root:      $(grep " / " /proc/self/mounts | cut -d" " -f1-3)";
	 echo "etc:       $(grep -E " /etc/(hosts|hostname|resolv.conf) " /proc/self/mounts | cut -d" " -f2 | tr "\n" " ")";
	 echo "caps:      $(grep CapEff /proc/self/status | cut -f2)";
	 echo written > /written-by-box; echo "wrote /written-by-box inside the box"'
if [ -e "$bundle/rootfs/written-by-box" ]; then
	echo "error: the box wrote into its rootfs" >&2
	exit 1
fi
echo "after the box: $bundle/rootfs/written-by-box does not exist"
