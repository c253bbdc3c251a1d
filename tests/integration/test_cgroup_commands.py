"""pause, resume, ps, events, update, kill --all and delete --force of a
paused container, on real containers."""
import json
import os
import subprocess
import time

import pytest

from helpers import COUNTER, IS_HUSK, PURE_V2, assert_cgroup, cgroup_file, cgroup_root, pid_alive, \
    read_cgroup, read_file, shared_count, wait_for

def cpu_period(b):
    if PURE_V2:
        return read_cgroup("cpu", b, "cpu.max").split()[1]
    return read_cgroup("cpu", b, "cpu.cfs_period_us")


def started_counter(env, rt, **res):
    b = env.bundle().sh(COUNTER)
    b.config["linux"]["resources"].update(res)
    cid, _ = env.create(b)
    rt.ok("start", cid)
    assert wait_for(lambda: shared_count(b) > 2), "counter did not start"
    return b, cid


def test_pause_resume(env, rt):
    b, cid = started_counter(env, rt)
    rt.ok("pause", cid)
    assert rt.state(cid)["status"] == "paused"
    freezer = cgroup_file("freezer", b, "freezer.state")
    if os.path.exists(freezer):
        assert read_file(freezer) == "FROZEN"
    if PURE_V2:
        assert read_cgroup("unified", b, "cgroup.freeze") == "1"
        assert wait_for(lambda: "frozen 1" in read_cgroup("unified", b, "cgroup.events"))
    time.sleep(0.1)
    c1 = shared_count(b)
    time.sleep(0.3)
    assert shared_count(b) == c1, "paused container kept counting"
    r = rt.fail("pause", cid)
    assert not IS_HUSK or "paused" in r.err, r  # runc: "container not running"
    rt.ok("resume", cid)
    assert rt.state(cid)["status"] == "running"
    assert wait_for(lambda: shared_count(b) > c1 + 2), "resumed container does not count"
    r = rt.fail("resume", cid)
    assert "not paused" in r.err or "running" in r.err, r


def test_list_shows_paused(env, rt):
    b, cid = started_counter(env, rt)
    rt.ok("pause", cid)
    r = rt.ok("list", "--format", "json")
    assert [c["status"] for c in json.loads(r.out) if c["id"] == cid] == ["paused"]
    rt.ok("resume", cid)


def test_pause_created_then_start_refused(env, rt):
    b = env.bundle().set_args("true")
    cid, _ = env.create(b)
    rt.ok("pause", cid)
    assert rt.state(cid)["status"] == "paused"
    r = rt.fail("start", cid)
    assert "paused" in r.err
    rt.ok("resume", cid)
    assert rt.state(cid)["status"] == "created"
    rt.ok("start", cid)


def test_delete_paused(env, rt):
    b, cid = started_counter(env, rt)
    rt.ok("pause", cid)
    r = rt.fail("delete", cid)
    assert "paused" in r.err or "not stopped" in r.err
    pid = rt.state(cid)["pid"]
    rt.ok("delete", "--force", cid)
    assert rt.ids() == []
    assert not pid_alive(pid)
    assert not os.path.exists(cgroup_file("freezer", b, ""))
    assert not os.path.exists(cgroup_file("memory", b, ""))


def test_kill_all(env, rt):
    b = env.bundle().sh("sleep 100 & sleep 100 & echo $! > /shared/child; wait")
    cid, _ = env.create(b)
    rt.ok("start", cid)
    assert wait_for(lambda: os.path.exists(b.shared_file("child")) and b.read_shared("child").strip())
    r = rt.ok("ps", "--format", "json", cid)
    pids = json.loads(r.out)
    assert len(pids) == 3, pids
    rt.ok("kill", "--all", cid, "KILL")
    assert wait_for(lambda: not any(pid_alive(p) for p in pids)), "processes survived kill --all"
    assert wait_for(lambda: rt.state(cid)["status"] == "stopped")


def test_kill_all_created(env, rt):
    b = env.bundle().set_args("true")
    cid, _ = env.create(b)
    pid = rt.state(cid)["pid"]
    rt.ok("kill", "--all", cid, "KILL")
    assert wait_for(lambda: not pid_alive(pid))


