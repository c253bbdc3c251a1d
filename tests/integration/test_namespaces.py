"""Namespaces: created, joined by path, and refused when inconsistent."""
import os
import subprocess

import pytest

from helpers import IS_HUSK, add_mount, add_userns, mountinfo, wait_for

NS_FILES = {"pid": "pid", "network": "net", "ipc": "ipc", "uts": "uts", "mount": "mnt",
            "cgroup": "cgroup", "user": "user", "time": "time"}


def host_ns(name):
    return os.readlink(f"/proc/self/ns/{name}")


@pytest.mark.parametrize("ns", ["pid", "network", "ipc", "uts", "mount", "cgroup", "user"])
def test_new_namespace(env, ns):
    b = env.bundle()
    if ns == "cgroup":
        b.add_namespace("cgroup")
    if ns == "user":
        add_userns(b)
    f = NS_FILES[ns]
    # pid: /proc/self/ns/pid is the namespace of the reader itself
    r = env.run_sh(f"readlink /proc/self/ns/{f}", bundle=b)
    assert r.out.strip() != host_ns(f), f"{ns}: container shares host namespace\n{r!r}"
    assert r.out.strip().startswith(f"{f}:["), r


@pytest.mark.parametrize("ns", ["network", "ipc", "uts", "cgroup"])
def test_without_namespace_shares_host(env, ns):
    b = env.bundle()
    b.remove_namespace(ns)
    if ns == "uts":
        b.config.pop("hostname", None)
    f = NS_FILES[ns]
    r = env.run_sh(f"readlink /proc/self/ns/{f}", bundle=b)
    assert r.out.strip() == host_ns(f), r


def test_pid_namespace(env):
    r = env.run_sh("echo $$; ps -o pid,comm | wc -l")
    lines = r.out.split()
    assert lines[0] == "1", r
    # ps header + sh + ps (+ wc) only
    assert int(lines[1]) <= 4, r


def test_network_namespace_only_lo(env):
    r = env.run_sh("tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '")
    assert r.out.split() == ["lo"], r


def test_uts_hostname(env):
    b = env.bundle()
    b.config["hostname"] = "h-test"
    r = env.run_sh("hostname; cat /proc/sys/kernel/hostname", bundle=b)
    assert r.out.split() == ["h-test", "h-test"], r
    assert os.uname().nodename != "h-test"


# runc 1.1 ignores "domainname" (added in runtime-spec 1.1 / runc 1.2).
@pytest.mark.husk_only
def test_uts_domainname(env):
    b = env.bundle()
    b.config["hostname"] = "h-test"
    b.config["domainname"] = "d-test"
    r = env.run_sh("hostname; cat /proc/sys/kernel/domainname", bundle=b)
    assert r.out.split() == ["h-test", "d-test"], r


def test_hostname_without_uts_ns_fails(env, rt):
    b = env.bundle().set_args("true")
    b.remove_namespace("uts")
    b.config["hostname"] = "nope"
    cid, r = env.create(b, ok=False)
    assert r.rc != 0, r
    assert rt.ids() == []
    assert os.uname().nodename != "nope"


def test_cgroup_namespace_roots(env):
    b = env.bundle()
    b.add_namespace("cgroup")
    r = env.run_sh("cat /proc/self/cgroup", bundle=b)
    lines = r.out.split()
    assert lines, r
    for line in lines:
        assert line.split(":", 2)[2] == "/", r


def test_user_namespace_mappings(env, rt):
    b = env.bundle()
    add_userns(b)
    b.sh("cat /proc/self/uid_map /proc/self/gid_map; id -u; id -g; "
         "touch /shared/owned; sleep 100")
    cid, _ = env.create(b)
    rt.ok("start", cid)
    assert wait_for(lambda: os.path.exists(b.shared_file("owned")))
    pid = rt.state(cid)["pid"]
    with open(f"/proc/{pid}/status") as f:
        status = dict(l.split(":", 1) for l in f.read().splitlines())
    assert status["Uid"].split()[0] == "100000", status["Uid"]
    assert status["Gid"].split()[0] == "100000", status["Gid"]
    st = os.stat(b.shared_file("owned"))
    assert (st.st_uid, st.st_gid) == (100000, 100000)
    with open(f"/proc/{pid}/uid_map") as f:
        assert f.read().split() == ["0", "100000", "65536"]
    with open(f"/proc/{pid}/gid_map") as f:
        assert f.read().split() == ["0", "100000", "65536"]


