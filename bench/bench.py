#!/usr/bin/env python3
"""Start-up benchmark: husk vs crun vs runc, side by side in one run.

    sudo python3 bench/bench.py [--husk build/husk-static] [-n 50] [--gap-ms 50]

Each runtime runs the same busybox bundle (`/bin/true`) with an absolute
cgroupsPath.  Reported: median wall time of `run`, of create+start+delete,
peak RSS of `run` (from wait4), and ratios against husk.  --gap-ms pauses
between runs: containers rarely start back to back, and some kernel costs
(the RCU grace period of a cgroup.procs write) only show on a quiet host.  crun 1.8 refuses
this host's hybrid cgroups, so the whole benchmark re-executes itself in a
private mount namespace with /sys/fs/cgroup/unified unmounted there (the
host's mounts are untouched).
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def reexec_private():
    if os.environ.get("HUSK_BENCH_NS") == "1":
        return
    os.environ["HUSK_BENCH_NS"] = "1"
    script = ("mount --make-rprivate / && "
              "(! mountpoint -q /sys/fs/cgroup/unified || umount /sys/fs/cgroup/unified) && "
              'exec "$0" "$@"')
    os.execvp("unshare", ["unshare", "-m", "--propagation", "private", "sh", "-c", script,
                          sys.executable] + sys.argv)


def make_bundle(path, husk, seccomp=None):
    subprocess.run(["sh", os.path.join(ROOT, "scripts/make-bundle.sh"), path, husk], check=True,
                   stdout=subprocess.DEVNULL)
    cfg_path = os.path.join(path, "config.json")
    with open(cfg_path) as f:
        cfg = json.load(f)
    cfg["process"]["terminal"] = False
    cfg["process"]["args"] = ["/bin/true"]
    cfg["ociVersion"] = "1.0.2-dev"  # crun 1.8 refuses 1.2.0
    if seccomp:
        # what compiling and loading a profile costs each runtime
        with open(seccomp) as f:
            cfg["linux"]["seccomp"] = json.load(f)
    with open(cfg_path, "w") as f:
        json.dump(cfg, f)


def build_launcher(tmp):
    exe = os.path.join(tmp, "launch")
    subprocess.run(["cc", "-O2", "-o", exe, os.path.join(HERE, "launch.c")], check=True)
    return exe


LAUNCH = None


def timed(argv, cwd):
    """Wall time and peak RSS of one command, measured by a small C parent."""
    p = subprocess.run([LAUNCH] + argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       stdin=subprocess.DEVNULL)
    if p.returncode != 0:
        raise SystemExit(f"{argv}: exit {p.returncode}: {p.stderr.decode()}")
    ns, rss = p.stdout.split()[-2:]
    return int(ns) / 1e9, int(rss)


def reap():
    try:
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass
    except ChildProcessError:
        pass


def set_cgroup(bundle, path):
    cfg_path = os.path.join(bundle, "config.json")
    with open(cfg_path) as f:
        cfg = json.load(f)
    cfg["linux"]["cgroupsPath"] = path
    with open(cfg_path, "w") as f:
        json.dump(cfg, f)


def bench(name, binary, bundle, n, state, gap):
    root = os.path.join(state, name)
    set_cgroup(bundle, f"/husk-bench/{name}")
    base = [binary, "--root", root]
    run_t, rss, cycle_t = [], [], []
    for i in range(n):
        if gap:
            time.sleep(gap)
        dt, maxrss = timed(base + ["run", f"r{i}"], bundle)
        run_t.append(dt)
        rss.append(maxrss)
    for i in range(n):
        if gap:
            time.sleep(gap)
        t0 = time.perf_counter()
        for cmd in (["create", f"c{i}"], ["start", f"c{i}"]):
            subprocess.run(base + cmd, cwd=bundle, check=True, stdout=subprocess.DEVNULL)
        # /bin/true exits at once; delete once it has.
        for _ in range(200):
            st = subprocess.run(base + ["state", f"c{i}"], capture_output=True, text=True)
            if '"stopped"' in st.stdout:
                break
            time.sleep(0.0005)
        subprocess.run(base + ["delete", f"c{i}"], cwd=bundle, check=True)
        cycle_t.append(time.perf_counter() - t0)
        reap()
    return {
        "run_ms": statistics.median(run_t) * 1000,
        "cycle_ms": statistics.median(cycle_t) * 1000,
        "rss_kib": statistics.median(rss),
    }


def box_equivalent(husk, rootfs, bundle, tmp):
    """A bundle holding the config `husk box ROOTFS /bin/true` builds, with
    the generated /etc files it would bind from its state directory."""
    p = subprocess.run([husk, "box", "--print-config", rootfs, "/bin/true"], check=True,
                       capture_output=True, text=True)
    cfg = json.loads(p.stdout)
    os.makedirs(bundle)
    for m in cfg.get("mounts", []):
        src = m.get("source", "")
        if m.get("type") == "bind" and not os.path.exists(src):
            m["source"] = os.path.join(bundle, os.path.basename(src))
            with open(m["source"], "w") as f:
                f.write("# generated\n")
    cfg["linux"]["cgroupsPath"] = "/husk-bench/box-run"
    with open(os.path.join(bundle, "config.json"), "w") as f:
        json.dump(cfg, f)


def box_main(args):
    """husk box's own cost: the config built in memory, generated files,
    and (without --rootfs-rw) the overlay, against husk run of that config."""
    global LAUNCH
    husk = os.path.abspath(args.husk)
    tmp = tempfile.mkdtemp(prefix="husk-bench-")
    try:
        LAUNCH = build_launcher(tmp)
        make_bundle(os.path.join(tmp, "bundle"), husk)
        rootfs = os.path.join(tmp, "bundle", "rootfs")
        eq = os.path.join(tmp, "equivalent")
        box_equivalent(husk, rootfs, eq, tmp)
        # The state root on this host's disk, and on a tmpfs (mounted in
        # the bench's private mount namespace) as /run is on most hosts:
        # box's files and overlay directories are made and removed there,
        # and a disk mounted with discard pays for each freed block.
        ram = os.path.join(tmp, "state-tmpfs")
        os.mkdir(ram)
        subprocess.run(["mount", "-t", "tmpfs", "tmpfs", ram], check=True)
        for where, root in (("disk", os.path.join(tmp, "state")), ("tmpfs", ram)):
            state = ["--root", root]
            cases = [
                ("husk run (box's config)", lambda i: [husk] + state + ["run", f"r{i}"], eq),
                ("husk box --rootfs-rw", lambda i: [husk] + state + [
                    "box", "--name", f"w{i}", "--rootfs-rw", rootfs, "/bin/true"], tmp),
                ("husk box (overlay)", lambda i: [husk] + state + [
                    "box", "--name", f"b{i}", rootfs, "/bin/true"], tmp),
            ]
            res = {}
            for name, argv, cwd in cases:
                res[name] = statistics.median(timed(argv(i), cwd)[0] for i in range(args.n)) * 1000
                reap()
            base = res["husk run (box's config)"]
            print(f"state root on {where:5}            {'ms':>7} {'over run':>9}")
            for name, ms in res.items():
                print(f"{name:34} {ms:7.2f} {ms - base:+8.2f}")
        subprocess.run(["umount", ram], check=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        for d in os.listdir("/sys/fs/cgroup"):
            for sub in ("box-run", ""):
                try:
                    os.rmdir(os.path.join("/sys/fs/cgroup", d, "husk-bench", sub))
                except OSError:
                    pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--husk", default=os.path.join(ROOT, "build/husk"))
    ap.add_argument("-n", type=int, default=30)
    ap.add_argument("--gap-ms", type=float, default=0, help="pause before each run")
    ap.add_argument("--box", action="store_true",
                    help="husk box next to husk run of the config box builds (husk only)")
    ap.add_argument("--seccomp", metavar="PROFILE",
                    help="a linux.seccomp JSON (e.g. /usr/share/containers/seccomp.json)")
    args = ap.parse_args()
    reexec_private()
    if args.box:
        return box_main(args)
    # Orphaned inits of detached containers are reaped by us, not by PID 1.
    import ctypes
    ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    husk = os.path.abspath(args.husk)
    runtimes = [("husk", husk)]
    for name in ("crun", "runc"):
        path = shutil.which(name)
        if path:
            runtimes.append((name, path))
    tmp = tempfile.mkdtemp(prefix="husk-bench-")
    global LAUNCH
    try:
        LAUNCH = build_launcher(tmp)
        bundle = os.path.join(tmp, "bundle")
        make_bundle(bundle, husk, args.seccomp)
        results = {}
        for name, binary in runtimes:
            results[name] = bench(name, binary, bundle, args.n, os.path.join(tmp, "state"),
                                  args.gap_ms / 1000)
        h = results["husk"]
        print(f"{'runtime':8} {'run ms':>8} {'c+s+d ms':>9} {'peak RSS KiB':>13}   ratios vs husk (run, c+s+d, rss)")
        for name, r in results.items():
            print(f"{name:8} {r['run_ms']:8.2f} {r['cycle_ms']:9.2f} {r['rss_kib']:13.0f}   "
                  f"{r['run_ms'] / h['run_ms']:.2f}x {r['cycle_ms'] / h['cycle_ms']:.2f}x "
                  f"{r['rss_kib'] / h['rss_kib']:.2f}x")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        for d in os.listdir("/sys/fs/cgroup"):
            for sub in ("husk", "crun", "runc", ""):
                p = os.path.join("/sys/fs/cgroup", d, "husk-bench", sub)
                try:
                    os.rmdir(p)
                except OSError:
                    pass


if __name__ == "__main__":
    main()