@pytest.mark.husk_only  # runc 1.1.5 thaws after signalling: the container ends
def test_kill_all_paused_term_stays_paused(env, rt):
    b = env.bundle().sh("trap 'exit 3' TERM; " + COUNTER)
    cid, _ = env.create(b)
    rt.ok("start", cid)
    assert wait_for(lambda: shared_count(b) > 2)
    rt.ok("pause", cid)
    rt.ok("kill", "--all", cid, "TERM")
    assert rt.state(cid)["status"] == "paused"
    rt.ok("resume", cid)
    assert wait_for(lambda: rt.state(cid)["status"] == "stopped")


def test_ps_json_and_table(env, rt):
    b = env.bundle().sh("sleep 100 & wait")
    cid, _ = env.create(b)
    rt.ok("start", cid)
    assert wait_for(lambda: len(json.loads(rt.ok("ps", "-f", "json", cid).out)) == 2)
    pids = json.loads(rt.ok("ps", "--format", "json", cid).out)
    init = rt.state(cid)["pid"]
    assert init in pids
    r = rt.ok("ps", cid)
    lines = r.out.splitlines()
    assert "PID" in lines[0].split()
    assert len(lines) == 3, r
    assert all(str(p) in r.out for p in pids)
    r = rt.ok("ps", cid, "-o", "pid,comm")
    lines = r.out.splitlines()
    assert lines[0].split() == ["PID", "COMMAND"]
    assert sorted(int(l.split()[0]) for l in lines[1:]) == sorted(pids)
    assert {l.split()[1] for l in lines[1:]} == {"sh", "sleep"}


def test_ps_stopped_empty(env, rt):
    """A stopped container has no processes: ps prints ps(1)'s header only,
    JSON null (runc's empty list), and exits 0."""
    b = env.bundle().set_args("true")
    cid, _ = env.create(b)
    rt.ok("start", cid)
    assert wait_for(lambda: rt.state(cid)["status"] == "stopped")
    r = rt.ok("ps", cid)
    assert len(r.out.splitlines()) == 1 and "PID" in r.out.split(), r
    r = rt.ok("ps", cid, "-o", "pid,comm")
    assert r.out.split() == ["PID", "COMMAND"], r
    for fmt in (("-f", "json"), ("--format", "json")):
        r = rt.ok("ps", *fmt, cid)
        assert r.out == "null\n" and json.loads(r.out) is None, r
    rt.fail("ps", "nosuch")


def test_events_stats(env, rt):
    b = env.bundle().set_args("sleep", "100")
    b.config["linux"]["resources"]["memory"] = {"limit": 64 << 20}
    b.config["linux"]["resources"]["pids"] = {"limit": 20}
    cid, _ = env.create(b)
    rt.ok("start", cid)
    r = rt.ok("events", "--stats", cid)
    ev = json.loads(r.out)
    assert ev["type"] == "stats" and ev["id"] == cid
    d = ev["data"]
    for k in ("cpu", "memory", "pids", "blkio", "hugetlb"):
        assert k in d, d
    assert d["memory"]["usage"]["limit"] == 64 << 20
    assert d["memory"]["usage"]["usage"] > 0
    assert d["pids"]["current"] == 1
    assert d["pids"]["limit"] == 20
    assert d["cpu"]["usage"]["total"] > 0


@pytest.mark.husk_only  # runc 1.1.5's events goes on after the container exits
def test_events_stream_until_exit(env, rt):
    b = env.bundle().set_args("sleep", "1")
    cid, _ = env.create(b)
    rt.ok("start", cid)
    r = rt("events", "--interval", "200ms", cid, timeout=10)
    assert r.rc == 0, r
    lines = [json.loads(l) for l in r.out.splitlines()]
    assert len(lines) >= 3, r
    assert all(l["type"] == "stats" for l in lines)


