"""Hostile rootfs images: symlinked destinations, /proc targets, a fake
/dev/null, masked and read-only paths pointing outside, stacked mounts.
Every case ends confined or with a one-line error naming the mount, and
nothing is created or mounted outside the bundle."""
import os
import subprocess
import uuid

import pytest

from helpers import add_mount, one_line_error


@pytest.fixture
def outside():
    """A host directory that must stay untouched (never created into)."""
    d = f"/tmp/husk-outside-{uuid.uuid4().hex[:8]}"
    yield d
    assert not os.path.exists(d), f"{d} was created on the host"


def link(b, rel, target):
    p = os.path.join(b.rootfs, rel)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    os.symlink(target, p)


@pytest.mark.parametrize("kind", ["absolute", "relative", "chained", "dotdot"])
@pytest.mark.parametrize("mtype", ["bind", "tmpfs"])
def test_symlinked_destination_stays_inside(env, outside, kind, mtype):
    b = env.bundle()
    target = f"{outside}/deep/dir"
    if kind == "absolute":
        link(b, "mnt/evil", target)
    elif kind == "relative":
        link(b, "mnt/evil", "../../../../../../../.." + target)
    elif kind == "chained":
        link(b, "mnt/evil", "/mnt/hop1")
        link(b, "mnt/hop1", "hop2")
        link(b, "mnt/hop2", target)
    else:
        os.makedirs(os.path.join(b.rootfs, "mnt"))
        target = "/mnt/../../.." + target
    dest = "/mnt/evil" if kind != "dotdot" else target
    src = os.path.join(env.base, "src")
    os.makedirs(src)
    with open(os.path.join(src, "f"), "w") as f:
        f.write("src\n")
    if mtype == "bind":
        add_mount(b, dest, "bind", src, ["bind"])
    else:
        add_mount(b, dest, "tmpfs", "tmpfs", ["size=1m"])
    b.sh(f"echo in > {dest}/x && cat {dest}/x")
    b.config["root"]["readonly"] = False
    r = env.run(b)
    assert r.out == "in\n", r
    # the destination was made inside the rootfs
    assert os.path.isdir(os.path.join(b.rootfs, outside.lstrip("/"), "deep", "dir")), r


@pytest.mark.husk_only
def test_symlink_loop_destination(env):
    b = env.bundle()
    link(b, "mnt/loop1", "loop2")
    link(b, "mnt/loop2", "/mnt/loop1")
    add_mount(b, "/mnt/loop1/x", "tmpfs", "tmpfs", [])
    n = len(b.config["mounts"]) - 1
    r = env.run(b, ok=False)
    one_line_error(r, f"mounts[{n}] tmpfs on /mnt/loop1/x", "Too many levels of symbolic links")


@pytest.mark.husk_only
def test_destination_under_a_file(env):
    b = env.bundle()
    os.makedirs(os.path.join(b.rootfs, "run"), exist_ok=True)
    os.rmdir(os.path.join(b.rootfs, "run"))
    open(os.path.join(b.rootfs, "run"), "w").close()
    add_mount(b, "/run/x", "tmpfs", "tmpfs", [])
    n = len(b.config["mounts"]) - 1
    r = env.run(b, ok=False)
    one_line_error(r, f"mounts[{n}] tmpfs on /run/x: mkdir /run/x: Not a directory")


@pytest.mark.husk_only
@pytest.mark.parametrize("how", ["symlink", "file"])
def test_proc_mount_not_through_symlink(env, outside, how):
    b = env.bundle()
    procdir = os.path.join(b.rootfs, "proc")
    os.rmdir(procdir)
    if how == "symlink":
        os.symlink(outside, procdir)
    else:
        open(procdir, "w").close()
    r = env.run(b, ok=False)
    one_line_error(r, "mounts[0] proc on /proc")
    if how == "symlink":
        assert "proc must be mounted on an ordinary directory" in r.err, r


@pytest.mark.husk_only
def test_sysfs_not_through_symlink(env):
    b = env.bundle()
    os.rmdir(os.path.join(b.rootfs, "sys"))
    os.makedirs(os.path.join(b.rootfs, "elsewhere"))
    os.symlink("/elsewhere", os.path.join(b.rootfs, "sys"))
    r = env.run(b, ok=False)
    one_line_error(r, "sysfs on /sys", "sysfs must be mounted on an ordinary directory")


