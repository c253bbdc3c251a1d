"""linux.resources on this (v1 hybrid) host: values read back from the
cgroup files, limits that bite, and bad input refused with nothing left."""
import glob
import os

import pytest

from helpers import CGROUP_PARENT, HAS_CGROUP2, IS_HUSK, PURE_V2, cgroup2_controllers, \
    cgroup_dirs, cgroup_file, cgroup_root, has_v1, one_line_error, read_cgroup, read_file


# Tests that read v1 files; the rest run on v1, hybrid and pure v2 hosts
# (tests/vm/cgroup-v2.sh), and the v2_ ones at the end only on pure v2.
v1_only = pytest.mark.skipif(not has_v1("memory"), reason="reads v1 cgroup files")
v2_only = pytest.mark.skipif(not PURE_V2, reason="pure cgroup v2 host only")


def assert_refused(env, b, *fragments):
    """create fails with one line naming the problem; nothing is left."""
    cid, r = env.create(b, ok=False)
    one_line_error(r, *fragments)
    assert env.rt.ids() == [], r
    assert cgroup_dirs(b) == [], r
    return r


@v1_only
def test_memory_values(env, rt):
    b = env.bundle().set_args("sleep", "100")
    b.config["linux"]["resources"]["memory"] = {
        "limit": 64 << 20, "swap": 96 << 20, "reservation": 32 << 20,
        "swappiness": 10, "disableOOMKiller": False}
    env.create(b)
    assert int(read_cgroup("memory", b, "memory.limit_in_bytes")) == 64 << 20
    assert int(read_cgroup("memory", b, "memory.soft_limit_in_bytes")) == 32 << 20
    assert read_cgroup("memory", b, "memory.swappiness") == "10"
    if os.path.exists(cgroup_file("memory", b, "memory.memsw.limit_in_bytes")):
        assert int(read_cgroup("memory", b, "memory.memsw.limit_in_bytes")) == 96 << 20


def test_memory_hog_is_oom_killed(env):
    b = env.bundle()
    b.config["linux"]["resources"]["memory"] = {"limit": 16 << 20, "swap": 16 << 20}
    # a shell variable that grows to ~64 MiB
    r = env.run_sh("x=$(head -c 67108864 /dev/zero | tr '\\0' a); echo survived ${#x}", bundle=b, ok=False)
    assert r.rc in (137, 9), r
    assert "survived" not in r.out
    # and without the limit it survives
    r = env.run_sh("x=$(head -c 67108864 /dev/zero | tr '\\0' a); echo survived ${#x}")
    assert "survived 67108864" in r.out


@v1_only
def test_memory_limit_minus_one(env, rt):
    b = env.bundle().set_args("sleep", "100")
    b.config["linux"]["resources"]["memory"] = {"limit": -1}
    env.create(b)
    assert int(read_cgroup("memory", b, "memory.limit_in_bytes")) > 1 << 60


def test_pids_limit_value_and_bite(env):
    b = env.bundle()
    b.config["linux"]["resources"]["pids"] = {"limit": 4}
    r = env.run_sh("cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || echo none; "
                   "for i in 1 2 3 4 5 6; do sleep 2 & done 2>/dev/null; wait", bundle=b, ok=False)
    assert "fork" in (r.err + r.out).lower() or "resource" in (r.err + r.out).lower() or r.rc != 0, r


@v1_only
@pytest.mark.husk_only
def test_cpu_values(env, rt):
    b = env.bundle().set_args("sleep", "100")
    b.config["linux"]["resources"]["cpu"] = {
        "shares": 512, "quota": 50000, "period": 100000, "burst": 10000, "idle": 0,
        "cpus": "0", "mems": "0"}
    env.create(b)
    assert read_cgroup("cpu", b, "cpu.shares") == "512"
    assert read_cgroup("cpu", b, "cpu.cfs_quota_us") == "50000"
    assert read_cgroup("cpu", b, "cpu.cfs_period_us") == "100000"
    if os.path.exists(cgroup_file("cpu", b, "cpu.cfs_burst_us")):
        assert read_cgroup("cpu", b, "cpu.cfs_burst_us") == "10000"
    assert read_cgroup("cpuset", b, "cpuset.cpus") == "0"
    assert read_cgroup("cpuset", b, "cpuset.mems") == "0"


