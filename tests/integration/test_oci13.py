"""runtime-spec 1.3: linux.netDevices (host interfaces moved into the
container and given back), linux.memoryPolicy (set_mempolicy),
process.execCPUAffinity (exec) and linux.intelRdt without resctrl."""
import json
import os
import subprocess
import uuid

import pytest

from helpers import cgroup_dirs, one_line_error, wait_for

# runc 1.1.5 knows none of these fields (it ignores them).
pytestmark = pytest.mark.husk_only


def _ip(*args, check=True):
    return subprocess.run(["ip"] + list(args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, check=check)


@pytest.fixture
def veth():
    """A veth pair (this kernel has no dummy driver) with an address on
    the first end, which is up; removed afterwards wherever it ended."""
    if subprocess.run(["which", "ip"], stdout=subprocess.DEVNULL).returncode != 0:
        pytest.skip("no ip(8): scripts/deps.sh test installs iproute2")
    tag = uuid.uuid4().hex[:6]
    a, b = f"hka{tag}", f"hkb{tag}"
    net = f"10.{int(tag[:2], 16) % 250 + 1}.{int(tag[2:4], 16)}"
    r = _ip("link", "add", a, "type", "veth", "peer", "name", b, check=False)
    if r.returncode != 0:
        pytest.skip(f"cannot create a veth pair: {r.stdout}")
    _ip("addr", "add", f"{net}.1/24", "dev", a)
    _ip("link", "set", a, "up")
    yield a, b, f"{net}.1/24"
    _ip("link", "del", a, check=False)  # the peer goes with it


def _nothing_left(env, b):
    assert env.rt.ids() == [], env.rt.ids()
    assert not cgroup_dirs(b)


def _started(env, b, script="sleep 1000"):
    b.sh(script)
    cid, _ = env.create(b)
    env.rt.ok("start", cid)
    return cid


# ---- linux.netDevices ----

def test_netdev_moved_renamed_with_address_and_given_back(veth, env):
    a, _, addr = veth
    b = env.bundle()
    b.config["linux"]["netDevices"] = {a: {"name": "ctr0"}}
    cid = _started(env, b)
    out = env.rt.ok("exec", cid, "ip", "addr", "show", "ctr0").out
    assert addr in out and "UP" in out, out
    assert _ip("link", "show", a, check=False).returncode != 0, "still on the host"
    st = json.load(open(os.path.join(env.rt.root, cid, "state.json")))
    rec = st["netDevices"]
    assert [{k: d[k] for k in ("hostName", "name", "up")} for d in rec] == \
        [{"hostName": a, "name": "ctr0", "up": True}], st
    env.rt.ok("delete", "--force", cid)
    host = _ip("addr", "show", a).stdout
    assert addr in host and ",UP" in host, host
    assert "ctr0" not in _ip("link").stdout


def test_netdev_keeps_its_name_and_comes_up(veth, env):
    a, _, addr = veth
    _ip("link", "set", a, "down")
    b = env.bundle()
    b.config["linux"]["netDevices"] = {a: {}}
    cid = _started(env, b)
    out = env.rt.ok("exec", cid, "ip", "addr", "show", a).out
    assert addr in out and ",UP" in out, out
    env.rt.ok("delete", "--force", cid)
    host = _ip("addr", "show", a).stdout
    # back as it was: with its address, still down
    assert addr in host and ",UP" not in host, host


def test_netdev_given_back_with_the_hosts_addresses(veth, env):
    """What the container does to the device's addresses stays in the
    container: the host gets its own back, not a prefix route of the
    container's choosing."""
    a, _, addr = veth
    b = env.bundle()
    b.config["linux"]["netDevices"] = {a: {"name": "ctr0"}}
    for caps in b.config["process"]["capabilities"].values():
        caps.append("CAP_NET_ADMIN")
    cid = _started(env, b)
    env.rt.ok("exec", cid, "ip", "addr", "del", addr, "dev", "ctr0")
    env.rt.ok("exec", cid, "ip", "addr", "add", "192.0.2.77/24", "dev", "ctr0")
    env.rt.ok("delete", "--force", cid)
    host = _ip("addr", "show", a).stdout
    assert addr in host and "192.0.2.77" not in host, host
    assert "192.0.2.0/24" not in _ip("route", "show", "dev", a).stdout


@pytest.fixture
def pinned_netns(env):
    """A network namespace kept by a bind mount in the test's own scratch
    directory (as /run/netns/NAME is), not by a process."""
    path = os.path.join(env.base, "netns")
    open(path, "w").close()
    p = subprocess.Popen(["unshare", "--net", "sleep", "100"])
    try:
        assert wait_for(lambda: os.readlink(f"/proc/{p.pid}/ns/net") != os.readlink("/proc/self/ns/net"))
        subprocess.run(["mount", "--bind", f"/proc/{p.pid}/ns/net", path], check=True)
    finally:
        p.kill()
        p.wait()
    yield path
    subprocess.run(["umount", path], check=False)


def test_netdev_given_back_from_a_pinned_netns_after_stop(veth, env, pinned_netns):
    """The container joined a namespace that outlives it: once it has
    stopped, the device is still there, and delete gives it back."""
    a, _, addr = veth
    b = env.bundle()
    b.remove_namespace("network")
    b.add_namespace("network", pinned_netns)
    b.config["linux"]["netDevices"] = {a: {"name": "ctr0"}}
    b.sh("ip addr show ctr0")
    cid, _ = env.create(b)
    env.rt.ok("start", cid)
    assert wait_for(lambda: env.rt.state(cid)["status"] == "stopped")
    there = subprocess.run(["nsenter", "--net=" + pinned_netns, "ip", "addr", "show", "ctr0"],
                           stdout=subprocess.PIPE, universal_newlines=True)
    assert there.returncode == 0 and addr in there.stdout, there
    r = env.rt.ok("delete", cid)
    assert r.err == "", r
    host = _ip("addr", "show", a).stdout
    assert addr in host, host


def test_netdev_missing_interface(env):
    b = env.bundle()
    b.config["linux"]["netDevices"] = {"hknone0": {}}
    b.sh("true")
    _, r = env.create(b, ok=False)
    assert r.rc != 0
    one_line_error(r, "linux.netDevices.hknone0", 'no network interface "hknone0"')
    _nothing_left(env, b)


def test_netdev_needs_a_network_namespace(veth, env):
    b = env.bundle()
    b.remove_namespace("network")
    b.config["linux"]["netDevices"] = {veth[0]: {}}
    b.sh("true")
    _, r = env.create(b, ok=False)
    one_line_error(r, "linux.netDevices", "requires a network namespace")
    _nothing_left(env, b)


def test_netdev_host_network_namespace_by_path(veth, env):
    b = env.bundle()
    b.remove_namespace("network")
    b.add_namespace("network", f"/proc/{os.getpid()}/ns/net")
    b.config["linux"]["netDevices"] = {veth[0]: {}}
    b.sh("true")
    _, r = env.create(b, ok=False)
    one_line_error(r, "runtime's own")
    _nothing_left(env, b)
    assert _ip("link", "show", veth[0], check=False).returncode == 0


def test_netdev_name_taken_in_container_rolls_back(veth, env):
    """The second device's name clashes with lo: the first, already
    moved, comes back to the host with its address."""
    a, peer, addr = veth
    b = env.bundle()
    b.config["linux"]["netDevices"] = {a: {"name": "ctr0"}, peer: {"name": "lo"}}
    b.sh("true")
    _, r = env.create(b, ok=False)
    one_line_error(r, f"linux.netDevices.{peer}", 'already has a network interface "lo"')
    _nothing_left(env, b)
    assert addr in _ip("addr", "show", a).stdout
    assert _ip("link", "show", peer, check=False).returncode == 0


@pytest.mark.parametrize("devices,want", [
    ({"a/b": {}}, '"a/b" is not a valid interface name'),
    ({"hkx": {"name": "x" * 16}}, "is not a valid interface name"),
    # the kernel would pick the name (ctr0...): husk could not find it
    ({"hkx": {"name": "ctr%d"}}, '"ctr%d" is not a valid interface name'),
    ({"hk%d": {}}, '"hk%d" is not a valid interface name'),
    ({"hkx": {"name": "c0"}, "hky": {"name": "c0"}}, 'would both be "c0"'),
    ({"hkx": "c0"}, "linux.netDevices.hkx: expected an object"),
])
def test_netdev_bad_config(env, devices, want):
    b = env.bundle()
    b.config["linux"]["netDevices"] = devices
    b.sh("true")
    _, r = env.create(b, ok=False)
    one_line_error(r, "config.json", want)
    _nothing_left(env, b)


# ---- linux.memoryPolicy ----

def _numa():
    if not os.path.exists("/proc/self/numa_maps"):
        pytest.skip("kernel without CONFIG_NUMA")


def _policy_of(env, policy, exec_too=False):
    """The policy numa_maps shows for the container's process (and for an
    exec'd one)."""
    b = env.bundle()
    b.config["linux"]["memoryPolicy"] = policy
    if not exec_too:
        r = env.run_sh("head -n1 /proc/self/numa_maps", bundle=b)
        return r.out.split()[1]
    cid = _started(env, b)
    out = env.rt.ok("exec", cid, "head", "-n1", "/proc/self/numa_maps").out
    env.rt.ok("delete", "--force", cid)
    return out.split()[1]


@pytest.mark.parametrize("policy,shown", [
    ({"mode": "MPOL_BIND", "nodes": "0"}, "bind:0"),
    ({"mode": "MPOL_INTERLEAVE", "nodes": "0"}, "interleave:0"),
    ({"mode": "MPOL_PREFERRED", "nodes": "0"}, "prefer:0"),
    ({"mode": "MPOL_LOCAL"}, "local"),
    ({"mode": "MPOL_BIND", "nodes": "0", "flags": ["MPOL_F_STATIC_NODES"]}, "bind=static:0"),
])
def test_mempolicy_applied(env, policy, shown):
    _numa()
    assert _policy_of(env, policy) == shown


def test_mempolicy_exec(env):
    _numa()
    assert _policy_of(env, {"mode": "MPOL_INTERLEAVE", "nodes": "0"}, exec_too=True) == \
        "interleave:0"


@pytest.mark.parametrize("policy,want", [
    ({"mode": "MPOL_BIND", "nodes": "9999"}, "linux.memoryPolicy.nodes: \"9999\": 9999 is out of range"),
    ({"mode": "MPOL_FOO", "nodes": "0"}, 'linux.memoryPolicy.mode: unknown mode "MPOL_FOO"'),
    ({"mode": "MPOL_BIND", "nodes": "0", "flags": ["MPOL_F_BAR"]},
     'linux.memoryPolicy.flags[0]: unknown flag "MPOL_F_BAR"'),
    ({"mode": "MPOL_BIND", "nodes": "0-"}, 'linux.memoryPolicy.nodes: "0-": expected a list'),
    ({"mode": "MPOL_BIND", "nodes": "3-1"}, "range 3-1 is reversed"),
    ({"mode": "MPOL_BIND"}, "needs at least one node"),
    ({"mode": "MPOL_LOCAL", "nodes": "0"}, "takes no nodes"),
    ({"nodes": "0"}, "linux.memoryPolicy.mode: required field missing"),
    ({"mode": "MPOL_BIND", "nodes": "0",
      "flags": ["MPOL_F_STATIC_NODES", "MPOL_F_RELATIVE_NODES"]}, "exclude each other"),
])
def test_mempolicy_bad_config(env, policy, want):
    b = env.bundle()
    b.config["linux"]["memoryPolicy"] = policy
    b.sh("true")
    _, r = env.create(b, ok=False)
    one_line_error(r, "config.json", want)
    _nothing_left(env, b)


def test_mempolicy_kernel_refuses(env):
    """Syntax fine, node absent: the kernel's EINVAL, said clearly."""
    _numa()
    if os.path.exists("/sys/devices/system/node/node7"):
        pytest.skip("host has a node 7")
    b = env.bundle()
    b.config["linux"]["memoryPolicy"] = {"mode": "MPOL_BIND", "nodes": "7"}
    b.sh("true")
    _, r = env.create(b, ok=False)
    one_line_error(r, "linux.memoryPolicy: set_mempolicy MPOL_BIND", "Invalid argument")
    _nothing_left(env, b)


# ---- process.execCPUAffinity ----

def _cpus_allowed(text):
    for line in text.splitlines():
        if line.startswith("Cpus_allowed_list:"):
            return line.split()[1]
    raise AssertionError(text)


def _two_cpus():
    with open("/proc/self/status") as f:
        mine = _cpus_allowed(f.read())
    if mine != "0-1" and not mine.startswith("0-"):
        pytest.skip(f"needs CPUs 0 and 1 (have {mine})")
    return mine


def test_exec_cpu_affinity_final(env):
    mine = _two_cpus()
    b = env.bundle()
    cid = _started(env, b)
    proc = dict(b.config["process"], args=["cat", "/proc/self/status"],
                execCPUAffinity={"initial": "0", "final": "1"})
    path = os.path.join(env.base, "proc.json")
    with open(path, "w") as f:
        json.dump(proc, f)
    assert _cpus_allowed(env.rt.ok("exec", "--process", path, cid).out) == "1"
    # without execCPUAffinity: what the kernel gives
    assert _cpus_allowed(env.rt.ok("exec", cid, "cat", "/proc/self/status").out) == mine


def test_exec_cpu_affinity_from_config_not_for_init(env):
    """The config's execCPUAffinity is for exec'd processes; the spec
    leaves the init alone."""
    mine = _two_cpus()
    b = env.bundle()
    b.config["process"]["execCPUAffinity"] = {"final": "0"}
    cid = _started(env, b, "cat /proc/self/status > /shared/init; sleep 1000")
    out = env.rt.ok("exec", cid, "cat", "/proc/self/status").out
    assert _cpus_allowed(out) == "0"
    for _ in range(100):
        if os.path.getsize(b.shared_file("init")) if os.path.exists(b.shared_file("init")) else 0:
            break
        subprocess.run(["sleep", "0.05"])
    assert _cpus_allowed(b.read_shared("init")) == mine


def test_exec_cpu_affinity_initial_applied(env):
    """initial is the runtime's own affinity before the join: a CPU that
    is not there fails the exec, one line."""
    _two_cpus()
    if os.path.exists("/sys/devices/system/cpu/cpu63"):
        pytest.skip("host has a CPU 63")
    b = env.bundle()
    cid = _started(env, b)
    proc = dict(b.config["process"], args=["true"], execCPUAffinity={"initial": "63"})
    path = os.path.join(env.base, "proc.json")
    with open(path, "w") as f:
        json.dump(proc, f)
    r = env.rt.fail("exec", "--process", path, cid)
    one_line_error(r, "process.execCPUAffinity.initial: sched_setaffinity")


@pytest.mark.parametrize("aff,want", [
    ({"final": "1-0"}, "range 1-0 is reversed"),
    ({"initial": "x"}, 'process.execCPUAffinity.initial: "x": expected a list'),
    ({"final": "0,"}, "trailing comma"),
])
def test_exec_cpu_affinity_bad(env, aff, want):
    b = env.bundle()
    b.config["process"]["execCPUAffinity"] = aff
    b.sh("true")
    _, r = env.create(b, ok=False)
    one_line_error(r, "config.json", want)
    _nothing_left(env, b)


# ---- linux.intelRdt ----

def test_intel_rdt_without_resctrl(env):
    st = os.statvfs("/sys/fs/resctrl") if os.path.isdir("/sys/fs/resctrl") else None
    if st is not None and os.path.exists("/sys/fs/resctrl/schemata"):
        pytest.skip("resctrl is mounted here")
    b = env.bundle()
    b.config["linux"]["intelRdt"] = {"closID": "hk", "schemata": ["L3:0=f"]}
    b.sh("true")
    _, r = env.create(b, ok=False)
    one_line_error(r, "linux.intelRdt: resctrl is not mounted at /sys/fs/resctrl")
    _nothing_left(env, b)


def test_oci_version_1_3(env):
    b = env.bundle()
    b.config["ociVersion"] = "1.3.0"
    r = env.run_sh("true", bundle=b)
    assert r.rc == 0
