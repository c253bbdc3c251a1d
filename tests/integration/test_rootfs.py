"""Root filesystem: readonly root, default mounts and devices, pivot."""
import os

import pytest

from helpers import mountinfo, mountinfo_map


def test_readonly_root(env):
    b = env.bundle().sh("touch /x 2>/dev/null && echo wrote || echo ro; "
                        "touch /shared/ok && echo shared-rw")
    assert b.config["root"]["readonly"] is True
    r = env.run(b)
    assert r.out.split() == ["ro", "shared-rw"], r
    assert not os.path.exists(os.path.join(b.rootfs, "x"))


def test_writable_root(env):
    b = env.bundle().sh("touch /x && echo wrote")
    b.config["root"]["readonly"] = False
    assert env.run(b).out.strip() == "wrote"
    assert os.path.exists(os.path.join(b.rootfs, "x"))


def test_default_mounts(env):
    r = env.run_sh("cat /proc/self/mountinfo")
    mi = mountinfo_map(r.out)
    expect = {"/proc": "proc", "/dev": "tmpfs", "/dev/pts": "devpts", "/dev/shm": "tmpfs",
              "/dev/mqueue": "mqueue", "/sys": "sysfs", "/shared": None, "/": None}
    for mp, fs in expect.items():
        assert mp in mi, f"{mp} not mounted:\n{r.out}"
        if fs:
            assert mi[mp].fstype == fs, (mp, mi[mp])
    assert "ro" in mi["/sys"].options, mi["/sys"]
    assert "ro" in mi["/"].options, mi["/"]
    assert "nosuid" in mi["/dev/shm"].options and "nodev" in mi["/dev/shm"].options
    assert any(mp.startswith("/sys/fs/cgroup") for mp in mi), r.out
    # nothing of the host is visible
    assert not any(mp.startswith(env.base) or mp.startswith("/tmp/") for mp in mi), r.out


def test_mount_options_applied(env):
    r = env.run_sh("grep -E ' /dev/pts | /dev/mqueue ' /proc/self/mountinfo")
    for m in mountinfo(r.out):
        assert "nosuid" in m.options and "noexec" in m.options, m


@pytest.mark.parametrize("dev,major,minor", [
    ("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8), ("urandom", 1, 9),
    ("tty", 5, 0)])
def test_default_devices(env, dev, major, minor):
    r = env.run_sh(f"stat -c '%t %T %a' /dev/{dev}; test -c /dev/{dev} && echo chr")
    ma, mi, mode, chr_ = r.out.split()
    assert chr_ == "chr", r
    assert (int(ma, 16), int(mi, 16)) == (major, minor), r
    assert mode == "666", r


def test_default_devices_usable(env):
    r = env.run_sh("echo x > /dev/null && head -c 4 /dev/zero | od -An -tx1 && "
                   "head -c 8 /dev/urandom | wc -c")
    assert r.out.split() == ["00", "00", "00", "00", "8"], r


def test_dev_symlinks(env):
    r = env.run_sh("for l in fd stdin stdout stderr ptmx; do echo $l $(readlink /dev/$l); done")
    links = dict(l.split(" ", 1) for l in r.out.strip().splitlines())
    assert links["fd"] == "/proc/self/fd", r
    assert links["stdin"] == "/proc/self/fd/0", r
    assert links["stdout"] == "/proc/self/fd/1", r
    assert links["stderr"] == "/proc/self/fd/2", r
    assert links["ptmx"] == "pts/ptmx", r


def test_device_cgroup_denies_mknod_device(env):
    b = env.bundle().sh("mknod /dev/sda1 b 8 1 2>/dev/null && head -c 1 /dev/sda1 >/dev/null "
                        "2>&1 && echo read || echo denied")
    b.config["process"]["capabilities"]["bounding"].append("CAP_MKNOD")
    b.config["process"]["capabilities"]["effective"].append("CAP_MKNOD")
    b.config["process"]["capabilities"]["permitted"].append("CAP_MKNOD")
    assert env.run(b).out.strip() == "denied"


def test_pivot_root(env):
    r = env.run_sh("cat /proc/self/mountinfo; echo ==; ls /")
    mi_text, ls = r.out.split("==\n")
    mps = [m.mountpoint for m in mountinfo(mi_text)]
    assert mps[0] == "/" or "/" in mps, r
    assert set(ls.split()) >= {"bin", "etc", "proc", "shared"}, r


def test_no_pivot(env, rt):
    b = env.bundle().sh("ls /; grep -c . /proc/self/mountinfo")
    b.write()
    r = rt.ok("run", "--no-pivot", "--bundle", b.path, env.new_id())
    assert {"bin", "etc", "proc", "shared"} <= set(r.out.split()), r


def test_masked_and_readonly_paths(env):
    b = env.bundle().sh("cat /proc/kcore 2>/dev/null | wc -c; "
                        "echo 1 > /proc/sys/kernel/domainname 2>/dev/null && echo w || echo ro; "
                        "ls /sys/firmware | wc -l")
    r = env.run(b)
    assert r.out.split() == ["0", "ro", "0"], r


def test_bind_mount_readonly(env):
    b = env.bundle()
    src = os.path.join(env.base, "robind")
    os.makedirs(src)
    with open(os.path.join(src, "f"), "w") as f:
        f.write("hi\n")
    b.config["mounts"].append({"destination": "/mnt/ro", "type": "bind", "source": src,
                               "options": ["bind", "ro"]})
    b.sh("cat /mnt/ro/f; touch /mnt/ro/g 2>/dev/null && echo wrote || echo ro")
    r = env.run(b)
    assert r.out.split() == ["hi", "ro"], r


def test_bind_mount_file(env):
    b = env.bundle()
    src = os.path.join(env.base, "file")
    with open(src, "w") as f:
        f.write("content\n")
    b.config["mounts"].append({"destination": "/etc/bound", "type": "bind", "source": src,
                               "options": ["bind"]})
    assert env.run_sh("cat /etc/bound", bundle=b).out == "content\n"


def test_bind_mount_relative_source(env):
    """A relative bind source is relative to the bundle."""
    b = env.bundle()
    os.makedirs(os.path.join(b.path, "reldir"))
    with open(os.path.join(b.path, "reldir", "f"), "w") as f:
        f.write("rel\n")
    b.config["mounts"].append({"destination": "/mnt/rel", "type": "bind", "source": "reldir",
                               "options": ["bind"]})
    assert env.run_sh("cat /mnt/rel/f", bundle=b).out == "rel\n"


def test_tmpfs_mount_with_missing_destination(env):
    b = env.bundle()
    b.config["mounts"].append({"destination": "/new/tmp", "type": "tmpfs", "source": "tmpfs",
                               "options": ["size=1m", "mode=1777"]})
    r = env.run_sh("stat -c %a /new/tmp; grep ' /new/tmp ' /proc/self/mountinfo | wc -l",
                   bundle=b)
    assert r.out.split() == ["1777", "1"], r
