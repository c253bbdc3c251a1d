"""Mount types and options: cgroup, idmap/ridmap, tmpfs, bind, rbind, the
flag and propagation options, overlay, sysctl, rootfsPropagation."""
import os
import subprocess

import pytest

from helpers import USERNS_MAP, add_mount, add_userns, has_v1, mountinfo, mountinfo_map


# --- cgroup -------------------------------------------------------------------

@pytest.mark.husk_only
@pytest.mark.skipif(not has_v1("memory"), reason="cgroup v1 host")
def test_cgroup_v1_own_hierarchies(env):
    b = env.bundle().sh("ls /sys/fs/cgroup; echo ==; cat /proc/self/mountinfo; echo ==; "
                        "ls /sys/fs/cgroup/memory | grep -c husk-test; "
                        "mkdir /sys/fs/cgroup/memory/x 2>/dev/null && echo rw || echo ro")
    r = env.run(b)
    ls, mi_text, rest = r.out.split("==\n")
    names = set(ls.split())
    host = {n for n in os.listdir("/sys/fs/cgroup")}
    assert {"memory", "pids", "devices"} <= names, r
    assert names <= host | {"unified", "systemd"}, r
    mi = mountinfo_map(mi_text)
    assert mi["/sys/fs/cgroup"].fstype == "tmpfs", r
    assert "ro" in mi["/sys/fs/cgroup"].options, r
    for ctrl in ("memory", "pids", "devices"):
        m = mi[f"/sys/fs/cgroup/{ctrl}"]
        assert m.fstype == "cgroup" and m.root == b.cgroups_path, (ctrl, m)
        assert {"ro", "nosuid", "nodev", "noexec"} <= set(m.options), m.options
    if os.path.isdir("/sys/fs/cgroup/unified"):
        assert mi["/sys/fs/cgroup/unified"].fstype == "cgroup2", r
        assert mi["/sys/fs/cgroup/unified"].root == b.cgroups_path, r
    # the host's tree is not there: only the container's own cgroup files
    assert rest.split() == ["0", "ro"], r
    for link in ("cpu", "cpuacct"):
        if os.path.islink(f"/sys/fs/cgroup/{link}"):  # co-mounted on this host
            assert f"/sys/fs/cgroup/{link}" not in mi


@pytest.mark.skipif(not has_v1("memory"), reason="cgroup v1 host")
def test_cgroup_v1_rw_and_cgroupns(env):
    b = env.bundle().sh("grep ' /sys/fs/cgroup/pids ' /proc/self/mountinfo; cat /proc/self/cgroup")
    for m in b.config["mounts"]:
        if m["destination"] == "/sys/fs/cgroup":
            m["options"] = [o for o in m["options"] if o != "ro"] + ["rw"]
    b.add_namespace("cgroup")
    r = env.run(b)
    m = mountinfo(r.out.splitlines()[0])[0]
    assert "rw" in m.options, r
    # inside its cgroup namespace the container's cgroup is the root
    assert m.root == "/", r
    assert "pids:/\n" in r.out, r


def test_cgroup_in_userns(env):
    b = env.bundle().sh("ls /sys/fs/cgroup | wc -l; grep -c ' /sys/fs/cgroup' /proc/self/mountinfo")
    add_userns(b)
    r = env.run(b)
    n, mounts = r.out.split()
    assert int(n) >= 1 and int(mounts) >= 2, r


# --- idmap --------------------------------------------------------------------

def idmap_source(env, sub=False):
    src = os.path.join(env.base, "idsrc")
    os.makedirs(src)
    for name, uid in (("root", 0), ("user", 1000)):
        p = os.path.join(src, name)
        open(p, "w").close()
        os.chown(p, uid, uid)
    return src