@v1_only
def test_cpu_quota_smaller_period_order(env, rt):
    # period below the default: the quota/period pair must still apply
    b = env.bundle().set_args("sleep", "100")
    b.config["linux"]["resources"]["cpu"] = {"quota": 5000, "period": 10000}
    env.create(b)
    assert read_cgroup("cpu", b, "cpu.cfs_quota_us") == "5000"
    assert read_cgroup("cpu", b, "cpu.cfs_period_us") == "10000"


@v1_only
@pytest.mark.husk_only
def test_cpu_realtime_beyond_parent_refused(env):
    b = env.bundle().set_args("true")
    b.config["linux"]["resources"]["cpu"] = {"realtimeRuntime": 950000, "realtimePeriod": 1000000}
    parent_rt = f"{cgroup_root('cpu')}/{CGROUP_PARENT}/cpu.rt_runtime_us"
    if os.path.exists(parent_rt) and int(read_file(parent_rt)) >= 950000:
        pytest.skip("parent grants realtime time")
    assert_refused(env, b, "cpu.realtime")


@v1_only
def test_cpuset_inherited_without_values(env, rt):
    b = env.bundle().set_args("sleep", "100")
    env.create(b)
    assert read_cgroup("cpuset", b, "cpuset.cpus") != ""


@v1_only
def test_blkio_throttle_and_weight(env, rt):
    dev = None
    for p in sorted(glob.glob("/sys/block/*/dev")):
        if "/loop" not in p and "/zram" not in p:
            with open(p) as f:
                dev = f.read().strip()
            break
    if not dev:
        pytest.skip("no block device")
    major, minor = map(int, dev.split(":"))
    b = env.bundle().set_args("sleep", "100")
    b.config["linux"]["resources"]["blockIO"] = {
        "throttleReadBpsDevice": [{"major": major, "minor": minor, "rate": 1048576}],
        "throttleWriteIOPSDevice": [{"major": major, "minor": minor, "rate": 100}]}
    env.create(b)
    assert f"{major}:{minor} 1048576" in read_cgroup("blkio", b, "blkio.throttle.read_bps_device")
    assert f"{major}:{minor} 100" in read_cgroup("blkio", b, "blkio.throttle.write_iops_device")


@v1_only
def test_blkio_weight(env, rt):
    b = env.bundle().set_args("sleep", "100")
    b.config["linux"]["resources"]["blockIO"] = {"weight": 300}
    cid, r = env.create(b, ok=False)
    files = [f for f in ("blkio.weight", "blkio.bfq.weight") if os.path.exists(cgroup_file("blkio", b, f))]
    if r.rc == 0:
        assert files, "weight accepted without a weight file"
        assert "300" in read_cgroup("blkio", b, files[0])
    else:
        assert "blockIO.weight" in r.err and "not supported" in r.err, r


@pytest.mark.husk_only
def test_hugetlb_where_it_lives(env, rt):
    """hugetlb is on the unified hierarchy here (hybrid): hugetlb.2MB.max."""
    if not os.path.exists("/sys/kernel/mm/hugepages/hugepages-2048kB"):
        pytest.skip("no 2MB huge pages")
    b = env.bundle().set_args("sleep", "100")
    b.config["linux"]["resources"]["hugepageLimits"] = [{"pageSize": "2MB", "limit": 4 << 20}]
    env.create(b)
    v1 = cgroup_file("hugetlb", b, "hugetlb.2MB.limit_in_bytes")
    v2 = cgroup_file("unified", b, "hugetlb.2MB.max")
    path = v1 if os.path.exists(v1) else v2
    with open(path) as f:
        assert int(f.read()) == 4 << 20