@pytest.mark.husk_only
@pytest.mark.parametrize("dest,via", [
    ("/proc/sys/kernel", None),
    ("/proc/self", None),
    ("/proc/sysrq-trigger", None),
    ("/mnt/p/kernel", "/proc/sys"),   # a symlink into /proc
    # /proc/net/dev is allowed by that name only
    ("/proc/self/net/dev", None),
    ("/proc/1/net/dev", None),
    ("/proc/./net/dev", None),
    ("/proc/net/../net/dev", None),
    ("/mnt/p", "/proc/net/dev"),     # a symlink to the allowed name
    ("/proc/./sys/../sys/kernel/core_pattern", None),
])
def test_destination_inside_proc_refused(env, dest, via):
    b = env.bundle()
    if via:
        link(b, "mnt/p", via)
    # bind a harmless file / dir: the guard must refuse before mounting
    src = os.path.join(env.base, "d")
    os.makedirs(src)
    add_mount(b, dest, "bind", src, ["bind"])
    n = len(b.config["mounts"]) - 1
    r = env.run(b, ok=False)
    one_line_error(r, f"mounts[{n}] bind on {dest}", "is inside /proc")


def test_proc_fuse_files_allowed(env):
    b = env.bundle().sh("cat /proc/meminfo /proc/uptime")
    src = os.path.join(env.base, "meminfo")
    with open(src, "w") as f:
        f.write("MemTotal: 1 kB\n")
    add_mount(b, "/proc/meminfo", "bind", src, ["bind", "ro"])
    add_mount(b, "/proc/uptime", "bind", src, ["bind", "ro"])
    assert env.run(b).out == "MemTotal: 1 kB\n" * 2


# The files FUSE servers emulate, by their natural names (runc's list).
PROC_FUSE_FILES = ["cpuinfo", "diskstats", "meminfo", "stat", "swaps", "uptime", "loadavg",
                   "slabinfo", "sys/kernel/ns_last_pid", "sys/crypto/fips_enabled"]


@pytest.mark.parametrize("name", PROC_FUSE_FILES)
def test_proc_fuse_file_natural_name(env, name):
    if not os.path.exists(f"/proc/{name}"):
        pytest.skip(f"this kernel has no /proc/{name}")
    b = env.bundle().sh(f"cat /proc/{name}")
    src = os.path.join(env.base, "emulated")
    with open(src, "w") as f:
        f.write(f"emulated {name}\n")
    add_mount(b, f"/proc/{name}", "bind", src, ["bind", "ro"])
    assert env.run(b).out == f"emulated {name}\n"


