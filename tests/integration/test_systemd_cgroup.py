"""The systemd cgroup driver (--systemd-cgroup) against a real systemd.

This host does not run systemd, so the module boots one: systemd 252 from
the host's /usr as PID 1 of a husk container (its own cgroup namespace and
a writable cgroup mount, the host's /etc with an empty
/etc/systemd/system so that no host service starts).  husk then runs inside
that container, with the suite's state under /run, and the tests read back
what systemd made of it with systemctl and the cgroup files.  On a pure
cgroup v2 host (tests/vm/cgroup-v2.sh) the same tests run against v2.
"""
import glob
import json
import os

import pytest

from helpers import CAP_NAMES, CGROUP_PARENT, HUSK as HUSK_UNDER_TEST, Runtime, cgroup_dirs, \
    PURE_V2, proc_cgroup, wait_for

# A static husk has no systemd driver: the v2 VM runs these tests with the
# dynamic build ($HUSK_SYSTEMD), both outside and inside the systemd container.
HUSK = os.path.abspath(os.environ.get("HUSK_SYSTEMD") or HUSK_UNDER_TEST)

SYSTEMD = "/lib/systemd/systemd"
ROOTLESS_UID = 23456
INNER_ROOT = "/run/husk-inner"

pytestmark = pytest.mark.husk_only


def _husk_has_systemd():
    rt = Runtime("/nonexistent", "/tmp")
    rt.binary = HUSK
    r = rt("features", root=False)
    try:
        return r.rc == 0 and json.loads(r.out)["linux"]["cgroup"]["systemd"]
    except (ValueError, KeyError):
        return False


def _bounding_caps():
    with open("/proc/self/status") as f:
        bnd = next(int(line.split()[1], 16) for line in f if line.startswith("CapBnd"))
    return [n for i, n in enumerate(CAP_NAMES) if bnd >> i & 1]


def _bind(src, dst, ro=True):
    return {"destination": dst, "type": "bind", "source": src,
            "options": ["rbind", "ro" if ro else "rw", "nosuid", "nodev"]}


class SystemdHost:
    """A running systemd container and husk inside it."""

    def __init__(self, rt, cid):
        self.rt, self.cid = rt, cid
        self.env = [f"{k}={os.environ[k]}" for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS")
                    if k in os.environ]

    def run(self, *argv, timeout=60):
        env = [a for kv in self.env for a in ("-e", kv)]
        return self.rt("exec", *env, self.cid, *argv, timeout=timeout)

    def sh(self, script):
        r = self.run("/bin/sh", "-c", script)
        assert r.rc == 0, f"in the systemd container:\n{r!r}"
        return r.out

    def husk(self, *args, ok=None):
        r = self.run(HUSK, "--root", INNER_ROOT, *args)
        if ok is True:
            assert r.rc == 0, f"inner husk, expected success:\n{r!r}"
        if ok is False:
            assert r.rc != 0, f"inner husk, expected failure:\n{r!r}"
        return r

    def show(self, unit, *props):
        out = self.sh(f"systemctl show -p {','.join(props)} {unit}")
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    @property
    def v2(self):
        return self.run("test", "-e", "/sys/fs/cgroup/cgroup.controllers").rc == 0