@pytest.mark.husk_only
def test_idmap_uses_container_mapping(env):
    src = idmap_source(env)
    b = env.bundle().sh("stat -c '%n %u %g' /idm/root /idm/user /plain/root; "
                        "touch /idm/new && stat -c '%u' /idm/new")
    add_userns(b)
    add_mount(b, "/idm", "bind", src, ["bind", "idmap"])
    add_mount(b, "/plain", "bind", src, ["bind"])
    r = env.run(b)
    lines = r.out.splitlines()
    assert lines[:3] == ["/idm/root 0 0", "/idm/user 1000 1000", "/plain/root 65534 65534"], r
    assert lines[3] == "0", r
    # written through the idmapped mount: on disk as container root = 0
    assert os.stat(os.path.join(src, "new")).st_uid == 0


@pytest.mark.husk_only
def test_idmap_own_mappings_without_userns(env):
    src = idmap_source(env)
    b = env.bundle().sh("stat -c '%u %g' /idm/root /idm/user")
    m = [{"containerID": 0, "hostID": 5000, "size": 2000}]
    add_mount(b, "/idm", "bind", src, ["bind", "idmap"], uidMappings=m, gidMappings=m)
    r = env.run(b)
    assert r.out.split() == ["5000", "5000", "6000", "6000"], r


@pytest.mark.husk_only
def test_ridmap_recursive(env, rt):
    src = idmap_source(env)
    b = env.bundle().sh("stat -c %u /idm/root /idm/sub/root")
    add_userns(b)
    # a submount inside the source: ridmap maps it too
    sub = os.path.join(env.base, "idsub")
    os.makedirs(sub)
    open(os.path.join(sub, "root"), "w").close()
    os.makedirs(os.path.join(src, "sub"))
    add_mount(b, "/idm", "bind", src, ["rbind", "ridmap"])
    add_mount(b, "/idm/sub", "bind", sub, ["bind", "idmap"])
    r = env.run(b)
    assert r.out.split() == ["0", "0"], r


@pytest.mark.husk_only
def test_idmap_two_stage(env):
    """With an intermediate process (time namespace) the requests still work."""
    src = idmap_source(env)
    b = env.bundle().sh("stat -c %u /idm/user")
    add_userns(b)
    b.add_namespace("time")
    add_mount(b, "/idm", "bind", src, ["bind", "idmap"])
    assert env.run(b).out.split() == ["1000"]


@pytest.mark.husk_only
def test_idmap_errors(env):
    src = idmap_source(env)
    b = env.bundle()
    add_mount(b, "/idm", "bind", src, ["bind", "idmap"])
    r = env.run(b, ok=False)
    assert r.rc != 0 and "idmap: needs uidMappings/gidMappings or a user namespace" in r.err, r
    assert len(r.err.strip().splitlines()) == 1, r
    b.config["mounts"][-1]["options"] = ["bind"]
    b.config["mounts"][-1]["uidMappings"] = USERNS_MAP
    b.config["mounts"][-1]["gidMappings"] = USERNS_MAP
    r = env.run(b, ok=False)
    assert "need the idmap or ridmap option" in r.err, r


# --- tmpfs --------------------------------------------------------------------

def test_tmpfs_options(env):
    b = env.bundle().sh("stat -c '%a %u %g' /t; grep ' /t ' /proc/self/mountinfo")
    add_mount(b, "/t", "tmpfs", "tmpfs", ["size=2m", "mode=710", "uid=1000", "gid=1001",
                                         "nosuid", "nodev", "noexec"])
    r = env.run(b)
    st, line = r.out.splitlines()
    assert st == "710 1000 1001", r
    f = line.split()
    assert {"nosuid", "nodev", "noexec"} <= set(f[5].split(",")), line
    assert "size=2048k" in line, line


def test_tmpfs_existing_mode_kept(env):
    b = env.bundle().sh("stat -c %a /keep /fresh")
    os.makedirs(os.path.join(b.rootfs, "keep"))
    os.chmod(os.path.join(b.rootfs, "keep"), 0o750)
    add_mount(b, "/keep", "tmpfs", "tmpfs", ["size=1m"])
    add_mount(b, "/fresh", "tmpfs", "tmpfs", ["size=1m"])
    assert env.run(b).out.split() == ["750", "1777"]