def test_user_namespace_output(env):
    b = env.bundle()
    add_userns(b)
    r = env.run_sh("cat /proc/self/uid_map /proc/self/gid_map; id -u; id -g", bundle=b)
    assert r.out.split() == ["0", "100000", "65536", "0", "100000", "65536", "0", "0"], r


def test_user_namespace_nonroot_user(env):
    b = env.bundle()
    add_userns(b)
    b.config["process"]["user"] = {"uid": 1000, "gid": 1000}
    r = env.run_sh("id -u; id -g", bundle=b)
    assert r.out.split() == ["1000", "1000"], r


# runc 1.1 has no time namespace support.
@pytest.mark.husk_only
def test_time_namespace_offsets(env):
    b = env.bundle()
    b.add_namespace("time")
    b.config["linux"]["timeOffsets"] = {"boottime": {"secs": 86400 * 10, "nanosecs": 0},
                                        "monotonic": {"secs": 86400 * 20, "nanosecs": 0}}
    with open("/proc/uptime") as f:
        host_up = float(f.read().split()[0])
    r = env.run_sh("cat /proc/uptime; readlink /proc/self/ns/time", bundle=b)
    up = float(r.out.split()[0])
    assert abs(up - (host_up + 86400 * 10)) < 60, (host_up, r)
    assert r.out.split()[2] != host_ns("time"), r


def test_join_network_namespace_by_path(env, rt):
    a = env.bundle().set_args("sleep", "100")
    cid_a, _ = env.create(a)
    pid_a = rt.state(cid_a)["pid"]
    netns_a = os.readlink(f"/proc/{pid_a}/ns/net")
    b = env.bundle()
    b.remove_namespace("network")
    b.add_namespace("network", f"/proc/{pid_a}/ns/net")
    r = env.run_sh("readlink /proc/self/ns/net", bundle=b)
    assert r.out.strip() == netns_a, r
    assert netns_a != host_ns("net")


def test_join_ipc_and_uts_by_path(env, rt):
    a = env.bundle().set_args("sleep", "100")
    a.config["hostname"] = "joined-host"
    cid_a, _ = env.create(a)
    pid_a = rt.state(cid_a)["pid"]
    b = env.bundle()
    for ns in ("ipc", "uts"):
        b.remove_namespace(ns)
        b.add_namespace(ns, f"/proc/{pid_a}/ns/{ns}")
    b.config.pop("hostname", None)
    r = env.run_sh("readlink /proc/self/ns/ipc; hostname", bundle=b)
    assert r.out.split() == [os.readlink(f"/proc/{pid_a}/ns/ipc"), "joined-host"], r


def test_join_namespace_bad_path(env, rt):
    b = env.bundle().set_args("true")
    b.remove_namespace("network")
    b.add_namespace("network", "/nonexistent/ns/net")
    cid, r = env.create(b, ok=False)
    assert r.rc != 0, r
    assert rt.ids() == []


def test_join_namespace_wrong_type(env, rt):
    b = env.bundle().set_args("true")
    b.remove_namespace("network")
    b.add_namespace("network", "/proc/self/ns/ipc")
    cid, r = env.create(b, ok=False)
    assert r.rc != 0, r
    assert rt.ids() == []


def test_duplicate_namespace_fails(env, rt):
    b = env.bundle().set_args("true")
    b.add_namespace("network")
    cid, r = env.create(b, ok=False)
    assert r.rc != 0, r
    assert rt.ids() == []


def test_unknown_namespace_fails(env, rt):
    b = env.bundle().set_args("true")
    b.add_namespace("bogus")
    cid, r = env.create(b, ok=False)
    assert r.rc != 0, r
    assert rt.ids() == []