@pytest.mark.husk_only  # runc 1.1.5's events goes on after the container exits
def test_events_oom(env, rt):
    b = env.bundle().sh("sleep 0.5; x=$(head -c 67108864 /dev/zero | tr '\\0' a)")
    b.config["linux"]["resources"]["memory"] = {"limit": 16 << 20, "swap": 16 << 20}
    cid, _ = env.create(b)
    rt.ok("start", cid)
    r = rt("events", "--interval", "10s", cid, timeout=20)
    types = [json.loads(l)["type"] for l in r.out.splitlines()]
    assert "oom" in types, r


def test_events_bad_interval(env, rt):
    b = env.bundle().set_args("sleep", "100")
    cid, _ = env.create(b)
    r = rt.fail("events", "--interval", "soon", cid)
    assert "interval" in r.err


def test_update_flags(env, rt):
    b = env.bundle().set_args("sleep", "100")
    b.config["linux"]["resources"]["memory"] = {"limit": 64 << 20}
    cid, _ = env.create(b)
    rt.ok("start", cid)
    rt.ok("update", "--memory", "32m", "--memory-swap", "64m", "--memory-reservation", "16m",
          "--pids-limit", "30", "--cpu-share", "256", "--cpu-period", "50000", "--cpu-quota", "20000",
          "--cpuset-cpus", "0", "--cpuset-mems", "0", cid)
    assert_cgroup(b, "memory", "memory.limit_in_bytes", 32 << 20)
    assert_cgroup(b, "memory", "memory.soft_limit_in_bytes", 16 << 20)
    if os.path.exists(cgroup_file("memory", b, "memory.memsw.limit_in_bytes")):
        assert_cgroup(b, "memory", "memory.memsw.limit_in_bytes", 64 << 20)
    if PURE_V2 and os.path.exists(cgroup_file("memory", b, "memory.swap.max")):
        # v2 swap.max is memsw minus the memory limit
        assert int(read_cgroup("memory", b, "memory.swap.max")) == 32 << 20
    assert_cgroup(b, "pids", "pids.max", "30")
    assert_cgroup(b, "cpu", "cpu.shares", "256")
    assert_cgroup(b, "cpu", "cpu.cfs_quota_us", "20000")
    assert cpu_period(b) == "50000"
    assert_cgroup(b, "cpuset", "cpuset.cpus", "0")
    assert_cgroup(b, "cpuset", "cpuset.mems", "0")
    # raising the limit above the old memsw: the order is swapped
    rt.ok("update", "--memory", "128m", "--memory-swap", "256m", cid)
    assert_cgroup(b, "memory", "memory.limit_in_bytes", 128 << 20)
    rt.ok("update", "--pids-limit", "-1", cid)
    assert_cgroup(b, "pids", "pids.max", "max")


def test_update_resources_stdin(env, rt):
    b = env.bundle().set_args("sleep", "100")
    cid, _ = env.create(b)
    rt.ok("start", cid)
    res = {"memory": {"limit": 50 << 20}, "cpu": {"shares": 300}, "pids": {"limit": 40}}
    rfile = os.path.join(env.base, "res.json")
    with open(rfile, "w") as f:
        json.dump(res, f)
    with open(rfile) as f:
        rt.ok("update", "--resources", "-", cid, stdin=f)
    assert_cgroup(b, "memory", "memory.limit_in_bytes", 50 << 20)
    assert_cgroup(b, "cpu", "cpu.shares", "300")
    assert_cgroup(b, "pids", "pids.max", "40")
    res["pids"]["limit"] = 41
    with open(rfile, "w") as f:
        json.dump(res, f)
    rt.ok("update", "-r", rfile, cid)
    assert_cgroup(b, "pids", "pids.max", "41")


def test_update_unknown_properties_ignored(env, rt):
    """update -r takes linux.resources: unknown properties are ignored
    there too, and the known ones apply."""
    b = env.bundle().set_args("sleep", "100")
    cid, _ = env.create(b)
    rfile = os.path.join(env.base, "res.json")
    with open(rfile, "w") as f:
        json.dump({"pids": {"limit": 37, "limitt": 5}, "memroy": {"limit": 1}}, f)
    r = rt.ok("update", "-r", rfile, cid)
    if IS_HUSK:
        assert r.err == "", r
    assert_cgroup(b, "pids", "pids.max", "37")


