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