@pytest.fixture
def mount_ns_holder():
    """A private mount namespace, held by a sleeping process killed after
    the test (the namespace goes with it)."""
    p = subprocess.Popen(["unshare", "-m", "--propagation", "private", "sleep", "1000"])
    try:
        assert wait_for(lambda: os.readlink(f"/proc/{p.pid}/ns/mnt") != host_ns("mnt")), \
            "unshare -m did not start"
        yield p.pid
    finally:
        p.kill()
        p.wait()


def host_root_mount():
    return [m for m in mountinfo() if m.mountpoint == "/"]


def test_join_mount_namespace_by_path(env, mount_ns_holder):
    """The rootfs is built inside the joined namespace: the same mounts,
    masked and read-only paths and pivot as with a new one, and nothing
    changes in the host's."""
    holder = mount_ns_holder
    joined = os.readlink(f"/proc/{holder}/ns/mnt")
    root_before = host_root_mount()
    assert os.path.exists("/proc/keys")
    src = os.path.join(env.base, "data")
    os.makedirs(src)
    with open(os.path.join(src, "f"), "w") as f:
        f.write("bound\n")
    b = env.bundle()
    b.remove_namespace("mount")
    b.add_namespace("mount", f"/proc/{holder}/ns/mnt")
    add_mount(b, "/mnt/t", "tmpfs", "tmpfs", ["size=1m"])
    add_mount(b, "/data", "bind", src, ["bind", "ro"])
    add_mount(b, "/mnt/p", "proc", "proc", [])
    b.sh("readlink /proc/self/ns/mnt; grep -c ' /mnt/t .* - tmpfs ' /proc/self/mountinfo; "
         "cat /data/f; grep -c ' /mnt/p .* - proc ' /proc/self/mountinfo; "
         "wc -c </proc/keys; ls /sys/firmware | wc -l; "
         "(echo 1 >/proc/sys/kernel/ns_last_pid) 2>/dev/null || echo ro; "
         f"test -e {env.base} || echo pivoted")
    r = env.run(b)
    assert r.out.split() == [joined, "1", "bound", "1", "0", "0", "ro", "pivoted"], r
    # built in the joined namespace, not in one of its own
    with open(f"/proc/{holder}/mountinfo") as f:
        assert " /mnt/t " in f.read()
    assert host_root_mount() == root_before
    assert not [ln for ln in open("/proc/self/mountinfo") if b.rootfs in ln]


@pytest.mark.husk_only
def test_join_mount_namespace_of_runtime_keeps_refusing_mounts(env):
    """Joining the runtime's own mount namespace is none of the
    container's: mounts would change the host's tree."""
    b = env.bundle().set_args("true")
    b.remove_namespace("mount")
    b.add_namespace("mount", "/proc/self/ns/mnt")
    r = env.run(b, ok=False)
    assert r.rc != 0 and len(r.err.strip().splitlines()) == 1, r
    assert "mounts need a mount namespace of the container's own" in r.err, r


def test_no_mount_namespace_refuses_mounts(env, rt):
    """Without a mount namespace mounts would land in the host's (runc
    changes the caller's propagation there); husk refuses them."""
    b = env.bundle().set_args("true")
    b.remove_namespace("mount")
    cid, r = env.create(b, ok=False)
    assert r.rc != 0, r
    if IS_HUSK:
        assert len(r.err.strip().splitlines()) == 1, r
        assert "mounts need a mount namespace" in r.err, r
    assert rt.ids() == []


# --- sysctls and the namespaces they need (runc 1.1's rules) ------------------

