"""Containers land in their absolute cgroupsPath; basic limits apply."""
import os
import subprocess
import time

import pytest

from helpers import IS_HUSK, PURE_V2, assert_cgroup, cgroup_dir, cgroup_dirs, pid_cgroups, \
    read_cgroup, read_file, write_file


def test_placed_in_cgroups_path(env, rt):
    b = env.bundle().set_args("sleep", "100")
    cid, _ = env.create(b)
    pid = rt.state(cid)["pid"]
    cgroups = pid_cgroups(pid)
    if PURE_V2:
        assert cgroups == {"": b.cgroups_path}, cgroups
        assert str(pid) in read_cgroup("unified", b, "cgroup.procs").split()
        return
    path_of = {c: path for ctrls, path in cgroups.items() for c in ctrls.split(",")}
    for ctrl in ("memory", "pids", "cpu", "cpuacct", "devices", "freezer", "blkio", "cpuset"):
        assert path_of.get(ctrl) == b.cgroups_path, (ctrl, cgroups)
    assert str(pid) in read_cgroup("memory", b, "cgroup.procs").split()


def test_memory_and_pids_limits(env, rt):
    b = env.bundle().set_args("sleep", "100")
    b.config["linux"]["resources"]["memory"] = {"limit": 64 * 1024 * 1024}
    b.config["linux"]["resources"]["pids"] = {"limit": 42}
    b.config["linux"]["resources"]["cpu"] = {"shares": 512}
    cid, _ = env.create(b)
    # on pure v2: memory.max, pids.max and cpu.weight 20 (runc's conversion)
    assert_cgroup(b, "memory", "memory.limit_in_bytes", 64 * 1024 * 1024)
    assert_cgroup(b, "pids", "pids.max", "42")
    assert_cgroup(b, "cpu", "cpu.shares", "512")


def test_pids_limit_enforced(env):
    b = env.bundle()
    b.config["linux"]["resources"]["pids"] = {"limit": 3}
    # builtin echo + glob counts the pid namespace's processes without forking
    script = "for i in 1 2 3 4 5; do sleep 3 & done; set -- /proc/[0-9]*; echo $#"
    r = env.run_sh(script, bundle=b, ok=False)
    # a failed fork makes ash give up (exit 2) or we see at most 3 processes
    assert r.rc != 0 or int(r.out.split()[-1]) <= 3, r
    # and without the limit all 6 run
    r = env.run_sh(script)
    assert int(r.out.split()[-1]) == 6, r


def test_cgroup_removed_after_delete(env, rt):
    b = env.bundle().set_args("sleep", "100")
    cid, _ = env.create(b)
    assert os.path.isdir(cgroup_dir("memory", b))
    rt.ok("delete", "--force", cid)
    assert not os.path.exists(cgroup_dir("memory", b)), "memory cgroup left"
    assert not os.path.exists(cgroup_dir("pids", b)), "pids cgroup left"


def test_device_rules_rewritten_without_a_gap(env, rt):
    """A container joining the same cgroupsPath, or `update` of the device
    rules, only writes what changes (v1: allows first, then denies; v2:
    the new program replaces the old one at once): a process already in
    the cgroup never loses /dev/null, not even for a moment."""
    b = env.bundle().sh("while :; do echo x > /dev/null || { echo lost > /shared/lost; exit 1; }; done")
    cid, _ = env.create(b)
    rt.ok("start", cid)
    res = os.path.join(env.base, "res.json")
    with open(res, "w") as f:
        f.write('{"devices": [{"allow": false, "access": "rwm"},'
                ' {"allow": true, "type": "c", "major": 10, "minor": 229, "access": "rw"}]}')
    other = env.bundle()
    other.config["linux"]["cgroupsPath"] = b.cgroups_path
    other.set_args("true")
    for i in range(40):
        rt.ok("update", "-r", res, cid)
        if i % 8 == 0:
            env.run(other)
    assert rt.state(cid)["status"] == "running"
    assert not os.path.exists(b.shared_file("lost"))


# --- a cgroupsPath that exists already ----------------------------------------

@pytest.fixture
def frozen_cgroup(env):
    """The bundle's cgroup made by the test and frozen, in the freezer
    hierarchy (v1) or the unified one (pure v2); thawed and removed after."""
    b = env.bundle().set_args("true")
    if PURE_V2:
        d, f, frozen, thawed = cgroup_dir("unified", b), "cgroup.freeze", "1", "0"
    else:
        if not os.path.isdir("/sys/fs/cgroup/freezer"):
            pytest.skip("no v1 freezer hierarchy")
        d, f, frozen, thawed = cgroup_dir("freezer", b), "freezer.state", "FROZEN", "THAWED"
    os.makedirs(d)
    try:
        write_file(f"{d}/{f}", frozen)
        yield b, d, f, frozen
    finally:
        write_file(f"{d}/{f}", thawed)
        os.rmdir(d)


def test_create_in_frozen_cgroup_refused(env, rt, frozen_cgroup):
    """The init would freeze as it joins and create hang: refused at once,
    the cgroup left as it was, nothing else behind."""
    b, d, f, frozen = frozen_cgroup
    t0 = time.monotonic()
    cid, r = env.create(b, ok=False)
    assert r.rc != 0 and time.monotonic() - t0 < 10, r
    assert rt.ids() == [], r
    assert cgroup_dirs(b) == [d], r
    assert read_file(f"{d}/{f}") == frozen
    if IS_HUSK:
        assert r.err.splitlines() == [f"husk: create {cid}: cgroup: {d} is frozen: the container could "
                                      "not start in it (thaw it, or use another cgroupsPath)"], r


@pytest.mark.husk_only  # runc 1.1.5 hangs there
def test_create_below_frozen_cgroup_refused(env, rt, frozen_cgroup):
    """A cgroupsPath below a frozen cgroup is frozen too; what create made
    is removed again, the frozen parent stays."""
    b, d, f, frozen = frozen_cgroup
    b.config["linux"]["cgroupsPath"] = f"{b.cgroups_path}/child"
    cid, r = env.create(b, ok=False)
    assert r.rc != 0, r
    assert rt.ids() == [], r
    assert cgroup_dirs(b) == [d], r
    assert not os.path.exists(f"{d}/child"), r
    assert read_file(f"{d}/{f}") == frozen
    if IS_HUSK:
        assert len(r.err.splitlines()) == 1 and f"{d}/child is frozen" in r.err, r


def test_create_in_cgroup_with_processes_warns(env, rt):
    """A cgroup that has processes already: the container runs there (runc
    1.1 too), with a warning; the processes are left alone."""
    b = env.bundle().set_args("true")
    hiers = [cgroup_dir("unified", b)] if PURE_V2 else [cgroup_dir(c, b) for c in ("pids", "devices")]
    sleeper = subprocess.Popen(["sleep", "100"])
    try:
        for d in hiers:
            os.makedirs(d)
            write_file(f"{d}/cgroup.procs", str(sleeper.pid))
        r = env.run(b)
        assert sleeper.poll() is None
        for d in hiers:
            assert read_file(f"{d}/cgroup.procs") == str(sleeper.pid)
        if IS_HUSK:
            assert r.err.splitlines() == [
                f"husk: warning: cgroup {b.cgroups_path} already has 1 process: the container shares "
                "its limits with them, and kill --all reaches them too"], r
    finally:
        sleeper.kill()
        sleeper.wait()
        for d in hiers:
            for _ in range(100):
                try:
                    os.rmdir(d)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.02)
