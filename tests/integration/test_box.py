"""husk box: a root filesystem run in one command through an overlay."""
import os

import pytest

from helpers import assert_box_failed, mounts_under, tree_listing

pytestmark = pytest.mark.husk_only




def box(rt, *args, **kw):
    return rt("box", *args, **kw)



def test_output_and_status(env, rootfs):
    r = box(env.rt, rootfs, "echo", "hello")
    assert (r.rc, r.out) == (0, "hello\n"), r
    assert box(env.rt, rootfs, "sh", "-c", "exit 42").rc == 42
    assert env.rt.ids() == []


def test_default_cmd_is_sh(env, rootfs):
    r = box(env.rt, "-i", rootfs, stdin=open(os.path.join(rootfs, "etc/passwd")))
    assert r.rc == 127, r  # sh reads passwd lines as commands: the last fails
    r = box(env.rt, rootfs, stdin=None)
    assert r.rc == 0, r


def test_not_found_and_not_executable(env, rootfs):
    r = box(env.rt, rootfs, "nosuchcmd")
    assert r.rc == 127 and "not found" in r.err, r
    r = box(env.rt, rootfs, "/etc/passwd")
    assert r.rc == 126 and "not executable" in r.err, r
    # Resolution stays in the rootfs: a host binary is not found there.
    r = box(env.rt, rootfs, "/usr/bin/python3")
    assert r.rc == 127, r
    assert env.rt.ids() == []


def test_rootfs_untouched(env, rootfs):
    before = tree_listing(rootfs)
    r = box(env.rt, rootfs, "sh", "-c",
            "echo x > /new; echo y >> /etc/passwd; rm /bin/ls; mkdir /d; cat /new")
    assert (r.rc, r.out) == (0, "x\n"), r
    assert tree_listing(rootfs) == before
    assert env.rt.ids() == [] and not mounts_under(env.base)


def test_rootfs_rw_writes_through(env, rootfs):
    r = box(env.rt, "--rootfs-rw", rootfs, "sh", "-c", "echo x > /new")
    assert r.rc == 0, r
    with open(os.path.join(rootfs, "new")) as f:
        assert f.read() == "x\n"


def test_read_only(env, rootfs):
    r = box(env.rt, "--read-only", rootfs, "sh", "-c", "echo x > /new")
    assert r.rc != 0 and "Read-only" in r.err, r


def test_volumes(env, rootfs):
    src = os.path.join(env.base, "vol")
    os.mkdir(src)
    r = box(env.rt, "-v", f"{src}:/mnt", "-v", f"{src}:/ro:ro", rootfs, "sh", "-c",
            "echo hi > /mnt/f; echo no > /ro/g")
    assert r.rc != 0 and "Read-only" in r.err, r
    assert os.listdir(src) == ["f"]


def test_env_workdir_hostname(env, rootfs):
    r = box(env.rt, "-e", "A=1", "-e", "B=2", "-w", "/tmp", "--hostname", "boxy", rootfs,
            "sh", "-c", 'echo $A$B; pwd; hostname')
    assert (r.rc, r.out) == (0, "12\n/tmp\nboxy\n"), r


def test_tmpfs_and_net_none(env, rootfs):
    r = box(env.rt, "--tmpfs", "/scratch", rootfs, "sh", "-c",
            "grep ' /scratch ' /proc/mounts | cut -d' ' -f3; ls /sys/class/net")
    assert (r.rc, r.out) == (0, "tmpfs\nlo\n"), r


def test_detach_exec_delete(env, rootfs):
    r = box(env.rt, "-d", "--name", "bx1", rootfs, "sleep", "100")
    assert (r.rc, r.out) == (0, "bx1\n"), r
    assert os.path.isdir(os.path.join(env.rt.root, "bx1", "upper"))
    r = env.rt("exec", "bx1", "sh", "-c", "echo hi > /f; cat /f")
    assert (r.rc, r.out) == (0, "hi\n"), r
    env.rt.ok("kill", "bx1", "KILL")
    import time
    time.sleep(0.3)
    env.rt.ok("delete", "bx1")
    assert env.rt.ids() == [] and not mounts_under(env.base)
    assert not os.path.exists(os.path.join(rootfs, "f"))


@pytest.mark.parametrize("args", [
    ["/nonexistent"],
    ["{rootfs}/etc/passwd"],
    ["-v", "relative:/mnt", "{rootfs}"],
    ["-v", "/tmp", "{rootfs}"],
    ["-v", "/tmp:/mnt:bogus", "{rootfs}"],
    ["--net", "bridge", "{rootfs}"],
    ["--bogus", "{rootfs}"],
    [],
])
def test_bad_input_leaves_nothing(env, rootfs, args):
    r = box(env.rt, *[a.format(rootfs=rootfs) for a in args], "true")
    assert_box_failed(env, r)


def test_help_lists_options(env):
    r = env.rt.ok("box", "--help")
    for opt in ("--env", "--volume", "--tmpfs", "--net", "--rootfs-rw", "--read-only", "--name",
                "--detach", "--workdir", "--hostname"):
        assert opt in r.out, r


def test_net_host(env, rootfs):
    r = box(env.rt, "--net", "host", rootfs, "ls", "/sys/class/net")
    assert r.rc == 0 and set(r.out.split()) == set(os.listdir("/sys/class/net")), r


def test_docker_default_caps(env, rootfs):
    r = box(env.rt, rootfs, "grep", "CapEff", "/proc/self/status")
    assert r.rc == 0 and r.out.split()[1] == "00000000a80425fb", r


def test_overlay_failure_leaves_nothing(env, rootfs):
    # ROOTFS is the overlay's lower through a link in the state directory:
    # its path may hold what mount options cannot quote
    odd = os.path.join(env.base, "a,b:c")
    os.rename(rootfs, odd)
    r = box(env.rt, odd, "echo", "ok")
    assert (r.rc, r.out) == (0, "ok\n"), r
    # the state directory's own path may not
    env.rt.root = os.path.join(env.base, "st,ate")
    assert_box_failed(env, box(env.rt, odd, "true"))


def test_print_config_runs_nothing(env, rootfs):
    import json
    r = box(env.rt, "--print-config", "-e", "A=1", rootfs, "echo", "hi")
    assert r.rc == 0, r
    cfg = json.loads(r.out)
    assert cfg["process"]["args"] == ["echo", "hi"] and "A=1" in cfg["process"]["env"]
    assert cfg["root"]["path"] == rootfs
    assert env.rt.ids() == []
    assert not os.path.isdir(env.rt.root) or not os.listdir(env.rt.root)


def test_combined_short_flags(env, rootfs):
    # -it as Docker spells it; no terminal on stdin here, so only -i matters
    r = box(env.rt, "-id", "--name", "bxc", rootfs, "sleep", "10")
    assert (r.rc, r.out) == (0, "bxc\n"), r
    env.rt.ok("kill", "bxc", "KILL")
    env.rt.ok("delete", "--force", "bxc")