def _memsw(b):
    """v1 memory+swap limit file, or None where the host has no swap
    accounting (v2: memory.swap.max, when the host has one)."""
    f = cgroup_file("memory", b, "memory.swap.max" if PURE_V2 else "memory.memsw.limit_in_bytes")
    return f if os.path.exists(f) else None


def _unlimited():
    """What a v1 memory limit of -1 reads back as (the root's limit)."""
    return "max" if PURE_V2 else read_file(f"{cgroup_root('memory')}/memory.limit_in_bytes")


def test_update_memory_unlimited(env, rt):
    """--memory -1 lifts the memory and the swap limit together (v1: memsw
    first, or the kernel refuses the limit above it); a later limit keeps
    swap unlimited."""
    b = env.bundle().set_args("sleep", "100")
    b.config["linux"]["resources"]["memory"] = {"limit": 64 << 20}
    probe = f"{cgroup_root('memory')}/memory.memsw.limit_in_bytes"
    if PURE_V2 or os.path.exists(probe):
        b.config["linux"]["resources"]["memory"]["swap"] = 128 << 20
    cid, _ = env.create(b)
    rt.ok("start", cid)
    limit = cgroup_file("memory", b, "memory.max" if PURE_V2 else "memory.limit_in_bytes")
    assert read_file(limit) == str(64 << 20)
    rt.ok("update", "--memory", "-1", cid)
    assert read_file(limit) == _unlimited()
    if _memsw(b):
        assert read_file(_memsw(b)) == _unlimited()
    rt.ok("update", "--memory", "32m", cid)
    assert read_file(limit) == str(32 << 20)
    if _memsw(b):
        assert read_file(_memsw(b)) == _unlimited()


def test_update_value_parsing(env, rt):
    """Flag values as runc reads them: sizes with or without a space, unit,
    "i" and "b"; shares and periods unsigned; quota -1 unlimited; 0 pids or
    blkio weight leave them as they are; the kernel memory flags are
    accepted and ignored."""
    b = env.bundle().set_args("sleep", "100")
    b.config["linux"]["resources"]["pids"] = {"limit": 50}
    cid, _ = env.create(b)
    rt.ok("start", cid)
    for val, want in (("8 MiB", 8 << 20), ("16M", 16 << 20), ("4096kb", 4 << 20), ("0.5g", 512 << 20),
                      ("12582912", 12 << 20), ("2GB", 2 << 30)):
        rt.ok("update", "--memory", val, cid)
        assert_cgroup(b, "memory", "memory.limit_in_bytes", want)
    for args in (("--memory", "1.5.5m"), ("--memory", "-2"), ("--memory", "5x"),
                 ("--memory", "m"), ("--cpu-share", "-5"), ("--cpu-period", "-1"),
                 ("--pids-limit", "many")):
        r = rt.fail("update", *args, cid)
        assert len(r.err.strip().splitlines()) == 1, r
    assert_cgroup(b, "memory", "memory.limit_in_bytes", 2 << 30)
    rt.ok("update", "--cpu-quota", "30000", cid)
    assert_cgroup(b, "cpu", "cpu.cfs_quota_us", "30000")
    rt.ok("update", "--cpu-quota", "-1", cid)
    if PURE_V2:
        assert read_cgroup("cpu", b, "cpu.max").split()[0] == "max"
    else:
        assert_cgroup(b, "cpu", "cpu.cfs_quota_us", "-1")
    rt.ok("update", "--pids-limit", "0", "--blkio-weight", "0", cid)
    assert_cgroup(b, "pids", "pids.max", "50")
    rt.ok("update", "--kernel-memory", "5m", "--kernel-memory-tcp", "5m", cid)
    tcp = cgroup_file("memory", b, "memory.kmem.tcp.limit_in_bytes")
    if not PURE_V2 and os.path.exists(tcp):
        assert read_file(tcp) == _unlimited()