def test_tmpcopyup(env):
    b = env.bundle().sh("cat /etc/data/a /etc/data/d/b; readlink /etc/data/l; stat -c %a /etc/data/d; "
                        "touch /etc/data/new && echo w")
    d = os.path.join(b.rootfs, "etc", "data")
    os.makedirs(os.path.join(d, "d"))
    os.chmod(os.path.join(d, "d"), 0o700)
    with open(os.path.join(d, "a"), "w") as f:
        f.write("A\n")
    with open(os.path.join(d, "d", "b"), "w") as f:
        f.write("B\n")
    os.symlink("a", os.path.join(d, "l"))
    b.config["root"]["readonly"] = True
    add_mount(b, "/etc/data", "tmpfs", "tmpfs", ["tmpcopyup", "size=1m"])
    r = env.run(b)
    assert r.out.split() == ["A", "B", "a", "700", "w"], r
    assert not os.path.exists(os.path.join(d, "new"))


# --- bind ---------------------------------------------------------------------

def test_bind_flags(env):
    src = os.path.join(env.base, "flags")
    os.makedirs(src)
    with open(os.path.join(src, "x.sh"), "w") as f:
        f.write("#!/bin/sh\necho ran\n")
    os.chmod(os.path.join(src, "x.sh"), 0o755)
    os.symlink("x.sh", os.path.join(src, "link"))
    b = env.bundle().sh("grep -E ' /m/(noexec|nosym|ro|all) ' /proc/self/mountinfo; echo ==; "
                        "/m/noexec/x.sh 2>/dev/null || echo noexec; cat /m/nosym/link 2>/dev/null "
                        "|| echo nosymfollow; /m/ro/x.sh; touch /m/ro/y 2>/dev/null || echo ro")
    add_mount(b, "/m/noexec", "bind", src, ["bind", "noexec"])
    add_mount(b, "/m/nosym", "bind", src, ["bind", "nosymfollow"])
    add_mount(b, "/m/ro", "bind", src, ["bind", "ro"])
    add_mount(b, "/m/all", "bind", src, ["bind", "ro", "nosuid", "nodev", "noexec", "noatime"])
    r = env.run(b)
    mi_text, out = r.out.split("==\n")
    mi = mountinfo_map(mi_text)
    assert "noexec" in mi["/m/noexec"].options
    assert "nosymfollow" in mi["/m/nosym"].options
    assert "ro" in mi["/m/ro"].options
    assert {"ro", "nosuid", "nodev", "noexec", "noatime"} <= set(mi["/m/all"].options)
    assert out.split() == ["noexec", "nosymfollow", "ran", "ro"], r


def test_bind_file_and_missing_file_destination(env):
    src = os.path.join(env.base, "f")
    with open(src, "w") as f:
        f.write("file\n")
    b = env.bundle().sh("cat /new/dir/f; test -f /new/dir/f && echo isfile")
    add_mount(b, "/new/dir/f", "bind", src, ["bind", "ro"])
    assert env.run(b).out.split() == ["file", "isfile"]
    assert os.path.isfile(os.path.join(b.rootfs, "new", "dir", "f"))


def run_with_submount(env, b, src_sub):
    """Run b with a tmpfs mounted at src_sub in a private mount namespace
    (never on the host), holding a file "s"."""
    b.write()
    cid = env.new_id()
    script = (f"mount -t tmpfs tmpfs {src_sub} && echo sub > {src_sub}/s && "
              f"exec {' '.join(env.rt.cmd('run', '--bundle', b.path, cid))}")
    return subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=30)