@pytest.mark.husk_only
def test_hugetlb_unknown_page_size_refused(env):
    b = env.bundle().set_args("true")
    b.config["linux"]["resources"]["hugepageLimits"] = [{"pageSize": "3MB", "limit": 4 << 20}]
    assert_refused(env, b, "hugepageLimits", "3MB")


@pytest.mark.husk_only
def test_unified_on_hybrid(env, rt):
    if PURE_V2 or not HAS_CGROUP2:
        pytest.skip("not hybrid")
    if "hugetlb" not in cgroup2_controllers():
        pytest.skip("hugetlb not on the unified hierarchy")
    b = env.bundle().set_args("sleep", "100")
    b.config["linux"]["resources"]["unified"] = {"hugetlb.2MB.max": "2097152"}
    env.create(b)
    assert read_cgroup("unified", b, "hugetlb.2MB.max") == "2097152"


@v1_only
@pytest.mark.husk_only
def test_unified_v1_controller_refused(env):
    b = env.bundle().set_args("true")
    b.config["linux"]["resources"]["unified"] = {"memory.high": "1000000"}
    assert_refused(env, b, "unified", "memory.high", "v2")


@pytest.mark.husk_only
def test_network_without_net_cls_refused(env, rt):
    b = env.bundle().set_args("sleep", "100")
    b.config["linux"]["resources"]["network"] = {"classID": 1048577}
    if has_v1("net_cls"):
        env.create(b)
        assert read_cgroup("net_cls", b, "net_cls.classid") == "1048577"
    else:
        assert_refused(env, b, "network.classID", "net_cls")


@pytest.mark.husk_only
def test_rdma_without_controller_refused(env, rt):
    b = env.bundle().set_args("true")
    b.config["linux"]["resources"]["rdma"] = {"mlx5_1": {"hcaHandles": 3}}
    if has_v1("rdma") or (PURE_V2 and "rdma" in cgroup2_controllers()):
        pytest.skip("host has rdma")
    assert_refused(env, b, "rdma")


@pytest.mark.husk_only
@pytest.mark.parametrize("res,frag", [
    ({"memory": {"swappiness": 101}}, "swappiness"),
    ({"memory": {"limit": -5}}, "memory.limit"),
    ({"cpu": {"shares": 1}}, "cpu.shares"),
    ({"cpu": {"period": 50}}, "cpu.period"),
    ({"cpu": {"quota": "x"}}, "cpu.quota"),
    ({"blockIO": {"weight": 5000}}, "blockIO.weight"),
    ({"devices": [{"allow": True, "type": "z"}]}, "devices"),
    ({"devices": [{"allow": True, "access": "rwq"}]}, "access"),
    ({"memory": {"limit": 1 << 20, "swap": 1 << 19}}, None),
])
def test_bad_resources_refused(env, res, frag):
    b = env.bundle().set_args("true")
    b.config["linux"]["resources"].update(res)
    if frag is None:
        # swap below limit: the kernel (v1) or our conversion (v2) refuses
        assert_refused(env, b, "memory")
    else:
        assert_refused(env, b, frag)


def test_unknown_resource_properties_ignored(env, rt):
    """The spec: unknown properties are ignored, not an error (runc's Go
    decoder drops them too); the known ones next to them still apply."""
    b = env.bundle().set_args("sleep", "100")
    res = b.config["linux"]["resources"]
    res["memroy"] = {"limit": 1}
    res["futureController"] = [{"x": 1}]
    res["pids"] = {"limit": 42, "limt": 7}
    res["devices"].append({"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm",
                           "comment": "unknown too"})
    cid, r = env.create(b)
    if IS_HUSK:
        assert r.err == "", r
    assert read_cgroup("pids", b, "pids.max") == "42"
    env.rt.ok("start", cid)
    assert env.rt.state(cid)["status"] == "running"


