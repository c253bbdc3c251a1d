"""The cgroup v2 code paths on a hybrid host: every runtime command runs in
a private mount namespace with the cgroup2 hierarchy mounted on
/sys/fs/cgroup, so husk sees a pure v2 host (with only the controllers the
unified hierarchy has here, e.g. hugetlb).  Covers clone3 into the cgroup,
the eBPF device program, cgroup.freeze, cgroup.kill, v2 files and v2
errors.  On a real v2 host the same tests run without the wrapper."""
import json
import os
import time

import pytest

from helpers import CGROUP_PARENT, COUNTER, HAS_CGROUP2, cgroup2_controllers, cgroup_dir, \
    pid_alive, read_cgroup, shared_count, wait_for, write_file

# the v2 fixture (conftest.py) runs the runtime in a private mount namespace
# with the unified hierarchy on /sys/fs/cgroup where the host is hybrid
pytestmark = [
    pytest.mark.husk_only,
    pytest.mark.skipif(not HAS_CGROUP2, reason="no cgroup2 hierarchy"),
]


def test_born_in_cgroup(v2):
    """clone3(CLONE_INTO_CGROUP): the init is in the cgroup, and in a new
    cgroup namespace rooted there."""
    b = v2.bundle().set_args("sleep", "100")
    b.add_namespace("cgroup")
    cid, _ = v2.create(b)
    pid = v2.rt.state(cid)["pid"]
    with open(f"/proc/{pid}/cgroup") as f:
        lines = f.read().splitlines()
    assert f"0::/{CGROUP_PARENT}/{b.unique}" in lines, lines
    assert str(pid) in read_cgroup("unified", b, "cgroup.procs").split()
    assert os.readlink(f"/proc/{pid}/ns/cgroup") != os.readlink("/proc/self/ns/cgroup")


def test_devices_ebpf(v2):
    b = v2.bundle()
    for caps in b.config["process"]["capabilities"].values():
        caps.append("CAP_MKNOD")
    # deny all; allow c 10:* rwm; then deny reading 10:229 (a wildcard
    # subtracted: the program applies rules in order, bit by bit)
    b.config["linux"]["resources"]["devices"] = [
        {"allow": False, "access": "rwm"},
        {"allow": True, "type": "c", "major": 10, "access": "rwm"},
        {"allow": False, "type": "c", "major": 10, "minor": 229, "access": "r"},
    ]
    r = v2.run_sh("mknod /dev/probe c 10 229 && (: < /dev/probe) 2>/dev/null && echo fuse-read; "
                  "(: > /dev/probe) 2>/dev/null && echo fuse-write; echo x > /dev/null && echo null-ok; "
                  "mknod /dev/blk b 7 0 && (: < /dev/blk) 2>/dev/null && echo blk-read",
                  bundle=b, ok=False)
    assert "null-ok" in r.out, r
    assert "fuse-write" in r.out, r
    assert "fuse-read" not in r.out, r
    assert "blk-read" not in r.out, r


def test_pause_resume_v2(v2):
    b = v2.bundle().sh(COUNTER)
    cid, _ = v2.create(b)
    v2.rt.ok("start", cid)
    assert wait_for(lambda: shared_count(b) > 2)
    v2.rt.ok("pause", cid)
    assert read_cgroup("unified", b, "cgroup.freeze") == "1"
    assert "frozen 1" in read_cgroup("unified", b, "cgroup.events")
    assert v2.rt.state(cid)["status"] == "paused"
    c1 = shared_count(b)
    time.sleep(0.3)
    assert shared_count(b) == c1
    v2.rt.ok("resume", cid)
    assert v2.rt.state(cid)["status"] == "running"
    assert wait_for(lambda: shared_count(b) > c1 + 2)
    # delete --force of a paused container (frozen v2 tasks die from SIGKILL)
    v2.rt.ok("pause", cid)
    pid = v2.rt.state(cid)["pid"]
    v2.rt.ok("delete", "--force", cid)
    assert not pid_alive(pid)
    assert not os.path.exists(cgroup_dir("unified", b))