def test_rbind_and_rro(env):
    src = os.path.join(env.base, "tree")
    os.makedirs(os.path.join(src, "sub"))
    b = env.bundle().sh("cat /r/sub/s; touch /r/x 2>/dev/null && echo w || echo ro; "
                        "touch /r/sub/w 2>/dev/null && echo w || echo ro; "
                        "touch /rro/sub/w2 2>/dev/null && echo w || echo ro; "
                        "cat /b/sub/s 2>/dev/null || echo nosub")
    add_mount(b, "/r", "bind", src, ["rbind", "ro"])     # ro on the top mount only
    add_mount(b, "/rro", "bind", src, ["rbind", "rro"])  # ro all the way down
    add_mount(b, "/b", "bind", src, ["bind"])            # no submounts
    r = run_with_submount(env, b, os.path.join(src, "sub"))
    assert r.returncode == 0, r
    assert r.stdout.split() == ["sub", "ro", "w", "ro", "nosub"], r


def test_propagation_options(env):
    src = os.path.join(env.base, "prop")
    os.makedirs(src)
    b = env.bundle().sh("cat /proc/self/mountinfo")
    add_mount(b, "/p/shared", "bind", src, ["bind", "rshared"])
    add_mount(b, "/p/slave", "bind", src, ["bind", "rslave"])
    add_mount(b, "/p/private", "bind", src, ["bind", "private"])
    add_mount(b, "/p/unbind", "bind", src, ["bind", "unbindable"])
    mi = mountinfo_map(env.run(b).out)
    opt = {k: " ".join(m.optional) for k, m in mi.items()}
    assert "shared:" in opt["/p/shared"], opt
    assert "shared:" not in opt["/p/private"] and "master:" not in opt["/p/private"], opt
    assert "unbindable" in opt["/p/unbind"], opt


@pytest.mark.husk_only
@pytest.mark.parametrize("prop", ["shared", "rshared", "slave", "rslave", "private",
                                  "rprivate", "unbindable", "runbindable"])
def test_rootfs_propagation(env, prop):
    b = env.bundle().sh("awk '$5 == \"/\"' /proc/self/mountinfo")
    b.config["linux"]["rootfsPropagation"] = prop
    r = env.run(b)
    fields = mountinfo(r.out)[0].optional
    if "shared" in prop:
        assert any(f.startswith("shared:") for f in fields), r
    elif "unbindable" in prop:
        assert "unbindable" in fields, r
    elif "private" in prop:
        assert not any(f.startswith(("shared:", "master:")) for f in fields), r


def test_overlay(env):
    lower = os.path.join(env.base, "lower")
    upper = os.path.join(env.base, "upper")
    work = os.path.join(env.base, "work")
    for d in (lower, upper, work):
        os.makedirs(d)
    with open(os.path.join(lower, "l"), "w") as f:
        f.write("lower\n")
    b = env.bundle().sh("cat /ov/l; echo new > /ov/n; grep ' /ov ' /proc/self/mountinfo | "
                        "cut -d' ' -f9")
    add_mount(b, "/ov", "overlay", "overlay",
              [f"lowerdir={lower}", f"upperdir={upper}", f"workdir={work}"])
    r = env.run(b)
    assert r.out.split() == ["lower", "overlay"], r
    with open(os.path.join(upper, "n")) as f:
        assert f.read() == "new\n"


def test_other_fs_type_with_data(env):
    b = env.bundle().sh("grep ' /mq ' /proc/self/mountinfo | cut -d' ' -f9")
    add_mount(b, "/mq", "mqueue", "mqueue", ["nosuid"])
    assert env.run(b).out.split() == ["mqueue"]


# --- sysctl -------------------------------------------------------------------

def test_sysctl_accepted(env):
    b = env.bundle().sh("cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmni "
                        "/proc/sys/kernel/domainname")
    b.config["linux"]["sysctl"] = {"net.ipv4.ip_forward": "1", "kernel.shmmni": "1234",
                                   "kernel.domainname": "dom.example"}
    assert env.run(b).out.split() == ["1", "1234", "dom.example"]