@pytest.mark.husk_only
def test_resources_as_reals(env, rt):
    """A document written with floats (huge numbers) still applies."""
    b = env.bundle().set_args("sleep", "100")
    b.config["linux"]["resources"]["memory"] = {"limit": float(64 << 20)}
    b.config["linux"]["resources"]["pids"] = {"limit": 50.0}
    env.create(b)
    mem = "memory.max" if PURE_V2 else "memory.limit_in_bytes"
    assert int(read_cgroup("memory", b, mem)) == 64 << 20
    assert read_cgroup("pids", b, "pids.max") == "50"


# mknod is allowed (c *:* m); opening the node is up to the rules
FUSE_PROBE = ("mknod /dev/probe c 10 229 && (: < /dev/probe) 2>/dev/null && echo fuse-read; "
              "(: > /dev/probe) 2>/dev/null && echo fuse-write; echo ok > /dev/null && echo null-ok")


@pytest.mark.parametrize("rules,want", [
    ([{"allow": False, "access": "rwm"}], []),
    ([{"allow": False, "access": "rwm"},
      {"allow": True, "type": "c", "major": 10, "minor": 229, "access": "rw"}], ["fuse-read", "fuse-write"]),
    # in order: a later deny of reading overrides the earlier allow
    ([{"allow": False, "access": "rwm"}, {"allow": True, "type": "c", "major": 10, "minor": 229, "access": "rwm"},
      {"allow": False, "type": "c", "major": 10, "minor": 229, "access": "r"}], ["fuse-write"]),
    ([{"allow": True, "access": "rwm"}], ["fuse-read", "fuse-write"]),
    # type a short of "a *:* rwm": v1 reads any "a" line as allow-all
    # (runc 1.1.5 writes it so and allows writing too)
    pytest.param([{"allow": False, "access": "rwm"},
                  {"allow": True, "type": "a", "major": 10, "minor": 229, "access": "r"}],
                 ["fuse-read"], marks=pytest.mark.husk_only),
    pytest.param([{"allow": False, "access": "rwm"}, {"allow": True, "access": "r"}], ["fuse-read"],
                 marks=pytest.mark.husk_only),
])
def test_devices_rules_enforced(env, rules, want):
    if not os.path.exists("/dev/fuse"):
        pytest.skip("no fuse device on the host")
    b = env.bundle()
    b.config["linux"]["resources"]["devices"] = rules
    for caps in b.config["process"]["capabilities"].values():
        caps.append("CAP_MKNOD")
    r = env.run_sh(FUSE_PROBE, bundle=b, ok=False)
    assert "null-ok" in r.out, r
    got = [w for w in ("fuse-read", "fuse-write") if w in r.out]
    assert got == want, r


@pytest.mark.husk_only
def test_devices_list_v1(env, rt):
    if not has_v1("devices"):
        pytest.skip("no v1 devices controller")
    b = env.bundle().set_args("sleep", "100")
    b.config["linux"]["devices"] = [{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229}]
    b.config["linux"]["resources"]["devices"] = [{"allow": False, "access": "rwm"}]
    env.create(b)
    rules = read_cgroup("devices", b, "devices.list").splitlines()
    assert "a *:* rwm" not in rules
    for want in ("c 1:3 rwm", "c 1:5 rwm", "c 136:* rwm"):
        assert want in rules, rules
    # a linux.devices node gets no rule of its own (as in runc)
    assert not [r for r in rules if r.startswith("c 10:229")], rules


# linux.devices creates the node; only resources.devices grants access
NODE_PROBE = ("(: < {p}) 2>/dev/null && echo {n}-read; (: > {p}) 2>/dev/null && echo {n}-write; "
              "echo ok > /dev/null && echo null-ok")