def test_update_keeps_device_rules(env, rt):
    """update never changes device rules, as runc: "devices" in the
    resources JSON is ignored (a device plugin may have added its own)."""
    b = env.bundle().set_args("sleep", "100")
    b.config["linux"]["resources"]["devices"].append(
        {"allow": True, "type": "c", "major": 1, "minor": 11, "access": "r"})
    cid, _ = env.create(b)
    rt.ok("start", cid)
    devlist = cgroup_file("devices", b, "devices.list")
    before = None if PURE_V2 else sorted(read_file(devlist).splitlines())
    assert before is None or "c 1:11 r" in before, before
    rfile = os.path.join(env.base, "devices.json")
    for rules in ([{"allow": False, "access": "rwm"}], [{"allow": True, "access": "rwm"}]):
        with open(rfile, "w") as f:
            json.dump({"devices": rules, "pids": {"limit": 20}}, f)
        rt.ok("update", "-r", rfile, cid)
        assert_cgroup(b, "pids", "pids.max", "20")
        if before is not None:
            assert sorted(read_file(devlist).splitlines()) == before
        rt.ok("exec", cid, "sh", "-c", "echo x > /dev/null")
    # devices alone: nothing to do, and no error
    with open(rfile, "w") as f:
        json.dump({"devices": [{"allow": False, "access": "rwm"}]}, f)
    rt.ok("update", "-r", rfile, cid)
    if before is not None:
        assert sorted(read_file(devlist).splitlines()) == before


@pytest.mark.husk_only  # runc 1.1.5 spells it --cpu-share only
def test_update_cpu_shares_spelling(env, rt):
    b = env.bundle().set_args("sleep", "100")
    cid, _ = env.create(b)
    rt.ok("update", "--cpu-shares", "300", cid)
    assert_cgroup(b, "cpu", "cpu.shares", "300")
    rt.ok("update", "--cpu-share", "400", cid)
    assert_cgroup(b, "cpu", "cpu.shares", "400")


@pytest.mark.husk_only
def test_update_bad_input(env, rt):
    b = env.bundle().set_args("sleep", "100")
    cid, _ = env.create(b)
    r = rt.fail("update", "--memory", "lots", cid)
    assert "--memory" in r.err
    r = rt.fail("update", cid)
    assert "nothing to update" in r.err
    r = rt.fail("update", "-r", "-", cid, stdin=subprocess.DEVNULL)
    rfile = os.path.join(env.base, "bad.json")
    with open(rfile, "w") as f:
        json.dump({"memory": {"limit": "5"}}, f)
    r = rt.fail("update", "-r", rfile, cid)
    assert "memory.limit" in r.err
    r = rt.fail("update", "--cpu-shares", "1", cid)
    assert "cpu.shares" in r.err


@pytest.mark.husk_only
def test_update_check_before_update(env, rt):
    b = env.bundle().sh("x=$(head -c 8388608 /dev/zero | tr '\\0' a); touch /shared/ready; sleep 100; echo ${#x}")
    b.config["linux"]["resources"]["memory"] = {"limit": 64 << 20, "checkBeforeUpdate": True}
    cid, _ = env.create(b)
    rt.ok("start", cid)
    assert wait_for(lambda: os.path.exists(b.shared_file("ready")))
    r = rt.fail("update", "--memory", "1m", cid)
    assert "checkBeforeUpdate" in r.err
    assert_cgroup(b, "memory", "memory.limit_in_bytes", 64 << 20)


@pytest.mark.husk_only
def test_update_kept_in_state(env, rt):
    """A later update builds on an earlier one (stored in the state)."""
    b = env.bundle().set_args("sleep", "100")
    cid, _ = env.create(b)
    rt.ok("update", "--memory", "40m", "--memory-swap", "80m", cid)
    rt.ok("update", "--memory-reservation", "10m", cid)
    assert_cgroup(b, "memory", "memory.limit_in_bytes", 40 << 20)
    assert_cgroup(b, "memory", "memory.soft_limit_in_bytes", 10 << 20)


def test_update_stopped_refused(env, rt):
    b = env.bundle().set_args("true")
    cid, _ = env.create(b)
    rt.ok("start", cid)
    assert wait_for(lambda: rt.state(cid)["status"] == "stopped")
    rt.fail("update", "--pids-limit", "10", cid)