@pytest.fixture(scope="module")
def systemd_host(session_dir):
    if not os.path.exists(SYSTEMD):
        pytest.skip(f"{SYSTEMD} not installed")
    if not _husk_has_systemd():
        pytest.skip("this husk was built without the systemd driver")
    base = os.path.join(session_dir, "systemd-host")
    rootfs = os.path.join(base, "rootfs")
    units = os.path.join(base, "units")
    for d in ("usr", "etc", "proc", "sys", "dev", "run", "tmp", "var", "root"):
        os.makedirs(os.path.join(rootfs, d))
    os.makedirs(units)
    for link, target in (("bin", "usr/bin"), ("sbin", "usr/sbin"), ("lib", "usr/lib"),
                         ("lib64", "usr/lib64")):
        os.symlink(target, os.path.join(rootfs, link))
    rt = Runtime(os.path.join(base, "state"), base)
    rt.binary = HUSK
    rt.ok("spec", "--bundle", base, root=False)
    with open(os.path.join(base, "config.json")) as f:
        spec = json.load(f)
    caps = _bounding_caps()
    spec["root"] = {"path": "rootfs", "readonly": True}
    spec["process"].update({
        "terminal": False,
        "args": [SYSTEMD, "--unit=basic.target"],
        "env": ["container=husk", "PATH=/usr/sbin:/usr/bin:/sbin:/bin"],
        "capabilities": {k: caps for k in ("bounding", "effective", "permitted")},
        "noNewPrivileges": False,
    })
    tmpfs = {"type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev", "mode=755"]}
    spec["mounts"] = [m for m in spec["mounts"] if m["destination"] != "/sys/fs/cgroup"] + [
        _bind("/usr", "/usr"), _bind("/etc", "/etc"), _bind(units, "/etc/systemd/system"),
        dict(tmpfs, destination="/run"), dict(tmpfs, destination="/tmp"),
        dict(tmpfs, destination="/var"),
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
         "options": ["nosuid", "noexec", "nodev", "rw"]},
        # the inner bundles and the husk under test, at their host paths
        _bind(session_dir, session_dir, ro=False),
        _bind(os.path.dirname(HUSK), os.path.dirname(HUSK)),
    ]
    # a user of our own for the rootless tests, whatever the host has
    for name, line in (("passwd", f"husk-test:x:{ROOTLESS_UID}:{ROOTLESS_UID}::/tmp:/bin/sh\n"),
                       ("group", f"husk-test:x:{ROOTLESS_UID}:\n"),
                       ("shadow", "husk-test:!*:19000:0:99999:7:::\n")):  # for PAM
        copy, st = os.path.join(base, name), os.stat(f"/etc/{name}")
        with open(f"/etc/{name}") as f, open(copy, "w") as g:
            g.write(f.read() + line)
        os.chown(copy, st.st_uid, st.st_gid)
        os.chmod(copy, st.st_mode & 0o7777)
        spec["mounts"].append(_bind(copy, f"/etc/{name}"))
    spec["linux"]["namespaces"].append({"type": "cgroup"})
    unique = f"systemd-host-{os.getpid()}"
    spec["linux"]["cgroupsPath"] = f"/{CGROUP_PARENT}/{unique}"
    # a fully visible /proc, or no user namespace inside may mount one
    spec["linux"]["maskedPaths"] = []
    spec["linux"]["readonlyPaths"] = []
    with open(os.path.join(base, "config.json"), "w") as f:
        json.dump(spec, f)
    cid = "systemd-host"
    rt.ok("run", "-d", "--bundle", base, cid)
    host = SystemdHost(rt, cid)
    try:
        def booted():
            r = host.run("systemctl", "is-system-running")
            return r.out.strip() in ("running", "degraded")
        wait_for(booted, timeout=60, interval=0.2)
        yield host
    finally:
        r = rt("delete", "--force", cid)
        assert r.rc == 0, f"delete the systemd container:\n{r!r}"
        assert not cgroup_dirs(unique), "the systemd container's cgroups were left"


@pytest.fixture
def sd(systemd_host):
    yield systemd_host
    # What a test leaves running goes; its units must go with it.
    for cid in systemd_host.husk("list", "-q").out.split():
        r = systemd_host.husk("delete", "--force", cid)
        assert r.rc == 0, f"inner delete --force:\n{r!r}"
    units = systemd_host.sh("systemctl list-units --all --plain --no-legend 'husk-*' 'pfx-*'")
    assert not units.strip(), f"units left behind:\n{units}"


def scope_bundle(env, cid, cgroups_path=None, script="sleep 300"):
    b = env.bundle()
    b.config["linux"]["cgroupsPath"] = f"system.slice:husk:{cid}" if cgroups_path is None \
        else cgroups_path
    b.sh(script)
    return b.write()