SYSCTL_CASES = {
    # key, namespace taken away (None: all there), accepted?
    "hostname-conflicts": ("kernel.hostname", None, False),
    "hostname-no-uts": ("kernel.hostname", "uts", False),
    "domainname": ("kernel.domainname", None, True),
    "domainname-no-uts": ("kernel.domainname", "uts", False),
    "shm": ("kernel.shmmax", None, True),
    "shm-no-ipc": ("kernel.shmmax", "ipc", False),
    "sem-no-ipc": ("kernel.sem", "ipc", False),
    "mqueue": ("fs.mqueue.msg_max", None, True),
    "mqueue-no-ipc": ("fs.mqueue.msg_max", "ipc", False),
    "net-no-netns": ("net.ipv4.ip_forward", "network", False),
    "net-slashes-no-netns": ("net/ipv4/ip_forward", "network", False),
    "not-namespaced": ("kernel.pid_max", None, False),
    "vm": ("vm.swappiness", None, False),
}
SYSCTL_VALUES = {"kernel.sem": "250 32000 32 128", "kernel.shmmax": "1048576",
                 "fs.mqueue.msg_max": "20", "kernel.domainname": "dom.example",
                 "kernel.pid_max": "65536", "vm.swappiness": "10"}


@pytest.mark.parametrize("case", sorted(SYSCTL_CASES))
def test_sysctl_namespace_rules(env, rt, case):
    key, remove, accepted = SYSCTL_CASES[case]
    value = SYSCTL_VALUES.get(key.replace("/", "."), "1")
    b = env.bundle().set_args("cat", "/proc/sys/" + key.replace(".", "/"))
    if remove:
        b.remove_namespace(remove)
        if remove == "uts":
            b.config.pop("hostname", None)
    b.config["linux"]["sysctl"] = {key: value}
    r = env.run(b, ok=False)
    if accepted:
        assert r.rc == 0 and r.out.split() == value.split(), r
        return
    assert r.rc != 0, r
    assert rt.ids() == [], r
    if IS_HUSK:
        lines = r.err.splitlines()
        assert len(lines) == 1 and key in lines[0], r


@pytest.fixture
def other_netns():
    """A network namespace that is not ours, held by a process we start."""
    p = subprocess.Popen(["unshare", "--net", "sleep", "100"])
    try:
        assert wait_for(lambda: host_ns("net") != os.readlink(f"/proc/{p.pid}/ns/net"))
        yield f"/proc/{p.pid}/ns/net"
    finally:
        p.kill()
        p.wait()


def test_sysctl_net_in_joined_netns(env, other_netns):
    """net.* needs a network namespace that is not the runtime's: one joined
    by path is fine, and the value lands there."""
    def read_there():
        r = subprocess.run(["nsenter", "--net=" + other_netns, "cat", "/proc/sys/net/ipv4/ip_forward"],
                           capture_output=True, text=True, check=True)
        return r.stdout.strip()

    want = "0" if read_there() == "1" else "1"
    with open("/proc/sys/net/ipv4/ip_forward") as f:
        ours = f.read()
    b = env.bundle().set_args("cat", "/proc/sys/net/ipv4/ip_forward")
    b.remove_namespace("network")
    b.add_namespace("network", other_netns)
    b.config["linux"]["sysctl"] = {"net.ipv4.ip_forward": want}
    assert env.run(b).out.strip() == want
    assert read_there() == want
    with open("/proc/sys/net/ipv4/ip_forward") as f:
        assert f.read() == ours


def test_sysctl_net_in_joined_host_netns_refused(env, rt):
    b = env.bundle().set_args("true")
    b.remove_namespace("network")
    b.add_namespace("network", f"/proc/{os.getpid()}/ns/net")
    b.config["linux"]["sysctl"] = {"net.ipv4.ip_forward": "1"}
    with open("/proc/sys/net/ipv4/ip_forward") as f:
        before = f.read()
    r = env.run(b, ok=False)
    assert r.rc != 0 and rt.ids() == [], r
    with open("/proc/sys/net/ipv4/ip_forward") as f:
        assert f.read() == before


@pytest.mark.husk_only  # runc 1.1.5 sets both, the sysctl last
def test_sysctl_domainname_with_field_refused(env, rt):
    b = env.bundle().set_args("true")
    b.config["domainname"] = "field.example"
    b.config["linux"]["sysctl"] = {"kernel.domainname": "sysctl.example"}
    r = env.run(b, ok=False)
    assert r.rc != 0 and rt.ids() == [], r
    assert r.err.splitlines() == [
        f"husk: run {r.args[-1]}: sysctl kernel.domainname: conflicts with the domainname field"], r