@pytest.mark.parametrize("access,want", [
    (None, []),
    ("r", ["fuse-read"]),
    ("rw", ["fuse-read", "fuse-write"]),
])
def test_devices_node_access_from_rules_only(env, access, want):
    """docker --device /dev/fuse:/dev/fuse:r sends the node plus "c 10:229 r":
    the node must not be writable."""
    if not os.path.exists("/dev/fuse"):
        pytest.skip("no fuse device on the host")
    b = env.bundle()
    b.config["linux"]["devices"] = [{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229,
                                     "fileMode": 0o666}]
    rules = [{"allow": False, "access": "rwm"}]
    if access:
        rules.append({"allow": True, "type": "c", "major": 10, "minor": 229, "access": access})
    b.config["linux"]["resources"]["devices"] = rules
    r = env.run_sh(NODE_PROBE.format(p="/dev/fuse", n="fuse"), bundle=b, ok=False)
    assert "null-ok" in r.out, r
    assert [w for w in ("fuse-read", "fuse-write") if w in r.out] == want, r


def test_devices_node_replaces_default_rule(env):
    """A linux.devices entry at a default device's path drops that default
    rule, so the spec's rules decide: here /dev/zero becomes read-only."""
    b = env.bundle()
    b.config["linux"]["devices"] = [{"path": "/dev/zero", "type": "c", "major": 1, "minor": 5, "fileMode": 0o666}]
    b.config["linux"]["resources"]["devices"] = [
        {"allow": False, "access": "rwm"}, {"allow": True, "type": "c", "major": 1, "minor": 5, "access": "r"}]
    r = env.run_sh(NODE_PROBE.format(p="/dev/zero", n="zero") + "; (: > /dev/full) 2>/dev/null && echo full-write",
                   bundle=b, ok=False)
    assert "null-ok" in r.out and "full-write" in r.out, r
    assert [w for w in ("zero-read", "zero-write") if w in r.out] == ["zero-read"], r


def test_devices_allow_all(env):
    b = env.bundle()
    b.config["linux"]["resources"]["devices"] = [{"allow": True, "access": "rwm"}]
    b.config["linux"]["devices"] = [{"path": "/dev/loop-control", "type": "c", "major": 10, "minor": 237}]
    r = env.run_sh("head -c 1 /dev/zero > /dev/null && echo fine", bundle=b)
    assert "fine" in r.out


@v2_only
def test_v2_memory_values(env, rt):
    b = env.bundle().set_args("sleep", "100")
    b.config["linux"]["resources"]["memory"] = {
        "limit": 64 << 20, "swap": 96 << 20, "reservation": 32 << 20}
    env.create(b)
    assert int(read_cgroup("memory", b, "memory.max")) == 64 << 20
    assert int(read_cgroup("memory", b, "memory.low")) == 32 << 20
    if os.path.exists(cgroup_file("memory", b, "memory.swap.max")):
        # v2 swap is memsw minus the limit (runc's conversion)
        assert int(read_cgroup("memory", b, "memory.swap.max")) == 32 << 20


@v2_only
def test_v2_memory_limit_minus_one(env, rt):
    b = env.bundle().set_args("sleep", "100")
    b.config["linux"]["resources"]["memory"] = {"limit": -1}
    env.create(b)
    assert read_cgroup("memory", b, "memory.max") == "max"