def init_cgroups(sd, cid):
    pid = json.loads(sd.husk("state", cid, ok=True).out)["pid"]
    return proc_cgroup(sd.sh(f"cat /proc/{pid}/cgroup"))


def test_scope_made_joined_and_removed(env, sd):
    cid = env.new_id("sd")
    b = scope_bundle(env, cid)
    sd.husk("--systemd-cgroup", "run", "-d", "--bundle", b.path, cid, ok=True)
    unit = f"husk-{cid}.scope"
    path = f"/system.slice/{unit}"
    props = sd.show(unit, "ActiveState", "Delegate", "Slice", "ControlGroup", "Description")
    assert props == {"ActiveState": "active", "Delegate": "yes", "Slice": "system.slice",
                     "ControlGroup": path, "Description": f"husk container {cid}"}
    # in the unit's cgroup in every hierarchy, those systemd leaves alone too
    cgroups = init_cgroups(sd, cid)
    assert cgroups and all(p == path for p in cgroups.values()), cgroups
    pid = str(json.loads(sd.husk("state", cid, ok=True).out)["pid"])
    assert pid in sd.sh(f"systemctl show -p MainPID -p ControlGroup {unit}; "
                        f"cat /sys/fs/cgroup/{'' if sd.v2 else 'systemd/'}{path}/cgroup.procs")
    # the commands that work on the cgroup find it
    sd.husk("pause", cid, ok=True)
    assert json.loads(sd.husk("state", cid, ok=True).out)["status"] == "paused"
    sd.husk("resume", cid, ok=True)
    assert "sleep" in sd.husk("ps", cid, ok=True).out
    sd.husk("delete", "--force", cid, ok=True)
    assert sd.show(unit, "LoadState")["LoadState"] == "not-found"
    left = sd.sh(f"ls -d /sys/fs/cgroup{path} /sys/fs/cgroup/*{path} 2>/dev/null || true")
    assert not left.strip(), f"cgroups left after delete:\n{left}"


def test_default_path_is_husk_id_scope_in_system_slice(env, sd):
    cid = env.new_id("sd")
    b = scope_bundle(env, cid, cgroups_path="")
    sd.husk("--systemd-cgroup", "run", "-d", "--bundle", b.path, cid, ok=True)
    props = sd.show(f"husk-{cid}.scope", "ActiveState", "ControlGroup")
    assert props == {"ActiveState": "active", "ControlGroup": f"/system.slice/husk-{cid}.scope"}


def test_nested_slice_and_prefix(env, sd):
    cid = env.new_id("sd")
    b = scope_bundle(env, cid, cgroups_path=f"system-hsk.slice:pfx:{cid}")
    sd.husk("--systemd-cgroup", "run", "-d", "--bundle", b.path, cid, ok=True)
    path = f"/system.slice/system-hsk.slice/pfx-{cid}.scope"
    assert sd.show(f"pfx-{cid}.scope", "ControlGroup")["ControlGroup"] == path
    assert set(init_cgroups(sd, cid).values()) == {path}
    sd.husk("delete", "--force", cid, ok=True)
    sd.sh("systemctl stop system-hsk.slice")