def kernel_keeps_proc_net_mounts():
    """Does a mount on /proc/<pid>/net/dev survive its next lookup?  (Since
    Linux 5.2 /proc/net dentries are never cached, and the lookup drops
    whatever was mounted on them.)"""
    probe = ("mount -t proc proc /proc && mount --bind /proc/version /proc/1/net/dev && "
             "cat /proc/1/net/dev >/dev/null && grep -q ' /proc/1/net/dev ' /proc/self/mountinfo")
    r = subprocess.run(["unshare", "-m", "-p", "-f", "--propagation", "private", "sh", "-c",
                        probe], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return r.returncode == 0


@pytest.mark.husk_only
def test_proc_net_dev_natural_name(env):
    """/proc/net is procfs's link to self/net: the natural name gets past
    the /proc guard; where the kernel drops the mount at the next lookup,
    that is one clear error, not a container silently reading the real
    file."""
    b = env.bundle().sh("cat /proc/net/dev")
    src = os.path.join(env.base, "netdev")
    with open(src, "w") as f:
        f.write("emulated net/dev\n")
    add_mount(b, "/proc/net/dev", "bind", src, ["bind", "ro"])
    n = len(b.config["mounts"]) - 1
    if kernel_keeps_proc_net_mounts():
        assert env.run(b).out == "emulated net/dev\n"
    else:
        r = env.run(b, ok=False)
        one_line_error(r, f"mounts[{n}] bind on /proc/net/dev",
                       "this kernel drops mounts on /proc/net entries at the next lookup")


@pytest.mark.husk_only
def test_tmpfs_on_proc_refused(env):
    b = env.bundle()
    add_mount(b, "/proc", "tmpfs", "tmpfs", [])
    n = len(b.config["mounts"]) - 1
    r = env.run(b, ok=False)
    one_line_error(r, f"mounts[{n}] tmpfs on /proc: only procfs may be mounted on /proc")


def without_dev_tmpfs(b):
    b.config["mounts"] = [m for m in b.config["mounts"] if m["destination"] not in
                          ("/dev", "/dev/pts", "/dev/shm", "/dev/mqueue")]
    b.config["root"]["readonly"] = False


@pytest.mark.husk_only
@pytest.mark.parametrize("how", ["file", "symlink", "node"])
def test_fake_dev_null_replaced(env, how):
    """No /dev tmpfs: the image's /dev is used, and its /dev/null must not
    decide what masks paths or what the process writes to."""
    b = env.bundle().sh("stat -c '%F %t:%T' /dev/null; echo x > /dev/null; "
                        "cat /proc/kcore 2>/dev/null | wc -c")
    without_dev_tmpfs(b)
    victim = os.path.join(env.base, "victim")
    with open(victim, "w") as f:
        f.write("host\n")
    null = os.path.join(b.rootfs, "dev", "null")
    if how == "file":
        with open(null, "w") as f:
            f.write("fake\n")
    elif how == "symlink":
        os.symlink(victim, null)
    else:
        os.mknod(null, 0o666 | 0o020000, os.makedev(1, 5))  # /dev/zero's numbers
    r = env.run(b)
    lines = r.out.splitlines()
    assert lines[0] == "character special file 1:3", r
    assert lines[1] == "0", r
    with open(victim) as f:
        assert f.read() == "host\n"


@pytest.mark.husk_only
def test_bound_dev_with_fake_null_refused_for_masking(env):
    """A /dev bound from the bundle is the image's own: a masked file is
    never covered by a /dev/null that is not the null device."""
    b = env.bundle()
    without_dev_tmpfs(b)
    devsrc = os.path.join(env.base, "devsrc")
    os.makedirs(devsrc)
    with open(os.path.join(devsrc, "null"), "w") as f:
        f.write("secret-looking\n")
    add_mount(b, "/dev", "bind", devsrc, ["rbind"])
    r = env.run(b, ok=False)
    one_line_error(r, "maskedPaths: /dev/null is not the null device")


def test_masked_and_readonly_symlinks_pointing_outside(env, outside):
    b = env.bundle().sh("echo \"[$(cat /etc/inside)]\"; echo w > /etc/rolink/x 2>/dev/null && echo w || echo ro; "
                        "ls /etc/masklink 2>&1 | head -1")
    b.config["root"]["readonly"] = False
    etc = os.path.join(b.rootfs, "etc")
    with open(os.path.join(etc, "secret"), "w") as f:
        f.write("secret\n")
    os.symlink("/etc/secret", os.path.join(etc, "inside"))   # inside target: masked
    os.symlink(outside, os.path.join(etc, "masklink"))      # outside target: missing inside
    os.makedirs(os.path.join(b.rootfs, "data"))
    os.symlink("/data", os.path.join(etc, "rolink"))
    host_ro = os.path.join(env.base, "hostro")
    os.makedirs(host_ro)
    b.config["linux"]["maskedPaths"] += ["/etc/inside", "/etc/masklink", host_ro]
    b.config["linux"]["readonlyPaths"] += ["/etc/rolink", outside, host_ro]
    r = env.run(b)
    lines = r.out.splitlines()
    assert lines[0] == "[]", r          # /etc/secret masked with /dev/null via the symlink
    assert lines[1] == "ro", r          # /data made read-only through /etc/rolink
    assert "No such file" in lines[2], r
    # the host's directory was neither masked nor made read-only
    open(os.path.join(host_ro, "w"), "w").close()


def test_mounts_stacked(env):
    src1 = os.path.join(env.base, "s1")
    src2 = os.path.join(env.base, "s2")
    for d, name in ((src1, "one"), (src2, "two")):
        os.makedirs(d)
        open(os.path.join(d, name), "w").close()
    b = env.bundle().sh("ls /st; ls /st/in; grep -c ' /st' /proc/self/mountinfo")
    add_mount(b, "/st", "tmpfs", "tmpfs", ["size=1m"])
    add_mount(b, "/st/in", "bind", src1, ["bind"])   # inside the tmpfs, created there
    add_mount(b, "/st", "bind", src2, ["bind"])      # on top of both
    add_mount(b, "/st/in", "tmpfs", "tmpfs", [])     # into the new top: created in src2?
    r = env.run(b)
    out = r.out.split()
    assert out[0] == "in" and "two" in out, r
    assert out[-1] == "4", r
    # /st/in was created inside src2, which is bundle-owned
    assert os.path.isdir(os.path.join(src2, "in"))


@pytest.mark.husk_only
@pytest.mark.parametrize("what,err", [
    ("missing", "No such file or directory"),
    ("file", "Not a directory"),
    ("symlink", "is a symlink, not a directory"),
])
def test_bad_rootfs(env, what, err):
    b = env.bundle()
    real = b.rootfs + ".real"
    os.rename(b.rootfs, real)
    if what == "file":
        open(b.rootfs, "w").close()
    elif what == "symlink":
        os.symlink(real, b.rootfs)
    r = env.run(b, ok=False)
    one_line_error(r, "rootfs", err)
    assert env.rt.ids() == []