@v2_only
def test_v2_cpu_values(env, rt):
    b = env.bundle().set_args("sleep", "100")
    b.config["linux"]["resources"]["cpu"] = {
        "shares": 1024, "quota": 50000, "period": 100000, "cpus": "0", "mems": "0"}
    env.create(b)
    # runc: weight = 1 + ((shares - 2) * 9999) / 262142
    assert read_cgroup("cpu", b, "cpu.weight") == str(1 + (1022 * 9999) // 262142)
    assert read_cgroup("cpu", b, "cpu.max") == "50000 100000"
    assert read_cgroup("cpuset", b, "cpuset.cpus") == "0"
    assert read_cgroup("cpuset", b, "cpuset.mems") == "0"


@v2_only
def test_v2_cpu_period_only_keeps_max(env, rt):
    b = env.bundle().set_args("sleep", "100")
    b.config["linux"]["resources"]["cpu"] = {"period": 50000}
    env.create(b)
    assert read_cgroup("cpu", b, "cpu.max") == "max 50000"


@v2_only
def test_v2_io_weight(env, rt):
    b = env.bundle().set_args("sleep", "100")
    b.config["linux"]["resources"]["blockIO"] = {"weight": 500}
    env.create(b)
    files = [f for f in ("io.weight", "io.bfq.weight") if os.path.exists(cgroup_file("io", b, f))]
    if not files:
        pytest.skip("no io weight file (no io scheduler with weights)")
    # runc: io.weight = 1 + ((blkio - 10) * 9999) / 990
    want = str(1 + ((500 - 10) * 9999) // 990)
    assert any(want in read_cgroup("io", b, f) or "500" in read_cgroup("io", b, f) for f in files), \
        {f: read_cgroup("io", b, f) for f in files}


@v2_only
def test_v2_unified_memory_high(env, rt):
    b = env.bundle().set_args("sleep", "100")
    b.config["linux"]["resources"]["unified"] = {"memory.high": "33554432", "pids.max": "7"}
    env.create(b)
    assert read_cgroup("memory", b, "memory.high") == "33554432"
    assert read_cgroup("pids", b, "pids.max") == "7"


def _block_dev():
    for p in sorted(glob.glob("/sys/block/*/dev")):
        if "/loop" not in p and "/zram" not in p:
            with open(p) as f:
                return tuple(map(int, f.read().strip().split(":")))
    pytest.skip("no block device")


@v2_only
def test_v2_io_max(env, rt):
    major, minor = _block_dev()
    b = env.bundle().set_args("sleep", "100")
    b.config["linux"]["resources"]["blockIO"] = {
        "throttleReadBpsDevice": [{"major": major, "minor": minor, "rate": 1048576}],
        "throttleWriteIOPSDevice": [{"major": major, "minor": minor, "rate": 100}]}
    env.create(b)
    line = [l for l in read_cgroup("io", b, "io.max").splitlines() if l.startswith(f"{major}:{minor} ")]
    assert line, read_cgroup("io", b, "io.max")
    fields = dict(f.split("=") for f in line[0].split()[1:])
    assert fields["rbps"] == "1048576" and fields["wiops"] == "100", line
    assert fields["wbps"] == "max" and fields["riops"] == "max", line


@v2_only
def test_v2_cpuset_inherited_without_values(env, rt):
    b = env.bundle().set_args("sleep", "100")
    env.create(b)
    assert read_cgroup("cpuset", b, "cpuset.cpus.effective") != ""
    assert read_cgroup("cpuset", b, "cpuset.mems.effective") != ""


def test_starts_under_tight_memory_limit(env):
    """The init is in the cgroup before it allocates much (clone3 into the
    cgroup on v2): a container starts and runs under a 4 MiB limit."""
    b = env.bundle()
    b.config["linux"]["resources"]["memory"] = {"limit": 4 << 20, "swap": 4 << 20}
    r = env.run_sh("echo small", bundle=b)
    assert "small" in r.out, r


@v2_only
def test_v2_cpu_burst_and_idle(env, rt):
    b = env.bundle().set_args("sleep", "100")
    b.config["linux"]["resources"]["cpu"] = {"quota": 50000, "period": 100000, "burst": 10000}
    env.create(b)
    if os.path.exists(cgroup_file("cpu", b, "cpu.max.burst")):
        assert read_cgroup("cpu", b, "cpu.max.burst") == "10000"
    b2 = env.bundle().set_args("sleep", "100")
    b2.config["linux"]["resources"]["cpu"] = {"idle": 1}
    env.create(b2)
    assert read_cgroup("cpu", b2, "cpu.idle") == "1"


@v2_only
@pytest.mark.husk_only
def test_v2_realtime_refused(env):
    b = env.bundle().set_args("true")
    b.config["linux"]["resources"]["cpu"] = {"realtimeRuntime": 1000, "realtimePeriod": 1000000}
    assert_refused(env, b, "realtime", "v2")