def test_resources_set_as_properties_and_files(env, sd):
    cid = env.new_id("sd")
    b = env.bundle()
    b.config["linux"]["cgroupsPath"] = f"system.slice:husk:{cid}"
    b.config["linux"]["resources"].update({
        "memory": {"limit": 64 << 20},
        "pids": {"limit": 40},
        "cpu": {"shares": 512, "quota": 25000, "period": 100000},
    })
    b.sh("sleep 300").write()
    sd.husk("--systemd-cgroup", "run", "-d", "--bundle", b.path, cid, ok=True)
    unit = f"husk-{cid}.scope"
    v2 = sd.v2
    props = sd.show(unit, "MemoryMax" if v2 else "MemoryLimit", "TasksMax",
                    "CPUWeight" if v2 else "CPUShares", "CPUQuotaPerSecUSec",
                    "CPUQuotaPeriodUSec", "DevicePolicy")
    assert props[("MemoryMax" if v2 else "MemoryLimit")] == str(64 << 20)
    assert props["TasksMax"] == "40"
    assert props["CPUWeight" if v2 else "CPUShares"] == ("20" if v2 else "512")
    assert props["CPUQuotaPerSecUSec"] == "250ms"
    assert props["CPUQuotaPeriodUSec"] == "100ms"
    assert props["DevicePolicy"] == "strict"
    path = f"/system.slice/{unit}"
    if v2:
        files = sd.sh(f"cd /sys/fs/cgroup{path} && cat memory.max pids.max cpu.max")
        assert files.split() == [str(64 << 20), "40", "25000", "100000"]
    else:
        files = sd.sh(f"cat /sys/fs/cgroup/memory{path}/memory.limit_in_bytes "
                      f"/sys/fs/cgroup/pids{path}/pids.max /sys/fs/cgroup/cpu{path}/cpu.shares "
                      f"/sys/fs/cgroup/cpu{path}/cpu.cfs_quota_us")
        assert files.split() == [str(64 << 20), "40", "512", "25000"]
    # the device rules hold: /dev/null is usable, a device not allowed is not
    r = sd.husk("exec", cid, "sh", "-c", "echo x > /dev/null && echo null-ok")
    assert r.rc == 0 and "null-ok" in r.out, r
    r = sd.husk("exec", cid, "sh", "-c", "mknod /tmp/kmsg c 1 11 && cat /tmp/kmsg")
    assert r.rc != 0, r


def _host_has_io_weight():
    """Whether the host's I/O schedulers give cgroups a weight: v1's
    blkio.weight or blkio.bfq.weight (CFQ/BFQ), v2's io.weight (iocost:
    io.cost.qos in the root) or io.bfq.weight (BFQ on some disk).  Asked
    here, on the host: the systemd container's cgroup root is its own."""
    if PURE_V2:
        if os.path.exists("/sys/fs/cgroup/io.cost.qos"):
            return True
        for f in glob.glob("/sys/block/*/queue/scheduler"):
            with open(f) as fh:
                if "bfq" in fh.read():
                    return True
        return False
    return any(os.path.exists(f"/sys/fs/cgroup/blkio/{f}") for f in ("blkio.weight", "blkio.bfq.weight"))


def _io_weight_files(sd, cgroup):
    if sd.v2:
        names = [f"/sys/fs/cgroup{cgroup}/{f}" for f in ("io.weight", "io.bfq.weight")]
    else:
        names = [f"/sys/fs/cgroup/blkio{cgroup}/{f}" for f in ("blkio.weight", "blkio.bfq.weight")]
    out = sd.sh(" ".join(["for f in"] + names + ['; do test -e "$f" && echo "$f"; done; true']))
    return out.split()