@pytest.mark.husk_only
@pytest.mark.parametrize("key,remove,msg", [
    ("kernel.pid_max", None, "not a namespaced key"),
    ("vm.swappiness", None, "not a namespaced key"),
    ("net.ipv4.ip_forward", "network", "needs the container's own network namespace"),
    ("kernel.shmmax", "ipc", "needs the container's own ipc namespace"),
    ("kernel.domainname", "uts", "needs the container's own uts namespace"),
    ("kernel.hostname", None, "conflicts with the hostname field"),
    ("kernel/hostname", "uts", "conflicts with the hostname field"),
    ("../../etc", None, "invalid key"),
])
def test_sysctl_refused(env, key, remove, msg):
    b = env.bundle()
    if remove:
        b.remove_namespace(remove)
        if remove == "uts":
            b.config.pop("hostname", None)
    b.config["linux"]["sysctl"] = {key: "1"}
    r = env.run(b, ok=False)
    assert r.rc != 0 and msg in r.err, r
    assert len(r.err.strip().splitlines()) == 1, r


@pytest.mark.husk_only
def test_sysctl_refused_in_joined_host_netns(env):
    b = env.bundle()
    b.remove_namespace("network")
    b.add_namespace("network", f"/proc/{os.getpid()}/ns/net")
    b.config["linux"]["sysctl"] = {"net.ipv4.ip_forward": "1"}
    with open("/proc/sys/net/ipv4/ip_forward") as f:
        before = f.read()
    r = env.run(b, ok=False)
    assert "the joined network namespace is the host's" in r.err, r
    with open("/proc/sys/net/ipv4/ip_forward") as f:
        assert f.read() == before


# --- bind sources the user namespace cannot reach ------------------------------

def locked_sources(env):
    """A 0700 host-root directory holding a file and a directory: the
    container's root (host uid 100000) cannot search it."""
    locked = os.path.join(env.base, "locked")
    os.makedirs(os.path.join(locked, "sub"))
    with open(os.path.join(locked, "f"), "w") as f:
        f.write("locked file\n")
    with open(os.path.join(locked, "sub", "g"), "w") as f:
        f.write("locked dir\n")
    os.chmod(locked, 0o700)
    return locked


def bundle_with_locked_binds(env):
    locked = locked_sources(env)
    b = env.bundle()
    add_userns(b)
    add_mount(b, "/mnt/f", "bind", os.path.join(locked, "f"), ["bind", "ro"])
    add_mount(b, "/mnt/sub", "bind", os.path.join(locked, "sub"), ["rbind"])
    return b


def test_bind_source_unreachable_from_userns(env):
    b = bundle_with_locked_binds(env).sh("cat /mnt/f /mnt/sub/g")
    assert env.run(b).out == "locked file\nlocked dir\n"


def test_bind_source_unreachable_from_userns_exec(env, rt):
    """create/start, then processes started by exec see the mounts too."""
    b = bundle_with_locked_binds(env).set_args("sleep", "100")
    cid, _ = env.create(b)
    rt.ok("start", cid)
    assert rt.ok("exec", cid, "cat", "/mnt/f", "/mnt/sub/g").out == "locked file\nlocked dir\n"
    rt.ok("kill", cid, "KILL")


@pytest.mark.husk_only
def test_bind_source_missing_in_userns(env):
    """The runtime's clone of a source fails with the one line it would
    without a user namespace."""
    b = env.bundle().set_args("true")
    add_userns(b)
    add_mount(b, "/mnt/x", "bind", os.path.join(env.base, "nope"), ["bind"])
    n = len(b.config["mounts"]) - 1
    r = env.run(b, ok=False)
    assert r.rc != 0 and len(r.err.strip().splitlines()) == 1, r
    assert f"mounts[{n}] bind on /mnt/x: bind {env.base}/nope: No such file" in r.err, r