def test_kill_all_v2(v2):
    b = v2.bundle().sh("sleep 100 & sleep 100 & wait")
    cid, _ = v2.create(b)
    v2.rt.ok("start", cid)
    assert wait_for(lambda: len(json.loads(v2.rt.ok("ps", "--format", "json", cid).out)) == 3)
    pids = json.loads(v2.rt.ok("ps", "--format", "json", cid).out)
    v2.rt.ok("kill", "--all", cid, "KILL")
    assert wait_for(lambda: not any(pid_alive(p) for p in pids))


def test_v1_only_controller_refused_on_v2(v2):
    if "memory" in cgroup2_controllers():
        pytest.skip("memory is on the unified hierarchy here")
    b = v2.bundle().set_args("true")
    b.config["linux"]["resources"]["memory"] = {"limit": 1 << 26}
    cid, r = v2.create(b, ok=False)
    assert r.rc != 0 and "no memory cgroup controller" in r.err, r
    assert v2.rt.ids() == []
    assert not os.path.exists(cgroup_dir("unified", b))


def test_hugetlb_and_unified_v2(v2):
    if "hugetlb" not in cgroup2_controllers():
        pytest.skip("no hugetlb on the unified hierarchy")
    b = v2.bundle().set_args("sleep", "100")
    b.config["linux"]["resources"]["hugepageLimits"] = [{"pageSize": "2MB", "limit": 8 << 20}]
    b.config["linux"]["resources"]["unified"] = {"cgroup.max.descendants": "5"}
    cid, _ = v2.create(b)
    assert read_cgroup("unified", b, "hugetlb.2MB.max") == str(8 << 20)
    assert read_cgroup("unified", b, "cgroup.max.descendants") == "5"
    res = os.path.join(v2.base, "res.json")
    with open(res, "w") as f:
        json.dump({"hugepageLimits": [{"pageSize": "2MB", "limit": 4 << 20}]}, f)
    v2.rt.ok("update", "-r", res, cid)
    assert read_cgroup("unified", b, "hugetlb.2MB.max") == str(4 << 20)
    ev = json.loads(v2.rt.ok("events", "--stats", cid).out)
    assert ev["type"] == "stats" and "2MB" in ev["data"]["hugetlb"]
    assert ev["data"]["cpu"]["usage"].get("total", 0) >= 0


def test_unified_unknown_file_refused(v2):
    b = v2.bundle().set_args("true")
    b.config["linux"]["resources"]["unified"] = {"cgroup.nonexistent": "1"}
    cid, r = v2.create(b, ok=False)
    assert r.rc != 0 and "cgroup.nonexistent" in r.err, r
    assert v2.rt.ids() == []
    assert not os.path.exists(cgroup_dir("unified", b))


def test_exec_into_container_with_own_subcgroups_v2(v2):
    """A container that made sub-cgroups with controllers of their own (as
    systemd inside does) has no room for processes in its cgroup: exec
    joins the init's cgroup below it instead of failing with EBUSY."""
    ctl = [c for c in cgroup2_controllers() if c in ("pids", "hugetlb", "memory", "cpu")]
    if not ctl:
        pytest.skip("no controller on the unified hierarchy to enable")
    b = v2.bundle().set_args("sleep", "100")
    if ctl[0] == "hugetlb":  # husk enables it down to the container's parent
        b.config["linux"]["resources"]["hugepageLimits"] = [{"pageSize": "2MB", "limit": 8 << 20}]
    cid, _ = v2.create(b)
    v2.rt.ok("start", cid)
    init = v2.rt.state(cid)["pid"]
    d = cgroup_dir("unified", b)
    os.mkdir(f"{d}/init.scope")
    write_file(f"{d}/init.scope/cgroup.procs", str(init))
    write_file(f"{d}/cgroup.subtree_control", f"+{ctl[0]}")
    r = v2.rt.ok("exec", cid, "cat", "/proc/self/cgroup")
    assert r.out.strip().endswith("/init.scope"), r