def test_blockio_weight_as_property_and_file(env, sd):
    cid = env.new_id("sd")
    b = env.bundle()
    b.config["linux"]["cgroupsPath"] = f"system.slice:husk:{cid}"
    b.config["linux"]["resources"]["blockIO"] = {"weight": 300}
    b.sh("sleep 300").write()
    if not _host_has_io_weight():
        # No BFQ here (this VM's kernel): the clear error instead, no unit left.
        r = sd.husk("--systemd-cgroup", "run", "-d", "--bundle", b.path, cid, ok=False)
        assert "blockIO.weight" in r.err and "not supported by this host" in r.err, r
        assert len(r.err.strip().splitlines()) == 1, r
        assert sd.husk("list", "-q").out.split() == []
        pytest.skip("host has no blkio/io weight file (no BFQ I/O scheduler): "
                    "checked husk's error instead")
    sd.husk("--systemd-cgroup", "run", "-d", "--bundle", b.path, cid, ok=True)
    unit = f"husk-{cid}.scope"
    prop = "IOWeight" if sd.v2 else "BlockIOWeight"
    value = str(1 + ((300 - 10) * 9999) // 990) if sd.v2 else "300"
    assert sd.show(unit, prop)[prop] == value
    files = _io_weight_files(sd, f"/system.slice/{unit}")
    assert any(value in sd.sh(f"cat {f}") or "300" in sd.sh(f"cat {f}") for f in files), files


def test_update_changes_unit_properties(env, sd):
    cid = env.new_id("sd")
    b = scope_bundle(env, cid)
    sd.husk("--systemd-cgroup", "run", "-d", "--bundle", b.path, cid, ok=True)
    sd.husk("update", "--memory", "100M", "--pids-limit", "77", cid, ok=True)
    mem = "MemoryMax" if sd.v2 else "MemoryLimit"
    assert sd.show(f"husk-{cid}.scope", mem, "TasksMax") == {mem: str(100 << 20), "TasksMax": "77"}


def test_exec_joins_the_scope(env, sd):
    cid = env.new_id("sd")
    b = scope_bundle(env, cid)
    sd.husk("--systemd-cgroup", "run", "-d", "--bundle", b.path, cid, ok=True)
    r = sd.husk("exec", "-d", cid, "sleep", "200", ok=True)
    path = f"/system.slice/husk-{cid}.scope"
    out = sd.sh(f"for p in $(cat /sys/fs/cgroup/{'' if sd.v2 else 'pids/'}{path}/cgroup.procs); "
                "do cat /proc/$p/comm; done")
    assert out.split().count("sleep") == 2, (r, out)


def test_unit_name_taken_fails_cleanly(env, sd):
    cid1, cid2 = env.new_id("sd"), env.new_id("sd")
    b = scope_bundle(env, cid1, cgroups_path="system.slice:husk:shared-name")
    sd.husk("--systemd-cgroup", "run", "-d", "--bundle", b.path, cid1, ok=True)
    r = sd.husk("--systemd-cgroup", "run", "-d", "--bundle", b.path, cid2, ok=False)
    lines = r.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"husk: run {cid2}: ") \
        and "husk-shared-name.scope" in lines[0], r
    assert cid2 not in sd.husk("list", "-q", ok=True).out.split()
    assert json.loads(sd.husk("state", cid1, ok=True).out)["status"] == "running"


def test_foreground_run_exit_status_and_unit_gone(env, sd):
    cid = env.new_id("sd")
    b = scope_bundle(env, cid, script="exit 3")
    r = sd.husk("--systemd-cgroup", "run", "--bundle", b.path, cid)
    assert r.rc == 3, r
    assert sd.show(f"husk-{cid}.scope", "LoadState")["LoadState"] == "not-found"


def test_property_annotations(env, sd):
    cid = env.new_id("sd")
    b = scope_bundle(env, cid)
    b.config["annotations"] = {
        "org.systemd.property.TimeoutStopSec": "7",
        "org.systemd.property.CollectMode": "'inactive-or-failed'",
        "org.systemd.property.TasksMax": "uint64 33",  # wins over linux.resources
    }
    b.config["linux"]["resources"]["pids"] = {"limit": 99}
    b.write()
    sd.husk("--systemd-cgroup", "run", "-d", "--bundle", b.path, cid, ok=True)
    props = sd.show(f"husk-{cid}.scope", "TimeoutStopUSec", "CollectMode", "TasksMax")
    assert props == {"TimeoutStopUSec": "7s", "CollectMode": "inactive-or-failed",
                     "TasksMax": "33"}


@pytest.mark.parametrize("key,value,why", [
    ("org.systemd.property.lowercase", "1", "is not a systemd property name"),
    ("org.systemd.property.TasksMax", "many", 'cannot read "many" as a D-Bus value'),
])
def test_bad_property_annotation(env, sd, key, value, why):
    cid = env.new_id("sd")
    b = scope_bundle(env, cid)
    b.config["annotations"] = {key: value}
    b.write()
    r = sd.husk("--systemd-cgroup", "run", "--bundle", b.path, cid, ok=False)
    lines = r.err.strip().splitlines()
    assert len(lines) == 1 and key in lines[0] and why in lines[0], r
    assert sd.show(f"husk-{cid}.scope", "LoadState")["LoadState"] == "not-found"
    assert cid not in sd.husk("list", "-q", ok=True).out.split()


def test_rootless_scope_in_the_users_systemd(env, sd):
    """Rootless: the scope is made by the user's own systemd (user@UID),
    over its private socket; the hierarchies it was not given stay as
    they are, and device rules are left to the user namespace."""
    uid = ROOTLESS_UID
    r = sd.run("systemctl", "start", f"user@{uid}.service")
    assert r.rc == 0, sd.sh("journalctl --no-pager -n 30 | cat")
    as_user = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
               "env", f"XDG_RUNTIME_DIR=/run/user/{uid}"]

    def user_husk(*args):
        return sd.run(*as_user, HUSK, "--root", f"/run/user/{uid}/husk", *args)

    b = env.bundle()
    r = sd.run(*as_user, HUSK, "spec", "--rootless", "--bundle", b.path + "/shared")
    assert r.rc == 0, r
    with open(b.shared_file("config.json")) as f:
        cfg = json.load(f)
    os.unlink(b.shared_file("config.json"))
    cfg["process"]["terminal"] = False
    cfg["process"]["args"] = ["sleep", "300"]
    cid = env.new_id("rl")
    cfg["linux"]["cgroupsPath"] = f"user.slice:husk:{cid}"
    b.write(cfg)
    unit = f"husk-{cid}.scope"
    r = user_husk("--systemd-cgroup", "run", "-d", "--bundle", b.path, cid)
    try:
        assert r.rc == 0, r
        path = f"/user.slice/user-{uid}.slice/user@{uid}.service/user.slice/{unit}"
        show = sd.run(*as_user, "systemctl", "--user", "show", "-p", "ActiveState,ControlGroup", unit)
        assert sorted(show.out.split()) == ["ActiveState=active", f"ControlGroup={path}"], show
        pid = json.loads(user_husk("state", cid).out)["pid"]
        cgroups = sd.sh(f"cat /proc/{pid}/cgroup")
        tracked = [line for line in cgroups.split() if line.split(":")[1] in ("", "name=systemd")]
        assert tracked and all(line.endswith(path) for line in tracked), cgroups
    finally:
        r = user_husk("delete", "--force", cid)
    assert r.rc == 0, r
    show = sd.run(*as_user, "systemctl", "--user", "show", "-p", "LoadState", unit)
    assert show.out.strip() == "LoadState=not-found", show


# ---- without systemd: this host does not run it ----

@pytest.mark.parametrize("path,why", [
    ("system.slice:husk", 'is not "slice:prefix:name"'),
    ("a:b:c:d", 'is not "slice:prefix:name"'),
    ("system:husk:x", "is not a slice name"),
    ("system--x.slice:husk:x", "empty part between dashes"),
    ("system.slice:husk:", "unit name part is empty"),
    ("system.slice:husk:a/b", "characters systemd does not allow"),
])
def test_bad_systemd_cgroups_path(env, rt, path, why):
    b = env.bundle()
    b.config["linux"]["cgroupsPath"] = path
    b.write()
    cid = env.new_id()
    r = rt.fail("--systemd-cgroup", "run", "--bundle", b.path, cid)
    lines = r.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"husk: run {cid}: ") and why in lines[0], r
    assert rt.ids() == []


@pytest.mark.skipif(os.path.exists("/run/systemd/system"), reason="this host runs systemd")
def test_no_systemd_on_host_is_a_clear_error(env, rt):
    b = env.bundle()
    b.config["linux"]["cgroupsPath"] = "system.slice:husk:x"
    b.write()
    cid = env.new_id()
    r = rt.fail("--systemd-cgroup", "run", "--bundle", b.path, cid)
    assert "systemd is not running on this host" in r.err, r
    assert rt.ids() == []
